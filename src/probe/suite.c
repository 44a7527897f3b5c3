/*
 * suite.c - loading and validating suites and target profiles
 * (docs/suite-format.md §1-§5, §8, §13, §14), and the --only/--skip filter.
 *
 * Every object kind has a table of keys (name, JSON types, required, and a
 * validator for the value); unknown keys are refused with a suggestion.
 * Errors carry file:line:column from the jsonpos scanner and the key path.
 */
#include "config.h"

#include <ctype.h>
#include <fnmatch.h>
#include <libgen.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authflow/jsonpos.h"
#include "probe/concurrent.h"
#include "probe/race.h"
#include "probe/forge.h"
#include "probe/probe_int.h"
#include "probe/regex.h"

struct vctx {
    const char *name; /* file name for messages */
    const char *text; /* the source, for positions */
    size_t len;
    json_t *root;
    struct af_err *err;
    char msg[AF_ERR_MSG_MAX]; /* the message before the position is added */
    bool at_key;              /* point at the member name rather than its value */
    const char *where;        /* "suite" or "target" */
};

typedef af_rc (*vfn)(struct vctx *vc, const json_t *v, struct af_buf *path);

struct krule {
    const char *key;
    unsigned types;
    bool req;
    vfn fn;
};

/* ---- messages ---- */

static af_rc vfail(struct vctx *vc, struct af_buf *path, const char *fmt, ...) AF_PRINTF(3, 4);

static af_rc vfail(struct vctx *vc, struct af_buf *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(vc->msg, sizeof(vc->msg), fmt, ap);
    va_end(ap);
    (void)path;
    return AF_ERR_INVALID;
}

/* located: the final "file:line:col: path: msg". */
static af_rc located(struct vctx *vc, af_rc rc, const char *path)
{
    int line = 0, col = 0;
    const char *p = path[0] == '.' ? path + 1 : path;
    /* An unknown key is pointed at by its name, not its value. */
    bool at_key = vc->at_key || strncmp(vc->msg, "unknown key", 11) == 0;
    if (af_jsonpos_find_str(vc->text, vc->len, p, at_key, &line, &col) >= 0 && line > 0)
        return AF_ERR_SET(vc->err, rc, "%s:%d:%d: %s: %s", vc->name, line, col,
                          p[0] ? p : "(top level)", vc->msg);
    return AF_ERR_SET(vc->err, rc, "%s: %s: %s", vc->name, p[0] ? p : "(top level)", vc->msg);
}

static const char *type_word(unsigned t)
{
    switch (t) {
    case TS:
        return "a string";
    case TI:
        return "an integer";
    case TN:
    case TN | TI:
        return "a number";
    case TB:
        return "a boolean";
    case TO:
        return "an object";
    case TA:
        return "an array";
    case TB | TO:
        return "a boolean or an object";
    case TS | TO:
        return "a string or an object";
    case TS | TN | TI:
        return "a string or a number";
    case TO | TA:
        return "an object or a list of pairs";
    case TB | TS:
        return "a boolean or a string";
    default:
        return "another type";
    }
}

static af_rc path_push(struct af_buf *path, const char *key, size_t *mark)
{
    *mark = path->len;
    return af_buf_addf(path, ".%s", key);
}

static af_rc path_pushi(struct af_buf *path, size_t i, size_t *mark)
{
    *mark = path->len;
    return af_buf_addf(path, "[%zu]", i);
}

static void path_pop(struct af_buf *path, size_t mark)
{
    path->len = mark;
    if (path->p)
        path->p[mark] = '\0';
}

static af_rc check_obj(struct vctx *vc, const json_t *obj, const struct krule *rules, size_t nr,
                       struct af_buf *path)
{
    const char *k;
    json_t *v;
    size_t i, mark;
    af_rc rc;

    if (!json_is_object(obj))
        return vfail(vc, path, "must be an object, not %s", af_json_type_name(obj));
    json_object_foreach((json_t *)obj, k, v)
    {
        const struct krule *r = NULL;
        for (i = 0; i < nr; i++)
            if (strcmp(rules[i].key, k) == 0)
                r = &rules[i];
        if (path_push(path, k, &mark) != AF_OK)
            return AF_ERR_NOMEM;
        if (r == NULL) {
            const char *best = NULL;
            size_t bd = 3;
            for (i = 0; i < nr; i++) {
                size_t d = af_edit_distance(k, rules[i].key);
                if (d < bd) {
                    bd = d;
                    best = rules[i].key;
                }
            }
            vc->at_key = true;
            if (best != NULL)
                return vfail(vc, path, "unknown key \"%s\" (did you mean \"%s\"?)", k, best);
            {
                struct af_buf known;
                af_buf_init(&known, 1024);
                for (i = 0; i < nr; i++)
                    af_msg_addf(&known, "%s%s", i ? ", " : "", rules[i].key);
                rc = vfail(vc, path, "unknown key \"%s\" (known: %s)", k, af_buf_str(&known));
                af_buf_free(&known);
                return rc;
            }
        }
        if (!af_json_type_ok(v, r->types))
            return vfail(vc, path, "must be %s, not %s", type_word(r->types), af_json_type_name(v));
        if (r->fn != NULL) {
            rc = r->fn(vc, v, path);
            if (rc != AF_OK)
                return rc;
        }
        path_pop(path, mark);
    }
    for (i = 0; i < nr; i++)
        if (rules[i].req && json_object_get(obj, rules[i].key) == NULL)
            return vfail(vc, path, "missing key \"%s\"", rules[i].key);
    return AF_OK;
}

#define CHECK_OBJ(vc, obj, rules, path)                                                            \
    check_obj((vc), (obj), (rules), sizeof(rules) / sizeof((rules)[0]), (path))

/* lift: a validator from another module reports through an af_err. */
static af_rc lift(struct vctx *vc, af_rc rc, const struct af_err *e)
{
    if (rc != AF_OK)
        snprintf(vc->msg, sizeof(vc->msg), "%s", e->msg[0] ? e->msg : af_rc_str(rc));
    return rc;
}

/* v_named: fn on every member value of the object v, the path pointing at
 * the member; v_each: on every element of the array v. The first failure
 * is returned with the path left at the member or element at fault. */
static af_rc v_named(struct vctx *vc, const json_t *v, struct af_buf *path, vfn fn)
{
    const char *k;
    json_t *m;
    size_t mark;
    af_rc rc = AF_OK;

    json_object_foreach((json_t *)v, k, m)
    {
        rc = path_push(path, k, &mark) != AF_OK ? AF_ERR_NOMEM : fn(vc, m, path);
        if (rc != AF_OK)
            goto out;
        path_pop(path, mark);
    }
out:
    return rc;
}

static af_rc v_each(struct vctx *vc, const json_t *v, struct af_buf *path, vfn fn)
{
    size_t i, mark;
    json_t *m;
    af_rc rc = AF_OK;

    json_array_foreach(v, i, m)
    {
        rc = path_pushi(path, i, &mark) != AF_OK ? AF_ERR_NOMEM : fn(vc, m, path);
        if (rc != AF_OK)
            goto out;
        path_pop(path, mark);
    }
out:
    return rc;
}

/* ---- small validators ---- */

static af_rc v_tmpl(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    struct af_err e;
    (void)path;
    if (!json_is_string(v))
        return AF_OK;
    af_err_clear(&e);
    return lift(vc, af_tmpl_check(json_string_value(v), &e), &e);
}

static af_rc v_tmpl_tree(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    struct af_err e;
    af_err_clear(&e);
    return lift(vc, af_tmpl_tree_check(v, path, &e), &e);
}

static af_rc v_regex(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    regex_t re;
    char why[AF_REGEX_WHY_MAX];
    int e = af_regex_compile(&re, json_string_value(v), REG_EXTENDED | REG_NOSUB, why, sizeof(why));
    if (e != 0)
        return vfail(vc, path, "regular expression %s", why);
    regfree(&re);
    return AF_OK;
}

