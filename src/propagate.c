/*-------------------------------------------------------------------------
 *
 * propagate.c
 *	  The triggers behind rowversion.propagate(): after a statement inserts,
 *	  updates or deletes child rows, the version of every parent row those
 *	  children reference (before and after) is bumped, once per parent,
 *	  with the parents locked in key order.
 *
 * rowversion.propagate() creates two triggers on the child, both with the
 * name of the child's foreign key to the parent as their first argument:
 *
 *	 zz_rowversion_propagate_<oid>, BEFORE INSERT OR UPDATE OR DELETE ...
 *	   FOR EACH ROW (cloned onto partitions): propagate_collect() notes the
 *	   key each changed row references, old and new, in a list of pending
 *	   keys for the child table and foreign key.  Named to sort after the
 *	   table's version trigger, it sees the row as the table's other BEFORE
 *	   triggers leave it.
 *
 *	 rv_propagate_<oid>, AFTER INSERT OR UPDATE OR DELETE ... FOR EACH
 *	   STATEMENT (its second argument, the parent's version column, is
 *	   only informative: the parent's row trigger names it at run time),
 *	   on the child and on each of its partitions (PostgreSQL fires only
 *	   the statement triggers of the table a statement names):
 *	   propagate_trigger() takes the pending keys and bumps their parents.
 *	   On Citus tables it is two, rv_propagate_dml_<oid> and
 *	   rv_propagate_truncate_<oid> (AFTER TRUNCATE alone): Citus puts no
 *	   trigger that fires on TRUNCATE on the shards, where rows change.
 *
 * On Citus the row and statement triggers fire on the shard of the child
 * that holds the rows, on the node that holds it, and bump the parent rows
 * in the co-located shard of the parent there: the foreign key is the
 * shard's own, found through the table's (rv_CitusShardForeignKey()).
 *
 * Collecting keys from the rows in C costs far less than capturing whole
 * rows in transition tables and reading them back in SQL.  Consecutive
 * duplicates are noted once, so a statement over many children of one
 * parent notes one key.  Pending keys are kept per child table, foreign key
 * and trigger depth, each row with the subtransaction that noted it.  A
 * statement trigger takes the rows its own subtransaction noted at its
 * depth or deeper: its statement's rows, those of statements that triggers
 * ran inside it and of a foreign key's cascade (whose statement triggers
 * fire with the statement that caused it), but not those of an outer
 * statement still running when a function it calls writes the same child.
 * Rows noted in a subtransaction that rolls back are dropped with it; rows
 * that no statement trigger took (a statement naming a partition made after
 * propagate()) fail the commit rather than leave parents unbumped.  A key
 * noted for a row that is then not stored (a later BEFORE trigger skipped
 * it, or INSERT ... ON CONFLICT DO NOTHING) bumps its parent needlessly,
 * never too little -- unless a BEFORE trigger named to sort after this one
 * changes the key.  Foreign keys over generated columns, which BEFORE
 * triggers cannot see, are refused by propagate().
 *
 * The bump is a touch that claims the parent's current version
 * (SET v = v), so the parent's own row trigger assigns the next version and
 * require_version is satisfied; a parent that propagates further up
 * collects its own keys in turn, so chains reach the root.  The bump runs
 * as the role whose statement changed the children, with its rights
 * (see propagate_trigger()): the writer of a child needs UPDATE on the
 * parent's version column, and gains nothing by writing the child that it
 * could not do by touching the parent itself.
 *
 *-------------------------------------------------------------------------
 */
#include "rowversion.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(propagate_collect);
PG_FUNCTION_INFO_V1(propagate_trigger);

/*
 * Keys noted for one child table (the one propagate() was called on),
 * foreign key and trigger depth, waiting for the statement trigger: nrows
 * rows of nkeys values each, and the subtransaction that noted each row.
 * The foreign key is its constraint's OID, not its name: a foreign key
 * dropped and created again under the same name, perhaps over columns of
 * other types, is another one, whose keys go to a list of their own, and
 * the rows of a list are always of the types it records.  The role is the
 * current user when the rows changed: the bump runs with the rights of
 * whoever takes the keys, so a role takes only the keys its own statements
 * noted -- never those of a less privileged caller whose statement is
 * still running around a SECURITY DEFINER function -- and, at a greater
 * depth, those a role noted as the owner of the table (or partition) the
 * rows are in, as PostgreSQL runs a foreign key's cascade as the owner of
 * the referencing table and fires its statement triggers with the
 * statement that caused it.
 * The trigger depth tells a statement from one that a trigger runs inside
 * it: both the row and the statement triggers of a statement run at the
 * same depth, so each statement takes its own keys.
 */
typedef struct RvPendingKeys
{
	Oid			relid;
	Oid			conoid;			/* the foreign key they were noted for */
	NameData	fkname;			/* its name then, for messages */
	Oid			userid;			/* the role whose statement changed the rows */
	bool		as_owner;		/* whether it owns the table they are in */
	int			depth;
	MemoryContext cxt;			/* the rows; reset when they are taken */
	int			nkeys;
	Oid			types[INDEX_MAX_KEYS];	/* the child's key column types,
										 * fixed when the list is made */
	int16		typlen[INDEX_MAX_KEYS];
	bool		typbyval[INDEX_MAX_KEYS];
	char		typalign[INDEX_MAX_KEYS];
	int			nrows;
	int			maxrows;
	Datum	   *values;
	SubTransactionId *subids;
} RvPendingKeys;

