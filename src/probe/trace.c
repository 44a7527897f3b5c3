/*
 * trace.c - the --trace output (every exchange, hop by hop) and the
 * redaction of secrets in it and in failure messages.
 *
 * What counts as a secret is decided by name (af_proto_is_secret_param,
 * the list the server's ledger uses too): credentials and tokens in
 * parameters, JSON members and the Authorization/Cookie headers. A redacted
 * value keeps its first four characters and its length, enough to tell two
 * tokens apart while debugging without leaking them into CI logs.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authflow/proto.h"
#include "probe/probe_int.h"

#define TRACE_BODY_MAX (64 * 1024)

void af_msg_add(struct af_buf *b, const char *s)
{
    if (af_buf_adds(b, s) != AF_OK)
        return;
}

void af_msg_addn(struct af_buf *b, const char *s, size_t n)
{
    if (af_buf_add(b, s, n) != AF_OK)
        return;
}

void af_msg_addc(struct af_buf *b, char c)
{
    if (af_buf_addc(b, c) != AF_OK)
        return;
}

void af_msg_addf(struct af_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (af_buf_vaddf(b, fmt, ap) != AF_OK) {
        /* cut short: see af_msg_add */
    }
    va_end(ap);
}

void af_msg_redact(struct af_buf *b, const char *value)
{
    if (af_redact_value(b, value) != AF_OK)
        return;
}

af_rc af_redact_value(struct af_buf *out, const char *value)
{
    size_t n = strlen(value);
    if (n <= 8)
        return af_buf_addf(out, "[redacted %zu chars]", n);
    return af_buf_addf(out, "%.4s...[redacted %zu chars]", value, n);
}

/* redact_params: a&b=c style text with secret values redacted, raw
 * otherwise (names are compared decoded). */
static af_rc redact_params(struct af_buf *out, const char *s, size_t len)
{
    af_rc rc = AF_OK;
    size_t i = 0;
    while (i < len && rc == AF_OK) {
        size_t end = i, eq;
        char *name = NULL;
        while (end < len && s[end] != '&')
            end++;
        eq = i;
        while (eq < end && s[eq] != '=')
            eq++;
        if (af_url_decode(s + i, eq - i, true, &name, NULL) == AF_OK && eq < end &&
            af_proto_is_secret_param(name)) {
            char *val = NULL;
            rc = af_buf_add(out, s + i, eq - i + 1);
            if (rc == AF_OK && af_url_decode(s + eq + 1, end - eq - 1, true, &val, NULL) == AF_OK)
                rc = af_redact_value(out, val);
            else if (rc == AF_OK)
                rc = af_buf_adds(out, "[redacted]");
            free(val);
        } else {
            rc = af_buf_add(out, s + i, end - i);
        }
        free(name);
        if (rc == AF_OK && end < len)
            rc = af_buf_addc(out, '&');
        i = end + 1;
    }
    return rc;
}

static af_rc redact_url(struct af_buf *out, const char *url)
{
    const char *q, *f;
    size_t ql, fl, base = af_url_base_len(url);
    af_rc rc = af_buf_add(out, url, base);
    af_url_split(url, &q, &ql, &f, &fl);
    if (rc == AF_OK && q != NULL) {
        rc = af_buf_addc(out, '?');
        if (rc == AF_OK)
            rc = redact_params(out, q, ql);
    }
    if (rc == AF_OK && f != NULL) {
        rc = af_buf_addc(out, '#');
        if (rc == AF_OK)
            rc = redact_params(out, f, fl);
    }
    return rc;
}

void af_trace_redact_url(char *out, size_t cap, const char *url, bool show)
{
    struct af_buf b;
    if (cap == 0)
        return;
    out[0] = '\0';
    if (url == NULL)
        return;
    af_buf_init(&b, 1024 * 1024);
    if (show)
        snprintf(out, cap, "%s", url);
    else if (redact_url(&b, url) == AF_OK)
        snprintf(out, cap, "%s", af_buf_str(&b));
    else /* could not redact (no memory): no query rather than a secret */
        snprintf(out, cap, "%.*s", (int)af_url_base_len(url), url);
    af_buf_free(&b);
}

