/*
 * store.c - authflowd's in-memory state: authorization codes, tokens and
 * login sessions, each with its own expiry and cap (see store.h).
 *
 * Written by hand: none of our libraries offers a concurrent expiring map.
 * One mutex guards everything; operations are O(1) but for the sweep of
 * expired entries (amortised over inserts) and grant revocation (a scan of
 * the token table, which only code or refresh-token replay triggers).
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/store.h"

/* How many random bytes make a code, a refresh token or a session id. */
#define STORE_ID_BYTES 32
/* Sweep expired entries of a table after this many inserts. */
#define STORE_SWEEP_EVERY 512u

typedef enum { E_CODE, E_TOKEN, E_SESSION } entry_kind;

struct entry {
    struct entry *next;
    char *key;
    time_t expires;
    bool used;    /* codes and refresh tokens: single use */
    bool revoked; /* tokens */
    char *grant_id;
    union {
        struct af_code_rec code;
        struct af_token_rec tok;
        struct af_session_rec sess;
    } u;
};

struct table {
    entry_kind kind;
    struct entry **buckets;
    size_t nbuckets;
    size_t n;
    size_t max;
    unsigned inserts;
};

struct af_store {
    pthread_mutex_t mu;
    struct table codes, tokens, sessions;
};

static uint64_t hash_str(const char *s)
{
    /* FNV-1a; keys are mostly CSPRNG output, so no flooding concern for
     * inserts, and lookups of attacker-chosen keys only walk one chain. */
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

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

static void entry_free(entry_kind kind, struct entry *e)
{
    if (e == NULL)
        return;
    if (kind == E_CODE)
        af_code_rec_clear(&e->u.code);
    else if (kind == E_TOKEN)
        af_token_rec_clear(&e->u.tok);
    else
        af_session_rec_clear(&e->u.sess);
    free(e->key);
    free(e->grant_id);
    free(e);
}

static af_rc table_init(struct table *t, entry_kind kind, size_t max)
{
    t->kind = kind;
    t->nbuckets = 1024;
    t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
    t->n = 0;
    t->max = max;
    t->inserts = 0;
    return t->buckets ? AF_OK : AF_ERR_NOMEM;
}

static void table_free(struct table *t)
{
    size_t i;
    if (t->buckets == NULL)
        return;
    for (i = 0; i < t->nbuckets; i++) {
        struct entry *e = t->buckets[i], *nx;
        for (; e; e = nx) {
            nx = e->next;
            entry_free(t->kind, e);
        }
    }
    free(t->buckets);
    t->buckets = NULL;
}

static struct entry *table_find(struct table *t, const char *key)
{
    struct entry *e = t->buckets[hash_str(key) % t->nbuckets];
    for (; e; e = e->next) {
        if (strcmp(e->key, key) == 0)
            return e;
    }
    return NULL;
}

static void table_sweep(struct table *t, time_t now)
{
    size_t i;
    for (i = 0; i < t->nbuckets; i++) {
        struct entry **pp = &t->buckets[i];
        while (*pp) {
            struct entry *e = *pp;
            if (e->expires <= now) {
                *pp = e->next;
                entry_free(t->kind, e);
                t->n--;
            } else {
                pp = &e->next;
            }
        }
    }
}

static void table_grow(struct table *t)
{
    size_t nb = t->nbuckets * 2, i;
    struct entry **b = calloc(nb, sizeof(*b));
    if (b == NULL)
        return; /* keep the old table: longer chains, still correct */
    for (i = 0; i < t->nbuckets; i++) {
        struct entry *e = t->buckets[i], *nx;
        for (; e; e = nx) {
            size_t h = hash_str(e->key) % nb;
            nx = e->next;
            e->next = b[h];
            b[h] = e;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
}

/* table_insert: takes ownership of e on success only. */
static af_rc table_insert(struct table *t, struct entry *e, time_t now)
{
    size_t h;
    t->inserts++;
    if (t->inserts % STORE_SWEEP_EVERY == 0 || t->n >= t->max)
        table_sweep(t, now);
    if (t->n >= t->max)
        return AF_ERR_TOOBIG;
    if (table_find(t, e->key) != NULL)
        return AF_ERR_STATE;
    if (t->n >= t->nbuckets)
        table_grow(t);
    h = hash_str(e->key) % t->nbuckets;
    e->next = t->buckets[h];
    t->buckets[h] = e;
    t->n++;
    return AF_OK;
}

af_rc af_store_new(size_t max_codes, size_t max_tokens, struct af_store **out)
{
    af_rc rc = AF_ERR_NOMEM;
    struct af_store *st = calloc(1, sizeof(*st));
    *out = NULL;
    if (st == NULL)
        goto out;
    if (pthread_mutex_init(&st->mu, NULL) != 0) {
        free(st);
        st = NULL;
        goto out;
    }
    if (table_init(&st->codes, E_CODE, max_codes) != AF_OK ||
        table_init(&st->tokens, E_TOKEN, max_tokens) != AF_OK ||
        table_init(&st->sessions, E_SESSION, max_tokens) != AF_OK)
        goto out;
    *out = st;
    st = NULL;
    rc = AF_OK;
out:
    af_store_free(st);
    return rc;
}

void af_store_free(struct af_store *st)
{
    if (st == NULL)
        return;
    table_free(&st->codes);
    table_free(&st->tokens);
    table_free(&st->sessions);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

/* new_entry: an entry with a fresh random key (or a copy of key). */
static af_rc new_entry(const char *key, struct entry **out)
{
    af_rc rc = AF_OK;
    struct entry *e = calloc(1, sizeof(*e));
    *out = NULL;
    if (e == NULL)
        return AF_ERR_NOMEM;
    if (key != NULL) {
        e->key = strdup(key);
        if (e->key == NULL)
            rc = AF_ERR_NOMEM;
    } else {
        rc = af_rand_token(STORE_ID_BYTES, &e->key);
    }
    if (rc != AF_OK) {
        free(e);
        return rc;
    }
    *out = e;
    return AF_OK;
}

af_rc af_code_put(struct af_store *st, const struct af_code_rec *rec, char **code_out)
{
    af_rc rc;
    struct entry *e = NULL;
    char *copy = NULL;

    *code_out = NULL;
    rc = new_entry(NULL, &e);
    if (rc != AF_OK)
        goto out;
    rc = code_copy(&e->u.code, rec);
    if (rc != AF_OK)
        goto out;
    rc = af_rand_token(16, &e->grant_id);
    if (rc != AF_OK)
        goto out;
    e->expires = rec->expires;
    copy = strdup(e->key);
    if (copy == NULL) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    pthread_mutex_lock(&st->mu);
    rc = table_insert(&st->codes, e, af_now());
    pthread_mutex_unlock(&st->mu);
    if (rc != AF_OK)
        goto out;
    e = NULL;
    *code_out = copy;
    copy = NULL;
out:
    free(copy);
    entry_free(E_CODE, e);
    return rc;
}

/* revoke_grant_locked: mark every token of grant_id revoked. */
static void revoke_grant_locked(struct af_store *st, const char *grant_id)
{
    size_t i;
    if (grant_id == NULL)
        return;
    for (i = 0; i < st->tokens.nbuckets; i++) {
        struct entry *e;
        for (e = st->tokens.buckets[i]; e; e = e->next) {
            if (e->u.tok.grant_id && strcmp(e->u.tok.grant_id, grant_id) == 0)
                e->revoked = true;
        }
    }
}

af_rc af_code_take(struct af_store *st, const char *code, const char *client_id,
                   struct af_code_rec *out, char **grant_id_out)
{
    af_rc rc = AF_OK;
    struct entry *e;
    time_t now = af_now();

    memset(out, 0, sizeof(*out));
    *grant_id_out = NULL;
    pthread_mutex_lock(&st->mu);
    e = table_find(&st->codes, code);
    if (e == NULL) {
        rc = AF_ERR_NOTFOUND;
    } else if (e->used) {
        /* RFC 6749 §4.1.2: a reused code SHOULD revoke what it produced. */
        revoke_grant_locked(st, e->grant_id);
        rc = AF_ERR_STATE;
    } else if (e->expires <= now) {
        rc = AF_ERR_INVALID;
    } else if (strcmp(e->u.code.client_id, client_id) != 0) {
        rc = AF_ERR_NOTFOUND; /* checked before use: the code stays its client's */
    } else {
        e->used = true;
        rc = code_copy(out, &e->u.code);
        if (rc == AF_OK) {
            *grant_id_out = strdup(e->grant_id);
            if (*grant_id_out == NULL) {
                af_code_rec_clear(out);
                rc = AF_ERR_NOMEM;
            }
        }
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

af_rc af_token_put(struct af_store *st, const char *key, const struct af_token_rec *rec)
{
    af_rc rc;
    struct entry *e = NULL;

    rc = new_entry(key, &e);
    if (rc != AF_OK)
        goto out;
    rc = tok_copy(&e->u.tok, rec);
    if (rc != AF_OK)
        goto out;
    e->expires = rec->expires;
    pthread_mutex_lock(&st->mu);
    rc = table_insert(&st->tokens, e, af_now());
    pthread_mutex_unlock(&st->mu);
    if (rc == AF_OK)
        e = NULL;
out:
    entry_free(E_TOKEN, e);
    return rc;
}

static bool token_live(const struct entry *e, time_t now)
{
    return e != NULL && !e->revoked && e->expires > now;
}

af_rc af_token_get(struct af_store *st, const char *key, struct af_token_rec *out)
{
    af_rc rc;
    struct entry *e;

    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&st->mu);
    e = table_find(&st->tokens, key);
    if (!token_live(e, af_now()) || (e->u.tok.is_refresh && e->used))
        rc = AF_ERR_NOTFOUND;
    else
        rc = tok_copy(out, &e->u.tok);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

af_rc af_refresh_rotate(struct af_store *st, const char *token, struct af_token_rec *out)
{
    af_rc rc;
    struct entry *e;

    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&st->mu);
    e = table_find(&st->tokens, token);
    if (e == NULL || !e->u.tok.is_refresh || !token_live(e, af_now())) {
        rc = AF_ERR_NOTFOUND;
    } else if (e->used) {
        /* RFC 9700 §4.14.2: replay of a rotated refresh token revokes the
         * active one too, i.e. the whole grant. */
        revoke_grant_locked(st, e->u.tok.grant_id);
        rc = AF_ERR_STATE;
    } else {
        e->used = true;
        rc = tok_copy(out, &e->u.tok);
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

void af_token_revoke(struct af_store *st, const char *key, bool whole_grant)
{
    struct entry *e;
    pthread_mutex_lock(&st->mu);
    e = table_find(&st->tokens, key);
    if (e != NULL) {
        e->revoked = true;
        if (whole_grant)
            revoke_grant_locked(st, e->u.tok.grant_id);
    }
    pthread_mutex_unlock(&st->mu);
}

af_rc af_session_put(struct af_store *st, const struct af_session_rec *rec, char **sid_out)
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
    pthread_mutex_lock(&st->mu);
    rc = table_insert(&st->sessions, e, af_now());
    pthread_mutex_unlock(&st->mu);
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

af_rc af_session_get(struct af_store *st, const char *sid, struct af_session_rec *out)
{
    af_rc rc;
    struct entry *e;

    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&st->mu);
    e = table_find(&st->sessions, sid);
    if (e == NULL || e->expires <= af_now())
        rc = AF_ERR_NOTFOUND;
    else
        rc = sess_copy(out, &e->u.sess);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

void af_session_drop(struct af_store *st, const char *sid)
{
    struct entry *e;
    pthread_mutex_lock(&st->mu);
    e = table_find(&st->sessions, sid);
    if (e != NULL)
        e->expires = 0; /* swept later; invisible from now on */
    pthread_mutex_unlock(&st->mu);
}

void af_store_counts(struct af_store *st, size_t *codes, size_t *tokens, size_t *sessions)
{
    pthread_mutex_lock(&st->mu);
    if (codes)
        *codes = st->codes.n;
    if (tokens)
        *tokens = st->tokens.n;
    if (sessions)
        *sessions = st->sessions.n;
    pthread_mutex_unlock(&st->mu);
}
