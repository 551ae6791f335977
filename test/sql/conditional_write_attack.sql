-- conditional_write() against a caller who tries to get more than it may:
-- rows and columns it may not see or write, policies that differ by
-- command, look-alike operators, keys that compare equal without being
-- equal, nested and recursive writes, DDL and plan cache churn in the
-- middle of a batch.  Counter mode keeps the versions stable to print.
CREATE SCHEMA cwa;
GRANT USAGE ON SCHEMA cwa TO PUBLIC;
-- the items of ids of tbl at their current versions (minus stale), with
-- changes, or deleting them when changes is NULL; it reads as the test's
-- owner, as a client that somehow knew the versions would
CREATE FUNCTION cwa.items(tbl regclass, ids int[], changes jsonb, stale int DEFAULT 0)
RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE r jsonb;
BEGIN
  EXECUTE format($q$SELECT jsonb_agg(jsonb_build_object('key', i, 'version', coalesce(t.row_version, 1) - $2)
                     || CASE WHEN $3 IS NULL THEN '{"delete": true}'::jsonb
                        ELSE jsonb_build_object('changes', $3) END ORDER BY o)
                   FROM unnest($1) WITH ORDINALITY u(i, o) LEFT JOIN %s t ON t.id = u.i$q$, tbl)
  INTO r USING ids, stale, changes;
  RETURN r;
END $$;
GRANT EXECUTE ON FUNCTION cwa.items TO PUBLIC;

-- (a) A role with INSERT and UPDATE but no SELECT: the conditional
-- statements read the key and version columns, so it is refused, whether
-- the version is right or not, and nothing is written or told.
CREATE TABLE cwa.acct (id int PRIMARY KEY, owner_name text, secret text, n int);
SELECT rowversion.enable('cwa.acct', mode => 'counter');
INSERT INTO cwa.acct VALUES (1, 'rv_cwa_alice', 'a1', 1), (2, 'rv_cwa_bob', 'b2', 2),
  (3, 'rv_cwa_alice', 'a3', 3), (4, 'rv_cwa_bob', 'b4', 4), (5, 'rv_cwa_alice', 'a5', 5);
CREATE ROLE rv_cwa_blind;
GRANT INSERT, UPDATE ON cwa.acct TO rv_cwa_blind;
SET ROLE rv_cwa_blind;
SELECT code, message FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('cwa.acct', cwa.items('cwa.acct', '{1,2}', '{"n": 9}'))$$);
SELECT code, message FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('cwa.acct', cwa.items('cwa.acct', '{1,2}', '{"n": 9}', 1), false)$$);
SELECT code, message FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('cwa.acct', cwa.items('cwa.acct', '{1}', NULL), false)$$);
RESET ROLE;

-- (b) Column privileges: "current" holds only the columns the caller may
-- SELECT; a change of a column it may not UPDATE is refused before any
-- row is touched, even after items that hold; a key change takes UPDATE
-- on the key column.
CREATE ROLE rv_cwa_cols;
GRANT SELECT (id, owner_name, row_version), UPDATE (n, row_version) ON cwa.acct TO rv_cwa_cols;
SET ROLE rv_cwa_cols;
SELECT ordinality, key, status, version, current
FROM rowversion.conditional_write('cwa.acct', cwa.items('cwa.acct', '{2,1}', '{"n": 10}', 1));
SELECT ordinality, key, status, version, current
FROM rowversion.conditional_write('cwa.acct', cwa.items('cwa.acct', '{2,1}', '{"n": 10}', 1), false);
SELECT code, message FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('cwa.acct',
  cwa.items('cwa.acct', '{1}', '{"n": 11}') || cwa.items('cwa.acct', '{2}', '{"secret": "x"}'), false)$$);
SELECT code, message FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('cwa.acct',
  cwa.items('cwa.acct', '{1}', '{"n": 11}') || cwa.items('cwa.acct', '{2}', '{"id": 20}'), false)$$);
