-- expect_match(): an If-Match precondition for the UPDATE and DELETE
-- statements that the client sends in the rest of the transaction, checked
-- by the row trigger.  Counter mode keeps the versions readable.
CREATE TABLE rvtest.doc (id int PRIMARY KEY, name text);
SELECT rowversion.enable('rvtest.doc', mode => 'counter');
INSERT INTO rvtest.doc VALUES (1, 'a'), (2, 'b'), (3, 'c');

-- enable() installs the trigger for DELETE as well
SELECT tgname, (tgtype & 4) <> 0 AS on_insert, (tgtype & 16) <> 0 AS on_update,
       (tgtype & 8) <> 0 AS on_delete
FROM pg_trigger WHERE tgrelid = 'rvtest.doc'::regclass;

-- A matching If-Match lets the write through; the version moves on.
BEGIN;
SELECT rowversion.expect_match('rvtest.doc', '"1"');
UPDATE rvtest.doc SET name = 'a2' WHERE id = 1 RETURNING id, name, row_version;
-- the row is at 2 now: the same request's If-Match no longer holds for it
SELECT * FROM rvtest.error($$UPDATE rvtest.doc SET name = 'a3' WHERE id = 1$$);
COMMIT;
SELECT id, name, row_version FROM rvtest.doc ORDER BY id;

-- A stale If-Match: RV001 with the expected header and the current version,
-- and the statement changes nothing (row 1 is at 2, row 2 at 1).
BEGIN;
SELECT rowversion.expect_match('rvtest.doc', '"1"');
SELECT * FROM rvtest.error($$UPDATE rvtest.doc SET name = 'stale' WHERE id IN (1, 2)$$);
SELECT * FROM rvtest.error_fields($$UPDATE rvtest.doc SET name = 'stale' WHERE id = 1$$);
SELECT * FROM rvtest.error($$DELETE FROM rvtest.doc WHERE id = 1$$);
-- row 2 is at 1: those writes pass
UPDATE rvtest.doc SET name = 'b2' WHERE id = 2 RETURNING id, row_version;
ROLLBACK;
SELECT id, name, row_version FROM rvtest.doc ORDER BY id;

-- DELETE is checked too, and a matching one deletes.
BEGIN;
SELECT rowversion.expect_match('rvtest.doc', '"2"');
SELECT * FROM rvtest.error($$DELETE FROM rvtest.doc WHERE id = 3$$);
DELETE FROM rvtest.doc WHERE id = 1 RETURNING id;
ROLLBACK;

-- RFC 9110 If-Match rules: "*" matches any row; a list matches when one of
-- its tags does; a weak tag never matches; a malformed header never
-- matches and is no error of its own.
BEGIN;
SELECT rowversion.expect_match('rvtest.doc', '*');
UPDATE rvtest.doc SET name = name WHERE id IN (1, 2, 3) RETURNING id, row_version;
ROLLBACK;
BEGIN;
SELECT rowversion.expect_match('rvtest.doc', '"7", "1" , "2"');
UPDATE rvtest.doc SET name = name WHERE id IN (1, 2, 3) RETURNING id, row_version;
ROLLBACK;
SELECT h, (rvtest.error(format($$SELECT rowversion.expect_match('rvtest.doc', %L);
                                  UPDATE rvtest.doc SET name = name WHERE id = 2$$, h))).code
FROM (VALUES ('W/"1"'), ('"1'), ('1'), (''), ('"1" "2"'), ('*, "1"')) AS v(h);

-- Several tables can each have one; calling again replaces the header; a
-- NULL header removes it.
CREATE TABLE rvtest.note (id int PRIMARY KEY, body text);
SELECT rowversion.enable('rvtest.note', mode => 'counter');
INSERT INTO rvtest.note VALUES (1, 'n');
BEGIN;
SELECT rowversion.expect_match('rvtest.doc', '"9"');
SELECT rowversion.expect_match('rvtest.note', '"1"');
UPDATE rvtest.note SET body = 'n2' RETURNING row_version;
SELECT (rvtest.error($$UPDATE rvtest.doc SET name = name WHERE id = 2$$)).code;
SELECT rowversion.expect_match('rvtest.doc', '"1"');
UPDATE rvtest.doc SET name = name WHERE id = 2 RETURNING row_version;
SELECT rowversion.expect_match('rvtest.doc', NULL);
UPDATE rvtest.doc SET name = name WHERE id = 2 RETURNING row_version;
ROLLBACK;

