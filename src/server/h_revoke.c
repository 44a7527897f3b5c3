/*
 * h_revoke.c - POST /revoke (RFC 7009). The caller authenticates as at the
 * token endpoint and may revoke only its own tokens. Revoking a refresh
 * token revokes its whole grant (§2.1: the access tokens from it too);
 * revoking an access token revokes that token. Unknown strings answer 200
 * (§2.2): the client's goal, an unusable token, holds.
 */
#include "config.h"

#include <string.h>

#include "server_int.h"

void af_h_revoke(struct af_req *req, struct af_resp *resp)
{
    const struct af_cfg_client *client;
    struct af_token_info ti;
    const char *token, *hint;

    memset(&ti, 0, sizeof(ti));
    if (!af_client_request_check(req, resp, &client))
        goto out;
    token = af_params_get(&req->form, AF_P_TOKEN);
    if (token == NULL) {
        af_resp_oauth_error(resp, 400, AF_E_INVALID_REQUEST, "token is missing");
        goto out;
    }
    hint = af_params_get(&req->form, AF_P_TOKEN_TYPE_HINT);
    if (hint != NULL && strcmp(hint, AF_HINT_ACCESS_TOKEN) != 0 &&
        strcmp(hint, AF_HINT_REFRESH_TOKEN) != 0) {
        af_resp_oauth_error(resp, 400, AF_E_UNSUPPORTED_TOKEN_TYPE,
                            "token_type_hint must be access_token or refresh_token");
        goto out;
    }
    /* the hint is only a hint (§2.1): both kinds are looked up either way */
    if (af_tokens_lookup(req->srv, token, &ti) == AF_OK) {
        if (strcmp(ti.rec.client_id, client->id) != 0) {
            af_resp_oauth_error(resp, 400, AF_E_INVALID_REQUEST,
                                "the token was issued to another client (RFC 7009 2.1)");
            goto out;
        }
        af_token_revoke(req->srv->store, ti.key, ti.is_refresh);
    }
    resp->status = 200; /* empty body */
out:
    af_resp_no_store(resp);
    af_token_info_clear(&ti);
}
