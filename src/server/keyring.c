/*
 * keyring.c - the server's keys at run time (keyring.h): a list of entries
 * changed under one mutex, and the immutable set readers take, rebuilt and
 * swapped on every change.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authflow/jose.h"
#include "authflow/log.h"
#include "authflow/proto.h"
#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/doc.h"
#include "server/keyring.h"

typedef enum { ORIGIN_CONFIG = 0, ORIGIN_ADMIN, ORIGIN_SCENARIO } kr_origin;

static const char *const origin_names[] = {"config", "admin", "scenario"};

struct kr_entry {
    struct af_key *key; /* a reference */
    json_t *jwk;        /* its public JWK, new reference */
    kr_origin origin;
    uint64_t retire_ms; /* af_monotonic_ms() deadline; 0: not retiring */
    time_t retire_at;   /* the same deadline in af_now() seconds, for the list */
};

struct af_keyset {
    _Atomic unsigned refs;
    struct af_key **keys; /* n references, in /jwks order */
    size_t n;
    size_t signer;            /* index into keys */
    struct af_doc *jwks;      /* owned reference */
    struct af_doc *discovery; /* owned reference; NULL without a meta function */
};

struct af_keyring {
    pthread_mutex_t mu;
    struct af_server *srv; /* borrowed */
    af_keyring_meta_fn meta;
    struct kr_entry *e; /* cap entries, n used, in publication order */
    size_t n, cap;
    struct af_key *signer;   /* borrowed from its entry */
    uint64_t next_retire;    /* the earliest retire_ms; 0: none */
    struct af_keyset *cur;   /* owned reference: what readers get */
    void (*sync)(void *arg); /* af_keyring_set_sync; NULL: none */
    void *sync_arg;
};

void af_keyring_set_sync(struct af_keyring *kr, void (*fn)(void *arg), void *arg)
{
    kr->sync = fn;
    kr->sync_arg = arg;
}

/* ---- sets ---- */

void af_keyset_release(struct af_keyset *ks)
{
    if (ks == NULL || atomic_fetch_sub(&ks->refs, 1) > 1)
        return;
    for (size_t i = 0; i < ks->n; i++)
        af_key_free(ks->keys[i]);
    free(ks->keys);
    af_doc_release(ks->jwks);
    af_doc_release(ks->discovery);
    free(ks);
}

const struct af_key *af_keyset_signer(const struct af_keyset *ks)
{
    return ks->keys[ks->signer];
}

size_t af_keyset_count(const struct af_keyset *ks)
{
    return ks->n;
}

const struct af_key *af_keyset_at(const struct af_keyset *ks, size_t i)
{
    return i < ks->n ? ks->keys[i] : NULL;
}

const struct af_key *af_keyset_find(const struct af_keyset *ks, const char *kid)
{
    for (size_t i = 0; kid != NULL && i < ks->n; i++) {
        if (strcmp(af_key_kid(ks->keys[i]), kid) == 0)
            return ks->keys[i];
    }
    return NULL;
}

struct af_doc *af_keyset_jwks(const struct af_keyset *ks)
{
    return ks->jwks;
}

struct af_doc *af_keyset_discovery(const struct af_keyset *ks)
{
    return ks->discovery;
}

/* set_build: the set of kr's entries as they are. Mutex held. */
static af_rc set_build(struct af_keyring *kr, struct af_keyset **out)
{
    struct af_keyset *ks = calloc(1, sizeof(*ks));
    json_t *arr = json_array(), *set = json_pack("{s:o}", AF_JWKS_KEYS, arr);
    af_rc rc = AF_ERR_NOMEM;

    *out = NULL;
    if (ks == NULL || set == NULL)
        goto out;
    atomic_init(&ks->refs, 1);
    ks->keys = calloc(kr->n, sizeof(*ks->keys));
    if (ks->keys == NULL)
        goto out;
    for (size_t i = 0; i < kr->n; i++) {
        ks->keys[ks->n++] = af_key_ref(kr->e[i].key);
        if (kr->e[i].key == kr->signer)
            ks->signer = i;
        if (json_array_append(arr, kr->e[i].jwk) != 0)
            goto out;
    }
    rc = af_doc_from_json(set, &ks->jwks);
    if (rc == AF_OK && kr->meta != NULL)
        rc = kr->meta(kr->srv, ks, &ks->discovery);
    if (rc != AF_OK)
        goto out;
    *out = ks;
    ks = NULL;
out:
    json_decref(set);
    af_keyset_release(ks);
    return rc;
}

/* publish: swap in a set of the entries as they are now; the old one goes
 * to *old, for release outside the mutex. Mutex held. On failure the
 * current set stays. */
