/*
 * test_account_request.c: src/account_request.c, the body of POST
 * /api/v1/account/users/update turned into one change for every target.
 *
 * Bodies are written with ' for " (see ut_q).
 */
#include <stdio.h>
#include <string.h>
#include <apr_strings.h>
#include "unit.h"
#include "account_request.h"

#define U1 "11111111-1111-4111-8111-111111111111"
#define U2 "22222222-2222-4222-8222-222222222222"
#define U3 "33333333-3333-4333-8333-333333333333"
#define UA "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
#define UA_UPPER "AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE"
#define R1 "7d444840-9dc0-11d1-b245-5ffdce74fad2"
#define R2 "0f8fad5b-d9cb-469f-a165-70867728950e"
#define T1 "c56a4180-65aa-42ec-a945-5fd21dec0538"
#define T2 "9b2f5c3e-7a1d-4e8b-b6c4-2d0e1f3a5b7c"

static ub_account_request *parse_max(const char *body_q, int max_records)
{
    ub_request req = ut_request(max_records);
    ub_problem p = { 0 };
    const char *body = ut_q(body_q);
    ub_account_request *ar = ub_account_request_parse(&req, body, strlen(body), &p);

    ck_assert_msg(ar != NULL, "body refused: %s: %s", p.code, p.message);
    ck_assert_ptr_nonnull(ar->change);
    ck_assert_ptr_nonnull(ar->errors);
    return ar;
}

static ub_account_request *parse(const char *body_q)
{
    return parse_max(body_q, UB_DEFAULT_MAX_RECORDS);
}

/* The fields, sent for one target / for two. */
static ub_account_request *parse_one(const char *fields_q)
{
    return parse(apr_pstrcat(ut_pool, "{'userId':'" U1 "'", *fields_q ? "," : "",
                             fields_q, "}", NULL));
}

static ub_account_request *parse_two(const char *fields_q)
{
    return parse(apr_pstrcat(ut_pool, "{'userIds':['" U1 "','" U2 "']", *fields_q ? "," : "",
                             fields_q, "}", NULL));
}

static ub_problem refused(const char *body)
{
    ub_request req = ut_request(UB_DEFAULT_MAX_RECORDS);
    ub_problem p = { 0 };

    ck_assert_ptr_null(ub_account_request_parse(&req, body, strlen(body), &p));
    ck_assert_int_eq(p.status, 400);
    ck_assert_ptr_nonnull(p.message);
    return p;
}

/* ---- the body -------------------------------------------------------- */

START_TEST(body_not_json_refused)
{
    ck_assert_str_eq(refused("{\"userId\":").code, "invalid_json");
}
END_TEST

START_TEST(body_not_an_object_refused)
{
    ck_assert_str_eq(refused(ut_q("['" U1 "']")).code, "invalid_body");
}
END_TEST

START_TEST(body_with_duplicate_keys_refused)
{
    ck_assert_str_eq(refused(ut_q("{'userId':'" U1 "','userId':'" U2 "'}")).code,
                     "invalid_json");
}
END_TEST

/* ---- targets --------------------------------------------------------- */

START_TEST(targets_from_user_ids_in_order)
{
    ub_account_request *ar = parse("{'userIds':['" U2 "','" U1 "']}");

    ut_assert_no_errors(ar->errors);
    ck_assert_int_eq(ar->targets, 2);
    ut_assert_json_size(ar->change, "targets", 2);
    ut_assert_json_str(ar->change, "targets[0]", U2);
    ut_assert_json_str(ar->change, "targets[1]", U1);
}
END_TEST

START_TEST(targets_from_user_id_objects)
{
    ub_account_request *ar = parse("{'userIds':[{'userId':'" U1 "'},{'userId':'" U2 "'}]}");

    ut_assert_no_errors(ar->errors);
    ck_assert_int_eq(ar->targets, 2);
    ut_assert_json_str(ar->change, "targets[1]", U2);
}
END_TEST

START_TEST(target_from_user_id_when_user_ids_absent)
{
    ub_account_request *ar = parse("{'userId':'" U1 "'}");

    ut_assert_no_errors(ar->errors);
    ck_assert_int_eq(ar->targets, 1);
    ut_assert_json_size(ar->change, "targets", 1);
    ut_assert_json_str(ar->change, "targets[0]", U1);
}
END_TEST

START_TEST(target_from_user_id_when_user_ids_null_or_empty)
{
    ub_account_request *ar = parse("{'userIds':null,'userId':'" U1 "'}");

    ut_assert_no_errors(ar->errors);
    ck_assert_int_eq(ar->targets, 1);
    ar = parse("{'userIds':[],'userId':'" U1 "'}");
    ut_assert_no_errors(ar->errors);
    ck_assert_int_eq(ar->targets, 1);
    ut_assert_json_str(ar->change, "targets[0]", U1);
}
END_TEST

