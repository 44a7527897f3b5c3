/*
 * h_admin.c - the admin API's handlers (docs/admin.md): GET /admin/healthz
 * and POST /admin/tokens (the scenario and ledger routes are in
 * h_admin_scen.c), which reads a mint request strictly (unknown
 * members, wrong types and contradictory defects are refused, each error
 * naming the member at fault) and hands it to admin_tokens.c.
 *
 * server.c has already checked admin.secret and capped the body at
 * AF_ADMIN_MAX_BODY before these run.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "authflow/cfg.h"
#include "authflow/proto.h"
#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/admin.h"
#include "server/admin_tokens.h"
#include "server/clientauth.h"
#include "server/core.h"
#include "server/keyring.h"
#include "server/registry.h"
#include "server/http_req.h"
#include "server/routes.h"
#include "server/scope.h"

/* Longest token lifetime a mint request may ask for: one year, the bound
 * of the lifetimes.* keys. */
#define MINT_TTL_MAX 31536000L
/* Most audiences in an "aud" array. */
#define MINT_AUD_MAX 16

void af_admin_error(struct af_resp *resp, unsigned status, const char *error, const char *fmt, ...)
{
    char msg[AF_ERR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    af_resp_json_error(resp, status, error, msg);
    af_resp_no_store(resp);
}

void af_admin_reply(struct af_resp *resp, unsigned status, json_t *o)
{
    if (o == NULL) {
        af_admin_error(resp, 500, AF_E_SERVER_ERROR, "out of memory");
        goto out;
    }
    af_resp_json(resp, status, o);
    af_resp_no_store(resp);
out:
    json_decref(o);
}

bool af_admin_only_params(const struct af_params *q, const char *const *names, const char *expected,
                          struct af_resp *resp)
{
    const char *dup = af_params_first_dup(q);
    size_t j;

    if (dup != NULL) {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST, "%.64s: repeated", dup);
        return false;
    }
    for (size_t i = 0; i < q->n; i++) {
        for (j = 0; names[j] != NULL && strcmp(names[j], q->v[i].name) != 0; j++)
            ;
        if (names[j] == NULL) {
            af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                           "%.64s: unknown query parameter (expected %s)", q->v[i].name, expected);
            return false;
        }
    }
    return true;
}

/* host_is_local: whether name (the Host header without its port, len
 * bytes) is an IP address, localhost or a name under .localhost (RFC 6761
 * §6.3): names no page on the web can make a browser send to us. */
static bool host_is_local(const char *name, size_t len)
{
    char buf[INET6_ADDRSTRLEN + 1];
    unsigned char addr[sizeof(struct in6_addr)];
    static const char sub[] = ".localhost";
    size_t sl = sizeof(sub) - 1;

    if (len >= 2 && name[0] == '[' && name[len - 1] == ']' && len - 2 < sizeof(buf)) {
        memcpy(buf, name + 1, len - 2);
        buf[len - 2] = '\0';
        return inet_pton(AF_INET6, buf, addr) == 1;
    }
    if (len < sizeof(buf)) {
        memcpy(buf, name, len);
        buf[len] = '\0';
        if (inet_pton(AF_INET, buf, addr) == 1)
            return true;
    }
    return (len == sl - 1 && strncasecmp(name, sub + 1, len) == 0) ||
           (len > sl && strncasecmp(name + len - sl, sub, sl) == 0);
}

/* host_allowed: the Host header names this admin API: a local name
 * (host_is_local) or one of admin.hosts, with any port or none. An absent
 * Host (HTTP/1.0) is allowed: browsers always send one. */
static bool host_allowed(const struct af_config *cfg, const char *host)
{
    const char *end, *port;
    size_t len;

    if (host == NULL)
        return true;
    end = host[0] == '[' ? strchr(host, ']') : host + strcspn(host, ":");
    if (end == NULL)
        return false;
    end += host[0] == '[';
    len = (size_t)(end - host);
    port = *end == ':' ? end + 1 : end;
    if (len == 0 || (*end != '\0' && (*end != ':' || *port == '\0')) ||
        port[strspn(port, "0123456789")] != '\0')
        return false;
    if (host_is_local(host, len))
        return true;
    for (size_t i = 0; i < cfg->admin_hosts.n; i++) {
        const char *h = cfg->admin_hosts.v[i];
        if (strlen(h) == len && strncasecmp(h, host, len) == 0)
            return true;
    }
    return false;
}

