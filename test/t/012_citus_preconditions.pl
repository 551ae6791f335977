# Citus: If-Match preconditions (expect_match(), postgrest_pre_request())
# registered on the coordinator are checked by the trigger on whichever
# node holds the row -- a worker, or the coordinator's own placement --
# for distributed, reference and Citus local tables; two sessions racing
# with the same If-Match: one writes, the other gets RV001.  A
# precondition forwarded by hand does not tell a version to a role that
# may not read it.
#
# Negative controls: the race without preconditions loses an update, and
# the race checker reports it.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use RvCitus;

skip_without_citus();
# rowversion preloaded, as README "Sharded PostgreSQL" asks for errors
# raised on other nodes to take the session's sqlstate_style
my ($coord, @workers) = citus_cluster(conf => "shared_preload_libraries = 'citus,rowversion'\n");

coord_sql(q{
CREATE TABLE dist (id int PRIMARY KEY, name text);
SELECT create_distributed_table('dist', 'id');
SELECT rowversion.enable('dist');
CREATE TABLE ref (id int PRIMARY KEY, name text);
SELECT create_reference_table('ref');
SELECT rowversion.enable('ref', mode => 'counter');
CREATE TABLE loc (id int PRIMARY KEY, name text);
SELECT citus_add_local_table_to_metadata('loc');
SELECT rowversion.enable('loc');
INSERT INTO dist SELECT g, 'a' FROM generate_series(1, 8) g;
INSERT INTO ref SELECT g, 'a' FROM generate_series(1, 8) g;
INSERT INTO loc SELECT g, 'a' FROM generate_series(1, 8) g;
});

sub etag
{
	my ($table, $id) = @_;
	return coord_sql("SELECT rowversion.etag(row_version) FROM $table WHERE id = $id");
}

# Each kind: a stale If-Match refuses the client's UPDATE and DELETE; the
# current one lets them through.
for my $table (qw(dist ref loc))
{
	my $old = etag($table, 1);
	coord_sql("UPDATE $table SET name = 'moved on' WHERE id = 1");
	is(outcome(qq{BEGIN; SELECT rowversion.expect_match('$table', '$old');
UPDATE $table SET name = 'lost' WHERE id = 1; COMMIT}),
		'RV001', "$table: a stale If-Match refuses the UPDATE");
	is(outcome(qq{BEGIN; SELECT rowversion.expect_match('$table', '$old');
DELETE FROM $table WHERE id = 1; COMMIT}),
		'RV001', "$table: and the DELETE");
	is(coord_sql("SELECT name FROM $table WHERE id = 1"), 'moved on',
		"$table: nothing changed");
	my $cur = etag($table, 1);
	is(outcome(qq{BEGIN; SELECT rowversion.expect_match('$table', '$cur');
UPDATE $table SET name = 'current' WHERE id = 1; COMMIT}),
		'ok', "$table: the current If-Match lets the UPDATE through");
	is(message_of(qq{BEGIN; SELECT rowversion.expect_match('$table', '$old');
UPDATE $table SET name = 'lost' WHERE id = 1; COMMIT}),
		qq{row version conflict on table "$table"}, "$table: the error names the table");
}

# The node's connection opened before the registration, a multi-shard
# statement, a savepoint rolled back, a registration removed.
my $old = etag('dist', 2);
coord_sql(q{UPDATE dist SET name = 'b'});
is(outcome(qq{BEGIN; SELECT count(*) FROM dist;
SELECT rowversion.expect_match('dist', '$old');
UPDATE dist SET name = 'lost' WHERE id = 2; COMMIT}),
	'RV001', 'dist: a connection the transaction opened before the registration gets it too');
is(outcome(qq{BEGIN; SELECT rowversion.expect_match('dist', '$old');
UPDATE dist SET name = 'lost'; COMMIT}),
	'RV001', 'dist: a statement over every shard is checked on each');
is(coord_sql(q{SELECT count(*) FROM dist WHERE name = 'lost'}), '0', 'dist: and changes nothing');
is(outcome(qq{BEGIN; SAVEPOINT s; SELECT rowversion.expect_match('dist', '$old');
ROLLBACK TO s; UPDATE dist SET name = 'c' WHERE id = 2; COMMIT}),
	'ok', 'dist: a registration rolled back to a savepoint is gone on the nodes too');
