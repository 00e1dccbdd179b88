/*
 * test_batch.c: src/batch.c, the body of PUT /users turned into records.
 *
 * Bodies are written with ' for " (see ut_q).
 */
#include <stdio.h>
#include <string.h>
#include <apr_strings.h>
#include "unit.h"
#include "batch.h"
#include "json.h"
#include "store_rows.h"

#define ALICE "'userName':'alice','email':'alice@example.com'"
#define ROLE_ID "7d444840-9dc0-11d1-b245-5ffdce74fad2"

static ub_put_batch *parse_batch_max(const char *body_q, int max_records)
{
    ub_request req = ut_request(max_records);
    ub_problem p = { 0 };
    const char *body = ut_q(body_q);
    ub_put_batch *b = ub_put_batch_parse(&req, body, strlen(body), &p);

    ck_assert_msg(b != NULL, "batch refused: %s: %s", p.code, p.message);
    return b;
}

static ub_put_batch *parse_batch(const char *body_q)
{
    return parse_batch_max(body_q, UB_DEFAULT_MAX_RECORDS);
}

static ub_put_record *record(const ub_put_batch *b, int i)
{
    ck_assert_int_lt(i, b->records->nelts);
    return &((ub_put_record *)b->records->elts)[i];
}

/* The errors of the only record of [record_q]. */
static const apr_array_header_t *errors_of(const char *record_q)
{
    ub_put_batch *b = parse_batch(apr_pstrcat(ut_pool, "[", record_q, "]", NULL));

    ck_assert_int_eq(b->records->nelts, 1);
    return record(b, 0)->errors;
}

/* A refused body: 400, with a code and words for a person. */
static ub_problem refused(const char *body, apr_size_t len, int max_records)
{
    ub_request req = ut_request(max_records);
    ub_problem p = { 0 };

    ck_assert_ptr_null(ub_put_batch_parse(&req, body, len, &p));
    ck_assert_int_eq(p.status, 400);
    ck_assert_ptr_nonnull(p.code);
    ck_assert_ptr_nonnull(p.message);
    ck_assert_ptr_nonnull(p.description);
    return p;
}

static ub_problem refused_q(const char *body_q)
{
    const char *body = ut_q(body_q);

    return refused(body, strlen(body), UB_DEFAULT_MAX_RECORDS);
}

/* The store's input, parsed. */
/* The store's input read back as one JSON object per record. */
static json_t *store_input(const ub_put_batch *b, int *count)
{
    ub_put_store_input in;
    json_t *rows;

    ub_put_batch_store_input(ut_pool, b, &in);
    *count = in.count;
    rows = ub_test_store_rows(&in);
    ck_assert_msg(rows != NULL, "the store's input does not read back");
    return ub_json_own(ut_pool, rows);
}

/* ---- the body as a whole --------------------------------------------- */

START_TEST(array_gives_one_record_per_element_in_order)
{
    ub_put_batch *b = parse_batch("[{" ALICE "},{'userName':'bob','email':'bob@example.com'}]");

    ck_assert_int_eq(b->records->nelts, 2);
    ck_assert_int_eq(record(b, 0)->index, 0);
    ck_assert_str_eq(record(b, 0)->user_name, "alice");
    ut_assert_no_errors(record(b, 0)->errors);
    ck_assert_int_eq(record(b, 1)->index, 1);
    ck_assert_str_eq(record(b, 1)->user_name, "bob");
    ut_assert_no_errors(record(b, 1)->errors);
}
END_TEST

START_TEST(single_object_is_a_batch_of_one)
{
    ub_put_batch *b = parse_batch("{" ALICE "}");

    ck_assert_int_eq(b->records->nelts, 1);
    ck_assert_int_eq(record(b, 0)->index, 0);
    ck_assert_str_eq(record(b, 0)->user_name, "alice");
    ut_assert_no_errors(record(b, 0)->errors);
}
END_TEST

START_TEST(exactly_max_records_accepted)
{
    ub_put_batch *b = parse_batch_max("[{" ALICE "},{'userName':'bob','email':'bob@example.com'},"
                                      "{'userName':'carol','email':'carol@example.com'}]", 3);

    ck_assert_int_eq(b->records->nelts, 3);
}
END_TEST

START_TEST(empty_array_refused)
{
    ck_assert_str_eq(refused_q("[]").code, "empty_batch");
}
END_TEST

START_TEST(non_array_refused)
{
    const char *const bodies[] = { "'alice'", "42", "null", "true" };
    int i;

    for (i = 0; i < 4; i++) {
        ub_problem p = refused_q(bodies[i]);
        ck_assert_msg(strcmp(p.code, "invalid_json") == 0 || strcmp(p.code, "invalid_body") == 0,
                      "%s: code %s", bodies[i], p.code);
    }
}
END_TEST

START_TEST(invalid_json_refused)
{
    ck_assert_str_eq(refused_q("[{" ALICE ",}]").code, "invalid_json");
    ck_assert_str_eq(refused_q("[{" ALICE "}").code, "invalid_json");
    ck_assert_str_eq(refused_q("").code, "invalid_json");
    ck_assert_str_eq(refused_q("[{" ALICE "}] []").code, "invalid_json");
}
END_TEST

