/*
 * test_render.c: src/render.c, the response bodies.
 */
#include <string.h>
#include <apr_strings.h>
#include "unit.h"
#include "render.h"
#include "batch.h"

#define USER_ID "6f1c2a7e-1b4d-4c8e-9a0f-3d2b1c0e9f8a"

static ub_put_batch *parse_batch(const char *body_q)
{
    ub_request req = ut_request(UB_DEFAULT_MAX_RECORDS);
    ub_problem p = { 0 };
    const char *body = ut_q(body_q);
    ub_put_batch *b = ub_put_batch_parse(&req, body, strlen(body), &p);

    ck_assert_msg(b != NULL, "batch refused: %s: %s", p.code, p.message);
    return b;
}

/* What the store does to a record it applied. */
static void applied(ub_put_batch *b, int i, const char *user_id, long long version)
{
    ub_put_record *rec = &((ub_put_record *)b->records->elts)[i];

    ck_assert_int_eq(rec->errors->nelts, 0);
    rec->user_id = user_id;
    rec->version = version;
}

static json_t *put_results(const ub_put_batch *b, int want_status)
{
    apr_bucket_brigade *bb = ut_brigade();
    int status = 0;

    ck_assert_int_eq(ub_render_put_results(bb, b, &status), APR_SUCCESS);
    ck_assert_int_eq(status, want_status);
    return ut_parse(ut_flatten(bb));
}

static json_t *put_problem(const ub_problem *p)
{
    apr_bucket_brigade *bb = ut_brigade();

    ck_assert_int_eq(ub_render_put_problem(bb, p), APR_SUCCESS);
    return ut_parse(ut_flatten(bb));
}

static json_t *envelope(const ub_envelope *e)
{
    apr_bucket_brigade *bb = ut_brigade();

    ck_assert_int_eq(ub_render_envelope(bb, e), APR_SUCCESS);
    return ut_parse(ut_flatten(bb));
}

static json_t *envelope_problem(const ub_problem *p, const char *trace_id)
{
    apr_bucket_brigade *bb = ut_brigade();

    ck_assert_int_eq(ub_render_envelope_problem(bb, p, trace_id), APR_SUCCESS);
    return ut_parse(ut_flatten(bb));
}

/* ---- PUT /users results ---------------------------------------------- */

START_TEST(put_results_200_when_one_record_applied)
{
    ub_put_batch *b = parse_batch("[{'userName':'alice','email':'alice@example.com'},"
                                  "{'userName':'bob','email':'bob'}]");

    applied(b, 0, USER_ID, 2);
    put_results(b, 200);
}
END_TEST

START_TEST(put_results_400_when_no_record_applied)
{
    ub_put_batch *b = parse_batch("[{'userName':'alice','email':'alice'},"
                                  "{'userName':'bob','email':'bob'}]");

    put_results(b, 400);
}
END_TEST

START_TEST(put_results_count_processed_succeeded_failed)
{
    ub_put_batch *b = parse_batch("[{'userName':'alice','email':'alice@example.com'},"
                                  "{'userName':'bob','email':'bob'},"
                                  "{'userName':'carol','email':'carol'}]");
    json_t *doc;

    applied(b, 0, USER_ID, 2);
    doc = put_results(b, 200);
    ut_assert_json_int(doc, "totalProcessed", 3);
    ut_assert_json_int(doc, "successCount", 1);
    ut_assert_json_int(doc, "failureCount", 2);
    ut_assert_json_size(doc, "successResults", 1);
    ut_assert_json_size(doc, "failedResults", 2);
}
END_TEST

START_TEST(put_results_400_still_counts_and_lists_failures)
{
    json_t *doc = put_results(parse_batch("[{'userName':'alice','email':'alice'}]"), 400);

    ut_assert_json_int(doc, "totalProcessed", 1);
    ut_assert_json_int(doc, "successCount", 0);
    ut_assert_json_int(doc, "failureCount", 1);
    ut_assert_json_size(doc, "successResults", 0);
    ut_assert_json_size(doc, "failedResults", 1);
}
END_TEST

