/* rowversion 1.0 — install script */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION rowversion" to load this file. \quit

-- Everything lives in schema rowversion (the control file's schema).  Every
-- name below is schema-qualified, and the PL/pgSQL and SQL functions run with
-- search_path = pg_catalog, pg_temp, so objects that other users create in
-- public cannot capture them.

GRANT USAGE ON SCHEMA rowversion TO PUBLIC;

-- The row trigger of every enabled table.  Its arguments carry the table's
-- options; see rowversion.enable() and src/trigger.c.
CREATE FUNCTION rowversion.version_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'version_trigger'
LANGUAGE C;

-- The text arguments of a trigger, from pg_trigger.tgargs (each argument is
-- stored followed by a zero byte).
CREATE FUNCTION rowversion.trigger_arguments(tgargs bytea)
RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(array_agg(convert_from(substring(tgargs FROM s + 2 FOR e - s - 1),
                                         getdatabaseencoding()::name)
                            ORDER BY e),
                  '{}')
  FROM (SELECT e, coalesce(lag(e) OVER (ORDER BY e), -1) AS s
        FROM generate_series(0, length(tgargs) - 1) AS e
        WHERE get_byte(tgargs, e) = 0) AS ends
$$;

-- One row per enabled table (a partitioned table once, not its partitions),
-- with the options enable() was given.
CREATE VIEW rowversion.tables AS
  SELECT t.tgrelid::pg_catalog.regclass AS tbl,
         a.args[1]::pg_catalog.name AS version_column,
         a.args[2] AS mode,
         a.args[3]::pg_catalog.bool AS require_version,
         a.args[4:]::pg_catalog.name[] AS ignore_columns
  FROM pg_catalog.pg_trigger AS t,
       LATERAL (SELECT rowversion.trigger_arguments(t.tgargs) AS args) AS a
  WHERE t.tgfoid = 'rowversion.version_trigger()'::pg_catalog.regprocedure
    AND t.tgparentid OPERATOR(pg_catalog.=) 0;

GRANT SELECT ON rowversion.tables TO PUBLIC;

-- Raises 22004 unless value is not null.
CREATE FUNCTION rowversion.check_not_null(value anyelement, parameter text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF value IS NULL THEN
    RAISE EXCEPTION 'parameter "%" cannot be null', parameter
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
END
$$;

-- Checks that tbl is a table whose row versions enable() may keep, and
-- returns its schema-qualified, quoted name.
CREATE FUNCTION rowversion.check_table(tbl regclass)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  r record;
BEGIN
  SELECT c.relkind, c.relispartition, c.relname, n.nspname
    INTO r
    FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
   WHERE c.oid = tbl;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'relation with OID % does not exist', tbl::oid
      USING ERRCODE = 'undefined_table';
  END IF;
  IF r.nspname IN ('pg_catalog', 'pg_toast', 'information_schema') THEN
    RAISE EXCEPTION 'cannot keep row versions of system table "%"', r.relname
      USING ERRCODE = 'wrong_object_type';
  END IF;
  IF r.relkind NOT IN ('r', 'p') THEN
    RAISE EXCEPTION 'cannot keep row versions of "%"', r.relname
      USING ERRCODE = 'wrong_object_type',
            DETAIL = format('"%s" is %s.', r.relname,
                            CASE r.relkind
                              WHEN 'v' THEN 'a view'
                              WHEN 'm' THEN 'a materialized view'
                              WHEN 'f' THEN 'a foreign table'
                              WHEN 'S' THEN 'a sequence'
                              WHEN 'i' THEN 'an index'
                              WHEN 'I' THEN 'a partitioned index'
                              WHEN 'c' THEN 'a composite type'
                              WHEN 't' THEN 'a TOAST table'
                              ELSE 'not a table' END),
            HINT = 'Only ordinary and partitioned tables can have row versions.';
  END IF;
  IF r.relispartition THEN
    RAISE EXCEPTION 'cannot keep row versions of partition "%" on its own', r.relname
      USING ERRCODE = 'wrong_object_type',
            HINT = format('Enable its partitioned table %s instead; its partitions follow.',
                          (SELECT i.inhparent::regclass FROM pg_inherits AS i
                            WHERE i.inhrelid = tbl));
  END IF;
  RETURN format('%I.%I', r.nspname, r.relname);
END
$$;

-- The enabled table's row trigger: its name and arguments, or NULLs when
-- tbl is not enabled.
CREATE FUNCTION rowversion.find_trigger(tbl regclass, OUT tgname name, OUT args text[])
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT t.tgname, rowversion.trigger_arguments(t.tgargs)
    FROM pg_trigger AS t
   WHERE t.tgrelid = tbl
     AND t.tgfoid = 'rowversion.version_trigger()'::regprocedure
     AND t.tgparentid = 0
$$;

CREATE FUNCTION rowversion.enable(
  tbl regclass,
  version_column name DEFAULT 'row_version',
  mode text DEFAULT 'xact',
  require_version boolean DEFAULT false,
  ignore_columns name[] DEFAULT '{}')
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  qualified text;
  relname name;
  current record;
  col record;
  ignored name[] := '{}';
  ignore_column name;
  fill text;
  args text[];
BEGIN
  PERFORM rowversion.check_not_null(tbl, 'tbl');
  PERFORM rowversion.check_not_null(version_column, 'version_column');
  PERFORM rowversion.check_not_null(mode, 'mode');
  PERFORM rowversion.check_not_null(require_version, 'require_version');
  PERFORM rowversion.check_not_null(ignore_columns, 'ignore_columns');
  qualified := rowversion.check_table(tbl);
  relname := (SELECT c.relname FROM pg_class AS c WHERE c.oid = tbl);

  IF mode NOT IN ('xact', 'counter') THEN
    RAISE EXCEPTION 'invalid row version mode "%"', mode
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'The mode is "xact" or "counter".';
  END IF;
  IF version_column = '' THEN
    RAISE EXCEPTION 'version column name cannot be empty'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;

  SELECT t.tgname, t.args INTO current FROM rowversion.find_trigger(tbl) AS t;
  IF current.args[1] IS DISTINCT FROM version_column
     AND EXISTS (SELECT FROM pg_attribute AS a
                  WHERE a.attrelid = tbl AND a.attname = current.args[1]
                    AND a.attnum > 0 AND NOT a.attisdropped) THEN
    RAISE EXCEPTION 'table "%" already keeps its row versions in column "%"',
                    relname, current.args[1]
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Call rowversion.disable() first to move them to another column.';
  END IF;

  FOREACH ignore_column IN ARRAY ignore_columns LOOP
    PERFORM rowversion.check_not_null(ignore_column, 'ignore_columns');
    IF ignore_column = version_column THEN
      RAISE EXCEPTION 'cannot ignore the version column "%"', version_column
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_attribute AS a
                    WHERE a.attrelid = tbl AND a.attname = ignore_column
                      AND a.attnum > 0 AND NOT a.attisdropped) THEN
      RAISE EXCEPTION 'column "%" of relation "%" does not exist',
                      ignore_column, relname
        USING ERRCODE = 'undefined_column';
    END IF;
    IF NOT ignore_column = ANY (ignored) THEN
      ignored := ignored || ignore_column;
    END IF;
  END LOOP;

  -- The value existing rows start at: what an INSERT now would give them.
  fill := CASE mode WHEN 'xact' THEN pg_current_xact_id()::text ELSE '1' END;

  SELECT a.atttypid, a.attnotnull, a.attgenerated, a.attidentity
    INTO col
    FROM pg_attribute AS a
   WHERE a.attrelid = tbl AND a.attname = version_column
     AND a.attnum > 0 AND NOT a.attisdropped;

  IF NOT FOUND THEN
    -- A constant default fills existing rows without rewriting the table;
    -- it is dropped at once, so later inserts rely on the trigger alone.
    EXECUTE format('ALTER TABLE %s ADD COLUMN %I bigint NOT NULL DEFAULT %s',
                   qualified, version_column, fill);
    EXECUTE format('ALTER TABLE %s ALTER COLUMN %I DROP DEFAULT',
                   qualified, version_column);
  ELSE
    IF col.attgenerated <> '' OR col.attidentity <> '' THEN
      RAISE EXCEPTION 'version column "%" cannot be a generated or identity column',
                      version_column
        USING ERRCODE = 'invalid_table_definition';
    END IF;
    IF (mode = 'xact' AND col.atttypid <> 'bigint'::regtype)
       OR col.atttypid NOT IN ('bigint'::regtype, 'integer'::regtype, 'smallint'::regtype) THEN
      RAISE EXCEPTION 'version column "%" is of type %', version_column, col.atttypid::regtype
        USING ERRCODE = 'datatype_mismatch',
              DETAIL = CASE mode WHEN 'xact' THEN 'Mode xact needs a bigint column.'
                       ELSE 'Mode counter needs a smallint, integer or bigint column.' END;
    END IF;
    IF NOT col.attnotnull THEN
      -- Fill the gaps before the trigger exists, so the fill is no claim.
      IF current.tgname IS NOT NULL THEN
        EXECUTE format('DROP TRIGGER %I ON %s', current.tgname, qualified);
        current.tgname := NULL;
      END IF;
      EXECUTE format('UPDATE %s SET %I = %s WHERE %I IS NULL',
                     qualified, version_column, fill, version_column);
      EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET NOT NULL',
                     qualified, version_column);
    END IF;
  END IF;

  args := ARRAY[version_column::text, mode, require_version::text] || ignored::text[];
  IF current.tgname IS NOT NULL AND current.args = args THEN
    RETURN;
  END IF;
  IF current.tgname IS NOT NULL THEN
    EXECUTE format('DROP TRIGGER %I ON %s', current.tgname, qualified);
  END IF;
  -- Named to sort after the table's other BEFORE triggers, which PostgreSQL
  -- fires in name order, so the version it assigns is the last word.
  EXECUTE format('CREATE TRIGGER zz_rowversion BEFORE INSERT OR UPDATE ON %s '
                 'FOR EACH ROW EXECUTE FUNCTION rowversion.version_trigger(%s)',
                 qualified,
                 (SELECT string_agg(quote_literal(a), ', ') FROM unnest(args) AS a));
