/*
 * server_int.h - what the server's modules share: the server state, the
 * request and response a handler sees, the stores, token issuance and
 * client authentication. Private to src/server/.
 *
 * Handlers never touch libmicrohttpd: they read a struct af_req and fill a
 * struct af_resp; server.c turns that into an MHD response. This keeps each
 * handler small and testable.
 */
#ifndef AUTHFLOW_SERVER_INT_H
#define AUTHFLOW_SERVER_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include <jansson.h>

#include "authflow/buf.h"
#include "authflow/cfg.h"
#include "authflow/jose.h"
#include "authflow/proto.h"
#include "authflow/rc.h"
#include "authflow/server.h"
#include "authflow/util.h"

struct af_store;

/* ---- the server ---- */

struct af_server {
    const struct af_config *cfg; /* borrowed */
    char *issuer;                /* owned; no trailing slash */
    struct af_key **keys;        /* owned; keys[0] signs */
    size_t nkeys;
    json_t *jwks;           /* owned reference: {"keys":[...]} */
    struct af_store *store; /* owned */
    struct MHD_Daemon *daemon;
    unsigned short port;
    int inflight; /* requests being served (both listeners); atomic access only */
    /* the admin API's own listener (admin.enabled or --admin-listen) */
    struct af_listener *main_l, *admin_l; /* owned; admin_l NULL when off */
    struct MHD_Daemon *admin_daemon;      /* NULL when off */
    unsigned short admin_port;            /* 0 when off */
    char *admin_url;                      /* owned: "http://ADDR:PORT"; NULL when off */
    /* scenarios (scenario.c) and the request ledger (ledger.c); NULL in a
     * server built by hand (unit tests): no scenario applies, nothing is
     * recorded */
    struct af_scen_engine *scen; /* owned */
    struct af_ledger *ledger;    /* owned */
    struct af_delayer *delayer;  /* owned (server.c): answers held back by a delay */
};

/* ---- request and response ---- */

typedef enum { AF_M_GET, AF_M_POST, AF_M_DELETE, AF_M_OTHER } af_method;

struct af_scenario; /* scenario.c: one row of the scenario table */

/* What a handler learnt about a request, for the ledger (ledger.c) and the
 * delay of a scenario. Handlers fill what applies; server.c records the
 * request once the handler ran. */
struct af_req_facts {
    char *client_id;         /* owned: from client authentication, a token or the
                                parameters; NULL when none was named */
    const char *client_auth; /* static: AF_AUTH_BASIC, AF_AUTH_POST, AF_AUTH_NONE or
                                AF_LEDGER_SECRET_IN_QUERY; NULL: none attempted */
    const char *bearer;      /* static: where an access token came from: "header",
                                "query" or "body"; NULL: none */
    bool pkce_sent;          /* code_challenge (/authorize) or code_verifier (/token) */
    const char *pkce_method; /* static AF_PKCE_* or NULL */
    int pkce_verified;       /* /token: 1 matched, 0 refused, -1 not checked */
    bool pkce_seen;          /* the endpoint deals with PKCE: report the pkce fields */
    const char *sub;         /* borrowed from the config: the user of the flow; may be NULL */
    const struct af_scenario *scenario; /* the scenario applied to this request, or NULL */
    unsigned delay_ms;                  /* > 0: server.c holds the answer back this long */
};

struct af_req {
    struct af_server *srv; /* borrowed */
    void *conn;            /* the MHD connection; use af_req_header() */
    af_method method;
    const char *method_str; /* borrowed from MHD */
    char *path;             /* owned: the URL path without query */
    char *raw_query;        /* owned: the raw query ("" when none) */
    struct af_params query; /* decoded query parameters */
    struct af_params form;  /* decoded form body (POST, form content type) */
    struct af_buf body;     /* raw body, capped at cfg->max_body */
    bool body_too_big;
    const char *parse_error; /* set when query or body failed to parse */
    char parse_error_buf[AF_ERR_MSG_MAX];
    struct af_req_facts facts;
};

/* af_req_set_client_id: remember id (copied) as the request's client, for
 * the ledger; a later call replaces it. NULL is ignored. */
void af_req_set_client_id(struct af_req *req, const char *id);

/* af_req_header: a request header (case-insensitive), borrowed, valid for
 * the request; NULL when absent (and for a request built without a
 * connection, in unit tests). */
const char *af_req_header(const struct af_req *req, const char *name);

/* af_req_cookie: a cookie value, borrowed, valid for the request; NULL when
 * absent. */
const char *af_req_cookie(const struct af_req *req, const char *name);

/* af_req_params: the parameters an endpoint reads: the query for GET, the
 * form body for POST. Borrowed. */
const struct af_params *af_req_params(const struct af_req *req);

struct af_resp {
    unsigned status;          /* 0 until a handler sets it */
    struct af_params headers; /* extra response headers, in order */
    struct af_buf body;
    const char *ctype; /* static string; NULL: no Content-Type */
};

/* Response builders. Each sets status, content type and body; on
 * allocation failure they leave a 500 with an empty body behind. */

/* af_resp_json: serialise obj (borrowed) compactly. */
void af_resp_json(struct af_resp *resp, unsigned status, const json_t *obj);

/* af_resp_oauth_error: {"error":..., "error_description":...} (RFC 6749
 * §5.2); description may be NULL. */
void af_resp_oauth_error(struct af_resp *resp, unsigned status, const char *error,
                         const char *description);

