/*-------------------------------------------------------------------------
 *
 * manage.c
 *	  rowversion.enable() and rowversion.disable(), which install and
 *	  remove a table's row trigger and keep the table's options as that
 *	  trigger's arguments (see trigger.c), and rowversion.propagate() and
 *	  rowversion.stop_propagating(), which install and remove the triggers
 *	  of propagate.c.
 *
 * They run as their caller: the caller must own the tables, and the DDL
 * they build goes through SPI as the caller, so the caller's privileges
 * apply to it.  Being C functions, they carry no SET search_path clause and
 * run under the caller's search_path, so they read the catalogs directly
 * (never through SQL that a name in that path could redirect), and every
 * statement they build quotes and schema-qualifies each name it holds.
 *
 * enable() names its trigger zz_rowversion so that it sorts after the
 * table's other BEFORE row triggers, which PostgreSQL fires in the order of
 * their names compared byte by byte; it warns about any such trigger whose
 * name sorts after it (a name that starts with a non-ASCII letter does),
 * since that trigger can change a row after its version was checked.
 *
 *-------------------------------------------------------------------------
 */
#include "rowversion.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(enable);
PG_FUNCTION_INFO_V1(disable);
PG_FUNCTION_INFO_V1(propagate);
PG_FUNCTION_INFO_V1(stop_propagating);

/* A table that one of the functions was asked to change. */
typedef struct RvTable
{
	Oid			relid;
	char	   *relname;
	char	   *qualified;		/* schema-qualified and quoted, for SQL */
	char		relkind;
	bool		ispartition;
	Oid			owner;
} RvTable;

/* One row of pg_trigger, with its arguments decoded. */
typedef struct RvTriggerRow
{
	Oid			oid;
	Oid			parentid;		/* the trigger it was cloned from, or 0 */
	char	   *tgname;
	Oid			tgfoid;
	int16		tgtype;
	char		tgenabled;
	bool		isclone;		/* cloned from a partitioned table's trigger */
	bool		conditional;	/* has a WHEN condition or UPDATE OF columns */
	int			nargs;
	char	  **args;
} RvTriggerRow;

/*
 * Returns the OID of the extension's trigger function called name, which
 * lives in schema nsp.
 */
static Oid
rv_ExtensionFunction(Oid nsp, const char *name)
{
	List	   *funcname = list_make2(makeString(get_namespace_name(nsp)),
									  makeString(pstrdup(name)));

	return LookupFuncName(funcname, 0, NULL, false);
}

/*
 * Returns "schema.function" for the extension's function called name,
 * quoted for SQL.
 */
static char *
rv_QualifiedFunction(Oid nsp, const char *name)
{
	return quote_qualified_identifier(get_namespace_name(nsp), name);
}

/*
 * Returns "schema.table" for relation relid, quoted for SQL.
 */
