/*
 * jwk.c - algorithm names, keys (generation, PEM, JWK import and export),
 * RFC 7638 thumbprints, JWKS lookup and the OIDC half-hash.
 *
 * All key material lives in OpenSSL 3 EVP_PKEYs built with EVP_PKEY_fromdata
 * and read back with EVP_PKEY_get_*_param; nothing touches the deprecated
 * per-algorithm structures.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "authflow/jose.h"
#include "authflow/util.h"
#include "jose/jose_int.h"

/* The most keys af_jwks_find looks at: a JWKS is small, and each key costs
 * an import. */
#define JWKS_MAX_KEYS 64

/* JWK member names (RFC 7517 §4, RFC 7518 §6, RFC 8037 §2). These are JOSE
 * structure names, not OAuth wire names, so they stay local to the module. */
#define JWK_KTY     "kty"
#define JWK_USE     "use"
#define JWK_KEY_OPS "key_ops"
#define JWK_ALG     "alg"
#define JWK_KID     "kid"
#define JWK_CRV     "crv"
#define JWK_N       "n"
#define JWK_E       "e"
#define JWK_X       "x"
#define JWK_Y       "y"
#define JWK_K       "k"
#define JWK_KEYS    "keys"

static const struct {
    af_alg val;
    const char *str;
} alg_names[] = {
    {AF_ALG_NONE, "none"},   {AF_ALG_RS256, "RS256"}, {AF_ALG_PS256, "PS256"},
    {AF_ALG_ES256, "ES256"}, {AF_ALG_HS256, "HS256"}, {AF_ALG_EDDSA, "EdDSA"},
};

const char *af_alg_name(af_alg alg)
{
    size_t i;
    for (i = 0; i < sizeof(alg_names) / sizeof(alg_names[0]); i++) {
        if (alg_names[i].val == alg)
            return alg_names[i].str;
    }
    return "unknown";
}

af_rc af_alg_parse(const char *name, af_alg *out)
{
    af_rc rc = AF_ERR_INVALID;
    size_t i;
    if (name == NULL)
        goto out;
    for (i = 0; i < sizeof(alg_names) / sizeof(alg_names[0]); i++) {
        if (strcmp(name, alg_names[i].str) == 0) {
            *out = alg_names[i].val;
            rc = AF_OK;
            goto out;
        }
    }
out:
    return rc;
}

const char *af_jose_ossl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    if (e == 0)
        snprintf(buf, len, "no OpenSSL detail");
    else
        ERR_error_string_n(e, buf, len);
    ERR_clear_error();
    return buf;
}

af_rc af_jose_pkey_check(EVP_PKEY *pkey, af_alg alg, struct af_err *err)
{
    af_rc rc = AF_OK;
    char group[64];
    size_t glen = 0;
    int bits;

    switch (alg) {
    case AF_ALG_RS256:
    case AF_ALG_PS256:
        if (!EVP_PKEY_is_a(pkey, "RSA")) {
            rc = AF_ERR_SET(err, AF_ERR_INVALID, "%s needs an RSA key, got %s", af_alg_name(alg),
                            EVP_PKEY_get0_type_name(pkey));
            goto out;
        }
        bits = EVP_PKEY_get_bits(pkey);
        if (bits < AF_JOSE_RSA_MIN_BITS || bits > AF_JOSE_RSA_MAX_BITS) {
            rc = AF_ERR_SET(err, AF_ERR_INVALID,
                            "RSA key is %d bits, outside %d..%d (RFC 7518 §3.3 requires at "
                            "least 2048)",
                            bits, AF_JOSE_RSA_MIN_BITS, AF_JOSE_RSA_MAX_BITS);
            goto out;
        }
        break;
    case AF_ALG_ES256:
        if (!EVP_PKEY_is_a(pkey, "EC")) {
            rc = AF_ERR_SET(err, AF_ERR_INVALID, "ES256 needs an EC key, got %s",
                            EVP_PKEY_get0_type_name(pkey));
            goto out;
        }
        if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) != 1 ||
            strcmp(group, "prime256v1") != 0) {
            rc = AF_ERR_SET(err, AF_ERR_INVALID, "ES256 needs curve P-256, got %s",
                            glen ? group : "an unnamed curve");
            goto out;
        }
        break;
    case AF_ALG_EDDSA:
        if (!EVP_PKEY_is_a(pkey, "ED25519")) {
            rc = AF_ERR_SET(err, AF_ERR_INVALID, "EdDSA needs an Ed25519 key, got %s",
                            EVP_PKEY_get0_type_name(pkey));
            goto out;
        }
        break;
    default:
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "%s is not an algorithm for an asymmetric key",
                        af_alg_name(alg));
        goto out;
    }
out:
    return rc;
}

/* ---- construction and teardown ---- */

