/*
 * put_users.h: PUT /users, from body to response.
 */
#ifndef UB_PUT_USERS_H
#define UB_PUT_USERS_H

#include "userbulk.h"

/* Validates and applies the batch, writes the response body into out and
 * fills outcome (status, counts). Returns a failure only when the body
 * could not be written. */
apr_status_t ub_put_users(const ub_request *req, const ub_db_source *dbs,
                          const char *body, apr_size_t len,
                          apr_bucket_brigade *out, ub_outcome *outcome);

#endif