START_TEST(user_ids_win_over_user_id)
{
    ub_account_request *ar = parse("{'userIds':['" U1 "','" U2 "'],'userId':'" U3 "'}");

    ut_assert_no_errors(ar->errors);
    ck_assert_int_eq(ar->targets, 2);
    ut_assert_json_str(ar->change, "targets[0]", U1);
    ut_assert_json_str(ar->change, "targets[1]", U2);
}
END_TEST

START_TEST(no_target_is_required)
{
    static const char *const bodies[] = {
        "{}",
        "{'userIds':null,'userId':null}",
        "{'userIds':[],'userId':''}",
        "{'userIds':[]}",
    };
    int i;

    for (i = 0; i < 4; i++) {
        ub_account_request *ar = parse(bodies[i]);

        ut_assert_error(ar->errors, "userIds", "required");
        ck_assert_int_eq(ar->errors->nelts, 1);
        ck_assert_int_eq(ar->targets, 0);
    }
}
END_TEST

START_TEST(malformed_user_id_is_invalid_format)
{
    ub_account_request *ar = parse("{'userId':'42'}");

    ut_assert_error(ar->errors, "userId", "invalid_format");
    ut_assert_no_error(ar->errors, "userIds", "required");
    ck_assert_int_eq(ar->targets, 0);
}
END_TEST

START_TEST(user_id_of_wrong_type_is_invalid_type)
{
    ub_account_request *ar = parse("{'userId':42}");

    ut_assert_error(ar->errors, "userId", "invalid_type");
    ck_assert_int_eq(ar->errors->nelts, 1);
}
END_TEST

START_TEST(malformed_id_in_user_ids_is_invalid_format)
{
    ub_account_request *ar = parse("{'userIds':['" U1 "','" U2 "x']}");

    ut_assert_error(ar->errors, "userIds[1]", "invalid_format");
    ck_assert_int_eq(ar->errors->nelts, 1);
}
END_TEST

START_TEST(non_string_id_in_user_ids_is_invalid_type)
{
    ub_account_request *ar = parse("{'userIds':['" U1 "',7,true]}");

    ut_assert_error(ar->errors, "userIds[1]", "invalid_type");
    ut_assert_error(ar->errors, "userIds[2]", "invalid_type");
}
END_TEST

START_TEST(user_ids_not_an_array_is_invalid_type)
{
    ub_account_request *ar = parse("{'userIds':'" U1 "'}");

    ut_assert_error(ar->errors, "userIds", "invalid_type");
    ck_assert_int_eq(ar->targets, 0);
}
END_TEST

START_TEST(duplicate_id_refused)
{
    ub_account_request *ar = parse("{'userIds':['" U1 "','" U2 "','" U1 "']}");

    ut_assert_error(ar->errors, "userIds[2]", "duplicate_id");
    ck_assert_int_eq(ar->errors->nelts, 1);
}
END_TEST

/* A UUID is the same id in either case (RFC 4122: case-insensitive on
 * input); the store casts both to the same uuid. */
START_TEST(duplicate_id_in_other_case_refused)
{
    ub_account_request *ar = parse("{'userIds':['" UA "','" UA_UPPER "']}");

    ut_assert_error(ar->errors, "userIds[1]", "duplicate_id");
}
END_TEST

START_TEST(over_max_records_refused)
{
    ub_account_request *ar = parse_max("{'userIds':['" U1 "','" U2 "','" U3 "']}", 2);

    ut_assert_error(ar->errors, "userIds", "too_many_records");
    ck_assert_int_eq(ar->errors->nelts, 1);
}
END_TEST

START_TEST(exactly_max_records_accepted)
{
    ub_account_request *ar = parse_max("{'userIds':['" U1 "','" U2 "']}", 2);

    ut_assert_no_errors(ar->errors);
    ck_assert_int_eq(ar->targets, 2);
}
END_TEST

/* ---- personal fields --------------------------------------------------- */

static const struct {
    const char *field;          /* as sent */
    const char *column;         /* in the change */
    const char *value;          /* in the change */
} personal[] = {
    { "'name':'Alice Smith'", "name", "Alice Smith" },
    { "'firstName':'Alice'", "first_name", "Alice" },
    { "'middleName':'B'", "middle_name", "B" },
    { "'lastName':'Smith'", "last_name", "Smith" },
    { "'phoneNumber1':'+1 555 0100'", "phone1", "+1 555 0100" },
    { "'phoneNumber2':'555 0101'", "phone2", "555 0101" },
    { "'email':'alice@example.com'", "email", "alice@example.com" },
    { "'loginName':'alice'", "login_name", "alice" },
    { "'accountAccess':{'loginName':'alice'}", "login_name", "alice" },
    { "'employeeCode':'E-1'", "employee_code", "E-1" },
    { "'profilePic':'https://cdn.example.com/a.png'", "profile_pic",
      "https://cdn.example.com/a.png" },
};

