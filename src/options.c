/*-------------------------------------------------------------------------
 *
 * options.c
 *	  The per-table options of rowversion.enable() and the one protocol
 *	  that carries them: the arguments of the table's row trigger.
 *
 *	 0: the version column's name
 *	 1: the mode's name (RvMode: "xact" or "counter")
 *	 2: require_version, "true" or "false"
 *	 3 and later: the ignore_columns, one name each
 *
 * Arguments travel with the trigger through pg_dump and to the clones that
 * PostgreSQL makes on partitions.  enable() writes them with
 * rv_TriggerArguments(), every C reader reads them with rv_ReadOptions()
 * or rv_VersionColumnName(), and the view rowversion.tables decodes the
 * same positions in SQL.  What a mode means is defined here too, and only
 * here: the types its column may have, the version a row starts at, the
 * next version, which claims hold, whether an INSERT keeps a written
 * version.  A new mode is a new RvMode value, its name in rv_mode_names,
 * and the cases the compiler then asks for in this file.
 *
 *-------------------------------------------------------------------------
 */
#include "rowversion.h"

#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/rel.h"

/* the modes' names, by RvMode */
static const char *const rv_mode_names[] = {
	[RV_MODE_XACT] = "xact",
	[RV_MODE_COUNTER] = "counter",
};

#define RV_NUM_MODES	((int) lengthof(rv_mode_names))

/*
 * Sets *mode to the mode called name and returns true, or returns false
 * when there is none.
 */
bool
rv_ModeFromName(const char *name, RvMode *mode)
{
	int			i;

	for (i = 0; i < RV_NUM_MODES; i++)
	{
		if (strcmp(name, rv_mode_names[i]) == 0)
		{
			*mode = (RvMode) i;
			return true;
		}
	}
	return false;
}

/*
 * Returns the name of mode.
 */
const char *
rv_ModeName(RvMode mode)
{
	return rv_mode_names[mode];
}

/*
 * Returns the valid modes as a message lists them, joined by conjunction
 * ("and", "or"): "\"xact\" and \"counter\"".
 */
const char *
rv_ModeNames(const char *conjunction)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < RV_NUM_MODES; i++)
		appendStringInfo(&buf, "%s%s%s\"%s\"",
						 i == 0 ? "" : i == RV_NUM_MODES - 1 ? " " : ", ",
						 i > 0 && i == RV_NUM_MODES - 1 ? conjunction : "",
						 i > 0 && i == RV_NUM_MODES - 1 ? " " : "",
						 rv_mode_names[i]);
	return buf.data;
}

/*
 * Returns whether a version column of type typid suits mode, and in
 * *detail the sentence that says which types it takes.
 */
bool
rv_ModeTakesType(RvMode mode, Oid typid, const char **detail)
{
	switch (mode)
	{
		case RV_MODE_XACT:
			*detail = "Mode xact needs a bigint column.";
			return typid == INT8OID;
		case RV_MODE_COUNTER:
			*detail = "Mode counter needs a smallint, integer or bigint column.";
			return rv_VersionTypeMax(typid) != 0;
	}
	pg_unreachable();
}

/*
 * Returns the version a row gets that mode starts without one: an
 * inserted row with no value, or a row that was there before enable().
 * In xact mode the current top-level transaction's ID (assigning one).
 */
int64
rv_ModeFirstVersion(RvMode mode)
{
	switch (mode)
	{
		case RV_MODE_XACT:
			return (int64) U64FromFullTransactionId(GetTopFullTransactionId());
		case RV_MODE_COUNTER:
			return 1;
	}
	pg_unreachable();
}

/*
 * Returns the version an UPDATE gives a row at version current (which the
 * caller has checked is below the column's largest value): in xact mode
 * greatest(the transaction's ID, current + 1), so versions never go back
 * and never wrap; in counter mode current + 1.
 */
