/*
 * h_persona_user.c - a persona's user API (docs/personas.md): TikTok's
 * GET /v2/user/info/ and GitHub's GET /api/v3/user and /api/v3/user/emails.
 * The token is checked as /userinfo checks it (af_tokens_check_access_scen:
 * minted tokens work, revoked and expired ones do not) and userinfo
 * scenarios apply; the answers and refusals are in the provider's shape.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "authflow/buf.h"
#include "authflow/cfg.h"
#include "authflow/proto.h"
#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/clientauth.h"
#include "server/core.h"
#include "server/http_req.h"
#include "server/persona.h"
#include "server/registry.h"
#include "server/scenario.h"
#include "server/tokens.h"

/* Why a user API refuses, mapped to each provider's answer below. */
typedef enum {
    UE_NO_TOKEN,  /* no credentials of an accepted scheme */
    UE_BAD_TOKEN, /* not a live access token of this issuer */
    UE_NOT_USER,  /* a client's own token, or its user is gone */
    UE_INTERNAL,  /* out of memory, a scenario that failed */
    UE_STORE_DOWN /* the shared store cannot be reached: 503, retry later */
} user_err;

/* The request's token, checked, with what the answer needs. */
struct user_ctx {
    json_t *claims; /* new reference */
    const struct af_cfg_user *user;
    const char *sub; /* the subject shown: the user's, or the wrong one of a scenario */
    const char *client_id;
    const char *scope; /* space-separated; never NULL */
    bool wrong_sub;    /* userinfo_wrong_sub: another subject is shown */
};

static void user_ctx_clear(struct user_ctx *u)
{
    json_decref(u->claims);
    memset(u, 0, sizeof(*u));
}

/* user_front: the token of the Authorization header under one of schemes
 * (NULL ended), checked; on failure *why says what went wrong (a reason,
 * never the token) and the result is not UE_* < 0. Returns -1 on success. */
static int user_front(struct af_req *req, const char *const *schemes, struct user_ctx *u, char *why,
                      size_t whylen)
{
    const char *hdr = af_req_header(req, AF_HDR_AUTHORIZATION), *t = NULL;
    const struct af_scenario *sc = NULL;
    struct af_scen_ctx sx = {0};
    struct af_err err;
    size_t i;

    af_err_clear(&err);
    memset(u, 0, sizeof(*u));
    for (i = 0; schemes[i] != NULL && t == NULL; i++)
        t = af_auth_scheme_match(hdr, schemes[i]);
    if (t == NULL || *t == '\0') {
        snprintf(why, whylen, "no access token: no Authorization header with %s%s%s", schemes[0],
                 schemes[1] ? " or " : "", schemes[1] ? schemes[1] : "");
        return UE_NO_TOKEN;
    }
    req->facts.bearer = "header";
    if (af_tokens_check_access_scen(req->srv, t, &u->claims, &sc, &err) != AF_OK) {
        snprintf(why, whylen, "%s", err.msg);
        return err.rc == AF_ERR_NET ? UE_STORE_DOWN : UE_BAD_TOKEN;
    }
    u->scope = json_string_value(json_object_get(u->claims, AF_C_SCOPE));
    if (u->scope == NULL)
        u->scope = "";
    u->client_id = json_string_value(json_object_get(u->claims, AF_C_CLIENT_ID));
    u->sub = json_string_value(json_object_get(u->claims, AF_C_SUB));
    u->user = af_user_by_sub(req->srv, u->sub);
    af_req_set_client_id(req, u->client_id);
    af_req_set_flow_of_jti(req, json_string_value(json_object_get(u->claims, AF_C_JTI)));
    if (u->user != NULL)
        req->facts.sub = u->user->sub;
    if (sc == NULL || sc->stage != AF_STAGE_USERINFO)
        sc = sc == NULL ? af_scen_take(req->srv->scen, AF_STAGE_BIT(AF_STAGE_USERINFO),
                                       u->client_id, u->user, NULL)
                        : NULL;
    sx.srv = req->srv;
    if (sc != NULL) {
        req->facts.scenario = sc;
        if (af_scenario_run(sc, &sx) != AF_OK) {
            snprintf(why, whylen, "the scenario could not be applied");
            return UE_INTERNAL;
        }
    }
    if (sx.fx.userinfo_unauthorized) {
        snprintf(why, whylen, "authflow scenario userinfo_unauthorized");
        return UE_BAD_TOKEN;
    }
    if (u->user == NULL || json_object_get(u->claims, AF_C_AUTH_TIME) == NULL) {
        snprintf(why, whylen, "%s",
                 u->user == NULL ? "the token's user is not configured"
                                 : "the token is the client's own (client_credentials), not a "
                                   "user's");
        return UE_NOT_USER;
    }
    u->sub = u->user->sub;
    if (sx.fx.userinfo_wrong_sub) {
        u->sub = AF_SCEN_WRONG_SUB;
        u->wrong_sub = true;
    }
    return -1;
}

