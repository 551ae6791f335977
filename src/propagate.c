/*-------------------------------------------------------------------------
 *
 * propagate.c
 *	  The statement-level trigger behind rowversion.propagate(): after a
 *	  statement inserts, updates or deletes child rows, it bumps the version
 *	  of every parent row those children reference (before and after), once
 *	  per parent, locking the parents in key order.
 *
 * rowversion.propagate() creates three AFTER ... FOR EACH STATEMENT
 * triggers on the child, one per event, each with its transition tables
 * (rv_old, rv_new).  Their arguments:
 *
 *	 0: the name of the child's foreign key to the parent
 *	 1: the parent's version column
 *
 * The bump is a touch that claims the parent's current version
 * (SET v = v), so the parent's own row trigger assigns the next version and
 * require_version is satisfied; a parent that propagates further up fires
 * its own statement triggers in turn, so chains reach the root.  Like the
 * checks of ri_triggers.c, the bump runs as the parent's owner (who, as
 * the child's, set it up): a child's writer needs no rights on the parent.
 *
 *-------------------------------------------------------------------------
 */
#include "rowversion.h"

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(propagate_trigger);

/*
 * Appends the keys the statement's child rows reference: the foreign key
 * columns of rv_old and of rv_new, whichever this event has, as a derived
 * table "k" with columns named as the child's.
 */
static void
rv_AppendReferencedKeys(StringInfo buf, TriggerData *trigdata,
						Relation child, int nkeys, const AttrNumber *fkattnums)
{
	TupleDesc	desc = RelationGetDescr(child);
	bool		has_old = !TRIGGER_FIRED_BY_INSERT(trigdata->tg_event);
	bool		has_new = !TRIGGER_FIRED_BY_DELETE(trigdata->tg_event);
	StringInfoData cols;
	int			i;

	initStringInfo(&cols);
	for (i = 0; i < nkeys; i++)
		appendStringInfo(&cols, "%s%s", i > 0 ? ", " : "",
						 quote_identifier(NameStr(TupleDescAttr(desc, fkattnums[i] - 1)->attname)));

	appendStringInfoString(buf, "(");
	if (has_old)
		appendStringInfo(buf, "SELECT %s FROM rv_old", cols.data);
	if (has_old && has_new)
		appendStringInfoString(buf, " UNION ");
	if (has_new)
		appendStringInfo(buf, "SELECT %s FROM rv_new", cols.data);
	appendStringInfoString(buf, ") AS k");
}

/*
 * Appends "p.<parent key> = k.<child key> AND ..." with the foreign key's
 * own equality operators, schema-qualified and cast as ri_triggers.c does.
 */
