/*
 * scim_write.c: see scim_write.h.
 */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "scim_write.h"
#include "scim_filter.h"
#include "scim_patch.h"
#include "errors.h"
#include "jdoc.h"
#include "json.h"
#include "render.h"
#include "store.h"
#include "textbuf.h"

typedef struct {
    const ub_request *req;
    apr_array_header_t *ops;
    int found;
    int idx, status, id, version, field, code, message, resource, before, after;
    int answered;
} write_answer;

static const char *copy(apr_pool_t *pool, const char *v)
{
    return v ? apr_pstrdup(pool, v) : NULL;
}

static apr_status_t take_row(void *baton, const ub_store_rows *rows)
{
    write_answer *a = baton;
    ub_scim_op *op;
    const char *idx, *status;
    int i;

    if (rows == NULL) {
        int sent = 0;

        for (i = 0; i < a->ops->nelts; i++) {
            sent += !APR_ARRAY_IDX(a->ops, i, ub_scim_op).skip;
        }
        if (a->answered != sent) {
            ub_logf(a->req, UB_LOG_ERR, APR_EGENERAL,
                    "UB0640 the SCIM engine answered %d of %d operations", a->answered, sent);
            return APR_EGENERAL;
        }
        return APR_SUCCESS;
    }
    if (!a->found) {
        a->idx = ub_store_column(rows, "idx");
        a->status = ub_store_column(rows, "status");
        a->id = ub_store_column(rows, "id");
        a->version = ub_store_column(rows, "version");
        a->field = ub_store_column(rows, "field");
        a->code = ub_store_column(rows, "code");
        a->message = ub_store_column(rows, "message");
        a->resource = ub_store_column(rows, "resource");
        a->before = ub_store_column(rows, "before");
        a->after = ub_store_column(rows, "after");
        if (a->idx < 0 || a->status < 0 || a->id < 0 || a->version < 0 || a->field < 0
            || a->code < 0 || a->message < 0 || a->resource < 0 || a->before < 0
            || a->after < 0) {
            return APR_EGENERAL;
        }
        a->found = 1;
    }
    idx = ub_store_value(rows, a->idx);
    status = ub_store_value(rows, a->status);
    i = idx ? atoi(idx) : -1;
    if (i < 0 || i >= a->ops->nelts || status == NULL
        || APR_ARRAY_IDX(a->ops, i, ub_scim_op).skip) {
        ub_logf(a->req, UB_LOG_ERR, APR_EGENERAL,
                "UB0641 the SCIM engine answered for unknown operation %s", idx ? idx : "(null)");
        return APR_EGENERAL;
    }
    op = &APR_ARRAY_IDX(a->ops, i, ub_scim_op);
    op->status = atoi(status);
    op->user_id = copy(a->req->pool, ub_store_value(rows, a->id));
    op->version = copy(a->req->pool, ub_store_value(rows, a->version));
    op->field = copy(a->req->pool, ub_store_value(rows, a->field));
    op->code = copy(a->req->pool, ub_store_value(rows, a->code));
    op->message = copy(a->req->pool, ub_store_value(rows, a->message));
    op->resource = copy(a->req->pool, ub_store_value(rows, a->resource));
    op->before = copy(a->req->pool, ub_store_value(rows, a->before));
    op->after = copy(a->req->pool, ub_store_value(rows, a->after));
    /* half a change, or one not asked for: the answer would not be the
     * audit row */
    if ((op->before == NULL) != (op->after == NULL) || (op->before != NULL && !a->req->diff)) {
        ub_logf(a->req, UB_LOG_ERR, APR_EGENERAL,
                "UB0727 the SCIM engine answered a change it was not asked for, or half of one, "
                "for operation %d", i);
        return APR_EGENERAL;
    }
    a->answered++;
    return APR_SUCCESS;
}

/* Appends the operation as one element of the array of rows:
 * "(idx,op,id,set,expected,columns...)", in the order of
 * userbulk.scim_input (src/sql/functions/scim_write.sql), each text
 * escaped for the row and again for the array. */
