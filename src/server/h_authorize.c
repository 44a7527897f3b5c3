/*
 * h_authorize.c - the front channel of authflowd: GET and POST /authorize
 * (RFC 6749 §4.1.1, OIDC Core §3.1.2), the interactive login page, POST
 * /login, and the authorization response in its three response modes
 * (query, fragment, form_post).
 *
 * /authorize and /login share one validation path (authz_check), so the
 * login form can never carry a request that /authorize would refuse.
 * Until the client and its redirect URI are known, errors are an HTML page
 * and never a redirect (RFC 6749 §3.1.2.4, §4.1.2.1): redirecting to an
 * unverified URI would make the server an open redirector.
 */
#include "config.h"

#include <stdio.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "authflow/buf.h"
#include "authflow/cfg.h"
#include "authflow/log.h"
#include "authflow/proto.h"
#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/consent.h"
#include "server/core.h"
#include "server/front_channel.h"
#include "server/http_req.h"
#include "server/page.h"
#include "server/persona.h"
#include "server/routes.h"
#include "server/scenario.h"
#include "server/scope.h"
#include "server/store.h"
#include "server/registry.h"

/* Caps for what this file builds: a redirect URL and an HTML page. The
 * request itself is already capped by cfg->max_body and max_params. */
#define AUTHZ_URL_MAX  (256 * 1024)
#define AUTHZ_PAGE_MAX (512 * 1024)
/* Room for an error_description that names a parameter, a scope, a client
 * and what it registered. */
#define AUTHZ_DESC_MAX 512
/* The largest max_age accepted (ten years); beyond it is a typo. */
#define AUTHZ_MAX_AGE_MAX 315360000L

/* The authorization request parameters authflowd reads. A duplicate of any
 * of them is invalid_request (RFC 6749 §3.1); the login page carries exactly
 * these as hidden fields, so login fields can never collide with them. */
static const char *const authz_param_names[] = {
    AF_P_CLIENT_ID,  AF_P_REDIRECT_URI, AF_P_RESPONSE_TYPE,  AF_P_RESPONSE_MODE,
    AF_P_SCOPE,      AF_P_STATE,        AF_P_NONCE,          AF_P_PROMPT,
    AF_P_LOGIN_HINT, AF_P_MAX_AGE,      AF_P_CODE_CHALLENGE, AF_P_CODE_CHALLENGE_METHOD,
};

/* authz_param_name: the i-th authorization parameter the login page
 * carries and its CSRF token covers: authz_param_names, then those of the
 * issuer's persona that the handler reads (persona.h); NULL past the last. */
static const char *authz_param_name(const struct af_server *srv, size_t i)
{
    const size_t n = sizeof(authz_param_names) / sizeof(authz_param_names[0]);
    const struct af_persona_param *pp;

    if (i < n)
        return authz_param_names[i];
    pp = af_persona_authz_param(af_persona_of(srv), i - n);
    return pp != NULL ? pp->name : NULL;
}

/* The fields the login form adds to the authorization parameters. */
static const char *const login_field_names[] = {
    AF_LOGIN_USER, AF_LOGIN_ACTION, AF_P_USERNAME, AF_P_PASSWORD, AF_LOGIN_CSRF,
};

/* A validated authorization request. Every pointer is borrowed from the
 * request's parameters or from the config, except scope. */
struct authz {
    struct af_server *srv;
    struct af_req *req;                 /* the request, for its ledger facts */
    const struct af_params *in;         /* the request's parameters */
    const struct af_cfg_client *client; /* NULL until step 1 passed */
    const char *redirect_uri;           /* where responses go; NULL until step 2 passed */
    const char *redirect_sent;          /* as sent, NULL when omitted (binds the code) */
    const char *mode;                   /* AF_RM_*: a static string */
    const char *state;                  /* NULL when not sent (or repeated) */
    unsigned redirect_status;           /* 302 after GET, 303 after POST (RFC 9700 §4.12) */
    char *scope;                        /* owned: the scope to grant */
    const char *challenge;              /* NULL: no PKCE */
    const char *challenge_method;       /* static AF_PKCE_* when challenge is set */
    const char *nonce;
    bool prompt_login;
    long max_age;                        /* -1 when not sent */
    const struct af_cfg_user *hint_user; /* the user login_hint names, or NULL */
    const struct af_scenario *hint_scen; /* login_hint "user+scenario": bound to this flow */
    /* The login session the cookie names, when it is live, its user still
     * exists and it is recent enough for max_age; else sess_user is NULL. */
    const char *sid; /* the cookie's value (even when unusable) */
    const struct af_cfg_user *sess_user;
    time_t sess_auth_time;
};

static void authz_clear(struct authz *a)
{
    free(a->scope);
    a->scope = NULL;
}

/* ---- shared helpers (declared in front_channel.h) ---- */

af_rc af_uri_add_params(struct af_buf *out, const char *uri, const struct af_params *p,
                        bool fragment)
{
    af_rc rc;
    const char *hash = strchr(uri, '#');
    size_t base_len = hash ? (size_t)(hash - uri) : strlen(uri);

    /* Registered URIs carry no fragment (RFC 6749 §3.1.2); should one slip
     * in, the parameters must still land where the client reads them. */
    rc = af_buf_add(out, uri, base_len);
    if (rc != AF_OK || p == NULL || p->n == 0)
        goto out;
    if (fragment) {
        rc = af_buf_addc(out, '#');
    } else if (memchr(uri, '?', base_len) == NULL) {
        rc = af_buf_addc(out, '?');
    } else if (uri[base_len - 1] != '?' && uri[base_len - 1] != '&') {
        /* RFC 6749 §3.1.2: the query of a registered URI MUST be retained. */
        rc = af_buf_addc(out, '&');
    }
    if (rc != AF_OK)
        goto out;
    rc = af_params_encode(p, out);
out:
    return rc;
}

const char *af_cookie_name(const struct af_server *srv, const char *base)
{
    const char *own = strcmp(base, AF_SESSION_COOKIE) == 0 ? srv->session_cookie
                      : strcmp(base, AF_LOGIN_COOKIE) == 0 ? srv->login_cookie
                                                           : "";
    return srv->path != NULL && *srv->path != '\0' && *own != '\0' ? own : base;
}

/* cookie_path: where srv's cookies apply: its issuer's path, "/" at the
 * top level and on a listener of its own (RFC 6265 §5.1.4: "/tenant-a"
 * covers "/tenant-a/login"). */
static const char *cookie_path(const struct af_server *srv)
{
    return srv->prefix != NULL && *srv->prefix != '\0' ? srv->prefix : "/";
}

/* cookie_set: Set-Cookie of srv's cookie base (af_cookie_name) = value
 * (af_rand_token output: base64url, safe as a cookie value), HttpOnly,
 * Path=cookie_path, SameSite=same_site, Secure on an https issuer. */
static void cookie_set(struct af_resp *resp, const struct af_server *srv, const char *base,
                       const char *value, const char *same_site)
{
    char v[384];
    bool secure = strncmp(srv->issuer, "https://", 8) == 0;

    snprintf(v, sizeof(v), "%s=%s; Path=%s; HttpOnly; SameSite=%s%s", af_cookie_name(srv, base),
             value, cookie_path(srv), same_site, secure ? "; Secure" : "");
    af_resp_header(resp, AF_HDR_SET_COOKIE, v);
}

