/*
 * h_token.c - POST /token (RFC 6749 §3.2, §4.1.3, §4.3, §4.4, §6; RFC 7636
 * §4.6): the authorization_code, refresh_token, client_credentials and
 * password grants. Every answer is JSON and carries Cache-Control: no-store
 * and Pragma: no-cache (RFC 6749 §5.1).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authflow/buf.h"
#include "authflow/cfg.h"
#include "authflow/log.h"
#include "authflow/proto.h"
#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/clientauth.h"
#include "server/consent.h"
#include "server/core.h"
#include "server/http_req.h"
#include "server/persona.h"
#include "server/routes.h"
#include "server/scenario.h"
#include "server/scope.h"
#include "server/store.h"
#include "server/tokens.h"
#include "server/registry.h"

typedef void (*grant_fn)(struct af_req *req, struct af_resp *resp,
                         const struct af_cfg_client *client);

#define REALM_BASIC "Basic realm=\"authflow\""
/* Room for a refusal's reason: client ids, redirect URIs, scopes. */
#define TOKEN_WHY_MAX 512

static void fail(struct af_resp *resp, const char *error, const char *why)
{
    af_resp_oauth_error(resp, 400, error, why);
}

/* ---- scenarios (docs/scenarios.md) ---- */

/* A scenario acting on this request, and its effect. */
struct tok_scen {
    const struct af_scenario *sc; /* NULL: none */
    unsigned delay_ms;
    struct af_scen_effect fx;
};

/* scen_stages: the stages a /token request may take from the queue: the
 * token answer, and the ID token when one will be issued. */
static unsigned scen_stages(bool id_token)
{
    return AF_STAGE_BIT(AF_STAGE_TOKEN) | (id_token ? AF_STAGE_BIT(AF_STAGE_ID_TOKEN) : 0);
}

/* scen_prepare: run ts->sc (when it acts at /token) and note it for the
 * ledger. false when it could not run (resp then holds a 500). */
static bool scen_prepare(struct af_req *req, struct af_resp *resp, struct tok_scen *ts)
{
    struct af_scen_ctx sx = {0};

    memset(&ts->fx, 0, sizeof(ts->fx));
    if (ts->sc == NULL || ts->sc->stage == AF_STAGE_USERINFO)
        return true; /* a userinfo one rides on the tokens */
    req->facts.scenario = ts->sc;
    if (ts->sc->stage == AF_STAGE_ID_TOKEN)
        return true; /* applied by tokens.c as the ID token is built */
    sx.srv = req->srv;
    if (af_scenario_run(ts->sc, &sx) != AF_OK) {
        af_resp_oauth_error(resp, 500, AF_E_SERVER_ERROR, "the scenario could not be applied");
        return false;
    }
    ts->fx = sx.fx;
    if (ts->fx.delay)
        req->facts.delay_ms = ts->delay_ms;
    return true;
}

/* scen_refuses: a token scenario that answers an error instead of tokens;
 * true when resp holds it. */
static bool scen_refuses(struct af_resp *resp, const struct tok_scen *ts)
{
    char why[96];

    if (ts->fx.token_error == NULL)
        return false;
    snprintf(why, sizeof(why), "authflow scenario %s", ts->sc->name);
    af_resp_oauth_error(resp, ts->fx.token_status, ts->fx.token_error, why);
    /* RFC 6749 §5.2: a 401 invalid_client names the scheme to use */
    if (ts->fx.token_status == 401)
        af_resp_header(resp, AF_HDR_WWW_AUTHENTICATE, REALM_BASIC);
    return true;
}

/* scen_edit: the edits a token scenario makes to a success answer r. */
static void scen_edit(json_t *r, const struct tok_scen *ts)
{
    if (ts->fx.token_type_upper)
        json_object_set_new(r, AF_P_TOKEN_TYPE, json_string("BEARER"));
    if (ts->fx.token_no_expires_in)
        json_object_del(r, AF_P_EXPIRES_IN);
}

