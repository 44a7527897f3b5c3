/*
 * h_logout.c - GET and POST /logout: OpenID Connect RP-Initiated Logout 1.0.
 *
 * The login session is dropped and its cookie expired. The client is sent
 * back only to a post_logout_redirect_uri registered for it, matched byte
 * for byte; any doubt about who the client is gives a 400 page, never a
 * redirect (RP-Initiated Logout §3, §4: an unchecked target would be an open
 * redirector).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authflow/buf.h"
#include "authflow/cfg.h"
#include "authflow/jose.h"
#include "authflow/proto.h"
#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/core.h"
#include "server/registry.h"
#include "server/keyring.h"
#include "server/front_channel.h"
#include "server/http_req.h"
#include "server/page.h"
#include "server/routes.h"
#include "server/store.h"

#define LOGOUT_URL_MAX (256 * 1024)

/* The parameters /logout reads; a duplicate of any is invalid_request. */
static const char *const logout_param_names[] = {
    AF_P_ID_TOKEN_HINT,
    AF_P_CLIENT_ID,
    AF_P_POST_LOGOUT_REDIRECT,
    AF_P_STATE,
};

/* hint_verify: the hint must be a JWS signed by one of the server's keys
 * (the one its kid names; without a kid, any key of its alg), must not be
 * an access token, and its iss must be this issuer. Its expiry is not
 * checked: RP-Initiated Logout §2 lets an expired ID token be the hint.
 * On success *aud_out is the client it was issued to, borrowed from jws.
 * On failure *why says why (static). */
static af_rc hint_verify(const struct af_server *srv, const struct af_jws *jws,
                         const char **aud_out, const char **why)
{
    const json_t *hdr = af_jws_header(jws);
    const json_t *claims = af_jws_claims(jws);
    const char *kid = json_string_value(json_object_get(hdr, AF_H_KID));
    const char *typ = json_string_value(json_object_get(hdr, AF_H_TYP));
    const char *iss, *aud, *azp;
    const json_t *audj;
    struct af_keyset *ks = af_keyring_get(srv->keyring);
    bool verified = false;
    size_t i;
    af_rc rc = AF_ERR_INVALID;

    *aud_out = NULL;
    for (i = 0; i < af_keyset_count(ks) && !verified; i++) {
        const struct af_key *k = af_keyset_at(ks, i);
        if (kid != NULL ? strcmp(af_key_kid(k), kid) != 0
                        : strcmp(af_alg_name(af_key_alg(k)), af_jws_alg_str(jws)) != 0)
            continue;
        verified = af_jws_verify(jws, k, NULL) == AF_OK;
    }
    if (!verified) {
        *why = "id_token_hint was not signed by this server";
        goto out;
    }
    if (typ != NULL && strcmp(typ, AF_TYP_AT_JWT) == 0) {
        *why = "id_token_hint is an access token, not an ID token";
        goto out;
    }
    if (claims == NULL) {
        *why = "id_token_hint has no claims object";
        goto out;
    }
    iss = json_string_value(json_object_get(claims, AF_C_ISS));
    if (iss == NULL || strcmp(iss, srv->issuer) != 0) {
        *why = "id_token_hint was issued by another issuer";
        goto out;
    }
    /* aud is the client_id (OIDC Core §2); with several audiences, azp
     * names the client it was issued to. */
    audj = json_object_get(claims, AF_C_AUD);
    azp = json_string_value(json_object_get(claims, AF_C_AZP));
    aud = json_string_value(audj);
    if (aud == NULL && json_is_array(audj) && json_array_size(audj) == 1)
        aud = json_string_value(json_array_get(audj, 0));
    if (aud == NULL && json_is_array(audj) && azp != NULL)
        aud = azp;
    if (aud == NULL) {
        *why = "id_token_hint names no client in aud";
        goto out;
    }
    *aud_out = aud;
    rc = AF_OK;
out:
    af_keyset_release(ks);
    return rc;
}

static af_rc signed_out_page(struct af_buf *b, const char *issuer)
{
    af_rc rc = af_page_open(b, "Signed out");

    if (rc == AF_OK)
        rc = af_html_wrap(b, "<h1>Signed out</h1>\n<p>You are signed out of <code>", issuer,
                          "</code>.</p>\n");
    if (rc == AF_OK)
        rc = af_page_close(b);
    return rc;
}

