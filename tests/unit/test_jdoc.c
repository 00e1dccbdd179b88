/*
 * test_jdoc.c: src/jdoc.c, the request body parser, which must be exactly
 * as strict as json_loadb(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY) was
 * (tests/fuzz/fuzz_jdoc.c compares the two on any input): RFC 8259
 * grammar, valid UTF-8, no NUL, no duplicate keys, integers that fit a long
 * long, finite reals, at most UB_JDOC_MAX_DEPTH levels.
 *
 * Every body is parsed from a malloc'd copy of exactly its length, not
 * NUL-terminated, so that valgrind sees any read past its end.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "unit.h"
#include "jdoc.h"

/* ---- helpers ------------------------------------------------------------ */

static apr_status_t free_body(void *body)
{
    free(body);
    return APR_SUCCESS;
}

/* body as the glue hands it over: exactly len bytes, unterminated */
static const char *exact(const char *body, apr_size_t len)
{
    char *copy = malloc(len ? len : 1);

    ck_assert_ptr_nonnull(copy);
    memcpy(copy, body, len);
    apr_pool_cleanup_register(ut_pool, copy, free_body, apr_pool_cleanup_null);
    return copy;
}

/* body for a failure message: check refuses messages of several KB */
static const char *shown(const char *body, apr_size_t len)
{
    return len <= 200 ? apr_pstrmemdup(ut_pool, body, len)
                      : apr_psprintf(ut_pool, "%.100s...(%lu bytes)", body, (unsigned long)len);
}

static const ub_jval *parsed_n(const char *body, apr_size_t len)
{
    ub_problem p = { 0 };
    const ub_jval *v = ub_jdoc_parse(ut_pool, exact(body, len), len, &p);

    ck_assert_msg(v != NULL, "refused %s: %s", shown(body, len),
                  p.message ? p.message : "(no message)");
    ck_assert_int_eq(p.status, 0);
    return v;
}

static ub_problem refused_n(const char *body, apr_size_t len)
{
    ub_problem p = { 0 };
    const ub_jval *v = ub_jdoc_parse(ut_pool, exact(body, len), len, &p);

    ck_assert_msg(v == NULL, "accepted %s", shown(body, len));
    ck_assert_int_eq(p.status, 400);
    ck_assert_str_eq(p.code, "invalid_json");
    ck_assert_ptr_nonnull(p.message);
    ck_assert_msg(strncmp(p.message, "the body is not valid JSON: ", 28) == 0,
                  "message: %s", p.message);
    ck_assert_ptr_nonnull(p.description);
    return p;
}

/* a NUL-terminated body, or a literal (which may hold NUL bytes) */
#define parsed(s) parsed_n((s), strlen(s))
#define refused(s) refused_n((s), strlen(s))
#define parsed_lit(s) parsed_n((s), sizeof(s) - 1)
#define refused_lit(s) refused_n((s), sizeof(s) - 1)

/* refused, and the message names what */
#define refused_because(s, what) do { \
    ub_problem ut_p_ = refused(s); \
    ck_assert_msg(strstr(ut_p_.message, (what)) != NULL, \
                  "%.100s: expected \"%s\" in: %s", (s), (what), ut_p_.message); \
} while (0)

#define refused_lit_because(s, what) do { \
    ub_problem ut_p_ = refused_lit(s); \
    ck_assert_msg(strstr(ut_p_.message, (what)) != NULL, \
                  "expected \"%s\" in: %s", (what), ut_p_.message); \
} while (0)

/* the string value of body, which must be a string of want_len bytes */
static void assert_string(const char *body, const char *want, apr_size_t want_len)
{
    const ub_jval *v = parsed(body);

    ck_assert_int_eq(v->type, UB_J_STRING);
    ck_assert_msg(v->len == want_len, "%s: len %lu, expected %lu", body,
                  (unsigned long)v->len, (unsigned long)want_len);
    ck_assert_msg(memcmp(v->u.str, want, want_len) == 0, "%s: decoded to %s", body,
                  v->u.str);
    ck_assert_int_eq(v->u.str[v->len], '\0');
}

#define assert_string_lit(body, want) assert_string((body), (want), sizeof(want) - 1)

static const ub_jval *item(const ub_jval *v, apr_size_t i)
{
    ck_assert_int_eq(v->type, UB_J_ARRAY);
    ck_assert_uint_gt(v->len, i);
    return &v->u.items[i];
}

static const ub_jmember *member(const ub_jval *v, apr_size_t i)
{
    ck_assert_int_eq(v->type, UB_J_OBJECT);
    ck_assert_uint_gt(v->len, i);
    return &v->u.members[i];
}

static void assert_key(const ub_jmember *m, const char *key)
{
    ck_assert_str_eq(m->key, key);
    ck_assert_uint_eq(m->key_len, strlen(key));
}

static double real_of(const char *body)
{
    const ub_jval *v = parsed(body);

    ck_assert_msg(v->type == UB_J_REAL, "%s: type %d, not a real", body, v->type);
    return v->u.real;
}

static long long integer_of(const char *body)
{
    const ub_jval *v = parsed(body);

    ck_assert_msg(v->type == UB_J_INTEGER, "%s: type %d, not an integer", body, v->type);
    return v->u.integer;
}

/* n nested arrays around inner */
static const char *nested(int n, const char *inner)
{
    return apr_pstrcat(ut_pool, ut_repeat("[", n), inner, ut_repeat("]", n), NULL);
}

/* an object of n members "k0".."k<n-1>" valued by their index, then extra */
static const char *object_of(int n, const char *extra)
{
    const char *s = "{";
    int i;

    for (i = 0; i < n; i++) {
        s = apr_psprintf(ut_pool, "%s%s\"k%d\":%d", s, i ? "," : "", i, i);
    }
    return apr_pstrcat(ut_pool, s, extra, "}", NULL);
}

/* ---- scalars and containers --------------------------------------------- */

