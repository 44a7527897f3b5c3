/*
 * jws.c - JWS compact serialization (RFC 7515 §7.1): signing, parsing and
 * verification for RS256, PS256, ES256, HS256 and EdDSA on OpenSSL 3 EVP.
 */
#include "config.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include "authflow/jose.h"
#include "authflow/jsonw.h"
#include "authflow/proto.h"
#include "authflow/util.h"
#include "jose/jose_int.h"

struct af_jws {
    json_t *header;  /* owned */
    json_t *claims;  /* owned; NULL when the payload is not a JSON object */
    const char *alg; /* borrowed from header */
    struct af_buf payload;
    struct af_buf sig;
    char *input; /* owned: the signing input, BASE64URL(header) "." BASE64URL(payload) */
    size_t input_len;
};

/* ---- signature primitives ---- */

/* digest_init: set up md for signing or verifying with key, including the
 * RSA-PSS parameters of RFC 7518 §3.5 (SHA-256, MGF1 with SHA-256, 32-octet
 * salt; the verifier insists on the same salt length). */
static af_rc digest_init(EVP_MD_CTX *md, const struct af_key *key, bool sign, struct af_err *err)
{
    const EVP_MD *type = key->alg == AF_ALG_EDDSA ? NULL : EVP_sha256();
    EVP_PKEY_CTX *pctx = NULL;
    char why[256];
    af_rc rc = AF_OK;
    int ok;

    if (sign)
        ok = EVP_DigestSignInit(md, &pctx, type, NULL, key->pkey);
    else
        ok = EVP_DigestVerifyInit(md, &pctx, type, NULL, key->pkey);
    if (ok == 1 && key->alg == AF_ALG_PS256)
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, AF_JOSE_PSS_SALT_LEN) > 0 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0;
    if (ok != 1)
        rc = AF_ERR_SET(err, AF_ERR_CRYPTO, "cannot set up %s %s: %s", af_alg_name(key->alg),
                        sign ? "signing" : "verification", af_jose_ossl_reason(why, sizeof(why)));
    return rc;
}

/* hs256: HMAC-SHA-256 of in under key's secret into mac (32 octets). */
static af_rc hs256(const struct af_key *key, const unsigned char *in, size_t len,
                   unsigned char *mac, unsigned int *maclen, struct af_err *err)
{
    af_rc rc = AF_OK;
    if (key->secret == NULL || key->secret_len > INT_MAX ||
        HMAC(EVP_sha256(), key->secret, (int)key->secret_len, in, len, mac, maclen) == NULL)
        rc = AF_ERR_SET(err, AF_ERR_CRYPTO, "HMAC-SHA-256 failed");
    return rc;
}

/* sign_template: key's signing context in *out (borrowed), set up by the
 * first signature: EVP_DigestSignInit fetches the algorithms from the
 * provider each time (a quarter of the non-signature work of a token), a
 * copy does not. A race makes two; the loser frees its own. */
static af_rc sign_template(const struct af_key *key, EVP_MD_CTX **out, struct af_err *err)
{
    struct af_key *k = (struct af_key *)key; /* only the cache changes */
    EVP_MD_CTX *tmpl = atomic_load(&k->sign_tmpl), *none = NULL;
    af_rc rc;

    *out = tmpl;
    if (tmpl != NULL)
        return AF_OK;
    rc = af_jose_pkey_check(key->pkey, key->alg, err);
    if (rc != AF_OK)
        return rc;
    tmpl = EVP_MD_CTX_new();
    if (tmpl == NULL)
        return AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory for a digest context");
    rc = digest_init(tmpl, key, true, err);
    if (rc != AF_OK) {
        EVP_MD_CTX_free(tmpl);
        return rc;
    }
    if (!atomic_compare_exchange_strong(&k->sign_tmpl, &none, tmpl)) {
        EVP_MD_CTX_free(tmpl);
        tmpl = none; /* the winner's */
    }
    *out = tmpl;
    return AF_OK;
}

