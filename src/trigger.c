/*-------------------------------------------------------------------------
 *
 * trigger.c
 *	  The row trigger that owns a table's version column: it assigns the
 *	  version on INSERT and UPDATE, checks claims and the If-Match
 *	  preconditions of expect_match() (also on DELETE), enforces
 *	  require_version -- or, on a table in log-only mode, warns about and
 *	  counts what it would have refused -- and leaves updates of
 *	  ignore_columns alone.
 *
 * rowversion.enable() creates it as a BEFORE INSERT OR UPDATE OR DELETE ...
 * FOR EACH ROW trigger whose arguments carry the table's options
 * (options.c, which also says what each mode does).  Their names are
 * resolved against each partition's own descriptor, since column numbers
 * differ between them, once per trigger and statement, never per row.
 *
 *-------------------------------------------------------------------------
 */
#include "rowversion.h"

#include "access/htup_details.h"
#include "storage/itemptr.h"
#include "access/tupmacs.h"
#include "access/sysattr.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/partition.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "nodes/bitmapset.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(version_trigger);

/*
 * A trigger's options, resolved against the relation it fires on.  Lives
 * in the trigger's FmgrInfo context (fn_extra), so for one statement.
 */
typedef struct RvTriggerOptions
{
	Oid			tgoid;			/* trigger the options were parsed for */
	Oid			relid;			/* relation they were resolved against */
	AttrNumber	attnum;			/* the version column */
	Oid			atttypid;		/* INT2OID, INT4OID or INT8OID */
	int64		maxvalue;		/* largest value that type holds */
	int16		attlen;			/* 2, 4 or 8 */
	bool		attbyval;		/* whether its Datum holds the value itself */
	int32		fixedoff;		/* its offset in a tuple without NULLs, when
								 * every column before it has a fixed width;
								 * else -1 */
	RvMode		mode;
	bool		require_version;
	bool		enforce;		/* false: log-only, conflicts only warn */
	Bitmapset  *ignore_cols;	/* numbered like tg_updatedcols; NULL if none */
	int			compare_state;	/* rv_CheckMayClaim's cache */
	bool		ancestors_known;	/* whether ancestors is filled in */
	List	   *ancestors;		/* the tables rel's rows belong to
								 * (rv_Ancestors), when preconditions need
								 * them */
} RvTriggerOptions;

/*
 * The version the last UPDATE of a partition of an xact-mode table gave its
 * row.  When that UPDATE moves the row to another partition, PostgreSQL
 * deletes it from the old partition (whose BEFORE DELETE trigger, this one,
 * finds the same row and arms the note) and then runs the destination's
 * INSERT triggers; that INSERT keeps this version instead of starting over,
 * so the row's versions still increase.  Statements that other triggers run
 * in between (an audit trigger's INSERT, say) run at a greater trigger
 * depth and leave the note alone; the next INSERT or UPDATE at the note's
 * own depth consumes it.  It applies only to an armed note and an INSERT
 * into a partition of the same partitioned table that carries exactly this
 * version.
 */
typedef struct RvPendingMove
{
	bool		valid;
	bool		armed;			/* its row's DELETE has been seen */
	int			depth;			/* trigger depth of that UPDATE */
	FullTransactionId fxid;		/* its top-level transaction */
	Oid			relid;			/* the partition it updated */
	ItemPointerData ctid;		/* the row it updated */
	int64		version;		/* the version the row left with */
} RvPendingMove;

static RvPendingMove rv_pending_move;

/*
 * The row whose UPDATE last failed a precondition on a table in log-only
 * mode, and was let through with a warning.  When that UPDATE moves the
 * row to another partition, the DELETE from the old partition that
 * PostgreSQL runs next (in the same command and subtransaction, at the
 * same trigger depth, on the same row) is not checked again: the row is
 * reported once.  Any other DELETE is checked.
 */
typedef struct RvWarnedRow
{
	bool		valid;
	int			depth;			/* trigger depth of that UPDATE */
	FullTransactionId fxid;		/* its top-level transaction */
	SubTransactionId subid;		/* its subtransaction */
	CommandId	cid;			/* its command: the move's DELETE is in it */
	Oid			relid;			/* the relation it updated */
	ItemPointerData ctid;		/* the row it updated */
} RvWarnedRow;