/* af_resp_redirect: 302 (or status) with Location. */
void af_resp_redirect(struct af_resp *resp, unsigned status, const char *location);

/* af_resp_html: body taken as already-escaped HTML. Adds anti-framing
 * headers (X-Frame-Options: DENY, CSP frame-ancestors 'none'). */
void af_resp_html(struct af_resp *resp, unsigned status, const char *html);

/* af_resp_error_page: a small HTML error page (400 for a bad client or
 * redirect URI: never a redirect); error and description are escaped. */
void af_resp_error_page(struct af_resp *resp, unsigned status, const char *error,
                        const char *description);

/* af_resp_header: add a response header (copied). */
void af_resp_header(struct af_resp *resp, const char *name, const char *value);

/* af_resp_no_store: Cache-Control: no-store and Pragma: no-cache. */
void af_resp_no_store(struct af_resp *resp);

/* af_resp_fail: the 500 with an empty body that builders leave behind on
 * allocation failure; server.c also answers it for a handler that set no
 * status. */
void af_resp_fail(struct af_resp *resp);

/* af_html_escape: append s with & < > " ' escaped. */
af_rc af_html_escape(struct af_buf *out, const char *s) AF_WARN_UNUSED;

/* ---- routing ---- */

typedef void (*af_handler)(struct af_req *req, struct af_resp *resp);

void af_h_discovery(struct af_req *req, struct af_resp *resp); /* both well-known docs */
void af_h_jwks(struct af_req *req, struct af_resp *resp);
void af_h_healthz(struct af_req *req, struct af_resp *resp);
void af_h_authorize(struct af_req *req, struct af_resp *resp); /* GET and POST */
void af_h_login(struct af_req *req, struct af_resp *resp);     /* POST /login (form) */
void af_h_token(struct af_req *req, struct af_resp *resp);
void af_h_userinfo(struct af_req *req, struct af_resp *resp);
void af_h_introspect(struct af_req *req, struct af_resp *resp);
void af_h_revoke(struct af_req *req, struct af_resp *resp);
void af_h_logout(struct af_req *req, struct af_resp *resp);

/* Paths (relative to the issuer). */
#define AF_EP_AUTHORIZE  "/authorize"
#define AF_EP_LOGIN      "/login"
#define AF_EP_TOKEN      "/token"
#define AF_EP_USERINFO   "/userinfo"
#define AF_EP_INTROSPECT "/introspect"
#define AF_EP_REVOKE     "/revoke"
#define AF_EP_LOGOUT     "/logout"
#define AF_EP_JWKS       "/jwks"
#define AF_EP_HEALTHZ    "/healthz"

/* The login session cookie set by POST /login and read by /authorize. */
#define AF_SESSION_COOKIE "authflow_session"

/* ---- stores (store.c) ----
 *
 * All records live in one store guarded by one mutex; every operation is
 * short. Entries expire at their own time and are swept as new ones come in;
 * each kind is capped (cfg->max_codes, cfg->max_tokens) and an insert past
 * the cap first drops expired entries, then fails with AF_ERR_TOOBIG.
 *
 * A "grant" ties together everything one authorization produced: the code,
 * the access tokens and the refresh tokens issued from it, across refresh
 * rotations. Revoking a grant revokes all of them (code reuse, refresh
 * token reuse: RFC 6749 §4.1.2, RFC 9700 §4.14.2).
 */

struct af_code_rec {
    char *client_id;
    char *redirect_uri; /* as sent at /authorize; NULL if it was omitted */
    char *challenge;    /* NULL: no PKCE */
    char *challenge_method;
    char *scope;
    char *sub;
    char *nonce; /* NULL if none */
    time_t auth_time;
    time_t expires;
    char *sid;                          /* login session id, NULL if none */
    const struct af_scenario *scenario; /* static table row bound to this flow, or NULL */
    unsigned scenario_delay_ms;         /* its delay (token_delay) */
};

struct af_token_rec { /* access tokens (keyed by jti) and refresh tokens */
    char *client_id;
    char *sub; /* NULL for client_credentials */
    char *scope;
    char *grant_id; /* the grant family */
    char *nonce;    /* carried from the code for ID tokens on refresh; may be NULL */
    time_t auth_time;
    time_t expires;
    time_t issued;
    bool is_refresh;
    const struct af_scenario *scenario; /* the flow's scenario (static), or NULL */
};

struct af_session_rec { /* a login session (interactive mode, logout) */
    char *sub;
    time_t auth_time;
    time_t expires;
};

af_rc af_store_new(size_t max_codes, size_t max_tokens, struct af_store **out) AF_WARN_UNUSED;
void af_store_free(struct af_store *st);

/* af_code_put: store a copy of rec under a fresh code value (>= 128 bits
 * from the CSPRNG) with a fresh grant id. Caller frees *code_out. */
af_rc af_code_put(struct af_store *st, const struct af_code_rec *rec,
                  char **code_out) AF_WARN_UNUSED;

/* af_code_take: single use. On the first call for a live code issued to
 * client_id, *out gets a copy (caller frees with af_code_rec_clear()) and
 * *grant_id_out the grant id (caller frees); the code is marked used. A
 * second call for the same code revokes the grant and returns AF_ERR_STATE;
 * an expired code AF_ERR_INVALID (the caller reports invalid_grant either
 * way); an unknown one, or one issued to another client, AF_ERR_NOTFOUND,
 * and such a code stays usable by its own client (RFC 6749 §4.1.3): another
 * client cannot burn it. */
