/*
 * keyshare.c - signing keys shared by replicas through Redis (see
 * keyshare.h): generated keys kept there, and the admin API's key changes
 * as a log every replica replays. The log's entries are JSON objects:
 *   {"by": REPLICA, "op": "add", "alg": ALG, "kid": KID, "pem": PKCS8, "sign": BOOL}
 *   {"by": REPLICA, "op": "signing", "kid": KID}
 *   {"by": REPLICA, "op": "retire", "kid": KID, "at": SECONDS}
 * where REPLICA is a random name each process takes at start, so that it
 * skips its own changes, already made, when it replays the log. Private
 * keys cross Redis in clear: they are a mock provider's test keys, and
 * Redis is on loopback or a private network (docs/replicas.md).
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "authflow/jose.h"
#include "authflow/jsonw.h"
#include "authflow/log.h"
#include "authflow/util.h"
#include "authflow/x509.h"
#include "server/core.h"
#include "server/keyring.h"
#include "server/keyshare.h"
#include "server/store.h"
#include "server/store_redis.h"

/* The log's name in the store (its key: PREFIX[PATH]:log:keys). */
#define KEYSHARE_LOG "keys"
/* Longest PEM a log entry may carry (a 4096-bit RSA key is ~3.3 KiB). */
#define KEYSHARE_PEM_MAX 16384

#define OP_BY      "by"
#define OP_OP      "op"
#define OP_ADD     "add"
#define OP_SIGNING "signing"
#define OP_RETIRE  "retire"
#define OP_ALG     "alg"
#define OP_KID     "kid"
#define OP_PEM     "pem"
#define OP_SIGN    "sign"
#define OP_AT      "at"

struct af_keyshare {
    struct af_server *srv;           /* borrowed */
    struct af_rstore *rs;            /* borrowed: the server's store */
    char *me;                        /* owned: this replica's name in the log */
    pthread_mutex_t mu;              /* held by the one thread replaying */
    long long applied;               /* log entries replayed (ours skipped) */
    char epoch[AF_RSTORE_EPOCH_MAX]; /* the log's mark as last read */
    atomic_uint_fast64_t next_ms;    /* af_monotonic_ms() of the next look */
};

af_rc af_keyshare_generated(struct af_server *srv, size_t i, af_alg alg, struct af_key **out,
                            bool *created, struct af_err *err)
{
    struct af_rstore *rs = af_store_redis(srv->store);
    struct af_key *fresh = NULL;
    char name[64], *pem = NULL, *stored = NULL;
    size_t stored_len = 0;
    af_rc rc;

    *out = NULL;
    *created = false;
    if (rs == NULL)
        return AF_ERR_SET(err, AF_ERR_STATE, "keys[%zu]: no Redis store to keep it in", i);
    /* named as the key file would be: by position and algorithm, so that
     * a config that adds a key keeps the others */
    snprintf(name, sizeof(name), "key:%zu:%s", i, af_alg_name(alg));
    rc = af_key_generate(alg, &fresh, err);
    if (rc == AF_OK)
        rc = af_key_private_pem(fresh, &pem);
    if (rc == AF_OK)
        rc = af_rstore_put_once(rs, name, pem, strlen(pem), &stored, &stored_len);
    if (rc != AF_OK) {
        if (err != NULL && err->msg[0] == '\0')
            AF_ERR_SET(err, rc, "keys[%zu]: cannot keep the generated key in Redis (%s)", i,
                       af_rc_str(rc));
        goto out;
    }
    *created = strcmp(stored, pem) == 0;
    rc = af_key_from_pem(stored, stored_len, alg, "the key kept in Redis", out, err);
out:
    if (pem != NULL)
        OPENSSL_cleanse(pem, strlen(pem));
    if (stored != NULL)
        OPENSSL_cleanse(stored, stored_len);
    free(pem);
    free(stored);
    af_key_free(fresh);
    return rc;
}

/* ---- replay ---- */

static void apply_add(struct af_keyshare *ks, const json_t *op)
{
    const char *pem = json_string_value(json_object_get(op, OP_PEM));
    const char *kid = json_string_value(json_object_get(op, OP_KID));
    struct af_key *key = NULL;
    struct af_err err;
    af_alg alg;
    af_rc rc;

    af_err_clear(&err);
    if (pem == NULL || kid == NULL ||
        af_alg_parse(json_string_value(json_object_get(op, OP_ALG)), &alg) != AF_OK) {
        af_log_error("keys: a key added by another replica is malformed; skipped");
        return;
    }
    rc = af_key_from_pem(pem, strlen(pem), alg, "a key added by another replica", &key, &err);
    if (rc == AF_OK)
        rc = af_key_set_kid(key, kid);
    if (rc == AF_OK) {
        rc = af_keyring_add(ks->srv->keyring, key, json_is_true(json_object_get(op, OP_SIGN)), NULL,
                            &err);
        key = NULL; /* taken */
    }
    if (rc != AF_OK)
        af_log_error("keys: cannot add key %s as another replica did: %s", kid, err.msg);
    else
        af_log_info("keys: added key %s, as another replica did", kid);
    af_key_free(key);
}

