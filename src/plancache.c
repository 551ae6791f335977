/*-------------------------------------------------------------------------
 *
 * plancache.c
 *	  The statements a conditional write runs, prepared through SPI and
 *	  cached per table, statement and set of changed columns:
 *
 *	 UPDATE [ONLY] "s"."t" AS t SET "c" = $5, ..., "row_version" = $2
 *	  WHERE t."k" OPERATOR(<schema>.=) $1 (cast as the operator needs)
 *	    AND t."row_version" = $2
 *	 RETURNING t."row_version"
 *
 * and the DELETE, the SELECT of the row's version (also FOR [NO KEY]
 * UPDATE, which conditional_write() locks its rows with) and the SELECT of
 * the row as jsonb that conditional_write() reports a conflict with, all
 * by the same key qualification.
 *
 * Each changed column's new value arrives as a parameter of its own type
 * (jsoninput.c converts it, arrays and composites too), so Citus plans the
 * statement as it plans any UPDATE with parameters.  Setting the version
 * column makes the UPDATE a claim, so the row trigger assigns the next
 * version and require_version is satisfied.
 *
 * Plans are cached the way ri_triggers.c caches its queries: in a hash
 * table keyed by a fixed-size struct, kept with SPI_keepplan(), checked
 * with SPI_plan_is_valid() before reuse and built again from the catalogs
 * when DDL invalidated them.  The cache is bounded: when full, an entry
 * makes room for the new one.
 *
 *-------------------------------------------------------------------------
 */
#include "conditional.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/nbtree.h"
#include "access/tupdesc.h"
#include "funcapi.h"
#include "nodes/makefuncs.h"
#include "access/stratnum.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"

/* past this many entries, one is dropped to make room for the next */
#define RV_MAX_CACHED_PLANS		256

static HTAB *rv_plan_cache = NULL;

/*
 * Fills entry's target from the catalogs: the primary key (and its
 * columns' input functions, in the entry's context) and the version column
 * that the table's row trigger keeps.  Refuses a table whose row versions
 * are not kept, one with rules and one without a primary key.  fn_oid is the calling function, whose schema is the extension's.
 */
static void
rv_DescribeTarget(Relation rel, Oid fn_oid, RvPlanEntry *entry)
{
	RvTarget   *target = &entry->target;
	Trigger    *trigger;
	Relation	index;
	Oid			pkoid;
	int			i;

	memset(target, 0, sizeof(RvTarget));

	trigger = rv_FindVersionTrigger(rel, get_func_namespace(fn_oid));
	if (trigger == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" does not keep row versions",
						RelationGetRelationName(rel)),
				 errhint("Call rowversion.enable() on it first.")));
	target->tgenabled = trigger->tgenabled;
	target->tgconditional = RV_TRIGGER_CONDITIONAL(trigger);
	namestrcpy(&target->tgname, trigger->tgname);
	if (rel->rd_rel->relhasrules)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot write conditionally to table \"%s\" because it has rules",
						RelationGetRelationName(rel)),
				 errdetail("A rule could turn the statement into something other than one UPDATE or DELETE of the row."),
				 errtable(rel)));

	target->version_attnum = rv_FindColumn(RelationGetDescr(rel),
										   rv_VersionColumnName(trigger));
	if (target->version_attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("version column \"%s\" of table \"%s\" does not exist",
						rv_VersionColumnName(trigger), RelationGetRelationName(rel)),
				 errhint("Call rowversion.enable() to name the version column again.")));
	target->version_max =
		rv_VersionTypeMax(TupleDescAttr(RelationGetDescr(rel),
										target->version_attnum - 1)->atttypid);
	if (target->version_max == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("version column \"%s\" of table \"%s\" is not an integer column",
						rv_VersionColumnName(trigger), RelationGetRelationName(rel))));

	/* RelationGetIndexList() sets rd_pkindex */
	list_free(RelationGetIndexList(rel));
	pkoid = rel->rd_pkindex;
	if (!OidIsValid(pkoid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" has no primary key",
						RelationGetRelationName(rel)),
				 errhint("Conditional writes find the row by its primary key.")));

	index = index_open(pkoid, AccessShareLock);
	target->nkeys = index->rd_index->indnkeyatts;
	entry->keyinputs = (FmgrInfo *) MemoryContextAlloc(entry->cxt, sizeof(FmgrInfo) * target->nkeys);
	entry->keyioparams = (Oid *) MemoryContextAlloc(entry->cxt, sizeof(Oid) * target->nkeys);
	for (i = 0; i < target->nkeys; i++)
	{
		AttrNumber	attnum = index->rd_index->indkey.values[i];
		Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
		Oid			infunc;

		target->keyattnums[i] = attnum;
		target->keytypes[i] = att->atttypid;
		target->keyjson[i] = rv_IsJsonType(att->atttypid);
		target->keycmp[i] = get_opfamily_proc(index->rd_opfamily[i],
											  index->rd_opcintype[i],
											  index->rd_opcintype[i],
											  BTORDER_PROC);
		if (!OidIsValid(target->keycmp[i]))
			elog(ERROR, "missing comparison function for type %u in operator family %u",
				 index->rd_opcintype[i], index->rd_opfamily[i]);
		target->keycoll[i] = index->rd_indcollation[i];
		getTypeInputInfo(att->atttypid, &infunc, &entry->keyioparams[i]);
		fmgr_info_cxt(infunc, &entry->keyinputs[i], entry->cxt);
	}
	index_close(index, AccessShareLock);
}

