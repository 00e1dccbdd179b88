/*
 * fuzz_headers.c: libFuzzer target over the request headers the core reads
 * before any body: Content-Type (ub_media_type_accepted, both endpoints),
 * Accept (ub_accept_prefers_text) and the token's nbf claim as the auth
 * module passed it on (ub_not_yet_valid). The input is one header value.
 *
 * Invariants: the functions answer 0 or 1; application/json with nothing
 * but a UTF-8 charset is always accepted.
 */
#include "fuzz_common.h"
#include <apr_strings.h>
#include <apr_time.h>
#include "media.h"
#include "pipeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pool;
    char *value;
    int a, b, c, d;

    fuzz_init();
    FUZZ_CHECK(apr_pool_create(&pool, fuzz_root) == APR_SUCCESS);
    /* A header value as httpd hands it over: NUL-terminated, exactly as
     * long as sent (malloc'd, so that ASan sees a read past its end). */
    value = malloc(size + 1);
    FUZZ_CHECK(value != NULL);
    memcpy(value, data, size);
    value[size] = '\0';

    a = ub_media_type_accepted(UB_EP_PUT_USERS, value);
    b = ub_media_type_accepted(UB_EP_ACCOUNT_UPDATE, value);
    c = ub_accept_prefers_text(value);
    d = ub_not_yet_valid(value, apr_time_now(), 60);
    FUZZ_CHECK((a == 0 || a == 1) && (b == 0 || b == 1) && (c == 0 || c == 1) && (d == 0 || d == 1));
    FUZZ_CHECK(!a || b);    /* whatever PUT takes, the POST API takes */
    if (strlen(value) == size && strchr(value, ';') == NULL
        && strncasecmp(value, "application/json", 16) == 0 && size == 16) {
        FUZZ_CHECK(a && b);
    }
    free(value);
    apr_pool_destroy(pool);
    return 0;
}
