-- A table owner without superuser can enable row versions, and objects
-- that an unprivileged user plants in public change nothing.
CREATE ROLE rv_owner;
CREATE ROLE rv_attacker;
CREATE ROLE rv_app;
GRANT CREATE, USAGE ON SCHEMA public TO rv_attacker;
CREATE SCHEMA owned AUTHORIZATION rv_owner;

-- The attacker plants look-alikes of what enable() and the view use.
SET ROLE rv_attacker;
CREATE TABLE public.pg_trigger (tgrelid oid, tgfoid oid, tgparentid oid, tgname name, tgargs bytea);
CREATE TABLE public.pg_attribute (attrelid oid, attname name, attnum int, attisdropped bool);
CREATE FUNCTION public.format(text, name, name) RETURNS text
  LANGUAGE sql AS $$ SELECT 'public.hijacked' $$;
CREATE FUNCTION public.quote_literal(anyelement) RETURNS text
  LANGUAGE sql AS $$ SELECT '''hijacked''' $$;
CREATE FUNCTION public.pg_current_xact_id() RETURNS xid8
  LANGUAGE sql AS $$ SELECT '1'::xid8 $$;
CREATE FUNCTION public.get_byte(bytea, int) RETURNS int
  LANGUAGE sql AS $$ SELECT 0 $$;
CREATE FUNCTION public.texteq_evil(text, text) RETURNS boolean
  LANGUAGE sql AS $$ SELECT true $$;
CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.texteq_evil);
RESET ROLE;

SET ROLE rv_owner;
-- public first: a function that did not pin its search_path would pick up
-- the planted objects.
SET search_path = public, pg_catalog, owned;
CREATE TABLE owned.widget (id int PRIMARY KEY, name text);
INSERT INTO owned.widget VALUES (1, 'w');
SELECT rowversion.enable('owned.widget', ignore_columns => '{name}');
SELECT tbl, version_column, mode, require_version, ignore_columns FROM rowversion.tables
WHERE tbl = 'owned.widget'::regclass;
SELECT pg_get_triggerdef(oid) FROM pg_catalog.pg_trigger WHERE tgrelid = 'owned.widget'::regclass;
SELECT row_version > 1 AS real_xact_id FROM owned.widget;
GRANT SELECT, UPDATE ON owned.widget TO rv_app;
GRANT USAGE ON SCHEMA owned TO rv_app;
RESET ROLE;

-- Another role's writes go through the trigger (no rights on the
-- extension's schema needed beyond what PUBLIC has).
SET ROLE rv_app;
SELECT row_version AS v FROM owned.widget \gset
UPDATE owned.widget SET name = 'w2', row_version = :v RETURNING row_version > :v AS bumped;
SELECT code FROM rvtest.error(format('UPDATE owned.widget SET row_version = %s', :v));
-- Only the table's owner may enable or disable it.
SELECT code FROM rvtest.error($$SELECT rowversion.disable('owned.widget')$$);
RESET ROLE;

RESET search_path;
DROP SCHEMA owned CASCADE;
DROP TABLE public.pg_trigger, public.pg_attribute;
DROP OPERATOR public.= (text, text);
DROP FUNCTION public.format(text, name, name), public.quote_literal(anyelement),
  public.pg_current_xact_id(), public.get_byte(bytea, int), public.texteq_evil(text, text);
REVOKE ALL ON SCHEMA public FROM rv_attacker;
DROP ROLE rv_owner, rv_attacker, rv_app;

-- A claim by a caller who may not read the version column is refused
-- (42501), stale or not, since its outcome would tell the version; the
-- table's owner gets RV001 with both versions.
CREATE TABLE rvtest.secret (id int PRIMARY KEY, body text);
SELECT rowversion.enable('rvtest.secret', mode => 'counter');
INSERT INTO rvtest.secret VALUES (1, 'x');
UPDATE rvtest.secret SET body = 'y';
CREATE ROLE rv_blind;
GRANT SELECT (id), UPDATE (body, row_version) ON rvtest.secret TO rv_blind;
SET ROLE rv_blind;
SELECT code, detail FROM rvtest.error($$UPDATE rvtest.secret SET body = 'z', row_version = 1 WHERE id = 1$$);
RESET ROLE;
SELECT code, detail FROM rvtest.error($$UPDATE rvtest.secret SET body = 'z', row_version = 1 WHERE id = 1$$);
DROP TABLE rvtest.secret;
DROP ROLE rv_blind;

-- enable() calls no helper that an overload planted in the extension's
-- schema (by its owner, who need not be a superuser) could stand in for.
CREATE FUNCTION rowversion.check_not_null(value regclass, parameter text) RETURNS void
  LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijacked'; END $$;
CREATE FUNCTION rowversion.check_not_null(value name, parameter text) RETURNS void
  LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijacked'; END $$;
CREATE TABLE rvtest.planted (id int PRIMARY KEY);
SELECT rowversion.enable('rvtest.planted');
SELECT rowversion.disable('rvtest.planted');
DROP FUNCTION rowversion.check_not_null(regclass, text), rowversion.check_not_null(name, text);
DROP TABLE rvtest.planted;