-- no DELETE privilege: a batch with one delete item is refused whole
SELECT code, message FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('cwa.acct',
  cwa.items('cwa.acct', '{1}', '{"n": 11}') || cwa.items('cwa.acct', '{2}', NULL), false)$$);
RESET ROLE;
SELECT id, secret, n, row_version FROM cwa.acct ORDER BY id;
REVOKE ALL ON cwa.acct FROM rv_cwa_blind, rv_cwa_cols;

-- (d) Row-level security with policies that differ by command: alice sees
-- her rows, may update those with n < 5 (and keep them hers), and may
-- delete rows 1 and 2 only.  A row she may not see is not found, with no
-- version and no "current", whether the version given is right or not,
-- in both modes.
CREATE ROLE rv_cwa_alice;
CREATE ROLE rv_cwa_bob;
GRANT SELECT, UPDATE, DELETE ON cwa.acct TO rv_cwa_alice, rv_cwa_bob;
ALTER TABLE cwa.acct ENABLE ROW LEVEL SECURITY;
CREATE POLICY s ON cwa.acct FOR SELECT USING (owner_name = current_user);
CREATE POLICY u ON cwa.acct FOR UPDATE USING (owner_name = current_user AND n < 5)
  WITH CHECK (owner_name = current_user);
CREATE POLICY d ON cwa.acct FOR DELETE USING (id IN (1, 2));
SET ROLE rv_cwa_alice;
SELECT ordinality, key, status, version, current
FROM rowversion.conditional_write('cwa.acct', cwa.items('cwa.acct', '{2,4}', '{"n": 9}'));
SELECT ordinality, key, status, version, current
FROM rowversion.conditional_write('cwa.acct', cwa.items('cwa.acct', '{2,4}', '{"n": 9}', 1), false);
SELECT ordinality, key, status, version, current
FROM rowversion.conditional_write('cwa.acct', cwa.items('cwa.acct', '{2,4}', NULL), false);
-- her row 5 is visible but no UPDATE policy passes it: atomic mode's lock
-- does not find it; not atomic, a stale version shows it as she may see it
SELECT ordinality, key, status, version, current
FROM rowversion.conditional_write('cwa.acct', cwa.items('cwa.acct', '{5}', '{"n": 1}'));
SELECT ordinality, key, status, version, current
FROM rowversion.conditional_write('cwa.acct', cwa.items('cwa.acct', '{5}', '{"n": 1}'), false);
SELECT ordinality, key, status, version, current
FROM rowversion.conditional_write('cwa.acct', cwa.items('cwa.acct', '{5}', '{"n": 1}', 1), false);
-- row 3: she may lock it, but the DELETE policy keeps it: not atomic it
-- is not found; atomic, the call fails (RV003), writing nothing
SELECT ordinality, key, status, version
FROM rowversion.conditional_write('cwa.acct', cwa.items('cwa.acct', '{3}', NULL), false);
SELECT code, message FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('cwa.acct',
  cwa.items('cwa.acct', '{1}', '{"n": 2}') || cwa.items('cwa.acct', '{3}', NULL))$$);
-- WITH CHECK: giving her row away fails the call
SELECT code, message FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('cwa.acct',
  cwa.items('cwa.acct', '{1}', '{"owner_name": "rv_cwa_bob"}'), false)$$);
RESET ROLE;
SELECT id, owner_name, n, row_version FROM cwa.acct ORDER BY id;
-- a row her UPDATE policy no longer passes but her DELETE policy does:
-- atomic mode locks with the UPDATE policies, so not found; not atomic,
-- deleted
UPDATE cwa.acct SET n = 100 WHERE id = 1;
SET ROLE rv_cwa_alice;
SELECT ordinality, key, status FROM rowversion.conditional_write('cwa.acct', cwa.items('cwa.acct', '{1}', NULL));
SELECT ordinality, key, status FROM rowversion.conditional_write('cwa.acct', cwa.items('cwa.acct', '{1}', NULL), false);
RESET ROLE;
SELECT id, owner_name, n, row_version FROM cwa.acct ORDER BY id;

