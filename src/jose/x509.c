/*
 * x509.c - certificates for authflowd's HTTPS listener (x509.h).
 *
 * The local CA follows the rules of keyfile.c: made once, published whole
 * with a link, never replaced, so that a CA a user told their client (or
 * their operating system) to trust stays the one that signs.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "authflow/jose.h"
#include "authflow/x509.h"
#include "jose/jose_int.h"

#define X509_CA_CN "authflowd local CA"
/* A random serial of this many octets (RFC 5280 §4.1.2.2 allows 20; the
 * top bit is cleared so that it stays positive). Browsers refuse two
 * certificates with one issuer and serial, and every start makes one. */
#define X509_SERIAL_LEN 16

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1; /* encrypted keys are refused, not prompted for */
}

/* read_text: the whole of path as a string of at most AF_X509_PEM_MAX
 * bytes, into OPENSSL_malloc'd memory (it may hold a private key: the
 * caller frees with af_x509_secret_free). what names the file's role in
 * messages. */
static af_rc read_text(const char *path, const char *what, char **out, struct af_err *err)
{
    af_rc rc = AF_OK;
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    size_t len;

    *out = NULL;
    if (f == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_IO, "cannot open the %s %s: %s", what, path, strerror(errno));
        goto out;
    }
    data = OPENSSL_zalloc(AF_X509_PEM_MAX + 2);
    if (data == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory reading %s", path);
        goto out;
    }
    len = fread(data, 1, AF_X509_PEM_MAX + 1, f);
    if (ferror(f)) {
        rc = AF_ERR_SET(err, AF_ERR_IO, "cannot read the %s %s", what, path);
        goto out;
    }
    if (len > AF_X509_PEM_MAX) {
        rc = AF_ERR_SET(err, AF_ERR_TOOBIG, "the %s %s is larger than %d bytes", what, path,
                        AF_X509_PEM_MAX);
        goto out;
    }
    data[len] = '\0';
    *out = data;
    data = NULL;
out:
    if (f != NULL)
        fclose(f);
    af_x509_secret_free(data);
    return rc;
}

/* cert_parse: the first certificate of PEM text. NULL when there is none. */
static X509 *cert_parse(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = bio != NULL ? PEM_read_bio_X509(bio, NULL, no_passphrase, NULL) : NULL;
    BIO_free(bio);
    return x;
}

/* cert_pem: x as PEM text. Caller frees with free(). */
static af_rc cert_pem(X509 *x, char **out)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n;
    af_rc rc = AF_ERR_CRYPTO;

    *out = NULL;
    if (bio == NULL) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    if (PEM_write_bio_X509(bio, x) != 1)
        goto out;
    n = BIO_get_mem_data(bio, &data);
    if (n <= 0)
        goto out;
    *out = strndup(data, (size_t)n);
    rc = *out != NULL ? AF_OK : AF_ERR_NOMEM;
out:
    BIO_free(bio);
    return rc;
}

/* expired: true when x's notAfter has passed (or cannot be read). */
static bool expired(const X509 *x)
{
    return X509_cmp_current_time(X509_get0_notAfter(x)) <= 0;
}

void af_x509_secret_free(char *s)
{
    if (s != NULL)
        OPENSSL_clear_free(s, strlen(s));
}

af_rc af_key_private_pem(const struct af_key *key, char **out)
{
    BIO *bio = NULL;
    char *data = NULL;
    long n;
    af_rc rc = AF_ERR_CRYPTO;

    *out = NULL;
    if (key->pkey == NULL || !key->has_private) {
        rc = AF_ERR_INVALID;
        goto out;
    }
    bio = BIO_new(BIO_s_secmem());
    if (bio == NULL) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    if (PEM_write_bio_PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL) != 1)
        goto out;
    n = BIO_get_mem_data(bio, &data);
    if (n <= 0)
        goto out;
    *out = OPENSSL_zalloc((size_t)n + 1);
    if (*out == NULL) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    memcpy(*out, data, (size_t)n);
    rc = AF_OK;
out:
    BIO_free(bio);
    return rc;
}

af_rc af_x509_load_pair(const char *cert_file, const char *key_file, char **cert_text,
                        char **key_text, struct af_err *err)
{
    af_rc rc;
    char *cert = NULL, *key = NULL;
    X509 *x = NULL;
    EVP_PKEY *pkey = NULL;
    BIO *bio = NULL;
    char why[256];

    *cert_text = NULL;
    *key_text = NULL;
    rc = read_text(cert_file, "certificate file", &cert, err);
    if (rc != AF_OK)
        goto out;
    rc = read_text(key_file, "key file", &key, err);
    if (rc != AF_OK)
        goto out;
    x = cert_parse(cert);
    if (x == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_PARSE, "%s holds no PEM certificate: %s", cert_file,
                        af_jose_ossl_reason(why, sizeof(why)));
        goto out;
    }
    bio = BIO_new_mem_buf(key, -1);
    pkey = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
    if (pkey == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_PARSE, "%s holds no unencrypted PEM private key: %s", key_file,
                        af_jose_ossl_reason(why, sizeof(why)));
        goto out;
    }
    if (X509_check_private_key(x, pkey) != 1) {
        af_jose_ossl_reason(why, sizeof(why)); /* empties OpenSSL's error queue */
        rc =
            AF_ERR_SET(err, AF_ERR_INVALID, "the key in %s is not the key of the certificate in %s",
                       key_file, cert_file);
        goto out;
    }
    if (expired(x)) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "the certificate in %s has expired", cert_file);
        goto out;
    }
    /* the file's own text: GnuTLS reads the whole chain from it */
    *cert_text = strdup(cert);
    if (*cert_text == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory");
        goto out;
    }
    *key_text = key;
    key = NULL;
