/*
 * test_errors.c: src/errors.c, the refusals every endpoint shares, and
 * src/log.c.
 */
#include <string.h>
#include "unit.h"
#include "errors.h"

static json_t *rendered(ub_endpoint ep, const ub_problem *p, const char *trace_id)
{
    apr_bucket_brigade *bb = ut_brigade();

    ck_assert_int_eq(ub_render_problem(ep, bb, p, trace_id), APR_SUCCESS);
    return ut_parse(ut_flatten(bb));
}

START_TEST(problem_set_fills_every_field)
{
    ub_problem p;

    memset(&p, 0xff, sizeof(p));            /* whatever was there before */
    ub_problem_set(&p, 409, "conflict", "m", "d");
    ck_assert_int_eq(p.status, 409);
    ck_assert_str_eq(p.code, "conflict");
    ck_assert_str_eq(p.message, "m");
    ck_assert_str_eq(p.description, "d");
    ck_assert_ptr_null(p.error_type);
}
END_TEST

START_TEST(method_problem_is_405_naming_allowed_methods)
{
    ub_problem p = { 0 };

    ub_problem_method(ut_pool, &p, "PUT");
    ck_assert_int_eq(p.status, 405);
    ck_assert_str_eq(p.code, "method_not_allowed");
    ck_assert_ptr_nonnull(strstr(p.message, "PUT"));
}
END_TEST

START_TEST(media_type_problem_is_415_naming_accepted_types)
{
    ub_problem p = { 0 };

    ub_problem_media_type(ut_pool, &p, "application/json");
    ck_assert_int_eq(p.status, 415);
    ck_assert_str_eq(p.code, "unsupported_media_type");
    ck_assert_ptr_nonnull(strstr(p.message, "application/json"));
}
END_TEST

START_TEST(too_large_problem_is_413_naming_limit)
{
    ub_problem p = { 0 };

    ub_problem_too_large(ut_pool, &p, UB_DEFAULT_MAX_BODY);
    ck_assert_int_eq(p.status, 413);
    ck_assert_str_eq(p.code, "body_too_large");
    ck_assert_ptr_nonnull(strstr(p.message, "8388608"));
}
END_TEST

START_TEST(unavailable_problem_is_503)
{
    ub_problem p = { 0 };

    ub_problem_unavailable(&p);
    ck_assert_int_eq(p.status, 503);
    ck_assert_str_eq(p.code, "unavailable");
    ck_assert_ptr_nonnull(p.message);
    ck_assert_ptr_nonnull(p.description);
}
END_TEST

START_TEST(no_account_problem_is_403)
{
    ub_problem p = { 0 };

    ub_problem_no_account(&p);
    ck_assert_int_eq(p.status, 403);
    ck_assert_str_eq(p.code, "no_account");
}
END_TEST

START_TEST(no_actor_problem_is_403)
{
    ub_problem p = { 0 };

    ub_problem_no_actor(&p);
    ck_assert_int_eq(p.status, 403);
    ck_assert_str_eq(p.code, "no_actor");
}
END_TEST

START_TEST(auth_problem_is_401_or_403)
{
    ub_problem p = { 0 };

    ub_problem_auth(&p, 401);
    ck_assert_int_eq(p.status, 401);
    ck_assert_str_eq(p.code, "unauthorized");
    ub_problem_auth(&p, 403);
    ck_assert_int_eq(p.status, 403);
    ck_assert_str_eq(p.code, "forbidden");
}
END_TEST

START_TEST(render_problem_put_users_in_seed_error_form)
{
    ub_problem p = { 0 };
    json_t *doc;

    ub_problem_auth(&p, 401);
    doc = rendered(UB_EP_PUT_USERS, &p, "trace-1");
    ut_assert_json_size(doc, "", 3);
    ut_assert_json_str(doc, "code", "unauthorized");
    ut_assert_json_str(doc, "message", p.message);
    ut_assert_json_str(doc, "description", p.description);
}
END_TEST

START_TEST(render_problem_account_update_in_envelope)
{
    ub_problem p = { 0 };
    json_t *doc;

    ub_problem_auth(&p, 403);
    doc = rendered(UB_EP_ACCOUNT_UPDATE, &p, "trace-2");
    ut_assert_json_null(doc, "data");
    ut_assert_json_bool(doc, "isError", 1);
    ut_assert_json_int(doc, "messageCode", 403);
    ut_assert_json_str(doc, "status", "Forbidden");
    ut_assert_json_str(doc, "errorType", "Forbidden");
    ut_assert_json_str(doc, "message", p.message);
    ut_assert_json_str(doc, "traceid", "trace-2");
}
END_TEST

