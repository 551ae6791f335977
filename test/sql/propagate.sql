-- propagate(): a child's INSERT, UPDATE and DELETE bump the version of the
-- parent rows it references, once per statement, through a chain too.
CREATE TABLE rvtest.orders (id int PRIMARY KEY, note text);
CREATE TABLE rvtest.lines (order_id int REFERENCES rvtest.orders, line int, qty int,
  PRIMARY KEY (order_id, line));
CREATE TABLE rvtest.notes (id int PRIMARY KEY, order_id int, line int,
  FOREIGN KEY (order_id, line) REFERENCES rvtest.lines);
SELECT rowversion.enable('rvtest.orders', mode => 'counter', require_version => true);
SELECT rowversion.enable('rvtest.lines', mode => 'counter');
SELECT rowversion.enable('rvtest.notes', mode => 'counter');
SELECT rowversion.propagate('rvtest.lines', 'rvtest.orders');
SELECT rowversion.propagate('rvtest.notes', 'rvtest.lines');
SELECT * FROM rowversion.propagations WHERE child::text LIKE 'rvtest.%' ORDER BY child::text, parent::text, via;

INSERT INTO rvtest.orders VALUES (1, 'a'), (2, 'b'), (3, 'c');
-- one statement, three lines of order 1 and one of order 2: each order
-- bumped once (require_version holds: the bump claims the current version)
INSERT INTO rvtest.lines VALUES (1, 1, 1), (1, 2, 1), (1, 3, 1), (2, 1, 1);
SELECT id, row_version FROM rvtest.orders ORDER BY id;
UPDATE rvtest.lines SET qty = qty + 1 WHERE order_id = 1;
SELECT id, row_version FROM rvtest.orders ORDER BY id;
-- a line moved to another order bumps both
UPDATE rvtest.lines SET order_id = 3 WHERE order_id = 1 AND line = 3;
SELECT id, row_version FROM rvtest.orders ORDER BY id;
DELETE FROM rvtest.lines WHERE order_id = 2;
SELECT id, row_version FROM rvtest.orders ORDER BY id;
-- a statement that changes no child bumps nothing
UPDATE rvtest.lines SET qty = 0 WHERE false;
SELECT id, row_version FROM rvtest.orders ORDER BY id;
-- the chain: a note bumps its line, which bumps its order
INSERT INTO rvtest.notes VALUES (1, 1, 1);
SELECT order_id, line, row_version FROM rvtest.lines ORDER BY 1, 2;
SELECT id, row_version FROM rvtest.orders ORDER BY id;

-- Aggregate-level If-Match: touch the parent with the version you read,
-- then change the children, in one transaction.
BEGIN;
SELECT rowversion.conditional_update('rvtest.orders', 1, 5, '{}');
UPDATE rvtest.lines SET qty = 10 WHERE order_id = 1 AND line = 1;
COMMIT;
SELECT id, row_version FROM rvtest.orders WHERE id = 1;
-- ...and with a stale version nothing of it happens
BEGIN;
SELECT code FROM rvtest.error($$SELECT rowversion.conditional_update('rvtest.orders', 1, 5, '{}')$$);
ROLLBACK;

-- The bump runs with the rights of the child's writer: without UPDATE on
-- the parent's version column the write is refused (42501) and nothing
-- changes; with it (and SELECT on the key and version), the parent is
-- bumped.
CREATE ROLE rv_line_clerk;
GRANT USAGE ON SCHEMA rvtest TO rv_line_clerk;
GRANT SELECT, UPDATE ON rvtest.lines TO rv_line_clerk;
SET ROLE rv_line_clerk;
SELECT * FROM rvtest.error($$UPDATE rvtest.lines SET qty = 11 WHERE order_id = 1 AND line = 1$$);
RESET ROLE;
GRANT SELECT (id, row_version), UPDATE (row_version) ON rvtest.orders TO rv_line_clerk;
SET ROLE rv_line_clerk;
UPDATE rvtest.lines SET qty = 11 WHERE order_id = 1 AND line = 1;
RESET ROLE;
SELECT id, row_version FROM rvtest.orders WHERE id = 1;
REVOKE ALL ON rvtest.lines, rvtest.orders FROM rv_line_clerk;
REVOKE ALL ON SCHEMA rvtest FROM rv_line_clerk;
DROP ROLE rv_line_clerk;

