/*
 * scim_filter.c: see scim_filter.h. A recursive descent parser over the
 * filter text, writing the description as it goes:
 *
 *   filter  = and *( SP "or" SP and )          "and" binds tighter than "or"
 *   and     = unary *( SP "and" SP unary )
 *   unary   = "not" [SP] "(" filter ")" / "(" filter ")" / attrExp
 *   attrExp = attrPath SP "pr" / attrPath SP compareOp SP compValue
 *
 * Keywords, operators and attribute names are case-insensitive (RFC 7644
 * section 3.4.2.2, RFC 7643 section 2.1).
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "scim_filter.h"
#include "errors.h"
#include "textbuf.h"
#include "validate.h"

/* What the filter may name; case-exactness as RFC 7643 section 8.7.1
 * declares it ("id" and "externalId" section 3.1). emails and phoneNumbers
 * without a sub-attribute mean their value (RFC 7644 section 3.4.2.2). */
static const ub_scim_attr attrs[] = {
    { "id",                 "id",                 UB_SCIM_STRING,   1, NULL },
    { "externalId",         "externalid",         UB_SCIM_STRING,   1, NULL },
    { "userName",           "username",           UB_SCIM_STRING,   0, NULL },
    { "displayName",        "displayname",        UB_SCIM_STRING,   0, NULL },
    { "name.givenName",     "name.givenname",     UB_SCIM_STRING,   0, NULL },
    { "name.familyName",    "name.familyname",    UB_SCIM_STRING,   0, NULL },
    { "name.middleName",    "name.middlename",    UB_SCIM_STRING,   0, NULL },
    { "emails.value",       "emails.value",       UB_SCIM_STRING,   0, NULL },
    { "emails",             "emails.value",       UB_SCIM_STRING,   0, NULL },
    { "emails.type",        "emails.type",        UB_SCIM_STRING,   0, NULL },
    { "phoneNumbers.value", "phonenumbers.value", UB_SCIM_STRING,   0, "phonenumbers" },
    { "phoneNumbers",       "phonenumbers.value", UB_SCIM_STRING,   0, "phonenumbers" },
    { "phoneNumbers.type",  "phonenumbers.type",  UB_SCIM_STRING,   0, "phonenumbers" },
    { "active",             "active",             UB_SCIM_BOOLEAN,  0, NULL },
    { "meta.lastModified",  "meta.lastmodified",  UB_SCIM_DATETIME, 0, NULL },
};

/* The multi-valued attributes a value path may filter (attr[...]). */
static const char *const value_paths[] = { "emails", "phoneNumbers" };

/* path without the User schema's URN in front, if it has it. */
static const char *strip_urn(const char *path, apr_size_t *len)
{
    apr_size_t urn = sizeof(UB_SCIM_USER_URN) - 1;

    if (*len > urn && strncasecmp(path, UB_SCIM_USER_URN, urn) == 0) {
        *len -= urn;
        return path + urn;
    }
    return path;
}

const ub_scim_attr *ub_scim_attr_find(const char *path, apr_size_t len)
{
    apr_size_t i;

    path = strip_urn(path, &len);
    for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
        if (strlen(attrs[i].path) == len && strncasecmp(attrs[i].path, path, len) == 0) {
            return &attrs[i];
        }
    }
    return NULL;
}

/* The Group resource's (roles: id, name; src/sql/functions/scim_groups.sql). */
static const ub_scim_attr group_attrs[] = {
    { "id",               "id",               UB_SCIM_STRING,   1, NULL },
    { "displayName",      "displayname",      UB_SCIM_STRING,   0, NULL },
};

const ub_scim_attr *ub_scim_group_attr_find(const char *path, apr_size_t len)
{
    apr_size_t i, urn = sizeof(UB_SCIM_GROUP_URN) - 1;

    if (len > urn && strncasecmp(path, UB_SCIM_GROUP_URN, urn) == 0) {
        path += urn;
        len -= urn;
    }
    for (i = 0; i < sizeof(group_attrs) / sizeof(group_attrs[0]); i++) {
        if (strlen(group_attrs[i].path) == len && strncasecmp(group_attrs[i].path, path, len) == 0) {
            return &group_attrs[i];
        }
    }
    return NULL;
}

typedef struct {
    apr_pool_t *pool;
    const ub_scim_attr *(*find)(const char *path, apr_size_t len);  /* the resource's */
    const char *start, *p;
    int depth, terms;
    const char *parent;         /* inside a value path: its attribute */
    ub_textbuf out;
    const char *error;          /* the first reason, the parse stops */
} parser;