START_TEST(personal_field_with_two_targets_refused)
{
    ub_account_request *ar = parse_two(personal[_i].field);

    ut_assert_error(ar->errors, "userIds", "personal_fields_need_one_user");
    ck_assert_int_eq(ar->errors->nelts, 1);
}
END_TEST

START_TEST(personal_field_with_one_target_in_change)
{
    ub_account_request *ar = parse_one(personal[_i].field);

    ut_assert_no_errors(ar->errors);
    ut_assert_json_str(ar->change, personal[_i].column, personal[_i].value);
}
END_TEST

START_TEST(personal_field_with_one_id_in_user_ids_in_change)
{
    ub_account_request *ar = parse("{'userIds':['" U1 "'],'firstName':'Alice'}");

    ut_assert_no_errors(ar->errors);
    ut_assert_json_str(ar->change, "first_name", "Alice");
}
END_TEST

START_TEST(personal_field_cleared_with_two_targets_refused)
{
    ut_assert_error(parse_two("'lastName':''")->errors, "userIds",
                    "personal_fields_need_one_user");
}
END_TEST

START_TEST(personal_field_null_with_two_targets_accepted)
{
    ut_assert_no_errors(parse_two("'firstName':null,'email':null,'accountAccess':{'loginName':null}")
                        ->errors);
}
END_TEST

START_TEST(uniform_fields_with_two_targets_accepted)
{
    ub_account_request *ar = parse_two(
        "'userRoleIds':['" R1 "'],'teamId':'" T1 "','isSSOUser':true,'isEmployee':false,"
        "'isTwoFactorEnabled':true,'statusCode':'ACTIVE','timezone':{'timezoneId':'UTC'},"
        "'accountAccess':{'resetPasswordState':true,'activationDate':'2026-01-31',"
        "'expiryDate':'2026-12-31'},'keyword':'x'");

    ut_assert_no_errors(ar->errors);
    ck_assert_int_eq(ar->targets, 2);
}
END_TEST

/* ---- two spellings of one value ---------------------------------------- */

START_TEST(team_id_and_org_unit_disagreeing_conflict)
{
    ub_account_request *ar = parse_one("'teamId':'" T1 "','team':{'accountOrgUnitId':'" T2 "'}");

    ut_assert_error(ar->errors, "team.accountOrgUnitId", "conflicting_fields");
    ck_assert_int_eq(ar->errors->nelts, 1);
}
END_TEST

START_TEST(team_id_and_org_unit_agreeing_set_team)
{
    ub_account_request *ar = parse_one("'teamId':'" T1 "','team':{'accountOrgUnitId':'" T1 "'}");

    ut_assert_no_errors(ar->errors);
    ut_assert_json_str(ar->change, "team_id", T1);
}
END_TEST

START_TEST(team_from_either_spelling)
{
    ut_assert_json_str(parse_one("'teamId':'" T1 "'")->change, "team_id", T1);
    ut_assert_json_str(parse_one("'team':{'accountOrgUnitId':'" T2 "'}")->change, "team_id", T2);
}
END_TEST

START_TEST(team_id_malformed_is_invalid_format)
{
    ut_assert_error(parse_one("'teamId':'team-1'")->errors, "teamId", "invalid_format");
    ut_assert_error(parse_one("'team':{'accountOrgUnitId':'x'}")->errors,
                    "team.accountOrgUnitId", "invalid_format");
}
END_TEST

/* "" is no team id: it must be refused or mean "no team" (null), never be
 * handed to the store, whose ::uuid cast fails on it (a 503, not a 400). */
START_TEST(team_id_empty_string_never_reaches_store_as_string)
{
    static const char *const fields[] = { "'teamId':''", "'team':{'accountOrgUnitId':''}" };
    int i;

    for (i = 0; i < 2; i++) {
        ub_account_request *ar = parse_one(fields[i]);
        json_t *team = json_object_get(ar->change, "team_id");

        ck_assert_msg(ar->errors->nelts > 0 || team == NULL || json_is_null(team),
                      "%s: team_id is \"%s\" in the change", fields[i],
                      json_string_value(team) ? json_string_value(team) : "?");
    }
}
END_TEST

START_TEST(login_names_disagreeing_conflict)
{
    ut_assert_error(parse_one("'loginName':'alice','accountAccess':{'loginName':'al'}")->errors,
                    "accountAccess.loginName", "conflicting_fields");
}
END_TEST

START_TEST(user_role_ids_and_user_roles_disagreeing_conflict)
{
    ub_account_request *ar = parse_one("'userRoleIds':['" R1 "'],'userRoles':[{'userRoleId':'" R2 "'}]");

    ut_assert_error(ar->errors, "userRoles", "conflicting_fields");
    ck_assert_int_eq(ar->errors->nelts, 1);
}
END_TEST

