/*
 * store.c - authflowd's in-memory state (see store.h): codes, grants,
 * revoked access-token ids, login sessions and consents, each in a sharded
 * hash table with an expiry wheel, swept by a thread once a second.
 * With store.redis set, every public function hands its work to
 * store_redis.c instead; what stays here for both is making the ids and
 * the refresh tokens' format and MAC (under a key shared through Redis).
 *
 * Written by hand: none of our libraries offers a concurrent expiring map.
 * Each shard has its own mutex; no operation holds two locks at once.
 */
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "authflow/buf.h"
#include "authflow/log.h"
#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/store.h"
#include "server/scenario.h"
#include "server/store_redis.h"

/* How many random bytes make a code or a session id, a grant id, the random
 * part of a jti; the refresh-token MAC's bytes (of HMAC-SHA256) and key. */
#define STORE_ID_BYTES    32
#define STORE_GRANT_BYTES 16
#define STORE_JTI_BYTES   16
#define STORE_MAC_BYTES   16
#define STORE_KEY_BYTES   32
/* Longest grant id or refresh token accepted from outside (ours are ~50). */
#define STORE_KEY_MAX 128
/* Shards per table (a power of two), wheel slots (seconds), first buckets. */
#define STORE_SHARDS      16u
#define STORE_WHEEL_SLOTS 256u
#define STORE_BUCKETS_MIN 64u
/* A full table logs at most one line per this many seconds. */
#define STORE_FULL_LOG_SECONDS 10
/* Return memory to the system after a sweep that freed this many entries. */
#define STORE_TRIM_AFTER 4096u

typedef enum { E_CODE, E_USED, E_GRANT, E_JTI, E_SESSION, E_CONSENT } entry_kind;

struct entry {
    struct entry *hnext;         /* hash chain */
    struct entry *wprev, *wnext; /* expiry wheel slot */
    uint64_t hash;
    time_t expires;
    bool used;      /* codes: single use */
    bool revoked;   /* grants */
    bool family;    /* grants: u.tok is a live refresh family */
    uint32_t gen;   /* grants: the family's current generation */
    char *grant_id; /* codes and used codes */
    union {
        struct af_code_rec code;
        struct af_token_rec tok; /* grants: the family, or only .scenario */
        struct af_session_rec sess;
        struct af_consent_rec consent;
    } u;
    char key[]; /* NUL-terminated */
};

struct shard {
    pthread_mutex_t mu;
    struct entry **buckets;
    size_t nbuckets, n;
    struct entry *wheel[STORE_WHEEL_SLOTS];
    time_t swept_to; /* every second up to this one has been swept */
};

struct table {
    entry_kind kind;
    const char *what;  /* for the log line of a full table */
    const char *limit; /* the config key of its cap */
    size_t max;
    bool evict; /* when full, drop the entry due soonest instead of refusing */
    atomic_size_t n;
    atomic_ulong refused;       /* since the last log line */
    atomic_llong last_full_log; /* time of that line */
    struct shard shards[STORE_SHARDS];
};

struct af_store {
    struct table codes, used, grants, jtis, sessions, consents;
    long revoke_keep;
    unsigned char mac_key[STORE_KEY_BYTES];
    size_t freed_since_trim; /* the sweeper's alone */
    bool sync_ready;         /* stop_mu and stop_cv initialised */
    bool has_sweeper;        /* the sweeper thread runs */
    pthread_t sweeper;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    bool stopping;
    struct af_rstore *rs; /* set: everything lives in Redis (store_redis.h), and the
                             tables above stay empty */
};

