/*
 * store.h - the stores (store.c): what the protocol needs remembered, and
 * nothing more. Private to src/server/.
 *
 * Access tokens are self-contained JWTs and are NOT stored: issuing any
 * number of them costs no memory. What is remembered:
 *   - authorization codes until they are redeemed or expire, then, until
 *     they expire, only the grant of each redeemed one (replay detection);
 *   - grants: one entry per refresh-token family (the family's current
 *     generation and record), per grant whose flow carries a scenario, and
 *     per revoked grant until the last access token it issued has expired;
 *   - revoked access-token ids (jti) until the token's own exp;
 *   - login sessions;
 *   - for a persona that remembers consent (persona.h), what each user
 *     granted each client so far.
 * Each kind is capped (max_codes for pending and for redeemed codes,
 * max_tokens for each of the others); an insert past the cap answers
 * AF_ERR_TOOBIG, except for sessions, consents and redeemed codes, where
 * the one due soonest gives way; either way the store logs one warning per
 * interval with a count, not one per call.
 *
 * Entries live in hash tables split into shards, each with its own mutex, so
 * that two cores do not queue on one lock, and an expiry wheel per shard (one
 * slot per second): insert, lookup, delete and expiry are O(1). A sweeper
 * thread drops expired entries every second; lookups also treat an expired
 * entry as absent, so correctness never waits for the sweep. After a sweep
 * that freed many entries the allocator is asked to return memory to the
 * system (glibc malloc_trim; other allocators keep it for reuse).
 *
 * A "grant" ties together everything one authorization produced: the code,
 * the access tokens and the refresh tokens issued from it across rotations.
 * Revoking a grant revokes all of them (code reuse, refresh token reuse:
 * RFC 6749 §4.1.2, RFC 9700 §4.14.2). An access token names its grant in its
 * jti (GRANT.RANDOM, af_store_jti); a refresh token names its grant and
 * generation, authenticated with an HMAC under a key of this store
 * (GRANT.GEN.MAC), so a rotated token is recognised as a replay without
 * keeping it.
 */
#ifndef AUTHFLOW_SERVER_STORE_H
#define AUTHFLOW_SERVER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "authflow/rc.h"

struct af_scenario; /* scenario.h */
struct af_store;

struct af_store_limits {
    size_t max_codes;  /* live authorization codes */
    size_t max_tokens; /* grants, revoked jtis, sessions: each */
    long revoke_keep;  /* seconds a revoked grant is remembered: the longest
                        * lifetime of an access token it issued */
    bool no_sweeper;   /* tests: no sweeper thread, call af_store_sweep() */
};

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
    bool no_refresh; /* no refresh token for this code, whatever the client's grant types
                        (a persona's consent rules, consent.h) */
};

