/*
 * test_revert.c: src/revert.c, reading a revert's path and options.
 */
#include "unit.h"
#include "revert.h"

START_TEST(revert_split_uri_finds_the_id)
{
    const char *path = NULL, *id = NULL;

    ck_assert_int_eq(ub_revert_split_uri(ut_pool, "/users/requests/42/revert", &path, &id), 1);
    ck_assert_str_eq(path, "/requests/42/revert");
    ck_assert_str_eq(id, "42");
    ck_assert_int_eq(ub_revert_split_uri(ut_pool, "/api/x/users/requests/ab12-cd/revert", &path, &id), 1);
    ck_assert_str_eq(id, "ab12-cd");
    ck_assert_int_eq(ub_revert_split_uri(ut_pool, "/requests/7/revert", &path, &id), 1);
    ck_assert_str_eq(path, "/requests/7/revert");
}
END_TEST

START_TEST(revert_split_uri_refuses_other_forms)
{
    const char *path = NULL, *id = NULL;

    ck_assert_int_eq(ub_revert_split_uri(ut_pool, "/users", &path, &id), 0);
    ck_assert_int_eq(ub_revert_split_uri(ut_pool, "/users/requests//revert", &path, &id), 0);
    ck_assert_int_eq(ub_revert_split_uri(ut_pool, "/users/requests/1/2/revert", &path, &id), 0);
    ck_assert_int_eq(ub_revert_split_uri(ut_pool, "/users/request/1/revert", &path, &id), 0);
    ck_assert_int_eq(ub_revert_split_uri(ut_pool, "/users/xrequests/1/revert", &path, &id), 0);
    ck_assert_int_eq(ub_revert_split_uri(ut_pool, "/users/requests/1/revert/", &path, &id), 0);
    ck_assert_int_eq(ub_revert_split_uri(ut_pool, "/users/requests/1/reverts", &path, &id), 0);
    ck_assert_int_eq(ub_revert_split_uri(ut_pool, "/revert", &path, &id), 0);
}
END_TEST

START_TEST(revert_ids)
{
    ck_assert_int_eq(ub_revert_id_valid("1"), 1);
    ck_assert_int_eq(ub_revert_id_valid("123456789012345678"), 1);
    ck_assert_int_eq(ub_revert_id_valid("1234567890123456789"), 0);     /* past a bigint */
    ck_assert_int_eq(ub_revert_id_valid("5025ddcc27b0a61a1dcbaa6fb3fb10db"), 1);
    ck_assert_int_eq(ub_revert_id_valid("trace_1.a-B"), 1);
    ck_assert_int_eq(ub_revert_id_valid(""), 0);
    ck_assert_int_eq(ub_revert_id_valid("a b"), 0);
    ck_assert_int_eq(ub_revert_id_valid("a'b"), 0);
    ck_assert_int_eq(ub_revert_id_valid("é"), 0);
}
END_TEST

START_TEST(revert_options)
{
    ub_request req = { 0 };
    ub_problem p = { 0 };
    int rollback = 0;

    req.pool = ut_pool;
    ck_assert_int_eq(ub_read_revert_options(&req, "atomic=true&force=1&diff=true", NULL, &rollback, &p), 0);
    ck_assert_int_eq(req.atomic, 1);
    ck_assert_int_eq(req.force, 1);
    ck_assert_int_eq(req.diff, 1);
    ck_assert_int_eq(req.dry_run, 0);
    ck_assert_int_eq(ub_read_revert_options(&req, NULL, "return=minimal, tx=rollback", &rollback, &p), 0);
    ck_assert_int_eq(rollback, 1);
    ck_assert_int_eq(req.dry_run, 1);
    ck_assert_int_eq(req.atomic + req.force + req.diff, 0);
    ck_assert_int_eq(ub_read_revert_options(&req, "dryRun=true", NULL, &rollback, &p), 0);
    ck_assert_int_eq(req.dry_run, 1);
    ck_assert_int_eq(ub_read_revert_options(&req, "force=yes", NULL, &rollback, &p), 400);
    ck_assert_str_eq(p.code, "invalid_query");
}
END_TEST

Suite *revert_suite(void)
{
    Suite *s = suite_create("revert");
    TCase *tc = ut_tcase("revert");

    tcase_add_test(tc, revert_split_uri_finds_the_id);
    tcase_add_test(tc, revert_split_uri_refuses_other_forms);
    tcase_add_test(tc, revert_ids);
    tcase_add_test(tc, revert_options);
    suite_add_tcase(s, tc);
    return s;
}
