/*
 * test_scim_groups.c: src/scim_group_body.c (PATCH operations, Group
 * documents, If-Match), the Group filter, and the /Groups paths.
 */
#include <string.h>
#include <apr_strings.h>
#include "unit.h"
#include "scim_group_body.h"
#include "scim_filter.h"
#include "pipeline.h"

static const char *ids(const apr_array_header_t *a)
{
    return ub_scim_id_array(ut_pool, a);
}

/* The change a PATCH body (with ' for ") makes, as
 * "name|reset|{add}|{remove}", or "400 scimType" when refused. */
static const char *patch(const char *ops)
{
    ub_problem p = { 0 };
    ub_scim_group_change c;
    const char *body = apr_pstrcat(ut_pool, ut_q("{'schemas':['urn:ietf:params:scim:api:messages:2.0:PatchOp'],'Operations':"),
                                   ut_q(ops), "}", NULL);

    if (ub_scim_group_patch_read(ut_pool, body, strlen(body), 3, &c, &p) != 0) {
        ck_assert_int_eq(p.status, 400);
        return apr_psprintf(ut_pool, "400 %s", p.scim_type);
    }
    return apr_psprintf(ut_pool, "%s|%d|%s|%s", c.name ? c.name : "-", c.reset, ids(c.add),
                        ids(c.remove));
}

START_TEST(scim_group_patch_shapes)
{
    /* Entra */
    ck_assert_str_eq(patch("[{'op':'Add','path':'members','value':[{'value':'a'},{'value':'b'}]}]"),
                     "-|0|{\"a\",\"b\"}|{}");
    ck_assert_str_eq(patch("[{'op':'Remove','path':'members[value eq \\'a\\']'}]"), "-|0|{}|{\"a\"}");
    ck_assert_str_eq(patch("[{'op':'Replace','path':'displayName','value':'G'}]"), "G|0|{}|{}");
    /* Okta */
    ck_assert_str_eq(patch("[{'op':'replace','path':'members','value':[{'value':'a','display':'x'}]}]"),
                     "-|1|{\"a\"}|{}");
    ck_assert_str_eq(patch("[{'op':'remove','path':'members','value':[{'value':'a'}]}]"), "-|0|{}|{\"a\"}");
    ck_assert_str_eq(patch("[{'op':'replace','value':{'id':'x','displayName':'N'}}]"), "N|0|{}|{}");
    ck_assert_str_eq(patch("[{'op':'add','value':{'members':[{'value':'a'}]}}]"), "-|0|{\"a\"}|{}");
    /* remove all, then add: starts from none */
    ck_assert_str_eq(patch("[{'op':'add','path':'members','value':[{'value':'a'}]},"
                           "{'op':'remove','path':'members'},"
                           "{'op':'add','path':'members','value':[{'value':'b'}]}]"), "-|1|{\"b\"}|{}");
    /* the last word on a member wins */
    ck_assert_str_eq(patch("[{'op':'add','path':'members','value':[{'value':'a'}]},"
                           "{'op':'remove','path':'members[value eq \\'a\\']'}]"), "-|0|{}|{\"a\"}");
    /* the URN prefix, spaces in the value filter, externalId ignored */
    ck_assert_str_eq(patch("[{'op':'replace','path':'urn:ietf:params:scim:schemas:core:2.0:Group:displayName','value':'U'},"
                           "{'op':'remove','path':'members[ value  eq  \\'z\\' ]'},"
                           "{'op':'replace','path':'externalId','value':'e'}]"), "U|0|{}|{\"z\"}");
}
END_TEST

START_TEST(scim_group_patch_refusals)
{
    ck_assert_str_eq(patch("[{'op':'move','path':'members'}]"), "400 invalidSyntax");
    ck_assert_str_eq(patch("[{'path':'members'}]"), "400 invalidSyntax");
    ck_assert_str_eq(patch("[]"), "400 invalidSyntax");
    ck_assert_str_eq(patch("[{'op':'remove'}]"), "400 noTarget");
    ck_assert_str_eq(patch("[{'op':'remove','path':'displayName'}]"), "400 mutability");
    ck_assert_str_eq(patch("[{'op':'add','path':'owner','value':1}]"), "400 invalidPath");
    ck_assert_str_eq(patch("[{'op':'add','path':'members[value eq \\'a\\']','value':1}]"), "400 invalidPath");
    ck_assert_str_eq(patch("[{'op':'remove','path':'members[value ne \\'a\\']'}]"), "400 invalidPath");
    ck_assert_str_eq(patch("[{'op':'add','value':{'owner':'x'}}]"), "400 invalidPath");
    ck_assert_str_eq(patch("[{'op':'add','path':'members','value':[{'value':7}]}]"), "400 invalidValue");
    ck_assert_str_eq(patch("[{'op':'add','path':'members'}]"), "400 invalidValue");
    ck_assert_str_eq(patch("[{'op':'add','path':'displayName','value':''}]"), "400 invalidValue");
    /* the limit is 3 member values here */
    ck_assert_str_eq(patch("[{'op':'add','path':'members','value':[{'value':'a'},{'value':'b'},{'value':'c'},{'value':'d'}]}]"),
                     "400 invalidValue");
    ck_assert_str_eq(patch("[{'op':'add','path':'members','value':[{'value':'a'},{'value':'b'},{'value':'c'}]}]"),
                     "-|0|{\"a\",\"b\",\"c\"}|{}");
}
END_TEST

