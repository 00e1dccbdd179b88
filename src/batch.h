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
    const char *changed_before; /* ?diff=true: the fields the record changes, */
    const char *changed_after;  /* as stored and as they become (JSON, the
                                 * audit row's text); NULL: no change */
} ub_put_record;

typedef struct {
    apr_array_header_t *records;    /* of ub_put_record, request order */
    apr_size_t body_len;            /* to size the store's input */
} ub_put_batch;

/* NULL, with *problem filled, when the request as a whole is refused (not
 * JSON, empty, over the record limit). */
ub_put_batch *ub_put_batch_parse(const ub_request *req, const char *body,
                                 apr_size_t len, ub_problem *problem);

/* The records still valid, as the store takes them: one PostgreSQL array
 * literal of rows of userbulk.put_input, {"(idx,user_name,...)",...}, the
 * valid records in request order, and how many. An array of typed rows,
 * because PostgreSQL reads it faster than the same records as JSON, or as
 * one array per column (README, Benchmark). The columns of a row, in
 * order: */
typedef enum {
    UB_PUT_IDX,                 /* integer: position in the request */
    UB_PUT_USER_NAME,           /* text ... */
    UB_PUT_EMAIL,
    UB_PUT_FIRST_NAME,
    UB_PUT_MIDDLE_NAME,
    UB_PUT_LAST_NAME,
    UB_PUT_PHONE,
    UB_PUT_DEPARTMENT,
    UB_PUT_LOCATION,
    UB_PUT_PROGRAM_ADMIN_ROLE,
    UB_PUT_LOCKED_OUT,          /* boolean */
    UB_PUT_ROLE_LIST,           /* integer: its list in role_lists, from 1 */
    UB_PUT_ACCESS_AUTOMATION,   /* boolean, NULL when not sent ... */
    UB_PUT_ACCESS_CERTIFICATION,
    UB_PUT_ACCESS_COMPLETE,
    UB_PUT_ACCESS_OPERATIONAL_MATCHING,
    UB_PUT_EXPECTED_VERSION,    /* bigint, NULL when not sent */
    UB_PUT_COLUMNS
} ub_put_column;

typedef struct {
    const char *records;
    int count;
    /* The records' distinct lists of roles, one PostgreSQL array literal
     * of JSON texts, [{"roleId":..,"roleName":..}] each, in the order of
     * their first record; a record names its list by number. */
    const char *role_lists;
} ub_put_store_input;

void ub_put_batch_store_input(apr_pool_t *pool, const ub_put_batch *batch,
                              ub_put_store_input *out);

void ub_record_fail(apr_pool_t *pool, ub_put_record *rec, const char *field,
                    const char *code, const char *message);

#endif
