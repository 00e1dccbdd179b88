/*
 * scim_group_body.c: see scim_group_body.h.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include "scim_group_body.h"
#include "scim_filter.h"
#include "errors.h"
#include "jdoc.h"
#include "textbuf.h"
#include "validate.h"

/* The fold of the operations: each member's last word (1 in, 0 out), in
 * first-seen order; members named in all, for the limit. */
typedef struct {
    apr_pool_t *pool;
    apr_hash_t *state;              /* id -> int* */
    apr_array_header_t *order;      /* const char * */
    int named, max;
    ub_scim_group_change *change;
    ub_problem *problem;
} fold;

static int refuse(fold *f, const char *scim_type, const char *detail)
{
    ub_problem_set(f->problem, 400, scim_type, detail,
                   "See RFC 7644 section 3.5.2 and the README's SCIM Groups section.");
    f->problem->scim_type = scim_type;
    return 400;
}

static void fold_init(fold *f, apr_pool_t *pool, int max, ub_scim_group_change *change,
                      ub_problem *problem)
{
    f->pool = pool;
    f->state = apr_hash_make(pool);
    f->order = apr_array_make(pool, 16, sizeof(const char *));
    f->named = 0;
    f->max = max;
    f->change = change;
    f->problem = problem;
    memset(change, 0, sizeof(*change));
}

/* Members from here on start from none. */
static void fold_reset(fold *f)
{
    f->change->reset = 1;
    apr_hash_clear(f->state);
    apr_array_clear(f->order);
}

static int fold_member(fold *f, const char *id, int in)
{
    int *s = apr_hash_get(f->state, id, APR_HASH_KEY_STRING);

    if (++f->named > f->max) {
        return refuse(f, "invalidValue",
                      apr_psprintf(f->pool, "members: at most %d member values in one request; "
                                   "send the rest in further PATCH requests", f->max));
    }
    if (s == NULL) {
        s = apr_palloc(f->pool, sizeof(*s));
        apr_hash_set(f->state, id, APR_HASH_KEY_STRING, s);
        APR_ARRAY_PUSH(f->order, const char *) = id;
    }
    *s = in;
    return 0;
}

static void fold_end(fold *f)
{
    int i;

    f->change->add = apr_array_make(f->pool, f->order->nelts + 1, sizeof(const char *));
    f->change->remove = apr_array_make(f->pool, 4, sizeof(const char *));
    for (i = 0; i < f->order->nelts; i++) {
        const char *id = APR_ARRAY_IDX(f->order, i, const char *);
        int *s = apr_hash_get(f->state, id, APR_HASH_KEY_STRING);

        APR_ARRAY_PUSH(*s ? f->change->add : f->change->remove, const char *) = id;
    }
}

/* Whether the document's schemas list urn. */
static int has_schema(const ub_jval *doc, const char *urn)
{
    const ub_jval *schemas = ub_jobj_get(doc, "schemas");
    apr_size_t i;

    for (i = 0; ub_j_is(schemas, UB_J_ARRAY) && i < schemas->len; i++) {
        if (schemas->u.items[i].type == UB_J_STRING
            && strcmp(schemas->u.items[i].u.str, urn) == 0) {
            return 1;
        }
    }
    return 0;
}

/* members' values: an array of {"value": id, ...} (a lone object taken as
 * one), each folded in or out. where: the operation, for the detail. */
static int fold_values(fold *f, const ub_jval *v, int in, const char *where)
{
    apr_size_t i, n = v->type == UB_J_ARRAY ? v->len : 1;

    if (v->type != UB_J_ARRAY && v->type != UB_J_OBJECT) {
        return refuse(f, "invalidValue",
                      apr_psprintf(f->pool, "%s: members is an array of {\"value\": user id}", where));
    }
    for (i = 0; i < n; i++) {
        const ub_jval *m = v->type == UB_J_ARRAY ? &v->u.items[i] : v;
        const ub_jval *id = ub_jobj_get(m, "value");

        if (!ub_j_is(id, UB_J_STRING) || id->len == 0 || id->len > UB_SCIM_MEMBER_ID_MAX) {
            return refuse(f, "invalidValue",
                          apr_psprintf(f->pool, "%s: members[%" APR_SIZE_T_FMT "].value must be "
                                       "a user id", where, i));
        }
        if (fold_member(f, id->u.str, in) != 0) {
            return 400;
        }
    }
    return 0;
}

