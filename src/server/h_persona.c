/*
 * h_persona.c - a persona's authorization and token endpoints
 * (docs/personas.md), as translations around the standard handlers: the
 * request's parameters are read in the persona's names and syntax and
 * handed to af_h_authorize / af_h_token in the standard ones, and their
 * answer is put in the persona's shape. Every check (client, redirect
 * URI, PKCE, single-use codes, scenarios) stays the standard handlers',
 * and the ledger records the request as the client sent it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "authflow/buf.h"
#include "authflow/cfg.h"
#include "authflow/jose.h"
#include "authflow/proto.h"
#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/core.h"
#include "server/http_req.h"
#include "server/persona.h"
#include "server/registry.h"
#include "server/routes.h"

/* Bounds of what this file builds: a redirect URI with its parameters, a
 * token answer. */
#define PERSONA_URL_MAX  (64 * 1024)
#define PERSONA_BODY_MAX (64 * 1024)

/* scope_std: append the persona's scope value v in the standard syntax:
 * any of the persona's separators between scopes becomes one space and
 * empty scopes vanish. A scope the persona names otherwise (scope_in) is
 * read under its standard name, and then a scope that comes twice (under
 * both names) only once. */
static af_rc scope_std(const struct af_persona *p, const char *v, struct af_buf *out)
{
    const struct af_persona_rename *r;
    const char *s = v, *tok;
    size_t n, len;
    af_rc rc = AF_OK;

    while (*s && rc == AF_OK) {
        n = strcspn(s, p->scope_seps);
        tok = s;
        len = n;
        for (r = p->scope_in; r != NULL && r->from != NULL; r++) {
            if (strlen(r->from) == n && strncmp(r->from, s, n) == 0) {
                tok = r->to;
                len = strlen(tok);
                break;
            }
        }
        if (len > 0 &&
            (p->scope_in == NULL || !af_str_has_space_tokenn(af_buf_str(out), tok, len))) {
            if (out->len > 0)
                rc = af_buf_addc(out, ' ');
            if (rc == AF_OK)
                rc = af_buf_add(out, tok, len);
        }
        s += n;
        s += *s != '\0';
    }
    return rc;
}

static const struct af_persona_rename *rename_find(const struct af_persona *p, const char *name)
{
    const struct af_persona_rename *r;

    for (r = p->authz_in; r != NULL && r->from != NULL; r++)
        if (strcmp(r->from, name) == 0)
            return r;
    return NULL;
}

/* translate: in's parameters under their standard names into out (empty,
 * initialised by the caller). A parameter the persona does not rename is
 * copied as it is, so that the standard handler judges it. */
static af_rc translate(const struct af_persona *p, const struct af_params *in,
                       struct af_params *out, bool token)
{
    struct af_buf sc;
    af_rc rc = AF_OK;
    size_t i;

    af_buf_init(&sc, PERSONA_URL_MAX);
    for (i = 0; i < in->n && rc == AF_OK; i++) {
        const char *name = in->v[i].name, *value = in->v[i].value;
        const struct af_persona_rename *r;

        if (strcmp(name, p->client_param) == 0) {
            rc = af_params_add(out, AF_P_CLIENT_ID, value);
            continue;
        }
        r = rename_find(p, name);
        if (r != NULL) {
            if (r->to != NULL)
                rc = af_params_add(out, r->to, value);
            continue;
        }
        if (strcmp(name, AF_P_SCOPE) == 0) {
            af_buf_reset(&sc);
            rc = scope_std(p, value, &sc);
            if (rc == AF_OK)
                rc = af_params_add(out, name, af_buf_str(&sc));
            continue;
        }
        rc = af_params_add(out, name, value);
    }
    if (rc == AF_OK && !token && p->default_response_type_code &&
        af_params_count(in, AF_P_RESPONSE_TYPE) == 0)
        rc = af_params_add(out, AF_P_RESPONSE_TYPE, AF_RT_CODE);
    if (rc == AF_OK && token && p->default_grant_code && af_params_count(in, AF_P_GRANT_TYPE) == 0)
        rc = af_params_add(out, AF_P_GRANT_TYPE, AF_GT_AUTHORIZATION_CODE);
    af_buf_free(&sc);
    return rc;
}

