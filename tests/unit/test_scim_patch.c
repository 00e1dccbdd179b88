/*
 * test_scim_patch.c: src/scim_patch.c, PATCH compiled to column
 * assignments, and src/scim_map.c's whole-User reading and If-Match.
 */
#include <string.h>
#include <apr_strings.h>
#include "unit.h"
#include "jdoc.h"
#include "scim_patch.h"
#include "scim_map.h"
#include "scim_write.h"
#include "textbuf.h"

#define PATCH_OPS(ops) \
    "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":" ops "}"

static int compile(const char *body, ub_scim_cols *cols, ub_problem *p)
{
    const ub_jval *doc;

    memset(p, 0, sizeof(*p));
    doc = ub_jdoc_parse(ut_pool, body, strlen(body), p);
    ck_assert_msg(doc != NULL, "not JSON: %s", body);
    return ub_scim_patch_compile(ut_pool, doc, cols, p);
}

/* Compiles body, which must pass. */
static ub_scim_cols ok(const char *body)
{
    ub_scim_cols cols;
    ub_problem p;

    ck_assert_msg(compile(body, &cols, &p) == 0, "refused %s: %s", body, p.message);
    return cols;
}

/* Compiles body, which must be refused with scim_type, the detail
 * containing naming. */
static void refused(const char *body, const char *scim_type, const char *naming)
{
    ub_scim_cols cols;
    ub_problem p;

    ck_assert_msg(compile(body, &cols, &p) == 400, "accepted: %s", body);
    ck_assert_str_eq(p.scim_type, scim_type);
    ck_assert_msg(strstr(p.message, naming) != NULL, "%s does not name %s", p.message, naming);
}

#define BIT(c) (1u << (c))

/* Entries of a type no column keeps (Entra's default mapping sends a fax
 * number, a home address) are ignored, not refused; a mobile number lands
 * in phone2 whatever its position. */
START_TEST(patch_unkept_types)
{
    ub_scim_cols c;

    c = ok(PATCH_OPS("[{\"op\":\"Add\",\"path\":\"phoneNumbers[type eq \\\"fax\\\"].value\",\"value\":\"+1 555 0199\"},"
                     "{\"op\":\"replace\",\"path\":\"emails[type eq \\\"home\\\"].value\",\"value\":\"a@b.example\"}]"));
    ck_assert_uint_eq(c.set, 0);
    c = ok(PATCH_OPS("[{\"op\":\"add\",\"path\":\"phoneNumbers\",\"value\":["
                     "{\"type\":\"fax\",\"value\":\"+1 555 0198\"},"
                     "{\"type\":\"mobile\",\"value\":\"+1 555 0197\"}]}]"));
    ck_assert_uint_eq(c.set, BIT(UB_SCIM_COL_PHONE2));
    ck_assert_str_eq(c.v[UB_SCIM_COL_PHONE2], "+1 555 0197");
}
END_TEST

START_TEST(patch_okta_active)
{
    ub_scim_cols c = ok(PATCH_OPS("[{\"op\":\"replace\",\"value\":{\"active\":false}}]"));

    ck_assert_uint_eq(c.set, BIT(UB_SCIM_COL_LOCKED_OUT));
    ck_assert_str_eq(c.v[UB_SCIM_COL_LOCKED_OUT], "true");
    c = ok(PATCH_OPS("[{\"op\":\"replace\",\"value\":{\"active\":true}}]"));
    ck_assert_str_eq(c.v[UB_SCIM_COL_LOCKED_OUT], "false");
}
END_TEST

