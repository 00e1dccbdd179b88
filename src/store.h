/*
 * store.h: the user directory in PostgreSQL, through apr_dbd.
 *
 * Each endpoint is one prepared statement calling one SQL function, in one
 * transaction whatever the request's size: BEGIN, the statement, COMMIT,
 * three round trips (apr_dbd sends one query at a time). The rows are read
 * and checked before COMMIT, so that a failure anywhere before it, COMMIT's
 * own included, has applied nothing.
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
 * request's options say (atomic, dry run, Idempotency-Key with the
 * request's fingerprint in body_hash). Records the directory refuses get
 * their errors added; applied ones get user_id and version. *key_reused is
 * set when the Idempotency-Key was used before for another request: another
 * body or other options (nothing was done).
 * APR_SUCCESS, or a failure of the database or of the answer's checks
 * (logged; nothing applied: rolled back). */
apr_status_t ub_store_put_users(const ub_request *req, ub_db *db,
                                ub_put_batch *batch, const char *body_hash,
                                int *key_reused);

/* Runs a prepared statement (by label) returning one row and copies its
 * first ncols columns (NULL for SQL null). */
apr_status_t ub_store_select_row(const ub_request *req, ub_db *db,
                                 const char *label, int nargs,
                                 const char **args, int ncols,
                                 const char **cols);

/* The rows a statement answers, handed to a reader one at a time. A
 * reader finds the columns it reads by name (ub_store_column), once, and
 * reads each row's values by the positions found: the SQL function's row
 * type is the one place that orders them. */
typedef struct ub_store_rows ub_store_rows;

/* The position of the column called name in the answer; -1 (logged) when
 * the answer has none: schema and module of different releases. */
int ub_store_column(const ub_store_rows *rows, const char *name);

/* The current row's value at col (from ub_store_column): text as
 * PostgreSQL writes it ("t"/"f" for booleans), NULL for SQL null. Valid
 * until the request's pool is cleared. */
const char *ub_store_value(const ub_store_rows *rows, int col);

/* Called with each row in turn, then once with rows NULL after the last
 * one: the answer's last check, still inside the transaction. A failure
 * stops the calls, rolls back and is returned. */
typedef apr_status_t ub_store_row_fn(void *baton, const ub_store_rows *rows);

/* Runs userbulk.account_update (args: account, actor, trace id, the change
 * as JSON) and hands each row to fn, in order, and commits when fn
 * accepted them all. APR_SUCCESS, the failure of fn, or a failure of the
 * database, COMMIT's included (logged); on any failure nothing applied.
 * dry_run: the same statement, rows and checks, then ROLLBACK instead of
 * COMMIT (the function itself knows no dry run: whatever it writes, users,
 * roles, audit rows, goes with the transaction). */
apr_status_t ub_store_account_update(const ub_request *req, ub_db *db,
                                     const char **args, int dry_run,
                                     ub_store_row_fn *fn, void *baton);

/* Runs userbulk.scim_write (args: account, actor, trace id, options,
 * base URL, then the operations as one array of rows: UB_SCIM_WRITE_ARGS
 * in all) and hands each row to fn as ub_store_account_update does. */
#define UB_SCIM_WRITE_ARGS 6
apr_status_t ub_store_scim_write(const ub_request *req, ub_db *db, const char **args,
                                 ub_store_row_fn *fn, void *baton);

/* Runs userbulk.revert_request (args: account, actor, trace id, the
 * request id or trace id to revert, the options as JSON) and hands each
 * row to fn as ub_store_account_update does. */
apr_status_t ub_store_revert(const ub_request *req, ub_db *db, const char **args,
                             ub_store_row_fn *fn, void *baton);

#endif
