/*
 * main.c: runs every suite of the unit tests of src/.
 *
 *   .build/unit_tests                       a fork per test
 *   CK_FORK=no valgrind --leak-check=full --error-exitcode=1 .build/unit_tests
 *   CK_RUN_SUITE=batch CK_RUN_CASE=duplicates .build/unit_tests
 *
 * The exit status is non-zero when any test failed.
 */
#include <stdlib.h>
#include <apr_general.h>
#include "unit.h"

int main(void)
{
    SRunner *sr;
    int failed;

    if (apr_initialize() != APR_SUCCESS) {
        return EXIT_FAILURE;
    }
    sr = srunner_create(validate_suite());
    srunner_add_suite(sr, json_suite());
    srunner_add_suite(sr, batch_suite());
    srunner_add_suite(sr, render_suite());
    srunner_add_suite(sr, media_suite());
    srunner_add_suite(sr, account_request_suite());
    srunner_add_suite(sr, errors_suite());
    srunner_add_suite(sr, query_suite());
    srunner_add_suite(sr, headers_suite());
    srunner_add_suite(sr, put_users_suite());
    srunner_add_suite(sr, counters_suite());
    srunner_add_suite(sr, jdoc_suite());
    srunner_add_suite(sr, pipeline_suite());
    srunner_add_suite(sr, fields_suite());
    srunner_add_suite(sr, scim_filter_suite());
    srunner_add_suite(sr, scim_groups_suite());
    srunner_add_suite(sr, scim_patch_suite());
    srunner_add_suite(sr, changes_suite());
    srunner_add_suite(sr, revert_suite());

    srunner_run_all(sr, CK_ENV);    /* CK_VERBOSITY=verbose lists every test */
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    apr_terminate();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
