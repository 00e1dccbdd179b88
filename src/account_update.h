/*
 * account_update.h: POST /api/v1/account/users/update, from body to
 * response.
 */
#ifndef UB_ACCOUNT_UPDATE_H
#define UB_ACCOUNT_UPDATE_H

#include "userbulk.h"

/* Applies the change to every target or to none, writes the envelope into
 * out and fills outcome. Returns a failure only when the body could not be
 * written. */
apr_status_t ub_account_update(const ub_request *req, const ub_db_source *dbs,
                               const char *body, apr_size_t len,
                               apr_bucket_brigade *out, ub_outcome *outcome);

#endif
