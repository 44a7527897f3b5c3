/* fuzz_cfg.c - authflowd's config loader (src/cfg/cfg.c) on any text. */
#include "config.h"

#include "authflow/cfg.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct af_config *cfg = NULL;
    struct af_err err;
    char *s = fuzz_str(data, size);
    if (s == NULL)
        return 0;
    af_err_clear(&err);
    if (af_cfg_load_string(s, "fuzz.json", &cfg, &err) == AF_OK)
        af_cfg_free(cfg);
    free(s);
    return 0;
}
