/*
 * store.c: calling the directory's SQL functions (src/sql/functions.sql).
 */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "store.h"
#include "json.h"

/* apr_dbd's pgsql driver turns %s into $n; the casts are ours. After the
 * caller and the options, one array per column in the order of
 * ub_put_column (batch.h). */
static const char sql_put_users[] =
    "SELECT idx, user_id, version, errors "
    "FROM userbulk.put_users(%s, %s, %s, %s::jsonb, %s::integer[], "
    "%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], "
    "%s::text[], %s::text[], %s::text[], %s::boolean[], %s::text[], "
    "%s::boolean[], %s::boolean[], %s::boolean[], %s::boolean[], %s::bigint[])";

/* The columns in the order of UB_AU_* (store.h). */
static const char sql_account_update[] =
    "SELECT error, role_id, role_model, user_id, role_ids, display_name, "
    "first_name, middle_name, last_name, phone1, phone2, login_name, "
    "reset_password_state, activation_date, expiry_date, status_id, "
    "status_name, status_code, status_num, status_color, email, timezone_id, "
    "timezone_name, timezone_code, timezone_dst, timezone_daylight, "
    "profile_pic, is_sso_user, team_id, team_level, team_name, team_code, "
    "team_parent, is_employee, employee_code, is_two_factor_enabled "
    "FROM userbulk.account_update(%s, %s, %s, %s::jsonb)";

/* A column's text, or NULL for SQL null (apr_dbd_get_entry answers "" for
 * both). */
static const char *entry(const ub_db *db, apr_dbd_row_t *row, int col)
{
    const char *v = NULL;

    if (apr_dbd_datum_get(db->driver, row, col, APR_DBD_TYPE_STRING, &v) != APR_SUCCESS) {
        return NULL;
    }
    return v;
}

static apr_status_t fail(const ub_request *req, const ub_db *db, int rc,
                         const char *what)
{
    const char *msg = db->handle ? apr_dbd_error(db->driver, db->handle, rc) : NULL;

    ub_logf(req, UB_LOG_ERR, APR_EGENERAL, "UB0201 %s failed: %s", what,
            msg ? msg : "no database connection");
    return APR_EGENERAL;
}

static const char sql_get_users[] = "SELECT userbulk.get_users(%s, %s::jsonb)";

const ub_statement ub_statements[] = {
    { UB_STMT_PUT_USERS, sql_put_users },
    { UB_STMT_ACCOUNT_UPDATE, sql_account_update },
    { UB_STMT_GET_USERS, sql_get_users },
    { NULL, NULL }
};

static const char *sql_of(const char *label)
{
    const ub_statement *st;

    for (st = ub_statements; st->label != NULL; st++) {
        if (strcmp(st->label, label) == 0) {
            return st->sql;
        }
    }
    return NULL;
}

/* Whether the server still knows the statement. The pgsql driver reconnects
 * a broken connection in place (PQreset) when mod_dbd checks it, and the
 * new session has none of the statements mod_dbd prepared: asked of the
 * server, not read from an error message, which may be translated. */
static int statement_known(const ub_request *req, const ub_db *db,
                           const char *label)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const char *sql = apr_psprintf(req->pool,
        "SELECT count(*) FROM pg_prepared_statements WHERE name = '%s'", label);
    int known = 1;

    if (apr_dbd_select(db->driver, req->pool, db->handle, &res, sql, 1) == 0
        && apr_dbd_get_row(db->driver, req->pool, res, &row, -1) == 0) {
        known = strcmp(apr_dbd_get_entry(db->driver, row, 0), "0") != 0;
        while (apr_dbd_get_row(db->driver, req->pool, res, &row, -1) == 0)
            ;
    }
    return known;
}

/* Prepares the statement under label on this session. */
static int prepare(const ub_request *req, ub_db *db, const char *label,
                   apr_dbd_prepared_t **stmt)
{
    *stmt = NULL;
    if (sql_of(label) == NULL
        || apr_dbd_prepare(db->driver, db->conn_pool, db->handle, sql_of(label),
                        label, stmt) != 0) {
        return -1;
    }
    apr_hash_set(db->prepared, label, APR_HASH_KEY_STRING, *stmt);
    return 0;
}

/* Whether the pooled connection still reaches the server. libpq learns
 * that a connection died only when it is used: a connection idle through a
 * PostgreSQL restart looks fine to mod_dbd. One trivial round trip before
 * the statement costs far less than answering 503 for it. */
