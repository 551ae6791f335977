-- watermark(): the oldest transaction ID still running in the statement's
-- snapshot, 64-bit, so rows with row_version >= it include every change the
-- snapshot could not see yet.
SELECT pg_typeof(rowversion.watermark());
-- It is PostgreSQL's own snapshot xmin, widened to 64 bits.
SELECT rowversion.watermark() = pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS is_xmin;
-- A transaction's own ID is never below it.
BEGIN;
SELECT pg_current_xact_id()::text::bigint >= rowversion.watermark() AS own_at_or_above;
COMMIT;
