/*
 * clientauth.c - client authentication at the token, introspection and
 * revocation endpoints (RFC 6749 §2.3.1): client_secret_basic,
 * client_secret_post, or a public client naming itself with client_id.
 * Exactly one method per request; the method must be the one the client
 * registered (token_endpoint_auth_method). Also the parsing of the
 * Authorization header's Basic and Bearer credentials.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "authflow/cfg.h"
#include "authflow/proto.h"
#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/clientauth.h"
#include "server/persona.h"
#include "server/core.h"
#include "server/registry.h"
#include "server/http_req.h"

#define REALM_BASIC "Basic realm=\"authflow\""

/* Parameters that carry a credential and so must never come in the URL
 * query of these endpoints (RFC 6749 §2.3.1, §3.2; RFC 9700 §4.3.2). */
static const char *const query_credentials[] = {
    AF_P_CLIENT_SECRET, AF_P_PASSWORD, AF_P_CODE,         AF_P_CODE_VERIFIER,
    AF_P_REFRESH_TOKEN, AF_P_TOKEN,    AF_P_ACCESS_TOKEN, NULL,
};

static bool b64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

static int b64_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : 63;
}

/* b64_decode_strict: RFC 4648 §4 with padding, canonical. EVP_DecodeBlock
 * does the decoding but accepts (and skips) whitespace, and neither checks
 * where padding sits nor the unused trailing bits, so the syntax is checked
 * here first. Caller frees *out (NUL-terminated, *outlen bytes). */
static af_rc b64_decode_strict(const char *s, size_t len, unsigned char **out, size_t *outlen)
{
    size_t i, pad = 0;
    unsigned char *buf = NULL;
    int n;
    af_rc rc = AF_ERR_PARSE;

    *out = NULL;
    if (len == 0 || len % 4 != 0)
        goto out;
    while (pad < 2 && s[len - 1 - pad] == '=')
        pad++;
    for (i = 0; i < len - pad; i++) {
        if (!b64_char((unsigned char)s[i]))
            goto out;
    }
    /* the bits after the last full byte must be zero (RFC 4648 §3.5) */
    if ((pad == 1 && (b64_val((unsigned char)s[len - 2]) & 0x03) != 0) ||
        (pad == 2 && (b64_val((unsigned char)s[len - 3]) & 0x0f) != 0))
        goto out;
    buf = malloc(len / 4 * 3 + 1);
    if (buf == NULL) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    n = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)len);
    if (n < 0 || (size_t)n < pad)
        goto out;
    *outlen = (size_t)n - pad;
    buf[*outlen] = '\0';
    *out = buf;
    buf = NULL;
    rc = AF_OK;
out:
    free(buf);
    return rc;
}

af_rc af_basic_parse(const char *authorization, char **id_out, char **secret_out)
{
    const char *p, *colon;
    unsigned char *raw = NULL;
    size_t rawlen = 0, tlen;
    af_rc rc;

    *id_out = NULL;
    *secret_out = NULL;
    if (authorization == NULL) {
        rc = AF_ERR_NOTFOUND;
        goto out;
    }
    if (strnlen(authorization, AF_BASIC_HDR_MAX + 1) > AF_BASIC_HDR_MAX) {
        rc = AF_ERR_TOOBIG;
        goto out;
    }
    p = af_auth_scheme_match(authorization, AF_SCHEME_BASIC);
    if (p == NULL) {
        rc = AF_ERR_NOTFOUND;
        goto out;
    }
    /* trailing whitespace is OWS around the field value (RFC 7230 §3.2) */
    tlen = strlen(p);
    while (tlen > 0 && (p[tlen - 1] == ' ' || p[tlen - 1] == '\t'))
        tlen--;
    rc = b64_decode_strict(p, tlen, &raw, &rawlen);
    if (rc != AF_OK)
        goto out;
    /* RFC 7617 §2: the user-id ends at the first colon; a colon inside the
     * client_id arrives percent-encoded (RFC 6749 §2.3.1) */
    colon = memchr(raw, ':', rawlen);
    if (colon == NULL) {
        rc = AF_ERR_PARSE;
        goto out;
    }
    rc = af_url_decode((const char *)raw, (size_t)(colon - (const char *)raw), true, id_out, NULL);
    if (rc != AF_OK)
        goto out;
    rc = af_url_decode(colon + 1, rawlen - (size_t)(colon + 1 - (const char *)raw), true,
                       secret_out, NULL);
out:
    if (raw != NULL)
        OPENSSL_cleanse(raw, rawlen);
    free(raw);
    if (rc != AF_OK) {
        if (*secret_out != NULL)
            OPENSSL_cleanse(*secret_out, strlen(*secret_out));
        free(*id_out);
        free(*secret_out);
        *id_out = NULL;
        *secret_out = NULL;
    }
    return rc;
}

