/*
 * tmpl.c - the variables a check sees and the {{...}} templates over them
 * (docs/suite-format.md §7).
 *
 * Lookup order for a name: the check's locals (captures and `set`, also by
 * prefix so that a captured object can be walked), then a binding of its
 * first segment, then the generated roots (fresh, pkce, env, now), then the
 * shared tree (target, meta, vars). Values from the profile and the suite
 * are templates and are expanded when used; captured values and server
 * metadata are data and never are.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "authflow/proto.h"
#include "probe/probe_int.h"

static const char *const reserved_roots[] = {"fresh", "pkce", "env", "target", "meta", "now"};

af_rc af_scope_init(struct af_scope *sc, json_t *root)
{
    sc->root = root;
    sc->missing_meta = false;
    sc->locals = json_object();
    sc->fresh = json_object();
    sc->pkce = json_object();
    sc->binds = json_object();
    if (!sc->locals || !sc->fresh || !sc->pkce || !sc->binds) {
        af_scope_clear(sc);
        return AF_ERR_NOMEM;
    }
    return AF_OK;
}

void af_scope_clear(struct af_scope *sc)
{
    json_decref(sc->locals);
    json_decref(sc->fresh);
    json_decref(sc->pkce);
    json_decref(sc->binds);
    sc->locals = sc->fresh = sc->pkce = sc->binds = NULL;
}

/* bind_path_expand: a binding's path may itself be a template
 * ("target.principals.{{res.allow[0]}}"), expanded against the bindings in
 * force before this push. */
static af_rc bind_path_expand(struct af_scope *sc, const json_t *v, json_t **out,
                              struct af_err *err)
{
    char *s = NULL;
    af_rc rc;
    *out = NULL;
    if (strstr(json_string_value(v), "{{") == NULL) {
        *out = json_incref((json_t *)v);
        return AF_OK;
    }
    rc = af_tmpl_expand_str(sc, json_string_value(v), &s, NULL, err);
    if (rc == AF_OK && (s == NULL || *s == '\0'))
        rc = AF_ERR_SET(err, AF_ERR_NOTFOUND, "the binding %s expands to nothing",
                        json_string_value(v));
    if (rc == AF_OK) {
        *out = json_string(s);
        if (*out == NULL)
            rc = AF_ERR_SET(err, AF_ERR_INVALID, "the binding %s is not UTF-8",
                            json_string_value(v));
    }
    free(s);
    return rc;
}

af_rc af_scope_bind_push(struct af_scope *sc, const json_t *bind, json_t **saved,
                         struct af_err *err)
{
    json_t *nb;
    const char *k;
    json_t *v;
    af_rc rc = AF_OK;
    *saved = NULL;
    if (bind == NULL || json_object_size(bind) == 0)
        return AF_OK;
    nb = json_copy(sc->binds);
    if (nb == NULL)
        return AF_ERR_NOMEM;
    json_object_foreach((json_t *)bind, k, v)
    {
        json_t *nv = NULL;
        if (json_is_string(v)) {
            rc = bind_path_expand(sc, v, &nv, err);
        } else if (json_is_object(v)) {
            /* {"path": P, "defaults": D}: names missing under P are looked
             * up under D (foreach elements over a suite's defaults). */
            json_t *p = NULL, *d = NULL;
            rc = bind_path_expand(sc, json_object_get(v, "path"), &p, err);
            if (rc == AF_OK && json_is_string(json_object_get(v, "defaults")))
                rc = bind_path_expand(sc, json_object_get(v, "defaults"), &d, err);
            if (rc == AF_OK) {
                nv = json_object();
                if (nv == NULL || json_object_set(nv, "path", p) != 0 ||
                    (d != NULL && json_object_set(nv, "defaults", d) != 0))
                    rc = AF_ERR_NOMEM;
            }
            json_decref(p);
            json_decref(d);
        } else {
            rc = AF_ERR_SET(err, AF_ERR_INVALID, "binding %s: not a path", k);
        }
        if (rc == AF_OK && json_object_set_new(nb, k, nv) != 0)
            rc = AF_ERR_NOMEM;
        else if (rc != AF_OK)
            json_decref(nv);
        if (rc != AF_OK)
            break;
    }
    if (rc != AF_OK) {
        json_decref(nb);
        return rc;
    }
    *saved = sc->binds;
    sc->binds = nb;
    return AF_OK;
}