/* the transaction's pending keys, in TopTransactionContext */
static List *rv_pending_keys = NIL;

/*
 * A child table and foreign key whose parents were all bumped in this
 * transaction (by a TRUNCATE of the child), and the subtransaction that did
 * it.  Other clients see only what commits, so once every parent has a
 * version of this transaction, a further TRUNCATE of the same child -- the
 * statement triggers of each partition of a truncated partitioned table,
 * for one -- need not bump them again.
 */
typedef struct RvBumpedAll
{
	Oid			relid;
	Oid			conoid;
	SubTransactionId subid;
} RvBumpedAll;

static List *rv_bumped_all = NIL;	/* of RvBumpedAll, TopTransactionContext */
static bool rv_callbacks_registered = false;

/*
 * A collecting trigger's foreign key, resolved against the relation it
 * fires on (a partition's column numbers differ from its table's).  Lives
 * in fn_extra, so for one statement.
 */
typedef struct RvCollectInfo
{
	Oid			tgoid;
	Oid			relid;
	int			nkeys;
	AttrNumber	attnums[INDEX_MAX_KEYS];
	RvPendingKeys *pending;
} RvCollectInfo;

/*
 * At commit, refuses keys that no statement trigger took: rows changed by
 * statements naming a partition created or attached after propagate(),
 * which has no statement trigger.  Their parents would keep their versions.
 * At the end of the transaction, forgets everything.
 */
static void
rv_PendingKeysXactCallback(XactEvent event, void *arg)
{
	ListCell   *lc;

	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			foreach(lc, rv_pending_keys)
			{
				RvPendingKeys *pk = (RvPendingKeys *) lfirst(lc);

				char	   *relname = get_rel_name(pk->relid);

				/* (a child dropped since has no rows left to speak for) */
				if (pk->nrows == 0 || relname == NULL)
					continue;
				if (!SearchSysCacheExists1(CONSTROID, ObjectIdGetDatum(pk->conoid)))
					ereport(ERROR,
							(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							 errmsg("changes to table \"%s\" were not propagated through foreign key \"%s\"",
									relname, NameStr(pk->fkname)),
							 errdetail("The foreign key was dropped after they were made.")));
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("changes to table \"%s\" were not propagated through foreign key \"%s\"",
								relname, NameStr(pk->fkname)),
						 errdetail("No statement trigger of rowversion.propagate() ran for them, as on a partition created or attached after it was called."),
						 errhint("Call rowversion.propagate() again.")));
			}
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			rv_pending_keys = NIL;
			rv_bumped_all = NIL;
			break;
		default:
			break;
	}
}

/*
 * Empties pk, freeing the rows' memory.
 */
static void
rv_ResetPendingKeys(RvPendingKeys *pk)
{
	MemoryContextReset(pk->cxt);
	pk->nrows = 0;
	pk->maxrows = 0;
	pk->values = NULL;
	pk->subids = NULL;
}

/*
 * Forgets the keys of rows that a rolled-back subtransaction changed, and
 * hands those of one that commits to its parent.
 */
static void
rv_PendingKeysSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
							  SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	if (event != SUBXACT_EVENT_ABORT_SUB && event != SUBXACT_EVENT_COMMIT_SUB)
		return;

	foreach(lc, rv_bumped_all)
	{
		RvBumpedAll *b = (RvBumpedAll *) lfirst(lc);

		if (b->subid != mySubid)
			continue;
		if (event == SUBXACT_EVENT_COMMIT_SUB)
			b->subid = parentSubid;
		else
			rv_bumped_all = foreach_delete_current(rv_bumped_all, lc);
	}

	/*
	 * Rows are noted in time order, and those of a subtransaction's own
	 * children have been dropped or handed to it when they ended: its rows
	 * are the last ones of each list.
	 */
	foreach(lc, rv_pending_keys)
	{
		RvPendingKeys *pk = (RvPendingKeys *) lfirst(lc);
		int			r = pk->nrows;

		while (r > 0 && pk->subids[r - 1] == mySubid)
		{
			r--;
			if (event == SUBXACT_EVENT_COMMIT_SUB)
				pk->subids[r] = parentSubid;
		}
		if (event == SUBXACT_EVENT_ABORT_SUB)
		{
			pk->nrows = r;
			if (r == 0)
				rv_ResetPendingKeys(pk);
		}
	}
}

/*
 * Registers the transaction callbacks that keep rv_pending_keys and
 * rv_bumped_all, once per backend.
 */
static void
rv_RegisterCallbacks(void)
{
	if (rv_callbacks_registered)
		return;
	RegisterXactCallback(rv_PendingKeysXactCallback, NULL);
	RegisterSubXactCallback(rv_PendingKeysSubXactCallback, NULL);
	rv_callbacks_registered = true;
}

/*
 * Returns the pending keys of child table relid, foreign key conoid (named
 * fkname, over nkeys columns of types types), role userid and trigger
 * depth, made empty when there are none yet.
 */
