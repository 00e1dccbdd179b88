/*
 * fuzz_scim_filter.c: libFuzzer target over the SCIM filter parser
 * (scim_filter.c). The input is one filter as the query string decodes it.
 *
 * Invariants: the parser answers 0 or 400; a refusal is a 400 with scimType
 * invalidFilter and a message; an accepted filter is a JSON object whose
 * nodes are those of scim_filter.h (an operator the description knows,
 * attributes from the table, values of the attribute's kind), nested no
 * deeper than the caps allow.
 */
#include "fuzz_common.h"
#include "scim_filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checks one node of the description; depth counts the nodes above it,
 * within is the attribute of the "has" it is in (NULL: none): a
 * sub-attribute of phoneNumbers appears inside its "has" only. */
static void check_node(const json_t *n, int depth, const char *within)
{
    const char *op;

    FUZZ_CHECK(json_is_object(n));
    FUZZ_CHECK(depth <= 2 * (UB_SCIM_FILTER_MAX_DEPTH + UB_SCIM_FILTER_MAX_TERMS));
    op = json_string_value(json_object_get(n, "op"));
    FUZZ_CHECK(op != NULL);
    if (strcmp(op, "and") == 0 || strcmp(op, "or") == 0) {
        check_node(json_object_get(n, "l"), depth + 1, within);
        check_node(json_object_get(n, "r"), depth + 1, within);
    }
    else if (strcmp(op, "not") == 0) {
        check_node(json_object_get(n, "e"), depth + 1, within);
    }
    else if (strcmp(op, "has") == 0) {
        const char *a = json_string_value(json_object_get(n, "a"));

        FUZZ_CHECK(within == NULL && a != NULL && strcmp(a, "phonenumbers") == 0);
        check_node(json_object_get(n, "e"), depth + 1, a);
    }
    else {
        const char *a = json_string_value(json_object_get(n, "a"));
        const ub_scim_attr *attr;

        FUZZ_CHECK(a != NULL);
        attr = ub_scim_attr_find(a, strlen(a));
        FUZZ_CHECK(attr != NULL && strcmp(attr->key, a) == 0);
        FUZZ_CHECK(attr->within == NULL ? within == NULL
                   : within != NULL && strcmp(attr->within, within) == 0);
        if (strcmp(op, "pr") != 0) {
            const json_t *v = json_object_get(n, "v");

            FUZZ_CHECK(strstr("eq ne co sw ew gt ge lt le", op) != NULL && strlen(op) == 2);
            FUZZ_CHECK(v != NULL && json_is_boolean(json_object_get(n, "ci")));
            FUZZ_CHECK(json_is_null(v)
                       || (attr->type == UB_SCIM_BOOLEAN ? json_is_boolean(v) : json_is_string(v)));
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pool;
    char *filter;
    const char *description = NULL;
    ub_problem problem = { 0 };
    int status;

    fuzz_init();
    FUZZ_CHECK(apr_pool_create(&pool, fuzz_root) == APR_SUCCESS);
    filter = malloc(size + 1);
    FUZZ_CHECK(filter != NULL);
    memcpy(filter, data, size);
    filter[size] = '\0';

    status = ub_scim_filter_parse(pool, filter, &description, &problem);
    if (status == 0) {
        json_error_t err;
        json_t *doc = json_loads(description, 0, &err);

        FUZZ_CHECK(doc != NULL);
        check_node(doc, 0, NULL);
        json_decref(doc);
    }
    else {
        FUZZ_CHECK(status == 400 && problem.status == 400);
        FUZZ_CHECK(problem.scim_type != NULL && strcmp(problem.scim_type, "invalidFilter") == 0);
        FUZZ_CHECK(problem.message != NULL && *problem.message != '\0');
    }
    free(filter);
    apr_pool_destroy(pool);
    return 0;
}