static char *
rv_QualifiedRelation(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

/*
 * Checks that relid is an ordinary or partitioned table outside the system
 * schemas and that the current user has the privileges of its owner, and
 * fills in *table.  Nothing is locked yet.
 */
static void
rv_CheckTable(Oid relid, RvTable *table)
{
	HeapTuple	tuple;
	Form_pg_class form;
	char	   *nspname;
	const char *kind;

	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	form = (Form_pg_class) GETSTRUCT(tuple);
	table->relid = relid;
	table->relname = pstrdup(NameStr(form->relname));
	table->relkind = form->relkind;
	table->ispartition = form->relispartition;
	table->owner = form->relowner;
	nspname = get_namespace_name(form->relnamespace);
	ReleaseSysCache(tuple);

	if (strcmp(nspname, "pg_catalog") == 0 || strcmp(nspname, "pg_toast") == 0 ||
		strcmp(nspname, "information_schema") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot keep row versions of system table \"%s\"",
						table->relname)));

	if (table->relkind != RELKIND_RELATION &&
		table->relkind != RELKIND_PARTITIONED_TABLE)
	{
		switch (table->relkind)
		{
			case RELKIND_VIEW:
				kind = "view";
				break;
			case RELKIND_MATVIEW:
				kind = "materialized view";
				break;
			case RELKIND_FOREIGN_TABLE:
				kind = "foreign table";
				break;
			case RELKIND_SEQUENCE:
				kind = "sequence";
				break;
			case RELKIND_INDEX:
				kind = "index";
				break;
			case RELKIND_PARTITIONED_INDEX:
				kind = "partitioned index";
				break;
			case RELKIND_COMPOSITE_TYPE:
				kind = "composite type";
				break;
			case RELKIND_TOASTVALUE:
				kind = "TOAST table";
				break;
			default:
				kind = "relation";
				break;
		}
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot keep row versions of %s \"%s\"",
						kind, table->relname),
				 errhint("Only ordinary and partitioned tables can have row versions.")));
	}

	if (!has_privs_of_role(GetUserId(), table->owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of table %s", table->relname)));

	table->qualified = quote_qualified_identifier(nspname, table->relname);
}

/*
 * Returns the name of relation relid, for a message.
 */
static char *
rv_RelName(Oid relid)
{
	char	   *relname = get_rel_name(relid);

	if (relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	return relname;
}

/*
 * Returns the triggers of relation relid as RvTriggerRows, in name order,
 * read from pg_trigger (the relation need not be locked).
 */
static List *
rv_RelationTriggers(Oid relid)
{
	Relation	tgrel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	List	   *result = NIL;

	tgrel = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_trigger_tgrelid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(tgrel, TriggerRelidNameIndexId, true, NULL, 1, &key);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_trigger form = (Form_pg_trigger) GETSTRUCT(tuple);
		RvTriggerRow *row = palloc0(sizeof(RvTriggerRow));

		row->oid = form->oid;
		row->parentid = form->tgparentid;
		row->tgname = pstrdup(NameStr(form->tgname));
		row->tgfoid = form->tgfoid;
		row->tgtype = form->tgtype;
		row->tgenabled = form->tgenabled;
		row->isclone = OidIsValid(form->tgparentid);
		row->conditional = form->tgattr.dim1 > 0 ||
			!heap_attisnull(tuple, Anum_pg_trigger_tgqual, RelationGetDescr(tgrel));
		row->nargs = form->tgnargs;
		if (row->nargs > 0)
		{
			/* each argument is stored followed by a zero byte */
			bool		isnull;
			Datum		value = heap_getattr(tuple, Anum_pg_trigger_tgargs,
											 RelationGetDescr(tgrel), &isnull);
			bytea	   *bytes;
			char	   *p;
			char	   *end;
			int			i;

			if (isnull)
				elog(ERROR, "tgargs is null for trigger \"%s\"", row->tgname);
			bytes = DatumGetByteaPP(value);
			p = VARDATA_ANY(bytes);
			end = p + VARSIZE_ANY_EXHDR(bytes);
			row->args = palloc(row->nargs * sizeof(char *));
			for (i = 0; i < row->nargs; i++)
			{
				size_t		len = strnlen(p, end - p);

				if (p + len >= end)
					elog(ERROR, "invalid tgargs for trigger \"%s\"", row->tgname);
				row->args[i] = pnstrdup(p, len);
				p += len + 1;
			}
		}
		result = lappend(result, row);
	}
	systable_endscan(scan);
	table_close(tgrel, AccessShareLock);
	return result;
}

/*
 * Returns the row trigger that enable() created on relation relid itself
 * (not one cloned from a partitioned table), or NULL: the one of the
 * name enable() gives it when a table has several (made by hand).  funcoid
 * is the OID of rowversion.version_trigger().
 */
static RvTriggerRow *
rv_FindOwnVersionTrigger(Oid relid, Oid funcoid)
{
	RvTriggerRow *found = NULL;
	ListCell   *lc;

	foreach(lc, rv_RelationTriggers(relid))
	{
		RvTriggerRow *row = (RvTriggerRow *) lfirst(lc);

		if (row->tgfoid != funcoid || row->isclone)
			continue;
		if (found == NULL || strcmp(row->tgname, RV_TRIGGER_NAME) == 0)
			found = row;
	}
	return found;
}

static void rv_Execute(const char *sql);

/*
 * Drops the row triggers of table that call rowversion.version_trigger()
 * (funcoid) other than the one called keep (all of them when keep is
 * NULL): a table keeps one.
 */
static void
rv_DropOtherVersionTriggers(RvTable *table, Oid funcoid, const char *keep)
{
	ListCell   *lc;

	foreach(lc, rv_RelationTriggers(table->relid))
	{
		RvTriggerRow *row = (RvTriggerRow *) lfirst(lc);

		if (row->tgfoid == funcoid && !row->isclone &&
			(keep == NULL || strcmp(row->tgname, keep) != 0))
			rv_Execute(psprintf("DROP TRIGGER %s ON %s",
								quote_identifier(row->tgname), table->qualified));
	}
}

/*
 * Returns the foreign keys of table child that reference table parent (or
 * any table, when parent is InvalidOid), only the one called name when name
 * is not NULL, as pg_constraint OIDs in name order.
 */
static List *
rv_ForeignKeys(Oid child, Oid parent, const char *name)
{
	Relation	conrel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	List	   *result = NIL;

	conrel = table_open(ConstraintRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_constraint_conrelid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(child));
	scan = systable_beginscan(conrel, ConstraintRelidTypidNameIndexId, true,
							  NULL, 1, &key);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_constraint form = (Form_pg_constraint) GETSTRUCT(tuple);

		if (form->contype == CONSTRAINT_FOREIGN &&
			(!OidIsValid(parent) || form->confrelid == parent) &&
			(name == NULL || strcmp(NameStr(form->conname), name) == 0))
			result = lappend_oid(result, form->oid);
	}
	systable_endscan(scan);
	table_close(conrel, AccessShareLock);
	return result;
}

/*
 * Returns the foreign key from child to parent that via names, or the only
 * one when via is NULL, as a pg_constraint OID.
 */
static Oid
rv_FindForeignKey(Oid child, Oid parent, const char *via)
{
	List	   *keys = rv_ForeignKeys(child, parent, via);

	if (keys == NIL && via != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("foreign key \"%s\" from table \"%s\" to table \"%s\" does not exist",
						via, rv_RelName(child), rv_RelName(parent))));
	if (keys == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("table \"%s\" has no foreign key to table \"%s\"",
						rv_RelName(child), rv_RelName(parent))));
	if (list_length(keys) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("table \"%s\" has more than one foreign key to table \"%s\"",
						rv_RelName(child), rv_RelName(parent)),
				 errhint("Name the one to propagate through with via.")));
	return linitial_oid(keys);
}

/*
 * Returns the name of constraint conoid.
 */
static char *
rv_ConstraintName(Oid conoid)
{
	HeapTuple	tuple = SearchSysCache1(CONSTROID, ObjectIdGetDatum(conoid));
	char	   *conname;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for constraint %u", conoid);
	conname = pstrdup(NameStr(((Form_pg_constraint) GETSTRUCT(tuple))->conname));
	ReleaseSysCache(tuple);
	return conname;
}

/*
 * Returns the tables whose triggers propagate() made: table relid and,
 * when it is partitioned, all of its partitions, locked in lockmode.
 */
static List *
rv_PartitionTree(Oid relid, char relkind, LOCKMODE lockmode)
{
	if (relkind == RELKIND_PARTITIONED_TABLE)
		return find_all_inheritors(relid, lockmode, NULL);
	return list_make1_oid(relid);
}

