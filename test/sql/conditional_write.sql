-- conditional_write(): many conditional writes of one table in one call,
-- one result per item; atomic (all or none, every failure reported) or not.
CREATE TABLE rvtest.cw (id int PRIMARY KEY, name text, qty int CHECK (qty >= 0),
  tags text[]);
SELECT rowversion.enable('rvtest.cw', mode => 'counter');
INSERT INTO rvtest.cw SELECT g, 'n' || g, g, '{}' FROM generate_series(1, 6) g;

-- Every item holds: each is written, in one call, results in item order.
SELECT * FROM rowversion.conditional_write('rvtest.cw', $$[
  {"key": 3, "version": 1, "changes": {"name": "three"}},
  {"key": 1, "version": "1", "changes": {"qty": 10, "tags": ["a", "b"]}},
  {"key": 6, "version": 1, "delete": true}]$$);
SELECT * FROM rvtest.cw ORDER BY id;

-- Atomic, with a stale item and a missing one among good ones: nothing is
-- written, and every failure is reported; the conflict with the row as it
-- is now.
SELECT * FROM rowversion.conditional_write('rvtest.cw', $$[
  {"key": 2, "version": 1, "changes": {"name": "two"}},
  {"key": 3, "version": 1, "changes": {"name": "stale"}},
  {"key": 4, "version": 1, "delete": true},
  {"key": 99, "version": 1, "changes": {"name": "nobody"}},
  {"key": 1, "version": 5, "changes": {}}]$$);
SELECT * FROM rvtest.cw ORDER BY id;

-- Not atomic: the items that hold are written, the others reported.
SELECT * FROM rowversion.conditional_write('rvtest.cw', $$[
  {"key": 2, "version": 1, "changes": {"name": "two"}},
  {"key": 3, "version": 1, "changes": {"name": "stale"}},
  {"key": 4, "version": 1, "delete": true},
  {"key": 99, "version": 1, "changes": {"name": "nobody"}}]$$, atomic => false);
SELECT * FROM rvtest.cw ORDER BY id;

-- An empty batch writes nothing; a version the column cannot hold is a
-- conflict, never an error.
SELECT * FROM rowversion.conditional_write('rvtest.cw', '[]');
SELECT ordinality, status, version FROM rowversion.conditional_write('rvtest.cw',
  '[{"key": 1, "version": 9223372036854775807, "changes": {}}]');

-- Malformed items: an error naming the item's position (from 1, as
-- ordinality counts), and nothing written, not even the good items before.
SELECT * FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw', '{"key": 1}')$$);
SELECT * FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw', '"x"')$$);
SELECT * FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw', '[{"key": 1, "version": 2, "changes": {}}, 5]')$$);
SELECT * FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw', '[{"key": 1, "version": 2, "changes": {}}, {"version": 1, "changes": {}}]')$$);
SELECT * FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw', '[{"key": null, "version": 1, "changes": {}}]')$$);
SELECT * FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw', '[{"key": 1, "changes": {}}]')$$);
SELECT * FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw', '[{"key": 1, "version": true, "changes": {}}]')$$);
SELECT * FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw', '[{"key": 1, "version": 1.5, "changes": {}}]')$$);
SELECT * FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw', '[{"key": 1, "version": "99999999999999999999", "changes": {}}]')$$);
SELECT * FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw', '[{"key": 1, "version": 2}]')$$);
SELECT * FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw', '[{"key": 1, "version": 2, "changes": {}, "delete": true}]')$$);
SELECT * FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw', '[{"key": 1, "version": 2, "delete": false}]')$$);
SELECT * FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw', '[{"key": 1, "version": 2, "changes": []}]')$$);
SELECT * FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw', '[{"key": 1, "version": 2, "changes": {}, "chnages": {}}]')$$);
SELECT * FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw', '[{"key": "x", "version": 2, "changes": {}}]')$$);
SELECT * FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw', '[{"key": {"nope": 1}, "version": 2, "changes": {}}]')$$);
SELECT * FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw', '[{"key": 1, "version": 2, "changes": {"nope": 1}}]')$$);
SELECT * FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw', '[{"key": 1, "version": 2, "changes": {"qty": "many"}}]')$$);
SELECT * FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw', '[{"key": 1, "version": 2, "changes": {"row_version": 5}}]')$$);
-- A key twice in one call is refused: which change would win is unclear.
SELECT * FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw', '[{"key": 1, "version": 2, "changes": {}}, {"key": 2, "version": 2, "changes": {}}, {"key": "1", "version": 2, "delete": true}]')$$);
-- A constraint broken by one item fails the call, naming the item.
SELECT * FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw', '[{"key": 1, "version": 2, "changes": {"name": "kept?"}}, {"key": 2, "version": 2, "changes": {"qty": -1}}]', false)$$);
\set VERBOSITY default
\set SHOW_CONTEXT always
SELECT * FROM rowversion.conditional_write('rvtest.cw', '[{"key": 1, "version": 2, "changes": {}}, {"key": 2, "version": 2, "changes": {"qty": "many"}}]');
\set SHOW_CONTEXT errors
-- Too many items for one call: 54000, before any is read.
SELECT code, message, detail FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw', (SELECT jsonb_agg(0) FROM generate_series(1, 1000001)))$$);
-- An item that moves its row to the key another item names is refused:
-- the other item would find the moved row, written twice in one call.
SELECT * FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw', '[{"key": 1, "version": 2, "changes": {"id": 7}}, {"key": 7, "version": 3, "changes": {"name": "again"}}]', false)$$);
-- NULL arguments.
SELECT code, message FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw', NULL)$$);
SELECT code, message FROM rvtest.error($$SELECT * FROM rowversion.conditional_write(NULL, '[]')$$);
SELECT code, message FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw', '[]', NULL)$$);
SELECT * FROM rvtest.cw ORDER BY id;

