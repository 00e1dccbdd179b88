/*
 * options.h: what a request asks for beyond its body: PUT /users' query
 * string and Prefer header, GET /users' userName list, POST's If-Match.
 */
#ifndef UB_OPTIONS_H
#define UB_OPTIONS_H

#include "userbulk.h"

/* ?atomic=true|false, ?dryRun=true|false, Prefer: tx=rollback. Sets
 * req->atomic and req->dry_run; *rollback_preferred tells whether the
 * Prefer header was honoured (for Preference-Applied). 0, or 400 with
 * *problem filled. */
int ub_read_put_options(ub_request *req, const char *args, const char *prefer,
                        int *rollback_preferred, ub_problem *problem);

/* Every value of the query parameter name, decoded, in order; NULL (with
 * *problem) when the query string is malformed. */
apr_array_header_t *ub_query_values(apr_pool_t *pool, const char *args,
                                    const char *name, ub_problem *problem);

/* Idempotency-Key: 1 to 255 visible ASCII characters. NULL (with
 * *problem, a 400) when malformed; *key NULL when absent. */
int ub_read_idempotency_key(const char *header, const char **key,
                            ub_problem *problem);

/* If-Match: "7", W/"7" or 7 -> "7"; NULL when it is not one version. */
const char *ub_if_match_version(apr_pool_t *pool, const char *if_match);

#endif