START_TEST(top_level_scalars)
{
    ck_assert_int_eq(parsed("null")->type, UB_J_NULL);
    ck_assert_int_eq(parsed("true")->type, UB_J_TRUE);
    ck_assert_int_eq(parsed("false")->type, UB_J_FALSE);
    ck_assert_int_eq(integer_of("42"), 42);
    ck_assert(real_of("2.5") == 2.5);
    assert_string_lit("\"x\"", "x");
    assert_string_lit("\"\"", "");
}
END_TEST

START_TEST(nested_containers_keep_document_order)
{
    const ub_jval *v = parsed(ut_q("{'b':[1,{'z':null,'a':true}],'a':{'y':[[]],'x':'s'},'c':[]}"));
    const ub_jval *b, *inner, *a;

    ck_assert_int_eq(v->type, UB_J_OBJECT);
    ck_assert_uint_eq(v->len, 3);
    assert_key(member(v, 0), "b");
    assert_key(member(v, 1), "a");
    assert_key(member(v, 2), "c");

    b = &member(v, 0)->value;
    ck_assert_uint_eq(b->len, 2);
    ck_assert_int_eq(item(b, 0)->type, UB_J_INTEGER);
    ck_assert_int_eq(item(b, 0)->u.integer, 1);
    inner = item(b, 1);
    ck_assert_uint_eq(inner->len, 2);
    assert_key(member(inner, 0), "z");
    ck_assert_int_eq(member(inner, 0)->value.type, UB_J_NULL);
    assert_key(member(inner, 1), "a");
    ck_assert_int_eq(member(inner, 1)->value.type, UB_J_TRUE);

    a = &member(v, 1)->value;
    ck_assert_uint_eq(a->len, 2);
    assert_key(member(a, 0), "y");
    ck_assert_uint_eq(member(a, 0)->value.len, 1);
    ck_assert_int_eq(item(&member(a, 0)->value, 0)->type, UB_J_ARRAY);
    ck_assert_uint_eq(item(&member(a, 0)->value, 0)->len, 0);
    assert_key(member(a, 1), "x");
    ck_assert_str_eq(member(a, 1)->value.u.str, "s");

    ck_assert_int_eq(member(v, 2)->value.type, UB_J_ARRAY);
    ck_assert_uint_eq(member(v, 2)->value.len, 0);
}
END_TEST

/* Keys found whole: not by a prefix, nor a key found by its own prefix,
 * whatever the order; the empty key and a key with an escape too. */
START_TEST(object_keys_are_found_whole)
{
    const ub_jval *v = parsed(ut_q("{'userName':1,'user':2,'userNames':3,'':4,'a\\u00e9':5}"));

    ck_assert_int_eq(ub_jobj_get(v, "userName")->u.integer, 1);
    ck_assert_int_eq(ub_jobj_get(v, "user")->u.integer, 2);
    ck_assert_int_eq(ub_jobj_get(v, "userNames")->u.integer, 3);
    ck_assert_int_eq(ub_jobj_get(v, "")->u.integer, 4);
    ck_assert_int_eq(ub_jobj_get(v, "a\xc3\xa9")->u.integer, 5);
    ck_assert_ptr_null(ub_jobj_get(v, "use"));
    ck_assert_ptr_null(ub_jobj_get(v, "userNamess"));
    ck_assert_ptr_null(ub_jobj_get(v, "username"));
    ck_assert_ptr_null(ub_jobj_get(v, "a"));
    ck_assert(ub_jkey_is(member(v, 1), "user"));
    ck_assert(!ub_jkey_is(member(v, 1), "userName"));
    ck_assert(!ub_jkey_is(member(v, 0), "user"));
    ck_assert(ub_jkey_is(member(v, 3), ""));
    ck_assert(!ub_jkey_is(member(v, 3), "x"));
}
END_TEST

START_TEST(array_items_in_order)
{
    const ub_jval *v = parsed(ut_q("[3,'two',1,[0],{},null,false,true,-1.5]"));

    ck_assert_uint_eq(v->len, 9);
    ck_assert_int_eq(item(v, 0)->u.integer, 3);
    ck_assert_str_eq(item(v, 1)->u.str, "two");
    ck_assert_int_eq(item(v, 2)->u.integer, 1);
    ck_assert_int_eq(item(item(v, 3), 0)->u.integer, 0);
    ck_assert_int_eq(item(v, 4)->type, UB_J_OBJECT);
    ck_assert_int_eq(item(v, 5)->type, UB_J_NULL);
    ck_assert_int_eq(item(v, 6)->type, UB_J_FALSE);
    ck_assert_int_eq(item(v, 7)->type, UB_J_TRUE);
    ck_assert(item(v, 8)->u.real == -1.5);
}
END_TEST

START_TEST(many_items_and_members)
{
    /* more than the scratch vector's first 256 entries, nested */
    const char *body = apr_pstrcat(ut_pool, "[", ut_repeat("1,", 999), "[",
                                   ut_repeat("2,", 299), "2],", object_of(300, ""), "]", NULL);
    const ub_jval *v = parsed(body), *o;
    apr_size_t i;

    ck_assert_uint_eq(v->len, 1001);
    for (i = 0; i < 999; i++) {
        ck_assert_int_eq(item(v, i)->u.integer, 1);
    }
    ck_assert_uint_eq(item(v, 999)->len, 300);
    ck_assert_int_eq(item(item(v, 999), 299)->u.integer, 2);
    o = item(v, 1000);
    ck_assert_uint_eq(o->len, 300);
    for (i = 0; i < 300; i++) {
        ck_assert_str_eq(member(o, i)->key, apr_psprintf(ut_pool, "k%lu", (unsigned long)i));
        ck_assert_int_eq(member(o, i)->value.u.integer, (long long)i);
    }
}
END_TEST