START_TEST(patch_entra_forms)
{
    ub_scim_cols c = ok(PATCH_OPS(
        "[{\"op\":\"Replace\",\"path\":\"emails[type eq \\\"work\\\"].value\",\"value\":\"a@b.example\"},"
        "{\"op\":\"Add\",\"path\":\"phoneNumbers[type eq \\\"mobile\\\"].value\",\"value\":\"+1 555 0101\"},"
        "{\"op\":\"Replace\",\"path\":\"phoneNumbers[type eq \\\"Work\\\"].value\",\"value\":\"+1 555 0100\"},"
        "{\"op\":\"REPLACE\",\"path\":\"urn:ietf:params:scim:schemas:core:2.0:User:name.familyName\",\"value\":\"F\"}]"));

    ck_assert_uint_eq(c.set, BIT(UB_SCIM_COL_EMAIL) | BIT(UB_SCIM_COL_PHONE1)
                             | BIT(UB_SCIM_COL_PHONE2) | BIT(UB_SCIM_COL_FAMILY));
    ck_assert_str_eq(c.v[UB_SCIM_COL_EMAIL], "a@b.example");
    ck_assert_str_eq(c.v[UB_SCIM_COL_PHONE1], "+1 555 0100");
    ck_assert_str_eq(c.v[UB_SCIM_COL_PHONE2], "+1 555 0101");
    ck_assert_str_eq(c.v[UB_SCIM_COL_FAMILY], "F");

    /* pathless, dotted and URN keys, active as a string, the extension's
     * attributes (costCenter: no column, ignored) */
    c = ok(PATCH_OPS("[{\"op\":\"Replace\",\"value\":{\"name.givenName\":\"G\","
                     "\"urn:ietf:params:scim:schemas:core:2.0:User:displayName\":\"D\","
                     "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department\":\"X\","
                     "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter\":\"C\","
                     "\"externalId\":\"e1\",\"active\":\"False\"}}]"));
    ck_assert_uint_eq(c.set, BIT(UB_SCIM_COL_GIVEN) | BIT(UB_SCIM_COL_DISPLAY)
                             | BIT(UB_SCIM_COL_LOCKED_OUT) | BIT(UB_SCIM_COL_DEPARTMENT)
                             | BIT(UB_SCIM_COL_EXTERNAL_ID));
    ck_assert_str_eq(c.v[UB_SCIM_COL_LOCKED_OUT], "true");
    ck_assert_str_eq(c.v[UB_SCIM_COL_DEPARTMENT], "X");
    ck_assert_str_eq(c.v[UB_SCIM_COL_EXTERNAL_ID], "e1");

    /* the extension's object (Okta), the manager as a bare id (Entra) or
     * as {"value": id}, manager.value, and its removal */
    c = ok(PATCH_OPS("[{\"op\":\"replace\",\"value\":{"
                     "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":"
                     "{\"employeeNumber\":\"E1\",\"manager\":{\"value\":"
                     "\"20000000-0000-4000-8000-000000000001\"}}}}]"));
    ck_assert_uint_eq(c.set, BIT(UB_SCIM_COL_EMPLOYEE_CODE) | BIT(UB_SCIM_COL_MANAGER));
    ck_assert_str_eq(c.v[UB_SCIM_COL_EMPLOYEE_CODE], "E1");
    ck_assert_str_eq(c.v[UB_SCIM_COL_MANAGER], "20000000-0000-4000-8000-000000000001");
    c = ok(PATCH_OPS("[{\"op\":\"Add\",\"path\":"
                     "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager\","
                     "\"value\":\"20000000-0000-4000-8000-000000000002\"}]"));
    ck_assert_str_eq(c.v[UB_SCIM_COL_MANAGER], "20000000-0000-4000-8000-000000000002");
    c = ok(PATCH_OPS("[{\"op\":\"remove\",\"path\":"
                     "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value\"}]"));
    ck_assert_uint_eq(c.set, BIT(UB_SCIM_COL_MANAGER));
    ck_assert_ptr_null(c.v[UB_SCIM_COL_MANAGER]);

    /* Remove */
    c = ok(PATCH_OPS("[{\"op\":\"Remove\",\"path\":\"phoneNumbers[type eq \\\"mobile\\\"].value\"},"
                     "{\"op\":\"remove\",\"path\":\"name\"}]"));
    ck_assert_uint_eq(c.set, BIT(UB_SCIM_COL_PHONE2) | BIT(UB_SCIM_COL_GIVEN)
                             | BIT(UB_SCIM_COL_MIDDLE) | BIT(UB_SCIM_COL_FAMILY));
    ck_assert_ptr_null(c.v[UB_SCIM_COL_PHONE2]);
    ck_assert_ptr_null(c.v[UB_SCIM_COL_GIVEN]);
}
END_TEST

