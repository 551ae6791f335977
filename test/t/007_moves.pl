# Moving a database to another cluster keeps xact-mode versions and saved
# watermarks going forward (the database's clock, src/clock.c).  The old
# cluster's transaction counter is far ahead (pg_resetwal -e 3 before its
# first start: IDs around 1.29e10); each new cluster starts fresh, with
# small IDs.  On each of four paths
#
#   (1) pg_dump -Fc and a full pg_restore into a new cluster's database,
#   (2) pg_restore --schema-only, then --data-only --disable-triggers,
#   (3) an upgrade by logical replication (publication FOR ALL TABLES, a
#       subscriber with the schema, rowversion.handover() on the old
#       cluster after its last write; the old cluster's clock holds the
#       row of a cluster it was restored from and one of the subscriber's
#       cluster, which wrote a database there before),
#   (4) pg_upgrade (15 to 15),
#   (5) there and back by pg_dump: a database made on the new cluster,
#       moved to the old one, written there, and restored on the new
#       cluster again,
#
# the move keeps every version, and after it an INSERT and an UPDATE of a
# row from before it both get versions above the old cluster's largest, a
# count of rows at or above the watermark saved on the old cluster (after
# its last write) finds both, a claim of the row's pre-move version is
# RV001, and watermark() is above the saved one.  On path (3), a write on
# the subscriber once it has the old cluster's row of rowversion.clock but
# before the handover has arrived is refused with 55000, its HINT naming
# handover(); a session that got that error and stays open writes above
# the old versions once the handover has arrived.
#
# A writer that stays open over the first write after a move holds up
# the others for a second at most (55P03), and they then write above the
# old versions.
#
# Negative control: the same restore as (1) with the clock emptied
# (rowversion.clock truncated, the ceiling set back) gives the inserted row
# a version below the old cluster's, the updated row only old + 1, and the
# watermark count finds neither: the checks above catch a database that
# moves without its clock.  (pg_upgrade keeps transaction IDs, epoch
# included, so path (4) passed before the clock too; it is here so that it
# stays that way.)
use strict;
use warnings;

use Cwd;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RvTest;

my $rows = knob('RV_MOVES_ROWS', 200, 20000);
my $e;
my $work = PostgreSQL::Test::Utils::tempdir;

# The old cluster, its transaction counter in epoch 3.
my $old = PostgreSQL::Test::Cluster->new('old');
$old->init(allows_streaming => 'logical');
# (no autovacuum: an ANALYZE holding a transaction ID would hold the saved
# watermarks back)
$old->append_conf('postgresql.conf', "log_statement = none\nautovacuum = off\n");
command_ok([ 'pg_resetwal', '-e', '3', $old->data_dir ], 'pg_resetwal -e 3 on the old cluster');
$old->start;
cmp_ok($old->safe_psql('postgres', 'SELECT pg_current_xact_id()::text::bigint'), '>', 12e9,
	'the old cluster hands out transaction IDs above 1.2e10');

# A database on the old cluster with an xact-mode table, written in several
# transactions.
sub make_source
{
	my ($db) = @_;
	my $half = int($rows / 2);
	$old->safe_psql('postgres', "CREATE DATABASE $db");
	$old->safe_psql($db, qq{
		CREATE EXTENSION rowversion;
		CREATE TABLE t (id int PRIMARY KEY, note text);
		SELECT rowversion.enable('t');
		INSERT INTO t SELECT g, 'a' FROM generate_series(1, $half) g;
		INSERT INTO t SELECT g, 'b' FROM generate_series($half + 1, $rows) g;
		UPDATE t SET note = 'u' WHERE id % 3 = 0;
		UPDATE t SET note = 'v' WHERE id % 7 = 0;});
}

# What a client saved on the old cluster after its last write: the largest
# version, the version of row 1 (never updated there) and the watermark.
sub saved
{
	my ($node, $db) = @_;
	my %s;
	$s{max} = $node->safe_psql($db, 'SELECT max(row_version) FROM t');
	$s{v1} = $node->safe_psql($db, 'SELECT row_version FROM t WHERE id = 1');
	$s{watermark} = $node->safe_psql($db, 'SELECT rowversion.watermark()');
	$s{rows} = rows_of($node, $db);
	cmp_ok($s{v1}, '>', 12e9, "$db: the old cluster's versions are above 1.2e10");
	cmp_ok($s{v1}, '<', $s{max} - 1, "$db: row 1's version is below the largest");
	cmp_ok($s{watermark}, '>', $s{max}, "$db: the saved watermark is above every version");
	return \%s;
}

