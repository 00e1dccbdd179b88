/*
 * pipeline.c: the order of a request's checks, the endpoint table, and
 * refusals rendered in the form of the API that was asked.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "pipeline.h"
#include "errors.h"
#include "media.h"
#include "headers.h"
#include "render.h"
#include "put_users.h"
#include "query.h"
#include "account_update.h"
#include "read_users.h"
#include "changes.h"
#include "scim_users.h"
#include "scim_config.h"
#include "scim_groups.h"
#include "scim_write.h"
#include "scim_bulk.h"
#include "revert.h"

/* Clock skew allowed between the token issuer and this server. */
#define NOT_BEFORE_LEEWAY 60

int ub_not_yet_valid(const char *nbf, apr_time_t now, int leeway)
{
    char *end;
    apr_int64_t v;

    while (apr_isspace(*nbf)) {
        nbf++;
    }
    v = apr_strtoi64(nbf, &end, 10);
    if (end == nbf || (*end != '\0' && *end != '.')) {
        return 1;
    }
    return v > apr_time_sec(now) + leeway;
}

typedef apr_status_t ub_route_fn(ub_request *req, const ub_http_in *in,
                                 const ub_db_source *dbs,
                                 apr_bucket_brigade *body, ub_http_out *out);

static ub_route_fn serve_put_users, serve_get_users, serve_get_changes, serve_account_update,
                   serve_scim_users, serve_scim_create_user, serve_scim_user,
                   serve_scim_config, serve_scim_groups, serve_scim_group,
                   serve_scim_group_write, serve_scim_put_user, serve_scim_patch_user,
                   serve_scim_delete_user, serve_scim_bulk,
                   serve_scim_schemas, serve_scim_resource_types, serve_revert;

/* Which handler, path and method reach which endpoint. A handler's methods
 * are listed in the order the Allow header names them. path: NULL for a
 * handler that serves its location alone; else the path after the
 * location, "/Users/{}" for one more segment. needs: a directive that
 * must be On for the route to exist. */
#define NEEDS_READ_BACK   1     /* UserBulkReadBack */
#define NEEDS_CHANGE_FEED 2     /* UserBulkChangeFeed */
#define NEEDS_REVERT      3     /* UserBulkRevert */
typedef struct {
    ub_handler handler;
    const char *path;
    const char *method;
    int needs;                  /* 0, or the NEEDS_ directive that must be On */
    ub_endpoint form;           /* how its errors are spelled */
    ub_ctr_endpoint counter;
    const char *key;            /* the endpoint in the request's log line */
    ub_route_fn *serve;
} ub_route;

