/*
 * errors.h: the refusals every endpoint shares, and writing a refusal in
 * the form of the endpoint that was asked.
 */
#ifndef UB_ERRORS_H
#define UB_ERRORS_H

#include "userbulk.h"

void ub_problem_set(ub_problem *p, int status, const char *code,
                    const char *message, const char *description);

void ub_problem_method(apr_pool_t *pool, ub_problem *p, const char *allowed);
void ub_problem_media_type(apr_pool_t *pool, ub_problem *p, const char *accepted);
void ub_problem_too_large(apr_pool_t *pool, ub_problem *p, apr_off_t limit);
void ub_problem_unavailable(ub_problem *p);
/* A store's failure rv as the request's problem: commit_unknown (503,
 * "may have been applied") for UB_COMMIT_UNKNOWN, else unavailable. */
void ub_problem_store(ub_problem *p, apr_status_t rv);
void ub_problem_no_account(ub_problem *p);
/* 403: the credentials name no actor for the audit trail. */
void ub_problem_no_actor(ub_problem *p);
/* 401 or 403 after the auth module refused the token. */
void ub_problem_auth(ub_problem *p, int status);

apr_status_t ub_render_problem(ub_endpoint ep, apr_bucket_brigade *bb,
                               const ub_problem *p, const char *trace_id);

#endif
