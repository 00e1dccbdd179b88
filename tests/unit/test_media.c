/*
 * test_media.c: src/media.c, the bodies each endpoint takes and the answer
 * form Accept asks for.
 */
#include <string.h>
#include "unit.h"
#include "media.h"

START_TEST(put_users_takes_json)
{
    ck_assert(ub_media_type_accepted(UB_EP_PUT_USERS, "application/json"));
    ck_assert(ub_media_type_accepted(UB_EP_PUT_USERS, "application/json; charset=utf-8"));
}
END_TEST

START_TEST(put_users_refuses_json_patch)
{
    ck_assert(!ub_media_type_accepted(UB_EP_PUT_USERS, "application/json-patch+json"));
}
END_TEST

START_TEST(put_users_refuses_other_or_missing_types)
{
    ck_assert(!ub_media_type_accepted(UB_EP_PUT_USERS, "text/plain"));
    ck_assert(!ub_media_type_accepted(UB_EP_PUT_USERS, "application/x-www-form-urlencoded"));
    ck_assert(!ub_media_type_accepted(UB_EP_PUT_USERS, "application/json; charset=latin1"));
    ck_assert(!ub_media_type_accepted(UB_EP_PUT_USERS, NULL));
}
END_TEST

START_TEST(account_update_takes_json_patch_and_json)
{
    ck_assert(ub_media_type_accepted(UB_EP_ACCOUNT_UPDATE, "application/json-patch+json"));
    ck_assert(ub_media_type_accepted(UB_EP_ACCOUNT_UPDATE,
                                     "Application/JSON-Patch+JSON; charset=UTF-8"));
    ck_assert(ub_media_type_accepted(UB_EP_ACCOUNT_UPDATE, "application/json"));
}
END_TEST

START_TEST(account_update_refuses_other_types)
{
    ck_assert(!ub_media_type_accepted(UB_EP_ACCOUNT_UPDATE, "application/json-patch"));
    ck_assert(!ub_media_type_accepted(UB_EP_ACCOUNT_UPDATE, "application/merge-patch+json"));
    ck_assert(!ub_media_type_accepted(UB_EP_ACCOUNT_UPDATE,
                                      "application/json-patch+json; charset=utf-16"));
    ck_assert(!ub_media_type_accepted(UB_EP_ACCOUNT_UPDATE, NULL));
}
END_TEST

START_TEST(media_types_name_what_each_endpoint_takes)
{
    ck_assert_str_eq(ub_media_types(UB_EP_PUT_USERS), "application/json");
    ck_assert_ptr_nonnull(strstr(ub_media_types(UB_EP_ACCOUNT_UPDATE),
                                 "application/json-patch+json"));
    ck_assert_ptr_nonnull(strstr(ub_media_types(UB_EP_ACCOUNT_UPDATE), "application/json"));
}
END_TEST

/* ---- Accept ---------------------------------------------------------- */

START_TEST(accept_text_plain_prefers_text)
{
    ck_assert(ub_accept_prefers_text("text/plain"));
}
END_TEST

START_TEST(accept_json_and_text_prefers_json)
{
    ck_assert(!ub_accept_prefers_text("application/json, text/plain"));
    ck_assert(!ub_accept_prefers_text("text/plain, application/json"));
}
END_TEST

START_TEST(accept_text_with_lower_quality_prefers_json)
{
    ck_assert(!ub_accept_prefers_text("text/plain;q=0.5, application/json"));
}
END_TEST

START_TEST(accept_json_with_lower_quality_prefers_text)
{
    ck_assert(ub_accept_prefers_text("application/json;q=0.5, text/plain"));
    ck_assert(ub_accept_prefers_text("text/plain, application/json; q=0.9"));
}
END_TEST

START_TEST(accept_anything_prefers_json)
{
    ck_assert(!ub_accept_prefers_text("*/*"));
    ck_assert(!ub_accept_prefers_text("text/plain, */*"));
    ck_assert(!ub_accept_prefers_text("application/*, text/plain"));
}
END_TEST

