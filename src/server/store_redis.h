/*
 * store_redis.h - the stores of store.h kept in Redis (store_redis.c), so
 * that replicas of authflowd behind one load balancer are one provider: a
 * code issued by one is redeemed once at any, a refresh family rotates
 * once across all, a revocation at one is seen by all, and a login session
 * made at one is known to all (docs/replicas.md). Private to src/server/;
 * store.c is its only caller and keeps the public interface (store.h).
 *
 * Every operation that decides (a code's single use, a family's rotation,
 * a revocation) is one Lua script, so Redis runs it atomically whichever
 * replica sends it. Entries expire by Redis TTLs: memory is bounded by the
 * live state, and nothing here sweeps. Keys are "PREFIX[PATH]:KIND:ID",
 * PATH the issuer's path in issuers[] ("" at the top level).
 *
 * Failures: Redis unreachable, slow past timeout_ms, or answering an error
 * gives AF_ERR_NET (the caller answers 503); the reason is logged at most
 * once per interval. The next call reconnects. Nothing is ever decided
 * without Redis: no code is honoured twice, no revoked token is accepted.
 *
 * Records cross in the shapes of store.h; every string an operation hands
 * out is the caller's.
 */
#ifndef AUTHFLOW_SERVER_STORE_REDIS_H
#define AUTHFLOW_SERVER_STORE_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "authflow/rc.h"
#include "server/store.h"

struct af_rstore;

struct af_rstore_opts {
    const char *url;    /* store.redis (af_cfg_redis_parse), borrowed */
    const char *prefix; /* store.prefix, borrowed */
    const char *path;   /* the issuer's path, "" at the top level, borrowed */
    long timeout_ms;    /* connect and command timeout */
    unsigned conns;     /* connections kept (one per worker thread is enough) */
    long revoke_keep;   /* store_limits.revoke_keep */
};

/* af_rstore_open: connect once to check the address, password and
 * database (a clear error in err, AF_ERR_NET, when it cannot: authflowd
 * then exits 1), and load the scripts. Caller frees with af_rstore_free. */
af_rc af_rstore_open(const struct af_rstore_opts *o, struct af_rstore **out,
                     struct af_err *err) AF_WARN_UNUSED;
void af_rstore_free(struct af_rstore *rs);

/* af_rstore_secret: the shared secret NAME of len bytes: the first replica
 * to ask sets it from the CSPRNG, every replica reads the same. */
af_rc af_rstore_secret(struct af_rstore *rs, const char *name, unsigned char *key,
                       size_t len) AF_WARN_UNUSED;

/* Codes: as af_code_put / af_code_take (store.h); code and grant ids are
 * made by the caller. */
af_rc af_rstore_code_put(struct af_rstore *rs, const char *code, const char *grant,
                         const struct af_code_rec *rec) AF_WARN_UNUSED;
af_rc af_rstore_code_take(struct af_rstore *rs, const char *code, const char *client_id,
                          struct af_code_rec *out, char **grant_id_out) AF_WARN_UNUSED;

/* Grants: as af_grant_note, af_grant_revoke, af_access_check (grant may be
 * NULL: a token of no grant), af_access_revoke. */
af_rc af_rstore_grant_note(struct af_rstore *rs, const char *grant, const char *scenario,
                           time_t expires) AF_WARN_UNUSED;
af_rc af_rstore_grant_revoke(struct af_rstore *rs, const char *grant) AF_WARN_UNUSED;
af_rc af_rstore_access_check(struct af_rstore *rs, const char *jti, const char *grant,
                             const struct af_scenario **scen_out) AF_WARN_UNUSED;
af_rc af_rstore_access_revoke(struct af_rstore *rs, const char *jti, time_t exp) AF_WARN_UNUSED;

/* Refresh families, by grant and generation (store.c makes and checks the
 * token): family_put makes rec the family's record and gives its current
 * generation (AF_ERR_STATE: revoked); family_get copies the record when gen
 * is the live current one; family_rotate as af_refresh_rotate. */
af_rc af_rstore_family_put(struct af_rstore *rs, const struct af_token_rec *rec,
                           uint32_t *gen_out) AF_WARN_UNUSED;
af_rc af_rstore_family_get(struct af_rstore *rs, const char *grant, uint32_t gen,
                           struct af_token_rec *out) AF_WARN_UNUSED;
af_rc af_rstore_family_rotate(struct af_rstore *rs, const char *grant, uint32_t gen,
                              struct af_token_rec *out) AF_WARN_UNUSED;

/* Sessions and consents, as in store.h; ids are made by the caller. */
af_rc af_rstore_session_put(struct af_rstore *rs, const char *sid,
                            const struct af_session_rec *rec) AF_WARN_UNUSED;
af_rc af_rstore_session_get(struct af_rstore *rs, const char *sid,
                            struct af_session_rec *out) AF_WARN_UNUSED;
void af_rstore_session_drop(struct af_rstore *rs, const char *sid);
af_rc af_rstore_consent_get(struct af_rstore *rs, const char *key,
                            struct af_consent_rec *out) AF_WARN_UNUSED;
