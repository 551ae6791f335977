/*-------------------------------------------------------------------------
 *
 * clock.c
 *	  The database's clock for xact mode, which keeps versions and
 *	  watermarks going forward when the database moves to another cluster.
 *
 * A version in xact mode is the writing transaction's 64-bit ID plus the
 * database's shift.  A new cluster's transaction counter starts far below
 * the old one's, so a database that arrives from another cluster (a
 * restore, a logical-replication upgrade) needs a shift that puts every
 * version it hands out above every version the old cluster handed out.
 * Two extension configuration objects carry what that takes, and pg_dump
 * and pg_upgrade carry them along:
 *
 *	rowversion.clock_ceiling	a sequence that is never below a version
 *								the database has handed out: the row
 *								trigger raises it before it hands out a
 *								version above it, outside the transaction
 *								(nextval, setval), so no writer waits for
 *								another's commit.
 *	rowversion.clock			a row per cluster that has written the
 *								database: its system identifier, the
 *								shift used there, the clock from which
 *								that shift holds (since), once
 *								rowversion.handover() ran there the clock
 *								it handed over, and whether the row came
 *								by logical replication.
 *
 * The database has arrived when another cluster has a row and this one has
 * none, or an older one (the database went elsewhere and came back): its
 * versions must then clear the ceiling (which a dump and pg_upgrade carry)
 * and every clock handed over by another cluster (which logical
 * replication carries, as a change to rowversion.clock; advance() records
 * one by hand).  The shift that does so is stored in this cluster's row by
 * the first writer, under a lock other writers wait for a second at most
 * and then read the stored shift again, so every session uses one shift
 * and no open transaction holds writers up for long.  A row that logical
 * replication brought from a cluster that has not handed over means that
 * cluster may still be writing: versions handed out here could go back,
 * so writers are refused until it hands over (or the database's owner
 * calls advance()).  A new database (no row at all) has shift 0.
 *
 * The clock is read in a snapshot of its own and kept by the session until
 * a change to rowversion.clock announces itself (clock_changed()).
 *
 * A watermark is the snapshot's oldest running transaction ID plus the
 * shift, but never above what a move would clear (the ceiling, or a clock
 * handed over) plus one, so a watermark taken on one cluster is not above a
 * version handed out later on another.
 *
 * Statements run as the owner of rowversion.clock (the superuser that
 * created the extension), as PostgreSQL's maintenance commands run a
 * table owner's code: a restricted operation with search_path pinned; they
 * name everything qualified and call no function a role could shadow.
 *
 *-------------------------------------------------------------------------
 */
#include "rowversion.h"

#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "commands/sequence.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(clock_now);
PG_FUNCTION_INFO_V1(clock_changed);
PG_FUNCTION_INFO_V1(handover);
PG_FUNCTION_INFO_V1(advance);

RvClock		rv_clock = {false, 0, 0, 0, 0};

/* rowversion.clock_ceiling's increment */
#define RV_CEILING_STEP			(INT64CONST(1) << 20)

/* how far ahead of the clock a version may run and still be covered */
#define RV_RUN_AHEAD_COVERED	(INT64CONST(1) << 32)

/* Where the clock is kept, found by rv_ClockFind(). */
typedef struct RvClockObjects
{
	Oid			table;			/* rowversion.clock, or InvalidOid */
	Oid			sequence;		/* rowversion.clock_ceiling */
	Oid			owner;			/* the table's owner */
} RvClockObjects;

static RvClockObjects rv_objects;
static bool rv_objects_found = false;
static bool rv_callbacks_registered = false;
static bool rv_warned_stored = false;
static bool rv_clock_transient = false; /* loaded shift not stored: forget it
										 * at the end of the transaction */
static bool rv_patient = false; /* the caller is handover(): wait for the
								 * lock as lock_timeout says */

/* What rowversion.clock says for this cluster. */
typedef struct RvClockRows
{
	bool		own_found;		/* this cluster has a row */
	int64		own_shift;
	int64		own_since;
	bool		others_found;	/* another cluster has a row */
	int64		others_since;	/* the largest clock at which one was made */
	int64		handed_over;	/* largest clock another cluster handed over */
	bool		unhanded;		/* a row came by logical replication from a
								 * cluster that has not handed over */
	int64		unhanded_system;	/* that cluster */
} RvClockRows;

