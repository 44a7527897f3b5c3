/*
 * persona.h - the dialect an issuer speaks (docs/personas.md): a table of
 * choices the handlers consult, one row per persona (persona.c), rather
 * than tests of the persona's name scattered through the handlers.
 *
 * The standard persona is the RFCs' OAuth 2.0 / OpenID Connect and changes
 * nothing. Another persona puts its own endpoints (h_persona.c: the
 * authorization and token endpoints as translations around h_authorize.c
 * and h_token.c; h_persona_user.c: its user API) in front of the standard
 * route table, so codes, tokens, scenarios, the ledger and minting stay
 * the server's own. Where a dialect changes what the standard endpoints
 * decide, they consult the row too: client authentication (clientauth.c),
 * the persona's authorization parameters and consent rules (h_authorize.c,
 * consent.h), refresh tokens (h_token.c), the claims released (tokens.c,
 * h_userinfo.c). Private to src/server/.
 */
#ifndef AUTHFLOW_SERVER_PERSONA_H
#define AUTHFLOW_SERVER_PERSONA_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "authflow/buf.h"
#include "authflow/cfg.h"
#include "server/http_req.h"
#include "server/routes.h"

struct af_server; /* core.h */

/* Method bits of a persona route (the same meaning as server.c's). */
#define AF_PM_GET  1u
#define AF_PM_POST 2u

struct af_persona_route {
    const char *path; /* exact; NULL ends the table */
    unsigned methods; /* AF_PM_* */
    af_handler handler;
};

/* A parameter of the persona's authorization or token request and the
 * standard name it stands for; to NULL: read and dropped. */
struct af_persona_rename {
    const char *from;
    const char *to;
};

/* A parameter of the persona's authorization request that the standard
 * handler itself reads (consent.h): refused when repeated or not one of
 * values, carried through the login page like the standard ones. */
struct af_persona_param {
    const char *name;
    const char *const *values; /* NULL ended: the values accepted */
};

/* A user claim the persona's ID tokens and user info carry (from the
 * user's claim of that name) and the scope that releases it; scope NULL:
 * every one of the user's ID tokens and user info answers carries it. */
struct af_persona_claim {
    const char *name;
    const char *scope;
};

/* A standard error code and the persona's own for it. */
struct af_persona_errmap {
    const char *from;
    const char *to;
};

/* How the token endpoint's answers look. */
typedef enum {
    AF_PT_STANDARD, /* RFC 6749 §5.1 / §5.2 as issued */
    AF_PT_TIKTOK,   /* JSON with open_id, refresh_expires_in, comma scope; errors with log_id */
    AF_PT_GITHUB,   /* form unless Accept asks for JSON; errors with status 200 */
} af_persona_token_shape;

struct af_persona {
    af_persona_kind kind;
    const char *name;                         /* the config value */
    const struct af_persona_route *routes;    /* NULL for the standard persona */
    const char *client_param;                 /* the client's identifier in requests */
    const struct af_persona_rename *authz_in; /* {NULL} ended; after client_param */
    const char *scope_seps;                   /* separators a request may use between scopes */
    const struct af_persona_rename *scope_in; /* {NULL} ended: the persona's names of standard
                                                 scopes, read as those; NULL: none */
    char scope_out_sep;                       /* between scopes in the persona's answers */
    bool default_response_type_code;          /* response_type may be omitted */
    bool strip_iss;                           /* no RFC 9207 iss on the redirect back */
    const char *granted_scopes_param;         /* the redirect back names the granted scopes */
    const char *authz_error_uri;              /* error_uri added to a redirected error */
    bool default_grant_code;                  /* grant_type may be omitted at the token endpoint */
    bool token_json_body;                     /* the token endpoint also reads a JSON object body */
    bool secret_in_body;                      /* confidential clients send client_secret in the
                                                 body, whatever they registered */
    af_persona_token_shape token_shape;
    const struct af_persona_errmap *token_errors; /* {NULL} ended; NULL: codes kept */
    const char *token_error_uri;                  /* error_uri added to token errors */
    bool token_errors_200;                        /* 4xx token errors answered with 200 */
    const char *token_type;                       /* NULL: as issued */
    bool issues_refresh;                          /* refresh tokens kept in the answer */
    /* Consent rules (consent.h); offline_param NULL: none, the client's
     * grant types alone decide whether a code brings a refresh token. */
    const struct af_persona_param *authz_params; /* {NULL} ended: read by the standard
                                                    authorization handler; NULL: none */
    const char *offline_param;             /* a refresh token only when it has offline_value */
    const char *offline_value;             /* (Google: access_type=offline) */
    bool refresh_on_consent;               /* and only on the client's first offline consent of the
                                              user, or again with prompt=consent */
    const char *incremental_param;         /* with incremental_value, the scopes granted before */
    const char *incremental_value;         /* join the new grant (Google: include_granted_scopes) */
    bool refresh_kept;                     /* the refresh grant neither rotates the refresh token
                                              nor answers a new one: it stays valid */
    const struct af_persona_claim *claims; /* {NULL} ended: the only user claims released;
                                              NULL: as OIDC Core 5.4 says (scope.h) */
    const char *const *userinfo_scopes;    /* NULL ended: any of them opens the user info
                                              endpoint; NULL: openid */
    bool token_in_query; /* its own user info paths also take the access token from the
                            access_token query parameter (RFC 6750 §2.3) */
};

