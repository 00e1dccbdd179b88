/*
 * validate.h: pure checks of single values. No pools, no I/O: each returns
 * NULL when the value is acceptable, else a short reason for a person.
 */
#ifndef UB_VALIDATE_H
#define UB_VALIDATE_H

#include <apr.h>

/* What every check below is: NULL, or why s is refused. */
typedef const char *ub_value_check(const char *s);

/* Number of characters (code points) of a valid UTF-8 string. */
apr_size_t ub_utf8_chars(const char *s);

/* Length of the valid UTF-8 sequence at s (lead byte >= 0x80), or 0: no
 * overlong forms, no surrogates, nothing above U+10FFFF. */
int ub_utf8_sequence(const unsigned char *s, const unsigned char *end);

/* Whether the len bytes at s are valid UTF-8 (as ub_utf8_sequence reads it). */
int ub_utf8_valid(const char *s, apr_size_t len);

const char *ub_check_email(const char *s);
const char *ub_check_uuid(const char *s);
const char *ub_check_phone(const char *s);

/* ISO 8601 date or date-time: 2026-01-31, 2026-01-31T08:00:00Z,
 * 2026-01-31T08:00:00.250+01:00. A time without an offset is taken as UTC. */
const char *ub_check_iso8601(const char *s);

#endif
