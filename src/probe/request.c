/*
 * request.c - building one request from a step's request object: the
 * template chain, parameters, client authentication, form submits and
 * admin API calls (docs/suite-format.md §5, §6).
 */
#include "config.h"

#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "authflow/proto.h"
#include "probe/regex.h"
#include "probe/request.h"

/* ---- requests ---- */

static bool is_merge_key(const char *k)
{
    return strcmp(k, "query") == 0 || strcmp(k, "form") == 0 || strcmp(k, "headers") == 0 ||
           strcmp(k, "json") == 0;
}

/* effective_request: the request with its template chain applied (new
 * reference). */
static json_t *effective_request(const struct af_suite *s, const json_t *req, int depth)
{
    json_t *base, *out;
    const char *t = json_string_value(json_object_get(req, "template"));
    const char *k;
    json_t *v;
    if (t != NULL && depth < AF_PROBE_TMPL_DEPTH) {
        const json_t *tj = json_object_get(s->templates, t);
        base = tj ? effective_request(s, tj, depth + 1) : json_object();
    } else {
        base = json_object();
    }
    if (base == NULL)
        return NULL;
    out = base;
    json_object_foreach((json_t *)req, k, v)
    {
        json_t *have = json_object_get(out, k);
        if (strcmp(k, "template") == 0)
            continue;
        if (is_merge_key(k) && json_is_object(v) && json_is_object(have)) {
            const char *mk;
            json_t *mv;
            json_t *m = json_copy(have);
            if (m == NULL)
                continue;
            json_object_foreach(v, mk, mv)
            {
                if (json_is_null(mv))
                    json_object_del(m, mk);
                else
                    json_object_set(m, mk, mv);
            }
            json_object_set_new(out, k, m);
        } else if (json_is_null(v)) {
            json_object_del(out, k); /* "auth": null drops the template's */
        } else {
            json_object_set(out, k, v);
        }
    }
    return out;
}

/* add_params: expand an object or pair list into p. */
static af_rc add_params(struct af_ck *c, const json_t *spec, struct af_params *p, struct af_err *e)
{
    af_rc rc = AF_OK;
    size_t i, j;
    json_t *m, *x;
    const char *k;
    char *val = NULL;
    bool om;
    if (json_is_array(spec)) {
        json_array_foreach(spec, i, m)
        {
            char *name = NULL;
            /* In a pair the name is a template too ("{{app.next_param}}"). */
            rc =
                af_tmpl_expand_str(&c->sc, json_string_value(json_array_get(m, 0)), &name, NULL, e);
            if (rc == AF_OK)
                rc = af_tmpl_expand_str(&c->sc, json_string_value(json_array_get(m, 1)), &val, &om,
                                        e);
            if (rc == AF_OK && !om && name != NULL)
                rc = af_params_add(p, name, val);
            free(name);
            free(val);
            val = NULL;
            if (rc != AF_OK)
                return rc;
        }
        return AF_OK;
    }
    json_object_foreach((json_t *)spec, k, m)
    {
        if (json_is_null(m))
            continue;
        for (j = 0; j < (json_is_array(m) ? json_array_size(m) : 1); j++) {
            x = json_is_array(m) ? json_array_get(m, j) : m;
            rc = af_tmpl_expand_str(&c->sc, json_string_value(x), &val, &om, e);
            if (rc != AF_OK)
                return rc;
            if (!om)
                rc = af_params_add(p, k, val);
            free(val);
            val = NULL;
            if (rc != AF_OK)
                return rc;
        }
    }
    return rc;
}

void af_request_init(struct af_request *q)
{
    memset(q, 0, sizeof(*q));
    af_buf_init(&q->url, AF_PROBE_MAX_VALUE);
    af_params_init(&q->query, AF_PROBE_MAX_PARAMS);
    af_params_init(&q->form, AF_PROBE_MAX_PARAMS);
    af_params_init(&q->headers, AF_PROBE_MAX_HEADERS);
    af_buf_init(&q->body, 16 * 1024 * 1024);
}