START_TEST(accept_text_over_wildcard_with_lower_quality_prefers_text)
{
    ck_assert(ub_accept_prefers_text("text/plain, */*;q=0.8"));
}
END_TEST

START_TEST(accept_absent_or_empty_prefers_json)
{
    ck_assert(!ub_accept_prefers_text(NULL));
    ck_assert(!ub_accept_prefers_text(""));
}
END_TEST

START_TEST(accept_text_with_quality_zero_is_refused_text)
{
    ck_assert(!ub_accept_prefers_text("text/plain;q=0"));
    ck_assert(!ub_accept_prefers_text("text/plain;q=0, text/html"));
}
END_TEST

START_TEST(accept_ignores_case_spaces_and_other_parameters)
{
    ck_assert(ub_accept_prefers_text("TEXT/PLAIN"));
    ck_assert(ub_accept_prefers_text("  text/plain ; charset=utf-8"));
    ck_assert(ub_accept_prefers_text("text/plain;format=flowed;q=0.2, application/json;q=0.1"));
}
END_TEST

START_TEST(accept_other_types_prefer_json)
{
    ck_assert(!ub_accept_prefers_text("text/html"));
    ck_assert(!ub_accept_prefers_text("text/*"));
    ck_assert(!ub_accept_prefers_text("text/plainish"));
}
END_TEST

/* A q of a later element is not read as this element's q. */
START_TEST(accept_quality_belongs_to_its_own_element)
{
    ck_assert(ub_accept_prefers_text("text/plain, application/json;q=0.1"));
    ck_assert(!ub_accept_prefers_text("application/json, text/plain;q=0.1"));
    ck_assert(ub_accept_prefers_text("text/plain , application/json;q=0.1"));
}
END_TEST

/* ---- media types ----------------------------------------------------- */

START_TEST(media_type_matches_exact_type)
{
    ck_assert(ub_media_type_is("application/json", "application/json"));
}
END_TEST

START_TEST(media_type_ignores_case)
{
    ck_assert(ub_media_type_is("Application/JSON", "application/json"));
}
END_TEST

START_TEST(media_type_ignores_surrounding_spaces)
{
    ck_assert(ub_media_type_is("  application/json  ", "application/json"));
    ck_assert(ub_media_type_is("application/json ; charset=utf-8", "application/json"));
}
END_TEST

START_TEST(media_type_accepts_utf8_charset_in_any_spelling)
{
    ck_assert(ub_media_type_is("application/json; charset=utf-8", "application/json"));
    ck_assert(ub_media_type_is("application/json;charset=UTF-8", "application/json"));
    ck_assert(ub_media_type_is("application/json; charset=\"utf-8\"", "application/json"));
    ck_assert(ub_media_type_is("application/json; CHARSET=utf8", "application/json"));
}
END_TEST

START_TEST(media_type_accepts_other_parameters)
{
    ck_assert(ub_media_type_is("application/json; v=2", "application/json"));
    ck_assert(ub_media_type_is("application/json; charset=utf-8; v=2", "application/json"));
}
END_TEST

START_TEST(media_type_refuses_non_utf8_charset)
{
    ck_assert(!ub_media_type_is("application/json; charset=iso-8859-1", "application/json"));
    ck_assert(!ub_media_type_is("application/json; charset=utf-16", "application/json"));
    ck_assert(!ub_media_type_is("application/json; charset=\"latin1\"", "application/json"));
    ck_assert(!ub_media_type_is("application/json; v=2; charset=us-ascii", "application/json"));
}
END_TEST

/* "utf-8x" is not UTF-8: the charset must be matched whole, as the type is. */
START_TEST(media_type_refuses_charset_that_only_starts_with_utf8)
{
    ck_assert(!ub_media_type_is("application/json; charset=utf-8x", "application/json"));
    ck_assert(!ub_media_type_is("application/json; charset=utf8-evil", "application/json"));
}
END_TEST

