/*
 * account_update.c: the flow of the POST API. The request is checked in C,
 * then one statement applies it all or nothing and answers every target's
 * new state as rows; the seed's JSON is written here from them, straight
 * into the output brigade. The roles the targets hold come first, each as
 * its userRoleModels entry already in JSON: a role shared by a thousand
 * targets is built once and copied a thousand times. A dry run (Prefer:
 * tx=rollback, ?dryRun=true) is the same statement, rolled back; with
 * ?diff=true each changed target also carries its audit row's before and
 * after, as the statement answered them.
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
    const char *model;      /* compact JSON, as the store wrote it */
} role_entry;

/* How a field of the seed's user model is written from its column. */
typedef enum {
    F_STRING,       /* the column's text, or null */
    F_BOOL,         /* a boolean ("t"/"f"), or null */
    F_INT,          /* an integer, or null */
    F_DAY,          /* the date part of an ISO 8601 timestamp, or null */
    F_NULL,         /* always null: the seed's model has the field */
    F_OBJECT,       /* an object of the fields up to its F_END; null when
                     * the column is null (always an object without one) */
    F_END,
    F_ROLE_MODELS,  /* the userRoleModels entries of the ids in the column */
    F_ROLE_IDS      /* those ids, in userRoleModels order */
} field_kind;

/* A field of the answer's user model and the column of the store's user
 * rows it is written from (userbulk.account_update_row), in the seed's
 * order: the one place that says which column makes which field. */
typedef struct {
    const char *key;
    field_kind kind;
    const char *column;
} user_field;

static const user_field user_fields[] = {
    { "userRoleModels",       F_ROLE_MODELS, "role_ids" },
    { "activationDateString", F_DAY,    "activation_date" },
    { "expiryDateString",     F_DAY,    "expiry_date" },
    { "responseDescription",  F_NULL,   NULL },
    { "userId",               F_STRING, "user_id" },
    { "name",                 F_STRING, "display_name" },
    { "firstName",            F_STRING, "first_name" },
    { "middleName",           F_STRING, "middle_name" },
    { "lastName",             F_STRING, "last_name" },
    { "phoneNumber1",         F_STRING, "phone1" },
    { "phoneNumber2",         F_STRING, "phone2" },
    { "accountAccess",        F_OBJECT, NULL },
    {   "loginName",          F_STRING, "login_name" },
    {   "resetPasswordState", F_BOOL,   "reset_password_state" },
    {   "activationDate",     F_STRING, "activation_date" },
    {   "expiryDate",         F_STRING, "expiry_date" },
    { NULL,                   F_END,    NULL },
    { "status",               F_OBJECT, "status_id" },
    {   "id",                 F_STRING, "status_id" },
    {   "name",               F_STRING, "status_name" },
    {   "code",               F_STRING, "status_code" },
    { NULL,                   F_END,    NULL },
    { "email",                F_STRING, "email" },
    { "timezone",             F_OBJECT, "timezone_id" },
    {   "timezoneId",         F_STRING, "timezone_id" },
    {   "timezoneName",       F_STRING, "timezone_name" },
    {   "code",               F_STRING, "timezone_code" },
    {   "supportsDaylightSavingTime", F_BOOL, "timezone_dst" },
    {   "daylightName",       F_STRING, "timezone_daylight" },
    { NULL,                   F_END,    NULL },
    { "profilePic",           F_STRING, "profile_pic" },
    { "userIds",              F_NULL,   NULL },
    { "isSSOUser",            F_BOOL,   "is_sso_user" },
    { "userRoles",            F_ROLE_IDS, "role_ids" },
    { "statusCode",           F_STRING, "status_code" },
    { "team",                 F_OBJECT, "team_id" },
    {   "accountOrgUnitId",   F_STRING, "team_id" },
    {   "levelOrdinal",       F_INT,    "team_level" },
    {   "accountOrgUnitName", F_STRING, "team_name" },
    {   "accountOrgUnitCode", F_STRING, "team_code" },
    {   "parentAccountOrgUnitId", F_STRING, "team_parent" },
    {   "subLevelUnits",      F_NULL,   NULL },
    { NULL,                   F_END,    NULL },
    { "loginName",            F_STRING, "login_name" },
    { "statusDetails",        F_OBJECT, "status_id" },
    {   "statusId",           F_INT,    "status_num" },
    {   "uniqueId",           F_STRING, "status_id" },
    {   "statusName",         F_STRING, "status_name" },
    {   "statusCode",         F_STRING, "status_code" },
    {   "statusColor",        F_STRING, "status_color" },
    { NULL,                   F_END,    NULL },
    { "isEmployee",           F_BOOL,   "is_employee" },
    { "employeeCode",         F_STRING, "employee_code" },
    { "isTwoFactorEnabled",   F_BOOL,   "is_two_factor_enabled" },
};

#define USER_FIELDS ((int)(sizeof(user_fields) / sizeof(user_fields[0])))

