/* rowversion 1.0 → 1.1 — upgrade script */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION rowversion UPDATE TO '1.1'" to load this file. \quit

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

-- A database updated from 1.0 has handed out transaction IDs as versions
-- (a row updated n times in one transaction runs up to n ahead).  Its clock
-- goes on from there: this cluster's row with no shift, and a ceiling a
-- step above the current transaction ID.
INSERT INTO rowversion.clock (system_identifier, shift, since)
SELECT s.system_identifier, 0, pg_catalog.txid_current()
FROM pg_catalog.pg_control_system() AS s;
SELECT pg_catalog.setval('rowversion.clock_ceiling',
                         pg_catalog.txid_current() + 1048576);

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

-- enforce => false (log-only rollout): one more argument of enable(), with
-- a default.  Dropped and made again, since an overload would make
-- enable(t) ambiguous; the C function also serves 1.0's declaration.
DROP FUNCTION rowversion.enable(regclass, name, text, boolean, name[]);
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

-- One row per enabled table (a partitioned table once, not its partitions),
-- with the options enable() was given.  Only BEFORE ROW triggers with the
-- arguments enable() writes are listed, so a hand-made trigger with odd
-- arguments cannot break the view.  The arguments (src/options.c): the
-- version column, the mode, require_version, the ignore_columns up to an
-- empty argument, and after it the options that are not their default
-- ("enforce=false").
CREATE OR REPLACE VIEW rowversion.tables AS
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

-- propagate() now makes two statement triggers, one of them for TRUNCATE
-- alone (which Citus leaves off shards): list each propagation once.
CREATE OR REPLACE VIEW rowversion.propagations AS
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
