/*
 * html.c - read forms and links out of an HTML page.
 *
 * Hand-written on purpose: none of the project's libraries parses HTML, and
 * the probe needs only what a browser would submit from a form (HTML
 * Living Standard §4.10.21.4 "constructing the entry list", reduced to
 * input, button, select and textarea) and the href and text of links. The
 * scanner never builds a tree, skips comments, scripts and styles, and caps
 * what it keeps.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "probe/probe_int.h"

#define MAX_LINKS 256
#define MAX_ATTRS 32

struct attr {
    char name[32];
    const char *v; /* raw, not unescaped; NULL for a bare attribute */
    size_t vlen;
};

struct tag {
    char name[16]; /* lower-cased */
    bool closing;
    struct attr a[MAX_ATTRS];
    size_t na;
};

/* ---- character references ---- */

static af_rc add_utf8(struct af_buf *out, unsigned long cp)
{
    char u[4];
    size_t n;
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        cp = 0xFFFD;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return af_buf_add(out, u, n);
}

af_rc af_html_unescape(struct af_buf *out, const char *s, size_t len)
{
    static const struct {
        const char *name;
        unsigned long cp;
    } named[] = {{"amp", '&'},   {"lt", '<'},     {"gt", '>'},     {"quot", '"'},
                 {"apos", '\''}, {"nbsp", 0xA0},  {"sol", '/'},    {"equals", '='},
                 {"colon", ':'}, {"period", '.'}, {"num", '#'},    {"percnt", '%'},
                 {"plus", '+'},  {"quest", '?'},  {"lowbar", '_'}, {"hyphen", '-'}};
    af_rc rc = AF_OK;
    size_t i = 0;

    while (i < len && rc == AF_OK) {
        const char *semi;
        size_t k, n;
        if (s[i] != '&') {
            rc = af_buf_addc(out, s[i++]);
            continue;
        }
        semi = memchr(s + i, ';', len - i < 12 ? len - i : 12);
        if (semi == NULL) {
            rc = af_buf_addc(out, s[i++]);
            continue;
        }
        n = (size_t)(semi - (s + i)) - 1; /* characters between & and ; */
        if (n >= 2 && s[i + 1] == '#') {
            unsigned long cp = 0;
            size_t j = i + 2;
            bool hex = s[j] == 'x' || s[j] == 'X', ok = true;
            if (hex)
                j++;
            if (s + j >= semi)
                ok = false;
            for (; s + j < semi && ok; j++) {
                int d = hex ? (isxdigit((unsigned char)s[j])
                                   ? (isdigit((unsigned char)s[j]) ? s[j] - '0'
                                                                   : (tolower(s[j]) - 'a' + 10))
                                   : -1)
                            : (isdigit((unsigned char)s[j]) ? s[j] - '0' : -1);
                if (d < 0 || cp > 0x10FFFF)
                    ok = false;
                else
                    cp = cp * (hex ? 16 : 10) + (unsigned long)d;
            }
            if (ok) {
                rc = add_utf8(out, cp);
                i = (size_t)(semi - s) + 1;
                continue;
            }
        } else {
            for (k = 0; k < sizeof(named) / sizeof(named[0]); k++) {
                if (strlen(named[k].name) == n && strncmp(s + i + 1, named[k].name, n) == 0)
                    break;
            }
            if (k < sizeof(named) / sizeof(named[0])) {
                rc = add_utf8(out, named[k].cp);
                i = (size_t)(semi - s) + 1;
                continue;
            }
        }
        rc = af_buf_addc(out, s[i++]);
    }
    return rc;
}

static char *unescape_dup(const char *s, size_t len)
{
    struct af_buf b;
    af_buf_init(&b, 1024 * 1024);
    if (af_html_unescape(&b, s, len) != AF_OK) {
        af_buf_free(&b);
        return NULL;
    }
    return af_buf_detach(&b);
}

/* ---- tokenizer ---- */

static const char *find_ci(const char *p, const char *end, const char *needle)
{
    size_t n = strlen(needle);
    for (; p + n <= end; p++)
        if (strncasecmp(p, needle, n) == 0)
            return p;
    return NULL;
}

/* parse_tag: p points just after '<'. Returns the position after '>' (or
 * end), with t filled; t->name is empty for something that is not a tag. */
