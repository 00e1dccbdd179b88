/*
 * media.h: which request bodies each endpoint takes, and which answer form
 * a client's Accept asks for.
 */
#ifndef UB_MEDIA_H
#define UB_MEDIA_H

#include "userbulk.h"

/* Whether a Content-Type header names the media type (case-insensitive,
 * parameters such as charset allowed; a charset other than UTF-8 is not). */
int ub_media_type_is(const char *content_type, const char *media_type);

int ub_media_type_accepted(ub_endpoint ep, const char *content_type);

/* For the 415 message. */
const char *ub_media_types(ub_endpoint ep);

/* Whether Accept asks for text/plain and not for JSON (the POST API may
 * answer its JSON as text/plain, as its seed shows). */
int ub_accept_prefers_text(const char *accept);

#endif
