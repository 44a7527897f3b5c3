/*
 * http.c - the probe's HTTP client over libcurl's easy interface.
 *
 * One easy handle serves the whole run, so connections to the target are
 * kept alive between checks. Redirects are never followed by curl: every
 * hop is a request the runner makes and records. Each flow (a check's
 * "browser") has its own cookie jar; switching flows swaps the in-memory
 * cookie list of the handle. A back-channel request (no_cookies) puts the
 * jar aside for its duration, on the same handle so that the connection
 * stays alive.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "authflow/proto.h"
#include "probe/probe_int.h"

struct af_jar {
    char *name;
    struct curl_slist *lines; /* Netscape cookie lines saved while not current */
};

struct af_http {
    CURL *curl;
    struct af_http_opts o;
    char errbuf[CURL_ERROR_SIZE];
    struct af_jar *jars;
    size_t njars;
    char *flow; /* the current flow's name */
    bool trace;
    struct af_hop *cur; /* the hop being filled by the callbacks */
};

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif

static bool curl_ready;

void af_hop_init(struct af_hop *hop)
{
    memset(hop, 0, sizeof(*hop));
    af_params_init(&hop->req_headers, AF_PROBE_MAX_HEADERS);
    af_params_init(&hop->headers, AF_PROBE_MAX_HEADERS);
    af_params_init(&hop->loc_query, AF_PROBE_MAX_PARAMS);
    af_params_init(&hop->loc_frag, AF_PROBE_MAX_PARAMS);
    af_params_init(&hop->params, 2 * AF_PROBE_MAX_PARAMS);
    af_buf_init(&hop->req_body, 0);
    af_buf_init(&hop->req_dump, 64 * 1024);
    af_buf_init(&hop->body, 0);
}

void af_hop_clear(struct af_hop *hop)
{
    if (hop == NULL)
        return;
    free(hop->method);
    free(hop->url);
    af_params_free(&hop->req_headers);
    af_buf_free(&hop->req_body);
    af_buf_free(&hop->req_dump);
    af_params_free(&hop->headers);
    af_buf_free(&hop->body);
    free(hop->transport_error);
    json_decref(hop->json);
    free(hop->location);
    free(hop->loc_err);
    af_params_free(&hop->loc_query);
    af_params_free(&hop->loc_frag);
    af_html_forms_free(hop->forms, hop->nforms);
    af_params_free(&hop->params);
    af_hop_init(hop);
}

/* ---- callbacks ---- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct af_hop *hop = ud;
    size_t n = size * nmemb;
    if (af_buf_add(&hop->body, data, n) != AF_OK) {
        hop->body_toobig = true;
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct af_hop *hop = ud;
    size_t n = size * nmemb, len = n, nl;
    char *name = NULL, *value = NULL;
    const char *colon;

    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        len--;
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* A new status line (after 100 Continue): start over. */
        af_params_free(&hop->headers);
        return n;
    }
    colon = memchr(data, ':', len);
    if (colon == NULL || colon == data)
        return n;
    nl = (size_t)(colon - data);
    name = strndup(data, nl);
    colon++;
    while (colon < data + len && (*colon == ' ' || *colon == '\t'))
        colon++;
    {
        size_t vl = (size_t)(data + len - colon);
        while (vl > 0 && (colon[vl - 1] == ' ' || colon[vl - 1] == '\t'))
            vl--;
        value = strndup(colon, vl);
    }
    if (name && value && af_params_add(&hop->headers, name, value) != AF_OK) {
        /* Beyond the header cap the rest is dropped; the trace shows the
         * ones kept. */
    }
    free(name);
    free(value);
    return n;
}

static int on_debug(CURL *c, curl_infotype type, char *data, size_t size, void *ud)
{
    struct af_http *h = ud;
    (void)c;
    if (type == CURLINFO_HEADER_OUT && h->cur != NULL) {
        af_buf_reset(&h->cur->req_dump);
        if (af_buf_add(&h->cur->req_dump, data, size) != AF_OK) {
            /* an over-long header block is simply not traced */
        }
    }
    return 0;
}