-- Composite keys, given as objects naming each key column.
CREATE TABLE rvtest.cw_line (order_id int, line int, qty int,
  PRIMARY KEY (order_id, line));
SELECT rowversion.enable('rvtest.cw_line', mode => 'counter');
INSERT INTO rvtest.cw_line VALUES (1, 1, 5), (1, 2, 6), (2, 1, 7);
SELECT * FROM rowversion.conditional_write('rvtest.cw_line', $$[
  {"key": {"order_id": 2, "line": 1}, "version": 1, "changes": {"qty": 8}},
  {"key": {"line": 2, "order_id": 1}, "version": 1, "delete": true}]$$);
SELECT * FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw_line', '[{"key": 1, "version": 1, "changes": {}}]')$$);
SELECT * FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw_line', '[{"key": {"order_id": 1, "line": 1}, "version": 1, "changes": {}}, {"key": {"order_id": 1, "line": 1}, "version": 1, "delete": true}]')$$);
SELECT * FROM rvtest.cw_line ORDER BY 1, 2;

-- require_version: each item is a claim.
CREATE TABLE rvtest.cw_req (id int PRIMARY KEY, v text);
SELECT rowversion.enable('rvtest.cw_req', mode => 'counter', require_version => true);
INSERT INTO rvtest.cw_req VALUES (1, 'a'), (2, 'b');
SELECT ordinality, status, version FROM rowversion.conditional_write('rvtest.cw_req',
  '[{"key": 1, "version": 1, "changes": {"v": "A"}}, {"key": 2, "version": 1, "changes": {}}]');

