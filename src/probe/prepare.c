/*
 * prepare.c - what a run knows before its first check: the variables'
 * root (profile, suite and --var variables, the admin API overlay) and
 * the target's metadata from discovery (docs/suite-format.md §3).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authflow/proto.h"
#include "probe/jsonutil.h"
#include "probe/prepare.h"

/* ---- the target's keys ---- */

void af_run_jwks_clear(struct af_run *r)
{
    struct af_run_jwks *c = &r->jwks;
    json_decref(c->jwks);
    free(c->error);
    c->jwks = NULL;
    c->error = NULL;
    c->fetched = false;
}

const json_t *af_run_jwks(void *ud, struct af_buf *msg)
{
    struct af_ck *ck = ud;
    struct af_run_jwks *c = &ck->r->jwks;
    json_t *uri = NULL;
    bool lit;
    struct af_err e;
    struct af_hop hop;
    struct af_http_req req;

    if (c->fetched) {
        if (c->jwks == NULL)
            af_msg_add(msg, c->error ? c->error : "no JWKS");
        return c->jwks;
    }
    c->fetched = true;
    af_err_clear(&e);
    af_hop_init(&hop);
    memset(&req, 0, sizeof(req));
    af_params_init(&req.headers, 4);
    if (af_var_get(&ck->sc, "meta." AF_MD_JWKS_URI, &uri, &lit, &e) != AF_OK ||
        !json_is_string(uri)) {
        c->error = strdup("the target has no jwks_uri");
        goto out;
    }
    req.method = "GET";
    req.url = json_string_value(uri);
    if (af_params_add(&req.headers, AF_HDR_ACCEPT, AF_CT_JSON) != AF_OK ||
        af_http_send(ck->r->http, &req, &hop) != AF_OK) {
        c->error = strdup("cannot fetch the JWKS: out of memory");
        goto out;
    }
    ck->res->requests++;
    if (hop.status != 200) {
        if (asprintf(&c->error, "the JWKS at %s answered %s%ld%s", req.url,
                     hop.transport_error ? "" : "status ", hop.status,
                     hop.transport_error ? hop.transport_error : "") < 0)
            c->error = NULL;
        goto out;
    }
    c->jwks = json_incref((json_t *)af_hop_json(&hop));
    if (!json_is_array(json_object_get(c->jwks, AF_JWKS_KEYS))) {
        json_decref(c->jwks);
        c->jwks = NULL;
        if (asprintf(&c->error, "the JWKS at %s is not {\"keys\": [...]}", req.url) < 0)
            c->error = NULL;
    }
out:
    json_decref(uri);
    af_hop_clear(&hop);
    af_params_free(&req.headers);
    if (c->jwks == NULL)
        af_msg_add(msg, c->error ? c->error : "no JWKS");
    return c->jwks;
}

/* ---- discovery ---- */

/* fetch_json: GET url (with a Bearer secret when given; what names it in
 * the trace) for a JSON
 * object. AF_ERR_NET / AF_ERR_IO with no answer, AF_ERR_INVALID for an
 * answer that is not 200 with an object (*status says which); *why is the
 * reason (caller frees). */
static af_rc fetch_json(struct af_run *r, const char *what, const char *url, const char *bearer,
                        json_t **out, long *status, char **why)
{
    struct af_http_req hr;
    struct af_hop hop;
    char *auth = NULL;
    af_rc rc;
    *out = NULL;
    *why = NULL;
    *status = 0;
    memset(&hr, 0, sizeof(hr));
    af_params_init(&hr.headers, 4);
    af_hop_init(&hop);
    hr.method = "GET";
    hr.url = url;
    rc = af_params_add(&hr.headers, AF_HDR_ACCEPT, AF_CT_JSON);
    if (rc == AF_OK && bearer != NULL) {
        rc = asprintf(&auth, AF_SCHEME_BEARER " %s", bearer) < 0
                 ? AF_ERR_NOMEM
                 : af_params_add(&hr.headers, AF_HDR_AUTHORIZATION, auth);
    }
    if (rc == AF_OK)
        rc = af_http_send(r->http, &hr, &hop);
    if (rc != AF_OK)
        goto out;
    if (r->o->trace != NULL)
        af_trace_hop(r->o->trace, "prepare", what, 1, &hop, r->o->show_secrets);
    *status = hop.status;
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
    free(auth);
    af_hop_clear(&hop);
    af_params_free(&hr.headers);
    return rc;
}

