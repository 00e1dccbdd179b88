/*
 * fuzz_headers.c: libFuzzer target over the request headers the core reads
 * before any body: Content-Type (ub_media_type_accepted, both endpoints),
 * Accept (ub_accept_prefers_text), the token's nbf claim as the auth
 * module passed it on (ub_not_yet_valid), Prefer, Idempotency-Key and
 * If-Match (headers.c). The input is one header value.
 *
 * Invariants: the functions answer 0 or 1; application/json with nothing
 * but a UTF-8 charset is always accepted; an Idempotency-Key is the header
 * itself or a 400; an If-Match version is 1 to 18 digits.
 */
#include "fuzz_common.h"
#include <apr_strings.h>
#include <apr_time.h>
#include "media.h"
#include "pipeline.h"
#include "headers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pool;
    char *value;
    const char *key, *version;
    ub_problem problem = { 0 };
    int a, b, c, d, e, k;

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
    e = ub_prefers_rollback(value);
    FUZZ_CHECK(e == 0 || e == 1);
    k = ub_read_idempotency_key(value, &key, &problem);
    FUZZ_CHECK((k == 0 && key == value) || (k == 400 && key == NULL && problem.status == 400));
    version = ub_if_match_version(pool, value);
    if (version != NULL) {
        FUZZ_CHECK(*version != '\0' && strlen(version) <= 18
                   && strspn(version, "0123456789") == strlen(version));
    }
    free(value);
    apr_pool_destroy(pool);
    return 0;
}
