/*
 * scim_map.c: see scim_map.h.
 */
#include <string.h>
#include <strings.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include "scim_map.h"
#include "scim_filter.h"
#include "scim_users.h"

/* The mapping (README, SCIM section). The order is the order of the
 * checks, hence of the first error a refusal names. */
const ub_scim_map ub_scim_user_map[] = {
    { "userName", NULL, UB_SCIM_COL_USER_NAME, UB_SCIM_MAP_STRING, 0, NULL,
      UB_LEN_USER_NAME, NULL, 1 },
    { "name", "givenName", UB_SCIM_COL_GIVEN, UB_SCIM_MAP_STRING, 0, NULL,
      UB_LEN_PERSON_NAME, NULL, 0 },
    { "name", "middleName", UB_SCIM_COL_MIDDLE, UB_SCIM_MAP_STRING, 0, NULL,
      UB_LEN_PERSON_NAME, NULL, 0 },
    { "name", "familyName", UB_SCIM_COL_FAMILY, UB_SCIM_MAP_STRING, 0, NULL,
      UB_LEN_PERSON_NAME, NULL, 0 },
    { "displayName", NULL, UB_SCIM_COL_DISPLAY, UB_SCIM_MAP_STRING, 0, NULL,
      UB_LEN_DISPLAY, NULL, 0 },
    { "emails", "value", UB_SCIM_COL_EMAIL, UB_SCIM_MAP_PRIMARY, 0, "|work|",
      UB_LEN_EMAIL, ub_check_email, 1 },
    { "phoneNumbers", "value", UB_SCIM_COL_PHONE1, UB_SCIM_MAP_NTH, 0, "|work|",
      UB_LEN_PHONE, ub_check_phone, 0 },
    { "phoneNumbers", "value", UB_SCIM_COL_PHONE2, UB_SCIM_MAP_NTH, 1, "|mobile|other|",
      UB_LEN_PHONE, ub_check_phone, 0 },
    { "active", NULL, UB_SCIM_COL_LOCKED_OUT, UB_SCIM_MAP_NOT_BOOL, 0, NULL, 0, NULL, 0 },
    { "externalId", NULL, UB_SCIM_COL_EXTERNAL_ID, UB_SCIM_MAP_STRING, 0, NULL,
      UB_LEN_EXTERNAL_ID, NULL, 0 },
    { UB_SCIM_ENTERPRISE_SCHEMA, "employeeNumber", UB_SCIM_COL_EMPLOYEE_CODE,
      UB_SCIM_MAP_STRING, 0, NULL, UB_LEN_CODE, NULL, 0 },
    { UB_SCIM_ENTERPRISE_SCHEMA, "department", UB_SCIM_COL_DEPARTMENT, UB_SCIM_MAP_STRING, 0,
      NULL, UB_LEN_CODE, NULL, 0 },
    { UB_SCIM_ENTERPRISE_SCHEMA, "manager", UB_SCIM_COL_MANAGER, UB_SCIM_MAP_REF, 0, NULL,
      36, ub_check_uuid, 0 },
};
const apr_size_t ub_scim_user_map_len = sizeof(ub_scim_user_map) / sizeof(ub_scim_user_map[0]);

/* Attributes of the core User schema (RFC 7643 section 4.1) without a
 * column here, and the readOnly ones. */
static const char *const ignored[] = {
    "nickName", "profileUrl", "title", "userType", "preferredLanguage",
    "locale", "timezone", "password", "groups", "ims", "photos", "addresses",
    "entitlements", "roles", "x509Certificates", NULL
};
static const char *const read_only[] = { "id", "meta", "schemas", NULL };

int ub_scim_name_is(const char *name, const char *attr, apr_size_t len)
{
    return len > 0 && apr_tolower(*name) == apr_tolower(*attr)
           && strncasecmp(name, attr, len) == 0 && name[len] == '\0';
}

static int in_list(const char *const *list, const char *attr, apr_size_t len)
{
    for (; *list; list++) {
        if (ub_scim_name_is(*list, attr, len)) {
            return 1;
        }
    }
    return 0;
}

