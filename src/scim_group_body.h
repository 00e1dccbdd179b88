/*
 * scim_group_body.h: the bodies of SCIM's Group writes read into one
 * change of a role: PATCH's operations (RFC 7644 section 3.5.2, in the
 * shapes Entra and Okta send), the Group document of POST and PUT, and the
 * If-Match header. Pure: no database; the change goes to
 * userbulk.scim_group_* (src/sql/functions/scim_groups.sql) as it is.
 */
#ifndef UB_SCIM_GROUP_BODY_H
#define UB_SCIM_GROUP_BODY_H

#include "userbulk.h"

#define UB_SCIM_PATCH_SCHEMA "urn:ietf:params:scim:api:messages:2.0:PatchOp"

/* A member id is at most this long (a user id is 36 characters). */
#define UB_SCIM_MEMBER_ID_MAX 64

/* What a request does to a role: the final members are (reset ? none :
 * the current ones) + add - remove. The operations are folded in their
 * order as RFC 7644 section 3.5.2 applies them: a later operation on a
 * member wins, a replace of members (or a remove of them all) starts
 * from none again; so add and remove are disjoint, without repeats. */
typedef struct {
    const char *name;               /* displayName to set; NULL: unchanged */
    int reset;
    apr_array_header_t *add;        /* const char *: member ids, in first-seen order */
    apr_array_header_t *remove;
} ub_scim_group_change;

/* A PATCH body (schemas holding UB_SCIM_PATCH_SCHEMA, Operations: op add,
 * remove or replace in any case; paths displayName, members,
 * members[value eq "id"], externalId (ignored: not stored), or none with
 * an object value). At most max_members member values in all. 0, or 400
 * with problem filled (scimType invalidSyntax, invalidPath, noTarget,
 * invalidValue, mutability; the detail names the operation by index). */
int ub_scim_group_patch_read(apr_pool_t *pool, const char *buf, apr_size_t len,
                             int max_members, ub_scim_group_change *change,
                             ub_problem *problem);

/* A Group document (POST, PUT): schemas holding the Group schema,
 * displayName required, members replacing the role's (none when absent).
 * id, meta, externalId are ignored. 0, or 400 with problem filled. */
int ub_scim_group_doc_read(apr_pool_t *pool, const char *buf, apr_size_t len,
                           int max_members, ub_scim_group_change *change,
                           ub_problem *problem);

/* If-Match (RFC 9110 section 13.1.1) as a PostgreSQL text[] literal of the
 * opaque tags (weak comparison: W/ dropped), "{*}" for "*"; NULL in *tags
 * when header is NULL. 0, or 400 invalidSyntax for a header that is no
 * list of entity tags. */
int ub_scim_if_match_tags(apr_pool_t *pool, const char *header, const char **tags,
                     ub_problem *problem);

/* ids as a PostgreSQL text[] literal. */
const char *ub_scim_id_array(apr_pool_t *pool, const apr_array_header_t *ids);

#endif
