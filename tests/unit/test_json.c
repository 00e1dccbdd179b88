/*
 * test_json.c: src/json.c, jansson documents on pools and the brigade
 * writer.
 */
#include <limits.h>
#include <string.h>
#include <apr_strings.h>
#include "unit.h"
#include "json.h"
#include "textbuf.h"

/* ---- pool-owned documents -------------------------------------------- */

START_TEST(own_releases_document_with_pool)
{
    apr_pool_t *sub;
    json_t *doc = json_object();

    json_incref(doc);                       /* keep it alive to look at it */
    ck_assert_int_eq(apr_pool_create(&sub, ut_pool), APR_SUCCESS);
    ck_assert_ptr_eq(ub_json_own(sub, doc), doc);
    ck_assert_uint_eq(doc->refcount, 2);
    apr_pool_destroy(sub);
    ck_assert_uint_eq(doc->refcount, 1);
    json_decref(doc);
}
END_TEST

START_TEST(own_passes_null_through)
{
    ck_assert_ptr_null(ub_json_own(ut_pool, NULL));
}
END_TEST

START_TEST(dump_is_compact)
{
    json_t *doc = ut_parse("{ \"a\" : [ 1 , 2 ] , \"b\" : null }");

    ck_assert_str_eq(ub_json_dump(ut_pool, doc), "{\"a\":[1,2],\"b\":null}");
}
END_TEST

/* ---- writer ---------------------------------------------------------- */

/* The writer's output, with its status asserted. */
static const char *written(ub_jw *w, apr_status_t want)
{
    ck_assert_int_eq(ub_jw_status(w), want);
    return ut_flatten(w->bb);
}

START_TEST(writer_empty_object_and_array)
{
    ub_jw w;

    ub_jw_init(&w, ut_brigade());
    ub_jw_array_begin(&w);
    ub_jw_object_begin(&w);
    ub_jw_object_end(&w);
    ub_jw_array_begin(&w);
    ub_jw_array_end(&w);
    ub_jw_array_end(&w);
    ck_assert_str_eq(written(&w, APR_SUCCESS), "[{},[]]");
}
END_TEST

START_TEST(writer_places_commas_between_members)
{
    ub_jw w;

    ub_jw_init(&w, ut_brigade());
    ub_jw_object_begin(&w);
    ub_jw_kv_int(&w, "a", 1);
    ub_jw_kv_string(&w, "b", "x");
    ub_jw_kv_bool(&w, "c", 0);
    ub_jw_object_end(&w);
    ck_assert_str_eq(written(&w, APR_SUCCESS), "{\"a\":1,\"b\":\"x\",\"c\":false}");
}
END_TEST

START_TEST(writer_places_commas_in_nested_arrays_and_objects)
{
    ub_jw w;

    ub_jw_init(&w, ut_brigade());
    ub_jw_object_begin(&w);
    ub_jw_kv_int(&w, "a", 1);
    ub_jw_key(&w, "b");
    ub_jw_array_begin(&w);
    ub_jw_int(&w, 1);
    ub_jw_int(&w, 2);
    ub_jw_object_begin(&w);
    ub_jw_kv_bool(&w, "c", 1);
    ub_jw_key(&w, "d");
    ub_jw_array_begin(&w);
    ub_jw_array_begin(&w);
    ub_jw_array_end(&w);
    ub_jw_array_begin(&w);
    ub_jw_null(&w);
    ub_jw_array_end(&w);
    ub_jw_array_end(&w);
    ub_jw_object_end(&w);
    ub_jw_null(&w);
    ub_jw_array_end(&w);
    ub_jw_kv_string(&w, "e", "x");
    ub_jw_object_end(&w);
    ck_assert_str_eq(written(&w, APR_SUCCESS),
                     "{\"a\":1,\"b\":[1,2,{\"c\":true,\"d\":[[],[null]]},null],\"e\":\"x\"}");
}
END_TEST

START_TEST(writer_places_commas_between_objects_in_array)
{
    ub_jw w;
    int i;

    ub_jw_init(&w, ut_brigade());
    ub_jw_array_begin(&w);
    for (i = 0; i < 3; i++) {
        ub_jw_object_begin(&w);
        ub_jw_kv_int(&w, "i", i);
        ub_jw_object_end(&w);
    }
    ub_jw_array_end(&w);
    ck_assert_str_eq(written(&w, APR_SUCCESS), "[{\"i\":0},{\"i\":1},{\"i\":2}]");
}
END_TEST