/* claim_str: the user's claim name when it is a string, else NULL. */
static const char *claim_str(const struct af_cfg_user *user, const char *name)
{
    return name != NULL ? json_string_value(json_object_get(user->claims, name)) : NULL;
}

/* ---- TikTok: GET /v2/user/info/?fields=a,b ---- */

/* tiktok_reply: the envelope {"data": data, "error": {code, message,
 * log_id}}; data is stolen (NULL: {}). */
static void tiktok_reply(struct af_resp *resp, unsigned status, json_t *data, const char *code,
                         const char *message)
{
    char log_id[AF_PERSONA_LOG_ID_LEN + 1];
    json_t *out;

    af_persona_log_id(log_id, sizeof(log_id));
    out = json_pack("{s:o, s:{s:s, s:s, s:s}}", AF_TT_DATA, data != NULL ? data : json_object(),
                    "error", AF_TT_CODE, code, AF_TT_MESSAGE, message, AF_TT_LOG_ID, log_id);
    if (out == NULL) {
        af_resp_oauth_error(resp, 500, AF_E_SERVER_ERROR, "out of memory");
        return;
    }
    af_resp_json(resp, status, out);
    json_decref(out);
    if (strcmp(code, AF_TT_OK) != 0) {
        snprintf(resp->error, sizeof(resp->error), "%s", code);
        af_resp_reason(resp, "%s", message);
    }
}

typedef enum { TF_STR, TF_BOOL, TF_INT, TF_OPEN_ID, TF_UNION_ID, TF_DEEP_LINK } tt_kind;

/* The user object's fields, the scope each needs (TikTok's Display API
 * reference) and where authflowd takes the value: the user's claim of the
 * field's own name first, then the fallback claim, then the username. */
static const struct tt_field {
    const char *name;
    const char *scope;
    tt_kind kind;
    const char *fallback; /* a claim; NULL: none */
    bool username_last;   /* else "" */
} tt_fields[] = {
    {AF_TT_OPEN_ID, AF_TT_SCOPE_BASIC, TF_OPEN_ID, NULL, false},
    {AF_TT_UNION_ID, AF_TT_SCOPE_BASIC, TF_UNION_ID, NULL, false},
    {"avatar_url", AF_TT_SCOPE_BASIC, TF_STR, "picture", false},
    {"avatar_url_100", AF_TT_SCOPE_BASIC, TF_STR, "picture", false},
    {"avatar_large_url", AF_TT_SCOPE_BASIC, TF_STR, "picture", false},
    {"display_name", AF_TT_SCOPE_BASIC, TF_STR, "name", true},
    {"bio_description", AF_TT_SCOPE_PROFILE, TF_STR, NULL, false},
    {"profile_deep_link", AF_TT_SCOPE_PROFILE, TF_DEEP_LINK, NULL, false},
    {"is_verified", AF_TT_SCOPE_PROFILE, TF_BOOL, NULL, false},
    {"username", AF_TT_SCOPE_PROFILE, TF_STR, "preferred_username", true},
    {"follower_count", AF_TT_SCOPE_STATS, TF_INT, NULL, false},
    {"following_count", AF_TT_SCOPE_STATS, TF_INT, NULL, false},
    {"likes_count", AF_TT_SCOPE_STATS, TF_INT, NULL, false},
    {"video_count", AF_TT_SCOPE_STATS, TF_INT, NULL, false},
};

