/*
 * scim_config.c: see scim_config.h. The User schema's case-exactness is
 * read from the filter's table of attributes (scim_filter.c), so that what
 * /Schemas says is what the filter does.
 */
#include <string.h>
#include <apr_strings.h>
#include "scim_config.h"
#include "scim_filter.h"
#include "scim_users.h"
#include "errors.h"
#include "json.h"
#include "render.h"

#define USER_SCHEMA "urn:ietf:params:scim:schemas:core:2.0:User"
#define LIST_RESPONSE "urn:ietf:params:scim:api:messages:2.0:ListResponse"

static void supported(ub_jw *w, const char *key, int yes)
{
    ub_jw_key(w, key);
    ub_jw_object_begin(w);
    ub_jw_kv_bool(w, "supported", yes);
    ub_jw_object_end(w);
}

static void meta(ub_jw *w, const char *type, const char *location)
{
    ub_jw_key(w, "meta");
    ub_jw_object_begin(w);
    ub_jw_kv_string(w, "resourceType", type);
    ub_jw_kv_string(w, "location", location);
    ub_jw_object_end(w);
}

/* RFC 7643 section 5, as this release serves it: PATCH and /Bulk on
 * Users (bulk capped by the location's record and body limits, which
 * /Bulk enforces), filters with a page of at most max_results, ETags
 * (meta.version, ETag, If-Match), no password change, no sorting; bearer
 * tokens (section 8.5's "oauthbearertoken"). */
static void service_provider_config(ub_jw *w, apr_pool_t *pool, const char *base,
                                    const ub_scim_limits *limits)
{
    ub_jw_object_begin(w);
    ub_jw_key(w, "schemas");
    ub_jw_raw(w, "[\"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig\"]");
    supported(w, "patch", 1);
    ub_jw_key(w, "bulk");
    ub_jw_object_begin(w);
    ub_jw_kv_bool(w, "supported", 1);
    ub_jw_kv_int(w, "maxOperations", limits->max_operations);
    ub_jw_kv_int(w, "maxPayloadSize", (long long)limits->max_payload);
    ub_jw_object_end(w);
    ub_jw_key(w, "filter");
    ub_jw_object_begin(w);
    ub_jw_kv_bool(w, "supported", 1);
    ub_jw_kv_int(w, "maxResults", limits->max_results);
    ub_jw_object_end(w);
    supported(w, "changePassword", 0);
    supported(w, "sort", 0);
    /* meta.version on every User, the ETag header of GET, PUT and PATCH
     * /Users/{id}, If-Match on PUT, PATCH and DELETE */
    supported(w, "etag", 1);
    ub_jw_key(w, "authenticationSchemes");
    ub_jw_array_begin(w);
    ub_jw_object_begin(w);
    ub_jw_kv_string(w, "type", "oauthbearertoken");
    ub_jw_kv_string(w, "name", "OAuth Bearer Token");
    ub_jw_kv_string(w, "description",
                    "A bearer token (RFC 6750) carrying the account, as for the "
                    "other APIs of this server.");
    ub_jw_kv_string(w, "specUri", "https://www.rfc-editor.org/info/rfc6750");
    ub_jw_kv_bool(w, "primary", 1);
    ub_jw_object_end(w);
    ub_jw_array_end(w);
    meta(w, "ServiceProviderConfig", apr_pstrcat(pool, base, "/ServiceProviderConfig", NULL));
    ub_jw_object_end(w);
}

/* One attribute definition (RFC 7643 section 7). id is the server's
 * (readOnly); userName is immutable (set at creation: it is the key of PUT
 * /users, and a PUT or PATCH that changes it is refused, mutability); the
 * others are readWrite (PUT, PATCH).
 * case_path: the filter's
 * attribute whose case-exactness applies (NULL: false). */
static void attribute(ub_jw *w, const char *name, const char *type, int multi,
                      const char *case_path, const char *returned, const char *uniqueness,
                      int required)
{
    const ub_scim_attr *a = case_path ? ub_scim_attr_find(case_path, strlen(case_path)) : NULL;

    ub_jw_kv_string(w, "name", name);
    ub_jw_kv_string(w, "type", type);
    ub_jw_kv_bool(w, "multiValued", multi);
    ub_jw_kv_bool(w, "required", required);
    if (strcmp(type, "string") == 0) {
        ub_jw_kv_bool(w, "caseExact", a != NULL && a->case_exact);
    }
    ub_jw_kv_string(w, "mutability", strcmp(name, "id") == 0 ? "readOnly"
                                      : strcmp(name, "userName") == 0 ? "immutable"
                                      : "readWrite");
    ub_jw_kv_string(w, "returned", returned);
    ub_jw_kv_string(w, "uniqueness", uniqueness);
}

