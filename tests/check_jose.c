/*
 * check_jose.c - unit tests of the JOSE module (src/jose/): RFC vectors,
 * round trips checked independently with raw OpenSSL, and the negative
 * cases a verifier must refuse.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include "authflow/jose.h"
#include "authflow/util.h"
#include "jose/jose_int.h"

/* ---- RFC test vectors ---- */

/* RFC 7515 Appendix A.1-A.3: the payload, with its CR LF and spaces. */
#define RFC7515_PAYLOAD                                                                            \
    "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}"
#define RFC7515_PAYLOAD_B64                                                                        \
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl" \
    "fQ"

/* RFC 7515 Appendix A.1: HS256. */
#define A1_K                                                                                       \
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
#define A1_HEADER_B64 "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
#define A1_SIG        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define A1_JWS        A1_HEADER_B64 "." RFC7515_PAYLOAD_B64 "." A1_SIG

/* RFC 7515 Appendix A.2: RS256 (a 2048-bit key). */
#define A2_N                                                                                       \
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-"                        \
    "4qPCJrcS2mJPMEzP1Pt0Bm4d4"                                                                    \
    "QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-"                       \
    "bSf63kpaSHSXndS5z5rexMdb"                                                                     \
    "BYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_"                   \
    "I5IhlJH7aGhyxXFvUK-D"                                                                         \
    "WNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
#define A2_E "AQAB"
#define A2_D                                                                                       \
    "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-"           \
    "7YwVol2NXOoA"                                                                                 \
    "Je46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_"      \
    "V51gfpR"                                                                                      \
    "LI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_"          \
    "jTj3ccPDVZF"                                                                                  \
    "D9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ"
#define A2_P                                                                                       \
    "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_"     \
    "Py5PJd"                                                                                       \
    "TJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc"
#define A2_Q                                                                                       \
    "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-"                                                               \
    "7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_"                             \
    "YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc"
#define A2_DP                                                                                      \
    "BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBfpT_PI7Yz-"        \
    "FOKnu1R6H"                                                                                    \
    "sJeDCjn12Sk3vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0"
#define A2_DQ                                                                                      \
    "h_96-mK1R_"                                                                                   \
    "7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrmI2oKr6N3Do9U0ajaHF"         \
    "-NKJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU"
#define A2_QI                                                                                      \
    "IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd_"             \
    "QJQ3ydy5cY7YIB"                                                                               \
    "i87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U"
#define A2_HEADER_B64 "eyJhbGciOiJSUzI1NiJ9"
#define A2_SIG                                                                                     \
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_"        \
    "O8W2Fp5ju"                                                                                    \
    "jGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_"                                             \
    "nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07"                                               \
    "Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-"                                                  \
    "eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipU"                                          \
    "TI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"
#define A2_JWS A2_HEADER_B64 "." RFC7515_PAYLOAD_B64 "." A2_SIG

/* RFC 7515 Appendix A.3: ES256. */
#define A3_X          "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
#define A3_Y          "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
#define A3_D          "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"
#define A3_HEADER_B64 "eyJhbGciOiJFUzI1NiJ9"
#define A3_SIG                                                                                     \
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
#define A3_JWS A3_HEADER_B64 "." RFC7515_PAYLOAD_B64 "." A3_SIG

/* RFC 8037 Appendix A.1 (key), A.3 (thumbprint), A.4 (signature). */
#define E_D     "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
#define E_X     "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define E_THUMB "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
#define E_INPUT "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
#define E_SIG                                                                                      \
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
#define E_JWS     E_INPUT "." E_SIG
#define E_PAYLOAD "Example of Ed25519 signing"

/* RFC 7638 §3.1: the example RSA key and its thumbprint. */
#define T_N                                                                                        \
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"      \
    "BJECPeb"                                                                                      \
    "WKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"            \
    "FDW2QvzqY368Q"                                                                                \
    "QMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"                         \
    "bFTWhAI4vMQFh6WeZu0fM4lFd2"                                                                   \
    "NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
#define T_THUMB "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

#define JWK_A1 "{\"kty\":\"oct\",\"k\":\"" A1_K "\"}"
#define JWK_A2 "{\"kty\":\"RSA\",\"n\":\"" A2_N "\",\"e\":\"AQAB\"}"
#define JWK_A3 "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}"
#define JWK_E  "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" E_X "\"}"
#define JWK_T                                                                                      \
    "{\"kty\":\"RSA\",\"n\":\"" T_N "\",\"e\":\"AQAB\",\"alg\":\"RS256\",\"kid\":\"2011-04-29\"}"

/* ---- helpers ---- */

static char *b64u(const void *d, size_t len)
{
    struct af_buf b;
    char *s;
    af_buf_init(&b, 1 << 20);
    ck_assert_int_eq(af_b64url_encode(&b, d, len), AF_OK);
    s = af_buf_detach(&b);
    ck_assert_ptr_nonnull(s);
    return s;
}

/* b64d: decode s[0..len) into a fresh buffer the caller frees. */
static void b64d(const char *s, size_t len, struct af_buf *out)
{
    af_buf_init(out, 1 << 20);
    ck_assert_int_eq(af_b64url_decode(out, s, len), AF_OK);
}

static json_t *json_of(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    ck_assert_msg(j != NULL, "test JSON does not parse: %s", e.text);
    return j;
}

static BIGNUM *bn_b64(const char *s)
{
    struct af_buf b;
    BIGNUM *bn;
    b64d(s, strlen(s), &b);
    bn = BN_bin2bn((const unsigned char *)b.p, (int)b.len, NULL);
    ck_assert_ptr_nonnull(bn);
    af_buf_free(&b);
    return bn;
}

/* pem_path: write pkey as unencrypted PKCS#8 PEM into a fresh temporary
 * file (or encrypted under pass when pass is not NULL). Caller unlinks. */
static char *pem_path(EVP_PKEY *pkey, const char *pass)
{
    const char *dir = getenv("TMPDIR");
    char path[512];
    FILE *f;
    int fd;

    snprintf(path, sizeof(path), "%s/af_check_jose_XXXXXX", dir && *dir ? dir : "/tmp");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    f = fdopen(fd, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(PEM_write_PrivateKey(f, pkey, pass ? EVP_aes_128_cbc() : NULL,
                                          (const unsigned char *)pass, pass ? (int)strlen(pass) : 0,
                                          NULL, NULL),
                     1);
    fclose(f);
    return strdup(path);
}

static af_rc load_key_rc(EVP_PKEY *pkey, af_alg alg, struct af_key **out, struct af_err *err)
{
    char *path = pem_path(pkey, NULL);
    af_rc rc = af_key_load_pem(path, alg, out, err);
    unlink(path);
    free(path);
    return rc;
}

static struct af_key *load_key(EVP_PKEY *pkey, af_alg alg)
{
    struct af_key *key = NULL;
    struct af_err err;
    af_err_clear(&err);
    ck_assert_msg(load_key_rc(pkey, alg, &key, &err) == AF_OK, "load %s: %s", af_alg_name(alg),
                  err.msg);
    return key;
}

static EVP_PKEY *gen_pkey(af_alg alg)
{
    EVP_PKEY *p = NULL;
    switch (alg) {
    case AF_ALG_RS256:
    case AF_ALG_PS256:
        p = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        break;
    case AF_ALG_ES256:
        p = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        break;
    case AF_ALG_EDDSA:
        p = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        break;
    default:
        break;
    }
    ck_assert_ptr_nonnull(p);
    return p;
}

static EVP_PKEY *fromdata(const char *type, OSSL_PARAM *params)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *p = NULL;
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(EVP_PKEY_fromdata_init(ctx), 1);
    ck_assert_int_eq(EVP_PKEY_fromdata(ctx, &p, EVP_PKEY_KEYPAIR, params), 1);
    EVP_PKEY_CTX_free(ctx);
    return p;
}

/* The RFC 7515 A.2 RSA private key. */
static EVP_PKEY *rfc7515_a2_pkey(void)
{
    static const struct {
        const char *param, *b64;
    } parts[] = {
        {OSSL_PKEY_PARAM_RSA_N, A2_N},          {OSSL_PKEY_PARAM_RSA_E, A2_E},
        {OSSL_PKEY_PARAM_RSA_D, A2_D},          {OSSL_PKEY_PARAM_RSA_FACTOR1, A2_P},
        {OSSL_PKEY_PARAM_RSA_FACTOR2, A2_Q},    {OSSL_PKEY_PARAM_RSA_EXPONENT1, A2_DP},
        {OSSL_PKEY_PARAM_RSA_EXPONENT2, A2_DQ}, {OSSL_PKEY_PARAM_RSA_COEFFICIENT1, A2_QI},
    };
    BIGNUM *bn[sizeof(parts) / sizeof(parts[0])];
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params;
    EVP_PKEY *p;
    size_t i;

    for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        bn[i] = bn_b64(parts[i].b64);
        ck_assert_int_eq(OSSL_PARAM_BLD_push_BN(bld, parts[i].param, bn[i]), 1);
    }
    params = OSSL_PARAM_BLD_to_param(bld);
    ck_assert_ptr_nonnull(params);
    p = fromdata("RSA", params);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        BN_free(bn[i]);
    return p;
}

/* The RFC 7515 A.3 P-256 private key. */
static EVP_PKEY *rfc7515_a3_pkey(void)
{
    unsigned char pub[65];
    char group[] = "prime256v1";
    struct af_buf x, y;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params;
    BIGNUM *d = bn_b64(A3_D);
    EVP_PKEY *p;

    b64d(A3_X, strlen(A3_X), &x);
    b64d(A3_Y, strlen(A3_Y), &y);
    ck_assert_uint_eq(x.len, 32);
    ck_assert_uint_eq(y.len, 32);
    pub[0] = 0x04;
    memcpy(pub + 1, x.p, 32);
    memcpy(pub + 33, y.p, 32);
    ck_assert_int_eq(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0), 1);
    ck_assert_int_eq(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 65), 1);
    ck_assert_int_eq(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d), 1);
    params = OSSL_PARAM_BLD_to_param(bld);
    ck_assert_ptr_nonnull(params);
    p = fromdata("EC", params);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(d);
    af_buf_free(&x);
    af_buf_free(&y);
    return p;
}

/* The RFC 8037 A.1 Ed25519 private key. */
static EVP_PKEY *rfc8037_pkey(void)
{
    struct af_buf d;
    EVP_PKEY *p;
    b64d(E_D, strlen(E_D), &d);
    ck_assert_uint_eq(d.len, 32);
    p = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, (const unsigned char *)d.p, d.len);
    ck_assert_ptr_nonnull(p);
    af_buf_free(&d);
    return p;
}