static RvPendingKeys *
rv_GetPendingKeys(Oid relid, Oid conoid, const char *fkname, Oid userid,
				  bool as_owner, int depth, int nkeys, const Oid *types)
{
	ListCell   *lc;
	RvPendingKeys *pk;
	MemoryContext oldcxt;
	int			i;

	foreach(lc, rv_pending_keys)
	{
		pk = (RvPendingKeys *) lfirst(lc);
		if (pk->relid != relid || pk->conoid != conoid ||
			pk->userid != userid || pk->as_owner != as_owner || pk->depth != depth)
			continue;
		/* a constraint's columns never change type while it exists */
		if (pk->nkeys != nkeys ||
			memcmp(pk->types, types, sizeof(Oid) * nkeys) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("foreign key \"%s\" of table \"%s\" changed during the transaction",
							fkname, get_rel_name(relid))));
		return pk;
	}

	rv_RegisterCallbacks();
	oldcxt = MemoryContextSwitchTo(TopTransactionContext);
	pk = (RvPendingKeys *) palloc0(sizeof(RvPendingKeys));
	pk->relid = relid;
	pk->conoid = conoid;
	namestrcpy(&pk->fkname, fkname);
	pk->userid = userid;
	pk->as_owner = as_owner;
	pk->depth = depth;
	pk->nkeys = nkeys;
	for (i = 0; i < nkeys; i++)
	{
		pk->types[i] = types[i];
		get_typlenbyvalalign(types[i], &pk->typlen[i], &pk->typbyval[i],
							 &pk->typalign[i]);
	}
	pk->cxt = AllocSetContextCreate(TopTransactionContext, "rowversion pending keys",
									ALLOCSET_DEFAULT_SIZES);
	rv_pending_keys = lappend(rv_pending_keys, pk);
	MemoryContextSwitchTo(oldcxt);
	return pk;
}


/*
 * Returns the OID of the constraint that foreign key fkname of child table
 * relid is, or InvalidOid.  On a Citus shard, whose constraints carry the
 * shard's ID in their names, it is the shard's foreign key that stands for
 * the table's fkname (rv_CitusShardForeignKey()).
 */
static Oid
rv_ForeignKeyOid(Oid relid, const char *fkname)
{
	Oid			conoid = get_relation_constraint_oid(relid, fkname, true);

	if (!OidIsValid(conoid) && rv_CitusLoaded())
	{
		Relation	rel = relation_open(relid, AccessShareLock);

		conoid = rv_CitusShardForeignKey(rel, fkname);
		relation_close(rel, AccessShareLock);
	}
	return conoid;
}

/*
 * Returns the foreign key fkname of child table relid as its pg_constraint
 * row (the caller releases it), or raises an error naming rel.
 */
static HeapTuple
rv_FindForeignKey(Oid relid, const char *fkname, Relation rel)
{
	Oid			conoid = rv_ForeignKeyOid(relid, fkname);
	HeapTuple	contup = OidIsValid(conoid) ?
		SearchSysCache1(CONSTROID, ObjectIdGetDatum(conoid)) : NULL;

	/* by name: names survive dump and restore, OIDs not */
	if (!HeapTupleIsValid(contup) ||
		((Form_pg_constraint) GETSTRUCT(contup))->contype != CONSTRAINT_FOREIGN)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("foreign key \"%s\" of table \"%s\" does not exist",
						fkname, get_rel_name(relid)),
				 errhint("Call rowversion.stop_propagating() and rowversion.propagate() again."),
				 errtable(rel)));
	return contup;
}

/*
 * Refuses a trigger on rel that propagate() did not make: its triggers
 * carry nargs arguments (the foreign key's name, then for the statement
 * trigger the parent's version column).
 */
static void
rv_CheckPropagateArguments(Trigger *tg, Relation rel, int nargs)
{
	if (tg->tgnargs != nargs)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("trigger \"%s\" on table \"%s\" was not created by rowversion.propagate()",
						tg->tgname, RelationGetRelationName(rel)),
				 errhint("Call rowversion.propagate() to create it.")));
}

/*
 * Returns the collecting trigger's foreign key resolved against the
 * relation it fires on, parsed on the statement's first row.
 */
static RvCollectInfo *
rv_GetCollectInfo(FunctionCallInfo fcinfo, TriggerData *trigdata)
{
	Trigger    *tg = trigdata->tg_trigger;
	Relation	rel = trigdata->tg_relation;
	Oid			relid = RelationGetRelid(rel);
	RvCollectInfo *info = (RvCollectInfo *) fcinfo->flinfo->fn_extra;
	Oid			root = relid;
	HeapTuple	contup;
	AttrNumber	fkattnums[INDEX_MAX_KEYS];
	AttrNumber	pkattnums[INDEX_MAX_KEYS];
	Oid			pfeqops[INDEX_MAX_KEYS];
	Oid			types[INDEX_MAX_KEYS];
	Oid			conoid;
	int			nkeys;
	int			i;

	/* (pending keys live as long as the transaction, fn_extra shorter) */
	if (info != NULL && info->tgoid == tg->tgoid && info->relid == relid &&
		info->pending->userid == GetUserId() &&
		info->pending->as_owner == (rel->rd_rel->relowner == GetUserId()))
		return info;

	rv_CheckPropagateArguments(tg, rel, 1);

	/* keys are noted for the table propagate() was called on */
	if (rel->rd_rel->relispartition)
		root = llast_oid(get_partition_ancestors(relid));
	contup = rv_FindForeignKey(root, tg->tgargs[0], rel);
	conoid = ((Form_pg_constraint) GETSTRUCT(contup))->oid;
	rv_DeconstructFk(contup, &nkeys, fkattnums, pkattnums, pfeqops);
	ReleaseSysCache(contup);

	info = (RvCollectInfo *) MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt,
													sizeof(RvCollectInfo));
	info->tgoid = tg->tgoid;
	info->relid = relid;
	info->nkeys = nkeys;
	for (i = 0; i < nkeys; i++)
	{
		char	   *attname = get_attname(root, fkattnums[i], false);

		info->attnums[i] = root == relid ? fkattnums[i] : get_attnum(relid, attname);
		if (info->attnums[i] == InvalidAttrNumber)
			elog(ERROR, "column \"%s\" of relation \"%s\" not found",
				 attname, RelationGetRelationName(rel));
		types[i] = get_atttype(root, fkattnums[i]);
	}
	info->pending = rv_GetPendingKeys(root, conoid, tg->tgargs[0], GetUserId(),
									  rel->rd_rel->relowner == GetUserId(),
									  rv_TriggerDepth(), nkeys, types);
	fcinfo->flinfo->fn_extra = info;
	return info;
}

