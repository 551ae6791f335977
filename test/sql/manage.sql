-- enable() and disable(): what they change, and what they refuse.
CREATE TABLE rvtest.person (id int PRIMARY KEY, name text);
INSERT INTO rvtest.person SELECT g, 'p' || g FROM generate_series(1, 3) g;

-- enable() adds the column to a table with rows and fills it with the
-- current transaction's ID, then NOT NULL and no default.
BEGIN;
SELECT rowversion.enable('rvtest.person');
SELECT count(*) FILTER (WHERE row_version = pg_current_xact_id()::text::bigint) AS filled
FROM rvtest.person;
COMMIT;
\d rvtest.person
SELECT * FROM rowversion.tables WHERE tbl = 'rvtest.person'::regclass;

-- Idempotent: called again with the same options it changes nothing.
SELECT tgname, oid AS trigger_oid FROM pg_trigger WHERE tgrelid = 'rvtest.person'::regclass \gset
SELECT rowversion.enable('rvtest.person');
SELECT oid = :trigger_oid AS same_trigger FROM pg_trigger WHERE tgrelid = 'rvtest.person'::regclass;
-- Called again with other options it changes them, keeping the values.
CREATE TEMP TABLE person_before AS SELECT id, row_version FROM rvtest.person;
SELECT rowversion.enable('rvtest.person', require_version => true, ignore_columns => '{name,name}');
SELECT * FROM rowversion.tables WHERE tbl = 'rvtest.person'::regclass;
SELECT count(*) AS kept FROM rvtest.person JOIN person_before USING (id, row_version);
-- A different version column than the one in use is refused.
SELECT * FROM rvtest.error($$SELECT rowversion.enable('rvtest.person', 'other_version')$$);

-- disable() removes the trigger and keeps the column unless asked.
SELECT rowversion.disable('rvtest.person');
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'rvtest.person'::regclass;
SELECT count(*) AS with_versions FROM rvtest.person WHERE row_version IS NOT NULL;
-- Enabling again keeps the existing values.
SELECT rowversion.enable('rvtest.person');
SELECT count(*) AS kept FROM rvtest.person JOIN person_before USING (id, row_version);
SELECT rowversion.disable('rvtest.person', drop_column => true);
SELECT count(*) AS version_columns FROM pg_attribute
WHERE attrelid = 'rvtest.person'::regclass AND attname = 'row_version' AND NOT attisdropped;
-- disable() of a table that keeps no versions is an error.
SELECT * FROM rvtest.error($$SELECT rowversion.disable('rvtest.person')$$);

-- Counter mode fills existing rows with 1.
SELECT rowversion.enable('rvtest.person', 'version', 'counter');
SELECT DISTINCT version FROM rvtest.person;
SELECT rowversion.disable('rvtest.person', true);

-- An existing column: its values are kept, its NULLs filled, NOT NULL set.
ALTER TABLE rvtest.person ADD COLUMN lock_version int;
UPDATE rvtest.person SET lock_version = id * 10 WHERE id < 3;
SELECT rowversion.enable('rvtest.person', 'lock_version', 'counter');
SELECT id, lock_version FROM rvtest.person ORDER BY id;
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'rvtest.person'::regclass AND attname = 'lock_version';
-- Switching it to xact mode needs bigint.
SELECT * FROM rvtest.error($$SELECT rowversion.enable('rvtest.person', 'lock_version', 'xact')$$);
SELECT rowversion.disable('rvtest.person');

-- Existing columns of other types are refused (42804).
ALTER TABLE rvtest.person ADD COLUMN v_text text, ADD COLUMN v_num numeric;
SELECT * FROM rvtest.error($$SELECT rowversion.enable('rvtest.person', 'v_text')$$);
SELECT * FROM rvtest.error($$SELECT rowversion.enable('rvtest.person', 'v_num', 'counter')$$);
-- Generated and identity columns are refused (42P16).
ALTER TABLE rvtest.person ADD COLUMN v_gen bigint GENERATED ALWAYS AS (id) STORED,
  ADD COLUMN v_id bigint GENERATED ALWAYS AS IDENTITY;
SELECT * FROM rvtest.error($$SELECT rowversion.enable('rvtest.person', 'v_gen')$$);
SELECT code FROM rvtest.error($$SELECT rowversion.enable('rvtest.person', 'v_id')$$);

