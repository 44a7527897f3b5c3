/*
 * select.c - selectors: the names of values in a response
 * (docs/suite-format.md §9), shared by expectations and captures.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "probe/probe_int.h"

const struct af_params *af_hop_params(struct af_hop *hop, const char **why)
{
    size_t i, nf;
    const struct af_form *forms;

    *why = NULL;
    if (!hop->params_done) {
        hop->params_done = true;
        if (af_hop_location(hop) != NULL) {
            if (hop->loc_ok) {
                for (i = 0; i < hop->loc_query.n; i++)
                    if (af_params_add(&hop->params, hop->loc_query.v[i].name,
                                      hop->loc_query.v[i].value) != AF_OK)
                        break;
                for (i = 0; i < hop->loc_frag.n; i++)
                    if (af_params_add(&hop->params, hop->loc_frag.v[i].name,
                                      hop->loc_frag.v[i].value) != AF_OK)
                        break;
            }
        } else {
            forms = af_hop_forms(hop, &nf);
            if (nf > 0) {
                for (i = 0; i < forms[0].fields.n; i++)
                    if (af_params_add(&hop->params, forms[0].fields.v[i].name,
                                      forms[0].fields.v[i].value) != AF_OK)
                        break;
            }
        }
    }
    if (hop->location != NULL && !hop->loc_ok) {
        *why = hop->loc_err ? hop->loc_err : "malformed parameters";
        return NULL;
    }
    return &hop->params;
}

/* ---- syntax ---- */

struct selp {
    const char *root; /* points into the selector */
    size_t rlen;
    const char *rest; /* after "root." (or "" when none) */
    long index;       /* form[N]: N, else -1 */
};

static bool root_is(const struct selp *s, const char *r)
{
    return s->rlen == strlen(r) && strncmp(s->root, r, s->rlen) == 0;
}

static af_rc sel_split(const char *sel, struct selp *s, struct af_err *err)
{
    const char *p = sel;
    memset(s, 0, sizeof(*s));
    s->index = -1;
    s->root = p;
    while (isalpha((unsigned char)*p) || *p == '_')
        p++;
    s->rlen = (size_t)(p - sel);
    if (*p == '[') {
        char *end;
        s->index = strtol(p + 1, &end, 10);
        if (end == p + 1 || *end != ']' || s->index < 0)
            return AF_ERR_SET(err, AF_ERR_PARSE, "selector \"%s\": bad index", sel);
        p = end + 1;
    }
    if (*p == '.')
        p++;
    else if (*p != '\0')
        return AF_ERR_SET(err, AF_ERR_PARSE, "selector \"%s\": expected '.' after \"%.*s\"", sel,
                          (int)s->rlen, sel);
    s->rest = p;
    return AF_OK;
}

af_rc af_sel_check(const char *sel, struct af_err *err)
{
    struct selp s;
    af_rc rc = sel_split(sel, &s, err);
    if (rc != AF_OK)
        return rc;
    if (s.index >= 0 && !root_is(&s, "form"))
        return AF_ERR_SET(err, AF_ERR_PARSE, "selector \"%s\": only form takes an index", sel);
    if (root_is(&s, "status") || root_is(&s, "url") || root_is(&s, "method") ||
        root_is(&s, "hops") || root_is(&s, "body") || root_is(&s, "forms")) {
        if (*s.rest)
            return AF_ERR_SET(err, AF_ERR_PARSE, "selector \"%s\": %.*s takes no member", sel,
                              (int)s.rlen, s.root);
        return AF_OK;
    }
    if (root_is(&s, "header") || root_is(&s, "cookie") || root_is(&s, "var")) {
        if (*s.rest == '\0')
            return AF_ERR_SET(err, AF_ERR_PARSE, "selector \"%s\": use %.*s.NAME", sel, (int)s.rlen,
                              s.root);
        return AF_OK;
    }
    if (root_is(&s, "json") || root_is(&s, "params"))
        return AF_OK;
    if (root_is(&s, "location")) {
        if (*s.rest == '\0' || strcmp(s.rest, "base") == 0 || strcmp(s.rest, "query") == 0 ||
            strcmp(s.rest, "fragment") == 0 || strncmp(s.rest, "query.", 6) == 0 ||
            strncmp(s.rest, "fragment.", 9) == 0)
            return AF_OK;
        return AF_ERR_SET(err, AF_ERR_PARSE,
                          "selector \"%s\": use location, location.base, location.query[.NAME] "
                          "or location.fragment[.NAME]",
                          sel);
    }
    if (root_is(&s, "form")) {
        if (strcmp(s.rest, "action") == 0 || strcmp(s.rest, "method") == 0 ||
            (strncmp(s.rest, "fields.", 7) == 0 && s.rest[7] != '\0'))
            return AF_OK;
        return AF_ERR_SET(err, AF_ERR_PARSE,
                          "selector \"%s\": use form.action, form.method or form.fields.NAME", sel);
    }
    return AF_ERR_SET(err, AF_ERR_PARSE,
                      "selector \"%s\": unknown root \"%.*s\" (known: status, url, method, hops, "
                      "header, location, params, body, json, cookie, form, forms, var)",
                      sel, (int)s.rlen, s.root);
}

