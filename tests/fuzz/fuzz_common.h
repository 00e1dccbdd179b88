/*
 * fuzz_common.h: what the libFuzzer targets of the core share. No httpd, no
 * database: the targets call src/ the way the glue does, with a fresh pool
 * per input, and check the invariants every answer must keep (a status the
 * API promises, a body that is JSON). A broken invariant aborts, which
 * libFuzzer reports as a crash with the input that caused it.
 */
#ifndef UB_FUZZ_COMMON_H
#define UB_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_buckets.h>
#include <jansson.h>
#include "userbulk.h"

/* The record limit of the targets: small, so that the fuzzer reaches the
 * "too many records" path with short inputs. */
#define FUZZ_MAX_RECORDS 16

/* The coverage build (make fuzz-coverage) runs every corpus input once to
 * measure which lines they reach: there a broken invariant is reported and
 * the run goes on. */
#ifdef FUZZ_COVERAGE_ONLY
#define FUZZ_FAIL() ((void)0)
#else
#define FUZZ_FAIL() abort()
#endif

#define FUZZ_CHECK(cond)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__,        \
                    __LINE__, #cond);                                         \
            FUZZ_FAIL();                                                      \
        }                                                                     \
    } while (0)

static apr_pool_t *fuzz_root;

static inline void fuzz_init(void)
{
    if (fuzz_root == NULL) {
        apr_initialize();
        FUZZ_CHECK(apr_pool_create(&fuzz_root, NULL) == APR_SUCCESS);
    }
}

static inline ub_request fuzz_request(apr_pool_t *pool)
{
    ub_request req;

    memset(&req, 0, sizeof(req));
    req.pool = pool;
    req.trace_id = "0123456789abcdef0123456789abcdef";
    req.account = "acme";
    req.actor = "fuzz";
    req.max_records = FUZZ_MAX_RECORDS;
    return req;
}

/* The brigade's content must be one JSON object; returns it (the caller
 * releases it). */
static inline json_t *fuzz_body_json(apr_bucket_brigade *bb, apr_pool_t *pool)
{
    char *text;
    apr_size_t len;
    json_error_t err;
    json_t *doc;

    FUZZ_CHECK(apr_brigade_pflatten(bb, &text, &len, pool) == APR_SUCCESS);
    doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (doc == NULL) {
        fprintf(stderr, "not JSON (%s at %d): %.*s\n", err.text, err.position,
                (int)(len > 2000 ? 2000 : len), text);
    }
    FUZZ_CHECK(json_is_object(doc));
    if (!json_is_object(doc)) {     /* only reached in the coverage build */
        json_decref(doc);
        doc = json_object();
    }
    return doc;
}

static inline void fuzz_check_problem(const ub_problem *p)
{
    FUZZ_CHECK(p->status == 400 || p->status == 413 || p->status == 415);
    FUZZ_CHECK(p->code != NULL && *p->code != '\0');
    FUZZ_CHECK(p->message != NULL && *p->message != '\0');
    FUZZ_CHECK(p->description != NULL);
}

#endif
