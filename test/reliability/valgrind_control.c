/*
 * valgrind_control.c
 *		The negative control of test/reliability/valgrind: one function with a
 *		deliberate read past the end of a block, so that a run can prove it
 *		reports an error in a loaded library's code.  Never installed.
 */
#include "postgres.h"

#include "fmgr.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(rv_valgrind_control);

/*
 * Returns the byte just past an 8-byte block: an invalid read that
 * valgrind must report with this function on the stack.
 */
Datum
rv_valgrind_control(PG_FUNCTION_ARGS)
{
	volatile char *block = malloc(8);
	int			past;

	if (block == NULL)
		elog(ERROR, "out of memory");
	past = block[8];
	free((void *) block);
	PG_RETURN_INT32(past);
}
