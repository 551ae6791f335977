/*-------------------------------------------------------------------------
 *
 * etag.c
 *	  RFC 9110 entity tags for row versions, and the If-Match and
 *	  If-None-Match preconditions evaluated against a row's version.
 *
 * A version's entity tag is strong and is the version in decimal between
 * double quotes: version 601 is "601" (with the quotes).  Parsing is plain
 * C without PostgreSQL's headers, so that test/fuzz can build it alone
 * (with RV_ETAG_STANDALONE); the SQL-callable functions follow it.
 *
 * Header syntax (RFC 9110 §8.8.3 and §13.1.1-2, §5.6.1 lists):
 *
 *	 If-Match      = "*" / #entity-tag
 *	 entity-tag    = [ "W/" ] DQUOTE *etagc DQUOTE
 *	 etagc         = %x21 / %x23-7E / %x80-FF
 *
 * with optional whitespace (SP, HTAB) around list elements and empty list
 * elements allowed.  A header that does not follow it matches nothing.
 *
 *-------------------------------------------------------------------------
 */
#ifdef RV_ETAG_STANDALONE
#include <stdio.h>
#include <string.h>
#else
#include "rowversion.h"

#include "fmgr.h"
#include "utils/builtins.h"
#endif

#include "etag.h"

/* Skips optional whitespace (SP and HTAB) from *p up to end. */
static const char *
rv_SkipOWS(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* Returns whether c may appear inside an entity tag's quotes. */
static int
rv_IsEtagc(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x7E) || c >= 0x80;
}

/*
 * Formats the strong entity tag of version into buf (at least
 * RV_ETAG_BUFSIZE bytes) and returns its length.
 */
int
rv_etag_format(int64_t version, char *buf)
{
	return snprintf(buf, RV_ETAG_BUFSIZE, "\"%lld\"", (long long) version);
}

/*
 * Parses an entity tag that rv_etag_format() could have produced: a double
 * quote, an optional minus sign, decimal digits without leading zeros (or
 * a lone 0), a double quote, nothing else.  Returns 1 and sets *version,
 * or 0.
 */
int
rv_etag_parse(const char *tag, size_t len, int64_t *version)
{
	const char *p = tag + 1;
	const char *end = tag + len - 1;
	int			negative = 0;
	uint64_t	value = 0;
	uint64_t	limit;

	if (len < 3 || tag[0] != '"' || tag[len - 1] != '"')
		return 0;
	if (*p == '-')
	{
		negative = 1;
		p++;
	}
	if (p == end || (*p == '0' && (end - p > 1 || negative)))
		return 0;
	limit = negative ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
	for (; p < end; p++)
	{
		if (*p < '0' || *p > '9')
			return 0;
		if (value > (limit - (uint64_t) (*p - '0')) / 10)
			return 0;
		value = value * 10 + (uint64_t) (*p - '0');
	}
	*version = negative ? (int64_t) (0 - value) : (int64_t) value;
	return 1;
}

/*
 * Evaluates an If-Match (weak = 0: strong comparison) or If-None-Match
 * (weak = 1: weak comparison) header of len bytes against a row at
 * version, or no row (exists = 0).  Returns RV_ETAG_MATCH,
 * RV_ETAG_NO_MATCH or RV_ETAG_MALFORMED; "*" matches any existing row.
 */