-- Partitions: rows found through the partitioned table, in any partition.
CREATE TABLE rvtest.cw_part (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
CREATE TABLE rvtest.cw_part_1 PARTITION OF rvtest.cw_part FOR VALUES FROM (0) TO (10);
CREATE TABLE rvtest.cw_part_2 PARTITION OF rvtest.cw_part FOR VALUES FROM (10) TO (20);
SELECT rowversion.enable('rvtest.cw_part', mode => 'counter');
INSERT INTO rvtest.cw_part VALUES (1, 'a'), (11, 'b'), (12, 'c');
SELECT * FROM rowversion.conditional_write('rvtest.cw_part', $$[
  {"key": 11, "version": 1, "changes": {"v": "B"}},
  {"key": 1, "version": 1, "changes": {"id": 15}},
  {"key": 12, "version": 2, "delete": true}]$$, false);
SELECT tableoid::regclass, * FROM rvtest.cw_part ORDER BY id;
-- ...atomic too: rows of both partitions locked, then written.
SELECT * FROM rowversion.conditional_write('rvtest.cw_part', $$[
  {"key": 15, "version": 2, "changes": {"v": "A"}},
  {"key": 12, "version": 1, "delete": true},
  {"key": 11, "version": 2, "changes": {"id": 5}}]$$);
SELECT tableoid::regclass, * FROM rvtest.cw_part ORDER BY id;

-- A trigger that skips the write of a row locked at its version: not
-- found when not atomic; atomic, the whole call fails (RV003), since other
-- items may already be written.
CREATE FUNCTION rvtest.cw_skip() RETURNS trigger LANGUAGE plpgsql
  AS $$ BEGIN RETURN CASE WHEN OLD.id = 2 THEN NULL ELSE NEW END; END $$;
CREATE TRIGGER a_skip BEFORE UPDATE ON rvtest.cw FOR EACH ROW EXECUTE FUNCTION rvtest.cw_skip();
SELECT ordinality, key, status, version, current FROM rowversion.conditional_write('rvtest.cw',
  '[{"key": 1, "version": 2, "changes": {"name": "one"}}, {"key": 2, "version": 2, "changes": {"name": "skipped"}}]', false);
SELECT * FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw', '[{"key": 1, "version": 3, "changes": {"name": "uno"}}, {"key": 2, "version": 2, "changes": {"name": "skipped"}}]')$$);
SELECT id, name, row_version FROM rvtest.cw WHERE id <= 2 ORDER BY id;
DROP TRIGGER a_skip ON rvtest.cw;
DROP FUNCTION rvtest.cw_skip();

-- Column privileges and row-level security on "current": only the columns
-- the caller may SELECT, and a row a policy hides is not found.
CREATE TABLE rvtest.cw_sec (id int PRIMARY KEY, owner_name text, secret text, note text);
SELECT rowversion.enable('rvtest.cw_sec', mode => 'counter');
INSERT INTO rvtest.cw_sec VALUES (1, 'rv_cw_user', 's1', 'n1'), (2, 'other', 's2', 'n2');
CREATE ROLE rv_cw_user;
GRANT SELECT (id, owner_name, note, row_version), UPDATE (note, row_version) ON rvtest.cw_sec TO rv_cw_user;
ALTER TABLE rvtest.cw_sec ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON rvtest.cw_sec USING (owner_name = current_user);
UPDATE rvtest.cw_sec SET note = 'moved on';
SET ROLE rv_cw_user;
SELECT * FROM rowversion.conditional_write('rvtest.cw_sec', $$[
  {"key": 1, "version": 1, "changes": {"note": "mine"}},
  {"key": 2, "version": 1, "changes": {"note": "theirs"}}]$$);
SELECT * FROM rowversion.conditional_write('rvtest.cw_sec', $$[
  {"key": 1, "version": 2, "changes": {"note": "mine"}}]$$);
-- The version column takes UPDATE too (every write sets it): refused up
-- front, even for an item that would only be reported as a conflict.
RESET ROLE;
REVOKE UPDATE (row_version) ON rvtest.cw_sec FROM rv_cw_user;
SET ROLE rv_cw_user;
SELECT code, message FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw_sec', '[{"key": 1, "version": 1, "changes": {"note": "stale"}}]')$$);
RESET ROLE;
GRANT UPDATE (row_version) ON rvtest.cw_sec TO rv_cw_user;
SET ROLE rv_cw_user;
-- DELETE takes the DELETE privilege.
SELECT code FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw_sec', '[{"key": 1, "version": 3, "delete": true}]')$$);
SELECT code FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw_sec', '[{"key": 1, "version": 3, "changes": {"secret": "x"}}]')$$);
RESET ROLE;
SELECT id, note, row_version FROM rvtest.cw_sec ORDER BY id;
-- A role that may only delete: atomic mode's lock takes UPDATE, so it is
-- refused up front; not atomic, the rows are deleted.
CREATE ROLE rv_cw_deleter;
GRANT SELECT, DELETE ON rvtest.cw_line TO rv_cw_deleter;
SET ROLE rv_cw_deleter;
SELECT * FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw_line', '[{"key": {"order_id": 1, "line": 1}, "version": 1, "delete": true}]')$$);
SELECT status FROM rowversion.conditional_write('rvtest.cw_line', '[{"key": {"order_id": 1, "line": 1}, "version": 1, "delete": true}]', false);
RESET ROLE;
REVOKE ALL ON rvtest.cw_line FROM rv_cw_deleter;
DROP ROLE rv_cw_deleter;

-- A column named like the statement's own alias for the row (r) is shown
-- as any other column.
CREATE TABLE rvtest.cw_r (id int PRIMARY KEY, r int, t text);
SELECT rowversion.enable('rvtest.cw_r', mode => 'counter');
INSERT INTO rvtest.cw_r VALUES (1, 10, 'x');
SELECT * FROM rowversion.conditional_write('rvtest.cw_r', '[{"key": 1, "version": 5, "changes": {"r": 3}}]');
SELECT * FROM rowversion.conditional_write('rvtest.cw_r', '[{"key": 1, "version": 5, "changes": {"r": 3}}]', false);
DROP TABLE rvtest.cw_r;

-- A table that keeps no versions, and one whose trigger is disabled.
CREATE TABLE rvtest.cw_plain (id int PRIMARY KEY);
SELECT code, message FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw_plain', '[]')$$);
ALTER TABLE rvtest.cw DISABLE TRIGGER zz_rowversion;
SELECT code FROM rvtest.error($$SELECT * FROM rowversion.conditional_write('rvtest.cw', '[{"key": 1, "version": 2, "changes": {}}]')$$);
ALTER TABLE rvtest.cw ENABLE TRIGGER zz_rowversion;

DROP TABLE rvtest.cw, rvtest.cw_line, rvtest.cw_req, rvtest.cw_part, rvtest.cw_sec, rvtest.cw_plain;
DROP ROLE rv_cw_user;
