-- MERGE (PostgreSQL 15 and later) reports to row triggers the union of the
-- columns of all its UPDATE actions.  So when one action writes the version
-- column, a row updated by another action claims its own current version.
-- Before 15 there is no MERGE: the test stops (expected/merge_1.out).
SELECT current_setting('server_version_num')::int < 150000 AS no_merge \gset
\if :no_merge
\quit
\endif

CREATE TABLE rvtest.stock (id int PRIMARY KEY, qty int);
SELECT rowversion.enable('rvtest.stock', mode => 'counter', require_version => true);
INSERT INTO rvtest.stock VALUES (1, 0), (2, 0);

-- Row 1 takes the claiming action, row 2 the other one; both pass.
MERGE INTO rvtest.stock s USING (VALUES (1), (2)) AS v(id) ON s.id = v.id
  WHEN MATCHED AND s.id = 1 THEN UPDATE SET qty = 1, row_version = 1
  WHEN MATCHED THEN UPDATE SET qty = 2;
SELECT * FROM rvtest.stock ORDER BY id;

-- A MERGE whose actions write no version is no claim (RV002 here)...
SELECT code FROM rvtest.error($$MERGE INTO rvtest.stock s USING (VALUES (1)) AS v(id)
  ON s.id = v.id WHEN MATCHED THEN UPDATE SET qty = 3$$);
-- ...and a stale claim in an action is RV001.
SELECT code, detail FROM rvtest.error($$MERGE INTO rvtest.stock s USING (VALUES (1)) AS v(id)
  ON s.id = v.id WHEN MATCHED THEN UPDATE SET qty = 3, row_version = 1$$);
-- MERGE's INSERT action inserts as INSERT does.
MERGE INTO rvtest.stock s USING (VALUES (3)) AS v(id) ON s.id = v.id
  WHEN NOT MATCHED THEN INSERT (id, qty) VALUES (v.id, 0);
SELECT * FROM rvtest.stock ORDER BY id;

DROP TABLE rvtest.stock;
