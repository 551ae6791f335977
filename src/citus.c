/*-------------------------------------------------------------------------
 *
 * citus.c
 *	  What the extension needs to know of Citus, the sharding extension:
 *	  whether a relation is a shard (a placement of a distributed,
 *	  reference or Citus local table, named <table>_<shardid> on the node
 *	  that holds it) and of which table, and which kind a table is.  The
 *	  one answer to "which table does this row belong to" on Citus: the
 *	  trigger, the messages and enable() ask it.  And where the extension
 *	  must act differently on Citus: errors raised on a shard (their
 *	  fields, and the client's SQLSTATE style, through an emit_log_hook),
 *	  settings sent to the nodes (SET LOCAL), backends that serve another
 *	  node, the fill of a shard Citus is making, watermark() across the
 *	  nodes, a shard's foreign key, and conditional writes that Citus
 *	  pushes down or that may be routed as a statement of their own.
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

#include "access/relation.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/partition.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "nodes/nodeFuncs.h"
#include "tcop/pquery.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/portal.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

/* A shard's table and kind, or that a relation is no shard. */
typedef struct RvShardEntry
{
	Oid			relid;			/* hash key: the relation */
	Oid			table;			/* the table it is a shard of, or InvalidOid */
	RvCitusKind kind;			/* that table's kind */
} RvShardEntry;

static Oid	rv_LookUpShard(Oid relid);
static bool rv_ShardIdOfName(const char *relname, int64 *shardid);
static RvCitusKind rv_LookUpKind(Oid relid);
static bool rv_QueryMetadata(const char *sql, int nargs, Oid *argtypes,
							 Datum *args, Datum *value);
static bool rv_CreatedInTransaction(Oid relid);

/* A table's Citus kind. */
typedef struct RvKindEntry
{
	Oid			relid;			/* hash key: the table */
	RvCitusKind kind;
} RvKindEntry;

/*
 * rv_CitusShardOf's and rv_CitusTableKind's answers, forgotten at every
 * relcache invalidation (Citus sends one for a table whose metadata
 * changes)
 */
static HTAB *rv_shards = NULL;
static HTAB *rv_kinds = NULL;

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

	RvKindEntry *kentry;

	if (rv_shards == NULL)
		return;
	hash_seq_init(&status, rv_shards);
	while ((entry = (RvShardEntry *) hash_seq_search(&status)) != NULL)
		hash_search(rv_shards, &entry->relid, HASH_REMOVE, NULL);
	hash_seq_init(&status, rv_kinds);
	while ((kentry = (RvKindEntry *) hash_seq_search(&status)) != NULL)
		hash_search(rv_kinds, &kentry->relid, HASH_REMOVE, NULL);
}

/* Makes the caches of shards and kinds, once per backend. */
static void
rv_InitCitusCaches(void)
{
	HASHCTL		ctl;

	if (rv_shards != NULL)
		return;
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(RvShardEntry);
	rv_shards = hash_create("rowversion Citus shards", 64, &ctl,
							HASH_ELEM | HASH_BLOBS);
	ctl.entrysize = sizeof(RvKindEntry);
	rv_kinds = hash_create("rowversion Citus kinds", 64, &ctl,
						   HASH_ELEM | HASH_BLOBS);
	CacheRegisterRelcacheCallback(rv_ForgetShards, (Datum) 0);
}

/*
 * Returns the kind of Citus table relid is: RV_CITUS_DISTRIBUTED,
 * RV_CITUS_REFERENCE, RV_CITUS_LOCAL, or RV_CITUS_NONE when it is none
 * (or Citus is not loaded, or not created in this database).  Looked up
 * once per table, until the next relcache invalidation.
 */
RvCitusKind
rv_CitusTableKind(Oid relid)
{
	RvKindEntry *entry;
	RvCitusKind kind;
	bool		found;

	if (!rv_CitusLoaded())
		return RV_CITUS_NONE;
	rv_InitCitusCaches();
	entry = (RvKindEntry *) hash_search(rv_kinds, &relid, HASH_FIND, NULL);
	if (entry != NULL)
		return entry->kind;
	/* looked up first, so an error leaves no entry behind */
	kind = rv_LookUpKind(relid);
	entry = (RvKindEntry *) hash_search(rv_kinds, &relid, HASH_ENTER, &found);
	entry->kind = kind;
	return kind;
}