static const struct tt_field *tt_field_find(const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < sizeof(tt_fields) / sizeof(tt_fields[0]); i++)
        if (strlen(tt_fields[i].name) == len && strncmp(tt_fields[i].name, name, len) == 0)
            return &tt_fields[i];
    return NULL;
}

/* tt_value: field f of the user, a new reference (NULL: out of memory). */
static json_t *tt_value(const struct af_req *req, const struct user_ctx *u,
                        const struct tt_field *f)
{
    json_t *own = json_object_get(u->user->claims, f->name);
    const char *s;
    struct af_buf b;
    json_t *v = NULL;

    if (own != NULL && f->kind != TF_OPEN_ID)
        return json_incref(own);
    af_buf_init(&b, 4096);
    switch (f->kind) {
    case TF_OPEN_ID:
        if (af_persona_open_id(u->client_id ? u->client_id : "", u->sub, &b) == AF_OK)
            v = json_string(af_buf_str(&b));
        break;
    case TF_UNION_ID:
        v = json_string(u->sub);
        break;
    case TF_DEEP_LINK:
        if (af_buf_addf(&b, "%s/@%s", req->srv->issuer, u->user->username) == AF_OK)
            v = json_string(af_buf_str(&b));
        break;
    case TF_BOOL:
        v = json_false();
        break;
    case TF_INT:
        v = json_integer(0);
        break;
    case TF_STR:
        s = claim_str(u->user, f->fallback);
        v = json_string(s != NULL ? s : f->username_last ? u->user->username : "");
        break;
    }
    af_buf_free(&b);
    return v;
}

void af_h_tiktok_user_info(struct af_req *req, struct af_resp *resp)
{
    static const char *const schemes[] = {"Bearer", NULL};
    struct user_ctx u;
    char why[AF_ERR_MSG_MAX + 64];
    const char *fields = af_params_get(&req->query, AF_TT_P_FIELDS), *p, *end;
    struct af_buf missing;
    json_t *user = NULL;
    int e;

    af_buf_init(&missing, 1024);
    e = user_front(req, schemes, &u, why, sizeof(why));
    if (e >= 0) {
        tiktok_reply(
            resp,
            e == UE_INTERNAL     ? 500
            : e == UE_STORE_DOWN ? 503
                                 : 401,
            NULL, e == UE_INTERNAL || e == UE_STORE_DOWN ? AF_TT_E_INTERNAL : AF_TT_E_TOKEN_INVALID,
            why);
        goto out;
    }
    if (!af_str_has_space_token(u.scope, AF_TT_SCOPE_BASIC)) {
        snprintf(why, sizeof(why), "the token's scope (%.200s) has no %s", u.scope,
                 AF_TT_SCOPE_BASIC);
        tiktok_reply(resp, 401, NULL, AF_TT_E_SCOPE_NOT_AUTH, why);
        goto out;
    }
    if (fields == NULL || *fields == '\0') {
        tiktok_reply(resp, 400, NULL, AF_TT_E_INVALID_PARAMS,
                     "fields is required: the user fields to return, comma-separated");
        goto out;
    }
    user = json_object();
    if (user == NULL)
        goto oom;
    /* fields the persona does not know are left out of the answer */
    for (p = fields; *p; p = *end ? end + 1 : end) {
        const struct tt_field *f;
        json_t *v;

        end = strchr(p, ',');
        if (end == NULL)
            end = p + strlen(p);
        f = tt_field_find(p, (size_t)(end - p));
        if (f == NULL || json_object_get(user, f->name) != NULL)
            continue;
        if (!af_str_has_space_token(u.scope, f->scope)) {
            if (af_buf_addf(&missing, "%s%s needs %s", missing.len ? ", " : "", f->name,
                            f->scope) != AF_OK)
                goto oom;
            continue;
        }
        v = tt_value(req, &u, f);
        if (v == NULL || json_object_set_new(user, f->name, v) != 0)
            goto oom;
    }
    if (missing.len > 0) {
        snprintf(why, sizeof(why), "fields need scopes the token lacks: %.400s",
                 af_buf_str(&missing));
        tiktok_reply(resp, 400, NULL, AF_TT_E_SCOPE_MISSED, why);
        goto out;
    }
    tiktok_reply(resp, 200, json_pack("{s:O}", AF_TT_USER, user), AF_TT_OK, "");
    goto out;
oom:
    tiktok_reply(resp, 500, NULL, AF_TT_E_INTERNAL, "out of memory");
out:
    af_resp_no_store(resp);
    json_decref(user);
    af_buf_free(&missing);
    user_ctx_clear(&u);
}

