/*
 * mod_userbulk_request.c: the adapter that describes an httpd request to
 * the core (src/pipeline.h's ub_http_in): the headers the core reads, and
 * the directives' values evaluated for this request.
 */
#include <string.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>

#include "mod_userbulk.h"

/* Evaluates a string expression; "" when unset or on failure (logged). */
static const char *eval(request_rec *r, const ub_request *req, ap_expr_info_t *expr,
                        const char *what)
{
    const char *err = NULL;
    const char *v;

    if (expr == NULL) {
        return "";
    }
    v = ap_expr_str_exec(r, expr, &err);
    if (err != NULL) {
        ub_logf(req, UB_LOG_ERR, APR_EGENERAL,
                "UB0003 evaluating %s failed: %s", what, err);
        return "";
    }
    return v ? v : "";
}

void ub_describe_request(request_rec *r, const ub_request *req, ub_handler handler,
                         ub_read_body_fn *read_body, void *body_baton, ub_http_in *in)
{
    const ub_dir_conf *conf = ap_get_module_config(r->per_dir_config, &userbulk_module);

    memset(in, 0, sizeof(*in));
    in->handler = handler;
    in->method = r->method;
    in->uri = r->uri;
    in->args = r->args;
    in->content_type = apr_table_get(r->headers_in, "Content-Type");
    in->accept = apr_table_get(r->headers_in, "Accept");
    in->prefer = apr_table_get(r->headers_in, "Prefer");
    in->idempotency_key = apr_table_get(r->headers_in, "Idempotency-Key");
    in->if_match = apr_table_get(r->headers_in, "If-Match");
    in->request_time = r->request_time;
    in->read_back = conf->read_back;
    in->change_feed = conf->change_feed;
    in->revert = conf->revert;
    in->diff = conf->diff;
    in->max_records = ub_conf_max_records(conf);
    in->max_body = ub_conf_max_body(conf);
    in->retry_after = ub_conf_retry_after(conf);
    in->read_body = read_body;
    in->body_baton = body_baton;
    if (handler == UB_HANDLER_ERRORS) {
        const char *tail = strrchr(r->uri, '/');
        in->error_status = r->prev ? r->prev->status : 0;
        in->error_for_account_api = tail && strcmp(tail, "/account-update") == 0;
        in->error_for_scim = tail && strcmp(tail, "/scim") == 0;
        in->uri = r->prev ? r->prev->uri : r->uri;
        return;
    }
    if (handler == UB_HANDLER_SCIM) {
        in->origin = ap_construct_url(r->pool, "", r);
    }
    if (conf->not_before != NULL) {
        in->not_before = eval(r, req, conf->not_before, "UserBulkNotBefore");
    }
    in->account_set = conf->account != NULL;
    in->account = eval(r, req, conf->account, "UserBulkAccount");
    in->actor = conf->actor ? eval(r, req, conf->actor, "UserBulkActor")
                            : (r->user ? r->user : "");
}

