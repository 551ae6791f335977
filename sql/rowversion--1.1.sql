/* rowversion 1.1 — install script */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION rowversion" to load this file. \quit

-- Everything lives in schema rowversion (the control file's schema).  Every
-- name below is schema-qualified, operators included, so objects that other
-- users create in public cannot capture them.  Every function is written in
-- C and PUBLIC may call each one: the internal work of enable(), disable(),
-- propagate() and stop_propagating() is done in C too (src/manage.c), and
-- the views decode trigger arguments with pg_catalog's functions alone, so
-- there is no helper function for users to call by accident or on purpose.

-- CREATE EXTENSION made the schema as the role that ran it, which for a
-- trusted extension is the database owner, who could then add overloads
-- of these functions that the documented calls would resolve to -- and run
-- them as whoever calls them.  The script runs as a superuser: the schema
-- becomes that superuser's, so nobody but a superuser creates objects in it.
-- A schema of that name made beforehand must be empty (pg_restore makes it
-- so), and it keeps no grant anyone made on it.
DO $$
DECLARE
  nsp pg_catalog.oid := 'rowversion'::pg_catalog.regnamespace;
  grantee pg_catalog.oid;
BEGIN
  IF EXISTS (SELECT FROM pg_catalog.pg_depend AS d
              WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass
                AND d.refobjid OPERATOR(pg_catalog.=) nsp
                -- (the extension itself depends on its schema)
                AND d.classid OPERATOR(pg_catalog.<>) 'pg_catalog.pg_extension'::pg_catalog.regclass) THEN
    RAISE EXCEPTION 'schema "rowversion" is not empty'
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = 'Objects in it could stand in for the extension''s functions.',
            HINT = 'Drop the objects in schema "rowversion", or the schema, first.';
  END IF;
  EXECUTE 'ALTER SCHEMA rowversion OWNER TO ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(CURRENT_USER);
  FOR grantee IN
    SELECT DISTINCT a.grantee
      FROM pg_catalog.pg_namespace AS n, pg_catalog.aclexplode(n.nspacl) AS a
     WHERE n.oid OPERATOR(pg_catalog.=) nsp AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner
  LOOP
    EXECUTE 'REVOKE ALL ON SCHEMA rowversion FROM ' OPERATOR(pg_catalog.||)
      CASE WHEN grantee OPERATOR(pg_catalog.=) 0::pg_catalog.oid THEN 'PUBLIC'
           ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(grantee)) END;
  END LOOP;
END
$$;
GRANT USAGE ON SCHEMA rowversion TO PUBLIC;

-- The row trigger of every enabled table.  Its arguments carry the table's
-- options; see rowversion.enable() and src/trigger.c.
CREATE FUNCTION rowversion.version_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'version_trigger'
LANGUAGE C;

-- One row per enabled table (a partitioned table once, not its partitions),
-- with the options enable() was given.  Only BEFORE ROW triggers with the
-- arguments enable() writes are listed, so a hand-made trigger with odd
-- arguments cannot break the view.  The arguments (src/options.c): the
-- version column, the mode, require_version, the ignore_columns up to an
-- empty argument, and after it the options that are not their default
-- ("enforce=false").
CREATE VIEW rowversion.tables AS
  SELECT t.tgrelid::pg_catalog.regclass AS tbl,
         a.args[1]::pg_catalog.name AS version_column,
         a.args[2] AS mode,
         CASE WHEN a.args[3] OPERATOR(pg_catalog.=) 'true' THEN true
              WHEN a.args[3] OPERATOR(pg_catalog.=) 'false' THEN false END AS require_version,
         a.args[4:COALESCE(o.separator OPERATOR(pg_catalog.-) 1,
                                      pg_catalog.cardinality(a.args))]::pg_catalog.name[] AS ignore_columns,
         NOT COALESCE('enforce=false' OPERATOR(pg_catalog.=)
                                   ANY (a.args[o.separator OPERATOR(pg_catalog.+) 1:]),
                                 false) AS enforce
  FROM pg_catalog.pg_trigger AS t,
       -- The trigger's arguments: tgargs holds each one followed by a zero
       -- byte.  Only pg_catalog's functions decode them, so every role
       -- that may read the view may run it.
       LATERAL (SELECT pg_catalog.array_agg(
                         pg_catalog.convert_from(
                           pg_catalog.substring(t.tgargs,
                                                z.s OPERATOR(pg_catalog.+) 2,
                                                z.e OPERATOR(pg_catalog.-) z.s OPERATOR(pg_catalog.-) 1),
                           pg_catalog.getdatabaseencoding())
                         ORDER BY z.e) AS args
                FROM (SELECT g.e, pg_catalog.lag(g.e, 1, -1) OVER (ORDER BY g.e) AS s
                      FROM pg_catalog.generate_series(
                             0, pg_catalog.length(t.tgargs) OPERATOR(pg_catalog.-) 1) AS g(e)
                      WHERE pg_catalog.get_byte(t.tgargs, g.e) OPERATOR(pg_catalog.=) 0) AS z) AS a,
       -- where the ignore_columns end: the empty argument, if any
       LATERAL (SELECT pg_catalog.array_position(a.args, ''::pg_catalog.text, 4) AS separator) AS o
  WHERE t.tgfoid OPERATOR(pg_catalog.=) 'rowversion.version_trigger()'::pg_catalog.regprocedure
    AND t.tgparentid OPERATOR(pg_catalog.=) 0
    -- BEFORE ... FOR EACH ROW
    AND (t.tgtype::pg_catalog.int4 OPERATOR(pg_catalog.&) 3) OPERATOR(pg_catalog.=) 3
    AND t.tgnargs OPERATOR(pg_catalog.>=) 3;

