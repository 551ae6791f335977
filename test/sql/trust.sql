-- What the extension does on someone else's behalf, tried the
-- way a hostile tenant would: in a database whose owner (not a superuser)
-- installed the extension as trusted, by ordinary roles.  Each block fails
-- on a build without the fix it names.
CREATE ROLE rv_dbo;
CREATE ROLE rv_app;           -- owns the application's tables
CREATE ROLE rv_writer;        -- may write child tables only
CREATE ROLE rv_t1;            -- two tenants under row-level security
CREATE ROLE rv_t2;
CREATE DATABASE rv_trust OWNER rv_dbo;
\set regress_db :DBNAME
\c rv_trust
SET ROLE rv_dbo;
CREATE EXTENSION rowversion;
-- The extension's schema is not the installer's: the database owner cannot
-- add overloads that the documented calls would resolve to, and run them
-- as whoever calls them.
SELECT n.nspowner = 'rv_dbo'::regrole AS owned_by_installer, has_schema_privilege('rowversion', 'CREATE')
FROM pg_namespace n WHERE n.nspname = 'rowversion';
CREATE FUNCTION rowversion.enable(tbl text) RETURNS void LANGUAGE sql AS 'SELECT';
RESET ROLE;
CREATE SCHEMA app AUTHORIZATION rv_app;
GRANT USAGE ON SCHEMA app TO PUBLIC;