/* ---- GitHub: GET /api/v3/user, GET /api/v3/user/emails ---- */

static const char *const gh_schemes[] = {AF_GH_AUTH_TOKEN, "Bearer", NULL};

/* github_reply_error: {"message", "documentation_url", "status"}. */
static void github_reply_error(struct af_resp *resp, unsigned status, const char *message,
                               const char *why)
{
    char st[8];
    json_t *out;

    snprintf(st, sizeof(st), "%u", status);
    out = json_pack("{s:s, s:s, s:s}", AF_GH_MESSAGE, message, AF_GH_DOC_URL, AF_GH_DOCS_REST,
                    AF_GH_STATUS, st);
    if (out == NULL) {
        af_resp_oauth_error(resp, 500, AF_E_SERVER_ERROR, "out of memory");
        return;
    }
    af_resp_json(resp, status, out);
    json_decref(out);
    if (status == 401)
        snprintf(resp->error, sizeof(resp->error), "%s", AF_E_INVALID_TOKEN);
    af_resp_reason(resp, "%s", why);
}

/* github_front: user_front with GitHub's refusals; true when u is ready. */
static bool github_front(struct af_req *req, struct af_resp *resp, struct user_ctx *u)
{
    char why[AF_ERR_MSG_MAX + 64];
    struct af_buf sc;
    const char *p;
    af_rc rc = AF_OK;
    int e = user_front(req, gh_schemes, u, why, sizeof(why));

    if (e == UE_INTERNAL)
        github_reply_error(resp, 500, "Server Error", why);
    else if (e == UE_STORE_DOWN)
        github_reply_error(resp, 503, "Service Unavailable", why);
    else if (e >= 0)
        github_reply_error(resp, 401,
                           e == UE_NO_TOKEN ? AF_GH_REQUIRES_AUTH : AF_GH_BAD_CREDENTIALS, why);
    if (e >= 0)
        return false;
    /* the scopes the token has, as GitHub lists them on every API answer */
    af_buf_init(&sc, 4096);
    for (p = u->scope; *p && rc == AF_OK; p++)
        rc = *p == ' ' ? af_buf_adds(&sc, ", ") : af_buf_addc(&sc, *p);
    af_resp_header(resp, AF_HDR_X_OAUTH_SCOPES, af_buf_str(&sc));
    af_buf_free(&sc);
    return true;
}

/* github_id: the user's numeric id: the claim "id" when it is an integer,
 * the sub when it is all digits (at most 15), else the first 6 bytes of
 * SHA-256(sub) (below 2^48: exact in a JavaScript number). */
static json_int_t github_id(const struct user_ctx *u)
{
    json_t *own = json_object_get(u->user->claims, "id");
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    json_int_t id = 0;
    size_t i, len = strlen(u->sub);

    if (json_is_integer(own) && !u->wrong_sub)
        return json_integer_value(own);
    for (i = 0; i < len && isdigit((unsigned char)u->sub[i]); i++)
        ;
    if (len > 0 && len <= 15 && i == len)
        return (json_int_t)strtoll(u->sub, NULL, 10);
    if (EVP_Digest(u->sub, len, md, &n, EVP_sha256(), NULL) != 1 || n < 6)
        return 1;
    for (i = 0; i < 6; i++)
        id = (id << 8) | md[i];
    return id != 0 ? id : 1;
}

/* The user object's members in GitHub's order and their defaults; a
 * user's claim of the same name replaces the default. */