/* rfc_key: the RFC private key for alg as an af_key (HS256: the A.1 oct
 * key), plus the EVP_PKEY in *pkey (NULL for HS256) for the caller to free. */
static struct af_key *rfc_key(af_alg alg, EVP_PKEY **pkey)
{
    struct af_key *key = NULL;
    struct af_buf k;

    *pkey = NULL;
    switch (alg) {
    case AF_ALG_HS256:
        b64d(A1_K, strlen(A1_K), &k);
        ck_assert_int_eq(af_key_from_secret((const unsigned char *)k.p, k.len, &key, NULL), AF_OK);
        af_buf_free(&k);
        return key;
    case AF_ALG_RS256:
        *pkey = rfc7515_a2_pkey();
        break;
    case AF_ALG_ES256:
        *pkey = rfc7515_a3_pkey();
        break;
    case AF_ALG_EDDSA:
        *pkey = rfc8037_pkey();
        break;
    default:
        ck_abort_msg("no RFC key for %s", af_alg_name(alg));
    }
    return load_key(*pkey, alg);
}

/* ossl_verify: verify a JWS signature with raw OpenSSL calls only, as an
 * independent check of what the module produced. ES256 raw R||S is turned
 * into DER here. */
static int ossl_verify(EVP_PKEY *pkey, af_alg alg, const void *in, size_t inlen,
                       const unsigned char *sig, size_t siglen)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *der = NULL;
    ECDSA_SIG *es;
    int ok = 1, n;

    if (alg == AF_ALG_ES256) {
        if (siglen != 64) {
            ok = 0;
        } else {
            es = ECDSA_SIG_new();
            ck_assert_int_eq(
                ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL)), 1);
            n = i2d_ECDSA_SIG(es, &der);
            ck_assert_int_gt(n, 0);
            ECDSA_SIG_free(es);
            sig = der;
            siglen = (size_t)n;
        }
    }
    if (ok)
        ok = EVP_DigestVerifyInit(md, &pctx, alg == AF_ALG_EDDSA ? NULL : EVP_sha256(), NULL,
                                  pkey) == 1;
    if (ok && alg == AF_ALG_PS256)
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) > 0 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0;
    if (ok)
        ok = EVP_DigestVerify(md, sig, siglen, in, inlen) == 1;
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    ERR_clear_error();
    return ok;
}

/* dots: the offsets of the two dots of a compact JWS. */
static void dots(const char *tok, size_t *d1, size_t *d2)
{
    const char *a = strchr(tok, '.');
    const char *b;
    ck_assert_ptr_nonnull(a);
    b = strchr(a + 1, '.');
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_null(strchr(b + 1, '.'));
    *d1 = (size_t)(a - tok);
    *d2 = (size_t)(b - tok);
}

static af_rc parse_verify(const char *tok, const struct af_key *key, struct af_err *err)
{
    struct af_jws *jws = NULL;
    af_rc rc = af_jws_parse(tok, &jws, err);
    if (rc == AF_OK)
        rc = af_jws_verify(jws, key, err);
    af_jws_free(jws);
    return rc;
}

/* flip: a copy of tok with the character at i replaced by another one of
 * the base64url alphabet that keeps the encoding canonical (both have their
 * low bits clear or the position is a full sextet). */
static char *flip(const char *tok, size_t i)
{
    char *t = strdup(tok);
    ck_assert_ptr_nonnull(t);
    t[i] = t[i] == 'A' ? 'Q' : 'A';
    return t;
}

static const af_alg all_algs[] = {AF_ALG_RS256, AF_ALG_PS256, AF_ALG_ES256, AF_ALG_HS256,
                                  AF_ALG_EDDSA};
#define N_ALGS ((int)(sizeof(all_algs) / sizeof(all_algs[0])))

/* ---- algorithm names ---- */

static const struct {
    const char *name;
    af_rc rc;
    af_alg alg;
} alg_cases[] = {
    /* RFC 7518 §3.1 and RFC 8037 §3.1 names, exact and case-sensitive */
    {"RS256", AF_OK, AF_ALG_RS256}, {"PS256", AF_OK, AF_ALG_PS256}, {"ES256", AF_OK, AF_ALG_ES256},
    {"HS256", AF_OK, AF_ALG_HS256}, {"EdDSA", AF_OK, AF_ALG_EDDSA}, {"none", AF_OK, AF_ALG_NONE},
    {"rs256", AF_ERR_INVALID, 0},   {"NONE", AF_ERR_INVALID, 0},    {"nOnE", AF_ERR_INVALID, 0},
    {"HS512", AF_ERR_INVALID, 0},   {"RS256 ", AF_ERR_INVALID, 0},  {"", AF_ERR_INVALID, 0},
    {"unknown", AF_ERR_INVALID, 0},
};

START_TEST(test_alg_parse)
{
    af_alg alg = AF_ALG_UNKNOWN;
    ck_assert_int_eq(af_alg_parse(alg_cases[_i].name, &alg), alg_cases[_i].rc);
    if (alg_cases[_i].rc == AF_OK) {
        ck_assert_int_eq(alg, alg_cases[_i].alg);
        ck_assert_str_eq(af_alg_name(alg), alg_cases[_i].name);
    }
}
END_TEST

START_TEST(test_alg_name_never_null)
{
    ck_assert_str_eq(af_alg_name(AF_ALG_UNKNOWN), "unknown");
    ck_assert_str_eq(af_alg_name((af_alg)99), "unknown");
    ck_assert_int_eq(af_alg_parse(NULL, &(af_alg){0}), AF_ERR_INVALID);
}
END_TEST

/* ---- RFC 7638 thumbprints ---- */

static const struct {
    const char *section;
    const char *jwk;
    const char *canonical; /* the RFC 7638 §3.3 input, to hash independently */
    const char *thumb;     /* the published value, or NULL */
    const char *kid;       /* expected af_key_kid, NULL = the thumbprint */
} thumb_cases[] = {
    {"RFC 7638 §3.1", JWK_T, "{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"" T_N "\"}", T_THUMB,
     "2011-04-29"},
    {"RFC 8037 A.3", JWK_E, "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"" E_X "\"}", E_THUMB,
     NULL},
    {"RFC 7638 §3.2 (EC members), RFC 7515 A.3 key", JWK_A3,
     "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}", NULL, NULL},
    {"RFC 7638 §3.2 (oct members), RFC 7515 A.1 key", JWK_A1,
     "{\"k\":\"" A1_K "\",\"kty\":\"oct\"}", NULL, NULL},
    {"RFC 7638 §3.2: optional members do not count",
     "{\"use\":\"sig\",\"alg\":\"RS256\",\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"" T_N "\"}",
     "{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"" T_N "\"}", T_THUMB, NULL},
};

START_TEST(test_thumbprint)
{
    unsigned char md[32];
    struct af_key *key = NULL;
    struct af_err err;
    char *thumb = NULL, *want;
    json_t *jwk = json_of(thumb_cases[_i].jwk);

    af_err_clear(&err);
    ck_assert_msg(af_key_from_jwk(jwk, &key, &err) == AF_OK, "%s: %s", thumb_cases[_i].section,
                  err.msg);
    ck_assert_int_eq(af_key_thumbprint(key, &thumb), AF_OK);
    SHA256((const unsigned char *)thumb_cases[_i].canonical, strlen(thumb_cases[_i].canonical), md);
    want = b64u(md, sizeof(md));
    ck_assert_msg(strcmp(thumb, want) == 0, "%s: thumbprint %s, independent %s",
                  thumb_cases[_i].section, thumb, want);
    if (thumb_cases[_i].thumb)
        ck_assert_str_eq(thumb, thumb_cases[_i].thumb);
    ck_assert_str_eq(af_key_kid(key), thumb_cases[_i].kid ? thumb_cases[_i].kid : thumb);
    free(want);
    free(thumb);
    af_key_free(key);
    json_decref(jwk);
}
END_TEST

/* ---- published JWS vectors: verify ---- */

static const struct {
    const char *section;
    const char *jwk;
    const char *compact;
    const char *alg;
    const char *payload;
    int json; /* the payload is a JSON object */
} vec_cases[] = {
    {"RFC 7515 A.1 (HS256)", JWK_A1, A1_JWS, "HS256", RFC7515_PAYLOAD, 1},
    {"RFC 7515 A.2 (RS256)", JWK_A2, A2_JWS, "RS256", RFC7515_PAYLOAD, 1},
    {"RFC 7515 A.3 (ES256)", JWK_A3, A3_JWS, "ES256", RFC7515_PAYLOAD, 1},
    {"RFC 8037 A.4/A.5 (EdDSA)", JWK_E, E_JWS, "EdDSA", E_PAYLOAD, 0},
};

START_TEST(test_vector_verify)
{
    const char *tok = vec_cases[_i].compact;
    const unsigned char *pl;
    const json_t *claims;
    struct af_jws *jws = NULL;
    struct af_key *key = NULL;
    struct af_err err;
    json_t *jwk = json_of(vec_cases[_i].jwk);
    size_t len, d1, d2;
    char *bad;

    af_err_clear(&err);
    ck_assert_msg(af_key_from_jwk(jwk, &key, &err) == AF_OK, "%s: %s", vec_cases[_i].section,
                  err.msg);
    ck_assert_str_eq(af_alg_name(af_key_alg(key)), vec_cases[_i].alg);
    ck_assert_msg(af_jws_parse(tok, &jws, &err) == AF_OK, "%s: %s", vec_cases[_i].section, err.msg);
    ck_assert_str_eq(af_jws_alg_str(jws), vec_cases[_i].alg);
    ck_assert_msg(af_jws_verify(jws, key, &err) == AF_OK, "%s: %s", vec_cases[_i].section, err.msg);
    pl = af_jws_payload(jws, &len);
    ck_assert_uint_eq(len, strlen(vec_cases[_i].payload));
    ck_assert_mem_eq(pl, vec_cases[_i].payload, len);
    claims = af_jws_claims(jws);
    if (vec_cases[_i].json) {
        ck_assert_ptr_nonnull(claims);
        ck_assert_str_eq(json_string_value(json_object_get(claims, "iss")), "joe");
        ck_assert_int_eq(json_integer_value(json_object_get(claims, "exp")), 1300819380);
    } else {
        ck_assert_ptr_null(claims);
    }
    af_jws_free(jws);

    /* The same vector with one payload or signature character changed. */
    dots(tok, &d1, &d2);
    bad = flip(tok, d1 + 1);
    ck_assert_int_eq(parse_verify(bad, key, &err), AF_ERR_CRYPTO);
    free(bad);
    bad = flip(tok, d2 + 1);
    ck_assert_int_eq(parse_verify(bad, key, &err), AF_ERR_CRYPTO);
    ck_assert_msg(strstr(err.msg, "verify") != NULL, "message: %s", err.msg);
    free(bad);
    af_key_free(key);
    json_decref(jwk);
}
END_TEST