/*
 * Notes the key that tuple references, unless a column of it is NULL (the
 * row references no parent) or it is the key noted last.  Rows beyond what
 * one palloc() takes are allowed; the statement trigger passes them as
 * arrays, up to what an array holds (54000 past that).
 */
static void
rv_NoteKey(RvCollectInfo *info, Relation rel, HeapTuple tuple)
{
	RvPendingKeys *pk = info->pending;
	TupleDesc	desc = RelationGetDescr(rel);
	Datum		values[INDEX_MAX_KEYS];
	bool		same = pk->nrows > 0;
	MemoryContext oldcxt;
	int			i;

	for (i = 0; i < info->nkeys; i++)
	{
		bool		isnull;

		values[i] = heap_getattr(tuple, info->attnums[i], desc, &isnull);
		if (isnull)
			return;
		if (same)
			same = datumIsEqual(values[i],
								pk->values[(pk->nrows - 1) * pk->nkeys + i],
								pk->typbyval[i], pk->typlen[i]);
	}
	if (same)
		return;

	oldcxt = MemoryContextSwitchTo(pk->cxt);
	if (pk->nrows == pk->maxrows)
	{
		Size		n = pk->maxrows == 0 ? 64 : (Size) pk->maxrows * 2;

		if (n > INT_MAX / INDEX_MAX_KEYS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many parent rows to propagate to in one statement")));
		pk->values = pk->values == NULL ?
			(Datum *) MemoryContextAllocHuge(pk->cxt, sizeof(Datum) * n * pk->nkeys) :
			(Datum *) repalloc_huge(pk->values, sizeof(Datum) * n * pk->nkeys);
		pk->subids = pk->subids == NULL ?
			(SubTransactionId *) MemoryContextAllocHuge(pk->cxt, sizeof(SubTransactionId) * n) :
			(SubTransactionId *) repalloc_huge(pk->subids, sizeof(SubTransactionId) * n);
		pk->maxrows = (int) n;
	}
	for (i = 0; i < info->nkeys; i++)
		pk->values[pk->nrows * pk->nkeys + i] =
			datumCopy(values[i], pk->typbyval[i], pk->typlen[i]);
	pk->subids[pk->nrows] = GetCurrentSubTransactionId();
	pk->nrows++;
	MemoryContextSwitchTo(oldcxt);
}

/*
 * propagate_collect() — BEFORE INSERT, UPDATE or DELETE ... FOR EACH ROW
 * on a child table (and its partitions): notes the parent key of the new
 * row and, when it differs or the row is deleted, of the old one.  Returns
 * the row unchanged.
 */
Datum
propagate_collect(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	RvCollectInfo *info;
	Relation	rel;

	rv_CheckTriggerCall(fcinfo, "propagate_collect", true, "BEFORE ... FOR EACH ROW");

	/*
	 * Rows Citus copies into a shard it is making (before the shard has
	 * its foreign keys) are the table's rows as they were: no parent
	 * changed.
	 */
	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) &&
		trigdata->tg_relation->rd_createSubid != InvalidSubTransactionId &&
		rv_CitusFillsNewShard(trigdata->tg_relation))
		return PointerGetDatum(trigdata->tg_trigtuple);

	info = rv_GetCollectInfo(fcinfo, trigdata);
	rel = trigdata->tg_relation;

	if (!TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		rv_NoteKey(info, rel, trigdata->tg_trigtuple);
		return PointerGetDatum(trigdata->tg_trigtuple);
	}

	/* UPDATE: the new parent, then the old one if the key moved */
	rv_NoteKey(info, rel, trigdata->tg_newtuple);
	rv_NoteKey(info, rel, trigdata->tg_trigtuple);
	return PointerGetDatum(trigdata->tg_newtuple);
}

/*
 * Appends "p.<parent key> = k.k1 AND ..." with the foreign key's own
 * equality operators, schema-qualified and cast as ri_triggers.c does;
 * fktypes are the types of the child's key columns.
 */
static void
rv_AppendJoinQual(StringInfo buf, Oid parentid, int nkeys,
				  const AttrNumber *pkattnums, const Oid *pfeqops,
				  const Oid *fktypes)
{
	int			i;

	for (i = 0; i < nkeys; i++)
	{
		char	   *pkname = get_attname(parentid, pkattnums[i], false);
		StringInfoData left;
		char		right[32];

		initStringInfo(&left);
		appendStringInfo(&left, "p.%s", quote_identifier(pkname));
		snprintf(right, sizeof(right), "k.k%d", i + 1);
		if (i > 0)
			appendStringInfoString(buf, " AND ");
		generate_operator_clause(buf, left.data,
								 get_atttype(parentid, pkattnums[i]),
								 pfeqops[i], right, fktypes[i]);
	}
}