/*
 * Returns whether table from reaches table target through propagations
 * (those that rowversion.propagations lists), from itself included.
 * ptrigger is the OID of rowversion.propagate_trigger().
 */
static bool
rv_PropagatesTo(Oid from, Oid target, Oid ptrigger)
{
	List	   *todo = list_make1_oid(from);
	List	   *seen = NIL;

	while (todo != NIL)
	{
		Oid			relid = linitial_oid(todo);
		ListCell   *lc;

		todo = list_delete_first(todo);
		if (relid == target)
			return true;
		if (list_member_oid(seen, relid))
			continue;
		seen = lappend_oid(seen, relid);
		/*
		 * Propagations are listed by the statement trigger of the table that
		 * propagate() was called on, never by a partition's.
		 */
		if (get_rel_relispartition(relid))
			continue;
		foreach(lc, rv_RelationTriggers(relid))
		{
			RvTriggerRow *row = (RvTriggerRow *) lfirst(lc);
			ListCell   *lc2;

			if (row->tgfoid != ptrigger || TRIGGER_FOR_ROW(row->tgtype) ||
				row->nargs < 1)
				continue;
			foreach(lc2, rv_ForeignKeys(relid, InvalidOid, row->args[0]))
			{
				HeapTuple	tuple = SearchSysCache1(CONSTROID,
													ObjectIdGetDatum(lfirst_oid(lc2)));

				if (!HeapTupleIsValid(tuple))
					elog(ERROR, "cache lookup failed for constraint %u",
						 lfirst_oid(lc2));
				todo = lappend_oid(todo,
								   ((Form_pg_constraint) GETSTRUCT(tuple))->confrelid);
				ReleaseSysCache(tuple);
			}
		}
	}
	return false;
}

/*
 * Runs one statement through SPI, as the current user.
 */
static void
rv_Execute(const char *sql)
{
	if (SPI_execute(sql, false, 0) < 0)
		elog(ERROR, "SPI_execute failed: %s", sql);
}

/*
 * Takes the lock that enable() and propagate() hold on a table while they
 * change it: two calls on one table wait for each other.  As LOCK TABLE
 * does, it locks the table's partitions and inheritance children too.
 */
static void
rv_LockTable(RvTable *table)
{
	rv_Execute(psprintf("LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE",
						table->qualified));
}

/*
 * Drops the triggers that propagate() made on table child and its
 * partitions for the foreign key called fkname (found by function and
 * argument, since their names carry the key's OID, which a restore
 * changes); returns whether there were any.
 */
static bool
rv_DropPropagationTriggers(RvTable *child, const char *fkname, Oid nsp)
{
	Oid			collect = rv_ExtensionFunction(nsp, "propagate_collect");
	Oid			ptrigger = rv_ExtensionFunction(nsp, "propagate_trigger");
	List	   *drops = NIL;
	ListCell   *lc;

	foreach(lc, rv_PartitionTree(child->relid, child->relkind, AccessShareLock))
	{
		Oid			relid = lfirst_oid(lc);
		ListCell   *lc2;

		foreach(lc2, rv_RelationTriggers(relid))
		{
			RvTriggerRow *row = (RvTriggerRow *) lfirst(lc2);

			if ((row->tgfoid == collect || row->tgfoid == ptrigger) &&
				!row->isclone && row->nargs >= 1 &&
				strcmp(row->args[0], fkname) == 0)
				drops = lappend(drops,
								psprintf("DROP TRIGGER %s ON %s",
										 quote_identifier(row->tgname),
										 rv_QualifiedRelation(relid)));
		}
	}
	foreach(lc, drops)
		rv_Execute((const char *) lfirst(lc));
	return drops != NIL;
}

/*
 * Warns about each BEFORE row trigger of table relid, and of its partitions
 * and inheritance children, that fires after the relation's version
 * trigger: PostgreSQL fires them in the order of their names, compared
 * byte by byte, so such a trigger can change a row after its version was
 * assigned and its claim checked.  propagate()'s row triggers are meant to
 * fire after it, and are not reported.
 */
static void
rv_WarnTriggersAfter(Oid relid, Oid nsp)
{
	Oid			collect = rv_ExtensionFunction(nsp, "propagate_collect");
	ListCell   *lc;

	foreach(lc, find_all_inheritors(relid, AccessShareLock, NULL))
	{
		Relation	rel = relation_open(lfirst_oid(lc), AccessShareLock);
		Trigger    *version = rv_FindVersionTrigger(rel, nsp);
		TriggerDesc *trigdesc = rel->trigdesc;
		int			i;

		for (i = 0; version != NULL && i < trigdesc->numtriggers; i++)
		{
			Trigger    *tg = &trigdesc->triggers[i];

			if (tg == version || tg->tgisinternal || tg->tgfoid == collect ||
				!TRIGGER_FOR_ROW(tg->tgtype) || !TRIGGER_FOR_BEFORE(tg->tgtype) ||
				!(TRIGGER_FOR_INSERT(tg->tgtype) || TRIGGER_FOR_UPDATE(tg->tgtype) ||
				  TRIGGER_FOR_DELETE(tg->tgtype)) ||
				strcmp(tg->tgname, version->tgname) <= 0)
				continue;
			ereport(WARNING,
					(errcode(ERRCODE_WARNING),
					 errmsg("trigger \"%s\" on table \"%s\" fires after trigger \"%s\"",
							tg->tgname, RelationGetRelationName(rel),
							version->tgname),
					 errdetail("BEFORE row triggers fire in the order of their names, compared byte by byte, "
							   "so this trigger can change a row after its version was assigned and checked."),
					 errhint("Rename it so that its name sorts before \"%s\".",
							 version->tgname),
					 errtable(rel)));
		}
		relation_close(rel, NoLock);
	}
}

