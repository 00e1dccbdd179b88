/*
 * scim_filter.h: the filter of GET /scim/v2/Users (RFC 7644 section
 * 3.4.2.2), parsed and checked against the attributes this server filters
 * on, and written as a JSON description of the expression that the SQL
 * function userbulk.scim_users (src/sql/functions/scim_users.sql)
 * interprets.
 *
 * Why a JSON description and not a WHERE fragment: the API role may only
 * call the entry functions (privileges.sql), never read the users table,
 * so the query has to run inside the SQL function; and every statement is
 * prepared once per connection with a fixed list of parameters (store.c).
 * The function turns the description into SQL from fixed fragments chosen
 * by attribute and operator, and every value in it is passed as a
 * parameter of EXECUTE ... USING: no value is ever part of SQL text.
 *
 * The description's nodes:
 *   {"op":"and"|"or","l":NODE,"r":NODE}    {"op":"not","e":NODE}
 *   {"op":"pr","a":ATTR}
 *   {"op":"eq"|"ne"|"co"|"sw"|"ew"|"gt"|"ge"|"lt"|"le","a":ATTR,"ci":BOOL,"v":VALUE}
 *   {"op":"has","a":"phonenumbers","e":NODE}
 * ATTR is the attribute's key (below, lower case), ci whether it compares
 * without case (caseExact false, RFC 7643), VALUE a string, true, false or
 * null. "has": some value of a multi-valued attribute that holds several
 * (phoneNumbers) satisfies NODE, whose attributes are that one's
 * sub-attributes: a value path (phoneNumbers[type eq "work" and value co
 * "555"]) or a comparison of a sub-attribute outside one
 * (phoneNumbers.value co "555"; its ne, eq null: no value is, not any).
 * emails holds one value, so emails[...] is its condition as it stands.
 */
#ifndef UB_SCIM_FILTER_H
#define UB_SCIM_FILTER_H

#include "userbulk.h"

/* The core User schema's URN (a resource's schemas), and with a colon as
 * it may prefix an attribute's path. */
#define UB_SCIM_USER_SCHEMA "urn:ietf:params:scim:schemas:core:2.0:User"
#define UB_SCIM_USER_URN UB_SCIM_USER_SCHEMA ":"

/* The core Group schema's URN, and as an attribute's prefix. */
#define UB_SCIM_GROUP_SCHEMA "urn:ietf:params:scim:schemas:core:2.0:Group"
#define UB_SCIM_GROUP_URN UB_SCIM_GROUP_SCHEMA ":"

/* A filter longer than this is refused (bytes, as decoded). */
#define UB_SCIM_FILTER_MAX_LEN   4096
/* Nesting of parentheses, "not" and value paths, and comparisons in one
 * filter: the SQL condition is a fixed fragment per comparison, so these
 * bound its size and the work per row. */
#define UB_SCIM_FILTER_MAX_DEPTH 16
#define UB_SCIM_FILTER_MAX_TERMS 64

typedef enum {
    UB_SCIM_STRING,
    UB_SCIM_BOOLEAN,
    UB_SCIM_DATETIME
} ub_scim_type;

/* An attribute of the User resource the filter may name. */
typedef struct {
    const char *path;           /* as RFC 7643 spells it: "name.givenName" */
    const char *key;            /* its key in the description: "name.givenname" */
    ub_scim_type type;
    int case_exact;
    /* The key of the multi-valued attribute with several values it is a
     * sub-attribute of ("phonenumbers"; the description's "has"), or NULL. */
    const char *within;
} ub_scim_attr;

/* The attribute a path names (case-insensitive, with or without the
 * schema's URN "urn:ietf:params:scim:schemas:core:2.0:User:"), or NULL. */
const ub_scim_attr *ub_scim_attr_find(const char *path, apr_size_t len);

/* Parses filter. 0 with *description set (JSON text in pool), or 400 with
 * problem filled (scimType invalidFilter, the position and the reason in
 * its message). */
int ub_scim_filter_parse(apr_pool_t *pool, const char *filter,
                         const char **description, ub_problem *problem);

/* The Group resource's attributes a filter may name: id (caseExact),
 * displayName (not), with or without the Group schema's URN. */
const ub_scim_attr *ub_scim_group_attr_find(const char *path, apr_size_t len);

/* ub_scim_filter_parse over the Group attributes (GET /Groups; the
 * description is read by userbulk.scim_group_where). */
int ub_scim_group_filter_parse(apr_pool_t *pool, const char *filter,
                               const char **description, ub_problem *problem);

#endif
