/*
 * errors.c: request-level refusals, worded once.
 */
#include <apr_strings.h>
#include "errors.h"
#include "render.h"

void ub_problem_set(ub_problem *p, int status, const char *code,
                    const char *message, const char *description)
{
    p->status = status;
    p->code = code;
    p->message = message;
    p->description = description;
    p->error_type = NULL;
    p->scim_type = NULL;
}

void ub_problem_method(apr_pool_t *pool, ub_problem *p, const char *allowed)
{
    ub_problem_set(p, 405, "method_not_allowed",
                   apr_psprintf(pool, "this resource answers %s only", allowed),
                   "See the Allow header.");
}

void ub_problem_media_type(apr_pool_t *pool, ub_problem *p, const char *accepted)
{
    ub_problem_set(p, 415, "unsupported_media_type",
                   apr_psprintf(pool, "the body must be sent as %s", accepted),
                   "Set the Content-Type header; only UTF-8 is accepted.");
}

void ub_problem_too_large(apr_pool_t *pool, ub_problem *p, apr_off_t limit)
{
    ub_problem_set(p, 413, "body_too_large",
                   apr_psprintf(pool, "the body is larger than %" APR_OFF_T_FMT
                                " bytes", limit),
                   "Split the update into smaller requests; nothing was changed.");
}

void ub_problem_unavailable(ub_problem *p)
{
    ub_problem_set(p, 503, "unavailable",
                   "the user directory is unavailable; nothing was changed",
                   "Retry the same request after the delay in Retry-After.");
}

void ub_problem_store(ub_problem *p, apr_status_t rv)
{
    if (rv != UB_COMMIT_UNKNOWN) {
        ub_problem_unavailable(p);
        return;
    }
    ub_problem_set(p, 503, "commit_unknown",
                   "the connection to the user directory was lost while the request "
                   "committed: it may have been applied, in whole, or not at all",
                   "Read the users back before sending it again, or send it again with "
                   "the same Idempotency-Key (PUT /users), which answers what the first "
                   "one did if it committed.");
}

void ub_problem_no_account(ub_problem *p)
{
    ub_problem_set(p, 403, "no_account",
                   "the credentials name no account to act in",
                   "Use a token issued for an account.");
}

void ub_problem_no_actor(ub_problem *p)
{
    ub_problem_set(p, 403, "no_actor",
                   "the credentials name no caller for the audit trail",
                   "Use credentials that name the caller (UserBulkActor found "
                   "none); nothing was changed.");
}

void ub_problem_auth(ub_problem *p, int status)
{
    if (status == 403) {
        ub_problem_set(p, 403, "forbidden",
                       "the token does not carry a role allowed to do this",
                       "Use a token with the role this API requires.");
    }
    else {
        ub_problem_set(p, 401, "unauthorized",
                       "missing or invalid bearer token",
                       "Send a valid, unexpired token: Authorization: Bearer <token>.");
    }
}

apr_status_t ub_render_problem(ub_endpoint ep, apr_bucket_brigade *bb,
                               const ub_problem *p, const char *trace_id)
{
    if (ep == UB_EP_ACCOUNT_UPDATE) {
        return ub_render_envelope_problem(bb, p, trace_id);
    }
    if (ep == UB_EP_SCIM) {
        return ub_render_scim_problem(bb, p);
    }
    return ub_render_put_problem(bb, p);
}
