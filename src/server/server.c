/*
 * server.c - libmicrohttpd glue: binding, the route tables, per-request
 * state, strict request parsing, and turning a struct af_resp into an MHD
 * response. Handlers (h_*.c) never see MHD: they read a struct af_req and
 * fill a struct af_resp through http_req.c.
 *
 * Two listeners share this glue: the provider's daemon and, when enabled,
 * the admin API's daemon. Each is a struct af_listener (the server, its own
 * route table, its body cap), passed to every MHD callback as cls, so an
 * admin route can never be reached on the provider's port or the reverse.
 * The admin API's gate (af_admin_authorized, h_admin.c) runs before any
 * admin route.
 *
 * Per-request state is allocated in the URI log callback (the only place MHD
 * shows the raw, undecoded request target, which strict parsing needs) and
 * freed in the completion callback.
 *
 * Every request of the provider's port goes into the ledger once its
 * handler ran, or once the guard cut it (facts.cut). A scenario delay
 * (token_delay, jwks_slow) holds the answer back without holding a worker
 * thread: the connection is suspended and the timer thread of delay.c
 * resumes it when the delay is over, so a delayed request never slows the
 * others down, whatever the pool size.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "authflow/buf.h"
#include "authflow/cfg.h"
#include "authflow/jose.h"
#include "authflow/log.h"
#include "authflow/proto.h"
#include "authflow/rc.h"
#include "authflow/server.h"
#include "authflow/util.h"
#include "authflow/x509.h"
#include "server/admin.h"
#include "server/core.h"
#include "server/delay.h"
#include "server/doc.h"
#include "server/front_channel.h"
#include "server/guard.h"
#include "server/http_req.h"
#include "server/keyring.h"
#include "server/keyshare.h"
#include "server/ledger.h"
#include "server/registry.h"
#include "server/reqlog.h"
#include "server/persona.h"
#include "server/routes.h"
#include "server/scenario.h"
#include "server/store.h"
#include "server/store_redis.h"
#include "server/tls.h"

/* libmicrohttpd's per-connection pool holds the request line, the headers
 * and one record per query parameter, and it is cleared between the
 * requests of a keep-alive connection, so its size costs time on every
 * request (a 256 KiB pool was 6% of the /token profile). It is sized for
 * the configured parameter cap (neutralise_query keeps MHD from splitting
 * a longer query) plus room for the request line and headers: 24 KiB, as
 * much as nginx's default large_client_header_buffers less one 8 KiB buffer
 * (libmicrohttpd zeroes the pool between requests: 48 KiB were 86k
 * instructions of a 690k /token request); larger headers get a 431. */
#define SERVER_CONN_MEMORY_BASE  (24 * 1024)
#define SERVER_CONN_MEMORY_PARAM 128
#define SERVER_CONN_TIMEOUT_S    30
#define SERVER_MAX_CONNECTIONS   1024
/* The whole-request deadline when the config has none (a server built by
 * hand in a unit test). */
#define SERVER_REQUEST_TIMEOUT_S 30
/* How long a stop waits for in-flight requests, and how long a quiet
 * moment must be (no request started or finished) before an open
 * keep-alive connection no longer holds the stop up. */
#define SERVER_DRAIN_MS 5000
/* After an early answer (413 in the middle of a chunked body), how much
 * more of the body is read and dropped before the connection closes. */
#define SERVER_LINGER_BYTES   (256 * 1024)
#define SERVER_DRAIN_QUIET_MS 200
/* The admin API serves a test harness, not traffic: one thread and a few
 * connections are plenty. */
#define ADMIN_MAX_CONNECTIONS 64

enum { M_GET = 1, M_POST = 2, M_DELETE = 4 };

struct route {
    const char *path; /* NULL: the fallback */
    unsigned methods;
    af_handler handler;
};

static void h_not_found(struct af_req *req, struct af_resp *resp);

/* The route table: exact paths; the NULL row answers everything else. */
static const struct route main_routes[] = {
    {AF_PATH_OIDC_DISCOVERY, M_GET, af_h_discovery},
    {AF_PATH_AS_METADATA, M_GET, af_h_discovery},
    {AF_EP_JWKS, M_GET, af_h_jwks},
    {AF_EP_HEALTHZ, M_GET, af_h_healthz},
    {AF_EP_AUTHORIZE, M_GET | M_POST, af_h_authorize},
    {AF_EP_LOGIN, M_POST, af_h_login},
    {AF_EP_TOKEN, M_POST, af_h_token},
    {AF_EP_USERINFO, M_GET | M_POST, af_h_userinfo},
    {AF_EP_INTROSPECT, M_POST, af_h_introspect},
    {AF_EP_REVOKE, M_POST, af_h_revoke},
    {AF_EP_LOGOUT, M_GET | M_POST, af_h_logout},
    {NULL, M_GET | M_POST, h_not_found},
};

/* The admin API's route table (docs/admin.md). */
static const struct route admin_routes[] = {
    {AF_ADMIN_HEALTHZ, M_GET, af_h_admin_healthz},
    {AF_ADMIN_TOKENS, M_POST, af_h_admin_tokens},
    {AF_ADMIN_SCENARIOS, M_GET | M_POST | M_DELETE, af_h_admin_scenarios},
    {AF_ADMIN_LEDGER, M_GET | M_DELETE, af_h_admin_ledger},
    {AF_ADMIN_CLIENTS, M_GET | M_POST | M_DELETE, af_h_admin_clients},
    {AF_ADMIN_USERS, M_GET | M_POST | M_DELETE, af_h_admin_users},
    {AF_ADMIN_KEYS, M_GET | M_POST | M_DELETE, af_h_admin_keys},
    {AF_ADMIN_KEYS_SIGNING, M_POST, af_h_admin_keys_signing},
    {AF_ADMIN_FINDINGS, M_GET, af_h_admin_findings},
    {AF_ADMIN_INSPECTOR, M_GET, af_h_admin_inspector},
    {NULL, M_GET | M_POST | M_DELETE, h_not_found},
};

struct af_listener {
    struct af_server *srv;
    const struct route *routes; /* ends with the NULL-path fallback */
    bool is_admin;              /* JSON only, admin secret, no form parsing */
    size_t max_body;
    struct af_guard *guard; /* owned: deadlines and room for new clients */
};

struct req_state {
    const struct af_listener *l;
    struct af_guard_conn *gc; /* the connection's, borrowed; NULL without one */
    struct af_req req;
    bool started;
    bool responded;       /* an early response was queued (e.g. 413) */
    size_t dropped;       /* body bytes dropped after an early answer */
    struct af_resp *held; /* owned: the answer a delay holds back until resumed */
};

static void h_not_found(struct af_req *req, struct af_resp *resp)
{
    (void)req;
    af_resp_oauth_error(resp, MHD_HTTP_NOT_FOUND, "not_found", "no such endpoint");
}

static bool is_authorize_path(const char *path)
{
    return strcmp(path, AF_EP_AUTHORIZE) == 0 || strcmp(path, AF_EP_LOGIN) == 0 ||
           strcmp(path, AF_EP_LOGOUT) == 0;
}

/* bad_request: the generic 400 for input the parser refused. Front-channel
 * endpoints get an HTML page (a browser is looking), others JSON. */
