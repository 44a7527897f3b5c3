/*
 * fuzz_hop.c - what authprobe derives from a target's answer, and the
 * selectors read over it (src/probe/http.c views, select.c): the input is
 * "SELECTOR\x01STATUS\x01HEADERS\x01BODY" with HEADERS as "name: value"
 * lines. The derived views (JSON body, Location and its parameters, forms)
 * are built, then the selector and a fixed set are evaluated, and every
 * value is made printable (af_sv_text).
 */
#include "config.h"

#include "fuzz.h"
#include "probe/probe_int.h"

static const char *const fixed[] = {
    "status",
    "location",
    "params.code",
    "params.error",
    "json.error",
    "json.keys[0].kid",
    "header.Cache-Control",
    "body",
    "form.action",
    "forms",
    "json",
    "params",
};

static void eval(const struct af_sel_ctx *cx, const char *sel)
{
    struct af_sv v;
    struct af_err err;
    af_err_clear(&err);
    memset(&v, 0, sizeof(v));
    if (strncmp(sel, "cookie", 6) == 0 || af_sel_check(sel, &err) != AF_OK)
        return;
    if (af_sel_eval(cx, sel, &v, &err) == AF_OK)
        free(af_sv_text(&v));
    af_sv_clear(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct af_hop hop;
    struct af_sel_ctx cx;
    struct af_scope sc;
    json_t *root = json_object();
    char *s = fuzz_str(data, size), *parts[4], *line, *save = NULL;
    const char *why;
    size_t i, n;
    if (s == NULL || root == NULL || af_scope_init(&sc, root) != AF_OK) {
        free(s);
        json_decref(root);
        return 0;
    }
    fuzz_split(s, '\x01', parts, 4);
    af_hop_init(&hop);
    hop.method = strdup("GET");
    hop.url = strdup("http://127.0.0.1:9000/authorize?x=1");
    hop.status = strtol(parts[1], NULL, 10);
    for (line = strtok_r(parts[2], "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        char *colon = strchr(line, ':');
        if (colon == NULL)
            continue;
        *colon = '\0';
        if (af_params_add(&hop.headers, line, colon + 1 + (colon[1] == ' ')) != AF_OK)
            break;
    }
    af_buf_init(&hop.body, 1024 * 1024);
    if (af_buf_adds(&hop.body, parts[3]) == AF_OK) {
        (void)af_hop_json(&hop);
        (void)af_hop_location(&hop);
        (void)af_hop_forms(&hop, &n);
        (void)af_hop_params(&hop, &why);
        (void)af_hop_is_html(&hop);
    }
    memset(&cx, 0, sizeof(cx));
    cx.hop = &hop;
    cx.sc = &sc;
    cx.nhops = 1;
    eval(&cx, parts[0]);
    for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        eval(&cx, fixed[i]);
    af_hop_clear(&hop);
    af_scope_clear(&sc);
    json_decref(root);
    free(s);
    return 0;
}
