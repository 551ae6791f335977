/*-------------------------------------------------------------------------
 *
 * conditionalwrite.c
 *	  rowversion.conditional_write(): placeholder while it is written.
 *
 *-------------------------------------------------------------------------
 */
#include "conditional.h"

PG_FUNCTION_INFO_V1(conditional_write);

/*
 * conditional_write(tbl, items, atomic) — not yet.
 */
Datum
conditional_write(PG_FUNCTION_ARGS)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("conditional_write is not available yet")));
	PG_RETURN_NULL();
}