const char *af_client_auth_name(af_client_auth m)
{
    return m == AF_CLIENT_AUTH_POST   ? AF_AUTH_POST
           : m == AF_CLIENT_AUTH_NONE ? AF_AUTH_NONE
                                      : AF_AUTH_BASIC;
}

/* The longest client id or scheme a reason names; longer ones are cut. */
#define CA_NAME_MAX 128

af_ca_result af_client_authenticate(struct af_req *req, const struct af_cfg_client **client,
                                    bool *used_basic, char *why, size_t why_len)
{
    const struct af_params *form = &req->form;
    const char *hdr = af_req_header(req, AF_HDR_AUTHORIZATION);
    const char *body_id = af_params_get(form, AF_P_CLIENT_ID);
    const char *body_secret = af_params_get(form, AF_P_CLIENT_SECRET);
    const struct af_cfg_client *c;
    char *b_id = NULL, *b_secret = NULL;
    const char *id, *secret;
    af_client_auth method;
    af_ca_result res;
    af_rc rc;

    *client = NULL;
    *used_basic = false;
    why[0] = '\0';
    if (af_params_count(form, AF_P_CLIENT_ID) > 1 ||
        af_params_count(form, AF_P_CLIENT_SECRET) > 1) {
        res = AF_CA_INVALID_REQUEST;
        snprintf(why, why_len, "client_id or client_secret sent more than once");
        goto out;
    }
    if (hdr != NULL) {
        rc = af_basic_parse(hdr, &b_id, &b_secret);
        if (rc == AF_ERR_TOOBIG) {
            res = AF_CA_INVALID_REQUEST;
            snprintf(why, why_len, "the Authorization header is too long");
            goto out;
        }
        if (rc == AF_ERR_NOTFOUND) {
            /* the scheme only: what follows it is a credential */
            res = AF_CA_INVALID_CLIENT;
            snprintf(why, why_len,
                     "unsupported client authentication scheme %.*s in the Authorization header "
                     "(use Basic, RFC 6749 2.3.1)",
                     (int)(strcspn(hdr, " \t") < 32 ? strcspn(hdr, " \t") : 32), hdr);
            goto out;
        }
        *used_basic = true;
        req->facts.client_auth = AF_AUTH_BASIC;
        af_req_set_client_id(req, b_id);
        if (rc != AF_OK) {
            res = AF_CA_INVALID_REQUEST;
            snprintf(why, why_len,
                     "malformed Basic credentials (RFC 6749 2.3.1: base64 of "
                     "form-urlencoded id:secret)");
            goto out;
        }
        if (body_secret != NULL) {
            res = AF_CA_INVALID_REQUEST;
            snprintf(why, why_len,
                     "client %.*s sent more than one client authentication method (Basic and "
                     "client_secret in the body)",
                     CA_NAME_MAX, b_id);
            goto out;
        }
        /* a client_id in the body may accompany Basic, but must agree */
        if (body_id != NULL && strcmp(body_id, b_id) != 0) {
            res = AF_CA_INVALID_REQUEST;
            snprintf(why, why_len,
                     "client_id %.*s in the body differs from %.*s in the Basic credentials",
                     CA_NAME_MAX, body_id, CA_NAME_MAX, b_id);
            goto out;
        }
        id = b_id;
        secret = b_secret;
        method = AF_CLIENT_AUTH_BASIC;
    } else if (body_secret != NULL) {
        if (body_id == NULL) {
            res = AF_CA_INVALID_REQUEST;
            snprintf(why, why_len, "client_secret without client_id");
            goto out;
        }
        id = body_id;
        secret = body_secret;
        method = AF_CLIENT_AUTH_POST;
        req->facts.client_auth = AF_AUTH_POST;
    } else if (body_id != NULL) {
        id = body_id;
        secret = NULL;
        method = AF_CLIENT_AUTH_NONE;
        req->facts.client_auth = AF_AUTH_NONE;
    } else {
        res = AF_CA_INVALID_CLIENT;
        snprintf(why, why_len,
                 "no client authentication: neither an Authorization header nor a client_id");
        goto out;
    }

    c = af_client_find(req->srv, id);
    if (c == NULL) {
        res = AF_CA_INVALID_CLIENT;
        snprintf(why, why_len, "unknown client %.*s", CA_NAME_MAX, id);
        goto out;
    }
    /* a persona whose clients send their secret in the body (persona.h)
     * takes it there from any confidential client */
    if (af_persona_of(req->srv)->secret_in_body && c->auth_method != AF_CLIENT_AUTH_NONE &&
        method == AF_CLIENT_AUTH_POST)
        method = c->auth_method;
    if (c->auth_method != method) {
        res = AF_CA_INVALID_CLIENT;
        if (method == AF_CLIENT_AUTH_NONE)
            snprintf(why, why_len,
                     "client %s sent no secret (client_id alone) but is registered for %s", c->id,
                     af_client_auth_name(c->auth_method));
        else if (c->auth_method == AF_CLIENT_AUTH_NONE)
            snprintf(why, why_len,
                     "client %s sent %s but is a public client (none): send client_id alone, no "
                     "secret",
                     c->id, af_client_auth_name(method));
        else
            snprintf(why, why_len, "client %s sent %s but is registered for %s", c->id,
                     af_client_auth_name(method), af_client_auth_name(c->auth_method));
        goto out;
    }
    if (method != AF_CLIENT_AUTH_NONE && !af_ct_streq(secret, c->secret)) {
        res = AF_CA_INVALID_CLIENT;
        snprintf(why, why_len, "wrong secret for client %s", c->id);
        goto out;
    }
    *client = c;
    res = AF_CA_OK;
out:
    if (b_secret != NULL)
        OPENSSL_cleanse(b_secret, strlen(b_secret));
    free(b_id);
    free(b_secret);
    return res;
}