/* ---- published signatures: reproduce with the RFC private keys ---- */

static const struct {
    const char *section;
    af_alg alg;
    const char *input;
    const char *sig; /* NULL: not deterministic, verified instead */
    const char *pub; /* the public JWK of the vector */
} kat_cases[] = {
    {"RFC 7515 A.1.1 (HS256)", AF_ALG_HS256, A1_HEADER_B64 "." RFC7515_PAYLOAD_B64, A1_SIG, JWK_A1},
    {"RFC 7515 A.2.1 (RS256, deterministic PKCS#1 v1.5)", AF_ALG_RS256,
     A2_HEADER_B64 "." RFC7515_PAYLOAD_B64, A2_SIG, JWK_A2},
    {"RFC 8037 A.4 (Ed25519 is deterministic)", AF_ALG_EDDSA, E_INPUT, E_SIG, JWK_E},
    {"RFC 7515 A.3.1 (ES256, randomised)", AF_ALG_ES256, A3_HEADER_B64 "." RFC7515_PAYLOAD_B64,
     NULL, JWK_A3},
};

START_TEST(test_vector_sign)
{
    const char *in = kat_cases[_i].input;
    struct af_key *key, *pub = NULL;
    EVP_PKEY *pkey = NULL;
    struct af_err err;
    struct af_buf sig;
    json_t *jwk = json_of(kat_cases[_i].pub);
    char *s, *tok;

    af_err_clear(&err);
    key = rfc_key(kat_cases[_i].alg, &pkey);
    af_buf_init(&sig, AF_JOSE_SIG_MAX);
    ck_assert_msg(af_jose_sign_input(key, (const unsigned char *)in, strlen(in), &sig, &err) ==
                      AF_OK,
                  "%s: %s", kat_cases[_i].section, err.msg);
    s = b64u(sig.p, sig.len);
    if (kat_cases[_i].sig != NULL)
        ck_assert_str_eq(s, kat_cases[_i].sig);
    if (pkey != NULL)
        ck_assert(ossl_verify(pkey, kat_cases[_i].alg, in, strlen(in), (const unsigned char *)sig.p,
                              sig.len));
    /* and the RFC's public JWK accepts what the RFC's private key made */
    ck_assert_int_eq(af_key_from_jwk(jwk, &pub, &err), AF_OK);
    ck_assert_int_ne(asprintf(&tok, "%s.%s", in, s), -1);
    ck_assert_msg(parse_verify(tok, pub, &err) == AF_OK, "%s: %s", kat_cases[_i].section, err.msg);
    free(tok);
    free(s);
    af_buf_free(&sig);
    af_key_free(pub);
    af_key_free(key);
    EVP_PKEY_free(pkey);
    json_decref(jwk);
}
END_TEST

START_TEST(test_rfc8037_key_thumbprint_as_kid)
{
    /* RFC 8037 A.3: the kid of a loaded private key is its public
     * thumbprint, and the exported public JWK is A.2's. */
    EVP_PKEY *pkey = NULL;
    struct af_key *key = rfc_key(AF_ALG_EDDSA, &pkey);
    json_t *jwk = NULL;

    ck_assert_str_eq(af_key_kid(key), E_THUMB);
    ck_assert_int_eq(af_key_public_jwk(key, &jwk), AF_OK);
    ck_assert_str_eq(json_string_value(json_object_get(jwk, "x")), E_X);
    ck_assert_str_eq(json_string_value(json_object_get(jwk, "crv")), "Ed25519");
    ck_assert_str_eq(json_string_value(json_object_get(jwk, "kty")), "OKP");
    ck_assert_ptr_null(json_object_get(jwk, "d"));
    json_decref(jwk);
    af_key_free(key);
    EVP_PKEY_free(pkey);
}
END_TEST

/* ---- round trips, verified independently ---- */

START_TEST(test_roundtrip_independent)
{
    af_alg alg = all_algs[_i];
    unsigned char secret[32], mac[32];
    unsigned int maclen = 0;
    struct af_buf hdr, pl, sig;
    struct af_key *key = NULL;
    EVP_PKEY *pkey = NULL;
    struct af_err err;
    json_t *claims = json_of("{\"sub\":\"alice\",\"n\":1,\"s\":\"caf\\u00e9\"}");
    json_t *h;
    char *tok = NULL, *want;
    size_t d1, d2;

    af_err_clear(&err);
    if (alg == AF_ALG_HS256) {
        ck_assert_int_eq(RAND_bytes(secret, sizeof(secret)), 1);
        ck_assert_int_eq(af_key_from_secret(secret, sizeof(secret), &key, &err), AF_OK);
    } else {
        pkey = gen_pkey(alg);
        key = load_key(pkey, alg);
    }
    ck_assert_msg(af_jwt_sign(key, "JWT", claims, &tok, &err) == AF_OK, "%s: %s", af_alg_name(alg),
                  err.msg);
    dots(tok, &d1, &d2);

    /* header: compact JSON with typ, alg and kid set from the key */
    b64d(tok, d1, &hdr);
    ck_assert_ptr_null(memchr(hdr.p, ' ', hdr.len));
    h = json_loadb(hdr.p, hdr.len, JSON_REJECT_DUPLICATES, NULL);
    ck_assert_ptr_nonnull(h);
    ck_assert_str_eq(json_string_value(json_object_get(h, "alg")), af_alg_name(alg));
    ck_assert_str_eq(json_string_value(json_object_get(h, "kid")), af_key_kid(key));
    ck_assert_str_eq(json_string_value(json_object_get(h, "typ")), "JWT");
    json_decref(h);

    /* payload: exactly the compact serialisation of the claims */
    want = json_dumps(claims, JSON_COMPACT);
    b64d(tok + d1 + 1, d2 - d1 - 1, &pl);
    ck_assert_uint_eq(pl.len, strlen(want));
    ck_assert_mem_eq(pl.p, want, pl.len);
    free(want);

    /* signature: checked with OpenSSL directly, not with af_jws_verify */
    b64d(tok + d2 + 1, strlen(tok) - d2 - 1, &sig);
    if (alg == AF_ALG_HS256) {
        ck_assert_ptr_nonnull(HMAC(EVP_sha256(), secret, sizeof(secret), (const unsigned char *)tok,
                                   d2, mac, &maclen));
        ck_assert_uint_eq(sig.len, 32);
        ck_assert_mem_eq(sig.p, mac, 32);
    } else {
        if (alg == AF_ALG_ES256)
            ck_assert_uint_eq(sig.len, 64);
        if (alg == AF_ALG_EDDSA)
            ck_assert_uint_eq(sig.len, 64);
        ck_assert_msg(ossl_verify(pkey, alg, tok, d2, (const unsigned char *)sig.p, sig.len),
                      "%s signature does not verify with raw OpenSSL", af_alg_name(alg));
        /* RS256 must not be PSS, nor PS256 PKCS#1 v1.5 */
        if (alg == AF_ALG_RS256)
            ck_assert(
                !ossl_verify(pkey, AF_ALG_PS256, tok, d2, (const unsigned char *)sig.p, sig.len));
        if (alg == AF_ALG_PS256)
            ck_assert(
                !ossl_verify(pkey, AF_ALG_RS256, tok, d2, (const unsigned char *)sig.p, sig.len));
    }
    /* and the module agrees */
    ck_assert_msg(parse_verify(tok, key, &err) == AF_OK, "%s: %s", af_alg_name(alg), err.msg);

    af_buf_free(&hdr);
    af_buf_free(&pl);
    af_buf_free(&sig);
    free(tok);
    json_decref(claims);
    af_key_free(key);
    EVP_PKEY_free(pkey);
}
END_TEST

START_TEST(test_es256_zero_padding)
{
    /* RFC 7518 §3.4: R and S are each left-padded to 32 octets. Sign until
     * both a short R and a short S were seen (about 1 in 256 signatures
     * each), checking every signature independently; then the reverse. */
    EVP_PKEY *pkey = gen_pkey(AF_ALG_ES256);
    struct af_key *key = load_key(pkey, AF_ALG_ES256);
    const char *in = A3_HEADER_B64 ".e30";
    const BIGNUM *r, *s;
    unsigned char der[80], raw[64];
    const unsigned char *p;
    struct af_err err;
    struct af_buf sig;
    ECDSA_SIG *es;
    EVP_MD_CTX *md;
    size_t derlen;
    char *b, *tok;
    int i, short_r = 0, short_s = 0, short_verified = 0;

    af_err_clear(&err);
    af_buf_init(&sig, AF_JOSE_SIG_MAX);
    for (i = 0; i < 20000 && !(short_r && short_s); i++) {
        af_buf_reset(&sig);
        ck_assert_int_eq(af_jose_sign_input(key, (const unsigned char *)in, strlen(in), &sig, &err),
                         AF_OK);
        ck_assert_uint_eq(sig.len, 64);
        ck_assert_msg(
            ossl_verify(pkey, AF_ALG_ES256, in, strlen(in), (const unsigned char *)sig.p, sig.len),
            "signature %d (R %02x.., S %02x..) does not verify", i, (unsigned char)sig.p[0],
            (unsigned char)sig.p[32]);
        short_r |= sig.p[0] == 0;
        short_s |= sig.p[32] == 0;
    }
    ck_assert_msg(short_r && short_s, "no short R (%d) or S (%d) in %d signatures", short_r,
                  short_s, i);

    /* A signature made by OpenSSL with a short R or S, padded here. */
    for (i = 0; i < 8000 && !short_verified; i++) {
        md = EVP_MD_CTX_new();
        derlen = sizeof(der);
        ck_assert_int_eq(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey), 1);
        ck_assert_int_eq(EVP_DigestSign(md, der, &derlen, (const unsigned char *)in, strlen(in)),
                         1);
        EVP_MD_CTX_free(md);
        p = der;
        es = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
        ck_assert_ptr_nonnull(es);
        ECDSA_SIG_get0(es, &r, &s);
        if (BN_num_bytes(r) < 32 || BN_num_bytes(s) < 32) {
            short_verified = 1;
            ck_assert_int_eq(BN_bn2binpad(r, raw, 32), 32);
            ck_assert_int_eq(BN_bn2binpad(s, raw + 32, 32), 32);
            b = b64u(raw, 64);
            ck_assert_int_ne(asprintf(&tok, "%s.%s", in, b), -1);
            ck_assert_msg(parse_verify(tok, key, &err) == AF_OK, "padded R||S: %s", err.msg);
            free(tok);
            free(b);
        }
        ECDSA_SIG_free(es);
    }
    ck_assert_msg(short_verified, "no short R or S in 8000 OpenSSL signatures");
    af_buf_free(&sig);
    af_key_free(key);
    EVP_PKEY_free(pkey);
}
END_TEST

