/*
 * batch.h: the body of PUT /users, turned into typed records.
 *
 * Everything that needs no data is checked here (types, formats, lengths,
 * read-only fields, a userName twice); what needs the directory is left to
 * the store, which gets only the records that passed.
 */
#ifndef UB_BATCH_H
#define UB_BATCH_H

#include <jansson.h>
#include "userbulk.h"

typedef struct {
    int index;                  /* position in the request, from 0 */
    const char *user_name;      /* as sent; NULL when missing or not a string */
    apr_array_header_t *errors; /* of ub_field_error; empty when valid */
    json_t *row;                /* the record as the store takes it */
    const char *user_id;        /* set by the store for applied records */
    long long version;          /* the user's version after the request */
} ub_put_record;

typedef struct {
    apr_array_header_t *records;    /* of ub_put_record, request order */
} ub_put_batch;

/* NULL, with *problem filled, when the request as a whole is refused (not
 * JSON, empty, over the record limit). */
ub_put_batch *ub_put_batch_parse(const ub_request *req, const char *body,
                                 apr_size_t len, ub_problem *problem);

/* The records still valid, as one JSON array for the store, and how many. */
const char *ub_put_batch_store_input(apr_pool_t *pool,
                                     const ub_put_batch *batch, int *count);

void ub_record_fail(apr_pool_t *pool, ub_put_record *rec, const char *field,
                    const char *code, const char *message);

#endif
