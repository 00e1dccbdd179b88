/*
 * mod_userbulk.h: private header of the httpd glue. Declares the module so
 * that `LogLevel userbulk:debug` applies to every line the glue logs.
 */
#ifndef MOD_USERBULK_H
#define MOD_USERBULK_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <ap_expr.h>
#include <apr_dbd.h>
#include <mod_dbd.h>

#include "userbulk.h"
#include "counters.h"
#include "pipeline.h"

extern module AP_MODULE_DECLARE_DATA userbulk_module;

#ifdef APLOG_USE_MODULE
APLOG_USE_MODULE(userbulk);
#endif

/* Per directory: the directives of a location (mod_userbulk_config.c). */
typedef struct {
    ap_expr_info_t *account;    /* the caller's account code */
    ap_expr_info_t *actor;      /* the caller, for the audit trail */
    ap_expr_info_t *not_before; /* the token's nbf claim, if checked here */
    int max_records;
    apr_off_t max_body;
    int retry_after;
    int read_back;              /* GET /users answers users as PUT takes them */
    int change_feed;            /* GET /users/changes answers the change feed */
    int revert;                 /* POST .../requests/{id}/revert */
    int diff;                   /* ?diff=true */
    unsigned int set;           /* which of the above this level set */
} ub_dir_conf;

/* Per server: mod_dbd's acquire function and the shared counters, set
 * after the configuration is read (no module-level state). */
typedef struct {
    int statements_prepared;
    ap_dbd_t *(*dbd_acquire)(request_rec *r);
    ub_counters *counters;      /* shared by all children; NULL if none */
} ub_server_conf;

void *ub_create_dir_conf(apr_pool_t *p, char *dir);
void *ub_merge_dir_conf(apr_pool_t *p, void *basev, void *addv);
void *ub_create_server_conf(apr_pool_t *p, server_rec *s);
int ub_conf_max_records(const ub_dir_conf *c);
apr_off_t ub_conf_max_body(const ub_dir_conf *c);
int ub_conf_retry_after(const ub_dir_conf *c);
extern const command_rec ub_cmds[];

/* Fills in with the core's description of r for handler: headers, the
 * directives' values evaluated for r (failures logged through req), the
 * body reader (mod_userbulk_request.c). */
void ub_describe_request(request_rec *r, const ub_request *req, ub_handler handler,
                         ub_read_body_fn *read_body, void *body_baton, ub_http_in *in);

/* Reads the whole body of r (mod_userbulk_body.c): 0 with *buf and *len
 * set, or an HTTP status with *problem filled when the client is to get a
 * body, left empty when the server failed. */
int ub_read_request_body(request_rec *r, const ub_request *req, apr_off_t limit,
                         const char **buf, apr_size_t *len, ub_problem *problem);

/* mod_status hook: the counters in /server-status (mod_userbulk_status.c). */
int ub_status_hook(request_rec *r, int flags);

/* Handler names, for SetHandler. */
#define UB_HANDLER_PUT_USERS      "userbulk-put-users"
#define UB_HANDLER_ACCOUNT_UPDATE "userbulk-account-update"
#define UB_HANDLER_ERROR          "userbulk-error"
#define UB_HANDLER_SCIM_NAME      "userbulk-scim"

#endif
