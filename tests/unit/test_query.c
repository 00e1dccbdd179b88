/*
 * test_query.c: src/query.c, the query string's parameters.
 */
#include "unit.h"
#include "query.h"

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

Suite *query_suite(void)
{
    Suite *s = suite_create("query");
    TCase *tc = ut_tcase("query_values");

    tcase_add_test(tc, query_values_are_decoded_in_order);
    tcase_add_test(tc, query_values_refuse_bad_escapes_and_nul);
    suite_add_tcase(s, tc);
    return s;
}