static int fail(parser *ps, const char *why)
{
    if (ps->error == NULL) {
        ps->error = apr_psprintf(ps->pool, "%s at character %d", why,
                                 (int)(ps->p - ps->start) + 1);
    }
    return -1;
}

static void eat_spaces(parser *ps)
{
    while (*ps->p == ' ') {
        ps->p++;
    }
}

/* The length of the word at p: letters, digits and what attribute paths
 * hold ("-", "_", ".", ":"; RFC 7644's ATTRNAME and URNs). */
static apr_size_t word_len(const char *p)
{
    apr_size_t n = 0;

    while (apr_isalnum(p[n]) || p[n] == '-' || p[n] == '_' || p[n] == '.' || p[n] == ':') {
        n++;
    }
    return n;
}

/* Whether the word at p is kw (case-insensitive), whole. */
static int is_word(const char *p, const char *kw)
{
    apr_size_t n = strlen(kw);

    return strncasecmp(p, kw, n) == 0 && word_len(p) == n;
}

static int hex4(const char *p, unsigned *v)
{
    int i;

    *v = 0;
    for (i = 0; i < 4; i++) {
        if (!apr_isxdigit(p[i])) {
            return -1;
        }
        *v = *v * 16 + (unsigned)(apr_isdigit(p[i]) ? p[i] - '0' : apr_tolower(p[i]) - 'a' + 10);
    }
    return 0;
}

static void put_utf8(ub_textbuf *tb, unsigned cp)
{
    char b[4];
    apr_size_t n;

    if (cp < 0x80) {
        b[0] = (char)cp; n = 1;
    }
    else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6)); b[1] = (char)(0x80 | (cp & 0x3F)); n = 2;
    }
    else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12)); b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
    }
    else {
        b[0] = (char)(0xF0 | (cp >> 18)); b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); b[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
    }
    ub_tb_put(tb, b, n);
}

/* A JSON string at p (on its opening quote), decoded into *value: valid
 * UTF-8, no NUL (a text parameter cannot hold one). */
static int string_value(parser *ps, const char **value)
{
    ub_textbuf s;
    const char *text;

    ub_tb_init(&s, ps->pool, 64);
    ps->p++;
    for (;;) {
        unsigned char c = (unsigned char)*ps->p;

        if (c == '"') {
            ps->p++;
            break;
        }
        if (c == '\0') {
            return fail(ps, "unterminated string");
        }
        if (c < 0x20) {
            return fail(ps, "control character in a string");
        }
        if (c != '\\') {
            ub_tb_putc(&s, (char)c);
            ps->p++;
            continue;
        }
        ps->p++;
        switch (*ps->p) {
        case '"': ub_tb_putc(&s, '"'); break;
        case '\\': ub_tb_putc(&s, '\\'); break;
        case '/': ub_tb_putc(&s, '/'); break;
        case 'b': ub_tb_putc(&s, '\b'); break;
        case 'f': ub_tb_putc(&s, '\f'); break;
        case 'n': ub_tb_putc(&s, '\n'); break;
        case 'r': ub_tb_putc(&s, '\r'); break;
        case 't': ub_tb_putc(&s, '\t'); break;
        case 'u': {
            unsigned cp, lo;

            if (hex4(ps->p + 1, &cp) != 0) {
                return fail(ps, "bad \\u escape");
            }
            ps->p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (ps->p[1] != '\\' || ps->p[2] != 'u' || hex4(ps->p + 3, &lo) != 0
                    || lo < 0xDC00 || lo > 0xDFFF) {
                    return fail(ps, "unpaired surrogate in a \\u escape");
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                ps->p += 6;
            }
            else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return fail(ps, "unpaired surrogate in a \\u escape");
            }
            if (cp == 0) {
                return fail(ps, "a string may not hold \\u0000");
            }
            put_utf8(&s, cp);
            break;
        }
        default:
            return fail(ps, "bad escape in a string");
        }
        ps->p++;
    }
    text = ub_tb_text(&s);
    if (!ub_utf8_valid(text, s.len)) {
        return fail(ps, "a string must be UTF-8");
    }
    *value = text;
    return 0;
}

/* xsd:dateTime as RFC 7643 section 2.3.5 has it, with its offset:
 * 2026-01-31T08:00:00Z, 2026-01-31T08:00:00.25+01:00. */
static int is_datetime(const char *s)
{
    apr_size_t n = strlen(s);

    return n >= 20 && s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == 't')
           && s[13] == ':' && s[16] == ':' && (s[n - 1] == 'Z' || s[n - 1] == 'z'
               || (n >= 25 && (s[n - 6] == '+' || s[n - 6] == '-') && s[n - 3] == ':'))
           && ub_check_iso8601(s) == NULL;
}

