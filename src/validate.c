/*
 * validate.c: formats the API promises to check, in one place.
 */
#include <string.h>
#include <apr_lib.h>
#include "validate.h"

apr_size_t ub_utf8_chars(const char *s)
{
    apr_size_t n = 0;

    for (; *s; s++) {
        if (((unsigned char)*s & 0xC0) != 0x80) {
            n++;
        }
    }
    return n;
}

/* Length of the valid UTF-8 sequence at s (lead byte >= 0x80), or 0:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
int ub_utf8_sequence(const unsigned char *s, const unsigned char *end)
{
    unsigned char c = s[0];
    int n, i;
    unsigned cp;

    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    }
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    }
    else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    }
    else {
        return 0;
    }
    if (end - s < n) {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)))
        || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
        return 0;
    }
    return n;
}

int ub_utf8_valid(const char *s, apr_size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;

    while (p < end) {
        if (*p < 0x80) {
            p++;
        }
        else {
            int n = ub_utf8_sequence(p, end);
            if (n == 0) {
                return 0;
            }
            p += n;
        }
    }
    return 1;
}

/* RFC 5322 "atext", plus any UTF-8 byte (RFC 6531 addresses). */
static int is_atext(unsigned char c)
{
    return apr_isalnum(c) || c >= 0x80 || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static int is_label_char(unsigned char c)
{
    return apr_isalnum(c) || c == '-' || c >= 0x80;
}

const char *ub_check_email(const char *s)
{
    const char *at = strrchr(s, '@');
    const char *p, *label;
    apr_size_t local_len;
    int labels = 0, tld_digits_only = 1;

    if (*s == '\0') {
        return "an email address cannot be empty";
    }
    if (strlen(s) > 254) {
        return "an email address has at most 254 characters";
    }
    if (at == NULL || strchr(s, '@') != at) {
        return "an email address has exactly one '@'";
    }
    local_len = (apr_size_t)(at - s);
    if (local_len == 0 || local_len > 64) {
        return "the part before '@' must have 1 to 64 characters";
    }
    for (p = s; p < at; p++) {
        if (*p == '.') {
            if (p == s || p + 1 == at || p[1] == '.') {
                return "dots in the part before '@' may not lead, trail or repeat";
            }
        }
        else if (!is_atext((unsigned char)*p)) {
            return "the part before '@' has a character not allowed in an email address";
        }
    }
    label = at + 1;
    for (p = label;; p++) {
        if (*p == '.' || *p == '\0') {
            apr_size_t len = (apr_size_t)(p - label);
            if (len == 0 || len > 63) {
                return "the domain must be labels of 1 to 63 characters separated by dots";
            }
            if (label[0] == '-' || p[-1] == '-') {
                return "a domain label may not start or end with '-'";
            }
            labels++;
            if (*p == '\0') {
                break;
            }
            label = p + 1;
            tld_digits_only = 1;
            continue;
        }
        if (!is_label_char((unsigned char)*p)) {
            return "the domain has a character not allowed in a host name";
        }
        if (!apr_isdigit(*p)) {
            tld_digits_only = 0;
        }
    }
    if (labels < 2) {
        return "the domain must have at least two labels (example.com)";
    }
    if (tld_digits_only) {
        return "the last label of the domain may not be all digits";
    }
    return NULL;
}

const char *ub_check_uuid(const char *s)
{
    static const int dash_at[] = { 8, 13, 18, 23 };
    int i, d = 0;

    if (strlen(s) != 36) {
        return "not a UUID (expected 8-4-4-4-12 hexadecimal digits)";
    }
    for (i = 0; i < 36; i++) {
        if (d < 4 && i == dash_at[d]) {
            if (s[i] != '-') {
                return "not a UUID (expected 8-4-4-4-12 hexadecimal digits)";
            }
            d++;
        }
        else if (!apr_isxdigit(s[i])) {
            return "not a UUID (expected 8-4-4-4-12 hexadecimal digits)";
        }
    }
    return NULL;
}

const char *ub_check_phone(const char *s)
{
    int digits = 0;

    for (; *s; s++) {
        if (apr_isdigit(*s)) {
            digits++;
        }
        else if (strchr(" +-().x", *s) == NULL) {
            return "a phone number may hold digits, spaces and + - ( ) . x";
        }
    }
    if (digits == 0) {
        return "a phone number needs at least one digit";
    }
    return NULL;
}

/* Reads exactly n digits into *v. */
static int digits(const char **p, int n, int *v)
{
    int i;

    *v = 0;
    for (i = 0; i < n; i++) {
        if (!apr_isdigit((*p)[i])) {
            return 0;
        }
        *v = *v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    return 1;
}

static int days_in_month(int y, int m)
{
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : days[m - 1];
}

const char *ub_check_iso8601(const char *s)
{
    static const char *const bad =
        "not an ISO 8601 date (2026-01-31 or 2026-01-31T08:00:00Z)";
    const char *p = s;
    int y, mo, d, h, mi, sec, oh, om;

    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo)
        || *p++ != '-' || !digits(&p, 2, &d)) {
        return bad;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) {
        return "not a calendar date";
    }
    /* Year 1 with an offset east of UTC falls in 1 BC: refuse the first
     * millennium rather than store an instant nobody meant. */
    if (y < 1000) {
        return "a date before the year 1000";
    }
    if (*p == '\0') {
        return NULL;
    }
    if (*p != 'T' && *p != ' ') {
        return bad;
    }
    p++;
    if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi)) {
        return bad;
    }
    if (*p == ':') {
        p++;
        if (!digits(&p, 2, &sec) || sec > 59) {
            return bad;
        }
        if (*p == '.') {
            int n = 0;
            for (p++; apr_isdigit(*p); p++) {
                n++;
            }
            if (n == 0 || n > 6) {
                return bad;
            }
        }
    }
    if (h > 23 || mi > 59) {
        return "not a time of day";
    }
    if (*p == 'Z') {
        p++;
    }
    else if (*p == '+' || *p == '-') {
        int west = *p == '-';

        p++;
        if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om)
            || oh > 14 || om > 59) {
            return bad;
        }
        /* The last day of 9999 west of UTC may fall in the year 10000. */
        if (west && y == 9999 && mo == 12 && d == 31 && (oh || om)) {
            return "a date after the year 9999";
        }
    }
    return *p == '\0' ? NULL : bad;
}