af_rc af_code_take(struct af_store *st, const char *code, const char *client_id,
                   struct af_code_rec *out, char **grant_id_out) AF_WARN_UNUSED;

void af_code_rec_clear(struct af_code_rec *rec);

/* af_token_put: remember a token (its jti for an access token, its value
 * for a refresh token) with a copy of rec. */
af_rc af_token_put(struct af_store *st, const char *key,
                   const struct af_token_rec *rec) AF_WARN_UNUSED;

/* af_token_get: a copy of the live record (caller clears with
 * af_token_rec_clear()). AF_ERR_NOTFOUND when unknown, expired, revoked,
 * or its grant was revoked. */
af_rc af_token_get(struct af_store *st, const char *key, struct af_token_rec *out) AF_WARN_UNUSED;

/* af_refresh_rotate: single use of a refresh token. The first call for a
 * live token fills *out and marks it used; a later call (a replay) revokes
 * the whole grant and returns AF_ERR_STATE. Unknown/expired/revoked:
 * AF_ERR_NOTFOUND. */
af_rc af_refresh_rotate(struct af_store *st, const char *token,
                        struct af_token_rec *out) AF_WARN_UNUSED;

/* af_token_revoke: revoke one token (by key); with whole_grant, its grant
 * too. Unknown keys are not an error (RFC 7009 §2.2). */
void af_token_revoke(struct af_store *st, const char *key, bool whole_grant);

void af_token_rec_clear(struct af_token_rec *rec);

/* Sessions: af_session_put returns a fresh session id (caller frees). */
af_rc af_session_put(struct af_store *st, const struct af_session_rec *rec,
                     char **sid_out) AF_WARN_UNUSED;
af_rc af_session_get(struct af_store *st, const char *sid,
                     struct af_session_rec *out) AF_WARN_UNUSED;
void af_session_drop(struct af_store *st, const char *sid);
void af_session_rec_clear(struct af_session_rec *rec);

/* af_store_counts: live entries, for tests and the benchmark. */
void af_store_counts(struct af_store *st, size_t *codes, size_t *tokens, size_t *sessions);

/* ---- token issuance and validation (tokens.c) ---- */

struct af_issue {
    const struct af_cfg_client *client; /* borrowed */
    const struct af_cfg_user *user;     /* borrowed; NULL for client_credentials */
    const char *scope;                  /* granted scope (space-separated) */
    const char *nonce;                  /* may be NULL */
    const char *grant_id;               /* NULL: a fresh one */
    time_t auth_time;
    bool id_token;                      /* issue an ID token (scope has openid) */
    bool refresh_token;                 /* issue a refresh token */
    const char *refresh_scope;          /* the refresh token's scope; NULL: scope. A narrowed
                                           refresh keeps the old one (RFC 6749 §6) */
    const struct af_scenario *scenario; /* the flow's scenario, or NULL: an id_token one
                                           changes the ID token; any is kept on the
                                           tokens' records (a userinfo one acts there) */
};

/* af_tokens_issue: sign an access token (RFC 9068), and as asked an ID
 * token (with at_hash) and a refresh token; store them; build the token
 * response object (new reference in *out). */
af_rc af_tokens_issue(struct af_server *srv, const struct af_issue *is, json_t **out,
                      struct af_err *err) AF_WARN_UNUSED;

/* af_tokens_check_access: verify an access token's signature, typ, iss,
 * exp, nbf, that it is live in the store, and that its aud holds one of the
 * audiences its client's tokens are issued for (the resource check of
 * /userinfo; af_tokens_lookup leaves aud to the introspecting resource).
 * *claims_out gets a new reference. On failure err says why (for
 * error_description). */
af_rc af_tokens_check_access(struct af_server *srv, const char *token, json_t **claims_out,
                             struct af_err *err) AF_WARN_UNUSED;

/* af_tokens_check_access_scen: af_tokens_check_access, also giving the
 * scenario stored with the token (static, NULL when none) in *scen_out. */
af_rc af_tokens_check_access_scen(struct af_server *srv, const char *token, json_t **claims_out,
                                  const struct af_scenario **scen_out,
                                  struct af_err *err) AF_WARN_UNUSED;

/* What an access token says, for the token endpoint and for minting
 * (admin_tokens.c): both build the claims with af_tokens_access_claims, so a
 * minted token has exactly the shape of an issued one. */
struct af_access_spec {
    const struct af_cfg_client *client; /* borrowed */
    const struct af_cfg_user *user;     /* borrowed; NULL: the client's own token, sub =
                                           client_id and no auth_time (client_credentials) */
    const char *scope;                  /* NULL: no scope claim */
    time_t auth_time;                   /* used with a user only */
    time_t iat, exp;
    const struct af_scenario *scenario; /* kept on the stored record; may be NULL */
};

/* af_tokens_access_claims: the RFC 9068 §2.2 claims: iss, sub, aud (the
 * client's access_token_audience), client_id, scope, iat, exp, a fresh jti (192 bits from the
 * CSPRNG) and, with a user, auth_time. New reference in *out. */
af_rc af_tokens_access_claims(struct af_server *srv, const struct af_access_spec *sp,
                              json_t **out) AF_WARN_UNUSED;

/* af_tokens_access_store: remember the access token sp describes under its
 * jti, so that /userinfo, /introspect and /revoke know it, as part of grant
 * grant_id (NULL: a fresh grant of its own); nonce (may be NULL) is kept
 * for the ID tokens of later refreshes. */