/* call_translated: run h over req with its parameters translated, then
 * put the parameters as sent back (for the ledger). */
static void call_translated(const struct af_persona *p, struct af_req *req, struct af_resp *resp,
                            af_handler h, bool token)
{
    struct af_params *slot = req->method == AF_M_GET ? &req->query : &req->form;
    struct af_params tp, saved;

    af_params_init(&tp, slot->max + 2);
    if (translate(p, slot, &tp, token) != AF_OK) {
        af_params_free(&tp);
        af_resp_oauth_error(resp, 500, AF_E_SERVER_ERROR, "out of memory");
        return;
    }
    saved = *slot;
    *slot = tp;
    h(req, resp);
    tp = *slot;
    *slot = saved;
    af_params_free(&tp);
}

/* header_set: replace the first header name of resp by value (a copy), or
 * with value NULL remove every header name. */
static af_rc header_set(struct af_resp *resp, const char *name, const char *value)
{
    struct af_params *h = &resp->headers;
    size_t i = 0;
    char *dup;

    while (i < h->n) {
        if (strcasecmp(h->v[i].name, name) != 0) {
            i++;
            continue;
        }
        if (value != NULL) {
            dup = strdup(value);
            if (dup == NULL)
                return AF_ERR_NOMEM;
            free(h->v[i].value);
            h->v[i].value = dup;
            return AF_OK;
        }
        free(h->v[i].name);
        free(h->v[i].value);
        memmove(&h->v[i], &h->v[i + 1], (h->n - i - 1) * sizeof(h->v[0]));
        h->n--;
    }
    return value == NULL ? AF_OK : af_params_add(h, name, value);
}

/* granted_scope: the scope a successful authorization request granted:
 * what the standard handler says the code is for (a user may decline
 * some: authorize_scope_declined), else the scope asked for (the standard
 * handler refused any other), else all of the client's. In the persona's
 * syntax, appended to out. */
static af_rc granted_scope(const struct af_persona *p, struct af_req *req,
                           const struct af_params *std, struct af_buf *out)
{
    const char *s =
        req->facts.granted_scope ? req->facts.granted_scope : af_params_get(std, AF_P_SCOPE);
    const struct af_cfg_client *c;
    af_rc rc = AF_OK;
    size_t i;

    if (s != NULL)
        return af_persona_scope_join(s, p->scope_out_sep, out);
    c = af_client_find(req->srv, af_params_get(std, AF_P_CLIENT_ID));
    for (i = 0; c != NULL && i < c->scopes.n && rc == AF_OK; i++) {
        if (i > 0)
            rc = af_buf_addc(out, p->scope_out_sep);
        if (rc == AF_OK)
            rc = af_buf_adds(out, c->scopes.v[i]);
    }
    return rc;
}

/* redirect_edit: the redirect back to the client in the persona's shape:
 * no iss, the granted scopes, an error_uri on an error. std: the request's
 * parameters under their standard names. A redirect that is not an
 * authorization response (neither code nor error) is left alone. */
static void redirect_edit(const struct af_persona *p, struct af_req *req,
                          const struct af_params *std, struct af_resp *resp)
{
    const char *loc = af_params_get(&resp->headers, AF_HDR_LOCATION);
    const char *q;
    struct af_params in, out;
    struct af_buf url, sc;
    af_rc rc = AF_OK;
    size_t i;

    if (resp->status < 300 || resp->status > 399 || loc == NULL)
        return;
    q = strchr(loc, '?');
    if (q == NULL || strchr(loc, '#') != NULL)
        return;
    af_params_init(&in, 256);
    af_params_init(&out, 256);
    af_buf_init(&url, PERSONA_URL_MAX);
    af_buf_init(&sc, PERSONA_URL_MAX);
    if (af_params_parse(&in, q + 1, strlen(q + 1), NULL) != AF_OK ||
        (af_params_count(&in, AF_P_CODE) == 0 && af_params_count(&in, AF_P_ERROR) == 0))
        goto out;
    for (i = 0; i < in.n && rc == AF_OK; i++) {
        if (p->strip_iss && strcmp(in.v[i].name, AF_P_ISS) == 0)
            continue;
        rc = af_params_add(&out, in.v[i].name, in.v[i].value);
    }
    if (rc == AF_OK && p->granted_scopes_param != NULL && af_params_count(&in, AF_P_CODE) > 0) {
        rc = granted_scope(p, req, std, &sc);
        if (rc == AF_OK)
            rc = af_params_add(&out, p->granted_scopes_param, af_buf_str(&sc));
    }
    if (rc == AF_OK && p->authz_error_uri != NULL && af_params_count(&in, AF_P_ERROR) > 0 &&
        af_params_count(&in, AF_P_ERROR_URI) == 0)
        rc = af_params_add(&out, AF_P_ERROR_URI, p->authz_error_uri);
    if (rc == AF_OK)
        rc = af_buf_addf(&url, "%.*s?", (int)(q - loc), loc);
    if (rc == AF_OK)
        rc = af_params_encode(&out, &url);
    if (rc == AF_OK)
        rc = header_set(resp, AF_HDR_LOCATION, af_buf_str(&url));
    if (rc != AF_OK)
        af_resp_oauth_error(resp, 500, AF_E_SERVER_ERROR, "out of memory");
out:
    af_params_free(&in);
    af_params_free(&out);
    af_buf_free(&url);
    af_buf_free(&sc);
}