/* rv_CitusTableKind() from Citus's metadata, uncached. */
static RvCitusKind
rv_LookUpKind(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];
	Datum		k;

	if (!OidIsValid(get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE)))
		return RV_CITUS_NONE;
	args[0] = ObjectIdGetDatum(relid);
	/* (a single-shard distributed table: method n, co-located with others) */
	if (!rv_QueryMetadata("SELECT (CASE WHEN p.partmethod OPERATOR(pg_catalog.<>) 'n' "
						  "              OR p.colocationid OPERATOR(pg_catalog.<>) 0 "
						  "                 AND p.repmodel OPERATOR(pg_catalog.<>) 't' THEN 'd' "
						  "            WHEN p.repmodel OPERATOR(pg_catalog.=) 't' THEN 'r' "
						  "            ELSE 'l' END)::pg_catalog.\"char\" "
						  "FROM pg_catalog.pg_dist_partition AS p "
						  "WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1",
						  1, argtypes, args, &k))
		return RV_CITUS_NONE;
	return DatumGetChar(k) == 'd' ? RV_CITUS_DISTRIBUTED :
		DatumGetChar(k) == 'r' ? RV_CITUS_REFERENCE : RV_CITUS_LOCAL;
}

/*
 * Runs sql, a query of Citus's metadata with nargs arguments that returns
 * at most one row of one column of a type passed by value, through SPI.
 * Returns whether it found a value that is not NULL, in *value.
 */
static bool
rv_QueryMetadata(const char *sql, int nargs, Oid *argtypes, Datum *args,
				 Datum *value)
{
	bool		isnull = true;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(sql, nargs, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(SPI_result));
	if (SPI_processed > 0)
		*value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	return !isnull;
}

/*
 * Returns the Citus table that rel is a shard of, and its kind in *kind,
 * or InvalidOid (and RV_CITUS_NONE) when rel is no shard or Citus is not
 * loaded: rv_CitusShardTable() for an open relation.
 */
Oid
rv_CitusShardOf(Relation rel, RvCitusKind *kind)
{
	return rv_CitusShardTable(RelationGetRelid(rel), kind);
}

/*
 * Returns the Citus table that relation relid is a shard of, and its kind
 * in *kind, or InvalidOid (and RV_CITUS_NONE) when it is no shard or Citus
 * is not loaded.  A shard's name is its table's name, an underscore and the
 * shard's ID (or, for long names, what Citus's shard_name() makes of
 * them), in the table's schema.  Looked up once per relation, until the
 * next relcache invalidation.
 */
Oid
rv_CitusShardTable(Oid relid, RvCitusKind *kind)
{
	RvShardEntry *entry;
	bool		found;

	*kind = RV_CITUS_NONE;
	if (!rv_CitusLoaded())
		return InvalidOid;
	rv_InitCitusCaches();
	entry = (RvShardEntry *) hash_search(rv_shards, &relid, HASH_FIND, NULL);
	if (entry == NULL)
	{
		/* looked up first, so an error leaves no entry behind */
		Oid			table = rv_LookUpShard(relid);
		RvCitusKind tkind = OidIsValid(table) ? rv_CitusTableKind(table) : RV_CITUS_NONE;

		entry = (RvShardEntry *) hash_search(rv_shards, &relid, HASH_ENTER, &found);
		entry->table = table;
		entry->kind = tkind;
	}
	*kind = entry->kind;
	return entry->table;
}

/*
 * Returns whether relname ends as a shard's name does, in an underscore and
 * a shard ID (digits that fit an int64), which it sets in *shardid.
 */
static bool
rv_ShardIdOfName(const char *relname, int64 *shardid)
{
	const char *digits = strrchr(relname, '_');
	char	   *end;

	if (digits == NULL || digits[1] < '0' || digits[1] > '9')
		return false;
	errno = 0;
	*shardid = (int64) strtoll(digits + 1, &end, 10);
	return errno == 0 && *end == '\0';
}

/*
 * Looks up in Citus's metadata the table that relation relid is a shard
 * of, or returns InvalidOid.
 */
