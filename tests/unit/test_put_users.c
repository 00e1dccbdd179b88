/*
 * test_put_users.c: src/put_users.c, what PUT /users asks for beyond its
 * body (its flow is tested with the database, in t/put_users.t).
 */
#include "unit.h"
#include "put_users.h"

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

Suite *put_users_suite(void)
{
    Suite *s = suite_create("put_users");
    TCase *tc = ut_tcase("put_options");

    tcase_add_test(tc, no_query_means_default_behaviour);
    tcase_add_test(tc, atomic_and_dry_run_read_as_booleans);
    tcase_add_test(tc, a_malformed_boolean_is_a_400);
    tcase_add_test(tc, prefer_tx_rollback_is_a_dry_run);
    suite_add_tcase(s, tc);
    return s;
}