struct af_key *af_key_ref(struct af_key *key)
{
    if (key != NULL)
        atomic_fetch_add(&key->refs, 1);
    return key;
}

void af_key_free(struct af_key *key)
{
    if (key == NULL || atomic_fetch_sub(&key->refs, 1) > 1)
        return;
    EVP_MD_CTX_free(atomic_load(&key->sign_tmpl));
    EVP_PKEY_free(key->pkey);
    if (key->secret != NULL)
        OPENSSL_clear_free(key->secret, key->secret_len);
    free(key->kid);
    free(key);
}

af_alg af_key_alg(const struct af_key *key)
{
    return key->alg;
}

const char *af_key_kid(const struct af_key *key)
{
    return key->kid ? key->kid : "";
}

af_rc af_key_set_kid(struct af_key *key, const char *kid)
{
    af_rc rc = AF_OK;
    char *copy;
    if (kid == NULL) {
        rc = AF_ERR_INVALID;
        goto out;
    }
    copy = strdup(kid);
    if (copy == NULL) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    free(key->kid);
    key->kid = copy;
out:
    return rc;
}

/* b64_string: a new JSON string holding the base64url encoding of d. */
static af_rc b64_string(const unsigned char *d, size_t len, json_t **out)
{
    struct af_buf b;
    af_rc rc;

    *out = NULL;
    af_buf_init(&b, 4 * AF_JOSE_SECRET_MAX);
    rc = af_b64url_encode(&b, d, len);
    if (rc != AF_OK)
        goto out;
    *out = json_stringn(af_buf_str(&b), b.len);
    if (*out == NULL)
        rc = AF_ERR_NOMEM;
out:
    af_buf_free(&b);
    return rc;
}

/* bn_param_string: a new JSON string with the minimal big-endian octets of
 * the BIGNUM parameter name of pkey (RFC 7518 §6.3.1: no leading zeros), or
 * padded to pad octets when pad is not 0 (§6.2.1.2). */
static af_rc bn_param_string(EVP_PKEY *pkey, const char *name, size_t pad, json_t **out)
{
    unsigned char buf[AF_JOSE_RSA_MAX_BITS / 8];
    BIGNUM *bn = NULL;
    af_rc rc = AF_ERR_CRYPTO;
    int n;

    *out = NULL;
    if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1)
        goto out;
    if (pad != 0)
        n = BN_bn2binpad(bn, buf, (int)pad);
    else if ((size_t)BN_num_bytes(bn) <= sizeof(buf))
        n = BN_bn2bin(bn, buf);
    else
        n = -1;
    if (n < 0)
        goto out;
    rc = b64_string(buf, (size_t)n, out);
out:
    BN_free(bn);
    return rc;
}

/* set_new: json_object_set_new that reports a NULL val (a failed
 * allocation) as AF_ERR_NOMEM; val's reference is consumed either way. */
static af_rc set_new(json_t *obj, const char *name, json_t *val)
{
    af_rc rc = AF_ERR_NOMEM;
    if (val != NULL && json_object_set_new(obj, name, val) == 0)
        rc = AF_OK;
    return rc;
}

/* jwk_members: a new object with kty and the members RFC 7638 §3.2 requires
 * for the key's type, and nothing else. */
static af_rc jwk_members(const struct af_key *key, json_t **out)
{
    unsigned char raw[AF_JOSE_ED25519_LEN];
    size_t rawlen = 0;
    json_t *obj = json_object();
    json_t *v = NULL;
    af_rc rc = AF_ERR_NOMEM;

    *out = NULL;
    if (obj == NULL)
        goto out;
    switch (key->alg) {
    case AF_ALG_RS256:
    case AF_ALG_PS256:
        rc = set_new(obj, JWK_KTY, json_string("RSA"));
        if (rc == AF_OK)
            rc = bn_param_string(key->pkey, OSSL_PKEY_PARAM_RSA_N, 0, &v);
        if (rc == AF_OK)
            rc = set_new(obj, JWK_N, v);
        if (rc == AF_OK)
            rc = bn_param_string(key->pkey, OSSL_PKEY_PARAM_RSA_E, 0, &v);
        if (rc == AF_OK)
            rc = set_new(obj, JWK_E, v);
        break;
    case AF_ALG_ES256:
        rc = set_new(obj, JWK_KTY, json_string("EC"));
        if (rc == AF_OK)
            rc = set_new(obj, JWK_CRV, json_string("P-256"));
        if (rc == AF_OK)
            rc = bn_param_string(key->pkey, OSSL_PKEY_PARAM_EC_PUB_X, AF_JOSE_P256_LEN, &v);
        if (rc == AF_OK)
            rc = set_new(obj, JWK_X, v);
        if (rc == AF_OK)
            rc = bn_param_string(key->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, AF_JOSE_P256_LEN, &v);
        if (rc == AF_OK)
            rc = set_new(obj, JWK_Y, v);
        break;
    case AF_ALG_EDDSA:
        rc = set_new(obj, JWK_KTY, json_string("OKP"));
        if (rc == AF_OK)
            rc = set_new(obj, JWK_CRV, json_string("Ed25519"));
        if (rc == AF_OK && EVP_PKEY_get_octet_string_param(key->pkey, OSSL_PKEY_PARAM_PUB_KEY, raw,
                                                           sizeof(raw), &rawlen) != 1)
            rc = AF_ERR_CRYPTO;
        if (rc == AF_OK)
            rc = b64_string(raw, rawlen, &v);
        if (rc == AF_OK)
            rc = set_new(obj, JWK_X, v);
        break;
    case AF_ALG_HS256:
        rc = set_new(obj, JWK_KTY, json_string("oct"));
        if (rc == AF_OK)
            rc = b64_string(key->secret, key->secret_len, &v);
        if (rc == AF_OK)
            rc = set_new(obj, JWK_K, v);
        break;
    default:
        rc = AF_ERR_INVALID;
        break;
    }
    if (rc != AF_OK)
        goto out;
    *out = obj;
    obj = NULL;
out:
    json_decref(obj);
    return rc;
}

