/*
 * unit.h: what the unit tests of src/ share.
 *
 * Every test runs with a fresh pool (ut_pool), created by the fixture that
 * ut_tcase() installs and destroyed after the test, so that everything a
 * test makes (jansson documents included, through ub_json_own) is released
 * and valgrind reports no leak. The tests run as well in one process
 * (CK_FORK=no, as under valgrind) as with a fork per test.
 */
#ifndef UB_UNIT_H
#define UB_UNIT_H

#include <check.h>
#include <jansson.h>
#include <apr_pools.h>
#include <apr_buckets.h>
#include "userbulk.h"

/* The suites, one per file of src/ (main.c runs them all). */
Suite *validate_suite(void);
Suite *json_suite(void);
Suite *batch_suite(void);
Suite *render_suite(void);
Suite *media_suite(void);
Suite *account_request_suite(void);
Suite *errors_suite(void);
Suite *query_suite(void);
Suite *headers_suite(void);
Suite *put_users_suite(void);
Suite *counters_suite(void);
Suite *jdoc_suite(void);
Suite *pipeline_suite(void);
Suite *fields_suite(void);
Suite *scim_filter_suite(void);
Suite *scim_groups_suite(void);
Suite *scim_patch_suite(void);
Suite *changes_suite(void);
Suite *revert_suite(void);

/* The current test's pool. */
extern apr_pool_t *ut_pool;

/* A test case whose tests each get a fresh ut_pool. */
TCase *ut_tcase(const char *name);

/* A request as the glue hands it to the core. */
ub_request ut_request(int max_records);

/* An empty brigade, and its content as one NUL-terminated string. */
apr_bucket_brigade *ut_brigade(void);
const char *ut_flatten(apr_bucket_brigade *bb);

/* s with every ' turned into ", so that JSON reads well in C:
 * ut_q("{'userName':'alice'}"). */
const char *ut_q(const char *s);

/* s repeated n times. */
const char *ut_repeat(const char *s, int n);

/* A body of about len bytes (at most len): prefix, then "0," repeated,
 * then "0" and suffix; tiny values, the parser's worst case. In ut_pool. */
const char *ut_zeros(const char *prefix, apr_size_t len, const char *suffix,
                     apr_size_t *out_len);

/* A pool of its own allocator (destroyed with ut_pool): every byte it
 * holds was malloc'd for it, none reused from an earlier test's pools. */
apr_pool_t *ut_private_pool(void);

/* The process's peak resident size (VmHWM), in bytes, set back to the
 * present size (VmRSS) by ut_peak_reset: a call's peak is the difference
 * (pools come from mmap, not malloc, so the kernel is asked). */
void ut_peak_reset(void);
apr_size_t ut_peak_bytes(void);
apr_size_t ut_rss_bytes(void);

/* A valid email address of exactly total characters (198 to 260): a
 * 64-character local part and labels of 63 characters. */
const char *ut_email(int total);

/* Parses JSON the core produced (failing the test if it is not JSON); the
 * document belongs to ut_pool. */
json_t *ut_parse(const char *text);

/* The value at a path such as "failedResults[0].errors[1].code", or NULL. */
json_t *ut_at(json_t *doc, const char *path);

/* Field errors: how many name this field with this code (either NULL:
 * any), and all of them as "field:code, ..." for failure messages. */
int ut_count_errors(const apr_array_header_t *errors, const char *field,
                    const char *code);
const char *ut_errors_str(const apr_array_header_t *errors);

/* ---- assertions ------------------------------------------------------ */

/* A validator (const char *check(const char *)) accepts / refuses s. */
#define ut_assert_valid(check, s) do { \
    const char *ut_s_ = (s), *ut_why_ = check(ut_s_); \
    ck_assert_msg(ut_why_ == NULL, "%s refused \"%s\": %s", #check, ut_s_, ut_why_); \
} while (0)

#define ut_assert_invalid(check, s) do { \
    const char *ut_s_ = (s); \
    ck_assert_msg(check(ut_s_) != NULL, "%s accepted \"%s\"", #check, ut_s_); \
} while (0)

/* The errors hold (exactly one / no) error naming field with code. */
#define ut_assert_error(errors, field, code) do { \
    const apr_array_header_t *ut_e_ = (errors); \
    ck_assert_msg(ut_count_errors(ut_e_, (field), (code)) == 1, \
                  "expected one error %s:%s, got [%s]", (field), (code), \
                  ut_errors_str(ut_e_)); \
} while (0)

#define ut_assert_no_error(errors, field, code) do { \
    const apr_array_header_t *ut_e_ = (errors); \
    ck_assert_msg(ut_count_errors(ut_e_, (field), (code)) == 0, \
                  "expected no error %s:%s, got [%s]", \
                  (field) ? (field) : "*", (code) ? (code) : "*", \
                  ut_errors_str(ut_e_)); \
} while (0)

#define ut_assert_no_errors(errors) do { \
    const apr_array_header_t *ut_e_ = (errors); \
    ck_assert_msg(ut_e_->nelts == 0, "expected no errors, got [%s]", \
                  ut_errors_str(ut_e_)); \
} while (0)

/* The JSON value at path is this string / integer / boolean / null, or
 * the path is absent. */
#define ut_assert_json_str(doc, path, want) do { \
    json_t *ut_v_ = ut_at((doc), (path)); \
    ck_assert_msg(json_is_string(ut_v_), "%s: not a string", (path)); \
    ck_assert_str_eq(json_string_value(ut_v_), (want)); \
} while (0)

#define ut_assert_json_int(doc, path, want) do { \
    json_t *ut_v_ = ut_at((doc), (path)); \
    ck_assert_msg(json_is_integer(ut_v_), "%s: not an integer", (path)); \
    ck_assert_int_eq(json_integer_value(ut_v_), (want)); \
} while (0)

#define ut_assert_json_bool(doc, path, want) do { \
    json_t *ut_v_ = ut_at((doc), (path)); \
    ck_assert_msg(json_is_boolean(ut_v_), "%s: not a boolean", (path)); \
    ck_assert_msg(json_is_true(ut_v_) == !!(want), "%s: is %s", (path), \
                  json_is_true(ut_v_) ? "true" : "false"); \
} while (0)

#define ut_assert_json_null(doc, path) do { \
    json_t *ut_v_ = ut_at((doc), (path)); \
    ck_assert_msg(ut_v_ != NULL, "%s: absent, expected null", (path)); \
    ck_assert_msg(json_is_null(ut_v_), "%s: not null", (path)); \
} while (0)

#define ut_assert_json_absent(doc, path) \
    ck_assert_msg(ut_at((doc), (path)) == NULL, "%s: present, expected absent", (path))

#define ut_assert_json_size(doc, path, want) do { \
    json_t *ut_v_ = ut_at((doc), (path)); \
    ck_assert_msg(json_is_array(ut_v_) || json_is_object(ut_v_), \
                  "%s: not an array or object", (path)); \
    ck_assert_int_eq(json_is_array(ut_v_) ? json_array_size(ut_v_) \
                                          : json_object_size(ut_v_), (want)); \
} while (0)

#endif
