/*-------------------------------------------------------------------------
 *
 * rowversion.c
 *	  Module entry point: the module magic, the rowversion.* settings, and
 *	  the reporters of the extension's own error conditions, whose SQLSTATE
 *	  depends on rowversion.sqlstate_style (and whose level, for a table in
 *	  log-only mode, is a warning).
 *
 *-------------------------------------------------------------------------
 */
#include "rowversion.h"

#include "access/genam.h"
#include "access/relation.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/elog.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/rls.h"

RV_MODULE_MAGIC;

/* how much of a client's If-Match header an error message repeats */
#define RV_HEADER_SHOWN		200

void		_PG_init(void);

static List *rv_InheritanceAncestors(Oid relid);

/* rowversion.sqlstate_style: which SQLSTATE family errors are raised with */
int			rv_sqlstate_style = RV_STYLE_ROWVERSION;

static const struct config_enum_entry rv_sqlstate_style_options[] = {
	{"rowversion", RV_STYLE_ROWVERSION, false},
	{"postgrest", RV_STYLE_POSTGREST, false},
	{NULL, 0, false}
};

/*
 * Defines the extension's settings when the library is loaded.
 */
void
_PG_init(void)
{
	DefineCustomEnumVariable("rowversion.sqlstate_style",
							 "Chooses the SQLSTATEs of row version errors.",
							 "\"rowversion\" raises RV001, RV002 and RV003; "
							 "\"postgrest\" raises PT412, PT428 and PT404, "
							 "which PostgREST turns into those HTTP statuses.",
							 &rv_sqlstate_style,
							 RV_STYLE_ROWVERSION,
							 rv_sqlstate_style_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	/* (before the prefix is reserved, which drops placeholders of it) */
	rv_InitPreconditions();
	rv_InitCitus();
	RV_RESERVE_GUC_PREFIX("rowversion");
}

/*
 * Raises 22004 when argument argno (called name) of the SQL-callable
 * function is NULL.
 */
void
rv_CheckNotNull(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("parameter \"%s\" cannot be null", name)));
}

/*
 * Checks that trigger function fname was called by the trigger manager as
 * a BEFORE ... FOR EACH ROW trigger (before_row) or as an AFTER ... FOR
 * EACH STATEMENT one, which message part when names; returns its
 * TriggerData.  Misuse is the user's error (39P01), as ri_CheckTrigger
 * reports it.
 */
TriggerData *
rv_CheckTriggerCall(FunctionCallInfo fcinfo, const char *fname,
					bool before_row, const char *when)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" was not called by trigger manager",
						fname)));
	if (before_row ?
		!(TRIGGER_FIRED_BEFORE(trigdata->tg_event) &&
		  TRIGGER_FIRED_FOR_ROW(trigdata->tg_event)) :
		!(TRIGGER_FIRED_AFTER(trigdata->tg_event) &&
		  TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired %s", fname, when)));
	return trigdata;
}

/*
 * Opens relation relid, which a caller's function names, in lockmode: it
 * must exist, the current user must hold one of the privileges in modes on
 * it before anything is locked (UPDATE also counts when granted on some
 * column), and it must be an ordinary or partitioned table (42809 with
 * hint otherwise).
 */
Relation
rv_OpenTable(Oid relid, AclMode modes, LOCKMODE lockmode, const char *hint)
{
	Oid			userid = GetUserId();
	char		relkind = get_rel_relkind(relid);
	Relation	rel;

	if (relkind == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	if (pg_class_aclcheck(relid, userid, modes) != ACLCHECK_OK &&
		!((modes & ACL_UPDATE) &&
		  pg_attribute_aclcheck_all(relid, userid, ACL_UPDATE,
									ACLMASK_ANY) == ACLCHECK_OK))
		aclcheck_error(ACLCHECK_NO_PRIV, get_relkind_objtype(relkind),
					   get_rel_name(relid));

	rel = try_relation_open(relid, lockmode);
	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	if (rel->rd_rel->relkind != RELKIND_RELATION &&
		rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", RelationGetRelationName(rel)),
				 errhint("%s", hint)));
	return rel;
}

/*
 * Returns the user column of desc called name, or InvalidAttrNumber.
 */
AttrNumber
rv_FindColumn(TupleDesc desc, const char *name)
{
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return att->attnum;
	}
	return InvalidAttrNumber;
}

