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
-- with the options enable() was given.  Only BEFORE ROW triggers with the
-- arguments enable() writes are listed, so a hand-made trigger with odd
-- arguments cannot break the view.
CREATE VIEW rowversion.tables AS
  SELECT t.tgrelid::pg_catalog.regclass AS tbl,
         a.args[1]::pg_catalog.name AS version_column,
         a.args[2] AS mode,
         CASE a.args[3] WHEN 'true' THEN true WHEN 'false' THEN false END AS require_version,
         a.args[4:]::pg_catalog.name[] AS ignore_columns
  FROM pg_catalog.pg_trigger AS t,
       LATERAL (SELECT rowversion.trigger_arguments(t.tgargs) AS args) AS a
  WHERE t.tgfoid OPERATOR(pg_catalog.=) 'rowversion.version_trigger()'::pg_catalog.regprocedure
    AND t.tgparentid OPERATOR(pg_catalog.=) 0
    -- BEFORE ... FOR EACH ROW
    AND (t.tgtype::pg_catalog.int4 OPERATOR(pg_catalog.&) 3) OPERATOR(pg_catalog.=) 3
    AND t.tgnargs OPERATOR(pg_catalog.>=) 3;

GRANT SELECT ON rowversion.tables TO PUBLIC;

-- Checks that tbl exists, is an ordinary or partitioned table outside the
-- system schemas, and that the current user owns it; returns its
-- schema-qualified, quoted name.
CREATE FUNCTION rowversion.check_table(tbl regclass)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  r record;
BEGIN
  SELECT c.relkind, c.relname, c.relowner, n.nspname
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
    RAISE EXCEPTION 'cannot keep row versions of % "%"',
                    CASE r.relkind
                      WHEN 'v' THEN 'view'
                      WHEN 'm' THEN 'materialized view'
                      WHEN 'f' THEN 'foreign table'
                      WHEN 'S' THEN 'sequence'
                      WHEN 'i' THEN 'index'
                      WHEN 'I' THEN 'partitioned index'
                      WHEN 'c' THEN 'composite type'
                      WHEN 't' THEN 'TOAST table'
                      ELSE 'relation' END,
                    r.relname
      USING ERRCODE = 'wrong_object_type',
            HINT = 'Only ordinary and partitioned tables can have row versions.';
  END IF;
  IF NOT pg_has_role(r.relowner, 'USAGE') THEN
    RAISE EXCEPTION 'must be owner of table %', r.relname
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN format('%I.%I', r.nspname, r.relname);
END
$$;