static void bad_request(const struct af_listener *l, struct af_req *req, struct af_resp *resp,
                        unsigned status, const char *why)
{
    if (!l->is_admin && is_authorize_path(req->path))
        af_resp_error_page(resp, status, AF_E_INVALID_REQUEST, why);
    else
        af_resp_oauth_error(resp, status, AF_E_INVALID_REQUEST, why);
    af_resp_no_store(resp);
}

/* ---- MHD callbacks ---- */

/* Per-connection state: the request state of the request in progress, so
 * that a request MHD drops between the URI log callback and the completion
 * callback (it does so when its own parsing fails) is still freed when the
 * connection closes. */
struct conn_state {
    struct req_state *cur;
    struct af_guard_conn gc; /* tracked by the listener's guard while open */
};

static void resp_free(struct af_resp *resp)
{
    if (resp == NULL)
        return;
    af_params_free(&resp->headers);
    af_buf_free(&resp->body);
    af_doc_release(resp->doc);
    free(resp);
}

static void req_state_free(struct req_state *st)
{
    if (st == NULL)
        return;
    resp_free(st->held);
    free(st->req.facts.client_id);
    free(st->req.facts.granted_scope);
    free(st->req.path);
    free(st->req.raw_query);
    af_params_free(&st->req.query);
    af_params_free(&st->req.form);
    af_buf_free(&st->req.body);
    free(st);
}

static struct conn_state *conn_state_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void conn_cb(void *cls, struct MHD_Connection *conn, void **socket_context,
                    enum MHD_ConnectionNotificationCode code)
{
    const struct af_listener *l = cls;
    struct conn_state *cs = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        cs = calloc(1, sizeof(struct conn_state));
        if (cs != NULL && ci != NULL)
            af_guard_add(l->guard, &cs->gc, ci->connect_fd);
        else if (cs != NULL)
            cs->gc.fd = -1; /* not tracked */
        *socket_context = cs;
        return;
    }
    if (cs != NULL) {
        /* MHD closes the socket only after this notification */
        if (cs->gc.fd >= 0)
            af_guard_remove(l->guard, &cs->gc);
        /* started is false only for a request MHD never handed to us */
        if (cs->cur != NULL && !cs->cur->started)
            req_state_free(cs->cur);
        free(cs);
    }
    *socket_context = NULL;
}

/* neutralise_query: libmicrohttpd 0.9.75 splits the query into its
 * per-connection pool right after this callback, and with thousands of
 * parameters the pool runs out and the request is never answered. We parse
 * the raw query ourselves (strictly), and a query over the parameter cap is
 * refused anyway, so for such a query only we turn the separators in MHD's
 * own (writable) buffer into '_': MHD then records one argument, and our
 * handler answers the 400 from the copy taken before. */
static void neutralise_query(const char *uri, size_t max_params)
{
    const char *q = strchr(uri, '?');
    size_t n = 0;
    char *p;
    if (q == NULL)
        return;
    for (p = (char *)q; *p; p++)
        n += *p == '&';
    if (n < max_params)
        return;
    for (p = (char *)q; *p; p++) {
        if (*p == '&')
            *p = '_';
    }
}

/* issuer_route: the issuer a request's path names (docs/issuers.md) and
 * the path relative to it, newly allocated: an element of issuers when the
 * path is its path or lies under it ("/tenant-a/token" is "/token" of
 * "/tenant-a"; on the provider's listener only an element without a
 * listener of its own, on the admin API's every one), or asks for its RFC
 * 8414 §3.1 metadata
 * ("/.well-known/oauth-authorization-server/tenant-a"); else the top
 * level with the path as it came. Paths never nest (cfg.c), so at most one
 * element matches. NULL path when out of memory. */
static struct af_server *issuer_route(struct af_server *top, bool admin, const char *path,
                                      size_t len, char **rel)
{
    static const char meta[] = AF_PATH_AS_METADATA;
    const size_t mlen = sizeof(meta) - 1;

    for (size_t i = 0; i < top->nissuers; i++) {
        struct af_server *el = top->issuers[i];
        size_t n = strlen(el->path);
        if (el->cfg->own_listen != NULL && !admin)
            continue; /* served on its own listener, not under its path */
        if (len >= n && strncmp(path, el->path, n) == 0 && (len == n || path[n] == '/')) {
            *rel = len == n ? strdup("/") : strndup(path + n, len - n);
            return el;
        }
        if (len == mlen + n && strncmp(path, meta, mlen) == 0 &&
            strncmp(path + mlen, el->path, n) == 0) {
            *rel = strdup(meta);
            return el;
        }
    }
    *rel = strndup(path, len);
    return top;
}

static void *uri_log_cb(void *cls, const char *uri, struct MHD_Connection *conn)
{
    const struct af_listener *l = cls;
    struct af_server *srv = l->srv;
    struct req_state *st = calloc(1, sizeof(*st));
    struct conn_state *cs = conn_state_of(conn);
    const char *q;
    if (st == NULL)
        return NULL;
    st->l = l;
    q = strchr(uri, '?');
    st->req.srv =
        issuer_route(srv, l->is_admin, uri, q ? (size_t)(q - uri) : strlen(uri), &st->req.path);
    st->req.raw_query = strdup(q ? q + 1 : "");
    af_params_init(&st->req.query, srv->cfg->max_params);
    af_params_init(&st->req.form, srv->cfg->max_params);
    af_buf_init(&st->req.body, l->max_body);
    neutralise_query(uri, srv->cfg->max_params);
    if (cs != NULL) {
        if (cs->cur != NULL && !cs->cur->started)
            req_state_free(cs->cur); /* the previous request was dropped by MHD */
        cs->cur = st;
        if (cs->gc.fd >= 0 && l->guard != NULL) {
            st->gc = &cs->gc;
            af_guard_request(st->gc);
        }
    }
    return st;
}

/* record: the request and its answer into the ledger (provider port
 * only) and into the log, one line, with the ledger's seq. */
static void record(const struct af_listener *l, struct req_state *st, const struct af_resp *resp)
{
    unsigned long long seq = 0;

    if (!l->is_admin)
        seq = af_ledger_record(st->req.srv->ledger, &st->req, resp);
    af_reqlog_write(&st->req, resp, seq, l->is_admin);
}

/* record_cut: the record of a request the guard cut with a 408 before it
 * was answered: what of it came (the method only once its headers were
 * all in: libmicrohttpd shows it no sooner), the 408 and its error, and
 * why. */
static void record_cut(const struct af_listener *l, struct req_state *st,
                       struct MHD_Connection *conn, enum af_guard_cut why)
{
    struct af_resp resp;
    unsigned deadline = l->srv->cfg->request_timeout;