void af_request_free(struct af_request *q)
{
    free(q->method);
    free(q->admin_secret);
    af_buf_free(&q->url);
    af_params_free(&q->query);
    af_params_free(&q->form);
    af_params_free(&q->headers);
    af_buf_free(&q->body);
}

static void headers_set(struct af_params *h, const char *name, const char *value)
{
    size_t i;
    for (i = 0; i < h->n; i++) {
        if (strcasecmp(h->v[i].name, name) == 0) {
            char *v = strdup(value);
            if (v != NULL) {
                free(h->v[i].value);
                h->v[i].value = v;
            }
            return;
        }
    }
    if (af_params_add(h, name, value) != AF_OK) {
        /* past the header cap: the request goes without it, as the trace shows */
    }
}

static bool headers_has(const struct af_params *h, const char *name)
{
    size_t i;
    for (i = 0; i < h->n; i++)
        if (strcasecmp(h->v[i].name, name) == 0)
            return true;
    return false;
}

/* af_request_finish: fill the af_http_req view (body and url assembled). */
af_rc af_request_finish(struct af_request *q, struct af_http_req *hr)
{
    af_rc rc = AF_OK;
    if (q->query.n > 0) {
        struct af_buf tail, u;
        const char *url = af_buf_str(&q->url);
        size_t base = strcspn(url, "#");
        af_buf_init(&tail, AF_PROBE_MAX_VALUE);
        af_buf_init(&u, AF_PROBE_MAX_VALUE);
        rc = af_buf_add(&u, url, base);
        if (rc == AF_OK)
            rc = af_buf_addc(&u, memchr(url, '?', base) ? '&' : '?');
        if (rc == AF_OK)
            rc = af_params_encode(&q->query, &u);
        if (rc == AF_OK)
            rc = af_buf_adds(&u, url + base);
        if (rc == AF_OK) {
            af_buf_reset(&q->url);
            rc = af_buf_add(&q->url, af_buf_str(&u), u.len);
        }
        af_buf_free(&tail);
        af_buf_free(&u);
        af_params_free(&q->query);
        if (rc != AF_OK)
            return rc;
    }
    if (q->has_form) {
        af_buf_reset(&q->body);
        rc = af_params_encode(&q->form, &q->body);
        if (rc != AF_OK)
            return rc;
        q->has_body = true;
        if (!headers_has(&q->headers, AF_HDR_CONTENT_TYPE))
            rc = af_params_add(&q->headers, AF_HDR_CONTENT_TYPE, AF_CT_FORM);
    }
    if (q->method == NULL)
        q->method = strdup(q->has_body ? "POST" : "GET");
    if (q->method == NULL)
        return AF_ERR_NOMEM;
    hr->method = q->method;
    hr->url = af_buf_str(&q->url);
    hr->headers = q->headers; /* shallow: still owned by q */
    hr->body = q->has_body ? af_buf_str(&q->body) : NULL;
    hr->body_len = q->body.len;
    hr->no_cookies = q->no_cookies;
    return rc;
}

static af_rc basic_auth(struct af_request *q, const char *id, const char *secret)
{
    struct af_buf raw, out;
    af_rc rc;
    unsigned char *b64 = NULL;
    af_buf_init(&raw, 64 * 1024);
    af_buf_init(&out, 128 * 1024);
    /* RFC 6749 §2.3.1: both parts form-urlencoded before base64. */
    rc = af_url_encode(&raw, id);
    if (rc == AF_OK)
        rc = af_buf_addc(&raw, ':');
    if (rc == AF_OK)
        rc = af_url_encode(&raw, secret);
    if (rc == AF_OK) {
        b64 = malloc(4 * ((raw.len + 2) / 3) + 1);
        if (b64 == NULL)
            rc = AF_ERR_NOMEM;
    }
    if (rc == AF_OK) {
        EVP_EncodeBlock(b64, (const unsigned char *)af_buf_str(&raw), (int)raw.len);
        rc = af_buf_addf(&out, AF_SCHEME_BASIC " %s", (const char *)b64);
    }
    if (rc == AF_OK)
        headers_set(&q->headers, AF_HDR_AUTHORIZATION, af_buf_str(&out));
    free(b64);
    af_buf_free(&raw);
    af_buf_free(&out);
    return rc;
}

