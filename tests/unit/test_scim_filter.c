/*
 * test_scim_filter.c: src/scim_filter.c, the SCIM filter parser, and the
 * SCIM parts of the pipeline that need no database (the URI's split).
 */
#include <string.h>
#include <apr_strings.h>
#include "unit.h"
#include "scim_filter.h"
#include "scim_users.h"
#include "pipeline.h"

/* The description of f, or NULL when refused. */
static const char *parse(const char *f)
{
    ub_problem p = { 0 };
    const char *d = NULL;

    if (ub_scim_filter_parse(ut_pool, f, &d, &p) != 0) {
        ck_assert_int_eq(p.status, 400);
        ck_assert_str_eq(p.scim_type, "invalidFilter");
        return NULL;
    }
    return d;
}

static void refused(const char *f)
{
    ck_assert_msg(parse(f) == NULL, "accepted: %s", f);
}

START_TEST(scim_filter_comparisons)
{
    ck_assert_str_eq(parse("userName eq \"bjensen\""),
                     ut_q("{'op':'eq','a':'username','ci':true,'v':'bjensen'}"));
    ck_assert_str_eq(parse("id eq \"x\""), ut_q("{'op':'eq','a':'id','ci':false,'v':'x'}"));
    ck_assert_str_eq(parse("name.familyName co \"O'Malley\""),
                     "{\"op\":\"co\",\"a\":\"name.familyname\",\"ci\":true,\"v\":\"O'Malley\"}");
    ck_assert_str_eq(parse("emails pr"), ut_q("{'op':'pr','a':'emails.value'}"));
    ck_assert_str_eq(parse("active eq false"),
                     ut_q("{'op':'eq','a':'active','ci':true,'v':false}"));
    ck_assert_str_eq(parse("name.givenName eq null"),
                     ut_q("{'op':'eq','a':'name.givenname','ci':true,'v':null}"));
    ck_assert_str_eq(parse("meta.lastModified gt \"2011-05-13T04:42:34Z\""),
                     ut_q("{'op':'gt','a':'meta.lastmodified','ci':true,'v':'2011-05-13T04:42:34Z'}"));
    ck_assert_ptr_nonnull(parse("userName sw \"J\""));
    ck_assert_ptr_nonnull(parse("emails.value ew \"@example.com\""));
    ck_assert_ptr_nonnull(parse("userName ne \"a\""));
    ck_assert_ptr_nonnull(parse("userName ge \"a\""));
    ck_assert_ptr_nonnull(parse("userName lt \"a\""));
    ck_assert_ptr_nonnull(parse("userName le \"a\""));
}
END_TEST

START_TEST(scim_filter_case_exactness)
{
    /* RFC 7643: id and externalId caseExact, userName and emails not */
    ck_assert_str_eq(parse("externalId eq \"0a21F\""),
                     ut_q("{'op':'eq','a':'externalid','ci':false,'v':'0a21F'}"));
    ck_assert_str_eq(parse("id eq \"A\""), ut_q("{'op':'eq','a':'id','ci':false,'v':'A'}"));
    ck_assert_str_eq(parse("userName eq \"A\""), ut_q("{'op':'eq','a':'username','ci':true,'v':'A'}"));
    ck_assert_str_eq(parse("emails.value eq \"A\""),
                     ut_q("{'op':'eq','a':'emails.value','ci':true,'v':'A'}"));
    ck_assert_str_eq(parse("emails.type eq \"Work\""),
                     ut_q("{'op':'eq','a':'emails.type','ci':true,'v':'Work'}"));
}
END_TEST