    memset(&resp, 0, sizeof(resp));
    af_params_init(&resp.headers, 1);
    af_buf_init(&resp.body, 1);
    resp.status = MHD_HTTP_REQUEST_TIMEOUT;
    af_resp_set_error(&resp, AF_E_INVALID_REQUEST); /* as guard.c's answer says */
    if (why == AF_GUARD_CUT_SHED)
        af_resp_reason(&resp, "cut before it was complete, to make room for a new client "
                              "(connection limit)");
    else
        af_resp_reason(&resp, "not received completely within %u s (request timeout)",
                       deadline ? deadline : SERVER_REQUEST_TIMEOUT_S);
    st->req.conn = conn; /* the headers that came */
    st->req.facts.cut = why == AF_GUARD_CUT_SHED ? AF_LEDGER_CUT_SHED : AF_LEDGER_CUT_TIMEOUT;
    record(l, st, &resp);
    af_params_free(&resp.headers);
    af_buf_free(&resp.body);
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    const struct af_listener *l = cls;
    struct af_server *srv = l->srv;
    struct req_state *st = *req_cls;
    struct conn_state *cs = conn_state_of(conn);
    (void)toe;
    if (st == NULL)
        return;
    /* a request the guard cut was never answered here, nor recorded */
    if (!l->is_admin && st->gc != NULL && af_guard_cut_why(st->gc) != AF_GUARD_KEPT)
        record_cut(l, st, conn, af_guard_cut_why(st->gc));
    if (st->started)
        __atomic_sub_fetch(&srv->inflight, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&srv->last_activity_ms, af_monotonic_ms(), __ATOMIC_SEQ_CST);
    if (st->gc != NULL)
        af_guard_done(st->gc);
    if (cs != NULL && cs->cur == st)
        cs->cur = NULL;
    req_state_free(st);
    *req_cls = NULL;
}

static enum MHD_Result send_resp(const struct af_server *srv, struct MHD_Connection *conn,
                                 struct af_resp *resp)
{
    struct MHD_Response *r;
    enum MHD_Result ret;
    size_t i;