START_TEST(duplicate_keys_refused)
{
    ck_assert_str_eq(refused_q("[{" ALICE ",'userName':'bob'}]").code, "invalid_json");
}
END_TEST

START_TEST(nul_in_string_refused)
{
    ck_assert_str_eq(refused_q("[{'userName':'ali\\u0000ce','email':'alice@example.com'}]").code,
                     "invalid_json");
}
END_TEST

START_TEST(invalid_utf8_refused)
{
    ck_assert_str_eq(refused_q("[{'userName':'Zo\xeb','email':'zoe@example.com'}]").code,
                     "invalid_json");
    ck_assert_str_eq(refused_q("[{'userName':'\xff\xfe','email':'zoe@example.com'}]").code,
                     "invalid_json");
}
END_TEST

START_TEST(nesting_too_deep_refused)
{
    const char *body = apr_pstrcat(ut_pool, "[{'userName':'alice','email':'alice@example.com',"
                                   "'name':", ut_repeat("[", 3000), NULL);

    ck_assert_str_eq(refused_q(body).code, "invalid_json");
}
END_TEST

START_TEST(over_max_records_refused)
{
    const char *body = ut_q("[{" ALICE "},{'userName':'bob','email':'bob@example.com'},"
                            "{'userName':'carol','email':'carol@example.com'}]");
    ub_problem p = refused(body, strlen(body), 2);

    ck_assert_str_eq(p.code, "too_many_records");
    ck_assert_ptr_nonnull(strstr(p.message, "3"));
    ck_assert_ptr_nonnull(strstr(p.message, "at most 2"));
}
END_TEST

START_TEST(over_default_limit_refused)
{
    const char *body = apr_pstrcat(ut_pool, "[", ut_repeat("{},", UB_DEFAULT_MAX_RECORDS),
                                   "{}]", NULL);

    ck_assert_str_eq(refused(body, strlen(body), UB_DEFAULT_MAX_RECORDS).code,
                     "too_many_records");
}
END_TEST

/* The records are counted as they are read: one past the limit stops the
 * parse, so what follows is never read (here it is not even JSON). */
START_TEST(record_past_the_limit_stops_the_parse)
{
    const char *body = apr_pstrcat(ut_pool, "[", ut_repeat("{},", 3),
                                   "{'userName': and no more JSON", NULL);
    ub_problem p = refused(body, strlen(body), 3);

    ck_assert_str_eq(p.code, "too_many_records");
    ck_assert_msg(strstr(p.message, "4 user records or more") != NULL, "%s", p.message);
    ck_assert_msg(strstr(p.message, "at most 3") != NULL, "%s", p.message);
}
END_TEST

/* An 8 MB body of a value every two bytes, the parser's worst case: the
 * parse's peak resident memory stays a small multiple of the body, not the
 * 50 times that doubling vectors in the pool took. The bound leaves room
 * for valgrind, which keeps the memory the parser frees. */
START_TEST(eight_mb_of_tiny_records_costs_a_small_multiple)
{
    apr_size_t len;
    const char *body = ut_zeros("[", UB_DEFAULT_MAX_BODY, "]", &len);
    ub_request req = ut_request(UB_DEFAULT_MAX_RECORDS);
    ub_problem p = { 0 };
    apr_size_t before, grew;

    req.pool = ut_private_pool();
    ut_peak_reset();
    before = ut_rss_bytes();
    ck_assert_ptr_null(ub_put_batch_parse(&req, body, len, &p));
    grew = ut_peak_bytes() - before;
    ck_assert_msg(grew < 6 * len, "parsing %lu bytes took %lu more at the peak",
                  (unsigned long)len, (unsigned long)grew);
    ck_assert_str_eq(p.code, "too_many_records");
}
END_TEST

/* One record holding all the values: refused at the cap on values, before
 * the parse's memory grows past a small multiple of the body. */
START_TEST(one_record_of_too_many_values_refused)
{
    apr_size_t len;
    const char *body = ut_zeros("[{'userName':'alice','email':'a@example.com','x':[",
                                UB_DEFAULT_MAX_BODY, "]}]", &len);
    ub_request req = ut_request(UB_DEFAULT_MAX_RECORDS);
    ub_problem p = { 0 };
    apr_size_t before, grew;

    req.pool = ut_private_pool();
    body = ut_q(body);
    ut_peak_reset();
    before = ut_rss_bytes();
    ck_assert_ptr_null(ub_put_batch_parse(&req, body, len, &p));
    grew = ut_peak_bytes() - before;
    ck_assert_msg(grew < 6 * len, "parsing %lu bytes took %lu more at the peak",
                  (unsigned long)len, (unsigned long)grew);
    ck_assert_int_eq(p.status, 400);
    ck_assert_str_eq(p.code, "too_many_values");
    ck_assert_msg(strstr(p.message, apr_psprintf(ut_pool, "%lu",
                  (unsigned long)UB_MAX_JSON_VALUES(UB_DEFAULT_MAX_RECORDS))) != NULL,
                  "%s", p.message);
}
END_TEST