af_rc af_tokens_access_store(struct af_server *srv, const struct af_access_spec *sp,
                             const char *jti, const char *grant_id, const char *nonce,
                             struct af_err *err) AF_WARN_UNUSED;

/* af_tokens_id_claims: an ID token's claims (OIDC Core §2) for is->user
 * (which must not be NULL) and is->client: the user's claims released by
 * is->scope, then iss, sub, aud (the client_id), exp, iat, auth_time, azp,
 * nonce (is->nonce, when not NULL) and at_hash (when not NULL) over them.
 * New reference in *out. */
af_rc af_tokens_id_claims(struct af_server *srv, const struct af_issue *is, const char *at_hash,
                          time_t iat, time_t exp, json_t **out) AF_WARN_UNUSED;

/* ---- client authentication (clientauth.c) ---- */

typedef enum {
    AF_CA_OK = 0,
    AF_CA_INVALID_REQUEST, /* malformed: two methods at once, bad Basic header */
    AF_CA_INVALID_CLIENT,  /* unknown client, wrong secret, no auth for a confidential client */
} af_ca_result;

/* af_client_authenticate: RFC 6749 §2.3.1 over the request's Authorization
 * header and form body. *client gets the borrowed client on AF_CA_OK;
 * *used_basic tells whether Basic was attempted (401 + WWW-Authenticate
 * Basic is due then); *why a static description. */
af_ca_result af_client_authenticate(struct af_req *req, const struct af_cfg_client **client,
                                    bool *used_basic, const char **why);

/* ---- token side: helpers shared by the token, userinfo, introspection
 *      and revocation handlers (tokens.c, clientauth.c) ---- */

/* af_user_by_sub / af_user_by_username: exact match on that one field
 * (af_cfg_user_find tries both, which a stored sub must not). Borrowed,
 * valid while cfg lives; NULL if none. */
const struct af_cfg_user *af_user_by_sub(const struct af_config *cfg, const char *sub);
const struct af_cfg_user *af_user_by_username(const struct af_config *cfg, const char *username);

/* af_scope_valid: RFC 6749 §3.3 syntax: scope-tokens (%x21 / %x23-5B /
 * %x5D-7E) separated by single spaces; empty is not valid. */
bool af_scope_valid(const char *scope);

/* af_scope_client_allows: scope is valid and each token is in the client's
 * scope list. */
bool af_scope_client_allows(const struct af_cfg_client *client, const char *scope);

/* af_scope_subset: scope is valid and each token is in granted (a
 * space-separated list), e.g. a narrowed refresh (RFC 6749 §6). */
bool af_scope_subset(const char *scope, const char *granted);

/* af_scope_client_default: the client's whole scope list, space-separated.
 * Caller frees with free(); NULL on allocation failure. */
char *af_scope_client_default(const struct af_cfg_client *client);

/* af_claims_release: copy into obj the user's claims that scope releases
 * (OIDC Core §5.4: profile, email, address, phone; any other claim when a
 * scope has its name). obj is borrowed; the values are shared (incref). */
af_rc af_claims_release(const struct af_cfg_user *user, const char *scope,
                        json_t *obj) AF_WARN_UNUSED;

typedef enum {
    AF_BEARER_OK,        /* *token_out holds the token */
    AF_BEARER_ABSENT,    /* no header, or another scheme: no credentials (RFC 6750 §3) */
    AF_BEARER_MALFORMED, /* "Bearer" with a missing or malformed token: invalid_request */
} af_bearer_result;

/* af_bearer_parse: RFC 6750 §2.1 over an Authorization header value (may be
 * NULL); the scheme is case-insensitive. On AF_BEARER_OK the caller frees
 * *token_out with free(); otherwise it is NULL. */
af_bearer_result af_bearer_parse(const char *authorization, char **token_out);

/* af_auth_scheme_match: when the Authorization header value hdr (leading
 * spaces and tabs skipped) uses auth-scheme scheme, compared
 * case-insensitively (RFC 7235 §2.1), what follows the scheme with its
 * separating spaces skipped: borrowed from hdr, "" when nothing follows.
 * NULL when hdr is NULL or names another scheme ("Bearerx" is another
 * scheme: the name goes on with a tchar, RFC 7230 §3.2.6). Any other
 * character right after the scheme (a tab, a comma) is left at the start of
 * the result for the caller's token68 check to refuse. */
const char *af_auth_scheme_match(const char *hdr, const char *scheme);

/* The longest Authorization header value af_bearer_parse accepts: a JWS cap
 * plus the scheme. Longer ones are AF_BEARER_MALFORMED. */
#define AF_BEARER_HDR_MAX (AF_JWS_MAX_LEN + 64)

/* The longest Authorization header value af_basic_parse accepts: ample for
 * a client id and secret, small enough to bound the decoding work. */
#define AF_BASIC_HDR_MAX 2048

/* af_basic_parse: client credentials from an Authorization header value
 * (RFC 6749 §2.3.1 over RFC 7617 §2): "Basic" (case-insensitive), one or
 * more spaces, then canonical padded base64 (RFC 4648 §4: '=' only at the
 * end, unused bits zero, no whitespace) of form-urlencoded client_id, ':',
 * form-urlencoded secret; both halves are decoded (malformed escapes, NUL
 * and invalid UTF-8 refused). Returns AF_ERR_NOTFOUND for NULL or another
 * scheme, AF_ERR_TOOBIG past AF_BASIC_HDR_MAX (checked first, whatever the
 * scheme), AF_ERR_PARSE when malformed. On AF_OK the caller frees *id_out
 * and *secret_out with free() (wiping the secret first); otherwise both
 * are NULL. */