void af_msg_url(struct af_buf *b, const char *url, size_t max, bool show)
{
    char *u;
    if (url == NULL)
        return;
    u = malloc(max + 1);
    if (u == NULL)
        return;
    af_trace_redact_url(u, max + 1, url, show);
    af_msg_add(b, u);
    free(u);
}

static void redact_json(json_t *v)
{
    const char *k;
    json_t *m;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach(v, k, m)
        {
            if (json_is_string(m) && af_proto_is_secret_param(k)) {
                struct af_buf b;
                af_buf_init(&b, 256);
                if (af_redact_value(&b, json_string_value(m)) == AF_OK)
                    json_object_set_new(v, k, json_string(af_buf_str(&b)));
                af_buf_free(&b);
            } else {
                redact_json(m);
            }
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, m) redact_json(m);
    }
}

/* trace_line: pfx, then s[0..n) escaped (af_text_escape: what the target
 * sent may hold terminal escapes and bytes that are not UTF-8), then a
 * newline. */
static void trace_line(FILE *f, const char *pfx, const char *s, size_t n)
{
    struct af_buf b;
    af_buf_init(&b, 4 * n + 16);
    if (af_text_escape(&b, s, n) != AF_OK) {
        /* cut short: what fit is shown */
    }
    fprintf(f, "%s%s\n", pfx, af_buf_str(&b));
    af_buf_free(&b);
}

/* trace_header: "pfx name: value", escaped. */
static void trace_header(FILE *f, const char *pfx, const char *name, const char *value)
{
    struct af_buf b;
    af_buf_init(&b, 256 * 1024);
    af_msg_addf(&b, "%s: %s", name, value);
    trace_line(f, pfx, af_buf_str(&b), b.len);
    af_buf_free(&b);
}

static void print_header(FILE *f, const char *pfx, const char *name, const char *value, bool show)
{
    struct af_buf b;
    af_buf_init(&b, 64 * 1024);
    if (show) {
        trace_header(f, pfx, name, value);
    } else if (strcasecmp(name, AF_HDR_AUTHORIZATION) == 0) {
        size_t sch = strcspn(value, " ");
        af_msg_addn(&b, value, sch);
        af_msg_addc(&b, ' ');
        if (af_redact_value(&b, value + sch + (value[sch] ? 1 : 0)) == AF_OK)
            trace_header(f, pfx, name, af_buf_str(&b));
    } else if (strcasecmp(name, AF_HDR_COOKIE) == 0 || strcasecmp(name, AF_HDR_SET_COOKIE) == 0) {
        /* Keep the cookie names and attributes, hide the values. */
        const char *p = value;
        while (*p) {
            size_t n = strcspn(p, "=;");
            af_msg_addn(&b, p, n);
            p += n;
            if (*p == '=') {
                size_t vl = strcspn(p + 1, ";");
                char *v = strndup(p + 1, vl);
                bool is_value = true;
                /* In Set-Cookie only the first pair is the cookie. */
                if (strcasecmp(name, AF_HDR_SET_COOKIE) == 0 &&
                    memchr(value, ';', (size_t)(p - value)))
                    is_value = false;
                af_msg_addc(&b, '=');
                if (v != NULL && is_value)
                    af_msg_redact(&b, v);
                else if (v != NULL)
                    af_msg_add(&b, v);
                free(v);
                p += 1 + vl;
            }
            if (*p == ';') {
                af_msg_addc(&b, ';');
                p++;
            }
        }
        trace_header(f, pfx, name, af_buf_str(&b));
    } else if (strcasecmp(name, AF_HDR_LOCATION) == 0 && redact_url(&b, value) == AF_OK) {
        trace_header(f, pfx, name, af_buf_str(&b));
    } else {
        trace_header(f, pfx, name, value);
    }
    af_buf_free(&b);
}