/* ---- generation and JWK export/import ---- */

START_TEST(test_generate_export_import)
{
    af_alg alg = all_algs[_i];
    struct af_key *key = NULL, *pub = NULL;
    json_t *jwk = NULL, *jwk2 = NULL, *claims = json_of("{\"sub\":\"bob\"}");
    struct af_err err;
    char *thumb = NULL, *thumb2 = NULL, *tok = NULL, *tok2 = NULL;

    af_err_clear(&err);
    ck_assert_msg(af_key_generate(alg, &key, &err) == AF_OK, "%s: %s", af_alg_name(alg), err.msg);
    ck_assert_int_eq(af_key_alg(key), alg);
    ck_assert_int_eq(af_key_thumbprint(key, &thumb), AF_OK);
    ck_assert_str_eq(af_key_kid(key), thumb); /* RFC 7638 kid by default */
    ck_assert_int_eq(af_jwt_sign(key, NULL, claims, &tok, &err), AF_OK);
    ck_assert_int_eq(parse_verify(tok, key, &err), AF_OK);

    if (alg == AF_ALG_HS256) {
        /* secrets are never published */
        ck_assert_int_eq(af_key_public_jwk(key, &jwk), AF_ERR_INVALID);
        ck_assert_ptr_null(jwk);
        goto out;
    }
    ck_assert_int_eq(af_key_public_jwk(key, &jwk), AF_OK);
    ck_assert_str_eq(json_string_value(json_object_get(jwk, "alg")), af_alg_name(alg));
    ck_assert_str_eq(json_string_value(json_object_get(jwk, "use")), "sig");
    ck_assert_str_eq(json_string_value(json_object_get(jwk, "kid")), thumb);
    ck_assert_ptr_null(json_object_get(jwk, "d"));
    ck_assert_ptr_null(json_object_get(jwk, "p"));

    ck_assert_msg(af_key_from_jwk(jwk, &pub, &err) == AF_OK, "%s: %s", af_alg_name(alg), err.msg);
    ck_assert_int_eq(af_key_alg(pub), alg);
    ck_assert_str_eq(af_key_kid(pub), af_key_kid(key));
    ck_assert_int_eq(af_key_thumbprint(pub, &thumb2), AF_OK);
    ck_assert_str_eq(thumb2, thumb);
    ck_assert_int_eq(af_key_public_jwk(pub, &jwk2), AF_OK);
    ck_assert(json_equal(jwk, jwk2));
    ck_assert_int_eq(EVP_PKEY_eq(key->pkey, pub->pkey), 1);

    /* the public key verifies but cannot sign */
    ck_assert_msg(parse_verify(tok, pub, &err) == AF_OK, "%s: %s", af_alg_name(alg), err.msg);
    ck_assert_int_eq(af_jwt_sign(pub, NULL, claims, &tok2, &err), AF_ERR_STATE);
    ck_assert_ptr_null(tok2);
out:
    free(thumb);
    free(thumb2);
    free(tok);
    json_decref(jwk);
    json_decref(jwk2);
    json_decref(claims);
    af_key_free(key);
    af_key_free(pub);
}
END_TEST

START_TEST(test_pem_export_matches_openssl)
{
    /* The public JWK of a PEM key describes the same key OpenSSL holds. */
    af_alg alg = all_algs[_i];
    EVP_PKEY *pkey;
    struct af_key *key, *pub = NULL;
    json_t *jwk = NULL;

    if (alg == AF_ALG_HS256)
        return;
    pkey = gen_pkey(alg);
    key = load_key(pkey, alg);
    ck_assert_int_eq(af_key_public_jwk(key, &jwk), AF_OK);
    ck_assert_int_eq(af_key_from_jwk(jwk, &pub, NULL), AF_OK);
    ck_assert_int_eq(EVP_PKEY_eq(pkey, pub->pkey), 1);
    json_decref(jwk);
    af_key_free(pub);
    af_key_free(key);
    EVP_PKEY_free(pkey);
}
END_TEST

START_TEST(test_generate_none_refused)
{
    struct af_key *key = NULL;
    struct af_err err;
    af_err_clear(&err);
    ck_assert_int_eq(af_key_generate(AF_ALG_NONE, &key, &err), AF_ERR_INVALID);
    ck_assert_ptr_null(key);
    ck_assert_ptr_nonnull(strstr(err.msg, "none"));
    ck_assert_int_eq(af_key_generate(AF_ALG_UNKNOWN, &key, NULL), AF_ERR_INVALID);
}
END_TEST

START_TEST(test_set_kid_and_header_copy)
{
    struct af_key *key = NULL;
    json_t *hdr = json_of("{\"alg\":\"none\",\"kid\":\"x\",\"typ\":\"at+jwt\",\"cty\":\"c\"}");
    const json_t *h;
    struct af_jws *jws = NULL;
    json_t *arr = json_array();
    char *tok = NULL;

    ck_assert_int_eq(af_key_generate(AF_ALG_HS256, &key, NULL), AF_OK);
    ck_assert_int_eq(af_key_set_kid(key, "k-1"), AF_OK);
    ck_assert_str_eq(af_key_kid(key), "k-1");
    /* alg and kid come from the key, whatever the given header says */
    ck_assert_int_eq(af_jws_sign(key, hdr, "abc", 3, &tok, NULL), AF_OK);
    ck_assert_int_eq(af_jws_parse(tok, &jws, NULL), AF_OK);
    h = af_jws_header(jws);
    ck_assert_str_eq(json_string_value(json_object_get(h, "alg")), "HS256");
    ck_assert_str_eq(json_string_value(json_object_get(h, "kid")), "k-1");
    ck_assert_str_eq(json_string_value(json_object_get(h, "typ")), "at+jwt");
    ck_assert_str_eq(json_string_value(json_object_get(h, "cty")), "c");
    ck_assert_str_eq(json_string_value(json_object_get(hdr, "alg")), "none"); /* copied */
    ck_assert_int_eq(af_jws_verify(jws, key, NULL), AF_OK);
    ck_assert_ptr_null(af_jws_claims(jws)); /* "abc" is not JSON */
    af_jws_free(jws);
    free(tok);
    tok = NULL;
    ck_assert_int_eq(af_jws_sign(key, arr, "abc", 3, &tok, NULL), AF_ERR_INVALID);
    ck_assert_ptr_null(tok);
    ck_assert_int_eq(af_jwt_sign(key, NULL, arr, &tok, NULL), AF_ERR_INVALID);
    ck_assert_int_eq(af_key_set_kid(key, NULL), AF_ERR_INVALID);
    json_decref(arr);
    json_decref(hdr);
    af_key_free(key);
}
END_TEST

START_TEST(test_encode_unsigned)
{
    /* RFC 7515 A.5 header {"alg":"none"} and an empty signature */
    json_t *h = json_of("{\"alg\":\"none\"}");
    json_t *c = json_of("{\"iss\":\"joe\"}");
    char *tok = NULL;
    ck_assert_int_eq(af_jws_encode_unsigned(h, c, &tok), AF_OK);
    ck_assert_str_eq(tok, "eyJhbGciOiJub25lIn0.eyJpc3MiOiJqb2UifQ.");
    free(tok);
    ck_assert_int_eq(af_jws_encode_unsigned(NULL, c, &tok), AF_ERR_INVALID);
    ck_assert_ptr_null(tok);
    json_decref(h);
    json_decref(c);
}
END_TEST

/* ---- negative cases for af_jws_verify ---- */

START_TEST(test_tampered)
{
    struct af_key *key = NULL;
    json_t *claims = json_of("{\"sub\":\"alice\",\"admin\":false}");
    struct af_err err;
    size_t d1, d2;
    char *tok = NULL, *bad;

    af_err_clear(&err);
    ck_assert_int_eq(af_key_generate(all_algs[_i], &key, NULL), AF_OK);
    ck_assert_int_eq(af_jwt_sign(key, NULL, claims, &tok, NULL), AF_OK);
    dots(tok, &d1, &d2);
    bad = flip(tok, d1 + 3);
    ck_assert_int_eq(parse_verify(bad, key, &err), AF_ERR_CRYPTO);
    free(bad);
    bad = flip(tok, d2 + 5);
    ck_assert_int_eq(parse_verify(bad, key, &err), AF_ERR_CRYPTO);
    free(bad);
    /* a header change (the kid) breaks the signature too */
    bad = flip(tok, d1 - 4);
    ck_assert_int_ne(parse_verify(bad, key, &err), AF_OK);
    free(bad);
    /* the signature of another token over the same key */
    ck_assert_int_eq(parse_verify(tok, key, &err), AF_OK);
    free(tok);
    json_decref(claims);
    af_key_free(key);
}
END_TEST

/* Tokens whose header alg must be refused whatever key verifies them. */
static const struct {
    const char *why;
    const char *compact;
    const char *msg;
} alg_reject_cases[] = {
    {"RFC 7515 A.5 / RFC 8725 §3.1: alg none", "eyJhbGciOiJub25lIn0." RFC7515_PAYLOAD_B64 ".",
     "never accepted"},
    {"RFC 8725 §3.1: alg none with a signature",
     "eyJhbGciOiJub25lIn0." RFC7515_PAYLOAD_B64 "." A1_SIG, "never accepted"},
    {"RFC 8725 §3.1: alg nOnE", "eyJhbGciOiJuT25FIn0." RFC7515_PAYLOAD_B64 ".", "never accepted"},
    {"RFC 7515 §4.1.11: crit not understood",
     "eyJhbGciOiJSUzI1NiIsImNyaXQiOlsiZXhwIl0sImV4cCI6MX0." RFC7515_PAYLOAD_B64 "." A2_SIG, "crit"},
};

