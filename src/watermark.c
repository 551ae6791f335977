/*-------------------------------------------------------------------------
 *
 * watermark.c
 *	  rowversion.watermark(): the point from which a client that syncs by
 *	  row version must read next time so that it misses no change.
 *
 * In xact mode a row's version is at least the ID of the transaction that
 * last wrote it.  Every transaction whose changes the calling statement
 * cannot see yet (still running, or committed after its snapshot was taken)
 * has an ID at least the snapshot's xmin; so rows with row_version >= that
 * xmin include every change the snapshot missed.  max(row_version) is no
 * such point: a transaction with a smaller ID can commit after it was read.
 *
 *-------------------------------------------------------------------------
 */
#include "rowversion.h"

#include "access/transam.h"
#include "fmgr.h"
#include "utils/snapmgr.h"

PG_FUNCTION_INFO_V1(watermark);

/*
 * Returns the full 64-bit form of xid, an ID no newer than the next one to
 * be assigned (next): the epoch is next's, or the one before when xid is
 * numerically above next's 32 bits (it was assigned before the wraparound).
 */
static FullTransactionId
rv_WidenXid(FullTransactionId next, TransactionId xid)
{
	uint32		epoch = EpochFromFullTransactionId(next);

	if (xid > XidFromFullTransactionId(next))
		epoch--;
	return FullTransactionIdFromEpochAndXid(epoch, xid);
}

/*
 * watermark() — the oldest transaction ID still running in the snapshot of
 * the calling statement (the transaction's under REPEATABLE READ and
 * SERIALIZABLE), as a 64-bit number.  A client saves it with a read and
 * next reads the rows with row_version >= it.
 */
Datum
watermark(PG_FUNCTION_ARGS)
{
	Snapshot	snapshot = GetActiveSnapshot();
	FullTransactionId xmin;

	if (snapshot == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("no snapshot to take the watermark of")));

	xmin = rv_WidenXid(ReadNextFullTransactionId(), snapshot->xmin);
	PG_RETURN_INT64((int64) U64FromFullTransactionId(xmin));
}
