/*
 * jdoc.c: the request body parser (see jdoc.h for why it is not jansson).
 *
 * One pass, no recursion: open arrays and objects are frames on a stack,
 * and the values of the open containers wait on one scratch vector until
 * their container closes, when they are copied into a vector of exactly
 * their count. Decoded strings go into one buffer of the body's size (a
 * decoded string and its NUL never take more room than its quoted form).
 *
 * The scratch vector grows by doubling, so it is malloc'd (realloc) and
 * freed when the parse ends: in the request pool every outgrown copy
 * would stay until the request ends (pools never free), about twice the
 * final size again. Empty containers share one empty vector.
 */
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <math.h>
#include <locale.h>
#include <apr_strings.h>
#include "jdoc.h"
#include "validate.h"
#include "errors.h"

typedef struct {
    ub_jtype type;              /* UB_J_ARRAY or UB_J_OBJECT */
    apr_size_t base;            /* its first entry on the scratch vector */
    const char *key;            /* object: the key of the member being read */
    apr_size_t key_len;
} frame;

typedef struct {
    apr_pool_t *pool;
    const char *start, *p, *end;
    char *strings;              /* next free byte of the string buffer */
    ub_jmember *scratch;        /* malloc'd, freed by ub_jdoc_parse_limited */
    apr_size_t used, cap;
    const ub_jmember **sorted;  /* malloc'd: has_duplicate_key's copy */
    apr_size_t sorted_cap;
    frame *frames;
    int depth, frames_cap;
    apr_size_t values;          /* values begun so far */
    ub_jdoc_limits limits;
    const char *error;          /* what is wrong, at p */
    enum { NOT_JSON, OVER_ITEMS, OVER_VALUES, NO_MEMORY } why;     /* of a failure */
} parser;

static const ub_jval no_items[1];
static const ub_jmember no_members[1];

static int fail(parser *ps, const char *what)
{
    ps->error = what;
    return -1;
}

static void eat_space(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r'
                               || *ps->p == '\t')) {
        ps->p++;
    }
}

static int push_entry(parser *ps, const char *key, apr_size_t key_len,
                      const ub_jval *v)
{
    ub_jmember *m;

    if (ps->used == ps->cap) {
        apr_size_t cap = ps->cap ? ps->cap * 2 : 256;
        ub_jmember *grown = realloc(ps->scratch, cap * sizeof(*grown));

        if (grown == NULL) {
            ps->why = NO_MEMORY;
            return fail(ps, "out of memory");
        }
        ps->scratch = grown;
        ps->cap = cap;
    }
    m = &ps->scratch[ps->used++];
    m->key = key;
    m->key_len = key_len;
    m->value = *v;
    return 0;
}

static int open_frame(parser *ps, ub_jtype type)
{
    if (ps->depth == UB_JDOC_MAX_DEPTH) {
        return fail(ps, "nesting too deep");
    }
    if (ps->depth == ps->frames_cap) {
        int cap = ps->frames_cap ? ps->frames_cap * 4 : 16;
        frame *grown = apr_palloc(ps->pool, (apr_size_t)cap * sizeof(*grown));

        if (ps->depth > 0) {
            memcpy(grown, ps->frames, (apr_size_t)ps->depth * sizeof(*grown));
        }
        ps->frames = grown;
        ps->frames_cap = cap;
    }
    ps->frames[ps->depth].type = type;
    ps->frames[ps->depth].base = ps->used;
    ps->frames[ps->depth].key = NULL;
    ps->depth++;
    return 0;
}

static int same_key(const ub_jmember *a, const ub_jmember *b)
{
    return a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0;
}

static int by_key(const void *a, const void *b)
{
    const ub_jmember *x = *(const ub_jmember *const *)a;
    const ub_jmember *y = *(const ub_jmember *const *)b;
    apr_size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);

    return c ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* A user record has a dozen keys: pairs are compared directly; a large
 * object is sorted (a copy of pointers, in the parser's malloc'd space) so
 * that it costs n log n. 1: a duplicate; 0: none; -1: out of memory. */