-- Bad options (22023, 42703).
SELECT * FROM rvtest.error($$SELECT rowversion.enable('rvtest.person', mode => 'wallclock')$$);
SELECT * FROM rvtest.error($$SELECT rowversion.enable('rvtest.person', ignore_columns => '{nope}')$$);
SELECT * FROM rvtest.error($$SELECT rowversion.enable('rvtest.person', ignore_columns => '{row_version}')$$);
SELECT * FROM rvtest.error($$SELECT rowversion.enable('rvtest.person', ignore_columns => '{ctid}')$$);
SELECT code FROM rvtest.error($$SELECT rowversion.enable('rvtest.person', '')$$);
SELECT code FROM rvtest.error($$SELECT rowversion.enable('rvtest.person', 'xmin')$$);

-- NULL arguments (22004), each one.
SELECT * FROM rvtest.error($$SELECT rowversion.enable(NULL)$$);
SELECT message FROM rvtest.error($$SELECT rowversion.enable('rvtest.person', NULL)$$);
SELECT message FROM rvtest.error($$SELECT rowversion.enable('rvtest.person', mode => NULL)$$);
SELECT message FROM rvtest.error($$SELECT rowversion.enable('rvtest.person', require_version => NULL)$$);
SELECT message FROM rvtest.error($$SELECT rowversion.enable('rvtest.person', ignore_columns => NULL)$$);
SELECT message FROM rvtest.error($$SELECT rowversion.enable('rvtest.person', ignore_columns => '{NULL}')$$);
SELECT message FROM rvtest.error($$SELECT rowversion.disable(NULL)$$);
SELECT message FROM rvtest.error($$SELECT rowversion.disable('rvtest.person', NULL)$$);

-- Relations that are not tables (42809), catalogs, unknown tables (42P01).
CREATE VIEW rvtest.person_view AS SELECT * FROM rvtest.person;
CREATE MATERIALIZED VIEW rvtest.person_mv AS SELECT * FROM rvtest.person;
CREATE SEQUENCE rvtest.seq;
CREATE FOREIGN DATA WRAPPER rvtest_fdw;
CREATE SERVER rvtest_server FOREIGN DATA WRAPPER rvtest_fdw;
CREATE FOREIGN TABLE rvtest.remote (id int) SERVER rvtest_server;
SELECT * FROM rvtest.error($$SELECT rowversion.enable('rvtest.person_view')$$);
SELECT code, message FROM rvtest.error($$SELECT rowversion.enable('rvtest.person_mv')$$);
SELECT code, message FROM rvtest.error($$SELECT rowversion.enable('rvtest.seq')$$);
SELECT code, message FROM rvtest.error($$SELECT rowversion.enable('rvtest.remote')$$);
SELECT * FROM rvtest.error($$SELECT rowversion.enable('pg_class')$$);
SELECT code, message FROM rvtest.error($$SELECT rowversion.enable('information_schema.sql_features')$$);
SELECT code, message FROM rvtest.error($$SELECT rowversion.disable('pg_class')$$);
SELECT code, message FROM rvtest.error($$SELECT rowversion.enable('rvtest.no_such_table')$$);
SELECT code, message FROM rvtest.error($$SELECT rowversion.enable(1::oid::regclass)$$);
-- Nothing of the refused calls stayed behind.
SELECT count(*) AS triggers FROM pg_trigger WHERE tgfoid = 'rowversion.version_trigger()'::regprocedure;

-- The trigger function refuses to run other than as enable() creates it.
SELECT * FROM rvtest.error($$SELECT rowversion.version_trigger()$$);
CREATE TABLE rvtest.misuse (id int);
CREATE TRIGGER after_row AFTER UPDATE ON rvtest.misuse
  FOR EACH ROW EXECUTE FUNCTION rowversion.version_trigger('row_version', 'xact', 'false');
CREATE TRIGGER bad_args BEFORE INSERT ON rvtest.misuse
  FOR EACH ROW EXECUTE FUNCTION rowversion.version_trigger('id', 'fast', 'false');
SELECT * FROM rvtest.error($$INSERT INTO rvtest.misuse VALUES (1)$$);
DROP TRIGGER bad_args ON rvtest.misuse;
CREATE TRIGGER bad_column BEFORE INSERT ON rvtest.misuse
  FOR EACH ROW EXECUTE FUNCTION rowversion.version_trigger('gone', 'xact', 'false');