is(outcome(qq{BEGIN; SELECT rowversion.expect_match('dist', '$old');
SELECT rowversion.expect_match('dist', NULL);
UPDATE dist SET name = 'd' WHERE id = 2; COMMIT}),
	'ok', 'dist: expect_match(tbl, NULL) removes it on the nodes too');
is(outcome(qq{BEGIN; SELECT rowversion.expect_match('dist', '$old');
COMMIT; UPDATE dist SET name = 'e' WHERE id = 2}),
	'ok', 'dist: the next transaction is not checked');

# Pushed down by Citus with a query on the table, it would register on the
# worker, where the next statement need not go: refused.
is(outcome(qq{BEGIN; SELECT rowversion.expect_match('dist', rowversion.etag(row_version))
FROM dist WHERE id = 2; COMMIT}), '0A000',
	'expect_match() inside a query Citus runs on a worker is refused');

# A partitioned distributed table: registered on the parent or on a
# partition, checked on the partition's shards; TRUNCATE refused.
coord_sql(q{
CREATE TABLE parts (id int, k int, name text, PRIMARY KEY (id, k)) PARTITION BY RANGE (k);
CREATE TABLE parts_low PARTITION OF parts FOR VALUES FROM (0) TO (10);
CREATE TABLE parts_high PARTITION OF parts FOR VALUES FROM (10) TO (20);
SELECT create_distributed_table('parts', 'id');
SELECT rowversion.enable('parts');
INSERT INTO parts SELECT g, g, 'a' FROM generate_series(1, 8) g;
});
my $p_old = etag('parts', 3);
coord_sql(q{UPDATE parts SET name = 'b'});
for my $table (qw(parts parts_low))
{
	is(outcome(qq{BEGIN; SELECT rowversion.expect_match('$table', '$p_old');
UPDATE parts SET name = 'lost' WHERE id = 3; COMMIT}),
		'RV001', "partitioned: registered on $table, checked on the partition's shard");
}
is(outcome(qq{BEGIN; SELECT rowversion.expect_match('parts', '$p_old'); TRUNCATE parts; COMMIT}),
	'55000', 'partitioned: TRUNCATE is refused while a precondition is registered');

# PostgREST's pre-request
my $pg_old = etag('dist', 3);
coord_sql(q{UPDATE dist SET name = 'b' WHERE id = 3});
my $request = qq{SET LOCAL search_path = public;
SELECT set_config('request.method', 'PATCH', true), set_config('request.path', '/dist', true),
       set_config('request.headers', '{"if-match": "' || replace('$pg_old', '"', '\\"') || '"}', true);
SELECT rowversion.postgrest_pre_request();};
is(outcome(qq{BEGIN; $request UPDATE dist SET name = 'lost' WHERE id = 3; COMMIT}),
	'RV001', 'dist: postgrest_pre_request() with a stale If-Match refuses the PATCH');

# A role that may update the table but not read its versions cannot learn
# them by forwarding a precondition by hand.
coord_sql(q{
CREATE ROLE blind LOGIN;
GRANT USAGE ON SCHEMA rowversion TO blind;
GRANT SELECT (id, name), UPDATE (name) ON dist TO blind;
});
my $v4 = coord_sql(q{SELECT row_version FROM dist WHERE id = 4});
my $forged = qq{6:public4:dist} . length(qq{"$v4"}) . qq{:"$v4"};
my $forge = qq{BEGIN; SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL rowversion.preconditions = '$forged';
UPDATE dist SET name = 'probe' WHERE id = 4; COMMIT};
is(message_of("SET ROLE blind; $forge"),
	'setting "rowversion.preconditions" was not set by rowversion.expect_match()',
	'a precondition forwarded by hand is refused on the coordinator');
