/*-------------------------------------------------------------------------
 *
 * rowversion.h
 *	  Declarations shared by the rowversion extension's C files: the
 *	  SQLSTATEs it raises, the setting that chooses between them, and the
 *	  error reporters that every file uses for the same condition.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ROWVERSION_H
#define ROWVERSION_H

#include "compat.h"
#include "modes.h"

#include "commands/trigger.h"
#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "nodes/pg_list.h"
#include "utils/rel.h"

/*
 * The extension's own SQLSTATEs.  Class RV is ours; class PT is the one
 * PostgREST turns into the HTTP status named by the last three digits.
 * Neither is class 40, so no driver retries a conflict by itself.
 */
#define RV_SQLSTATE_CONFLICT		MAKE_SQLSTATE('R','V','0','0','1')
#define RV_SQLSTATE_REQUIRED		MAKE_SQLSTATE('R','V','0','0','2')
#define RV_SQLSTATE_NOT_FOUND		MAKE_SQLSTATE('R','V','0','0','3')
#define RV_SQLSTATE_PT_CONFLICT		MAKE_SQLSTATE('P','T','4','1','2')
#define RV_SQLSTATE_PT_REQUIRED		MAKE_SQLSTATE('P','T','4','2','8')
#define RV_SQLSTATE_PT_NOT_FOUND	MAKE_SQLSTATE('P','T','4','0','4')

/* Values of the rowversion.sqlstate_style setting. */
typedef enum RvSqlstateStyle
{
	RV_STYLE_ROWVERSION,
	RV_STYLE_POSTGREST
} RvSqlstateStyle;

extern int	rv_sqlstate_style;

/*
 * options.c: the per-table options, carried as the row trigger's arguments
 * in these positions (the modes are modes.h's).
 */
#define RV_ARG_VERSION_COLUMN	0
#define RV_ARG_MODE				1
#define RV_ARG_REQUIRE_VERSION	2
#define RV_ARG_IGNORED			3	/* and each after it, up to an empty
									 * argument; "name=value" options after
									 * that */
#define RV_OPTION_ENFORCE		"enforce"

typedef struct RvOptions
{
	const char *version_column;
	RvMode		mode;
	bool		require_version;
	int			nignored;
	char	  **ignored;		/* ignore_columns' names */
	bool		enforce;		/* false: conflicts warn and are counted */
} RvOptions;

extern bool rv_ModeFromName(const char *name, RvMode *mode);
extern const char *rv_ModeNames(const char *conjunction);
extern const char *rv_DecodeArguments(int nargs, char **args,
									  RvOptions *options);
extern void rv_ReadOptions(Trigger *tg, Relation rel, RvOptions *options);
extern const char *rv_VersionColumnName(Trigger *tg);
extern List *rv_TriggerArguments(const RvOptions *options);

/* rowversion.c: catalog helpers shared by the trigger and the functions */
extern void rv_CheckNotNull(FunctionCallInfo fcinfo, int argno,
							const char *name);
extern Relation rv_OpenTable(Oid relid, AclMode modes, LOCKMODE lockmode,
							 const char *hint);
extern TriggerData *rv_CheckTriggerCall(FunctionCallInfo fcinfo,
										const char *fname, bool before_row,
										const char *when);
extern List *rv_Ancestors(Oid relid);
extern bool rv_ColumnPrivilege(Oid relid, AttrNumber attnum, AclMode mode);
extern bool rv_MaySelectColumn(Relation rel, List *ancestors,
							   AttrNumber attnum);
extern bool rv_MaySeeColumns(Relation rel, const AttrNumber *attnums, int n);
#define RV_COMPARE_ALLOWED	1
extern void rv_CheckMayClaim(Relation rel, List *ancestors, AttrNumber attnum,
							 int *state);
extern AttrNumber rv_FindColumn(TupleDesc desc, const char *name);