static const char *const compare_ops[] = {
    "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"
};

typedef enum { V_NONE, V_STRING, V_TRUE, V_FALSE, V_NULL } value_kind;

/* One comparison's node (kind V_NONE: pr's, without a value), wrapped as
 * wrap says: "" as it is, "has" in a "has" of its multi-valued attribute,
 * "not has" in the negation of that. */
static void leaf(parser *ps, const ub_scim_attr *a, const char *op, value_kind kind,
                 const char *value, const char *wrap)
{
    if (strcmp(wrap, "not has") == 0) {
        ub_tb_puts(&ps->out, "{\"op\":\"not\",\"e\":");
    }
    if (*wrap) {
        ub_tb_puts(&ps->out, "{\"op\":\"has\",\"a\":");
        ub_tb_json_string(&ps->out, a->within);
        ub_tb_puts(&ps->out, ",\"e\":");
    }
    ub_tb_puts(&ps->out, "{\"op\":");
    ub_tb_json_string(&ps->out, op);
    ub_tb_puts(&ps->out, ",\"a\":");
    ub_tb_json_string(&ps->out, a->key);
    if (kind != V_NONE) {
        ub_tb_puts(&ps->out, a->case_exact ? ",\"ci\":false,\"v\":" : ",\"ci\":true,\"v\":");
    }
    switch (kind) {
    case V_NONE: break;
    case V_STRING: ub_tb_json_string(&ps->out, value); break;
    case V_TRUE: ub_tb_puts(&ps->out, "true"); break;
    case V_FALSE: ub_tb_puts(&ps->out, "false"); break;
    case V_NULL: ub_tb_puts(&ps->out, "null"); break;
    }
    ub_tb_putc(&ps->out, '}');
    if (*wrap) {
        ub_tb_putc(&ps->out, '}');
    }
    if (strcmp(wrap, "not has") == 0) {
        ub_tb_putc(&ps->out, '}');
    }
}

static int value_path(parser *ps, apr_size_t n);
static int or_exp(parser *ps);

static int attr_exp(parser *ps)
{
    apr_size_t n = word_len(ps->p), i;
    const ub_scim_attr *a;
    const char *op = NULL, *value = NULL;
    value_kind kind;

    if (n == 0) {
        return fail(ps, "expected an attribute, \"not\" or \"(\"");
    }
    if (ps->p[n] == '[') {
        return value_path(ps, n);
    }
    if (ps->parent != NULL) {
        /* a sub-attribute of the value path's attribute, named alone */
        a = memchr(ps->p, '.', n) || memchr(ps->p, ':', n) ? NULL
            : ps->find(apr_psprintf(ps->pool, "%s.%.*s", ps->parent, (int)n, ps->p),
                                strlen(ps->parent) + 1 + n);
        if (a == NULL) {
            return fail(ps, apr_psprintf(ps->pool, "%s has no sub-attribute \"%.*s\" to filter on "
                                         "(inside %s[...] name value or type)", ps->parent,
                                         (int)(n > 80 ? 80 : n), ps->p, ps->parent));
        }
    }
    else {
        a = ps->find(ps->p, n);
    }
    if (a == NULL) {
        return fail(ps, apr_psprintf(ps->pool, "no filter on the attribute \"%.*s\"",
                                     (int)(n > 80 ? 80 : n), ps->p));
    }
    ps->p += n;
    if (*ps->p != ' ') {
        return fail(ps, "expected a space after the attribute");
    }
    eat_spaces(ps);
    if (++ps->terms > UB_SCIM_FILTER_MAX_TERMS) {
        return fail(ps, apr_psprintf(ps->pool, "more than %d comparisons",
                                     UB_SCIM_FILTER_MAX_TERMS));
    }
    if (is_word(ps->p, "pr")) {
        ps->p += 2;
        leaf(ps, a, "pr", V_NONE, NULL, ps->parent == NULL && a->within != NULL ? "has" : "");
        return 0;
    }
    for (i = 0; i < sizeof(compare_ops) / sizeof(compare_ops[0]); i++) {
        if (is_word(ps->p, compare_ops[i])) {
            op = compare_ops[i];
        }
    }
    if (op == NULL) {
        return fail(ps, "expected an operator (eq ne co sw ew gt ge lt le pr)");
    }
    ps->p += 2;
    if (*ps->p != ' ') {
        return fail(ps, "expected a space after the operator");
    }
    eat_spaces(ps);
    if (*ps->p == '"') {
        if (string_value(ps, &value) != 0) {
            return -1;
        }
        kind = V_STRING;
    }
    else if (is_word(ps->p, "true")) {
        kind = V_TRUE;
        ps->p += 4;
    }
    else if (is_word(ps->p, "false")) {
        kind = V_FALSE;
        ps->p += 5;
    }
    else if (is_word(ps->p, "null")) {
        kind = V_NULL;
        ps->p += 4;
    }
    else if (*ps->p == '-' || apr_isdigit(*ps->p)) {
        return fail(ps, apr_psprintf(ps->pool, "%s is not a number", a->path));
    }
    else {
        return fail(ps, "expected a value: a string in double quotes, true, false or null");
    }
    /* The value must suit the attribute and the operator. */
    if (kind == V_NULL) {
        if (strcmp(op, "eq") != 0 && strcmp(op, "ne") != 0) {
            return fail(ps, "null compares with eq or ne only");
        }
    }
    else if (a->type == UB_SCIM_BOOLEAN) {
        if (kind == V_STRING) {
            return fail(ps, apr_psprintf(ps->pool, "%s is true or false", a->path));
        }
        if (strcmp(op, "eq") != 0 && strcmp(op, "ne") != 0) {
            return fail(ps, apr_psprintf(ps->pool, "%s compares with eq or ne only", a->path));
        }
    }
    else if (kind != V_STRING) {
        return fail(ps, apr_psprintf(ps->pool, "%s compares with a string", a->path));
    }
    else if (a->type == UB_SCIM_DATETIME) {
        if (!is_datetime(value)) {
            return fail(ps, apr_psprintf(ps->pool, "%s compares with a dateTime "
                                         "(2026-01-31T08:00:00Z)", a->path));
        }
        if (strcmp(op, "co") == 0 || strcmp(op, "sw") == 0 || strcmp(op, "ew") == 0) {
            return fail(ps, apr_psprintf(ps->pool, "%s compares with eq ne gt ge lt le",
                                         a->path));
        }
    }
    if (ps->parent != NULL || a->within == NULL) {
        leaf(ps, a, op, kind, value, "");
    }
    /* A sub-attribute of phoneNumbers outside a value path: some value
     * compares; ne and eq null hold where none is (or none is there), as
     * they hold for an absent single value. */
    else if (kind == V_NULL) {
        leaf(ps, a, "pr", V_NONE, NULL, strcmp(op, "eq") == 0 ? "not has" : "has");
    }
    else if (strcmp(op, "ne") == 0) {
        leaf(ps, a, "eq", kind, value, "not has");
    }
    else {
        leaf(ps, a, op, kind, value, "has");
    }
    return 0;
}