-- (c) Look-alikes planted in public by another role, first on the
-- search_path: every operator, function and type of the statements is
-- schema-qualified, so none of them runs.
CREATE ROLE rv_cwa_planter;
GRANT CREATE ON SCHEMA public TO rv_cwa_planter;
SET ROLE rv_cwa_planter;
CREATE FUNCTION public.rv_cwa_planted(int, bigint) RETURNS boolean LANGUAGE plpgsql
  AS $$ BEGIN RAISE EXCEPTION 'planted = (int, bigint) ran'; END $$;
CREATE FUNCTION public.rv_cwa_planted(int, int) RETURNS boolean LANGUAGE plpgsql
  AS $$ BEGIN RAISE EXCEPTION 'planted = (int, int) ran'; END $$;
CREATE FUNCTION public.rv_cwa_planted(bigint, bigint) RETURNS boolean LANGUAGE plpgsql
  AS $$ BEGIN RAISE EXCEPTION 'planted = (bigint, bigint) ran'; END $$;
CREATE OPERATOR public.= (LEFTARG = int, RIGHTARG = bigint, FUNCTION = public.rv_cwa_planted);
CREATE OPERATOR public.= (LEFTARG = int, RIGHTARG = int, FUNCTION = public.rv_cwa_planted);
CREATE OPERATOR public.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = public.rv_cwa_planted);
CREATE FUNCTION public.to_jsonb(record) RETURNS jsonb LANGUAGE plpgsql
  AS $$ BEGIN RAISE EXCEPTION 'planted to_jsonb ran'; END $$;
CREATE FUNCTION public.jsonb_to_record(jsonb) RETURNS record LANGUAGE plpgsql
  AS $$ BEGIN RAISE EXCEPTION 'planted jsonb_to_record ran'; END $$;
CREATE FUNCTION public.int8(int) RETURNS bigint LANGUAGE plpgsql
  AS $$ BEGIN RAISE EXCEPTION 'planted int8 ran'; END $$;
CREATE TYPE public.rv_cwa_pair AS (a int, b text);
RESET ROLE;
CREATE TABLE cwa.planted (id int PRIMARY KEY, n int, arr int[], p public.rv_cwa_pair, s smallint);
SELECT rowversion.enable('cwa.planted', mode => 'counter');
INSERT INTO cwa.planted (id, n) VALUES (1, 1), (2, 2);
SET search_path = public, pg_catalog, pg_temp;
SELECT ordinality, key, status, version, current
FROM rowversion.conditional_write('cwa.planted', cwa.items('cwa.planted', '{1}',
  '{"n": 5, "arr": [1, 2], "p": {"a": 1, "b": "x"}, "s": 3}') || cwa.items('cwa.planted', '{2}', '{}', 1), false);
SELECT ordinality, key, status, version
FROM rowversion.conditional_write('cwa.planted', cwa.items('cwa.planted', '{1,2}', NULL));
RESET search_path;
DROP TABLE cwa.planted;
DROP TYPE public.rv_cwa_pair;
DROP OPERATOR public.= (int, bigint), public.= (int, int), public.= (bigint, bigint);
DROP FUNCTION public.rv_cwa_planted(int, bigint), public.rv_cwa_planted(int, int),
  public.rv_cwa_planted(bigint, bigint), public.to_jsonb(record), public.jsonb_to_record(jsonb),
  public.int8(int);
REVOKE CREATE ON SCHEMA public FROM rv_cwa_planter;

