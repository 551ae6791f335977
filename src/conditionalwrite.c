/*-------------------------------------------------------------------------
 *
 * conditionalwrite.c
 *	  rowversion.conditional_write(): many conditional writes of one table
 *	  in one call, each an UPDATE or a DELETE of the row with a primary key
 *	  only while it is at the version the client read, with one result per
 *	  item instead of an error at the first stale one.
 *
 * The items go through the same key and change conversion (jsoninput.c)
 * and the same cached statements (plancache.c) as conditional_update(),
 * run through SPI as the caller, so privileges, row-level security and the
 * row trigger apply as they do there; the UPDATE sets the version column,
 * so each item is a claim for require_version.
 *
 * The call reads and checks every item before it touches a row: a
 * malformed item, two items with the same key, or an item that moves its
 * row to another item's key is an error that names the items' positions
 * and writes nothing.  Rows are then visited in the
 * order of their keys in the primary key's index, whatever the items'
 * order, so two calls that share rows lock them in the same order and
 * cannot deadlock on each other.
 *
 * Atomic mode locks every row first (SELECT ... FOR [NO KEY] UPDATE, which
 * re-reads a row a concurrent transaction changed) and compares its
 * version; only when every item holds does it write them, so it writes all
 * or none and reports every failing item at once.  Non-atomic mode writes
 * each item that holds, as conditional_update() would, and reports the
 * others.  A conflict carries the row as it is now, holding only the
 * columns the caller may SELECT; a row that row-level security hides is
 * not found.
 *
 *-------------------------------------------------------------------------
 */
#include "conditional.h"

#include "access/sysattr.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(conditional_write);

/* What became of an item; named in the result by rv_status_names. */
typedef enum RvItemStatus
{
	RV_ITEM_PENDING,
	RV_ITEM_UPDATED,
	RV_ITEM_DELETED,
	RV_ITEM_CONFLICT,
	RV_ITEM_NOT_FOUND,
	RV_ITEM_NOT_WRITTEN
} RvItemStatus;

static const char *const rv_status_names[] = {
	NULL, "updated", "deleted", "conflict", "not_found", "not_written"
};

/* One item of the call, read and converted before any row is touched. */
typedef struct RvItem
{
	int			position;		/* 1-based, the result's ordinality */
	Jsonb	   *key;			/* the item's key as the client gave it */
	Jsonb	   *changes;		/* NULL for a delete */
	int64		expected;		/* the version the client read */
	int			ncols;			/* changed columns, sorted */
	AttrNumber *cols;
	Datum	   *values;			/* the statement's parameters */
	char	   *nulls;
	RvItemStatus status;
	int64		version;		/* new, or current for a conflict */
	bool		has_version;
	Jsonb	   *current;		/* the row now, for a conflict */
} RvItem;

/*
 * The most items one call takes.  Each is read, converted and kept in
 * memory before any row is touched; a bigger batch is several calls.
 */
#define RV_MAX_ITEMS	1000000

/* What the error context callback names: the item being worked on. */
typedef struct RvItemContext
{
	int			position;		/* 0 while none is */
} RvItemContext;

/* The key comparison that orders the items, for qsort_arg. */
typedef struct RvKeyOrder
{
	int			nkeys;
	FmgrInfo	cmp[INDEX_MAX_KEYS];
	Oid			coll[INDEX_MAX_KEYS];
} RvKeyOrder;

/*
 * Names the item being read or written in the context of any error.
 */
static void
rv_ItemErrorContext(void *arg)
{
	RvItemContext *ctx = (RvItemContext *) arg;

	if (ctx->position > 0)
		errcontext("conditional_write item %d", ctx->position);
}

/*
 * Reports a malformed item: an error naming its position, in the primary
 * message, since the item itself is what is wrong.
 */
static pg_noreturn void
rv_ReportBadItem(int position, const char *what, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("item %d of conditional_write %s", position, what),
			 hint ? errhint("%s", hint) : 0));
	pg_unreachable();
}

/*
 * Reads the shape of item number position, JSON value v: an object with
 * "key", "version" and either "changes" (an object) or "delete": true, and
 * nothing else.  Fills item's key, changes and expected version.
 */
