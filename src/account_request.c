/*
 * account_request.c: reading the POST API's single, uniform change.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include "account_request.h"
#include "json.h"
#include "jdoc.h"
#include "fields.h"
#include "headers.h"

typedef struct {
    apr_pool_t *pool;
    ub_account_request *ar;
    ub_fields f;                /* the pool and ar->errors */
} reader;

static void fail(reader *rd, const char *field, const char *code,
                 const char *message)
{
    ub_field_fail(&rd->f, field, code, message);
}

static const char *path_of(reader *rd, const char *parent, const char *key)
{
    return ub_field_path(rd->pool, parent, key);
}

/* A member that may be absent or null (then NULL, "leave as is"), else
 * must have the given JSON type (UB_J_TRUE stands for either boolean). */
static const ub_jval *member(reader *rd, const ub_jval *obj, const char *parent,
                             const char *key, ub_jtype type, const char *what)
{
    return ub_take(&rd->f, obj, parent, key, type, what);
}

static const ub_jval *object_member(reader *rd, const ub_jval *obj, const char *key)
{
    return ub_take_object(&rd->f, obj, NULL, key);
}

/* A string member: type, length and format checked; when column is given
 * and the value is sent, it goes into the change. */
static const char *string_value(reader *rd, const ub_jval *obj, const char *parent,
                                const char *key, apr_size_t max_chars,
                                ub_value_check *check, const char *column,
                                int empty_clears)
{
    const char *s = ub_take_string(&rd->f, obj, parent, key, max_chars, check,
                                   empty_clears);

    if (s == NULL) {
        return NULL;
    }
    if (empty_clears && *s == '\0') {
        if (column != NULL) {
            json_object_set_new(rd->ar->change, column, json_null());
        }
        return s;
    }
    if (column != NULL) {
        json_object_set_new(rd->ar->change, column, json_string(s));
    }
    return s;
}

/* Most strings: "" is a value like any other, checked as such. */
static const char *string_member(reader *rd, const ub_jval *obj, const char *parent,
                                 const char *key, apr_size_t max_chars,
                                 ub_value_check *check, const char *column)
{
    return string_value(rd, obj, parent, key, max_chars, check, column, 0);
}

/* Personal fields: "" clears the stored value. */
static const char *personal_member(reader *rd, const ub_jval *obj, const char *parent,
                                   const char *key, apr_size_t max_chars,
                                   ub_value_check *check, const char *column)
{
    return string_value(rd, obj, parent, key, max_chars, check, column, 1);
}

/* UUIDs compare case-insensitively: one spelling, lower case. */
static const char *uuid_lower(apr_pool_t *pool, const char *id)
{
    char *low = apr_pstrdup(pool, id);
    char *c;

    for (c = low; *c; c++) {
        *c = (char)apr_tolower(*c);
    }
    return low;
}

static void bool_member(reader *rd, const ub_jval *obj, const char *parent,
                        const char *key, const char *column)
{
    const ub_jval *v = member(rd, obj, parent, key, UB_J_TRUE, "true, false");

    if (v != NULL && column != NULL) {
        json_object_set_new(rd->ar->change, column, json_boolean(v->type == UB_J_TRUE));
    }
}

static const ub_jval *int_member(reader *rd, const ub_jval *obj, const char *parent,
                                 const char *key)
{
    const ub_jval *v = member(rd, obj, parent, key, UB_J_INTEGER, "an integer");

    if (v != NULL && (v->u.integer < -2147483647LL - 1 || v->u.integer > 2147483647LL)) {
        fail(rd, path_of(rd, parent, key), "out_of_range",
             "must fit in 32 bits");
        return NULL;
    }
    return v;
}

/* Two spellings of one value must agree when both are sent. */
static void set_agreeing(reader *rd, const char *column, const char *a_name,
                         const char *a, const char *b_name, const char *b)
{
    if (a != NULL && b != NULL && strcmp(a, b) != 0) {
        fail(rd, b_name, "conflicting_fields",
             apr_pstrcat(rd->pool, "disagrees with ", a_name, NULL));
        return;
    }
    if (a != NULL || b != NULL) {
        json_object_set_new(rd->ar->change, column, json_string(a ? a : b));
    }
}

/* An array of ids, as strings or as objects holding the id under one of
 * the given keys. Returns a JSON array of distinct lower-case ids in the
 * order first given, or NULL. */
/* The string at v, or NULL when v is not a string. */
static const char *string_of(const ub_jval *v)
{
    return ub_j_is(v, UB_J_STRING) ? v->u.str : NULL;
}