void af_h_logout(struct af_req *req, struct af_resp *resp)
{
    struct af_server *srv = req->srv;
    const struct af_params *in = af_req_params(req);
    const struct af_cfg_client *client = NULL;
    const char *hint, *client_id, *target, *state, *aud = NULL, *why = NULL, *sid;
    struct af_jws *jws = NULL;
    struct af_params p;
    struct af_buf b;
    char desc[512], registered[200];
    size_t i;

    af_params_init(&p, 4);
    af_buf_init(&b, LOGOUT_URL_MAX);
    for (i = 0; i < sizeof(logout_param_names) / sizeof(logout_param_names[0]); i++) {
        if (af_params_count(in, logout_param_names[i]) > 1) {
            snprintf(desc, sizeof(desc), "%s is repeated", logout_param_names[i]);
            af_resp_error_page(resp, 400, AF_E_INVALID_REQUEST, desc);
            goto out;
        }
    }
    hint = af_params_get(in, AF_P_ID_TOKEN_HINT);
    client_id = af_params_get(in, AF_P_CLIENT_ID);
    target = af_params_get(in, AF_P_POST_LOGOUT_REDIRECT);
    state = af_params_get(in, AF_P_STATE);

    if (hint != NULL) {
        if (af_jws_parse(hint, &jws, NULL) != AF_OK) {
            af_resp_error_page(resp, 400, AF_E_INVALID_REQUEST, "id_token_hint is not a JWS");
            goto out;
        }
        if (hint_verify(srv, jws, &aud, &why) != AF_OK) {
            af_resp_error_page(resp, 400, AF_E_INVALID_REQUEST, why);
            goto out;
        }
        /* Both given: they must name the same client (RP-Initiated Logout §2). */
        if (client_id != NULL && strcmp(client_id, aud) != 0) {
            snprintf(desc, sizeof(desc),
                     "client_id %.128s is not %.128s, the audience of id_token_hint", client_id,
                     aud);
            af_resp_error_page(resp, 400, AF_E_INVALID_REQUEST, desc);
            goto out;
        }
    }
    if (aud != NULL || client_id != NULL) {
        client = af_client_find(srv, aud != NULL ? aud : client_id);
        if (client == NULL) {
            /* as /authorize: what came, not the list of clients */
            const struct af_page_detail d = {
                .rows = {{.label = aud != NULL ? "client named by id_token_hint (aud)"
                                               : "client_id received",
                          .value = aud != NULL ? aud : client_id}},
            };
            snprintf(desc, sizeof(desc), "unknown client %.128s, named by %s",
                     aud != NULL ? aud : client_id, aud != NULL ? "id_token_hint" : "client_id");
            af_resp_error_page_detail(resp, 400, AF_E_INVALID_REQUEST, desc, &d);
            goto out;
        }
        af_req_set_client_id(req, client->id);
    }
    if (target != NULL) {
        if (client == NULL) {
            af_resp_error_page(resp, 400, AF_E_INVALID_REQUEST,
                               "post_logout_redirect_uri needs id_token_hint or client_id");
            goto out;
        }
        if (!af_cfg_strlist_has(&client->post_logout_uris, target)) {
            const struct af_page_detail d = {
                .rows = {{.label = "post_logout_redirect_uri received", .value = target},
                         {.label = "post_logout_redirect_uris registered for this client",
                          .list = client->post_logout_uris.v,
                          .nlist = client->post_logout_uris.n}},
                .hint = AF_HINT_EXACT_URI,
            };
            af_strv_join(registered, sizeof(registered), client->post_logout_uris.v,
                         client->post_logout_uris.n, ", ");
            snprintf(desc, sizeof(desc),
                     "post_logout_redirect_uri %.160s is not registered for %.64s; registered: "
                     "%s (exact match required)",
                     target, client->id, client->post_logout_uris.n > 0 ? registered : "none");
            af_resp_error_page_detail(resp, 400, AF_E_INVALID_REQUEST, desc, &d);
            goto out;
        }
    }

    sid = af_req_cookie(req, af_cookie_name(srv, AF_SESSION_COOKIE));
    if (sid != NULL && *sid != '\0')
        af_session_drop(srv->store, sid);

    if (target != NULL) {
        if ((state == NULL || af_params_add(&p, AF_P_STATE, state) == AF_OK) &&
            af_uri_add_params(&b, target, &p, false) == AF_OK) {
            af_resp_redirect(resp, 302, af_buf_str(&b));
            af_resp_no_store(resp);
        } else {
            af_resp_error_page(resp, 500, AF_E_SERVER_ERROR, "the redirect could not be built");
        }
    } else if (signed_out_page(&b, srv->issuer) == AF_OK) {
        af_resp_html(resp, 200, af_buf_str(&b));
    } else {
        af_resp_error_page(resp, 500, AF_E_SERVER_ERROR, "the page could not be built");
    }
    af_session_cookie_clear(resp, srv);
    resp->detail = sid != NULL && *sid != '\0' ? "session ended" : "no session";
out:
    af_jws_free(jws);
    af_params_free(&p);
    af_buf_free(&b);
}