void af_h_persona_authorize(struct af_req *req, struct af_resp *resp)
{
    const struct af_persona *p = af_persona_of(req->srv);
    struct af_params *slot = req->method == AF_M_GET ? &req->query : &req->form;
    struct af_params std;

    af_params_init(&std, slot->max + 2);
    if (translate(p, slot, &std, false) != AF_OK) {
        af_resp_oauth_error(resp, 500, AF_E_SERVER_ERROR, "out of memory");
        goto out;
    }
    call_translated(p, req, resp, af_h_authorize, false);
    redirect_edit(p, req, &std, resp);
out:
    af_params_free(&std);
}

/* The login page posts the standard names (its hidden fields are the
 * standard handler's): only the answer needs the persona's shape. */
void af_h_persona_login(struct af_req *req, struct af_resp *resp)
{
    af_h_login(req, resp);
    redirect_edit(af_persona_of(req->srv), req, &req->form, resp);
}

/* wants_json: the Accept header names application/json (GitHub answers
 * form-encoded otherwise). */
static bool wants_json(const struct af_req *req)
{
    const char *a = af_req_header(req, AF_HDR_ACCEPT);
    return a != NULL && strstr(a, AF_CT_JSON) != NULL;
}

static const char *errmap(const struct af_persona *p, const struct af_req *req, const char *e)
{
    const struct af_persona_errmap *m;

    /* GitHub tells a redirect_uri that differs from the authorization
     * request's apart from a bad code */
    if (p->token_shape == AF_PT_GITHUB && req->facts.redirect_mismatch != NULL &&
        strcmp(e, AF_E_INVALID_GRANT) == 0)
        return AF_GH_E_REDIRECT;
    for (m = p->token_errors; m != NULL && m->from != NULL; m++)
        if (strcmp(m->from, e) == 0)
            return m->to;
    return e;
}

/* set_str: obj[k] = v when v is not NULL. */
static af_rc set_str(json_t *obj, const char *k, const char *v)
{
    if (v == NULL)
        return AF_OK;
    return json_object_set_new(obj, k, json_string(v)) == 0 ? AF_OK : AF_ERR_NOMEM;
}

/* token_success: the persona's answer for the standard one in (borrowed)
 * into out (a new empty object). */