END
$$;

CREATE FUNCTION rowversion.disable(tbl regclass, drop_column boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  qualified text;
  current record;
BEGIN
  PERFORM rowversion.check_not_null(tbl, 'tbl');
  PERFORM rowversion.check_not_null(drop_column, 'drop_column');
  qualified := rowversion.check_table(tbl);
  SELECT t.tgname, t.args INTO current FROM rowversion.find_trigger(tbl) AS t;
  IF current.tgname IS NULL THEN
    RAISE EXCEPTION 'table "%" does not keep row versions',
                    (SELECT c.relname FROM pg_class AS c WHERE c.oid = tbl)
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  EXECUTE format('DROP TRIGGER %I ON %s', current.tgname, qualified);
  IF drop_column THEN
    EXECUTE format('ALTER TABLE %s DROP COLUMN IF EXISTS %I', qualified, current.args[1]);
  END IF;
END
$$;

-- conditional_update(tbl, key, expected_version, changes): one UPDATE of the
-- row with primary key `key`, only while it is at expected_version; returns
-- the new version.  Two signatures, one C function: a typed key (42, a uuid,
-- a jsonb object naming every key column) resolves to "any", and an untyped
-- parameter, which drivers send, resolves to text.
CREATE FUNCTION rowversion.conditional_update(tbl regclass, key "any",
                                              expected_version bigint, changes jsonb)
RETURNS bigint
AS 'MODULE_PATHNAME', 'conditional_update'
LANGUAGE C VOLATILE;

CREATE FUNCTION rowversion.conditional_update(tbl regclass, key text,
                                              expected_version bigint, changes jsonb)
RETURNS bigint
AS 'MODULE_PATHNAME', 'conditional_update'
LANGUAGE C VOLATILE;

-- conditional_delete(tbl, key, expected_version): the same for DELETE.
CREATE FUNCTION rowversion.conditional_delete(tbl regclass, key "any",
                                              expected_version bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'conditional_delete'
LANGUAGE C VOLATILE;

CREATE FUNCTION rowversion.conditional_delete(tbl regclass, key text,
                                              expected_version bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'conditional_delete'
LANGUAGE C VOLATILE;
