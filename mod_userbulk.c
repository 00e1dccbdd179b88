/*
 * mod_userbulk.c: httpd glue of mod_userbulk. Directives, hooks, reading
 * the body and sending the answer; everything else is in src/.
 */
#include <apr_strings.h>
#include <apr_optional.h>
#include <ap_expr.h>
#include <http_protocol.h>
#include <http_request.h>
#include <apr_dbd.h>
#include <mod_dbd.h>
#include <mod_status.h>
#include <apr_shm.h>

#include "mod_userbulk.h"
#include "userbulk.h"
#include "errors.h"
#include "put_users.h"
#include "account_update.h"
#include "media.h"
#include "validate.h"
#include "options.h"
#include "read_users.h"
#include "counters.h"
#include "render.h"
#include "store.h"

/* ---- configuration ----------------------------------------------------- */

#define SET_ACCOUNT      (1u << 0)
#define SET_ACTOR        (1u << 1)
#define SET_MAX_RECORDS  (1u << 2)
#define SET_MAX_BODY     (1u << 3)
#define SET_RETRY_AFTER  (1u << 4)
#define SET_NOT_BEFORE   (1u << 5)
#define SET_READ_BACK    (1u << 6)

/* The largest UserBulkMaxBodySize, 1 GiB: the body is held in memory whole
 * (and parsed into several times its size), its columns reach PostgreSQL
 * as single text-array values, which PostgreSQL caps at 1 GB, and the JSON
 * parser counts lines in an int. */
#define MAX_BODY_CAP (APR_INT64_C(1) << 30)

/* Clock skew allowed between the token issuer and this server. */
#define NOT_BEFORE_LEEWAY 60

typedef struct {
    ap_expr_info_t *account;    /* the caller's account code */
    ap_expr_info_t *actor;      /* the caller, for the audit trail */
    ap_expr_info_t *not_before; /* the token's nbf claim, if checked here */
    int max_records;
    apr_off_t max_body;
    int retry_after;
    int read_back;              /* GET /users answers users as PUT takes them */
    unsigned int set;           /* which of the above this level set */
} ub_dir_conf;

typedef struct {
    int statements_prepared;
    ap_dbd_t *(*dbd_acquire)(request_rec *r);
    ub_counters *counters;      /* shared by all children; NULL if none */
} ub_server_conf;

static void *create_dir_conf(apr_pool_t *p, char *dir)
{
    return apr_pcalloc(p, sizeof(ub_dir_conf));
}

static void *merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    ub_dir_conf *base = basev, *add = addv;
    ub_dir_conf *conf = apr_pcalloc(p, sizeof(*conf));

    conf->account = (add->set & SET_ACCOUNT) ? add->account : base->account;
    conf->actor = (add->set & SET_ACTOR) ? add->actor : base->actor;
    conf->not_before = (add->set & SET_NOT_BEFORE) ? add->not_before : base->not_before;
    conf->max_records = (add->set & SET_MAX_RECORDS) ? add->max_records : base->max_records;
    conf->max_body = (add->set & SET_MAX_BODY) ? add->max_body : base->max_body;
    conf->retry_after = (add->set & SET_RETRY_AFTER) ? add->retry_after : base->retry_after;
    conf->read_back = (add->set & SET_READ_BACK) ? add->read_back : base->read_back;
    conf->set = base->set | add->set;
    return conf;
}

static void *create_server_conf(apr_pool_t *p, server_rec *s)
{
    return apr_pcalloc(p, sizeof(ub_server_conf));
}

/* Defaults live in the getters, so a level can set a value back to the
 * default explicitly. */
static int max_records(const ub_dir_conf *c)
{
    return (c->set & SET_MAX_RECORDS) ? c->max_records : UB_DEFAULT_MAX_RECORDS;
}

static apr_off_t max_body(const ub_dir_conf *c)
{
    return (c->set & SET_MAX_BODY) ? c->max_body : UB_DEFAULT_MAX_BODY;
}

static int retry_after(const ub_dir_conf *c)
{
    return (c->set & SET_RETRY_AFTER) ? c->retry_after : UB_DEFAULT_RETRY_AFTER;
}