static Oid
rv_LookUpShard(Oid relid)
{
	const char *relname = get_rel_name(relid);
	Oid			relnsp = get_rel_namespace(relid);
	Oid			argtypes[3] = {INT8OID, TEXTOID, OIDOID};
	Datum		args[3];
	Oid			table = InvalidOid;
	Datum		found;
	int64		shardid;

	if (relname == NULL || !rv_ShardIdOfName(relname, &shardid) ||
		!OidIsValid(get_relname_relid("pg_dist_shard", PG_CATALOG_NAMESPACE)))
		return InvalidOid;

	args[0] = Int64GetDatum(shardid);
	args[1] = CStringGetTextDatum(relname);
	args[2] = ObjectIdGetDatum(relnsp);
	if (rv_QueryMetadata("SELECT s.logicalrelid::pg_catalog.oid "
						 "FROM pg_catalog.pg_dist_shard AS s "
						 "WHERE s.shardid OPERATOR(pg_catalog.=) $1 "
						 "  AND pg_catalog.shard_name(s.logicalrelid, s.shardid) "
						 "      OPERATOR(pg_catalog.=) ANY (ARRAY[pg_catalog.quote_ident($2), "
						 "        ($3::pg_catalog.regnamespace)::pg_catalog.text "
						 "          OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident($2)])",
						 3, argtypes, args, &found))
		table = DatumGetObjectId(found);
	/* a shard is in its table's schema */
	if (OidIsValid(table) && get_rel_namespace(table) != relnsp)
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
 * The first words of the context line that carries the object fields of an
 * error raised on a Citus shard: the version column, as three quoted
 * identifiers (schema, table, column).
 */
#define RV_SHARD_CONTEXT	"row version column "

/* Appends name to buf as a quoted identifier, quoted whatever it is. */
static void
rv_AppendQuoted(StringInfo buf, const char *name)
{
	appendStringInfoChar(buf, '"');
	for (; *name != '\0'; name++)
	{
		if (*name == '"')
			appendStringInfoChar(buf, '"');
		appendStringInfoChar(buf, *name);
	}
	appendStringInfoChar(buf, '"');
}

/*
 * errtablecol() for the reports of row version errors (inside ereport()):
 * the object fields name column attnum of rel, or on a Citus shard, of the
 * table the user knows.  Citus passes on an error raised on another node
 * with its message, DETAIL, HINT and context but not its fields, so on a
 * shard a context line carries them too; rv_CitusEmitLog() turns it back
 * into fields on the node the client is connected to.  The shard's table
 * must already have been looked up (rv_TableName()), so no query runs
 * while the report is being made.
 */
int
rv_errtablecol(Relation rel, AttrNumber attnum)
{
	RvCitusKind kind;
	Oid			table = rv_CitusShardOf(rel, &kind);
	const char *nsp;
	const char *name;
	const char *col;
	StringInfoData line;

	if (!OidIsValid(table) || (name = get_rel_name(table)) == NULL)
		return errtablecol(rel, attnum);
	nsp = get_namespace_name(RelationGetNamespace(rel));
	col = NameStr(TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attname);
	err_generic_string(PG_DIAG_SCHEMA_NAME, nsp);
	err_generic_string(PG_DIAG_TABLE_NAME, name);
	err_generic_string(PG_DIAG_COLUMN_NAME, col);
	initStringInfo(&line);
	appendStringInfoString(&line, RV_SHARD_CONTEXT);
	rv_AppendQuoted(&line, nsp);
	appendStringInfoChar(&line, '.');
	rv_AppendQuoted(&line, name);
	appendStringInfoChar(&line, '.');
	rv_AppendQuoted(&line, col);
	set_errcontext_domain(TEXTDOMAIN);
	return errcontext_msg("%s", line.data);
}

/*
 * Returns the SQLSTATE of the current rowversion.sqlstate_style for code,
 * when code is one of a row version error's in either style; else code.
 */
static int
rv_RestyleCode(int code)
{
	bool		pt = rv_sqlstate_style == RV_STYLE_POSTGREST;

	if (code == RV_SQLSTATE_CONFLICT || code == RV_SQLSTATE_PT_CONFLICT)
		return pt ? RV_SQLSTATE_PT_CONFLICT : RV_SQLSTATE_CONFLICT;
	if (code == RV_SQLSTATE_REQUIRED || code == RV_SQLSTATE_PT_REQUIRED)
		return pt ? RV_SQLSTATE_PT_REQUIRED : RV_SQLSTATE_REQUIRED;
	if (code == RV_SQLSTATE_NOT_FOUND || code == RV_SQLSTATE_PT_NOT_FOUND)
		return pt ? RV_SQLSTATE_PT_NOT_FOUND : RV_SQLSTATE_NOT_FOUND;
	return code;
}

/* Returns whether code is one of a row version error's, in either style. */
static bool
rv_IsRowVersionCode(int code)
{
	return code == RV_SQLSTATE_CONFLICT || code == RV_SQLSTATE_PT_CONFLICT ||
		code == RV_SQLSTATE_REQUIRED || code == RV_SQLSTATE_PT_REQUIRED ||
		code == RV_SQLSTATE_NOT_FOUND || code == RV_SQLSTATE_PT_NOT_FOUND;
}

/*
 * Returns whether this backend runs a command that Citus's
 * run_command_on_all_nodes() sent it (by the application_name Citus gives
 * those connections).  Passing for one gains a client nothing: what
 * answers differently there is watermark(), which gives the node's own.
 */
bool
rv_CitusRunCommandBackend(void)
{
	static const char prefix[] = "citus_run_command gpid=";

	return application_name != NULL &&
		strncmp(application_name, prefix, sizeof(prefix) - 1) == 0 &&
		rv_CitusLoaded();
}

/*
 * Returns whether this backend serves another Citus node rather than a
 * client: Citus connects with an application_name of "citus_internal
 * gpid=" and a global process ID other than zero, and tells those
 * backends apart by it (IsCitusInternalBackend()).  A client can give
 * itself that name too: nothing that trusts the answer grants a right.
 */
bool
rv_CitusInternalBackend(void)
{
	static const char prefix[] = "citus_internal gpid=";

	if (application_name == NULL ||
		strncmp(application_name, prefix, sizeof(prefix) - 1) != 0 ||
		!rv_CitusLoaded())
		return false;
	return strtoull(application_name + sizeof(prefix) - 1, NULL, 10) != 0;
}

static emit_log_hook_type rv_prev_emit_log_hook = NULL;

/*
 * emit_log_hook: a row version error raised on a Citus shard -- one whose
 * context begins with the line rv_errtablecol() adds (before any context
 * callback's, which may show a user's text), on this node or on another
 * one whose error Citus passes on -- gets its object fields back from that
 * line (which is removed) and the SQLSTATE of this session's
 * rowversion.sqlstate_style, in a backend that serves a client.  Other
 * errors, and errors sent to another Citus node, are left as they are.  (An
 * error caught by a PL/pgSQL handler is not emitted and keeps what the
 * node gave it.)
 */
static void
rv_CitusEmitLog(ErrorData *edata)
{
	const char *line;

	if (edata->elevel >= WARNING && edata->context != NULL &&
		rv_IsRowVersionCode(edata->sqlerrcode) &&
		strncmp(edata->context, RV_SHARD_CONTEXT, strlen(RV_SHARD_CONTEXT)) == 0 &&
		rv_CitusLoaded() && !rv_CitusInternalBackend())
	{
		const char *end = strchr(edata->context, '\n');
		char	   *names = end ? pnstrdup(edata->context, end - edata->context) :
			pstrdup(edata->context);
		List	   *parts = NIL;
		StringInfoData rest;

		line = edata->context;

		if (SplitIdentifierString(names + strlen(RV_SHARD_CONTEXT), '.', &parts) &&
			list_length(parts) == 3)
		{
			edata->schema_name = pstrdup((char *) linitial(parts));
			edata->table_name = pstrdup((char *) lsecond(parts));
			edata->column_name = pstrdup((char *) lthird(parts));
			edata->sqlerrcode = rv_RestyleCode(edata->sqlerrcode);
			initStringInfo(&rest);
			appendBinaryStringInfo(&rest, edata->context, line - edata->context);
			if (end != NULL)
				appendStringInfoString(&rest, end + 1);
			while (rest.len > 0 && rest.data[rest.len - 1] == '\n')
				rest.data[--rest.len] = '\0';
			edata->context = rest.len > 0 ? rest.data : NULL;
		}
	}
	if (rv_prev_emit_log_hook)
		rv_prev_emit_log_hook(edata);
}

/* Installs rv_CitusEmitLog(), once, when the library is loaded. */
void
rv_InitCitus(void)
{
	rv_prev_emit_log_hook = emit_log_hook;
	emit_log_hook = rv_CitusEmitLog;
}

/*
 * Sets setting name to value for the rest of the transaction on this node
 * and on every node the transaction writes through, now or later: a SET
 * LOCAL that Citus sends to the nodes, for which it takes
 * citus.propagate_set_commands = 'local' while the SET runs (restored
 * after it).  Citus sends only a SET that runs as a statement (a
 * set_config_option() call is not seen), and only inside a transaction
 * block: the caller must be in one.  Without Citus, a plain SET LOCAL.
 */
void
rv_CitusSetLocal(const char *name, const char *value)
{
	int			nestlevel = NewGUCNestLevel();
	StringInfoData sql;

	Assert(IsTransactionBlock());
	if (rv_CitusLoaded())
		(void) set_config_option("citus.propagate_set_commands", "local",
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
								 true, 0, false);
	initStringInfo(&sql);
	appendStringInfo(&sql, "SET LOCAL %s = %s", name, quote_literal_cstr(value));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(sql.data, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(SPI_result));
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	/* the SET LOCAL stays; the setting of Citus's goes back */
	AtEOXact_GUC(true, nestlevel);
}

/*
 * Refuses log-only mode (enable()'s enforce => false) on Citus table
 * table: its conflicts would be counted on the node that holds each row,
 * where the rowversion.conflicts view of the node the client asks does not
 * see them.
 */
void
rv_ReportCitusLogOnly(const char *table)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("Citus table \"%s\" cannot be in log-only mode", table),
			 errdetail("Its conflicts would be counted on the nodes that hold its rows, apart from each other."),
			 errhint("Call rowversion.enable() with enforce => true for it.")));
	pg_unreachable();
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
 * Returns whether a row inserted into rel, a relation made in the current
 * transaction, keeps the version it comes with in xact mode: rel is a
 * Citus shard (by its name in a backend of Citus's own on a worker, where
 * the metadata of a shard being made is in another connection's
 * transaction and not yet visible; by the metadata on the coordinator,
 * where Citus fills its placements in the caller's backend), and the insert
 * is no other trigger's.  That is how Citus fills the shards it makes in
 * create_distributed_table(): it creates each shard with the table's
 * triggers, this one included, and then copies the table's rows into it,
 * in the same transaction.  A new version there would send versions back,
 * and a client holding the old one could overwrite a newer row.  Shard
 * moves, splits, alter_distributed_table() and undistribute_table() create
 * the triggers after the copy and need nothing.  The one other insert that
 * gets here is the table owner's own, in the transaction that distributes
 * the table, with the version column written: it is kept too, as counter
 * mode would.  A shard truncated in this transaction is no new relation
 * (rd_createSubid) and its rows get new versions as always.
 */
bool
rv_CitusFillsNewShard(Relation rel)
{
	RvCitusKind kind;
	int64		shardid;

	if (rel->rd_createSubid == InvalidSubTransactionId || !rv_CitusLoaded() ||
		!rv_ShardIdOfName(RelationGetRelationName(rel), &shardid) ||
		rv_TriggerDepth() > 1)
		return false;
	/*
	 * (a new partition of a table made before it is no new shard's: its
	 * rows are the table's own, which an INSERT gives new versions; a
	 * partitioned shard and its partitions' shards are made together)
	 */
	if (rel->rd_rel->relispartition)
	{
		ListCell   *lc;

		foreach(lc, get_partition_ancestors(RelationGetRelid(rel)))
			if (!rv_CreatedInTransaction(lfirst_oid(lc)))
				return false;
	}
	else if (has_superclass(RelationGetRelid(rel)))
		return false;
	if (rv_CitusInternalBackend())
		return true;
	return OidIsValid(rv_CitusShardOf(rel, &kind)) &&
		(kind == RV_CITUS_DISTRIBUTED || kind == RV_CITUS_LOCAL);
}

/* Returns whether relation relid was created in the current transaction. */
static bool
rv_CreatedInTransaction(Oid relid)
{
	Relation	rel = RelationIdGetRelation(relid);
	bool		created = false;

	if (RelationIsValid(rel))
	{
		created = rel->rd_createSubid != InvalidSubTransactionId;
		RelationClose(rel);
	}
	return created;
}

/*
 * Returns the watermark that finds every later change on every Citus node:
 * the least of local (this node's own, from the caller's snapshot) and of
 * every other active node's own, each taken now through Citus's
 * run_command_on_all_nodes(), which connects as the current user.  Any
 * change committed after a node's watermark was taken has a version at
 * least that node's, so a read that starts after this call misses nothing.
 * Returns local when Citus is not created in this database or knows no
 * other node.  Refused inside a query that Citus runs on a worker, which
 * would give one node's alone, and when a node does not answer.
 */
int64
rv_CitusWatermark(int64 local)
{
	int64		mark = local;
	uint64		i;

	if (rv_CitusInternalBackend())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("rowversion.watermark() cannot run inside a query that Citus runs on a worker"),
				 errdetail("It would give this node's watermark alone, which misses changes on the other nodes."),
				 errhint("Call rowversion.watermark() in a statement of its own, before the read.")));

	if (!OidIsValid(get_relname_relid("pg_dist_node", PG_CATALOG_NAMESPACE)) ||
		!OidIsValid(get_relname_relid("pg_dist_local_group", PG_CATALOG_NAMESPACE)))
		return local;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT 1 FROM pg_catalog.pg_dist_node AS n "
					"WHERE n.isactive AND n.groupid OPERATOR(pg_catalog.<>) "
					"  ALL (SELECT g.groupid FROM pg_catalog.pg_dist_local_group AS g) "
					"LIMIT 1", true, 1) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(SPI_result));
	if (SPI_processed == 0)
	{
		if (SPI_finish() != SPI_OK_FINISH)
			elog(ERROR, "SPI_finish failed");
		return local;
	}

	/*
	 * The other nodes' are taken now; the snapshot a REPEATABLE READ
	 * transaction already took on one of them may be older, and miss what
	 * committed in between.
	 */
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("rowversion.watermark() on Citus cannot run in a %s transaction",
						IsolationIsSerializable() ? "SERIALIZABLE" : "REPEATABLE READ"),
				 errdetail("The snapshots the transaction took on other nodes may be older than their watermarks now."),
				 errhint("Take it in a READ COMMITTED statement of its own, before the transaction that reads.")));

	if (SPI_execute("SELECT CASE WHEN n.nodeid IS NULL THEN 'this node' "
					"  ELSE n.nodename OPERATOR(pg_catalog.||) ':' "
					"       OPERATOR(pg_catalog.||) n.nodeport::pg_catalog.text END, "
					"  r.success, r.result "
					"FROM pg_catalog.run_command_on_all_nodes("
					"  'SELECT rowversion.watermark()') AS r "
					"LEFT JOIN pg_catalog.pg_dist_node AS n "
					"  ON n.nodeid OPERATOR(pg_catalog.=) r.nodeid",
					false, 0) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(SPI_result));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *node = SPI_getvalue(tuple, desc, 1);
		char	   *success = SPI_getvalue(tuple, desc, 2);
		char	   *result = SPI_getvalue(tuple, desc, 3);
		char	   *end = NULL;
		long long	value = 0;

		if (success != NULL && strcmp(success, "t") == 0 && result != NULL)
		{
			errno = 0;
			value = strtoll(result, &end, 10);
		}
		if (end == NULL || end == result || *end != '\0' || errno != 0)
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("could not take the watermark of Citus node %s",
							node != NULL ? node : "?"),
					 result != NULL ? errdetail("%s", result) : 0,
					 errhint("Every active node must answer for a watermark that covers them all.")));
		if ((int64) value < mark)
			mark = (int64) value;
	}
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	return mark;
}