int64
rv_ModeNextVersion(RvMode mode, int64 current)
{
	switch (mode)
	{
		case RV_MODE_XACT:
			return Max(rv_ModeFirstVersion(RV_MODE_XACT), current + 1);
		case RV_MODE_COUNTER:
			return current + 1;
	}
	pg_unreachable();
}

/*
 * Returns whether a claim of version claim holds for a row at current, in
 * a column whose largest value is maxvalue: the current version, or in
 * counter mode also current + 1, as ORMs that increment the version
 * themselves send it (their WHERE version = old guards that protocol).
 */
bool
rv_ModeAcceptsClaim(RvMode mode, int64 claim, int64 current, int64 maxvalue)
{
	if (claim == current)
		return true;
	switch (mode)
	{
		case RV_MODE_XACT:
			return false;
		case RV_MODE_COUNTER:
			return current < maxvalue && claim == current + 1;
	}
	pg_unreachable();
}

/*
 * Returns whether an INSERT keeps a version the client wrote: counter mode
 * does (ORMs insert their starting value and remember it), xact mode
 * replaces it with the transaction's ID -- so a row an UPDATE moves to
 * another partition, which PostgreSQL re-inserts there, must be told apart
 * to keep the version that UPDATE gave it (trigger.c).
 */
bool
rv_ModeKeepsInsertedVersion(RvMode mode)
{
	switch (mode)
	{
		case RV_MODE_XACT:
			return false;
		case RV_MODE_COUNTER:
			return true;
	}
	pg_unreachable();
}

/*
 * Reports a trigger whose arguments rowversion.enable() did not write.
 */
static pg_noreturn void
rv_ReportBadArguments(Trigger *tg, Relation rel, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
			 errmsg("trigger \"%s\" on table \"%s\" has invalid arguments",
					tg->tgname, RelationGetRelationName(rel)),
			 errdetail_internal("%s", detail),
			 errhint("Call rowversion.enable() to recreate the trigger.")));
	pg_unreachable();
}

/*
 * Reads the options of row trigger tg on rel into *options, whose strings
 * point into tg.  Arguments enable() could not have written are an error.
 */
void
rv_ReadOptions(Trigger *tg, Relation rel, RvOptions *options)
{
	if (tg->tgnargs < RV_ARG_IGNORED)
		rv_ReportBadArguments(tg, rel, "Expected at least 3 arguments.");
	options->version_column = tg->tgargs[RV_ARG_VERSION_COLUMN];
	if (!rv_ModeFromName(tg->tgargs[RV_ARG_MODE], &options->mode))
		rv_ReportBadArguments(tg, rel, psprintf("The mode must be %s.",
												rv_ModeNames("or")));
	if (!parse_bool(tg->tgargs[RV_ARG_REQUIRE_VERSION], &options->require_version))
		rv_ReportBadArguments(tg, rel, "require_version must be \"true\" or \"false\".");
	options->nignored = tg->tgnargs - RV_ARG_IGNORED;
	options->ignored = tg->tgargs + RV_ARG_IGNORED;
}

/*
 * Returns the version column that row trigger tg names (its first
 * argument), or NULL when it names none.
 */
const char *
rv_VersionColumnName(Trigger *tg)
{
	return tg->tgnargs > RV_ARG_VERSION_COLUMN ? tg->tgargs[RV_ARG_VERSION_COLUMN] : NULL;
}

/*
 * Returns the arguments that carry options, as a list of C strings in
 * their positions, for CREATE TRIGGER.
 */
List *
rv_TriggerArguments(const RvOptions *options)
{
	List	   *args = NIL;
	int			i;

	args = lappend(args, pstrdup(options->version_column));
	args = lappend(args, pstrdup(rv_ModeName(options->mode)));
	args = lappend(args, pstrdup(options->require_version ? "true" : "false"));
	for (i = 0; i < options->nignored; i++)
		args = lappend(args, pstrdup(options->ignored[i]));
	return args;
}