static void
rv_ReadItemShape(JsonbValue *v, int position, RvItem *item)
{
	JsonbContainer *obj;
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	field;
	JsonbValue *key;
	JsonbValue *version;
	JsonbValue *changes;
	JsonbValue *del;

	memset(item, 0, sizeof(RvItem));
	item->position = position;

	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		rv_ReportBadItem(position, "is not a JSON object",
						 "Each item is an object such as {\"key\": 1, \"version\": 7, \"changes\": {\"name\": \"Ada\"}}.");
	obj = v->val.binary.data;

	it = JsonbIteratorInit(obj);
	while ((tok = JsonbIteratorNext(&it, &field, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY)
			continue;
		if (!((field.val.string.len == 3 && strncmp(field.val.string.val, "key", 3) == 0) ||
			  (field.val.string.len == 7 && strncmp(field.val.string.val, "version", 7) == 0) ||
			  (field.val.string.len == 7 && strncmp(field.val.string.val, "changes", 7) == 0) ||
			  (field.val.string.len == 6 && strncmp(field.val.string.val, "delete", 6) == 0)))
			rv_ReportBadItem(position,
							 psprintf("has unknown field \"%s\"",
									  pnstrdup(field.val.string.val,
											   pg_mbcliplen(field.val.string.val,
															field.val.string.len,
															NAMEDATALEN))),
							 "An item has the fields \"key\", \"version\", and \"changes\" or \"delete\".");
	}

	key = rv_JsonbField(obj, "key");
	if (key == NULL || key->type == jbvNull)
		rv_ReportBadItem(position, "has no \"key\"", NULL);
	item->key = JsonbValueToJsonb(key);

	version = rv_JsonbField(obj, "version");
	if (version == NULL || version->type == jbvNull)
		rv_ReportBadItem(position, "has no \"version\"",
						 "Pass the version the row was read at.");
	if (version->type != jbvNumeric && version->type != jbvString)
		rv_ReportBadItem(position, "has a \"version\" that is not a number", NULL);
	item->expected = DatumGetInt64(DirectFunctionCall1(int8in,
													   CStringGetDatum(rv_JsonbValueText(version))));

	changes = rv_JsonbField(obj, "changes");
	del = rv_JsonbField(obj, "delete");
	if (del != NULL && !(del->type == jbvBool && del->val.boolean))
		rv_ReportBadItem(position, "has a \"delete\" that is not true",
						 "Leave \"delete\" out of an item that changes its row.");
	if ((changes == NULL) == (del == NULL))
		rv_ReportBadItem(position, "must have either \"changes\" or \"delete\"", NULL);
	if (changes != NULL)
	{
		if (changes->type != jbvBinary || !JsonContainerIsObject(changes->val.binary.data))
			rv_ReportBadItem(position, "has \"changes\" that are not a JSON object",
							 "Pass an object of column names and new values, such as {\"name\": \"Ada\"}.");
		item->changes = JsonbValueToJsonb(changes);
	}
}

/*
 * Fills *order with the comparison of target's primary key, column by
 * column as its index compares them.
 */
static void
rv_InitKeyOrder(const RvTarget *target, RvKeyOrder *order)
{
	int			i;

	order->nkeys = target->nkeys;
	for (i = 0; i < target->nkeys; i++)
	{
		fmgr_info(target->keycmp[i], &order->cmp[i]);
		order->coll[i] = target->keycoll[i];
	}
}

/*
 * Orders two items by their keys, as the primary key's index orders them.
 */
static int
rv_CompareItems(const void *a, const void *b, void *arg)
{
	const RvItem *x = *(RvItem *const *) a;
	const RvItem *y = *(RvItem *const *) b;
	RvKeyOrder *order = (RvKeyOrder *) arg;
	int			i;

	for (i = 0; i < order->nkeys; i++)
	{
		int32		c = DatumGetInt32(FunctionCall2Coll(&order->cmp[i], order->coll[i],
														x->values[i], y->values[i]));

		if (c != 0)
			return c;
	}
	return 0;
}

/*
 * Sorts items by key (order, rv_InitKeyOrder's) into sorted (an array of
 * pointers) and refuses two items with the same key: which change wins
 * would depend on the order.
 */
static void
rv_SortItems(RvKeyOrder *order, RvItem *items, int nitems, RvItem **sorted)
{
	int			i;

	for (i = 0; i < nitems; i++)
		sorted[i] = &items[i];
	qsort_arg(sorted, nitems, sizeof(RvItem *), rv_CompareItems, order);

	for (i = 1; i < nitems; i++)
	{
		if (rv_CompareItems(&sorted[i - 1], &sorted[i], order) == 0)
		{
			int			first = Min(sorted[i - 1]->position, sorted[i]->position);
			int			second = Max(sorted[i - 1]->position, sorted[i]->position);

			ereport(ERROR,
					(errcode(ERRCODE_CARDINALITY_VIOLATION),
					 errmsg("items %d and %d of conditional_write have the same key",
							first, second),
					 errdetail("A row can be written by one item of a call."),
					 errhint("Merge the changes to one row into one item.")));
		}
	}
}

/*
 * Refuses an item whose changes move its row to the key another item
 * names: that item would then find the moved row, and one call would
 * write the row twice.  sorted holds the items in key order (order).
 * Key columns converted in the statement (arrays, composites) are not
 * compared.
 */
static void
rv_CheckKeyMoves(const RvTarget *target, RvKeyOrder *order, RvItem **sorted,
				 int n)
{
	RvItem		moved;
	int			i,
				j,
				k;

	for (i = 0; i < n; i++)
	{
		RvItem	   *item = sorted[i];
		RvItem	   *p = &moved;
		bool		moves = false;
		int			lo = 0,
					hi = n - 1;

		/* the item's key as its changes leave it */
		moved.values = (Datum *) palloc(sizeof(Datum) * target->nkeys);
		memcpy(moved.values, item->values, sizeof(Datum) * target->nkeys);
		for (j = 0; j < item->ncols; j++)
			for (k = 0; k < target->nkeys; k++)
				if (item->cols[j] == target->keyattnums[k] &&
					item->nulls[target->nkeys + 2 + j] != 'n')
				{
					moved.values[k] = item->values[target->nkeys + 2 + j];
					moves = true;
				}
		if (moves)
		{
			while (lo <= hi)
			{
				int			mid = (lo + hi) / 2;
				int			c = rv_CompareItems(&p, &sorted[mid], order);

				if (c == 0)
				{
					if (sorted[mid] != item)
						ereport(ERROR,
								(errcode(ERRCODE_CARDINALITY_VIOLATION),
								 errmsg("item %d of conditional_write moves its row to the key of item %d",
										item->position, sorted[mid]->position),
								 errdetail("A row can be written by one item of a call."),
								 errhint("Write the moved row in another call.")));
					break;
				}
				if (c < 0)
					hi = mid - 1;
				else
					lo = mid + 1;
			}
		}
		pfree(moved.values);
	}
}

/*
 * Returns the columns of rel the current user may SELECT, in their order,
 * and their number in *ncols: the ones a conflict's "current" shows.
 */
static AttrNumber *
rv_VisibleColumns(Relation rel, int *ncols)
{
	TupleDesc	desc = RelationGetDescr(rel);
	AttrNumber *cols = (AttrNumber *) palloc(sizeof(AttrNumber) * Max(desc->natts, 1));
	bool		all = pg_class_aclcheck(RelationGetRelid(rel), GetUserId(),
										ACL_SELECT) == ACLCHECK_OK;
	int			n = 0;
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		if (all || pg_attribute_aclcheck(RelationGetRelid(rel), att->attnum,
										 GetUserId(), ACL_SELECT) == ACLCHECK_OK)
			cols[n++] = att->attnum;
	}
	*ncols = n;
	return cols;
}

