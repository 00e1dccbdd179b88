/*
 * test_validate.c: src/validate.c, the formats the API promises to check.
 */
#include <apr_strings.h>
#include "unit.h"
#include "validate.h"

/* ---- ub_utf8_chars --------------------------------------------------- */

START_TEST(utf8_chars_counts_ascii_bytes)
{
    ck_assert_uint_eq(ub_utf8_chars(""), 0);
    ck_assert_uint_eq(ub_utf8_chars("alice"), 5);
}
END_TEST

START_TEST(utf8_chars_counts_code_points_not_bytes)
{
    ck_assert_uint_eq(ub_utf8_chars("Zo\xc3\xab"), 3);                  /* Zoë */
    ck_assert_uint_eq(ub_utf8_chars("\xe6\x97\xa5\xe6\x9c\xac"), 2);    /* 日本 */
    ck_assert_uint_eq(ub_utf8_chars("\xf0\x9f\x98\x80!"), 2);           /* 😀! */
}
END_TEST

/* ---- email: accepted ------------------------------------------------- */

START_TEST(utf8_valid_accepts_utf8_and_refuses_the_rest)
{
    ck_assert(ub_utf8_valid("alice", 5));
    ck_assert(ub_utf8_valid("\xc3\xa9va \xe2\x82\xac \xf0\x9f\x98\x80", 13));
    ck_assert(ub_utf8_valid("", 0));
    ck_assert(!ub_utf8_valid("\xff", 1));                     /* not a lead byte */
    ck_assert(!ub_utf8_valid("a\xc3", 2));                    /* cut short */
    ck_assert(!ub_utf8_valid("\xc0\xaf", 2));                 /* overlong '/' */
    ck_assert(!ub_utf8_valid("\xed\xa0\x80", 3));             /* a surrogate */
    ck_assert(!ub_utf8_valid("\xf4\x90\x80\x80", 4));         /* above U+10FFFF */
}
END_TEST

START_TEST(email_accepts_plain_address)
{
    ut_assert_valid(ub_check_email, "alice@example.com");
}
END_TEST

START_TEST(email_accepts_plus_tag)
{
    ut_assert_valid(ub_check_email, "alice+billing@example.com");
}
END_TEST

START_TEST(email_accepts_dots_inside_local_part)
{
    ut_assert_valid(ub_check_email, "alice.b.smith@example.com");
}
END_TEST

START_TEST(email_accepts_rfc5322_atext_symbols)
{
    ut_assert_valid(ub_check_email, "o'brien@example.com");
    ut_assert_valid(ub_check_email, "a!#$%&*/=?^_`{|}~-z@example.com");
}
END_TEST

START_TEST(email_accepts_subdomains)
{
    ut_assert_valid(ub_check_email, "alice@mail.eu.example.co.uk");
}
END_TEST

START_TEST(email_accepts_hyphen_and_digits_inside_labels)
{
    ut_assert_valid(ub_check_email, "alice@my-host.example.com");
    ut_assert_valid(ub_check_email, "alice@123.example.com");
}
END_TEST

START_TEST(email_accepts_one_letter_tld)
{
    ut_assert_valid(ub_check_email, "alice@example.c");
}
END_TEST

START_TEST(email_accepts_64_char_local_part)
{
    ut_assert_valid(ub_check_email,
                    apr_pstrcat(ut_pool, ut_repeat("a", 64), "@example.com", NULL));
}
END_TEST

START_TEST(email_accepts_63_char_label)
{
    ut_assert_valid(ub_check_email,
                    apr_pstrcat(ut_pool, "a@", ut_repeat("b", 63), ".com", NULL));
}
END_TEST

START_TEST(email_accepts_254_chars_in_total)
{
    const char *s = ut_email(254);

    ck_assert_uint_eq(strlen(s), 254);
    ut_assert_valid(ub_check_email, s);
}
END_TEST

START_TEST(email_accepts_utf8_local_part_and_domain)
{
    ut_assert_valid(ub_check_email, "j\xc3\xb6rg@b\xc3\xbc" "cher.de");     /* jörg@bücher.de */
    ut_assert_valid(ub_check_email,
                    "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a");
}
END_TEST

/* ---- email: refused -------------------------------------------------- */

START_TEST(email_refuses_empty)
{
    ut_assert_invalid(ub_check_email, "");
}
END_TEST

