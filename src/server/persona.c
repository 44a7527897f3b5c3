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

static const struct af_persona_route tiktok_routes[] = {
    {AF_TT_PATH_AUTHORIZE, AF_PM_GET, af_h_persona_authorize},
    {AF_EP_LOGIN, AF_PM_POST, af_h_persona_login},
    {AF_TT_PATH_TOKEN, AF_PM_POST, af_h_persona_token},
    {AF_TT_PATH_USER_INFO, AF_PM_GET, af_h_tiktok_user_info},
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
