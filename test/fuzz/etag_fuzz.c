/*-------------------------------------------------------------------------
 *
 * etag_fuzz.c
 *	  libFuzzer target for the entity-tag and precondition-header parser of
 *	  src/etag.c, built without PostgreSQL (RV_ETAG_STANDALONE).
 *
 * Besides not crashing (and, under AddressSanitizer, not reading out of
 * bounds), every input must keep these promises, or the target aborts:
 *   - a result is a match, no match or malformed, nothing else;
 *   - what rv_etag_parse() accepts is exactly what rv_etag_format() makes;
 *   - "*" aside, a header that matches no existing row matches no row;
 *   - strong comparison (If-Match) never matches what weak comparison
 *     (If-None-Match) would not;
 *   - a header that is exactly a version's tag matches that version.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "etag.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Checks the promises above for one input: the first 8 bytes (when there
 * are more than 8) choose the version, the rest is the header.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t		version = 601;
	const char *header = (const char *) data;
	size_t		len = size;
	char		tag[RV_ETAG_BUFSIZE];
	int64_t		parsed;
	int			strong;
	int			weak;
	int			none;

	if (size > 8)
	{
		memcpy(&version, data, 8);
		header += 8;
		len -= 8;
	}

	strong = rv_etag_header_match(header, len, 1, version, 0);
	weak = rv_etag_header_match(header, len, 1, version, 1);
	none = rv_etag_header_match(header, len, 0, version, 0);
	if (strong < RV_ETAG_MALFORMED || strong > RV_ETAG_MATCH ||
		weak < RV_ETAG_MALFORMED || weak > RV_ETAG_MATCH)
		abort();
	if (none == RV_ETAG_MATCH)
		abort();
	if (strong == RV_ETAG_MATCH && weak != RV_ETAG_MATCH)
		abort();

	if (rv_etag_parse(header, len, &parsed))
	{
		int			taglen = rv_etag_format(parsed, tag);

		if ((size_t) taglen != len || memcmp(tag, header, len) != 0)
			abort();
	}

	/* the version's own tag parses back and matches it */
	{
		int			taglen = rv_etag_format(version, tag);

		if (!rv_etag_parse(tag, (size_t) taglen, &parsed) || parsed != version)
			abort();
		if (rv_etag_header_match(tag, (size_t) taglen, 1, version, 0) != RV_ETAG_MATCH)
			abort();
	}
	return 0;
}
