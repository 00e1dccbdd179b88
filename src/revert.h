/*
 * revert.h: POST /users/requests/{requestId}/revert: undo a request of the
 * audit trail (userbulk.revert_request, src/sql/functions/revert.sql).
 */
#ifndef UB_REVERT_H
#define UB_REVERT_H

#include "userbulk.h"

/* The path after the location of a revert URI, ".../requests/{id}/revert":
 * 1 with *path at "/requests/..." inside uri and *id its request id (a
 * copy), or 0 when uri is not of that form (an empty id included). */
int ub_revert_split_uri(apr_pool_t *pool, const char *uri, const char **path,
                        const char **id);

/* Whether id can name a request: its number in the audit trail (1 to 18
 * digits), or the trace id it was answered with (1 to 128 of A-Z a-z 0-9
 * '.' '_' '-'). */
int ub_revert_id_valid(const char *id);

/* ?atomic, ?dryRun (or Prefer: tx=rollback), ?force, ?diff into req; 0,
 * or the status of *problem (a 400). */
int ub_read_revert_options(ub_request *req, const char *args, const char *prefer,
                           int *rollback_preferred, ub_problem *problem);

/* Reverts the request id names, for the caller's account, and answers the
 * per-user results into out. */
apr_status_t ub_revert(const ub_request *req, const ub_db_source *dbs, const char *id,
                       apr_bucket_brigade *out, ub_outcome *outcome);

#endif
