/*
 * admin_tokens.c - tokens on request, good or deliberately defective, for the
 * admin API (POST /admin/tokens, docs/admin.md).
 *
 * A minted token starts as exactly what the token endpoint would issue:
 * the claims come from af_tokens_access_claims (or af_tokens_id_claims for
 * wrong_typ) and the signature from the signing key. Each defect then changes one
 * thing, so a verifier that accepts the token has missed exactly that
 * check. Good tokens are stored like issued ones, so /userinfo and
 * /introspect accept them.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "authflow/jose.h"
#include "authflow/jsonw.h"
#include "authflow/log.h"
#include "authflow/proto.h"
#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/admin_tokens.h"
#include "server/core.h"
#include "server/keyring.h"
#include "server/store.h"
#include "server/tokens.h"

/* How far expired and not_yet_valid miss "now": well beyond the clock
 * skew verifiers allow (often 30 s to 5 minutes), so the defect shows
 * whatever leeway the verifier grants. */
#define MINT_SKEW 3600
/* A kid that names no key of this server: this prefix plus 128 random bits. */
#define MINT_UNKNOWN_KID_PREFIX "unknown-"
#define MINT_UNKNOWN_KID_BYTES  16
/* The values wrong_aud and wrong_iss put in. The issuer keeps ours as a
 * prefix, so a verifier comparing by prefix is caught too. */
#define MINT_WRONG_AUD        "urn:authflow:wrong-audience"
#define MINT_WRONG_ISS_SUFFIX "/wrong-issuer"
/* The header alg of alg_none_mixed_case: "none" in another case, which a
 * case-insensitive "none" check lets through (RFC 7515 §4.1.1: alg is
 * case-sensitive). */
#define MINT_ALG_NONE_MIXED "nOnE"

static const char *const defect_names[AF_DEFECT_COUNT] = {
    [AF_DEFECT_EXPIRED] = AF_DEFECT_N_EXPIRED,
    [AF_DEFECT_NOT_YET_VALID] = AF_DEFECT_N_NOT_YET_VALID,
    [AF_DEFECT_WRONG_AUD] = AF_DEFECT_N_WRONG_AUD,
    [AF_DEFECT_WRONG_ISS] = AF_DEFECT_N_WRONG_ISS,
    [AF_DEFECT_BAD_SIGNATURE] = AF_DEFECT_N_BAD_SIGNATURE,
    [AF_DEFECT_ALG_NONE] = AF_DEFECT_N_ALG_NONE,
    [AF_DEFECT_ALG_NONE_MIXED_CASE] = AF_DEFECT_N_ALG_NONE_MIXED_CASE,
    [AF_DEFECT_HS256_PUBLIC_KEY] = AF_DEFECT_N_HS256_PUBLIC_KEY,
    [AF_DEFECT_UNKNOWN_KID] = AF_DEFECT_N_UNKNOWN_KID,
    [AF_DEFECT_WRONG_TYP] = AF_DEFECT_N_WRONG_TYP,
    [AF_DEFECT_NO_SCOPE] = AF_DEFECT_N_NO_SCOPE,
    [AF_DEFECT_REVOKED] = AF_DEFECT_N_REVOKED,
    [AF_DEFECT_NO_EXP] = AF_DEFECT_N_NO_EXP,
    [AF_DEFECT_EXP_STRING] = AF_DEFECT_N_EXP_STRING,
    [AF_DEFECT_AUD_NULL] = AF_DEFECT_N_AUD_NULL,
    [AF_DEFECT_AUD_TRUE] = AF_DEFECT_N_AUD_TRUE,
    [AF_DEFECT_NBF_STRING] = AF_DEFECT_N_NBF_STRING,
};

const char *af_defect_name(af_defect d)
{
    return (unsigned)d < AF_DEFECT_COUNT ? defect_names[d] : "?";
}

af_rc af_defect_parse(const char *name, af_defect *out)
{
    for (unsigned i = 0; i < AF_DEFECT_COUNT; i++) {
        if (strcmp(defect_names[i], name) == 0) {
            *out = (af_defect)i;
            return AF_OK;
        }
    }
    return AF_ERR_NOTFOUND;
}

static bool has(const struct af_mint *m, af_defect d)
{
    return (m->defects & (1u << d)) != 0;
}

