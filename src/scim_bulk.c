/*
 * scim_bulk.c: see scim_bulk.h.
 */
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include "scim_bulk.h"
#include "scim_map.h"
#include "scim_patch.h"
#include "scim_write.h"
#include "errors.h"
#include "jdoc.h"
#include "json.h"
#include "render.h"
#include "textbuf.h"

/* What the response says of one operation, beside its engine answer. */
typedef struct {
    const char *method;         /* POST, PUT, PATCH, DELETE as sent */
    const char *bulk_id;
    int lead;                   /* the operation it is folded into; -1: none */
    int failed;                 /* refused here: problem */
    int omitted;                /* after failOnErrors was reached */
    ub_problem problem;
} bulk_item;

typedef struct {
    const ub_request *req;
    apr_array_header_t *ops;    /* ub_scim_op */
    bulk_item *items;
    apr_hash_t *leads;          /* user key -> int* index of its first operation */
    apr_hash_t *bulk_ids;       /* bulkId -> int* index of its POST */
} bulk_ctx;

static apr_status_t refuse(apr_bucket_brigade *out, ub_outcome *outcome,
                           const ub_problem *p)
{
    outcome->status = p->status;
    return ub_render_scim_problem(out, p);
}

static int op_fail(bulk_ctx *c, int i, int status, const char *scim_type, const char *message)
{
    bulk_item *it = &c->items[i];

    ub_problem_set(&it->problem, status, scim_type ? scim_type : "error", message,
                   "See RFC 7644 section 3.7 and the README's SCIM section.");
    it->problem.scim_type = scim_type;
    it->failed = 1;
    return status;
}

static int op_fail_problem(bulk_ctx *c, int i, const ub_problem *p)
{
    c->items[i].problem = *p;
    c->items[i].failed = 1;
    return p->status;
}

static int *int_ptr(apr_pool_t *pool, int v)
{
    int *p = apr_palloc(pool, sizeof(*p));

    *p = v;
    return p;
}

/* Folds operation i (not yet sent) into lead, the first operation of the
 * request on the same user. 0, or the refusal recorded. */
static int fold(bulk_ctx *c, int i, int lead)
{
    ub_scim_op *op = &APR_ARRAY_IDX(c->ops, i, ub_scim_op);
    ub_scim_op *l = &APR_ARRAY_IDX(c->ops, lead, ub_scim_op);
    int k;

    if (strcmp(l->op, "delete") == 0) {
        return op_fail(c, i, 404, NULL, apr_psprintf(c->req->pool,
                       "the user is deleted by operation %d of this request", lead));
    }
    if (op->expected > 0 && strcmp(l->op, "create") != 0) {
        if (l->expected > 0 && l->expected != op->expected) {
            return op_fail(c, i, 412, NULL, apr_psprintf(c->req->pool,
                           "version: operation %d of this request expects version %lld; "
                           "versions name the user as it was before the request",
                           lead, l->expected));
        }
        l->expected = op->expected;
    }
    if (strcmp(op->op, "delete") == 0) {
        if (strcmp(l->op, "create") == 0) {
            return op_fail(c, i, 400, "invalidValue", apr_psprintf(c->req->pool,
                           "deletes the user operation %d of this request creates", lead));
        }
        l->op = "delete";
        memset(&l->cols, 0, sizeof(l->cols));
    }
    else {
        if ((op->cols.set & (1u << UB_SCIM_COL_USER_NAME)) && strcmp(l->op, "create") == 0
            && (op->cols.v[UB_SCIM_COL_USER_NAME] == NULL
                || strcmp(op->cols.v[UB_SCIM_COL_USER_NAME],
                          l->cols.v[UB_SCIM_COL_USER_NAME]) != 0)) {
            return op_fail(c, i, 400, "mutability",
                           "userName is immutable: it differs from the one created");
        }
        for (k = 0; k < UB_SCIM_NCOLS; k++) {
            if (op->cols.set & (1u << k)) {
                l->cols.v[k] = op->cols.v[k];
                l->cols.set |= 1u << k;
            }
        }
        if (strcmp(op->op, "put") == 0 && strcmp(l->op, "patch") == 0) {
            l->op = "put";
        }
    }
    op->skip = 1;
    c->items[i].lead = lead;
    return 0;
}

