/*
 * scim_groups.c: see scim_groups.h.
 */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>
#include "scim_groups.h"
#include "scim_group_body.h"
#include "scim_filter.h"
#include "scim_users.h"
#include "errors.h"
#include "json.h"
#include "query.h"
#include "render.h"
#include "store.h"

/* The columns every group statement answers (src/store.c). */
enum { C_ETAG, C_RESOURCE, C_STATUS, C_SCIM_TYPE, C_DETAIL, C_ID, N_COLS };

static apr_status_t refuse(apr_bucket_brigade *out, ub_outcome *outcome,
                           const ub_problem *p)
{
    outcome->status = p->status;
    return ub_render_scim_problem(out, p);
}

/* Runs a group statement. APR_SUCCESS with cols, or 503 answered. */
static apr_status_t run(const ub_request *req, const ub_db_source *dbs, const char *label,
                        int nargs, const char **args, const char **cols,
                        apr_bucket_brigade *out, ub_outcome *outcome, int *served)
{
    ub_problem problem = { 0 };
    ub_db *db = dbs->acquire(dbs->baton);
    apr_status_t rv = APR_EGENERAL;
    int i;

    for (i = 0; i < N_COLS; i++) {
        cols[i] = NULL;
    }
    *served = 0;
    if (db != NULL) {
        rv = ub_store_select_row(req, db, label, nargs, args, N_COLS, cols);
        outcome->db_calls = db->calls;
        outcome->db_usec = db->usec;
    }
    if (rv != APR_SUCCESS) {
        *served = 1;
        ub_problem_store(&problem, rv);
        return refuse(out, outcome, &problem);
    }
    return APR_SUCCESS;
}

/* The statement's refusal row (status set), answered as a SCIM error. */
static apr_status_t refused(const ub_request *req, const char **cols,
                            apr_bucket_brigade *out, ub_outcome *outcome)
{
    ub_problem problem = { 0 };
    int status = atoi(cols[C_STATUS]);

    ub_problem_set(&problem, status, cols[C_SCIM_TYPE] ? cols[C_SCIM_TYPE] : "refused",
                   cols[C_DETAIL] ? cols[C_DETAIL] : "refused",
                   status == 404 ? "List the groups with GET /Groups?filter=displayName eq \"...\"."
                   : status == 412 ? "Read the group again (GET /Groups/{id}) and send its ETag."
                   : "See the README's SCIM Groups section.");
    problem.scim_type = cols[C_SCIM_TYPE];
    if (status != 404) {
        ub_logf(req, UB_LOG_INFO, 0, "UB0661 refused a SCIM group request (%d): %s", status,
                problem.message);
    }
    return refuse(out, outcome, &problem);
}

static apr_status_t pass_on(const char *json, int status, apr_bucket_brigade *out,
                            ub_outcome *outcome)
{
    ub_jw w;

    outcome->status = status;
    ub_jw_init(&w, out);
    if (json != NULL) {
        ub_jw_raw(&w, json);
    }
    return ub_jw_status(&w);
}

static void set_etag(const ub_request *req, apr_table_t *headers, const char *tag)
{
    if (tag != NULL) {
        apr_table_setn(headers, "ETag", apr_pstrcat(req->pool, "W/\"", tag, "\"", NULL));
    }
}

apr_status_t ub_scim_list_groups(const ub_request *req, const ub_db_source *dbs,
                                 const char *args, const char *base,
                                 apr_bucket_brigade *out, ub_outcome *outcome)
{
    ub_problem problem = { 0 };
    ub_scim_list_params lp;
    const char *sql_args[8];
    const char *cols[N_COLS];
    int served;
    apr_status_t rv;

    if (ub_scim_list_query(req->pool, args, ub_scim_group_filter_parse, &lp, &problem) != 0) {
        if (lp.bad_filter) {
            ub_logf(req, UB_LOG_INFO, 0, "UB0660 refused a SCIM group filter: %s",
                    problem.message);
        }
        return refuse(out, outcome, &problem);
    }
    sql_args[0] = req->account;
    sql_args[1] = lp.filter;
    sql_args[2] = apr_itoa(req->pool, lp.start);
    sql_args[3] = apr_itoa(req->pool, lp.count);
    sql_args[4] = lp.attrs;
    sql_args[5] = lp.excluded;
    sql_args[6] = base;
    sql_args[7] = apr_itoa(req->pool, UB_SCIM_MAX_GROUP_MEMBERS);
    rv = run(req, dbs, UB_STMT_SCIM_GROUPS, 8, sql_args, cols, out, outcome, &served);
    if (served) {
        return rv;
    }
    if (cols[C_STATUS] != NULL) {
        return refused(req, cols, out, outcome);
    }
    if (cols[C_RESOURCE] == NULL) {
        ub_logf(req, UB_LOG_ERR, APR_EGENERAL, "UB0662 the store answered no group list");
        ub_problem_unavailable(&problem);
        return refuse(out, outcome, &problem);
    }
    return pass_on(cols[C_RESOURCE], 200, out, outcome);
}