START_TEST(scim_filter_multi_valued)
{
    /* emails holds one value: its value path is its condition as written */
    ck_assert_str_eq(parse("emails[type eq \"work\" and value co \"@example.com\"]"),
                     ut_q("{'op':'and','l':{'op':'eq','a':'emails.type','ci':true,'v':'work'},"
                          "'r':{'op':'co','a':'emails.value','ci':true,'v':'@example.com'}}"));
    ck_assert_str_eq(parse("urn:ietf:params:scim:schemas:core:2.0:User:EMAILS[ TYPE eq \"work\" ]"),
                     ut_q("{'op':'eq','a':'emails.type','ci':true,'v':'work'}"));
    /* phoneNumbers holds two: some value satisfies the whole value path */
    ck_assert_str_eq(parse("phoneNumbers[type eq \"work\"]"),
                     ut_q("{'op':'has','a':'phonenumbers','e':"
                          "{'op':'eq','a':'phonenumbers.type','ci':true,'v':'work'}}"));
    ck_assert_str_eq(parse("phoneNumbers[type eq \"work\" and not (value sw \"+1\")] or id pr"),
                     ut_q("{'op':'or','l':{'op':'has','a':'phonenumbers','e':"
                          "{'op':'and','l':{'op':'eq','a':'phonenumbers.type','ci':true,'v':'work'},"
                          "'r':{'op':'not','e':{'op':'sw','a':'phonenumbers.value','ci':true,'v':'+1'}}}},"
                          "'r':{'op':'pr','a':'id'}}"));
    ck_assert_str_eq(parse("phoneNumbers[value ne null]"),
                     ut_q("{'op':'has','a':'phonenumbers','e':"
                          "{'op':'ne','a':'phonenumbers.value','ci':true,'v':null}}"));
    /* outside a value path: some value compares; ne and eq null: none */
    ck_assert_str_eq(parse("phoneNumbers.value co \"555\""),
                     ut_q("{'op':'has','a':'phonenumbers','e':"
                          "{'op':'co','a':'phonenumbers.value','ci':true,'v':'555'}}"));
    ck_assert_str_eq(parse("phoneNumbers eq \"1\""),
                     ut_q("{'op':'has','a':'phonenumbers','e':"
                          "{'op':'eq','a':'phonenumbers.value','ci':true,'v':'1'}}"));
    ck_assert_str_eq(parse("phoneNumbers.value ne \"1\""),
                     ut_q("{'op':'not','e':{'op':'has','a':'phonenumbers','e':"
                          "{'op':'eq','a':'phonenumbers.value','ci':true,'v':'1'}}}"));
    ck_assert_str_eq(parse("phoneNumbers pr"),
                     ut_q("{'op':'has','a':'phonenumbers','e':{'op':'pr','a':'phonenumbers.value'}}"));
    ck_assert_str_eq(parse("phoneNumbers.type eq null"),
                     ut_q("{'op':'not','e':{'op':'has','a':'phonenumbers','e':"
                          "{'op':'pr','a':'phonenumbers.type'}}}"));
    ck_assert_str_eq(parse("phoneNumbers.type ne null"),
                     ut_q("{'op':'has','a':'phonenumbers','e':{'op':'pr','a':'phonenumbers.type'}}"));
}
END_TEST

START_TEST(scim_filter_names_and_keywords_ignore_case)
{
    const char *want = ut_q("{'op':'eq','a':'username','ci':true,'v':'Bob'}");

    ck_assert_str_eq(parse("USERNAME EQ \"Bob\""), want);
    ck_assert_str_eq(parse("urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"Bob\""), want);
    ck_assert_str_eq(parse("  userName   Eq   \"Bob\"  "), want);
}
END_TEST

START_TEST(scim_filter_precedence)
{
    /* and binds tighter than or; chains nest to the left */
    ck_assert_str_eq(parse("userName eq \"a\" or userName eq \"b\" and active eq true"),
                     ut_q("{'op':'or','l':{'op':'eq','a':'username','ci':true,'v':'a'},"
                          "'r':{'op':'and','l':{'op':'eq','a':'username','ci':true,'v':'b'},"
                          "'r':{'op':'eq','a':'active','ci':true,'v':true}}}"));
    ck_assert_str_eq(parse("(userName eq \"a\" or userName eq \"b\") and active eq true"),
                     ut_q("{'op':'and','l':{'op':'or','l':{'op':'eq','a':'username','ci':true,'v':'a'},"
                          "'r':{'op':'eq','a':'username','ci':true,'v':'b'}},"
                          "'r':{'op':'eq','a':'active','ci':true,'v':true}}"));
    ck_assert_str_eq(parse("active pr and active pr and id pr"),
                     ut_q("{'op':'and','l':{'op':'and','l':{'op':'pr','a':'active'},"
                          "'r':{'op':'pr','a':'active'}},'r':{'op':'pr','a':'id'}}"));
    ck_assert_str_eq(parse("not (active eq true)"),
                     ut_q("{'op':'not','e':{'op':'eq','a':'active','ci':true,'v':true}}"));
    ck_assert_str_eq(parse("NOT(active eq true) or id pr"),
                     ut_q("{'op':'or','l':{'op':'not','e':{'op':'eq','a':'active','ci':true,'v':true}},"
                          "'r':{'op':'pr','a':'id'}}"));
}
END_TEST

