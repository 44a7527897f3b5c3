/* proto.c - small helpers over the wire names of proto.h. */
#include "config.h"

#include <string.h>

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
