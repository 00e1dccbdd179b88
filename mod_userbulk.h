/*
 * mod_userbulk.h: private header of the httpd glue. Declares the module so
 * that `LogLevel userbulk:debug` applies to every line the glue logs.
 */
#ifndef MOD_USERBULK_H
#define MOD_USERBULK_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

extern module AP_MODULE_DECLARE_DATA userbulk_module;

#ifdef APLOG_USE_MODULE
APLOG_USE_MODULE(userbulk);
#endif

/* Handler names, for SetHandler. */
#define UB_HANDLER_PUT_USERS      "userbulk-put-users"
#define UB_HANDLER_ACCOUNT_UPDATE "userbulk-account-update"
#define UB_HANDLER_ERROR          "userbulk-error"

#endif