static RvWarnedRow rv_warned_row;

/*
 * Parses the options of the firing trigger, resolves them against its
 * relation and caches them in fn_extra.  A version column that is missing
 * or of the wrong type is an error; an ignored column that no longer
 * exists is skipped, since no UPDATE can name it.
 */
static RvTriggerOptions *
rv_ParseOptions(FunctionCallInfo fcinfo, TriggerData *trigdata)
{
	Trigger    *tg = trigdata->tg_trigger;
	Relation	rel = trigdata->tg_relation;
	TupleDesc	desc = RelationGetDescr(rel);
	RvTriggerOptions *opts;
	RvOptions	options;
	MemoryContext oldcxt;
	Form_pg_attribute att;
	const char *typedetail;
	int			i;

	rv_ReadOptions(tg, rel, &options);

	/*
	 * On Citus, a copy of a reference table in xact mode would take this
	 * node's own versions, and a shard in log-only mode would count its
	 * conflicts apart from the table's: enable() refuses both, and a table
	 * made a Citus table after enable() is refused on every write.
	 */
	if (options.mode == RV_MODE_XACT || !options.enforce)
	{
		RvCitusKind kind;

		if (OidIsValid(rv_CitusShardOf(rel, &kind)))
		{
			if (!options.enforce)
				rv_ReportCitusLogOnly(rv_TableName(rel));
			if (kind == RV_CITUS_REFERENCE)
				rv_ReportReferenceXact(rv_TableName(rel));
		}
	}

	oldcxt = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	opts = (RvTriggerOptions *) palloc0(sizeof(RvTriggerOptions));
	opts->tgoid = tg->tgoid;
	opts->relid = RelationGetRelid(rel);
	opts->mode = options.mode;
	opts->require_version = options.require_version;
	opts->enforce = options.enforce;

	opts->attnum = rv_FindColumn(desc, options.version_column);
	if (opts->attnum == InvalidAttrNumber)
	{
		/* (looked up before the report starts: it may run a query) */
		const char *relname = rv_TableName(rel);

		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("version column \"%s\" of table \"%s\" does not exist",
						options.version_column, relname),
				 errhint("Call rowversion.enable() to name the version column again."),
				 errtable(rel)));
	}

	att = TupleDescAttr(desc, opts->attnum - 1);
	opts->atttypid = att->atttypid;
	opts->attlen = att->attlen;
	opts->attbyval = att->attbyval;
	opts->maxvalue = rv_VersionTypeMax(att->atttypid);
	if (!rv_ModeTakesType(opts->mode, att->atttypid, &typedetail))
	{
		/* (looked up before the report starts: it may run a query) */
		const char *relname = rv_TableName(rel);

		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("version column \"%s\" of table \"%s\" is of type %s",
						NameStr(att->attname), relname,
						format_type_be(att->atttypid)),
				 errdetail("%s", typedetail),
				 rv_errtablecol(rel, opts->attnum)));
	}

	opts->fixedoff = 0;
	for (i = 0; i < opts->attnum - 1 && opts->fixedoff >= 0; i++)
	{
		Form_pg_attribute before = TupleDescAttr(desc, i);

		if (before->attlen > 0)
			opts->fixedoff = att_align_nominal(opts->fixedoff, before->attalign) +
				before->attlen;
		else
			opts->fixedoff = -1;
	}
	if (opts->fixedoff >= 0)
		opts->fixedoff = att_align_nominal(opts->fixedoff, att->attalign);

	for (i = 0; i < options.nignored; i++)
	{
		AttrNumber	attnum = rv_FindColumn(desc, options.ignored[i]);

		if (attnum != InvalidAttrNumber)
			opts->ignore_cols =
				bms_add_member(opts->ignore_cols,
							   attnum - FirstLowInvalidHeapAttributeNumber);
	}

	/*
	 * Stored generated columns are never in an UPDATE's SET list, but
	 * tg_updatedcols names them: those computed from the SET columns, or
	 * (before 16) all of them.  They change only as the columns they are
	 * computed from do, so they never keep an update from counting as one
	 * of ignored columns alone.
	 */
	if (opts->ignore_cols != NULL && desc->constr != NULL &&
		desc->constr->has_generated_stored)
	{
		for (i = 0; i < desc->natts; i++)
		{
			att = TupleDescAttr(desc, i);
			if (att->attgenerated && !att->attisdropped)
				opts->ignore_cols =
					bms_add_member(opts->ignore_cols,
								   att->attnum - FirstLowInvalidHeapAttributeNumber);
		}
	}

	MemoryContextSwitchTo(oldcxt);
	fcinfo->flinfo->fn_extra = opts;
	return opts;
}