/* Reads operation i of the request into the engine's operation. 0, or the
 * refusal recorded. */
static int read_op(bulk_ctx *c, int i, const ub_jval *o)
{
    apr_pool_t *pool = c->req->pool;
    ub_scim_op *op = &APR_ARRAY_IDX(c->ops, i, ub_scim_op);
    bulk_item *it = &c->items[i];
    const ub_jval *method = ub_jobj_get(o, "method"), *path = ub_jobj_get(o, "path");
    const ub_jval *bulk_id = ub_jobj_get(o, "bulkId"), *version = ub_jobj_get(o, "version");
    const ub_jval *data = ub_jobj_get(o, "data");
    const char *key, *seg;
    ub_problem problem = { 0 };
    int *lead;

    memset(op, 0, sizeof(*op));
    it->lead = -1;
    if (!ub_j_is(o, UB_J_OBJECT) || !ub_j_is(method, UB_J_STRING) || !ub_j_is(path, UB_J_STRING)) {
        return op_fail(c, i, 400, "invalidSyntax",
                       "an operation is an object with method and path");
    }
    it->method = method->u.str;
    if (ub_j_is(bulk_id, UB_J_STRING)) {
        it->bulk_id = bulk_id->u.str;
    }
    if (strncmp(path->u.str, "/Groups", 7) == 0
        && (path->u.str[7] == '\0' || path->u.str[7] == '/')) {
        return op_fail(c, i, 501, NULL, "Groups are not supported in /Bulk: use /Groups");
    }
    if (strcasecmp(it->method, "POST") == 0) {
        op->op = "create";
        if (strcmp(path->u.str, "/Users") != 0) {
            return op_fail(c, i, 400, "invalidPath", "POST goes to /Users");
        }
        if (it->bulk_id == NULL || *it->bulk_id == '\0') {
            return op_fail(c, i, 400, "invalidValue", "bulkId is required with POST");
        }
        if (apr_hash_get(c->bulk_ids, it->bulk_id, APR_HASH_KEY_STRING) != NULL) {
            return op_fail(c, i, 400, "invalidValue",
                           apr_psprintf(pool, "bulkId %s is another operation's", it->bulk_id));
        }
        key = apr_pstrcat(pool, "bulkId:", it->bulk_id, NULL);
    }
    else {
        if (strcasecmp(it->method, "PUT") == 0) {
            op->op = "put";
        }
        else if (strcasecmp(it->method, "PATCH") == 0) {
            op->op = "patch";
        }
        else if (strcasecmp(it->method, "DELETE") == 0) {
            op->op = "delete";
        }
        else {
            return op_fail(c, i, 400, "invalidSyntax",
                           "method must be POST, PUT, PATCH or DELETE");
        }
        if (strncmp(path->u.str, "/Users/", 7) != 0 || path->u.str[7] == '\0'
            || strchr(path->u.str + 7, '/') != NULL) {
            return op_fail(c, i, 400, "invalidPath",
                           apr_psprintf(pool, "%s goes to /Users/{id}", it->method));
        }
        seg = path->u.str + 7;
        if (strncmp(seg, "bulkId:", 7) == 0) {
            if (apr_hash_get(c->bulk_ids, seg + 7, APR_HASH_KEY_STRING) == NULL) {
                return op_fail(c, i, 409, "invalidValue", apr_psprintf(pool,
                               "%s names no POST before this operation", seg));
            }
            key = seg;
        }
        else {
            op->id = seg;
            key = apr_pstrcat(pool, "id:", seg, NULL);
        }
        if (!ub_j_missing(version)) {
            if (version->type != UB_J_STRING
                || ub_scim_if_match_version(pool, version->u.str, &op->expected, &problem) != 0) {
                return op_fail(c, i, 412, NULL,
                               "version names no version of this server: send the ETag a "
                               "GET answered (W/\"n\")");
            }
        }
    }
    if (strcmp(op->op, "create") == 0 || strcmp(op->op, "put") == 0) {
        ub_fields f = { pool, apr_array_make(pool, 2, sizeof(ub_field_error)) };

        if (!ub_j_is(data, UB_J_OBJECT) || !ub_scim_has_user_schema(data)) {
            return op_fail(c, i, 400, "invalidSyntax",
                           "data must be a SCIM User: an object whose schemas include "
                           "urn:ietf:params:scim:schemas:core:2.0:User");
        }
        ub_scim_read_user(&f, data, &op->cols);
        if (f.errors->nelts > 0) {
            const ub_field_error *e = &APR_ARRAY_IDX(f.errors, 0, ub_field_error);

            return op_fail(c, i, 400, "invalidValue",
                           apr_psprintf(pool, "%s %s", e->field, e->message));
        }
    }
    else if (strcmp(op->op, "patch") == 0
             && ub_scim_patch_compile(pool, data, &op->cols, &problem) != 0) {
        return op_fail_problem(c, i, &problem);
    }
    lead = apr_hash_get(c->leads, key, APR_HASH_KEY_STRING);
    if (lead != NULL) {
        return fold(c, i, *lead);
    }
    apr_hash_set(c->leads, key, APR_HASH_KEY_STRING, int_ptr(pool, i));
    if (strcmp(op->op, "create") == 0) {
        apr_hash_set(c->bulk_ids, it->bulk_id, APR_HASH_KEY_STRING, int_ptr(pool, i));
    }
    return 0;
}