START_TEST(user_role_ids_and_user_roles_agreeing_set_roles)
{
    ub_account_request *ar = parse_one("'userRoleIds':['" R1 "'],'userRoles':[{'userRoleId':'" R1 "'}]");

    ut_assert_no_errors(ar->errors);
    ut_assert_json_size(ar->change, "role_ids", 1);
    ut_assert_json_str(ar->change, "role_ids[0]", R1);
}
END_TEST

/* Both name a role set: the same roles in another order agree. */
START_TEST(user_role_ids_and_user_roles_same_set_other_order_agree)
{
    ub_account_request *ar = parse_one("'userRoleIds':['" R1 "','" R2 "'],"
                                       "'userRoles':[{'userRoleId':'" R2 "'},{'userRoleId':'" R1 "'}]");

    ut_assert_no_errors(ar->errors);
    ut_assert_json_size(ar->change, "role_ids", 2);
}
END_TEST

/* Distinct ids as a JSON list: ids from..to-1 (step 1 or -1), each
 * quoted, as a string or as {'userRoleId'} object. */
static const char *id_list_q(int from, int to, int as_objects)
{
    const char *out = "";
    int step = from <= to ? 1 : -1, i;

    for (i = from; i != to; i += step) {
        const char *id = apr_psprintf(ut_pool, "10000000-0000-4000-8000-%012d", i);

        out = apr_pstrcat(ut_pool, out, *out ? "," : "",
                          as_objects ? apr_pstrcat(ut_pool, "{'userRoleId':'", id, "'}", NULL)
                                     : apr_pstrcat(ut_pool, "'", id, "'", NULL), NULL);
    }
    return apr_pstrcat(ut_pool, "[", out, "]", NULL);
}

/* The same set: repeats and order and case do not matter, only the ids. */
START_TEST(same_role_set_ignores_repeats_order_and_case)
{
    ub_account_request *ar;

    ar = parse_one("'userRoleIds':['" R1 "','" R2 "','" R1 "'],"
                   "'userRoles':['" R2 "',{'roleId':'" R1 "'}]");
    ut_assert_no_errors(ar->errors);
    ut_assert_json_size(ar->change, "role_ids", 2);
    ar = parse_one("'userRoleIds':['" UA "'],'userRoles':['" UA_UPPER "','" UA "']");
    ut_assert_no_errors(ar->errors);
    /* one id more, or another id, on either side */
    ar = parse_one("'userRoleIds':['" R1 "','" R1 "'],'userRoles':['" R1 "','" R2 "']");
    ut_assert_error(ar->errors, "userRoles", "conflicting_fields");
    ar = parse_one("'userRoleIds':['" R1 "','" R2 "'],'userRoles':['" R1 "']");
    ut_assert_error(ar->errors, "userRoles", "conflicting_fields");
    ar = parse_one("'userRoleIds':['" R1 "','" R2 "'],'userRoles':['" R1 "','" UA "']");
    ut_assert_error(ar->errors, "userRoles", "conflicting_fields");
    ar = parse_one("'userRoleIds':[],'userRoles':[]");
    ut_assert_no_errors(ar->errors);
    ut_assert_json_size(ar->change, "role_ids", 0);
}
END_TEST

/* Full lists: the same 1000 ids in the reverse order agree; with one id
 * replaced (0 by 1000, the first and the last in sorted order) they do
 * not. */
START_TEST(same_role_set_of_the_cap)
{
    ub_account_request *ar;

    ar = parse_one(apr_pstrcat(ut_pool, "'userRoleIds':", id_list_q(0, UB_MAX_ROLES, 0),
                               ",'userRoles':", id_list_q(UB_MAX_ROLES - 1, -1, 1), NULL));
    ut_assert_no_errors(ar->errors);
    ut_assert_json_size(ar->change, "role_ids", UB_MAX_ROLES);
    ar = parse_one(apr_pstrcat(ut_pool, "'userRoleIds':", id_list_q(0, UB_MAX_ROLES, 0),
                               ",'userRoles':", id_list_q(UB_MAX_ROLES, 0, 1), NULL));
    ut_assert_error(ar->errors, "userRoles", "conflicting_fields");
    ck_assert_int_eq(ar->errors->nelts, 1);
}
END_TEST

/* Role lists: up to UB_MAX_ROLES ids; past it one error naming the list
 * and the cap. */
START_TEST(role_lists_capped)
{
    const char *lists[] = { "userRoleIds", "userRoles" };
    int i;

    for (i = 0; i < 2; i++) {
        ub_account_request *ar = parse_one(apr_pstrcat(ut_pool, "'", lists[i], "':",
                                                       id_list_q(0, UB_MAX_ROLES, i), NULL));
        const ub_field_error *e;

        ut_assert_no_errors(ar->errors);
        ut_assert_json_size(ar->change, "role_ids", UB_MAX_ROLES);
        ar = parse_one(apr_pstrcat(ut_pool, "'", lists[i], "':",
                                   id_list_q(0, UB_MAX_ROLES + 1, i), NULL));
        ut_assert_error(ar->errors, lists[i], "too_many_roles");
        ck_assert_int_eq(ar->errors->nelts, 1);
        e = (const ub_field_error *)ar->errors->elts;
        ck_assert_msg(strstr(e->message, "1001") && strstr(e->message, "at most 1000"),
                      "%s", e->message);
    }
}
END_TEST