static json_t *id_list(reader *rd, const ub_jval *obj, const char *key,
                       const char *const *id_keys)
{
    const ub_jval *arr = member(rd, obj, NULL, key, UB_J_ARRAY, "an array");
    json_t *ids;
    apr_hash_t *seen = apr_hash_make(rd->pool);
    size_t i;

    if (arr == NULL) {
        return NULL;
    }
    /* one error for the list, not one per id past the cap */
    if (arr->len > UB_MAX_ROLES) {
        fail(rd, key, "too_many_roles",
             apr_psprintf(rd->pool, "holds %lu ids; at most %d are allowed",
                          (unsigned long)arr->len, UB_MAX_ROLES));
        return NULL;
    }
    ids = ub_json_own(rd->pool, json_array());
    for (i = 0; i < arr->len; i++) {
        const ub_jval *item = &arr->u.items[i];
        const char *path = apr_psprintf(rd->pool, "%s[%lu]", key, (unsigned long)i);
        const char *id = NULL, *why;
        const char *const *k;

        if (item->type == UB_J_OBJECT) {
            for (k = id_keys; *k && id == NULL; k++) {
                id = string_of(ub_jobj_get(item, *k));
            }
        }
        else {
            id = string_of(item);
        }
        if (id == NULL) {
            fail(rd, path, "invalid_type", "must be an id string");
            continue;
        }
        if ((why = ub_check_uuid(id)) != NULL) {
            fail(rd, path, "invalid_format", why);
            continue;
        }
        id = uuid_lower(rd->pool, id);
        if (apr_hash_get(seen, id, APR_HASH_KEY_STRING) != NULL) {
            continue;
        }
        apr_hash_set(seen, id, APR_HASH_KEY_STRING, id);
        json_array_append_new(ids, json_string(id));
    }
    return ids;
}

/* Targets: userIds, or userId alone when userIds is null or empty. A
 * repeated id is refused: the caller probably meant someone else. */
static void read_targets(reader *rd, const ub_request *req, const ub_jval *body)
{
    size_t errors_before = (size_t)rd->ar->errors->nelts;
    const ub_jval *arr = member(rd, body, NULL, "userIds", UB_J_ARRAY, "an array");
    const char *one;
    json_t *targets = ub_json_own(rd->pool, json_array());
    apr_hash_t *seen = apr_hash_make(rd->pool);
    size_t i;

    json_object_set(rd->ar->change, "targets", targets);
    if (arr != NULL && arr->len > 0) {
        if (arr->len > (size_t)req->max_records) {
            fail(rd, "userIds", "too_many_records",
                 apr_psprintf(rd->pool, "holds %lu ids; at most %d are allowed",
                              (unsigned long)arr->len, req->max_records));
            return;
        }
        for (i = 0; i < arr->len; i++) {
            const ub_jval *item = &arr->u.items[i];
            const char *path = apr_psprintf(rd->pool, "userIds[%lu]", (unsigned long)i);
            const char *id = item->type == UB_J_OBJECT
                ? string_of(ub_jobj_get(item, "userId"))
                : string_of(item);
            const char *why;

            if (id == NULL) {
                fail(rd, path, "invalid_type", "must be a user id string");
                continue;
            }
            if ((why = ub_check_uuid(id)) != NULL) {
                fail(rd, path, "invalid_format", why);
                continue;
            }
            id = uuid_lower(rd->pool, id);
            if (apr_hash_get(seen, id, APR_HASH_KEY_STRING) != NULL) {
                fail(rd, path, "duplicate_id", "names a user already in userIds");
                continue;
            }
            apr_hash_set(seen, id, APR_HASH_KEY_STRING, id);
            json_array_append_new(targets, json_string(id));
        }
        rd->ar->targets = (int)json_array_size(targets);
        return;
    }
    one = string_value(rd, body, NULL, "userId", 36, ub_check_uuid, NULL, 1);
    if (one != NULL && *one != '\0') {
        json_array_append_new(targets, json_string(uuid_lower(rd->pool, one)));
        rd->ar->targets = 1;
    }
    else if ((size_t)rd->ar->errors->nelts == errors_before) {
        fail(rd, "userIds", "required", "name at least one user in userIds or userId");
    }
}

