/*
 * persona.c - the personas' table (persona.h): each row the dialect
 * choices of one provider, taken from its public documentation
 * (docs/personas.md says which facts and where each is used).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "authflow/buf.h"
#include "authflow/proto.h"
#include "authflow/util.h"
#include "server/core.h"
#include "server/persona.h"
#include "server/scope.h"

static const struct af_persona_route tiktok_routes[] = {
    {AF_TT_PATH_AUTHORIZE, AF_PM_GET, af_h_persona_authorize},
    {AF_EP_LOGIN, AF_PM_POST, af_h_persona_login},
    {AF_TT_PATH_TOKEN, AF_PM_POST, af_h_persona_token},
    {AF_TT_PATH_USER_INFO, AF_PM_GET, af_h_tiktok_user_info},
    {NULL, 0, NULL},
};

/* Google's authorization endpoint, both paths (the one its discovery
 * names first: the metadata's authflow_persona names the first of each
 * kind, h_discovery.c), and its user info at the paths of
 * openidconnect.googleapis.com (first) and www.googleapis.com; the token
 * endpoint is the standard /token, where oauth2.googleapis.com has it. */
static const struct af_persona_route google_routes[] = {
    {AF_GG_PATH_AUTHORIZE, AF_PM_GET | AF_PM_POST, af_h_persona_authorize},
    {AF_GG_PATH_AUTHORIZE_V1, AF_PM_GET | AF_PM_POST, af_h_persona_authorize},
    {AF_EP_LOGIN, AF_PM_POST, af_h_persona_login},
    {AF_GG_PATH_USERINFO, AF_PM_GET | AF_PM_POST, af_h_userinfo},
    {AF_GG_PATH_USERINFO_V3, AF_PM_GET | AF_PM_POST, af_h_userinfo},
    {NULL, 0, NULL},
};

static const struct af_persona_route github_routes[] = {
    {AF_GH_PATH_AUTHORIZE, AF_PM_GET, af_h_persona_authorize},
    {AF_EP_LOGIN, AF_PM_POST, af_h_persona_login},
    {AF_GH_PATH_TOKEN, AF_PM_POST, af_h_persona_token},
    {AF_GH_PATH_USER, AF_PM_GET, af_h_github_user},
    {AF_GH_PATH_USER_EMAILS, AF_PM_GET, af_h_github_user_emails},
    {NULL, 0, NULL},
};

/* TikTok's SDKs send disable_auto_auth; the standard client_id is not
 * TikTok's and is dropped (passport strategies send both). */
static const struct af_persona_rename tiktok_authz_in[] = {
    {AF_TT_P_DISABLE_AUTO, NULL},
    {AF_P_CLIENT_ID, NULL},
    {NULL, NULL},
};

/* GitHub's login suggests the account: authflowd's login_hint, so that
 * login=alice%2BSCENARIO picks a scenario as login_hint does. */
static const struct af_persona_rename github_authz_in[] = {
    {AF_GH_P_LOGIN, AF_P_LOGIN_HINT},
    {AF_GH_P_ALLOW_SIGNUP, NULL},
    {NULL, NULL},
};

/* Google's full URLs for the OpenID Connect scopes email and profile. */
static const struct af_persona_rename google_scope_in[] = {
    {AF_GG_SCOPE_EMAIL, AF_SCOPE_EMAIL},
    {AF_GG_SCOPE_PROFILE, AF_SCOPE_PROFILE},
    {NULL, NULL},
};

static const char *const google_access_types[] = {AF_GG_ACCESS_ONLINE, AF_GG_ACCESS_OFFLINE, NULL};
static const char *const google_booleans[] = {AF_GG_TRUE, AF_GG_FALSE, NULL};

static const struct af_persona_param google_authz_params[] = {
    {AF_GG_P_ACCESS_TYPE, google_access_types},
    {AF_GG_P_INCLUDE_GRANTED, google_booleans},
    {NULL, NULL},
};

/* The claims of Google's ID tokens and user info that come from a user:
 * email with the scope email, the name and the rest with profile, the
 * hosted domain whenever the user has one. */
static const struct af_persona_claim google_claims[] = {
    {AF_C_EMAIL, AF_SCOPE_EMAIL},
    {AF_C_EMAIL_VERIFIED, AF_SCOPE_EMAIL},
    {AF_C_NAME, AF_SCOPE_PROFILE},
    {AF_C_GIVEN_NAME, AF_SCOPE_PROFILE},
    {AF_C_FAMILY_NAME, AF_SCOPE_PROFILE},
    {AF_C_PICTURE, AF_SCOPE_PROFILE},
    {AF_C_LOCALE, AF_SCOPE_PROFILE},
    {AF_GG_C_HD, NULL},
    {NULL, NULL},
};

/* Google's user info answers a token of any of these scopes. */
static const char *const google_userinfo_scopes[] = {AF_SCOPE_OPENID, AF_SCOPE_EMAIL,
                                                     AF_SCOPE_PROFILE, NULL};

static const struct af_persona_errmap github_token_errors[] = {
    {AF_E_INVALID_GRANT, AF_GH_E_BAD_CODE},
    {AF_E_INVALID_CLIENT, AF_GH_E_BAD_CLIENT},
    {NULL, NULL},
};