/*
 * Returns the 64-bit form of xid, an ID no newer than the next one to be
 * assigned: the epoch is next's, or the one before when xid is numerically
 * above next's 32 bits (it was assigned before the wraparound).
 */
static int64
rv_WidenXid(TransactionId xid)
{
	FullTransactionId next = ReadNextFullTransactionId();
	uint32		epoch = EpochFromFullTransactionId(next);

	if (xid > XidFromFullTransactionId(next))
		epoch--;
	return (int64) U64FromFullTransactionId(FullTransactionIdFromEpochAndXid(epoch, xid));
}

/*
 * Returns the oldest transaction ID, 64-bit, that the active snapshot sees
 * as running: every transaction that can still hand out a version has this
 * ID or a newer one.  Without a snapshot, the next ID to be assigned.
 */
int64
rv_SnapshotXmin(void)
{
	Snapshot	snapshot = ActiveSnapshotSet() ? GetActiveSnapshot() : NULL;

	if (snapshot == NULL)
		return (int64) U64FromFullTransactionId(ReadNextFullTransactionId());
	return rv_WidenXid(snapshot->xmin);
}

/*
 * Forgets the loaded clock when rowversion.clock changes (clock_changed()
 * announces every change, applied by logical replication too) or the
 * relation cache is reset.
 */
static void
rv_ClockInvalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == rv_objects.table)
	{
		rv_clock.valid = false;
		rv_objects_found = false;
	}
}

/*
 * Forgets the loaded clock at the end of a transaction that failed (it may
 * have made this cluster's row) or that could not store the shift it
 * computed, and, when the extension has no clock (a database still at
 * 1.0), at the end of every transaction.
 */
static void
rv_ClockXactCallback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PREPARE)
	{
		if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
			rv_clock_transient || !OidIsValid(rv_objects.table))
		{
			rv_clock.valid = false;
			rv_objects_found = false;
		}
		rv_clock_transient = false;
		rv_patient = false;
	}
}

static void
rv_ClockSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		rv_clock.valid = false;
}

/*
 * Finds rowversion.clock and rowversion.clock_ceiling in the extension's
 * schema (rowversion.control fixes it), and takes them only if they belong
 * to the extension (a database whose extension is still at 1.0 has
 * neither).
 */
static void
rv_ClockFind(void)
{
	Oid			ext;
	Oid			nsp;
	Oid			table = InvalidOid;
	Oid			sequence = InvalidOid;

	if (!rv_callbacks_registered)
	{
		CacheRegisterRelcacheCallback(rv_ClockInvalidate, (Datum) 0);
		RegisterXactCallback(rv_ClockXactCallback, NULL);
		RegisterSubXactCallback(rv_ClockSubXactCallback, NULL);
		rv_callbacks_registered = true;
	}

	memset(&rv_objects, 0, sizeof(rv_objects));
	ext = get_extension_oid("rowversion", true);
	nsp = get_namespace_oid("rowversion", true);
	if (OidIsValid(nsp))
	{
		table = get_relname_relid("clock", nsp);
		sequence = get_relname_relid("clock_ceiling", nsp);
	}
	if (OidIsValid(table) && OidIsValid(sequence) &&
		getExtensionOfObject(RelationRelationId, table) == ext &&
		getExtensionOfObject(RelationRelationId, sequence) == ext &&
		get_rel_relkind(table) == RELKIND_RELATION &&
		get_rel_relkind(sequence) == RELKIND_SEQUENCE)
	{
		HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(table));

		if (!HeapTupleIsValid(tuple))
			elog(ERROR, "cache lookup failed for relation %u", table);
		rv_objects.owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
		ReleaseSysCache(tuple);
		rv_objects.table = table;
		rv_objects.sequence = sequence;
	}
	rv_objects_found = true;
}

/*
 * Starts running statements on the clock through SPI as its owner
 * (rv_BeginAsOwner(): restricted, search_path pinned); rv_ClockEnd()
 * returns.
 */
