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
 * same positions in SQL.  What a mode means is modes.h's.
 *
 *-------------------------------------------------------------------------
 */
#include "rowversion.h"

#include "utils/builtins.h"
#include "utils/rel.h"



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
		if (strcmp(name, rv_ModeName((RvMode) i)) == 0)
		{
			*mode = (RvMode) i;
			return true;
		}
	}
	return false;
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
						 rv_ModeName((RvMode) i));
	return buf.data;
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
