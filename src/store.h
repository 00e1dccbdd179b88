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

/* POST /api/v1/account/users/update: the columns of each row that
 * userbulk.account_update answers (src/sql/functions/account_update.sql), in order. */
enum {
    UB_AU_ERROR, UB_AU_ROLE_ID, UB_AU_ROLE_MODEL, UB_AU_USER_ID, UB_AU_ROLE_IDS,
    UB_AU_DISPLAY_NAME, UB_AU_FIRST_NAME, UB_AU_MIDDLE_NAME, UB_AU_LAST_NAME,
    UB_AU_PHONE1, UB_AU_PHONE2, UB_AU_LOGIN_NAME, UB_AU_RESET_PASSWORD_STATE,
    UB_AU_ACTIVATION_DATE, UB_AU_EXPIRY_DATE, UB_AU_STATUS_ID, UB_AU_STATUS_NAME,
    UB_AU_STATUS_CODE, UB_AU_STATUS_NUM, UB_AU_STATUS_COLOR, UB_AU_EMAIL,
    UB_AU_TIMEZONE_ID, UB_AU_TIMEZONE_NAME, UB_AU_TIMEZONE_CODE,
    UB_AU_TIMEZONE_DST, UB_AU_TIMEZONE_DAYLIGHT, UB_AU_PROFILE_PIC,
    UB_AU_IS_SSO_USER, UB_AU_TEAM_ID, UB_AU_TEAM_LEVEL, UB_AU_TEAM_NAME,
    UB_AU_TEAM_CODE, UB_AU_TEAM_PARENT, UB_AU_IS_EMPLOYEE, UB_AU_EMPLOYEE_CODE,
    UB_AU_IS_TWO_FACTOR_ENABLED,
    UB_AU_COLUMNS
};

/* Called with each row's UB_AU_COLUMNS values (NULL for SQL null, text as
 * PostgreSQL writes it: "t"/"f" for booleans), valid until the request's
 * pool is cleared, then once with cols NULL after the last row: the
 * answer's last check, still inside the transaction. A failure stops the
 * calls, rolls back and is returned. */
typedef apr_status_t ub_store_row_fn(void *baton, const char *const *cols);

/* Runs userbulk.account_update (args: account, actor, trace id, the change
 * as JSON) and hands each row to fn, in order, and commits when fn
 * accepted them all. APR_SUCCESS, the failure of fn, or a failure of the
 * database, COMMIT's included (logged); on any failure nothing applied. */
apr_status_t ub_store_account_update(const ub_request *req, ub_db *db,
                                     const char **args, ub_store_row_fn *fn,
                                     void *baton);

#endif