static void
rv_ClockBegin(RvAsOwner *ctx)
{
	rv_BeginAsOwner(rv_objects.owner, 0, ctx);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

static void
rv_ClockEnd(RvAsOwner *ctx)
{
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	rv_EndAsOwner(ctx);
}

/* Returns column col of the first row SPI returned, 0 when NULL. */
static int64
rv_SpiInt64(int row, int col, bool *isnull)
{
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
								  col, isnull);

	return *isnull ? 0 : DatumGetInt64(d);
}

/* Between rv_ClockBegin and rv_ClockEnd: the ceiling's value (0 unused). */
static int64
rv_ReadCeiling(void)
{
	bool		isnull;
	bool		called;

	if (SPI_execute("SELECT last_value, is_called FROM rowversion.clock_ceiling",
					true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read rowversion.clock_ceiling");
	called = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
										SPI_tuptable->tupdesc, 2, &isnull));
	return called ? rv_SpiInt64(0, 1, &isnull) : 0;
}

/*
 * Between rv_ClockBegin and rv_ClockEnd: what rowversion.clock says, in a
 * snapshot taken now (not the statement's, nor a REPEATABLE READ
 * transaction's): the clock a session loads and keeps must include every
 * change committed before it loads, as later ones announce themselves
 * (clock_changed()).
 */
static void
rv_ReadRows(int64 system, RvClockRows *rows)
{
	SPIPlanPtr	plan;
	uint64		i;

	memset(rows, 0, sizeof(*rows));
	/* (no new snapshot in parallel mode: what is read there is not kept) */
	if (IsInParallelMode())
		rv_clock_transient = true;
	plan = SPI_prepare("SELECT system_identifier, shift, since, handed_over, replicated "
					   "FROM rowversion.clock", 0, NULL);
	if (plan == NULL ||
		SPI_execute_snapshot(plan, NULL, NULL,
							 IsInParallelMode() ? GetActiveSnapshot() : GetLatestSnapshot(),
							 InvalidSnapshot, true, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read rowversion.clock");
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int64		sid = rv_SpiInt64(i, 1, &isnull);
		int64		shift = rv_SpiInt64(i, 2, &isnull);
		int64		since = rv_SpiInt64(i, 3, &isnull);
		int64		handed = rv_SpiInt64(i, 4, &isnull);
		bool		handed_null = isnull;
		bool		replicated = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i],
															SPI_tuptable->tupdesc,
															5, &isnull));

		if (sid == system)
		{
			rows->own_found = true;
			rows->own_shift = shift;
			rows->own_since = since;
			continue;
		}
		rows->others_since = rows->others_found ? Max(rows->others_since, since) : since;
		rows->others_found = true;
		if (!handed_null)
			rows->handed_over = Max(rows->handed_over, handed);
		else if (replicated)
		{
			rows->unhanded = true;
			rows->unhanded_system = sid;
		}
	}
}

/*
 * Between rv_ClockBegin and rv_ClockEnd, holding rv_ClockLockForStore():
 * stores shift, which applies from since on, as this cluster's, making its
 * row when it has none; returns the stored shift (a larger one stored
 * before stays).
 */
static int64
rv_StoreShift(int64 system, int64 shift, int64 since)
{
	Oid			types[3] = {INT8OID, INT8OID, INT8OID};
	Datum		values[3];
	bool		isnull;

	values[0] = Int64GetDatum(system);
	values[1] = Int64GetDatum(shift);
	values[2] = Int64GetDatum(since);
	if (SPI_execute_with_args("INSERT INTO rowversion.clock AS c (system_identifier, shift, since) "
							  "VALUES ($1, $2, $3) ON CONFLICT (system_identifier) "
							  "DO UPDATE SET shift = GREATEST(c.shift, excluded.shift), "
							  "since = GREATEST(c.since, excluded.since) "
							  "RETURNING c.shift",
							  3, types, values, NULL, false, 1) != SPI_OK_INSERT_RETURNING ||
		SPI_processed != 1)
		elog(ERROR, "could not store the shift in rowversion.clock");
	return rv_SpiInt64(0, 1, &isnull);
}