/* af_admin_authorized: the Host check (host_allowed), then with
 * admin.secret set, every admin request carries
 * "Authorization: Bearer <secret>" (RFC 6750 §2.1), compared in constant
 * time; otherwise resp holds the 401 (RFC 6750 §3: no error attribute when
 * no credentials came, invalid_token when wrong ones did). Checked before
 * routing, so that nothing about the API shows without the secret. */
bool af_admin_authorized(struct af_req *req, struct af_resp *resp)
{
    const char *secret = req->srv->cfg->admin_secret;
    char *token = NULL;
    af_bearer_result br;
    bool ok;

    if (!host_allowed(req->srv->cfg, af_req_header(req, AF_HDR_HOST))) {
        af_admin_error(resp, MHD_HTTP_MISDIRECTED_REQUEST, AF_E_INVALID_REQUEST,
                       "Host: not a name of this admin API (localhost, an IP address or one of "
                       "admin.hosts): a request through another name may come from a web page "
                       "(DNS rebinding)");
        return false;
    }
    /* the inspector page is static and holds no data; a browser cannot
     * send the Bearer secret with a navigation, and the page's own
     * requests for the data carry it (docs/admin.md, the inspector) */
    if (secret == NULL ||
        (req->method == AF_M_GET && strcmp(req->path, AF_ADMIN_PATH_INSPECTOR) == 0))
        return true;
    br = af_bearer_parse(af_req_header(req, AF_HDR_AUTHORIZATION), &token);
    ok = br == AF_BEARER_OK && af_ct_streq(token, secret);
    free(token);
    if (ok)
        return true;
    if (br == AF_BEARER_ABSENT) {
        af_admin_error(resp, 401, AF_E_INVALID_TOKEN,
                       "Authorization: the admin API needs \"Bearer\" and admin.secret");
        af_resp_header(resp, AF_HDR_WWW_AUTHENTICATE,
                       AF_SCHEME_BEARER " realm=\"" AF_ADMIN_REALM "\"");
    } else {
        af_admin_error(resp, 401, AF_E_INVALID_TOKEN,
                       "Authorization: the Bearer token is not admin.secret");
        af_resp_header(resp, AF_HDR_WWW_AUTHENTICATE,
                       AF_SCHEME_BEARER " realm=\"" AF_ADMIN_REALM "\", error=\"" AF_E_INVALID_TOKEN
                                        "\"");
    }
    return false;
}

/* af_h_admin_healthz: {"status": "ok", "issuer": ISSUER}: the issuer lets a
 * client (authprobe) check that this admin API belongs to the provider it
 * probes, not to another authflowd left running. */
void af_h_admin_healthz(struct af_req *req, struct af_resp *resp)
{
    af_admin_reply(resp, 200,
                   json_pack("{s:s, s:s}", AF_ADMIN_HEALTHZ_STATUS, "ok", AF_ADMIN_HEALTHZ_ISSUER,
                             req->srv->issuer));
}

/* ---- reading a mint request ---- */

static const char *const members[] = {
    AF_MINT_USER,   AF_MINT_CLIENT,  AF_MINT_SCOPE, AF_MINT_AUD, AF_MINT_TTL,
    AF_MINT_CLAIMS, AF_MINT_DEFECTS, AF_MINT_ALG,   NULL,
};

static bool is_member(const char *key)
{
    for (size_t i = 0; members[i] != NULL; i++) {
        if (strcmp(members[i], key) == 0)
            return true;
    }
    return false;
}