/* The engine's answer to operation i (its own, or its lead's). */
static const ub_scim_op *answer_of(const bulk_ctx *c, int i)
{
    int lead = c->items[i].lead;

    return &APR_ARRAY_IDX(c->ops, lead >= 0 ? lead : i, ub_scim_op);
}

static int status_of(const bulk_ctx *c, int i)
{
    const ub_scim_op *a = answer_of(c, i);
    const char *m = c->items[i].method;

    if (c->items[i].failed) {
        return c->items[i].problem.status;
    }
    if (a->status >= 400 || a->status <= 0) {
        return a->status;
    }
    return strcasecmp(m, "POST") == 0 ? 201 : strcasecmp(m, "DELETE") == 0 ? 204 : 200;
}

static void write_op(ub_jw *w, const bulk_ctx *c, int i, const char *base)
{
    apr_pool_t *pool = c->req->pool;
    const bulk_item *it = &c->items[i];
    const ub_scim_op *a = answer_of(c, i);
    int status = status_of(c, i);

    ub_jw_object_begin(w);
    if (it->method != NULL) {
        ub_jw_kv_string(w, "method", it->method);
    }
    if (it->bulk_id != NULL) {
        ub_jw_kv_string(w, "bulkId", it->bulk_id);
    }
    if (!it->failed && a->user_id != NULL && (status < 400 || status == 412)) {
        ub_jw_kv_string(w, "location", apr_pstrcat(pool, base, "/Users/", a->user_id, NULL));
    }
    if (!it->failed && status < 400 && a->version != NULL) {
        ub_jw_kv_string(w, "version", apr_pstrcat(pool, "W/\"", a->version, "\"", NULL));
    }
    ub_jw_kv_string(w, "status", apr_itoa(pool, status));
    /* ?diff=true: the user's change, once, on the first operation on it
     * (those folded into it are in the same change, the same audit row) */
    if (!it->failed && it->lead < 0 && status < 400 && a->before != NULL) {
        ub_render_changes(w, a->before, a->after);
    }
    if (status >= 400) {
        ub_problem p = { 0 };

        if (it->failed) {
            p = it->problem;
        }
        else {
            ub_scim_op_problem(pool, a, &p);
            p.status = status;
        }
        ub_jw_key(w, "response");
        ub_jw_scim_problem(w, pool, &p);
    }
    ub_jw_object_end(w);
}