static void simple(ub_jw *w, const char *name, const char *type, const char *case_path)
{
    ub_jw_object_begin(w);
    attribute(w, name, type, 0, case_path, "default", "none", 0);
    ub_jw_object_end(w);
}

/* emails, phoneNumbers: value, type, primary. */
static void multi_valued(ub_jw *w, const char *name, const char *value_path)
{
    ub_jw_object_begin(w);
    attribute(w, name, "complex", 1, NULL, "default", "none", 0);
    ub_jw_key(w, "subAttributes");
    ub_jw_array_begin(w);
    simple(w, "value", "string", value_path);
    simple(w, "type", "string", NULL);
    simple(w, "primary", "boolean", NULL);
    ub_jw_array_end(w);
    ub_jw_object_end(w);
}

static void user_schema(ub_jw *w, apr_pool_t *pool, const char *base)
{
    ub_jw_object_begin(w);
    ub_jw_key(w, "schemas");
    ub_jw_raw(w, "[\"urn:ietf:params:scim:schemas:core:2.0:Schema\"]");
    ub_jw_kv_string(w, "id", USER_SCHEMA);
    ub_jw_kv_string(w, "name", "User");
    ub_jw_kv_string(w, "description", "User Account");
    ub_jw_key(w, "attributes");
    ub_jw_array_begin(w);
    ub_jw_object_begin(w);
    attribute(w, "id", "string", 0, "id", "always", "server", 0);
    ub_jw_object_end(w);
    simple(w, "externalId", "string", "externalId");
    ub_jw_object_begin(w);
    attribute(w, "userName", "string", 0, "userName", "default", "server", 1);
    ub_jw_object_end(w);
    ub_jw_object_begin(w);
    attribute(w, "name", "complex", 0, NULL, "default", "none", 0);
    ub_jw_key(w, "subAttributes");
    ub_jw_array_begin(w);
    simple(w, "givenName", "string", "name.givenName");
    simple(w, "middleName", "string", "name.middleName");
    simple(w, "familyName", "string", "name.familyName");
    ub_jw_array_end(w);
    ub_jw_object_end(w);
    simple(w, "displayName", "string", "displayName");
    multi_valued(w, "emails", "emails.value");
    multi_valued(w, "phoneNumbers", NULL);
    simple(w, "active", "boolean", NULL);
    ub_jw_array_end(w);
    meta(w, "Schema", apr_pstrcat(pool, base, "/Schemas/" USER_SCHEMA, NULL));
    ub_jw_object_end(w);
}

/* The enterprise extension (RFC 7643 section 4.3) as far as it is stored:
 * employeeNumber, department (one of the account's department codes),
 * manager (value: a user of the account; $ref; displayName is not kept). */
static void enterprise_schema(ub_jw *w, apr_pool_t *pool, const char *base)
{
    ub_jw_object_begin(w);
    ub_jw_key(w, "schemas");
    ub_jw_raw(w, "[\"urn:ietf:params:scim:schemas:core:2.0:Schema\"]");
    ub_jw_kv_string(w, "id", UB_SCIM_ENTERPRISE_SCHEMA);
    ub_jw_kv_string(w, "name", "EnterpriseUser");
    ub_jw_kv_string(w, "description", "Enterprise User");
    ub_jw_key(w, "attributes");
    ub_jw_array_begin(w);
    simple(w, "employeeNumber", "string", NULL);
    simple(w, "department", "string", NULL);
    ub_jw_object_begin(w);
    attribute(w, "manager", "complex", 0, NULL, "default", "none", 0);
    ub_jw_key(w, "subAttributes");
    ub_jw_array_begin(w);
    simple(w, "value", "string", NULL);
    ub_jw_object_begin(w);
    attribute(w, "$ref", "reference", 0, NULL, "default", "none", 0);
    ub_jw_key(w, "referenceTypes");
    ub_jw_raw(w, "[\"User\"]");
    ub_jw_object_end(w);
    ub_jw_array_end(w);
    ub_jw_object_end(w);
    ub_jw_array_end(w);
    meta(w, "Schema", apr_pstrcat(pool, base, "/Schemas/" UB_SCIM_ENTERPRISE_SCHEMA, NULL));
    ub_jw_object_end(w);
}