/* A displayName: a string of 1 to UB_LEN_ROLE_NAME characters. */
static int take_name(fold *f, const ub_jval *v, const char *where)
{
    if (!ub_j_is(v, UB_J_STRING) || v->len == 0 || ub_utf8_chars(v->u.str) > UB_LEN_ROLE_NAME) {
        return refuse(f, "invalidValue",
                      apr_psprintf(f->pool, "%sdisplayName must be a string of 1 to %d characters",
                                   where, UB_LEN_ROLE_NAME));
    }
    f->change->name = v->u.str;
    return 0;
}

/* The attribute path s names (case-insensitive, with or without the Group
 * schema's URN): 1 displayName, 2 members, 3 externalId, 0 none. */
static int path_attr(const char *s, apr_size_t n)
{
    apr_size_t urn = strlen(UB_SCIM_GROUP_URN);

    if (n > urn && strncasecmp(s, UB_SCIM_GROUP_URN, urn) == 0) {
        s += urn;
        n -= urn;
    }
    return n == 11 && strncasecmp(s, "displayName", n) == 0 ? 1
           : n == 7 && strncasecmp(s, "members", n) == 0 ? 2
           : n == 10 && strncasecmp(s, "externalId", n) == 0 ? 3 : 0;
}

/* members[value eq "id"] (spaces allowed around the words): the id, or
 * NULL when the path is not of that form. */
static const char *member_filter(apr_pool_t *pool, const char *path)
{
    const char *p = path, *start;
    ub_textbuf tb;

    if (path_attr(p, 7) != 2 || p[7] != '[') {
        return NULL;
    }
    p += 8;
    while (*p == ' ') p++;
    if (strncasecmp(p, "value", 5) != 0) {
        return NULL;
    }
    p += 5;
    if (*p != ' ') {
        return NULL;
    }
    while (*p == ' ') p++;
    if (strncasecmp(p, "eq", 2) != 0 || p[2] != ' ') {
        return NULL;
    }
    p += 2;
    while (*p == ' ') p++;
    if (*p != '"') {
        return NULL;
    }
    start = ++p;
    ub_tb_init(&tb, pool, 48);
    for (; *p && *p != '"'; p++) {
        if (*p == '\\' || (unsigned char)*p < 0x20) {
            return NULL;        /* a user id holds no escapes */
        }
    }
    if (*p != '"' || p == start || (apr_size_t)(p - start) > UB_SCIM_MEMBER_ID_MAX) {
        return NULL;
    }
    ub_tb_put(&tb, start, (apr_size_t)(p - start));
    p++;
    while (*p == ' ') p++;
    if (*p != ']' || p[1] != '\0') {
        return NULL;
    }
    return ub_tb_text(&tb);
}

/* A pathless add or replace: value is an object of attributes. */
static int pathless(fold *f, const ub_jval *value, int replace, const char *where)
{
    apr_size_t i;

    if (!ub_j_is(value, UB_J_OBJECT)) {
        return refuse(f, "invalidValue",
                      apr_psprintf(f->pool, "%s: without a path, value is an object of attributes",
                                   where));
    }
    for (i = 0; i < value->len; i++) {
        const ub_jmember *m = &value->u.members[i];
        int attr = path_attr(m->key, m->key_len);

        if (attr == 1) {
            if (take_name(f, &m->value, apr_pstrcat(f->pool, where, ": ", NULL)) != 0) {
                return 400;
            }
        }
        else if (attr == 2) {
            if (replace) {
                fold_reset(f);
            }
            if (fold_values(f, &m->value, 1, where) != 0) {
                return 400;
            }
        }
        else if (attr == 0 && strcmp(m->key, "id") != 0 && strcmp(m->key, "schemas") != 0
                 && strcmp(m->key, "meta") != 0) {
            return refuse(f, "invalidPath",
                          apr_psprintf(f->pool, "%s: a Group has no attribute %.64s "
                                       "(displayName, members)", where, m->key));
        }
    }
    return 0;
}