/* apply_claims: the extra claims, aud override and claim-side defects on
 * c, in place. */
static af_rc apply_claims(struct af_server *srv, const struct af_mint *m, time_t now, json_t *c)
{
    char *iss = NULL;
    af_rc rc = AF_ERR_NOMEM;

    /* extra claims first: h_admin.c refused those the server sets */
    if (m->claims != NULL && json_object_update(c, (json_t *)m->claims) != 0)
        goto out;
    if (has(m, AF_DEFECT_NOT_YET_VALID) &&
        json_object_set_new(c, AF_C_NBF, json_integer((json_int_t)(now + MINT_SKEW))) != 0)
        goto out;
    /* RFC 9068 §2.2: exp is REQUIRED; a verifier that treats it as
     * optional takes this token forever */
    if (has(m, AF_DEFECT_NO_EXP))
        json_object_del(c, AF_C_EXP);
    /* RFC 7519 §4.1.4: exp is a number. An hour past, written as a
     * string: a verifier that skips a claim of the wrong type takes an
     * expired token (jwt_tool's forced errors, -M er) */
    if (has(m, AF_DEFECT_EXP_STRING) &&
        json_object_set_new(c, AF_C_EXP, json_sprintf("%lld", (long long)(now - MINT_SKEW))) != 0)
        goto out;
    /* RFC 7519 §4.1.5: nbf is a number. An hour ahead, written as a
     * string: a verifier that compares only numbers takes a token that
     * is not valid yet */
    if (has(m, AF_DEFECT_NBF_STRING) &&
        json_object_set_new(c, AF_C_NBF, json_sprintf("%lld", (long long)(now + MINT_SKEW))) != 0)
        goto out;
    if (m->aud != NULL && json_object_set(c, AF_C_AUD, (json_t *)m->aud) != 0)
        goto out;
    /* RFC 7519 §4.1.3: an aud that names no audience (null, true) does not
     * identify the resource server, so the token MUST be rejected; a
     * verifier that checks aud only when it is a string or an array
     * skips it (jwt_tool's forced errors, -M er) */
    if (has(m, AF_DEFECT_AUD_NULL) && json_object_set_new(c, AF_C_AUD, json_null()) != 0)
        goto out;
    if (has(m, AF_DEFECT_AUD_TRUE) && json_object_set_new(c, AF_C_AUD, json_true()) != 0)
        goto out;
    if (has(m, AF_DEFECT_WRONG_AUD) &&
        json_object_set_new(c, AF_C_AUD, json_string(MINT_WRONG_AUD)) != 0)
        goto out;
    if (has(m, AF_DEFECT_WRONG_ISS)) {
        if (asprintf(&iss, "%s%s", srv->issuer, MINT_WRONG_ISS_SUFFIX) < 0) {
            iss = NULL;
            goto out;
        }
        if (json_object_set_new(c, AF_C_ISS, json_string(iss)) != 0)
            goto out;
    }
    rc = AF_OK;
out:
    free(iss);
    return rc;
}

/* build_claims: the claims with the claim-side defects applied, new
 * reference in *out; *sp describes the token for the store (unused for
 * wrong_typ). */
static af_rc build_claims(struct af_server *srv, const struct af_mint *m, time_t now,
                          struct af_access_spec *sp, json_t **out, struct af_err *err)
{
    json_t *c = NULL;
    time_t iat = now, exp = now + m->ttl;
    af_rc rc;

    *out = NULL;
    if (has(m, AF_DEFECT_EXPIRED)) {
        exp = now - MINT_SKEW;
        iat = exp - m->ttl;
    } else if (has(m, AF_DEFECT_NOT_YET_VALID)) {
        exp = now + MINT_SKEW + m->ttl;
    }
    memset(sp, 0, sizeof(*sp));
    sp->client = m->client;
    sp->user = m->user;
    sp->scope = has(m, AF_DEFECT_NO_SCOPE) ? NULL : m->scope;
    sp->auth_time = now;
    sp->iat = iat;
    sp->exp = exp;
    if (has(m, AF_DEFECT_WRONG_TYP)) {
        /* an ID token (OIDC Core §2) where an access token is due */
        struct af_issue is;
        memset(&is, 0, sizeof(is));
        is.client = m->client;
        is.user = m->user;
        is.scope = m->scope;
        is.auth_time = now;
        rc = af_tokens_id_claims(srv, &is, NULL, iat, exp, &c);
    } else {
        rc = af_tokens_access_claims(srv, sp, &c);
    }
    if (rc == AF_OK)
        rc = apply_claims(srv, m, now, c);
    if (rc != AF_OK) {
        AF_ERR_SET(err, rc, "cannot build the claims (%s)", af_rc_str(rc));
        goto out;
    }
    *out = c;
    c = NULL;
out:
    json_decref(c);
    return rc;
}