sub rows_of
{
	my ($node, $db) = @_;
	return $node->safe_psql($db, q{SELECT string_agg(id || ':' || row_version, ',' ORDER BY id) FROM t});
}

# Runs sql on node, returns psql's stderr (VERBOSITY verbose: the SQLSTATE
# and the HINT).
sub error_of
{
	my ($node, $db, $sql) = @_;
	my ($rc, $out, $err) = $node->psql($db, $sql,
		extra_params => [ '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose' ]);
	return $rc == 0 ? '' : $err;
}

# The checks after a move: a new row and an update of a pre-move row are
# above everything the old cluster handed out and at or above its saved
# watermark; the pre-move version of a changed row is stale.
sub check_moved
{
	my ($node, $db, $s, $path) = @_;
	my $ins = $node->safe_psql($db,
		"INSERT INTO t VALUES ($rows + 1, 'new') RETURNING row_version");
	cmp_ok($ins, '>', $s->{max}, "$path: an INSERT after the move is above the old largest version");
	my $upd = $node->safe_psql($db, "UPDATE t SET note = 'moved' WHERE id = 1 RETURNING row_version");
	cmp_ok($upd, '>', $s->{max},
		"$path: an UPDATE of a pre-move row after the move is above the old largest version");
	is($node->safe_psql($db, "SELECT count(*) FROM t WHERE row_version >= $s->{watermark}"), 2,
		"$path: the watermark saved on the old cluster finds both changed rows");
	like(error_of($node, $db, "UPDATE t SET note = 'x', row_version = $s->{v1} WHERE id = 1"),
		qr/ERROR:  RV001:/, "$path: a claim of the pre-move version is RV001");
	my $mark = $node->safe_psql($db, 'SELECT rowversion.watermark()');
	cmp_ok($mark, '>', $s->{watermark},
		"$path: after those writes, watermark() is above the one saved on the old cluster");
	note "$path: old largest $s->{max}, saved watermark $s->{watermark}; "
	  . "after the move: insert $ins, update $upd, watermark $mark";
}

# (1) and (2): pg_dump -Fc of the old database, restored on a new cluster.
make_source('src');
my $src = saved($old, 'src');
my $dump = "$work/src.dump";
$old->command_ok([ 'pg_dump', '-Fc', '-d', $old->connstr('src'), '-f', $dump ], 'pg_dump -Fc');

my $new = new_node('new');
cmp_ok($new->safe_psql('postgres', 'SELECT pg_current_xact_id()::text::bigint'), '<', 1e6,
	'the new cluster hands out small transaction IDs');

$new->safe_psql('postgres', 'CREATE DATABASE full_restore');
$new->command_ok([ 'pg_restore', '-d', $new->connstr('full_restore'), $dump ],
	'(1) full pg_restore');
is(rows_of($new, 'full_restore'), $src->{rows}, '(1) the restore keeps every version');
check_moved($new, 'full_restore', $src, '(1) full restore');

$new->safe_psql('postgres', 'CREATE DATABASE data_only');
$new->command_ok([ 'pg_restore', '--schema-only', '-d', $new->connstr('data_only'), $dump ],
	'(2) schema restored');
$new->command_ok(
	[ 'pg_restore', '--data-only', '--disable-triggers', '-d', $new->connstr('data_only'), $dump ],
	'(2) data restored with --disable-triggers');
is(rows_of($new, 'data_only'), $src->{rows}, '(2) the data-only restore keeps every version');
check_moved($new, 'data_only', $src, '(2) data-only restore');

# Negative control: the full restore without the clock (emptied after the
# restore, before the first write; every psql call is a new session).
$new->safe_psql('postgres', 'CREATE DATABASE no_clock');
$new->command_ok([ 'pg_restore', '-d', $new->connstr('no_clock'), $dump ],
	'control: full pg_restore');
$new->safe_psql('no_clock', q{
	TRUNCATE rowversion.clock;
	SELECT setval('rowversion.clock_ceiling', 0, false)});
my $ins = $new->safe_psql('no_clock', "INSERT INTO t VALUES ($rows + 1, 'new') RETURNING row_version");
cmp_ok($ins, '<', $src->{max},
	'control: without the clock an INSERT after the move is below the old largest version');
