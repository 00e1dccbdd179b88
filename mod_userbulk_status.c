/*
 * mod_userbulk_status.c: the module's part of mod_status's /server-status:
 * the shared counters as an HTML table, and as "Key: value" lines in its
 * ?auto form.
 */
#include <apr_atomic.h>
#include <apr_strings.h>
#include <http_protocol.h>
#include <mod_status.h>

#include "mod_userbulk.h"

int ub_status_hook(request_rec *r, int flags)
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

