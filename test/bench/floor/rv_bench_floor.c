/*-------------------------------------------------------------------------
 *
 * rv_bench_floor.c
 *	  The benchmarks' floor: a C row trigger that returns the row as it came.
 *	  What it costs is PostgreSQL's trigger machinery alone, the least any
 *	  row trigger can cost; rowversion's trigger is measured against it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "fmgr.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(rv_bench_floor);

/*
 * rv_bench_floor() — returns the new row of an INSERT or UPDATE unchanged.
 */
Datum
rv_bench_floor(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" was not called by trigger manager",
						"rv_bench_floor")));
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		return PointerGetDatum(trigdata->tg_newtuple);
	return PointerGetDatum(trigdata->tg_trigtuple);
}