-- Keys that compare equal as the index compares them are one row: two
-- items for it are refused, whatever their text (case under a
-- nondeterministic collation and citext, NaN, -0, infinity).
CREATE COLLATION cwa.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE cwa.ci_key (id text COLLATE cwa.ci PRIMARY KEY, n int);
SELECT rowversion.enable('cwa.ci_key', mode => 'counter');
INSERT INTO cwa.ci_key VALUES ('abc', 1);
SELECT code, message FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('cwa.ci_key',
  '[{"key": "abc", "version": 1, "changes": {}}, {"key": "ABC", "version": 1, "delete": true}]')$$);
SELECT ordinality, key, status, version FROM rowversion.conditional_write('cwa.ci_key',
  '[{"key": "aBc", "version": 1, "changes": {"n": 2}}]');
SELECT * FROM cwa.ci_key;
CREATE EXTENSION IF NOT EXISTS citext SCHEMA public;
CREATE TABLE cwa.cit_key (id public.citext PRIMARY KEY, n int);
SELECT rowversion.enable('cwa.cit_key', mode => 'counter');
INSERT INTO cwa.cit_key VALUES ('Abc', 1);
SELECT code, message FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('cwa.cit_key',
  '[{"key": "abc", "version": 1, "changes": {}}, {"key": "ABC", "version": 1, "changes": {}}]')$$);
SELECT ordinality, key, status, version FROM rowversion.conditional_write('cwa.cit_key',
  '[{"key": "aBC", "version": 1, "delete": true}]');
CREATE TABLE cwa.num_key (id numeric PRIMARY KEY, n int);
SELECT rowversion.enable('cwa.num_key', mode => 'counter');
INSERT INTO cwa.num_key VALUES ('NaN', 1), (0, 2), (1, 3);
SELECT code, message FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('cwa.num_key',
  '[{"key": "NaN", "version": 1, "changes": {}}, {"key": "nan", "version": 1, "changes": {}}]')$$);
SELECT code, message FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('cwa.num_key',
  '[{"key": 0, "version": 1, "changes": {}}, {"key": -0.0, "version": 1, "changes": {}}]')$$);
SELECT code, message FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('cwa.num_key',
  '[{"key": 1, "version": 1, "changes": {}}, {"key": "1.000", "version": 1, "changes": {}}]')$$);
SELECT ordinality, key, status, version FROM rowversion.conditional_write('cwa.num_key',
  '[{"key": "-0.00", "version": 1, "changes": {"n": 20}}, {"key": "NaN", "version": 1, "changes": {"n": 10}},
    {"key": "1e3", "version": 1, "delete": true}]', false);
SELECT * FROM cwa.num_key ORDER BY id;
CREATE TABLE cwa.float_key (id float8 PRIMARY KEY, n int);
SELECT rowversion.enable('cwa.float_key', mode => 'counter');
INSERT INTO cwa.float_key VALUES (0, 1), ('NaN', 2), ('Infinity', 3);
SELECT code, message FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('cwa.float_key',
  '[{"key": 0, "version": 1, "changes": {}}, {"key": "-0", "version": 1, "changes": {}}]')$$);
SELECT ordinality, key, status, version FROM rowversion.conditional_write('cwa.float_key',
  '[{"key": "-0", "version": 1, "changes": {}}, {"key": "nan", "version": 1, "changes": {}},
    {"key": "inf", "version": 1, "changes": {}}]');
CREATE TABLE cwa.ts_key (id timestamptz PRIMARY KEY, n int);
SELECT rowversion.enable('cwa.ts_key', mode => 'counter');
INSERT INTO cwa.ts_key VALUES ('infinity', 1), ('-infinity', 2);
SELECT code, message FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('cwa.ts_key',
  '[{"key": "infinity", "version": 1, "delete": true}, {"key": "Infinity", "version": 1, "delete": true}]')$$);
SELECT ordinality, key, status, version FROM rowversion.conditional_write('cwa.ts_key',
  '[{"key": "-infinity", "version": 1, "delete": true}, {"key": "infinity", "version": 1, "changes": {"n": 7}}]');