/* expand_opt: expand a template; *out NULL when omitted. */
static af_rc expand_opt(struct af_ck *c, const char *t, char **out, struct af_err *e)
{
    return af_tmpl_expand_str(&c->sc, t, out, NULL, e);
}

static af_rc apply_auth(struct af_ck *c, struct af_request *q, const json_t *auth, struct af_err *e)
{
    af_rc rc;
    char *method = NULL, *id = NULL, *secret = NULL;
    const char *m;
    const char *idt = "{{client.id}}", *sect = "{{client.secret}}";

    if (json_is_object(auth)) {
        m = json_string_value(json_object_get(auth, "method"));
        if (json_object_get(auth, "id"))
            idt = json_string_value(json_object_get(auth, "id"));
        if (json_object_get(auth, "secret"))
            sect = json_string_value(json_object_get(auth, "secret"));
    } else {
        m = json_string_value(auth);
    }
    if (strcmp(m, "client") == 0) {
        json_t *v = NULL;
        bool lit;
        struct af_err e2;
        af_err_clear(&e2);
        if (af_var_get(&c->sc, "client.auth", &v, &lit, &e2) == AF_OK && json_is_string(v)) {
            rc = expand_opt(c, json_string_value(v), &method, e);
            json_decref(v);
            if (rc != AF_OK)
                goto out;
        } else {
            json_decref(v);
            /* No auth key: Basic for a client with a secret (the RFC 6749
             * §2.3.1 default), none for a public one. */
            af_err_clear(&e2);
            v = NULL;
            method = strdup(af_var_get(&c->sc, "client.secret", &v, &lit, &e2) == AF_OK ? "basic"
                                                                                        : "none");
            json_decref(v);
        }
        m = method;
        if (m == NULL) {
            rc = AF_ERR_NOMEM;
            goto out;
        }
    }
    rc = expand_opt(c, idt, &id, e);
    if (rc != AF_OK)
        goto out;
    if (strcmp(m, "basic") == 0 || strcmp(m, AF_AUTH_BASIC) == 0) {
        rc = expand_opt(c, sect, &secret, e);
        if (rc == AF_OK)
            rc = basic_auth(q, id ? id : "", secret ? secret : "");
    } else if (strcmp(m, "post") == 0 || strcmp(m, AF_AUTH_POST) == 0) {
        rc = expand_opt(c, sect, &secret, e);
        q->has_form = true;
        if (rc == AF_OK)
            rc = af_params_add(&q->form, AF_P_CLIENT_ID, id ? id : "");
        if (rc == AF_OK)
            rc = af_params_add(&q->form, AF_P_CLIENT_SECRET, secret ? secret : "");
    } else if (strcmp(m, AF_AUTH_NONE) == 0) {
        q->has_form = true;
        rc = af_params_add(&q->form, AF_P_CLIENT_ID, id ? id : "");
    } else {
        rc = AF_ERR_SET(e, AF_ERR_INVALID, "client.auth \"%s\" is not a method authprobe knows", m);
    }
out:
    free(method);
    free(id);
    free(secret);
    return rc;
}

static const struct af_form *pick_form(const struct af_form *forms, size_t n, const json_t *pick)
{
    size_t i;
    const json_t *x;
    if (n == 0)
        return NULL;
    if (pick == NULL)
        return &forms[0];
    x = json_object_get(pick, "index");
    if (x != NULL)
        return (size_t)json_integer_value(x) < n ? &forms[json_integer_value(x)] : NULL;
    x = json_object_get(pick, "id");
    if (x != NULL) {
        for (i = 0; i < n; i++)
            if ((forms[i].id && strcmp(forms[i].id, json_string_value(x)) == 0) ||
                (forms[i].name && strcmp(forms[i].name, json_string_value(x)) == 0))
                return &forms[i];
        return NULL;
    }
    x = json_object_get(pick, "action");
    if (x != NULL) {
        regex_t re;
        const struct af_form *hit = NULL;
        char why[AF_REGEX_WHY_MAX];
        /* refused patterns never get here: the suite's check refused them */
        if (af_regex_compile(&re, json_string_value(x), REG_EXTENDED | REG_NOSUB, why,
                             sizeof(why)) != 0)
            return NULL;
        for (i = 0; i < n && hit == NULL; i++)
            if (regexec(&re, forms[i].action, 0, NULL, 0) == 0)
                hit = &forms[i];
        regfree(&re);
        return hit;
    }
    return &forms[0];
}