static af_rc v_severity(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    const char *s = json_string_value(v);
    if (strcmp(s, "MUST") != 0 && strcmp(s, "SHOULD") != 0)
        return vfail(vc, path, "must be \"MUST\" or \"SHOULD\", not \"%.40s\"", s);
    return AF_OK;
}

static af_rc v_strings(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    size_t i, mark;
    json_t *m;
    json_array_foreach(v, i, m)
    {
        if (!json_is_string(m)) {
            if (path_pushi(path, i, &mark) != AF_OK)
                return AF_ERR_NOMEM;
            return vfail(vc, path, "must be a string, not %s", af_json_type_name(m));
        }
    }
    return AF_OK;
}

static af_rc v_id(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    const char *p = json_string_value(v);
    if (*p == '\0')
        return vfail(vc, path, "must not be empty");
    for (; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.'))
            return vfail(vc, path, "\"%s\": only letters, digits, '-', '_' and '.'",
                         json_string_value(v));
    return AF_OK;
}

static af_rc v_bind(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    const char *k;
    json_t *m;
    size_t mark;
    json_object_foreach((json_t *)v, k, m)
    {
        const char *why;
        if (path_push(path, k, &mark) != AF_OK)
            return AF_ERR_NOMEM;
        if (json_is_object(m)) {
            /* {"path": P, "defaults": D}: names missing under P come from D */
            static const struct krule rules[] = {{"path", TS, true, v_tmpl},
                                                 {"defaults", TS, false, v_tmpl}};
            af_rc rc = CHECK_OBJ(vc, m, rules, path);
            if (rc != AF_OK)
                return rc;
        } else if (!json_is_string(m) || json_string_length(m) == 0) {
            return vfail(vc, path,
                         "must be a variable path (a string) or {\"path\", \"defaults\"}");
        } else {
            af_rc rc = v_tmpl(vc, m, path);
            if (rc != AF_OK)
                return rc;
        }
        if (strpbrk(k, ".[") != NULL || !af_var_name_valid(k, &why))
            return vfail(vc, path, "\"%s\" cannot be bound: a binding is a plain name", k);
        path_pop(path, mark);
    }
    return AF_OK;
}

static af_rc v_set(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    const char *k;
    json_t *m;
    size_t mark;
    af_rc rc;
    json_object_foreach((json_t *)v, k, m)
    {
        const char *why;
        if (path_push(path, k, &mark) != AF_OK)
            return AF_ERR_NOMEM;
        vc->at_key = true;
        if (!af_var_name_valid(k, &why))
            return vfail(vc, path, "the name \"%s\" %s", k, why);
        vc->at_key = false;
        if (!json_is_string(m))
            return vfail(vc, path, "must be a template string, not %s", af_json_type_name(m));
        rc = v_tmpl(vc, m, path);
        if (rc != AF_OK)
            return rc;
        path_pop(path, mark);
    }
    return AF_OK;
}

static af_rc v_cond_list(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    struct af_err e;
    af_err_clear(&e);
    return lift(vc, af_conds_check(v, path, &e), &e);
}

/* ---- requests ---- */

static af_rc v_param_pair(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    if (json_array_size(v) != 2 || !json_is_string(json_array_get(v, 0)) ||
        !json_is_string(json_array_get(v, 1)))
        return vfail(vc, path, "a pair must be [\"name\", \"value\"]");
    return v_tmpl_tree(vc, v, path);
}

static af_rc v_param_value(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    if (json_is_array(v)) {
        af_rc rc = v_strings(vc, v, path);
        if (rc != AF_OK)
            return rc;
    } else if (!json_is_string(v) && !json_is_null(v)) {
        return vfail(vc, path, "must be a string, a list of strings or null, not %s",
                     af_json_type_name(v));
    }
    return v_tmpl_tree(vc, v, path);
}

/* params: a list of [name, value] pairs or an object of values. */
static af_rc v_params(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    if (json_is_array(v))
        return v_each(vc, v, path, v_param_pair);
    return v_named(vc, v, path, v_param_value);
}

/* v_form_spec: the fields as params, or a whole reference to an object of
 * fields ("{{?auth.login.form}}"). */
static af_rc v_form_spec(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    return json_is_string(v) ? v_tmpl(vc, v, path) : v_params(vc, v, path);
}

static af_rc v_headers(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    size_t mark;
    json_t *m;
    const char *k, *p;
    af_rc rc;
    json_object_foreach((json_t *)v, k, m)
    {
        if (path_push(path, k, &mark) != AF_OK)
            return AF_ERR_NOMEM;
        for (p = k; *p; p++) {
            if (!(isalnum((unsigned char)*p) || strchr("!#$%&'*+-.^_`|~", *p))) {
                vc->at_key = true;
                return vfail(vc, path, "\"%s\" is not a header name", k);
            }
        }
        if (*k == '\0')
            return vfail(vc, path, "empty header name");
        if (!json_is_string(m) && !json_is_null(m))
            return vfail(vc, path, "must be a string or null, not %s", af_json_type_name(m));
        if (json_is_string(m) && strpbrk(json_string_value(m), "\r\n") != NULL)
            return vfail(vc, path, "a header value cannot hold a line break");
        rc = v_tmpl(vc, m, path);
        if (rc != AF_OK)
            return rc;
        path_pop(path, mark);
    }
    return AF_OK;
}

static af_rc v_auth(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    static const char *const methods[] = {
        "client", "basic", "client_secret_basic", "post", "client_secret_post", "none"};
    static const struct krule rules[] = {
        {"method", TS, true, NULL}, {"id", TS, false, v_tmpl}, {"secret", TS, false, v_tmpl}};
    const char *m;
    size_t i;
    af_rc rc;
    if (json_is_null(v))
        return AF_OK; /* a template's auth removed: no client authentication at all */
    if (json_is_object(v)) {
        rc = CHECK_OBJ(vc, v, rules, path);
        if (rc != AF_OK)
            return rc;
        m = json_string_value(json_object_get(v, "method"));
        if (strcmp(m, "client") == 0)
            return vfail(vc, path, "method \"client\" takes no id or secret");
    } else {
        m = json_string_value(v);
    }
    for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(methods[i], m) == 0)
            return AF_OK;
    return vfail(vc, path,
                 "unknown client authentication \"%s\" (client, basic, client_secret_basic, post, "
                 "client_secret_post, none)",
                 m);
}

static af_rc v_form_pick(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    static const struct krule rules[] = {
        {"index", TI, false, NULL}, {"id", TS, false, NULL}, {"action", TS, false, v_regex}};
    return CHECK_OBJ(vc, v, rules, path);
}

static af_rc v_field(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    if (!json_is_string(v) && !json_is_null(v))
        return vfail(vc, path, "must be a string or null, not %s", af_json_type_name(v));
    return v_tmpl(vc, v, path);
}

static af_rc v_fields(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    return v_named(vc, v, path, v_field);
}

static af_rc v_submit(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    static const struct krule rules[] = {{"form", TO, false, v_form_pick},
                                         {"fields", TO, false, v_fields},
                                         {"button", TS, false, v_tmpl}};
    return CHECK_OBJ(vc, v, rules, path);
}

static af_rc v_method(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    const char *p = json_string_value(v);
    if (strstr(p, "{{") != NULL)
        return v_tmpl(vc, v, path); /* "{{res.method}}": checked when expanded */
    if (*p == '\0')
        return vfail(vc, path, "empty method");
    for (; *p; p++)
        if (!isupper((unsigned char)*p))
            return vfail(vc, path, "\"%s\": a method is upper-case letters (GET, POST...)",
                         json_string_value(v));
    return AF_OK;
}

