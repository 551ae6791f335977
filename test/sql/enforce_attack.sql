-- Attacks on the log-only mode (enable(..., enforce => false)) and on the
-- pre-commit flush of its counts, which runs as the owner of
-- rowversion.conflict_counts (the superuser that installed): what holds.
-- Counter mode throughout, so every version shown is fixed.
CREATE ROLE rv_enfatk_writer;
CREATE ROLE rv_enfatk_owner;
CREATE ROLE rv_enfatk_rls;
GRANT USAGE ON SCHEMA rvtest TO rv_enfatk_writer, rv_enfatk_owner, rv_enfatk_rls;
GRANT CREATE ON SCHEMA public TO rv_enfatk_writer, rv_enfatk_owner;

CREATE TABLE rvtest.ea (id int PRIMARY KEY, x int CHECK (x >= 0), note text);
SELECT rowversion.enable('rvtest.ea', mode => 'counter', require_version => true,
                         ignore_columns => '{note}', enforce => false);
INSERT INTO rvtest.ea SELECT g, 0, '' FROM generate_series(1, 10) g;
GRANT INSERT, UPDATE, SELECT (id) ON rvtest.ea TO rv_enfatk_writer;

-- (a) A role with only INSERT and UPDATE (and SELECT on the key) plants
-- look-alikes of what the flush's INSERT names, in pg_temp and in public,
-- and puts them first in its search_path: none of them runs when its counts are written (each
-- would say so), and the counts are written all the same.
SET ROLE rv_enfatk_writer;
CREATE TEMP TABLE conflict_counts (tbl oid, conflicts bigint, versions_missing bigint,
                                   at timestamptz);
CREATE FUNCTION pg_temp.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql
  AS $$BEGIN RAISE NOTICE 'pg_temp.clock_timestamp() ran as %', current_user; RETURN now(); END$$;
CREATE FUNCTION public.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql
  AS $$BEGIN RAISE NOTICE 'public.clock_timestamp() ran as %', current_user; RETURN now(); END$$;
CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE plpgsql
  AS $$BEGIN RAISE NOTICE 'public.now() ran as %', current_user; RETURN pg_catalog.now(); END$$;
CREATE FUNCTION public.rv_enfatk_eq(oid, oid) RETURNS boolean LANGUAGE plpgsql
  AS $$BEGIN RAISE NOTICE 'public.= ran as %', current_user; RETURN $1 OPERATOR(pg_catalog.=) $2; END$$;
CREATE OPERATOR public.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = public.rv_enfatk_eq);
SET search_path = pg_temp, public, pg_catalog;
BEGIN;
UPDATE rvtest.ea SET x = 1 WHERE id = 1;
SET LOCAL search_path = pg_temp, public;
COMMIT;
-- it may not claim a version it may not read, in log-only mode too
SELECT code, message FROM rvtest.error($$UPDATE rvtest.ea SET x = 1, row_version = 1$$);
-- nor set session_replication_role, nor touch another's table's counts
BEGIN;
UPDATE rvtest.ea SET x = 1 WHERE id = 2;
SELECT code FROM rvtest.error($$SET LOCAL session_replication_role = replica$$);
COMMIT;
SELECT code, message FROM rvtest.error($$SELECT rowversion.disable('rvtest.ea')$$);
SELECT code, message FROM rvtest.error($$SELECT rowversion.enable('rvtest.ea', mode => 'counter', enforce => false)$$);
SELECT code FROM rvtest.error($$SELECT count(*) FROM rowversion.conflict_counts$$);
SELECT code FROM rvtest.error($$LOCK TABLE rowversion.conflicts IN ACCESS EXCLUSIVE MODE$$);
SELECT code FROM rvtest.error($$LOCK TABLE rowversion.conflict_counts IN ACCESS SHARE MODE$$);
DROP TABLE pg_temp.conflict_counts;
DROP FUNCTION pg_temp.clock_timestamp();
RESET search_path;
RESET ROLE;
SELECT conflicts, versions_missing FROM rowversion.conflicts WHERE tbl = 'rvtest.ea'::regclass;
-- The starting row, and one row per transaction that counted.
SELECT count(*) FROM rowversion.conflict_counts WHERE tbl = 'rvtest.ea'::regclass;