static uint64_t hash_str(const char *s)
{
    /* FNV-1a; keys are CSPRNG output or verified before lookup, and a
     * lookup of an attacker-chosen key only walks one short chain. */
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* ---- records ---- */

void af_code_rec_clear(struct af_code_rec *r)
{
    if (r == NULL)
        return;
    free(r->client_id);
    free(r->redirect_uri);
    free(r->challenge);
    free(r->challenge_method);
    free(r->scope);
    free(r->sub);
    free(r->nonce);
    free(r->sid);
    memset(r, 0, sizeof(*r));
}

void af_token_rec_clear(struct af_token_rec *r)
{
    if (r == NULL)
        return;
    free(r->client_id);
    free(r->sub);
    free(r->scope);
    free(r->grant_id);
    free(r->nonce);
    memset(r, 0, sizeof(*r));
}

void af_session_rec_clear(struct af_session_rec *r)
{
    if (r == NULL)
        return;
    free(r->sub);
    memset(r, 0, sizeof(*r));
}

void af_consent_rec_clear(struct af_consent_rec *r)
{
    if (r == NULL)
        return;
    free(r->scope);
    memset(r, 0, sizeof(*r));
}

/* Deep copies: on failure the destination is cleared and AF_ERR_NOMEM returned. */
#define DUP_FIELD(dst, src, f)                                                                     \
    do {                                                                                           \
        if ((src)->f != NULL) {                                                                    \
            (dst)->f = strdup((src)->f);                                                           \
            if ((dst)->f == NULL)                                                                  \
                ok = false;                                                                        \
        }                                                                                          \
    } while (0)

static af_rc code_copy(struct af_code_rec *d, const struct af_code_rec *s)
{
    bool ok = true;
    memset(d, 0, sizeof(*d));
    DUP_FIELD(d, s, client_id);
    DUP_FIELD(d, s, redirect_uri);
    DUP_FIELD(d, s, challenge);
    DUP_FIELD(d, s, challenge_method);
    DUP_FIELD(d, s, scope);
    DUP_FIELD(d, s, sub);
    DUP_FIELD(d, s, nonce);
    DUP_FIELD(d, s, sid);
    d->auth_time = s->auth_time;
    d->expires = s->expires;
    d->scenario = s->scenario;
    d->scenario_delay_ms = s->scenario_delay_ms;
    d->no_refresh = s->no_refresh;
    if (!ok) {
        af_code_rec_clear(d);
        return AF_ERR_NOMEM;
    }
    return AF_OK;
}

static af_rc tok_copy(struct af_token_rec *d, const struct af_token_rec *s)
{
    bool ok = true;
    memset(d, 0, sizeof(*d));
    DUP_FIELD(d, s, client_id);
    DUP_FIELD(d, s, sub);
    DUP_FIELD(d, s, scope);
    DUP_FIELD(d, s, grant_id);
    DUP_FIELD(d, s, nonce);
    d->auth_time = s->auth_time;
    d->expires = s->expires;
    d->issued = s->issued;
    d->is_refresh = s->is_refresh;
    d->scenario = s->scenario;
    if (!ok) {
        af_token_rec_clear(d);
        return AF_ERR_NOMEM;
    }
    return AF_OK;
}

static af_rc sess_copy(struct af_session_rec *d, const struct af_session_rec *s)
{
    bool ok = true;
    memset(d, 0, sizeof(*d));
    DUP_FIELD(d, s, sub);
    d->auth_time = s->auth_time;
    d->expires = s->expires;
    if (!ok) {
        af_session_rec_clear(d);
        return AF_ERR_NOMEM;
    }
    return AF_OK;
}

static af_rc consent_copy(struct af_consent_rec *d, const struct af_consent_rec *s)
{
    bool ok = true;
    memset(d, 0, sizeof(*d));
    DUP_FIELD(d, s, scope);
    d->offline = s->offline;
    d->expires = s->expires;
    if (!ok) {
        af_consent_rec_clear(d);
        return AF_ERR_NOMEM;
    }
    return AF_OK;
}

static void entry_free(entry_kind kind, struct entry *e)
{
    if (e == NULL)
        return;
    if (kind == E_CODE)
        af_code_rec_clear(&e->u.code);
    else if (kind == E_GRANT)
        af_token_rec_clear(&e->u.tok);
    else if (kind == E_SESSION)
        af_session_rec_clear(&e->u.sess);
    else if (kind == E_CONSENT)
        af_consent_rec_clear(&e->u.consent);
    free(e->grant_id);
    free(e);
}

/* new_entry: an entry keyed by a copy of key, or by a fresh random id. */
static af_rc new_entry(const char *key, struct entry **out)
{
    char *rnd = NULL;
    struct entry *e;
    size_t len;
    af_rc rc;

    *out = NULL;
    if (key == NULL) {
        rc = af_rand_token(STORE_ID_BYTES, &rnd);
        if (rc != AF_OK)
            return rc;
        key = rnd;
    }
    len = strlen(key);
    e = calloc(1, sizeof(*e) + len + 1);
    if (e == NULL) {
        free(rnd);
        return AF_ERR_NOMEM;
    }
    memcpy(e->key, key, len + 1);
    e->hash = hash_str(e->key);
    free(rnd);
    *out = e;
    return AF_OK;
}

/* ---- shards: hash table plus expiry wheel; caller holds sh->mu ---- */

static size_t slot_of(time_t t)
{
    return (size_t)((uint64_t)t % STORE_WHEEL_SLOTS);
}

static void wheel_link(struct shard *sh, struct entry *e)
{
    struct entry **head = &sh->wheel[slot_of(e->expires)];
    e->wprev = NULL;
    e->wnext = *head;
    if (*head != NULL)
        (*head)->wprev = e;
    *head = e;
}

static void wheel_unlink(struct shard *sh, struct entry *e)
{
    if (e->wprev != NULL)
        e->wprev->wnext = e->wnext;
    else
        sh->wheel[slot_of(e->expires)] = e->wnext;
    if (e->wnext != NULL)
        e->wnext->wprev = e->wprev;
    e->wprev = e->wnext = NULL;
}

/* set_expiry: move e to the wheel slot of its new expiry. */
static void set_expiry(struct shard *sh, struct entry *e, time_t expires)
{
    wheel_unlink(sh, e);
    e->expires = expires;
    wheel_link(sh, e);
}

static struct entry **bucket_of(struct shard *sh, uint64_t hash)
{
    return &sh->buckets[(hash / STORE_SHARDS) % sh->nbuckets];
}

static struct entry *shard_find(struct shard *sh, const char *key, uint64_t hash)
{
    struct entry *e = *bucket_of(sh, hash);
    for (; e; e = e->hnext) {
        if (e->hash == hash && strcmp(e->key, key) == 0)
            return e;
    }
    return NULL;
}

/* rehash: to nb buckets; on allocation failure keep the old array (longer
 * or emptier chains, still correct). */
static void rehash(struct shard *sh, size_t nb)
{
    struct entry **b = calloc(nb, sizeof(*b)), **old = sh->buckets;
    size_t i, oldn = sh->nbuckets;
    if (b == NULL)
        return;
    sh->buckets = b;
    sh->nbuckets = nb;
    for (i = 0; i < oldn; i++) {
        struct entry *e = old[i], *nx;
        for (; e; e = nx) {
            struct entry **h = bucket_of(sh, e->hash);
            nx = e->hnext;
            e->hnext = *h;
            *h = e;
        }
    }
    free(old);
}

static void shard_remove(struct table *t, struct shard *sh, struct entry *e)
{
    struct entry **pp = bucket_of(sh, e->hash);
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    wheel_unlink(sh, e);
    sh->n--;
    atomic_fetch_sub(&t->n, 1);
    entry_free(t->kind, e);
}

/* shard_sweep: drop what expired by now; returns how many. Visits each
 * second's slot since the last sweep once (a full turn at most): an entry
 * due later than a slot's turn stays for the next turn. */
static size_t shard_sweep(struct table *t, struct shard *sh, time_t now)
{
    size_t freed = 0, steps, i;

    if (now <= sh->swept_to) {
        sh->swept_to = now; /* the clock went back (tests shift it) */
        return 0;
    }
    steps = (size_t)(now - sh->swept_to);
    if (steps > STORE_WHEEL_SLOTS)
        steps = STORE_WHEEL_SLOTS;
    for (i = 1; i <= steps; i++) {
        struct entry *e = sh->wheel[slot_of(sh->swept_to + (time_t)i)], *nx;
        for (; e; e = nx) {
            nx = e->wnext;
            if (e->expires <= now) {
                shard_remove(t, sh, e);
                freed++;
            }
        }
    }
    sh->swept_to = now;
    if (sh->nbuckets > STORE_BUCKETS_MIN && sh->n < sh->nbuckets / 8)
        rehash(sh, sh->nbuckets / 2);
    return freed;
}

/* ---- tables ---- */

static af_rc table_init(struct table *t, entry_kind kind, const char *what, const char *limit,
                        size_t max, time_t now)
{
    size_t i;
    t->kind = kind;
    t->what = what;
    t->limit = limit;
    t->max = max;
    atomic_init(&t->n, 0);
    atomic_init(&t->refused, 0);
    atomic_init(&t->last_full_log, 0);
    for (i = 0; i < STORE_SHARDS; i++) {
        struct shard *sh = &t->shards[i];
        if (pthread_mutex_init(&sh->mu, NULL) != 0)
            return AF_ERR_NOMEM;
        sh->nbuckets = STORE_BUCKETS_MIN;
        sh->buckets = calloc(sh->nbuckets, sizeof(*sh->buckets));
        sh->swept_to = now;
        if (sh->buckets == NULL)
            return AF_ERR_NOMEM;
    }
    return AF_OK;
}

static void table_free(struct table *t)
{
    size_t i, b;
    for (i = 0; i < STORE_SHARDS; i++) {
        struct shard *sh = &t->shards[i];
        if (sh->buckets == NULL)
            continue;
        for (b = 0; b < sh->nbuckets; b++) {
            struct entry *e = sh->buckets[b], *nx;
            for (; e; e = nx) {
                nx = e->hnext;
                entry_free(t->kind, e);
            }
        }
        free(sh->buckets);
        sh->buckets = NULL;
        pthread_mutex_destroy(&sh->mu);
    }
}

static struct shard *shard_of(struct table *t, uint64_t hash)
{
    return &t->shards[hash % STORE_SHARDS];
}

static size_t table_sweep(struct table *t, time_t now)
{
    size_t i, freed = 0;
    for (i = 0; i < STORE_SHARDS; i++) {
        pthread_mutex_lock(&t->shards[i].mu);
        freed += shard_sweep(t, &t->shards[i], now);
        pthread_mutex_unlock(&t->shards[i].mu);
    }
    return freed;
}

/* note_full: count a refusal (or an eviction); one warning per interval
 * says how many. */
static void note_full(struct table *t, time_t now)
{
    unsigned long n = atomic_fetch_add(&t->refused, 1) + 1;
    long long last = atomic_load(&t->last_full_log);

    if ((long long)now - last < STORE_FULL_LOG_SECONDS ||
        !atomic_compare_exchange_strong(&t->last_full_log, &last, (long long)now))
        return;
    n = atomic_exchange(&t->refused, 0);
    if (t->evict)
        af_log_warn("store: the %s store is full (limits.%s = %zu): %lu of the oldest were "
                    "dropped to make room since the last warning",
                    t->what, t->limit, t->max, n);
    else
        af_log_warn("store: the %s store is full (limits.%s = %zu): %lu refused since the last "
                    "warning; they are answered with an error until entries expire",
                    t->what, t->limit, t->max, n);
}

/* reserve: claim a place under the cap; when full, sweep every shard once
 * (no lock held here) and try again. */
static bool reserve(struct table *t, time_t now)
{
    if (atomic_fetch_add(&t->n, 1) < t->max)
        return true;
    atomic_fetch_sub(&t->n, 1);
    table_sweep(t, now);
    if (atomic_fetch_add(&t->n, 1) < t->max)
        return true;
    atomic_fetch_sub(&t->n, 1);
    return false;
}

/* soonest_locked: the entry of sh due soonest: in the first non-empty
 * wheel slot after the last sweep (entries a turn or more ahead share slots
 * with it, so the minimum is taken). NULL when sh is empty. */
static struct entry *soonest_locked(struct shard *sh)
{
    struct entry *best = NULL, *e;
    size_t k;
    for (k = 1; k <= STORE_WHEEL_SLOTS && best == NULL; k++) {
        for (e = sh->wheel[slot_of(sh->swept_to + (time_t)k)]; e; e = e->wnext) {
            if (best == NULL || e->expires < best->expires)
                best = e;
        }
    }
    return best;
}

/* evict_one: drop the entry of t due soonest (over all shards, each locked
 * in turn, never two at once). */
static bool evict_one(struct table *t)
{
    struct shard *best = NULL;
    time_t when = 0;
    struct entry *e;
    size_t i;

    for (i = 0; i < STORE_SHARDS; i++) {
        struct shard *sh = &t->shards[i];
        pthread_mutex_lock(&sh->mu);
        e = soonest_locked(sh);
        if (e != NULL && (best == NULL || e->expires < when)) {
            best = sh;
            when = e->expires;
        }
        pthread_mutex_unlock(&sh->mu);
    }
    if (best == NULL)
        return false;
    pthread_mutex_lock(&best->mu);
    e = soonest_locked(best);
    if (e != NULL)
        shard_remove(t, best, e);
    pthread_mutex_unlock(&best->mu);
    return e != NULL;
}

/* table_insert: takes ownership of e on success only. AF_ERR_TOOBIG when
 * full (a table that evicts drops its oldest entry instead), AF_ERR_STATE
 * when the key is taken. */
static af_rc table_insert(struct table *t, struct entry *e, time_t now)
{
    struct shard *sh = shard_of(t, e->hash);
    bool room = reserve(t, now), evicted = false;

    if (!room && t->evict) {
        evicted = evict_one(t);
        room = evicted && reserve(t, now);
    }
    if (!room || evicted)
        note_full(t, now);
    if (!room)
        return AF_ERR_TOOBIG;
    pthread_mutex_lock(&sh->mu);
    if (shard_find(sh, e->key, e->hash) != NULL) {
        pthread_mutex_unlock(&sh->mu);
        atomic_fetch_sub(&t->n, 1);
        return AF_ERR_STATE;
    }
    if (sh->n >= sh->nbuckets)
        rehash(sh, sh->nbuckets * 2);
    {
        struct entry **h = bucket_of(sh, e->hash);
        e->hnext = *h;
        *h = e;
    }
    wheel_link(sh, e);
    sh->n++;
    pthread_mutex_unlock(&sh->mu);
    return AF_OK;
}

/* locked_find: the shard of key, locked (caller unlocks), and its live or
 * expired entry in *e (NULL if none). */
static struct shard *locked_find(struct table *t, const char *key, struct entry **e)
{
    uint64_t h = hash_str(key);
    struct shard *sh = shard_of(t, h);
    pthread_mutex_lock(&sh->mu);
    *e = shard_find(sh, key, h);
    return sh;
}

/* ---- the store ---- */

static void *sweeper_main(void *arg)
{
    struct af_store *st = arg;
    struct timespec ts;

    pthread_mutex_lock(&st->stop_mu);
    while (!st->stopping) {
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&st->stop_cv, &st->stop_mu, &ts);
        if (st->stopping)
            break;
        pthread_mutex_unlock(&st->stop_mu);
        af_store_sweep(st);
        pthread_mutex_lock(&st->stop_mu);
    }
    pthread_mutex_unlock(&st->stop_mu);
    return NULL;
}

