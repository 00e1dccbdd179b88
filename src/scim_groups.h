/*
 * scim_groups.h: the SCIM 2.0 Group resource (RFC 7643 section 4.2, RFC
 * 7644 section 3): the account's roles as groups, their members the users
 * holding them. GET /Groups (filter on id and displayName, page,
 * attributes), GET, PATCH, PUT and DELETE /Groups/{id}, POST /Groups. The
 * resources and every change are the SQL's (src/sql/functions/
 * scim_groups.sql); the bodies are read by scim_group_body.c. Refusals
 * are SCIM errors.
 */
#ifndef UB_SCIM_GROUPS_H
#define UB_SCIM_GROUPS_H

#include "userbulk.h"

/* The most members one response lists (over a list's page, or one group):
 * past it, 400 tooMany and excludedAttributes=members is the way. Also
 * the most member values one request may send, and the most users whose
 * roles one request may change. */
#define UB_SCIM_MAX_GROUP_MEMBERS 10000

/* args: the query string; base: the SCIM base URL. */
apr_status_t ub_scim_list_groups(const ub_request *req, const ub_db_source *dbs,
                                 const char *args, const char *base,
                                 apr_bucket_brigade *out, ub_outcome *outcome);

/* GET /Groups/{id}: the group with its ETag in headers; 404. */
apr_status_t ub_scim_get_group(const ub_request *req, const ub_db_source *dbs,
                               const char *id, const char *args, const char *base,
                               apr_table_t *headers, apr_bucket_brigade *out,
                               ub_outcome *outcome);

/* The writes. id: the path segment after /Groups/ (NULL for POST); method
 * "POST", "PUT", "PATCH" or "DELETE"; buf/len the body (none for DELETE);
 * if_match the header or NULL. POST answers 201 with the group and its
 * Location, PUT 200 with the group, PATCH and DELETE 204; each with the
 * ETag of the group after it (but DELETE). */
apr_status_t ub_scim_write_group(const ub_request *req, const ub_db_source *dbs,
                                 const char *method, const char *id, const char *buf,
                                 apr_size_t len, const char *if_match, const char *base,
                                 apr_table_t *headers, apr_bucket_brigade *out,
                                 ub_outcome *outcome);

#endif