/*
 * Starts running code as owner the way PostgreSQL's maintenance commands
 * run a table owner's code: a restricted operation (plus sec_flags), in a
 * GUC nest level of its own with search_path pinned to pg_catalog and
 * pg_temp, so nothing the caller put in a schema or in pg_temp is looked
 * up.  What was there before goes into *save for rv_EndAsOwner(); an
 * error in between is undone by the transaction's abort.
 */
void
rv_BeginAsOwner(Oid owner, int sec_flags, RvAsOwner *save)
{
	GetUserIdAndSecContext(&save->userid, &save->sec_context);
	SetUserIdAndSecContext(owner,
						   save->sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION | sec_flags);
	save->nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
}

/* Returns to what rv_BeginAsOwner() saved in *save. */
void
rv_EndAsOwner(const RvAsOwner *save)
{
	AtEOXact_GUC(false, save->nestlevel);
	SetUserIdAndSecContext(save->userid, save->sec_context);
}

/*
 * Returns the largest version a column of type typid holds, or 0 when
 * versions cannot be kept in that type (only smallint, integer and bigint
 * can).
 */
int64
rv_VersionTypeMax(Oid typid)
{
	switch (typid)
	{
		case INT8OID:
			return PG_INT64_MAX;
		case INT4OID:
			return PG_INT32_MAX;
		case INT2OID:
			return PG_INT16_MAX;
		default:
			return 0;
	}
}

/*
 * Returns the tables whose statements reach the rows of relation relid:
 * the partitioned tables it is a partition of and the tables it inherits
 * from, directly or not, nearest first (breadth first), each once.  Rows
 * of relid are rows of each of them: an UPDATE or DELETE naming one of
 * them changes them, and what is registered for one of them (an If-Match
 * precondition) or granted on it (SELECT) speaks for them.
 *
 * On Citus, a shard's rows are its table's (rv_CitusShardTable): that
 * table and its own ancestors follow the shard's, so what is registered
 * for or granted on the table the user knows speaks for the shard that
 * holds the row, on the node that holds it.
 *
 * This is the extension's one answer to "which relations does this row
 * belong to"; every check that applies to a table and to the rows of its
 * partitions or inheritance children asks it.
 */
List *
rv_Ancestors(Oid relid)
{
	List	   *ancestors = rv_InheritanceAncestors(relid);
	RvCitusKind kind;
	Oid			table = rv_CitusShardTable(relid, &kind);

	if (OidIsValid(table))
	{
		ancestors = list_append_unique_oid(ancestors, table);
		ancestors = list_concat_unique_oid(ancestors,
										   rv_InheritanceAncestors(table));
	}
	return ancestors;
}

/*
 * rv_Ancestors() without Citus: the tables relid inherits from or is a
 * partition of, directly or not, nearest first, each once.
 */
static List *
rv_InheritanceAncestors(Oid relid)
{
	List	   *ancestors = NIL;
	Relation	inhrel = table_open(InheritsRelationId, AccessShareLock);
	int			next = 0;
	Oid			current = relid;

	for (;;)
	{
		ScanKeyData key;
		SysScanDesc scan;
		HeapTuple	tuple;

		ScanKeyInit(&key, Anum_pg_inherits_inhrelid, BTEqualStrategyNumber,
					F_OIDEQ, ObjectIdGetDatum(current));
		scan = systable_beginscan(inhrel, InheritsRelidSeqnoIndexId, true,
								  NULL, 1, &key);
		while (HeapTupleIsValid(tuple = systable_getnext(scan)))
		{
			Oid			parent = ((Form_pg_inherits) GETSTRUCT(tuple))->inhparent;

			if (parent != relid)
				ancestors = list_append_unique_oid(ancestors, parent);
		}
		systable_endscan(scan);
		if (next >= list_length(ancestors))
			break;
		current = list_nth_oid(ancestors, next++);
	}
	table_close(inhrel, AccessShareLock);
	return ancestors;
}

/*
 * Returns whether the current user holds privilege mode on column attnum
 * of relation relid, granted on the table or on the column.
 */