/* attr "[" valFilter "]" (RFC 7644 section 3.4.2.2), on the attribute's
 * name of n bytes: a filter over the values of emails or phoneNumbers,
 * which names their sub-attributes alone. */
static int value_path(parser *ps, apr_size_t n)
{
    apr_size_t i, len = n;
    const char *name = strip_urn(ps->p, &len), *parent = NULL, *within;
    const ub_scim_attr *values;

    if (ps->parent != NULL) {
        return fail(ps, "a value path cannot hold another");
    }
    for (i = 0; i < sizeof(value_paths) / sizeof(value_paths[0]); i++) {
        if (strlen(value_paths[i]) == len && strncasecmp(value_paths[i], name, len) == 0) {
            parent = value_paths[i];
        }
    }
    /* (the resource's table must know it too: a Group has none) */
    values = parent == NULL ? NULL
             : ps->find(apr_pstrcat(ps->pool, parent, ".value", NULL), strlen(parent) + 6);
    if (values == NULL) {
        return fail(ps, apr_psprintf(ps->pool, "no value path on \"%.*s\" (a User's emails[...] "
                                     "and phoneNumbers[...] have one)", (int)(n > 80 ? 80 : n),
                                     ps->p));
    }
    if (++ps->depth > UB_SCIM_FILTER_MAX_DEPTH) {
        return fail(ps, apr_psprintf(ps->pool, "nested deeper than %d",
                                     UB_SCIM_FILTER_MAX_DEPTH));
    }
    /* the "has" of its values when it holds several (the table says) */
    within = values->within;
    ps->p += n + 1;
    eat_spaces(ps);
    if (within != NULL) {
        ub_tb_puts(&ps->out, "{\"op\":\"has\",\"a\":");
        ub_tb_json_string(&ps->out, within);
        ub_tb_puts(&ps->out, ",\"e\":");
    }
    ps->parent = parent;
    if (or_exp(ps) != 0) {
        return -1;
    }
    ps->parent = NULL;
    eat_spaces(ps);
    if (*ps->p != ']') {
        return fail(ps, "expected \"]\"");
    }
    ps->p++;
    ps->depth--;
    if (within != NULL) {
        ub_tb_putc(&ps->out, '}');
    }
    return 0;
}

