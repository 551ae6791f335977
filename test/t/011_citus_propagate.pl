# Citus: propagate() between tables of the same kind.  On co-located
# hash-distributed tables, a child's INSERT, UPDATE, DELETE and TRUNCATE
# through the coordinator bump the parent rows on the worker that holds
# them (shards on both workers), also after a shard move; on reference
# tables, every copy of the parent is bumped alike; on Citus local tables,
# on the coordinator.  A reference parent of a distributed or Citus local
# child is refused (0A000): only one copy would be bumped.
#
# Runs when the server has Citus; says "not tested: Citus is not installed"
# otherwise.  Negative control: the bump checker must report a child row
# written behind the propagation's back (triggers off on the worker).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RvCitus;

skip_without_citus();
my @nodes = citus_cluster();
my ($coord, @workers) = @nodes;
my %is_worker = map { $_->port => 1 } @workers;

# Co-located distributed tables, versions in counter mode (each bump adds 1).
coord_sql(q{
CREATE TABLE customers (id int PRIMARY KEY, name text);
CREATE TABLE orders (id int, customer_id int, qty int, PRIMARY KEY (customer_id, id),
  CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id));
SELECT create_distributed_table('customers', 'id');
SELECT create_distributed_table('orders', 'customer_id', colocate_with => 'customers');
SELECT rowversion.enable('customers', mode => 'counter');
SELECT rowversion.enable('orders', mode => 'counter');
INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 8) g;
});

is(outcome(q{SELECT rowversion.propagate('orders', 'customers')}), 'ok',
	'propagate() between co-located distributed tables');
is(coord_sql(q{SELECT child || '>' || parent || ':' || via FROM rowversion.propagations}),
	'orders>customers:orders_customer_fk', 'rowversion.propagations lists it once');
is(coord_sql(q{SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger
  WHERE tgrelid = 'orders'::regclass AND tgname LIKE 'rv\_propagate\_%'}) =~
	/^rv_propagate_dml_\d+,rv_propagate_truncate_\d+$/ ? 1 : 0, 1,
	'two statement triggers on the table: one for TRUNCATE alone');
for my $w (0, 1)
{
	is($workers[$w]->safe_psql('postgres', q{
SET citus.override_table_visibility = off;
SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE c.relname ~ '^orders_\d+$' AND t.tgname ~ '^rv_propagate_dml_\d+_\d+$'}), '2',
		"worker $w: each of its two shards of the child has the statement trigger");
}

# Each customer's version, as id:version rows, and where its row is.
sub versions
{
	return { map { split /:/ } split /\n/,
		coord_sql(q{SELECT id || ':' || row_version FROM customers ORDER BY id}) };
}
sub placement_of
{
	my ($id) = @_;
	return coord_sql(qq{SELECT p.nodeport FROM pg_dist_placement pl
JOIN pg_dist_node p ON p.groupid = pl.groupid
WHERE pl.shardid = get_shard_id_for_distribution_column('customers', $id)});
}
# The customers whose version moved between two readings, as "1,3".
sub bumped
{
	my ($before, $after) = @_;
	return join ',', grep { $after->{$_} != $before->{$_} } sort { $a <=> $b } keys %$before;
}

my $v0 = versions();
is(outcome(q{INSERT INTO orders SELECT 1, g, 1 FROM generate_series(1, 8) g}), 'ok',
	'the child is writable');
my $v1 = versions();
is(bumped($v0, $v1), '1,2,3,4,5,6,7,8', 'an INSERT bumps every parent it references');
is(scalar(grep { $v1->{$_} == $v0->{$_} + 1 } keys %$v0), 8, 'once each');
my %ports = map { placement_of($_) => 1 } 1 .. 8;
is(scalar(grep { $is_worker{$_} } keys %ports), 2, 'parents on both workers');

is(outcome(q{UPDATE orders SET qty = 2 WHERE customer_id = 3}), 'ok', 'an UPDATE');
my $v2 = versions();
is(bumped($v1, $v2), '3', 'bumps only the parent of the updated row');
is(outcome(q{DELETE FROM orders WHERE customer_id IN (5, 6)}), 'ok', 'a DELETE');
my $v3 = versions();
is(bumped($v2, $v3), '5,6', 'bumps the parents of the deleted rows');
is(outcome(q{BEGIN; INSERT INTO orders VALUES (2, 7, 1); UPDATE orders SET qty = 3 WHERE customer_id = 8; COMMIT}),
	'ok', 'two statements in a transaction');
