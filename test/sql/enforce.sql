-- enable(..., enforce => false): the log-only mode.  A stale claim, a
-- failed If-Match precondition and an update without a version under
-- require_version warn with what the error would have said (SQLSTATE,
-- message, DETAIL, HINT, table and column), are counted in
-- rowversion.conflicts when the transaction commits, and the write goes
-- through.  Counter mode keeps the versions fixed.
CREATE TABLE rvtest.lo (id int PRIMARY KEY, x int, note text);
SELECT rowversion.enable('rvtest.lo', mode => 'counter', require_version => true,
                         ignore_columns => '{note}', enforce => false);
SELECT * FROM rowversion.tables WHERE tbl = 'rvtest.lo'::regclass;
-- The option follows the ignore_columns after an empty argument.
SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'rvtest.lo'::regclass;
INSERT INTO rvtest.lo SELECT g, 0, '' FROM generate_series(1, 6) g;
-- Counting starts when the table goes into log-only mode.
SELECT tbl, conflicts, versions_missing, since <= now() AS since_enable
FROM rowversion.conflicts WHERE tbl = 'rvtest.lo'::regclass;

-- A stale claim warns; the row gets the version after its current one.
UPDATE rvtest.lo SET x = 1, row_version = 7 WHERE id = 1 RETURNING id, x, row_version;
-- An update without a version warns (RV002).
UPDATE rvtest.lo SET x = 2 WHERE id = 2 RETURNING id, x, row_version;
-- One of ignore_columns alone is no update without a version, as ever.
UPDATE rvtest.lo SET note = 'seen' WHERE id = 2 RETURNING id, row_version;
-- A good claim is quiet.
UPDATE rvtest.lo SET x = 3, row_version = 1 WHERE id = 3 RETURNING id, x, row_version;
-- A failed precondition warns once (it still counts as a claim for
-- require_version), on UPDATE and on DELETE, and both go through.
BEGIN;
SELECT rowversion.expect_match('rvtest.lo', '"5"');
UPDATE rvtest.lo SET x = 4 WHERE id = 4 RETURNING id, x, row_version;
DELETE FROM rvtest.lo WHERE id = 5 RETURNING id;
-- a stale claim on a row whose precondition failed: one warning too
UPDATE rvtest.lo SET x = 4, row_version = 9 WHERE id = 4 RETURNING id, x, row_version;
-- the transaction's counts are not there before it commits
SELECT conflicts, versions_missing FROM rowversion.conflicts WHERE tbl = 'rvtest.lo'::regclass;
COMMIT;
SELECT conflicts, versions_missing FROM rowversion.conflicts WHERE tbl = 'rvtest.lo'::regclass;

-- The same SQLSTATEs, also in PostgREST's style.
\set VERBOSITY sqlstate
UPDATE rvtest.lo SET x = 5, row_version = 7 WHERE id = 1;
UPDATE rvtest.lo SET x = 5 WHERE id = 1;
SET rowversion.sqlstate_style = postgrest;
UPDATE rvtest.lo SET x = 6, row_version = 7 WHERE id = 1;
UPDATE rvtest.lo SET x = 6 WHERE id = 1;
BEGIN;
SELECT rowversion.expect_match('rvtest.lo', '"1"');
UPDATE rvtest.lo SET x = 7 WHERE id = 1;
COMMIT;
RESET rowversion.sqlstate_style;
\set VERBOSITY default
SELECT conflicts, versions_missing FROM rowversion.conflicts WHERE tbl = 'rvtest.lo'::regclass;

-- The object fields a client gets with each warning, as an error would
-- carry them (in verbose form, from another session; the LOCATION line,
-- which names a line of the source, is left out).
\setenv PGDATABASE :DBNAME
\! psql -X -q -v VERBOSITY=verbose -c 'UPDATE rvtest.lo SET x = 8, row_version = 1 WHERE id = 1' 2>&1 | grep -v '^LOCATION:'
\! psql -X -q -v VERBOSITY=verbose -c 'UPDATE rvtest.lo SET x = 8 WHERE id = 1' 2>&1 | grep -v '^LOCATION:'
\! psql -X -q -v VERBOSITY=verbose -c 'BEGIN' -c "SELECT rowversion.expect_match('rvtest.lo', '\"2\"')" -c 'DELETE FROM rvtest.lo WHERE id = 6' -c 'COMMIT' 2>&1 | grep -v '^LOCATION:'
SELECT conflicts, versions_missing FROM rowversion.conflicts WHERE tbl = 'rvtest.lo'::regclass;

