/*
 * defect.c - the pieces of deliberately defective tokens that the public
 * signing functions refuse to make on purpose: a header whose kid or alg
 * does not describe the signing key, the public key's PEM text (the
 * secret of the "HS256 keyed with the public key" confusion attack) and a
 * self-signed certificate of a key (what an attacker serves at x5u).
 *
 * Kept apart from jws.c so that the normal signing path stays the one
 * that always writes the true alg and kid.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "authflow/jose.h"
#include "authflow/util.h"
#include "jose/jose_int.h"

/* A SubjectPublicKeyInfo PEM of an RSA 8192 key is about 1.5 KiB. */
#define DEFECT_PEM_MAX (16 * 1024)

/* bio_text: what bio holds, as a string (caller frees). */
static af_rc bio_text(BIO *bio, char **out)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    if (n <= 0 || n > DEFECT_PEM_MAX)
        return AF_ERR_CRYPTO;
    *out = strndup(data, (size_t)n);
    return *out != NULL ? AF_OK : AF_ERR_NOMEM;
}

af_rc af_key_public_pem(const struct af_key *key, char **out)
{
    BIO *bio = NULL;
    af_rc rc;

    *out = NULL;
    if (key->alg == AF_ALG_HS256 || key->pkey == NULL) {
        rc = AF_ERR_INVALID;
        goto out;
    }
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    /* PEM_write_bio_PUBKEY writes only the public half, also of a private key. */
    if (PEM_write_bio_PUBKEY(bio, key->pkey) != 1) {
        rc = AF_ERR_CRYPTO;
        goto out;
    }
    rc = bio_text(bio, out);
out:
    BIO_free(bio);
    return rc;
}

af_rc af_key_self_signed_pem(const struct af_key *key, const char *cn, long lifetime, char **out)
{
    X509 *x = NULL;
    X509_NAME *name = NULL;
    BIO *bio = NULL;
    af_rc rc = AF_ERR_CRYPTO;

    *out = NULL;
    if (key->pkey == NULL || !key->has_private || cn == NULL || lifetime <= 0) {
        rc = AF_ERR_INVALID;
        goto out;
    }
    x = X509_new();
    bio = BIO_new(BIO_s_mem());
    if (x == NULL || bio == NULL) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    /* v3, serial 1, valid from a minute ago (clock skew) for lifetime s */
    if (X509_set_version(x, 2) != 1 || ASN1_INTEGER_set(X509_get_serialNumber(x), 1) != 1 ||
        X509_gmtime_adj(X509_getm_notBefore(x), -60) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(x), lifetime) == NULL ||
        X509_set_pubkey(x, key->pkey) != 1)
        goto out;
    name = X509_get_subject_name(x);
    if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
                                   0) != 1 ||
        X509_set_issuer_name(x, name) != 1)
        goto out;
    /* EdDSA signs without a separate digest */
    if (X509_sign(x, key->pkey, key->alg == AF_ALG_EDDSA ? NULL : EVP_sha256()) <= 0)
        goto out;
    if (PEM_write_bio_X509(bio, x) != 1)
        goto out;
    rc = bio_text(bio, out);
out:
    X509_free(x);
    BIO_free(bio);
    return rc;
}

af_rc af_jws_sign_as_is(const struct af_key *key, const json_t *header, const char *payload,
                        size_t len, char **out, struct af_err *err)
{
    af_rc rc;

    *out = NULL;
    if (!json_is_object(header) || (payload == NULL && len != 0)) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "JWS header or payload missing");
        goto out;
    }
    rc = af_jose_jws_compact(key, header, payload, len, out, err);
out:
    return rc;
}
