/*
 * test_fields.c: src/fields.c, the field errors and typed takers every
 * reader of a body shares (their use is pinned field by field in
 * test_batch.c and test_account_request.c).
 */
#include <string.h>
#include "unit.h"
#include "fields.h"

static ub_fields fields(void)
{
    ub_fields f = { ut_pool, apr_array_make(ut_pool, 1, sizeof(ub_field_error)) };

    return f;
}

static const ub_jval *doc(const char *json)
{
    ub_problem p = { 0 };
    const char *text = ut_q(json);
    const ub_jval *v = ub_jdoc_parse(ut_pool, text, strlen(text), &p);

    ck_assert_ptr_nonnull(v);
    return v;
}

/* The message of the only error. */
static const char *only_message(const ub_fields *f)
{
    ck_assert_int_eq(f->errors->nelts, 1);
    return ((const ub_field_error *)f->errors->elts)[0].message;
}

START_TEST(path_joins_parent_and_key)
{
    ck_assert_str_eq(ub_field_path(ut_pool, NULL, "email"), "email");
    ck_assert_str_eq(ub_field_path(ut_pool, "roles[2]", "roleId"), "roles[2].roleId");
}
END_TEST

START_TEST(absent_null_and_no_object_are_no_value_and_no_error)
{
    ub_fields f = fields();
    const ub_jval *obj = doc("{'a':null}");

    ck_assert_ptr_null(ub_take_string(&f, obj, NULL, "a", 10, ub_check_uuid, 0));
    ck_assert_ptr_null(ub_take_string(&f, obj, NULL, "b", 10, ub_check_uuid, 0));
    ck_assert_ptr_null(ub_take_object(&f, NULL, "x", "a"));
    ck_assert_int_eq(ub_take_bool(&f, obj, NULL, "a", -1), -1);
    ut_assert_no_errors(f.errors);
}
END_TEST

START_TEST(a_wrong_type_names_the_path_and_what_it_must_be)
{
    ub_fields f = fields();
    const ub_jval *obj = doc("{'a':1}");

    ck_assert_ptr_null(ub_take_string(&f, obj, "p", "a", 10, NULL, 0));
    ut_assert_error(f.errors, "p.a", "invalid_type");
    ck_assert_str_eq(only_message(&f), "must be a string or null");
    f = fields();
    ck_assert_int_eq(ub_take_bool(&f, obj, NULL, "a", 7), 7);
    ut_assert_error(f.errors, "a", "invalid_type");
    ck_assert_str_eq(only_message(&f), "must be true, false or null");
    f = fields();
    ck_assert_ptr_null(ub_take_object(&f, obj, NULL, "a"));
    ck_assert_str_eq(only_message(&f), "must be an object or null");
}
END_TEST

START_TEST(a_string_is_checked_for_length_in_characters_then_format)
{
    ub_fields f = fields();
    const ub_jval *obj = doc("{'a':'\xc3\xa9\xc3\xa9\xc3\xa9','b':'x'}");

    ck_assert_str_eq(ub_take_string(&f, obj, NULL, "a", 3, NULL, 0), "\xc3\xa9\xc3\xa9\xc3\xa9");
    ck_assert_ptr_null(ub_take_string(&f, obj, NULL, "a", 2, NULL, 0));
    ut_assert_error(f.errors, "a", "too_long");
    ck_assert_str_eq(only_message(&f), "has at most 2 characters");
    f = fields();
    ck_assert_ptr_null(ub_take_string(&f, obj, NULL, "b", 36, ub_check_uuid, 0));
    ut_assert_error(f.errors, "b", "invalid_format");
    ck_assert_str_eq(only_message(&f), ub_check_uuid("x"));
}
END_TEST

START_TEST(empty_unchecked_takes_empty_without_the_check)
{
    ub_fields f = fields();
    const ub_jval *obj = doc("{'a':''}");

    ck_assert_str_eq(ub_take_string(&f, obj, NULL, "a", 36, ub_check_uuid, 1), "");
    ut_assert_no_errors(f.errors);
    ck_assert_ptr_null(ub_take_string(&f, obj, NULL, "a", 36, ub_check_uuid, 0));
    ut_assert_error(f.errors, "a", "invalid_format");
}
END_TEST

START_TEST(booleans_read_as_one_or_zero)
{
    ub_fields f = fields();
    const ub_jval *obj = doc("{'t':true,'f':false}");

    ck_assert_int_eq(ub_take_bool(&f, obj, NULL, "t", -1), 1);
    ck_assert_int_eq(ub_take_bool(&f, obj, NULL, "f", -1), 0);
    ut_assert_no_errors(f.errors);
}
END_TEST

Suite *fields_suite(void)
{
    Suite *s = suite_create("fields");
    TCase *tc = ut_tcase("takers");

    tcase_add_test(tc, path_joins_parent_and_key);
    tcase_add_test(tc, absent_null_and_no_object_are_no_value_and_no_error);
    tcase_add_test(tc, a_wrong_type_names_the_path_and_what_it_must_be);
    tcase_add_test(tc, a_string_is_checked_for_length_in_characters_then_format);
    tcase_add_test(tc, empty_unchecked_takes_empty_without_the_check);
    tcase_add_test(tc, booleans_read_as_one_or_zero);
    suite_add_tcase(s, tc);
    return s;
}