/*
 * Returns the owner of relation relid.
 */
static Oid
rv_RelOwner(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

/*
 * Returns whether a statement trigger at trigger depth depth, running as
 * userid on child table relid, takes the keys in pk for foreign key
 * conoid: those its role noted at its depth or deeper, and those noted
 * deeper by the owner of the table the rows are in (a cascade's).
 */
static inline bool
rv_PendingKeysFor(const RvPendingKeys *pk, Oid relid, Oid conoid, int depth,
				  Oid userid)
{
	return pk->relid == relid && pk->conoid == conoid &&
		((pk->userid == userid && pk->depth >= depth) ||
		 (pk->as_owner && pk->depth > depth));
}

/*
 * Returns a list of pending keys that holds rows and that a statement
 * trigger takes (rv_PendingKeysFor), or NULL.
 */
static RvPendingKeys *
rv_FindAnyPendingKeys(Oid relid, Oid conoid, int depth, Oid userid)
{
	ListCell   *lc;

	foreach(lc, rv_pending_keys)
	{
		RvPendingKeys *pk = (RvPendingKeys *) lfirst(lc);

		if (pk->nrows > 0 &&
			rv_PendingKeysFor(pk, relid, conoid, depth, userid))
			return pk;
	}
	return NULL;
}

/*
 * Takes the rows that the current subtransaction noted in the lists that
 * a statement trigger takes (rv_PendingKeysFor), and returns their number;
 * args gets one array per key column, of the key column types that like
 * (one of those lists, all of which record the same) records.  The lists
 * keep their other rows.
 */
static int
rv_TakePendingKeys(Oid relid, Oid conoid, int depth, Oid userid,
				   const RvPendingKeys *like, Datum *args)
{
	SubTransactionId current = GetCurrentSubTransactionId();
	int			nkeys = like->nkeys;
	int			total = 0;
	Datum	   *columns[INDEX_MAX_KEYS];
	ListCell   *lc;
	int			i;

	foreach(lc, rv_pending_keys)
	{
		RvPendingKeys *pk = (RvPendingKeys *) lfirst(lc);

		if (rv_PendingKeysFor(pk, relid, conoid, depth, userid))
			total += pk->nrows;
	}
	for (i = 0; i < nkeys; i++)
		columns[i] = (Datum *) MemoryContextAllocHuge(CurrentMemoryContext,
													  sizeof(Datum) * Max(total, 1));

	total = 0;
	foreach(lc, rv_pending_keys)
	{
		RvPendingKeys *pk = (RvPendingKeys *) lfirst(lc);
		int			first = pk->nrows;
		int			r;

		if (!rv_PendingKeysFor(pk, relid, conoid, depth, userid))
			continue;
		/* this subtransaction's rows are the last ones (see above) */
		while (first > 0 && pk->subids[first - 1] == current)
			first--;
		for (r = first; r < pk->nrows; r++, total++)
			for (i = 0; i < nkeys; i++)
				columns[i][total] = pk->values[r * nkeys + i];
		/* (the arrays below copy the values before the lists are reset) */
		pk->nrows = first;
	}

	for (i = 0; total > 0 && i < nkeys; i++)
		args[i] = PointerGetDatum(construct_array(columns[i], total, like->types[i],
												  like->typlen[i], like->typbyval[i],
												  like->typalign[i]));
	foreach(lc, rv_pending_keys)
	{
		RvPendingKeys *pk = (RvPendingKeys *) lfirst(lc);

		if (pk->relid == relid && pk->nrows == 0 && pk->values != NULL)
			rv_ResetPendingKeys(pk);
	}
	return total;
}

/*
 * Appends "ROWS FROM (pg_catalog.unnest($1), ...) AS k(k1, ...)": the
 * pending keys, passed as one array per key column.  (Qualified, like
 * every name in the statements of the bump, which run under the writer's
 * search_path.)
 */
static void
rv_AppendPendingKeys(StringInfo buf, int nkeys)
{
	int			i;

	appendStringInfoString(buf, "ROWS FROM (");
	for (i = 0; i < nkeys; i++)
		appendStringInfo(buf, "%spg_catalog.unnest($%d)", i > 0 ? ", " : "", i + 1);
	appendStringInfoString(buf, ") AS k(");
	for (i = 0; i < nkeys; i++)
		appendStringInfo(buf, "%sk%d", i > 0 ? ", " : "", i + 1);
	appendStringInfoString(buf, ")");
}

/*
 * Refuses a bump that the current user may not make themselves: it needs
 * UPDATE and SELECT on the parent's version column (vattnum) and SELECT on
 * the parent's referenced columns, as the statement "UPDATE parent SET v
 * = v WHERE key = ..." would.
 */
static void
rv_CheckBumpPrivileges(Oid childid, Relation parent, AttrNumber vattnum,
					   int nkeys, const AttrNumber *pkattnums)
{
	Oid			parentid = RelationGetRelid(parent);
	bool		ok;
	int			i;

	ok = rv_ColumnPrivilege(parentid, vattnum, ACL_UPDATE) &&
		rv_ColumnPrivilege(parentid, vattnum, ACL_SELECT);
	for (i = 0; ok && i < nkeys; i++)
		ok = rv_ColumnPrivilege(parentid, pkattnums[i], ACL_SELECT);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to propagate from table \"%s\" to table \"%s\"",
						get_rel_name(childid), RelationGetRelationName(parent)),
				 errdetail("A change to table \"%s\" updates the version of the rows it references in table \"%s\", with the rights of the role that makes it.",
						   get_rel_name(childid), RelationGetRelationName(parent)),
				 errhint("Grant UPDATE and SELECT on column \"%s\" and SELECT on the referenced columns of table \"%s\" to the roles that write table \"%s\".",
						 NameStr(TupleDescAttr(RelationGetDescr(parent), vattnum - 1)->attname),
						 RelationGetRelationName(parent), get_rel_name(childid)),
				 errtable(parent)));
}

