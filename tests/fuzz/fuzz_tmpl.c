/*
 * fuzz_tmpl.c - templates (src/probe/tmpl.c): the loader's check, then the
 * expansion against a small scope (target, meta, vars) with every filter
 * reachable, and the variable-name check.
 */
#include "config.h"

#include "fuzz.h"
#include "probe/probe_int.h"

static const char root_json[] =
    "{\"target\": {\"issuer\": \"http://127.0.0.1:9000\", \"clients\": {\"main\": {\"id\": \"c\", "
    "\"secret\": \"s\", \"redirect_uri\": \"http://127.0.0.1:8765/cb\"}}, \"user\": {\"password\": "
    "\"p\"}, \"list\": [1, \"two\", {\"three\": 3}]}, \"meta\": {\"token_endpoint\": "
    "\"http://127.0.0.1:9000/token\"}, \"vars\": {\"scope\": \"openid email\"}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct af_scope sc;
    struct af_err err;
    json_t *root;
    char *s = fuzz_str(data, size), *out = NULL;
    const char *why;
    bool omit = false;
    if (s == NULL)
        return 0;
    af_err_clear(&err);
    (void)af_var_name_valid(s, &why);
    if (af_tmpl_check(s, &err) == AF_OK) {
        root = json_loads(root_json, 0, NULL);
        if (root != NULL && af_scope_init(&sc, root) == AF_OK) {
            if (af_tmpl_expand_str(&sc, s, &out, &omit, &err) == AF_OK)
                free(out);
            af_scope_clear(&sc);
        }
        json_decref(root);
    }
    free(s);
    return 0;
}