START_TEST(user_roles_alone_set_roles)
{
    ub_account_request *ar = parse_one("'userRoles':[{'userRoleId':'" R1 "'},{'roleId':'" R2 "'},'"
                                       R1 "']");

    ut_assert_no_errors(ar->errors);
    ut_assert_json_size(ar->change, "role_ids", 2);
    ut_assert_json_str(ar->change, "role_ids[0]", R1);
    ut_assert_json_str(ar->change, "role_ids[1]", R2);
}
END_TEST

START_TEST(user_role_ids_empty_clears_roles)
{
    ub_account_request *ar = parse_one("'userRoleIds':[]");

    ut_assert_no_errors(ar->errors);
    ut_assert_json_size(ar->change, "role_ids", 0);
}
END_TEST

START_TEST(user_role_ids_repeated_counted_once)
{
    ub_account_request *ar = parse_one("'userRoleIds':['" R1 "','" R1 "']");

    ut_assert_no_errors(ar->errors);
    ut_assert_json_size(ar->change, "role_ids", 1);
}
END_TEST

START_TEST(user_role_id_malformed_or_wrong_type)
{
    ub_account_request *ar = parse_one("'userRoleIds':['admin',5,{'name':'x'}]");

    ut_assert_error(ar->errors, "userRoleIds[0]", "invalid_format");
    ut_assert_error(ar->errors, "userRoleIds[1]", "invalid_type");
    ut_assert_error(ar->errors, "userRoleIds[2]", "invalid_type");
    ut_assert_json_absent(ar->change, "role_ids[0]");
}
END_TEST

/* ---- types ------------------------------------------------------------ */

static const struct {
    const char *fields;
    const char *path;
} wrong_types[] = {
    { "'isSSOUser':'true'", "isSSOUser" },
    { "'isSSOUser':1", "isSSOUser" },
    { "'isEmployee':'no'", "isEmployee" },
    { "'isTwoFactorEnabled':[]", "isTwoFactorEnabled" },
    { "'accountAccess':'alice'", "accountAccess" },
    { "'accountAccess':{'resetPasswordState':1}", "accountAccess.resetPasswordState" },
    { "'accountAccess':{'resetPasswordState':'false'}", "accountAccess.resetPasswordState" },
    { "'accountAccess':{'activationDate':20260131}", "accountAccess.activationDate" },
    { "'accountAccess':{'expiryDate':true}", "accountAccess.expiryDate" },
    { "'accountAccess':{'loginName':5}", "accountAccess.loginName" },
    { "'team':'sales'", "team" },
    { "'team':{'levelOrdinal':'1'}", "team.levelOrdinal" },
    { "'team':{'levelOrdinal':1.5}", "team.levelOrdinal" },
    { "'team':{'accountOrgUnitId':5}", "team.accountOrgUnitId" },
    { "'team':{'accountOrgUnitName':5}", "team.accountOrgUnitName" },
    { "'team':{'subLevelUnits':{}}", "team.subLevelUnits" },
    { "'teamId':5", "teamId" },
    { "'status':'ACTIVE'", "status" },
    { "'status':{'id':5}", "status.id" },
    { "'status':{'code':5}", "status.code" },
    { "'statusCode':3", "statusCode" },
    { "'statusDetails':[]", "statusDetails" },
    { "'statusDetails':{'statusId':'3'}", "statusDetails.statusId" },
    { "'statusDetails':{'statusId':true}", "statusDetails.statusId" },
    { "'statusDetails':{'statusColor':0}", "statusDetails.statusColor" },
    { "'timezone':'UTC'", "timezone" },
    { "'timezone':{'timezoneId':1}", "timezone.timezoneId" },
    { "'timezone':{'supportsDaylightSavingTime':'yes'}", "timezone.supportsDaylightSavingTime" },
    { "'userRoleIds':'" R1 "'", "userRoleIds" },
    { "'userRoles':{}", "userRoles" },
    { "'name':{'firstName':'Alice'}", "name" },
    { "'firstName':5", "firstName" },
    { "'middleName':false", "middleName" },
    { "'lastName':[]", "lastName" },
    { "'phoneNumber1':5550100", "phoneNumber1" },
    { "'phoneNumber2':{}", "phoneNumber2" },
    { "'email':['alice@example.com']", "email" },
    { "'loginName':1", "loginName" },
    { "'employeeCode':1", "employeeCode" },
    { "'profilePic':[]", "profilePic" },
    { "'keyword':5", "keyword" },
};