af_rc af_key_thumbprint(const struct af_key *key, char **out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    json_t *members = NULL;
    char *canon = NULL;
    struct af_buf b;
    af_rc rc;

    *out = NULL;
    af_buf_init(&b, 64);
    rc = jwk_members(key, &members);
    if (rc != AF_OK)
        goto out;
    /* RFC 7638 §3.3: required members only, sorted by name, no whitespace.
     * The members are ASCII names and base64url or fixed strings, so
     * jansson's sorted compact output is exactly the canonical form. */
    canon = json_dumps(members, JSON_COMPACT | JSON_SORT_KEYS);
    if (canon == NULL) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    if (EVP_Digest(canon, strlen(canon), md, &mdlen, EVP_sha256(), NULL) != 1) {
        rc = AF_ERR_CRYPTO;
        goto out;
    }
    rc = af_b64url_encode(&b, md, mdlen);
    if (rc != AF_OK)
        goto out;
    *out = af_buf_detach(&b);
    if (*out == NULL)
        rc = AF_ERR_NOMEM;
out:
    if (canon != NULL)
        OPENSSL_clear_free(canon, strlen(canon)); /* an oct key's canon holds the secret */
    json_decref(members);
    af_buf_free(&b);
    return rc;
}

af_rc af_key_public_jwk(const struct af_key *key, json_t **out)
{
    json_t *obj = NULL;
    af_rc rc;

    *out = NULL;
    if (key->alg == AF_ALG_HS256) {
        rc = AF_ERR_INVALID; /* a shared secret is never published */
        goto out;
    }
    rc = jwk_members(key, &obj);
    if (rc == AF_OK)
        rc = set_new(obj, JWK_KID, json_string(af_key_kid(key)));
    if (rc == AF_OK)
        rc = set_new(obj, JWK_ALG, json_string(af_alg_name(key->alg)));
    if (rc == AF_OK)
        rc = set_new(obj, JWK_USE, json_string("sig"));
    if (rc != AF_OK)
        goto out;
    *out = obj;
    obj = NULL;
out:
    json_decref(obj);
    return rc;
}

/* key_finish: give key its thumbprint as kid unless it already has one. */
static af_rc key_finish(struct af_key *key, struct af_err *err)
{
    af_rc rc = AF_OK;
    if (key->kid != NULL)
        goto out;
    rc = af_key_thumbprint(key, &key->kid);
    if (rc != AF_OK)
        AF_ERR_SET(err, rc, "cannot compute the RFC 7638 thumbprint of the %s key",
                   af_alg_name(key->alg));
out:
    return rc;
}

static struct af_key *key_new(af_alg alg)
{
    struct af_key *key = calloc(1, sizeof(*key));
    if (key != NULL) {
        atomic_init(&key->refs, 1);
        key->alg = alg;
    }
    return key;
}

static af_rc key_set_secret(struct af_key *key, const unsigned char *secret, size_t len,
                            struct af_err *err)
{
    af_rc rc = AF_OK;
    if (len == 0 || len > AF_JOSE_SECRET_MAX) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "HS256 secret of %zu octets, want 1..%d", len,
                        AF_JOSE_SECRET_MAX);
        goto out;
    }
    key->secret = OPENSSL_malloc(len);
    if (key->secret == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory for an HS256 secret");
        goto out;
    }
    memcpy(key->secret, secret, len);
    key->secret_len = len;
out:
    return rc;
}