int
rv_etag_header_match(const char *header, size_t len, int exists,
					 int64_t version, int weak)
{
	const char *p = header;
	const char *end = header + len;
	char		current[RV_ETAG_BUFSIZE];
	size_t		currentlen = (size_t) rv_etag_format(version, current);
	int			matched = 0;
	int			elements = 0;

	/* "*" alone, surrounded by optional whitespace */
	p = rv_SkipOWS(p, end);
	if (p < end && *p == '*')
	{
		if (rv_SkipOWS(p + 1, end) != end)
			return RV_ETAG_MALFORMED;
		return exists ? RV_ETAG_MATCH : RV_ETAG_NO_MATCH;
	}

	/* #entity-tag: elements separated by commas, empty ones allowed */
	while (p < end)
	{
		int			is_weak = 0;
		const char *open;

		if (*p == ',')
		{
			p = rv_SkipOWS(p + 1, end);
			continue;
		}
		if (end - p >= 2 && p[0] == 'W' && p[1] == '/')
		{
			is_weak = 1;
			p += 2;
		}
		if (p >= end || *p != '"')
			return RV_ETAG_MALFORMED;
		open = p++;
		while (p < end && rv_IsEtagc((unsigned char) *p))
			p++;
		if (p >= end || *p != '"')
			return RV_ETAG_MALFORMED;
		p++;
		elements++;

		/* strong comparison: neither weak, same opaque-tag; weak: same */
		if (exists && (weak || !is_weak) &&
			(size_t) (p - open) == currentlen &&
			memcmp(open, current, currentlen) == 0)
			matched = 1;

		p = rv_SkipOWS(p, end);
		if (p < end && *p != ',')
			return RV_ETAG_MALFORMED;
	}
	if (elements == 0)
		return RV_ETAG_MALFORMED;
	return matched ? RV_ETAG_MATCH : RV_ETAG_NO_MATCH;
}

#ifndef RV_ETAG_STANDALONE

PG_FUNCTION_INFO_V1(etag);
PG_FUNCTION_INFO_V1(etag_version);
PG_FUNCTION_INFO_V1(if_match);
PG_FUNCTION_INFO_V1(if_none_match);

/*
 * etag(version) — the strong entity tag of a version, quotes included.
 */
Datum
etag(PG_FUNCTION_ARGS)
{
	char		buf[RV_ETAG_BUFSIZE];
	int			len = rv_etag_format(PG_GETARG_INT64(0), buf);

	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf, len));
}

/*
 * etag_version(etag) — the version whose entity tag etag is; anything
 * etag() could not have produced (a weak tag included) is 22P02.
 */
Datum
etag_version(PG_FUNCTION_ARGS)
{
	text	   *tag = PG_GETARG_TEXT_PP(0);
	int64_t		version;

	if (!rv_etag_parse(VARDATA_ANY(tag), VARSIZE_ANY_EXHDR(tag), &version))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid row version entity tag: \"%s\"",
						text_to_cstring(tag)),
				 errdetail("A row version's entity tag is its version in decimal between double quotes, such as \"601\".")));
	PG_RETURN_INT64((int64) version);
}

/*
 * Evaluates a precondition header for SQL: NULL for a NULL (absent)
 * header; a NULL current version is a row that does not exist.
 */
static Datum
rv_Precondition(FunctionCallInfo fcinfo, int weak)
{
	text	   *header;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	header = PG_GETARG_TEXT_PP(0);
	PG_RETURN_BOOL(rv_etag_header_match(VARDATA_ANY(header),
										VARSIZE_ANY_EXHDR(header),
										!PG_ARGISNULL(1),
										PG_ARGISNULL(1) ? 0 : PG_GETARG_INT64(1),
										weak) == RV_ETAG_MATCH);
}

/*
 * if_match(header, current_version) — whether an If-Match header holds for
 * a row at current_version (RFC 9110 §13.1.1: strong comparison, "*" for
 * any existing row).  A malformed header is false.
 */
Datum
if_match(PG_FUNCTION_ARGS)
{
	return rv_Precondition(fcinfo, 0);
}

/*
 * if_none_match(header, current_version) — whether an If-None-Match header
 * names the row's current version (weak comparison; "*" for any existing
 * row), that is, whether a conditional GET is answered 304.  A malformed
 * header is false.
 */
Datum
if_none_match(PG_FUNCTION_ARGS)
{
	return rv_Precondition(fcinfo, 1);
}

#endif							/* RV_ETAG_STANDALONE */