static void user_resource_type(ub_jw *w, apr_pool_t *pool, const char *base)
{
    ub_jw_object_begin(w);
    ub_jw_key(w, "schemas");
    ub_jw_raw(w, "[\"urn:ietf:params:scim:schemas:core:2.0:ResourceType\"]");
    ub_jw_kv_string(w, "id", "User");
    ub_jw_kv_string(w, "name", "User");
    ub_jw_kv_string(w, "endpoint", "/Users");
    ub_jw_kv_string(w, "description", "User Account");
    ub_jw_kv_string(w, "schema", USER_SCHEMA);
    ub_jw_key(w, "schemaExtensions");
    ub_jw_raw(w, "[{\"schema\":\"" UB_SCIM_ENTERPRISE_SCHEMA "\",\"required\":false}]");
    meta(w, "ResourceType", apr_pstrcat(pool, base, "/ResourceTypes/User", NULL));
    ub_jw_object_end(w);
}

/* The Group schema (RFC 7643 section 4.2) as served: roles as groups.
 * displayName is writable (PATCH, PUT), unique in the account; members
 * hold the users' ids (value), their userName (display, readOnly), $ref
 * and type User. */
static void group_schema(ub_jw *w, apr_pool_t *pool, const char *base)
{
    ub_jw_object_begin(w);
    ub_jw_key(w, "schemas");
    ub_jw_raw(w, "[\"urn:ietf:params:scim:schemas:core:2.0:Schema\"]");
    ub_jw_kv_string(w, "id", UB_SCIM_GROUP_SCHEMA);
    ub_jw_kv_string(w, "name", "Group");
    ub_jw_kv_string(w, "description", "Group: one of the account's roles");
    ub_jw_key(w, "attributes");
    ub_jw_array_begin(w);
    ub_jw_object_begin(w);
    ub_jw_kv_string(w, "name", "displayName");
    ub_jw_kv_string(w, "type", "string");
    ub_jw_kv_bool(w, "multiValued", 0);
    ub_jw_kv_bool(w, "required", 1);
    ub_jw_kv_bool(w, "caseExact",
                  ub_scim_group_attr_find("displayName", strlen("displayName"))->case_exact);
    ub_jw_kv_string(w, "mutability", "readWrite");
    ub_jw_kv_string(w, "returned", "default");
    ub_jw_kv_string(w, "uniqueness", "server");
    ub_jw_object_end(w);
    ub_jw_object_begin(w);
    ub_jw_kv_string(w, "name", "members");
    ub_jw_kv_string(w, "type", "complex");
    ub_jw_kv_bool(w, "multiValued", 1);
    ub_jw_kv_bool(w, "required", 0);
    ub_jw_kv_string(w, "mutability", "readWrite");
    ub_jw_kv_string(w, "returned", "default");
    ub_jw_kv_string(w, "uniqueness", "none");
    ub_jw_key(w, "subAttributes");
    ub_jw_array_begin(w);
    ub_jw_object_begin(w);
    ub_jw_kv_string(w, "name", "value");
    ub_jw_kv_string(w, "type", "string");
    ub_jw_kv_bool(w, "multiValued", 0);
    ub_jw_kv_bool(w, "required", 1);
    /* RFC 7643 section 8.7.1; an id of either case names the same user */
    ub_jw_kv_bool(w, "caseExact", 0);
    ub_jw_kv_string(w, "mutability", "immutable");
    ub_jw_kv_string(w, "returned", "default");
    ub_jw_kv_string(w, "uniqueness", "none");
    ub_jw_object_end(w);
    ub_jw_object_begin(w);
    ub_jw_kv_string(w, "name", "display");
    ub_jw_kv_string(w, "type", "string");
    ub_jw_kv_bool(w, "multiValued", 0);
    ub_jw_kv_bool(w, "required", 0);
    ub_jw_kv_bool(w, "caseExact", 0);
    ub_jw_kv_string(w, "mutability", "readOnly");
    ub_jw_kv_string(w, "returned", "default");
    ub_jw_kv_string(w, "uniqueness", "none");
    ub_jw_object_end(w);
    ub_jw_object_begin(w);
    ub_jw_kv_string(w, "name", "$ref");
    ub_jw_kv_string(w, "type", "reference");
    ub_jw_key(w, "referenceTypes");
    ub_jw_raw(w, "[\"User\"]");
    ub_jw_kv_bool(w, "multiValued", 0);
    ub_jw_kv_bool(w, "required", 0);
    ub_jw_kv_bool(w, "caseExact", 1);
    ub_jw_kv_string(w, "mutability", "immutable");
    ub_jw_kv_string(w, "returned", "default");
    ub_jw_kv_string(w, "uniqueness", "none");
    ub_jw_object_end(w);
    ub_jw_object_begin(w);
    ub_jw_kv_string(w, "name", "type");
    ub_jw_kv_string(w, "type", "string");
    ub_jw_key(w, "canonicalValues");
    ub_jw_raw(w, "[\"User\"]");
    ub_jw_kv_bool(w, "multiValued", 0);
    ub_jw_kv_bool(w, "required", 0);
    ub_jw_kv_bool(w, "caseExact", 0);
    ub_jw_kv_string(w, "mutability", "immutable");
    ub_jw_kv_string(w, "returned", "default");
    ub_jw_kv_string(w, "uniqueness", "none");
    ub_jw_object_end(w);
    ub_jw_array_end(w);
    ub_jw_object_end(w);
    ub_jw_array_end(w);
    meta(w, "Schema", apr_pstrcat(pool, base, "/Schemas/" UB_SCIM_GROUP_SCHEMA, NULL));
    ub_jw_object_end(w);
}