/*
 * Returns the options of the firing trigger: parsed on the statement's
 * first row, from fn_extra after that.
 */
static inline RvTriggerOptions *
rv_GetOptions(FunctionCallInfo fcinfo, TriggerData *trigdata)
{
	RvTriggerOptions *opts = (RvTriggerOptions *) fcinfo->flinfo->fn_extra;

	if (likely(opts != NULL && opts->tgoid == trigdata->tg_trigger->tgoid &&
			   opts->relid == RelationGetRelid(trigdata->tg_relation)))
		return opts;
	return rv_ParseOptions(fcinfo, trigdata);
}

/*
 * Returns where the version's bytes are in tuple, or NULL when the tuple
 * does not store it: it is NULL there, or the column was added after the
 * tuple was written.  Found from the tuple's end when it is the last column
 * stored, else by stepping over the columns before it as heap_getattr()
 * does, unless their widths are all fixed.
 */
static char *
rv_VersionPointer(HeapTuple tuple, TupleDesc desc, RvTriggerOptions *opts)
{
	HeapTupleHeader tup = tuple->t_data;
	bool		hasnulls = HeapTupleHasNulls(tuple);
	char	   *tp;
	uint32		off = 0;
	int			i;

	if (opts->attnum > HeapTupleHeaderGetNatts(tup) ||
		(hasnulls && att_isnull(opts->attnum - 1, tup->t_bits)))
		return NULL;

	/*
	 * The version is usually the row's last column (enable() adds it at the
	 * end): then its bytes end where the tuple's data ends.
	 */
	if (opts->attnum == HeapTupleHeaderGetNatts(tup))
		return (char *) tup + tuple->t_len - opts->attlen;

	tp = (char *) tup + tup->t_hoff;
	if (!hasnulls && opts->fixedoff >= 0)
		return tp + opts->fixedoff;

	for (i = 0; i < opts->attnum - 1; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (hasnulls && att_isnull(i, tup->t_bits))
			continue;
		off = att_align_pointer(off, att->attalign, att->attlen, tp + off);
		off = att_addlength_pointer(off, att->attlen, tp + off);
	}
	return tp + att_align_nominal(off, TupleDescAttr(desc, opts->attnum - 1)->attalign);
}

/*
 * Returns the version stored in tuple, widened to int64.
 */
static int64
rv_GetVersion(HeapTuple tuple, TupleDesc desc, RvTriggerOptions *opts,
			  bool *isnull)
{
	char	   *p = rv_VersionPointer(tuple, desc, opts);
	Datum		value;

	if (p != NULL)
	{
		*isnull = false;
		switch (opts->atttypid)
		{
			case INT2OID:
				return *(int16 *) p;
			case INT4OID:
				return *(int32 *) p;
			default:
				return *(int64 *) p;
		}
	}

	/* NULL, or missing from this tuple: its default, if any */
	value = heap_getattr(tuple, opts->attnum, desc, isnull);
	if (*isnull)
		return 0;
	switch (opts->atttypid)
	{
		case INT2OID:
			return DatumGetInt16(value);
		case INT4OID:
			return DatumGetInt32(value);
		default:
			return DatumGetInt64(value);
	}
}

/*
 * Writes version into the version bytes at p.
 */
