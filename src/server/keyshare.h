/*
 * keyshare.h - the signing keys of replicas that share a Redis store
 * (keyshare.c; docs/replicas.md): every replica publishes the same JWKS,
 * signs with the same key and verifies the others' tokens. Private to
 * src/server/.
 *
 * Configured keys with "generate" and no pem_file are generated once, by
 * the first replica to start, and kept in Redis (the other replicas read
 * them there instead of generating their own). A change through any
 * replica's admin API (a key added, the signing key picked, a key retired)
 * is appended to a log in Redis, which every replica replays in order: the
 * others within AF_KEYSHARE_SYNC_MS of their next key read, and a replica
 * started later from the beginning. A retirement carries its deadline, so
 * the key goes at the same time everywhere.
 */
#ifndef AUTHFLOW_SERVER_KEYSHARE_H
#define AUTHFLOW_SERVER_KEYSHARE_H

#include <stdbool.h>

#include "authflow/jose.h"
#include "authflow/rc.h"

struct af_server;   /* core.h */
struct af_keyshare; /* opaque */

/* How often a replica looks for the others' key changes, at most. */
#define AF_KEYSHARE_SYNC_MS 200

/* af_keyshare_generated: the configured key number i of alg, generated
 * once for all replicas of srv's store and kept in Redis; *out a new key
 * (caller frees), *created whether this replica made it. */
af_rc af_keyshare_generated(struct af_server *srv, size_t i, af_alg alg, struct af_key **out,
                            bool *created, struct af_err *err) AF_WARN_UNUSED;

/* af_keyshare_new: srv's share (its keyring made and its store in Redis),
 * with the log replayed up to now, and the ring asking it to sync before
 * each read; *out NULL when srv's store is in memory. Freed by
 * af_keyshare_free (NULL is a no-op) after the ring. */
af_rc af_keyshare_new(struct af_server *srv, struct af_keyshare **out,
                      struct af_err *err) AF_WARN_UNUSED;
void af_keyshare_free(struct af_keyshare *ks);

/* After a change through this replica's admin API succeeded: tell the
 * others (the failure to, logged, leaves this replica changed alone).
 * No-ops for a NULL share. retire_at: seconds since the epoch. */
void af_keyshare_added(struct af_keyshare *ks, const struct af_key *key, bool sign);
void af_keyshare_signing(struct af_keyshare *ks, const char *kid);
void af_keyshare_retired(struct af_keyshare *ks, const char *kid, long long retire_at);

#endif