/*
 * Returns the foreign key of Citus shard rel that stands for foreign key
 * fkname of the table it is a shard of, or InvalidOid when rel is no shard
 * or has none.  Citus names a shard's constraints <name>_<shardid>, so the
 * name does not find it: it is the shard's foreign key whose referenced
 * relation is a shard of the table's referenced table, and whose columns,
 * on both sides, have the names of the table's (their numbers may differ
 * where columns were dropped before the shards were made).
 */
Oid
rv_CitusShardForeignKey(Relation rel, const char *fkname)
{
	RvCitusKind kind;
	Oid			table = rv_CitusShardOf(rel, &kind);
	Oid			tablefk;
	HeapTuple	tabletup;
	Form_pg_constraint tablecon;
	int			nkeys;
	AttrNumber	fkattnums[INDEX_MAX_KEYS];
	AttrNumber	pkattnums[INDEX_MAX_KEYS];
	Oid			pfeqops[INDEX_MAX_KEYS];
	Oid			found = InvalidOid;
	List	   *fks;
	ListCell   *lc;

	if (!OidIsValid(table))
		return InvalidOid;
	tablefk = get_relation_constraint_oid(table, fkname, true);
	tabletup = OidIsValid(tablefk) ?
		SearchSysCache1(CONSTROID, ObjectIdGetDatum(tablefk)) : NULL;
	if (!HeapTupleIsValid(tabletup))
		return InvalidOid;
	tablecon = (Form_pg_constraint) GETSTRUCT(tabletup);
	if (tablecon->contype != CONSTRAINT_FOREIGN)
	{
		ReleaseSysCache(tabletup);
		return InvalidOid;
	}
	rv_DeconstructFk(tabletup, &nkeys, fkattnums, pkattnums, pfeqops);

	fks = RelationGetFKeyList(rel);
	foreach(lc, fks)
	{
		ForeignKeyCacheInfo *fk = (ForeignKeyCacheInfo *) lfirst(lc);
		Relation	referenced;
		RvCitusKind rkind;
		bool		match;
		int			i;

		if (fk->nkeys != nkeys)
			continue;
		match = true;
		for (i = 0; match && i < nkeys; i++)
		{
			char	   *a = get_attname(table, fkattnums[i], false);
			char	   *b = get_attname(fk->conrelid, fk->conkey[i], true);
			char	   *c = get_attname(tablecon->confrelid, pkattnums[i], false);
			char	   *d = get_attname(fk->confrelid, fk->confkey[i], true);

			match = b != NULL && d != NULL && strcmp(a, b) == 0 && strcmp(c, d) == 0;
		}
		if (!match)
			continue;
		referenced = relation_open(fk->confrelid, AccessShareLock);
		match = rv_CitusShardOf(referenced, &rkind) == tablecon->confrelid;
		relation_close(referenced, AccessShareLock);
		if (!match)
			continue;
		if (OidIsValid(found))
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("shard \"%s\" has more than one foreign key standing for foreign key \"%s\"",
							RelationGetRelationName(rel), fkname)));
		found = fk->conoid;
	}
	ReleaseSysCache(tabletup);
	return found;
}

