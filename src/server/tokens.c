/*
 * tokens.c - token issuance and validation, and looking up a presented
 * token (access or refresh) for the token-side handlers.
 *
 * Access tokens are JWTs (RFC 9068) signed with keys[0] and not stored: a
 * presented one is verified, then checked against the store's revocations
 * (its own jti, and its grant, which the jti names). Refresh tokens are
 * opaque values of the store's refresh families (store.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authflow/cfg.h"
#include "authflow/jose.h"
#include "authflow/jsonw.h"
#include "authflow/proto.h"
#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/core.h"
#include "server/registry.h"
#include "server/keyring.h"
#include "server/persona.h"
#include "server/scenario.h"
#include "server/scope.h"
#include "server/store.h"
#include "server/tokens.h"

/* A grant id: 128 bits from the CSPRNG. */
#define GRANT_BYTES 16

/* ---- issuance ---- */

/* client_audience: the aud of the client's access tokens (RFC 9068 §3):
 * one string, or an array when several are configured. New reference. */
static json_t *client_audience(const struct af_cfg_client *client)
{
    json_t *arr;
    size_t i;

    if (client->audience.n == 1)
        return json_string(client->audience.v[0]);
    if (client->audience.n == 0)
        return json_string(client->id); /* a config built by hand */
    arr = json_array();
    for (i = 0; arr != NULL && i < client->audience.n; i++) {
        if (json_array_append_new(arr, json_string(client->audience.v[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

/* copy_user_claims: the user's claims the client's access_token_claims
 * names, into c (copies: the user's are shared by every worker). A claim
 * the user does not have is left out. The config refuses the names the
 * server sets itself. */
static af_rc copy_user_claims(const struct af_access_spec *sp, json_t *c)
{
    size_t i;

    for (i = 0; sp->user != NULL && i < sp->client->access_claims.n; i++) {
        const char *name = sp->client->access_claims.v[i];
        const json_t *v = json_object_get(sp->user->claims, name);
        if (v != NULL && json_object_set_new(c, name, json_deep_copy(v)) != 0)
            return AF_ERR_NOMEM;
    }
    return AF_OK;
}

af_rc af_tokens_access_claims(struct af_server *srv, const struct af_access_spec *sp, json_t **out)
{
    json_t *c = NULL, *aud = NULL;
    char *jti = NULL;
    af_rc rc;

    *out = NULL;
    rc = af_store_jti(sp->grant_id, &jti);
    if (rc != AF_OK)
        goto out;
    aud = client_audience(sp->client);
    c = json_pack("{s:s, s:s, s:o, s:s, s:I, s:I, s:s}", AF_C_ISS, srv->issuer, AF_C_SUB,
                  sp->user ? sp->user->sub : sp->client->id, AF_C_AUD, aud, AF_C_CLIENT_ID,
                  sp->client->id, AF_C_IAT, (json_int_t)sp->iat, AF_C_EXP, (json_int_t)sp->exp,
                  AF_C_JTI, jti);
    aud = NULL; /* "o" took it, also on failure */
    if (c == NULL) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    if (sp->scope != NULL && json_object_set_new(c, AF_C_SCOPE, json_string(sp->scope)) != 0) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    /* auth_time only when a user logged in (not for client_credentials) */
    if (sp->user != NULL &&
        json_object_set_new(c, AF_C_AUTH_TIME, json_integer((json_int_t)sp->auth_time)) != 0) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    rc = copy_user_claims(sp, c);
    if (rc != AF_OK)
        goto out;
    *out = c;
    c = NULL;
out:
    json_decref(aud);
    json_decref(c);
    free(jti);
    return rc;
}

/* sign_access: the RFC 9068 access token of grant (NULL: of none). A flow
 * with a scenario but no refresh family has its grant noted, so that
 * /userinfo finds the scenario. */
static af_rc sign_access(struct af_server *srv, const struct af_key *key, const struct af_issue *is,
                         const char *grant, time_t now, char **jwt_out, struct af_err *err)
{
    struct af_access_spec sp;
    json_t *c = NULL;
    af_rc rc;

    *jwt_out = NULL;
    memset(&sp, 0, sizeof(sp));
    sp.client = is->client;
    sp.user = is->user;
    sp.scope = is->scope;
    sp.auth_time = is->auth_time;
    sp.iat = now;
    sp.exp = now + srv->cfg->access_token_ttl;
    sp.scenario = is->scenario;
    sp.grant_id = grant;
    rc = af_tokens_access_claims(srv, &sp, &c);
    if (rc != AF_OK)
        goto out;
    rc = af_jwt_sign(key, AF_TYP_AT_JWT, c, jwt_out, err);
    if (rc != AF_OK)
        goto out;
    if (grant != NULL && is->scenario != NULL && !is->refresh_token) {
        rc = af_grant_note(srv->store, grant, is->scenario, sp.exp);
        if (rc != AF_OK)
            AF_ERR_SET(err, rc, "the store refused the grant (%s)", af_rc_str(rc));
    }
out:
    if (rc != AF_OK) {
        free(*jwt_out);
        *jwt_out = NULL;
    }
    json_decref(c);
    return rc;
}

af_rc af_tokens_id_claims(struct af_server *srv, const struct af_issue *is, const char *at_hash,
                          time_t iat, time_t exp, json_t **out)
{
    json_t *c = json_object(), *proto = NULL;
    af_rc rc;

    *out = NULL;
    if (c == NULL) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    /* The user's released claims (in the issuer's dialect: persona.h) go
     * in first and the protocol claims over them, so that a user claim can
     * never stand in for one (a user claim "nonce" is dropped). */
    rc = af_persona_claims_release(af_persona_of(srv), is->user, is->scope, c);
    if (rc != AF_OK)
        goto out;
    proto = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s}", AF_C_ISS, srv->issuer, AF_C_SUB,
                      is->user->sub, AF_C_AUD, is->client->id, AF_C_EXP, (json_int_t)exp, AF_C_IAT,
                      (json_int_t)iat, AF_C_AUTH_TIME, (json_int_t)is->auth_time, AF_C_AZP,
                      is->client->id);
    if (proto == NULL || json_object_update(c, proto) != 0) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    json_object_del(c, AF_C_NONCE);
    json_object_del(c, AF_C_AT_HASH);
    if ((is->nonce != NULL && json_object_set_new(c, AF_C_NONCE, json_string(is->nonce)) != 0) ||
        (at_hash != NULL && json_object_set_new(c, AF_C_AT_HASH, json_string(at_hash)) != 0)) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    *out = c;
    c = NULL;
out:
    json_decref(proto);
    json_decref(c);
    return rc;
}

/* sign_scenario: the ID token of claims c as an id_token scenario wants it
 * (OIDC Core §3.1.3.7 lists what the client must refuse): the scenario
 * edits the claims and the header {alg, kid, typ} and says how to sign. */
static af_rc sign_scenario(struct af_server *srv, const struct af_key *key,
                           const struct af_scenario *sc, json_t *c, char **out, struct af_err *err)
{
    struct af_scen_ctx sx = {0};
    json_t *hdr = json_pack("{s:s, s:s, s:s}", AF_H_ALG, af_alg_name(af_key_alg(key)), AF_H_KID,
                            af_key_kid(key), AF_H_TYP, AF_TYP_JWT);
    char *payload = NULL;
    af_rc rc;

    if (hdr == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory");
        goto out;
    }
    sx.srv = srv;
    sx.claims = c;
    sx.header = hdr;
    rc = af_scenario_run(sc, &sx);
    if (rc != AF_OK) {
        AF_ERR_SET(err, rc, "scenario %s could not be applied", sc->name);
        goto out;
    }
    payload = af_jsonw_dumps(c);
    if (payload == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory");
        goto out;
    }
    switch (sx.fx.sign) {
    case AF_SCEN_SIGN_NONE:
        rc = af_jws_encode_unsigned(hdr, c, out);
        break;
    case AF_SCEN_SIGN_GHOST:
    case AF_SCEN_SIGN_ROTATED:
        rc = af_scen_sign_with(srv, af_key_alg(key), sx.fx.sign, hdr, payload, out, err);
        break;
    case AF_SCEN_SIGN_DECOY:
        rc = af_scen_publish_decoy(srv, af_key_alg(key), err);
        if (rc == AF_OK)
            rc = af_jws_sign_as_is(key, hdr, payload, strlen(payload), out, err);
        break;
    case AF_SCEN_SIGN_NORMAL:
    case AF_SCEN_SIGN_CORRUPT:
    default:
        rc = af_jws_sign_as_is(key, hdr, payload, strlen(payload), out, err);
        if (rc == AF_OK && sx.fx.sign == AF_SCEN_SIGN_CORRUPT)
            af_scen_corrupt_signature(*out);
        break;
    }
out:
    free(payload);
    json_decref(hdr);
    return rc;
}

/* sign_id: the ID token (OIDC Core §2, at_hash §3.1.3.6), signed with key,
 * which signed access too (at_hash uses its algorithm's hash). */
static af_rc sign_id(struct af_server *srv, const struct af_key *key, const struct af_issue *is,
                     const char *access, time_t now, char **out, struct af_err *err)
{
    json_t *c = NULL;
    char *at_hash = NULL;
    af_alg alg = af_key_alg(key);
    af_rc rc;

    *out = NULL;
    rc = af_oidc_half_hash(alg, access, &at_hash);
    if (rc != AF_OK) {
        AF_ERR_SET(err, rc, "at_hash for %s failed", af_alg_name(alg));
        goto out;
    }
    rc = af_tokens_id_claims(srv, is, at_hash, now, now + srv->cfg->id_token_ttl, &c);
    if (rc != AF_OK)
        goto out;
    if (is->scenario != NULL && is->scenario->stage == AF_STAGE_ID_TOKEN)
        rc = sign_scenario(srv, key, is->scenario, c, out, err);
    else
        rc = af_jwt_sign(key, AF_TYP_JWT, c, out, err);
out:
    free(at_hash);
    json_decref(c);
    return rc;
}

/* token_response: RFC 6749 §5.1. id and refresh may be NULL. */
static af_rc token_response(struct af_server *srv, const struct af_issue *is, const char *access,
                            const char *id, const char *refresh, json_t **out)
{
    json_t *r;
    af_rc rc = AF_OK;

    r = json_pack("{s:s, s:s, s:I, s:s}", AF_P_ACCESS_TOKEN, access, AF_P_TOKEN_TYPE,
                  AF_TOKEN_TYPE_BEARER, AF_P_EXPIRES_IN, (json_int_t)srv->cfg->access_token_ttl,
                  AF_P_SCOPE, is->scope);
    if (r == NULL || (id != NULL && json_object_set_new(r, AF_P_ID_TOKEN, json_string(id)) != 0) ||
        (refresh != NULL &&
         json_object_set_new(r, AF_P_REFRESH_TOKEN, json_string(refresh)) != 0)) {
        json_decref(r);
        r = NULL;
        rc = AF_ERR_NOMEM;
    }
    *out = r;
    return rc;
}

af_rc af_tokens_issue(struct af_server *srv, const struct af_issue *is, json_t **out,
                      struct af_err *err)
{
    struct af_token_rec rec;
    time_t now = af_now();
    char *grant = NULL, *access = NULL, *id = NULL, *refresh = NULL;
    const char *grant_id = is->grant_id;
    /* one set for the whole answer: the access and ID tokens are signed by
     * the same key even when the admin API picks another meanwhile */
    struct af_keyset *ks = af_keyring_get(srv->keyring);
    const struct af_key *key = af_keyset_signer(ks);
    af_rc rc;

    *out = NULL;
    /* a grant of its own only when something must be remembered of it */
    if (grant_id == NULL && (is->refresh_token || is->scenario != NULL)) {
        rc = af_rand_token(GRANT_BYTES, &grant);
        if (rc != AF_OK)
            goto out;
        grant_id = grant;
    }
    rc = sign_access(srv, key, is, grant_id, now, &access, err);
    if (rc != AF_OK)
        goto out;
    if (is->id_token && is->user != NULL) {
        rc = sign_id(srv, key, is, access, now, &id, err);
        if (rc != AF_OK)
            goto out;
    }
    if (is->refresh_token) {
        /* rec borrows everything: af_refresh_issue stores copies */
        memset(&rec, 0, sizeof(rec));
        rec.client_id = is->client->id;
        rec.sub = is->user ? is->user->sub : NULL;
        rec.scope = (char *)(is->refresh_scope ? is->refresh_scope : is->scope);
        rec.grant_id = (char *)grant_id;
        rec.nonce = (char *)is->nonce;
        rec.auth_time = is->auth_time;
        rec.issued = now;
        rec.expires = now + srv->cfg->refresh_token_ttl;
        rec.is_refresh = true;
        rec.scenario = is->scenario;
        rc = af_refresh_issue(srv->store, &rec, &refresh);
        if (rc != AF_OK) {
            AF_ERR_SET(err, rc, "the store refused the refresh token (%s)", af_rc_str(rc));
            goto out;
        }
    }
    rc = token_response(srv, is, access, id, refresh, out);
out:
    af_keyset_release(ks);
    free(grant);
    free(access);
    free(id);
    free(refresh);
    return rc;
}

/* ---- validation ---- */

static void rec_reset(struct af_token_rec *rec)
{
    af_token_rec_clear(rec);
    memset(rec, 0, sizeof(*rec));
}

/* check_access: everything af_tokens_check_access does; also hands back the
 * flow's scenario (NULL on failure). The descriptions written to err go
 * into error_description and a WWW-Authenticate quoted-string, so they hold
 * no quote or backslash. */
static af_rc check_access(struct af_server *srv, const char *token, json_t **claims_out,
                          const struct af_scenario **scen_out, struct af_err *err)
{
    struct af_jws *jws = NULL;
    struct af_keyset *ks = NULL;
    const struct af_key *key = NULL;
    const json_t *hdr, *claims, *v;
    const char *kid, *typ, *jti;
    time_t now = af_now();
    af_rc rc;

    *claims_out = NULL;
    *scen_out = NULL;
    rc = af_jws_parse(token, &jws, NULL);
    if (rc != AF_OK) {
        rc = AF_ERR_SET(err, AF_ERR_PARSE, "the token is not a well-formed JWS");
        goto out;
    }
    hdr = af_jws_header(jws);
    typ = json_string_value(json_object_get(hdr, AF_H_TYP));
    /* RFC 9068 §4: typ at+jwt (media types compare case-insensitively) */
    if (typ == NULL || (strcasecmp(typ, AF_TYP_AT_JWT) != 0 &&
                        strcasecmp(typ, "application/" AF_TYP_AT_JWT) != 0)) {
        rc =
            AF_ERR_SET(err, AF_ERR_INVALID, "the token is not an access token (typ is not at+jwt)");
        goto out;
    }
    /* the keys published now: a key retired after its grace verifies
     * nothing any more */
    kid = json_string_value(json_object_get(hdr, AF_H_KID));
    ks = af_keyring_get(srv->keyring);
    key = af_keyset_find(ks, kid);
    if (key == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_CRYPTO, "the token names no signing key of this server");
        goto out;
    }
    rc = af_jws_verify(jws, key, NULL);
    if (rc != AF_OK) {
        rc = AF_ERR_SET(err, AF_ERR_CRYPTO, "the token signature does not verify");
        goto out;
    }
    claims = af_jws_claims(jws);
    v = claims ? json_object_get(claims, AF_C_ISS) : NULL;
    if (claims == NULL || !json_is_string(v) || strcmp(json_string_value(v), srv->issuer) != 0) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "the token was not issued by this server");
        goto out;
    }
    v = json_object_get(claims, AF_C_EXP);
    if (v == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "the token has no exp (RFC 9068 2.2)");
        goto out;
    }
    if (!json_is_integer(v)) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "the token's exp is not a number (RFC 7519 4.1.4)");
        goto out;
    }
    if (json_integer_value(v) <= (json_int_t)now) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "the token has expired");
        goto out;
    }
    v = json_object_get(claims, AF_C_NBF);
    if (v != NULL && (!json_is_integer(v) || json_integer_value(v) > (json_int_t)now)) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "the token is not valid yet");
        goto out;
    }
    /* RFC 9068 §2.2: jti and client_id are required; every token this
     * server issues has them */
    jti = json_string_value(json_object_get(claims, AF_C_JTI));
    if (jti == NULL || !json_is_string(json_object_get(claims, AF_C_CLIENT_ID))) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "the token has no jti or client_id (RFC 9068 2.2)");
        goto out;
    }
    rc = af_access_check(srv->store, jti, scen_out);
    if (rc == AF_ERR_NET) {
        /* never accepted unchecked: the caller answers 503 */
        rc = AF_ERR_SET(err, AF_ERR_NET, "%s", AF_STORE_DOWN_MSG);
        goto out;
    }
    if (rc != AF_OK) {
        rc = AF_ERR_SET(err, AF_ERR_NOTFOUND, "the token was revoked");
        goto out;
    }
    *claims_out = json_deep_copy(claims);
    if (*claims_out == NULL)
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory");
out:
    if (rc != AF_OK)
        *scen_out = NULL;
    af_keyset_release(ks);
    af_jws_free(jws);
    return rc;
}

