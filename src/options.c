/*
 * options.c: query strings and the headers the API reads.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "options.h"
#include "errors.h"

static int hex_value(char c)
{
    return apr_isdigit(c) ? c - '0' : apr_tolower(c) - 'a' + 10;
}

/* Decodes one query component (%XX, '+' as space). NULL when malformed
 * or when it would hold a NUL. */
static char *decode(apr_pool_t *pool, const char *s, apr_size_t n)
{
    char *out = apr_palloc(pool, n + 1), *o = out;
    apr_size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] == '+') {
            *o++ = ' ';
        }
        else if (s[i] == '%') {
            int v;
            if (i + 2 >= n || !apr_isxdigit(s[i + 1]) || !apr_isxdigit(s[i + 2])) {
                return NULL;
            }
            v = hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]);
            if (v == 0) {
                return NULL;
            }
            *o++ = (char)v;
            i += 2;
        }
        else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

apr_array_header_t *ub_query_values(apr_pool_t *pool, const char *args,
                                    const char *name, ub_problem *problem)
{
    apr_array_header_t *values = apr_array_make(pool, 4, sizeof(const char *));
    const char *p = args ? args : "";

    while (*p) {
        const char *end = strchr(p, '&');
        const char *eq;
        char *key, *value;

        if (end == NULL) {
            end = p + strlen(p);
        }
        eq = memchr(p, '=', (apr_size_t)(end - p));
        key = decode(pool, p, (apr_size_t)((eq ? eq : end) - p));
        value = eq ? decode(pool, eq + 1, (apr_size_t)(end - eq - 1)) : apr_pstrdup(pool, "");
        if (key == NULL || value == NULL) {
            ub_problem_set(problem, 400, "invalid_query",
                           "the query string is not well formed",
                           "Percent-encode parameter names and values.");
            return NULL;
        }
        if (strcmp(key, name) == 0) {
            *(const char **)apr_array_push(values) = value;
        }
        p = *end ? end + 1 : end;
    }
    return values;
}

/* The last value of a boolean parameter: 1, 0, or -1 when malformed. */
static int boolean_param(apr_pool_t *pool, const char *args, const char *name,
                         ub_problem *problem)
{
    apr_array_header_t *v = ub_query_values(pool, args, name, problem);
    const char *last;

    if (v == NULL) {
        return -1;
    }
    if (v->nelts == 0) {
        return 0;
    }
    last = APR_ARRAY_IDX(v, v->nelts - 1, const char *);
    if (strcmp(last, "true") == 0 || strcmp(last, "1") == 0) {
        return 1;
    }
    if (strcmp(last, "false") == 0 || strcmp(last, "0") == 0) {
        return 0;
    }
    ub_problem_set(problem, 400, "invalid_query",
                   apr_psprintf(pool, "%s must be true or false", name),
                   "Use ?atomic=true or ?dryRun=true.");
    return -1;
}

/* Whether a Prefer header (RFC 7240) holds the preference tx=rollback. */
static int prefers_rollback(const char *prefer)
{
    const char *p = prefer;

    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ',' || *p == ';') {
            p++;
        }
        if (strncasecmp(p, "tx=rollback", 11) == 0
            && (p[11] == '\0' || p[11] == ',' || p[11] == ';' || p[11] == ' ')) {
            return 1;
        }
        while (*p && *p != ',' && *p != ';') {
            p++;
        }
    }
    return 0;
}

int ub_read_put_options(ub_request *req, const char *args, const char *prefer,
                        int *rollback_preferred, ub_problem *problem)
{
    int atomic = boolean_param(req->pool, args, "atomic", problem);
    int dry_run = atomic < 0 ? -1 : boolean_param(req->pool, args, "dryRun", problem);

    if (atomic < 0 || dry_run < 0) {
        return problem->status;
    }
    *rollback_preferred = prefers_rollback(prefer);
    req->atomic = atomic;
    req->dry_run = dry_run || *rollback_preferred;
    return 0;
}

const char *ub_if_match_version(apr_pool_t *pool, const char *if_match)
{
    const char *p = if_match;
    const char *start;
    apr_size_t n;

    if (p == NULL) {
        return NULL;
    }
    while (apr_isspace(*p)) {
        p++;
    }
    if (strncmp(p, "W/", 2) == 0) {
        p += 2;
    }
    if (*p == '"') {
        p++;
    }
    start = p;
    while (apr_isdigit(*p)) {
        p++;
    }
    n = (apr_size_t)(p - start);
    if (*p == '"') {
        p++;
    }
    while (apr_isspace(*p)) {
        p++;
    }
    if (n == 0 || n > 18 || *p != '\0') {
        return NULL;
    }
    return apr_pstrndup(pool, start, n);
}

int ub_read_idempotency_key(const char *header, const char **key,
                            ub_problem *problem)
{
    const char *p;

    *key = NULL;
    if (header == NULL) {
        return 0;
    }
    for (p = header; *p; p++) {
        if (*p < 0x21 || *p > 0x7e) {
            break;
        }
    }
    if (*p != '\0' || p == header || p - header > 255) {
        ub_problem_set(problem, 400, "invalid_idempotency_key",
                       "Idempotency-Key must be 1 to 255 visible ASCII characters",
                       "Send a unique key per request, e.g. a UUID.");
        return problem->status;
    }
    *key = header;
    return 0;
}