/* Personal fields change one person: refused with several targets. */
static void read_personal(reader *rd, const ub_jval *body, const ub_jval *access)
{
    static const char *const personal[] = { "name", "first_name", "middle_name",
        "last_name", "phone1", "phone2", "email", "login_name",
        "employee_code", "profile_pic", NULL };
    const char *login, *access_login;
    const char *const *k;

    personal_member(rd, body, NULL, "name", UB_LEN_DISPLAY, NULL, "name");
    personal_member(rd, body, NULL, "firstName", UB_LEN_PERSON_NAME, NULL, "first_name");
    personal_member(rd, body, NULL, "middleName", UB_LEN_PERSON_NAME, NULL, "middle_name");
    personal_member(rd, body, NULL, "lastName", UB_LEN_PERSON_NAME, NULL, "last_name");
    personal_member(rd, body, NULL, "phoneNumber1", UB_LEN_PHONE, ub_check_phone, "phone1");
    personal_member(rd, body, NULL, "phoneNumber2", UB_LEN_PHONE, ub_check_phone, "phone2");
    personal_member(rd, body, NULL, "employeeCode", UB_LEN_CODE, NULL, "employee_code");
    personal_member(rd, body, NULL, "profilePic", UB_LEN_PROFILE_PIC, NULL, "profile_pic");
    if (string_of(ub_jobj_get(body, "email")) != NULL
        && *string_of(ub_jobj_get(body, "email")) == '\0') {
        fail(rd, "email", "invalid_format", "an email address cannot be empty");
    }
    else {
        string_member(rd, body, NULL, "email", UB_LEN_EMAIL, ub_check_email, "email");
    }
    login = personal_member(rd, body, NULL, "loginName", UB_LEN_LOGIN_NAME, NULL, NULL);
    access_login = personal_member(rd, access, "accountAccess", "loginName",
                                   UB_LEN_LOGIN_NAME, NULL, NULL);
    set_agreeing(rd, "login_name", "loginName", login, "accountAccess.loginName",
                 access_login);
    if (json_is_string(json_object_get(rd->ar->change, "login_name"))
        && *json_string_value(json_object_get(rd->ar->change, "login_name")) == '\0') {
        json_object_set_new(rd->ar->change, "login_name", json_null());
    }

    if (rd->ar->targets <= 1) {
        return;
    }
    for (k = personal; *k; k++) {
        if (json_object_get(rd->ar->change, *k) != NULL) {
            fail(rd, "userIds", "personal_fields_need_one_user",
                 "personal fields (name, email, phone numbers, loginName, "
                 "employeeCode, profilePic) change one user at a time");
            return;
        }
    }
}

