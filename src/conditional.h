/*-------------------------------------------------------------------------
 *
 * conditional.h
 *	  What the three parts of conditional_update() and conditional_delete()
 *	  share: the statements a conditional write runs, what one knows of its
 *	  table, and the entries of the plan cache that hold both.
 *
 *	  conditional.c   the write itself (the SQL-callable functions)
 *	  conditionalwrite.c  many writes of one table in one call
 *	  plancache.c     the statements, prepared and cached per table
 *	  jsoninput.c     keys and changes read from JSON into Datums
 *
 *-------------------------------------------------------------------------
 */
#ifndef RV_CONDITIONAL_H
#define RV_CONDITIONAL_H

#include "rowversion.h"

#include "executor/spi.h"
#include "utils/jsonb.h"

/* changed-column sets larger than this are planned for each call */
#define RV_MAX_CACHED_COLUMNS	64

/* The statements a conditional write runs. */
typedef enum RvStatement
{
	RV_STMT_UPDATE,				/* the conditional UPDATE ... RETURNING */
	RV_STMT_DELETE,				/* the conditional DELETE */
	RV_STMT_FIND,				/* SELECT of the row's version by key */
	RV_STMT_LOCK,				/* the same, FOR NO KEY UPDATE */
	RV_STMT_LOCK_KEY,			/* the same, FOR UPDATE */
	RV_STMT_CURRENT				/* the row's version and the columns
								 * named (those the caller may SELECT) as
								 * a jsonb object, by key */
} RvStatement;

/* Identifies a cached plan; memset to zero before filling (hashed as bytes). */
typedef struct RvPlanKey
{
	Oid			relid;
	int16		stmt;			/* RvStatement */
	int16		ncols;			/* number of changed columns */
	AttrNumber	cols[RV_MAX_CACHED_COLUMNS];	/* changed columns, sorted */
} RvPlanKey;

/*
 * What a conditional write needs to know of its table.  Plain values only,
 * so a copy stays valid after the entry it came from is gone.
 */
typedef struct RvTarget
{
	int			nkeys;			/* primary key columns */
	AttrNumber	keyattnums[INDEX_MAX_KEYS];
	Oid			keytypes[INDEX_MAX_KEYS];
	bool		keyjson[INDEX_MAX_KEYS];	/* json or jsonb (or a domain over one) */
	Oid			keycmp[INDEX_MAX_KEYS];	/* the key index's btree comparison
										 * functions, and their collations */
	Oid			keycoll[INDEX_MAX_KEYS];
	AttrNumber	version_attnum; /* the version column */
	int64		version_max;	/* largest value its type holds */
	char		tgenabled;		/* the row trigger's pg_trigger.tgenabled */
	bool		tgconditional;	/* whether it has a WHEN condition or columns */
	NameData	tgname;
} RvTarget;

/*
 * How the new value of one changed column is made from its JSON value, by
 * the rules of jsonb_populate_record: arrays and composites (and domains
 * over them) by jsonb_populate_record itself, called with a record of one
 * attribute named and typed as the column; every other type's input
 * function reads the JSON value's text (json and jsonb read it as JSON).
 * Either way the value is a parameter of the column's type.
 */
typedef struct RvColumnInput
{
	AttrNumber	attnum;
	bool		populate;		/* array or composite: input is
								 * jsonb_populate_record, given base */
	bool		json;			/* json or jsonb, or a domain over one */
	Oid			ioparam;
	int32		typmod;
	FmgrInfo	input;
	Datum		base;			/* the record populated (populate only) */
} RvColumnInput;

/*
 * A statement and what it knows of the table.  The FmgrInfos and arrays it
 * points to live in cxt, which goes with the entry: use them only while
 * the entry is in use (see rv_GetStatement).
 */
typedef struct RvPlanEntry
{
	RvPlanKey	key;
	RvTarget	target;
	SPIPlanPtr	plan;
	MemoryContext cxt;
	FmgrInfo   *keyinputs;		/* the key columns' input functions */
	Oid		   *keyioparams;
	int			ncols;			/* changed columns (UPDATE) */
	RvColumnInput *columns;		/* one per changed column, by attnum */
} RvPlanEntry;

/* plancache.c */
extern RvPlanEntry *rv_GetStatement(Relation rel, Oid fn_oid, RvStatement stmt,
									int ncols, const AttrNumber *cols,
									bool nested, RvPlanEntry *scratch);
extern void rv_ReleaseEntry(RvPlanEntry *entry);

/* conditional.c */
extern pg_noreturn void rv_ReportNotVersioned(Relation named, Oid nsp);
extern int	rv_active;

/* jsoninput.c */
extern JsonbValue *rv_JsonbField(JsonbContainer *obj, const char *name);
extern char *rv_JsonbValueText(JsonbValue *v);
extern AttrNumber *rv_ChangedColumns(Relation rel, Jsonb *changes, int *ncols);
extern bool rv_IsJsonType(Oid typid);
extern Oid	rv_KeyBaseType(FunctionCallInfo fcinfo, Oid keytype);
extern void rv_KeyValues(Relation rel, const RvPlanEntry *entry, Datum key,
						 Oid keytype, Oid keybase, Datum *values);
extern void rv_ChangeValues(Relation rel, const RvPlanEntry *entry,
							Jsonb *changes, Datum *values, char *nulls);

#endif							/* RV_CONDITIONAL_H */