/*
 * Checks that enable() may keep row versions of table (open as rel): not
 * a partition on its own; for a partitioned table, partitions that can all
 * follow it (none foreign, none keeping versions of its own); for an
 * inheritance parent, children that all keep their own (triggers do not
 * reach them).  vfunc is the OID of rowversion.version_trigger().  The
 * table and its descendants are locked.
 */
static void
rv_CheckTableTree(RvTable *table, Relation rel, Oid vfunc)
{
	char	   *missing = NULL;
	ListCell   *lc;

	if (table->ispartition)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot keep row versions of partition \"%s\" on its own",
						table->relname),
				 errhint("Enable its partitioned table \"%s\" instead; its partitions follow.",
						 get_rel_name(linitial_oid(get_partition_ancestors(table->relid)))),
				 errtable(rel)));

	/*
	 * Partitions follow their partitioned table, so all of them must be
	 * able to: none foreign, none keeping versions of its own.  A foreign
	 * partition is reported first, then the first by name.
	 */
	if (table->relkind == RELKIND_PARTITIONED_TABLE)
	{
		char	   *foreign = NULL;
		char	   *own = NULL;

		foreach(lc, find_all_inheritors(table->relid, AccessShareLock, NULL))
		{
			Oid			partid = lfirst_oid(lc);
			char	   *partname;

			if (partid == table->relid)
				continue;
			partname = get_rel_name(partid);
			if (get_rel_relkind(partid) == RELKIND_FOREIGN_TABLE)
			{
				if (foreign == NULL || strcmp(partname, foreign) < 0)
					foreign = partname;
			}
			else if (rv_FindOwnVersionTrigger(partid, vfunc) != NULL &&
					 (own == NULL || strcmp(partname, own) < 0))
				own = partname;
		}
		if (foreign != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("cannot keep row versions of partitioned table \"%s\"",
							table->relname),
					 errdetail("Partition \"%s\" is a foreign table.", foreign),
					 errtable(rel)));
		if (own != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("partition \"%s\" keeps row versions of its own", own),
					 errhint("Call rowversion.disable() on \"%s\" first.", own),
					 errtable(rel)));
	}

	/* Triggers do not reach inheritance children: they must keep their own. */
	foreach(lc, find_inheritance_children(table->relid, AccessShareLock))
	{
		Oid			childid = lfirst_oid(lc);
		char	   *childname = get_rel_name(childid);

		if (!get_rel_relispartition(childid) &&
			rv_FindOwnVersionTrigger(childid, vfunc) == NULL &&
			(missing == NULL || strcmp(childname, missing) < 0))
			missing = childname;
	}
	if (missing != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" has inheritance children that do not keep row versions",
						table->relname),
				 errdetail("Child table \"%s\" does not keep row versions.", missing),
				 errhint("Enable each child table first."),
				 errtable(rel)));
}

/*
 * Refuses enable() naming another version column than the one table keeps
 * (current is its row trigger, or NULL), unless that column is gone and
 * version_column exists: it was renamed.
 */
static void
rv_CheckVersionColumnChange(RvTable *table, Relation rel, RvTriggerRow *current,
							const char *version_column)
{
	TupleDesc	desc = RelationGetDescr(rel);
	const char *in_use;

	if (current == NULL || current->nargs <= RV_ARG_VERSION_COLUMN)
		return;
	in_use = current->args[RV_ARG_VERSION_COLUMN];
	if (strcmp(in_use, version_column) == 0)
		return;
	if (rv_FindColumn(desc, in_use) != InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" already keeps its row versions in column \"%s\"",
						table->relname, in_use),
				 errhint("Call rowversion.disable() first to move them to another column."),
				 errtable(rel)));
	if (rv_FindColumn(desc, version_column) == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("version column \"%s\" of table \"%s\" no longer exists",
						in_use, table->relname),
				 errhint("If it was renamed, pass its new name as version_column; else call rowversion.disable() first."),
				 errtable(rel)));
}

/*
 * Sets options' ignored columns from the array enable() was given: each a
 * column of rel other than the version column, each once.
 */
static void
rv_ReadIgnoredColumns(RvTable *table, Relation rel, ArrayType *array,
					  RvOptions *options)
{
	Datum	   *names;
	int			n;
	int			i;
	int			j;

	deconstruct_array(array, NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR,
					  &names, NULL, &n);
	options->ignored = (char **) palloc(sizeof(char *) * Max(n, 1));
	options->nignored = 0;
	for (i = 0; i < n; i++)
	{
		char	   *name = NameStr(*DatumGetName(names[i]));

		if (strcmp(name, options->version_column) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cannot ignore the version column \"%s\"", name),
					 errtable(rel)));
		if (rv_FindColumn(RelationGetDescr(rel), name) == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of relation \"%s\" does not exist",
							name, table->relname),
					 errtable(rel)));
		for (j = 0; j < options->nignored; j++)
			if (strcmp(options->ignored[j], name) == 0)
				break;
		if (j == options->nignored)
			options->ignored[options->nignored++] = name;
	}
}

/*
 * Makes the version column ready, and closes rel (ALTER TABLE refuses a
 * table this session still has open): a missing one is added, filled for
 * existing rows with what an INSERT now would give them; an existing one
 * must suit the mode and is filled where NULL and made NOT NULL.  Returns
 * false when the row trigger must go before the fill (so that the fill is
 * no claim): the caller drops it.
 */