START_TEST(empty_containers)
{
    const ub_jval *v;

    ck_assert_int_eq(parsed("[]")->type, UB_J_ARRAY);
    ck_assert_uint_eq(parsed("[]")->len, 0);
    ck_assert_int_eq(parsed("{}")->type, UB_J_OBJECT);
    ck_assert_uint_eq(parsed("{}")->len, 0);
    ck_assert_uint_eq(parsed("[ \t\r\n]")->len, 0);
    ck_assert_uint_eq(parsed("{ \t\r\n}")->len, 0);
    v = parsed(ut_q("[[],{},{'a':{},'b':[]}]"));
    ck_assert_uint_eq(v->len, 3);
    ck_assert_uint_eq(item(v, 0)->len, 0);
    ck_assert_int_eq(item(v, 1)->type, UB_J_OBJECT);
    ck_assert_uint_eq(item(v, 1)->len, 0);
    ck_assert_int_eq(member(item(v, 2), 0)->value.type, UB_J_OBJECT);
    ck_assert_int_eq(member(item(v, 2), 1)->value.type, UB_J_ARRAY);
}
END_TEST

START_TEST(refuses_broken_structure)
{
    static const char *const bodies[] = {
        "", " ", "\n", "[", "{", "]", "}", "[1", "[1,", "{\"a\"", "{\"a\":", "{\"a\":1",
        "[1,]", "[,1]", "[,]", "{,}", "{\"a\":1,}", "{,\"a\":1}", "{\"a\"}", "{\"a\" 1}",
        "{\"a\"::1}", "{1:2}", "{'a':1}", "{a:1}", "{null:1}", "[1 2]", "{\"a\":1 \"b\":2}",
        "[1}", "{\"a\":1]", "[\"a\":1]", "{\"a\",1}", ":", ",", "'a'", "[1;2]",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bodies) / sizeof(*bodies); i++) {
        refused(bodies[i]);
    }
}
END_TEST

START_TEST(refuses_trailing_garbage)
{
    refused_because("[1] x", "end of input expected");
    refused_because("{} {}", "end of input expected");
    refused_because("1 2", "end of input expected");
    refused_because("\"a\"\"b\"", "end of input expected");
    refused_because("null,", "end of input expected");
    refused_because("[]]", "end of input expected");
    refused_because("{}}", "end of input expected");
    refused_because("truefalse", "end of input expected");
    refused_lit("1\0");
    /* trailing whitespace is fine */
    ck_assert_uint_eq(parsed(" [1] \n\t\r ")->len, 1);
}
END_TEST

START_TEST(reads_only_len_bytes)
{
    ub_problem p = { 0 };

    ck_assert_ptr_nonnull(ub_jdoc_parse(ut_pool, "[1]garbage", 3, &p));
    ck_assert_ptr_nonnull(ub_jdoc_parse(ut_pool, "12345", 2, &p));
    ck_assert_int_eq(ub_jdoc_parse(ut_pool, "12345", 2, &p)->u.integer, 12);
    refused_n("\"abc\"", 4);
    refused_n("true", 3);
    refused_n("[1]", 2);
    refused_n("\"\\u00e9\"", 6);
    refused_n("\"\\ud83d\\ude00\"", 10);
    refused_n("\"\xe2\x82\xac\"", 3);
}
END_TEST

/* ---- whitespace ---------------------------------------------------------- */

START_TEST(whitespace_space_tab_cr_lf_anywhere)
{
    const ub_jval *v = parsed(" \t\r\n{ \t\r\n\"a\" \t\r\n: \t\r\n[ \t\r\n1 \t\r\n, \t\r\n"
                              "true \t\r\n] \t\r\n, \t\r\n\"b\"\t:\tnull\r\n} \t\r\n");

    ck_assert_uint_eq(v->len, 2);
    ck_assert_uint_eq(member(v, 0)->value.len, 2);
    ck_assert_int_eq(member(v, 1)->value.type, UB_J_NULL);
}
END_TEST

START_TEST(refuses_other_whitespace)
{
    refused("\f1");
    refused("[1,\f2]");
    refused("\v[]");
    refused("[1\v]");
    refused("\xc2\xa0[]");              /* no-break space */
    refused("[\xe2\x80\xa8]");          /* line separator */
    refused("\xef\xbb\xbf[]");          /* byte order mark */
    refused_lit("\0[]");
    refused_lit("[\0]");
    refused_lit("[1,\0 2]");
}
END_TEST

/* ---- literals ------------------------------------------------------------ */

START_TEST(literals)
{
    const ub_jval *v = parsed("[true,false,null]"), *none = NULL;

    ck_assert_int_eq(item(v, 0)->type, UB_J_TRUE);
    ck_assert_int_eq(item(v, 1)->type, UB_J_FALSE);
    ck_assert_int_eq(item(v, 2)->type, UB_J_NULL);
    ck_assert(ub_j_is_bool(item(v, 0)) && ub_j_is_bool(item(v, 1)) && !ub_j_is_bool(item(v, 2)));
    ck_assert(ub_j_missing(item(v, 2)) && !ub_j_missing(item(v, 1)) && ub_j_missing(none));
}
END_TEST

START_TEST(refuses_broken_literals)
{
    static const char *const bodies[] = {
        "t", "tr", "tru", "f", "fa", "fal", "fals", "n", "nu", "nul",
        "True", "FALSE", "Null", "nil", "none", "undefined", "truex", "nulll",
        "[tru]", "[nul,1]", "{\"a\":fals}", "[true1]", "[truefalse]", "[null null]",
        "trux", "truE", "falsy", "fals0", "nulL", "nul1", "[trux]", "{\"a\":nulx}",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bodies) / sizeof(*bodies); i++) {
        refused(bodies[i]);
    }
    /* jansson drops one raw NUL after a literal or a number ("[true\0]"
     * loads as [true]); the contract says no NUL */
    refused_lit("[true\0]");
    refused_lit("null\0");
    refused_lit("[1\0]");
    refused_lit("[-1.5e3\0,2]");
}
END_TEST