static const struct krule request_rules[] = {
    {"template", TS, false, NULL},
    {"method", TS, false, v_method},
    {"url", TS, false, v_tmpl},
    {"query", TO | TA, false, v_params},
    {"form", TO | TA | TS, false, v_form_spec},
    {"headers", TO, false, v_headers},
    {"body", TS, false, v_tmpl},
    {"json", TANY, false, v_tmpl_tree},
    {"auth", TS | TO | TZ, false, v_auth},
    {"bearer", TS, false, v_tmpl},
    {"submit", TO, false, v_submit},
    {"admin", TS, false, v_tmpl},
    {"cookies", TB, false, NULL},
};

/* The request's template chain must exist and end; the effective request
 * needs a url or a submit. */
static af_rc v_request_chain(struct vctx *vc, const json_t *req, struct af_buf *path)
{
    json_t *templates = json_object_get(vc->root, "templates");
    const json_t *cur = req;
    bool has_url = false, has_submit = false;
    int depth = 0;
    if (json_object_get(req, "admin") != NULL &&
        (json_object_get(req, "url") != NULL || json_object_get(req, "submit") != NULL))
        return vfail(vc, path, "give one of \"url\", \"admin\" and \"submit\"");
    while (cur != NULL) {
        const char *t;
        has_url =
            has_url || json_object_get(cur, "url") != NULL || json_object_get(cur, "admin") != NULL;
        has_submit = has_submit || json_object_get(cur, "submit") != NULL;
        t = json_string_value(json_object_get(cur, "template"));
        if (t == NULL)
            break;
        if (++depth > AF_PROBE_TMPL_DEPTH)
            return vfail(vc, path, "templates extend each other more than %d deep (a cycle?)",
                         AF_PROBE_TMPL_DEPTH);
        cur = json_object_get(templates, t);
        if (cur == NULL) {
            size_t mark;
            (void)path_push(path, "template", &mark);
            return vfail(vc, path, "template \"%s\" is not defined", t);
        }
    }
    if (!has_url && !has_submit)
        return vfail(vc, path,
                     "the request has no \"url\" (nor \"submit\"), also not through its "
                     "template");
    if (has_url && json_object_get(req, "submit") != NULL && json_object_get(req, "url") != NULL)
        return vfail(vc, path, "give either \"url\" or \"submit\", not both");
    return AF_OK;
}

static af_rc v_request(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    af_rc rc = CHECK_OBJ(vc, v, request_rules, path);
    if (rc != AF_OK)
        return rc;
    return v_request_chain(vc, v, path);
}

static af_rc v_template(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    /* A template may be partial: it needs no url of its own. */
    return CHECK_OBJ(vc, v, request_rules, path);
}

/* ---- steps ---- */

static af_rc v_follow(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    static const struct krule rules[] = {
        {"max_hops", TI, false, NULL}, {"login", TB, false, NULL}, {"cancel", TB, false, NULL}};
    json_t *mh;
    af_rc rc;
    if (json_is_boolean(v))
        return AF_OK;
    rc = CHECK_OBJ(vc, v, rules, path);
    if (rc != AF_OK)
        return rc;
    mh = json_object_get(v, "max_hops");
    if (mh && (json_integer_value(mh) < 1 || json_integer_value(mh) > AF_PROBE_MAX_HOPS))
        return vfail(vc, path, "max_hops must be 1..%d", AF_PROBE_MAX_HOPS);
    return AF_OK;
}

static af_rc v_expect(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    struct af_err e;
    af_err_clear(&e);
    return lift(vc, af_expect_check(v, path, &e), &e);
}

static af_rc v_expect_list(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    return v_each(vc, v, path, v_expect);
}

static af_rc v_capture(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    static const struct krule rules[] = {{"from", TS, true, NULL},
                                         {"optional", TB, false, NULL},
                                         {"claim", TS, false, v_tmpl},
                                         {"on", TS | TI | TO, false, NULL}};
    static const char *const on_names[] = {"last", "first", "page", "after_submit"};
    const char *k;
    json_t *m;
    size_t mark, i;
    af_rc rc;
    struct af_err e;
    json_object_foreach((json_t *)v, k, m)
    {
        const char *why, *sel;
        json_t *on;
        if (path_push(path, k, &mark) != AF_OK)
            return AF_ERR_NOMEM;
        if (!af_var_name_valid(k, &why)) {
            vc->at_key = true;
            return vfail(vc, path, "the capture name \"%s\" %s", k, why);
        }
        if (json_is_object(m)) {
            rc = CHECK_OBJ(vc, m, rules, path);
            if (rc != AF_OK)
                return rc;
            sel = json_string_value(json_object_get(m, "from"));
            on = json_object_get(m, "on");
            if (json_is_string(on)) {
                bool ok = false;
                for (i = 0; i < 4; i++)
                    ok = ok || strcmp(on_names[i], json_string_value(on)) == 0;
                if (!ok)
                    return vfail(vc, path,
                                 "\"on\" must be last, first, page, after_submit or a "
                                 "hop number");
            } else if (json_is_integer(on) && json_integer_value(on) < 0) {
                return vfail(vc, path, "\"on\" must not be negative");
            } else if (json_is_object(on)) {
                af_err_clear(&e);
                if (af_on_check(on, &e) != AF_OK)
                    return vfail(vc, path,
                                 "\"on\" as an object is {\"url\": PREFIX} or "
                                 "{\"location\": PREFIX}");
            }
        } else if (json_is_string(m)) {
            sel = json_string_value(m);
        } else {
            return vfail(vc, path, "must be a selector string or an object, not %s",
                         af_json_type_name(m));
        }
        af_err_clear(&e);
        /* a templated selector is checked once expanded, at run time */
        rc = strstr(sel, "{{") != NULL ? lift(vc, af_tmpl_check(sel, &e), &e)
                                       : lift(vc, af_sel_check(sel, &e), &e);
        if (rc != AF_OK)
            return rc;
        path_pop(path, mark);
    }
    return AF_OK;
}

static af_rc v_sleep(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    if (json_is_number(v) && (json_number_value(v) < 0 || json_number_value(v) > 3600))
        return vfail(vc, path, "must be 0..3600 seconds");
    return v_tmpl(vc, v, path);
}

static af_rc v_use(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    if (json_object_get(json_object_get(vc->root, "fixtures"), json_string_value(v)) == NULL)
        return vfail(vc, path, "fixture \"%s\" is not defined", json_string_value(v));
    return AF_OK;
}

static af_rc v_forge(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    struct af_err e;
    af_err_clear(&e);
    if (lift(vc, af_forge_check(v, &e), &e) != AF_OK)
        return AF_ERR_INVALID;
    return v_tmpl_tree(vc, v, path);
}

/* v_member_request: the request object under key of v, its path named
 * (left as it is when it fails, for the message). */
static af_rc v_member_request(struct vctx *vc, const json_t *v, const char *key,
                              struct af_buf *path)
{
    size_t mark;
    af_rc rc;
    if (path_push(path, key, &mark) != AF_OK)
        return AF_ERR_NOMEM;
    rc = v_request(vc, json_object_get(v, key), path);
    if (rc == AF_OK)
        path_pop(path, mark);
    return rc;
}

static af_rc v_concurrent(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    struct af_err e;
    af_rc rc;
    af_err_clear(&e);
    if (lift(vc, af_concurrent_check(v, &e), &e) != AF_OK)
        return AF_ERR_INVALID;
    rc = v_member_request(vc, v, "login", path);
    if (rc == AF_OK)
        rc = v_member_request(vc, v, "request", path);
    return rc != AF_OK ? rc : v_tmpl_tree(vc, v, path);
}