static af_rc token_success(const struct af_persona *p, struct af_req *req, const json_t *in,
                           json_t *out)
{
    const char *tt = json_string_value(json_object_get(in, AF_P_TOKEN_TYPE));
    const char *refresh = json_string_value(json_object_get(in, AF_P_REFRESH_TOKEN));
    json_t *exp = json_object_get(in, AF_P_EXPIRES_IN);
    struct af_buf sc, oid;
    struct af_jws *jws = NULL;
    af_rc rc;

    af_buf_init(&sc, PERSONA_BODY_MAX);
    af_buf_init(&oid, 64);
    rc = af_persona_scope_join(json_string_value(json_object_get(in, AF_P_SCOPE)), p->scope_out_sep,
                               &sc);
    /* the persona's token_type, unless a scenario changed the standard one */
    if (p->token_type != NULL && tt != NULL && strcmp(tt, AF_TOKEN_TYPE_BEARER) == 0)
        tt = p->token_type;
    if (rc == AF_OK)
        rc = set_str(out, AF_P_ACCESS_TOKEN,
                     json_string_value(json_object_get(in, AF_P_ACCESS_TOKEN)));
    if (rc == AF_OK && exp != NULL && p->token_shape == AF_PT_TIKTOK)
        rc = json_object_set(out, AF_P_EXPIRES_IN, exp) == 0 ? AF_OK : AF_ERR_NOMEM;
    /* the open_id of the token's user for the token's client: the token
     * was just signed here, its claims need no second check */
    if (rc == AF_OK && p->token_shape == AF_PT_TIKTOK &&
        af_jws_parse(json_string_value(json_object_get(in, AF_P_ACCESS_TOKEN)), &jws, NULL) ==
            AF_OK) {
        const char *cid = json_string_value(json_object_get(af_jws_claims(jws), AF_C_CLIENT_ID));
        const char *sub = json_string_value(json_object_get(af_jws_claims(jws), AF_C_SUB));

        if (cid != NULL && sub != NULL && strcmp(cid, sub) != 0) {
            rc = af_persona_open_id(cid, sub, &oid);
            if (rc == AF_OK)
                rc = set_str(out, AF_TT_OPEN_ID, af_buf_str(&oid));
        }
    }
    if (rc == AF_OK && refresh != NULL && p->issues_refresh) {
        if (json_object_set_new(out, AF_TT_REFRESH_EXPIRES_IN,
                                json_integer(req->srv->cfg->refresh_token_ttl)) != 0)
            rc = AF_ERR_NOMEM;
        if (rc == AF_OK)
            rc = set_str(out, AF_P_REFRESH_TOKEN, refresh);
    }
    if (rc == AF_OK)
        rc = set_str(out, AF_P_SCOPE, af_buf_str(&sc));
    if (rc == AF_OK)
        rc = set_str(out, AF_P_TOKEN_TYPE, tt);
    af_jws_free(jws);
    af_buf_free(&sc);
    af_buf_free(&oid);
    return rc;
}

/* body_set: resp's body becomes obj, JSON or (form) form-encoded strings
 * and integers; status, error and reason as given. */
static af_rc body_set(struct af_resp *resp, unsigned status, const json_t *obj, bool form,
                      const char *error, const char *reason)
{
    struct af_params fp;
    const char *k;
    json_t *v;
    char num[32];
    char *s = NULL;
    af_rc rc = AF_OK;

    af_params_init(&fp, 64);
    af_buf_reset(&resp->body);
    if (form) {
        json_object_foreach((json_t *)obj, k, v)
        {
            if (json_is_integer(v)) {
                snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
                rc = af_params_add(&fp, k, num);
            } else if (json_is_string(v)) {
                rc = af_params_add(&fp, k, json_string_value(v));
            }
            if (rc != AF_OK)
                goto out;
        }
        rc = af_params_encode(&fp, &resp->body);
        resp->ctype = AF_CT_FORM;
    } else {
        s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
        rc = s == NULL ? AF_ERR_NOMEM : af_buf_adds(&resp->body, s);
        resp->ctype = AF_CT_JSON;
    }
    resp->status = status;
    snprintf(resp->error, sizeof(resp->error), "%s", error != NULL ? error : "");
    snprintf(resp->reason, sizeof(resp->reason), "%s", reason);
out:
    free(s);
    af_params_free(&fp);
    return rc;
}

/* token_edit: the standard token answer in the persona's shape. An answer
 * that is no JSON object (a scenario's cut body) goes out as it is. */