af_rc af_store_new(const struct af_store_limits *lim, struct af_store **out)
{
    af_rc rc = AF_ERR_NOMEM;
    struct af_store *st = calloc(1, sizeof(*st));
    time_t now = af_now();

    *out = NULL;
    if (st == NULL)
        goto out;
    st->revoke_keep = lim->revoke_keep;
    if (table_init(&st->codes, E_CODE, "authorization code", "max_codes", lim->max_codes, now) !=
            AF_OK ||
        table_init(&st->used, E_USED, "used authorization code", "max_codes", lim->max_codes,
                   now) != AF_OK ||
        table_init(&st->grants, E_GRANT, "grant", "max_tokens", lim->max_tokens, now) != AF_OK ||
        table_init(&st->jtis, E_JTI, "revoked token", "max_tokens", lim->max_tokens, now) !=
            AF_OK ||
        table_init(&st->sessions, E_SESSION, "session", "max_tokens", lim->max_tokens, now) !=
            AF_OK ||
        table_init(&st->consents, E_CONSENT, "consent", "max_tokens", lim->max_tokens, now) !=
            AF_OK)
        goto out;
    /* a login never fails for old sessions or consents, or for codes
     * redeemed long ago: the oldest give way (a used code is kept only to
     * catch its replay; a consent forgotten only asks the user again) */
    st->sessions.evict = true;
    st->consents.evict = true;
    st->used.evict = true;
    rc = af_rand_bytes(st->mac_key, sizeof(st->mac_key));
    if (rc != AF_OK)
        goto out;
    rc = AF_ERR_NOMEM;
    if (pthread_mutex_init(&st->stop_mu, NULL) != 0)
        goto out;
    if (pthread_cond_init(&st->stop_cv, NULL) != 0) {
        pthread_mutex_destroy(&st->stop_mu);
        goto out;
    }
    st->sync_ready = true;
    if (!lim->no_sweeper) {
        if (pthread_create(&st->sweeper, NULL, sweeper_main, st) != 0)
            goto out;
        st->has_sweeper = true;
    }
    *out = st;
    st = NULL;
    rc = AF_OK;
out:
    af_store_free(st);
    return rc;
}