START_TEST(wrong_type_is_invalid_type_named_by_field)
{
    ub_account_request *ar = parse_one(wrong_types[_i].fields);

    ut_assert_error(ar->errors, wrong_types[_i].path, "invalid_type");
    ck_assert_msg(ar->errors->nelts == 1, "%s: expected one error, got [%s]",
                  wrong_types[_i].fields, ut_errors_str(ar->errors));
}
END_TEST

START_TEST(status_id_number_beyond_32_bits_is_out_of_range)
{
    ut_assert_error(parse_one("'statusDetails':{'statusId':2147483648}")->errors,
                    "statusDetails.statusId", "out_of_range");
    ut_assert_no_errors(parse_one("'statusDetails':{'statusId':2147483647}")->errors);
    ut_assert_no_errors(parse_one("'statusDetails':{'statusId':-2147483648}")->errors);
}
END_TEST

START_TEST(status_id_malformed_is_invalid_format)
{
    ut_assert_error(parse_one("'status':{'id':'active'}")->errors, "status.id", "invalid_format");
}
END_TEST

START_TEST(uniform_fields_reach_change)
{
    ub_account_request *ar = parse_one(
        "'status':{'id':'" R2 "','name':'Active','code':'ACTIVE'},'statusCode':'ACTIVE',"
        "'statusDetails':{'statusId':3,'statusName':'Active'},"
        "'timezone':{'timezoneId':'Europe/Paris','supportsDaylightSavingTime':true},"
        "'accountAccess':{'resetPasswordState':false},"
        "'isSSOUser':false,'isEmployee':true,'isTwoFactorEnabled':false");

    ut_assert_no_errors(ar->errors);
    ut_assert_json_str(ar->change, "status_uuid", R2);
    ut_assert_json_str(ar->change, "status_code", "ACTIVE");
    ut_assert_json_int(ar->change, "status_num", 3);
    ut_assert_json_str(ar->change, "timezone_id", "Europe/Paris");
    ut_assert_json_bool(ar->change, "reset_password_state", 0);
    ut_assert_json_bool(ar->change, "is_sso_user", 0);
    ut_assert_json_bool(ar->change, "is_employee", 1);
    ut_assert_json_bool(ar->change, "is_two_factor_enabled", 0);
}
END_TEST

/* ---- dates ------------------------------------------------------------ */

START_TEST(dates_reach_change_as_sent)
{
    ub_account_request *ar = parse_one(
        "'accountAccess':{'activationDate':'2026-01-31','expiryDate':'2026-12-31T23:59:59+01:00'}");

    ut_assert_no_errors(ar->errors);
    ut_assert_json_str(ar->change, "activation_date", "2026-01-31");
    ut_assert_json_str(ar->change, "expiry_date", "2026-12-31T23:59:59+01:00");
}
END_TEST

START_TEST(activation_date_not_iso8601_is_invalid_format)
{
    ub_account_request *ar = parse_one("'accountAccess':{'activationDate':'31/01/2026'}");

    ut_assert_error(ar->errors, "accountAccess.activationDate", "invalid_format");
    ut_assert_json_absent(ar->change, "activation_date");
}
END_TEST

START_TEST(expiry_date_not_a_calendar_date_is_invalid_format)
{
    ut_assert_error(parse_one("'accountAccess':{'expiryDate':'2026-02-29'}")->errors,
                    "accountAccess.expiryDate", "invalid_format");
    ut_assert_error(parse_one("'accountAccess':{'expiryDate':'2026-01-31T25:00:00Z'}")->errors,
                    "accountAccess.expiryDate", "invalid_format");
}
END_TEST

START_TEST(empty_date_clears_it)
{
    ub_account_request *ar = parse_one("'accountAccess':{'expiryDate':''}");

    ut_assert_no_errors(ar->errors);
    ut_assert_json_null(ar->change, "expiry_date");
}
END_TEST

/* ---- what goes into the change ----------------------------------------- */

START_TEST(unknown_top_level_fields_ignored)
{
    ub_account_request *ar = parse_one("'favouriteColour':'blue','data':{'x':1},'isAdmin':true");

    ut_assert_no_errors(ar->errors);
    ut_assert_json_size(ar->change, "", 1);
}
END_TEST

START_TEST(keyword_accepted_and_ignored)
{
    ub_account_request *ar = parse_one("'keyword':'anything'");

    ut_assert_no_errors(ar->errors);
    ut_assert_json_size(ar->change, "", 1);
}
END_TEST

/* keyword is ignored, whatever its length (the body limit bounds it) */
START_TEST(keyword_of_any_length_ignored)
{
    ub_account_request *ar = parse_one(apr_pstrcat(ut_pool, "'keyword':'",
                                                   ut_repeat("k", 100000), "'", NULL));

    ut_assert_no_errors(ar->errors);
    ut_assert_json_size(ar->change, "", 1);
}
END_TEST

