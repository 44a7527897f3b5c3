/*
 * fuzz_admin.c - the admin API's JSON bodies (src/server/h_admin.c,
 * h_admin_scen.c, admin_tokens.c): POST /admin/tokens (a mint request,
 * signed and stored when valid) and POST /admin/scenarios (queued, then
 * listed). The input is one selector byte, then the body:
 *   bit 0  0: /admin/tokens, 1: /admin/scenarios
 *   bit 1  no Content-Type (the 415 path)
 * Every answer must be JSON; a 200 mint names an access_token.
 */
#include "config.h"

#include "authflow/proto.h"
#include "fuzz.h"
#include "fuzz_server.h"
#include "server/admin.h"
#include "server/routes.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_server_init();
    return 0;
}

/* answer_json: resp's body as JSON; abort() when it is not. New reference. */
static json_t *answer_json(const struct af_resp *resp)
{
    json_t *o = json_loadb(resp->body.p ? resp->body.p : "", resp->body.len, 0, NULL);

    if (o == NULL || resp->ctype == NULL || strcmp(resp->ctype, AF_CT_JSON) != 0)
        abort();
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct af_req req;
    struct af_resp resp;
    struct af_params hdrs;
    json_t *o = NULL;
    bool scen;

    if (size < 1 || size > AF_ADMIN_MAX_BODY + 1)
        return 0;
    scen = data[0] & 1;
    fuzz_server_reset(0);
    fuzz_req_init(&req, AF_M_POST, scen ? AF_ADMIN_SCENARIOS : AF_ADMIN_TOKENS);
    fuzz_resp_init(&resp);
    af_params_init(&hdrs, 4);
    if (!(data[0] & 2) && af_params_add(&hdrs, AF_HDR_CONTENT_TYPE, AF_CT_JSON) != AF_OK)
        goto out;
    req.hdrs = &hdrs;
    if (af_buf_add(&req.body, data + 1, size - 1) != AF_OK)
        goto out;
    if (scen)
        af_h_admin_scenarios(&req, &resp);
    else
        af_h_admin_tokens(&req, &resp);
    o = answer_json(&resp);
    if (resp.status == 200 && !scen &&
        json_string_value(json_object_get(o, "access_token")) == NULL)
        abort();
    if (scen && resp.status == 201) {
        /* what was queued, as GET /admin/scenarios shows it */
        json_decref(o);
        fuzz_resp_free(&resp);
        fuzz_resp_init(&resp);
        req.method = AF_M_GET;
        af_h_admin_scenarios(&req, &resp);
        o = answer_json(&resp);
        if (resp.status != 200)
            abort();
    }
out:
    json_decref(o);
    af_params_free(&hdrs);
    fuzz_req_free(&req);
    fuzz_resp_free(&resp);
    return 0;
}