my ($rc, $upd, $err) = $new->psql('no_clock',
	"UPDATE t SET note = 'moved' WHERE id = 1 RETURNING row_version");
is($upd, $src->{v1} + 1, 'control: without the clock an UPDATE only gets old + 1');
like($err, qr/holds row versions above the row version clock/,
	'control: and warns that the table holds versions above the clock');
is($new->safe_psql('no_clock', "SELECT count(*) FROM t WHERE row_version >= $src->{watermark}"), 0,
	'control: without the clock the saved watermark finds neither changed row');

# The first write after a move stores the new clock.  A transaction that
# wrote first and stays open (any role with INSERT can do that) holds up
# the other writers for a second at most: they fail with 55P03 naming the
# wait, rather than waiting for it; once it has ended they write above the
# old versions.
$new->safe_psql('postgres', 'CREATE DATABASE busy');
$new->command_ok([ 'pg_restore', '-d', $new->connstr('busy'), $dump ], 'busy: full pg_restore');
my $first = $new->background_psql('busy', on_error_stop => 0);
$first->query_safe("BEGIN; INSERT INTO t VALUES ($rows + 1, 'first')");
my $t0 = time;
$e = error_of($new, 'busy', "SET statement_timeout = '20s'; INSERT INTO t VALUES ($rows + 2, 'second')");
like($e, qr/ERROR:  55P03:.*\n.*CONTEXT:  waiting to move the row version clock of database "busy"/s,
	'busy: a second writer fails with 55P03 while the first writer\'s transaction is open');
cmp_ok(time - $t0, '<', 10, 'busy: and does not wait for it');
$first->query_safe('COMMIT');
$first->quit;
cmp_ok($new->safe_psql('busy', "INSERT INTO t VALUES ($rows + 2, 'second') RETURNING row_version"),
	'>', $src->{max}, 'busy: once it has ended, the second writer writes above the old versions');

# advance() reaches every session from its next statement: one that had
# loaded the clock before, and one whose REPEATABLE READ snapshot was taken
# before advance() committed (the clock is read in a snapshot of its own,
# and kept for the session's later transactions).
my $past = 50_000_000_000_000;
my $loaded = $new->background_psql('busy');
$loaded->query_safe("INSERT INTO t VALUES ($rows + 3, 'loaded')");
my $rr = $new->background_psql('busy');
$rr->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1');
$new->safe_psql('busy', "SELECT rowversion.advance($past)");
cmp_ok($loaded->query_safe("INSERT INTO t VALUES ($rows + 4, 'after') RETURNING row_version"),
	'>', $past, 'busy: after advance(), a session that had the clock loaded writes above it');
cmp_ok($rr->query_safe("INSERT INTO t VALUES ($rows + 5, 'after') RETURNING row_version"),
	'>', $past, 'busy: so does a REPEATABLE READ transaction whose snapshot is older');
$rr->query_safe('COMMIT');
cmp_ok($rr->query_safe("INSERT INTO t VALUES ($rows + 6, 'after') RETURNING row_version"),
	'>', $past, 'busy: and its next transaction');
$loaded->quit;
$rr->quit;

# Two first writers after a move that computed their shifts from different
# snapshots use one shift: the one stored first.  The slow writer's
# statement takes its snapshot while another transaction is open (so its
# snapshot's oldest running ID is lower, and its shift higher), then waits
# for the fast writer, which took its snapshot later and stored its shift.
# Were the slow writer's shift stored over it, the fast writer's session
# would go on with a smaller shift than every other session's, and a
# watermark taken elsewhere could pass the versions it hands out.
$new->safe_psql('postgres', 'CREATE DATABASE race');
$new->command_ok([ 'pg_restore', '-d', $new->connstr('race'), $dump ], 'race: full pg_restore');
my $open = $new->background_psql('race');
$open->query_safe('BEGIN; SELECT pg_current_xact_id()');
my $slow = $new->background_psql('race', on_error_stop => 0);
$slow->query_until(qr/started/,
	"\\echo started\nINSERT INTO t SELECT $rows + 1, 'slow' FROM pg_sleep(4);\n");
$new->poll_query_until('race',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = 'race'})
  or die 'the slow writer did not start';
$open->query_safe('COMMIT');
$open->quit;
my $fast = $new->background_psql('race');
my $fast_version = $fast->query_safe(
	"BEGIN; INSERT INTO t VALUES ($rows + 2, 'fast') RETURNING row_version - pg_current_xact_id()::text::bigint");