int ub_scim_ignored_attr(const char *attr, apr_size_t len, int *ro)
{
    *ro = in_list(read_only, attr, len);
    return *ro || in_list(ignored, attr, len);
}

int ub_scim_has_user_schema(const ub_jval *doc)
{
    const ub_jval *schemas = ub_jobj_get(doc, "schemas");
    apr_size_t i;

    if (!ub_j_is(schemas, UB_J_ARRAY)) {
        return 0;
    }
    for (i = 0; i < schemas->len; i++) {
        const ub_jval *s = &schemas->u.items[i];

        if (s->type == UB_J_STRING && strcmp(s->u.str, UB_SCIM_USER_SCHEMA) == 0) {
            return 1;
        }
    }
    return 0;
}

int ub_scim_map_takes_type(const ub_scim_map *m, const char *type)
{
    apr_size_t n = strlen(type), at;
    const char *p;

    if (m->types == NULL || n == 0) {
        return 0;
    }
    /* m->types is "|work|" or "|mobile|other|": a whole word between bars */
    for (p = m->types; (p = strcasestr(p, type)) != NULL; p++) {
        at = (apr_size_t)(p - m->types);
        if (at > 0 && m->types[at - 1] == '|' && p[n] == '|') {
            return 1;
        }
    }
    return 0;
}

static void set_col(ub_scim_cols *cols, ub_scim_col col, const char *v)
{
    cols->v[col] = v;
    cols->set |= 1u << col;
}

/* A boolean: JSON true/false, or the strings "True"/"False" in any case
 * (Microsoft Entra sends active so in some tenants). -1: refused (error
 * recorded), -2: absent or null. */
static int take_flag(ub_fields *f, const ub_jval *v, const char *path)
{
    if (ub_j_missing(v)) {
        return -2;
    }
    if (ub_j_is_bool(v)) {
        return v->type == UB_J_TRUE;
    }
    if (v->type == UB_J_STRING && strcasecmp(v->u.str, "true") == 0) {
        return 1;
    }
    if (v->type == UB_J_STRING && strcasecmp(v->u.str, "false") == 0) {
        return 0;
    }
    ub_field_fail(f, path, "invalid_type", "must be true or false");
    return -1;
}

void ub_scim_map_value(ub_fields *f, const ub_scim_map *m, const char *path,
                       const ub_jval *v, ub_scim_cols *cols)
{
    ub_jmember one;
    ub_jval holder;
    const char *s;
    int n = f->errors->nelts;

    if (m->kind == UB_SCIM_MAP_NOT_BOOL) {
        int flag = take_flag(f, v, path);

        if (flag == -2) {
            ub_field_fail(f, path, "required", "is true or false, never absent");
        }
        else if (flag >= 0) {
            set_col(cols, m->col, flag ? "false" : "true");
        }
        return;
    }
    if (m->kind == UB_SCIM_MAP_REF && ub_j_is(v, UB_J_OBJECT)) {
        /* {"value": id, "$ref": ..., "displayName": ...}: the id counts */
        path = ub_field_path(f->pool, path, "value");
        v = ub_jobj_get(v, "value");
    }
    /* one member {path: v}: the takers of fields.c check it as they check
     * every body's field */
    one.key = path;
    one.key_len = strlen(path);
    one.value = v ? *v : (ub_jval){ .type = UB_J_NULL };
    holder.type = UB_J_OBJECT;
    holder.len = 1;
    holder.u.members = &one;
    s = ub_take_string(f, &holder, NULL, path, m->max_chars, m->check, 0);
    if (f->errors->nelts > n) {
        return;
    }
    if (m->required && (s == NULL || *s == '\0')) {
        ub_field_fail(f, path, "required", s ? "cannot be empty" : "is required");
        return;
    }
    set_col(cols, m->col, s);
}

/* The index in the multi-valued attribute arr of the value to keep: the
 * first with primary true, else the first; -1 when arr is empty. -2 when
 * an entry is not an object (recorded as a field error). */
