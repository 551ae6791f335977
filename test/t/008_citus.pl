# Citus: a coordinator and two workers on this machine (loopback only),
# checking what holds on a real sharded cluster: on a hash-distributed table,
# claims (RV001 through the coordinator), require_version (RV002),
# conditional_update and conditional_delete by key, and versions kept through
# a shard move, with a client holding versions across it; on a counter-mode
# reference table, every copy of every row at the same version.
#
# Runs when the server has Citus (../shared/citus/install builds it into
# PostgreSQL 15); says "not tested: Citus is not installed" otherwise.
# Negative control: the copy checker must report a copy written behind the
# coordinator's back.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RvCitus;

skip_without_citus();
my @nodes = citus_cluster();
my ($coord, @workers) = @nodes;
# created on the coordinator, Citus creates it on the workers too
is($workers[0]->safe_psql('postgres',
	q{SELECT extversion FROM pg_extension WHERE extname = 'rowversion'}),
	$coord->safe_psql('postgres',
		q{SELECT extversion FROM pg_extension WHERE extname = 'rowversion'}),
	'the extension is on the workers');

# A hash-distributed table.  enable() and disable() need no Citus setting
# from the user (Citus refuses triggers on distributed tables unless
# citus.enable_unsafe_triggers is on) and leave the user's as it was.
coord_sql(q{
CREATE TABLE customers (id int PRIMARY KEY, name text, tags text[]);
SELECT create_distributed_table('customers', 'id');
});
is(outcome(q{SELECT rowversion.enable('customers', mode => 'counter')}), 'ok',
	'enable() on a distributed table, without citus.enable_unsafe_triggers');
is(coord_sql(q{SELECT pg_typeof(rowversion.enable('customers', mode => 'counter')),
  current_setting('citus.enable_unsafe_triggers')}), 'void|off',
	"and the user's setting is left as it was");
is(outcome(q{SELECT rowversion.disable('customers')}), 'ok', 'disable() too');
is(outcome(q{SELECT rowversion.enable('customers', mode => 'counter')}), 'ok',
	'and enable() again');
is($workers[0]->safe_psql('postgres',
	q{SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'zz\_rowversion\_%'}), '2',
	"the trigger is on the worker's shards (two of four)");
coord_sql(q{INSERT INTO customers SELECT g, 'c' || g, '{}' FROM generate_series(1, 40) g});
is(coord_sql('SELECT count(*) FROM customers WHERE row_version = 1'), '40',
	'inserted rows start at version 1 on every shard');

# claims, through the coordinator, on rows of every shard
is(outcome(q{UPDATE customers SET name = 'x', row_version = 1 WHERE id = 7}),
	'ok', 'a current claim passes');
is(coord_sql('SELECT row_version FROM customers WHERE id = 7'), '2',
	'and moves the version');
is(outcome(q{UPDATE customers SET name = 'lost', row_version = 1 WHERE id = 7}),
	'RV001', 'a stale claim is RV001');
is(coord_sql('SELECT name FROM customers WHERE id = 7'), 'x',
	'and changes nothing');
is(message_of(q{UPDATE customers SET name = 'lost', row_version = 1 WHERE id = 7}),
	'row version conflict on table "customers"',
	'the error names the table, not the shard the worker wrote');
is(outcome(q{UPDATE customers SET name = 'all', row_version = 1}),
	'RV001', 'a multi-shard statement with one stale claim fails');
is(coord_sql(q{SELECT count(*) FROM customers WHERE name = 'all'}), '0',
	'and changes no row on any shard');

# conditional writes by key, routed to the shard that holds the row
is(coord_sql(q{SELECT rowversion.conditional_update('customers', 8, 1, '{"name": "eight"}')}),
	'2', 'conditional_update by key');
is(outcome(q{SELECT rowversion.conditional_update('customers', 8, 1, '{"name": "stale"}')}),
	'RV001', 'a stale conditional_update is RV001');
is(outcome(q{SELECT rowversion.conditional_update('customers', 999, 1, '{}')}),
	'RV003', 'a missing key is RV003');
