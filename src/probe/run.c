/*
 * run.c - the flow runner: discovery, then every selected check in order,
 * each in its own flow (cookie jar, fresh values, captures): fixtures,
 * steps, requests built from templates, hop-by-hop following with login
 * rules, expectations and captures (docs/suite-format.md §2-§8, §12).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "authflow/proto.h"
#include "probe/probe_int.h"

struct prev_hop {
    char *flow;
    struct af_hop hop;
};

struct run {
    const struct af_suite *s;
    const struct af_target *t;
    const struct af_probe_opts *o;
    struct af_http *http;
    json_t *root; /* {"target", "meta", "vars"} */
    struct af_jwks_cache jwks;
    struct af_results *res;
    long max_hops;
};

struct ck {
    struct run *r;
    struct af_scope sc;
    const char *id;
    af_severity sev;
    struct af_check_result *res;
    bool stop;
    struct prev_hop *prev;
    size_t nprev;
    char *flow;             /* the current flow name */
    const char *label;      /* the foreach element ("orders, regular"); NULL without foreach */
    int use_depth;          /* nested "use" steps, to stop a fixture that uses itself */
    bool allow_unreachable; /* this step: a refused connection is an answer, not a failure */
};

/* ---- recording results ---- */

static int status_rank(af_check_status st)
{
    switch (st) {
    case AF_CHECK_PASS:
        return 0;
    case AF_CHECK_SKIP:
        return 1;
    case AF_CHECK_WARN:
        return 2;
    case AF_CHECK_FAIL:
        return 3;
    default:
        return 4;
    }
}

/* ck_status: raise the check's result to st; the headline message is the
 * first line of the worst result seen (the first MUST failure, else the
 * first warning, else the skip reason). */
static void ck_status(struct ck *c, af_check_status st, const char *line)
{
    bool worse = status_rank(st) > status_rank(c->res->status);
    if (worse)
        c->res->status = st;
    if (line != NULL && (worse || c->res->message == NULL)) {
        char *m = strdup(line);
        if (m != NULL) {
            free(c->res->message);
            c->res->message = m;
        }
    }
}

static void ck_fail(struct ck *c, const char *step, af_severity sev, const char *msg,
                    const char *spec, const char *why)
{
    struct af_buf b;
    struct af_check_failure *nf;
    af_buf_init(&b, 8192);
    if (c->label != NULL)
        af_msg_addf(&b, "%s [%s: %s] %s", c->id, c->label, step, msg);
    else
        af_msg_addf(&b, "%s [%s] %s", c->id, step, msg);
    if (why != NULL)
        af_msg_addf(&b, "; %s", why);
    if (spec != NULL && *spec)
        af_msg_addf(&b, " (%s)", spec);
    nf = realloc(c->res->fails, (c->res->nfails + 1) * sizeof(*nf));
    if (nf != NULL) {
        c->res->fails = nf;
        nf[c->res->nfails].step = strdup(step);
        nf[c->res->nfails].line = strdup(af_buf_str(&b));
        nf[c->res->nfails].severity = sev;
        c->res->nfails++;
    }
    ck_status(c, sev == AF_SEV_MUST ? AF_CHECK_FAIL : AF_CHECK_WARN, af_buf_str(&b));
    af_buf_free(&b);
}

static void ck_skip(struct ck *c, const char *step, const char *why)
{
    struct af_buf b;
    af_buf_init(&b, 4096);
    if (step != NULL && c->label != NULL)
        af_msg_addf(&b, "%s [%s: %s] skipped: %s", c->id, c->label, step, why);
    else if (step != NULL || c->label != NULL)
        af_msg_addf(&b, "%s [%s] skipped: %s", c->id, step ? step : c->label, why);
    else
        af_msg_addf(&b, "%s skipped: %s", c->id, why);
    ck_status(c, AF_CHECK_SKIP, af_buf_str(&b));
    af_buf_free(&b);
    c->stop = true;
}

static void ck_error(struct ck *c, const char *step, const char *why)
{
    struct af_buf b;
    af_buf_init(&b, 4096);
    if (c->label != NULL)
        af_msg_addf(&b, "%s [%s: %s] error: %s", c->id, c->label, step ? step : "setup", why);
    else
        af_msg_addf(&b, "%s [%s] error: %s", c->id, step ? step : "setup", why);
    ck_status(c, AF_CHECK_ERROR, af_buf_str(&b));
    af_buf_free(&b);
    c->stop = true;
}

/* ck_var_problem: an undefined variable or a bad template: skip or error. */
static void ck_var_problem(struct ck *c, const char *step, af_rc rc, const struct af_err *e)
{
    const char *m = e->msg[0] ? e->msg : af_rc_str(rc);
    if (rc == AF_ERR_NOTFOUND)
        ck_skip(c, step, m);
    else
        ck_error(c, step, m);
}

/* ---- flows ---- */

static struct af_hop *prev_get(struct ck *c)
{
    size_t i;
    for (i = 0; i < c->nprev; i++)
        if (strcmp(c->prev[i].flow, c->flow) == 0)
            return &c->prev[i].hop;
    return NULL;
}

static void prev_put(struct ck *c, struct af_hop *hop)
{
    struct af_hop *p = prev_get(c);
    if (p == NULL) {
        struct prev_hop *np = realloc(c->prev, (c->nprev + 1) * sizeof(*np));
        if (np == NULL)
            return;
        c->prev = np;
        np[c->nprev].flow = strdup(c->flow);
        if (np[c->nprev].flow == NULL)
            return;
        af_hop_init(&np[c->nprev].hop);
        p = &np[c->nprev].hop;
        c->nprev++;
    }
    af_hop_clear(p);
    *p = *hop; /* moved: the caller's hop is re-initialised */
    af_hop_init(hop);
}

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
        } else {
            json_object_set(out, k, v);
        }
    }
    return out;
}

/* add_params: expand an object or pair list into p. */
static af_rc add_params(struct ck *c, const json_t *spec, struct af_params *p, struct af_err *e)
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

/* A request under construction. */
struct req {
    char *method;
    struct af_buf url;
    struct af_params query; /* appended to url at the end */
    struct af_params form;
    bool has_form;
    struct af_params headers;
    struct af_buf body;
    bool has_body;
    bool submitted;
    char *admin_secret; /* a request to the admin API: its bearer secret, if any */
};

static void req_init(struct req *q)
{
    memset(q, 0, sizeof(*q));
    af_buf_init(&q->url, AF_PROBE_MAX_VALUE);
    af_params_init(&q->query, AF_PROBE_MAX_PARAMS);
    af_params_init(&q->form, AF_PROBE_MAX_PARAMS);
    af_params_init(&q->headers, AF_PROBE_MAX_HEADERS);
    af_buf_init(&q->body, 16 * 1024 * 1024);
}

static void req_free(struct req *q)
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

/* req_finish: fill the af_http_req view (body and url assembled). */
static af_rc req_finish(struct req *q, struct af_http_req *hr)
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
    return rc;
}

static af_rc basic_auth(struct req *q, const char *id, const char *secret)
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
static af_rc expand_opt(struct ck *c, const char *t, char **out, struct af_err *e)
{
    return af_tmpl_expand_str(&c->sc, t, out, NULL, e);
}

static af_rc apply_auth(struct ck *c, struct req *q, const json_t *auth, struct af_err *e)
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
    if ((x = json_object_get(pick, "index")) != NULL)
        return (size_t)json_integer_value(x) < n ? &forms[json_integer_value(x)] : NULL;
    if ((x = json_object_get(pick, "id")) != NULL) {
        for (i = 0; i < n; i++)
            if ((forms[i].id && strcmp(forms[i].id, json_string_value(x)) == 0) ||
                (forms[i].name && strcmp(forms[i].name, json_string_value(x)) == 0))
                return &forms[i];
        return NULL;
    }
    if ((x = json_object_get(pick, "action")) != NULL) {
        regex_t re;
        const struct af_form *hit = NULL;
        if (regcomp(&re, json_string_value(x), REG_EXTENDED | REG_NOSUB) != 0)
            return NULL;
        for (i = 0; i < n && hit == NULL; i++)
            if (regexec(&re, forms[i].action, 0, NULL, 0) == 0)
                hit = &forms[i];
        regfree(&re);
        return hit;
    }
    return &forms[0];
}