/*
 * Returns the number of rows that query (a count of the parent rows the
 * keys in args reference) finds, run as the parent's owner ownerid so that
 * no row-level security policy hides one.  Runs as PostgreSQL's
 * maintenance commands run a table owner's code: a restricted operation,
 * in a GUC nest level of its own with search_path pinned to pg_catalog and
 * pg_temp (the query names everything qualified; nothing the caller put in
 * a schema or in pg_temp is looked up).  The query only reads: it fires no
 * trigger and evaluates only the foreign key's own equality operators.
 */
static int64
rv_CountAsOwner(Oid ownerid, const char *query, int nargs, Oid *argtypes,
				Datum *args)
{
	RvAsOwner	save;
	bool		isnull;
	int64		count;

	rv_BeginAsOwner(ownerid, SECURITY_NOFORCE_RLS, &save);

	if (SPI_execute_with_args(query, nargs, argtypes, args, NULL, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "SPI_execute_with_args failed: %s", query);
	count = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										SPI_tuptable->tupdesc, 1, &isnull));

	rv_EndAsOwner(&save);
	return count;
}

/*
 * What a bump needs to know of the parent, resolved once per statement.
 */
typedef struct RvBump
{
	char	   *childname;		/* the table propagate() was called on */
	Oid			parentid;
	char	   *parentname;
	Oid			parentowner;
	char	   *target;			/* "[ONLY] schema.parent AS p"; a shard's */
	const char *vcol;			/* the parent's version column, quoted */
	char	   *orderby;		/* "p.k1, p.k2": the parent's key order */
	bool		rls;			/* row-level security applies to the writer */
} RvBump;

/*
 * Returns the name that messages give table relid: on Citus, for a shard,
 * the name of its table (rv_TableName()).
 */
static char *
rv_TableNameOf(Oid relid)
{
	Relation	rel;
	char	   *name;

	if (!rv_CitusLoaded())
		return get_rel_name(relid);
	rel = relation_open(relid, AccessShareLock);
	name = pstrdup(rv_TableName(rel));
	relation_close(rel, AccessShareLock);
	return name;
}

/*
 * Fills *bump for foreign key contup of child table root, refusing a bump
 * the current user may not make (rv_CheckBumpPrivileges), one through a
 * child whose owner lacks the rights of the parent's owner (the trigger
 * functions can be attached to any table by anyone, and propagate()
 * requires it), and one to a parent that no longer keeps row versions.
 * Returns the parent's key columns in pkattnums and pfeqops.
 */
static void
rv_PrepareBump(FunctionCallInfo fcinfo, Oid root, Oid childowner,
			   HeapTuple contup, RvBump *bump, int *nkeys,
			   AttrNumber *pkattnums, Oid *pfeqops)
{
	Oid			parentid = ((Form_pg_constraint) GETSTRUCT(contup))->confrelid;
	AttrNumber	fkattnums[INDEX_MAX_KEYS];
	Relation	parent;
	Trigger    *vtrigger;
	AttrNumber	vattnum;
	StringInfoData buf;
	int			i;

	rv_DeconstructFk(contup, nkeys, fkattnums, pkattnums, pfeqops);
	bump->childname = rv_TableNameOf(root);
	bump->parentid = parentid;
	bump->parentname = rv_TableNameOf(parentid);
	bump->parentowner = rv_RelOwner(parentid);
	if (!has_privs_of_role(childowner, bump->parentowner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to propagate from table \"%s\" to table \"%s\"",
						bump->childname, bump->parentname),
				 errdetail("The owner of the child table must have the privileges of the owner of the parent table.")));

	/* only the parent's real version column, as its row trigger names it now */
	parent = table_open(parentid, AccessShareLock);
	vtrigger = rv_FindVersionTrigger(parent, get_func_namespace(fcinfo->flinfo->fn_oid));
	if (vtrigger == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot propagate to table \"%s\" because it does not keep row versions",
						bump->parentname),
				 errhint("Call rowversion.enable() on it, or rowversion.stop_propagating() on table \"%s\".",
						 bump->childname)));
	vattnum = rv_FindColumn(RelationGetDescr(parent), rv_VersionColumnName(vtrigger));
	if (vattnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("version column \"%s\" of table \"%s\" does not exist",
						rv_VersionColumnName(vtrigger), bump->parentname),
				 errhint("Call rowversion.enable() to name the version column again."),
				 errtable(parent)));
	rv_CheckBumpPrivileges(root, parent, vattnum, *nkeys, pkattnums);
	bump->rls = check_enable_rls(parentid, InvalidOid, true) == RLS_ENABLED;
	bump->vcol = quote_identifier(pstrdup(rv_VersionColumnName(vtrigger)));
	bump->target = psprintf("%s%s AS p",
							parent->rd_rel->relkind == RELKIND_PARTITIONED_TABLE ? "" : "ONLY ",
							quote_qualified_identifier(get_namespace_name(RelationGetNamespace(parent)),
													   RelationGetRelationName(parent)));
	table_close(parent, NoLock);

	initStringInfo(&buf);
	for (i = 0; i < *nkeys; i++)
		appendStringInfo(&buf, "%sp.%s", i > 0 ? ", " : "",
						 quote_identifier(get_attname(parentid, pkattnums[i], false)));
	bump->orderby = buf.data;
}

