/* fuzz_suite.c - the suite and target profile loaders of authprobe
 * (src/probe/suite.c): the first input byte picks which one reads the
 * rest. */
#include "config.h"

#include "authflow/probe.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct af_err err;
    char *s;
    if (size < 1)
        return 0;
    s = fuzz_str(data + 1, size - 1);
    if (s == NULL)
        return 0;
    af_err_clear(&err);
    if (data[0] & 1) {
        struct af_target *t = NULL;
        if (af_target_load_string(s, "fuzz-target.json", &t, &err) == AF_OK)
            af_target_free(t);
    } else {
        struct af_suite *su = NULL;
        if (af_suite_load_string(s, "fuzz-suite.json", &su, &err) == AF_OK)
            af_suite_free(su);
    }
    free(s);
    return 0;
}