static void apply_one(void *arg, const char *text)
{
    struct af_keyshare *ks = arg;
    json_t *op = json_loads(text, 0, NULL);
    const char *by = json_string_value(json_object_get(op, OP_BY));
    const char *what = json_string_value(json_object_get(op, OP_OP));
    const char *kid = json_string_value(json_object_get(op, OP_KID));
    struct af_err err;
    af_rc rc = AF_OK;

    af_err_clear(&err);
    if (op == NULL || by == NULL || what == NULL || kid == NULL) {
        af_log_error("keys: a key change in Redis is malformed; skipped");
    } else if (strcmp(by, ks->me) == 0) {
        /* ours: made already */
    } else if (strcmp(what, OP_ADD) == 0) {
        apply_add(ks, op);
    } else if (strcmp(what, OP_SIGNING) == 0) {
        rc = af_keyring_sign_with(ks->srv->keyring, kid, NULL, &err);
    } else if (strcmp(what, OP_RETIRE) == 0) {
        long long left = json_integer_value(json_object_get(op, OP_AT)) - (long long)af_now();
        rc = af_keyring_retire(ks->srv->keyring, kid, left > 0 ? (long)left : 0, NULL, &err);
    }
    if (rc != AF_OK)
        af_log_error("keys: cannot %s key %s as another replica did: %s", what, kid, err.msg);
    json_decref(op);
}

/* sync: replay what the other replicas changed since the last look, at
 * most every AF_KEYSHARE_SYNC_MS (force: now); one thread at a time, the
 * others go on with the keys they have. The ring's read hook. */
static void sync_now(struct af_keyshare *ks, bool force)
{
    uint64_t now = af_monotonic_ms();
    long long len = 0;

    if (!force && now < atomic_load(&ks->next_ms))
        return;
    if (pthread_mutex_trylock(&ks->mu) != 0)
        return;
    atomic_store(&ks->next_ms, now + AF_KEYSHARE_SYNC_MS);
    if (af_rstore_log_read(ks->rs, KEYSHARE_LOG, ks->epoch, ks->applied, apply_one, ks, &len) ==
        AF_OK)
        ks->applied = len; /* Redis away: the store logged it; next look */
    pthread_mutex_unlock(&ks->mu);
}

static void sync_hook(void *arg)
{
    sync_now(arg, false);
}

af_rc af_keyshare_new(struct af_server *srv, struct af_keyshare **out, struct af_err *err)
{
    struct af_rstore *rs = af_store_redis(srv->store);
    struct af_keyshare *ks;
    af_rc rc;

    *out = NULL;
    if (rs == NULL)
        return AF_OK;
    ks = calloc(1, sizeof(*ks));
    if (ks == NULL || pthread_mutex_init(&ks->mu, NULL) != 0) {
        free(ks);
        return AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory");
    }
    ks->srv = srv;
    ks->rs = rs;
    atomic_init(&ks->next_ms, 0);
    rc = af_rand_token(12, &ks->me);
    if (rc != AF_OK) {
        af_keyshare_free(ks);
        return AF_ERR_SET(err, rc, "no random bytes for the replica's name");
    }
    /* what the others changed before this replica started */
    sync_now(ks, true);
    af_keyring_set_sync(srv->keyring, sync_hook, ks);
    *out = ks;
    return AF_OK;
}

void af_keyshare_free(struct af_keyshare *ks)
{
    if (ks == NULL)
        return;
    pthread_mutex_destroy(&ks->mu);
    free(ks->me);
    free(ks);
}

/* ---- telling the others ---- */

static void push(struct af_keyshare *ks, json_t *op)
{
    char *text;
    long long len = 0;

    if (op == NULL || json_object_set_new(op, OP_BY, json_string(ks->me)) != 0 ||
        (text = af_jsonw_dumps(op)) == NULL) {
        af_log_error("keys: out of memory: the other replicas are not told of a key change");
        json_decref(op);
        return;
    }
    if (af_rstore_log_push(ks->rs, KEYSHARE_LOG, text, &len) != AF_OK)
        af_log_error("keys: Redis is away: the other replicas are not told of a key change");
    OPENSSL_cleanse(text, strlen(text));
    free(text);
    json_decref(op);
}

void af_keyshare_added(struct af_keyshare *ks, const struct af_key *key, bool sign)
{
    char *pem = NULL;

    if (ks == NULL)
        return;
    if (af_key_private_pem(key, &pem) != AF_OK || strlen(pem) > KEYSHARE_PEM_MAX) {
        af_log_error("keys: cannot share key %s with the other replicas", af_key_kid(key));
        free(pem);
        return;
    }
    push(ks,
         json_pack("{s:s, s:s, s:s, s:s, s:b}", OP_OP, OP_ADD, OP_ALG, af_alg_name(af_key_alg(key)),
                   OP_KID, af_key_kid(key), OP_PEM, pem, OP_SIGN, sign));
    OPENSSL_cleanse(pem, strlen(pem));
    free(pem);
}

void af_keyshare_signing(struct af_keyshare *ks, const char *kid)
{
    if (ks != NULL)
        push(ks, json_pack("{s:s, s:s}", OP_OP, OP_SIGNING, OP_KID, kid));
}

void af_keyshare_retired(struct af_keyshare *ks, const char *kid, long long retire_at)
{
    if (ks != NULL)
        push(ks, json_pack("{s:s, s:s, s:I}", OP_OP, OP_RETIRE, OP_KID, kid, OP_AT,
                           (json_int_t)retire_at));
}
