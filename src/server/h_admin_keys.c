/*
 * h_admin_keys.c - the admin API's key routes (docs/admin.md, "Keys"):
 * GET /admin/keys lists the published keys, POST /admin/keys adds one
 * (generated, or a PEM in the request), DELETE /admin/keys?kid= retires
 * one after a grace period, POST /admin/keys/signing picks the signing
 * key. Requests are read as strictly as the config's keys[] rows: unknown
 * members, wrong types and values are refused, each error naming the
 * member at fault. The key ring (keyring.h) does the rest.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "authflow/cfg.h"
#include "authflow/jose.h"
#include "authflow/proto.h"
#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/admin.h"
#include "server/core.h"
#include "server/http_req.h"
#include "server/keyring.h"
#include "server/keyshare.h"
#include "server/routes.h"

/* The longest kid accepted (a thumbprint is 43 characters). */
#define KEYS_KID_MAX 128

static const char *const add_members[] = {AF_KEYS_ALG, AF_KEYS_PEM, AF_KEYS_KID, AF_KEYS_SIGN,
                                          NULL};

static bool member_known(const char *key)
{
    for (size_t i = 0; add_members[i] != NULL; i++) {
        if (strcmp(add_members[i], key) == 0)
            return true;
    }
    return false;
}

/* kid_problem: NULL when kid is a fit key ID (1..KEYS_KID_MAX printable
 * ASCII characters, as the config's keys[].kid), else why not (static). */
static const char *kid_problem(const char *kid)
{
    size_t n = strlen(kid);

    if (n == 0 || n > KEYS_KID_MAX)
        return "expected 1 to 128 characters";
    for (const unsigned char *p = (const unsigned char *)kid; *p; p++) {
        if (*p < 0x20 || *p > 0x7E)
            return "contains a character outside %x20-7E (printable ASCII)";
    }
    return NULL;
}

/* read_alg: the "alg" member, read as the config's keys[].alg is; false
 * with resp set when refused. */
static bool read_alg(const json_t *body, af_alg *out, struct af_resp *resp)
{
    const char *name = json_string_value(json_object_get(body, AF_KEYS_ALG));
    char msg[320];

    if (name == NULL) {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                       AF_KEYS_ALG ": required, a string: \"RS256\", \"PS256\", \"ES256\" or "
                                   "\"EdDSA\"");
        return false;
    }
    if (af_cfg_key_alg_parse(name, out, msg, sizeof(msg)) != NULL) {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST, AF_KEYS_ALG ": %s", msg);
        return false;
    }
    return true;
}

/* read_key: the key the add request describes, generated or from "pem",
 * its kid set; false with resp set when refused. Caller frees *out. */
static bool read_key(const json_t *body, struct af_key **out, bool *sign, struct af_resp *resp)
{
    const json_t *pem = json_object_get(body, AF_KEYS_PEM), *kidv, *signv;
    const char *key, *kid = NULL, *why;
    struct af_key *k = NULL;
    struct af_err err;
    af_alg alg = AF_ALG_UNKNOWN;
    bool ok = false;
    json_t *v;
    af_rc rc;

    *out = NULL;
    af_err_clear(&err);
    json_object_foreach((json_t *)body, key, v)
    {
        if (!member_known(key)) {
            af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                           "%.64s: unknown member (expected one of: " AF_KEYS_ALG ", " AF_KEYS_PEM
                           ", " AF_KEYS_KID ", " AF_KEYS_SIGN ")",
                           key);
            goto out;
        }
    }
    if (!read_alg(body, &alg, resp))
        goto out;
    if (pem != NULL && !json_is_null(pem) &&
        (!json_is_string(pem) || json_string_length(pem) == 0)) {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                       AF_KEYS_PEM ": expected a private key in PEM (a string) or null");
        goto out;
    }
    kidv = json_object_get(body, AF_KEYS_KID);
    if (kidv != NULL && !json_is_null(kidv)) {
        kid = json_string_value(kidv);
        why = kid ? kid_problem(kid) : "expected a string or null";
        if (why != NULL) {
            af_admin_error(resp, 400, AF_E_INVALID_REQUEST, AF_KEYS_KID ": %s", why);
            goto out;
        }
    }
    signv = json_object_get(body, AF_KEYS_SIGN);
    if (signv != NULL && !json_is_boolean(signv)) {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST, AF_KEYS_SIGN ": expected true or false");
        goto out;
    }
    *sign = signv != NULL && json_is_true(signv);
    if (pem != NULL && json_is_string(pem))
        rc = af_key_from_pem(json_string_value(pem), json_string_length(pem), alg, AF_KEYS_PEM, &k,
                             &err);
    else
        rc = af_key_generate(alg, &k, &err);
    if (rc == AF_ERR_NOMEM || (rc != AF_OK && pem == NULL)) {
        af_admin_error(resp, 500, AF_E_SERVER_ERROR, "cannot make the key: %s", err.msg);
        goto out;
    }
    if (rc != AF_OK) {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST, "%s", err.msg);
        goto out;
    }
    if (kid != NULL && af_key_set_kid(k, kid) != AF_OK) {
        af_admin_error(resp, 500, AF_E_SERVER_ERROR, "out of memory");
        goto out;
    }
    *out = k;
    k = NULL;
    ok = true;
out:
    af_key_free(k);
    return ok;
}

