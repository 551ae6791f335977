/*-------------------------------------------------------------------------
 *
 * jsoninput.c
 *	  The inputs of a conditional write read from JSON into Datums: which
 *	  columns changes sets, the primary key's values from the caller's key
 *	  (a value of the key's type, its text, or a jsonb object naming each
 *	  key column) and each changed column's new value, all by the rules of
 *	  jsonb_populate_record: a type's input function reads the JSON
 *	  value's text, so domains and typmods apply and nothing is rounded.
 *
 *-------------------------------------------------------------------------
 */
#include "conditional.h"

#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"

/*
 * Returns the value of field name of JSON object obj (a jsonb's root or a
 * nested object), or NULL when it has none.
 */
JsonbValue *
rv_JsonbField(JsonbContainer *obj, const char *name)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) name;
	k.val.string.len = strlen(name);
	return findJsonbValueFromContainer(obj, JB_FOBJECT, &k);
}

/*
 * Returns the columns that changes (a jsonb object) sets, sorted, and
 * their number in *ncols.  Unknown columns, generated columns and identity
 * columns GENERATED ALWAYS are refused.
 */
AttrNumber *
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
bool
rv_IsJsonType(Oid typid)
{
	Oid			base = getBaseType(typid);

	return base == JSONOID || base == JSONBOID;
}

/*
 * Returns the text form of a JSON value, as jsonb_populate_record reads a
 * scalar: strings unquoted, numbers and booleans as written, containers as
 * JSON text.
 */
char *
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
rv_KeyInput(const RvPlanEntry *entry, int i, char *text)
{
	/* no typmod: a key the column would round or cut is no key of its rows */
	return InputFunctionCall((FmgrInfo *) &entry->keyinputs[i], text,
							 entry->keyioparams[i], -1);
}

/*
 * Returns the base type of the key argument's type keytype, remembered in
 * fn_extra so that a call site looks it up once, not on every call.
 */
Oid
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
void
rv_KeyValues(Relation rel, const RvPlanEntry *entry, Datum key, Oid keytype,
			 Oid keybase, Datum *values)
{
	const RvTarget *target = &entry->target;
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
			values[0] = rv_KeyInput(entry, 0,
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
			JsonbValue *found = rv_JsonbField(&jb->root, name);
			char	   *text;

			if (found == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("key has no value for primary key column \"%s\"", name)));
			text = rv_JsonInputText(found, target->keyjson[i]);
			if (text == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("primary key column \"%s\" cannot be null", name)));
			values[i] = rv_KeyInput(entry, i, text);
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
		values[0] = rv_KeyInput(entry, 0, DatumGetCString(key));
	else
	{
		Oid			outfunc;
		bool		isvarlena;

		getTypeOutputInfo(keytype, &outfunc, &isvarlena);
		values[0] = rv_KeyInput(entry, 0, OidOutputFunctionCall(outfunc, key));
	}
}

/*
 * Converts the value each changed column gets in changes into the
 * parameter of that column, the way jsonb_populate_record would (a JSON
 * null is NULL, still checked by a domain's input).  Array and composite
 * columns are converted by jsonb_populate_record itself (see
 * rv_PreparePopulate in plancache.c); their values point into the record
 * it returns, in the current memory context.
 */
void
rv_ChangeValues(Relation rel, const RvPlanEntry *entry, Jsonb *changes,
				Datum *values, char *nulls)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	for (i = 0; i < entry->ncols; i++)
	{
		const RvColumnInput *col = &entry->columns[i];
		const char *name = NameStr(TupleDescAttr(desc, col->attnum - 1)->attname);
		JsonbValue *v;
		char	   *text = NULL;

		values[i] = (Datum) 0;
		nulls[i] = 'n';
		if (col->populate)
		{
			FmgrInfo	populate = col->input;
			Datum		rec;
			bool		isnull;

			/*
			 * A cache of its own for this call, as each execution of a
			 * statement gets: a composite type altered since the entry was
			 * built (an attribute added, renamed or dropped) is read as it
			 * is now.
			 */
			populate.fn_extra = NULL;
			populate.fn_mcxt = CurrentMemoryContext;
			rec = FunctionCall2(&populate, col->base, JsonbPGetDatum(changes));
			values[i] = GetAttributeByNum(DatumGetHeapTupleHeader(rec), 1, &isnull);
			nulls[i] = isnull ? 'n' : ' ';
			continue;
		}

		v = rv_JsonbField(&changes->root, name);
		if (v == NULL)
			elog(ERROR, "column \"%s\" is missing from changes", name);

		text = rv_JsonInputText(v, col->json);
		values[i] = InputFunctionCall((FmgrInfo *) &col->input, text, col->ioparam,
									  col->typmod);
		nulls[i] = text == NULL ? 'n' : ' ';
	}
}