static af_rc v_race(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    struct af_err e;
    size_t mark;
    af_rc rc;
    af_err_clear(&e);
    if (lift(vc, af_race_check(v, &e), &e) != AF_OK)
        return AF_ERR_INVALID;
    rc = v_member_request(vc, v, "request", path);
    if (rc != AF_OK || json_object_get(v, "again") == NULL)
        return rc;
    if (path_push(path, "again", &mark) != AF_OK)
        return AF_ERR_NOMEM;
    rc = v_use(vc, json_object_get(v, "again"), path);
    if (rc == AF_OK)
        path_pop(path, mark); /* on failure the message names the path as it is */
    return rc;
}

/* v_run: a command: a list of strings, or a whole reference to one. */
static af_rc v_run(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    if (json_is_array(v) && json_array_size(v) == 0)
        return vfail(vc, path, "a command: [\"program\", \"argument\", ...]");
    return json_is_array(v) ? v_strings(vc, v, path) : v_tmpl(vc, v, path);
}

static af_rc v_as(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    const char *why;
    if (!af_var_name_valid(json_string_value(v), &why))
        return vfail(vc, path, "%s", why);
    return AF_OK;
}

/* v_listen: a forge step's "listen": {"as": NAME, "body": TEMPLATE}, the
 * variable that gets the URL of a document of the probe's server (the
 * forge's templates may name it) and what that document says. */
static af_rc v_listen(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    static const struct krule rules[] = {{"as", TS, true, v_as}, {"body", TS, true, v_tmpl}};
    return CHECK_OBJ(vc, v, rules, path);
}

static const struct krule step_rules[] = {
    {"name", TS, false, NULL},
    {"request", TO, false, v_request},
    {"sleep", TS | TN, false, v_sleep},
    {"follow", TB | TO, false, v_follow},
    {"flow", TS, false, v_id},
    {"when", TA, false, v_cond_list},
    {"if", TA, false, v_cond_list},
    {"bind", TO, false, v_bind},
    {"set", TO, false, v_set},
    {"expect", TA, false, v_expect_list},
    {"capture", TO, false, v_capture},
    {"allow_5xx", TB, false, NULL},
    {"use", TS, false, v_use},
    {"allow_unreachable", TB, false, NULL},
    {"always", TB, false, NULL},
    {"forge", TO, false, v_forge},
    {"as", TS, false, v_as},
    {"log_as", TS, false, v_as},
    {"listen", TO, false, v_listen},
    {"optional", TB, false, NULL},
    {"run", TS | TA, false, v_run},
    {"concurrent", TO, false, v_concurrent},
    {"race", TO, false, v_race},
};

static af_rc v_step(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    static const char *const kinds[] = {"request", "sleep", "use",       "forge",
                                        "run",     "race",  "concurrent"};
    const json_t *listen = json_object_get(v, "listen");
    const char *kind = NULL;
    size_t i, nk = 0;
    af_rc rc = CHECK_OBJ(vc, v, step_rules, path);
    if (rc != AF_OK)
        return rc;
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (json_object_get(v, kinds[i]) != NULL) {
            kind = kinds[i];
            nk++;
        }
    }
    if (nk == 0 && json_object_get(v, "expect") != NULL) {
        /* a step that judges what earlier steps captured: samples only */
        json_t *m;
        json_array_foreach(json_object_get(v, "expect"), i, m)
        {
            if (json_object_get(m, "samples") == NULL)
                return vfail(vc, path,
                             "a step without a request judges captured values only: its "
                             "expectations must be \"samples\" (expect[%zu] is not)",
                             i);
        }
        if (json_object_get(v, "capture") || json_object_get(v, "follow") ||
            json_object_get(v, "allow_5xx") || json_object_get(v, "allow_unreachable"))
            return vfail(vc, path, "a step without a request takes no capture, follow or allow_*");
        return AF_OK;
    }
    if (nk != 1)
        return vfail(vc, path,
                     "a step has exactly one of \"request\", \"sleep\", \"use\", "
                     "\"forge\", \"run\", \"race\" and \"concurrent\" (or only "
                     "\"expect\" with samples)");
    if (strcmp(kind, "request") != 0 &&
        (json_object_get(v, "expect") || json_object_get(v, "capture") ||
         json_object_get(v, "follow") || json_object_get(v, "allow_5xx") ||
         json_object_get(v, "allow_unreachable")))
        return vfail(vc, path, "a %s step takes no expect, capture, follow or allow_*", kind);
    if ((strcmp(kind, "forge") == 0) != (json_object_get(v, "as") != NULL))
        return vfail(vc, path, "\"as\" names the token of a forge step, and only there");
    if (strcmp(kind, "forge") != 0 &&
        (json_object_get(v, "log_as") || json_object_get(v, "optional") || listen != NULL))
        return vfail(vc, path, "\"log_as\", \"listen\" and \"optional\" belong to a forge step");
    if (listen != NULL && af_forge_serves(json_object_get(v, "forge")) != NULL)
        return vfail(vc, path, "a forge step that serves (sign: jku or x5u) takes no \"listen\"");
    if (json_object_get(v, "log_as") != NULL && listen == NULL &&
        af_forge_serves(json_object_get(v, "forge")) == NULL)
        return vfail(vc, path,
                     "\"log_as\" names the log of what a forge step serves (sign: jku or x5u, "
                     "or listen)");
    return AF_OK;
}

static af_rc v_steps(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    return v_each(vc, v, path, v_step);
}

/* ---- needs, checks, fixtures ---- */

static af_rc v_need(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    static const struct krule rules[] = {{"fixture", TS, true, NULL},
                                         {"as", TS, false, NULL},
                                         {"bind", TO, false, v_bind},
                                         {"set", TO, false, v_set}};
    json_t *fixtures = json_object_get(vc->root, "fixtures");
    const char *name;
    if (json_is_object(v)) {
        const char *why;
        af_rc rc = CHECK_OBJ(vc, v, rules, path);
        if (rc != AF_OK)
            return rc;
        name = json_string_value(json_object_get(v, "fixture"));
        if (json_object_get(v, "as") &&
            !af_var_name_valid(json_string_value(json_object_get(v, "as")), &why))
            return vfail(vc, path, "\"as\" %s", why);
    } else if (json_is_string(v)) {
        name = json_string_value(v);
    } else {
        return vfail(vc, path, "must be a fixture name or an object, not %s", af_json_type_name(v));
    }
    if (json_object_get(fixtures, name) == NULL)
        return vfail(vc, path, "fixture \"%s\" is not defined", name);
    return AF_OK;
}

static af_rc v_needs(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    return v_each(vc, v, path, v_need);
}

static af_rc v_var_path(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    const char *p = json_string_value(v);
    if (*p == '\0')
        return vfail(vc, path, "must be a variable name, not empty");
    for (; *p; p++)
        if (!(isalnum((unsigned char)*p) || strchr("_-.[]", *p) != NULL))
            return vfail(vc, path, "\"%s\" is not a variable name", json_string_value(v));
    return AF_OK;
}

static af_rc v_loop(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    static const struct krule rules[] = {
        {"var", TS, true, NULL}, {"in", TS, true, v_var_path}, {"defaults", TS, false, v_var_path}};
    const char *why, *var;
    af_rc rc = CHECK_OBJ(vc, v, rules, path);
    if (rc != AF_OK)
        return rc;
    var = json_string_value(json_object_get(v, "var"));
    if (strpbrk(var, ".[") != NULL || !af_var_name_valid(var, &why)) {
        size_t mark;
        (void)path_push(path, "var", &mark);
        return vfail(vc, path, "\"%s\" cannot name an element: a plain name is needed", var);
    }
    return AF_OK;
}