/* "(" filter ")", on the "(". */
static int group(parser *ps)
{
    if (++ps->depth > UB_SCIM_FILTER_MAX_DEPTH) {
        return fail(ps, apr_psprintf(ps->pool, "nested deeper than %d",
                                     UB_SCIM_FILTER_MAX_DEPTH));
    }
    ps->p++;
    eat_spaces(ps);
    if (or_exp(ps) != 0) {
        return -1;
    }
    eat_spaces(ps);
    if (*ps->p != ')') {
        return fail(ps, "expected \")\"");
    }
    ps->p++;
    ps->depth--;
    return 0;
}

static int unary(parser *ps)
{
    if (*ps->p == '(') {
        return group(ps);
    }
    if (is_word(ps->p, "not")) {
        ps->p += 3;
        eat_spaces(ps);
        if (*ps->p != '(') {
            return fail(ps, "expected \"(\" after not");
        }
        ub_tb_puts(&ps->out, "{\"op\":\"not\",\"e\":");
        if (group(ps) != 0) {
            return -1;
        }
        ub_tb_putc(&ps->out, '}');
        return 0;
    }
    return attr_exp(ps);
}

/* A chain of operands joined by kw ("and", "or"), written left-nested:
 * a and b and c as and(and(a, b), c). next parses one operand. */
static int chain(parser *ps, const char *kw, int (*next)(parser *))
{
    apr_size_t kwlen = strlen(kw);
    ub_textbuf saved;

    saved = ps->out;
    ub_tb_init(&ps->out, ps->pool, 256);
    if (next(ps) != 0) {
        return -1;
    }
    for (;;) {
        const char *at = ps->p;
        const char *left;

        eat_spaces(ps);
        if (ps->p == at || !is_word(ps->p, kw) || ps->p[kwlen] != ' ') {
            ps->p = at;
            break;
        }
        ps->p += kwlen;
        eat_spaces(ps);
        left = ub_tb_text(&ps->out);
        ub_tb_init(&ps->out, ps->pool, 256);
        ub_tb_puts(&ps->out, "{\"op\":\"");
        ub_tb_puts(&ps->out, kw);
        ub_tb_puts(&ps->out, "\",\"l\":");
        ub_tb_puts(&ps->out, left);
        ub_tb_puts(&ps->out, ",\"r\":");
        if (next(ps) != 0) {
            return -1;
        }
        ub_tb_putc(&ps->out, '}');
    }
    {
        const char *mine = ub_tb_text(&ps->out);

        ps->out = saved;
        ub_tb_puts(&ps->out, mine);
    }
    return 0;
}

static int and_exp(parser *ps)
{
    return chain(ps, "and", unary);
}

static int or_exp(parser *ps)
{
    return chain(ps, "or", and_exp);
}

static int parse(apr_pool_t *pool, const char *filter,
                 const ub_scim_attr *(*find)(const char *path, apr_size_t len),
                 const char **description, ub_problem *problem)
{
    parser ps;
    apr_size_t len = strlen(filter);

    memset(&ps, 0, sizeof(ps));
    ps.pool = pool;
    ps.find = find;
    ps.start = ps.p = filter;
    ub_tb_init(&ps.out, pool, 256);
    if (len > UB_SCIM_FILTER_MAX_LEN) {
        ps.error = apr_psprintf(pool, "the filter is longer than %d bytes",
                                UB_SCIM_FILTER_MAX_LEN);
    }
    else {
        eat_spaces(&ps);
        if (or_exp(&ps) == 0) {
            eat_spaces(&ps);
            if (*ps.p != '\0') {
                fail(&ps, "unexpected text after the filter");
            }
        }
    }
    if (ps.error != NULL) {
        ub_problem_set(problem, 400, "invalidFilter",
                       apr_pstrcat(pool, "invalid filter: ", ps.error, NULL),
                       "See RFC 7644 section 3.4.2.2 and /scim/v2/Schemas for the "
                       "attributes this server filters on.");
        problem->scim_type = "invalidFilter";
        return 400;
    }
    *description = ub_tb_text(&ps.out);
    return 0;
}

int ub_scim_filter_parse(apr_pool_t *pool, const char *filter,
                         const char **description, ub_problem *problem)
{
    return parse(pool, filter, ub_scim_attr_find, description, problem);
}

int ub_scim_group_filter_parse(apr_pool_t *pool, const char *filter,
                               const char **description, ub_problem *problem)
{
    return parse(pool, filter, ub_scim_group_attr_find, description, problem);
}