START_TEST(record_not_an_object_fails_that_record_only)
{
    ub_put_batch *b = parse_batch("[1,{" ALICE "},'carol']");

    ck_assert_int_eq(b->records->nelts, 3);
    ut_assert_error(record(b, 0)->errors, "", "invalid_type");
    ck_assert_ptr_null(record(b, 0)->user_name);
    ut_assert_no_errors(record(b, 1)->errors);
    ut_assert_error(record(b, 2)->errors, "", "invalid_type");
}
END_TEST

/* ---- one record ------------------------------------------------------ */

START_TEST(minimal_record_is_valid)
{
    ut_assert_no_errors(errors_of("{" ALICE "}"));
}
END_TEST

START_TEST(full_record_is_valid)
{
    ut_assert_no_errors(errors_of(
        "{" ALICE ",'name':{'firstName':'Alice','middleName':'B','lastName':'Smith'},"
        "'phoneNumber':'+1 555 0100','roles':[{'roleId':'" ROLE_ID "'},{'roleName':'Auditors'}],"
        "'userAccess':{'AccessAutomation':true,'AccessCertification':false,"
        "'AccessComplete':true,'AccessOperationalMatching':false},"
        "'departmentId':'D1','locationId':'L1','programAdminRoleId':'P1','lockedOut':true}"));
}
END_TEST

START_TEST(all_optional_fields_null_is_valid)
{
    ut_assert_no_errors(errors_of(
        "{" ALICE ",'name':null,'phoneNumber':null,'roles':null,'userAccess':null,"
        "'departmentId':null,'locationId':null,'programAdminRoleId':null,'lockedOut':null}"));
}
END_TEST

START_TEST(missing_user_name_is_required)
{
    ut_assert_error(errors_of("{'email':'alice@example.com'}"), "userName", "required");
}
END_TEST

START_TEST(null_user_name_is_required)
{
    ut_assert_error(errors_of("{'userName':null,'email':'alice@example.com'}"),
                    "userName", "required");
}
END_TEST

START_TEST(empty_user_name_is_required)
{
    ut_assert_error(errors_of("{'userName':'','email':'alice@example.com'}"),
                    "userName", "required");
}
END_TEST

START_TEST(missing_email_is_required)
{
    ut_assert_error(errors_of("{'userName':'alice'}"), "email", "required");
}
END_TEST

START_TEST(null_email_is_required)
{
    ut_assert_error(errors_of("{'userName':'alice','email':null}"), "email", "required");
}
END_TEST

START_TEST(missing_user_name_and_email_both_reported)
{
    const apr_array_header_t *e = errors_of("{}");

    ut_assert_error(e, "userName", "required");
    ut_assert_error(e, "email", "required");
    ck_assert_int_eq(e->nelts, 2);
}
END_TEST

/* Every field with a value of the wrong JSON type: one invalid_type error
 * at the field's path, nothing else. */
static const struct {
    const char *record;
    const char *field;
} wrong_types[] = {
    { "{'userName':5,'email':'alice@example.com'}", "userName" },
    { "{'userName':['alice'],'email':'alice@example.com'}", "userName" },
    { "{'userName':'alice','email':true}", "email" },
    { "{" ALICE ",'name':'Alice Smith'}", "name" },
    { "{" ALICE ",'name':['Alice']}", "name" },
    { "{" ALICE ",'name':{'firstName':1}}", "name.firstName" },
    { "{" ALICE ",'name':{'middleName':[]}}", "name.middleName" },
    { "{" ALICE ",'name':{'lastName':{}}}", "name.lastName" },
    { "{" ALICE ",'phoneNumber':5550100}", "phoneNumber" },
    { "{" ALICE ",'departmentId':7}", "departmentId" },
    { "{" ALICE ",'locationId':false}", "locationId" },
    { "{" ALICE ",'programAdminRoleId':1.5}", "programAdminRoleId" },
    { "{" ALICE ",'lockedOut':'true'}", "lockedOut" },
    { "{" ALICE ",'lockedOut':0}", "lockedOut" },
    { "{" ALICE ",'roles':{'roleId':'" ROLE_ID "'}}", "roles" },
    { "{" ALICE ",'roles':'Auditors'}", "roles" },
    { "{" ALICE ",'roles':[{'roleName':'Auditors'},'Admins']}", "roles[1]" },
    { "{" ALICE ",'roles':[{'roleName':'Auditors'},null]}", "roles[1]" },
    { "{" ALICE ",'roles':[{'roleName':'Auditors'},{'roleId':5}]}", "roles[1].roleId" },
    { "{" ALICE ",'roles':[{'roleName':7}]}", "roles[0].roleName" },
    { "{" ALICE ",'userAccess':true}", "userAccess" },
    { "{" ALICE ",'userAccess':{'AccessAutomation':'true'}}", "userAccess.AccessAutomation" },
    { "{" ALICE ",'userAccess':{'AccessCertification':1}}", "userAccess.AccessCertification" },
    { "{" ALICE ",'userAccess':{'AccessComplete':'false'}}", "userAccess.AccessComplete" },
    { "{" ALICE ",'userAccess':{'AccessOperationalMatching':[]}}",
      "userAccess.AccessOperationalMatching" },
};