af_rc af_key_generate(af_alg alg, struct af_key **out, struct af_err *err)
{
    unsigned char secret[AF_JOSE_HS256_GEN_LEN];
    struct af_key *key = NULL;
    char why[256];
    af_rc rc;

    *out = NULL;
    key = key_new(alg);
    if (key == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory for a key");
        goto out;
    }
    switch (alg) {
    case AF_ALG_RS256:
    case AF_ALG_PS256:
        key->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)AF_JOSE_RSA_MIN_BITS);
        break;
    case AF_ALG_ES256:
        key->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        break;
    case AF_ALG_EDDSA:
        key->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        break;
    case AF_ALG_HS256:
        rc = af_rand_bytes(secret, sizeof(secret));
        if (rc != AF_OK) {
            AF_ERR_SET(err, rc, "CSPRNG failed for an HS256 secret");
            goto out;
        }
        rc = key_set_secret(key, secret, sizeof(secret), err);
        if (rc != AF_OK)
            goto out;
        break;
    default:
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "cannot generate a key for alg %s", af_alg_name(alg));
        goto out;
    }
    if (alg != AF_ALG_HS256) {
        if (key->pkey == NULL) {
            rc = AF_ERR_SET(err, AF_ERR_CRYPTO, "%s key generation failed: %s", af_alg_name(alg),
                            af_jose_ossl_reason(why, sizeof(why)));
            goto out;
        }
        key->has_private = true;
    }
    rc = key_finish(key, err);
    if (rc != AF_OK)
        goto out;
    *out = key;
    key = NULL;
out:
    OPENSSL_cleanse(secret, sizeof(secret));
    af_key_free(key);
    return rc;
}

/* no_passphrase: refuse encrypted PEM instead of letting OpenSSL's default
 * callback prompt on the terminal of a daemon. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return 0;
}

/* pem_keytype: the OpenSSL key type alg signs with. */
static const char *pem_keytype(af_alg alg)
{
    return alg == AF_ALG_ES256 ? "EC" : alg == AF_ALG_EDDSA ? "ED25519" : "RSA";
}

/* pem_read_typed: the private key in bio when it is of keytype, else NULL.
 * PEM_read_bio_PrivateKey asks every decoder OpenSSL 3 has (~9M
 * instructions per key, most of authflowd's start beyond linking);
 * naming the key type narrows the search to a handful. No passphrase
 * callback: an encrypted key is not decoded. */
static EVP_PKEY *pem_read_typed(BIO *bio, const char *keytype)
{
    EVP_PKEY *pkey = NULL;
    OSSL_DECODER_CTX *dctx =
        OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, keytype, EVP_PKEY_KEYPAIR, NULL, NULL);

    if (dctx != NULL && OSSL_DECODER_from_bio(dctx, bio) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    OSSL_DECODER_CTX_free(dctx);
    ERR_clear_error();
    return pkey;
}

af_rc af_key_from_pem(const char *pem, size_t len, af_alg alg, const char *what,
                      struct af_key **out, struct af_err *err)
{
    struct af_key *key = NULL;
    BIO *bio = NULL;
    struct af_err why_err;
    char why[256];
    af_rc rc;

    *out = NULL;
    if (alg == AF_ALG_HS256 || alg == AF_ALG_NONE || alg == AF_ALG_UNKNOWN) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "alg %s has no PEM private key", af_alg_name(alg));
        goto out;
    }
    if (len > AF_JOSE_PEM_MAX) {
        rc = AF_ERR_SET(err, AF_ERR_TOOBIG, "%s is larger than %d bytes", what, AF_JOSE_PEM_MAX);
        goto out;
    }
    bio = BIO_new_mem_buf(pem, (int)len);
    key = key_new(alg);
    if (bio == NULL || key == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory loading %s", what);
        goto out;
    }
    key->pkey = pem_read_typed(bio, pem_keytype(alg));
    if (key->pkey == NULL) {
        /* another key type, or no key: the general reader, whose key
         * af_jose_pkey_check names, or whose failure says why */
        BIO_free(bio);
        bio = BIO_new_mem_buf(pem, (int)len);
        if (bio == NULL) {
            rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory loading %s", what);
            goto out;
        }
        key->pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    }
    if (key->pkey == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_PARSE, "%s holds no unencrypted PEM private key: %s", what,
                        af_jose_ossl_reason(why, sizeof(why)));
        goto out;
    }
    key->has_private = true;
    af_err_clear(&why_err);
    rc = af_jose_pkey_check(key->pkey, alg, &why_err);
    if (rc != AF_OK) {
        AF_ERR_SET(err, rc, "%s: %s", what, why_err.msg);
        goto out;
    }
    rc = key_finish(key, err);
    if (rc != AF_OK)
        goto out;
    *out = key;
    key = NULL;
out:
    BIO_free(bio);
    af_key_free(key);
    return rc;
}