-- It ends with the transaction, committed or rolled back (a failed one
-- too), and does not reach the next one.
BEGIN;
SELECT rowversion.expect_match('rvtest.doc', '"9"');
ROLLBACK;
UPDATE rvtest.doc SET name = name WHERE id = 2 RETURNING row_version;
BEGIN;
SELECT rowversion.expect_match('rvtest.doc', '"9"');
COMMIT;
UPDATE rvtest.doc SET name = name WHERE id = 2 RETURNING row_version;
BEGIN;
SELECT rowversion.expect_match('rvtest.doc', '"9"');
SELECT 1 / 0;
ROLLBACK;
UPDATE rvtest.doc SET name = name WHERE id = 2 RETURNING row_version;

-- One registered in a subtransaction that rolls back is undone with it
-- (the one before it is back); one in a released subtransaction stays.
BEGIN;
SELECT rowversion.expect_match('rvtest.doc', '"9"');
SAVEPOINT s;
SELECT rowversion.expect_match('rvtest.doc', '*');
ROLLBACK TO SAVEPOINT s;
SELECT (rvtest.error($$UPDATE rvtest.doc SET name = name WHERE id = 2$$)).code;
SAVEPOINT s2;
SELECT rowversion.expect_match('rvtest.doc', NULL);
RELEASE SAVEPOINT s2;
UPDATE rvtest.doc SET name = name WHERE id = 2 RETURNING row_version;
ROLLBACK;

-- Only in a transaction block: in autocommit it would end with its own
-- statement and let the next write through (25P01).
SELECT rowversion.expect_match('rvtest.doc', '"1"');
-- (a multi-statement query string is one transaction block)
DO $$ BEGIN PERFORM rowversion.expect_match('rvtest.doc', '"9"'); END $$ \; UPDATE rvtest.doc SET name = name WHERE id = 2;
UPDATE rvtest.doc SET name = name WHERE id = 2 RETURNING row_version;

-- Bad input: each a clear error, nothing registered.
BEGIN;
SELECT * FROM rvtest.error($$SELECT rowversion.expect_match(NULL, '"1"')$$);
SELECT * FROM rvtest.error($$SELECT rowversion.expect_match(0, '"1"')$$);
CREATE VIEW rvtest.doc_view AS SELECT * FROM rvtest.doc;
SELECT * FROM rvtest.error($$SELECT rowversion.expect_match('rvtest.doc_view', '"1"')$$);
CREATE TABLE rvtest.plain (id int PRIMARY KEY);
SELECT * FROM rvtest.error($$SELECT rowversion.expect_match('rvtest.plain', '"1"')$$);
SELECT * FROM rvtest.error($$SELECT rowversion.expect_match('rvtest.doc', repeat('"1",', 2049))$$);
-- (DETAIL repeats at most 200 bytes of it)
SELECT rowversion.expect_match('rvtest.doc', repeat('"0",', 100) || '"77"');
SELECT detail FROM rvtest.error($$UPDATE rvtest.doc SET name = name WHERE id = 3$$);
-- the longest header accepted (8192 bytes)
SELECT rowversion.expect_match('rvtest.doc', repeat('"0",', 2047) || '"1" ');
UPDATE rvtest.doc SET name = name WHERE id = 3 RETURNING row_version;
ALTER TABLE rvtest.doc DISABLE TRIGGER zz_rowversion;
SELECT * FROM rvtest.error($$SELECT rowversion.expect_match('rvtest.doc', '"1"')$$);
ROLLBACK;

-- A trigger made by enable() before it covered DELETE: refused until
-- enable() is called again, which upgrades it.
BEGIN;
DROP TRIGGER zz_rowversion ON rvtest.note;
CREATE TRIGGER zz_rowversion BEFORE INSERT OR UPDATE ON rvtest.note FOR EACH ROW
  EXECUTE FUNCTION rowversion.version_trigger('row_version', 'counter', 'false');
SELECT * FROM rvtest.error($$SELECT rowversion.expect_match('rvtest.note', '"1"')$$);
SELECT rowversion.enable('rvtest.note', mode => 'counter');
SELECT (tgtype & 8) <> 0 AS on_delete FROM pg_trigger WHERE tgrelid = 'rvtest.note'::regclass;
SELECT rowversion.expect_match('rvtest.note', '"9"');
SELECT (rvtest.error($$DELETE FROM rvtest.note$$)).code;
ROLLBACK;