/* corrupt_signature: change the first character of the signature part to
 * another base64url character. The first character carries six bits of
 * the first octet, so the encoding stays canonical and the length right:
 * only the signature check can tell. */
static void corrupt_signature(char *jws)
{
    char *sig = strrchr(jws, '.');
    if (sig != NULL && sig[1] != '\0')
        sig[1] = sig[1] == 'A' ? 'B' : 'A';
}

/* header_for: the JOSE header the defects ask for; new reference, NULL on
 * allocation failure. */
static json_t *header_for(const struct af_mint *m, const struct af_key *key)
{
    const char *alg = af_alg_name(af_key_alg(key));
    char *rnd = NULL, *kid = NULL;
    json_t *hdr = NULL;

    if (has(m, AF_DEFECT_UNKNOWN_KID)) {
        if (af_rand_token(MINT_UNKNOWN_KID_BYTES, &rnd) != AF_OK)
            goto out;
        if (asprintf(&kid, "%s%s", MINT_UNKNOWN_KID_PREFIX, rnd) < 0) {
            kid = NULL;
            goto out;
        }
    }
    if (has(m, AF_DEFECT_ALG_NONE))
        alg = af_alg_name(AF_ALG_NONE);
    else if (has(m, AF_DEFECT_ALG_NONE_MIXED_CASE))
        alg = MINT_ALG_NONE_MIXED;
    else if (has(m, AF_DEFECT_HS256_PUBLIC_KEY))
        alg = af_alg_name(AF_ALG_HS256);
    hdr = json_pack("{s:s, s:s, s:s}", AF_H_ALG, alg, AF_H_KID, kid ? kid : af_key_kid(key),
                    AF_H_TYP, has(m, AF_DEFECT_WRONG_TYP) ? AF_TYP_JWT : AF_TYP_AT_JWT);
out:
    free(rnd);
    free(kid);
    return hdr;
}

const struct af_key *af_mint_key(const struct af_keyset *ks, const char *alg)
{
    const struct af_key *signer = af_keyset_signer(ks), *k;
    size_t i;

    if (alg == NULL || strcmp(af_alg_name(af_key_alg(signer)), alg) == 0)
        return signer;
    for (i = 0; (k = af_keyset_at(ks, i)) != NULL; i++) {
        if (strcmp(af_alg_name(af_key_alg(k)), alg) == 0)
            return k;
    }
    return NULL;
}

/* sign: the compact JWS of claims c under the header the defects ask for
 * (new reference in *hdr_out); caller frees *out. */
