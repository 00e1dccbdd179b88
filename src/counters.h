/*
 * counters.h: what the module has done since httpd started, kept in one
 * block of shared memory so every child adds to the same figures
 * (mod_status shows them in /server-status and its ?auto form).
 */
#ifndef UB_COUNTERS_H
#define UB_COUNTERS_H

#include <apr_atomic.h>
#include "userbulk.h"

/* Rows of the request table. */
typedef enum {
    UB_CTR_PUT_USERS,
    UB_CTR_GET_USERS,
    UB_CTR_ACCOUNT_UPDATE,
    UB_CTR_ERROR_BODY,          /* 401/403 bodies served for the auth module */
    UB_CTR_SCIM,                /* GET /scim/v2/... */
    UB_CTR_CHANGES,             /* GET /users/changes */
    UB_CTR_ENDPOINTS
} ub_ctr_endpoint;

/* Columns: the statuses the module answers, and the rest. */
#define UB_CTR_STATUSES 12

typedef struct {
    volatile apr_uint64_t requests[UB_CTR_ENDPOINTS][UB_CTR_STATUSES];
    volatile apr_uint64_t records_applied;
    volatile apr_uint64_t records_failed;
    volatile apr_uint64_t db_calls;
    volatile apr_uint64_t db_usec;
    /* The last failure of the database or of the module, under a spin
     * lock: written rarely, read by /server-status. */
    volatile apr_uint32_t last_error_lock;
    apr_time_t last_error_time;
    char last_error[256];
} ub_counters;

/* The status of each column, 0 for "other". */
extern const int ub_ctr_statuses[UB_CTR_STATUSES];
extern const char *const ub_ctr_endpoint_names[UB_CTR_ENDPOINTS];

void ub_counters_count(ub_counters *c, ub_ctr_endpoint ep, const ub_outcome *o);
void ub_counters_set_error(ub_counters *c, apr_time_t when, const char *text);

/* A consistent copy of the last error (text in buf of size n; 0 when
 * there was none). */
apr_time_t ub_counters_last_error(ub_counters *c, char *buf, apr_size_t n);

#endif