/* ---- lifecycle ---- */

af_rc af_http_new(const struct af_http_opts *o, struct af_http **out, struct af_err *err)
{
    af_rc rc;
    struct af_http *h = NULL;

    *out = NULL;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            rc = AF_ERR_SET(err, AF_ERR_NET, "libcurl failed to initialise");
            goto out;
        }
        curl_ready = true;
    }
    h = calloc(1, sizeof(*h));
    if (h == NULL) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    h->o = *o;
    h->o.cacert = NULL;
    h->curl = curl_easy_init();
    h->flow = strdup("main");
    if (h->curl == NULL || h->flow == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "cannot create a curl handle");
        goto out;
    }
    curl_easy_setopt(h->curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h->curl, CURLOPT_COOKIEFILE, ""); /* in-memory jar */
    curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS, o->timeout_ms);
    curl_easy_setopt(h->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_body);
    curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h->curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h->curl, CURLOPT_USERAGENT, "authprobe/" PACKAGE_VERSION);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    /* No content decoding: the probe checks what the server sends. */
    curl_easy_setopt(h->curl, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYPEER, o->insecure ? 0L : 1L);
    curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYHOST, o->insecure ? 0L : 2L);
    if (o->cacert != NULL && curl_easy_setopt(h->curl, CURLOPT_CAINFO, o->cacert) != CURLE_OK) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "cannot use CA file %s", o->cacert);
        goto out;
    }
    *out = h;
    h = NULL;
    rc = AF_OK;
out:
    af_http_free(h);
    return rc;
}

void af_http_free(struct af_http *h)
{
    size_t i;
    if (h == NULL)
        return;
    if (h->curl)
        curl_easy_cleanup(h->curl);
    for (i = 0; i < h->njars; i++) {
        free(h->jars[i].name);
        curl_slist_free_all(h->jars[i].lines);
    }
    free(h->jars);
    free(h->flow);
    free(h);
}

void af_http_set_trace(struct af_http *h, bool on)
{
    h->trace = on;
    curl_easy_setopt(h->curl, CURLOPT_DEBUGFUNCTION, on ? on_debug : NULL);
    curl_easy_setopt(h->curl, CURLOPT_DEBUGDATA, on ? (void *)h : NULL);
    curl_easy_setopt(h->curl, CURLOPT_VERBOSE, on ? 1L : 0L);
}

/* ---- cookie jars ---- */

void af_http_reset_flows(struct af_http *h)
{
    size_t i;
    curl_easy_setopt(h->curl, CURLOPT_COOKIELIST, "ALL");
    for (i = 0; i < h->njars; i++) {
        free(h->jars[i].name);
        curl_slist_free_all(h->jars[i].lines);
    }
    h->njars = 0;
    if (strcmp(h->flow, "main") != 0) {
        char *m = strdup("main");
        if (m != NULL) {
            free(h->flow);
            h->flow = m;
        }
    }
}

/* jar_load: make lines (Netscape cookie lines, borrowed) the handle's whole
 * in-memory jar. */
static void jar_load(struct af_http *h, const struct curl_slist *lines)
{
    const struct curl_slist *l;
    curl_easy_setopt(h->curl, CURLOPT_COOKIELIST, "ALL");
    for (l = lines; l != NULL; l = l->next)
        curl_easy_setopt(h->curl, CURLOPT_COOKIELIST, l->data);
}

static struct af_jar *jar_find(struct af_http *h, const char *name)
{
    size_t i;
    for (i = 0; i < h->njars; i++)
        if (strcmp(h->jars[i].name, name) == 0)
            return &h->jars[i];
    return NULL;
}

