/* fuzz_clientauth.c - the Authorization header parsers of authflowd
 * (src/server/clientauth.c): the scheme match and HTTP Basic. */
#include "config.h"

#include "fuzz.h"
#include "server/clientauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size), *id = NULL, *secret = NULL;
    if (s == NULL)
        return 0;
    (void)af_auth_scheme_match(s, "Basic");
    (void)af_auth_scheme_match(s, "Bearer");
    if (af_basic_parse(s, &id, &secret) == AF_OK) {
        free(id);
        free(secret);
    }
    free(s);
    return 0;
}