af_rc af_jose_sign_input(const struct af_key *key, const unsigned char *in, size_t len,
                         struct af_buf *sig, struct af_err *err)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned char raw[2 * AF_JOSE_P256_LEN];
    unsigned int maclen = 0;
    const unsigned char *p;
    const BIGNUM *r = NULL, *s = NULL;
    ECDSA_SIG *es = NULL;
    EVP_MD_CTX *md = NULL, *tmpl;
    unsigned char *der = NULL;
    size_t derlen = 0;
    char why[256];
    af_rc rc;

    if (key->alg == AF_ALG_HS256) {
        rc = hs256(key, in, len, mac, &maclen, err);
        if (rc == AF_OK)
            rc = af_buf_add(sig, mac, maclen);
        goto out;
    }
    if (key->pkey == NULL || !key->has_private) {
        rc = AF_ERR_SET(err, AF_ERR_STATE, "%s key %s has no private part to sign with",
                        af_alg_name(key->alg), af_key_kid(key));
        goto out;
    }
    rc = sign_template(key, &tmpl, err);
    if (rc != AF_OK)
        goto out;
    md = EVP_MD_CTX_new();
    if (md == NULL || EVP_MD_CTX_copy_ex(md, tmpl) != 1) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "cannot copy the %s signing context: %s",
                        af_alg_name(key->alg), af_jose_ossl_reason(why, sizeof(why)));
        goto out;
    }
    /* the key's largest signature, rather than a first EVP_DigestSign
     * call that hashes the input only to say how long the result is */
    derlen = (size_t)EVP_PKEY_get_size(key->pkey);
    der = derlen > 0 ? OPENSSL_malloc(derlen) : NULL;
    if (der == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory for a signature");
        goto out;
    }
    if (EVP_DigestSign(md, der, &derlen, in, len) != 1) {
        rc = AF_ERR_SET(err, AF_ERR_CRYPTO, "%s signing failed: %s", af_alg_name(key->alg),
                        af_jose_ossl_reason(why, sizeof(why)));
        goto out;
    }
    if (key->alg != AF_ALG_ES256) {
        rc = af_buf_add(sig, der, derlen);
        goto out;
    }
    /* RFC 7518 §3.4: JWS carries R || S, each zero-padded to 32 octets,
     * where OpenSSL produces a DER ECDSA-Sig-Value. */
    p = der;
    es = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
    if (es == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_CRYPTO, "ES256 signature is not DER: %s",
                        af_jose_ossl_reason(why, sizeof(why)));
        goto out;
    }
    ECDSA_SIG_get0(es, &r, &s);
    if (BN_bn2binpad(r, raw, AF_JOSE_P256_LEN) != AF_JOSE_P256_LEN ||
        BN_bn2binpad(s, raw + AF_JOSE_P256_LEN, AF_JOSE_P256_LEN) != AF_JOSE_P256_LEN) {
        rc = AF_ERR_SET(err, AF_ERR_CRYPTO, "ES256 signature value exceeds 32 octets");
        goto out;
    }
    rc = af_buf_add(sig, raw, sizeof(raw));
out:
    OPENSSL_cleanse(mac, sizeof(mac));
    ECDSA_SIG_free(es);
    OPENSSL_free(der);
    EVP_MD_CTX_free(md);
    return rc;
}

/* es256_der: the DER ECDSA-Sig-Value for a raw R || S signature. Caller
 * frees *der with OPENSSL_free(). */
static af_rc es256_der(const unsigned char *sig, size_t siglen, unsigned char **der, size_t *derlen,
                       struct af_err *err)
{
    ECDSA_SIG *es = NULL;
    BIGNUM *r = NULL, *s = NULL;
    af_rc rc = AF_OK;
    int n;

    *der = NULL;
    if (siglen != 2 * AF_JOSE_P256_LEN) {
        rc = AF_ERR_SET(err, AF_ERR_CRYPTO,
                        "ES256 signature is %zu octets, RFC 7518 §3.4 requires R || S of 64",
                        siglen);
        goto out;
    }
    es = ECDSA_SIG_new();
    r = BN_bin2bn(sig, AF_JOSE_P256_LEN, NULL);
    s = BN_bin2bn(sig + AF_JOSE_P256_LEN, AF_JOSE_P256_LEN, NULL);
    if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory for an ES256 signature");
        goto out;
    }
    r = s = NULL; /* owned by es now */
    n = i2d_ECDSA_SIG(es, der);
    if (n <= 0) {
        rc = AF_ERR_SET(err, AF_ERR_CRYPTO, "cannot encode the ES256 signature as DER");
        goto out;
    }
    *derlen = (size_t)n;
out:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return rc;
}