START_TEST(email_refuses_missing_at)
{
    ut_assert_invalid(ub_check_email, "alice.example.com");
}
END_TEST

START_TEST(email_refuses_two_ats)
{
    ut_assert_invalid(ub_check_email, "alice@home@example.com");
    ut_assert_invalid(ub_check_email, "alice@@example.com");
}
END_TEST

START_TEST(email_refuses_empty_local_part)
{
    ut_assert_invalid(ub_check_email, "@example.com");
}
END_TEST

START_TEST(email_refuses_empty_domain)
{
    ut_assert_invalid(ub_check_email, "alice@");
}
END_TEST

START_TEST(email_refuses_leading_dot_in_local_part)
{
    ut_assert_invalid(ub_check_email, ".alice@example.com");
}
END_TEST

START_TEST(email_refuses_trailing_dot_in_local_part)
{
    ut_assert_invalid(ub_check_email, "alice.@example.com");
}
END_TEST

START_TEST(email_refuses_double_dot_in_local_part)
{
    ut_assert_invalid(ub_check_email, "al..ice@example.com");
}
END_TEST

START_TEST(email_refuses_leading_trailing_or_double_dot_in_domain)
{
    ut_assert_invalid(ub_check_email, "alice@.example.com");
    ut_assert_invalid(ub_check_email, "alice@example.com.");
    ut_assert_invalid(ub_check_email, "alice@example..com");
}
END_TEST

START_TEST(email_refuses_65_char_local_part)
{
    ut_assert_invalid(ub_check_email,
                      apr_pstrcat(ut_pool, ut_repeat("a", 65), "@example.com", NULL));
}
END_TEST

START_TEST(email_refuses_255_chars_in_total)
{
    const char *s = ut_email(255);

    ck_assert_uint_eq(strlen(s), 255);
    ut_assert_invalid(ub_check_email, s);
}
END_TEST

START_TEST(email_refuses_64_char_label)
{
    ut_assert_invalid(ub_check_email,
                      apr_pstrcat(ut_pool, "a@", ut_repeat("b", 64), ".com", NULL));
}
END_TEST

START_TEST(email_refuses_label_starting_with_hyphen)
{
    ut_assert_invalid(ub_check_email, "alice@-example.com");
    ut_assert_invalid(ub_check_email, "alice@example.-com");
}
END_TEST

START_TEST(email_refuses_label_ending_with_hyphen)
{
    ut_assert_invalid(ub_check_email, "alice@example-.com");
    ut_assert_invalid(ub_check_email, "alice@example.com-");
}
END_TEST

START_TEST(email_refuses_all_digit_tld)
{
    ut_assert_invalid(ub_check_email, "alice@example.123");
    ut_assert_invalid(ub_check_email, "alice@192.168.0.1");
}
END_TEST

START_TEST(email_refuses_single_label_domain)
{
    ut_assert_invalid(ub_check_email, "alice@localhost");
}
END_TEST

START_TEST(email_refuses_ip_literal)
{
    ut_assert_invalid(ub_check_email, "alice@[192.168.0.1]");
}
END_TEST

START_TEST(email_refuses_spaces)
{
    ut_assert_invalid(ub_check_email, "al ice@example.com");
    ut_assert_invalid(ub_check_email, "alice@exam ple.com");
    ut_assert_invalid(ub_check_email, " alice@example.com");
    ut_assert_invalid(ub_check_email, "alice@example.com ");
}
END_TEST

START_TEST(email_refuses_control_chars)
{
    ut_assert_invalid(ub_check_email, "al\x01ice@example.com");
    ut_assert_invalid(ub_check_email, "alice\t@example.com");
    ut_assert_invalid(ub_check_email, "alice@example.com\r\n");
    ut_assert_invalid(ub_check_email, "alice\x7f@example.com");
    ut_assert_invalid(ub_check_email, "alice@exa\x7fmple.com");
}
END_TEST

START_TEST(email_refuses_quotes_and_specials)
{
    ut_assert_invalid(ub_check_email, "\"alice\"@example.com");
    ut_assert_invalid(ub_check_email, "\"al@ice\"@example.com");
    ut_assert_invalid(ub_check_email, "alice(comment)@example.com");
    ut_assert_invalid(ub_check_email, "alice,bob@example.com");
    ut_assert_invalid(ub_check_email, "<alice@example.com>");
}
END_TEST

