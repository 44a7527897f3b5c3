/*
 * jsonw.c - compact JSON text from a jansson tree (see jsonw.h).
 *
 * Written by hand although jansson has json_dumps: for every object and
 * array it dumps, json_dumps formats the container's address into a key
 * and puts it in a hash table to detect cycles, and it escapes strings one
 * code point at a time through a callback. On a token answer (an ES256
 * access token, its response and the ledger entry) that came to ~113k
 * instructions of the request's ~552k (callgrind, bench/callgrind-token.sh),
 * more than everything but the signature. The trees written here are built
 * by our own code or by jansson's parser, so they cannot contain a cycle,
 * and runs of plain bytes are copied at once. Real numbers are rare here
 * (none on the hot path) and their text is subtle: they go through
 * jansson.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authflow/jsonw.h"
#include "authflow/util.h"

/* put: af_buf_add without the call while the buffer has room, which is
 * almost always: a token answer writes a few hundred small pieces. */
static inline af_rc put(struct af_buf *b, const char *s, size_t n)
{
    if (b->cap > b->len && n < b->cap - b->len && n <= b->max - b->len) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
        return AF_OK;
    }
    return af_buf_add(b, s, n);
}

/* special[c]: byte c cannot simply be copied into a JSON string: the
 * quote, the backslash and the controls below 0x20 must be escaped (RFC
 * 8259 §7; jansson escapes nothing else without flags), and a byte from
 * 0x80 on starts a UTF-8 sequence to check. A table: the scan over plain
 * bytes is the loop a token answer spends its time in. */
static const unsigned char special[256] = {
    [0x00 ... 0x1F] = 1,
    ['"'] = 1,
    ['\\'] = 1,
    [0x80 ... 0xFF] = 1,
};

/* lead_len: the length of the UTF-8 sequence lead byte c (>= 0x80) starts;
 * 0 when it cannot start one. */
static inline size_t lead_len(unsigned char c)
{
    return c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
}

af_rc af_jsonw_string(struct af_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run, n;
    af_rc rc = put(b, "\"", 1);

    while (rc == AF_OK && i < len) {
        /* a run of bytes that go as they are: plain ASCII, and whole
         * UTF-8 sequences, each checked (jansson would refuse the text) */
        for (run = i; run < len;) {
            if (!special[p[run]]) {
                run++;
                continue;
            }
            if (p[run] < 0x80)
                break;
            n = lead_len(p[run]);
            if (n == 0 || n > len - run || !af_utf8_valid(s + run, n))
                return AF_ERR_INVALID;
            run += n;
        }
        if (run > i) {
            rc = put(b, s + i, run - i);
            i = run;
            continue;
        }
        switch (p[i]) {
        case '"':
            rc = put(b, "\\\"", 2);
            break;
        case '\\':
            rc = put(b, "\\\\", 2);
            break;
        case '\b':
            rc = put(b, "\\b", 2);
            break;
        case '\f':
            rc = put(b, "\\f", 2);
            break;
        case '\n':
            rc = put(b, "\\n", 2);
            break;
        case '\r':
            rc = put(b, "\\r", 2);
            break;
        case '\t':
            rc = put(b, "\\t", 2);
            break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[p[i] >> 4], hex[p[i] & 15]};
            rc = put(b, u, sizeof(u));
        }
        }
        i++;
    }
    return rc == AF_OK ? put(b, "\"", 1) : rc;
}

/* real: jansson's own text for a real (its precision, exponent and ".0"
 * rules). */
static af_rc real(struct af_buf *b, const json_t *v)
{
    char *s = json_dumps(v, JSON_ENCODE_ANY);
    af_rc rc = s != NULL ? af_buf_adds(b, s) : AF_ERR_NOMEM;

    free(s);
    return rc;
}

static af_rc value(struct af_buf *b, const json_t *v, unsigned depth)
{
    const char *key;
    json_t *m;
    size_t i, n, klen;
    char num[32];
    int k;
    af_rc rc = AF_OK;

    if (depth > AF_JSONW_DEPTH_MAX)
        return AF_ERR_INVALID;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        rc = put(b, "{", 1);
        n = 0;
        json_object_keylen_foreach((json_t *)v, key, klen, m)
        {
            if (rc == AF_OK && n++ > 0)
                rc = put(b, ",", 1);
            if (rc == AF_OK)
                rc = af_jsonw_string(b, key, klen);
            if (rc == AF_OK)
                rc = put(b, ":", 1);
            if (rc == AF_OK)
                rc = value(b, m, depth + 1);
            if (rc != AF_OK)
                break;
        }
        return rc == AF_OK ? put(b, "}", 1) : rc;
    case JSON_ARRAY:
        rc = put(b, "[", 1);
        n = json_array_size(v);
        for (i = 0; rc == AF_OK && i < n; i++) {
            if (i > 0)
                rc = put(b, ",", 1);
            if (rc == AF_OK)
                rc = value(b, json_array_get(v, i), depth + 1);
        }
        return rc == AF_OK ? put(b, "]", 1) : rc;
    case JSON_STRING:
        return af_jsonw_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        k = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return k > 0 && (size_t)k < sizeof(num) ? put(b, num, (size_t)k) : AF_ERR_INVALID;
    case JSON_REAL:
        return real(b, v);
    case JSON_TRUE:
        return put(b, "true", 4);
    case JSON_FALSE:
        return put(b, "false", 5);
    case JSON_NULL:
        return put(b, "null", 4);
    }
    return AF_ERR_INVALID;
}

af_rc af_jsonw_value(struct af_buf *b, const json_t *v)
{
    return v != NULL ? value(b, v, 1) : AF_ERR_INVALID;
}

char *af_jsonw_dumps(const json_t *v)
{
    struct af_buf b;

    af_buf_init(&b, (size_t)-1 / 2);
    if (af_jsonw_value(&b, v) != AF_OK) {
        af_buf_free(&b);
        return NULL;
    }
    return af_buf_detach(&b);
}
