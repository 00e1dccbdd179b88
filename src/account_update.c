/*
 * account_update.c: the flow of the POST API. The request is checked in C,
 * then one statement applies it all or nothing and answers every target's
 * new state as rows; the seed's JSON is written here from them, straight
 * into the output brigade. The roles the targets hold come first, each as
 * its userRoleModels entry already in JSON: a role shared by a thousand
 * targets is built once and copied a thousand times.
 */
#include <string.h>
#include <apr_strings.h>
#include "account_update.h"
#include "account_request.h"
#include "errors.h"
#include "json.h"
#include "render.h"
#include "store.h"

/* One line naming every refused field, for the envelope's message. */
static const char *describe(apr_pool_t *pool, const apr_array_header_t *errors)
{
    const ub_field_error *e = (const ub_field_error *)errors->elts;
    struct iovec *parts = apr_palloc(pool, sizeof(*parts) * errors->nelts * 2);
    int i;

    for (i = 0; i < errors->nelts; i++) {
        const char *item = apr_pstrcat(pool, i ? "; " : "", e[i].field, ": ",
                                       e[i].message, " (", e[i].code, ")", NULL);
        parts[i].iov_base = (void *)item;
        parts[i].iov_len = strlen(item);
    }
    return apr_pstrcatv(pool, parts, errors->nelts, NULL);
}

static apr_status_t answer_problem(const ub_request *req, apr_bucket_brigade *out,
                                   ub_outcome *outcome, const ub_problem *p)
{
    outcome->status = p->status;
    outcome->failed = outcome->processed;
    return ub_render_envelope_problem(out, p, req->trace_id);
}

/* A role the targets hold: its id and its userRoleModels entry. */
typedef struct {
    const char *id;
    const char *model;      /* compact JSON */
} role_entry;

/* What the rows build, one at a time. */
typedef struct {
    const ub_request *req;
    ub_jw w;
    apr_array_header_t *roles;  /* of role_entry, in userRoleModels order */
    const char *error;          /* the refusal, when the store refused */
    json_t *refusal;            /* and parsed, by check_answer */
    int users;                  /* target rows written */
} answer;

/* The store's JSON of a role made compact (the store's JSON writer puts
 * spaces around every colon and comma; jansson keeps the fields' order),
 * so that the whole answer is written one way. NULL if it is not JSON. */
static const char *compact(apr_pool_t *pool, const char *json)
{
    json_t *doc = ub_json_own(pool, json_loads(json, 0, NULL));

    return doc ? ub_json_dump(pool, doc) : NULL;
}

/* Whether the PostgreSQL array text arr ("{a,b}") holds id. */
static int holds(const char *arr, const char *id)
{
    apr_size_t n = strlen(id);
    const char *p = arr + 1, *end;

    while (*p != '\0' && *p != '}') {
        end = p + strcspn(p, ",}");
        if ((apr_size_t)(end - p) == n && memcmp(p, id, n) == 0) {
            return 1;
        }
        p = *end == ',' ? end + 1 : end;
    }
    return 0;
}

/* Elements of the PostgreSQL array text arr. */
static int elements(const char *arr)
{
    int n = 0;

    if (strcmp(arr, "{}") == 0) {
        return 0;
    }
    for (; *arr; arr++) {
        n += *arr == ',';
    }
    return n + 1;
}

/* A column that PostgreSQL wrote as a boolean ("t"/"f"), or null. */
static void kv_pgbool(ub_jw *w, const char *key, const char *v)
{
    ub_jw_key(w, key);
    if (v == NULL) {
        ub_jw_null(w);
    }
    else {
        ub_jw_bool(w, *v == 't');
    }
}

/* A column that PostgreSQL wrote as an integer, or null. */
static void kv_pgint(ub_jw *w, const char *key, const char *v)
{
    ub_jw_key(w, key);
    if (v == NULL) {
        ub_jw_null(w);
    }
    else {
        ub_jw_int(w, apr_atoi64(v));
    }
}

/* The date part of an ISO 8601 timestamp in UTC ("2026-12-01T..."). */
static void kv_day(ub_jw *w, apr_pool_t *pool, const char *key, const char *iso)
{
    ub_jw_kv_string(w, key, iso ? apr_pstrndup(pool, iso, 10) : NULL);
}