/* The columns of the rows' kinds, found by name once (ub_store_column). */
typedef struct {
    int kind;                   /* 'refusal', 'role' or 'user' */
    int error_type, code, message;      /* a refusal */
    int role_id, role_model;            /* a role */
    int user_id, role_ids;              /* a user, and user_fields' below */
    int before, after;                  /* a user's change (?diff=true) */
    int field[USER_FIELDS];     /* -1 for a field without a column */
} columns;

/* What the rows build, one at a time. */
typedef struct {
    const ub_request *req;
    ub_jw w;
    apr_array_header_t *roles;  /* of role_entry, in userRoleModels order */
    int found;                  /* cols was filled */
    columns cols;
    const char *error_type;     /* the refusal, when the store refused */
    const char *code;
    const char *message;
    int users;                  /* target rows written */
} answer;

/* Finds every column the answer reads; APR_EGENERAL (logged) when one is
 * missing. */
static apr_status_t find_columns(answer *a, const ub_store_rows *rows)
{
    columns *c = &a->cols;
    int i, missing = 0;

#define FIND(member, name) \
    missing |= (c->member = ub_store_column(rows, name)) < 0
    FIND(kind, "kind");
    FIND(error_type, "error_type");
    FIND(code, "code");
    FIND(message, "message");
    FIND(role_id, "role_id");
    FIND(role_model, "role_model");
    FIND(user_id, "user_id");
    FIND(role_ids, "role_ids");
    FIND(before, "before");
    FIND(after, "after");
#undef FIND
    for (i = 0; i < USER_FIELDS; i++) {
        c->field[i] = -1;
        if (user_fields[i].column != NULL) {
            missing |= (c->field[i] = ub_store_column(rows, user_fields[i].column)) < 0;
        }
    }
    a->found = 1;
    return missing ? APR_EGENERAL : APR_SUCCESS;
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

/* The role entries (or ids) of the targets' roles: every role of a
 * target came as a role row, in userRoleModels order. */
static void write_roles(answer *a, const char *role_ids, int models)
{
    const role_entry *roles = (const role_entry *)a->roles->elts;
    int i;

    ub_jw_array_begin(&a->w);
    for (i = 0; i < a->roles->nelts; i++) {
        if (holds(role_ids, roles[i].id)) {
            if (models) {
                ub_jw_raw(&a->w, roles[i].model);
            }
            else {
                ub_jw_string(&a->w, roles[i].id);
            }
        }
    }
    ub_jw_array_end(&a->w);
}

/* One target in the seed's user model, as user_fields say. */
static apr_status_t write_user(answer *a, const ub_store_rows *rows)
{
    const role_entry *roles = (const role_entry *)a->roles->elts;
    const char *role_ids = ub_store_value(rows, a->cols.role_ids);
    const char *before = ub_store_value(rows, a->cols.before);
    const char *after = ub_store_value(rows, a->cols.after);
    ub_jw *w = &a->w;
    int i, found = 0;

    if (role_ids == NULL) {
        ub_logf(a->req, UB_LOG_ERR, APR_EGENERAL, "UB0214 the store answered a user without roles");
        return APR_EGENERAL;
    }
    /* half a change, or one not asked for: the answer would not be the
     * audit row */
    if ((before == NULL) != (after == NULL) || (before != NULL && !a->req->diff)) {
        ub_logf(a->req, UB_LOG_ERR, APR_EGENERAL,
                "UB0726 the store answered a user's change it was not asked for, or half of one");
        return APR_EGENERAL;
    }
    /* A role of the target missing from the role rows would be left out
     * of the answer silently. */
    for (i = 0; i < a->roles->nelts; i++) {
        found += holds(role_ids, roles[i].id);
    }
    if (found != elements(role_ids)) {
        ub_logf(a->req, UB_LOG_ERR, APR_EGENERAL,
                "UB0215 the store answered a user with a role it did not describe");
        return APR_EGENERAL;
    }
    ub_jw_object_begin(w);
    for (i = 0; i < USER_FIELDS; i++) {
        const user_field *f = &user_fields[i];
        const char *v = a->cols.field[i] >= 0 ? ub_store_value(rows, a->cols.field[i]) : NULL;

        if (f->kind == F_END) {
            ub_jw_object_end(w);
            continue;
        }
        ub_jw_key(w, f->key);
        switch (f->kind) {
        case F_OBJECT:
            if (f->column != NULL && v == NULL) {
                ub_jw_null(w);
                while (user_fields[i].kind != F_END) {     /* no nesting deeper */
                    i++;
                }
            }
            else {
                ub_jw_object_begin(w);
            }
            break;
        case F_ROLE_MODELS:
        case F_ROLE_IDS:
            write_roles(a, role_ids, f->kind == F_ROLE_MODELS);
            break;
        case F_STRING:
            ub_jw_string(w, v);
            break;
        case F_DAY:
            ub_jw_string(w, v ? apr_pstrndup(a->req->pool, v, 10) : NULL);
            break;
        case F_BOOL:
            if (v == NULL) {
                ub_jw_null(w);
            }
            else {
                ub_jw_bool(w, *v == 't');
            }
            break;
        case F_INT:
            if (v == NULL) {
                ub_jw_null(w);
            }
            else {
                ub_jw_int(w, apr_atoi64(v));
            }
            break;
        default:
            ub_jw_null(w);
            break;
        }
    }
    if (before != NULL) {
        ub_render_changes(w, before, after);
    }
    ub_jw_object_end(w);
    return APR_SUCCESS;
}

/* After the last row, still before COMMIT: whatever cannot be answered
 * fails here, so that it is rolled back and the 503 says the truth. */
static apr_status_t check_answer(answer *a)
{
    if (a->error_type == NULL && a->users == 0) {
        ub_logf(a->req, UB_LOG_ERR, APR_EGENERAL, "UB0212 the store answered no data");
        return APR_EGENERAL;
    }
    return a->w.rv;     /* the writer's first failure so far */
}

/* One row of the store's answer, by its kind: a refusal (alone), a role
 * (before any user), or a user; NULL after the last. */
static apr_status_t take_row(void *baton, const ub_store_rows *rows)
{
    answer *a = baton;
    const char *kind;

    if (rows == NULL) {
        return check_answer(a);
    }
    if (!a->found && find_columns(a, rows) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    kind = ub_store_value(rows, a->cols.kind);
    if (kind == NULL) {
        ub_logf(a->req, UB_LOG_ERR, APR_EGENERAL, "UB0203 the store answered an empty row");
        return APR_EGENERAL;
    }
    if (strcmp(kind, "refusal") == 0) {
        if (a->users > 0 || a->error_type != NULL) {
            ub_logf(a->req, UB_LOG_ERR, APR_EGENERAL, "UB0216 the store answered a refusal among data");
            return APR_EGENERAL;
        }
        a->error_type = ub_store_value(rows, a->cols.error_type);
        a->code = ub_store_value(rows, a->cols.code);
        a->message = ub_store_value(rows, a->cols.message);
        if (a->error_type == NULL || a->code == NULL || a->message == NULL) {
            ub_logf(a->req, UB_LOG_ERR, APR_EGENERAL, "UB0213 unreadable refusal from the store");
            return APR_EGENERAL;
        }
        /* answered after the rows are read, when the driver has freed them */
        a->error_type = apr_pstrdup(a->req->pool, a->error_type);
        a->code = apr_pstrdup(a->req->pool, a->code);
        a->message = apr_pstrdup(a->req->pool, a->message);
        return APR_SUCCESS;
    }
    if (a->error_type != NULL) {
        ub_logf(a->req, UB_LOG_ERR, APR_EGENERAL, "UB0217 the store answered data after a refusal");
        return APR_EGENERAL;
    }
    if (strcmp(kind, "role") == 0) {
        role_entry *r;

        if (a->users > 0 || ub_store_value(rows, a->cols.role_id) == NULL
            || ub_store_value(rows, a->cols.role_model) == NULL) {
            ub_logf(a->req, UB_LOG_ERR, APR_EGENERAL, "UB0218 the store answered a role out of place");
            return APR_EGENERAL;
        }
        r = apr_array_push(a->roles);
        r->id = ub_store_value(rows, a->cols.role_id);
        r->model = ub_store_value(rows, a->cols.role_model);
        return APR_SUCCESS;
    }
    if (strcmp(kind, "user") != 0) {
        ub_logf(a->req, UB_LOG_ERR, APR_EGENERAL,
                "UB0521 the store answered a row of unknown kind %s", kind);
        return APR_EGENERAL;
    }
    if (ub_store_value(rows, a->cols.user_id) == NULL) {
        ub_logf(a->req, UB_LOG_ERR, APR_EGENERAL, "UB0522 the store answered a user without its id");
        return APR_EGENERAL;
    }
    if (a->users++ == 0) {
        ub_jw_object_begin(&a->w);
        ub_jw_key(&a->w, "data");
        ub_jw_array_begin(&a->w);
    }
    return write_user(a, rows);
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
    if (req->diff) {
        json_object_set_new(ar->change, "diff", json_true());
    }
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
         : ub_store_account_update(req, db, args, req->dry_run, take_row, &a);
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
        ub_problem_store(&problem, rv);
        return answer_problem(req, out, outcome, &problem);
    }

    /* A refusal (checked by take_row). */
    if (a.error_type != NULL) {
        ub_problem_set(&problem, strcmp(a.error_type, "Conflict") == 0 ? 409 : 400,
                       a.code, a.message, "Nothing was changed.");
        problem.error_type = a.error_type;
        return answer_problem(req, out, outcome, &problem);
    }

    ub_jw_array_end(&a.w);
    env.status = 200;
    env.data_json = NULL;
    /* a dry run's answer is a real run's, but must not claim a change */
    env.message = req->dry_run
        ? apr_psprintf(req->pool, "%d users would be updated (dry run: nothing was changed)",
                       ar->targets)
        : apr_psprintf(req->pool, "%d users updated", ar->targets);
    env.error_type = NULL;
    env.description = NULL;
    env.trace_id = req->trace_id;
    ub_render_envelope_tail(&a.w, &env);
    outcome->status = 200;
    outcome->applied = req->dry_run ? 0 : ar->targets;
    return ub_jw_status(&a.w);
}
