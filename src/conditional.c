/*-------------------------------------------------------------------------
 *
 * conditional.c
 *	  rowversion.conditional_update() and rowversion.conditional_delete():
 *	  change or delete one row, found by its primary key, only while it is
 *	  still at the version the caller expects.
 *
 * Each call runs one statement through SPI, as the caller, so privileges
 * and row-level security apply:
 *
 *	 UPDATE [ONLY] "s"."t" AS t SET "c" = $5, ..., "row_version" = $2
 *	  WHERE t."k" OPERATOR(<schema>.=) $1 (cast as the operator needs)
 *	    AND t."row_version" = $2
 *	 RETURNING t."row_version"
 *
 * Each changed column's new value arrives as a parameter of its own type,
 * converted here from the JSON value by the rules of jsonb_populate_record;
 * array and composite columns are converted in the statement by
 * pg_catalog.jsonb_to_record($3).  PostgreSQL re-checks the WHERE clause
 * against a row a concurrent transaction changed, under the row lock;
 * setting the version column makes the UPDATE a claim, so the row trigger
 * assigns the next version and require_version is satisfied.  When no row
 * is touched a second statement tells a row at another version (RV001)
 * from no row the caller may write (RV003).
 *
 * Plans are cached the way ri_triggers.c caches its queries: in a hash
 * table keyed by a fixed-size struct (the relation, the statement and the
 * set of changed columns), kept with SPI_keepplan(), checked with
 * SPI_plan_is_valid() before reuse and built again from the catalogs when
 * DDL invalidated them.  The cache is bounded: when full, an entry makes
 * room for the new one.  A conditional write that runs while another one
 * is in progress (from a trigger, or a domain check in its input) plans
 * without the cache, so no entry is freed while a caller still uses it.
 *
 *-------------------------------------------------------------------------
 */
#include "rowversion.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(conditional_update);
PG_FUNCTION_INFO_V1(conditional_delete);

/* changed-column sets larger than this are planned for each call */
#define RV_MAX_CACHED_COLUMNS	64
/* past this many entries, one is dropped to make room for the next */
#define RV_MAX_CACHED_PLANS		256

/* The statements a conditional write runs. */
typedef enum RvStatement
{
	RV_STMT_UPDATE,				/* the conditional UPDATE ... RETURNING */
	RV_STMT_DELETE,				/* the conditional DELETE */
	RV_STMT_FIND				/* SELECT of the row's version by key */
} RvStatement;

/* Identifies a cached plan; memset to zero before filling (hashed as bytes). */
typedef struct RvPlanKey
{
	Oid			relid;
	int16		stmt;			/* RvStatement */
	int16		ncols;			/* number of changed columns */
	AttrNumber	cols[RV_MAX_CACHED_COLUMNS];	/* changed columns, sorted */
} RvPlanKey;

/* What a conditional write needs to know of its table. */
typedef struct RvTarget
{
	int			nkeys;			/* primary key columns */
	AttrNumber	keyattnums[INDEX_MAX_KEYS];
	Oid			keytypes[INDEX_MAX_KEYS];
	int32		keytypmods[INDEX_MAX_KEYS];
	bool		keyjson[INDEX_MAX_KEYS];	/* json or jsonb (or a domain over one) */
	FmgrInfo   *keyinputs;		/* their types' input functions */
	Oid		   *keyioparams;
	AttrNumber	version_attnum; /* the version column */
	int64		version_max;	/* largest value its type holds */
	char		tgenabled;		/* the row trigger's pg_trigger.tgenabled */
	bool		tgconditional;	/* whether it has a WHEN condition or columns */
	NameData	tgname;
} RvTarget;

/*
 * How the new value of one changed column is made from its JSON value, by
 * the rules of jsonb_populate_record: arrays and composites are converted
 * in the statement by jsonb_to_record; every other type's input function
 * reads the JSON value's text here (json and jsonb read it as JSON).
 */
