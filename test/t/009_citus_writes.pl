# Citus: conditional writes of every column type, and calls fed from a query
# that Citus pushes down to a worker.
#
# conditional_update() and conditional_write() of arrays, composites, arrays
# of composites, composites holding arrays, varchar(n)[] typmods, domains
# over arrays (with a CHECK, with NOT NULL) and NOT NULL columns behave on a
# distributed, a reference and a Citus local table exactly as on a plain
# table of the same server: the same result, the same row afterwards, the
# same SQLSTATE for what the type refuses.
#
# A call inside a query that Citus runs on a worker (a SELECT of a
# distributed table that calls it for the rows it reads) is refused with
# 0A000 and a HINT, and changes nothing; the recipe the HINT gives, a
# PL/pgSQL loop over the rows read, works.
#
# Runs when the server has Citus; says "not tested: Citus is not installed"
# otherwise.  Negative controls: the comparison with the plain table sees a
# different row, and the "changed nothing" check sees the loop's change.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RvCitus;

skip_without_citus();
my ($coord, @workers) = citus_cluster();

# What SQL gives on the coordinator: its output, or ERROR and its SQLSTATE.
sub result_of
{
	my ($sql) = @_;
	my ($rc, $out, $err) = $coord->psql('postgres', "\\set VERBOSITY sqlstate\n$sql");
	return $out if $rc == 0;
	return $err =~ /ERROR:\s+([0-9A-Z]{5})\s*$/m ? "ERROR $1" : "failed: $err";
}

# SQL's whole error report on the coordinator (message, DETAIL, HINT).
sub report_of
{
	my ($sql) = @_;
	my ($rc, $out, $err) = $coord->psql('postgres', "\\set VERBOSITY verbose\n$sql");
	return $rc == 0 ? 'no error' : $err;
}

# The same table four times: plain, hash-distributed, reference and Citus
# local, each with 100 rows at version 1 (counter mode).
coord_sql(q{
CREATE TYPE address AS (street text, zip int);
CREATE TYPE labelled AS (label text, tags varchar(2)[]);
CREATE DOMAIN short_tags AS varchar(3)[] CHECK (cardinality(VALUE) <= 2);
CREATE DOMAIN req_tags AS text[] NOT NULL DEFAULT '{}';
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['plain', 'dist', 'ref', 'loc'] LOOP
    EXECUTE format($f$CREATE TABLE %I (id int PRIMARY KEY, name text, tags text[],
      codes varchar(3)[], addr address, addrs address[], st short_tags, rt req_tags,
      req text[] NOT NULL DEFAULT '{}', lab labelled)$f$, t);
  END LOOP;
END $$;
SELECT create_distributed_table('dist', 'id');
SELECT create_reference_table('ref');
SELECT citus_add_local_table_to_metadata('loc');
SELECT rowversion.enable(t, mode => 'counter') FROM unnest('{plain,dist,ref,loc}'::regclass[]) t;
INSERT INTO plain (id) SELECT generate_series(1, 100);
INSERT INTO dist (id) SELECT generate_series(1, 100);
INSERT INTO ref (id) SELECT generate_series(1, 100);
INSERT INTO loc (id) SELECT generate_series(1, 100);
});

# Changes, each written to a row of its own, and what the plain table
# gives for it (the call's result, or the SQLSTATE of its error).
my @probes = (
	[ '{"tags": ["b", "c"]}', '2' ],
	[ '{"codes": ["ab", "cde"]}', '2' ],
	[ '{"codes": ["abcd"]}', 'ERROR 22001' ],	# varchar(3)[] typmod
	[ '{"addr": {"street": "Main", "zip": 12345}}', '2' ],
	[ '{"addrs": [{"street": "A", "zip": 1}, {"street": "B"}]}', '2' ],
	[ '{"lab": {"label": "l", "tags": ["ab"]}}', '2' ],
	[ '{"lab": {"label": "l", "tags": ["abc"]}}', 'ERROR 22001' ],	# typmod in a composite
	[ '{"st": ["x", "y"]}', '2' ],
	[ '{"st": ["x", "y", "z"]}', 'ERROR 23514' ],	# the domain's CHECK
	[ '{"st": null}', '2' ],
	[ '{"rt": null}', 'ERROR 23502' ],	# a NOT NULL domain
	[ '{"rt": ["r"]}', '2' ],
	[ '{"req": null}', 'ERROR 23502' ],	# a NOT NULL column
	[ '{"addr": {"zip": "x"}}', 'ERROR 22P02' ],
	[ '{"tags": "nope"}', 'ERROR 22P02' ],
	[ '{"name": "n", "tags": ["m"], "addr": null, "addrs": [], "rt": []}', '2' ],
);