/* One target in the seed's user model, fields in the seed's order. */
static apr_status_t write_user(answer *a, const char *const *c)
{
    const role_entry *roles = (const role_entry *)a->roles->elts;
    ub_jw *w = &a->w;
    int i, found = 0;

    if (c[UB_AU_ROLE_IDS] == NULL) {
        ub_logf(a->req, UB_LOG_ERR, APR_EGENERAL, "UB0214 the store answered a user without roles");
        return APR_EGENERAL;
    }
    ub_jw_object_begin(w);
    ub_jw_key(w, "userRoleModels");
    ub_jw_array_begin(w);
    for (i = 0; i < a->roles->nelts; i++) {
        if (holds(c[UB_AU_ROLE_IDS], roles[i].id)) {
            ub_jw_raw(w, roles[i].model);
            found++;
        }
    }
    ub_jw_array_end(w);
    /* Every role of a target came as a role row: one missing would be
     * left out of the answer silently. */
    if (found != elements(c[UB_AU_ROLE_IDS])) {
        ub_logf(a->req, UB_LOG_ERR, APR_EGENERAL,
                "UB0215 the store answered a user with a role it did not describe");
        return APR_EGENERAL;
    }
    kv_day(w, a->req->pool, "activationDateString", c[UB_AU_ACTIVATION_DATE]);
    kv_day(w, a->req->pool, "expiryDateString", c[UB_AU_EXPIRY_DATE]);
    ub_jw_kv_string(w, "responseDescription", NULL);
    ub_jw_kv_string(w, "userId", c[UB_AU_USER_ID]);
    ub_jw_kv_string(w, "name", c[UB_AU_DISPLAY_NAME]);
    ub_jw_kv_string(w, "firstName", c[UB_AU_FIRST_NAME]);
    ub_jw_kv_string(w, "middleName", c[UB_AU_MIDDLE_NAME]);
    ub_jw_kv_string(w, "lastName", c[UB_AU_LAST_NAME]);
    ub_jw_kv_string(w, "phoneNumber1", c[UB_AU_PHONE1]);
    ub_jw_kv_string(w, "phoneNumber2", c[UB_AU_PHONE2]);
    ub_jw_key(w, "accountAccess");
    ub_jw_object_begin(w);
    ub_jw_kv_string(w, "loginName", c[UB_AU_LOGIN_NAME]);
    kv_pgbool(w, "resetPasswordState", c[UB_AU_RESET_PASSWORD_STATE]);
    ub_jw_kv_string(w, "activationDate", c[UB_AU_ACTIVATION_DATE]);
    ub_jw_kv_string(w, "expiryDate", c[UB_AU_EXPIRY_DATE]);
    ub_jw_object_end(w);
    ub_jw_key(w, "status");
    if (c[UB_AU_STATUS_ID] == NULL) {
        ub_jw_null(w);
    }
    else {
        ub_jw_object_begin(w);
        ub_jw_kv_string(w, "id", c[UB_AU_STATUS_ID]);
        ub_jw_kv_string(w, "name", c[UB_AU_STATUS_NAME]);
        ub_jw_kv_string(w, "code", c[UB_AU_STATUS_CODE]);
        ub_jw_object_end(w);
    }
    ub_jw_kv_string(w, "email", c[UB_AU_EMAIL]);
    ub_jw_key(w, "timezone");
    if (c[UB_AU_TIMEZONE_ID] == NULL) {
        ub_jw_null(w);
    }
    else {
        ub_jw_object_begin(w);
        ub_jw_kv_string(w, "timezoneId", c[UB_AU_TIMEZONE_ID]);
        ub_jw_kv_string(w, "timezoneName", c[UB_AU_TIMEZONE_NAME]);
        ub_jw_kv_string(w, "code", c[UB_AU_TIMEZONE_CODE]);
        kv_pgbool(w, "supportsDaylightSavingTime", c[UB_AU_TIMEZONE_DST]);
        ub_jw_kv_string(w, "daylightName", c[UB_AU_TIMEZONE_DAYLIGHT]);
        ub_jw_object_end(w);
    }
    ub_jw_kv_string(w, "profilePic", c[UB_AU_PROFILE_PIC]);
    ub_jw_kv_string(w, "userIds", NULL);
    kv_pgbool(w, "isSSOUser", c[UB_AU_IS_SSO_USER]);
    ub_jw_key(w, "userRoles");
    ub_jw_array_begin(w);
    for (i = 0; i < a->roles->nelts; i++) {
        if (holds(c[UB_AU_ROLE_IDS], roles[i].id)) {
            ub_jw_string(w, roles[i].id);
        }
    }
    ub_jw_array_end(w);
    ub_jw_kv_string(w, "statusCode", c[UB_AU_STATUS_CODE]);
    ub_jw_key(w, "team");
    if (c[UB_AU_TEAM_ID] == NULL) {
        ub_jw_null(w);
    }
    else {
        ub_jw_object_begin(w);
        ub_jw_kv_string(w, "accountOrgUnitId", c[UB_AU_TEAM_ID]);
        kv_pgint(w, "levelOrdinal", c[UB_AU_TEAM_LEVEL]);
        ub_jw_kv_string(w, "accountOrgUnitName", c[UB_AU_TEAM_NAME]);
        ub_jw_kv_string(w, "accountOrgUnitCode", c[UB_AU_TEAM_CODE]);
        ub_jw_kv_string(w, "parentAccountOrgUnitId", c[UB_AU_TEAM_PARENT]);
        ub_jw_kv_string(w, "subLevelUnits", NULL);
        ub_jw_object_end(w);
    }
    ub_jw_kv_string(w, "loginName", c[UB_AU_LOGIN_NAME]);
    ub_jw_key(w, "statusDetails");
    if (c[UB_AU_STATUS_ID] == NULL) {
        ub_jw_null(w);
    }
    else {
        ub_jw_object_begin(w);
        kv_pgint(w, "statusId", c[UB_AU_STATUS_NUM]);
        ub_jw_kv_string(w, "uniqueId", c[UB_AU_STATUS_ID]);
        ub_jw_kv_string(w, "statusName", c[UB_AU_STATUS_NAME]);
        ub_jw_kv_string(w, "statusCode", c[UB_AU_STATUS_CODE]);
        ub_jw_kv_string(w, "statusColor", c[UB_AU_STATUS_COLOR]);
        ub_jw_object_end(w);
    }
    kv_pgbool(w, "isEmployee", c[UB_AU_IS_EMPLOYEE]);
    ub_jw_kv_string(w, "employeeCode", c[UB_AU_EMPLOYEE_CODE]);
    kv_pgbool(w, "isTwoFactorEnabled", c[UB_AU_IS_TWO_FACTOR_ENABLED]);
    ub_jw_object_end(w);
    return APR_SUCCESS;
}

