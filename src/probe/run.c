/*
 * run.c - the check loop: every selected check in order, each in its own
 * flow (cookie jar, fresh values, captures), expanded over "foreach"
 * elements, with the verdict each records; and the results API
 * (docs/suite-format.md §2-§8, §12). The phases a check goes through live
 * in prepare.c, step.c, request.c and hops.c.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "probe/inventory.h"
#include "probe/prepare.h"
#include "probe/run_int.h"
#include "probe/step.h"

/* ---- recording results ---- */

/* status_rank: the verdicts are declared from the mildest to the gravest
 * (probe.h), so the enum's order is the rank. */
static int status_rank(af_check_status st)
{
    return (int)st;
}

/* Longest line a result keeps, after escaping. */
#define CK_LINE_MAX 16384

/* ck_text: line as every result line is kept: a failure quotes what the
 * target sent (Location, header values, body members), and whatever bytes
 * that was, the reporters must get text. Invalid UTF-8, controls (terminal
 * escapes) and NULs become \xNN here, once, so that the text, JSON, JUnit
 * and TAP writers need no checks of their own (af_text_escape). Also
 * mends a multi-byte character cut by a message's cap. Caller frees;
 * NULL when out of memory. */
static char *ck_text(const char *line)
{
    return af_text_clean(line, CK_LINE_MAX);
}

/* ck_status: raise the check's result to st; the headline message is the
 * first line of the worst result seen (the first MUST failure, else the
 * first warning, else the skip reason). */
static void ck_status(struct af_ck *c, af_check_status st, const char *line)
{
    bool worse = status_rank(st) > status_rank(c->res->status);
    if (c->gathering) { /* the verdict is made; this is what the evidence step met */
        if (line != NULL)
            af_ck_evidence(c, line);
        return;
    }
    if (worse)
        c->res->status = st;
    if (line != NULL && (worse || c->res->message == NULL)) {
        char *m = ck_text(line);
        if (m != NULL) {
            free(c->res->message);
            c->res->message = m;
        }
    }
}

/* ck_line: "ID [element: step] what" into b. */
static void ck_line(struct af_ck *c, struct af_buf *b, const char *step, const char *what)
{
    if (step != NULL && c->label != NULL)
        af_msg_addf(b, "%s [%s: %s] %s", c->id, c->label, step, what);
    else if (step != NULL || c->label != NULL)
        af_msg_addf(b, "%s [%s] %s", c->id, step ? step : c->label, what);
    else
        af_msg_addf(b, "%s %s", c->id, what);
}

/* ck_add_line: append one failure line to the result. */
static void ck_add_line(struct af_ck *c, const char *step, af_severity sev, af_role role,
                        const char *line)
{
    struct af_check_failure *nf = realloc(c->res->fails, (c->res->nfails + 1) * sizeof(*nf));
    if (nf == NULL)
        return;
    c->res->fails = nf;
    nf[c->res->nfails].step = strdup(step ? step : "setup");
    nf[c->res->nfails].line = ck_text(line);
    nf[c->res->nfails].severity = sev;
    nf[c->res->nfails].role = role;
    c->res->nfails++;
}

void af_ck_evidence(struct af_ck *c, const char *line)
{
    char *e = NULL;
    if (asprintf(&e, "%s%s%s", c->res->evidence ? c->res->evidence : "",
                 c->res->evidence ? "; " : "", line) < 0)
        return;
    free(c->res->evidence);
    c->res->evidence = e;
}

/* ck_remember: note in table (the run's setup_failed or dead_hosts) that
 * key failed in this check, unless an earlier check already did. */
static void ck_remember(struct af_ck *c, json_t *table, const char *key, const char *line)
{
    char *why;
    if (table == NULL || key == NULL || json_object_get(table, key) != NULL)
        return;
    why = ck_text(line);
    json_object_set_new(table, key, json_pack("{s:s, s:s?}", "check", c->id, "why", why));
    free(why);
}

