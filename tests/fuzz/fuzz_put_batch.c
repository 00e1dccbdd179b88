/*
 * fuzz_put_batch.c: libFuzzer target over the request side of PUT /users:
 * ub_put_batch_parse (JSON, types, formats, lengths, read-only fields,
 * repeated userNames), ub_put_batch_store_input (what would go to SQL) and
 * ub_render_put_results / ub_render_put_problem (the answer).
 *
 *   make fuzz                      builds and runs it (FUZZ_SECONDS each)
 *   .build/fuzz/fuzz_put_batch -dict=tests/fuzz/put_batch.dict DIR...
 *
 * Invariants checked on every input, besides ASan and UBSan:
 * - a refused request has a 400 with a code, a message and a description,
 *   and renders as one JSON object;
 * - the store's input (one PostgreSQL array per column) reads back as
 *   exactly the records without errors, each with its index, a userName
 *   and an email within their column lengths;
 * - the results render as one JSON object whose counters add up and whose
 *   results keep the request's order; 200 exactly when a record applied.
 */
#include "fuzz_common.h"
#include "batch.h"
#include "../unit/store_rows.h"
#include "render.h"
#include "errors.h"
#include "validate.h"

static void check_store_input(const ub_put_batch *batch,
                              const ub_put_store_input *input)
{
    const ub_put_record *recs = (const ub_put_record *)batch->records->elts;
    /* the columns, read back as PostgreSQL would, one object per record */
    json_t *rows = ub_test_store_rows(input);
    int i, valid = 0, last = -1, count = input->count;
    size_t k;
    json_t *row;

    FUZZ_CHECK(json_is_array(rows));
    for (i = 0; i < batch->records->nelts; i++) {
        valid += recs[i].errors->nelts == 0;
    }
    FUZZ_CHECK((int)json_array_size(rows) == count && count == valid);
    json_array_foreach(rows, k, row) {
        json_t *idx = json_object_get(row, "idx");
        const char *name = json_string_value(json_object_get(row, "user_name"));
        const char *email = json_string_value(json_object_get(row, "email"));

        FUZZ_CHECK(json_is_integer(idx));
        FUZZ_CHECK(json_integer_value(idx) > last);
        last = (int)json_integer_value(idx);
        FUZZ_CHECK(last < batch->records->nelts && recs[last].errors->nelts == 0);
        FUZZ_CHECK(name != NULL && *name != '\0' && ub_utf8_chars(name) <= UB_LEN_USER_NAME);
        FUZZ_CHECK(email != NULL && ub_check_email(email) == NULL);
        FUZZ_CHECK(json_is_array(json_object_get(row, "roles")));
        FUZZ_CHECK(json_is_boolean(json_object_get(row, "locked_out")));
    }
    json_decref(rows);
}

static void check_results(apr_bucket_brigade *bb, apr_pool_t *pool,
                          const ub_put_batch *batch, int status)
{
    json_t *doc = fuzz_body_json(bb, pool);
    json_t *ok = json_object_get(doc, "successResults");
    json_t *failed = json_object_get(doc, "failedResults");
    json_int_t total = json_integer_value(json_object_get(doc, "totalProcessed"));
    json_int_t nok = json_integer_value(json_object_get(doc, "successCount"));
    json_int_t nfailed = json_integer_value(json_object_get(doc, "failureCount"));
    json_int_t prev = -1;
    size_t i;
    json_t *r;

    FUZZ_CHECK(json_is_array(ok) && json_is_array(failed));
    FUZZ_CHECK(total == batch->records->nelts && nok + nfailed == total);
    FUZZ_CHECK((json_int_t)json_array_size(ok) == nok);
    FUZZ_CHECK((json_int_t)json_array_size(failed) == nfailed);
    FUZZ_CHECK(status == (nok > 0 ? 200 : 400));
    json_array_foreach(failed, i, r) {
        json_int_t index = json_integer_value(json_object_get(r, "index"));
        json_t *errors = json_object_get(r, "errors");
        FUZZ_CHECK(index > prev);
        prev = index;
        FUZZ_CHECK(json_is_array(errors) && json_array_size(errors) > 0);
    }
    json_decref(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pool;
    ub_request req;
    ub_problem problem;
    ub_put_batch *batch;
    apr_bucket_brigade *bb;

    fuzz_init();
    FUZZ_CHECK(apr_pool_create(&pool, fuzz_root) == APR_SUCCESS);
    req = fuzz_request(pool);
    memset(&problem, 0, sizeof(problem));
    bb = apr_brigade_create(pool, apr_bucket_alloc_create(pool));

    batch = ub_put_batch_parse(&req, (const char *)data, size, &problem);
    if (batch == NULL) {
        json_t *doc;
        fuzz_check_problem(&problem);
        FUZZ_CHECK(problem.status == 400);
        FUZZ_CHECK(ub_render_problem(UB_EP_PUT_USERS, bb, &problem, req.trace_id) == APR_SUCCESS);
        doc = fuzz_body_json(bb, pool);
        FUZZ_CHECK(json_is_string(json_object_get(doc, "code"))
                   && strcmp(json_string_value(json_object_get(doc, "code")), problem.code) == 0);
        json_decref(doc);
    }
    else {
        ub_put_record *recs = (ub_put_record *)batch->records->elts;
        int i, status = 0;
        ub_put_store_input input;

        ub_put_batch_store_input(pool, batch, &input);
        FUZZ_CHECK(batch->records->nelts >= 1 && batch->records->nelts <= FUZZ_MAX_RECORDS);
        check_store_input(batch, &input);
        /* What the store would answer: every valid record applied, or,
         * for every third one, refused as the directory does. */
        for (i = 0; i < batch->records->nelts; i++) {
            if (recs[i].errors->nelts == 0) {
                if (i % 3 == 2) {
                    ub_record_fail(pool, &recs[i], "userName", "not_found",
                                   "no user with this userName in the account");
                }
                else {
                    recs[i].user_id = "20000000-0000-4000-8000-000000000001";
                    recs[i].version = 2;
                }
            }
        }
        FUZZ_CHECK(ub_render_put_results(bb, batch, &status) == APR_SUCCESS);
        check_results(bb, pool, batch, status);
    }
    apr_pool_destroy(pool);
    return 0;
}
