/*
 * h_discovery.c - the metadata documents (OIDC Discovery 1.0 §4, RFC 8414
 * §3), the key set (RFC 7517 §5) and the health probe.
 *
 * Both well-known documents carry the same members: RFC 8414 §2 admits the
 * OIDC ones, and one document keeps the two from drifting apart. The lists
 * are derived from the config (what the clients may actually use), so the
 * metadata never promises what the server would refuse.
 *
 * Both bodies are serialised once and served without per-request JSON work
 * (doc.h: shared, with a strong ETag, and a 304 to a matching
 * If-None-Match). The metadata depends on nothing a request says (the
 * issuer is fixed at start, never taken from Host); of what changes while
 * the server runs, it depends on the published keys
 * (id_token_signing_alg_values_supported). So both documents belong to the
 * key ring's set (keyring.h): a key added, retired or withdrawn publishes
 * a new set with both rebuilt (af_h_discovery_build), under new ETags
 * where the bytes changed. A jwks scenario still answers per request, as
 * it did.
 */
#include "config.h"

#include <string.h>

#include "authflow/cfg.h"
#include "authflow/jose.h"
#include "authflow/proto.h"
#include "authflow/rc.h"
#include "server/core.h"
#include "server/doc.h"
#include "server/persona.h"
#include "server/http_req.h"
#include "server/keyring.h"
#include "server/routes.h"
#include "server/scenario.h"

/* The claims every ID token or access token may carry; users' own claim
 * names are added to these. */
static const char *const protocol_claims[] = {
    AF_C_SUB,       AF_C_ISS,   AF_C_AUD,     AF_C_EXP, AF_C_IAT,
    AF_C_AUTH_TIME, AF_C_NONCE, AF_C_AT_HASH, AF_C_AZP, NULL,
};

static const struct {
    unsigned bit;
    const char *name;
} grant_names[] = {
    {AF_GRANT_AUTHORIZATION_CODE, AF_GT_AUTHORIZATION_CODE},
    {AF_GRANT_REFRESH_TOKEN, AF_GT_REFRESH_TOKEN},
    {AF_GRANT_CLIENT_CREDENTIALS, AF_GT_CLIENT_CREDENTIALS},
    {AF_GRANT_PASSWORD, AF_GT_PASSWORD},
};

/* push_unique: append s to the string array arr unless it is there.
 * Returns 0, or -1 on allocation failure. */
static int push_unique(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (strcmp(json_string_value(v), s) == 0)
            return 0;
    }
    return json_array_append_new(arr, json_string(s));
}

/* derived_lists: fill the arrays that depend on the config. Returns 0, or
 * -1 on allocation failure. */
static int derived_lists(const struct af_server *srv, const struct af_keyset *ks, json_t *grants,
                         json_t *scopes, json_t *algs, json_t *pkce, json_t *claims)
{
    const struct af_config *cfg = srv->cfg;
    bool plain = false;
    const char *name;
    json_t *v;
    size_t i, j;
    int bad = 0;

    for (i = 0; i < cfg->nclients; i++) {
        const struct af_cfg_client *c = &cfg->clients[i];
        for (j = 0; j < sizeof(grant_names) / sizeof(grant_names[0]); j++) {
            if (c->grant_types & grant_names[j].bit)
                bad |= push_unique(grants, grant_names[j].name);
        }
        for (j = 0; j < c->scopes.n; j++)
            bad |= push_unique(scopes, c->scopes.v[j]);
        plain = plain || c->allow_plain_pkce;
    }
    bad |= push_unique(pkce, AF_PKCE_S256);
    if (plain)
        bad |= push_unique(pkce, AF_PKCE_PLAIN);
    /* the signing key's first: the alg of the tokens issued now */
    bad |= push_unique(algs, af_alg_name(af_key_alg(af_keyset_signer(ks))));
    for (i = 0; i < af_keyset_count(ks); i++)
        bad |= push_unique(algs, af_alg_name(af_key_alg(af_keyset_at(ks, i))));
    for (i = 0; protocol_claims[i] != NULL; i++)
        bad |= push_unique(claims, protocol_claims[i]);
    for (i = 0; i < cfg->nusers; i++) {
        json_object_foreach(cfg->users[i].claims, name, v)
        {
            bad |= push_unique(claims, name);
        }
    }
    return bad ? -1 : 0;
}