START_TEST(wrong_type_is_invalid_type_at_field_path)
{
    const apr_array_header_t *e = errors_of(wrong_types[_i].record);

    ut_assert_error(e, wrong_types[_i].field, "invalid_type");
    ck_assert_msg(e->nelts == 1, "%s: expected one error, got [%s]",
                  wrong_types[_i].record, ut_errors_str(e));
    ck_assert_ptr_nonnull(((const ub_field_error *)e->elts)[0].message);
}
END_TEST

/* Strings at their column's length, counted in characters. */
static const struct {
    const char *field;
    const char *record;         /* %s: the string */
    const char *unit;           /* one character */
    int limit;
} lengths[] = {
    { "userName", "{'userName':'%s','email':'alice@example.com'}", "u", UB_LEN_USER_NAME },
    { "userName", "{'userName':'%s','email':'alice@example.com'}", "\xc3\xa9", UB_LEN_USER_NAME },
    { "name.firstName", "{" ALICE ",'name':{'firstName':'%s'}}", "\xc3\xa9", UB_LEN_PERSON_NAME },
    { "name.middleName", "{" ALICE ",'name':{'middleName':'%s'}}", "\xe6\x97\xa5", UB_LEN_PERSON_NAME },
    { "name.lastName", "{" ALICE ",'name':{'lastName':'%s'}}", "\xf0\x9f\x98\x80", UB_LEN_PERSON_NAME },
    { "phoneNumber", "{" ALICE ",'phoneNumber':'%s'}", "5", UB_LEN_PHONE },
    { "departmentId", "{" ALICE ",'departmentId':'%s'}", "D", UB_LEN_CODE },
    { "locationId", "{" ALICE ",'locationId':'%s'}", "\xc3\xa9", UB_LEN_CODE },
    { "programAdminRoleId", "{" ALICE ",'programAdminRoleId':'%s'}", "P", UB_LEN_CODE },
    { "roles[0].roleName", "{" ALICE ",'roles':[{'roleName':'%s'}]}", "r", UB_LEN_ROLE_NAME },
};

static const char *record_with(int row, int n)
{
    return apr_psprintf(ut_pool, lengths[row].record, ut_repeat(lengths[row].unit, n));
}

START_TEST(string_at_length_limit_passes)
{
    ut_assert_no_errors(errors_of(record_with(_i, lengths[_i].limit)));
}
END_TEST

START_TEST(string_one_over_length_limit_is_too_long)
{
    const apr_array_header_t *e = errors_of(record_with(_i, lengths[_i].limit + 1));

    ut_assert_error(e, lengths[_i].field, "too_long");
    ck_assert_int_eq(e->nelts, 1);
}
END_TEST

START_TEST(multibyte_name_of_100_chars_passes)
{
    const char *name = ut_repeat("\xc3\xa9", 100);      /* 200 bytes */

    ck_assert_uint_eq(strlen(name), 200);
    ut_assert_no_errors(errors_of(apr_pstrcat(ut_pool, "{" ALICE ",'name':{'firstName':'",
                                              name, "'}}", NULL)));
}
END_TEST

START_TEST(email_of_254_chars_passes)
{
    ut_assert_no_errors(errors_of(apr_pstrcat(ut_pool, "{'userName':'alice','email':'",
                                              ut_email(254), "'}", NULL)));
}
END_TEST

START_TEST(email_of_255_chars_is_too_long)
{
    const apr_array_header_t *e = errors_of(apr_pstrcat(ut_pool, "{'userName':'alice','email':'",
                                                        ut_email(255), "'}", NULL));

    ut_assert_error(e, "email", "too_long");
    ck_assert_int_eq(e->nelts, 1);
}
END_TEST

START_TEST(unknown_top_level_field_refused)
{
    const apr_array_header_t *e = errors_of("{" ALICE ",'nickName':'Al'}");

    ut_assert_error(e, "nickName", "unknown_field");
    ck_assert_int_eq(e->nelts, 1);
}
END_TEST

START_TEST(unknown_name_field_refused)
{
    ut_assert_error(errors_of("{" ALICE ",'name':{'firstName':'Alice','nickName':'Al'}}"),
                    "name.nickName", "unknown_field");
}
END_TEST

START_TEST(unknown_role_field_refused)
{
    ut_assert_error(errors_of("{" ALICE ",'roles':[{'roleName':'Auditors','roleCode':'AU'}]}"),
                    "roles[0].roleCode", "unknown_field");
}
END_TEST

START_TEST(unknown_user_access_field_refused)
{
    ut_assert_error(errors_of("{" ALICE ",'userAccess':{'AccessEverything':true}}"),
                    "userAccess.AccessEverything", "unknown_field");
}
END_TEST

START_TEST(field_names_are_case_sensitive)
{
    ut_assert_error(errors_of("{" ALICE ",'PhoneNumber':'5550100'}"),
                    "PhoneNumber", "unknown_field");
}
END_TEST

