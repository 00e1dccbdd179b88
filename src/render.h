/*
 * render.h: response bodies, written straight into the output brigade.
 */
#ifndef UB_RENDER_H
#define UB_RENDER_H

#include "userbulk.h"
#include "batch.h"
#include "json.h"

/* The short reason phrase of the statuses the module answers. */
const char *ub_status_phrase(int status);

/* {"code","message","description"}: the seed's error form of PUT /users. A
 * 400 also carries the seed's counters (all zero), so a client reading
 * either form finds what it looks for. */
apr_status_t ub_render_put_problem(apr_bucket_brigade *bb, const ub_problem *p);

/* The SCIM error (RFC 7644 section 3.12): schemas, status as a string,
 * scimType when the problem has one, detail (message and description). */
apr_status_t ub_render_scim_problem(apr_bucket_brigade *bb, const ub_problem *p);

/* The same error as a value inside a document being written (a Bulk
 * operation's response). */
void ub_jw_scim_problem(ub_jw *w, apr_pool_t *pool, const ub_problem *p);

/* "changes": {"before": ..., "after": ...} (?diff=true): the fields a
 * record changes, as the database wrote them (JSON text, written as it
 * is: the audit row's bytes). */
void ub_render_changes(ub_jw *w, const char *before, const char *after);

/* The seed's results body; *status becomes 200 when at least one record
 * was applied, 400 when none was. */
apr_status_t ub_render_put_results(apr_bucket_brigade *bb,
                                   const ub_put_batch *batch, int *status);

/* The envelope of POST /api/v1/account/users/update. data_json is written
 * as it is (already JSON), or null when NULL. */
typedef struct {
    int status;
    const char *data_json;
    const char *message;
    const char *error_type;         /* NULL on success */
    const char *description;
    const char *trace_id;
} ub_envelope;

apr_status_t ub_render_envelope(apr_bucket_brigade *bb, const ub_envelope *e);

/* The envelope after "data" (data_json is not used), and its closing
 * brace: for a caller that streamed "data" itself into w. */
void ub_render_envelope_tail(ub_jw *w, const ub_envelope *e);

/* The envelope for a refused request. */
apr_status_t ub_render_envelope_problem(apr_bucket_brigade *bb,
                                        const ub_problem *p,
                                        const char *trace_id);

#endif
