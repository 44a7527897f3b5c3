/*
 * jose.h - JSON Web Keys (RFC 7517, RFC 7638 thumbprints), JSON Web
 * Signatures in compact form (RFC 7515) and JWTs (RFC 7519), on OpenSSL 3 EVP.
 *
 * Algorithms: RS256, PS256, ES256, HS256, EdDSA (Ed25519). "none" is never
 * accepted by af_jws_verify; af_jws_encode_unsigned exists only to build
 * deliberately defective tokens.
 *
 * jansson references: functions taking a `json_t *` borrow it unless they
 * say otherwise; functions returning one through an out-parameter hand over
 * a new reference the caller releases with json_decref().
 */
#ifndef AUTHFLOW_JOSE_H
#define AUTHFLOW_JOSE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "authflow/rc.h"

/* The most bytes a compact JWS may have before parsing refuses it. */
#define AF_JWS_MAX_LEN (64 * 1024)

typedef enum {
    AF_ALG_NONE = 0,
    AF_ALG_RS256,
    AF_ALG_PS256,
    AF_ALG_ES256,
    AF_ALG_HS256,
    AF_ALG_EDDSA,
    AF_ALG_UNKNOWN
} af_alg;

/* af_alg_name: the JOSE name ("RS256"), static, never NULL. */
const char *af_alg_name(af_alg alg);

/* af_alg_parse: exact, case-sensitive JOSE name -> alg. AF_ERR_INVALID if
 * unknown ("none" parses to AF_ALG_NONE). */
af_rc af_alg_parse(const char *name, af_alg *out) AF_WARN_UNUSED;

/* ---- keys ---- */

struct af_key; /* opaque; holds an EVP_PKEY or an HMAC secret */

/* af_key_generate: a fresh key for alg (RSA 2048 for RS256/PS256, P-256 for
 * ES256, Ed25519 for EdDSA, 32 random bytes for HS256). The kid is the RFC
 * 7638 thumbprint. Caller frees *out with af_key_free(). */
af_rc af_key_generate(af_alg alg, struct af_key **out, struct af_err *err) AF_WARN_UNUSED;

/* af_key_load_pem: read a private key in PEM (PKCS#8 or traditional) from
 * path, at most 64 KiB, and check that it fits alg. Every error message
 * names path. Caller frees *out. */
af_rc af_key_load_pem(const char *path, af_alg alg, struct af_key **out,
                      struct af_err *err) AF_WARN_UNUSED;

/* af_key_from_pem: af_key_load_pem over pem[0..len) (at most 64 KiB, need
 * not be NUL-terminated) instead of a file; what names the source in every
 * error message (a path, or a request member). Caller frees *out. */
af_rc af_key_from_pem(const char *pem, size_t len, af_alg alg, const char *what,
                      struct af_key **out, struct af_err *err) AF_WARN_UNUSED;

/* af_key_load_or_create: the key in the PEM file path, as af_key_load_pem
 * reads it, when path exists; when it does not, a fresh key for alg
 * (af_key_generate) written there as unencrypted PKCS#8 PEM, mode 0600,
 * the missing folders created (mode 0700). The file is published whole and
 * never replaced: when another process creates path first, its key is
 * loaded instead, so concurrent starts agree on one key. A file that exists
 * but holds no key fitting alg is an error naming path (AF_ERR_PARSE or
 * AF_ERR_INVALID), never regenerated; AF_ERR_IO when path cannot be read
 * or written. *created tells whether this call wrote the file. Caller frees
 * *out with af_key_free(). */
af_rc af_key_load_or_create(const char *path, af_alg alg, struct af_key **out, bool *created,
                            struct af_err *err) AF_WARN_UNUSED;

/* af_key_from_secret: an HS256 key over a copy of secret[0..len). */
af_rc af_key_from_secret(const unsigned char *secret, size_t len, struct af_key **out,
                         struct af_err *err) AF_WARN_UNUSED;

/* af_key_from_jwk: a public (or oct) key from a JWK object (kty RSA, EC
 * P-256, OKP Ed25519, oct). The alg is taken from the JWK's "alg" when
 * present, otherwise inferred from kty/crv (RSA -> RS256). The kid is the
 * JWK's "kid" when present, else the thumbprint. Caller frees *out. */
af_rc af_key_from_jwk(const json_t *jwk, struct af_key **out, struct af_err *err) AF_WARN_UNUSED;

/* af_key_ref: a new reference to key (returned; NULL gives NULL), safe
 * from any thread: a key shared by several owners (the server's published
 * key sets) lives until the last one calls af_key_free(). A key is
 * immutable once shared: af_key_set_kid only before. */
struct af_key *af_key_ref(struct af_key *key);

/* af_key_free: drop one reference; the last frees the key. NULL is a
 * no-op. */
void af_key_free(struct af_key *key);

af_alg af_key_alg(const struct af_key *key);

/* af_key_kid: borrowed, valid while key lives. Never NULL. */
const char *af_key_kid(const struct af_key *key);

/* af_key_set_kid: replace the kid with a copy of kid. */
af_rc af_key_set_kid(struct af_key *key, const char *kid) AF_WARN_UNUSED;