-- A transaction that rolls back counts nothing; nor does a savepoint that
-- rolls back; several conflicts in one transaction make one row.
TRUNCATE rvtest.lo;
INSERT INTO rvtest.lo SELECT g, 0, '' FROM generate_series(1, 4) g;
SELECT count(*) AS count_rows FROM rowversion.conflict_counts
WHERE tbl = 'rvtest.lo'::regclass \gset
BEGIN;
UPDATE rvtest.lo SET x = 1, row_version = 7 WHERE id = 1;
ROLLBACK;
SELECT conflicts, versions_missing FROM rowversion.conflicts WHERE tbl = 'rvtest.lo'::regclass;
BEGIN;
UPDATE rvtest.lo SET x = 1, row_version = 7;
SAVEPOINT s;
UPDATE rvtest.lo SET x = 2;
ROLLBACK TO SAVEPOINT s;
SAVEPOINT t;
UPDATE rvtest.lo SET x = 3 WHERE id = 1;
RELEASE SAVEPOINT t;
COMMIT;
SELECT conflicts, versions_missing FROM rowversion.conflicts WHERE tbl = 'rvtest.lo'::regclass;
SELECT count(*) - :count_rows AS rows_added FROM rowversion.conflict_counts
WHERE tbl = 'rvtest.lo'::regclass;
-- A transaction made read-only after its writes commits; it counts
-- nothing, since it may not write.
BEGIN;
UPDATE rvtest.lo SET x = 4 WHERE id = 1;
SET transaction_read_only = on;
COMMIT;
SELECT conflicts, versions_missing FROM rowversion.conflicts WHERE tbl = 'rvtest.lo'::regclass;

-- Still errors: a NULL claim (bad input, not a conflict), a claim the
-- caller may not make, and explicit conditional writes, which exist to
-- fail (conditional_update, conditional_delete).
SELECT * FROM rvtest.error($$UPDATE rvtest.lo SET x = 1, row_version = NULL WHERE id = 1$$);
CREATE ROLE rv_enforce_writer;
GRANT USAGE ON SCHEMA rvtest TO rv_enforce_writer;
GRANT SELECT (id, x), UPDATE (x, row_version) ON rvtest.lo TO rv_enforce_writer;
SET ROLE rv_enforce_writer;
SELECT code, message FROM rvtest.error($$UPDATE rvtest.lo SET x = 1, row_version = 9 WHERE id = 1$$);
RESET ROLE;
SELECT code, message, detail FROM rvtest.error($$SELECT rowversion.conditional_update('rvtest.lo', 1, 9, '{"x": 1}')$$);
SELECT code, message, detail FROM rvtest.error($$SELECT rowversion.conditional_delete('rvtest.lo', 1, 9)$$);
SELECT conflicts, versions_missing FROM rowversion.conflicts WHERE tbl = 'rvtest.lo'::regclass;

-- A role that may write the table but not rowversion.conflict_counts: its
-- conflicts are counted all the same, and it reads the sums.
GRANT SELECT, UPDATE ON rvtest.lo TO rv_enforce_writer;
SET ROLE rv_enforce_writer;
SELECT code FROM rvtest.error($$SELECT * FROM rowversion.conflict_counts$$);
SELECT code FROM rvtest.error($$INSERT INTO rowversion.conflict_counts VALUES (0, 1, 1, now())$$);
SELECT code FROM rvtest.error($$DELETE FROM rowversion.conflict_counts$$);
UPDATE rvtest.lo SET x = 9, row_version = 99 WHERE id = 2;
SELECT conflicts, versions_missing FROM rowversion.conflicts WHERE tbl = 'rvtest.lo'::regclass;
RESET ROLE;
SELECT has_table_privilege('public', 'rowversion.conflict_counts', 'SELECT') AS public_reads_counts,
       has_table_privilege('public', 'rowversion.conflicts', 'SELECT') AS public_reads_view;

-- Switching modes.  Back to enforcing: conflicts fail again, and the
-- counts stay as they were.
SELECT rowversion.enable('rvtest.lo', mode => 'counter', require_version => true,
                         ignore_columns => '{note}', enforce => true);
SELECT enforce FROM rowversion.tables WHERE tbl = 'rvtest.lo'::regclass;
SELECT code FROM rvtest.error($$UPDATE rvtest.lo SET x = 1, row_version = 99 WHERE id = 1$$);
SELECT code FROM rvtest.error($$UPDATE rvtest.lo SET x = 1 WHERE id = 1$$);
SELECT conflicts, versions_missing FROM rowversion.conflicts WHERE tbl = 'rvtest.lo'::regclass;
-- Into log-only mode again: counting starts over.
SELECT since AS old_since FROM rowversion.conflicts WHERE tbl = 'rvtest.lo'::regclass \gset
SELECT rowversion.enable('rvtest.lo', mode => 'counter', require_version => true,
                         ignore_columns => '{note}', enforce => false);