static const char *parse_tag(const char *p, const char *end, struct tag *t)
{
    size_t n = 0;
    memset(t, 0, sizeof(*t));
    if (p < end && *p == '/') {
        t->closing = true;
        p++;
    }
    while (p < end && (isalnum((unsigned char)*p))) {
        if (n + 1 < sizeof(t->name))
            t->name[n++] = (char)tolower((unsigned char)*p);
        p++;
    }
    t->name[n] = '\0';
    for (;;) {
        struct attr *a;
        size_t an = 0;
        while (p < end && (isspace((unsigned char)*p) || *p == '/'))
            p++;
        if (p >= end)
            return end;
        if (*p == '>')
            return p + 1;
        a = t->na < MAX_ATTRS ? &t->a[t->na] : NULL;
        while (p < end && !isspace((unsigned char)*p) && *p != '=' && *p != '>' && *p != '/') {
            if (a != NULL && an + 1 < sizeof(a->name))
                a->name[an++] = (char)tolower((unsigned char)*p);
            p++;
        }
        if (a != NULL) {
            a->name[an] = '\0';
            a->v = NULL;
            a->vlen = 0;
        }
        while (p < end && isspace((unsigned char)*p))
            p++;
        if (p < end && *p == '=') {
            const char *vs;
            p++;
            while (p < end && isspace((unsigned char)*p))
                p++;
            if (p < end && (*p == '"' || *p == '\'')) {
                char qc = *p++;
                vs = p;
                while (p < end && *p != qc)
                    p++;
                if (a != NULL) {
                    a->v = vs;
                    a->vlen = (size_t)(p - vs);
                }
                if (p < end)
                    p++;
            } else {
                vs = p;
                while (p < end && !isspace((unsigned char)*p) && *p != '>')
                    p++;
                if (a != NULL) {
                    a->v = vs;
                    a->vlen = (size_t)(p - vs);
                }
            }
        }
        if (a != NULL && an > 0)
            t->na++;
        else if (a != NULL && an == 0 && p < end && *p != '>')
            p++; /* a stray character: skip it so the loop progresses */
    }
}

static const struct attr *attr_get(const struct tag *t, const char *name)
{
    size_t i;
    for (i = 0; i < t->na; i++)
        if (strcmp(t->a[i].name, name) == 0)
            return &t->a[i];
    return NULL;
}

/* attr_dup: the unescaped value, "" for a bare attribute; NULL when absent
 * (or on allocation failure, which the callers treat alike). */
static char *attr_dup(const struct tag *t, const char *name)
{
    const struct attr *a = attr_get(t, name);
    if (a == NULL)
        return NULL;
    if (a->v == NULL)
        return strdup("");
    return unescape_dup(a->v, a->vlen);
}

static bool attr_is(const struct tag *t, const char *name, const char *val)
{
    const struct attr *a = attr_get(t, name);
    return a != NULL && a->v != NULL && a->vlen == strlen(val) &&
           strncasecmp(a->v, val, a->vlen) == 0;
}

/* text_dup: the text of s[0..len) with tags dropped, entities decoded and
 * runs of white space collapsed to one space, trimmed. */
static char *text_dup(const char *s, size_t len)
{
    struct af_buf raw, out;
    size_t i;
    bool in_tag = false, sp = false;
    char *res = NULL;

    af_buf_init(&raw, 1024 * 1024);
    af_buf_init(&out, 1024 * 1024);
    for (i = 0; i < len; i++) {
        if (s[i] == '<')
            in_tag = true;
        else if (s[i] == '>')
            in_tag = false;
        else if (!in_tag && af_buf_addc(&raw, s[i]) != AF_OK)
            goto out;
    }
    if (af_html_unescape(&out, raw.p ? raw.p : "", raw.len) != AF_OK)
        goto out;
    af_buf_reset(&raw);
    for (i = 0; i < out.len; i++) {
        unsigned char c = (unsigned char)out.p[i];
        if (isspace(c)) {
            sp = raw.len > 0;
            continue;
        }
        if (sp && af_buf_addc(&raw, ' ') != AF_OK)
            goto out;
        sp = false;
        if (af_buf_addc(&raw, (char)c) != AF_OK)
            goto out;
    }
    res = af_buf_detach(&raw);
out:
    af_buf_free(&raw);
    af_buf_free(&out);
    return res;
}

/* ---- the scanner ---- */

struct scan {
    struct af_form *forms;
    size_t nforms;
    struct af_link *links;
    size_t nlinks;
    bool want_forms, want_links;
    struct af_form *cur; /* the open form, or NULL */
    /* an open <select> */
    char *sel_name;
    char *sel_first;
    char *sel_chosen;
};

static af_rc add_field(struct af_params *p, const char *name, const char *value)
{
    af_rc rc = af_params_add(p, name, value ? value : "");
    /* Past the cap a page has more fields than any login form: keep what
     * fits rather than fail the whole page. */
    return rc == AF_ERR_TOOBIG ? AF_OK : rc;
}