START_TEST(test_alg_rejected)
{
    static const char *jwks[] = {JWK_A1, JWK_A2, JWK_A3, JWK_E};
    struct af_jws *jws = NULL;
    struct af_key *key;
    struct af_err err;
    size_t k;

    af_err_clear(&err);
    ck_assert_int_eq(af_jws_parse(alg_reject_cases[_i].compact, &jws, &err), AF_OK);
    for (k = 0; k < sizeof(jwks) / sizeof(jwks[0]); k++) {
        json_t *jwk = json_of(jwks[k]);
        key = NULL;
        ck_assert_int_eq(af_key_from_jwk(jwk, &key, NULL), AF_OK);
        af_err_clear(&err);
        ck_assert_int_eq(af_jws_verify(jws, key, &err), AF_ERR_CRYPTO);
        /* crit is only reached by the key whose alg matches */
        if (strcmp(alg_reject_cases[_i].msg, "crit") != 0 || af_key_alg(key) == AF_ALG_RS256)
            ck_assert_msg(strstr(err.msg, alg_reject_cases[_i].msg) != NULL, "%s: %s",
                          alg_reject_cases[_i].why, err.msg);
        af_key_free(key);
        json_decref(jwk);
    }
    af_jws_free(jws);
}
END_TEST

START_TEST(test_alg_mismatch)
{
    /* RFC 7515 A.2 verified by its own RSA key declared for PS256, and
     * A.1 (HS256) presented to the A.2 RSA key: the key decides the alg. */
    json_t *ps = json_of("{\"kty\":\"RSA\",\"alg\":\"PS256\",\"n\":\"" A2_N "\",\"e\":\"AQAB\"}");
    json_t *rs = json_of(JWK_A2);
    struct af_key *kps = NULL, *krs = NULL;
    struct af_err err;

    af_err_clear(&err);
    ck_assert_int_eq(af_key_from_jwk(ps, &kps, NULL), AF_OK);
    ck_assert_int_eq(af_key_from_jwk(rs, &krs, NULL), AF_OK);
    ck_assert_int_eq(parse_verify(A2_JWS, krs, &err), AF_OK);
    ck_assert_int_eq(parse_verify(A2_JWS, kps, &err), AF_ERR_CRYPTO);
    ck_assert_msg(strstr(err.msg, "RS256") && strstr(err.msg, "PS256"), "%s", err.msg);
    ck_assert_int_eq(parse_verify(A1_JWS, krs, &err), AF_ERR_CRYPTO);
    ck_assert_msg(strstr(err.msg, "does not match"), "%s", err.msg);
    ck_assert_int_eq(parse_verify(A3_JWS, krs, &err), AF_ERR_CRYPTO);
    ck_assert_int_eq(parse_verify(E_JWS, krs, &err), AF_ERR_CRYPTO);
    af_key_free(kps);
    af_key_free(krs);
    json_decref(ps);
    json_decref(rs);
}
END_TEST

START_TEST(test_alg_confusion)
{
    /* RFC 8725 §2.1: an HS256 token keyed with the RSA public key's PEM
     * must not verify with that RSA key. */
    EVP_PKEY *pkey = gen_pkey(AF_ALG_RS256);
    struct af_key *rsa = load_key(pkey, AF_ALG_RS256), *hs = NULL, *pub = NULL;
    json_t *claims = json_of("{\"sub\":\"admin\"}"), *jwk = NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    struct af_err err;
    char *pem = NULL, *tok = NULL;
    long len;

    af_err_clear(&err);
    ck_assert_int_eq(PEM_write_bio_PUBKEY(bio, pkey), 1);
    len = BIO_get_mem_data(bio, &pem);
    ck_assert_int_gt(len, 0);
    ck_assert_int_eq(af_key_from_secret((const unsigned char *)pem, (size_t)len, &hs, NULL), AF_OK);
    ck_assert_int_eq(af_key_set_kid(hs, af_key_kid(rsa)), AF_OK);
    ck_assert_int_eq(af_jwt_sign(hs, NULL, claims, &tok, NULL), AF_OK);
    /* the forgery is a genuine HMAC under the PEM bytes ... */
    ck_assert_int_eq(parse_verify(tok, hs, &err), AF_OK);
    /* ... and is refused by the RSA key, private or public */
    ck_assert_int_eq(parse_verify(tok, rsa, &err), AF_ERR_CRYPTO);
    ck_assert_msg(strstr(err.msg, "does not match"), "%s", err.msg);
    ck_assert_int_eq(af_key_public_jwk(rsa, &jwk), AF_OK);
    ck_assert_int_eq(af_key_from_jwk(jwk, &pub, NULL), AF_OK);
    ck_assert_int_eq(parse_verify(tok, pub, &err), AF_ERR_CRYPTO);
    free(tok);
    json_decref(jwk);
    json_decref(claims);
    BIO_free(bio);
    af_key_free(pub);
    af_key_free(hs);
    af_key_free(rsa);
    EVP_PKEY_free(pkey);
}
END_TEST

START_TEST(test_es256_wrong_length)
{
    /* RFC 7518 §3.4: a DER signature, or R||S of the wrong length, is not
     * an ES256 JWS signature even when the values are right. */
    json_t *jwk = json_of(JWK_A3);
    struct af_key *key = NULL;
    struct af_buf raw;
    struct af_err err;
    unsigned char der[80], padded[66];
    unsigned char *dp = der;
    ECDSA_SIG *es = ECDSA_SIG_new();
    char *b, *tok;
    int n;

    af_err_clear(&err);
    ck_assert_int_eq(af_key_from_jwk(jwk, &key, NULL), AF_OK);
    b64d(A3_SIG, strlen(A3_SIG), &raw);
    ck_assert_uint_eq(raw.len, 64);
    ck_assert_int_eq(ECDSA_SIG_set0(es, BN_bin2bn((unsigned char *)raw.p, 32, NULL),
                                    BN_bin2bn((unsigned char *)raw.p + 32, 32, NULL)),
                     1);
    n = i2d_ECDSA_SIG(es, &dp);
    ck_assert_int_gt(n, 64);

    /* DER */
    b = b64u(der, (size_t)n);
    ck_assert_int_ne(asprintf(&tok, A3_HEADER_B64 "." RFC7515_PAYLOAD_B64 ".%s", b), -1);
    ck_assert_int_eq(parse_verify(tok, key, &err), AF_ERR_CRYPTO);
    ck_assert_msg(strstr(err.msg, "64"), "%s", err.msg);
    free(tok);
    free(b);
    /* 63 and 65 octets: refused for their length */
    b = b64u(raw.p, 63);
    ck_assert_int_ne(asprintf(&tok, A3_HEADER_B64 "." RFC7515_PAYLOAD_B64 ".%s", b), -1);
    ck_assert_int_eq(parse_verify(tok, key, &err), AF_ERR_CRYPTO);
    ck_assert_msg(strstr(err.msg, "63 octets"), "%s", err.msg);
    free(tok);
    free(b);
    padded[0] = 0;
    memcpy(padded + 1, raw.p, 64);
    b = b64u(padded, 65);
    ck_assert_int_ne(asprintf(&tok, A3_HEADER_B64 "." RFC7515_PAYLOAD_B64 ".%s", b), -1);
    ck_assert_int_eq(parse_verify(tok, key, &err), AF_ERR_CRYPTO);
    ck_assert_msg(strstr(err.msg, "65 octets"), "%s", err.msg);
    free(tok);
    free(b);
    /* R and S swapped */
    memcpy(padded, raw.p + 32, 32);
    memcpy(padded + 32, raw.p, 32);
    b = b64u(padded, 64);
    ck_assert_int_ne(asprintf(&tok, A3_HEADER_B64 "." RFC7515_PAYLOAD_B64 ".%s", b), -1);
    ck_assert_int_eq(parse_verify(tok, key, &err), AF_ERR_CRYPTO);
    free(tok);
    free(b);
    /* empty signature */
    ck_assert_int_eq(parse_verify(A3_HEADER_B64 "." RFC7515_PAYLOAD_B64 ".", key, &err),
                     AF_ERR_CRYPTO);
    ECDSA_SIG_free(es);
    af_buf_free(&raw);
    af_key_free(key);
    json_decref(jwk);
}
END_TEST

START_TEST(test_hs256_wrong_key_and_length)
{
    struct af_key *key = NULL;
    struct af_err err;
    json_t *jwk = json_of(JWK_A1);

    af_err_clear(&err);
    ck_assert_int_eq(af_key_from_jwk(jwk, &key, NULL), AF_OK);
    /* RFC 7515 A.1 with a truncated MAC */
    ck_assert_int_eq(
        parse_verify(A1_HEADER_B64 "." RFC7515_PAYLOAD_B64 ".dBjftJeZ4CVP-mB92K27uhbU", key, &err),
        AF_ERR_CRYPTO);
    ck_assert_int_eq(parse_verify(A1_HEADER_B64 "." RFC7515_PAYLOAD_B64 ".", key, &err),
                     AF_ERR_CRYPTO);
    /* RFC 7515 A.1 with another secret */
    af_key_free(key);
    key = NULL;
    ck_assert_int_eq(af_key_from_secret((const unsigned char *)"secret", 6, &key, NULL), AF_OK);
    ck_assert_int_eq(parse_verify(A1_JWS, key, &err), AF_ERR_CRYPTO);
    af_key_free(key);
    key = NULL;
    ck_assert_int_eq(af_key_from_secret((const unsigned char *)"", 0, &key, &err), AF_ERR_INVALID);
    ck_assert_ptr_null(key);
    json_decref(jwk);
}
END_TEST

/* ---- negative cases for af_jws_parse ---- */

