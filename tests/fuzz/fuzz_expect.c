/* fuzz_expect.c - the suite loader's checks of expectations, conditions,
 * `on` values and templates in a JSON tree (src/probe/expect.c, tmpl.c). */
#include "config.h"

#include "fuzz.h"
#include "probe/probe_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct af_buf path;
    struct af_err err;
    json_t *v;
    if (size > FUZZ_MAX_INPUT)
        return 0;
    v = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    if (v == NULL)
        return 0;
    af_buf_init(&path, 4096);
    af_err_clear(&err);
    if (af_expect_check(v, &path, &err) != AF_OK) {
        /* most trees are not expectations */
    }
    af_buf_reset(&path);
    if (af_conds_check(v, &path, &err) != AF_OK) {
    }
    if (af_on_check(v, &err) != AF_OK) {
    }
    af_buf_reset(&path);
    if (af_tmpl_tree_check(v, &path, &err) != AF_OK) {
    }
    af_buf_free(&path);
    json_decref(v);
    return 0;
}