out:
    X509_free(x);
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    af_x509_secret_free(cert);
    af_x509_secret_free(key);
    return rc;
}

/* add_ext: the extension nid with value (OpenSSL's config syntax, a fixed
 * string here, never user input) on x, with issuer and subject certs for
 * the key identifiers. */
static bool add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    bool ok;

    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    ok = ext != NULL && X509_add_ext(x, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok;
}

/* cert_new: a v3 certificate of pkey with a random serial and subject CN=cn,
 * valid from a minute ago (clock skew) for lifetime seconds. */
static X509 *cert_new(EVP_PKEY *pkey, const char *cn, long lifetime)
{
    X509 *x = X509_new();
    unsigned char serial[X509_SERIAL_LEN];
    BIGNUM *bn = NULL;
    bool ok = false;

    if (x == NULL || RAND_bytes(serial, sizeof(serial)) != 1)
        goto out;
    serial[0] &= 0x7f;
    serial[0] |= 0x01; /* never zero, never shorter than asked */
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    ok = bn != NULL && X509_set_version(x, 2) == 1 &&
         BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL &&
         X509_gmtime_adj(X509_getm_notBefore(x), -60) != NULL &&
         X509_gmtime_adj(X509_getm_notAfter(x), lifetime) != NULL &&
         X509_set_pubkey(x, pkey) == 1 &&
         X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
                                    (const unsigned char *)cn, -1, -1, 0) == 1;
out:
    BN_free(bn);
    if (!ok) {
        X509_free(x);
        x = NULL;
    }
    return x;
}

/* ca_make: a fresh self-signed CA certificate for ca_key, as PEM. */
static af_rc ca_make(const struct af_key *ca_key, char **out, struct af_err *err)
{
    X509 *x = cert_new(ca_key->pkey, X509_CA_CN, AF_X509_CA_LIFETIME);
    af_rc rc = AF_ERR_CRYPTO;

    *out = NULL;
    if (x == NULL || X509_set_issuer_name(x, X509_get_subject_name(x)) != 1 ||
        !add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
        !add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
        !add_ext(x, x, NID_subject_key_identifier, "hash") ||
        X509_sign(x, ca_key->pkey, EVP_sha256()) <= 0)
        goto out;
    rc = cert_pem(x, out);
out:
    if (rc != AF_OK)
        AF_ERR_SET(err, rc, "cannot make the local CA certificate");
    X509_free(x);
    return rc;
}