/*
 * Refuses a conditional write, by function fname, of table relid: Citus
 * ran the query that calls it on a worker, where the write would be a
 * distributed query nested in a query on a shard.
 */
static pg_noreturn void
rv_ReportInWorkerQuery(Oid relid, const char *fname)
{
	char	   *name = get_rel_name(relid);

	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("%s() cannot run inside a query that Citus runs on a worker", fname),
			 errdetail("Citus ran the query that calls it on a worker, where its write of table \"%s\" would be a distributed query nested in a query on a shard.",
					   name != NULL ? name : "?"),
			 errhint("Call it once per row from the client, or from a PL/pgSQL loop over the rows read (FOR r IN SELECT ... LOOP PERFORM ...).")));
	pg_unreachable();
}

/*
 * Refuses a conditional write, by function fname, of table relid when it
 * is called in a query that Citus pushed down to a worker (a SELECT that
 * reads a distributed table and calls the function for its rows), as long
 * as relid is a distributed or reference table: Citus refuses such nested
 * distributed queries too, with an internal error.  Not refused where
 * Citus allows them: when the user set
 * citus.allow_nested_distributed_execution, and in triggers (where Citus
 * refuses only writes of other nodes' shards, which
 * rv_CitusTranslateNestedError reports).  Costs a string comparison
 * unless this backend is one of Citus's own.
 */
