/*-------------------------------------------------------------------------
 *
 * conditional.c
 *	  rowversion.conditional_update() and rowversion.conditional_delete():
 *	  change or delete one row, found by its primary key, only while it is
 *	  still at the version the caller expects.
 *
 * Each call runs one statement through SPI, as the caller, so privileges
 * and row-level security apply: an UPDATE or DELETE of the row with the
 * key that also requires the expected version (plancache.c prepares it,
 * jsoninput.c reads the key and the changes).  PostgreSQL re-checks the
 * WHERE clause against a row a concurrent transaction changed, under the
 * row lock.  When no row is touched a second statement tells a row at
 * another version (RV001) from no row the caller may write (RV003).  A
 * conditional write that runs while another one is in progress (from a
 * trigger, or a domain check in its input) plans without the cache, so no
 * entry is freed while a caller still uses it.  On Citus, a call that is
 * by itself the whole statement, outside a transaction block, on a
 * distributed table without triggers or policies of the user's, has its
 * write sent to the worker as one statement, as the same statement written
 * by hand would be (citus.c, rv_CitusCallIsStatement and
 * rv_CitusMayRouteAlone).
 *
 *-------------------------------------------------------------------------
 */
#include "conditional.h"

#include "access/relation.h"
#include "access/table.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"

PG_FUNCTION_INFO_V1(conditional_update);
PG_FUNCTION_INFO_V1(conditional_delete);

/*
 * How many conditional writes (conditional_update, conditional_delete,
 * conditional_write) are in progress in this backend; a write that starts
 * while another is in progress plans without the cache.
 */
int			rv_active = 0;

/*
 * Describes the key as "(a, b)=(1, x)" for an error's DETAIL, or returns
 * NULL when the caller may not see it (rv_MaySeeColumns).
 */
static char *
rv_KeyDescription(Relation rel, const RvTarget *target, Datum *values)
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
 * Reports that a conditional UPDATE of table named (the table the caller
 * named, locked) stored a row without the row trigger assigning the next
 * version: names the table or partition whose trigger is missing or does
 * not fire, else a trigger that may have written the version back.  The
 * partition is looked for here, not returned by the UPDATE: tableoid takes
 * SELECT on the whole table, which a caller with column privileges lacks.
 * nsp is the extension's schema.
 */
pg_noreturn void
rv_ReportNotVersioned(Relation named, Oid nsp)
{
	List	   *relids = list_make1_oid(RelationGetRelid(named));
	ListCell   *lc;
	const char *tgname = RV_TRIGGER_NAME;

	if (named->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
		relids = find_all_inheritors(RelationGetRelid(named), AccessShareLock, NULL);
	foreach(lc, relids)
	{
		Relation	rel = table_open(lfirst_oid(lc), AccessShareLock);
		Trigger    *tg;

		if (rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
		{
			table_close(rel, AccessShareLock);
			continue;
		}
		tg = rv_FindVersionTrigger(rel, nsp);
		if (tg == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("row versions of table \"%s\" are not being kept",
							RelationGetRelationName(rel)),
					 errdetail("It has no row trigger of rowversion.enable()."),
					 errtable(rel)));
		rv_CheckTriggerFires(rel, tg->tgenabled, tg->tgname, RV_TRIGGER_CONDITIONAL(tg));
		tgname = pstrdup(tg->tgname);
		table_close(rel, AccessShareLock);
	}
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("row versions of table \"%s\" are not being kept",
					RelationGetRelationName(named)),
			 errdetail("The row was stored at the version it was claimed at; a trigger that fires after \"%s\" may have written it back.",
					   tgname),
			 errtable(named)));
	pg_unreachable();
}

/*
 * Reports why a conditional write with key values (the write's parameters,
 * values and nulls) changed no row of rel, whose target describes it: the
 * row is at another version than expected (RV001), or there is no row the
 * caller may write (RV003).  A row at the expected version that was not
 * written was kept from the write by a row-level security policy (or a
 * trigger): not found, to a caller who may not write it.
 */