typedef struct RvColumnInput
{
	AttrNumber	attnum;
	bool		populate;		/* array or composite: done in SQL */
	bool		json;			/* json or jsonb, or a domain over one */
	Oid			ioparam;
	int32		typmod;
	FmgrInfo	input;
} RvColumnInput;

/*
 * A cache entry: one statement, and what it knows of the table.  The
 * FmgrInfos it points to live in cxt, which goes with the entry.
 */
typedef struct RvPlanEntry
{
	RvPlanKey	key;
	RvTarget	target;
	SPIPlanPtr	plan;
	MemoryContext cxt;
	int			ncols;			/* changed columns (UPDATE) */
	RvColumnInput *columns;		/* one per changed column, by attnum */
} RvPlanEntry;

static HTAB *rv_plan_cache = NULL;

/* how many conditional writes are in progress in this backend */
static int	rv_active = 0;

/*
 * Opens the table a conditional write targets, with the lock the write
 * will take.  The caller must hold the privilege the write needs (UPDATE on
 * the table or some column of it, or DELETE) before anything is locked, and
 * the relation must be an ordinary or partitioned table.
 */
static Relation
rv_OpenTable(Oid relid, RvStatement stmt)
{
	Oid			userid = GetUserId();
	Relation	rel;
	char		relkind;

	relkind = get_rel_relkind(relid);
	if (relkind == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));

	if (stmt == RV_STMT_UPDATE ?
		(pg_class_aclcheck(relid, userid, ACL_UPDATE) != ACLCHECK_OK &&
		 pg_attribute_aclcheck_all(relid, userid, ACL_UPDATE,
								   ACLMASK_ANY) != ACLCHECK_OK) :
		pg_class_aclcheck(relid, userid, ACL_DELETE) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, get_relkind_objtype(relkind),
					   get_rel_name(relid));

	rel = try_relation_open(relid, RowExclusiveLock);
	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));

	if (rel->rd_rel->relkind != RELKIND_RELATION &&
		rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", RelationGetRelationName(rel)),
				 errhint("Only tables whose row versions rowversion.enable() keeps can be written conditionally.")));
	return rel;
}

/*
 * Returns the columns that changes (a jsonb object) sets, sorted, and
 * their number in *ncols.  Unknown columns, generated columns and identity
 * columns GENERATED ALWAYS are refused.
 */
static AttrNumber *
rv_ChangedColumns(Relation rel, Jsonb *changes, int *ncols)
{
	TupleDesc	desc = RelationGetDescr(rel);
	AttrNumber *cols;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			n = 0;

	if (!JB_ROOT_IS_OBJECT(changes))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("changes must be a JSON object"),
				 errhint("Pass an object of column names and new values, such as '{\"name\": \"Ada\"}'.")));

	cols = (AttrNumber *) palloc(sizeof(AttrNumber) * (JB_ROOT_COUNT(changes) + 1));
	it = JsonbIteratorInit(&changes->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *name;
		AttrNumber	attnum;
		Form_pg_attribute att;
		int			i;

		if (tok != WJB_KEY)
			continue;
		name = pnstrdup(v.val.string.val, v.val.string.len);
		attnum = rv_FindColumn(desc, name);
		if (attnum == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of relation \"%s\" does not exist",
							name, RelationGetRelationName(rel))));
		att = TupleDescAttr(desc, attnum - 1);
		if (att->attgenerated)
			ereport(ERROR,
					(errcode(ERRCODE_GENERATED_ALWAYS),
					 errmsg("cannot set generated column \"%s\"", name)));
		if (att->attidentity == ATTRIBUTE_IDENTITY_ALWAYS)
			ereport(ERROR,
					(errcode(ERRCODE_GENERATED_ALWAYS),
					 errmsg("cannot set identity column \"%s\"", name),
					 errdetail("Column \"%s\" is an identity column defined as GENERATED ALWAYS.",
							   name)));

		/* insertion sort: keys arrive in jsonb's order, not attnum's */
		for (i = n; i > 0 && cols[i - 1] > attnum; i--)
			cols[i] = cols[i - 1];
		cols[i] = attnum;
		n++;
	}
	*ncols = n;
	return cols;
}