void af_ck_fail(struct af_ck *c, const char *step, af_severity sev, af_role role, const char *msg,
                const char *spec, const char *why)
{
    struct af_buf b;
    af_buf_init(&b, 8192);
    if (c->setup_depth > 0 && sev == AF_SEV_MUST && role == AF_ROLE_OUTCOME)
        role = AF_ROLE_SETUP;
    if (role == AF_ROLE_PREMISE)
        af_msg_add(&b, "premise not met: ");
    af_msg_add(&b, msg);
    if (why != NULL)
        af_msg_addf(&b, "; %s", why);
    if (spec != NULL && *spec && role != AF_ROLE_PREMISE)
        af_msg_addf(&b, " (%s)", spec);
    {
        struct af_buf line;
        af_buf_init(&line, 9000);
        ck_line(c, &line, step, af_buf_str(&b));
        if (c->gathering) { /* evidence of the verdict already made */
            af_ck_evidence(c, af_buf_str(&line));
            af_buf_free(&line);
            af_buf_free(&b);
            return;
        }
        ck_add_line(c, step, sev, role, af_buf_str(&line));
        switch (role) {
        case AF_ROLE_SETUP: {
            struct af_buf m;
            af_buf_init(&m, 9000);
            af_msg_addf(&m, "%s: the setup %s could not be completed, so nothing was checked: %s",
                        c->id, c->setup_name ? c->setup_name : "", af_buf_str(&b));
            ck_status(c, AF_CHECK_ERROR, af_buf_str(&m));
            ck_remember(c, c->r->setup_failed, c->setup_key, af_buf_str(&m));
            af_buf_free(&m);
            c->stop = true;
            break;
        }
        case AF_ROLE_PREMISE:
            ck_status(c, AF_CHECK_INCONCLUSIVE, af_buf_str(&line));
            c->stop = true;
            break;
        case AF_ROLE_FORM:
            ck_status(c, sev == AF_SEV_MUST ? AF_CHECK_FORMAT : AF_CHECK_WARN, af_buf_str(&line));
            break;
        default:
            ck_status(c, sev == AF_SEV_MUST ? AF_CHECK_FAIL : AF_CHECK_WARN, af_buf_str(&line));
            if (sev == AF_SEV_MUST)
                c->outcome_failed = true;
            break;
        }
        af_buf_free(&line);
    }
    af_buf_free(&b);
}

void af_ck_skip(struct af_ck *c, const char *step, const char *why)
{
    struct af_buf b, w;
    af_buf_init(&b, 4096);
    af_buf_init(&w, 4096);
    af_msg_addf(&w, "skipped: %s", why);
    ck_line(c, &b, step, af_buf_str(&w));
    ck_status(c, AF_CHECK_SKIP, af_buf_str(&b));
    af_buf_free(&w);
    af_buf_free(&b);
    c->stop = true;
}

void af_ck_inconclusive(struct af_ck *c, const char *step, const char *why)
{
    struct af_buf b, w;
    af_buf_init(&b, 4096);
    af_buf_init(&w, 4096);
    af_msg_addf(&w, "inconclusive: %s", why);
    ck_line(c, &b, step, af_buf_str(&w));
    ck_status(c, AF_CHECK_INCONCLUSIVE, af_buf_str(&b));
    af_buf_free(&w);
    af_buf_free(&b);
    c->stop = true;
}

void af_ck_error(struct af_ck *c, const char *step, const char *why)
{
    struct af_buf b, w;
    af_buf_init(&b, 4096);
    af_buf_init(&w, 4096);
    af_msg_addf(&w, "error: %s", why);
    ck_line(c, &b, step ? step : "setup", af_buf_str(&w));
    ck_status(c, AF_CHECK_ERROR, af_buf_str(&b));
    af_buf_free(&w);
    af_buf_free(&b);
    c->stop = true;
}

/* url_origin: "scheme://host:port" of url, lower-cased, into buf; false
 * when url is not an absolute http(s) URL. */
static bool url_origin(const char *url, char *buf, size_t cap)
{
    const char *p = strstr(url, "://"), *end;
    size_t n, i;
    if (p == NULL)
        return false;
    end = p + 3 + strcspn(p + 3, "/?#");
    n = (size_t)(end - url);
    if (n + 1 > cap)
        return false;
    for (i = 0; i < n; i++)
        buf[i] = (char)tolower((unsigned char)url[i]);
    buf[n] = '\0';
    return true;
}

void af_ck_unreachable(struct af_ck *c, const char *step, const char *url, const char *why)
{
    char origin[512], m[1024];
    snprintf(m, sizeof(m), "could not reach %.200s: %s", url, why ? why : "no answer");
    af_ck_error(c, step, m);
    if (url_origin(url, origin, sizeof(origin)))
        ck_remember(c, c->r->dead_hosts, origin, c->res->message);
}