START_TEST(scim_group_documents)
{
    ub_problem p = { 0 };
    ub_scim_group_change c;
    const char *ok = ut_q("{'schemas':['urn:ietf:params:scim:schemas:core:2.0:Group'],'displayName':'G',"
                          "'externalId':'e','members':[{'value':'a'}]}");
    const char *noname = ut_q("{'schemas':['urn:ietf:params:scim:schemas:core:2.0:Group']}");
    const char *noschema = ut_q("{'displayName':'G'}");

    ck_assert_int_eq(ub_scim_group_doc_read(ut_pool, ok, strlen(ok), 10, &c, &p), 0);
    ck_assert_str_eq(c.name, "G");
    ck_assert_int_eq(c.reset, 1);
    ck_assert_str_eq(ids(c.add), "{\"a\"}");
    ck_assert_int_eq(ub_scim_group_doc_read(ut_pool, noname, strlen(noname), 10, &c, &p), 400);
    ck_assert_str_eq(p.scim_type, "invalidValue");
    ck_assert_int_eq(ub_scim_group_doc_read(ut_pool, noschema, strlen(noschema), 10, &c, &p), 400);
    ck_assert_str_eq(p.scim_type, "invalidSyntax");
}
END_TEST

static const char *if_match(const char *h)
{
    ub_problem p = { 0 };
    const char *tags = NULL;

    if (ub_scim_if_match_tags(ut_pool, h, &tags, &p) != 0) {
        return "400";
    }
    return tags ? tags : "(none)";
}

START_TEST(scim_group_if_match)
{
    ck_assert_str_eq(if_match(NULL), "(none)");
    ck_assert_str_eq(if_match("*"), "{\"*\"}");
    ck_assert_str_eq(if_match("W/\"abc\""), "{\"abc\"}");
    ck_assert_str_eq(if_match("\"abc\", W/\"def\""), "{\"abc\",\"def\"}");
    ck_assert_str_eq(if_match("abc"), "400");
    ck_assert_str_eq(if_match("\"abc"), "400");
    ck_assert_str_eq(if_match("* \"x\""), "400");
    ck_assert_str_eq(if_match("\"a\" \"b\""), "400");
}
END_TEST

START_TEST(scim_group_filter_and_paths)
{
    ub_problem p = { 0 };
    const char *d = NULL, *base, *path;

    ck_assert_int_eq(ub_scim_group_filter_parse(ut_pool, "displayName eq \"G\"", &d, &p), 0);
    ck_assert_str_eq(d, ut_q("{'op':'eq','a':'displayname','ci':true,'v':'G'}"));
    ck_assert_int_eq(ub_scim_group_filter_parse(ut_pool, "id eq \"x\"", &d, &p), 0);
    ck_assert_str_eq(d, ut_q("{'op':'eq','a':'id','ci':false,'v':'x'}"));
    ck_assert_int_eq(ub_scim_group_filter_parse(ut_pool, "userName eq \"x\"", &d, &p), 400);
    ck_assert_int_eq(ub_scim_group_filter_parse(ut_pool, "members eq \"x\"", &d, &p), 400);
    /* a User's value paths are not a Group's (its table has none) */
    ck_assert_int_eq(ub_scim_group_filter_parse(ut_pool, "emails[type eq \"work\"]", &d, &p), 400);
    ck_assert_int_eq(ub_scim_group_filter_parse(ut_pool, "phoneNumbers[value pr]", &d, &p), 400);
    ck_assert_int_eq(ub_scim_filter_parse(ut_pool, "displayName eq \"x\"", &d, &p), 0);

    ck_assert_int_eq(ub_scim_split_uri(ut_pool, "/scim/v2/Groups", &base, &path), 1);
    ck_assert_str_eq(base, "/scim/v2");
    ck_assert_str_eq(path, "/Groups");
    ck_assert_int_eq(ub_scim_split_uri(ut_pool, "/scim/v2/Groups/abc", &base, &path), 1);
    ck_assert_str_eq(path, "/Groups/abc");
}
END_TEST

Suite *scim_groups_suite(void)
{
    Suite *s = suite_create("scim_groups");
    TCase *tc = ut_tcase("scim_groups");

    tcase_add_test(tc, scim_group_patch_shapes);
    tcase_add_test(tc, scim_group_patch_refusals);
    tcase_add_test(tc, scim_group_documents);
    tcase_add_test(tc, scim_group_if_match);
    tcase_add_test(tc, scim_group_filter_and_paths);
    suite_add_tcase(s, tc);
    return s;
}
