/*-------------------------------------------------------------------------
 *
 * precondition.c
 *	  If-Match preconditions for SQL that the application does not write:
 *	  rowversion.expect_match() registers a request's If-Match header for a
 *	  table, for the rest of the transaction, and the row trigger checks it
 *	  on every row the client's own UPDATE or DELETE changes.
 *	  rowversion.postgrest_pre_request() registers it from the settings
 *	  PostgREST gives each request.
 *
 * The registered headers live in TopTransactionContext and are forgotten
 * when the transaction ends, however it ends; one registered in a
 * subtransaction that rolls back is forgotten with it, as SET LOCAL is.
 * Nothing of them reaches the next transaction on the connection.
 *
 * On Citus, the row trigger fires on the node that holds the row, in a
 * backend of its own.  A registration for a distributed or reference table
 * is therefore also written into the setting rowversion.preconditions, as
 * SET LOCAL, which Citus sends to every node the transaction writes
 * through (rv_CitusSetLocal()); a backend that registered nothing itself
 * checks what that setting carries, naming tables by schema and name
 * (the shards' tables have different OIDs on each node).
 *
 * While one is registered, two hooks keep it from being skipped: at
 * ExecutorStart a client's statement whose target tables' row triggers
 * would not fire (dropped or disabled since), or that writes through a
 * view's INSTEAD OF trigger, is refused; at ProcessUtility so is a
 * TRUNCATE of such a table.  Without a registration each costs one test.
 *
 *-------------------------------------------------------------------------
 */
#include "rowversion.h"
#include "etag.h"

#include <ctype.h>

#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/heap.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "parser/parsetree.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(expect_match);
PG_FUNCTION_INFO_V1(postgrest_pre_request);

/*
 * The longest If-Match header accepted: what common HTTP servers accept in
 * one header field (8 KiB).
 */
#define RV_MAX_IF_MATCH		8192

/*
 * One registration.  The newest one for a table wins; a NULL header is a
 * registration that removed the table's precondition.
 */
typedef struct RvPrecondition
{
	Oid			relid;
	SubTransactionId subid;		/* subtransaction that registered it */
	char	   *header;			/* NULL: none */
	int			len;
} RvPrecondition;

/* registrations of the current transaction, oldest first */
static List *rv_preconditions = NIL;

/* whether there are any, for the row trigger's fast path */
bool		rv_have_preconditions = false;

static bool rv_callbacks_registered = false;

/* the extension's schema, where the row trigger function lives */
static Oid	rv_precondition_nsp = InvalidOid;

static ExecutorStart_hook_type rv_prev_ExecutorStart = NULL;
static ProcessUtility_hook_type rv_prev_ProcessUtility = NULL;

static void rv_CheckDescendantTriggers(Relation rel, Trigger *tg);
static void rv_ForwardPrecondition(Oid relid, const char *header);
static void rv_Reforward(void);
static void rv_SetForwarded(const char *value);

/*
 * rowversion.preconditions: the registrations a coordinator forwarded, as
 * entries "<n>:<schema><n>:<table><n>:<If-Match>", each field preceded by
 * its length in bytes (so that no character needs escaping).
 */
static char *rv_forwarded_value = NULL;

/* whether that setting carries any entry, for the row trigger's fast path */
bool		rv_have_forwarded = false;

/* whether rv_SetForwarded() is setting it */
static bool rv_forwarding = false;

/*
 * Whether a subtransaction committed since it was last set: Citus forgets
 * the SET LOCALs of a subtransaction when it commits (it keeps them for
 * the connections that were open, but sends the parent's alone to those
 * opened later), so the setting is sent again before the next statement.
 */
static bool rv_reforward = false;

/* One forwarded registration, its table resolved on this node. */
typedef struct RvForwarded
{
	Oid			relid;			/* InvalidOid: no such table here */
	char	   *header;
	int			len;
} RvForwarded;

/* the setting's entries, parsed when first needed after each change */
static List *rv_forwarded = NIL;
static bool rv_forwarded_parsed = false;
static bool rv_resolving = false;	/* while they are being looked up */
static MemoryContext rv_forwarded_cxt = NULL;

/*
 * Forgets every registration when the transaction ends.  Their memory goes
 * with TopTransactionContext.
 */
static void
rv_PreconditionXactCallback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			rv_preconditions = NIL;
			rv_have_preconditions = false;
			rv_reforward = false;
			break;
		default:
			break;
	}
}

/*
 * Forgets the registrations of a subtransaction that rolls back, and hands
 * those of one that commits to its parent.
 */
static void
rv_PreconditionSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
							   SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	if (event != SUBXACT_EVENT_ABORT_SUB && event != SUBXACT_EVENT_COMMIT_SUB)
		return;
	if (event == SUBXACT_EVENT_COMMIT_SUB && rv_have_forwarded)
		rv_reforward = true;
	foreach(lc, rv_preconditions)
	{
		RvPrecondition *p = (RvPrecondition *) lfirst(lc);

		if (p->subid != mySubid)
			continue;
		if (event == SUBXACT_EVENT_COMMIT_SUB)
			p->subid = parentSubid;
		else
		{
			rv_preconditions = foreach_delete_current(rv_preconditions, lc);
			rv_have_preconditions = rv_preconditions != NIL;
		}
	}
}