af_rc af_key_load_pem(const char *path, af_alg alg, struct af_key **out, struct af_err *err)
{
    unsigned char *data = NULL;
    size_t len = 0;
    FILE *f = NULL;
    af_rc rc;

    *out = NULL;
    if (alg == AF_ALG_HS256 || alg == AF_ALG_NONE || alg == AF_ALG_UNKNOWN) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "alg %s has no PEM private key", af_alg_name(alg));
        goto out;
    }
    f = fopen(path, "rb");
    if (f == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_IO, "cannot open key file %s: %s", path, strerror(errno));
        goto out;
    }
    data = OPENSSL_malloc(AF_JOSE_PEM_MAX + 1);
    if (data == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory reading %s", path);
        goto out;
    }
    len = fread(data, 1, AF_JOSE_PEM_MAX + 1, f);
    if (ferror(f)) {
        rc = AF_ERR_SET(err, AF_ERR_IO, "cannot read key file %s", path);
        goto out;
    }
    if (len > AF_JOSE_PEM_MAX) {
        rc = AF_ERR_SET(err, AF_ERR_TOOBIG, "key file %s is larger than %d bytes", path,
                        AF_JOSE_PEM_MAX);
        goto out;
    }
    rc = af_key_from_pem((const char *)data, len, alg, path, out, err);
out:
    if (f != NULL)
        fclose(f);
    if (data != NULL)
        OPENSSL_clear_free(data, AF_JOSE_PEM_MAX + 1);
    return rc;
}

af_rc af_key_from_secret(const unsigned char *secret, size_t len, struct af_key **out,
                         struct af_err *err)
{
    struct af_key *key = NULL;
    af_rc rc;

    *out = NULL;
    key = key_new(AF_ALG_HS256);
    if (key == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory for a key");
        goto out;
    }
    rc = key_set_secret(key, secret, len, err);
    if (rc != AF_OK)
        goto out;
    rc = key_finish(key, err);
    if (rc != AF_OK)
        goto out;
    *out = key;
    key = NULL;
out:
    af_key_free(key);
    return rc;
}

/* ---- JWK import ---- */

/* jwk_str: the string member name of jwk, borrowed; NULL with an error when
 * it is absent or not a string. */
static const char *jwk_str(const json_t *jwk, const char *name, struct af_err *err)
{
    const json_t *v = json_object_get(jwk, name);
    if (v == NULL) {
        AF_ERR_SET(err, AF_ERR_INVALID, "JWK has no \"%s\" member", name);
        return NULL;
    }
    if (!json_is_string(v)) {
        AF_ERR_SET(err, AF_ERR_INVALID, "JWK member \"%s\" is not a string", name);
        return NULL;
    }
    return json_string_value(v);
}

/* jwk_b64: decode the base64url member name of jwk into out (at most max
 * octets). With minimal set, a leading zero octet is refused (RFC 7518
 * §6.3.1: RSA integers use the minimum number of octets). */
static af_rc jwk_b64(const json_t *jwk, const char *name, size_t max, bool minimal,
                     struct af_buf *out, struct af_err *err)
{
    const char *s = jwk_str(jwk, name, err);
    af_rc rc = AF_OK;
    size_t len;

    af_buf_reset(out);
    if (s == NULL) {
        rc = AF_ERR_INVALID;
        goto out;
    }
    len = strlen(s);
    if (len > (max / 3 + 1) * 4) {
        rc = AF_ERR_SET(err, AF_ERR_TOOBIG, "JWK member \"%s\" is longer than %zu octets", name,
                        max);
        goto out;
    }
    rc = af_b64url_decode(out, s, len);
    if (rc != AF_OK) {
        AF_ERR_SET(err, AF_ERR_PARSE, "JWK member \"%s\" is not canonical base64url", name);
        goto out;
    }
    if (out->len == 0 || out->len > max) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "JWK member \"%s\" has %zu octets, want 1..%zu", name,
                        out->len, max);
        goto out;
    }
    if (minimal && out->p[0] == 0) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID,
                        "JWK member \"%s\" has a leading zero octet (RFC 7518 §6.3.1)", name);
        goto out;
    }
out:
    return rc;
}

/* jwk_curve: AF_OK when the "crv" member of jwk is want; kty names the key
 * type in the message. */
static af_rc jwk_curve(const json_t *jwk, const char *kty, const char *want, struct af_err *err)
{
    const char *crv = jwk_str(jwk, JWK_CRV, err);
    af_rc rc = AF_OK;

    if (crv == NULL) {
        rc = AF_ERR_INVALID;
        goto out;
    }
    if (strcmp(crv, want) != 0)
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "%s JWK on curve \"%s\", only %s is supported", kty,
                        crv, want);
out:
    return rc;
}

/* jwk_fixed: jwk_b64 of a member that must be exactly len octets (a curve
 * coordinate or public key); what names the key in the message. */
static af_rc jwk_fixed(const json_t *jwk, const char *name, size_t len, const char *what,
                       struct af_buf *out, struct af_err *err)
{
    af_rc rc = jwk_b64(jwk, name, len, false, out, err);