/* af_request_submit: a request submitting a form of hop. *why is set (and AF_OK
 * returned with q->method NULL) when the form or button is not there. */
af_rc af_request_submit(struct af_ck *c, struct af_hop *hop, const json_t *pick,
                        const json_t *fields, const char *button, struct af_request *q,
                        const char **why, struct af_err *e)
{
    size_t nf, i;
    const struct af_form *forms = af_hop_forms(hop, &nf), *f;
    struct af_params body;
    char *action = NULL, *btn = NULL, *val = NULL;
    const char *k;
    json_t *v;
    af_rc rc = AF_OK;

    *why = NULL;
    af_params_init(&body, AF_PROBE_MAX_PARAMS);
    f = pick_form(forms, nf, pick);
    if (f == NULL) {
        *why = nf == 0 ? "the page has no form" : "no form matches";
        goto out;
    }
    for (i = 0; i < f->fields.n && rc == AF_OK; i++) {
        const json_t *ov = json_object_get(fields, f->fields.v[i].name);
        if (ov != NULL)
            continue; /* set (or removed) below */
        rc = af_params_add(&body, f->fields.v[i].name, f->fields.v[i].value);
    }
    json_object_foreach((json_t *)fields, k, v)
    {
        bool om = false;
        if (rc != AF_OK || json_is_null(v))
            continue;
        rc = af_tmpl_expand_str(&c->sc, json_string_value(v), &val, &om, e);
        if (rc == AF_OK && !om)
            rc = af_params_add(&body, k, val);
        free(val);
        val = NULL;
    }
    if (rc != AF_OK)
        goto out;
    if (button != NULL) {
        const char *eq;
        bool found = false;
        rc = af_tmpl_expand_str(&c->sc, button, &btn, NULL, e);
        if (rc != AF_OK || btn == NULL)
            goto out;
        eq = strchr(btn, '=');
        for (i = 0; i < f->buttons.n && !found; i++) {
            const struct af_param *b = &f->buttons.v[i];
            if (eq ? (strncmp(b->name, btn, (size_t)(eq - btn)) == 0 && b->name[eq - btn] == '\0' &&
                      strcmp(b->value, eq + 1) == 0)
                   : strcmp(b->name, btn) == 0) {
                rc = af_params_add(&body, b->name, b->value);
                found = true;
            }
        }
        if (!found) {
            *why = "the form has no such button";
            goto out;
        }
        if (rc != AF_OK)
            goto out;
    }
    rc = af_url_resolve(hop->url, f->action[0] ? f->action : hop->url, &action);
    if (rc != AF_OK) {
        rc = AF_OK;
        *why = "the form's action is not a URL";
        goto out;
    }
    if (strcmp(f->method, "POST") == 0) {
        rc = af_buf_adds(&q->url, action);
        for (i = 0; i < body.n && rc == AF_OK; i++)
            rc = af_params_add(&q->form, body.v[i].name, body.v[i].value);
        q->has_form = true;
        q->method = strdup("POST");
    } else {
        /* GET replaces the action's query with the form data. */
        rc = af_buf_add(&q->url, action, strcspn(action, "?#"));
        for (i = 0; i < body.n && rc == AF_OK; i++)
            rc = af_params_add(&q->query, body.v[i].name, body.v[i].value);
        q->method = strdup("GET");
    }
    if (rc == AF_OK && q->method == NULL)
        rc = AF_ERR_NOMEM;
    q->submitted = true;
out:
    free(action);
    free(btn);
    af_params_free(&body);
    return rc;
}