my $v4 = versions();
is(bumped($v3, $v4), '7,8', 'bump the parents of both');
is(outcome(q{BEGIN; INSERT INTO orders VALUES (3, 1, 1); ROLLBACK}), 'ok', 'a rolled-back INSERT');
is(bumped($v4, versions()), '', 'leaves the parents as they were');

# What each worker holds: the parent's shards there moved too (read there,
# not through the coordinator).
for my $w (0, 1)
{
	my $port = $workers[$w]->port;
	my @moved = grep { placement_of($_) == $port && $v4->{$_} > $v0->{$_} } 1 .. 8;
	my $shards = $workers[$w]->safe_psql('postgres', q{
SET citus.override_table_visibility = off;
SELECT string_agg(relname, ' ') FROM pg_class WHERE relname ~ '^customers_\d+$'});
	my %there;
	for my $s (split / /, $shards)
	{
		%there = (%there, map { split /:/ } split /\n/,
			$workers[$w]->safe_psql('postgres', "SELECT id || ':' || row_version FROM $s"));
	}
	my @behind = grep { $there{$_} != $v4->{$_} } @moved;
	ok(@moved > 0 && !@behind,
		"worker $w: its copy of the parent rows has the bumped versions");
}

# TRUNCATE fires no row trigger: the coordinator bumps every parent row.
is(outcome(q{TRUNCATE orders}), 'ok', 'TRUNCATE of the child');
my $v5 = versions();
is(bumped($v4, $v5), '1,2,3,4,5,6,7,8', 'bumps every parent row');

# A shard moves to the other worker (its co-located child shard with it):
# the triggers are made again there.
coord_sql(q{INSERT INTO orders SELECT 1, g, 1 FROM generate_series(1, 8) g});
my ($shard, $from) = split /\|/, coord_sql(q{
SELECT s.shardid, p.nodeport FROM pg_dist_shard s
JOIN pg_dist_placement pl USING (shardid) JOIN pg_dist_node p ON p.groupid = pl.groupid
WHERE s.logicalrelid = 'customers'::regclass ORDER BY s.shardid LIMIT 1});
my ($to) = grep { $_ != $from } map { $_->port } @workers;
my ($moved_id) = grep { coord_sql("SELECT get_shard_id_for_distribution_column('customers', $_)") == $shard } 1 .. 8;
coord_sql(qq{
SELECT citus_move_shard_placement($shard, '127.0.0.1', $from, '127.0.0.1', $to,
                                  shard_transfer_mode => 'block_writes')});
coord_sql(q{CALL citus_cleanup_orphaned_resources()});
is(placement_of($moved_id), $to, "customer $moved_id moved to the other worker");
my ($to_node) = grep { $_->port == $to } @workers;
is($to_node->safe_psql('postgres', q{
SET citus.override_table_visibility = off;
SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE c.relname ~ '^orders_\d+$' AND t.tgname ~ '^rv_propagate_dml_\d+_\d+$'}), '3',
	'the moved child shard has its statement trigger on the new worker');
my $v6 = versions();
coord_sql(qq{UPDATE orders SET qty = 9 WHERE customer_id = $moved_id});
is(bumped($v6, versions()), "$moved_id", 'a change after the move bumps its parent');
# (the move copies the TRUNCATE trigger onto the shard, where it does nothing)
$v6 = versions();
coord_sql(q{TRUNCATE orders; INSERT INTO orders SELECT 1, g, 1 FROM generate_series(1, 8) g});
my $v6b = versions();
is(scalar(grep { $v6b->{$_} == $v6->{$_} + 2 } keys %$v6), 8,
	'TRUNCATE after the move bumps every parent once (then the INSERT once)');

# Negative control: a child row changed on the worker with triggers off
# moves no parent, and the checker says so.
my $orders_shard = $to_node->safe_psql('postgres', qq{
SELECT shard_name('orders'::regclass, get_shard_id_for_distribution_column('orders', $moved_id))});
my $v7 = versions();
$to_node->safe_psql('postgres', qq{SET session_replication_role = replica;
SET citus.enable_manual_changes_to_shards = on;
UPDATE $orders_shard SET qty = 10 WHERE customer_id = $moved_id});
isnt(bumped($v7, versions()), "$moved_id",
	'negative control: the checker sees a parent left behind');

is(message_of(q{BEGIN; SELECT rowversion.disable('customers');
INSERT INTO orders VALUES (5, 1, 1); COMMIT}),
	'cannot propagate to table "customers" because it does not keep row versions',
	'an error on the worker names the tables, not their shards');

is(outcome(q{SELECT rowversion.stop_propagating('orders', 'customers')}), 'ok',
	'stop_propagating()');
