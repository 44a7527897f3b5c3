/*
 * http_req.c - what handlers call to read a request and build a response:
 * header and cookie lookup, the parameters an endpoint reads, the JSON,
 * OAuth error, redirect and HTML answers. server.c turns the struct af_resp
 * into an MHD response; handlers never see MHD.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "authflow/buf.h"
#include "authflow/jsonw.h"
#include "authflow/proto.h"
#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/doc.h"
#include "server/http_req.h"
#include "server/page.h"

/* ---- request accessors ---- */

const char *af_req_header(const struct af_req *req, const char *name)
{
    if (req->conn != NULL)
        return MHD_lookup_connection_value((struct MHD_Connection *)req->conn, MHD_HEADER_KIND,
                                           name);
    for (size_t i = 0; req->hdrs != NULL && i < req->hdrs->n; i++) {
        if (strcasecmp(req->hdrs->v[i].name, name) == 0)
            return req->hdrs->v[i].value;
    }
    return NULL;
}

const char *af_req_cookie(const struct af_req *req, const char *name)
{
    if (req->conn != NULL)
        return MHD_lookup_connection_value((struct MHD_Connection *)req->conn, MHD_COOKIE_KIND,
                                           name);
    return req->cookies != NULL ? af_params_get(req->cookies, name) : NULL;
}

void af_req_set_client_id(struct af_req *req, const char *id)
{
    char *copy;

    if (id == NULL)
        return;
    copy = strdup(id);
    if (copy == NULL)
        return; /* the ledger then falls back to the parameters */
    free(req->facts.client_id);
    req->facts.client_id = copy;
}

const char *af_req_client_named(const struct af_req *req)
{
    const char *id = req->facts.client_id;

    if (id == NULL)
        id = af_params_get(&req->form, AF_P_CLIENT_ID);
    if (id == NULL)
        id = af_params_get(&req->query, AF_P_CLIENT_ID);
    return id;
}

const struct af_params *af_req_params(const struct af_req *req)
{
    return req->method == AF_M_POST ? &req->form : &req->query;
}

/* An If-None-Match that may come as several field lines (RFC 9110 §5.3):
 * MHD_lookup_connection_value would show the first one only. */
struct inm_scan {
    const char *etag;
    bool hit;
};

static enum MHD_Result inm_line(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    struct inm_scan *s = cls;
    (void)kind;
    if (strcasecmp(key, AF_HDR_IF_NONE_MATCH) == 0 && af_etag_list_matches(value, s->etag))
        s->hit = true;
    return s->hit ? MHD_NO : MHD_YES;
}

static bool if_none_match(const struct af_req *req, const char *etag)
{
    struct inm_scan s = {etag, false};
    if (req->conn != NULL)
        MHD_get_connection_values((struct MHD_Connection *)req->conn, MHD_HEADER_KIND, inm_line,
                                  &s);
    return s.hit;
}

/* ---- response builders ---- */

/* body_reset: no body, neither built nor shared. */
static void body_reset(struct af_resp *resp)
{
    af_buf_reset(&resp->body);
    af_doc_release(resp->doc);
    resp->doc = NULL;
}

void af_resp_set_error(struct af_resp *resp, const char *error)
{
    size_t n = error != NULL ? strnlen(error, AF_RESP_ERROR_MAX) : 0;

    memcpy(resp->error, error != NULL ? error : "", n);
    resp->error[n] = '\0';
}

void af_resp_reason(struct af_resp *resp, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(resp->reason, sizeof(resp->reason), fmt, ap);
    va_end(ap);
}

/* reason_set: the builders' reason: s (NULL: none), cut to fit. */
static void reason_set(struct af_resp *resp, const char *s)
{
    size_t n = s != NULL ? strnlen(s, AF_RESP_REASON_MAX) : 0;

    memcpy(resp->reason, s != NULL ? s : "", n);
    resp->reason[n] = '\0';
}