static void
rv_AppendJoinQual(StringInfo buf, Relation child, Oid parentid, int nkeys,
				  const AttrNumber *fkattnums, const AttrNumber *pkattnums,
				  const Oid *pfeqops)
{
	TupleDesc	desc = RelationGetDescr(child);
	int			i;

	for (i = 0; i < nkeys; i++)
	{
		Form_pg_attribute fkatt = TupleDescAttr(desc, fkattnums[i] - 1);
		char	   *pkname = get_attname(parentid, pkattnums[i], false);
		StringInfoData left;
		StringInfoData right;

		initStringInfo(&left);
		initStringInfo(&right);
		appendStringInfo(&left, "p.%s", quote_identifier(pkname));
		appendStringInfo(&right, "k.%s", quote_identifier(NameStr(fkatt->attname)));
		if (i > 0)
			appendStringInfoString(buf, " AND ");
		generate_operator_clause(buf, left.data,
								 get_atttype(parentid, pkattnums[i]),
								 pfeqops[i], right.data, fkatt->atttypid);
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
 * propagate_trigger() — AFTER INSERT, UPDATE or DELETE ... FOR EACH
 * STATEMENT on a child table: bumps the version of each parent row that a
 * changed child row references, once, parents locked in key order.
 */
Datum
propagate_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Trigger    *tg;
	Relation	child;
	Oid			conoid;
	HeapTuple	contup;
	Form_pg_constraint con;
	Oid			parentid;
	int			nkeys;
	AttrNumber	fkattnums[INDEX_MAX_KEYS];
	AttrNumber	pkattnums[INDEX_MAX_KEYS];
	Oid			pfeqops[INDEX_MAX_KEYS];
	const char *only;
	char	   *qparent;
	const char *vcol;
	StringInfoData keys;
	StringInfoData qual;
	StringInfoData sql;
	Oid			save_userid;
	int			save_sec_context;
	int			i;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" was not called by trigger manager",
						"propagate_trigger")));
	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) ||
		TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired AFTER INSERT, UPDATE or DELETE ... FOR EACH STATEMENT",
						"propagate_trigger")));

	tg = trigdata->tg_trigger;
	child = trigdata->tg_relation;
	if (tg->tgnargs != 2 ||
		(!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) && tg->tgoldtable == NULL) ||
		(!TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) && tg->tgnewtable == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("trigger \"%s\" on table \"%s\" was not created by rowversion.propagate()",
						tg->tgname, RelationGetRelationName(child)),
				 errhint("Call rowversion.propagate() to create it.")));

	/* the foreign key, by name: names survive dump and restore, OIDs not */
	conoid = get_relation_constraint_oid(RelationGetRelid(child), tg->tgargs[0], true);
	contup = OidIsValid(conoid) ?
		SearchSysCache1(CONSTROID, ObjectIdGetDatum(conoid)) : NULL;
	if (!HeapTupleIsValid(contup) ||
		((Form_pg_constraint) GETSTRUCT(contup))->contype != CONSTRAINT_FOREIGN)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("foreign key \"%s\" of table \"%s\" does not exist",
						tg->tgargs[0], RelationGetRelationName(child)),
				 errhint("Call rowversion.stop_propagating() and rowversion.propagate() again.")));
	con = (Form_pg_constraint) GETSTRUCT(contup);
	parentid = con->confrelid;
	rv_DeconstructFk(contup, &nkeys, fkattnums, pkattnums, pfeqops);
	ReleaseSysCache(contup);

	only = get_rel_relkind(parentid) == RELKIND_PARTITIONED_TABLE ? "" : "ONLY ";
	qparent = quote_qualified_identifier(get_namespace_name(get_rel_namespace(parentid)),
										 get_rel_name(parentid));
	vcol = quote_identifier(tg->tgargs[1]);

	initStringInfo(&keys);
	rv_AppendReferencedKeys(&keys, trigdata, child, nkeys, fkattnums);
	initStringInfo(&qual);
	rv_AppendJoinQual(&qual, child, parentid, nkeys, fkattnums, pkattnums, pfeqops);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_register_trigger_data(trigdata) != SPI_OK_TD_REGISTER)
		elog(ERROR, "SPI_register_trigger_data failed");

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(rv_RelOwner(parentid),
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_NOFORCE_RLS);

	/*
	 * Lock the parents first, in key order, so that two statements that
	 * touch children of the same parents wait for each other instead of
	 * deadlocking; then bump each once.
	 */
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT 1 FROM %s%s AS p WHERE EXISTS (SELECT FROM %s WHERE %s) ORDER BY ",
					 only, qparent, keys.data, qual.data);
	for (i = 0; i < nkeys; i++)
		appendStringInfo(&sql, "%sp.%s", i > 0 ? ", " : "",
						 quote_identifier(get_attname(parentid, pkattnums[i], false)));
	appendStringInfoString(&sql, " FOR NO KEY UPDATE OF p");
	if (SPI_execute(sql.data, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed: %s", sql.data);

	if (SPI_processed > 0)
	{
		resetStringInfo(&sql);
		appendStringInfo(&sql, "UPDATE %s%s AS p SET %s = p.%s WHERE EXISTS (SELECT FROM %s WHERE %s)",
						 only, qparent, vcol, vcol, keys.data, qual.data);
		if (SPI_execute(sql.data, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "SPI_execute failed: %s", sql.data);
	}

	SetUserIdAndSecContext(save_userid, save_sec_context);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	return PointerGetDatum(NULL);
}
