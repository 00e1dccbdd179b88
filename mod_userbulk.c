/*
 * mod_userbulk.c: httpd glue of mod_userbulk: the hooks and the handler.
 * The handler fills the core's request description from httpd, hands it to
 * the core's pipeline (src/pipeline.c) and sends what the core answers;
 * the directives are in mod_userbulk_config.c, the mod_status part in
 * mod_userbulk_status.c.
 */
#include <apr_strings.h>
#include <apr_optional.h>
#include <apr_shm.h>
#include <http_protocol.h>
#include <http_request.h>
#include <mod_status.h>

#include "mod_userbulk.h"
#include "userbulk.h"
#include "pipeline.h"
#include "counters.h"

/* ---- per request ------------------------------------------------------- */

typedef struct {
    request_rec *r;
    ub_server_conf *sc;
    ub_request req;
    ub_db db;
} ub_call;

static const int log_levels[] = { APLOG_ERR, APLOG_WARNING, APLOG_INFO, APLOG_DEBUG };

/* The core's log lines, with the core's file and line; errors also go to
 * the shared LastError of /server-status. */
static void log_to_request(void *baton, const char *file, int line,
                           ub_log_level level, apr_status_t rv, const char *msg)
{
    ub_call *call = baton;

    ap_log_rerror_(file, line, APLOG_MODULE_INDEX, log_levels[level], rv, call->r,
                   "%s [trace %s]", msg, call->req.trace_id);
    if (level == UB_LOG_ERR && call->sc->counters != NULL) {
        ub_counters_set_error(call->sc->counters, apr_time_now(),
                              apr_psprintf(call->r->pool, "%s [trace %s]",
                                           msg, call->req.trace_id));
    }
}

/* The most detailed level LogLevel lets this request's lines through, so
 * that the core does not format the others. */
static ub_log_level core_log_level(const request_rec *r)
{
    int l;

    for (l = UB_LOG_DEBUG; l > UB_LOG_ERR; l--) {
        if (APLOG_R_MODULE_IS_LEVEL(r, APLOG_MODULE_INDEX, log_levels[l])) {
            break;
        }
    }
    return (ub_log_level)l;
}

static const char *new_trace_id(request_rec *r)
{
    unsigned char raw[16];
    char *hex = apr_palloc(r->pool, sizeof(raw) * 2 + 1);

    ap_random_insecure_bytes(raw, sizeof(raw));
    ap_bin2hex(raw, sizeof(raw), hex);
    return hex;
}

static ub_db *acquire_db(void *baton)
{
    ub_call *call = baton;
    ap_dbd_t *dbd;

    if (call->sc->dbd_acquire == NULL) {
        ub_logf(&call->req, UB_LOG_ERR, APR_EGENERAL, "UB0004 mod_dbd is not loaded");
        return NULL;
    }
    dbd = call->sc->dbd_acquire(call->r);
    if (dbd == NULL) {
        ub_logf(&call->req, UB_LOG_ERR, APR_EGENERAL,
                "UB0200 no database connection (see the DBD lines above)");
        return NULL;
    }
    call->db.driver = dbd->driver;
    call->db.handle = dbd->handle;
    call->db.conn_pool = dbd->pool;
    call->db.prepared = dbd->prepared;
    return &call->db;
}

/* The core's body reader. */
static int read_body(void *baton, apr_off_t limit, const char **buf,
                     apr_size_t *len, ub_problem *problem)
{
    ub_call *call = baton;

    return ub_read_request_body(call->r, &call->req, limit, buf, len, problem);
}

/* The request's one log line, the note for LogFormat's %{userbulk}n, and
 * the shared counters. */
static void log_outcome(ub_call *call, const ub_http_out *out)
{
    request_rec *r = call->r;
    const ub_outcome *o = &out->outcome;

    if (out->endpoint_key != NULL) {
        apr_time_t ms = (apr_time_now() - r->request_time) / 1000;
        const char *summary = apr_psprintf(r->pool,
            "trace=%s endpoint=%s account=%s status=%d records=%d applied=%d "
            "failed=%d db_ms=%" APR_TIME_T_FMT " ms=%" APR_TIME_T_FMT,
            call->req.trace_id, out->endpoint_key, call->req.account, o->status,
            o->processed, o->applied, o->failed, (apr_time_t)(o->db_usec / 1000), ms);

        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "UB0100 %s", summary);
        apr_table_setn(r->notes, "userbulk", summary);
    }
    if (call->sc->counters != NULL) {
        ub_counters_count(call->sc->counters, out->counter, o);
    }
}

