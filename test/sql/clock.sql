-- The database's clock for xact mode (src/clock.c): a version is the
-- writing transaction's ID plus the database's shift, and the shift puts
-- versions above everything the database carried from another cluster.
-- A move is simulated here by writing rowversion.clock and its ceiling as
-- pg_dump (a dump's rows, the ceiling's value) and logical replication (a
-- handover) would.  test/t/007_moves.pl moves databases for real.
CREATE ROLE rv_clk_dbo;
CREATE ROLE rv_clk_other;
CREATE DATABASE rv_clock OWNER rv_clk_dbo;
\set regress_db :DBNAME
\c rv_clock
SET ROLE rv_clk_dbo;
CREATE EXTENSION rowversion;
RESET ROLE;

-- error(sql): the SQLSTATE and message of sql, which must fail.
CREATE FUNCTION error(sql text, OUT code text, OUT message text)
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE sql;
  RAISE EXCEPTION 'statement succeeded: %', sql;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
  IF message LIKE 'statement succeeded: %' THEN
    RAISE;
  END IF;
END
$$;
CREATE FUNCTION this_cluster() RETURNS bigint LANGUAGE sql
  AS 'SELECT system_identifier FROM pg_control_system()';

-- A new database: no row until the clock first hands out a version (to a
-- written row, or to the rows enable() finds), which makes this cluster's
-- with no shift; versions are transaction IDs.  A transaction that rolls
-- back leaves no row behind, and the next one makes it.
SELECT count(*) AS clock_rows FROM rowversion.clock;
SET ROLE rv_clk_dbo;
BEGIN;
CREATE TABLE doc (id int PRIMARY KEY, body text);
SELECT rowversion.enable('doc');
INSERT INTO doc VALUES (1, 'a');
ROLLBACK;
RESET ROLE;
SELECT count(*) AS clock_rows FROM rowversion.clock;
SET ROLE rv_clk_dbo;
CREATE TABLE doc (id int PRIMARY KEY, body text);
SELECT rowversion.enable('doc');
GRANT ALL ON doc TO rv_clk_other;
RESET ROLE;
INSERT INTO doc VALUES (1, 'a')
  RETURNING row_version = pg_current_xact_id()::text::bigint AS version_is_xid;
SELECT system_identifier = this_cluster() AS ours, shift, handed_over
FROM rowversion.clock;
-- The ceiling covers what was handed out; the watermark and clock() are
-- not above what the next writer gets.
SELECT last_value >= (SELECT max(row_version) FROM doc) AS ceiling_covers
FROM rowversion.clock_ceiling;
SELECT rowversion.watermark() AS mark, rowversion.clock() AS clock \gset
INSERT INTO doc VALUES (0, 'z')
  RETURNING row_version >= :mark AS mark_not_ahead, row_version >= :clock AS clock_not_ahead;

-- Nobody but the extension writes the clock; any role reads it.
SET ROLE rv_clk_other;
SELECT * FROM error('INSERT INTO rowversion.clock VALUES (1, 0, 0, NULL)');
SELECT * FROM error('UPDATE rowversion.clock SET shift = 9000000000000000000');
SELECT * FROM error($$SELECT setval('rowversion.clock_ceiling', 9000000000000000000)$$);
SELECT * FROM error('SELECT nextval(''rowversion.clock_ceiling'')');
SELECT count(*) AS readable FROM rowversion.clock;
-- Only the database's owner hands the clock over.
SELECT * FROM error('SELECT rowversion.handover()');
RESET ROLE;
SET ROLE rv_clk_dbo;
SELECT * FROM error('INSERT INTO rowversion.clock VALUES (1, 0, 0, NULL)');
SELECT * FROM error('SELECT rowversion.clock_changed()');
RESET ROLE;

-- Arrived by pg_dump: the rows of the cluster it came from (which never
-- handed over) and a ceiling far above this cluster's transaction IDs.
-- The shift puts every new version above the ceiling; the rows' versions
-- go on above theirs; a watermark saved there finds every later change.
DELETE FROM rowversion.clock;
INSERT INTO rowversion.clock VALUES (17, 0, 12884900000, NULL);
SELECT setval('rowversion.clock_ceiling', 12884901888);
SET session_replication_role = replica;  -- as pg_restore loads the rows
UPDATE doc SET row_version = 12884901000 WHERE id = 1;
RESET session_replication_role;
INSERT INTO doc VALUES (2, 'b');
UPDATE doc SET body = 'a2' WHERE id = 1;
SELECT id, row_version > 12884901888 AS above_old_clock FROM doc ORDER BY id;
SELECT count(*) AS found_by_old_watermark FROM doc WHERE row_version >= 12884901000;
SELECT shift > 12884901888 - pg_current_xact_id()::text::bigint AS shifted,
       since > 12884901888 AS since_on_new_clock, handed_over