SELECT * FROM rvtest.error($$INSERT INTO rvtest.misuse VALUES (1)$$);
DROP TRIGGER bad_column ON rvtest.misuse;
CREATE TRIGGER bad_type BEFORE INSERT ON rvtest.misuse
  FOR EACH ROW EXECUTE FUNCTION rowversion.version_trigger('id', 'xact', 'false');
SELECT * FROM rvtest.error($$INSERT INTO rvtest.misuse VALUES (1)$$);
DROP TRIGGER bad_type ON rvtest.misuse;
INSERT INTO rvtest.misuse VALUES (1);
SELECT * FROM rvtest.error($$UPDATE rvtest.misuse SET id = 2$$);

-- A renamed version column: writes fail clearly until enable() names it.
CREATE TABLE rvtest.renamed (id int PRIMARY KEY);
SELECT rowversion.enable('rvtest.renamed');
ALTER TABLE rvtest.renamed RENAME COLUMN row_version TO etag_version;
SELECT * FROM rvtest.error($$INSERT INTO rvtest.renamed VALUES (1)$$);
SELECT rowversion.enable('rvtest.renamed', 'etag_version');
INSERT INTO rvtest.renamed VALUES (1);
SELECT version_column FROM rowversion.tables WHERE tbl = 'rvtest.renamed'::regclass;

-- A renamed version column is not replaced by a new one behind the
-- user's back: enable() asks for its new name.
ALTER TABLE rvtest.renamed RENAME COLUMN etag_version TO v2;
SELECT * FROM rvtest.error($$SELECT rowversion.enable('rvtest.renamed')$$);
SELECT rowversion.enable('rvtest.renamed', 'v2');

-- A trigger disabled by hand is enabled again by enable().
ALTER TABLE rvtest.renamed DISABLE TRIGGER zz_rowversion;
SELECT rowversion.enable('rvtest.renamed', 'v2');
SELECT tgenabled FROM pg_trigger WHERE tgrelid = 'rvtest.renamed'::regclass;

-- A hand-made trigger with arguments enable() would not write does not
-- break the view for everyone.
CREATE TRIGGER odd BEFORE INSERT ON rvtest.misuse
  FOR EACH ROW EXECUTE FUNCTION rowversion.version_trigger('id', 'xact', 'maybe');
CREATE TRIGGER odder AFTER INSERT ON rvtest.misuse
  FOR EACH ROW EXECUTE FUNCTION rowversion.version_trigger();
SELECT tbl, require_version FROM rowversion.tables WHERE tbl = 'rvtest.misuse'::regclass;
DROP TRIGGER odd ON rvtest.misuse;
DROP TRIGGER odder ON rvtest.misuse;

-- Only the table's owner may enable or disable it: a role with the
-- TRIGGER privilege alone may not (42501).
CREATE ROLE rv_trigger_only;
GRANT USAGE ON SCHEMA rvtest TO rv_trigger_only;
GRANT TRIGGER, SELECT ON rvtest.renamed TO rv_trigger_only;
SET ROLE rv_trigger_only;
SELECT * FROM rvtest.error($$SELECT rowversion.enable('rvtest.renamed', 'v2', 'counter')$$);
SELECT code FROM rvtest.error($$SELECT rowversion.disable('rvtest.renamed')$$);
RESET ROLE;
REVOKE ALL ON rvtest.renamed FROM rv_trigger_only;
REVOKE ALL ON SCHEMA rvtest FROM rv_trigger_only;
DROP ROLE rv_trigger_only;

-- Triggers do not reach inheritance children: enable the children first.
CREATE TABLE rvtest.vehicle (id int PRIMARY KEY);
CREATE TABLE rvtest.car () INHERITS (rvtest.vehicle);
SELECT * FROM rvtest.error($$SELECT rowversion.enable('rvtest.vehicle')$$);
SELECT rowversion.enable('rvtest.car');
SELECT rowversion.enable('rvtest.vehicle');
DROP TABLE rvtest.vehicle CASCADE;