static inline void
rv_StoreVersion(char *p, RvTriggerOptions *opts, int64 version)
{
	switch (opts->atttypid)
	{
		case INT2OID:
			*(int16 *) p = (int16) version;
			break;
		case INT4OID:
			*(int32 *) p = (int32) version;
			break;
		default:
			*(int64 *) p = version;
			break;
	}
}

/*
 * Returns version as a Datum of the version column's type.
 */
static Datum
rv_VersionDatum(RvTriggerOptions *opts, int64 version)
{
	switch (opts->atttypid)
	{
		case INT2OID:
			return Int16GetDatum((int16) version);
		case INT4OID:
			return Int32GetDatum((int32) version);
		default:
			return Int64GetDatum(version);
	}
}

/*
 * Returns tuple with its version column holding version, which the caller
 * has checked fits the column's type.  slot is the slot tuple came from
 * (tg_trigslot for INSERT, tg_newslot for UPDATE), or NULL when the row
 * must not be changed in place.
 *
 * When the tuple stores a value there and is the slot's own materialized
 * copy, as PostgreSQL hands a heap table's row to BEFORE triggers, those
 * bytes are overwritten in place and the same tuple is returned: the
 * trigger manager then keeps the slot as it is instead of copying the
 * tuple into it again.
 *
 * This leans on executor internals, not on an API, and nothing in
 * compat.h guards it: that ExecBRInsertTriggers and ExecBRUpdateTriggers
 * hand the trigger the heap tuple a heap or buffer-heap slot owns
 * (TTS_SHOULDFREE, HeapTupleTableSlot.tuple) and, when the trigger returns
 * that same tuple, keep the slot without copying; and that a slot's
 * already extracted values (tts_values up to tts_nvalid) are read again
 * only through tts_values, never re-derived from a saved offset.  A new
 * major is checked by the pg_regress test trigger_chain (indexes, CHECK
 * constraints, RETURNING and other triggers' WHEN clauses see the version
 * written here) on that major in test/matrix and on an assert-enabled
 * server (test/reliability/cassert); read ExecBRUpdateTriggers and
 * slot_deform_heap_tuple of the new major before trusting them.  A value the slot had already extracted (for
 * another trigger's WHEN clause) is overwritten too; the slot's other
 * extracted values and its place in the tuple stay valid, since no byte
 * moved.  (A by-reference Datum points at the bytes just written.)  Any
 * other tuple is copied with those bytes overwritten, or formed anew when
 * it does not store the column.
 */
static HeapTuple
rv_SetVersion(HeapTuple tuple, TupleTableSlot *slot, TupleDesc desc,
			  RvTriggerOptions *opts, int64 version)
{
	char	   *p = rv_VersionPointer(tuple, desc, opts);
	int			attnum = opts->attnum;
	Datum		value;
	bool		isnull = false;

	if (p != NULL)
	{
		HeapTuple	copy;

		if (slot != NULL && TTS_SHOULDFREE(slot) &&
			(TTS_IS_HEAPTUPLE(slot) || TTS_IS_BUFFERTUPLE(slot)) &&
			((HeapTupleTableSlot *) slot)->tuple == tuple)
		{
			rv_StoreVersion(p, opts, version);
			if (slot->tts_nvalid >= attnum && opts->attbyval)
				slot->tts_values[attnum - 1] = rv_VersionDatum(opts, version);
			return tuple;
		}
		copy = heap_copytuple(tuple);
		rv_StoreVersion((char *) copy->t_data + (p - (char *) tuple->t_data),
						opts, version);
		return copy;
	}

	value = rv_VersionDatum(opts, version);
	return heap_modify_tuple_by_cols(tuple, desc, 1, &attnum, &value, &isnull);
}

/*
 * Returns the version an UPDATE gives a row that is at current: in xact
 * mode greatest(transaction ID, current + 1), in counter mode current + 1.
 * A row without a version starts as an inserted one would.
 */