/*
 * Bumps the version of the parent rows that where (a condition on "p", with
 * parameters args) selects, as the current user: locks them in key order
 * first, so that two statements that touch children of the same parents
 * wait for each other instead of deadlocking, then touches each once.
 * With citus, the parent is a Citus table, not a shard, and the UPDATE
 * alone locks and touches the rows.  Under row-level security, parent rows
 * the user's policies hide from the lock are refused, not skipped (counted
 * as the parent's owner, rv_CountAsOwner).
 */
static void
rv_BumpParents(RvBump *bump, const char *where, int nargs, Oid *argtypes,
			   Datum *args, bool citus)
{
	char	   *sql;
	uint64		nlocked;
	bool		updated = false;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	if (citus)
	{
		/*
		 * A Citus table (the bump of a TRUNCATE, on the node that runs it):
		 * Citus locks no rows of several shards with FOR UPDATE, but its
		 * UPDATE locks them, and it detects deadlocks between nodes.
		 */
		sql = psprintf("UPDATE %s SET %s = p.%s WHERE %s",
					   bump->target, bump->vcol, bump->vcol, where);
		if (SPI_execute_with_args(sql, nargs, argtypes, args, NULL, false, 0) < 0)
			elog(ERROR, "SPI_execute_with_args failed: %s", sql);
		updated = true;
	}
	else
	{
		sql = psprintf("SELECT 1 FROM %s WHERE %s ORDER BY %s FOR NO KEY UPDATE OF p",
					   bump->target, where, bump->orderby);
		if (SPI_execute_with_args(sql, nargs, argtypes, args, NULL, false, 0) < 0)
			elog(ERROR, "SPI_execute_with_args failed: %s", sql);
	}
	nlocked = SPI_processed;

	if (bump->rls &&
		(uint64) rv_CountAsOwner(bump->parentowner,
								 psprintf("SELECT pg_catalog.count(*) FROM %s WHERE %s",
										  bump->target, where),
								 nargs, argtypes, args) > nlocked)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to propagate from table \"%s\" to table \"%s\"",
						bump->childname, bump->parentname),
				 strcmp(where, "true") == 0 ?
				 errdetail("Truncating bumps every row of table \"%s\", and row-level security does not let the current user update them all.",
						   bump->parentname) :
				 errdetail("Row-level security does not let the current user update a row of table \"%s\" that the change references.",
						   bump->parentname)));

	if (nlocked > 0 && !updated)
	{
		/* (a rule on the parent may turn it into something else) */
		sql = psprintf("UPDATE %s SET %s = p.%s WHERE %s",
					   bump->target, bump->vcol, bump->vcol, where);
		if (SPI_execute_with_args(sql, nargs, argtypes, args, NULL, false, 0) < 0)
			elog(ERROR, "SPI_execute_with_args failed: %s", sql);
	}

	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
}

/*
 * Bumps every parent row of foreign key conoid of child table root, as a
 * TRUNCATE of the child asks (see RvBumpedAll), unless this transaction
 * has done so already.
 */
static void
rv_BumpAllParents(Oid root, Oid conoid, RvBump *bump)
{
	ListCell   *lc;
	RvBumpedAll *b;
	MemoryContext oldcxt;

	foreach(lc, rv_bumped_all)
	{
		b = (RvBumpedAll *) lfirst(lc);
		if (b->relid == root && b->conoid == conoid)
			return;
	}
	/* (a Citus table here is the table, not a shard: a TRUNCATE's bump) */
	rv_BumpParents(bump, "true", 0, NULL, NULL,
				   rv_CitusTableKind(bump->parentid) != RV_CITUS_NONE);

	rv_RegisterCallbacks();
	oldcxt = MemoryContextSwitchTo(TopTransactionContext);
	b = (RvBumpedAll *) palloc(sizeof(RvBumpedAll));
	b->relid = root;
	b->conoid = conoid;
	b->subid = GetCurrentSubTransactionId();
	rv_bumped_all = lappend(rv_bumped_all, b);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * Refuses a statement through child, a table with inheritance children
 * (made one after propagate(), which refuses them): it may change rows the
 * row trigger never sees.
 */
static void
rv_CheckNoInheritanceChildren(Relation child)
{
	if (child->rd_rel->relkind == RELKIND_RELATION && child->rd_rel->relhassubclass &&
		find_inheritance_children(RelationGetRelid(child), NoLock) != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot propagate from table \"%s\" because it has inheritance children",
						RelationGetRelationName(child)),
				 errdetail("Changes to rows stored in its inheritance children would not bump their parents."),
				 errhint("Propagate from each child table through a foreign key of its own."),
				 errtable(child)));
}

/*
 * Returns whether a statement trigger firing for event on rel is to act:
 * not for TRUNCATE on a Citus shard, where the table's own trigger bumps
 * every parent row, on the node that runs the TRUNCATE.  Citus creates and
 * drops triggers on shards with the table's, except those that fire on
 * TRUNCATE: it makes none on shards, nor drops them there, yet copies them
 * with a table's rows when it makes the table's shards or moves one.  Such
 * a copy outlives stop_propagating(), and propagate() made before the table
 * was distributed has one; for INSERT, UPDATE and DELETE it takes the keys
 * that the shard's row trigger notes (none once the propagation stops) as
 * the shard's own statement trigger would.
 */