af_rc af_store_new_redis(const struct af_store_limits *lim, const struct af_rstore_opts *o,
                         struct af_store **out, struct af_err *err)
{
    struct af_store_limits quiet = *lim;
    struct af_store *st = NULL;
    af_rc rc;

    *out = NULL;
    quiet.no_sweeper = true; /* Redis expires the entries itself */
    rc = af_store_new(&quiet, &st);
    if (rc != AF_OK)
        return AF_ERR_SET(err, rc, "out of memory");
    rc = af_rstore_open(o, &st->rs, err);
    /* one refresh-token key for all replicas: a token issued by one is
     * read by any */
    if (rc == AF_OK &&
        (rc = af_rstore_secret(st->rs, "refresh", st->mac_key, sizeof(st->mac_key))) != AF_OK)
        AF_ERR_SET(err, rc, "store.redis: cannot read or set the shared refresh-token key");
    if (rc != AF_OK) {
        af_store_free(st);
        return rc;
    }
    *out = st;
    return AF_OK;
}

struct af_rstore *af_store_redis(struct af_store *st)
{
    return st != NULL ? st->rs : NULL;
}

af_rc af_store_secret(struct af_store *st, const char *name, unsigned char *key, size_t len)
{
    if (st->rs != NULL)
        return af_rstore_secret(st->rs, name, key, len);
    return af_rand_bytes(key, len);
}

void af_store_free(struct af_store *st)
{
    if (st == NULL)
        return;
    af_rstore_free(st->rs);
    if (st->has_sweeper) {
        pthread_mutex_lock(&st->stop_mu);
        st->stopping = true;
        pthread_cond_signal(&st->stop_cv);
        pthread_mutex_unlock(&st->stop_mu);
        pthread_join(st->sweeper, NULL);
    }
    if (st->sync_ready) {
        pthread_cond_destroy(&st->stop_cv);
        pthread_mutex_destroy(&st->stop_mu);
    }
    table_free(&st->codes);
    table_free(&st->used);
    table_free(&st->grants);
    table_free(&st->jtis);
    table_free(&st->sessions);
    table_free(&st->consents);
    OPENSSL_cleanse(st->mac_key, sizeof(st->mac_key));
    free(st);
}

void af_store_sweep(struct af_store *st)
{
    time_t now = af_now();
    size_t freed = table_sweep(&st->codes, now) + table_sweep(&st->used, now) +
                   table_sweep(&st->grants, now) + table_sweep(&st->jtis, now) +
                   table_sweep(&st->sessions, now) + table_sweep(&st->consents, now);
#ifdef __GLIBC__
    /* after a burst, or once the burst's last entries are gone (the store
     * nearly empty), give free pages back */
    size_t live = atomic_load(&st->codes.n) + atomic_load(&st->used.n) +
                  atomic_load(&st->grants.n) + atomic_load(&st->jtis.n) +
                  atomic_load(&st->sessions.n) + atomic_load(&st->consents.n);
    st->freed_since_trim += freed;
    if (st->freed_since_trim >= STORE_TRIM_AFTER || (freed > 0 && live < STORE_TRIM_AFTER / 4)) {
        malloc_trim(0);
        st->freed_since_trim = 0;
    }
#else
    (void)freed; /* the allocator keeps freed memory for reuse */
#endif
}

void af_store_counts(struct af_store *st, struct af_store_counts *out)
{
    if (st->rs != NULL) {
        if (af_rstore_counts(st->rs, out) != AF_OK)
            memset(out, 0, sizeof(*out));
        return;
    }
    out->codes = atomic_load(&st->codes.n);
    out->used_codes = atomic_load(&st->used.n);
    out->grants = atomic_load(&st->grants.n);
    out->revoked = atomic_load(&st->jtis.n);
    out->sessions = atomic_load(&st->sessions.n);
    out->consents = atomic_load(&st->consents.n);
}

/* ---- codes ---- */

static af_rc mem_grant_revoke(struct af_store *st, const char *grant_id);

af_rc af_code_put(struct af_store *st, const struct af_code_rec *rec, char **code_out,
                  char **grant_out)
{
    af_rc rc;
    struct entry *e = NULL;
    char *copy = NULL, *grant = NULL;

    *code_out = NULL;
    if (grant_out != NULL)
        *grant_out = NULL;
    rc = new_entry(NULL, &e);
    if (rc != AF_OK)
        goto out;
    rc = code_copy(&e->u.code, rec);
    if (rc != AF_OK)
        goto out;
    rc = af_rand_token(STORE_GRANT_BYTES, &e->grant_id);
    if (rc != AF_OK)
        goto out;
    e->expires = rec->expires;
    copy = strdup(e->key);
    if (grant_out != NULL)
        grant = strdup(e->grant_id);
    if (copy == NULL || (grant_out != NULL && grant == NULL)) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    /* in Redis, the entry only lends its fresh code and grant ids */
    rc = st->rs != NULL ? af_rstore_code_put(st->rs, e->key, e->grant_id, rec)
                        : table_insert(&st->codes, e, af_now());
    if (rc != AF_OK)
        goto out;
    if (st->rs == NULL)
        e = NULL;
    *code_out = copy;
    copy = NULL;
    if (grant_out != NULL)
        *grant_out = grant;
    grant = NULL;
out:
    free(copy);
    free(grant);
    entry_free(E_CODE, e);
    return rc;
}

