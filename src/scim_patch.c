/*
 * scim_patch.c: see scim_patch.h.
 */
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "scim_patch.h"
#include "scim_filter.h"
#include "scim_users.h"
#include "errors.h"

typedef enum { OP_ADD, OP_REPLACE, OP_REMOVE } patch_op;

/* One compilation: the pool, the columns, the operation's name for the
 * errors ("Operations[2]"). */
typedef struct {
    apr_pool_t *pool;
    ub_scim_cols *cols;
    ub_problem *problem;
    const char *where;
} patch_ctx;

static int fail(patch_ctx *c, const char *scim_type, const char *message)
{
    ub_problem_set(c->problem, 400, scim_type,
                   apr_psprintf(c->pool, "%s: %s", c->where, message),
                   "See RFC 7644 section 3.5.2 and the attribute mapping in the README's "
                   "SCIM section.");
    c->problem->scim_type = scim_type;
    return 400;
}

/* A parsed path: attr[filter].sub, each part optional but attr. */
typedef struct {
    const char *attr;
    apr_size_t attr_len;
    const char *sub;            /* NULL: none */
    int has_filter;
    const char *filter_type;    /* [type eq "x"]: x; NULL for [primary eq true] */
} patch_path;

static int name_char(char ch)
{
    return apr_isalnum(ch) || ch == '_' || ch == '-' || ch == '$';
}

static const char *skip_spaces(const char *s)
{
    while (*s == ' ') {
        s++;
    }
    return s;
}

/* [type eq "work"] or [primary eq true], the brackets' inside. */
static int parse_filter(patch_ctx *c, const char *s, const char *end, patch_path *p)
{
    const char *a = skip_spaces(s), *e = a;

    while (e < end && name_char(*e)) {
        e++;
    }
    if (e - a == 4 && strncasecmp(a, "type", 4) == 0) {
        const char *q, *v = skip_spaces(e);

        if (end - v < 3 || strncasecmp(v, "eq ", 3) != 0) {
            return fail(c, "invalidFilter", "a value filter here is [type eq \"...\"] or "
                        "[primary eq true]");
        }
        v = skip_spaces(v + 3);
        if (v >= end || *v != '"' || (q = memchr(v + 1, '"', (apr_size_t)(end - v - 1))) == NULL
            || *skip_spaces(q + 1) != ']') {
            return fail(c, "invalidFilter", "the type in [type eq \"...\"] is a quoted string");
        }
        p->filter_type = apr_pstrndup(c->pool, v + 1, (apr_size_t)(q - v - 1));
        return 0;
    }
    if (e - a == 7 && strncasecmp(a, "primary", 7) == 0) {
        const char *v = skip_spaces(e);

        if (end - v >= 3 && strncasecmp(v, "eq ", 3) == 0) {
            v = skip_spaces(v + 3);
            if (end - v >= 4 && strncasecmp(v, "true", 4) == 0 && *skip_spaces(v + 4) == ']') {
                p->filter_type = NULL;
                return 0;
            }
        }
    }
    return fail(c, "invalidFilter", "a value filter here is [type eq \"...\"] or "
                "[primary eq true]");
}

