/*
 * batch.c: PUT /users records from JSON, with every check that needs no
 * database.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include "batch.h"
#include "json.h"
#include "validate.h"

typedef const char *value_check(const char *s);

void ub_record_fail(apr_pool_t *pool, ub_put_record *rec, const char *field,
                    const char *code, const char *message)
{
    ub_field_error *e = apr_array_push(rec->errors);

    e->field = field;
    e->code = code;
    e->message = message;
}

static const char *join_path(apr_pool_t *pool, const char *parent,
                             const char *key)
{
    return parent ? apr_pstrcat(pool, parent, ".", key, NULL) : key;
}

/* An optional string: absent or null stores null. Checks type, length and,
 * when given, format. Returns the value or NULL. */
static const char *take_string(apr_pool_t *pool, ub_put_record *rec,
                               json_t *obj, const char *key,
                               const char *path, apr_size_t max_chars,
                               value_check *check, json_t *row,
                               const char *column)
{
    json_t *v = json_object_get(obj, key);
    const char *s, *why;

    json_object_set_new(row, column, json_null());
    if (v == NULL || json_is_null(v)) {
        return NULL;
    }
    if (!json_is_string(v)) {
        ub_record_fail(pool, rec, path, "invalid_type", "must be a string or null");
        return NULL;
    }
    s = json_string_value(v);
    if (ub_utf8_chars(s) > max_chars) {
        ub_record_fail(pool, rec, path, "too_long",
                       apr_psprintf(pool, "has at most %" APR_SIZE_T_FMT
                                    " characters", max_chars));
        return NULL;
    }
    if (check != NULL && (why = check(s)) != NULL) {
        ub_record_fail(pool, rec, path, "invalid_format", why);
        return NULL;
    }
    json_object_set(row, column, v);     /* shared, not copied */
    return s;
}

static void take_bool(apr_pool_t *pool, ub_put_record *rec, json_t *obj,
                      const char *key, const char *path, json_t *absent,
                      json_t *row, const char *column)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL || json_is_null(v)) {
        json_object_set_new(row, column, absent);
        return;
    }
    json_decref(absent);
    if (!json_is_boolean(v)) {
        ub_record_fail(pool, rec, path, "invalid_type", "must be true, false or null");
        json_object_set_new(row, column, json_null());
        return;
    }
    json_object_set(row, column, v);
}

/* Fails every key of obj that is not in known[]. */
static void refuse_unknown(apr_pool_t *pool, ub_put_record *rec, json_t *obj,
                           const char *parent, const char *const *known)
{
    const char *key;
    json_t *v;

    json_object_foreach(obj, key, v) {
        const char *const *k;
        for (k = known; *k != NULL && strcmp(*k, key) != 0; k++)
            ;
        if (*k == NULL) {
            ub_record_fail(pool, rec, join_path(pool, parent, key),
                           "unknown_field", "is not a field of a user");
        }
    }
}

/* An object member that may be absent or null; returns it when it is an
 * object, NULL otherwise (recording the type error). */
static json_t *take_object(apr_pool_t *pool, ub_put_record *rec, json_t *obj,
                           const char *key)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL || json_is_null(v)) {
        return NULL;
    }
    if (!json_is_object(v)) {
        ub_record_fail(pool, rec, key, "invalid_type", "must be an object or null");
        return NULL;
    }
    return v;
}

static void take_name(apr_pool_t *pool, ub_put_record *rec, json_t *obj,
                      json_t *row)
{
    static const char *const known[] = { "firstName", "middleName", "lastName", NULL };
    json_t *name = take_object(pool, rec, obj, "name");
    json_t *empty = NULL;

    if (name == NULL) {
        name = empty = json_object();   /* clears all three */
    }
    refuse_unknown(pool, rec, name, "name", known);
    take_string(pool, rec, name, "firstName", "name.firstName",
                UB_LEN_PERSON_NAME, NULL, row, "first_name");
    take_string(pool, rec, name, "middleName", "name.middleName",
                UB_LEN_PERSON_NAME, NULL, row, "middle_name");
    take_string(pool, rec, name, "lastName", "name.lastName",
                UB_LEN_PERSON_NAME, NULL, row, "last_name");
    json_decref(empty);
}

/* userAccess flags are read-only: they are passed on, when sent, so the
 * store can accept a value equal to the stored one. */
