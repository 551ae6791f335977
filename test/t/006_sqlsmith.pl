# sqlsmith: a bounded number of random queries, over a database whose
# tables keep row versions (every mode and option, partitions, a
# propagation) and whose functions include the extension's, sent by an
# ordinary role with a statement timeout.  Passes when no server process
# crashed and no internal error (class XX) came from the extension; other
# errors are what random SQL gets.
#
# RV_SQLSMITH_QUERIES sets the number of queries, RV_SQLSMITH_SEED the
# seed (printed).  Negative control: a backend killed with SIGSEGV must
# show up in the same log check.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use RvTest;

my $queries = knob('RV_SQLSMITH_QUERIES', 500, 5000);
my $seed = $ENV{RV_SQLSMITH_SEED} || (time() ^ $$) % 100000;
diag "sqlsmith: seed $seed, $queries queries";

my $node = new_node('sqlsmith', conf => "log_error_verbosity = verbose\n"
	  . "log_min_messages = error\n");
$node->safe_psql('postgres', q{
	CREATE ROLE smith LOGIN;
	ALTER ROLE smith SET statement_timeout = '1s';
	CREATE DATABASE smith OWNER smith});
$node->safe_psql('smith', 'CREATE EXTENSION rowversion');
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-U', 'smith',
	'-d', $node->connstr('smith'), '-c', q{
	CREATE TABLE customers (id int PRIMARY KEY, name text, email text, views int DEFAULT 0);
	SELECT rowversion.enable('customers', require_version => true, ignore_columns => '{views}');
	CREATE TABLE lines (id bigint PRIMARY KEY, qty int, lock_version int);
	SELECT rowversion.enable('lines', version_column => 'lock_version', mode => 'counter');
	CREATE TABLE orders (id int PRIMARY KEY, customer int REFERENCES customers, note text);
	SELECT rowversion.enable('orders');
	CREATE TABLE order_items (order_id int REFERENCES orders, line int, qty int,
	                          PRIMARY KEY (order_id, line));
	SELECT rowversion.enable('order_items');
	SELECT rowversion.propagate('order_items', 'orders');
	CREATE TABLE events (id int, at date, what jsonb, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
	CREATE TABLE events_a PARTITION OF events FOR VALUES FROM ('2020-01-01') TO ('2025-01-01');
	CREATE TABLE events_b PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2030-01-01');
	SELECT rowversion.enable('events');
	CREATE TABLE plain (id int PRIMARY KEY, t text);
	CREATE VIEW customer_versions AS SELECT id, row_version, rowversion.etag(row_version) FROM customers;
	INSERT INTO customers SELECT g, 'c' || g, g || '@example.com' FROM generate_series(1, 200) g;
	INSERT INTO lines SELECT g, g, 0 FROM generate_series(1, 200) g;
	INSERT INTO orders SELECT g, 1 + g % 200, '' FROM generate_series(1, 100) g;
	INSERT INTO order_items SELECT o, l, l FROM generate_series(1, 100) o, generate_series(1, 3) l;
	INSERT INTO events SELECT g, date '2020-01-01' + g * 7, jsonb_build_object('g', g)
		FROM generate_series(1, 300) g;
	INSERT INTO plain SELECT g, 't' FROM generate_series(1, 100) g;
	ANALYZE} ], 'schema for sqlsmith');

my $offset = -s $node->logfile;
my ($out, $err);
my $connstr = $node->connstr('smith') . ' user=smith';
my $ran = IPC::Run::run([ 'sqlsmith', "--target=$connstr", "--seed=$seed",
	"--max-queries=$queries", '--verbose' ], '>', \$out, '2>', \$err,
	IPC::Run::timeout(1800));
ok($ran, "sqlsmith sent $queries queries and exited cleanly") or diag substr($err, -2000);
my @progress = grep { /\S/ } split /\n/, $err;
note 'sqlsmith said: ' . join "\n", @progress[ ($#progress > 8 ? $#progress - 8 : 0) .. $#progress ];

my @crashes = crashes_in_log($node, $offset);
is(scalar @crashes, 0, 'no server process crashed') or diag join "\n", @crashes;
is($node->safe_psql('smith', 'SELECT 1'), '1', 'the server is up');

# internal errors: reported with their statement and location; the
# extension's are those whose statement or location names it
sub internal_errors
{
	my ($from) = @_;
	my $log = slurp_file($node->logfile, $from);
	my @xx = $log =~ /(ERROR:  XX\d\d\d: .*?\n(?:.*\n){0,4}?.*STATEMENT: .*)/g;
	my @ours = grep { /rowversion|rv_[A-Z]|conditional_(update|delete)/ } @xx;
	return (\@xx, \@ours);
}
my ($xx, $ours) = internal_errors($offset);
note "sqlsmith: " . scalar(@$xx) . " internal errors in all";
note $_ for @$xx[0 .. ($#$xx < 4 ? $#$xx : 4)];
is(scalar @$ours, 0, 'no internal error from the extension') or diag join "\n", @$ours;
my $log = slurp_file($node->logfile, $offset);
my $failed = () = $log =~ /STATEMENT: .*rowversion\./g;
note "sqlsmith: $failed failing statements called the extension's functions";

# negative control: an internal error naming the extension is seen
$offset = -s $node->logfile;
$node->psql('smith', q{DO $$ BEGIN PERFORM rowversion.etag(1);
	RAISE EXCEPTION 'control' USING ERRCODE = 'XX000'; END $$});
($xx, $ours) = internal_errors($offset);
is(scalar @$ours, 1, 'control: an internal error in a statement that calls the extension is reported');

# negative control: a crashed backend is seen by the same check
my $bg = $node->background_psql('smith');
my $pid = $bg->query_safe('SELECT pg_backend_pid()');
$offset = -s $node->logfile;
kill 'SEGV', $pid;
for (1 .. 50)
{
	last if crashes_in_log($node, $offset);
	select(undef, undef, undef, 0.2);
}
cmp_ok(scalar(crashes_in_log($node, $offset)), '>', 0,
	'control: a backend killed with SIGSEGV is reported');
eval { $bg->quit };
# (restart_after_crash is off in these clusters: the server is down now)
$node->stop('immediate', fail_ok => 1);

done_testing();