/*
 * Returns the newest registration for relid, or NULL when there is none.
 */
static RvPrecondition *
rv_FindPrecondition(Oid relid)
{
	int			i;

	for (i = list_length(rv_preconditions) - 1; i >= 0; i--)
	{
		RvPrecondition *p = (RvPrecondition *) list_nth(rv_preconditions, i);

		if (p->relid == relid)
			return p;
	}
	return NULL;
}

/*
 * Reads one field of a rowversion.preconditions entry at *p: a length of at
 * most max bytes, a colon and that many bytes.  Returns whether there was
 * one; sets *field and *len to the bytes (not terminated) and advances *p.
 */
static bool
rv_ReadForwardedField(const char **p, int max, const char **field, int *len)
{
	const char *c = *p;
	int			n = 0;
	int			digits = 0;

	while (*c >= '0' && *c <= '9' && digits < 6)
	{
		n = n * 10 + (*c++ - '0');
		digits++;
	}
	if (digits == 0 || *c != ':' || n > max)
		return false;
	c++;
	if ((int) strnlen(c, n) < n)
		return false;
	*field = c;
	*len = n;
	*p = c + n;
	return true;
}

/* One rowversion.preconditions entry as read: its fields, not terminated. */
typedef struct RvForwardedEntry
{
	const char *nsp;
	int			nsplen;
	const char *rel;
	int			rellen;
	const char *header;
	int			len;
} RvForwardedEntry;

/*
 * Reads the entry at *p into *e and advances *p past it.  Returns whether
 * it is well formed (names not empty, each field within its limit).
 */
static bool
rv_ReadForwardedEntry(const char **p, RvForwardedEntry *e)
{
	return rv_ReadForwardedField(p, NAMEDATALEN - 1, &e->nsp, &e->nsplen) &&
		rv_ReadForwardedField(p, NAMEDATALEN - 1, &e->rel, &e->rellen) &&
		rv_ReadForwardedField(p, RV_MAX_IF_MATCH, &e->header, &e->len) &&
		e->nsplen > 0 && e->rellen > 0;
}

/*
 * Parses value, a rowversion.preconditions setting.  Returns whether it is
 * well formed; with resolve, also appends each entry to *entries (in
 * CurrentMemoryContext) with its table looked up on this node (InvalidOid
 * unless a distributed or reference table: expect_match() forwards no
 * other, and a shard's name must not stand for it).
 */
static bool
rv_ParseForwarded(const char *value, bool resolve, List **entries)
{
	const char *p = value;

	while (p != NULL && *p != '\0')
	{
		RvForwardedEntry e;

		if (!rv_ReadForwardedEntry(&p, &e))
			return false;
		if (resolve)
		{
			RvForwarded *f = (RvForwarded *) palloc(sizeof(RvForwarded));
			Oid			nspid = get_namespace_oid(pnstrdup(e.nsp, e.nsplen), true);
			RvCitusKind kind;

			f->relid = OidIsValid(nspid) ?
				get_relname_relid(pnstrdup(e.rel, e.rellen), nspid) : InvalidOid;
			/* only a table whose rows other nodes hold: never a shard */
			kind = OidIsValid(f->relid) ? rv_CitusTableKind(f->relid) : RV_CITUS_NONE;
			if (kind != RV_CITUS_DISTRIBUTED && kind != RV_CITUS_REFERENCE)
				f->relid = InvalidOid;
			f->header = pnstrdup(e.header, e.len);
			f->len = e.len;
			*entries = lappend(*entries, f);
		}
	}
	return true;
}

/* Refuses a rowversion.preconditions value that is not well formed. */
static bool
rv_CheckForwardedSetting(char **newval, void **extra, GucSource source)
{
	/*
	 * (a SET in a session or transaction only: not a default of a role,
	 * database, connection or file)
	 */
	if ((source == PGC_S_DEFAULT || source == PGC_S_SESSION) &&
		rv_ParseForwarded(*newval, false, NULL))
		return true;
	GUC_check_errdetail("It is set by rowversion.expect_match() on Citus, not by hand.");
	return false;
}

/* Notes that rowversion.preconditions changed. */
static void
rv_AssignForwardedSetting(const char *newval, void *extra)
{
	rv_have_forwarded = newval != NULL && newval[0] != '\0';
	rv_forwarded_parsed = false;
}

/*
 * Returns the forwarded registrations (rowversion.preconditions), parsed
 * and resolved once after each change of the setting.
 */
