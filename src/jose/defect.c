/*
 * defect.c - the pieces of deliberately defective tokens that the public
 * signing functions refuse to make on purpose: a header whose kid or alg
 * does not describe the signing key, and the public key's PEM text (the
 * secret of the "HS256 keyed with the public key" confusion attack).
 *
 * Kept apart from jws.c so that the normal signing path stays the one
 * that always writes the true alg and kid.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>

#include "authflow/jose.h"
#include "authflow/util.h"
#include "jose/jose_int.h"

/* A SubjectPublicKeyInfo PEM of an RSA 8192 key is about 1.5 KiB. */
#define DEFECT_PEM_MAX (16 * 1024)

af_rc af_key_public_pem(const struct af_key *key, char **out)
{
    BIO *bio = NULL;
    char *data = NULL;
    long n;
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
    n = BIO_get_mem_data(bio, &data);
    if (n <= 0 || n > DEFECT_PEM_MAX) {
        rc = AF_ERR_CRYPTO;
        goto out;
    }
    *out = strndup(data, (size_t)n);
    rc = *out != NULL ? AF_OK : AF_ERR_NOMEM;
out:
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
