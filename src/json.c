/*
 * json.c: jansson tied to pools, and the brigade JSON writer.
 */
#include <string.h>
#include <apr_strings.h>
#include "json.h"

static apr_status_t json_release(void *doc)
{
    json_decref((json_t *)doc);
    return APR_SUCCESS;
}

json_t *ub_json_own(apr_pool_t *pool, json_t *doc)
{
    if (doc != NULL) {
        apr_pool_cleanup_register(pool, doc, json_release,
                                  apr_pool_cleanup_null);
    }
    return doc;
}

const char *ub_json_dump(apr_pool_t *pool, const json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    char *copy;

    if (text == NULL) {
        return NULL;
    }
    copy = apr_pstrdup(pool, text);
    free(text);
    return copy;
}

/* ---- writer ---------------------------------------------------------- */

/* One copy of the chunk into a bucket of its size: 32 KB at a time, never
 * a bucket per write. (The chunk is reused; it goes at ub_jw_status.) */
static void flush_chunk(ub_jw *w)
{
    /* What is buffered was written before any failure: it goes out too. */
    if (w->used > 0) {
        apr_status_t rv = apr_brigade_write(w->bb, NULL, NULL, w->chunk, w->used);
        if (w->rv == APR_SUCCESS) {
            w->rv = rv;
        }
    }
    w->used = 0;
}

static void put_slow(ub_jw *w, const char *s, apr_size_t n)
{
    if (w->rv != APR_SUCCESS || n == 0) {
        return;
    }
    if (w->chunk != NULL && n > UB_JW_CHUNK - w->used) {
        flush_chunk(w);
    }
    if (n > UB_JW_CHUNK) {      /* a large piece goes as its own bucket */
        w->rv = apr_brigade_write(w->bb, NULL, NULL, s, n);
        return;
    }
    if (w->chunk == NULL) {
        w->chunk = apr_bucket_alloc(UB_JW_CHUNK, w->bb->bucket_alloc);
        if (w->chunk == NULL) {
            w->rv = APR_ENOMEM;
            return;
        }
    }
    memcpy(w->chunk + w->used, s, n);
    w->used += n;
}

/* The writer's every byte goes through here, most of them a few at a
 * time (a quote, a comma, a key): the piece that fits the chunk is
 * copied in line, the rest (first chunk, full chunk, failure) in
 * put_slow. */
static APR_INLINE void put(ub_jw *w, const char *s, apr_size_t n)
{
    if (w->chunk != NULL && w->rv == APR_SUCCESS && n <= UB_JW_CHUNK - w->used) {
        memcpy(w->chunk + w->used, s, n);
        w->used += n;
        return;
    }
    put_slow(w, s, n);
}

/* Called before every value and key: places the comma. */
static void before_item(ub_jw *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->depth > 0) {
        if (!w->first[w->depth - 1]) {
            put(w, ",", 1);
        }
        w->first[w->depth - 1] = 0;
    }
}

static void open_level(ub_jw *w, const char *bracket)
{
    before_item(w);
    if (w->depth >= UB_JW_MAX_DEPTH) {
        w->rv = APR_EINVAL;
        return;
    }
    put(w, bracket, 1);
    w->first[w->depth++] = 1;
}

static void close_level(ub_jw *w, const char *bracket)
{
    if (w->depth == 0) {
        w->rv = APR_EINVAL;
        return;
    }
    w->depth--;
    put(w, bracket, 1);
}

void ub_jw_init(ub_jw *w, apr_bucket_brigade *bb)
{
    memset(w, 0, sizeof(*w));
    w->bb = bb;
}

void ub_jw_object_begin(ub_jw *w) { open_level(w, "{"); }
void ub_jw_object_end(ub_jw *w)   { close_level(w, "}"); }
void ub_jw_array_begin(ub_jw *w)  { open_level(w, "["); }
void ub_jw_array_end(ub_jw *w)    { close_level(w, "]"); }

void ub_json_quote(const char *s, ub_json_sink *sink, void *out)
{
    static const char hex[] = "0123456789abcdef";
    const char *run = s;

    sink(out, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[7];
        apr_size_t n = 2;

        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        sink(out, run, (apr_size_t)(s - run));
        run = s + 1;
        esc[0] = '\\';
        switch (c) {
        case '"':  esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
            esc[4] = hex[c >> 4]; esc[5] = hex[c & 0xf];
            n = 6;
        }
        sink(out, esc, n);
    }
    sink(out, run, (apr_size_t)(s - run));
    sink(out, "\"", 1);
}

static void put_sink(void *w, const char *s, apr_size_t n)
{
    put((ub_jw *)w, s, n);
}

/* s as a JSON string, then tail (a ':' after a key, or nothing). Most
 * strings (every key, most values) need no escape: found by one scan,
 * they are copied whole with their quotes; the others go through
 * ub_json_quote. */
static void put_escaped(ub_jw *w, const char *s, char tail)
{
    const unsigned char *p = (const unsigned char *)s;
    apr_size_t n;

    while (*p >= 0x20 && *p != '"' && *p != '\\') {
        p++;
    }
    n = (apr_size_t)(p - (const unsigned char *)s);
    if (*p == '\0' && w->chunk != NULL && w->rv == APR_SUCCESS
        && n + 3 <= UB_JW_CHUNK - w->used) {
        char *d = w->chunk + w->used;

        d[0] = '"';
        memcpy(d + 1, s, n);
        d[n + 1] = '"';
        w->used += n + 2;
        if (tail) {
            d[n + 2] = tail;
            w->used++;
        }
        return;
    }
    ub_json_quote(s, put_sink, w);
    if (tail) {
        put(w, &tail, 1);
    }
}

void ub_jw_key(ub_jw *w, const char *key)
{
    before_item(w);
    put_escaped(w, key, ':');
    w->after_key = 1;
}

void ub_jw_string(ub_jw *w, const char *s)
{
    if (s == NULL) {
        ub_jw_null(w);
        return;
    }
    before_item(w);
    put_escaped(w, s, 0);
}

void ub_jw_int(ub_jw *w, long long v)
{
    char buf[24];
    char *p = buf + sizeof(buf);
    /* digits from the end, in unsigned arithmetic (LLONG_MIN has no
     * positive counterpart) */
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0) {
        *--p = '-';
    }
    before_item(w);
    put(w, p, (apr_size_t)(buf + sizeof(buf) - p));
}

void ub_jw_bool(ub_jw *w, int v)
{
    before_item(w);
    if (v) {
        put(w, "true", 4);
    }
    else {
        put(w, "false", 5);
    }
}

void ub_jw_null(ub_jw *w)
{
    before_item(w);
    put(w, "null", 4);
}

void ub_jw_raw(ub_jw *w, const char *json)
{
    before_item(w);
    put(w, json, strlen(json));
}

apr_status_t ub_jw_status(ub_jw *w)
{
    flush_chunk(w);
    if (w->chunk != NULL) {
        apr_bucket_free(w->chunk);
        w->chunk = NULL;
    }
    if (w->rv == APR_SUCCESS && (w->depth != 0 || w->after_key)) {
        return APR_EINVAL;
    }
    return w->rv;
}

void ub_jw_kv_string(ub_jw *w, const char *key, const char *s)
{
    ub_jw_key(w, key);
    ub_jw_string(w, s);
}

void ub_jw_kv_int(ub_jw *w, const char *key, long long v)
{
    ub_jw_key(w, key);
    ub_jw_int(w, v);
}

void ub_jw_kv_bool(ub_jw *w, const char *key, int v)
{
    ub_jw_key(w, key);
    ub_jw_bool(w, v);
}