-- A precondition counts as a claim for require_version.
CREATE TABLE rvtest.strict_doc (id int PRIMARY KEY, name text);
SELECT rowversion.enable('rvtest.strict_doc', mode => 'counter', require_version => true);
INSERT INTO rvtest.strict_doc VALUES (1, 'a');
SELECT (rvtest.error($$UPDATE rvtest.strict_doc SET name = 'x'$$)).code;
BEGIN;
SELECT rowversion.expect_match('rvtest.strict_doc', '"1"');
UPDATE rvtest.strict_doc SET name = 'x' RETURNING row_version;
-- and still fails where the header does not hold
SELECT (rvtest.error($$UPDATE rvtest.strict_doc SET name = 'y'$$)).code;
COMMIT;

-- Partitions: a precondition on the partitioned table holds for every
-- partition, also for a row an UPDATE moves between them; one on a
-- partition holds for that partition alone.
CREATE TABLE rvtest.part (id int, region text, name text, PRIMARY KEY (id, region))
  PARTITION BY LIST (region);
CREATE TABLE rvtest.part_eu PARTITION OF rvtest.part FOR VALUES IN ('eu');
CREATE TABLE rvtest.part_us PARTITION OF rvtest.part FOR VALUES IN ('us');
SELECT rowversion.enable('rvtest.part', mode => 'counter');
INSERT INTO rvtest.part VALUES (1, 'eu', 'a'), (2, 'us', 'b');
BEGIN;
SELECT rowversion.expect_match('rvtest.part', '"5"');
SELECT (rvtest.error($$UPDATE rvtest.part SET name = 'x' WHERE id = 1$$)).code;
SELECT (rvtest.error($$UPDATE rvtest.part_us SET name = 'x'$$)).code;
SELECT (rvtest.error($$UPDATE rvtest.part SET region = 'us' WHERE id = 1$$)).code;
SELECT rowversion.expect_match('rvtest.part', '"1"');
UPDATE rvtest.part SET region = 'us' WHERE id = 1 RETURNING tableoid::regclass, row_version;
ROLLBACK;
-- a partition whose trigger is disabled would let writes through: refused
BEGIN;
ALTER TABLE rvtest.part_us DISABLE TRIGGER zz_rowversion;
SELECT * FROM rvtest.error($$SELECT rowversion.expect_match('rvtest.part', '"1"')$$);
ROLLBACK;
BEGIN;
SELECT rowversion.expect_match('rvtest.part_eu', '"9"');
UPDATE rvtest.part SET name = 'x' WHERE id = 2 RETURNING row_version;
SELECT (rvtest.error($$DELETE FROM rvtest.part WHERE id = 1$$)).code;
-- registered on both: both must hold
SELECT rowversion.expect_match('rvtest.part_eu', '"1"');
SELECT rowversion.expect_match('rvtest.part', '"2"');
SELECT (rvtest.error($$DELETE FROM rvtest.part WHERE id = 1$$)).code;
SELECT rowversion.expect_match('rvtest.part', '*');
DELETE FROM rvtest.part WHERE id = 1 RETURNING id;
ROLLBACK;

-- Only the client's own writes: a foreign key's cascade, a propagate()
-- bump and an application trigger change rows that the precondition does
-- not cover.
CREATE TABLE rvtest.ord (id int PRIMARY KEY, note text);
CREATE TABLE rvtest.line (id int PRIMARY KEY,
  ord int NOT NULL REFERENCES rvtest.ord ON DELETE CASCADE ON UPDATE CASCADE, qty int);
