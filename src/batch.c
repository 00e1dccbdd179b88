/*
 * batch.c: PUT /users records from JSON, with every check that needs no
 * database.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include "batch.h"
#include "jdoc.h"
#include "textbuf.h"
#include "fields.h"

void ub_record_fail(apr_pool_t *pool, ub_put_record *rec, const char *field,
                    const char *code, const char *message)
{
    ub_fields f = { pool, rec->errors };

    ub_field_fail(&f, field, code, message);
}

/* Fails every key of obj that is not in known[]. */
static void refuse_unknown(ub_fields *f, const ub_jval *obj, const char *parent,
                           const char *const *known)
{
    apr_size_t i;

    if (!ub_j_is(obj, UB_J_OBJECT)) {
        return;
    }
    for (i = 0; i < obj->len; i++) {
        const ub_jmember *m = &obj->u.members[i];
        const char *const *k;

        for (k = known; *k != NULL && !ub_jkey_is(m, *k); k++)
            ;
        if (*k == NULL) {
            ub_field_fail(f, ub_field_path(f->pool, parent, m->key),
                          "unknown_field", "is not a field of a user");
        }
    }
}

/* name absent or null clears all three. */
static void take_name(ub_fields *f, ub_put_row *row, const ub_jval *obj)
{
    static const char *const known[] = { "firstName", "middleName", "lastName", NULL };
    const ub_jval *name = ub_take_object(f, obj, NULL, "name");

    refuse_unknown(f, name, "name", known);
    row->first_name = ub_take_string(f, name, "name", "firstName",
                                     UB_LEN_PERSON_NAME, NULL, 0);
    row->middle_name = ub_take_string(f, name, "name", "middleName",
                                      UB_LEN_PERSON_NAME, NULL, 0);
    row->last_name = ub_take_string(f, name, "name", "lastName",
                                    UB_LEN_PERSON_NAME, NULL, 0);
}

/* userAccess flags are read-only: they are passed on, when sent, so the
 * store can accept a value equal to the stored one. */
static void take_user_access(ub_fields *f, ub_put_row *row, const ub_jval *obj)
{
    static const char *const known[] = { "AccessAutomation", "AccessCertification",
        "AccessComplete", "AccessOperationalMatching", NULL };
    const ub_jval *access = ub_take_object(f, obj, NULL, "userAccess");
    int i;

    refuse_unknown(f, access, "userAccess", known);
    for (i = 0; known[i] != NULL; i++) {
        row->access[i] = ub_take_bool(f, access, "userAccess", known[i], -1);
    }
}

/* roles: [{"roleId": uuid} | {"roleName": name}, ...]; null or absent is
 * no roles. Passed on as sent (in order, so errors name the position). */
static void take_roles(ub_fields *f, ub_put_row *row, const ub_jval *obj)
{
    static const char *const known[] = { "roleId", "roleName", NULL };
    apr_pool_t *pool = f->pool;
    const ub_jval *roles = ub_jobj_get(obj, "roles");
    apr_size_t i;

    row->roles = apr_array_make(pool, roles && roles->type == UB_J_ARRAY
                                      && roles->len <= UB_MAX_ROLES
                                      ? (int)roles->len + 1 : 1,
                                sizeof(ub_role_ref));
    if (ub_j_missing(roles)) {
        return;
    }
    if (roles->type != UB_J_ARRAY) {
        ub_field_fail(f, "roles", "invalid_type",
                      "must be an array of {\"roleId\"} or {\"roleName\"} objects, or null");
        return;
    }
    /* one error for the list, not one per role past the cap */
    if (roles->len > UB_MAX_ROLES) {
        ub_field_fail(f, "roles", "too_many_roles",
                      apr_psprintf(pool, "holds %lu roles; at most %d are allowed",
                                   (unsigned long)roles->len, UB_MAX_ROLES));
        return;
    }
    for (i = 0; i < roles->len; i++) {
        const ub_jval *role = &roles->u.items[i];
        const char *path = apr_psprintf(pool, "roles[%lu]", (unsigned long)i);
        ub_role_ref *ref;
        int before = f->errors->nelts;

        if (role->type != UB_J_OBJECT) {
            ub_field_fail(f, path, "invalid_type",
                          "must be an object with roleId or roleName");
            continue;
        }
        refuse_unknown(f, role, path, known);
        ref = apr_array_push(row->roles);
        ref->id = ub_take_string(f, role, path, "roleId", 36, ub_check_uuid, 0);
        ref->name = ub_take_string(f, role, path, "roleName", UB_LEN_ROLE_NAME, NULL, 0);
        if (ref->id == NULL && ref->name == NULL && f->errors->nelts == before) {
            ub_field_fail(f, path, "required", "needs roleId or roleName");
        }
    }
}

/* version: the user's version as the client read it; a record naming an
 * older one fails with "conflict" instead of overwriting a newer change. */