static bool method_ok(const char *m)
{
    if (*m == '\0')
        return false;
    for (; *m; m++)
        if (!isupper((unsigned char)*m))
            return false;
    return true;
}

/* admin_request: the URL of a request to authflowd's admin API
 * (docs/admin.md): its base is target.admin.url (--admin, then
 * $AUTHFLOW_ADMIN_URL, then the profile, see build_root) and path is
 * appended; the secret, when one is known, goes as a bearer token. */
static af_rc admin_request(struct af_ck *c, const char *path_tmpl, struct af_request *q,
                           struct af_err *e)
{
    char *base = NULL, *path = NULL, *secret = NULL;
    size_t bl;
    bool om = false;
    af_rc rc;

    rc = af_tmpl_expand_str(&c->sc, "{{target.admin.url}}", &base, NULL, e);
    if (rc == AF_ERR_NOTFOUND) {
        af_err_clear(e);
        rc = AF_ERR_SET(e, AF_ERR_NOTFOUND,
                        "needs authflowd's admin API (--admin URL, $AUTHFLOW_ADMIN_URL or the "
                        "profile's admin.url)");
    }
    if (rc != AF_OK)
        goto out;
    rc = af_tmpl_expand_str(&c->sc, path_tmpl, &path, NULL, e);
    if (rc != AF_OK)
        goto out;
    bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    rc = af_buf_add(&q->url, base, bl);
    if (rc == AF_OK && path != NULL && path[0] != '/' && path[0] != '\0')
        rc = af_buf_addc(&q->url, '/');
    if (rc == AF_OK && path != NULL)
        rc = af_buf_adds(&q->url, path);
    if (rc != AF_OK)
        goto out;
    rc = af_tmpl_expand_str(&c->sc, "{{?target.admin.secret}}", &secret, &om, e);
    if (rc != AF_OK)
        goto out;
    if (secret != NULL && *secret != '\0') {
        q->admin_secret = secret;
        secret = NULL;
    }
    if (!headers_has(&q->headers, AF_HDR_ACCEPT))
        rc = af_params_add(&q->headers, AF_HDR_ACCEPT, AF_CT_JSON);
out:
    free(base);
    free(path);
    free(secret);
    return rc;
}

/* form_from_ref: "form": "{{?auth.login.form}}", a whole reference to an
 * object of the profile's (its strings expanded there, once): its members
 * are the fields, a list giving a field several times. Undefined under
 * "{{?...}}": no form at all. */
static af_rc form_from_ref(struct af_ck *c, const json_t *v, struct af_request *q, struct af_err *e)
{
    json_t *j = NULL, *m, *x;
    const char *k;
    size_t i;
    af_rc rc = af_tmpl_expand_json(&c->sc, v, &j, e);
    if (rc != AF_OK || j == NULL)
        return rc;
    if (!json_is_object(j)) {
        json_decref(j);
        return AF_ERR_SET(e, AF_ERR_INVALID, "form: %s is not an object of fields",
                          json_string_value(v));
    }
    q->has_form = true;
    json_object_foreach(j, k, m)
    {
        for (i = 0; rc == AF_OK && i < (json_is_array(m) ? json_array_size(m) : 1); i++) {
            char num[32];
            const char *val;
            x = json_is_array(m) ? json_array_get(m, i) : m;
            if (json_is_string(x)) {
                val = json_string_value(x);
            } else if (json_is_integer(x)) {
                snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(x));
                val = num;
            } else if (json_is_boolean(x)) {
                val = json_is_true(x) ? "true" : "false";
            } else {
                continue; /* null or a structure: not a field */
            }
            rc = af_params_add(&q->form, k, val);
        }
    }
    json_decref(j);
    return rc;
}

/* request_json_body: the "json" member v, expanded, as the compact body,
 * with a JSON Content-Type unless the step set one. A whole "{{?NAME}}"
 * left undefined means no body at all. */