/* build_submit: a request submitting a form of hop. *why is set (and AF_OK
 * returned with q->method NULL) when the form or button is not there. */
static af_rc build_submit(struct ck *c, struct af_hop *hop, const json_t *pick,
                          const json_t *fields, const char *button, struct req *q, const char **why,
                          struct af_err *e)
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
static af_rc admin_request(struct ck *c, const char *path_tmpl, struct req *q, struct af_err *e)
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

/* build_request: from a step's request object. On a variable problem rc is
 * AF_ERR_NOTFOUND / AF_ERR_INVALID with e set; *why (with AF_OK) when a
 * submit found nothing to submit. */
static af_rc build_request(struct ck *c, const json_t *reqj, struct req *q, const char **why,
                           struct af_err *e)
{
    json_t *eff = effective_request(c->r->s, reqj, 0), *v;
    af_rc rc = AF_OK;
    char *s = NULL;
    const char *k;

    *why = NULL;
    if (eff == NULL)
        return AF_ERR_NOMEM;
    if ((v = json_object_get(eff, "submit")) != NULL) {
        struct af_hop *prev = prev_get(c);
        if (prev == NULL) {
            *why = "there is no previous response in this flow to submit a form from";
            goto out;
        }
        rc = build_submit(c, prev, json_object_get(v, "form"), json_object_get(v, "fields"),
                          json_string_value(json_object_get(v, "button")), q, why, e);
        if (rc != AF_OK || *why != NULL)
            goto out;
    } else {
        if ((v = json_object_get(eff, "admin")) != NULL)
            rc = admin_request(c, json_string_value(v), q, e);
        else
            rc = af_tmpl_expand(&c->sc, json_string_value(json_object_get(eff, "url")), &q->url,
                                NULL, e);
        if (rc != AF_OK)
            goto out;
        if ((v = json_object_get(eff, "method")) != NULL) {
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
    if ((v = json_object_get(eff, "query")) != NULL) {
        rc = add_params(c, v, &q->query, e);
        if (rc != AF_OK)
            goto out;
    }
    if ((v = json_object_get(eff, "form")) != NULL) {
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
    if ((v = json_object_get(eff, "auth")) != NULL) {
        rc = apply_auth(c, q, v, e);
        if (rc != AF_OK)
            goto out;
    }
    if ((v = json_object_get(eff, "bearer")) != NULL) {
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
    if ((v = json_object_get(eff, "body")) != NULL) {
        bool om = false;
        rc = af_tmpl_expand(&c->sc, json_string_value(v), &q->body, &om, e);
        /* "{{?res.body}}" undefined: no body at all, not an empty one */
        q->has_body = !om;
        if (rc != AF_OK)
            goto out;
    }
    if ((v = json_object_get(eff, "json")) != NULL) {
        json_t *j = NULL;
        char *dump;
        rc = af_tmpl_expand_json(&c->sc, v, &j, e);
        if (rc != AF_OK)
            goto out;
        /* A whole "{{?NAME}}" left undefined means no body at all. */
        if (j != NULL || !json_is_string(v)) {
            dump = json_dumps(j ? j : json_null(), JSON_ENCODE_ANY | JSON_COMPACT);
            json_decref(j);
            if (dump == NULL) {
                rc = AF_ERR_NOMEM;
                goto out;
            }
            af_buf_reset(&q->body);
            rc = af_buf_adds(&q->body, dump);
            free(dump);
            q->has_body = true;
            if (rc == AF_OK && !headers_has(&q->headers, AF_HDR_CONTENT_TYPE))
                rc = af_params_add(&q->headers, AF_HDR_CONTENT_TYPE, AF_CT_JSON);
        }
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

/* client_uri: where this step's authorization response goes: the
 * redirect_uri it sent, else the bound client's. Caller frees. */
static char *client_uri(struct ck *c, const struct req *q)
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

/* ---- sending and following ---- */

struct hops {
    struct af_hop *v;
    size_t n;
};

static void hops_free(struct hops *h)
{
    size_t i;
    for (i = 0; i < h->n; i++)
        af_hop_clear(&h->v[i]);
    free(h->v);
    h->v = NULL;
    h->n = 0;
}

static af_rc send_one(struct ck *c, struct req *q, struct hops *hs, const char *step)
{
    struct af_http_req hr;
    struct af_hop *nv;
    af_rc rc;
    memset(&hr, 0, sizeof(hr));
    rc = req_finish(q, &hr);
    if (rc != AF_OK)
        return rc;
    nv = realloc(hs->v, (hs->n + 1) * sizeof(*nv));
    if (nv == NULL)
        return AF_ERR_NOMEM;
    hs->v = nv;
    af_hop_init(&nv[hs->n]);
    rc = af_http_send(c->r->http, &hr, &nv[hs->n]);
    hs->n++;
    if (rc != AF_OK)
        return rc;
    nv[hs->n - 1].submitted = q->submitted;
    c->res->requests++;
    if (c->r->o->trace != NULL)
        af_trace_hop(c->r->o->trace, c->id, step, hs->n, &nv[hs->n - 1], c->r->o->show_secrets);
    if (nv[hs->n - 1].unreachable && !c->r->res->unreachable && !c->allow_unreachable) {
        c->r->res->unreachable = true;
        c->r->res->unreachable_at = strdup(nv[hs->n - 1].url);
        c->r->res->unreachable_why =
            strdup(nv[hs->n - 1].transport_error ? nv[hs->n - 1].transport_error : "unreachable");
    }
    return AF_OK;
}

static bool uri_at(const char *loc, const char *uri)
{
    size_t n = strlen(uri);
    char ch;
    if (strncmp(loc, uri, n) != 0)
        return false;
    ch = loc[n];
    return ch == '\0' || ch == '?' || ch == '#' || (ch == '&' && strchr(uri, '?') != NULL);
}

static bool rule_matches(struct af_hop *hop, const json_t *rule)
{
    const char *m = json_string_value(json_object_get(rule, "match"));
    const char *u = json_string_value(json_object_get(rule, "url"));
    if (m != NULL && strstr(af_buf_str(&hop->body), m) == NULL)
        return false;
    if (u != NULL) {
        regex_t re;
        int hit;
        if (regcomp(&re, u, REG_EXTENDED | REG_NOSUB) != 0)
            return false;
        hit = regexec(&re, hop->url, 0, NULL, 0) == 0;
        regfree(&re);
        if (!hit)
            return false;
    }
    return true;
}

/* apply_rule: build the request a login rule makes on hop; *applied false
 * when the rule does not fit the page. */
static af_rc apply_rule(struct ck *c, struct af_hop *hop, const json_t *rule, struct req *q,
                        bool *applied, struct af_err *e)
{
    const char *link = json_string_value(json_object_get(rule, "link"));
    const char *why = NULL;
    af_rc rc;
    *applied = false;
    if (!rule_matches(hop, rule))
        return AF_OK;
    if (link != NULL) {
        struct af_link *links = NULL;
        size_t n = 0, i;
        char *abs = NULL;
        rc = af_html_links(hop->body.p ? hop->body.p : "", hop->body.len, &links, &n);
        if (rc != AF_OK)
            return rc;
        for (i = 0; i < n; i++) {
            if (strcasestr(links[i].text, link) != NULL) {
                if (af_url_resolve(hop->url, links[i].href, &abs) == AF_OK) {
                    rc = af_buf_adds(&q->url, abs);
                    q->method = strdup("GET");
                    *applied = rc == AF_OK && q->method != NULL;
                }
                break;
            }
        }
        free(abs);
        af_html_links_free(links, n);
        return AF_OK;
    }
    rc = build_submit(c, hop, json_object_get(rule, "form"), json_object_get(rule, "fields"),
                      json_string_value(json_object_get(rule, "button")), q, &why, e);
    if (rc == AF_OK && why == NULL)
        *applied = true;
    return rc;
}

/* do_step_requests: the step's request, then (with follow) the hops. */
static af_rc do_requests(struct ck *c, const json_t *step, struct req *first, const char *curi,
                         struct hops *hs, const char *stepname, char **fail_msg, struct af_err *e)
{
    const json_t *follow = json_object_get(step, "follow");
    const json_t *login = json_object_get(c->r->t->root, "login");
    const json_t *rules = NULL;
    json_t *single = NULL;
    bool do_login = true;
    long max_hops = c->r->max_hops;
    size_t *uses = NULL, nrules = 0, i;
    af_rc rc;

    *fail_msg = NULL;
    rc = send_one(c, first, hs, stepname);
    if (rc != AF_OK || follow == NULL || json_is_false(follow))
        return rc;
    if (json_is_object(follow)) {
        if (json_object_get(follow, "max_hops"))
            max_hops = (long)json_integer_value(json_object_get(follow, "max_hops"));
        if (json_is_false(json_object_get(follow, "login")))
            do_login = false;
        if (json_is_true(json_object_get(follow, "cancel"))) {
            single = json_array();
            if (json_object_get(login, "cancel") != NULL)
                json_array_append(single, json_object_get(login, "cancel"));
            rules = single;
        }
    }
    if (rules == NULL)
        rules = json_object_get(login, "forms");
    nrules = json_array_size(rules);
    uses = calloc(nrules + 1, sizeof(*uses));
    if (uses == NULL) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    for (;;) {
        struct af_hop *h = &hs->v[hs->n - 1];
        struct req q;
        bool next = false;
        if (h->status == 0 || h->transport_error != NULL)
            break;
        if (h->status / 100 == 3 && af_hop_location(h) != NULL) {
            const char *loc = h->location;
            if (curi != NULL && uri_at(loc, curi))
                break;
            if (strncasecmp(loc, "http://", 7) != 0 && strncasecmp(loc, "https://", 8) != 0)
                break; /* a custom-scheme client: never fetched */
            if ((long)hs->n >= max_hops)
                goto toomany;
            req_init(&q);
            rc = af_buf_adds(&q.url, loc);
            if (rc == AF_OK && (h->status == 307 || h->status == 308)) {
                /* Same method and body (RFC 9110 §15.4.8). */
                q.method = strdup(h->method);
                if (h->req_body.len > 0) {
                    rc = af_buf_add(&q.body, h->req_body.p, h->req_body.len);
                    q.has_body = true;
                }
                for (i = 0; rc == AF_OK && i < h->req_headers.n; i++)
                    if (strcasecmp(h->req_headers.v[i].name, AF_HDR_CONTENT_TYPE) == 0)
                        rc = af_params_add(&q.headers, AF_HDR_CONTENT_TYPE,
                                           h->req_headers.v[i].value);
            }
            if (rc == AF_OK)
                rc = send_one(c, &q, hs, stepname);
            req_free(&q);
            if (rc != AF_OK)
                goto out;
            continue;
        }
        if (!do_login || !af_hop_is_html(h))
            break;
        for (i = 0; i < nrules && !next; i++) {
            const json_t *rule = json_array_get(rules, i);
            const json_t *mx = json_object_get(rule, "max");
            bool applied = false;
            if ((json_int_t)uses[i] >= (mx ? json_integer_value(mx) : 1))
                continue;
            req_init(&q);
            rc = apply_rule(c, h, rule, &q, &applied, e);
            if (rc == AF_OK && applied) {
                if ((long)hs->n >= max_hops) {
                    req_free(&q);
                    goto toomany;
                }
                uses[i]++;
                q.submitted = json_object_get(rule, "link") == NULL;
                rc = send_one(c, &q, hs, stepname);
                next = true;
            }
            req_free(&q);
            if (rc != AF_OK)
                goto out;
        }
        if (!next)
            break;
    }
    rc = AF_OK;
    goto out;
toomany:
    if (asprintf(fail_msg,
                 "follow: expected to reach the client within %ld hops, got more (last: "
                 "%ld from %.120s)",
                 max_hops, hs->v[hs->n - 1].status, hs->v[hs->n - 1].url) < 0)
        *fail_msg = NULL;
    rc = AF_OK;
out:
    free(uses);
    json_decref(single);
    return rc;
}

/* ---- conditions, set, captures ---- */

/* eval_conds: true when every condition holds; else *why explains. */
static af_ex_result eval_conds(struct ck *c, const json_t *conds, struct af_buf *why)
{
    return af_conds_eval(&c->sc, conds, c->r->o->show_secrets, why);
}

/* do_set: expand and store. false when the check stopped. */
static bool do_set(struct ck *c, const json_t *set, const char *step)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)set, k, v)
    {
        char *s = NULL;
        struct af_err e;
        af_rc rc;
        af_err_clear(&e);
        rc = af_tmpl_expand_str(&c->sc, json_string_value(v), &s, NULL, &e);
        if (rc != AF_OK) {
            ck_var_problem(c, step, rc, &e);
            free(s);
            return false;
        }
        if (s != NULL) {
            json_t *js = json_stringn_nocheck(s, strlen(s));
            rc = js ? af_scope_set(&c->sc, k, js) : AF_ERR_NOMEM;
            json_decref(js);
        }
        free(s);
        if (rc != AF_OK) {
            ck_error(c, step, "out of memory");
            return false;
        }
    }
    return true;
}

static void do_captures(struct ck *c, const json_t *cap, struct af_step_view *sv,
                        const char *prefix, const char *step, const char *spec)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)cap, k, v)
    {
        const char *sel = json_is_string(v) ? json_string_value(v)
                                            : json_string_value(json_object_get(v, "from"));
        bool optional = json_is_true(json_object_get(v, "optional"));
        const char *claim = json_string_value(json_object_get(v, "claim"));
        const json_t *on = json_is_object(v) ? json_object_get(v, "on") : NULL;
        size_t idx[AF_PROBE_MAX_HOPS + 1], n = 0; /* a step makes at most max_hops <= 50 */
        struct af_sel_ctx cx;
        struct af_sv val;
        struct af_err e;
        json_t *store = NULL;
        char *name = NULL;
        char msg[AF_ERR_MSG_MAX + 256];

        memset(&val, 0, sizeof(val));
        af_hop_pick(sv, on, idx, &n);
        if (n == 0) {
            if (!optional)
                ck_skip(c, step, "the hop to capture from did not happen");
            continue;
        }
        cx.hop = &sv->hops[idx[0]];
        cx.http = sv->http;
        cx.sc = sv->sc;
        cx.nhops = sv->nhops;
        af_err_clear(&e);
        if (af_sel_eval(&cx, sel, &val, &e) != AF_OK) {
            snprintf(msg, sizeof(msg), "capture %s: %s: %s", k, sel, e.msg);
            ck_fail(c, step, AF_SEV_MUST, msg, spec, NULL);
            continue;
        }
        if (val.kind == AF_SV_VALUE && claim != NULL) {
            struct af_jws *jws = NULL;
            const json_t *cl = NULL;
            if (json_is_string(val.json) &&
                af_jws_parse(json_string_value(val.json), &jws, NULL) == AF_OK)
                cl = af_json_path(af_jws_claims(jws), claim);
            store = cl ? json_incref((json_t *)cl) : NULL;
            af_jws_free(jws);
        } else if (val.kind == AF_SV_VALUE) {
            store = json_incref(val.json);
        }
        af_sv_clear(&val);
        if (store == NULL) {
            if (!optional) {
                snprintf(msg, sizeof(msg), "capture %s: %s%s%s is absent (expected a value)", k,
                         sel, claim ? " claim " : "", claim ? claim : "");
                ck_fail(c, step, AF_SEV_MUST, msg, spec, NULL);
            }
            continue;
        }
        if (prefix != NULL) {
            if (asprintf(&name, "%s.%s", prefix, k) < 0)
                name = NULL;
        } else {
            name = strdup(k);
        }
        if (name == NULL || af_scope_set(&c->sc, name, store) != AF_OK)
            ck_error(c, step, "out of memory");
        free(name);
        json_decref(store);
    }
}

