/*
 * query.h: the query string: its parameters, decoded (GET /users'
 * userName list, PUT /users' ?atomic and ?dryRun).
 */
#ifndef UB_QUERY_H
#define UB_QUERY_H

#include "userbulk.h"

/* Every value of the query parameter name, decoded, in order; NULL (with
 * *problem) when the query string is malformed. */
apr_array_header_t *ub_query_values(apr_pool_t *pool, const char *args,
                                    const char *name, ub_problem *problem);

/* The last value of the parameter name (*value NULL when absent): 0, or
 * -1 with *problem when the query string is malformed. */
int ub_query_last(apr_pool_t *pool, const char *args, const char *name,
                  const char **value, ub_problem *problem);

/* The last value of a boolean parameter (true, 1, false, 0): 1, 0 (also
 * when absent), or -1 with *problem (a 400) when malformed. */
int ub_query_boolean(apr_pool_t *pool, const char *args, const char *name,
                     ub_problem *problem);

#endif