/* code_retire: move a code just marked used to the used-code table, which
 * keeps only its grant id, until it expires, to catch a replay; pending
 * codes alone count against max_codes. Marked used first, so a replay in
 * between finds it either way. */
static void code_retire(struct af_store *st, const char *code, const char *grant_id, time_t expires,
                        time_t now)
{
    struct entry *u = NULL, *e;
    struct shard *sh;

    if (new_entry(code, &u) != AF_OK || (u->grant_id = strdup(grant_id)) == NULL) {
        entry_free(E_USED, u);
        return; /* kept where it is, marked used */
    }
    u->expires = expires;
    if (table_insert(&st->used, u, now) != AF_OK) {
        entry_free(E_USED, u);
        return;
    }
    sh = locked_find(&st->codes, code, &e);
    if (e != NULL && e->used)
        shard_remove(&st->codes, sh, e);
    pthread_mutex_unlock(&sh->mu);
}

static af_rc mem_code_take(struct af_store *st, const char *code, const char *client_id,
                           struct af_code_rec *out, char **grant_id_out)
{
    af_rc rc = AF_OK;
    struct entry *e;
    struct shard *sh;
    char *replayed = NULL;
    time_t now = af_now(), expires = 0;

    memset(out, 0, sizeof(*out));
    *grant_id_out = NULL;
    sh = locked_find(&st->codes, code, &e);
    if (e == NULL) {
        rc = AF_ERR_NOTFOUND;
    } else if (e->used) {
        /* RFC 6749 §4.1.2: a reused code SHOULD revoke what it produced
         * (done below, without holding this shard's lock) */
        replayed = strdup(e->grant_id);
        rc = AF_ERR_STATE;
    } else if (e->expires <= now) {
        rc = AF_ERR_INVALID;
    } else if (strcmp(e->u.code.client_id, client_id) != 0) {
        /* checked before use: the code stays its client's; the caller
         * learns whose it is, to say so */
        out->client_id = strdup(e->u.code.client_id);
        rc = out->client_id != NULL ? AF_ERR_NOTFOUND : AF_ERR_NOMEM;
    } else {
        e->used = true;
        expires = e->expires;
        rc = code_copy(out, &e->u.code);
        if (rc == AF_OK) {
            *grant_id_out = strdup(e->grant_id);
            if (*grant_id_out == NULL) {
                af_code_rec_clear(out);
                rc = AF_ERR_NOMEM;
            }
        }
    }
    pthread_mutex_unlock(&sh->mu);
    if (e == NULL) {
        /* a code redeemed before: its grant is all that is kept */
        sh = locked_find(&st->used, code, &e);
        if (e != NULL && e->expires > now) {
            replayed = strdup(e->grant_id);
            rc = AF_ERR_STATE;
        }
        pthread_mutex_unlock(&sh->mu);
    } else if (rc == AF_OK) {
        code_retire(st, code, *grant_id_out, expires, now);
    }
    if (replayed != NULL && mem_grant_revoke(st, replayed) != AF_OK)
        af_log_error("store: could not revoke the grant of a replayed code");
    /* the caller names the flow of the replay (the ledger) */
    if (rc == AF_ERR_STATE)
        *grant_id_out = replayed;
    else
        free(replayed);
    return rc;
}

/* ---- grants, access tokens ---- */

af_rc af_store_jti(const char *grant_id, char **out)
{
    char *rnd = NULL;
    af_rc rc;

    *out = NULL;
    rc = af_rand_token(STORE_JTI_BYTES, &rnd);
    if (rc != AF_OK || grant_id == NULL) {
        *out = rnd;
        return rc;
    }
    *out = malloc(strlen(grant_id) + strlen(rnd) + 2);
    if (*out != NULL)
        sprintf(*out, "%s.%s", grant_id, rnd);
    else
        rc = AF_ERR_NOMEM;
    free(rnd);
    return rc;
}

/* grant_entry: a grants-table entry for grant_id (not yet inserted). */
static af_rc grant_entry(const char *grant_id, struct entry **out)
{
    if (strlen(grant_id) > STORE_KEY_MAX)
        return AF_ERR_INVALID;
    return new_entry(grant_id, out);
}

static af_rc mem_grant_note(struct af_store *st, const char *grant_id,
                            const struct af_scenario *scenario, time_t expires)
{
    struct entry *e = NULL;
    af_rc rc = grant_entry(grant_id, &e);

    if (rc != AF_OK)
        return rc;
    e->u.tok.scenario = scenario;
    e->expires = expires;
    rc = table_insert(&st->grants, e, af_now());
    if (rc == AF_ERR_STATE)
        rc = AF_OK; /* known already: its family or revocation says more */
    else if (rc == AF_OK)
        e = NULL;
    entry_free(E_GRANT, e);
    return rc;
}

/* revoke_locked: turn grant entry e into a revocation, kept as long as an
 * access token of the grant can live (and no longer: a revocation costs a
 * place only while it matters); its refresh family is gone at once. */
static void revoke_locked(struct af_store *st, struct shard *sh, struct entry *e)
{
    /* the grant's last access token was issued with the family's current
     * refresh token; a grant noted for its scenario expires with its token */
    time_t until = e->family ? e->u.tok.issued + st->revoke_keep : e->expires;
    af_token_rec_clear(&e->u.tok);
    e->family = false;
    e->revoked = true;
    set_expiry(sh, e, until);
}

static af_rc mem_grant_revoke(struct af_store *st, const char *grant_id)
{
    struct entry *e, *fresh = NULL;
    struct shard *sh;
    time_t now = af_now();
    af_rc rc;

    if (strlen(grant_id) > STORE_KEY_MAX)
        return AF_OK; /* not one of ours: nothing it could revoke */
    for (;;) {
        sh = locked_find(&st->grants, grant_id, &e);
        if (e != NULL)
            revoke_locked(st, sh, e);
        pthread_mutex_unlock(&sh->mu);
        if (e != NULL)
            return AF_OK;
        /* unknown (no family, no scenario): remember the revocation */
        rc = grant_entry(grant_id, &fresh);
        if (rc != AF_OK)
            return rc;
        fresh->revoked = true;
        fresh->expires = now + st->revoke_keep;
        rc = table_insert(&st->grants, fresh, now);
        if (rc != AF_ERR_STATE) {
            if (rc != AF_OK)
                entry_free(E_GRANT, fresh);
            return rc;
        }
        entry_free(E_GRANT, fresh); /* inserted meanwhile: revoke that one */
        fresh = NULL;
    }
}