/*
 * Runs statement stmt (a SELECT by key: RV_STMT_LOCK, RV_STMT_LOCK_KEY or
 * RV_STMT_CURRENT, whose columns are cols) for item's key.  Returns
 * whether it found the row, with its version in *version and, for
 * RV_STMT_CURRENT, the row as jsonb in *current (copied to the caller's
 * memory).
 */
static bool
rv_SelectRow(Relation rel, Oid fn_oid, RvStatement stmt, int ncols,
			 const AttrNumber *cols, RvItem *item, int64 *version,
			 Jsonb **current)
{
	RvPlanEntry scratch;
	RvPlanEntry *entry;
	bool		found;
	int			rc;

	entry = rv_GetStatement(rel, fn_oid, stmt, ncols, cols, rv_active > 1, &scratch);
	rc = SPI_execute_plan(entry->plan, item->values, item->nulls, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	found = SPI_processed > 0;
	if (found)
	{
		bool		isnull;

		*version = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull));
		if (isnull)
			*version = PG_INT64_MIN;	/* matches no version a client holds */
		if (current != NULL)
		{
			Datum		d = SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 2, &isnull);

			*current = isnull ? NULL : DatumGetJsonbPCopy(d);
		}
	}
	SPI_freetuptable(SPI_tuptable);
	if (entry == &scratch)
		rv_ReleaseEntry(&scratch);
	return found;
}

