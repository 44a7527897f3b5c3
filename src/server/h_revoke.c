/*
 * h_revoke.c - POST /revoke (RFC 7009). The caller authenticates as at the
 * token endpoint and may revoke only its own tokens. Revoking a refresh
 * token, live or already rotated, revokes its whole grant (§2.1: the
 * access tokens from it too); revoking an access token revokes that token.
 * Unknown strings answer 200 (§2.2): the client's goal, an unusable token,
 * holds.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "authflow/cfg.h"
#include "authflow/proto.h"
#include "authflow/rc.h"
#include "server/clientauth.h"
#include "server/consent.h"
#include "server/core.h"
#include "server/http_req.h"
#include "server/routes.h"
#include "server/store.h"
#include "server/tokens.h"

/* other_client: the refusal of a token issued to owner, not to caller. */
static void other_client(struct af_resp *resp, const char *owner, const char *caller)
{
    char why[320];

    snprintf(why, sizeof(why), "the token was issued to %.128s, not %.128s (RFC 7009 2.1)", owner,
             caller);
    af_resp_oauth_error(resp, 400, AF_E_INVALID_REQUEST, why);
}

/* revoke_used: token is no live token; if it is a refresh token that was
 * already rotated, revoking it must still revoke its grant (§2.1: the
 * access tokens and the refresh token that replaced it), and a rotated
 * token presented again is a replay anyway (RFC 9700 §4.14.2). The store's
 * replay path does exactly that. It cannot check the client first: the
 * store hands out no record of a used token; /token behaves the same for
 * a replayed refresh token. Returns false when resp holds an error. */
static bool revoke_used(struct af_req *req, struct af_resp *resp,
                        const struct af_cfg_client *client, const char *token)
{
    struct af_token_rec rec;
    bool ok = true;
    af_rc rc;

    rc = af_refresh_rotate(req->srv->store, token, &rec);
    if (rc == AF_ERR_NET) {
        af_resp_store_down(resp);
        ok = false;
        goto out;
    }
    /* AF_ERR_STATE: a used refresh token, its grant now revoked; anything
     * else but AF_OK: unknown, expired or revoked, nothing to do (§2.2) */
    if (rc == AF_ERR_STATE)
        af_resp_reason(resp, "a used refresh token: its grant is revoked now (RFC 9700 4.14.2)");
    if (rc != AF_OK)
        goto out;
    /* a live refresh token, which af_tokens_lookup would have found: it is
     * used up now, so finish the job as for any refresh token */
    if (strcmp(rec.client_id, client->id) != 0) {
        other_client(resp, rec.client_id, client->id);
        ok = false;
        goto out;
    }
    rc = af_grant_revoke(req->srv->store, rec.grant_id);
    if (rc != AF_OK) {
        af_resp_oauth_error(resp, 503, AF_E_TEMP_UNAVAILABLE,
                            rc == AF_ERR_NET ? AF_STORE_DOWN_MSG : "the revocation store is full");
        ok = false;
    }
out:
    af_token_rec_clear(&rec);
    return ok;
}

void af_h_revoke(struct af_req *req, struct af_resp *resp)
{
    const struct af_cfg_client *client;
    struct af_token_info ti;
    struct af_err err;
    const char *token;
    af_rc rc;

    memset(&ti, 0, sizeof(ti));
    af_err_clear(&err);
    token = af_client_token_check(req, resp, &client);
    if (token == NULL)
        goto out;
    /* token_type_hint is only a hint: both kinds are looked up either way,
     * and an unknown value "is ignored by the authorization server and does
     * not influence the revocation response" (RFC 7009 §2.2). We revoke both
     * token types, so unsupported_token_type is never due. */
    rc = af_tokens_lookup(req->srv, token, &ti, &err);
    if (rc != AF_OK && err.rc == AF_ERR_NET) {
        af_resp_store_down(resp); /* RFC 7009 §2.2.1: the client retries later */
        goto out;
    }
    if (rc == AF_OK) {
        if (strcmp(ti.rec.client_id, client->id) != 0) {
            other_client(resp, ti.rec.client_id, client->id);
            goto out;
        }
        /* §2.1: a refresh token takes its grant's access tokens along */
        rc = ti.is_refresh ? af_grant_revoke(req->srv->store, ti.rec.grant_id)
                           : af_access_revoke(req->srv->store, ti.key, ti.rec.expires);
        if (rc != AF_OK) {
            af_resp_oauth_error(resp, 503, AF_E_TEMP_UNAVAILABLE,
                                rc == AF_ERR_NET ? AF_STORE_DOWN_MSG
                                                 : "the revocation store is full");
            goto out;
        }
        /* the grant is gone: a persona's consent rules start over
         * (consent.h; Google: the next offline login is a first consent) */
        if (ti.is_refresh)
            af_consent_forget(req->srv, client->id, ti.rec.sub);
    } else if (rc == AF_ERR_NOTFOUND) {
        /* nothing live to revoke: say why, unless revoke_used says more */
        af_resp_reason(resp, "nothing to revoke: %s", err.msg);
        if (!revoke_used(req, resp, client, token))
            goto out;
    } else {
        af_resp_oauth_error(resp, 500, AF_E_SERVER_ERROR, "token lookup failed");
        goto out;
    }
    resp->status = 200; /* empty body; the reason stays */
    if (rc == AF_OK)
        resp->detail =
            ti.is_refresh ? "refresh_token revoked with its grant" : "access_token revoked";
out:
    af_resp_no_store(resp);
    af_token_info_clear(&ti);
}
