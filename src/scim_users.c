/*
 * scim_users.c: see scim_users.h.
 */
#include <string.h>
#include <stdlib.h>
#include <errno.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "scim_users.h"
#include "scim_filter.h"
#include "scim_map.h"
#include "errors.h"
#include "fields.h"
#include "jdoc.h"
#include "json.h"
#include "query.h"
#include "render.h"
#include "store.h"
#include "textbuf.h"
#include "validate.h"

static apr_status_t refuse(apr_bucket_brigade *out, ub_outcome *outcome,
                           const ub_problem *p)
{
    outcome->status = p->status;
    return ub_render_scim_problem(out, p);
}

static void invalid_value(ub_problem *p, const char *message, const char *description)
{
    ub_problem_set(p, 400, "invalidValue", message, description);
    p->scim_type = "invalidValue";
}

/* The last value of the query parameter name, or NULL; *failed on a
 * malformed query string (problem filled). */
static const char *last_value(apr_pool_t *pool, const char *args, const char *name,
                              ub_problem *problem, int *failed)
{
    const char *value;

    if (ub_query_last(pool, args, name, &value, problem) != 0) {
        problem->scim_type = "invalidValue";
        *failed = 1;
    }
    return value;
}

/* The integer query parameter name (startIndex, count) into *value, kept
 * when absent. 0, or 400 with problem filled (scimType invalidValue). */
static int int_param(apr_pool_t *pool, const char *args, const char *name, int *value,
                     ub_problem *problem)
{
    int failed = 0;
    const char *s = last_value(pool, args, name, problem, &failed);
    char *end;
    long v;

    if (failed) {
        return 400;
    }
    if (s == NULL) {
        return 0;
    }
    errno = 0;
    v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || apr_isspace(*s)) {
        invalid_value(problem, apr_psprintf(pool, "%s must be an integer", name),
                      "startIndex counts from 1; count is the page size.");
        return 400;
    }
    /* Beyond int: as far as can be (startIndex past every user, count
     * capped below anyway). */
    *value = errno == ERANGE || v > 1000000000L ? (v < 0 ? -1 : 1000000000)
             : v < -1000000000L ? -1 : (int)v;
    return 0;
}

int ub_scim_attr_list(apr_pool_t *pool, const char *args, const char *name,
                      const char **json, ub_problem *problem)
{
    int failed = 0, n = 0;
    const char *s = last_value(pool, args, name, problem, &failed);
    char *list, *item, *last = NULL;
    apr_size_t urn = strlen(UB_SCIM_USER_URN), ent = strlen(UB_SCIM_ENTERPRISE_SCHEMA);
    ub_textbuf tb;

    *json = NULL;
    if (failed) {
        return 400;
    }
    if (s == NULL) {
        return 0;
    }
    list = apr_pstrdup(pool, s);
    ub_tb_init(&tb, pool, strlen(s) + 16);
    ub_tb_putc(&tb, '[');
    for (item = apr_strtok(list, ",", &last); item; item = apr_strtok(NULL, ",", &last)) {
        apr_size_t len, i, from = 0;

        while (*item == ' ') {
            item++;
        }
        len = strlen(item);
        while (len > 0 && item[len - 1] == ' ') {
            item[--len] = '\0';
        }
        if (len > urn && strncasecmp(item, UB_SCIM_USER_URN, urn) == 0) {
            item += urn;
            len -= urn;
        }
        else if (len >= ent && strncasecmp(item, UB_SCIM_ENTERPRISE_SCHEMA, ent) == 0
                 && (item[ent] == '\0' || (item[ent] == ':' && item[ent + 1] != '\0'))) {
            /* The URN is the key of the extension's object; what follows
             * it is checked below like any path. */
            item = apr_pstrcat(pool, UB_SCIM_ENTERPRISE_SCHEMA,
                               item[ent] == ':' ? "." : "", item + ent + (item[ent] == ':'),
                               NULL);
            len = strlen(item);
            from = ent;
        }
        for (i = from; i < len; i++) {
            if (!apr_isalnum(item[i]) && item[i] != '.' && item[i] != '_' && item[i] != '-') {
                break;
            }
        }
        if (len == 0 || i < len || len > UB_SCIM_MAX_ATTR_LEN || ++n > UB_SCIM_MAX_ATTRS) {
            invalid_value(problem,
                          apr_psprintf(pool, "%s is a comma-separated list of up to %d "
                                       "attribute paths", name, UB_SCIM_MAX_ATTRS),
                          "For example attributes=userName,name.familyName,emails.");
            return 400;
        }
        if (n > 1) {
            ub_tb_putc(&tb, ',');
        }
        ub_tb_json_string(&tb, item);
    }
    ub_tb_putc(&tb, ']');
    if (n == 0) {
        return 0;
    }
    *json = ub_tb_text(&tb);
    return 0;
}