static af_rc request_json_body(struct af_ck *c, const json_t *v, struct af_request *q,
                               struct af_err *e)
{
    json_t *j = NULL;
    char *dump;
    af_rc rc = af_tmpl_expand_json(&c->sc, v, &j, e);
    if (rc != AF_OK || (j == NULL && json_is_string(v)))
        return rc;
    dump = json_dumps(j ? j : json_null(), JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(j);
    if (dump == NULL)
        return AF_ERR_NOMEM;
    af_buf_reset(&q->body);
    rc = af_buf_adds(&q->body, dump);
    free(dump);
    q->has_body = true;
    if (rc == AF_OK && !headers_has(&q->headers, AF_HDR_CONTENT_TYPE))
        rc = af_params_add(&q->headers, AF_HDR_CONTENT_TYPE, AF_CT_JSON);
    return rc;
}

/* af_request_build: from a step's request object. On a variable problem rc is
 * AF_ERR_NOTFOUND / AF_ERR_INVALID with e set; *why (with AF_OK) when a
 * submit found nothing to submit. */
af_rc af_request_build(struct af_ck *c, const json_t *reqj, struct af_request *q, const char **why,
                       struct af_err *e)
{
    json_t *eff = effective_request(c->r->s, reqj, 0), *v;
    af_rc rc = AF_OK;
    char *s = NULL;
    const char *k;

    *why = NULL;
    if (eff == NULL)
        return AF_ERR_NOMEM;
    /* A back channel (docs/suite-format.md §5) never carries the browser's
     * cookies; the admin API is one whatever the step says. */
    q->no_cookies =
        json_object_get(eff, "admin") != NULL || json_is_false(json_object_get(eff, "cookies"));
    v = json_object_get(eff, "submit");
    if (v != NULL) {
        struct af_hop *prev = af_ck_prev_get(c);
        if (prev == NULL) {
            *why = "there is no previous response in this flow to submit a form from";
            goto out;
        }
        rc = af_request_submit(c, prev, json_object_get(v, "form"), json_object_get(v, "fields"),
                               json_string_value(json_object_get(v, "button")), q, why, e);
        if (rc != AF_OK || *why != NULL)
            goto out;
    } else {
        v = json_object_get(eff, "admin");
        if (v != NULL)
            rc = admin_request(c, json_string_value(v), q, e);
        else
            rc = af_tmpl_expand(&c->sc, json_string_value(json_object_get(eff, "url")), &q->url,
                                NULL, e);
        if (rc != AF_OK)
            goto out;
        v = json_object_get(eff, "method");
        if (v != NULL) {
            rc = af_tmpl_expand_str(&c->sc, json_string_value(v), &q->method, NULL, e);
            if (rc != AF_OK)
                goto out;
            if (q->method != NULL && !method_ok(q->method)) {
                rc = AF_ERR_SET(e, AF_ERR_INVALID,
                                "method \"%.40s\": a method is upper-case letters (GET, POST...)",
                                q->method);
                goto out;
            }
        }
    }
    v = json_object_get(eff, "query");
    if (v != NULL) {
        rc = add_params(c, v, &q->query, e);
        if (rc != AF_OK)
            goto out;
    }
    v = json_object_get(eff, "form");
    if (json_is_string(v)) {
        rc = form_from_ref(c, v, q, e);
        if (rc != AF_OK)
            goto out;
    } else if (v != NULL) {
        q->has_form = true;
        rc = add_params(c, v, &q->form, e);
        if (rc != AF_OK)
            goto out;
    }
    json_object_foreach(json_object_get(eff, "headers"), k, v)
    {
        bool om = false;
        if (json_is_null(v))
            continue;
        rc = af_tmpl_expand_str(&c->sc, json_string_value(v), &s, &om, e);
        if (rc == AF_OK && !om)
            headers_set(&q->headers, k, s);
        free(s);
        s = NULL;
        if (rc != AF_OK)
            goto out;
    }
    v = json_object_get(eff, "auth");
    if (v != NULL) {
        rc = apply_auth(c, q, v, e);
        if (rc != AF_OK)
            goto out;
    }
    v = json_object_get(eff, "bearer");
    if (v != NULL) {
        rc = af_tmpl_expand_str(&c->sc, json_string_value(v), &s, NULL, e);
        if (rc == AF_OK && s != NULL) {
            char *h = NULL;
            if (asprintf(&h, AF_SCHEME_BEARER " %s", s) < 0)
                rc = AF_ERR_NOMEM;
            else
                headers_set(&q->headers, AF_HDR_AUTHORIZATION, h);
            free(h);
        }
        free(s);
        s = NULL;
        if (rc != AF_OK)
            goto out;
    }
    v = json_object_get(eff, "body");
    if (v != NULL) {
        bool om = false;
        rc = af_tmpl_expand(&c->sc, json_string_value(v), &q->body, &om, e);
        /* "{{?res.body}}" undefined: no body at all, not an empty one */
        q->has_body = !om;
        if (rc != AF_OK)
            goto out;
    }
    v = json_object_get(eff, "json");
    if (v != NULL) {
        rc = request_json_body(c, v, q, e);
        if (rc != AF_OK)
            goto out;
    }
    if (rc == AF_OK && q->admin_secret != NULL && !headers_has(&q->headers, AF_HDR_AUTHORIZATION)) {
        char *h = NULL;
        if (asprintf(&h, AF_SCHEME_BEARER " %s", q->admin_secret) < 0)
            rc = AF_ERR_NOMEM;
        else
            headers_set(&q->headers, AF_HDR_AUTHORIZATION, h);
        free(h);
    }
    if (rc == AF_OK) {
        size_t i;
        /* A value captured from a response could carry a line break: never
         * let it split a header. */
        for (i = 0; i < q->headers.n; i++)
            if (strpbrk(q->headers.v[i].value, "\r\n") != NULL)
                rc = AF_ERR_SET(e, AF_ERR_INVALID, "header %s: the value holds a line break",
                                q->headers.v[i].name);
    }
out:
    json_decref(eff);
    return rc;
}

bool af_request_ready(struct af_ck *c, const json_t *reqj, struct af_request *q,
                      struct af_http_req *hr, const char *stepname)
{
    const char *why = NULL;
    struct af_err e;
    af_rc rc;

