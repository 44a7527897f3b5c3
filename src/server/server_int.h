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
};

/* ---- request and response ---- */

typedef enum { AF_M_GET, AF_M_POST, AF_M_OTHER } af_method;

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
};

/* af_req_header: a request header (case-insensitive), borrowed, valid for
 * the request; NULL when absent. */
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
    char *sid; /* login session id, NULL if none */
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

/* af_code_take: single use. On the first call for a live code, *out gets a
 * copy (caller frees with af_code_rec_clear()) and *grant_id_out the grant id
 * (caller frees); the code is marked used. A second call for the same code
 * revokes the grant and returns AF_ERR_STATE; an expired code AF_ERR_INVALID
 * (the caller reports invalid_grant either way); an unknown one
 * AF_ERR_NOTFOUND. */
af_rc af_code_take(struct af_store *st, const char *code, struct af_code_rec *out,
                   char **grant_id_out) AF_WARN_UNUSED;

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
    bool id_token;             /* issue an ID token (scope has openid) */
    bool refresh_token;        /* issue a refresh token */
    const char *refresh_scope; /* the refresh token's scope; NULL: scope. A narrowed
                                  refresh keeps the old one (RFC 6749 §6) */
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

/* What an access token says, for the token endpoint and for minting
 * (mint.c): both build the claims with af_tokens_access_claims, so a
 * minted token has exactly the shape of an issued one. */
struct af_access_spec {
    const struct af_cfg_client *client; /* borrowed */
    const struct af_cfg_user *user;     /* borrowed; NULL: the client's own token, sub =
                                           client_id and no auth_time (client_credentials) */
    const char *scope;                  /* NULL: no scope claim */
    time_t auth_time;                   /* used with a user only */
    time_t iat, exp;
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

/* ---- the admin API (server.c listener, h_admin.c, mint.c) ----
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

#endif
