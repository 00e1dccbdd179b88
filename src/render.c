/*
 * render.c: results and errors as the seeds spell them.
 */
#include "render.h"
#include <apr_strings.h>
#include "json.h"

const char *ub_status_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 503: return "Service Unavailable";
    default:  return status < 500 ? "Client Error" : "Server Error";
    }
}

static void counters(ub_jw *w, int processed, int ok, int failed)
{
    ub_jw_kv_int(w, "totalProcessed", processed);
    ub_jw_kv_int(w, "successCount", ok);
    ub_jw_kv_int(w, "failureCount", failed);
}

apr_status_t ub_render_put_problem(apr_bucket_brigade *bb, const ub_problem *p)
{
    ub_jw w;

    ub_jw_init(&w, bb);
    ub_jw_object_begin(&w);
    ub_jw_kv_string(&w, "code", p->code);
    ub_jw_kv_string(&w, "message", p->message);
    ub_jw_kv_string(&w, "description", p->description);
    if (p->status == 400) {
        counters(&w, 0, 0, 0);
        ub_jw_key(&w, "successResults");
        ub_jw_raw(&w, "[]");
        ub_jw_key(&w, "failedResults");
        ub_jw_raw(&w, "[]");
    }
    ub_jw_object_end(&w);
    return ub_jw_status(&w);
}

void ub_jw_scim_problem(ub_jw *w, apr_pool_t *pool, const ub_problem *p)
{
    char status[16];

    apr_snprintf(status, sizeof(status), "%d", p->status);
    ub_jw_object_begin(w);
    ub_jw_key(w, "schemas");
    ub_jw_raw(w, "[\"urn:ietf:params:scim:api:messages:2.0:Error\"]");
    ub_jw_kv_string(w, "status", status);
    if (p->scim_type != NULL) {
        ub_jw_kv_string(w, "scimType", p->scim_type);
    }
    ub_jw_key(w, "detail");
    if (p->description != NULL) {
        /* one string: SCIM has no second field for what to do */
        ub_jw_string(w, apr_pstrcat(pool, p->message, ". ", p->description, NULL));
    }
    else {
        ub_jw_string(w, p->message);
    }
    ub_jw_object_end(w);
}

apr_status_t ub_render_scim_problem(apr_bucket_brigade *bb, const ub_problem *p)
{
    ub_jw w;

    ub_jw_init(&w, bb);
    ub_jw_scim_problem(&w, bb->p, p);
    return ub_jw_status(&w);
}

static void failed_record(ub_jw *w, const ub_put_record *rec)
{
    const ub_field_error *errs = (const ub_field_error *)rec->errors->elts;
    int i;

    ub_jw_object_begin(w);
    ub_jw_kv_int(w, "index", rec->index);
    ub_jw_kv_string(w, "userName", rec->user_name);
    ub_jw_key(w, "errors");
    ub_jw_array_begin(w);
    for (i = 0; i < rec->errors->nelts; i++) {
        ub_jw_object_begin(w);
        ub_jw_kv_string(w, "field", errs[i].field);
        ub_jw_kv_string(w, "code", errs[i].code);
        ub_jw_kv_string(w, "message", errs[i].message);
        ub_jw_object_end(w);
    }
    ub_jw_array_end(w);
    ub_jw_object_end(w);
}

void ub_render_changes(ub_jw *w, const char *before, const char *after)
{
    ub_jw_key(w, "changes");
    ub_jw_object_begin(w);
    ub_jw_key(w, "before");
    ub_jw_raw(w, before);
    ub_jw_key(w, "after");
    ub_jw_raw(w, after);
    ub_jw_object_end(w);
}

apr_status_t ub_render_put_results(apr_bucket_brigade *bb,
                                   const ub_put_batch *batch, int *status)
{
    const ub_put_record *recs = (const ub_put_record *)batch->records->elts;
    int n = batch->records->nelts, ok = 0, i;
    ub_jw w;

    for (i = 0; i < n; i++) {
        ok += recs[i].errors->nelts == 0;
    }
    *status = ok > 0 ? 200 : 400;

    ub_jw_init(&w, bb);
    ub_jw_object_begin(&w);
    counters(&w, n, ok, n - ok);
    ub_jw_key(&w, "successResults");
    ub_jw_array_begin(&w);
    for (i = 0; i < n; i++) {
        if (recs[i].errors->nelts == 0) {
            ub_jw_object_begin(&w);
            ub_jw_kv_int(&w, "index", recs[i].index);
            ub_jw_kv_string(&w, "userName", recs[i].user_name);
            ub_jw_kv_string(&w, "userId", recs[i].user_id);
            ub_jw_kv_int(&w, "version", recs[i].version);
            if (recs[i].changed_before != NULL) {
                ub_render_changes(&w, recs[i].changed_before, recs[i].changed_after);
            }
            ub_jw_object_end(&w);
        }
    }
    ub_jw_array_end(&w);
    ub_jw_key(&w, "failedResults");
    ub_jw_array_begin(&w);
    for (i = 0; i < n; i++) {
        if (recs[i].errors->nelts > 0) {
            failed_record(&w, &recs[i]);
        }
    }
    ub_jw_array_end(&w);
    ub_jw_object_end(&w);
    return ub_jw_status(&w);
}

apr_status_t ub_render_envelope(apr_bucket_brigade *bb, const ub_envelope *e)
{
    ub_jw w;

    ub_jw_init(&w, bb);
    ub_jw_object_begin(&w);
    ub_jw_key(&w, "data");
    if (e->data_json != NULL) {
        ub_jw_raw(&w, e->data_json);
    }
    else {
        ub_jw_null(&w);
    }
    ub_render_envelope_tail(&w, e);
    return ub_jw_status(&w);
}

void ub_render_envelope_tail(ub_jw *w, const ub_envelope *e)
{
    ub_jw_kv_string(w, "message", e->message);
    ub_jw_kv_bool(w, "isError", e->status >= 400);
    ub_jw_kv_int(w, "messageCode", e->status);
    ub_jw_kv_string(w, "status", ub_status_phrase(e->status));
    ub_jw_kv_string(w, "errorType", e->error_type);
    ub_jw_kv_string(w, "traceid", e->trace_id);
    ub_jw_kv_string(w, "responseDescription", e->description);
    ub_jw_object_end(w);
}


/* The stable errorType word of a status. */
static const char *error_type(int status)
{
    switch (status) {
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 409: return "Conflict";
    case 503: return "Unavailable";
    default:  return "ValidationError";
    }
}

apr_status_t ub_render_envelope_problem(apr_bucket_brigade *bb,
                                        const ub_problem *p,
                                        const char *trace_id)
{
    ub_envelope e;

    e.status = p->status;
    e.data_json = NULL;
    e.message = p->message;
    e.error_type = p->error_type ? p->error_type : error_type(p->status);
    e.description = p->description;
    e.trace_id = trace_id;
    return ub_render_envelope(bb, &e);
}
