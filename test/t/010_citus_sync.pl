# Citus: versions and sync points across the nodes of a sharded cluster.
#
# A table enabled (xact mode) before create_distributed_table() keeps every
# row's version through the distribution, though Citus copies the rows into
# new shards that already carry the version trigger; so does a client's
# claim with a version read before it.  alter_distributed_table(),
# undistribute_table(), citus_add_local_table_to_metadata() and
# create_reference_table() of a counter-mode table keep them too.
#
# watermark() on the coordinator is the least of every node's own, so a
# sync from it finds every later change on every node, though the nodes'
# transaction counters are far apart; inside a query that Citus runs on a
# worker it is refused; a node that does not answer makes it fail.
#
# Negative controls: the version checker reports a row that was updated;
# the per-node watermark (what watermark() was, and gives a node asked by
# run_command_on_all_nodes()) misses
# changes made on a worker after it was taken.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RvCitus;

skip_without_citus();
my ($coord, @workers) = citus_cluster();

# Burns n transaction IDs on a node.
sub burn_xids
{
	my ($node, $n) = @_;
	$node->safe_psql('postgres', qq{
DO \$\$ BEGIN FOR i IN 1..$n LOOP PERFORM pg_catalog.txid_current(); COMMIT; END LOOP; END \$\$});
}

# The coordinator's transaction counter goes well ahead of the workers', so
# that a version the workers would give is below the coordinator's.
burn_xids($coord, 3000);

# ---- a table enabled before create_distributed_table() ----
coord_sql(q{
CREATE TABLE pre (id int PRIMARY KEY, name text);
SELECT rowversion.enable('pre');
INSERT INTO pre SELECT g, 'n' || g FROM generate_series(1, 20) g;
UPDATE pre SET name = name || 'x' WHERE id % 3 = 0;
CREATE TABLE pre_before AS SELECT id, row_version FROM pre;
});
my $changed = q{SELECT count(*) FROM pre JOIN pre_before USING (id)
  WHERE pre.row_version IS DISTINCT FROM pre_before.row_version};
is(coord_sql($changed), '0', 'the checker finds nothing changed before');

# Citus refuses to distribute a table with triggers unless told to.
is(outcome(q{SELECT create_distributed_table('pre', 'id')}), 'XX000',
	'without citus.enable_unsafe_triggers Citus refuses the distribution');
is(outcome(q{BEGIN;
SET LOCAL citus.enable_unsafe_triggers = on;
SELECT create_distributed_table('pre', 'id');
COMMIT;}), 'ok', 'with it set for the call, the table is distributed');
is(coord_sql(q{SELECT count(DISTINCT nodeport) FROM citus_shards
  WHERE table_name = 'pre'::regclass}), '2', 'its shards are on both workers');
is(coord_sql($changed), '0', 'every row kept its version through the distribution');
is(coord_sql('SELECT count(*) FROM pre'), '20', 'and every row is there');

# a client holding a version read before the distribution
my $held = coord_sql('SELECT row_version FROM pre_before WHERE id = 5');
is(outcome(qq{UPDATE pre SET name = 'claimed', row_version = $held WHERE id = 5}),
	'ok', 'a claim with a version read before the distribution passes');
cmp_ok(coord_sql('SELECT row_version FROM pre WHERE id = 5'), '>', $held,
	'and moves the version on');
is(outcome(qq{UPDATE pre SET name = 'lost', row_version = $held WHERE id = 5}),
	'RV001', 'the same claim again is stale');
# negative control: the checker reports that updated row
is(coord_sql($changed), '1', 'the checker reports the updated row');

# after the distribution, inserts get new versions as always
coord_sql(q{INSERT INTO pre VALUES (100, 'late', 5)});
cmp_ok(coord_sql('SELECT row_version FROM pre WHERE id = 100'), '>', 5,
	'a later insert that writes a version gets a new one (xact mode)');

# alter_distributed_table() and undistribute_table() keep them
coord_sql(q{DROP TABLE pre_before; CREATE TABLE pre_before AS SELECT id, row_version FROM pre});
is(outcome(q{BEGIN;
SET LOCAL citus.enable_unsafe_triggers = on;
SELECT alter_distributed_table('pre', shard_count := 6);
COMMIT;}), 'ok', 'alter_distributed_table(shard_count)');
is(coord_sql($changed), '0', 'keeps every version');
is(coord_sql(q{SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'pre'::regclass}),
	'6', 'with the new shard count');
is(outcome(q{BEGIN;
SET LOCAL citus.enable_unsafe_triggers = on;
SELECT undistribute_table('pre');
COMMIT;}), 'ok', 'undistribute_table()');
is(coord_sql($changed), '0', 'keeps every version');

# citus_add_local_table_to_metadata() keeps them
coord_sql(q{
CREATE TABLE loc (id int PRIMARY KEY, name text);
SELECT rowversion.enable('loc');
INSERT INTO loc SELECT g, 'l' FROM generate_series(1, 6) g;
CREATE TABLE loc_before AS SELECT id, row_version FROM loc;
SELECT citus_add_local_table_to_metadata('loc');
});
is(coord_sql(q{SELECT count(*) FROM loc JOIN loc_before USING (id)
  WHERE loc.row_version IS DISTINCT FROM loc_before.row_version}), '0',
	'citus_add_local_table_to_metadata() keeps every version');

