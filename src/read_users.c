/*
 * read_users.c: the read-back of PUT /users. The users are rendered by SQL
 * (userbulk.get_users) in PUT's representation and passed on as they are.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include "read_users.h"
#include "errors.h"
#include "json.h"
#include "query.h"
#include "render.h"
#include "store.h"
#include "validate.h"

static apr_status_t refuse(const ub_request *req, apr_bucket_brigade *out,
                           ub_outcome *outcome, const ub_problem *p)
{
    outcome->status = p->status;
    return ub_render_put_problem(out, p);
}

apr_status_t ub_read_users(const ub_request *req, const ub_db_source *dbs,
                           const char *args, apr_bucket_brigade *out,
                           ub_outcome *outcome)
{
    ub_problem problem = { 0 };
    apr_array_header_t *names = ub_query_values(req->pool, args, "userName", &problem);
    apr_hash_t *seen = apr_hash_make(req->pool);
    json_t *list = ub_json_own(req->pool, json_array());
    const char *sql_args[2], *cols[1];
    ub_db *db;
    ub_jw w;
    apr_status_t rv;
    int i;

    if (names == NULL) {
        return refuse(req, out, outcome, &problem);
    }
    if (names->nelts == 0 || names->nelts > req->max_records) {
        ub_problem_set(&problem, 400, names->nelts ? "too_many_records" : "invalid_query",
                       apr_psprintf(req->pool, "name 1 to %d users with ?userName=...",
                                    req->max_records),
                       "GET /users?userName=alice&userName=bob");
        return refuse(req, out, outcome, &problem);
    }
    for (i = 0; i < names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);

        if (*name == '\0' || ub_utf8_chars(name) > UB_LEN_USER_NAME) {
            ub_problem_set(&problem, 400, "invalid_query",
                           "a userName has 1 to 100 characters", "Nothing was read.");
            return refuse(req, out, outcome, &problem);
        }
        if (!ub_utf8_valid(name, strlen(name))) {
            ub_problem_set(&problem, 400, "invalid_query",
                           "a userName must be UTF-8, percent-encoded",
                           "Nothing was read.");
            return refuse(req, out, outcome, &problem);
        }
        if (apr_hash_get(seen, name, APR_HASH_KEY_STRING) == NULL) {
            apr_hash_set(seen, name, APR_HASH_KEY_STRING, name);
            if (json_array_append_new(list, json_string(name)) != 0) {
                return APR_ENOMEM;
            }
        }
    }
    outcome->processed = (int)json_array_size(list);

    db = dbs->acquire(dbs->baton);
    sql_args[0] = req->account;
    sql_args[1] = ub_json_dump(req->pool, list);
    rv = (db == NULL || sql_args[1] == NULL) ? APR_EGENERAL
         : ub_store_select_row(req, db, UB_STMT_GET_USERS, 2, sql_args, 1, cols);
    if (db != NULL) {
        outcome->db_calls = db->calls;
        outcome->db_usec = db->usec;
    }
    if (rv != APR_SUCCESS || cols[0] == NULL) {
        ub_problem_unavailable(&problem);
        return refuse(req, out, outcome, &problem);
    }
    outcome->status = 200;
    ub_jw_init(&w, out);
    ub_jw_raw(&w, cols[0]);
    return ub_jw_status(&w);
}