/*
 * Returns whether typid is json or jsonb, or a domain over one.
 */
static bool
rv_IsJsonType(Oid typid)
{
	Oid			base = getBaseType(typid);

	return base == JSONOID || base == JSONBOID;
}

/*
 * Fills target from the catalogs: the primary key and the version column
 * that the table's row trigger keeps.  Refuses a table whose row versions
 * are not kept, one with rules and one without a primary key.  fn_oid is the calling function, whose schema is the extension's.
 */
static void
rv_DescribeTarget(Relation rel, Oid fn_oid, RvTarget *target, MemoryContext cxt)
{
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
										   trigger->tgargs[0]);
	if (target->version_attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("version column \"%s\" of table \"%s\" does not exist",
						trigger->tgargs[0], RelationGetRelationName(rel)),
				 errhint("Call rowversion.enable() to name the version column again.")));
	target->version_max =
		rv_VersionTypeMax(TupleDescAttr(RelationGetDescr(rel),
										target->version_attnum - 1)->atttypid);
	if (target->version_max == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("version column \"%s\" of table \"%s\" is not an integer column",
						trigger->tgargs[0], RelationGetRelationName(rel))));

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
	target->keyinputs = (FmgrInfo *) MemoryContextAlloc(cxt, sizeof(FmgrInfo) * target->nkeys);
	target->keyioparams = (Oid *) MemoryContextAlloc(cxt, sizeof(Oid) * target->nkeys);
	for (i = 0; i < target->nkeys; i++)
	{
		AttrNumber	attnum = index->rd_index->indkey.values[i];
		Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
		Oid			infunc;

		target->keyattnums[i] = attnum;
		target->keytypes[i] = att->atttypid;
		target->keytypmods[i] = att->atttypmod;
		target->keyjson[i] = rv_IsJsonType(att->atttypid);
		getTypeInputInfo(att->atttypid, &infunc, &target->keyioparams[i]);
		fmgr_info_cxt(infunc, &target->keyinputs[i], cxt);
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
	rv_DescribeTarget(rel, fn_oid, target, entry->cxt);

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
				getTypeInputInfo(att->atttypid, &infunc, &col->ioparam);
				fmgr_info_cxt(infunc, &col->input, entry->cxt);
				argtypes[vparam + 1 + i] = att->atttypid;

				if (col->populate)
					appendStringInfo(&sql, "%s = (SELECT r.%s FROM pg_catalog.jsonb_to_record($%d) AS r(%s %s)), ",
									 name, name, vparam + 1, name,
									 format_type_extended(att->atttypid, att->atttypmod,
														  FORMAT_TYPE_TYPEMOD_GIVEN |
														  FORMAT_TYPE_FORCE_QUALIFY));
				else
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
		default:
			appendStringInfo(&sql, "SELECT t.%s::pg_catalog.int8 FROM %s%s AS t",
							 vcol, only, qrel);
			nargs = target->nkeys;
			break;
	}
	appendStringInfoString(&sql, " WHERE ");
	rv_AppendKeyQual(&sql, rel, target);
	if (entry->key.stmt != RV_STMT_FIND)
		appendStringInfo(&sql, " AND t.%s OPERATOR(pg_catalog.=) $%d", vcol, vparam);
	if (entry->key.stmt == RV_STMT_UPDATE)
		appendStringInfo(&sql, " RETURNING t.%s::pg_catalog.int8, t.tableoid", vcol);

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
static void
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
		   const AttrNumber *cols, RvPlanEntry *scratch)
{
	RvPlanEntry *entry;

	memset(scratch, 0, sizeof(RvPlanEntry));
	scratch->key = *key;
	if (ncols > RV_MAX_CACHED_COLUMNS || rv_active > 1)
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
 * Returns the text form of a JSON value, as jsonb_populate_record reads a
 * scalar: strings unquoted, numbers and booleans as written, containers as
 * JSON text.
 */
static char *
rv_JsonbValueText(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out,
													   NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		case jbvBinary:
			return JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);
		default:
			return NULL;
	}
}