void af_session_cookie_set(struct af_resp *resp, const struct af_server *srv, const char *sid)
{
    cookie_set(resp, srv, AF_SESSION_COOKIE, sid, "Lax");
}

void af_session_cookie_clear(struct af_resp *resp, const struct af_server *srv)
{
    char v[384];
    bool secure = strncmp(srv->issuer, "https://", 8) == 0;

    snprintf(v, sizeof(v),
             "%s=; Path=%s; HttpOnly; SameSite=Lax; Max-Age=0; "
             "Expires=Thu, 01 Jan 1970 00:00:00 GMT%s",
             af_cookie_name(srv, AF_SESSION_COOKIE), cookie_path(srv), secure ? "; Secure" : "");
    af_resp_header(resp, AF_HDR_SET_COOKIE, v);
}

/* declined_scope: authorize_scope_declined's scope: from the space
 * separated scope, openid (when asked for) and the first other scope
 * only, as a user who unticked the rest would grant. New string (NULL when
 * out of memory). */
static char *declined_scope(const char *scope)
{
    const char *p = scope, *first = NULL;
    size_t first_len = 0;
    bool openid = false;
    char *out;

    while (*p != '\0') {
        size_t n = strcspn(p, " ");
        if (n == strlen(AF_SCOPE_OPENID) && strncmp(p, AF_SCOPE_OPENID, n) == 0)
            openid = true;
        else if (first == NULL && n > 0) {
            first = p;
            first_len = n;
        }
        p += n;
        p += *p == ' ';
    }
    if (asprintf(&out, "%s%s%.*s", openid ? AF_SCOPE_OPENID : "", openid && first ? " " : "",
                 (int)first_len, first ? first : "") < 0)
        return NULL;
    return out;
}

/* ---- the authorization response ---- */

/* add_hidden: an <input type=hidden> with name and value escaped. */
static af_rc add_hidden(struct af_buf *b, const char *name, const char *value)
{
    af_rc rc = af_buf_adds(b, "<input type=\"hidden\" name=\"");
    if (rc == AF_OK)
        rc = af_html_escape(b, name);
    if (rc == AF_OK)
        rc = af_buf_adds(b, "\" value=\"");
    if (rc == AF_OK)
        rc = af_html_escape(b, value);
    if (rc == AF_OK)
        rc = af_buf_adds(b, "\">\n");
    return rc;
}

/* form_post_page: the OAuth 2.0 Form Post Response Mode page: a form that
 * POSTs the response parameters to the redirect URI, submitted by the one
 * script a page may carry (af_page_autosubmit), with a button for browsers
 * without script. */
static af_rc form_post_page(struct af_buf *b, const char *uri, const struct af_params *p)
{
    af_rc rc;
    size_t i;

    rc = af_page_open(b, "Submit this form");
    if (rc == AF_OK)
        rc = af_buf_adds(b, "<form method=\"post\" action=\"");
    if (rc == AF_OK)
        rc = af_html_escape(b, uri);
    if (rc == AF_OK)
        rc = af_buf_adds(b, "\">\n");
    for (i = 0; i < p->n && rc == AF_OK; i++)
        rc = add_hidden(b, p->v[i].name, p->v[i].value);
    if (rc == AF_OK)
        rc = af_buf_adds(b, "<noscript><p>Script is off: press Continue to return to the "
                            "application.</p><button type=\"submit\">Continue</button>"
                            "</noscript>\n</form>\n");
    if (rc == AF_OK)
        rc = af_page_autosubmit(b);
    if (rc == AF_OK)
        rc = af_page_close(b);
    return rc;
}

/* authz_deliver: send the response parameters p to the client in the
 * request's response mode. */
static void authz_deliver(struct af_resp *resp, const struct authz *a, const struct af_params *p)
{
    struct af_buf b;
    af_rc rc;

    if (strcmp(a->mode, AF_RM_FORM_POST) == 0) {
        af_buf_init(&b, AUTHZ_PAGE_MAX);
        rc = form_post_page(&b, a->redirect_uri, p);
        if (rc == AF_OK)
            af_resp_html_autosubmit(resp, 200, af_buf_str(&b));
        /* an error travels in the form: say so for the ledger */
        if (rc == AF_OK && resp->ctype != NULL)
            af_resp_set_error(resp, af_params_get(p, AF_P_ERROR));
    } else {
        af_buf_init(&b, AUTHZ_URL_MAX);
        rc = af_uri_add_params(&b, a->redirect_uri, p, strcmp(a->mode, AF_RM_FRAGMENT) == 0);
        if (rc == AF_OK) {
            af_resp_redirect(resp, a->redirect_status, af_buf_str(&b));
            /* It may carry a code: keep it out of every cache (HTML pages
             * get no-store from af_resp_html). */
            af_resp_no_store(resp);
        }
    }
    if (rc != AF_OK) {
        af_log_error("authorize: cannot build the response for client %s: %s", a->client->id,
                     af_rc_str(rc));
        af_resp_error_page(resp, 500, AF_E_SERVER_ERROR,
                           "the authorization response could not be built");
    }
    af_buf_free(&b);
}

/* authz_error: an error response to the client (RFC 6749 §4.1.2.1) with
 * state and iss (RFC 9207 §2). Only for errors found once the redirect URI
 * is trusted. */
static void authz_error(struct af_resp *resp, const struct authz *a, const char *error,
                        const char *desc)
{
    char clean[AF_RESP_REASON_MAX + 1];
    struct af_params p;
    af_rc rc;

    af_params_init(&p, 8);
    rc = af_params_add(&p, AF_P_ERROR, error);
    if (rc == AF_OK && desc != NULL) {
        af_resp_desc_clean(clean, sizeof(clean), desc);
        rc = af_params_add(&p, AF_P_ERROR_DESCRIPTION, clean);
    }
    if (rc == AF_OK && a->state != NULL)
        rc = af_params_add(&p, AF_P_STATE, a->state);
    if (rc == AF_OK)
        rc = af_params_add(&p, AF_P_ISS, a->srv->issuer);
    if (rc == AF_OK)
        authz_deliver(resp, a, &p);
    else
        af_resp_error_page(resp, 500, AF_E_SERVER_ERROR, "out of memory");
    /* delivered (not a 500 page): the reason is desc as given */
    if (resp->error[0] != '\0' && desc != NULL)
        af_resp_reason(resp, "%s", desc);
    af_params_free(&p);
}

/* ---- validation ---- */

/* authz_scope: the scope to grant. Omitted: everything the client may ask
 * for. Otherwise every token must be well-formed and allowed to the client;
 * on failure desc explains and AF_ERR_INVALID is returned. */
static af_rc authz_scope(const struct af_cfg_client *c, const char *want, char **out, char *desc,
                         size_t desc_len)
{
    af_rc rc = AF_OK;

    *out = NULL;
    if (want == NULL) {
        *out = af_scope_client_default(c);
        rc = *out ? AF_OK : AF_ERR_NOMEM;
        goto out;
    }
    if (!af_scope_client_explain(c, want, desc, desc_len)) {
        rc = AF_ERR_INVALID;
        goto out;
    }
    *out = strdup(want);
    if (*out == NULL)
        rc = AF_ERR_NOMEM;
out:
    return rc;
}

/* parse_max_age: OIDC Core §3.1.2.1: a non-negative number of seconds. */
static bool parse_max_age(const char *s, long *out)
{
    long v = 0;
    const char *p;
    if (*s == '\0')
        return false;
    for (p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
        if (v > AUTHZ_MAX_AGE_MAX)
            return false;
    }
    *out = v;
    return true;
}