    af_err_clear(&e);
    rc = af_request_build(c, reqj, q, &why, &e);
    if (rc == AF_OK && why == NULL)
        rc = af_request_finish(q, hr);
    if (rc == AF_OK && why == NULL)
        return true;
    if (rc == AF_ERR_NOTFOUND || rc == AF_ERR_INVALID)
        af_ck_var_problem(c, stepname, rc, &e);
    else
        af_ck_error(c, stepname, why ? why : "out of memory");
    return false;
}

/* af_request_client_uri: where this step's authorization response goes: the
 * redirect_uri it sent, else the bound client's. Caller frees. */
char *af_request_client_uri(struct af_ck *c, const struct af_request *q)
{
    const char *v = af_params_get(&q->query, AF_P_REDIRECT_URI);
    char *s = NULL;
    struct af_err e;
    if (v == NULL && q->has_form)
        v = af_params_get(&q->form, AF_P_REDIRECT_URI);
    if (v == NULL) {
        /* The URL may carry it already (a template with a literal query). */
        const char *url = af_buf_str(&q->url), *qs, *fs;
        size_t ql, fl;
        struct af_params p;
        af_url_split(url, &qs, &ql, &fs, &fl);
        af_params_init(&p, AF_PROBE_MAX_PARAMS);
        if (qs != NULL && af_params_parse(&p, qs, ql, NULL) == AF_OK &&
            af_params_get(&p, AF_P_REDIRECT_URI) != NULL)
            s = strdup(af_params_get(&p, AF_P_REDIRECT_URI));
        af_params_free(&p);
        if (s != NULL)
            return s;
    }
    if (v != NULL)
        return strdup(v);
    af_err_clear(&e);
    if (af_tmpl_expand_str(&c->sc, "{{client." AF_P_REDIRECT_URI "}}", &s, NULL, &e) != AF_OK) {
        free(s);
        return NULL;
    }
    return s;
}
