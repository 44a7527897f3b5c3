/*
 * fuzz_jose.c - compact JWS parsing and JWK/JWKS import (src/jose/). The
 * input is "TOKEN\x01JWKS": the token goes to af_jws_parse (and is
 * verified with the key the JWKS gives for its kid and alg), the JWKS text
 * to jansson and af_jwks_find / af_key_from_jwk.
 */
#include "config.h"

#include <jansson.h>

#include "authflow/jose.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct af_jws *jws = NULL;
    struct af_key *key = NULL;
    struct af_err err;
    json_t *jwks = NULL, *k;
    char *s = fuzz_str(data, size), *parts[2];
    size_t i;
    if (s == NULL)
        return 0;
    fuzz_split(s, '\x01', parts, 2);
    af_err_clear(&err);
    if (af_jws_parse(parts[0], &jws, &err) != AF_OK)
        jws = NULL;
    jwks = json_loads(parts[1], JSON_REJECT_DUPLICATES, NULL);
    json_array_foreach(json_object_get(jwks, "keys"), i, k)
    {
        if (af_key_from_jwk(k, &key, &err) == AF_OK) {
            char *tp = NULL;
            if (af_key_thumbprint(key, &tp) == AF_OK)
                free(tp);
            af_key_free(key);
            key = NULL;
        }
    }
    if (jws != NULL && jwks != NULL) {
        const char *kid = json_string_value(json_object_get(af_jws_header(jws), "kid"));
        if (af_jwks_find(jwks, kid, af_jws_alg_str(jws), &key, &err) == AF_OK) {
            if (af_jws_verify(jws, key, &err) != AF_OK) {
                /* most signatures are wrong */
            }
            af_key_free(key);
        }
    }
    json_decref(jwks);
    af_jws_free(jws);
    free(s);
    return 0;
}