/* An unknown field of 8 MB of tiny values: refused at the cap on values,
 * the parse's peak resident memory a small multiple of the body, not the
 * 50 times it was (the bound leaves room for valgrind, which keeps the
 * memory the parser frees). */
START_TEST(eight_mb_unknown_field_costs_a_small_multiple)
{
    apr_size_t len;
    const char *body = ut_zeros("{\"userId\":\"" U1 "\",\"x\":[", UB_DEFAULT_MAX_BODY,
                                "]}", &len);
    ub_request req = ut_request(UB_DEFAULT_MAX_RECORDS);
    ub_problem p = { 0 };
    apr_size_t before, grew;

    req.pool = ut_private_pool();
    ut_peak_reset();
    before = ut_rss_bytes();
    ck_assert_ptr_null(ub_account_request_parse(&req, body, len, &p));
    grew = ut_peak_bytes() - before;
    ck_assert_msg(grew < 6 * len, "parsing %lu bytes took %lu more at the peak",
                  (unsigned long)len, (unsigned long)grew);
    ck_assert_int_eq(p.status, 400);
    ck_assert_str_eq(p.code, "too_many_values");
}
END_TEST

START_TEST(absent_fields_not_in_change)
{
    ub_account_request *ar = parse_one("");

    ut_assert_no_errors(ar->errors);
    ut_assert_json_size(ar->change, "", 1);
    ut_assert_json_size(ar->change, "targets", 1);
}
END_TEST

START_TEST(null_fields_not_in_change)
{
    ub_account_request *ar = parse_one(
        "'userRoleIds':null,'userRoles':null,'teamId':null,'team':null,'name':null,"
        "'firstName':null,'middleName':null,'lastName':null,'phoneNumber1':null,"
        "'phoneNumber2':null,'email':null,'loginName':null,'employeeCode':null,"
        "'profilePic':null,'status':null,'statusCode':null,'statusDetails':null,"
        "'timezone':null,'isSSOUser':null,'isEmployee':null,'isTwoFactorEnabled':null,"
        "'accountAccess':{'loginName':null,'resetPasswordState':null,"
        "'activationDate':null,'expiryDate':null},'keyword':null");

    ut_assert_no_errors(ar->errors);
    ut_assert_json_size(ar->change, "", 1);
}
END_TEST

START_TEST(empty_string_clears_personal_field)
{
    ub_account_request *ar = parse_one("'firstName':'','phoneNumber1':'','profilePic':''");

    ut_assert_no_errors(ar->errors);
    ut_assert_json_null(ar->change, "first_name");
    ut_assert_json_null(ar->change, "phone1");
    ut_assert_json_null(ar->change, "profile_pic");
    ut_assert_json_absent(ar->change, "last_name");
}
END_TEST

START_TEST(empty_login_name_clears_it)
{
    ub_account_request *ar = parse_one("'accountAccess':{'loginName':''}");

    ut_assert_no_errors(ar->errors);
    ut_assert_json_null(ar->change, "login_name");
}
END_TEST

START_TEST(empty_email_refused)
{
    ub_account_request *ar = parse_one("'email':''");

    ut_assert_error(ar->errors, "email", "invalid_format");
    ut_assert_json_absent(ar->change, "email");
}
END_TEST

START_TEST(bad_email_is_invalid_format)
{
    ut_assert_error(parse_one("'email':'alice@@example.com'")->errors, "email", "invalid_format");
}
END_TEST

START_TEST(bad_phone_is_invalid_format)
{
    ut_assert_error(parse_one("'phoneNumber2':'n/a'")->errors, "phoneNumber2", "invalid_format");
}
END_TEST

START_TEST(name_lengths_counted_in_characters)
{
    ut_assert_no_errors(parse_one(apr_pstrcat(ut_pool, "'firstName':'",
                                              ut_repeat("\xc3\xa9", UB_LEN_PERSON_NAME),
                                              "'", NULL))->errors);
    ut_assert_error(parse_one(apr_pstrcat(ut_pool, "'firstName':'",
                                          ut_repeat("e", UB_LEN_PERSON_NAME + 1), "'", NULL))->errors,
                    "firstName", "too_long");
    ut_assert_error(parse_one(apr_pstrcat(ut_pool, "'name':'",
                                          ut_repeat("n", UB_LEN_DISPLAY + 1), "'", NULL))->errors,
                    "name", "too_long");
}
END_TEST