af_rc af_basic_parse(const char *authorization, char **id_out, char **secret_out) AF_WARN_UNUSED;

/* A presented token, found as a live access token (verified JWT whose jti
 * is live) or as a live refresh token. */
struct af_token_info {
    bool is_refresh;
    char *key;               /* owned: the jti, or the refresh token itself */
    struct af_token_rec rec; /* owned: the store record */
    json_t *claims;          /* owned reference: the access token's claims; NULL for refresh */
};

/* af_tokens_lookup: AF_ERR_NOTFOUND (or another error) when token is
 * neither; out is then empty. Caller clears out with af_token_info_clear(). */
af_rc af_tokens_lookup(struct af_server *srv, const char *token,
                       struct af_token_info *out) AF_WARN_UNUSED;
void af_token_info_clear(struct af_token_info *ti);

/* af_client_request_check: the common front of /token, /introspect and
 * /revoke (all RFC 6749 §2.3 client-authenticated POST endpoints): POST
 * only (else 405 + Allow), form content type, no credential in the URL
 * query, no duplicated parameter, then af_client_authenticate. Returns true
 * with *client set (borrowed) when the handler may go on; otherwise resp
 * holds the error answer (401 invalid_client with WWW-Authenticate Basic,
 * or 400/405 invalid_request). Adds no Cache-Control: the caller does. */
bool af_client_request_check(struct af_req *req, struct af_resp *resp,
                             const struct af_cfg_client **client);

/* af_client_token_check: af_client_request_check, then the "token" form
 * parameter that /introspect (RFC 7662 §2.1) and /revoke (RFC 7009 §2.1)
 * require. Returns the token, borrowed from req->form (valid while req
 * lives), with *client set; NULL when resp holds the error answer (an
 * absent or empty token is 400 invalid_request). */
const char *af_client_token_check(struct af_req *req, struct af_resp *resp,
                                  const struct af_cfg_client **client);

/* ---- front channel (h_authorize.c), shared with h_logout.c ---- */

/* af_uri_add_params: append uri with p added: to its query with '?' or,
 * when uri already has a query, '&' (RFC 6749 §3.1.2 keeps that query), or
 * with fragment set as its fragment. A fragment of uri itself is dropped.
 * p may be NULL or empty (uri is appended as it is). */
af_rc af_uri_add_params(struct af_buf *out, const char *uri, const struct af_params *p,
                        bool fragment) AF_WARN_UNUSED;

/* af_session_cookie_set: add the Set-Cookie header for login session sid
 * (AF_SESSION_COOKIE; Path=/, HttpOnly, SameSite=Lax, and Secure when the
 * issuer is https). af_session_cookie_clear: one that expires it. */
void af_session_cookie_set(struct af_resp *resp, const struct af_server *srv, const char *sid);
void af_session_cookie_clear(struct af_resp *resp, const struct af_server *srv);

/* ---- the admin API (server.c listener, h_admin.c, admin_tokens.c) ----
 *
 * A second MHD daemon on admin.listen (loopback unless admin.allow_remote)
 * with a route table of its own, paths under /admin/. Every answer is
 * JSON; when admin.secret is set, server.c checks "Authorization: Bearer
 * <secret>" (af_ct_streq) before any route runs. Admin handlers see the
 * same struct af_req / struct af_resp as the others; the JSON body is in
 * req->body, capped at AF_ADMIN_MAX_BODY.
 */

struct af_listener; /* server.c: a daemon's server, route table and limits */

#define AF_ADMIN_HEALTHZ  "/admin/healthz"
#define AF_ADMIN_TOKENS   AF_ADMIN_PATH_TOKENS
#define AF_ADMIN_REALM    "authflow-admin"
#define AF_ADMIN_MAX_BODY (16 * 1024) /* a mint request; keeps the token below AF_JWS_MAX_LEN */

void af_h_admin_healthz(struct af_req *req, struct af_resp *resp);
void af_h_admin_tokens(struct af_req *req, struct af_resp *resp); /* POST: mint */

/* af_admin_error: the admin API's error answer, {"error": error,
 * "error_description": the formatted text} with no-store; the text names
 * the request member at fault ("ttl: ..."). */
void af_admin_error(struct af_resp *resp, unsigned status, const char *error, const char *fmt, ...)
    AF_PRINTF(4, 5);

/* af_admin_authorized: the admin API's gate, run by server.c before any
 * admin route. With admin.secret set, every admin request carries
 * "Authorization: Bearer <secret>" (RFC 6750 §2.1), compared in constant
 * time; otherwise false, and resp holds the 401. true when there is no
 * secret or it matched (resp untouched). */
bool af_admin_authorized(struct af_req *req, struct af_resp *resp);

/* af_admin_reply: the admin API's answer o with no-store, or 500
 * server_error when o is NULL (a failed json_pack). Takes o: a new
 * reference, released here. */
void af_admin_reply(struct af_resp *resp, unsigned status, json_t *o);

/* Defects a minted token can carry (docs/admin.md); their wire names are
 * the AF_DEFECT_N_* of proto.h. */