static const ub_route routes[] = {
    { UB_HANDLER_USERS, NULL, "GET", NEEDS_READ_BACK, UB_EP_PUT_USERS, UB_CTR_GET_USERS,
      "get_users", serve_get_users },
    { UB_HANDLER_USERS, "/changes", "GET", NEEDS_CHANGE_FEED, UB_EP_PUT_USERS, UB_CTR_CHANGES,
      "user_changes", serve_get_changes },
    { UB_HANDLER_USERS, NULL, "PUT", 0, UB_EP_PUT_USERS, UB_CTR_PUT_USERS, "put_users",
      serve_put_users },
    { UB_HANDLER_USERS, "/requests/{}/revert", "POST", NEEDS_REVERT, UB_EP_PUT_USERS, UB_CTR_PUT_USERS,
      "revert", serve_revert },
    { UB_HANDLER_ACCOUNT, NULL, "POST", 0, UB_EP_ACCOUNT_UPDATE, UB_CTR_ACCOUNT_UPDATE,
      "account_update", serve_account_update },
    { UB_HANDLER_SCIM, "/Users", "GET", 0, UB_EP_SCIM, UB_CTR_SCIM, "scim_users",
      serve_scim_users },
    { UB_HANDLER_SCIM, "/Users", "POST", 0, UB_EP_SCIM, UB_CTR_SCIM, "scim_create_user",
      serve_scim_create_user },
    { UB_HANDLER_SCIM, "/Users/{}", "GET", 0, UB_EP_SCIM, UB_CTR_SCIM, "scim_user",
      serve_scim_user },
    { UB_HANDLER_SCIM, "/Users/{}", "PUT", 0, UB_EP_SCIM, UB_CTR_SCIM, "scim_put_user",
      serve_scim_put_user },
    { UB_HANDLER_SCIM, "/Users/{}", "PATCH", 0, UB_EP_SCIM, UB_CTR_SCIM, "scim_patch_user",
      serve_scim_patch_user },
    { UB_HANDLER_SCIM, "/Users/{}", "DELETE", 0, UB_EP_SCIM, UB_CTR_SCIM, "scim_delete_user",
      serve_scim_delete_user },
    { UB_HANDLER_SCIM, "/Bulk", "POST", 0, UB_EP_SCIM, UB_CTR_SCIM, "scim_bulk",
      serve_scim_bulk },
    { UB_HANDLER_SCIM, "/Groups", "GET", 0, UB_EP_SCIM, UB_CTR_SCIM, "scim_groups",
      serve_scim_groups },
    { UB_HANDLER_SCIM, "/Groups", "POST", 0, UB_EP_SCIM, UB_CTR_SCIM, "scim_create_group",
      serve_scim_group_write },
    { UB_HANDLER_SCIM, "/Groups/{}", "GET", 0, UB_EP_SCIM, UB_CTR_SCIM, "scim_group",
      serve_scim_group },
    { UB_HANDLER_SCIM, "/Groups/{}", "PUT", 0, UB_EP_SCIM, UB_CTR_SCIM, "scim_put_group",
      serve_scim_group_write },
    { UB_HANDLER_SCIM, "/Groups/{}", "PATCH", 0, UB_EP_SCIM, UB_CTR_SCIM, "scim_patch_group",
      serve_scim_group_write },
    { UB_HANDLER_SCIM, "/Groups/{}", "DELETE", 0, UB_EP_SCIM, UB_CTR_SCIM, "scim_delete_group",
      serve_scim_group_write },
    { UB_HANDLER_SCIM, "/ServiceProviderConfig", "GET", 0, UB_EP_SCIM, UB_CTR_SCIM,
      "scim_config", serve_scim_config },
    { UB_HANDLER_SCIM, "/Schemas", "GET", 0, UB_EP_SCIM, UB_CTR_SCIM, "scim_schemas",
      serve_scim_schemas },
    { UB_HANDLER_SCIM, "/Schemas/{}", "GET", 0, UB_EP_SCIM, UB_CTR_SCIM, "scim_schemas",
      serve_scim_schemas },
    { UB_HANDLER_SCIM, "/ResourceTypes", "GET", 0, UB_EP_SCIM, UB_CTR_SCIM,
      "scim_resource_types", serve_scim_resource_types },
    { UB_HANDLER_SCIM, "/ResourceTypes/{}", "GET", 0, UB_EP_SCIM, UB_CTR_SCIM,
      "scim_resource_types", serve_scim_resource_types },
};

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

/* SCIM's endpoints (RFC 7644 section 3.2) and the ones with a resource id
 * after them. */
static const char *const scim_endpoints[] = {
    "/Users", "/Groups", "/ServiceProviderConfig", "/Schemas", "/ResourceTypes", "/Bulk"
};
static const char *const scim_collections[] = { "/Users", "/Groups", "/Schemas",
                                                "/ResourceTypes" };

static int ends_with_segment(const char *uri, apr_size_t end, const char *seg)
{
    apr_size_t n = strlen(seg);

    return end >= n && strncmp(uri + end - n, seg, n) == 0;
}

/* The SCIM location's base path and the path after it, from the URI: its
 * last segment when that names an endpoint (".../Users"), else its last two
 * when the first of them names a collection (".../Users/{id}"); the id
 * reading is tried first, so that /Users/Users is a user. 0 when the URI
 * names no endpoint. */
int ub_scim_split_uri(apr_pool_t *pool, const char *uri, const char **base,
                      const char **path)
{
    apr_size_t len = strlen(uri), i;
    const char *last = strrchr(uri, '/');

    if (last != NULL && last[1] != '\0') {
        apr_size_t id_at = (apr_size_t)(last - uri);

        for (i = 0; i < sizeof(scim_collections) / sizeof(scim_collections[0]); i++) {
            if (ends_with_segment(uri, id_at, scim_collections[i])) {
                apr_size_t at = id_at - strlen(scim_collections[i]);
                *base = apr_pstrndup(pool, uri, at);
                *path = uri + at;
                return 1;
            }
        }
    }
    for (i = 0; i < sizeof(scim_endpoints) / sizeof(scim_endpoints[0]); i++) {
        if (ends_with_segment(uri, len, scim_endpoints[i])) {
            apr_size_t at = len - strlen(scim_endpoints[i]);
            *base = apr_pstrndup(pool, uri, at);
            *path = uri + at;
            return 1;
        }
    }
    return 0;
}