/* The request as a whole: schemas, Operations within the limit,
 * failOnErrors. 0, or the refusal in problem. */
static int read_request(const ub_request *req, const ub_jval *doc, apr_off_t max_body,
                        const ub_jval **ops, int *fail_on_errors, ub_problem *problem)
{
    const ub_jval *schemas = ub_jobj_get(doc, "schemas"), *foe;
    apr_size_t i;
    int ok = 0;

    for (i = 0; ub_j_is(schemas, UB_J_ARRAY) && i < schemas->len; i++) {
        ok |= schemas->u.items[i].type == UB_J_STRING
              && strcmp(schemas->u.items[i].u.str, UB_SCIM_BULK_REQUEST) == 0;
    }
    *ops = ub_jobj_get(doc, "Operations");
    if (!ub_j_is(doc, UB_J_OBJECT) || !ok || !ub_j_is(*ops, UB_J_ARRAY)) {
        ub_problem_set(problem, 400, "invalidSyntax",
                       "the body must be a BulkRequest: an object whose schemas include "
                       UB_SCIM_BULK_REQUEST ", with an Operations array",
                       "See RFC 7644 section 3.7.");
        problem->scim_type = "invalidSyntax";
        return 400;
    }
    if ((*ops)->len > (apr_size_t)req->max_records) {
        ub_problem_set(problem, 413, "tooMany",
                       apr_psprintf(req->pool, "a Bulk request has at most %d operations "
                                    "(maxOperations; this one has %" APR_SIZE_T_FMT ")",
                                    req->max_records, (*ops)->len),
                       apr_psprintf(req->pool, "Split it; each request also has at most %"
                                    APR_OFF_T_FMT " bytes (maxPayloadSize).", max_body));
        problem->scim_type = "tooMany";
        return 413;
    }
    foe = ub_jobj_get(doc, "failOnErrors");
    *fail_on_errors = 0;
    if (!ub_j_missing(foe)) {
        if (foe->type != UB_J_INTEGER || foe->u.integer < 1) {
            ub_problem_set(problem, 400, "invalidValue",
                           "failOnErrors must be an integer of at least 1",
                           "See RFC 7644 section 3.7.");
            problem->scim_type = "invalidValue";
            return 400;
        }
        *fail_on_errors = foe->u.integer > 1000000 ? 1000000 : (int)foe->u.integer;
    }
    return 0;
}

/* The engine's options: the request's controls and the module's
 * refusals. */
static const char *options(const bulk_ctx *c, int n, int failed, int fail_on_errors)
{
    ub_textbuf tb;
    int i, first = 1;

    ub_tb_init(&tb, c->req->pool, 128);
    ub_tb_puts(&tb, c->req->atomic ? "{\"atomic\":true" : "{\"atomic\":false");
    ub_tb_puts(&tb, c->req->dry_run ? ",\"dry_run\":true" : ",\"dry_run\":false");
    ub_tb_puts(&tb, failed ? ",\"failed\":true" : ",\"failed\":false");
    if (c->req->diff) {
        ub_tb_puts(&tb, ",\"diff\":true");
    }
    if (fail_on_errors > 0) {
        ub_tb_puts(&tb, ",\"fail_on_errors\":");
        ub_tb_int(&tb, fail_on_errors);
        ub_tb_puts(&tb, ",\"failed_idx\":[");
        for (i = 0; i < n; i++) {
            if (c->items[i].failed) {
                if (!first) {
                    ub_tb_putc(&tb, ',');
                }
                first = 0;
                ub_tb_int(&tb, i);
            }
        }
        ub_tb_putc(&tb, ']');
    }
    ub_tb_putc(&tb, '}');
    return ub_tb_text(&tb);
}