static bool
rv_PrepareVersionColumn(RvTable *table, Relation rel, const RvOptions *options)
{
	AttrNumber	attnum = rv_FindColumn(RelationGetDescr(rel), options->version_column);
	const char *qcol = quote_identifier(options->version_column);
	const char *typedetail;
	bool		attnotnull;
	char	   *fill;

	if (attnum != InvalidAttrNumber)
	{
		Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), attnum - 1);

		if (att->attgenerated != '\0' || att->attidentity != '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
					 errmsg("version column \"%s\" cannot be a generated or identity column",
							options->version_column),
					 errtablecol(rel, attnum)));
		if (!rv_ModeTakesType(options->mode, att->atttypid, &typedetail))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("version column \"%s\" is of type %s",
							options->version_column, format_type_be(att->atttypid)),
					 errdetail("%s", typedetail),
					 errtablecol(rel, attnum)));
		attnotnull = att->attnotnull;
	}
	relation_close(rel, NoLock);
	if (attnum != InvalidAttrNumber && attnotnull)
		return true;

	fill = psprintf(INT64_FORMAT, rv_ModeFirstVersion(options->mode));
	if (attnum == InvalidAttrNumber)
	{
		/*
		 * A constant default fills existing rows without rewriting the
		 * table; it is dropped at once, so later inserts rely on the
		 * trigger alone.
		 */
		rv_Execute(psprintf("ALTER TABLE %s ADD COLUMN %s bigint NOT NULL DEFAULT %s",
							table->qualified, qcol, fill));
		rv_Execute(psprintf("ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT",
							table->qualified, qcol));
		return true;
	}
	return false;
}

/*
 * Fills the NULLs of the version column options names and makes it NOT
 * NULL; the table must have no row trigger now, so the fill is no claim.
 */
static void
rv_FillVersionColumn(RvTable *table, const RvOptions *options)
{
	const char *qcol = quote_identifier(options->version_column);

	rv_Execute(psprintf("UPDATE %s SET %s = " INT64_FORMAT " WHERE %s IS NULL",
						table->qualified, qcol, rv_ModeFirstVersion(options->mode),
						qcol));
	rv_Execute(psprintf("ALTER TABLE %s ALTER COLUMN %s SET NOT NULL",
						table->qualified, qcol));
}

/*
 * Drops row trigger current of table, if any; returns NULL.
 */
static RvTriggerRow *
rv_DropTrigger(RvTable *table, RvTriggerRow *current)
{
	if (current != NULL)
		rv_Execute(psprintf("DROP TRIGGER %s ON %s",
							quote_identifier(current->tgname), table->qualified));
	return NULL;
}

/*
 * Returns whether row trigger current (or NULL) is the one enable() makes
 * with arguments args: anything else -- other arguments, another name,
 * other events, a WHEN condition or columns, disabled -- is made again.
 */
static bool
rv_TriggerAsItShouldBe(RvTable *table, RvTriggerRow *current, List *args)
{
	ListCell   *lc;
	int			i = 0;

	if (current == NULL || current->nargs != list_length(args) ||
		current->tgenabled != TRIGGER_FIRES_ON_ORIGIN ||
		current->tgtype != (TRIGGER_TYPE_ROW | TRIGGER_TYPE_BEFORE | TRIGGER_TYPE_INSERT |
							TRIGGER_TYPE_UPDATE | TRIGGER_TYPE_DELETE) ||
		current->conditional || strcmp(current->tgname, RV_TRIGGER_NAME) != 0)
		return false;
	foreach(lc, args)
	{
		if (strcmp(current->args[i++], (char *) lfirst(lc)) != 0)
			return false;
	}

	/* the partitions' clones of it must fire too */
	foreach(lc, rv_PartitionTree(table->relid, table->relkind, NoLock))
	{
		ListCell   *lc2;

		foreach(lc2, rv_RelationTriggers(lfirst_oid(lc)))
		{
			RvTriggerRow *clone = (RvTriggerRow *) lfirst(lc2);

			if (clone->parentid == current->oid &&
				clone->tgenabled != TRIGGER_FIRES_ON_ORIGIN)
				return false;
		}
	}
	return true;
}

/*
 * Creates table's row trigger with arguments args.  Named to sort after
 * the table's other BEFORE triggers, which PostgreSQL fires in name order.
 * On DELETE it checks expect_match()'s preconditions, and returns at once
 * when none is registered.
 */
static void
rv_CreateVersionTrigger(RvTable *table, Oid nsp, List *args)
{
	StringInfoData sql;
	ListCell   *lc;

	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "CREATE TRIGGER %s BEFORE INSERT OR UPDATE OR DELETE ON %s "
					 "FOR EACH ROW EXECUTE FUNCTION %s(",
					 quote_identifier(RV_TRIGGER_NAME), table->qualified,
					 rv_QualifiedFunction(nsp, "version_trigger"));
	foreach(lc, args)
		appendStringInfo(&sql, "%s%s", lc == list_head(args) ? "" : ", ",
						 quote_literal_cstr((char *) lfirst(lc)));
	appendStringInfoChar(&sql, ')');
	rv_Execute(sql.data);
}

/*
 * Starts the work of enable(), disable(), propagate() and
 * stop_propagating(): connects to SPI and, where Citus is loaded, lets it
 * create and drop the extension's triggers on distributed and reference
 * tables and their shards (citus.enable_unsafe_triggers, a setting any
 * user may change, which Citus otherwise asks the user to set first: those
 * triggers only act on their own row).  The setting holds until
 * rv_EndDDL(), for all the function does, as a SET clause on the function
 * would: it closes the GUC nest level returned here.
 */