/* Whether path matches a route's pattern ("{}": one segment, not empty;
 * what follows it in the pattern must follow it in path). */
static int path_matches(const char *pattern, const char *path)
{
    const char *id = strstr(pattern, "{}"), *seg_end;

    if (path == NULL) {
        return 0;
    }
    if (id == NULL) {
        return strcmp(pattern, path) == 0;
    }
    if (strncmp(pattern, path, (apr_size_t)(id - pattern)) != 0 || path[id - pattern] == '\0') {
        return 0;
    }
    seg_end = strchr(path + (id - pattern), '/');
    return seg_end == NULL ? id[2] == '\0'
                           : seg_end > path + (id - pattern) && strcmp(seg_end, id + 2) == 0;
}

/* A route without a path serves its location alone: not a path below it
 * that another route of the handler names (a revert's). */
static int route_open(const ub_route *rt, const ub_http_in *in, const char *path)
{
    return rt->handler == in->handler
           && (rt->needs != NEEDS_READ_BACK || in->read_back)
           && (rt->needs != NEEDS_CHANGE_FEED || in->change_feed)
           && (rt->needs != NEEDS_REVERT || in->revert)
           && (rt->path == NULL ? path == NULL : path_matches(rt->path, path));
}

/* The users location's own paths after it: "/changes" (the change feed)
 * for a URI ending in it, else NULL (the location itself: PUT, GET). */
static const char *users_path(const char *uri)
{
    return ends_with_segment(uri, strlen(uri), "/changes") ? "/changes" : NULL;
}

static const ub_route *find_route(const ub_http_in *in, const char *path)
{
    apr_size_t i;

    for (i = 0; i < N_ROUTES; i++) {
        if (route_open(&routes[i], in, path) && strcmp(routes[i].method, in->method) == 0) {
            return &routes[i];
        }
    }
    return NULL;
}

/* "GET, PUT": the methods the request's handler answers. */
static const char *allowed_methods(apr_pool_t *pool, const ub_http_in *in,
                                   const char *path)
{
    const char *allow = NULL;
    apr_size_t i;

    for (i = 0; i < N_ROUTES; i++) {
        if (route_open(&routes[i], in, path)) {
            allow = allow ? apr_pstrcat(pool, allow, ", ", routes[i].method, NULL)
                          : routes[i].method;
        }
    }
    return allow ? allow : "";
}

/* The form of the API a handler serves, for refusals before a route is
 * known. */
static ub_endpoint form_of(const ub_http_in *in)
{
    if (in->handler == UB_HANDLER_ACCOUNT
        || (in->handler == UB_HANDLER_ERRORS && in->error_for_account_api)) {
        return UB_EP_ACCOUNT_UPDATE;
    }
    if (in->handler == UB_HANDLER_SCIM
        || (in->handler == UB_HANDLER_ERRORS && in->error_for_scim)) {
        return UB_EP_SCIM;
    }
    return UB_EP_PUT_USERS;
}

static void set_content_type(const ub_http_in *in, ub_endpoint form, ub_http_out *out)
{
    if (form == UB_EP_SCIM) {
        out->content_type = "application/scim+json";
        return;
    }
    out->content_type = form == UB_EP_ACCOUNT_UPDATE && ub_accept_prefers_text(in->accept)
                        ? "text/plain; charset=utf-8" : "application/json";
}

/* Answers status with body, as the API that was asked answers. */
static apr_status_t answer(ub_request *req, const ub_http_in *in, ub_endpoint form,
                           int status, ub_http_out *out)
{
    out->status = status;
    out->rendered = 1;
    set_content_type(in, form, out);
    if (status == 503) {
        apr_table_setn(out->headers, "Retry-After", apr_itoa(req->pool, in->retry_after));
    }
    return APR_SUCCESS;
}