bool af_ck_dead_host(struct af_ck *c, const char *step, const char *url)
{
    char origin[512], m[1024];
    const json_t *d;
    if (!url_origin(url, origin, sizeof(origin)))
        return false;
    d = json_object_get(c->r->dead_hosts, origin);
    if (d == NULL)
        return false;
    snprintf(m, sizeof(m), "not run: %s could not be reached in %s", origin,
             json_string_value(json_object_get(d, "check")));
    {
        struct af_buf b;
        af_buf_init(&b, 2048);
        ck_line(c, &b, step, m);
        ck_status(c, AF_CHECK_NOTRUN, af_buf_str(&b));
        af_buf_free(&b);
    }
    c->stop = true;
    return true;
}

bool af_ck_setup_enter(struct af_ck *c, const char *name, const char *record, const char *lookup)
{
    const json_t *d = json_object_get(c->r->setup_failed, lookup);
    if (d != NULL) {
        char m[1024];
        snprintf(m, sizeof(m), "%s not run: it needs the setup %s, which failed in %s (see there)",
                 c->id, name, json_string_value(json_object_get(d, "check")));
        ck_status(c, AF_CHECK_NOTRUN, m);
        c->stop = true;
        return false;
    }
    if (c->setup_depth++ == 0) {
        free(c->setup_key);
        c->setup_key = record ? strdup(record) : NULL;
        c->setup_name = name;
    }
    return true;
}

void af_ck_setup_leave(struct af_ck *c)
{
    if (c->setup_depth > 0 && --c->setup_depth == 0) {
        free(c->setup_key);
        c->setup_key = NULL;
        c->setup_name = NULL;
    }
}

/* af_ck_var_problem: an undefined variable or a bad template: skip or error. */
void af_ck_var_problem(struct af_ck *c, const char *step, af_rc rc, const struct af_err *e)
{
    const char *m = e->msg[0] ? e->msg : af_rc_str(rc);
    /* What the server's metadata does not say is about the target, not the
     * profile: inconclusive, never a skip, also when the meta. variable was
     * reached through a profile or binding template. */
    if (rc == AF_ERR_NOTFOUND && c->sc.missing_meta)
        af_ck_inconclusive(c, step, m);
    else if (rc == AF_ERR_NOTFOUND)
        af_ck_skip(c, step, m);
    else
        af_ck_error(c, step, m);
}

/* ---- flows ---- */

struct af_hop *af_ck_prev_get(struct af_ck *c)
{
    size_t i;
    for (i = 0; i < c->nprev; i++)
        if (strcmp(c->prev[i].flow, c->flow) == 0)
            return &c->prev[i].hop;
    return NULL;
}