static int
rv_BeginDDL(void)
{
	int			nestlevel = NewGUCNestLevel();

	if (rv_CitusLoaded())
		(void) set_config_option("citus.enable_unsafe_triggers", "on",
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
								 true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	return nestlevel;
}

/* Ends what rv_BeginDDL() started; settings are as they were before. */
static void
rv_EndDDL(int nestlevel)
{
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	AtEOXact_GUC(true, nestlevel);
}

/*
 * rowversion.enable(tbl regclass, version_column name, mode text,
 *					  require_version boolean, ignore_columns name[],
 *					  enforce boolean)
 *
 * Keeps row versions of table tbl: adds or checks the version column and
 * installs the row trigger with the given options as its arguments.
 * Idempotent; called again with other options it changes them.  Called
 * through 1.0's SQL declaration, without enforce, it enforces.
 *
 * Counting in rowversion.conflict_counts starts over (the table's earlier
 * rows deleted, a row of no counts added) when the table goes into
 * log-only mode: enforce => false on a table that was not enabled or was
 * enforcing.  A table that was not enabled also loses rows left by a
 * dropped table whose OID it has.  Going back to enforcing keeps the
 * counts.
 */
Datum
enable(PG_FUNCTION_ARGS)
{
	int			nestlevel;
	Oid			nsp = get_func_namespace(fcinfo->flinfo->fn_oid);
	Oid			vfunc;
	RvTable		table;
	Relation	rel;
	const char *mode;
	RvOptions	options;
	RvOptions	previous;
	RvTriggerRow *current;
	bool		was_enabled;
	bool		was_enforcing;

	rv_CheckNotNull(fcinfo, 0, "tbl");
	rv_CheckNotNull(fcinfo, 1, "version_column");
	rv_CheckNotNull(fcinfo, 2, "mode");
	rv_CheckNotNull(fcinfo, 3, "require_version");
	rv_CheckNotNull(fcinfo, 4, "ignore_columns");
	if (array_contains_nulls(PG_GETARG_ARRAYTYPE_P(4)))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("parameter \"%s\" cannot be null", "ignore_columns")));
	options.version_column = NameStr(*PG_GETARG_NAME(1));
	mode = text_to_cstring(PG_GETARG_TEXT_PP(2));
	options.require_version = PG_GETARG_BOOL(3);
	options.enforce = true;
	if (PG_NARGS() > 5)
	{
		rv_CheckNotNull(fcinfo, 5, "enforce");
		options.enforce = PG_GETARG_BOOL(5);
	}

	rv_CheckTable(PG_GETARG_OID(0), &table);
	vfunc = rv_ExtensionFunction(nsp, "version_trigger");

	nestlevel = rv_BeginDDL();
	rv_LockTable(&table);
	rel = relation_open(table.relid, AccessShareLock);

	rv_CheckTableTree(&table, rel, vfunc);
	if (!rv_ModeFromName(mode, &options.mode))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid row version mode \"%s\"", mode),
				 errhint("Valid values are %s.", rv_ModeNames("and"))));
	if (options.mode == RV_MODE_XACT &&
		rv_CitusTableKind(table.relid) == RV_CITUS_REFERENCE)
		rv_ReportReferenceXact(table.relname);
	if (!options.enforce && rv_CitusTableKind(table.relid) != RV_CITUS_NONE)
		rv_ReportCitusLogOnly(table.relname);
	if (options.version_column[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("version column name cannot be empty")));
	current = rv_FindOwnVersionTrigger(table.relid, vfunc);
	was_enabled = current != NULL;
	/* (a trigger with arguments enable() did not write enforced nothing) */
	was_enforcing = current == NULL ||
		rv_DecodeArguments(current->nargs, current->args, &previous) != NULL ||
		previous.enforce;
	rv_CheckVersionColumnChange(&table, rel, current, options.version_column);
	rv_ReadIgnoredColumns(&table, rel, PG_GETARG_ARRAYTYPE_P(4), &options);

	if (!rv_PrepareVersionColumn(&table, rel, &options))
	{
		/* fill the gaps before the trigger exists, so the fill is no claim */
		current = rv_DropTrigger(&table, current);
		rv_FillVersionColumn(&table, &options);
	}

	if (!rv_TriggerAsItShouldBe(&table, current, rv_TriggerArguments(&options)))
	{
		rv_DropTrigger(&table, current);
		rv_CreateVersionTrigger(&table, nsp, rv_TriggerArguments(&options));
	}
	rv_DropOtherVersionTriggers(&table, vfunc, RV_TRIGGER_NAME);
	rv_WarnTriggersAfter(table.relid, nsp);

	if (!was_enabled || (was_enforcing && !options.enforce))
		rv_ResetConflictCounts(table.relid, !options.enforce);

	rv_EndDDL(nestlevel);
	PG_RETURN_VOID();
}

/*
 * rowversion.disable(tbl regclass, drop_column boolean)
 *
 * Removes table tbl's row trigger, and with drop_column its version column,
 * and forgets the table's counts in rowversion.conflict_counts.
 */
Datum
disable(PG_FUNCTION_ARGS)
{
	int			nestlevel;
	Oid			nsp = get_func_namespace(fcinfo->flinfo->fn_oid);
	RvTable		table;
	RvTriggerRow *current;

	rv_CheckNotNull(fcinfo, 0, "tbl");
	rv_CheckNotNull(fcinfo, 1, "drop_column");
	rv_CheckTable(PG_GETARG_OID(0), &table);

	current = rv_FindOwnVersionTrigger(table.relid,
									   rv_ExtensionFunction(nsp, "version_trigger"));
	if (current == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" does not keep row versions", table.relname)));

	nestlevel = rv_BeginDDL();
	rv_DropOtherVersionTriggers(&table, rv_ExtensionFunction(nsp, "version_trigger"),
								NULL);
	if (PG_GETARG_BOOL(1) && current->nargs >= 1)
		rv_Execute(psprintf("ALTER TABLE %s DROP COLUMN IF EXISTS %s",
							table.qualified, quote_identifier(current->args[RV_ARG_VERSION_COLUMN])));
	rv_ResetConflictCounts(table.relid, false);
	rv_EndDDL(nestlevel);
	PG_RETURN_VOID();
}

/*
 * Refuses foreign key fk (called fkname) of table child when propagate()
 * cannot follow it: the row trigger sees rows before generated columns are
 * computed, and keys travel to the statement trigger as arrays.
 */