/* The core could not write its answer: httpd answers 500. */
static apr_status_t render_failed(ub_request *req, apr_status_t rv, ub_http_out *out)
{
    ub_logf(req, UB_LOG_ERR, rv, "UB0007 rendering the response failed");
    out->status = 500;
    out->rendered = 0;
    return rv;
}

/* A refusal of the request as a whole, before any record was read. */
static apr_status_t refuse(ub_request *req, const ub_http_in *in, ub_endpoint form,
                           const ub_problem *p, int close_connection,
                           apr_bucket_brigade *body, ub_http_out *out)
{
    apr_status_t rv = ub_render_problem(form, body, p, req->trace_id);

    if (rv != APR_SUCCESS) {
        return render_failed(req, rv, out);
    }
    out->close_connection = close_connection;
    return answer(req, in, form, p->status, out);
}

/* The end of a route's flow: the outcome counted, the body answered. */
static apr_status_t finish(ub_request *req, const ub_http_in *in, ub_endpoint form,
                           apr_status_t rv, ub_http_out *out)
{
    out->counted = 1;
    if (rv != APR_SUCCESS) {
        return render_failed(req, rv, out);
    }
    return answer(req, in, form, out->outcome.status, out);
}

/* The body of a PUT or POST: its media type, then the body within the
 * limit. 0, or the refusal already answered (*served set). */
static apr_status_t read_body(ub_request *req, const ub_http_in *in, ub_endpoint form,
                              apr_bucket_brigade *body, ub_http_out *out,
                              const char **buf, apr_size_t *len, int *served)
{
    ub_problem problem = { 0 };
    int status;

    *served = 1;
    if (!ub_media_type_accepted(form, in->content_type)) {
        ub_problem_media_type(req->pool, &problem, ub_media_types(form));
        return refuse(req, in, form, &problem, 1, body, out);
    }
    status = in->read_body(in->body_baton, in->max_body, buf, len, &problem);
    if (status != 0) {
        if (problem.status == 0) {
            out->status = status;     /* the server's own failure: httpd answers */
            out->close_connection = 1;
            return APR_SUCCESS;
        }
        return refuse(req, in, form, &problem, 1, body, out);
    }
    *served = 0;
    return APR_SUCCESS;
}

/* ?diff=true, where UserBulkDiff is on: 0, or the status of *problem. */
static int ub_read_diff_option(ub_request *req, const ub_http_in *in, ub_problem *problem)
{
    int diff = ub_query_boolean(req->pool, in->args, "diff", problem);

    if (diff < 0) {
        return problem->status;
    }
    if (diff && !in->diff) {
        ub_problem_set(problem, 400, "diff_not_enabled",
                       "this location does not answer diffs (?diff=true)",
                       "Leave ?diff out, or ask the administrator for UserBulkDiff On.");
        return problem->status;
    }
    req->diff = diff;
    return 0;
}

/* POST .../requests/{requestId}/revert: the id from the path, the options,
 * then the revert (no body is read: the options are the query's). */
static apr_status_t serve_revert(ub_request *req, const ub_http_in *in,
                                 const ub_db_source *dbs,
                                 apr_bucket_brigade *body, ub_http_out *out)
{
    ub_problem problem = { 0 };
    const char *path = NULL, *id = NULL;
    int rollback = 0;

    /* ub_serve routed the request by this split: it holds */
    (void)ub_revert_split_uri(req->pool, in->uri, &path, &id);
    if (ub_read_revert_options(req, in->args, in->prefer, &rollback, &problem)) {
        return refuse(req, in, UB_EP_PUT_USERS, &problem, 1, body, out);
    }
    if (req->diff && !in->diff) {
        ub_problem_set(&problem, 400, "diff_not_enabled",
                       "this location does not answer diffs (?diff=true)",
                       "Leave ?diff out, or ask the administrator for UserBulkDiff On.");
        return refuse(req, in, UB_EP_PUT_USERS, &problem, 1, body, out);
    }
    if (rollback) {
        apr_table_setn(out->headers, "Preference-Applied", "tx=rollback");
    }
    return finish(req, in, UB_EP_PUT_USERS,
                  ub_revert(req, dbs, id, body, &out->outcome), out);
}