/* Names the wait for rv_ClockLockForStore() in an error it ends in. */
static void
rv_ClockLockContext(void *arg)
{
	errcontext("waiting to move the row version clock of database \"%s\"",
			   get_database_name(MyDatabaseId));
}

/*
 * Takes the lock under which this cluster's row of rowversion.clock is
 * written, until the end of the transaction.  A writer that must move the clock forward
 * waits at most a second (or the session's shorter lock_timeout): the
 * transaction that wrote first, of any role, commits in moments or stays
 * open, and the others must not pile up behind one that stays open.  Its
 * lock timeout error is 55P03 and names this wait; a retry after that
 * transaction has ended finds the clock moved.  handover() and advance()
 * wait as long as the session's lock_timeout says.
 */
static void
rv_ClockLockForStore(bool patient)
{
	int			nestlevel;
	ErrorContextCallback errcb;

	if (ConditionalLockRelationOid(rv_objects.table, ShareUpdateExclusiveLock))
		return;

	nestlevel = NewGUCNestLevel();
	if (!patient && (LockTimeout <= 0 || LockTimeout > 1000))
		(void) set_config_option("lock_timeout", "1s", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	errcb.callback = rv_ClockLockContext;
	errcb.arg = NULL;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	LockRelationOid(rv_objects.table, ShareUpdateExclusiveLock);
	error_context_stack = errcb.previous;
	AtEOXact_GUC(true, nestlevel);
}

/* Whether this transaction may write the clock. */
static bool
rv_ClockWritable(void)
{
	return !XactReadOnly && !RecoveryInProgress() && !IsInParallelMode();
}

/*
 * Returns the shift a writer whose snapshot's oldest running transaction
 * ID is base must use, given what rowversion.clock says (rows) and the
 * ceiling; sets *known to what a move would clear (the ceiling or a clock
 * handed over) and *floor to what versions must be above.  For a writer
 * (store), refuses while rows come by logical replication from a cluster
 * that has not handed over.
 */
static int64
rv_ClockShift(const RvClockRows *rows, int64 ceiling, int64 base, bool store,
			  int64 *known, int64 *floor)
{
	bool		arrived;
	int64		shift;

	*known = Max(ceiling, rows->handed_over);
	/* a reader's watermark is only lower for it, which is safe */
	if (store && rows->unhanded)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the row version clock of database \"%s\" is behind the cluster its rows came from",
						get_database_name(MyDatabaseId)),
				 errdetail("Rows are replicated here from database system %llu, which has not handed over its clock; versions handed out here could be below versions handed out there.",
						   (unsigned long long) rows->unhanded_system),
				 errhint("After the last write on that cluster, run SELECT rowversion.handover() there and let the change replicate here; if that cluster is gone, run SELECT rowversion.advance(n) here, n above every version it handed out.")));

	/*
	 * Every version this database hands out from now on is >= base + shift,
	 * and must be above floor: what other clusters handed over and, when
	 * the database has arrived, the ceiling it brought.  It has arrived when
	 * another cluster made its row after this one's (on the database's
	 * clock, which the row's since is read on), or made one and this cluster
	 * has none: the database was written elsewhere since it was last here,
	 * and the ceiling is the only trace of what was handed out there.  With
	 * no row at all the database is new: no version it handed out was
	 * committed (the transaction that hands out the first one makes this
	 * cluster's row), so a ceiling raised by transactions that rolled back
	 * does not count.  Storing a raised shift moves this cluster's since
	 * above floor, so the arrival is handled once.
	 */
	arrived = rows->others_found &&
		(!rows->own_found || rows->others_since > rows->own_since);
	shift = rows->own_found ? rows->own_shift : 0;
	*floor = arrived ? *known : rows->handed_over;

	/*
	 * This cluster's since is where its shift puts every transaction that
	 * was running or had not begun when it was stored, so one above floor
	 * needs no raise, whatever this transaction's older snapshot says.
	 */
	if (rows->own_found && rows->own_since > *floor)
		return shift;
	if (*floor > 0 && *floor - base >= shift)
		shift = *floor - base + 1;
	return shift;
}