static void take_version(ub_fields *f, ub_put_row *row, const ub_jval *obj)
{
    const ub_jval *v = ub_jobj_get(obj, "version");

    row->expected_version = 0;
    if (ub_j_missing(v)) {
        return;
    }
    if (v->type != UB_J_INTEGER || v->u.integer < 1) {
        ub_field_fail(f, "version", "invalid_type",
                      "must be a whole number from 1, or null");
        return;
    }
    row->expected_version = v->u.integer;
}

static void parse_record(apr_pool_t *pool, ub_put_record *rec, const ub_jval *obj)
{
    static const char *const known[] = { "userName", "name", "email",
        "phoneNumber", "roles", "userAccess", "departmentId", "locationId",
        "programAdminRoleId", "lockedOut", "password", "version", NULL };
    ub_fields fields = { pool, rec->errors };
    ub_fields *f = &fields;
    ub_put_row *row = &rec->row;

    if (obj->type != UB_J_OBJECT) {
        ub_field_fail(f, "", "invalid_type", "a user record must be a JSON object");
        return;
    }
    if (ub_j_missing(ub_jobj_get(obj, "userName"))) {
        ub_field_fail(f, "userName", "required", "is required: it names the user to update");
    }
    else {
        rec->user_name = ub_take_string(f, obj, NULL, "userName", UB_LEN_USER_NAME,
                                        NULL, 0);
        if (rec->user_name != NULL && *rec->user_name == '\0') {
            ub_field_fail(f, "userName", "required", "cannot be empty");
        }
    }
    if (ub_j_missing(ub_jobj_get(obj, "email"))) {
        ub_field_fail(f, "email", "required", "is required");
    }
    else {
        row->email = ub_take_string(f, obj, NULL, "email", UB_LEN_EMAIL,
                                    ub_check_email, 0);
    }
    if (ub_jobj_get(obj, "password") != NULL) {
        ub_field_fail(f, "password", "read_only", "cannot be changed through this API");
    }
    refuse_unknown(f, obj, NULL, known);
    take_name(f, row, obj);
    row->phone = ub_take_string(f, obj, NULL, "phoneNumber", UB_LEN_PHONE,
                                ub_check_phone, 0);
    row->department = ub_take_string(f, obj, NULL, "departmentId", UB_LEN_CODE, NULL, 0);
    row->location = ub_take_string(f, obj, NULL, "locationId", UB_LEN_CODE, NULL, 0);
    row->program_admin_role = ub_take_string(f, obj, NULL, "programAdminRoleId",
                                             UB_LEN_CODE, NULL, 0);
    row->locked_out = ub_take_bool(f, obj, NULL, "lockedOut", 0);
    take_roles(f, row, obj);
    take_user_access(f, row, obj);
    take_version(f, row, obj);
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
    ub_jdoc_limits limits;
    const ub_jval *doc;
    const ub_jval *items;
    ub_put_batch *batch;
    size_t n, i;

    /* the records are counted as they are read: record limit + 1 stops
     * the parse, before it reads that record or anything after it */
    limits.max_items = (apr_size_t)req->max_records;
    limits.max_values = UB_MAX_JSON_VALUES(req->max_records);
    doc = ub_jdoc_parse_limited(pool, body, len, &limits, problem);
    if (doc == NULL) {
        if (problem->code != NULL && strcmp(problem->code, UB_JDOC_TOO_MANY_ITEMS) == 0) {
            problem->code = "too_many_records";
            problem->message = apr_psprintf(pool,
                "the request holds %d user records or more; at most %d are allowed",
                req->max_records + 1, req->max_records);
            problem->description = "Split the update into requests of at most "
                "the limit; nothing was changed.";
        }
        return NULL;
    }
    if (doc->type == UB_J_OBJECT) {
        items = doc;                /* a single object: a batch of one */
        n = 1;
    }
    else if (doc->type == UB_J_ARRAY) {
        items = doc->u.items;
        n = doc->len;
    }
    else {
        problem->status = 400;
        problem->code = "invalid_body";
        problem->message = "the body must be a JSON array of user objects";
        problem->description = "Send [{\"userName\": ..., \"email\": ...}, ...].";
        return NULL;
    }
    if (n == 0) {
        problem->status = 400;
        problem->code = "empty_batch";
        problem->message = "the request holds no user records";
        problem->description = "Send 1 or more user records.";
        return NULL;
    }
    batch = apr_pcalloc(pool, sizeof(*batch));
    batch->records = apr_array_make(pool, (int)n, sizeof(ub_put_record));
    batch->body_len = len;
    for (i = 0; i < n; i++) {
        ub_put_record *rec = apr_array_push(batch->records);
        memset(rec, 0, sizeof(*rec));
        rec->index = (int)i;
        rec->errors = apr_array_make(pool, 1, sizeof(ub_field_error));
        parse_record(pool, rec, &items[i]);
    }
    refuse_repeated_user_names(pool, batch);
    return batch;
}