static int operation(fold *f, const ub_jval *op, apr_size_t index)
{
    const char *where = apr_psprintf(f->pool, "Operations[%" APR_SIZE_T_FMT "]", index);
    const ub_jval *name = ub_jobj_get(op, "op"), *path = ub_jobj_get(op, "path");
    const ub_jval *value = ub_jobj_get(op, "value");
    int add, remove, replace, attr;
    const char *id;

    if (!ub_j_is(op, UB_J_OBJECT) || !ub_j_is(name, UB_J_STRING)) {
        return refuse(f, "invalidSyntax",
                      apr_psprintf(f->pool, "%s must be an object with op add, remove or replace",
                                   where));
    }
    add = strcasecmp(name->u.str, "add") == 0;
    remove = strcasecmp(name->u.str, "remove") == 0;
    replace = strcasecmp(name->u.str, "replace") == 0;
    if (!add && !remove && !replace) {
        return refuse(f, "invalidSyntax",
                      apr_psprintf(f->pool, "%s: op must be add, remove or replace, not %.32s",
                                   where, name->u.str));
    }
    if (ub_j_missing(path)) {
        if (remove) {
            return refuse(f, "noTarget", apr_psprintf(f->pool, "%s: remove needs a path", where));
        }
        return pathless(f, value, replace, where);
    }
    if (path->type != UB_J_STRING) {
        return refuse(f, "invalidPath", apr_psprintf(f->pool, "%s: path must be a string", where));
    }
    attr = path_attr(path->u.str, path->len);
    if (attr == 3) {
        return 0;               /* externalId: not stored */
    }
    if (attr == 1) {
        if (remove) {
            return refuse(f, "mutability",
                          apr_psprintf(f->pool, "%s: displayName is required, it cannot be removed",
                                       where));
        }
        return take_name(f, value, apr_pstrcat(f->pool, where, ": ", NULL));
    }
    if (attr == 2) {
        if (replace || (remove && ub_j_missing(value))) {
            fold_reset(f);
        }
        if (remove && ub_j_missing(value)) {
            return 0;
        }
        if (ub_j_missing(value)) {
            return refuse(f, "invalidValue", apr_psprintf(f->pool, "%s: %s members needs a value",
                                                          where, add ? "add" : "replace"));
        }
        return fold_values(f, value, !remove, where);
    }
    id = member_filter(f->pool, path->u.str);
    if (id != NULL && remove) {
        return fold_member(f, id, 0);
    }
    return refuse(f, "invalidPath",
                  apr_psprintf(f->pool, "%s: path %.100s is not one this server changes "
                               "(displayName, members, members[value eq \"id\"] with remove)",
                               where, path->u.str));
}

/* The values a body may hold: a member is three or four (its object, its
 * value, display), the rest a few hundred at most. */
static apr_size_t max_values(int max_members)
{
    return 1024 + (apr_size_t)max_members * 8;
}

static const ub_jval *parse(apr_pool_t *pool, const char *buf, apr_size_t len, int max_members,
                            ub_problem *problem)
{
    ub_jdoc_limits limits = { 0, 0 };
    const ub_jval *doc;

    limits.max_values = max_values(max_members);
    doc = ub_jdoc_parse_limited(pool, buf, len, &limits, problem);
    if (doc == NULL) {
        problem->scim_type = "invalidSyntax";
    }
    return doc;
}