-- The row trigger that enable() created on tbl itself (not one cloned from
-- a partitioned parent): its name, arguments, enabled state and whether it
-- fires on DELETE too (enable() before 1.0's DELETE check did not), or NULLs.
CREATE FUNCTION rowversion.find_trigger(tbl regclass,
  OUT tgname name, OUT args text[], OUT tgenabled "char", OUT on_delete boolean)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT t.tgname, rowversion.trigger_arguments(t.tgargs), t.tgenabled,
         (t.tgtype::int4 & 8) <> 0
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
  other record;
  current record;
  col record;
  ignored name[] := '{}';
  ignore_column name;
  fill text;
  args text[];
BEGIN
  -- Checked here, not by a shared helper taking anyelement: an overload
  -- someone adds to this schema could outrank such a helper.
  IF tbl IS NULL OR version_column IS NULL OR mode IS NULL OR require_version IS NULL
     OR ignore_columns IS NULL OR array_position(ignore_columns, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'parameter "%" cannot be null',
                    CASE WHEN tbl IS NULL THEN 'tbl'
                         WHEN version_column IS NULL THEN 'version_column'
                         WHEN mode IS NULL THEN 'mode'
                         WHEN require_version IS NULL THEN 'require_version'
                         ELSE 'ignore_columns' END
      USING ERRCODE = 'null_value_not_allowed';
  END IF;

  qualified := rowversion.check_table(tbl);
  relname := (SELECT c.relname FROM pg_class AS c WHERE c.oid = tbl);
  -- Two enable() calls on one table wait for each other.
  EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', qualified);

  IF (SELECT c.relispartition FROM pg_class AS c WHERE c.oid = tbl) THEN
    RAISE EXCEPTION 'cannot keep row versions of partition "%" on its own', relname
      USING ERRCODE = 'wrong_object_type',
            HINT = format('Enable its partitioned table "%s" instead; its partitions follow.',
                          (SELECT c.relname
                             FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhparent
                            WHERE i.inhrelid = tbl));
  END IF;
  -- Partitions follow their partitioned table, so all of them must be able
  -- to: none foreign, none keeping versions of its own.
  SELECT c.relname, c.relkind INTO other
    FROM pg_partition_tree(tbl) AS p JOIN pg_class AS c ON c.oid = p.relid
   WHERE p.relid <> tbl::oid
     AND (c.relkind = 'f'
          OR (SELECT f.tgname FROM rowversion.find_trigger(c.oid::regclass) AS f) IS NOT NULL)
   ORDER BY c.relkind = 'f' DESC, c.relname
   LIMIT 1;
  IF FOUND AND other.relkind = 'f' THEN
    RAISE EXCEPTION 'cannot keep row versions of partitioned table "%"', relname
      USING ERRCODE = 'wrong_object_type',
            DETAIL = format('Partition "%s" is a foreign table.', other.relname);
  ELSIF FOUND THEN
    RAISE EXCEPTION 'partition "%" keeps row versions of its own', other.relname
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = format('Call rowversion.disable() on "%s" first.', other.relname);
  END IF;
  -- Triggers do not reach inheritance children: they must keep their own.
  SELECT c.relname INTO other
    FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
   WHERE i.inhparent = tbl AND NOT c.relispartition
     AND (SELECT f.tgname FROM rowversion.find_trigger(c.oid::regclass) AS f) IS NULL
   ORDER BY c.relname
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'table "%" has inheritance children that do not keep row versions', relname
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = format('Child table "%s" does not keep row versions.', other.relname),
            HINT = 'Enable each child table first.';
  END IF;

  IF mode NOT IN ('xact', 'counter') THEN
    RAISE EXCEPTION 'invalid row version mode "%"', mode
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Valid values are "xact" and "counter".';
  END IF;
  IF version_column = '' THEN
    RAISE EXCEPTION 'version column name cannot be empty'
      USING ERRCODE = 'invalid_name';
  END IF;

  SELECT t.tgname, t.args, t.tgenabled, t.on_delete INTO current
    FROM rowversion.find_trigger(tbl) AS t;
  IF current.tgname IS NOT NULL AND current.args[1] <> version_column THEN
    IF EXISTS (SELECT FROM pg_attribute AS a
                WHERE a.attrelid = tbl AND a.attname = current.args[1]
                  AND a.attnum > 0 AND NOT a.attisdropped) THEN
      RAISE EXCEPTION 'table "%" already keeps its row versions in column "%"',
                      relname, current.args[1]
        USING ERRCODE = 'object_not_in_prerequisite_state',
              HINT = 'Call rowversion.disable() first to move them to another column.';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_attribute AS a
                    WHERE a.attrelid = tbl AND a.attname = version_column
                      AND a.attnum > 0 AND NOT a.attisdropped) THEN
      RAISE EXCEPTION 'version column "%" of table "%" no longer exists',
                      current.args[1], relname
        USING ERRCODE = 'object_not_in_prerequisite_state',
              HINT = 'If it was renamed, pass its new name as version_column; else call rowversion.disable() first.';
    END IF;
  END IF;

  FOREACH ignore_column IN ARRAY ignore_columns LOOP
    IF ignore_column = version_column THEN
      RAISE EXCEPTION 'cannot ignore the version column "%"', version_column
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_attribute AS a
                    WHERE a.attrelid = tbl AND a.attname = ignore_column
                      AND a.attnum > 0 AND NOT a.attisdropped) THEN
      RAISE EXCEPTION 'column "%" of relation "%" does not exist', ignore_column, relname
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
  IF current.tgname IS NOT NULL AND current.args = args AND current.tgenabled = 'O'
     AND current.on_delete THEN
    RETURN;
  END IF;
  IF current.tgname IS NOT NULL THEN
    EXECUTE format('DROP TRIGGER %I ON %s', current.tgname, qualified);
  END IF;
  -- Named to sort after the table's other BEFORE triggers, which PostgreSQL
  -- fires in name order.  On DELETE it checks expect_match()'s
  -- preconditions, and returns at once when none is registered.
  EXECUTE format('CREATE TRIGGER zz_rowversion BEFORE INSERT OR UPDATE OR DELETE ON %s '
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
  IF tbl IS NULL OR drop_column IS NULL THEN
    RAISE EXCEPTION 'parameter "%" cannot be null',
                    CASE WHEN tbl IS NULL THEN 'tbl' ELSE 'drop_column' END
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
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

-- watermark(): the oldest transaction ID still running in the calling
-- statement's snapshot, 64-bit.  Save it with a read; read the rows with
-- row_version >= it next time, and no change committed meanwhile is missed
-- (xact mode).
CREATE FUNCTION rowversion.watermark()
RETURNS bigint
AS 'MODULE_PATHNAME', 'watermark'
LANGUAGE C STABLE;

-- The statement trigger behind propagate(); see src/propagate.c.
CREATE FUNCTION rowversion.propagate_collect()
RETURNS trigger
AS 'MODULE_PATHNAME', 'propagate_collect'
LANGUAGE C;

CREATE FUNCTION rowversion.propagate_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'propagate_trigger'
LANGUAGE C;

-- The foreign key from child to parent that via names, or the only one.
CREATE FUNCTION rowversion.find_foreign_key(child regclass, parent regclass, via name)
RETURNS oid
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  keys oid[];
BEGIN
  keys := ARRAY(SELECT c.oid FROM pg_constraint AS c
                 WHERE c.contype = 'f' AND c.conrelid = child AND c.confrelid = parent
                   AND (via IS NULL OR c.conname = via)
                 ORDER BY c.conname);
  IF cardinality(keys) = 0 AND via IS NOT NULL THEN
    RAISE EXCEPTION 'foreign key "%" from table "%" to table "%" does not exist',
                    via, (SELECT relname FROM pg_class WHERE oid = child),
                    (SELECT relname FROM pg_class WHERE oid = parent)
      USING ERRCODE = 'undefined_object';
  ELSIF cardinality(keys) = 0 THEN
    RAISE EXCEPTION 'table "%" has no foreign key to table "%"',
                    (SELECT relname FROM pg_class WHERE oid = child),
                    (SELECT relname FROM pg_class WHERE oid = parent)
      USING ERRCODE = 'undefined_object';
  ELSIF cardinality(keys) > 1 THEN
    RAISE EXCEPTION 'table "%" has more than one foreign key to table "%"',
                    (SELECT relname FROM pg_class WHERE oid = child),
                    (SELECT relname FROM pg_class WHERE oid = parent)
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Name the one to propagate through with via.';
  END IF;
  RETURN keys[1];
END
$$;

-- Drops the triggers that propagate() made on child and its partitions
-- for the foreign key named fkname (found by function and argument, since
-- their names carry the key's OID, which a restore changes); returns
-- whether there were any.
CREATE FUNCTION rowversion.drop_propagation_triggers(child regclass, fkname name)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  trigger record;
  found boolean := false;
BEGIN
  FOR trigger IN
    SELECT t.tgname, t.tgrelid::regclass AS rel FROM pg_trigger AS t
     WHERE t.tgrelid IN (SELECT child UNION SELECT relid FROM pg_partition_tree(child))
       AND t.tgparentid = 0
       AND t.tgfoid IN ('rowversion.propagate_collect()'::regprocedure,
                        'rowversion.propagate_trigger()'::regprocedure)
       AND (rowversion.trigger_arguments(t.tgargs))[1] = fkname
  LOOP
    EXECUTE format('DROP TRIGGER %I ON %s', trigger.tgname, trigger.rel);
    found := true;
  END LOOP;
  RETURN found;
END
$$;

-- propagate(child, parent, via): every INSERT, UPDATE and DELETE of child
-- rows bumps the version of the parent rows they reference, in the same
-- transaction, through the foreign key via (or the only one).
CREATE FUNCTION rowversion.propagate(child regclass, parent regclass, via name DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  qualified text;
  fk oid;
  fkname name;
  parent_args text[];
  part regclass;
  col record;
BEGIN
  IF child IS NULL OR parent IS NULL THEN
    RAISE EXCEPTION 'parameter "%" cannot be null',
                    CASE WHEN child IS NULL THEN 'child' ELSE 'parent' END
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  qualified := rowversion.check_table(child);
  PERFORM rowversion.check_table(parent);
  IF (SELECT c.relispartition FROM pg_class AS c WHERE c.oid = child) THEN
    RAISE EXCEPTION 'cannot propagate from partition "%" on its own',
                    (SELECT relname FROM pg_class WHERE oid = child)
      USING ERRCODE = 'wrong_object_type',
            HINT = 'Propagate from its partitioned table.';
  END IF;
  SELECT t.args INTO parent_args FROM rowversion.find_trigger(parent) AS t;
  IF parent_args IS NULL THEN
    RAISE EXCEPTION 'table "%" does not keep row versions',
                    (SELECT relname FROM pg_class WHERE oid = parent)
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Call rowversion.enable() on it first.';
  END IF;
  fk := rowversion.find_foreign_key(child, parent, via);
  fkname := (SELECT conname FROM pg_constraint WHERE oid = fk);
  -- The bump runs as the parent's owner, for a child whose owner has that
  -- owner's rights (checked again at run time).
  IF NOT pg_has_role((SELECT relowner FROM pg_class WHERE oid = child),
                     (SELECT relowner FROM pg_class WHERE oid = parent), 'USAGE') THEN
    RAISE EXCEPTION 'permission denied to propagate from table "%" to table "%"',
                    (SELECT relname FROM pg_class WHERE oid = child),
                    (SELECT relname FROM pg_class WHERE oid = parent)
      USING ERRCODE = 'insufficient_privilege',
            DETAIL = 'The owner of the child table must have the privileges of the owner of the parent table.';
  END IF;

  -- No cycles: the parent must not reach the child through propagations.
  IF child = parent OR EXISTS (
      WITH RECURSIVE up(rel) AS (
        SELECT parent::oid
        UNION
        SELECT p.parent::oid FROM rowversion.propagations AS p JOIN up ON p.child::oid = up.rel)
      SELECT FROM up WHERE rel = child::oid) THEN
    RAISE EXCEPTION 'propagating from table "%" to table "%" would create a cycle',
                    (SELECT relname FROM pg_class WHERE oid = child),
                    (SELECT relname FROM pg_class WHERE oid = parent)
      USING ERRCODE = 'invalid_object_definition';
  END IF;

  EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', qualified);
  -- The row trigger sees rows before generated columns are computed, and
  -- keys travel to the statement trigger as arrays.
  SELECT a.attname, a.attgenerated <> '' AS generated, t.typarray = 0 AS no_array
    INTO col
    FROM pg_constraint AS c, unnest(c.conkey) AS k(attnum)
    JOIN pg_attribute AS a ON a.attrelid = child AND a.attnum = k.attnum
    JOIN pg_type AS t ON t.oid = a.atttypid
   WHERE c.oid = fk AND (a.attgenerated <> '' OR t.typarray = 0)
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'cannot propagate through foreign key "%"', fkname
      USING ERRCODE = 'feature_not_supported',
            DETAIL = CASE WHEN col.generated
                          THEN format('Column "%s" is a generated column.', col.attname)
                          ELSE format('Column "%s" is of a type that has no array type.', col.attname) END;
  END IF;
  PERFORM rowversion.drop_propagation_triggers(child, fkname);
  -- A row trigger notes the parent keys of the changed rows (named to sort
  -- after the version trigger, it sees the rows as stored); a statement
  -- trigger bumps their parents (src/propagate.c).
  EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW '
                 'EXECUTE FUNCTION rowversion.propagate_collect(%L)',
                 'zz_rowversion_propagate_' || fk, qualified, fkname);
  -- PostgreSQL fires the statement triggers of the table a statement
  -- names alone, so each partition gets one too (not those attached later).
  FOR part IN SELECT child UNION SELECT relid FROM pg_partition_tree(child) LOOP
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH STATEMENT '
                   'EXECUTE FUNCTION rowversion.propagate_trigger(%L, %L)',
                   'rv_propagate_' || fk, part, fkname, parent_args[1]);
  END LOOP;
END
$$;

-- stop_propagating(child, parent, via): undoes propagate().
CREATE FUNCTION rowversion.stop_propagating(child regclass, parent regclass, via name DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  qualified text;
  fk oid;
BEGIN
  IF child IS NULL OR parent IS NULL THEN
    RAISE EXCEPTION 'parameter "%" cannot be null',
                    CASE WHEN child IS NULL THEN 'child' ELSE 'parent' END
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  qualified := rowversion.check_table(child);
  fk := rowversion.find_foreign_key(child, parent, via);
  IF NOT rowversion.drop_propagation_triggers(child,
           (SELECT conname FROM pg_constraint WHERE oid = fk)) THEN
    RAISE EXCEPTION 'table "%" does not propagate to table "%"',
                    (SELECT relname FROM pg_class WHERE oid = child),
                    (SELECT relname FROM pg_class WHERE oid = parent)
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
END
$$;

-- One row per propagation: the child, the parent, and the foreign key.
CREATE VIEW rowversion.propagations AS
  SELECT t.tgrelid::pg_catalog.regclass AS child,
         c.confrelid::pg_catalog.regclass AS parent,
         c.conname AS via
  FROM pg_catalog.pg_trigger AS t
  JOIN pg_catalog.pg_constraint AS c
    ON c.conrelid OPERATOR(pg_catalog.=) t.tgrelid
   AND c.contype OPERATOR(pg_catalog.=) 'f'
   AND c.conname OPERATOR(pg_catalog.=) (rowversion.trigger_arguments(t.tgargs))[1]
  WHERE t.tgfoid OPERATOR(pg_catalog.=) 'rowversion.propagate_trigger()'::pg_catalog.regprocedure
    -- the statement trigger of the table propagate() was called on
    AND (t.tgtype::pg_catalog.int4 OPERATOR(pg_catalog.&) 1) OPERATOR(pg_catalog.=) 0
    AND NOT (SELECT r.relispartition FROM pg_catalog.pg_class AS r
              WHERE r.oid OPERATOR(pg_catalog.=) t.tgrelid);

GRANT SELECT ON rowversion.propagations TO PUBLIC;

-- RFC 9110 entity tags of versions, and the If-Match / If-None-Match
-- preconditions evaluated against a row's version (src/etag.c).
CREATE FUNCTION rowversion.etag(version bigint)
RETURNS text
AS 'MODULE_PATHNAME', 'etag'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION rowversion.etag_version(etag text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'etag_version'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Not STRICT: a NULL current_version is a row that does not exist.
CREATE FUNCTION rowversion.if_match(header text, current_version bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'if_match'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION rowversion.if_none_match(header text, current_version bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'if_none_match'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- If-Match preconditions for UPDATE and DELETE statements that the
-- application does not write (src/precondition.c).  Not STRICT: a NULL
-- header removes the table's precondition.
CREATE FUNCTION rowversion.expect_match(tbl regclass, if_match text)
RETURNS void
AS 'MODULE_PATHNAME', 'expect_match'
LANGUAGE C VOLATILE;

-- For PostgREST's db-pre-request setting; reads the request.* settings
-- and the search_path that PostgREST sets for each request.
CREATE FUNCTION rowversion.postgrest_pre_request()
RETURNS void
AS 'MODULE_PATHNAME', 'postgrest_pre_request'
LANGUAGE C VOLATILE;