    if (resp->status == 0)
        af_resp_fail(resp);
    if (resp->doc != NULL) {
        /* a shared body goes out as is: MHD holds a reference, which it
         * drops once the answer is sent (af_doc_release_bytes) */
        struct af_doc *doc = af_doc_ref(resp->doc);
        r = MHD_create_response_from_buffer_with_free_callback(
            af_doc_len(doc), (void *)af_doc_bytes(doc), af_doc_release_bytes);
        if (r == NULL)
            af_doc_release(doc);
    } else {
        r = MHD_create_response_from_buffer(resp->body.len, (void *)af_buf_str(&resp->body),
                                            MHD_RESPMEM_MUST_COPY);
    }
    if (r == NULL)
        return MHD_NO;
    for (i = 0; i < resp->headers.n; i++)
        MHD_add_response_header(r, resp->headers.v[i].name, resp->headers.v[i].value);
    if (resp->ctype != NULL)
        MHD_add_response_header(r, AF_HDR_CONTENT_TYPE, resp->ctype);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    /* stopping: this answer is the connection's last, so the drain ends
     * when the answers in flight are out, not when it times out */
    if (__atomic_load_n(&srv->stopping, __ATOMIC_SEQ_CST))
        MHD_add_response_header(r, AF_HDR_CONNECTION, "close");
    ret = MHD_queue_response(conn, resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

static bool is_form(const char *ctype)
{
    size_t n = strlen(AF_CT_FORM);
    return ctype != NULL && strncasecmp(ctype, AF_CT_FORM, n) == 0 &&
           (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

static const struct route *route_find(const struct route *table, const char *path)
{
    const struct route *r = table;
    while (r->path != NULL && strcmp(r->path, path) != 0)
        r++;
    return r;
}

static void dispatch(struct req_state *st, struct af_resp *resp)
{
    const struct af_listener *l = st->l;
    struct af_req *req = &st->req;
    const struct route *rt = route_find(l->routes, req->path);
    /* a persona's endpoints come before the standard table (persona.h) */
    const struct af_persona_route *pr =
        l->is_admin ? NULL : af_persona_route(af_persona_of(req->srv), req->path);
    struct route prt;
    unsigned m = req->method == AF_M_GET      ? M_GET
                 : req->method == AF_M_POST   ? M_POST
                 : req->method == AF_M_DELETE ? M_DELETE
                                              : 0;
    struct af_err err;

    af_err_clear(&err);
    if (pr != NULL) {
        prt.path = pr->path;
        prt.methods =
            (pr->methods & AF_PM_GET ? M_GET : 0) | (pr->methods & AF_PM_POST ? M_POST : 0);
        prt.handler = pr->handler;
        rt = &prt;
    }
    if (l->is_admin && !af_admin_authorized(req, resp))
        return;
    if (rt->path != NULL && (rt->methods & m) == 0) {
        char why[128];
        char allow[32];
        snprintf(why, sizeof(why), "method %s is not allowed here", req->method_str);
        af_resp_oauth_error(resp, MHD_HTTP_METHOD_NOT_ALLOWED, AF_E_INVALID_REQUEST, why);
        snprintf(allow, sizeof(allow), "%s%s%s%s%s", rt->methods & M_GET ? "GET" : "",
                 (rt->methods & M_GET) && (rt->methods & ~M_GET) ? ", " : "",
                 rt->methods & M_POST ? "POST" : "",
                 (rt->methods & M_POST) && (rt->methods & M_DELETE) ? ", " : "",
                 rt->methods & M_DELETE ? "DELETE" : "");
        af_resp_header(resp, AF_HDR_ALLOW, allow);
        af_resp_no_store(resp);
        return;
    }
    if (req->body_too_big) {
        char why[96];
        snprintf(why, sizeof(why), "request body too large (at most %zu bytes)", l->max_body);
        bad_request(l, req, resp, MHD_HTTP_CONTENT_TOO_LARGE, why);
        return;
    }
    if (af_params_parse(&req->query, req->raw_query, strlen(req->raw_query), &err) != AF_OK) {
        char why[AF_ERR_MSG_MAX + 32];
        snprintf(why, sizeof(why), "query: %s", err.msg);
        bad_request(l, req, resp, MHD_HTTP_BAD_REQUEST, why);
        return;
    }
    /* the admin API reads JSON bodies only (h_admin.c checks the type) */
    if (!l->is_admin && req->method == AF_M_POST &&
        is_form(af_req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE)) &&
        af_params_parse(&req->form, req->body.p ? req->body.p : "", req->body.len, &err) != AF_OK) {
        char why[AF_ERR_MSG_MAX + 32];
        snprintf(why, sizeof(why), "form body: %s", err.msg);
        bad_request(l, req, resp, MHD_HTTP_BAD_REQUEST, why);
        return;
    }
    rt->handler(req, resp);
}

/* ---- the access handler ---- */

/* build_answer: dispatch. Caller records it (record) once it is sure to
 * go out, and frees it with resp_free(); NULL when out of memory. */
static struct af_resp *build_answer(struct req_state *st, size_t body_cap)
{
    struct af_resp *resp = calloc(1, sizeof(*resp));

    if (resp == NULL)
        return NULL;
    af_params_init(&resp->headers, 32);
    af_buf_init(&resp->body, body_cap);
    dispatch(st, resp);
    if (resp->status == 0)
        af_resp_fail(resp);
    return resp;
}

/* answer_early: a chunked body passed the cap while it was read. MHD
 * 0.9.75 takes no answer in the middle of a body, so the 413 is written on
 * the socket through the guard, which then drops what still comes for a
 * moment and closes: the body is not read to its end. */
static enum MHD_Result answer_early(const struct af_listener *l, struct req_state *st)
{
    struct af_resp *resp;
    struct af_buf raw;
    af_rc rc;
    bool sent = false;

    if (st->gc == NULL)
        return MHD_NO; /* untracked: just close */
    st->req.facts.cut = AF_LEDGER_CUT_BODY;
    resp = build_answer(st, 64 * 1024);
    if (resp == NULL)
        return MHD_NO;
    af_buf_init(&raw, 96 * 1024);
    rc = af_buf_addf(&raw, "HTTP/1.1 %u %s\r\n", resp->status,
                     MHD_get_reason_phrase_for(resp->status));
    for (size_t i = 0; i < resp->headers.n && rc == AF_OK; i++)
        rc = af_buf_addf(&raw, "%s: %s\r\n", resp->headers.v[i].name, resp->headers.v[i].value);
    if (rc == AF_OK && resp->ctype != NULL)
        rc = af_buf_addf(&raw, AF_HDR_CONTENT_TYPE ": %s\r\n", resp->ctype);
    if (rc == AF_OK)
        rc = af_buf_addf(&raw, AF_HDR_CONNECTION ": close\r\nContent-Length: %zu\r\n\r\n",
                         resp->body.len);
    if (rc == AF_OK)
        rc = af_buf_add(&raw, resp->body.p, resp->body.len);
    if (rc == AF_OK)
        sent = af_guard_reply_early(st->gc, raw.p, raw.len);
    /* not sent: the guard cut first, and completed_cb records its 408 */
    if (sent)
        record(l, st, resp);
    af_buf_free(&raw);
    resp_free(resp);
    return sent ? MHD_YES : MHD_NO;
}

/* answer: build the answer, then send it, or hold it back when a scenario
 * asks for a delay. Nothing when the guard cut the connection first. */
static enum MHD_Result answer(const struct af_listener *l, struct MHD_Connection *conn,
                              struct req_state *st, size_t body_cap)
{
    struct af_server *srv = l->srv;
    struct af_resp *resp;
    enum MHD_Result ret;

    if (st->gc != NULL && !af_guard_answer(st->gc))
        return MHD_NO;
    resp = build_answer(st, body_cap);
    if (resp == NULL)
        return MHD_NO;
    record(l, st, resp);
    if (!l->is_admin && st->req.facts.delay_ms > 0 &&
        af_delayer_hold(srv->delayer, conn, st->req.facts.delay_ms)) {
        st->held = resp;
        return MHD_YES;
    }
    ret = send_resp(srv, conn, resp);
    resp_free(resp);
    return ret;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **req_cls)
{
    const struct af_listener *l = cls;
    struct af_server *srv = l->srv;
    struct req_state *st = *req_cls;
    enum MHD_Result ret;
    (void)url;
    (void)version;

    if (st == NULL)
        return MHD_NO; /* the URI log callback could not allocate */
    if (st->gc != NULL && af_guard_gone(st->gc)) {
        /* cut, or answered early: drop what comes for a moment (the
         * client may still be sending as it reads the answer), answer
         * nothing, and close after SERVER_LINGER_BYTES */
        st->dropped += *upload_data_size;
        if (*upload_data_size == 0 || st->dropped > SERVER_LINGER_BYTES)
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!st->started) {
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        st->started = true;
        __atomic_add_fetch(&srv->inflight, 1, __ATOMIC_SEQ_CST);
        __atomic_store_n(&srv->last_activity_ms, af_monotonic_ms(), __ATOMIC_SEQ_CST);
        st->req.conn = conn;
        st->req.method_str = method;
        st->req.method = strcmp(method, MHD_HTTP_METHOD_GET) == 0      ? AF_M_GET
                         : strcmp(method, MHD_HTTP_METHOD_POST) == 0   ? AF_M_POST
                         : strcmp(method, MHD_HTTP_METHOD_DELETE) == 0 ? AF_M_DELETE
                                                                       : AF_M_OTHER;
        if (cl != NULL && strtoull(cl, NULL, 10) > l->max_body)
            st->req.body_too_big = true;
        if (!st->req.body_too_big)
            return MHD_YES;
        /* Answer at once: there is no point reading a body we refuse. */
        st->responded = true;
        return answer(l, conn, st, 64 * 1024);
    }
    if (*upload_data_size != 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (st->req.body_too_big || af_buf_add(&st->req.body, upload_data, n) == AF_OK)
            return MHD_YES;
        st->req.body_too_big = true;
        st->responded = true;
        return answer_early(l, st);
    }
    if (st->responded) {
        /* called again once a delay resumed the connection */
        if (st->held == NULL)
            return MHD_YES;
        ret = send_resp(srv, conn, st->held);
        resp_free(st->held);
        st->held = NULL;
        return ret;
    }
    st->responded = true;
    return answer(l, conn, st, 4 * 1024 * 1024);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    (void)cls;
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    af_log_debug("libmicrohttpd: %s", line);
}

/* ---- binding ---- */

/* parse_listen: "host:port" or "[v6]:port" into a sockaddr; host gets the
 * host as written ("localhost" stays so, though it binds 127.0.0.1). */
static af_rc parse_listen(const char *listen_s, struct sockaddr_storage *ss, socklen_t *len,
                          char *host, size_t hostlen, struct af_err *err)
{
    const char *colon;
    char *end;
    unsigned long port;
    size_t hl;
    const char *h = listen_s;

    memset(ss, 0, sizeof(*ss));
    if (listen_s[0] == '[') {
        const char *rb = strchr(listen_s, ']');
        if (rb == NULL || rb[1] != ':')
            return AF_ERR_SET(err, AF_ERR_INVALID, "listen address %s: expected [ADDR]:PORT",
                              listen_s);
        h = listen_s + 1;
        hl = (size_t)(rb - h);
        colon = rb + 1;
    } else {
        colon = strrchr(listen_s, ':');
        if (colon == NULL)
            return AF_ERR_SET(err, AF_ERR_INVALID, "listen address %s: expected ADDR:PORT",
                              listen_s);
        hl = (size_t)(colon - listen_s);
    }
    if (hl == 0 || hl >= hostlen)
        return AF_ERR_SET(err, AF_ERR_INVALID, "listen address %s: bad host", listen_s);
    memcpy(host, h, hl);
    host[hl] = '\0';
    errno = 0;
    port = strtoul(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || port > 65535 || errno != 0)
        return AF_ERR_SET(err, AF_ERR_INVALID, "listen address %s: bad port", listen_s);
    {
        struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        const char *addr = strcmp(host, "localhost") == 0 ? "127.0.0.1" : host;
        if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
            a4->sin_family = AF_INET;
            a4->sin_port = htons((uint16_t)port);
            *len = sizeof(*a4);
        } else if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
            a6->sin6_family = AF_INET6;
            a6->sin6_port = htons((uint16_t)port);
            *len = sizeof(*a6);
        } else {
            return AF_ERR_SET(err, AF_ERR_INVALID, "listen address %s: host must be an IP address",
                              listen_s);
        }
    }
    return AF_OK;
}

/* wildcard: is the sockaddr the any-address (0.0.0.0 or ::)? */
static bool wildcard(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6)
        return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
    return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
}

/* bind_listen: a listening socket on listen_s and its origin
 * "SCHEME://HOST:PORT" with the host as the user wrote it (the port the
 * kernel chose for port 0). A wildcard address names no host a client can
 * use: the origin then says localhost and *any is set, for the caller to
 * explain. */