void af_scope_bind_pop(struct af_scope *sc, json_t *saved)
{
    if (saved == NULL)
        return;
    json_decref(sc->binds);
    sc->binds = saved;
}

af_rc af_scope_set(struct af_scope *sc, const char *name, json_t *value)
{
    return json_object_set(sc->locals, name, value) == 0 ? AF_OK : AF_ERR_NOMEM;
}

bool af_var_name_valid(const char *name, const char **why)
{
    const char *p = name;
    size_t i, seg = strcspn(name, ".");
    if (*p == '\0') {
        *why = "is empty";
        return false;
    }
    for (i = 0; i < sizeof(reserved_roots) / sizeof(reserved_roots[0]); i++) {
        if (strlen(reserved_roots[i]) == seg && strncmp(name, reserved_roots[i], seg) == 0) {
            *why = "is under a reserved name (fresh, pkce, env, target, meta, now)";
            return false;
        }
    }
    for (; *p; p++) {
        if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.')) {
            *why = "may only have letters, digits, '_', '-' and '.'";
            return false;
        }
        if (*p == '.' && (p == name || p[1] == '\0' || p[1] == '.')) {
            *why = "has an empty segment";
            return false;
        }
    }
    return true;
}

/* ---- generated values ---- */

static af_rc fresh_get(struct af_scope *sc, const char *key, json_t **out)
{
    json_t *v = json_object_get(sc->fresh, key);
    char *tok = NULL;
    af_rc rc;
    if (v == NULL) {
        rc = af_rand_token(16, &tok);
        if (rc != AF_OK)
            return rc;
        v = json_string(tok);
        free(tok);
        if (v == NULL || json_object_set_new(sc->fresh, key, v) != 0)
            return AF_ERR_NOMEM;
    }
    *out = json_incref(v);
    return AF_OK;
}

static af_rc pkce_get(struct af_scope *sc, const char *pair, const char *part, json_t **out)
{
    json_t *p = json_object_get(sc->pkce, pair);
    af_rc rc;
    if (strcmp(part, "method") == 0) {
        *out = json_string(AF_PKCE_S256);
        return *out ? AF_OK : AF_ERR_NOMEM;
    }
    if (p == NULL) {
        char *ver = NULL;
        struct af_buf ch;
        af_buf_init(&ch, 256);
        /* 32 bytes -> 43 base64url characters: the RFC 7636 §4.1 minimum
         * length with 256 bits of entropy. */
        rc = af_rand_token(32, &ver);
        if (rc == AF_OK)
            rc = af_pkce_s256(ver, &ch);
        if (rc == AF_OK) {
            p = json_pack("{s:s, s:s}", "verifier", ver, "challenge", af_buf_str(&ch));
            if (p == NULL || json_object_set_new(sc->pkce, pair, p) != 0)
                rc = AF_ERR_NOMEM;
        }
        free(ver);
        af_buf_free(&ch);
        if (rc != AF_OK)
            return rc;
    }
    *out = json_incref(json_object_get(p, part));
    return *out ? AF_OK : AF_ERR_NOMEM;
}

/* ---- lookup ---- */

static bool seg_is(const char *name, size_t seglen, const char *root)
{
    return strlen(root) == seglen && strncmp(name, root, seglen) == 0;
}

static af_rc var_get(struct af_scope *sc, const char *name, int depth, json_t **out, bool *literal,
                     struct af_err *err)
{
    size_t len = strlen(name), i, seg;
    const char *rest;
    json_t *v;