/* authz_load_session: look at the session cookie. A session counts only
 * when it is live in the store, its user is still configured and, with
 * max_age, it is recent enough: auth_time is in whole seconds, so a
 * session whose age reads max_age may be up to a second older than
 * max_age and no longer counts, and max_age=0 always asks again (OIDC
 * Core §3.1.2.1: more than max_age seconds MUST re-authenticate). */
static void authz_load_session(struct af_req *req, struct authz *a)
{
    struct af_session_rec rec = {0};
    const char *sid = af_req_cookie(req, af_cookie_name(req->srv, AF_SESSION_COOKIE));

    if (sid == NULL || *sid == '\0')
        return;
    a->sid = sid;
    if (af_session_get(req->srv->store, sid, &rec) != AF_OK)
        return;
    if (rec.sub != NULL && (a->max_age < 0 || af_now() - rec.auth_time < a->max_age)) {
        a->sess_user = af_user_by_sub(req->srv, rec.sub);
        a->sess_auth_time = rec.auth_time;
    }
    af_session_rec_clear(&rec);
}

/* authz_login_hint: login_hint names a user (username or sub) or, in
 * authflowd's convention "USER+SCENARIO" (docs/scenarios.md), a user (or
 * nobody: "+SCENARIO") and a scenario bound to this one flow. false with
 * desc set when it names neither. */
static bool authz_login_hint(const struct af_server *srv, const char *hint, struct authz *a,
                             char *desc, size_t desc_len)
{
    char user[256];
    size_t ulen;
    const char *sep;

    a->hint_user = af_user_find(srv, hint);
    if (a->hint_user != NULL)
        return true;
    if (af_scen_login_hint(hint, &a->hint_scen, &ulen)) {
        if (ulen == 0)
            return true; /* the headless default user */
        if (ulen < sizeof(user)) {
            memcpy(user, hint, ulen);
            user[ulen] = '\0';
            a->hint_user = af_user_find(srv, user);
        }
        if (a->hint_user != NULL)
            return true;
        a->hint_scen = NULL;
        snprintf(desc, desc_len, "login_hint names no configured user");
        return false;
    }
    /* "alice+no_such_thing": say which half is wrong */
    sep = strrchr(hint, '+');
    if (sep == NULL)
        sep = strrchr(hint, ' ');
    ulen = sep ? (size_t)(sep - hint) : 0;
    if (sep != NULL && ulen < sizeof(user)) {
        memcpy(user, hint, ulen);
        user[ulen] = '\0';
        if (ulen == 0 || af_user_find(srv, user) != NULL) {
            snprintf(desc, desc_len, "login_hint: unknown scenario %.64s (docs/scenarios.md)",
                     sep + 1);
            return false;
        }
    }
    snprintf(desc, desc_len, "login_hint names no configured user");
    return false;
}

/* after_port: p just past an http URI's host; the rest after an optional
 * ":PORT" (1..65535), when it is the end of the authority ('/', '?' or the
 * end), else NULL. */
static const char *after_port(const char *p)
{
    if (*p == ':') {
        long port = 0;
        int n = 0;
        for (p++; *p >= '0' && *p <= '9' && n < 6; p++, n++)
            port = port * 10 + (*p - '0');
        if (n == 0 || n > 5 || port < 1 || port > 65535)
            return NULL;
    }
    return (*p == '\0' || *p == '/' || *p == '?') ? p : NULL;
}

/* loopback_port_match: RFC 8252 §7.3: a native app's http redirect URI on
 * a loopback IP literal matches the registered one whatever port either
 * names; scheme, host, path and query still match exactly. "localhost" is
 * not covered (RFC 8252 §8.3). By hand, as a prefix test: authflowd links
 * no URL parser (src/common/url_endpoint.c says why), and the exact
 * comparison of the rest leaves no room for a parser's opinion. */
static bool loopback_port_match(const char *reg, const char *sent)
{
    static const char *const hosts[] = {"http://127.0.0.1", "http://[::1]"};
    size_t i;

    for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        size_t hl = strlen(hosts[i]);
        const char *r, *q;
        if (strncmp(reg, hosts[i], hl) != 0 || strncmp(sent, hosts[i], hl) != 0)
            continue;
        r = after_port(reg + hl);
        q = after_port(sent + hl);
        return r != NULL && q != NULL && strcmp(r, q) == 0;
    }
    return false;
}

/* authz_check_client: steps 1 and 2, the client and its redirect URI:
 * AF_OK with a->client and a->redirect_uri set, else AF_ERR_INVALID with an
 * error page in resp (never a redirect: the target is not trusted yet). */
static af_rc authz_check_client(const struct af_server *srv, const struct af_params *in,
                                struct authz *a, struct af_resp *resp)
{
    af_rc rc = AF_ERR_INVALID;
    const struct af_cfg_client *c;
    const char *v;
    char desc[AUTHZ_DESC_MAX], registered[200];
    size_t i, n;

    /* 1. The client: an error page, never a redirect. */
    n = af_params_count(in, AF_P_CLIENT_ID);
    if (n != 1) {
        af_resp_error_page(resp, 400, AF_E_INVALID_REQUEST,
                           n == 0 ? "client_id is missing" : "client_id is repeated");
        goto out;
    }
    v = af_params_get(in, AF_P_CLIENT_ID);
    c = af_client_find(srv, v);
    if (c == NULL) {
        /* The page names what came, not what is registered: client ids
         * are no secret (RFC 6749 §2.2), but this page answers anyone who
         * asks, and a list of every client is the configuration's to show,
         * not an unauthenticated page's. */
        const struct af_page_detail d = {
            .rows = {{.label = "client_id received", .value = v}},
            .hint = "authflowd knows the clients of its configuration file (clients[].client_id): "
                    "check the spelling, or the configuration the server was started with.",
        };
        snprintf(desc, sizeof(desc), "unknown client %.128s: client_id names no registered client",
                 v);
        af_resp_error_page_detail(resp, 400, AF_E_INVALID_REQUEST, desc, &d);
        goto out;
    }
    a->client = c;