-- BEFORE row triggers fire in the order of their names, compared byte by
-- byte.  enable() warns about one that sorts after its trigger, since it
-- could change a row after its version was checked: on the table, its
-- partitions and its inheritance children, whatever its events.  A name
-- that sorts first, AFTER and statement triggers, and propagate()'s row
-- trigger (meant to fire after it) are not reported.
CREATE FUNCTION rvtest.pass() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RETURN NEW;
END
$$;
CREATE TABLE rvtest.audited (id int PRIMARY KEY, note text);
CREATE TRIGGER audit BEFORE INSERT OR UPDATE ON rvtest.audited
  FOR EACH ROW EXECUTE FUNCTION rvtest.pass();
CREATE TRIGGER zzz_after AFTER UPDATE ON rvtest.audited
  FOR EACH ROW EXECUTE FUNCTION rvtest.pass();
CREATE TRIGGER zzz_statement BEFORE UPDATE ON rvtest.audited
  FOR EACH STATEMENT EXECUTE FUNCTION rvtest.pass();
SELECT rowversion.enable('rvtest.audited');
CREATE TRIGGER zzz_audit BEFORE DELETE ON rvtest.audited
  FOR EACH ROW EXECUTE FUNCTION rvtest.pass();
CREATE TRIGGER zz_rowversion_audit BEFORE UPDATE ON rvtest.audited
  FOR EACH ROW EXECUTE FUNCTION rvtest.pass();
-- called again, with the same options or others
SELECT rowversion.enable('rvtest.audited');
SELECT rowversion.enable('rvtest.audited', require_version => true);
SELECT count(*) AS version_triggers FROM pg_trigger
WHERE tgrelid = 'rvtest.audited'::regclass AND tgname = 'zz_rowversion';
DROP TRIGGER zzz_audit ON rvtest.audited;
DROP TRIGGER zz_rowversion_audit ON rvtest.audited;
SELECT rowversion.enable('rvtest.audited');
CREATE TABLE rvtest.audit_notes (id int PRIMARY KEY, audited_id int REFERENCES rvtest.audited);
SELECT rowversion.enable('rvtest.audit_notes');
SELECT rowversion.propagate('rvtest.audit_notes', 'rvtest.audited');
SELECT rowversion.enable('rvtest.audit_notes', mode => 'counter');
CREATE TABLE rvtest.audited_parts (id int, region text) PARTITION BY LIST (region);
CREATE TABLE rvtest.audited_eu PARTITION OF rvtest.audited_parts FOR VALUES IN ('eu');
CREATE TABLE rvtest.audited_us PARTITION OF rvtest.audited_parts FOR VALUES IN ('us');
CREATE TRIGGER zzz_audit BEFORE UPDATE ON rvtest.audited_us
  FOR EACH ROW EXECUTE FUNCTION rvtest.pass();
SELECT rowversion.enable('rvtest.audited_parts');
CREATE TABLE rvtest.audited_base (id int);
CREATE TABLE rvtest.audited_child () INHERITS (rvtest.audited_base);
SELECT rowversion.enable('rvtest.audited_child');
CREATE TRIGGER zzz_audit BEFORE INSERT ON rvtest.audited_child
  FOR EACH ROW EXECUTE FUNCTION rvtest.pass();
SELECT rowversion.enable('rvtest.audited_base');
DROP TABLE rvtest.audit_notes, rvtest.audited, rvtest.audited_parts, rvtest.audited_base CASCADE;
DROP FUNCTION rvtest.pass();

-- Odd identifiers are quoted everywhere.
CREATE SCHEMA "Odd Schema";
CREATE TABLE "Odd Schema"."select" ("a b" int PRIMARY KEY, "Name" text);
SELECT rowversion.enable('"Odd Schema"."select"', 'row "version"', 'counter',
                         ignore_columns => '{Name}');
INSERT INTO "Odd Schema"."select" VALUES (1, 'x');
UPDATE "Odd Schema"."select" SET "Name" = 'y' RETURNING "row ""version""";
UPDATE "Odd Schema"."select" SET "a b" = 2 RETURNING "row ""version""";
SELECT * FROM rowversion.tables WHERE tbl = '"Odd Schema"."select"'::regclass;
SELECT rowversion.disable('"Odd Schema"."select"', true);

DROP SCHEMA "Odd Schema" CASCADE;
DROP TABLE rvtest.person CASCADE;
DROP TABLE rvtest.misuse, rvtest.renamed;
DROP SEQUENCE rvtest.seq;
DROP FOREIGN DATA WRAPPER rvtest_fdw CASCADE;