static void
rv_CheckForeignKeyColumns(RvTable *child, Oid fk, const char *fkname)
{
	Relation	rel = relation_open(child->relid, AccessShareLock);
	HeapTuple	contuple = SearchSysCache1(CONSTROID, ObjectIdGetDatum(fk));
	Datum		conkey;
	bool		isnull;
	Datum	   *keys;
	int			nkeys;
	int			i;

	if (!HeapTupleIsValid(contuple))
		elog(ERROR, "cache lookup failed for constraint %u", fk);
	conkey = SysCacheGetAttr(CONSTROID, contuple, Anum_pg_constraint_conkey, &isnull);
	if (isnull)
		elog(ERROR, "null conkey for constraint %u", fk);
	deconstruct_array(DatumGetArrayTypeP(conkey), INT2OID, 2, true, TYPALIGN_SHORT,
					  &keys, NULL, &nkeys);
	for (i = 0; i < nkeys; i++)
	{
		AttrNumber	attnum = DatumGetInt16(keys[i]);
		Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), attnum - 1);

		if (att->attgenerated != '\0')
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot propagate through foreign key \"%s\"", fkname),
					 errdetail("Column \"%s\" is a generated column.",
							   NameStr(att->attname)),
					 errtablecol(rel, attnum)));
		if (!OidIsValid(get_array_type(att->atttypid)))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot propagate through foreign key \"%s\"", fkname),
					 errdetail("Column \"%s\" is of a type that has no array type.",
							   NameStr(att->attname)),
					 errtablecol(rel, attnum)));
	}
	ReleaseSysCache(contuple);
	relation_close(rel, NoLock);
}

/*
 * Creates propagate()'s triggers on child for foreign key fk (called
 * fkname) to a parent whose version column is parent_column: a row
 * trigger notes the parent keys of the changed rows (named to sort after
 * the version trigger, it sees the rows as stored); a statement trigger
 * bumps their parents (propagate.c).  PostgreSQL fires the statement
 * triggers of the table a statement names alone, so each partition gets
 * one too (not those attached later); it also fires on TRUNCATE, which
 * fires no row trigger.
 *
 * On a Citus table the statement trigger is two: Citus leaves every
 * trigger that fires on TRUNCATE off the shards, where the rows of a
 * distributed or reference table change, so one fires on INSERT, UPDATE
 * and DELETE (and reaches the shards), and one on TRUNCATE alone (on the
 * table, where Citus runs the TRUNCATE).  The first is named apart from
 * the single trigger: Citus leaves copies of that one on the shards, under
 * the names a new one would take there (see rv_ShardTriggerActs() in
 * propagate.c).  Elsewhere it stays one, as
 * version 1.0 made it: the library serves both versions of the SQL
 * objects, and 1.0's rowversion.propagations would list two twice.
 */
static void
rv_CreatePropagationTriggers(RvTable *child, Oid fk, const char *fkname,
							 const char *parent_column, Oid nsp, bool citus)
{
	ListCell   *lc;

	rv_Execute(psprintf("CREATE TRIGGER %s BEFORE INSERT OR UPDATE OR DELETE ON %s "
						"FOR EACH ROW EXECUTE FUNCTION %s(%s)",
						quote_identifier(psprintf("zz_rowversion_propagate_%u", fk)),
						child->qualified,
						rv_QualifiedFunction(nsp, "propagate_collect"),
						quote_literal_cstr(fkname)));
	foreach(lc, rv_PartitionTree(child->relid, child->relkind, ShareRowExclusiveLock))
	{
		rv_Execute(psprintf("CREATE TRIGGER %s AFTER INSERT OR UPDATE OR DELETE%s ON %s "
							"FOR EACH STATEMENT EXECUTE FUNCTION %s(%s, %s)",
							quote_identifier(psprintf(citus ? "rv_propagate_dml_%u" : "rv_propagate_%u",
													  fk)),
							citus ? "" : " OR TRUNCATE",
							rv_QualifiedRelation(lfirst_oid(lc)),
							rv_QualifiedFunction(nsp, "propagate_trigger"),
							quote_literal_cstr(fkname),
							quote_literal_cstr(parent_column)));
		if (citus)
			rv_Execute(psprintf("CREATE TRIGGER %s AFTER TRUNCATE ON %s "
								"FOR EACH STATEMENT EXECUTE FUNCTION %s(%s, %s)",
								quote_identifier(psprintf("rv_propagate_truncate_%u", fk)),
								rv_QualifiedRelation(lfirst_oid(lc)),
								rv_QualifiedFunction(nsp, "propagate_trigger"),
								quote_literal_cstr(fkname),
								quote_literal_cstr(parent_column)));
	}
}

/*
 * Returns what a table of Citus kind kind is, for messages.
 */
static const char *
rv_CitusKindName(RvCitusKind kind)
{
	switch (kind)
	{
		case RV_CITUS_DISTRIBUTED:
			return "a distributed table";
		case RV_CITUS_REFERENCE:
			return "a reference table";
		case RV_CITUS_LOCAL:
			return "a Citus local table";
		case RV_CITUS_NONE:
			break;
	}
	return "not a Citus table";
}

/*
 * Refuses to propagate from child to parent where Citus could not keep
 * the parent's versions right.  The bump runs where the child's rows
 * change, on the node that holds the child's shard, and updates the
 * parent's shard there: so parent and child must be tables of the same
 * kind.  Distributed tables that a foreign key joins are co-located (Citus
 * requires it), so a child row and its parent are on one node; each node's
 * copy of a reference table bumps its own copy of a reference parent the
 * same way (versions of reference tables are kept in counter mode); Citus
 * local tables are all on the coordinator.  A reference parent of a
 * distributed or Citus local child would have only the copy on the node of
 * the child's row bumped, and the copies would differ.  Returns the kind
 * of both.
 */