/*
 * Computes the clock into *clock: this cluster's shift, raised and stored
 * (when store and the transaction may write) so that versions clear
 * everything the database knows was handed out elsewhere.  For a writer
 * (store), refuses when rows came from a cluster that went on writing
 * without handing over.
 */
static void
rv_ClockCompute(bool store, RvClock *clock)
{
	int64		system = (int64) GetSystemIdentifier();
	RvAsOwner	ctx;
	RvClockRows rows;
	int64		ceiling;
	int64		known;
	int64		floor;
	int64		shift;
	int64		base;

	if (!rv_objects_found)
		rv_ClockFind();
	clock->valid = true;
	if (!OidIsValid(rv_objects.table))
	{
		/* the extension is at 1.0: versions are transaction IDs */
		clock->shift = 0;
		clock->ceiling = PG_INT64_MAX;
		clock->carried = PG_INT64_MAX;
		clock->seen = 0;
		return;
	}

	rv_ClockBegin(&ctx);
	rv_ReadRows(system, &rows);
	ceiling = rv_ReadCeiling();
	rv_ClockEnd(&ctx);
	base = rv_SnapshotXmin();
	shift = rv_ClockShift(&rows, ceiling, base, store, &known, &floor);

	/*
	 * Store a raised shift, or this cluster's first row.  A new database
	 * (no row at all) keeps shift 0 whether or not its row is stored, so
	 * its first writers do not wait for each other: the row is left to a
	 * later writer while another transaction is storing it.  Under the lock,
	 * what another writer stored before is read again: its shift is the
	 * one (every session must use one shift, and a writer that read the
	 * clock after that one raised the ceiling would compute a larger one).
	 */
	if (store && (!rows.own_found || shift > rows.own_shift) &&
		(rows.own_found || rows.others_found))
	{
		/*
		 * A shift this transaction cannot store (it is read-only) is used
		 * for it alone: other sessions may store another one.
		 */
		if (!rv_ClockWritable())
			rv_clock_transient = true;
		else
		{
			rv_ClockLockForStore(rv_patient);
			rv_ClockBegin(&ctx);
			rv_ReadRows(system, &rows);
			ceiling = rv_ReadCeiling();
			shift = rv_ClockShift(&rows, ceiling, base, store, &known, &floor);
			if (!rows.own_found || shift > rows.own_shift)
				shift = rv_StoreShift(system, shift, base + shift);
			rv_ClockEnd(&ctx);
		}
	}
	else if (store && !rows.own_found && rv_ClockWritable() &&
			 ConditionalLockRelationOid(rv_objects.table, ShareUpdateExclusiveLock))
	{
		/* a new database's first row, by whoever finds the lock free */
		rv_ClockBegin(&ctx);
		shift = rv_StoreShift(system, shift, base + shift);
		rv_ClockEnd(&ctx);
	}

	clock->shift = shift;
	clock->ceiling = ceiling;
	clock->carried = known;
	clock->seen = 0;
}

/*
 * Loads the clock for the row trigger, storing this cluster's shift when
 * it has none or must raise it.
 */
void
rv_ClockLoad(void)
{
	RvClock		clock;

	rv_ClockCompute(true, &clock);
	rv_clock = clock;
}

/*
 * Puts the clock for a reader (watermark(), clock()) into *clock: the
 * loaded one, or the one the next writer will store.
 */
static void
rv_ClockForReader(RvClock *clock)
{
	if (rv_clock.valid)
		*clock = rv_clock;
	else
		rv_ClockCompute(false, clock);
}

/*
 * Raises the ceiling to version or above before the row trigger hands
 * version out, when version is the clock's (xid + shift) or ran ahead of
 * it by at most RV_RUN_AHEAD_COVERED (a row updated many times in one
 * transaction); a version further ahead came from a version column
 * written with the trigger off and is left to the row (rv_ClockSeen).
 * The ceiling changes outside the transaction (nextval(), setval()), so
 * concurrent writers never wait for each other's commit and it never comes
 * back down: raisers take turns under a lock on the sequence held only
 * while they raise it, nextval() for a step or a few, setval() for a jump
 * (after a move or advance()).  A read-only transaction (which may write
 * temporary tables only, which never move) leaves it.
 */
