/*
 * scim_patch.h: PATCH /Users/{id} (RFC 7644 section 3.5.2) compiled into
 * the columns it sets, without reading the user: the resource is flat
 * (scim_map.h), so every operation is an assignment of columns, and the
 * operations compose in order (a later one wins).
 *
 * What is taken: the PatchOp schema; op add, replace or remove in any
 * case (Entra sends "Replace"); a path, with or without the User schema's
 * URN, as an attribute ("displayName"), a sub-attribute ("name.givenName")
 * or a value filter of a multi-valued attribute ('emails[type eq
 * "work"].value', 'phoneNumbers[type eq "mobile"].value', [primary eq
 * true]); no path with a value object whose keys are such paths (Okta's
 * {"active":false}, Entra's "name.givenName" and URN-prefixed keys).
 * active also as the strings "True"/"False" (an Entra quirk). add and
 * replace assign; on a multi-valued attribute replace clears the entries
 * it does not give. remove clears; userName, emails and active cannot be
 * removed. Attributes without a column are ignored (as POST ignores them);
 * readOnly ones (id, meta) are refused.
 */
#ifndef UB_SCIM_PATCH_H
#define UB_SCIM_PATCH_H

#include "scim_map.h"

#define UB_SCIM_PATCH_SCHEMA "urn:ietf:params:scim:api:messages:2.0:PatchOp"

/* Operations of one PATCH, at most. */
#define UB_SCIM_MAX_PATCH_OPS 1000

/* Compiles the PatchOp document doc into cols (zeroed first). 0, or 400
 * with problem filled: scimType invalidSyntax (not a PatchOp, an unknown
 * op, more than UB_SCIM_MAX_PATCH_OPS operations), invalidPath (a path
 * naming no attribute), invalidFilter (a filter other than [type eq "..."]
 * or [primary eq true]), noTarget (remove without a path), mutability
 * (readOnly or immutable attributes), invalidValue (a value refused, named
 * by its operation and path). */
int ub_scim_patch_compile(apr_pool_t *pool, const ub_jval *doc, ub_scim_cols *cols,
                          ub_problem *problem);

#endif
