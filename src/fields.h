/*
 * fields.h: the field errors of a request body, and the typed takers that
 * record them: one set for every reader of a body (batch.c for PUT /users,
 * account_request.c for the POST).
 *
 * A field is named by its path as the client wrote it ("email",
 * "name.firstName", "roles[2].roleId"). A taker reads one member of an
 * object, checks it, and on failure records (path, code, message) and
 * returns NULL (or the caller's default). Absent and null are the same to
 * every taker: NULL, no error; so is an obj that is NULL, which lets a
 * reader take the members of an optional object without testing it first.
 */
#ifndef UB_FIELDS_H
#define UB_FIELDS_H

#include "userbulk.h"
#include "jdoc.h"
#include "validate.h"

/* Where the errors go: a reader's pool and its array of ub_field_error. */
typedef struct {
    apr_pool_t *pool;
    apr_array_header_t *errors;
} ub_fields;

/* "parent.key", or key itself when parent is NULL. */
const char *ub_field_path(apr_pool_t *pool, const char *parent, const char *key);

void ub_field_fail(ub_fields *f, const char *field, const char *code,
                   const char *message);

/* The member key of obj when it has the JSON type (UB_J_TRUE stands for
 * either boolean); otherwise "invalid_type", "must be <what> or null". */
const ub_jval *ub_take(ub_fields *f, const ub_jval *obj, const char *parent,
                       const char *key, ub_jtype type, const char *what);

const ub_jval *ub_take_object(ub_fields *f, const ub_jval *obj,
                              const char *parent, const char *key);

/* A string of at most max_chars characters ("too_long") that check, when
 * given, accepts ("invalid_format", with check's reason). With
 * empty_unchecked, "" is taken without asking check (for the fields where
 * "" clears the stored value). */
const char *ub_take_string(ub_fields *f, const ub_jval *obj, const char *parent,
                           const char *key, apr_size_t max_chars,
                           ub_value_check *check, int empty_unchecked);

/* 1 or 0; absent when absent, null or refused. */
int ub_take_bool(ub_fields *f, const ub_jval *obj, const char *parent,
                 const char *key, int absent);

#endif