void
rv_ClockCover(int64 xid, int64 version)
{
	RvAsOwner	ctx;
	int64		ceiling;

	if (!OidIsValid(rv_objects.table) || !rv_ClockWritable())
		return;
	if (version - xid - rv_clock.shift > RV_RUN_AHEAD_COVERED)
		version = xid + rv_clock.shift + RV_RUN_AHEAD_COVERED;
	if (version <= rv_clock.ceiling)
		return;
	LockRelationOid(rv_objects.sequence, ShareUpdateExclusiveLock);
	rv_ClockBegin(&ctx);
	ceiling = rv_ReadCeiling();
	if (ceiling < version - RV_CEILING_STEP * 16)
	{
		(void) DirectFunctionCall2(setval_oid, ObjectIdGetDatum(rv_objects.sequence),
								   Int64GetDatum(version));
		ceiling = version;
	}
	rv_ClockEnd(&ctx);
	while (ceiling < version)
	{
		CHECK_FOR_INTERRUPTS();
		ceiling = nextval_internal(rv_objects.sequence, false);
	}
	UnlockRelationOid(rv_objects.sequence, ShareUpdateExclusiveLock);
	rv_clock.ceiling = ceiling;
}

/*
 * Handles a row of rel found at version current above the loaded ceiling.
 * Usually another session raised the ceiling since it was read.  If not,
 * the version was not handed out by this database's clock: the row came
 * from elsewhere without rowversion.clock (rows copied by hand, a
 * publication without it), or the version column was written with the
 * trigger off.  The row's next version still goes above it; the clock
 * does not follow (a table's owner could otherwise push every table's
 * versions to the end of bigint), and a WARNING says so, once a session.
 */
void
rv_ClockSeen(Relation rel, AttrNumber attnum, int64 current)
{
	RvAsOwner	ctx;

	rv_clock.seen = Max(rv_clock.seen, current);
	if (!OidIsValid(rv_objects.table))
		return;
	rv_ClockBegin(&ctx);
	rv_clock.ceiling = rv_ReadCeiling();
	rv_ClockEnd(&ctx);
	if (current <= rv_clock.ceiling || rv_warned_stored)
		return;

	rv_warned_stored = true;
	ereport(WARNING,
			(errcode(ERRCODE_WARNING),
			 errmsg("table \"%s\" holds row versions above the row version clock of this database",
					RelationGetRelationName(rel)),
			 rv_MaySeeColumns(rel, &attnum, 1) ?
			 errdetail("Version %lld was not handed out by this database's clock: rows that came from another cluster without rowversion.clock, or a version written while the trigger was off.  New rows may get lower versions.",
					   (long long) current) :
			 errdetail("A version of it was not handed out by this database's clock: rows that came from another cluster without rowversion.clock, or a version written while the trigger was off.  New rows may get lower versions."),
			 errhint("Move rowversion.clock and rowversion.clock_ceiling with the rows, as pg_dump does and a publication FOR ALL TABLES does."),
			 errtable(rel)));
}

/*
 * Reports a transaction ID that the shift puts beyond bigint.
 */
void
rv_ClockOutOfRange(int64 xid)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("row version clock is out of range for type bigint"),
			 errdetail("Transaction %lld with the shift %lld of this database passes the largest bigint.",
					   (long long) xid, (long long) rv_clock.shift)));
}

/*
 * Returns the watermark of the calling statement's snapshot (watermark.c):
 * its oldest running transaction ID plus the shift, or one above what a
 * move would clear (the ceiling, or a clock handed over here) when that is
 * lower.  Every version handed out later, here or on a cluster the
 * database moves to, is at least this: here it is at least a transaction
 * ID the snapshot sees running plus the shift; elsewhere it is above what
 * the database carried along, which is not below what is read now.  No
 * stored version lies between the two bounds (the ceiling covers every
 * version handed out here, and a clock handed over is below them), so the
 * lower one costs a reader no extra rows.
 */