static apr_status_t serve_put_users(ub_request *req, const ub_http_in *in,
                                    const ub_db_source *dbs,
                                    apr_bucket_brigade *body, ub_http_out *out)
{
    ub_problem problem = { 0 };
    const char *buf = NULL;
    apr_size_t len = 0;
    int rollback = 0, served = 0;
    apr_status_t rv;

    if (ub_read_put_options(req, in->args, in->prefer, &rollback, &problem)
        || ub_read_idempotency_key(in->idempotency_key, &req->idempotency_key, &problem)) {
        return refuse(req, in, UB_EP_PUT_USERS, &problem, 1, body, out);
    }
    if (ub_read_diff_option(req, in, &problem)) {
        return refuse(req, in, UB_EP_PUT_USERS, &problem, 1, body, out);
    }
    if (rollback) {
        apr_table_setn(out->headers, "Preference-Applied", "tx=rollback");
    }
    rv = read_body(req, in, UB_EP_PUT_USERS, body, out, &buf, &len, &served);
    if (served) {
        return rv;
    }
    rv = ub_put_users(req, dbs, buf, len, body, &out->outcome);
    return finish(req, in, UB_EP_PUT_USERS, rv, out);
}

/* The POST's dry run (Prefer: tx=rollback, or ?dryRun=true as on the
 * other write APIs) and ?diff=true. 0, or the status of *problem. */
static int read_account_options(ub_request *req, const ub_http_in *in, int *rollback,
                                ub_problem *problem)
{
    int dry_run = ub_query_boolean(req->pool, in->args, "dryRun", problem);

    if (dry_run < 0) {
        return problem->status;
    }
    *rollback = ub_prefers_rollback(in->prefer);
    req->dry_run = dry_run || *rollback;
    return ub_read_diff_option(req, in, problem);
}

static apr_status_t serve_account_update(ub_request *req, const ub_http_in *in,
                                         const ub_db_source *dbs,
                                         apr_bucket_brigade *body, ub_http_out *out)
{
    ub_problem problem = { 0 };
    const char *buf = NULL;
    apr_size_t len = 0;
    int rollback = 0, served = 0;
    apr_status_t rv;

    req->if_match = in->if_match;
    if (read_account_options(req, in, &rollback, &problem)) {
        return refuse(req, in, UB_EP_ACCOUNT_UPDATE, &problem, 1, body, out);
    }
    if (rollback) {
        apr_table_setn(out->headers, "Preference-Applied", "tx=rollback");
    }
    rv = read_body(req, in, UB_EP_ACCOUNT_UPDATE, body, out, &buf, &len, &served);
    if (served) {
        return rv;
    }
    rv = ub_account_update(req, dbs, buf, len, body, &out->outcome);
    return finish(req, in, UB_EP_ACCOUNT_UPDATE, rv, out);
}

static apr_status_t serve_get_changes(ub_request *req, const ub_http_in *in,
                                      const ub_db_source *dbs,
                                      apr_bucket_brigade *body, ub_http_out *out)
{
    apr_status_t rv = ub_read_changes(req, dbs, in->args, body, &out->outcome);

    return finish(req, in, UB_EP_PUT_USERS, rv, out);
}

static apr_status_t serve_get_users(ub_request *req, const ub_http_in *in,
                                    const ub_db_source *dbs,
                                    apr_bucket_brigade *body, ub_http_out *out)
{
    apr_status_t rv = ub_read_users(req, dbs, in->args, body, &out->outcome);

    return finish(req, in, UB_EP_PUT_USERS, rv, out);
}

/* SCIM: the base URL (meta.location's start) and the path after it. */
static void scim_paths(ub_request *req, const ub_http_in *in, const char **base,
                       const char **path)
{
    const char *base_path = "";

    *path = "";
    /* ub_serve routed the request by this split: it holds */
    (void)ub_scim_split_uri(req->pool, in->uri, &base_path, path);
    *base = apr_pstrcat(req->pool, in->origin ? in->origin : "", base_path, NULL);
}

/* The id after "/Users/" and the like. */
static const char *path_id(const char *path)
{
    return strchr(path + 1, '/') + 1;
}

static apr_status_t serve_scim_users(ub_request *req, const ub_http_in *in,
                                     const ub_db_source *dbs,
                                     apr_bucket_brigade *body, ub_http_out *out)
{
    const char *base, *path;

    scim_paths(req, in, &base, &path);
    return finish(req, in, UB_EP_SCIM,
                  ub_scim_list_users(req, dbs, in->args, base, body, &out->outcome), out);
}