/*
 * Marks item a conflict with the row as it is now, or not found when the
 * caller may not see the row (any more).
 */
static void
rv_SetConflict(Relation rel, Oid fn_oid, int nvisible, const AttrNumber *visible,
			   RvItem *item)
{
	int64		version;
	Jsonb	   *current = NULL;

	if (rv_SelectRow(rel, fn_oid, RV_STMT_CURRENT, nvisible, visible, item,
					 &version, &current))
	{
		item->status = RV_ITEM_CONFLICT;
		item->version = version;
		item->has_version = version != PG_INT64_MIN;
		item->current = current;
	}
	else
		item->status = RV_ITEM_NOT_FOUND;
}

/*
 * Writes item: its UPDATE or DELETE, only while the row is at the expected
 * version.  Returns whether a row was written, setting the item's status
 * and new version.  target describes rel.
 */
static bool
rv_WriteItem(Relation rel, Oid fn_oid, const RvTarget *target, RvItem *item)
{
	RvStatement stmt = item->changes != NULL ? RV_STMT_UPDATE : RV_STMT_DELETE;
	RvPlanEntry scratch;
	RvPlanEntry *entry;
	bool		written;
	int			rc;

	/* a version the column cannot hold cannot be the row's */
	if (item->expected > target->version_max)
		return false;

	entry = rv_GetStatement(rel, fn_oid, stmt, item->ncols, item->cols,
							rv_active > 1, &scratch);
	rc = SPI_execute_plan(entry->plan, item->values, item->nulls, false, 0);
	if (rc != (stmt == RV_STMT_UPDATE ? SPI_OK_UPDATE_RETURNING : SPI_OK_DELETE))
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	written = SPI_processed > 0;
	if (written && stmt == RV_STMT_UPDATE)
	{
		bool		isnull;

		item->version = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, 1, &isnull));
		item->has_version = true;
		item->status = RV_ITEM_UPDATED;

		/* as in conditional_update: a row the trigger did not version */
		if (item->version == item->expected)
			rv_ReportNotVersioned(rel, get_func_namespace(fn_oid));
	}
	else if (written)
		item->status = RV_ITEM_DELETED;
	SPI_freetuptable(SPI_tuptable);
	if (entry == &scratch)
		rv_ReleaseEntry(&scratch);
	return written;
}

/*
 * Converts item's key and changes into the parameters of its statement
 * (the layout of conditional_update's: the key columns, the expected
 * version, the changes, each changed column's new value).
 */
