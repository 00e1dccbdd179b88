/*
 * textbuf.h: a growable text buffer in pool memory, with the escapings
 * the store's inputs need (JSON strings, PostgreSQL array elements).
 *
 * Growth doubles, so a buffer of n bytes costs at most 2n of its pool
 * whatever the number of appends; an initial size near the final one
 * (the request body's) avoids growth altogether.
 */
#ifndef UB_TEXTBUF_H
#define UB_TEXTBUF_H

#include <apr_pools.h>

typedef struct {
    apr_pool_t *pool;
    char *data;
    apr_size_t len, cap;
} ub_textbuf;

void ub_tb_init(ub_textbuf *tb, apr_pool_t *pool, apr_size_t cap);
void ub_tb_put(ub_textbuf *tb, const char *s, apr_size_t n);
void ub_tb_puts(ub_textbuf *tb, const char *s);
void ub_tb_putc(ub_textbuf *tb, char c);
void ub_tb_int(ub_textbuf *tb, long long v);
/* s as a quoted JSON string (s is valid UTF-8; json.h's ub_json_quote, the
 * escaper the response writer uses too), or null when s is NULL. */
void ub_tb_json_string(ub_textbuf *tb, const char *s);
/* s as a quoted element of a PostgreSQL array literal, or NULL. */
void ub_tb_array_element(ub_textbuf *tb, const char *s);
/* s as a field of a row literal that is itself an element of an array
 * literal, {"(field,field,...)",...}: quoted for the row, and the row
 * quoted for the array, so that '"' and '\\' are escaped twice; nothing (an
 * empty field, which the row reads as NULL) when s is NULL. */
void ub_tb_row_field(ub_textbuf *tb, const char *s);
/* The text so far, NUL-terminated (the buffer stays usable). */
const char *ub_tb_text(ub_textbuf *tb);

#endif
