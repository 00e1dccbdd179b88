/*
 * test_options.c: src/options.c, what a request asks for beyond its body.
 */
#include <string.h>
#include "unit.h"
#include "options.h"

static int read_options(const char *args, const char *prefer, ub_request *req,
                        int *rollback)
{
    ub_problem p = { 0 };

    *req = ut_request(1000);
    return ub_read_put_options(req, args, prefer, rollback, &p);
}

START_TEST(no_query_means_default_behaviour)
{
    ub_request req;
    int rollback;

    ck_assert_int_eq(read_options(NULL, NULL, &req, &rollback), 0);
    ck_assert_int_eq(req.atomic, 0);
    ck_assert_int_eq(req.dry_run, 0);
    ck_assert_int_eq(rollback, 0);
}
END_TEST

START_TEST(atomic_and_dry_run_read_as_booleans)
{
    ub_request req;
    int rollback;

    ck_assert_int_eq(read_options("atomic=true&dryRun=1", NULL, &req, &rollback), 0);
    ck_assert_int_eq(req.atomic, 1);
    ck_assert_int_eq(req.dry_run, 1);
    ck_assert_int_eq(read_options("atomic=false&dryRun=0&other=x", NULL, &req, &rollback), 0);
    ck_assert_int_eq(req.atomic, 0);
    ck_assert_int_eq(req.dry_run, 0);
}
END_TEST

START_TEST(a_malformed_boolean_is_a_400)
{
    ub_request req;
    int rollback;

    ck_assert_int_eq(read_options("atomic=yes", NULL, &req, &rollback), 400);
    ck_assert_int_eq(read_options("dryRun=", NULL, &req, &rollback), 400);
    ck_assert_int_eq(read_options("atomic=%zz", NULL, &req, &rollback), 400);
}
END_TEST

START_TEST(prefer_tx_rollback_is_a_dry_run)
{
    ub_request req;
    int rollback;

    ck_assert_int_eq(read_options(NULL, "return=minimal, tx=rollback", &req, &rollback), 0);
    ck_assert_int_eq(req.dry_run, 1);
    ck_assert_int_eq(rollback, 1);
    ck_assert_int_eq(read_options(NULL, "tx=commit", &req, &rollback), 0);
    ck_assert_int_eq(req.dry_run, 0);
    ck_assert_int_eq(read_options(NULL, "tx=rollbackX", &req, &rollback), 0);
    ck_assert_int_eq(rollback, 0);
}
END_TEST

START_TEST(query_values_are_decoded_in_order)
{
    ub_problem p = { 0 };
    apr_array_header_t *v = ub_query_values(ut_pool, "userName=a%2Eb&x=1&userName=c+d&userName=",
                                            "userName", &p);

    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(v->nelts, 3);
    ck_assert_str_eq(APR_ARRAY_IDX(v, 0, const char *), "a.b");
    ck_assert_str_eq(APR_ARRAY_IDX(v, 1, const char *), "c d");
    ck_assert_str_eq(APR_ARRAY_IDX(v, 2, const char *), "");
}
END_TEST

START_TEST(query_values_refuse_bad_escapes_and_nul)
{
    ub_problem p = { 0 };

    ck_assert_ptr_null(ub_query_values(ut_pool, "userName=%4", "userName", &p));
    ck_assert_int_eq(p.status, 400);
    ck_assert_ptr_null(ub_query_values(ut_pool, "userName=a%00b", "userName", &p));
}
END_TEST

START_TEST(if_match_takes_one_version)
{
    ck_assert_str_eq(ub_if_match_version(ut_pool, "\"7\""), "7");
    ck_assert_str_eq(ub_if_match_version(ut_pool, "W/\"12\""), "12");
    ck_assert_str_eq(ub_if_match_version(ut_pool, " 3 "), "3");
    ck_assert_ptr_null(ub_if_match_version(ut_pool, "*"));
    ck_assert_ptr_null(ub_if_match_version(ut_pool, "\"1\", \"2\""));
    ck_assert_ptr_null(ub_if_match_version(ut_pool, "\"abc\""));
    ck_assert_ptr_null(ub_if_match_version(ut_pool, NULL));
}
END_TEST

START_TEST(idempotency_key_is_visible_ascii_up_to_255)
{
    ub_problem p = { 0 };
    const char *key;
    char long_key[257];

    ck_assert_int_eq(ub_read_idempotency_key(NULL, &key, &p), 0);
    ck_assert_ptr_null(key);
    ck_assert_int_eq(ub_read_idempotency_key("sync-2026-11-23", &key, &p), 0);
    ck_assert_str_eq(key, "sync-2026-11-23");
    ck_assert_int_eq(ub_read_idempotency_key("", &key, &p), 400);
    ck_assert_int_eq(ub_read_idempotency_key("two words", &key, &p), 400);
    memset(long_key, 'k', 256);
    long_key[256] = '\0';
    ck_assert_int_eq(ub_read_idempotency_key(long_key, &key, &p), 400);
    long_key[255] = '\0';
    ck_assert_int_eq(ub_read_idempotency_key(long_key, &key, &p), 0);
}
END_TEST

Suite *options_suite(void)
{
    Suite *s = suite_create("options");
    TCase *tc = ut_tcase("put_options");

    tcase_add_test(tc, no_query_means_default_behaviour);
    tcase_add_test(tc, atomic_and_dry_run_read_as_booleans);
    tcase_add_test(tc, a_malformed_boolean_is_a_400);
    tcase_add_test(tc, prefer_tx_rollback_is_a_dry_run);
    suite_add_tcase(s, tc);

    tc = ut_tcase("query_and_headers");
    tcase_add_test(tc, query_values_are_decoded_in_order);
    tcase_add_test(tc, query_values_refuse_bad_escapes_and_nul);
    tcase_add_test(tc, if_match_takes_one_version);
    tcase_add_test(tc, idempotency_key_is_visible_ascii_up_to_255);
    suite_add_tcase(s, tc);
    return s;
}