SELECT conflicts, versions_missing, since > :'old_since' AS since_moved
FROM rowversion.conflicts WHERE tbl = 'rvtest.lo'::regclass;
UPDATE rvtest.lo SET x = 1 WHERE id = 1;
-- enable() again in log-only mode, with other options, keeps counting.
SELECT rowversion.enable('rvtest.lo', mode => 'counter', require_version => true,
                         enforce => false);
SELECT conflicts, versions_missing FROM rowversion.conflicts WHERE tbl = 'rvtest.lo'::regclass;
SELECT ignore_columns, enforce FROM rowversion.tables WHERE tbl = 'rvtest.lo'::regclass;
-- enable() without enforce enforces, as without require_version it
-- requires none; the trigger is the one 1.0 made.
SELECT rowversion.enable('rvtest.lo', mode => 'counter', require_version => true);
SELECT enforce FROM rowversion.tables WHERE tbl = 'rvtest.lo'::regclass;
SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'rvtest.lo'::regclass;
-- A NULL enforce is refused.
SELECT * FROM rvtest.error($$SELECT rowversion.enable('rvtest.lo', mode => 'counter', enforce => NULL)$$);
-- disable() forgets the counts; enabling again does not bring them back.
SELECT rowversion.disable('rvtest.lo');
SELECT count(*) FROM rowversion.conflict_counts WHERE tbl = 'rvtest.lo'::regclass;
SELECT rowversion.enable('rvtest.lo', mode => 'counter');
SELECT count(*) FROM rowversion.conflicts WHERE tbl = 'rvtest.lo'::regclass;

-- A table enabled for the first time loses rows that a dropped table with
-- the same OID left behind.
CREATE TABLE rvtest.reused (id int PRIMARY KEY);
INSERT INTO rowversion.conflict_counts VALUES ('rvtest.reused'::regclass, 5, 5, now());
SELECT rowversion.enable('rvtest.reused');
SELECT count(*) FROM rowversion.conflict_counts WHERE tbl = 'rvtest.reused'::regclass;

-- Partitions: the partitioned table is what rowversion.tables lists, and
-- its partitions' conflicts count for it, a row that an UPDATE moves to
-- another partition included (reported once).
CREATE TABLE rvtest.lo_parts (id int, region text, x int, PRIMARY KEY (id, region))
  PARTITION BY LIST (region);
CREATE TABLE rvtest.lo_parts_eu PARTITION OF rvtest.lo_parts FOR VALUES IN ('eu');
CREATE TABLE rvtest.lo_parts_us PARTITION OF rvtest.lo_parts
  FOR VALUES IN ('us') PARTITION BY LIST (region);
CREATE TABLE rvtest.lo_parts_us1 PARTITION OF rvtest.lo_parts_us FOR VALUES IN ('us');
SELECT rowversion.enable('rvtest.lo_parts', mode => 'counter', enforce => false);
INSERT INTO rvtest.lo_parts VALUES (1, 'eu', 0), (2, 'us', 0), (3, 'eu', 0);
UPDATE rvtest.lo_parts SET x = 1, row_version = 5 WHERE id = 1;
UPDATE rvtest.lo_parts_us1 SET x = 1, row_version = 5 WHERE id = 2;
BEGIN;
SELECT rowversion.expect_match('rvtest.lo_parts', '"9"');
UPDATE rvtest.lo_parts SET region = 'us' WHERE id = 3 RETURNING tableoid::regclass, id, row_version;
COMMIT;
SELECT tbl, conflicts, versions_missing FROM rowversion.conflicts
WHERE tbl::text LIKE 'rvtest.lo_parts%';
SELECT tbl, enforce FROM rowversion.tables WHERE tbl::text LIKE 'rvtest.lo_parts%';

-- A trigger made by hand with options enable() does not write fails every
-- write (39P01); rowversion.tables lists it as enforcing.
CREATE TABLE rvtest.lo_bad (id int PRIMARY KEY, x int, row_version bigint);
CREATE TRIGGER zz_rowversion BEFORE INSERT OR UPDATE OR DELETE ON rvtest.lo_bad
  FOR EACH ROW EXECUTE FUNCTION rowversion.version_trigger('row_version', 'xact', 'false', 'x', '', 'enforce=maybe');
SELECT * FROM rvtest.error($$INSERT INTO rvtest.lo_bad VALUES (1, 1)$$);
SELECT tbl, ignore_columns, enforce FROM rowversion.tables WHERE tbl = 'rvtest.lo_bad'::regclass;
DROP TRIGGER zz_rowversion ON rvtest.lo_bad;
CREATE TRIGGER zz_rowversion BEFORE INSERT OR UPDATE OR DELETE ON rvtest.lo_bad
  FOR EACH ROW EXECUTE FUNCTION rowversion.version_trigger('row_version', 'xact', 'false', '', 'frobnicate=1');
