/*
 * test_changes.c: src/changes.c, the change feed's cursors.
 */
#include "unit.h"
#include <apr_strings.h>
#include "changes.h"

#define U "7a000000-0000-4000-8000-000000000103"

START_TEST(cursor_round_trips)
{
    ub_changes_pos a = { 42, NULL }, b = { 7, U }, r = { 0, NULL };

    ck_assert_int_eq(ub_changes_cursor_parse(ut_pool, "acme",
                                             ub_changes_cursor(ut_pool, "acme", &a), &r), 0);
    ck_assert_int_eq((int)r.seq, 42);
    ck_assert_ptr_null(r.user);
    ck_assert_int_eq(ub_changes_cursor_parse(ut_pool, "acme",
                                             ub_changes_cursor(ut_pool, "acme", &b), &r), 0);
    ck_assert_int_eq((int)r.seq, 7);
    ck_assert_str_eq(r.user, U);
    a.seq = 0;
    ck_assert_int_eq(ub_changes_cursor_parse(ut_pool, "acme",
                                             ub_changes_cursor(ut_pool, "acme", &a), &r), 0);
    ck_assert_int_eq((int)r.seq, 0);
}
END_TEST

START_TEST(cursor_of_another_account_is_refused)
{
    ub_changes_pos a = { 42, NULL }, r;

    ck_assert_int_ne(ub_changes_cursor_parse(ut_pool, "globex",
                                             ub_changes_cursor(ut_pool, "acme", &a), &r), 0);
}
END_TEST

START_TEST(cursor_malformed_is_refused)
{
    ub_changes_pos a = { 42, NULL }, r;
    const char *good = ub_changes_cursor(ut_pool, "acme", &a);
    const char *tag = apr_pstrndup(ut_pool, good, 12);     /* "c1.XXXXXXXX." */
    const char *bad[] = {
        "", "latest", "42", "c2.00000000.42", "c1..42",
        apr_pstrcat(ut_pool, tag, NULL),                    /* no number */
        apr_pstrcat(ut_pool, tag, "-1", NULL),
        apr_pstrcat(ut_pool, tag, "+1", NULL),
        apr_pstrcat(ut_pool, tag, "042", NULL),             /* one spelling per number */
        apr_pstrcat(ut_pool, tag, "1234567890123456789", NULL),    /* past 18 digits */
        apr_pstrcat(ut_pool, tag, "99999999999999999999999", NULL),
        apr_pstrcat(ut_pool, tag, "1.", NULL),
        apr_pstrcat(ut_pool, tag, "1.x", NULL),
        apr_pstrcat(ut_pool, tag, "1.7A000000-0000-4000-8000-000000000103", NULL),
        apr_pstrcat(ut_pool, tag, "1." U "0", NULL),
        apr_pstrcat(ut_pool, tag, "1 ", NULL),
        apr_pstrcat(ut_pool, tag, "1;DROP", NULL),
    };
    size_t i;

    ck_assert_int_eq(ub_changes_cursor_parse(ut_pool, "acme", good, &r), 0);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(ub_changes_cursor_parse(ut_pool, "acme", bad[i], &r) != 0,
                      "accepted '%s'", bad[i]);
    }
    ck_assert_int_eq(ub_changes_cursor_parse(ut_pool, "acme",
                                             apr_pstrcat(ut_pool, tag, "123456789012345678", NULL),
                                             &r), 0);
}
END_TEST

Suite *changes_suite(void)
{
    Suite *s = suite_create("changes");
    TCase *tc = ut_tcase("cursor");

    tcase_add_test(tc, cursor_round_trips);
    tcase_add_test(tc, cursor_of_another_account_is_refused);
    tcase_add_test(tc, cursor_malformed_is_refused);
    suite_add_tcase(s, tc);
    return s;
}