static apr_status_t serve_scim_create_user(ub_request *req, const ub_http_in *in,
                                           const ub_db_source *dbs,
                                           apr_bucket_brigade *body, ub_http_out *out)
{
    const char *base, *path, *buf = NULL;
    apr_size_t len = 0;
    int served = 0;
    apr_status_t rv;

    rv = read_body(req, in, UB_EP_SCIM, body, out, &buf, &len, &served);
    if (served) {
        return rv;
    }
    scim_paths(req, in, &base, &path);
    return finish(req, in, UB_EP_SCIM,
                  ub_scim_create_user(req, dbs, buf, len, base, out->headers, body,
                                      &out->outcome), out);
}

static apr_status_t serve_scim_user(ub_request *req, const ub_http_in *in,
                                    const ub_db_source *dbs,
                                    apr_bucket_brigade *body, ub_http_out *out)
{
    const char *base, *path;

    scim_paths(req, in, &base, &path);
    return finish(req, in, UB_EP_SCIM,
                  ub_scim_get_user(req, dbs, path_id(path), in->args, base, out->headers,
                                   body, &out->outcome), out);
}

/* PUT and PATCH /Users/{id}: the body, then the write. */
static apr_status_t serve_scim_body_write(ub_request *req, const ub_http_in *in,
                                          const ub_db_source *dbs, int patch,
                                          apr_bucket_brigade *body, ub_http_out *out)
{
    const char *base, *path, *buf = NULL;
    apr_size_t len = 0;
    int served = 0;
    apr_status_t rv;

    rv = read_body(req, in, UB_EP_SCIM, body, out, &buf, &len, &served);
    if (served) {
        return rv;
    }
    scim_paths(req, in, &base, &path);
    rv = patch ? ub_scim_patch_user(req, dbs, path_id(path), in->if_match, buf, len, base,
                                    out->headers, body, &out->outcome)
               : ub_scim_put_user(req, dbs, path_id(path), in->if_match, buf, len, base,
                                  out->headers, body, &out->outcome);
    return finish(req, in, UB_EP_SCIM, rv, out);
}

static apr_status_t serve_scim_put_user(ub_request *req, const ub_http_in *in,
                                        const ub_db_source *dbs,
                                        apr_bucket_brigade *body, ub_http_out *out)
{
    return serve_scim_body_write(req, in, dbs, 0, body, out);
}

static apr_status_t serve_scim_patch_user(ub_request *req, const ub_http_in *in,
                                          const ub_db_source *dbs,
                                          apr_bucket_brigade *body, ub_http_out *out)
{
    return serve_scim_body_write(req, in, dbs, 1, body, out);
}

static apr_status_t serve_scim_delete_user(ub_request *req, const ub_http_in *in,
                                           const ub_db_source *dbs,
                                           apr_bucket_brigade *body, ub_http_out *out)
{
    const char *base, *path;

    scim_paths(req, in, &base, &path);
    return finish(req, in, UB_EP_SCIM,
                  ub_scim_delete_user(req, dbs, path_id(path), in->if_match, base,
                                      out->headers, body, &out->outcome), out);
}

static apr_status_t serve_scim_bulk(ub_request *req, const ub_http_in *in,
                                    const ub_db_source *dbs,
                                    apr_bucket_brigade *body, ub_http_out *out)
{
    const char *base, *path, *buf = NULL;
    apr_size_t len = 0;
    int served = 0;
    apr_status_t rv;

    ub_problem problem = { 0 };
    int rollback = 0;

    /* ?atomic=true, ?dryRun=true, Prefer: tx=rollback, ?diff=true, as
     * PUT /users */
    if (ub_read_put_options(req, in->args, in->prefer, &rollback, &problem)
        || ub_read_diff_option(req, in, &problem)) {
        problem.scim_type = "invalidValue";
        return refuse(req, in, UB_EP_SCIM, &problem, 1, body, out);
    }
    if (rollback) {
        apr_table_setn(out->headers, "Preference-Applied", "tx=rollback");
    }
    rv = read_body(req, in, UB_EP_SCIM, body, out, &buf, &len, &served);
    if (served) {
        return rv;
    }
    scim_paths(req, in, &base, &path);
    return finish(req, in, UB_EP_SCIM,
                  ub_scim_bulk(req, dbs, buf, len, in->max_body, base, body, &out->outcome),
                  out);
}