/* After the last row, still before COMMIT: whatever cannot be answered
 * fails here, so that it is rolled back and the 503 says the truth. */
static apr_status_t check_answer(answer *a)
{
    if (a->error == NULL && a->users == 0) {
        ub_logf(a->req, UB_LOG_ERR, APR_EGENERAL, "UB0212 the store answered no data");
        return APR_EGENERAL;
    }
    if (a->error != NULL) {
        /* A refusal is small: parsed. */
        a->refusal = ub_json_own(a->req->pool, json_loads(a->error, 0, NULL));
        if (json_string_value(json_object_get(a->refusal, "message")) == NULL
            || json_string_value(json_object_get(a->refusal, "errorType")) == NULL) {
            ub_logf(a->req, UB_LOG_ERR, APR_EGENERAL, "UB0213 unreadable refusal from the store");
            return APR_EGENERAL;
        }
    }
    return a->w.rv;     /* the writer's first failure so far */
}

/* One row of the store's answer: a refusal (alone), a role (before any
 * user), or a user; NULL after the last. */
static apr_status_t take_row(void *baton, const char *const *c)
{
    answer *a = baton;
    apr_pool_t *pool = a->req->pool;

    if (c == NULL) {
        return check_answer(a);
    }
    if (c[UB_AU_ERROR] != NULL) {
        if (a->users > 0 || a->error != NULL) {
            ub_logf(a->req, UB_LOG_ERR, APR_EGENERAL, "UB0216 the store answered a refusal among data");
            return APR_EGENERAL;
        }
        a->error = apr_pstrdup(pool, c[UB_AU_ERROR]);
        return APR_SUCCESS;
    }
    if (a->error != NULL) {
        ub_logf(a->req, UB_LOG_ERR, APR_EGENERAL, "UB0217 the store answered data after a refusal");
        return APR_EGENERAL;
    }
    if (c[UB_AU_ROLE_ID] != NULL) {
        role_entry *r;

        if (a->users > 0 || c[UB_AU_ROLE_MODEL] == NULL) {
            ub_logf(a->req, UB_LOG_ERR, APR_EGENERAL, "UB0218 the store answered a role out of place");
            return APR_EGENERAL;
        }
        r = apr_array_push(a->roles);
        r->id = c[UB_AU_ROLE_ID];
        r->model = compact(pool, c[UB_AU_ROLE_MODEL]);
        if (r->model == NULL) {
            ub_logf(a->req, UB_LOG_ERR, APR_EGENERAL, "UB0219 the store answered a role that is not JSON");
            return APR_EGENERAL;
        }
        return APR_SUCCESS;
    }
    if (c[UB_AU_USER_ID] == NULL) {
        ub_logf(a->req, UB_LOG_ERR, APR_EGENERAL, "UB0203 the store answered an empty row");
        return APR_EGENERAL;
    }
    if (a->users++ == 0) {
        ub_jw_object_begin(&a->w);
        ub_jw_key(&a->w, "data");
        ub_jw_array_begin(&a->w);
    }
    return write_user(a, c);
}