/*
 * Returns the text that the input function of a column reads for JSON value
 * v, by the rules of jsonb_populate_record: NULL for a JSON null, the JSON
 * text itself for a json or jsonb column (json), else rv_JsonbValueText.
 */
static char *
rv_JsonInputText(JsonbValue *v, bool json)
{
	if (v->type == jbvNull)
		return NULL;
	if (json && v->type != jbvBinary)
	{
		Jsonb	   *scalar = JsonbValueToJsonb(v);

		return JsonbToCString(NULL, &scalar->root, VARSIZE(scalar));
	}
	return rv_JsonbValueText(v);
}

/*
 * Converts text to a value of key column i, with the column type's input
 * function, so a domain's constraints hold and nothing is rounded away.
 */
static Datum
rv_KeyInput(RvTarget *target, int i, char *text)
{
	/* no typmod: a key the column would round or cut is no key of its rows */
	return InputFunctionCall(&target->keyinputs[i], text,
							 target->keyioparams[i], -1);
}

/*
 * Returns the base type of the key argument's type keytype, remembered in
 * fn_extra so that a call site looks it up once, not on every call.
 */
static Oid
rv_KeyBaseType(FunctionCallInfo fcinfo, Oid keytype)
{
	Oid		   *cached = (Oid *) fcinfo->flinfo->fn_extra;

	if (cached == NULL)
	{
		cached = (Oid *) MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, 2 * sizeof(Oid));
		cached[0] = InvalidOid;
		fcinfo->flinfo->fn_extra = cached;
	}
	if (cached[0] != keytype)
	{
		cached[1] = getBaseType(keytype);
		cached[0] = keytype;
	}
	return cached[1];
}

/*
 * Converts the caller's key (of type keytype, over base type keybase) into
 * one value per primary key column.  A
 * jsonb (or json) object names every key column (any key, composite too),
 * its values read as jsonb_populate_record reads them; anything else is the
 * value of a single-column key: used as it is when it has the column's
 * type, else through its text form and the column type's input.  (A table
 * whose one key column is json or jsonb takes any jsonb as that value.)
 */