static apr_status_t serve_scim_groups(ub_request *req, const ub_http_in *in,
                                      const ub_db_source *dbs,
                                      apr_bucket_brigade *body, ub_http_out *out)
{
    const char *base, *path;

    scim_paths(req, in, &base, &path);
    return finish(req, in, UB_EP_SCIM,
                  ub_scim_list_groups(req, dbs, in->args, base, body, &out->outcome), out);
}

static apr_status_t serve_scim_group(ub_request *req, const ub_http_in *in,
                                     const ub_db_source *dbs,
                                     apr_bucket_brigade *body, ub_http_out *out)
{
    const char *base, *path;

    scim_paths(req, in, &base, &path);
    return finish(req, in, UB_EP_SCIM,
                  ub_scim_get_group(req, dbs, path_id(path), in->args, base, out->headers,
                                    body, &out->outcome), out);
}

/* POST /Groups, PUT, PATCH and DELETE /Groups/{id}. */
static apr_status_t serve_scim_group_write(ub_request *req, const ub_http_in *in,
                                           const ub_db_source *dbs,
                                           apr_bucket_brigade *body, ub_http_out *out)
{
    const char *base, *path, *buf = NULL;
    apr_size_t len = 0;
    int served = 0;
    apr_status_t rv;

    if (strcmp(in->method, "DELETE") != 0) {
        rv = read_body(req, in, UB_EP_SCIM, body, out, &buf, &len, &served);
        if (served) {
            return rv;
        }
    }
    scim_paths(req, in, &base, &path);
    return finish(req, in, UB_EP_SCIM,
                  ub_scim_write_group(req, dbs, in->method,
                                      strchr(path + 1, '/') ? path_id(path) : NULL, buf, len,
                                      in->if_match, base, out->headers, body, &out->outcome),
                  out);
}

static apr_status_t serve_scim_doc(ub_request *req, const ub_http_in *in, ub_scim_doc doc,
                                   apr_bucket_brigade *body, ub_http_out *out)
{
    const char *base, *path;
    ub_scim_limits limits;

    /* /ServiceProviderConfig tells the limits this location enforces */
    limits.max_operations = in->max_records;
    limits.max_payload = in->max_body;
    limits.max_results = UB_SCIM_MAX_COUNT;
    scim_paths(req, in, &base, &path);
    return finish(req, in, UB_EP_SCIM,
                  ub_scim_discovery(req, doc, strchr(path + 1, '/') ? path_id(path) : NULL,
                                    base, &limits, body, &out->outcome), out);
}

static apr_status_t serve_scim_config(ub_request *req, const ub_http_in *in,
                                      const ub_db_source *dbs,
                                      apr_bucket_brigade *body, ub_http_out *out)
{
    return serve_scim_doc(req, in, UB_SCIM_SERVICE_PROVIDER_CONFIG, body, out);
}

static apr_status_t serve_scim_schemas(ub_request *req, const ub_http_in *in,
                                       const ub_db_source *dbs,
                                       apr_bucket_brigade *body, ub_http_out *out)
{
    return serve_scim_doc(req, in, UB_SCIM_SCHEMAS, body, out);
}

static apr_status_t serve_scim_resource_types(ub_request *req, const ub_http_in *in,
                                              const ub_db_source *dbs,
                                              apr_bucket_brigade *body, ub_http_out *out)
{
    return serve_scim_doc(req, in, UB_SCIM_RESOURCE_TYPES, body, out);
}

/* ErrorDocument target: the auth module's 401/403 (or httpd's own errors)
 * in the form of the API that was asked. */
static apr_status_t serve_error_body(ub_request *req, const ub_http_in *in,
                                     apr_bucket_brigade *body, ub_http_out *out)
{
    ub_endpoint form = form_of(in);
    int status = in->error_status ? in->error_status : 404;
    ub_problem problem = { 0 };

    if (status == 401 || status == 403) {
        ub_problem_auth(&problem, status);
    }
    else if (in->error_status == 0) {
        ub_problem_set(&problem, 404, "not_found", "no such resource",
                       "This path only serves error bodies.");
    }
    else {
        ub_problem_set(&problem, status, "http_error", ub_status_phrase(status),
                       "The server refused the request.");
    }
    out->counted = 1;
    out->counter = UB_CTR_ERROR_BODY;
    out->endpoint_key = NULL;
    out->outcome.status = status;
    ub_logf(req, UB_LOG_INFO, 0, "UB0101 %s answered %d for %s",
            form == UB_EP_ACCOUNT_UPDATE ? "the account API"
            : form == UB_EP_SCIM ? "the SCIM API" : "the users API",
            status, in->uri);
    return refuse(req, in, form, &problem, 0, body, out);
}