my $left = q{
SET citus.override_table_visibility = off;
SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE t.tgname ~ '^(rv|zz_rowversion)_propagate_'
  AND (c.relname = 'orders' OR t.tgtype & (4 | 8 | 16) <> 0)};
is(join(',', map { $_->safe_psql('postgres', $left) } @nodes), '0,0,0',
	'removes the triggers from the table on every node, and those of the shards');
my $v8 = versions();
coord_sql(q{UPDATE orders SET qty = 11});
is(bumped($v8, versions()), '', 'and changes no longer bump the parents');
coord_sql(q{ALTER TABLE orders DROP CONSTRAINT orders_customer_fk});
is(outcome(q{TRUNCATE orders}), 'ok', 'TRUNCATE works without the foreign key');
is(bumped($v8, versions()), '', 'and bumps nothing');

# A propagation made before the tables were distributed: its one
# statement trigger (which also fires on TRUNCATE) is copied onto the shards
# when Citus makes them, but Citus never drops such a trigger from shards.
coord_sql(q{
CREATE TABLE vendors (id int PRIMARY KEY);
CREATE TABLE items (id int, vendor_id int CONSTRAINT items_vendor_fk REFERENCES vendors,
  PRIMARY KEY (vendor_id, id));
SELECT rowversion.enable('vendors', mode => 'counter');
SELECT rowversion.enable('items', mode => 'counter');
SELECT rowversion.propagate('items', 'vendors');
SET citus.enable_unsafe_triggers = on;
SELECT create_distributed_table('vendors', 'id');
SELECT create_distributed_table('items', 'vendor_id', colocate_with => 'vendors');
RESET citus.enable_unsafe_triggers;
INSERT INTO vendors SELECT g FROM generate_series(1, 4) g;
});
sub vendors { return coord_sql(q{SELECT string_agg(id || ':' || row_version, ',' ORDER BY id) FROM vendors}); }
coord_sql(q{INSERT INTO items VALUES (1, 1), (1, 2)});
is(vendors(), '1:2,2:2,3:1,4:1', 'a propagation made before distributing bumps the parents');
coord_sql(q{TRUNCATE items});
is(vendors(), '1:3,2:3,3:2,4:2', 'TRUNCATE bumps every parent once');
is(outcome(q{SELECT rowversion.propagate('items', 'vendors')}), 'ok',
	'propagate() again makes the Citus triggers');
coord_sql(q{INSERT INTO items VALUES (1, 3)});
is(vendors(), '1:3,2:3,3:3,4:2', 'and bumps once');
is(outcome(q{SELECT rowversion.stop_propagating('items', 'vendors')}), 'ok', 'stop_propagating()');
my $copies = 0;
$copies += $_->safe_psql('postgres', q{
SET citus.override_table_visibility = off;
SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE c.relname ~ '^items_\d+$' AND t.tgname ~ '^rv_propagate_\d+_\d+$'}) for @workers;
is($copies, 4,
	"the shards keep the copies of the first statement trigger");
coord_sql(q{INSERT INTO items VALUES (1, 4); UPDATE items SET id = 2 WHERE vendor_id = 3; TRUNCATE items});
is(vendors(), '1:3,2:3,3:3,4:2',
	"changes bump nothing after it, though the shards keep the old trigger's copies");

# Reference tables (counter mode, required there): each copy of the child
# bumps its own copy of the parent, alike.
coord_sql(q{
CREATE TABLE countries (code text PRIMARY KEY, name text);
CREATE TABLE cities (id int PRIMARY KEY, code text CONSTRAINT cities_country_fk REFERENCES countries);
SELECT create_reference_table('countries');
SELECT create_reference_table('cities');
SELECT rowversion.enable('countries', mode => 'counter');
SELECT rowversion.enable('cities', mode => 'counter');
INSERT INTO countries VALUES ('de', 'Germany'), ('fr', 'France'), ('it', 'Italy');
});
is(outcome(q{SELECT rowversion.propagate('cities', 'countries')}), 'ok',
	'propagate() between reference tables');
coord_sql(q{INSERT INTO cities VALUES (1, 'de'), (2, 'fr');
UPDATE cities SET code = 'it' WHERE id = 2});
sub copies
{
	my $shard = coord_sql(q{SELECT shard_name('countries'::regclass, shardid) FROM pg_dist_shard
WHERE logicalrelid = 'countries'::regclass});
	return map {
		$_->safe_psql('postgres',
			"SELECT string_agg(code || ':' || row_version, ',' ORDER BY code) FROM $shard")
	} @nodes;
}
my @copies = copies();
is(scalar(grep { $_ eq 'de:2,fr:3,it:2' } @copies), 3,
	'every copy of the parent is bumped alike (fr twice: its child came and left)');
