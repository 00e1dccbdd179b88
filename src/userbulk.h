/*
 * userbulk.h: types shared by the core of mod_userbulk.
 *
 * The core (everything under src/) knows APR, APR-util and jansson, never
 * httpd: the glue in mod_userbulk.c hands it a request context, a database
 * handle and a brigade to write into, and it hands back an HTTP status.
 */
#ifndef UB_USERBULK_H
#define UB_USERBULK_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_buckets.h>
#include <apr_dbd.h>
#include <apr_hash.h>

/* Defaults of the directives, also used by the unit tests. */
/* A store's status: the connection was lost during COMMIT, so the request
 * may or may not have been applied (src/store.c, finish). */
#define UB_COMMIT_UNKNOWN (APR_OS_START_USERERR + 1)

#define UB_DEFAULT_MAX_RECORDS   1000
#define UB_DEFAULT_MAX_BODY      (8 * 1024 * 1024)
#define UB_DEFAULT_RETRY_AFTER   5

/* Caps on what one body may hold, far above what a caller sends and low
 * enough that the work and memory they bound stay small. Role lists: the
 * roles of one PUT record, and the POST's userRoleIds and userRoles (the
 * POST's userIds and the PUT's records are capped by the record limit). */
#define UB_MAX_ROLES 1000
/* JSON values of a body, at any depth, containers included: the parser
 * stops at one more. A full PUT record is about 25 values; a value costs
 * the parse up to about 80 bytes (its node, and its place on the working
 * vector while its container is open), so this bounds the parse's memory
 * whatever the body's shape. */
#define UB_JSON_VALUES_BASE       8192
#define UB_JSON_VALUES_PER_RECORD 256
#define UB_MAX_JSON_VALUES(max_records) \
    (UB_JSON_VALUES_BASE + (apr_size_t)(max_records) * UB_JSON_VALUES_PER_RECORD)

/* Column lengths, in characters. They must match
 * src/sql/migrations/001_directory.sql: the core checks them so that an
 * overlong value is a per-record error, never a database error. */
#define UB_LEN_USER_NAME   100
#define UB_LEN_PERSON_NAME 100
#define UB_LEN_DISPLAY     300
#define UB_LEN_EMAIL       254
#define UB_LEN_PHONE       32
#define UB_LEN_CODE        64
#define UB_LEN_ROLE_NAME   100
#define UB_LEN_LOGIN_NAME  100
#define UB_LEN_PROFILE_PIC 2048
#define UB_LEN_EXTERNAL_ID 256    /* SCIM externalId (migration 010) */

/* Labels of the prepared statements (apr_dbd wants them lowercase). */
#define UB_STMT_PUT_USERS      "userbulk_put_users"
#define UB_STMT_ACCOUNT_UPDATE "userbulk_account_update"
#define UB_STMT_GET_USERS      "userbulk_get_users"
#define UB_STMT_USER_CHANGES   "userbulk_user_changes"
#define UB_STMT_SCIM_USERS     "userbulk_scim_users"
#define UB_STMT_SCIM_USER      "userbulk_scim_user"
#define UB_STMT_SCIM_GROUPS    "userbulk_scim_groups"
#define UB_STMT_SCIM_GROUP     "userbulk_scim_group"
#define UB_STMT_SCIM_GROUP_CREATE "userbulk_scim_group_create"
#define UB_STMT_SCIM_GROUP_CHANGE "userbulk_scim_group_change"
#define UB_STMT_SCIM_GROUP_DELETE "userbulk_scim_group_delete"
#define UB_STMT_SCIM_WRITE     "userbulk_scim_write"
#define UB_STMT_REVERT         "userbulk_revert"

typedef enum {
    UB_LOG_ERR,
    UB_LOG_WARNING,
    UB_LOG_INFO,
    UB_LOG_DEBUG
} ub_log_level;

/* The core logs through this callback, which the glue points at
 * ap_log_rerror so that every line carries the request's context; file and
 * line are where the core wrote the message. */
typedef void ub_log_fn(void *baton, const char *file, int line,
                       ub_log_level level, apr_status_t rv, const char *msg);

/* One request, as the core sees it. */
typedef struct {
    apr_pool_t *pool;
    const char *trace_id;
    const char *account;        /* account code the caller acts in */
    const char *actor;          /* who the caller is, for the audit trail */
    int max_records;
    ub_log_fn *log;
    void *log_baton;
    ub_log_level log_level;     /* the most detailed level the glue writes:
                                 * messages past it are not even formatted */
    /* PUT /users controls (?atomic=true, ?dryRun=true or Prefer:
     * tx=rollback, Idempotency-Key); POST's If-Match. */
    int atomic;
    int dry_run;
    int diff;                   /* ?diff=true: answer each change's fields */
    int force;                  /* revert: ?force=true */
    const char *idempotency_key;
    const char *if_match;
} ub_request;

/* A pooled database connection and the statements prepared on it (by
 * mod_dbd when it opened the connection; again by the store when the
 * driver silently reconnected and the server forgot them). */
typedef struct ub_db_t {
    const apr_dbd_driver_t *driver;
    apr_dbd_t *handle;
    apr_pool_t *conn_pool;      /* lives as long as the connection */
    apr_hash_t *prepared;       /* label -> apr_dbd_prepared_t */
    int calls;                  /* statements this request ran */
    apr_interval_time_t usec;   /* and the time they took */
} ub_db;

/* A failure of the request as a whole (as opposed to one record). */
typedef struct {
    int status;                 /* HTTP status */
    const char *code;           /* stable machine word, e.g. "not_json" */
    const char *message;        /* one line for a person */
    const char *description;    /* what to do about it */
    const char *error_type;     /* envelope's errorType; NULL: from status */
    const char *scim_type;      /* SCIM error's scimType; NULL: none */
} ub_problem;

/* The APIs: each spells its errors its own way. */
typedef enum {
    UB_EP_PUT_USERS,
    UB_EP_ACCOUNT_UPDATE,
    UB_EP_SCIM                  /* RFC 7644 section 3.12, application/scim+json */
} ub_endpoint;

/* How the core reaches the database: asked for only when a request gets
 * that far, so a malformed request is answered even while PostgreSQL is
 * away. acquire returns NULL when no connection can be had. */
typedef struct {
    struct ub_db_t *(*acquire)(void *baton);
    void *baton;
} ub_db_source;

/* What one request did, for the request's log line and the counters. */
typedef struct {
    int status;
    int processed;
    int applied;
    int failed;
    int db_calls;               /* statements run */
    apr_interval_time_t db_usec;    /* time spent in them */
} ub_outcome;

/* A failure of one field of one record. */
typedef struct {
    const char *field;          /* JSON path inside the record: "name.firstName" */
    const char *code;           /* stable machine word, e.g. "invalid_format" */
    const char *message;
} ub_field_error;

/* ub_logf(req, level, rv, fmt, ...): one line of the request's log, with
 * the file and line it is written from; a level the glue does not write
 * costs one comparison (the arguments are not evaluated). Each message starts with its own
 * tag (UBnnnn; README, Troubleshooting). */
#define ub_logf(req, level, rv, ...) \
    do { \
        if ((req)->log != NULL && (level) <= (req)->log_level) { \
            ub_log_at((req), __FILE__, __LINE__, (level), (rv), __VA_ARGS__); \
        } \
    } while (0)

void ub_log_at(const ub_request *req, const char *file, int line,
               ub_log_level level, apr_status_t rv, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

#endif