START_TEST(email_refuses_underscore_in_domain)
{
    ut_assert_invalid(ub_check_email, "alice@exam_ple.com");
}
END_TEST

/* ---- uuid ------------------------------------------------------------ */

START_TEST(uuid_accepts_lowercase)
{
    ut_assert_valid(ub_check_uuid, "0f8fad5b-d9cb-469f-a165-70867728950e");
}
END_TEST

START_TEST(uuid_accepts_uppercase_and_mixed_case)
{
    ut_assert_valid(ub_check_uuid, "0F8FAD5B-D9CB-469F-A165-70867728950E");
    ut_assert_valid(ub_check_uuid, "0f8FAD5b-D9cb-469F-a165-70867728950E");
}
END_TEST

START_TEST(uuid_accepts_nil_uuid)
{
    ut_assert_valid(ub_check_uuid, "00000000-0000-0000-0000-000000000000");
}
END_TEST

START_TEST(uuid_refuses_empty)
{
    ut_assert_invalid(ub_check_uuid, "");
}
END_TEST

START_TEST(uuid_refuses_one_char_short_or_long)
{
    ut_assert_invalid(ub_check_uuid, "0f8fad5b-d9cb-469f-a165-70867728950");
    ut_assert_invalid(ub_check_uuid, "0f8fad5b-d9cb-469f-a165-70867728950e0");
}
END_TEST

START_TEST(uuid_refuses_missing_dashes)
{
    ut_assert_invalid(ub_check_uuid, "0f8fad5bd9cb469fa16570867728950e");
    ut_assert_invalid(ub_check_uuid, "0f8fad5bd9cb469fa16570867728950e0000");
}
END_TEST

START_TEST(uuid_refuses_dashes_in_wrong_places)
{
    ut_assert_invalid(ub_check_uuid, "0f8fad5bd-9cb-469f-a165-70867728950e");
    ut_assert_invalid(ub_check_uuid, "0f8fad5b-d9cb4-69f-a165-70867728950e");
    ut_assert_invalid(ub_check_uuid, "0f8fad5b-d9cb-469f-a16570867728-950e");
    ut_assert_invalid(ub_check_uuid, "------------------------------------");
}
END_TEST

START_TEST(uuid_refuses_non_hex_digit)
{
    ut_assert_invalid(ub_check_uuid, "0f8fad5b-d9cb-469f-a165-70867728950g");
    ut_assert_invalid(ub_check_uuid, "0f8fad5b-d9cb-469f-a165-7086772895 e");
}
END_TEST

START_TEST(uuid_refuses_braces_and_urn)
{
    ut_assert_invalid(ub_check_uuid, "{0f8fad5b-d9cb-469f-a165-70867728950e}");
    ut_assert_invalid(ub_check_uuid, "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e");
}
END_TEST

/* ---- phone ----------------------------------------------------------- */

START_TEST(phone_accepts_international_format)
{
    ut_assert_valid(ub_check_phone, "+1 (555) 010-9999");
    ut_assert_valid(ub_check_phone, "+44 20 7946 0958");
}
END_TEST

START_TEST(phone_accepts_dots_and_extension)
{
    ut_assert_valid(ub_check_phone, "555.010.9999");
    ut_assert_valid(ub_check_phone, "555-0100 x123");
}
END_TEST

START_TEST(phone_accepts_digits_only)
{
    ut_assert_valid(ub_check_phone, "5550100");
    ut_assert_valid(ub_check_phone, "0");
}
END_TEST

START_TEST(phone_refuses_no_digit)
{
    ut_assert_invalid(ub_check_phone, "");
    ut_assert_invalid(ub_check_phone, "+-( ).x");
}
END_TEST

START_TEST(phone_refuses_letters_and_other_symbols)
{
    ut_assert_invalid(ub_check_phone, "555-CALL-NOW");
    ut_assert_invalid(ub_check_phone, "555 0100 ext 12");
    ut_assert_invalid(ub_check_phone, "555/0100");
    ut_assert_invalid(ub_check_phone, "555#0100");
}
END_TEST

START_TEST(phone_refuses_control_chars_and_non_ascii_digits)
{
    ut_assert_invalid(ub_check_phone, "555\n0100");
    ut_assert_invalid(ub_check_phone, "555\t0100");
    ut_assert_invalid(ub_check_phone, "\xd9\xa5\xd9\xa5\xd9\xa5");    /* ٥٥٥ */
}
END_TEST