void
rv_CitusRefuseInWorkerQuery(Oid relid, const char *fname)
{
	const char *allow;
	bool		allowed = false;
	RvCitusKind kind;

	if (!rv_CitusInternalBackend())
		return;
	allow = GetConfigOption("citus.allow_nested_distributed_execution", true, false);
	if ((allow != NULL && parse_bool(allow, &allowed) && allowed) ||
		DatumGetInt32(pg_trigger_depth(NULL)) > 0)
		return;
	kind = rv_CitusTableKind(relid);
	if (kind == RV_CITUS_DISTRIBUTED || kind == RV_CITUS_REFERENCE)
		rv_ReportInWorkerQuery(relid, fname);
}

/*
 * For a PG_CATCH around a conditional write, by function fname, of table
 * relid: when the error being handled is Citus's refusal of a distributed
 * query nested in a query on a shard (an internal error, XX000), raises
 * rv_CitusRefuseInWorkerQuery's error instead; any other error is left as
 * it is, for the caller to re-throw.  The copy of the error is made in
 * cxt, which must not be ErrorContext.
 */
void
rv_CitusTranslateNestedError(Oid relid, const char *fname, MemoryContext cxt)
{
	MemoryContext oldcxt;
	ErrorData  *edata;
	bool		nested;

	if (!rv_CitusLoaded())
		return;
	oldcxt = MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	nested = edata->sqlerrcode == ERRCODE_INTERNAL_ERROR &&
		edata->message != NULL &&
		strcmp(edata->message,
			   "cannot execute a distributed query from a query on a shard") == 0;
	FreeErrorData(edata);
	if (nested)
	{
		FlushErrorState();
		rv_ReportInWorkerQuery(relid, fname);
	}
	MemoryContextSwitchTo(oldcxt);
}