static void
rv_ConvertItem(Relation rel, Oid fn_oid, const RvTarget *target, RvItem *item)
{
	RvStatement stmt = item->changes != NULL ? RV_STMT_UPDATE : RV_STMT_DELETE;
	RvPlanEntry scratch;
	RvPlanEntry *entry;
	int			n;

	if (item->changes != NULL)
	{
		int			i;

		item->cols = rv_ChangedColumns(rel, item->changes, &item->ncols);

		/*
		 * Refused now, not only when an item that holds is written: the
		 * changed columns and the version column, which every UPDATE sets.
		 */
		for (i = 0; i <= item->ncols; i++)
		{
			AttrNumber	attnum = i < item->ncols ? item->cols[i] : target->version_attnum;

			if (!rv_ColumnPrivilege(RelationGetRelid(rel), attnum, ACL_UPDATE))
				aclcheck_error_col(ACLCHECK_NO_PRIV, OBJECT_TABLE,
								   RelationGetRelationName(rel),
								   NameStr(TupleDescAttr(RelationGetDescr(rel),
														 attnum - 1)->attname));
		}
	}

	entry = rv_GetStatement(rel, fn_oid, stmt, item->ncols, item->cols,
							rv_active > 1, &scratch);
	n = target->nkeys + 2 + entry->ncols;
	item->values = (Datum *) palloc0(sizeof(Datum) * n);
	item->nulls = (char *) palloc(n);
	memset(item->nulls, ' ', n);
	rv_KeyValues(rel, entry, JsonbPGetDatum(item->key), JSONBOID, JSONBOID,
				 item->values);
	item->values[target->nkeys] = Int64GetDatum(item->expected);
	if (item->changes != NULL)
	{
		item->values[target->nkeys + 1] = JsonbPGetDatum(item->changes);
		rv_ChangeValues(rel, entry, item->changes,
						item->values + target->nkeys + 2,
						item->nulls + target->nkeys + 2);
	}
	else
		item->nulls[target->nkeys + 1] = 'n';
	if (entry == &scratch)
		rv_ReleaseEntry(&scratch);
}

/*
 * Returns whether item's changes set a column that PostgreSQL counts as a
 * key for row locks (keycols: RelationGetIndexAttrBitmap's
 * INDEX_ATTR_BITMAP_KEY, the columns of unique indexes a foreign key can
 * reference): its UPDATE takes FOR UPDATE, not FOR NO KEY UPDATE, and the
 * lock taken first must be as strong, or the UPDATE would have to
 * strengthen it while others wait, and two calls could deadlock.
 */
static bool
rv_ChangesKey(const Bitmapset *keycols, const RvItem *item)
{
	int			i;

	for (i = 0; i < item->ncols; i++)
		if (bms_is_member(item->cols[i] - FirstLowInvalidHeapAttributeNumber, keycols))
			return true;
	return false;
}

/*
 * The body of conditional_write(): reads the items, writes them (all or
 * none when atomic) and fills their statuses.  Returns the items, in the
 * order the client gave them, and their number in *nitems.
 */
