/*
 * test_counters.c: src/counters.c, the figures /server-status shows.
 */
#include <string.h>
#include "unit.h"
#include "counters.h"

static ub_outcome outcome(int status, int applied, int failed)
{
    ub_outcome o = { 0 };

    o.status = status;
    o.applied = applied;
    o.failed = failed;
    o.db_calls = 1;
    o.db_usec = 2500;
    return o;
}

START_TEST(requests_count_by_endpoint_and_status)
{
    ub_counters *c = apr_pcalloc(ut_pool, sizeof(*c));
    ub_outcome ok = outcome(200, 3, 1), refused = outcome(400, 0, 2), odd = outcome(418, 0, 0);

    ub_counters_count(c, UB_CTR_PUT_USERS, &ok);
    ub_counters_count(c, UB_CTR_PUT_USERS, &ok);
    ub_counters_count(c, UB_CTR_PUT_USERS, &refused);
    ub_counters_count(c, UB_CTR_ACCOUNT_UPDATE, &odd);
    ck_assert_uint_eq(c->requests[UB_CTR_PUT_USERS][0], 2);          /* 200 */
    ck_assert_uint_eq(c->requests[UB_CTR_PUT_USERS][1], 1);          /* 400 */
    ck_assert_uint_eq(c->requests[UB_CTR_ACCOUNT_UPDATE][UB_CTR_STATUSES - 1], 1);  /* other */
    ck_assert_uint_eq(c->records_applied, 6);
    ck_assert_uint_eq(c->records_failed, 4);
    ck_assert_uint_eq(c->db_calls, 4);
    ck_assert_uint_eq(c->db_usec, 10000);
}
END_TEST

START_TEST(last_error_is_kept_and_truncated)
{
    ub_counters *c = apr_pcalloc(ut_pool, sizeof(*c));
    char buf[300], long_text[400];

    ck_assert(ub_counters_last_error(c, buf, sizeof(buf)) == 0);
    ub_counters_set_error(c, 42, "UB0201 statement failed");
    ck_assert(ub_counters_last_error(c, buf, sizeof(buf)) == 42);
    ck_assert_str_eq(buf, "UB0201 statement failed");
    memset(long_text, 'x', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    ub_counters_set_error(c, 43, long_text);
    ub_counters_last_error(c, buf, sizeof(buf));
    ck_assert_uint_eq(strlen(buf), sizeof(c->last_error) - 1);
}
END_TEST

Suite *counters_suite(void)
{
    Suite *s = suite_create("counters");
    TCase *tc = ut_tcase("counters");

    tcase_add_test(tc, requests_count_by_endpoint_and_status);
    tcase_add_test(tc, last_error_is_kept_and_truncated);
    suite_add_tcase(s, tc);
    return s;
}