/* Claims the server sets in every token, and what to use instead. */
static const struct {
    const char *claim;
    const char *instead; /* NULL: nothing, the server decides */
} reserved[] = {
    {AF_C_ISS, "the " AF_DEFECT_N_WRONG_ISS " defect"},
    {AF_C_SUB, "the " AF_MINT_USER " member"},
    {AF_C_AUD, "the " AF_MINT_AUD " member or the " AF_DEFECT_N_WRONG_AUD " defect"},
    {AF_C_EXP, AF_MINT_TTL " or the " AF_DEFECT_N_EXPIRED " defect"},
    {AF_C_NBF, "the " AF_DEFECT_N_NOT_YET_VALID " defect"},
    {AF_C_IAT, AF_MINT_TTL " or the " AF_DEFECT_N_EXPIRED " defect"},
    {AF_C_JTI, NULL},
    {AF_C_CLIENT_ID, "the " AF_MINT_CLIENT " member"},
    {AF_C_SCOPE, "the " AF_MINT_SCOPE " member or the " AF_DEFECT_N_NO_SCOPE " defect"},
    {AF_C_AUTH_TIME, NULL},
    {AF_C_AZP, "the " AF_MINT_CLIENT " member"},
    {AF_C_NONCE, NULL},
    {AF_C_AT_HASH, NULL},
    {AF_C_C_HASH, NULL},
    {AF_C_SID, NULL},
};

/* Defects that cannot go together: each pair contradicts itself, or both
 * decide the same thing (the signature). */
static const struct {
    af_defect a, b;
    const char *why;
} conflicts[] = {
    {AF_DEFECT_EXPIRED, AF_DEFECT_NOT_YET_VALID, "a token cannot be both"},
    {AF_DEFECT_EXPIRED, AF_DEFECT_NO_EXP, "both decide exp"},
    {AF_DEFECT_NOT_YET_VALID, AF_DEFECT_NO_EXP, "both decide exp"},
    {AF_DEFECT_EXPIRED, AF_DEFECT_EXP_STRING, "both decide exp"},
    {AF_DEFECT_NOT_YET_VALID, AF_DEFECT_EXP_STRING, "both decide exp"},
    {AF_DEFECT_NO_EXP, AF_DEFECT_EXP_STRING, "both decide exp"},
    {AF_DEFECT_NOT_YET_VALID, AF_DEFECT_NBF_STRING, "both decide nbf"},
    {AF_DEFECT_WRONG_AUD, AF_DEFECT_AUD_NULL, "both decide aud"},
    {AF_DEFECT_WRONG_AUD, AF_DEFECT_AUD_TRUE, "both decide aud"},
    {AF_DEFECT_AUD_NULL, AF_DEFECT_AUD_TRUE, "both decide aud"},
    {AF_DEFECT_BAD_SIGNATURE, AF_DEFECT_ALG_NONE, "both decide the signature"},
    {AF_DEFECT_BAD_SIGNATURE, AF_DEFECT_ALG_NONE_MIXED_CASE, "both decide the signature"},
    {AF_DEFECT_BAD_SIGNATURE, AF_DEFECT_HS256_PUBLIC_KEY, "both decide the signature"},
    {AF_DEFECT_ALG_NONE, AF_DEFECT_ALG_NONE_MIXED_CASE, "both decide the alg"},
    {AF_DEFECT_ALG_NONE, AF_DEFECT_HS256_PUBLIC_KEY, "both decide the alg"},
    {AF_DEFECT_ALG_NONE_MIXED_CASE, AF_DEFECT_HS256_PUBLIC_KEY, "both decide the alg"},
    {AF_DEFECT_WRONG_TYP, AF_DEFECT_NO_SCOPE, "an ID token has no scope anyway"},
    {AF_DEFECT_WRONG_TYP, AF_DEFECT_REVOKED, "an ID token is not stored, so not revocable"},
};

static bool has(unsigned defects, af_defect d)
{
    return (defects & (1u << d)) != 0;
}

/* valid_names: "expired, not_yet_valid, ..." for messages. */
static void valid_names(char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < AF_DEFECT_COUNT && len < cap; i++) {
        int k = snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", af_defect_name(i));
        len = k < 0 ? cap : len + (size_t)k;
    }
}