static void take_user_access(apr_pool_t *pool, ub_put_record *rec,
                             json_t *obj, json_t *row)
{
    static const char *const known[] = { "AccessAutomation", "AccessCertification",
        "AccessComplete", "AccessOperationalMatching", NULL };
    static const char *const columns[] = { "access_automation", "access_certification",
        "access_complete", "access_operational_matching", NULL };
    json_t *access = take_object(pool, rec, obj, "userAccess");
    json_t *empty = NULL;
    int i;

    if (access == NULL) {
        access = empty = json_object();
    }
    refuse_unknown(pool, rec, access, "userAccess", known);
    for (i = 0; known[i] != NULL; i++) {
        take_bool(pool, rec, access, known[i],
                  apr_pstrcat(pool, "userAccess.", known[i], NULL),
                  json_null(), row, columns[i]);
    }
    json_decref(empty);
}

/* roles: [{"roleId": uuid} | {"roleName": name}, ...]; null or absent is
 * no roles. Passed on as sent (in order, so errors name the position). */
static void take_roles(apr_pool_t *pool, ub_put_record *rec, json_t *obj,
                       json_t *row)
{
    static const char *const known[] = { "roleId", "roleName", NULL };
    json_t *roles = json_object_get(obj, "roles");
    json_t *out = json_array();
    size_t i;
    json_t *role;

    json_object_set_new(row, "roles", out);
    if (roles == NULL || json_is_null(roles)) {
        return;
    }
    if (!json_is_array(roles)) {
        ub_record_fail(pool, rec, "roles", "invalid_type",
                       "must be an array of {\"roleId\"} or {\"roleName\"} objects, or null");
        return;
    }
    json_array_foreach(roles, i, role) {
        const char *path = apr_psprintf(pool, "roles[%lu]", (unsigned long)i);
        json_t *entry = json_object();
        const char *id, *name;
        int before = rec->errors->nelts;

        if (!json_is_object(role)) {
            ub_record_fail(pool, rec, path, "invalid_type",
                           "must be an object with roleId or roleName");
            json_decref(entry);
            continue;
        }
        refuse_unknown(pool, rec, role, path, known);
        id = take_string(pool, rec, role, "roleId",
                         apr_pstrcat(pool, path, ".roleId", NULL), 36,
                         ub_check_uuid, entry, "roleId");
        name = take_string(pool, rec, role, "roleName",
                           apr_pstrcat(pool, path, ".roleName", NULL),
                           UB_LEN_ROLE_NAME, NULL, entry, "roleName");
        if (id == NULL && name == NULL && rec->errors->nelts == before) {
            ub_record_fail(pool, rec, path, "required", "needs roleId or roleName");
        }
        json_array_append_new(out, entry);
    }
}

/* version: the user's version as the client read it; a record naming an
 * older one fails with "conflict" instead of overwriting a newer change. */
static void take_version(apr_pool_t *pool, ub_put_record *rec, json_t *obj,
                         json_t *row)
{
    json_t *v = json_object_get(obj, "version");

    json_object_set_new(row, "expected_version", json_null());
    if (v == NULL || json_is_null(v)) {
        return;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 1) {
        ub_record_fail(pool, rec, "version", "invalid_type",
                       "must be a whole number from 1, or null");
        return;
    }
    json_object_set(row, "expected_version", v);
}

static void parse_record(apr_pool_t *pool, ub_put_record *rec, json_t *obj)
{
    static const char *const known[] = { "userName", "name", "email",
        "phoneNumber", "roles", "userAccess", "departmentId", "locationId",
        "programAdminRoleId", "lockedOut", "password", "version", NULL };
    json_t *row = json_object();
    json_t *user_name;

    rec->row = ub_json_own(pool, row);
    if (!json_is_object(obj)) {
        ub_record_fail(pool, rec, "", "invalid_type", "a user record must be a JSON object");
        return;
    }
    json_object_set_new(row, "idx", json_integer(rec->index));

    user_name = json_object_get(obj, "userName");
    if (user_name == NULL || json_is_null(user_name)) {
        ub_record_fail(pool, rec, "userName", "required", "is required: it names the user to update");
    }
    else {
        rec->user_name = take_string(pool, rec, obj, "userName", "userName",
                                     UB_LEN_USER_NAME, NULL, row, "user_name");
        if (rec->user_name != NULL && *rec->user_name == '\0') {
            ub_record_fail(pool, rec, "userName", "required", "cannot be empty");
        }
    }
    if (json_object_get(obj, "email") == NULL || json_is_null(json_object_get(obj, "email"))) {
        ub_record_fail(pool, rec, "email", "required", "is required");
    }
    else {
        take_string(pool, rec, obj, "email", "email", UB_LEN_EMAIL,
                    ub_check_email, row, "email");
    }
    if (json_object_get(obj, "password") != NULL) {
        ub_record_fail(pool, rec, "password", "read_only",
                       "cannot be changed through this API");
    }
    refuse_unknown(pool, rec, obj, NULL, known);
    take_name(pool, rec, obj, row);
    take_string(pool, rec, obj, "phoneNumber", "phoneNumber", UB_LEN_PHONE,
                ub_check_phone, row, "phone");
    take_string(pool, rec, obj, "departmentId", "departmentId", UB_LEN_CODE,
                NULL, row, "department");
    take_string(pool, rec, obj, "locationId", "locationId", UB_LEN_CODE,
                NULL, row, "location");
    take_string(pool, rec, obj, "programAdminRoleId", "programAdminRoleId",
                UB_LEN_CODE, NULL, row, "program_admin_role");
    take_bool(pool, rec, obj, "lockedOut", "lockedOut", json_false(), row,
              "locked_out");
    take_roles(pool, rec, obj, row);
    take_user_access(pool, rec, obj, row);
    take_version(pool, rec, obj, row);
}