static int parse_path(patch_ctx *c, const char *text, patch_path *p)
{
    apr_size_t urn = strlen(UB_SCIM_USER_URN), ent = strlen(UB_SCIM_ENTERPRISE_SCHEMA);
    const char *s = text, *e;

    memset(p, 0, sizeof(*p));
    if (strncasecmp(s, UB_SCIM_USER_URN, urn) == 0) {
        s += urn;
    }
    else if (strncasecmp(s, UB_SCIM_ENTERPRISE_SCHEMA, ent) == 0
             && (s[ent] == '\0' || s[ent] == ':')) {
        /* the enterprise extension: "<URN>" (its object) or
         * "<URN>:employeeNumber", "<URN>:manager", "<URN>:manager.value" */
        apr_size_t len;

        p->attr = UB_SCIM_ENTERPRISE_SCHEMA;
        p->attr_len = ent;
        if (s[ent] == '\0') {
            return 0;
        }
        s += ent + 1;
        for (e = s; name_char(*e); e++)
            ;
        len = (apr_size_t)(e - s);
        if (len == 0 || (*e != '\0' && strcasecmp(e, ".value") != 0)) {
            return fail(c, "invalidPath", apr_psprintf(c->pool, "path %s names no attribute", text));
        }
        p->sub = apr_pstrndup(c->pool, s, len);
        return 0;
    }
    else if (strncasecmp(s, "urn:", 4) == 0) {
        /* an extension's attribute: the whole text is its name */
        p->attr = s;
        p->attr_len = strlen(s);
        return 0;
    }
    for (e = s; name_char(*e); e++)
        ;
    if (e == s) {
        return fail(c, "invalidPath", apr_psprintf(c->pool, "path %s names no attribute", text));
    }
    p->attr = s;
    p->attr_len = (apr_size_t)(e - s);
    if (*e == '[') {
        const char *close = strchr(e, ']');

        if (close == NULL) {
            return fail(c, "invalidFilter", apr_psprintf(c->pool, "path %s: [ without ]", text));
        }
        if (parse_filter(c, e + 1, close, p) != 0) {
            return 400;
        }
        p->has_filter = 1;
        e = close + 1;
    }
    if (*e == '.') {
        const char *sub = e + 1;

        for (e = sub; name_char(*e); e++)
            ;
        if (e == sub) {
            return fail(c, "invalidPath", apr_psprintf(c->pool, "path %s names no attribute", text));
        }
        p->sub = apr_pstrndup(c->pool, sub, (apr_size_t)(e - sub));
    }
    if (*e != '\0') {
        return fail(c, "invalidPath", apr_psprintf(c->pool, "path %s names no attribute", text));
    }
    return 0;
}

/* The enterprise extension's attributes without a column here: ignored,
 * as POST /Users ignores them. */
static int ignored_sub(const patch_path *p, const char *sub)
{
    return p->attr_len == sizeof(UB_SCIM_ENTERPRISE_SCHEMA) - 1
           && strncasecmp(p->attr, UB_SCIM_ENTERPRISE_SCHEMA, p->attr_len) == 0
           && (strcasecmp(sub, "costCenter") == 0 || strcasecmp(sub, "organization") == 0
               || strcasecmp(sub, "division") == 0);
}

static int attr_is(const ub_scim_map *m, const patch_path *p)
{
    return ub_scim_name_is(m->attr, p->attr, p->attr_len);
}

/* A value refused by the mapping's checks, as a SCIM error. */
static int value_checked(patch_ctx *c, ub_fields *f)
{
    const ub_field_error *e;

    if (f->errors->nelts == 0) {
        return 0;
    }
    e = &APR_ARRAY_IDX(f->errors, 0, ub_field_error);
    return fail(c, "invalidValue", apr_psprintf(c->pool, "%s %s", e->field, e->message));
}

static int assign(patch_ctx *c, const ub_scim_map *m, const char *path, const ub_jval *v)
{
    ub_fields f = { c->pool, apr_array_make(c->pool, 1, sizeof(ub_field_error)) };

    ub_scim_map_value(&f, m, path, v, c->cols);
    return value_checked(c, &f);
}

static int clear(patch_ctx *c, const ub_scim_map *m, const char *path)
{
    if (m->required || m->kind == UB_SCIM_MAP_NOT_BOOL) {
        if (m->col == UB_SCIM_COL_USER_NAME) {
            return fail(c, "mutability", "userName is immutable and cannot be removed");
        }
        return fail(c, "invalidValue",
                    apr_psprintf(c->pool, "%s cannot be removed: every user has one", path));
    }
    c->cols->v[m->col] = NULL;
    c->cols->set |= 1u << m->col;
    return 0;
}

/* The row of the multi-valued attribute p that takes entries of type
 * type (any case), or NULL. */
static const ub_scim_map *row_for_type(const patch_path *p, const char *type)
{
    apr_size_t k;

    for (k = 0; k < ub_scim_user_map_len; k++) {
        const ub_scim_map *m = &ub_scim_user_map[k];

        if (attr_is(m, p) && ub_scim_map_takes_type(m, type)) {
            return m;
        }
    }
    return NULL;
}