coord_sql(q{TRUNCATE cities});
@copies = copies();
is(scalar(grep { $_ eq 'de:3,fr:4,it:3' } @copies), 3,
	'TRUNCATE of the child bumps every copy alike');

# A reference parent of a distributed or Citus local child: refused.
coord_sql(q{
CREATE TABLE shops (id int PRIMARY KEY, code text CONSTRAINT shops_country_fk REFERENCES countries);
SELECT create_distributed_table('shops', 'id');
SELECT rowversion.enable('shops');
CREATE TABLE visits (id int PRIMARY KEY, code text CONSTRAINT visits_country_fk REFERENCES countries);
SELECT citus_add_local_table_to_metadata('visits');
SELECT rowversion.enable('visits');
});
is(coord_sql(q{SELECT partmethod FROM pg_dist_partition WHERE logicalrelid = 'shops'::regclass}),
	'h', 'shops is distributed');
is(outcome(q{SELECT rowversion.propagate('shops', 'countries')}), '0A000',
	'propagate() from a distributed table to a reference table is refused');
is(message_of(q{SELECT rowversion.propagate('shops', 'countries')}),
	'cannot propagate from table "shops" to reference table "countries"', 'by name');
is(outcome(q{SELECT rowversion.propagate('visits', 'countries')}), '0A000',
	'and from a Citus local table to a reference table');
is(outcome(q{INSERT INTO shops VALUES (1, 'de')}), 'ok', 'the child stays writable');

# Citus local tables: everything on the coordinator.
coord_sql(q{
CREATE TABLE accounts (id int PRIMARY KEY, name text);
CREATE TABLE entries (id int PRIMARY KEY, account_id int CONSTRAINT entries_account_fk REFERENCES accounts);
SELECT citus_add_local_table_to_metadata('accounts', cascade_via_foreign_keys => true);
SELECT rowversion.enable('accounts', mode => 'counter');
SELECT rowversion.enable('entries', mode => 'counter');
INSERT INTO accounts VALUES (1, 'a'), (2, 'b');
});
is(coord_sql(q{SELECT count(*) FROM pg_dist_partition
  WHERE logicalrelid IN ('accounts'::regclass, 'entries'::regclass)}), '2',
	'both are Citus local tables');
is(outcome(q{SELECT rowversion.propagate('entries', 'accounts')}), 'ok',
	'propagate() between Citus local tables');
coord_sql(q{INSERT INTO entries VALUES (1, 1); UPDATE entries SET account_id = 2});
is(coord_sql(q{SELECT string_agg(id || ':' || row_version, ',' ORDER BY id) FROM accounts}),
	'1:3,2:2', 'changes of the child bump the parents');
coord_sql(q{TRUNCATE entries});
is(coord_sql(q{SELECT string_agg(id || ':' || row_version, ',' ORDER BY id) FROM accounts}),
	'1:4,2:3', 'and so does TRUNCATE');

# A propagating child with rows distributed after its parent: Citus copies
# its rows into new shards before they have their foreign keys.
coord_sql(q{
CREATE TABLE v2 (id int PRIMARY KEY);
CREATE TABLE i2 (id int, vid int REFERENCES v2, PRIMARY KEY (vid, id));
SELECT rowversion.enable('v2', mode => 'counter'), rowversion.enable('i2', mode => 'counter');
SELECT rowversion.propagate('i2', 'v2');
INSERT INTO v2 VALUES (1), (2);
INSERT INTO i2 VALUES (1, 1), (1, 2);
});
my $v2_before = coord_sql(q{SELECT string_agg(id || ':' || row_version, ',' ORDER BY id) FROM v2});
is(outcome(q{SET citus.enable_unsafe_triggers = on;
SELECT create_distributed_table('v2', 'id');
SELECT create_distributed_table('i2', 'vid', colocate_with => 'v2')}), 'ok',
	'a propagating child with rows can be distributed');
is(coord_sql(q{SELECT string_agg(id || ':' || row_version, ',' ORDER BY id) FROM v2}), $v2_before,
	'copying its rows bumps no parent');
coord_sql(q{INSERT INTO i2 VALUES (2, 1)});
is(coord_sql(q{SELECT row_version FROM v2 WHERE id = 1}), (split /[:,]/, $v2_before)[1] + 1,
	'and its writes bump their parents afterwards');

stop_cluster();
done_testing();