static List *
rv_ForwardedPreconditions(void)
{
	MemoryContext oldcxt;

	if (rv_forwarded_parsed)
		return rv_forwarded;
	if (rv_forwarded_cxt == NULL)
		rv_forwarded_cxt = AllocSetContextCreate(TopMemoryContext,
												 "rowversion forwarded preconditions",
												 ALLOCSET_SMALL_SIZES);
	MemoryContextReset(rv_forwarded_cxt);
	rv_forwarded = NIL;
	oldcxt = MemoryContextSwitchTo(rv_forwarded_cxt);
	/* (the lookups run queries: rv_CheckForwardedAreOurs() lets them be) */
	rv_resolving = true;
	PG_TRY();
	{
		(void) rv_ParseForwarded(rv_forwarded_value, true, &rv_forwarded);
	}
	PG_FINALLY();
	{
		rv_resolving = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	rv_forwarded_parsed = true;
	return rv_forwarded;
}

/*
 * Returns the forwarded registration for relid, or NULL.  The newest
 * entry for a table is the only one (rv_ForwardPrecondition()).
 */
static RvForwarded *
rv_FindForwarded(Oid relid)
{
	ListCell   *lc;

	foreach(lc, rv_ForwardedPreconditions())
	{
		RvForwarded *f = (RvForwarded *) lfirst(lc);

		if (f->relid == relid)
			return f;
	}
	return NULL;
}

/*
 * Appends to *headers the header registered for relid: with forwarded (a
 * backend that serves another Citus node and registered nothing itself),
 * the one forwarded to it from the node where expect_match() ran; else
 * the one expect_match() registered in this backend.
 */
static void
rv_CollectHeader(Oid relid, List **headers, bool forwarded)
{
	if (!forwarded)
	{
		RvPrecondition *p = rv_FindPrecondition(relid);

		if (p != NULL && p->header != NULL)
			*headers = lappend(*headers, p);
	}
	else if (rv_have_forwarded)
	{
		RvForwarded *f = rv_FindForwarded(relid);

		if (f != NULL)
		{
			RvPrecondition *p = (RvPrecondition *) palloc0(sizeof(RvPrecondition));

			p->relid = relid;
			p->header = f->header;
			p->len = f->len;
			*headers = lappend(*headers, p);
		}
	}
}

/*
 * Refuses a client's statement while rowversion.preconditions carries an
 * entry that expect_match() did not register in this transaction (set by
 * hand): the nodes that hold the rows would check it without knowing that
 * the caller may compare the table's versions -- inside a SECURITY DEFINER
 * function, as its owner -- so what its writes do would tell a version.
 * Only backends that serve another Citus node take what the setting
 * carries, and only outside SECURITY DEFINER functions.
 */
static void
rv_CheckForwardedAreOurs(void)
{
	ListCell   *lc;

	/*
	 * A backend serving another node takes them as sent, but not inside a
	 * SECURITY DEFINER function (a function Citus runs there for a client,
	 * or a client passing for another node by its application_name).
	 */
	if (rv_forwarding || rv_resolving ||
		(rv_CitusInternalBackend() && GetUserId() == GetOuterUserId()))
		return;
	foreach(lc, rv_ForwardedPreconditions())
	{
		RvForwarded *f = (RvForwarded *) lfirst(lc);
		RvPrecondition *p = OidIsValid(f->relid) ? rv_FindPrecondition(f->relid) : NULL;

		if (p == NULL || p->header == NULL || p->len != f->len ||
			memcmp(p->header, f->header, f->len) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("setting \"rowversion.preconditions\" was not set by rowversion.expect_match()"),
					 errhint("Call rowversion.expect_match() to register an If-Match precondition.")));
	}
}

/*
 * Checks the preconditions registered for rel and for the tables its rows
 * belong to (ancestors, rv_Ancestors(rel)) against a row at version
 * current, which the caller has locked: one that does not hold raises
 * RV001, or with enforce false (a table in log-only mode) warns, is
 * counted as a conflict and sets *failed, and the write goes on.  Returns
 * whether any applied; one that applied counts as a claim for
 * require_version even when it failed in log-only mode (the row is
 * reported once).
 *
 * Only the client's own writes are checked.  They are told apart by the
 * trigger depth: PostgreSQL counts the trigger functions running in the
 * backend, so this trigger runs at depth 1 when the client's statement
 * (sent by the client, or run by a function that the client's statement
 * called) changes the row, and deeper when a statement that another
 * trigger ran does: a foreign key's cascade (its action runs from an AFTER
 * trigger), propagate()'s parent bump (from a statement trigger) and the
 * application's own triggers.  Those rows are not the resource the client
 * named, so the client's If-Match says nothing about them.  A view's
 * INSTEAD OF trigger is also a trigger: writes through such a view are not
 * checked, and expect_match() does not accept views.
 */
