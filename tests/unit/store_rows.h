/*
 * store_rows.h: the store's input for PUT /users (one PostgreSQL array
 * literal of rows of userbulk.put_input and one of the lists of roles, see
 * ub_put_batch_store_input) read back into one JSON object per record,
 * keyed by column name, its role_list replaced by the list it names
 * (roles, parsed), so that unit tests and the fuzz target check what
 * PostgreSQL would read.
 * Header-only: both include it.
 *
 * The literal grammar read here is the subset the writer produces: the
 * array {elem,elem,...}, each element a double-quoted string with
 * backslash escapes holding a row (field,field,...), each field empty
 * (NULL), a bare token (numbers, t, f) or a double-quoted string with
 * backslash escapes.
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
    "role_list", "access_automation", "access_certification", "access_complete",
    "access_operational_matching", "expected_version"
};

/* The items of one list literal, open item,item,... close, as JSON: a
 * double-quoted item (backslash escapes) as a string; a bare one as a
 * string too, or null: in an array the bare NULL (an empty item is
 * malformed), in a row the empty item (row: nonzero). NULL when the list
 * is malformed or text follows it. An array may be empty ({}). */
static json_t *ub_test_list(const char *s, char open, char close, int row)
{
    json_t *out = json_array();
    char *buf = malloc(strlen(s) + 1);

    if (buf == NULL || *s++ != open) {
        goto bad;
    }
    if (!row && *s == close && s[1] == '\0') {
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
            while (*s && *s != ',' && *s != close) {
                buf[n++] = *s++;
            }
            buf[n] = '\0';
            if (n == 0 && !row) {
                goto bad;
            }
            json_array_append_new(out, (row ? n == 0 : strcmp(buf, "NULL") == 0)
                                       ? json_null() : json_string(buf));
        }
        if (*s == ',') {
            s++;
            continue;
        }
        if (*s == close && s[1] == '\0') {
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

/* The elements of one array literal {...}. */
static json_t *ub_test_array_elements(const char *s)
{
    return ub_test_list(s, '{', '}', 0);
}

/* The fields of one row literal (...) of userbulk.put_input; NULL when it
 * has another number of fields than the row type. */
static json_t *ub_test_row_fields(const char *s)
{
    json_t *out = ub_test_list(s, '(', ')', 1);

    if (out != NULL && json_array_size(out) != UB_PUT_COLUMNS) {
        json_decref(out);
        return NULL;
    }
    return out;
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
    case UB_PUT_ROLE_LIST:
    case UB_PUT_EXPECTED_VERSION:
        return json_integer(strtoll(s, NULL, 10));
    case UB_PUT_LOCKED_OUT:
    case UB_PUT_ACCESS_AUTOMATION:
    case UB_PUT_ACCESS_CERTIFICATION:
    case UB_PUT_ACCESS_COMPLETE:
    case UB_PUT_ACCESS_OPERATIONAL_MATCHING:
        return strcmp(s, "t") == 0 ? json_true() : strcmp(s, "f") == 0 ? json_false() : NULL;
    default:
        return json_string(s);
    }
}

/* The list of roles a row names (role_list, from 1), parsed, in place of
 * its number; 0 when the number names no list, or the list is no JSON. */
static int ub_test_resolve_roles(json_t *row, json_t *lists)
{
    json_int_t n = json_integer_value(json_object_get(row, "role_list"));
    json_t *roles;

    if (n < 1 || (size_t)n > json_array_size(lists)) {
        return 0;
    }
    roles = json_loads(json_string_value(json_array_get(lists, (size_t)n - 1)), 0, NULL);
    if (roles == NULL) {
        return 0;
    }
    json_object_del(row, "role_list");
    json_object_set_new(row, "roles", roles);
    return 1;
}

/* The records as a JSON array of objects, or NULL when a literal or a row
 * is malformed, the count differs, or a row names no list of roles. */
static json_t *ub_test_store_rows(const ub_put_store_input *in)
{
    json_t *elems = ub_test_array_elements(in->records), *rows = NULL;
    json_t *lists = ub_test_array_elements(in->role_lists);
    size_t k;

    if (elems == NULL || lists == NULL || (int)json_array_size(elems) != in->count) {
        goto done;
    }
    rows = json_array();
    for (k = 0; k < json_array_size(elems); k++) {
        const char *text = json_string_value(json_array_get(elems, k));
        json_t *fields = text ? ub_test_row_fields(text) : NULL;
        json_t *row = json_object();
        int c;

        for (c = 0; fields != NULL && c < UB_PUT_COLUMNS; c++) {
            json_t *v = ub_test_store_value(c, json_array_get(fields, (size_t)c));

            if (v == NULL) {
                break;
            }
            json_object_set_new(row, ub_test_store_columns[c], v);
        }
        json_decref(fields);
        if (c < UB_PUT_COLUMNS || !ub_test_resolve_roles(row, lists)) {
            json_decref(row);
            json_decref(rows);
            rows = NULL;
            goto done;
        }
        json_array_append_new(rows, row);
    }
done:
    json_decref(elems);
    json_decref(lists);
    return rows;
}

#endif