/* scen_malform: token_malformed_json: the answer cut in half, so that it
 * is not JSON any more (and no token can be recovered from it whole). */
static void scen_malform(struct af_resp *resp)
{
    size_t half = resp->body.len / 2;

    resp->body.len = half;
    resp->body.p[half] = '\0';
}

/* queued_scenario: for a grant without a flow (refresh, client
 * credentials, password): the next queued token (or, with an ID token,
 * id_token) scenario for this client and user. false when resp holds the
 * answer already (an error scenario, or a failure). */
static bool queued_scenario(struct af_req *req, struct af_resp *resp,
                            const struct af_cfg_client *client, const struct af_cfg_user *user,
                            bool id_token, struct tok_scen *ts)
{
    ts->sc = af_scen_take(req->srv->scen, scen_stages(id_token), client->id, user, &ts->delay_ms);
    if (!scen_prepare(req, resp, ts))
        return false;
    return !scen_refuses(resp, ts);
}

/* answer: issue the tokens and send the RFC 6749 §5.1 response, as the
 * scenario ts (may be NULL) wants it. */
static void answer(struct af_req *req, struct af_resp *resp, const struct af_issue *is,
                   const struct tok_scen *ts)
{
    struct af_err err;
    json_t *r = NULL;
    af_rc rc;

    af_err_clear(&err);
    rc = af_tokens_issue(req->srv, is, &r, &err);
    if (rc == AF_OK) {
        if (ts != NULL)
            scen_edit(r, ts);
        af_resp_json(resp, 200, r);
        if (ts != NULL && ts->fx.token_malformed && resp->status == 200 && resp->body.len > 1)
            scen_malform(resp);
    } else if (rc == AF_ERR_TOOBIG) {
        /* the store logs a full table once per interval, not per request */
        af_resp_oauth_error(resp, 503, AF_E_TEMP_UNAVAILABLE, "the token store is full");
    } else if (rc == AF_ERR_NET) {
        af_resp_store_down(resp); /* logged by the store */
    } else if (rc == AF_ERR_STATE) {
        /* the grant was revoked while these were made: the same code or
         * refresh token, replayed concurrently (RFC 6749 4.1.2) */
        af_resp_oauth_error(resp, 400, AF_E_INVALID_GRANT,
                            "the grant was revoked meanwhile: the same code or refresh token "
                            "was used again at the same time (RFC 6749 4.1.2)");
    } else {
        af_log_error("token: issuing failed: %s (%s)", err.msg, af_rc_str(rc));
        af_resp_oauth_error(resp, 500, AF_E_SERVER_ERROR, "could not issue tokens");
    }
    json_decref(r);
}

/* requested_scope: the scope parameter checked against the client's list,
 * or the client's whole list when omitted; borrowed from req or *owned.
 * *owned is what the caller frees (NULL or the returned list). NULL when
 * resp holds the error: invalid_scope when the client may not have that
 * scope, server_error when out of memory. */
static const char *requested_scope(const struct af_req *req, struct af_resp *resp,
                                   const struct af_cfg_client *client, char **owned)
{
    const char *scope = af_params_get(&req->form, AF_P_SCOPE);
    char why[TOKEN_WHY_MAX];

    *owned = NULL;

    if (scope != NULL) {
        if (!af_scope_client_explain(client, scope, why, sizeof(why))) {
            fail(resp, AF_E_INVALID_SCOPE, why);
            scope = NULL;
        }
        goto out;
    }
    *owned = af_scope_client_default(client);
    scope = *owned;
    if (scope == NULL)
        af_resp_oauth_error(resp, 500, AF_E_SERVER_ERROR, "out of memory");
out:
    return scope;
}

/* redirect_problem: RFC 6749 §4.1.3: a redirect_uri sent at /authorize
 * must come again, identical. When none was sent, the client had exactly
 * one registered, and only that one may be named here. false with why
 * (len bytes) set when redirect is wrong. */
