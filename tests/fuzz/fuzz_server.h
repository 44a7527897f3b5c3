/*
 * fuzz_server.h - what the harnesses of authflowd's handlers share: a
 * server built by hand (no daemon, no thread), as the unit tests build one
 * (tests/check_server.c), and a request without a connection whose
 * headers and cookies come from lists (struct af_req hdrs, cookies).
 * See tests/fuzz/README.md.
 */
#ifndef AUTHFLOW_FUZZ_SERVER_H
#define AUTHFLOW_FUZZ_SERVER_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authflow/cfg.h"
#include "authflow/jose.h"
#include "authflow/util.h"
#include "server/core.h"
#include "server/http_req.h"
#include "server/keyring.h"
#include "server/ledger.h"
#include "server/registry.h"
#include "server/scenario.h"
#include "server/store.h"

/* Two clients (a confidential one, a public one with PKCE), two users
 * (one with a password), the interactive login page, a config scenario. */
static const char fuzz_server_config[] =
    "{\"issuer\": \"https://as.example\","
    " \"login\": {\"interactive\": true},"
    " \"clients\": ["
    "  {\"client_id\": \"app\", \"client_secret\": \"s3cret\","
    "   \"redirect_uris\": [\"https://rp.example/cb\"],"
    "   \"grant_types\": [\"authorization_code\", \"refresh_token\", \"client_credentials\"],"
    "   \"scope\": \"openid profile email roles\"},"
    "  {\"client_id\": \"spa\", \"token_endpoint_auth_method\": \"none\","
    "   \"redirect_uris\": [\"http://127.0.0.1:5173/cb\"],"
    "   \"grant_types\": [\"authorization_code\"], \"scope\": \"openid\", \"require_pkce\": true}],"
    " \"users\": ["
    "  {\"sub\": \"u-1\", \"username\": \"alice\", \"password\": \"pw\","
    "   \"claims\": {\"email\": \"alice@example.com\", \"roles\": [\"admin\"]}},"
    "  {\"sub\": \"u-2\", \"username\": \"bob\"}],"
    " \"scenarios\": [{\"name\": \"token_delay\", \"client\": \"spa\", \"times\": 1}]}";

/* The server, built once per process (libFuzzer runs one input at a
 * time); its store, scenario queue and ledger are made anew per input by
 * fuzz_server_reset so that an input's outcome does not depend on the
 * ones before it. */
static struct af_server fuzz_srv;

/* fuzz_server_init: build fuzz_srv; aborts on failure (a broken harness,
 * not a finding). */
static inline void fuzz_server_init(void)
{
    struct af_config *cfg = NULL;
    struct af_err err;
    struct af_key *key = NULL;

    af_err_clear(&err);
    if (af_cfg_load_string(fuzz_server_config, "fuzz", &cfg, &err) != AF_OK) {
        fprintf(stderr, "fuzz_server_init: %s\n", err.msg);
        abort();
    }
    af_clock_freeze(1700000000); /* the same times for every input */
    fuzz_srv.cfg = cfg;
    fuzz_srv.issuer = strdup(cfg->issuer);
    /* the ring takes its own reference to the key */
    if (fuzz_srv.issuer == NULL || af_key_generate(AF_ALG_ES256, &key, &err) != AF_OK ||
        af_keyring_new(&fuzz_srv, &key, 1, &fuzz_srv.keyring, &err) != AF_OK ||
        af_registry_new(cfg, &fuzz_srv.reg) != AF_OK) {
        fprintf(stderr, "fuzz_server_init: %s\n", err.msg);
        abort();
    }
    af_key_free(key);
    memset(fuzz_srv.csrf_key, 7, sizeof(fuzz_srv.csrf_key));
}

/* fuzz_server_reset: a fresh store, scenario engine (with the config's
 * scenario queued) and ledger of ledger_cap entries (0: none). */
static inline void fuzz_server_reset(size_t ledger_cap)
{
    struct af_err err;
    /* no sweeper thread: libFuzzer runs one input at a time */
    struct af_store_limits lim = {
        .max_codes = 64, .max_tokens = 64, .revoke_keep = 3600, .no_sweeper = true};

    af_err_clear(&err);
    af_store_free(fuzz_srv.store);
    af_scen_engine_free(fuzz_srv.scen);
    af_ledger_free(fuzz_srv.ledger);
    fuzz_srv.store = NULL;
    fuzz_srv.scen = NULL;
    fuzz_srv.ledger = NULL;
    if (af_store_new(&lim, &fuzz_srv.store) != AF_OK ||
        af_scen_engine_new(&fuzz_srv, &fuzz_srv.scen, &err) != AF_OK ||
        (ledger_cap > 0 && af_ledger_new(ledger_cap, &fuzz_srv.ledger) != AF_OK)) {
        fprintf(stderr, "fuzz_server_reset: %s\n", err.msg);
        abort();
    }
}

/* fuzz_req_init: a request to path by method, without a connection; free
 * with fuzz_req_free. */
static inline void fuzz_req_init(struct af_req *req, af_method method, const char *path)
{
    memset(req, 0, sizeof(*req));
    req->srv = &fuzz_srv;
    req->method = method;
    req->method_str = method == AF_M_POST ? "POST" : method == AF_M_DELETE ? "DELETE" : "GET";
    req->path = (char *)path; /* never freed: fuzz_req_free leaves it */
    req->raw_query = (char *)"";
    af_params_init(&req->query, fuzz_srv.cfg->max_params);
    af_params_init(&req->form, fuzz_srv.cfg->max_params);
    af_buf_init(&req->body, fuzz_srv.cfg->max_body);
}

static inline void fuzz_req_free(struct af_req *req)
{
    free(req->facts.client_id);
    free(req->facts.granted_scope);
    af_params_free(&req->query);
    af_params_free(&req->form);
    af_buf_free(&req->body);
}

static inline void fuzz_resp_init(struct af_resp *resp)
{
    memset(resp, 0, sizeof(*resp));
    af_params_init(&resp->headers, 32);
    af_buf_init(&resp->body, 4 * 1024 * 1024);
}

static inline void fuzz_resp_free(struct af_resp *resp)
{
    af_params_free(&resp->headers);
    af_buf_free(&resp->body);
}

/* fuzz_record: the ledger entry of req and resp, as server.c would make
 * it, added to the ledger when there is one. */
static inline void fuzz_record(const struct af_req *req, const struct af_resp *resp)
{
    char *code = NULL;
    json_t *e = af_ledger_entry(req, resp, &code);

    if (fuzz_srv.ledger != NULL) {
        af_ledger_add(fuzz_srv.ledger, e, code);
    } else {
        json_decref(e);
        free(code);
    }
}

#endif