-- A partitioned child: statements through the partitioned table and
-- statements naming a partition both bump; a child row moving between
-- partitions and between parents bumps both parents; a statement with no
-- row in a partition bumps nothing.
CREATE TABLE rvtest.shipments (id int, order_id int REFERENCES rvtest.orders,
  region text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE rvtest.shipments_eu PARTITION OF rvtest.shipments FOR VALUES IN ('eu');
CREATE TABLE rvtest.shipments_us PARTITION OF rvtest.shipments FOR VALUES IN ('us');
SELECT rowversion.propagate('rvtest.shipments', 'rvtest.orders');
SELECT * FROM rowversion.propagations WHERE child = 'rvtest.shipments'::regclass;
CREATE TEMP TABLE before AS SELECT id, row_version FROM rvtest.orders;
INSERT INTO rvtest.shipments VALUES (1, 1, 'eu'), (2, 2, 'us');
SELECT o.id, o.row_version - b.row_version AS bumps
FROM rvtest.orders o JOIN before b USING (id) ORDER BY id;
TRUNCATE before; INSERT INTO before SELECT id, row_version FROM rvtest.orders;
UPDATE rvtest.shipments_eu SET id = 10;
UPDATE rvtest.shipments_us SET id = 20 WHERE false;
SELECT o.id, o.row_version - b.row_version AS bumps
FROM rvtest.orders o JOIN before b USING (id) ORDER BY id;
TRUNCATE before; INSERT INTO before SELECT id, row_version FROM rvtest.orders;
UPDATE rvtest.shipments SET region = 'us', order_id = 3 WHERE id = 10;
DELETE FROM rvtest.shipments_us WHERE id = 20;
SELECT o.id, o.row_version - b.row_version AS bumps
FROM rvtest.orders o JOIN before b USING (id) ORDER BY id;
-- statements that a trigger runs on the child inside another statement
-- bump as well (each parent at least once)
CREATE FUNCTION rvtest.copy_shipment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO rvtest.shipments VALUES (NEW.id + 100, 2, 'eu');
  RETURN NULL;
END
$$;
CREATE TRIGGER copy_shipment AFTER INSERT ON rvtest.shipments_us FOR EACH ROW
  WHEN (NEW.id < 100) EXECUTE FUNCTION rvtest.copy_shipment();
TRUNCATE before; INSERT INTO before SELECT id, row_version FROM rvtest.orders;
INSERT INTO rvtest.shipments VALUES (30, 3, 'us');
SELECT o.id, o.row_version - b.row_version > 0 AS bumped
FROM rvtest.orders o JOIN before b USING (id) ORDER BY id;
-- a partition created after propagate() has no statement trigger: a
-- statement naming it cannot bump, and its transaction fails to commit
-- rather than leave the order's version behind; through the partitioned
-- table it works, and calling propagate() again covers it
CREATE TABLE rvtest.shipments_ap PARTITION OF rvtest.shipments FOR VALUES IN ('ap');
INSERT INTO rvtest.shipments_ap VALUES (40, 1, 'ap');
TRUNCATE before; INSERT INTO before SELECT id, row_version FROM rvtest.orders;
INSERT INTO rvtest.shipments VALUES (41, 1, 'ap');
SELECT o.id, o.row_version - b.row_version AS bumps
FROM rvtest.orders o JOIN before b USING (id) ORDER BY id;
SELECT rowversion.propagate('rvtest.shipments', 'rvtest.orders');
INSERT INTO rvtest.shipments_ap VALUES (42, 1, 'ap');
SELECT o.id, o.row_version - b.row_version AS bumps
FROM rvtest.orders o JOIN before b USING (id) ORDER BY id;
SELECT rowversion.stop_propagating('rvtest.shipments', 'rvtest.orders');
SELECT count(*) FROM pg_trigger
WHERE tgrelid IN (SELECT relid FROM pg_partition_tree('rvtest.shipments'))
  AND tgname LIKE '%propagate%';
DROP TABLE rvtest.shipments, before;
DROP FUNCTION rvtest.copy_shipment();

-- Subtransactions: a statement run (by a trigger, in a subtransaction that
-- rolls back) on the same child inside another statement leaves the outer
-- statement's bump alone; the keys of a statement that failed under a
-- savepoint are dropped with it.
CREATE FUNCTION rvtest.try_line() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  BEGIN
    INSERT INTO rvtest.lines VALUES (2, 100 + NEW.line, 1);
    RAISE EXCEPTION 'undone';
  EXCEPTION WHEN raise_exception THEN
    NULL;
  END;
  RETURN NULL;
END
$$;
CREATE TRIGGER try_line AFTER INSERT ON rvtest.lines FOR EACH ROW
  WHEN (NEW.line < 100) EXECUTE FUNCTION rvtest.try_line();
CREATE TEMP TABLE before AS SELECT id, row_version FROM rvtest.orders;
INSERT INTO rvtest.lines VALUES (1, 7, 1);
SELECT o.id, o.row_version - b.row_version AS bumps
FROM rvtest.orders o JOIN before b USING (id) ORDER BY id;
DROP TRIGGER try_line ON rvtest.lines;
DROP FUNCTION rvtest.try_line();
TRUNCATE before; INSERT INTO before SELECT id, row_version FROM rvtest.orders;
BEGIN;
SAVEPOINT s;
INSERT INTO rvtest.lines VALUES (2, 8, 1), (1, 1, 1);
ROLLBACK TO SAVEPOINT s;
INSERT INTO rvtest.lines VALUES (3, 8, 1);
COMMIT;
SELECT o.id, o.row_version - b.row_version AS bumps
FROM rvtest.orders o JOIN before b USING (id) ORDER BY id;
DROP TABLE before;

-- A function that the statement calls writes the same child in a
-- subtransaction that rolls back: the outer statement's own rows still
-- bump their parents.
CREATE FUNCTION rvtest.try_insert(q int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  BEGIN
    INSERT INTO rvtest.lines VALUES (3, 200 + q, 1);
    RAISE EXCEPTION 'undone';
  EXCEPTION WHEN raise_exception THEN
    NULL;
  END;
  RETURN q;
END
$$;
CREATE TEMP TABLE before AS SELECT id, row_version FROM rvtest.orders;
UPDATE rvtest.lines SET qty = rvtest.try_insert(qty) WHERE order_id = 1 AND line = 1;
SELECT o.id, o.row_version - b.row_version AS bumps
FROM rvtest.orders o JOIN before b USING (id) ORDER BY id;
DROP TABLE before;
DROP FUNCTION rvtest.try_insert(int);

-- A foreign key's cascade is propagated with the statement that caused it
-- (its statement triggers fire with that statement, its row triggers
-- deeper), and commits.
CREATE TABLE rvtest.cparent (id int PRIMARY KEY);
CREATE TABLE rvtest.cchild (id int PRIMARY KEY,
  pid int REFERENCES rvtest.cparent ON DELETE CASCADE ON UPDATE CASCADE);
CREATE TABLE rvtest.cgrand (id int PRIMARY KEY, cid int REFERENCES rvtest.cchild);
SELECT rowversion.enable('rvtest.cparent', mode => 'counter');
SELECT rowversion.enable('rvtest.cchild', mode => 'counter');
SELECT rowversion.enable('rvtest.cgrand', mode => 'counter');
SELECT rowversion.propagate('rvtest.cchild', 'rvtest.cparent');
INSERT INTO rvtest.cparent VALUES (1), (2);
INSERT INTO rvtest.cchild VALUES (10, 1), (20, 2);
UPDATE rvtest.cparent SET id = 3 WHERE id = 1;
DELETE FROM rvtest.cparent WHERE id = 2;
SELECT id, row_version FROM rvtest.cparent ORDER BY id;
SELECT id, pid FROM rvtest.cchild ORDER BY id;
DROP TABLE rvtest.cgrand, rvtest.cchild, rvtest.cparent;

-- The bump names only what it means: a function of the caller's schema
-- called unnest, as the parent's owner, is not called.
CREATE SCHEMA rvtest_trap;
CREATE FUNCTION rvtest_trap.unnest(integer[]) RETURNS SETOF integer
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'trap called'; END $$;
SET search_path = rvtest_trap, public;
INSERT INTO rvtest.lines VALUES (1, 9, 1);
RESET search_path;
DROP SCHEMA rvtest_trap CASCADE;

-- Its trigger functions attached by hand to a table whose owner lacks the
-- rights of the parent's owner bump nothing (42501); a parent that no
-- longer keeps versions is an error, not a silent miss.
CREATE ROLE rv_stranger;
CREATE TABLE rvtest.stray (id int PRIMARY KEY, order_id int REFERENCES rvtest.orders);
ALTER TABLE rvtest.stray OWNER TO rv_stranger;
CREATE TRIGGER a BEFORE INSERT ON rvtest.stray FOR EACH ROW
  EXECUTE FUNCTION rowversion.propagate_collect('stray_order_id_fkey');
CREATE TRIGGER b AFTER INSERT ON rvtest.stray FOR EACH STATEMENT
  EXECUTE FUNCTION rowversion.propagate_trigger('stray_order_id_fkey', 'note');
SELECT * FROM rvtest.error($$INSERT INTO rvtest.stray VALUES (1, 1)$$);
DROP TABLE rvtest.stray;
-- propagate() itself refuses such owners
CREATE TABLE rvtest.stray (id int PRIMARY KEY, order_id int REFERENCES rvtest.orders);
ALTER TABLE rvtest.stray OWNER TO rv_stranger;
SELECT * FROM rvtest.error($$SELECT rowversion.propagate('rvtest.stray', 'rvtest.orders')$$);
DROP TABLE rvtest.stray;
DROP ROLE rv_stranger;
-- a rule that turns the parent's bump into nothing: no bump, no error
BEGIN;
CREATE RULE no_touch AS ON UPDATE TO rvtest.orders DO INSTEAD NOTHING;
UPDATE rvtest.lines SET qty = 0 WHERE order_id = 1;
ROLLBACK;
BEGIN;
SELECT rowversion.disable('rvtest.orders');
SELECT * FROM rvtest.error($$UPDATE rvtest.lines SET qty = 0 WHERE order_id = 1$$);
ROLLBACK;

-- Triggers are found by function and foreign key name, not by their
-- names, which carry an OID that a restore changes.
BEGIN;
DO $$
DECLARE
  name name;
BEGIN
  FOR name IN SELECT tgname FROM pg_trigger
               WHERE tgrelid = 'rvtest.lines'::regclass AND tgname LIKE '%propagate%' LOOP
    EXECUTE format('ALTER TRIGGER %I ON rvtest.lines RENAME TO %I', name, 'renamed_' || name);
  END LOOP;
END
$$;
SELECT rowversion.stop_propagating('rvtest.lines', 'rvtest.orders');
SELECT count(*) FROM pg_trigger WHERE tgrelid = 'rvtest.lines'::regclass AND tgname LIKE '%propagate%';
ROLLBACK;

-- Refused: no foreign key, several without via, parent not enabled,
-- cycles, NULLs, partitions on their own.
SELECT * FROM rvtest.error($$SELECT rowversion.propagate('rvtest.orders', 'rvtest.lines')$$);
SELECT * FROM rvtest.error($$SELECT rowversion.propagate('rvtest.lines', 'rvtest.orders', 'no_such_fk')$$);
CREATE TABLE rvtest.pair (a int REFERENCES rvtest.orders, b int REFERENCES rvtest.orders);
SELECT * FROM rvtest.error($$SELECT rowversion.propagate('rvtest.pair', 'rvtest.orders')$$);
SELECT rowversion.propagate('rvtest.pair', 'rvtest.orders', 'pair_b_fkey');
CREATE TABLE rvtest.plain (id int PRIMARY KEY);
CREATE TABLE rvtest.plain_child (id int REFERENCES rvtest.plain);
SELECT * FROM rvtest.error($$SELECT rowversion.propagate('rvtest.plain_child', 'rvtest.plain')$$);
CREATE TABLE rvtest.tree (id int PRIMARY KEY, up int REFERENCES rvtest.tree);
SELECT rowversion.enable('rvtest.tree');
SELECT * FROM rvtest.error($$SELECT rowversion.propagate('rvtest.tree', 'rvtest.tree')$$);
ALTER TABLE rvtest.orders ADD COLUMN top_note int REFERENCES rvtest.notes;
SELECT * FROM rvtest.error($$SELECT rowversion.propagate('rvtest.orders', 'rvtest.notes')$$);
SELECT code FROM rvtest.error($$SELECT rowversion.propagate(NULL, 'rvtest.orders')$$);
-- foreign keys over generated columns (which row triggers cannot see yet)
-- and over types without an array type
CREATE TABLE rvtest.gen_child (raw int,
  order_id int GENERATED ALWAYS AS (raw / 10) STORED REFERENCES rvtest.orders);
SELECT * FROM rvtest.error($$SELECT rowversion.propagate('rvtest.gen_child', 'rvtest.orders')$$);
CREATE TABLE rvtest.arr_parent (k int[] PRIMARY KEY);
SELECT rowversion.enable('rvtest.arr_parent');
CREATE TABLE rvtest.arr_child (k int[] REFERENCES rvtest.arr_parent);
SELECT * FROM rvtest.error($$SELECT rowversion.propagate('rvtest.arr_child', 'rvtest.arr_parent')$$);
DROP TABLE rvtest.gen_child, rvtest.arr_child, rvtest.arr_parent;

-- stop_propagating() undoes it.
SELECT rowversion.stop_propagating('rvtest.notes', 'rvtest.lines');
SELECT rowversion.stop_propagating('rvtest.pair', 'rvtest.orders', 'pair_b_fkey');
SELECT * FROM rvtest.error($$SELECT rowversion.stop_propagating('rvtest.notes', 'rvtest.lines')$$);
SELECT * FROM rowversion.propagations WHERE child::text LIKE 'rvtest.%' ORDER BY child::text, parent::text, via;
INSERT INTO rvtest.notes VALUES (2, 1, 1);
SELECT order_id, line, row_version FROM rvtest.lines WHERE order_id = 1 AND line = 1;

DROP TABLE rvtest.orders, rvtest.lines, rvtest.notes, rvtest.pair, rvtest.plain,
  rvtest.plain_child, rvtest.tree CASCADE;