static af_rc publish(struct af_keyring *kr, struct af_keyset **old)
{
    struct af_keyset *ks = NULL;
    af_rc rc = set_build(kr, &ks);

    *old = NULL;
    if (rc != AF_OK)
        return rc;
    *old = kr->cur;
    kr->cur = ks;
    return AF_OK;
}

/* ---- entries ---- */

static struct kr_entry *entry_find(struct af_keyring *kr, const char *kid)
{
    for (size_t i = 0; i < kr->n; i++) {
        if (strcmp(af_key_kid(kr->e[i].key), kid) == 0)
            return &kr->e[i];
    }
    return NULL;
}

static void entry_clear(struct kr_entry *en)
{
    af_key_free(en->key);
    json_decref(en->jwk);
    memset(en, 0, sizeof(*en));
}

/* entry_remove: drop kr->e[i], keeping the order of the others. */
static void entry_remove(struct af_keyring *kr, size_t i)
{
    entry_clear(&kr->e[i]);
    memmove(&kr->e[i], &kr->e[i + 1], (kr->n - i - 1) * sizeof(kr->e[0]));
    kr->n--;
    memset(&kr->e[kr->n], 0, sizeof(kr->e[0]));
}

/* entry_append: key (taken) as a new last entry; the caller checked that
 * there is room. */
static af_rc entry_append(struct af_keyring *kr, struct af_key *key, kr_origin origin,
                          struct af_err *err)
{
    struct kr_entry *en = &kr->e[kr->n];
    af_rc rc = af_key_public_jwk(key, &en->jwk);

    if (rc != AF_OK) {
        af_key_free(key);
        return AF_ERR_SET(err, rc, "%s key %s has no public JWK to publish",
                          af_alg_name(af_key_alg(key)), af_key_kid(key));
    }
    en->key = key;
    en->origin = origin;
    kr->n++;
    return AF_OK;
}

static void next_retire_update(struct af_keyring *kr)
{
    kr->next_retire = 0;
    for (size_t i = 0; i < kr->n; i++) {
        uint64_t t = kr->e[i].retire_ms;
        if (t != 0 && (kr->next_retire == 0 || t < kr->next_retire))
            kr->next_retire = t;
    }
}

/* sweep: drop the entries whose grace ended and publish the set without
 * them. Mutex held. */
static void sweep(struct af_keyring *kr, uint64_t now, struct af_keyset **old)
{
    size_t i = 0;

    *old = NULL;
    while (i < kr->n) {
        if (kr->e[i].retire_ms != 0 && kr->e[i].retire_ms <= now) {
            af_log_info("keys: %s retired (grace over): /jwks no longer publishes it",
                        af_key_kid(kr->e[i].key));
            entry_remove(kr, i);
        } else {
            i++;
        }
    }
    next_retire_update(kr);
    if (publish(kr, old) != AF_OK)
        af_log_warn("keys: out of memory publishing the key set without the retired keys");
}

static json_t *entry_json(const struct af_keyring *kr, const struct kr_entry *en)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "kid", af_key_kid(en->key), "alg",
                          af_alg_name(af_key_alg(en->key)), "origin", origin_names[en->origin],
                          "signing", en->key == kr->signer);

    if (o != NULL && json_object_set_new(o, "retire_at",
                                         en->retire_ms ? json_integer((json_int_t)en->retire_at)
                                                       : json_null()) != 0) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

/* ---- lifecycle ---- */

af_rc af_keyring_new(struct af_server *srv, struct af_key *const *keys, size_t n,
                     struct af_keyring **out, struct af_err *err)
{
    struct af_keyring *kr = calloc(1, sizeof(*kr));
    struct af_keyset *old = NULL;
    af_rc rc = AF_ERR_NOMEM;

    *out = NULL;
    if (kr == NULL || n == 0 || pthread_mutex_init(&kr->mu, NULL) != 0) {
        free(kr);
        kr = NULL;
        rc = AF_ERR_SET(err, n == 0 ? AF_ERR_INVALID : AF_ERR_NOMEM,
                        n == 0 ? "no signing key" : "out of memory for the key ring");
        goto out;
    }
    kr->srv = srv;
    kr->cap = n + AF_KEYRING_ADMIN_MAX + 1; /* + the scenario's */
    kr->e = calloc(kr->cap, sizeof(*kr->e));
    if (kr->e == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory for the key ring");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        rc = entry_append(kr, af_key_ref(keys[i]), ORIGIN_CONFIG, err);
        if (rc != AF_OK)
            goto out;
    }
    kr->signer = kr->e[0].key;
    rc = publish(kr, &old);
    if (rc != AF_OK) {
        AF_ERR_SET(err, rc, "cannot serialise the key set");
        goto out;
    }
    *out = kr;
    kr = NULL;
out:
    af_keyring_free(kr);
    return rc;
}