/* audience_has: aud is one of the client's access token audiences (the
 * client_id when none are configured, as client_audience issues). */
static bool audience_has(const struct af_cfg_client *client, const char *aud)
{
    if (client->audience.n == 0)
        return strcmp(client->id, aud) == 0;
    return af_cfg_strlist_has(&client->audience, aud);
}

/* aud_accepted: the token's aud (a string or an array, RFC 7519 §4.1.3)
 * holds one of the audiences its client's access tokens are issued for. */
static bool aud_accepted(const struct af_server *srv, const json_t *claims)
{
    const struct af_cfg_client *client =
        af_client_find(srv, json_string_value(json_object_get(claims, AF_C_CLIENT_ID)));
    const json_t *aud = json_object_get(claims, AF_C_AUD), *v;
    size_t i;

    if (client == NULL)
        return false;
    if (json_is_string(aud))
        return audience_has(client, json_string_value(aud));
    json_array_foreach(aud, i, v)
    {
        if (json_is_string(v) && audience_has(client, json_string_value(v)))
            return true;
    }
    return false;
}

af_rc af_tokens_check_access(struct af_server *srv, const char *token, json_t **claims_out,
                             struct af_err *err)
{
    const struct af_scenario *sc;
    return af_tokens_check_access_scen(srv, token, claims_out, &sc, err);
}

