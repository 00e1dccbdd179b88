/*
 * unit.c: helpers of the unit tests (see unit.h).
 */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "unit.h"
#include "json.h"

apr_pool_t *ut_pool;

static void pool_setup(void)
{
    ck_assert_int_eq(apr_pool_create(&ut_pool, NULL), APR_SUCCESS);
}

static void pool_teardown(void)
{
    apr_pool_destroy(ut_pool);
    ut_pool = NULL;
}

TCase *ut_tcase(const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, pool_setup, pool_teardown);
    return tc;
}

ub_request ut_request(int max_records)
{
    ub_request req;

    memset(&req, 0, sizeof(req));
    req.pool = ut_pool;
    req.trace_id = "trace-0001";
    req.account = "acme";
    req.actor = "alice";
    req.max_records = max_records;
    return req;
}

apr_bucket_brigade *ut_brigade(void)
{
    apr_bucket_alloc_t *ba = apr_bucket_alloc_create(ut_pool);

    return apr_brigade_create(ut_pool, ba);
}

const char *ut_flatten(apr_bucket_brigade *bb)
{
    char *text;
    apr_size_t len;

    ck_assert_int_eq(apr_brigade_pflatten(bb, &text, &len, ut_pool), APR_SUCCESS);
    return apr_pstrmemdup(ut_pool, text, len);
}

const char *ut_q(const char *s)
{
    char *out = apr_pstrdup(ut_pool, s), *p;

    for (p = out; *p; p++) {
        if (*p == '\'') {
            *p = '"';
        }
    }
    return out;
}

const char *ut_repeat(const char *s, int n)
{
    apr_size_t len = strlen(s);
    char *out = apr_palloc(ut_pool, len * (apr_size_t)n + 1);
    int i;

    for (i = 0; i < n; i++) {
        memcpy(out + len * (apr_size_t)i, s, len);
    }
    out[len * (apr_size_t)n] = '\0';
    return out;
}

const char *ut_zeros(const char *prefix, apr_size_t len, const char *suffix,
                     apr_size_t *out_len)
{
    apr_size_t pre = strlen(prefix), suf = strlen(suffix), o = pre;
    char *out = apr_palloc(ut_pool, len + 1);

    ck_assert_uint_gt(len, pre + suf + 1);
    memcpy(out, prefix, pre);
    while (o + 2 + 1 + suf <= len) {
        out[o++] = '0';
        out[o++] = ',';
    }
    out[o++] = '0';
    memcpy(out + o, suffix, suf);
    o += suf;
    out[o] = '\0';
    *out_len = o;
    return out;
}

apr_pool_t *ut_private_pool(void)
{
    apr_allocator_t *allocator;
    apr_pool_t *pool;

    ck_assert_int_eq(apr_allocator_create(&allocator), APR_SUCCESS);
    ck_assert_int_eq(apr_pool_create_ex(&pool, ut_pool, NULL, allocator), APR_SUCCESS);
    apr_allocator_owner_set(allocator, pool);
    return pool;
}

static apr_size_t status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    apr_size_t kb = 0, n = strlen(field);
    int found = 0;

    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, field, n) == 0) {
            kb = (apr_size_t)strtoul(line + n, NULL, 10);
            found = 1;
        }
    }
    fclose(f);
    ck_assert_msg(found, "no %s in /proc/self/status", field);
    return kb;
}

void ut_peak_reset(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");

    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(fputs("5", f), 0);     /* 5: reset the peak RSS */
    ck_assert_int_eq(fclose(f), 0);
}

apr_size_t ut_peak_bytes(void)
{
    return status_kb("VmHWM:") * 1024;
}

apr_size_t ut_rss_bytes(void)
{
    return status_kb("VmRSS:") * 1024;
}

const char *ut_email(int total)
{
    /* 64 + "@" + 63 + "." + 63 + "." + n + ".com" */
    int n = total - 64 - 1 - 64 - 64 - 4;

    ck_assert_msg(n >= 1 && n <= 63, "no address of %d characters", total);
    return apr_pstrcat(ut_pool, ut_repeat("a", 64), "@", ut_repeat("b", 63), ".",
                       ut_repeat("c", 63), ".", ut_repeat("d", n), ".com", NULL);
}

json_t *ut_parse(const char *text)
{
    json_error_t err;
    json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);

    ck_assert_msg(doc != NULL, "not JSON (%s at column %d): %s", err.text,
                  err.column, text);
    return ub_json_own(ut_pool, doc);
}

json_t *ut_at(json_t *doc, const char *path)
{
    const char *p = path;

    while (doc != NULL && *p) {
        if (*p == '[') {
            char *end;
            unsigned long i = strtoul(p + 1, &end, 10);

            if (*end != ']' || !json_is_array(doc)) {
                return NULL;
            }
            doc = json_array_get(doc, i);
            p = end + 1;
        }
        else {
            apr_size_t n = strcspn(p, ".[");

            if (!json_is_object(doc)) {
                return NULL;
            }
            doc = json_object_get(doc, apr_pstrmemdup(ut_pool, p, n));
            p += n;
        }
        if (*p == '.') {
            p++;
        }
    }
    return doc;
}

int ut_count_errors(const apr_array_header_t *errors, const char *field,
                    const char *code)
{
    const ub_field_error *e = (const ub_field_error *)errors->elts;
    int i, n = 0;

    for (i = 0; i < errors->nelts; i++) {
        n += (field == NULL || (e[i].field && strcmp(e[i].field, field) == 0))
             && (code == NULL || (e[i].code && strcmp(e[i].code, code) == 0));
    }
    return n;
}

const char *ut_errors_str(const apr_array_header_t *errors)
{
    const ub_field_error *e = (const ub_field_error *)errors->elts;
    const char *s = "";
    int i;

    for (i = 0; i < errors->nelts; i++) {
        s = apr_pstrcat(ut_pool, s, i ? ", " : "", e[i].field, ":", e[i].code, NULL);
    }
    return s;
}