/* The statements go to mod_dbd once per server that uses the module;
 * mod_dbd prepares them on every connection it opens. */
static const char *prepare_statements(cmd_parms *cmd)
{
    ub_server_conf *sc = ap_get_module_config(cmd->server->module_config,
                                              &userbulk_module);
    APR_OPTIONAL_FN_TYPE(ap_dbd_prepare) *prepare;
    const ub_statement *st;

    if (sc->statements_prepared) {
        return NULL;
    }
    prepare = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_prepare);
    if (prepare == NULL) {
        return "mod_userbulk needs mod_dbd: load it before mod_userbulk";
    }
    for (st = ub_statements; st->label != NULL; st++) {
        prepare(cmd->server, st->sql, st->label);
    }
    sc->statements_prepared = 1;
    return NULL;
}

static const char *set_expr(cmd_parms *cmd, ap_expr_info_t **slot,
                            const char *arg)
{
    const char *err = NULL;

    *slot = ap_expr_parse_cmd(cmd, arg, AP_EXPR_FLAG_STRING_RESULT, &err, NULL);
    if (err != NULL) {
        return apr_psprintf(cmd->pool, "%s: cannot parse expression '%s': %s",
                            cmd->cmd->name, arg, err);
    }
    return NULL;
}

static const char *set_account(cmd_parms *cmd, void *dconf, const char *arg)
{
    ub_dir_conf *c = dconf;
    const char *err = set_expr(cmd, &c->account, arg);

    if (err == NULL) {
        c->set |= SET_ACCOUNT;
        err = prepare_statements(cmd);
    }
    return err;
}

static const char *set_actor(cmd_parms *cmd, void *dconf, const char *arg)
{
    ub_dir_conf *c = dconf;
    const char *err = set_expr(cmd, &c->actor, arg);

    if (err == NULL) {
        c->set |= SET_ACTOR;
    }
    return err;
}

static const char *set_read_back(cmd_parms *cmd, void *dconf, int flag)
{
    ub_dir_conf *c = dconf;

    c->read_back = flag;
    c->set |= SET_READ_BACK;
    return NULL;
}

static const char *set_not_before(cmd_parms *cmd, void *dconf, const char *arg)
{
    ub_dir_conf *c = dconf;
    const char *err = set_expr(cmd, &c->not_before, arg);

    if (err == NULL) {
        c->set |= SET_NOT_BEFORE;
    }
    return err;
}

/* A whole number in [lo, hi], or the directive's error line. */
static const char *parse_count(cmd_parms *cmd, const char *arg,
                               apr_int64_t lo, apr_int64_t hi, apr_int64_t *out)
{
    char *end;
    apr_int64_t v = apr_strtoi64(arg, &end, 10);

    if (*arg == '\0' || *end != '\0' || v < lo || v > hi) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a whole number from %"
                            APR_INT64_T_FMT " to %" APR_INT64_T_FMT,
                            cmd->cmd->name, arg, lo, hi);
    }
    *out = v;
    return NULL;
}

static const char *set_max_records(cmd_parms *cmd, void *dconf, const char *arg)
{
    ub_dir_conf *c = dconf;
    apr_int64_t v = 0;
    const char *err = parse_count(cmd, arg, 1, 100000, &v);

    if (err == NULL) {
        c->max_records = (int)v;
        c->set |= SET_MAX_RECORDS;
    }
    return err;
}

static const char *set_max_body(cmd_parms *cmd, void *dconf, const char *arg)
{
    ub_dir_conf *c = dconf;
    apr_int64_t v = 0;
    const char *err = parse_count(cmd, arg, 1024, MAX_BODY_CAP, &v);

    if (err != NULL) {
        return apr_pstrcat(cmd->pool, err, " (at most 1 GiB: the body is held in "
                           "memory whole and reaches PostgreSQL as values it "
                           "caps at 1 GB)", NULL);
    }
    c->max_body = (apr_off_t)v;
    c->set |= SET_MAX_BODY;
    return NULL;
}