/* The same userName twice cannot be applied in any order that means
 * something: every occurrence fails. The hash maps a userName to the first
 * record that named it, until that record has been failed too. */
static void refuse_repeated_user_names(apr_pool_t *pool, ub_put_batch *batch)
{
    static const char *const why = "appears more than once in this request";
    apr_hash_t *first_seen = apr_hash_make(pool);
    apr_hash_t *failed = apr_hash_make(pool);
    ub_put_record *recs = (ub_put_record *)batch->records->elts;
    int i;

    for (i = 0; i < batch->records->nelts; i++) {
        ub_put_record *rec = &recs[i];
        ub_put_record *seen;

        if (rec->user_name == NULL) {
            continue;
        }
        seen = apr_hash_get(first_seen, rec->user_name, APR_HASH_KEY_STRING);
        if (seen == NULL) {
            apr_hash_set(first_seen, rec->user_name, APR_HASH_KEY_STRING, rec);
            continue;
        }
        if (apr_hash_get(failed, rec->user_name, APR_HASH_KEY_STRING) == NULL) {
            ub_record_fail(pool, seen, "userName", "duplicate_user_name", why);
            apr_hash_set(failed, rec->user_name, APR_HASH_KEY_STRING, seen);
        }
        ub_record_fail(pool, rec, "userName", "duplicate_user_name", why);
    }
}

ub_put_batch *ub_put_batch_parse(const ub_request *req, const char *body,
                                 apr_size_t len, ub_problem *problem)
{
    apr_pool_t *pool = req->pool;
    json_t *doc = ub_json_parse_body(pool, body, len, problem);
    ub_put_batch *batch;
    size_t n, i;

    if (doc == NULL) {
        return NULL;
    }
    if (json_is_object(doc)) {
        json_t *one = json_array();         /* a single object: a batch of one */
        json_array_append(one, doc);
        doc = ub_json_own(pool, one);
    }
    if (!json_is_array(doc)) {
        problem->status = 400;
        problem->code = "invalid_body";
        problem->message = "the body must be a JSON array of user objects";
        problem->description = "Send [{\"userName\": ..., \"email\": ...}, ...].";
        return NULL;
    }
    n = json_array_size(doc);
    if (n == 0) {
        problem->status = 400;
        problem->code = "empty_batch";
        problem->message = "the request holds no user records";
        problem->description = "Send 1 or more user records.";
        return NULL;
    }
    if (n > (size_t)req->max_records) {
        problem->status = 400;
        problem->code = "too_many_records";
        problem->message = apr_psprintf(pool,
            "the request holds %lu user records; at most %d are allowed",
            (unsigned long)n, req->max_records);
        problem->description = "Split the update into requests of at most "
            "the limit; nothing was changed.";
        return NULL;
    }
    batch = apr_pcalloc(pool, sizeof(*batch));
    batch->records = apr_array_make(pool, (int)n, sizeof(ub_put_record));
    for (i = 0; i < n; i++) {
        ub_put_record *rec = apr_array_push(batch->records);
        memset(rec, 0, sizeof(*rec));
        rec->index = (int)i;
        rec->errors = apr_array_make(pool, 1, sizeof(ub_field_error));
        parse_record(pool, rec, json_array_get(doc, i));
    }
    refuse_repeated_user_names(pool, batch);
    return batch;
}

const char *ub_put_batch_store_input(apr_pool_t *pool,
                                     const ub_put_batch *batch, int *count)
{
    json_t *rows = ub_json_own(pool, json_array());
    const ub_put_record *recs = (const ub_put_record *)batch->records->elts;
    int i;

    *count = 0;
    for (i = 0; i < batch->records->nelts; i++) {
        if (recs[i].errors->nelts == 0) {
            json_array_append(rows, recs[i].row);
            (*count)++;
        }
    }
    return ub_json_dump(pool, rows);
}