static void group_resource_type(ub_jw *w, apr_pool_t *pool, const char *base)
{
    ub_jw_object_begin(w);
    ub_jw_key(w, "schemas");
    ub_jw_raw(w, "[\"urn:ietf:params:scim:schemas:core:2.0:ResourceType\"]");
    ub_jw_kv_string(w, "id", "Group");
    ub_jw_kv_string(w, "name", "Group");
    ub_jw_kv_string(w, "endpoint", "/Groups");
    ub_jw_kv_string(w, "description", "Group: one of the account's roles");
    ub_jw_kv_string(w, "schema", UB_SCIM_GROUP_SCHEMA);
    meta(w, "ResourceType", apr_pstrcat(pool, base, "/ResourceTypes/Group", NULL));
    ub_jw_object_end(w);
}

typedef void ub_doc_fn(ub_jw *w, apr_pool_t *pool, const char *base);

typedef struct {
    const char *id;
    ub_doc_fn *doc;
} ub_doc_entry;

/* A list of the n resources, or the resource when id names it. */
static int one_or_list(ub_jw *w, apr_pool_t *pool, const char *base, const char *id,
                       const ub_doc_entry *docs, int n)
{
    int i;

    if (id != NULL) {
        for (i = 0; i < n; i++) {
            if (strcmp(id, docs[i].id) == 0) {
                docs[i].doc(w, pool, base);
                return 200;
            }
        }
        return 404;
    }
    ub_jw_object_begin(w);
    ub_jw_key(w, "schemas");
    ub_jw_raw(w, "[\"" LIST_RESPONSE "\"]");
    ub_jw_kv_int(w, "totalResults", n);
    ub_jw_kv_int(w, "startIndex", 1);
    ub_jw_kv_int(w, "itemsPerPage", n);
    ub_jw_key(w, "Resources");
    ub_jw_array_begin(w);
    for (i = 0; i < n; i++) {
        docs[i].doc(w, pool, base);
    }
    ub_jw_array_end(w);
    ub_jw_object_end(w);
    return 200;
}

static const ub_doc_entry schemas[] = {
    { USER_SCHEMA, user_schema },
    { UB_SCIM_ENTERPRISE_SCHEMA, enterprise_schema },
    { UB_SCIM_GROUP_SCHEMA, group_schema },
};
static const ub_doc_entry resource_types[] = {
    { "User", user_resource_type },
    { "Group", group_resource_type },
};

apr_status_t ub_scim_discovery(const ub_request *req, ub_scim_doc doc, const char *id,
                               const char *base, const ub_scim_limits *limits,
                               apr_bucket_brigade *out, ub_outcome *outcome)
{
    ub_jw w;
    int status = 200;

    ub_jw_init(&w, out);
    switch (doc) {
    case UB_SCIM_SERVICE_PROVIDER_CONFIG:
        service_provider_config(&w, req->pool, base, limits);
        break;
    case UB_SCIM_SCHEMAS:
        status = one_or_list(&w, req->pool, base, id, schemas,
                             (int)(sizeof(schemas) / sizeof(schemas[0])));
        break;
    case UB_SCIM_RESOURCE_TYPES:
        status = one_or_list(&w, req->pool, base, id, resource_types,
                             (int)(sizeof(resource_types) / sizeof(resource_types[0])));
        break;
    }
    outcome->status = status;
    if (status != 200) {
        ub_problem problem = { 0 };

        ub_problem_set(&problem, 404, "not_found", "no such resource",
                       "This server has the User and Group resources and their schemas.");
        return ub_render_scim_problem(out, &problem);
    }
    return ub_jw_status(&w);
}