    /* 2. The redirect URI: exact string match (RFC 9700 §2.1), but for a
     * native client's loopback port (RFC 8252 §7.3); an error page on any
     * doubt. */
    n = af_params_count(in, AF_P_REDIRECT_URI);
    if (n > 1) {
        af_resp_error_page(resp, 400, AF_E_INVALID_REQUEST, "redirect_uri is repeated");
        goto out;
    }
    if (n == 1) {
        v = af_params_get(in, AF_P_REDIRECT_URI);
        for (i = 0; i < c->redirect_uris.n && a->redirect_uri == NULL; i++) {
            if (strcmp(c->redirect_uris.v[i], v) == 0)
                a->redirect_uri = c->redirect_uris.v[i];
            else if (c->app_type == AF_APP_NATIVE && loopback_port_match(c->redirect_uris.v[i], v))
                a->redirect_uri = v; /* the port the app listens on now */
        }
        if (a->redirect_uri == NULL) {
            bool native = c->app_type == AF_APP_NATIVE;
            const struct af_page_detail d = {
                .rows = {{.label = "redirect_uri received", .value = v},
                         {.label = "redirect_uris registered for this client",
                          .list = c->redirect_uris.v,
                          .nlist = c->redirect_uris.n}},
                .hint = native ? AF_HINT_NATIVE_URI : AF_HINT_EXACT_URI,
            };
            af_strv_join(registered, sizeof(registered), c->redirect_uris.v, c->redirect_uris.n,
                         ", ");
            if (native)
                snprintf(desc, sizeof(desc),
                         "redirect_uri %.160s is not registered for %.64s; registered: %.180s "
                         "(exact match, any port on a loopback IP)",
                         v, c->id, c->redirect_uris.n > 0 ? registered : "none");
            else
                snprintf(desc, sizeof(desc),
                         "redirect_uri %.160s is not registered for %.64s; registered: %s (exact "
                         "match required)",
                         v, c->id, c->redirect_uris.n > 0 ? registered : "none");
            af_resp_error_page_detail(resp, 400, AF_E_INVALID_REQUEST, desc, &d);
            goto out;
        }
        a->redirect_sent = v;
    } else if (c->redirect_uris.n == 1) {
        a->redirect_uri = c->redirect_uris.v[0]; /* RFC 6749 §3.1.2.3 */
    } else {
        const struct af_page_detail d = {
            .rows = {{.label = "redirect_uris registered for this client",
                      .list = c->redirect_uris.v,
                      .nlist = c->redirect_uris.n}},
            .hint = c->redirect_uris.n > 0
                        ? "Send one of them as redirect_uri (RFC 6749 §3.1.2.3)."
                        : "Register one in the configuration (clients[].redirect_uris).",
        };
        af_strv_join(registered, sizeof(registered), c->redirect_uris.v, c->redirect_uris.n, ", ");
        snprintf(desc, sizeof(desc), "redirect_uri is required: %.64s has %s registered (%s)",
                 c->id, c->redirect_uris.n > 0 ? "several" : "none", registered);
        af_resp_error_page_detail(resp, 400, AF_E_INVALID_REQUEST, desc, &d);
        goto out;
    }
    rc = AF_OK;
out:
    return rc;
}

/* authz_check_persona: the values of the persona's own parameters that
 * this handler reads (persona.h authz_params): AF_OK, else AF_ERR_INVALID
 * with the error redirect in resp. */
static af_rc authz_check_persona(const struct af_params *in, struct authz *a, struct af_resp *resp)
{
    const struct af_persona *p = af_persona_of(a->srv);
    const struct af_persona_param *pp;
    const char *v;
    char desc[AUTHZ_DESC_MAX], allowed[128];
    size_t i, j;

    for (i = 0; (pp = af_persona_authz_param(p, i)) != NULL; i++) {
        v = af_params_get(in, pp->name);
        for (j = 0; v != NULL && pp->values[j] != NULL && strcmp(v, pp->values[j]) != 0; j++)
            ;
        if (v == NULL || pp->values[j] != NULL)
            continue;
        for (j = 0; pp->values[j] != NULL; j++)
            ;
        af_strv_join(allowed, sizeof(allowed), (char *const *)pp->values, j, ", ");
        snprintf(desc, sizeof(desc), "%s %.64s is not one of %s (the %s dialect)", pp->name, v,
                 allowed, p->name);
        authz_error(resp, a, AF_E_INVALID_REQUEST, desc);
        return AF_ERR_INVALID;
    }
    return AF_OK;
}

/* authz_check_request: step 3, the request's own shape (state,
 * response_mode, repeated parameters, response_type, request objects, the
 * client's grant): AF_OK, else AF_ERR_INVALID with the error redirect in
 * resp. */
static af_rc authz_check_request(const struct af_params *in, struct authz *a, struct af_resp *resp)
{
    af_rc rc = AF_ERR_INVALID;
    const struct af_cfg_client *c = a->client;
    const char *v;
    char desc[AUTHZ_DESC_MAX];
    size_t i, n;

    /* 3. From here on errors go back to the client. */
    if (af_params_count(in, AF_P_STATE) == 1)
        a->state = af_params_get(in, AF_P_STATE);
    n = af_params_count(in, AF_P_RESPONSE_MODE);
    v = af_params_get(in, AF_P_RESPONSE_MODE);
    if (n == 1 && strcmp(v, AF_RM_QUERY) == 0) {
        a->mode = AF_RM_QUERY;
    } else if (n == 1 && strcmp(v, AF_RM_FRAGMENT) == 0) {
        a->mode = AF_RM_FRAGMENT;
    } else if (n == 1 && strcmp(v, AF_RM_FORM_POST) == 0) {
        a->mode = AF_RM_FORM_POST;
    } else if (n > 0) {
        snprintf(desc, sizeof(desc),
                 n > 1 ? "response_mode is repeated"
                       : "response_mode %.64s is not supported (query, fragment, form_post)",
                 v);
        authz_error(resp, a, AF_E_INVALID_REQUEST, desc);
        goto out;
    }
    for (i = 0; (v = authz_param_name(a->srv, i)) != NULL; i++) {
        if (af_params_count(in, v) > 1) {
            snprintf(desc, sizeof(desc), "%s is repeated", v);
            authz_error(resp, a, AF_E_INVALID_REQUEST, desc);
            goto out;
        }
    }
    if (authz_check_persona(in, a, resp) != AF_OK)
        goto out;

    v = af_params_get(in, AF_P_RESPONSE_TYPE);
    if (v == NULL) {
        authz_error(resp, a, AF_E_INVALID_REQUEST, "response_type is missing");
        goto out;
    }
    if (strcmp(v, AF_RT_CODE) != 0) {
        snprintf(desc, sizeof(desc),
                 "response_type %.64s is not supported: only response_type=code is", v);
        authz_error(resp, a, AF_E_UNSUPPORTED_RT, desc);
        goto out;
    }
    /* OIDC Core §6.1, §6.2: an OP without request objects MUST say so
     * rather than ignore them (the client may rely on their content). */
    if (af_params_get(in, AF_P_REQUEST) != NULL) {
        authz_error(resp, a, AF_E_REQUEST_NOT_SUPPORTED, "request objects are not supported");
        goto out;
    }
    if (af_params_get(in, AF_P_REQUEST_URI) != NULL) {
        authz_error(resp, a, AF_E_REQUEST_URI_NOT_SUPPORTED, "request_uri is not supported");
        goto out;
    }
    if (!(c->grant_types & AF_GRANT_AUTHORIZATION_CODE)) {
        snprintf(desc, sizeof(desc), "client %s is not registered for the authorization_code grant",
                 c->id);
        authz_error(resp, a, AF_E_UNAUTHORIZED_CLIENT, desc);
        goto out;
    }
    rc = AF_OK;
out:
    return rc;
}

/* authz_check_pkce: code_challenge and its method (RFC 7636 §4.3,
 * §4.4.1), noted in req->facts: AF_OK with a->challenge and
 * a->challenge_method set (NULL: no PKCE), else AF_ERR_INVALID with the
 * error redirect in resp. */
static af_rc authz_check_pkce(struct af_req *req, const struct af_params *in, struct authz *a,
                              struct af_resp *resp)
{
    af_rc rc = AF_ERR_INVALID;
    const struct af_cfg_client *c = a->client;
    const char *method;