FROM rowversion.clock WHERE system_identifier = this_cluster();
SELECT rowversion.watermark() > 12884901888 AS mark_above_old,
       rowversion.clock() > 12884901888 AS clock_above_old;
-- A claim of the version from before the move is stale.
SELECT * FROM error('UPDATE doc SET body = ''lost'', row_version = 12884901000 WHERE id = 1');

-- Every session agrees on the shift: another connection's versions are
-- on the same clock.
\c rv_clock
INSERT INTO doc VALUES (3, 'c');
SELECT row_version > 12884901888 AS above_old_clock FROM doc WHERE id = 3;

-- Arriving by logical replication while the old cluster still writes: the
-- apply brings its row (and marks it replicated), but no handover.  However
-- old that row is, writers are refused until the handover arrives; readers
-- go on with a watermark that can only be lower.
SET session_replication_role = replica;  -- as the apply worker runs
INSERT INTO rowversion.clock (system_identifier, shift, since) VALUES (18, 0, 5);
RESET session_replication_role;
SELECT replicated FROM rowversion.clock WHERE system_identifier = 18;
SELECT * FROM error('INSERT INTO doc VALUES (4, ''d'')');
SELECT * FROM error('UPDATE doc SET body = ''c2'' WHERE id = 3');
SELECT rowversion.watermark() < 100000000000000 AS reader_goes_on;
-- The handover arrives: the shift goes above what was handed over.
SET session_replication_role = replica;
UPDATE rowversion.clock SET handed_over = 100000000005000 WHERE system_identifier = 18;
RESET session_replication_role;
-- (a watermark taken before the first write here does not go back either)
SELECT rowversion.watermark() > 100000000005000 AS mark_follows_handover;
INSERT INTO doc VALUES (4, 'd');
UPDATE doc SET body = 'c2' WHERE id = 3;
SELECT id, row_version > 100000000005000 AS above_handover FROM doc WHERE id IN (3, 4) ORDER BY id;
SELECT rowversion.watermark() > 100000000005000 AS mark_above_handover;

-- Back by pg_dump from a cluster that wrote the database after this one:
-- this cluster's row is older than that cluster's, so the ceiling brought
-- back counts (versions and watermarks went back without it), once.
INSERT INTO rowversion.clock VALUES (19, 0, 200000000000000, NULL);
SELECT setval('rowversion.clock_ceiling', 200000000001000);
INSERT INTO doc VALUES (6, 'f');
SELECT row_version > 200000000001000 AS above_round_trip FROM doc WHERE id = 6;
SELECT rowversion.watermark() > 200000000001000 AS mark_above_round_trip;
SELECT shift AS shift_back FROM rowversion.clock WHERE system_identifier = this_cluster() \gset
\c rv_clock
INSERT INTO doc VALUES (7, 'g');
SELECT shift = :shift_back AS shifted_once FROM rowversion.clock WHERE system_identifier = this_cluster();

-- A transaction that cannot store the shift after an arrival (read-only,
-- writing a temporary table) uses its own for itself only: the next
-- transaction stores one and uses that.
INSERT INTO rowversion.clock VALUES (21, 0, 250000000000000, NULL);
SELECT setval('rowversion.clock_ceiling', 250000000001000);
\c rv_clock
CREATE TEMP TABLE scratch (id int, row_version bigint NOT NULL DEFAULT 0);
SELECT rowversion.enable('scratch');
BEGIN READ ONLY;
INSERT INTO scratch VALUES (1);
COMMIT;
BEGIN;
INSERT INTO doc VALUES (9, 'i')
  RETURNING row_version - pg_current_xact_id()::text::bigint AS used \gset
COMMIT;
SELECT shift = :used AS stored_shift_used FROM rowversion.clock
WHERE system_identifier = this_cluster();

-- Read in parallel mode (a function wrongly marked PARALLEL SAFE), the
-- clock is read in the statement's snapshot and not kept.
CREATE FUNCTION mark_in_parallel() RETURNS bigint LANGUAGE plpgsql PARALLEL SAFE
  AS $$BEGIN RETURN rowversion.watermark(); END$$;