START_TEST(put_results_keep_request_order)
{
    ub_put_batch *b = parse_batch("[{'userName':'u0','email':'u0@example.com'},"
                                  "{'userName':'u1','email':'bad'},"
                                  "{'userName':'u2','email':'u2@example.com'},"
                                  "{'userName':'u3','email':'bad'},"
                                  "{'userName':'u4','email':'bad'}]");
    json_t *doc;

    applied(b, 0, USER_ID, 1);
    applied(b, 2, USER_ID, 1);
    doc = put_results(b, 200);
    ut_assert_json_int(doc, "successResults[0].index", 0);
    ut_assert_json_str(doc, "successResults[0].userName", "u0");
    ut_assert_json_int(doc, "successResults[1].index", 2);
    ut_assert_json_str(doc, "successResults[1].userName", "u2");
    ut_assert_json_int(doc, "failedResults[0].index", 1);
    ut_assert_json_str(doc, "failedResults[0].userName", "u1");
    ut_assert_json_int(doc, "failedResults[1].index", 3);
    ut_assert_json_int(doc, "failedResults[2].index", 4);
}
END_TEST

START_TEST(put_results_success_names_user_and_id)
{
    ub_put_batch *b = parse_batch("{'userName':'alice','email':'alice@example.com'}");
    json_t *doc;

    applied(b, 0, USER_ID, 7);
    doc = put_results(b, 200);
    ut_assert_json_int(doc, "successResults[0].index", 0);
    ut_assert_json_str(doc, "successResults[0].userName", "alice");
    ut_assert_json_str(doc, "successResults[0].userId", USER_ID);
}
END_TEST

START_TEST(put_results_failure_lists_every_error)
{
    json_t *doc = put_results(parse_batch(
        "{'userName':'alice','email':'nope','name':{'firstName':1},'password':'x'}"), 400);

    ut_assert_json_int(doc, "failedResults[0].index", 0);
    ut_assert_json_str(doc, "failedResults[0].userName", "alice");
    ut_assert_json_size(doc, "failedResults[0].errors", 3);
    ut_assert_json_str(doc, "failedResults[0].errors[0].field", "email");
    ut_assert_json_str(doc, "failedResults[0].errors[0].code", "invalid_format");
    ck_assert_ptr_nonnull(json_string_value(ut_at(doc, "failedResults[0].errors[0].message")));
    ut_assert_json_str(doc, "failedResults[0].errors[1].field", "password");
    ut_assert_json_str(doc, "failedResults[0].errors[1].code", "read_only");
    ut_assert_json_str(doc, "failedResults[0].errors[2].field", "name.firstName");
    ut_assert_json_str(doc, "failedResults[0].errors[2].code", "invalid_type");
}
END_TEST

START_TEST(put_results_failure_without_user_name_has_null_user_name)
{
    json_t *doc = put_results(parse_batch("[{'email':'alice@example.com'},7]"), 400);

    ut_assert_json_null(doc, "failedResults[0].userName");
    ut_assert_json_null(doc, "failedResults[1].userName");
    ut_assert_json_int(doc, "failedResults[1].index", 1);
}
END_TEST

START_TEST(put_results_escape_what_the_client_sent)
{
    ub_put_batch *b = parse_batch("[{'userName':'a\\'b\\\\c\\u0001','email':'x@example.com'},"
                                  "{'userName':'d','email':'x','x\\'y':1}]");
    json_t *doc;

    applied(b, 0, USER_ID, 1);
    doc = put_results(b, 200);
    ut_assert_json_str(doc, "successResults[0].userName", "a\"b\\c\x01");
    ut_assert_json_str(doc, "failedResults[0].errors[1].field", "x\"y");
}
END_TEST

/* ---- PUT /users refusals --------------------------------------------- */

START_TEST(put_problem_has_code_message_description)
{
    ub_problem p = { 415, "unsupported_media_type", "send \"json\"", "Set Content-Type.", NULL, NULL };
    json_t *doc = put_problem(&p);

    ut_assert_json_str(doc, "code", "unsupported_media_type");
    ut_assert_json_str(doc, "message", "send \"json\"");
    ut_assert_json_str(doc, "description", "Set Content-Type.");
}
END_TEST