typedef enum {
    AF_DEFECT_EXPIRED = 0,
    AF_DEFECT_NOT_YET_VALID,
    AF_DEFECT_WRONG_AUD,
    AF_DEFECT_WRONG_ISS,
    AF_DEFECT_BAD_SIGNATURE,
    AF_DEFECT_ALG_NONE,
    AF_DEFECT_ALG_NONE_MIXED_CASE,
    AF_DEFECT_HS256_PUBLIC_KEY,
    AF_DEFECT_UNKNOWN_KID,
    AF_DEFECT_WRONG_TYP,
    AF_DEFECT_NO_SCOPE,
    AF_DEFECT_REVOKED,
    AF_DEFECT_COUNT
} af_defect;

/* af_defect_name: the wire name ("not_yet_valid"), static. af_defect_parse:
 * exact name -> defect; AF_ERR_NOTFOUND for an unknown name. */
const char *af_defect_name(af_defect d);
af_rc af_defect_parse(const char *name, af_defect *out) AF_WARN_UNUSED;

/* A mint request, already validated (h_admin.c reads it from JSON). */
struct af_mint {
    const struct af_cfg_client *client; /* borrowed; never NULL */
    const struct af_cfg_user *user;     /* borrowed; NULL: the client's own token */
    const char *scope;                  /* NULL: none (no_scope) */
    const json_t *aud;                  /* borrowed; NULL: the client's audience */
    long ttl;                           /* seconds, > 0 */
    const json_t *claims;               /* borrowed object of extra claims; may be NULL */
    unsigned defects;                   /* bit (1u << af_defect) per defect */
};

/* af_mint_token: sign the token m describes, with its defects, and store
 * it as the token endpoint would (unless it is already expired or is an ID
 * token, wrong_typ); "revoked" stores it and revokes it. *out gets a new
 * reference to the response {"access_token", "token_type", "expires_in",
 * "header", "claims", "defects"}. Errors are server-side (AF_ERR_NOMEM,
 * AF_ERR_CRYPTO, a full store) with the reason in err. */
af_rc af_mint_token(struct af_server *srv, const struct af_mint *m, json_t **out,
                    struct af_err *err) AF_WARN_UNUSED;

/* ---- scenarios (scenario.c, docs/scenarios.md) ----
 *
 * A scenario is a named, documented fault authflowd applies on request: a
 * row of one static table {name, stage, description, apply}. The apply
 * function fills a struct af_scen_effect (and, for an ID token, edits its
 * claims and header); the handler of the stage acts on the effect. Tests
 * select scenarios through the admin API's queue, the config's "scenarios"
 * array (both land in the same queue), or login_hint "user+name".
 *
 * Binding: a queued scenario of a flow stage (AF_STAGES_FLOW) is taken by
 * the next accepted authorization request that matches it; the code
 * record, and the tokens issued from it, carry it on. A request of such a
 * stage whose flow carries none takes the next matching queued one itself
 * (client_credentials, password and refresh grants have no flow), and a
 * jwks scenario is taken by the next GET /jwks.
 */

typedef enum {
    AF_STAGE_AUTHORIZE = 0, /* the authorization response */
    AF_STAGE_CODE,          /* the code, when /token redeems it */
    AF_STAGE_ID_TOKEN,      /* the ID token, before it is signed */
    AF_STAGE_TOKEN,         /* the token endpoint's answer */
    AF_STAGE_USERINFO,      /* the userinfo endpoint's answer */
    AF_STAGE_JWKS,          /* the key set's answer */
    AF_STAGE_COUNT
} af_stage;

#define AF_STAGE_BIT(s) (1u << (unsigned)(s))
/* The stages a flow carries from /authorize on. */
#define AF_STAGES_FLOW                                                                             \
    (AF_STAGE_BIT(AF_STAGE_AUTHORIZE) | AF_STAGE_BIT(AF_STAGE_CODE) |                              \
     AF_STAGE_BIT(AF_STAGE_ID_TOKEN) | AF_STAGE_BIT(AF_STAGE_TOKEN) |                              \
     AF_STAGE_BIT(AF_STAGE_USERINFO))

/* How an ID token is signed once its scenario ran. */
typedef enum {
    AF_SCEN_SIGN_NORMAL = 0, /* keys[0] */
    AF_SCEN_SIGN_NONE,       /* unsigned (RFC 7518 §3.6): the header says alg none */
    AF_SCEN_SIGN_CORRUPT,    /* keys[0], then one signature character changed */
    AF_SCEN_SIGN_GHOST,      /* a key never published in /jwks */
    AF_SCEN_SIGN_ROTATED,    /* a fresh key, published in /jwks from then on */
} af_scen_sign;

/* What a scenario does; every field false/NULL/0 means "as usual". */
struct af_scen_effect {
    /* authorize */
    const char *authz_error; /* static: answer this error instead of a code */
    bool drop_code, drop_state, change_state, drop_iss, wrong_iss;
    /* code */
    bool code_expired;
    /* id_token */
    af_scen_sign sign;
    /* token: an error answer instead of tokens (status and error), or edits */
    unsigned token_status;
    const char *token_error; /* static */
    bool token_malformed, token_type_upper, token_no_expires_in;
    /* userinfo */
    bool userinfo_unauthorized, userinfo_wrong_sub;
    /* jwks */
    bool jwks_error;
    /* token_delay, jwks_slow: the answer waits the entry's delay */
    bool delay;
};

struct af_scen_ctx {
    struct af_server *srv; /* borrowed */
    json_t *claims;        /* id_token stage: the claims, edited in place (borrowed) */
    json_t *header;        /* id_token stage: the JOSE header, edited in place (borrowed) */
    struct af_scen_effect fx;
};