-- A schema "rowversion" made beforehand must be empty, and keeps no grant:
-- a database owner cannot plant look-alikes before installing either.
CREATE DATABASE rv_trust2 OWNER rv_dbo;
\c rv_trust2
SET ROLE rv_dbo;
CREATE SCHEMA rowversion;
CREATE FUNCTION rowversion.enable(tbl text) RETURNS void LANGUAGE sql AS 'SELECT';
GRANT CREATE ON SCHEMA rowversion TO rv_writer;
-- (terse: the error's context differs between majors)
\set VERBOSITY terse
CREATE EXTENSION rowversion;
\set VERBOSITY default
DROP FUNCTION rowversion.enable(text);
CREATE EXTENSION rowversion;
SELECT has_schema_privilege('rv_writer', 'rowversion', 'CREATE') AS writer_may_create,
       has_schema_privilege('rv_dbo', 'rowversion', 'CREATE') AS owner_may_create;
RESET ROLE;
\c rv_trust
DROP DATABASE rv_trust2;

-- 1. Pending parent keys carry the types of the foreign key they were
-- noted for.  Keys noted in a partition made after propagate() (which has
-- no statement trigger to take them), then the foreign key dropped and
-- made again under its name over a text column, then a write through the
-- new one: the old int keys must not be read as text (that crashed the
-- server).  The commit is refused instead, and nothing is left behind.
SET ROLE rv_app;
CREATE TABLE app.p1 (id int PRIMARY KEY);
CREATE TABLE app.p2 (code text PRIMARY KEY);
SELECT rowversion.enable('app.p1', mode => 'counter');
SELECT rowversion.enable('app.p2', mode => 'counter');
INSERT INTO app.p1 VALUES (1), (2);
INSERT INTO app.p2 VALUES ('a');
CREATE TABLE app.c (id int, p int, code text, PRIMARY KEY (id, p)) PARTITION BY LIST (p);
CREATE TABLE app.c_1 PARTITION OF app.c FOR VALUES IN (1);
ALTER TABLE app.c ADD CONSTRAINT c_fk FOREIGN KEY (p) REFERENCES app.p1;
SELECT rowversion.propagate('app.c', 'app.p1');
CREATE TABLE app.c_2 PARTITION OF app.c FOR VALUES IN (2);
BEGIN;
INSERT INTO app.c_2 VALUES (1, 2, 'a');
ALTER TABLE app.c DROP CONSTRAINT c_fk;
ALTER TABLE app.c ADD CONSTRAINT c_fk FOREIGN KEY (code) REFERENCES app.p2;
INSERT INTO app.c VALUES (2, 1, 'a'), (3, 1, 'a');
SELECT code, row_version FROM app.p2;
COMMIT;
-- the server is still up, and nothing of it was committed
SELECT count(*) FROM app.c;
SELECT conname, confrelid::regclass FROM pg_constraint WHERE conrelid = 'app.c'::regclass AND contype = 'f';
RESET ROLE;

-- 2. The parent bump runs with the rights of the role that wrote the
-- child, never as the parent's owner.  The parent here is owned by a
-- superuser and has an audit trigger written with unqualified names; the
-- writer plants look-alikes in pg_temp and in a schema of its own placed
-- first in its search_path (ahead of pg_catalog, too): a table the audit
-- trigger's INSERT could land in, a function and an operator that the
-- trigger, a domain check and an index expression call.  Each planted
-- function notes who ran it and tries to make the writer a superuser.
CREATE TABLE app.orders (id int PRIMARY KEY, note text, row_version bigint);
CREATE TABLE app.lines (order_id int REFERENCES app.orders, line int, PRIMARY KEY (order_id, line));
CREATE TABLE public.audit (note text);
CREATE FUNCTION public.audit_note(text) RETURNS text LANGUAGE sql AS $$ SELECT $1 $$;
CREATE FUNCTION public.is_ok(text) RETURNS boolean LANGUAGE plpgsql AS
$$ BEGIN RETURN audit_note($1) IS NOT NULL; END $$;
CREATE DOMAIN public.checked_note AS text CHECK (public.is_ok(VALUE));
ALTER TABLE public.audit ALTER COLUMN note TYPE public.checked_note;
CREATE FUNCTION public.norm(text, bigint) RETURNS text LANGUAGE plpgsql IMMUTABLE AS
$$ BEGIN RETURN audit_note($1) || $2::text; END $$;
CREATE INDEX ON app.orders (public.norm(note, row_version));
CREATE FUNCTION public.orders_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.note = 'x' THEN NULL; END IF;
  PERFORM NEW.note::public.checked_note;
  INSERT INTO audit VALUES (audit_note('bumped ' || NEW.id));
  RETURN NEW;
END $$;
CREATE TRIGGER audit AFTER UPDATE ON app.orders FOR EACH ROW EXECUTE FUNCTION public.orders_audit();
SELECT rowversion.enable('app.orders');
SELECT rowversion.propagate('app.lines', 'app.orders');
INSERT INTO app.orders (id, note) VALUES (1, 'o');
GRANT INSERT, DELETE, SELECT ON app.lines TO rv_writer;
GRANT SELECT (id, row_version), UPDATE (row_version) ON app.orders TO rv_writer;
GRANT INSERT ON public.audit TO rv_writer;
GRANT CREATE ON DATABASE rv_trust TO rv_writer;

SET ROLE rv_writer;
CREATE SCHEMA w;
CREATE TEMP TABLE stolen (who name, superuser_granted boolean);
CREATE FUNCTION w.steal() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  BEGIN
    EXECUTE 'ALTER ROLE rv_writer SUPERUSER';
    INSERT INTO pg_temp.stolen VALUES (current_user, true);
  EXCEPTION WHEN insufficient_privilege THEN
    INSERT INTO pg_temp.stolen VALUES (current_user, false);
  END;
  RETURN true;
END $$;
CREATE FUNCTION w.audit_note(text) RETURNS text LANGUAGE sql AS $$ SELECT w.steal()::text $$;
CREATE FUNCTION w.text_eq(text, text) RETURNS boolean LANGUAGE sql AS $$ SELECT w.steal() $$;
CREATE OPERATOR w.= (LEFTARG = text, RIGHTARG = text, FUNCTION = w.text_eq);
CREATE TABLE pg_temp.audit (note text);
CREATE FUNCTION pg_temp.audit_note(text) RETURNS text LANGUAGE sql AS $$ SELECT w.steal()::text $$;
CREATE FUNCTION w.capture() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN PERFORM w.steal(); RETURN NEW; END $$;
CREATE TRIGGER capture BEFORE INSERT ON pg_temp.audit FOR EACH ROW EXECUTE FUNCTION w.capture();
SET search_path = w, pg_catalog, public;
INSERT INTO app.lines VALUES (1, 1);
DELETE FROM app.lines;
RESET search_path;
-- whatever ran, ran as the writer, and the writer is no superuser; the
-- audit rows went where the writer's own UPDATE of the parent would have
-- put them (one per bump: the insert's and the delete's)
SELECT who, superuser_granted, count(*) > 0 AS ran FROM pg_temp.stolen GROUP BY 1, 2;
SELECT count(*) AS bumps FROM pg_temp.audit;
RESET ROLE;
SELECT rolsuper FROM pg_roles WHERE rolname = 'rv_writer';
SET ROLE rv_writer;
DROP SCHEMA w CASCADE;
DISCARD TEMP;
RESET ROLE;
REVOKE CREATE ON DATABASE rv_trust FROM rv_writer;

-- ...and without UPDATE on the parent's version column the writer cannot
-- write the child at all: it gets nothing it could not do itself.
REVOKE UPDATE (row_version) ON app.orders FROM rv_writer;
SET ROLE rv_writer;
INSERT INTO app.lines VALUES (1, 2);
RESET ROLE;

-- A foreign key's cascade runs as the child's owner; the rows it changes
-- are bumped with the statement that caused it, with that statement's
-- rights.
SET ROLE rv_app;
CREATE TABLE app.carts (id int PRIMARY KEY);
SELECT rowversion.enable('app.carts', mode => 'counter');
CREATE TABLE app.products (id int PRIMARY KEY);
CREATE TABLE app.cart_items (cart int REFERENCES app.carts,
  product int REFERENCES app.products ON DELETE CASCADE, PRIMARY KEY (cart, product));
SELECT rowversion.propagate('app.cart_items', 'app.carts', 'cart_items_cart_fkey');
INSERT INTO app.carts VALUES (1);
INSERT INTO app.products VALUES (5);
INSERT INTO app.cart_items VALUES (1, 5);
GRANT SELECT, DELETE ON app.products TO rv_writer;
GRANT SELECT (id, row_version), UPDATE (row_version) ON app.carts TO rv_writer;
RESET ROLE;
SET ROLE rv_writer;
DELETE FROM app.products WHERE id = 5;
RESET ROLE;
SELECT id, row_version FROM app.carts;

-- ...also when the cascade comes from a partition's own foreign key and
-- runs as that partition's owner.  (From PostgreSQL 18 the cascade's
-- statement triggers run as the role that queued them, the partition's
-- owner, so that role bumps: it gets the grant too.)
SET ROLE rv_app;
CREATE TABLE app.tags (id int PRIMARY KEY);
CREATE TABLE app.tagged (cart int REFERENCES app.carts, tag int, kind text,
  PRIMARY KEY (cart, tag, kind)) PARTITION BY LIST (kind);