static bool redirect_problem(const struct af_cfg_client *client, const struct af_code_rec *rec,
                             const char *redirect, char *why, size_t len)
{
    if (rec->redirect_uri != NULL) {
        if (redirect == NULL) {
            snprintf(why, len,
                     "redirect_uri is missing: %.200s was sent at /authorize (RFC 6749 4.1.3)",
                     rec->redirect_uri);
            return true;
        }
        if (strcmp(redirect, rec->redirect_uri) != 0) {
            snprintf(why, len,
                     "redirect_uri %.200s differs from %.200s sent at /authorize (RFC 6749 "
                     "4.1.3)",
                     redirect, rec->redirect_uri);
            return true;
        }
        return false;
    }
    if (redirect != NULL &&
        (client->redirect_uris.n != 1 || strcmp(redirect, client->redirect_uris.v[0]) != 0)) {
        snprintf(why, len,
                 "redirect_uri %.200s was sent, but none was sent at /authorize (RFC 6749 4.1.3)",
                 redirect);
        return true;
    }
    return false;
}

/* pkce_problem: RFC 7636 §4.6, and no downgrade (RFC 9700 §2.1.1): every
 * failure is invalid_grant, including a malformed verifier. true with why
 * (len bytes) set when the verifier fails; never shows it. */
static bool pkce_problem(const struct af_code_rec *rec, const char *verifier, char *why, size_t len)
{
    const char *method = rec->challenge_method ? rec->challenge_method : AF_PKCE_PLAIN;
    struct af_buf b;
    bool ok;

    if (rec->challenge == NULL) {
        if (verifier != NULL)
            snprintf(why, len, "code_verifier sent, but no code_challenge was sent at /authorize");
        return verifier != NULL;
    }
    if (verifier == NULL) {
        snprintf(why, len,
                 "code_verifier is missing: a %s code_challenge was sent at /authorize (RFC "
                 "7636 4.5)",
                 method);
        return true;
    }
    if (!af_pkce_verifier_valid(verifier)) {
        snprintf(why, len,
                 "code_verifier must be 43 to 128 unreserved characters (RFC 7636 4.1); it has "
                 "%zu characters%s",
                 strlen(verifier),
                 strspn(verifier, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                                  "-._~") == strlen(verifier)
                     ? ""
                     : ", some not unreserved");
        return true;
    }
    af_buf_init(&b, 128);
    if (strcmp(method, AF_PKCE_PLAIN) == 0)
        ok = af_ct_streq(verifier, rec->challenge);
    else if (strcmp(method, AF_PKCE_S256) == 0)
        ok = af_pkce_s256(verifier, &b) == AF_OK && af_ct_streq(af_buf_str(&b), rec->challenge);
    else
        ok = false;
    af_buf_free(&b);
    if (!ok)
        snprintf(why, len, "code_verifier does not match the %s challenge (RFC 7636 4.6)", method);
    return !ok;
}