static const struct {
    const char *why;
    const char *compact;
    af_rc rc;
    const char *msg;
} parse_cases[] = {
    {"RFC 7515 §7.1: one part", "eyJhbGciOiJIUzI1NiJ9", AF_ERR_PARSE, "parts"},
    {"RFC 7515 §7.1: two parts", "eyJhbGciOiJIUzI1NiJ9.e30", AF_ERR_PARSE, "parts"},
    {"RFC 7515 §7.1: four parts", "eyJhbGciOiJIUzI1NiJ9.e30.AAAA.AAAA", AF_ERR_PARSE, "parts"},
    {"RFC 7515 §7.1: empty string", "", AF_ERR_PARSE, "parts"},
    {"RFC 7515 §7.1: only dots", "..", AF_ERR_PARSE, "empty"},
    {"RFC 7515 §2: padding in the payload", "eyJhbGciOiJIUzI1NiJ9.e30=.AAAA", AF_ERR_PARSE,
     "payload"},
    {"RFC 7515 §2: padding in the header", "eyJhbGciOiJIUzI1NiJ9==.e30.AAAA", AF_ERR_PARSE,
     "header"},
    {"RFC 7515 §2: padding in the signature", "eyJhbGciOiJIUzI1NiJ9.e30.AA==", AF_ERR_PARSE,
     "signature"},
    {"RFC 4648 §5: '+' is not base64url", "eyJhbGciOiJIUzI1NiJ9.e30.ab+d", AF_ERR_PARSE,
     "signature"},
    {"RFC 4648 §5: '/' is not base64url", "eyJhbGciOiJIUzI1NiJ9.e30.ab/d", AF_ERR_PARSE,
     "signature"},
    {"RFC 4648 §3.5: non-zero trailing bits", "eyJhbGciOiJIUzI1NiJ9.e31.AAAA", AF_ERR_PARSE,
     "payload"},
    {"RFC 4648 §4: length 1 mod 4", "eyJhbGciOiJIUzI1NiJ9.e30.AAAAA", AF_ERR_PARSE, "signature"},
    {"RFC 7515 §7.1: no whitespace", "eyJhbGciOiJIUzI1NiJ9 .e30.AAAA", AF_ERR_PARSE, "header"},
    {"RFC 7515 §7.1: empty header", ".e30.AAAA", AF_ERR_PARSE, "empty"},
    {"RFC 7515 §4: header is an array", "WyJhbGciXQ.e30.AAAA", AF_ERR_PARSE, "object"},
    {"RFC 7515 §4: header is a string", "IkhTMjU2Ig.e30.AAAA", AF_ERR_PARSE, "JSON"},
    {"RFC 7515 §4: header is not JSON", "e2FsZw.e30.AAAA", AF_ERR_PARSE, "JSON"},
    {"RFC 7515 §4: trailing bytes after the header", "eyJhbGciOiJIUzI1NiJ9IHg.e30.AAAA",
     AF_ERR_PARSE, "JSON"},
    {"RFC 7515 §4.1.1: alg missing", "eyJ0eXAiOiJKV1QifQ.e30.AAAA", AF_ERR_PARSE, "alg"},
    {"RFC 7515 §4.1.1: alg not a string", "eyJhbGciOjF9.e30.AAAA", AF_ERR_PARSE, "alg"},
    {"RFC 7515 §4: duplicate header names", "eyJhbGciOiJIUzI1NiIsImFsZyI6Im5vbmUifQ.e30.AAAA",
     AF_ERR_PARSE, "duplicate"},
};

START_TEST(test_parse_rejects)
{
    struct af_jws *jws = (struct af_jws *)&jws; /* must be reset to NULL */
    struct af_err err;

    af_err_clear(&err);
    ck_assert_msg(af_jws_parse(parse_cases[_i].compact, &jws, &err) == parse_cases[_i].rc,
                  "%s: accepted or wrong status (%s)", parse_cases[_i].why, err.msg);
    ck_assert_ptr_null(jws);
    ck_assert_msg(strstr(err.msg, parse_cases[_i].msg) != NULL, "%s: message \"%s\" lacks \"%s\"",
                  parse_cases[_i].why, err.msg, parse_cases[_i].msg);
}
END_TEST

static const struct {
    const char *why;
    const char *payload_b64;
    int object;
} claims_cases[] = {
    {"RFC 7519 §7.2: a JSON object", "e30", 1},
    {"RFC 7515 A.1 payload", RFC7515_PAYLOAD_B64, 1},
    {"RFC 7519 §7.2: an array is not a claims set", "WzEsMl0", 0},
    {"RFC 7519 §4: duplicate claim names", "eyJhIjoxLCJhIjoyfQ", 0},
    {"RFC 7515 §7.1: empty payload", "", 0},
    {"RFC 8037 A.4: plain text", "RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc", 0},
};

START_TEST(test_claims)
{
    struct af_jws *jws = NULL;
    char *tok;
    ck_assert_int_ne(asprintf(&tok, "eyJhbGciOiJIUzI1NiJ9.%s.", claims_cases[_i].payload_b64), -1);
    ck_assert_int_eq(af_jws_parse(tok, &jws, NULL), AF_OK);
    if (claims_cases[_i].object)
        ck_assert_msg(json_is_object(af_jws_claims(jws)), "%s", claims_cases[_i].why);
    else
        ck_assert_msg(af_jws_claims(jws) == NULL, "%s", claims_cases[_i].why);
    ck_assert_str_eq(af_jws_alg_str(jws), "HS256");
    af_jws_free(jws);
    free(tok);
}
END_TEST

START_TEST(test_parse_size_cap)
{
    /* AF_JWS_MAX_LEN is accepted, one byte more is AF_ERR_TOOBIG */
    static const char head[] = "eyJhbGciOiJIUzI1NiJ9.";
    size_t n = AF_JWS_MAX_LEN, pl = n - (sizeof(head) - 1) - 5;
    char *tok = malloc(n + 2);
    struct af_jws *jws = NULL;
    struct af_err err;

    af_err_clear(&err);
    ck_assert_ptr_nonnull(tok);
    ck_assert_uint_ne(pl % 4, 1);
    memcpy(tok, head, sizeof(head) - 1);
    memset(tok + sizeof(head) - 1, 'A', pl);
    memcpy(tok + sizeof(head) - 1 + pl, ".AAAA", 6);
    ck_assert_uint_eq(strlen(tok), n);
    ck_assert_msg(af_jws_parse(tok, &jws, &err) == AF_OK, "%s", err.msg);
    af_jws_free(jws);
    jws = NULL;
    memcpy(tok + n - 4, "AAAAA", 6);
    ck_assert_uint_eq(strlen(tok), n + 1);
    ck_assert_int_eq(af_jws_parse(tok, &jws, &err), AF_ERR_TOOBIG);
    ck_assert_ptr_null(jws);
    ck_assert_int_eq(af_jws_parse(NULL, &jws, &err), AF_ERR_INVALID);
    free(tok);
}
END_TEST

/* ---- key loading and import refusals ---- */

START_TEST(test_rsa_1024_refused)
{
    /* RFC 7518 §3.3: RSA keys of fewer than 2048 bits are refused, for
     * signing (PEM) and for verifying (JWK). */
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    struct af_key *key = NULL;
    struct af_err err;
    BIGNUM *n = NULL, *e = NULL;
    unsigned char nb[128], eb[8];
    char *nn, *ee, *js, *jwks_s;
    json_t *jwk, *jwks;
    int nl, el;

    af_err_clear(&err);
    ck_assert_ptr_nonnull(pkey);
    ck_assert_int_eq(load_key_rc(pkey, AF_ALG_RS256, &key, &err), AF_ERR_INVALID);
    ck_assert_ptr_null(key);
    ck_assert_msg(strstr(err.msg, "1024"), "%s", err.msg);
    ck_assert_int_eq(load_key_rc(pkey, AF_ALG_PS256, &key, &err), AF_ERR_INVALID);

    ck_assert_int_eq(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n), 1);
    ck_assert_int_eq(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e), 1);
    nl = BN_bn2bin(n, nb);
    el = BN_bn2bin(e, eb);
    nn = b64u(nb, (size_t)nl);
    ee = b64u(eb, (size_t)el);
    ck_assert_int_ne(
        asprintf(&js, "{\"kty\":\"RSA\",\"kid\":\"small\",\"n\":\"%s\",\"e\":\"%s\"}", nn, ee), -1);
    jwk = json_of(js);
    af_err_clear(&err);
    ck_assert_int_eq(af_key_from_jwk(jwk, &key, &err), AF_ERR_INVALID);
    ck_assert_msg(strstr(err.msg, "1024"), "%s", err.msg);
    ck_assert_int_ne(asprintf(&jwks_s, "{\"keys\":[%s]}", js), -1);
    jwks = json_of(jwks_s);
    ck_assert_int_eq(af_jwks_find(jwks, "small", "RS256", &key, &err), AF_ERR_NOTFOUND);
    ck_assert_msg(strstr(err.msg, "1024"), "%s", err.msg);
    json_decref(jwks);
    json_decref(jwk);
    free(jwks_s);
    free(js);
    free(nn);
    free(ee);
    BN_free(n);
    BN_free(e);
    EVP_PKEY_free(pkey);
}
END_TEST

START_TEST(test_pem_alg_mismatch)
{
    static const struct {
        const char *type, *arg;
        af_alg alg;
    } cases[] = {
        {"EC", "P-256", AF_ALG_RS256},   {"EC", "P-384", AF_ALG_ES256},
        {"ED25519", NULL, AF_ALG_ES256}, {"EC", "P-256", AF_ALG_EDDSA},
        {"EC", "P-256", AF_ALG_HS256},   {"EC", "P-256", AF_ALG_NONE},
    };
    struct af_key *key = NULL;
    struct af_err err;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        EVP_PKEY *p = cases[i].arg ? EVP_PKEY_Q_keygen(NULL, NULL, cases[i].type, cases[i].arg)
                                   : EVP_PKEY_Q_keygen(NULL, NULL, cases[i].type);
        ck_assert_ptr_nonnull(p);
        af_err_clear(&err);
        ck_assert_int_eq(load_key_rc(p, cases[i].alg, &key, &err), AF_ERR_INVALID);
        ck_assert_ptr_null(key);
        ck_assert(err.msg[0] != '\0');
        EVP_PKEY_free(p);
    }
}
END_TEST

/* ---- key files that outlive a restart (keyfile.c) ---- */

/* keyfile_dir: a fresh folder "TMPDIR/af_check_keyfile_XXXXXX". Caller
 * frees. */
static char *keyfile_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    char *dir = NULL;
    ck_assert_int_ge(asprintf(&dir, "%s/af_check_keyfile_XXXXXX", tmp && *tmp ? tmp : "/tmp"), 0);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    return dir;
}

/* The first call writes the file (missing folders 0700, the file 0600),
 * the next one loads the same key; a file of the wrong kind or of garbage
 * is refused naming it and left as it was. */