CREATE TABLE app.tagged_a PARTITION OF app.tagged FOR VALUES IN ('a');
SELECT rowversion.propagate('app.tagged', 'app.carts');
INSERT INTO app.tags VALUES (9);
INSERT INTO app.tagged VALUES (1, 9, 'a');
GRANT SELECT, DELETE ON app.tags TO rv_writer;
GRANT SELECT (id, row_version), UPDATE (row_version) ON app.carts TO rv_t1;
RESET ROLE;
ALTER TABLE app.tagged_a OWNER TO rv_t1;
ALTER TABLE app.tagged_a ADD FOREIGN KEY (tag) REFERENCES app.tags ON DELETE CASCADE;
SELECT row_version AS before FROM app.carts WHERE id = 1 \gset
SET ROLE rv_writer;
DELETE FROM app.tags WHERE id = 9;
RESET ROLE;
SELECT row_version > :before AS bumped FROM app.carts WHERE id = 1;

-- 3. Row-level security on the parent decides for the bump too.  Under
-- FORCE ROW LEVEL SECURITY, a tenant that writes a child row pointing at
-- another tenant's parent (the foreign key's check does not look at
-- policies) is refused, insert and delete alike; the other tenant's row
-- keeps its version.  Its own parent is bumped as before.
SET ROLE rv_app;
CREATE TABLE app.accounts (id int PRIMARY KEY, tenant name NOT NULL);
SELECT rowversion.enable('app.accounts', mode => 'counter');
CREATE TABLE app.entries (id int PRIMARY KEY, account int REFERENCES app.accounts);
SELECT rowversion.propagate('app.entries', 'app.accounts');
INSERT INTO app.accounts VALUES (1, 'rv_t1'), (2, 'rv_t2');
INSERT INTO app.entries VALUES (20, 2);
ALTER TABLE app.accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.accounts FORCE ROW LEVEL SECURITY;
CREATE POLICY own ON app.accounts USING (tenant = current_user);
GRANT SELECT, UPDATE (row_version) ON app.accounts TO rv_t1, rv_t2;
GRANT SELECT, INSERT, DELETE ON app.entries TO rv_t1, rv_t2;
RESET ROLE;
SET ROLE rv_t1;
INSERT INTO app.entries VALUES (10, 1);
INSERT INTO app.entries VALUES (11, 2);
DELETE FROM app.entries WHERE id = 20;
SELECT id, row_version FROM app.accounts;
RESET ROLE;
SELECT id, row_version FROM app.accounts ORDER BY id;
-- The keys a statement notes are bumped with the rights of the role that
-- made it: a SECURITY DEFINER function that writes the same child inside
-- the tenant's statement bumps its own keys, never the tenant's.
SET ROLE rv_app;
ALTER TABLE app.accounts NO FORCE ROW LEVEL SECURITY;
CREATE SEQUENCE app.entry_ids START 1000;
CREATE FUNCTION app.open_entry(acc int) RETURNS int LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog AS $$
BEGIN
  INSERT INTO app.entries VALUES (nextval('app.entry_ids'), acc);
  RETURN acc;