/* ---- log -------------------------------------------------------------- */

typedef struct {
    int calls;
    const char *file;
    int line;
    ub_log_level level;
    apr_status_t rv;
    const char *msg;
} log_seen;

static void remember(void *baton, const char *file, int line, ub_log_level level,
                     apr_status_t rv, const char *msg)
{
    log_seen *seen = baton;

    seen->calls++;
    seen->file = file;
    seen->line = line;
    seen->level = level;
    seen->rv = rv;
    seen->msg = msg;
}

START_TEST(logf_formats_through_the_callback)
{
    ub_request req = ut_request(1);
    log_seen seen = { 0, NULL, 0, UB_LOG_DEBUG, 0, NULL };
    int line;

    req.log = remember;
    req.log_baton = &seen;
    line = __LINE__ + 1;
    ub_logf(&req, UB_LOG_ERR, APR_EGENERAL, "UB%04d %s", 7, "failed");
    ck_assert_int_eq(seen.calls, 1);
    ck_assert_int_eq(seen.level, UB_LOG_ERR);
    ck_assert_int_eq(seen.rv, APR_EGENERAL);
    ck_assert_str_eq(seen.msg, "UB0007 failed");
    ck_assert_str_eq(seen.file, __FILE__);
    ck_assert_int_eq(seen.line, line);
}
END_TEST

/* An argument that counts its evaluations: a message past the level the
 * glue writes must cost nothing, not even the formatting of its values. */
static int evaluations;
static const char *counted(const char *s)
{
    evaluations++;
    return s;
}

START_TEST(logf_skips_levels_the_glue_does_not_write)
{
    ub_request req = ut_request(1);
    log_seen seen = { 0, NULL, 0, UB_LOG_DEBUG, 0, NULL };

    req.log = remember;
    req.log_baton = &seen;
    req.log_level = UB_LOG_WARNING;
    ub_logf(&req, UB_LOG_INFO, 0, "UB0999 %s", counted("not written"));
    ub_logf(&req, UB_LOG_DEBUG, 0, "UB0999 %s", counted("not written"));
    ck_assert_int_eq(seen.calls, 0);
    ck_assert_int_eq(evaluations, 0);
    ub_logf(&req, UB_LOG_WARNING, 0, "UB0998 %s", "written");
    ck_assert_int_eq(seen.calls, 1);
    ck_assert_str_eq(seen.msg, "UB0998 written");
    req.log_level = UB_LOG_DEBUG;
    ub_logf(&req, UB_LOG_DEBUG, 0, "UB0997 %s", counted("debug"));
    ck_assert_int_eq(seen.calls, 2);
    ck_assert_int_eq(evaluations, 1);
}
END_TEST

START_TEST(logf_without_callback_does_nothing)
{
    ub_request req = ut_request(1);

    ub_logf(&req, UB_LOG_ERR, APR_SUCCESS, "%s", "dropped");
}
END_TEST

Suite *errors_suite(void)
{
    Suite *s = suite_create("errors");
    TCase *tc;

    tc = ut_tcase("problems");
    tcase_add_test(tc, problem_set_fills_every_field);
    tcase_add_test(tc, method_problem_is_405_naming_allowed_methods);
    tcase_add_test(tc, media_type_problem_is_415_naming_accepted_types);
    tcase_add_test(tc, too_large_problem_is_413_naming_limit);
    tcase_add_test(tc, unavailable_problem_is_503);
    tcase_add_test(tc, no_account_problem_is_403);
    tcase_add_test(tc, no_actor_problem_is_403);
    tcase_add_test(tc, auth_problem_is_401_or_403);
    tcase_add_test(tc, render_problem_put_users_in_seed_error_form);
    tcase_add_test(tc, render_problem_account_update_in_envelope);
    suite_add_tcase(s, tc);

    tc = ut_tcase("log");
    tcase_add_test(tc, logf_formats_through_the_callback);
    tcase_add_test(tc, logf_without_callback_does_nothing);
    tcase_add_test(tc, logf_skips_levels_the_glue_does_not_write);
    suite_add_tcase(s, tc);

    return s;
}