bool
rv_CheckPreconditions(Relation rel, List *ancestors, AttrNumber attnum,
					  int64 current, bool current_isnull, bool enforce,
					  bool *failed)
{
	List	   *headers = NIL;
	bool		forwarded = rv_preconditions == NIL && rv_CitusInternalBackend();
	RvPrecondition *p;
	ListCell   *lc;

	*failed = false;
	rv_CollectHeader(RelationGetRelid(rel), &headers, forwarded);
	foreach(lc, ancestors)
		rv_CollectHeader(lfirst_oid(lc), &headers, forwarded);
	if (headers == NIL)
		return false;
	if (rv_TriggerDepth() > 1)
	{
		list_free(headers);
		return false;
	}

	/*
	 * expect_match() checked on the node it ran on that the caller may
	 * compare this table's versions; checked again where it is applied.
	 */
	if (forwarded &&
		!rv_MaySelectColumn(rel, ancestors, attnum))
	{
		/* (looked up before the report starts: it may run a query) */
		const char *relname = rv_TableName(rel);

		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to compare row versions of table \"%s\"",
						relname),
				 errdetail("An If-Match precondition compares the row's version, which takes SELECT on column \"%s\".",
						   NameStr(TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attname)),
				 rv_errtablecol(rel, attnum)));
	}

	/* a row without a version has no representation a tag could name */
	foreach(lc, headers)
	{
		p = (RvPrecondition *) lfirst(lc);
		if (rv_etag_header_match(p->header, p->len, !current_isnull,
								 current, 0) != RV_ETAG_MATCH)
		{
			rv_HandlePreconditionFailed(rel, attnum, p->header,
										current, current_isnull, enforce);
			*failed = true;
			break;
		}
	}
	list_free(headers);
	return true;
}

/*
 * Refuses a precondition on rel when its row trigger is missing, does not
 * fire on both UPDATE and DELETE (enable() never makes such a trigger, but
 * a table's owner can make one by hand with the extension's function), or
 * does not fire for every row now.  nsp is the extension's schema.
 */
static void
rv_CheckPreconditionTrigger(Relation rel, Oid nsp)
{
	Trigger    *tg = rv_FindVersionTrigger(rel, nsp);

	if (tg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" does not keep row versions",
						RelationGetRelationName(rel)),
				 errhint("Call rowversion.enable() on it first."),
				 errtable(rel)));
	if (!TRIGGER_FOR_UPDATE(tg->tgtype) || !TRIGGER_FOR_DELETE(tg->tgtype))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" cannot check If-Match on every write",
						RelationGetRelationName(rel)),
				 errdetail("Trigger \"%s\" does not fire on both UPDATE and DELETE.",
						   tg->tgname),
				 errhint("Call rowversion.enable() on it again to recreate the trigger."),
				 errtable(rel)));
	rv_CheckTriggerFires(rel, tg->tgenabled, tg->tgname, RV_TRIGGER_CONDITIONAL(tg));
}

/*
 * Returns whether a precondition with a header is registered for relid or
 * for a table its rows belong to (rv_Ancestors).
 */
static bool
rv_HasPrecondition(Oid relid)
{
	RvPrecondition *p = rv_FindPrecondition(relid);
	ListCell   *lc;

	if (p != NULL && p->header != NULL)
		return true;
	foreach(lc, rv_Ancestors(relid))
	{
		p = rv_FindPrecondition(lfirst_oid(lc));
		if (p != NULL && p->header != NULL)
			return true;
	}
	return false;
}

/*
 * Refuses a client's write through view relid when the view has INSTEAD OF
 * row triggers and any precondition is registered: the trigger writes the
 * tables behind it in statements of its own, which run deeper than the
 * client's and are not checked (rv_CheckPreconditions), so a precondition
 * on one of those tables would be skipped.
 */
static void
rv_CheckViewTarget(Oid relid)
{
	Relation	view;
	TriggerDesc *trigdesc;
	ListCell   *lc;
	bool		any = false;

	foreach(lc, rv_preconditions)
	{
		RvPrecondition *p = (RvPrecondition *) lfirst(lc);

		if (rv_FindPrecondition(p->relid)->header != NULL)
			any = true;
	}
	if (!any)
		return;
	view = relation_open(relid, AccessShareLock);
	trigdesc = view->trigdesc;
	if (trigdesc != NULL &&
		(trigdesc->trig_insert_instead_row || trigdesc->trig_update_instead_row ||
		 trigdesc->trig_delete_instead_row))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot write through view \"%s\" while an If-Match precondition is registered",
						RelationGetRelationName(view)),
				 errdetail("Its INSTEAD OF trigger writes in statements of its own, which If-Match preconditions do not check."),
				 errhint("Write to the table behind it, whose rows the precondition checks.")));
	relation_close(view, AccessShareLock);
}

/*
 * rv_CheckStatementTargets() for one result relation rte: a view, or with
 * partitioned, a partitioned table; else any other table.
 */
