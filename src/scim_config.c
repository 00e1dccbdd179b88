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

/* The fields of one attribute definition (RFC 7643 section 7), inside its
 * object. extra_key/extra_raw: one more member after type (referenceTypes,
 * canonicalValues), or NULL; case_exact -1: not a string, no caseExact. */
typedef struct {
    const char *name, *type, *extra_key, *extra_raw;
    int multi, required, case_exact;
    const char *mutability, *returned, *uniqueness;
} attr_def;

static void write_attr(ub_jw *w, const attr_def *d)
{
    ub_jw_kv_string(w, "name", d->name);
    ub_jw_kv_string(w, "type", d->type);
    if (d->extra_key != NULL) {
        ub_jw_key(w, d->extra_key);
        ub_jw_raw(w, d->extra_raw);
    }
    ub_jw_kv_bool(w, "multiValued", d->multi);
    ub_jw_kv_bool(w, "required", d->required);
    if (d->case_exact >= 0) {
        ub_jw_kv_bool(w, "caseExact", d->case_exact);
    }
    ub_jw_kv_string(w, "mutability", d->mutability);
    ub_jw_kv_string(w, "returned", d->returned);
    ub_jw_kv_string(w, "uniqueness", d->uniqueness);
}

/* A User attribute's definition. id is the server's (readOnly); userName
 * is immutable (set at creation: it is the key of PUT /users, and a PUT or
 * PATCH that changes it is refused, mutability); the others are readWrite
 * (PUT, PATCH). case_path: the filter's attribute whose case-exactness
 * applies (NULL: false). */
static void attribute(ub_jw *w, const char *name, const char *type, int multi,
                      const char *case_path, const char *returned, const char *uniqueness,
                      int required)
{
    const ub_scim_attr *a = case_path ? ub_scim_attr_find(case_path, strlen(case_path)) : NULL;
    attr_def d = { name, type, NULL, NULL, multi, required,
                   strcmp(type, "string") == 0 ? a != NULL && a->case_exact : -1,
                   strcmp(name, "id") == 0 ? "readOnly"
                   : strcmp(name, "userName") == 0 ? "immutable" : "readWrite",
                   returned, uniqueness };

    write_attr(w, &d);
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
    static const attr_def manager_ref = { "$ref", "reference", "referenceTypes", "[\"User\"]",
                                          0, 0, -1, "readWrite", "default", "none" };

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
    write_attr(w, &manager_ref);
    ub_jw_object_end(w);
    ub_jw_array_end(w);
    ub_jw_object_end(w);
    ub_jw_array_end(w);
    meta(w, "Schema", apr_pstrcat(pool, base, "/Schemas/" UB_SCIM_ENTERPRISE_SCHEMA, NULL));
    ub_jw_object_end(w);
}

/* A resource type (RFC 7643 section 6); extensions: its schemaExtensions
 * as JSON, or NULL. */
static void resource_type(ub_jw *w, apr_pool_t *pool, const char *base, const char *id,
                          const char *endpoint, const char *description, const char *schema,
                          const char *extensions)
{
    ub_jw_object_begin(w);
    ub_jw_key(w, "schemas");
    ub_jw_raw(w, "[\"urn:ietf:params:scim:schemas:core:2.0:ResourceType\"]");
    ub_jw_kv_string(w, "id", id);
    ub_jw_kv_string(w, "name", id);
    ub_jw_kv_string(w, "endpoint", endpoint);
    ub_jw_kv_string(w, "description", description);
    ub_jw_kv_string(w, "schema", schema);
    if (extensions != NULL) {
        ub_jw_key(w, "schemaExtensions");
        ub_jw_raw(w, extensions);
    }
    meta(w, "ResourceType", apr_pstrcat(pool, base, "/ResourceTypes/", id, NULL));
    ub_jw_object_end(w);
}

static void user_resource_type(ub_jw *w, apr_pool_t *pool, const char *base)
{
    resource_type(w, pool, base, "User", "/Users", "User Account", USER_SCHEMA,
                  "[{\"schema\":\"" UB_SCIM_ENTERPRISE_SCHEMA "\",\"required\":false}]");
}

/* The Group schema (RFC 7643 section 4.2) as served: roles as groups.
 * displayName is writable (PATCH, PUT), unique in the account; members
 * hold the users' ids (value), their userName (display, readOnly), $ref
 * and type User. */
static void group_schema(ub_jw *w, apr_pool_t *pool, const char *base)
{
    static const attr_def members = { "members", "complex", NULL, NULL, 1, 0, -1,
                                      "readWrite", "default", "none" };
    static const attr_def member_subs[] = {
        /* RFC 7643 section 8.7.1; an id of either case names the same user */
        { "value", "string", NULL, NULL, 0, 1, 0, "immutable", "default", "none" },
        { "display", "string", NULL, NULL, 0, 0, 0, "readOnly", "default", "none" },
        { "$ref", "reference", "referenceTypes", "[\"User\"]", 0, 0, 1, "immutable",
          "default", "none" },
        { "type", "string", "canonicalValues", "[\"User\"]", 0, 0, 0, "immutable",
          "default", "none" },
    };
    attr_def display_name = { "displayName", "string", NULL, NULL, 0, 1,
        ub_scim_group_attr_find("displayName", strlen("displayName"))->case_exact,
        "readWrite", "default", "server" };
    apr_size_t i;

    ub_jw_object_begin(w);
    ub_jw_key(w, "schemas");
    ub_jw_raw(w, "[\"urn:ietf:params:scim:schemas:core:2.0:Schema\"]");
    ub_jw_kv_string(w, "id", UB_SCIM_GROUP_SCHEMA);
    ub_jw_kv_string(w, "name", "Group");
    ub_jw_kv_string(w, "description", "Group: one of the account's roles");
    ub_jw_key(w, "attributes");
    ub_jw_array_begin(w);
    ub_jw_object_begin(w);
    write_attr(w, &display_name);
    ub_jw_object_end(w);
    ub_jw_object_begin(w);
    write_attr(w, &members);
    ub_jw_key(w, "subAttributes");
    ub_jw_array_begin(w);
    for (i = 0; i < sizeof(member_subs) / sizeof(member_subs[0]); i++) {
        ub_jw_object_begin(w);
        write_attr(w, &member_subs[i]);
        ub_jw_object_end(w);
    }
    ub_jw_array_end(w);
    ub_jw_object_end(w);
    ub_jw_array_end(w);
    meta(w, "Schema", apr_pstrcat(pool, base, "/Schemas/" UB_SCIM_GROUP_SCHEMA, NULL));
    ub_jw_object_end(w);
}

static void group_resource_type(ub_jw *w, apr_pool_t *pool, const char *base)
{
    resource_type(w, pool, base, "Group", "/Groups", "Group: one of the account's roles",
                  UB_SCIM_GROUP_SCHEMA, NULL);
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
