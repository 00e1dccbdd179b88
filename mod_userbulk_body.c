/*
 * mod_userbulk_body.c: reading a request body for the core, whole and
 * refused past the limit, in a loop as ap_parse_form_data reads one.
 */
#include <apr_strings.h>
#include <httpd.h>
#include <http_protocol.h>

#include "mod_userbulk.h"
#include "errors.h"

/* The first buffer of a body whose length is not declared (chunked). */
#define FIRST_CHUNK (64 * 1024)

/* One buffer the body is copied into as it arrives: as large as the
 * declared length, so that a body is held once, not once in buckets and
 * again flattened; a body of undeclared length grows it by doubling. */
typedef struct {
    char *data;
    apr_size_t len, cap;
} body_buf;

static void append(apr_pool_t *pool, body_buf *b, const char *data, apr_size_t n)
{
    if (b->len + n > b->cap) {
        apr_size_t cap = b->cap ? b->cap : FIRST_CHUNK;
        char *grown;

        while (cap < b->len + n) {
            cap *= 2;
        }
        grown = apr_palloc(pool, cap + 1);
        if (b->len > 0) {
            memcpy(grown, b->data, b->len);
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
}

int ub_read_request_body(request_rec *r, const ub_request *req, apr_off_t limit,
                         const char **buf, apr_size_t *len, ub_problem *problem)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_bucket_brigade *in = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    body_buf b = { NULL, 0, 0 };
    apr_off_t declared;
    int seen_eos = 0;

    if (cl != NULL && apr_strtoff(&declared, cl, NULL, 10) == APR_SUCCESS && declared >= 0) {
        if (declared > limit) {
            ub_problem_too_large(r->pool, problem, limit);
            return problem->status;
        }
        b.cap = (apr_size_t)declared;
        b.data = apr_palloc(r->pool, b.cap + 1);
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
        for (e = APR_BRIGADE_FIRST(in); e != APR_BRIGADE_SENTINEL(in);
             e = APR_BUCKET_NEXT(e)) {
            const char *data;
            apr_size_t n;

            if (APR_BUCKET_IS_EOS(e)) {
                seen_eos = 1;
                break;
            }
            if (APR_BUCKET_IS_METADATA(e)) {
                continue;
            }
            if (apr_bucket_read(e, &data, &n, APR_BLOCK_READ) != APR_SUCCESS) {
                return HTTP_INTERNAL_SERVER_ERROR;
            }
            if ((apr_off_t)(b.len + n) > limit) {
                ub_problem_too_large(r->pool, problem, limit);
                return problem->status;
            }
            append(r->pool, &b, data, n);
        }
        apr_brigade_cleanup(in);
    }
    if (b.data == NULL) {
        b.data = apr_palloc(r->pool, 1);
    }
    b.data[b.len] = '\0';
    *buf = b.data;
    *len = b.len;
    return 0;
}