af_rc af_rstore_consent_put(struct af_rstore *rs, const char *key,
                            const struct af_consent_rec *rec) AF_WARN_UNUSED;
void af_rstore_consent_drop(struct af_rstore *rs, const char *key);

/* The scenario queue (scenario.c) of the issuer, shared by the replicas:
 * an entry queued through any admin API applies at whichever replica
 * serves the flow, and is used up once across them. An entry as stored. */
struct af_rstore_scen {
    char id[24];      /* "s-N", N from one counter for all replicas */
    char name[64];    /* the scenario's wire name */
    char client[256]; /* "" for any */
    char user[256];   /* "" for any */
    unsigned stage;   /* af_stage */
    long times, remaining;
    unsigned long applied;
    unsigned delay_ms;
};

/* af_rstore_scen_add: append s (its id is set here) unless max entries
 * wait already (AF_ERR_TOOBIG). */
af_rc af_rstore_scen_add(struct af_rstore *rs, struct af_rstore_scen *s, size_t max) AF_WARN_UNUSED;
/* af_rstore_scen_take: as af_scen_take: the first entry whose stage bit
 * is in stages and that matches client_id and the user (username or sub;
 * NULL: none), one use consumed, into *out; AF_ERR_NOTFOUND when none. */
af_rc af_rstore_scen_take(struct af_rstore *rs, unsigned stages, const char *client_id,
                          const char *username, const char *sub,
                          struct af_rstore_scen *out) AF_WARN_UNUSED;
/* af_rstore_scen_clear: drop entry id, or all when id is NULL; *n how many. */
af_rc af_rstore_scen_clear(struct af_rstore *rs, const char *id, size_t *n) AF_WARN_UNUSED;
/* af_rstore_scen_each: fn for every entry, in queue order. */
af_rc af_rstore_scen_each(struct af_rstore *rs,
                          void (*fn)(void *arg, const struct af_rstore_scen *),
                          void *arg) AF_WARN_UNUSED;
/* af_rstore_first: true in *first for the first replica to ask for name
 * since Redis was empty (the config's scenarios are queued once). */
af_rc af_rstore_first(struct af_rstore *rs, const char *name, bool *first) AF_WARN_UNUSED;

/* The request ledger (ledger.c) of the issuer, one ordered log for all
 * replicas: a Redis stream capped at cap entries, whose ids are the seqs
 * of one counter (clearing does not reset it). An entry is its JSON text
 * and the values the filters compare (NULL: none). */
struct af_rstore_ledger_q {
    unsigned long long since;
    const char *path, *method, *client_id, *code; /* NULL: any */
    size_t limit;
};
af_rc af_rstore_ledger_add(struct af_rstore *rs, size_t cap, const char *text, const char *path,
                           const char *method, const char *client_id, const char *code,
                           bool escaped, unsigned long long *seq) AF_WARN_UNUSED;
/* af_rstore_ledger_query: fn(arg, seq, text) for each entry of q, oldest
 * first; *next, *dropped and *escaped as af_ledger_query says. */
af_rc af_rstore_ledger_query(struct af_rstore *rs, const struct af_rstore_ledger_q *q,
                             void (*fn)(void *arg, unsigned long long seq, const char *text),
                             void *arg, unsigned long long *next, unsigned long long *dropped,
                             unsigned long long *escaped) AF_WARN_UNUSED;
af_rc af_rstore_ledger_clear(struct af_rstore *rs, size_t *n) AF_WARN_UNUSED;

/* af_rstore_put_once: the value stored under NAME, set to
 * value[0..len) by the first replica to ask (SET NX, no expiry), read by
 * every other: a key generated once for all replicas. *stored is the
 * caller's (NUL-terminated, *stored_len bytes). The store keeps a copy
 * and writes it back (SET NX) on every new connection, so a Redis
 * restarted empty gets it again. Called at start only. */
af_rc af_rstore_put_once(struct af_rstore *rs, const char *name, const char *value, size_t len,
                         char **stored, size_t *stored_len) AF_WARN_UNUSED;

/* A log that replicas append to and replay in order (the admin API's key
 * changes, keyshare.c): af_rstore_log_push appends text and gives the
 * log's new length; af_rstore_log_read calls fn for each entry from index
 * from on (0-based) and sets *len to the log's length. epoch
 * (AF_RSTORE_EPOCH_MAX bytes, the caller's, "" at first) is the log's
 * mark as last read: when Redis restarted empty and the log began again,
 * the mark differs, and the log is read from its start. */
#define AF_RSTORE_EPOCH_MAX 48
af_rc af_rstore_log_push(struct af_rstore *rs, const char *name, const char *text,
                         long long *len) AF_WARN_UNUSED;
af_rc af_rstore_log_read(struct af_rstore *rs, const char *name, char *epoch, long long from,
                         void (*fn)(void *arg, const char *text), void *arg,
                         long long *len) AF_WARN_UNUSED;

/* af_rstore_counts: live entries of this issuer, counted with SCAN (for
 * the admin API and tests; not for a hot path). */
af_rc af_rstore_counts(struct af_rstore *rs, struct af_store_counts *out) AF_WARN_UNUSED;

#endif