bool
rv_ColumnPrivilege(Oid relid, AttrNumber attnum, AclMode mode)
{
	Oid			userid = GetUserId();

	return pg_class_aclcheck(relid, userid, mode) == ACLCHECK_OK ||
		pg_attribute_aclcheck(relid, attnum, userid, mode) == ACLCHECK_OK;
}

/*
 * Returns whether column attnum of rel is readable by the current user
 * through rel or through one of ancestors (rv_Ancestors(rel)), on the
 * table or on the column of the same name.
 */
bool
rv_MaySelectColumn(Relation rel, List *ancestors, AttrNumber attnum)
{
	const char *attname = NameStr(TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attname);
	ListCell   *lc;

	if (rv_ColumnPrivilege(RelationGetRelid(rel), attnum, ACL_SELECT))
		return true;
	foreach(lc, ancestors)
	{
		AttrNumber	anc_attnum = get_attnum(lfirst_oid(lc), attname);

		if (anc_attnum != InvalidAttrNumber &&
			rv_ColumnPrivilege(lfirst_oid(lc), anc_attnum, ACL_SELECT))
			return true;
	}
	return false;
}

/*
 * Returns whether the current user may see columns attnums[0..n-1] of a
 * row of rel, so that a message may show their values (a version, a key).
 * That takes SELECT on each column, through rel or a table its rows belong
 * to (rv_Ancestors), and no row-level security on any of those tables
 * that applies to the user: a policy may hide this very row, and whether
 * it does is not worked out for a message.
 *
 * Every message, DETAIL or result that shows a value of a row asks this.
 */
bool
rv_MaySeeColumns(Relation rel, const AttrNumber *attnums, int n)
{
	List	   *ancestors = rv_Ancestors(RelationGetRelid(rel));
	ListCell   *lc;
	int			i;

	if (check_enable_rls(RelationGetRelid(rel), InvalidOid, true) == RLS_ENABLED)
		return false;
	foreach(lc, ancestors)
		if (check_enable_rls(lfirst_oid(lc), InvalidOid, true) == RLS_ENABLED)
			return false;
	for (i = 0; i < n; i++)
		if (!rv_MaySelectColumn(rel, ancestors, attnums[i]))
			return false;
	return true;
}

/*
 * Refuses to compare the version of a row of rel (column attnum) with a
 * claim when the current user may write that column in rel (or in a table
 * in ancestors, rv_Ancestors(rel)) but not read it there: the outcome --
 * written, or RV001 -- would tell the version it may not SELECT.  A write
 * that reaches rel without the user's own UPDATE right on the column (a
 * view's, a SECURITY DEFINER function's) is its owner's to allow, and is
 * not refused.  *state caches the answer for the statement: 0 at first,
 * then RV_COMPARE_ALLOWED.
 */
void
rv_CheckMayClaim(Relation rel, List *ancestors, AttrNumber attnum, int *state)
{
	const char *attname;
	bool		may_write;
	ListCell   *lc;

	if (*state == RV_COMPARE_ALLOWED)
		return;
	attname = NameStr(TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attname);
	may_write = rv_ColumnPrivilege(RelationGetRelid(rel), attnum, ACL_UPDATE);
	foreach(lc, ancestors)
	{
		AttrNumber	anc_attnum = get_attnum(lfirst_oid(lc), attname);

		if (anc_attnum != InvalidAttrNumber &&
			rv_ColumnPrivilege(lfirst_oid(lc), anc_attnum, ACL_UPDATE))
			may_write = true;
	}
	if (may_write && !rv_MaySelectColumn(rel, ancestors, attnum))
	{
		/* (looked up before the report starts: it may run a query) */
		const char *relname = rv_TableName(rel);

		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to compare row versions of table \"%s\"",
						relname),
				 errdetail("A claim compares the row's version, which takes SELECT on column \"%s\".",
						   attname),
				 rv_errtablecol(rel, attnum)));
	}
	*state = RV_COMPARE_ALLOWED;
}

/*
 * The level of a conflict or of a missing version on a table whose row
 * trigger enforces (ERROR) or only logs them (WARNING: enable()'s
 * enforce => false).  A warning carries what the error would have: the
 * same SQLSTATE, message, DETAIL, HINT and object fields.
 */
#define RV_LEVEL(enforce)	((enforce) ? ERROR : WARNING)