static RvItem *
rv_WriteItems(FunctionCallInfo fcinfo, Relation *relp, int *nitems)
{
	Oid			fn_oid = fcinfo->flinfo->fn_oid;
	Jsonb	   *items_json = PG_GETARG_JSONB_P(1);
	bool		atomic = PG_GETARG_BOOL(2);
	RvItemContext ctx;
	ErrorContextCallback errcb;
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	v;
	RvItem	   *items;
	RvItem	  **sorted;
	int			n = 0;
	AclMode		modes = 0;
	Relation	rel;
	RvPlanEntry scratch;
	RvPlanEntry *entry;
	RvTarget	target;
	AttrNumber *visible;
	int			nvisible;
	Bitmapset  *keycols;
	RvKeyOrder	order;
	bool		failed = false;
	int			i;

	if (!JB_ROOT_IS_ARRAY(items_json) || JB_ROOT_IS_SCALAR(items_json))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("items must be a JSON array"),
				 errhint("Pass an array of objects such as [{\"key\": 1, \"version\": 7, \"changes\": {\"name\": \"Ada\"}}].")));

	if (JB_ROOT_COUNT(items_json) > RV_MAX_ITEMS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("conditional_write takes at most %d items", RV_MAX_ITEMS),
				 errdetail("items has %u.", (unsigned int) JB_ROOT_COUNT(items_json)),
				 errhint("Write the rows in several calls.")));

	ctx.position = 0;
	errcb.callback = rv_ItemErrorContext;
	errcb.arg = &ctx;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	/* the items' shapes, before the table is opened */
	items = (RvItem *) palloc(sizeof(RvItem) * Max(JB_ROOT_COUNT(items_json), 1));
	it = JsonbIteratorInit(&items_json->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		CHECK_FOR_INTERRUPTS();
		ctx.position = n + 1;
		rv_ReadItemShape(&v, n + 1, &items[n]);
		modes |= items[n].changes != NULL ? ACL_UPDATE : ACL_DELETE;
		n++;
	}
	ctx.position = 0;
	*nitems = n;

	/* the caller must hold each privilege its items use (none: UPDATE) */
	rel = rv_OpenTable(PG_GETARG_OID(0), modes & ACL_DELETE && !(modes & ACL_UPDATE) ?
					   ACL_DELETE : ACL_UPDATE,
					   RowExclusiveLock,
					   "Only tables whose row versions rowversion.enable() keeps can be written conditionally.");
	*relp = rel;
	rv_CitusRefuseInWorkerQuery(RelationGetRelid(rel), "conditional_write");
	if ((modes & (ACL_UPDATE | ACL_DELETE)) == (ACL_UPDATE | ACL_DELETE) &&
		pg_class_aclcheck(RelationGetRelid(rel), GetUserId(), ACL_DELETE) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, RelationGetRelationName(rel));

	entry = rv_GetStatement(rel, fn_oid, RV_STMT_FIND, 0, NULL, rv_active > 1, &scratch);
	target = entry->target;		/* a copy: the entry may go with the next */
	if (entry == &scratch)
		rv_ReleaseEntry(&scratch);
	rv_CheckTriggerFires(rel, target.tgenabled, NameStr(target.tgname),
						 target.tgconditional);
	if (n == 0)
	{
		error_context_stack = errcb.previous;
		return items;
	}

	/* every item converted, and keys told apart, before any row is touched */
	for (i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		ctx.position = items[i].position;
		rv_ConvertItem(rel, fn_oid, &target, &items[i]);
	}
	ctx.position = 0;
	sorted = (RvItem **) palloc(sizeof(RvItem *) * n);
	rv_InitKeyOrder(&target, &order);
	rv_SortItems(&order, items, n, sorted);
	rv_CheckKeyMoves(&target, &order, sorted, n);
	visible = rv_VisibleColumns(rel, &nvisible);
	keycols = RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_KEY);

	if (atomic)
	{
		/*
		 * SELECT ... FOR UPDATE takes UPDATE on some column, even to lock
		 * a row the item deletes: said here, not as a failed lock.
		 */
		if (pg_class_aclcheck(RelationGetRelid(rel), GetUserId(), ACL_UPDATE) != ACLCHECK_OK &&
			pg_attribute_aclcheck_all(RelationGetRelid(rel), GetUserId(), ACL_UPDATE,
									  ACLMASK_ANY) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to lock rows of table \"%s\"",
							RelationGetRelationName(rel)),
					 errdetail("An atomic conditional_write locks its rows first, which takes UPDATE on a column of the table."),
					 errhint("Pass atomic => false, or write each row with rowversion.conditional_delete()."),
					 errtable(rel)));

		/* lock every row in key order, and compare its version */
		for (i = 0; i < n; i++)
		{
			RvItem	   *item = sorted[i];
			int64		version;

			CHECK_FOR_INTERRUPTS();
			ctx.position = item->position;
			if (!rv_SelectRow(rel, fn_oid,
							  item->changes == NULL || rv_ChangesKey(keycols, item) ?
							  RV_STMT_LOCK_KEY : RV_STMT_LOCK,
							  0, NULL, item, &version, NULL))
			{
				item->status = RV_ITEM_NOT_FOUND;
				failed = true;
			}
			else if (version != item->expected)
			{
				rv_SetConflict(rel, fn_oid, nvisible, visible, item);
				failed = true;
			}
		}
		ctx.position = 0;
		if (failed)
		{
			for (i = 0; i < n; i++)
				if (items[i].status == RV_ITEM_PENDING)
					items[i].status = RV_ITEM_NOT_WRITTEN;
			error_context_stack = errcb.previous;
			return items;
		}
	}

	/* write each item in key order */
	for (i = 0; i < n; i++)
	{
		RvItem	   *item = sorted[i];

		CHECK_FOR_INTERRUPTS();
		ctx.position = item->position;
		if (rv_WriteItem(rel, fn_oid, &target, item))
			continue;

		/*
		 * Atomic mode locked the row at the expected version, so only a
		 * policy or a trigger that keeps this caller from writing the row
		 * stops it now; earlier items are written, so the call fails.
		 */
		if (atomic)
			ereport(ERROR,
					(errcode(rv_sqlstate_style == RV_STYLE_POSTGREST ?
							 RV_SQLSTATE_PT_NOT_FOUND : RV_SQLSTATE_NOT_FOUND),
					 errmsg("row not found in table \"%s\"",
							RelationGetRelationName(rel)),
					 errdetail("Item %d's row was locked at its version, but the write changed no row; a row-level security policy or a trigger kept it.",
							   item->position),
					 errtable(rel)));
		rv_SetConflict(rel, fn_oid, nvisible, visible, item);

		/*
		 * A row still at the expected version was kept from this caller by
		 * a policy or a trigger: not found, as conditional_update says.
		 */
		if (item->status == RV_ITEM_CONFLICT && item->has_version &&
			item->version == item->expected)
		{
			item->status = RV_ITEM_NOT_FOUND;
			item->has_version = false;
			item->current = NULL;
		}
	}
	ctx.position = 0;
	error_context_stack = errcb.previous;
	return items;
}