static const char *set_retry_after(cmd_parms *cmd, void *dconf, const char *arg)
{
    ub_dir_conf *c = dconf;
    apr_int64_t v = 0;
    const char *err = parse_count(cmd, arg, 0, 86400, &v);

    if (err == NULL) {
        c->retry_after = (int)v;
        c->set |= SET_RETRY_AFTER;
    }
    return err;
}

/* Server config, <VirtualHost>, <Location>, <Directory>, never .htaccess:
 * whoever may write one there must not name the audit trail's actor, the
 * account, or bend the limits. */
#define DIR_CONTEXT (RSRC_CONF | ACCESS_CONF)

static const command_rec ub_cmds[] = {
    AP_INIT_TAKE1("UserBulkAccount", set_account, NULL, DIR_CONTEXT,
                  "Expression giving the caller's account code, e.g. "
                  "%{reqenv:OAUTH2_CLAIM_account}"),
    AP_INIT_TAKE1("UserBulkActor", set_actor, NULL, DIR_CONTEXT,
                  "Expression naming the caller for the audit trail "
                  "(default %{REMOTE_USER})"),
    AP_INIT_TAKE1("UserBulkNotBefore", set_not_before, NULL, DIR_CONTEXT,
                  "Expression giving the token's nbf claim, refused while in "
                  "the future, for auth modules that do not check it"),
    AP_INIT_FLAG("UserBulkReadBack", set_read_back, NULL, DIR_CONTEXT,
                  "On: GET on the PUT /users location answers the users named "
                  "by ?userName= as PUT takes them (default Off)"),
    AP_INIT_TAKE1("UserBulkMaxRecords", set_max_records, NULL, DIR_CONTEXT,
                  "Most user records one request may hold (default 1000)"),
    AP_INIT_TAKE1("UserBulkMaxBodySize", set_max_body, NULL, DIR_CONTEXT,
                  "Largest request body in bytes (default 8388608)"),
    AP_INIT_TAKE1("UserBulkRetryAfter", set_retry_after, NULL, DIR_CONTEXT,
                  "Seconds sent in Retry-After when the database is away "
                  "(default 5)"),
    { NULL }
};

/* ---- per request ------------------------------------------------------- */

typedef struct {
    request_rec *r;
    const ub_dir_conf *conf;
    ub_request req;
    ub_db db;
    ap_dbd_t *dbd;
    ub_endpoint ep;
    apr_time_t started;
} ub_call;

static void log_to_request(void *baton, ub_log_level level, apr_status_t rv,
                           const char *msg)
{
    ub_call *call = baton;
    static const int levels[] = { APLOG_ERR, APLOG_WARNING, APLOG_INFO, APLOG_DEBUG };

    ap_log_rerror(APLOG_MARK, levels[level], rv, call->r, "%s [trace %s]",
                  msg, call->req.trace_id);
    if (level == UB_LOG_ERR) {
        ub_server_conf *sc = ap_get_module_config(call->r->server->module_config,
                                                  &userbulk_module);
        if (sc->counters != NULL) {
            ub_counters_set_error(sc->counters, apr_time_now(),
                                  apr_psprintf(call->r->pool, "%s [trace %s]",
                                               msg, call->req.trace_id));
        }
    }
}

static const char *new_trace_id(request_rec *r)
{
    unsigned char raw[16];
    char *hex = apr_palloc(r->pool, sizeof(raw) * 2 + 1);

    ap_random_insecure_bytes(raw, sizeof(raw));
    ap_bin2hex(raw, sizeof(raw), hex);
    return hex;
}

/* Evaluates a string expression; "" when unset or on failure (logged). */
static const char *eval(ub_call *call, ap_expr_info_t *expr, const char *what)
{
    const char *err = NULL;
    const char *v;

    if (expr == NULL) {
        return "";
    }
    v = ap_expr_str_exec(call->r, expr, &err);
    if (err != NULL) {
        ub_logf(&call->req, UB_LOG_ERR, APR_EGENERAL,
                "UB0003 evaluating %s failed: %s", what, err);
        return "";
    }
    return v ? v : "";
}

