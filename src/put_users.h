/*
 * put_users.h: PUT /users, from body to response.
 */
#ifndef UB_PUT_USERS_H
#define UB_PUT_USERS_H

#include "userbulk.h"

/* What PUT /users asks for beyond its body: ?atomic=true|false,
 * ?dryRun=true|false, Prefer: tx=rollback. Sets req->atomic and
 * req->dry_run; *rollback_preferred tells whether the Prefer header was
 * honoured (for Preference-Applied). 0, or 400 with *problem filled. */
int ub_read_put_options(ub_request *req, const char *args, const char *prefer,
                        int *rollback_preferred, ub_problem *problem);

/* Validates and applies the batch, writes the response body into out and
 * fills outcome (status, counts). Returns a failure only when the body
 * could not be written. */
apr_status_t ub_put_users(const ub_request *req, const ub_db_source *dbs,
                          const char *body, apr_size_t len,
                          apr_bucket_brigade *out, ub_outcome *outcome);

#endif
