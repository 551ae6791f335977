/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  The oldest PostgreSQL major rowversion builds against, and every
 *	  difference between majors that the C code has to bridge.
 *
 * Every #if PG_VERSION_NUM in the extension lives here, so the rest of the
 * code is written against one API.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RV_COMPAT_H
#define RV_COMPAT_H

#include "postgres.h"

/* TriggerData.tg_updatedcols, which claims rely on, appeared in 13. */
#if PG_VERSION_NUM < 130000
#error "rowversion requires PostgreSQL 13 or later"
#endif

#include "utils/guc.h"

/*
 * PG_MODULE_MAGIC_EXT (18 and later) also records the module's name and
 * version, which pg_get_loaded_modules() shows.
 */
#if PG_VERSION_NUM >= 180000
#define RV_MODULE_MAGIC \
	PG_MODULE_MAGIC_EXT(.name = "rowversion", .version = "1.1")
#else
#define RV_MODULE_MAGIC PG_MODULE_MAGIC
#endif

/*
 * Reserving the "rowversion." prefix makes a misspelt setting an error;
 * before 15 the same check only warned.
 */
#if PG_VERSION_NUM >= 150000
#define RV_RESERVE_GUC_PREFIX(prefix) MarkGUCPrefixReserved(prefix)
#else
#define RV_RESERVE_GUC_PREFIX(prefix) EmitWarningsOnPlaceholders(prefix)
#endif

/*
 * DeconstructFkConstraintRow() learned the ON DELETE SET column list in 15.
 * rv_DeconstructFk() returns the key columns and PK = FK operators only.
 */
#if PG_VERSION_NUM >= 150000
#define rv_DeconstructFk(tuple, numfks, conkey, confkey, pf_eq_oprs) \
	DeconstructFkConstraintRow(tuple, numfks, conkey, confkey, pf_eq_oprs, \
							   NULL, NULL, NULL, NULL)
#else
#define rv_DeconstructFk(tuple, numfks, conkey, confkey, pf_eq_oprs) \
	DeconstructFkConstraintRow(tuple, numfks, conkey, confkey, pf_eq_oprs, \
							   NULL, NULL)
#endif

/*
 * 18 replaced the postfix pg_attribute_noreturn() by the prefix pg_noreturn;
 * with GCC and Clang the older macro works in prefix position as well.
 */
#ifndef pg_noreturn
#define pg_noreturn pg_attribute_noreturn()
#endif

/*
 * 19 compiled as C23 (GCC 15's default) makes pg_noreturn the [[noreturn]]
 * attribute, which must open a declaration and so fails after "extern" or
 * "static".  GCC's and Clang's own attribute means the same in any position.
 */
#if PG_VERSION_NUM >= 190000 && defined(__GNUC__)
#undef pg_noreturn
#define pg_noreturn __attribute__((noreturn))
#endif

/*
 * ProcessUtility_hook gained the readOnlyTree argument in 14.
 * RV_PROCESS_UTILITY_PARAMS declares a hook's parameters and
 * RV_PROCESS_UTILITY_ARGS passes them on.
 */
#if PG_VERSION_NUM >= 140000
#define RV_PROCESS_UTILITY_PARAMS \
	PlannedStmt *pstmt, const char *queryString, bool readOnlyTree, \
	ProcessUtilityContext context, ParamListInfo params, \
	QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc
#define RV_PROCESS_UTILITY_ARGS \
	pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc
#else
#define RV_PROCESS_UTILITY_PARAMS \
	PlannedStmt *pstmt, const char *queryString, \
	ProcessUtilityContext context, ParamListInfo params, \
	QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc
#define RV_PROCESS_UTILITY_ARGS \
	pstmt, queryString, context, params, queryEnv, dest, qc
#endif

/*
 * PlannedStmt lists its result relations' range table indexes as a List of
 * ints up to 18 and as a Bitmapset (resultRelationRelids) from 19.
 * rv_ResultRelations() returns them as a List of ints on every major.
 */
#include "nodes/bitmapset.h"
#include "nodes/pg_list.h"
#include "nodes/plannodes.h"

static inline List *
rv_ResultRelations(PlannedStmt *stmt)
{
#if PG_VERSION_NUM >= 190000
	List	   *result = NIL;
	int			rti = -1;

	while ((rti = bms_next_member(stmt->resultRelationRelids, rti)) >= 0)
		result = lappend_int(result, rti);
	return result;
#else
	return stmt->resultRelations;
#endif
}

#endif							/* RV_COMPAT_H */