    *out = NULL;
    *literal = true;
    if (depth > AF_PROBE_TMPL_DEPTH)
        return AF_ERR_SET(err, AF_ERR_INVALID, "%s: bindings nest more than %d deep", name,
                          AF_PROBE_TMPL_DEPTH);
    /* Locals, longest prefix first. */
    for (i = len + 1; i-- > 0;) {
        if (i < len && name[i] != '.' && name[i] != '[')
            continue;
        v = json_object_getn(sc->locals, name, i);
        if (v == NULL)
            continue;
        v = af_json_path(v, name + i);
        if (v == NULL)
            return AF_ERR_SET(err, AF_ERR_INVALID, "%s is not defined (no such member)", name);
        *out = json_incref(v);
        return AF_OK;
    }
    seg = strcspn(name, ".[");
    rest = name + seg;
    if (*rest == '.')
        rest++;
    v = json_object_getn(sc->binds, name, seg);
    if (json_is_string(v) || json_is_object(v)) {
        const char *path = json_is_string(v) ? json_string_value(v)
                                             : json_string_value(json_object_get(v, "path"));
        const char *defs = json_string_value(json_object_get(v, "defaults"));
        char *nn = NULL;
        af_rc rc;
        if (asprintf(&nn, "%s%s", path, name + seg) < 0)
            return AF_ERR_NOMEM;
        rc = var_get(sc, nn, depth + 1, out, literal, err);
        free(nn);
        if (rc == AF_ERR_NOTFOUND && defs != NULL && name[seg] != '\0') {
            nn = NULL;
            if (asprintf(&nn, "%s%s", defs, name + seg) < 0)
                return AF_ERR_NOMEM;
            af_err_clear(err);
            rc = var_get(sc, nn, depth + 1, out, literal, err);
            free(nn);
        }
        return rc;
    }
    if (seg_is(name, seg, "fresh")) {
        if (*rest == '\0' || strpbrk(rest, ".[") != NULL)
            return AF_ERR_SET(err, AF_ERR_INVALID, "%s: use fresh.NAME", name);
        return fresh_get(sc, rest, out);
    }
    if (seg_is(name, seg, "pkce")) {
        const char *dot = strrchr(rest, '.');
        char pair[128];
        const char *part = dot ? dot + 1 : rest;
        size_t pl = dot ? (size_t)(dot - rest) : 0;
        if ((strcmp(part, "verifier") != 0 && strcmp(part, "challenge") != 0 &&
             strcmp(part, "method") != 0) ||
            pl >= sizeof(pair))
            return AF_ERR_SET(err, AF_ERR_INVALID,
                              "%s: use pkce.verifier, pkce.challenge, pkce.method or "
                              "pkce.NAME.verifier",
                              name);
        memcpy(pair, rest, pl);
        pair[pl] = '\0';
        return pkce_get(sc, pair, part, out);
    }
    if (seg_is(name, seg, "env")) {
        const char *e = *rest ? getenv(rest) : NULL;
        if (e == NULL) {
            sc->missing_meta = false;
            return AF_ERR_SET(err, AF_ERR_NOTFOUND, "needs the environment variable %s", rest);
        }
        *out = json_string(e);
        return *out ? AF_OK : AF_ERR_SET(err, AF_ERR_INVALID, "env.%s is not UTF-8", rest);
    }
    if (seg_is(name, seg, "now") && name[seg] == '\0') {
        *out = json_integer((json_int_t)af_now());
        return *out ? AF_OK : AF_ERR_NOMEM;
    }
    if (seg_is(name, seg, "target") || seg_is(name, seg, "meta") || seg_is(name, seg, "vars")) {
        v = af_json_path(sc->root, name);
        if (v == NULL || json_is_null(v)) {
            sc->missing_meta = seg_is(name, seg, "meta");
            return AF_ERR_SET(err, AF_ERR_NOTFOUND, "needs %s, which the target does not define",
                              name);
        }
        *literal = seg_is(name, seg, "meta");
        *out = json_incref(v);
        return AF_OK;
    }
    return AF_ERR_SET(err, AF_ERR_INVALID, "%s is not defined", name);
}

af_rc af_var_get(struct af_scope *sc, const char *name, json_t **out, bool *literal,
                 struct af_err *err)
{
    return var_get(sc, name, 0, out, literal, err);
}

/* ---- templates ---- */

static const char *const filters[] = {"urlencode", "base64",   "b64url",     "s256",
                                      "upper",     "lower",    "url_scheme", "url_host",
                                      "url_port",  "url_path", "url_origin", "url_authority"};

/* url_part: a part of an absolute URL "scheme://[userinfo@]host[:port]/path".
 * Split by hand rather than with curl's URL API so that the parts come back
 * byte for byte as written (curl normalises). AF_ERR_INVALID when url is
 * not of that shape. */
