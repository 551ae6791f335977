-- The extension installs without superuser (trusted), by a database owner,
-- into schema rowversion, and cannot be moved.
CREATE ROLE rv_dbowner;
CREATE DATABASE rv_trusted OWNER rv_dbowner;
\set regress_db :DBNAME
\c rv_trusted
SET ROLE rv_dbowner;
CREATE EXTENSION rowversion;
SELECT e.extname, n.nspname, e.extrelocatable, pg_get_userbyid(e.extowner) AS owner
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'rowversion';
-- The owner can use it at once.
CREATE TABLE t (id int PRIMARY KEY);
SELECT rowversion.enable('t');
INSERT INTO t VALUES (1);
SELECT count(*) FROM rowversion.tables;
-- Not relocatable.
CREATE SCHEMA elsewhere;
ALTER EXTENSION rowversion SET SCHEMA elsewhere;
-- Dropping it takes the triggers along (CASCADE), leaving the column.
DROP EXTENSION rowversion CASCADE;
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 't'::regclass;
SELECT count(*) AS version_column FROM pg_attribute
WHERE attrelid = 't'::regclass AND attname = 'row_version';
RESET ROLE;
\c :regress_db
DROP DATABASE rv_trusted;
DROP ROLE rv_dbowner;