struct af_scenario {
    const char *name; /* the wire name, e.g. "id_token_bad_signature" */
    af_stage stage;
    const char *description; /* one line for GET /admin/scenarios and the docs */
    af_rc (*apply)(struct af_scen_ctx *ctx);
    bool takes_delay; /* accepts delay_ms */
};

/* The table, in documentation order. Rows are static: pointers to them
 * may be kept anywhere (records, requests). */
size_t af_scenario_count(void);
const struct af_scenario *af_scenario_at(size_t i);           /* NULL past the end */
const struct af_scenario *af_scenario_find(const char *name); /* exact; NULL: unknown */
const char *af_stage_name(af_stage stage);                    /* static, e.g. "id_token" */

/* af_scenario_run: zero ctx->fx, then apply sc (NULL: nothing to do). */
af_rc af_scenario_run(const struct af_scenario *sc, struct af_scen_ctx *ctx) AF_WARN_UNUSED;

/* The values the scenarios put in place of the right ones. The wrong
 * issuer keeps ours as a prefix, so a comparison by prefix is caught. */
#define AF_SCEN_WRONG_ISS_SUFFIX  "/wrong-issuer"
#define AF_SCEN_WRONG_AUD         "urn:authflow:wrong-audience"
#define AF_SCEN_UNTRUSTED_AUD     "urn:authflow:untrusted-audience"
#define AF_SCEN_WRONG_NONCE       "authflow-wrong-nonce"
#define AF_SCEN_WRONG_SUB         "authflow-other-subject"
#define AF_SCEN_STATE_SUFFIX      ".authflow-changed"
#define AF_SCEN_UNSOLICITED_STATE "authflow-unsolicited-state"
/* Delays: the default of a delay scenario, and the hard ceiling of
 * limits.max_delay_ms. */
#define AF_SCEN_DELAY_DEFAULT_MS 2000u
#define AF_SCEN_DELAY_MAX_MS     10000u
/* The most entries the queue holds. */
#define AF_SCEN_QUEUE_MAX 256u
/* The most uses an entry may ask for (times); 0 means until cleared. */
#define AF_SCEN_TIMES_MAX 1000000L

struct af_scen_engine; /* the queue and the scenario keys; one mutex */

/* A queue request: from POST /admin/scenarios or the config. */
struct af_scen_spec {
    const struct af_scenario *sc; /* never NULL */
    const char *client;           /* client_id, or NULL: any */
    const char *user;             /* username or sub, or NULL: any */
    long times;                   /* 0: until cleared */
    long delay_ms;                /* -1: the default (delay scenarios only) */
};

/* af_scen_spec_check: NULL when spec fits cfg, else what is wrong, starting
 * with the member at fault ("client: names no configured client"), written
 * to buf (cap bytes) or static. */
const char *af_scen_spec_check(const struct af_config *cfg, const struct af_scen_spec *spec,
                               char *buf, size_t cap);

/* af_scen_engine_new: the engine of srv (whose cfg and keys are loaded),
 * with the config's scenarios queued in order; an unknown name or a bad
 * entry is AF_ERR_INVALID with "FILE: scenarios[N].member: what" in err.
 * Caller frees with af_scen_engine_free() (NULL is a no-op). */
af_rc af_scen_engine_new(struct af_server *srv, struct af_scen_engine **out,
                         struct af_err *err) AF_WARN_UNUSED;
void af_scen_engine_free(struct af_scen_engine *e);

/* af_scen_config_check: the check af_scen_engine_new makes of the config's
 * scenarios, without a server (authflowd --check-config). */
af_rc af_scen_config_check(const struct af_config *cfg, struct af_err *err) AF_WARN_UNUSED;

/* af_scen_queue_add: queue spec (checked by the caller with
 * af_scen_spec_check); *entry_out (may be NULL) gets the entry as JSON, new
 * reference. AF_ERR_TOOBIG when AF_SCEN_QUEUE_MAX entries wait already. */
af_rc af_scen_queue_add(struct af_scen_engine *e, const struct af_scen_spec *spec,
                        json_t **entry_out) AF_WARN_UNUSED;

/* af_scen_queue_clear: drop the entry with that id, or every entry when id
 * is NULL (which also withdraws the key of id_token_key_rotated from the
 * published set); returns how many entries were dropped. */
size_t af_scen_queue_clear(struct af_scen_engine *e, const char *id);

/* af_scen_queue_json: the queue as an array of entries, new reference;
 * NULL on allocation failure. */
json_t *af_scen_queue_json(struct af_scen_engine *e);

/* af_scen_take: the first queued entry whose stage is in the stages mask
 * and that matches client_id (an entry naming a client needs it) and user
 * (an entry naming a user needs that user, by username or sub); one use is
 * consumed and the entry leaves the queue when it has none left. Returns
 * its scenario (static) and its delay in *delay_ms (may be NULL), or NULL
 * when none matches. e may be NULL (no scenarios). */
const struct af_scenario *af_scen_take(struct af_scen_engine *e, unsigned stages,
                                       const char *client_id, const struct af_cfg_user *user,
                                       unsigned *delay_ms);

/* af_scen_jwks: the key set /jwks publishes: the configured keys plus the
 * key of the latest id_token_key_rotated. New reference; NULL on allocation
 * failure. */
json_t *af_scen_jwks(struct af_server *srv);