static af_rc mem_access_check(struct af_store *st, const char *jti,
                              const struct af_scenario **scen_out)
{
    char grant[STORE_KEY_MAX + 1];
    const char *dot = strchr(jti, '.');
    struct entry *e;
    struct shard *sh;
    time_t now = af_now();
    af_rc rc = AF_OK;

    *scen_out = NULL;
    sh = locked_find(&st->jtis, jti, &e);
    if (e != NULL && e->expires > now)
        rc = AF_ERR_NOTFOUND;
    pthread_mutex_unlock(&sh->mu);
    if (rc != AF_OK || dot == NULL || (size_t)(dot - jti) > STORE_KEY_MAX)
        return rc;
    memcpy(grant, jti, (size_t)(dot - jti));
    grant[dot - jti] = '\0';
    sh = locked_find(&st->grants, grant, &e);
    if (e != NULL && e->expires > now) {
        if (e->revoked)
            rc = AF_ERR_NOTFOUND;
        else
            *scen_out = e->u.tok.scenario;
    }
    pthread_mutex_unlock(&sh->mu);
    return rc;
}

static af_rc mem_access_revoke(struct af_store *st, const char *jti, time_t exp)
{
    struct entry *e = NULL;
    af_rc rc;

    if (strlen(jti) > 2 * STORE_KEY_MAX)
        return AF_ERR_INVALID;
    rc = new_entry(jti, &e);
    if (rc != AF_OK)
        return rc;
    e->expires = exp;
    rc = table_insert(&st->jtis, e, af_now());
    if (rc == AF_OK)
        e = NULL;
    else if (rc == AF_ERR_STATE)
        rc = AF_OK; /* revoked already */
    entry_free(E_JTI, e);
    return rc;
}

/* ---- refresh families ---- */

/* A refresh token is one base64url string over
 *     len(grant) (1 octet) | grant | generation (4 octets, big endian) | MAC
 * where MAC is the first STORE_MAC_BYTES of HMAC-SHA256 under the store's key
 * over everything before it: opaque to clients (no dots: nothing that looks
 * like a JWT), and a rotated generation is known for what it is without
 * being kept. */
#define REFRESH_RAW_MAX (1 + STORE_KEY_MAX + 4 + STORE_MAC_BYTES)

/* refresh_mac: the MAC of raw[0..len) into mac. */
static bool refresh_mac(const struct af_store *st, const unsigned char *raw, size_t len,
                        unsigned char mac[STORE_MAC_BYTES])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (HMAC(EVP_sha256(), st->mac_key, (int)sizeof(st->mac_key), raw, len, md, &mdlen) == NULL ||
        mdlen < STORE_MAC_BYTES)
        return false;
    memcpy(mac, md, STORE_MAC_BYTES);
    OPENSSL_cleanse(md, sizeof(md));
    return true;
}

/* refresh_parse: decode a refresh token and check its MAC in constant time;
 * false for anything else. */
static bool refresh_parse(const struct af_store *st, const char *token,
                          char grant[STORE_KEY_MAX + 1], uint32_t *gen)
{
    unsigned char mac[STORE_MAC_BYTES];
    const unsigned char *raw;
    struct af_buf b;
    size_t glen, len = strlen(token);
    bool ok = false;

    af_buf_init(&b, REFRESH_RAW_MAX);
    if (len > (REFRESH_RAW_MAX * 4 + 2) / 3 || af_b64url_decode(&b, token, len) != AF_OK)
        goto out;
    raw = (const unsigned char *)af_buf_str(&b);
    glen = b.len > 0 ? raw[0] : 0;
    if (glen == 0 || glen > STORE_KEY_MAX || b.len != 1 + glen + 4 + STORE_MAC_BYTES ||
        memchr(raw + 1, '\0', glen) != NULL || !refresh_mac(st, raw, 1 + glen + 4, mac) ||
        CRYPTO_memcmp(mac, raw + 1 + glen + 4, STORE_MAC_BYTES) != 0)
        goto out;
    memcpy(grant, raw + 1, glen);
    grant[glen] = '\0';
    *gen = (uint32_t)raw[1 + glen] << 24 | (uint32_t)raw[2 + glen] << 16 |
           (uint32_t)raw[3 + glen] << 8 | (uint32_t)raw[4 + glen];
    ok = true;
out:
    af_buf_free(&b);
    return ok;
}

static af_rc refresh_token(const struct af_store *st, const char *grant_id, uint32_t gen,
                           char **out)
{
    unsigned char raw[REFRESH_RAW_MAX];
    size_t glen = strlen(grant_id), n;
    struct af_buf b;
    af_rc rc;

    *out = NULL;
    if (glen == 0 || glen > STORE_KEY_MAX)
        return AF_ERR_INVALID;
    raw[0] = (unsigned char)glen;
    memcpy(raw + 1, grant_id, glen);
    n = 1 + glen;
    raw[n++] = (unsigned char)(gen >> 24);
    raw[n++] = (unsigned char)(gen >> 16);
    raw[n++] = (unsigned char)(gen >> 8);
    raw[n++] = (unsigned char)gen;
    if (!refresh_mac(st, raw, n, raw + n))
        return AF_ERR_CRYPTO;
    n += STORE_MAC_BYTES;
    af_buf_init(&b, 2 * REFRESH_RAW_MAX);
    rc = af_b64url_encode(&b, raw, n);
    if (rc == AF_OK) {
        *out = af_buf_detach(&b);
        rc = *out != NULL ? AF_OK : AF_ERR_NOMEM;
    }
    af_buf_free(&b);
    return rc;
}

static af_rc mem_refresh_issue(struct af_store *st, const struct af_token_rec *rec,
                               char **token_out)
{
    struct af_token_rec copy, old;
    struct entry *e, *fresh = NULL;
    struct shard *sh;
    uint32_t gen = 0;
    af_rc rc;

    *token_out = NULL;
    memset(&old, 0, sizeof(old));
    if (rec->grant_id == NULL)
        return AF_ERR_INVALID;
    rc = tok_copy(&copy, rec);
    if (rc != AF_OK)
        return rc;
    copy.is_refresh = true;
    sh = locked_find(&st->grants, rec->grant_id, &e);
    if (e != NULL && e->revoked) {
        rc = AF_ERR_STATE;
    } else if (e != NULL) {
        /* the family's next generation (af_refresh_rotate moved it), or a
         * grant noted for its scenario that now gets a family */
        old = e->u.tok;
        e->u.tok = copy;
        memset(&copy, 0, sizeof(copy));
        e->family = true;
        gen = e->gen;
        set_expiry(sh, e, rec->expires);
    }
    pthread_mutex_unlock(&sh->mu);
    af_token_rec_clear(&old);
    if (rc != AF_OK || e != NULL)
        goto token;
    rc = grant_entry(rec->grant_id, &fresh);
    if (rc != AF_OK)
        goto out;
    fresh->u.tok = copy;
    memset(&copy, 0, sizeof(copy));
    fresh->family = true;
    fresh->expires = rec->expires;
    rc = table_insert(&st->grants, fresh, af_now());
    if (rc != AF_OK)
        goto out; /* AF_ERR_STATE: a concurrent issue for a new grant; cannot happen */
    fresh = NULL;
token:
    if (rc == AF_OK)
        rc = refresh_token(st, rec->grant_id, gen, token_out);
out:
    af_token_rec_clear(&copy);
    entry_free(E_GRANT, fresh);
    return rc;
}

