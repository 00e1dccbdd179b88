/*
 * store.c: calling the directory's SQL functions (src/sql/functions/).
 */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <libpq-fe.h>
#include "store.h"
#include "json.h"

/* apr_dbd's pgsql driver turns %s into $n; the casts are ours. After the
 * caller and the options, the lists of roles and the records as one array
 * of rows (batch.h). The
 * answers are read by column name: the SQL functions' row types say what
 * the columns are (src/sql/functions/). */
static const char sql_put_users[] =
    "SELECT * "
    "FROM userbulk.put_users(%s, %s, %s, %s::jsonb, %s::text[], %s::userbulk.put_input[])";

static const char sql_account_update[] =
    "SELECT * FROM userbulk.account_update(%s, %s, %s, %s::jsonb)";

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

/* What is logged of a failure of the database: its SQLSTATE and its
 * primary message, or libpq's first line when the failure is not the
 * server's (a lost connection). Never the DETAIL, HINT or CONTEXT lines:
 * PostgreSQL puts the data there (a unique violation's DETAIL quotes the
 * other row's key, whoever's it is, a check violation's the whole row),
 * and these lines go to the error log and to /server-status's LastError.
 * The text is copied: the driver's buffer is overwritten by the next
 * query (the ROLLBACK). */
static const char *db_error(const ub_request *req, const ub_db *db, int rc)
{
    const char *msg = db->handle ? apr_dbd_error(db->driver, db->handle, rc) : NULL;
    const char *p;
    apr_size_t n;

    if (msg == NULL || *msg == '\0') {
        return db->handle ? "no message from the database" : "no database connection";
    }
    /* "ERROR:  23505: duplicate key ..." with libpq's verbose errors
     * (set_verbosity); the severity word is PostgreSQL's own, in English
     * or not, so everything up to the first ":  " goes. */
    p = strstr(msg, ":  ");
    if (p != NULL && (apr_size_t)(p - msg) < strcspn(msg, "\n")) {
        msg = p + 3;
    }
    n = strcspn(msg, "\r\n");
    if (n > 5 && msg[5] == ':' && strspn(msg, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 5) {
        return apr_pstrcat(req->pool, "SQLSTATE ", apr_pstrndup(req->pool, msg, 5),
                           apr_pstrndup(req->pool, msg + 5, n - 5), NULL);
    }
    return apr_pstrndup(req->pool, msg, n);
}

/* libpq writes the SQLSTATE into the message only when asked
 * (PQERRORS_VERBOSE); apr_dbd has no other way to it. Set on each use: a
 * connection mod_dbd opened since is not known to the store, and the call
 * only stores a word in the PGconn. */
static void set_verbosity(const ub_db *db)
{
    PGconn *conn;

    if (db->handle == NULL || strcmp(apr_dbd_name(db->driver), "pgsql") != 0) {
        return;
    }
    conn = apr_dbd_native_handle(db->driver, db->handle);
    if (conn != NULL) {
        (void)PQsetErrorVerbosity(conn, PQERRORS_VERBOSE);  /* the old setting */
    }
}

/* tag is the log line's UB02xx tag and its text, what the error (from
 * db_error) follows. */
static apr_status_t fail(const ub_request *req, const char *tag, const char *error)
{
    ub_logf(req, UB_LOG_ERR, APR_EGENERAL, "%s: %s", tag,
            error ? error : "no database connection");
    return APR_EGENERAL;
}

static const char sql_get_users[] = "SELECT userbulk.get_users(%s, %s::jsonb)";
static const char sql_user_changes[] =
    "SELECT status, changes, more, next_seq, next_user "
    "FROM userbulk.user_changes(%s, %s::bigint, %s::uuid, %s::boolean, %s::integer)";
static const char sql_scim_users[] =
    "SELECT userbulk.scim_users(%s, %s::jsonb, %s::integer, %s::integer, %s::jsonb, "
    "%s::jsonb, %s)";
static const char sql_scim_user[] =
    "SELECT version, resource FROM userbulk.scim_user(%s, %s, %s::jsonb, %s::jsonb, %s)";

/* SCIM Groups: every function answers one row of these columns. */
#define SCIM_GROUP_COLS "SELECT etag, resource, status, scim_type, detail, id "
static const char sql_scim_groups[] =
    SCIM_GROUP_COLS "FROM userbulk.scim_groups(%s, %s::jsonb, %s::integer, %s::integer, "
    "%s::jsonb, %s::jsonb, %s, %s::integer)";
static const char sql_scim_group[] =
    SCIM_GROUP_COLS "FROM userbulk.scim_group(%s, %s, %s::jsonb, %s::jsonb, %s, %s::integer)";
static const char sql_scim_group_create[] =
    SCIM_GROUP_COLS "FROM userbulk.scim_group_create(%s, %s, %s, %s, %s::text[], %s, %s::integer)";
static const char sql_scim_group_change[] =
    SCIM_GROUP_COLS "FROM userbulk.scim_group_change(%s, %s, %s, %s, %s, %s::boolean, "
    "%s::text[], %s::text[], %s::text[], %s, %s::integer, %s::boolean)";
static const char sql_scim_group_delete[] =
    SCIM_GROUP_COLS "FROM userbulk.scim_group_delete(%s, %s, %s, %s, %s::text[], %s::integer)";
/* After the caller, the options and the base URL, the operations as one
 * array of rows (src/scim_write.c, ub_scim_write_run). */
static const char sql_scim_write[] =
    "SELECT idx, status, id, version, field, code, message, resource, before, after "
    "FROM userbulk.scim_write(%s, %s, %s, %s::jsonb, %s, %s::userbulk.scim_input[])";

static const char sql_revert[] =
    "SELECT idx, user_id, user_name, version, code, message, before, after, request_id, reverts "
    "FROM userbulk.revert_request(%s, %s, %s, %s, %s::jsonb)";

const ub_statement ub_statements[] = {
    { UB_STMT_PUT_USERS, sql_put_users },
    { UB_STMT_ACCOUNT_UPDATE, sql_account_update },
    { UB_STMT_GET_USERS, sql_get_users },
    { UB_STMT_USER_CHANGES, sql_user_changes },
    { UB_STMT_SCIM_USERS, sql_scim_users },
    { UB_STMT_SCIM_USER, sql_scim_user },
    { UB_STMT_SCIM_GROUPS, sql_scim_groups },
    { UB_STMT_SCIM_GROUP, sql_scim_group },
    { UB_STMT_SCIM_GROUP_CREATE, sql_scim_group_create },
    { UB_STMT_SCIM_GROUP_CHANGE, sql_scim_group_change },
    { UB_STMT_SCIM_GROUP_DELETE, sql_scim_group_delete },
    { UB_STMT_SCIM_WRITE, sql_scim_write },
    { UB_STMT_REVERT, sql_revert },
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

/* The request's transaction. The statement, the reading of its rows and
 * the module's checks of them all happen between BEGIN and COMMIT, so that
 * an answer the module cannot use (or cannot read) is rolled back and the
 * 503 that says "nothing was changed" is true. BEGIN, COMMIT and ROLLBACK
 * go as plain queries, not through apr_dbd_transaction_*: the driver keeps
 * its transaction in the pooled connection, allocated from the request's
 * pool, and refuses every later query of the transaction after one failed;
 * here nothing of the request stays on the connection. */
typedef struct {
    int open;               /* BEGIN done, COMMIT or ROLLBACK not yet */
    int dry_run;            /* ends in ROLLBACK even when everything passed */
    int no_begin;           /* the failure was BEGIN's: nothing was sent */
    const char *error;      /* the database's failure, from db_error */
    apr_time_t start;
} ub_tx;

static int query(ub_db *db, const char *sql)
{
    int nrows = 0;

    return apr_dbd_query(db->driver, db->handle, &nrows, sql);
}

/* Opens the transaction. The BEGIN is also the probe of the pooled
 * connection: libpq learns that a connection died only when it is used,
 * and one idle through a PostgreSQL restart looks fine to mod_dbd. When
 * BEGIN fails, nothing of the request was sent: the connection is
 * reconnected in place (the driver's PQreset), the statement prepared on
 * the new session, and BEGIN sent once more. */
static int begin(const ub_request *req, ub_db *db, const char *label,
                 apr_dbd_prepared_t **stmt, ub_tx *tx)
{
    int rc;

    set_verbosity(db);
    rc = query(db, "BEGIN");
    if (rc != 0) {
        if (apr_dbd_check_conn(db->driver, req->pool, db->handle) != APR_SUCCESS
            || prepare(req, db, label, stmt) != 0) {
            tx->error = db_error(req, db, rc);
            tx->no_begin = 1;
            return -1;
        }
        set_verbosity(db);
        rc = query(db, "BEGIN");
        if (rc != 0) {
            tx->error = db_error(req, db, rc);
            tx->no_begin = 1;
            return rc;
        }
        ub_logf(req, UB_LOG_WARNING, 0,
                "UB0204 the connection had died; reconnected and %s prepared again", label);
    }
    tx->open = 1;
    return 0;
}

/* Ends a transaction that failed. A ROLLBACK that fails too means the
 * connection is gone, and the server rolls back with the session. */
static void rollback(const ub_request *req, ub_db *db, ub_tx *tx)
{
    int rc;

    if (!tx->open) {
        return;
    }
    tx->open = 0;
    rc = query(db, "ROLLBACK");
    if (rc != 0) {
        ub_logf(req, UB_LOG_WARNING, 0,
                "UB0210 ROLLBACK failed (the server ends the transaction with the session): %s",
                db_error(req, db, rc));
    }
}

/* Whether a failed COMMIT was refused by the server (it answered an
 * error of its own: a deferred constraint, a serialization failure), which
 * applied nothing; or its outcome is unknown: the connection was lost
 * (libpq's message, no SQLSTATE; class 08), or the session was ended by an
 * operator or a shutdown (class 57: while a commit waits for a synchronous
 * standby, PostgreSQL ends it having committed locally). */
static int commit_refused(const char *error)
{
    return strncmp(error, "SQLSTATE ", 9) == 0 && strncmp(error + 9, "08", 2) != 0
           && strncmp(error + 9, "57", 2) != 0;
}

/* Ends the transaction: COMMIT when rv is APR_SUCCESS, else ROLLBACK; and
 * counts its time. A COMMIT refused has applied nothing (APR_EGENERAL);
 * one whose answer was lost may have applied everything
 * (UB_COMMIT_UNKNOWN): the request says so, never that nothing changed.
 * A dry run ends in ROLLBACK whatever rv: its answer (read and checked
 * before) stays true, a ROLLBACK that fails included (the server rolls
 * back with the session). */
static apr_status_t finish(const ub_request *req, ub_db *db, ub_tx *tx,
                           apr_status_t rv)
{
    if (rv == APR_SUCCESS && tx->open && !tx->dry_run) {
        int rc = query(db, "COMMIT");

        tx->open = 0;
        if (rc != 0) {
            const char *error = db_error(req, db, rc);

            if (commit_refused(error)) {
                rv = fail(req, "UB0209 COMMIT failed, nothing was applied", error);
            }
            else {
                ub_logf(req, UB_LOG_ERR, APR_EGENERAL,
                        "UB0223 the answer to COMMIT was lost, the request may have been "
                        "applied: %s", error);
                rv = UB_COMMIT_UNKNOWN;
            }
        }
    }
    else {
        rollback(req, db, tx);
    }
    db->usec += apr_time_now() - tx->start;
    return rv;
}

/* Runs the statement under label in a new transaction (BEGIN above).
 * - A statement the server does not know (mod_dbd reconnected the session
 *   without preparing again) failed without running: its transaction is
 *   rolled back, the statement prepared, and run once more in a new one.
 * - A statement that failed any other way, the session dying under it
 *   included, is not run again: only the client can decide to retry (503).
 * On failure tx->error says why; the transaction may still be open (the
 * caller ends it with finish). */
static int run_statement(const ub_request *req, ub_db *db, const char *label,
                         int nargs, const char **args, apr_dbd_results_t **res,
                         ub_tx *tx)
{
    apr_dbd_prepared_t *stmt = apr_hash_get(db->prepared, label, APR_HASH_KEY_STRING);
    int rc;

    rc = begin(req, db, label, &stmt, tx);
    if (rc != 0) {
        return rc;
    }
    rc = stmt ? apr_dbd_pselect(db->driver, req->pool, db->handle, res, stmt, 1,
                                nargs, args)
              : -1;
    if (rc == 0) {
        return 0;
    }
    if (stmt != NULL) {
        /* the transaction failed: nothing else can be asked in it */
        tx->error = db_error(req, db, rc);
        rollback(req, db, tx);
        if (statement_known(req, db, label)) {
            return rc;
        }
    }
    if (prepare(req, db, label, &stmt) != 0) {
        tx->error = db_error(req, db, -1);
        return -1;
    }
    ub_logf(req, UB_LOG_WARNING, 0,
            "UB0207 statement %s prepared again on a reconnected session", label);
    if (!tx->open && (rc = query(db, "BEGIN")) != 0) {
        tx->error = db_error(req, db, rc);
        return rc;
    }
    tx->open = 1;
    *res = NULL;
    rc = apr_dbd_pselect(db->driver, req->pool, db->handle, res, stmt, 1, nargs, args);
    if (rc != 0) {
        tx->error = db_error(req, db, rc);
    }
    return rc;
}

/* The options of the SQL function, as JSON. */
static const char *put_options(const ub_request *req, int count, int total,
                               const char *body_hash)
{
    json_t *o = ub_json_own(req->pool, json_object());

    json_object_set_new(o, "atomic", json_boolean(req->atomic));
    json_object_set_new(o, "dry_run", json_boolean(req->dry_run));
    json_object_set_new(o, "failed", json_boolean(count < total));
    if (req->diff) {
        json_object_set_new(o, "diff", json_true());
    }
    if (req->idempotency_key != NULL) {
        json_object_set_new(o, "idem_key", json_string(req->idempotency_key));
        json_object_set_new(o, "body_hash", json_string(body_hash));
    }
    return ub_json_dump(req->pool, o);
}

static apr_status_t statement_failed(const ub_request *req, const char *label,
                                     const ub_tx *tx)
{
    if (tx->no_begin) {
        return fail(req, apr_pstrcat(req->pool, "UB0208 BEGIN for ", label,
                                     " failed, nothing was sent", NULL),
                    tx->error);
    }
    return fail(req, apr_pstrcat(req->pool, "UB0201 statement ", label, " failed", NULL),
                tx->error);
}

/* Runs the statement in a new transaction and counts it for the counters;
 * finish ends the transaction (in ROLLBACK for a dry run) and counts its
 * time. */
static int run(const ub_request *req, ub_db *db, const char *label, int dry_run,
               int nargs, const char **args, apr_dbd_results_t **res, ub_tx *tx)
{
    tx->open = 0;
    tx->dry_run = dry_run;
    tx->no_begin = 0;
    tx->error = NULL;
    tx->start = apr_time_now();
    db->calls++;
    return run_statement(req, db, label, nargs, args, res, tx);
}

struct ub_store_rows {
    const ub_request *req;
    const ub_db *db;
    apr_dbd_results_t *res;
    apr_dbd_row_t *row;
};

int ub_store_column(const ub_store_rows *rows, const char *name)
{
    int i, n = apr_dbd_num_cols(rows->db->driver, rows->res);

    for (i = 0; i < n; i++) {
        const char *c = apr_dbd_get_name(rows->db->driver, rows->res, i);

        if (c != NULL && strcmp(c, name) == 0) {
            return i;
        }
    }
    ub_logf(rows->req, UB_LOG_ERR, APR_EGENERAL,
            "UB0520 the store's answer has no column %s", name);
    return -1;
}

const char *ub_store_value(const ub_store_rows *rows, int col)
{
    return entry(rows->db, rows->row, col);
}

/* Runs the statement under label in a new transaction, hands each row to
 * fn, then NULL after the last, and commits when fn accepted them all
 * (dry_run: rolls back all the same). */
static apr_status_t each_row(const ub_request *req, ub_db *db, const char *label,
                             int dry_run, int nargs, const char **args,
                             ub_store_row_fn *fn, void *baton)
{
    ub_store_rows rows;
    apr_status_t rv;
    ub_tx tx;
    int rc;

    rows.req = req;
    rows.db = db;
    rows.res = NULL;
    rows.row = NULL;
    rc = run(req, db, label, dry_run, nargs, args, &rows.res, &tx);
    if (rc != 0) {
        return finish(req, db, &tx, statement_failed(req, label, &tx));
    }
    /* The values are the driver's, alive until the last row has been read
     * (the pgsql driver frees the result then): the reader uses them
     * without copies while the rows come, and copies what it keeps for
     * after. */
    while ((rc = apr_dbd_get_row(db->driver, req->pool, rows.res, &rows.row, -1)) == 0) {
        rv = fn(baton, &rows);
        if (rv != APR_SUCCESS) {
            return finish(req, db, &tx, rv);
        }
    }
    if (rc != -1) {
        return finish(req, db, &tx,
                      fail(req, "UB0211 reading the statement's rows failed", db_error(req, db, rc)));
    }
    /* The end of the rows: the reader's last check, still before COMMIT. */
    return finish(req, db, &tx, fn(baton, NULL));
}

/* PUT /users's answer (userbulk.put_result): one row per error of a
 * record, one for a record without any; every row of a record carries its
 * user_id and version; with ?diff=true, the row of a record that changes
 * its user carries the fields it changes, before and after, as its audit
 * row has them (the engine's own values: nothing computed twice, no
 * second statement). idx -1: the Idempotency-Key was used for another
 * request. */
typedef struct {
    const ub_request *req;
    ub_db *db;
    ub_put_batch *batch;
    int *key_reused;
    int found;                  /* the columns below were looked up */
    int idx, user_id, version, field, code, message, before, after;
} put_answer;

static apr_status_t take_put_row(void *baton, const ub_store_rows *rows)
{
    put_answer *p = baton;
    const ub_request *req = p->req;
    const char *idx, *user_id, *version, *field, *code, *message, *before, *after;
    ub_put_record *rec;
    int i;

    if (rows == NULL) {
        return APR_SUCCESS;
    }
    if (!p->found) {
        p->idx = ub_store_column(rows, "idx");
        p->user_id = ub_store_column(rows, "user_id");
        p->version = ub_store_column(rows, "version");
        p->field = ub_store_column(rows, "field");
        p->code = ub_store_column(rows, "code");
        p->message = ub_store_column(rows, "message");
        p->before = ub_store_column(rows, "before");
        p->after = ub_store_column(rows, "after");
        if (p->idx < 0 || p->user_id < 0 || p->version < 0 || p->field < 0
            || p->code < 0 || p->message < 0 || p->before < 0 || p->after < 0) {
            return APR_EGENERAL;
        }
        p->found = 1;
    }
    idx = ub_store_value(rows, p->idx);
    i = idx ? atoi(idx) : -2;
    if (i == -1) {
        *p->key_reused = 1;
        return APR_SUCCESS;
    }
    if (i < 0 || i >= p->batch->records->nelts) {
        ub_logf(req, UB_LOG_ERR, APR_EGENERAL,
                "UB0205 the store answered for unknown record %s", idx ? idx : "(null)");
        return APR_EGENERAL;
    }
    rec = &((ub_put_record *)p->batch->records->elts)[i];
    user_id = ub_store_value(rows, p->user_id);
    version = ub_store_value(rows, p->version);
    rec->user_id = user_id ? apr_pstrdup(req->pool, user_id) : NULL;
    rec->version = version ? apr_atoi64(version) : 0;
    before = ub_store_value(rows, p->before);
    after = ub_store_value(rows, p->after);
    if ((before == NULL) != (after == NULL)) {
        ub_logf(req, UB_LOG_ERR, APR_EGENERAL,
                "UB0722 the store answered half a change (before or after missing) for record %d",
                rec->index);
        return APR_EGENERAL;
    }
    if (before != NULL && req->diff) {
        rec->changed_before = apr_pstrdup(req->pool, before);
        rec->changed_after = apr_pstrdup(req->pool, after);
    }
    field = ub_store_value(rows, p->field);
    code = ub_store_value(rows, p->code);
    message = ub_store_value(rows, p->message);
    if (field == NULL && code == NULL && message == NULL) {
        return APR_SUCCESS;     /* the record, without errors */
    }
    if (field == NULL || code == NULL || message == NULL) {
        ub_logf(req, UB_LOG_ERR, APR_EGENERAL,
                "UB0202 unreadable errors from the store for record %d", rec->index);
        return APR_EGENERAL;
    }
    ub_record_fail(req->pool, rec, apr_pstrdup(req->pool, field),
                   apr_pstrdup(req->pool, code), apr_pstrdup(req->pool, message));
    return APR_SUCCESS;
}

apr_status_t ub_store_put_users(const ub_request *req, ub_db *db,
                                ub_put_batch *batch, const char *body_hash,
                                int *key_reused)
{
    const char *args[6];
    ub_put_store_input input;
    put_answer p;

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
    args[4] = input.role_lists;
    args[5] = input.records;
    memset(&p, 0, sizeof(p));
    p.req = req;
    p.db = db;
    p.batch = batch;
    p.key_reused = key_reused;
    /* Only once every row is read and checked is the change committed. */
    return each_row(req, db, UB_STMT_PUT_USERS, 0, 6, args, take_put_row, &p);
}

apr_status_t ub_store_select_row(const ub_request *req, ub_db *db,
                                 const char *label, int nargs,
                                 const char **args, int ncols,
                                 const char **cols)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    ub_tx tx;
    int rc, i;

    rc = run(req, db, label, 0, nargs, args, &res, &tx);
    if (rc != 0) {
        return finish(req, db, &tx, statement_failed(req, label, &tx));
    }
    rc = apr_dbd_get_row(db->driver, req->pool, res, &row, -1);
    if (rc != 0) {
        return finish(req, db, &tx,
                      fail(req, "UB0211 reading the statement's rows failed", db_error(req, db, rc)));
    }
    for (i = 0; i < ncols; i++) {
        const char *v = entry(db, row, i);
        cols[i] = v ? apr_pstrdup(req->pool, v) : NULL;
    }
    /* Read to the end so the connection is free for the next statement. */
    while (apr_dbd_get_row(db->driver, req->pool, res, &row, -1) == 0)
        ;
    return finish(req, db, &tx, APR_SUCCESS);
}

apr_status_t ub_store_account_update(const ub_request *req, ub_db *db,
                                     const char **args, int dry_run,
                                     ub_store_row_fn *fn, void *baton)
{
    return each_row(req, db, UB_STMT_ACCOUNT_UPDATE, dry_run, 4, args, fn, baton);
}

apr_status_t ub_store_revert(const ub_request *req, ub_db *db, const char **args,
                             ub_store_row_fn *fn, void *baton)
{
    return each_row(req, db, UB_STMT_REVERT, 0, 5, args, fn, baton);
}

apr_status_t ub_store_scim_write(const ub_request *req, ub_db *db, const char **args,
                                 ub_store_row_fn *fn, void *baton)
{
    return each_row(req, db, UB_STMT_SCIM_WRITE, 0, UB_SCIM_WRITE_ARGS, args, fn, baton);
}