static int has_duplicate_key(parser *ps, const ub_jmember *m, apr_size_t n)
{
    apr_size_t i, j;

    if (n <= 24) {
        for (i = 1; i < n; i++) {
            for (j = 0; j < i; j++) {
                if (same_key(&m[i], &m[j])) {
                    return 1;
                }
            }
        }
        return 0;
    }
    else {
        const ub_jmember **sorted;

        if (n > ps->sorted_cap) {
            free(ps->sorted);
            ps->sorted = malloc(n * sizeof(*ps->sorted));
            ps->sorted_cap = ps->sorted ? n : 0;
            if (ps->sorted == NULL) {
                return -1;
            }
        }
        sorted = ps->sorted;
        for (i = 0; i < n; i++) {
            sorted[i] = &m[i];
        }
        qsort(sorted, n, sizeof(*sorted), by_key);
        for (i = 1; i < n; i++) {
            if (same_key(sorted[i - 1], sorted[i])) {
                return 1;
            }
        }
        return 0;
    }
}

/* Closes the innermost frame into *v. */
static int close_frame(parser *ps, ub_jval *v)
{
    frame *f = &ps->frames[--ps->depth];
    apr_size_t n = ps->used - f->base, i;

    v->type = f->type;
    v->len = n;
    if (n == 0) {
        /* no copy: the scratch vector may still be NULL ("{}" alone) */
        if (f->type == UB_J_OBJECT) {
            v->u.members = no_members;
        }
        else {
            v->u.items = no_items;
        }
    }
    else if (f->type == UB_J_OBJECT) {
        ub_jmember *members = apr_palloc(ps->pool, n * sizeof(*members));
        int dup;

        memcpy(members, ps->scratch + f->base, n * sizeof(*members));
        dup = has_duplicate_key(ps, members, n);
        if (dup < 0) {
            ps->why = NO_MEMORY;
            return fail(ps, "out of memory");
        }
        if (dup) {
            return fail(ps, "duplicate object key");
        }
        v->u.members = members;
    }
    else {
        ub_jval *items = apr_palloc(ps->pool, n * sizeof(*items));

        for (i = 0; i < n; i++) {
            items[i] = ps->scratch[f->base + i].value;
        }
        v->u.items = items;
    }
    ps->used = f->base;
    return 0;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    int i;

    for (i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= (unsigned)(c - '0');
        }
        else if (c >= 'a' && c <= 'f') {
            v |= (unsigned)(c - 'a' + 10);
        }
        else if (c >= 'A' && c <= 'F') {
            v |= (unsigned)(c - 'A' + 10);
        }
        else {
            return -1;
        }
    }
    *out = v;
    return 0;
}