/* A string as the writer writes it, alone in an array. */
static const char *string_written(const char *s)
{
    ub_jw w;
    const char *out;

    ub_jw_init(&w, ut_brigade());
    ub_jw_array_begin(&w);
    ub_jw_string(&w, s);
    ub_jw_array_end(&w);
    out = written(&w, APR_SUCCESS);
    /* Whatever it is, it reads back as what was written. */
    ck_assert_str_eq(json_string_value(json_array_get(ut_parse(out), 0)), s);
    return out;
}

START_TEST(writer_escapes_quotes)
{
    ck_assert_str_eq(string_written("say \"hi\""), "[\"say \\\"hi\\\"\"]");
}
END_TEST

START_TEST(writer_escapes_backslashes)
{
    ck_assert_str_eq(string_written("C:\\dir\\"), "[\"C:\\\\dir\\\\\"]");
}
END_TEST

START_TEST(writer_escapes_newline_return_tab)
{
    ck_assert_str_eq(string_written("a\nb\rc\td"), "[\"a\\nb\\rc\\td\"]");
}
END_TEST

START_TEST(writer_escapes_other_control_chars_as_u00xx)
{
    ck_assert_str_eq(string_written("\x01"), "[\"\\u0001\"]");
    ck_assert_str_eq(string_written("a\x1f" "b"), "[\"a\\u001fb\"]");
    ck_assert_str_eq(string_written("\b\f"), "[\"\\u0008\\u000c\"]");
}
END_TEST

START_TEST(writer_passes_utf8_through)
{
    const char *s = "Zo\xc3\xab \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80";

    ck_assert_str_eq(string_written(s), apr_pstrcat(ut_pool, "[\"", s, "\"]", NULL));
}
END_TEST

START_TEST(writer_escapes_keys)
{
    ub_jw w;

    ub_jw_init(&w, ut_brigade());
    ub_jw_object_begin(&w);
    ub_jw_kv_int(&w, "a\"b\\c\n", 1);
    ub_jw_object_end(&w);
    ck_assert_str_eq(written(&w, APR_SUCCESS), "{\"a\\\"b\\\\c\\n\":1}");
}
END_TEST

/* Keys and strings of every length and at every offset of the 32 KB
 * chunk, with and without characters to escape, a string longer than a
 * chunk among them: read back by jansson, each is what was written. */
START_TEST(writer_strings_across_chunk_boundaries)
{
    ub_jw w;
    json_t *doc;
    char *big = apr_palloc(ut_pool, 40001);
    int i;

    memset(big, 'y', 40000);
    big[40000] = '\0';
    ub_jw_init(&w, ut_brigade());
    ub_jw_array_begin(&w);
    for (i = 0; i < 2000; i++) {
        int len = (i * 7) % 301;
        char *v = apr_palloc(ut_pool, (apr_size_t)len + 1);

        memset(v, 'x', (apr_size_t)len);
        v[len] = '\0';
        if (len > 2 && i % 5 == 0) {
            v[len / 2] = '"';
            v[1] = '\n';
        }
        ub_jw_object_begin(&w);
        ub_jw_kv_string(&w, apr_psprintf(ut_pool, "k%d%s", i, i % 3 ? "" : "\\"), v);
        ub_jw_kv_int(&w, "n", -i);
        if (i == 1000) {
            ub_jw_kv_string(&w, "big", big);
        }
        ub_jw_object_end(&w);
    }
    ub_jw_array_end(&w);
    doc = ut_parse(written(&w, APR_SUCCESS));
    ck_assert_uint_eq(json_array_size(doc), 2000);
    for (i = 0; i < 2000; i++) {
        json_t *o = json_array_get(doc, (size_t)i);
        const char *k = apr_psprintf(ut_pool, "k%d%s", i, i % 3 ? "" : "\\");
        int len = (i * 7) % 301;
        const char *v = json_string_value(json_object_get(o, k));

        ck_assert_ptr_nonnull(v);
        ck_assert_int_eq((int)strlen(v), len);
        if (len > 2 && i % 5 == 0) {
            ck_assert_int_eq(v[len / 2], '"');
            ck_assert_int_eq(v[1], '\n');
        }
        ck_assert_int_eq(json_integer_value(json_object_get(o, "n")), -i);
    }
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(doc, 1000), "big")), big);
}
END_TEST