SELECT code, detail FROM rvtest.error($$INSERT INTO rvtest.lo_bad VALUES (1, 1)$$);
DROP TRIGGER zz_rowversion ON rvtest.lo_bad;
CREATE TRIGGER zz_rowversion BEFORE INSERT OR UPDATE OR DELETE ON rvtest.lo_bad
  FOR EACH ROW EXECUTE FUNCTION rowversion.version_trigger('row_version', 'xact', 'false', 'x', '');
SELECT code, detail FROM rvtest.error($$INSERT INTO rvtest.lo_bad VALUES (1, 1)$$);
DROP TRIGGER zz_rowversion ON rvtest.lo_bad;
CREATE TRIGGER zz_rowversion BEFORE INSERT OR UPDATE OR DELETE ON rvtest.lo_bad
  FOR EACH ROW EXECUTE FUNCTION rowversion.version_trigger('row_version', 'xact', 'false', '',
                                                            'enforce=false', 'enforce=false');
SELECT code, detail FROM rvtest.error($$INSERT INTO rvtest.lo_bad VALUES (1, 1)$$);
-- enable() makes it right.
SELECT rowversion.enable('rvtest.lo_bad', ignore_columns => '{x}', enforce => false);
INSERT INTO rvtest.lo_bad VALUES (1, 1);
SELECT tbl, ignore_columns, enforce FROM rowversion.tables WHERE tbl = 'rvtest.lo_bad'::regclass;

-- A DELETE after an UPDATE of the same row whose failed precondition was
-- let through, and then rolled back to a savepoint, is checked again.
CREATE TABLE rvtest.lo_sp (id int PRIMARY KEY, x int CHECK (x >= 0));
SELECT rowversion.enable('rvtest.lo_sp', mode => 'counter', enforce => false);
INSERT INTO rvtest.lo_sp VALUES (1, 0);
BEGIN;
SELECT rowversion.expect_match('rvtest.lo_sp', '"99"');
SAVEPOINT s;
\set VERBOSITY terse
UPDATE rvtest.lo_sp SET x = -1 WHERE id = 1;
ROLLBACK TO SAVEPOINT s;
DELETE FROM rvtest.lo_sp WHERE id = 1;
\set VERBOSITY default
COMMIT;
SELECT conflicts FROM rowversion.conflicts WHERE tbl = 'rvtest.lo_sp'::regclass;

-- A statement reports at most 10 of what it lets through, then says so
-- once; every one is counted.
INSERT INTO rvtest.lo_sp SELECT g, 0 FROM generate_series(1, 25) g;
\set VERBOSITY terse
UPDATE rvtest.lo_sp SET x = 1, row_version = 7;
\set VERBOSITY default
SELECT conflicts FROM rowversion.conflicts WHERE tbl = 'rvtest.lo_sp'::regclass;

-- Through a SECURITY DEFINER function, a warning goes to the caller, who
-- may not read the version: its DETAIL does not show it.
CREATE ROLE rv_enforce_caller;
CREATE FUNCTION rvtest.lo_set(i int, v bigint) RETURNS void SECURITY DEFINER
  SET search_path = pg_catalog LANGUAGE sql
  AS $$ UPDATE rvtest.lo_sp SET x = 2, row_version = v WHERE id = i $$;
GRANT EXECUTE ON FUNCTION rvtest.lo_set(int, bigint) TO rv_enforce_caller;
SET ROLE rv_enforce_caller;
SELECT rvtest.lo_set(1, 99);
RESET ROLE;
SELECT rvtest.lo_set(1, 99);

-- A table with a second version trigger made by hand is counted once.
CREATE TRIGGER aa_rowversion BEFORE INSERT OR UPDATE OR DELETE ON rvtest.lo_sp
  FOR EACH ROW EXECUTE FUNCTION rowversion.version_trigger('row_version', 'counter', 'false', '', 'enforce=false');
SELECT count(*) FROM rowversion.tables WHERE tbl = 'rvtest.lo_sp'::regclass;
SELECT conflicts FROM rowversion.conflicts WHERE tbl = 'rvtest.lo_sp'::regclass;
DROP FUNCTION rvtest.lo_set(int, bigint);
DROP ROLE rv_enforce_caller;
DROP TABLE rvtest.lo_sp;

DROP TABLE rvtest.lo, rvtest.reused, rvtest.lo_parts, rvtest.lo_bad;
REVOKE USAGE ON SCHEMA rvtest FROM rv_enforce_writer;
DROP ROLE rv_enforce_writer;
-- Rows of dropped tables are not shown.
SELECT count(*) FROM rowversion.conflicts WHERE tbl::text LIKE 'rvtest.lo%';
DELETE FROM rowversion.conflict_counts;