    if (rc == AF_OK && out->len != len)
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "%s JWK \"%s\" has %zu octets, want %zu", what, name,
                        out->len, len);
    return rc;
}

/* pkey_fromdata: a public EVP_PKEY of the given OpenSSL type from params. */
static af_rc pkey_fromdata(const char *type, OSSL_PARAM *params, EVP_PKEY **out, struct af_err *err)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY_CTX *chk = NULL;
    char why[256];
    af_rc rc = AF_OK;

    *out = NULL;
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "JWK is not a valid %s public key: %s", type,
                        af_jose_ossl_reason(why, sizeof(why)));
        goto out;
    }
    /* For EC this confirms the point is on the curve and is not the point
     * at infinity: verifying against an off-curve point is meaningless. */
    chk = EVP_PKEY_CTX_new_from_pkey(NULL, *out, NULL);
    if (chk == NULL || EVP_PKEY_public_check(chk) != 1) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "JWK %s public key fails its check: %s", type,
                        af_jose_ossl_reason(why, sizeof(why)));
        goto out;
    }
out:
    if (rc != AF_OK) {
        EVP_PKEY_free(*out);
        *out = NULL;
    }
    EVP_PKEY_CTX_free(chk);
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

static af_rc jwk_rsa(const json_t *jwk, EVP_PKEY **out, struct af_err *err)
{
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    BIGNUM *n = NULL, *e = NULL;
    struct af_buf b;
    af_rc rc;

    af_buf_init(&b, AF_JOSE_RSA_MAX_BITS / 8);
    rc = jwk_b64(jwk, JWK_N, AF_JOSE_RSA_MAX_BITS / 8, true, &b, err);
    if (rc != AF_OK)
        goto out;
    n = BN_bin2bn((const unsigned char *)b.p, (int)b.len, NULL);
    rc = jwk_b64(jwk, JWK_E, 8, true, &b, err);
    if (rc != AF_OK)
        goto out;
    e = BN_bin2bn((const unsigned char *)b.p, (int)b.len, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (n == NULL || e == NULL || bld == NULL ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory importing an RSA JWK");
        goto out;
    }
    params = OSSL_PARAM_BLD_to_param(bld);
    if (params == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory importing an RSA JWK");
        goto out;
    }
    rc = pkey_fromdata("RSA", params, out, err);
out:
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    af_buf_free(&b);
    return rc;
}

static af_rc jwk_ec(const json_t *jwk, EVP_PKEY **out, struct af_err *err)
{
    unsigned char pub[1 + 2 * AF_JOSE_P256_LEN];
    char group[] = "prime256v1";
    OSSL_PARAM params[3];
    struct af_buf b;
    af_rc rc;

    af_buf_init(&b, AF_JOSE_P256_LEN);
    rc = jwk_curve(jwk, "EC", "P-256", err);
    if (rc != AF_OK)
        goto out;
    /* RFC 7518 §6.2.1.2/§6.2.1.3: each coordinate is the full 32 octets. */
    pub[0] = 0x04; /* SEC 1 uncompressed point */
    rc = jwk_fixed(jwk, JWK_X, AF_JOSE_P256_LEN, "EC", &b, err);
    if (rc != AF_OK)
        goto out;
    memcpy(pub + 1, b.p, AF_JOSE_P256_LEN);
    rc = jwk_fixed(jwk, JWK_Y, AF_JOSE_P256_LEN, "EC", &b, err);
    if (rc != AF_OK)
        goto out;
    memcpy(pub + 1 + AF_JOSE_P256_LEN, b.p, AF_JOSE_P256_LEN);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub));
    params[2] = OSSL_PARAM_construct_end();
    rc = pkey_fromdata("EC", params, out, err);
out:
    af_buf_free(&b);
    return rc;
}

static af_rc jwk_okp(const json_t *jwk, EVP_PKEY **out, struct af_err *err)
{
    OSSL_PARAM params[2];
    struct af_buf b;
    af_rc rc;

    af_buf_init(&b, AF_JOSE_ED25519_LEN);
    rc = jwk_curve(jwk, "OKP", "Ed25519", err);
    if (rc != AF_OK)
        goto out;
    rc = jwk_fixed(jwk, JWK_X, AF_JOSE_ED25519_LEN, "Ed25519", &b, err);
    if (rc != AF_OK)
        goto out;
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, b.p, b.len);
    params[1] = OSSL_PARAM_construct_end();
    rc = pkey_fromdata("ED25519", params, out, err);
out:
    af_buf_free(&b);
    return rc;
}

/* jwk_for_sig: refuse a JWK that says it is not for verifying signatures
 * (RFC 7517 §4.2 "use", §4.3 "key_ops"). */