static const struct af_persona personas[] = {
    {
        .kind = AF_PERSONA_STANDARD,
        .name = AF_PERSONA_N_STANDARD,
        .client_param = AF_P_CLIENT_ID,
        .scope_seps = " ",
        .scope_out_sep = ' ',
        .token_shape = AF_PT_STANDARD,
        .issues_refresh = true,
    },
    {
        .kind = AF_PERSONA_TIKTOK,
        .name = AF_PERSONA_N_TIKTOK,
        .routes = tiktok_routes,
        .client_param = AF_TT_P_CLIENT_KEY,
        .authz_in = tiktok_authz_in,
        .scope_seps = ",",
        .scope_out_sep = ',',
        .strip_iss = true,
        .granted_scopes_param = AF_TT_P_SCOPES,
        .secret_in_body = true,
        .token_shape = AF_PT_TIKTOK,
        .token_type = "Bearer",
        .issues_refresh = true,
    },
    {
        .kind = AF_PERSONA_GITHUB,
        .name = AF_PERSONA_N_GITHUB,
        .routes = github_routes,
        .client_param = AF_P_CLIENT_ID,
        .authz_in = github_authz_in,
        .scope_seps = " ,",
        .scope_out_sep = ',',
        .default_response_type_code = true,
        .strip_iss = true,
        .authz_error_uri = AF_GH_DOCS_AUTHZ_ERRORS,
        .default_grant_code = true,
        .token_json_body = true,
        .secret_in_body = true,
        .token_shape = AF_PT_GITHUB,
        .token_errors = github_token_errors,
        .token_error_uri = AF_GH_DOCS_TOKEN_ERRORS,
        .token_errors_200 = true,
        .token_type = "bearer",
        .issues_refresh = false,
    },
    {
        .kind = AF_PERSONA_GOOGLE,
        .name = AF_PERSONA_N_GOOGLE,
        .routes = google_routes,
        .client_param = AF_P_CLIENT_ID,
        .scope_seps = " ",
        .scope_in = google_scope_in,
        .scope_out_sep = ' ',
        .secret_in_body = true,
        .token_shape = AF_PT_STANDARD,
        .issues_refresh = true,
        .authz_params = google_authz_params,
        .offline_param = AF_GG_P_ACCESS_TYPE,
        .offline_value = AF_GG_ACCESS_OFFLINE,
        .refresh_on_consent = true,
        .incremental_param = AF_GG_P_INCLUDE_GRANTED,
        .incremental_value = AF_GG_TRUE,
        .refresh_kept = true,
        .claims = google_claims,
        .userinfo_scopes = google_userinfo_scopes,
        .token_in_query = true,
    },
};

const struct af_persona *af_persona_get(af_persona_kind kind)
{
    size_t i;

    for (i = 0; i < sizeof(personas) / sizeof(personas[0]); i++)
        if (personas[i].kind == kind)
            return &personas[i];
    return &personas[0];
}

const struct af_persona *af_persona_of(const struct af_server *srv)
{
    return af_persona_get(srv != NULL && srv->cfg != NULL ? srv->cfg->persona
                                                          : AF_PERSONA_STANDARD);
}

const struct af_persona_route *af_persona_route(const struct af_persona *p, const char *path)
{
    const struct af_persona_route *r;

    for (r = p->routes; r != NULL && r->path != NULL; r++)
        if (strcmp(r->path, path) == 0)
            return r;
    return NULL;
}

void af_persona_log_id(char *out, size_t outlen)
{
    unsigned char rnd[10] = {0};
    time_t now = af_now();
    struct tm tm;
    size_t i, n;

    gmtime_r(&now, &tm);
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        memset(rnd, 0, sizeof(rnd));
    n = strftime(out, outlen, "%Y%m%d%H%M%S", &tm);
    for (i = 0; i < sizeof(rnd) && n + 2 < outlen; i++, n += 2)
        snprintf(out + n, outlen - n, "%02X", rnd[i]);
}

af_rc af_persona_open_id(const char *client_id, const char *sub, struct af_buf *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    af_rc rc = AF_ERR_NOMEM;

    if (ctx == NULL)
        goto out;
    rc = AF_ERR_CRYPTO;
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, client_id, strlen(client_id)) != 1 ||
        EVP_DigestUpdate(ctx, "\n", 1) != 1 || EVP_DigestUpdate(ctx, sub, strlen(sub)) != 1 ||
        EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen < 16)
        goto out;
    rc = af_b64url_encode(out, md, 16);
out:
    EVP_MD_CTX_free(ctx);
    return rc;
}

af_rc af_persona_scope_join(const char *scope, char sep, struct af_buf *out)
{
    const char *p;
    af_rc rc = AF_OK;

    for (p = scope; p != NULL && *p && rc == AF_OK; p++)
        rc = af_buf_addc(out, *p == ' ' ? sep : *p);
    return rc;
}

af_rc af_persona_claims_release(const struct af_persona *p, const struct af_cfg_user *user,
                                const char *scope, json_t *obj)
{
    const struct af_persona_claim *c;
    json_t *v;

    if (p->claims == NULL)
        return af_claims_release(user, scope, obj);
    for (c = p->claims; user != NULL && user->claims != NULL && c->name != NULL; c++) {
        v = json_object_get(user->claims, c->name);
        if (v == NULL || (c->scope != NULL && !af_str_has_space_token(scope, c->scope)))
            continue;
        if (json_object_set(obj, c->name, v) != 0)
            return AF_ERR_NOMEM;
    }
    return AF_OK;
}

bool af_persona_userinfo_opens(const struct af_persona *p, const char *scope)
{
    const char *const *s;

    if (p->userinfo_scopes == NULL)
        return af_str_has_space_token(scope, AF_SCOPE_OPENID);
    for (s = p->userinfo_scopes; *s != NULL; s++)
        if (af_str_has_space_token(scope, *s))
            return true;
    return false;
}

const struct af_persona_param *af_persona_authz_param(const struct af_persona *p, size_t i)
{
    size_t n;

    for (n = 0; p->authz_params != NULL && p->authz_params[n].name != NULL; n++)
        if (n == i)
            return &p->authz_params[n];
    return NULL;
}
