/*
 * account_request.h: the body of POST /api/v1/account/users/update as the
 * store takes it.
 *
 * Every field of the seed's user model is type-checked; the fields the
 * contract applies are passed on only when sent (absent or null leaves the
 * stored value). What needs the directory (ids, codes, unique email, the
 * order of dates against stored ones) is the store's to check.
 */
#ifndef UB_ACCOUNT_REQUEST_H
#define UB_ACCOUNT_REQUEST_H

#include <jansson.h>
#include "userbulk.h"

typedef struct {
    json_t *change;             /* {"targets": [...], "role_ids": [...], ...} */
    int targets;
    apr_array_header_t *errors; /* of ub_field_error: a 400 naming them */
} ub_account_request;

/* NULL, with *problem filled, when the body is not a JSON object; else the
 * request, whose errors say whether it may go on. */
ub_account_request *ub_account_request_parse(const ub_request *req,
                                             const char *body, apr_size_t len,
                                             ub_problem *problem);

#endif