static int64
rv_NextVersion(Relation rel, RvTriggerOptions *opts,
			   int64 current, bool current_isnull)
{
	if (current_isnull)
		return rv_ModeFirstVersion(opts->mode);

	if (current >= opts->maxvalue)
	{
		/* (looked up before the report starts: it may run a query) */
		const char *relname = rv_TableName(rel);

		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("next row version of table \"%s\" is out of range for type %s",
						relname,
						format_type_be(opts->atttypid)),
				 rv_MaySeeColumns(rel, &opts->attnum, 1) ?
				 errdetail("The row is at version %lld.", (long long) current) : 0,
				 rv_errtablecol(rel, opts->attnum)));
	}

	return rv_ModeNextVersion(opts->mode, current, rel, opts->attnum);
}

/*
 * Returns whether two partitions belong to the same partitioned table.
 */
static bool
rv_SameRoot(Oid relid1, Oid relid2)
{
	List	   *ancestors1 = get_partition_ancestors(relid1);
	List	   *ancestors2 = get_partition_ancestors(relid2);

	return ancestors1 != NIL && ancestors2 != NIL &&
		llast_oid(ancestors1) == llast_oid(ancestors2);
}

/*
 * Remembers, on a partition of an xact-mode table, the version an UPDATE
 * leaves its row with, for the INSERT that follows if the row moves.
 */
static void
rv_RememberMove(Relation rel, RvTriggerOptions *opts, HeapTuple oldtuple,
				int64 version)
{
	if (rv_ModeKeepsInsertedVersion(opts->mode) || !rel->rd_rel->relispartition)
		return;
	rv_pending_move.valid = true;
	rv_pending_move.armed = false;
	rv_pending_move.depth = rv_TriggerDepth();
	rv_pending_move.fxid = GetTopFullTransactionId();
	rv_pending_move.relid = RelationGetRelid(rel);
	rv_pending_move.ctid = oldtuple->t_self;
	rv_pending_move.version = version;
}

/*
 * Returns the tables rel's rows belong to (rv_Ancestors), looked up once
 * per statement and kept with the options.
 */
static List *
rv_GetAncestors(FunctionCallInfo fcinfo, RvTriggerOptions *opts, Relation rel)
{
	if (!opts->ancestors_known)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		opts->ancestors = rv_Ancestors(RelationGetRelid(rel));
		opts->ancestors_known = true;
		MemoryContextSwitchTo(oldcxt);
	}
	return opts->ancestors;
}

/*
 * Checks the If-Match preconditions that expect_match() registered for the
 * row's table against the row the statement changes (tuple, which
 * PostgreSQL has locked and re-fetched if a concurrent update got there
 * first), raising RV001 when one does not hold -- or on a table in
 * log-only mode warning, counting it and setting *failed.  Returns whether
 * any applied; see rv_CheckPreconditions() for which statements are
 * checked.  Callers test rv_have_preconditions and rv_have_forwarded
 * first, the row trigger's fast path.
 */
static bool
rv_CheckRowPreconditions(FunctionCallInfo fcinfo, TriggerData *trigdata,
						 RvTriggerOptions *opts, HeapTuple tuple, bool *failed)
{
	Relation	rel = trigdata->tg_relation;
	int64		current;
	bool		current_isnull;

	current = rv_GetVersion(tuple, RelationGetDescr(rel), opts, &current_isnull);
	return rv_CheckPreconditions(rel, rv_GetAncestors(fcinfo, opts, rel),
								 opts->attnum, current, current_isnull,
								 opts->enforce, failed);
}

/*
 * BEFORE INSERT: xact mode sets the inserting transaction's ID, replacing
 * whatever the client wrote (but a row that an UPDATE is moving between
 * partitions keeps the version that UPDATE gave it, and a row copied into
 * a Citus shard made in this transaction keeps its version: see
 * rv_CitusFillsNewShard); counter mode keeps a value the client wrote and
 * starts at 1 otherwise.
 */