START_TEST(put_problem_400_carries_zero_counters)
{
    ub_problem p = { 400, "empty_batch", "no records", "Send 1 or more.", NULL, NULL };
    json_t *doc = put_problem(&p);

    ut_assert_json_str(doc, "code", "empty_batch");
    ut_assert_json_int(doc, "totalProcessed", 0);
    ut_assert_json_int(doc, "successCount", 0);
    ut_assert_json_int(doc, "failureCount", 0);
    ut_assert_json_size(doc, "successResults", 0);
    ut_assert_json_size(doc, "failedResults", 0);
}
END_TEST

START_TEST(put_problem_other_statuses_carry_no_counters)
{
    static const int statuses[] = { 401, 403, 413, 415, 503 };
    int i;

    for (i = 0; i < 5; i++) {
        ub_problem p = { statuses[i], "c", "m", "d", NULL, NULL };
        json_t *doc = put_problem(&p);

        ut_assert_json_size(doc, "", 3);
        ut_assert_json_absent(doc, "totalProcessed");
        ut_assert_json_absent(doc, "failedResults");
    }
}
END_TEST

/* The parser's words quote the body; the answer stays valid UTF-8 JSON
 * whatever the body held. */
START_TEST(put_problem_for_refused_body_is_valid_json)
{
    static const char *const bodies[] = {
        "[\xe6\x97\xa5]", "[1,\x01]", "[\"\xff\"]", "[\"a\x01\"]",
        "{\"\xc3\xa9\":1,\"\xc3\xa9\":2}", "[tru\xc3\xa9]",
    };
    int i;

    for (i = 0; i < (int)(sizeof(bodies) / sizeof(bodies[0])); i++) {
        ub_request req = ut_request(UB_DEFAULT_MAX_RECORDS);
        ub_problem p = { 0 };
        json_t *doc;

        ck_assert_ptr_null(ub_put_batch_parse(&req, bodies[i], strlen(bodies[i]), &p));
        doc = put_problem(&p);
        ut_assert_json_str(doc, "code", "invalid_json");
        ut_assert_json_str(doc, "message", p.message);
    }
}
END_TEST

/* ---- the envelope of the POST API -------------------------------------- */

START_TEST(envelope_success_fields)
{
    ub_envelope e = { 200, "[{\"userId\":\"" USER_ID "\"}]", "1 users updated", NULL,
                      NULL, "trace-42" };
    json_t *doc = envelope(&e);

    ut_assert_json_size(doc, "", 8);
    ut_assert_json_str(doc, "data[0].userId", USER_ID);
    ut_assert_json_str(doc, "message", "1 users updated");
    ut_assert_json_bool(doc, "isError", 0);
    ut_assert_json_int(doc, "messageCode", 200);
    ut_assert_json_str(doc, "status", "OK");
    ut_assert_json_null(doc, "errorType");
    ut_assert_json_str(doc, "traceid", "trace-42");
    ut_assert_json_null(doc, "responseDescription");
}
END_TEST

START_TEST(envelope_error_fields)
{
    ub_envelope e = { 400, NULL, "bad", "ValidationError", "fix it", "trace-43" };
    json_t *doc = envelope(&e);

    ut_assert_json_null(doc, "data");
    ut_assert_json_bool(doc, "isError", 1);
    ut_assert_json_int(doc, "messageCode", 400);
    ut_assert_json_str(doc, "status", "Bad Request");
    ut_assert_json_str(doc, "errorType", "ValidationError");
    ut_assert_json_str(doc, "traceid", "trace-43");
    ut_assert_json_str(doc, "responseDescription", "fix it");
}
END_TEST

START_TEST(envelope_is_error_from_400_up)
{
    ub_envelope e = { 399, NULL, NULL, NULL, NULL, NULL };

    ut_assert_json_bool(envelope(&e), "isError", 0);
    e.status = 503;
    ut_assert_json_bool(envelope(&e), "isError", 1);
    ut_assert_json_str(envelope(&e), "status", "Service Unavailable");
}
END_TEST