is(coord_sql('SELECT name FROM dist WHERE id = 4'), 'b', 'and changes nothing');
# Where it is applied -- a backend serving the coordinator, as a forged one
# directly on the worker passes for -- the caller must be able to read
# the version column too.
my ($shard4, $port4) = split /\|/, coord_sql(q{
SELECT shard_name('dist'::regclass, s.shardid), n.nodeport
FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) JOIN pg_dist_node n USING (groupid)
WHERE s.shardid = get_shard_id_for_distribution_column('dist', 4)});
my ($holder) = grep { $_->port == $port4 } @workers;
my $on_worker = qq{SET application_name = 'citus_internal gpid=1'; BEGIN;
SET LOCAL rowversion.preconditions = '$forged';
UPDATE $shard4 SET name = 'probe' WHERE id = 4; COMMIT};
my ($rc, $out, $err) = $holder->psql('postgres', "\\set VERBOSITY sqlstate\nSET ROLE blind; $on_worker");
like($err, qr/ERROR:\s+42501/, 'a forwarded precondition needs SELECT on the version column where it is applied');
(my $stale_on_worker = $on_worker) =~ s/'\Q$forged\E'/'6:public4:dist3:"0"'/;
($rc, $out, $err) = $holder->psql('postgres', "\\set VERBOSITY sqlstate\n$stale_on_worker");
like($err, qr/ERROR:\s+RV001/, 'negative control: a role that may read it gets a stale one applied');
is(outcome(q{SELECT rowversion.etag(1); BEGIN; SET LOCAL rowversion.preconditions = '99:x'; COMMIT}),
	'22023', 'a malformed one is refused when set');

# Forged through a SECURITY DEFINER function that writes the table, by a
# client passing for another node by its application_name: refused.
coord_sql(q{
CREATE FUNCTION rename_row(i int, n text) RETURNS void SECURITY DEFINER
LANGUAGE sql AS $$ UPDATE public.dist SET name = n WHERE id = i $$;
GRANT EXECUTE ON FUNCTION rename_row(int, text) TO blind;
});
is(message_of(qq{SET ROLE blind; SET application_name = 'citus_internal gpid=10000000001';
BEGIN; SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL rowversion.preconditions = '$forged'; SELECT rename_row(4, 'x'); COMMIT}),
	'setting "rowversion.preconditions" was not set by rowversion.expect_match()',
	'forged and passing for another node, inside a SECURITY DEFINER function: refused');
# ... or naming, in its own schema, a table of its own named like a shard
# the coordinator does not hold: refused, as no table the nodes hold.
my $shardname = coord_sql(q{SELECT shard_name('dist'::regclass, min(shardid)) FROM pg_dist_shard
WHERE logicalrelid = 'dist'::regclass});
coord_sql(q{GRANT CREATE ON SCHEMA public TO blind});
my $decoy = "6:public" . length($shardname) . ":$shardname" . length(qq{"$v4"}) . qq{:"$v4"};
is(message_of(qq{SET ROLE blind; SET citus.enable_manual_changes_to_shards = on;
CREATE TABLE public.$shardname (id int PRIMARY KEY, name text);
SELECT rowversion.enable('public.$shardname');
BEGIN; SELECT rowversion.expect_match('public.$shardname', '"$v4"');
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL rowversion.preconditions = '$decoy'; SELECT rename_row(4, 'x'); COMMIT}),
	'setting "rowversion.preconditions" was not set by rowversion.expect_match()',
	'a decoy table named like a shard does not pass for one');
coord_sql(q{REVOKE CREATE ON SCHEMA public FROM blind});

# A registration made in a subtransaction that commits (RELEASE, a PL/pgSQL
# block with an EXCEPTION clause) still reaches connections opened later.
my $s_old = etag('dist', 7);
coord_sql(q{UPDATE dist SET name = 'b' WHERE id = 7});
is(outcome(qq{BEGIN; SAVEPOINT a; SELECT rowversion.expect_match('dist', '$s_old'); RELEASE a;
UPDATE dist SET name = 'lost' WHERE id = 7; COMMIT}),
	'RV001', 'a registration in a released savepoint reaches the worker');
is(outcome(qq{BEGIN;
DO \$\$BEGIN PERFORM rowversion.expect_match('dist', '$s_old'); EXCEPTION WHEN others THEN RAISE; END\$\$;
UPDATE dist SET name = 'lost' WHERE id = 7; COMMIT}),
	'RV001', 'and one in a PL/pgSQL block with an EXCEPTION clause');
is(coord_sql('SELECT name FROM dist WHERE id = 7'), 'b', 'nothing changed');

