/*
 * fuzz_ledger.c - the request ledger (src/server/ledger.c) from both ends:
 * an entry built from a request whose query and form are the input (names
 * and values redacted, cut, escaped when not UTF-8), and GET /admin/ledger
 * (h_admin_scen.c) with the input as its query: the filter parameters
 * (since, path, method, client_id or client, code, limit) parsed as
 * server.c and the handler do, against a ring that has wrapped. The
 * answer must be JSON, with count within the limit.
 */
#include "config.h"

#include "authflow/proto.h"
#include "fuzz.h"
#include "fuzz_server.h"
#include "server/routes.h"

#define RING 4

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_server_init();
    return 0;
}

/* record: an entry for a request to path by client with a code parameter. */
static void record(const char *path, const char *client, const char *code)
{
    struct af_req req;
    struct af_resp resp;

    fuzz_req_init(&req, AF_M_POST, path);
    fuzz_resp_init(&resp);
    if (af_params_add(&req.form, AF_P_CLIENT_ID, client) == AF_OK &&
        (code == NULL || af_params_add(&req.form, AF_P_CODE, code) == AF_OK)) {
        af_resp_oauth_error(&resp, 400, AF_E_INVALID_GRANT, NULL);
        fuzz_record(&req, &resp);
    }
    fuzz_req_free(&req);
    fuzz_resp_free(&resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct af_req req;
    struct af_resp resp;
    struct af_err err;
    char *s = fuzz_str(data, size);
    json_t *o = NULL;
    json_int_t count;

    if (s == NULL)
        return 0;
    fuzz_server_reset(RING);
    /* more entries than the ring holds: dropped, next and the order of a
     * wrapped ring come into play */
    record(AF_EP_TOKEN, "app", "code-AAAA-full-value");
    record(AF_EP_AUTHORIZE, "spa", NULL);
    record(AF_EP_TOKEN, "app", "code-BBBB-full-value");
    record("/caf\xe9", "app\xff", "code-\xc3");
    /* the input as a request's raw query (read leniently, as for a 405)
     * and as its form */
    fuzz_req_init(&req, AF_M_POST, AF_EP_TOKEN);
    fuzz_resp_init(&resp);
    req.raw_query = s;
    af_err_clear(&err);
    if (af_params_parse(&req.form, s, strlen(s), &err) != AF_OK)
        af_params_free(&req.form);
    af_resp_redirect(&resp, 302, "https://rp.example/cb?error=access_denied");
    fuzz_record(&req, &resp);
    fuzz_req_free(&req);
    fuzz_resp_free(&resp);

    /* GET /admin/ledger?INPUT, as server.c's dispatch and the handler */
    fuzz_req_init(&req, AF_M_GET, AF_ADMIN_LEDGER);
    fuzz_resp_init(&resp);
    if (af_params_parse(&req.query, s, strlen(s), &err) != AF_OK)
        goto out;
    af_h_admin_ledger(&req, &resp);
    o = json_loadb(resp.body.p ? resp.body.p : "", resp.body.len, 0, NULL);
    if (o == NULL || (resp.status != 200 && resp.status != 400))
        abort();
    count = json_integer_value(json_object_get(o, AF_LEDGER_COUNT));
    if (resp.status == 200 &&
        (count > RING || (size_t)count != json_array_size(json_object_get(o, AF_LEDGER_ENTRIES))))
        abort();
out:
    json_decref(o);
    fuzz_req_free(&req);
    fuzz_resp_free(&resp);
    free(s);
    return 0;
}
