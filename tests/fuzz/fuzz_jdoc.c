/*
 * fuzz_jdoc.c: differential libFuzzer target of the body parser (src/jdoc.c)
 * against jansson, which it replaced and must match exactly: for any input,
 * ub_jdoc_parse accepts exactly when json_loadb(JSON_REJECT_DUPLICATES |
 * JSON_DECODE_ANY) does, and when both accept, the trees are equal: types,
 * string bytes and lengths, integers, reals (relative 1e-12), array items,
 * object keys and member order (jansson 2.14 iterates an object in
 * insertion order, i.e. document order), and ub_jobj_get finds every member.
 *
 *   make fuzz                      builds and runs it (FUZZ_SECONDS each)
 *   .build/fuzz/fuzz_jdoc -dict=tests/fuzz/jdoc.dict DIR...
 *
 * One deliberate difference: jansson drops a single raw NUL byte that
 * directly follows a number or a literal ("[1\0]" loads as [1]; its lexer
 * reads the NUL, puts it back, and then takes the NUL for "refill the
 * buffer"). jdoc refuses every raw NUL, as its contract says, so an input
 * holding a NUL byte must be refused whatever jansson says.
 *
 * Invariants on refusal: a 400 invalid_json problem whose message names
 * the line and column.
 *
 * ub_jdoc_parse_limited (small limits, so that inputs pass them) agrees
 * with the whole parse: it accepts the same tree, or refuses with the code
 * of a limit the document really passes (or with invalid_json when the
 * document is not JSON).
 */
#include "fuzz_common.h"
#include <math.h>
#include "jdoc.h"

static void check_same(const ub_jval *v, const json_t *j)
{
    size_t i;

    FUZZ_CHECK(v != NULL && j != NULL);
    if (v == NULL || j == NULL) {
        return;
    }
    switch (v->type) {
    case UB_J_NULL:
        FUZZ_CHECK(json_is_null(j));
        break;
    case UB_J_FALSE:
        FUZZ_CHECK(json_is_false(j));
        break;
    case UB_J_TRUE:
        FUZZ_CHECK(json_is_true(j));
        break;
    case UB_J_INTEGER:
        FUZZ_CHECK(json_is_integer(j));
        FUZZ_CHECK(json_integer_value(j) == v->u.integer);
        break;
    case UB_J_REAL: {
        double a = v->u.real, b = json_real_value(j);

        FUZZ_CHECK(json_is_real(j));
        FUZZ_CHECK(isfinite(a));
        if (a != b) {
            FUZZ_CHECK(fabs(a - b) <= 1e-12 * fmax(fabs(a), fabs(b)));
        }
        break;
    }
    case UB_J_STRING:
        FUZZ_CHECK(json_is_string(j));
        FUZZ_CHECK(json_string_length(j) == v->len);
        FUZZ_CHECK(v->u.str[v->len] == '\0');
        FUZZ_CHECK(memcmp(json_string_value(j), v->u.str, v->len) == 0);
        break;
    case UB_J_ARRAY:
        FUZZ_CHECK(json_is_array(j));
        FUZZ_CHECK(json_array_size(j) == v->len);
        if (json_array_size(j) != v->len) {
            break;
        }
        for (i = 0; i < v->len; i++) {
            check_same(&v->u.items[i], json_array_get(j, i));
        }
        break;
    case UB_J_OBJECT: {
        const char *key;
        json_t *value;

        FUZZ_CHECK(json_is_object(j));
        FUZZ_CHECK(json_object_size(j) == v->len);
        if (json_object_size(j) != v->len) {
            break;
        }
        i = 0;
        json_object_foreach((json_t *)j, key, value) {
            const ub_jmember *m = &v->u.members[i++];

            FUZZ_CHECK(m->key_len == strlen(key));
            FUZZ_CHECK(m->key[m->key_len] == '\0');
            FUZZ_CHECK(strcmp(m->key, key) == 0);
            FUZZ_CHECK(ub_jobj_get(v, key) == &m->value);
            check_same(&m->value, value);
        }
        break;
    }
    default:
        FUZZ_CHECK(!"a type jdoc does not know");
    }
}

/* Values in a tree, containers included. */
static apr_size_t count_values(const ub_jval *v)
{
    apr_size_t n = 1, i;

    if (v->type == UB_J_ARRAY) {
        for (i = 0; i < v->len; i++) {
            n += count_values(&v->u.items[i]);
        }
    }
    else if (v->type == UB_J_OBJECT) {
        for (i = 0; i < v->len; i++) {
            n += count_values(&v->u.members[i].value);
        }
    }
    return n;
}

/* The limited parse agrees with the whole one: the same tree within the
 * limits; past one, refused with that limit's code; and never a limit's
 * code for a document within both. */
static void check_limited(apr_pool_t *pool, const char *body, size_t size,
                          const ub_jval *whole)
{
    ub_jdoc_limits lim = { 3, 40 };
    ub_problem problem;
    const ub_jval *v;

    memset(&problem, 0, sizeof(problem));
    v = ub_jdoc_parse_limited(pool, body, size, &lim, &problem);
    if (v != NULL) {
        FUZZ_CHECK(whole != NULL);
        FUZZ_CHECK(count_values(v) <= lim.max_values);
        FUZZ_CHECK(v->type != UB_J_ARRAY || v->len <= lim.max_items);
        FUZZ_CHECK(count_values(v) == count_values(whole) && v->len == whole->len);
        return;
    }
    fuzz_check_problem(&problem);
    FUZZ_CHECK(problem.status == 400);
    if (strcmp(problem.code, "invalid_json") == 0) {
        FUZZ_CHECK(whole == NULL);
    }
    else if (strcmp(problem.code, UB_JDOC_TOO_MANY_ITEMS) == 0) {
        FUZZ_CHECK(whole == NULL || (whole->type == UB_J_ARRAY && whole->len > lim.max_items));
    }
    else {
        FUZZ_CHECK(strcmp(problem.code, UB_JDOC_TOO_MANY_VALUES) == 0);
        FUZZ_CHECK(whole == NULL || count_values(whole) > lim.max_values);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pool;
    ub_problem problem;
    const ub_jval *v;
    json_t *j;
    json_error_t err;
    char *body;

    fuzz_init();
    FUZZ_CHECK(apr_pool_create(&pool, fuzz_root) == APR_SUCCESS);
    memset(&problem, 0, sizeof(problem));
    /* The body as the glue reads it: exactly size bytes, not terminated
     * (malloc'd, so that ASan sees a read past its end). */
    body = malloc(size ? size : 1);
    FUZZ_CHECK(body != NULL);
    memcpy(body, data, size);

    v = ub_jdoc_parse(pool, body, size, &problem);
    j = json_loadb(body, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (memchr(body, '\0', size) != NULL) {
        FUZZ_CHECK(v == NULL);
    }
    else if ((v == NULL) != (j == NULL)) {
        fprintf(stderr, "jdoc %s, jansson %s\n",
                v ? "accepts" : problem.message,
                j ? "accepts" : err.text);
        FUZZ_FAIL();
    }
    if (v == NULL) {
        fuzz_check_problem(&problem);
        FUZZ_CHECK(problem.status == 400);
        FUZZ_CHECK(strcmp(problem.code, "invalid_json") == 0);
        FUZZ_CHECK(strncmp(problem.message, "the body is not valid JSON: ", 28) == 0);
        FUZZ_CHECK(strstr(problem.message, " (line ") != NULL);
    }
    else if (j != NULL) {
        check_same(v, j);
    }
    check_limited(pool, body, size, v);
    json_decref(j);
    free(body);
    apr_pool_destroy(pool);
    return 0;
}
