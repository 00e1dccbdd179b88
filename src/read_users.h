/*
 * read_users.h: GET /users?userName=a&userName=b: the users as PUT /users
 * takes them, with their read-only fields and version, so that a client
 * can read, change and put back without clearing anything by mistake.
 */
#ifndef UB_READ_USERS_H
#define UB_READ_USERS_H

#include "userbulk.h"

apr_status_t ub_read_users(const ub_request *req, const ub_db_source *dbs,
                           const char *args, apr_bucket_brigade *out,
                           ub_outcome *outcome);

#endif
