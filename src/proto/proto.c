/* proto.c - small helpers over the wire names of proto.h. */
#include "config.h"

#include <string.h>
#include <strings.h>

#include <openssl/sha.h>

#include "authflow/proto.h"
#include "authflow/util.h"

int af_proto_error_code_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    if (s == NULL || *s == '\0')
        return 0;
    for (; *p; p++) {
        if (*p < 0x20 || *p > 0x7E || *p == 0x22 || *p == 0x5C)
            return 0;
    }
    return 1;
}

af_rc af_pkce_s256(const char *verifier, struct af_buf *out)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)verifier, strlen(verifier), md);
    return af_b64url_encode(out, md, sizeof(md));
}

int af_pkce_verifier_valid(const char *v)
{
    size_t n = 0;
    const unsigned char *p;
    if (v == NULL)
        return 0;
    for (p = (const unsigned char *)v; *p; p++, n++) {
        unsigned char c = *p;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_' || c == '~'))
            return 0;
    }
    return n >= 43 && n <= 128;
}

/* The union of what the ledger and the trace each redacted before they
 * shared this table: a name in either list stays redacted in both. */
static const struct {
    const char *name;
    af_secret_kind kind;
} secret_names[] = {
    {AF_P_CLIENT_SECRET, AF_SECRET_CREDENTIAL},
    {AF_P_PASSWORD, AF_SECRET_CREDENTIAL},
    {AF_P_CLIENT_ASSERTION, AF_SECRET_CREDENTIAL}, /* a credential as good as a secret */
    {AF_P_ASSERTION, AF_SECRET_CREDENTIAL},        /* an assertion grant's credential */
    {AF_P_SUBJECT_TOKEN, AF_SECRET_CREDENTIAL},    /* token exchange credentials */
    {AF_P_ACTOR_TOKEN, AF_SECRET_CREDENTIAL},
    {AF_P_DEVICE_CODE, AF_SECRET_CREDENTIAL}, /* redeemable like a code */
    {AF_P_SECRET, AF_SECRET_CREDENTIAL},
    {AF_HDR_AUTHORIZATION, AF_SECRET_CREDENTIAL},
    {AF_HDR_COOKIE, AF_SECRET_CREDENTIAL},
    {AF_HDR_SET_COOKIE, AF_SECRET_CREDENTIAL},
    {AF_P_CODE_VERIFIER, AF_SECRET_VERIFIER},
    {AF_P_CODE, AF_SECRET_TOKEN},
    {AF_P_ACCESS_TOKEN, AF_SECRET_TOKEN},
    {AF_P_REFRESH_TOKEN, AF_SECRET_TOKEN},
    {AF_P_ID_TOKEN, AF_SECRET_TOKEN},
    {AF_P_ID_TOKEN_HINT, AF_SECRET_TOKEN},
    {AF_P_TOKEN, AF_SECRET_TOKEN},
    {AF_P_LOGOUT_TOKEN, AF_SECRET_TOKEN},
};

af_secret_kind af_proto_secret_kind(const char *name)
{
    size_t i;
    for (i = 0; i < sizeof(secret_names) / sizeof(secret_names[0]); i++)
        if (strcasecmp(name, secret_names[i].name) == 0)
            return secret_names[i].kind;
    return AF_SECRET_NONE;
}

bool af_proto_is_secret_param(const char *name)
{
    return af_proto_secret_kind(name) != AF_SECRET_NONE;
}
