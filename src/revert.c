/*
 * revert.c: the flow of POST /users/requests/{requestId}/revert. The path
 * and options are read here; every decision needs the audit trail and the
 * directory, and is the SQL function's (one statement).
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "revert.h"
#include "errors.h"
#include "headers.h"
#include "json.h"
#include "query.h"
#include "render.h"
#include "store.h"

#define TAIL "/revert"
#define HEAD "/requests/"

int ub_revert_split_uri(apr_pool_t *pool, const char *uri, const char **path,
                        const char **id)
{
    apr_size_t len = strlen(uri), tail = sizeof(TAIL) - 1, head = sizeof(HEAD) - 1;
    const char *end, *start;

    if (len < head + tail + 1 || strcmp(uri + len - tail, TAIL) != 0) {
        return 0;
    }
    end = uri + len - tail;             /* one past the id */
    start = end;
    while (start > uri && start[-1] != '/') {
        start--;
    }
    if (start == end || (apr_size_t)(start - uri) < head
        || strncmp(start - head, HEAD, head) != 0) {
        return 0;
    }
    *path = start - head;
    *id = apr_pstrndup(pool, start, (apr_size_t)(end - start));
    return 1;
}

int ub_revert_id_valid(const char *id)
{
    apr_size_t n = strlen(id), i;
    int digits = 1;

    if (n == 0 || n > 128) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];

        if (!apr_isdigit(c)) {
            digits = 0;
            if (!apr_isalpha(c) && c != '.' && c != '_' && c != '-') {
                return 0;
            }
        }
    }
    /* a number: the audit request's id, a bigint */
    return !digits || n <= 18;
}

int ub_read_revert_options(ub_request *req, const char *args, const char *prefer,
                           int *rollback_preferred, ub_problem *problem)
{
    static const char *const names[] = { "atomic", "dryRun", "force", "diff" };
    int v[4], i;

    for (i = 0; i < 4; i++) {
        v[i] = ub_query_boolean(req->pool, args, names[i], problem);
        if (v[i] < 0) {
            return problem->status;
        }
    }
    *rollback_preferred = ub_prefers_rollback(prefer);
    req->atomic = v[0];
    req->dry_run = v[1] || *rollback_preferred;
    req->force = v[2];
    req->diff = v[3];
    return 0;
}

/* One user of the answer (userbulk.revert_result), copied. */
typedef struct {
    const char *user_id, *user_name, *version, *code, *message, *before, *after;
} revert_row;

typedef struct {
    const ub_request *req;
    apr_array_header_t *rows;       /* of revert_row */
    const char *refusal, *refusal_message;  /* idx -1 */
    const char *request_id, *reverts;
    int found;
    int col[10];
} revert_answer;

static const char *const columns[] = { "idx", "user_id", "user_name", "version", "code",
                                       "message", "before", "after", "request_id", "reverts" };

static const char *copy(apr_pool_t *pool, const char *v)
{
    return v ? apr_pstrdup(pool, v) : NULL;
}

static apr_status_t take_row(void *baton, const ub_store_rows *rows)
{
    revert_answer *a = baton;
    apr_pool_t *pool = a->req->pool;
    const char *idx;
    revert_row *r;
    int i;

    if (rows == NULL) {
        return APR_SUCCESS;
    }
    if (!a->found) {
        for (i = 0; i < 10; i++) {
            if ((a->col[i] = ub_store_column(rows, columns[i])) < 0) {
                return APR_EGENERAL;
            }
        }
        a->found = 1;
    }
    idx = ub_store_value(rows, a->col[0]);
    if (idx != NULL && strcmp(idx, "-1") == 0) {
        a->refusal = copy(pool, ub_store_value(rows, a->col[4]));
        a->refusal_message = copy(pool, ub_store_value(rows, a->col[5]));
        if (a->refusal == NULL) {
            ub_logf(a->req, UB_LOG_ERR, APR_EGENERAL, "UB0723 the store refused the revert without a code");
            return APR_EGENERAL;
        }
        return APR_SUCCESS;
    }
    if (idx == NULL || ub_store_value(rows, a->col[1]) == NULL) {
        ub_logf(a->req, UB_LOG_ERR, APR_EGENERAL, "UB0724 the store answered a revert row without a user");
        return APR_EGENERAL;
    }
    r = apr_array_push(a->rows);
    r->user_id = copy(pool, ub_store_value(rows, a->col[1]));
    r->user_name = copy(pool, ub_store_value(rows, a->col[2]));
    r->version = copy(pool, ub_store_value(rows, a->col[3]));
    r->code = copy(pool, ub_store_value(rows, a->col[4]));
    r->message = copy(pool, ub_store_value(rows, a->col[5]));
    r->before = copy(pool, ub_store_value(rows, a->col[6]));
    r->after = copy(pool, ub_store_value(rows, a->col[7]));
    a->request_id = copy(pool, ub_store_value(rows, a->col[8]));
    a->reverts = copy(pool, ub_store_value(rows, a->col[9]));
    return APR_SUCCESS;
}

static const char *options_json(const ub_request *req)
{
    return apr_psprintf(req->pool, "{\"atomic\":%s,\"dry_run\":%s,\"force\":%s}",
                        req->atomic ? "true" : "false", req->dry_run ? "true" : "false",
                        req->force ? "true" : "false");
}

