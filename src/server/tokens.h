/*
 * tokens.h - token issuance and validation (tokens.c): signed access
 * tokens (RFC 9068), ID tokens, refresh tokens, and the lookup of a
 * presented token for /userinfo, /introspect and /revoke. Private to
 * src/server/.
 */
#ifndef AUTHFLOW_SERVER_TOKENS_H
#define AUTHFLOW_SERVER_TOKENS_H

#include <stdbool.h>
#include <time.h>

#include <jansson.h>

#include "authflow/cfg.h"
#include "authflow/rc.h"
#include "server/store.h"

struct af_scenario; /* scenario.h */
struct af_server;   /* core.h */

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
    const struct af_scenario *scenario; /* remembered with its grant; may be NULL */
    const char *grant_id;               /* borrowed; NULL: a token of no grant */
};

/* af_tokens_access_claims: the RFC 9068 §2.2 claims: iss, sub, aud (the
 * client's access_token_audience), client_id, scope, iat, exp, a fresh jti
 * naming sp->grant_id (af_store_jti) and, with a user, auth_time. New
 * reference in *out. */
af_rc af_tokens_access_claims(struct af_server *srv, const struct af_access_spec *sp,
                              json_t **out) AF_WARN_UNUSED;

/* af_tokens_id_claims: an ID token's claims (OIDC Core §2) for is->user
 * (which must not be NULL) and is->client: the user's claims released by
 * is->scope, then iss, sub, aud (the client_id), exp, iat, auth_time, azp,
 * nonce (is->nonce, when not NULL) and at_hash (when not NULL) over them.
 * New reference in *out. */
af_rc af_tokens_id_claims(struct af_server *srv, const struct af_issue *is, const char *at_hash,
                          time_t iat, time_t exp, json_t **out) AF_WARN_UNUSED;

/* A presented token, found as a live access token (a verified JWT neither
 * revoked nor of a revoked grant) or as a live refresh token. */
struct af_token_info {
    bool is_refresh;
    char *key;               /* owned: the jti, or the refresh token itself */
    struct af_token_rec rec; /* owned: the refresh family's record; for an
                                access token only client_id, expires and
                                (a user's token) sub */
    json_t *claims;          /* owned reference: the access token's claims; NULL for refresh */
};

/* af_tokens_lookup: AF_ERR_NOTFOUND (or another error) when token is
 * neither; out is then empty, and err (may be NULL) says why the token is
 * no live access token, or that it is no live refresh token either.
 * Caller clears out with af_token_info_clear(). */
af_rc af_tokens_lookup(struct af_server *srv, const char *token, struct af_token_info *out,
                       struct af_err *err) AF_WARN_UNUSED;
void af_token_info_clear(struct af_token_info *ti);

#endif