START_TEST(password_is_read_only)
{
    const apr_array_header_t *e = errors_of("{" ALICE ",'password':'s3cret'}");

    ut_assert_error(e, "password", "read_only");
    ck_assert_int_eq(e->nelts, 1);
}
END_TEST

START_TEST(null_password_is_read_only_too)
{
    ut_assert_error(errors_of("{" ALICE ",'password':null}"), "password", "read_only");
}
END_TEST

START_TEST(bad_email_is_invalid_format)
{
    ut_assert_error(errors_of("{'userName':'alice','email':'alice.example.com'}"),
                    "email", "invalid_format");
    ut_assert_error(errors_of("{'userName':'alice','email':''}"), "email", "invalid_format");
}
END_TEST

START_TEST(bad_phone_is_invalid_format)
{
    ut_assert_error(errors_of("{" ALICE ",'phoneNumber':'call me'}"),
                    "phoneNumber", "invalid_format");
}
END_TEST

START_TEST(role_id_not_a_uuid_is_invalid_format)
{
    ut_assert_error(errors_of("{" ALICE ",'roles':[{'roleId':'admin'}]}"),
                    "roles[0].roleId", "invalid_format");
}
END_TEST

/* roles of a record: up to UB_MAX_ROLES; past it one error naming the
 * list and the cap, for that record only. */
START_TEST(roles_capped_per_record)
{
    const char *role = "{'roleName':'Viewer'},";
    const char *at_cap = ut_repeat(role, UB_MAX_ROLES);
    const char *over = ut_repeat(role, UB_MAX_ROLES + 1);
    ub_put_batch *b;
    ub_put_record *r;

    /* record 1 at the cap, record 3 one over */
    b = parse_batch(apr_pstrcat(ut_pool, "[{" ALICE "},{'userName':'bob','email':'b@example.com',"
                                "'roles':[", at_cap, "{'roleName':'Viewer'}]},",
                                "{'userName':'carol','email':'c@example.com'},",
                                "{'userName':'dan','email':'d@example.com','roles':[",
                                over, "{'roleName':'Viewer'}]}]", NULL));
    ck_assert_int_eq(record(b, 0)->errors->nelts, 0);
    ck_assert_int_eq(record(b, 2)->errors->nelts, 0);
    r = record(b, 1);
    ck_assert_msg(r->errors->nelts == 1, "%s", ut_errors_str(r->errors));
    ut_assert_error(r->errors, "roles", "too_many_roles");
    r = record(b, 3);
    ck_assert_msg(r->errors->nelts == 1, "%s", ut_errors_str(r->errors));
    ut_assert_error(r->errors, "roles", "too_many_roles");
    ck_assert_msg(strstr(((ub_field_error *)r->errors->elts)[0].message,
                         "at most 1000") != NULL, "%s",
                  ((ub_field_error *)r->errors->elts)[0].message);
}
END_TEST

START_TEST(role_without_id_or_name_is_required)
{
    ut_assert_error(errors_of("{" ALICE ",'roles':[{'roleName':'Auditors'},{}]}"),
                    "roles[1]", "required");
    ut_assert_error(errors_of("{" ALICE ",'roles':[{'roleId':null}]}"), "roles[0]", "required");
}
END_TEST

START_TEST(every_bad_field_of_a_record_is_reported)
{
    const apr_array_header_t *e = errors_of(
        "{'userName':'alice','email':'nope','lockedOut':'no','nickName':'Al',"
        "'name':{'firstName':3}}");

    ut_assert_error(e, "email", "invalid_format");
    ut_assert_error(e, "lockedOut", "invalid_type");
    ut_assert_error(e, "nickName", "unknown_field");
    ut_assert_error(e, "name.firstName", "invalid_type");
    ck_assert_int_eq(e->nelts, 4);
}
END_TEST

/* ---- the same userName more than once --------------------------------- */

START_TEST(user_name_twice_fails_both)
{
    ub_put_batch *b = parse_batch("[{" ALICE "},{'userName':'alice','email':'al@example.com'}]");

    ut_assert_error(record(b, 0)->errors, "userName", "duplicate_user_name");
    ut_assert_error(record(b, 1)->errors, "userName", "duplicate_user_name");
    ck_assert_int_eq(record(b, 0)->errors->nelts, 1);
    ck_assert_int_eq(record(b, 1)->errors->nelts, 1);
}
END_TEST

START_TEST(user_name_three_times_fails_each_once)
{
    ub_put_batch *b = parse_batch("[{" ALICE "},{" ALICE "},{" ALICE "}]");
    int i;

    for (i = 0; i < 3; i++) {
        ut_assert_error(record(b, i)->errors, "userName", "duplicate_user_name");
        ck_assert_int_eq(record(b, i)->errors->nelts, 1);
    }
}
END_TEST

