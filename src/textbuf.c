/*
 * textbuf.c: see textbuf.h.
 */
#include <string.h>
#include <apr_strings.h>
#include "textbuf.h"
#include "json.h"

void ub_tb_init(ub_textbuf *tb, apr_pool_t *pool, apr_size_t cap)
{
    tb->pool = pool;
    tb->cap = cap < 64 ? 64 : cap;
    tb->data = apr_palloc(pool, tb->cap);
    tb->len = 0;
}

/* Room for n more bytes and a NUL. */
static void reserve(ub_textbuf *tb, apr_size_t n)
{
    if (tb->len + n + 1 > tb->cap) {
        apr_size_t cap = tb->cap * 2;
        char *grown;

        while (tb->len + n + 1 > cap) {
            cap *= 2;
        }
        grown = apr_palloc(tb->pool, cap);
        memcpy(grown, tb->data, tb->len);
        tb->data = grown;
        tb->cap = cap;
    }
}

void ub_tb_put(ub_textbuf *tb, const char *s, apr_size_t n)
{
    reserve(tb, n);
    memcpy(tb->data + tb->len, s, n);
    tb->len += n;
}

void ub_tb_puts(ub_textbuf *tb, const char *s)
{
    ub_tb_put(tb, s, strlen(s));
}

void ub_tb_putc(ub_textbuf *tb, char c)
{
    reserve(tb, 1);
    tb->data[tb->len++] = c;
}

void ub_tb_int(ub_textbuf *tb, long long v)
{
    char digits[24];
    int n = apr_snprintf(digits, sizeof(digits), "%" APR_INT64_T_FMT, (apr_int64_t)v);

    ub_tb_put(tb, digits, (apr_size_t)n);
}

static void tb_sink(void *tb, const char *s, apr_size_t n)
{
    ub_tb_put((ub_textbuf *)tb, s, n);
}

void ub_tb_json_string(ub_textbuf *tb, const char *s)
{
    if (s == NULL) {
        ub_tb_put(tb, "null", 4);
        return;
    }
    ub_json_quote(s, tb_sink, tb);
}

/* s with each '"' written as quote and each '\\' as backslash (n bytes
 * each): the escapes of one level of quoting, or of two. */
static void put_escaped_text(ub_textbuf *tb, const char *s, const char *quote,
                             const char *backslash, apr_size_t n)
{
    while (*s) {
        const char *run = s;

        while (*s && *s != '"' && *s != '\\') {
            s++;
        }
        ub_tb_put(tb, run, (apr_size_t)(s - run));
        if (*s == '\0') {
            break;
        }
        ub_tb_put(tb, *s == '"' ? quote : backslash, n);
        s++;
    }
}

void ub_tb_array_element(ub_textbuf *tb, const char *s)
{
    if (s == NULL) {
        ub_tb_put(tb, "NULL", 4);
        return;
    }
    ub_tb_putc(tb, '"');
    put_escaped_text(tb, s, "\\\"", "\\\\", 2);
    ub_tb_putc(tb, '"');
}

void ub_tb_row_field(ub_textbuf *tb, const char *s)
{
    if (s == NULL) {
        return;
    }
    /* the row's quotes and escapes (\" and \\), each character of them
     * escaped again for the array */
    ub_tb_put(tb, "\\\"", 2);
    put_escaped_text(tb, s, "\\\\\\\"", "\\\\\\\\", 4);
    ub_tb_put(tb, "\\\"", 2);
}

const char *ub_tb_text(ub_textbuf *tb)
{
    reserve(tb, 0);
    tb->data[tb->len] = '\0';
    return tb->data;
}
