/*
 * store.h - the stores (store.c): authorization codes, access and refresh
 * tokens, login sessions, with expiry and caps. Private to src/server/.
 */
#ifndef AUTHFLOW_SERVER_STORE_H
#define AUTHFLOW_SERVER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "authflow/rc.h"

struct af_scenario; /* scenario.h */
struct af_store;    /* one mutex over every record */

/* All records live in one store guarded by one mutex; every operation is
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

#endif