static bool read_defects(const json_t *v, unsigned *out, struct af_resp *resp)
{
    char names[320];
    size_t i, j;
    json_t *item;
    af_defect d;

    *out = 0;
    if (v == NULL)
        return true;
    if (!json_is_array(v)) {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                       AF_MINT_DEFECTS ": expected an array of defect names");
        return false;
    }
    json_array_foreach(v, i, item)
    {
        const char *name = json_string_value(item);
        if (name == NULL) {
            af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                           AF_MINT_DEFECTS "[%zu]: expected a defect name (a string)", i);
            return false;
        }
        if (af_defect_parse(name, &d) != AF_OK) {
            valid_names(names, sizeof(names));
            if (strcmp(name, "narrow_scope") == 0)
                af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                               AF_MINT_DEFECTS "[%zu]: \"narrow_scope\" is not a defect: send a "
                                               "narrower \"" AF_MINT_SCOPE "\" instead",
                               i);
            else
                af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                               AF_MINT_DEFECTS "[%zu]: unknown defect \"%.64s\" (expected one of: "
                                               "%s)",
                               i, name, names);
            return false;
        }
        if (has(*out, d)) {
            af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                           AF_MINT_DEFECTS "[%zu]: \"%s\" is listed twice", i, name);
            return false;
        }
        *out |= 1u << d;
    }
    for (j = 0; j < sizeof(conflicts) / sizeof(conflicts[0]); j++) {
        if (has(*out, conflicts[j].a) && has(*out, conflicts[j].b)) {
            af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                           AF_MINT_DEFECTS ": \"%s\" and \"%s\" cannot go together (%s)",
                           af_defect_name(conflicts[j].a), af_defect_name(conflicts[j].b),
                           conflicts[j].why);
            return false;
        }
    }
    return true;
}

/* default_user: whom headless /authorize would log in: login.default_user,
 * else the first user; NULL when there are none. */
static const struct af_cfg_user *default_user(const struct af_server *srv)
{
    if (srv->cfg->default_user != NULL)
        return af_user_by_username(srv, srv->cfg->default_user);
    return af_user_at(srv, 0);
}

static bool read_who(const struct af_server *srv, const json_t *body, struct af_mint *m,
                     struct af_resp *resp)
{
    const json_t *v = json_object_get(body, AF_MINT_CLIENT);

    if (v == NULL) {
        m->client = af_client_at(srv, 0);
        if (m->client == NULL) {
            af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                           AF_MINT_CLIENT ": missing, and no client is configured");
            return false;
        }
    } else if (!json_is_string(v)) {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST, AF_MINT_CLIENT ": expected a client_id");
        return false;
    } else {
        m->client = af_client_find(srv, json_string_value(v));
        if (m->client == NULL) {
            af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                           AF_MINT_CLIENT ": names no configured client (got \"%.64s\")",
                           json_string_value(v));
            return false;
        }
    }
    v = json_object_get(body, AF_MINT_USER);
    if (v == NULL) {
        m->user = default_user(srv);
    } else if (json_is_null(v)) {
        m->user = NULL; /* the client's own token, as client_credentials */
    } else if (!json_is_string(v)) {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                       AF_MINT_USER ": expected a username or sub, or null");
        return false;
    } else {
        m->user = af_user_find(srv, json_string_value(v));
        if (m->user == NULL) {
            af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                           AF_MINT_USER ": names no configured user (got \"%.64s\")",
                           json_string_value(v));
            return false;
        }
    }
    if (m->user == NULL && has(m->defects, AF_DEFECT_WRONG_TYP)) {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                       AF_MINT_USER ": " AF_DEFECT_N_WRONG_TYP " mints an ID token, which needs "
                                    "a user");
        return false;
    }
    return true;
}