static af_rc jwk_for_sig(const json_t *jwk, struct af_err *err)
{
    const json_t *use = json_object_get(jwk, JWK_USE);
    const json_t *ops = json_object_get(jwk, JWK_KEY_OPS);
    const json_t *op;
    af_rc rc = AF_OK;
    bool verify = false;
    size_t i;

    if (use != NULL && (!json_is_string(use) || strcmp(json_string_value(use), "sig") != 0)) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "JWK \"use\" is not \"sig\"");
        goto out;
    }
    if (ops != NULL) {
        if (!json_is_array(ops)) {
            rc = AF_ERR_SET(err, AF_ERR_INVALID, "JWK \"key_ops\" is not an array");
            goto out;
        }
        json_array_foreach(ops, i, op)
        {
            if (json_is_string(op) && strcmp(json_string_value(op), "verify") == 0)
                verify = true;
        }
        if (!verify) {
            rc = AF_ERR_SET(err, AF_ERR_INVALID, "JWK \"key_ops\" does not include \"verify\"");
            goto out;
        }
    }
out:
    return rc;
}

af_rc af_jose_key_from_jwk(const json_t *jwk, af_alg want, struct af_key **out, struct af_err *err)
{
    const json_t *jalg, *jkid;
    struct af_key *key = NULL;
    const char *kty;
    af_alg alg = AF_ALG_UNKNOWN, dflt;
    struct af_buf b;
    af_rc rc;

    *out = NULL;
    af_buf_init(&b, AF_JOSE_SECRET_MAX);
    if (!json_is_object(jwk)) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "JWK is not a JSON object");
        goto out;
    }
    kty = jwk_str(jwk, JWK_KTY, err);
    if (kty == NULL) {
        rc = AF_ERR_INVALID;
        goto out;
    }
    rc = jwk_for_sig(jwk, err);
    if (rc != AF_OK)
        goto out;
    if (strcmp(kty, "RSA") == 0) {
        dflt = want == AF_ALG_PS256 ? AF_ALG_PS256 : AF_ALG_RS256;
    } else if (strcmp(kty, "EC") == 0) {
        dflt = AF_ALG_ES256;
    } else if (strcmp(kty, "OKP") == 0) {
        dflt = AF_ALG_EDDSA;
    } else if (strcmp(kty, "oct") == 0) {
        dflt = AF_ALG_HS256;
    } else {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "JWK kty \"%.32s\" is not supported", kty);
        goto out;
    }
    jalg = json_object_get(jwk, JWK_ALG);
    if (jalg == NULL) {
        alg = dflt;
    } else if (!json_is_string(jalg) || af_alg_parse(json_string_value(jalg), &alg) != AF_OK ||
               alg == AF_ALG_NONE) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "JWK \"alg\" %.32s is not a supported algorithm",
                        json_is_string(jalg) ? json_string_value(jalg) : "(not a string)");
        goto out;
    }
    /* An explicit alg must belong to the kty: only RSA has two. */
    if (alg != dflt && !(dflt == AF_ALG_RS256 && alg == AF_ALG_PS256) &&
        !(dflt == AF_ALG_PS256 && alg == AF_ALG_RS256)) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "JWK \"alg\" %s does not fit kty %s", af_alg_name(alg),
                        kty);
        goto out;
    }
    key = key_new(alg);
    if (key == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory for a key");
        goto out;
    }
    if (alg == AF_ALG_HS256) {
        rc = jwk_b64(jwk, JWK_K, AF_JOSE_SECRET_MAX, false, &b, err);
        if (rc == AF_OK)
            rc = key_set_secret(key, (const unsigned char *)b.p, b.len, err);
    } else if (alg == AF_ALG_RS256 || alg == AF_ALG_PS256) {
        rc = jwk_rsa(jwk, &key->pkey, err);
    } else if (alg == AF_ALG_ES256) {
        rc = jwk_ec(jwk, &key->pkey, err);
    } else {
        rc = jwk_okp(jwk, &key->pkey, err);
    }
    if (rc != AF_OK)
        goto out;
    if (key->pkey != NULL) {
        rc = af_jose_pkey_check(key->pkey, alg, err);
        if (rc != AF_OK)
            goto out;
    }
    jkid = json_object_get(jwk, JWK_KID);
    if (jkid != NULL) {
        if (!json_is_string(jkid)) {
            rc = AF_ERR_SET(err, AF_ERR_INVALID, "JWK \"kid\" is not a string");
            goto out;
        }
        rc = af_key_set_kid(key, json_string_value(jkid));
        if (rc != AF_OK) {
            AF_ERR_SET(err, rc, "out of memory for a kid");
            goto out;
        }
    }
    rc = key_finish(key, err);
    if (rc != AF_OK)
        goto out;
    *out = key;
    key = NULL;
