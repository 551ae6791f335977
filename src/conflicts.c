/*-------------------------------------------------------------------------
 *
 * conflicts.c
 *	  Counting what tables in log-only mode (rowversion.enable()'s
 *	  enforce => false) let through: stale claims and failed If-Match
 *	  preconditions (conflicts), and updates without a version under
 *	  require_version (versions missing).  The view rowversion.conflicts
 *	  shows the counts.
 *
 * The row trigger warns about each one (rowversion.c's reporters) and
 * counts it here, in the backend's memory, per table and subtransaction:
 * the counts of a subtransaction that rolls back go with it, those of one
 * that commits go to its parent.  When the transaction commits (or is
 * prepared), one INSERT per table writes its counts into the extension's
 * table rowversion.conflict_counts; however the transaction ends, the
 * counts in memory are forgotten, so a rolled-back transaction counts
 * nothing.  Writers only insert, never update a shared row, so committing
 * writers neither wait for each other's row locks nor fail each other's
 * serializable transactions.
 *
 * A partition's conflicts count for the table that rowversion.tables
 * lists: the one whose trigger the partition's was cloned from.  That is
 * looked up once per relation and transaction, when it first counts
 * something, never for a row that counts nothing.
 *
 * rowversion.conflict_counts is the extension's owner's (the superuser
 * that ran the install script) and PUBLIC has no privilege on it: the
 * INSERT, and the deletes of enable() and disable(), run as that owner,
 * as PostgreSQL's maintenance commands run a table owner's code (a
 * restricted operation with search_path pinned; rv_BeginAsOwner()), with
 * every name qualified.  Nothing is written when the table does not
 * exist (the 1.0 SQL objects with this library), in a read-only
 * transaction or in a parallel worker.
 *
 *-------------------------------------------------------------------------
 */
#include "rowversion.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/parallel.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

/* The counts of one relation in one subtransaction. */
typedef struct RvCount
{
	Oid			relid;			/* the relation the trigger fired on */
	Oid			counted;		/* the table rowversion.tables lists */
	SubTransactionId subid;		/* subtransaction that counted them */
	int64		conflicts;
	int64		versions_missing;
} RvCount;

/* the current transaction's counts, in TopTransactionContext */
static List *rv_counts = NIL;

static bool rv_callbacks_registered = false;

/*
 * Returns the OID of rowversion.conflict_counts, and its owner in *owner,
 * or InvalidOid when the extension has no such table (its SQL objects are
 * 1.0's).  The schema is the control file's.
 */
static Oid
rv_CountsTable(Oid *owner)
{
	Oid			nsp = get_namespace_oid("rowversion", true);
	Oid			ext = get_extension_oid("rowversion", true);
	Oid			table;
	HeapTuple	tuple;

	if (!OidIsValid(nsp) || !OidIsValid(ext))
		return InvalidOid;
	table = get_relname_relid("conflict_counts", nsp);
	if (!OidIsValid(table) || get_rel_relkind(table) != RELKIND_RELATION ||
		getExtensionOfObject(RelationRelationId, table) != ext)
		return InvalidOid;
	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(table));
	if (!HeapTupleIsValid(tuple))
		return InvalidOid;
	*owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return table;
}

/*
 * Returns the table whose row trigger tgoid is, following the triggers
 * that PostgreSQL cloned onto partitions back to the one enable() made.
 */
static Oid
rv_TriggerRoot(Oid tgoid)
{
	Relation	tgrel = table_open(TriggerRelationId, AccessShareLock);
	Oid			relid = InvalidOid;

	for (;;)
	{
		ScanKeyData key;
		SysScanDesc scan;
		HeapTuple	tuple;
		Form_pg_trigger form;

		ScanKeyInit(&key, Anum_pg_trigger_oid, BTEqualStrategyNumber,
					F_OIDEQ, ObjectIdGetDatum(tgoid));
		scan = systable_beginscan(tgrel, TriggerOidIndexId, true, NULL, 1, &key);
		tuple = systable_getnext(scan);
		if (!HeapTupleIsValid(tuple))
		{
			systable_endscan(scan);
			break;
		}
		form = (Form_pg_trigger) GETSTRUCT(tuple);
		relid = form->tgrelid;
		tgoid = form->tgparentid;
		systable_endscan(scan);
		if (!OidIsValid(tgoid))
			break;
	}
	table_close(tgrel, AccessShareLock);
	return relid;
}