/* foreach: one loop object, or a list of them (nested, in order). */
static af_rc v_foreach(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    size_t i, j, mark;
    json_t *m;
    af_rc rc;
    if (json_is_object(v))
        return v_loop(vc, v, path);
    if (json_array_size(v) == 0 || json_array_size(v) > 4)
        return vfail(vc, path, "must list 1 to 4 loops");
    json_array_foreach(v, i, m)
    {
        if (path_pushi(path, i, &mark) != AF_OK)
            return AF_ERR_NOMEM;
        rc = v_loop(vc, m, path);
        if (rc != AF_OK)
            return rc;
        for (j = 0; j < i; j++)
            if (strcmp(json_string_value(json_object_get(m, "var")),
                       json_string_value(json_object_get(json_array_get(v, j), "var"))) == 0)
                return vfail(vc, path, "the loop variable \"%s\" is used twice",
                             json_string_value(json_object_get(m, "var")));
        path_pop(path, mark);
    }
    return AF_OK;
}

static af_rc v_check(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    static const struct krule rules[] = {
        {"id", TS, true, v_id},
        {"title", TS, true, NULL},
        {"spec", TS, true, NULL},
        {"severity", TS, false, v_severity},
        {"keywords", TA, false, v_strings},
        {"description", TS, false, NULL},
        {"when", TA, false, v_cond_list},
        {"requires", TA, false, v_strings},
        {"bind", TO, false, v_bind},
        {"set", TO, false, v_set},
        {"needs", TA, false, v_needs},
        {"steps", TA, true, v_steps},
        {"foreach", TO | TA, false, v_foreach},
    };
    af_rc rc = CHECK_OBJ(vc, v, rules, path);
    if (rc != AF_OK)
        return rc;
    if (json_array_size(json_object_get(v, "steps")) == 0) {
        size_t mark;
        (void)path_push(path, "steps", &mark);
        return vfail(vc, path, "a check needs at least one step");
    }
    return AF_OK;
}

static af_rc v_checks(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    size_t i, j, mark;
    json_t *m;
    af_rc rc;
    if (json_array_size(v) == 0)
        return vfail(vc, path, "a suite needs at least one check");
    json_array_foreach(v, i, m)
    {
        const char *id;
        if (path_pushi(path, i, &mark) != AF_OK)
            return AF_ERR_NOMEM;
        rc = v_check(vc, m, path);
        if (rc != AF_OK)
            return rc;
        id = json_string_value(json_object_get(m, "id"));
        for (j = 0; j < i; j++) {
            const char *o = json_string_value(json_object_get(json_array_get(v, j), "id"));
            if (strcasecmp(o, id) == 0) {
                (void)path_push(path, "id", &mark);
                return vfail(vc, path, "\"%s\" is used twice (first at checks[%zu])", id, j);
            }
        }
        path_pop(path, mark);
    }
    return AF_OK;
}

static af_rc v_fixture(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    static const struct krule rules[] = {
        {"title", TS, false, NULL},    {"description", TS, false, NULL},
        {"needs", TA, false, v_needs}, {"bind", TO, false, v_bind},
        {"set", TO, false, v_set},     {"steps", TA, true, v_steps},
        {"setup", TB, false, NULL},
    };
    return CHECK_OBJ(vc, v, rules, path);
}

static af_rc v_fixtures(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    return v_named(vc, v, path, v_fixture);
}

static af_rc v_templates(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    return v_named(vc, v, path, v_template);
}

/* fixture_cycle: depth-first over needs; state 1 = on the stack. */
static af_rc fixture_cycle(struct vctx *vc, const char *name, json_t *state, int depth,
                           struct af_buf *path)
{
    json_t *fixtures = json_object_get(vc->root, "fixtures");
    json_t *fx = json_object_get(fixtures, name), *m;
    json_t *st = json_object_get(state, name);
    size_t i;
    af_rc rc;
    if (json_integer_value(st) == 2)
        return AF_OK;
    if (json_integer_value(st) == 1 || depth > 16) {
        af_buf_reset(path);
        af_msg_addf(path, ".fixtures.%s.needs", name);
        return vfail(vc, path, "fixture \"%s\" needs itself (a cycle)", name);
    }
    json_object_set_new(state, name, json_integer(1));
    json_array_foreach(json_object_get(fx, "needs"), i, m)
    {
        const char *n = json_is_string(m) ? json_string_value(m)
                                          : json_string_value(json_object_get(m, "fixture"));
        rc = fixture_cycle(vc, n, state, depth + 1, path);
        if (rc != AF_OK)
            return rc;
    }
    json_object_set_new(state, name, json_integer(2));
    return AF_OK;
}

static const struct krule suite_rules[] = {
    {"suite", TS, true, v_id},
    {"title", TS, false, NULL},
    {"description", TS, false, NULL},
    {"format", TI, false, NULL},
    {"vars", TO, false, v_tmpl_tree},
    {"bind", TO, false, v_bind},
    {"templates", TO, false, v_templates},
    {"fixtures", TO, false, v_fixtures},
    {"checks", TA, true, v_checks},
};

/* ---- loading ---- */

static af_rc read_file(const char *path, char **out, size_t *len, struct af_err *err)
{
    FILE *f = fopen(path, "rb");
    struct af_buf b;
    char chunk[16384];
    size_t n;
    af_rc rc = AF_OK;

    *out = NULL;
    if (f == NULL)
        return AF_ERR_SET(err, AF_ERR_IO, "%s: cannot open: %m", path);
    af_buf_init(&b, AF_SUITE_MAX_FILE);
    for (;;) {
        n = fread(chunk, 1, sizeof(chunk), f);
        if (n == 0)
            break;
        rc = af_buf_add(&b, chunk, n);
        if (rc != AF_OK)
            break;
    }
    if (rc == AF_ERR_TOOBIG)
        rc = AF_ERR_SET(err, rc, "%s: larger than %d bytes", path, AF_SUITE_MAX_FILE);
    else if (rc == AF_OK && ferror(f))
        rc = AF_ERR_SET(err, AF_ERR_IO, "%s: read error", path);
    fclose(f);
    if (rc == AF_OK) {
        *len = b.len;
        *out = af_buf_detach(&b);
        if (*out == NULL)
            rc = AF_ERR_NOMEM;
    }
    af_buf_free(&b);
    return rc;
}

static json_t *parse_json(const char *name, const char *text, size_t len, struct af_err *err)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        char path[160];
        size_t off = je.position > 0 ? (size_t)je.position : 0;
        af_jsonpos_path_at(text, len, off, path, sizeof(path));
        AF_ERR_SET(err, AF_ERR_PARSE, "%s:%d:%d: %s: %s%s", name, je.line > 0 ? je.line : 1,
                   je.column > 0 ? je.column : 1, path[0] ? path : "(top level)",
                   json_error_code(&je) == json_error_duplicate_key ? "duplicate key: "
                                                                    : "syntax error: ",
                   je.text);
    }
    return root;
}

/* load_root: parse text and check its top level against rules. vc->root is
 * a new reference the caller releases, NULL when text is no JSON (err is
 * then set); a validation failure is returned as is, for located(). */
static af_rc load_root(struct vctx *vc, const char *text, size_t len, const char *name,
                       const struct krule *rules, size_t nr, struct af_buf *path,
                       struct af_err *err)
{
    af_rc rc;

    memset(vc, 0, sizeof(*vc));
    vc->name = name;
    vc->text = text;
    vc->len = len;
    vc->err = err;
    vc->root = parse_json(name, text, len, err);
    if (vc->root == NULL) {
        rc = AF_ERR_PARSE;
        goto out;
    }
    rc = check_obj(vc, vc->root, rules, nr, path);
out:
    return rc;
}

/* string_len: the length of text for af_*_load_string, which refuses more
 * than AF_SUITE_MAX_FILE bytes. */
static af_rc string_len(const char *text, const char *name, size_t *len, struct af_err *err)
{
    af_rc rc = AF_OK;

    *len = strnlen(text, (size_t)AF_SUITE_MAX_FILE + 1);
    if (*len > AF_SUITE_MAX_FILE)
        rc = AF_ERR_SET(err, AF_ERR_TOOBIG, "%s: larger than %d bytes", name, AF_SUITE_MAX_FILE);
    return rc;
}