static void select_end(struct scan *sc)
{
    if (sc->cur != NULL && sc->sel_name != NULL) {
        const char *v = sc->sel_chosen ? sc->sel_chosen : sc->sel_first;
        if (v != NULL && add_field(&sc->cur->fields, sc->sel_name, v) != AF_OK) {
            /* allocation failure: the field is missing, as if unselected */
        }
    }
    free(sc->sel_name);
    free(sc->sel_first);
    free(sc->sel_chosen);
    sc->sel_name = sc->sel_first = sc->sel_chosen = NULL;
}

static af_rc form_open(struct scan *sc, const struct tag *t)
{
    struct af_form *nf, *f;
    char *m;
    size_t i;
    if (sc->nforms >= AF_PROBE_MAX_FORMS) {
        sc->cur = NULL;
        return AF_OK;
    }
    nf = realloc(sc->forms, (sc->nforms + 1) * sizeof(*nf));
    if (nf == NULL)
        return AF_ERR_NOMEM;
    sc->forms = nf;
    f = &nf[sc->nforms++];
    memset(f, 0, sizeof(*f));
    af_params_init(&f->fields, AF_PROBE_MAX_PARAMS);
    af_params_init(&f->buttons, AF_PROBE_MAX_PARAMS);
    f->id = attr_dup(t, "id");
    f->name = attr_dup(t, "name");
    f->action = attr_dup(t, "action");
    if (f->action == NULL)
        f->action = strdup("");
    m = attr_dup(t, "method");
    if (m == NULL || m[0] == '\0') {
        free(m);
        m = strdup("GET");
    }
    if (m == NULL || f->action == NULL) {
        free(m);
        return AF_ERR_NOMEM;
    }
    for (i = 0; m[i]; i++)
        m[i] = (char)toupper((unsigned char)m[i]);
    f->method = m;
    sc->cur = f;
    return AF_OK;
}

static af_rc on_input(struct scan *sc, const struct tag *t)
{
    af_rc rc = AF_OK;
    char *name = NULL, *value = NULL, *type = NULL;
    size_t i;

    if (sc->cur == NULL || attr_get(t, "disabled") != NULL)
        return AF_OK;
    name = attr_dup(t, "name");
    if (name == NULL || name[0] == '\0')
        goto out;
    value = attr_dup(t, "value");
    type = attr_dup(t, "type");
    if (type != NULL)
        for (i = 0; type[i]; i++)
            type[i] = (char)tolower((unsigned char)type[i]);
    if (type == NULL || type[0] == '\0') {
        rc = add_field(&sc->cur->fields, name, value);
    } else if (strcmp(type, "checkbox") == 0 || strcmp(type, "radio") == 0) {
        if (attr_get(t, "checked") != NULL)
            rc = add_field(&sc->cur->fields, name, value ? value : "on");
    } else if (strcmp(type, "submit") == 0 || strcmp(type, "image") == 0 ||
               strcmp(type, "button") == 0) {
        if (strcmp(type, "button") != 0)
            rc = add_field(&sc->cur->buttons, name, value);
    } else if (strcmp(type, "reset") == 0 || strcmp(type, "file") == 0) {
        /* never part of a urlencoded submission the probe makes */
    } else {
        rc = add_field(&sc->cur->fields, name, value);
    }
out:
    free(name);
    free(value);
    free(type);
    return rc;
}

static af_rc on_button(struct scan *sc, const struct tag *t)
{
    af_rc rc = AF_OK;
    char *name, *value;
    const struct attr *ty = attr_get(t, "type");
    if (sc->cur == NULL || attr_get(t, "disabled") != NULL)
        return AF_OK;
    if (ty != NULL && !attr_is(t, "type", "submit"))
        return AF_OK;
    name = attr_dup(t, "name");
    value = attr_dup(t, "value");
    if (name != NULL && name[0] != '\0')
        rc = add_field(&sc->cur->buttons, name, value);
    free(name);
    free(value);
    return rc;
}

static void scan_free(struct scan *sc)
{
    select_end(sc);
    af_html_forms_free(sc->forms, sc->nforms);
    af_html_links_free(sc->links, sc->nlinks);
}