static int by_string(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The strings of a JSON array of strings, sorted. */
static const char **sorted_strings(apr_pool_t *pool, json_t *arr)
{
    size_t i, n = json_array_size(arr);
    const char **v = apr_palloc(pool, (n ? n : 1) * sizeof(*v));

    for (i = 0; i < n; i++) {
        v[i] = json_string_value(json_array_get(arr, i));
    }
    qsort(v, n, sizeof(*v), by_string);
    return v;
}

/* Two lists of distinct lower-case ids naming the same set, in any
 * order: both sorted, then compared in step (n log n; the lists may be
 * as long as UB_MAX_ROLES). */
static int same_id_set(apr_pool_t *pool, json_t *a, json_t *b)
{
    size_t i, n = json_array_size(a);
    const char **x, **y;

    if (json_array_size(b) != n) {
        return 0;
    }
    x = sorted_strings(pool, a);
    y = sorted_strings(pool, b);
    for (i = 0; i < n; i++) {
        if (strcmp(x[i], y[i]) != 0) {
            return 0;
        }
    }
    return 1;
}

static void read_uniform(reader *rd, const ub_jval *body, const ub_jval *access)
{
    static const char *const role_keys[] = { "userRoleId", "roleId", "id", NULL };
    const ub_jval *status = object_member(rd, body, "status");
    const ub_jval *details = object_member(rd, body, "statusDetails");
    const ub_jval *timezone = object_member(rd, body, "timezone");
    const ub_jval *team = object_member(rd, body, "team");
    const ub_jval *num;
    json_t *role_ids, *user_roles;
    const char *team_id, *org_unit;

    role_ids = id_list(rd, body, "userRoleIds", role_keys);
    user_roles = id_list(rd, body, "userRoles", role_keys);
    if (role_ids != NULL && user_roles != NULL && !same_id_set(rd->pool, role_ids, user_roles)) {
        fail(rd, "userRoles", "conflicting_fields", "disagrees with userRoleIds");
    }
    else if (role_ids != NULL || user_roles != NULL) {
        json_object_set(rd->ar->change, "role_ids", role_ids ? role_ids : user_roles);
    }

    team_id = string_member(rd, body, NULL, "teamId", 36, ub_check_uuid, NULL);
    org_unit = string_member(rd, team, "team", "accountOrgUnitId", 36, ub_check_uuid, NULL);
    set_agreeing(rd, "team_id", "teamId", team_id, "team.accountOrgUnitId", org_unit);
    int_member(rd, team, "team", "levelOrdinal");
    string_member(rd, team, "team", "accountOrgUnitName", 1000, NULL, NULL);
    string_member(rd, team, "team", "accountOrgUnitCode", 1000, NULL, NULL);
    string_member(rd, team, "team", "parentAccountOrgUnitId", 1000, NULL, NULL);
    member(rd, team, "team", "subLevelUnits", UB_J_ARRAY, "an array");

    /* Status by any of its three names; the store checks they agree. */
    string_member(rd, status, "status", "id", 36, ub_check_uuid, "status_uuid");
    string_member(rd, status, "status", "name", 1000, NULL, NULL);
    string_member(rd, status, "status", "code", 1000, NULL, NULL);
    string_member(rd, body, NULL, "statusCode", 32, NULL, "status_code");
    num = int_member(rd, details, "statusDetails", "statusId");
    if (num != NULL) {
        json_object_set_new(rd->ar->change, "status_num", json_integer(num->u.integer));
    }
    string_member(rd, details, "statusDetails", "uniqueId", 1000, NULL, NULL);
    string_member(rd, details, "statusDetails", "statusName", 1000, NULL, NULL);
    string_member(rd, details, "statusDetails", "statusCode", 1000, NULL, NULL);
    string_member(rd, details, "statusDetails", "statusColor", 1000, NULL, NULL);

    string_member(rd, timezone, "timezone", "timezoneId", UB_LEN_CODE, NULL, "timezone_id");
    string_member(rd, timezone, "timezone", "timezoneName", 1000, NULL, NULL);
    string_member(rd, timezone, "timezone", "code", 1000, NULL, NULL);
    bool_member(rd, timezone, "timezone", "supportsDaylightSavingTime", NULL);
    string_member(rd, timezone, "timezone", "daylightName", 1000, NULL, NULL);

    bool_member(rd, access, "accountAccess", "resetPasswordState", "reset_password_state");
    /* "" clears a date: an account that does not expire. */
    string_value(rd, access, "accountAccess", "activationDate", 64, ub_check_iso8601,
                 "activation_date", 1);
    string_value(rd, access, "accountAccess", "expiryDate", 64, ub_check_iso8601,
                 "expiry_date", 1);
    bool_member(rd, body, NULL, "isSSOUser", "is_sso_user");
    bool_member(rd, body, NULL, "isEmployee", "is_employee");
    bool_member(rd, body, NULL, "isTwoFactorEnabled", "is_two_factor_enabled");

    /* accepted and ignored, so any length: only its type is checked */
    member(rd, body, NULL, "keyword", UB_J_STRING, "a string");
}

/* If-Match: the version of the one target as the client read it. */
static void read_if_match(reader *rd, const ub_request *req)
{
    const char *version;

    if (req->if_match == NULL) {
        return;
    }
    version = ub_if_match_version(rd->pool, req->if_match);
    if (version == NULL) {
        fail(rd, "If-Match", "invalid_format", "must be one version, e.g. \"3\"");
    }
    else if (rd->ar->targets > 1) {
        fail(rd, "If-Match", "single_target_only", "applies to a request with one target");
    }
    else {
        json_object_set_new(rd->ar->change, "if_match", json_integer(apr_atoi64(version)));
    }
}

ub_account_request *ub_account_request_parse(const ub_request *req,
                                             const char *body, apr_size_t len,
                                             ub_problem *problem)
{
    ub_jdoc_limits limits;
    const ub_jval *doc;
    reader rd;
    const ub_jval *access;

    /* one object: no top-level array to count; the values are */
    limits.max_items = 0;
    limits.max_values = UB_MAX_JSON_VALUES(req->max_records);
    doc = ub_jdoc_parse_limited(req->pool, body, len, &limits, problem);
    if (doc == NULL) {
        return NULL;
    }
    if (doc->type != UB_J_OBJECT) {
        problem->status = 400;
        problem->code = "invalid_body";
        problem->message = "the body must be one JSON object";
        problem->description = "Send {\"userIds\": [...], ...}.";
        return NULL;
    }
    rd.pool = req->pool;
    rd.ar = apr_pcalloc(req->pool, sizeof(*rd.ar));
    rd.ar->change = ub_json_own(req->pool, json_object());
    rd.ar->errors = apr_array_make(req->pool, 2, sizeof(ub_field_error));
    rd.f.pool = req->pool;
    rd.f.errors = rd.ar->errors;

    read_targets(&rd, req, doc);
    access = object_member(&rd, doc, "accountAccess");
    read_uniform(&rd, doc, access);
    read_personal(&rd, doc, access);
    read_if_match(&rd, req);
    return rd.ar;
}
