# pg_dump and pg_restore: a full restore keeps every version, the trigger's
# options (enforce => false and ignore_columns among them, which travel in
# the trigger's arguments on either side of an empty one), propagations and
# partitions, and the trigger keeps working (the next update is above the
# restored version; a stale claim is RV001, or a warning on the log-only
# table).  A data-only restore with --disable-triggers keeps every version
# too.
#
# Negative control, and what README says about it: a data-only restore
# without --disable-triggers runs the trigger on every restored row, so
# xact-mode rows get the restoring transaction's ID and parents get bumped
# by their children; the comparison sees every such row differ.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RvTest;

my $rows = knob('RV_DUMP_ROWS', 300, 20000);
my $work = PostgreSQL::Test::Utils::tempdir;

my $node = new_node('dump');
$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', qq{
	CREATE EXTENSION rowversion;
	CREATE TABLE customers (id int PRIMARY KEY, name text, view_count int DEFAULT 0);
	SELECT rowversion.enable('customers', require_version => true,
	                         ignore_columns => '{view_count}');
	CREATE TABLE lines (id int PRIMARY KEY, qty int NOT NULL);
	SELECT rowversion.enable('lines', version_column => 'lock_version', mode => 'counter');
	CREATE TABLE baskets (id int PRIMARY KEY, note text);
	SELECT rowversion.enable('baskets');
	-- (named to sort after its parent: pg_restore loads data in name order)
	CREATE TABLE items (basket_id int REFERENCES baskets, line int, qty int,
	                    PRIMARY KEY (basket_id, line));
	SELECT rowversion.enable('items');
	SELECT rowversion.propagate('items', 'baskets');
	CREATE TABLE events (id int, at date, what text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
	CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
	CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
	SELECT rowversion.enable('events');
	CREATE TABLE drafts (id int PRIMARY KEY, body text, seen int);
	SELECT rowversion.enable('drafts', mode => 'counter', ignore_columns => '{seen}',
	                         enforce => false);
	INSERT INTO drafts VALUES (1, 'd', 0);

	INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, $rows) g;
	INSERT INTO lines SELECT g, 0 FROM generate_series(1, $rows) g;
	INSERT INTO baskets SELECT g, '' FROM generate_series(1, $rows / 10) g;
	INSERT INTO items SELECT b, l, 1 FROM generate_series(1, $rows / 10) b, generate_series(1, 3) l;
	INSERT INTO events SELECT g, date '2025-06-01' + (g % 300), 'e' FROM generate_series(1, $rows) g;
	UPDATE customers SET name = name || '!', row_version = row_version WHERE id % 3 = 0;
	UPDATE lines SET qty = 2 WHERE id % 2 = 0;
	UPDATE lines SET qty = 3 WHERE id % 4 = 0;
	UPDATE items SET qty = 2 WHERE line = 2;
	UPDATE events SET at = at + 200 WHERE id % 5 = 0;});

my @tables = qw(customers lines baskets items events);
sub versions
{
	my ($db) = @_;
	my %v;
	for my $t (@tables)
	{
		# the whole row, version column included
		$v{$t} = $node->safe_psql($db,
			"SELECT string_agg(t::text, ';' ORDER BY t::text) FROM $t t");
	}
	$v{options} = $node->safe_psql($db,
		'SELECT string_agg(t::text, \',\' ORDER BY t::text) FROM rowversion.tables t')
	  . $node->safe_psql($db, 'SELECT string_agg(p::text, \',\') FROM rowversion.propagations p');
	return \%v;
}
# rows whose version differs from the source, per table
sub differing
{
	my ($a, $b) = @_;
	my %d;
	for my $t (@tables)
	{
		my %x = map { $_ => 1 } split /;/, $a->{$t};
		$d{$t} = grep { !$x{$_} } split /;/, $b->{$t};
	}
	return \%d;
}
my $src = versions('src');

my $dump = "$work/src.dump";
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('src'), '-f', $dump ], 'pg_dump -Fc');

# full restore
$node->safe_psql('postgres', 'CREATE DATABASE full_restore');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('full_restore'), $dump ], 'full pg_restore');
is_deeply(versions('full_restore'), $src,
	'a full restore keeps every version, the options and the propagations');