static af_rc suite_load(const char *text, size_t len, const char *name, struct af_suite **out,
                        struct af_err *err)
{
    struct af_suite *s = NULL;
    struct vctx vc;
    struct af_buf path;
    json_t *root, *state = NULL, *fmt;
    const char *k;
    json_t *m;
    af_rc rc;

    *out = NULL;
    af_buf_init(&path, 4096);
    rc = load_root(&vc, text, len, name, suite_rules, sizeof(suite_rules) / sizeof(suite_rules[0]),
                   &path, err);
    root = vc.root;
    if (root == NULL)
        goto out;
    if (rc == AF_OK) {
        fmt = json_object_get(root, "format");
        if (fmt != NULL && json_integer_value(fmt) != 1) {
            af_msg_add(&path, ".format");
            rc = vfail(&vc, &path, "format %" JSON_INTEGER_FORMAT " is not known (only 1)",
                       json_integer_value(fmt));
        }
    }
    if (rc == AF_OK) {
        state = json_object();
        json_object_foreach(json_object_get(root, "fixtures"), k, m)
        {
            rc = fixture_cycle(&vc, k, state, 0, &path);
            if (rc != AF_OK)
                break;
        }
    }
    if (rc != AF_OK) {
        if (rc != AF_ERR_NOMEM)
            rc = located(&vc, rc, af_buf_str(&path));
        goto out;
    }
    s = calloc(1, sizeof(*s));
    if (s != NULL)
        s->name = strdup(name);
    if (s == NULL || s->name == NULL) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    s->root = root;
    root = NULL;
#define ENSURE(field, key)                                                                         \
    do {                                                                                           \
        s->field = json_object_get(s->root, key);                                                  \
        if (s->field == NULL) {                                                                    \
            json_object_set_new(s->root, key, json_object());                                      \
            s->field = json_object_get(s->root, key);                                              \
        }                                                                                          \
    } while (0)
    ENSURE(fixtures, "fixtures");
    ENSURE(templates, "templates");
    ENSURE(vars, "vars");
    ENSURE(bind, "bind");
#undef ENSURE
    s->checks = json_object_get(s->root, "checks");
    if (!s->fixtures || !s->templates || !s->vars || !s->bind) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    *out = s;
    s = NULL;
    rc = AF_OK;
out:
    json_decref(state);
    json_decref(root);
    af_suite_free(s);
    af_buf_free(&path);
    return rc;
}

af_rc af_suite_load_file(const char *path, struct af_suite **out, struct af_err *err)
{
    char *text = NULL;
    size_t len = 0;
    af_rc rc = read_file(path, &text, &len, err);
    *out = NULL;
    if (rc == AF_OK)
        rc = suite_load(text, len, path, out, err);
    free(text);
    return rc;
}

af_rc af_suite_load_string(const char *text, const char *name, struct af_suite **out,
                           struct af_err *err)
{
    size_t len;
    af_rc rc = string_len(text, name, &len, err);
    *out = NULL;
    if (rc == AF_OK)
        rc = suite_load(text, len, name ? name : "<string>", out, err);
    return rc;
}

void af_suite_free(struct af_suite *s)
{
    if (s == NULL)
        return;
    json_decref(s->root);
    free(s->name);
    free(s);
}

const char *af_suite_name(const struct af_suite *s)
{
    return json_string_value(json_object_get(s->root, "suite"));
}

const char *af_suite_title(const struct af_suite *s)
{
    const char *t = json_string_value(json_object_get(s->root, "title"));
    return t ? t : "";
}

size_t af_suite_count(const struct af_suite *s)
{
    return json_array_size(s->checks);
}

void af_suite_check(const struct af_suite *s, size_t i, struct af_check_info *out)
{
    const json_t *c = json_array_get(s->checks, i);
    const char *sev = json_string_value(json_object_get(c, "severity"));
    out->id = json_string_value(json_object_get(c, "id"));
    out->title = json_string_value(json_object_get(c, "title"));
    out->spec = json_string_value(json_object_get(c, "spec"));
    out->severity = (sev && strcmp(sev, "SHOULD") == 0) ? AF_SEV_SHOULD : AF_SEV_MUST;
}

static bool pattern_hits(const json_t *c, const char *pat)
{
    const char *id = json_string_value(json_object_get(c, "id"));
    size_t pl = strlen(pat), i;
    json_t *k;
    if (strcasecmp(id, pat) == 0)
        return true;
    if (pl > 0 && strncasecmp(id, pat, pl) == 0 && !isdigit((unsigned char)id[pl]))
        return true;
    if (strpbrk(pat, "*?[") != NULL && fnmatch(pat, id, FNM_CASEFOLD) == 0)
        return true;
    json_array_foreach(json_object_get(c, "keywords"), i, k)
    {
        if (strcasecmp(json_string_value(k), pat) == 0)
            return true;
    }
    return false;
}

bool af_suite_selected(const struct af_suite *s, size_t i, const struct af_probe_filter *f)
{
    const json_t *c = json_array_get(s->checks, i);
    size_t j;
    bool in = true;
    if (f == NULL)
        return true;
    if (f->nonly > 0) {
        in = false;
        for (j = 0; j < f->nonly && !in; j++)
            in = pattern_hits(c, f->only[j]);
    }
    for (j = 0; in && j < f->nskip; j++)
        if (pattern_hits(c, f->skip[j]))
            in = false;
    return in;
}

/* ---- target profiles ---- */

static af_rc v_free_tmpl(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    return v_tmpl_tree(vc, v, path);
}

static af_rc v_client(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    const json_t *m;
    size_t mark;
    if (!json_is_object(v))
        return vfail(vc, path, "a client must be an object, not %s", af_json_type_name(v));
    m = json_object_get(v, "auth");
    if (m != NULL) {
        static const char *const ok[] = {"client_secret_basic", "client_secret_post", "none",
                                         "basic", "post"};
        size_t i;
        bool hit = false;
        (void)path_push(path, "auth", &mark);
        if (!json_is_string(m))
            return vfail(vc, path, "must be a string");
        for (i = 0; i < 5; i++)
            hit = hit || strcmp(ok[i], json_string_value(m)) == 0;
        if (!hit && strstr(json_string_value(m), "{{") == NULL)
            return vfail(vc, path,
                         "unknown method \"%s\" (client_secret_basic, client_secret_post, none)",
                         json_string_value(m));
        path_pop(path, mark);
    }
    {
        static const char *const strs[] = {"id", "secret", "redirect_uri", "scope"};
        size_t i;
        for (i = 0; i < 4; i++) {
            m = json_object_get(v, strs[i]);
            if (m != NULL && !json_is_string(m)) {
                (void)path_push(path, strs[i], &mark);
                return vfail(vc, path, "must be a string, not %s", af_json_type_name(m));
            }
        }
        m = json_object_get(v, "redirect_uris");
        if (m != NULL && !json_is_array(m)) {
            (void)path_push(path, "redirect_uris", &mark);
            return vfail(vc, path, "must be an array of strings");
        }
    }
    return v_tmpl_tree(vc, v, path);
}

static af_rc v_clients(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    return v_named(vc, v, path, v_client);
}

static af_rc v_rule(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    static const struct krule rules[] = {
        {"match", TS, false, NULL},       {"url", TS, false, v_regex},
        {"form", TO, false, v_form_pick}, {"fields", TO, false, v_fields},
        {"button", TS, false, v_tmpl},    {"link", TS, false, NULL},
        {"max", TI, false, NULL},         {"name", TS, false, NULL},
    };
    af_rc rc = CHECK_OBJ(vc, v, rules, path);
    if (rc == AF_OK && json_object_get(v, "link") &&
        (json_object_get(v, "fields") || json_object_get(v, "button")))
        rc = vfail(vc, path, "a rule follows a link or fills a form, not both");
    return rc;
}