void af_ck_prev_put(struct af_ck *c, struct af_hop *hop)
{
    struct af_hop *p = af_ck_prev_get(c);
    if (p == NULL) {
        struct af_prev_hop *np = realloc(c->prev, (c->nprev + 1) * sizeof(*np));
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

/* ---- checks ---- */

/* profile_skip: the reason the target profile gives for skipping check,
 * matched like --skip (id, id prefix not followed by a digit, keyword). */
static const char *profile_skip(const struct af_run *r, const json_t *check)
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

/* form_spec: the clause a failure line ends with, "(RFC 6749 §5.2)",
 * without the parentheses; caller frees; NULL when there is none. */
static const char *form_spec(const char *line)
{
    size_t n = strlen(line);
    const char *open;
    if (n < 3 || line[n - 1] != ')')
        return NULL;
    open = strrchr(line, '(');
    if (open == NULL)
        return NULL;
    return strndup(open + 1, (size_t)(line + n - 1 - (open + 1)));
}

/* ck_finish: what a SHOULD check's findings become (warnings), and the
 * headline of a format verdict: the outcome held, so the line names the
 * form that is wrong instead of the security property. */
static void ck_finish(struct af_ck *c)
{
    struct af_check_result *res = c->res;
    size_t i;
    if (c->sev == AF_SEV_SHOULD &&
        (res->status == AF_CHECK_FAIL || res->status == AF_CHECK_FORMAT)) {
        res->status = AF_CHECK_WARN;
        for (i = 0; i < res->nfails; i++)
            res->fails[i].severity = AF_SEV_SHOULD;
    }
    if (res->status == AF_CHECK_FORMAT && res->headline == NULL) {
        const char *spec = NULL;
        char *h = NULL;
        for (i = 0; i < res->nfails && spec == NULL; i++)
            if (res->fails[i].role == AF_ROLE_FORM && res->fails[i].severity == AF_SEV_MUST)
                spec = form_spec(res->fails[i].line);
        if (asprintf(&h, "refused as required, but not in the form %s requires",
                     spec ? spec : "the clause") >= 0)
            res->headline = h;
        free((char *)spec);
    }
}

/* run_instance: the check once, in a fresh flow, with fe (foreach
 * bindings, may be NULL) and label (the element, may be NULL). */
static void run_instance(struct af_run *r, const json_t *chk, struct af_check_result *res,
                         const json_t *fe, const char *label)
{
    struct af_ck c;
    json_t *s0 = NULL, *s1 = NULL, *s2 = NULL, *v;
    struct af_buf why;
    struct af_err e;
    size_t i;
    af_rc rc;

    memset(&c, 0, sizeof(c));
    af_buf_init(&why, 8192);
    c.r = r;
    c.chk = chk;
    c.res = res;
    c.id = res->id;
    c.sev = res->severity;
    c.label = label;
    c.flow = strdup("main");
    if (c.flow == NULL || af_scope_init(&c.sc, r->root) != AF_OK) {
        af_ck_error(&c, NULL, "out of memory");
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
        af_ck_var_problem(&c, NULL, rc, &e);
        goto out;
    }
    json_array_foreach(json_object_get(chk, "requires"), i, v)
    {
        json_t *val = NULL;
        bool lit;
        const char *name = json_string_value(v);
        af_err_clear(&e);
        if (af_var_get(&c.sc, name, &val, &lit, &e) != AF_OK || json_is_null(val) ||
            (json_is_string(val) && json_string_length(val) == 0)) {
            char m[300];
            snprintf(m, sizeof(m), "requires %s, which is not defined", name);
            /* The metadata is the target's word, not the profile's. */
            if (strncmp(name, "meta.", 5) == 0)
                af_ck_inconclusive(&c, NULL, m);
            else
                af_ck_skip(&c, NULL, m);
        }
        json_decref(val);
        if (c.stop)
            goto out;
    }
    v = json_object_get(chk, "when");
    if (v != NULL && !af_step_when(&c, v, NULL, AF_CHECK_SKIP, &why))
        goto out;
    v = json_object_get(chk, "set");
    if (v != NULL && !af_step_set(&c, v, "setup"))
        goto out;
    af_step_run_needs(&c, json_object_get(chk, "needs"), NULL, 0, false);
    af_step_run_steps(&c, json_object_get(chk, "steps"), NULL, NULL);
out:
    for (i = 0; i < c.nserved; i++) /* before the verdict is timed: nothing serves past it */
        af_serve_stop(c.served[i]);
    ck_finish(&c);
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
    free(c.setup_key);
    af_buf_free(&why);
}

/* ---- foreach: one check over the elements of profile lists ---- */

struct fe_run {
    struct af_run *r;
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
    if (one->evidence != NULL) {
        char *e = NULL;
        if (asprintf(&e, "%s%s%s", res->evidence ? res->evidence : "", res->evidence ? "; " : "",
                     one->evidence) >= 0) {
            free(res->evidence);
            res->evidence = e;
        }
    }
    /* The first element that ran sets the result; a worse one replaces it,
     * with its headline. */
    if (!fr->have_result || status_rank(one->status) > status_rank(res->status)) {
        res->status = one->status;
        free(res->message);
        res->message = one->message;
        one->message = NULL;
        free(res->headline);
        res->headline = one->headline;
        one->headline = NULL;
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
    free(one->headline);
    free(one->evidence);
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

static void run_check(struct af_run *r, size_t idx, struct af_check_result *res)
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
    struct af_run r;
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

    r.setup_failed = json_object();
    r.dead_hosts = json_object();
    if (r.setup_failed == NULL || r.dead_hosts == NULL) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    rc = af_run_prepare(&r, err);
    if (rc != AF_OK)
        goto out;
    r.res->inventory = af_inventory_build(json_object_get(r.root, "meta"));
    if (r.res->inventory != NULL && opts->on_inventory != NULL)
        opts->on_inventory(opts->ud, r.res->inventory);

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
    af_run_jwks_clear(&r);
    af_http_free(r.http);
    json_decref(r.root);
    json_decref(r.setup_failed);
    json_decref(r.dead_hosts);
    af_results_free(r.res);
    free(cacert);
    return rc;
}