void af_resp_desc_clean(char *out, size_t outlen, const char *s)
{
    size_t i;

    if (outlen == 0)
        return;
    for (i = 0; s[i] != '\0' && i + 1 < outlen; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = c >= 0x20 && c <= 0x7E && c != '"' && c != '\\' ? (char)c : '?';
    }
    out[i] = '\0';
}

void af_resp_fail(struct af_resp *resp)
{
    resp->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    body_reset(resp);
    resp->ctype = NULL;
    resp->error[0] = '\0';
    resp->reason[0] = '\0';
}

void af_resp_header(struct af_resp *resp, const char *name, const char *value)
{
    if (af_params_add(&resp->headers, name, value) != AF_OK)
        af_resp_fail(resp);
}

void af_resp_no_store(struct af_resp *resp)
{
    /* af_resp_html already says no-store: a second copy of the header is
     * noise at best, and a cache may read a repeated field as a list */
    if (af_params_get(&resp->headers, AF_HDR_CACHE_CONTROL) == NULL)
        af_resp_header(resp, AF_HDR_CACHE_CONTROL, "no-store");
    if (af_params_get(&resp->headers, AF_HDR_PRAGMA) == NULL)
        af_resp_header(resp, AF_HDR_PRAGMA, "no-cache");
}

void af_resp_json(struct af_resp *resp, unsigned status, const json_t *obj)
{
    body_reset(resp);
    /* written straight into the body: no text to copy */
    if (af_jsonw_value(&resp->body, obj) != AF_OK) {
        af_resp_fail(resp);
        return;
    }
    resp->status = status;
    resp->ctype = AF_CT_JSON;
    resp->error[0] = '\0';
    resp->reason[0] = '\0';
}

void af_resp_doc(struct af_resp *resp, const struct af_req *req, struct af_doc *doc)
{
    const char *etag = af_doc_etag(doc);

    body_reset(resp);
    resp->error[0] = '\0';
    resp->reason[0] = '\0';
    /* a 304 carries the validator and the caching rule a 200 would
     * (RFC 9110 §15.4.5), and no content */
    if (af_params_add(&resp->headers, AF_HDR_ETAG, etag) != AF_OK ||
        af_params_add(&resp->headers, AF_HDR_CACHE_CONTROL, AF_DOC_CACHE_CONTROL) != AF_OK) {
        af_resp_fail(resp);
        return;
    }
    /* a 304 keeps the doc too: libmicrohttpd sends no body with a 304,
     * and its Content-Length is then the 200's, as RFC 9110 §8.6 asks
     * (an empty body would make it a wrong "Content-Length: 0") */
    resp->doc = af_doc_ref(doc);
    if (if_none_match(req, etag)) {
        resp->status = MHD_HTTP_NOT_MODIFIED;
        resp->ctype = NULL;
        return;
    }
    resp->status = MHD_HTTP_OK;
    resp->ctype = AF_CT_JSON;
}

/* json_error: {"error": error, "error_description": shown (when not NULL)},
 * with error and reason recorded. */
static void json_error(struct af_resp *resp, unsigned status, const char *error, const char *shown,
                       const char *description)
{
    json_t *o = json_pack("{s:s}", AF_P_ERROR, error);

    if (o != NULL && shown != NULL)
        json_object_set_new(o, AF_P_ERROR_DESCRIPTION, json_string(shown));
    if (o == NULL) {
        af_resp_fail(resp);
        return;
    }
    af_resp_json(resp, status, o);
    if (resp->ctype != NULL) { /* not af_resp_fail's 500 */
        af_resp_set_error(resp, error);
        reason_set(resp, description);
    }
    json_decref(o);
}

void af_resp_oauth_error(struct af_resp *resp, unsigned status, const char *error,
                         const char *description)
{
    char desc[AF_RESP_REASON_MAX + 1];

    if (description != NULL)
        af_resp_desc_clean(desc, sizeof(desc), description);
    json_error(resp, status, error, description != NULL ? desc : NULL, description);
}

