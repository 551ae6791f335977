# Hostile input: thousands of conditional_update(), conditional_delete()
# and conditional_write() calls with random arguments -- enabled and other
# tables, views, NULL,
# keys of every shape and type (wrong, missing, extra, huge, nested),
# versions (current, stale, negative, huge, NULL), changes (every column
# type, wrong types, unknown and forbidden columns, huge and deep jsonb) --
# in random contexts (another role, replica role, postgrest style) and with
# DDL in between; batches of items (good, stale, missing, deleting,
# duplicated keys such as 1 and "1", malformed items and versions, deep
# JSON, thousands of items, atomic or not).  Every call runs in its own
# subtransaction and its outcome is logged.  Passes when no call raised an
# internal error (SQLSTATE class XX), the server never crashed, and every
# row whose checksum changed was the target of a call that succeeded --
# for a batch, named by an item it reports updated or deleted; a batch
# also fails the check when an item it reports written left its row alone
# or one it reports not written changed it, or an atomic batch wrote some
# items and not others.
#
# The seed is printed; RV_FUZZ_SEED=<seed> repeats a run, RV_FUZZ_CALLS sets
# its length.  Negative control: a helper that raises XX000, an UPDATE
# nobody called and batch statuses that lie, run through the same logging,
# must all be reported.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RvTest;

my $calls = knob('RV_FUZZ_CALLS', 2000, 30000);
my $seed = $ENV{RV_FUZZ_SEED} || (time() ^ ($$ << 8)) % 1000000007;
srand($seed);
diag "fuzz: seed $seed, $calls calls (repeat with RV_FUZZ_SEED=$seed RV_FUZZ_CALLS=$calls)";
my $work = PostgreSQL::Test::Utils::tempdir;
my $nrows = 20;

my $node = new_node('hostile');
$node->safe_psql('postgres', 'CREATE DATABASE fuzz');
$node->safe_psql('fuzz', <<"SQL");
CREATE EXTENSION rowversion;
CREATE SCHEMA fz;
CREATE TYPE fz.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE fz.pair AS (a int, b text);
CREATE DOMAIN fz.posint AS int CHECK (VALUE > 0);
CREATE TABLE fz.t_int (id int PRIMARY KEY, n int, s text, j jsonb, js json, arr int[],
	p fz.pair, m fz.mood, d fz.posint, ts timestamptz, b bytea, nm numeric(6,2),
	vc varchar(5), g int GENERATED ALWAYS AS (n * 2) STORED,
	ident int GENERATED ALWAYS AS IDENTITY);
CREATE TABLE fz.t_text (id text PRIMARY KEY, n int, s text);
CREATE TABLE fz.t_uuid (id uuid PRIMARY KEY, n int);
CREATE TABLE fz.t_comp (a int, b text, n int, PRIMARY KEY (a, b));
CREATE TABLE fz.t_counter (id bigint PRIMARY KEY, n int, v smallint);
CREATE TABLE fz.t_req (id int PRIMARY KEY, n int, hits int);
CREATE TABLE fz.t_part (id int, k int, n int, PRIMARY KEY (id, k)) PARTITION BY LIST (k);
CREATE TABLE fz.t_part_1 PARTITION OF fz.t_part FOR VALUES IN (1);
CREATE TABLE fz.t_part_2 PARTITION OF fz.t_part FOR VALUES IN (2);
CREATE TABLE fz.t_num (id numeric PRIMARY KEY, n int);
CREATE TABLE fz.t_ts (id timestamptz PRIMARY KEY, n int);
CREATE TABLE fz.t_weird ("we""ird col" int PRIMARY KEY, "ü n" text);
CREATE TABLE fz.t_plain (id int PRIMARY KEY, n int);
CREATE TABLE fz.t_nopk (id int, n int);
CREATE TABLE fz.t_disabled (id int PRIMARY KEY, n int);
CREATE TABLE fz.t_rule (id int PRIMARY KEY, n int);
INSERT INTO fz.t_int (id, n, s) SELECT g, g, 's' || g FROM generate_series(1, $nrows) g;
INSERT INTO fz.t_text SELECT 'k' || g, g, 's' FROM generate_series(1, $nrows) g;
INSERT INTO fz.t_uuid SELECT lpad(g::text, 32, '0')::uuid, g FROM generate_series(1, $nrows) g;
INSERT INTO fz.t_comp SELECT g, 'b' || g, g FROM generate_series(1, $nrows) g;
INSERT INTO fz.t_counter SELECT g, g, 1 FROM generate_series(1, $nrows) g;
INSERT INTO fz.t_req SELECT g, g, 0 FROM generate_series(1, $nrows) g;
INSERT INTO fz.t_part SELECT g, 1 + g % 2, g FROM generate_series(1, $nrows) g;
INSERT INTO fz.t_num SELECT g, g FROM generate_series(1, $nrows) g;
INSERT INTO fz.t_ts SELECT timestamptz '2020-01-01 00:00+00' + g * interval '1 day', g
	FROM generate_series(1, $nrows) g;
INSERT INTO fz.t_weird SELECT g, 'w' FROM generate_series(1, $nrows) g;
INSERT INTO fz.t_plain SELECT g, g FROM generate_series(1, $nrows) g;
INSERT INTO fz.t_nopk SELECT g, g FROM generate_series(1, $nrows) g;
INSERT INTO fz.t_disabled SELECT g, g FROM generate_series(1, $nrows) g;
INSERT INTO fz.t_rule SELECT g, g FROM generate_series(1, $nrows) g;
SELECT rowversion.enable(t) FROM unnest('{fz.t_int,fz.t_text,fz.t_uuid,fz.t_comp,fz.t_part,
	fz.t_num,fz.t_ts,fz.t_weird,fz.t_nopk,fz.t_disabled,fz.t_rule}'::regclass[]) t;
SELECT rowversion.enable('fz.t_counter', version_column => 'v', mode => 'counter');
SELECT rowversion.enable('fz.t_req', require_version => true, ignore_columns => '{hits}');
ALTER TABLE fz.t_disabled DISABLE TRIGGER zz_rowversion;
CREATE RULE r AS ON UPDATE TO fz.t_rule DO ALSO NOTIFY fz;
CREATE VIEW fz.v_int AS SELECT * FROM fz.t_int;
CREATE MATERIALIZED VIEW fz.mv AS SELECT 1 AS id;
CREATE SEQUENCE fz.seq;
CREATE ROLE fz_reader;
GRANT USAGE ON SCHEMA fz TO fz_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA fz TO fz_reader;
GRANT UPDATE (n) ON fz.t_int TO fz_reader;