    /* PKCE (RFC 7636 §4.3, §4.4.1). */
    a->challenge = af_params_get(in, AF_P_CODE_CHALLENGE);
    method = af_params_get(in, AF_P_CODE_CHALLENGE_METHOD);
    if (method != NULL && strcmp(method, AF_PKCE_S256) != 0 && strcmp(method, AF_PKCE_PLAIN) != 0) {
        char desc[AUTHZ_DESC_MAX];
        snprintf(desc, sizeof(desc), "code_challenge_method %.64s is neither S256 nor plain",
                 method);
        authz_error(resp, a, AF_E_INVALID_REQUEST, desc);
        goto out;
    }
    if (method != NULL && a->challenge == NULL) {
        authz_error(resp, a, AF_E_INVALID_REQUEST,
                    "code_challenge_method was sent without code_challenge");
        goto out;
    }
    req->facts.pkce_seen = true;
    req->facts.pkce_sent = a->challenge != NULL;
    req->facts.pkce_verified = -1;
    if (a->challenge != NULL) {
        /* A challenge without a method means plain (RFC 7636 §4.3). */
        a->challenge_method =
            method == NULL || strcmp(method, AF_PKCE_PLAIN) == 0 ? AF_PKCE_PLAIN : AF_PKCE_S256;
        req->facts.pkce_method = a->challenge_method;
        if (strcmp(a->challenge_method, AF_PKCE_PLAIN) == 0 && !c->allow_plain_pkce) {
            authz_error(resp, a, AF_E_INVALID_REQUEST,
                        method == NULL ? "code_challenge_method is missing and plain is not "
                                         "allowed for this client: use S256"
                                       : "code_challenge_method plain is not allowed for this "
                                         "client: use S256");
            goto out;
        }
        /* The challenge has the verifier's syntax (RFC 7636 §4.2). */
        if (!af_pkce_verifier_valid(a->challenge)) {
            authz_error(resp, a, AF_E_INVALID_REQUEST,
                        "code_challenge must be 43 to 128 unreserved characters");
            goto out;
        }
    } else if (c->require_pkce) {
        char desc[AUTHZ_DESC_MAX];
        snprintf(desc, sizeof(desc),
                 "code_challenge is required for client %s (require_pkce; RFC 7636 4.4.1)", c->id);
        authz_error(resp, a, AF_E_INVALID_REQUEST, desc);
        goto out;
    }
    rc = AF_OK;
out:
    return rc;
}

/* authz_check_login: prompt, max_age, the login session and login_hint:
 * AF_OK with a's session and hint fields set, else AF_ERR_INVALID with the
 * error redirect in resp. */
static af_rc authz_check_login(struct af_req *req, const struct af_params *in, struct authz *a,
                               struct af_resp *resp)
{
    af_rc rc = AF_ERR_INVALID;
    const char *v, *prompt;
    char desc[AUTHZ_DESC_MAX];
    bool hint_ok;

    /* prompt (OIDC Core §3.1.2.1): none may not be combined with others. */
    prompt = af_params_get(in, AF_P_PROMPT);
    if (af_str_has_space_token(prompt, AF_PROMPT_NONE) && strcmp(prompt, AF_PROMPT_NONE) != 0) {
        authz_error(resp, a, AF_E_INVALID_REQUEST, "prompt=none may not be combined with others");
        goto out;
    }
    a->prompt_login = af_str_has_space_token(prompt, AF_PROMPT_LOGIN);
    v = af_params_get(in, AF_P_MAX_AGE);
    if (v != NULL && !parse_max_age(v, &a->max_age)) {
        authz_error(resp, a, AF_E_INVALID_REQUEST, "max_age must be a number of seconds");
        goto out;
    }

    authz_load_session(req, a);
    v = af_params_get(in, AF_P_LOGIN_HINT);
    hint_ok = v == NULL || authz_login_hint(a->srv, v, a, desc, sizeof(desc));
    if (prompt != NULL && strcmp(prompt, AF_PROMPT_NONE) == 0) {
        if (a->sess_user == NULL) {
            authz_error(resp, a, AF_E_LOGIN_REQUIRED, "prompt=none and no login session");
            goto out;
        }
        /* The session belongs to someone else than the one asked for. */
        if (a->hint_user != NULL && a->hint_user != a->sess_user) {
            authz_error(resp, a, AF_E_LOGIN_REQUIRED,
                        "prompt=none and the login session is another user's");
            goto out;
        }
    }
    if (!hint_ok) {
        authz_error(resp, a, AF_E_INVALID_REQUEST, desc);
        goto out;
    }
    rc = AF_OK;
out:
    return rc;
}

/* authz_check: validate an authorization request in the order the spec
 * fixes. AF_OK: a is filled and nothing is in resp. Anything else: resp
 * holds the answer (an error page or an error redirect) and the caller
 * only clears a. */
static af_rc authz_check(struct af_req *req, const struct af_params *in, struct authz *a,
                         struct af_resp *resp)
{
    char desc[AUTHZ_DESC_MAX];
    af_rc rc;

    memset(a, 0, sizeof(*a));
    a->srv = req->srv;
    a->req = req;
    a->in = in;
    a->mode = AF_RM_QUERY;
    a->max_age = -1;
    a->redirect_status = req->method == AF_M_POST ? 303 : 302;

    rc = authz_check_client(req->srv, in, a, resp);
    if (rc != AF_OK)
        goto out;
    rc = authz_check_request(in, a, resp);
    if (rc != AF_OK)
        goto out;
    rc = authz_scope(a->client, af_params_get(in, AF_P_SCOPE), &a->scope, desc, sizeof(desc));
    if (rc == AF_ERR_INVALID) {
        authz_error(resp, a, AF_E_INVALID_SCOPE, desc);
        goto out;
    }
    if (rc != AF_OK) {
        authz_error(resp, a, AF_E_SERVER_ERROR, "out of memory");
        goto out;
    }
    rc = authz_check_pkce(req, in, a, resp);
    if (rc != AF_OK)
        goto out;
    a->nonce = af_params_get(in, AF_P_NONCE);
    rc = authz_check_login(req, in, a, resp);
out:
    return rc;
}

/* ---- issuing the code ---- */

/* authz_new_session: a fresh login session for user, replacing the one the
 * request came with (a new id on every login: no session fixation). */
static af_rc authz_new_session(struct authz *a, const struct af_cfg_user *user, char **sid_out,
                               time_t *auth_time)
{
    struct af_session_rec rec = {0};
    time_t now = af_now();
    af_rc rc;

    if (a->sid != NULL)
        af_session_drop(a->srv->store, a->sid);
    rec.sub = user->sub;
    rec.auth_time = now;
    rec.expires = now + a->srv->cfg->session_ttl;
    rc = af_session_put(a->srv->store, &rec, sid_out);
    if (rc == AF_OK)
        *auth_time = now;
    return rc;
}

/* authz_scenario: the scenario bound to this flow: login_hint's, else the
 * first queued one for this client and user; *delay_ms its delay. */
static const struct af_scenario *authz_scenario(const struct authz *a,
                                                const struct af_cfg_user *user, unsigned *delay_ms)
{
    unsigned cap = af_scen_delay_cap(a->srv->cfg);

    if (a->hint_scen != NULL) {
        *delay_ms = a->hint_scen->takes_delay
                        ? (AF_SCEN_DELAY_DEFAULT_MS < cap ? AF_SCEN_DELAY_DEFAULT_MS : cap)
                        : 0;
        return a->hint_scen;
    }
    /* without openid there will be no ID token and no /userinfo: leave
     * those scenarios for a flow that has them */
    return af_scen_take(
        a->srv->scen,
        af_str_has_space_token(a->scope, AF_SCOPE_OPENID)
            ? AF_STAGES_FLOW
            : AF_STAGES_FLOW & ~(AF_STAGE_BIT(AF_STAGE_ID_TOKEN) | AF_STAGE_BIT(AF_STAGE_USERINFO)),
        a->client->id, user, delay_ms);
}