int64
rv_ClockWatermark(void)
{
	RvClock		clock;
	RvAsOwner	ctx;
	int64		mark;
	int64		carried;

	rv_ClockForReader(&clock);
	mark = rv_SnapshotXmin() + clock.shift;
	carried = clock.carried;
	if (OidIsValid(rv_objects.table))
	{
		rv_ClockBegin(&ctx);
		carried = Max(carried, rv_ReadCeiling());
		rv_ClockEnd(&ctx);
	}
	if (carried < mark)
		mark = carried + 1;
	return mark;
}

/*
 * rowversion.clock() — the version the database's clock stands at: the
 * next transaction ID to be assigned plus the shift.  A version handed out
 * later is at least this.
 */
Datum
clock_now(PG_FUNCTION_ARGS)
{
	int64		next = (int64) U64FromFullTransactionId(ReadNextFullTransactionId());
	RvClock		clock;

	rv_ClockForReader(&clock);
	PG_RETURN_INT64(next + clock.shift);
}

/*
 * Checks that the caller may move the database's clock (the database's
 * owner, or a member of its role) in this transaction, and finds the
 * clock; what names the action in messages.
 */
static void
rv_ClockCheckOwner(const char *what)
{
	HeapTuple	tuple;
	Oid			dba;

	tuple = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(MyDatabaseId));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for database %u", MyDatabaseId);
	dba = ((Form_pg_database) GETSTRUCT(tuple))->datdba;
	ReleaseSysCache(tuple);
	if (!has_privs_of_role(GetUserId(), dba))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to move the row version clock of database \"%s\"",
						get_database_name(MyDatabaseId)),
				 errdetail("Only the database's owner may call %s.", what)));
	PreventCommandIfReadOnly(what);

	if (!rv_objects_found)
		rv_ClockFind();
	if (!OidIsValid(rv_objects.table))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"rowversion\" has no clock"),
				 errhint("Update the extension: ALTER EXTENSION rowversion UPDATE.")));
}

/*
 * Records in rowversion.clock that the cluster system (0: a clock given
 * by hand) handed over the clock at clock, or a later one it recorded
 * before, and that so did every other cluster whose row has not handed
 * over (the clock covers what they handed out: the database's arrival
 * here, or advance(), took it into account); returns the recorded clock.
 * Waits, as lock_timeout says, for a writer storing this cluster's row.
 */