/*
 * Returns whether the write of a conditional write on rel, alone in its
 * statement (rv_CitusCallIsStatement()), may be sent to the node that holds
 * the row as a statement of its own: rel is a distributed table whose
 * triggers on UPDATE and DELETE are all rowversion's (functions in nsp, the
 * extension's schema) or foreign keys', and that has no row-level
 * security.  A
 * trigger or policy of the user's may run code after the write (on the
 * coordinator, for a placement there) that fails the statement, which
 * would not take back a write the node had already committed.
 */
bool
rv_CitusMayRouteAlone(Relation rel, Oid nsp)
{
	TriggerDesc *trigdesc = rel->trigdesc;
	int			i;

	if (rv_CitusTableKind(RelationGetRelid(rel)) != RV_CITUS_DISTRIBUTED ||
		rel->rd_rel->relrowsecurity)
		return false;
	for (i = 0; trigdesc != NULL && i < trigdesc->numtriggers; i++)
	{
		Trigger    *tg = &trigdesc->triggers[i];

		/* (foreign keys' own, and Citus's TRUNCATE trigger, run no user code) */
		if (tg->tgisinternal ||
			(!TRIGGER_FOR_UPDATE(tg->tgtype) && !TRIGGER_FOR_DELETE(tg->tgtype)))
			continue;
		if (get_func_namespace(tg->tgfoid) != nsp)
			return false;
	}
	return true;
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
 * node itself, not by a nested statement.  Then the statement does nothing
 * but the call, and its transaction ends right after it, as that of the
 * same UPDATE written by hand would (code that the arguments' built-in
 * functions run, a user's cast, say, or a deferred trigger it queues, can
 * still fail the statement after the write, as with the hand-written
 * UPDATE).  Costs a few tests, and no lookup at all inside a transaction
 * block.
 */
bool
rv_CitusCallIsStatement(FunctionCallInfo fcinfo, MemoryContext callcxt)
{
	Portal		portal = ActivePortal;
	QueryDesc  *qd;
	PlannedStmt *stmt;
	Plan	   *plan;
	TargetEntry *tle;

	if (!rv_CitusLoaded() ||
		IsTransactionBlock() || IsSubTransaction() || portal == NULL ||
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
	return true;
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