static int primary_entry(ub_fields *f, const ub_jval *arr, const char *name)
{
    apr_size_t i;

    for (i = 0; i < arr->len; i++) {
        if (arr->u.items[i].type != UB_J_OBJECT) {
            ub_field_fail(f, apr_psprintf(f->pool, "%s[%" APR_SIZE_T_FMT "]", name, i),
                          "invalid_type", "must be an object");
            return -2;
        }
    }
    for (i = 0; i < arr->len; i++) {
        if (ub_j_is(ub_jobj_get(&arr->u.items[i], "primary"), UB_J_TRUE)) {
            return (int)i;
        }
    }
    return arr->len > 0 ? 0 : -1;
}

/* The entry of the multi-valued attribute arr that row m keeps: the first
 * whose type is one the row takes (phoneNumbers: work for phone1, mobile
 * or other for phone2); when no entry has a type, the m->nth-th; -1 for
 * none (an entry of a type no row takes, fax or home, is not kept). */
static int typed_entry(const ub_jval *arr, const ub_scim_map *m)
{
    apr_size_t i;
    int typed = 0;

    for (i = 0; i < arr->len; i++) {
        const ub_jval *t = ub_jobj_get(&arr->u.items[i], "type");

        if (ub_j_is(t, UB_J_STRING)) {
            typed = 1;
            if (ub_scim_map_takes_type(m, t->u.str)) {
                return (int)i;
            }
        }
    }
    return !typed && (apr_size_t)m->nth < arr->len ? m->nth : -1;
}

/* One row of the table from a whole User. */
static void read_row(ub_fields *f, const ub_jval *doc, const ub_scim_map *m,
                     ub_scim_cols *cols)
{
    const ub_jval *v = ub_jobj_get(doc, m->attr);
    int at;

    switch (m->kind) {
    case UB_SCIM_MAP_STRING:
    case UB_SCIM_MAP_REF:
        if (m->sub != NULL) {
            if (!ub_j_missing(v) && v->type != UB_J_OBJECT) {
                ub_field_fail(f, m->attr, "invalid_type", "must be an object or null");
                return;
            }
            v = ub_jobj_get(v, m->sub);
            /* an extension's attribute is named "<its URN>:<name>" */
            ub_scim_map_value(f, m, strncmp(m->attr, "urn:", 4) == 0
                                    ? apr_pstrcat(f->pool, m->attr, ":", m->sub, NULL)
                                    : ub_field_path(f->pool, m->attr, m->sub), v, cols);
        }
        else {
            ub_scim_map_value(f, m, m->attr, v, cols);
        }
        return;
    case UB_SCIM_MAP_NOT_BOOL:
        if (ub_j_missing(v)) {
            set_col(cols, m->col, "false");     /* active unless said otherwise */
            return;
        }
        ub_scim_map_value(f, m, m->attr, v, cols);
        return;
    case UB_SCIM_MAP_PRIMARY:
    case UB_SCIM_MAP_NTH:
        if (!ub_j_missing(v) && v->type != UB_J_ARRAY) {
            ub_field_fail(f, m->attr, "invalid_type", "must be an array or null");
            return;
        }
        if (ub_j_missing(v)) {
            at = -1;
        }
        else if (m->kind == UB_SCIM_MAP_PRIMARY) {
            at = primary_entry(f, v, m->attr);
        }
        else {
            at = typed_entry(v, m);
            if (at >= 0 && v->u.items[at].type != UB_J_OBJECT) {
                ub_field_fail(f, apr_psprintf(f->pool, "%s[%d]", m->attr, at),
                              "invalid_type", "must be an object");
                return;
            }
        }
        if (at == -2) {
            return;
        }
        if (at == -1) {
            if (m->required) {
                ub_field_fail(f, m->attr, "required",
                              "is required: every user of the directory has an address");
                return;
            }
            set_col(cols, m->col, NULL);
            return;
        }
        ub_scim_map_value(f, m, apr_psprintf(f->pool, "%s[%d].%s", m->attr, at, m->sub),
                          ub_jobj_get(&v->u.items[at], m->sub), cols);
        return;
    }
}

void ub_scim_read_user(ub_fields *f, const ub_jval *doc, ub_scim_cols *cols)
{
    apr_size_t i;

    memset(cols, 0, sizeof(*cols));
    for (i = 0; i < ub_scim_user_map_len; i++) {
        read_row(f, doc, &ub_scim_user_map[i], cols);
    }
}
