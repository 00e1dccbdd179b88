/*
 * scim_write.h: the SCIM writes on /Users (RFC 7644 sections 3.5, 3.6):
 * PUT and PATCH /Users/{id} answer 200 with the user, DELETE answers 204;
 * all honour If-Match (W/"n", "n" or *) with 412. Every write, these and
 * /Bulk's (scim_bulk.c), goes through one engine, userbulk.scim_write
 * (src/sql/functions/scim_write.sql): a batch of operations, one
 * statement, one transaction.
 */
#ifndef UB_SCIM_WRITE_H
#define UB_SCIM_WRITE_H

#include "userbulk.h"
#include "scim_map.h"

/* One operation for the engine, and its answer. */
typedef struct {
    const char *op;             /* "create", "put", "patch", "delete" */
    const char *id;             /* the user's id as the path names it */
    ub_scim_cols cols;
    long long expected;         /* the version expected; 0: any */
    int skip;                   /* not sent (failed before, or folded into another) */
    /* the answer */
    int status;
    const char *user_id, *version, *field, *code, *message, *resource;
    const char *before, *after; /* options "diff": the fields it changes, as
                                 * its audit row has them; NULL: no change */
} ub_scim_op;

/* The operations of ops not skipped as the engine takes them: one
 * PostgreSQL array literal of rows of userbulk.scim_input,
 * {"(idx,op,id,set,expected,user_name,...)",...}, each text escaped for
 * the row and again for the array, NULL an empty field. *count: how many
 * (0: nothing to send). */
const char *ub_scim_write_input(apr_pool_t *pool, const apr_array_header_t *ops, int *count);

/* Sends the operations of ops (ub_scim_op) not skipped to the engine, in
 * one transaction, with options (JSON: atomic, failed, dry_run,
 * resources, diff), and fills their answers. APR_SUCCESS, or the
 * directory could not be asked or answered what it was not asked
 * (logged; nothing applied). */
apr_status_t ub_scim_write_run(const ub_request *req, const ub_db_source *dbs,
                               apr_array_header_t *ops, const char *options,
                               const char *base, ub_outcome *outcome);

/* If-Match: W/"n" or "n" sets *version to n; absent or * leaves 0 (any
 * version). 0, or 412 (problem filled) for anything else: no version of
 * this server matches it. */
int ub_scim_if_match_version(apr_pool_t *pool, const char *header, long long *version,
                     ub_problem *problem);

/* An engine's refusal (status, code, field, message) as a SCIM error. */
void ub_scim_op_problem(apr_pool_t *pool, const ub_scim_op *op, ub_problem *problem);

/* The values a body of POST /Users or PUT /Users/{id} may hold (a User is
 * a few dozen): the parse stops past them. */
#define UB_SCIM_MAX_PUT_VALUES 10000
/* ... and of a PATCH: its operations and their values. */
#define UB_SCIM_MAX_PATCH_VALUES 40000

/* POST /Users (RFC 7644 section 3.3): buf/len the body, a SCIM User.
 * 201 with the user as GET /Users/{id} answers it, ETag and Location in
 * headers; 400 (invalidSyntax, invalidValue naming the attribute), 409
 * (uniqueness: userName or an address taken), as SCIM errors. */
apr_status_t ub_scim_create_user(const ub_request *req, const ub_db_source *dbs,
                                 const char *buf, apr_size_t len, const char *base,
                                 apr_table_t *headers, apr_bucket_brigade *out,
                                 ub_outcome *outcome);

/* id: the path segment after /Users/; if_match: the header or NULL;
 * base: the SCIM base URL. */
apr_status_t ub_scim_put_user(const ub_request *req, const ub_db_source *dbs,
                              const char *id, const char *if_match, const char *buf,
                              apr_size_t len, const char *base, apr_table_t *headers,
                              apr_bucket_brigade *out, ub_outcome *outcome);
apr_status_t ub_scim_patch_user(const ub_request *req, const ub_db_source *dbs,
                                const char *id, const char *if_match, const char *buf,
                                apr_size_t len, const char *base, apr_table_t *headers,
                                apr_bucket_brigade *out, ub_outcome *outcome);
apr_status_t ub_scim_delete_user(const ub_request *req, const ub_db_source *dbs,
                                 const char *id, const char *if_match, const char *base,
                                 apr_table_t *headers, apr_bucket_brigade *out,
                                 ub_outcome *outcome);

#endif
