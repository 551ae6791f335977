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
SELECT * FROM rowversion.propagations WHERE child::text LIKE 'rvtest.%' ORDER BY 1::text;

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

-- A child's writer needs no rights on the parent: the bump runs as the
-- parent's owner.
CREATE ROLE rv_line_clerk;
GRANT USAGE ON SCHEMA rvtest TO rv_line_clerk;
GRANT SELECT, UPDATE ON rvtest.lines TO rv_line_clerk;
SET ROLE rv_line_clerk;
UPDATE rvtest.lines SET qty = 11 WHERE order_id = 1 AND line = 1;
RESET ROLE;
SELECT id, row_version FROM rvtest.orders WHERE id = 1;
REVOKE ALL ON rvtest.lines FROM rv_line_clerk;
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
SELECT rowversion.stop_propagating('rvtest.shipments', 'rvtest.orders');
SELECT count(*) FROM pg_trigger
WHERE tgrelid IN (SELECT relid FROM pg_partition_tree('rvtest.shipments'))
  AND tgname LIKE '%propagate%';
DROP TABLE rvtest.shipments, before;
DROP FUNCTION rvtest.copy_shipment();

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

-- stop_propagating() undoes it.
SELECT rowversion.stop_propagating('rvtest.notes', 'rvtest.lines');
SELECT rowversion.stop_propagating('rvtest.pair', 'rvtest.orders', 'pair_b_fkey');
SELECT * FROM rvtest.error($$SELECT rowversion.stop_propagating('rvtest.notes', 'rvtest.lines')$$);
SELECT * FROM rowversion.propagations WHERE child::text LIKE 'rvtest.%' ORDER BY 1::text;
INSERT INTO rvtest.notes VALUES (2, 1, 1);
SELECT order_id, line, row_version FROM rvtest.lines WHERE order_id = 1 AND line = 1;

DROP TABLE rvtest.orders, rvtest.lines, rvtest.notes, rvtest.pair, rvtest.plain,
  rvtest.plain_child, rvtest.tree CASCADE;