af_rc af_x509_ca_load_or_create(const char *cert_path, const char *key_path, struct af_key **ca_key,
                                char **ca_pem, bool *created, struct af_err *err)
{
    af_rc rc;
    struct af_key *key = NULL;
    char *pem = NULL;
    X509 *x = NULL;
    bool key_created = false, lost = false;

    *ca_key = NULL;
    *ca_pem = NULL;
    *created = false;
    rc = af_key_load_or_create(key_path, AF_ALG_ES256, &key, &key_created, err);
    if (rc != AF_OK)
        goto out;
    if (access(cert_path, F_OK) != 0 && errno == ENOENT) {
        rc = ca_make(key, &pem, err);
        if (rc != AF_OK)
            goto out;
        rc = af_jose_file_publish(cert_path, pem, strlen(pem), &lost, err);
        if (rc != AF_OK)
            goto out;
        *created = !lost;
        if (!lost)
            goto done;
        free(pem); /* another process wrote one first: load it */
        pem = NULL;
    }
    rc = read_text(cert_path, "CA certificate file", &pem, err);
    if (rc != AF_OK)
        goto out;
    x = cert_parse(pem);
    if (x == NULL || X509_check_private_key(x, key->pkey) != 1) {
        char why[64];
        af_jose_ossl_reason(why, sizeof(why)); /* empties OpenSSL's error queue */
        rc = AF_ERR_SET(err, AF_ERR_INVALID,
                        "%s does not hold the certificate of the CA key in %s (authflowd never "
                        "overwrites them: move both away to have a new CA made)",
                        cert_path, key_path);
        goto out;
    }
    if (expired(x)) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID,
                        "the CA certificate %s has expired (move it and %s away to have a new CA "
                        "made)",
                        cert_path, key_path);
        goto out;
    }
    {
        /* read_text's memory is OpenSSL's: hand the caller a malloc'd copy */
        char *copy = strdup(pem);
        af_x509_secret_free(pem);
        pem = copy;
        if (pem == NULL) {
            rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
done:
    *ca_key = key;
    key = NULL;
    *ca_pem = pem;
    pem = NULL;
out:
    X509_free(x);
    af_key_free(key);
    free(pem);
    return rc;
}

/* dns_name_ok: letters, digits, '-' and '.', with an optional leading
 * "*."; not empty. */
static bool dns_name_ok(const char *s)
{
    if (strncmp(s, "*.", 2) == 0)
        s += 2;
    if (*s == '\0' || *s == '.')
        return false;
    for (; *s != '\0'; s++) {
        bool ok = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                  (*s >= '0' && *s <= '9') || *s == '-' || *s == '.';
        if (!ok)
            return false;
    }
    return true;
}

/* san_add: names as GENERAL_NAMEs (built directly, never through
 * OpenSSL's "DNS:a,IP:b" text, so that no name can smuggle in another). */
static af_rc san_add(X509 *x, const char *const *names, size_t n, struct af_err *err)
{
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    af_rc rc = AF_ERR_CRYPTO;
    size_t i;

    if (gens == NULL)
        return AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory");
    for (i = 0; i < n; i++) {
        unsigned char ip[16];
        GENERAL_NAME *g = NULL;
        int len = 0;

        if (inet_pton(AF_INET, names[i], ip) == 1)
            len = 4;
        else if (inet_pton(AF_INET6, names[i], ip) == 1)
            len = 16;
        if (len > 0) {
            ASN1_OCTET_STRING *o = ASN1_OCTET_STRING_new();
            if (o == NULL || ASN1_OCTET_STRING_set(o, ip, len) != 1) {
                ASN1_OCTET_STRING_free(o);
                goto out;
            }
            g = GENERAL_NAME_new();
            if (g == NULL) {
                ASN1_OCTET_STRING_free(o);
                goto out;
            }
            GENERAL_NAME_set0_value(g, GEN_IPADD, o);
        } else if (dns_name_ok(names[i])) {
            ASN1_IA5STRING *s = ASN1_IA5STRING_new();
            if (s == NULL || ASN1_STRING_set(s, names[i], -1) != 1) {
                ASN1_IA5STRING_free(s);
                goto out;
            }
            g = GENERAL_NAME_new();
            if (g == NULL) {
                ASN1_IA5STRING_free(s);
                goto out;
            }
            GENERAL_NAME_set0_value(g, GEN_DNS, s);
        } else {
            rc = AF_ERR_SET(err, AF_ERR_INVALID,
                            "%s is neither an IP address nor a DNS name a certificate can carry",
                            names[i]);
            goto out;
        }
        if (sk_GENERAL_NAME_push(gens, g) == 0) {
            GENERAL_NAME_free(g);
            goto out;
        }
    }
    if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, 0) != 1)
        goto out;
    rc = AF_OK;
out:
    if (rc == AF_ERR_CRYPTO)
        AF_ERR_SET(err, rc, "cannot write the certificate's names");
    GENERAL_NAMES_free(gens);
    return rc;
}

af_rc af_x509_issue(const struct af_key *ca_key, const char *ca_pem, const struct af_key *leaf,
                    const char *const *names, size_t n, long lifetime, char **out,
                    struct af_err *err)
{
    af_rc rc;
    X509 *ca = NULL, *x = NULL;

    *out = NULL;
    if (n == 0 || n > AF_X509_MAX_NAMES || lifetime <= 0 || leaf->pkey == NULL ||
        ca_key->pkey == NULL || !ca_key->has_private) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "a server certificate needs 1 to %d names",
                        AF_X509_MAX_NAMES);
        goto out;
    }
    ca = cert_parse(ca_pem);
    x = cert_new(leaf->pkey, names[0], lifetime);
    if (ca == NULL || x == NULL || X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1) {
        rc = AF_ERR_SET(err, AF_ERR_CRYPTO, "cannot make the server certificate");
        goto out;
    }
    rc = san_add(x, names, n, err);
    if (rc != AF_OK)
        goto out;
    if (!add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") ||
        !add_ext(x, ca, NID_key_usage, "critical,digitalSignature") ||
        !add_ext(x, ca, NID_ext_key_usage, "serverAuth") ||
        !add_ext(x, ca, NID_subject_key_identifier, "hash") ||
        !add_ext(x, ca, NID_authority_key_identifier, "keyid:always") ||
        X509_sign(x, ca_key->pkey, EVP_sha256()) <= 0) {
        rc = AF_ERR_SET(err, AF_ERR_CRYPTO, "cannot sign the server certificate");
        goto out;
    }
    rc = cert_pem(x, out);
    if (rc != AF_OK)
        AF_ERR_SET(err, rc, "cannot encode the server certificate");
out:
    X509_free(ca);
    X509_free(x);
    return rc;
}