START_TEST(scim_filter_string_escapes)
{
    ck_assert_str_eq(parse("userName eq \"a\\\"b\\\\c\\/d\\u00e9\\ud83d\\ude00\\n\""),
                     "{\"op\":\"eq\",\"a\":\"username\",\"ci\":true,\"v\":\"a\\\"b\\\\c/d\xc3\xa9\xf0\x9f\x98\x80\\n\"}");
    refused("userName eq \"a\\u0000\"");
    refused("userName eq \"\\ud83d\"");
    refused("userName eq \"\\ude00\"");
    refused("userName eq \"\\x\"");
    refused("userName eq \"\\u12\"");
    refused("userName eq \"abc");
    refused("userName eq \"a\tb\"");
    refused("userName eq \"\xff\"");
    refused("userName eq \"\xc3\"");
}
END_TEST

START_TEST(scim_filter_refusals)
{
    refused("");
    refused("   ");
    refused("userName");
    refused("userName eq");
    refused("userName eq bob");
    refused("userName xx \"a\"");
    refused("userName eq \"a\" junk");
    refused("userName eq \"a\" and");
    refused("userName eq \"a\" and or id pr");
    refused("(userName eq \"a\"");
    refused("userName eq \"a\")");
    refused("not userName eq \"a\"");
    refused("password eq \"x\"");
    refused("externalId eq true");
    refused("emails[type eq \"work\"");
    refused("emails[type eq \"work\"]]");
    refused("emails[]");
    refused("emails [type eq \"work\"]");
    refused("emails[emails.type eq \"work\"]");  /* sub-attributes alone inside */
    refused("emails[foo eq \"x\"]");
    refused("emails[value[type eq \"x\"]]");
    refused("phoneNumbers[type eq \"work\" and emails[type pr]]");
    refused("name[givenName eq \"x\"]");
    refused("userName[value eq \"x\"]");
    refused("emails[userName eq \"x\"]");
    refused("emails[type eq \"work\"].value eq \"x\"");
    refused("phoneNumbers.primary eq true");
    refused("userName eq 42");
    refused("userName eq true");
    refused("active eq \"true\"");
    refused("active gt true");
    refused("active co true");
    refused("userName gt null");
    refused("meta.lastModified gt \"yesterday\"");
    refused("meta.lastModified gt \"2011-05-13\"");
    refused("meta.lastModified co \"2011-05-13T04:42:34Z\"");
    refused("userName eq\"a\"");
    refused("userNameeq \"a\"");
}
END_TEST

START_TEST(scim_filter_caps)
{
    ub_problem p = { 0 };
    const char *d;
    int i;
    const char *deep = "";

    for (i = 0; i < UB_SCIM_FILTER_MAX_DEPTH; i++) {
        deep = apr_pstrcat(ut_pool, "(", deep, NULL);
    }
    deep = apr_pstrcat(ut_pool, deep, "id pr", NULL);
    for (i = 0; i < UB_SCIM_FILTER_MAX_DEPTH; i++) {
        deep = apr_pstrcat(ut_pool, deep, ")", NULL);
    }
    ck_assert_ptr_nonnull(parse(deep));
    refused(apr_pstrcat(ut_pool, "(", deep, ")", NULL));
    refused(ut_repeat("not (", 100));
    /* a value path is a level too */
    deep = "";
    for (i = 0; i < UB_SCIM_FILTER_MAX_DEPTH - 1; i++) {
        deep = apr_pstrcat(ut_pool, "(", deep, NULL);
    }
    d = apr_pstrcat(ut_pool, deep, "phoneNumbers[type pr]", NULL);
    for (i = 0; i < UB_SCIM_FILTER_MAX_DEPTH - 1; i++) {
        d = apr_pstrcat(ut_pool, d, ")", NULL);
    }
    ck_assert_ptr_nonnull(parse(d));
    refused(apr_pstrcat(ut_pool, "(", d, ")", NULL));
    /* comparisons inside value paths count */
    refused(apr_pstrcat(ut_pool, ut_repeat("emails[type pr] or ", UB_SCIM_FILTER_MAX_TERMS),
                        "id pr", NULL));

    /* terms */
    ck_assert_ptr_nonnull(parse(apr_pstrcat(ut_pool, ut_repeat("id pr or ", UB_SCIM_FILTER_MAX_TERMS - 1),
                                            "id pr", NULL)));
    refused(apr_pstrcat(ut_pool, ut_repeat("id pr or ", UB_SCIM_FILTER_MAX_TERMS), "id pr", NULL));

    /* length */
    d = apr_pstrcat(ut_pool, "userName eq \"", ut_repeat("a", UB_SCIM_FILTER_MAX_LEN), "\"", NULL);
    ck_assert_int_eq(ub_scim_filter_parse(ut_pool, d, &d, &p), 400);
    ck_assert_ptr_nonnull(strstr(p.message, "longer than"));
}
END_TEST

