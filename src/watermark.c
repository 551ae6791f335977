/*-------------------------------------------------------------------------
 *
 * watermark.c
 *	  rowversion.watermark(): the point from which a client that syncs by
 *	  row version must read next time so that it misses no change.
 *
 * In xact mode a row's version is at least the ID of the transaction that
 * last wrote it plus the database's shift (clock.c).  Every transaction
 * whose changes the calling statement cannot see yet (still running, or
 * committed after its snapshot was taken) has an ID at least the
 * snapshot's xmin; so rows with row_version >= that xmin plus the shift
 * include every change the snapshot missed.  (The clock lowers it to what
 * a move to another cluster would clear, when that is lower.)
 * max(row_version) is no such point: a transaction with a smaller ID can
 * commit after it was read.
 *
 * On Citus each node hands out its own transaction IDs, so one node's
 * watermark says nothing of another's rows: there watermark() is the least
 * of every node's own, taken before the read (rv_CitusWatermark in
 * citus.c), each node asked with watermark() itself, which on a
 * connection that Citus's run_command_on_all_nodes() opened gives that
 * node's own.
 *
 *-------------------------------------------------------------------------
 */
#include "rowversion.h"

#include "fmgr.h"
#include "utils/snapmgr.h"

PG_FUNCTION_INFO_V1(watermark);

/* Refuses a call without a snapshot. */
static void
rv_RequireSnapshot(void)
{
	if (!ActiveSnapshotSet())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("no snapshot to take the watermark of")));
}

/*
 * watermark() — the oldest transaction ID still running in the snapshot of
 * the calling statement (the transaction's under REPEATABLE READ and
 * SERIALIZABLE), as a 64-bit number on the database's clock.  A client
 * saves it with a read and next reads the rows with row_version >= it.
 * On a Citus node with other nodes, the least of every node's, taken now:
 * a sync point for reads that start after it.
 */
Datum
watermark(PG_FUNCTION_ARGS)
{
	int64		mark;

	rv_RequireSnapshot();
	mark = rv_ClockWatermark();
	if (rv_CitusLoaded() && !rv_CitusRunCommandBackend())
		mark = rv_CitusWatermark(mark);
	PG_RETURN_INT64(mark);
}