SELECT rowversion.enable('rvtest.ord', mode => 'counter');
SELECT rowversion.enable('rvtest.line', mode => 'counter');
SELECT rowversion.propagate('rvtest.line', 'rvtest.ord');
INSERT INTO rvtest.ord VALUES (1, 'o');
INSERT INTO rvtest.line VALUES (10, 1, 1), (11, 1, 2);
SELECT id, row_version FROM rvtest.ord;
SELECT id, row_version FROM rvtest.line ORDER BY id;
BEGIN;
-- the order is at 2 after its lines' insert; the lines are at 1
SELECT rowversion.expect_match('rvtest.ord', '"1"');
SELECT rowversion.expect_match('rvtest.line', '"1"');
-- the line update bumps the order through propagate: not refused
UPDATE rvtest.line SET qty = 5 WHERE id = 10 RETURNING id, row_version;
SELECT id, row_version FROM rvtest.ord;
-- the order's own update is the client's: refused
SELECT (rvtest.error($$UPDATE rvtest.ord SET note = 'x'$$)).code;
ROLLBACK;
BEGIN;
SELECT rowversion.expect_match('rvtest.ord', '"2"');
SELECT rowversion.expect_match('rvtest.line', '"9"');
-- the cascade deletes both lines (at 1, If-Match "9"): not refused
DELETE FROM rvtest.ord WHERE id = 1 RETURNING id;
SELECT count(*) FROM rvtest.line;
ROLLBACK;
CREATE FUNCTION rvtest.touch_note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE rvtest.note SET body = body || '!';
  RETURN NEW;
END
$$;
CREATE TRIGGER touch_note AFTER UPDATE ON rvtest.doc FOR EACH ROW
  EXECUTE FUNCTION rvtest.touch_note();
BEGIN;
SELECT rowversion.expect_match('rvtest.note', '"9"');
UPDATE rvtest.doc SET name = name WHERE id = 2;
SELECT body, row_version FROM rvtest.note;
ROLLBACK;
DROP TRIGGER touch_note ON rvtest.doc;

-- rowversion.sqlstate_style = postgrest: PT412
BEGIN;
SET LOCAL rowversion.sqlstate_style = postgrest;
SELECT rowversion.expect_match('rvtest.doc', '"9"');
SELECT (rvtest.error($$DELETE FROM rvtest.doc WHERE id = 2$$)).code;
ROLLBACK;

-- Without a registered precondition, the DELETE path changes nothing.
DELETE FROM rvtest.doc WHERE id = 3 RETURNING id, name;

-- Privileges: a role that may neither update nor delete cannot register
-- one; nor can a role that may not read the version (42501, whatever the
-- header), since whether its writes pass would tell the version.
CREATE ROLE rv_em_reader;
CREATE ROLE rv_em_writer;
GRANT SELECT ON rvtest.doc TO rv_em_reader;
GRANT UPDATE (name) ON rvtest.doc TO rv_em_writer;
BEGIN;
SET LOCAL ROLE rv_em_reader;
SELECT * FROM rvtest.error($$SELECT rowversion.expect_match('rvtest.doc', '"1"')$$);
ROLLBACK;
BEGIN;
SET LOCAL ROLE rv_em_writer;
SELECT * FROM rvtest.error($$SELECT rowversion.expect_match('rvtest.doc', '"9"')$$);
ROLLBACK;
REVOKE ALL ON rvtest.doc FROM rv_em_reader, rv_em_writer;
DROP ROLE rv_em_reader;
DROP ROLE rv_em_writer;

-- postgrest_pre_request(): the request settings as PostgREST sets them,
-- in the schema PostgREST serves (the first of the search_path it sets).
CREATE SCHEMA rvapi;
CREATE TABLE rvapi.items (id int PRIMARY KEY, name text);
SELECT rowversion.enable('rvapi.items', mode => 'counter');
INSERT INTO rvapi.items VALUES (1, 'a');
CREATE FUNCTION rvtest.request(method text, path text, headers text) RETURNS void
LANGUAGE sql AS $$
  SELECT set_config('search_path', 'rvapi, public', true),
         set_config('request.method', method, true),
         set_config('request.path', path, true),
         set_config('request.headers', headers, true);
  SELECT rowversion.postgrest_pre_request();