void af_keyring_free(struct af_keyring *kr)
{
    if (kr == NULL)
        return;
    for (size_t i = 0; kr->e != NULL && i < kr->n; i++)
        entry_clear(&kr->e[i]);
    free(kr->e);
    af_keyset_release(kr->cur);
    pthread_mutex_destroy(&kr->mu);
    free(kr);
}

af_rc af_keyring_set_meta(struct af_keyring *kr, af_keyring_meta_fn meta)
{
    struct af_keyset *old = NULL;
    af_rc rc;

    pthread_mutex_lock(&kr->mu);
    kr->meta = meta;
    rc = publish(kr, &old);
    pthread_mutex_unlock(&kr->mu);
    af_keyset_release(old);
    return rc;
}

/* ---- readers ---- */

struct af_keyset *af_keyring_get(struct af_keyring *kr)
{
    struct af_keyset *ks, *old = NULL;

    if (kr->sync != NULL)
        kr->sync(kr->sync_arg);
    pthread_mutex_lock(&kr->mu);
    if (kr->next_retire != 0 && af_monotonic_ms() >= kr->next_retire)
        sweep(kr, af_monotonic_ms(), &old);
    ks = kr->cur;
    atomic_fetch_add(&ks->refs, 1);
    pthread_mutex_unlock(&kr->mu);
    af_keyset_release(old); /* requests in flight hold their own reference */
    return ks;
}

/* ---- the admin API ---- */