static af_rc sign(struct af_server *srv, const struct af_mint *m, const json_t *c, json_t **hdr_out,
                  char **out, struct af_err *err)
{
    struct af_keyset *ks = af_keyring_get(srv->keyring);
    const struct af_key *key = af_mint_key(ks, m->alg); /* the signing key of now, or of alg */
    struct af_key *hkey = NULL;
    json_t *hdr = key ? header_for(m, key) : NULL;
    char *payload = af_jsonw_dumps(c), *pem = NULL;
    af_rc rc;

    *out = NULL;
    *hdr_out = NULL;
    if (key == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_NOTFOUND, "no published key has alg %s", m->alg);
        goto out;
    }
    if (hdr == NULL || payload == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory signing the token");
        goto out;
    }
    if (has(m, AF_DEFECT_ALG_NONE) || has(m, AF_DEFECT_ALG_NONE_MIXED_CASE)) {
        /* RFC 7518 §3.6: an Unsecured JWS has an empty signature */
        rc = af_jws_encode_unsigned(hdr, c, out);
        if (rc != AF_OK)
            AF_ERR_SET(err, rc, "cannot encode the unsigned token (%s)", af_rc_str(rc));
    } else if (has(m, AF_DEFECT_HS256_PUBLIC_KEY)) {
        /* the algorithm confusion attack: HMAC keyed with the text of the
         * public key a verifier would fetch, under the signing key's kid */
        rc = af_key_public_pem(key, &pem);
        if (rc != AF_OK)
            AF_ERR_SET(err, rc, "cannot export the public key as PEM (%s)", af_rc_str(rc));
        if (rc == AF_OK)
            rc = af_key_from_secret((const unsigned char *)pem, strlen(pem), &hkey, err);
        if (rc == AF_OK)
            rc = af_jws_sign_as_is(hkey, hdr, payload, strlen(payload), out, err);
    } else {
        rc = af_jws_sign_as_is(key, hdr, payload, strlen(payload), out, err);
    }
    if (rc != AF_OK)
        goto out;
    if (has(m, AF_DEFECT_BAD_SIGNATURE))
        corrupt_signature(*out);
    *hdr_out = hdr;
    hdr = NULL;
out:
    af_keyset_release(ks);
    af_key_free(hkey);
    free(pem);
    free(payload);
    json_decref(hdr);
    return rc;
}

/* defect_list: the defects of m as an array of names, in table order. New
 * reference; NULL on allocation failure. */
static json_t *defect_list(const struct af_mint *m)
{
    json_t *arr = json_array();
    for (unsigned i = 0; arr != NULL && i < AF_DEFECT_COUNT; i++) {
        if (has(m, (af_defect)i) && json_array_append_new(arr, json_string(defect_names[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

/* log_mint: one info line per minted token, so a test log shows what was
 * handed out. */
static void log_mint(const struct af_mint *m, const json_t *c)
{
    char list[256] = "";
    size_t len = 0;

    for (unsigned i = 0; i < AF_DEFECT_COUNT && len < sizeof(list); i++) {
        if (has(m, (af_defect)i)) {
            int k =
                snprintf(list + len, sizeof(list) - len, "%s%s", len ? "," : "", defect_names[i]);
            len = k < 0 ? sizeof(list) : len + (size_t)k;
        }
    }
    af_log_info("admin: minted a token for sub %s, client %s, defects: %s",
                json_string_value(json_object_get(c, AF_C_SUB)), m->client->id,
                list[0] ? list : "none");
}

af_rc af_mint_token(struct af_server *srv, const struct af_mint *m, json_t **out,
                    struct af_err *err)
{
    struct af_access_spec sp;
    json_t *c = NULL, *hdr = NULL, *defects = NULL;
    char *token = NULL;
    const char *jti;
    time_t now = af_now();
    af_rc rc;

    *out = NULL;
    rc = build_claims(srv, m, now, &sp, &c, err);
    if (rc != AF_OK)
        goto out;
    rc = sign(srv, m, c, &hdr, &token, err);
    if (rc != AF_OK)
        goto out;
    /* Access tokens are not stored: a minted one is valid as an issued one
     * is, and "revoked" puts its jti on the store's revocation list. */
    jti = json_string_value(json_object_get(c, AF_C_JTI));
    if (has(m, AF_DEFECT_REVOKED) && jti != NULL) {
        rc = af_access_revoke(srv->store, jti, sp.exp);
        if (rc != AF_OK) {
            AF_ERR_SET(err, rc, "the revocation store refused the token (%s)", af_rc_str(rc));
            goto out;
        }
    }
    defects = defect_list(m);
    *out = json_pack("{s:s, s:s, s:I, s:O, s:O, s:O}", AF_P_ACCESS_TOKEN, token, AF_P_TOKEN_TYPE,
                     AF_TOKEN_TYPE_BEARER, AF_P_EXPIRES_IN, (json_int_t)(sp.exp - now),
                     AF_MINT_HEADER, hdr, AF_MINT_CLAIMS, c, AF_MINT_DEFECTS, defects);
    if (*out == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory building the response");
        goto out;
    }
    log_mint(m, c);
out:
    json_decref(defects);
    json_decref(hdr);
    json_decref(c);
    free(token);
    return rc;
}
