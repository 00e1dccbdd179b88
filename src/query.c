/*
 * query.c: see query.h.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "query.h"
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

int ub_query_last(apr_pool_t *pool, const char *args, const char *name,
                  const char **value, ub_problem *problem)
{
    apr_array_header_t *v = ub_query_values(pool, args, name, problem);

    *value = NULL;
    if (v == NULL) {
        return -1;
    }
    if (v->nelts > 0) {
        *value = APR_ARRAY_IDX(v, v->nelts - 1, const char *);
    }
    return 0;
}

int ub_query_boolean(apr_pool_t *pool, const char *args, const char *name,
                         ub_problem *problem)
{
    const char *last;

    if (ub_query_last(pool, args, name, &last, problem) != 0) {
        return -1;
    }
    if (last == NULL) {
        return 0;
    }
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