static void token_edit(const struct af_persona *p, struct af_req *req, struct af_resp *resp)
{
    json_t *in = NULL, *out = json_object();
    char reason[AF_RESP_REASON_MAX + 1];
    char log_id[AF_PERSONA_LOG_ID_LEN + 1];
    const char *e;
    unsigned status = resp->status;
    bool form = p->token_shape == AF_PT_GITHUB && !wants_json(req);
    af_rc rc = AF_OK;

    if (out == NULL)
        goto fail;
    if (resp->ctype == NULL || strcmp(resp->ctype, AF_CT_JSON) != 0 || resp->body.len == 0)
        goto out;
    in = json_loadb(af_buf_str(&resp->body), resp->body.len, 0, NULL);
    if (!json_is_object(in))
        goto out;
    snprintf(reason, sizeof(reason), "%s", resp->reason);
    e = json_string_value(json_object_get(in, AF_P_ERROR));
    if (e == NULL && json_object_get(in, AF_P_ACCESS_TOKEN) != NULL) {
        rc = token_success(p, req, in, out);
        if (rc == AF_OK)
            rc = body_set(resp, status, out, form, NULL, reason);
    } else if (e != NULL) {
        const char *mapped = errmap(p, req, e);

        rc = set_str(out, AF_P_ERROR, mapped);
        if (rc == AF_OK)
            rc = set_str(out, AF_P_ERROR_DESCRIPTION,
                         json_string_value(json_object_get(in, AF_P_ERROR_DESCRIPTION)));
        if (rc == AF_OK && p->token_error_uri != NULL)
            rc = set_str(out, AF_P_ERROR_URI, p->token_error_uri);
        if (rc == AF_OK && p->token_shape == AF_PT_TIKTOK) {
            af_persona_log_id(log_id, sizeof(log_id));
            rc = set_str(out, AF_TT_LOG_ID, log_id);
        }
        /* the persona's clients authenticate in the body: no Basic
         * challenge (RFC 6749 5.2 asks for one after a header only) */
        if (rc == AF_OK)
            rc = header_set(resp, AF_HDR_WWW_AUTHENTICATE, NULL);
        if (p->token_errors_200 && status >= 400 && status < 500)
            status = 200;
        if (rc == AF_OK)
            rc = body_set(resp, status, out, form, mapped, reason);
    }
    if (rc != AF_OK)
        goto fail;
    goto out;
fail:
    af_resp_oauth_error(resp, 500, AF_E_SERVER_ERROR, "out of memory");
out:
    json_decref(in);
    json_decref(out);
}

/* json_ctype: a Content-Type of application/json (parameters allowed). */
static bool json_ctype(const char *ct)
{
    size_t n = strlen(AF_CT_JSON);
    return ct != NULL && strncasecmp(ct, AF_CT_JSON, n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* json_form: a JSON object body whose members are strings into req->form,
 * as a form body would have been read (its cap on parameters, duplicates
 * refused). false with resp holding the 400 when the body is not such an
 * object. */
static bool json_form(struct af_req *req, struct af_resp *resp)
{
    json_error_t je;
    json_t *o =
        json_loadb(req->body.p ? req->body.p : "", req->body.len, JSON_REJECT_DUPLICATES, &je);
    const char *k;
    json_t *v;
    char why[200];
    bool ok = json_is_object(o);

    if (o == NULL)
        snprintf(why, sizeof(why), "the JSON body: %.120s (line %d, column %d)", je.text, je.line,
                 je.column);
    else if (!ok)
        snprintf(why, sizeof(why), "the JSON body must be an object of parameters");
    json_object_foreach(ok ? o : NULL, k, v)
    {
        if (!json_is_string(v)) {
            snprintf(why, sizeof(why), "the JSON body's member %.64s must be a string", k);
            ok = false;
            break;
        }
        if (af_params_add(&req->form, k, json_string_value(v)) != AF_OK) {
            snprintf(why, sizeof(why), "the JSON body has more than %zu parameters", req->form.max);
            ok = false;
            break;
        }
    }
    json_decref(o);
    if (!ok)
        af_resp_oauth_error(resp, 400, AF_E_INVALID_REQUEST, why);
    req->form_from_json = ok;
    return ok;
}

void af_h_persona_token(struct af_req *req, struct af_resp *resp)
{
    const struct af_persona *p = af_persona_of(req->srv);

    /* GitHub reads the parameters from a JSON body too (Octokit sends one) */
    if (p->token_json_body && req->method == AF_M_POST && req->form.n == 0 &&
        json_ctype(af_req_header(req, AF_HDR_CONTENT_TYPE)) && !json_form(req, resp)) {
        token_edit(p, req, resp);
        return;
    }
    call_translated(p, req, resp, af_h_token, true);
    token_edit(p, req, resp);
}