static apr_status_t render(const ub_request *req, const revert_answer *a,
                           apr_bucket_brigade *out, ub_outcome *outcome)
{
    const revert_row *rows = (const revert_row *)a->rows->elts;
    int n = a->rows->nelts, ok = 0, i;
    ub_jw w;

    for (i = 0; i < n; i++) {
        ok += rows[i].code == NULL;
    }
    outcome->processed = n;
    outcome->applied = req->dry_run ? 0 : ok;
    outcome->failed = n - ok;
    outcome->status = ok > 0 || n == 0 ? 200 : 409;

    ub_jw_init(&w, out);
    ub_jw_object_begin(&w);
    ub_jw_kv_string(&w, "revertedRequestId", a->reverts);
    ub_jw_kv_string(&w, "requestId", a->request_id);
    ub_jw_kv_bool(&w, "dryRun", req->dry_run);
    ub_jw_kv_int(&w, "totalProcessed", n);
    ub_jw_kv_int(&w, "successCount", ok);
    ub_jw_kv_int(&w, "failureCount", n - ok);
    ub_jw_key(&w, "successResults");
    ub_jw_array_begin(&w);
    for (i = 0; i < n; i++) {
        if (rows[i].code != NULL) {
            continue;
        }
        ub_jw_object_begin(&w);
        ub_jw_kv_string(&w, "userId", rows[i].user_id);
        ub_jw_kv_string(&w, "userName", rows[i].user_name);
        ub_jw_kv_int(&w, "version", rows[i].version ? apr_atoi64(rows[i].version) : 0);
        ub_jw_kv_bool(&w, "changed", rows[i].after != NULL);
        if (req->diff && rows[i].after != NULL && rows[i].before != NULL) {
            ub_render_changes(&w, rows[i].before, rows[i].after);
        }
        ub_jw_object_end(&w);
    }
    ub_jw_array_end(&w);
    ub_jw_key(&w, "failedResults");
    ub_jw_array_begin(&w);
    for (i = 0; i < n; i++) {
        if (rows[i].code == NULL) {
            continue;
        }
        ub_jw_object_begin(&w);
        ub_jw_kv_string(&w, "userId", rows[i].user_id);
        ub_jw_kv_string(&w, "userName", rows[i].user_name);
        ub_jw_key(&w, "errors");
        ub_jw_array_begin(&w);
        ub_jw_object_begin(&w);
        ub_jw_kv_string(&w, "field", "");
        ub_jw_kv_string(&w, "code", rows[i].code);
        ub_jw_kv_string(&w, "message", rows[i].message ? rows[i].message : "");
        ub_jw_object_end(&w);
        ub_jw_array_end(&w);
        ub_jw_object_end(&w);
    }
    ub_jw_array_end(&w);
    ub_jw_object_end(&w);
    return ub_jw_status(&w);
}

apr_status_t ub_revert(const ub_request *req, const ub_db_source *dbs, const char *id,
                       apr_bucket_brigade *out, ub_outcome *outcome)
{
    ub_problem problem = { 0 };
    revert_answer a;
    const char *args[5];
    ub_db *db;
    apr_status_t rv;

    if (!ub_revert_id_valid(id)) {
        /* no request has such an id: as any id of no request */
        ub_problem_set(&problem, 404, "not_found", "no request of this account has this id",
                       "Name the request by its number in the audit trail or by the "
                       "X-Trace-Id it was answered with.");
        outcome->status = problem.status;
        return ub_render_put_problem(out, &problem);
    }
    memset(&a, 0, sizeof(a));
    a.req = req;
    a.rows = apr_array_make(req->pool, 16, sizeof(revert_row));
    args[0] = req->account;
    args[1] = req->actor;
    args[2] = req->trace_id;
    args[3] = id;
    args[4] = options_json(req);
    db = dbs->acquire(dbs->baton);
    rv = db ? ub_store_revert(req, db, args, take_row, &a) : APR_EGENERAL;
    if (db != NULL) {
        outcome->db_calls = db->calls;
        outcome->db_usec = db->usec;
    }
    if (rv != APR_SUCCESS) {
        ub_problem_store(&problem, rv);
        outcome->status = problem.status;
        return ub_render_put_problem(out, &problem);
    }
    if (a.refusal != NULL) {
        int not_found = strcmp(a.refusal, "not_found") == 0;

        ub_problem_set(&problem, not_found ? 404 : 409, a.refusal,
                       a.refusal_message ? a.refusal_message : a.refusal,
                       not_found ? "Name the request by its number in the audit trail or by "
                                   "the X-Trace-Id it was answered with."
                                 : "Name the request by its number in the audit trail.");
        outcome->status = problem.status;
        return ub_render_put_problem(out, &problem);
    }
    ub_logf(req, UB_LOG_INFO, 0, "UB0725 revert of request %s: %d users, %s",
            a.reverts ? a.reverts : "?", a.rows->nelts,
            req->dry_run ? "dry run" : a.request_id ? "applied" : "nothing applied");
    return render(req, &a, out, outcome);
}
