/*
 * fuzz_account_request.c: libFuzzer target over the request side of POST
 * /api/v1/account/users/update: ub_account_request_parse (targets, every
 * field's type, format and length, agreeing spellings, personal fields with
 * several targets), then the endpoint's whole flow (ub_account_update) with
 * a directory that is away, so that every answer short of the SQL is
 * rendered: the 400 envelope naming the refused fields, or the 503.
 *
 *   make fuzz                      builds and runs it (FUZZ_SECONDS each)
 *   .build/fuzz/fuzz_account_request -dict=tests/fuzz/account_request.dict DIR...
 *
 * Invariants, besides ASan and UBSan:
 * - a body that is not one JSON object is refused with a 400 problem;
 * - a parsed request's change is JSON whose targets are distinct lower-case
 *   UUIDs, as many as it counts, at most the record limit, at least one when
 *   nothing was refused;
 * - the flow answers 400 exactly when the request is refused, 503 (the
 *   directory is away) otherwise, always as one envelope.
 */
#include "fuzz_common.h"
#include "account_request.h"
#include "account_update.h"
#include "errors.h"
#include "json.h"
#include "validate.h"

static ub_db *no_database(void *baton)
{
    (void)baton;
    return NULL;
}

static void check_change(const ub_account_request *ar, apr_pool_t *pool)
{
    const char *dump = ub_json_dump(pool, ar->change);
    json_t *change = dump ? json_loads(dump, 0, NULL) : NULL;
    json_t *targets = json_object_get(change, "targets");
    size_t i, j;
    json_t *t;

    FUZZ_CHECK(json_is_object(change));
    FUZZ_CHECK(json_is_array(targets));
    FUZZ_CHECK((int)json_array_size(targets) == ar->targets);
    FUZZ_CHECK(ar->targets <= FUZZ_MAX_RECORDS);
    if (ar->errors->nelts == 0) {
        FUZZ_CHECK(ar->targets >= 1);
    }
    json_array_foreach(targets, i, t) {
        const char *id = json_string_value(t);
        const char *c;
        FUZZ_CHECK(id != NULL && ub_check_uuid(id) == NULL);
        if (id == NULL) {
            continue;
        }
        for (c = id; *c; c++) {
            FUZZ_CHECK(!(*c >= 'A' && *c <= 'F'));
        }
        for (j = 0; j < i; j++) {
            const char *other = json_string_value(json_array_get(targets, j));
            FUZZ_CHECK(other == NULL || strcmp(other, id) != 0);
        }
    }
    json_decref(change);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pool;
    ub_request req;
    ub_problem problem;
    ub_account_request *ar;
    apr_bucket_brigade *bb;
    ub_db_source dbs = { no_database, NULL };
    ub_outcome outcome;
    json_t *doc;
    int refused;

    fuzz_init();
    FUZZ_CHECK(apr_pool_create(&pool, fuzz_root) == APR_SUCCESS);
    req = fuzz_request(pool);
    memset(&problem, 0, sizeof(problem));
    memset(&outcome, 0, sizeof(outcome));
    bb = apr_brigade_create(pool, apr_bucket_alloc_create(pool));

    ar = ub_account_request_parse(&req, (const char *)data, size, &problem);
    if (ar == NULL) {
        fuzz_check_problem(&problem);
        FUZZ_CHECK(problem.status == 400);
        refused = 1;
    }
    else {
        int i;
        const ub_field_error *e = (const ub_field_error *)ar->errors->elts;
        for (i = 0; i < ar->errors->nelts; i++) {
            FUZZ_CHECK(e[i].field && e[i].code && *e[i].code && e[i].message);
        }
        check_change(ar, pool);
        refused = ar->errors->nelts > 0;
    }

    FUZZ_CHECK(ub_account_update(&req, &dbs, (const char *)data, size, bb, &outcome) == APR_SUCCESS);
    FUZZ_CHECK(outcome.status == (refused ? 400 : 503));
    doc = fuzz_body_json(bb, pool);
    FUZZ_CHECK(json_integer_value(json_object_get(doc, "messageCode")) == outcome.status);
    FUZZ_CHECK(json_is_true(json_object_get(doc, "isError")));
    FUZZ_CHECK(json_is_null(json_object_get(doc, "data")));
    FUZZ_CHECK(json_is_string(json_object_get(doc, "errorType")));
    FUZZ_CHECK(json_is_string(json_object_get(doc, "traceid"))
               && strcmp(json_string_value(json_object_get(doc, "traceid")), req.trace_id) == 0);
    json_decref(doc);
    apr_pool_destroy(pool);
    return 0;
}