/* form_ctype: the media type is application/x-www-form-urlencoded
 * (case-insensitive; parameters such as charset allowed). */
static bool form_ctype(const char *ct)
{
    size_t n = strlen(AF_CT_FORM);
    if (ct == NULL)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return strncasecmp(ct, AF_CT_FORM, n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

bool af_client_request_check(struct af_req *req, struct af_resp *resp,
                             const struct af_cfg_client **client)
{
    const char *dup, *ctype;
    char why[AF_CA_WHY_MAX];
    bool used_basic;
    size_t i;

    *client = NULL;
    if (req->method != AF_M_POST) {
        af_resp_oauth_error(resp, 405, AF_E_INVALID_REQUEST, "use POST (RFC 6749 3.2)");
        af_resp_header(resp, AF_HDR_ALLOW, "POST");
        return false;
    }
    ctype = af_req_header(req, AF_HDR_CONTENT_TYPE);
    if (!form_ctype(ctype) && !req->form_from_json) {
        snprintf(why, sizeof(why), "Content-Type must be " AF_CT_FORM " (got %.64s)",
                 ctype ? ctype : "none");
        af_resp_oauth_error(resp, 400, AF_E_INVALID_REQUEST, why);
        return false;
    }
    /* the ledger shows a secret sent in the URL, the mistake RFC 6749 §2.3.1
     * forbids, even though the request goes no further */
    if (af_params_count(&req->query, AF_P_CLIENT_SECRET) > 0) {
        req->facts.client_auth = AF_LEDGER_SECRET_IN_QUERY;
        af_req_set_client_id(req, af_params_get(&req->query, AF_P_CLIENT_ID));
    }
    for (i = 0; query_credentials[i] != NULL; i++) {
        if (af_params_count(&req->query, query_credentials[i]) > 0) {
            snprintf(why, sizeof(why),
                     "%s must not be sent in the URL query: credentials go in the body or the "
                     "Authorization header (RFC 6749 2.3.1)",
                     query_credentials[i]);
            af_resp_oauth_error(resp, 400, AF_E_INVALID_REQUEST, why);
            return false;
        }
    }
    dup = af_params_first_dup(&req->form);
    if (dup != NULL) {
        snprintf(why, sizeof(why), "%.64s was sent more than once (RFC 6749 3.2)", dup);
        af_resp_oauth_error(resp, 400, AF_E_INVALID_REQUEST, why);
        return false;
    }
    switch (af_client_authenticate(req, client, &used_basic, why, sizeof(why))) {
    case AF_CA_OK:
        return true;
    case AF_CA_INVALID_REQUEST:
        af_resp_oauth_error(resp, 400, AF_E_INVALID_REQUEST, why);
        return false;
    case AF_CA_INVALID_CLIENT:
    default:
        /* RFC 6749 §5.2: 401 with the scheme the client may use; sent on
         * every invalid_client so that a client trying no or another
         * scheme learns about Basic too */
        af_resp_oauth_error(resp, 401, AF_E_INVALID_CLIENT, why);
        af_resp_header(resp, AF_HDR_WWW_AUTHENTICATE, REALM_BASIC);
        return false;
    }
}

const char *af_client_token_check(struct af_req *req, struct af_resp *resp,
                                  const struct af_cfg_client **client)
{
    const char *token = NULL;

    if (!af_client_request_check(req, resp, client))
        goto out;
    token = af_params_get(&req->form, AF_P_TOKEN);
    /* an empty value is no token either (RFC 7662 §2.1, RFC 7009 §2.1:
     * token is REQUIRED) */
    if (token != NULL && *token == '\0')
        token = NULL;
    if (token == NULL)
        af_resp_oauth_error(resp, 400, AF_E_INVALID_REQUEST, "token is missing");
out:
    return token;
}

/* ---- Bearer credentials (RFC 6750 §2.1) ---- */

static bool b64token_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

/* tchar (RFC 7230 §3.2.6): what may continue an auth-scheme name. */
static bool tchar(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

const char *af_auth_scheme_match(const char *hdr, const char *scheme)
{
    size_t n = strlen(scheme);
    const char *p = hdr;

    if (p == NULL)
        return NULL;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncasecmp(p, scheme, n) != 0 || tchar((unsigned char)p[n]))
        return NULL;
    p += n;
    /* RFC 7235 §2.1: credentials = auth-scheme [ 1*SP token68 ] */
    while (*p == ' ')
        p++;
    return p;
}

af_bearer_result af_bearer_parse(const char *authorization, char **token_out)
{
    const char *p, *start, *end;

    *token_out = NULL;
    if (authorization == NULL)
        return AF_BEARER_ABSENT;
    if (strnlen(authorization, AF_BEARER_HDR_MAX + 1) > AF_BEARER_HDR_MAX)
        return AF_BEARER_MALFORMED;
    /* another scheme is "no Bearer credentials" (RFC 6750 §3: no error) */
    p = af_auth_scheme_match(authorization, AF_SCHEME_BEARER);
    if (p == NULL)
        return AF_BEARER_ABSENT;
    /* RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" /
     * "+" / "/" ) *"=" */
    start = p;
    while (b64token_char((unsigned char)*p))
        p++;
    if (p == start)
        return AF_BEARER_MALFORMED;
    while (*p == '=')
        p++;
    end = p;
    /* trailing whitespace is OWS around the field value (RFC 7230 §3.2) */
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p != '\0')
        return AF_BEARER_MALFORMED;
    *token_out = strndup(start, (size_t)(end - start));
    return *token_out ? AF_BEARER_OK : AF_BEARER_MALFORMED;
}