START_TEST(test_keyfile_create_then_load)
{
    char *dir = keyfile_dir(), *path = NULL, *junk = NULL;
    struct af_key *a = NULL, *b = NULL;
    struct af_err err;
    struct stat st;
    bool created = false;
    FILE *f;

    ck_assert_int_ge(asprintf(&path, "%s/a/b/es256.pem", dir), 0);
    af_err_clear(&err);
    ck_assert_msg(af_key_load_or_create(path, AF_ALG_ES256, &a, &created, &err) == AF_OK, "%s",
                  err.msg);
    ck_assert(created);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(stat(dirname(strdupa(path)), &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0700);

    ck_assert_msg(af_key_load_or_create(path, AF_ALG_ES256, &b, &created, &err) == AF_OK, "%s",
                  err.msg);
    ck_assert(!created);
    ck_assert_str_eq(af_key_kid(a), af_key_kid(b));
    af_key_free(b);
    b = NULL;

    /* an EC key where an RSA one is configured: refused, file untouched */
    ck_assert_int_eq(af_key_load_or_create(path, AF_ALG_RS256, &b, &created, &err), AF_ERR_INVALID);
    ck_assert_ptr_null(b);
    ck_assert(!created);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    ck_assert_ptr_nonnull(strstr(err.msg, "RS256 needs an RSA key"));
    ck_assert_msg(af_key_load_or_create(path, AF_ALG_ES256, &b, &created, &err) == AF_OK, "%s",
                  err.msg);
    ck_assert_str_eq(af_key_kid(a), af_key_kid(b));
    af_key_free(b);
    b = NULL;

    /* garbage is never regenerated */
    ck_assert_int_ge(asprintf(&junk, "%s/junk.pem", dir), 0);
    f = fopen(junk, "w");
    ck_assert_ptr_nonnull(f);
    fputs("not a key\n", f);
    fclose(f);
    ck_assert_int_eq(af_key_load_or_create(junk, AF_ALG_ES256, &b, &created, &err), AF_ERR_PARSE);
    ck_assert_ptr_nonnull(strstr(err.msg, junk));
    ck_assert_int_eq(stat(junk, &st), 0);
    ck_assert_int_eq(st.st_size, 10);

    af_key_free(a);
    unlink(junk);
    unlink(path);
    *strrchr(path, '/') = '\0';
    rmdir(path);
    *strrchr(path, '/') = '\0';
    rmdir(path);
    rmdir(dir);
    free(junk);
    free(path);
    free(dir);
}
END_TEST

/* Processes that find the file missing at the same moment all generate,
 * one publishes, the others load its key: every one ends with the same
 * kid, and no temporary file is left. RS256, whose generation takes long
 * enough for the processes to overlap. */
START_TEST(test_keyfile_concurrent)
{
    enum { N = 4 };
    char *dir = keyfile_dir(), *path = NULL;
    char kids[N][128];
    int fds[N][2], i, status, n = 0;
    pid_t pids[N];
    struct dirent *de;
    DIR *d;

    ck_assert_int_ge(asprintf(&path, "%s/rs256.pem", dir), 0);
    for (i = 0; i < N; i++) {
        ck_assert_int_eq(pipe(fds[i]), 0);
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            struct af_key *k = NULL;
            bool created;
            const char *kid = "error";
            if (af_key_load_or_create(path, AF_ALG_RS256, &k, &created, NULL) == AF_OK)
                kid = af_key_kid(k);
            if (write(fds[i][1], kid, strlen(kid)) < 0)
                _exit(2);
            _exit(0);
        }
        close(fds[i][1]);
    }
    for (i = 0; i < N; i++) {
        ssize_t got = read(fds[i][0], kids[i], sizeof(kids[i]) - 1);
        kids[i][got > 0 ? got : 0] = '\0';
        close(fds[i][0]);
        ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    for (i = 0; i < N; i++) {
        ck_assert_str_ne(kids[i], "error");
        ck_assert_str_eq(kids[i], kids[0]);
    }
    d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            ck_assert_str_eq(de->d_name, "rs256.pem");
            n++;
        }
    }
    closedir(d);
    ck_assert_int_eq(n, 1);
    unlink(path);
    rmdir(dir);
    free(path);
    free(dir);
}
END_TEST

START_TEST(test_pem_load_failures)
{
    const char *dir = getenv("TMPDIR");
    EVP_PKEY *p = gen_pkey(AF_ALG_ES256);
    struct af_key *key = NULL;
    struct af_err err;
    char path[512], *enc;
    FILE *f;
    int fd;
    size_t i;

    af_err_clear(&err);
    snprintf(path, sizeof(path), "%s/af_check_jose_none_XXXXXX", dir && *dir ? dir : "/tmp");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    unlink(path);
    ck_assert_int_eq(af_key_load_pem(path, AF_ALG_ES256, &key, &err), AF_ERR_IO);

    /* an encrypted key is refused, never prompted for */
    enc = pem_path(p, "passphrase");
    ck_assert_int_eq(af_key_load_pem(enc, AF_ALG_ES256, &key, &err), AF_ERR_PARSE);
    ck_assert_ptr_null(key);
    unlink(enc);
    free(enc);

    /* not PEM, and too big */
    snprintf(path, sizeof(path), "%s/af_check_jose_junk_XXXXXX", dir && *dir ? dir : "/tmp");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    f = fdopen(fd, "w");
    fputs("not a key\n", f);
    fflush(f);
    ck_assert_int_eq(af_key_load_pem(path, AF_ALG_ES256, &key, &err), AF_ERR_PARSE);
    for (i = 0; i < 64 * 1024; i++)
        fputc('A', f);
    fclose(f);
    ck_assert_int_eq(af_key_load_pem(path, AF_ALG_ES256, &key, &err), AF_ERR_TOOBIG);
    ck_assert_ptr_null(key);
    unlink(path);
    EVP_PKEY_free(p);
}
END_TEST

static const struct {
    const char *why;
    const char *jwk;
    const char *msg;
} jwk_bad_cases[] = {
    {"RFC 7517 §4: not an object", "[1]", "object"},
    {"RFC 7517 §4.1: kty missing", "{\"n\":\"" A2_N "\",\"e\":\"AQAB\"}", "kty"},
    {"RFC 7517 §4.1: kty unknown", "{\"kty\":\"DSA\"}", "DSA"},
    {"RFC 7518 §6.3.1.1: n missing", "{\"kty\":\"RSA\",\"e\":\"AQAB\"}", "\"n\""},
    {"RFC 7518 §6.3.1.1: n with a leading zero octet",
     "{\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":"
     "\"ANL8e2oKHmxnEErrj4iyV2abTfZ53a0Jm1xKbNmogBW1oTO_C4VseHG23wALVU_Os8LtUSu2jxRcboQ0dS-"
     "rUqHPwSRAj3m1ikV4wWQohVeJ96JJ44TLLZ-uLWf9lvuSbBmOB3OZ_cgVwK8Jfd5are_"
     "0TecOgn9IeEMkOb_uuWBo0EdPxQ1tkL86mN-vEEDInALWkqs7PCiWYJ2G_XO3dM4HQGR87uqjEL0S-YWo659Z_"
     "dQmzqWyEg9PKjS8q3ZLfmxU1oQCOLzEBYelnmbtHzOJRXdjXEcK91z5LCDR2kPhv8QZ4iKm8NC7NYxeOPnLBQrq_"
     "pBIFPGsGqScyp6gyoM\"}",
     "leading zero"},
    {"RFC 7518 §6.3.1.2: e with a leading zero octet",
     "{\"kty\":\"RSA\",\"e\":\"AAEAAQ\",\"n\":\"" A2_N "\"}", "leading zero"},
    {"RFC 7518 §6.3.1.1: n not base64url", "{\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"ab+d\"}",
     "base64url"},
    {"RFC 7518 §6.2.1.1: curve P-384",
     "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}", "P-384"},
    {"RFC 7518 §6.2.1.2: x of 31 octets",
     "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ\","
     "\"y\":\"" A3_Y "\"}",
     "31"},
    {"RFC 7518 §6.2.1.3: point not on the curve",
     "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X
     "\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a4\"}",
     "EC"},
    {"RFC 8037 §2: OKP curve X25519", "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"" E_X "\"}",
     "X25519"},
    {"RFC 8037 §2: OKP x missing", "{\"kty\":\"OKP\",\"crv\":\"Ed25519\"}", "\"x\""},
    {"RFC 7517 §4.4: alg does not fit kty",
     "{\"kty\":\"EC\",\"alg\":\"RS256\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}",
     "does not fit"},
    {"RFC 7517 §4.4: alg none", "{\"kty\":\"oct\",\"alg\":\"none\",\"k\":\"" A1_K "\"}", "none"},
    {"RFC 7517 §4.4: alg unsupported",
     "{\"kty\":\"RSA\",\"alg\":\"RS512\",\"e\":\"AQAB\",\"n\":\"" A2_N "\"}", "RS512"},
    {"RFC 7517 §4.2: use enc",
     "{\"kty\":\"RSA\",\"use\":\"enc\",\"e\":\"AQAB\",\"n\":\"" A2_N "\"}", "use"},
    {"RFC 7517 §4.3: key_ops without verify",
     "{\"kty\":\"RSA\",\"key_ops\":[\"encrypt\"],\"e\":\"AQAB\",\"n\":\"" A2_N "\"}", "key_ops"},
    {"RFC 7517 §4.5: kid not a string",
     "{\"kty\":\"RSA\",\"kid\":7,\"e\":\"AQAB\",\"n\":\"" A2_N "\"}", "kid"},
    {"RFC 7518 §6.4.1: empty k", "{\"kty\":\"oct\",\"k\":\"\"}", "\"k\""},
};

START_TEST(test_jwk_rejects)
{
    json_t *jwk = json_of(jwk_bad_cases[_i].jwk);
    struct af_key *key = NULL;
    struct af_err err;

    af_err_clear(&err);
    ck_assert_msg(af_key_from_jwk(jwk, &key, &err) != AF_OK, "%s: accepted", jwk_bad_cases[_i].why);
    ck_assert_ptr_null(key);
    ck_assert_msg(strstr(err.msg, jwk_bad_cases[_i].msg) != NULL, "%s: message \"%s\" lacks \"%s\"",
                  jwk_bad_cases[_i].why, err.msg, jwk_bad_cases[_i].msg);
    json_decref(jwk);
}
END_TEST

/* ---- JWKS lookup ---- */