/* ---- evaluation ---- */

void af_sv_clear(struct af_sv *v)
{
    json_decref(v->json);
    memset(v, 0, sizeof(*v));
}

static af_rc sv_string(struct af_sv *out, const char *s, size_t len)
{
    /* Bodies and headers may be anything: keep the bytes as they came. */
    out->json = json_stringn_nocheck(s, len);
    if (out->json == NULL)
        return AF_ERR_NOMEM;
    out->kind = AF_SV_VALUE;
    return AF_OK;
}

static af_rc sv_params(struct af_sv *out, const struct af_params *set, const char *name)
{
    size_t i;
    if (name == NULL || *name == '\0') {
        json_t *o = json_object();
        if (o == NULL)
            return AF_ERR_NOMEM;
        for (i = 0; i < set->n; i++) {
            if (json_object_get(o, set->v[i].name) != NULL)
                continue;
            if (json_object_set_new_nocheck(
                    o, set->v[i].name,
                    json_stringn_nocheck(set->v[i].value, strlen(set->v[i].value))) != 0) {
                json_decref(o);
                return AF_ERR_NOMEM;
            }
        }
        out->json = o;
        out->kind = AF_SV_VALUE;
        out->set = set;
        return AF_OK;
    }
    out->set = set;
    out->param = name;
    {
        const char *v = af_params_get(set, name);
        if (v == NULL)
            return AF_OK;
        return sv_string(out, v, strlen(v));
    }
}

af_rc af_sel_eval(const struct af_sel_ctx *cx, const char *sel, struct af_sv *out,
                  struct af_err *err)
{
    af_rc rc;
    struct selp s;
    struct af_hop *hop = cx->hop;

