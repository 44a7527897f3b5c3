/*
 * ledger.c - the record of every request the provider port received
 * (docs/admin.md, "The ledger"): a ring of JSON entries with a monotonic
 * sequence number, queried by the admin API.
 *
 * Written by hand: a fixed array used as a ring under one mutex is all it
 * takes, and none of our libraries offers one. Entries are built outside
 * the mutex (server.c calls af_ledger_record once the handler ran) and
 * never change once added, so the lock covers only the ring's bookkeeping
 * and the copies a query hands out.
 *
 * No secret ever enters an entry: af_ledger_redact decides what each
 * parameter shows, and the Authorization and Cookie headers keep only
 * their scheme and names.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authflow/buf.h"
#include "authflow/proto.h"
#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/clientauth.h"
#include "server/http_req.h"
#include "server/ledger.h"
#include "server/scenario.h"

/* How much of a code or token an entry shows: enough to tell two apart in
 * a log, far too little to use. */
#define LEDGER_PREFIX 8

/* An entry is held as its compact JSON text and the values the filters
 * compare, all in ONE allocation (blob): a ring of json_t trees scattered
 * thousands of small blocks over the heap, and the last thousand entries of
 * a load test then kept tens of MiB of freed memory from going back to the
 * system. A query parses the entries it returns. */
struct slot {
    unsigned long long seq;
    char *blob;            /* owned: text, then path, method, client_id, code */
    const char *path;      /* into blob; NULL when the entry has none */
    const char *method;    /* into blob, or NULL */
    const char *client_id; /* into blob, or NULL */
    const char *code;      /* into blob: the full code parameter, or NULL */
};

struct af_ledger {
    pthread_mutex_t mu;
    struct slot *ring; /* cap slots; NULL when cap is 0 */
    size_t cap;
    size_t head; /* where the next entry goes */
    size_t n;    /* entries held */
    unsigned long long last_seq;
    unsigned long long escaped; /* entries recorded with an escaped value */
};

af_rc af_ledger_new(size_t max_entries, struct af_ledger **out)
{
    struct af_ledger *l = calloc(1, sizeof(*l));
    af_rc rc = AF_ERR_NOMEM;

    *out = NULL;
    if (l == NULL || pthread_mutex_init(&l->mu, NULL) != 0) {
        free(l);
        l = NULL;
        goto out;
    }
    l->cap = max_entries;
    if (max_entries > 0) {
        l->ring = calloc(max_entries, sizeof(*l->ring));
        if (l->ring == NULL) {
            l->cap = 0;
            goto out;
        }
    }
    *out = l;
    l = NULL;
    rc = AF_OK;
out:
    af_ledger_free(l);
    return rc;
}

static void slot_clear(struct slot *s)
{
    free(s->blob);
    memset(s, 0, sizeof(*s));
}

/* slot_fill: s (empty) takes the text of entry and the filter values in
 * one allocation. false when out of memory. */
static bool slot_fill(struct slot *s, const json_t *entry, const char *code)
{
    const char *v[4] = {json_string_value(json_object_get(entry, "path")),
                        json_string_value(json_object_get(entry, "method")),
                        json_string_value(json_object_get(entry, "client_id")), code};
    const char **dst[4] = {&s->path, &s->method, &s->client_id, &s->code};
    char *text = json_dumps(entry, JSON_COMPACT), *blob, *p;
    size_t tlen, len, i;

    if (text == NULL)
        return false;
    /* serialised once; the filter values go after the text's NUL */
    tlen = strlen(text);
    len = tlen + 1;
    for (i = 0; i < 4; i++)
        len += v[i] != NULL ? strlen(v[i]) + 1 : 0;
    blob = realloc(text, len);
    if (blob == NULL) {
        free(text);
        return false;
    }
    s->blob = blob;
    p = blob + tlen + 1;
    for (i = 0; i < 4; i++) {
        if (v[i] == NULL)
            continue;
        *dst[i] = p;
        p = stpcpy(p, v[i]) + 1;
    }
    return true;
}

void af_ledger_free(struct af_ledger *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->cap; i++)
        slot_clear(&l->ring[i]);
    free(l->ring);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* ---- redaction ---- */

/* utf8_cut: the length of s cut to at most max bytes without splitting a
 * character (s is valid UTF-8: the parser checked it). */
