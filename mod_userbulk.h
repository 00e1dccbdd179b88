/*
 * mod_userbulk.h: private header of the httpd glue. Declares the module so
 * that `LogLevel userbulk:debug` applies to every line the glue logs.
 */
#ifndef MOD_USERBULK_H
#define MOD_USERBULK_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <apr_dbd.h>
#include <mod_dbd.h>

#include "counters.h"

extern module AP_MODULE_DECLARE_DATA userbulk_module;

#ifdef APLOG_USE_MODULE
APLOG_USE_MODULE(userbulk);
#endif

/* Per server: mod_dbd's acquire function and the shared counters, set
 * after the configuration is read (no module-level state). */
typedef struct {
    int statements_prepared;
    ap_dbd_t *(*dbd_acquire)(request_rec *r);
    ub_counters *counters;      /* shared by all children; NULL if none */
} ub_server_conf;

/* mod_status hook: the counters in /server-status (mod_userbulk_status.c). */
int ub_status_hook(request_rec *r, int flags);

/* Handler names, for SetHandler. */
#define UB_HANDLER_PUT_USERS      "userbulk-put-users"
#define UB_HANDLER_ACCOUNT_UPDATE "userbulk-account-update"
#define UB_HANDLER_ERROR          "userbulk-error"

#endif
