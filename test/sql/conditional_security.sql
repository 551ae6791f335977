-- conditional_update() and conditional_delete() run as the caller, an
-- ordinary role here: privileges and row-level security apply, and
-- look-alike objects first in the caller's search_path change nothing.
CREATE ROLE rv_client;
CREATE ROLE rv_other;
CREATE SCHEMA app;
-- "line" is also a built-in type; "select" and "a b" need quoting.
CREATE TABLE app.line (id int PRIMARY KEY, "a b" text, "select" int, owner name);
SELECT rowversion.enable('app.line', mode => 'counter');
INSERT INTO app.line VALUES (1, 'one', 1, 'rv_client'), (2, 'two', 2, 'rv_client'),
  (3, 'other', 3, 'rv_other');
GRANT USAGE ON SCHEMA app TO rv_client, rv_other;
GRANT SELECT, UPDATE ON app.line TO rv_client;

-- The caller plants look-alikes in a schema it puts first: a table of the
-- same name, an = operator that is always true, a jsonb_to_record.
CREATE SCHEMA evil AUTHORIZATION rv_client;
SET ROLE rv_client;
SET search_path = evil, pg_catalog, public;
CREATE TABLE evil.line (id int PRIMARY KEY, "a b" text, "select" int, owner name,
  row_version bigint);
INSERT INTO evil.line VALUES (1, 'decoy', 0, 'rv_client', 1);
CREATE FUNCTION evil.always(int, int) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR evil.= (LEFTARG = int, RIGHTARG = int, FUNCTION = evil.always);
CREATE FUNCTION evil.always8(bigint, bigint) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.always8);
CREATE FUNCTION evil.jsonb_to_record(jsonb) RETURNS TABLE ("a b" text)
  LANGUAGE sql AS $$ SELECT 'hijacked'::text $$;

SELECT rowversion.conditional_update('app.line', 1, 1, '{"a b": "ONE", "select": 10}');
SELECT * FROM app.line ORDER BY id;
SELECT * FROM evil.line;
-- the operator would have matched every row; a stale version still fails
SELECT code FROM rvtest.error($$SELECT rowversion.conditional_update('app.line', 2, 5, '{"a b": "x"}')$$);
SELECT "a b", row_version FROM app.line WHERE id OPERATOR(pg_catalog.=) 2;

-- Privileges: no DELETE privilege, no conditional_delete (42501).
SELECT code, message FROM rvtest.error($$SELECT rowversion.conditional_delete('app.line', 1, 2)$$);
RESET ROLE;
GRANT DELETE ON app.line TO rv_client;
REVOKE UPDATE ON app.line FROM rv_client;
GRANT UPDATE ("a b") ON app.line TO rv_client;
SET ROLE rv_client;
-- UPDATE on some columns only: those may change, others may not
SELECT code FROM rvtest.error($$SELECT rowversion.conditional_update('app.line', 1, 2, '{"select": 11}')$$);
RESET ROLE;
GRANT UPDATE (row_version) ON app.line TO rv_client;
SET ROLE rv_client;
SELECT rowversion.conditional_update('app.line', 1, 2, '{"a b": "One"}');
RESET ROLE;

-- Row-level security: a row the policy hides is not found (RV003), and
-- its key is not shown.
ALTER TABLE app.line ENABLE ROW LEVEL SECURITY;
CREATE POLICY mine ON app.line USING (owner = current_user);
SET ROLE rv_client;
SELECT id FROM app.line ORDER BY id;
SELECT * FROM rvtest.error($$SELECT rowversion.conditional_update('app.line', 3, 1, '{"a b": "mine now"}')$$);
SELECT * FROM rvtest.error($$SELECT rowversion.conditional_delete('app.line', 3, 1)$$);
SELECT rowversion.conditional_delete('app.line', 2, 1);
RESET ROLE;
SELECT id, "a b", owner, row_version FROM app.line ORDER BY id;

-- A row the caller may read but not write (the policies differ) is not
-- found either, rather than "at the version you expected".
DROP POLICY mine ON app.line;
CREATE POLICY read_all ON app.line FOR SELECT USING (true);
CREATE POLICY write_own ON app.line FOR UPDATE USING (owner = current_user);
SET ROLE rv_client;
SELECT code, message, detail FROM rvtest.error($$SELECT rowversion.conditional_update('app.line', 3, 1, '{"a b": "x"}')$$);
RESET ROLE;

-- No rights on the table: refused before anything is locked.
SET ROLE rv_other;
SELECT code, message FROM rvtest.error($$SELECT rowversion.conditional_update('app.line', 3, 1, '{}')$$);
RESET ROLE;
RESET search_path;

-- A key type whose equality operator lives in a schema others may write
-- to (citext in public): an operator planted there for a domain over it
-- is not picked, since both sides are cast to the index operator's types.
CREATE EXTENSION IF NOT EXISTS citext SCHEMA public;
CREATE DOMAIN app.email AS public.citext CHECK (VALUE LIKE '%@%');
CREATE TABLE app.users (id app.email PRIMARY KEY, name text);
SELECT rowversion.enable('app.users', mode => 'counter');
INSERT INTO app.users VALUES ('a@x', 'a'), ('b@x', 'b');
GRANT CREATE ON SCHEMA public TO rv_client;
SET ROLE rv_client;
CREATE FUNCTION public.evil_eq(app.email, app.email) RETURNS boolean
  LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR public.= (LEFTARG = app.email, RIGHTARG = app.email, FUNCTION = public.evil_eq);
RESET ROLE;
SELECT rowversion.conditional_update('app.users', 'A@X', 1, '{"name": "changed"}');
SELECT id, name, row_version FROM app.users ORDER BY id::text;
DROP OPERATOR public.= (app.email, app.email);
DROP FUNCTION public.evil_eq(app.email, app.email);
REVOKE CREATE ON SCHEMA public FROM rv_client;

-- A role with column privileges only (no SELECT on the whole table) writes
-- conditionally: the statement names no column it may not read.
CREATE TABLE app.colpriv (id int PRIMARY KEY, note text, secret text);
SELECT rowversion.enable('app.colpriv', mode => 'counter');
INSERT INTO app.colpriv VALUES (1, 'n', 's');
GRANT SELECT (id, note, row_version), UPDATE (note, row_version) ON app.colpriv TO rv_client;
SET ROLE rv_client;
SELECT rowversion.conditional_update('app.colpriv', 1, 1, '{"note": "by column"}');
SELECT code FROM rvtest.error($$SELECT rowversion.conditional_update('app.colpriv', 1, 2, '{"secret": "x"}')$$);
RESET ROLE;
SELECT * FROM app.colpriv;

DROP SCHEMA evil CASCADE;
DROP SCHEMA app CASCADE;
DROP EXTENSION citext;
DROP ROLE rv_client, rv_other;