/* The user, security context and GUC nest level rv_BeginAsOwner() left. */
typedef struct RvAsOwner
{
	Oid			userid;
	int			sec_context;
	int			nestlevel;
} RvAsOwner;
extern void rv_BeginAsOwner(Oid owner, int sec_flags, RvAsOwner *save);
extern void rv_EndAsOwner(const RvAsOwner *save);
extern int64 rv_VersionTypeMax(Oid typid);
/* The name enable() gives the row trigger. */
#define RV_TRIGGER_NAME		"zz_rowversion"
extern Trigger *rv_FindVersionTrigger(Relation rel, Oid nsp);
extern void rv_CheckTriggerFires(Relation rel, char tgenabled,
								 const char *tgname, bool conditional);
#define RV_TRIGGER_CONDITIONAL(tg) ((tg)->tgqual != NULL || (tg)->tgnattr > 0)
extern int	rv_TriggerDepth(void);

/*
 * rowversion.c: the three conditions, reported with the style's SQLSTATE;
 * the rv_Handle* ones as an ERROR when enforce, else as a WARNING that is
 * counted (conflicts.c) and returns.
 */
extern void rv_HandleConflict(Relation rel, AttrNumber attnum, int64 expected,
							  int64 current, bool current_isnull, bool enforce);
extern pg_noreturn void rv_ReportConflict(Relation rel, AttrNumber attnum,
										  int64 expected, int64 current,
										  bool current_isnull);
extern void rv_HandleVersionRequired(Relation rel, AttrNumber attnum,
									 bool enforce);
extern pg_noreturn void rv_ReportNotFound(Relation rel, const char *key);
extern void rv_HandlePreconditionFailed(Relation rel, AttrNumber attnum,
										const char *header, int64 current,
										bool current_isnull, bool enforce);

/*
 * conflicts.c: what log-only tables let through, counted per table and
 * written to rowversion.conflict_counts when the transaction commits.
 */
typedef enum RvCountKind
{
	RV_COUNT_CONFLICT,			/* a stale claim or a failed precondition */
	RV_COUNT_VERSION_MISSING	/* an update without a version */
} RvCountKind;

extern void rv_CountConflict(Relation rel, RvCountKind kind);
extern bool rv_MayWarn(void);
extern void rv_ResetConflictCounts(Oid relid, bool start_counting);

/* citus.c: shards and kinds of Citus tables */
typedef enum RvCitusKind
{
	RV_CITUS_NONE,				/* no Citus table (or no Citus) */
	RV_CITUS_DISTRIBUTED,
	RV_CITUS_REFERENCE,
	RV_CITUS_LOCAL
} RvCitusKind;

extern bool rv_CitusLoaded(void);
extern RvCitusKind rv_CitusTableKind(Oid relid);
extern Oid	rv_CitusShardOf(Relation rel, RvCitusKind *kind);
extern Oid	rv_CitusShardTable(Oid relid, RvCitusKind *kind);
extern const char *rv_TableName(Relation rel);
extern void rv_CitusSetLocal(const char *name, const char *value);
extern bool rv_CitusInternalBackend(void);
extern bool rv_CitusRunCommandBackend(void);
extern int	rv_errtablecol(Relation rel, AttrNumber attnum);
extern void rv_InitCitus(void);
extern pg_noreturn void rv_ReportReferenceXact(const char *table);
extern pg_noreturn void rv_ReportCitusLogOnly(const char *table);
extern bool rv_CitusFillsNewShard(Relation rel);
extern int64 rv_CitusWatermark(int64 local);
extern Oid	rv_CitusShardForeignKey(Relation rel, const char *fkname);
extern void rv_CitusRefuseInWorkerQuery(Oid relid, const char *fname);
extern void rv_CitusTranslateNestedError(Oid relid, const char *fname,
										 MemoryContext cxt);
extern bool rv_CitusCallIsStatement(FunctionCallInfo fcinfo, MemoryContext callcxt);
extern int	rv_CitusRouteAlone(void);
extern bool rv_CitusMayRouteAlone(Relation rel, Oid nsp);

/* precondition.c: If-Match preconditions registered by expect_match() */
extern bool rv_have_preconditions;	/* whether any is registered */
extern bool rv_have_forwarded;	/* whether any was forwarded (Citus) */
extern void rv_InitPreconditions(void);
extern bool rv_CheckPreconditions(Relation rel, List *ancestors,
								  AttrNumber attnum, int64 current,
								  bool current_isnull, bool enforce,
								  bool *failed);

#endif							/* ROWVERSION_H */