static bool read_scope(const json_t *body, struct af_mint *m, char **owned, struct af_resp *resp)
{
    const json_t *v = json_object_get(body, AF_MINT_SCOPE);

    *owned = NULL;
    if (v != NULL && has(m->defects, AF_DEFECT_NO_SCOPE)) {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                       AF_MINT_SCOPE ": conflicts with the " AF_DEFECT_N_NO_SCOPE " defect");
        return false;
    }
    if (v == NULL) {
        /* what /authorize grants when scope is omitted: the client's list */
        *owned = af_scope_client_default(m->client);
        if (*owned == NULL) {
            af_admin_error(resp, 500, AF_E_SERVER_ERROR, "out of memory");
            return false;
        }
        m->scope = *owned;
        return true;
    }
    /* not limited to the client's list: the admin may mint any scope */
    if (!af_scope_valid(json_string_value(v))) {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                       AF_MINT_SCOPE ": expected scope tokens separated by single spaces "
                                     "(RFC 6749 §3.3)");
        return false;
    }
    m->scope = json_string_value(v);
    return true;
}

static bool aud_value_ok(const json_t *v)
{
    const char *s = json_string_value(v);
    return s != NULL && s[0] != '\0';
}

/* The defects that decide aud themselves: an aud member conflicts with each. */
static const af_defect aud_defects[] = {AF_DEFECT_WRONG_AUD, AF_DEFECT_AUD_NULL,
                                        AF_DEFECT_AUD_TRUE};

static bool read_aud(const json_t *body, struct af_mint *m, struct af_resp *resp)
{
    const json_t *v = json_object_get(body, AF_MINT_AUD), *item;
    size_t i;

    m->aud = NULL;
    if (v == NULL)
        return true;
    for (i = 0; i < sizeof(aud_defects) / sizeof(aud_defects[0]); i++) {
        if (has(m->defects, aud_defects[i])) {
            af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                           AF_MINT_AUD ": conflicts with the %s defect",
                           af_defect_name(aud_defects[i]));
            return false;
        }
    }
    if (json_is_array(v) && json_array_size(v) > 0 && json_array_size(v) <= MINT_AUD_MAX) {
        json_array_foreach(v, i, item)
        {
            if (!aud_value_ok(item)) {
                af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                               AF_MINT_AUD "[%zu]: expected a non-empty string", i);
                return false;
            }
        }
    } else if (!aud_value_ok(v)) {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                       AF_MINT_AUD ": expected a non-empty string or an array of 1 to %d of them "
                                   "(RFC 7519 §4.1.3)",
                       MINT_AUD_MAX);
        return false;
    }
    m->aud = v;
    return true;
}

static bool read_ttl(const struct af_config *cfg, const json_t *body, struct af_mint *m,
                     struct af_resp *resp)
{
    const json_t *v = json_object_get(body, AF_MINT_TTL);

    if (v == NULL) {
        m->ttl = has(m->defects, AF_DEFECT_WRONG_TYP) ? cfg->id_token_ttl : cfg->access_token_ttl;
        return true;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > MINT_TTL_MAX) {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                       AF_MINT_TTL ": expected an integer from 1 to %ld (seconds)", MINT_TTL_MAX);
        return false;
    }
    m->ttl = (long)json_integer_value(v);
    return true;
}

static bool read_claims(const json_t *body, struct af_mint *m, struct af_resp *resp)
{
    const json_t *v = json_object_get(body, AF_MINT_CLAIMS);
    size_t i;

    m->claims = NULL;
    if (v == NULL)
        return true;
    if (!json_is_object(v)) {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                       AF_MINT_CLAIMS ": expected an object of extra claims");
        return false;
    }
    for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        if (json_object_get(v, reserved[i].claim) == NULL)
            continue;
        if (reserved[i].instead != NULL)
            af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                           AF_MINT_CLAIMS ".%s: set by the server (use %s)", reserved[i].claim,
                           reserved[i].instead);
        else
            af_admin_error(resp, 400, AF_E_INVALID_REQUEST, AF_MINT_CLAIMS ".%s: set by the server",
                           reserved[i].claim);
        return false;
    }
    m->claims = v;
    return true;
}

/* read_alg: the alg member, a string naming the alg of a published key
 * (the key that signs, af_mint_key). */