/* ring_error: the answer to a refusal of the ring: 404 for an unknown kid,
 * 409 for a key in the wrong state or a full ring. */
static void ring_error(struct af_resp *resp, af_rc rc, const char *member, const struct af_err *err)
{
    if (rc == AF_ERR_NOTFOUND)
        af_admin_error(resp, 404, "not_found", "%s: %s", member, err->msg);
    else if (rc == AF_ERR_STATE || rc == AF_ERR_TOOBIG)
        af_admin_error(resp, 409, AF_E_INVALID_REQUEST, "%s: %s", member, err->msg);
    else
        af_admin_error(resp, 500, AF_E_SERVER_ERROR, "%s", err->msg);
}

static void keys_add(struct af_req *req, struct af_resp *resp)
{
    json_t *body = af_admin_json_body(req, resp), *entry = NULL;
    struct af_key *key = NULL, *shared = NULL;
    struct af_err err;
    bool sign = false;
    af_rc rc;

    af_err_clear(&err);
    if (body == NULL || !read_key(body, &key, &sign, resp))
        goto out;
    shared = af_key_ref(key); /* to tell the other replicas, once published */
    rc = af_keyring_add(req->srv->keyring, key, sign, &entry, &err);
    key = NULL; /* taken */
    if (rc != AF_OK) {
        ring_error(resp, rc, AF_KEYS_KID, &err);
        goto out;
    }
    af_keyshare_added(req->srv->keyshare, shared, sign);
    af_resp_json(resp, 201, entry);
    af_resp_no_store(resp);
out:
    af_key_free(shared);
    json_decref(entry);
    json_decref(body);
}

/* default_grace: the longer token lifetime: every token the key signed has
 * expired when it goes. */
static long default_grace(const struct af_req *req)
{
    const struct af_config *cfg = req->srv->cfg;
    return cfg->access_token_ttl > cfg->id_token_ttl ? cfg->access_token_ttl : cfg->id_token_ttl;
}

static void keys_retire(struct af_req *req, struct af_resp *resp)
{
    const char *kid = af_params_get(&req->query, AF_KEYS_KID);
    const char *gs = af_params_get(&req->query, AF_KEYS_GRACE);
    long grace = default_grace(req);
    json_t *entry = NULL;
    struct af_err err;
    char *end = NULL;
    af_rc rc;

    af_err_clear(&err);
    static const char *const names[] = {AF_KEYS_KID, AF_KEYS_GRACE, NULL};

    if (!af_admin_only_params(&req->query, names, AF_KEYS_KID " and " AF_KEYS_GRACE, resp))
        goto out;
    if (kid == NULL || kid[0] == '\0') {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                       AF_KEYS_KID ": required, the key to retire (GET " AF_ADMIN_PATH_KEYS
                                   " lists them)");
        goto out;
    }
    if (gs != NULL) {
        errno = 0;
        grace = (gs[0] >= '0' && gs[0] <= '9') ? strtol(gs, &end, 10) : -1;
        if (grace < 0 || errno != 0 || *end != '\0' || grace > AF_KEYRING_GRACE_MAX) {
            af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                           AF_KEYS_GRACE ": expected an integer from 0 (now) to %ld, got "
                                         "\"%.32s\"",
                           AF_KEYRING_GRACE_MAX, gs);
            goto out;
        }
    }
    rc = af_keyring_retire(req->srv->keyring, kid, grace, &entry, &err);
    if (rc != AF_OK) {
        ring_error(resp, rc, AF_KEYS_KID, &err);
        goto out;
    }
    af_keyshare_retired(req->srv->keyshare, kid, (long long)af_now() + grace);
    af_resp_json(resp, 200, entry);
    af_resp_no_store(resp);
out:
    json_decref(entry);
}

void af_h_admin_keys(struct af_req *req, struct af_resp *resp)
{
    static const char *const none[] = {NULL};

    if (req->method == AF_M_GET) {
        if (af_admin_only_params(&req->query, none, "none", resp))
            af_admin_reply(resp, 200, af_keyring_json(req->srv->keyring));
    } else if (req->method == AF_M_POST) {
        keys_add(req, resp);
    } else {
        keys_retire(req, resp);
    }
}

void af_h_admin_keys_signing(struct af_req *req, struct af_resp *resp)
{
    json_t *body = af_admin_json_body(req, resp), *entry = NULL, *v;
    const char *key, *kid;
    struct af_err err;
    af_rc rc;

    af_err_clear(&err);
    if (body == NULL)
        goto out;
    json_object_foreach(body, key, v)
    {
        if (strcmp(key, AF_KEYS_KID) != 0) {
            af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                           "%.64s: unknown member (expected " AF_KEYS_KID ")", key);
            goto out;
        }
    }
    kid = json_string_value(json_object_get(body, AF_KEYS_KID));
    if (kid == NULL || kid[0] == '\0') {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                       AF_KEYS_KID ": required, the kid of a published key (a string)");
        goto out;
    }
    rc = af_keyring_sign_with(req->srv->keyring, kid, &entry, &err);
    if (rc != AF_OK) {
        ring_error(resp, rc, AF_KEYS_KID, &err);
        goto out;
    }
    af_keyshare_signing(req->srv->keyshare, kid);
    af_resp_json(resp, 200, entry);
    af_resp_no_store(resp);
out:
    json_decref(entry);
    json_decref(body);
}