static void grant_code(struct af_req *req, struct af_resp *resp, const struct af_cfg_client *client)
{
    const struct af_params *p = &req->form;
    const char *code = af_params_get(p, AF_P_CODE);
    const char *verifier = af_params_get(p, AF_P_CODE_VERIFIER);
    char why[TOKEN_WHY_MAX], pkce_why[TOKEN_WHY_MAX];
    bool pkce_bad;
    const struct af_cfg_user *user;
    struct af_code_rec rec;
    struct af_issue is;
    struct tok_scen ts = {0};
    char *grant_id = NULL;
    bool id_token;
    af_rc rc;

    memset(&rec, 0, sizeof(rec));
    if (code == NULL) {
        fail(resp, AF_E_INVALID_REQUEST, "code is missing");
        goto out;
    }
    rc = af_code_take(req->srv->store, code, client->id, &rec, &grant_id);
    af_req_set_flow(req, grant_id);
    if (rc == AF_ERR_NET) {
        af_resp_store_down(resp); /* the code stays unredeemed */
        goto out;
    }
    if (rc == AF_ERR_STATE) {
        req->facts.replayed = AF_LEDGER_REPLAYED_CODE;
        fail(resp, AF_E_INVALID_GRANT,
             "the code was already used; the tokens issued for it are "
             "revoked (RFC 6749 4.1.2)");
        goto out;
    }
    if (rc == AF_ERR_INVALID) {
        fail(resp, AF_E_INVALID_GRANT, "the code has expired");
        goto out;
    }
    if (rc == AF_ERR_NOTFOUND && rec.client_id != NULL) {
        snprintf(why, sizeof(why), "code was issued to %s, not %s (RFC 6749 4.1.3)", rec.client_id,
                 client->id);
        fail(resp, AF_E_INVALID_GRANT, why);
        goto out;
    }
    if (rc == AF_ERR_NOTFOUND) {
        fail(resp, AF_E_INVALID_GRANT,
             "unknown code: not issued by this server, or forgotten since (restart, or long "
             "expired)");
        goto out;
    }
    if (rc != AF_OK) {
        af_resp_oauth_error(resp, 500, AF_E_SERVER_ERROR, "could not read the code");
        goto out;
    }
    if (strcmp(rec.client_id, client->id) != 0) {
        fail(resp, AF_E_INVALID_GRANT, "the code was issued to another client (RFC 6749 4.1.3)");
        goto out;
    }
    /* the ledger tells whether the client proved PKCE, whatever else fails */
    pkce_bad = pkce_problem(&rec, verifier, pkce_why, sizeof(pkce_why));
    req->facts.pkce_seen = true;
    req->facts.pkce_sent = verifier != NULL;
    req->facts.pkce_method =
        rec.challenge == NULL ? NULL
        : rec.challenge_method != NULL && strcmp(rec.challenge_method, AF_PKCE_S256) == 0
            ? AF_PKCE_S256
            : AF_PKCE_PLAIN;
    req->facts.pkce_verified = rec.challenge == NULL && verifier == NULL ? -1 : !pkce_bad;
    if (redirect_problem(client, &rec, af_params_get(p, AF_P_REDIRECT_URI), why, sizeof(why))) {
        /* the two the client broke (RFC 6749 §4.1.3), for the findings */
        if (rec.redirect_uri != NULL)
            req->facts.redirect_mismatch = af_params_get(p, AF_P_REDIRECT_URI) == NULL
                                               ? AF_LEDGER_REDIRECT_MISSING
                                               : AF_LEDGER_REDIRECT_DIFFERS;
        fail(resp, AF_E_INVALID_GRANT, why);
        goto out;
    }
    if (pkce_bad) {
        fail(resp, AF_E_INVALID_GRANT, pkce_why);
        goto out;
    }
    user = af_user_by_sub(req->srv, rec.sub);
    if (user == NULL) {
        snprintf(why, sizeof(why), "the code's user %s is not configured any more", rec.sub);
        fail(resp, AF_E_INVALID_GRANT, why);
        goto out;
    }
    req->facts.sub = user->sub;
    id_token = af_str_has_space_token(rec.scope, AF_SCOPE_OPENID);
    /* the flow's scenario, else one queued since the code was issued */
    ts.sc = rec.scenario;
    ts.delay_ms = rec.scenario_delay_ms;
    if (ts.sc == NULL)
        ts.sc = af_scen_take(req->srv->scen, AF_STAGE_BIT(AF_STAGE_CODE) | scen_stages(id_token),
                             client->id, user, &ts.delay_ms);
    if (!scen_prepare(req, resp, &ts))
        goto out;
    if (ts.fx.code_expired) {
        /* as if lifetimes.code had passed before the client came */
        fail(resp, AF_E_INVALID_GRANT, "the code has expired");
        goto out;
    }
    if (scen_refuses(resp, &ts))
        goto out;
    memset(&is, 0, sizeof(is));
    is.client = client;
    is.user = user;
    is.scope = rec.scope;
    is.nonce = rec.nonce;
    is.grant_id = grant_id;
    is.auth_time = rec.auth_time;
    is.id_token = id_token;
    /* no_refresh: a persona's consent rules withheld it (consent.h) */
    is.refresh_token = (client->grant_types & AF_GRANT_REFRESH_TOKEN) != 0 && !rec.no_refresh;
    is.scenario = ts.sc;
    answer(req, resp, &is, &ts);
out:
    af_code_rec_clear(&rec);
    free(grant_id);
}