static void put_operation(ub_textbuf *tb, int idx, const ub_scim_op *op)
{
    int c;

    ub_tb_put(tb, "\"(", 2);
    ub_tb_int(tb, idx);
    ub_tb_putc(tb, ',');
    ub_tb_row_field(tb, op->op);
    ub_tb_putc(tb, ',');
    ub_tb_row_field(tb, op->id);
    ub_tb_putc(tb, ',');
    ub_tb_int(tb, op->cols.set);
    ub_tb_putc(tb, ',');
    if (op->expected > 0) {
        ub_tb_int(tb, op->expected);
    }
    for (c = 0; c < UB_SCIM_NCOLS; c++) {
        ub_tb_putc(tb, ',');
        ub_tb_row_field(tb, op->cols.v[c]);
    }
    ub_tb_put(tb, ")\"", 2);
}

const char *ub_scim_write_input(apr_pool_t *pool, const apr_array_header_t *ops, int *count)
{
    ub_textbuf tb;
    int i;

    ub_tb_init(&tb, pool, 64 + (apr_size_t)ops->nelts * 256);
    ub_tb_putc(&tb, '{');
    *count = 0;
    for (i = 0; i < ops->nelts; i++) {
        const ub_scim_op *op = &APR_ARRAY_IDX(ops, i, ub_scim_op);

        if (op->skip) {
            continue;
        }
        if ((*count)++ > 0) {
            ub_tb_putc(&tb, ',');
        }
        put_operation(&tb, i, op);
    }
    ub_tb_putc(&tb, '}');
    return ub_tb_text(&tb);
}

apr_status_t ub_scim_write_run(const ub_request *req, const ub_db_source *dbs,
                               apr_array_header_t *ops, const char *options,
                               const char *base, ub_outcome *outcome)
{
    const char *args[UB_SCIM_WRITE_ARGS];
    write_answer a;
    ub_db *db;
    apr_status_t rv;
    int n;

    args[5] = ub_scim_write_input(req->pool, ops, &n);
    if (n == 0) {
        return APR_SUCCESS;
    }
    args[0] = req->account;
    args[1] = req->actor;
    args[2] = req->trace_id;
    args[3] = options;
    args[4] = base;
    memset(&a, 0, sizeof(a));
    a.req = req;
    a.ops = ops;
    db = dbs->acquire(dbs->baton);
    if (db == NULL) {
        return APR_EGENERAL;
    }
    rv = ub_store_scim_write(req, db, args, take_row, &a);
    outcome->db_calls = db->calls;
    outcome->db_usec = db->usec;
    return rv;
}

int ub_scim_if_match_version(apr_pool_t *pool, const char *header, long long *version,
                     ub_problem *problem)
{
    const char *s = header;
    char *end;
    long long v;

    *version = 0;
    if (s == NULL) {
        return 0;
    }
    while (*s == ' ') {
        s++;
    }
    if (strcmp(s, "*") == 0) {
        return 0;
    }
    if (strncmp(s, "W/", 2) == 0) {
        s += 2;
    }
    if (*s == '"' && apr_isdigit(s[1])) {
        v = strtoll(s + 1, &end, 10);
        if (v > 0 && end[0] == '"' && (end[1] == '\0' || end[1] == ' ')) {
            *version = v;
            return 0;
        }
    }
    ub_problem_set(problem, 412, "precondition_failed",
                   "If-Match names no version of this server: send the ETag a GET answered "
                   "(W/\"n\") or *",
                   "Read the user again (GET /Users/{id}) and send its ETag.");
    return 412;
}

void ub_scim_op_problem(apr_pool_t *pool, const ub_scim_op *op, ub_problem *problem)
{
    const char *code = op->code ? op->code : "error";
    const char *detail = op->field ? apr_pstrcat(pool, op->field, " ", op->message, NULL)
                                   : op->message ? op->message : "refused";

    ub_problem_set(problem, op->status, code, detail,
                   op->status == 412 ? "Read the user again (GET /Users/{id}) and send its ETag."
                   : op->status == 404 ? "List the users with GET /Users?filter=userName eq \"...\"."
                   : "See the attribute mapping in the README's SCIM section.");
    if (strcmp(code, "mutability") == 0 || strcmp(code, "uniqueness") == 0
        || strcmp(code, "invalidValue") == 0) {
        problem->scim_type = code;
    }
}