/* The row of the multi-valued attribute that entry i (of type type, NULL
 * when untyped) of an add or replace lands in: the one address whatever
 * its type; a phone number by its type (NULL, not kept, for a type no row
 * takes: fax, home), an untyped one by its position (as POST reads them). */
static const ub_scim_map *entry_row(const patch_path *p, int i, const char *type)
{
    apr_size_t k;

    for (k = 0; k < ub_scim_user_map_len; k++) {
        const ub_scim_map *m = &ub_scim_user_map[k];

        if (attr_is(m, p) && m->kind == UB_SCIM_MAP_PRIMARY) {
            return m;
        }
    }
    if (type != NULL) {
        return row_for_type(p, type);
    }
    for (k = 0; k < ub_scim_user_map_len; k++) {
        const ub_scim_map *m = &ub_scim_user_map[k];

        if (attr_is(m, p) && m->kind == UB_SCIM_MAP_NTH && m->nth == i) {
            return m;
        }
    }
    return NULL;
}

/* add or replace of a whole multi-valued attribute (emails, phoneNumbers):
 * an array of entries (or one entry). */
static int assign_multi(patch_ctx *c, patch_op op, const patch_path *p, const char *name,
                        const ub_jval *v)
{
    ub_jval one_arr;
    apr_size_t i, k;
    int primary = -1;

    if (ub_j_missing(v)) {
        return fail(c, "invalidValue", apr_psprintf(c->pool, "%s needs a value", name));
    }
    if (v->type == UB_J_OBJECT) {
        one_arr.type = UB_J_ARRAY;
        one_arr.len = 1;
        one_arr.u.items = v;
        v = &one_arr;
    }
    if (v->type != UB_J_ARRAY) {
        return fail(c, "invalidValue", apr_psprintf(c->pool, "%s takes an array of entries", name));
    }
    if (op == OP_REPLACE) {
        /* the entries not given are gone (the required one is given
         * below, or refused) */
        for (k = 0; k < ub_scim_user_map_len; k++) {
            const ub_scim_map *m = &ub_scim_user_map[k];

            if (attr_is(m, p) && !m->required) {
                c->cols->v[m->col] = NULL;
                c->cols->set |= 1u << m->col;
            }
        }
    }
    for (i = 0; i < v->len; i++) {
        const ub_jval *e = &v->u.items[i];

        if (e->type != UB_J_OBJECT) {
            return fail(c, "invalidValue",
                        apr_psprintf(c->pool, "%s[%" APR_SIZE_T_FMT "] must be an object", name, i));
        }
        if (primary < 0 && ub_j_is(ub_jobj_get(e, "primary"), UB_J_TRUE)) {
            primary = (int)i;
        }
    }
    for (i = 0; i < v->len; i++) {
        const ub_jval *e = &v->u.items[i], *t = ub_jobj_get(e, "type");
        const ub_scim_map *m = entry_row(p, (int)i, ub_j_is(t, UB_J_STRING) ? t->u.str : NULL);

        if (m == NULL) {
            continue;       /* a third phone number: no column, as POST */
        }
        if (m->kind == UB_SCIM_MAP_PRIMARY && (int)i != (primary >= 0 ? primary : 0)) {
            continue;       /* the one address: the primary entry, else the first */
        }
        if (assign(c, m, apr_psprintf(c->pool, "%s[%" APR_SIZE_T_FMT "].value", name, i),
                   ub_jobj_get(e, "value")) != 0) {
            return 400;
        }
    }
    if (v->len == 0) {
        for (k = 0; k < ub_scim_user_map_len; k++) {
            if (attr_is(&ub_scim_user_map[k], p) && ub_scim_user_map[k].required) {
                return fail(c, "invalidValue",
                            apr_psprintf(c->pool, "%s cannot be empty: every user has one", name));
            }
        }
    }
    return 0;
}