START_TEST(writer_writes_null_for_null_string)
{
    ub_jw w;

    ub_jw_init(&w, ut_brigade());
    ub_jw_object_begin(&w);
    ub_jw_kv_string(&w, "a", NULL);
    ub_jw_key(&w, "b");
    ub_jw_string(&w, NULL);
    ub_jw_object_end(&w);
    ck_assert_str_eq(written(&w, APR_SUCCESS), "{\"a\":null,\"b\":null}");
}
END_TEST

START_TEST(writer_writes_integer_extremes)
{
    ub_jw w;

    ub_jw_init(&w, ut_brigade());
    ub_jw_array_begin(&w);
    ub_jw_int(&w, 0);
    ub_jw_int(&w, -1);
    ub_jw_int(&w, LLONG_MAX);
    ub_jw_int(&w, LLONG_MIN);
    ub_jw_array_end(&w);
    ck_assert_str_eq(written(&w, APR_SUCCESS),
                     "[0,-1,9223372036854775807,-9223372036854775808]");
}
END_TEST

START_TEST(writer_inserts_raw_json_as_a_value)
{
    ub_jw w;

    ub_jw_init(&w, ut_brigade());
    ub_jw_object_begin(&w);
    ub_jw_key(&w, "data");
    ub_jw_raw(&w, "[{\"x\":1},{\"y\":\"a,b\"}]");
    ub_jw_kv_int(&w, "n", 2);
    ub_jw_object_end(&w);
    ck_assert_str_eq(written(&w, APR_SUCCESS),
                     "{\"data\":[{\"x\":1},{\"y\":\"a,b\"}],\"n\":2}");
}
END_TEST

START_TEST(writer_places_commas_around_raw_array_items)
{
    ub_jw w;

    ub_jw_init(&w, ut_brigade());
    ub_jw_array_begin(&w);
    ub_jw_int(&w, 1);
    ub_jw_raw(&w, "{\"x\":[1,2]}");
    ub_jw_int(&w, 2);
    ub_jw_array_end(&w);
    ck_assert_str_eq(written(&w, APR_SUCCESS), "[1,{\"x\":[1,2]},2]");
}
END_TEST

START_TEST(writer_status_einval_on_unclosed_object)
{
    ub_jw w;

    ub_jw_init(&w, ut_brigade());
    ub_jw_object_begin(&w);
    ub_jw_kv_int(&w, "a", 1);
    ck_assert_int_eq(ub_jw_status(&w), APR_EINVAL);
}
END_TEST

START_TEST(writer_status_einval_on_unclosed_array)
{
    ub_jw w;

    ub_jw_init(&w, ut_brigade());
    ub_jw_array_begin(&w);
    ub_jw_array_begin(&w);
    ub_jw_array_end(&w);
    ck_assert_int_eq(ub_jw_status(&w), APR_EINVAL);
}
END_TEST

START_TEST(writer_status_einval_on_close_without_open)
{
    ub_jw w;

    ub_jw_init(&w, ut_brigade());
    ub_jw_array_begin(&w);
    ub_jw_array_end(&w);
    ub_jw_array_end(&w);
    ck_assert_int_eq(ub_jw_status(&w), APR_EINVAL);
}
END_TEST

START_TEST(writer_status_einval_on_key_without_value)
{
    ub_jw w;

    ub_jw_init(&w, ut_brigade());
    ub_jw_object_begin(&w);
    ub_jw_key(&w, "a");
    ub_jw_object_end(&w);
    ck_assert_int_eq(ub_jw_status(&w), APR_EINVAL);
}
END_TEST

START_TEST(writer_status_success_at_max_depth)
{
    ub_jw w;
    int i;

    ub_jw_init(&w, ut_brigade());
    for (i = 0; i < UB_JW_MAX_DEPTH; i++) {
        ub_jw_array_begin(&w);
    }
    for (i = 0; i < UB_JW_MAX_DEPTH; i++) {
        ub_jw_array_end(&w);
    }
    ck_assert_int_eq(ub_jw_status(&w), APR_SUCCESS);
}
END_TEST