/* refresh_problem: the checks made on a refresh token's record; the client
 * binding is checked before rotating so that another client cannot use up
 * (or, replaying, revoke) someone else's live token. true with why (len
 * bytes) and *error set when the request fails them. */
static bool refresh_problem(const struct af_token_rec *rec, const struct af_cfg_client *client,
                            const char *scope, const char **error, char *why, size_t len)
{
    *error = AF_E_INVALID_GRANT;
    if (!rec->is_refresh) {
        snprintf(why, len, "unknown refresh token");
        return true;
    }
    if (strcmp(rec->client_id, client->id) != 0) {
        snprintf(why, len, "the refresh token was issued to %s, not %s (RFC 6749 6)",
                 rec->client_id, client->id);
        return true;
    }
    if (scope != NULL && !af_scope_valid(scope)) {
        *error = AF_E_INVALID_SCOPE;
        snprintf(why, len, "scope is malformed (RFC 6749 3.3)");
        return true;
    }
    if (scope != NULL && !af_scope_subset(scope, rec->scope)) {
        *error = AF_E_INVALID_SCOPE;
        snprintf(why, len, "scope %.128s is wider than the %.128s granted (RFC 6749 6)", scope,
                 rec->scope ? rec->scope : "");
        return true;
    }
    return false;
}

/* refresh_scenario: a refresh-stage scenario queued for client and the
 * user of the live refresh token rec (docs/scenarios.md): invalid_grant,
 * the grant ended for good, its refresh and access tokens with it (an
 * expired refresh token outlived its access tokens; a revoked grant takes
 * them along), so a retry or a token already held is refused too. true
 * when resp holds the answer. */
static bool refresh_scenario(struct af_req *req, struct af_resp *resp,
                             const struct af_cfg_client *client, const struct af_token_rec *rec)
{
    const struct af_cfg_user *user = af_user_by_sub(req->srv, rec->sub);
    struct af_scen_ctx sx = {0};
    const struct af_scenario *sc;
    char why[160];
    unsigned delay_ms = 0;

    sc = af_scen_take(req->srv->scen, AF_STAGE_BIT(AF_STAGE_REFRESH), client->id, user, &delay_ms);
    if (sc == NULL)
        return false;
    req->facts.scenario = sc;
    req->facts.sub = user != NULL ? user->sub : NULL;
    af_req_set_flow(req, rec->grant_id);
    sx.srv = req->srv;
    if (af_scenario_run(sc, &sx) != AF_OK) {
        af_resp_oauth_error(resp, 500, AF_E_SERVER_ERROR, "the scenario could not be applied");
        return true;
    }
    if (af_grant_revoke(req->srv->store, rec->grant_id) != AF_OK) {
        af_resp_oauth_error(resp, 500, AF_E_SERVER_ERROR, "the scenario could not be applied");
        return true;
    }
    /* the user removed the app's access: a persona's consent rules start
     * over (consent.h) */
    if (sx.fx.grant_revoked)
        af_consent_forget(req->srv, client->id, rec->sub);
    snprintf(why, sizeof(why), "%s (authflow scenario %s)",
             sx.fx.grant_revoked ? "the user revoked the app's access to the account"
                                 : "the refresh token has expired",
             sc->name);
    fail(resp, AF_E_INVALID_GRANT, why);
    return true;
}