END $$;
GRANT EXECUTE ON FUNCTION app.open_entry(int) TO rv_t1;
RESET ROLE;
SET ROLE rv_t1;
INSERT INTO app.entries VALUES (12, 2), (13, app.open_entry(1));
-- (claims under a FOR ALL policy: the tenant's own row as ever, another's
-- not reached)
UPDATE app.accounts SET row_version = 2 WHERE id = 1 RETURNING id, row_version;
UPDATE app.accounts SET row_version = 2 WHERE id = 2 RETURNING id, row_version;
RESET ROLE;
SELECT id, row_version FROM app.accounts ORDER BY id;

-- 4. expect_match() on an inheritance parent reaches the rows stored in
-- its children: a stale If-Match stops UPDATE and DELETE of a child's row
-- through the parent.
SET ROLE rv_app;
CREATE TABLE app.docs (id int PRIMARY KEY, body text);
CREATE TABLE app.memos () INHERITS (app.docs);
SELECT rowversion.enable('app.memos', mode => 'counter');
SELECT rowversion.enable('app.docs', mode => 'counter');
INSERT INTO app.memos VALUES (7, 'memo');
UPDATE app.docs SET body = 'memo 2' WHERE id = 7;
BEGIN;
SELECT rowversion.expect_match('app.docs', '"1"');
UPDATE app.docs SET body = 'lost update' WHERE id = 7;
ROLLBACK;
BEGIN;
SELECT rowversion.expect_match('app.docs', '"1"');
DELETE FROM app.docs WHERE id = 7;
ROLLBACK;
BEGIN;
SELECT rowversion.expect_match('app.docs', '"2"');
UPDATE app.docs SET body = 'memo 3' WHERE id = 7 RETURNING row_version;
COMMIT;
-- a child added later without a trigger of its own is refused up front
CREATE TABLE app.notes_unversioned (id int NOT NULL, body text, row_version bigint NOT NULL);
ALTER TABLE app.notes_unversioned INHERIT app.docs;
BEGIN;
SELECT rowversion.expect_match('app.docs', '"3"');
ROLLBACK;
DROP TABLE app.notes_unversioned;
RESET ROLE;