    memset(out, 0, sizeof(*out));
    rc = sel_split(sel, &s, err);
    if (rc != AF_OK)
        return rc;
    if (root_is(&s, "var")) {
        json_t *v = NULL;
        bool lit;
        struct af_err e2;
        if (af_var_get(cx->sc, s.rest, &v, &lit, &e2) == AF_OK) {
            out->json = v;
            out->kind = AF_SV_VALUE;
        }
        return AF_OK;
    }
    if (hop == NULL)
        return AF_OK;
    if (root_is(&s, "status")) {
        if (hop->status == 0)
            return AF_OK;
        out->json = json_integer(hop->status);
        out->kind = AF_SV_VALUE;
        out->is_status = true;
        return out->json ? AF_OK : AF_ERR_NOMEM;
    }
    if (root_is(&s, "url"))
        return sv_string(out, hop->url, strlen(hop->url));
    if (root_is(&s, "method"))
        return sv_string(out, hop->method, strlen(hop->method));
    if (root_is(&s, "hops")) {
        out->json = json_integer((json_int_t)cx->nhops);
        out->kind = AF_SV_VALUE;
        return out->json ? AF_OK : AF_ERR_NOMEM;
    }
    if (root_is(&s, "body")) {
        if (hop->status == 0)
            return AF_OK;
        return sv_string(out, af_buf_str(&hop->body), hop->body.len);
    }
    if (root_is(&s, "header")) {
        char *v = af_hop_header_joined(hop, s.rest);
        if (v != NULL) {
            rc = sv_string(out, v, strlen(v));
            free(v);
        }
        return rc;
    }
    if (root_is(&s, "cookie")) {
        char *v = af_http_cookie(cx->http, s.rest);
        if (v != NULL) {
            rc = sv_string(out, v, strlen(v));
            free(v);
        }
        return rc;
    }
    if (root_is(&s, "json")) {
        const json_t *j = af_hop_json(hop);
        json_t *v = j ? af_json_path(j, s.rest) : NULL;
        if (v != NULL) {
            out->json = json_incref(v);
            out->kind = AF_SV_VALUE;
        }
        return AF_OK;
    }
    if (root_is(&s, "location")) {
        const char *loc = af_hop_location(hop);
        if (loc == NULL)
            return AF_OK;
        if (*s.rest == '\0')
            return sv_string(out, loc, strlen(loc));
        if (strcmp(s.rest, "base") == 0)
            return sv_string(out, loc, af_url_base_len(loc));
        if (!hop->loc_ok)
            return AF_ERR_SET(err, AF_ERR_PARSE, "the Location's parameters are malformed: %s",
                              hop->loc_err ? hop->loc_err : "?");
        if (strncmp(s.rest, "query", 5) == 0)
            return sv_params(out, &hop->loc_query, s.rest[5] ? s.rest + 6 : NULL);
        return sv_params(out, &hop->loc_frag, s.rest[8] ? s.rest + 9 : NULL);
    }
    if (root_is(&s, "params")) {
        const char *why;
        const struct af_params *p = af_hop_params(hop, &why);
        if (p == NULL)
            return AF_ERR_SET(err, AF_ERR_PARSE, "the Location's parameters are malformed: %s",
                              why);
        if (af_hop_location(hop) == NULL) {
            size_t nf;
            af_hop_forms(hop, &nf);
            if (nf == 0 && *s.rest == '\0')
                return AF_OK; /* neither a redirect nor a form: no parameters */
        }
        return sv_params(out, p, *s.rest ? s.rest : NULL);
    }
    if (root_is(&s, "forms") || root_is(&s, "form")) {
        size_t nf;
        const struct af_form *forms = af_hop_forms(hop, &nf), *f;
        size_t idx = s.index >= 0 ? (size_t)s.index : 0;
        if (root_is(&s, "forms")) {
            out->json = json_integer((json_int_t)nf);
            out->kind = AF_SV_VALUE;
            return out->json ? AF_OK : AF_ERR_NOMEM;
        }
        if (idx >= nf)
            return AF_OK;
        f = &forms[idx];
        if (strcmp(s.rest, "method") == 0)
            return sv_string(out, f->method, strlen(f->method));
        if (strcmp(s.rest, "action") == 0) {
            char *abs = NULL;
            rc = af_url_resolve(hop->url, f->action[0] ? f->action : hop->url, &abs);
            if (rc == AF_OK)
                rc = sv_string(out, abs, strlen(abs));
            else
                rc = sv_string(out, f->action, strlen(f->action));
            free(abs);
            return rc;
        }
        return sv_params(out, &f->fields, s.rest + 7);
    }
    return AF_ERR_SET(err, AF_ERR_PARSE, "unknown selector \"%s\"", sel);
}

char *af_sv_text(const struct af_sv *v)
{
    char *dump = NULL, *res = NULL;
    const char *s;
    size_t len;
    bool quote = false;

    if (v->kind == AF_SV_ABSENT)
        return strdup("absent");
    if (json_is_string(v->json)) {
        s = json_string_value(v->json);
        len = json_string_length(v->json);
        quote = true;
    } else {
        dump = json_dumps(v->json, JSON_ENCODE_ANY | JSON_COMPACT);
        if (dump == NULL)
            return strdup("?");
        s = dump;
        len = strlen(dump);
    }
    {
        struct af_buf b;
        size_t i, shown = len > 120 ? 120 : len;
        bool utf8 = af_utf8_valid(s, len);
        /* Cut on a character boundary so that reports stay valid UTF-8. */
        while (utf8 && shown < len && shown > 0 && ((unsigned char)s[shown] & 0xC0) == 0x80)
            shown--;
        af_buf_init(&b, 1024);
        if (quote && af_buf_addc(&b, '"') != AF_OK)
            goto out;
        for (i = 0; i < shown; i++) {
            unsigned char c = (unsigned char)s[i];
            af_rc rc;
            if (quote && (c == '"' || c == '\\'))
                rc = af_buf_add(&b, c == '"' ? "\\\"" : "\\\\", 2);
            else if (c == '\n')
                rc = af_buf_adds(&b, "\\n");
            else if (c == '\r')
                rc = af_buf_adds(&b, "\\r");
            else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8))
                rc = af_buf_addf(&b, "\\x%02x", c);
            else
                rc = af_buf_addc(&b, (char)c);
            if (rc != AF_OK)
                goto out;
        }
        if (shown < len && af_buf_adds(&b, "...") != AF_OK)
            goto out;
        if (quote && af_buf_addc(&b, '"') != AF_OK)
            goto out;
        res = af_buf_detach(&b);
    out:
        af_buf_free(&b);
    }
    free(dump);
    return res;
}
