/*
 * counters.c: lock-free counting into shared memory (apr_atomic), and a
 * tiny spin lock around the last error's text.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include "counters.h"

const int ub_ctr_statuses[UB_CTR_STATUSES] = {
    200, 400, 401, 403, 405, 409, 413, 415, 422, 500, 503, 0
};

const char *const ub_ctr_endpoint_names[UB_CTR_ENDPOINTS] = {
    "PUT /users", "GET /users", "POST /api/v1/account/users/update", "error body",
    "GET /scim/v2", "GET /users/changes"
};

static int column(int status)
{
    int i;

    for (i = 0; i < UB_CTR_STATUSES - 1; i++) {
        if (ub_ctr_statuses[i] == status) {
            return i;
        }
    }
    return UB_CTR_STATUSES - 1;
}

void ub_counters_count(ub_counters *c, ub_ctr_endpoint ep, const ub_outcome *o)
{
    apr_atomic_inc64(&c->requests[ep][column(o->status)]);
    if (o->applied > 0) {
        apr_atomic_add64(&c->records_applied, (apr_uint64_t)o->applied);
    }
    if (o->failed > 0) {
        apr_atomic_add64(&c->records_failed, (apr_uint64_t)o->failed);
    }
    if (o->db_calls > 0) {
        apr_atomic_add64(&c->db_calls, (apr_uint64_t)o->db_calls);
        apr_atomic_add64(&c->db_usec, (apr_uint64_t)o->db_usec);
    }
}

static void lock(ub_counters *c)
{
    while (apr_atomic_cas32(&c->last_error_lock, 1, 0) != 0) {
        apr_thread_yield();
    }
}

static void unlock(ub_counters *c)
{
    apr_atomic_set32(&c->last_error_lock, 0);
}

void ub_counters_set_error(ub_counters *c, apr_time_t when, const char *text)
{
    lock(c);
    c->last_error_time = when;
    apr_cpystrn(c->last_error, text, sizeof(c->last_error));
    unlock(c);
}

apr_time_t ub_counters_last_error(ub_counters *c, char *buf, apr_size_t n)
{
    apr_time_t when;

    lock(c);
    when = c->last_error_time;
    apr_cpystrn(buf, c->last_error, n);
    unlock(c);
    return when;
}
