/*
 * media.c: content negotiation, kept small on purpose.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "media.h"
#include "validate.h"

int ub_media_type_accepted(ub_endpoint ep, const char *content_type)
{
    if (ub_media_type_is(content_type, "application/json")) {
        return 1;
    }
    return ep == UB_EP_ACCOUNT_UPDATE
           && ub_media_type_is(content_type, "application/json-patch+json");
}

const char *ub_media_types(ub_endpoint ep)
{
    return ep == UB_EP_ACCOUNT_UPDATE
           ? "application/json-patch+json or application/json"
           : "application/json";
}

/* The q value of one Accept element ("text/plain;q=0.5"); 1 when absent. */
static double quality(const char *params, const char *end)
{
    const char *q = params;

    while (q < end && (q = strchr(q, ';')) != NULL && q < end) {
        q++;
        while (apr_isspace(*q)) {
            q++;
        }
        if ((q[0] == 'q' || q[0] == 'Q') && q[1] == '=') {
            return atof(q + 2);
        }
    }
    return 1.0;
}

int ub_accept_prefers_text(const char *accept)
{
    double text = 0.0, json = 0.0;
    const char *p = accept;

    if (accept == NULL) {
        return 0;
    }
    while (*p) {
        const char *end = strchr(p, ',');
        const char *type = p;
        apr_size_t n;

        if (end == NULL) {
            end = p + strlen(p);
        }
        while (type < end && apr_isspace(*type)) {
            type++;
        }
        for (n = 0; type + n < end && type[n] != ';' && !apr_isspace(type[n]); n++)
            ;
        if (n == 10 && strncasecmp(type, "text/plain", n) == 0) {
            double q = quality(type + n, end);
            text = q > text ? q : text;
        }
        else if ((n == 16 && strncasecmp(type, "application/json", n) == 0)
                 || (n == 3 && strncmp(type, "*/*", n) == 0)
                 || (n == 13 && strncasecmp(type, "application/*", n) == 0)) {
            double q = quality(type + n, end);
            json = q > json ? q : json;
        }
        p = *end ? end + 1 : end;
    }
    return text > 0.0 && text > json;
}