static int alive(const ub_request *req, ub_db *db)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;

    /* random access (1): the driver runs the query synchronously, so a
     * dead connection fails here and not at the first row */
    if (apr_dbd_select(db->driver, req->pool, db->handle, &res, "SELECT 1", 1) != 0) {
        return 0;
    }
    return apr_dbd_get_row(db->driver, req->pool, res, &row, -1) == 0;
}

/* Runs the statement under label.
 * - A connection found dead before the statement is sent is reconnected
 *   in place (the driver's PQreset) and the statement prepared on the new
 *   session: nothing was sent, nothing can apply twice.
 * - A statement the server does not know (mod_dbd reconnected the session
 *   without preparing again) is prepared and run once more: it never ran.
 * - A statement that failed any other way, the session dying under it
 *   included, is not run again: it may have been applied, and only the
 *   client can decide to retry (503). */
static int run_statement(const ub_request *req, ub_db *db, const char *label,
                         int nargs, const char **args, apr_dbd_results_t **res)
{
    apr_dbd_prepared_t *stmt = apr_hash_get(db->prepared, label, APR_HASH_KEY_STRING);
    int rc;

    if (!alive(req, db)) {
        if (apr_dbd_check_conn(db->driver, req->pool, db->handle) != APR_SUCCESS
            || !alive(req, db) || prepare(req, db, label, &stmt) != 0) {
            return -1;
        }
        ub_logf(req, UB_LOG_WARNING, 0,
                "UB0204 the connection had died; reconnected and %s prepared again", label);
    }
    rc = stmt ? apr_dbd_pselect(db->driver, req->pool, db->handle, res, stmt, 1,
                                nargs, args)
              : -1;
    if (rc == 0 || (stmt != NULL && statement_known(req, db, label))) {
        return rc;
    }
    if (prepare(req, db, label, &stmt) != 0) {
        return rc;
    }
    ub_logf(req, UB_LOG_WARNING, 0,
            "UB0204 statement %s prepared again on a reconnected session", label);
    *res = NULL;
    return apr_dbd_pselect(db->driver, req->pool, db->handle, res, stmt, 1,
                           nargs, args);
}

/* Adds the errors the SQL function reported (a JSON array of
 * {field, code, message}) to the record. */
static apr_status_t add_store_errors(const ub_request *req, ub_put_record *rec,
                                     const char *errors_json)
{
    json_error_t jerr;
    json_t *errors, *e;
    size_t i;

    if (strcmp(errors_json, "[]") == 0) {
        return APR_SUCCESS;     /* the common case, not worth a parse */
    }
    errors = ub_json_own(req->pool, json_loads(errors_json, 0, &jerr));

    if (!json_is_array(errors)) {
        ub_logf(req, UB_LOG_ERR, APR_EGENERAL,
                "UB0202 unreadable errors from the store for record %d", rec->index);
        return APR_EGENERAL;
    }
    json_array_foreach(errors, i, e) {
        ub_record_fail(req->pool, rec,
                       apr_pstrdup(req->pool, json_string_value(json_object_get(e, "field"))),
                       apr_pstrdup(req->pool, json_string_value(json_object_get(e, "code"))),
                       apr_pstrdup(req->pool, json_string_value(json_object_get(e, "message"))));
    }
    return APR_SUCCESS;
}

/* The options of the SQL function, as JSON. */
static const char *put_options(const ub_request *req, int count, int total,
                               const char *body_hash)
{
    json_t *o = ub_json_own(req->pool, json_object());

    json_object_set_new(o, "atomic", json_boolean(req->atomic));
    json_object_set_new(o, "dry_run", json_boolean(req->dry_run));
    json_object_set_new(o, "failed", json_boolean(count < total));
    if (req->idempotency_key != NULL) {
        json_object_set_new(o, "idem_key", json_string(req->idempotency_key));
        json_object_set_new(o, "body_hash", json_string(body_hash));
    }
    return ub_json_dump(req->pool, o);
}

/* Runs the statement and counts it, with its time, for the counters. */
static int run(const ub_request *req, ub_db *db, const char *label,
               int nargs, const char **args, apr_dbd_results_t **res)
{
    apr_time_t start = apr_time_now();
    int rc = run_statement(req, db, label, nargs, args, res);

    db->calls++;
    db->usec += apr_time_now() - start;
    return rc;
}