-- Where a transaction ends: a procedure's COMMIT and ROLLBACK, a DO
-- block's COMMIT, COMMIT AND CHAIN.  Each committed part counts once.
CREATE PROCEDURE rvtest.ea_proc() LANGUAGE plpgsql AS $$
BEGIN
  UPDATE rvtest.ea SET x = 1 WHERE id = 3;
  COMMIT;
  UPDATE rvtest.ea SET x = 2 WHERE id = 3;
  ROLLBACK;
  UPDATE rvtest.ea SET x = 3 WHERE id = 3;
END $$;
CALL rvtest.ea_proc();
SELECT conflicts, versions_missing FROM rowversion.conflicts WHERE tbl = 'rvtest.ea'::regclass;
DO $$BEGIN UPDATE rvtest.ea SET x = 1 WHERE id = 4; COMMIT; UPDATE rvtest.ea SET x = 2 WHERE id = 4; END$$;
SELECT conflicts, versions_missing FROM rowversion.conflicts WHERE tbl = 'rvtest.ea'::regclass;
BEGIN;
UPDATE rvtest.ea SET x = 3 WHERE id = 4;
COMMIT AND CHAIN;
UPDATE rvtest.ea SET x = 4 WHERE id = 4;
COMMIT;
SELECT conflicts, versions_missing FROM rowversion.conflicts WHERE tbl = 'rvtest.ea'::regclass;

-- Around pre-commit: a deferred trigger that writes at COMMIT counts; a
-- deferred constraint that fails at COMMIT counts nothing; a WITH HOLD
-- cursor whose query writes as COMMIT runs it counts.
CREATE TABLE rvtest.ea_d (id int);
CREATE FUNCTION rvtest.ea_dfn() RETURNS trigger LANGUAGE plpgsql
  AS $$BEGIN UPDATE rvtest.ea SET x = x + 1 WHERE id = 5; RETURN NULL; END$$;
CREATE CONSTRAINT TRIGGER ea_dtrig AFTER INSERT ON rvtest.ea_d
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION rvtest.ea_dfn();
BEGIN;
INSERT INTO rvtest.ea_d VALUES (1);
COMMIT;
SELECT conflicts, versions_missing FROM rowversion.conflicts WHERE tbl = 'rvtest.ea'::regclass;
CREATE TABLE rvtest.ea_u (id int UNIQUE DEFERRABLE INITIALLY DEFERRED);
BEGIN;
UPDATE rvtest.ea SET x = 9 WHERE id = 6;
INSERT INTO rvtest.ea_u VALUES (1), (1);
COMMIT;
SELECT conflicts, versions_missing FROM rowversion.conflicts WHERE tbl = 'rvtest.ea'::regclass;
SELECT x, row_version FROM rvtest.ea WHERE id = 6;
CREATE FUNCTION rvtest.ea_upd() RETURNS int LANGUAGE sql
  AS $$UPDATE rvtest.ea SET x = x + 1 WHERE id = 7 RETURNING x$$;
BEGIN;
DECLARE ea_c CURSOR WITH HOLD FOR SELECT rvtest.ea_upd();
COMMIT;
CLOSE ea_c;
SELECT conflicts, versions_missing FROM rowversion.conflicts WHERE tbl = 'rvtest.ea'::regclass;
-- A failed write inside a PL/pgSQL exception block counts nothing.
DO $$BEGIN UPDATE rvtest.ea SET x = -1 WHERE id = 8; EXCEPTION WHEN check_violation THEN NULL; END$$;
SELECT conflicts, versions_missing FROM rowversion.conflicts WHERE tbl = 'rvtest.ea'::regclass;

-- (b) A table's owner who makes the row trigger by hand: odd arguments
-- are refused (39P01) whatever their number, and a trigger that is not
-- BEFORE ... FOR EACH ROW is too, log-only or not.
SET ROLE rv_enfatk_owner;
CREATE TABLE public.rv_enfatk_own (id int PRIMARY KEY, x int, row_version bigint);
INSERT INTO public.rv_enfatk_own VALUES (1, 0, 1);
CREATE TRIGGER ab BEFORE INSERT OR UPDATE OR DELETE ON public.rv_enfatk_own FOR EACH ROW
  EXECUTE FUNCTION rowversion.version_trigger('row_version', 'counter', 'false', '', '', 'enforce=false');