static apr_status_t refuse(apr_bucket_brigade *out, ub_outcome *outcome,
                           const ub_problem *p)
{
    outcome->status = p->status;
    return ub_render_scim_problem(out, p);
}

/* One operation on one user through the engine, answered as RFC 7644
 * sections 3.5 and 3.6 say. */
static apr_status_t write_one(const ub_request *req, const ub_db_source *dbs,
                              ub_scim_op *op, const char *base, apr_table_t *headers,
                              apr_bucket_brigade *out, ub_outcome *outcome)
{
    apr_array_header_t *ops = apr_array_make(req->pool, 1, sizeof(ub_scim_op));
    ub_problem problem = { 0 };
    ub_jw w;

    apr_status_t rv;

    *(ub_scim_op *)apr_array_push(ops) = *op;
    rv = ub_scim_write_run(req, dbs, ops, "{\"resources\":true}", base, outcome);
    if (rv != APR_SUCCESS) {
        ub_problem_store(&problem, rv);
        return refuse(out, outcome, &problem);
    }
    *op = APR_ARRAY_IDX(ops, 0, ub_scim_op);
    outcome->processed = 1;
    if (op->status >= 400 || op->status == 0) {
        if (op->status == 0) {
            op->status = 500;
        }
        ub_scim_op_problem(req->pool, op, &problem);
        ub_logf(req, UB_LOG_INFO, 0, "UB0642 refused a SCIM %s of a user: %d %s",
                op->op, op->status, problem.message);
        return refuse(out, outcome, &problem);
    }
    outcome->applied = 1;
    outcome->status = op->status;
    if (op->status == 204) {
        return APR_SUCCESS;
    }
    if (op->version == NULL || op->resource == NULL) {
        ub_logf(req, UB_LOG_ERR, APR_EGENERAL,
                "UB0643 the SCIM engine answered no resource for a %s", op->op);
        ub_problem_unavailable(&problem);
        return refuse(out, outcome, &problem);
    }
    apr_table_setn(headers, "ETag", apr_pstrcat(req->pool, "W/\"", op->version, "\"", NULL));
    if (op->status == 201 && op->user_id != NULL) {
        apr_table_setn(headers, "Location",
                       apr_pstrcat(req->pool, base, "/Users/", op->user_id, NULL));
    }
    ub_jw_init(&w, out);
    ub_jw_raw(&w, op->resource);
    return ub_jw_status(&w);
}

/* The target's id and If-Match into op. 0, or the refusal answered. */
static int target(const ub_request *req, const char *id, const char *if_match,
                  const char *kind, ub_scim_op *op, ub_problem *problem)
{
    memset(op, 0, sizeof(*op));
    op->op = kind;
    op->id = id;
    return ub_scim_if_match_version(req->pool, if_match, &op->expected, problem);
}

static const ub_jval *parse(const ub_request *req, const char *buf, apr_size_t len,
                            apr_size_t max_values, ub_problem *problem)
{
    ub_jdoc_limits limits = { 0, 0 };
    const ub_jval *doc;

    limits.max_values = max_values;
    doc = ub_jdoc_parse_limited(req->pool, buf, len, &limits, problem);
    if (doc == NULL) {
        problem->scim_type = "invalidSyntax";
    }
    return doc;
}

/* A whole User from the body (POST, PUT) into op->cols. 0, or 400 with
 * problem filled and *field_error the attribute's error when it was one
 * (else NULL: the body is no User). */
static int read_whole_user(const ub_request *req, const char *buf, apr_size_t len,
                           ub_scim_op *op, ub_problem *problem,
                           const ub_field_error **field_error)
{
    ub_fields f = { req->pool, apr_array_make(req->pool, 4, sizeof(ub_field_error)) };
    const ub_jval *doc;

    *field_error = NULL;
    doc = parse(req, buf, len, UB_SCIM_MAX_PUT_VALUES, problem);
    if (doc == NULL) {
        return 400;
    }
    if (doc->type != UB_J_OBJECT || !ub_scim_has_user_schema(doc)) {
        ub_problem_set(problem, 400, "invalidSyntax",
                       "the body must be a SCIM User: an object whose schemas include "
                       UB_SCIM_USER_SCHEMA,
                       "Send {\"schemas\":[\"" UB_SCIM_USER_SCHEMA "\"],\"userName\":...}.");
        problem->scim_type = "invalidSyntax";
        return 400;
    }
    ub_scim_read_user(&f, doc, &op->cols);
    if (f.errors->nelts > 0) {
        const ub_field_error *e = &APR_ARRAY_IDX(f.errors, 0, ub_field_error);

        ub_problem_set(problem, 400, "invalidValue",
                       apr_psprintf(req->pool, "%s %s", e->field, e->message),
                       "See the attribute mapping in the README's SCIM section.");
        problem->scim_type = "invalidValue";
        *field_error = e;
        return 400;
    }
    return 0;
}