static ub_db *acquire_db(void *baton)
{
    ub_call *call = baton;
    ub_server_conf *sc = ap_get_module_config(call->r->server->module_config,
                                              &userbulk_module);

    if (sc->dbd_acquire == NULL) {
        ub_logf(&call->req, UB_LOG_ERR, APR_EGENERAL,
                "UB0004 mod_dbd is not loaded");
        return NULL;
    }
    call->dbd = sc->dbd_acquire(call->r);
    if (call->dbd == NULL) {
        ub_logf(&call->req, UB_LOG_ERR, APR_EGENERAL,
                "UB0200 no database connection (see the DBD lines above)");
        return NULL;
    }
    call->db.driver = call->dbd->driver;
    call->db.handle = call->dbd->handle;
    call->db.conn_pool = call->dbd->pool;
    call->db.prepared = call->dbd->prepared;
    return &call->db;
}

/* The endpoint as one word, for log lines that must stay parseable. */
static const char *endpoint_key(const ub_call *call)
{
    if (call->ep == UB_EP_ACCOUNT_UPDATE) {
        return "account_update";
    }
    return call->r->method_number == M_GET ? "get_users" : "put_users";
}

/* Sends the brigade as the whole response. */
static int send_body(ub_call *call, apr_bucket_brigade *bb, int status)
{
    request_rec *r = call->r;
    apr_off_t len = 0;
    const char *accept = apr_table_get(r->headers_in, "Accept");
    apr_status_t rv;

    r->status = status;
    if (call->ep == UB_EP_ACCOUNT_UPDATE && ub_accept_prefers_text(accept)) {
        ap_set_content_type(r, "text/plain; charset=utf-8");
    }
    else {
        ap_set_content_type(r, "application/json");
    }
    if (status == HTTP_SERVICE_UNAVAILABLE) {
        apr_table_setn(r->err_headers_out, "Retry-After",
                       apr_itoa(r->pool, retry_after(call->conf)));
    }
    apr_brigade_length(bb, 1, &len);
    ap_set_content_length(r, len);
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(r->connection->bucket_alloc));
    rv = ap_pass_brigade(r->output_filters, bb);
    if (rv != APR_SUCCESS) {
        ub_logf(&call->req, UB_LOG_INFO, rv, "UB0005 the client did not take the response");
        return AP_FILTER_ERROR;
    }
    return OK;
}

/* Answers a refusal of the request as a whole. A body the client may
 * still be sending is not read: the connection closes instead. */