is($node->safe_psql('full_restore', q{
	SELECT format('%s %s %s %s', mode, require_version, ignore_columns, enforce)
	FROM rowversion.tables WHERE tbl = 'drafts'::regclass}),
	'counter f {seen} f', 'enforce => false and ignore_columns come back');
my ($rc, $out, $err) = $node->psql('full_restore',
	"UPDATE drafts SET body = 'e', row_version = 7 WHERE id = 1 RETURNING row_version",
	extra_params => [ '-v', 'VERBOSITY=sqlstate' ]);
ok($rc == 0 && $out eq '2' && $err =~ /WARNING:  RV001/,
	'after the restore, a stale claim on the log-only table warns and goes through');
is($node->safe_psql('full_restore',
	"SELECT conflicts FROM rowversion.conflicts WHERE tbl = 'drafts'::regclass"),
	'1', 'and is counted (counting starts afresh in the restored database)');
my $v = $node->safe_psql('full_restore', 'SELECT row_version FROM customers WHERE id = 3');
my $new = $node->safe_psql('full_restore',
	"SELECT rowversion.conditional_update('customers', 3, $v, '{\"name\": \"x\"}')");
cmp_ok($new, '>', $v, 'after the restore, the next update is above the restored version');
($rc, $out, $err) = $node->psql('full_restore',
	"UPDATE customers SET name = 'y', row_version = $v WHERE id = 3",
	extra_params => [ '-v', 'VERBOSITY=sqlstate' ]);
like($err, qr/RV001/, 'a claim of the old version is RV001');
($rc, $out, $err) = $node->psql('full_restore', 'UPDATE customers SET name = \'z\' WHERE id = 4',
	extra_params => [ '-v', 'VERBOSITY=sqlstate' ]);
like($err, qr/RV002/, 'require_version still holds');
my $bv = $node->safe_psql('full_restore', 'SELECT row_version FROM baskets WHERE id = 2');
$node->safe_psql('full_restore', 'UPDATE items SET qty = 9 WHERE basket_id = 2 AND line = 1');
cmp_ok($node->safe_psql('full_restore', 'SELECT row_version FROM baskets WHERE id = 2'), '>', $bv,
	'propagation still bumps the parent');
is($node->safe_psql('full_restore', 'SELECT lock_version FROM lines WHERE id = 4'
	  . "; UPDATE lines SET qty = 0 WHERE id = 4 RETURNING lock_version"), "3\n4",
	'counter mode continues from the restored value');

# data-only restore into the schema, with and without --disable-triggers
for my $case ([ 'data_disabled', '--disable-triggers' ], [ 'data_plain' ])
{
	my ($db, @flags) = @$case;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->command_ok([ 'pg_restore', '--schema-only', '-d', $node->connstr($db), $dump ],
		"$db: schema restored");
	my @restore = ('pg_restore', '--data-only', @flags, '-d', $node->connstr($db), $dump);
	if (@flags)
	{
		$node->command_ok(\@restore, "$db: data restored");
		next;
	}
	# Without --disable-triggers the trigger's first write makes this
	# cluster's row of rowversion.clock before the dump's copy of it comes.
	my ($out, $err) = run_command(\@restore);
	is_deeply([ grep { /error:/ } split /\n/, $err ],
		[ 'pg_restore: error: COPY failed for table "clock": ERROR:  duplicate key value violates unique constraint "clock_pkey"' ],
		"$db: data restored but for this cluster's row of rowversion.clock, which the trigger made first");
}
is_deeply(versions('data_disabled'), $src,
	'a data-only restore with --disable-triggers keeps every version');
my $d = differing($src, versions('data_plain'));
note 'without --disable-triggers, rows whose version changed: '
  . join ', ', map { "$_ $d->{$_}" } @tables;
my $nb = int($rows / 10);
is($d->{customers} + $d->{events} + $d->{baskets} + $d->{items}, 2 * $rows + 4 * $nb,
	'control: without --disable-triggers every xact-mode row gets a new version');
is($d->{lines}, 0, 'without it, counter mode keeps the restored values');
is($node->safe_psql('data_plain', q{
	SELECT count(*) FROM baskets b
	WHERE b.row_version = (SELECT max(row_version) FROM items i WHERE i.basket_id = b.id)}),
	$nb, 'without it, restoring the children bumps their parents');

$node->stop;
done_testing();