static HeapTuple
rv_OnInsert(TriggerData *trigdata, RvTriggerOptions *opts,
			const RvPendingMove *move)
{
	Relation	rel = trigdata->tg_relation;
	TupleDesc	desc = RelationGetDescr(rel);
	HeapTuple	tuple = trigdata->tg_trigtuple;
	bool		isnull;
	int64		version = rv_GetVersion(tuple, desc, opts, &isnull);

	/*
	 * On a partition, the trigger is a clone, and PostgreSQL checks a row
	 * that a clone's BEFORE INSERT trigger returns changed against the
	 * partition's bounds ("moving row to another partition during a BEFORE
	 * FOR EACH ROW trigger is not supported").  A row changed in place
	 * would skip that check and fail later with another error, so there
	 * the row is copied.
	 */
	TupleTableSlot *slot = trigdata->tg_trigger->tgisclone ? NULL :
		trigdata->tg_trigslot;

	if (!isnull &&
		(rv_ModeKeepsInsertedVersion(opts->mode) ||
		 (move->valid && move->armed && version == move->version &&
		  rel->rd_rel->relispartition &&
		  FullTransactionIdEquals(move->fxid, GetTopFullTransactionIdIfAny()) &&
		  rv_SameRoot(move->relid, RelationGetRelid(rel))) ||
		 (rel->rd_createSubid != InvalidSubTransactionId &&
		  rv_CitusFillsNewShard(rel))))
		return tuple;
	return rv_SetVersion(tuple, slot, desc, opts, rv_ModeFirstVersion(opts->mode));
}

/*
 * BEFORE UPDATE.  Writing the version column (it is in tg_updatedcols) is a
 * claim, checked against the row's current version under the row lock;
 * PostgreSQL has already re-fetched the newest row version when a
 * concurrent update got there first, so a stale claim fails here.  An
 * update that claims nothing and sets only ignore_columns keeps the
 * version; any other update without a claim fails on a require_version
 * table, unless an If-Match precondition registered for the table held
 * for the row.  Everything else gets the next version.
 *
 * On a table in log-only mode (enable()'s enforce => false) a stale claim,
 * a failed precondition and a missing version warn and are counted
 * instead, once per row, and the row is written as an update without a
 * claim would be: the next version after its current one.  A NULL claim
 * and a claim the caller may not make stay errors.
 */
static HeapTuple
rv_OnUpdate(FunctionCallInfo fcinfo, TriggerData *trigdata,
			RvTriggerOptions *opts)
{
	Relation	rel = trigdata->tg_relation;
	TupleDesc	desc = RelationGetDescr(rel);
	const Bitmapset *updated = trigdata->tg_updatedcols;
	bool		preconditioned = false;
	bool		precondition_failed = false;
	bool		claimed;
	int64		current;
	bool		current_isnull;
	int64		next;

	if (rv_have_preconditions || rv_have_forwarded)
	{
		preconditioned = rv_CheckRowPreconditions(fcinfo, trigdata, opts,
												  trigdata->tg_trigtuple,
												  &precondition_failed);
		rv_warned_row.valid = precondition_failed;
		if (precondition_failed)
		{
			rv_warned_row.depth = rv_TriggerDepth();
			rv_warned_row.fxid = GetTopFullTransactionId();
			rv_warned_row.subid = GetCurrentSubTransactionId();
			rv_warned_row.cid = GetCurrentCommandId(false);
			rv_warned_row.relid = RelationGetRelid(rel);
			rv_warned_row.ctid = trigdata->tg_trigtuple->t_self;
		}
	}
	claimed = bms_is_member(opts->attnum - FirstLowInvalidHeapAttributeNumber,
							updated);
	current = rv_GetVersion(trigdata->tg_trigtuple, desc, opts,
							&current_isnull);
	if (!claimed)
	{
		if (opts->ignore_cols != NULL && !bms_is_empty(updated) &&
			bms_is_subset(updated, opts->ignore_cols))
		{
			/* the version stays, whatever an earlier trigger wrote there */
			HeapTuple	newtuple = trigdata->tg_newtuple;
			bool		new_isnull;
			int64		written = rv_GetVersion(newtuple, desc, opts, &new_isnull);

			if (!current_isnull)
			{
				rv_RememberMove(rel, opts, trigdata->tg_trigtuple, current);
				if (new_isnull || written != current)
					newtuple = rv_SetVersion(newtuple, trigdata->tg_newslot, desc,
										 opts, current);
			}
			return newtuple;
		}
		if (opts->require_version && !preconditioned)
			rv_HandleVersionRequired(rel, opts->attnum, opts->enforce);
	}

	if (claimed)
	{
		bool		claim_isnull;
		int64		claim = rv_GetVersion(trigdata->tg_newtuple, desc, opts,
										  &claim_isnull);

		/* the outcome tells the version: not to a caller who may not read it */
		rv_CheckMayClaim(rel, rv_GetAncestors(fcinfo, opts, rel), opts->attnum,
						 &opts->compare_state);

		if (claim_isnull)
		{
			/* (looked up before the report starts: it may run a query) */
			const char *relname = rv_TableName(rel);

			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("row version claim on table \"%s\" cannot be null",
							relname),
					 errhint("Set column \"%s\" to the version you read.",
							 NameStr(TupleDescAttr(desc, opts->attnum - 1)->attname)),
					 rv_errtablecol(rel, opts->attnum)));
		}

		/* (a row whose precondition failed in log-only mode warned once) */
		if (!precondition_failed &&
			(current_isnull ||
			 !rv_ModeAcceptsClaim(opts->mode, claim, current, opts->maxvalue)))
			rv_HandleConflict(rel, opts->attnum, claim, current, current_isnull,
							  opts->enforce);
	}

	next = rv_NextVersion(rel, opts, current, current_isnull);
	rv_RememberMove(rel, opts, trigdata->tg_trigtuple, next);
	return rv_SetVersion(trigdata->tg_newtuple, trigdata->tg_newslot, desc,
						 opts, next);
}

