/*-------------------------------------------------------------------------
 *
 * modes.h
 *	  The modes of rowversion.enable(), and everything a mode decides: its
 *	  name, the types its version column may have, the version a row
 *	  starts at, the next version, which claims hold, and whether an
 *	  INSERT keeps a version the client wrote.
 *
 * The row trigger asks these once or twice a row, so they are inline.  A
 * new mode is a new RvMode value before RV_NUM_MODES, and the cases the
 * compiler then asks for here; options.c, enable() and the trigger take
 * it from there.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RV_MODES_H
#define RV_MODES_H

#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "clock.h"

typedef enum RvMode
{
	RV_MODE_XACT,				/* versions are 64-bit transaction IDs */
	RV_MODE_COUNTER,			/* versions count the row's updates */
	RV_NUM_MODES
} RvMode;

/*
 * Returns the name of mode, as enable() takes it and the trigger's
 * arguments carry it.
 */
static inline const char *
rv_ModeName(RvMode mode)
{
	switch (mode)
	{
		case RV_MODE_XACT:
			return "xact";
		case RV_MODE_COUNTER:
			return "counter";
		case RV_NUM_MODES:
			break;
	}
	return NULL;
}

/*
 * Returns whether a version column of type typid suits mode, and in
 * *detail the sentence that says which types it takes.
 */
static inline bool
rv_ModeTakesType(RvMode mode, Oid typid, const char **detail)
{
	*detail = NULL;
	switch (mode)
	{
		case RV_MODE_XACT:
			*detail = "Mode xact needs a bigint column.";
			return typid == INT8OID;
		case RV_MODE_COUNTER:
			*detail = "Mode counter needs a smallint, integer or bigint column.";
			return typid == INT8OID || typid == INT4OID || typid == INT2OID;
		case RV_NUM_MODES:
			break;
	}
	return false;
}

/*
 * Returns the 64-bit ID of the current top-level transaction, assigning
 * one.
 */
static inline int64
rv_CurrentXid(void)
{
	return (int64) U64FromFullTransactionId(GetTopFullTransactionId());
}

/*
 * Returns the version a row gets that mode starts without one: an
 * inserted row with no value, or a row that was there before enable().
 * In xact mode the current top-level transaction's ID on the database's
 * clock (clock.h).
 */
static inline int64
rv_ModeFirstVersion(RvMode mode)
{
	switch (mode)
	{
		case RV_MODE_XACT:
			return rv_ClockVersion(rv_CurrentXid(), 0);
		case RV_MODE_COUNTER:
			return 1;
		case RV_NUM_MODES:
			break;
	}
	pg_unreachable();
}

/*
 * Returns the version an UPDATE gives a row of rel at version current (in
 * column attnum, which the caller has checked is below the column's largest
 * value): in xact mode greatest(the transaction's ID on the clock,
 * current + 1), so versions never go back and never wrap; in counter mode
 * current + 1.
 */
static inline int64
rv_ModeNextVersion(RvMode mode, int64 current, Relation rel, AttrNumber attnum)
{
	switch (mode)
	{
		case RV_MODE_XACT:
			rv_ClockCheckStored(rel, attnum, current);
			return rv_ClockVersion(rv_CurrentXid(), current + 1);
		case RV_MODE_COUNTER:
			return current + 1;
		case RV_NUM_MODES:
			break;
	}
	pg_unreachable();
}

/*
 * Returns whether a claim of version claim holds for a row at current, in
 * a column whose largest value is maxvalue: the current version, or in
 * counter mode also current + 1, as ORMs that increment the version
 * themselves send it (their WHERE version = old guards that protocol).
 */
static inline bool
rv_ModeAcceptsClaim(RvMode mode, int64 claim, int64 current, int64 maxvalue)
{
	if (claim == current)
		return true;
	switch (mode)
	{
		case RV_MODE_XACT:
			return false;
		case RV_MODE_COUNTER:
			return current < maxvalue && claim == current + 1;
		case RV_NUM_MODES:
			break;
	}
	return false;
}

/*
 * Returns whether an INSERT keeps a version the client wrote: counter mode
 * does (ORMs insert their starting value and remember it), xact mode
 * replaces it with the transaction's ID -- so a row an UPDATE moves to
 * another partition, which PostgreSQL re-inserts there, must be told apart
 * to keep the version that UPDATE gave it (trigger.c).
 */
static inline bool
rv_ModeKeepsInsertedVersion(RvMode mode)
{
	switch (mode)
	{
		case RV_MODE_XACT:
			return false;
		case RV_MODE_COUNTER:
			return true;
		case RV_NUM_MODES:
			break;
	}
	return false;
}

#endif							/* RV_MODES_H */
