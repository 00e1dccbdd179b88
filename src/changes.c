/*
 * changes.c: the change feed. The query and the cursor are read here; the
 * page, with its changes rendered, comes from userbulk.user_changes and is
 * passed on as it is.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include "changes.h"
#include "errors.h"
#include "query.h"
#include "render.h"
#include "json.h"
#include "store.h"

/* "c1.TAG.SEQ" or "c1.TAG.SEQ.UUID": TAG binds the cursor to its account
 * (FNV-1a of the account code, 8 hex digits): not a secret, a check that
 * a client did not mix up its feeds. */
#define CURSOR_PREFIX "c1."
#define UUID_LEN 36

static apr_uint32_t account_tag(const char *account)
{
    apr_uint32_t h = 2166136261u;
    const unsigned char *p;

    for (p = (const unsigned char *)account; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return h;
}

const char *ub_changes_cursor(apr_pool_t *pool, const char *account,
                              const ub_changes_pos *pos)
{
    return apr_psprintf(pool, CURSOR_PREFIX "%08x.%" APR_INT64_T_FMT "%s%s",
                        (unsigned)account_tag(account), pos->seq,
                        pos->user ? "." : "", pos->user ? pos->user : "");
}

/* A uuid as PostgreSQL writes it: lowercase hex, hyphens at 8-4-4-4-12. */
static int is_uuid(const char *s, apr_size_t n)
{
    apr_size_t i;

    if (n != UUID_LEN) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        int hyphen = i == 8 || i == 13 || i == 18 || i == 23;

        if (hyphen ? s[i] != '-' : !(apr_isdigit(s[i]) || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

int ub_changes_cursor_parse(apr_pool_t *pool, const char *account,
                            const char *cursor, ub_changes_pos *pos)
{
    char tag[9];
    const char *p = cursor, *digits;
    apr_int64_t seq = 0;

    if (strncmp(p, CURSOR_PREFIX, strlen(CURSOR_PREFIX)) != 0) {
        return -1;
    }
    p += strlen(CURSOR_PREFIX);
    apr_snprintf(tag, sizeof(tag), "%08x", (unsigned)account_tag(account));
    if (strncmp(p, tag, 8) != 0 || p[8] != '.') {
        return -1;
    }
    p += 9;
    digits = p;
    /* 1 to 18 digits, no sign, no leading zero: one spelling per number,
     * never past a bigint */
    while (apr_isdigit(*p) && p - digits < 19) {
        seq = seq * 10 + (*p - '0');
        p++;
    }
    if (p == digits || p - digits > 18 || (*digits == '0' && p - digits > 1)) {
        return -1;
    }
    pos->seq = seq;
    pos->user = NULL;
    if (*p == '\0') {
        return 0;
    }
    if (*p != '.' || !is_uuid(p + 1, strlen(p + 1))) {
        return -1;
    }
    pos->user = apr_pstrdup(pool, p + 1);
    return 0;
}

static apr_status_t refuse(const ub_request *req, apr_bucket_brigade *out,
                           ub_outcome *outcome, const ub_problem *p)
{
    outcome->status = p->status;
    return ub_render_put_problem(out, p);
}

/* ?since= and ?limit=: 0, or -1 with *problem. *latest for since=latest;
 * *from_start when no since. */
static int read_query(const ub_request *req, const char *args, ub_changes_pos *pos,
                      int *latest, int *from_start, int *limit, ub_problem *problem)
{
    const char *since = NULL, *lim = NULL;
    char *end;
    apr_int64_t n;

    if (ub_query_last(req->pool, args, "since", &since, problem) != 0
        || ub_query_last(req->pool, args, "limit", &lim, problem) != 0) {
        return -1;
    }
    *limit = UB_CHANGES_MAX_PAGE;
    if (lim != NULL) {
        n = apr_strtoi64(lim, &end, 10);
        if (*lim == '\0' || *end != '\0' || !apr_isdigit(*lim) || n < 1
            || n > UB_CHANGES_MAX_PAGE) {
            ub_problem_set(problem, 400, "invalid_query",
                           apr_psprintf(req->pool, "limit is a whole number from 1 to %d",
                                        UB_CHANGES_MAX_PAGE),
                           "GET /users/changes?since=CURSOR&limit=100");
            return -1;
        }
        *limit = (int)n;
    }
    *latest = since != NULL && strcmp(since, "latest") == 0;
    *from_start = since == NULL;
    if (since != NULL && !*latest
        && ub_changes_cursor_parse(req->pool, req->account, since, pos) != 0) {
        ub_problem_set(problem, 400, "invalid_cursor",
                       "since is not a cursor this feed gave",
                       "Pass the \"next\" of an earlier page as it came, \"latest\" to "
                       "start from now, or no since to start from the oldest change "
                       "kept.");
        return -1;
    }
    return 0;
}

apr_status_t ub_read_changes(const ub_request *req, const ub_db_source *dbs,
                             const char *args, apr_bucket_brigade *out,
                             ub_outcome *outcome)
{
    ub_problem problem = { 0 };
    ub_changes_pos pos = { 0, NULL }, next;
    int latest = 0, from_start = 0, limit = 0;
    const char *sql_args[5], *cols[5];
    char *end;
    ub_db *db;
    ub_jw w;
    apr_status_t rv;

    if (read_query(req, args, &pos, &latest, &from_start, &limit, &problem) != 0) {
        ub_logf(req, UB_LOG_INFO, 0, "UB0740 refused a change feed query: %s",
                problem.message);
        return refuse(req, out, outcome, &problem);
    }
    db = dbs->acquire(dbs->baton);
    sql_args[0] = req->account;
    sql_args[1] = from_start || latest ? NULL
                  : apr_psprintf(req->pool, "%" APR_INT64_T_FMT, pos.seq);
    sql_args[2] = pos.user;
    sql_args[3] = latest ? "true" : "false";
    sql_args[4] = apr_itoa(req->pool, limit);
    rv = db == NULL ? APR_EGENERAL
         : ub_store_select_row(req, db, UB_STMT_USER_CHANGES, 5, sql_args, 5, cols);
    if (db != NULL) {
        outcome->db_calls = db->calls;
        outcome->db_usec = db->usec;
    }
    if (rv != APR_SUCCESS || cols[0] == NULL) {
        ub_problem_unavailable(&problem);
        return refuse(req, out, outcome, &problem);
    }
    if (strcmp(cols[0], "410") == 0) {
        ub_logf(req, UB_LOG_INFO, 0,
                "UB0741 answered 410: the change feed cursor lies before what audit "
                "retention kept");
        ub_problem_set(&problem, 410, "cursor_expired",
                       "the changes after this cursor are no longer all kept",
                       "The audit trail was pruned past this cursor (userbulk.prune_audit): "
                       "some changes after it are gone. Read the users again, then follow "
                       "the feed from since=latest.");
        return refuse(req, out, outcome, &problem);
    }
    next.seq = cols[3] ? apr_strtoi64(cols[3], &end, 10) : 0;
    next.user = cols[4];
    if (strcmp(cols[0], "200") != 0 || cols[1] == NULL || cols[2] == NULL || cols[3] == NULL
        || *end != '\0' || next.seq < 0) {
        ub_logf(req, UB_LOG_ERR, APR_EGENERAL,
                "UB0742 userbulk.user_changes answered a row the module does not know");
        ub_problem_unavailable(&problem);
        return refuse(req, out, outcome, &problem);
    }
    outcome->status = 200;
    ub_jw_init(&w, out);
    ub_jw_object_begin(&w);
    ub_jw_key(&w, "changes");
    ub_jw_raw(&w, cols[1]);
    ub_jw_kv_string(&w, "next", ub_changes_cursor(req->pool, req->account, &next));
    ub_jw_kv_bool(&w, "more", strcmp(cols[2], "t") == 0);
    ub_jw_object_end(&w);
    return ub_jw_status(&w);
}