/* family_find: the family of token, locked (caller unlocks *sh when e
 * is set), or NULL. *gen the token's generation. */
static struct entry *family_find(struct af_store *st, const char *token, struct shard **sh,
                                 uint32_t *gen)
{
    char grant[STORE_KEY_MAX + 1];
    struct entry *e;

    *sh = NULL;
    if (!refresh_parse(st, token, grant, gen)) /* bounds the length itself */
        return NULL;
    *sh = locked_find(&st->grants, grant, &e);
    return e;
}

static bool family_live(const struct entry *e, time_t now)
{
    return e != NULL && e->family && !e->revoked && e->expires > now;
}

static af_rc mem_refresh_get(struct af_store *st, const char *token, struct af_token_rec *out)
{
    struct shard *sh;
    uint32_t gen = 0;
    struct entry *e = family_find(st, token, &sh, &gen);
    af_rc rc = AF_ERR_NOTFOUND;

    memset(out, 0, sizeof(*out));
    if (family_live(e, af_now()) && e->gen == gen)
        rc = tok_copy(out, &e->u.tok);
    if (sh != NULL)
        pthread_mutex_unlock(&sh->mu);
    return rc;
}

static af_rc mem_refresh_rotate(struct af_store *st, const char *token, struct af_token_rec *out)
{
    struct shard *sh;
    uint32_t gen = 0;
    struct entry *e = family_find(st, token, &sh, &gen);
    time_t now = af_now();
    af_rc rc = AF_ERR_NOTFOUND;

    memset(out, 0, sizeof(*out));
    if (!family_live(e, now) || gen > e->gen) {
        rc = AF_ERR_NOTFOUND;
    } else if (gen < e->gen) {
        /* RFC 9700 §4.14.2: replay of a rotated refresh token revokes the
         * active one too, i.e. the whole grant. */
        /* the flow of the replay, for the ledger (NULL when out of
         * memory); taken first: revoking clears the record */
        out->grant_id = strdup(e->key);
        revoke_locked(st, sh, e);
        rc = AF_ERR_STATE;
    } else {
        rc = tok_copy(out, &e->u.tok);
        if (rc == AF_OK)
            e->gen++;
    }
    if (sh != NULL)
        pthread_mutex_unlock(&sh->mu);
    return rc;
}

/* ---- sessions ---- */

static af_rc mem_session_put(struct af_store *st, const struct af_session_rec *rec, char **sid_out)
{
    af_rc rc;
    struct entry *e = NULL;
    char *copy = NULL;

    *sid_out = NULL;
    rc = new_entry(NULL, &e);
    if (rc != AF_OK)
        goto out;
    rc = sess_copy(&e->u.sess, rec);
    if (rc != AF_OK)
        goto out;
    e->expires = rec->expires;
    copy = strdup(e->key);
    if (copy == NULL) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    rc = table_insert(&st->sessions, e, af_now());
    if (rc != AF_OK)
        goto out;
    e = NULL;
    *sid_out = copy;
    copy = NULL;
out:
    free(copy);
    entry_free(E_SESSION, e);
    return rc;
}

static af_rc mem_session_get(struct af_store *st, const char *sid, struct af_session_rec *out)
{
    af_rc rc;
    struct entry *e;
    struct shard *sh;

    memset(out, 0, sizeof(*out));
    sh = locked_find(&st->sessions, sid, &e);
    if (e == NULL || e->expires <= af_now())
        rc = AF_ERR_NOTFOUND;
    else
        rc = sess_copy(out, &e->u.sess);
    pthread_mutex_unlock(&sh->mu);
    return rc;
}

static void mem_session_drop(struct af_store *st, const char *sid)
{
    struct entry *e;
    struct shard *sh = locked_find(&st->sessions, sid, &e);
    if (e != NULL)
        shard_remove(&st->sessions, sh, e);
    pthread_mutex_unlock(&sh->mu);
}

/* ---- consents ---- */

/* consent_key: the key of sub's consent to client_id, "LEN:CLIENTSUB" with
 * LEN the client id's length, so that no two pairs share a key. Caller
 * frees; NULL when out of memory. */
static char *consent_key(const char *client_id, const char *sub)
{
    char *k = NULL;

    if (asprintf(&k, "%zu:%s%s", strlen(client_id), client_id, sub) < 0)
        k = NULL;
    return k;
}

static af_rc mem_consent_get(struct af_store *st, const char *client_id, const char *sub,
                             struct af_consent_rec *out)
{
    char *key = consent_key(client_id, sub);
    struct entry *e;
    struct shard *sh;
    af_rc rc = AF_ERR_NOMEM;

    memset(out, 0, sizeof(*out));
    if (key == NULL)
        goto out;
    sh = locked_find(&st->consents, key, &e);
    if (e == NULL || e->expires <= af_now())
        rc = AF_ERR_NOTFOUND;
    else
        rc = consent_copy(out, &e->u.consent);
    pthread_mutex_unlock(&sh->mu);
out:
    free(key);
    return rc;
}

/* consent_replace: put a copy of rec in the live or expired entry of key,
 * if there is one. AF_ERR_NOTFOUND when there is none. */
static af_rc consent_replace(struct af_store *st, const char *key, const struct af_consent_rec *rec)
{
    struct af_consent_rec copy;
    struct entry *e;
    struct shard *sh;
    af_rc rc = consent_copy(&copy, rec);

    if (rc != AF_OK)
        return rc;
    sh = locked_find(&st->consents, key, &e);
    if (e != NULL) {
        af_consent_rec_clear(&e->u.consent);
        e->u.consent = copy;
        memset(&copy, 0, sizeof(copy));
        set_expiry(sh, e, rec->expires);
    } else {
        rc = AF_ERR_NOTFOUND;
    }
    pthread_mutex_unlock(&sh->mu);
    af_consent_rec_clear(&copy);
    return rc;
}