af_rc af_jose_verify_input(const struct af_key *key, const unsigned char *in, size_t len,
                           const unsigned char *sig, size_t siglen, struct af_err *err)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    EVP_MD_CTX *md = NULL;
    unsigned char *der = NULL;
    size_t derlen = 0;
    char why[256];
    af_rc rc;

    if (key->alg == AF_ALG_HS256) {
        rc = hs256(key, in, len, mac, &maclen, err);
        if (rc != AF_OK)
            goto out;
        /* The MAC length is public; the comparison of its content is not
         * allowed to leak where the first difference is. */
        if (siglen != maclen || CRYPTO_memcmp(mac, sig, maclen) != 0)
            rc = AF_ERR_SET(err, AF_ERR_CRYPTO, "HS256 signature does not verify");
        goto out;
    }
    if (key->pkey == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_STATE, "%s key has no public key", af_alg_name(key->alg));
        goto out;
    }
    rc = af_jose_pkey_check(key->pkey, key->alg, err);
    if (rc != AF_OK)
        goto out;
    if (key->alg == AF_ALG_ES256) {
        rc = es256_der(sig, siglen, &der, &derlen, err);
        if (rc != AF_OK)
            goto out;
        sig = der;
        siglen = derlen;
    }
    md = EVP_MD_CTX_new();
    if (md == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory for a digest context");
        goto out;
    }
    rc = digest_init(md, key, false, err);
    if (rc != AF_OK)
        goto out;
    if (EVP_DigestVerify(md, sig, siglen, in, len) != 1) {
        rc = AF_ERR_SET(err, AF_ERR_CRYPTO, "%s signature does not verify with key %s (%s)",
                        af_alg_name(key->alg), af_key_kid(key),
                        af_jose_ossl_reason(why, sizeof(why)));
        goto out;
    }
out:
    OPENSSL_cleanse(mac, sizeof(mac));
    OPENSSL_free(der);
    EVP_MD_CTX_free(md);
    return rc;
}

/* ---- signing ---- */

/* add_b64_json: append BASE64URL(compact JSON of v) to out. */
static af_rc add_b64_json(struct af_buf *out, const json_t *v)
{
    char *s = af_jsonw_dumps(v);
    af_rc rc = AF_ERR_NOMEM;
    if (s == NULL)
        goto out;
    rc = af_b64url_encode(out, (const unsigned char *)s, strlen(s));
out:
    free(s);
    return rc;
}

af_rc af_jose_jws_compact(const struct af_key *key, const json_t *header, const char *payload,
                          size_t len, char **out, struct af_err *err)
{
    struct af_buf b, sig;
    af_rc rc;

    *out = NULL;
    af_buf_init(&b, AF_JWS_MAX_LEN);
    af_buf_init(&sig, AF_JOSE_SIG_MAX);
    rc = add_b64_json(&b, header);
    if (rc == AF_OK)
        rc = af_buf_addc(&b, '.');
    if (rc == AF_OK)
        rc = af_b64url_encode(&b, (const unsigned char *)payload, len);
    if (rc != AF_OK) {
        AF_ERR_SET(err, rc, "JWS signing input exceeds %d bytes", AF_JWS_MAX_LEN);
        goto out;
    }
    rc = af_jose_sign_input(key, (const unsigned char *)b.p, b.len, &sig, err);
    if (rc != AF_OK)
        goto out;
    rc = af_buf_addc(&b, '.');
    if (rc == AF_OK)
        rc = af_b64url_encode(&b, (const unsigned char *)sig.p, sig.len);
    if (rc != AF_OK) {
        AF_ERR_SET(err, rc, "JWS exceeds %d bytes", AF_JWS_MAX_LEN);
        goto out;
    }
    *out = af_buf_detach(&b);
    if (*out == NULL)
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory for a JWS");
out:
    af_buf_free(&sig);
    af_buf_free(&b);
    return rc;
}

af_rc af_jws_sign(const struct af_key *key, const json_t *header, const char *payload, size_t len,
                  char **out, struct af_err *err)
{
    json_t *hdr = NULL;
    af_rc rc;

    *out = NULL;
    if (header != NULL && !json_is_object(header)) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "JWS header is not a JSON object");
        goto out;
    }
    if (payload == NULL && len != 0) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "JWS payload is NULL");
        goto out;
    }
    hdr = header != NULL ? json_deep_copy(header) : json_object();
    if (hdr == NULL || json_object_set_new(hdr, AF_H_ALG, json_string(af_alg_name(key->alg))) ||
        json_object_set_new(hdr, AF_H_KID, json_string(af_key_kid(key)))) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory building a JWS header");
        goto out;
    }
    rc = af_jose_jws_compact(key, hdr, payload, len, out, err);