af_rc af_tokens_check_access_scen(struct af_server *srv, const char *token, json_t **claims_out,
                                  const struct af_scenario **scen_out, struct af_err *err)
{
    af_rc rc = check_access(srv, token, claims_out, scen_out, err);

    if (rc == AF_OK && !aud_accepted(srv, *claims_out)) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "the token is meant for another audience (aud)");
        json_decref(*claims_out);
        *claims_out = NULL;
        *scen_out = NULL;
    }
    return rc;
}

af_rc af_tokens_lookup(struct af_server *srv, const char *token, struct af_token_info *out,
                       struct af_err *err)
{
    const struct af_scenario *sc;
    const char *sub;
    af_rc rc;

    memset(out, 0, sizeof(*out));
    rc = check_access(srv, token, &out->claims, &sc, err);
    if (rc == AF_OK) {
        out->key = strdup(json_string_value(json_object_get(out->claims, AF_C_JTI)));
        out->rec.client_id =
            strdup(json_string_value(json_object_get(out->claims, AF_C_CLIENT_ID)));
        out->rec.expires = (time_t)json_integer_value(json_object_get(out->claims, AF_C_EXP));
        /* a user's token carries auth_time; a client's own (sub = client_id) does not */
        sub = json_string_value(json_object_get(out->claims, AF_C_SUB));
        if (sub != NULL && json_object_get(out->claims, AF_C_AUTH_TIME) != NULL)
            out->rec.sub = strdup(sub);
        rc = out->key && out->rec.client_id ? AF_OK : AF_ERR_NOMEM;
        goto out;
    }
    if (rc == AF_ERR_NET)
        goto out; /* err says so: no guess from the refresh tokens either */
    /* Not a live access token: perhaps a live refresh token. A JWS is no
     * refresh token: its access check says why it is not live. */
    rc = af_refresh_get(srv->store, token, &out->rec);
    if (rc == AF_ERR_NET)
        AF_ERR_SET(err, rc, "%s", AF_STORE_DOWN_MSG);
    else if (rc != AF_OK && (err == NULL || err->rc == AF_ERR_PARSE))
        AF_ERR_SET(err, rc,
                   "neither an access token (not a JWS) nor a live refresh token (unknown, "
                   "used, expired or revoked)");
    if (rc != AF_OK)
        goto out;
    out->is_refresh = true;
    out->key = strdup(token);
    rc = out->key ? AF_OK : AF_ERR_NOMEM;
out:
    /* a client removed through the admin API takes its tokens with it,
     * as /userinfo's audience check does for access tokens */
    if (rc == AF_OK && af_client_find(srv, out->rec.client_id) == NULL)
        rc = AF_ERR_SET(err, AF_ERR_NOTFOUND,
                        "a token of client %.128s, which is no longer "
                        "registered",
                        out->rec.client_id);
    if (rc != AF_OK)
        af_token_info_clear(out);
    return rc;
}

void af_token_info_clear(struct af_token_info *ti)
{
    if (ti == NULL)
        return;
    json_decref(ti->claims);
    free(ti->key);
    rec_reset(&ti->rec);
    memset(ti, 0, sizeof(*ti));
}