static af_rc bind_listen(const char *listen_s, const char *scheme, int *fd_out,
                         unsigned short *port_out, char **origin_out, bool *any, struct af_err *err)
{
    af_rc rc = AF_OK;
    struct sockaddr_storage ss, got;
    socklen_t len = 0, glen = sizeof(got);
    char host[256];
    char origin[sizeof(host) + 32];
    int fd = -1, one = 1;

    rc = parse_listen(listen_s, &ss, &len, host, sizeof(host), err);
    if (rc != AF_OK)
        goto out;
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = AF_ERR_SET(err, AF_ERR_IO, "socket for %s: %s", listen_s, strerror(errno));
        goto out;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
        rc = AF_ERR_SET(err, AF_ERR_IO, "cannot listen on %s: %s", listen_s, strerror(errno));
        goto out;
    }
    if (listen(fd, 128) != 0 || getsockname(fd, (struct sockaddr *)&got, &glen) != 0) {
        rc = AF_ERR_SET(err, AF_ERR_IO, "cannot listen on %s: %s", listen_s, strerror(errno));
        goto out;
    }
    *any = wildcard(&got);
    *port_out = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                                : ((struct sockaddr_in *)&got)->sin_port);
    if (*any)
        snprintf(origin, sizeof(origin), "%s://localhost:%u", scheme, *port_out);
    else if (got.ss_family == AF_INET6)
        snprintf(origin, sizeof(origin), "%s://[%s]:%u", scheme, host, *port_out);
    else
        snprintf(origin, sizeof(origin), "%s://%s:%u", scheme, host, *port_out);
    *origin_out = strdup(origin);
    if (*origin_out == NULL) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    *fd_out = fd;
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

/* ---- keys ---- */

/* key_error: "SOURCE: keys[N]: what kerr says" into err. */
static void key_error(const struct af_config *cfg, size_t i, af_rc rc, const struct af_err *kerr,
                      struct af_err *err)
{
    /* a file that is there is never replaced (keyfile.c): say how to get
     * a fresh key rather than leave the user guessing */
    bool kept =
        i < cfg->nkeys && cfg->keys[i].generate && (rc == AF_ERR_PARSE || rc == AF_ERR_INVALID);
    AF_ERR_SET(err, rc, "%s: %s%s%skeys[%zu]: %s%s", cfg->source, cfg->path ? "issuer " : "",
               cfg->path ? cfg->path : "", cfg->path ? ": " : "", i, kerr->msg,
               kept ? " (authflowd never overwrites a key file: move it away to have a new key "
                      "generated)"
                    : "");
}

/* check_key_files: every key file there is must hold a key that fits its
 * alg, so that a wrong one is a config error (authflowd exits 2, also with
 * --check-config) rather than a failed start. A missing file of a
 * generated key is fine: the start writes it. */
static af_rc check_key_files(const struct af_config *cfg, struct af_err *err)
{
    af_rc rc = AF_OK;
    size_t i;

    for (i = 0; i < cfg->nkeys && rc == AF_OK; i++) {
        const struct af_cfg_key *k = &cfg->keys[i];
        struct af_key *key = NULL;
        struct af_err kerr;

        if (k->pem_file == NULL || (k->generate && access(k->pem_file, F_OK) != 0))
            continue;
        af_err_clear(&kerr);
        rc = af_key_load_pem(k->pem_file, k->alg, &key, &kerr);
        if (rc != AF_OK)
            key_error(cfg, i, rc, &kerr, err);
        af_key_free(key);
    }
    return rc;
}

/* load_keys: the configured keys (or one generated RS256 key), handed to
 * a new key ring; keys[0] signs. */
static af_rc load_keys(struct af_server *srv, struct af_err *err)
{
    af_rc rc = AF_OK;
    const struct af_config *cfg = srv->cfg;
    size_t i, n = cfg->nkeys ? cfg->nkeys : 1, have = 0;
    struct af_key **keys = calloc(n, sizeof(*keys));

    if (keys == NULL) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < n; i++) {
        const struct af_cfg_key *k = cfg->nkeys ? &cfg->keys[i] : NULL;
        struct af_err kerr;
        bool created = false;

        af_err_clear(&kerr);
        if (k != NULL && k->generate && k->pem_file == NULL)
            rc = af_keyshare_generated(srv, i, k->alg, &keys[i], &created, &kerr);
        else if (k != NULL && k->generate)
            rc = af_key_load_or_create(k->pem_file, k->alg, &keys[i], &created, &kerr);
        else if (k != NULL && k->pem_file != NULL)
            rc = af_key_load_pem(k->pem_file, k->alg, &keys[i], &kerr);
        else
            rc = af_key_generate(k ? k->alg : AF_ALG_RS256, &keys[i], &kerr);
        if (rc != AF_OK) {
            key_error(cfg, i, rc, &kerr, err);
            goto out;
        }
        have++;
        if (created)
            af_log_info("keys[%zu]: generated a new %s key (kid %s) into %s", i,
                        af_alg_name(k->alg), af_key_kid(keys[i]),
                        k->pem_file != NULL ? k->pem_file : "Redis, for every replica");
        if (k != NULL && k->kid != NULL) {
            rc = af_key_set_kid(keys[i], k->kid);
            if (rc != AF_OK)
                goto out;
        }
    }
    rc = af_keyring_new(srv, keys, n, &srv->keyring, err);
out:
    for (i = 0; keys != NULL && i < have; i++)
        af_key_free(keys[i]); /* the ring holds its own references */
    free(keys);
    return rc;
}

/* ---- lifecycle ---- */

/* cookie_name: base, then for an element of issuers "." and its path's
 * segments joined by "." (a cookie name has no "/"), into out. Its Path
 * attribute is the issuer's path as well (h_authorize.c); the distinct
 * name keeps the top level's cookie (Path=/, sent with every request)
 * from being read as an element's. */
static void cookie_name(const char *base, const char *path, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "%s%s", base, *path ? "." : "");

    for (const char *p = *path ? path + 1 : path; *p != '\0' && n + 1 < cap; p++)
        out[n++] = *p == '/' ? '.' : *p;
    out[n < cap ? n : cap - 1] = '\0';
}

/* The login form's key, shared by replicas through the store. */
#define STORE_SECRET_LOGIN_FORM "login_form"

static af_rc issuer_rest(struct af_server *srv, struct af_err *err);

/* store_open_redis: the issuer's store in Redis (docs/replicas.md), its
 * login form's key shared with the other replicas, then the rest. */
static af_rc store_open_redis(struct af_server *srv, const struct af_store_limits *lim,
                              const struct af_rstore_opts *ro, struct af_err *err)
{
    af_rc rc = af_store_new_redis(lim, ro, &srv->store, err);

    if (rc != AF_OK)
        return rc;
    /* the keys after the store: generated ones live there (keyshare.h) */
    rc = load_keys(srv, err);
    if (rc == AF_OK)
        rc = af_keyshare_new(srv, &srv->keyshare, err);
    if (rc != AF_OK)
        return rc;
    rc = af_store_secret(srv->store, STORE_SECRET_LOGIN_FORM, srv->csrf_key, sizeof(srv->csrf_key));
    if (rc != AF_OK)
        return AF_ERR_SET(err, rc, "store.redis: cannot read or set the login form's key");
    return issuer_rest(srv, err);
}