out:
    json_decref(hdr);
    return rc;
}

af_rc af_jwt_sign(const struct af_key *key, const char *typ, const json_t *claims, char **out,
                  struct af_err *err)
{
    json_t *hdr = NULL;
    char *payload = NULL;
    af_rc rc;

    *out = NULL;
    if (!json_is_object(claims)) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "JWT claims are not a JSON object");
        goto out;
    }
    hdr = json_object();
    payload = af_jsonw_dumps(claims);
    if (hdr == NULL || payload == NULL ||
        (typ != NULL && json_object_set_new(hdr, AF_H_TYP, json_string(typ)) != 0)) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory building a JWT");
        goto out;
    }
    rc = af_jws_sign(key, hdr, payload, strlen(payload), out, err);
out:
    free(payload);
    json_decref(hdr);
    return rc;
}

af_rc af_jws_encode_unsigned(const json_t *header, const json_t *claims, char **out)
{
    struct af_buf b;
    af_rc rc;

    *out = NULL;
    af_buf_init(&b, AF_JWS_MAX_LEN);
    if (header == NULL || claims == NULL) {
        rc = AF_ERR_INVALID;
        goto out;
    }
    rc = add_b64_json(&b, header);
    if (rc == AF_OK)
        rc = af_buf_addc(&b, '.');
    if (rc == AF_OK)
        rc = add_b64_json(&b, claims);
    if (rc == AF_OK)
        rc = af_buf_addc(&b, '.');
    if (rc != AF_OK)
        goto out;
    *out = af_buf_detach(&b);
    if (*out == NULL)
        rc = AF_ERR_NOMEM;
out:
    af_buf_free(&b);
    return rc;
}

/* ---- parsing and verification ---- */

void af_jws_free(struct af_jws *jws)
{
    if (jws == NULL)
        return;
    json_decref(jws->header);
    json_decref(jws->claims);
    af_buf_free(&jws->payload);
    af_buf_free(&jws->sig);
    free(jws->input);
    free(jws);
}