static RvCitusKind
rv_CheckCitusPropagation(RvTable *child, RvTable *parent)
{
	RvCitusKind ckind = rv_CitusTableKind(child->relid);
	RvCitusKind pkind = rv_CitusTableKind(parent->relid);

	if (ckind == pkind)
		return ckind;
	if (pkind == RV_CITUS_REFERENCE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot propagate from table \"%s\" to reference table \"%s\"",
						child->relname, parent->relname),
				 errdetail("Each change to table \"%s\" would bump only the copy of table \"%s\" on the node that holds the changed row, and the copies would differ.",
						   child->relname, parent->relname),
				 errhint("Propagate only from a reference table to a reference table, or update the parent's version in the same transaction as the child, with a claim or rowversion.conditional_update().")));
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot propagate from table \"%s\" to table \"%s\"",
					child->relname, parent->relname),
			 errdetail("Table \"%s\" is %s and table \"%s\" is %s.",
					   child->relname, rv_CitusKindName(ckind),
					   parent->relname, rv_CitusKindName(pkind)),
			 errhint("Propagate between tables of the same kind: co-located distributed tables, reference tables or Citus local tables.")));
	pg_unreachable();
}

/*
 * rowversion.propagate(child regclass, parent regclass, via name)
 *
 * Makes every INSERT, UPDATE and DELETE of child rows bump the version of
 * the parent rows they reference, in the same transaction, through the
 * foreign key via (or the only one).
 */
Datum
propagate(PG_FUNCTION_ARGS)
{
	int			nestlevel;
	Oid			nsp = get_func_namespace(fcinfo->flinfo->fn_oid);
	RvTable		child;
	RvTable		parent;
	const char *via;
	RvTriggerRow *parent_trigger;
	const char *parent_column;
	Oid			fk;
	char	   *fkname;
	RvCitusKind kind;

	rv_CheckNotNull(fcinfo, 0, "child");
	rv_CheckNotNull(fcinfo, 1, "parent");
	via = PG_ARGISNULL(2) ? NULL : NameStr(*PG_GETARG_NAME(2));
	rv_CheckTable(PG_GETARG_OID(0), &child);
	rv_CheckTable(PG_GETARG_OID(1), &parent);

	if (child.ispartition)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot propagate from partition \"%s\" on its own",
						child.relname),
				 errhint("Propagate from its partitioned table.")));
	/* row triggers and foreign keys do not reach inheritance children */
	if (child.relkind == RELKIND_RELATION &&
		find_inheritance_children(child.relid, NoLock) != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot propagate from table \"%s\" because it has inheritance children",
						child.relname),
				 errdetail("Changes to rows stored in its inheritance children would not bump their parents."),
				 errhint("Propagate from each child table through a foreign key of its own.")));
	parent_trigger = rv_FindOwnVersionTrigger(parent.relid,
											  rv_ExtensionFunction(nsp, "version_trigger"));
	if (parent_trigger == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" does not keep row versions", parent.relname),
				 errhint("Call rowversion.enable() on it first.")));
	/* informative only: the parent's row trigger names it at run time */
	parent_column = parent_trigger->nargs > RV_ARG_VERSION_COLUMN ? parent_trigger->args[RV_ARG_VERSION_COLUMN] : "";

	fk = rv_FindForeignKey(child.relid, parent.relid, via);
	fkname = rv_ConstraintName(fk);

	/*
	 * Only a child whose owner has the rights of the parent's owner may
	 * propagate to it (checked again at run time); the bump itself runs
	 * with the rights of whoever writes the child.
	 */
	if (!has_privs_of_role(child.owner, parent.owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to propagate from table \"%s\" to table \"%s\"",
						child.relname, parent.relname),
				 errdetail("The owner of the child table must have the privileges of the owner of the parent table.")));

	/* No cycles: the parent must not reach the child through propagations. */
	if (child.relid == parent.relid ||
		rv_PropagatesTo(parent.relid, child.relid,
						rv_ExtensionFunction(nsp, "propagate_trigger")))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("propagating from table \"%s\" to table \"%s\" would create a cycle",
						child.relname, parent.relname)));

	kind = rv_CheckCitusPropagation(&child, &parent);

	nestlevel = rv_BeginDDL();
	rv_LockTable(&child);

	rv_CheckForeignKeyColumns(&child, fk, fkname);
	rv_DropPropagationTriggers(&child, fkname, nsp);
	rv_CreatePropagationTriggers(&child, fk, fkname, parent_column, nsp,
								 kind != RV_CITUS_NONE);

	rv_EndDDL(nestlevel);
	PG_RETURN_VOID();
}

/*
 * rowversion.stop_propagating(child regclass, parent regclass, via name)
 *
 * Undoes propagate().
 */
Datum
stop_propagating(PG_FUNCTION_ARGS)
{
	int			nestlevel;
	Oid			nsp = get_func_namespace(fcinfo->flinfo->fn_oid);
	RvTable		child;
	Oid			parent;
	const char *via;
	Oid			fk;

	rv_CheckNotNull(fcinfo, 0, "child");
	rv_CheckNotNull(fcinfo, 1, "parent");
	via = PG_ARGISNULL(2) ? NULL : NameStr(*PG_GETARG_NAME(2));
	parent = PG_GETARG_OID(1);
	rv_CheckTable(PG_GETARG_OID(0), &child);
	fk = rv_FindForeignKey(child.relid, parent, via);

	nestlevel = rv_BeginDDL();
	if (!rv_DropPropagationTriggers(&child, rv_ConstraintName(fk), nsp))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" does not propagate to table \"%s\"",
						child.relname, rv_RelName(parent))));
	rv_EndDDL(nestlevel);
	PG_RETURN_VOID();
}