/* ---- numbers -------------------------------------------------------------- */

START_TEST(integers)
{
    ck_assert_int_eq(integer_of("0"), 0);
    ck_assert_int_eq(integer_of("-0"), 0);
    ck_assert_int_eq(integer_of("7"), 7);
    ck_assert_int_eq(integer_of("-7"), -7);
    ck_assert_int_eq(integer_of("1234567890"), 1234567890LL);
    ck_assert_int_eq(integer_of("9223372036854775807"), LLONG_MAX);
    ck_assert_int_eq(integer_of("-9223372036854775808"), LLONG_MIN);
    ck_assert_int_eq(item(parsed("[9223372036854775807,-9223372036854775808]"), 1)->u.integer,
                     LLONG_MIN);
}
END_TEST

START_TEST(refuses_integer_overflow)
{
    refused_because("9223372036854775808", "integer too big");
    refused_because("-9223372036854775809", "integer too big");
    refused_because("[99999999999999999999]", "integer too big");
    refused_because(ut_repeat("9", 64), "integer too big");
    refused_because(apr_pstrcat(ut_pool, "-", ut_repeat("1", 200), NULL), "integer too big");
    refused_because(ut_q("{'a':18446744073709551616}"), "integer too big");
}
END_TEST

START_TEST(reals)
{
    ck_assert(real_of("1.5") == 1.5);
    ck_assert(real_of("-0.25") == -0.25);
    ck_assert(real_of("0.1") == 0.1);
    ck_assert(real_of("1e2") == 100.0);
    ck_assert(real_of("1E2") == 100.0);
    ck_assert(real_of("1e+2") == 100.0);
    ck_assert(real_of("1E-2") == 0.01);
    ck_assert(real_of("-1.5e3") == -1500.0);
    ck_assert(real_of("2.5E+1") == 25.0);
    ck_assert(real_of("0e0") == 0.0);
    ck_assert(real_of("-0.0") == 0.0 && signbit(real_of("-0.0")));
    ck_assert(real_of("1.0") == 1.0);           /* a real, not an integer */
    ck_assert(real_of("1e0") == 1.0);
    ck_assert(real_of("1.7976931348623157e308") == 1.7976931348623157e308);
    ck_assert(real_of("-1.7976931348623157e308") == -1.7976931348623157e308);
    ck_assert(real_of("12345678901234567890123456789.0") == 12345678901234567890123456789.0);
}
END_TEST

START_TEST(reals_underflow_is_fine)
{
    double tiny = real_of("1e-400");

    ck_assert(tiny >= 0.0 && tiny < 1e-300);
    ck_assert(real_of("-1e-400") <= 0.0);
    ck_assert(real_of("4.9e-324") > 0.0);       /* the smallest subnormal */
    ck_assert(real_of("2e-310") > 0.0);         /* a subnormal: ERANGE, kept */
}
END_TEST

START_TEST(refuses_real_overflow)
{
    refused_because("1e400", "real number overflow");
    refused_because("-1e400", "real number overflow");
    refused_because("[1.8e308]", "real number overflow");
    refused_because("1E+999999999999", "real number overflow");
}
END_TEST

/* A real longer than any short buffer is read whole: cutting its text
 * would change its value. */
START_TEST(long_reals_read_whole)
{
    const char *zeros = ut_repeat("0", 70);
    double v;

    v = real_of(apr_pstrcat(ut_pool, "1", zeros, ".0", NULL));
    ck_assert_msg(fabs(v - 1e70) <= 1e-12 * 1e70, "1 and 70 zeros .0 read as %g", v);
    v = real_of(apr_pstrcat(ut_pool, "0.", zeros, "1", NULL));
    ck_assert_msg(fabs(v - 1e-71) <= 1e-12 * 1e-71, "0.<70 zeros>1 read as %g", v);
    v = real_of(apr_pstrcat(ut_pool, "-1.", zeros, "1e5", NULL));
    ck_assert_msg(v == -1e5, "-1.<70 zeros>1e5 read as %g", v);
    v = real_of(apr_pstrcat(ut_pool, "1.", ut_repeat("5", 100), NULL));
    ck_assert_msg(fabs(v - (1.0 + 5.0 / 9.0)) < 1e-15, "1.555... read as %g", v);
    refused_because(apr_pstrcat(ut_pool, "1.", zeros, "e400", NULL), "real number overflow");
    refused_because(apr_pstrcat(ut_pool, "[1", zeros, zeros, zeros, zeros, zeros, ".5]", NULL),
                    "real number overflow");
}
END_TEST

START_TEST(refuses_malformed_numbers)
{
    static const char *const bodies[] = {
        "01", "-01", "00", "-00", "007", "[01]", "-", "[-]", "--1", "+1", "-a", "1.", "1.e5",
        "[1.]", ".5", "-.5", "[.5]", "1e", "1E", "1e+", "1e-", "1E+", "[1e]", "1e5.5",
        "1.5.3", "0x10", "1_000", "Infinity", "-Infinity", "NaN", "[NaN]", "1,5", "- 1",
        "1 .5", "1e 5", "0.e1",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bodies) / sizeof(*bodies); i++) {
        refused(bodies[i]);
    }
}
END_TEST

/* ---- strings ----------------------------------------------------------------- */

START_TEST(simple_escapes)
{
    assert_string_lit("\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"", "\" \\ / \b \f \n \r \t");
    assert_string_lit("\"\\\"\"", "\"");
    assert_string_lit("\"\\\\\"", "\\");
    assert_string_lit("\"a\\/b\"", "a/b");
    assert_string_lit("\"\\b\\f\\n\\r\\t\"", "\b\f\n\r\t");
    assert_string_lit("\"\\\\n\"", "\\n");      /* an escaped backslash, then n */
}
END_TEST