static af_rc v_rules(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    return v_each(vc, v, path, v_rule);
}

static af_rc v_login(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    static const struct krule rules[] = {{"forms", TA, false, v_rules},
                                         {"cancel", TO, false, v_rule},
                                         {"max_hops", TI, false, NULL}};
    af_rc rc = CHECK_OBJ(vc, v, rules, path);
    json_t *mh = json_object_get(v, "max_hops");
    if (rc == AF_OK && mh != NULL &&
        (json_integer_value(mh) < 1 || json_integer_value(mh) > AF_PROBE_MAX_HOPS))
        rc = vfail(vc, path, "max_hops must be 1..%d", AF_PROBE_MAX_HOPS);
    return rc;
}

static af_rc v_tls(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    static const struct krule rules[] = {{"cacert", TS, false, NULL},
                                         {"insecure", TB, false, NULL}};
    return CHECK_OBJ(vc, v, rules, path);
}

static af_rc v_positive(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    if (json_integer_value(v) < 1)
        return vfail(vc, path, "must be at least 1");
    return AF_OK;
}

static af_rc v_skipmap(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    const char *k;
    json_t *m;
    size_t mark;
    json_object_foreach((json_t *)v, k, m)
    {
        if (!json_is_string(m)) {
            (void)path_push(path, k, &mark);
            return vfail(vc, path, "must be the reason (a string)");
        }
    }
    return AF_OK;
}

static af_rc v_discovery(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    return v_tmpl(vc, v, path);
}

/* ---- profile parts for the rs and rp suites ---- */

static af_rc v_admin(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    static const struct krule rules[] = {{"url", TS, false, v_tmpl}, {"secret", TS, false, v_tmpl}};
    return CHECK_OBJ(vc, v, rules, path);
}

/* A principal: for the rs suite a mint request ("user", ...), for the api
 * suite a login ("username", "password"). */
static af_rc v_principal(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    static const struct krule rules[] = {
        {"user", TS | TZ, false, v_tmpl},     {"client", TS, false, v_tmpl},
        {"claims", TO, false, v_tmpl_tree},   {"scope", TS, false, v_tmpl},
        {"aud", TS | TA, false, v_tmpl_tree}, {"description", TS, false, NULL},
        {"username", TS, false, v_tmpl},      {"password", TS, false, v_tmpl},
    };
    af_rc rc = CHECK_OBJ(vc, v, rules, path);
    if (rc == AF_OK && json_object_get(v, "user") == NULL && json_object_get(v, "username") == NULL)
        rc = vfail(vc, path,
                   "missing key \"user\" (a token minted for a user) or \"username\" "
                   "(a login)");
    return rc;
}

static af_rc v_principals(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    return v_named(vc, v, path, v_principal);
}

/* A status a profile may give: 401, [403, 404], "4xx", {"min", "max"}. */
static af_rc v_status_spec(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    size_t i;
    json_t *m;
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 100 || json_integer_value(v) > 599)
            return vfail(vc, path, "a status is 100..599");
    } else if (json_is_array(v)) {
        if (json_array_size(v) == 0)
            return vfail(vc, path, "an empty list of statuses");
        json_array_foreach(v, i, m)
        {
            if (!json_is_integer(m) || json_integer_value(m) < 100 || json_integer_value(m) > 599)
                return vfail(vc, path, "a list of statuses 100..599");
        }
    } else if (json_is_string(v)) {
        const char *st = json_string_value(v);
        if (strlen(st) != 3 || st[0] < '1' || st[0] > '5' || strcmp(st + 1, "xx") != 0)
            return vfail(vc, path, "\"%s\": a status class is written \"4xx\"", st);
    } else if (json_is_object(v)) {
        static const struct krule rules[] = {{"min", TI, false, NULL}, {"max", TI, false, NULL}};
        return CHECK_OBJ(vc, v, rules, path);
    } else {
        return vfail(vc, path, "a status: 401, [403, 404], \"4xx\" or {\"min\", \"max\"}");
    }
    return AF_OK;
}

static af_rc v_error_in(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    const char *m = json_string_value(v);
    if (strcmp(m, "header") != 0 && strcmp(m, "json") != 0 && strcmp(m, "none") != 0)
        return vfail(vc, path, "\"%s\": header, json or none", m);
    return AF_OK;
}

static af_rc v_resource(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    static const struct krule rules[] = {
        {"name", TS, false, NULL},
        {"url", TS, true, v_tmpl},
        {"method", TS, false, v_method},
        {"content_type", TS, false, v_tmpl},
        {"json", TANY, false, v_tmpl_tree},
        {"body", TS, false, v_tmpl},
        {"scope", TS, false, v_tmpl},
        {"allow", TA, false, v_strings},
        {"deny", TA, false, v_strings},
        {"deny_status", TI | TA | TS | TO, false, v_status_spec},
        {"ok_status", TI | TA | TS | TO, false, v_status_spec},
        {"challenge", TB, false, NULL},
        {"error_in", TS, false, v_error_in},
        {"error_key", TS, false, NULL},
        {"status_invalid_token", TI | TA | TS | TO, false, v_status_spec},
        {"status_insufficient_scope", TI | TA | TS | TO, false, v_status_spec},
        {"status_invalid_request", TI | TA | TS | TO, false, v_status_spec},
        {"error_invalid_token", TS, false, NULL},
        {"error_insufficient_scope", TS, false, NULL},
        {"error_invalid_request", TS, false, NULL},
        {"description", TS, false, NULL},
    };
    af_rc rc = CHECK_OBJ(vc, v, rules, path);
    size_t i, mark;
    json_t *m;
    const json_t *principals = json_object_get(vc->root, "principals");
    static const char *const lists[] = {"allow", "deny"};
    if (rc != AF_OK)
        return rc;
    if (json_object_get(v, "json") != NULL && json_object_get(v, "body") != NULL)
        return vfail(vc, path, "give \"json\" or \"body\", not both");
    for (i = 0; i < 2; i++) {
        size_t j;
        json_array_foreach(json_object_get(v, lists[i]), j, m)
        {
            if (json_object_get(principals, json_string_value(m)) != NULL)
                continue;
            (void)path_push(path, lists[i], &mark);
            (void)path_pushi(path, j, &mark);
            return vfail(vc, path, "\"%s\" is not one of the profile's principals",
                         json_string_value(m));
        }
    }
    return AF_OK;
}

static af_rc v_resources(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    return v_each(vc, v, path, v_resource);
}

/* How an app reports an outcome: a status (and a JSON key), or a redirect. */
static af_rc v_outcome(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    static const struct krule rules[] = {{"status", TI | TA | TS | TO, false, v_status_spec},
                                         {"redirect", TS, false, v_tmpl},
                                         {"json_key", TS | TB, false, NULL}};
    af_rc rc = CHECK_OBJ(vc, v, rules, path);
    const json_t *jk = json_object_get(v, "json_key");
    if (rc == AF_OK && json_is_true(jk))
        rc = vfail(vc, path, "json_key is a key name, or false for none");
    if (rc == AF_OK && json_object_get(v, "redirect") != NULL &&
        (json_object_get(v, "status") != NULL || json_is_string(jk)))
        rc = vfail(vc, path, "give \"redirect\" or \"status\"/\"json_key\", not both");
    return rc;
}

static af_rc v_app_client(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    af_rc rc = v_client(vc, v, path);
    if (rc == AF_OK && json_object_get(v, "id") == NULL)
        rc = vfail(vc, path, "missing key \"id\"");
    return rc;
}

/* app.protocol: what the app logs in with; "oauth2" (no ID token: the
 * TikTok or GitHub kind) makes the ID-token checks not apply. */