/* ---- ISO 8601 -------------------------------------------------------- */

START_TEST(iso8601_accepts_date)
{
    ut_assert_valid(ub_check_iso8601, "2026-01-31");
}
END_TEST

START_TEST(iso8601_accepts_date_time_utc)
{
    ut_assert_valid(ub_check_iso8601, "2026-01-31T08:00:00Z");
}
END_TEST

START_TEST(iso8601_accepts_offsets)
{
    ut_assert_valid(ub_check_iso8601, "2026-01-31T08:00:00+01:00");
    ut_assert_valid(ub_check_iso8601, "2026-01-31T08:00:00-05:30");
    ut_assert_valid(ub_check_iso8601, "2026-01-31T08:00:00+14:00");
    ut_assert_valid(ub_check_iso8601, "2026-01-31T08:00:00-00:00");
}
END_TEST

START_TEST(iso8601_accepts_fractions_of_1_to_6_digits)
{
    ut_assert_valid(ub_check_iso8601, "2026-01-31T08:00:00.2Z");
    ut_assert_valid(ub_check_iso8601, "2026-01-31T08:00:00.250+01:00");
    ut_assert_valid(ub_check_iso8601, "2026-01-31T08:00:00.123456");
}
END_TEST

START_TEST(iso8601_accepts_time_without_offset_or_seconds)
{
    ut_assert_valid(ub_check_iso8601, "2026-01-31T08:00:00");
    ut_assert_valid(ub_check_iso8601, "2026-01-31T08:00");
    ut_assert_valid(ub_check_iso8601, "2026-01-31T08:00Z");
}
END_TEST

START_TEST(iso8601_accepts_space_as_separator)
{
    ut_assert_valid(ub_check_iso8601, "2026-01-31 08:00:00");
    ut_assert_valid(ub_check_iso8601, "2026-01-31 08:00:00+01:00");
}
END_TEST

START_TEST(iso8601_accepts_day_and_time_bounds)
{
    ut_assert_valid(ub_check_iso8601, "2026-12-31T23:59:59");
    ut_assert_valid(ub_check_iso8601, "2026-01-01T00:00:00");
    ut_assert_valid(ub_check_iso8601, "2026-04-30");
    ut_assert_valid(ub_check_iso8601, "1000-01-01");
    ut_assert_valid(ub_check_iso8601, "9999-12-31");
}
END_TEST

START_TEST(iso8601_refuses_the_first_millennium)
{
    ut_assert_invalid(ub_check_iso8601, "0999-12-31");
    ut_assert_invalid(ub_check_iso8601, "0001-01-01T00:00:00+01:00");
}
END_TEST

START_TEST(iso8601_accepts_feb_29_in_leap_years)
{
    ut_assert_valid(ub_check_iso8601, "2024-02-29");
    ut_assert_valid(ub_check_iso8601, "2000-02-29");    /* divisible by 400 */
    ut_assert_valid(ub_check_iso8601, "1600-02-29");
}
END_TEST

START_TEST(iso8601_refuses_feb_29_in_common_years)
{
    ut_assert_invalid(ub_check_iso8601, "2023-02-29");
    ut_assert_invalid(ub_check_iso8601, "1900-02-29");  /* divisible by 100 */
    ut_assert_invalid(ub_check_iso8601, "2100-02-29");
}
END_TEST

START_TEST(iso8601_refuses_days_past_end_of_month)
{
    ut_assert_invalid(ub_check_iso8601, "2024-02-30");
    ut_assert_invalid(ub_check_iso8601, "2026-04-31");
    ut_assert_invalid(ub_check_iso8601, "2026-06-31");
    ut_assert_invalid(ub_check_iso8601, "2026-01-32");
}
END_TEST

START_TEST(iso8601_refuses_month_or_day_zero)
{
    ut_assert_invalid(ub_check_iso8601, "2026-00-10");
    ut_assert_invalid(ub_check_iso8601, "2026-01-00");
}
END_TEST

START_TEST(iso8601_refuses_month_13)
{
    ut_assert_invalid(ub_check_iso8601, "2026-13-01");
}
END_TEST

START_TEST(iso8601_refuses_year_zero)
{
    ut_assert_invalid(ub_check_iso8601, "0000-01-01");
}
END_TEST

