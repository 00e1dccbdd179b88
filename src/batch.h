/*
 * batch.h: the body of PUT /users, turned into typed records.
 *
 * Everything that needs no data is checked here (types, formats, lengths,
 * read-only fields, a userName twice); what needs the directory is left to
 * the store, which gets only the records that passed.
 */
#ifndef UB_BATCH_H
#define UB_BATCH_H

#include "userbulk.h"
#include "textbuf.h"

/* A role as a record names it: by id, by name, or both (then they must
 * name the same role). */
typedef struct {
    const char *id;
    const char *name;
} ub_role_ref;

/* The record as the store takes it: the updatable fields, NULL when not
 * sent or null (PUT replaces: a field left out is cleared). */
typedef struct {
    const char *email, *first_name, *middle_name, *last_name, *phone;
    const char *department, *location, *program_admin_role;
    int locked_out;                 /* absent is false */
    int access[4];                  /* read-only flags: -1 not sent, 0, 1 */
    apr_array_header_t *roles;      /* of ub_role_ref, in request order */
    long long expected_version;     /* 0: not sent */
} ub_put_row;

typedef struct {
    int index;                  /* position in the request, from 0 */
    const char *user_name;      /* as sent; NULL when missing or not a string */
    apr_array_header_t *errors; /* of ub_field_error; empty when valid */
    ub_put_row row;             /* meaningful only while errors is empty */
    const char *user_id;        /* set by the store for applied records */
    long long version;          /* the user's version after the request */
} ub_put_record;

typedef struct {
    apr_array_header_t *records;    /* of ub_put_record, request order */
    apr_size_t body_len;            /* to size the store's input */
} ub_put_batch;

/* NULL, with *problem filled, when the request as a whole is refused (not
 * JSON, empty, over the record limit). */
ub_put_batch *ub_put_batch_parse(const ub_request *req, const char *body,
                                 apr_size_t len, ub_problem *problem);

/* The records still valid, for the store: one JSON object per line (the
 * writer escapes every control character, so no value holds a newline),
 * in request order; and how many. The store parses only the lines of the
 * records that may change something. */
const char *ub_put_batch_store_input(apr_pool_t *pool,
                                     const ub_put_batch *batch, int *count);

/* The same records in the short form the store's unchanged-record check
 * reads before it parses the batch: five PostgreSQL array literals, one
 * element per record still valid, in request order.
 *   idx      int[]   the record's position
 *   names    text[]  userName
 *   canon    text[]  the updatable scalar fields, see ub_put_row_canon
 *   roles    text[]  the record's roles as JSON, as in the batch
 *   checks   text[]  "VVVV:N": the four userAccess flags ('t', 'f', or
 *                    '-' when not sent) and the expected version (empty
 *                    when not sent) */
typedef struct {
    const char *idx, *names, *canon, *roles, *checks;
} ub_put_fast_input;

void ub_put_batch_fast_input(apr_pool_t *pool, const ub_put_batch *batch,
                             ub_put_fast_input *out);

/* The row's scalar updatable fields in the canonical form
 * userbulk.put_canon() computes from a stored user: for each of email,
 * firstName, middleName, lastName, phoneNumber, departmentId, locationId,
 * programAdminRoleId the value's length in bytes, ':', the value and ';',
 * or '-;' when null; then 't' or 'f' for lockedOut. */
void ub_put_row_canon(ub_textbuf *tb, const ub_put_row *row);

void ub_record_fail(apr_pool_t *pool, ub_put_record *rec, const char *field,
                    const char *code, const char *message);

#endif