static void print_body(FILE *f, const char *pfx, const char *ctype, const struct af_buf *body,
                       bool show)
{
    struct af_buf b;
    const char *text = af_buf_str(body);
    size_t len = body->len, i, start;
    json_t *j = NULL;
    char *dump = NULL;

    if (len == 0)
        return;
    af_buf_init(&b, 4 * TRACE_BODY_MAX);
    if (!show && ctype != NULL && strcasestr(ctype, "x-www-form-urlencoded") != NULL) {
        if (redact_params(&b, text, len) == AF_OK) {
            text = af_buf_str(&b);
            len = b.len;
        }
    } else if (!show) {
        j = json_loadb(text, len, JSON_DECODE_ANY, NULL);
        if (j != NULL) {
            redact_json(j);
            dump = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
        }
        if (dump != NULL) {
            text = dump;
            len = strlen(dump);
        }
    }
    fprintf(f, "%s\n", pfx);
    start = 0;
    for (i = 0; i <= len && i <= TRACE_BODY_MAX; i++) {
        if (i == len || i == TRACE_BODY_MAX || text[i] == '\n') {
            trace_line(f, pfx, text + start, i - start);
            start = i + 1;
        }
    }
    if (len > TRACE_BODY_MAX)
        fprintf(f, "%s[... %zu more bytes]\n", pfx, len - TRACE_BODY_MAX);
    free(dump);
    json_decref(j);
    af_buf_free(&b);
}

void af_trace_hop(FILE *f, const char *check, const char *step, size_t hopno,
                  const struct af_hop *hop, bool show)
{
    struct af_buf u;
    size_t i;
    const char *ctype = NULL;

    af_buf_init(&u, 1024 * 1024);
    if (show || redact_url(&u, hop->url) != AF_OK) {
        af_buf_reset(&u);
        af_msg_add(&u, hop->url);
    }
    {
        char *url = af_text_clean(af_buf_str(&u), 4 * 1024 * 1024);
        fprintf(f, "-- %s [%s] hop %zu: %s %s%s (%llu ms)\n", check, step, hopno, hop->method,
                url ? url : "", hop->submitted ? " (form)" : "", (unsigned long long)hop->ms);
        free(url);
    }
    if (hop->req_dump.len > 0) {
        /* curl's own view: every header actually sent, Host and Cookie too. */
        const char *p = af_buf_str(&hop->req_dump);
        bool first = true;
        while (*p) {
            size_t n = strcspn(p, "\r\n");
            if (n > 0 && !first) {
                const char *colon = memchr(p, ':', n);
                if (colon != NULL) {
                    char *name = strndup(p, (size_t)(colon - p));
                    const char *v = colon + 1;
                    char *val;
                    while (*v == ' ')
                        v++;
                    val = strndup(v, (size_t)(p + n - v));
                    if (name && val)
                        print_header(f, "> ", name, val, show);
                    free(name);
                    free(val);
                }
            }
            first = false;
            p += n;
            while (*p == '\r' || *p == '\n')
                p++;
        }
    } else {
        for (i = 0; i < hop->req_headers.n; i++)
            print_header(f, "> ", hop->req_headers.v[i].name, hop->req_headers.v[i].value, show);
    }
    for (i = 0; i < hop->req_headers.n; i++)
        if (strcasecmp(hop->req_headers.v[i].name, AF_HDR_CONTENT_TYPE) == 0)
            ctype = hop->req_headers.v[i].value;
    print_body(f, "> ", ctype, &hop->req_body, show);
    if (hop->status == 0) {
        fprintf(f, "< (no response: %s)\n", hop->transport_error ? hop->transport_error : "?");
    } else {
        fprintf(f, "< %ld\n", hop->status);
        for (i = 0; i < hop->headers.n; i++)
            print_header(f, "< ", hop->headers.v[i].name, hop->headers.v[i].value, show);
        print_body(f, "< ", af_hop_header(hop, AF_HDR_CONTENT_TYPE), &hop->body, show);
        if (hop->transport_error != NULL)
            fprintf(f, "< (%s)\n", hop->transport_error);
    }
    af_buf_free(&u);
}