$$;
-- a stale If-Match on PATCH, PUT and DELETE: PT412
BEGIN;
SET LOCAL rowversion.sqlstate_style = postgrest;
SELECT rvtest.request('PATCH', '/items', '{"if-match": "\"7\"", "accept": "*/*"}');
SELECT (rvtest.error($$UPDATE rvapi.items SET name = 'x' WHERE id = 1$$)).code;
SELECT rvtest.request('PUT', '/items', '{"if-match": "\"7\""}');
SELECT (rvtest.error($$UPDATE rvapi.items SET name = 'x' WHERE id = 1$$)).code;
SELECT rvtest.request('DELETE', '/items/', '{"if-match": "\"7\""}');
SELECT (rvtest.error($$DELETE FROM rvapi.items WHERE id = 1$$)).code;
-- the current one passes
SELECT rvtest.request('PATCH', '/items', '{"if-match": "\"1\""}');
UPDATE rvapi.items SET name = 'x' WHERE id = 1 RETURNING row_version;
ROLLBACK;
-- nothing is registered for: GET and POST, no If-Match header, an RPC
-- path, a name that is no relation of that schema (PostgREST answers 404)
BEGIN;
SELECT rvtest.request('GET', '/items', '{"if-match": "\"7\""}');
SELECT rvtest.request('POST', '/items', '{"if-match": "\"7\""}');
SELECT rvtest.request('PATCH', '/items', '{"accept": "*/*"}');
SELECT rvtest.request('PATCH', '/rpc/items', '{"if-match": "\"7\""}');
SELECT rvtest.request('PATCH', '/doc', '{"if-match": "\"7\""}');
SELECT rvtest.request('PATCH', '/', '{"if-match": "\"7\""}');
UPDATE rvapi.items SET name = 'y' WHERE id = 1 RETURNING row_version;
ROLLBACK;
-- a percent-encoded name
CREATE TABLE rvapi."odd name" (id int PRIMARY KEY);
SELECT rowversion.enable('rvapi."odd name"');
INSERT INTO rvapi."odd name" VALUES (1);
BEGIN;
SELECT rvtest.request('DELETE', '/odd%20name', '{"if-match": "\"1\""}');
SELECT (rvtest.error($$DELETE FROM rvapi."odd name"$$)).code;
ROLLBACK;
-- no settings at all (not under PostgREST): nothing
BEGIN;
SELECT rowversion.postgrest_pre_request();
ROLLBACK;
-- errors: a view or a table that is not enabled with an If-Match cannot
-- be protected; malformed request.headers; autocommit
CREATE VIEW rvapi.items_view AS SELECT * FROM rvapi.items;
CREATE TABLE rvapi.plain (id int PRIMARY KEY);
BEGIN;
SELECT * FROM rvtest.error($$SELECT rvtest.request('PATCH', '/items_view', '{"if-match": "\"1\""}')$$);
SELECT * FROM rvtest.error($$SELECT rvtest.request('PATCH', '/plain', '{"if-match": "\"1\""}')$$);
SELECT * FROM rvtest.error($$SELECT rvtest.request('PATCH', '/items', 'not json')$$);
SELECT * FROM rvtest.error($$SELECT rvtest.request('PATCH', '/items', '["if-match"]')$$);
SELECT * FROM rvtest.error($$SELECT rvtest.request('PATCH', '/items', '{"if-match": 7}')$$);
ROLLBACK;
SELECT rvtest.request('PATCH', '/items', '{"if-match": "\"1\""}');
RESET search_path;

-- rowversion.preconditions carries registrations to Citus nodes; set by
-- hand it is refused (what writes did would tell versions to a caller
-- expect_match() did not check), and malformed values are not taken
SELECT rowversion.etag(1);
BEGIN;
SET LOCAL rowversion.preconditions = '6:rvtest3:doc3:"1"';
UPDATE rvtest.doc SET name = name;
ROLLBACK;
BEGIN;
SELECT * FROM rvtest.error($$SET LOCAL rowversion.preconditions = '6:rvtest3:doc'$$);
SELECT * FROM rvtest.error($$SET LOCAL rowversion.preconditions = '99999999:x'$$);
ROLLBACK;
-- not as a default of a role or database; a session's own SET can be reset
SELECT * FROM rvtest.error($$ALTER ROLE CURRENT_USER SET rowversion.preconditions = '6:rvtest3:doc3:"1"'$$);
SET rowversion.preconditions = '6:rvtest3:doc3:"1"';
SELECT * FROM rvtest.error($$UPDATE rvtest.doc SET name = name$$);
RESET rowversion.preconditions;
UPDATE rvtest.doc SET name = name WHERE id = 1;
-- a context line that looks like the one a Citus shard's error carries is
-- left alone without Citus (the error keeps its code and fields)
DO $$BEGIN EXECUTE E'UPDATE rvtest.doc SET row_version = 0, name = ''\nrow version column "pg_catalog"."pg_authid"."rolpassword"'' WHERE id = 1'; END$$;

DROP SCHEMA rvapi CASCADE;
DROP FUNCTION rvtest.request(text, text, text);
DROP FUNCTION rvtest.touch_note();
DROP TABLE rvtest.line, rvtest.ord, rvtest.part, rvtest.strict_doc, rvtest.note,
  rvtest.doc;