/*
 * version_trigger() — the row trigger function of every enabled table.
 * Returns the row to store, with its version set.  DELETE passes through,
 * after checking the If-Match preconditions registered for the table, if
 * there are any.
 */
Datum
version_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	RvPendingMove move;
	RvTriggerOptions *opts;

	rv_CheckTriggerCall(fcinfo, "version_trigger", true, "BEFORE ... FOR EACH ROW");

	if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
	{
		/* the DELETE half of an UPDATE that moves its row */
		if (rv_pending_move.valid && !rv_pending_move.armed &&
			ItemPointerEquals(&rv_pending_move.ctid, &trigdata->tg_trigtuple->t_self) &&
			rv_pending_move.depth == rv_TriggerDepth())
			rv_pending_move.armed = true;
		if ((rv_have_preconditions || rv_have_forwarded) &&
			!(rv_warned_row.valid &&
			  rv_warned_row.relid == RelationGetRelid(trigdata->tg_relation) &&
			  ItemPointerEquals(&rv_warned_row.ctid, &trigdata->tg_trigtuple->t_self) &&
			  rv_warned_row.depth == rv_TriggerDepth() &&
			  rv_warned_row.subid == GetCurrentSubTransactionId() &&
			  rv_warned_row.cid == GetCurrentCommandId(false) &&
			  FullTransactionIdEquals(rv_warned_row.fxid, GetTopFullTransactionIdIfAny())))
		{
			bool		failed;

			rv_CheckRowPreconditions(fcinfo, trigdata,
									 rv_GetOptions(fcinfo, trigdata),
									 trigdata->tg_trigtuple, &failed);
		}
		rv_warned_row.valid = false;
		return PointerGetDatum(trigdata->tg_trigtuple);
	}

	opts = rv_GetOptions(fcinfo, trigdata);

	/*
	 * A pending move applies to the INSERT at its own trigger depth right
	 * after its UPDATE (and DELETE), or none: an INSERT or UPDATE at that
	 * depth consumes it, one at a greater depth leaves it, and a note from a
	 * greater depth is stale.
	 */
	memset(&move, 0, sizeof(move));
	if (rv_pending_move.valid)
	{
		int			depth = rv_TriggerDepth();

		if (depth <= rv_pending_move.depth)
		{
			if (depth == rv_pending_move.depth)
				move = rv_pending_move;
			rv_pending_move.valid = false;
		}
	}

	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		return PointerGetDatum(rv_OnInsert(trigdata, opts, &move));
	return PointerGetDatum(rv_OnUpdate(fcinfo, trigdata, opts));
}