-- 5. A version the caller may not see never shows in RV001's DETAIL: here
-- the writer may update every row (and holds SELECT on the version
-- column) but row-level security lets it see none of them.
SET ROLE rv_app;
CREATE TABLE app.tickets (id int PRIMARY KEY, state text);
SELECT rowversion.enable('app.tickets', mode => 'counter');
INSERT INTO app.tickets VALUES (1, 'new');
UPDATE app.tickets SET state = 'open';
UPDATE app.tickets SET state = 'done';
ALTER TABLE app.tickets ENABLE ROW LEVEL SECURITY;
CREATE POLICY upd ON app.tickets FOR UPDATE USING (true);
CREATE POLICY sel ON app.tickets FOR SELECT USING (false);
CREATE POLICY del ON app.tickets FOR DELETE USING (true);
GRANT SELECT, UPDATE, DELETE ON app.tickets TO rv_writer;
RESET ROLE;
SET ROLE rv_writer;
UPDATE app.tickets SET state = 'reopened', row_version = 1;
BEGIN;
SELECT rowversion.expect_match('app.tickets', '"1"');
UPDATE app.tickets SET state = 'reopened';
ROLLBACK;
BEGIN;
SELECT rowversion.expect_match('app.tickets', '"1"');
DELETE FROM app.tickets;
ROLLBACK;
RESET ROLE;
-- Whether a claim or an If-Match passes tells the version too: a role
-- that may write the version column, or register a precondition, but not
-- read the column is refused (42501), stale or current alike.  (A write
-- through a view its owner made is the view owner's to allow.)
SET ROLE rv_app;
ALTER TABLE app.tickets DISABLE ROW LEVEL SECURITY;
REVOKE SELECT ON app.tickets FROM rv_writer;
GRANT SELECT (id, state) ON app.tickets TO rv_writer;
RESET ROLE;
SET ROLE rv_writer;
UPDATE app.tickets SET state = 'reopened', row_version = 1 WHERE id = 1;
UPDATE app.tickets SET state = 'reopened', row_version = 3 WHERE id = 1;
BEGIN;
SELECT rowversion.expect_match('app.tickets', '"3"');
ROLLBACK;
RESET ROLE;
SET ROLE rv_app;
REVOKE ALL ON app.tickets FROM rv_writer;
CREATE VIEW app.tickets_api AS SELECT id, state, row_version FROM app.tickets;
GRANT SELECT, UPDATE ON app.tickets_api TO rv_writer;
RESET ROLE;
SET ROLE rv_writer;
UPDATE app.tickets_api SET state = 'via the view', row_version = 3 WHERE id = 1
  RETURNING state, row_version;
RESET ROLE;
SELECT state, row_version FROM app.tickets;

-- 6. conditional_update() on a partitioned table whose partition's
-- trigger is disabled does not pass twice at the same version: it is
-- refused, and the row is as it was.
SET ROLE rv_app;
CREATE TABLE app.stock (id int, site text, qty int, PRIMARY KEY (id, site)) PARTITION BY LIST (site);
CREATE TABLE app.stock_a PARTITION OF app.stock FOR VALUES IN ('a');
SELECT rowversion.enable('app.stock', mode => 'counter');
INSERT INTO app.stock VALUES (1, 'a', 5);
ALTER TABLE app.stock_a DISABLE TRIGGER zz_rowversion;
SELECT rowversion.conditional_update('app.stock', '{"id": 1, "site": "a"}'::jsonb, 1, '{"qty": 4}');
SELECT rowversion.conditional_update('app.stock', '{"id": 1, "site": "a"}'::jsonb, 1, '{"qty": 3}');
SELECT qty, row_version FROM app.stock;
ALTER TABLE app.stock_a ENABLE TRIGGER zz_rowversion;
SELECT rowversion.conditional_update('app.stock', '{"id": 1, "site": "a"}'::jsonb, 1, '{"qty": 4}');

-- 7. A registered precondition cannot be dropped mid-transaction: after
-- expect_match(), disable(), ALTER TABLE ... DISABLE TRIGGER on the table
-- or on a partition make its writes fail instead of pass unchecked.
CREATE TABLE app.items (id int PRIMARY KEY, name text);
SELECT rowversion.enable('app.items', mode => 'counter');
INSERT INTO app.items VALUES (1, 'a');
BEGIN;
SELECT rowversion.expect_match('app.items', '"7"');
SELECT rowversion.disable('app.items');
UPDATE app.items SET name = 'b';
ROLLBACK;
BEGIN;
SELECT rowversion.expect_match('app.items', '"7"');
ALTER TABLE app.items DISABLE TRIGGER zz_rowversion;
DELETE FROM app.items;
ROLLBACK;
BEGIN;
SELECT rowversion.expect_match('app.stock', '"7"');
ALTER TABLE app.stock_a DISABLE TRIGGER zz_rowversion;
WITH d AS (DELETE FROM app.stock RETURNING 1) SELECT count(*) FROM d;
ROLLBACK;
-- (an upsert routes its rows through the partitioned table)
BEGIN;
SELECT rowversion.expect_match('app.stock', '"7"');
ALTER TABLE app.stock_a DISABLE TRIGGER zz_rowversion;
INSERT INTO app.stock VALUES (1, 'a', 9) ON CONFLICT (id, site) DO UPDATE SET qty = 9;
ROLLBACK;
-- a write to another table, and a statement that writes nothing checked,
-- are not affected
BEGIN;
SELECT rowversion.expect_match('app.items', '"1"');
ALTER TABLE app.items DISABLE TRIGGER zz_rowversion;
UPDATE app.tickets SET state = 'x' WHERE false;
SELECT count(*) FROM app.items;
ROLLBACK;
SELECT name, row_version FROM app.items;
RESET ROLE;

-- A row trigger that fires only for some rows or columns (a WHEN
-- condition) checks nothing for the others: preconditions and conditional
-- writes refuse it, and enable() makes it again.
SET ROLE rv_app;
DROP TRIGGER zz_rowversion ON app.items;
CREATE TRIGGER zz_rowversion BEFORE INSERT OR UPDATE OR DELETE ON app.items FOR EACH ROW
  WHEN (false) EXECUTE FUNCTION rowversion.version_trigger('row_version', 'counter', 'false');
BEGIN;
SELECT rowversion.expect_match('app.items', '"99"');
ROLLBACK;
SELECT rowversion.conditional_update('app.items', 1, 1, '{"name": "b"}');
SELECT rowversion.enable('app.items', mode => 'counter');
SELECT tgqual IS NULL AS fires_always FROM pg_trigger WHERE tgrelid = 'app.items'::regclass;
SELECT rowversion.conditional_update('app.items', 1, 1, '{"name": "b"}');
-- A second version trigger made by hand, or a partition's clone disabled:
-- enable() leaves the one trigger it makes, firing everywhere; disable()
-- removes every version trigger of the table.
CREATE TRIGGER aa_rowversion BEFORE UPDATE ON app.items FOR EACH ROW
  WHEN (false) EXECUTE FUNCTION rowversion.version_trigger('row_version', 'counter', 'true');
SELECT rowversion.enable('app.items', mode => 'counter');
SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'app.items'::regclass ORDER BY 1;
ALTER TABLE app.stock_a DISABLE TRIGGER zz_rowversion;
SELECT rowversion.enable('app.stock', mode => 'counter');
SELECT tgenabled FROM pg_trigger WHERE tgrelid = 'app.stock_a'::regclass AND tgname = 'zz_rowversion';
CREATE TRIGGER zzz_second BEFORE INSERT OR UPDATE OR DELETE ON app.items FOR EACH ROW
  EXECUTE FUNCTION rowversion.version_trigger('row_version', 'counter', 'true');
SELECT rowversion.disable('app.items');
SELECT count(*) AS version_triggers FROM pg_trigger WHERE tgrelid = 'app.items'::regclass;
SELECT rowversion.enable('app.items', mode => 'counter');
-- (one naming no column of the table is refused up front too)
DROP TRIGGER zz_rowversion ON app.items;
CREATE TRIGGER zz_rowversion BEFORE INSERT OR UPDATE OR DELETE ON app.items FOR EACH ROW
  EXECUTE FUNCTION rowversion.version_trigger('', 'counter', 'false');
BEGIN;
SELECT rowversion.expect_match('app.items', '"1"');
ROLLBACK;
SELECT rowversion.enable('app.items', mode => 'counter');
RESET ROLE;

-- 8. What fires no row trigger, or checks its rows in statements that are
-- not the client's, is refused or made good rather than let through:
-- TRUNCATE of a table with a registered precondition (also through
-- CASCADE) is refused; TRUNCATE of a child whose changes propagate bumps
-- every parent row (none when the parent goes too); a write through a
-- view's INSTEAD OF trigger while a precondition is registered is refused;
-- so are propagate() from a table with inheritance children, and later
-- statements through one.
SET ROLE rv_app;
BEGIN;
SELECT rowversion.expect_match('app.items', '"7"');
TRUNCATE app.items;
ROLLBACK;
SELECT rowversion.enable('app.cart_items', mode => 'counter');
BEGIN;
SELECT rowversion.expect_match('app.cart_items', '"7"');
TRUNCATE app.products CASCADE;
ROLLBACK;
SELECT id, row_version FROM app.accounts ORDER BY id;
TRUNCATE app.entries;
SELECT id, row_version FROM app.accounts ORDER BY id;
-- (a partitioned child's TRUNCATE fires the trigger of each partition too:
-- every parent is still bumped once)
RESET ROLE;
ALTER TABLE app.tagged_a OWNER TO rv_app;
SET ROLE rv_app;
CREATE TABLE app.tagged_b PARTITION OF app.tagged FOR VALUES IN ('b');
SELECT rowversion.propagate('app.tagged', 'app.carts');
INSERT INTO app.carts VALUES (2);
SELECT id, row_version FROM app.carts ORDER BY id;
TRUNCATE app.tagged;
SELECT id, row_version FROM app.carts ORDER BY id;
RESET ROLE;
TRUNCATE app.tagged, app.cart_items, app.carts, app.products;
CREATE VIEW app.items_io AS SELECT id, name FROM app.items;
CREATE FUNCTION app.items_io_update() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN UPDATE app.items SET name = NEW.name WHERE id = OLD.id; RETURN NEW; END $$;
CREATE TRIGGER io INSTEAD OF UPDATE ON app.items_io FOR EACH ROW EXECUTE FUNCTION app.items_io_update();
BEGIN;
SELECT rowversion.expect_match('app.items', '"7"');
UPDATE app.items_io SET name = 'through the view' WHERE id = 1;
ROLLBACK;
UPDATE app.items_io SET name = 'through the view' WHERE id = 1;
CREATE TABLE app.ord (id int PRIMARY KEY);
SELECT rowversion.enable('app.ord', mode => 'counter');
CREATE TABLE app.ln (id int PRIMARY KEY, ord int REFERENCES app.ord, qty int);
CREATE TABLE app.ln_old () INHERITS (app.ln);
SELECT rowversion.propagate('app.ln', 'app.ord');
ALTER TABLE app.ln_old NO INHERIT app.ln;
SELECT rowversion.propagate('app.ln', 'app.ord');
ALTER TABLE app.ln_old INHERIT app.ln;
INSERT INTO app.ord VALUES (1);
INSERT INTO app.ln_old VALUES (10, 1, 5);
UPDATE app.ln SET qty = 6 WHERE id = 10;
DELETE FROM app.ln WHERE id = 10;
SELECT id, row_version FROM app.ord;
RESET ROLE;

\c :regress_db
DROP DATABASE rv_trust;
DROP ROLE rv_dbo, rv_app, rv_writer, rv_t1, rv_t2;