/*
 * Whether a conflict's message may show the row's version: to a caller who
 * may read it (rv_MaySeeColumns), and for a warning (log-only) also only
 * when no SECURITY DEFINER function runs in between: an error can be
 * caught by the function whose owner may read the version, a warning goes
 * to the client that called it.
 */
static bool
rv_MayShowVersion(Relation rel, AttrNumber attnum, bool enforce)
{
	return rv_MaySeeColumns(rel, &attnum, 1) &&
		(enforce || GetUserId() == GetOuterUserId());
}

/*
 * Reports that the version a writer expected or claimed is not the row's
 * current one (RV001, or PT412): an error when enforce, else a warning,
 * counted for the table (conflicts.c), after which the caller lets the
 * write go on.  The row's key is not shown, and its current version only
 * to a caller who may read the version column.
 */
void
rv_HandleConflict(Relation rel, AttrNumber attnum, int64 expected,
				  int64 current, bool current_isnull, bool enforce)
{
	/* (looked up before the report starts: it may run a query) */
	const char *relname = rv_TableName(rel);
	if (enforce || rv_MayWarn())
		ereport(RV_LEVEL(enforce),
			(errcode(rv_sqlstate_style == RV_STYLE_POSTGREST ?
					 RV_SQLSTATE_PT_CONFLICT : RV_SQLSTATE_CONFLICT),
			 errmsg("row version conflict on table \"%s\"",
					relname),
			 !rv_MayShowVersion(rel, attnum, enforce) ?
			 errdetail("The row is not at version %lld.", (long long) expected) :
			 current_isnull ?
			 errdetail("Expected version %lld, but the row has no version.",
					   (long long) expected) :
			 errdetail("Expected version %lld, but the row is at version %lld.",
					   (long long) expected, (long long) current),
			 errhint("Read the row again and reapply the change."),
			 rv_errtablecol(rel, attnum)));
	rv_CountConflict(rel, RV_COUNT_CONFLICT);
}

/*
 * Raises RV001 (or PT412), whatever the table's enforce: the conflicts of
 * explicit conditional writes (conditional_update(), conditional_delete()),
 * which exist to fail and are never only logged.
 */
void
rv_ReportConflict(Relation rel, AttrNumber attnum,
				  int64 expected, int64 current, bool current_isnull)
{
	rv_HandleConflict(rel, attnum, expected, current, current_isnull, true);
	pg_unreachable();
}

/*
 * Reports a row that an If-Match precondition registered with
 * expect_match() does not hold for (RV001, or PT412): an error when
 * enforce, else a warning counted as a conflict (rv_HandleConflict()).
 */
void
rv_HandlePreconditionFailed(Relation rel, AttrNumber attnum,
							const char *header, int64 current,
							bool current_isnull, bool enforce)
{
	/* (looked up before the report starts: it may run a query) */
	const char *relname = rv_TableName(rel);
	int			code = rv_sqlstate_style == RV_STYLE_POSTGREST ?
		RV_SQLSTATE_PT_CONFLICT : RV_SQLSTATE_CONFLICT;

	/* the client's header, shortened for the message */
	if (strlen(header) > RV_HEADER_SHOWN)
		header = psprintf("%s...", pnstrdup(header, pg_mbcliplen(header, strlen(header),
																  RV_HEADER_SHOWN)));

	if (enforce || rv_MayWarn())
		ereport(RV_LEVEL(enforce),
			(errcode(code),
			 errmsg("row version conflict on table \"%s\"",
					relname),
			 !rv_MayShowVersion(rel, attnum, enforce) ?
			 errdetail("Expected If-Match: %s, which the row's version does not match.",
					   header) :
			 current_isnull ?
			 errdetail("Expected If-Match: %s, but the row has no version.",
					   header) :
			 errdetail("Expected If-Match: %s, but the row is at version %lld.",
					   header, (long long) current),
			 errhint("Read the row again and reapply the change."),
			 rv_errtablecol(rel, attnum)));
	rv_CountConflict(rel, RV_COUNT_CONFLICT);
}

/*
 * Reports an UPDATE of a require_version table that claimed no version
 * (RV002, or PT428): an error when enforce, else a warning counted as a
 * missing version (rv_HandleConflict()).
 */
