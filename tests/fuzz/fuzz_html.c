/* fuzz_html.c - HTML form and link extraction and entity decoding
 * (src/probe/html.c), as authprobe reads a target's login page. */
#include "config.h"

#include "fuzz.h"
#include "probe/probe_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct af_form *forms = NULL;
    struct af_link *links = NULL;
    struct af_buf b;
    size_t n = 0;
    if (size > FUZZ_MAX_INPUT)
        return 0;
    if (af_html_forms((const char *)data, size, &forms, &n) == AF_OK)
        af_html_forms_free(forms, n);
    if (af_html_links((const char *)data, size, &links, &n) == AF_OK)
        af_html_links_free(links, n);
    af_buf_init(&b, 4 * size + 16);
    if (af_html_unescape(&b, (const char *)data, size) != AF_OK) {
        /* refused or over the cap */
    }
    af_buf_free(&b);
    return 0;
}