af_rc af_http_use_flow(struct af_http *h, const char *name)
{
    af_rc rc;
    struct af_jar *cur, *next;
    struct curl_slist *lines = NULL;
    char *nm = NULL;

    if (strcmp(name, h->flow) == 0)
        return AF_OK;
    /* Save the current jar under the current flow's name. */
    cur = jar_find(h, h->flow);
    if (cur == NULL) {
        struct af_jar *nj = realloc(h->jars, (h->njars + 1) * sizeof(*nj));
        if (nj == NULL) {
            rc = AF_ERR_NOMEM;
            goto out;
        }
        h->jars = nj;
        cur = &h->jars[h->njars];
        cur->name = strdup(h->flow);
        cur->lines = NULL;
        if (cur->name == NULL) {
            rc = AF_ERR_NOMEM;
            goto out;
        }
        h->njars++;
    }
    if (curl_easy_getinfo(h->curl, CURLINFO_COOKIELIST, &lines) != CURLE_OK)
        lines = NULL;
    curl_slist_free_all(cur->lines);
    cur->lines = lines;
    next = jar_find(h, name);
    jar_load(h, next != NULL ? next->lines : NULL);
    nm = strdup(name);
    if (nm == NULL) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    free(h->flow);
    h->flow = nm;
    rc = AF_OK;
out:
    return rc;
}

char *af_http_cookie(struct af_http *h, const char *name)
{
    struct curl_slist *lines = NULL, *l;
    char *val = NULL;

    if (curl_easy_getinfo(h->curl, CURLINFO_COOKIELIST, &lines) != CURLE_OK)
        return NULL;
    /* Netscape format: domain, tailmatch, path, secure, expires, name, value. */
    for (l = lines; l != NULL; l = l->next) {
        const char *p = l->data, *f[7];
        int i;
        for (i = 0; i < 7 && p != NULL; i++) {
            f[i] = p;
            p = strchr(p, '\t');
            if (p != NULL)
                p++;
        }
        if (i < 7)
            continue;
        if (strncmp(f[5], name, strlen(name)) == 0 && f[5][strlen(name)] == '\t') {
            free(val);
            val = strdup(f[6]);
        }
    }
    curl_slist_free_all(lines);
    return val;
}

/* ---- sending ---- */

static bool unreachable_code(CURLcode c)
{
    return c == CURLE_COULDNT_RESOLVE_HOST || c == CURLE_COULDNT_CONNECT ||
           c == CURLE_COULDNT_RESOLVE_PROXY || c == CURLE_SSL_CONNECT_ERROR ||
           c == CURLE_PEER_FAILED_VERIFICATION || c == CURLE_SSL_CACERT_BADFILE ||
           c == CURLE_UNSUPPORTED_PROTOCOL || c == CURLE_URL_MALFORMAT;
}

/* req_setup: fill hop's request side and set c's options for req (URL,
 * headers, method, body, where the answer goes); *hdrs is the header list
 * c uses (caller frees it after the transfer). */
static af_rc req_setup(CURL *c, const struct af_http_req *req, size_t max_body, struct af_hop *hop,
                       struct curl_slist **hdrs)
{
    struct af_buf line;
    bool has_expect = false;
    size_t i;
    af_rc rc = AF_OK;

    *hdrs = NULL;
    af_buf_init(&line, 64 * 1024);
    af_hop_clear(hop);
    af_buf_init(&hop->body, max_body);
    af_buf_init(&hop->req_body, 64 * 1024 * 1024);
    hop->method = strdup(req->method);
    hop->url = strdup(req->url);
    if (hop->method == NULL || hop->url == NULL) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < req->headers.n; i++) {
        const struct af_param *p = &req->headers.v[i];
        struct curl_slist *n2;
        af_buf_reset(&line);
        if (strcasecmp(p->name, AF_HDR_EXPECT) == 0)
            has_expect = true;
        /* curl removes a header given as "Name:"; "Name;" sends it empty. */
        rc = af_buf_addf(&line, "%s%s%s", p->name, p->value[0] ? ": " : ";", p->value);
        if (rc != AF_OK)
            goto out;
        n2 = curl_slist_append(*hdrs, af_buf_str(&line));
        if (n2 == NULL) {
            rc = AF_ERR_NOMEM;
            goto out;
        }
        *hdrs = n2;
        rc = af_params_add(&hop->req_headers, p->name, p->value);
        if (rc != AF_OK)
            goto out;
    }
    if (!has_expect) {
        /* No 100-continue round trip: it only slows the loopback down. */
        struct curl_slist *n2 = curl_slist_append(*hdrs, AF_HDR_EXPECT ":");
        if (n2 == NULL) {
            rc = AF_ERR_NOMEM;
            goto out;
        }
        *hdrs = n2;
    }
    if (req->body != NULL) {
        rc = af_buf_add(&hop->req_body, req->body, req->body_len);
        if (rc != AF_OK)
            goto out;
    }
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, hop);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, hop);
    /* Reset the method-related options left by the previous request. */
    curl_easy_setopt(c, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, NULL);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (req->body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, req->body);
        if (strcmp(req->method, "POST") != 0)
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    } else if (strcmp(req->method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    }
out:
    af_buf_free(&line);
    return rc;
}