/* issuer_open: what an issuer has of its own (core.h): the config it
 * serves, its keys, the login form's key, cookie names, store, registry,
 * ledger and scenarios. issuer_close frees them, also after a failure. */
static af_rc issuer_open(struct af_server *srv, const struct af_config *cfg, struct af_err *err)
{
    af_rc rc;

    srv->cfg = cfg;
    srv->path = cfg->path != NULL ? cfg->path : "";
    srv->prefix = cfg->own_listen != NULL ? "" : srv->path;
    cookie_name(AF_SESSION_COOKIE, srv->path, srv->session_cookie, sizeof(srv->session_cookie));
    cookie_name(AF_LOGIN_COOKIE, srv->path, srv->login_cookie, sizeof(srv->login_cookie));
    {
        /* a revoked grant is kept as long as its access tokens can live */
        struct af_store_limits lim = {.max_codes = cfg->max_codes,
                                      .max_tokens = cfg->max_tokens,
                                      .revoke_keep = (long)cfg->access_token_ttl};
        struct af_rstore_opts ro = {.url = cfg->store_redis,
                                    .prefix = cfg->store_prefix,
                                    .path = srv->path,
                                    .timeout_ms = cfg->store_timeout_ms,
                                    .conns = cfg->threads + 2,
                                    .revoke_keep = lim.revoke_keep};
        if (cfg->store_redis != NULL)
            return store_open_redis(srv, &lim, &ro, err);
        rc = load_keys(srv, err);
        if (rc != AF_OK)
            return rc;
        rc = af_store_new(&lim, &srv->store);
        if (rc == AF_OK)
            rc = af_store_secret(srv->store, STORE_SECRET_LOGIN_FORM, srv->csrf_key,
                                 sizeof(srv->csrf_key));
    }
    if (rc != AF_OK)
        return AF_ERR_SET(err, rc, "out of memory");
    return issuer_rest(srv, err);
}

/* issuer_rest: the registry, ledger and scenarios, once the store is open. */
static af_rc issuer_rest(struct af_server *srv, struct af_err *err)
{
    af_rc rc = af_registry_new(srv->cfg, &srv->reg);

    if (rc == AF_OK)
        rc = af_ledger_new(srv->cfg->ledger_max_entries, &srv->ledger);
    if (rc != AF_OK)
        return AF_ERR_SET(err, rc, "out of memory");
    af_ledger_share(srv->ledger, af_store_redis(srv->store)); /* NULL: in memory */
    return af_scen_engine_new(srv, &srv->scen, err);
}

static void issuer_close(struct af_server *srv)
{
    af_scen_engine_free(srv->scen);
    af_ledger_free(srv->ledger);
    af_keyring_free(srv->keyring);
    af_keyshare_free(srv->keyshare); /* after the ring, which calls it */
    af_store_free(srv->store);
    af_registry_free(srv->reg);
    free(srv->issuer);
}

static af_rc listener_new(struct af_server *srv, const struct route *routes, bool is_admin,
                          size_t max_body, unsigned max_conns, struct af_listener **out);
static struct MHD_Daemon *start_daemon(struct af_listener *l, int fd, unsigned threads,
                                       unsigned max_conns, const struct af_tls *tls);

/* own_listener: the listener, daemon and issuer of an element with a
 * listen address of its own (cfg->own_listen): served there at its root,
 * its issuer that address's origin, over https when the top level is
 * (its certificate). The top level's delay timer serves it (borrowed). */
static af_rc own_listener(struct af_server *top, struct af_server *el, const struct af_tls *tls,
                          bool https, struct af_err *err)
{
    const struct af_config *cfg = el->cfg;
    char *origin = NULL;
    bool any = false;
    int fd = -1;
    af_rc rc;

    el->delayer = top->delayer;
    rc = listener_new(el, main_routes, false, cfg->max_body, SERVER_MAX_CONNECTIONS, &el->main_l);
    if (rc == AF_OK)
        rc = bind_listen(cfg->own_listen, https ? "https" : "http", &fd, &el->port, &origin, &any,
                         err);
    if (rc != AF_OK)
        goto out;
    el->issuer = origin;
    origin = NULL;
    if (any)
        af_log_warn("issuer %s listens on every address (%s): its issuer is %s", el->path,
                    cfg->own_listen, el->issuer);
    el->daemon =
        start_daemon(el->main_l, fd, cfg->threads ? cfg->threads : 4, SERVER_MAX_CONNECTIONS, tls);
    if (el->daemon == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_IO, "issuer %s: cannot start the HTTP server on %s", el->path,
                        cfg->own_listen);
        goto out;
    }
    fd = -1; /* owned by MHD now */
out:
    if (fd >= 0)
        close(fd);
    free(origin);
    return rc;
}

/* issuers_open: a server for each element of top's cfg->issuers, its
 * issuer the top level's plus its path (or, with a listen address of its
 * own, that address's origin: own_listener), its metadata built; once
 * top's issuer is settled and its certificate, if any, made. */
static af_rc issuers_open(struct af_server *top, const struct af_tls *tls, bool https,
                          struct af_err *err)
{
    const struct af_config *cfg = top->cfg;
    af_rc rc = AF_OK;

    if (cfg->nissuers == 0)
        return AF_OK;
    top->issuers = calloc(cfg->nissuers, sizeof(*top->issuers));
    if (top->issuers == NULL)
        return AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < cfg->nissuers && rc == AF_OK; i++) {
        struct af_server *el = calloc(1, sizeof(*el));
        if (el == NULL)
            return AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory");
        top->issuers[i] = el;
        top->nissuers = i + 1;
        rc = issuer_open(el, &cfg->issuers[i], err);
        if (rc == AF_OK && el->cfg->own_listen != NULL) {
            rc = own_listener(top, el, tls, https, err);
        } else if (rc == AF_OK && asprintf(&el->issuer, "%s%s", top->issuer, el->path) < 0) {
            el->issuer = NULL;
            rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory");
        }
        if (rc == AF_OK && af_keyring_set_meta(el->keyring, af_h_discovery_build) != AF_OK)
            rc = AF_ERR_SET(err, AF_ERR_NOMEM, "issuer %s: cannot build the metadata document",
                            el->path);
    }
    return rc;
}

/* path_taken: whether an issuer at path would take requests meant for
 * route (its path is route or lies above it). */
static bool path_taken(const char *route, const char *path)
{
    size_t n = strlen(path);
    return strncmp(route, path, n) == 0 && (route[n] == '\0' || route[n] == '/');
}

/* check_issuer_paths: no element of issuers takes a path the top level
 * answers on either listener (its endpoints, its persona's, the admin
 * API's), which would hide that endpoint. */
