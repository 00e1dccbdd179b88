/*
 * store_rows.h: the store's input for PUT /users (one PostgreSQL array
 * literal per column, see ub_put_batch_store_input) read back into one JSON
 * object per record, keyed by column name, so that unit tests and the fuzz
 * target check what PostgreSQL would read. Header-only: both include it.
 *
 * The literal grammar read here is the subset the writer produces:
 * {elem,elem,...} with each element NULL, a bare token (numbers, t, f) or
 * a double-quoted string with backslash escapes.
 */
#ifndef UB_TEST_STORE_ROWS_H
#define UB_TEST_STORE_ROWS_H

#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "batch.h"

static const char *const ub_test_store_columns[UB_PUT_COLUMNS] = {
    "idx", "user_name", "email", "first_name", "middle_name", "last_name",
    "phone", "department", "location", "program_admin_role", "locked_out",
    "roles", "access_automation", "access_certification", "access_complete",
    "access_operational_matching", "expected_version"
};

/* The elements of one literal as JSON: strings, or null for NULL; bare
 * tokens come as strings too. NULL when the literal is malformed. */
static json_t *ub_test_array_elements(const char *s)
{
    json_t *out = json_array();
    size_t len = strlen(s);
    char *buf = malloc(len + 1);

    if (buf == NULL || len < 2 || s[0] != '{' || s[len - 1] != '}') {
        goto bad;
    }
    s++;
    if (*s == '}') {
        free(buf);
        return out;
    }
    for (;;) {
        size_t n = 0;

        if (*s == '"') {
            for (s++; *s && *s != '"'; s++) {
                if (*s == '\\' && s[1] != '\0') {
                    s++;
                }
                buf[n++] = *s;
            }
            if (*s++ != '"') {
                goto bad;
            }
            buf[n] = '\0';
            json_array_append_new(out, json_string(buf));
        }
        else {
            while (*s && *s != ',' && *s != '}') {
                buf[n++] = *s++;
            }
            buf[n] = '\0';
            if (n == 0) {
                goto bad;
            }
            json_array_append_new(out, strcmp(buf, "NULL") == 0 ? json_null()
                                                                : json_string(buf));
        }
        if (*s == ',') {
            s++;
            continue;
        }
        if (*s == '}' && s[1] == '\0') {
            break;
        }
        goto bad;
    }
    free(buf);
    return out;
bad:
    free(buf);
    json_decref(out);
    return NULL;
}

/* One value of a column, typed as the column is. */
static json_t *ub_test_store_value(int column, json_t *elem)
{
    const char *s = json_string_value(elem);

    if (s == NULL) {
        return json_null();
    }
    switch (column) {
    case UB_PUT_IDX:
    case UB_PUT_EXPECTED_VERSION:
        return json_integer(strtoll(s, NULL, 10));
    case UB_PUT_LOCKED_OUT:
    case UB_PUT_ACCESS_AUTOMATION:
    case UB_PUT_ACCESS_CERTIFICATION:
    case UB_PUT_ACCESS_COMPLETE:
    case UB_PUT_ACCESS_OPERATIONAL_MATCHING:
        return strcmp(s, "t") == 0 ? json_true() : strcmp(s, "f") == 0 ? json_false() : NULL;
    case UB_PUT_ROLES:
        return json_loads(s, 0, NULL);
    default:
        return json_string(s);
    }
}

/* The records as a JSON array of objects, or NULL when a column is
 * malformed or the columns disagree on the count. */
static json_t *ub_test_store_rows(const ub_put_store_input *in)
{
    json_t *cols[UB_PUT_COLUMNS], *rows = NULL;
    int c;
    size_t k, n = 0;

    for (c = 0; c < UB_PUT_COLUMNS; c++) {
        cols[c] = ub_test_array_elements(in->column[c]);
        if (cols[c] == NULL || (c > 0 && json_array_size(cols[c]) != n)) {
            goto done;
        }
        n = json_array_size(cols[c]);
    }
    if ((int)n != in->count) {
        goto done;
    }
    rows = json_array();
    for (k = 0; k < n; k++) {
        json_t *row = json_object();

        for (c = 0; c < UB_PUT_COLUMNS; c++) {
            json_t *v = ub_test_store_value(c, json_array_get(cols[c], k));

            if (v == NULL) {
                json_decref(row);
                json_decref(rows);
                rows = NULL;
                goto done;
            }
            json_object_set_new(row, ub_test_store_columns[c], v);
        }
        json_array_append_new(rows, row);
    }
done:
    while (--c >= 0) {
        json_decref(cols[c]);
    }
    return rows;
}

#endif