/* hop_finish: the answer's status, or why there was none. */
static void hop_finish(CURL *c, CURLcode cc, const char *errbuf, size_t max_body,
                       struct af_hop *hop)
{
    if (cc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &hop->status);
    } else {
        const char *why = errbuf[0] ? errbuf : curl_easy_strerror(cc);
        if (hop->body_toobig || cc == CURLE_FILESIZE_EXCEEDED) {
            hop->body_toobig = true;
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &hop->status);
            hop->transport_error = NULL;
            if (asprintf(&hop->transport_error, "the response body exceeds %zu bytes", max_body) <
                0)
                hop->transport_error = NULL;
        } else {
            long sent = 0;
            hop->status = 0;
            hop->unreachable = unreachable_code(cc);
            hop->no_http_answer =
                cc == CURLE_GOT_NOTHING || cc == CURLE_RECV_ERROR || cc == CURLE_WEIRD_SERVER_REPLY;
            hop->bad_url = cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL;
            /* libcurl sends on a kept-alive connection and, when that one
             * dies before any answer, retries once on a new one: a server
             * that went away on receiving the request (a crash) then shows
             * as a refused connect. The request did reach it (bytes were
             * sent): no answer to it, not an unreachable target. */
            if (cc == CURLE_COULDNT_CONNECT &&
                curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &sent) == CURLE_OK && sent > 0) {
                hop->unreachable = false;
                hop->no_http_answer = true;
                if (asprintf(&hop->transport_error,
                             "no answer: the connection closed after the request was sent, and "
                             "the server then refused a new one (%s)",
                             why) < 0)
                    hop->transport_error = NULL;
                return;
            }
            hop->transport_error = strdup(why);
        }
    }
}

af_rc af_http_send(struct af_http *h, const struct af_http_req *req, struct af_hop *hop)
{
    af_rc rc;
    struct curl_slist *hdrs = NULL, *jar = NULL;
    CURLcode cc;
    uint64_t t0;
    bool jar_aside = false;

    rc = req_setup(h->curl, req, h->o.max_body, hop, &hdrs);
    if (rc != AF_OK)
        goto out;
    if (req->no_cookies) {
        /* A back channel: the flow's cookies are neither sent nor do the
         * ones the answer sets reach the flow's jar. */
        if (curl_easy_getinfo(h->curl, CURLINFO_COOKIELIST, &jar) != CURLE_OK) {
            rc = AF_ERR_NOMEM;
            goto out;
        }
        jar_load(h, NULL);
        jar_aside = true;
    }
    h->errbuf[0] = '\0';
    h->cur = hop;
    t0 = af_monotonic_ms();
    cc = curl_easy_perform(h->curl);
    hop->ms = af_monotonic_ms() - t0;
    h->cur = NULL;
    curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
    if (jar_aside)
        jar_load(h, jar);
    hop_finish(h->curl, cc, h->errbuf, h->o.max_body, hop);
    rc = AF_OK;
out:
    curl_slist_free_all(hdrs);
    curl_slist_free_all(jar);
    return rc;
}