/* authz_grant: log user in (reusing the request's session when it is that
 * user's and no fresh login is due), store a code and answer the client.
 * A scenario bound to the flow here either changes this answer (authorize
 * stage) or rides on the code to /token and beyond. */
static void authz_grant(struct af_resp *resp, struct authz *a, const struct af_cfg_user *user,
                        bool fresh_login)
{
    struct af_code_rec rec = {0};
    struct af_scen_ctx sx = {0};
    const struct af_scenario *sc;
    const char *state = a->state, *iss = a->srv->issuer;
    struct af_params p;
    char *sid = NULL, *code = NULL, *changed = NULL, *wrong_iss = NULL, *grant = NULL;
    unsigned delay_ms = 0;
    time_t auth_time;
    af_rc rc;

    af_params_init(&p, 8);
    if (!fresh_login && a->sess_user == user) {
        sid = strdup(a->sid);
        rc = sid ? AF_OK : AF_ERR_NOMEM;
        auth_time = a->sess_auth_time;
    } else {
        rc = authz_new_session(a, user, &sid, &auth_time);
    }
    if (rc != AF_OK) {
        authz_error(resp, a, rc == AF_ERR_NET ? AF_E_TEMP_UNAVAILABLE : AF_E_SERVER_ERROR,
                    rc == AF_ERR_NET ? AF_STORE_DOWN_MSG : "the login session could not be stored");
        goto out;
    }
    a->req->facts.sub = user->sub;

    sc = authz_scenario(a, user, &delay_ms);
    a->req->facts.scenario = sc;
    sx.srv = a->srv;
    if (sc != NULL && sc->stage == AF_STAGE_AUTHORIZE && af_scenario_run(sc, &sx) != AF_OK) {
        authz_error(resp, a, AF_E_SERVER_ERROR, "the scenario could not be applied");
        goto cookie;
    }
    if (sx.fx.authz_error != NULL) {
        char desc[96];
        snprintf(desc, sizeof(desc), "authflow scenario %s", sc->name);
        authz_error(resp, a, sx.fx.authz_error, desc);
        goto cookie;
    }

    /* authorize_scope_declined: the code carries less than was asked */
    if (sx.fx.scope_declined) {
        char *less = declined_scope(a->scope);
        if (less == NULL) {
            authz_error(resp, a, AF_E_SERVER_ERROR, "out of memory");
            goto cookie;
        }
        free(a->scope);
        a->scope = less;
    }
    /* a persona's consent rules (consent.h), over what the user granted:
     * the scopes granted before may join this grant, and whether the code
     * brings a refresh token */
    rc = af_consent_grant(a->srv, a->in, a->client, user, &a->scope, &rec.no_refresh);
    if (rc == AF_ERR_STATE) {
        authz_error(resp, a, AF_E_CONSENT_REQUIRED,
                    "prompt=none, but the user has not granted this client all it asks for "
                    "(its scope, or offline access) before");
        goto cookie;
    }
    if (rc != AF_OK) {
        authz_error(resp, a, rc == AF_ERR_NET ? AF_E_TEMP_UNAVAILABLE : AF_E_SERVER_ERROR,
                    rc == AF_ERR_NET ? AF_STORE_DOWN_MSG : "the consent could not be stored");
        goto cookie;
    }
    /* af_code_put copies every field; the casts only drop const. */
    rec.client_id = a->client->id;
    rec.redirect_uri = (char *)a->redirect_sent;
    rec.challenge = (char *)a->challenge;
    rec.challenge_method = (char *)a->challenge_method;
    rec.scope = a->scope;
    rec.sub = user->sub;
    rec.nonce = (char *)a->nonce;
    rec.auth_time = auth_time;
    rec.expires = af_now() + a->srv->cfg->code_ttl;
    rec.sid = sid;
    if (sc != NULL && sc->stage != AF_STAGE_AUTHORIZE) {
        rec.scenario = sc;
        rec.scenario_delay_ms = delay_ms;
    }
    /* authorize_code_missing: no code is issued at all */
    if (!sx.fx.drop_code)
        rc = af_code_put(a->srv->store, &rec, &code, &grant);
    af_req_set_flow(a->req, grant);
    if (rc == AF_OK && sx.fx.change_state) {
        if (asprintf(&changed, "%s%s", state ? state : AF_SCEN_UNSOLICITED_STATE,
                     state ? AF_SCEN_STATE_SUFFIX : "") < 0) {
            changed = NULL;
            rc = AF_ERR_NOMEM;
        }
        state = changed;
    }
    if (rc == AF_OK && sx.fx.wrong_iss) {
        if (asprintf(&wrong_iss, "%s%s", iss, AF_SCEN_WRONG_ISS_SUFFIX) < 0) {
            wrong_iss = NULL;
            rc = AF_ERR_NOMEM;
        }
        iss = wrong_iss;
    }
    if (rc == AF_OK && code != NULL) {
        rc = af_params_add(&p, AF_P_CODE, code);
        /* what the code grants, for a persona's redirect (h_persona.c) */
        free(a->req->facts.granted_scope);
        a->req->facts.granted_scope = strdup(a->scope);
        if (a->req->facts.granted_scope == NULL)
            rc = AF_ERR_NOMEM;
    }
    if (rc == AF_OK && state != NULL && !sx.fx.drop_state)
        rc = af_params_add(&p, AF_P_STATE, state);
    if (rc == AF_OK && !sx.fx.drop_iss)
        rc = af_params_add(&p, AF_P_ISS, iss);
    if (rc == AF_OK) {
        /* what the client's callback gets with the code, against what it
         * sent (the findings: a code redeemed after a state it never sent) */
        if (code == NULL)
            a->req->facts.state_returned = NULL;
        else if (sx.fx.drop_state && a->state != NULL)
            a->req->facts.state_returned = AF_LEDGER_STATE_DROPPED;
        else if (sx.fx.change_state)
            a->req->facts.state_returned =
                a->state != NULL ? AF_LEDGER_STATE_CHANGED : AF_LEDGER_STATE_UNSOLICITED;
        else if (a->state != NULL)
            a->req->facts.state_returned = AF_LEDGER_STATE_AS_SENT;
        authz_deliver(resp, a, &p); /* server.c logs it, with the sub and the scenario */
    } else if (rc == AF_ERR_TOOBIG) {
        /* The store's cap on live codes (cfg->max_codes) was reached. */
        authz_error(resp, a, AF_E_TEMP_UNAVAILABLE, "too many live authorization codes");
    } else if (rc == AF_ERR_NET) {
        /* RFC 6749 §4.1.2.1: the error goes back to the client */
        authz_error(resp, a, AF_E_TEMP_UNAVAILABLE, AF_STORE_DOWN_MSG);
    } else {
        authz_error(resp, a, AF_E_SERVER_ERROR, "the authorization code could not be stored");
    }
cookie:
    /* The user is logged in even when no code was issued. */
    af_session_cookie_set(resp, a->srv, sid);
out:
    free(code);
    free(grant);
    free(sid);
    free(changed);
    free(wrong_iss);
    af_params_free(&p);
}

/* ---- the login page ---- */