static af_rc url_part(const char *url, const char *part, size_t plen, struct af_buf *o)
{
    const char *sep = strstr(url, "://"), *auth, *aend, *host, *hend, *port = NULL;
    if (sep == NULL || sep == url)
        return AF_ERR_INVALID;
    auth = sep + 3;
    aend = auth + strcspn(auth, "/?#");
    host = auth;
    {
        const char *at = memchr(auth, '@', (size_t)(aend - auth));
        if (at != NULL)
            host = at + 1;
    }
    if (*host == '[') {
        const char *rb = memchr(host, ']', (size_t)(aend - host));
        if (rb == NULL)
            return AF_ERR_INVALID;
        hend = rb + 1;
    } else {
        hend = memchr(host, ':', (size_t)(aend - host));
        if (hend == NULL)
            hend = aend;
    }
    if (hend < aend && *hend == ':')
        port = hend + 1;
    if (hend == host)
        return AF_ERR_INVALID;
    if (strncmp(part, "url_scheme", plen) == 0)
        return af_buf_add(o, url, (size_t)(sep - url));
    if (strncmp(part, "url_host", plen) == 0)
        return af_buf_add(o, host, (size_t)(hend - host));
    if (strncmp(part, "url_port", plen) == 0) {
        if (port != NULL && port < aend)
            return af_buf_add(o, port, (size_t)(aend - port));
        if ((size_t)(sep - url) == 5 && strncasecmp(url, "https", 5) == 0)
            return af_buf_adds(o, "443");
        if ((size_t)(sep - url) == 4 && strncasecmp(url, "http", 4) == 0)
            return af_buf_adds(o, "80");
        return AF_ERR_INVALID;
    }
    if (strncmp(part, "url_path", plen) == 0)
        return af_buf_add(o, aend, strcspn(aend, "?#"));
    /* url_authority: host[:port] as written, without userinfo: the URL's
     * own place under another scheme ("http://" + it is the plain form of
     * an https URL: the same explicit port, else http's default) */
    if (strncmp(part, "url_authority", plen) == 0)
        return af_buf_add(o, host, (size_t)(aend - host));
    /* url_origin: scheme://host[:port], without userinfo */
    {
        af_rc rc = af_buf_add(o, url, (size_t)(sep - url) + 3);
        if (rc == AF_OK)
            rc = af_buf_add(o, host, (size_t)(aend - host));
        return rc;
    }
}

static bool filter_known(const char *f, size_t n)
{
    size_t i;
    for (i = 0; i < sizeof(filters) / sizeof(filters[0]); i++)
        if (strlen(filters[i]) == n && strncmp(filters[i], f, n) == 0)
            return true;
    return false;
}

static af_rc apply_filter(const char *f, size_t n, struct af_buf *val)
{
    af_rc rc = AF_OK;
    struct af_buf o;
    size_t i;
    af_buf_init(&o, AF_PROBE_MAX_VALUE);
    if (strncmp(f, "urlencode", n) == 0) {
        rc = af_url_encode(&o, af_buf_str(val));
    } else if (strncmp(f, "b64url", n) == 0) {
        rc = af_b64url_encode(&o, (const unsigned char *)af_buf_str(val), val->len);
    } else if (strncmp(f, "base64", n) == 0) {
        size_t need = 4 * ((val->len + 2) / 3) + 1;
        unsigned char *tmp = malloc(need);
        if (tmp == NULL)
            return AF_ERR_NOMEM;
        EVP_EncodeBlock(tmp, (const unsigned char *)af_buf_str(val), (int)val->len);
        rc = af_buf_adds(&o, (const char *)tmp);
        free(tmp);
    } else if (strncmp(f, "s256", n) == 0) {
        rc = af_pkce_s256(af_buf_str(val), &o);
    } else if (strncmp(f, "url_", 4) == 0) {
        rc = url_part(af_buf_str(val), f, n, &o);
    } else {
        bool up = strncmp(f, "upper", n) == 0;
        rc = af_buf_add(&o, af_buf_str(val), val->len);
        for (i = 0; rc == AF_OK && i < o.len; i++)
            o.p[i] = (char)(up ? toupper((unsigned char)o.p[i]) : tolower((unsigned char)o.p[i]));
    }
    if (rc == AF_OK) {
        af_buf_reset(val);
        rc = af_buf_add(val, af_buf_str(&o), o.len);
    }
    af_buf_free(&o);
    return rc;
}

