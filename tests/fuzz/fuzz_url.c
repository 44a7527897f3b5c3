/*
 * fuzz_url.c - percent-decoding, form and query parsing, base64url, URL
 * comparison and resolution, and the text escaper (src/common/url.c,
 * src/probe/http.c). The input is "a\x01b": a and b are two URLs or
 * strings. af_text_escape must always give valid UTF-8 without controls.
 */
#include "config.h"

#include "authflow/util.h"
#include "fuzz.h"
#include "probe/probe_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct af_params p;
    struct af_buf b;
    struct af_err err;
    char *s = fuzz_str(data, size), *dec = NULL, *res = NULL, *parts[2];
    size_t i;
    if (s == NULL)
        return 0;
    /* the escaper on the raw bytes, NULs included */
    af_buf_init(&b, 8 * size + 16);
    if (af_text_escape(&b, (const char *)data, size) == AF_OK) {
        if (!af_utf8_valid(b.p ? b.p : "", b.len))
            abort();
        for (i = 0; i < b.len; i++)
            if ((unsigned char)b.p[i] < 0x20 && b.p[i] != '\t' && b.p[i] != '\n')
                abort();
    }
    af_buf_free(&b);
    af_err_clear(&err);
    if (af_url_decode(s, strlen(s), true, &dec, &err) == AF_OK)
        free(dec);
    af_params_init(&p, 512);
    if (af_params_parse(&p, s, strlen(s), &err) == AF_OK) {
        af_buf_init(&b, 1024 * 1024);
        (void)af_params_first_dup(&p);
        if (af_params_encode(&p, &b) != AF_OK) {
            /* over the cap: nothing to check */
        }
        af_buf_free(&b);
    }
    af_params_free(&p);
    af_buf_init(&b, 1024 * 1024);
    if (af_b64url_decode(&b, s, strlen(s)) != AF_OK) {
        /* most inputs are not base64url */
    }
    af_buf_free(&b);
    fuzz_split(s, '\x01', parts, 2);
    (void)af_url_same_endpoint(parts[0], parts[1]);
    (void)af_url_same_endpoint(parts[0], parts[0]);
    if (af_url_resolve(parts[0], parts[1], &res) == AF_OK)
        free(res);
    free(s);
    return 0;
}