START_TEST(user_name_repeated_fails_only_its_records)
{
    ub_put_batch *b = parse_batch("[{" ALICE "},{'userName':'bob','email':'bob@example.com'},"
                                  "{'userName':'alice','email':'al@example.com'},"
                                  "{'userName':'bob','email':'b@example.com'},"
                                  "{'userName':'carol','email':'carol@example.com'}]");

    ut_assert_error(record(b, 0)->errors, "userName", "duplicate_user_name");
    ut_assert_error(record(b, 1)->errors, "userName", "duplicate_user_name");
    ut_assert_error(record(b, 2)->errors, "userName", "duplicate_user_name");
    ut_assert_error(record(b, 3)->errors, "userName", "duplicate_user_name");
    ut_assert_no_errors(record(b, 4)->errors);
}
END_TEST

START_TEST(user_name_repeated_in_a_record_with_other_errors_still_counts)
{
    ub_put_batch *b = parse_batch("[{" ALICE "},{'userName':'alice','email':'bad'}]");

    ut_assert_error(record(b, 0)->errors, "userName", "duplicate_user_name");
    ut_assert_error(record(b, 1)->errors, "userName", "duplicate_user_name");
    ut_assert_error(record(b, 1)->errors, "email", "invalid_format");
}
END_TEST

START_TEST(distinct_user_names_are_not_duplicates)
{
    ub_put_batch *b = parse_batch("[{" ALICE "},{'userName':'alice2','email':'a2@example.com'}]");

    ut_assert_no_errors(record(b, 0)->errors);
    ut_assert_no_errors(record(b, 1)->errors);
}
END_TEST

/* ---- what the store gets ---------------------------------------------- */

START_TEST(store_input_holds_valid_records_only)
{
    ub_put_batch *b = parse_batch("[{" ALICE "},{'userName':'bob','email':'bob'},"
                                  "{'userName':'carol','email':'carol@example.com'}]");
    int count = -1;
    json_t *rows = store_input(b, &count);

    ck_assert_int_eq(count, 2);
    ut_assert_json_size(rows, "", 2);
    ut_assert_json_str(rows, "[0].user_name", "alice");
    ut_assert_json_int(rows, "[0].idx", 0);
    ut_assert_json_str(rows, "[1].user_name", "carol");
    ut_assert_json_int(rows, "[1].idx", 2);
}
END_TEST

START_TEST(store_input_is_empty_when_every_record_failed)
{
    ub_put_batch *b = parse_batch("[{'userName':'bob','email':'bob'},{'email':'c@example.com'}]");
    int count = -1;

    ub_put_store_input in;

    (void)count;
    ub_put_batch_store_input(ut_pool, b, &in);
    ck_assert_int_eq(in.count, 0);
    ck_assert_str_eq(in.records, "{}");
}
END_TEST

START_TEST(store_input_leaves_out_a_record_failed_afterwards)
{
    ub_put_batch *b = parse_batch("[{" ALICE "},{'userName':'bob','email':'bob@example.com'}]");
    int count = -1;
    json_t *rows;

    ub_record_fail(ut_pool, record(b, 0), "userName", "unknown_user", "no such user");
    ut_assert_error(record(b, 0)->errors, "userName", "unknown_user");
    rows = store_input(b, &count);
    ck_assert_int_eq(count, 1);
    ut_assert_json_str(rows, "[0].user_name", "bob");
}
END_TEST

START_TEST(store_input_row_has_normalized_keys)
{
    ub_put_batch *b = parse_batch(
        "{" ALICE ",'name':{'firstName':'Alice','middleName':'B','lastName':'Smith'},"
        "'phoneNumber':'+1 555 0100','departmentId':'D1','locationId':'L1',"
        "'programAdminRoleId':'P1','lockedOut':true,'roles':[{'roleName':'Auditors'}],"
        "'userAccess':{'AccessAutomation':true,'AccessCertification':false,"
        "'AccessComplete':true,'AccessOperationalMatching':false},'version':3}");
    int count;
    json_t *row = ut_at(store_input(b, &count), "[0]");

    ut_assert_json_size(row, "", 17);
    ut_assert_json_int(row, "expected_version", 3);
    ut_assert_json_int(row, "idx", 0);
    ut_assert_json_str(row, "user_name", "alice");
    ut_assert_json_str(row, "email", "alice@example.com");
    ut_assert_json_str(row, "first_name", "Alice");
    ut_assert_json_str(row, "middle_name", "B");
    ut_assert_json_str(row, "last_name", "Smith");
    ut_assert_json_str(row, "phone", "+1 555 0100");
    ut_assert_json_str(row, "department", "D1");
    ut_assert_json_str(row, "location", "L1");
    ut_assert_json_str(row, "program_admin_role", "P1");
    ut_assert_json_bool(row, "locked_out", 1);
    ut_assert_json_size(row, "roles", 1);
    ut_assert_json_bool(row, "access_automation", 1);
    ut_assert_json_bool(row, "access_certification", 0);
    ut_assert_json_bool(row, "access_complete", 1);
    ut_assert_json_bool(row, "access_operational_matching", 0);
}
END_TEST

START_TEST(store_input_row_clears_fields_not_sent)
{
    int count;
    json_t *row = ut_at(store_input(parse_batch("{" ALICE "}"), &count), "[0]");

    ut_assert_json_size(row, "", 17);
    ut_assert_json_null(row, "expected_version");
    ut_assert_json_null(row, "first_name");
    ut_assert_json_null(row, "middle_name");
    ut_assert_json_null(row, "last_name");
    ut_assert_json_null(row, "phone");
    ut_assert_json_null(row, "department");
    ut_assert_json_null(row, "location");
    ut_assert_json_null(row, "program_admin_role");
    ut_assert_json_bool(row, "locked_out", 0);
    ut_assert_json_size(row, "roles", 0);
}
END_TEST