apr_status_t ub_serve(ub_request *req, const ub_http_in *in,
                      const ub_db_source *dbs, apr_bucket_brigade *body,
                      ub_http_out *out)
{
    ub_endpoint form = form_of(in);
    ub_problem problem = { 0 };
    const ub_route *rt;
    const char *base = NULL, *path = NULL;

    memset(out, 0, sizeof(*out));
    out->headers = apr_table_make(req->pool, 4);
    req->max_records = in->max_records;
    if (in->handler == UB_HANDLER_ERRORS) {
        return serve_error_body(req, in, body, out);
    }
    /* 1. A token not valid yet, for auth modules that do not check nbf. */
    if (in->not_before != NULL && *in->not_before
        && ub_not_yet_valid(in->not_before, in->request_time, NOT_BEFORE_LEEWAY)) {
        apr_table_setn(out->headers, "WWW-Authenticate",
                       "Bearer error=\"invalid_token\", "
                       "error_description=\"The token is not valid yet.\"");
        ub_logf(req, UB_LOG_INFO, 0, "UB0008 refused a token whose nbf is in the future");
        ub_problem_auth(&problem, 401);
        return refuse(req, in, form, &problem, 0, body, out);
    }
    /* 2. A path the location does not have (SCIM), a method it does not
     * answer. */
    if (in->handler == UB_HANDLER_SCIM
        && (!ub_scim_split_uri(req->pool, in->uri, &base, &path)
            || *allowed_methods(req->pool, in, path) == '\0')) {
        ub_problem_set(&problem, 404, "not_found", "no such resource",
                       "This server has /Users, /Groups, /Bulk, /ServiceProviderConfig, /Schemas "
                       "and /ResourceTypes.");
        return refuse(req, in, form, &problem, 0, body, out);
    }
    /* Below the users location: a revert's path where UserBulkRevert is
     * On; the change feed's, which is 404 where UserBulkChangeFeed is Off. */
    if (in->handler == UB_HANDLER_USERS) {
        const char *id;

        if (!in->revert || !ub_revert_split_uri(req->pool, in->uri, &path, &id)) {
            path = users_path(in->uri);
        }
        if (path != NULL && strcmp(path, "/changes") == 0
            && *allowed_methods(req->pool, in, path) == '\0') {
            ub_problem_set(&problem, 404, "not_found", "no such resource",
                           "The change feed is off here (UserBulkChangeFeed).");
            return refuse(req, in, form, &problem, 0, body, out);
        }
    }
    rt = find_route(in, path);
    if (rt == NULL) {
        const char *allow = allowed_methods(req->pool, in, path);
        apr_table_setn(out->headers, "Allow", allow);
        ub_problem_method(req->pool, &problem, allow);
        return refuse(req, in, form, &problem, 1, body, out);
    }
    /* 3. Whom the request acts for. */
    if (!in->account_set) {
        ub_logf(req, UB_LOG_ERR, APR_EGENERAL, "UB0002 UserBulkAccount is not set for %s",
                in->uri);
        out->status = 500;
        return APR_SUCCESS;
    }
    req->account = in->account;
    req->actor = in->actor;
    if (*req->account == '\0') {
        ub_problem_no_account(&problem);
        return refuse(req, in, form, &problem, 1, body, out);
    }
    /* Every change is signed in the audit trail: no actor, no request. */
    if (*req->actor == '\0') {
        ub_logf(req, UB_LOG_WARNING, 0,
                "UB0010 refused a request whose UserBulkActor names nobody (%s)", in->uri);
        ub_problem_no_actor(&problem);
        return refuse(req, in, form, &problem, 1, body, out);
    }
    out->counter = rt->counter;
    out->endpoint_key = rt->key;
    return rt->serve(req, in, dbs, body, out);
}