static void
rv_CheckStatementTarget(RangeTblEntry *rte, bool partitioned)
{
	Relation	rel;

	if (rte->rtekind != RTE_RELATION ||
		(rte->relkind == RELKIND_PARTITIONED_TABLE) != partitioned)
		return;
	if (rte->relkind == RELKIND_VIEW)
	{
		rv_CheckViewTarget(rte->relid);
		return;
	}
	if (!rv_HasPrecondition(rte->relid))
		return;
	/* the executor locks result relations in this mode */
	rel = table_open(rte->relid, RowExclusiveLock);
	rv_CheckPreconditionTrigger(rel, rv_precondition_nsp);

	/*
	 * Rows an INSERT ... ON CONFLICT DO UPDATE routes through a partitioned
	 * table land in partitions that are not result relations of their own.
	 */
	if (partitioned)
		rv_CheckDescendantTriggers(rel, rv_FindVersionTrigger(rel, rv_precondition_nsp));
	table_close(rel, NoLock);
}

/*
 * Refuses a client's statement that would change rows of a table with a
 * registered precondition while that table's row trigger -- the only
 * place the precondition is checked -- would not fire for them: dropped
 * (rowversion.disable()), disabled (ALTER TABLE ... DISABLE TRIGGER), or
 * not firing under the session's session_replication_role, also when
 * that happened after expect_match() in the same transaction.  The tables
 * are the statement's result relations, as the planner expanded them
 * (partitions, inheritance children, the targets of data-modifying WITH
 * queries).  Statements that triggers run are not the client's and are
 * not checked, as in rv_CheckPreconditions().
 */
static void
rv_CheckStatementTargets(PlannedStmt *stmt)
{
	List	   *targets = rv_ResultRelations(stmt);
	ListCell   *lc;

	if (targets == NIL || rv_TriggerDepth() > 0)
		return;
	/* the tables rows are stored in first, then the partitioned ones */
	foreach(lc, targets)
		rv_CheckStatementTarget(rt_fetch(lfirst_int(lc), stmt->rtable), false);
	foreach(lc, targets)
		rv_CheckStatementTarget(rt_fetch(lfirst_int(lc), stmt->rtable), true);
}

/*
 * Refuses a TRUNCATE that would empty a table with a registered
 * precondition: it fires no row trigger, so the precondition could not be
 * checked.  The tables are those it names, their partitions and children
 * (unless ONLY), and with CASCADE the tables that reference them, as
 * ExecuteTruncate() gathers them.
 */
static void
rv_CheckTruncate(TruncateStmt *stmt)
{
	List	   *relids = NIL;
	ListCell   *lc;

	foreach(lc, stmt->relations)
	{
		RangeVar   *rv = (RangeVar *) lfirst(lc);
		Oid			relid = RangeVarGetRelid(rv, NoLock, true);

		if (!OidIsValid(relid))
			continue;
		relids = list_concat_unique_oid(relids, rv->inh ?
										find_all_inheritors(relid, NoLock, NULL) :
										list_make1_oid(relid));
	}
	if (stmt->behavior == DROP_CASCADE)
	{
		List	   *more = relids;

		while ((more = heap_truncate_find_FKs(more)) != NIL)
		{
			List	   *added = NIL;

			foreach(lc, more)
			{
				Oid			relid = lfirst_oid(lc);

				if (!list_member_oid(relids, relid))
					added = list_concat_unique_oid(added,
												   find_all_inheritors(relid, NoLock, NULL));
			}
			relids = list_concat_unique_oid(relids, added);
			more = added;
		}
	}
	foreach(lc, relids)
	{
		Oid			relid = lfirst_oid(lc);

		if (rv_HasPrecondition(relid))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("cannot truncate table \"%s\" while an If-Match precondition is registered for it",
							get_rel_name(relid)),
					 errdetail("Truncating fires no row trigger, so the precondition could not be checked."),
					 errhint("Delete the rows instead.")));
	}
}

/*
 * ProcessUtility hook: checks TRUNCATE while a precondition is registered.
 */
static void
rv_ProcessUtility(RV_PROCESS_UTILITY_PARAMS)
{
	if (rv_have_preconditions && IsA(pstmt->utilityStmt, TruncateStmt))
		rv_CheckTruncate((TruncateStmt *) pstmt->utilityStmt);
	if (rv_prev_ProcessUtility)
		rv_prev_ProcessUtility(RV_PROCESS_UTILITY_ARGS);
	else
		standard_ProcessUtility(RV_PROCESS_UTILITY_ARGS);
}

/*
 * ExecutorStart hook: checks the targets of every statement while a
 * precondition is registered, and that forwarded ones are this backend's
 * own (rv_CheckForwardedAreOurs()), after sending them again when a
 * subtransaction committed (rv_reforward); costs three tests otherwise.
 */
static void
rv_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	if (rv_reforward)
		rv_Reforward();
	if (rv_have_forwarded)
		rv_CheckForwardedAreOurs();
	if (rv_have_preconditions && !(eflags & EXEC_FLAG_EXPLAIN_ONLY))
		rv_CheckStatementTargets(queryDesc->plannedstmt);
	if (rv_prev_ExecutorStart)
		rv_prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

/*
 * Installs the ExecutorStart and ProcessUtility hooks, once, when the
 * library is loaded.
 */
