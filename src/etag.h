/*-------------------------------------------------------------------------
 *
 * etag.h
 *	  Entity tags of row versions and RFC 9110 precondition headers, in
 *	  plain C (no PostgreSQL headers needed), so that test/fuzz can build
 *	  the parser on its own.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RV_ETAG_H
#define RV_ETAG_H

#include <stddef.h>
#include <stdint.h>

/* room for '"', a minus sign, 19 digits, '"' and a terminating zero */
#define RV_ETAG_BUFSIZE 24

/* results of rv_etag_header_match() */
#define RV_ETAG_NO_MATCH	0
#define RV_ETAG_MATCH		1
#define RV_ETAG_MALFORMED	(-1)

extern int	rv_etag_format(int64_t version, char *buf);
extern int	rv_etag_parse(const char *tag, size_t len, int64_t *version);
extern int	rv_etag_header_match(const char *header, size_t len, int exists,
								 int64_t version, int weak);

#endif							/* RV_ETAG_H */