START_TEST(patch_composes_in_order)
{
    ub_scim_cols c = ok(PATCH_OPS(
        "[{\"op\":\"replace\",\"path\":\"name.givenName\",\"value\":\"A\"},"
        "{\"op\":\"replace\",\"path\":\"name\",\"value\":{\"givenName\":\"B\"}},"
        "{\"op\":\"remove\",\"path\":\"displayName\"},"
        "{\"op\":\"add\",\"path\":\"displayName\",\"value\":\"C\"}]"));

    ck_assert_str_eq(c.v[UB_SCIM_COL_GIVEN], "B");
    ck_assert_str_eq(c.v[UB_SCIM_COL_DISPLAY], "C");
    ck_assert_uint_eq(c.set, BIT(UB_SCIM_COL_GIVEN) | BIT(UB_SCIM_COL_DISPLAY));

    /* a multi-valued replace: the entries it does not give are gone */
    c = ok(PATCH_OPS("[{\"op\":\"replace\",\"path\":\"phoneNumbers\",\"value\":"
                     "[{\"value\":\"+1 555 0100\",\"type\":\"mobile\"}]}]"));
    ck_assert_ptr_null(c.v[UB_SCIM_COL_PHONE1]);
    ck_assert_str_eq(c.v[UB_SCIM_COL_PHONE2], "+1 555 0100");
    c = ok(PATCH_OPS("[{\"op\":\"replace\",\"path\":\"emails\",\"value\":"
                     "[{\"value\":\"x@b.example\"},{\"value\":\"p@b.example\",\"primary\":true}]}]"));
    ck_assert_str_eq(c.v[UB_SCIM_COL_EMAIL], "p@b.example");
}
END_TEST

START_TEST(patch_refusals)
{
    refused("{\"Operations\":[]}", "invalidSyntax", "PatchOp");
    refused(PATCH_OPS("[]"), "invalidSyntax", "Operations");
    refused(PATCH_OPS("[{\"op\":\"replace\",\"path\":"
                      "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager\","
                      "\"value\":\"not-an-id\"}]"), "invalidValue", "manager");
    refused(PATCH_OPS("[{\"op\":\"replace\",\"path\":"
                      "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:nickName\","
                      "\"value\":\"x\"}]"), "invalidPath", "nickName");
    refused(PATCH_OPS("[{\"op\":\"move\",\"path\":\"displayName\"}]"), "invalidSyntax",
            "Operations[0]");
    refused(PATCH_OPS("[{\"op\":\"remove\",\"path\":\"emails\"}]"), "invalidValue", "emails");
    refused(PATCH_OPS("[{\"op\":\"remove\",\"path\":\"emails[type eq \\\"work\\\"].value\"}]"),
            "invalidValue", "emails");
    refused(PATCH_OPS("[{\"op\":\"remove\",\"path\":\"userName\"}]"), "mutability", "userName");
    refused(PATCH_OPS("[{\"op\":\"remove\",\"path\":\"active\"}]"), "invalidValue", "active");
    refused(PATCH_OPS("[{\"op\":\"remove\"}]"), "noTarget", "path");
    refused(PATCH_OPS("[{\"op\":\"replace\",\"path\":\"foo\",\"value\":1}]"), "invalidPath", "foo");
    refused(PATCH_OPS("[{\"op\":\"replace\",\"path\":\"name.nick\",\"value\":\"x\"}]"),
            "invalidPath", "name.nick");
    refused(PATCH_OPS("[{\"op\":\"replace\",\"value\":{\"name\":{\"nick\":\"x\"}}}]"),
            "invalidPath", "name.nick");
    refused(PATCH_OPS("[{\"op\":\"replace\",\"path\":\"emails[value eq \\\"x\\\"].value\",\"value\":\"a@b.example\"}]"),
            "invalidFilter", "value filter");
    refused(PATCH_OPS("[{\"op\":\"replace\",\"path\":\"emails[type eq \\\"work\\\".value\",\"value\":\"a@b.example\"}]"),
            "invalidFilter", "emails");
    refused(PATCH_OPS("[{\"op\":\"replace\",\"path\":\"displayName[type eq \\\"x\\\"]\",\"value\":\"a\"}]"),
            "invalidFilter", "multi-valued");
    refused(PATCH_OPS("[{\"op\":\"replace\",\"path\":\"id\",\"value\":\"x\"}]"), "mutability", "id");
    refused(PATCH_OPS("[{\"op\":\"replace\",\"path\":\"meta.version\",\"value\":\"x\"}]"),
            "mutability", "meta");
    refused(PATCH_OPS("[{\"op\":\"replace\",\"value\":{\"active\":\"maybe\"}}]"), "invalidValue",
            "active");
    refused(PATCH_OPS("[{\"op\":\"replace\",\"path\":\"emails[type eq \\\"work\\\"].value\",\"value\":\"nope\"}]"),
            "invalidValue", "emails[type eq \"work\"].value");
    refused(PATCH_OPS("[{\"op\":\"add\",\"path\":\"displayName\"}]"), "invalidValue", "value");
    refused(PATCH_OPS("[{\"op\":\"replace\",\"value\":[1]}]"), "invalidValue", "object");
}
END_TEST