-- How each table's rows are named and summed: the key's text, and a
-- checksum of the columns the fuzz started with
CREATE TABLE fz.shape (tbl text PRIMARY KEY, pk text, sum text);
INSERT INTO fz.shape VALUES
	('t_int', 'id::text', 'md5(row(id, n, s, j, js, arr, p, m, d, ts, b, nm, vc, g, ident, row_version)::text)'),
	('t_text', 'id', 'md5(t::text)'), ('t_uuid', 'id::text', 'md5(t::text)'),
	('t_comp', 'a || '':'' || b', 'md5(t::text)'), ('t_counter', 'id::text', 'md5(t::text)'),
	('t_req', 'id::text', 'md5(row(id, n, row_version)::text)'),
	('t_part', 'id || '':'' || k', 'md5(t::text)'), ('t_num', 'id::text', 'md5(t::text)'),
	('t_ts', 'extract(day FROM id AT TIME ZONE ''UTC'')::int::text', 'md5(t::text)'),
	('t_weird', '"we""ird col"::text', 'md5(t::text)'), ('t_plain', 'id::text', 'md5(t::text)'),
	('t_nopk', 'id::text', 'md5(t::text)'), ('t_disabled', 'id::text', 'md5(t::text)'),
	('t_rule', 'id::text', 'md5(t::text)');

-- the rows of one table (of all when NULL): table, key, checksum
CREATE FUNCTION fz.rows(one text DEFAULT NULL) RETURNS TABLE (tbl text, pk text, sum text)
LANGUAGE plpgsql AS \$\$
DECLARE s record;
BEGIN
	FOR s IN SELECT * FROM fz.shape WHERE one IS NULL OR shape.tbl = one LOOP
		RETURN QUERY EXECUTE format('SELECT %L::text, %s, %s FROM fz.%I t', s.tbl, s.pk, s.sum, s.tbl);
	END LOOP;
END \$\$;

-- one call: run it in a subtransaction and log what happened, with the
-- rows ("table/key") of the table it names whose checksum it changed
-- A conditional_write() batch also logs the key text of each item (NULL
-- where the generator cannot name the row) in pks, whether it was atomic,
-- and its statuses (the result: one per item, comma-separated).
CREATE TABLE fz.log (i int PRIMARY KEY, tbl text, pk text, moves boolean, outcome text,
	sqlstate text, message text, result text, changed text[], ms numeric,
	pks text[], atomic boolean);