/* A flag as a field of the row: t, f, or empty (NULL: not sent). */
static void put_flag(ub_textbuf *tb, int v)
{
    if (v >= 0) {
        ub_tb_putc(tb, v ? 't' : 'f');
    }
}

/* The roles as JSON, [{"roleId":..,"roleName":..}], into one. */
static const char *roles_json(ub_textbuf *one, const apr_array_header_t *roles)
{
    const ub_role_ref *r = (const ub_role_ref *)roles->elts;
    int i;

    one->len = 0;
    ub_tb_putc(one, '[');
    for (i = 0; i < roles->nelts; i++) {
        ub_tb_puts(one, i ? ",{\"roleId\":" : "{\"roleId\":");
        ub_tb_json_string(one, r[i].id);
        ub_tb_puts(one, ",\"roleName\":");
        ub_tb_json_string(one, r[i].name);
        ub_tb_putc(one, '}');
    }
    ub_tb_putc(one, ']');
    return ub_tb_text(one);
}

/* The batch's distinct lists of roles: a record names its own by number
 * (from 1), and each goes to PostgreSQL once, in lists, as an element of
 * an array of texts. */
typedef struct {
    apr_hash_t *number;     /* list's JSON text -> its number (int *) */
    ub_textbuf lists;       /* the array literal so far: {"[...]","[...]" */
    int count;
} role_lists;

/* The number of this list of roles (its JSON text); a list not seen
 * before is added. */
static int role_list_number(apr_pool_t *pool, role_lists *rl, const char *json,
                            apr_size_t len)
{
    int *n = apr_hash_get(rl->number, json, (apr_ssize_t)len);

    if (n == NULL) {
        n = apr_palloc(pool, sizeof(*n));
        *n = ++rl->count;
        apr_hash_set(rl->number, apr_pstrmemdup(pool, json, len), (apr_ssize_t)len, n);
        if (*n > 1) {
            ub_tb_putc(&rl->lists, ',');
        }
        ub_tb_array_element(&rl->lists, json);
    }
    return *n;
}

/* Appends the record as one element of the array of rows: "(f,f,...)",
 * its fields in the order of userbulk.put_input (batch.h). */
static void put_record(apr_pool_t *pool, ub_textbuf *tb, ub_textbuf *one,
                       role_lists *rl, const ub_put_record *rec)
{
    const ub_put_row *row = &rec->row;
    const char *const text[] = { rec->user_name, row->email, row->first_name,
        row->middle_name, row->last_name, row->phone, row->department,
        row->location, row->program_admin_role };
    const char *json;
    size_t t;
    int k;

    ub_tb_put(tb, "\"(", 2);
    ub_tb_int(tb, rec->index);
    for (t = 0; t < sizeof(text) / sizeof(text[0]); t++) {
        ub_tb_putc(tb, ',');
        ub_tb_row_field(tb, text[t]);
    }
    ub_tb_putc(tb, ',');
    put_flag(tb, row->locked_out);
    ub_tb_putc(tb, ',');
    json = roles_json(one, row->roles);
    ub_tb_int(tb, role_list_number(pool, rl, json, one->len));
    for (k = 0; k < 4; k++) {
        ub_tb_putc(tb, ',');
        put_flag(tb, row->access[k]);
    }
    ub_tb_putc(tb, ',');
    if (row->expected_version > 0) {
        ub_tb_int(tb, row->expected_version);
    }
    ub_tb_put(tb, ")\"", 2);
}

void ub_put_batch_store_input(apr_pool_t *pool, const ub_put_batch *batch,
                              ub_put_store_input *out)
{
    const ub_put_record *recs = (const ub_put_record *)batch->records->elts;
    ub_textbuf tb, one;
    role_lists rl;
    int i;

    ub_tb_init(&one, pool, 256);
    /* about the body's size, its escapes included: grown (doubling) when
     * a body with many quotes takes more */
    ub_tb_init(&tb, pool, batch->body_len + batch->body_len / 4 + 64);
    rl.number = apr_hash_make(pool);
    rl.count = 0;
    ub_tb_init(&rl.lists, pool, 256);
    ub_tb_putc(&rl.lists, '{');
    ub_tb_putc(&tb, '{');
    out->count = 0;
    for (i = 0; i < batch->records->nelts; i++) {
        if (recs[i].errors->nelts > 0) {
            continue;
        }
        if (out->count++ > 0) {
            ub_tb_putc(&tb, ',');
        }
        put_record(pool, &tb, &one, &rl, &recs[i]);
    }
    ub_tb_putc(&tb, '}');
    ub_tb_putc(&rl.lists, '}');
    out->records = ub_tb_text(&tb);
    out->role_lists = ub_tb_text(&rl.lists);
}