SELECT * FROM cwa.ts_key;
DROP TABLE cwa.ci_key, cwa.cit_key, cwa.num_key, cwa.float_key, cwa.ts_key;
DROP COLLATION cwa.ci;

-- Malformed input at scale: thousands of items, JSON nested thousands
-- deep in an item, its key, its version or its changes: an error naming
-- the item, never an internal one, and nothing written.
CREATE TABLE cwa.t (id int PRIMARY KEY, n int, j jsonb);
SELECT rowversion.enable('cwa.t', mode => 'counter');
INSERT INTO cwa.t SELECT g, 0 FROM generate_series(1, 5) g;
SELECT status, count(*), min(ordinality), max(ordinality)
FROM rowversion.conditional_write('cwa.t', (SELECT jsonb_agg(jsonb_build_object('key', g, 'version', 1, 'changes', '{"n": 1}'::jsonb) ORDER BY g DESC)
                                            FROM generate_series(1, 5000) g))
GROUP BY 1 ORDER BY 1;
SELECT status, count(*) FROM rowversion.conditional_write('cwa.t', (SELECT jsonb_agg(jsonb_build_object('key', g, 'version', 1, 'changes', '{"n": 1}'::jsonb) ORDER BY g DESC)
                                            FROM generate_series(1, 5000) g), false)
GROUP BY 1 ORDER BY 1;
SELECT code, message FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('cwa.t',
  (SELECT jsonb_agg(jsonb_build_object('key', g % 4000, 'version', 1, 'delete', true)) FROM generate_series(1, 5000) g))$$);
SELECT code, message FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('cwa.t',
  ('[' || repeat('[', 3000) || repeat(']', 3000) || ']')::jsonb)$$);
SELECT code, message FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('cwa.t',
  jsonb_build_array(jsonb_build_object('key', (repeat('[', 3000) || '1' || repeat(']', 3000))::jsonb, 'version', 2, 'delete', true)))$$);
SELECT code, message FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('cwa.t',
  jsonb_build_array(jsonb_build_object('key', 1, 'version', (repeat('[', 3000) || '1' || repeat(']', 3000))::jsonb, 'delete', true)))$$);
SELECT code, left(message, 60) FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('cwa.t',
  jsonb_build_array(jsonb_build_object('key', 1, 'version', 2, 'changes', jsonb_build_object('n', (repeat('[', 3000) || repeat(']', 3000))::jsonb))))$$);
SELECT ordinality, status, version FROM rowversion.conditional_write('cwa.t',
  jsonb_build_array(jsonb_build_object('key', 1, 'version', 2, 'changes', jsonb_build_object('j', (repeat('[', 3000) || repeat(']', 3000))::jsonb)),
                    jsonb_build_object('key', 2, 'version', 1, 'changes', '{}'::jsonb)), false);
SELECT ordinality, status, version, length(current->>'j') FROM rowversion.conditional_write('cwa.t',
  '[{"key": 1, "version": 2, "changes": {}}]');
SELECT code, message FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('cwa.t',
  '[{"key": 3, "version": 2, "changes": {}}, {"key": 3, "version": "1e400", "changes": {}}]')$$);
SELECT id, n, row_version FROM cwa.t ORDER BY id;

-- Plan cache churn in one batch: more than 64 changed columns (planned
-- for each item), more column sets than the cache holds (entries evicted
-- while the batch goes on), and every item still written as it says.
SELECT format('CREATE TABLE cwa.wide (id int PRIMARY KEY, %s)', string_agg(format('c%s int', g), ', '))
FROM generate_series(1, 70) g \gexec
SELECT rowversion.enable('cwa.wide', mode => 'counter');
INSERT INTO cwa.wide (id) SELECT generate_series(1, 4);
SELECT ordinality, status, version, current->>'c70' AS c70
FROM rowversion.conditional_write('cwa.wide', (SELECT jsonb_agg(jsonb_build_object('key', id, 'version', row_version - id % 2,
  'changes', (SELECT jsonb_object_agg('c' || g, g * id) FROM generate_series(1, 70) g)) ORDER BY id) FROM cwa.wide), false);
