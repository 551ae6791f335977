/*-------------------------------------------------------------------------
 *
 * clock.h
 *	  The database's clock for xact mode: a version is the writing
 *	  transaction's 64-bit ID plus the database's shift, and the clock's
 *	  ceiling is never below a version the database has handed out.  Both
 *	  travel with the database to another cluster (clock.c).
 *
 * The row trigger asks for a version once or twice a row, so the common
 * case -- the clock loaded, the version below the ceiling -- is inline.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RV_CLOCK_H
#define RV_CLOCK_H

#include "postgres.h"

#include "common/int.h"
#include "utils/rel.h"

typedef struct RvClock
{
	bool		valid;			/* shift and ceiling are loaded */
	int64		shift;			/* added to transaction IDs */
	int64		ceiling;		/* no version handed out is above it (as last
								 * read; other sessions may have raised it) */
	int64		carried;		/* the ceiling or a clock handed over, as
								 * read: a move now clears it */
	int64		seen;			/* largest stored version found above it */
} RvClock;

extern RvClock rv_clock;

extern void rv_ClockLoad(void);
extern int64 rv_SnapshotXmin(void);
extern int64 rv_ClockWatermark(void);
extern void rv_ClockCover(int64 xid, int64 version);
extern void rv_ClockSeen(Relation rel, AttrNumber attnum, int64 version);
extern pg_noreturn void rv_ClockOutOfRange(int64 xid);

/*
 * Returns the version xact mode hands out in this transaction, whose
 * 64-bit ID is xid, to a row that must end above floor - 1 (0 for a new
 * row): greatest(xid + shift, floor), raising the ceiling over it first.
 */
static inline int64
rv_ClockVersion(int64 xid, int64 floor)
{
	int64		version;

	if (unlikely(!rv_clock.valid))
		rv_ClockLoad();
	if (unlikely(pg_add_s64_overflow(xid, rv_clock.shift, &version)))
		rv_ClockOutOfRange(xid);
	if (version < floor)
		version = floor;
	if (unlikely(version > rv_clock.ceiling))
		rv_ClockCover(xid, version);
	return version;
}

/*
 * Notes that a row of rel is at version current (in column attnum) before
 * xact mode gives it the next one: a version above the ceiling may not
 * have been handed out by this database's clock (rv_ClockSeen).
 */
static inline void
rv_ClockCheckStored(Relation rel, AttrNumber attnum, int64 current)
{
	if (unlikely(!rv_clock.valid))
		rv_ClockLoad();
	if (unlikely(current > rv_clock.ceiling && current > rv_clock.seen))
		rv_ClockSeen(rel, attnum, current);
}

#endif							/* RV_CLOCK_H */
