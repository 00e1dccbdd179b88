/*
 * account_update.c: the flow of the POST API. The request is checked in C,
 * then one statement applies it all or nothing and returns every target's
 * new state, already in the seed's JSON.
 */
#include <string.h>
#include <apr_strings.h>
#include "account_update.h"
#include "account_request.h"
#include "errors.h"
#include "json.h"
#include "render.h"
#include "store.h"

/* One line naming every refused field, for the envelope's message. */
static const char *describe(apr_pool_t *pool, const apr_array_header_t *errors)
{
    const ub_field_error *e = (const ub_field_error *)errors->elts;
    struct iovec *parts = apr_palloc(pool, sizeof(*parts) * errors->nelts * 2);
    int i;

    for (i = 0; i < errors->nelts; i++) {
        const char *item = apr_pstrcat(pool, i ? "; " : "", e[i].field, ": ",
                                       e[i].message, " (", e[i].code, ")", NULL);
        parts[i].iov_base = (void *)item;
        parts[i].iov_len = strlen(item);
    }
    return apr_pstrcatv(pool, parts, errors->nelts, NULL);
}

static apr_status_t answer_problem(const ub_request *req, apr_bucket_brigade *out,
                                   ub_outcome *outcome, const ub_problem *p)
{
    outcome->status = p->status;
    outcome->failed = outcome->processed;
    return ub_render_envelope_problem(out, p, req->trace_id);
}

apr_status_t ub_account_update(const ub_request *req, const ub_db_source *dbs,
                               const char *body, apr_size_t len,
                               apr_bucket_brigade *out, ub_outcome *outcome)
{
    ub_problem problem = { 0 };
    ub_account_request *ar = ub_account_request_parse(req, body, len, &problem);
    ub_db *db;
    const char *args[4];
    const char *cols[2];
    apr_status_t rv;
    ub_envelope env;

    if (ar == NULL) {
        return answer_problem(req, out, outcome, &problem);
    }
    outcome->processed = ar->targets;
    if (ar->errors->nelts > 0) {
        ub_problem_set(&problem, 400, "invalid_request",
                       describe(req->pool, ar->errors),
                       "Nothing was changed; correct the fields named and retry.");
        problem.error_type = "ValidationError";
        return answer_problem(req, out, outcome, &problem);
    }

    db = dbs->acquire(dbs->baton);
    args[0] = req->account;
    args[1] = req->actor;
    args[2] = req->trace_id;
    args[3] = ub_json_dump(req->pool, ar->change);
    rv = (db == NULL || args[3] == NULL) ? APR_EGENERAL
         : ub_store_select_row(req, db, UB_STMT_ACCOUNT_UPDATE, 4, args, 2, cols);
    if (db != NULL) {
        outcome->db_calls = db->calls;
        outcome->db_usec = db->usec;
    }
    if (rv != APR_SUCCESS) {
        ub_problem_unavailable(&problem);
        return answer_problem(req, out, outcome, &problem);
    }

    /* The store answers an error (small: parsed) or the data (large, in the
     * seed's field order: passed on as it is). */
    if (cols[0] != NULL) {
        json_t *error = ub_json_own(req->pool, json_loads(cols[0], 0, NULL));
        const char *type = json_string_value(json_object_get(error, "errorType"));

        ub_problem_set(&problem, type && strcmp(type, "Conflict") == 0 ? 409 : 400,
                       apr_pstrdup(req->pool, json_string_value(json_object_get(error, "code"))),
                       apr_pstrdup(req->pool, json_string_value(json_object_get(error, "message"))),
                       "Nothing was changed.");
        problem.error_type = apr_pstrdup(req->pool,
                                         json_string_value(json_object_get(error, "errorType")));
        if (problem.message == NULL || problem.error_type == NULL) {
            ub_logf(req, UB_LOG_ERR, APR_EGENERAL, "UB0203 unreadable answer from the store");
            ub_problem_unavailable(&problem);
        }
        return answer_problem(req, out, outcome, &problem);
    }
    if (cols[1] == NULL) {
        ub_logf(req, UB_LOG_ERR, APR_EGENERAL, "UB0203 the store answered no data");
        ub_problem_unavailable(&problem);
        return answer_problem(req, out, outcome, &problem);
    }
    env.status = 200;
    env.data_json = cols[1];
    env.message = apr_psprintf(req->pool, "%d users updated", ar->targets);
    env.error_type = NULL;
    env.description = NULL;
    env.trace_id = req->trace_id;
    outcome->status = 200;
    outcome->applied = ar->targets;
    return ub_render_envelope(out, &env);
}