/* ---- steps ---- */

static void run_steps(struct ck *c, const json_t *steps, const char *fixture, const char *prefix);
static void run_needs(struct ck *c, const json_t *needs, const char *prefix, int depth);

static af_severity ex_sev(struct ck *c, const json_t *ex)
{
    const char *s = json_string_value(json_object_get(ex, "severity"));
    if (s != NULL)
        return strcmp(s, "SHOULD") == 0 ? AF_SEV_SHOULD : AF_SEV_MUST;
    return c->sev;
}

static void run_step(struct ck *c, const json_t *step, size_t si, const char *fixture,
                     const char *prefix)
{
    char stepname[256];
    const char *nm = json_string_value(json_object_get(step, "name"));
    const char *spec = c->res->spec;
    json_t *saved = NULL, *v;
    struct af_buf why;
    struct req q;
    struct hops hs = {NULL, 0};
    struct af_err e;
    char *curi = NULL, *fail_msg = NULL;
    const char *sub_why = NULL;
    af_rc rc;
    size_t i;
    bool step_failed = false;

    af_buf_init(&why, 8192);
    req_init(&q);
    if (nm != NULL)
        snprintf(stepname, sizeof(stepname), "%s%s%s", fixture ? fixture : "", fixture ? "/" : "",
                 nm);
    else
        snprintf(stepname, sizeof(stepname), "%s%sstep %zu", fixture ? fixture : "",
                 fixture ? "/" : "", si + 1);
    af_err_clear(&e);
    rc = af_scope_bind_push(&c->sc, json_object_get(step, "bind"), &saved, &e);
    if (rc != AF_OK) {
        ck_var_problem(c, stepname, rc, &e);
        goto out;
    }
    if ((v = json_object_get(step, "if")) != NULL) {
        af_ex_result r = eval_conds(c, v, &why);
        if (r == AF_EX_ERROR) {
            ck_error(c, stepname, af_buf_str(&why));
            goto out;
        }
        if (r != AF_EX_PASS)
            goto out; /* this step does not apply; the check goes on */
    }
    if ((v = json_object_get(step, "when")) != NULL) {
        af_ex_result r = eval_conds(c, v, &why);
        if (r == AF_EX_ERROR) {
            ck_error(c, stepname, af_buf_str(&why));
            goto out;
        }
        if (r != AF_EX_PASS) {
            ck_skip(c, stepname, af_buf_str(&why));
            goto out;
        }
    }
    if ((v = json_object_get(step, "set")) != NULL && !do_set(c, v, stepname))
        goto out;
    {
        const char *flow = json_string_value(json_object_get(step, "flow"));
        if (flow == NULL)
            flow = "main";
        if (strcmp(flow, c->flow) != 0) {
            char *nf = strdup(flow);
            if (nf == NULL || af_http_use_flow(c->r->http, flow) != AF_OK) {
                free(nf);
                ck_error(c, stepname, "out of memory");
                goto out;
            }
            free(c->flow);
            c->flow = nf;
        }
    }
    if ((v = json_object_get(step, "use")) != NULL) {
        /* Another fixture's steps, here, in this flow: a sequence shared
         * by several checks that must run after their own first steps. */
        json_t *one = json_pack("[O]", v);
        if (one == NULL) {
            ck_error(c, stepname, "out of memory");
            goto out;
        }
        if (c->use_depth >= 16) {
            ck_error(c, stepname, "\"use\" nests more than 16 deep (a fixture uses itself?)");
        } else {
            c->use_depth++;
            run_needs(c, one, prefix, 0);
            c->use_depth--;
        }
        json_decref(one);
        goto out;
    }
    if ((v = json_object_get(step, "sleep")) != NULL) {
        double secs = json_number_value(v);
        if (json_is_string(v)) {
            char *s = NULL, *end;
            af_err_clear(&e);
            rc = af_tmpl_expand_str(&c->sc, json_string_value(v), &s, NULL, &e);
            if (rc != AF_OK) {
                ck_var_problem(c, stepname, rc, &e);
                free(s);
                goto out;
            }
            secs = s ? strtod(s, &end) : -1;
            if (s == NULL || *end != '\0' || secs < 0 || secs > 3600) {
                ck_error(c, stepname, "sleep: not a number of seconds in 0..3600");
                free(s);
                goto out;
            }
            free(s);
        }
        {
            struct timespec ts;
            ts.tv_sec = (time_t)secs;
            ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
                ;
        }
        goto out;
    }
    af_err_clear(&e);
    rc = build_request(c, json_object_get(step, "request"), &q, &sub_why, &e);
    if (rc == AF_ERR_NOTFOUND || rc == AF_ERR_INVALID || rc == AF_ERR_PARSE) {
        ck_var_problem(c, stepname, rc, &e);
        goto out;
    }
    if (rc != AF_OK) {
        ck_error(c, stepname, e.msg[0] ? e.msg : af_rc_str(rc));
        goto out;
    }
    if (sub_why != NULL) {
        char m[512];
        snprintf(m, sizeof(m), "submit: expected a form to submit, got none (%s)", sub_why);
        ck_fail(c, stepname, AF_SEV_MUST, m, spec, NULL);
        goto out;
    }
    curi = client_uri(c, &q);
    af_err_clear(&e);
    c->allow_unreachable = json_is_true(json_object_get(step, "allow_unreachable"));
    rc = do_requests(c, step, &q, curi, &hs, stepname, &fail_msg, &e);
    if (rc != AF_OK) {
        ck_var_problem(c, stepname, rc, &e);
        goto out;
    }
    if (fail_msg != NULL) {
        ck_fail(c, stepname, AF_SEV_MUST, fail_msg, spec, NULL);
        step_failed = true;
    }
    for (i = 0; i < hs.n && !step_failed; i++) {
        struct af_hop *h = &hs.v[i];
        char m[1024];
        if (h->transport_error != NULL && c->allow_unreachable && h->unreachable) {
            continue; /* judged by the expectations: status is 0 */
        } else if (h->transport_error != NULL) {
            snprintf(m, sizeof(m), "request: expected a response from %.200s, got %s", h->url,
                     h->transport_error);
            ck_fail(c, stepname, AF_SEV_MUST, m, spec, NULL);
            step_failed = true;
        } else if (h->status >= 500 && !json_is_true(json_object_get(step, "allow_5xx"))) {
            snprintf(m, sizeof(m), "status: expected no server error, got %ld from %.200s",
                     h->status, h->url);
            ck_fail(c, stepname, AF_SEV_MUST, m, spec, NULL);
            step_failed = true;
        }
    }
    if (!step_failed) {
        struct af_step_view sv;
        json_t *ex;
        sv.hops = hs.v;
        sv.nhops = hs.n;
        sv.http = c->r->http;
        sv.sc = &c->sc;
        sv.client_uri = curi;
        sv.jwks = &c->r->jwks;
        sv.show_secrets = c->r->o->show_secrets;
        c->r->jwks.sc = &c->sc;
        json_array_foreach(json_object_get(step, "expect"), i, ex)
        {
            af_ex_result r;
            af_severity sev = ex_sev(c, ex);
            const char *xs = json_string_value(json_object_get(ex, "spec"));
            af_buf_reset(&why);
            r = af_expect_eval(&sv, ex, &why);
            if (r == AF_EX_FAIL) {
                ck_fail(c, stepname, sev, af_buf_str(&why), xs ? xs : spec,
                        json_string_value(json_object_get(ex, "why")));
                if (sev == AF_SEV_MUST)
                    step_failed = true;
            } else if (r == AF_EX_SKIP) {
                ck_skip(c, stepname, af_buf_str(&why));
                break;
            } else if (r == AF_EX_ERROR) {
                ck_error(c, stepname, af_buf_str(&why));
                break;
            }
        }
        if (!step_failed && !c->stop && json_object_get(step, "capture") != NULL)
            do_captures(c, json_object_get(step, "capture"), &sv, prefix, stepname, spec);
        c->res->requests += c->r->jwks.requests;
        c->r->jwks.requests = 0;
    }
    if (hs.n > 0)
        prev_put(c, &hs.v[hs.n - 1]);
    if (step_failed)
        c->stop = true;
out:
    c->allow_unreachable = false;
    if (c->res->status == AF_CHECK_FAIL || c->res->status == AF_CHECK_ERROR)
        c->stop = true;
    hops_free(&hs);
    free(curi);
    free(fail_msg);
    req_free(&q);
    af_scope_bind_pop(&c->sc, saved);
    af_buf_free(&why);
}

