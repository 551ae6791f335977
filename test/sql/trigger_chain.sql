-- The row trigger among other triggers.  It writes the version into the
-- row the executor holds for the statement; everything that reads that row
-- afterwards must see the new version: indexes, CHECK constraints,
-- RETURNING, later triggers' WHEN clauses and AFTER triggers, also when an
-- earlier trigger's WHEN clause had already read the row's columns.
CREATE TABLE rvtest.chain (id int PRIMARY KEY, n int NOT NULL DEFAULT 0,
  note text, row_version bigint NOT NULL DEFAULT 0 CHECK (row_version <> 1));
CREATE INDEX chain_version ON rvtest.chain (row_version);
SELECT rowversion.enable('rvtest.chain', mode => 'counter');

-- Fires before zz_rowversion; its WHEN clause reads every column.
CREATE FUNCTION rvtest.chain_noop() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RETURN NEW;
END $$;
CREATE TRIGGER a_reads BEFORE INSERT OR UPDATE ON rvtest.chain FOR EACH ROW
  WHEN (NEW.row_version IS NOT NULL AND NEW.note IS DISTINCT FROM 'x')
  EXECUTE FUNCTION rvtest.chain_noop();
-- Fires after it: sees the version zz_rowversion wrote.
CREATE FUNCTION rvtest.chain_seen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE '% % sees version %', TG_NAME, TG_OP, NEW.row_version;
  RETURN NEW;
END $$;
CREATE TRIGGER zzz_sees BEFORE INSERT OR UPDATE ON rvtest.chain FOR EACH ROW
  WHEN (NEW.row_version > 0) EXECUTE FUNCTION rvtest.chain_seen();
CREATE TRIGGER after_sees AFTER INSERT OR UPDATE ON rvtest.chain FOR EACH ROW
  WHEN (NEW.row_version > 0) EXECUTE FUNCTION rvtest.chain_seen();

-- Counter mode starts a row without a version at 1, which the CHECK
-- constraint refuses: the constraint sees the trigger's value, not the
-- NULL the client wrote.
SELECT * FROM rvtest.error($$INSERT INTO rvtest.chain (id, row_version) VALUES (1, NULL)$$);
INSERT INTO rvtest.chain (id, row_version) VALUES (1, 5) RETURNING id, row_version;

-- UPDATE: 5 -> 6, seen by RETURNING, by both later triggers, and by the
-- index.
UPDATE rvtest.chain SET n = n + 1 WHERE id = 1 RETURNING row_version;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM rvtest.chain WHERE row_version = 6;
SELECT id FROM rvtest.chain WHERE row_version = 6;
SELECT count(*) AS old_entries FROM rvtest.chain WHERE row_version = 5;
RESET enable_seqscan;
RESET enable_bitmapscan;

-- A claim of the version the row has: the CHECK constraint sees the new
-- value, 7, while the client wrote 6.
UPDATE rvtest.chain SET n = n + 1, row_version = 6 WHERE id = 1 RETURNING row_version;

-- An earlier trigger that returns a row of its own: the version is written
-- into that row.
CREATE OR REPLACE FUNCTION rvtest.chain_noop() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.note := coalesce(NEW.note, '') || '+';
  RETURN NEW;
END $$;
UPDATE rvtest.chain SET n = n + 1 WHERE id = 1 RETURNING note, row_version;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT id, note FROM rvtest.chain WHERE row_version = 8;
RESET enable_seqscan;
RESET enable_bitmapscan;

-- Statements with many rows: every row's index entry has its own version.
DROP TRIGGER zzz_sees ON rvtest.chain;
DROP TRIGGER after_sees ON rvtest.chain;
INSERT INTO rvtest.chain (id, row_version) SELECT g, 10 FROM generate_series(2, 50) g;
UPDATE rvtest.chain SET n = n + 1, row_version = row_version WHERE id > 1;
UPDATE rvtest.chain SET n = n + 1 WHERE id > 1 AND id % 2 = 0;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT row_version, count(*) FROM rvtest.chain WHERE row_version IN (11, 12) GROUP BY 1 ORDER BY 1;
RESET enable_seqscan;
RESET enable_bitmapscan;
SELECT row_version, count(*) FROM rvtest.chain WHERE id > 1 GROUP BY 1 ORDER BY 1;