SELECT code, detail FROM rvtest.error($$UPDATE public.rv_enfatk_own SET x = 1$$);
DROP TRIGGER ab ON public.rv_enfatk_own;
CREATE TRIGGER ab BEFORE INSERT OR UPDATE OR DELETE ON public.rv_enfatk_own FOR EACH ROW
  EXECUTE FUNCTION rowversion.version_trigger('row_version', 'counter', 'false', '', 'enforce=false', '');
SELECT code, detail FROM rvtest.error($$UPDATE public.rv_enfatk_own SET x = 1$$);
DROP TRIGGER ab ON public.rv_enfatk_own;
CREATE TRIGGER ab BEFORE INSERT OR UPDATE OR DELETE ON public.rv_enfatk_own FOR EACH ROW
  EXECUTE FUNCTION rowversion.version_trigger('row_version', 'counter', 'false', '', 'enforce=true', 'enforce=false');
SELECT code, detail FROM rvtest.error($$UPDATE public.rv_enfatk_own SET x = 1$$);
DROP TRIGGER ab ON public.rv_enfatk_own;
CREATE TRIGGER ab BEFORE INSERT OR UPDATE OR DELETE ON public.rv_enfatk_own FOR EACH ROW
  EXECUTE FUNCTION rowversion.version_trigger('row_version', 'counter', 'false', 'enforce=false');
SELECT ignore_columns, enforce FROM rowversion.tables WHERE tbl = 'public.rv_enfatk_own'::regclass;
SELECT code, message FROM rvtest.error($$UPDATE public.rv_enfatk_own SET x = 1, row_version = 7$$);
DROP TRIGGER ab ON public.rv_enfatk_own;
DO $$
DECLARE cols text;
BEGIN
  SELECT string_agg(quote_literal('c' || g), ', ') INTO cols FROM generate_series(1, 3000) g;
  EXECUTE 'CREATE TRIGGER ab BEFORE INSERT OR UPDATE OR DELETE ON public.rv_enfatk_own '
    'FOR EACH ROW EXECUTE FUNCTION rowversion.version_trigger(''row_version'', ''counter'', '
    '''true'', ' || cols || ', '''', ''enforce=false'')';
END$$;
SELECT cardinality(ignore_columns), require_version, enforce FROM rowversion.tables
WHERE tbl = 'public.rv_enfatk_own'::regclass;
UPDATE public.rv_enfatk_own SET x = 2;
DROP TRIGGER ab ON public.rv_enfatk_own;
CREATE TRIGGER ab AFTER UPDATE ON public.rv_enfatk_own FOR EACH ROW
  EXECUTE FUNCTION rowversion.version_trigger('row_version', 'counter', 'false', '', 'enforce=false');
SELECT code, message FROM rvtest.error($$UPDATE public.rv_enfatk_own SET x = 3$$);
SELECT tbl FROM rowversion.tables WHERE tbl = 'public.rv_enfatk_own'::regclass;
DROP TRIGGER ab ON public.rv_enfatk_own;
-- Its own table's counts only: it may not reset another's.
SELECT code, message FROM rvtest.error($$SELECT rowversion.disable('rvtest.ea')$$);
RESET ROLE;
SELECT tbl, conflicts, versions_missing FROM rowversion.conflicts
WHERE tbl IN ('public.rv_enfatk_own'::regclass, 'rvtest.ea'::regclass) ORDER BY tbl::text;

-- (d) A role under row-level security: warnings never show the version of
-- a row (a policy may hide it), a row the policy hides is not updated, and
-- ON CONFLICT DO UPDATE on such a row is the policy's error.
CREATE TABLE rvtest.ea_rls (id int PRIMARY KEY, who name, x int);
SELECT rowversion.enable('rvtest.ea_rls', mode => 'counter', enforce => false);
INSERT INTO rvtest.ea_rls VALUES (1, 'rv_enfatk_rls', 0), (2, 'nobody', 0);
UPDATE rvtest.ea_rls SET x = 1;
ALTER TABLE rvtest.ea_rls ENABLE ROW LEVEL SECURITY;
CREATE POLICY ea_mine ON rvtest.ea_rls USING (who = current_user);
GRANT SELECT, INSERT, UPDATE, DELETE ON rvtest.ea_rls TO rv_enfatk_rls;
SET ROLE rv_enfatk_rls;
UPDATE rvtest.ea_rls SET x = 5, row_version = 9 WHERE id = 1;
UPDATE rvtest.ea_rls SET x = 5, row_version = 9 WHERE id = 2;
SELECT code FROM rvtest.error($$INSERT INTO rvtest.ea_rls VALUES (2, 'rv_enfatk_rls', 0)
  ON CONFLICT (id) DO UPDATE SET x = 9, row_version = 9$$);