# Two sessions race with the same If-Match on a distributed row: the
# second waits for the first's row lock on the worker, then is refused.
# Returns the two outcomes and the row's final name.
sub race
{
	my ($precondition) = @_;
	my $tag = etag('dist', 5);
	my $begin = $precondition ? "SELECT rowversion.expect_match('dist', '$tag');" : '';
	my $first = $coord->background_psql('postgres', on_error_stop => 0);
	$first->query_safe("BEGIN; $begin UPDATE dist SET name = 'first' WHERE id = 5");
	my ($out, $err) = ('', '');
	my $second = IPC::Run::start(
		[ 'psql', '-X', '-v', 'VERBOSITY=sqlstate', '-d', $coord->connstr('postgres'),
		  '-c', "BEGIN; $begin UPDATE dist SET name = 'second' WHERE id = 5; COMMIT" ],
		'>', \$out, '2>', \$err);
	# wait until the second session waits for the row on its worker
	$coord->poll_query_until('postgres',
		q{SELECT count(*) > 0 FROM citus_lock_waits}) or die 'the second session never waited';
	$first->query_safe('COMMIT');
	$first->quit;
	$second->finish;
	my $second_outcome = $err =~ /ERROR:\s+([0-9A-Z]{5})/ ? $1 : 'ok';
	return ($second_outcome, coord_sql('SELECT name FROM dist WHERE id = 5'));
}
my ($second, $name) = race(1);
is($second, 'RV001', 'race: the second session with the same If-Match is refused');
is($name, 'first', "race: the first session's write stands");
($second, $name) = race(0);
is($second, 'ok', 'negative control: without If-Match the second session writes too');
is($name, 'second', "negative control: and the first session's write is lost");

# Errors raised on a worker: the table the user knows in the message and
# the object fields, and the SQLSTATE of the session's sqlstate_style --
# whatever the worker's own.
for my $w (@workers)
{
	$w->append_conf('postgresql.conf', "rowversion.sqlstate_style = 'postgrest'\n");
	$w->reload;
}
my $v6 = coord_sql(q{SELECT row_version FROM dist WHERE id = 6});
my $stale = qq{UPDATE dist SET name = 'lost', row_version = $v6 - 1 WHERE id = 6};
is(outcome($stale), 'RV001',
	"a worker's error takes the session's style (rowversion), not the worker's (postgrest)");
is(outcome("SET rowversion.sqlstate_style = 'postgrest'; $stale"), 'PT412',
	'and postgrest when the session sets it');
for my $w (@workers)
{
	$w->append_conf('postgresql.conf', "rowversion.sqlstate_style = 'rowversion'\n");
	$w->reload;
}
is(outcome("SET rowversion.sqlstate_style = 'postgrest'; $stale"), 'PT412',
	'also when the worker has the default style');
is(outcome("SET rowversion.sqlstate_style = 'postgrest';
SELECT rowversion.enable('dist', require_version => true);
UPDATE dist SET name = 'blind' WHERE id = 6"), 'PT428',
	'require_version on a worker: PT428');
coord_sql(q{SELECT rowversion.enable('dist')});
my (undef, undef, $verbose) = $coord->psql('postgres', "\\set VERBOSITY verbose\n$stale");
like($verbose, qr/SCHEMA NAME:  public\nTABLE NAME:  dist\nCOLUMN NAME:  row_version/,
	"a worker's error has the object fields of the table");
unlike($verbose, qr/row version column "/, 'and not the context line that carried them');
like($verbose, qr/while executing command on/, "Citus's own context stays");
my $r6 = coord_sql(q{SELECT row_version FROM ref WHERE id = 6}) - 1;
(undef, undef, $verbose) = $coord->psql('postgres', "\\set VERBOSITY verbose
UPDATE ref SET name = 'lost', row_version = $r6 WHERE id = 6");
like($verbose, qr/TABLE NAME:  ref\n/,
	"on the coordinator's own placement of a reference table too");

# Log-only mode would count a Citus table's conflicts on each node apart:
# refused by enable(), and on every write of a table distributed after it.
is(outcome(q{SELECT rowversion.enable('dist', enforce => false)}), '0A000',
	'enable(enforce => false) is refused on a distributed table');
is(outcome(q{SELECT rowversion.enable('loc', enforce => false)}), '0A000',
	'and on a Citus local table');
coord_sql(q{CREATE TABLE quiet (id int PRIMARY KEY, name text);
SELECT rowversion.enable('quiet', enforce => false);
SET citus.enable_unsafe_triggers = on;
SELECT create_distributed_table('quiet', 'id')});
is(outcome(q{INSERT INTO quiet VALUES (1, 'a')}), '0A000',
	'a log-only table distributed afterwards refuses writes');
is(outcome(q{SELECT rowversion.enable('quiet'); INSERT INTO quiet VALUES (1, 'a')}), 'ok',
	'until enable() makes it enforce again');

stop_cluster();
done_testing();