/* persona_member: for an issuer speaking a provider's dialect (persona.h),
 * AF_MD_PERSONA: what that provider's clients use instead of the standard
 * endpoints (the persona's routes, by the handler each is served by: the
 * first authorization and token translations, and the first other route
 * but the login form's, the provider's user API; a persona without a
 * token route of its own uses the standard one), whether its token answers
 * carry an ID token (the standard shape only), and whether its redirect
 * back carries iss. NULL for the standard persona or on allocation
 * failure (*bad set). */
static json_t *persona_member(const struct af_server *srv, bool *bad)
{
    const struct af_persona *p = af_persona_of(srv);
    const char *iss = srv->issuer, *authz = NULL, *token = NULL, *user = NULL;
    json_t *m;

    *bad = false;
    if (p->routes == NULL)
        return NULL;
    for (const struct af_persona_route *r = p->routes; r->path != NULL; r++) {
        if (r->handler == af_h_persona_authorize)
            authz = authz != NULL ? authz : r->path;
        else if (r->handler == af_h_persona_token)
            token = token != NULL ? token : r->path;
        else if (r->handler != af_h_persona_login && user == NULL)
            user = r->path;
    }
    m = json_pack("{s:s, s:b, s:b}", AF_MD_PERSONA_NAME, p->name, AF_MD_PERSONA_ID_TOKEN,
                  p->token_shape == AF_PT_STANDARD, AF_MD_ISS_PARAMETER, !p->strip_iss);
    if (m != NULL && authz != NULL)
        *bad |=
            json_object_set_new(m, AF_MD_AUTHORIZATION_ENDPOINT, json_pack("s+", iss, authz)) != 0;
    if (m != NULL && token != NULL)
        *bad |= json_object_set_new(m, AF_MD_TOKEN_ENDPOINT, json_pack("s+", iss, token)) != 0;
    if (m != NULL && user != NULL)
        *bad |= json_object_set_new(m, AF_MD_USERINFO_ENDPOINT, json_pack("s+", iss, user)) != 0;
    *bad |= m == NULL;
    return m;
}

/* metadata: the document for the key set ks, new reference; NULL on
 * allocation failure. */
static json_t *metadata(const struct af_server *srv, const struct af_keyset *ks)
{
    const char *iss = srv->issuer;
    json_t *grants = json_array(), *scopes = json_array(), *algs = json_array();
    json_t *pkce = json_array(), *claims = json_array(), *doc = NULL;

    if (grants == NULL || scopes == NULL || algs == NULL || pkce == NULL || claims == NULL ||
        derived_lists(srv, ks, grants, scopes, algs, pkce, claims) != 0)
        goto out;
    doc = json_pack(
        "{s:s, s:s+, s:s+, s:s+, s:s+, s:s+, s:s+, s:s+,"
        " s:[s], s:[s,s,s], s:O, s:[s], s:O, s:[s,s,s], s:[s,s,s], s:[s,s,s],"
        " s:O, s:O, s:O, s:b, s:[s,s], s:b}",
        AF_MD_ISSUER, iss, AF_MD_AUTHORIZATION_ENDPOINT, iss, AF_EP_AUTHORIZE, AF_MD_TOKEN_ENDPOINT,
        iss, AF_EP_TOKEN, AF_MD_USERINFO_ENDPOINT, iss, AF_EP_USERINFO, AF_MD_JWKS_URI, iss,
        AF_EP_JWKS, AF_MD_INTROSPECTION_ENDPOINT, iss, AF_EP_INTROSPECT, AF_MD_REVOCATION_ENDPOINT,
        iss, AF_EP_REVOKE, AF_MD_END_SESSION_ENDPOINT, iss, AF_EP_LOGOUT, AF_MD_RESPONSE_TYPES,
        AF_RT_CODE, AF_MD_RESPONSE_MODES, AF_RM_QUERY, AF_RM_FRAGMENT, AF_RM_FORM_POST,
        AF_MD_GRANT_TYPES, grants, AF_MD_SUBJECT_TYPES, AF_SUBJECT_PUBLIC, AF_MD_ID_TOKEN_ALGS,
        algs, AF_MD_TOKEN_AUTH_METHODS, AF_AUTH_BASIC, AF_AUTH_POST, AF_AUTH_NONE,
        AF_MD_INTROSPECTION_AUTH_METHODS, AF_AUTH_BASIC, AF_AUTH_POST, AF_AUTH_NONE,
        AF_MD_REVOCATION_AUTH_METHODS, AF_AUTH_BASIC, AF_AUTH_POST, AF_AUTH_NONE,
        AF_MD_CODE_CHALLENGE_METHODS, pkce, AF_MD_SCOPES, scopes, AF_MD_CLAIMS, claims,
        AF_MD_ISS_PARAMETER, 1, AF_MD_PROMPT_VALUES, AF_PROMPT_NONE, AF_PROMPT_LOGIN,
        /* OIDC Discovery §3: absent would mean true; /authorize refuses it */
        AF_MD_REQUEST_URI_PARAMETER, 0);
    if (doc != NULL) {
        bool bad;
        json_t *pm = persona_member(srv, &bad);
        if (bad)
            json_decref(pm);
        /* json_object_set_new takes pm even when it fails */
        if (bad || (pm != NULL && json_object_set_new(doc, AF_MD_PERSONA, pm) != 0)) {
            json_decref(doc);
            doc = NULL;
        }
    }
out:
    json_decref(grants);
    json_decref(scopes);
    json_decref(algs);
    json_decref(pkce);
    json_decref(claims);
    return doc;
}