static bool read_alg(const struct af_server *srv, const json_t *body, struct af_mint *m,
                     struct af_resp *resp)
{
    const json_t *v = json_object_get(body, AF_MINT_ALG);
    struct af_keyset *ks;
    bool ok;

    m->alg = NULL;
    if (v == NULL)
        return true;
    if (!json_is_string(v)) {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                       AF_MINT_ALG ": expected the alg of a published key (\"ES256\")");
        return false;
    }
    ks = af_keyring_get(srv->keyring);
    ok = af_mint_key(ks, json_string_value(v)) != NULL;
    af_keyset_release(ks);
    if (!ok) {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                       AF_MINT_ALG ": no published key has alg \"%.32s\" (GET " AF_ADMIN_PATH_KEYS
                                   " lists them)",
                       json_string_value(v));
        return false;
    }
    m->alg = json_string_value(v);
    return true;
}

/* read_mint: body into m (which borrows from body and cfg; *scope_owned,
 * freed by the caller, may back m->scope). false with resp set when the
 * request is refused. */
static bool read_mint(const struct af_server *srv, const json_t *body, struct af_mint *m,
                      char **scope_owned, struct af_resp *resp)
{
    const char *key;
    json_t *v;

    memset(m, 0, sizeof(*m));
    *scope_owned = NULL;
    json_object_foreach((json_t *)body, key, v)
    {
        if (!is_member(key)) {
            af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                           "%.64s: unknown member (expected one of: " AF_MINT_USER
                           ", " AF_MINT_CLIENT ", " AF_MINT_SCOPE ", " AF_MINT_AUD ", " AF_MINT_TTL
                           ", " AF_MINT_CLAIMS ", " AF_MINT_DEFECTS ", " AF_MINT_ALG ")",
                           key);
            return false;
        }
    }
    /* defects first: they change what the other members may be */
    return read_defects(json_object_get(body, AF_MINT_DEFECTS), &m->defects, resp) &&
           read_who(srv, body, m, resp) && read_scope(body, m, scope_owned, resp) &&
           read_aud(body, m, resp) && read_ttl(srv->cfg, body, m, resp) &&
           read_claims(body, m, resp) && read_alg(srv, body, m, resp);
}

bool af_admin_is_json(const char *ctype)
{
    size_t n = strlen(AF_CT_JSON);
    return ctype != NULL && strncasecmp(ctype, AF_CT_JSON, n) == 0 &&
           (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

json_t *af_admin_json_body(struct af_req *req, struct af_resp *resp)
{
    json_error_t je;
    json_t *body = NULL;

    if (!af_admin_is_json(af_req_header(req, AF_HDR_CONTENT_TYPE))) {
        af_admin_error(resp, 415, AF_E_INVALID_REQUEST,
                       AF_HDR_CONTENT_TYPE ": expected " AF_CT_JSON);
        goto out;
    }
    body = json_loadb(req->body.p ? req->body.p : "", req->body.len, JSON_REJECT_DUPLICATES, &je);
    if (body == NULL) {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST, "body: not JSON: %s at line %d column %d",
                       je.text, je.line, je.column);
        goto out;
    }
    if (!json_is_object(body)) {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST, "body: expected a JSON object");
        json_decref(body);
        body = NULL;
    }
out:
    return body;
}

void af_h_admin_tokens(struct af_req *req, struct af_resp *resp)
{
    struct af_mint m;
    struct af_err err;
    json_t *body = NULL, *out = NULL;
    char *scope_owned = NULL;

    af_err_clear(&err);
    body = af_admin_json_body(req, resp);
    if (body == NULL)
        goto out;
    if (!read_mint(req->srv, body, &m, &scope_owned, resp))
        goto out;
    if (af_mint_token(req->srv, &m, &out, &err) != AF_OK) {
        af_admin_error(resp, 500, AF_E_SERVER_ERROR, "%s", err.msg); /* incl. a key gone since */
        goto out;
    }
    af_resp_json(resp, 200, out);
    af_resp_no_store(resp);
out:
    json_decref(out);
    json_decref(body);
    free(scope_owned);
}