static af_rc mem_consent_put(struct af_store *st, const char *client_id, const char *sub,
                             const struct af_consent_rec *rec)
{
    char *key = consent_key(client_id, sub);
    struct entry *e = NULL;
    af_rc rc = AF_ERR_NOMEM;

    if (key == NULL)
        goto out;
    rc = consent_replace(st, key, rec);
    if (rc != AF_ERR_NOTFOUND)
        goto out;
    rc = new_entry(key, &e);
    if (rc == AF_OK)
        rc = consent_copy(&e->u.consent, rec);
    if (rc != AF_OK)
        goto out;
    e->expires = rec->expires;
    rc = table_insert(&st->consents, e, af_now());
    if (rc == AF_OK)
        e = NULL;
    else if (rc == AF_ERR_STATE) /* another request put it in between */
        rc = consent_replace(st, key, rec);
out:
    entry_free(E_CONSENT, e);
    free(key);
    return rc;
}

static void mem_consent_drop(struct af_store *st, const char *client_id, const char *sub)
{
    char *key = consent_key(client_id, sub);
    struct entry *e;
    struct shard *sh;

    if (key == NULL)
        return;
    sh = locked_find(&st->consents, key, &e);
    if (e != NULL)
        shard_remove(&st->consents, sh, e);
    pthread_mutex_unlock(&sh->mu);
    free(key);
}

/* ---- the public functions: here, or in Redis ---- */

af_rc af_code_take(struct af_store *st, const char *code, const char *client_id,
                   struct af_code_rec *out, char **grant_id_out)
{
    if (st->rs != NULL)
        return af_rstore_code_take(st->rs, code, client_id, out, grant_id_out);
    return mem_code_take(st, code, client_id, out, grant_id_out);
}

af_rc af_grant_note(struct af_store *st, const char *grant_id, const struct af_scenario *scenario,
                    time_t expires)
{
    if (st->rs != NULL)
        return af_rstore_grant_note(st->rs, grant_id, scenario != NULL ? scenario->name : "",
                                    expires);
    return mem_grant_note(st, grant_id, scenario, expires);
}

af_rc af_grant_revoke(struct af_store *st, const char *grant_id)
{
    if (st->rs != NULL)
        return af_rstore_grant_revoke(st->rs, grant_id);
    return mem_grant_revoke(st, grant_id);
}

af_rc af_access_check(struct af_store *st, const char *jti, const struct af_scenario **scen_out)
{
    char grant[STORE_KEY_MAX + 1];
    const char *dot;

    if (st->rs == NULL)
        return mem_access_check(st, jti, scen_out);
    dot = strchr(jti, '.');
    if (dot != NULL && (size_t)(dot - jti) <= STORE_KEY_MAX) {
        memcpy(grant, jti, (size_t)(dot - jti));
        grant[dot - jti] = '\0';
    }
    return af_rstore_access_check(
        st->rs, jti, dot != NULL && (size_t)(dot - jti) <= STORE_KEY_MAX ? grant : NULL, scen_out);
}

af_rc af_access_revoke(struct af_store *st, const char *jti, time_t exp)
{
    if (st->rs != NULL)
        return strlen(jti) > 2 * STORE_KEY_MAX ? AF_ERR_INVALID
                                               : af_rstore_access_revoke(st->rs, jti, exp);
    return mem_access_revoke(st, jti, exp);
}

af_rc af_refresh_issue(struct af_store *st, const struct af_token_rec *rec, char **token_out)
{
    uint32_t gen = 0;
    af_rc rc;

    if (st->rs == NULL)
        return mem_refresh_issue(st, rec, token_out);
    *token_out = NULL;
    if (rec->grant_id == NULL)
        return AF_ERR_INVALID;
    rc = af_rstore_family_put(st->rs, rec, &gen);
    return rc == AF_OK ? refresh_token(st, rec->grant_id, gen, token_out) : rc;
}

af_rc af_refresh_get(struct af_store *st, const char *token, struct af_token_rec *out)
{
    char grant[STORE_KEY_MAX + 1];
    uint32_t gen = 0;

    if (st->rs == NULL)
        return mem_refresh_get(st, token, out);
    memset(out, 0, sizeof(*out));
    if (!refresh_parse(st, token, grant, &gen)) /* forged or not ours: no round trip */
        return AF_ERR_NOTFOUND;
    return af_rstore_family_get(st->rs, grant, gen, out);
}

af_rc af_refresh_rotate(struct af_store *st, const char *token, struct af_token_rec *out)
{
    char grant[STORE_KEY_MAX + 1];
    uint32_t gen = 0;

    if (st->rs == NULL)
        return mem_refresh_rotate(st, token, out);
    memset(out, 0, sizeof(*out));
    if (!refresh_parse(st, token, grant, &gen))
        return AF_ERR_NOTFOUND;
    return af_rstore_family_rotate(st->rs, grant, gen, out);
}

af_rc af_session_put(struct af_store *st, const struct af_session_rec *rec, char **sid_out)
{
    af_rc rc;

    if (st->rs == NULL)
        return mem_session_put(st, rec, sid_out);
    rc = af_rand_token(STORE_ID_BYTES, sid_out);
    if (rc == AF_OK && (rc = af_rstore_session_put(st->rs, *sid_out, rec)) != AF_OK) {
        free(*sid_out);
        *sid_out = NULL;
    }
    return rc;
}

af_rc af_session_get(struct af_store *st, const char *sid, struct af_session_rec *out)
{
    if (st->rs != NULL)
        return af_rstore_session_get(st->rs, sid, out);
    return mem_session_get(st, sid, out);
}

void af_session_drop(struct af_store *st, const char *sid)
{
    if (st->rs != NULL)
        af_rstore_session_drop(st->rs, sid);
    else
        mem_session_drop(st, sid);
}

af_rc af_consent_get(struct af_store *st, const char *client_id, const char *sub,
                     struct af_consent_rec *out)
{
    char *key;
    af_rc rc;

    if (st->rs == NULL)
        return mem_consent_get(st, client_id, sub, out);
    memset(out, 0, sizeof(*out));
    key = consent_key(client_id, sub);
    if (key == NULL)
        return AF_ERR_NOMEM;
    rc = af_rstore_consent_get(st->rs, key, out);
    free(key);
    return rc;
}

af_rc af_consent_put(struct af_store *st, const char *client_id, const char *sub,
                     const struct af_consent_rec *rec)
{
    char *key;
    af_rc rc;

    if (st->rs == NULL)
        return mem_consent_put(st, client_id, sub, rec);
    key = consent_key(client_id, sub);
    if (key == NULL)
        return AF_ERR_NOMEM;
    rc = af_rstore_consent_put(st->rs, key, rec);
    free(key);
    return rc;
}

void af_consent_drop(struct af_store *st, const char *client_id, const char *sub)
{
    char *key;

    if (st->rs == NULL) {
        mem_consent_drop(st, client_id, sub);
        return;
    }
    key = consent_key(client_id, sub);
    if (key != NULL)
        af_rstore_consent_drop(st->rs, key);
    free(key);
}