static size_t utf8_cut(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return n;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

char *af_ledger_redact(const char *name, const char *value)
{
    size_t len = strlen(value);
    char *out = NULL;
    int k;
    af_secret_kind kind = af_proto_secret_kind(name);

    if (kind == AF_SECRET_CREDENTIAL)
        k = asprintf(&out, "[redacted %zu chars]", len);
    else if (kind == AF_SECRET_VERIFIER)
        k = asprintf(&out, "[%zu chars]", len);
    else if (kind == AF_SECRET_TOKEN && len > LEDGER_PREFIX)
        k = asprintf(&out, "%.*s...(%zu chars)", (int)utf8_cut(value, LEDGER_PREFIX), value, len);
    else if (kind == AF_SECRET_TOKEN)
        k = asprintf(&out, "[%zu chars]", len); /* too short to show a part of */
    else if (len > AF_LEDGER_VALUE_MAX)
        k = asprintf(&out, "%.*s...(%zu chars)", (int)utf8_cut(value, AF_LEDGER_VALUE_MAX), value,
                     len);
    else
        k = asprintf(&out, "%s", value);
    return k < 0 ? NULL : out;
}

/* ---- text that is not UTF-8 ---- */

/* seq_len: the length a UTF-8 sequence starting with byte c has; 0 when c
 * cannot start one. */
static size_t seq_len(unsigned char c)
{
    return c < 0x80                 ? 1
           : c >= 0xC2 && c <= 0xDF ? 2
           : c >= 0xE0 && c <= 0xEF ? 3
           : c >= 0xF0 && c <= 0xF4 ? 4
                                    : 0;
}

/* ledger_text: s as jansson takes it. A request may carry any byte in its
 * path, method or headers, and jansson refuses a string that is not UTF-8,
 * which used to drop the whole entry. Well-formed sequences stay as they
 * are; every other byte becomes "\xNN", and *escaped counts the value.
 * New reference, NULL on allocation failure. */
static json_t *ledger_text(const char *s, unsigned *escaped)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s), i = 0;
    struct af_buf b;
    json_t *out = NULL;
    af_rc rc = AF_OK;

    /* checked here: jansson need not check it again */
    if (af_utf8_valid(s, len))
        return json_stringn_nocheck(s, len);
    af_buf_init(&b, 4 * len + 1);
    while (i < len && rc == AF_OK) {
        size_t n = seq_len(p[i]);
        if (n > 0 && n <= len - i && af_utf8_valid(s + i, n)) {
            rc = af_buf_add(&b, s + i, n);
            i += n;
        } else {
            char e[4] = {'\\', 'x', hex[p[i] >> 4], hex[p[i] & 15]};
            rc = af_buf_add(&b, e, sizeof(e));
            i++;
        }
    }
    if (rc == AF_OK) {
        out = json_stringn_nocheck(af_buf_str(&b), b.len);
        (*escaped)++;
    }
    af_buf_free(&b);
    return out;
}

/* text_or_null: ledger_text, or JSON null for NULL. */
static json_t *text_or_null(const char *s, unsigned *escaped)
{
    return s != NULL ? ledger_text(s, escaped) : json_null();
}

/* shown_text: value of parameter (or header) name as an entry shows it
 * (af_ledger_redact), through ledger_text. New reference; NULL on
 * allocation failure. */
static json_t *shown_text(const char *name, const char *value, unsigned *escaped)
{
    char *shown;
    json_t *v;

    /* most values show as they are: no copy to make */
    if (af_proto_secret_kind(name) == AF_SECRET_NONE && strlen(value) <= AF_LEDGER_VALUE_MAX)
        return ledger_text(value, escaped);
    shown = af_ledger_redact(name, value);
    v = shown != NULL ? ledger_text(shown, escaped) : NULL;
    free(shown);
    return v;
}

/* ---- building an entry ---- */

/* params_json: {name: shown value}, a repeated name as an array of values.
 * New reference; NULL on allocation failure. */