/* af_key_thumbprint: RFC 7638 SHA-256 thumbprint, base64url. Caller frees. */
af_rc af_key_thumbprint(const struct af_key *key, char **out) AF_WARN_UNUSED;

/* af_key_public_jwk: the public JWK with kid, alg and use "sig" (an HS256
 * key yields AF_ERR_INVALID: secrets are never published). New reference. */
af_rc af_key_public_jwk(const struct af_key *key, json_t **out) AF_WARN_UNUSED;

/* ---- JWS ---- */

/* af_jws_sign: compact JWS over payload[0..len). header may be NULL; its
 * members are copied and "alg" and "kid" are set from key. Caller frees
 * *out with free(). */
af_rc af_jws_sign(const struct af_key *key, const json_t *header, const char *payload, size_t len,
                  char **out, struct af_err *err) AF_WARN_UNUSED;

/* af_jwt_sign: af_jws_sign over the compact JSON of claims, with "typ" set
 * to typ when typ is not NULL. Caller frees *out with free(). */
af_rc af_jwt_sign(const struct af_key *key, const char *typ, const json_t *claims, char **out,
                  struct af_err *err) AF_WARN_UNUSED;

/* af_jws_encode_unsigned: "B64(header).B64(claims)." with the header exactly
 * as given (for defective tokens such as alg=none). Caller frees. */
af_rc af_jws_encode_unsigned(const json_t *header, const json_t *claims, char **out) AF_WARN_UNUSED;

struct af_jws; /* a parsed compact JWS; opaque */

/* af_jws_parse: split and decode a compact JWS without verifying it. The
 * header must be a JSON object with a string "alg". Over AF_JWS_MAX_LEN is
 * AF_ERR_TOOBIG. Caller frees *out with af_jws_free(). */
af_rc af_jws_parse(const char *compact, struct af_jws **out, struct af_err *err) AF_WARN_UNUSED;

/* af_jws_verify: check the signature with key. The header's alg must equal
 * the key's alg exactly; "none" and any mismatch are AF_ERR_CRYPTO. */
af_rc af_jws_verify(const struct af_jws *jws, const struct af_key *key,
                    struct af_err *err) AF_WARN_UNUSED;

/* af_jws_header: borrowed, valid while jws lives. Never NULL. */
const json_t *af_jws_header(const struct af_jws *jws);

/* af_jws_claims: the payload as a JSON object, borrowed, valid while jws
 * lives; NULL when the payload is not a JSON object. */
const json_t *af_jws_claims(const struct af_jws *jws);

/* af_jws_alg_str: the header's alg string, borrowed. Never NULL. */
const char *af_jws_alg_str(const struct af_jws *jws);

void af_jws_free(struct af_jws *jws);

/* af_jwks_find: the key of jwks ({"keys":[...]}) that matches kid (when kid
 * is not NULL) and can verify alg; with kid NULL, the only key usable for
 * alg. AF_ERR_NOTFOUND when none or more than one fits. Caller frees *out. */
af_rc af_jwks_find(const json_t *jwks, const char *kid, const char *alg, struct af_key **out,
                   struct af_err *err) AF_WARN_UNUSED;

/* af_oidc_half_hash: at_hash / c_hash (OIDC Core §3.1.3.6): base64url of the
 * left half of the hash of value, SHA-256 for RS256/PS256/ES256/HS256 and
 * SHA-512 for EdDSA over Ed25519. Caller frees *out with free(). */
af_rc af_oidc_half_hash(af_alg alg, const char *value, char **out) AF_WARN_UNUSED;

/* ---- deliberately defective tokens (defect.c) ----
 * For authflowd's token minting: what a verifier must refuse. */

/* af_key_public_pem: the public half of key as PEM SubjectPublicKeyInfo
 * ("-----BEGIN PUBLIC KEY-----", RFC 7468 §13), the text a verifier that
 * confuses algorithms would take as an HMAC secret. An HS256 key is
 * AF_ERR_INVALID (it has no public half). Caller frees *out with free(). */
af_rc af_key_public_pem(const struct af_key *key, char **out) AF_WARN_UNUSED;

/* af_key_self_signed_pem: a self-signed X.509 certificate of key (which
 * must hold its private half; not HS256) with subject and issuer CN=cn,
 * valid from a minute ago for lifetime seconds, in PEM
 * ("-----BEGIN CERTIFICATE-----", the form RFC 7515 §4.1.5 wants at an
 * x5u): the certificate an attacker serves for a key of its own.
 * AF_ERR_INVALID for a key without a private half. Caller frees *out with
 * free(). */
af_rc af_key_self_signed_pem(const struct af_key *key, const char *cn, long lifetime,
                             char **out) AF_WARN_UNUSED;

/* af_jws_sign_as_is: a compact JWS over payload[0..len) signed with key's
 * own algorithm, under header exactly as given: unlike af_jws_sign, "alg"
 * and "kid" are neither set nor checked against key, so the header may name
 * a kid no JWKS holds or an alg the signature does not use. Caller frees
 * *out with free(). */
af_rc af_jws_sign_as_is(const struct af_key *key, const json_t *header, const char *payload,
                        size_t len, char **out, struct af_err *err) AF_WARN_UNUSED;

#endif