int ub_scim_group_patch_read(apr_pool_t *pool, const char *buf, apr_size_t len,
                             int max_members, ub_scim_group_change *change,
                             ub_problem *problem)
{
    const ub_jval *doc = parse(pool, buf, len, max_members, problem), *ops;
    fold f;
    apr_size_t i;

    if (doc == NULL) {
        return 400;
    }
    fold_init(&f, pool, max_members, change, problem);
    ops = ub_jobj_get(doc, "Operations");
    if (!ub_j_is(doc, UB_J_OBJECT) || !has_schema(doc, UB_SCIM_PATCH_SCHEMA)
        || !ub_j_is(ops, UB_J_ARRAY) || ops->len == 0) {
        return refuse(&f, "invalidSyntax",
                      "the body must be a PatchOp: {\"schemas\":[\"" UB_SCIM_PATCH_SCHEMA
                      "\"],\"Operations\":[...]} with at least one operation");
    }
    for (i = 0; i < ops->len; i++) {
        if (operation(&f, &ops->u.items[i], i) != 0) {
            return 400;
        }
    }
    fold_end(&f);
    return 0;
}

int ub_scim_group_doc_read(apr_pool_t *pool, const char *buf, apr_size_t len,
                           int max_members, ub_scim_group_change *change,
                           ub_problem *problem)
{
    const ub_jval *doc = parse(pool, buf, len, max_members, problem), *members;
    fold f;

    if (doc == NULL) {
        return 400;
    }
    fold_init(&f, pool, max_members, change, problem);
    if (!ub_j_is(doc, UB_J_OBJECT) || !has_schema(doc, UB_SCIM_GROUP_SCHEMA)) {
        return refuse(&f, "invalidSyntax",
                      "the body must be a SCIM Group: an object whose schemas include "
                      UB_SCIM_GROUP_SCHEMA);
    }
    if (take_name(&f, ub_jobj_get(doc, "displayName"), "") != 0) {
        return 400;
    }
    fold_reset(&f);
    members = ub_jobj_get(doc, "members");
    if (!ub_j_missing(members) && fold_values(&f, members, 1, "members") != 0) {
        return 400;
    }
    fold_end(&f);
    return 0;
}

int ub_scim_if_match_tags(apr_pool_t *pool, const char *header, const char **tags,
                     ub_problem *problem)
{
    ub_textbuf tb;
    const char *p = header;
    int n = 0;

    *tags = NULL;
    if (header == NULL) {
        return 0;
    }
    ub_tb_init(&tb, pool, strlen(header) + 8);
    ub_tb_putc(&tb, '{');
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '*') {
        p++;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '\0') {
            *tags = "{\"*\"}";
            return 0;
        }
        p = "";                 /* "*" with more: not a list */
    }
    for (;;) {
        const char *start;

        if (strncmp(p, "W/", 2) == 0) {
            p += 2;
        }
        if (*p != '"') {
            break;
        }
        start = ++p;
        while (*p && *p != '"' && (unsigned char)*p >= 0x21 && *p != 0x7f) {
            p++;
        }
        if (*p != '"') {
            break;
        }
        if (n++ > 0) {
            ub_tb_putc(&tb, ',');
        }
        ub_tb_array_element(&tb, apr_pstrndup(pool, start, (apr_size_t)(p - start)));
        p++;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '\0') {
            ub_tb_putc(&tb, '}');
            *tags = ub_tb_text(&tb);
            return 0;
        }
        if (*p != ',') {
            break;
        }
        p++;
        while (*p == ' ' || *p == '\t') p++;
    }
    ub_problem_set(problem, 400, "invalidSyntax",
                   "If-Match must be \"*\" or a list of entity tags, e.g. W/\"...\" as ETag gave it",
                   "Send the ETag of GET /Groups/{id} as it came.");
    problem->scim_type = "invalidSyntax";
    return 400;
}

const char *ub_scim_id_array(apr_pool_t *pool, const apr_array_header_t *ids)
{
    ub_textbuf tb;
    int i;

    ub_tb_init(&tb, pool, (apr_size_t)ids->nelts * 40 + 2);
    ub_tb_putc(&tb, '{');
    for (i = 0; i < ids->nelts; i++) {
        if (i > 0) {
            ub_tb_putc(&tb, ',');
        }
        ub_tb_array_element(&tb, APR_ARRAY_IDX(ids, i, const char *));
    }
    ub_tb_putc(&tb, '}');
    return ub_tb_text(&tb);
}
