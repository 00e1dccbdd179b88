/*
 * json.h: jansson documents owned by APR pools, and a streaming JSON writer
 * that renders straight into an output brigade.
 */
#ifndef UB_JSON_H
#define UB_JSON_H

#include <jansson.h>
#include "userbulk.h"

/* The document is released when the pool is: no path can leak it. */
json_t *ub_json_own(apr_pool_t *pool, json_t *doc);

/* Serialises a document into pool memory. */
const char *ub_json_dump(apr_pool_t *pool, const json_t *doc);

/* The one JSON string escaper, for every writer of JSON text: s (valid
 * UTF-8) between quotes, with '"', '\\' and the control characters escaped
 * (\n \r \t as such, the others as \u00XX) and every other byte as it is.
 * The text goes to sink(out, ...) in runs: the writer below and
 * ub_tb_json_string (textbuf.h) are its two sinks. */
typedef void ub_json_sink(void *out, const char *s, apr_size_t n);
void ub_json_quote(const char *s, ub_json_sink *sink, void *out);

/* Streaming writer. Commas are placed by the writer; the caller only says
 * what comes next. Output is gathered in chunks of UB_JW_CHUNK bytes, each
 * one heap bucket: apr_brigade_write alone would make one bucket per write
 * once its buffer is full. Every call after a failure is a no-op, and the first
 * failure is what ub_jw_status returns. */
#define UB_JW_MAX_DEPTH 32

#define UB_JW_CHUNK (32 * 1024)

typedef struct {
    apr_bucket_brigade *bb;
    char *chunk;                 /* filled, then handed to a heap bucket */
    apr_size_t used;
    apr_status_t rv;
    int depth;
    int first[UB_JW_MAX_DEPTH];  /* nothing written yet at this level */
    int after_key;               /* a key was written, its value is next */
} ub_jw;

void ub_jw_init(ub_jw *w, apr_bucket_brigade *bb);
void ub_jw_object_begin(ub_jw *w);
void ub_jw_object_end(ub_jw *w);
void ub_jw_array_begin(ub_jw *w);
void ub_jw_array_end(ub_jw *w);
void ub_jw_key(ub_jw *w, const char *key);
void ub_jw_string(ub_jw *w, const char *s);       /* NULL writes null */
void ub_jw_int(ub_jw *w, long long v);
void ub_jw_bool(ub_jw *w, int v);
void ub_jw_null(ub_jw *w);
void ub_jw_raw(ub_jw *w, const char *json);       /* already valid JSON */
/* Hands what is buffered to the brigade and returns the first failure, or
 * APR_EINVAL when the document is not complete. Call it once at the end. */
apr_status_t ub_jw_status(ub_jw *w);

/* Shorthands for "key": value. */
void ub_jw_kv_string(ub_jw *w, const char *key, const char *s);
void ub_jw_kv_int(ub_jw *w, const char *key, long long v);
void ub_jw_kv_bool(ub_jw *w, const char *key, int v);

#endif
