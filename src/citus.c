/*-------------------------------------------------------------------------
 *
 * citus.c
 *	  What the extension needs to know of Citus, the sharding extension:
 *	  whether a relation is a shard (a placement of a distributed,
 *	  reference or Citus local table, named <table>_<shardid> on the node
 *	  that holds it) and of which table, and which kind a table is.  The
 *	  one answer to "which table does this row belong to" on Citus: the
 *	  trigger, the messages and enable() ask it.
 *
 * Nothing here runs unless Citus is loaded in the server (it must be in
 * shared_preload_libraries, which defines its settings in every backend):
 * then its metadata, pg_dist_shard and pg_dist_partition, is read with
 * fully qualified SQL through SPI.  Citus keeps that metadata on every node
 * (synced to the workers by default since Citus 11).
 *
 *-------------------------------------------------------------------------
 */
#include "rowversion.h"

#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "nodes/nodeFuncs.h"
#include "tcop/pquery.h"
#include "utils/portal.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/inval.h"
#include "utils/hsearch.h"
#include "utils/rel.h"

/* A shard's table and kind, or that a relation is no shard. */
typedef struct RvShardEntry
{
	Oid			relid;			/* hash key: the relation */
	Oid			table;			/* the table it is a shard of, or InvalidOid */
	RvCitusKind kind;			/* that table's kind */
} RvShardEntry;

static Oid	rv_LookUpShard(Relation rel);

/* rv_CitusShardOf's answers, forgotten at every relcache invalidation */
static HTAB *rv_shards = NULL;

/*
 * Returns whether Citus is loaded in this server: its settings are defined
 * (a SET of one without Citus makes only a placeholder).
 */
bool
rv_CitusLoaded(void)
{
	return GetConfigOption("citus.enable_unsafe_triggers", true, false) != NULL &&
		!(GetConfigOptionFlags("citus.enable_unsafe_triggers", true) & GUC_CUSTOM_PLACEHOLDER);
}

/* Forgets every cached answer: a relation was created, dropped or altered. */
static void
rv_ForgetShards(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	RvShardEntry *entry;

	if (rv_shards == NULL)
		return;
	hash_seq_init(&status, rv_shards);
	while ((entry = (RvShardEntry *) hash_seq_search(&status)) != NULL)
		hash_search(rv_shards, &entry->relid, HASH_REMOVE, NULL);
}

/*
 * Returns the kind of Citus table relid is: RV_CITUS_DISTRIBUTED,
 * RV_CITUS_REFERENCE, RV_CITUS_LOCAL, or RV_CITUS_NONE when it is none
 * (or Citus is not loaded, or not created in this database).
 */