static void grant_refresh(struct af_req *req, struct af_resp *resp,
                          const struct af_cfg_client *client)
{
    const struct af_params *p = &req->form;
    const char *token = af_params_get(p, AF_P_REFRESH_TOKEN);
    const char *scope = af_params_get(p, AF_P_SCOPE);
    const char *error = AF_E_INVALID_GRANT;
    char why[TOKEN_WHY_MAX];
    bool bad, kept = af_persona_of(req->srv)->refresh_kept;
    struct af_token_rec rec;
    struct af_issue is;
    struct tok_scen ts = {0};
    af_rc rc;

    memset(&rec, 0, sizeof(rec));
    if (token == NULL) {
        fail(resp, AF_E_INVALID_REQUEST, "refresh_token is missing");
        goto out;
    }
    rc = af_refresh_get(req->srv->store, token, &rec);
    if (rc == AF_ERR_NET) {
        af_resp_store_down(resp); /* not invalid_grant: the client keeps its token */
        goto out;
    }
    bad = rc == AF_OK && refresh_problem(&rec, client, scope, &error, why, sizeof(why));
    if (rc == AF_OK && !bad && refresh_scenario(req, resp, client, &rec))
        goto out;
    if (kept) {
        /* a persona whose refresh tokens stay valid until revoked
         * (persona.h): no rotation, so no replay to catch; the live
         * token's record is its grant's */
        af_req_set_flow(req, rec.grant_id);
        if (rc != AF_OK)
            snprintf(why, sizeof(why), "unknown, expired or revoked refresh token");
        bad = bad || rc != AF_OK;
    } else {
        /* a token that is not live (unknown, or used up) still goes to
         * af_refresh_rotate: a replay of a used one revokes its grant */
        af_token_rec_clear(&rec);
        memset(&rec, 0, sizeof(rec));
        if (!bad) {
            rc = af_refresh_rotate(req->srv->store, token, &rec);
            if (rc == AF_ERR_NET) {
                af_resp_store_down(resp);
                goto out;
            }
            bad = true;
            af_req_set_flow(req, rec.grant_id);
            if (rc == AF_ERR_STATE)
                req->facts.replayed = AF_LEDGER_REPLAYED_REFRESH;
            if (rc == AF_ERR_STATE)
                snprintf(why, sizeof(why),
                         "the refresh token was already used; its grant is revoked (RFC 9700 "
                         "4.14.2)");
            else if (rc != AF_OK)
                snprintf(why, sizeof(why), "unknown, expired or revoked refresh token");
            else
                bad = refresh_problem(&rec, client, scope, &error, why, sizeof(why));
        }
    }
    if (bad) {
        fail(resp, error, why);
        goto out;
    }
    memset(&is, 0, sizeof(is));
    is.client = client;
    is.user = af_user_by_sub(req->srv, rec.sub);
    if (is.user == NULL) {
        fail(resp, AF_E_INVALID_GRANT, "the refresh token's user is not configured any more");
        goto out;
    }
    is.scope = scope ? scope : rec.scope;
    is.refresh_scope = rec.scope; /* RFC 6749 §6: the new one keeps the old scope */
    is.nonce = NULL;              /* a refreshed ID token carries no nonce */
    is.grant_id = rec.grant_id;
    is.auth_time = rec.auth_time;
    is.id_token = af_str_has_space_token(is.scope, AF_SCOPE_OPENID);
    is.refresh_token = !kept; /* kept: the same token goes on serving */
    req->facts.sub = is.user->sub;
    if (!queued_scenario(req, resp, client, is.user, is.id_token, &ts))
        goto out;
    is.scenario = ts.sc;
    answer(req, resp, &is, &ts);
out:
    af_token_rec_clear(&rec);
}

static void grant_client_credentials(struct af_req *req, struct af_resp *resp,
                                     const struct af_cfg_client *client)
{
    struct af_issue is;
    struct tok_scen ts = {0};
    char *owned = NULL;

    memset(&is, 0, sizeof(is));
    if (client->auth_method == AF_CLIENT_AUTH_NONE) {
        fail(resp, AF_E_UNAUTHORIZED_CLIENT,
             "client_credentials is for confidential clients only, and this client is public "
             "(RFC 6749 4.4)");
        goto out;
    }
    is.scope = requested_scope(req, resp, client, &owned);
    if (is.scope == NULL)
        goto out;
    is.client = client; /* no user: sub is the client, no ID or refresh token */
    if (!queued_scenario(req, resp, client, NULL, false, &ts))
        goto out;
    is.scenario = ts.sc;
    answer(req, resp, &is, &ts);
out:
    free(owned);
}