START_TEST(store_input_row_clears_fields_sent_as_null)
{
    int count;
    json_t *row = ut_at(store_input(parse_batch(
        "{" ALICE ",'name':null,'phoneNumber':null,'roles':null,'userAccess':null,"
        "'departmentId':null,'locationId':null,'programAdminRoleId':null,'lockedOut':null}"),
        &count), "[0]");

    ut_assert_json_null(row, "first_name");
    ut_assert_json_null(row, "phone");
    ut_assert_json_null(row, "department");
    ut_assert_json_bool(row, "locked_out", 0);
    ut_assert_json_size(row, "roles", 0);
    ut_assert_json_null(row, "access_complete");
}
END_TEST

/* Read-only flags not sent are null ("keep"), not false. */
START_TEST(store_input_row_access_flags_null_when_not_sent)
{
    int count;
    json_t *row = ut_at(store_input(parse_batch(
        "{" ALICE ",'userAccess':{'AccessComplete':false}}"), &count), "[0]");

    ut_assert_json_null(row, "access_automation");
    ut_assert_json_null(row, "access_certification");
    ut_assert_json_bool(row, "access_complete", 0);
    ut_assert_json_null(row, "access_operational_matching");
}
END_TEST

START_TEST(store_input_row_keeps_name_parts_not_sent_null)
{
    int count;
    json_t *row = ut_at(store_input(parse_batch(
        "{" ALICE ",'name':{'lastName':'Smith'}}"), &count), "[0]");

    ut_assert_json_null(row, "first_name");
    ut_assert_json_null(row, "middle_name");
    ut_assert_json_str(row, "last_name", "Smith");
}
END_TEST

START_TEST(store_input_row_roles_in_request_order)
{
    int count;
    json_t *row = ut_at(store_input(parse_batch(
        "{" ALICE ",'roles':[{'roleName':'Auditors'},{'roleId':'" ROLE_ID "'}]}"),
        &count), "[0]");

    ut_assert_json_size(row, "roles", 2);
    ut_assert_json_str(row, "roles[0].roleName", "Auditors");
    ut_assert_json_null(row, "roles[0].roleId");
    ut_assert_json_str(row, "roles[1].roleId", ROLE_ID);
    ut_assert_json_null(row, "roles[1].roleName");
}
END_TEST

START_TEST(store_input_keeps_strings_as_sent)
{
    int count;
    json_t *row = ut_at(store_input(parse_batch(
        "{'userName':'Zo\xc3\xab \\'Z\\'','email':'zoe@example.com',"
        "'name':{'firstName':'\xe6\x97\xa5\\\\\\n'}}"), &count), "[0]");

    ut_assert_json_str(row, "user_name", "Zo\xc3\xab \"Z\"");
    ut_assert_json_str(row, "first_name", "\xe6\x97\xa5\\\n");
}
END_TEST

/* The literal PostgreSQL reads, byte for byte: each string field quoted
 * for the row and the row quoted for the array, so a quote or a backslash
 * in a value is escaped twice; an absent field is empty (NULL), an empty
 * string is quoted. tests/sql/put_users.sql reads this same text back. */
START_TEST(store_input_literal_escapes_twice)
{
    ub_put_store_input in;
    ub_put_batch *b = parse_batch("{'userName':'u3.tap','email':'u3@tap.example',"
                                  "'name':{'firstName':'a\\'b\\\\c','lastName':''}}");

    ub_put_batch_store_input(ut_pool, b, &in);
    ck_assert_int_eq(in.count, 1);
    ck_assert_str_eq(in.records,
        "{\"(0,\\\"u3.tap\\\",\\\"u3@tap.example\\\",\\\"a\\\\\\\"b\\\\\\\\c\\\",,\\\"\\\","
        ",,,,f,1,,,,,)\"}");
    ck_assert_str_eq(in.role_lists, "{\"[]\"}");
}
END_TEST

/* Each distinct list of roles goes once, in the order of its first
 * record, escaped for the array; records name theirs by number. */
START_TEST(store_input_sends_each_list_of_roles_once)
{
    ub_put_store_input in;
    int count;
    json_t *rows;
    ub_put_batch *b = parse_batch("[{" ALICE ",'roles':[{'roleName':'A\\'s'}]},"
                                  "{'userName':'bob','email':'bob@example.com'},"
                                  "{'userName':'carol','email':'carol@example.com',"
                                  "'roles':[{'roleName':'A\\'s'}]}]");

    ub_put_batch_store_input(ut_pool, b, &in);
    ck_assert_str_eq(in.role_lists,
        "{\"[{\\\"roleId\\\":null,\\\"roleName\\\":\\\"A\\\\\\\"s\\\"}]\",\"[]\"}");
    rows = store_input(b, &count);
    ck_assert_int_eq(count, 3);
    ut_assert_json_str(rows, "[0].roles[0].roleName", "A\"s");
    ut_assert_json_size(rows, "[1].roles", 0);
    ut_assert_json_str(rows, "[2].roles[0].roleName", "A\"s");
}
END_TEST

