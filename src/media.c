/*
 * media.c: content negotiation, kept small on purpose.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "media.h"

/* Whether the parameter list (";a=b; c=d") declares a charset other than
 * UTF-8. */
static int other_charset(const char *params)
{
    const char *p = params;

    while (*p == ';') {
        const char *name, *value;
        apr_size_t name_len, value_len;

        p++;
        while (apr_isspace(*p)) {
            p++;
        }
        name = p;
        while (*p && *p != '=' && *p != ';' && !apr_isspace(*p)) {
            p++;
        }
        name_len = (apr_size_t)(p - name);
        while (apr_isspace(*p)) {
            p++;
        }
        value = p;
        value_len = 0;
        if (*p == '=') {
            p++;
            while (apr_isspace(*p)) {
                p++;
            }
            if (*p == '"') {
                value = ++p;
                while (*p && *p != '"') {
                    p++;
                }
                value_len = (apr_size_t)(p - value);
                if (*p == '"') {
                    p++;
                }
            }
            else {
                value = p;
                while (*p && *p != ';' && !apr_isspace(*p)) {
                    p++;
                }
                value_len = (apr_size_t)(p - value);
            }
        }
        while (*p && *p != ';') {
            p++;
        }
        if (name_len == 7 && strncasecmp(name, "charset", 7) == 0
            && !((value_len == 5 && strncasecmp(value, "utf-8", 5) == 0)
                 || (value_len == 4 && strncasecmp(value, "utf8", 4) == 0))) {
            return 1;
        }
    }
    return 0;
}

int ub_media_type_is(const char *content_type, const char *media_type)
{
    apr_size_t n = strlen(media_type);
    const char *p;

    if (content_type == NULL) {
        return 0;
    }
    while (apr_isspace(*content_type)) {
        content_type++;
    }
    if (strncasecmp(content_type, media_type, n) != 0) {
        return 0;
    }
    p = content_type + n;
    while (apr_isspace(*p)) {
        p++;
    }
    if (*p != '\0' && *p != ';') {
        return 0;
    }
    /* A body is JSON only in UTF-8; refuse a declared other charset rather
     * than misread it. */
    return !other_charset(p);
}

int ub_media_type_accepted(ub_endpoint ep, const char *content_type)
{
    if (ub_media_type_is(content_type, "application/json")) {
        return 1;
    }
    if (ep == UB_EP_SCIM) {
        return ub_media_type_is(content_type, "application/scim+json");
    }
    return ep == UB_EP_ACCOUNT_UPDATE
           && ub_media_type_is(content_type, "application/json-patch+json");
}

const char *ub_media_types(ub_endpoint ep)
{
    return ep == UB_EP_ACCOUNT_UPDATE ? "application/json-patch+json or application/json"
           : ep == UB_EP_SCIM ? "application/scim+json or application/json"
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