START_TEST(scim_filter_error_says_where)
{
    ub_problem p = { 0 };
    const char *d;

    ck_assert_int_eq(ub_scim_filter_parse(ut_pool, "userName qq \"a\"", &d, &p), 400);
    ck_assert_ptr_nonnull(strstr(p.message, "at character 10"));
    ck_assert_str_eq(p.code, "invalidFilter");
}
END_TEST

START_TEST(scim_attribute_lists)
{
    ub_problem p = { 0 };
    const char *json = "x";

    ck_assert_int_eq(ub_scim_attr_list(ut_pool, "count=1", "attributes", &json, &p), 0);
    ck_assert_ptr_null(json);
    ck_assert_int_eq(ub_scim_attr_list(ut_pool,
        "attributes=userName,%20name.familyName%20,urn:ietf:params:scim:schemas:core:2.0:User:emails",
        "attributes", &json, &p), 0);
    ck_assert_str_eq(json, ut_q("['userName','name.familyName','emails']"));
    ck_assert_int_eq(ub_scim_attr_list(ut_pool, "attributes=a%22b", "attributes", &json, &p), 400);
    ck_assert_str_eq(p.scim_type, "invalidValue");
    ck_assert_int_eq(ub_scim_attr_list(ut_pool, "attributes=a,,b", "attributes", &json, &p), 0);
    ck_assert_int_eq(ub_scim_attr_list(ut_pool,
        apr_pstrcat(ut_pool, "attributes=", ut_repeat("a,", UB_SCIM_MAX_ATTRS + 1), NULL),
        "attributes", &json, &p), 400);
}
END_TEST

START_TEST(scim_uri_split)
{
    const char *base = NULL, *path = NULL;

    ck_assert_int_eq(ub_scim_split_uri(ut_pool, "/scim/v2/Users", &base, &path), 1);
    ck_assert_str_eq(base, "/scim/v2");
    ck_assert_str_eq(path, "/Users");
    ck_assert_int_eq(ub_scim_split_uri(ut_pool, "/scim/v2/Users/abc", &base, &path), 1);
    ck_assert_str_eq(base, "/scim/v2");
    ck_assert_str_eq(path, "/Users/abc");
    ck_assert_int_eq(ub_scim_split_uri(ut_pool, "/scim/v2/Users/Users", &base, &path), 1);
    ck_assert_str_eq(path, "/Users/Users");
    ck_assert_int_eq(ub_scim_split_uri(ut_pool, "/x/Schemas/urn:a:b", &base, &path), 1);
    ck_assert_str_eq(base, "/x");
    ck_assert_str_eq(path, "/Schemas/urn:a:b");
    ck_assert_int_eq(ub_scim_split_uri(ut_pool, "/scim/v2/ServiceProviderConfig", &base, &path), 1);
    ck_assert_str_eq(path, "/ServiceProviderConfig");
    ck_assert_int_eq(ub_scim_split_uri(ut_pool, "/scim/v2/Me", &base, &path), 0);
    ck_assert_int_eq(ub_scim_split_uri(ut_pool, "/scim/v2", &base, &path), 0);
    ck_assert_int_eq(ub_scim_split_uri(ut_pool, "/scim/v2/Users/a/b", &base, &path), 0);
    ck_assert_int_eq(ub_scim_split_uri(ut_pool, "/scim/v2/XUsers", &base, &path), 0);
}
END_TEST

Suite *scim_filter_suite(void)
{
    Suite *s = suite_create("scim_filter");
    TCase *tc = ut_tcase("scim_filter");

    tcase_add_test(tc, scim_filter_comparisons);
    tcase_add_test(tc, scim_filter_case_exactness);
    tcase_add_test(tc, scim_filter_multi_valued);
    tcase_add_test(tc, scim_filter_names_and_keywords_ignore_case);
    tcase_add_test(tc, scim_filter_precedence);
    tcase_add_test(tc, scim_filter_string_escapes);
    tcase_add_test(tc, scim_filter_refusals);
    tcase_add_test(tc, scim_filter_caps);
    tcase_add_test(tc, scim_filter_error_says_where);
    tcase_add_test(tc, scim_attribute_lists);
    tcase_add_test(tc, scim_uri_split);
    suite_add_tcase(s, tc);
    return s;
}