apr_status_t ub_account_update(const ub_request *req, const ub_db_source *dbs,
                               const char *body, apr_size_t len,
                               apr_bucket_brigade *out, ub_outcome *outcome)
{
    ub_problem problem = { 0 };
    ub_account_request *ar = ub_account_request_parse(req, body, len, &problem);
    ub_db *db;
    const char *args[4];
    apr_status_t rv;
    ub_envelope env;
    answer a;

    if (ar == NULL) {
        return answer_problem(req, out, outcome, &problem);
    }
    outcome->processed = ar->targets;
    if (ar->errors->nelts > 0) {
        ub_problem_set(&problem, 400, "invalid_request",
                       describe(req->pool, ar->errors),
                       "Nothing was changed; correct the fields named and retry.");
        problem.error_type = "ValidationError";
        return answer_problem(req, out, outcome, &problem);
    }

    memset(&a, 0, sizeof(a));
    a.req = req;
    a.roles = apr_array_make(req->pool, 4, sizeof(role_entry));
    ub_jw_init(&a.w, out);

    db = dbs->acquire(dbs->baton);
    args[0] = req->account;
    args[1] = req->actor;
    args[2] = req->trace_id;
    args[3] = ub_json_dump(req->pool, ar->change);
    rv = (db == NULL || args[3] == NULL) ? APR_EGENERAL
         : ub_store_account_update(req, db, args, take_row, &a);
    if (db != NULL) {
        outcome->db_calls = db->calls;
        outcome->db_usec = db->usec;
    }
    if (rv != APR_SUCCESS) {
        /* What was written of the data goes (rolled back, COMMIT refused
         * included): the answer is the 503.
         * (The writer's status does not matter here: its output is thrown
         * away; ub_jw_status only hands back its chunk.) */
        (void)ub_jw_status(&a.w);
        (void)apr_brigade_cleanup(out);     /* always APR_SUCCESS */
        ub_problem_unavailable(&problem);
        return answer_problem(req, out, outcome, &problem);
    }

    /* A refusal (read by check_answer). */
    if (a.error != NULL) {
        json_t *error = a.refusal;
        const char *type = json_string_value(json_object_get(error, "errorType"));

        ub_problem_set(&problem, type && strcmp(type, "Conflict") == 0 ? 409 : 400,
                       apr_pstrdup(req->pool, json_string_value(json_object_get(error, "code"))),
                       apr_pstrdup(req->pool, json_string_value(json_object_get(error, "message"))),
                       "Nothing was changed.");
        problem.error_type = apr_pstrdup(req->pool,
                                         json_string_value(json_object_get(error, "errorType")));
        return answer_problem(req, out, outcome, &problem);
    }

    ub_jw_array_end(&a.w);
    env.status = 200;
    env.data_json = NULL;
    env.message = apr_psprintf(req->pool, "%d users updated", ar->targets);
    env.error_type = NULL;
    env.description = NULL;
    env.trace_id = req->trace_id;
    ub_render_envelope_tail(&a.w, &env);
    outcome->status = 200;
    outcome->applied = ar->targets;
    return ub_jw_status(&a.w);
}