static void run_steps(struct ck *c, const json_t *steps, const char *fixture, const char *prefix)
{
    size_t i;
    json_t *st;
    json_array_foreach(steps, i, st)
    {
        if (c->stop)
            return;
        run_step(c, st, i, fixture, prefix);
    }
}

static void run_needs(struct ck *c, const json_t *needs, const char *prefix, int depth)
{
    size_t i;
    json_t *m;
    if (depth > 16)
        return;
    json_array_foreach(needs, i, m)
    {
        const char *name = json_is_string(m) ? json_string_value(m)
                                             : json_string_value(json_object_get(m, "fixture"));
        const char *as = json_string_value(json_object_get(m, "as"));
        const json_t *fx = json_object_get(c->r->s->fixtures, name);
        json_t *s1 = NULL, *s2 = NULL, *set;
        const char *pfx = as ? as : prefix;
        struct af_err e;
        af_rc rc;
        if (c->stop)
            return;
        af_err_clear(&e);
        rc = af_scope_bind_push(&c->sc, json_object_get(m, "bind"), &s1, &e);
        if (rc == AF_OK)
            rc = af_scope_bind_push(&c->sc, json_object_get(fx, "bind"), &s2, &e);
        if (rc != AF_OK) {
            af_scope_bind_pop(&c->sc, s1);
            ck_var_problem(c, name, rc, &e);
            return;
        }
        if ((set = json_object_get(m, "set")) != NULL && !do_set(c, set, name))
            goto next;
        run_needs(c, json_object_get(fx, "needs"), pfx, depth + 1);
        if (c->stop)
            goto next;
        if ((set = json_object_get(fx, "set")) != NULL && !do_set(c, set, name))
            goto next;
        run_steps(c, json_object_get(fx, "steps"), name, pfx);
    next:
        af_scope_bind_pop(&c->sc, s2);
        af_scope_bind_pop(&c->sc, s1);
    }
}

