/*
 * fields.c: see fields.h.
 */
#include <apr_strings.h>
#include "fields.h"

const char *ub_field_path(apr_pool_t *pool, const char *parent, const char *key)
{
    return parent ? apr_pstrcat(pool, parent, ".", key, NULL) : key;
}

void ub_field_fail(ub_fields *f, const char *field, const char *code,
                   const char *message)
{
    ub_field_error *e = apr_array_push(f->errors);

    e->field = field;
    e->code = code;
    e->message = message;
}

const ub_jval *ub_take(ub_fields *f, const ub_jval *obj, const char *parent,
                       const char *key, ub_jtype type, const char *what)
{
    const ub_jval *v = ub_jobj_get(obj, key);

    if (ub_j_missing(v)) {
        return NULL;
    }
    if (v->type != type && !(type == UB_J_TRUE && ub_j_is_bool(v))) {
        ub_field_fail(f, ub_field_path(f->pool, parent, key), "invalid_type",
                      apr_pstrcat(f->pool, "must be ", what, " or null", NULL));
        return NULL;
    }
    return v;
}

const ub_jval *ub_take_object(ub_fields *f, const ub_jval *obj,
                              const char *parent, const char *key)
{
    return ub_take(f, obj, parent, key, UB_J_OBJECT, "an object");
}

const char *ub_take_string(ub_fields *f, const ub_jval *obj, const char *parent,
                           const char *key, apr_size_t max_chars,
                           ub_value_check *check, int empty_unchecked)
{
    const ub_jval *v = ub_take(f, obj, parent, key, UB_J_STRING, "a string");
    const char *why;

    if (v == NULL) {
        return NULL;
    }
    if (ub_utf8_chars(v->u.str) > max_chars) {
        ub_field_fail(f, ub_field_path(f->pool, parent, key), "too_long",
                      apr_psprintf(f->pool, "has at most %" APR_SIZE_T_FMT
                                   " characters", max_chars));
        return NULL;
    }
    if (check != NULL && !(empty_unchecked && *v->u.str == '\0')
        && (why = check(v->u.str)) != NULL) {
        ub_field_fail(f, ub_field_path(f->pool, parent, key), "invalid_format", why);
        return NULL;
    }
    return v->u.str;
}

int ub_take_bool(ub_fields *f, const ub_jval *obj, const char *parent,
                 const char *key, int absent)
{
    const ub_jval *v = ub_take(f, obj, parent, key, UB_J_TRUE, "true, false");

    return v == NULL ? absent : v->type == UB_J_TRUE;
}