/*
 * Returns the tuple store that the materialized result goes into, with
 * the result's descriptor in *desc, after checking that the caller takes
 * one.
 */
static Tuplestorestate *
rv_BeginResult(FunctionCallInfo fcinfo, TupleDesc *desc)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext oldcxt;
	Tuplestorestate *store;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	if (get_call_result_type(fcinfo, NULL, desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	oldcxt = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	*desc = CreateTupleDescCopy(*desc);
	store = tuplestore_begin_heap(true, false, work_mem);
	MemoryContextSwitchTo(oldcxt);

	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = store;
	rsinfo->setDesc = *desc;
	return store;
}

/*
 * conditional_write(tbl, items, atomic) — writes many rows of tbl, each
 * only while it is at the version its item names, and returns one row per
 * item: (ordinality, key, status, version, current).
 */
Datum
conditional_write(PG_FUNCTION_ARGS)
{
	Tuplestorestate *store;
	TupleDesc	desc;
	RvItem	   *items = NULL;
	Relation	rel = NULL;
	MemoryContext cxt;
	int			nitems = 0;
	int			i;

	rv_CheckNotNull(fcinfo, 0, "tbl");
	rv_CheckNotNull(fcinfo, 1, "items");
	rv_CheckNotNull(fcinfo, 2, "atomic");
	store = rv_BeginResult(fcinfo, &desc);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	cxt = CurrentMemoryContext;
	rv_active++;
	PG_TRY();
	{
		items = rv_WriteItems(fcinfo, &rel, &nitems);
	}
	PG_CATCH();
	{
		rv_active--;
		/* Citus's refusal of a nested distributed query, as our own */
		rv_CitusTranslateNestedError(PG_GETARG_OID(0), "conditional_write", cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	rv_active--;

	/* the results, copied into the store before SPI's memory goes */
	for (i = 0; i < nitems; i++)
	{
		RvItem	   *item = &items[i];
		Datum		values[5];
		bool		nulls[5];

		memset(nulls, false, sizeof(nulls));
		values[0] = Int64GetDatum(item->position);
		values[1] = JsonbPGetDatum(item->key);
		values[2] = CStringGetTextDatum(rv_status_names[item->status]);
		values[3] = Int64GetDatum(item->version);
		nulls[3] = !item->has_version;
		values[4] = item->current ? JsonbPGetDatum(item->current) : (Datum) 0;
		nulls[4] = item->current == NULL;
		tuplestore_putvalues(store, desc, values, nulls);
	}

	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	if (rel != NULL)
		table_close(rel, NoLock);
	return (Datum) 0;
}
