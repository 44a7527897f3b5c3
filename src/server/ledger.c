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
#include "authflow/jsonw.h"
#include "authflow/proto.h"
#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/clientauth.h"
#include "server/core.h"
#include "server/http_req.h"
#include "server/ledger.h"
#include "server/scenario.h"
#include "server/store_redis.h"

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
    struct af_rstore *rs;       /* borrowed: the entries are in Redis instead (replicas) */
};

void af_ledger_share(struct af_ledger *l, struct af_rstore *rs)
{
    if (l != NULL)
        l->rs = rs;
}

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
    char *text = af_jsonw_dumps(entry), *blob, *p;
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

/* shown_bytes: s as an entry shows it. A request may carry any byte in its
 * path, method or headers, and JSON text cannot (that used to drop the
 * whole entry). Well-formed sequences stay as they are; every other byte
 * becomes "\xNN" in tmp, and *escaped counts the value. Returns s itself
 * when it is UTF-8, else tmp's text; NULL on allocation failure. */
static const char *shown_bytes(const char *s, struct af_buf *tmp, unsigned *escaped)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s), i = 0;
    af_rc rc = AF_OK;

    if (af_utf8_valid(s, len))
        return s;
    af_buf_reset(tmp);
    while (i < len && rc == AF_OK) {
        size_t n = seq_len(p[i]);
        if (n > 0 && n <= len - i && af_utf8_valid(s + i, n)) {
            rc = af_buf_add(tmp, s + i, n);
            i += n;
        } else {
            char e[4] = {'\\', 'x', hex[p[i] >> 4], hex[p[i] & 15]};
            rc = af_buf_add(tmp, e, sizeof(e));
            i++;
        }
    }
    if (rc != AF_OK)
        return NULL;
    (*escaped)++;
    return af_buf_str(tmp);
}

/* ---- writing an entry ----
 *
 * The entry is written as JSON text straight into a buffer (src/common/
 * jsonw.c's escaping): building a jansson tree only to serialise it at
 * once cost about a tenth of an ES256 token request. */

struct ew {
    struct af_buf *b;
    struct af_buf tmp; /* shown_bytes' escapes */
    unsigned esc;      /* values escaped */
    bool first;        /* no member written yet in the object open */
    af_rc rc;          /* the first failure; later writes do nothing */
};

static void w_raw(struct ew *w, const char *s, size_t len)
{
    if (w->rc == AF_OK)
        w->rc = af_buf_add(w->b, s, len);
}

/* w_str: s (UTF-8) as a JSON string. */
static void w_str(struct ew *w, const char *s)
{
    if (w->rc == AF_OK)
        w->rc = af_jsonw_string(w->b, s, strlen(s));
}

/* w_text: s as an entry shows it (shown_bytes), or null for NULL. */
static void w_text(struct ew *w, const char *s)
{
    const char *shown;
    size_t len;

    if (s == NULL) {
        w_raw(w, "null", 4);
        return;
    }
    if (w->rc != AF_OK)
        return;
    /* almost every value is UTF-8: written at once, the writer's own check
     * standing for shown_bytes' (one pass over the bytes, not two) */
    len = w->b->len;
    w->rc = af_jsonw_string(w->b, s, strlen(s));
    if (w->rc != AF_ERR_INVALID)
        return;
    w->b->len = len; /* the partial text goes; the escaped one follows */
    w->b->p[len] = '\0';
    w->rc = AF_OK;
    shown = shown_bytes(s, &w->tmp, &w->esc);
    if (shown == NULL)
        w->rc = AF_ERR_NOMEM;
    else
        w_str(w, shown);
}

/* w_open, w_key, w_close: an object and its member names. */
static void w_open(struct ew *w)
{
    w_raw(w, "{", 1);
    w->first = true;
}

static void w_key(struct ew *w, const char *key)
{
    if (!w->first)
        w_raw(w, ",", 1);
    w->first = false;
    w_text(w, key);
    w_raw(w, ":", 1);
}

static void w_close(struct ew *w)
{
    w_raw(w, "}", 1);
    w->first = false;
}

static void w_int(struct ew *w, long long v)
{
    char num[24];
    int k = snprintf(num, sizeof(num), "%lld", v);
    w_raw(w, num, (size_t)k);
}

static void w_bool(struct ew *w, bool v)
{
    w_raw(w, v ? "true" : "false", v ? 4 : 5);
}

/* w_shown: value of parameter (or header) name as an entry shows it
 * (af_ledger_redact, then shown_bytes). */
