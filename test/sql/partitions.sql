-- Partitioned tables: the trigger on the parent reaches every partition,
-- present and future, each with its own column numbers.
CREATE TABLE rvtest.orders (region text NOT NULL, id int NOT NULL, total int,
  PRIMARY KEY (region, id)) PARTITION BY LIST (region);
CREATE TABLE rvtest.orders_eu PARTITION OF rvtest.orders FOR VALUES IN ('eu');
-- A partition whose columns sit at other positions (dropped column, other
-- order).
CREATE TABLE rvtest.orders_us (dropped int, total int, id int NOT NULL, region text NOT NULL);
ALTER TABLE rvtest.orders_us DROP COLUMN dropped;
ALTER TABLE rvtest.orders ATTACH PARTITION rvtest.orders_us FOR VALUES IN ('us');
INSERT INTO rvtest.orders VALUES ('eu', 1, 10), ('us', 2, 20);

SELECT rowversion.enable('rvtest.orders', mode => 'counter');
-- Existing rows were filled, the column reaches every partition.
SELECT tableoid::regclass, id, row_version FROM rvtest.orders ORDER BY id;
-- A partition created later gets the trigger as well.
CREATE TABLE rvtest.orders_asia PARTITION OF rvtest.orders FOR VALUES IN ('asia');
INSERT INTO rvtest.orders VALUES ('asia', 3, 30);
UPDATE rvtest.orders SET total = total + 1;
SELECT tableoid::regclass, id, total, row_version FROM rvtest.orders ORDER BY id;

-- Claims work through the parent and on a partition directly.
UPDATE rvtest.orders SET total = 0, row_version = 2 WHERE id = 2;
SELECT code FROM rvtest.error($$UPDATE rvtest.orders_us SET total = 1, row_version = 2$$);
UPDATE rvtest.orders_us SET total = 1, row_version = 3 RETURNING row_version;

-- rowversion.tables lists the partitioned table once, not its partitions.
SELECT * FROM rowversion.tables WHERE tbl::text LIKE 'rvtest.orders%';
-- A partition cannot be enabled on its own.
SELECT * FROM rvtest.error($$SELECT rowversion.enable('rvtest.orders_eu')$$);