$new->poll_query_until('race',
	q{SELECT count(*) = 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
	  WHERE c.relname = 'clock' AND NOT l.granted})
  or die 'the slow writer did not wait for the fast one';
$fast->query_safe('COMMIT');
$slow->query("SELECT 'done'");
is($slow->{stderr}, '', 'race: the slow writer wrote');
$slow->quit;
my $system = $new->safe_psql('race', 'SELECT system_identifier FROM pg_control_system()');
is($new->safe_psql('race', "SELECT shift FROM rowversion.clock WHERE system_identifier = $system"),
	$fast_version, 'race: the stored shift is the one the first writer stored and uses');
is($new->safe_psql('race',
		"SELECT row_version - xmin::text::bigint FROM t WHERE id = $rows + 1"),
	$fast_version, 'race: the slow writer used it too');
$fast->query_safe("INSERT INTO t VALUES ($rows + 3, 'fast again')");
$fast->quit;

# (5) There and back by pg_dump: a database made on the new cluster (small
# IDs), moved to the old one and written there, then moved back.  The new
# cluster's row of rowversion.clock is older than the old cluster's, so the
# ceiling the database brings back counts although this cluster wrote the
# database before.
$new->safe_psql('postgres', 'CREATE DATABASE trip');
$new->safe_psql('trip', q{
	CREATE EXTENSION rowversion;
	CREATE TABLE t (id int PRIMARY KEY, note text);
	SELECT rowversion.enable('t');
	INSERT INTO t SELECT g, 'a' FROM generate_series(1, 10) g;});
$new->command_ok([ 'pg_dump', '-Fc', '-d', $new->connstr('trip'), '-f', "$work/there.dump" ],
	'(5) pg_dump on the new cluster');
$old->safe_psql('postgres', 'CREATE DATABASE trip');
$old->command_ok([ 'pg_restore', '-d', $old->connstr('trip'), "$work/there.dump" ],
	'(5) restored on the old cluster');
$old->safe_psql('trip', "INSERT INTO t SELECT g, 'b' FROM generate_series(11, $rows) g");
$old->safe_psql('trip', "UPDATE t SET note = 'there'");
$old->safe_psql('trip', "UPDATE t SET note = 'u' WHERE id % 3 = 0");
$old->safe_psql('trip', "UPDATE t SET note = 'v' WHERE id % 3 = 0");
my $trip = saved($old, 'trip');
$old->command_ok([ 'pg_dump', '-Fc', '-d', $old->connstr('trip'), '-f', "$work/back.dump" ],
	'(5) pg_dump on the old cluster');
$new->safe_psql('postgres', 'CREATE DATABASE trip_back');
$new->command_ok([ 'pg_restore', '-d', $new->connstr('trip_back'), "$work/back.dump" ],
	'(5) restored on the new cluster again');
is(rows_of($new, 'trip_back'), $trip->{rows}, '(5) the way back keeps every version');
check_moved($new, 'trip_back', $trip, '(5) there and back');
$new->stop;

# (3) An upgrade by logical replication.
make_source('lr');
$old->safe_psql('lr', 'CREATE PUBLICATION rv FOR ALL TABLES');
my $schema = "$work/lr.dump";
$old->command_ok([ 'pg_dump', '-Fc', '--schema-only', '-d', $old->connstr('lr'), '-f', $schema ],
	'(3) pg_dump --schema-only');
my $sub = new_node('sub');
$sub->safe_psql('postgres', 'CREATE DATABASE lr');
$sub->command_ok([ 'pg_restore', '--no-publications', '-d', $sub->connstr('lr'), $schema ],
	'(3) schema restored on the subscriber');
# The database has a history: the old cluster's clock holds the row of a
# cluster it came from by a restore (never handed over), and one of the
# subscriber's cluster (the database was there before), which has written
# a database of its own already (its row there is its own to keep).
my $sub_system = $sub->safe_psql('lr', 'SELECT system_identifier FROM pg_control_system()');
$old->safe_psql('lr', qq{
	INSERT INTO rowversion.clock (system_identifier, shift, since) VALUES (42, 0, 500);
	INSERT INTO rowversion.clock (system_identifier, shift, since) VALUES ($sub_system, 7, 600)});
$sub->safe_psql('lr', q{
	CREATE TABLE local_only (id int PRIMARY KEY);
	SELECT rowversion.enable('local_only');
	INSERT INTO local_only VALUES (1)});