static void w_shown(struct ew *w, const char *name, const char *value)
{
    char *shown;

    /* most values show as they are: no copy to make */
    if (af_proto_secret_kind(name) == AF_SECRET_NONE && strlen(value) <= AF_LEDGER_VALUE_MAX) {
        w_text(w, value);
        return;
    }
    shown = af_ledger_redact(name, value);
    if (shown == NULL && w->rc == AF_OK)
        w->rc = AF_ERR_NOMEM;
    if (shown != NULL)
        w_text(w, shown);
    free(shown);
}

/* w_params: {name: shown value}, a repeated name as an array of its values
 * where the name came first. Quadratic in the pairs, as the handlers'
 * duplicate check is; max_params bounds both. */
static void w_params(struct ew *w, const struct af_params *p)
{
    size_t i, j, n;

    w_open(w);
    for (i = 0; i < p->n; i++) {
        const char *name = p->v[i].name;
        for (j = 0; j < i && strcmp(p->v[j].name, name) != 0; j++)
            ;
        if (j < i)
            continue; /* written with its first */
        n = af_params_count(p, name);
        w_key(w, name);
        if (n > 1)
            w_raw(w, "[", 1);
        for (j = i, n = 0; j < p->n; j++) {
            if (strcmp(p->v[j].name, name) != 0)
                continue;
            if (n++ > 0)
                w_raw(w, ",", 1);
            w_shown(w, name, p->v[j].value);
        }
        if (n > 1)
            w_raw(w, "]", 1);
    }
    w_close(w);
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

/* w_headers: a few request headers by lower-case name. */
static void w_headers(struct ew *w, const struct af_req *req)
{
    const char *v;
    char *shown;

    w_open(w);
    for (size_t i = 0; i < sizeof(shown_headers) / sizeof(shown_headers[0]); i++) {
        v = af_req_header(req, shown_headers[i].hdr);
        if (v != NULL) {
            w_key(w, shown_headers[i].name);
            w_shown(w, shown_headers[i].name, v);
        }
    }
    for (int k = 0; k < 2; k++) {
        v = af_req_header(req, k == 0 ? AF_HDR_AUTHORIZATION : AF_HDR_COOKIE);
        if (v == NULL)
            continue;
        shown = k == 0 ? shown_authorization(v) : shown_cookie(v);
        if (shown == NULL && w->rc == AF_OK)
            w->rc = AF_ERR_NOMEM;
        w_key(w, k == 0 ? "authorization" : "cookie");
        w_text(w, shown);
        free(shown);
    }
    w_close(w);
}

/* Where, after the entry's text and its NUL, the values it is filtered by
 * sit (as the entry shows them; the code in full, never shown): the
 * layout of a slot's blob. (size_t)-1 for a value the request lacks. */
enum { KEY_PATH, KEY_METHOD, KEY_CLIENT_ID, KEY_CODE, KEYS };
#define KEY_NONE ((size_t)-1)

/* entry_write: the entry of req answered by resp as JSON text into w->b,
 * then each filter value after a NUL, its offset in at[]. */
static void entry_write(struct ew *w, const struct af_req *req, const struct af_resp *resp,
                        size_t at[KEYS])
{
    const struct af_req_facts *f = &req->facts;
    struct af_params q;
    const struct af_params *query = &req->query;
    const char *client_id, *code, *val[KEYS];
    const char *prefix = req->srv != NULL && req->srv->prefix != NULL ? req->srv->prefix : "";
    const char *path = req->path ? req->path : "";
    char when[AF_RFC3339_MS_LEN + 1], *full = NULL;

    /* the path as the client sent it: an issuer's own path first
     * (docs/issuers.md) */
    if (*prefix != '\0') {
        if (asprintf(&full, "%s%s", prefix, path) < 0) {
            w->rc = AF_ERR_NOMEM;
            return;
        }
        path = full;
    }
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
    code = af_params_get(&req->form, AF_P_CODE);
    if (code == NULL)
        code = af_params_get(query, AF_P_CODE);
    af_rfc3339_now(when);
    /* members in the order entries have always shown them; queries set
     * seq */
    w_open(w);
    w_key(w, "seq");
    w_raw(w, "0", 1);
    w_key(w, "time");
    w_str(w, when);
    w_key(w, "method");
    w_text(w, req->method_str);
    w_key(w, "path");
    w_text(w, path);
    w_key(w, "query");
    w_params(w, query);
    w_key(w, "form");
    w_params(w, &req->form);
    w_key(w, "headers");
    w_headers(w, req);
    w_key(w, "client_id");
    w_text(w, client_id);
    w_key(w, "client_auth");
    w_text(w, f->client_auth);
    w_key(w, "bearer");
    w_text(w, f->bearer);
    w_key(w, "pkce");
    if (f->pkce_seen) {
        w_open(w);
        w_key(w, "sent");
        w_bool(w, f->pkce_sent);
        w_key(w, "method");
        w_text(w, f->pkce_method);
        w_key(w, "verified");
        if (f->pkce_verified < 0)
            w_raw(w, "null", 4);
        else
            w_bool(w, f->pkce_verified);
        w_close(w);
    } else {
        w_raw(w, "null", 4);
    }
    w_key(w, "sub");
    w_text(w, f->sub);
    w_key(w, "scenario");
    w_text(w, f->scenario ? f->scenario->name : NULL);
    w_key(w, AF_LEDGER_FLOW);
    w_text(w, f->flow[0] != '\0' ? f->flow : NULL);
    w_key(w, AF_LEDGER_REPLAYED);
    w_text(w, f->replayed);
    w_key(w, AF_LEDGER_REDIRECT_MISMATCH);
    w_text(w, f->redirect_mismatch);
    w_key(w, AF_LEDGER_STATE_RETURNED);
    w_text(w, f->state_returned);
    w_key(w, "status");
    w_int(w, (long long)resp->status);
    w_key(w, "error");
    w_text(w, resp->error[0] != '\0' ? resp->error : NULL);
    w_key(w, "reason");
    w_text(w, resp->reason[0] != '\0' ? resp->reason : NULL);
    if (f->cut != NULL) {
        w_key(w, AF_LEDGER_CUT);
        w_str(w, f->cut);
    }
    if (f->delay_ms > 0) {
        w_key(w, "delay_ms");
        w_int(w, f->delay_ms);
    }
    if (w->esc > 0) {
        w_key(w, AF_LEDGER_ESCAPED);
        w_int(w, (long long)w->esc);
    }
    w_close(w);
    val[KEY_PATH] = path;
    val[KEY_METHOD] = req->method_str;
    val[KEY_CLIENT_ID] = client_id;
    val[KEY_CODE] = code;
    for (int i = 0; i < KEYS; i++) {
        unsigned counted = 0; /* counted in the text already */
        const char *shown = val[i];
        at[i] = KEY_NONE;
        if (val[i] == NULL || w->rc != AF_OK)
            continue;
        if (i != KEY_CODE)
            shown = shown_bytes(val[i], &w->tmp, &counted);
        if (shown == NULL) {
            w->rc = AF_ERR_NOMEM;
            continue;
        }
        w_raw(w, "", 1); /* the NUL before it */
        at[i] = w->b->len;
        w_raw(w, shown, strlen(shown));
    }
    af_params_free(&q);
    free(full);
}

/* entry_blob: entry_write into a new blob (caller frees; NULL when out of
 * memory). */
static char *entry_blob(const struct af_req *req, const struct af_resp *resp, size_t at[KEYS],
                        bool *escaped)
{
    struct af_buf b;
    struct ew w = {.b = &b, .rc = AF_OK};

    af_buf_init(&b, (size_t)1 << 24);
    af_buf_init(&w.tmp, (size_t)1 << 24);
    entry_write(&w, req, resp, at);
    af_buf_free(&w.tmp);
    *escaped = w.esc > 0;
    if (w.rc != AF_OK) {
        af_buf_free(&b);
        return NULL;
    }
    return af_buf_detach(&b);
}

json_t *af_ledger_entry(const struct af_req *req, const struct af_resp *resp, char **code_out)
{
    size_t at[KEYS];
    bool escaped;
    char *blob = entry_blob(req, resp, at, &escaped);
    json_t *e = blob != NULL ? json_loads(blob, 0, NULL) : NULL;

    *code_out = NULL;
    if (e != NULL && at[KEY_CODE] != KEY_NONE) {
        *code_out = strdup(blob + at[KEY_CODE]);
        if (*code_out == NULL) {
            json_decref(e);
            e = NULL;
        }
    }
    free(blob);
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

/* ring_put: fresh (its blob taken over) as the newest entry, dropping the
 * oldest when full; the seq given. */
static unsigned long long ring_put(struct af_ledger *l, const struct slot *fresh, bool escaped)
{
    unsigned long long seq;
    struct slot *s;

    pthread_mutex_lock(&l->mu);
    seq = ++l->last_seq;
    s = &l->ring[l->head];
    slot_clear(s); /* the oldest, when full */
    *s = *fresh;
    s->seq = seq;
    if (escaped)
        l->escaped++;
    l->head = (l->head + 1) % l->cap;
    if (l->n < l->cap)
        l->n++;
    pthread_mutex_unlock(&l->mu);
    return seq;
}

unsigned long long af_ledger_add(struct af_ledger *l, json_t *entry, char *code)
{
    unsigned long long seq = 0;
    struct slot fresh = {0};

    if (l == NULL || l->cap == 0 || entry == NULL)
        goto out;
    /* serialised outside the lock; the seq is added back by queries */
    if (slot_fill(&fresh, entry, code)) {
        bool escaped = json_object_get(entry, AF_LEDGER_ESCAPED) != NULL;
        if (l->rs == NULL) {
            seq = ring_put(l, &fresh, escaped);
        } else {
            if (af_rstore_ledger_add(l->rs, l->cap, fresh.blob, fresh.path, fresh.method,
                                     fresh.client_id, fresh.code, escaped, &seq) != AF_OK)
                seq = 0;
            slot_clear(&fresh);
        }
    }
out:
    json_decref(entry);
    free(code);
    return seq;
}

unsigned long long af_ledger_record(struct af_ledger *l, const struct af_req *req,
                                    const struct af_resp *resp)
{
    struct slot fresh = {0};
    size_t at[KEYS];
    const char **dst[KEYS] = {&fresh.path, &fresh.method, &fresh.client_id, &fresh.code};
    bool escaped;

    if (l == NULL || l->cap == 0)
        return 0;
    /* written outside the lock, straight into the slot's one allocation */
    fresh.blob = entry_blob(req, resp, at, &escaped);
    if (fresh.blob == NULL)
        return 0;
    for (int i = 0; i < KEYS; i++)
        *dst[i] = at[i] != KEY_NONE ? fresh.blob + at[i] : NULL;
    if (l->rs != NULL) {
        unsigned long long seq = 0;
        if (af_rstore_ledger_add(l->rs, l->cap, fresh.blob, fresh.path, fresh.method,
                                 fresh.client_id, fresh.code, escaped, &seq) != AF_OK)
            seq = 0; /* Redis away: the store logged it; the request log keeps the line */
        slot_clear(&fresh);
        return seq;
    }
    return ring_put(l, &fresh, escaped);
}

/* ---- queries ---- */

static bool str_is(const char *v, const char *want)
{
    return want == NULL || (v != NULL && strcmp(v, want) == 0);
}

/* text_entry: an entry's text as a new JSON object, with its seq. */
static json_t *text_entry(const char *text, unsigned long long seq)
{
    json_t *e = json_loads(text, 0, NULL);
    if (e != NULL && json_object_set_new(e, "seq", json_integer((json_int_t)seq)) != 0) {
        json_decref(e);
        e = NULL;
    }
    return e;
}

static json_t *slot_entry(const struct slot *s)
{
    return text_entry(s->blob, s->seq);
}

struct shared_page {
    json_t *arr;
    size_t count;
    af_rc rc;
};

static void shared_one(void *arg, unsigned long long seq, const char *text)
{
    struct shared_page *pg = arg;
    if (pg->rc == AF_OK && json_array_append_new(pg->arr, text_entry(text, seq)) != 0)
        pg->rc = AF_ERR_NOMEM;
    pg->count++;
}

/* shared_query: af_ledger_query of the entries in Redis. */
static af_rc shared_query(struct af_ledger *l, const struct af_ledger_filter *f, size_t limit,
                          json_t **out)
{
    struct af_rstore_ledger_q q = {f->since, f->path, f->method, f->client_id, f->code, limit};
    struct shared_page pg = {json_array(), 0, AF_OK};
    unsigned long long next = 0, dropped = 0, escaped = 0;
    af_rc rc;

    if (pg.arr == NULL)
        return AF_ERR_NOMEM;
    rc = af_rstore_ledger_query(l->rs, &q, shared_one, &pg, &next, &dropped, &escaped);
    if (rc == AF_OK)
        rc = pg.rc;
    if (rc == AF_OK) {
        *out = json_pack("{s:o, s:I, s:I, s:I, s:I}", AF_LEDGER_ENTRIES, pg.arr, AF_LEDGER_COUNT,
                         (json_int_t)pg.count, AF_LEDGER_NEXT, (json_int_t)next, AF_LEDGER_DROPPED,
                         (json_int_t)dropped, AF_LEDGER_ESCAPED, (json_int_t)escaped);
        pg.arr = NULL;
        if (*out == NULL)
            rc = AF_ERR_NOMEM;
    }
    json_decref(pg.arr);
    return rc;
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
    if (l->rs != NULL) {
        json_decref(arr);
        return shared_query(l, f, limit, out);
    }
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

    if (l->rs != NULL)
        return af_rstore_ledger_clear(l->rs, &n) == AF_OK ? n : 0;
    pthread_mutex_lock(&l->mu);
    n = l->n;
    for (size_t i = 0; i < l->cap; i++)
        slot_clear(&l->ring[i]);
    l->n = 0;
    l->head = 0;
    pthread_mutex_unlock(&l->mu);
    return n;
}