-- An UPDATE that moves a row to another partition keeps the version it
-- assigned (the destination's INSERT trigger does not start over).
UPDATE rvtest.orders SET region = 'eu', row_version = 4 WHERE id = 2
  RETURNING tableoid::regclass, row_version;

-- The same in xact mode: the moved row's version still increases, even
-- when it had run ahead of the transaction counter.
SELECT rowversion.disable('rvtest.orders', drop_column => true);
SELECT rowversion.enable('rvtest.orders');
SET session_replication_role = replica;
UPDATE rvtest.orders SET row_version = 9000000000000 WHERE id = 1;
RESET session_replication_role;
UPDATE rvtest.orders SET region = 'us', row_version = 9000000000000 WHERE id = 1
  RETURNING tableoid::regclass, row_version;
-- A plain INSERT into a partition is still given its transaction's ID.
BEGIN;
INSERT INTO rvtest.orders VALUES ('eu', 4, 40);
SELECT row_version = pg_current_xact_id()::text::bigint AS is_xact_id
FROM rvtest.orders WHERE id = 4;
COMMIT;
-- ...also when another trigger runs statements between the move's DELETE
-- and INSERT (an audit trigger on the destination, itself writing to a
-- table that keeps row versions).
CREATE TABLE rvtest.audit (id serial PRIMARY KEY, what text);
SELECT rowversion.enable('rvtest.audit');
CREATE FUNCTION rvtest.audit_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO rvtest.audit (what) VALUES (TG_TABLE_NAME);
  RETURN NEW;
END
$$;
CREATE TRIGGER audit BEFORE INSERT ON rvtest.orders FOR EACH ROW
  EXECUTE FUNCTION rvtest.audit_insert();
SET session_replication_role = replica;
UPDATE rvtest.orders SET row_version = 9100000000000 WHERE id = 1;
RESET session_replication_role;
UPDATE rvtest.orders SET region = 'eu', row_version = 9100000000000 WHERE id = 1
  RETURNING tableoid::regclass, row_version;
SELECT what FROM rvtest.audit;
DROP TABLE rvtest.audit;
DROP FUNCTION rvtest.audit_insert() CASCADE;

DROP TABLE rvtest.orders;

-- The version a moving UPDATE leaves behind is only kept by the INSERT of
-- that move: a client's INSERT in the same transaction that happens to
-- carry that number into another partitioned table is still replaced.
CREATE TABLE rvtest.docs (id int, kind text, body text) PARTITION BY LIST (kind);
CREATE TABLE rvtest.docs_a PARTITION OF rvtest.docs FOR VALUES IN ('a');
CREATE TABLE rvtest.docs_b PARTITION OF rvtest.docs FOR VALUES IN ('b');
CREATE TABLE rvtest.other (id int, kind text) PARTITION BY LIST (kind);
CREATE TABLE rvtest.other_a PARTITION OF rvtest.other FOR VALUES IN ('a');
SELECT rowversion.enable('rvtest.docs');
SELECT rowversion.enable('rvtest.other');
INSERT INTO rvtest.docs VALUES (1, 'a', 'x');
INSERT INTO rvtest.other VALUES (1, 'a');
BEGIN;
UPDATE rvtest.other SET id = 2 RETURNING row_version AS left_with \gset
INSERT INTO rvtest.docs VALUES (2, 'b', 'forged', :left_with);
SELECT row_version = pg_current_xact_id()::text::bigint AS replaced FROM rvtest.docs WHERE id = 2;
COMMIT;
-- ...nor by an INSERT in the same statement (a data-modifying CTE).
BEGIN;
WITH u AS (UPDATE rvtest.other SET id = 3 RETURNING row_version)
INSERT INTO rvtest.docs SELECT 4, 'b', 'forged', row_version FROM u;
SELECT row_version = pg_current_xact_id()::text::bigint AS replaced FROM rvtest.docs WHERE id = 4;
COMMIT;

-- An UPDATE of ignore_columns alone keeps the version when it moves the
-- row, also one ahead of the transaction counter.
SELECT rowversion.enable('rvtest.docs', ignore_columns => '{kind}');
SET session_replication_role = replica;
UPDATE rvtest.docs SET row_version = 9000000000000 WHERE id = 1;
RESET session_replication_role;
UPDATE rvtest.docs SET kind = 'b' WHERE id = 1 RETURNING tableoid::regclass, row_version;

-- Partitions follow their partitioned table, so each must be able to: a
-- foreign partition is refused, and so is one that keeps its own versions
-- (disable it first; a partition's own trigger can be disabled).
SELECT rowversion.disable('rvtest.docs');
CREATE TABLE rvtest.docs_c (id int, kind text, body text);
SELECT rowversion.enable('rvtest.docs_c');
ALTER TABLE rvtest.docs ATTACH PARTITION rvtest.docs_c FOR VALUES IN ('c');
SELECT * FROM rvtest.error($$SELECT rowversion.enable('rvtest.docs')$$);
SELECT rowversion.disable('rvtest.docs_c');
SELECT rowversion.enable('rvtest.docs');
SELECT rowversion.disable('rvtest.docs');
CREATE FOREIGN DATA WRAPPER rvtest_part_fdw;
CREATE SERVER rvtest_part_server FOREIGN DATA WRAPPER rvtest_part_fdw;
CREATE FOREIGN TABLE rvtest.docs_f PARTITION OF rvtest.docs FOR VALUES IN ('f')
  SERVER rvtest_part_server;
SELECT * FROM rvtest.error($$SELECT rowversion.enable('rvtest.docs')$$);

DROP TABLE rvtest.docs, rvtest.other;
DROP FOREIGN DATA WRAPPER rvtest_part_fdw CASCADE;