RvCitusKind
rv_CitusTableKind(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];
	RvCitusKind kind = RV_CITUS_NONE;

	if (!rv_CitusLoaded() || !OidIsValid(get_relname_relid("pg_dist_partition",
															PG_CATALOG_NAMESPACE)))
		return RV_CITUS_NONE;
	args[0] = ObjectIdGetDatum(relid);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* (a single-shard distributed table: method n, co-located with others) */
	if (SPI_execute_with_args("SELECT CASE WHEN p.partmethod OPERATOR(pg_catalog.<>) 'n' "
							  "              OR p.colocationid OPERATOR(pg_catalog.<>) 0 "
							  "                 AND p.repmodel OPERATOR(pg_catalog.<>) 't' THEN 'd' "
							  "            WHEN p.repmodel OPERATOR(pg_catalog.=) 't' THEN 'r' "
							  "            ELSE 'l' END "
							  "FROM pg_catalog.pg_dist_partition AS p "
							  "WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(SPI_result));
	if (SPI_processed > 0)
	{
		char	   *k = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		kind = k == NULL ? RV_CITUS_NONE :
			k[0] == 'd' ? RV_CITUS_DISTRIBUTED :
			k[0] == 'r' ? RV_CITUS_REFERENCE : RV_CITUS_LOCAL;
	}
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	return kind;
}

/*
 * Returns the Citus table that rel is a shard of, and its kind in *kind,
 * or InvalidOid (and RV_CITUS_NONE) when rel is no shard or Citus is not
 * loaded.  A shard's name is its table's name, an underscore and the
 * shard's ID (or, for long names, what Citus's shard_name() makes of
 * them), in the table's schema.  Looked up once per relation, until the
 * next relcache invalidation.
 */
Oid
rv_CitusShardOf(Relation rel, RvCitusKind *kind)
{
	Oid			relid = RelationGetRelid(rel);
	RvShardEntry *entry;
	bool		found;

	*kind = RV_CITUS_NONE;
	if (!rv_CitusLoaded())
		return InvalidOid;
	if (rv_shards == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(RvShardEntry);
		rv_shards = hash_create("rowversion Citus shards", 64, &ctl,
								HASH_ELEM | HASH_BLOBS);
		CacheRegisterRelcacheCallback(rv_ForgetShards, (Datum) 0);
	}
	entry = (RvShardEntry *) hash_search(rv_shards, &relid, HASH_FIND, NULL);
	if (entry == NULL)
	{
		/* looked up first, so an error leaves no entry behind */
		Oid			table = rv_LookUpShard(rel);
		RvCitusKind tkind = OidIsValid(table) ? rv_CitusTableKind(table) : RV_CITUS_NONE;

		entry = (RvShardEntry *) hash_search(rv_shards, &relid, HASH_ENTER, &found);
		entry->table = table;
		entry->kind = tkind;
	}
	*kind = entry->kind;
	return entry->table;
}

/*
 * Looks up in Citus's metadata the table that rel is a shard of, or
 * returns InvalidOid.
 */
static Oid
rv_LookUpShard(Relation rel)
{
	const char *relname = RelationGetRelationName(rel);
	const char *digits = strrchr(relname, '_');
	Oid			argtypes[3] = {INT8OID, TEXTOID, OIDOID};
	Datum		args[3];
	Oid			table = InvalidOid;
	int64		shardid;
	char	   *end;

	if (digits == NULL || digits[1] < '0' || digits[1] > '9' ||
		!OidIsValid(get_relname_relid("pg_dist_shard", PG_CATALOG_NAMESPACE)))
		return InvalidOid;
	errno = 0;
	shardid = (int64) strtoll(digits + 1, &end, 10);
	if (errno != 0 || *end != '\0')
		return InvalidOid;

	args[0] = Int64GetDatum(shardid);
	args[1] = CStringGetTextDatum(relname);
	args[2] = ObjectIdGetDatum(RelationGetNamespace(rel));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT s.logicalrelid::pg_catalog.oid "
							  "FROM pg_catalog.pg_dist_shard AS s "
							  "WHERE s.shardid OPERATOR(pg_catalog.=) $1 "
							  "  AND pg_catalog.shard_name(s.logicalrelid, s.shardid) "
							  "      OPERATOR(pg_catalog.=) ANY (ARRAY[pg_catalog.quote_ident($2), "
							  "        ($3::pg_catalog.regnamespace)::pg_catalog.text "
							  "          OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident($2)])",
							  3, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(SPI_result));
	if (SPI_processed > 0)
	{
		bool		isnull;

		table = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull));
	}
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	/* a shard is in its table's schema */
	if (OidIsValid(table) && get_rel_namespace(table) != RelationGetNamespace(rel))
		table = InvalidOid;
	return table;
}

/*
 * Returns the name that messages give rel: the name of the table the user
 * knows, which for a Citus shard is its table's, not the shard's.
 */
const char *
rv_TableName(Relation rel)
{
	RvCitusKind kind;
	Oid			table = rv_CitusShardOf(rel, &kind);
	char	   *name = OidIsValid(table) ? get_rel_name(table) : NULL;

	return name != NULL ? name : RelationGetRelationName(rel);
}

/*
 * Refuses xact mode on Citus reference table table: each node's copy of a
 * row would get that node's own transaction ID, so the copies' versions
 * would differ, and a conditional write would match one copy only.
 */
void
rv_ReportReferenceXact(const char *table)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("row versions of reference table \"%s\" cannot be kept in mode \"xact\"",
					table),
			 errdetail("Each node's copy would get its own node's transaction IDs as versions."),
			 errhint("Call rowversion.enable() with mode => 'counter' for it.")));
	pg_unreachable();
}