# conditional_update: row $i for probe $i, conditional_write: row 50 + $i.
my $row = q{SELECT row(t.*)::text FROM %s t WHERE id = %d};
for my $i (0 .. $#probes)
{
	my ($changes, $expected) = @{ $probes[$i] };
	my $id = $i + 1;
	my %got;
	for my $t (qw(plain dist ref loc))
	{
		$got{$t} = result_of(
			"SELECT rowversion.conditional_update('$t', $id, 1, '$changes')") . ' | '
		  . coord_sql(sprintf($row, $t, $id));
		my $w = 50 + $id;
		$got{"w$t"} = result_of(
			"SELECT status || ':' || coalesce(version::text, '') FROM rowversion.conditional_write('$t', "
			  . "jsonb_build_array(jsonb_build_object('key', $w, 'version', 1, 'changes', '$changes'::jsonb)))")
		  . ' | ' . coord_sql(sprintf($row, $t, $w));
	}
	like($got{plain}, qr/^\Q$expected\E \|/, "plain table: $changes gives $expected");
	for my $t (qw(dist ref loc))
	{
		is($got{$t}, $got{plain},
			"conditional_update($t) of $changes: as on the plain table");
		is($got{"w$t"}, $got{wplain},
			"conditional_write($t) of $changes: as on the plain table");
	}
}

# negative control: the comparison sees a row written differently
result_of(q{SELECT rowversion.conditional_update('dist', 100, 1, '{"name": "d"}')});
result_of(q{SELECT rowversion.conditional_update('plain', 100, 1, '{"name": "p"}')});
isnt(coord_sql(sprintf($row, 'dist', 100)), coord_sql(sprintf($row, 'plain', 100)),
	'negative control: the comparison sees a different row');

# A composite type altered between two calls of one session (whose
# statement for the column is cached) is read as it is now.
is(coord_sql(q{
SELECT rowversion.conditional_update('plain', 90, 1, '{"addr": {"street": "S", "zip": 1}}');
ALTER TYPE address RENAME ATTRIBUTE street TO road;
SELECT rowversion.conditional_update('plain', 90, 2, '{"addr": {"road": "R", "zip": 2}}');
SELECT addr FROM plain WHERE id = 90;
ALTER TYPE address RENAME ATTRIBUTE road TO street;
}), "2\n3\n(R,2)", 'a composite type renamed between calls is read as it is now');

# Calls in a query that Citus runs on a worker: refused, and nothing changes.
my $before = coord_sql(
	q{SELECT string_agg(row(t.*)::text, ',' ORDER BY id) FROM dist t WHERE id IN (40, 41)});
my %pushed = (
	'conditional_update, one shard' =>
	  q{SELECT rowversion.conditional_update('dist', s.id, s.row_version, '{"name": "pushed"}') FROM dist s WHERE s.id = 40},
	'conditional_update, two shards' =>
	  q{SELECT rowversion.conditional_update('dist', s.id, s.row_version, '{"name": "pushed"}') FROM dist s WHERE s.id IN (40, 41)},
	'conditional_delete' =>
	  q{SELECT rowversion.conditional_delete('dist', s.id, s.row_version) FROM dist s WHERE s.id = 40},
	'conditional_write' =>
	  q{SELECT (rowversion.conditional_write('dist', jsonb_build_array(jsonb_build_object('key', s.id, 'version', s.row_version, 'changes', '{"name": "pushed"}'::jsonb)))).status FROM dist s WHERE s.id = 40},
	'conditional_update of the reference table' =>
	  q{SELECT rowversion.conditional_update('ref', s.id, 1, '{"name": "pushed"}') FROM dist s WHERE s.id = 41},
	'conditional_update of the Citus local table' =>
	  q{SELECT rowversion.conditional_update('loc', s.id, 1, '{"name": "pushed"}') FROM dist s WHERE s.id = 41},
);
for my $what (sort keys %pushed)
{
	is(result_of($pushed{$what}), 'ERROR 0A000', "$what in a pushed-down query is 0A000");
}
my ($fn) = $pushed{'conditional_delete'} =~ /rowversion\.(\w+)/;
is(message_of($pushed{'conditional_delete'}),
	"$fn() cannot run inside a query that Citus runs on a worker",
	'the message names the function');
my $report = report_of($pushed{'conditional_update, one shard'});
like($report, qr/DETAIL:.*table "dist"/, 'DETAIL names the table');
like($report, qr/HINT:.*PL\/pgSQL loop/, 'HINT gives the PL/pgSQL loop');
like(report_of($pushed{'conditional_update of the Citus local table'}),
	qr/DETAIL:.*table "loc"/, "Citus's own refusal is reported the same way");
is(coord_sql(
	q{SELECT string_agg(row(t.*)::text, ',' ORDER BY id) FROM dist t WHERE id IN (40, 41)}),
	$before, 'the refused calls changed nothing');
is(coord_sql(q{SELECT count(*) FROM ref WHERE name = 'pushed'}) . ','
	  . coord_sql(q{SELECT count(*) FROM loc WHERE name = 'pushed'}),
	'0,0', 'nor the reference and Citus local tables');

# The HINT's recipe: a PL/pgSQL loop over the rows read, by one shard and by two.
is(result_of(q{
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT id, row_version FROM dist WHERE id IN (40, 41) LOOP
    PERFORM rowversion.conditional_update('dist', r.id, r.row_version,
                                          '{"tags": ["looped"], "addr": {"street": "L"}}');
  END LOOP;
  FOR r IN SELECT id, row_version FROM dist WHERE id = 42 LOOP
    PERFORM rowversion.conditional_update('dist', r.id, r.row_version, '{"tags": ["looped"]}');
  END LOOP;
END $$}), '', 'the PL/pgSQL loop runs');
is(coord_sql(
	q{SELECT string_agg(id || ':' || tags::text || ':' || row_version, ',' ORDER BY id) FROM dist WHERE id IN (40, 41, 42)}),
	'40:{looped}:2,41:{looped}:2,42:{looped}:2', 'and writes every row it read');
# negative control: the "changed nothing" check sees the loop's change
isnt(coord_sql(
	q{SELECT string_agg(row(t.*)::text, ',' ORDER BY id) FROM dist t WHERE id IN (40, 41)}),
	$before, 'negative control: the unchanged-rows check sees a change');

stop_cluster();
done_testing();