apr_status_t ub_scim_get_group(const ub_request *req, const ub_db_source *dbs,
                               const char *id, const char *args, const char *base,
                               apr_table_t *headers, apr_bucket_brigade *out,
                               ub_outcome *outcome)
{
    ub_problem problem = { 0 };
    const char *attrs, *excluded, *sql_args[6], *cols[N_COLS];
    int served;
    apr_status_t rv;

    if (ub_scim_attr_list(req->pool, args, "attributes", &attrs, &problem)
        || ub_scim_attr_list(req->pool, args, "excludedAttributes", &excluded, &problem)) {
        return refuse(out, outcome, &problem);
    }
    sql_args[0] = req->account;
    sql_args[1] = id;
    sql_args[2] = attrs;
    sql_args[3] = excluded;
    sql_args[4] = base;
    sql_args[5] = apr_itoa(req->pool, UB_SCIM_MAX_GROUP_MEMBERS);
    rv = run(req, dbs, UB_STMT_SCIM_GROUP, 6, sql_args, cols, out, outcome, &served);
    if (served) {
        return rv;
    }
    if (cols[C_STATUS] != NULL) {
        return refused(req, cols, out, outcome);
    }
    if (cols[C_RESOURCE] == NULL || cols[C_ETAG] == NULL) {
        ub_logf(req, UB_LOG_ERR, APR_EGENERAL, "UB0663 the store answered no group");
        ub_problem_unavailable(&problem);
        return refuse(out, outcome, &problem);
    }
    outcome->processed = 1;
    set_etag(req, headers, cols[C_ETAG]);
    return pass_on(cols[C_RESOURCE], 200, out, outcome);
}

apr_status_t ub_scim_write_group(const ub_request *req, const ub_db_source *dbs,
                                 const char *method, const char *id, const char *buf,
                                 apr_size_t len, const char *if_match, const char *base,
                                 apr_table_t *headers, apr_bucket_brigade *out,
                                 ub_outcome *outcome)
{
    ub_problem problem = { 0 };
    ub_scim_group_change change;
    const char *tags = NULL, *sql_args[12], *cols[N_COLS], *label, *max;
    int post = strcmp(method, "POST") == 0, put = strcmp(method, "PUT") == 0;
    int del = strcmp(method, "DELETE") == 0, nargs, served, rc = 0;
    apr_status_t rv;

    memset(&change, 0, sizeof(change));
    if (!post && ub_scim_if_match_tags(req->pool, if_match, &tags, &problem) != 0) {
        return refuse(out, outcome, &problem);
    }
    if (post || put) {
        rc = ub_scim_group_doc_read(req->pool, buf, len, UB_SCIM_MAX_GROUP_MEMBERS, &change,
                                    &problem);
    }
    else if (!del) {
        rc = ub_scim_group_patch_read(req->pool, buf, len, UB_SCIM_MAX_GROUP_MEMBERS, &change,
                                      &problem);
    }
    if (rc != 0) {
        ub_logf(req, UB_LOG_INFO, 0, "UB0664 refused a SCIM group %s: %s", method,
                problem.message);
        return refuse(out, outcome, &problem);
    }
    max = apr_itoa(req->pool, UB_SCIM_MAX_GROUP_MEMBERS);
    sql_args[0] = req->account;
    sql_args[1] = req->actor;
    sql_args[2] = req->trace_id;
    if (post) {
        label = UB_STMT_SCIM_GROUP_CREATE;
        sql_args[3] = change.name;
        sql_args[4] = ub_scim_id_array(req->pool, change.add);
        sql_args[5] = base;
        sql_args[6] = max;
        nargs = 7;
    }
    else if (del) {
        label = UB_STMT_SCIM_GROUP_DELETE;
        sql_args[3] = id;
        sql_args[4] = tags;
        sql_args[5] = max;
        nargs = 6;
    }
    else {
        label = UB_STMT_SCIM_GROUP_CHANGE;
        sql_args[3] = id;
        sql_args[4] = change.name;
        sql_args[5] = change.reset ? "true" : "false";
        sql_args[6] = ub_scim_id_array(req->pool, change.add);
        sql_args[7] = ub_scim_id_array(req->pool, change.remove);
        sql_args[8] = tags;
        sql_args[9] = base;
        sql_args[10] = max;
        sql_args[11] = put ? "true" : "false";
        nargs = 12;
    }
    rv = run(req, dbs, label, nargs, sql_args, cols, out, outcome, &served);
    if (served) {
        return rv;
    }
    if (cols[C_STATUS] != NULL) {
        return refused(req, cols, out, outcome);
    }
    if (cols[C_ID] == NULL || (!del && cols[C_ETAG] == NULL)
        || ((post || put) && cols[C_RESOURCE] == NULL)) {
        ub_logf(req, UB_LOG_ERR, APR_EGENERAL, "UB0665 the store answered no group for %s",
                method);
        ub_problem_unavailable(&problem);
        return refuse(out, outcome, &problem);
    }
    outcome->processed = 1;
    outcome->applied = 1;
    ub_logf(req, UB_LOG_INFO, 0, "UB0666 SCIM %s of group %s applied", method, cols[C_ID]);
    set_etag(req, headers, cols[C_ETAG]);
    if (post) {
        apr_table_setn(headers, "Location",
                       apr_pstrcat(req->pool, base, "/Groups/", cols[C_ID], NULL));
        return pass_on(cols[C_RESOURCE], 201, out, outcome);
    }
    if (put) {
        return pass_on(cols[C_RESOURCE], 200, out, outcome);
    }
    return pass_on(NULL, 204, out, outcome);
}