BEGIN;
SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
                  THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END, 'on', true) IS NOT NULL AS parallel;
SELECT mark_in_parallel() > 0 AS read_in_parallel;
ROLLBACK;

-- handover() by the owner: records the clock, which the ceiling covers,
-- and returns it.  The cluster keeps writing above it.
SET ROLE rv_clk_dbo;
SELECT rowversion.handover() AS handed \gset
RESET ROLE;
SELECT handed_over = :handed AS recorded,
       handed_over <= (SELECT last_value FROM rowversion.clock_ceiling) AS covered
FROM rowversion.clock WHERE system_identifier = this_cluster();
-- (not in a read-only transaction)
BEGIN READ ONLY;
SET ROLE rv_clk_dbo;
SELECT * FROM error('SELECT rowversion.handover()');
ROLLBACK;

-- advance() by the owner, for a database whose clock did not come with it,
-- or whose old cluster is gone before it handed over (writers refused):
-- every later version and watermark is above the version given, and
-- writers may go on.
SET session_replication_role = replica;
INSERT INTO rowversion.clock (system_identifier, shift, since) VALUES (20, 0, 5);
RESET session_replication_role;
SELECT code FROM error('INSERT INTO doc VALUES (8, ''h'')');
SET ROLE rv_clk_other;
SELECT * FROM error('SELECT rowversion.advance(300000000000000)');
RESET ROLE;
SET ROLE rv_clk_dbo;
SELECT * FROM error('SELECT rowversion.advance(-1)');
SELECT * FROM error('SELECT rowversion.advance(9223372036854775807)');
SELECT rowversion.advance(300000000000000) > 300000000000000 AS clock_past;
RESET ROLE;
INSERT INTO doc VALUES (8, 'h');
SELECT row_version > 300000000000000 AS above_advance FROM doc WHERE id = 8;
SELECT rowversion.watermark() > 300000000000000 AS mark_above_advance;
SELECT system_identifier, handed_over FROM rowversion.clock WHERE system_identifier IN (0, 20)
ORDER BY 1;

-- A version the clock did not hand out (written with the trigger off) is
-- reported once a session, and the clock does not follow it: a table's
-- owner cannot push other tables' versions to the end of bigint.
ALTER TABLE doc DISABLE TRIGGER zz_rowversion;
UPDATE doc SET row_version = 9000000000000000000 WHERE id = 2;
ALTER TABLE doc ENABLE TRIGGER zz_rowversion;
\set VERBOSITY terse
UPDATE doc SET body = 'b2' WHERE id = 2;
UPDATE doc SET body = 'b3' WHERE id = 2;
\set VERBOSITY default
SELECT row_version AS still_above FROM doc WHERE id = 2;
SELECT (SELECT last_value FROM rowversion.clock_ceiling) < 1000000000000000 AS ceiling_stays,
       rowversion.watermark() < 1000000000000000 AS mark_stays;
INSERT INTO doc VALUES (5, 'e');
SELECT row_version < 1000000000000000 AS new_rows_on_clock FROM doc WHERE id = 5;
-- Its DETAIL shows the version only to a role that may read it.
SET ROLE rv_clk_dbo;
CREATE TABLE hidden (id int PRIMARY KEY, body text);
SELECT rowversion.enable('hidden');
INSERT INTO hidden VALUES (1, 'a');
GRANT UPDATE (body) ON hidden TO rv_clk_other;
RESET ROLE;
ALTER TABLE hidden DISABLE TRIGGER zz_rowversion;
UPDATE hidden SET row_version = 8000000000000000001;
ALTER TABLE hidden ENABLE TRIGGER zz_rowversion;
\c rv_clock
SET ROLE rv_clk_other;
UPDATE hidden SET body = 'b';
RESET ROLE;

-- A clock advanced near the end of bigint is reached in one step, not
-- 2^20 at a time (which took weeks).
SELECT rowversion.advance(4611686018427387904) > 4611686018427387904 AS far;
SET statement_timeout = '10s';
INSERT INTO doc VALUES (10, 'far')
  RETURNING row_version > 4611686018427387904 AS above_far;
RESET statement_timeout;
SELECT last_value >= 4611686018427387904 AS ceiling_jumped FROM rowversion.clock_ceiling;

\c :regress_db
DROP DATABASE rv_clock;
DROP ROLE rv_clk_dbo;
DROP ROLE rv_clk_other;