/*
 * Whether an argument expression of a call is one that cannot run a
 * statement: constants, parameters, relabelings, and built-in functions
 * and operators that are not volatile (jsonb_build_object, say).  User
 * functions, domain checks and subqueries are refused, whatever their
 * volatility says.
 */
static bool
rv_PlainArgWalker(Node *node, void *context)
{
	Oid			funcid;

	if (node == NULL)
		return false;
	switch (nodeTag(node))
	{
		case T_Const:
		case T_Param:
		case T_RelabelType:
		case T_List:
			return expression_tree_walker(node, rv_PlainArgWalker, context);
		case T_FuncExpr:
			funcid = ((FuncExpr *) node)->funcid;
			break;
		case T_OpExpr:
			set_opfuncid((OpExpr *) node);
			funcid = ((OpExpr *) node)->opfuncid;
			break;
		default:
			return true;
	}
	if (funcid >= FirstNormalObjectId || func_volatile(funcid) == PROVOLATILE_VOLATILE)
		return true;
	return expression_tree_walker(node, rv_PlainArgWalker, context);
}

/*
 * Returns whether the call that fcinfo describes, made in memory context
 * callcxt, is by itself the whole statement the client runs, outside any
 * transaction block, on a server with Citus: the client's unnamed portal
 * runs a SELECT of a Result node whose one column is this very call, its
 * arguments plain (rv_PlainArgWalker), and the call is evaluated by that
 * node itself, not by a nested statement.  Then nothing else in the
 * statement, before or after the call, changes anything, and the
 * statement's transaction commits right after it.  Costs a few tests, and
 * no lookup at all inside a transaction block.
 */
bool
rv_CitusCallIsStatement(FunctionCallInfo fcinfo, MemoryContext callcxt)
{
	Portal		portal = ActivePortal;
	QueryDesc  *qd;
	PlannedStmt *stmt;
	Plan	   *plan;
	TargetEntry *tle;

	if (IsTransactionBlock() || IsSubTransaction() || portal == NULL ||
		portal->name == NULL || portal->name[0] != '\0' ||
		portal->strategy != PORTAL_ONE_SELECT ||
		(portal->cursorOptions & CURSOR_OPT_HOLD) != 0 ||
		(qd = portal->queryDesc) == NULL || qd->planstate == NULL ||
		qd->planstate->ps_ExprContext == NULL ||
		callcxt != qd->planstate->ps_ExprContext->ecxt_per_tuple_memory)
		return false;
	stmt = qd->plannedstmt;
	plan = stmt->planTree;
	if (stmt->commandType != CMD_SELECT || stmt->hasModifyingCTE ||
		stmt->subplans != NIL || plan == NULL || !IsA(plan, Result) ||
		plan->lefttree != NULL || plan->initPlan != NIL || plan->qual != NIL ||
		((Result *) plan)->resconstantqual != NULL ||
		list_length(plan->targetlist) != 1)
		return false;
	tle = linitial_node(TargetEntry, plan->targetlist);
	if ((Node *) tle->expr != fcinfo->flinfo->fn_expr || !IsA(tle->expr, FuncExpr) ||
		rv_PlainArgWalker((Node *) ((FuncExpr *) tle->expr)->args, NULL))
		return false;
	return rv_CitusLoaded();
}

/*
 * Lets Citus send the one-row write that a call for which
 * rv_CitusCallIsStatement holds runs next as a statement of its own, the
 * way it sends the same UPDATE or DELETE written by hand: without
 * citus.function_opens_transaction_block, a write routed to one shard
 * placement outside a coordinated transaction is one round trip, committed
 * by the worker with it, instead of BEGIN, a distributed transaction ID,
 * the write and COMMIT.  Writes to more than one placement (reference
 * tables) keep their transaction blocks and two-phase commit: Citus
 * decides that by itself.  Returns the GUC nest level to hand to
 * AtEOXact_GUC(true, ...) right after the write.
 */
int
rv_CitusRouteAlone(void)
{
	int			nestlevel = NewGUCNestLevel();

	(void) set_config_option("citus.function_opens_transaction_block", "off",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	return nestlevel;
}