apr_status_t ub_store_put_users(const ub_request *req, ub_db *db,
                                ub_put_batch *batch, const char *body_hash,
                                int *key_reused)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    ub_put_record *recs = (ub_put_record *)batch->records->elts;
    const char *args[4 + UB_PUT_COLUMNS];
    ub_put_store_input input;
    int c, rc;

    *key_reused = 0;
    ub_put_batch_store_input(req->pool, batch, &input);
    if (input.count == 0 && req->idempotency_key == NULL) {
        return APR_SUCCESS;     /* every record already failed: nothing to ask */
    }
    args[0] = req->account;
    args[1] = req->actor;
    args[2] = req->trace_id;
    args[3] = put_options(req, input.count, batch->records->nelts, body_hash);
    if (args[3] == NULL) {
        return APR_ENOMEM;
    }
    for (c = 0; c < UB_PUT_COLUMNS; c++) {
        args[4 + c] = input.column[c];
    }
    rc = run(req, db, UB_STMT_PUT_USERS, 4 + UB_PUT_COLUMNS, args, &res);
    if (rc != 0) {
        return fail(req, db, rc, "PUT /users statement");
    }
    while ((rc = apr_dbd_get_row(db->driver, req->pool, res, &row, -1)) == 0) {
        const char *idx = entry(db, row, 0);
        const char *user_id = entry(db, row, 1);
        const char *version = entry(db, row, 2);
        const char *errors = entry(db, row, 3);
        int i = idx ? atoi(idx) : -2;
        ub_put_record *rec;

        if (i == -1) {
            *key_reused = 1;
            continue;
        }
        if (i < 0 || i >= batch->records->nelts) {
            ub_logf(req, UB_LOG_ERR, APR_EGENERAL,
                    "UB0202 the store answered for unknown record %s", idx ? idx : "(null)");
            return APR_EGENERAL;
        }
        rec = &recs[i];
        rec->user_id = user_id ? apr_pstrdup(req->pool, user_id) : NULL;
        rec->version = version ? apr_atoi64(version) : 0;
        if (errors != NULL && add_store_errors(req, rec, errors) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
    }
    return rc == -1 ? APR_SUCCESS : fail(req, db, rc, "reading PUT /users results");
}

apr_status_t ub_store_select_row(const ub_request *req, ub_db *db,
                                 const char *label, int nargs,
                                 const char **args, int ncols,
                                 const char **cols)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rc, i;

    rc = run(req, db, label, nargs, args, &res);
    if (rc != 0) {
        return fail(req, db, rc, "statement");
    }
    rc = apr_dbd_get_row(db->driver, req->pool, res, &row, -1);
    if (rc != 0) {
        return fail(req, db, rc, "reading the statement's row");
    }
    for (i = 0; i < ncols; i++) {
        const char *v = entry(db, row, i);
        cols[i] = v ? apr_pstrdup(req->pool, v) : NULL;
    }
    /* Read to the end so the connection is free for the next statement. */
    while (apr_dbd_get_row(db->driver, req->pool, res, &row, -1) == 0)
        ;
    return APR_SUCCESS;
}

apr_status_t ub_store_account_update(const ub_request *req, ub_db *db,
                                     const char **args, ub_store_row_fn *fn,
                                     void *baton)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const char *cols[UB_AU_COLUMNS];
    apr_status_t rv = APR_SUCCESS;
    int rc, i;

    rc = run(req, db, UB_STMT_ACCOUNT_UPDATE, 4, args, &res);
    if (rc != 0) {
        return fail(req, db, rc, "POST statement");
    }
    if (apr_dbd_num_cols(db->driver, res) != UB_AU_COLUMNS) {
        ub_logf(req, UB_LOG_ERR, APR_EGENERAL,
                "UB0203 the store answered %d columns, not %d",
                apr_dbd_num_cols(db->driver, res), UB_AU_COLUMNS);
        rv = APR_EGENERAL;
    }
    /* The values are the driver's, alive as long as the request's pool: the
     * callback takes them without copies. Every row is read, even after a
     * failure, so that the connection is free for the next statement. */
    while ((rc = apr_dbd_get_row(db->driver, req->pool, res, &row, -1)) == 0) {
        if (rv != APR_SUCCESS) {
            continue;
        }
        for (i = 0; i < UB_AU_COLUMNS; i++) {
            cols[i] = entry(db, row, i);
        }
        rv = fn(baton, cols);
    }
    if (rc != -1 && rv == APR_SUCCESS) {
        return fail(req, db, rc, "reading the POST statement's rows");
    }
    return rv;
}