my $connstr = $old->connstr . ' dbname=lr';
$sub->safe_psql('lr', "CREATE SUBSCRIPTION rv CONNECTION '$connstr' PUBLICATION rv");
$sub->wait_for_subscription_sync($old, 'rv', 'lr');
my $old_system = $old->safe_psql('lr', 'SELECT system_identifier FROM pg_control_system()');
is($sub->safe_psql('lr', 'SELECT handed_over IS NULL, replicated FROM rowversion.clock '
		  . "WHERE system_identifier = $old_system"),
	"t|t", "(3) the subscriber has the old cluster's clock row, replicated, not handed over");
is($sub->safe_psql('lr', "SELECT shift, replicated FROM rowversion.clock WHERE system_identifier = $sub_system"),
	'0|f', "(3) the subscriber's own row stays its own (the publisher's copy of it is skipped)");
$e = error_of($sub, 'lr', "INSERT INTO t VALUES ($rows + 1, 'early')");
like($e, qr/ERROR:  55000:/, '(3) an INSERT on the subscriber before the handover is 55000');
like($e, qr/HINT:  .*rowversion\.handover\(\)/, '(3) and its HINT says to run handover()');
# a session that stays open over the handover, as in a connection pool
my $pooled = $sub->background_psql('lr', on_error_stop => 0,
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
$pooled->query("UPDATE t SET note = 'early' WHERE id = 2");
like($pooled->{stderr}, qr/ERROR:  55000:/,
	'(3) an UPDATE before the handover is 55000 in a session that stays open');

# the old cluster's last writes, applied
$old->safe_psql('lr', qq{
	UPDATE t SET note = 'w' WHERE id % 5 = 0;
	INSERT INTO t SELECT g, 'c' FROM generate_series($rows + 2, $rows + 20) g;
	DELETE FROM t WHERE id = 4});
$old->wait_for_catchup('rv');
my $lr = saved($old, 'lr');
is(rows_of($sub, 'lr'), $lr->{rows}, '(3) the old cluster\'s writes arrived with their versions');
like(error_of($sub, 'lr', "UPDATE t SET note = 'early' WHERE id = 1"), qr/ERROR:  55000:/,
	'(3) an UPDATE on the subscriber before the handover is 55000');

my $handed = $old->safe_psql('lr', 'SELECT rowversion.handover()');
cmp_ok($handed, '>=', $lr->{watermark}, '(3) handover() returns a clock at or above the watermark');
$old->wait_for_catchup('rv');
is($sub->safe_psql('lr', "SELECT handed_over FROM rowversion.clock WHERE system_identifier = $old_system"),
	$handed,
	'(3) the handover arrived at the subscriber');
check_moved($sub, 'lr', $lr, '(3) logical replication');
$pooled->{stderr} = '';
cmp_ok($pooled->query_safe("UPDATE t SET note = 'pooled' WHERE id = 2 RETURNING row_version"),
	'>', $lr->{max}, '(3) once the handover arrived, the session opened before it writes above the old versions');
$pooled->quit;
$sub->safe_psql('lr', 'DROP SUBSCRIPTION rv');
$sub->stop;

# (4) pg_upgrade of the whole old cluster into a fresh one.  pg_upgrade
# keeps transaction IDs (it sets the new cluster's counter, epoch included,
# to the old one's), so this path kept versions going forward before the
# clock too.
$old->stop;
my $up = PostgreSQL::Test::Cluster->new('upgraded');
$up->init;
$up->append_conf('postgresql.conf', "log_statement = none\n");
my $bindir = $old->config_data('--bindir');
# pg_upgrade writes delete_old_cluster.sh into the working directory
my $cwd = Cwd::getcwd();
chdir $work;
command_ok(
	[
		'pg_upgrade', '--no-sync', '-d', $old->data_dir,
		'-D', $up->data_dir, '-b', $bindir,
		'-B', $bindir, '-s', $up->host,
		'-p', $old->port, '-P', $up->port
	],
	'(4) pg_upgrade');
chdir $cwd;
$up->start;
cmp_ok($up->safe_psql('postgres', 'SELECT pg_current_xact_id()::text::bigint'), '>', 12e9,
	'(4) pg_upgrade kept the transaction counter');
is(rows_of($up, 'src'), $src->{rows}, '(4) pg_upgrade keeps every version');
check_moved($up, 'src', $src, '(4) pg_upgrade');
$up->stop;

done_testing();