/*
 * Returns the table that rel's counts are kept for, as rowversion.tables
 * lists it: rel, or for a partition whose version trigger is a clone, the
 * table whose trigger it was cloned from.
 */
static Oid
rv_CountedTable(Relation rel)
{
	Trigger    *tg;
	Oid			root;

	if (!rel->rd_rel->relispartition)
		return RelationGetRelid(rel);
	tg = rv_FindVersionTrigger(rel, get_namespace_oid("rowversion", true));
	if (tg == NULL || !tg->tgisclone)
		return RelationGetRelid(rel);
	root = rv_TriggerRoot(tg->tgoid);
	return OidIsValid(root) ? root : RelationGetRelid(rel);
}

/*
 * Writes the counts of the committing transaction, one row per table,
 * into rowversion.conflict_counts, as that table's owner.
 */
static void
rv_FlushCounts(List *counts)
{
	Oid			owner = InvalidOid;
	Oid			table = rv_CountsTable(&owner);
	Oid			types[3] = {OIDOID, INT8OID, INT8OID};
	List	   *done = NIL;
	RvAsOwner	save;
	ListCell   *lc;

	if (!OidIsValid(table) || XactReadOnly || IsParallelWorker())
		return;

	PushActiveSnapshot(GetTransactionSnapshot());
	rv_BeginAsOwner(owner, 0, &save);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	foreach(lc, counts)
	{
		RvCount    *c = (RvCount *) lfirst(lc);
		int64		conflicts = 0;
		int64		versions_missing = 0;
		Datum		values[3];
		ListCell   *lc2;

		if (list_member_oid(done, c->counted))
			continue;
		done = lappend_oid(done, c->counted);
		for_each_cell(lc2, counts, lc)
		{
			RvCount    *same = (RvCount *) lfirst(lc2);

			if (same->counted == c->counted)
			{
				conflicts += same->conflicts;
				versions_missing += same->versions_missing;
			}
		}
		values[0] = ObjectIdGetDatum(c->counted);
		values[1] = Int64GetDatum(conflicts);
		values[2] = Int64GetDatum(versions_missing);
		if (SPI_execute_with_args("INSERT INTO rowversion.conflict_counts "
								  "(tbl, conflicts, versions_missing, at) "
								  "VALUES ($1, $2, $3, pg_catalog.clock_timestamp())",
								  3, types, values, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not insert into rowversion.conflict_counts");
	}
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	rv_EndAsOwner(&save);
	PopActiveSnapshot();
}

/*
 * Writes the counts when the transaction commits or is prepared, and
 * forgets them however it ends.  Their memory goes with
 * TopTransactionContext.
 */
static void
rv_CountsXactCallback(XactEvent event, void *arg)
{
	List	   *counts;

	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			/* forgotten first: an error here aborts, and must not retry */
			counts = rv_counts;
			rv_counts = NIL;
			if (counts != NIL)
				rv_FlushCounts(counts);
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			rv_counts = NIL;
			break;
		default:
			break;
	}
}

/*
 * Forgets the counts of a subtransaction that rolls back (its writes are
 * undone), and adds those of one that commits to its parent's.
 */
static void
rv_CountsSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	if (event != SUBXACT_EVENT_ABORT_SUB && event != SUBXACT_EVENT_COMMIT_SUB)
		return;
	foreach(lc, rv_counts)
	{
		RvCount    *c = (RvCount *) lfirst(lc);
		ListCell   *lc2;
		RvCount    *parent = NULL;

		if (c->subid != mySubid)
			continue;
		if (event == SUBXACT_EVENT_COMMIT_SUB)
		{
			foreach(lc2, rv_counts)
			{
				RvCount    *p = (RvCount *) lfirst(lc2);

				if (p->relid == c->relid && p->subid == parentSubid)
					parent = p;
			}
			if (parent == NULL)
			{
				c->subid = parentSubid;
				continue;
			}
			parent->conflicts += c->conflicts;
			parent->versions_missing += c->versions_missing;
		}
		rv_counts = foreach_delete_current(rv_counts, lc);
		pfree(c);
	}
}

/*
 * The most warnings one client statement gets for what log-only tables let
 * through; past that they are counted only, so a bulk statement does not
 * flood the client and the server log with a warning per row.
 */