/*
 * Appends the WHERE clause that finds the row by its primary key, with
 * parameters $1..$nkeys, comparing each column with the equality operator
 * of its index operator family, schema-qualified and with both sides cast
 * to that operator's input types (as ri_GenerateQual does): citext or
 * domain keys compare as their index does, and no look-alike operator can
 * be chosen instead.
 */
static void
rv_AppendKeyQual(StringInfo buf, Relation rel, RvTarget *target)
{
	Relation	index = index_open(rel->rd_pkindex, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	for (i = 0; i < target->nkeys; i++)
	{
		Oid			opno = get_opfamily_member(index->rd_opfamily[i],
											   index->rd_opcintype[i],
											   index->rd_opcintype[i],
											   BTEqualStrategyNumber);
		char		column[NAMEDATALEN * 2 + 8];
		char		param[16];

		if (!OidIsValid(opno))
			elog(ERROR, "missing equality operator for type %u in operator family %u",
				 index->rd_opcintype[i], index->rd_opfamily[i]);
		snprintf(column, sizeof(column), "t.%s",
				 quote_identifier(NameStr(TupleDescAttr(desc, target->keyattnums[i] - 1)->attname)));
		snprintf(param, sizeof(param), "$%d", i + 1);
		if (i > 0)
			appendStringInfoString(buf, " AND ");
		/* casts both sides to the operator's input types, as ri_triggers.c */
		generate_operator_clause(buf, column, target->keytypes[i], opno,
								 param, target->keytypes[i]);
	}
	index_close(index, AccessShareLock);
}

/*
 * Makes col convert its JSON value exactly as
 * jsonb_to_record(changes) AS r(<column> <type>(<typmod>)) does: with
 * jsonb_populate_record(base, changes), where base is a record of one
 * attribute, named, typed and typmodded as the column (att), whose value
 * is NULL, so nothing of it is kept (a nested composite is populated from
 * scratch) and domain constraints and typmods apply as they do there.
 * base is of an anonymous record type registered in this backend
 * (BlessTupleDesc); the call's expression says its first argument is a
 * record, so the function takes the type from base itself.  Both live in
 * cxt; each call gets its own cache (see rv_ChangeValues).
 */
static void
rv_PreparePopulate(RvColumnInput *col, Form_pg_attribute att, MemoryContext cxt)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	TupleDesc	desc = CreateTemplateTupleDesc(1);
	Datum		value = (Datum) 0;
	bool		isnull = true;
	FuncExpr   *call;

	TupleDescInitEntry(desc, (AttrNumber) 1, NameStr(att->attname),
					   att->atttypid, att->atttypmod, 0);
	desc = BlessTupleDesc(desc);
	col->base = HeapTupleGetDatum(heap_form_tuple(desc, &value, &isnull));

	call = makeFuncExpr(F_JSONB_POPULATE_RECORD, RECORDOID,
						list_make2(makeNullConst(RECORDOID, -1, InvalidOid),
								   makeNullConst(JSONBOID, -1, InvalidOid)),
						InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	fmgr_info_cxt(F_JSONB_POPULATE_RECORD, &col->input, cxt);
	fmgr_info_set_expr((Node *) call, &col->input);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * Prepares the statement entry->key names for the table, and keeps it
 * (SPI_keepplan) when keep.  Its parameters: the key columns, the expected
 * version (bigint), changes (jsonb), then one per changed column, of the
 * column's type.  The entry's memory context is made here, under the
 * current one; the caller moves it to a long-lived parent when it keeps
 * the entry.
 */
static void
rv_BuildPlan(Relation rel, Oid fn_oid, RvPlanEntry *entry,
			 int ncols, const AttrNumber *cols, bool keep)
{
	RvTarget   *target = &entry->target;
	TupleDesc	desc = RelationGetDescr(rel);
	StringInfoData sql;
	Oid		   *argtypes;
	int			nargs;
	const char *only;
	char	   *qrel;
	const char *vcol;
	int			vparam;
	int			i;

	entry->cxt = AllocSetContextCreate(CurrentMemoryContext,
									   "rowversion statement",
									   ALLOCSET_SMALL_SIZES);
	rv_DescribeTarget(rel, fn_oid, entry);

	/* an inheritance parent's children are other tables, partitions are not */
	only = rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE ? "" : "ONLY ";
	qrel = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
									  RelationGetRelationName(rel));
	vcol = quote_identifier(NameStr(TupleDescAttr(desc, target->version_attnum - 1)->attname));
	vparam = target->nkeys + 1;
	argtypes = (Oid *) palloc(sizeof(Oid) * (target->nkeys + 2 + ncols));
	for (i = 0; i < target->nkeys; i++)
		argtypes[i] = target->keytypes[i];
	argtypes[vparam - 1] = INT8OID;
	argtypes[vparam] = JSONBOID;

	initStringInfo(&sql);
	switch ((RvStatement) entry->key.stmt)
	{
		case RV_STMT_UPDATE:
			entry->ncols = ncols;
			entry->columns = (RvColumnInput *)
				MemoryContextAllocZero(entry->cxt, sizeof(RvColumnInput) * Max(ncols, 1));
			appendStringInfo(&sql, "UPDATE %s%s AS t SET ", only, qrel);
			for (i = 0; i < ncols; i++)
			{
				Form_pg_attribute att = TupleDescAttr(desc, cols[i] - 1);
				RvColumnInput *col = &entry->columns[i];
				const char *name = quote_identifier(NameStr(att->attname));
				Oid			base = getBaseType(att->atttypid);
				Oid			infunc;

				if (cols[i] == target->version_attnum)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("cannot set version column \"%s\" through changes",
									NameStr(att->attname)),
							 errhint("Pass the version you read as expected_version; the new version is assigned.")));

				col->attnum = cols[i];
				col->populate = OidIsValid(get_element_type(base)) || type_is_rowtype(base);
				col->json = rv_IsJsonType(att->atttypid);
				col->typmod = att->atttypmod;
				if (col->populate)
					rv_PreparePopulate(col, att, entry->cxt);
				else
				{
					getTypeInputInfo(att->atttypid, &infunc, &col->ioparam);
					fmgr_info_cxt(infunc, &col->input, entry->cxt);
				}
				argtypes[vparam + 1 + i] = att->atttypid;
				appendStringInfo(&sql, "%s = $%d, ", name, vparam + 2 + i);
			}
			/* writing the version column makes the UPDATE a claim */
			appendStringInfo(&sql, "%s = $%d", vcol, vparam);
			nargs = vparam + 1 + ncols;
			break;
		case RV_STMT_DELETE:
			appendStringInfo(&sql, "DELETE FROM %s%s AS t", only, qrel);
			nargs = vparam;
			break;
		case RV_STMT_CURRENT:
			/* r's columns are named as the table's: to_jsonb(r) keys them */
			/* r.*, not r: a column named r would be taken instead */
			appendStringInfo(&sql, "SELECT t.%s::pg_catalog.int8, pg_catalog.to_jsonb(r.*) "
							 "FROM %s%s AS t CROSS JOIN LATERAL (SELECT ",
							 vcol, only, qrel);
			for (i = 0; i < ncols; i++)
			{
				const char *name = quote_identifier(NameStr(TupleDescAttr(desc, cols[i] - 1)->attname));

				appendStringInfo(&sql, "%st.%s AS %s", i > 0 ? ", " : "", name, name);
			}
			appendStringInfoString(&sql, ") AS r");
			nargs = target->nkeys;
			break;
		default:
			appendStringInfo(&sql, "SELECT t.%s::pg_catalog.int8 FROM %s%s AS t",
							 vcol, only, qrel);
			nargs = target->nkeys;
			break;
	}
	appendStringInfoString(&sql, " WHERE ");
	rv_AppendKeyQual(&sql, rel, target);
	switch ((RvStatement) entry->key.stmt)
	{
		case RV_STMT_UPDATE:
			appendStringInfo(&sql, " AND t.%s OPERATOR(pg_catalog.=) $%d", vcol, vparam);
			appendStringInfo(&sql, " RETURNING t.%s::pg_catalog.int8", vcol);
			break;
		case RV_STMT_DELETE:
			appendStringInfo(&sql, " AND t.%s OPERATOR(pg_catalog.=) $%d", vcol, vparam);
			break;
		case RV_STMT_LOCK:
			appendStringInfoString(&sql, " FOR NO KEY UPDATE OF t");
			break;
		case RV_STMT_LOCK_KEY:
			appendStringInfoString(&sql, " FOR UPDATE OF t");
			break;
		default:
			break;
	}

	entry->plan = SPI_prepare(sql.data, nargs, argtypes);
	if (entry->plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s",
			 sql.data, SPI_result_code_string(SPI_result));
	if (keep)
		SPI_keepplan(entry->plan);
}