START_TEST(writer_status_einval_past_max_depth)
{
    ub_jw w;
    int i;

    ub_jw_init(&w, ut_brigade());
    for (i = 0; i <= UB_JW_MAX_DEPTH; i++) {
        ub_jw_array_begin(&w);
    }
    for (i = 0; i <= UB_JW_MAX_DEPTH; i++) {
        ub_jw_array_end(&w);
    }
    ck_assert_int_eq(ub_jw_status(&w), APR_EINVAL);
}
END_TEST

START_TEST(writer_writes_nothing_after_a_failure)
{
    ub_jw w;

    ub_jw_init(&w, ut_brigade());
    ub_jw_array_begin(&w);
    ub_jw_array_end(&w);
    ub_jw_object_end(&w);                   /* the failure */
    ub_jw_array_begin(&w);
    ub_jw_string(&w, "more");
    ub_jw_array_end(&w);
    ck_assert_str_eq(written(&w, APR_EINVAL), "[]");
}
END_TEST

/* ---- the one escaper, through its two sinks ---------------------------- */

/* The store's JSON text (textbuf) quotes a string to the byte as the
 * response writer does: one escaper, whichever writer holds it. */
START_TEST(textbuf_json_strings_are_the_writers)
{
    static const char *const s[] = { "plain", "say \"hi\"", "C:\\dir\\",
        "a\nb\rc\td", "\x01\x1f\b\f", "Zo\xc3\xab \xf0\x9f\x98\x80", "" };
    size_t i;

    for (i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
        ub_textbuf tb;

        ub_tb_init(&tb, ut_pool, 8);
        ub_tb_putc(&tb, '[');
        ub_tb_json_string(&tb, s[i]);
        ub_tb_putc(&tb, ']');
        ck_assert_str_eq(ub_tb_text(&tb), string_written(s[i]));
    }
}
END_TEST

START_TEST(textbuf_json_string_null_is_null)
{
    ub_textbuf tb;

    ub_tb_init(&tb, ut_pool, 8);
    ub_tb_json_string(&tb, NULL);
    ck_assert_str_eq(ub_tb_text(&tb), "null");
}
END_TEST

Suite *json_suite(void)
{
    Suite *s = suite_create("json");
    TCase *tc;

    tc = ut_tcase("documents");
    tcase_add_test(tc, own_releases_document_with_pool);
    tcase_add_test(tc, own_passes_null_through);
    tcase_add_test(tc, dump_is_compact);
    suite_add_tcase(s, tc);

    tc = ut_tcase("writer");
    tcase_add_test(tc, writer_empty_object_and_array);
    tcase_add_test(tc, writer_places_commas_between_members);
    tcase_add_test(tc, writer_places_commas_in_nested_arrays_and_objects);
    tcase_add_test(tc, writer_places_commas_between_objects_in_array);
    tcase_add_test(tc, writer_escapes_quotes);
    tcase_add_test(tc, writer_escapes_backslashes);
    tcase_add_test(tc, writer_escapes_newline_return_tab);
    tcase_add_test(tc, writer_escapes_other_control_chars_as_u00xx);
    tcase_add_test(tc, writer_passes_utf8_through);
    tcase_add_test(tc, writer_escapes_keys);
    tcase_add_test(tc, writer_strings_across_chunk_boundaries);
    tcase_add_test(tc, writer_writes_null_for_null_string);
    tcase_add_test(tc, writer_writes_integer_extremes);
    tcase_add_test(tc, writer_inserts_raw_json_as_a_value);
    tcase_add_test(tc, writer_places_commas_around_raw_array_items);
    tcase_add_test(tc, writer_status_einval_on_unclosed_object);
    tcase_add_test(tc, writer_status_einval_on_unclosed_array);
    tcase_add_test(tc, writer_status_einval_on_close_without_open);
    tcase_add_test(tc, writer_status_einval_on_key_without_value);
    tcase_add_test(tc, writer_status_success_at_max_depth);
    tcase_add_test(tc, writer_status_einval_past_max_depth);
    tcase_add_test(tc, writer_writes_nothing_after_a_failure);
    suite_add_tcase(s, tc);

    tc = ut_tcase("escaper");
    tcase_add_test(tc, textbuf_json_strings_are_the_writers);
    tcase_add_test(tc, textbuf_json_string_null_is_null);
    suite_add_tcase(s, tc);

    return s;
}