/* The login cookie's value: af_rand_token of LOGIN_COOKIE_BYTES. */
#define LOGIN_COOKIE_BYTES 32
#define B64URL_CHARS       "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

/* login_csrf: the form's token for the login cookie's value and the
 * authorization request a->in: base64url(HMAC-SHA256(csrf_key, cookie,
 * then each parameter of authz_param_name as name=value)). It binds a
 * POST /login to the browser that got the page (the cookie, which another
 * site can neither read nor set) and to this pending authorization. Caller
 * frees; NULL on failure. */
static char *login_csrf(const struct authz *a, const char *cookie)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    struct af_buf msg, out;
    af_rc rc;
    char *tok = NULL;

    af_buf_init(&msg, AUTHZ_PAGE_MAX);
    af_buf_init(&out, 2 * EVP_MAX_MD_SIZE);
    rc = af_buf_add(&msg, cookie, strlen(cookie) + 1);
    for (size_t i = 0; authz_param_name(a->srv, i) != NULL && rc == AF_OK; i++) {
        const char *name = authz_param_name(a->srv, i), *v = af_params_get(a->in, name);
        if (v != NULL)
            rc = af_buf_addf(&msg, "%s=%s%c", name, v, '\0');
    }
    if (rc == AF_OK &&
        HMAC(EVP_sha256(), a->srv->csrf_key, (int)sizeof(a->srv->csrf_key),
             (const unsigned char *)msg.p, msg.len, mac, &mac_len) != NULL &&
        af_b64url_encode(&out, mac, mac_len) == AF_OK)
        tok = af_buf_detach(&out);
    af_buf_free(&msg);
    af_buf_free(&out);
    return tok;
}

/* login_csrf_ok: whether POST /login carries the token of its cookie and
 * request (constant-time compare). */
static bool login_csrf_ok(const struct authz *a)
{
    const char *cookie = af_req_cookie(a->req, af_cookie_name(a->srv, AF_LOGIN_COOKIE));
    const char *sent = af_params_get(a->in, AF_LOGIN_CSRF);
    char *want;
    bool ok;

    if (cookie == NULL || *cookie == '\0' || sent == NULL)
        return false;
    want = login_csrf(a, cookie);
    ok = want != NULL && af_ct_streq(want, sent);
    free(want);
    return ok;
}

/* add_form_open: a form POSTing to /login with the authorization request
 * and the token csrf as hidden fields. */
static af_rc add_form_open(struct af_buf *b, const struct authz *a, const char *csrf)
{
    af_rc rc;
    size_t i;

    rc = af_buf_adds(b, "<form method=\"post\" action=\"");
    if (rc == AF_OK)
        rc = af_html_escape(b, a->srv->issuer);
    if (rc == AF_OK)
        rc = af_html_escape(b, AF_EP_LOGIN);
    if (rc == AF_OK)
        rc = af_buf_adds(b, "\">\n");
    for (i = 0; authz_param_name(a->srv, i) != NULL && rc == AF_OK; i++) {
        const char *name = authz_param_name(a->srv, i), *v = af_params_get(a->in, name);
        if (v != NULL)
            rc = add_hidden(b, name, v);
    }
    if (rc == AF_OK)
        rc = add_hidden(b, AF_LOGIN_CSRF, csrf);
    return rc;
}

/* Which field of the password form a login page's notice is about. */
enum login_field { LOGIN_FIELD_NONE, LOGIN_FIELD_USERNAME, LOGIN_FIELD_PASSWORD };

/* What a login page shows besides the request: all NULL on the first
 * page; after a refused POST /login, why, and what the user typed. */
struct login_view {
    const char *notice;     /* why the last attempt failed, or NULL */
    enum login_field field; /* the field the notice is about: focused, marked
                               aria-invalid and described by the notice */
    const char *username;   /* the username typed, kept in its field; NULL:
                               login_hint's */
};

/* add_field_attrs: a password form field's id, then autofocus when it
 * takes the focus and, when the notice is about it, aria-invalid and
 * aria-describedby. */
static af_rc add_field_attrs(struct af_buf *b, const char *id, bool focus, bool invalid)
{
    af_rc rc = af_buf_addf(b, " id=\"%s\"", id);

    if (rc == AF_OK && focus)
        rc = af_buf_adds(b, " autofocus");
    if (rc == AF_OK && invalid)
        rc = af_buf_adds(b, " aria-invalid=\"true\" aria-describedby=\"" AF_PAGE_NOTICE_ID "\"");
    return rc;
}

static af_rc login_page_build(struct af_buf *b, const struct authz *a,
                              const struct login_view *view, const char *csrf)
{
    const char *hint = af_params_get(a->in, AF_P_LOGIN_HINT);
    bool focus_password;
    af_rc rc;
    size_t i;

    /* "alice+scenario": the form shows the user, the scenario rides along
     * in the hidden login_hint */
    if (a->hint_scen != NULL)
        hint = a->hint_user ? a->hint_user->username : "";
    if (view->username != NULL)
        hint = view->username;
    /* the password when the username is there already, or is what failed */
    focus_password = view->field == LOGIN_FIELD_PASSWORD ||
                     (view->field == LOGIN_FIELD_NONE && hint != NULL && *hint != '\0');

    rc = af_page_open(b, "Sign in");
    if (rc == AF_OK)
        rc = af_html_wrap(b, "<h1>Sign in</h1>\n<p>to continue to <strong>",
                          a->client->name ? a->client->name : a->client->id, "</strong></p>\n");
    if (rc == AF_OK && view->notice != NULL)
        rc = af_html_wrap(b, "<p id=\"" AF_PAGE_NOTICE_ID "\" class=\"err\" role=\"alert\">",
                          view->notice, "</p>\n");

    /* One form per way of logging in, so that pressing Enter in the password
     * form submits that form and not a user button. */
    if (rc == AF_OK && af_user_at(a->srv, 0) != NULL) {
        rc = add_form_open(b, a, csrf);
        if (rc == AF_OK)
            rc = af_buf_adds(b, "<fieldset><legend>Continue as</legend>\n");
        const struct af_cfg_user *u;
        for (i = 0; rc == AF_OK && (u = af_user_at(a->srv, i)) != NULL; i++) {
            const char *name = json_string_value(json_object_get(u->claims, "name"));
            rc = af_buf_adds(b, "<button type=\"submit\" class=\"alt\" name=\"" AF_LOGIN_USER
                                "\" value=\"");
            if (rc == AF_OK)
                rc = af_html_escape(b, u->username);
            if (rc == AF_OK)
                rc = af_buf_adds(b, "\">");
            if (rc == AF_OK)
                rc = af_html_escape(b, u->username);
            if (rc == AF_OK && name != NULL) {
                rc = af_buf_adds(b, " (");
                if (rc == AF_OK)
                    rc = af_html_escape(b, name);
                if (rc == AF_OK)
                    rc = af_buf_adds(b, ")");
            }
            if (rc == AF_OK)
                rc = af_buf_adds(b, "</button>\n");
        }
        if (rc == AF_OK)
            rc = af_buf_adds(b, "</fieldset>\n</form>\n");
    }

    if (rc == AF_OK)
        rc = add_form_open(b, a, csrf);
    if (rc == AF_OK)
        rc = af_buf_adds(b,
                         "<fieldset><legend>Sign in with a password</legend>\n"
                         "<label for=\"af-username\">Username</label>\n<input name=\"" AF_P_USERNAME
                         "\" autocomplete=\"username\"");
    if (rc == AF_OK)
        rc =
            add_field_attrs(b, "af-username", !focus_password, view->field == LOGIN_FIELD_USERNAME);
    if (rc == AF_OK)
        rc = af_buf_adds(b, " value=\"");
    if (rc == AF_OK)
        rc = af_html_escape(b, hint ? hint : "");
    if (rc == AF_OK)
        rc = af_buf_adds(b, "\">\n<label for=\"af-password\">Password</label>\n"
                            "<input type=\"password\" name=\"" AF_P_PASSWORD
                            "\" autocomplete=\"current-password\"");
    if (rc == AF_OK)
        rc = add_field_attrs(b, "af-password", focus_password, view->field == LOGIN_FIELD_PASSWORD);
    if (rc == AF_OK)
        rc = af_buf_adds(b, ">\n<button type=\"submit\" name=\"" AF_LOGIN_ACTION
                            "\" value=\"" AF_LOGIN_ACTION_LOGIN "\">Sign in</button>\n"
                            "<button type=\"submit\" class=\"alt\" name=\"" AF_LOGIN_ACTION
                            "\" value=\"" AF_LOGIN_ACTION_CANCEL "\">Cancel</button>\n"
                            "</fieldset>\n</form>\n");
    if (rc == AF_OK)
        rc = af_page_close(b);
    return rc;
}