START_TEST(unicode_escapes_bmp)
{
    assert_string_lit("\"\\u0041\"", "A");
    assert_string_lit("\"\\u0001\\u001f\"", "\x01\x1f");  /* escaped, controls are fine */
    assert_string_lit("\"\\u007f\"", "\x7f");
    assert_string_lit("\"\\u0080\"", "\xc2\x80");
    assert_string_lit("\"\\u00e9\\u00E9\"", "\xc3\xa9\xc3\xa9");
    assert_string_lit("\"\\u07ff\"", "\xdf\xbf");
    assert_string_lit("\"\\u0800\"", "\xe0\xa0\x80");
    assert_string_lit("\"\\u20AC\\u20ac\"", "\xe2\x82\xac\xe2\x82\xac");
    assert_string_lit("\"\\uD7FF\"", "\xed\x9f\xbf");
    assert_string_lit("\"\\uE000\"", "\xee\x80\x80");
    assert_string_lit("\"\\uFFFF\"", "\xef\xbf\xbf");
    assert_string_lit("\"x\\u0041y\"", "xAy");
}
END_TEST

START_TEST(surrogate_pairs_decode_to_4_bytes)
{
    assert_string_lit("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80");
    assert_string_lit("\"\\uD83D\\uDE00\"", "\xf0\x9f\x98\x80");
    assert_string_lit("\"\\uD800\\uDC00\"", "\xf0\x90\x80\x80");   /* U+10000 */
    assert_string_lit("\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf");   /* U+10FFFF */
    assert_string_lit("\"a\\ud83d\\ude00b\\ud83d\\ude01\"", "a\xf0\x9f\x98\x80" "b\xf0\x9f\x98\x81");
}
END_TEST

START_TEST(refuses_lone_surrogates)
{
    refused_because("\"\\ud800\"", "high surrogate");
    refused_because("\"\\uDBFF\"", "high surrogate");
    refused_because("\"\\ud800x\"", "high surrogate");
    refused_because("\"\\ud800\\u0041\"", "high surrogate");
    refused_because("\"\\ud800\\ud800\"", "high surrogate");
    refused_because("\"\\ud800\\n\"", "high surrogate");
    refused_because("\"\\ud800\\", "high surrogate");
    refused("\"\\ud800\\u12\"");
    refused_because("\"\\udc00\"", "lone low surrogate");
    refused_because("\"\\uDFFF\"", "lone low surrogate");
    refused_because("\"\\ude00\\ud83d\"", "lone low surrogate");
    refused_because(ut_q("{'\\udc00':1}"), "lone low surrogate");
}
END_TEST

START_TEST(refuses_invalid_escapes)
{
    static const char *const bodies[] = {
        "\"\\x41\"", "\"\\a\"", "\"\\'\"", "\"\\U0041\"", "\"\\0\"", "\"\\ \"", "\"\\e\"",
        "\"\\u\"", "\"\\u1\"", "\"\\u12\"", "\"\\u123\"", "\"\\u12G4\"", "\"\\u-123\"",
        "\"\\u 123\"", "\"\\", "\"\\u00", "\"\\\xc3\xa9\"",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bodies) / sizeof(*bodies); i++) {
        refused(bodies[i]);
    }
}
END_TEST

START_TEST(refuses_nul)
{
    refused_because("\"a\\u0000b\"", "\\u0000 is not allowed");
    refused_because(ut_q("{'a\\u0000':1}"), "\\u0000 is not allowed");
    refused_because(ut_q("{'a':'\\u0000'}"), "\\u0000 is not allowed");
    refused_lit_because("\"a\0b\"", "NUL character in a string");
    refused_lit_because("{\"a\0\":1}", "NUL character in a string");
    refused_lit("\0");
    refused_lit("\"a\"\0");
}
END_TEST

START_TEST(refuses_raw_control_characters)
{
    char body[4] = { '"', 0, '"', 0 };
    int c;

    for (c = 1; c < 0x20; c++) {
        body[1] = (char)c;
        refused_because(body, "control character in a string");
    }
    refused_because("{\"a\nb\":1}", "control character in a string");
    refused_because("[\"tab\there\"]", "control character in a string");
    assert_string_lit("\"\x7f\"", "\x7f");      /* DEL is not a control here */
}
END_TEST

START_TEST(refuses_unterminated_strings)
{
    refused_because("\"abc", "unterminated string");
    refused_because("\"abc\\\"", "unterminated string");
    refused_because("\"", "unterminated string");
    refused_because("[\"a]", "unterminated string");
    refused_because("{\"a:1}", "unterminated string");
}
END_TEST