static bool
rv_ShardTriggerActs(Relation rel, TriggerEvent event)
{
	RvCitusKind kind;

	return !TRIGGER_FIRED_BY_TRUNCATE(event) || !rv_CitusLoaded() ||
		!OidIsValid(rv_CitusShardOf(rel, &kind));
}

/*
 * propagate_trigger() — AFTER INSERT, UPDATE, DELETE or TRUNCATE ... FOR
 * EACH STATEMENT on a child table: takes the keys that propagate_collect()
 * noted and bumps the version of each parent row they reference, once,
 * parents locked in key order.  TRUNCATE, which fires no row trigger,
 * bumps every parent row: a needless bump where a parent had no child,
 * never a missed one (a statement that truncates the parent too leaves
 * none to bump).
 *
 * The bump runs as the current user -- the role whose statement changed
 * the children -- with that role's privileges, search_path and row-level
 * security, exactly as if it had run "UPDATE parent SET v = v WHERE key =
 * ..." itself: it needs UPDATE on the parent's version column, and the
 * parent's triggers, index expressions and domain checks run in its name.
 * So nothing a writer controls (its search_path, pg_temp, schemas it owns)
 * can make code run with rights it does not have.  When row-level
 * security applies to the writer on the parent, a referenced parent row
 * that its policies do not let it update is not skipped: the change is
 * refused (42501), so the writer can neither bump another tenant's row nor
 * leave a row's version behind its aggregate.
 */
Datum
propagate_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Trigger    *tg;
	Relation	child;
	Oid			root;
	Oid			childowner;
	Oid			userid;
	Oid			conoid;
	HeapTuple	contup;
	RvPendingKeys *pk = NULL;
	RvBump		bump;
	int			nkeys;
	AttrNumber	pkattnums[INDEX_MAX_KEYS];
	Oid			pfeqops[INDEX_MAX_KEYS];
	Oid			argtypes[INDEX_MAX_KEYS];
	Datum		args[INDEX_MAX_KEYS];
	StringInfoData where;
	int			depth;
	int			i;

	rv_CheckTriggerCall(fcinfo, "propagate_trigger", false,
						"AFTER INSERT, UPDATE or DELETE ... FOR EACH STATEMENT");
	tg = trigdata->tg_trigger;
	child = trigdata->tg_relation;
	rv_CheckPropagateArguments(tg, child, 2);

	if (!rv_ShardTriggerActs(child, trigdata->tg_event))
		return PointerGetDatum(NULL);
	if (!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		rv_CheckNoInheritanceChildren(child);

	/*
	 * Keys are noted for the table that propagate() was called on, also
	 * when the statement names one of its partitions, and for the foreign
	 * key that now has the trigger's name.  Nothing noted: no child row
	 * changed, or an earlier bump took them.
	 */
	root = RelationGetRelid(child);
	if (child->rd_rel->relispartition)
		root = llast_oid(get_partition_ancestors(root));
	conoid = rv_ForeignKeyOid(root, tg->tgargs[0]);
	depth = rv_TriggerDepth();
	userid = GetUserId();
	childowner = rv_RelOwner(root);
	if (!TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
	{
		pk = OidIsValid(conoid) ?
			rv_FindAnyPendingKeys(root, conoid, depth, userid) : NULL;
		if (pk == NULL)
			return PointerGetDatum(NULL);
	}

	contup = rv_FindForeignKey(root, tg->tgargs[0], child);
	rv_PrepareBump(fcinfo, root, childowner, contup, &bump, &nkeys, pkattnums,
				   pfeqops);
	ReleaseSysCache(contup);

	if (pk == NULL)
	{
		rv_BumpAllParents(root, conoid, &bump);
		return PointerGetDatum(NULL);
	}

	/*
	 * Take the keys: what the bump changes notes keys of its own.  Those of
	 * this statement are the ones its subtransaction noted, at its depth or
	 * deeper (a foreign key's cascade notes rows at a greater depth, but
	 * its statement triggers fire with the statement that caused it); rows
	 * of an outer subtransaction belong to a statement still running.
	 */
	if (nkeys != pk->nkeys)
		elog(ERROR, "foreign key \"%s\" has %d columns, not %d",
			 tg->tgargs[0], nkeys, pk->nkeys);
	if (rv_TakePendingKeys(root, conoid, depth, userid, pk, args) == 0)
		return PointerGetDatum(NULL);
	for (i = 0; i < nkeys; i++)
	{
		argtypes[i] = get_array_type(pk->types[i]);
		if (!OidIsValid(argtypes[i]))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot propagate through foreign key \"%s\": type %s has no array type",
							tg->tgargs[0], format_type_be(pk->types[i]))));
	}

	initStringInfo(&where);
	appendStringInfoString(&where, "EXISTS (SELECT FROM ");
	rv_AppendPendingKeys(&where, nkeys);
	appendStringInfoString(&where, " WHERE ");
	rv_AppendJoinQual(&where, bump.parentid, nkeys, pkattnums, pfeqops,
					  pk->types);
	appendStringInfoChar(&where, ')');
	rv_BumpParents(&bump, where.data, nkeys, argtypes, args, false);
	return PointerGetDatum(NULL);
}