apr_status_t ub_scim_bulk(const ub_request *req, const ub_db_source *dbs,
                          const char *buf, apr_size_t len, apr_off_t max_body,
                          const char *base, apr_bucket_brigade *out, ub_outcome *outcome)
{
    ub_jdoc_limits limits = { 0, UB_MAX_JSON_VALUES(req->max_records) };
    ub_problem problem = { 0 };
    const ub_jval *doc, *ops;
    bulk_ctx c;
    int i, n, fail_on_errors, failed = 0, errors = 0, cut;
    ub_jw w;
    apr_status_t rv;

    doc = ub_jdoc_parse_limited(req->pool, buf, len, &limits, &problem);
    if (doc == NULL) {
        if (problem.code != NULL && strcmp(problem.code, UB_JDOC_TOO_MANY_VALUES) == 0) {
            ub_problem_set(&problem, 413, "tooMany",
                           apr_psprintf(req->pool, "a Bulk request has at most %d operations "
                                        "(maxOperations) of a few dozen values each",
                                        req->max_records),
                           "Split it.");
            problem.scim_type = "tooMany";
        }
        else {
            problem.scim_type = "invalidSyntax";
        }
        ub_logf(req, UB_LOG_INFO, 0, "UB0646 refused a SCIM Bulk request: %s", problem.message);
        return refuse(out, outcome, &problem);
    }
    if (read_request(req, doc, max_body, &ops, &fail_on_errors, &problem) != 0) {
        ub_logf(req, UB_LOG_INFO, 0, "UB0646 refused a SCIM Bulk request: %s", problem.message);
        return refuse(out, outcome, &problem);
    }
    n = (int)ops->len;
    c.req = req;
    c.ops = apr_array_make(req->pool, n > 0 ? n : 1, sizeof(ub_scim_op));
    c.items = apr_pcalloc(req->pool, sizeof(bulk_item) * (apr_size_t)(n > 0 ? n : 1));
    c.leads = apr_hash_make(req->pool);
    c.bulk_ids = apr_hash_make(req->pool);
    for (i = 0; i < n; i++) {
        ub_scim_op *op = apr_array_push(c.ops);

        memset(op, 0, sizeof(*op));
        if (fail_on_errors > 0 && failed >= fail_on_errors) {
            c.items[i].omitted = 1;     /* not even read */
            op->skip = 1;
            continue;
        }
        if (read_op(&c, i, &ops->u.items[i]) != 0) {
            APR_ARRAY_IDX(c.ops, i, ub_scim_op).skip = 1;
            failed++;
        }
    }
    rv = ub_scim_write_run(req, dbs, c.ops, options(&c, n, failed, fail_on_errors), base,
                           outcome);
    if (rv != APR_SUCCESS) {
        ub_problem_store(&problem, rv);
        return refuse(out, outcome, &problem);
    }

    /* failOnErrors: what follows the N-th error is left out (the engine
     * did not perform it) */
    cut = n;
    for (i = 0; i < n && fail_on_errors > 0; i++) {
        if (c.items[i].omitted || c.items[i].lead >= 0) {
            continue;
        }
        if (status_of(&c, i) >= 400 && ++errors == fail_on_errors) {
            cut = i + 1;
            break;
        }
    }
    outcome->status = 200;
    ub_jw_init(&w, out);
    ub_jw_object_begin(&w);
    ub_jw_key(&w, "schemas");
    ub_jw_raw(&w, "[\"" UB_SCIM_BULK_RESPONSE "\"]");
    ub_jw_key(&w, "Operations");
    ub_jw_array_begin(&w);
    for (i = 0; i < cut; i++) {
        int status;

        if (c.items[i].omitted) {
            continue;
        }
        status = status_of(&c, i);
        if (status <= 0) {
            continue;           /* not performed: failOnErrors */
        }
        outcome->processed++;
        if (status >= 400) {
            outcome->failed++;
        }
        else {
            outcome->applied++;
        }
        write_op(&w, &c, i, base);
    }
    ub_jw_array_end(&w);
    ub_jw_object_end(&w);
    return ub_jw_status(&w);
}