static char *put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    }
    else if (cp < 0x800) {
        *o++ = (char)(0xC0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    else {
        *o++ = (char)(0xF0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}


/* The string at p (on its opening quote), decoded into the string buffer. */
static int read_string(parser *ps, const char **out, apr_size_t *out_len)
{
    const char *p = ps->p + 1;
    char *o = ps->strings, *begin = o;

    for (;;) {
        const char *run = p;

        /* the common case: a run of plain ASCII, copied at once */
        while (p < ps->end && (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x80
               && *p != '"' && *p != '\\') {
            p++;
        }
        memcpy(o, run, (apr_size_t)(p - run));
        o += p - run;
        if (p == ps->end) {
            ps->p = p;
            return fail(ps, "unterminated string");
        }
        if (*p == '"') {
            break;
        }
        if ((unsigned char)*p < 0x20) {
            ps->p = p;
            return fail(ps, (*p == '\0') ? "NUL character in a string"
                                         : "control character in a string");
        }
        if ((unsigned char)*p >= 0x80) {
            int n = ub_utf8_sequence((const unsigned char *)p, (const unsigned char *)ps->end);

            if (n == 0) {
                ps->p = p;
                return fail(ps, "invalid UTF-8 in a string");
            }
            memcpy(o, p, (apr_size_t)n);
            o += n;
            p += n;
            continue;
        }
        /* a backslash */
        if (ps->end - p < 2) {
            ps->p = p;
            return fail(ps, "unterminated string");
        }
        switch (p[1]) {
        case '"': *o++ = '"'; p += 2; break;
        case '\\': *o++ = '\\'; p += 2; break;
        case '/': *o++ = '/'; p += 2; break;
        case 'b': *o++ = '\b'; p += 2; break;
        case 'f': *o++ = '\f'; p += 2; break;
        case 'n': *o++ = '\n'; p += 2; break;
        case 'r': *o++ = '\r'; p += 2; break;
        case 't': *o++ = '\t'; p += 2; break;
        case 'u': {
            unsigned cp, lo;

            if (ps->end - p < 6 || hex4(p + 2, &cp) != 0) {
                ps->p = p;
                return fail(ps, "invalid \\u escape");
            }
            p += 6;
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                ps->p = p - 6;
                return fail(ps, "lone low surrogate in a \\u escape");
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (ps->end - p < 6 || p[0] != '\\' || p[1] != 'u'
                    || hex4(p + 2, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF) {
                    ps->p = p - 6;
                    return fail(ps, "high surrogate without its low half in a \\u escape");
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
            if (cp == 0) {
                ps->p = p - 6;
                return fail(ps, "\\u0000 is not allowed");
            }
            o = put_utf8(o, cp);
            break;
        }
        default:
            ps->p = p;
            return fail(ps, "invalid escape in a string");
        }
    }
    *o++ = '\0';
    *out = begin;
    *out_len = (apr_size_t)(o - begin - 1);
    ps->strings = o;
    ps->p = p + 1;
    return 0;
}

static int read_number(parser *ps, ub_jval *v)
{
    const char *p = ps->p, *digits;
    int is_real = 0;
    char text[64], *s, *endp;
    apr_size_t n;

    if (*p == '-') {
        p++;
    }
    digits = p;
    if (p < ps->end && *p == '0') {
        p++;
    }
    else {
        while (p < ps->end && *p >= '0' && *p <= '9') {
            p++;
        }
    }
    if (p == digits) {
        return fail(ps, "invalid number");
    }
    if (p < ps->end && *p == '.') {
        is_real = 1;
        if (++p == ps->end || *p < '0' || *p > '9') {
            return fail(ps, "invalid number");
        }
        while (p < ps->end && *p >= '0' && *p <= '9') {
            p++;
        }
    }
    if (p < ps->end && (*p == 'e' || *p == 'E')) {
        is_real = 1;
        if (++p < ps->end && (*p == '+' || *p == '-')) {
            p++;
        }
        if (p == ps->end || *p < '0' || *p > '9') {
            return fail(ps, "invalid number");
        }
        while (p < ps->end && *p >= '0' && *p <= '9') {
            p++;
        }
    }
    n = (apr_size_t)(p - ps->p);
    if (n < sizeof(text)) {
        memcpy(text, ps->p, n);
        text[n] = '\0';
        s = text;
    }
    else if (!is_real) {
        /* no leading zeros: no long long has that many digits */
        return fail(ps, "integer too big");
    }
    else {
        /* A long real is read whole, as jansson does: cutting it would
         * change its value, not only its precision ("1" and 70 zeros
         * ".0" is 1e70, "1.000...e400" an overflow, "0.000...1" not 0). */
        s = apr_pstrmemdup(ps->pool, ps->p, n);
    }
    if (is_real) {
        /* strtod reads the decimal point of the locale (a module may have
         * set one whose point is ','): convert as jansson does */
        const char *point = localeconv()->decimal_point;

        if (*point != '.' && (endp = strchr(s, '.')) != NULL) {
            *endp = *point;
        }
        v->type = UB_J_REAL;
        errno = 0;
        v->u.real = strtod(s, &endp);
        if (errno == ERANGE && fabs(v->u.real) > 1.0) {
            return fail(ps, "real number overflow");
        }
    }
    else {
        v->type = UB_J_INTEGER;
        errno = 0;
        v->u.integer = strtoll(s, &endp, 10);
        if (errno == ERANGE) {
            return fail(ps, "integer too big");
        }
    }
    /* the whole text is a number: anything less is misread */
    if (endp != s + n) {
        return fail(ps, "invalid number");
    }
    v->len = 0;
    ps->p = p;
    return 0;
}

static int read_literal(parser *ps, const char *word, ub_jtype type, ub_jval *v)
{
    apr_size_t n = strlen(word);

    if ((apr_size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) {
        return fail(ps, "invalid token");
    }
    ps->p += n;
    v->type = type;
    v->len = 0;
    return 0;
}

/* After '{' or ',' in an object: the next key and its colon. */
static int read_key(parser *ps)
{
    frame *f = &ps->frames[ps->depth - 1];

    eat_space(ps);
    if (ps->p == ps->end || *ps->p != '"') {
        return fail(ps, "string or '}' expected");
    }
    if (read_string(ps, &f->key, &f->key_len) != 0) {
        return -1;
    }
    eat_space(ps);
    if (ps->p == ps->end || *ps->p != ':') {
        return fail(ps, "':' expected");
    }
    ps->p++;
    return 0;
}

/* Reads one scalar at p into *v, or opens a container (*opened = 1). */
static int read_value(parser *ps, ub_jval *v, int *opened)
{
    *opened = 0;
    /* jansson counts every value as a level, scalars included: the top
     * value is at depth 1, and a value inside UB_JDOC_MAX_DEPTH open
     * containers is one too deep ("[" x 2048 then "]" x 2048 is fine,
     * with a 1 in the middle it is not; jansson refuses it too) */
    if (ps->depth >= UB_JDOC_MAX_DEPTH) {
        return fail(ps, "nesting too deep");
    }
    eat_space(ps);
    if (ps->p == ps->end) {
        return fail(ps, "unexpected end of input");
    }
    if (ps->limits.max_values > 0 && ++ps->values > ps->limits.max_values) {
        ps->why = OVER_VALUES;
        return fail(ps, "too many values");
    }
    switch (*ps->p) {
    case '{':
    case '[': {
        ub_jtype type = *ps->p == '{' ? UB_J_OBJECT : UB_J_ARRAY;

        if (open_frame(ps, type) != 0) {
            return -1;
        }
        ps->p++;
        *opened = 1;
        eat_space(ps);
        if (ps->p < ps->end && *ps->p == (type == UB_J_OBJECT ? '}' : ']')) {
            ps->p++;
            *opened = 0;            /* empty: closed already */
            return close_frame(ps, v);
        }
        return type == UB_J_OBJECT ? read_key(ps) : 0;
    }
    case '"':
        v->type = UB_J_STRING;
        return read_string(ps, &v->u.str, &v->len);
    case 't':
        return read_literal(ps, "true", UB_J_TRUE, v);
    case 'f':
        return read_literal(ps, "false", UB_J_FALSE, v);
    case 'n':
        return read_literal(ps, "null", UB_J_NULL, v);
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) {
            return read_number(ps, v);
        }
        return fail(ps, "invalid token");
    }
}

static int parse(parser *ps, ub_jval *root)
{
    ub_jval v;
    int opened;

    for (;;) {
        if (read_value(ps, &v, &opened) != 0) {
            return -1;
        }
        if (opened) {
            continue;           /* the container's first value is next */
        }
        /* v is complete: hand it to its container, closing the ones that
         * end here */
        for (;;) {
            frame *f;

            if (ps->depth == 0) {
                eat_space(ps);
                if (ps->p != ps->end) {
                    return fail(ps, "end of input expected after the document");
                }
                *root = v;
                return 0;
            }
            f = &ps->frames[ps->depth - 1];
            if (push_entry(ps, f->key, f->key_len, &v) != 0) {
                return -1;
            }
            eat_space(ps);
            if (ps->p == ps->end) {
                return fail(ps, "unexpected end of input");
            }
            if (*ps->p == ',') {
                /* the top-level array's next entry would pass the limit:
                 * stop here, before reading it or anything after it */
                if (ps->depth == 1 && f->type == UB_J_ARRAY
                    && ps->limits.max_items > 0
                    && ps->used - f->base >= ps->limits.max_items) {
                    ps->why = OVER_ITEMS;
                    return fail(ps, "too many entries");
                }
                ps->p++;
                if (f->type == UB_J_OBJECT && read_key(ps) != 0) {
                    return -1;
                }
                break;          /* the next value */
            }
            if (*ps->p != (f->type == UB_J_OBJECT ? '}' : ']')) {
                return fail(ps, f->type == UB_J_OBJECT ? "',' or '}' expected"
                                                       : "',' or ']' expected");
            }
            ps->p++;
            if (close_frame(ps, &v) != 0) {
                return -1;
            }
        }
    }
}

const ub_jval *ub_jdoc_parse(apr_pool_t *pool, const char *buf, apr_size_t len,
                             ub_problem *problem)
{
    return ub_jdoc_parse_limited(pool, buf, len, NULL, problem);
}

const ub_jval *ub_jdoc_parse_limited(apr_pool_t *pool, const char *buf,
                                     apr_size_t len, const ub_jdoc_limits *limits,
                                     ub_problem *problem)
{
    parser ps;
    ub_jval *root = apr_palloc(pool, sizeof(*root));
    int rc;

    memset(&ps, 0, sizeof(ps));
    ps.pool = pool;
    ps.start = ps.p = buf;
    ps.end = buf + len;
    ps.strings = apr_palloc(pool, len + 1);
    if (limits != NULL) {
        ps.limits = *limits;
    }
    rc = parse(&ps, root);
    free(ps.scratch);
    free(ps.sorted);
    if (rc == 0) {
        return root;
    }
    problem->status = 400;
    if (ps.why == OVER_ITEMS) {
        problem->code = UB_JDOC_TOO_MANY_ITEMS;
        problem->message = apr_psprintf(pool,
            "the body's array holds more than %" APR_SIZE_T_FMT " entries",
            ps.limits.max_items);
        problem->description = "Send fewer entries; nothing was changed.";
        return NULL;
    }
    if (ps.why == OVER_VALUES) {
        problem->code = UB_JDOC_TOO_MANY_VALUES;
        problem->message = apr_psprintf(pool,
            "the body holds more than %" APR_SIZE_T_FMT " JSON values "
            "(objects, arrays, strings, numbers, booleans and nulls, at any depth)",
            ps.limits.max_values);
        problem->description = "Send fewer or shorter lists; nothing was changed.";
        return NULL;
    }
    if (ps.why == NO_MEMORY) {
        /* malloc refused the working space: the server's trouble */
        ub_problem_set(problem, 503, "unavailable",
                       "the server is short of memory; nothing was changed",
                       "Retry the same request after the delay in Retry-After.");
        return NULL;
    }
    {
        /* line and column of the error, counted only now that there is one */
        const char *c, *line_start = buf;
        int line = 1;

        for (c = buf; c < ps.p && c < ps.end; c++) {
            if (*c == '\n') {
                line++;
                line_start = c + 1;
            }
        }
        problem->code = "invalid_json";
        problem->message = apr_psprintf(pool,
            "the body is not valid JSON: %s (line %d, column %ld)",
            ps.error, line, (long)(ps.p - line_start) + 1);
        problem->description = "Send a JSON document encoded in UTF-8, "
            "without duplicate keys or NUL characters.";
    }
    return NULL;
}

const ub_jval *ub_jobj_get(const ub_jval *v, const char *key)
{
    apr_size_t i;

    if (v == NULL || v->type != UB_J_OBJECT) {
        return NULL;
    }
    for (i = 0; i < v->len; i++) {
        if (ub_jkey_is(&v->u.members[i], key)) {
            return &v->u.members[i].value;
        }
    }
    return NULL;
}