void
rv_InitPreconditions(void)
{
	DefineCustomStringVariable("rowversion.preconditions",
							   "If-Match preconditions forwarded to the Citus nodes that hold the rows.",
							   "Set by rowversion.expect_match() for the rest of the transaction; not to be set by hand.",
							   &rv_forwarded_value,
							   "",
							   PGC_USERSET,
							   GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE |
							   GUC_DISALLOW_IN_FILE,
							   rv_CheckForwardedSetting,
							   rv_AssignForwardedSetting,
							   NULL);
	rv_prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = rv_ExecutorStart;
	rv_prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = rv_ProcessUtility;
}

/*
 * Refuses a precondition on rel when one of the tables its rows may be
 * stored in -- its partitions and inheritance children, at any depth --
 * has no row trigger tg (a partition's clone of it, a child's own) that
 * fires on both UPDATE and DELETE now.  Reads the catalogs without locking
 * them, so a request does not take a lock on each of thousands of
 * partitions; the statements that write are checked again when they start
 * (rv_CheckStatementTargets).
 */
static void
rv_CheckDescendantTriggers(Relation rel, Trigger *tg)
{
	bool		replica = SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA;
	Oid			argtypes[3] = {OIDOID, OIDOID, CHAROID};
	Datum		args[3];
	char	   *relname = NULL;

	if (!rel->rd_rel->relhassubclass)
		return;
	args[0] = ObjectIdGetDatum(RelationGetRelid(rel));
	args[1] = ObjectIdGetDatum(tg->tgfoid);
	args[2] = CharGetDatum(replica ? TRIGGER_FIRES_ON_REPLICA : TRIGGER_FIRES_ON_ORIGIN);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(
			"WITH RECURSIVE tree(relid) AS ("
			"  SELECT i.inhrelid FROM pg_catalog.pg_inherits AS i"
			"   WHERE i.inhparent OPERATOR(pg_catalog.=) $1"
			"  UNION"
			"  SELECT i.inhrelid FROM pg_catalog.pg_inherits AS i, tree"
			"   WHERE i.inhparent OPERATOR(pg_catalog.=) tree.relid) "
			"SELECT c.relname FROM tree "
			"JOIN pg_catalog.pg_class AS c ON c.oid OPERATOR(pg_catalog.=) tree.relid "
			"WHERE c.relkind OPERATOR(pg_catalog.<>) 'p' "
			"AND NOT EXISTS (SELECT FROM pg_catalog.pg_trigger AS t "
			"  WHERE t.tgrelid OPERATOR(pg_catalog.=) tree.relid "
			"  AND t.tgfoid OPERATOR(pg_catalog.=) $2 "
			"  AND (t.tgtype::pg_catalog.int4 OPERATOR(pg_catalog.&) 24) OPERATOR(pg_catalog.=) 24 "
			"  AND t.tgqual IS NULL "
			"  AND pg_catalog.cardinality(t.tgattr::pg_catalog.int2[]) OPERATOR(pg_catalog.=) 0 "
			"  AND t.tgenabled OPERATOR(pg_catalog.=) ANY (ARRAY['A', $3]::pg_catalog.\"char\"[])) "
			"ORDER BY c.relname LIMIT 1",
			3, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed");
	if (SPI_processed > 0)
		relname = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (relname != NULL)
		relname = MemoryContextStrdup(CurTransactionContext, relname);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	if (relname != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg(rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE ?
						"row versions of partition \"%s\" of table \"%s\" are not being kept" :
						"row versions of child table \"%s\" of table \"%s\" are not being kept",
						relname, RelationGetRelationName(rel)),
				 errdetail("Its trigger \"%s\" is missing or disabled, or does not fire on every UPDATE and DELETE, or not while session_replication_role is \"%s\".",
						   tg->tgname, replica ? "replica" : "origin"),
				 errtable(rel)));
}

/*
 * Refuses a precondition on rel to a caller who may not SELECT its version
 * column: whether its writes pass would tell the version, a few tags at a
 * time.  nsp is the extension's schema.
 */
static void
rv_CheckMayCompareVersions(Relation rel, Oid nsp)
{
	Trigger    *tg = rv_FindVersionTrigger(rel, nsp);
	AttrNumber	attnum = rv_FindColumn(RelationGetDescr(rel), rv_VersionColumnName(tg));

	/* (a trigger made by hand can name no column of the table) */
	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("version column \"%s\" of table \"%s\" does not exist",
						rv_VersionColumnName(tg), RelationGetRelationName(rel)),
				 errhint("Call rowversion.enable() to name the version column again."),
				 errtable(rel)));
	if (!rv_ColumnPrivilege(RelationGetRelid(rel), attnum, ACL_SELECT))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to compare row versions of table \"%s\"",
						RelationGetRelationName(rel)),
				 errdetail("An If-Match precondition compares the row's version, which takes SELECT on column \"%s\".",
						   rv_VersionColumnName(tg)),
				 errtablecol(rel, attnum)));
}