GRANT SELECT ON rowversion.tables TO PUBLIC;

-- What tables in log-only mode (enable()'s enforce => false) let through
-- (src/conflicts.c): each transaction that commits after counting adds one
-- row per table, so writers only insert and never wait for each other.
-- tbl is the table rowversion.tables lists (a partitioned table for its
-- partitions).  enable() starts a table's counting over with a row of no
-- counts when it goes into log-only mode; disable() deletes its rows.
-- Only the extension's owner writes it; PUBLIC reads the sums through
-- rowversion.conflicts.  Not dumped: table OIDs do not survive a restore.
CREATE TABLE rowversion.conflict_counts (
    tbl pg_catalog.oid NOT NULL,
    conflicts bigint NOT NULL,
    versions_missing bigint NOT NULL,
    at pg_catalog.timestamptz NOT NULL
);

-- One row per enabled table that has counts: stale claims and failed
-- If-Match preconditions (conflicts) and updates without a version under
-- require_version (versions_missing) let through since counting started.
-- The tables are those rowversion.tables lists, to whoever may read it.
CREATE VIEW rowversion.conflicts AS
  SELECT t.tbl,
         pg_catalog.sum(c.conflicts)::bigint AS conflicts,
         pg_catalog.sum(c.versions_missing)::bigint AS versions_missing,
         pg_catalog.min(c.at) AS since
  FROM rowversion.conflict_counts AS c
  -- (a table with two version triggers is listed twice there: once here)
  JOIN (SELECT DISTINCT tables.tbl FROM rowversion.tables) AS t
    ON t.tbl::pg_catalog.oid OPERATOR(pg_catalog.=) c.tbl
  GROUP BY t.tbl;

GRANT SELECT ON rowversion.conflicts TO PUBLIC;

-- enable(tbl, version_column, mode, require_version, ignore_columns,
-- enforce): keeps row versions of tbl.  Adds the version column when
-- missing (filled for existing rows), checks it when present, and installs
-- the row trigger zz_rowversion with the options as its arguments;
-- idempotent, and called again with other options it changes them
-- (src/manage.c).  enforce => false is the log-only mode: conflicts warn
-- and are counted (rowversion.conflicts) instead of failing the write.
-- Not STRICT: a NULL argument is an error.
CREATE FUNCTION rowversion.enable(
  tbl regclass,
  version_column name DEFAULT 'row_version',
  mode text DEFAULT 'xact',
  require_version boolean DEFAULT false,
  ignore_columns name[] DEFAULT '{}',
  enforce boolean DEFAULT true)
RETURNS void
AS 'MODULE_PATHNAME', 'enable'
LANGUAGE C VOLATILE;

-- disable(tbl, drop_column): removes the row trigger, and with drop_column
-- the version column.
CREATE FUNCTION rowversion.disable(tbl regclass, drop_column boolean DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME', 'disable'
LANGUAGE C VOLATILE;

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

-- conditional_write(tbl, items, atomic): many conditional writes of one
-- table in one call, each item {"key": ..., "version": ..., "changes": {...}}
-- or {"key": ..., "version": ..., "delete": true}; one result row per item,
-- in the items' order.  Atomic (the default): every item is written or none
-- is, and every failing item is reported.  Rows are locked in key order.
CREATE FUNCTION rowversion.conditional_write(tbl regclass, items jsonb,
                                             atomic boolean DEFAULT true)
RETURNS TABLE (ordinality bigint, key jsonb, status text, version bigint,
               current jsonb)
AS 'MODULE_PATHNAME', 'conditional_write'
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

-- propagate(child, parent, via): every INSERT, UPDATE and DELETE of child
-- rows bumps the version of the parent rows they reference, in the same
-- transaction, through the foreign key via (or the only one)
-- (src/manage.c).
CREATE FUNCTION rowversion.propagate(child regclass, parent regclass, via name DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'propagate'
LANGUAGE C VOLATILE;

-- stop_propagating(child, parent, via): undoes propagate().
CREATE FUNCTION rowversion.stop_propagating(child regclass, parent regclass, via name DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'stop_propagating'
LANGUAGE C VOLATILE;

-- One row per propagation: the child, the parent, and the foreign key.
CREATE VIEW rowversion.propagations AS
  SELECT t.tgrelid::pg_catalog.regclass AS child,
         c.confrelid::pg_catalog.regclass AS parent,
         c.conname AS via
  FROM pg_catalog.pg_trigger AS t
  JOIN pg_catalog.pg_constraint AS c
    ON c.conrelid OPERATOR(pg_catalog.=) t.tgrelid
   AND c.contype OPERATOR(pg_catalog.=) 'f'
   -- the trigger's first argument: tgargs holds each one followed by a
   -- zero byte
   AND c.conname OPERATOR(pg_catalog.=)
       (CASE WHEN t.tgnargs OPERATOR(pg_catalog.>) 0 THEN
          pg_catalog.convert_from(
            pg_catalog.substring(t.tgargs, 1,
                                 pg_catalog.position(t.tgargs, pg_catalog.decode('00', 'hex'))
                                 OPERATOR(pg_catalog.-) 1),
            pg_catalog.getdatabaseencoding()) END)::pg_catalog.name
  WHERE t.tgfoid OPERATOR(pg_catalog.=) 'rowversion.propagate_trigger()'::pg_catalog.regprocedure
    -- the statement trigger of the table propagate() was called on
    AND (t.tgtype::pg_catalog.int4 OPERATOR(pg_catalog.&) 1) OPERATOR(pg_catalog.=) 0
    -- the one that fires on INSERT, not the one for TRUNCATE alone (1.0 made
    -- one trigger for both)
    AND (t.tgtype::pg_catalog.int4 OPERATOR(pg_catalog.&) 4) OPERATOR(pg_catalog.<>) 0
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

-- The database's clock for xact mode (src/clock.c): a version is the
-- writing transaction's ID plus this cluster's shift, so that versions and
-- watermarks keep going forward when the database moves to another
-- cluster.  pg_dump, pg_upgrade and a publication FOR ALL TABLES carry both
-- objects; rowversion.handover() ends a logical-replication move.
CREATE SEQUENCE rowversion.clock_ceiling AS bigint
    INCREMENT BY 1048576 MINVALUE 0 START WITH 0 NO CYCLE;

-- replicated: the row came by logical replication (clock_changed() sets
-- it in the apply worker); such a row not yet handed over stops writers.
CREATE TABLE rowversion.clock (
    system_identifier bigint PRIMARY KEY,
    shift bigint NOT NULL,
    since bigint NOT NULL,
    handed_over bigint,
    replicated boolean NOT NULL DEFAULT false
);

-- The ceiling starts at the current transaction ID, so the trigger's first
-- raise is one step even on a cluster whose counter is far along.  (No row
-- for this cluster yet: a restore into this database on the same cluster
-- brings one.)
SELECT pg_catalog.setval('rowversion.clock_ceiling', pg_catalog.txid_current());

SELECT pg_catalog.pg_extension_config_dump('rowversion.clock', '');
SELECT pg_catalog.pg_extension_config_dump('rowversion.clock_ceiling', '');
GRANT SELECT ON rowversion.clock TO PUBLIC;
GRANT SELECT ON SEQUENCE rowversion.clock_ceiling TO PUBLIC;

CREATE FUNCTION rowversion.clock_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'clock_changed'
LANGUAGE C;
REVOKE EXECUTE ON FUNCTION rowversion.clock_changed() FROM PUBLIC;

CREATE TRIGGER clock_changed
    BEFORE INSERT OR UPDATE OR DELETE ON rowversion.clock
    FOR EACH ROW EXECUTE FUNCTION rowversion.clock_changed();
ALTER TABLE rowversion.clock ENABLE ALWAYS TRIGGER clock_changed;

-- clock(): the version the database's clock stands at; every version
-- handed out later is at least this.
CREATE FUNCTION rowversion.clock()
RETURNS bigint
AS 'MODULE_PATHNAME', 'clock_now'
LANGUAGE C VOLATILE;

-- handover(): run by the database's owner (it checks) on the old cluster
-- after its last write, before a logical-replication subscriber takes over.
CREATE FUNCTION rowversion.handover()
RETURNS bigint
AS 'MODULE_PATHNAME', 'handover'
LANGUAGE C VOLATILE;

-- advance(): run by the database's owner (it checks) when the clock did not
-- come with the rows (a restore by a role that may not write it): every
-- version and watermark from now on is above the given one.
CREATE FUNCTION rowversion.advance(past bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'advance'
LANGUAGE C VOLATILE STRICT;

-- clock(), handover() and advance() are the database owner's (on 13, which
-- has no pg_database_owner, the owner's when the extension was made;
-- handover() and advance() also check the owner themselves).
REVOKE EXECUTE ON FUNCTION rowversion.clock(), rowversion.handover(),
    rowversion.advance(bigint) FROM PUBLIC;
DO $$
BEGIN
  IF pg_catalog.to_regrole('pg_database_owner') IS NOT NULL THEN
    GRANT EXECUTE ON FUNCTION rowversion.clock(), rowversion.handover(),
        rowversion.advance(bigint) TO pg_database_owner;
  ELSE
    EXECUTE pg_catalog.format(
      'GRANT EXECUTE ON FUNCTION rowversion.clock(), rowversion.handover(), '
      'rowversion.advance(bigint) TO %I',
      (SELECT pg_catalog.pg_get_userbyid(d.datdba) FROM pg_catalog.pg_database AS d
       WHERE d.datname = pg_catalog.current_database()));
  END IF;
END
$$;