static void
rv_KeyValues(Relation rel, RvTarget *target, Datum key, Oid keytype,
			 Oid keybase, Datum *values)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	if ((keybase == JSONOID || keybase == JSONBOID) &&
		!(target->nkeys == 1 && target->keyjson[0]))
	{
		Jsonb	   *jb;
		JsonbIterator *it;
		JsonbValue	v;
		JsonbIteratorToken tok;

		if (keybase == JSONOID)
			jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
													CStringGetDatum(TextDatumGetCString(key))));
		else
			jb = DatumGetJsonbP(key);

		if (JB_ROOT_IS_SCALAR(jb) && target->nkeys == 1)
		{
			/* a bare JSON scalar: the value of a single-column key */
			it = JsonbIteratorInit(&jb->root);
			while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
				if (tok == WJB_ELEM)
					break;
			if (v.type == jbvNull)
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("parameter \"%s\" cannot be null", "key")));
			values[0] = rv_KeyInput(target, 0,
									 rv_JsonInputText(&v, target->keyjson[0]));
			return;
		}
		if (!JB_ROOT_IS_OBJECT(jb))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("key must be a JSON object naming each primary key column")));

		/* every pair must name a key column... */
		it = JsonbIteratorInit(&jb->root);
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			char	   *name;
			bool		inkey = false;

			if (tok != WJB_KEY)
				continue;
			name = pnstrdup(v.val.string.val, v.val.string.len);
			for (i = 0; i < target->nkeys && !inkey; i++)
				inkey = strcmp(name, NameStr(TupleDescAttr(desc, target->keyattnums[i] - 1)->attname)) == 0;
			if (!inkey)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("column \"%s\" is not part of the primary key of table \"%s\"",
								name, RelationGetRelationName(rel))));
		}

		/* ...and every key column must have a value */
		for (i = 0; i < target->nkeys; i++)
		{
			const char *name = NameStr(TupleDescAttr(desc, target->keyattnums[i] - 1)->attname);
			JsonbValue	k;
			JsonbValue *found;
			char	   *text;

			k.type = jbvString;
			k.val.string.val = (char *) name;
			k.val.string.len = strlen(name);
			found = findJsonbValueFromContainer(&jb->root, JB_FOBJECT, &k);
			if (found == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("key has no value for primary key column \"%s\"", name)));
			text = rv_JsonInputText(found, target->keyjson[i]);
			if (text == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("primary key column \"%s\" cannot be null", name)));
			values[i] = rv_KeyInput(target, i, text);
		}
		return;
	}

	if (target->nkeys > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key for table \"%s\" must be a jsonb object naming each primary key column",
						RelationGetRelationName(rel)),
				 errdetail("The primary key has %d columns.", target->nkeys),
				 errhint("Pass the key such as '{\"a\": 1, \"b\": 2}'::jsonb."),
				 errtable(rel)));

	if (keytype == target->keytypes[0])
		values[0] = key;
	else if (keytype == UNKNOWNOID)
		values[0] = rv_KeyInput(target, 0, DatumGetCString(key));
	else
	{
		Oid			outfunc;
		bool		isvarlena;

		getTypeOutputInfo(keytype, &outfunc, &isvarlena);
		values[0] = rv_KeyInput(target, 0, OidOutputFunctionCall(outfunc, key));
	}
}

/*
 * Converts the value each changed column gets in changes into the
 * parameter of that column, the way jsonb_populate_record would (a JSON
 * null is NULL, still checked by a domain's input).  Array and composite
 * columns are left to the statement.
 */
static void
rv_ChangeValues(Relation rel, RvPlanEntry *entry, Jsonb *changes,
				Datum *values, char *nulls)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	for (i = 0; i < entry->ncols; i++)
	{
		RvColumnInput *col = &entry->columns[i];
		const char *name = NameStr(TupleDescAttr(desc, col->attnum - 1)->attname);
		JsonbValue	k;
		JsonbValue *v;
		char	   *text = NULL;

		values[i] = (Datum) 0;
		nulls[i] = 'n';
		if (col->populate)
			continue;

		k.type = jbvString;
		k.val.string.val = (char *) name;
		k.val.string.len = strlen(name);
		v = findJsonbValueFromContainer(&changes->root, JB_FOBJECT, &k);
		if (v == NULL)
			elog(ERROR, "column \"%s\" is missing from changes", name);

		text = rv_JsonInputText(v, col->json);
		values[i] = InputFunctionCall(&col->input, text, col->ioparam, col->typmod);
		nulls[i] = text == NULL ? 'n' : ' ';
	}
}

/*
 * Describes the key as "(a, b)=(1, x)" for an error's DETAIL, or returns
 * NULL when the caller may not see it (rv_MaySeeColumns).
 */
static char *
rv_KeyDescription(Relation rel, RvTarget *target, Datum *values)
{
	TupleDesc	desc = RelationGetDescr(rel);
	StringInfoData buf;
	int			i;

	if (!rv_MaySeeColumns(rel, target->keyattnums, target->nkeys))
		return NULL;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '(');
	for (i = 0; i < target->nkeys; i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "",
						 quote_identifier(NameStr(TupleDescAttr(desc, target->keyattnums[i] - 1)->attname)));
	appendStringInfoString(&buf, ")=(");
	for (i = 0; i < target->nkeys; i++)
	{
		Oid			outfunc;
		bool		isvarlena;

		getTypeOutputInfo(target->keytypes[i], &outfunc, &isvarlena);
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "",
						 OidOutputFunctionCall(outfunc, values[i]));
	}
	appendStringInfoChar(&buf, ')');
	return buf.data;
}

