/*
 * put_users.c: the flow of PUT /users. Parsing and the data-free checks in
 * C, then one statement for everything that needs the directory.
 */
#include "put_users.h"
#include "batch.h"
#include "errors.h"
#include "render.h"
#include "store.h"

static int count_valid(const ub_put_batch *batch)
{
    const ub_put_record *recs = (const ub_put_record *)batch->records->elts;
    int i, n = 0;

    for (i = 0; i < batch->records->nelts; i++) {
        n += recs[i].errors->nelts == 0;
    }
    return n;
}

apr_status_t ub_put_users(const ub_request *req, const ub_db_source *dbs,
                          const char *body, apr_size_t len,
                          apr_bucket_brigade *out, ub_outcome *outcome)
{
    ub_problem problem = { 0 };
    ub_put_batch *batch = ub_put_batch_parse(req, body, len, &problem);
    apr_status_t rv;

    if (batch == NULL) {
        outcome->status = problem.status;
        return ub_render_put_problem(out, &problem);
    }
    outcome->processed = batch->records->nelts;
    if (count_valid(batch) > 0) {
        ub_db *db = dbs->acquire(dbs->baton);

        if (db == NULL || ub_store_put_users(req, db, batch) != APR_SUCCESS) {
            ub_problem_unavailable(&problem);
            outcome->status = problem.status;
            outcome->failed = outcome->processed;
            return ub_render_put_problem(out, &problem);
        }
    }
    rv = ub_render_put_results(out, batch, &outcome->status);
    outcome->applied = count_valid(batch);
    outcome->failed = outcome->processed - outcome->applied;
    return rv;
}
