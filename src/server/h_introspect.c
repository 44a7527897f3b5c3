/*
 * h_introspect.c - POST /introspect (RFC 7662). The caller authenticates as
 * at the token endpoint. A live access or refresh token is described; any
 * other string, however malformed, is exactly {"active":false} (§2.2: no
 * hint why).
 */
#include "config.h"

#include <string.h>

#include "authflow/cfg.h"
#include "authflow/proto.h"
#include "authflow/rc.h"
#include "server/clientauth.h"
#include "server/core.h"
#include "server/http_req.h"
#include "server/routes.h"
#include "server/tokens.h"
#include "server/registry.h"

/* describe: the §2.2 members for a live token; new reference, NULL on
 * allocation failure. */
static json_t *describe(struct af_server *srv, const struct af_token_info *ti)
{
    const struct af_cfg_user *user = af_user_by_sub(srv, ti->rec.sub);
    json_t *r;

    if (ti->is_refresh) {
        r = json_pack("{s:b, s:s*, s:s, s:s, s:I, s:I, s:s, s:s, s:s}", AF_P_ACTIVE, 1, AF_C_SCOPE,
                      ti->rec.scope, AF_C_CLIENT_ID, ti->rec.client_id, AF_P_TOKEN_TYPE,
                      AF_HINT_REFRESH_TOKEN, AF_C_EXP, (json_int_t)ti->rec.expires, AF_C_IAT,
                      (json_int_t)ti->rec.issued, AF_C_SUB,
                      ti->rec.sub ? ti->rec.sub : ti->rec.client_id, AF_C_AUD, ti->rec.client_id,
                      AF_C_ISS, srv->issuer);
    } else {
        /* the verified claims already hold iss, sub, aud, exp, iat, jti,
         * scope and client_id; keep only what §2.2 describes. Every one of
         * them is optional there (a minted token may lack scope): "O*"
         * leaves an absent claim out instead of failing. */
        r = json_pack(
            "{s:b, s:s, s:O*, s:O*, s:O*, s:O*, s:O*, s:O*, s:O*, s:O*}", AF_P_ACTIVE, 1,
            AF_P_TOKEN_TYPE, AF_TOKEN_TYPE_BEARER, AF_C_SCOPE,
            json_object_get(ti->claims, AF_C_SCOPE), AF_C_CLIENT_ID,
            json_object_get(ti->claims, AF_C_CLIENT_ID), AF_C_EXP,
            json_object_get(ti->claims, AF_C_EXP), AF_C_IAT, json_object_get(ti->claims, AF_C_IAT),
            AF_C_SUB, json_object_get(ti->claims, AF_C_SUB), AF_C_AUD,
            json_object_get(ti->claims, AF_C_AUD), AF_C_ISS, json_object_get(ti->claims, AF_C_ISS),
            AF_C_JTI, json_object_get(ti->claims, AF_C_JTI));
    }
    /* username only for a user's token (not client_credentials) */
    if (r != NULL && user != NULL && user->username != NULL &&
        json_object_set_new(r, AF_P_USERNAME, json_string(user->username)) != 0) {
        json_decref(r);
        r = NULL;
    }
    return r;
}

void af_h_introspect(struct af_req *req, struct af_resp *resp)
{
    const struct af_cfg_client *client;
    struct af_token_info ti;
    struct af_err err;
    const char *token;
    json_t *r = NULL;
    bool active;

    memset(&ti, 0, sizeof(ti));
    af_err_clear(&err);
    token = af_client_token_check(req, resp, &client);
    if (token == NULL)
        goto out;
    active = af_tokens_lookup(req->srv, token, &ti, &err) == AF_OK;
    if (!active && err.rc == AF_ERR_NET) {
        af_resp_store_down(resp); /* "active": false would be a guess */
        goto out;
    }
    if (active)
        r = describe(req->srv, &ti);
    else
        r = json_pack("{s:b}", AF_P_ACTIVE, 0);
    if (r == NULL) {
        af_resp_oauth_error(resp, 500, AF_E_SERVER_ERROR, "out of memory");
        goto out;
    }
    af_resp_json(resp, 200, r);
    /* the answer gives no hint why (RFC 7662 §2.2); the log and the ledger do */
    resp->detail =
        active ? (ti.is_refresh ? "active refresh_token" : "active access_token") : "inactive";
    if (!active)
        af_resp_reason(resp, "%s", err.msg);
out:
    af_resp_no_store(resp);
    json_decref(r);
    af_token_info_clear(&ti);
}