/*
 * Returns the entry of statement stmt for the table and changed columns,
 * with a valid plan (see rv_GetPlan).
 */
static RvPlanEntry *
rv_Statement(Relation rel, Oid fn_oid, RvStatement stmt,
			 int ncols, const AttrNumber *cols, RvPlanEntry *scratch)
{
	RvPlanKey	key;

	memset(&key, 0, sizeof(key));
	key.relid = RelationGetRelid(rel);
	key.stmt = stmt;
	key.ncols = Min(ncols, RV_MAX_CACHED_COLUMNS);
	if (key.ncols > 0)
		memcpy(key.cols, cols, sizeof(AttrNumber) * key.ncols);
	return rv_GetPlan(rel, fn_oid, &key, ncols, cols, scratch);
}

/*
 * Reports that a conditional UPDATE stored a row of relation relid (the
 * table or the partition the row is in) without its row trigger assigning
 * the next version.  nsp is the extension's schema.
 */
static pg_noreturn void
rv_ReportNotVersioned(Oid relid, Oid nsp)
{
	Relation	rel = table_open(relid, NoLock);	/* written: locked */
	Trigger    *tg = rv_FindVersionTrigger(rel, nsp);

	if (tg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("row versions of table \"%s\" are not being kept",
						RelationGetRelationName(rel)),
				 errdetail("It has no row trigger of rowversion.enable()."),
				 errtable(rel)));
	rv_CheckTriggerFires(rel, tg->tgenabled, tg->tgname, RV_TRIGGER_CONDITIONAL(tg));
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("row versions of table \"%s\" are not being kept",
					RelationGetRelationName(rel)),
			 errdetail("The row was stored at the version it was claimed at; a trigger that fires after \"%s\" may have written it back.",
					   tg->tgname),
			 errtable(rel)));
	pg_unreachable();
}

/*
 * The body of both functions: one UPDATE or DELETE of the row with the
 * given key, only while it is at expected_version.  Returns the version
 * the UPDATE assigned (0 for DELETE); raises RV001 when the row is at
 * another version and RV003 when there is no such row.
 */