static int64
rv_RecordHandover(int64 system, int64 clock)
{
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		values[2];
	RvAsOwner	ctx;
	bool		isnull;

	values[0] = Int64GetDatum(system);
	values[1] = Int64GetDatum(clock);
	rv_ClockLockForStore(true);
	rv_ClockBegin(&ctx);
	if (SPI_execute_with_args("INSERT INTO rowversion.clock AS c (system_identifier, shift, since, handed_over) "
							  "VALUES ($1, 0, $2, $2) ON CONFLICT (system_identifier) "
							  "DO UPDATE SET handed_over = GREATEST(c.handed_over, excluded.handed_over) "
							  "RETURNING c.handed_over",
							  2, types, values, NULL, false, 1) != SPI_OK_INSERT_RETURNING ||
		SPI_processed != 1)
		elog(ERROR, "could not record the handover in rowversion.clock");
	clock = rv_SpiInt64(0, 1, &isnull);

	values[0] = Int64GetDatum((int64) GetSystemIdentifier());
	values[1] = Int64GetDatum(clock);
	if (SPI_execute_with_args("UPDATE rowversion.clock SET handed_over = $2 "
							  "WHERE handed_over IS NULL AND system_identifier <> $1",
							  2, types, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record the handover in rowversion.clock");
	rv_ClockEnd(&ctx);
	return clock;
}

/*
 * rowversion.handover() — run on a cluster after its last write, before
 * another cluster takes over the database by logical replication: raises
 * the ceiling to the clock and records it in this cluster's row of
 * rowversion.clock, a change that replicates.  Returns the recorded clock.
 * The database's owner's decision.
 */
Datum
handover(PG_FUNCTION_ARGS)
{
	int64		clock;

	rv_ClockCheckOwner("rowversion.handover()");
	rv_patient = true;
	rv_ClockLoad();
	rv_patient = false;
	clock = (int64) U64FromFullTransactionId(ReadNextFullTransactionId()) + rv_clock.shift;
	rv_ClockCover(clock - rv_clock.shift, clock);
	clock = Max(clock, rv_clock.ceiling);
	PG_RETURN_INT64(rv_RecordHandover((int64) GetSystemIdentifier(), clock));
}

/*
 * rowversion.advance(past) — moves the database's clock past a version:
 * every version handed out by a transaction that starts after this one
 * commits, and every watermark, is above it.  For a database whose clock
 * did not come with its rows (restored by a role that may not write the
 * clock, or copied by hand), or whose old cluster is gone before it handed
 * over: past is the old cluster's rowversion.clock(), or the largest
 * version the database holds.  Recorded as a handover by no cluster
 * (system identifier 0), which dumps and publications carry, and as the
 * handover of every replicated cluster that has not handed over (so
 * writers are no longer refused).  Returns a version the clock then
 * stands at or above.  The database's owner's decision.
 */
Datum
advance(PG_FUNCTION_ARGS)
{
	int64		past = PG_GETARG_INT64(0);
	int64		next;

	if (past < 0 || past > PG_INT64_MAX - RV_RUN_AHEAD_COVERED * 2)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("row version %lld is out of range for the clock", (long long) past),
				 errdetail("The clock moves to versions from 0 to %lld.",
						   (long long) (PG_INT64_MAX - RV_RUN_AHEAD_COVERED * 2))));
	rv_ClockCheckOwner("rowversion.advance()");
	(void) rv_RecordHandover(0, past);

	/*
	 * The changes announce themselves (clock_changed()): the next statement
	 * loads a clock that stands above past, here and in every session.
	 */
	next = (int64) U64FromFullTransactionId(ReadNextFullTransactionId());
	PG_RETURN_INT64(Max(past + 1, next + (rv_clock.valid ? rv_clock.shift : 0)));
}

/* Returns the number of column name of rowversion.clock (rel). */
static int
rv_ClockColumn(Relation rel, const char *name)
{
	AttrNumber	attnum = rv_FindColumn(RelationGetDescr(rel), name);

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of table \"%s\" does not exist",
						name, RelationGetRelationName(rel))));
	return attnum;
}

/* Returns the system identifier of tuple, a row of rowversion.clock. */
static int64
rv_ClockRowSystem(Relation rel, HeapTuple tuple)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, rv_ClockColumn(rel, "system_identifier"),
								 RelationGetDescr(rel), &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

/*
 * clock_changed() — BEFORE ROW trigger of rowversion.clock, enabled ALWAYS
 * so logical replication's apply fires it too: marks a row written by the
 * apply (session_replication_role replica) as replicated, skips the
 * apply's writes of this cluster's own row, and makes every session load
 * the clock again.  A restore's rows keep what they say.
 */
Datum
clock_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	HeapTuple	tuple;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired BEFORE ... FOR EACH ROW",
						"clock_changed")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ?
		trigdata->tg_newtuple : trigdata->tg_trigtuple;
	if (SessionReplicationRole != SESSION_REPLICATION_ROLE_REPLICA)
		return PointerGetDatum(tuple);

	/*
	 * Replicated.  This cluster's own row is this cluster's to write: a
	 * publisher's copy of it (the database was here before) is skipped.
	 */
	if (rv_ClockRowSystem(trigdata->tg_relation, tuple) == (int64) GetSystemIdentifier() ||
		(TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) &&
		 rv_ClockRowSystem(trigdata->tg_relation, trigdata->tg_trigtuple) ==
		 (int64) GetSystemIdentifier()))
		return PointerGetDatum(NULL);
	if (!TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
	{
		TupleDesc	desc = RelationGetDescr(trigdata->tg_relation);
		int			attnum = rv_ClockColumn(trigdata->tg_relation, "replicated");
		Datum		value = BoolGetDatum(true);
		bool		isnull = false;

		tuple = heap_modify_tuple_by_cols(tuple, desc, 1, &attnum, &value, &isnull);
	}
	return PointerGetDatum(tuple);
}