out:
    if (b.p != NULL)
        OPENSSL_cleanse(b.p, b.cap); /* may have held an oct secret */
    af_buf_free(&b);
    af_key_free(key);
    return rc;
}

af_rc af_key_from_jwk(const json_t *jwk, struct af_key **out, struct af_err *err)
{
    return af_jose_key_from_jwk(jwk, AF_ALG_UNKNOWN, out, err);
}

/* ---- JWKS ---- */

af_rc af_jwks_find(const json_t *jwks, const char *kid, const char *alg, struct af_key **out,
                   struct af_err *err)
{
    const json_t *keys, *jwk, *jkid;
    struct af_key *found = NULL, *cand = NULL;
    struct af_err why;
    size_t i, matches = 0;
    bool named;
    af_alg want;
    af_rc rc = AF_OK;

    *out = NULL;
    af_err_clear(&why);
    if (alg == NULL || af_alg_parse(alg, &want) != AF_OK || want == AF_ALG_NONE) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "alg %.32s cannot be verified with a JWKS key",
                        alg ? alg : "(null)");
        goto out;
    }
    keys = json_is_object(jwks) ? json_object_get(jwks, JWK_KEYS) : NULL;
    if (!json_is_array(keys)) {
        rc = AF_ERR_SET(err, AF_ERR_PARSE, "JWKS has no \"keys\" array");
        goto out;
    }
    if (json_array_size(keys) > JWKS_MAX_KEYS) {
        rc = AF_ERR_SET(err, AF_ERR_TOOBIG, "JWKS has %zu keys, more than %d",
                        json_array_size(keys), JWKS_MAX_KEYS);
        goto out;
    }
    json_array_foreach(keys, i, jwk)
    {
        /* Skip a JWK whose own kid differs before paying for an import. */
        jkid = json_object_get(jwk, JWK_KID);
        named = kid != NULL && json_is_string(jkid);
        if (named && strcmp(json_string_value(jkid), kid) != 0)
            continue;
        /* Keep the reason a key was unusable when it is the one asked for
         * (or when no kid narrows the choice): that is what a user needs. */
        if (af_jose_key_from_jwk(jwk, want, &cand, kid == NULL || named ? &why : NULL) != AF_OK)
            continue;
        if (kid != NULL && strcmp(af_key_kid(cand), kid) != 0) {
            af_key_free(cand);
            cand = NULL;
            continue;
        }
        if (cand->alg != want) {
            AF_ERR_SET(&why, AF_ERR_INVALID, "key %s is for %s", af_key_kid(cand),
                       af_alg_name(cand->alg));
            af_key_free(cand);
            cand = NULL;
            continue;
        }
        matches++;
        af_key_free(found);
        found = cand;
        cand = NULL;
    }
    if (matches == 0) {
        if (kid != NULL)
            rc = AF_ERR_SET(err, AF_ERR_NOTFOUND, "no JWKS key with kid \"%.64s\" verifies %s%s%s",
                            kid, alg, why.msg[0] ? ": " : "", why.msg);
        else
            rc = AF_ERR_SET(err, AF_ERR_NOTFOUND, "no JWKS key verifies %s%s%s", alg,
                            why.msg[0] ? ": " : "", why.msg);
        goto out;
    }
    if (matches > 1) {
        rc = AF_ERR_SET(err, AF_ERR_NOTFOUND,
                        "%zu JWKS keys%s%.64s%s verify %s; the choice is ambiguous", matches,
                        kid ? " with kid \"" : "", kid ? kid : "", kid ? "\"" : "", alg);
        goto out;
    }
    *out = found;
    found = NULL;
out:
    af_key_free(cand);
    af_key_free(found);
    return rc;
}

/* ---- OIDC ---- */

af_rc af_oidc_half_hash(af_alg alg, const char *value, char **out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    const EVP_MD *type;
    struct af_buf b;
    af_rc rc;

    *out = NULL;
    af_buf_init(&b, 128);
    switch (alg) {
    case AF_ALG_RS256:
    case AF_ALG_PS256:
    case AF_ALG_ES256:
    case AF_ALG_HS256:
        type = EVP_sha256();
        break;
    case AF_ALG_EDDSA:
        type = EVP_sha512(); /* OIDC: Ed25519 pairs with SHA-512 */
        break;
    default:
        rc = AF_ERR_INVALID;
        goto out;
    }
    if (value == NULL) {
        rc = AF_ERR_INVALID;
        goto out;
    }
    if (EVP_Digest(value, strlen(value), md, &mdlen, type, NULL) != 1) {
        rc = AF_ERR_CRYPTO;
        goto out;
    }
    rc = af_b64url_encode(&b, md, mdlen / 2);
    if (rc != AF_OK)
        goto out;
    *out = af_buf_detach(&b);
    if (*out == NULL)
        rc = AF_ERR_NOMEM;
out:
    af_buf_free(&b);
    return rc;
}
