/*
 * scim_config.h: the SCIM discovery resources (RFC 7644 section 4):
 * /ServiceProviderConfig, /Schemas, /ResourceTypes, describing what this
 * server does, with the limits of the location that serves them.
 */
#ifndef UB_SCIM_CONFIG_H
#define UB_SCIM_CONFIG_H

#include "userbulk.h"

typedef enum {
    UB_SCIM_SERVICE_PROVIDER_CONFIG,
    UB_SCIM_SCHEMAS,
    UB_SCIM_RESOURCE_TYPES
} ub_scim_doc;

/* What /ServiceProviderConfig announces, from the location's directives
 * as the request was served with them, so that it cannot drift from what
 * the server enforces. */
typedef struct {
    int max_operations;         /* bulk.maxOperations: UserBulkMaxRecords */
    apr_off_t max_payload;      /* bulk.maxPayloadSize: UserBulkMaxBodySize */
    int max_results;            /* filter.maxResults: the list's page cap */
} ub_scim_limits;

/* The document (id NULL: the whole list; else the one of that id, 404 for
 * another), with base the SCIM base URL; max_body: the body limit, /Bulk's
 * maxPayloadSize (its maxOperations is req->max_records). */
apr_status_t ub_scim_discovery(const ub_request *req, ub_scim_doc doc, const char *id,
                               const char *base, const ub_scim_limits *limits,
                               apr_bucket_brigade *out, ub_outcome *outcome);

#endif