static af_rc discover(struct af_run *r, const char *issuer, json_t *meta, struct af_err *err)
{
    const json_t *disc = json_object_get(r->t->root, "discovery");
    json_t *doc = NULL;
    char *u1 = NULL, *u2 = NULL, *why = NULL, *why2 = NULL;
    long status;
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
        rc = fetch_json(r, "metadata", u1, NULL, &doc, &status, &why);
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
        rc = fetch_json(r, "metadata", u1, NULL, &doc, &status, &why);
        if (rc == AF_ERR_INVALID) {
            /* RFC 8414 §3: the path is inserted after the host. */
            rc = fetch_json(r, "metadata", u2, NULL, &doc, &status, &why2);
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
 * that talk to the admin API are then skipped. Records where the URL came
 * from in the run header. */
static af_rc admin_overlay(struct af_run *r, json_t *target, struct af_err *err)
{
    const char *url = r->o->admin_url, *secret = getenv(AF_ADMIN_ENV_SECRET);
    const char *from = r->o->admin_from ? r->o->admin_from : "--admin";
    json_t *admin = json_object_get(target, "admin");
    if (url == NULL || *url == '\0') {
        url = getenv(AF_ADMIN_ENV_URL);
        from = "$" AF_ADMIN_ENV_URL;
    }
    if (url == NULL || *url == '\0')
        from = "profile";
    r->res->admin_from = strdup(from);
    if (r->res->admin_from == NULL)
        return AF_ERR_NOMEM;
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

/* run_vars: the variables of a run, merged key by key: the suite's vars
 * (NULL: none) < the profile's vars < each --var NAME=VALUE, where NAME may
 * be dotted (resource.deny_status). New reference in *out. */
static af_rc run_vars(const json_t *suite_vars, const struct af_target *t,
                      const struct af_params *cli, json_t **out, struct af_err *err)
{
    const json_t *pv = json_object_get(t->root, "vars");
    json_t *vars = suite_vars ? json_deep_copy(suite_vars) : json_object();
    struct af_err e;
    af_rc rc = AF_OK;
    size_t i;

    if (vars == NULL)
        return AF_ERR_NOMEM;
    af_err_clear(&e);
    if (pv != NULL) {
        rc = af_json_merge(vars, pv, "vars", &e);
        if (rc == AF_ERR_INVALID)
            rc = AF_ERR_SET(err, AF_ERR_INVALID, "%s: %s", t->name, e.msg);
    }
    for (i = 0; rc == AF_OK && cli != NULL && i < cli->n; i++) {
        json_t *s = json_string(cli->v[i].value);
        if (s == NULL) {
            rc =
                AF_ERR_SET(err, AF_ERR_INVALID, "--var %s: the value is not UTF-8", cli->v[i].name);
            break;
        }
        rc = af_json_set_path(vars, cli->v[i].name, s, "vars", &e);
        if (rc == AF_ERR_INVALID)
            rc = AF_ERR_SET(err, AF_ERR_INVALID, "--var %s: %s", cli->v[i].name, e.msg);
    }
    if (rc != AF_OK) {
        json_decref(vars);
        return rc;
    }
    *out = vars;
    return AF_OK;
}

/* build_root: {"target": profile (issuer overridden), "vars": run_vars,
 * "meta": discovery < profile metadata (expanded)}. */
static af_rc build_root(struct af_run *r, struct af_err *err)
{
    json_t *target = json_deep_copy(r->t->root);
    json_t *vars = NULL;
    json_t *meta = json_object();
    af_rc rc = AF_OK;

    r->root = json_object();
    if (!target || !meta || !r->root) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    if (r->o->issuer != NULL)
        json_object_set_new(target, "issuer", json_string(r->o->issuer));
    rc = admin_overlay(r, target, err);
    if (rc == AF_OK)
        rc = run_vars(r->s->vars, r->t, r->o->vars, &vars, err);
    if (rc != AF_OK)
        goto out;
    json_object_set(r->root, "target", target);
    json_object_set(r->root, "vars", vars);
    json_object_set(r->root, "meta", meta);
out:
    json_decref(target);
    json_decref(vars);
    json_decref(meta);
    return rc;
}

/* uses_admin: the suite has a request to the admin API somewhere (a
 * member "admin" naming a path), so the run needs the right one. */
static bool uses_admin(const json_t *v, int depth)
{
    const char *key;
    json_t *m;
    size_t i;
    if (depth > 64)
        return false;
    if (json_is_array(v)) {
        json_array_foreach(v, i, m) if (uses_admin(m, depth + 1)) return true;
    } else if (json_is_object(v)) {
        if (json_is_string(json_object_get(v, "admin")))
            return true;
        json_object_foreach((json_t *)v, key, m) if (uses_admin(m, depth + 1)) return true;
    }
    return false;
}

/* same_issuer: equal but for a trailing slash. */
static bool same_issuer(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    while (la > 0 && a[la - 1] == '/')
        la--;
    while (lb > 0 && b[lb - 1] == '/')
        lb--;
    return la == lb && strncmp(a, b, la) == 0;
}

/* admin_check: when the suite talks to authflowd's admin API, ask it which
 * provider it belongs to (GET /admin/healthz) before the first check, so
 * that a stale $AUTHFLOW_ADMIN_URL cannot send scenarios and minted tokens
 * to another authflowd and turn its answers into false verdicts. Fills the
 * run header's admin_url and admin_issuer. Unreachable: AF_ERR_NET (exit
 * 3); another provider, a refused secret or no authflowd answer:
 * AF_ERR_INVALID (exit 2), each naming the URL and where it came from. */
static af_rc admin_check(struct af_run *r, struct af_scope *sc, const char *issuer,
                         struct af_err *err)
{
    char *base = NULL, *secret = NULL, *url = NULL, *why = NULL;
    const char *from = r->res->admin_from ? r->res->admin_from : "profile";
    const char *got;
    json_t *doc = NULL;
    struct af_err e;
    bool om = false;
    long status = 0;
    af_rc rc;

    af_err_clear(&e);
    rc = af_tmpl_expand_str(sc, "{{?target.admin.url}}", &base, &om, &e);
    if (rc != AF_OK) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "%s: admin.url: %s", r->t->name, e.msg);
        goto out;
    }
    if (base == NULL || !uses_admin(r->s->root, 0))
        goto out; /* no admin API, or none needed: the checks say so if they need one */
    while (*base && base[strlen(base) - 1] == '/')
        base[strlen(base) - 1] = '\0';
    r->res->admin_url = strdup(base);
    rc = af_tmpl_expand_str(sc, "{{?target.admin.secret}}", &secret, &om, &e);
    if (rc != AF_OK) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "%s: admin.secret: %s", r->t->name, e.msg);
        goto out;
    }
    if (r->res->admin_url == NULL || asprintf(&url, "%s%s", base, AF_ADMIN_PATH_HEALTHZ) < 0) {
        url = NULL;
        rc = AF_ERR_NOMEM;
        goto out;
    }
    rc = fetch_json(r, "admin healthz", url, secret, &doc, &status, &why);
    if (rc == AF_ERR_NET || rc == AF_ERR_IO) {
        rc = AF_ERR_SET(err, AF_ERR_NET, "the admin API at %s (from %s) cannot be reached: %s",
                        base, from, why ? why : "no response");
        goto out;
    }
    if (rc != AF_OK && (status == 401 || status == 403)) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID,
                        "the admin API at %s (from %s) refused %s (status %ld): set $%s or the "
                        "profile's admin.secret to the secret of its admin_secret",
                        base, from, secret ? "the admin secret" : "a request without a secret",
                        status, AF_ADMIN_ENV_SECRET);
        goto out;
    }
    got = json_string_value(json_object_get(doc, AF_ADMIN_HEALTHZ_ISSUER));
    if (rc != AF_OK || got == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID,
                        "the admin API at %s (from %s) does not answer GET %s as authflowd's "
                        "does (%s): is it an authflowd admin listener?",
                        base, from, AF_ADMIN_PATH_HEALTHZ,
                        why ? why : "no \"" AF_ADMIN_HEALTHZ_ISSUER "\" in its answer");
        goto out;
    }
    r->res->admin_issuer = strdup(got);
    if (r->res->admin_issuer == NULL) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    if (!same_issuer(got, issuer)) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID,
                        "the admin API at %s (from %s) belongs to the provider %s, but this run "
                        "probes %s (from %s): its scenarios and tokens would go to another "
                        "authflowd. Point --admin, $%s or the profile's admin.url at the admin "
                        "API of %s",
                        base, from, got, issuer, r->res->issuer_from, AF_ADMIN_ENV_URL, issuer);
        goto out;
    }
    rc = AF_OK;
out:
    json_decref(doc);
    free(base);
    free(secret);
    free(url);
    free(why);
    return rc;
}

af_rc af_run_prepare(struct af_run *r, struct af_err *err)
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
    r->res->issuer_from = strdup(r->o->issuer == NULL ? "profile"
                                 : r->o->issuer_from  ? r->o->issuer_from
                                                      : "--issuer");
    r->res->profile = r->o->profile_path ? strdup(r->o->profile_path) : NULL;
    if (r->res->issuer == NULL || r->res->issuer_from == NULL ||
        (r->o->profile_path != NULL && r->res->profile == NULL)) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
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
    rc = admin_check(r, &sc, issuer, err);
out:
    json_decref(overlay);
    free(issuer);
    af_scope_clear(&sc);
    return rc;
}

af_rc af_target_expand(const struct af_target *t, const struct af_params *vars, const char *tmpl,
                       char **out, struct af_err *err)
{
    json_t *root = json_object(), *vj = NULL;
    struct af_scope sc;
    bool om = false;
    af_rc rc;

    *out = NULL;
    if (root == NULL) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    rc = run_vars(NULL, t, vars, &vj, err);
    if (rc != AF_OK)
        goto out;
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