START_TEST(patch_operations_capped)
{
    ub_textbuf tb;
    int i;

    ub_tb_init(&tb, ut_pool, 64 * 1024);
    ub_tb_puts(&tb, "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],"
                    "\"Operations\":[");
    for (i = 0; i < UB_SCIM_MAX_PATCH_OPS; i++) {
        ub_tb_puts(&tb, i ? ",{\"op\":\"add\",\"path\":\"displayName\",\"value\":\"d\"}"
                          : "{\"op\":\"add\",\"path\":\"displayName\",\"value\":\"d\"}");
    }
    ub_tb_puts(&tb, "]}");
    ok(ub_tb_text(&tb));
    tb.len -= 2;
    ub_tb_puts(&tb, ",{\"op\":\"add\",\"path\":\"displayName\",\"value\":\"d\"}]}");
    refused(ub_tb_text(&tb), "invalidValue", "at most 1000 operations");
}
END_TEST

/* The whole-User reading POST, PUT and Bulk share. */
START_TEST(read_user_maps_every_column)
{
    const char *body = "{\"userName\":\"u\",\"name\":{\"givenName\":\"G\",\"familyName\":\"F\"},"
                       "\"emails\":[{\"value\":\"a@b.example\"}],"
                       "\"phoneNumbers\":[{\"value\":\"1\"},{\"value\":\"2\"},{\"value\":\"3\"}],"
                       "\"externalId\":\"x\",\"id\":\"ignored\"}";
    ub_problem p = { 0 };
    const ub_jval *doc = ub_jdoc_parse(ut_pool, body, strlen(body), &p);
    ub_fields f = { ut_pool, apr_array_make(ut_pool, 2, sizeof(ub_field_error)) };
    ub_scim_cols c;

    ub_scim_read_user(&f, doc, &c);
    ck_assert_int_eq(f.errors->nelts, 0);
    ck_assert_uint_eq(c.set, UB_SCIM_ALL_COLS);
    ck_assert_str_eq(c.v[UB_SCIM_COL_USER_NAME], "u");
    ck_assert_ptr_null(c.v[UB_SCIM_COL_MIDDLE]);
    ck_assert_str_eq(c.v[UB_SCIM_COL_PHONE2], "2");
    ck_assert_str_eq(c.v[UB_SCIM_COL_LOCKED_OUT], "false");
    ck_assert_str_eq(c.v[UB_SCIM_COL_EXTERNAL_ID], "x");
    ck_assert_ptr_null(c.v[UB_SCIM_COL_MANAGER]);

    /* typed numbers by their type: a mobile number alone is phone2, a fax
     * is not kept; the enterprise extension's object */
    body = "{\"userName\":\"u\",\"emails\":[{\"value\":\"a@b.example\"}],"
           "\"phoneNumbers\":[{\"type\":\"fax\",\"value\":\"9\"},{\"type\":\"Mobile\",\"value\":\"2\"}],"
           "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":{\"employeeNumber\":\"E\","
           "\"manager\":{\"value\":\"20000000-0000-4000-8000-000000000001\"}}}";
    doc = ub_jdoc_parse(ut_pool, body, strlen(body), &p);
    ub_scim_read_user(&f, doc, &c);
    ck_assert_int_eq(f.errors->nelts, 0);
    ck_assert_ptr_null(c.v[UB_SCIM_COL_PHONE1]);
    ck_assert_str_eq(c.v[UB_SCIM_COL_PHONE2], "2");
    ck_assert_str_eq(c.v[UB_SCIM_COL_EMPLOYEE_CODE], "E");
    ck_assert_str_eq(c.v[UB_SCIM_COL_MANAGER], "20000000-0000-4000-8000-000000000001");
    ck_assert_ptr_null(c.v[UB_SCIM_COL_DEPARTMENT]);
}
END_TEST

START_TEST(if_match_forms)
{
    ub_problem p = { 0 };
    long long v = -1;

    ck_assert_int_eq(ub_scim_if_match_version(ut_pool, NULL, &v, &p), 0);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(ub_scim_if_match_version(ut_pool, "*", &v, &p), 0);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(ub_scim_if_match_version(ut_pool, "W/\"12\"", &v, &p), 0);
    ck_assert_int_eq(v, 12);
    ck_assert_int_eq(ub_scim_if_match_version(ut_pool, "\"7\"", &v, &p), 0);
    ck_assert_int_eq(v, 7);
    ck_assert_int_eq(ub_scim_if_match_version(ut_pool, "W/\"x\"", &v, &p), 412);
    ck_assert_int_eq(ub_scim_if_match_version(ut_pool, "12", &v, &p), 412);
    ck_assert_int_eq(ub_scim_if_match_version(ut_pool, "\"0\"", &v, &p), 412);
}
END_TEST

/* Attribute names compare whole and ignoring case, as SCIM's do. */
START_TEST(attribute_names_compare_whole_ignoring_case)
{
    ck_assert(ub_scim_name_is("userName", "USERNAME", 8));
    ck_assert(ub_scim_name_is("emails", "Emails[type eq \"work\"]", 6));
    ck_assert(!ub_scim_name_is("userName", "userNam", 7));
    ck_assert(!ub_scim_name_is("userName", "userNames", 9));
    ck_assert(!ub_scim_name_is("name", "game", 4));
    ck_assert(!ub_scim_name_is("name", "", 0));
}
END_TEST

/* The operations as the engine reads them, byte for byte: one array of
 * rows of userbulk.scim_input, each text quoted for the row and the row
 * for the array (a quote or a backslash escaped twice), NULL an empty
 * field, a skipped operation left out. tests/sql/scim_write.sql reads
 * this same text back. */
START_TEST(write_input_literal_escapes_twice)
{
    apr_array_header_t *ops = apr_array_make(ut_pool, 3, sizeof(ub_scim_op));
    ub_scim_op *op;
    int n = -1;
    const char *lit;

    op = apr_array_push(ops);
    memset(op, 0, sizeof(*op));
    op->op = "patch";
    op->id = "abc";
    op->cols.set = 6;
    op->expected = 3;
    op->cols.v[UB_SCIM_COL_EMAIL] = "a\"b\\c";
    op->cols.v[UB_SCIM_COL_GIVEN] = "";
    op = apr_array_push(ops);
    memset(op, 0, sizeof(*op));
    op->op = "delete";
    op->id = "x";
    op->skip = 1;
    op = apr_array_push(ops);
    memset(op, 0, sizeof(*op));
    op->op = "create";
    op->cols.set = 1;
    op->cols.v[UB_SCIM_COL_USER_NAME] = "u";
    op->cols.v[UB_SCIM_COL_LOCKED_OUT] = "true";
    lit = ub_scim_write_input(ut_pool, ops, &n);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(lit,
        "{\"(0,\\\"patch\\\",\\\"abc\\\",6,3,,\\\"a\\\\\\\"b\\\\\\\\c\\\",\\\"\\\",,,,,,,,,,)\","
        "\"(2,\\\"create\\\",,1,,\\\"u\\\",,,,,,,,\\\"true\\\",,,,)\"}");
}
END_TEST

START_TEST(write_input_of_nothing_is_empty)
{
    apr_array_header_t *ops = apr_array_make(ut_pool, 1, sizeof(ub_scim_op));
    ub_scim_op *op = apr_array_push(ops);
    int n = -1;

    memset(op, 0, sizeof(*op));
    op->op = "delete";
    op->skip = 1;
    ck_assert_str_eq(ub_scim_write_input(ut_pool, ops, &n), "{}");
    ck_assert_int_eq(n, 0);
}
END_TEST

Suite *scim_patch_suite(void)
{
    Suite *s = suite_create("scim_patch");
    TCase *tc = ut_tcase("scim_patch");

    tcase_add_test(tc, patch_okta_active);
    tcase_add_test(tc, patch_unkept_types);
    tcase_add_test(tc, patch_entra_forms);
    tcase_add_test(tc, patch_composes_in_order);
    tcase_add_test(tc, patch_refusals);
    tcase_add_test(tc, patch_operations_capped);
    tcase_add_test(tc, read_user_maps_every_column);
    tcase_add_test(tc, if_match_forms);
    tcase_add_test(tc, attribute_names_compare_whole_ignoring_case);
    tcase_add_test(tc, write_input_literal_escapes_twice);
    tcase_add_test(tc, write_input_of_nothing_is_empty);
    suite_add_tcase(s, tc);
    return s;
}