Suite *batch_suite(void)
{
    Suite *s = suite_create("batch");
    TCase *tc;
    int n;

    tc = ut_tcase("body");
    tcase_add_test(tc, array_gives_one_record_per_element_in_order);
    tcase_add_test(tc, single_object_is_a_batch_of_one);
    tcase_add_test(tc, exactly_max_records_accepted);
    tcase_add_test(tc, empty_array_refused);
    tcase_add_test(tc, non_array_refused);
    tcase_add_test(tc, invalid_json_refused);
    tcase_add_test(tc, duplicate_keys_refused);
    tcase_add_test(tc, nul_in_string_refused);
    tcase_add_test(tc, invalid_utf8_refused);
    tcase_add_test(tc, nesting_too_deep_refused);
    tcase_add_test(tc, over_max_records_refused);
    tcase_add_test(tc, over_default_limit_refused);
    tcase_add_test(tc, record_past_the_limit_stops_the_parse);
    tcase_add_test(tc, eight_mb_of_tiny_records_costs_a_small_multiple);
    tcase_add_test(tc, one_record_of_too_many_values_refused);
    tcase_add_test(tc, record_not_an_object_fails_that_record_only);
    suite_add_tcase(s, tc);

    tc = ut_tcase("record");
    tcase_add_test(tc, minimal_record_is_valid);
    tcase_add_test(tc, full_record_is_valid);
    tcase_add_test(tc, all_optional_fields_null_is_valid);
    tcase_add_test(tc, missing_user_name_is_required);
    tcase_add_test(tc, null_user_name_is_required);
    tcase_add_test(tc, empty_user_name_is_required);
    tcase_add_test(tc, missing_email_is_required);
    tcase_add_test(tc, null_email_is_required);
    tcase_add_test(tc, missing_user_name_and_email_both_reported);
    n = (int)(sizeof(wrong_types) / sizeof(wrong_types[0]));
    tcase_add_loop_test(tc, wrong_type_is_invalid_type_at_field_path, 0, n);
    n = (int)(sizeof(lengths) / sizeof(lengths[0]));
    tcase_add_loop_test(tc, string_at_length_limit_passes, 0, n);
    tcase_add_loop_test(tc, string_one_over_length_limit_is_too_long, 0, n);
    tcase_add_test(tc, multibyte_name_of_100_chars_passes);
    tcase_add_test(tc, email_of_254_chars_passes);
    tcase_add_test(tc, email_of_255_chars_is_too_long);
    tcase_add_test(tc, unknown_top_level_field_refused);
    tcase_add_test(tc, unknown_name_field_refused);
    tcase_add_test(tc, unknown_role_field_refused);
    tcase_add_test(tc, unknown_user_access_field_refused);
    tcase_add_test(tc, field_names_are_case_sensitive);
    tcase_add_test(tc, password_is_read_only);
    tcase_add_test(tc, null_password_is_read_only_too);
    tcase_add_test(tc, bad_email_is_invalid_format);
    tcase_add_test(tc, bad_phone_is_invalid_format);
    tcase_add_test(tc, role_id_not_a_uuid_is_invalid_format);
    tcase_add_test(tc, role_without_id_or_name_is_required);
    tcase_add_test(tc, roles_capped_per_record);
    tcase_add_test(tc, every_bad_field_of_a_record_is_reported);
    suite_add_tcase(s, tc);

    tc = ut_tcase("duplicates");
    tcase_add_test(tc, user_name_twice_fails_both);
    tcase_add_test(tc, user_name_three_times_fails_each_once);
    tcase_add_test(tc, user_name_repeated_fails_only_its_records);
    tcase_add_test(tc, user_name_repeated_in_a_record_with_other_errors_still_counts);
    tcase_add_test(tc, distinct_user_names_are_not_duplicates);
    suite_add_tcase(s, tc);

    tc = ut_tcase("store_input");
    tcase_add_test(tc, store_input_holds_valid_records_only);
    tcase_add_test(tc, store_input_is_empty_when_every_record_failed);
    tcase_add_test(tc, store_input_leaves_out_a_record_failed_afterwards);
    tcase_add_test(tc, store_input_row_has_normalized_keys);
    tcase_add_test(tc, store_input_row_clears_fields_not_sent);
    tcase_add_test(tc, store_input_row_clears_fields_sent_as_null);
    tcase_add_test(tc, store_input_row_access_flags_null_when_not_sent);
    tcase_add_test(tc, store_input_row_keeps_name_parts_not_sent_null);
    tcase_add_test(tc, store_input_row_roles_in_request_order);
    tcase_add_test(tc, store_input_sends_each_list_of_roles_once);
    tcase_add_test(tc, store_input_keeps_strings_as_sent);
    tcase_add_test(tc, store_input_literal_escapes_twice);
    suite_add_tcase(s, tc);

    return s;
}