/* The charset is the parameter named charset, not text that contains
 * "charset=" somewhere in the parameters. */
START_TEST(media_type_reads_the_charset_parameter_not_a_lookalike)
{
    ck_assert(!ub_media_type_is("application/json; note=\"charset=utf-8\"; charset=latin1",
                                "application/json"));
}
END_TEST

START_TEST(media_type_refuses_longer_type_with_same_prefix)
{
    ck_assert(!ub_media_type_is("application/jsonx", "application/json"));
    ck_assert(!ub_media_type_is("application/json-patch+json", "application/json"));
    ck_assert(!ub_media_type_is("application/json5", "application/json"));
}
END_TEST

START_TEST(media_type_refuses_shorter_or_other_type)
{
    ck_assert(!ub_media_type_is("application/jso", "application/json"));
    ck_assert(!ub_media_type_is("text/json", "application/json"));
    ck_assert(!ub_media_type_is("xapplication/json", "application/json"));
    ck_assert(!ub_media_type_is("application/json, text/plain", "application/json"));
}
END_TEST

START_TEST(media_type_refuses_empty_or_missing)
{
    ck_assert(!ub_media_type_is("", "application/json"));
    ck_assert(!ub_media_type_is(NULL, "application/json"));
}
END_TEST

Suite *media_suite(void)
{
    Suite *s = suite_create("media");
    TCase *tc;

    tc = ut_tcase("content_type");
    tcase_add_test(tc, put_users_takes_json);
    tcase_add_test(tc, put_users_refuses_json_patch);
    tcase_add_test(tc, put_users_refuses_other_or_missing_types);
    tcase_add_test(tc, account_update_takes_json_patch_and_json);
    tcase_add_test(tc, account_update_refuses_other_types);
    tcase_add_test(tc, media_types_name_what_each_endpoint_takes);
    suite_add_tcase(s, tc);

    tc = ut_tcase("accept");
    tcase_add_test(tc, accept_text_plain_prefers_text);
    tcase_add_test(tc, accept_json_and_text_prefers_json);
    tcase_add_test(tc, accept_text_with_lower_quality_prefers_json);
    tcase_add_test(tc, accept_json_with_lower_quality_prefers_text);
    tcase_add_test(tc, accept_anything_prefers_json);
    tcase_add_test(tc, accept_text_over_wildcard_with_lower_quality_prefers_text);
    tcase_add_test(tc, accept_absent_or_empty_prefers_json);
    tcase_add_test(tc, accept_text_with_quality_zero_is_refused_text);
    tcase_add_test(tc, accept_ignores_case_spaces_and_other_parameters);
    tcase_add_test(tc, accept_other_types_prefer_json);
    tcase_add_test(tc, accept_quality_belongs_to_its_own_element);
    suite_add_tcase(s, tc);

    tc = ut_tcase("media_type");
    tcase_add_test(tc, media_type_matches_exact_type);
    tcase_add_test(tc, media_type_ignores_case);
    tcase_add_test(tc, media_type_ignores_surrounding_spaces);
    tcase_add_test(tc, media_type_accepts_utf8_charset_in_any_spelling);
    tcase_add_test(tc, media_type_accepts_other_parameters);
    tcase_add_test(tc, media_type_refuses_non_utf8_charset);
    tcase_add_test(tc, media_type_refuses_charset_that_only_starts_with_utf8);
    tcase_add_test(tc, media_type_reads_the_charset_parameter_not_a_lookalike);
    tcase_add_test(tc, media_type_refuses_longer_type_with_same_prefix);
    tcase_add_test(tc, media_type_refuses_shorter_or_other_type);
    tcase_add_test(tc, media_type_refuses_empty_or_missing);
    suite_add_tcase(s, tc);
    return s;
}