typedef enum { GF_STR, GF_NULL_STR, GF_INT0, GF_FALSE } gh_kind;
static const struct gh_field {
    const char *name;
    gh_kind kind;
    const char *fallback; /* a claim */
    const char *literal;  /* GF_STR without a claim */
} gh_fields[] = {
    {"avatar_url", GF_STR, "picture", ""}, {"gravatar_id", GF_STR, NULL, ""},
    {"type", GF_STR, NULL, "User"},        {"site_admin", GF_FALSE, NULL, NULL},
    {"name", GF_NULL_STR, NULL, NULL},     {"company", GF_NULL_STR, NULL, NULL},
    {"blog", GF_STR, "website", ""},       {"location", GF_NULL_STR, NULL, NULL},
    {"email", GF_NULL_STR, NULL, NULL},    {"bio", GF_NULL_STR, NULL, NULL},
    {"public_repos", GF_INT0, NULL, NULL}, {"followers", GF_INT0, NULL, NULL},
    {"following", GF_INT0, NULL, NULL},
};

static json_t *gh_value(const struct user_ctx *u, const struct gh_field *f)
{
    json_t *own = json_object_get(u->user->claims, f->name);
    const char *s;

    if (own != NULL)
        return json_incref(own);
    s = claim_str(u->user, f->fallback);
    switch (f->kind) {
    case GF_STR:
        return json_string(s != NULL ? s : f->literal);
    case GF_NULL_STR:
        return s != NULL ? json_string(s) : json_null();
    case GF_INT0:
        return json_integer(0);
    case GF_FALSE:
        return json_false();
    }
    return NULL;
}

void af_h_github_user(struct af_req *req, struct af_resp *resp)
{
    struct user_ctx u;
    struct af_buf b;
    json_t *out = NULL;
    const char *login;
    char node[64];
    size_t i;
    bool ok;

    af_buf_init(&b, 4096);
    if (!github_front(req, resp, &u))
        goto out;
    login = u.wrong_sub ? u.sub : u.user->username;
    snprintf(node, sizeof(node), "U_%llx", (unsigned long long)github_id(&u));
    out = json_pack("{s:s, s:I, s:s}", "login", login, "id", github_id(&u), "node_id", node);
    ok = out != NULL;
    for (i = 0; ok && i < sizeof(gh_fields) / sizeof(gh_fields[0]); i++) {
        json_t *v = gh_value(&u, &gh_fields[i]);
        ok = v != NULL && json_object_set_new(out, gh_fields[i].name, v) == 0;
        if (ok && i == 1) {
            /* url and html_url after gravatar_id, as GitHub orders them */
            af_buf_reset(&b);
            ok = af_buf_addf(&b, "%s%s/users/%s", req->srv->issuer, AF_GH_API_PREFIX, login) ==
                     AF_OK &&
                 json_object_set_new(out, "url", json_string(af_buf_str(&b))) == 0;
            af_buf_reset(&b);
            ok = ok && af_buf_addf(&b, "%s/%s", req->srv->issuer, login) == AF_OK &&
                 json_object_set_new(out, "html_url", json_string(af_buf_str(&b))) == 0;
        }
    }
    if (!ok) {
        github_reply_error(resp, 500, "Server Error", "out of memory");
        goto out;
    }
    af_resp_json(resp, 200, out);
out:
    af_resp_no_store(resp);
    json_decref(out);
    af_buf_free(&b);
    user_ctx_clear(&u);
}

void af_h_github_user_emails(struct af_req *req, struct af_resp *resp)
{
    struct user_ctx u;
    json_t *out = NULL, *verified;
    const char *email;

    if (!github_front(req, resp, &u))
        goto out;
    /* without user or user:email GitHub hides the list behind a 404 */
    if (!af_str_has_space_token(u.scope, AF_GH_SCOPE_USER) &&
        !af_str_has_space_token(u.scope, AF_GH_SCOPE_USER_EMAIL)) {
        github_reply_error(resp, 404, AF_GH_NOT_FOUND,
                           "the token's scope has neither user nor user:email");
        goto out;
    }
    email = claim_str(u.user, "email");
    verified = json_object_get(u.user->claims, "email_verified");
    out = email == NULL || u.wrong_sub
              ? json_array()
              : json_pack("[{s:s, s:b, s:b, s:s}]", "email", email, "primary", 1, "verified",
                          json_is_true(verified), "visibility", "public");
    if (out == NULL) {
        github_reply_error(resp, 500, "Server Error", "out of memory");
        goto out;
    }
    af_resp_json(resp, 200, out);
out:
    af_resp_no_store(resp);
    json_decref(out);
    user_ctx_clear(&u);
}
