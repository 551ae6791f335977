-- Mode xact: versions are full 64-bit transaction IDs, and per row they
-- only ever increase.
CREATE TABLE rvtest.doc (id int PRIMARY KEY, body text);
SELECT rowversion.enable('rvtest.doc');

-- INSERT sets the inserting top-level transaction's ID...
BEGIN;
INSERT INTO rvtest.doc VALUES (1, 'a');
SELECT row_version = pg_current_xact_id()::text::bigint AS is_xact_id FROM rvtest.doc WHERE id = 1;
COMMIT;

-- ...replacing whatever the client wrote.
BEGIN;
INSERT INTO rvtest.doc (id, body, row_version) VALUES (2, 'b', 5), (3, 'c', NULL);
SELECT id, row_version = pg_current_xact_id()::text::bigint AS is_xact_id FROM rvtest.doc WHERE id IN (2, 3) ORDER BY id;
COMMIT;

-- Also from a subtransaction: the top-level transaction's ID.
BEGIN;
SELECT pg_current_xact_id()::text::bigint AS top \gset
SAVEPOINT s;
INSERT INTO rvtest.doc VALUES (4, 'd');
RELEASE SAVEPOINT s;
SELECT row_version = :top AS is_top_xact_id FROM rvtest.doc WHERE id = 4;
COMMIT;

-- The ID is 64 bits: it is the xid8 of the transaction, epoch included.
SELECT pg_typeof(row_version) FROM rvtest.doc WHERE id = 1;

-- UPDATE sets greatest(transaction ID, old + 1): in a later transaction the
-- transaction ID...
SELECT row_version AS v1 FROM rvtest.doc WHERE id = 1 \gset
BEGIN;
UPDATE rvtest.doc SET body = 'a2' WHERE id = 1;
SELECT row_version = pg_current_xact_id()::text::bigint AS is_xact_id,
       row_version > :v1 AS increased
FROM rvtest.doc WHERE id = 1;
-- ...and old + 1 when the row was already updated in this transaction.
SELECT row_version AS v2 FROM rvtest.doc WHERE id = 1 \gset
UPDATE rvtest.doc SET body = 'a3' WHERE id = 1;
UPDATE rvtest.doc SET body = 'a4' WHERE id = 1;
SELECT row_version - :v2 AS steps FROM rvtest.doc WHERE id = 1;
COMMIT;

-- A version that ran ahead of the transaction counter keeps increasing by
-- one (here set far ahead in replica role, where the trigger does not fire).
SET session_replication_role = replica;
UPDATE rvtest.doc SET row_version = 9000000000000 WHERE id = 2;
RESET session_replication_role;
UPDATE rvtest.doc SET body = 'b2' WHERE id = 2;
SELECT row_version FROM rvtest.doc WHERE id = 2;

-- A no-op UPDATE is a touch: it bumps the version too.
SELECT row_version AS v3 FROM rvtest.doc WHERE id = 3 \gset
UPDATE rvtest.doc SET body = body WHERE id = 3;
SELECT row_version > :v3 AS touched FROM rvtest.doc WHERE id = 3;

-- Every row of a bulk UPDATE gets a new version.
CREATE TEMP TABLE before_bulk AS SELECT id, row_version FROM rvtest.doc;
UPDATE rvtest.doc SET body = body || '!';
SELECT count(*) AS bumped FROM rvtest.doc d JOIN before_bulk b USING (id)
WHERE d.row_version > b.row_version;

-- The version column is an ordinary column: it can be indexed and seen
-- through a view.
CREATE INDEX ON rvtest.doc (row_version);
CREATE VIEW rvtest.doc_view AS SELECT id, row_version FROM rvtest.doc;
SELECT count(*) FROM rvtest.doc_view v JOIN rvtest.doc d USING (id, row_version);

-- Past bigint, the UPDATE fails with 22003 and changes nothing.
SET session_replication_role = replica;
UPDATE rvtest.doc SET row_version = 9223372036854775807 WHERE id = 4;
RESET session_replication_role;
SELECT * FROM rvtest.error($$UPDATE rvtest.doc SET body = 'x' WHERE id = 4$$);
SELECT body, row_version FROM rvtest.doc WHERE id = 4;

-- A row whose version was removed behind the trigger's back starts over
-- as an inserted row would.
ALTER TABLE rvtest.doc ALTER COLUMN row_version DROP NOT NULL;
SET session_replication_role = replica;
UPDATE rvtest.doc SET row_version = NULL WHERE id = 4;
RESET session_replication_role;
BEGIN;
UPDATE rvtest.doc SET body = 'x' WHERE id = 4;
SELECT row_version = pg_current_xact_id()::text::bigint AS is_xact_id FROM rvtest.doc WHERE id = 4;
COMMIT;

DROP VIEW rvtest.doc_view;
DROP TABLE rvtest.doc;

-- COPY inserts as INSERT does.
CREATE TABLE rvtest.copied (id int PRIMARY KEY, body text);
SELECT rowversion.enable('rvtest.copied');
BEGIN;
COPY rvtest.copied (id, body, row_version) FROM stdin;
1	a	5
2	b	\N
\.
SELECT count(*) FILTER (WHERE row_version = pg_current_xact_id()::text::bigint) AS assigned
FROM rvtest.copied;
COMMIT;

-- INSERT ... ON CONFLICT DO UPDATE: the INSERT trigger assigns
-- EXCLUDED.row_version, so claiming it is a conflict; claim what you read.
SELECT row_version AS read FROM rvtest.copied WHERE id = 1 \gset
SELECT code FROM rvtest.error($$INSERT INTO rvtest.copied VALUES (1, 'x')
  ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body, row_version = EXCLUDED.row_version$$);
INSERT INTO rvtest.copied VALUES (1, 'x')
  ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body, row_version = :read
  RETURNING body, row_version > :read AS bumped;
DROP TABLE rvtest.copied;