/* One operation at one path (text: as the client wrote it, for errors). */
static int apply_path(patch_ctx *c, patch_op op, const char *text, const ub_jval *v)
{
    patch_path p;
    const ub_scim_map *rows[8];
    int nrows = 0, ro = 0, any_multi = 0, rc;
    apr_size_t k;

    if ((rc = parse_path(c, text, &p)) != 0) {
        return rc;
    }
    if (ub_scim_ignored_attr(p.attr, p.attr_len, &ro)) {
        if (ro) {
            return fail(c, "mutability", apr_psprintf(c->pool, "%s is readOnly", text));
        }
        return 0;   /* no column here: ignored, as POST /Users ignores it */
    }
    for (k = 0; k < ub_scim_user_map_len && nrows < 8; k++) {
        if (attr_is(&ub_scim_user_map[k], &p)) {
            rows[nrows++] = &ub_scim_user_map[k];
            any_multi |= ub_scim_user_map[k].kind == UB_SCIM_MAP_PRIMARY
                         || ub_scim_user_map[k].kind == UB_SCIM_MAP_NTH;
        }
    }
    if (nrows == 0) {
        return fail(c, "invalidPath",
                    apr_psprintf(c->pool, "%s is no attribute of the User schema", text));
    }

    if (p.has_filter || (any_multi && p.sub != NULL)) {
        const ub_scim_map *m = NULL;
        const ub_jval *value = v;
        int i;

        if (!any_multi) {
            return fail(c, "invalidFilter",
                        apr_psprintf(c->pool, "%s: only a multi-valued attribute has a value filter",
                                     text));
        }
        /* emails[type eq "work"], emails.value: the row the filter names */
        for (i = 0; i < nrows && m == NULL; i++) {
            if (!p.has_filter || p.filter_type == NULL) {
                m = rows[i]->kind == UB_SCIM_MAP_PRIMARY || rows[i]->nth == 0 ? rows[i] : NULL;
            }
            else {
                m = row_for_type(&p, p.filter_type);
            }
        }
        if (m == NULL) {
            /* an entry of a type this directory keeps no column for
             * (phoneNumbers[type eq "fax"], emails[type eq "home"]): ignored,
             * as POST ignores it, so that an IdP's default mapping does not
             * fail the whole user */
            return 0;
        }
        if (p.sub != NULL && strcasecmp(p.sub, "value") != 0) {
            if (strcasecmp(p.sub, "type") == 0 || strcasecmp(p.sub, "primary") == 0
                || strcasecmp(p.sub, "display") == 0) {
                return 0;   /* fixed by the mapping: ignored */
            }
            return fail(c, "invalidPath",
                        apr_psprintf(c->pool, "%s is no attribute of the User schema", text));
        }
        if (op == OP_REMOVE) {
            return clear(c, m, text);
        }
        if (p.sub == NULL) {
            if (!ub_j_is(value, UB_J_OBJECT)) {
                return fail(c, "invalidValue",
                            apr_psprintf(c->pool, "%s takes an entry object", text));
            }
            value = ub_jobj_get(value, "value");
        }
        return assign(c, m, text, value);
    }

    if (p.sub != NULL) {
        /* name.givenName */
        for (k = 0; k < (apr_size_t)nrows; k++) {
            if (rows[k]->sub != NULL && strcasecmp(rows[k]->sub, p.sub) == 0) {
                return op == OP_REMOVE ? clear(c, rows[k], text) : assign(c, rows[k], text, v);
            }
        }
        if (ignored_sub(&p, p.sub)) {
            return 0;
        }
        return fail(c, "invalidPath",
                    apr_psprintf(c->pool, "%s is no attribute of the User schema", text));
    }
    if (any_multi) {
        if (op == OP_REMOVE) {
            for (k = 0; k < (apr_size_t)nrows; k++) {
                if (clear(c, rows[k], text) != 0) {
                    return 400;
                }
            }
            return 0;
        }
        return assign_multi(c, op, &p, text, v);
    }
    if (rows[0]->sub != NULL) {
        /* name: its sub-attributes; those not given stay (RFC 7644
         * section 3.5.2.3) */
        if (op == OP_REMOVE) {
            for (k = 0; k < (apr_size_t)nrows; k++) {
                (void)clear(c, rows[k], text);
            }
            return 0;
        }
        if (!ub_j_is(v, UB_J_OBJECT)) {
            return fail(c, "invalidValue", apr_psprintf(c->pool, "%s takes an object", text));
        }
        for (k = 0; k < v->len; k++) {
            const ub_jmember *mem = &v->u.members[k];
            int i, found = 0;

            for (i = 0; i < nrows; i++) {
                if (strcasecmp(rows[i]->sub, mem->key) == 0) {
                    found = 1;
                    if (assign(c, rows[i], apr_pstrcat(c->pool, text, ".", mem->key, NULL),
                               &mem->value) != 0) {
                        return 400;
                    }
                }
            }
            if (!found && !ignored_sub(&p, mem->key)) {
                return fail(c, "invalidPath", apr_psprintf(c->pool, "%s.%s is no attribute of "
                                                           "the User schema", text, mem->key));
            }
        }
        return 0;
    }
    return op == OP_REMOVE ? clear(c, rows[0], text) : assign(c, rows[0], text, v);
}