void af_resp_store_down(struct af_resp *resp)
{
    af_resp_oauth_error(resp, 503, AF_E_TEMP_UNAVAILABLE, AF_STORE_DOWN_MSG);
}

void af_resp_json_error(struct af_resp *resp, unsigned status, const char *error,
                        const char *description)
{
    json_error(resp, status, error, description, description);
}

/* location_error: the error parameter of a redirect's location into
 * resp->error: the first in the query, else the first in the fragment. */
static void location_error(struct af_resp *resp, const char *location)
{
    const char *q = strpbrk(location, "?#"), *v = NULL;
    struct af_params p;

    resp->error[0] = '\0';
    if (q == NULL)
        return;
    af_params_init(&p, 64);
    if (af_params_parse(&p, q + 1, strcspn(q + 1, "#"), NULL) == AF_OK) {
        v = af_params_get(&p, AF_P_ERROR);
        af_resp_set_error(resp, v);
    }
    af_params_free(&p);
    q = strchr(q + 1, '#');
    if (v == NULL && q != NULL) {
        af_params_init(&p, 64);
        if (af_params_parse(&p, q + 1, strlen(q + 1), NULL) == AF_OK)
            af_resp_set_error(resp, af_params_get(&p, AF_P_ERROR));
        af_params_free(&p);
    }
}

void af_resp_redirect(struct af_resp *resp, unsigned status, const char *location)
{
    resp->status = status ? status : MHD_HTTP_FOUND;
    body_reset(resp);
    resp->ctype = NULL;
    resp->reason[0] = '\0';
    location_error(resp, location);
    af_resp_header(resp, AF_HDR_LOCATION, location);
}

af_rc af_html_escape(struct af_buf *out, const char *s)
{
    af_rc rc = AF_OK;
    for (; s && *s && rc == AF_OK; s++) {
        switch (*s) {
        case '&':
            rc = af_buf_adds(out, "&amp;");
            break;
        case '<':
            rc = af_buf_adds(out, "&lt;");
            break;
        case '>':
            rc = af_buf_adds(out, "&gt;");
            break;
        case '"':
            rc = af_buf_adds(out, "&quot;");
            break;
        case '\'':
            rc = af_buf_adds(out, "&#39;");
            break;
        default:
            rc = af_buf_addc(out, *s);
        }
    }
    return rc;
}

af_rc af_html_wrap(struct af_buf *out, const char *before, const char *s, const char *after)
{
    af_rc rc = af_buf_adds(out, before);

    if (rc == AF_OK)
        rc = af_html_escape(out, s);
    if (rc == AF_OK)
        rc = af_buf_adds(out, after);
    return rc;
}

/* html_answer: the page html with the headers every page carries and the
 * content security policy csp. */
static void html_answer(struct af_resp *resp, unsigned status, const char *html, const char *csp)
{
    body_reset(resp);
    if (af_buf_adds(&resp->body, html) != AF_OK) {
        af_resp_fail(resp);
        return;
    }
    resp->status = status;
    resp->ctype = AF_CT_HTML;
    resp->error[0] = '\0';
    resp->reason[0] = '\0';
    /* RFC 9700 §4.16: pages of the AS must not be framed; the CSP says it
     * too (frame-ancestors), and admits no script but the form_post one */
    af_resp_header(resp, AF_HDR_X_FRAME_OPTIONS, "DENY");
    af_resp_header(resp, AF_HDR_CSP, csp);
    af_resp_header(resp, AF_HDR_CACHE_CONTROL, "no-store");
}

void af_resp_html(struct af_resp *resp, unsigned status, const char *html)
{
    html_answer(resp, status, html, af_page_csp(false));
}

void af_resp_html_autosubmit(struct af_resp *resp, unsigned status, const char *html)
{
    html_answer(resp, status, html, af_page_csp(true));
}

void af_resp_html_csp(struct af_resp *resp, unsigned status, const char *html, const char *csp)
{
    html_answer(resp, status, html, csp);
}