START_TEST(iso8601_refuses_other_date_spellings)
{
    ut_assert_invalid(ub_check_iso8601, "");
    ut_assert_invalid(ub_check_iso8601, "2026-1-31");
    ut_assert_invalid(ub_check_iso8601, "26-01-31");
    ut_assert_invalid(ub_check_iso8601, "2026/01/31");
    ut_assert_invalid(ub_check_iso8601, "31/01/2026");
    ut_assert_invalid(ub_check_iso8601, "20260131");
    ut_assert_invalid(ub_check_iso8601, "+2026-01-31");
}
END_TEST

START_TEST(iso8601_refuses_hour_24_minute_60_second_60)
{
    ut_assert_invalid(ub_check_iso8601, "2026-01-31T24:00:00");
    ut_assert_invalid(ub_check_iso8601, "2026-01-31T08:60:00");
    ut_assert_invalid(ub_check_iso8601, "2026-01-31T08:00:60");
}
END_TEST

START_TEST(iso8601_refuses_other_separators)
{
    ut_assert_invalid(ub_check_iso8601, "2026-01-31t08:00:00Z");
    ut_assert_invalid(ub_check_iso8601, "2026-01-31_08:00:00");
    ut_assert_invalid(ub_check_iso8601, "2026-01-31T");
    ut_assert_invalid(ub_check_iso8601, "2026-01-31 ");
    ut_assert_invalid(ub_check_iso8601, "2026-01-31T8:00");
    ut_assert_invalid(ub_check_iso8601, "2026-01-31T08");
}
END_TEST

START_TEST(iso8601_refuses_empty_or_long_fraction)
{
    ut_assert_invalid(ub_check_iso8601, "2026-01-31T08:00:00.Z");
    ut_assert_invalid(ub_check_iso8601, "2026-01-31T08:00:00.1234567Z");
    ut_assert_invalid(ub_check_iso8601, "2026-01-31T08:00.5");
}
END_TEST

START_TEST(iso8601_refuses_bad_offsets)
{
    ut_assert_invalid(ub_check_iso8601, "2026-01-31T08:00:00+15:00");
    ut_assert_invalid(ub_check_iso8601, "2026-01-31T08:00:00+01:60");
    ut_assert_invalid(ub_check_iso8601, "2026-01-31T08:00:00+0100");
    ut_assert_invalid(ub_check_iso8601, "2026-01-31T08:00:00+01");
    ut_assert_invalid(ub_check_iso8601, "2026-01-31T08:00:00z");
    ut_assert_invalid(ub_check_iso8601, "2026-01-31Z");
}
END_TEST

START_TEST(iso8601_refuses_junk_after)
{
    ut_assert_invalid(ub_check_iso8601, "2026-01-31x");
    ut_assert_invalid(ub_check_iso8601, "2026-01-31T08:00:00Zjunk");
    ut_assert_invalid(ub_check_iso8601, "2026-01-31T08:00:00+01:00 ");
    ut_assert_invalid(ub_check_iso8601, "2026-01-31T08:00:00Z\n");
    ut_assert_invalid(ub_check_iso8601, "2026-01-31T08:00:00ZZ");
}
END_TEST