#define RV_MAX_WARNINGS		10

/* the statement the warnings were counted for, and how many it had */
static TimestampTz rv_warned_xact = 0;
static TimestampTz rv_warned_stmt = 0;
static int	rv_warned = 0;

/*
 * Returns whether a conflict or missing version that a log-only table lets
 * through is to be reported as a warning: the first RV_MAX_WARNINGS of each
 * statement the client sent are; when the next comes, one warning says
 * that the statement's others are counted, not reported.
 */
bool
rv_MayWarn(void)
{
	TimestampTz xact = GetCurrentTransactionStartTimestamp();
	TimestampTz stmt = GetCurrentStatementStartTimestamp();

	if (xact != rv_warned_xact || stmt != rv_warned_stmt)
	{
		rv_warned_xact = xact;
		rv_warned_stmt = stmt;
		rv_warned = 0;
	}
	if (rv_warned < RV_MAX_WARNINGS)
	{
		rv_warned++;
		return true;
	}
	if (rv_warned == RV_MAX_WARNINGS)
	{
		rv_warned++;
		ereport(WARNING,
				(errcode(ERRCODE_WARNING),
				 errmsg("further row version conflicts of this statement are not reported"),
				 errdetail("They are counted in view rowversion.conflicts."),
				 errhint("At most %d are reported for each statement.", RV_MAX_WARNINGS)));
	}
	return false;
}

/*
 * Counts one conflict or missing version (kind) that the row trigger let
 * through on rel, a table in log-only mode, for the current transaction.
 */
void
rv_CountConflict(Relation rel, RvCountKind kind)
{
	Oid			relid = RelationGetRelid(rel);
	SubTransactionId subid = GetCurrentSubTransactionId();
	RvCount    *found = NULL;
	Oid			counted = InvalidOid;
	ListCell   *lc;

	if (IsParallelWorker())
		return;
	if (!rv_callbacks_registered)
	{
		RegisterXactCallback(rv_CountsXactCallback, NULL);
		RegisterSubXactCallback(rv_CountsSubXactCallback, NULL);
		rv_callbacks_registered = true;
	}

	foreach(lc, rv_counts)
	{
		RvCount    *c = (RvCount *) lfirst(lc);

		if (c->relid != relid)
			continue;
		counted = c->counted;
		if (c->subid == subid)
			found = c;
	}
	if (found == NULL)
	{
		MemoryContext oldcxt;

		if (!OidIsValid(counted))
			counted = rv_CountedTable(rel);
		oldcxt = MemoryContextSwitchTo(TopTransactionContext);
		found = (RvCount *) palloc0(sizeof(RvCount));
		found->relid = relid;
		found->counted = counted;
		found->subid = subid;
		rv_counts = lappend(rv_counts, found);
		MemoryContextSwitchTo(oldcxt);
	}
	if (kind == RV_COUNT_CONFLICT)
		found->conflicts++;
	else
		found->versions_missing++;
}

/*
 * Deletes the counts of table relid from rowversion.conflict_counts, and
 * with start_counting adds a row of no counts as of now, from which
 * rowversion.conflicts shows the table (its "since").  For enable() and
 * disable(), inside their SPI connection; runs as the owner of
 * rowversion.conflict_counts.  Does nothing when the extension has no such
 * table.
 */
void
rv_ResetConflictCounts(Oid relid, bool start_counting)
{
	Oid			owner = InvalidOid;
	Oid			table = rv_CountsTable(&owner);
	Oid			types[1] = {OIDOID};
	Datum		values[1];
	RvAsOwner	save;

	if (!OidIsValid(table))
		return;
	values[0] = ObjectIdGetDatum(relid);
	rv_BeginAsOwner(owner, 0, &save);
	if (SPI_execute_with_args("DELETE FROM rowversion.conflict_counts "
							  "WHERE tbl OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not delete from rowversion.conflict_counts");
	if (start_counting &&
		SPI_execute_with_args("INSERT INTO rowversion.conflict_counts "
							  "(tbl, conflicts, versions_missing, at) "
							  "VALUES ($1, 0, 0, pg_catalog.now())",
							  1, types, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not insert into rowversion.conflict_counts");
	rv_EndAsOwner(&save);
}
