/*
 * pipeline.h: one HTTP request through the core.
 *
 * The glue fills a ub_http_in (what httpd parsed and the directives'
 * values, evaluated for this request) and renders the ub_http_out the core
 * answers. Everything in between is policy and lives here: which handler
 * and method reach which endpoint (one table), the order of the checks,
 * which refusals close the connection, and how a status becomes a problem
 * body in the form of the API that was asked.
 */
#ifndef UB_PIPELINE_H
#define UB_PIPELINE_H

#include "userbulk.h"
#include "counters.h"

/* The handlers a location can be given (SetHandler). */
typedef enum {
    UB_HANDLER_USERS,           /* "userbulk-put-users": PUT /users (+ GET) */
    UB_HANDLER_ACCOUNT,         /* "userbulk-account-update": the POST API */
    UB_HANDLER_SCIM,            /* "userbulk-scim": SCIM 2.0 */
    UB_HANDLER_ERRORS           /* "userbulk-error": ErrorDocument bodies */
} ub_handler;

/* Reads the whole request body, refusing it past limit. Returns 0 with
 * *buf and *len set; or an HTTP status, with *problem filled when the
 * client is to get a body (413, 400), left empty when the server failed. */
typedef int ub_read_body_fn(void *baton, apr_off_t limit, const char **buf,
                            apr_size_t *len, ub_problem *problem);

/* The request as the glue saw it. */
typedef struct {
    ub_handler handler;
    const char *method;         /* as sent: "PUT", "GET", ... */
    const char *uri;            /* for log lines; SCIM: its routes */
    const char *origin;         /* "https://host:port": SCIM's meta.location */
    const char *args;           /* the query string, or NULL */
    const char *content_type;   /* the request headers the core reads */
    const char *accept;
    const char *prefer;
    const char *idempotency_key;
    const char *if_match;
    /* The directives of the location, evaluated for this request. */
    int account_set;            /* UserBulkAccount is configured */
    const char *account;        /* its value ("" when it evaluated empty) */
    const char *actor;          /* UserBulkActor, or the authenticated user */
    const char *not_before;     /* UserBulkNotBefore's value, NULL if not set */
    apr_time_t request_time;
    int read_back;              /* UserBulkReadBack */
    int change_feed;            /* UserBulkChangeFeed */
    int revert;                 /* UserBulkRevert: POST .../requests/{id}/revert */
    int diff;                   /* UserBulkDiff: ?diff=true */
    int max_records;
    apr_off_t max_body;
    int retry_after;
    /* UB_HANDLER_ERRORS only: the status of the request the error document
     * is for (0: the path was asked directly), and whether the document is
     * the POST API's (its path ends in /account-update) or SCIM's (/scim). */
    int error_status;
    int error_for_account_api;
    int error_for_scim;
    ub_read_body_fn *read_body;
    void *body_baton;
} ub_http_in;

/* The answer. body holds the rendered body when rendered is set; when it
 * is not, the glue answers status itself (httpd's own error handling). */
typedef struct {
    int status;
    int rendered;
    const char *content_type;
    apr_table_t *headers;       /* to send with any status (Allow, ...) */
    int close_connection;       /* a body may still be coming: do not read it */
    int counted;                /* outcome and counter are to be counted */
    ub_ctr_endpoint counter;
    const char *endpoint_key;   /* one word for the request's log line */
    ub_outcome outcome;
} ub_http_out;

/* Whether a token's "nbf" claim (seconds since the epoch, as the auth
 * module passed it on) lies in the future by more than leeway seconds. A
 * value that is not a whole number counts as not valid. */
int ub_not_yet_valid(const char *nbf, apr_time_t now, int leeway);

/* SCIM: the location's base path ("/scim/v2") and the path after it
 * ("/Users/{id}") read from uri, by the endpoint names of RFC 7644 section
 * 3.2 at its end. 1, or 0 when uri ends in none. */
int ub_scim_split_uri(apr_pool_t *pool, const char *uri, const char **base,
                      const char **path);

/* Serves one request: req (pool, trace id, logging) is the core's view of
 * it, filled as the checks go (account, actor, options). APR_SUCCESS with
 * out filled, or a failure of the core itself (logged; out->status 500,
 * nothing rendered). */
apr_status_t ub_serve(ub_request *req, const ub_http_in *in,
                      const ub_db_source *dbs, apr_bucket_brigade *body,
                      ub_http_out *out);

#endif