static int64
rv_ConditionalWrite(FunctionCallInfo fcinfo, RvStatement stmt)
{
	Oid			fn_oid = fcinfo->flinfo->fn_oid;
	Oid			keytype;
	int64		expected;
	Jsonb	   *changes = NULL;
	Relation	rel;
	AttrNumber *cols = NULL;
	int			ncols = 0;
	RvPlanEntry scratch;
	RvPlanEntry *entry;
	RvTarget	target;
	Datum	   *values;
	char	   *nulls;
	bool		written = false;
	int64		result = 0;
	int			rc;

	rv_CheckNotNull(fcinfo, 0, "tbl");
	rv_CheckNotNull(fcinfo, 1, "key");
	rv_CheckNotNull(fcinfo, 2, "expected_version");
	if (stmt == RV_STMT_UPDATE)
		rv_CheckNotNull(fcinfo, 3, "changes");

	keytype = get_fn_expr_argtype(fcinfo->flinfo, 1);
	if (!OidIsValid(keytype))
		ereport(ERROR,
				(errcode(ERRCODE_INDETERMINATE_DATATYPE),
				 errmsg("could not determine the data type of parameter \"key\"")));
	expected = PG_GETARG_INT64(2);

	rel = rv_OpenTable(PG_GETARG_OID(0), stmt);
	if (stmt == RV_STMT_UPDATE)
	{
		changes = PG_GETARG_JSONB_P(3);
		cols = rv_ChangedColumns(rel, changes, &ncols);
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	entry = rv_Statement(rel, fn_oid, stmt, ncols, cols, &scratch);
	target = entry->target;
	rv_CheckTriggerFires(rel, target.tgenabled, NameStr(target.tgname),
						 target.tgconditional);

	/*
	 * Parameters: the key columns, the expected version, the changes, and
	 * each changed column's new value.
	 */
	values = (Datum *) palloc(sizeof(Datum) * (target.nkeys + 2 + ncols));
	nulls = (char *) palloc(target.nkeys + 2 + ncols);
	memset(nulls, ' ', target.nkeys + 2 + ncols);
	rv_KeyValues(rel, &target, PG_GETARG_DATUM(1), keytype,
				 rv_KeyBaseType(fcinfo, keytype), values);
	values[target.nkeys] = Int64GetDatum(expected);
	if (changes != NULL)
	{
		values[target.nkeys + 1] = JsonbPGetDatum(changes);
		rv_ChangeValues(rel, entry, changes, values + target.nkeys + 2,
						nulls + target.nkeys + 2);
	}

	/* a version the column cannot hold cannot be the row's */
	if (expected <= target.version_max)
	{
		rc = SPI_execute_plan(entry->plan, values, nulls, false, 0);
		if (rc != (stmt == RV_STMT_UPDATE ? SPI_OK_UPDATE_RETURNING : SPI_OK_DELETE))
			elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
		written = SPI_processed > 0;
		if (written && stmt == RV_STMT_UPDATE)
		{
			bool		isnull;

			result = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
												 SPI_tuptable->tupdesc, 1, &isnull));

			/*
			 * The row trigger always moves the version of a row it claims
			 * for; one still at the claimed version was stored without it
			 * (its partition's trigger disabled, say), and a second write
			 * at the same version would pass.
			 */
			if (result == expected)
				rv_ReportNotVersioned(DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
																	 SPI_tuptable->tupdesc,
																	 2, &isnull)),
									  get_func_namespace(fn_oid));
		}
	}
	if (entry == &scratch)
		rv_ReleaseEntry(&scratch);

	if (!written)
	{
		/* nothing written: a row at another version, or no row at all */
		entry = rv_Statement(rel, fn_oid, RV_STMT_FIND, 0, NULL, &scratch);
		rc = SPI_execute_plan(entry->plan, values, nulls, false, 1);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
		if (SPI_processed > 0)
		{
			bool		isnull;
			int64		current = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
															  SPI_tuptable->tupdesc,
															  1, &isnull));

			/*
			 * At the expected version, yet not written: a row-level security
			 * policy (or a trigger) kept the write from it.  Not found, to a
			 * caller who may not write it.
			 */
			if (isnull || current != expected)
				rv_ReportConflict(rel, target.version_attnum, expected, current, isnull);
		}
		rv_ReportNotFound(rel, rv_KeyDescription(rel, &target, values));
	}

	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	table_close(rel, NoLock);
	return result;
}

/*
 * Runs rv_ConditionalWrite, counted in rv_active for as long as it uses a
 * cache entry, also when it fails.
 */
static int64
rv_CountedWrite(FunctionCallInfo fcinfo, RvStatement stmt)
{
	int64		result;

	rv_active++;
	PG_TRY();
	{
		result = rv_ConditionalWrite(fcinfo, stmt);
	}
	PG_CATCH();
	{
		rv_active--;
		PG_RE_THROW();
	}
	PG_END_TRY();
	rv_active--;
	return result;
}

/*
 * conditional_update(tbl, key, expected_version, changes) — sets the
 * columns named in changes (a jsonb object; {} just touches the row) of the
 * row with the given primary key, if it is at expected_version, and returns
 * its new version.
 */
Datum
conditional_update(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(rv_CountedWrite(fcinfo, RV_STMT_UPDATE));
}

/*
 * conditional_delete(tbl, key, expected_version) — deletes the row with the
 * given primary key if it is at expected_version.
 */
Datum
conditional_delete(PG_FUNCTION_ARGS)
{
	rv_CountedWrite(fcinfo, RV_STMT_DELETE);
	PG_RETURN_VOID();
}
