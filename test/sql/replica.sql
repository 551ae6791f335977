-- With session_replication_role = replica (logical replication apply,
-- data-only restore with --disable-triggers) rows pass through untouched:
-- the versions of the origin arrive as they were.
CREATE TABLE rvtest.replicated (id int PRIMARY KEY, body text);
SELECT rowversion.enable('rvtest.replicated', mode => 'counter', require_version => true);
INSERT INTO rvtest.replicated VALUES (1, 'a');

SET session_replication_role = replica;
INSERT INTO rvtest.replicated VALUES (2, 'b', 42);
UPDATE rvtest.replicated SET body = 'a2', row_version = 17 WHERE id = 1;
UPDATE rvtest.replicated SET body = 'b2' WHERE id = 2;
RESET session_replication_role;
SELECT * FROM rvtest.replicated ORDER BY id;

-- Back in origin role the trigger applies again.
SELECT code FROM rvtest.error($$UPDATE rvtest.replicated SET body = 'x' WHERE id = 1$$);
UPDATE rvtest.replicated SET body = 'a3', row_version = 17 WHERE id = 1 RETURNING row_version;

DROP TABLE rvtest.replicated;
