/*
 * scim_bulk.h: POST /scim/v2/Bulk (RFC 7644 section 3.7) on /Users.
 *
 * Up to UserBulkMaxRecords operations (POST /Users, PUT, PATCH and DELETE
 * /Users/{id} or /Users/bulkId:x), read and checked here, then sent to the
 * SCIM engine (userbulk.scim_write) as one batch: one statement, one
 * transaction, the users locked in id order. Several operations on one
 * user are folded here, in order, into one (later assignments win, DELETE
 * after a change deletes, anything after DELETE is 404, DELETE of a user
 * the request creates is refused); each answers the folded outcome.
 * bulkId:x names a user created by a POST earlier in the request.
 * failOnErrors: the operations after the N-th failed one are not
 * performed and are left out of the response. Our extensions, the query
 * parameters of PUT /users: ?atomic=true applies nothing unless every
 * operation passes (the others answer 424), ?dryRun=true (or Prefer:
 * tx=rollback) decides everything and applies nothing. /Groups operations
 * answer 501 each (not in /Bulk).
 */
#ifndef UB_SCIM_BULK_H
#define UB_SCIM_BULK_H

#include "userbulk.h"

#define UB_SCIM_BULK_REQUEST  "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
#define UB_SCIM_BULK_RESPONSE "urn:ietf:params:scim:api:messages:2.0:BulkResponse"

/* buf/len: the body; max_body: its limit (maxPayloadSize); base: the SCIM
 * base URL. 200 with a BulkResponse; 400 for a body that is no
 * BulkRequest, 413 tooMany past req->max_records operations. */
apr_status_t ub_scim_bulk(const ub_request *req, const ub_db_source *dbs,
                          const char *buf, apr_size_t len, apr_off_t max_body,
                          const char *base, apr_bucket_brigade *out, ub_outcome *outcome);

#endif