/* af_scen_sign_with: a compact JWS over payload under hdr (edited: its
 * "kid" becomes the key's) signed with the ghost key (AF_SCEN_SIGN_GHOST:
 * generated once, never published) or a fresh key (AF_SCEN_SIGN_ROTATED:
 * published in /jwks from now on, replacing the previous rotated one), both
 * of keys[0]'s algorithm. Caller frees *out. */
af_rc af_scen_sign_with(struct af_server *srv, af_scen_sign how, json_t *hdr, const char *payload,
                        char **out, struct af_err *err) AF_WARN_UNUSED;

/* af_scen_corrupt_signature: change the first signature character of a
 * compact JWS to another base64url character (the encoding stays canonical
 * and the length right: only the signature check can tell). */
void af_scen_corrupt_signature(char *jws);

/* af_scen_login_hint: split a login_hint of the form "USER+SCENARIO" (a
 * '+', or the space a literal '+' of a query string decodes to). Returns
 * false when hint has no separator or its tail names no scenario; else
 * *sc_out gets the scenario and *user_len the length of the user part
 * (0: no user named). */
bool af_scen_login_hint(const char *hint, const struct af_scenario **sc_out, size_t *user_len);

/* af_scen_delay_cap: the largest delay the config allows, in ms. */
unsigned af_scen_delay_cap(const struct af_config *cfg);

/* ---- the request ledger (ledger.c) ----
 *
 * One entry per request on the provider port (never the admin port), in a
 * ring of cfg->ledger_max_entries under its own mutex: what came in
 * (secrets redacted), what the handler learnt (struct af_req_facts) and
 * what went out. Entries carry a monotonic seq that clearing does not
 * reset, so a cursor stays valid.
 */

#define AF_LEDGER_SECRET_IN_QUERY "secret_in_query" /* facts.client_auth */
/* The longest value an entry shows; longer ones are cut. */
#define AF_LEDGER_VALUE_MAX 512
/* The most entries one query answers. */
#define AF_LEDGER_LIMIT_MAX 1000

struct af_ledger;

/* af_ledger_new: an empty ledger of max_entries (0: records nothing).
 * Caller frees with af_ledger_free() (NULL is a no-op). */
af_rc af_ledger_new(size_t max_entries, struct af_ledger **out) AF_WARN_UNUSED;
void af_ledger_free(struct af_ledger *l);

/* af_ledger_redact: parameter name's value as an entry shows it: secrets
 * (client_secret, password, client_assertion) as "[redacted N chars]", a
 * code_verifier as "[N chars]", codes and tokens as their first 8
 * characters and "...(N chars)", anything else as is (cut at
 * AF_LEDGER_VALUE_MAX). Caller frees; NULL on allocation failure. */
char *af_ledger_redact(const char *name, const char *value);

/* af_ledger_entry: the entry for req answered by resp, without seq: new
 * reference, NULL on allocation failure. *code_out gets the full value of
 * the request's code parameter (for the code filter; never shown), or
 * NULL; caller frees. */
json_t *af_ledger_entry(const struct af_req *req, const struct af_resp *resp, char **code_out);

/* af_ledger_add: append entry (reference and code taken over, also on
 * failure) with the next seq, dropping the oldest entry when full. Returns
 * the seq given, 0 when nothing was recorded (l NULL or off). */
unsigned long long af_ledger_add(struct af_ledger *l, json_t *entry, char *code);

/* af_ledger_record: af_ledger_entry then af_ledger_add. */
void af_ledger_record(struct af_ledger *l, const struct af_req *req, const struct af_resp *resp);

struct af_ledger_filter {
    unsigned long long since; /* entries with seq > since */
    const char *path;         /* exact; NULL: any */
    const char *method;       /* exact; NULL: any */
    const char *client_id;    /* exact; NULL: any */
    const char *code;         /* the full code value; NULL: any */
    size_t limit;             /* most entries returned (<= AF_LEDGER_LIMIT_MAX) */
};

/* af_ledger_query: {"entries": [...], "count": N, "next": SEQ, "dropped":
 * N} for f, new reference in *out. next is the seq to pass as since next
 * time: the last entry returned when the limit cut the answer, else the
 * newest seq recorded. dropped counts entries after since that the ring
 * already lost. */
af_rc af_ledger_query(struct af_ledger *l, const struct af_ledger_filter *f,
                      json_t **out) AF_WARN_UNUSED;

/* af_ledger_clear: drop every entry; returns how many. */
size_t af_ledger_clear(struct af_ledger *l);

/* ---- admin routes for scenarios and the ledger (h_admin_scen.c) ---- */

#define AF_ADMIN_SCENARIOS AF_ADMIN_PATH_SCENARIOS
#define AF_ADMIN_LEDGER    AF_ADMIN_PATH_LEDGER

void af_h_admin_scenarios(struct af_req *req, struct af_resp *resp); /* GET, POST, DELETE */
void af_h_admin_ledger(struct af_req *req, struct af_resp *resp);    /* GET, DELETE */

/* af_admin_is_json: the Content-Type is application/json (parameters allowed). */
bool af_admin_is_json(const char *ctype);

/* af_admin_json_body: the request body of an admin POST as a JSON object:
 * a new reference the caller releases with json_decref(). NULL when resp
 * holds the error answer (415 for another Content-Type, 400 for a body
 * that is not JSON, has a duplicate member or is not an object). */
json_t *af_admin_json_body(struct af_req *req, struct af_resp *resp);

#endif
