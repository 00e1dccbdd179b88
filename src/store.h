/*
 * store.h: the user directory in PostgreSQL, through apr_dbd.
 *
 * Each endpoint is one prepared statement calling one SQL function, so a
 * request is one round trip and one transaction whatever its size.
 */
#ifndef UB_STORE_H
#define UB_STORE_H

#include "userbulk.h"
#include "batch.h"

/* Every prepared statement: its label (UB_STMT_*) and its SQL. The glue
 * hands these to mod_dbd; the store prepares one again from here when a
 * reconnected session lost it. */
typedef struct {
    const char *label;
    const char *sql;
} ub_statement;

extern const ub_statement ub_statements[];     /* ends with { NULL, NULL } */

/* Applies the records of the batch that passed the core's checks, as the
 * request's options say (atomic, dry run, Idempotency-Key with the body's
 * hash). Records the directory refuses get their errors added; applied
 * ones get user_id and version. *key_reused is set when the
 * Idempotency-Key was used before with another body (nothing was done).
 * APR_SUCCESS, or a failure of the database (nothing applied: the
 * statement is its own transaction). */
apr_status_t ub_store_put_users(const ub_request *req, ub_db *db,
                                ub_put_batch *batch, const char *body_hash,
                                int *key_reused);

/* Runs a prepared statement (by label) returning one row and copies its
 * first ncols columns (NULL for SQL null). */
apr_status_t ub_store_select_row(const ub_request *req, ub_db *db,
                                 const char *label, int nargs,
                                 const char **args, int ncols,
                                 const char **cols);

#endif
