/*
 * keyring.h - the keys of a running server (keyring.c; docs/admin.md
 * "Keys"): the configured keys, keys added through the admin API and the
 * key an id_token_key_rotated scenario publishes; which of them signs; the
 * retirement of a key after a grace period. Private to src/server/.
 *
 * Readers (token issuance and checks, /jwks, the metadata document) take a
 * snapshot, struct af_keyset: immutable and reference-counted, holding a
 * reference to each of its keys and its serialised documents. A request
 * signs and verifies with the set it took, whatever the admin API does
 * meanwhile. Writers change the ring under its mutex, build the next set
 * and publish it with a pointer swap; the old set is freed by whoever
 * releases it last. A retired key is dropped lazily: the first
 * af_keyring_get() after its deadline publishes a set without it, so no
 * reader ever sees it past the deadline and no timer thread is needed.
 *
 * Everything is in memory: a restart publishes the configured keys again
 * (docs/config.md, "Keys that survive a restart").
 */
#ifndef AUTHFLOW_SERVER_KEYRING_H
#define AUTHFLOW_SERVER_KEYRING_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "authflow/jose.h"
#include "authflow/rc.h"

struct af_doc;    /* doc.h */
struct af_server; /* core.h */

/* The most keys the admin API may add (retiring ones count until gone). */
#define AF_KEYRING_ADMIN_MAX 16
/* The longest grace a retirement may ask for: one year, the bound of the
 * lifetimes.* keys. */
#define AF_KEYRING_GRACE_MAX 31536000L

struct af_keyring; /* opaque; one mutex */
struct af_keyset;  /* opaque, immutable snapshot */

/* af_keyring_meta_fn: builds the metadata document of srv for the key set
 * ks (which key algorithms it advertises); a new reference in *out. Called
 * with the ring's mutex held: it must not call back into the ring. */
typedef af_rc (*af_keyring_meta_fn)(const struct af_server *srv, const struct af_keyset *ks,
                                    struct af_doc **out);

/* af_keyring_new: a ring over the configured keys[0..n) (n >= 1; keys[0]
 * signs), each taken by a new reference (the caller keeps its own).
 * srv is borrowed and passed to the meta function. Every key must have a
 * public JWK (not HS256). Caller frees with af_keyring_free() (NULL is a
 * no-op). */
af_rc af_keyring_new(struct af_server *srv, struct af_key *const *keys, size_t n,
                     struct af_keyring **out, struct af_err *err) AF_WARN_UNUSED;
void af_keyring_free(struct af_keyring *kr);

/* af_keyring_set_meta: from now on every published set carries the
 * metadata document meta builds (srv's issuer must be set); the current
 * set is rebuilt with it. */
af_rc af_keyring_set_meta(struct af_keyring *kr, af_keyring_meta_fn meta) AF_WARN_UNUSED;

/* af_keyring_set_sync: fn(arg) runs at the start of every
 * af_keyring_get, outside the ring's mutex, to bring in changes made
 * elsewhere (keyshare.h: the other replicas'); it may add, pick and retire
 * keys. NULL: none. Set once, before the ring is shared. */
void af_keyring_set_sync(struct af_keyring *kr, void (*fn)(void *arg), void *arg);

/* ---- readers ---- */

/* af_keyring_get: the current set, a new reference the caller releases
 * with af_keyset_release(); never NULL for a ring. Drops the keys whose
 * grace ended first. */
struct af_keyset *af_keyring_get(struct af_keyring *kr);

/* af_keyset_release: drop one reference; the last frees the set (and its
 * references to keys and documents). NULL is a no-op. */
void af_keyset_release(struct af_keyset *ks);

/* Accessors; borrowed, valid while the caller holds ks. */
const struct af_key *af_keyset_signer(const struct af_keyset *ks);       /* never NULL */
size_t af_keyset_count(const struct af_keyset *ks);                      /* published keys */
const struct af_key *af_keyset_at(const struct af_keyset *ks, size_t i); /* NULL past the end */
/* af_keyset_find: the published key whose kid is kid; NULL when none. */
const struct af_key *af_keyset_find(const struct af_keyset *ks, const char *kid);
/* af_keyset_jwks: {"keys": [...]}, /jwks's body; af_keyset_discovery: the
 * metadata document, NULL until af_keyring_set_meta. Borrowed: take
 * af_doc_ref() to keep one beyond ks. */
struct af_doc *af_keyset_jwks(const struct af_keyset *ks);
struct af_doc *af_keyset_discovery(const struct af_keyset *ks);

/* ---- the admin API ---- */

/* af_keyring_json: {"signing": KID, "jwks_etag": ETAG, "keys": [entry...]}
 * in /jwks order; an entry is {"kid", "alg", "origin" ("config", "admin"
 * or "scenario"), "signing", "retire_at" (seconds since the epoch, or
 * null)}. New reference; NULL on allocation failure. */
json_t *af_keyring_json(struct af_keyring *kr);

/* af_keyring_add: publish key (taken: the ring owns the caller's
 * reference, also on failure), and with sign make it the signing key.
 * *entry_out (may be NULL) gets its entry, new reference. AF_ERR_STATE when
 * a published key has its kid; AF_ERR_TOOBIG when AF_KEYRING_ADMIN_MAX added
 * keys are published; err says which. */
af_rc af_keyring_add(struct af_keyring *kr, struct af_key *key, bool sign, json_t **entry_out,
                     struct af_err *err) AF_WARN_UNUSED;

/* af_keyring_sign_with: make the published key kid the signing key (no
 * change when it is). AF_ERR_NOTFOUND when no key has kid; AF_ERR_STATE
 * when it is being retired or is a scenario's key. */
af_rc af_keyring_sign_with(struct af_keyring *kr, const char *kid, json_t **entry_out,
                           struct af_err *err) AF_WARN_UNUSED;

/* af_keyring_retire: kid stays published (and verifies tokens) for grace
 * more seconds, then is dropped; grace 0 drops it now. A key already being
 * retired gets the new deadline. AF_ERR_NOTFOUND when no key has kid;
 * AF_ERR_STATE for the signing key or a scenario's key. */
af_rc af_keyring_retire(struct af_keyring *kr, const char *kid, long grace, json_t **entry_out,
                        struct af_err *err) AF_WARN_UNUSED;

/* ---- the id_token_key_rotated scenario ---- */

/* af_keyring_scenario_publish: publish key (a new reference is taken; the
 * caller keeps its own) after the other keys, replacing the key of an
 * earlier call. */
af_rc af_keyring_scenario_publish(struct af_keyring *kr, struct af_key *key) AF_WARN_UNUSED;

/* af_keyring_scenario_withdraw: drop the key of the scenario, if any. */
void af_keyring_scenario_withdraw(struct af_keyring *kr);

#endif