/* ---- checks ---- */

/* profile_skip: the reason the target profile gives for skipping check,
 * matched like --skip (id, id prefix not followed by a digit, keyword). */
static const char *profile_skip(const struct run *r, const json_t *check)
{
    const json_t *skip = json_object_get(r->t->root, "skip");
    const char *id = json_string_value(json_object_get(check, "id"));
    const char *k;
    json_t *v, *kw;
    size_t j;
    json_object_foreach((json_t *)skip, k, v)
    {
        size_t n = strlen(k);
        bool hit = strcasecmp(id, k) == 0 ||
                   (n > 0 && strncasecmp(id, k, n) == 0 && !isdigit((unsigned char)id[n]));
        json_array_foreach(json_object_get(check, "keywords"), j, kw) hit =
            hit || strcasecmp(json_string_value(kw), k) == 0;
        if (hit)
            return json_string_value(v);
    }
    return NULL;
}

/* run_instance: the check once, in a fresh flow, with fe (foreach
 * bindings, may be NULL) and label (the element, may be NULL). */
static void run_instance(struct run *r, const json_t *chk, struct af_check_result *res,
                         const json_t *fe, const char *label)
{
    struct ck c;
    json_t *s0 = NULL, *s1 = NULL, *s2 = NULL, *v;
    struct af_buf why;
    struct af_err e;
    size_t i;
    af_rc rc;

    memset(&c, 0, sizeof(c));
    af_buf_init(&why, 8192);
    c.r = r;
    c.res = res;
    c.id = res->id;
    c.sev = res->severity;
    c.label = label;
    c.flow = strdup("main");
    if (c.flow == NULL || af_scope_init(&c.sc, r->root) != AF_OK) {
        ck_error(&c, NULL, "out of memory");
        goto out;
    }
    af_http_reset_flows(r->http);
    /* The suite's bindings, then the element's, then the check's own (which
     * may name the element: "target.principals.{{res.allow[0]}}"). */
    af_err_clear(&e);
    rc = af_scope_bind_push(&c.sc, r->s->bind, &s0, &e);
    if (rc == AF_OK)
        rc = af_scope_bind_push(&c.sc, fe, &s1, &e);
    if (rc == AF_OK)
        rc = af_scope_bind_push(&c.sc, json_object_get(chk, "bind"), &s2, &e);
    if (rc != AF_OK) {
        ck_var_problem(&c, NULL, rc, &e);
        goto out;
    }
    json_array_foreach(json_object_get(chk, "requires"), i, v)
    {
        json_t *val = NULL;
        bool lit;
        af_err_clear(&e);
        if (af_var_get(&c.sc, json_string_value(v), &val, &lit, &e) != AF_OK || json_is_null(val) ||
            (json_is_string(val) && json_string_length(val) == 0)) {
            char m[300];
            snprintf(m, sizeof(m), "requires %s, which is not defined", json_string_value(v));
            ck_skip(&c, NULL, m);
        }
        json_decref(val);
        if (c.stop)
            goto out;
    }
    if ((v = json_object_get(chk, "when")) != NULL) {
        af_ex_result er = eval_conds(&c, v, &why);
        if (er == AF_EX_ERROR) {
            ck_error(&c, NULL, af_buf_str(&why));
            goto out;
        }
        if (er != AF_EX_PASS) {
            ck_skip(&c, NULL, af_buf_str(&why));
            goto out;
        }
    }
    if ((v = json_object_get(chk, "set")) != NULL && !do_set(&c, v, "setup"))
        goto out;
    run_needs(&c, json_object_get(chk, "needs"), NULL, 0);
    run_steps(&c, json_object_get(chk, "steps"), NULL, NULL);
out:
    if (c.sev == AF_SEV_SHOULD && res->status == AF_CHECK_FAIL) {
        res->status = AF_CHECK_WARN;
        for (i = 0; i < res->nfails; i++)
            res->fails[i].severity = AF_SEV_SHOULD;
    }
    af_scope_bind_pop(&c.sc, s2);
    af_scope_bind_pop(&c.sc, s1);
    af_scope_bind_pop(&c.sc, s0);
    af_scope_clear(&c.sc);
    for (i = 0; i < c.nprev; i++) {
        free(c.prev[i].flow);
        af_hop_clear(&c.prev[i].hop);
    }
    free(c.prev);
    free(c.flow);
    af_buf_free(&why);
}

/* ---- foreach: one check over the elements of profile lists ---- */

struct fe_run {
    struct run *r;
    const json_t *chk;
    const json_t *loops; /* array of {"var", "in", "defaults"} */
    struct af_check_result *res;
    size_t ran;       /* elements run */
    size_t skipped;   /* of which skipped */
    bool have_result; /* an element ran without being skipped */
    char *skip_first; /* the first skip reason, for an all-skip check */
};

