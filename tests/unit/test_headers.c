/*
 * test_headers.c: src/headers.c, Prefer, Idempotency-Key and If-Match
 * (Prefer's effect on a PUT is in test_put_users.c).
 */
#include <string.h>
#include "unit.h"
#include "headers.h"

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

Suite *headers_suite(void)
{
    Suite *s = suite_create("headers");
    TCase *tc = ut_tcase("headers");

    tcase_add_test(tc, if_match_takes_one_version);
    tcase_add_test(tc, idempotency_key_is_visible_ascii_up_to_255);
    suite_add_tcase(s, tc);
    return s;
}