static af_rc scan(struct scan *sc, const char *html, size_t len)
{
    af_rc rc = AF_OK;
    const char *p = html, *end = html + len;
    struct tag t;

    while (p < end && rc == AF_OK) {
        const char *lt = memchr(p, '<', (size_t)(end - p)), *after;
        if (lt == NULL)
            break;
        if (end - lt >= 4 && strncmp(lt, "<!--", 4) == 0) {
            const char *e = find_ci(lt + 4, end, "-->");
            p = e ? e + 3 : end;
            continue;
        }
        if (lt + 1 < end && (lt[1] == '!' || lt[1] == '?')) {
            const char *e = memchr(lt, '>', (size_t)(end - lt));
            p = e ? e + 1 : end;
            continue;
        }
        after = parse_tag(lt + 1, end, &t);
        p = after;
        if (t.name[0] == '\0') {
            p = lt + 1;
            continue;
        }
        if (!t.closing && (strcmp(t.name, "script") == 0 || strcmp(t.name, "style") == 0)) {
            const char *e = find_ci(p, end, strcmp(t.name, "script") == 0 ? "</script" : "</style");
            p = e ? e : end;
            continue;
        }
        if (strcmp(t.name, "form") == 0) {
            if (!sc->want_forms)
                continue;
            select_end(sc);
            if (t.closing)
                sc->cur = NULL;
            else
                rc = form_open(sc, &t);
        } else if (t.closing) {
            if (strcmp(t.name, "select") == 0)
                select_end(sc);
        } else if (strcmp(t.name, "input") == 0) {
            rc = on_input(sc, &t);
        } else if (strcmp(t.name, "button") == 0) {
            rc = on_button(sc, &t);
        } else if (strcmp(t.name, "select") == 0 && sc->cur != NULL) {
            select_end(sc);
            if (attr_get(&t, "disabled") == NULL)
                sc->sel_name = attr_dup(&t, "name");
        } else if (strcmp(t.name, "option") == 0 && sc->sel_name != NULL) {
            char *v = attr_dup(&t, "value");
            if (v == NULL) {
                const char *e = memchr(p, '<', (size_t)(end - p));
                v = text_dup(p, e ? (size_t)(e - p) : (size_t)(end - p));
            }
            if (v != NULL && sc->sel_first == NULL)
                sc->sel_first = strdup(v);
            if (v != NULL && attr_get(&t, "selected") != NULL && sc->sel_chosen == NULL) {
                sc->sel_chosen = v;
                v = NULL;
            }
            free(v);
        } else if (strcmp(t.name, "textarea") == 0) {
            const char *e = find_ci(p, end, "</textarea");
            if (sc->cur != NULL && attr_get(&t, "disabled") == NULL) {
                char *name = attr_dup(&t, "name");
                char *v = unescape_dup(p, e ? (size_t)(e - p) : (size_t)(end - p));
                if (name != NULL && name[0] != '\0' && v != NULL)
                    rc = add_field(&sc->cur->fields, name, v);
                free(name);
                free(v);
            }
            p = e ? e : end;
        } else if (strcmp(t.name, "a") == 0 && sc->want_links && sc->nlinks < MAX_LINKS) {
            const char *e = find_ci(p, end, "</a");
            char *href = attr_dup(&t, "href");
            if (href != NULL) {
                struct af_link *nl = realloc(sc->links, (sc->nlinks + 1) * sizeof(*nl));
                if (nl == NULL) {
                    free(href);
                    rc = AF_ERR_NOMEM;
                    break;
                }
                sc->links = nl;
                nl[sc->nlinks].href = href;
                nl[sc->nlinks].text = text_dup(p, e ? (size_t)(e - p) : 0);
                if (nl[sc->nlinks].text == NULL)
                    nl[sc->nlinks].text = strdup("");
                sc->nlinks++;
            }
        }
    }
    select_end(sc);
    return rc;
}

af_rc af_html_forms(const char *html, size_t len, struct af_form **out, size_t *n)
{
    af_rc rc;
    struct scan sc;
    memset(&sc, 0, sizeof(sc));
    sc.want_forms = true;
    *out = NULL;
    *n = 0;
    rc = scan(&sc, html, len);
    if (rc == AF_OK) {
        *out = sc.forms;
        *n = sc.nforms;
        sc.forms = NULL;
        sc.nforms = 0;
    }
    scan_free(&sc);
    return rc;
}

af_rc af_html_links(const char *html, size_t len, struct af_link **out, size_t *n)
{
    af_rc rc;
    struct scan sc;
    memset(&sc, 0, sizeof(sc));
    sc.want_links = true;
    *out = NULL;
    *n = 0;
    rc = scan(&sc, html, len);
    if (rc == AF_OK) {
        *out = sc.links;
        *n = sc.nlinks;
        sc.links = NULL;
        sc.nlinks = 0;
    }
    scan_free(&sc);
    return rc;
}

void af_html_forms_free(struct af_form *forms, size_t n)
{
    size_t i;
    if (forms == NULL)
        return;
    for (i = 0; i < n; i++) {
        free(forms[i].id);
        free(forms[i].name);
        free(forms[i].action);
        free(forms[i].method);
        af_params_free(&forms[i].fields);
        af_params_free(&forms[i].buttons);
    }
    free(forms);
}

void af_html_links_free(struct af_link *links, size_t n)
{
    size_t i;
    if (links == NULL)
        return;
    for (i = 0; i < n; i++) {
        free(links[i].href);
        free(links[i].text);
    }
    free(links);
}