static af_rc v_app_protocol(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    const char *p = json_string_value(v);
    if (strcmp(p, "oidc") != 0 && strcmp(p, "oauth2") != 0)
        return vfail(vc, path, "must be \"oidc\" or \"oauth2\", not \"%s\"", p);
    return AF_OK;
}

static af_rc v_app(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    static const struct krule rules[] = {
        {"login", TS, true, v_tmpl},
        {"callback", TS, true, v_tmpl},
        {"protected", TA, true, v_strings},
        {"bearer", TA, false, v_strings},
        {"logout", TS, false, v_tmpl},
        {"logout_method", TS, false, v_method},
        {"authorize", TS, false, v_tmpl},
        {"next_param", TS, false, NULL},
        {"client", TO, true, v_app_client},
        {"success", TO, false, v_outcome},
        {"error", TO, false, v_outcome},
        {"unauthenticated", TO, false, v_outcome},
        {"session_cookie", TS, false, NULL},
        {"description", TS, false, NULL},
        {"protocol", TS, false, v_app_protocol},
        {"identity", TS, false, NULL},
    };
    af_rc rc = CHECK_OBJ(vc, v, rules, path);
    if (rc == AF_OK && json_array_size(json_object_get(v, "protected")) == 0) {
        size_t mark;
        (void)path_push(path, "protected", &mark);
        rc = vfail(vc, path, "list at least one protected URL");
    }
    if (rc == AF_OK) {
        size_t mark;
        (void)path_push(path, "protected", &mark);
        rc = v_tmpl_tree(vc, json_object_get(v, "protected"), path);
        if (rc == AF_OK)
            path_pop(path, mark);
    }
    return rc;
}

/* ---- profile parts for the api suite (docs/api-suite.md) ---- */

/* v_selector: a selector (section 9), or a template that gives one. */
static af_rc v_selector(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    struct af_err e;
    (void)path;
    af_err_clear(&e);
    if (strstr(json_string_value(v), "{{") != NULL)
        return lift(vc, af_tmpl_check(json_string_value(v), &e), &e);
    return lift(vc, af_sel_check(json_string_value(v), &e), &e);
}

static af_rc v_auth_request(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    static const struct krule rules[] = {
        {"url", TS, true, v_tmpl},
        {"form", TO, false, v_tmpl_tree},
        {"json", TANY, false, v_tmpl_tree},
        {"bearer", TB, false, NULL},
        {"oauth2_password", TB, false, NULL},
        {"access_token", TS, false, v_selector},
        {"refresh_token", TS, false, v_selector},
        {"public", TB, false, NULL},
    };
    af_rc rc = CHECK_OBJ(vc, v, rules, path);
    if (rc == AF_OK && json_object_get(v, "form") != NULL && json_object_get(v, "json") != NULL)
        rc = vfail(vc, path, "give \"form\" or \"json\", not both");
    return rc;
}

static af_rc v_auth_me(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    static const struct krule rules[] = {{"url", TS, true, v_tmpl},
                                         {"identity", TS, true, v_selector}};
    return CHECK_OBJ(vc, v, rules, path);
}

/* v_claim_path: a claim's dotted path in a token's claims ("sub",
 * "user.id"): no empty segment. */
static af_rc v_claim_path(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    const char *s = json_string_value(v);
    if (*s == '\0' || *s == '.' || s[strlen(s) - 1] == '.' || strstr(s, "..") != NULL ||
        strpbrk(s, " \t{}") != NULL)
        return vfail(vc, path, "a claim's name, or its dotted path (\"sub\", \"user.id\")");
    return AF_OK;
}

static af_rc v_api_auth(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    static const struct krule rules[] = {
        {"login", TO, true, v_auth_request},
        {"refresh", TO, false, v_auth_request},
        {"logout", TO, false, v_auth_request},
        {"me", TO, false, v_auth_me},
        {"token_lifetime", TI, false, v_positive},
        {"error", TO, false, v_outcome},
        {"jwks", TS, false, v_tmpl},
        {"identity_claim", TS, false, v_claim_path},
    };
    af_rc rc = CHECK_OBJ(vc, v, rules, path);
    if (rc == AF_OK && json_object_get(json_object_get(v, "login"), "access_token") == NULL)
        rc = vfail(vc, path,
                   "login needs \"access_token\": where the answer carries the token "
                   "(json.access_token)");
    return rc;
}

static af_rc v_argv(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    if (json_array_size(v) == 0)
        return vfail(vc, path, "a command: [\"program\", \"argument\", ...]");
    return v_strings(vc, v, path);
}

static af_rc v_health(struct vctx *vc, const json_t *v, struct af_buf *path)
{
    static const struct krule rules[] = {
        {"url", TS, true, v_tmpl},
        {"down", TA, true, v_argv},
        {"up", TA, true, v_argv},
        {"ok_status", TI | TA | TS | TO, false, v_status_spec},
    };
    return CHECK_OBJ(vc, v, rules, path);
}

static const struct krule target_rules[] = {
    {"name", TS, false, NULL},
    {"issuer", TS, true, v_tmpl},
    {"discovery", TB | TS, false, v_discovery},
    {"metadata", TO, false, v_free_tmpl},
    {"clients", TO, false, v_clients},
    {"user", TO, false, v_free_tmpl},
    {"login", TO, false, v_login},
    {"vars", TO, false, v_free_tmpl},
    {"tls", TO, false, v_tls},
    {"timeout_ms", TI, false, v_positive},
    {"max_body", TI, false, v_positive},
    {"skip", TO, false, v_skipmap},
    {"admin", TO, false, v_admin},
    {"principals", TO, false, v_principals},
    {"resources", TA, false, v_resources},
    {"app", TO, false, v_app},
    {"auth", TO, false, v_api_auth},
    {"health", TO, false, v_health},
    {"description", TS, false, NULL},
};

static af_rc target_load(const char *text, size_t len, const char *name, const char *dir,
                         struct af_target **out, struct af_err *err)
{
    struct af_target *t = NULL;
    struct vctx vc;
    struct af_buf path;
    json_t *root;
    af_rc rc;

    *out = NULL;
    af_buf_init(&path, 4096);
    rc = load_root(&vc, text, len, name, target_rules,
                   sizeof(target_rules) / sizeof(target_rules[0]), &path, err);
    root = vc.root;
    if (root == NULL)
        goto out;
    if (rc != AF_OK) {
        if (rc != AF_ERR_NOMEM)
            rc = located(&vc, rc, af_buf_str(&path));
        goto out;
    }
    t = calloc(1, sizeof(*t));
    if (t != NULL) {
        t->name = strdup(name);
        t->dir = strdup(dir);
    }
    if (t == NULL || t->name == NULL || t->dir == NULL) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    t->root = root;
    root = NULL;
    *out = t;
    t = NULL;
    rc = AF_OK;
out:
    json_decref(root);
    af_target_free(t);
    af_buf_free(&path);
    return rc;
}

af_rc af_target_load_file(const char *path, struct af_target **out, struct af_err *err)
{
    char *text = NULL, *pcopy = NULL;
    size_t len = 0;
    af_rc rc = read_file(path, &text, &len, err);
    *out = NULL;
    if (rc == AF_OK) {
        pcopy = strdup(path);
        if (pcopy == NULL)
            rc = AF_ERR_NOMEM;
        else
            rc = target_load(text, len, path, dirname(pcopy), out, err);
    }
    free(pcopy);
    free(text);
    return rc;
}

af_rc af_target_load_string(const char *text, const char *name, struct af_target **out,
                            struct af_err *err)
{
    size_t len;
    af_rc rc = string_len(text, name, &len, err);
    *out = NULL;
    if (rc == AF_OK)
        rc = target_load(text, len, name ? name : "<string>", ".", out, err);
    return rc;
}

void af_target_free(struct af_target *t)
{
    if (t == NULL)
        return;
    json_decref(t->root);
    free(t->name);
    free(t->dir);
    free(t);
}