#define JWKS_BASE                                                                                  \
    "{\"keys\":["                                                                                  \
    "{\"kty\":\"RSA\",\"kid\":\"rsa1\",\"alg\":\"RS256\",\"use\":\"sig\",\"n\":\"" A2_N            \
    "\",\"e\":\"AQAB\"},"                                                                          \
    "{\"kty\":\"RSA\",\"kid\":\"noalg\",\"n\":\"" T_N "\",\"e\":\"AQAB\"},"                        \
    "{\"kty\":\"RSA\",\"kid\":\"enc1\",\"use\":\"enc\",\"n\":\"" A2_N "\",\"e\":\"AQAB\"},"        \
    "{\"kty\":\"EC\",\"kid\":\"ec1\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"},"    \
    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" E_X "\"},"                                     \
    "{\"kty\":\"EC\",\"kid\":\"p384\",\"crv\":\"P-384\",\"x\":\"AA\",\"y\":\"AA\"}"                \
    "]}"

static const struct {
    const char *why;
    const char *kid;
    const char *alg;
    af_rc rc;
    const char *want_kid; /* on success */
    const char *msg;      /* on failure, in err */
} jwks_cases[] = {
    {"by kid", "rsa1", "RS256", AF_OK, "rsa1", NULL},
    {"kid whose JWK pins another alg", "rsa1", "PS256", AF_ERR_NOTFOUND, NULL, "rsa1"},
    {"kid of another kty", "rsa1", "ES256", AF_ERR_NOTFOUND, NULL, "rsa1"},
    {"RSA without alg serves PS256", "noalg", "PS256", AF_OK, "noalg", NULL},
    {"RSA without alg serves RS256", "noalg", "RS256", AF_OK, "noalg", NULL},
    {"no kid, one key for PS256", NULL, "PS256", AF_OK, "noalg", NULL},
    {"no kid, two keys for RS256", NULL, "RS256", AF_ERR_NOTFOUND, NULL, "ambiguous"},
    {"EC by kid", "ec1", "ES256", AF_OK, "ec1", NULL},
    {"no kid, two EC keys", NULL, "ES256", AF_ERR_NOTFOUND, NULL, "ambiguous"},
    {"no kid, one OKP key", NULL, "EdDSA", AF_OK, E_THUMB, NULL},
    {"RFC 7638 §1: thumbprint as kid", E_THUMB, "EdDSA", AF_OK, E_THUMB, NULL},
    {"RFC 7517 §4.2: use enc is skipped", "enc1", "RS256", AF_ERR_NOTFOUND, NULL, "use"},
    {"unknown kid", "nope", "RS256", AF_ERR_NOTFOUND, NULL, "nope"},
    {"kid of an unusable key", "p384", "ES256", AF_ERR_NOTFOUND, NULL, "P-384"},
    {"RFC 8725 §3.1: alg none", NULL, "none", AF_ERR_INVALID, NULL, "none"},
    {"unsupported alg", "rsa1", "RS512", AF_ERR_INVALID, NULL, "RS512"},
    {"no alg", "rsa1", NULL, AF_ERR_INVALID, NULL, "null"},
};

START_TEST(test_jwks_find)
{
    struct af_key *extra = NULL, *key = NULL;
    json_t *jwks = json_of(JWKS_BASE), *pub = NULL;
    struct af_err err;
    af_rc rc;

    /* a second EC key, to make ES256 ambiguous without a kid */
    ck_assert_int_eq(af_key_generate(AF_ALG_ES256, &extra, NULL), AF_OK);
    ck_assert_int_eq(af_key_set_kid(extra, "ec2"), AF_OK);
    ck_assert_int_eq(af_key_public_jwk(extra, &pub), AF_OK);
    ck_assert_int_eq(json_array_append_new(json_object_get(jwks, "keys"), pub), 0);

    af_err_clear(&err);
    rc = af_jwks_find(jwks, jwks_cases[_i].kid, jwks_cases[_i].alg, &key, &err);
    ck_assert_msg(rc == jwks_cases[_i].rc, "%s: %s (%s)", jwks_cases[_i].why, af_rc_str(rc),
                  err.msg);
    if (rc == AF_OK) {
        ck_assert_str_eq(af_key_kid(key), jwks_cases[_i].want_kid);
        ck_assert_str_eq(af_alg_name(af_key_alg(key)), jwks_cases[_i].alg);
    } else {
        ck_assert_ptr_null(key);
        ck_assert_msg(strstr(err.msg, jwks_cases[_i].msg) != NULL,
                      "%s: message \"%s\" lacks \"%s\"", jwks_cases[_i].why, err.msg,
                      jwks_cases[_i].msg);
    }
    af_key_free(key);
    af_key_free(extra);
    json_decref(jwks);
}
END_TEST

START_TEST(test_jwks_found_key_verifies)
{
    json_t *jwks = json_of(JWKS_BASE);
    json_t *bad = json_of("{\"keys\":{}}");
    struct af_key *key = NULL;
    struct af_jws *jws = NULL;
    struct af_err err;

    af_err_clear(&err);
    ck_assert_int_eq(af_jws_parse(A2_JWS, &jws, NULL), AF_OK);
    ck_assert_int_eq(af_jwks_find(jwks, "rsa1", af_jws_alg_str(jws), &key, &err), AF_OK);
    ck_assert_int_eq(af_jws_verify(jws, key, &err), AF_OK);
    af_key_free(key);
    key = NULL;
    ck_assert_int_eq(af_jwks_find(bad, NULL, "RS256", &key, &err), AF_ERR_PARSE);
    ck_assert_int_eq(af_jwks_find(jwks, NULL, "HS256", &key, &err), AF_ERR_NOTFOUND);
    af_jws_free(jws);
    json_decref(bad);
    json_decref(jwks);
}
END_TEST

/* ---- at_hash / c_hash ---- */

static const struct {
    const char *section;
    af_alg alg;
    const char *value;
    const char *hash; /* NULL: computed independently with SHA-512 */
} half_cases[] = {
    {"OIDC Core A.3 at_hash", AF_ALG_RS256, "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y",
     "77QmUPtjPfzWtF2AnpK9RQ"},
    {"OIDC Core A.4 c_hash", AF_ALG_RS256,
     "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk", "LDktKdoQak3Pk0cnXxCltA"},
    {"OIDC Core §3.1.3.6 (SHA-256 for ES256)", AF_ALG_ES256,
     "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", "77QmUPtjPfzWtF2AnpK9RQ"},
    {"OIDC Core §3.1.3.6 (SHA-256 for PS256)", AF_ALG_PS256,
     "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", "77QmUPtjPfzWtF2AnpK9RQ"},
    {"OIDC Core §3.1.3.6 (SHA-256 for HS256)", AF_ALG_HS256,
     "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", "77QmUPtjPfzWtF2AnpK9RQ"},
    {"OIDC Core §3.1.3.6 (SHA-512 for Ed25519)", AF_ALG_EDDSA,
     "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", NULL},
};

START_TEST(test_half_hash)
{
    unsigned char md[64];
    char *h = NULL, *want;

    ck_assert_int_eq(af_oidc_half_hash(half_cases[_i].alg, half_cases[_i].value, &h), AF_OK);
    if (half_cases[_i].hash) {
        ck_assert_str_eq(h, half_cases[_i].hash);
    } else {
        SHA512((const unsigned char *)half_cases[_i].value, strlen(half_cases[_i].value), md);
        want = b64u(md, 32);
        ck_assert_str_eq(h, want);
        ck_assert_uint_eq(strlen(h), 43);
        free(want);
    }
    free(h);
}
END_TEST

START_TEST(test_half_hash_refused)
{
    char *h = NULL;
    ck_assert_int_eq(af_oidc_half_hash(AF_ALG_NONE, "x", &h), AF_ERR_INVALID);
    ck_assert_ptr_null(h);
    ck_assert_int_eq(af_oidc_half_hash(AF_ALG_UNKNOWN, "x", &h), AF_ERR_INVALID);
    ck_assert_int_eq(af_oidc_half_hash(AF_ALG_RS256, NULL, &h), AF_ERR_INVALID);
}
END_TEST

static Suite *jose_suite(void)
{
    Suite *s = suite_create("jose");
    TCase *tc = tcase_create("names");
#define LOOP(tc, fn, table) tcase_add_loop_test(tc, fn, 0, (int)(sizeof(table) / sizeof(table[0])))

    LOOP(tc, test_alg_parse, alg_cases);
    tcase_add_test(tc, test_alg_name_never_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("vectors");
    tcase_set_timeout(tc, 120);
    LOOP(tc, test_thumbprint, thumb_cases);
    LOOP(tc, test_vector_verify, vec_cases);
    LOOP(tc, test_vector_sign, kat_cases);
    tcase_add_test(tc, test_rfc8037_key_thumbprint_as_kid);
    LOOP(tc, test_half_hash, half_cases);
    tcase_add_test(tc, test_half_hash_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("roundtrip");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_roundtrip_independent, 0, N_ALGS);
    tcase_add_loop_test(tc, test_generate_export_import, 0, N_ALGS);
    tcase_add_loop_test(tc, test_pem_export_matches_openssl, 0, N_ALGS);
    tcase_add_test(tc, test_es256_zero_padding);
    tcase_add_test(tc, test_generate_none_refused);
    tcase_add_test(tc, test_set_kid_and_header_copy);
    tcase_add_test(tc, test_encode_unsigned);
    suite_add_tcase(s, tc);

    tc = tcase_create("negative");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_tampered, 0, N_ALGS);
    LOOP(tc, test_alg_rejected, alg_reject_cases);
    tcase_add_test(tc, test_alg_mismatch);
    tcase_add_test(tc, test_alg_confusion);
    tcase_add_test(tc, test_es256_wrong_length);
    tcase_add_test(tc, test_hs256_wrong_key_and_length);
    LOOP(tc, test_parse_rejects, parse_cases);
    LOOP(tc, test_claims, claims_cases);
    tcase_add_test(tc, test_parse_size_cap);
    tcase_add_test(tc, test_rsa_1024_refused);
    tcase_add_test(tc, test_pem_alg_mismatch);
    tcase_add_test(tc, test_pem_load_failures);
    tcase_add_test(tc, test_keyfile_create_then_load);
    tcase_add_test(tc, test_keyfile_concurrent);
    LOOP(tc, test_jwk_rejects, jwk_bad_cases);
    suite_add_tcase(s, tc);

    tc = tcase_create("jwks");
    tcase_set_timeout(tc, 120);
    LOOP(tc, test_jwks_find, jwks_cases);
    tcase_add_test(tc, test_jwks_found_key_verifies);
    suite_add_tcase(s, tc);
#undef LOOP
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(jose_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
