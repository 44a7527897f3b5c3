/*
 * url.c - percent-encoding, form parsing and base64url.
 *
 * Written by hand on purpose: libmicrohttpd's and libcurl's decoders are
 * lenient (a stray '%' passes through, duplicates are merged or hidden), and
 * a conformance tool must reject malformed input and see every duplicate.
 *
 * Comparing two URLs' endpoints, the one place that parses with libcurl,
 * is in url_endpoint.c.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "authflow/util.h"

int af_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

af_rc af_url_encode(struct af_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    af_rc rc = AF_OK;
    const unsigned char *p;
    for (p = (const unsigned char *)s; *p && rc == AF_OK; p++) {
        if (is_unreserved(*p)) {
            rc = af_buf_addc(out, (char)*p);
        } else {
            char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            rc = af_buf_add(out, esc, 3);
        }
    }
    return rc;
}

/* utf8_seq: the length of the well-formed UTF-8 sequence at p[0..len)
 * (len > 0), its code point in *cp; 0 when the bytes there are not one (a
 * stray continuation byte, an overlong form, a surrogate, beyond U+10FFFF
 * or cut short). */
static size_t utf8_seq(const unsigned char *p, size_t len, unsigned long *cp)
{
    unsigned char c = p[0];
    size_t n;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        n = 1;
        *cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 2;
        *cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 3;
        *cp = c & 0x07;
    } else {
        return 0;
    }
    if (len <= n)
        return 0;
    for (size_t k = 1; k <= n; k++) {
        if ((p[k] & 0xC0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (p[k] & 0x3F);
    }
    if ((n == 2 && *cp < 0x800) || (n == 3 && *cp < 0x10000) || *cp > 0x10FFFF ||
        (*cp >= 0xD800 && *cp <= 0xDFFF))
        return 0;
    return n + 1;
}

bool af_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned long cp;
        size_t n = utf8_seq(p + i, len - i, &cp);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

/* text_shown: whether code point cp may appear as itself in text: not a C0
 * control other than tab and newline, not DEL, not a C1 control (terminal
 * escapes: ESC and CSI), not U+FFFE/U+FFFF (not XML characters). */
static bool text_shown(unsigned long cp)
{
    if (cp == '\t' || cp == '\n')
        return true;
    return cp >= 0x20 && !(cp >= 0x7F && cp <= 0x9F) && cp != 0xFFFE && cp != 0xFFFF;
}

af_rc af_text_escape(struct af_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    af_rc rc = AF_OK;
    size_t i = 0;
    while (i < len && rc == AF_OK) {
        unsigned long cp = 0;
        size_t n = utf8_seq(p + i, len - i, &cp);
        if (n > 0 && text_shown(cp)) {
            rc = af_buf_add(out, p + i, n);
            i += n;
            continue;
        }
        /* every byte of what cannot be shown, one \xNN each */
        if (n == 0)
            n = 1;
        for (size_t k = 0; k < n && rc == AF_OK; k++) {
            char esc[4] = {'\\', 'x', hex[p[i + k] >> 4], hex[p[i + k] & 15]};
            rc = af_buf_add(out, esc, sizeof(esc));
        }
        i += n;
    }
    return rc;
}

char *af_text_clean(const char *s, size_t max)
{
    struct af_buf b;
    if (s == NULL)
        return NULL;
    af_buf_init(&b, max);
    /* cut short by max: what fits is still worth showing */
    if (af_text_escape(&b, s, strlen(s)) == AF_ERR_NOMEM) {
        af_buf_free(&b);
        return NULL;
    }
    return af_buf_detach(&b);
}

af_rc af_url_decode(const char *s, size_t len, bool form, char **out, struct af_err *err)
{
    af_rc rc = AF_OK;
    char *r = malloc(len + 1);
    size_t i, o = 0;

    *out = NULL;
    if (r == NULL)
        return AF_ERR_NOMEM;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 1 < len ? af_hex_digit((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < len ? af_hex_digit((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                rc = AF_ERR_SET(err, AF_ERR_PARSE, "malformed percent-encoding at offset %zu", i);
                goto out;
            }
            c = (unsigned char)(hi * 16 + lo);
            if (c == 0) {
                rc = AF_ERR_SET(err, AF_ERR_PARSE, "encoded NUL byte at offset %zu", i);
                goto out;
            }
            i += 2;
        } else if (c == '+' && form) {
            c = ' ';
        } else if (c == 0) {
            rc = AF_ERR_SET(err, AF_ERR_PARSE, "NUL byte at offset %zu", i);
            goto out;
        }
        r[o++] = (char)c;
    }
    r[o] = '\0';
    if (!af_utf8_valid(r, o)) {
        rc = AF_ERR_SET(err, AF_ERR_PARSE, "value is not valid UTF-8");
        goto out;
    }
    *out = r;
    r = NULL;
out:
    free(r);
    return rc;
}

/* ---- base64url ---- */

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

af_rc af_b64url_encode(struct af_buf *out, const unsigned char *d, size_t len)
{
    af_rc rc = AF_OK;
    size_t i;
    char q[4];
    for (i = 0; i + 2 < len && rc == AF_OK; i += 3) {
        unsigned long v = ((unsigned long)d[i] << 16) | ((unsigned long)d[i + 1] << 8) | d[i + 2];
        q[0] = b64url_alphabet[(v >> 18) & 63];
        q[1] = b64url_alphabet[(v >> 12) & 63];
        q[2] = b64url_alphabet[(v >> 6) & 63];
        q[3] = b64url_alphabet[v & 63];
        rc = af_buf_add(out, q, 4);
    }
    if (rc != AF_OK)
        return rc;
    if (len - i == 1) {
        unsigned long v = (unsigned long)d[i] << 16;
        q[0] = b64url_alphabet[(v >> 18) & 63];
        q[1] = b64url_alphabet[(v >> 12) & 63];
        rc = af_buf_add(out, q, 2);
    } else if (len - i == 2) {
        unsigned long v = ((unsigned long)d[i] << 16) | ((unsigned long)d[i + 1] << 8);
        q[0] = b64url_alphabet[(v >> 18) & 63];
        q[1] = b64url_alphabet[(v >> 12) & 63];
        q[2] = b64url_alphabet[(v >> 6) & 63];
        rc = af_buf_add(out, q, 3);
    }
    return rc;
}

static int b64url_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

af_rc af_b64url_decode(struct af_buf *out, const char *s, size_t len)
{
    af_rc rc = AF_OK;
    unsigned long acc = 0;
    int bits = 0;
    size_t i;

    if (len % 4 == 1)
        return AF_ERR_PARSE;
    for (i = 0; i < len && rc == AF_OK; i++) {
        int v = b64url_val((unsigned char)s[i]);
        if (v < 0)
            return AF_ERR_PARSE;
        acc = (acc << 6) | (unsigned long)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            rc = af_buf_addc(out, (char)((acc >> bits) & 0xFF));
        }
    }
    /* leftover bits must be zero for a canonical encoding */
    if (rc == AF_OK && bits > 0 && (acc & ((1UL << bits) - 1)) != 0)
        rc = AF_ERR_PARSE;
    return rc;
}

/* ---- parameter lists ---- */

void af_params_init(struct af_params *p, size_t max)
{
    p->v = NULL;
    p->n = 0;
    p->cap = 0;
    p->max = max;
}

static af_rc params_push(struct af_params *p, char *name, char *value)
{
    if (p->n >= p->max)
        return AF_ERR_TOOBIG;
    if (p->n == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 8;
        struct af_param *nv = realloc(p->v, ncap * sizeof(*nv));
        if (nv == NULL)
            return AF_ERR_NOMEM;
        p->v = nv;
        p->cap = ncap;
    }
    p->v[p->n].name = name;
    p->v[p->n].value = value;
    p->n++;
    return AF_OK;
}

af_rc af_params_add(struct af_params *p, const char *name, const char *value)
{
    char *n = strdup(name);
    char *v = strdup(value ? value : "");
    af_rc rc = AF_ERR_NOMEM;
    if (n == NULL || v == NULL)
        goto out;
    rc = params_push(p, n, v);
    if (rc == AF_OK)
        n = v = NULL;
out:
    free(n);
    free(v);
    return rc;
}

af_rc af_params_parse(struct af_params *p, const char *s, size_t len, struct af_err *err)
{
    af_rc rc = AF_OK;
    size_t start = 0;
    char *name = NULL, *value = NULL;

    while (start < len) {
        size_t end = start, eq;
        struct af_err e2;
        while (end < len && s[end] != '&')
            end++;
        if (end == start) {
            start = end + 1;
            continue;
        }
        eq = start;
        while (eq < end && s[eq] != '=')
            eq++;
        af_err_clear(&e2);
        rc = af_url_decode(s + start, eq - start, true, &name, &e2);
        if (rc != AF_OK) {
            AF_ERR_SET(err, rc, "parameter name %.*s: %s",
                       (int)((eq - start) > 40 ? 40 : eq - start), s + start, e2.msg);
            goto out;
        }
        if (name[0] == '\0') {
            rc = AF_ERR_SET(err, AF_ERR_PARSE, "parameter with an empty name at offset %zu", start);
            goto out;
        }
        rc = af_url_decode(eq < end ? s + eq + 1 : "", eq < end ? end - eq - 1 : 0, true, &value,
                           &e2);
        if (rc != AF_OK) {
            AF_ERR_SET(err, rc, "parameter %.40s: %s", name, e2.msg);
            goto out;
        }
        rc = params_push(p, name, value);
        if (rc == AF_ERR_TOOBIG) {
            AF_ERR_SET(err, rc, "more than %zu parameters", p->max);
            goto out;
        }
        if (rc != AF_OK)
            goto out;
        name = value = NULL;
        start = end + 1;
    }
out:
    free(name);
    free(value);
    return rc;
}

const char *af_params_get(const struct af_params *p, const char *name)
{
    size_t i;
    for (i = 0; i < p->n; i++) {
        if (strcmp(p->v[i].name, name) == 0)
            return p->v[i].value;
    }
    return NULL;
}

size_t af_params_count(const struct af_params *p, const char *name)
{
    size_t i, c = 0;
    for (i = 0; i < p->n; i++) {
        if (strcmp(p->v[i].name, name) == 0)
            c++;
    }
    return c;
}

const char *af_params_first_dup(const struct af_params *p)
{
    size_t i, j;
    for (i = 0; i < p->n; i++) {
        for (j = i + 1; j < p->n; j++) {
            if (strcmp(p->v[i].name, p->v[j].name) == 0)
                return p->v[i].name;
        }
    }
    return NULL;
}

af_rc af_params_encode(const struct af_params *p, struct af_buf *out)
{
    af_rc rc = AF_OK;
    size_t i;
    for (i = 0; i < p->n && rc == AF_OK; i++) {
        if (i > 0)
            rc = af_buf_addc(out, '&');
        if (rc == AF_OK)
            rc = af_url_encode(out, p->v[i].name);
        if (rc == AF_OK)
            rc = af_buf_addc(out, '=');
        if (rc == AF_OK)
            rc = af_url_encode(out, p->v[i].value);
    }
    return rc;
}

void af_params_free(struct af_params *p)
{
    size_t i;
    if (p == NULL)
        return;
    for (i = 0; i < p->n; i++) {
        free(p->v[i].name);
        free(p->v[i].value);
    }
    free(p->v);
    p->v = NULL;
    p->n = 0;
    p->cap = 0;
}