CREATE FUNCTION fz.call(i int, tbl text, pk text, moves boolean, pre text, q text,
	pks text[] DEFAULT NULL, atomic boolean DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS \$\$
DECLARE r text; st text; msg text; before text[]; changed text[]; t0 timestamptz := clock_timestamp();
BEGIN
	SELECT array_agg(f.tbl || '/' || f.pk || '/' || f.sum) INTO before
	FROM fz.rows(coalesce(tbl, '-')) f;
	BEGIN
		IF pre IS NOT NULL THEN EXECUTE pre; END IF;
		IF q ~* '^(SELECT|WITH)' THEN EXECUTE q INTO r; ELSE EXECUTE q; END IF;
		IF pre IS NOT NULL THEN RESET ROLE; RESET session_replication_role; END IF;
		WITH after AS (SELECT f.tbl || '/' || f.pk || '/' || f.sum AS x
		               FROM fz.rows(coalesce(tbl, '-')) f)
		SELECT array_agg(DISTINCT split_part(d.x, '/', 1) || '/' || split_part(d.x, '/', 2))
		INTO changed
		FROM ((SELECT unnest(before) EXCEPT SELECT x FROM after)
		      UNION (SELECT x FROM after EXCEPT SELECT unnest(before))) d(x);
		INSERT INTO fz.log VALUES (i, tbl, pk, moves, 'ok', NULL, NULL, r, coalesce(changed, '{}'),
		                           extract(epoch FROM clock_timestamp() - t0) * 1000, pks, atomic);
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
		INSERT INTO fz.log VALUES (i, tbl, pk, moves, 'error', st, left(msg, 200), NULL, '{}',
		                           extract(epoch FROM clock_timestamp() - t0) * 1000, pks, atomic);
	END;
END \$\$;

-- The checker, over the calls from first_i on and a snapshot taken before
-- them: internal errors; calls that changed more than their row (two when
-- they change its key), or a row of another key than the one they named;
-- and rows changed, gone or new that no call that succeeded changed.
CREATE FUNCTION fz.check(first_i int, snap regclass)
RETURNS TABLE (internal_errors bigint, unexplained bigint) LANGUAGE plpgsql AS \$\$
BEGIN
	RETURN QUERY EXECUTE format(\$q\$
		SELECT (SELECT count(*) FROM fz.log WHERE i >= \$1 AND sqlstate LIKE 'XX%%'),
		       (SELECT count(*) FROM fz.log l
		        WHERE l.i >= \$1 AND l.pks IS NOT NULL AND fz.batch_wrong(l))
		       + (SELECT count(*) FROM fz.log l
		        WHERE l.i >= \$1 AND l.pks IS NULL AND cardinality(l.changed) > 0
		          AND (l.tbl IS NULL
		               OR cardinality(l.changed) > CASE WHEN l.moves THEN 2 ELSE 1 END
		               OR (l.pk IS NOT NULL AND NOT (l.tbl || '/' || l.pk) = ANY (l.changed))))
		       + (SELECT count(*)
		          FROM %s b FULL JOIN fz.rows() a USING (tbl, pk)
		          WHERE a.sum IS DISTINCT FROM b.sum
		            AND NOT EXISTS (SELECT 1 FROM fz.log l
		                            WHERE l.i >= \$1
		                              AND coalesce(a.tbl, b.tbl) || '/' || coalesce(a.pk, b.pk)
		                                  = ANY (l.changed)))\$q\$, snap)
	USING first_i;
END \$\$;
-- Whether a conditional_write() call's outcome is wrong: a failed call
-- changed rows; a result without one status per item; a row changed that
-- no item written (updated or deleted) names, past one per written item
-- whose row the generator cannot name or that may move its row; an item
-- reported written whose row did not change, or one reported not written
-- whose row changed (when no item moves a row and no other item names the
-- row); an atomic call that wrote some items and not others, or that
-- reports not_written without a failing item; a non-atomic one that
-- reports not_written.
CREATE FUNCTION fz.batch_wrong(l fz.log) RETURNS boolean LANGUAGE plpgsql AS \$\$
DECLARE st text[]; allowed text[] := '{}'; extra int := 0; k int; n int;
BEGIN
	IF l.outcome <> 'ok' THEN RETURN cardinality(l.changed) > 0; END IF;
	st := CASE WHEN l.result = '' THEN '{}'::text[] ELSE string_to_array(l.result, ',') END;
	IF cardinality(st) <> cardinality(l.pks) THEN RETURN true; END IF;
	FOR k IN 1 .. cardinality(st) LOOP
		IF st[k] NOT IN ('updated', 'deleted', 'conflict', 'not_found', 'not_written') THEN
			RETURN true;
		END IF;
		IF st[k] IN ('updated', 'deleted') THEN
			IF l.pks[k] IS NULL OR (l.moves AND st[k] = 'updated') THEN
				extra := extra + 1;
			END IF;
			IF l.pks[k] IS NOT NULL THEN allowed := allowed || (l.tbl || '/' || l.pks[k]); END IF;
		END IF;
		IF NOT l.moves AND l.pks[k] IS NOT NULL
		   AND (SELECT count(*) FROM unnest(l.pks) p WHERE p = l.pks[k]) = 1
		   AND (st[k] IN ('updated', 'deleted'))
		       <> ((l.tbl || '/' || l.pks[k]) = ANY (l.changed)) THEN
			RETURN true;
		END IF;
	END LOOP;
	SELECT count(*) INTO n FROM unnest(l.changed) c WHERE NOT c = ANY (allowed);
	IF n > extra THEN RETURN true; END IF;
	IF l.atomic IS DISTINCT FROM false THEN
		IF 'updated' = ANY (st) OR 'deleted' = ANY (st) THEN
			RETURN EXISTS (SELECT 1 FROM unnest(st) s WHERE s NOT IN ('updated', 'deleted'));
		END IF;
		RETURN cardinality(l.changed) > 0
		    OR ('not_written' = ANY (st) AND NOT ('conflict' = ANY (st) OR 'not_found' = ANY (st)));
	END IF;
	RETURN 'not_written' = ANY (st);
END \$\$;
CREATE FUNCTION fz.raise_internal() RETURNS text LANGUAGE plpgsql AS \$\$
BEGIN
	RAISE EXCEPTION 'deliberate internal error' USING ERRCODE = 'XX000';
END \$\$;
CREATE TABLE fz.snap_before AS SELECT * FROM fz.rows();
SQL

# --- the generator -----------------------------------------------------
sub pick { return $_[ int(rand(@_)) ]; }
sub lit { my $s = shift; $s =~ s/'/''/g; return "'$s'"; }

# per table: how to name a row's key in SQL, several ways; the key's text
# as fz.rows() shows it; the version column; the row's condition
my %tables = (
	t_int => { ins => sub { "INSERT INTO fz.t_int (id, n, s) VALUES ($_[0], $_[0], 's') ON CONFLICT DO NOTHING" },
		keys => sub { my $k = shift;
			pick("$k", "${k}::bigint", "${k}::smallint", "'$k'", "'$k'::text", "'$k'::jsonb",
				 "'{\"id\": $k}'::jsonb", "'{\"id\": \"$k\"}'::jsonb", "${k}::numeric",
				 "'$k'::varchar", "$k.0", "to_jsonb($k)", "${k}::oid", "'$k'::name") },
		cond => sub { "id = $_[0]" }, pk => sub { $_[0] } },
	t_text => { ins => sub { "INSERT INTO fz.t_text VALUES ('k$_[0]', $_[0], 's') ON CONFLICT DO NOTHING" },
		keys => sub { my $k = shift;
			pick("'k$k'", "'k$k'::text", "'{\"id\": \"k$k\"}'::jsonb", "'\"k$k\"'::jsonb",
				 "'k$k'::varchar", "'k$k'::name", "'k$k'::char(3)", "'{\"id\": \"k$k\", \"x\": 1}'::jsonb") },
		cond => sub { "id = 'k$_[0]'" }, pk => sub { "k$_[0]" } },
	t_uuid => { ins => sub { sprintf("INSERT INTO fz.t_uuid VALUES ('00000000-0000-0000-0000-%012d', 1) ON CONFLICT DO NOTHING", $_[0]) },
		keys => sub { my $u = sprintf('00000000-0000-0000-0000-%012d', shift);
			pick("'$u'", "'$u'::uuid", "'{\"id\": \"$u\"}'::jsonb", "upper('$u')",
				 "replace('$u', '-', '')", "'{$u}'") },
		cond => sub { sprintf("id = '00000000-0000-0000-0000-%012d'", $_[0]) },
		pk => sub { sprintf('00000000-0000-0000-0000-%012d', $_[0]) } },
	t_comp => { ins => sub { "INSERT INTO fz.t_comp VALUES ($_[0], 'b$_[0]', 1) ON CONFLICT DO NOTHING" },
		keys => sub { my $k = shift;
			pick("'{\"a\": $k, \"b\": \"b$k\"}'::jsonb", "jsonb_build_object('b', 'b$k', 'a', $k)",
				 "'{\"a\": \"$k\", \"b\": \"b$k\"}'::jsonb", "$k", "ROW($k, 'b$k')",
				 "'{\"a\": $k}'::jsonb", "'{\"a\": $k, \"b\": \"b$k\", \"c\": 1}'::jsonb",
				 "'{\"a\": $k, \"b\": [\"b$k\"]}'::jsonb") },
		cond => sub { "a = $_[0] AND b = 'b$_[0]'" }, pk => sub { "$_[0]:b$_[0]" } },
	t_counter => { ins => sub { "INSERT INTO fz.t_counter VALUES ($_[0], 1, 1) ON CONFLICT DO NOTHING" },
		vcol => 'v', keys => sub { my $k = shift;
			pick("$k", "'$k'", "${k}::bigint", "'{\"id\": $k}'::jsonb", "'9223372036854775807'") },
		cond => sub { "id = $_[0]" }, pk => sub { $_[0] } },
	t_req => { ins => sub { "INSERT INTO fz.t_req VALUES ($_[0], 1, 0) ON CONFLICT DO NOTHING" },
		keys => sub { my $k = shift; pick("$k", "'$k'", "'{\"id\": $k}'::jsonb") },
		cond => sub { "id = $_[0]" }, pk => sub { $_[0] } },
	t_part => { ins => sub { "INSERT INTO fz.t_part VALUES ($_[0], 1 + $_[0] % 2, 1) ON CONFLICT DO NOTHING" },
		keys => sub { my $k = shift; my $p = 1 + $k % 2;
			pick("'{\"id\": $k, \"k\": $p}'::jsonb", "'{\"id\": $k, \"k\": 3}'::jsonb", "$k",
				 "jsonb_build_object('k', $p, 'id', ${k}::text)") },
		cond => sub { "id = $_[0]" }, pk => sub { "$_[0]:" . (1 + $_[0] % 2) } },
	t_num => { ins => sub { "INSERT INTO fz.t_num VALUES ($_[0], 1) ON CONFLICT DO NOTHING" },
		keys => sub { my $k = shift;
			pick("$k", "$k.0", "$k.000001", "'$k'", "${k}::float8", "'{\"id\": $k}'::jsonb",
				 "'{\"id\": $k.0}'::jsonb", "'NaN'::numeric", "'Infinity'::float8") },
		cond => sub { "id = $_[0]" }, pk => sub { $_[0] } },
	t_ts => { ins => sub { sprintf("INSERT INTO fz.t_ts VALUES ('2020-01-%02dT00:00:00Z', 1) ON CONFLICT DO NOTHING", 1 + $_[0]) },
		keys => sub { my $k = sprintf('2020-01-%02dT00:00:00Z', 1 + shift);
			pick("'$k'", "'$k'::timestamptz", "'$k'::timestamp", "'{\"id\": \"$k\"}'::jsonb",
				 "'$k'::date", "'infinity'::timestamptz") },
		cond => sub { sprintf("id = '2020-01-%02dT00:00:00Z'", 1 + $_[0]) }, pk => sub { 1 + $_[0] } },
	t_weird => { ins => sub { "INSERT INTO fz.t_weird VALUES ($_[0], 'w') ON CONFLICT DO NOTHING" },
		keys => sub { my $k = shift;
			pick("$k", "jsonb_build_object('we\"ird col', $k)", "'{\"we\\\"ird col\": $k}'::jsonb",
				 "'{\"weird col\": $k}'::jsonb") },
		cond => sub { "\"we\"\"ird col\" = $_[0]" }, pk => sub { $_[0] } },
);
# per table, for the huge batches built in SQL over g: the key of row g,
# the condition that finds it, and a change every table takes
my %gkeys = (
	t_int => [ 'g', 'id = g' ], t_text => [ q{'k' || g}, q{id = 'k' || g} ],
	t_uuid => [ q{lpad(g::text, 32, '0')::uuid}, q{id = lpad(g::text, 32, '0')::uuid} ],
	t_comp => [ q{jsonb_build_object('b', 'b' || g, 'a', g)}, q{a = g AND b = 'b' || g} ],
	t_counter => [ 'g', 'id = g' ], t_req => [ 'g', 'id = g' ],
	t_part => [ q{jsonb_build_object('id', g, 'k', 1 + g % 2)}, 'id = g AND k = 1 + g % 2' ],
	t_num => [ 'g', 'id = g' ],
	t_ts => [ q{timestamptz '2020-01-01 00:00+00' + g * interval '1 day'},
		q{id = timestamptz '2020-01-01 00:00+00' + g * interval '1 day'} ],
	t_weird => [ q{jsonb_build_object('we"ird col', g)}, q{"we""ird col" = g} ],
);
# targets that are no enabled table with a key, or no table at all
my @other_targets = ("'fz.t_plain'", "'fz.t_nopk'", "'fz.t_disabled'", "'fz.t_rule'",
	"'fz.v_int'", "'fz.mv'", "'fz.seq'", "'fz.t_part_1'", 'NULL', 'NULL::regclass', '0::regclass',
	"'pg_class'", "'rowversion.tables'", '4294967295::oid::regclass', "'fz.nope'", "''",
	"'pg_toast.pg_toast_1255'", "'\"fz\".\"t_int\"'", "'FZ.T_INT'", "'fz.t_int'::text");
my @garbage_keys = ('NULL', 'NULL::int', 'NULL::jsonb', "'null'::jsonb", "'[]'::jsonb",
	"'{}'::jsonb", "'{\"nope\": 3}'::jsonb", "'{\"id\": {\"x\": [1, 2]}}'::jsonb",
	"'{\"id\": null}'::jsonb", "'{\"id\": 3.5}'::jsonb", "'{\"id\": 1e300}'::jsonb",
	"'{\"id\": 99999999999999999999}'::jsonb", '-1', '0', '2147483648', '9223372036854775807',
	'-9223372036854775808', "'abc'", "repeat('x', 100000)", "repeat('9', 5000)",
	"(repeat('[', 3000) || repeat(']', 3000))::jsonb", "repeat('{\"id\": ', 50) || '1' || repeat('}', 50)",
	'ROW(1, 2)', 'ARRAY[1, 2]', 'true', "'2020-01-01'::date", 'point(1, 2)', "'\\x00'::bytea",
	"(SELECT jsonb_object_agg('k' || g, g) FROM generate_series(1, 2000) g)",
	"'{\"id\": 1, \"id\": 2}'::jsonb", "'{\"ü n\": 1}'::jsonb", "''", "' 3 '", "'3 '", "E'3\\n'",
	"'\\u0000'::text", "'{\"id\": \"\\u0000\"}'", "'{\"a\": 1, \"b\": null}'::jsonb",
	"'NaN'", "'-0'", "1.5", "'1e3'", "(SELECT NULL)", "'\"3\"'", "'[3]'::jsonb",
	"(SELECT jsonb_agg(g) FROM generate_series(1, 10000) g)");
my @garbage_versions = ('NULL', 'NULL::bigint', '-1', '0', '1', '2', '9223372036854775807',
	'-9223372036854775808', "'5'", "'abc'", '1.5', "'1e3'", '2147483648::bigint',
	'(SELECT NULL::bigint)', '(2^62)::bigint', '9223372036854775806', "''");
my @changes = ("'{}'", "'{}'::jsonb", 'NULL', 'NULL::jsonb', "'[]'", "'\"str\"'", "'null'", "'1'",
	"'{\"n\": 5}'", "'{\"n\": \"abc\"}'", "'{\"n\": 1.5}'", "'{\"n\": 99999999999}'",
	"'{\"n\": null}'", "'{\"n\": [1]}'", "'{\"n\": {\"a\": 1}}'", "'{\"n\": true}'", "'{\"n\": \"7\"}'",
	"'{\"nope\": 1}'", "'{\"row_version\": 1}'", "'{\"v\": 3}'", "'{\"g\": 1}'", "'{\"ident\": 1}'",
	"'{\"s\": \"x\"}'", "'{\"j\": {\"deep\": [1, 2, {\"x\": null}]}}'", "'{\"js\": \"[1,\"}'",
	"'{\"js\": {\"a\": 1}}'", "'{\"arr\": [1, 2, \"x\"]}'", "'{\"arr\": [[1], [2]]}'",
	"'{\"arr\": [1, 2, 3]}'", "'{\"arr\": \"{1,2}\"}'", "'{\"p\": {\"a\": 1, \"b\": \"x\"}}'",
	"'{\"p\": {\"a\": \"x\"}}'", "'{\"p\": \"(1,x)\"}'", "'{\"p\": [1, 2]}'", "'{\"m\": \"happy\"}'",
	"'{\"m\": \"nope\"}'", "'{\"d\": -1}'", "'{\"d\": 4}'", "'{\"ts\": \"2020-01-01\"}'",
	"'{\"ts\": \"garbage\"}'", "'{\"b\": \"\\\\\\\\x00ff\"}'", "'{\"b\": 12}'", "'{\"nm\": 12345.678}'",
	"'{\"nm\": 1.005}'", "'{\"vc\": \"toolongvalue\"}'", "'{\"vc\": \"ok\"}'",
	"jsonb_build_object('s', repeat('x', 1000000))", "jsonb_build_object('s', repeat('ü', 1000))",
	"(SELECT jsonb_object_agg('c' || g, g) FROM generate_series(1, 1000) g)",
	"'{\"n\": 1, \"n\": 2}'", "(repeat('[', 3000) || repeat(']', 3000))::jsonb",
	"jsonb_build_object('n', (SELECT jsonb_agg(g) FROM generate_series(1, 1000) g))",
	"'{\"id\": 1}'", "'{\"id\": 2, \"n\": 2}'", "'{\"a\": 2}'", "'{\"k\": 2}'", "'{\"k\": 3}'",
	"'{\"hits\": 7}'", "'{\"hits\": 8, \"n\": 1}'", "'{\"ü n\": \"x\"}'", "'{\"we\\\"ird col\": 4}'",
	"'{\"\": 1}'", "'{\"n\": \"\\u0000\"}'", "'{\"s\": \"\\u0000\"}'", "'not json'");
my @pre = ('SET LOCAL ROLE fz_reader', 'SET LOCAL session_replication_role = replica',
	'SET LOCAL rowversion.sqlstate_style = postgrest', 'SET LOCAL search_path = fz, public',
	'SET LOCAL lock_timeout = 1');
my @ddl = ('ALTER TABLE fz.t_int ADD COLUMN IF NOT EXISTS extra int',
	'ALTER TABLE fz.t_int DROP COLUMN IF EXISTS extra',
	"SELECT rowversion.disable('fz.t_req')::text",
	"SELECT rowversion.enable('fz.t_req', require_version => true, ignore_columns => '{hits}')::text",
	'ALTER TABLE fz.t_text ALTER COLUMN s TYPE varchar(10)', 'ALTER TABLE fz.t_text ALTER COLUMN s TYPE text',
	'ANALYZE fz.t_int', 'DISCARD PLANS');

# Items of conditional_write() batches that are no item: not objects,
# deep, or objects missing or mangling a field
my @bad_items = ("'null'::jsonb", "'1'::jsonb", "'\"x\"'::jsonb", "'[]'::jsonb", "'{}'::jsonb",
	"'[{\"key\": 1, \"version\": 1, \"changes\": {}}]'::jsonb",
	"(repeat('[', 3000) || repeat(']', 3000))::jsonb",
	"(repeat('{\"key\": ', 2000) || '1' || repeat('}', 2000))::jsonb",
	"'{\"key\": 1, \"version\": 1}'::jsonb", "'{\"key\": 1, \"changes\": {}}'::jsonb",
	"'{\"version\": 1, \"delete\": true}'::jsonb", "'{\"key\": null, \"version\": 1, \"delete\": true}'::jsonb",
	"'{\"key\": 1, \"version\": null, \"delete\": true}'::jsonb",
	"'{\"key\": 1, \"version\": 1, \"changes\": {}, \"delete\": true}'::jsonb",
	"'{\"key\": 1, \"version\": 1, \"delete\": false}'::jsonb",
	"'{\"key\": 1, \"version\": 1, \"delete\": \"true\"}'::jsonb",
	"'{\"key\": 1, \"version\": 1, \"delete\": null}'::jsonb",
	"'{\"key\": 1, \"version\": 1, \"chnages\": {}}'::jsonb",
	"'{\"key\": 1, \"version\": 1, \"changes\": []}'::jsonb",
	"'{\"key\": 1, \"version\": 1, \"changes\": null}'::jsonb",
	"'{\"key\": 1, \"version\": 1, \"changes\": \"{}\"}'::jsonb",
	"'{\"key\": 1, \"version\": {\"v\": 1}, \"delete\": true}'::jsonb",
	"'{\"key\": 1, \"version\": [1], \"delete\": true}'::jsonb",
	"'{\"key\": 1, \"version\": true, \"delete\": true}'::jsonb",
	"'{\"key\": 1, \"version\": 1.5, \"delete\": true}'::jsonb",
	"'{\"key\": 1, \"version\": 1e400, \"delete\": true}'::jsonb",
	"'{\"key\": 1, \"version\": \"0x10\", \"delete\": true}'::jsonb",
	"'{\"key\": 1, \"version\": 1, \"delete\": true, \"\": 0}'::jsonb",
	"jsonb_build_object('key', 1, 'version', 1, 'delete', true, 'x' || repeat(chr(233), 40), 1)",
	"jsonb_build_object('key', 1, 'version', (repeat('[', 3000) || repeat(']', 3000))::jsonb, 'delete', true)");
# the argument items when it is no array
my @bad_batches = ("'{}'::jsonb", "'1'::jsonb", "'null'::jsonb", "'\"[]\"'::jsonb", 'NULL', 'NULL::jsonb',
	"'{\"key\": 1, \"version\": 1, \"delete\": true}'::jsonb", "'[]'", "'[[]]'::jsonb", "'[null]'::jsonb");

# A conditional_write() call: a batch of items of one table (good, stale,
# missing, malformed, duplicated keys; now and then thousands of them),
# or a batch that is no array.  Returns what one_call does, with the key
# text of each item (undef where the row cannot be named) and whether it
# is atomic.
sub batch_call
{
	my @names = sort keys %tables;
	my $tbl = pick(@names);
	my $t = $tables{$tbl};
	# (no other name of an enabled table: the keys are $tbl's)
	my $target = rand() < 0.97 ? "'fz.$tbl'" : pick(grep { !/t_int|t_part/i } @other_targets);
	my ($atomic_sql, $atomic) = @{ pick([ '', 1 ], [ '', 1 ], [ ', true', 1 ], [ ', false', 0 ],
		[ ', atomic => false', 0 ], [ ', false', 0 ]) };
	($atomic_sql, $atomic) = (pick(', NULL', ', NULL::boolean'), 1) if rand() < 0.04;
	my $vcol = $t->{vcol} // 'row_version';
	my (@pks, $items);
	my $moves = 0;
	my $r = rand();
	if ($r < 0.03)
	{
		$items = pick(@bad_batches);
	}
	elsif ($r < 0.03 + (brief() ? 0.015 : 0.04))
	{
		# thousands of items, built in SQL: keys 1..n in either order, some
		# stale, some deleted, some touched, some changing n
		my ($gk, $gw) = @{ $gkeys{$tbl} };
		my $n = pick(0, 500, 1000 + int(rand(brief() ? 2000 : 5000)));
		my $stale = pick(1, 2, 7, 1000000);
		my $del = pick(1000000, 3, 2);
		my $chg = $tbl eq 't_weird' ? q{'{}'::jsonb} : pick(q{'{}'::jsonb}, q{jsonb_build_object('n', -g)});
		my $dir = pick('', 'DESC');
		$items = "(SELECT coalesce(jsonb_agg(jsonb_build_object('key', $gk, "
		  . "'version', coalesce((SELECT $vcol FROM fz.$tbl WHERE $gw), 1) - (g % $stale = 0)::int) "
		  . "|| CASE WHEN g % $del = 0 THEN '{\"delete\": true}'::jsonb "
		  . "ELSE jsonb_build_object('changes', $chg) END ORDER BY g $dir), '[]') "
		  . "FROM generate_series(1, $n) g)";
		@pks = map { $_ <= $nrows + 2 ? $t->{pk}->($_) : undef } 1 .. $n;
		@pks = reverse @pks if $dir;
	}
	else
	{
		my $n = pick(0, 1, 1, 2, 2, 3, 4, 5, 8, 12);
		# half the batches are mostly good: keys, versions current or
		# stale, and changes the table takes, so that they reach the write
		my $clean = rand() < 0.5;
		my @parts;
		my @ks;
		for my $j (1 .. $n)
		{
			# now and then the key of an item before: a duplicate
			my $k = @ks && rand() < 0.1 ? pick(@ks) : 1 + int(rand($nrows + 2));
			push @ks, $k;
			my ($key, $pk);
			if ($clean && rand() < 0.7)
			{
				# the key as the huge batches name it
				($key = $gkeys{$tbl}->[0]) =~ s/\bg\b/$k/g;
				$pk = $t->{pk}->($k);
			}
			elsif ($clean || rand() < 0.9)
			{
				$key = $t->{keys}->($k);
				$pk = $t->{pk}->($k);
			}
			else
			{
				$key = pick(@garbage_keys);
			}
			my $cur = "(SELECT $vcol FROM fz.$tbl WHERE " . $t->{cond}->($k) . ')';
			my $ver = pick($cur, $cur, $cur, $cur, "$cur - 1", "$cur + 1", "($cur)::text",
				"($cur)::float8", "($cur)::numeric + 0.5", "-($cur)", pick(@garbage_versions),
				"(repeat('[', 3000) || repeat(']', 3000))::jsonb", "'{}'::jsonb",
				1 + int(rand(1e6)) . '000000000', '1e30', "'18446744073709551616'");
			# (a row that is gone: the version the client read before)
			$cur = "coalesce($cur, 1)" if $clean;
			$ver = pick($cur, $cur, $cur, $cur, "$cur - 1", "$cur + 1", "($cur)::text") if $clean;
			my $item;
			if (!$clean && rand() < 0.06)
			{
				$item = pick(@bad_items);
				$pk = undef;
			}
			elsif (rand() < 0.3)
			{
				$item = "jsonb_build_object('key', $key, 'version', $ver, 'delete', true)";
			}
			else
			{
				my $chg = !$clean ? pick(@changes)
				  : $tbl eq 't_weird' ? pick(q{'{}'}, q{'{"\u00fc n": "x"}'}, q{'{"we\"ird col": 40}'})
				  : pick(q{'{}'}, q{'{"n": 7}'}, q{'{"n": null}'}, q{'{"n": "8"}'},
					$tbl eq 't_int' ? (q{'{"s": "y", "m": "ok", "d": 3}'}, q{'{"id": 40}'}) : ());
				$moves = 1 if $chg =~ /"(id|a|b|k|we.{1,2}ird col)"/;
				$chg = "($chg)::jsonb" if rand() < 0.9;
				$item = "jsonb_build_object('key', $key, 'version', $ver, 'changes', $chg)";
			}
			push @parts, "jsonb_build_array($item)";
			push @pks, $pk;
		}
		$items = @parts ? join(' || ', @parts) : pick("'[]'::jsonb", "'[]'");
	}
	my $q = "SELECT coalesce(string_agg(status, ',' ORDER BY ordinality), '') "
	  . "FROM rowversion.conditional_write($target, $items$atomic_sql)";
	my $pre = rand() < 0.08 ? pick(@pre) : undef;
	# a target that is no enabled table: a call that must change nothing
	return (undef, undef, 0, $pre, $q) if $target ne "'fz.$tbl'";
	return ($tbl, undef, $moves, $pre, $q, \@pks, $atomic);
}

sub one_call
{
	my ($i) = @_;
	my ($tbl, $pk, $target, $key, $ver);
	my @names = sort keys %tables;
	if (rand() < 0.02)
	{
		return (undef, undef, 0, undef, pick(@ddl));
	}
	return batch_call() if rand() < 0.3;
	if (rand() < 0.04)
	{
		# put back a row that a call deleted, or a key a call moved away
		$tbl = pick(@names);
		my $k = 1 + int(rand($nrows));
		return ($tbl, $tables{$tbl}->{pk}->($k), 0, undef, $tables{$tbl}->{ins}->($k));
	}
	if (rand() < 0.8)
	{
		$tbl = pick(@names);
		my $t = $tables{$tbl};
		my $k = 1 + int(rand($nrows + 2));    # some keys that do not exist
		$target = rand() < 0.95 ? "'fz.$tbl'" : "'fz.$tbl'::regclass::oid";
		if (rand() < 0.85)
		{
			$key = $t->{keys}->($k);
			$pk = $t->{pk}->($k);
		}
		else
		{
			$key = pick(@garbage_keys);
		}
		my $vcol = $t->{vcol} // 'row_version';
		my $cur = "(SELECT $vcol FROM fz.$tbl WHERE " . $t->{cond}->($k) . ')';
		$ver = pick($cur, $cur, $cur, "$cur - 1", "$cur + 1", pick(@garbage_versions),
			1 + int(rand(1e6)) . '000000000');
	}
	else
	{
		$target = pick(@other_targets);
		($tbl) = $target =~ /fz\.(t_\w+)'/i;
		$tbl = lc($tbl) if defined $tbl;
		$tbl = 't_int' if $target =~ /"t_int"/;
		my $k = 1 + int(rand($nrows));
		$key = pick("$k", "'$k'", "'{\"id\": $k}'::jsonb", pick(@garbage_keys));
		$pk = $k if defined $tbl && $key =~ /^('?\{"id": )?'?$k('|\}')?/;
		$ver = pick("(SELECT row_version FROM fz.t_int WHERE id = $k)", pick(@garbage_versions));
	}
	my $q;
	my $r = rand();
	my $chg = pick(@changes);
	# a change of a key column may move the row to another key
	my $moves = $chg =~ /"(id|a|b|k|we.{1,2}ird col)"/ ? 1 : 0;
	if ($r < 0.6)
	{
		$q = "SELECT rowversion.conditional_update($target, $key, $ver, $chg)::text";
	}
	elsif ($r < 0.85)
	{
		$q = "SELECT rowversion.conditional_delete($target, $key, $ver)::text";
	}
	elsif ($r < 0.95)
	{
		$q = "SELECT count(rowversion.conditional_update($target, $key, $ver, $chg))::text "
		  . 'FROM generate_series(1, 3)';
	}
	else
	{
		$q = "SELECT rowversion.conditional_update($target, $key, $ver, $chg)::text "
		  . "FROM (SELECT 1) s WHERE $ver IS NOT NULL OR true";
	}
	my $pre = rand() < 0.12 ? pick(@pre) : undef;
	return ($tbl, $pk, $moves, $pre, $q);
}

sub run_calls
{
	my ($name, $first, @list) = @_;
	# kept in tmp_check/ with the logs, to read or to replay
	my $file = "$PostgreSQL::Test::Utils::tmp_check/hostile_$name.sql";
	open my $fh, '>', $file or die;
	my $i = $first;
	for my $c (@list)
	{
		my ($tbl, $pk, $moves, $pre, $q, $pks, $atomic) = @$c;
		my $batch = '';
		# a batch: its items' keys (ARRAY[NULL]::text[] has one element)
		$batch = sprintf(', ARRAY[%s]::text[], %s',
			join(', ', map { defined $_ ? lit($_) : 'NULL' } @$pks), $atomic ? 'true' : 'false')
		  if defined $pks;
		printf $fh "SELECT fz.call(%d, %s, %s, %s, %s, %s%s);\n", $i++,
		  (defined $tbl ? lit($tbl) : 'NULL'), (defined $pk ? lit($pk) : 'NULL'),
		  ($moves ? 'true' : 'false'),
		  (defined $pre ? lit($pre) : 'NULL'), lit($q), $batch;
	}
	close $fh;
	my ($stdout, $stderr);
	my $ok = IPC::Run::run([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1',
		'-d', $node->connstr('fuzz'), '-f', $file ], '>', \$stdout, '2>', \$stderr);
	diag $stderr unless $ok;
	return $ok;
}

my @list = map { [ one_call($_) ] } 1 .. $calls;
my $ran = run_calls('fuzz', 1, @list);
ok($ran, "$calls calls ran to the end");
is($node->safe_psql('fuzz', 'SELECT count(*) FROM fz.log'), $calls, 'every call was logged');
my @crashes = crashes_in_log($node);
is(scalar @crashes, 0, 'no server process crashed') or diag join "\n", @crashes;
is($node->safe_psql('fuzz', 'SELECT 1'), '1', 'the server is up');
my ($xx, $unexplained) = split /\|/, $node->safe_psql('fuzz', q{SELECT * FROM fz.check(1, 'fz.snap_before')});
is($xx, 0, 'no call raised an internal error (class XX)')
  or diag $node->safe_psql('fuzz', q{SELECT i, sqlstate, message FROM fz.log WHERE sqlstate LIKE 'XX%' LIMIT 20});
is($unexplained, 0, 'every changed row was changed by a call that succeeded on it, and no call changed another')
  or diag $node->safe_psql('fuzz', q{SELECT i, tbl, pk, changed FROM fz.log
	WHERE cardinality(changed) > 1 OR (cardinality(changed) = 1 AND changed[1] <> tbl || '/' || coalesce(pk, '?'))
	LIMIT 20});
	# (diagnostics: calls that changed more than their row are listed, moves included)
my $summary = $node->safe_psql('fuzz', q{
	SELECT count(*) || ' calls: ' || count(*) FILTER (WHERE outcome = 'ok' AND tbl IS NOT NULL
	                                                 AND result IS NOT NULL) || ' writes succeeded, '
	       || count(*) FILTER (WHERE sqlstate LIKE 'RV%') || ' RV00x, '
	       || count(*) FILTER (WHERE outcome = 'error' AND sqlstate NOT LIKE 'RV%') || ' other errors in '
	       || count(DISTINCT sqlstate) || ' SQLSTATEs'
	FROM fz.log});
my $states = $node->safe_psql('fuzz', q{
	SELECT string_agg(sqlstate || ' ' || n, ', ' ORDER BY n DESC)
	FROM (SELECT sqlstate, count(*) n FROM fz.log WHERE sqlstate IS NOT NULL GROUP BY 1) s});
my $changed = $node->safe_psql('fuzz', q{
	SELECT count(*) FROM fz.snap_before b FULL JOIN fz.rows() a USING (tbl, pk)
	WHERE a.sum IS DISTINCT FROM b.sum});
diag "fuzz: $summary; $changed rows changed, each by a call that succeeded";
note "fuzz: SQLSTATEs: $states";
note 'fuzz: slowest calls (ms): '
  . $node->safe_psql('fuzz', q{SELECT string_agg(i || ' ' || round(ms), ', ') FROM
	(SELECT i, ms FROM fz.log ORDER BY ms DESC LIMIT 5) s});
is($node->safe_psql('fuzz', q{SELECT count(*) FROM fz.log WHERE sqlstate = '42601'}), 0,
	'the generator wrote no malformed SQL');
my $succeeded = $node->safe_psql('fuzz', q{SELECT count(*) FROM fz.log WHERE outcome = 'ok' AND pk IS NOT NULL});
cmp_ok($succeeded, '>', 0, 'some calls succeeded (the fuzz reaches the write)');
my ($batches, $batch_summary) = split /\|/, $node->safe_psql('fuzz', q{
	SELECT count(*), count(*) || ' conditional_write calls of '
	       || coalesce(sum(cardinality(pks)), 0) || ' items (largest ' || coalesce(max(cardinality(pks)), 0)
	       || '): ' || count(*) FILTER (WHERE outcome = 'ok') || ' returned, '
	       || coalesce((SELECT string_agg(s || ' ' || n, ', ' ORDER BY n DESC)
	                    FROM (SELECT s, count(*) n FROM fz.log l2, unnest(string_to_array(l2.result, ',')) s
	                          WHERE l2.pks IS NOT NULL GROUP BY s) x), 'no statuses')
	FROM fz.log WHERE pks IS NOT NULL});
diag "fuzz: $batch_summary";
note 'fuzz: conditional_write SQLSTATEs: ' . $node->safe_psql('fuzz', q{
	SELECT string_agg(sqlstate || ' ' || n || ' (' || m || ')', ', ' ORDER BY n DESC)
	FROM (SELECT sqlstate, count(*) n, min(message) m FROM fz.log
	      WHERE pks IS NOT NULL AND sqlstate IS NOT NULL GROUP BY 1) s});
cmp_ok($node->safe_psql('fuzz', q{SELECT count(*) FROM fz.log
	WHERE pks IS NOT NULL AND result ~ '(updated|deleted)'}), '>', 0,
	'some conditional_write calls wrote items (the fuzz reaches the batch write)');

# negative control: the same logging and checker must report a deliberate
# internal error and an UPDATE that no call made
$node->safe_psql('fuzz', q{
	INSERT INTO fz.t_comp SELECT g, 'c' || g, g FROM generate_series(1001, 1003) g;
	CREATE TABLE fz.snap_control AS SELECT * FROM fz.rows()});
my $first = $calls + 1;
run_calls('control', $first,
	[ undef, undef, 0, undef, 'SELECT fz.raise_internal()' ],
	[ 't_comp', undef, 0, undef, q{WITH u AS (UPDATE fz.t_comp SET n = -n WHERE a IN (SELECT a FROM fz.t_comp ORDER BY a LIMIT 2)
		RETURNING 1) SELECT count(*)::text FROM u} ]);
($xx, $unexplained) = split /\|/,
  $node->safe_psql('fuzz', qq{SELECT * FROM fz.check($first, 'fz.snap_control')});
is($xx, 1, 'control: the checker reports a deliberate XX000');
is($unexplained, 1, 'control: the checker reports a call that changed two rows')
  or diag $node->safe_psql('fuzz', "SELECT * FROM fz.log WHERE i >= $first");
$node->safe_psql('fuzz', q{UPDATE fz.t_comp SET n = -n WHERE a IN (SELECT a FROM fz.t_comp ORDER BY a DESC LIMIT 1)});
($xx, $unexplained) = split /\|/,
  $node->safe_psql('fuzz', qq{SELECT * FROM fz.check($first, 'fz.snap_control')});
is($unexplained, 2, 'control: and a row changed outside any call');

# ...and conditional_write() calls whose statuses lie: one that reports a
# conflict for the row it changed, one that reports a row updated that it
# left alone
$node->safe_psql('fuzz', q{CREATE TABLE fz.snap_control_batch AS SELECT * FROM fz.rows()});
$first += 2;
run_calls('control_batch', $first,
	[ 't_comp', undef, 0, undef, q{WITH u AS (UPDATE fz.t_comp SET n = -n WHERE a = 1001 RETURNING 1)
		SELECT 'conflict' FROM u}, [ '1001:c1001' ], 1 ],
	[ 't_comp', undef, 0, undef, q{SELECT 'updated'}, [ '1002:c1002' ], 0 ]);
($xx, $unexplained) = split /\|/,
  $node->safe_psql('fuzz', qq{SELECT * FROM fz.check($first, 'fz.snap_control_batch')});
is($unexplained, 2, 'control: the checker reports conditional_write statuses that lie')
  or diag $node->safe_psql('fuzz', "SELECT * FROM fz.log WHERE i >= $first");

$node->stop;
done_testing();
