/*
 * put_users.c: the flow of PUT /users. Parsing and the data-free checks in
 * C, then one statement for everything that needs the directory.
 */
#include <string.h>
#include <apr_sha1.h>
#include <apr_base64.h>
#include <apr_strings.h>
#include "put_users.h"
#include "batch.h"
#include "errors.h"
#include "headers.h"
#include "query.h"
#include "render.h"
#include "store.h"

int ub_read_put_options(ub_request *req, const char *args, const char *prefer,
                        int *rollback_preferred, ub_problem *problem)
{
    int atomic = ub_query_boolean(req->pool, args, "atomic", problem);
    int dry_run = atomic < 0 ? -1 : ub_query_boolean(req->pool, args, "dryRun", problem);

    if (atomic < 0 || dry_run < 0) {
        return problem->status;
    }
    *rollback_preferred = ub_prefers_rollback(prefer);
    req->atomic = atomic;
    req->dry_run = dry_run || *rollback_preferred;
    return 0;
}

static int count_valid(const ub_put_batch *batch)
{
    const ub_put_record *recs = (const ub_put_record *)batch->records->elts;
    int i, n = 0;

    for (i = 0; i < batch->records->nelts; i++) {
        n += recs[i].errors->nelts == 0;
    }
    return n;
}

/* An atomic request applies nothing when a record fails: the records that
 * passed say so, and are never reported as successes. */
static void mark_not_applied(apr_pool_t *pool, ub_put_batch *batch)
{
    ub_put_record *recs = (ub_put_record *)batch->records->elts;
    int i;

    if (count_valid(batch) == batch->records->nelts) {
        return;
    }
    for (i = 0; i < batch->records->nelts; i++) {
        if (recs[i].errors->nelts == 0) {
            ub_record_fail(pool, &recs[i], "", "not_applied",
                           "valid, but not applied: another record of this "
                           "atomic request failed");
        }
    }
}

/* A request of one record failing only on its version is a 409. */
static int only_conflicts(const ub_put_batch *batch)
{
    const ub_put_record *rec = (const ub_put_record *)batch->records->elts;
    const ub_field_error *e = (const ub_field_error *)rec->errors->elts;
    int i;

    if (batch->records->nelts != 1 || rec->errors->nelts == 0) {
        return 0;
    }
    for (i = 0; i < rec->errors->nelts; i++) {
        if (strcmp(e[i].code, "conflict") != 0) {
            return 0;
        }
    }
    return 1;
}

/* The fingerprint of the request an Idempotency-Key names: the endpoint,
 * every option that changes the outcome (atomic; dry run, however asked
 * for) and the body. The same key with another of them is another request,
 * answered 422, never with the first one's answer. */
static const char *fingerprint(const ub_request *req, const char *body,
                               apr_size_t len)
{
    const char *head = apr_psprintf(req->pool, "PUT /users\natomic=%d\ndryRun=%d\n",
                                    req->atomic ? 1 : 0, req->dry_run ? 1 : 0);
    unsigned char digest[APR_SHA1_DIGESTSIZE];
    apr_sha1_ctx_t ctx;
    char *out;

    apr_sha1_init(&ctx);
    apr_sha1_update_binary(&ctx, (const unsigned char *)head, (unsigned int)strlen(head));
    /* apr_sha1 takes an unsigned int length: the body goes in slices. */
    while (len > 0) {
        unsigned int n = len > (1u << 30) ? (1u << 30) : (unsigned int)len;

        apr_sha1_update_binary(&ctx, (const unsigned char *)body, n);
        body += n;
        len -= n;
    }
    apr_sha1_final(digest, &ctx);
    out = apr_palloc(req->pool, apr_base64_encode_len(sizeof(digest)));
    apr_base64_encode_binary(out, digest, sizeof(digest));
    return out;
}

apr_status_t ub_put_users(const ub_request *req, const ub_db_source *dbs,
                          const char *body, apr_size_t len,
                          apr_bucket_brigade *out, ub_outcome *outcome)
{
    ub_problem problem = { 0 };
    ub_put_batch *batch = ub_put_batch_parse(req, body, len, &problem);
    apr_status_t rv;
    int key_reused = 0;

    if (batch == NULL) {
        outcome->status = problem.status;
        return ub_render_put_problem(out, &problem);
    }
    outcome->processed = batch->records->nelts;
    if (count_valid(batch) > 0 || req->idempotency_key != NULL) {
        ub_db *db = dbs->acquire(dbs->baton);
        const char *hash = req->idempotency_key ? fingerprint(req, body, len) : NULL;

        rv = db ? ub_store_put_users(req, db, batch, hash, &key_reused) : APR_EGENERAL;
        if (db != NULL) {
            outcome->db_calls = db->calls;
            outcome->db_usec = db->usec;
        }
        if (rv != APR_SUCCESS) {
            ub_problem_store(&problem, rv);
            outcome->status = problem.status;
            outcome->failed = outcome->processed;
            return ub_render_put_problem(out, &problem);
        }
    }
    if (key_reused) {
        ub_problem_set(&problem, 422, "idempotency_key_reused",
                       "this Idempotency-Key was used for another request: the body "
                       "or the options (atomic, dryRun, Prefer: tx=rollback) differ",
                       "Use a new key for a new request; nothing was changed.");
        outcome->status = problem.status;
        outcome->failed = outcome->processed;
        return ub_render_put_problem(out, &problem);
    }
    if (req->atomic) {
        mark_not_applied(req->pool, batch);
    }
    rv = ub_render_put_results(out, batch, &outcome->status);
    if (outcome->status == 400 && only_conflicts(batch)) {
        outcome->status = 409;
    }
    outcome->applied = count_valid(batch);
    outcome->failed = outcome->processed - outcome->applied;
    return rv;
}