/* Runs one statement that answers one JSON column; *json NULL for SQL
 * null. APR_SUCCESS, or the directory could not be asked (logged). */
static apr_status_t select_json(const ub_request *req, const ub_db_source *dbs,
                                const char *label, int nargs, const char **args,
                                int ncols, const char **cols, ub_outcome *outcome)
{
    ub_db *db = dbs->acquire(dbs->baton);
    apr_status_t rv;

    if (db == NULL) {
        return APR_EGENERAL;
    }
    rv = ub_store_select_row(req, db, label, nargs, args, ncols, cols);
    outcome->db_calls = db->calls;
    outcome->db_usec = db->usec;
    return rv;
}

static apr_status_t pass_on(const char *json, int status, apr_bucket_brigade *out,
                            ub_outcome *outcome)
{
    ub_jw w;

    outcome->status = status;
    ub_jw_init(&w, out);
    ub_jw_raw(&w, json);
    return ub_jw_status(&w);
}

int ub_scim_list_query(apr_pool_t *pool, const char *args, ub_scim_filter_parse_fn *parse,
                       ub_scim_list_params *lp, ub_problem *problem)
{
    const char *filter;
    int failed = 0;

    memset(lp, 0, sizeof(*lp));
    lp->start = 1;
    lp->count = UB_SCIM_MAX_COUNT;
    filter = last_value(pool, args, "filter", problem, &failed);
    if (failed
        || int_param(pool, args, "startIndex", &lp->start, problem)
        || int_param(pool, args, "count", &lp->count, problem)
        || ub_scim_attr_list(pool, args, "attributes", &lp->attrs, problem)
        || ub_scim_attr_list(pool, args, "excludedAttributes", &lp->excluded, problem)) {
        return 400;
    }
    if (filter != NULL && parse(pool, filter, &lp->filter, problem) != 0) {
        lp->bad_filter = 1;
        return 400;
    }
    /* RFC 7644 section 3.4.2.4: below 1 is 1, a negative count is 0. */
    lp->start = lp->start < 1 ? 1 : lp->start;
    lp->count = lp->count < 0 ? 0 : lp->count > UB_SCIM_MAX_COUNT ? UB_SCIM_MAX_COUNT : lp->count;
    return 0;
}

apr_status_t ub_scim_list_users(const ub_request *req, const ub_db_source *dbs,
                                const char *args, const char *base,
                                apr_bucket_brigade *out, ub_outcome *outcome)
{
    ub_problem problem = { 0 };
    ub_scim_list_params lp;
    const char *sql_args[7], *json = NULL;

    if (ub_scim_list_query(req->pool, args, ub_scim_filter_parse, &lp, &problem) != 0) {
        if (lp.bad_filter) {
            ub_logf(req, UB_LOG_INFO, 0, "UB0600 refused a SCIM filter: %s", problem.message);
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
    if (select_json(req, dbs, UB_STMT_SCIM_USERS, 7, sql_args, 1, &json, outcome) != APR_SUCCESS
        || json == NULL) {
        ub_problem_unavailable(&problem);
        return refuse(out, outcome, &problem);
    }
    return pass_on(json, 200, out, outcome);
}

apr_status_t ub_scim_get_user(const ub_request *req, const ub_db_source *dbs,
                              const char *id, const char *args, const char *base,
                              apr_table_t *headers, apr_bucket_brigade *out,
                              ub_outcome *outcome)
{
    ub_problem problem = { 0 };
    const char *attrs, *excluded, *sql_args[5], *cols[2] = { NULL, NULL };

    if (ub_scim_attr_list(req->pool, args, "attributes", &attrs, &problem)
        || ub_scim_attr_list(req->pool, args, "excludedAttributes", &excluded, &problem)) {
        return refuse(out, outcome, &problem);
    }
    /* Not an id this server gives: no user has it, no statement. */
    if (ub_check_uuid(id) == NULL) {
        sql_args[0] = req->account;
        sql_args[1] = id;
    sql_args[2] = attrs;
    sql_args[3] = excluded;
        sql_args[4] = base;
        if (select_json(req, dbs, UB_STMT_SCIM_USER, 5, sql_args, 2, cols, outcome)
            != APR_SUCCESS) {
            ub_problem_unavailable(&problem);
            return refuse(out, outcome, &problem);
        }
    }
    if (cols[0] == NULL || cols[1] == NULL) {
        ub_problem_set(&problem, 404, "not_found", "no user of this account has this id",
                       "List the users with GET /Users?filter=userName eq \"...\".");
        return refuse(out, outcome, &problem);
    }
    outcome->processed = 1;
    apr_table_setn(headers, "ETag", apr_pstrcat(req->pool, "W/\"", cols[0], "\"", NULL));
    return pass_on(cols[1], 200, out, outcome);
}