START_TEST(raw_utf8_passes_through)
{
    /* 1, 2, 3 and 4 bytes, and the edges of each length */
    assert_string_lit("\"a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    assert_string_lit("\"\xc2\x80\xdf\xbf\"", "\xc2\x80\xdf\xbf");
    assert_string_lit("\"\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\"",
                      "\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf");
    assert_string_lit("\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"", "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf");
    assert_string_lit("\"\xef\xbb\xbf\"", "\xef\xbb\xbf");     /* a BOM inside a string */
}
END_TEST

START_TEST(string_lengths_count_bytes)
{
    const ub_jval *v = parsed("{\"cl\xc3\xa9\":\"a\\u00e9\\u20ac\\ud83d\\ude00\","
                              "\"\\u20ac\":\"a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}");

    ck_assert_uint_eq(member(v, 0)->key_len, 4);
    ck_assert_str_eq(member(v, 0)->key, "cl\xc3\xa9");
    ck_assert_uint_eq(member(v, 0)->value.len, 10);
    ck_assert_uint_eq(strlen(member(v, 0)->value.u.str), 10);
    ck_assert_uint_eq(member(v, 1)->key_len, 3);
    ck_assert_str_eq(member(v, 1)->key, "\xe2\x82\xac");
    ck_assert_uint_eq(member(v, 1)->value.len, 10);
    ck_assert_str_eq(member(v, 0)->value.u.str, member(v, 1)->value.u.str);
    ck_assert_uint_eq(parsed("\"\\n\\t\"")->len, 2);
    ck_assert_uint_eq(parsed("\"\"")->len, 0);
}
END_TEST

/* Each class of invalid UTF-8, inside a string, a key and outside strings. */
START_TEST(refuses_invalid_utf8)
{
    static const char *const bad[] = {
        "\x80", "\xbf", "\x80\x80",                 /* lone continuation bytes */
        "\xc0\x80", "\xc0\xaf", "\xc1\xbf",         /* overlong 2-byte */
        "\xe0\x80\x80", "\xe0\x9f\xbf",             /* overlong 3-byte */
        "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf",     /* overlong 4-byte */
        "\xed\xa0\x80", "\xed\xaf\xbf", "\xed\xb0\x80", "\xed\xbf\xbf", /* surrogates */
        "\xf4\x90\x80\x80", "\xf7\xbf\xbf\xbf",     /* above U+10FFFF */
        "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80", "\xfc\x84\x80\x80\x80\x80",
        "\xfe", "\xff",                             /* never in UTF-8 */
        "\xc3", "\xe2\x82", "\xf0\x9f\x98",         /* truncated */
        "\xc3\x41", "\xe2\x28\xa1", "\xe2\x82\x28", "\xf0\x9f\x98\x28", /* bad continuation */
        "\xc3\xc3\xa9", "\xe2\xe2\x82\xac",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        const char *in_string = apr_pstrcat(ut_pool, "\"a", bad[i], "b\"", NULL);
        const char *in_key = apr_pstrcat(ut_pool, "{\"", bad[i], "\":1}", NULL);

        refused_because(in_string, "invalid UTF-8");
        refused_because(in_key, "invalid UTF-8");
        refused(apr_pstrcat(ut_pool, "[1,", bad[i], "]", NULL));
        refused(bad[i]);
        /* cut by the end of the body */
        refused(apr_pstrcat(ut_pool, "\"", bad[i], NULL));
    }
    /* a valid sequence outside a string is no token either */
    refused("\xc3\xa9");
    refused("[\xe2\x82\xac]");
}
END_TEST

/* ---- duplicate keys ------------------------------------------------------------ */

START_TEST(refuses_duplicate_keys_small_object)
{
    refused_because(ut_q("{'a':1,'a':2}"), "duplicate object key");
    refused_because(ut_q("{'a':1,'b':2,'a':3}"), "duplicate object key");
    refused_because(ut_q("{'a':1,'b':2,'c':3,'c':4}"), "duplicate object key");
    refused_because(ut_q("{'':1,'':2}"), "duplicate object key");
    refused_because(ut_q("{'a':1,'\\u0061':2}"), "duplicate object key");   /* escaped */
    refused_because("{\"\xc3\xa9\":1,\"\\u00e9\":2}", "duplicate object key");
    refused_because(ut_q("[{'x':[{'a':1,'a':1}]}]"), "duplicate object key");  /* nested */
    refused_because(ut_q("{'a':{},'a':[]}"), "duplicate object key");
    refused_because(object_of(24, ",\"k23\":0"), "duplicate object key");  /* 25 keys */
    refused_because(object_of(23, ",\"k0\":0"), "duplicate object key");       /* 24 keys */
}
END_TEST

START_TEST(distinct_keys_accepted)
{
    const ub_jval *v = parsed(ut_q("{'a':1,'A':2,'ab':3,'a ':4,'':5,'b':{'a':6}}"));

    ck_assert_uint_eq(v->len, 6);
    parsed(ut_q("[{'a':1},{'a':2}]"));                  /* same key, other objects */
    parsed(ut_q("{'a':{'a':{'a':1}}}"));                /* same key, nested */
    ck_assert_uint_eq(parsed(object_of(24, ""))->len, 24);
    ck_assert_uint_eq(parsed(object_of(25, ""))->len, 25);
}
END_TEST

/* Over 24 keys, the keys are sorted to find a duplicate: anywhere. */
START_TEST(refuses_duplicate_keys_large_object)
{
    const ub_jval *v;
    apr_size_t i;

    refused_because(object_of(30, ",\"k0\":0"), "duplicate object key");     /* first, last */
    refused_because(object_of(30, ",\"k29\":0"), "duplicate object key");    /* adjacent */
    refused_because(object_of(30, ",\"k15\":0"), "duplicate object key");
    refused_because(object_of(100, ",\"k1\":0,\"k10\":0,\"k100\":0,\"k10\":1"), "duplicate object key");
    refused_because(object_of(40, ",\"\":1,\"z\":0,\"\":2"), "duplicate object key");
    refused_because(object_of(1000, ",\"k999\":0"), "duplicate object key");
    /* keys that are prefixes of each other are distinct; order is kept */
    v = parsed(object_of(100, ",\"k\":0,\"k1x\":0,\"\":0"));
    ck_assert_uint_eq(v->len, 103);
    for (i = 0; i < 100; i++) {
        ck_assert_str_eq(member(v, i)->key, apr_psprintf(ut_pool, "k%lu", (unsigned long)i));
        ck_assert_int_eq(member(v, i)->value.u.integer, (long long)i);
    }
    assert_key(member(v, 100), "k");
    assert_key(member(v, 101), "k1x");
    assert_key(member(v, 102), "");
}
END_TEST

/* ---- depth ------------------------------------------------------------------------ */

/* jansson counts every value as a level, the top one being 1; at most
 * UB_JDOC_MAX_DEPTH (2048). */
START_TEST(depth_limit_is_janssons)
{
    const ub_jval *v = parsed(nested(2048, ""));
    int d = 1;

    ck_assert_int_eq(UB_JDOC_MAX_DEPTH, 2048);
    while (v->len > 0) {
        v = item(v, 0);
        d++;
    }
    ck_assert_int_eq(d, 2048);
    parsed(nested(2047, "1"));
    parsed(nested(2047, "{}"));
    parsed(nested(2046, "{\"a\":1}"));
    parsed(apr_pstrcat(ut_pool, ut_repeat("{\"a\":", 2047), "{}", ut_repeat("}", 2047), NULL));

    refused_because(nested(2049, ""), "nesting too deep");
    refused_because(nested(2048, "1"), "nesting too deep");
    refused_because(nested(2048, "\"s\""), "nesting too deep");
    refused_because(nested(2048, "null"), "nesting too deep");
    refused_because(nested(2047, "{\"a\":1}"), "nesting too deep");
    refused_because(nested(2047, "{\"a\":[]}"), "nesting too deep");
    refused_because(apr_pstrcat(ut_pool, ut_repeat("{\"a\":", 2048), "{}", ut_repeat("}", 2048), NULL),
                    "nesting too deep");
    refused_because(ut_repeat("[", 100000), "nesting too deep");
}
END_TEST

START_TEST(depth_is_nesting_not_count)
{
    /* many containers side by side, each shallow */
    const ub_jval *v = parsed(apr_pstrcat(ut_pool, "[", ut_repeat("[[1]],", 5000), "[]]", NULL));

    ck_assert_uint_eq(v->len, 5001);
    parsed(apr_pstrcat(ut_pool, "[", nested(2046, "1"), ",", nested(2046, "2"), "]", NULL));
}
END_TEST

/* ---- the message ------------------------------------------------------------------- */

START_TEST(message_names_line_and_column)
{
    ub_problem p;

    p = refused("[\n {\"a\": 1,}\n]");
    ck_assert_str_eq(p.message,
                     "the body is not valid JSON: string or '}' expected (line 2, column 10)");
    p = refused("[1,2,x]");
    ck_assert_str_eq(p.message, "the body is not valid JSON: invalid token (line 1, column 6)");
    p = refused("[\r\n1\r\n,]");
    ck_assert_str_eq(p.message, "the body is not valid JSON: invalid token (line 3, column 2)");
    p = refused("");
    ck_assert_str_eq(p.message,
                     "the body is not valid JSON: unexpected end of input (line 1, column 1)");
    p = refused("{\"a\":1,\n\n\"a\":2}");
    ck_assert_str_eq(p.message,
                     "the body is not valid JSON: duplicate object key (line 3, column 7)");
    p = refused("[1] 2");
    ck_assert_str_eq(p.message,
                     "the body is not valid JSON: end of input expected after the document "
                     "(line 1, column 5)");
    p = refused("\n  \"ab\x01\"");
    ck_assert_str_eq(p.message,
                     "the body is not valid JSON: control character in a string (line 2, column 6)");
    p = refused("9223372036854775808");
    ck_assert_str_eq(p.message, "the body is not valid JSON: integer too big (line 1, column 1)");
    ck_assert_str_eq(p.description, "Send a JSON document encoded in UTF-8, "
                     "without duplicate keys or NUL characters.");
}
END_TEST

/* ---- ub_jobj_get --------------------------------------------------------------------- */

START_TEST(jobj_get)
{
    const ub_jval *v = parsed(ut_q("{'a':1,'ab':'x','':null,'caf\\u00e9':[true],'b':{'a':2}}"));
    const ub_jval *arr = parsed("[1,2]");

    ck_assert_ptr_eq(ub_jobj_get(v, "a"), &member(v, 0)->value);
    ck_assert_int_eq(ub_jobj_get(v, "a")->u.integer, 1);
    ck_assert_str_eq(ub_jobj_get(v, "ab")->u.str, "x");
    ck_assert_ptr_eq(ub_jobj_get(v, ""), &member(v, 2)->value);
    ck_assert(ub_j_is(ub_jobj_get(v, ""), UB_J_NULL));
    ck_assert(ub_j_is(ub_jobj_get(v, "caf\xc3\xa9"), UB_J_ARRAY));
    ck_assert_int_eq(ub_jobj_get(ub_jobj_get(v, "b"), "a")->u.integer, 2);
    /* absent: no such key, a prefix or extension of a key, another case */
    ck_assert_ptr_null(ub_jobj_get(v, "c"));
    ck_assert_ptr_null(ub_jobj_get(v, "abc"));
    ck_assert_ptr_null(ub_jobj_get(v, "A"));
    ck_assert_ptr_null(ub_jobj_get(v, "caf"));
    ck_assert(ub_j_missing(ub_jobj_get(v, "c")));
    ck_assert(!ub_j_is(ub_jobj_get(v, "c"), UB_J_NULL));
    /* not an object */
    ck_assert_ptr_null(ub_jobj_get(NULL, "a"));
    ck_assert_ptr_null(ub_jobj_get(arr, "a"));
    ck_assert_ptr_null(ub_jobj_get(parsed("\"a\""), "a"));
    ck_assert_ptr_null(ub_jobj_get(parsed("null"), "a"));
    ck_assert_ptr_null(ub_jobj_get(parsed("{}"), "a"));
    ck_assert_ptr_null(ub_jobj_get(parsed("{}"), ""));
}
END_TEST

/* ---- limits ----------------------------------------------------------- */

static const ub_jval *parsed_limited(const char *body, apr_size_t max_items,
                                     apr_size_t max_values)
{
    ub_jdoc_limits lim = { max_items, max_values };
    ub_problem p = { 0 };
    apr_size_t len = strlen(body);
    const ub_jval *v = ub_jdoc_parse_limited(ut_pool, exact(body, len), len, &lim, &p);

    ck_assert_msg(v != NULL, "refused %s: %s", body, p.message ? p.message : "?");
    return v;
}

static ub_problem refused_limited(const char *body, apr_size_t max_items,
                                  apr_size_t max_values)
{
    ub_jdoc_limits lim = { max_items, max_values };
    ub_problem p = { 0 };
    apr_size_t len = strlen(body);

    ck_assert_msg(ub_jdoc_parse_limited(ut_pool, exact(body, len), len, &lim, &p) == NULL,
                  "accepted %s", body);
    ck_assert_int_eq(p.status, 400);
    ck_assert_ptr_nonnull(p.message);
    ck_assert_ptr_nonnull(p.description);
    return p;
}

START_TEST(top_level_entries_counted_while_parsing)
{
    ub_problem p;

    ck_assert_uint_eq(parsed_limited("[1,2,3]", 3, 0)->len, 3);
    p = refused_limited("[1,2,3]", 2, 0);
    ck_assert_str_eq(p.code, UB_JDOC_TOO_MANY_ITEMS);
    ck_assert_msg(strstr(p.message, "more than 2") != NULL, "%s", p.message);
    /* the third entry and what follows are never read: not even that
     * the rest is not JSON */
    ck_assert_str_eq(refused_limited("[{},{}, no JSON here", 2, 0).code,
                     UB_JDOC_TOO_MANY_ITEMS);
    ck_assert_str_eq(refused_limited("[{},{}, [[[\"\xff", 2, 0).code,
                     UB_JDOC_TOO_MANY_ITEMS);
    /* at the limit, the rest is still read whole */
    ck_assert_str_eq(refused_limited("[{},{}] x", 2, 0).code, "invalid_json");
    /* only the top-level array: nested ones and objects are not counted */
    ck_assert_uint_eq(parsed_limited("[[1,2,3]]", 1, 0)->u.items[0].len, 3);
    ck_assert_uint_eq(parsed_limited("{\"a\":1,\"b\":2,\"c\":3}", 1, 0)->len, 3);
    ck_assert_uint_eq(parsed_limited("[]", 1, 0)->len, 0);
}
END_TEST

START_TEST(values_counted_at_any_depth)
{
    ub_problem p;

    /* [0,0] is 3 values: the array and its two items */
    ck_assert_uint_eq(parsed_limited("[0,0]", 0, 3)->len, 2);
    p = refused_limited("[0,0]", 0, 2);
    ck_assert_str_eq(p.code, UB_JDOC_TOO_MANY_VALUES);
    ck_assert_msg(strstr(p.message, "more than 2 JSON values") != NULL, "%s", p.message);
    /* containers count, at any depth, in objects too */
    ck_assert_ptr_nonnull(parsed_limited("{\"a\":[[{}]]}", 0, 4));
    ck_assert_str_eq(refused_limited("{\"a\":[[{}]]}", 0, 3).code, UB_JDOC_TOO_MANY_VALUES);
    /* the parse stops there: what follows is not read */
    ck_assert_str_eq(refused_limited("[0,0,0,\"\xff", 0, 3).code, UB_JDOC_TOO_MANY_VALUES);
    /* no limit given: none */
    ck_assert_uint_eq(parsed_limited(apr_pstrcat(ut_pool, "[",
                                                 ut_repeat("[0,0,0,0,0,0,0,0,0,0],", 1000),
                                                 "0]", NULL), 0, 0)->len, 1001);
}
END_TEST

Suite *jdoc_suite(void)
{
    Suite *s = suite_create("jdoc");
    TCase *tc;

    tc = ut_tcase("grammar");
    tcase_add_test(tc, top_level_scalars);
    tcase_add_test(tc, nested_containers_keep_document_order);
    tcase_add_test(tc, object_keys_are_found_whole);
    tcase_add_test(tc, array_items_in_order);
    tcase_add_test(tc, many_items_and_members);
    tcase_add_test(tc, empty_containers);
    tcase_add_test(tc, refuses_broken_structure);
    tcase_add_test(tc, refuses_trailing_garbage);
    tcase_add_test(tc, reads_only_len_bytes);
    tcase_add_test(tc, whitespace_space_tab_cr_lf_anywhere);
    tcase_add_test(tc, refuses_other_whitespace);
    tcase_add_test(tc, literals);
    tcase_add_test(tc, refuses_broken_literals);
    suite_add_tcase(s, tc);

    tc = ut_tcase("numbers");
    tcase_add_test(tc, integers);
    tcase_add_test(tc, refuses_integer_overflow);
    tcase_add_test(tc, reals);
    tcase_add_test(tc, reals_underflow_is_fine);
    tcase_add_test(tc, refuses_real_overflow);
    tcase_add_test(tc, long_reals_read_whole);
    tcase_add_test(tc, refuses_malformed_numbers);
    suite_add_tcase(s, tc);

    tc = ut_tcase("strings");
    tcase_add_test(tc, simple_escapes);
    tcase_add_test(tc, unicode_escapes_bmp);
    tcase_add_test(tc, surrogate_pairs_decode_to_4_bytes);
    tcase_add_test(tc, refuses_lone_surrogates);
    tcase_add_test(tc, refuses_invalid_escapes);
    tcase_add_test(tc, refuses_nul);
    tcase_add_test(tc, refuses_raw_control_characters);
    tcase_add_test(tc, refuses_unterminated_strings);
    tcase_add_test(tc, raw_utf8_passes_through);
    tcase_add_test(tc, string_lengths_count_bytes);
    tcase_add_test(tc, refuses_invalid_utf8);
    suite_add_tcase(s, tc);

    tc = ut_tcase("keys");
    tcase_add_test(tc, refuses_duplicate_keys_small_object);
    tcase_add_test(tc, distinct_keys_accepted);
    tcase_add_test(tc, refuses_duplicate_keys_large_object);
    tcase_add_test(tc, jobj_get);
    suite_add_tcase(s, tc);

    tc = ut_tcase("depth_and_messages");
    tcase_add_test(tc, depth_limit_is_janssons);
    tcase_add_test(tc, depth_is_nesting_not_count);
    tcase_add_test(tc, message_names_line_and_column);
    suite_add_tcase(s, tc);

    tc = ut_tcase("limits");
    tcase_add_test(tc, top_level_entries_counted_while_parsing);
    tcase_add_test(tc, values_counted_at_any_depth);
    suite_add_tcase(s, tc);
    return s;
}