BEGIN;
SELECT rowversion.expect_match('rvtest.ea_rls', '"1"');
DELETE FROM rvtest.ea_rls WHERE id = 1;
COMMIT;
RESET ROLE;
SELECT id, x, row_version FROM rvtest.ea_rls ORDER BY id;
SELECT conflicts, versions_missing FROM rowversion.conflicts WHERE tbl = 'rvtest.ea_rls'::regclass;

-- Partitions: conflicts count for the partitioned table, also when an
-- UPDATE names a partition, and across savepoints.
CREATE TABLE rvtest.ea_p (id int, x int) PARTITION BY RANGE (id);
CREATE TABLE rvtest.ea_p1 PARTITION OF rvtest.ea_p FOR VALUES FROM (0) TO (10);
CREATE TABLE rvtest.ea_p2 PARTITION OF rvtest.ea_p FOR VALUES FROM (10) TO (20);
SELECT rowversion.enable('rvtest.ea_p', mode => 'counter', require_version => true,
                         enforce => false);
INSERT INTO rvtest.ea_p VALUES (1, 0), (11, 0);
BEGIN;
UPDATE rvtest.ea_p SET x = 1;
SAVEPOINT s;
UPDATE rvtest.ea_p2 SET x = 2;
RELEASE SAVEPOINT s;
SAVEPOINT t;
UPDATE rvtest.ea_p1 SET x = 3;
ROLLBACK TO SAVEPOINT t;
COMMIT;
SELECT tbl, conflicts, versions_missing FROM rowversion.conflicts
WHERE tbl::text LIKE 'rvtest.ea_p%';

-- Many tables in one transaction: the flush adds one row for each, beside
-- each one's starting row.
DO $$BEGIN
  FOR i IN 1..40 LOOP
    EXECUTE format('CREATE TABLE rvtest.ea_m%s (id int PRIMARY KEY, x int)', i);
  END LOOP;
END$$;
SET client_min_messages = error;
SELECT count(rowversion.enable(format('rvtest.ea_m%s', g)::regclass, mode => 'counter',
                               require_version => true, enforce => false)) AS enabled
FROM generate_series(1, 40) g;
DO $$BEGIN
  FOR i IN 1..40 LOOP
    EXECUTE format('INSERT INTO rvtest.ea_m%s VALUES (1, 0), (2, 0)', i);
    EXECUTE format('UPDATE rvtest.ea_m%s SET x = 1', i);
  END LOOP;
END$$;
RESET client_min_messages;
SELECT count(*) AS tables, sum(versions_missing) AS versions_missing
FROM rowversion.conflicts WHERE tbl::text LIKE 'rvtest.ea\_m%';
SELECT count(*) AS count_rows FROM rowversion.conflict_counts c
WHERE c.tbl IN (SELECT oid FROM pg_class WHERE relname LIKE 'ea\_m%');

-- Clean up.
DO $$BEGIN
  FOR i IN 1..40 LOOP
    EXECUTE format('DROP TABLE rvtest.ea_m%s', i);
  END LOOP;
END$$;
DROP TABLE rvtest.ea, rvtest.ea_d, rvtest.ea_u, rvtest.ea_rls, rvtest.ea_p,
  public.rv_enfatk_own;
DROP PROCEDURE rvtest.ea_proc();
DROP FUNCTION rvtest.ea_dfn(), rvtest.ea_upd();
DROP OPERATOR public.= (oid, oid);
DROP FUNCTION public.rv_enfatk_eq(oid, oid), public.clock_timestamp(), public.now();
REVOKE CREATE ON SCHEMA public FROM rv_enfatk_writer, rv_enfatk_owner;
REVOKE USAGE ON SCHEMA rvtest FROM rv_enfatk_writer, rv_enfatk_owner, rv_enfatk_rls;
DROP ROLE rv_enfatk_writer, rv_enfatk_owner, rv_enfatk_rls;
DELETE FROM rowversion.conflict_counts;