/* fe_merge: fold one element's result into the check's. The check fails
 * when any element fails and is skipped only when every element was; a
 * pass with some elements skipped (a resource without a scope for RS-10)
 * is a pass. */
static void fe_merge(struct fe_run *fr, struct af_check_result *one)
{
    struct af_check_result *res = fr->res;
    size_t i;
    fr->ran++;
    res->requests += one->requests;
    if (one->status == AF_CHECK_SKIP) {
        fr->skipped++;
        if (fr->skip_first == NULL && one->message != NULL)
            fr->skip_first = strdup(one->message);
        return;
    }
    if (one->nfails > 0) {
        struct af_check_failure *nf =
            realloc(res->fails, (res->nfails + one->nfails) * sizeof(*nf));
        if (nf != NULL) {
            res->fails = nf;
            for (i = 0; i < one->nfails; i++) {
                nf[res->nfails++] = one->fails[i];
                one->fails[i].step = NULL;
                one->fails[i].line = NULL;
            }
        }
    }
    /* The first element that ran sets the result; a worse one replaces it,
     * with its headline. */
    if (!fr->have_result || status_rank(one->status) > status_rank(res->status)) {
        res->status = one->status;
        free(res->message);
        res->message = one->message;
        one->message = NULL;
    }
    fr->have_result = true;
}

static void result_clear_fails(struct af_check_result *one)
{
    size_t i;
    for (i = 0; i < one->nfails; i++) {
        free(one->fails[i].step);
        free(one->fails[i].line);
    }
    free(one->fails);
    free(one->message);
}

/* fe_label_part: how an element is named in messages: its "name", the
 * string itself, or VAR[i]. */
static char *fe_label_part(const json_t *el, const char *var, size_t i)
{
    char *out = NULL;
    const char *n =
        json_is_string(el) ? json_string_value(el) : json_string_value(json_object_get(el, "name"));
    if (n != NULL && strstr(n, "{{") == NULL)
        return strndup(n, 80);
    if (asprintf(&out, "%s[%zu]", var, i) < 0)
        return NULL;
    return out;
}

static void fe_level(struct fe_run *fr, size_t level, json_t *binds, const char *label)
{
    const json_t *loop = json_array_get(fr->loops, level);
    const char *var = json_string_value(json_object_get(loop, "var"));
    const char *in = json_string_value(json_object_get(loop, "in"));
    const json_t *defs = json_object_get(loop, "defaults");
    struct af_scope sc;
    json_t *list = NULL, *s0 = NULL, *s1 = NULL;
    struct af_err e;
    bool lit;
    size_t i;

    if (level == json_array_size(fr->loops)) {
        struct af_check_result one;
        memset(&one, 0, sizeof(one));
        one.id = fr->res->id;
        one.title = fr->res->title;
        one.spec = fr->res->spec;
        one.severity = fr->res->severity;
        run_instance(fr->r, fr->chk, &one, binds, label);
        fe_merge(fr, &one);
        result_clear_fails(&one);
        return;
    }
    if (af_scope_init(&sc, fr->r->root) != AF_OK)
        return;
    af_err_clear(&e);
    if (af_scope_bind_push(&sc, fr->r->s->bind, &s0, &e) == AF_OK &&
        af_scope_bind_push(&sc, binds, &s1, &e) == AF_OK &&
        af_var_get(&sc, in, &list, &lit, &e) != AF_OK) {
        json_decref(list);
        list = NULL; /* undefined: nothing to run over (reported below) */
    }
    if ((!json_is_array(list) || json_array_size(list) == 0) && fr->skip_first == NULL) {
        struct af_buf m;
        af_buf_init(&m, 1024);
        if (label != NULL)
            af_msg_addf(&m, "%s [%s] skipped: %s is not a list with elements", fr->res->id, label,
                        in);
        else
            af_msg_addf(&m, "%s skipped: %s is not a list with elements", fr->res->id, in);
        fr->skip_first = af_buf_detach(&m);
        af_buf_free(&m);
    }
    for (i = 0; i < json_array_size(list); i++) {
        json_t *nb = binds ? json_copy(binds) : json_object();
        json_t *spec = json_object();
        char *part = fe_label_part(json_array_get(list, i), var, i);
        struct af_buf path, lab;
        af_buf_init(&path, AF_PROBE_MAX_VALUE);
        af_buf_init(&lab, 1024);
        /* the element as a binding to its path: "target.resources[2]" */
        if (nb != NULL && spec != NULL && part != NULL &&
            af_buf_addf(&path, "%s[%zu]", in, i) == AF_OK &&
            af_buf_addf(&lab, "%s%s%s", label ? label : "", label ? ", " : "", part) == AF_OK &&
            json_object_set_new(spec, "path", json_string(af_buf_str(&path))) == 0 &&
            (defs == NULL || json_object_set(spec, "defaults", (json_t *)defs) == 0) &&
            json_object_set(nb, var, spec) == 0)
            fe_level(fr, level + 1, nb, af_buf_str(&lab));
        free(part);
        af_buf_free(&path);
        af_buf_free(&lab);
        json_decref(spec);
        json_decref(nb);
    }
    json_decref(list);
    af_scope_bind_pop(&sc, s1);
    af_scope_bind_pop(&sc, s0);
    af_scope_clear(&sc);
}

static void run_check(struct run *r, size_t idx, struct af_check_result *res)
{
    const json_t *chk = json_array_get(r->s->checks, idx);
    const json_t *fe = json_object_get(chk, "foreach");
    uint64_t t0 = af_monotonic_ms();
    const char *reason = profile_skip(r, chk);

    if (reason != NULL) {
        char m[600];
        snprintf(m, sizeof(m), "%s skipped: the target profile skips it: %s", res->id, reason);
        res->status = AF_CHECK_SKIP;
        res->message = strdup(m);
    } else if (fe == NULL) {
        run_instance(r, chk, res, NULL, NULL);
    } else {
        struct fe_run fr;
        json_t *loops = json_is_array(fe) ? json_incref((json_t *)fe) : json_pack("[O]", fe);
        memset(&fr, 0, sizeof(fr));
        fr.r = r;
        fr.chk = chk;
        fr.loops = loops;
        fr.res = res;
        if (loops != NULL)
            fe_level(&fr, 0, NULL, NULL);
        if (!fr.have_result) {
            res->status = AF_CHECK_SKIP;
            free(res->message);
            res->message = fr.skip_first;
            fr.skip_first = NULL;
            if (res->message == NULL)
                res->message = strdup("skipped: nothing to run it on");
        }
        free(fr.skip_first);
        json_decref(loops);
    }
    res->ms = af_monotonic_ms() - t0;
}

/* ---- discovery ---- */

static af_rc fetch_json(struct run *r, const char *url, json_t **out, char **why)
{
    struct af_http_req hr;
    struct af_hop hop;
    af_rc rc;
    *out = NULL;
    *why = NULL;
    memset(&hr, 0, sizeof(hr));
    af_params_init(&hr.headers, 4);
    af_hop_init(&hop);
    hr.method = "GET";
    hr.url = url;
    rc = af_params_add(&hr.headers, AF_HDR_ACCEPT, AF_CT_JSON);
    if (rc == AF_OK)
        rc = af_http_send(r->http, &hr, &hop);
    if (rc != AF_OK)
        goto out;
    if (r->o->trace != NULL)
        af_trace_hop(r->o->trace, "discovery", "metadata", 1, &hop, r->o->show_secrets);
    if (hop.status == 0) {
        rc = hop.unreachable ? AF_ERR_NET : AF_ERR_IO;
        *why = strdup(hop.transport_error ? hop.transport_error : "no response");
        goto out;
    }
    if (hop.status != 200 || !json_is_object(af_hop_json(&hop))) {
        rc = AF_ERR_INVALID;
        if (asprintf(why, "answered %ld%s", hop.status,
                     hop.status == 200 ? " without a JSON object" : "") < 0)
            *why = NULL;
        goto out;
    }
    *out = json_incref(hop.json);
out:
    af_hop_clear(&hop);
    af_params_free(&hr.headers);
    return rc;
}