static af_rc check_issuer_paths(const struct af_config *cfg, struct af_err *err)
{
    const struct af_persona_route *pr = af_persona_get(cfg->persona)->routes;

    for (size_t i = 0; i < cfg->nissuers; i++) {
        const char *path = cfg->issuers[i].path;
        const char *hit = NULL;
        for (const struct route *r = main_routes; hit == NULL && r->path != NULL; r++)
            hit = path_taken(r->path, path) ? r->path : NULL;
        for (const struct route *r = admin_routes; hit == NULL && r->path != NULL; r++)
            hit = path_taken(r->path, path) ? r->path : NULL;
        for (size_t j = 0; hit == NULL && pr != NULL && pr[j].path != NULL; j++)
            hit = path_taken(pr[j].path, path) ? pr[j].path : NULL;
        if (hit != NULL)
            return AF_ERR_SET(err, AF_ERR_INVALID,
                              "%s: issuers[%zu].path: %s would hide the top-level issuer's %s "
                              "(choose another path)",
                              cfg->source, i, path, hit);
    }
    return AF_OK;
}

/* listener_new: a listener and its guard. Caller frees with
 * listener_free(), after its daemon stopped. */
static af_rc listener_new(struct af_server *srv, const struct route *routes, bool is_admin,
                          size_t max_body, unsigned max_conns, struct af_listener **out)
{
    struct af_listener *l = calloc(1, sizeof(*l));
    unsigned deadline = srv->cfg->request_timeout;

    *out = l;
    if (l == NULL)
        return AF_ERR_NOMEM;
    l->srv = srv;
    l->routes = routes;
    l->is_admin = is_admin;
    l->max_body = max_body;
    return af_guard_start(deadline ? deadline : SERVER_REQUEST_TIMEOUT_S, max_conns, &l->guard);
}

static void listener_free(struct af_listener *l)
{
    if (l == NULL)
        return;
    af_guard_free(l->guard);
    free(l);
}

/* start_daemon: serve fd (taken over by MHD on success) for listener l. */
static struct MHD_Daemon *start_daemon(struct af_listener *l, int fd, unsigned threads,
                                       unsigned max_conns, const struct af_tls *tls)
{
    /* https: libmicrohttpd (GnuTLS on Debian) takes the PEM text */
    struct MHD_OptionItem tls_opts[] = {
        {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, tls ? tls->cert_pem : NULL},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, tls ? tls->key_pem : NULL},
        {MHD_OPTION_END, 0, NULL},
    };

    /* the logger first, so that MHD reports nothing past it. poll(), not
     * epoll (MHD_USE_AUTO picks epoll on Linux): with a thread pool,
     * Debian 12's libmicrohttpd (0.9.75) can abort the whole process in
     * MHD_quiesce_daemon on SIGTERM ("Failed to remove listen FD from
     * epoll set", seen in the ASan run of the integration tests), which
     * turns a clean stop into exit -6. The connection cap keeps poll()'s
     * cost per wake-up bounded. */
    return MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG |
            MHD_ALLOW_SUSPEND_RESUME | (tls ? MHD_USE_TLS : 0),
        0, NULL, NULL, access_cb, l, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, l->srv,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_URI_LOG_CALLBACK, uri_log_cb, l, MHD_OPTION_NOTIFY_COMPLETED, completed_cb, l,
        MHD_OPTION_NOTIFY_CONNECTION, conn_cb, l, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)SERVER_CONN_MEMORY_BASE + l->srv->cfg->max_params * SERVER_CONN_MEMORY_PARAM,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SERVER_CONN_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
        max_conns, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
}

/* admin_start: bind and serve the admin API on listen_s. The config loader
 * checked admin.listen already; the command line's --admin-listen goes
 * through the same rules here. */
static af_rc admin_start(struct af_server *srv, const char *listen_s, struct af_err *err)
{
    const struct af_config *cfg = srv->cfg;
    int fd = -1;
    bool any = false;
    af_rc rc;

    if (!af_cfg_listen_is_loopback(listen_s) && !cfg->admin_allow_remote) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID,
                        "admin listen address %s is not loopback (the admin API mints tokens for "
                        "any user; set admin.allow_remote to serve it elsewhere)",
                        listen_s);
        goto out;
    }
    if (!af_cfg_listen_is_loopback(listen_s) && cfg->admin_secret == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID,
                        "admin listen address %s is not loopback and admin.secret is not set",
                        listen_s);
        goto out;
    }
    rc = listener_new(srv, admin_routes, true, AF_ADMIN_MAX_BODY, ADMIN_MAX_CONNECTIONS,
                      &srv->admin_l);
    if (rc != AF_OK)
        goto out;
    rc = bind_listen(listen_s, "http", &fd, &srv->admin_port, &srv->admin_url, &any, err);
    if (rc != AF_OK)
        goto out;
    srv->admin_daemon = start_daemon(srv->admin_l, fd, 1, ADMIN_MAX_CONNECTIONS, NULL);
    if (srv->admin_daemon == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_IO, "cannot start the admin HTTP server on %s", listen_s);
        goto out;
    }
    fd = -1; /* owned by MHD now */
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

/* issuer_settle: srv->issuer from the one given (config or --issuer; a
 * trailing slash dropped) or else the listener's origin, which is taken
 * from *origin. Says what a client would trip over: an issuer nobody
 * reaches by a wildcard address, an https issuer on a plain listener
 * (fine behind a TLS proxy: tls.proxy), and refuses an http issuer on an
 * https listener, which no client could use. */
static af_rc issuer_settle(struct af_server *srv, const char *issuer, char **origin, bool any,
                           const char *listen_s, bool https, struct af_err *err)
{
    if (issuer != NULL) {
        size_t l = strlen(issuer);
        while (l > 0 && issuer[l - 1] == '/')
            l--;
        srv->issuer = strndup(issuer, l);
    } else {
        srv->issuer = *origin;
        *origin = NULL;
    }
    if (srv->issuer == NULL)
        return AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory");
    if (https && strncmp(srv->issuer, "http://", 7) == 0)
        return AF_ERR_SET(err, AF_ERR_INVALID,
                          "the issuer %s is http:// but the listener serves https (tls): give "
                          "an https:// issuer",
                          srv->issuer);
    if (!https && !srv->cfg->tls_proxy && strncmp(srv->issuer, "https://", 8) == 0)
        af_log_warn("the issuer %s is https:// but %s serves plain http: clients will fail to "
                    "connect, unless a proxy in front terminates TLS (say so with "
                    "\"tls\": {\"proxy\": true}), or serve https (tls.generate or tls.cert_file)",
                    srv->issuer, listen_s);
    if (any && issuer == NULL)
        af_log_warn("listening on every address (%s): the issuer is %s; clients that reach "
                    "authflowd by another name need --issuer (or \"issuer\" in the config) "
                    "with that name",
                    listen_s, srv->issuer);
    return AF_OK;
}

af_rc af_server_start(const struct af_config *cfg, const struct af_server_opts *opts,
                      struct af_server **out, struct af_err *err)
{
    af_rc rc;
    struct af_server *srv = calloc(1, sizeof(*srv));
    const char *listen_s = opts && opts->listen ? opts->listen : cfg->listen;
    const char *issuer = opts && opts->issuer ? opts->issuer : cfg->issuer;
    const char *admin_listen = opts && opts->admin_listen ? opts->admin_listen
                               : cfg->admin_enabled       ? cfg->admin_listen
                                                          : NULL;
    char *origin = NULL;
    struct af_tls *tls = NULL;
    bool any = false, https = cfg->tls_cert_file != NULL || cfg->tls_generate;
    int fd = -1;

