/*
 * h_userinfo.c - GET/POST /userinfo (OIDC Core §5.3) as an RFC 6750
 * protected resource: the access token comes in the Authorization header
 * only, and every refusal carries a WWW-Authenticate: Bearer challenge
 * (RFC 6750 §3). A persona may serve it at its own paths too, with its own
 * scopes that open it and claims it shows (persona.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authflow/buf.h"
#include "authflow/cfg.h"
#include "authflow/proto.h"
#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/clientauth.h"
#include "server/core.h"
#include "server/http_req.h"
#include "server/persona.h"
#include "server/routes.h"
#include "server/scenario.h"
#include "server/scope.h"
#include "server/tokens.h"
#include "server/registry.h"

#define REALM_BEARER "Bearer realm=\"authflow\""

/* add_attr: `, name="value"`. RFC 6750 §3 allows only %x20-21 / %x23-5B /
 * %x5D-7E in error_description and scope, so a quote, a backslash or any
 * other character outside that set becomes '?' rather than being escaped. */
static af_rc add_attr(struct af_buf *h, const char *name, const char *value)
{
    const unsigned char *p;
    af_rc rc = af_buf_addf(h, ", %s=\"", name);
    for (p = (const unsigned char *)value; rc == AF_OK && *p; p++) {
        bool ok = *p >= 0x20 && *p <= 0x7E && *p != '"' && *p != '\\';
        rc = af_buf_addc(h, ok ? (char)*p : '?');
    }
    if (rc == AF_OK)
        rc = af_buf_addc(h, '"');
    return rc;
}

/* bearer_error: the challenge with error (and description, scope when not
 * NULL) plus the same error as a JSON body. */
static void bearer_error(struct af_resp *resp, unsigned status, const char *error,
                         const char *description, const char *scope)
{
    struct af_buf h;
    af_rc rc;

    af_buf_init(&h, 1024);
    rc = af_buf_adds(&h, REALM_BEARER);
    if (rc == AF_OK)
        rc = add_attr(&h, AF_P_ERROR, error);
    if (rc == AF_OK && description != NULL)
        rc = add_attr(&h, AF_P_ERROR_DESCRIPTION, description);
    if (rc == AF_OK && scope != NULL)
        rc = add_attr(&h, AF_P_SCOPE, scope);
    af_resp_oauth_error(resp, status, error, description);
    af_resp_header(resp, AF_HDR_WWW_AUTHENTICATE, rc == AF_OK ? af_buf_str(&h) : REALM_BEARER);
    af_buf_free(&h);
}

/* open_scopes_of: the scopes that open userinfo in p's dialect, any one
 * of them (af_persona_userinfo_opens), space-separated into out. */
static void open_scopes_of(const struct af_persona *p, char *out, size_t len)
{
    size_t n = 0;

    if (p->userinfo_scopes == NULL) {
        snprintf(out, len, "%s", AF_SCOPE_OPENID);
        return;
    }
    while (p->userinfo_scopes[n] != NULL)
        n++;
    af_strv_join(out, len, (char *const *)p->userinfo_scopes, n, " ");
}