static af_rc discover(struct run *r, const char *issuer, json_t *meta, struct af_err *err)
{
    const json_t *disc = json_object_get(r->t->root, "discovery");
    json_t *doc = NULL;
    char *u1 = NULL, *u2 = NULL, *why = NULL, *why2 = NULL;
    af_rc rc = AF_OK;
    bool have_overlay = json_object_size(json_object_get(r->t->root, "metadata")) > 0;

    if (json_is_false(disc))
        return AF_OK;
    if (json_is_string(disc)) {
        struct af_scope sc;
        struct af_err e;
        af_err_clear(&e);
        if (af_scope_init(&sc, r->root) != AF_OK)
            return AF_ERR_NOMEM;
        rc = af_tmpl_expand_str(&sc, json_string_value(disc), &u1, NULL, &e);
        af_scope_clear(&sc);
        if (rc != AF_OK || u1 == NULL) {
            free(u1);
            return AF_ERR_SET(err, AF_ERR_INVALID, "%s: discovery: %s", r->t->name, e.msg);
        }
        rc = fetch_json(r, u1, &doc, &why);
    } else {
        const char *path = strstr(issuer, "://");
        size_t origin = path ? (size_t)(strchr(path + 3, '/') ? strchr(path + 3, '/') - issuer
                                                              : (long)strlen(issuer))
                             : strlen(issuer);
        const char *ipath = issuer + origin;
        size_t plen = strlen(ipath);
        while (plen > 0 && ipath[plen - 1] == '/')
            plen--;
        if (asprintf(&u1, "%.*s%.*s%s", (int)origin, issuer, (int)plen, ipath,
                     AF_PATH_OIDC_DISCOVERY) < 0 ||
            asprintf(&u2, "%.*s%s%.*s", (int)origin, issuer, AF_PATH_AS_METADATA, (int)plen,
                     ipath) < 0)
            return AF_ERR_NOMEM;
        rc = fetch_json(r, u1, &doc, &why);
        if (rc == AF_ERR_INVALID) {
            /* RFC 8414 §3: the path is inserted after the host. */
            rc = fetch_json(r, u2, &doc, &why2);
            if (rc == AF_OK) {
                free(u1);
                u1 = u2;
                u2 = NULL;
            }
        }
    }
    if (rc == AF_ERR_NOMEM)
        goto out;
    if (rc == AF_ERR_NET || rc == AF_ERR_IO) {
        rc = AF_ERR_SET(err, AF_ERR_NET, "cannot reach %s: %s", u1, why ? why : "?");
        goto out;
    }
    if (rc != AF_OK) {
        if (have_overlay) {
            rc = AF_OK; /* the profile's metadata stands in */
            goto out;
        }
        if (u2 != NULL)
            rc = AF_ERR_SET(err, AF_ERR_NET, "discovery failed: %s %s; %s %s", u1, why ? why : "",
                            u2, why2 ? why2 : "");
        else
            rc = AF_ERR_SET(err, AF_ERR_NET, "discovery failed: %s %s", u1, why ? why : "");
        goto out;
    }
    if (json_object_update(meta, doc) != 0)
        rc = AF_ERR_NOMEM;
out:
    json_decref(doc);
    free(u1);
    free(u2);
    free(why);
    free(why2);
    return rc;
}

/* admin_overlay: target.admin.url from --admin, else $AUTHFLOW_ADMIN_URL,
 * else the profile; target.admin.secret from $AUTHFLOW_ADMIN_SECRET, else
 * the profile. Either stays undefined when nothing gives it, and the checks
 * that talk to the admin API are then skipped. */
static af_rc admin_overlay(struct run *r, json_t *target, struct af_err *err)
{
    const char *url = r->o->admin_url, *secret = getenv(AF_ADMIN_ENV_SECRET);
    json_t *admin = json_object_get(target, "admin");
    if (url == NULL || *url == '\0')
        url = getenv(AF_ADMIN_ENV_URL);
    if ((url == NULL || *url == '\0') && (secret == NULL || *secret == '\0'))
        return AF_OK;
    if (admin == NULL) {
        if (json_object_set_new(target, "admin", json_object()) != 0)
            return AF_ERR_NOMEM;
        admin = json_object_get(target, "admin");
    }
    if (url != NULL && *url != '\0') {
        json_t *u = json_string(url);
        if (u == NULL)
            return AF_ERR_SET(err, AF_ERR_INVALID, "the admin URL is not UTF-8");
        json_object_set_new(admin, "url", u);
    }
    if (secret != NULL && *secret != '\0') {
        json_t *sj = json_string(secret);
        if (sj == NULL)
            return AF_ERR_SET(err, AF_ERR_INVALID, "%s is not UTF-8", AF_ADMIN_ENV_SECRET);
        json_object_set_new(admin, "secret", sj);
    }
    return AF_OK;
}

/* build_root: {"target": profile (issuer overridden), "vars": suite vars <
 * profile vars < --var, "meta": discovery < profile metadata (expanded)}. */
static af_rc build_root(struct run *r, struct af_err *err)
{
    json_t *target = json_deep_copy(r->t->root);
    json_t *vars = json_deep_copy(r->s->vars);
    json_t *meta = json_object();
    const json_t *pv = json_object_get(r->t->root, "vars");
    af_rc rc = AF_OK;
    size_t i;

    r->root = json_object();
    if (!target || !vars || !meta || !r->root) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    if (r->o->issuer != NULL)
        json_object_set_new(target, "issuer", json_string(r->o->issuer));
    rc = admin_overlay(r, target, err);
    if (rc != AF_OK)
        goto out;
    if (pv != NULL)
        json_object_update(vars, (json_t *)pv);
    for (i = 0; r->o->vars != NULL && i < r->o->vars->n; i++) {
        json_t *s = json_string(r->o->vars->v[i].value);
        if (s == NULL) {
            rc = AF_ERR_SET(err, AF_ERR_INVALID, "--var %s: the value is not UTF-8",
                            r->o->vars->v[i].name);
            goto out;
        }
        json_object_set_new(vars, r->o->vars->v[i].name, s);
    }
    json_object_set(r->root, "target", target);
    json_object_set(r->root, "vars", vars);
    json_object_set(r->root, "meta", meta);
out:
    json_decref(target);
    json_decref(vars);
    json_decref(meta);
    return rc;
}

static af_rc prepare(struct run *r, struct af_err *err)
{
    struct af_scope sc;
    struct af_err e;
    char *issuer = NULL;
    json_t *meta, *overlay = NULL;
    af_rc rc;

    rc = build_root(r, err);
    if (rc != AF_OK)
        return rc;
    if (af_scope_init(&sc, r->root) != AF_OK)
        return AF_ERR_NOMEM;
    af_err_clear(&e);
    rc = af_tmpl_expand_str(&sc, "{{target.issuer}}", &issuer, NULL, &e);
    if (rc != AF_OK || issuer == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "%s: issuer: %s", r->t->name, e.msg);
        goto out;
    }
    free(r->res->issuer);
    r->res->issuer = strdup(issuer);
    meta = json_object_get(r->root, "meta");
    rc = discover(r, issuer, meta, err);
    if (rc != AF_OK)
        goto out;
    if (json_object_get(r->t->root, "metadata") != NULL) {
        rc = af_tmpl_expand_json(&sc, json_object_get(r->t->root, "metadata"), &overlay, &e);
        if (rc != AF_OK) {
            rc = AF_ERR_SET(err, AF_ERR_INVALID, "%s: metadata: %s", r->t->name, e.msg);
            goto out;
        }
        json_object_update(meta, overlay);
    }