void
rv_HandleVersionRequired(Relation rel, AttrNumber attnum, bool enforce)
{
	/* (looked up before the report starts: it may run a query) */
	const char *relname = rv_TableName(rel);
	if (enforce || rv_MayWarn())
		ereport(RV_LEVEL(enforce),
			(errcode(rv_sqlstate_style == RV_STYLE_POSTGREST ?
					 RV_SQLSTATE_PT_REQUIRED : RV_SQLSTATE_REQUIRED),
			 errmsg("row version required to update table \"%s\"",
					relname),
			 errdetail("The table requires every update to claim the version it read."),
			 errhint("Set column \"%s\" to the version you read, in the same UPDATE.",
					 NameStr(TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attname)),
			 rv_errtablecol(rel, attnum)));
	rv_CountConflict(rel, RV_COUNT_VERSION_MISSING);
}

/*
 * Reports that a conditional write found no row with the given key (RV003,
 * or PT404).  key describes it as "(a, b)=(1, 2)", or is NULL when the
 * caller may not see the key's values.
 */
void
rv_ReportNotFound(Relation rel, const char *key)
{
	ereport(ERROR,
			(errcode(rv_sqlstate_style == RV_STYLE_POSTGREST ?
					 RV_SQLSTATE_PT_NOT_FOUND : RV_SQLSTATE_NOT_FOUND),
			 errmsg("row not found in table \"%s\"",
					RelationGetRelationName(rel)),
			 key ? errdetail("Key %s does not exist.", key) : 0,
			 errtable(rel)));
	pg_unreachable();
}

/*
 * Returns the row trigger that rowversion.enable() created on rel (or that
 * PostgreSQL cloned onto it from a partitioned parent), or NULL.  nsp is
 * the extension's schema, where its trigger function lives.
 */
Trigger *
rv_FindVersionTrigger(Relation rel, Oid nsp)
{
	TriggerDesc *trigdesc = rel->trigdesc;
	int			i;

	for (i = 0; trigdesc != NULL && i < trigdesc->numtriggers; i++)
	{
		Trigger    *tg = &trigdesc->triggers[i];
		char	   *fname;

		if (get_func_namespace(tg->tgfoid) != nsp)
			continue;
		fname = get_func_name(tg->tgfoid);
		if (fname != NULL && strcmp(fname, "version_trigger") == 0 &&
			tg->tgnargs >= 1)
			return tg;
	}
	return NULL;
}

/*
 * Refuses a write (or a precondition) that relies on a row trigger that
 * would not fire: one disabled, not firing under the session's
 * session_replication_role, or firing only for some rows or columns
 * (conditional: a WHEN condition or UPDATE OF columns, which enable()
 * never makes).  The row would keep its version, and a second write at the
 * same version would pass.
 */
void
rv_CheckTriggerFires(Relation rel, char tgenabled, const char *tgname,
					 bool conditional)
{
	bool		replica = SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA;

	if (conditional)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("row versions of table \"%s\" are not being kept",
						RelationGetRelationName(rel)),
				 errdetail("Trigger \"%s\" fires only for some rows or columns.", tgname),
				 errhint("Call rowversion.enable() on it again to recreate the trigger."),
				 errtable(rel)));
	if (tgenabled == TRIGGER_FIRES_ALWAYS ||
		(replica ? tgenabled == TRIGGER_FIRES_ON_REPLICA :
		 tgenabled == TRIGGER_FIRES_ON_ORIGIN))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("row versions of table \"%s\" are not being kept",
					RelationGetRelationName(rel)),
			 tgenabled == TRIGGER_DISABLED ?
			 errdetail("Trigger \"%s\" is disabled.", tgname) :
			 errdetail("Trigger \"%s\" does not fire while session_replication_role is \"%s\".",
					   tgname, replica ? "replica" : "origin"),
			 errtable(rel)));
}

/*
 * Returns the trigger depth (pg_trigger_depth()): 1 in a trigger that the
 * client's statement fired -- a statement the client sent, or one that a
 * function the client's statement called ran -- and more in a trigger
 * fired by a statement that another trigger ran (a foreign key's cascade,
 * propagate()'s bump, the application's triggers).
 */
int
rv_TriggerDepth(void)
{
	return DatumGetInt32(OidFunctionCall0Coll(F_PG_TRIGGER_DEPTH, InvalidOid));
}