af_rc af_jws_parse(const char *compact, struct af_jws **out, struct af_err *err)
{
    const char *d1, *d2, *end, *p;
    struct af_jws *jws = NULL;
    json_error_t jerr;
    struct af_buf hb;
    const json_t *alg;
    size_t n, dots = 0;
    af_rc rc;

    *out = NULL;
    af_buf_init(&hb, AF_JWS_MAX_LEN);
    if (compact == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "no JWS given");
        goto out;
    }
    n = strnlen(compact, (size_t)AF_JWS_MAX_LEN + 1);
    if (n > AF_JWS_MAX_LEN) {
        rc = AF_ERR_SET(err, AF_ERR_TOOBIG, "JWS is longer than %d bytes", AF_JWS_MAX_LEN);
        goto out;
    }
    end = compact + n;
    for (p = compact; p < end; p++)
        dots += *p == '.';
    if (dots != 2) {
        rc = AF_ERR_SET(err, AF_ERR_PARSE,
                        "JWS compact serialization has %zu parts, RFC 7515 §7.1 requires 3",
                        dots + 1);
        goto out;
    }
    d1 = memchr(compact, '.', n);
    d2 = memchr(d1 + 1, '.', (size_t)(end - d1 - 1));
    jws = calloc(1, sizeof(*jws));
    if (jws == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory for a JWS");
        goto out;
    }
    af_buf_init(&jws->payload, AF_JWS_MAX_LEN);
    af_buf_init(&jws->sig, AF_JOSE_SIG_MAX);

    if (d1 == compact) {
        rc = AF_ERR_SET(err, AF_ERR_PARSE, "JWS header part is empty");
        goto out;
    }
    rc = af_b64url_decode(&hb, compact, (size_t)(d1 - compact));
    if (rc != AF_OK) {
        rc = AF_ERR_SET(err, AF_ERR_PARSE, "JWS header is not unpadded canonical base64url");
        goto out;
    }
    jws->header = json_loadb(hb.p, hb.len, JSON_REJECT_DUPLICATES, &jerr);
    if (jws->header == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_PARSE, "JWS header is not JSON: %s", jerr.text);
        goto out;
    }
    if (!json_is_object(jws->header)) {
        rc = AF_ERR_SET(err, AF_ERR_PARSE, "JWS header is not a JSON object");
        goto out;
    }
    alg = json_object_get(jws->header, AF_H_ALG);
    if (!json_is_string(alg)) {
        rc = AF_ERR_SET(err, AF_ERR_PARSE, "JWS header has no string \"%s\" (RFC 7515 §4.1.1)",
                        AF_H_ALG);
        goto out;
    }
    jws->alg = json_string_value(alg);

    rc = af_b64url_decode(&jws->payload, d1 + 1, (size_t)(d2 - d1 - 1));
    if (rc != AF_OK) {
        rc = AF_ERR_SET(err, AF_ERR_PARSE, "JWS payload is not unpadded canonical base64url");
        goto out;
    }
    if (jws->payload.len > 0) {
        jws->claims = json_loadb(jws->payload.p, jws->payload.len, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(jws->claims)) {
            json_decref(jws->claims);
            jws->claims = NULL;
        }
    }
    rc = af_b64url_decode(&jws->sig, d2 + 1, (size_t)(end - d2 - 1));
    if (rc == AF_ERR_TOOBIG) {
        rc = AF_ERR_SET(err, AF_ERR_PARSE, "JWS signature is longer than %d octets",
                        AF_JOSE_SIG_MAX);
        goto out;
    }
    if (rc != AF_OK) {
        rc = AF_ERR_SET(err, AF_ERR_PARSE, "JWS signature is not unpadded canonical base64url");
        goto out;
    }
    jws->input_len = (size_t)(d2 - compact);
    jws->input = strndup(compact, jws->input_len);
    if (jws->input == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory for a JWS");
        goto out;
    }
    *out = jws;
    jws = NULL;
out:
    af_buf_free(&hb);
    af_jws_free(jws);
    return rc;
}

af_rc af_jws_verify(const struct af_jws *jws, const struct af_key *key, struct af_err *err)
{
    const char *want = af_alg_name(key->alg);
    af_rc rc = AF_OK;

    /* RFC 8725 §3.1: the key, never the token, decides the algorithm, and
     * an unsecured JWS is never accepted, whatever the spelling. */
    if (strcasecmp(jws->alg, "none") == 0) {
        rc = AF_ERR_SET(err, AF_ERR_CRYPTO, "unsecured JWS (alg \"%.16s\") is never accepted",
                        jws->alg);
        goto out;
    }
    if (strcmp(jws->alg, want) != 0) {
        rc = AF_ERR_SET(err, AF_ERR_CRYPTO,
                        "JWS header alg \"%.32s\" does not match the key's alg %s (RFC 8725 §3.1)",
                        jws->alg, want);
        goto out;
    }
    /* RFC 7515 §4.1.11: no extension is understood here, so any "crit"
     * makes the JWS invalid. */
    if (json_object_get(jws->header, AF_H_CRIT) != NULL) {
        rc = AF_ERR_SET(err, AF_ERR_CRYPTO,
                        "JWS header has \"%s\" naming extensions not understood (RFC 7515 "
                        "§4.1.11)",
                        AF_H_CRIT);
        goto out;
    }
    rc = af_jose_verify_input(key, (const unsigned char *)jws->input, jws->input_len,
                              (const unsigned char *)af_buf_str(&jws->sig), jws->sig.len, err);
out:
    return rc;
}

const json_t *af_jws_header(const struct af_jws *jws)
{
    return jws->header;
}

const json_t *af_jws_claims(const struct af_jws *jws)
{
    return jws->claims;
}

const char *af_jws_alg_str(const struct af_jws *jws)
{
    return jws->alg;
}

const unsigned char *af_jws_payload(const struct af_jws *jws, size_t *len)
{
    *len = jws->payload.len;
    return (const unsigned char *)af_buf_str(&jws->payload);
}

const unsigned char *af_jws_signature(const struct af_jws *jws, size_t *len)
{
    *len = jws->sig.len;
    return (const unsigned char *)af_buf_str(&jws->sig);
}