START_TEST(envelope_problem_error_type_from_status)
{
    static const struct { int status; const char *type; } map[] = {
        { 400, "ValidationError" }, { 401, "Unauthorized" }, { 403, "Forbidden" },
        { 404, "NotFound" }, { 409, "Conflict" }, { 413, "ValidationError" },
        { 415, "ValidationError" }, { 503, "Unavailable" },
    };
    int i;

    for (i = 0; i < (int)(sizeof(map) / sizeof(map[0])); i++) {
        ub_problem p = { map[i].status, "c", "m", "d", NULL, NULL };
        json_t *doc = envelope_problem(&p, "trace-44");

        ut_assert_json_str(doc, "errorType", map[i].type);
        ut_assert_json_int(doc, "messageCode", map[i].status);
        ut_assert_json_str(doc, "status", ub_status_phrase(map[i].status));
    }
}
END_TEST

START_TEST(envelope_problem_keeps_given_error_type)
{
    ub_problem p = { 400, "unknown_role", "no role", "Nothing was changed.", "NotFound", NULL };

    ut_assert_json_str(envelope_problem(&p, "t"), "errorType", "NotFound");
}
END_TEST

START_TEST(envelope_problem_fields)
{
    ub_problem p = { 400, "invalid_request", "userId: bad", "Nothing was changed.", NULL, NULL };
    json_t *doc = envelope_problem(&p, "trace-45");

    ut_assert_json_null(doc, "data");
    ut_assert_json_str(doc, "message", "userId: bad");
    ut_assert_json_bool(doc, "isError", 1);
    ut_assert_json_str(doc, "traceid", "trace-45");
    ut_assert_json_str(doc, "responseDescription", "Nothing was changed.");
}
END_TEST

START_TEST(status_phrases)
{
    ck_assert_str_eq(ub_status_phrase(200), "OK");
    ck_assert_str_eq(ub_status_phrase(400), "Bad Request");
    ck_assert_str_eq(ub_status_phrase(401), "Unauthorized");
    ck_assert_str_eq(ub_status_phrase(403), "Forbidden");
    ck_assert_str_eq(ub_status_phrase(404), "Not Found");
    ck_assert_str_eq(ub_status_phrase(405), "Method Not Allowed");
    ck_assert_str_eq(ub_status_phrase(413), "Payload Too Large");
    ck_assert_str_eq(ub_status_phrase(415), "Unsupported Media Type");
    ck_assert_str_eq(ub_status_phrase(503), "Service Unavailable");
    ck_assert_str_eq(ub_status_phrase(418), "Client Error");
    ck_assert_str_eq(ub_status_phrase(502), "Server Error");
}
END_TEST

Suite *render_suite(void)
{
    Suite *s = suite_create("render");
    TCase *tc;

    tc = ut_tcase("put_results");
    tcase_add_test(tc, put_results_200_when_one_record_applied);
    tcase_add_test(tc, put_results_400_when_no_record_applied);
    tcase_add_test(tc, put_results_count_processed_succeeded_failed);
    tcase_add_test(tc, put_results_400_still_counts_and_lists_failures);
    tcase_add_test(tc, put_results_keep_request_order);
    tcase_add_test(tc, put_results_success_names_user_and_id);
    tcase_add_test(tc, put_results_failure_lists_every_error);
    tcase_add_test(tc, put_results_failure_without_user_name_has_null_user_name);
    tcase_add_test(tc, put_results_escape_what_the_client_sent);
    suite_add_tcase(s, tc);

    tc = ut_tcase("put_problem");
    tcase_add_test(tc, put_problem_has_code_message_description);
    tcase_add_test(tc, put_problem_400_carries_zero_counters);
    tcase_add_test(tc, put_problem_other_statuses_carry_no_counters);
    tcase_add_test(tc, put_problem_for_refused_body_is_valid_json);
    suite_add_tcase(s, tc);

    tc = ut_tcase("envelope");
    tcase_add_test(tc, envelope_success_fields);
    tcase_add_test(tc, envelope_error_fields);
    tcase_add_test(tc, envelope_is_error_from_400_up);
    tcase_add_test(tc, envelope_problem_error_type_from_status);
    tcase_add_test(tc, envelope_problem_keeps_given_error_type);
    tcase_add_test(tc, envelope_problem_fields);
    tcase_add_test(tc, status_phrases);
    suite_add_tcase(s, tc);

    return s;
}