/* login_page: 200 with the login page, as view says (the first page: all
 * zero). The browser's login cookie is kept (another tab's page stays
 * valid), or a new one is set. */
static void login_page(struct af_resp *resp, const struct authz *a, const struct login_view *view)
{
    const char *cookie = af_req_cookie(a->req, af_cookie_name(a->srv, AF_LOGIN_COOKIE));
    char *fresh = NULL, *csrf = NULL;
    struct af_buf b;
    af_rc rc = AF_OK;

    af_buf_init(&b, AUTHZ_PAGE_MAX);
    if (cookie == NULL || strlen(cookie) != (LOGIN_COOKIE_BYTES * 4 + 2) / 3 ||
        strspn(cookie, B64URL_CHARS) != strlen(cookie)) {
        rc = af_rand_token(LOGIN_COOKIE_BYTES, &fresh);
        cookie = fresh;
    }
    if (rc == AF_OK)
        csrf = login_csrf(a, cookie);
    if (csrf != NULL && login_page_build(&b, a, view, csrf) == AF_OK) {
        af_resp_html(resp, 200, af_buf_str(&b));
        /* Strict: the form posts from our own page, never from another
         * site's */
        if (fresh != NULL)
            cookie_set(resp, a->srv, AF_LOGIN_COOKIE, fresh, "Strict");
    } else {
        af_resp_error_page(resp, 500, AF_E_SERVER_ERROR, "the login page could not be built");
    }
    af_buf_free(&b);
    free(csrf);
    free(fresh);
}

/* ---- handlers (the route table admits only the methods they serve) ---- */

void af_h_authorize(struct af_req *req, struct af_resp *resp)
{
    const struct af_config *cfg = req->srv->cfg;
    const struct af_cfg_user *user;
    struct authz a;

    if (authz_check(req, af_req_params(req), &a, resp) != AF_OK)
        goto out;

    if (cfg->interactive_login) {
        /* A login is due when asked for, when there is no usable session,
         * or when the session is another user's than login_hint names. */
        if (a.prompt_login || a.sess_user == NULL ||
            (a.hint_user != NULL && a.hint_user != a.sess_user)) {
            const struct login_view first = {0};
            login_page(resp, &a, &first);
            resp->detail = "login page";
            goto out;
        }
        authz_grant(resp, &a, a.sess_user, false);
        goto out;
    }

    /* Headless: approve at once as login_hint's user, else the session's,
     * else the configured default, else the first user. */
    user = a.hint_user ? a.hint_user : a.sess_user;
    if (user == NULL && cfg->default_user != NULL)
        user = af_user_find(req->srv, cfg->default_user);
    if (user == NULL)
        user = af_user_at(req->srv, 0);
    if (user == NULL) {
        authz_error(resp, &a, AF_E_SERVER_ERROR, "no user is configured");
        goto out;
    }
    authz_grant(resp, &a, user, a.prompt_login);
out:
    authz_clear(&a);
}

void af_h_login(struct af_req *req, struct af_resp *resp)
{
    const struct af_params *in = &req->form;
    const struct af_cfg_user *user = NULL;
    const char *action, *typed, *password, *chosen, *named, *why = NULL;
    struct login_view view = {0};
    char desc[AUTHZ_DESC_MAX];
    struct authz a;
    size_t i;

    if (authz_check(req, in, &a, resp) != AF_OK)
        goto out;
    for (i = 0; i < sizeof(login_field_names) / sizeof(login_field_names[0]); i++) {
        if (af_params_count(in, login_field_names[i]) > 1) {
            snprintf(desc, sizeof(desc), "the login form field %s is repeated",
                     login_field_names[i]);
            af_resp_error_page(resp, 400, AF_E_INVALID_REQUEST, desc);
            goto out;
        }
    }

    /* login CSRF: a page elsewhere must not choose the user (and the state)
     * of this browser's next login */
    if (!login_csrf_ok(&a)) {
        af_resp_error_page(resp, 403, AF_E_ACCESS_DENIED,
                           "the login form did not come from this browser's login page (no or a "
                           "wrong " AF_LOGIN_CSRF " token for the " AF_LOGIN_COOKIE
                           " cookie); start the login again");
        goto out;
    }
    action = af_params_get(in, AF_LOGIN_ACTION);
    if (action != NULL && strcmp(action, AF_LOGIN_ACTION_CANCEL) == 0) {
        authz_error(resp, &a, AF_E_ACCESS_DENIED, "the user cancelled the login");
        goto out;
    }
    typed = af_params_get(in, AF_P_USERNAME);
    password = af_params_get(in, AF_P_PASSWORD);
    chosen = af_params_get(in, AF_LOGIN_USER);
    named = NULL; /* the username the reason names */
    if (typed != NULL && *typed != '\0') {
        user = af_user_find(req->srv, typed);
        named = typed;
        /* A user with a password needs it, also when the field came empty;
         * one message for both failures so the page does not tell which
         * usernames exist (the log and the ledger do: the reason). */
        why = user == NULL                             ? "unknown user"
              : user->password == NULL                 ? NULL
              : password == NULL || *password == '\0'  ? "no password for user"
              : !af_ct_streq(password, user->password) ? "wrong password for user"
                                                       : NULL;
        if (why != NULL) {
            user = NULL;
            /* what was typed stays; the password is to type again */
            view.notice = "Unknown user or wrong password.";
            view.field = LOGIN_FIELD_PASSWORD;
            view.username = typed;
        }
    } else if (chosen != NULL && *chosen != '\0') {
        user = af_user_find(req->srv, chosen);
        why = "unknown user";
        named = chosen;
        if (user == NULL)
            view.notice = "Unknown user.";
    } else {
        why = "neither a user chosen nor a username typed";
        view.notice = "Choose a user or type a username.";
        view.field = LOGIN_FIELD_USERNAME;
    }
    if (user == NULL) {
        login_page(resp, &a, &view);
        af_resp_reason(resp, "login refused: %s%s%.128s", why, named ? " " : "",
                       named ? named : "");
        goto out;
    }
    authz_grant(resp, &a, user, true);
out:
    authz_clear(&a);
}
