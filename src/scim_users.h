/*
 * scim_users.h: the SCIM 2.0 User resource (RFC 7644 sections 3.3, 3.4):
 * GET /Users (a ListResponse: filter, page, attribute selection), GET
 * /Users/{id} (creation and the other writes: scim_write.h). The resources
 * are built by SQL (userbulk.scim_users, userbulk.scim_user in
 * src/sql/functions/scim_users.sql) and passed on as they are. Refusals are
 * written as SCIM errors.
 */
#ifndef UB_SCIM_USERS_H
#define UB_SCIM_USERS_H

#include "userbulk.h"

/* The enterprise extension (RFC 7643 section 4.3): its attributes sit in
 * the User under this URN as the key. */
#define UB_SCIM_ENTERPRISE_SCHEMA \
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

/* The largest page a list answers (count is lowered to it); also in
 * /ServiceProviderConfig's filter.maxResults. */
#define UB_SCIM_MAX_COUNT 200

/* attributes / excludedAttributes: at most this many paths, each at most
 * UB_SCIM_MAX_ATTR_LEN bytes. */
#define UB_SCIM_MAX_ATTRS    32
#define UB_SCIM_MAX_ATTR_LEN 128

/* args: the query string; base: the SCIM base URL that meta.location
 * starts with ("https://host/scim/v2"). */
apr_status_t ub_scim_list_users(const ub_request *req, const ub_db_source *dbs,
                                const char *args, const char *base,
                                apr_bucket_brigade *out, ub_outcome *outcome);

/* id: the path segment after /Users/. 404 for a user the account does not
 * have; else the user, and its version as a weak ETag in headers. */
apr_status_t ub_scim_get_user(const ub_request *req, const ub_db_source *dbs,
                              const char *id, const char *args, const char *base,
                              apr_table_t *headers, apr_bucket_brigade *out,
                              ub_outcome *outcome);

/* The query's attributes= (or excludedAttributes=) as a JSON array of
 * paths, the User schema's URN prefix removed and the enterprise
 * extension's attributes written as "<its URN>.<attribute>" (the form the
 * SQL selection matches sub-attributes in); NULL in *json when absent.
 * 0, or 400 with problem filled (scimType invalidValue). */
int ub_scim_attr_list(apr_pool_t *pool, const char *args, const char *name,
                      const char **json, ub_problem *problem);

/* The query of a list (GET /Users, GET /Groups; RFC 7644 section
 * 3.4.2): the filter parsed by parse into its description (NULL: none),
 * startIndex from 1 (below 1 is 1), count within 0 and UB_SCIM_MAX_COUNT,
 * attributes and excludedAttributes as ub_scim_attr_list reads them. 0, or
 * 400 with problem filled (bad_filter set when the filter was refused). */
typedef int ub_scim_filter_parse_fn(apr_pool_t *pool, const char *filter,
                                    const char **description, ub_problem *problem);
typedef struct {
    const char *filter, *attrs, *excluded;
    int start, count;
    int bad_filter;
} ub_scim_list_params;

int ub_scim_list_query(apr_pool_t *pool, const char *args, ub_scim_filter_parse_fn *parse,
                       ub_scim_list_params *lp, ub_problem *problem);

#endif
