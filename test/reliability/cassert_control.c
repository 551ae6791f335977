/*
 * cassert_control.c
 *		The negative control of test/reliability/cassert: one function whose
 *		assertion always fails, so that a run can prove the server checks
 *		assertions and that its log check reports a failed one.  Never
 *		installed.
 */
#include "postgres.h"

#include "fmgr.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(rv_cassert_control);

/*
 * Fails an assertion: on a server built with --enable-cassert the backend
 * writes "TRAP:" to the server log and aborts, and the postmaster reports
 * it terminated by signal 6.  On a server without assertions it raises an
 * error saying so instead (Assert() compiles to nothing there).
 */
Datum
rv_cassert_control(PG_FUNCTION_ARGS)
{
#ifndef USE_ASSERT_CHECKING
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("this server was built without assertions")));
#endif
	Assert(false);
	PG_RETURN_VOID();
}
