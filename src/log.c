/*
 * log.c: formatted logging through the callback the glue installed.
 */
#include <apr_strings.h>
#include "userbulk.h"

void ub_log_at(const ub_request *req, const char *file, int line,
               ub_log_level level, apr_status_t rv, const char *fmt, ...)
{
    va_list ap;
    const char *msg;

    if (req->log == NULL || level > req->log_level) {
        return;
    }
    va_start(ap, fmt);
    msg = apr_pvsprintf(req->pool, fmt, ap);
    va_end(ap);
    req->log(req->log_baton, file, line, level, rv, msg);
}