# create_reference_table() of a counter-mode table: every copy as before
coord_sql(q{
CREATE TABLE ref (id int PRIMARY KEY, name text);
SELECT rowversion.enable('ref', mode => 'counter');
INSERT INTO ref SELECT g, 'r' FROM generate_series(1, 6) g;
UPDATE ref SET name = 's' WHERE id < 4;
UPDATE ref SET name = 't' WHERE id < 2;
});
my $before = coord_sql(q{SELECT string_agg(id || ':' || row_version, ',' ORDER BY id) FROM ref});
is(outcome(q{BEGIN;
SET LOCAL citus.enable_unsafe_triggers = on;
SELECT create_reference_table('ref');
COMMIT;}), 'ok', 'create_reference_table() of a counter-mode table');
is(coord_sql(q{SELECT string_agg(DISTINCT result, ' | ') FROM run_command_on_all_nodes(
  $$SELECT string_agg(id || ':' || row_version, ',' ORDER BY id) FROM ref$$)}),
	$before, 'every copy keeps every version');

# ---- watermark() across the nodes ----
coord_sql(q{
CREATE TABLE docs (id int PRIMARY KEY, body text);
SELECT create_distributed_table('docs', 'id');
SELECT rowversion.enable('docs');
INSERT INTO docs SELECT g, 'd' FROM generate_series(1, 40) g;
});
is(coord_sql(q{SELECT count(DISTINCT nodeport) FROM citus_shards
  WHERE table_name = 'docs'::regclass}), '2', 'docs has shards on both workers');

# One worker far ahead of the coordinator, the other far behind it.
burn_xids($workers[0], 6000);
# (the coordinator's own: what watermark() gives a connection that
# run_command_on_all_nodes() opened, and what it was before)
my $old = coord_sql(q{SET application_name = 'citus_run_command gpid=1';
SELECT rowversion.watermark()});
my $mark = coord_sql('SELECT rowversion.watermark()');
cmp_ok($mark, '<=', $old, 'watermark() is not above the coordinator\'s own');
coord_sql(q{UPDATE docs SET body = 'changed'});
is(coord_sql(qq{SELECT count(*) FROM docs WHERE body = 'changed' AND row_version < $mark}),
	'0', 'a sync from watermark() finds every change, on both workers');
# negative control: what watermark() was, the coordinator's own, misses some
cmp_ok(coord_sql(qq{SELECT count(*) FROM docs WHERE row_version < $old}), '>', 0,
	'the per-node watermark misses changes on the worker behind it');

# an unprivileged role gets one too (Citus connects as that role)
coord_sql(q{CREATE ROLE syncer LOGIN; GRANT SELECT ON docs TO syncer});
my $rmark = $coord->safe_psql('postgres', 'SELECT rowversion.watermark()',
	extra_params => [ '-U', 'syncer' ]);
cmp_ok($rmark, '>=', $mark, 'a role without privileges takes the watermark');

# refused in a REPEATABLE READ transaction, whose snapshots on the workers
# may be older than their watermarks now
is(outcome(q{BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM docs;
SELECT rowversion.watermark(); COMMIT}), '0A000',
	'watermark() in a REPEATABLE READ transaction is refused');

# refused inside a query that Citus runs on a worker
is(outcome(q{SELECT rowversion.watermark() FROM docs WHERE id = 1}), '0A000',
	'watermark() inside a query on a distributed table is refused');
like(message_of(q{SELECT rowversion.watermark() FROM docs WHERE id = 1}),
	qr/cannot run inside a query that Citus runs on a worker/, 'with a message that says so');

# a node that does not answer: a clear error, not a partial watermark
$workers[1]->stop;
is(outcome(q{SELECT rowversion.watermark()}), '08006',
	'watermark() fails when a worker is down');
like(message_of(q{SELECT rowversion.watermark()}),
	qr/could not take the watermark of Citus node 127\.0\.0\.1:\d+/, 'naming the node');
$workers[1]->start;
cmp_ok(coord_sql('SELECT rowversion.watermark()'), '>=', $mark,
	'and works again once it is back');

# A role that may only insert, passing for a Citus connection by its
# application_name, gets a partition made in its transaction (by the
# owner's function) and inserts a version of its choosing: not kept.
coord_sql(q{
CREATE TABLE ev (id int, y int, PRIMARY KEY (id, y)) PARTITION BY RANGE (y);
CREATE TABLE ev_2025 PARTITION OF ev FOR VALUES FROM (2025) TO (2026);
SELECT rowversion.enable('ev');
CREATE FUNCTION ensure_part(y int) RETURNS void SECURITY DEFINER LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE TABLE IF NOT EXISTS public.ev_%s PARTITION OF public.ev FOR VALUES FROM (%s) TO (%s)', y, y, y + 1);
END $$;
CREATE ROLE ins LOGIN;
GRANT INSERT, SELECT ON ev TO ins;
GRANT EXECUTE ON FUNCTION ensure_part(int) TO ins;
});
$coord->safe_psql('postgres', q{SET application_name = 'citus_internal gpid=1';
BEGIN; SELECT ensure_part(2026); INSERT INTO ev VALUES (1, 2026, 3); COMMIT},
	extra_params => [ '-U', 'ins' ]);
cmp_ok(coord_sql(q{SELECT row_version FROM ev WHERE id = 1}), '>', 3,
	'a version written into a new partition of an existing table is not kept');

stop_cluster();
done_testing();
