/*
 * jose_int.h - internals shared by jwk.c, jws.c and defect.c (and the unit
 * test).
 *
 * Not part of the module interface: server and probe code include
 * authflow/jose.h only.
 */
#ifndef AUTHFLOW_JOSE_INT_H
#define AUTHFLOW_JOSE_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "authflow/buf.h"
#include "authflow/jose.h"
#include "authflow/rc.h"

/* RFC 7518 §3.3: RSA keys of 2048 bits or larger MUST be used. The upper
 * bound keeps a hostile JWKS from making every verification expensive. */
#define AF_JOSE_RSA_MIN_BITS 2048
#define AF_JOSE_RSA_MAX_BITS 8192

/* RFC 7518 §3.4 / §6.2.1.2: P-256 coordinates and R, S are 32 octets each. */
#define AF_JOSE_P256_LEN 32
/* RFC 8037 §2: an Ed25519 public key is 32 octets. */
#define AF_JOSE_ED25519_LEN 32
/* RFC 7518 §3.5: the PS256 salt is as long as the SHA-256 output. */
#define AF_JOSE_PSS_SALT_LEN 32
/* The HS256 secret af_key_generate draws (RFC 7518 §3.2: at least 256 bits). */
#define AF_JOSE_HS256_GEN_LEN 32
/* The longest HMAC secret accepted (a JWK "k" or af_key_from_secret). */
#define AF_JOSE_SECRET_MAX 4096
/* The longest signature produced or accepted (RSA 8192 is 1024 octets). */
#define AF_JOSE_SIG_MAX 1024
/* The largest PEM file af_key_load_pem reads. */
#define AF_JOSE_PEM_MAX (64 * 1024)

struct af_key {
    _Atomic unsigned refs; /* af_key_ref adds one, af_key_free drops one */
    af_alg alg;
    EVP_PKEY *pkey;        /* owned; NULL for HS256 */
    unsigned char *secret; /* owned, cleansed when freed; HS256 only */
    size_t secret_len;
    bool has_private; /* pkey holds a private part (can sign) */
    char *kid;        /* owned; never NULL once the key is built */
    /* owned: a signing context set up once (algorithm fetch, key check,
     * RSA-PSS parameters), copied for each signature; made by the first
     * signature, published with a compare-and-swap (jws.c sign_template) */
    _Atomic(EVP_MD_CTX *) sign_tmpl;
};

/* af_jose_ossl_reason: the text of the most recent OpenSSL error (or "no
 * OpenSSL detail") written into buf, which is returned. The thread's error
 * queue is emptied so stale errors never decorate a later message. */
const char *af_jose_ossl_reason(char *buf, size_t len);

/* af_jose_pkey_check: does pkey suit alg? RS256/PS256 want RSA of
 * AF_JOSE_RSA_MIN_BITS..AF_JOSE_RSA_MAX_BITS bits, ES256 EC on P-256, EdDSA
 * Ed25519. Anything else is AF_ERR_INVALID with the reason in err. */
af_rc af_jose_pkey_check(EVP_PKEY *pkey, af_alg alg, struct af_err *err) AF_WARN_UNUSED;

/* af_jose_key_from_jwk: af_key_from_jwk, with want as the alg to assume
 * when the JWK has no "alg" member and its kty allows more than one (an RSA
 * key verifies both RS256 and PS256). want AF_ALG_UNKNOWN infers the
 * default. A JWK "alg" that differs from want is not overridden. */
af_rc af_jose_key_from_jwk(const json_t *jwk, af_alg want, struct af_key **out,
                           struct af_err *err) AF_WARN_UNUSED;

/* af_jose_sign_input: sign in[0..len) with key and append the JWS signature
 * octets to sig (raw R||S for ES256). The key must hold a private part. */
af_rc af_jose_sign_input(const struct af_key *key, const unsigned char *in, size_t len,
                         struct af_buf *sig, struct af_err *err) AF_WARN_UNUSED;

/* af_jose_jws_compact: "B64(header).B64(payload).B64(signature)" with
 * header serialized exactly as given (no member added or checked) and the
 * signature made by af_jose_sign_input. The caller has validated header
 * (an object) and payload. Caller frees *out with free(); *out is NULL on
 * error. */
af_rc af_jose_jws_compact(const struct af_key *key, const json_t *header, const char *payload,
                          size_t len, char **out, struct af_err *err) AF_WARN_UNUSED;

/* af_jose_verify_input: AF_OK when sig[0..siglen) is key's signature over
 * in[0..len); a bad or malformed signature is AF_ERR_CRYPTO. */
af_rc af_jose_verify_input(const struct af_key *key, const unsigned char *in, size_t len,
                           const unsigned char *sig, size_t siglen,
                           struct af_err *err) AF_WARN_UNUSED;

/* af_jws_payload: the decoded payload octets, borrowed, valid while jws
 * lives; *len receives their count. Never NULL (an empty payload is ""). */
const unsigned char *af_jws_payload(const struct af_jws *jws, size_t *len);

/* af_jws_signature: the decoded signature octets, borrowed, valid while jws
 * lives. Never NULL. */
const unsigned char *af_jws_signature(const struct af_jws *jws, size_t *len);

/* af_jose_make_parents (keyfile.c): create the folders leading to path
 * (mode 0700), as mkdir -p would; AF_ERR_IO names the one that failed. */
af_rc af_jose_make_parents(const char *path, struct af_err *err) AF_WARN_UNUSED;

/* af_jose_file_publish (keyfile.c): path gets data[0..len) whole or not at
 * all: written to a temporary file beside it (mode 0600) and linked to
 * path, which never replaces an existing name. *lost is true when path
 * appeared meanwhile (another process won): nothing was written there. */
af_rc af_jose_file_publish(const char *path, const char *data, size_t len, bool *lost,
                           struct af_err *err) AF_WARN_UNUSED;

#endif