Suite *account_request_suite(void)
{
    Suite *s = suite_create("account_request");
    TCase *tc;

    tc = ut_tcase("body");
    tcase_add_test(tc, body_not_json_refused);
    tcase_add_test(tc, body_not_an_object_refused);
    tcase_add_test(tc, body_with_duplicate_keys_refused);
    suite_add_tcase(s, tc);

    tc = ut_tcase("targets");
    tcase_add_test(tc, targets_from_user_ids_in_order);
    tcase_add_test(tc, targets_from_user_id_objects);
    tcase_add_test(tc, target_from_user_id_when_user_ids_absent);
    tcase_add_test(tc, target_from_user_id_when_user_ids_null_or_empty);
    tcase_add_test(tc, user_ids_win_over_user_id);
    tcase_add_test(tc, no_target_is_required);
    tcase_add_test(tc, malformed_user_id_is_invalid_format);
    tcase_add_test(tc, user_id_of_wrong_type_is_invalid_type);
    tcase_add_test(tc, malformed_id_in_user_ids_is_invalid_format);
    tcase_add_test(tc, non_string_id_in_user_ids_is_invalid_type);
    tcase_add_test(tc, user_ids_not_an_array_is_invalid_type);
    tcase_add_test(tc, duplicate_id_refused);
    tcase_add_test(tc, duplicate_id_in_other_case_refused);
    tcase_add_test(tc, over_max_records_refused);
    tcase_add_test(tc, exactly_max_records_accepted);
    suite_add_tcase(s, tc);

    tc = ut_tcase("personal");
    tcase_add_loop_test(tc, personal_field_with_two_targets_refused, 0,
                        (int)(sizeof(personal) / sizeof(personal[0])));
    tcase_add_loop_test(tc, personal_field_with_one_target_in_change, 0,
                        (int)(sizeof(personal) / sizeof(personal[0])));
    tcase_add_test(tc, personal_field_with_one_id_in_user_ids_in_change);
    tcase_add_test(tc, personal_field_cleared_with_two_targets_refused);
    tcase_add_test(tc, personal_field_null_with_two_targets_accepted);
    tcase_add_test(tc, uniform_fields_with_two_targets_accepted);
    suite_add_tcase(s, tc);

    tc = ut_tcase("spellings");
    tcase_add_test(tc, team_id_and_org_unit_disagreeing_conflict);
    tcase_add_test(tc, team_id_and_org_unit_agreeing_set_team);
    tcase_add_test(tc, team_from_either_spelling);
    tcase_add_test(tc, team_id_malformed_is_invalid_format);
    tcase_add_test(tc, team_id_empty_string_never_reaches_store_as_string);
    tcase_add_test(tc, login_names_disagreeing_conflict);
    tcase_add_test(tc, user_role_ids_and_user_roles_disagreeing_conflict);
    tcase_add_test(tc, user_role_ids_and_user_roles_agreeing_set_roles);
    tcase_add_test(tc, user_role_ids_and_user_roles_same_set_other_order_agree);
    tcase_add_test(tc, same_role_set_ignores_repeats_order_and_case);
    tcase_add_test(tc, same_role_set_of_the_cap);
    tcase_add_test(tc, role_lists_capped);
    tcase_add_test(tc, user_roles_alone_set_roles);
    tcase_add_test(tc, user_role_ids_empty_clears_roles);
    tcase_add_test(tc, user_role_ids_repeated_counted_once);
    tcase_add_test(tc, user_role_id_malformed_or_wrong_type);
    suite_add_tcase(s, tc);

    tc = ut_tcase("types");
    tcase_add_loop_test(tc, wrong_type_is_invalid_type_named_by_field, 0,
                        (int)(sizeof(wrong_types) / sizeof(wrong_types[0])));
    tcase_add_test(tc, status_id_number_beyond_32_bits_is_out_of_range);
    tcase_add_test(tc, status_id_malformed_is_invalid_format);
    tcase_add_test(tc, uniform_fields_reach_change);
    suite_add_tcase(s, tc);

    tc = ut_tcase("dates");
    tcase_add_test(tc, dates_reach_change_as_sent);
    tcase_add_test(tc, activation_date_not_iso8601_is_invalid_format);
    tcase_add_test(tc, expiry_date_not_a_calendar_date_is_invalid_format);
    tcase_add_test(tc, empty_date_clears_it);
    suite_add_tcase(s, tc);

    tc = ut_tcase("change");
    tcase_add_test(tc, unknown_top_level_fields_ignored);
    tcase_add_test(tc, keyword_accepted_and_ignored);
    tcase_add_test(tc, keyword_of_any_length_ignored);
    tcase_add_test(tc, eight_mb_unknown_field_costs_a_small_multiple);
    tcase_add_test(tc, absent_fields_not_in_change);
    tcase_add_test(tc, null_fields_not_in_change);
    tcase_add_test(tc, empty_string_clears_personal_field);
    tcase_add_test(tc, empty_login_name_clears_it);
    tcase_add_test(tc, empty_email_refused);
    tcase_add_test(tc, bad_email_is_invalid_format);
    tcase_add_test(tc, bad_phone_is_invalid_format);
    tcase_add_test(tc, name_lengths_counted_in_characters);
    suite_add_tcase(s, tc);

    return s;
}
