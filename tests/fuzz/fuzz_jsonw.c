/*
 * fuzz_jsonw.c - the compact JSON writer (src/common/jsonw.c) against
 * jansson's own: the input is parsed by jansson (any value, NULs allowed
 * in strings), and af_jsonw_dumps must give exactly json_dumps' text, or
 * fail exactly where json_dumps fails.
 */
#include "config.h"

#include <jansson.h>

#include "authflow/jsonw.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v;
    char *ours, *theirs;

    if (size > FUZZ_MAX_INPUT)
        return 0;
    v = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (v == NULL)
        return 0;
    ours = af_jsonw_dumps(v);
    theirs = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if ((ours == NULL) != (theirs == NULL) || (ours != NULL && strcmp(ours, theirs) != 0))
        abort();
    free(ours);
    free(theirs);
    json_decref(v);
    return 0;
}
