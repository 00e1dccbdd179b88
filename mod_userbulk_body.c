/*
 * mod_userbulk_body.c: reading a request body for the core, whole and
 * refused past the limit, in a loop as ap_parse_form_data reads one.
 */
#include <apr_strings.h>
#include <httpd.h>
#include <http_protocol.h>

#include "mod_userbulk.h"
#include "errors.h"

int ub_read_request_body(request_rec *r, const ub_request *req, apr_off_t limit,
                         const char **buf, apr_size_t *len, ub_problem *problem)
{
    apr_off_t total = 0, declared;
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
            ub_logf(req, UB_LOG_INFO, rv,
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
    return 0;
}