static json_t *params_json(const struct af_params *p, unsigned *escaped)
{
    json_t *o = json_object();

    for (size_t i = 0; o != NULL && i < p->n; i++) {
        const char *key = p->v[i].name;
        json_t *v = shown_text(key, p->v[i].value, escaped), *prev, *name = NULL;
        int bad;
        if (!af_utf8_valid(key, strlen(key))) {
            name = ledger_text(key, escaped);
            key = json_string_value(name);
        }
        if (v == NULL || key == NULL) {
            json_decref(v);
            json_decref(name);
            json_decref(o);
            return NULL;
        }
        prev = json_object_get(o, key);
        if (prev == NULL) {
            bad = json_object_set_new_nocheck(o, key, v);
        } else if (json_is_array(prev)) {
            bad = json_array_append_new(prev, v);
        } else {
            json_t *arr = json_pack("[O,o]", prev, v);
            bad = arr == NULL || json_object_set_new_nocheck(o, key, arr) != 0;
        }
        json_decref(name);
        if (bad) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

/* shown_authorization: the scheme, and for Bearer the start of the token;
 * never a Basic credential or anything else. Caller frees. */
static char *shown_authorization(const char *hdr)
{
    const char *sp = strchr(hdr, ' ');
    char *tok = NULL, *out = NULL;
    int k;

    if (sp == NULL || sp == hdr || sp - hdr > 32)
        return strdup("[redacted]");
    if (af_auth_scheme_match(hdr, AF_SCHEME_BEARER) != NULL) {
        tok = af_ledger_redact(AF_P_ACCESS_TOKEN, af_auth_scheme_match(hdr, AF_SCHEME_BEARER));
        if (tok == NULL)
            return NULL;
        k = asprintf(&out, "%.*s %s", (int)(sp - hdr), hdr, tok);
    } else {
        k = asprintf(&out, "%.*s [redacted]", (int)(sp - hdr), hdr);
    }
    free(tok);
    return k < 0 ? NULL : out;
}

/* shown_cookie: "name=[redacted]; ..." - the names tell which cookies came,
 * the values (sessions) stay out. Caller frees. */
static char *shown_cookie(const char *hdr)
{
    struct af_buf b;
    const char *p = hdr;
    af_rc rc = AF_OK;

    af_buf_init(&b, AF_LEDGER_VALUE_MAX);
    while (*p && rc == AF_OK) {
        size_t name_len;
        while (*p == ' ' || *p == ';')
            p++;
        name_len = strcspn(p, "=;");
        if (name_len == 0)
            break;
        rc = af_buf_addf(&b, "%s%.*s=[redacted]", b.len ? "; " : "", (int)name_len, p);
        p += strcspn(p, ";");
    }
    if (rc != AF_OK) {
        af_buf_free(&b);
        return strdup("[redacted]");
    }
    return af_buf_detach(&b);
}

/* The headers an entry shows as they are, and the names it shows them by. */
static const struct {
    const char *hdr;
    const char *name;
} shown_headers[] = {
    {AF_HDR_CONTENT_TYPE, "content-type"},
    {AF_HDR_USER_AGENT, "user-agent"},
    {AF_HDR_ACCEPT, "accept"},
    {AF_HDR_ORIGIN, "origin"},
};

/* headers_json: a few request headers by lower-case name. New reference. */
static json_t *headers_json(const struct af_req *req, unsigned *escaped)
{
    json_t *o = json_object();
    const char *v;
    char *shown;
    int bad = o == NULL;

    for (size_t i = 0; !bad && i < sizeof(shown_headers) / sizeof(shown_headers[0]); i++) {
        v = af_req_header(req, shown_headers[i].hdr);
        if (v != NULL)
            bad = json_object_set_new_nocheck(o, shown_headers[i].name,
                                              shown_text(shown_headers[i].name, v, escaped)) != 0;
    }
    v = af_req_header(req, AF_HDR_AUTHORIZATION);
    if (!bad && v != NULL) {
        shown = shown_authorization(v);
        bad = shown == NULL ||
              json_object_set_new_nocheck(o, "authorization", ledger_text(shown, escaped)) != 0;
        free(shown);
    }
    v = af_req_header(req, AF_HDR_COOKIE);
    if (!bad && v != NULL) {
        shown = shown_cookie(v);
        bad = shown == NULL ||
              json_object_set_new_nocheck(o, "cookie", ledger_text(shown, escaped)) != 0;
        free(shown);
    }
    if (bad) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

/* entry_put: e[key] = v (reference taken, also when v is NULL or e is
 * NULL); the entry dropped on failure. */
static void entry_put(json_t **e, const char *key, json_t *v)
{
    if (*e != NULL && json_object_set_new_nocheck(*e, key, v) == 0)
        return;
    if (*e == NULL)
        json_decref(v);
    json_decref(*e);
    *e = NULL;
}

json_t *af_ledger_entry(const struct af_req *req, const struct af_resp *resp, char **code_out)
{
    const struct af_req_facts *f = &req->facts;
    struct af_params q;
    const struct af_params *query = &req->query;
    const char *client_id, *code;
    char when[AF_RFC3339_MS_LEN + 1];
    json_t *e = json_object(), *pkce = json_null();
    unsigned esc = 0; /* values escaped (ledger_text) */

    *code_out = NULL;
    af_params_init(&q, 1024);
    /* a request refused before its query was read (405, 413): read it here,
     * leniently, so the entry still shows what came */
    if (query->n == 0 && req->raw_query != NULL && req->raw_query[0] != '\0') {
        if (af_params_parse(&q, req->raw_query, strlen(req->raw_query), NULL) == AF_OK)
            query = &q;
    }
    client_id = af_req_client_named(req);
    if (client_id == NULL && query != &req->query)
        client_id = af_params_get(query, AF_P_CLIENT_ID);
    if (f->pkce_seen)
        pkce = json_pack("{s:b, s:o, s:o}", "sent", f->pkce_sent, "method",
                         text_or_null(f->pkce_method, &esc), "verified",
                         f->pkce_verified < 0 ? json_null() : json_boolean(f->pkce_verified));
    af_rfc3339_now(when);
    /* members in the order entries have always shown them; af_ledger_add
     * sets seq */
    entry_put(&e, "seq", json_integer(0));
    entry_put(&e, "time", json_string_nocheck(when));
    entry_put(&e, "method", text_or_null(req->method_str, &esc));
    entry_put(&e, "path", ledger_text(req->path ? req->path : "", &esc));
    entry_put(&e, "query", params_json(query, &esc));
    entry_put(&e, "form", params_json(&req->form, &esc));
    entry_put(&e, "headers", headers_json(req, &esc));
    entry_put(&e, "client_id", text_or_null(client_id, &esc));
    entry_put(&e, "client_auth", text_or_null(f->client_auth, &esc));
    entry_put(&e, "bearer", text_or_null(f->bearer, &esc));
    entry_put(&e, "pkce", pkce);
    entry_put(&e, "sub", text_or_null(f->sub, &esc));
    entry_put(&e, "scenario", text_or_null(f->scenario ? f->scenario->name : NULL, &esc));
    entry_put(&e, AF_LEDGER_FLOW, text_or_null(f->flow[0] != '\0' ? f->flow : NULL, &esc));
    entry_put(&e, AF_LEDGER_REPLAYED, text_or_null(f->replayed, &esc));
    entry_put(&e, AF_LEDGER_REDIRECT_MISMATCH, text_or_null(f->redirect_mismatch, &esc));
    entry_put(&e, AF_LEDGER_STATE_RETURNED, text_or_null(f->state_returned, &esc));
    entry_put(&e, "status", json_integer((json_int_t)resp->status));
    entry_put(&e, "error", text_or_null(resp->error[0] != '\0' ? resp->error : NULL, &esc));
    entry_put(&e, "reason", text_or_null(resp->reason[0] != '\0' ? resp->reason : NULL, &esc));
    if (f->cut != NULL)
        entry_put(&e, AF_LEDGER_CUT, json_string(f->cut));
    if (f->delay_ms > 0)
        entry_put(&e, "delay_ms", json_integer(f->delay_ms));
    if (esc > 0)
        entry_put(&e, AF_LEDGER_ESCAPED, json_integer((json_int_t)esc));
    code = af_params_get(&req->form, AF_P_CODE);
    if (code == NULL)
        code = af_params_get(query, AF_P_CODE);
    if (e != NULL && code != NULL) {
        *code_out = strdup(code);
        if (*code_out == NULL) {
            json_decref(e);
            e = NULL;
        }
    }
    af_params_free(&q);
    return e;
}

void af_req_set_flow(struct af_req *req, const char *grant_id)
{
    if (grant_id != NULL)
        snprintf(req->facts.flow, sizeof(req->facts.flow), "%s", grant_id);
}

void af_req_set_flow_of_jti(struct af_req *req, const char *jti)
{
    const char *dot = jti != NULL ? strchr(jti, '.') : NULL;

    if (dot != NULL && dot > jti && (size_t)(dot - jti) <= AF_FLOW_MAX)
        snprintf(req->facts.flow, sizeof(req->facts.flow), "%.*s", (int)(dot - jti), jti);
}

unsigned long long af_ledger_add(struct af_ledger *l, json_t *entry, char *code)
{
    unsigned long long seq = 0;
    struct slot fresh = {0}, *s;
    bool escaped;

    if (l == NULL || l->cap == 0 || entry == NULL)
        goto out;
    /* serialised outside the lock; the seq is added back by queries */
    escaped = json_object_get(entry, AF_LEDGER_ESCAPED) != NULL;
    if (!slot_fill(&fresh, entry, code))
        goto out;
    pthread_mutex_lock(&l->mu);
    seq = ++l->last_seq;
    s = &l->ring[l->head];
    slot_clear(s); /* the oldest, when full */
    *s = fresh;
    s->seq = seq;
    if (escaped)
        l->escaped++;
    l->head = (l->head + 1) % l->cap;
    if (l->n < l->cap)
        l->n++;
    pthread_mutex_unlock(&l->mu);
out:
    json_decref(entry);
    free(code);
    return seq;
}

unsigned long long af_ledger_record(struct af_ledger *l, const struct af_req *req,
                                    const struct af_resp *resp)
{
    char *code = NULL;
    json_t *e;

    if (l == NULL || l->cap == 0)
        return 0;
    e = af_ledger_entry(req, resp, &code);
    return af_ledger_add(l, e, code);
}

/* ---- queries ---- */

static bool str_is(const char *v, const char *want)
{
    return want == NULL || (v != NULL && strcmp(v, want) == 0);
}

/* slot_entry: the entry of s as a new JSON object, with its seq. */
static json_t *slot_entry(const struct slot *s)
{
    json_t *e = json_loads(s->blob, 0, NULL);
    if (e != NULL && json_object_set_new(e, "seq", json_integer((json_int_t)s->seq)) != 0) {
        json_decref(e);
        e = NULL;
    }
    return e;
}

af_rc af_ledger_query(struct af_ledger *l, const struct af_ledger_filter *f, json_t **out)
{
    json_t *arr = json_array();
    unsigned long long next, oldest, dropped = 0, last = f->since, escaped;
    size_t i, count = 0, limit = f->limit;
    af_rc rc = AF_OK;

    *out = NULL;
    if (arr == NULL)
        return AF_ERR_NOMEM;
    if (limit > AF_LEDGER_LIMIT_MAX)
        limit = AF_LEDGER_LIMIT_MAX;
    pthread_mutex_lock(&l->mu);
    next = l->last_seq;
    escaped = l->escaped;
    /* seqs are consecutive in the ring: the oldest held is last_seq - n + 1 */
    oldest = l->last_seq - l->n + 1;
    if (f->since + 1 < oldest)
        dropped = oldest - 1 - f->since;
    /* limit 0 asks for the cursor only */
    for (i = 0; limit > 0 && i < l->n && rc == AF_OK; i++) {
        const struct slot *s = &l->ring[(l->head + l->cap - l->n + i) % l->cap];
        if (s->seq <= f->since || !str_is(s->path, f->path) || !str_is(s->method, f->method) ||
            !str_is(s->client_id, f->client_id) || !str_is(s->code, f->code))
            continue;
        if (count == limit) {
            /* cut: the caller goes on from the last entry it got */
            next = last;
            break;
        }
        /* a parse of its own: the ring may drop the entry meanwhile */
        if (json_array_append_new(arr, slot_entry(s)) != 0)
            rc = AF_ERR_NOMEM;
        count++;
        last = s->seq;
    }
    pthread_mutex_unlock(&l->mu);
    if (rc == AF_OK) {
        *out = json_pack("{s:o, s:I, s:I, s:I, s:I}", AF_LEDGER_ENTRIES, arr, AF_LEDGER_COUNT,
                         (json_int_t)count, AF_LEDGER_NEXT, (json_int_t)next, AF_LEDGER_DROPPED,
                         (json_int_t)dropped, AF_LEDGER_ESCAPED, (json_int_t)escaped);
        arr = NULL;
        if (*out == NULL)
            rc = AF_ERR_NOMEM;
    }
    json_decref(arr);
    return rc;
}

size_t af_ledger_clear(struct af_ledger *l)
{
    size_t n;

    pthread_mutex_lock(&l->mu);
    n = l->n;
    for (size_t i = 0; i < l->cap; i++)
        slot_clear(&l->ring[i]);
    l->n = 0;
    l->head = 0;
    pthread_mutex_unlock(&l->mu);
    return n;
}