/* af_persona_get: the row of kind; never NULL (the standard row for an
 * unknown kind). Static. */
const struct af_persona *af_persona_get(af_persona_kind kind);

/* af_persona_of: srv's persona (the standard one for a server built by
 * hand without a config). Static. */
const struct af_persona *af_persona_of(const struct af_server *srv);

/* af_persona_route: the route of p for path, or NULL when p has none
 * there (the standard table then answers). Static. */
const struct af_persona_route *af_persona_route(const struct af_persona *p, const char *path);

/* af_persona_log_id: a TikTok-style log_id (14 digits of UTC time, then
 * 20 upper-case hex digits) into out (at least AF_PERSONA_LOG_ID_LEN + 1
 * bytes). */
#define AF_PERSONA_LOG_ID_LEN 34
void af_persona_log_id(char *out, size_t outlen);

/* af_persona_open_id: the user's TikTok open_id for one client: the first
 * 16 bytes of SHA-256(client_id "\n" sub), base64url (22 characters),
 * appended to out. The same user has another open_id with each client. */
af_rc af_persona_open_id(const char *client_id, const char *sub, struct af_buf *out) AF_WARN_UNUSED;

/* af_persona_scope_join: append scope (space-separated, may be NULL) to
 * out with sep between the scopes. */
af_rc af_persona_scope_join(const char *scope, char sep, struct af_buf *out) AF_WARN_UNUSED;

/* af_persona_claims_release: copy into obj (borrowed) the claims of user
 * (may be NULL: nothing) that scope releases in p's dialect: p's claims
 * table, else OIDC Core 5.4 (af_claims_release). The values are shared
 * (incref). */
af_rc af_persona_claims_release(const struct af_persona *p, const struct af_cfg_user *user,
                                const char *scope, json_t *obj) AF_WARN_UNUSED;

/* af_persona_userinfo_opens: whether a token of scope (may be NULL) may
 * read p's user info endpoint: it has one of p's userinfo scopes, else
 * openid. */
bool af_persona_userinfo_opens(const struct af_persona *p, const char *scope);

/* af_persona_authz_param: the i-th parameter of p's authorization request
 * that the standard handler reads (authz_params), or NULL past the last.
 * Static. */
const struct af_persona_param *af_persona_authz_param(const struct af_persona *p, size_t i);

/* Handlers (h_persona.c, h_persona_user.c). */
void af_h_persona_authorize(struct af_req *req, struct af_resp *resp);
void af_h_persona_login(struct af_req *req, struct af_resp *resp);
void af_h_persona_token(struct af_req *req, struct af_resp *resp);
void af_h_tiktok_user_info(struct af_req *req, struct af_resp *resp);
void af_h_github_user(struct af_req *req, struct af_resp *resp);
void af_h_github_user_emails(struct af_req *req, struct af_resp *resp);

#endif