out:
    json_decref(overlay);
    free(issuer);
    af_scope_clear(&sc);
    return rc;
}

af_rc af_target_expand(const struct af_target *t, const struct af_params *vars, const char *tmpl,
                       char **out, struct af_err *err)
{
    json_t *root = json_object(), *vj = json_object();
    const json_t *pv = json_object_get(t->root, "vars");
    struct af_scope sc;
    bool om = false;
    size_t i;
    af_rc rc = AF_OK;

    *out = NULL;
    if (root == NULL || vj == NULL) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    if (pv != NULL)
        json_object_update(vj, (json_t *)pv);
    for (i = 0; vars != NULL && i < vars->n; i++) {
        json_t *sv = json_string(vars->v[i].value);
        if (sv == NULL) {
            rc = AF_ERR_SET(err, AF_ERR_INVALID, "--var %s: the value is not UTF-8",
                            vars->v[i].name);
            goto out;
        }
        json_object_set_new(vj, vars->v[i].name, sv);
    }
    if (json_object_set(root, "target", t->root) != 0 || json_object_set(root, "vars", vj) != 0) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    rc = af_scope_init(&sc, root);
    if (rc != AF_OK)
        goto out;
    rc = af_tmpl_expand_str(&sc, tmpl, out, &om, err);
    af_scope_clear(&sc);
out:
    json_decref(vj);
    json_decref(root);
    return rc;
}

/* ---- entry points ---- */

static af_rc results_new(const struct af_suite *s, const struct af_target *t,
                         struct af_results **out)
{
    struct af_results *res = calloc(1, sizeof(*res));
    const char *tn = json_string_value(json_object_get(t->root, "name"));
    size_t i, n = af_suite_count(s);
    *out = NULL;
    if (res == NULL)
        return AF_ERR_NOMEM;
    res->suite = strdup(af_suite_name(s));
    res->title = strdup(af_suite_title(s));
    res->target = strdup(tn ? tn : t->name);
    res->issuer = strdup("");
    res->v = calloc(n ? n : 1, sizeof(*res->v));
    res->n = n;
    if (!res->suite || !res->title || !res->target || !res->issuer || !res->v) {
        af_results_free(res);
        return AF_ERR_NOMEM;
    }
    for (i = 0; i < n; i++) {
        struct af_check_info ci;
        af_suite_check(s, i, &ci);
        res->v[i].id = strdup(ci.id);
        res->v[i].title = strdup(ci.title);
        res->v[i].spec = strdup(ci.spec);
        res->v[i].severity = ci.severity;
        if (!res->v[i].id || !res->v[i].title || !res->v[i].spec) {
            af_results_free(res);
            return AF_ERR_NOMEM;
        }
    }
    *out = res;
    return AF_OK;
}

af_rc af_probe_run(const struct af_suite *s, const struct af_target *t,
                   const struct af_probe_opts *opts, struct af_results **out, struct af_err *err)
{
    struct run r;
    struct af_http_opts ho;
    const json_t *tls = json_object_get(t->root, "tls");
    const json_t *login = json_object_get(t->root, "login");
    char *cacert = NULL;
    uint64_t t0 = af_monotonic_ms();
    size_t i, total = 0, done = 0;
    af_rc rc;

    *out = NULL;
    memset(&r, 0, sizeof(r));
    r.s = s;
    r.t = t;
    r.o = opts;
    r.max_hops = json_object_get(login, "max_hops")
                     ? (long)json_integer_value(json_object_get(login, "max_hops"))
                     : 10;
    rc = results_new(s, t, &r.res);
    if (rc != AF_OK)
        goto out;
    r.res->started = time(NULL);

    memset(&ho, 0, sizeof(ho));
    ho.timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms
                    : json_object_get(t->root, "timeout_ms")
                        ? (long)json_integer_value(json_object_get(t->root, "timeout_ms"))
                        : AF_PROBE_TIMEOUT_DEFAULT;
    ho.max_body = json_object_get(t->root, "max_body")
                      ? (size_t)json_integer_value(json_object_get(t->root, "max_body"))
                      : AF_PROBE_MAX_BODY_DEFAULT;
    ho.insecure = opts->insecure || json_is_true(json_object_get(tls, "insecure"));
    if (opts->cacert != NULL) {
        cacert = strdup(opts->cacert);
    } else if (json_is_string(json_object_get(tls, "cacert"))) {
        const char *c = json_string_value(json_object_get(tls, "cacert"));
        if (c[0] == '/') {
            cacert = strdup(c);
        } else if (asprintf(&cacert, "%s/%s", t->dir, c) < 0) {
            cacert = NULL;
        }
        if (cacert == NULL) {
            rc = AF_ERR_NOMEM;
            goto out;
        }
    }
    if (cacert != NULL) {
        FILE *f = fopen(cacert, "r");
        if (f == NULL) {
            rc = AF_ERR_SET(err, AF_ERR_INVALID, "cannot read the CA file %s: %m", cacert);
            goto out;
        }
        fclose(f);
    }
    ho.cacert = cacert;
    rc = af_http_new(&ho, &r.http, err);
    if (rc != AF_OK)
        goto out;
    if (opts->trace != NULL)
        af_http_set_trace(r.http, true);
    r.jwks.http = r.http;

    rc = prepare(&r, err);
    if (rc != AF_OK)
        goto out;

    for (i = 0; i < r.res->n; i++)
        if (af_suite_selected(s, i, &opts->filter))
            total++;
    for (i = 0; i < r.res->n; i++) {
        struct af_check_result *res = &r.res->v[i];
        res->selected = af_suite_selected(s, i, &opts->filter);
        if (!res->selected) {
            res->status = AF_CHECK_SKIP;
            res->message = strdup("not selected (--only/--skip)");
            continue;
        }
        if (opts->on_start != NULL)
            opts->on_start(opts->ud, done, total, res);
        run_check(&r, i, res);
        done++;
        if (opts->on_done != NULL)
            opts->on_done(opts->ud, done, total, res);
    }
    for (i = 0; i < r.res->n; i++)
        r.res->count[r.res->v[i].status]++;
    r.res->ms = af_monotonic_ms() - t0;
    *out = r.res;
    r.res = NULL;
out:
    af_jwks_cache_clear(&r.jwks);
    af_http_free(r.http);
    json_decref(r.root);
    af_results_free(r.res);
    free(cacert);
    return rc;
}

int af_results_exit_code(const struct af_results *r)
{
    size_t i;
    if (r->unreachable)
        return AF_PROBE_EXIT_UNREACHABLE;
    for (i = 0; i < r->n; i++)
        if (r->v[i].status == AF_CHECK_FAIL || r->v[i].status == AF_CHECK_ERROR)
            return AF_PROBE_EXIT_FAILED;
    return AF_PROBE_EXIT_OK;
}

void af_results_free(struct af_results *r)
{
    size_t i, j;
    if (r == NULL)
        return;
    for (i = 0; i < r->n && r->v != NULL; i++) {
        struct af_check_result *c = &r->v[i];
        free(c->id);
        free(c->title);
        free(c->spec);
        free(c->message);
        for (j = 0; j < c->nfails; j++) {
            free(c->fails[j].step);
            free(c->fails[j].line);
        }
        free(c->fails);
    }
    free(r->v);
    free(r->suite);
    free(r->title);
    free(r->target);
    free(r->issuer);
    free(r->unreachable_at);
    free(r->unreachable_why);
    free(r);
}

const char *af_check_status_name(af_check_status st)
{
    static const char *const names[] = {"pass", "warn", "fail", "skip", "error"};
    return (unsigned)st < AF_CHECK_NSTATUS ? names[st] : "?";
}

const char *af_severity_name(af_severity sev)
{
    return sev == AF_SEV_SHOULD ? "SHOULD" : "MUST";
}