static int refuse(ub_call *call, const ub_problem *p)
{
    apr_bucket_brigade *bb = apr_brigade_create(call->r->pool,
                                                call->r->connection->bucket_alloc);

    if (ub_render_problem(call->ep, bb, p, call->req.trace_id) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return send_body(call, bb, p->status);
}

/* Reads the whole body, refusing it past the limit. Returns OK, or an HTTP
 * status with *problem filled. */
static int read_body(ub_call *call, const char **buf, apr_size_t *len,
                     ub_problem *problem)
{
    request_rec *r = call->r;
    apr_off_t limit = max_body(call->conf), total = 0, declared;
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_bucket_brigade *in = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    apr_bucket_brigade *body = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    int seen_eos = 0;
    char *flat;
    apr_size_t flat_len;

    if (cl != NULL && apr_strtoff(&declared, cl, NULL, 10) == APR_SUCCESS
        && declared > limit) {
        ub_problem_too_large(r->pool, problem, limit);
        return problem->status;
    }
    while (!seen_eos) {
        apr_bucket *e;
        apr_status_t rv = ap_get_brigade(r->input_filters, in, AP_MODE_READBYTES,
                                         APR_BLOCK_READ, HUGE_STRING_LEN);
        if (rv != APR_SUCCESS) {
            int status = ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
            ub_logf(&call->req, UB_LOG_INFO, rv,
                    "UB0006 reading the request body failed; nothing was changed");
            ub_problem_set(problem, status == HTTP_REQUEST_ENTITY_TOO_LARGE ? 413 : 400,
                           "unreadable_body", "the request body could not be read",
                           "Send the whole body; nothing was changed.");
            return status;
        }
        while (!APR_BRIGADE_EMPTY(in)) {
            e = APR_BRIGADE_FIRST(in);
            if (APR_BUCKET_IS_EOS(e)) {
                seen_eos = 1;
            }
            if (!APR_BUCKET_IS_METADATA(e)) {
                total += e->length == (apr_size_t)-1 ? 0 : (apr_off_t)e->length;
                if (total > limit) {
                    ub_problem_too_large(r->pool, problem, limit);
                    return problem->status;
                }
                if ((rv = apr_bucket_setaside(e, r->pool)) != APR_SUCCESS) {
                    return HTTP_INTERNAL_SERVER_ERROR;
                }
            }
            APR_BUCKET_REMOVE(e);
            APR_BRIGADE_INSERT_TAIL(body, e);
        }
    }
    if (apr_brigade_pflatten(body, &flat, &flat_len, r->pool) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apr_brigade_destroy(body);
    *buf = flat;
    *len = flat_len;
    return OK;
}

/* The request's one log line, the note for LogFormat's %{userbulk}n, and
 * the shared counters. */
static void log_outcome(ub_call *call, const ub_outcome *o)
{
    request_rec *r = call->r;
    ub_server_conf *sc = ap_get_module_config(r->server->module_config, &userbulk_module);
    apr_time_t ms = (apr_time_now() - call->started) / 1000;
    const char *summary = apr_psprintf(r->pool,
        "trace=%s endpoint=%s account=%s status=%d records=%d applied=%d "
        "failed=%d db_ms=%" APR_TIME_T_FMT " ms=%" APR_TIME_T_FMT,
        call->req.trace_id, endpoint_key(call), call->req.account, o->status,
        o->processed, o->applied, o->failed, (apr_time_t)(o->db_usec / 1000), ms);

    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "UB0100 %s", summary);
    apr_table_setn(r->notes, "userbulk", summary);
    if (sc->counters != NULL) {
        ub_ctr_endpoint ep = call->ep == UB_EP_ACCOUNT_UPDATE ? UB_CTR_ACCOUNT_UPDATE
                           : r->method_number == M_GET ? UB_CTR_GET_USERS : UB_CTR_PUT_USERS;
        ub_counters_count(sc->counters, ep, o);
    }
}

/* GET /users?userName=...: the users as PUT /users takes them. */
static int serve_read_back(ub_call *call)
{
    ub_outcome outcome = { 0 };
    ub_db_source dbs;
    apr_bucket_brigade *out = apr_brigade_create(call->r->pool,
                                                 call->r->connection->bucket_alloc);
    apr_status_t rv;

    dbs.acquire = acquire_db;
    dbs.baton = call;
    rv = ub_read_users(&call->req, &dbs, call->r->args, out, &outcome);
    log_outcome(call, &outcome);
    if (rv != APR_SUCCESS) {
        ub_logf(&call->req, UB_LOG_ERR, rv, "UB0007 rendering the response failed");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return send_body(call, out, outcome.status);
}

static int serve(request_rec *r, ub_endpoint ep)
{
    ub_call *call = apr_pcalloc(r->pool, sizeof(*call));
    int method = ep == UB_EP_PUT_USERS ? M_PUT : M_POST;
    int read_back, rollback = 0;
    const char *method_name = ep == UB_EP_PUT_USERS ? "PUT" : "POST";
    const char *ctype = apr_table_get(r->headers_in, "Content-Type");
    ub_problem problem = { 0 };
    ub_outcome outcome = { 0 };
    ub_db_source dbs;
    apr_bucket_brigade *out;
    const char *body = NULL;
    apr_size_t body_len = 0;
    apr_status_t rv;
    int status;

    call->r = r;
    call->ep = ep;
    call->started = r->request_time;
    call->conf = ap_get_module_config(r->per_dir_config, &userbulk_module);
    call->req.pool = r->pool;
    call->req.trace_id = new_trace_id(r);
    call->req.max_records = max_records(call->conf);
    call->req.log = log_to_request;
    call->req.log_baton = call;
    apr_table_setn(r->err_headers_out, "X-Trace-Id", call->req.trace_id);
    apr_table_setn(r->notes, "userbulk-trace", call->req.trace_id);

    if (call->conf->not_before != NULL) {
        const char *nbf = eval(call, call->conf->not_before, "UserBulkNotBefore");
        if (*nbf && ub_not_yet_valid(nbf, r->request_time, NOT_BEFORE_LEEWAY)) {
            apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                           "Bearer error=\"invalid_token\", "
                           "error_description=\"The token is not valid yet.\"");
            ub_logf(&call->req, UB_LOG_INFO, 0, "UB0008 refused a token whose nbf is in the future");
            ub_problem_auth(&problem, HTTP_UNAUTHORIZED);
            return refuse(call, &problem);
        }
    }
    read_back = ep == UB_EP_PUT_USERS && call->conf->read_back;
    r->allowed = (AP_METHOD_BIT << method) | (read_back ? AP_METHOD_BIT << M_GET : 0);
    if (r->method_number != method && !(read_back && r->method_number == M_GET)) {
        const char *allow = read_back ? "GET, PUT" : method_name;
        apr_table_setn(r->err_headers_out, "Allow", allow);
        r->connection->keepalive = AP_CONN_CLOSE;
        ub_problem_method(r->pool, &problem, allow);
        return refuse(call, &problem);
    }
    if (call->conf->account == NULL) {
        ub_logf(&call->req, UB_LOG_ERR, APR_EGENERAL,
                "UB0002 UserBulkAccount is not set for %s", r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    call->req.account = eval(call, call->conf->account, "UserBulkAccount");
    call->req.actor = call->conf->actor ? eval(call, call->conf->actor, "UserBulkActor")
                                        : (r->user ? r->user : "");
    if (*call->req.account == '\0') {
        r->connection->keepalive = AP_CONN_CLOSE;
        ub_problem_no_account(&problem);
        return refuse(call, &problem);
    }
    /* Every change is signed in the audit trail: no actor, no request. */
    if (*call->req.actor == '\0') {
        ub_logf(&call->req, UB_LOG_WARNING, 0,
                "UB0010 refused a request whose UserBulkActor names nobody (%s)", r->uri);
        r->connection->keepalive = AP_CONN_CLOSE;
        ub_problem_no_actor(&problem);
        return refuse(call, &problem);
    }
    if (r->method_number == M_GET) {
        return serve_read_back(call);
    }
    if (ep == UB_EP_PUT_USERS
        && (ub_read_put_options(&call->req, r->args,
                                apr_table_get(r->headers_in, "Prefer"), &rollback, &problem)
            || ub_read_idempotency_key(apr_table_get(r->headers_in, "Idempotency-Key"),
                                       &call->req.idempotency_key, &problem))) {
        r->connection->keepalive = AP_CONN_CLOSE;
        return refuse(call, &problem);
    }
    if (rollback) {
        apr_table_setn(r->headers_out, "Preference-Applied", "tx=rollback");
    }
    call->req.if_match = apr_table_get(r->headers_in, "If-Match");
    if (!ub_media_type_accepted(ep, ctype)) {
        r->connection->keepalive = AP_CONN_CLOSE;
        ub_problem_media_type(r->pool, &problem, ub_media_types(ep));
        return refuse(call, &problem);
    }
    status = read_body(call, &body, &body_len, &problem);
    if (status != OK) {
        r->connection->keepalive = AP_CONN_CLOSE;
        if (problem.status == 0) {
            return status;
        }
        return refuse(call, &problem);
    }

    dbs.acquire = acquire_db;
    dbs.baton = call;
    out = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    if (ep == UB_EP_PUT_USERS) {
        rv = ub_put_users(&call->req, &dbs, body, body_len, out, &outcome);
    }
    else {
        rv = ub_account_update(&call->req, &dbs, body, body_len, out, &outcome);
    }
    log_outcome(call, &outcome);
    if (rv != APR_SUCCESS) {
        ub_logf(&call->req, UB_LOG_ERR, rv, "UB0007 rendering the response failed");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return send_body(call, out, outcome.status);
}

/* ErrorDocument target: the auth module's 401/403 (or httpd's own errors)
 * in the JSON form of the API that was asked. The form is the last part of
 * the path: /userbulk-error/account-update for the POST API, anything else
 * for PUT /users. */
static int serve_error(request_rec *r)
{
    ub_call *call = apr_pcalloc(r->pool, sizeof(*call));
    request_rec *orig = r->prev;
    ub_problem problem = { 0 };
    const char *tail = strrchr(r->uri, '/');
    int status = orig ? orig->status : HTTP_NOT_FOUND;

    call->r = r;
    call->ep = (tail && strcmp(tail, "/account-update") == 0)
               ? UB_EP_ACCOUNT_UPDATE : UB_EP_PUT_USERS;
    call->conf = ap_get_module_config(r->per_dir_config, &userbulk_module);
    call->req.pool = r->pool;
    /* An error of our own handler (its 500) keeps the trace id its log
     * lines carry; only errors before it (auth, httpd) get a new one. */
    call->req.trace_id = orig ? apr_table_get(orig->notes, "userbulk-trace") : NULL;
    if (call->req.trace_id == NULL) {
        call->req.trace_id = new_trace_id(r);
    }
    call->req.log = log_to_request;
    call->req.log_baton = call;
    apr_table_setn(r->err_headers_out, "X-Trace-Id", call->req.trace_id);

    if (status == HTTP_UNAUTHORIZED || status == HTTP_FORBIDDEN) {
        ub_problem_auth(&problem, status);
    }
    else if (orig == NULL) {
        ub_problem_set(&problem, HTTP_NOT_FOUND, "not_found",
                       "no such resource", "This path only serves error bodies.");
    }
    else {
        ub_problem_set(&problem, status, "http_error",
                       ub_status_phrase(status), "The server refused the request.");
    }
    {
        ub_server_conf *sc = ap_get_module_config(r->server->module_config, &userbulk_module);
        ub_outcome o = { 0 };

        o.status = status;
        if (sc->counters != NULL) {
            ub_counters_count(sc->counters, UB_CTR_ERROR_BODY, &o);
        }
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "UB0101 %s answered %d for %s [trace %s]",
                  call->ep == UB_EP_ACCOUNT_UPDATE ? "the account API" : "the users API",
                  status, orig ? orig->uri : r->uri,
                  call->req.trace_id);
    return refuse(call, &problem);
}

static int ub_handler(request_rec *r)
{
    if (r->handler == NULL) {
        return DECLINED;
    }
    if (strcmp(r->handler, UB_HANDLER_PUT_USERS) == 0) {
        return serve(r, UB_EP_PUT_USERS);
    }
    if (strcmp(r->handler, UB_HANDLER_ACCOUNT_UPDATE) == 0) {
        return serve(r, UB_EP_ACCOUNT_UPDATE);
    }
    if (strcmp(r->handler, UB_HANDLER_ERROR) == 0) {
        return serve_error(r);
    }
    return DECLINED;
}

/* mod_status: the counters in /server-status, and as "Key: value" lines
 * in its ?auto form. */
static int ub_status(request_rec *r, int flags)
{
    ub_server_conf *sc = ap_get_module_config(r->server->module_config, &userbulk_module);
    ub_counters *c = sc->counters;
    char last[sizeof(c->last_error)];
    apr_time_t last_time;
    int ep, st;

    if (c == NULL) {
        return OK;
    }
    last_time = ub_counters_last_error(c, last, sizeof(last));
    if (flags & AP_STATUS_SHORT) {
        for (ep = 0; ep < UB_CTR_ENDPOINTS; ep++) {
            for (st = 0; st < UB_CTR_STATUSES; st++) {
                ap_rprintf(r, "UserBulk %s %s: %" APR_UINT64_T_FMT "\n",
                           ub_ctr_endpoint_names[ep],
                           ub_ctr_statuses[st] ? apr_itoa(r->pool, ub_ctr_statuses[st]) : "other",
                           apr_atomic_read64(&c->requests[ep][st]));
            }
        }
        ap_rprintf(r, "UserBulk RecordsApplied: %" APR_UINT64_T_FMT "\n"
                      "UserBulk RecordsFailed: %" APR_UINT64_T_FMT "\n"
                      "UserBulk DBCalls: %" APR_UINT64_T_FMT "\n"
                      "UserBulk DBMilliseconds: %" APR_UINT64_T_FMT "\n"
                      "UserBulk LastError: %s\n"
                      "UserBulk LastErrorTime: %s\n",
                   apr_atomic_read64(&c->records_applied),
                   apr_atomic_read64(&c->records_failed),
                   apr_atomic_read64(&c->db_calls),
                   apr_atomic_read64(&c->db_usec) / 1000,
                   last, last_time ? ap_ht_time(r->pool, last_time, "%Y-%m-%dT%H:%M:%SZ", 1) : "");
        return OK;
    }
    ap_rputs("<hr />\n<h2>mod_userbulk</h2>\n<table border=\"1\"><tr><th>endpoint</th>", r);
    for (st = 0; st < UB_CTR_STATUSES; st++) {
        ap_rprintf(r, "<th>%s</th>", ub_ctr_statuses[st] ? apr_itoa(r->pool, ub_ctr_statuses[st]) : "other");
    }
    ap_rputs("</tr>\n", r);
    for (ep = 0; ep < UB_CTR_ENDPOINTS; ep++) {
        ap_rprintf(r, "<tr><td>%s</td>", ub_ctr_endpoint_names[ep]);
        for (st = 0; st < UB_CTR_STATUSES; st++) {
            ap_rprintf(r, "<td>%" APR_UINT64_T_FMT "</td>", apr_atomic_read64(&c->requests[ep][st]));
        }
        ap_rputs("</tr>\n", r);
    }
    ap_rprintf(r, "</table>\n<dl><dt>records applied</dt><dd>%" APR_UINT64_T_FMT "</dd>"
                  "<dt>records failed</dt><dd>%" APR_UINT64_T_FMT "</dd>"
                  "<dt>database statements</dt><dd>%" APR_UINT64_T_FMT "</dd>"
                  "<dt>database time</dt><dd>%" APR_UINT64_T_FMT " ms</dd>"
                  "<dt>last error</dt><dd>%s %s</dd></dl>\n",
               apr_atomic_read64(&c->records_applied), apr_atomic_read64(&c->records_failed),
               apr_atomic_read64(&c->db_calls), apr_atomic_read64(&c->db_usec) / 1000,
               last_time ? ap_ht_time(r->pool, last_time, "%Y-%m-%dT%H:%M:%SZ", 1) : "",
               ap_escape_html(r->pool, last));
    return OK;
}

/* One block of shared memory for the counters, made before the children
 * fork (and anew at each restart, with the configuration's pool); each
 * server keeps mod_dbd's acquire function and the counters: no
 * module-level state. */
static int ub_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *s)
{
    APR_OPTIONAL_FN_TYPE(ap_dbd_acquire) *acquire =
        APR_RETRIEVE_OPTIONAL_FN(ap_dbd_acquire);
    ub_counters *counters = NULL;
    apr_shm_t *shm;
    apr_status_t rv = apr_shm_create(&shm, sizeof(ub_counters), NULL, pconf);

    if (rv == APR_SUCCESS) {
        counters = apr_shm_baseaddr_get(shm);
        memset(counters, 0, sizeof(*counters));
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s,
                     "UB0009 no shared memory for the counters; /server-status "
                     "will not show them");
    }
    for (; s != NULL; s = s->next) {
        ub_server_conf *sc = ap_get_module_config(s->module_config, &userbulk_module);
        sc->dbd_acquire = acquire;
        sc->counters = counters;
    }
    return OK;
}

static void register_hooks(apr_pool_t *p)
{
    ap_hook_post_config(ub_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(ub_handler, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ap, status_hook, ub_status, NULL, NULL, APR_HOOK_MIDDLE);
}

module AP_MODULE_DECLARE_DATA userbulk_module = {
    STANDARD20_MODULE_STUFF,
    create_dir_conf,
    merge_dir_conf,
    create_server_conf,
    NULL,
    ub_cmds,
    register_hooks,
    AP_MODULE_FLAG_NONE
};