-- Mode xact: the same through an index.
CREATE TABLE rvtest.chain_x (id int PRIMARY KEY, note text);
SELECT rowversion.enable('rvtest.chain_x');
CREATE INDEX chain_x_version ON rvtest.chain_x (row_version);
CREATE TRIGGER a_reads BEFORE INSERT OR UPDATE ON rvtest.chain_x FOR EACH ROW
  WHEN (NEW.row_version IS NOT NULL OR NEW.note IS NOT NULL)
  EXECUTE FUNCTION rvtest.chain_noop();
BEGIN;
INSERT INTO rvtest.chain_x SELECT g, 'i' FROM generate_series(1, 20) g;
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT count(*) AS inserted_with_xact_id FROM rvtest.chain_x
  WHERE row_version = pg_current_xact_id()::text::bigint;
COMMIT;
BEGIN;
UPDATE rvtest.chain_x SET note = 'u' WHERE id <= 10;
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT count(*) AS updated_with_xact_id FROM rvtest.chain_x
  WHERE row_version = pg_current_xact_id()::text::bigint;
COMMIT;
-- Heap and indexes agree: amcheck finds every row's index entries.
CREATE EXTENSION IF NOT EXISTS amcheck;
SELECT bt_index_check('rvtest.chain_version', true),
       bt_index_check('rvtest.chain_x_version', true);

-- The row changed in place after an earlier trigger's WHEN clause had read
-- its columns without the trigger firing, and an earlier trigger that
-- returned the row it was given: the first column has a variable width, so
-- reading any column after it steps over it.
CREATE TABLE rvtest.chain_s (k text PRIMARY KEY, n int NOT NULL DEFAULT 0, note text);
SELECT rowversion.enable('rvtest.chain_s');
CREATE INDEX chain_s_version ON rvtest.chain_s (row_version);
CREATE TRIGGER a_same BEFORE UPDATE ON rvtest.chain_s FOR EACH ROW
  EXECUTE FUNCTION suppress_redundant_updates_trigger();
CREATE TRIGGER b_skip BEFORE INSERT OR UPDATE ON rvtest.chain_s FOR EACH ROW
  WHEN (NEW.row_version < 0 OR NEW.note = 'never') EXECUTE FUNCTION rvtest.chain_noop();
CREATE TRIGGER zzz_sees BEFORE INSERT OR UPDATE ON rvtest.chain_s FOR EACH ROW
  WHEN (NEW.row_version = 42) EXECUTE FUNCTION rvtest.chain_seen();
BEGIN;
INSERT INTO rvtest.chain_s (k, row_version) VALUES ('a', 42), ('b', 42)
  RETURNING k, row_version = pg_current_xact_id()::text::bigint AS is_xact_id;
COMMIT;
BEGIN;
UPDATE rvtest.chain_s SET n = n + 1
  RETURNING k, n, row_version = pg_current_xact_id()::text::bigint AS is_xact_id;
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT k FROM rvtest.chain_s WHERE row_version = pg_current_xact_id()::text::bigint ORDER BY k;
COMMIT;
SELECT bt_index_check('rvtest.chain_s_pkey', true),
       bt_index_check('rvtest.chain_s_version', true);

-- A partitioned table whose partition key is the version column: the
-- version the trigger assigns must still fit the partition the row was
-- routed to, as for any BEFORE trigger that changes a partition key.
CREATE TABLE rvtest.chain_p (id int, row_version bigint NOT NULL)
  PARTITION BY RANGE (row_version);
CREATE TABLE rvtest.chain_p_low PARTITION OF rvtest.chain_p FOR VALUES FROM (MINVALUE) TO (2);
CREATE TABLE rvtest.chain_p_high PARTITION OF rvtest.chain_p FOR VALUES FROM (2) TO (MAXVALUE);
SELECT rowversion.enable('rvtest.chain_p');
SELECT code, message FROM rvtest.error($$INSERT INTO rvtest.chain_p VALUES (1, 1)$$);
SELECT code, message FROM rvtest.error($$INSERT INTO rvtest.chain_p_low VALUES (1, 1)$$);
INSERT INTO rvtest.chain_p VALUES (2, 5);
SELECT tableoid::regclass, id FROM rvtest.chain_p;