/* POST or PUT: the body's User, then the write. */
static apr_status_t write_whole(const ub_request *req, const ub_db_source *dbs, ub_scim_op *op,
                                const char *buf, apr_size_t len, const char *base,
                                apr_table_t *headers, apr_bucket_brigade *out,
                                ub_outcome *outcome)
{
    ub_problem problem = { 0 };
    const ub_field_error *e;

    if (read_whole_user(req, buf, len, op, &problem, &e) != 0) {
        if (e != NULL && strcmp(op->op, "create") == 0) {
            ub_logf(req, UB_LOG_INFO, 0, "UB0620 refused a SCIM user to create: %s %s",
                    e->field, e->message);
        }
        else if (e != NULL) {
            ub_logf(req, UB_LOG_INFO, 0, "UB0644 refused a SCIM user to replace: %s %s",
                    e->field, e->message);
        }
        return refuse(out, outcome, &problem);
    }
    return write_one(req, dbs, op, base, headers, out, outcome);
}

apr_status_t ub_scim_create_user(const ub_request *req, const ub_db_source *dbs,
                                 const char *buf, apr_size_t len, const char *base,
                                 apr_table_t *headers, apr_bucket_brigade *out,
                                 ub_outcome *outcome)
{
    ub_scim_op op;

    memset(&op, 0, sizeof(op));
    op.op = "create";
    return write_whole(req, dbs, &op, buf, len, base, headers, out, outcome);
}

apr_status_t ub_scim_put_user(const ub_request *req, const ub_db_source *dbs,
                              const char *id, const char *if_match, const char *buf,
                              apr_size_t len, const char *base, apr_table_t *headers,
                              apr_bucket_brigade *out, ub_outcome *outcome)
{
    ub_problem problem = { 0 };
    ub_scim_op op;

    if (target(req, id, if_match, "put", &op, &problem) != 0) {
        return refuse(out, outcome, &problem);
    }
    return write_whole(req, dbs, &op, buf, len, base, headers, out, outcome);
}

apr_status_t ub_scim_patch_user(const ub_request *req, const ub_db_source *dbs,
                                const char *id, const char *if_match, const char *buf,
                                apr_size_t len, const char *base, apr_table_t *headers,
                                apr_bucket_brigade *out, ub_outcome *outcome)
{
    ub_problem problem = { 0 };
    const ub_jval *doc;
    ub_scim_op op;

    if (target(req, id, if_match, "patch", &op, &problem) != 0) {
        return refuse(out, outcome, &problem);
    }
    doc = parse(req, buf, len, UB_SCIM_MAX_PATCH_VALUES, &problem);
    if (doc == NULL) {
        return refuse(out, outcome, &problem);
    }
    if (ub_scim_patch_compile(req->pool, doc, &op.cols, &problem) != 0) {
        ub_logf(req, UB_LOG_INFO, 0, "UB0645 refused a SCIM PATCH: %s", problem.message);
        return refuse(out, outcome, &problem);
    }
    return write_one(req, dbs, &op, base, headers, out, outcome);
}

apr_status_t ub_scim_delete_user(const ub_request *req, const ub_db_source *dbs,
                                 const char *id, const char *if_match, const char *base,
                                 apr_table_t *headers, apr_bucket_brigade *out,
                                 ub_outcome *outcome)
{
    ub_problem problem = { 0 };
    ub_scim_op op;

    if (target(req, id, if_match, "delete", &op, &problem) != 0) {
        return refuse(out, outcome, &problem);
    }
    return write_one(req, dbs, &op, base, headers, out, outcome);
}