    *out = NULL;
    if (srv == NULL)
        return AF_ERR_NOMEM;
    rc = check_issuer_paths(cfg, err);
    if (rc == AF_OK)
        rc = issuer_open(srv, cfg, err);
    if (rc != AF_OK)
        goto out;
    rc = af_delayer_start(&srv->delayer);
    if (rc != AF_OK) {
        AF_ERR_SET(err, rc, "cannot start the delay timer thread");
        goto out;
    }
    rc = listener_new(srv, main_routes, false, cfg->max_body, SERVER_MAX_CONNECTIONS, &srv->main_l);
    if (rc != AF_OK)
        goto out;
    if (listen_s == NULL)
        listen_s = "127.0.0.1:9000";
    rc = bind_listen(listen_s, https ? "https" : "http", &fd, &srv->port, &origin, &any, err);
    if (rc != AF_OK)
        goto out;
    rc = issuer_settle(srv, issuer, &origin, any, listen_s, https, err);
    if (rc != AF_OK)
        goto out;
    rc = af_tls_prepare(cfg, origin ? origin : srv->issuer, any, srv->issuer, &tls, err);
    if (rc != AF_OK)
        goto out;
    rc = af_keyring_set_meta(srv->keyring, af_h_discovery_build);
    if (rc != AF_OK) {
        AF_ERR_SET(err, rc, "cannot build the metadata document");
        goto out;
    }
    rc = issuers_open(srv, tls, https, err);
    if (rc != AF_OK)
        goto out;
    srv->daemon =
        start_daemon(srv->main_l, fd, cfg->threads ? cfg->threads : 4, SERVER_MAX_CONNECTIONS, tls);
    if (srv->daemon == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_IO, "cannot start the HTTP%s server on %s", https ? "S" : "",
                        listen_s);
        goto out;
    }
    fd = -1; /* owned by MHD now */
    if (admin_listen != NULL) {
        rc = admin_start(srv, admin_listen, err);
        if (rc != AF_OK)
            goto out;
    }
    *out = srv;
    srv = NULL;
out:
    if (fd >= 0)
        close(fd);
    free(origin);
    af_tls_free(tls); /* libmicrohttpd made its own copy */
    af_server_stop(srv);
    return rc;
}

af_rc af_server_check_config(const struct af_config *cfg, struct af_err *err)
{
    af_rc rc = af_scen_config_check(cfg, err);
    if (rc == AF_OK)
        rc = check_key_files(cfg, err);
    if (rc == AF_OK)
        rc = check_issuer_paths(cfg, err);
    for (size_t i = 0; i < cfg->nissuers && rc == AF_OK; i++) {
        rc = af_scen_config_check(&cfg->issuers[i], err);
        if (rc == AF_OK)
            rc = check_key_files(&cfg->issuers[i], err);
    }
    if (rc == AF_OK && cfg->tls_cert_file != NULL) {
        /* the pair is read again at start: checked here so that a key of
         * another certificate is a config error, as a wrong signing key is */
        char *cert = NULL, *key = NULL;
        struct af_err terr;
        af_err_clear(&terr);
        rc = af_x509_load_pair(cfg->tls_cert_file, cfg->tls_key_file, &cert, &key, &terr);
        if (rc != AF_OK)
            AF_ERR_SET(err, rc, "%s: tls: %s", cfg->source, terr.msg);
        free(cert);
        af_x509_secret_free(key);
    }
    return rc;
}

unsigned short af_server_port(const struct af_server *srv)
{
    return srv->port;
}

const char *af_server_issuer(const struct af_server *srv)
{
    return srv->issuer;
}

const char *af_server_issuer_at(const struct af_server *srv, size_t i)
{
    return i < srv->nissuers ? srv->issuers[i]->issuer : NULL;
}

unsigned short af_server_admin_port(const struct af_server *srv)
{
    return srv->admin_port;
}

const char *af_server_admin_url(const struct af_server *srv)
{
    return srv->admin_url;
}

/* draining: whether a stop must still wait: a request is being served, or
 * connections are open and a request started or ended a moment ago (its
 * client may be sending the next one on a connection that still has no
 * Connection: close). */
static bool draining(struct af_server *srv)
{
    uint64_t last = __atomic_load_n(&srv->last_activity_ms, __ATOMIC_SEQ_CST);
    size_t open = af_guard_open(srv->main_l ? srv->main_l->guard : NULL) +
                  af_guard_open(srv->admin_l ? srv->admin_l->guard : NULL);

    if (__atomic_load_n(&srv->inflight, __ATOMIC_SEQ_CST) > 0)
        return true;
    return open > 0 && af_monotonic_ms() - last < SERVER_DRAIN_QUIET_MS;
}

/* quiesce: srv stops accepting on its daemons (every answer from now on
 * says Connection: close, send_resp); the listening sockets MHD hands
 * back wait in srv->quiesced for halt. */
static void quiesce(struct af_server *srv)
{
    struct MHD_Daemon *d[2] = {srv->daemon, srv->admin_daemon};

    __atomic_store_n(&srv->stopping, 1, __ATOMIC_SEQ_CST);
    for (size_t i = 0; i < 2; i++)
        srv->quiesced[i] = d[i] != NULL ? MHD_quiesce_daemon(d[i]) : MHD_INVALID_SOCKET;
}

/* halt: srv's daemons stopped (after quiesce), their sockets closed. */
static void halt(struct af_server *srv)
{
    struct MHD_Daemon *d[2] = {srv->daemon, srv->admin_daemon};

    for (size_t i = 0; i < 2; i++) {
        if (d[i] != NULL)
            MHD_stop_daemon(d[i]);
        if (srv->quiesced[i] != MHD_INVALID_SOCKET)
            close(srv->quiesced[i]);
    }
}

/* any_draining: a daemon of top or of an element of its issuers with a
 * listener of its own still has a request to finish (draining). */
static bool any_draining(struct af_server *top)
{
    if ((top->daemon != NULL || top->admin_daemon != NULL) && draining(top))
        return true;
    for (size_t i = 0; i < top->nissuers; i++) {
        if (top->issuers[i]->daemon != NULL && draining(top->issuers[i]))
            return true;
    }
    return false;
}

void af_server_stop(struct af_server *srv)
{
    uint64_t until = af_monotonic_ms() + SERVER_DRAIN_MS;
    size_t i;

    if (srv == NULL)
        return;
    /* Stop accepting everywhere, then let in-flight requests finish before
     * the threads are stopped; an open connection holds the stop up only
     * while requests come and go, an idle one does not. */
    quiesce(srv);
    for (i = 0; i < srv->nissuers; i++)
        quiesce(srv->issuers[i]);
    /* delayed answers go out now, so that they do not outlast the drain */
    af_delayer_flush(srv->delayer);
    while (af_monotonic_ms() < until && any_draining(srv))
        usleep(5 * 1000);
    halt(srv);
    for (i = 0; i < srv->nissuers; i++)
        halt(srv->issuers[i]);
    af_delayer_free(srv->delayer); /* the elements' is the same, borrowed */
    for (i = 0; i < srv->nissuers; i++) {
        issuer_close(srv->issuers[i]);
        listener_free(srv->issuers[i]->main_l);
        free(srv->issuers[i]);
    }
    free(srv->issuers);
    issuer_close(srv);
    free(srv->admin_url);
    listener_free(srv->main_l);
    listener_free(srv->admin_l);
    free(srv);
}