/*
 * Registers header (NULL: none) as the If-Match precondition of table
 * relid for the rest of the transaction, replacing an earlier one.  The
 * caller must be allowed to update or delete rows of the table, and the
 * row trigger of the table and of each of its partitions must check UPDATE
 * and DELETE and fire.  fn_oid is the
 * calling function, whose schema is the extension's.
 */
static void
rv_RegisterPrecondition(Oid relid, text *header, Oid fn_oid)
{
	Relation	rel;
	MemoryContext oldcxt;
	RvPrecondition *p;
	RvCitusKind kind;

	rel = rv_OpenTable(relid, ACL_UPDATE | ACL_DELETE, AccessShareLock,
					   "If-Match preconditions apply to tables whose row versions rowversion.enable() keeps.");

	rv_CheckPreconditionTrigger(rel, get_func_namespace(fn_oid));
	rv_CheckMayCompareVersions(rel, get_func_namespace(fn_oid));

	/* a partition or child whose trigger does not fire would let writes through */
	rv_CheckDescendantTriggers(rel, rv_FindVersionTrigger(rel, get_func_namespace(fn_oid)));

	if (header != NULL && VARSIZE_ANY_EXHDR(header) > RV_MAX_IF_MATCH)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("If-Match header is too long"),
				 errdetail("It has %d bytes; at most %d are accepted.",
						   (int) VARSIZE_ANY_EXHDR(header), RV_MAX_IF_MATCH)));

	/* the lock stays until the transaction ends, as the write's would */
	relation_close(rel, NoLock);

	if (!rv_callbacks_registered)
	{
		RegisterXactCallback(rv_PreconditionXactCallback, NULL);
		RegisterSubXactCallback(rv_PreconditionSubXactCallback, NULL);
		rv_callbacks_registered = true;
	}

	/*
	 * (looked up first: until it is forwarded, a registration for a table
	 * the nodes hold would make the forwarded ones look forged to
	 * rv_CheckForwardedAreOurs() when the lookup's query starts)
	 */
	kind = rv_CitusTableKind(relid);

	/*
	 * Run by a query Citus pushed down to a node, it would register in that
	 * node's backend, which the client's next statement need not reach.
	 */
	if ((kind == RV_CITUS_DISTRIBUTED || kind == RV_CITUS_REFERENCE) &&
		rv_CitusInternalBackend())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("If-Match preconditions cannot be registered inside a query that Citus runs on another node"),
				 errhint("Call rowversion.expect_match() in a statement of its own, on the coordinator.")));

	rv_precondition_nsp = get_func_namespace(fn_oid);
	oldcxt = MemoryContextSwitchTo(TopTransactionContext);
	p = (RvPrecondition *) palloc(sizeof(RvPrecondition));
	p->relid = relid;
	p->subid = GetCurrentSubTransactionId();
	p->header = header ? text_to_cstring(header) : NULL;
	p->len = header ? (int) strlen(p->header) : 0;
	rv_preconditions = lappend(rv_preconditions, p);
	rv_have_preconditions = true;
	MemoryContextSwitchTo(oldcxt);

	/* on Citus, to the nodes that hold the table's rows */
	if (kind == RV_CITUS_DISTRIBUTED || kind == RV_CITUS_REFERENCE)
		rv_ForwardPrecondition(relid, p->header);
}

/*
 * Sets rowversion.preconditions to value here and on the nodes
 * (rv_CitusSetLocal()), as this backend's own: rv_CheckForwardedAreOurs()
 * lets the SET be.
 */
static void
rv_SetForwarded(const char *value)
{
	rv_forwarding = true;
	PG_TRY();
	{
		rv_CitusSetLocal("rowversion.preconditions", value);
	}
	PG_FINALLY();
	{
		rv_forwarding = false;
	}
	PG_END_TRY();
}

/*
 * Sends this backend's forwarded registrations to the nodes again, when a
 * subtransaction committed since (rv_reforward).  Not in a backend serving
 * another node, where they arrived rather than were made.
 */
static void
rv_Reforward(void)
{
	rv_reforward = false;
	if (!rv_have_forwarded || rv_preconditions == NIL ||
		rv_CitusInternalBackend() || !IsTransactionBlock())
		return;
	rv_SetForwarded(pstrdup(rv_forwarded_value));
}

/*
 * Appends one rowversion.preconditions field to buf.
 */
static void
rv_AppendForwardedField(StringInfo buf, const char *field, int len)
{
	appendStringInfo(buf, "%d:", len);
	appendBinaryStringInfo(buf, field, len);
}

/*
 * Forwards the registration of header (NULL: none) for Citus table relid
 * to the nodes that hold its rows: rowversion.preconditions, with any
 * earlier entry for the table replaced, is set for the rest of the
 * transaction on this node and on each node the transaction writes
 * through.
 */
