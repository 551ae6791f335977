/*-------------------------------------------------------------------------
 *
 * citus.c
 *	  What the extension needs to know of Citus, the sharding extension:
 *	  whether a relation is a shard (a placement of a distributed,
 *	  reference or Citus local table, named <table>_<shardid> on the node
 *	  that holds it) and of which table, and which kind a table is.  The
 *	  one answer to "which table does this row belong to" on Citus: the
 *	  trigger, the messages and enable() ask it.
 *
 * Nothing here runs unless Citus is loaded in the server (it must be in
 * shared_preload_libraries, which defines its settings in every backend):
 * then its metadata, pg_dist_shard and pg_dist_partition, is read with
 * fully qualified SQL through SPI.  Citus keeps that metadata on every node
 * (synced to the workers by default since Citus 11).
 *
 *-------------------------------------------------------------------------
 */
#include "rowversion.h"

#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

/*
 * Returns whether Citus is loaded in this server.
 */
static bool
rv_CitusLoaded(void)
{
	return GetConfigOption("citus.enable_unsafe_triggers", true, false) != NULL;
}

/*
 * Returns the kind of Citus table relid is: RV_CITUS_DISTRIBUTED,
 * RV_CITUS_REFERENCE, RV_CITUS_LOCAL, or RV_CITUS_NONE when it is none
 * (or Citus is not loaded, or not created in this database).
 */
RvCitusKind
rv_CitusTableKind(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];
	RvCitusKind kind = RV_CITUS_NONE;

	if (!rv_CitusLoaded() || !OidIsValid(get_relname_relid("pg_dist_partition",
															PG_CATALOG_NAMESPACE)))
		return RV_CITUS_NONE;
	args[0] = ObjectIdGetDatum(relid);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT p.partmethod::pg_catalog.text, p.repmodel::pg_catalog.text "
							  "FROM pg_catalog.pg_dist_partition AS p "
							  "WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed");
	if (SPI_processed > 0)
	{
		char	   *method = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		char	   *model = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);

		if (method != NULL && strcmp(method, "n") != 0)
			kind = RV_CITUS_DISTRIBUTED;
		else if (model != NULL && strcmp(model, "t") == 0)
			kind = RV_CITUS_REFERENCE;
		else
			kind = RV_CITUS_LOCAL;
	}
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	return kind;
}

/*
 * Returns the Citus table that rel is a shard of, or InvalidOid when rel is
 * no shard (or Citus is not loaded).  A shard's name is its table's name,
 * an underscore and the shard's ID (or, for long names, what Citus's
 * shard_name() makes of them), in the table's schema.
 */
Oid
rv_CitusShardOf(Relation rel)
{
	const char *relname = RelationGetRelationName(rel);
	const char *digits = strrchr(relname, '_');
	Oid			argtypes[3] = {INT8OID, TEXTOID, OIDOID};
	Datum		args[3];
	Oid			table = InvalidOid;
	int64		shardid;
	char	   *end;

	if (!rv_CitusLoaded() || digits == NULL || digits[1] < '0' || digits[1] > '9' ||
		!OidIsValid(get_relname_relid("pg_dist_shard", PG_CATALOG_NAMESPACE)))
		return InvalidOid;
	errno = 0;
	shardid = (int64) strtoll(digits + 1, &end, 10);
	if (errno != 0 || *end != '\0')
		return InvalidOid;

	args[0] = Int64GetDatum(shardid);
	args[1] = CStringGetTextDatum(relname);
	args[2] = ObjectIdGetDatum(RelationGetNamespace(rel));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT s.logicalrelid::pg_catalog.oid "
							  "FROM pg_catalog.pg_dist_shard AS s "
							  "JOIN pg_catalog.pg_class AS c "
							  "  ON c.oid OPERATOR(pg_catalog.=) s.logicalrelid "
							  "WHERE s.shardid OPERATOR(pg_catalog.=) $1 "
							  "  AND c.relnamespace OPERATOR(pg_catalog.=) $3 "
							  "  AND pg_catalog.shard_name(s.logicalrelid, s.shardid) "
							  "      OPERATOR(pg_catalog.=) ANY (ARRAY[pg_catalog.quote_ident($2), "
							  "        ($3::pg_catalog.regnamespace)::pg_catalog.text "
							  "          OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident($2)])",
							  3, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed");
	if (SPI_processed > 0)
	{
		bool		isnull;

		table = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull));
	}
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	return table;
}

/*
 * Returns the name that messages give rel: the name of the table the user
 * knows, which for a Citus shard is its table's, not the shard's.
 */
const char *
rv_TableName(Relation rel)
{
	Oid			table = rv_CitusShardOf(rel);
	char	   *name = OidIsValid(table) ? get_rel_name(table) : NULL;

	return name != NULL ? name : RelationGetRelationName(rel);
}

/*
 * Refuses xact mode on Citus reference table table: each node's copy of a
 * row would get that node's own transaction ID, so the copies' versions
 * would differ, and a conditional write would match one copy only.
 */
void
rv_ReportReferenceXact(const char *table)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("row versions of reference table \"%s\" cannot be kept in mode \"xact\"",
					table),
			 errdetail("Each node's copy would get its own node's transaction IDs as versions."),
			 errhint("Call rowversion.enable() with mode => 'counter' for it.")));
	pg_unreachable();
}