SELECT id, c1, c64, c65, c70, row_version FROM cwa.wide ORDER BY id;
SELECT format('CREATE TABLE cwa.sets (id int PRIMARY KEY, %s)', string_agg(format('c%s int', g), ', '))
FROM generate_series(1, 10) g \gexec
SELECT rowversion.enable('cwa.sets', mode => 'counter');
INSERT INTO cwa.sets (id) SELECT generate_series(1, 600);
SELECT status, count(*) FROM rowversion.conditional_write('cwa.sets',
  (SELECT jsonb_agg(jsonb_build_object('key', id, 'version', row_version - (id % 5 = 0)::int, 'changes',
     (SELECT coalesce(jsonb_object_agg('c' || g, id), '{}') FROM generate_series(1, 10) g WHERE (id >> (g - 1)) & 1 = 1))
     ORDER BY id DESC) FROM cwa.sets), false)
GROUP BY 1 ORDER BY 1;
-- every row holds what its item set, and only the stale ones are untouched
SELECT count(*) FROM cwa.sets
WHERE row_version <> CASE WHEN id % 5 = 0 THEN 1 ELSE 2 END
   OR c1 IS DISTINCT FROM CASE WHEN id % 5 <> 0 AND id & 1 = 1 THEN id END
   OR c4 IS DISTINCT FROM CASE WHEN id % 5 <> 0 AND (id >> 3) & 1 = 1 THEN id END
   OR c10 IS DISTINCT FROM CASE WHEN id % 5 <> 0 AND (id >> 9) & 1 = 1 THEN id END;
SELECT status, count(*) FROM rowversion.conditional_write('cwa.sets',
  (SELECT jsonb_agg(jsonb_build_object('key', id, 'version', row_version, 'changes',
     (SELECT coalesce(jsonb_object_agg('c' || g, -id), '{}') FROM generate_series(1, 10) g WHERE (id >> (g - 1)) & 1 = 1))
     ORDER BY id) FROM cwa.sets))
GROUP BY 1 ORDER BY 1;
-- DDL between calls: a column's type changed, a column dropped and added
-- again under its name; the cached statements are planned again
ALTER TABLE cwa.wide ALTER COLUMN c1 TYPE text;
SELECT ordinality, status, version FROM rowversion.conditional_write('cwa.wide', cwa.items('cwa.wide', '{1}', '{"c1": "one"}'));
ALTER TABLE cwa.wide DROP COLUMN c1;
ALTER TABLE cwa.wide ADD COLUMN c1 jsonb;
SELECT ordinality, status, version FROM rowversion.conditional_write('cwa.wide', cwa.items('cwa.wide', '{1}', '{"c1": {"a": 1}}'));
SELECT id, c1, row_version FROM cwa.wide WHERE id = 1;
DROP TABLE cwa.wide, cwa.sets;