static void
rv_ForwardPrecondition(Oid relid, const char *header)
{
	const char *nsp = get_namespace_name(get_rel_namespace(relid));
	const char *rel = get_rel_name(relid);
	StringInfoData value;
	const char *p = rv_forwarded_value;

	initStringInfo(&value);
	while (p != NULL && *p != '\0')
	{
		const char *start = p;
		RvForwardedEntry e;

		/* (the check hook let only well-formed values in) */
		if (!rv_ReadForwardedEntry(&p, &e))
			break;
		if (e.nsplen == (int) strlen(nsp) && memcmp(e.nsp, nsp, e.nsplen) == 0 &&
			e.rellen == (int) strlen(rel) && memcmp(e.rel, rel, e.rellen) == 0)
			continue;
		appendBinaryStringInfo(&value, start, p - start);
	}
	if (header != NULL)
	{
		rv_AppendForwardedField(&value, nsp, strlen(nsp));
		rv_AppendForwardedField(&value, rel, strlen(rel));
		rv_AppendForwardedField(&value, header, strlen(header));
	}
	rv_SetForwarded(value.data);
}

/*
 * expect_match(tbl, if_match) — registers the client's If-Match header for
 * every row of tbl (partitions included) that the client's UPDATE and
 * DELETE statements change in the rest of the transaction; a NULL header
 * removes it.  Outside a transaction block it would end with its own
 * statement, letting the next write through unchecked: 25P01.
 */
Datum
expect_match(PG_FUNCTION_ARGS)
{
	rv_CheckNotNull(fcinfo, 0, "tbl");
	RequireTransactionBlock(true, "rowversion.expect_match()");
	rv_RegisterPrecondition(PG_GETARG_OID(0),
							PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1),
							fcinfo->flinfo->fn_oid);
	PG_RETURN_VOID();
}

/*
 * Returns the table name that a PostgREST request path names ("/orders"),
 * percent-decoded, or NULL when the path names no table ("/", "/rpc/f").
 */
static char *
rv_PathTableName(const char *path)
{
	StringInfoData name;
	const char *p;

	if (path == NULL || path[0] != '/' || path[1] == '\0')
		return NULL;
	initStringInfo(&name);
	for (p = path + 1; *p != '\0'; p++)
	{
		if (*p == '/')
		{
			/* a trailing slash only */
			if (p[1] != '\0')
				return NULL;
			break;
		}
		if (*p == '%' && isxdigit((unsigned char) p[1]) &&
			isxdigit((unsigned char) p[2]))
		{
			char		hex[3] = {p[1], p[2], '\0'};
			char		c = (char) strtol(hex, NULL, 16);

			if (c == '\0')
				return NULL;
			appendStringInfoChar(&name, c);
			p += 2;
		}
		else
			appendStringInfoChar(&name, *p);
	}
	return name.len > 0 ? name.data : NULL;
}

/*
 * Returns the If-Match header among the request headers that PostgREST
 * sets as a JSON object with lower-case names, or NULL when there is none.
 */
static text *
rv_RequestIfMatch(const char *headers)
{
	Jsonb	   *jb;
	JsonbValue *v;

	if (headers == NULL || headers[0] == '\0')
		return NULL;
	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(headers)));
	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("setting \"request.headers\" is not a JSON object")));
	v = getKeyJsonValueFromContainer(&jb->root, "if-match", strlen("if-match"),
									 NULL);
	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("header \"if-match\" in setting \"request.headers\" is not a JSON string")));
	return cstring_to_text_with_len(v->val.string.val, v->val.string.len);
}

/*
 * postgrest_pre_request() — for PostgREST's db-pre-request: on PATCH, PUT
 * and DELETE with an If-Match header, registers it (as expect_match()
 * does) for the table that the request's path names, in the schema that
 * PostgREST serves the request from (the first one of the search_path it
 * set).  Other requests, and paths that name no table of that schema (RPC
 * calls, unknown names), register nothing.
 */
Datum
postgrest_pre_request(PG_FUNCTION_ARGS)
{
	const char *method = GetConfigOption("request.method", true, false);
	const char *path = GetConfigOption("request.path", true, false);
	text	   *header;
	char	   *relname;
	List	   *search_path;
	Oid			relid;

	if (method == NULL ||
		(strcmp(method, "PATCH") != 0 && strcmp(method, "PUT") != 0 &&
		 strcmp(method, "DELETE") != 0))
		PG_RETURN_VOID();
	header = rv_RequestIfMatch(GetConfigOption("request.headers", true, false));
	relname = rv_PathTableName(path);
	if (header == NULL || relname == NULL)
		PG_RETURN_VOID();

	search_path = fetch_search_path(false);
	if (search_path == NIL)
		PG_RETURN_VOID();
	relid = get_relname_relid(relname, linitial_oid(search_path));
	if (!OidIsValid(relid))
		PG_RETURN_VOID();

	RequireTransactionBlock(true, "rowversion.postgrest_pre_request()");
	rv_RegisterPrecondition(relid, header, fcinfo->flinfo->fn_oid);
	PG_RETURN_VOID();
}