af_rc af_http_send_many(struct af_http *h, const struct af_http_req *reqs, struct af_hop *hops,
                        size_t n)
{
    CURLM *m = curl_multi_init();
    struct many {
        CURL *c;
        struct curl_slist *hdrs;
        char errbuf[CURL_ERROR_SIZE];
    } *v = calloc(n ? n : 1, sizeof(*v));
    CURLMsg *msg;
    int running = 0, left;
    uint64_t t0;
    size_t i;
    af_rc rc = AF_OK;

    if (m == NULL || v == NULL || n > AF_HTTP_MAX_MANY) {
        rc = m == NULL || v == NULL ? AF_ERR_NOMEM : AF_ERR_TOOBIG;
        goto out;
    }
    for (i = 0; i < n; i++) {
        /* a copy of the handle's settings (timeouts, TLS, caps), with an
         * empty cookie jar and no trace: a back channel of its own */
        v[i].c = curl_easy_duphandle(h->curl);
        if (v[i].c == NULL) {
            rc = AF_ERR_NOMEM;
            goto out;
        }
        curl_easy_setopt(v[i].c, CURLOPT_COOKIELIST, "ALL");
        curl_easy_setopt(v[i].c, CURLOPT_DEBUGFUNCTION, NULL);
        curl_easy_setopt(v[i].c, CURLOPT_VERBOSE, 0L);
        curl_easy_setopt(v[i].c, CURLOPT_ERRORBUFFER, v[i].errbuf);
        rc = req_setup(v[i].c, &reqs[i], h->o.max_body, &hops[i], &v[i].hdrs);
        if (rc != AF_OK)
            goto out;
        if (curl_multi_add_handle(m, v[i].c) != CURLM_OK) {
            rc = AF_ERR_NOMEM;
            goto out;
        }
    }
    t0 = af_monotonic_ms();
    do {
        if (curl_multi_perform(m, &running) != CURLM_OK)
            break;
        if (running > 0 && curl_multi_poll(m, NULL, 0, 1000, NULL) != CURLM_OK)
            break;
    } while (running > 0);
    while ((msg = curl_multi_info_read(m, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        for (i = 0; i < n; i++) {
            if (v[i].c != msg->easy_handle)
                continue;
            hops[i].ms = af_monotonic_ms() - t0;
            hop_finish(v[i].c, msg->data.result, v[i].errbuf, h->o.max_body, &hops[i]);
        }
    }
    for (i = 0; i < n; i++)
        if (hops[i].status == 0 && hops[i].transport_error == NULL)
            hops[i].transport_error = strdup("the transfer did not finish");
out:
    for (i = 0; v != NULL && i < n; i++) {
        if (v[i].c != NULL) {
            curl_multi_remove_handle(m, v[i].c);
            curl_easy_cleanup(v[i].c);
        }
        curl_slist_free_all(v[i].hdrs);
    }
    free(v);
    if (m != NULL)
        curl_multi_cleanup(m);
    return rc;
}

/* ---- derived views ---- */

const char *af_hop_header(const struct af_hop *hop, const char *name)
{
    size_t i;
    for (i = 0; i < hop->headers.n; i++)
        if (strcasecmp(hop->headers.v[i].name, name) == 0)
            return hop->headers.v[i].value;
    return NULL;
}

char *af_hop_header_joined(const struct af_hop *hop, const char *name)
{
    struct af_buf b;
    size_t i;
    bool any = false;
    const char *sep = strcasecmp(name, AF_HDR_SET_COOKIE) == 0 ? "\n" : ", ";

    af_buf_init(&b, 1024 * 1024);
    for (i = 0; i < hop->headers.n; i++) {
        if (strcasecmp(hop->headers.v[i].name, name) != 0)
            continue;
        if ((any && af_buf_adds(&b, sep) != AF_OK) ||
            af_buf_adds(&b, hop->headers.v[i].value) != AF_OK) {
            af_buf_free(&b);
            return NULL;
        }
        any = true;
    }
    if (!any)
        return NULL;
    return af_buf_detach(&b);
}

const json_t *af_hop_json(struct af_hop *hop)
{
    if (!hop->json_done) {
        hop->json_done = true;
        if (hop->body.len > 0)
            hop->json = json_loadb(hop->body.p, hop->body.len, JSON_DECODE_ANY, NULL);
    }
    return hop->json;
}

void af_url_split(const char *url, const char **q, size_t *qlen, const char **f, size_t *flen)
{
    const char *hash = strchr(url, '#');
    const char *qm = strchr(url, '?');
    *q = NULL;
    *qlen = 0;
    *f = NULL;
    *flen = 0;
    if (qm != NULL && (hash == NULL || qm < hash)) {
        *q = qm + 1;
        *qlen = hash ? (size_t)(hash - qm - 1) : strlen(qm + 1);
    }
    if (hash != NULL) {
        *f = hash + 1;
        *flen = strlen(hash + 1);
    }
}

size_t af_url_base_len(const char *url)
{
    return strcspn(url, "?#");
}

static bool has_scheme(const char *ref)
{
    const char *p = ref;
    if (!isalpha((unsigned char)*p))
        return false;
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    return *p == ':';
}

af_rc af_url_resolve(const char *base, const char *ref, char **out)
{
    af_rc rc;
    CURLU *u = NULL;
    char *s = NULL;

    *out = NULL;
    if (has_scheme(ref) || base == NULL) {
        *out = strdup(ref);
        return *out ? AF_OK : AF_ERR_NOMEM;
    }
    u = curl_url();
    if (u == NULL) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    if (curl_url_set(u, CURLUPART_URL, base, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_URL, ref, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_URL, &s, 0) != CURLUE_OK) {
        rc = AF_ERR_PARSE;
        goto out;
    }
    *out = strdup(s);
    rc = *out ? AF_OK : AF_ERR_NOMEM;
out:
    curl_free(s);
    curl_url_cleanup(u);
    return rc;
}

const char *af_hop_location(struct af_hop *hop)
{
    const char *raw, *q, *f;
    size_t ql, fl;
    struct af_err e;

    if (hop->loc_done)
        return hop->location;
    hop->loc_done = true;
    raw = af_hop_header(hop, AF_HDR_LOCATION);
    if (raw == NULL)
        return NULL;
    if (af_url_resolve(hop->url, raw, &hop->location) != AF_OK) {
        hop->location = strdup(raw);
        if (hop->location == NULL)
            return NULL;
    }
    af_url_split(hop->location, &q, &ql, &f, &fl);
    af_err_clear(&e);
    hop->loc_ok = true;
    if (q != NULL && af_params_parse(&hop->loc_query, q, ql, &e) != AF_OK)
        hop->loc_ok = false;
    if (hop->loc_ok && f != NULL && af_params_parse(&hop->loc_frag, f, fl, &e) != AF_OK)
        hop->loc_ok = false;
    if (!hop->loc_ok)
        hop->loc_err = strdup(e.msg[0] ? e.msg : "malformed parameters");
    return hop->location;
}

const struct af_form *af_hop_forms(struct af_hop *hop, size_t *n)
{
    if (!hop->forms_done) {
        hop->forms_done = true;
        if (hop->body.len > 0 &&
            af_html_forms(hop->body.p, hop->body.len, &hop->forms, &hop->nforms) != AF_OK) {
            hop->forms = NULL;
            hop->nforms = 0;
        }
    }
    *n = hop->nforms;
    return hop->forms;
}

bool af_hop_is_html(const struct af_hop *hop)
{
    const char *ct;
    if (hop->status < 200 || hop->status > 299)
        return false;
    ct = af_hop_header(hop, AF_HDR_CONTENT_TYPE);
    if (ct != NULL)
        return strcasestr(ct, "html") != NULL;
    return hop->body.len > 0 && strcasestr(af_buf_str(&hop->body), "<form") != NULL;
}