/*
 * Frees what an entry holds: its plan and its memory context.
 */
void
rv_ReleaseEntry(RvPlanEntry *entry)
{
	if (entry->plan != NULL)
		SPI_freeplan(entry->plan);
	if (entry->cxt != NULL)
		MemoryContextDelete(entry->cxt);
	entry->plan = NULL;
	entry->cxt = NULL;
}

/*
 * Makes room in the full cache by dropping one entry (the first the hash
 * table yields, which is as good as any).
 */
static void
rv_EvictPlan(void)
{
	HASH_SEQ_STATUS status;
	RvPlanEntry *entry;

	hash_seq_init(&status, rv_plan_cache);
	entry = (RvPlanEntry *) hash_seq_search(&status);
	if (entry == NULL)
		return;
	hash_seq_term(&status);
	rv_ReleaseEntry(entry);
	hash_search(rv_plan_cache, &entry->key, HASH_REMOVE, NULL);
}

/*
 * Returns the entry for key with a valid plan: the cached one when no DDL
 * invalidated it, else one built again from the catalogs.  cols lists the
 * changed columns (all ncols of them).  A key with too many columns to
 * cache, or a call nested in the execution of a cached statement, gets an
 * entry in *scratch, which the caller releases.
 */
static RvPlanEntry *
rv_GetPlan(Relation rel, Oid fn_oid, RvPlanKey *key, int ncols,
		   const AttrNumber *cols, bool nested, RvPlanEntry *scratch)
{
	RvPlanEntry *entry;

	memset(scratch, 0, sizeof(RvPlanEntry));
	scratch->key = *key;
	if (ncols > RV_MAX_CACHED_COLUMNS || nested)
	{
		rv_BuildPlan(rel, fn_oid, scratch, ncols, cols, false);
		return scratch;
	}

	if (rv_plan_cache == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(RvPlanKey);
		ctl.entrysize = sizeof(RvPlanEntry);
		rv_plan_cache = hash_create("rowversion plan cache", RV_MAX_CACHED_PLANS,
									&ctl, HASH_ELEM | HASH_BLOBS);
	}

	entry = (RvPlanEntry *) hash_search(rv_plan_cache, key, HASH_FIND, NULL);
	if (entry != NULL)
	{
		if (entry->plan != NULL && SPI_plan_is_valid(entry->plan))
			return entry;
		/* DDL changed the table: build the statement again */
		rv_ReleaseEntry(entry);
		hash_search(rv_plan_cache, key, HASH_REMOVE, NULL);
	}
	else if (hash_get_num_entries(rv_plan_cache) >= RV_MAX_CACHED_PLANS)
		rv_EvictPlan();

	/* build first, so an error leaves no half-filled entry behind */
	rv_BuildPlan(rel, fn_oid, scratch, ncols, cols, true);
	MemoryContextSetParent(scratch->cxt, CacheMemoryContext);
	entry = (RvPlanEntry *) hash_search(rv_plan_cache, key, HASH_ENTER, NULL);
	*entry = *scratch;
	return entry;
}

/*
 * Returns the entry of statement stmt for the table and changed columns
 * (cols, sorted), with a valid plan.  A cached entry lives until a later
 * call evicts or rebuilds it: use it before asking for another.  One for
 * too many columns to cache, or asked for by a write nested in another
 * (nested: from a trigger, or a domain check in its input, while an
 * entry is in use) is made in *scratch, which the caller releases with
 * rv_ReleaseEntry().
 */
RvPlanEntry *
rv_GetStatement(Relation rel, Oid fn_oid, RvStatement stmt, int ncols,
				const AttrNumber *cols, bool nested, RvPlanEntry *scratch)
{
	RvPlanKey	key;

	memset(&key, 0, sizeof(key));
	key.relid = RelationGetRelid(rel);
	key.stmt = stmt;
	key.ncols = Min(ncols, RV_MAX_CACHED_COLUMNS);
	if (key.ncols > 0)
		memcpy(key.cols, cols, sizeof(AttrNumber) * key.ncols);
	return rv_GetPlan(rel, fn_oid, &key, ncols, cols, nested, scratch);
}