is(outcome(q{SELECT rowversion.conditional_delete('customers', 9, 1)}),
	'ok', 'conditional_delete by key');
is(coord_sql('SELECT count(*) FROM customers WHERE id = 9'), '0', 'deletes the row');

# require_version on a distributed table
coord_sql(q{SELECT rowversion.enable('customers', mode => 'counter', require_version => true)});
is(outcome(q{UPDATE customers SET name = 'blind' WHERE id = 10}),
	'RV002', 'an update without a claim is RV002 under require_version');
is(outcome(q{UPDATE customers SET name = 'claimed', row_version = 1 WHERE id = 10}),
	'ok', 'and a claim passes');

# the classic WHERE, an upsert's claim, ignore_columns
coord_sql(q{SELECT rowversion.enable('customers', mode => 'counter')});
is(coord_sql(q{WITH u AS (UPDATE customers SET name = 'classic', row_version = 2
  WHERE id = 10 AND row_version = 2 RETURNING 1) SELECT count(*) FROM u}), '1',
	'the classic WHERE writes the row at the version read');
is(coord_sql(q{WITH u AS (UPDATE customers SET name = 'classic', row_version = 2
  WHERE id = 10 AND row_version = 2 RETURNING 1) SELECT count(*) FROM u}), '0',
	'and no row once it is stale');
is(outcome(q{INSERT INTO customers VALUES (10, 'upsert', '{}', 1)
  ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, row_version = 1}), 'RV001',
	'a stale claim in INSERT ... ON CONFLICT DO UPDATE is RV001');
is(outcome(q{INSERT INTO customers VALUES (10, 'upsert', '{}', 1)
  ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, row_version = 3}), 'ok',
	'a current one passes');
coord_sql(q{ALTER TABLE customers ADD COLUMN seen int;
SELECT rowversion.enable('customers', mode => 'counter', ignore_columns => '{seen}')});
is(coord_sql(q{UPDATE customers SET seen = 1 WHERE id = 10 RETURNING row_version}), '4',
	'an update of ignore_columns alone keeps the version');
is(coord_sql(q{UPDATE customers SET name = 'n' WHERE id = 10 RETURNING row_version}), '5',
	'any other update moves it');

# propagate() between co-located distributed tables (test/t/011 checks
# what it does); the child stays writable.
coord_sql(q{
CREATE TABLE orders (customer_id int REFERENCES customers, id int, qty int,
                     PRIMARY KEY (customer_id, id));
SELECT create_distributed_table('orders', 'customer_id', colocate_with => 'customers');
SELECT rowversion.enable('orders', mode => 'counter');
});
is(outcome(q{SELECT rowversion.propagate('orders', 'customers')}), 'ok',
	'propagate() between co-located distributed tables');
is(outcome(q{INSERT INTO orders VALUES (11, 1, 1)}), 'ok', 'and the child stays writable');

# A client holds the versions it read; a shard moves to the other worker.
my $held = coord_sql('SELECT id || \':\' || row_version FROM customers ORDER BY id');
my $before = coord_sql(
	q{SELECT md5(string_agg(id || ':' || row_version || ':' || name, ',' ORDER BY id)) FROM customers});
my ($shard, $from) = split /\|/, coord_sql(q{
SELECT s.shardid, p.nodeport FROM pg_dist_shard s
JOIN pg_dist_placement pl USING (shardid) JOIN pg_dist_node p ON p.groupid = pl.groupid
WHERE s.logicalrelid = 'customers'::regclass AND p.nodeport <> } . $coord->port . q{
ORDER BY s.shardid LIMIT 1});
my ($to) = grep { $_ != $from } map { $_->port } @workers;
my ($moved_id) = split /\n/, coord_sql(qq{
SELECT id FROM customers WHERE get_shard_id_for_distribution_column('customers', id) = $shard
ORDER BY id LIMIT 1});
coord_sql(qq{
SELECT citus_move_shard_placement($shard, '127.0.0.1', $from, '127.0.0.1', $to,
                                  shard_transfer_mode => 'block_writes')});