static pg_noreturn void
rv_ReportNotWritten(Relation rel, Oid fn_oid, const RvTarget *target,
					int64 expected, Datum *values, char *nulls)
{
	RvPlanEntry scratch;
	RvPlanEntry *entry;
	int			rc;

	entry = rv_GetStatement(rel, fn_oid, RV_STMT_FIND, 0, NULL, rv_active > 1,
							&scratch);
	rc = SPI_execute_plan(entry->plan, values, nulls, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	if (SPI_processed > 0)
	{
		bool		isnull;
		int64		current = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
														  SPI_tuptable->tupdesc,
														  1, &isnull));

		if (isnull || current != expected)
			rv_ReportConflict(rel, target->version_attnum, expected, current, isnull);
	}
	rv_ReportNotFound(rel, rv_KeyDescription(rel, target, values));
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
	bool		own_entry;
	RvTarget	target;
	Datum	   *values;
	char	   *nulls;
	bool		written = false;
	int64		result = 0;
	int			rc;
	int			alone;

	/* Citus: a call that is its statement's only work is routed as one */
	alone = rv_active == 1 && rv_CitusCallIsStatement(fcinfo, CurrentMemoryContext);
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

	rel = rv_OpenTable(PG_GETARG_OID(0),
					   stmt == RV_STMT_UPDATE ? ACL_UPDATE : ACL_DELETE,
					   RowExclusiveLock,
					   "Only tables whose row versions rowversion.enable() keeps can be written conditionally.");
	rv_CitusRefuseInWorkerQuery(RelationGetRelid(rel),
								stmt == RV_STMT_UPDATE ? "conditional_update" : "conditional_delete");
	if (stmt == RV_STMT_UPDATE)
	{
		changes = PG_GETARG_JSONB_P(3);
		cols = rv_ChangedColumns(rel, changes, &ncols);
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	entry = rv_GetStatement(rel, fn_oid, stmt, ncols, cols, rv_active > 1, &scratch);
	own_entry = entry == &scratch;
	target = entry->target;		/* a copy: the entry may go with the next */
	rv_CheckTriggerFires(rel, target.tgenabled, NameStr(target.tgname),
						 target.tgconditional);

	/*
	 * Parameters: the key columns, the expected version, the changes, and
	 * each changed column's new value.
	 */
	values = (Datum *) palloc(sizeof(Datum) * (target.nkeys + 2 + ncols));
	nulls = (char *) palloc(target.nkeys + 2 + ncols);
	memset(nulls, ' ', target.nkeys + 2 + ncols);
	rv_KeyValues(rel, entry, PG_GETARG_DATUM(1), keytype,
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
		alone = alone && rv_CitusMayRouteAlone(rel, get_func_namespace(fn_oid)) ?
			rv_CitusRouteAlone() : 0;
		rc = SPI_execute_plan(entry->plan, values, nulls, false, 0);
		if (alone > 0)
			AtEOXact_GUC(true, alone);
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
				rv_ReportNotVersioned(rel, get_func_namespace(fn_oid));
		}
	}
	if (!written)
		rv_ReportNotWritten(rel, fn_oid, &target, expected, values, nulls);

	if (own_entry)
		rv_ReleaseEntry(&scratch);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	table_close(rel, NoLock);
	return result;
}

/*
 * Runs rv_ConditionalWrite, counted in rv_active for as long as it uses a
 * cache entry, also when it fails.  Citus's refusal of the write as a
 * nested distributed query is reported as rowversion's own.
 */
static int64
rv_CountedWrite(FunctionCallInfo fcinfo, RvStatement stmt)
{
	MemoryContext cxt = CurrentMemoryContext;
	int64		result;

	rv_active++;
	PG_TRY();
	{
		result = rv_ConditionalWrite(fcinfo, stmt);
	}
	PG_CATCH();
	{
		rv_active--;
		rv_CitusTranslateNestedError(PG_GETARG_OID(0),
									 stmt == RV_STMT_UPDATE ? "conditional_update" : "conditional_delete",
									 cxt);
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