-- Writes nested in a batch.  A domain check run while the items are read
-- writes rows of the batch: they are then at other versions, so stale.
CREATE FUNCTION cwa.sneaky(v int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF v = 42 THEN
    PERFORM * FROM rowversion.conditional_write('cwa.t', cwa.items('cwa.t', '{2,3}', '{"n": 7}'));
    PERFORM rowversion.conditional_update('cwa.t', 4, (SELECT row_version FROM cwa.t WHERE id = 4), '{"n": 8}');
  END IF;
  RETURN true;
END $$;
CREATE DOMAIN cwa.sneaky_int AS int CHECK (cwa.sneaky(VALUE));
ALTER TABLE cwa.t ADD COLUMN d cwa.sneaky_int;
SELECT ordinality, key, status, version, current
FROM rowversion.conditional_write('cwa.t', (SELECT jsonb_agg(jsonb_build_object('key', id, 'version', row_version,
  'changes', jsonb_build_object('d', 40 + id)) ORDER BY id) FROM cwa.t WHERE id <= 4));
SELECT id, n, d, row_version FROM cwa.t ORDER BY id;
-- A trigger that writes other rows of the batch: atomic, the row it moved
-- on fails the call (RV003); not atomic, it is a conflict.
CREATE FUNCTION cwa.t_nested() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.id = 1 AND NEW.n = 100 THEN
    PERFORM * FROM rowversion.conditional_write('cwa.t', cwa.items('cwa.t', '{3}', '{"n": 300}') || cwa.items('cwa.t', '{2}', NULL));
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER a_nested BEFORE UPDATE ON cwa.t FOR EACH ROW EXECUTE FUNCTION cwa.t_nested();
SELECT code, message, detail FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('cwa.t',
  cwa.items('cwa.t', '{3}', '{"n": 30}') || cwa.items('cwa.t', '{1}', '{"n": 100}'))$$);
SELECT ordinality, key, status, version
FROM rowversion.conditional_write('cwa.t', cwa.items('cwa.t', '{3}', '{"n": 30}') || cwa.items('cwa.t', '{1}', '{"n": 100}'), false);
SELECT id, n, row_version FROM cwa.t ORDER BY id;
DROP TRIGGER a_nested ON cwa.t;
-- ...one that calls conditional_write() on the rows again, without end:
-- the stack limit stops it
CREATE FUNCTION cwa.t_recurse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM * FROM rowversion.conditional_write('cwa.t', cwa.items('cwa.t', '{1,3}', jsonb_build_object('n', NEW.n + 1)), false);
  RETURN NEW;
END $$;
CREATE TRIGGER a_recurse AFTER UPDATE ON cwa.t FOR EACH ROW EXECUTE FUNCTION cwa.t_recurse();
SELECT code FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('cwa.t', cwa.items('cwa.t', '{1}', '{"n": 1}'))$$);
DROP TRIGGER a_recurse ON cwa.t;
-- ...one that alters the table, turns the row trigger off for the
-- session, or drops it, in the middle of the batch: refused, or the call
-- fails, nothing written
CREATE FUNCTION cwa.t_meddle() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.id = 1 THEN EXECUTE current_setting('cwa.meddle'); END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER a_meddle BEFORE UPDATE ON cwa.t FOR EACH ROW EXECUTE FUNCTION cwa.t_meddle();
SET cwa.meddle = 'ALTER TABLE cwa.t ALTER COLUMN n TYPE bigint';
SELECT code, message FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('cwa.t', cwa.items('cwa.t', '{1,3}', '{"n": 5}'), false)$$);
SET cwa.meddle = 'SET LOCAL session_replication_role = replica';
SELECT code, message, detail FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('cwa.t', cwa.items('cwa.t', '{1,3}', '{"n": 5}'), false)$$);
SELECT code, message, detail FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('cwa.t', cwa.items('cwa.t', '{1,3}', '{"n": 5}'))$$);
SHOW session_replication_role;
SET cwa.meddle = 'SELECT rowversion.disable(''cwa.t'')';
SELECT code, message FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('cwa.t', cwa.items('cwa.t', '{1,3}', '{"n": 5}'), false)$$);
RESET cwa.meddle;
SELECT id, n, row_version FROM cwa.t ORDER BY id;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'cwa.t'::regclass ORDER BY 1;

DROP TABLE cwa.t, cwa.acct;
DROP DOMAIN cwa.sneaky_int;
DROP FUNCTION cwa.items, cwa.sneaky, cwa.t_nested, cwa.t_recurse, cwa.t_meddle;
DROP SCHEMA cwa;
DROP EXTENSION citext;
DROP ROLE rv_cwa_blind, rv_cwa_cols, rv_cwa_alice, rv_cwa_bob, rv_cwa_planter;