is(coord_sql(qq{
SELECT p.nodeport FROM pg_dist_placement pl JOIN pg_dist_node p ON p.groupid = pl.groupid
WHERE pl.shardid = $shard}), $to, 'the shard moved to the other worker');
is(coord_sql(
	q{SELECT md5(string_agg(id || ':' || row_version || ':' || name, ',' ORDER BY id)) FROM customers}),
	$before, 'every row keeps its version through the move');
my ($held_version) = $held =~ /^$moved_id:(\d+)$/m;
is(outcome(qq{UPDATE customers SET name = 'after move', row_version = $held_version WHERE id = $moved_id}),
	'ok', 'the version a client read before the move is still current after it');
is(outcome(qq{UPDATE customers SET name = 'stale', row_version = $held_version WHERE id = $moved_id}),
	'RV001', 'and once used, it is stale on the new node too');

# A counter-mode reference table: a copy on every node.
coord_sql(q{
CREATE TABLE countries (code text PRIMARY KEY, name text);
SELECT create_reference_table('countries');
SELECT rowversion.enable('countries', mode => 'counter');
INSERT INTO countries VALUES ('de', 'Germany'), ('fr', 'France'), ('it', 'Italy');
UPDATE countries SET name = 'Deutschland', row_version = 1 WHERE code = 'de';
SELECT rowversion.conditional_update('countries', 'fr', 1, '{"name": "République française"}');
SELECT rowversion.conditional_delete('countries', 'it', 1);
UPDATE countries SET name = name;
});
my $refshard = coord_sql(q{
SELECT shard_name('countries'::regclass, shardid) FROM pg_dist_shard
WHERE logicalrelid = 'countries'::regclass});

# xact mode on a reference table would give each copy its own node's
# transaction IDs: refused by enable(), and by the trigger of a table that
# was enabled before it became a reference table.
coord_sql(q{CREATE TABLE regions (code text PRIMARY KEY, name text);
SELECT create_reference_table('regions')});
is(outcome(q{SELECT rowversion.enable('regions')}), '0A000',
	'enable() refuses xact mode on a reference table');
is(outcome(q{SELECT rowversion.enable('regions', mode => 'counter')}), 'ok',
	'and takes counter mode');
coord_sql(q{CREATE TABLE zones (code text PRIMARY KEY, name text);
SELECT rowversion.enable('zones');
INSERT INTO zones VALUES ('a', 'A')});
# (Citus itself refuses to distribute a table with triggers unless told)
my $make_ref = q{SET citus.enable_unsafe_triggers = on; SELECT create_reference_table('zones')};
# (Citus hands on the placement's error from its copy with SQLSTATE XX000)
is(message_of($make_ref),
	'row versions of reference table "zones" cannot be kept in mode "xact"',
	'an xact-mode table made a reference table is refused as its rows are copied');
is(coord_sql(q{SELECT count(*) FROM pg_dist_partition WHERE logicalrelid = 'zones'::regclass}),
	'0', 'and stays a local table');

# Each node's copy, as code:version:name rows.
sub copies
{
	return map {
		$_->safe_psql('postgres',
			"SELECT string_agg(code || ':' || row_version || ':' || name, ',' ORDER BY code) FROM $refshard")
	} @nodes;
}
my @copies = copies();
is(scalar(grep { $_ eq $copies[0] } @copies), 3,
	'every copy of the reference table holds the same rows at the same versions');
is($copies[0], 'de:3:Deutschland,fr:3:République française',
	'the versions the writes gave them');

# negative control: a copy written behind the coordinator's back differs
$workers[0]->safe_psql('postgres',
	"SET session_replication_role = replica; UPDATE $refshard SET row_version = 99 WHERE code = 'de'");
@copies = copies();
isnt(scalar(grep { $_ eq $copies[0] } @copies), 3,
	'negative control: the copy checker sees a diverged copy');

stop_cluster();
done_testing();