static void grant_password(struct af_req *req, struct af_resp *resp,
                           const struct af_cfg_client *client)
{
    const char *username = af_params_get(&req->form, AF_P_USERNAME);
    const char *password = af_params_get(&req->form, AF_P_PASSWORD);
    const struct af_cfg_user *user;
    struct af_issue is;
    struct tok_scen ts = {0};
    char *owned = NULL, why[TOKEN_WHY_MAX];
    bool match;

    memset(&is, 0, sizeof(is));
    if (username == NULL || password == NULL) {
        fail(resp, AF_E_INVALID_REQUEST, "username and password are required (RFC 6749 4.3.2)");
        goto out;
    }
    user = af_user_by_username(req->srv, username);
    /* compare even for an unknown user, so the timing tells nothing */
    match = af_ct_streq(password, user && user->password ? user->password : "");
    if (user == NULL || user->password == NULL || !match) {
        /* the client authenticated: a developer's mock says which (docs/config.md) */
        snprintf(why, sizeof(why),
                 user == NULL             ? "unknown user %.128s"
                 : user->password == NULL ? "user %.128s has no password: it cannot use the "
                                            "password grant"
                                          : "wrong password for user %.128s",
                 username);
        fail(resp, AF_E_INVALID_GRANT, why);
        goto out;
    }
    is.scope = requested_scope(req, resp, client, &owned);
    if (is.scope == NULL)
        goto out;
    is.client = client;
    is.user = user;
    is.auth_time = af_now();
    is.id_token = af_str_has_space_token(is.scope, AF_SCOPE_OPENID);
    is.refresh_token = (client->grant_types & AF_GRANT_REFRESH_TOKEN) != 0;
    req->facts.sub = user->sub;
    if (!queued_scenario(req, resp, client, user, is.id_token, &ts))
        goto out;
    is.scenario = ts.sc;
    answer(req, resp, &is, &ts);
out:
    free(owned);
}

static const struct {
    const char *name;
    unsigned bit;
    grant_fn fn;
} grants[] = {
    {AF_GT_AUTHORIZATION_CODE, AF_GRANT_AUTHORIZATION_CODE, grant_code},
    {AF_GT_REFRESH_TOKEN, AF_GRANT_REFRESH_TOKEN, grant_refresh},
    {AF_GT_CLIENT_CREDENTIALS, AF_GRANT_CLIENT_CREDENTIALS, grant_client_credentials},
    {AF_GT_PASSWORD, AF_GRANT_PASSWORD, grant_password},
};

void af_h_token(struct af_req *req, struct af_resp *resp)
{
    const struct af_cfg_client *client;
    const char *gt;
    char why[TOKEN_WHY_MAX];
    size_t i;

    if (!af_client_request_check(req, resp, &client))
        goto out;
    gt = af_params_get(&req->form, AF_P_GRANT_TYPE);
    if (gt == NULL) {
        fail(resp, AF_E_INVALID_REQUEST, "grant_type is missing");
        goto out;
    }
    for (i = 0; i < sizeof(grants) / sizeof(grants[0]); i++) {
        if (strcmp(gt, grants[i].name) == 0)
            break;
    }
    if (i == sizeof(grants) / sizeof(grants[0])) {
        snprintf(why, sizeof(why),
                 "unknown grant_type %.64s (authorization_code, refresh_token, "
                 "client_credentials, password)",
                 gt);
        fail(resp, AF_E_UNSUPPORTED_GT, why);
        goto out;
    }
    if ((client->grant_types & grants[i].bit) == 0) {
        snprintf(why, sizeof(why), "client %s is not registered for grant_type %s", client->id,
                 grants[i].name);
        fail(resp, AF_E_UNAUTHORIZED_CLIENT, why);
        goto out;
    }
    resp->detail = grants[i].name;
    grants[i].fn(req, resp, client);
out:
    af_resp_no_store(resp);
}
