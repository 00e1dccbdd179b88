/*
 * scim_map.h: the SCIM User's attributes as the directory's columns, one
 * table (scim_map.c) read by POST /Users, PUT /Users/{id}, PATCH's
 * compiler (scim_patch.c) and /Bulk. Adding an attribute is one row of
 * the table and one column of ub_scim_col (and the engine's, in
 * src/sql/functions/scim_write.sql).
 *
 * The resource is flat: one address (emails, its primary entry), two phone
 * numbers (phoneNumbers' first and second entries; in a PATCH path, the
 * entry of type work and the one of type mobile or other), active as the
 * negation of lockedOut; the enterprise extension's employeeNumber,
 * department (one of the account's codes: the engine checks it) and
 * manager (a user of the account). Attributes of the User schema the
 * directory has no column for (password, locale, ..., the extension's
 * costCenter, organization, division) are ignored, as RFC 7644 section 3.3
 * allows; readOnly ones (id, meta) too (RFC 7643 section 7).
 */
#ifndef UB_SCIM_MAP_H
#define UB_SCIM_MAP_H

#include "userbulk.h"
#include "fields.h"
#include "jdoc.h"

/* The engine's columns; bit (1 << col) of ub_scim_cols.set says the
 * operation sets the column (the engine's p_set). */
typedef enum {
    UB_SCIM_COL_USER_NAME,
    UB_SCIM_COL_EMAIL,
    UB_SCIM_COL_GIVEN,
    UB_SCIM_COL_MIDDLE,
    UB_SCIM_COL_FAMILY,
    UB_SCIM_COL_DISPLAY,
    UB_SCIM_COL_PHONE1,
    UB_SCIM_COL_PHONE2,
    UB_SCIM_COL_LOCKED_OUT,
    UB_SCIM_COL_EXTERNAL_ID,
    UB_SCIM_COL_EMPLOYEE_CODE,
    UB_SCIM_COL_DEPARTMENT,
    UB_SCIM_COL_MANAGER,
    UB_SCIM_NCOLS
} ub_scim_col;

#define UB_SCIM_ALL_COLS ((1u << UB_SCIM_NCOLS) - 1)

/* What an operation writes: a value per column (NULL clears it; locked_out
 * as "true"/"false") where set has the column's bit. */
typedef struct {
    const char *v[UB_SCIM_NCOLS];
    unsigned set;
} ub_scim_cols;

typedef enum {
    UB_SCIM_MAP_STRING,         /* attr, or attr.sub of a complex attr */
    UB_SCIM_MAP_PRIMARY,        /* attr[primary].sub of a multi-valued attr */
    UB_SCIM_MAP_NTH,            /* attr[nth].sub of a multi-valued attr */
    UB_SCIM_MAP_NOT_BOOL,       /* a boolean stored negated */
    UB_SCIM_MAP_REF             /* attr.sub's value: {"value": id}, or the id
                                 * alone (Entra's PATCH of manager) */
} ub_scim_map_kind;

typedef struct {
    const char *attr;           /* top-level attribute */
    const char *sub;            /* its sub-attribute, or NULL */
    ub_scim_col col;
    ub_scim_map_kind kind;
    int nth;                    /* UB_SCIM_MAP_NTH: which entry */
    const char *types;          /* PATCH's [type eq "t"] for this column:
                                 * "|work|", NULL for none */
    apr_size_t max_chars;
    ub_value_check *check;
    int required;               /* never absent, never removed */
} ub_scim_map;

extern const ub_scim_map ub_scim_user_map[];
extern const apr_size_t ub_scim_user_map_len;

/* A whole User (POST, PUT, a Bulk POST or PUT): every column set, each
 * from its attribute (absent: NULL; active absent: true). The checks are
 * those of PUT /users for the same fields. Errors go to f, named by the
 * attribute's path ("emails[0].value"). */
void ub_scim_read_user(ub_fields *f, const ub_jval *doc, ub_scim_cols *cols);

/* One column's value from v (a PATCH value at the row's path): checked as
 * ub_scim_read_user checks it, path names it in an error. Sets the
 * column's bit. */
void ub_scim_map_value(ub_fields *f, const ub_scim_map *m, const char *path,
                       const ub_jval *v, ub_scim_cols *cols);

/* Whether the row m keeps entries of type type (any case). */
int ub_scim_map_takes_type(const ub_scim_map *m, const char *type);

/* Whether doc's schemas list the User schema. */
int ub_scim_has_user_schema(const ub_jval *doc);

/* Whether the attribute name (NUL-terminated) is attr[0..len), ignoring
 * ASCII case, as SCIM's names are compared. The first letters first: a
 * PATCH path is compared with every row of the map, and most names differ
 * there. */
int ub_scim_name_is(const char *name, const char *attr, apr_size_t len);

/* Whether attr (no URN prefix, any case) is an attribute of the User
 * schema that this directory ignores (no column), or readOnly (id, meta,
 * schemas): *read_only says which. */
int ub_scim_ignored_attr(const char *attr, apr_size_t len, int *read_only);

#endif