static int has_patch_schema(const ub_jval *doc)
{
    const ub_jval *schemas = ub_jobj_get(doc, "schemas");
    apr_size_t i;

    for (i = 0; ub_j_is(schemas, UB_J_ARRAY) && i < schemas->len; i++) {
        const ub_jval *s = &schemas->u.items[i];

        if (s->type == UB_J_STRING && strcmp(s->u.str, UB_SCIM_PATCH_SCHEMA) == 0) {
            return 1;
        }
    }
    return 0;
}

int ub_scim_patch_compile(apr_pool_t *pool, const ub_jval *doc, ub_scim_cols *cols,
                          ub_problem *problem)
{
    patch_ctx c = { pool, cols, problem, "the body" };
    const ub_jval *ops;
    apr_size_t i, k;

    memset(cols, 0, sizeof(*cols));
    if (!ub_j_is(doc, UB_J_OBJECT) || !has_patch_schema(doc)) {
        return fail(&c, "invalidSyntax", "a PATCH body is a PatchOp: an object whose schemas "
                    "include " UB_SCIM_PATCH_SCHEMA);
    }
    ops = ub_jobj_get(doc, "Operations");
    if (!ub_j_is(ops, UB_J_ARRAY) || ops->len == 0) {
        return fail(&c, "invalidSyntax", "Operations must be a non-empty array");
    }
    if (ops->len > UB_SCIM_MAX_PATCH_OPS) {
        return fail(&c, "invalidValue",
                    apr_psprintf(pool, "a PATCH has at most %d operations; send the rest in "
                                 "another request", UB_SCIM_MAX_PATCH_OPS));
    }
    for (i = 0; i < ops->len; i++) {
        const ub_jval *o = &ops->u.items[i], *name, *path, *value;
        patch_op op;

        c.where = apr_psprintf(pool, "Operations[%" APR_SIZE_T_FMT "]", i);
        name = ub_jobj_get(o, "op");
        if (!ub_j_is(o, UB_J_OBJECT) || !ub_j_is(name, UB_J_STRING)) {
            return fail(&c, "invalidSyntax", "an operation is an object with op");
        }
        if (strcasecmp(name->u.str, "add") == 0) {
            op = OP_ADD;
        }
        else if (strcasecmp(name->u.str, "replace") == 0) {
            op = OP_REPLACE;
        }
        else if (strcasecmp(name->u.str, "remove") == 0) {
            op = OP_REMOVE;
        }
        else {
            return fail(&c, "invalidSyntax", "op must be add, replace or remove");
        }
        path = ub_jobj_get(o, "path");
        value = ub_jobj_get(o, "value");
        if (!ub_j_missing(path)) {
            if (path->type != UB_J_STRING) {
                return fail(&c, "invalidPath", "path must be a string");
            }
            if (op != OP_REMOVE && value == NULL) {
                return fail(&c, "invalidValue", "add and replace need a value");
            }
            if (apply_path(&c, op, path->u.str, value) != 0) {
                return 400;
            }
            continue;
        }
        if (op == OP_REMOVE) {
            return fail(&c, "noTarget", "remove needs a path");
        }
        if (!ub_j_is(value, UB_J_OBJECT)) {
            return fail(&c, "invalidValue", "without a path, the value is an object of "
                        "attributes");
        }
        for (k = 0; k < value->len; k++) {
            const ub_jmember *m = &value->u.members[k];

            if (apply_path(&c, op, m->key, &m->value) != 0) {
                return 400;
            }
        }
    }
    return 0;
}