struct ref {
    bool optional;
    const char *name; /* into the template */
    size_t nlen;
    const char *filt; /* the "| f | g" part, or NULL */
    size_t flen;
};

/* parse_ref: inner is the text between {{ and }}. */
static af_rc parse_ref(const char *inner, size_t len, struct ref *r, struct af_err *err)
{
    const char *p = inner, *end = inner + len, *bar;
    size_t i;
    memset(r, 0, sizeof(*r));
    while (p < end && isspace((unsigned char)*p))
        p++;
    if (p < end && *p == '?') {
        r->optional = true;
        p++;
    }
    while (p < end && isspace((unsigned char)*p))
        p++;
    bar = memchr(p, '|', (size_t)(end - p));
    r->name = p;
    r->nlen = (size_t)((bar ? bar : end) - p);
    while (r->nlen > 0 && isspace((unsigned char)p[r->nlen - 1]))
        r->nlen--;
    if (r->nlen == 0)
        return AF_ERR_SET(err, AF_ERR_PARSE, "empty reference {{%.*s}}", (int)len, inner);
    for (i = 0; i < r->nlen; i++) {
        char c = r->name[i];
        if (!(isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.' || c == '[' ||
              c == ']'))
            return AF_ERR_SET(err, AF_ERR_PARSE, "bad character '%c' in {{%.*s}}", c, (int)len,
                              inner);
    }
    if (bar != NULL) {
        r->filt = bar;
        r->flen = (size_t)(end - bar);
    }
    /* Validate the filters now so that the loader catches typos. */
    p = r->filt;
    while (p != NULL && p < end) {
        const char *s, *e;
        p++; /* past '|' */
        while (p < end && isspace((unsigned char)*p))
            p++;
        s = p;
        while (p < end && *p != '|')
            p++;
        e = p;
        while (e > s && isspace((unsigned char)e[-1]))
            e--;
        if (!filter_known(s, (size_t)(e - s)))
            return AF_ERR_SET(err, AF_ERR_PARSE,
                              "unknown filter \"%.*s\" (known: urlencode, base64, b64url, s256, "
                              "upper, lower, url_scheme, url_host, url_port, url_path, "
                              "url_origin)",
                              (int)(e - s), s);
    }
    return AF_OK;
}

static af_rc value_text(const char *name, const json_t *v, struct af_buf *out, struct af_err *err)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        return af_buf_add(out, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return af_buf_addf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    case JSON_REAL:
        return af_buf_addf(out, "%.17g", json_real_value(v));
    case JSON_TRUE:
        return af_buf_adds(out, "true");
    case JSON_FALSE:
        return af_buf_adds(out, "false");
    default:
        return AF_ERR_SET(err, AF_ERR_INVALID, "%s is %s, not a string", name,
                          af_json_type_name(v));
    }
}

