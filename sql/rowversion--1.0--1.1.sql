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