json_t *af_keyring_json(struct af_keyring *kr)
{
    json_t *arr = json_array(), *o = NULL;
    struct af_keyset *ks = af_keyring_get(kr); /* sweeps first */

    pthread_mutex_lock(&kr->mu);
    for (size_t i = 0; arr != NULL && i < kr->n; i++) {
        if (json_array_append_new(arr, entry_json(kr, &kr->e[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    if (arr != NULL)
        o = json_pack("{s:s, s:s, s:o}", "signing", af_key_kid(kr->signer), "jwks_etag",
                      af_doc_etag(kr->cur->jwks), AF_JWKS_KEYS, arr);
    pthread_mutex_unlock(&kr->mu);
    af_keyset_release(ks);
    return o;
}

/* entry_out_set: *entry_out (when asked for) gets en's entry. Mutex held. */
static af_rc entry_out_set(const struct af_keyring *kr, const struct kr_entry *en,
                           json_t **entry_out)
{
    if (entry_out == NULL)
        return AF_OK;
    *entry_out = entry_json(kr, en);
    return *entry_out != NULL ? AF_OK : AF_ERR_NOMEM;
}

af_rc af_keyring_add(struct af_keyring *kr, struct af_key *key, bool sign, json_t **entry_out,
                     struct af_err *err)
{
    struct af_keyset *old = NULL;
    struct af_key *prev;
    size_t added = 0;
    af_rc rc;

    if (entry_out != NULL)
        *entry_out = NULL;
    pthread_mutex_lock(&kr->mu);
    for (size_t i = 0; i < kr->n; i++)
        added += kr->e[i].origin == ORIGIN_ADMIN;
    if (entry_find(kr, af_key_kid(key)) != NULL) {
        rc = AF_ERR_SET(err, AF_ERR_STATE, "a published key has the kid \"%.64s\" already",
                        af_key_kid(key));
        af_key_free(key);
        goto out;
    }
    if (added >= AF_KEYRING_ADMIN_MAX) {
        rc = AF_ERR_SET(err, AF_ERR_TOOBIG,
                        "%d added keys are published already: retire one first (DELETE "
                        "/admin/keys?kid=...)",
                        AF_KEYRING_ADMIN_MAX);
        af_key_free(key);
        goto out;
    }
    /* the scenario's key, if any, stays last: it is appended again */
    if (kr->n > 0 && kr->e[kr->n - 1].origin == ORIGIN_SCENARIO) {
        struct kr_entry scen = kr->e[kr->n - 1];
        kr->e[kr->n - 1] = (struct kr_entry){0};
        kr->n--;
        rc = entry_append(kr, key, ORIGIN_ADMIN, err);
        kr->e[kr->n++] = scen;
    } else {
        rc = entry_append(kr, key, ORIGIN_ADMIN, err);
    }
    if (rc != AF_OK)
        goto out;
    prev = kr->signer;
    if (sign)
        kr->signer = key;
    rc = publish(kr, &old);
    if (rc != AF_OK) {
        kr->signer = prev;
        entry_remove(kr, (size_t)(entry_find(kr, af_key_kid(key)) - kr->e));
        AF_ERR_SET(err, rc, "out of memory publishing the key set");
        goto out;
    }
    af_log_info("keys: added %s key %s%s", af_alg_name(af_key_alg(key)), af_key_kid(key),
                sign ? ", which signs from now on" : "");
    rc = entry_out_set(kr, entry_find(kr, af_key_kid(key)), entry_out);
out:
    pthread_mutex_unlock(&kr->mu);
    af_keyset_release(old);
    return rc;
}

/* usable: whether en may be picked for a change; else err says why. */
static af_rc usable(const struct kr_entry *en, const char *kid, struct af_err *err)
{
    if (en == NULL)
        return AF_ERR_SET(err, AF_ERR_NOTFOUND, "no published key has the kid \"%.64s\"", kid);
    if (en->origin == ORIGIN_SCENARIO)
        return AF_ERR_SET(err, AF_ERR_STATE,
                          "%.64s is the key of the id_token_key_rotated or "
                          "id_token_no_kid_decoy scenario (DELETE /admin/scenarios withdraws it)",
                          kid);
    return AF_OK;
}

af_rc af_keyring_sign_with(struct af_keyring *kr, const char *kid, json_t **entry_out,
                           struct af_err *err)
{
    struct af_keyset *old = NULL;
    struct kr_entry *en;
    struct af_key *prev;
    af_rc rc;

    if (entry_out != NULL)
        *entry_out = NULL;
    pthread_mutex_lock(&kr->mu);
    en = entry_find(kr, kid);
    rc = usable(en, kid, err);
    if (rc != AF_OK)
        goto out;
    if (en->retire_ms != 0) {
        rc = AF_ERR_SET(err, AF_ERR_STATE,
                        "%.64s is being retired: it cannot sign again (add a new key)", kid);
        goto out;
    }
    prev = kr->signer;
    if (prev != en->key) {
        kr->signer = en->key;
        rc = publish(kr, &old);
        if (rc != AF_OK) {
            kr->signer = prev;
            AF_ERR_SET(err, rc, "out of memory publishing the key set");
            goto out;
        }
        af_log_info("keys: %s signs from now on (was %s)", kid, af_key_kid(prev));
    }
    rc = entry_out_set(kr, en, entry_out);
out:
    pthread_mutex_unlock(&kr->mu);
    af_keyset_release(old);
    return rc;
}

af_rc af_keyring_retire(struct af_keyring *kr, const char *kid, long grace, json_t **entry_out,
                        struct af_err *err)
{
    struct af_keyset *old = NULL;
    struct kr_entry *en, saved;
    af_rc rc;

    if (entry_out != NULL)
        *entry_out = NULL;
    pthread_mutex_lock(&kr->mu);
    en = entry_find(kr, kid);
    rc = usable(en, kid, err);
    if (rc != AF_OK)
        goto out;
    if (en->key == kr->signer) {
        rc = AF_ERR_SET(err, AF_ERR_STATE,
                        "%.64s is the signing key: make another key the signing key first (POST "
                        "/admin/keys/signing)",
                        kid);
        goto out;
    }
    saved = *en;
    en->retire_ms = af_monotonic_ms() + (uint64_t)grace * 1000u;
    en->retire_at = af_now() + (time_t)grace;
    rc = entry_out_set(kr, en, entry_out);
    if (rc != AF_OK) {
        *en = saved;
        goto out;
    }
    af_log_info("keys: %s retires in %ld s; /jwks publishes it until then", kid, grace);
    next_retire_update(kr);
    if (grace == 0)
        sweep(kr, en->retire_ms, &old);
out:
    pthread_mutex_unlock(&kr->mu);
    af_keyset_release(old);
    return rc;
}

/* ---- the scenario's key ---- */

af_rc af_keyring_scenario_publish(struct af_keyring *kr, struct af_key *key)
{
    struct af_keyset *old = NULL;
    struct af_err err;
    af_rc rc;

    af_err_clear(&err);
    pthread_mutex_lock(&kr->mu);
    if (kr->n > 0 && kr->e[kr->n - 1].origin == ORIGIN_SCENARIO)
        entry_remove(kr, kr->n - 1);
    rc = entry_append(kr, af_key_ref(key), ORIGIN_SCENARIO, &err);
    if (rc == AF_OK)
        rc = publish(kr, &old);
    pthread_mutex_unlock(&kr->mu);
    af_keyset_release(old);
    return rc;
}

void af_keyring_scenario_withdraw(struct af_keyring *kr)
{
    struct af_keyset *old = NULL;

    pthread_mutex_lock(&kr->mu);
    if (kr->n > 0 && kr->e[kr->n - 1].origin == ORIGIN_SCENARIO) {
        entry_remove(kr, kr->n - 1);
        if (publish(kr, &old) != AF_OK)
            af_log_warn("keys: out of memory withdrawing the scenario's key");
    }
    pthread_mutex_unlock(&kr->mu);
    af_keyset_release(old);
}