/* r->allowed from the Allow header the core answered. */
static void set_allowed(request_rec *r, const char *allow)
{
    char *list = apr_pstrdup(r->pool, allow), *last = NULL, *m;

    r->allowed = 0;
    for (m = apr_strtok(list, ", ", &last); m; m = apr_strtok(NULL, ", ", &last)) {
        r->allowed |= AP_METHOD_BIT << ap_method_number_of(m);
    }
}

static int serve(request_rec *r, ub_handler handler)
{
    ub_call *call = apr_pcalloc(r->pool, sizeof(*call));
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    ub_db_source dbs = { acquire_db, call };
    ub_http_in in;
    ub_http_out out;
    const char *allow;
    apr_off_t len = 0;
    apr_status_t rv;

    call->r = r;
    call->sc = ap_get_module_config(r->server->module_config, &userbulk_module);
    call->req.pool = r->pool;
    /* An error document for our own handler's 500 keeps the trace id the
     * 500's log lines carry; only errors before it (auth, httpd) get a new
     * one. */
    if (handler == UB_HANDLER_ERRORS && r->prev != NULL) {
        call->req.trace_id = apr_table_get(r->prev->notes, "userbulk-trace");
    }
    if (call->req.trace_id == NULL) {
        call->req.trace_id = new_trace_id(r);
    }
    call->req.log = log_to_request;
    call->req.log_baton = call;
    call->req.log_level = core_log_level(r);
    apr_table_setn(r->err_headers_out, "X-Trace-Id", call->req.trace_id);
    apr_table_setn(r->notes, "userbulk-trace", call->req.trace_id);

    ub_describe_request(r, &call->req, handler, read_body, call, &in);
    rv = ub_serve(&call->req, &in, &dbs, bb, &out);
    if (out.counted) {
        log_outcome(call, &out);
    }
    apr_table_overlap(r->err_headers_out, out.headers, APR_OVERLAP_TABLES_SET);
    if ((allow = apr_table_get(out.headers, "Allow")) != NULL) {
        set_allowed(r, allow);
    }
    if (out.close_connection) {
        r->connection->keepalive = AP_CONN_CLOSE;
    }
    if (rv != APR_SUCCESS || !out.rendered) {
        return out.status ? out.status : HTTP_INTERNAL_SERVER_ERROR;
    }
    r->status = out.status;
    ap_set_content_type(r, out.content_type);
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

static int userbulk_handler(request_rec *r)
{
    if (r->handler == NULL) {
        return DECLINED;
    }
    if (strcmp(r->handler, UB_HANDLER_PUT_USERS) == 0) {
        return serve(r, UB_HANDLER_USERS);
    }
    if (strcmp(r->handler, UB_HANDLER_ACCOUNT_UPDATE) == 0) {
        return serve(r, UB_HANDLER_ACCOUNT);
    }
    if (strcmp(r->handler, UB_HANDLER_SCIM_NAME) == 0) {
        return serve(r, UB_HANDLER_SCIM);
    }
    if (strcmp(r->handler, UB_HANDLER_ERROR) == 0) {
        return serve(r, UB_HANDLER_ERRORS);
    }
    return DECLINED;
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
    ap_hook_handler(userbulk_handler, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ap, status_hook, ub_status_hook, NULL, NULL, APR_HOOK_MIDDLE);
}

module AP_MODULE_DECLARE_DATA userbulk_module = {
    STANDARD20_MODULE_STUFF,
    ub_create_dir_conf,
    ub_merge_dir_conf,
    ub_create_server_conf,
    NULL,
    ub_cmds,
    register_hooks,
    AP_MODULE_FLAG_NONE
};