Suite *validate_suite(void)
{
    Suite *s = suite_create("validate");
    TCase *tc;

    tc = ut_tcase("utf8");
    tcase_add_test(tc, utf8_chars_counts_ascii_bytes);
    tcase_add_test(tc, utf8_chars_counts_code_points_not_bytes);
    tcase_add_test(tc, utf8_valid_accepts_utf8_and_refuses_the_rest);
    suite_add_tcase(s, tc);

    tc = ut_tcase("email");
    tcase_add_test(tc, email_accepts_plain_address);
    tcase_add_test(tc, email_accepts_plus_tag);
    tcase_add_test(tc, email_accepts_dots_inside_local_part);
    tcase_add_test(tc, email_accepts_rfc5322_atext_symbols);
    tcase_add_test(tc, email_accepts_subdomains);
    tcase_add_test(tc, email_accepts_hyphen_and_digits_inside_labels);
    tcase_add_test(tc, email_accepts_one_letter_tld);
    tcase_add_test(tc, email_accepts_64_char_local_part);
    tcase_add_test(tc, email_accepts_63_char_label);
    tcase_add_test(tc, email_accepts_254_chars_in_total);
    tcase_add_test(tc, email_accepts_utf8_local_part_and_domain);
    tcase_add_test(tc, email_refuses_empty);
    tcase_add_test(tc, email_refuses_missing_at);
    tcase_add_test(tc, email_refuses_two_ats);
    tcase_add_test(tc, email_refuses_empty_local_part);
    tcase_add_test(tc, email_refuses_empty_domain);
    tcase_add_test(tc, email_refuses_leading_dot_in_local_part);
    tcase_add_test(tc, email_refuses_trailing_dot_in_local_part);
    tcase_add_test(tc, email_refuses_double_dot_in_local_part);
    tcase_add_test(tc, email_refuses_leading_trailing_or_double_dot_in_domain);
    tcase_add_test(tc, email_refuses_65_char_local_part);
    tcase_add_test(tc, email_refuses_255_chars_in_total);
    tcase_add_test(tc, email_refuses_64_char_label);
    tcase_add_test(tc, email_refuses_label_starting_with_hyphen);
    tcase_add_test(tc, email_refuses_label_ending_with_hyphen);
    tcase_add_test(tc, email_refuses_all_digit_tld);
    tcase_add_test(tc, email_refuses_single_label_domain);
    tcase_add_test(tc, email_refuses_ip_literal);
    tcase_add_test(tc, email_refuses_spaces);
    tcase_add_test(tc, email_refuses_control_chars);
    tcase_add_test(tc, email_refuses_quotes_and_specials);
    tcase_add_test(tc, email_refuses_underscore_in_domain);
    suite_add_tcase(s, tc);

    tc = ut_tcase("uuid");
    tcase_add_test(tc, uuid_accepts_lowercase);
    tcase_add_test(tc, uuid_accepts_uppercase_and_mixed_case);
    tcase_add_test(tc, uuid_accepts_nil_uuid);
    tcase_add_test(tc, uuid_refuses_empty);
    tcase_add_test(tc, uuid_refuses_one_char_short_or_long);
    tcase_add_test(tc, uuid_refuses_missing_dashes);
    tcase_add_test(tc, uuid_refuses_dashes_in_wrong_places);
    tcase_add_test(tc, uuid_refuses_non_hex_digit);
    tcase_add_test(tc, uuid_refuses_braces_and_urn);
    suite_add_tcase(s, tc);

    tc = ut_tcase("phone");
    tcase_add_test(tc, phone_accepts_international_format);
    tcase_add_test(tc, phone_accepts_dots_and_extension);
    tcase_add_test(tc, phone_accepts_digits_only);
    tcase_add_test(tc, phone_refuses_no_digit);
    tcase_add_test(tc, phone_refuses_letters_and_other_symbols);
    tcase_add_test(tc, phone_refuses_control_chars_and_non_ascii_digits);
    suite_add_tcase(s, tc);

    tc = ut_tcase("iso8601");
    tcase_add_test(tc, iso8601_accepts_date);
    tcase_add_test(tc, iso8601_accepts_date_time_utc);
    tcase_add_test(tc, iso8601_accepts_offsets);
    tcase_add_test(tc, iso8601_accepts_fractions_of_1_to_6_digits);
    tcase_add_test(tc, iso8601_accepts_time_without_offset_or_seconds);
    tcase_add_test(tc, iso8601_accepts_space_as_separator);
    tcase_add_test(tc, iso8601_accepts_day_and_time_bounds);
    tcase_add_test(tc, iso8601_refuses_the_first_millennium);
    tcase_add_test(tc, iso8601_accepts_feb_29_in_leap_years);
    tcase_add_test(tc, iso8601_refuses_feb_29_in_common_years);
    tcase_add_test(tc, iso8601_refuses_days_past_end_of_month);
    tcase_add_test(tc, iso8601_refuses_month_or_day_zero);
    tcase_add_test(tc, iso8601_refuses_month_13);
    tcase_add_test(tc, iso8601_refuses_year_zero);
    tcase_add_test(tc, iso8601_refuses_other_date_spellings);
    tcase_add_test(tc, iso8601_refuses_hour_24_minute_60_second_60);
    tcase_add_test(tc, iso8601_refuses_other_separators);
    tcase_add_test(tc, iso8601_refuses_empty_or_long_fraction);
    tcase_add_test(tc, iso8601_refuses_bad_offsets);
    tcase_add_test(tc, iso8601_refuses_junk_after);
    suite_add_tcase(s, tc);

    return s;
}