void af_h_userinfo(struct af_req *req, struct af_resp *resp)
{
    const struct af_cfg_user *user;
    struct af_err err;
    const struct af_scenario *sc = NULL;
    struct af_scen_ctx sx = {0};
    json_t *claims = NULL, *out = NULL;
    char *token = NULL;
    const char *scope, *sub;
    af_bearer_result br;
    /* the issuer's dialect (persona.h): which scopes open userinfo and
     * which claims it shows */
    const struct af_persona *p = af_persona_of(req->srv);
    char open_scopes[128];
    bool in_query = false;

    af_err_clear(&err);
    open_scopes_of(p, open_scopes, sizeof(open_scopes));
    br = af_bearer_parse(af_req_header(req, AF_HDR_AUTHORIZATION), &token);
    /* for the ledger: where the client put the token (RFC 6750 §2; a query
     * parameter is the one RFC 9700 §4.3.2 warns against) */
    if (af_params_count(&req->query, AF_P_ACCESS_TOKEN) > 0)
        req->facts.bearer = "query";
    else if (af_params_count(&req->form, AF_P_ACCESS_TOKEN) > 0)
        req->facts.bearer = "body";
    else if (br == AF_BEARER_OK)
        req->facts.bearer = "header";
    /* at a persona's own user info path, a persona whose APIs take the
     * token from the query as well (persona.h; RFC 6750 §2.3) */
    if (br == AF_BEARER_ABSENT && p->token_in_query && af_persona_route(p, req->path) != NULL &&
        af_params_count(&req->query, AF_P_ACCESS_TOKEN) == 1 &&
        af_params_count(&req->form, AF_P_ACCESS_TOKEN) == 0) {
        token = strdup(af_params_get(&req->query, AF_P_ACCESS_TOKEN));
        if (token == NULL) {
            af_resp_oauth_error(resp, 500, AF_E_SERVER_ERROR, "out of memory");
            goto out;
        }
        br = AF_BEARER_OK;
        in_query = true;
    }
    switch (br) {
    case AF_BEARER_ABSENT:
        /* no credentials: a bare challenge, no error attribute (RFC 6750 §3.1) */
        resp->status = 401;
        af_resp_header(resp, AF_HDR_WWW_AUTHENTICATE, REALM_BEARER);
        if (req->facts.bearer != NULL)
            af_resp_reason(resp,
                           "the access token came in the %s, not in the Authorization header: "
                           "userinfo takes it from the header only",
                           req->facts.bearer);
        else
            af_resp_reason(resp, "no access token: no Authorization header with a Bearer token "
                                 "(RFC 6750 2.1)");
        goto out;
    case AF_BEARER_MALFORMED:
        bearer_error(resp, 400, AF_E_INVALID_REQUEST, "malformed Bearer credentials (RFC 6750 2.1)",
                     NULL);
        goto out;
    case AF_BEARER_OK:
        break;
    }
    if (!in_query && (af_params_count(&req->query, AF_P_ACCESS_TOKEN) > 0 ||
                      af_params_count(&req->form, AF_P_ACCESS_TOKEN) > 0)) {
        bearer_error(resp, 400, AF_E_INVALID_REQUEST,
                     "the access token was sent in more than one way (RFC 6750 2)", NULL);
        goto out;
    }
    if (af_tokens_check_access_scen(req->srv, token, &claims, &sc, &err) != AF_OK) {
        if (err.rc == AF_ERR_NET)
            af_resp_store_down(resp); /* unknown whether revoked: neither 200 nor 401 */
        else
            bearer_error(resp, 401, AF_E_INVALID_TOKEN, err.msg, NULL);
        goto out;
    }
    scope = json_string_value(json_object_get(claims, AF_C_SCOPE));
    sub = json_string_value(json_object_get(claims, AF_C_SUB));
    user = af_user_by_sub(req->srv, sub);
    af_req_set_client_id(req, json_string_value(json_object_get(claims, AF_C_CLIENT_ID)));
    af_req_set_flow_of_jti(req, json_string_value(json_object_get(claims, AF_C_JTI)));
    if (user != NULL)
        req->facts.sub = user->sub;
    /* the flow's scenario, else one queued for this client and user */
    if (sc == NULL || sc->stage != AF_STAGE_USERINFO)
        sc = sc == NULL ? af_scen_take(req->srv->scen, AF_STAGE_BIT(AF_STAGE_USERINFO),
                                       json_string_value(json_object_get(claims, AF_C_CLIENT_ID)),
                                       user, NULL)
                        : NULL;
    sx.srv = req->srv;
    if (sc != NULL) {
        req->facts.scenario = sc;
        if (af_scenario_run(sc, &sx) != AF_OK) {
            af_resp_oauth_error(resp, 500, AF_E_SERVER_ERROR, "the scenario could not be applied");
            goto out;
        }
    }
    if (sx.fx.userinfo_unauthorized) {
        bearer_error(resp, 401, AF_E_INVALID_TOKEN, "authflow scenario userinfo_unauthorized",
                     NULL);
        goto out;
    }
    /* client_credentials tokens have no auth_time: their sub is a client;
     * the scopes that open userinfo are openid's, or the persona's */
    if (!af_persona_userinfo_opens(p, scope) || user == NULL ||
        json_object_get(claims, AF_C_AUTH_TIME) == NULL) {
        bearer_error(resp, 403, AF_E_INSUFFICIENT_SCOPE,
                     p->userinfo_scopes == NULL
                         ? "userinfo needs a token issued to a user with the openid scope"
                         : "userinfo needs a token issued to a user with one of the scopes named",
                     open_scopes);
        if (json_object_get(claims, AF_C_AUTH_TIME) == NULL)
            af_resp_reason(resp, "userinfo needs a user's token: this one is the client's own "
                                 "(client_credentials, sub is the client)");
        else if (user == NULL)
            af_resp_reason(resp, "the token's user %.128s is not configured any more",
                           sub ? sub : "(none)");
        else if (p->userinfo_scopes == NULL)
            af_resp_reason(resp, "the token's scope (%.200s) has no openid",
                           scope ? scope : "none");
        else
            af_resp_reason(resp, "the token's scope (%.200s) has none of %s",
                           scope ? scope : "none", open_scopes);
        goto out;
    }
    out = json_object();
    /* userinfo_wrong_sub: a sub other than the ID token's (OIDC Core §5.3.2) */
    if (out == NULL || af_persona_claims_release(p, user, scope, out) != AF_OK ||
        json_object_set_new(
            out, AF_C_SUB, json_string(sx.fx.userinfo_wrong_sub ? AF_SCEN_WRONG_SUB : user->sub)) !=
            0) {
        af_resp_oauth_error(resp, 500, AF_E_SERVER_ERROR, "out of memory");
        goto out;
    }
    af_resp_json(resp, 200, out);
out:
    af_resp_no_store(resp);
    json_decref(out);
    json_decref(claims);
    free(token);
}