struct af_token_rec { /* a refresh-token family's current token */
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

struct af_consent_rec { /* what one user granted one client so far (consent.h) */
    char *scope;        /* space-separated: every scope granted; never NULL in a record found */
    bool offline;       /* an offline grant was consented to: its refresh token was issued */
    time_t expires;
};

af_rc af_store_new(const struct af_store_limits *lim, struct af_store **out) AF_WARN_UNUSED;

struct af_rstore_opts; /* store_redis.h */
/* af_store_new_redis: the same stores kept in Redis (store.redis,
 * docs/replicas.md), shared by every replica that names the same Redis,
 * prefix and issuer path. The caps of lim do not apply there (Redis's
 * maxmemory does); entries expire by Redis TTLs. AF_ERR_NET with the reason
 * in err when Redis cannot be reached at start. From then on every
 * function below may answer AF_ERR_NET: Redis is unreachable, slow or
 * refusing (logged once per interval); nothing is decided without it. */
af_rc af_store_new_redis(const struct af_store_limits *lim, const struct af_rstore_opts *o,
                         struct af_store **out, struct af_err *err) AF_WARN_UNUSED;

/* af_store_redis: the Redis half of st (store_redis.h), NULL when st keeps
 * its state in memory; borrowed. */
struct af_rstore *af_store_redis(struct af_store *st);

/* af_store_secret: len bytes of a secret NAME shared by every replica of
 * this store (in Redis: the first to start sets it), or, in memory, fresh
 * from the CSPRNG: the login form's key. */
af_rc af_store_secret(struct af_store *st, const char *name, unsigned char *key,
                      size_t len) AF_WARN_UNUSED;
/* af_store_free: stops the sweeper and frees everything (NULL is a no-op). */
void af_store_free(struct af_store *st);

/* af_code_put: store a copy of rec under a fresh code value (>= 128 bits
 * from the CSPRNG) with a fresh grant id. Caller frees *code_out and, when
 * grant_out is not NULL, *grant_out (the grant id, the flow's name in the
 * ledger). */
af_rc af_code_put(struct af_store *st, const struct af_code_rec *rec, char **code_out,
                  char **grant_out) AF_WARN_UNUSED;

/* af_code_take: single use. On the first call for a live code issued to
 * client_id, *out gets a copy (caller frees with af_code_rec_clear()) and
 * *grant_id_out the grant id (caller frees); the code is marked used. A
 * second call for the same code revokes the grant and returns AF_ERR_STATE,
 * with *grant_id_out the grant revoked (caller frees; NULL when the code's
 * record was already gone, or out of memory);
 * an expired code AF_ERR_INVALID (the caller reports invalid_grant either
 * way); an unknown one, or one issued to another client, AF_ERR_NOTFOUND,
 * and such a code stays usable by its own client (RFC 6749 §4.1.3): another
 * client cannot burn it. For another client's code, out->client_id names
 * the client it was issued to (nothing else of out is set; the caller
 * clears it with af_code_rec_clear() whatever the result). */
af_rc af_code_take(struct af_store *st, const char *code, const char *client_id,
                   struct af_code_rec *out, char **grant_id_out) AF_WARN_UNUSED;

void af_code_rec_clear(struct af_code_rec *rec);

/* af_store_jti: a fresh jti for an access token of grant_id (GRANT.RANDOM),
 * or of no grant when grant_id is NULL (RANDOM). Caller frees *out. */
af_rc af_store_jti(const char *grant_id, char **out) AF_WARN_UNUSED;

/* af_grant_note: remember that grant_id's flow carries scenario until
 * expires (an access token without a refresh family; a family keeps its own
 * record). A no-op when the grant is already known. */
af_rc af_grant_note(struct af_store *st, const char *grant_id, const struct af_scenario *scenario,
                    time_t expires) AF_WARN_UNUSED;

/* af_access_check: AF_OK when the access token jti is neither revoked nor
 * of a revoked grant; *scen_out its flow's scenario or NULL. Signature and
 * lifetime are the caller's (tokens.c): nothing here knows the token. */
af_rc af_access_check(struct af_store *st, const char *jti,
                      const struct af_scenario **scen_out) AF_WARN_UNUSED;

/* af_access_revoke: revoke one access token until its exp. */
af_rc af_access_revoke(struct af_store *st, const char *jti, time_t exp) AF_WARN_UNUSED;

/* af_refresh_issue: the refresh token of rec->grant_id's family: a new
 * family from a copy of rec, or, after af_refresh_rotate, the family's next
 * generation with rec's lifetime. Caller frees *token_out. AF_ERR_STATE when
 * the family was revoked in between. */
af_rc af_refresh_issue(struct af_store *st, const struct af_token_rec *rec,
                       char **token_out) AF_WARN_UNUSED;

/* af_refresh_get: a copy of the family record when token is its live
 * current refresh token (caller clears with af_token_rec_clear()); else
 * AF_ERR_NOTFOUND (unknown, forged, expired, rotated or revoked). */
af_rc af_refresh_get(struct af_store *st, const char *token,
                     struct af_token_rec *out) AF_WARN_UNUSED;

/* af_refresh_rotate: single use of a refresh token. The first call for the
 * live token fills *out and moves the family to its next generation; a later
 * call with it (a replay) revokes the whole grant and returns AF_ERR_STATE,
 * with only out->grant_id set (the grant revoked; NULL when out of memory).
 * Unknown/forged/expired/revoked: AF_ERR_NOTFOUND. */
af_rc af_refresh_rotate(struct af_store *st, const char *token,
                        struct af_token_rec *out) AF_WARN_UNUSED;

/* af_grant_revoke: revoke grant_id: its refresh family and every access
 * token it issued. Unknown grants are remembered as revoked all the same. */
af_rc af_grant_revoke(struct af_store *st, const char *grant_id) AF_WARN_UNUSED;

void af_token_rec_clear(struct af_token_rec *rec);

/* Sessions: af_session_put returns a fresh session id (caller frees). */
af_rc af_session_put(struct af_store *st, const struct af_session_rec *rec,
                     char **sid_out) AF_WARN_UNUSED;
af_rc af_session_get(struct af_store *st, const char *sid,
                     struct af_session_rec *out) AF_WARN_UNUSED;
void af_session_drop(struct af_store *st, const char *sid);
void af_session_rec_clear(struct af_session_rec *rec);

/* Consents, one per client and user (consent.h). af_consent_get: a copy of
 * the live consent of sub to client_id into *out (caller clears with
 * af_consent_rec_clear()), else AF_ERR_NOTFOUND with *out empty. */
af_rc af_consent_get(struct af_store *st, const char *client_id, const char *sub,
                     struct af_consent_rec *out) AF_WARN_UNUSED;
/* af_consent_put: remember a copy of rec as the consent of sub to
 * client_id, replacing the one there. When the table is full the consent
 * due soonest gives way (forgetting one only asks that user again). */
af_rc af_consent_put(struct af_store *st, const char *client_id, const char *sub,
                     const struct af_consent_rec *rec) AF_WARN_UNUSED;
/* af_consent_drop: forget the consent of sub to client_id (its grant was
 * revoked); none: a no-op. */
void af_consent_drop(struct af_store *st, const char *client_id, const char *sub);
void af_consent_rec_clear(struct af_consent_rec *rec);

struct af_store_counts {
    size_t codes, used_codes, grants, revoked, sessions, consents;
};

/* af_store_counts: live entries (expired ones not yet swept included). */
void af_store_counts(struct af_store *st, struct af_store_counts *out);

/* af_store_sweep: drop what expired by now (the sweeper thread's work). */
void af_store_sweep(struct af_store *st);

#endif
