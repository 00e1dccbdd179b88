/*
 * headers.h: the request headers the API reads besides the media types
 * (media.h): Prefer, Idempotency-Key, If-Match.
 */
#ifndef UB_HEADERS_H
#define UB_HEADERS_H

#include "userbulk.h"

/* Whether a Prefer header (RFC 7240) holds the preference tx=rollback. */
int ub_prefers_rollback(const char *prefer);

/* Idempotency-Key: 1 to 255 visible ASCII characters. NULL (with
 * *problem, a 400) when malformed; *key NULL when absent. */
int ub_read_idempotency_key(const char *header, const char **key,
                            ub_problem *problem);

/* If-Match: "7", W/"7" or 7 -> "7"; NULL when it is not one version. */
const char *ub_if_match_version(apr_pool_t *pool, const char *if_match);

#endif