static af_rc expand(struct af_scope *sc, const char *tmpl, int depth, struct af_buf *out,
                    bool *omit, struct af_err *err)
{
    af_rc rc = AF_OK;
    const char *p = tmpl;
    struct af_buf val;
    char *name = NULL;
    int nrefs = 0;
    bool only_optional_undef = false;

    af_buf_init(&val, AF_PROBE_MAX_VALUE);
    if (omit != NULL)
        *omit = false;
    if (depth > AF_PROBE_TMPL_DEPTH) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "templates nest more than %d deep (a loop?)",
                        AF_PROBE_TMPL_DEPTH);
        goto out;
    }
    while (*p) {
        const char *open = strstr(p, "{{"), *close;
        struct ref r;
        json_t *v = NULL;
        bool literal = true;
        const char *f;
        if (open == NULL) {
            rc = af_buf_adds(out, p);
            break;
        }
        rc = af_buf_add(out, p, (size_t)(open - p));
        if (rc != AF_OK)
            goto out;
        close = strstr(open + 2, "}}");
        if (close == NULL) {
            rc = AF_ERR_SET(err, AF_ERR_PARSE, "unclosed {{ in \"%.60s\"", tmpl);
            goto out;
        }
        rc = parse_ref(open + 2, (size_t)(close - open - 2), &r, err);
        if (rc != AF_OK)
            goto out;
        nrefs++;
        free(name);
        name = strndup(r.name, r.nlen);
        if (name == NULL) {
            rc = AF_ERR_NOMEM;
            goto out;
        }
        af_buf_reset(&val);
        rc = var_get(sc, name, 0, &v, &literal, err);
        if (rc == AF_ERR_NOTFOUND || rc == AF_ERR_INVALID) {
            if (r.optional) {
                af_err_clear(err);
                rc = AF_OK;
                only_optional_undef = nrefs == 1 && open == tmpl && close[2] == '\0';
                p = close + 2;
                continue;
            }
            goto out;
        }
        if (rc != AF_OK)
            goto out;
        if (json_is_string(v) && !literal)
            rc = expand(sc, json_string_value(v), depth + 1, &val, NULL, err);
        else
            rc = value_text(name, v, &val, err);
        json_decref(v);
        if (rc != AF_OK)
            goto out;
        f = r.filt;
        while (f != NULL && f < r.filt + r.flen && rc == AF_OK) {
            const char *s, *e;
            f++;
            while (isspace((unsigned char)*f))
                f++;
            s = f;
            while (f < r.filt + r.flen && *f != '|')
                f++;
            e = f;
            while (e > s && isspace((unsigned char)e[-1]))
                e--;
            rc = apply_filter(s, (size_t)(e - s), &val);
            if (rc == AF_ERR_INVALID)
                rc = AF_ERR_SET(err, AF_ERR_INVALID,
                                "{{%s | %.*s}}: the value is not an "
                                "absolute URL",
                                name, (int)(e - s), s);
        }
        if (rc == AF_OK)
            rc = af_buf_add(out, af_buf_str(&val), val.len);
        if (rc != AF_OK)
            goto out;
        p = close + 2;
    }
    if (omit != NULL)
        *omit = only_optional_undef;
out:
    free(name);
    af_buf_free(&val);
    return rc;
}

af_rc af_tmpl_expand(struct af_scope *sc, const char *tmpl, struct af_buf *out, bool *omit,
                     struct af_err *err)
{
    return expand(sc, tmpl, 0, out, omit, err);
}

af_rc af_tmpl_expand_str(struct af_scope *sc, const char *tmpl, char **out, bool *omit,
                         struct af_err *err)
{
    struct af_buf b;
    bool om = false;
    af_rc rc;
    af_buf_init(&b, AF_PROBE_MAX_VALUE);
    *out = NULL;
    rc = expand(sc, tmpl, 0, &b, &om, err);
    if (omit != NULL)
        *omit = om;
    if (rc == AF_OK && !om) {
        *out = af_buf_detach(&b);
        if (*out == NULL)
            rc = AF_ERR_NOMEM;
    }
    af_buf_free(&b);
    return rc;
}

/* whole_ref: tmpl is exactly one {{NAME}} or {{?NAME}} without filters;
 * *name (caller frees) and *optional describe it. */
static bool whole_ref(const char *tmpl, char **name, bool *optional)
{
    size_t len = strlen(tmpl);
    struct ref r;
    struct af_err e;
    *name = NULL;
    if (len < 5 || strncmp(tmpl, "{{", 2) != 0 || strcmp(tmpl + len - 2, "}}") != 0 ||
        strstr(tmpl + 2, "{{") != NULL || strstr(tmpl, "}}") != tmpl + len - 2)
        return false;
    af_err_clear(&e);
    if (parse_ref(tmpl + 2, len - 4, &r, &e) != AF_OK || r.filt != NULL)
        return false;
    *name = strndup(r.name, r.nlen);
    *optional = r.optional;
    return *name != NULL;
}

static af_rc expand_json(struct af_scope *sc, const json_t *v, int depth, json_t **out,
                         struct af_err *err);

/* expand_json_string: a string that is one whole reference takes the
 * variable's JSON value (a number stays a number, an array an array: the
 * admin API wants "ttl": 60, a status list stays a list); any other string
 * is expanded as text. */
static af_rc expand_json_string(struct af_scope *sc, const char *tmpl, int depth, json_t **out,
                                struct af_err *err)
{
    char *name = NULL, *s = NULL;
    bool optional = false, om = false, literal = true;
    json_t *val = NULL;
    af_rc rc;

