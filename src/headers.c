/*
 * headers.c: see headers.h.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "headers.h"
#include "errors.h"

int ub_prefers_rollback(const char *prefer)
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
