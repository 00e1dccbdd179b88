/*
 * changes.h: GET /users/changes, the change feed: the caller's account's
 * changes from the audit trail, in the order they committed, a page at a
 * time, each page with the cursor to ask for what follows
 * (src/sql/functions/changes.sql has the order and why it skips nothing).
 */
#ifndef UB_CHANGES_H
#define UB_CHANGES_H

#include "userbulk.h"

/* The largest page (?limit=), and the page when none is asked. */
#define UB_CHANGES_MAX_PAGE 1000

/* A position in an account's feed: the change after which the feed goes
 * on. seq numbers the account's requests in commit order; user is the
 * last user handed out of request seq, or NULL when all of it was. */
typedef struct {
    apr_int64_t seq;
    const char *user;           /* a uuid, lowercase, or NULL */
} ub_changes_pos;

/* The cursor of pos in account's feed: opaque to clients, bound to the
 * account (a cursor of another account's feed is refused, never read). */
const char *ub_changes_cursor(apr_pool_t *pool, const char *account,
                              const ub_changes_pos *pos);

/* Reads a cursor of account's feed into *pos: 0, or -1 when it is not
 * one this server gave for that account. */
int ub_changes_cursor_parse(apr_pool_t *pool, const char *account,
                            const char *cursor, ub_changes_pos *pos);

/* Serves GET /users/changes?since=CURSOR|latest&limit=N. */
apr_status_t ub_read_changes(const ub_request *req, const ub_db_source *dbs,
                             const char *args, apr_bucket_brigade *out,
                             ub_outcome *outcome);

#endif