    *out = NULL;
    if (whole_ref(tmpl, &name, &optional)) {
        rc = var_get(sc, name, 0, &val, &literal, err);
        if ((rc == AF_ERR_NOTFOUND || rc == AF_ERR_INVALID) && optional) {
            af_err_clear(err);
            rc = AF_OK; /* omitted */
            goto out;
        }
        if (rc != AF_OK)
            goto out;
        if (!json_is_string(val)) {
            if (literal) {
                *out = json_deep_copy(val);
                rc = *out ? AF_OK : AF_ERR_NOMEM;
            } else {
                rc = expand_json(sc, val, depth + 1, out, err);
            }
            goto out;
        }
    }
    rc = af_tmpl_expand_str(sc, tmpl, &s, &om, err);
    if (rc == AF_OK && !om) {
        *out = json_string(s);
        if (*out == NULL)
            rc = AF_ERR_SET(err, AF_ERR_INVALID, "expanded value is not UTF-8");
    }
out:
    json_decref(val);
    free(name);
    free(s);
    return rc;
}

static af_rc expand_json(struct af_scope *sc, const json_t *v, int depth, json_t **out,
                         struct af_err *err)
{
    af_rc rc = AF_OK;
    json_t *r = NULL;
    *out = NULL;
    if (depth > AF_PROBE_TMPL_DEPTH)
        return AF_ERR_SET(err, AF_ERR_INVALID, "templates nest more than %d deep (a loop?)",
                          AF_PROBE_TMPL_DEPTH);
    if (json_is_string(v)) {
        return expand_json_string(sc, json_string_value(v), depth, out, err);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *m;
        r = json_object();
        if (r == NULL)
            return AF_ERR_NOMEM;
        json_object_foreach((json_t *)v, k, m)
        {
            json_t *e = NULL;
            rc = expand_json(sc, m, depth, &e, err);
            if (rc != AF_OK)
                break;
            if (e != NULL && json_object_set_new(r, k, e) != 0) {
                rc = AF_ERR_NOMEM;
                break;
            }
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *m;
        r = json_array();
        if (r == NULL)
            return AF_ERR_NOMEM;
        json_array_foreach(v, i, m)
        {
            json_t *e = NULL;
            rc = expand_json(sc, m, depth, &e, err);
            if (rc != AF_OK)
                break;
            if (e != NULL && json_array_append_new(r, e) != 0) {
                rc = AF_ERR_NOMEM;
                break;
            }
        }
    } else {
        r = json_incref((json_t *)v);
    }
    if (rc != AF_OK) {
        json_decref(r);
        return rc;
    }
    *out = r;
    return AF_OK;
}

af_rc af_tmpl_expand_json(struct af_scope *sc, const json_t *v, json_t **out, struct af_err *err)
{
    return expand_json(sc, v, 0, out, err);
}

af_rc af_tmpl_check(const char *tmpl, struct af_err *err)
{
    const char *p = tmpl;
    for (;;) {
        const char *open = strstr(p, "{{"), *close;
        struct ref r;
        af_rc rc;
        if (open == NULL)
            return AF_OK;
        close = strstr(open + 2, "}}");
        if (close == NULL)
            return AF_ERR_SET(err, AF_ERR_PARSE, "unclosed {{ in \"%.60s\"", tmpl);
        rc = parse_ref(open + 2, (size_t)(close - open - 2), &r, err);
        if (rc != AF_OK)
            return rc;
        p = close + 2;
    }
}

af_rc af_tmpl_tree_check(const json_t *v, struct af_buf *path, struct af_err *err)
{
    size_t i, mark = path->len;
    const char *k;
    json_t *m;
    af_rc rc = AF_OK;

    if (json_is_string(v)) {
        rc = af_tmpl_check(json_string_value(v), err);
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, m)
        {
            rc = af_buf_addf(path, "[%zu]", i) != AF_OK ? AF_ERR_NOMEM
                                                        : af_tmpl_tree_check(m, path, err);
            if (rc != AF_OK)
                goto out;
            path->len = mark;
            path->p[mark] = '\0';
        }
    } else if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, m)
        {
            rc = af_buf_addf(path, ".%s", k) != AF_OK ? AF_ERR_NOMEM
                                                      : af_tmpl_tree_check(m, path, err);
            if (rc != AF_OK)
                goto out;
            path->len = mark;
            path->p[mark] = '\0';
        }
    }
out:
    return rc;
}
