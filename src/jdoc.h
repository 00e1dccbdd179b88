/*
 * jdoc.h: a request body parsed into a read-only JSON tree in pool memory.
 *
 * Why not jansson here: a 1000-record body is about 20,000 values, and
 * jansson gives each its own malloc'd node and each object a hash table;
 * loading, reading and freeing that took about 20 ms of the httpd child
 * per request (perf, issue 4), more than PostgreSQL's whole floor. This
 * tree is a handful of pool blocks: strings decoded into one buffer the
 * size of the body, arrays and objects as contiguous vectors in document
 * order. It is as strict as jansson's json_loadb with duplicate keys
 * refused (tests/fuzz/fuzz_jdoc.c compares the two): RFC 8259 grammar,
 * valid UTF-8, no NUL character (raw or \u0000), no duplicate keys,
 * integers that fit in a long long, finite reals, nesting at most
 * UB_JDOC_MAX_DEPTH deep.
 *
 * A body of tiny values ("[0,0,...]") holds a value every two bytes, and a
 * value costs a node of 24 to 40 bytes: a tree of everything a hostile
 * body holds would be some 20 times its size. So the endpoints parse with
 * limits, checked while parsing, before the tree holds more than they
 * allow: the entries of the top-level array (the records) and the values
 * of the whole document. The parser's working space is malloc'd and freed
 * before it returns; the tree is pool memory in vectors of exact size.
 */
#ifndef UB_JDOC_H
#define UB_JDOC_H

#include "userbulk.h"

#define UB_JDOC_MAX_DEPTH 2048  /* jansson's own limit, kept for the corpus */

typedef enum {
    UB_J_NULL,
    UB_J_FALSE,
    UB_J_TRUE,
    UB_J_INTEGER,
    UB_J_REAL,
    UB_J_STRING,
    UB_J_ARRAY,
    UB_J_OBJECT
} ub_jtype;

typedef struct ub_jmember ub_jmember;

typedef struct ub_jval {
    ub_jtype type;
    apr_size_t len;     /* string: bytes; array, object: entries */
    union {
        const char *str;                /* NUL-terminated, valid UTF-8 */
        long long integer;
        double real;
        const struct ub_jval *items;    /* array */
        const ub_jmember *members;      /* object, in document order */
    } u;
} ub_jval;

struct ub_jmember {
    const char *key;    /* NUL-terminated */
    apr_size_t key_len;
    ub_jval value;
};

/* Parses buf. On failure fills problem (400 invalid_json, naming what is
 * wrong with its line and column) and returns NULL. No limits but the
 * nesting: for the tests and the fuzzers. */
const ub_jval *ub_jdoc_parse(apr_pool_t *pool, const char *buf, apr_size_t len,
                             ub_problem *problem);

/* What a caller allows a body; 0 is no limit. */
typedef struct {
    apr_size_t max_items;       /* entries of a top-level array */
    apr_size_t max_values;      /* values in the document, containers included */
} ub_jdoc_limits;

/* problem->code when a limit stopped the parse (status 400): the caller
 * answers UB_JDOC_TOO_MANY_ITEMS in its own words (records, ids). */
#define UB_JDOC_TOO_MANY_ITEMS  "too_many_items"
#define UB_JDOC_TOO_MANY_VALUES "too_many_values"

/* ub_jdoc_parse, stopping as soon as the document passes a limit: the
 * (max_items + 1)-th entry of a top-level array is not read, nor anything
 * after it. */
const ub_jval *ub_jdoc_parse_limited(apr_pool_t *pool, const char *buf,
                                     apr_size_t len, const ub_jdoc_limits *limits,
                                     ub_problem *problem);

/* An object's member, or NULL when v is not an object or has no such key. */
const ub_jval *ub_jobj_get(const ub_jval *v, const char *key);

/* Whether m's key is key (NUL-terminated), compared inline: keys are
 * short, and a body of 1000 records compares some 30,000 of them, where a
 * call to strcmp each was the child's largest cost outside this module.
 * (A key holds no NUL: the parser refuses one, so a shorter key differs
 * at its end.) */
static APR_INLINE int ub_jkey_is(const ub_jmember *m, const char *key)
{
    const char *k = m->key;
    apr_size_t i;

    for (i = 0; i < m->key_len; i++) {
        if (k[i] != key[i]) {
            return 0;
        }
    }
    return key[i] == '\0';
}

/* Absent (NULL) or JSON null. */
#define ub_j_missing(v) ((v) == NULL || (v)->type == UB_J_NULL)
#define ub_j_is(v, t) ((v) != NULL && (v)->type == (t))
#define ub_j_is_bool(v) (ub_j_is(v, UB_J_TRUE) || ub_j_is(v, UB_J_FALSE))

#endif