/* The largest error page: a received value longer than fits is left to the
 * reason, which cuts it. */
#define ERROR_PAGE_MAX (64 * 1024)

/* detail_add: detail's rows as a description list, then its hint. */
static af_rc detail_add(struct af_buf *b, const struct af_page_detail *d)
{
    af_rc rc = AF_OK;
    size_t i, j;

    for (i = 0; i < AF_PAGE_ROWS_MAX && d->rows[i].label != NULL && rc == AF_OK; i++) {
        rc = af_html_wrap(b, i == 0 ? "<dl>\n<dt>" : "<dt>", d->rows[i].label, "</dt><dd>");
        if (rc == AF_OK && d->rows[i].value != NULL)
            rc = af_html_wrap(b, "<code>", d->rows[i].value, "</code>");
        else if (rc == AF_OK && d->rows[i].nlist == 0)
            rc = af_buf_adds(b, "none");
        else if (rc == AF_OK)
            rc = af_buf_adds(b, "<ul>");
        for (j = 0; d->rows[i].value == NULL && j < d->rows[i].nlist && rc == AF_OK; j++)
            rc = af_html_wrap(b, "<li><code>", d->rows[i].list[j], "</code></li>");
        if (rc == AF_OK && d->rows[i].value == NULL && d->rows[i].nlist > 0)
            rc = af_buf_adds(b, "</ul>");
        if (rc == AF_OK)
            rc = af_buf_adds(b, "</dd>\n");
    }
    if (rc == AF_OK && i > 0)
        rc = af_buf_adds(b, "</dl>\n");
    if (rc == AF_OK && d->hint != NULL)
        rc = af_html_wrap(b, "<p>", d->hint, "</p>\n");
    return rc;
}

/* error_page_build: the error page into b. */
static af_rc error_page_build(struct af_buf *b, unsigned status, const char *error,
                              const char *description, const struct af_page_detail *detail)
{
    char title[AF_RESP_ERROR_MAX + 16];
    af_rc rc;

    snprintf(title, sizeof(title), "Error: %s", error);
    rc = af_page_open(b, title);
    if (rc == AF_OK)
        rc = af_buf_adds(b,
                         status >= 500 ? "<h1>Server error</h1>\n" : "<h1>Request refused</h1>\n");
    if (rc == AF_OK && description != NULL && *description != '\0')
        rc = af_html_wrap(b, "<p class=\"err\">", description, "</p>\n");
    if (rc == AF_OK && detail != NULL)
        rc = detail_add(b, detail);
    if (rc == AF_OK)
        rc = af_html_wrap(b, "<p class=\"note\">Error <code>", error, "</code>");
    if (rc == AF_OK)
        rc = af_buf_addf(b,
                         ", HTTP %u. authflowd shows this page instead of redirecting to the "
                         "application; its log line and its ledger entry give the same "
                         "reason.</p>\n",
                         status);
    if (rc == AF_OK)
        rc = af_page_close(b);
    return rc;
}

void af_resp_error_page_detail(struct af_resp *resp, unsigned status, const char *error,
                               const char *description, const struct af_page_detail *detail)
{
    struct af_buf b;
    af_rc rc;

    af_buf_init(&b, ERROR_PAGE_MAX);
    rc = error_page_build(&b, status, error, description, detail);
    if (rc != AF_OK && detail != NULL) {
        /* values too long to show in full: the reason alone (cut) */
        af_buf_reset(&b);
        rc = error_page_build(&b, status, error, description, NULL);
    }
    if (rc == AF_OK) {
        af_resp_html(resp, status, af_buf_str(&b));
        if (resp->ctype != NULL) /* not af_resp_fail's 500 */
            reason_set(resp, description);
    } else {
        af_resp_fail(resp);
    }
    af_buf_free(&b);
}

void af_resp_error_page(struct af_resp *resp, unsigned status, const char *error,
                        const char *description)
{
    af_resp_error_page_detail(resp, status, error, description, NULL);
}
