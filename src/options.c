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
 *	 then, only when an option added after 1.0 differs from its default:
 *	   an empty string, which ends the ignore_columns (no column's name is
 *	   empty), and after it one "name=value" argument per such option:
 *	   "enforce=false" (enforce => false, the log-only mode)
 *
 * Options are written only when they are not the default, so the trigger
 * of a table enabled with 1.1's defaults is byte for byte the trigger 1.0
 * made, and a 1.0 trigger (or one from a 1.0 dump) reads as the defaults.
 * An option after the separator that this library does not know is an
 * error, as any other argument enable() could not have written is.
 *
 * Arguments travel with the trigger through pg_dump, to the clones that
 * PostgreSQL makes on partitions and to replicas.  enable() writes them
 * with rv_TriggerArguments(), every C reader reads them with
 * rv_ReadOptions() or rv_VersionColumnName(), and the view
 * rowversion.tables decodes the same positions in SQL.  What a mode means
 * is modes.h's.
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
 * Reads the options that the nargs trigger arguments args carry into
 * *options, whose strings point into args.  Returns NULL, or when the
 * arguments are not ones enable() could have written, a sentence saying
 * what is wrong with them.
 */
const char *
rv_DecodeArguments(int nargs, char **args, RvOptions *options)
{
	int			end = nargs;
	bool		seen_enforce = false;
	int			i;

	if (nargs < RV_ARG_IGNORED)
		return "Expected at least 3 arguments.";
	options->version_column = args[RV_ARG_VERSION_COLUMN];
	if (!rv_ModeFromName(args[RV_ARG_MODE], &options->mode))
		return psprintf("The mode must be %s.", rv_ModeNames("or"));
	if (!parse_bool(args[RV_ARG_REQUIRE_VERSION], &options->require_version))
		return "require_version must be \"true\" or \"false\".";
	options->enforce = true;

	/* the ignore_columns end at the separator, if there is one */
	for (i = RV_ARG_IGNORED; i < nargs; i++)
	{
		if (args[i][0] == '\0')
		{
			end = i;
			break;
		}
	}
	options->nignored = end - RV_ARG_IGNORED;
	options->ignored = args + RV_ARG_IGNORED;

	/* the options after it, each once, with the values enable() writes */
	if (end == nargs - 1)
		return "No option follows the empty argument.";
	for (i = end + 1; i < nargs; i++)
	{
		if (strcmp(args[i], RV_OPTION_ENFORCE "=true") != 0 &&
			strcmp(args[i], RV_OPTION_ENFORCE "=false") != 0)
			return psprintf("\"%s\" is not an option rowversion.enable() writes.",
							args[i]);
		if (seen_enforce)
			return "Option \"" RV_OPTION_ENFORCE "\" is given more than once.";
		seen_enforce = true;
		options->enforce = strcmp(args[i], RV_OPTION_ENFORCE "=true") == 0;
	}
	return NULL;
}

/*
 * Reads the options of row trigger tg on rel into *options, whose strings
 * point into tg.  Arguments enable() could not have written are an error.
 */
void
rv_ReadOptions(Trigger *tg, Relation rel, RvOptions *options)
{
	const char *detail = rv_DecodeArguments(tg->tgnargs, tg->tgargs, options);

	if (detail != NULL)
		rv_ReportBadArguments(tg, rel, detail);
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
 * Returns the arguments that carry options, in the form the header of
 * this file describes, as a list of C strings, for CREATE TRIGGER.
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

	/* options added after 1.0, only when not their default */
	if (!options->enforce)
	{
		args = lappend(args, pstrdup(""));
		args = lappend(args, pstrdup(RV_OPTION_ENFORCE "=false"));
	}
	return args;
}