af_rc af_h_discovery_build(const struct af_server *srv, const struct af_keyset *ks,
                           struct af_doc **out)
{
    json_t *doc = metadata(srv, ks);
    af_rc rc;

    *out = NULL;
    if (doc == NULL)
        return AF_ERR_NOMEM;
    rc = af_doc_from_json(doc, out);
    json_decref(doc);
    return rc;
}

void af_h_discovery(struct af_req *req, struct af_resp *resp)
{
    struct af_keyset *ks = NULL;
    struct af_doc *doc = NULL;

    /* the router sends both well-known paths here; anything else is not ours */
    if (strcmp(req->path, AF_PATH_OIDC_DISCOVERY) != 0 &&
        strcmp(req->path, AF_PATH_AS_METADATA) != 0) {
        af_resp_oauth_error(resp, 404, AF_E_INVALID_REQUEST, "no such metadata document");
        goto out;
    }
    ks = af_keyring_get(req->srv->keyring);
    doc = af_doc_ref(af_keyset_discovery(ks));
    /* a server built by hand (unit tests) has no prepared document */
    if (doc == NULL && af_h_discovery_build(req->srv, ks, &doc) != AF_OK) {
        af_resp_oauth_error(resp, 500, AF_E_SERVER_ERROR, "out of memory");
        goto out;
    }
    af_resp_doc(resp, req, doc);
out:
    af_doc_release(doc);
    af_keyset_release(ks);
}

void af_h_jwks(struct af_req *req, struct af_resp *resp)
{
    struct af_scen_ctx sx = {0};
    const struct af_scenario *sc;
    unsigned delay_ms = 0;
    struct af_keyset *ks = NULL;

    /* jwks_error, jwks_slow (docs/scenarios.md) */
    sc = af_scen_take(req->srv->scen, AF_STAGE_BIT(AF_STAGE_JWKS), NULL, NULL, &delay_ms);
    sx.srv = req->srv;
    if (sc != NULL) {
        req->facts.scenario = sc;
        if (af_scenario_run(sc, &sx) != AF_OK || sx.fx.jwks_error) {
            af_resp_oauth_error(resp, 500, AF_E_SERVER_ERROR, "authflow scenario jwks_error");
            goto out;
        }
        if (sx.fx.delay)
            req->facts.delay_ms = delay_ms;
    }
    /* the published keys: configured, added, retiring, a scenario's */
    ks = af_keyring_get(req->srv->keyring);
    af_resp_doc(resp, req, af_keyset_jwks(ks));
out:
    af_keyset_release(ks);
}

void af_h_healthz(struct af_req *req, struct af_resp *resp)
{
    json_t *ok = json_pack("{s:s}", "status", "ok");
    (void)req;
    if (ok == NULL)
        af_resp_oauth_error(resp, 500, AF_E_SERVER_ERROR, "out of memory");
    else
        af_resp_json(resp, 200, ok);
    json_decref(ok);
}
