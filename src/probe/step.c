/*
 * step.c - the step runner: conditions, set, use, sleep, the request and
 * its hops, expectations and captures; and the fixtures a check needs
 * (docs/suite-format.md §4, §8, §10).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "probe/concurrent.h"
#include "probe/race.h"
#include "probe/forge.h"
#include "probe/hops.h"
#include "probe/prepare.h"
#include "probe/step.h"

/* ---- conditions, set, captures ---- */

/* af_step_conds: true when every condition holds; else *why explains. */
af_ex_result af_step_conds(struct af_ck *c, const json_t *conds, struct af_buf *why)
{
    return af_conds_eval(&c->sc, conds, c->r->o->show_secrets, why);
}

bool af_step_when(struct af_ck *c, const json_t *conds, const char *step, af_check_status dflt,
                  struct af_buf *why)
{
    size_t i;
    json_t *m;
    json_array_foreach(conds, i, m)
    {
        json_t *one = json_pack("[O]", m);
        const char *other = json_string_value(json_object_get(m, "otherwise"));
        const char *that = json_string_value(json_object_get(m, "that"));
        af_check_status st = dflt;
        af_ex_result r;
        if (one == NULL) {
            af_ck_error(c, step, "out of memory");
            return false;
        }
        af_buf_reset(why);
        r = af_step_conds(c, one, why);
        json_decref(one);
        if (r == AF_EX_PASS)
            continue;
        if (r == AF_EX_ERROR) {
            af_ck_error(c, step, af_buf_str(why));
            return false;
        }
        if (dflt == AF_CHECK_SKIP && that != NULL && strncmp(that, "meta.", 5) == 0)
            st = AF_CHECK_INCONCLUSIVE;
        if (other != NULL)
            st = strcmp(other, "skip") == 0           ? AF_CHECK_SKIP
                 : strcmp(other, "inconclusive") == 0 ? AF_CHECK_INCONCLUSIVE
                                                      : AF_CHECK_ERROR;
        if (st == AF_CHECK_SKIP)
            af_ck_skip(c, step, af_buf_str(why));
        else if (st == AF_CHECK_INCONCLUSIVE)
            af_ck_inconclusive(c, step, af_buf_str(why));
        else
            af_ck_error(c, step, af_buf_str(why));
        return false;
    }
    return true;
}

/* af_step_set: expand and store. false when the check stopped. */
bool af_step_set(struct af_ck *c, const json_t *set, const char *step)
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
            af_ck_var_problem(c, step, rc, &e);
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
            af_ck_error(c, step, "out of memory");
            return false;
        }
    }
    return true;
}

static void do_captures(struct af_ck *c, const json_t *cap, struct af_step_view *sv,
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

        char *xsel = NULL;

        memset(&val, 0, sizeof(val));
        af_err_clear(&e);
        if (strstr(sel, "{{") != NULL) {
            /* a templated selector (the profile says where its token is):
             * checked once expanded, as an error of the check */
            bool om = false;
            af_rc xrc = af_tmpl_expand_str(&c->sc, sel, &xsel, &om, &e);
            if (xrc == AF_OK && xsel == NULL && optional)
                goto next; /* "{{?...}}": the profile names no such value */
            if (xrc != AF_OK || xsel == NULL || af_sel_check(xsel, &e) != AF_OK) {
                snprintf(msg, sizeof(msg), "capture %s: %s: %s", k, sel,
                         e.msg[0] ? e.msg : "expands to nothing");
                af_ck_error(c, step, msg);
                free(xsel);
                continue;
            }
            sel = xsel;
        }
        af_hop_pick(sv, on, idx, &n);
        if (n == 0) {
            if (!optional)
                af_ck_inconclusive(c, step, "the hop to capture from did not happen");
            goto next;
        }
        cx.hop = &sv->hops[idx[0]];
        cx.http = sv->http;
        cx.sc = sv->sc;
        cx.nhops = sv->nhops;
        af_err_clear(&e);
        if (af_sel_eval(&cx, sel, &val, &e) != AF_OK) {
            snprintf(msg, sizeof(msg), "capture %s: %s: %s", k, sel, e.msg);
            af_ck_fail(c, step, AF_SEV_MUST, AF_ROLE_OUTCOME, msg, spec, NULL);
            goto next;
        }
        if (val.kind == AF_SV_VALUE && claim != NULL) {
            struct af_jws *jws = NULL;
            const json_t *cl = NULL;
            char *xclaim = NULL;
            /* a templated claim: the profile names it (auth.identity_claim) */
            if (strstr(claim, "{{") != NULL &&
                af_tmpl_expand_str(&c->sc, claim, &xclaim, NULL, &e) != AF_OK) {
                snprintf(msg, sizeof(msg), "capture %s: claim %s: %s", k, claim, e.msg);
                af_ck_error(c, step, msg);
                af_sv_clear(&val);
                goto next;
            }
            if (json_is_string(val.json) &&
                af_jws_parse(json_string_value(val.json), &jws, NULL) == AF_OK)
                cl = af_json_path(af_jws_claims(jws), xclaim ? xclaim : claim);
            store = cl ? json_incref((json_t *)cl) : NULL;
            af_jws_free(jws);
            free(xclaim);
        } else if (val.kind == AF_SV_VALUE) {
            store = json_incref(val.json);
        }
        af_sv_clear(&val);
        if (store == NULL) {
            if (!optional) {
                snprintf(msg, sizeof(msg), "capture %s: %s%s%s is absent (expected a value)", k,
                         sel, claim ? " claim " : "", claim ? claim : "");
                af_ck_fail(c, step, AF_SEV_MUST, AF_ROLE_OUTCOME, msg, spec, NULL);
            }
            goto next;
        }
        if (prefix != NULL) {
            if (asprintf(&name, "%s.%s", prefix, k) < 0)
                name = NULL;
        } else {
            name = strdup(k);
        }
        if (name == NULL || af_scope_set(&c->sc, name, store) != AF_OK)
            af_ck_error(c, step, "out of memory");
        free(name);
        json_decref(store);
    next:
        free(xsel);
    }
}

/* ---- steps ---- */

static af_severity ex_sev(struct af_ck *c, const json_t *ex)
{
    const char *s = json_string_value(json_object_get(ex, "severity"));
    if (s != NULL)
        return strcmp(s, "SHOULD") == 0 ? AF_SEV_SHOULD : AF_SEV_MUST;
    return c->sev;
}

/* ex_role: the expectation's role (docs/suite-format.md §10.6). */
static af_role ex_role(const json_t *ex)
{
    const char *s = json_string_value(json_object_get(ex, "role"));
    if (s != NULL && strcmp(s, "form") == 0)
        return AF_ROLE_FORM;
    if (s != NULL && strcmp(s, "premise") == 0)
        return AF_ROLE_PREMISE;
    return AF_ROLE_OUTCOME;
}

/* step_name: how messages name the step: "FIXTURE/NAME" or "step N". */
static void step_name(char *buf, size_t cap, const json_t *step, size_t si, const char *fixture)
{
    const char *nm = json_string_value(json_object_get(step, "name"));
    if (nm != NULL)
        snprintf(buf, cap, "%s%s%s", fixture ? fixture : "", fixture ? "/" : "", nm);
    else
        snprintf(buf, cap, "%s%sstep %zu", fixture ? fixture : "", fixture ? "/" : "", si + 1);
}

/* step_applies: the step's "if" (false: the step is passed over), "when"
 * (false: the check stops, inconclusive unless the condition says
 * otherwise) and "set". false when the step does not
 * run; the check's result says whether it stopped. */
static bool step_applies(struct af_ck *c, const json_t *step, const char *stepname,
                         struct af_buf *why)
{
    const json_t *v = json_object_get(step, "if");
    af_ex_result r;
    if (v != NULL) {
        r = af_step_conds(c, v, why);
        if (r == AF_EX_ERROR) {
            af_ck_error(c, stepname, af_buf_str(why));
            return false;
        }
        if (r != AF_EX_PASS)
            return false; /* this step does not apply; the check goes on */
    }
    v = json_object_get(step, "when");
    if (v != NULL && !af_step_when(c, v, stepname, AF_CHECK_INCONCLUSIVE, why))
        return false;
    v = json_object_get(step, "set");
    return v == NULL || af_step_set(c, v, stepname);
}

/* step_use_flow: make the step's flow ("main" when unnamed) current.
 * false (the check errored) when it cannot. */
static bool step_use_flow(struct af_ck *c, const json_t *step, const char *stepname)
{
    const char *flow = json_string_value(json_object_get(step, "flow"));
    char *nf;
    if (flow == NULL)
        flow = "main";
    if (strcmp(flow, c->flow) == 0)
        return true;
    nf = strdup(flow);
    if (nf == NULL || af_http_use_flow(c->r->http, flow) != AF_OK) {
        free(nf);
        af_ck_error(c, stepname, "out of memory");
        return false;
    }
    free(c->flow);
    c->flow = nf;
    return true;
}

/* af_step_use (step.h): another fixture's steps, here, in this flow (a
 * sequence shared by several checks that must run after their own first
 * steps). */
void af_step_use(struct af_ck *c, const json_t *use, const char *stepname, const char *prefix)
{
    json_t *one = json_pack("[O]", use);
    if (one == NULL) {
        af_ck_error(c, stepname, "out of memory");
        return;
    }
    if (c->use_depth >= 16) {
        af_ck_error(c, stepname, "\"use\" nests more than 16 deep (a fixture uses itself?)");
    } else {
        c->use_depth++;
        af_step_run_needs(c, one, prefix, 0, true);
        c->use_depth--;
    }
    json_decref(one);
}

/* step_sleep: a "sleep" step: a number of seconds, or a template that
 * expands to one in 0..3600 (else the check errors or skips). */
static void step_sleep(struct af_ck *c, const json_t *v, const char *stepname)
{
    double secs = json_number_value(v);
    struct timespec ts;
    if (json_is_string(v)) {
        char *s = NULL, *end;
        struct af_err e;
        af_rc rc;
        af_err_clear(&e);
        rc = af_tmpl_expand_str(&c->sc, json_string_value(v), &s, NULL, &e);
        if (rc != AF_OK) {
            af_ck_var_problem(c, stepname, rc, &e);
            free(s);
            return;
        }
        secs = s ? strtod(s, &end) : -1;
        if (s == NULL || *end != '\0' || secs < 0 || secs > 3600) {
            af_ck_error(c, stepname, "sleep: not a number of seconds in 0..3600");
            free(s);
            return;
        }
        free(s);
    }
    ts.tv_sec = (time_t)secs;
    ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* serve_open: start a server of the probe's for the check (stopped when
 * it ends, run.c); *out is borrowed from the check. log_as (may be NULL)
 * gets the URL of the server's log of requests. */
static af_rc serve_open(struct af_ck *c, const char *log_as, struct af_serve **out,
                        struct af_err *e)
{
    struct af_serve *srv = NULL;
    json_t *lj = NULL;
    af_rc rc;

    *out = NULL;
    if (c->nserved >= AF_PROBE_MAX_SERVED)
        return AF_ERR_SET(e, AF_ERR_TOOBIG, "more than %d forge steps serve in one check",
                          AF_PROBE_MAX_SERVED);
    rc = af_serve_start(&srv, e);
    if (rc != AF_OK)
        return rc;
    c->served[c->nserved++] = srv;
    if (log_as != NULL) {
        lj = json_string(af_serve_log_url(srv));
        rc = lj ? af_scope_set(&c->sc, log_as, lj) : AF_ERR_NOMEM;
        json_decref(lj);
    }
    if (rc == AF_OK)
        *out = srv;
    return rc;
}

/* forge_serve: make the token under a server of its own: the header
 * points at a document of it that holds the key the token is signed
 * with; log_as (may be NULL) gets the URL of the server's log. */
static af_rc forge_serve(struct af_ck *c, const json_t *spec, const char *how, const char *log_as,
                         char **tok, struct af_err *e)
{
    const bool jku = strcmp(how, "jku") == 0;
    const char *name = jku ? "jwks.json" : "cert.pem";
    struct af_serve *srv = NULL;
    char *url = NULL, *doc = NULL;
    af_rc rc;

    rc = serve_open(c, log_as, &srv, e);
    if (rc == AF_OK)
        rc = af_serve_url(srv, name, &url);
    if (rc == AF_OK)
        rc = af_forge_served(spec, url, tok, &doc, e);
    if (rc == AF_OK)
        rc = af_serve_put(
            srv, name, jku ? "application/jwk-set+json" : "application/pem-certificate-chain", doc);
    free(url);
    free(doc);
    return rc;
}

/* forge_listen: a step's "listen": a server of the check's whose document
 * PREFIX/fetch answers the expanded body as text, its URL in the variable
 * listen.as before the forge's templates are expanded (a kid that carries
 * a command to fetch it, RS-30); log_as (may be NULL) gets the log's URL.
 * A body that cannot be expanded is the error e describes. */
static af_rc forge_listen(struct af_ck *c, const json_t *listen, const char *log_as,
                          struct af_err *e)
{
    struct af_serve *srv = NULL;
    char *url = NULL, *body = NULL;
    json_t *uj = NULL;
    af_rc rc;

    rc = af_tmpl_expand_str(&c->sc, json_string_value(json_object_get(listen, "body")), &body, NULL,
                            e);
    if (rc == AF_OK)
        rc = serve_open(c, log_as, &srv, e);
    if (rc == AF_OK)
        rc = af_serve_url(srv, "fetch", &url);
    if (rc == AF_OK)
        rc = af_serve_put(srv, "fetch", "text/plain", body ? body : "");
    if (rc == AF_OK) {
        uj = json_string(url);
        rc = uj ? af_scope_set(&c->sc, json_string_value(json_object_get(listen, "as")), uj)
                : AF_ERR_NOMEM;
    }
    json_decref(uj);
    free(url);
    free(body);
    return rc;
}

/* step_forge: make the token a "forge" step describes (forge.h) and keep
 * it under the step's "as". A token that is not a JWS is the premise
 * failing (inconclusive: the API's tokens are opaque, nothing to forge);
 * in an "optional" step, a token that cannot be made (no secret guessed)
 * leaves "as" undefined and the check goes on. */
static void step_forge(struct af_ck *c, const json_t *step, const char *stepname)
{
    const char *as = json_string_value(json_object_get(step, "as"));
    const char *log_as = json_string_value(json_object_get(step, "log_as"));
    const json_t *listen = json_object_get(step, "listen");
    const char *how;
    json_t *spec = NULL, *tok = NULL;
    char *s = NULL;
    struct af_err e;
    af_rc rc;

    af_err_clear(&e);
    if (listen != NULL) {
        rc = forge_listen(c, listen, log_as, &e);
        if (rc != AF_OK) {
            af_ck_var_problem(c, stepname, rc, &e);
            goto out;
        }
    }
    rc = af_tmpl_expand_json(&c->sc, json_object_get(step, "forge"), &spec, &e);
    if (rc != AF_OK) {
        af_ck_var_problem(c, stepname, rc, &e);
        goto out;
    }
    how = af_forge_serves(spec);
    if (how != NULL)
        rc = forge_serve(c, spec, how, log_as, &s, &e);
    else
        rc = af_forge(spec, &s, &e);
    if (rc == AF_ERR_NOTFOUND && json_is_true(json_object_get(step, "optional")))
        goto out;
    if (rc == AF_ERR_PARSE || rc == AF_ERR_NOTFOUND) {
        af_ck_inconclusive(c, stepname, e.msg);
        goto out;
    }
    if (rc != AF_OK) {
        af_ck_error(c, stepname, e.msg[0] ? e.msg : af_rc_str(rc));
        goto out;
    }
    tok = json_string(s);
    if (tok == NULL || af_scope_set(&c->sc, as, tok) != AF_OK)
        af_ck_error(c, stepname, "out of memory");
out:
    json_decref(tok);
    json_decref(spec);
    free(s);
}

/* step_run: run the command a "run" step names (the profile's argument
 * vector, e.g. taking a dependency down), without a shell, its output
 * discarded, within AF_PROBE_RUN_SECONDS; a failure to start, a non-zero
 * exit or the time running out is an error of the check. */
static void step_run(struct af_ck *c, const json_t *v, const char *stepname)
{
    json_t *argv_j = NULL, *m;
    char **argv = NULL, m2[512];
    struct af_err e;
    size_t i, n;
    pid_t pid = -1;
    int st = 0, waited = 0;
    posix_spawn_file_actions_t fa;
    af_rc rc;

    af_err_clear(&e);
    rc = af_tmpl_expand_json(&c->sc, v, &argv_j, &e);
    if (rc != AF_OK) {
        af_ck_var_problem(c, stepname, rc, &e);
        return;
    }
    n = json_array_size(argv_j);
    if (n == 0 || n > 64) {
        af_ck_error(c, stepname, "run: not a command (a list of 1..64 strings)");
        goto out;
    }
    argv = calloc(n + 1, sizeof(*argv));
    if (argv == NULL)
        goto out;
    json_array_foreach(argv_j, i, m)
    {
        if (!json_is_string(m)) {
            af_ck_error(c, stepname, "run: every argument is a string");
            goto out;
        }
        argv[i] = (char *)json_string_value(m);
    }
    if (posix_spawn_file_actions_init(&fa) != 0)
        goto out;
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    st = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (st != 0) {
        snprintf(m2, sizeof(m2), "run: cannot start %.200s: %s", argv[0], strerror(st));
        af_ck_error(c, stepname, m2);
        goto out;
    }
    for (i = 0; i < (size_t)AF_PROBE_RUN_SECONDS * 20; i++) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        waited = (int)waitpid(pid, &st, WNOHANG);
        if (waited != 0)
            break;
        nanosleep(&ts, NULL);
    }
    if (waited == 0) {
        kill(pid, SIGKILL);
        (void)waitpid(pid, &st, 0);
        snprintf(m2, sizeof(m2), "run: %.200s did not finish within %d s", argv[0],
                 AF_PROBE_RUN_SECONDS);
        af_ck_error(c, stepname, m2);
    } else if (waited < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(m2, sizeof(m2), "run: %.200s failed (%s %d)", argv[0],
                 waited > 0 && WIFEXITED(st) ? "exit" : "signal",
                 waited > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        af_ck_error(c, stepname, m2);
    }
out:
    free(argv);
    json_decref(argv_j);
}

/* step_hops_failed: true (with the failure recorded) when a hop got no
 * answer or a server error the step does not allow; an unreachable hop,
 * or one the server closed without an HTTP answer (a TLS-only port sent
 * plain http does that), in an allow_unreachable step is left to the
 * expectations. */
static bool step_hops_failed(struct af_ck *c, const json_t *step, const char *stepname,
                             const struct af_hops *hs)
{
    size_t i;
    for (i = 0; i < hs->n; i++) {
        const struct af_hop *h = &hs->v[i];
        char m[1024], u[201];
        af_trace_redact_url(u, sizeof(u), h->url, c->r->o->show_secrets);
        if (h->transport_error != NULL && c->allow_unreachable &&
            (h->unreachable || h->no_http_answer)) {
            continue; /* judged by the expectations: status is 0 */
        } else if (h->transport_error != NULL && h->unreachable) {
            /* No answer is not a verdict on the target: the run could not
             * be made (reported once; later checks there are not run). */
            af_ck_unreachable(c, stepname, h->url, h->transport_error);
            return true;
        } else if (h->transport_error != NULL) {
            /* An answer the target got wrong (a body over the cap, a
             * response that stopped): a failure of the step. */
            snprintf(m, sizeof(m), "request: expected a response from %s, got %s", u,
                     h->transport_error);
            af_ck_fail(c, stepname, AF_SEV_MUST, AF_ROLE_OUTCOME, m, c->res->spec, NULL);
            return true;
        } else if (h->status >= 500 && !json_is_true(json_object_get(step, "allow_5xx"))) {
            snprintf(m, sizeof(m), "status: expected no server error, got %ld from %s", h->status,
                     u);
            af_ck_fail(c, stepname, AF_SEV_MUST, AF_ROLE_OUTCOME, m, c->res->spec, NULL);
            return true;
        }
    }
    return false;
}

/* setup_hint: when a setup's expectation fails on an HTML page with a
 * form (a login or consent page the profile's rules did not fill), say so:
 * that, not the target, is the usual cause. */
static void setup_hint(const struct af_step_view *sv, struct af_buf *why)
{
    const struct af_hop *h = sv->nhops > 0 ? &sv->hops[sv->nhops - 1] : NULL;
    if (h == NULL || h->status / 100 != 2 || !af_hop_is_html((struct af_hop *)h) ||
        h->body.p == NULL || strstr(h->body.p, "<form") == NULL)
        return;
    af_msg_addf(why,
                "; the flow stopped at a page with a form (%.160s) that no login rule of the "
                "profile filled (login.forms, docs/suite-format.md §13.2)",
                h->url);
}

/* step_expect: evaluate the step's expectations over hs, then (when no
 * MUST one failed and the check goes on) its captures. true when a MUST
 * expectation failed. */
static bool step_expect(struct af_ck *c, const json_t *step, const char *stepname,
                        struct af_hops *hs, const char *curi, const char *prefix,
                        struct af_buf *why)
{
    const char *spec = c->res->spec;
    struct af_step_view sv;
    bool failed = false;
    json_t *ex;
    size_t i;

    sv.hops = hs->v;
    sv.nhops = hs->n;
    sv.http = c->r->http;
    sv.sc = &c->sc;
    sv.client_uri = curi;
    sv.jwks = af_run_jwks;
    sv.jwks_ud = c;
    sv.show_secrets = c->r->o->show_secrets;
    json_array_foreach(json_object_get(step, "expect"), i, ex)
    {
        af_ex_result r;
        af_severity sev = ex_sev(c, ex);
        af_role role = ex_role(ex);
        const char *xs = json_string_value(json_object_get(ex, "spec"));
        af_buf_reset(why);
        r = af_expect_eval(&sv, ex, why);
        if (r == AF_EX_FAIL) {
            if (role == AF_ROLE_OUTCOME && sev == AF_SEV_MUST && c->setup_depth > 0)
                setup_hint(&sv, why);
            af_ck_fail(c, stepname, sev, role, af_buf_str(why), xs ? xs : spec,
                       json_string_value(json_object_get(ex, "why")));
            /* A form failure lets the step go on; a premise or an outcome
             * MUST failure ends it. */
            if (role == AF_ROLE_PREMISE || (role == AF_ROLE_OUTCOME && sev == AF_SEV_MUST))
                failed = true;
            /* The expectations after a failed premise would be judged on
             * what did not happen: stop here. */
            if (role == AF_ROLE_PREMISE)
                break;
        } else if (r == AF_EX_SKIP) {
            /* The hop the expectation is about did not happen: what did not
             * happen cannot be judged (inconclusive, never a skip). */
            af_ck_inconclusive(c, stepname, af_buf_str(why));
            break;
        } else if (r == AF_EX_ERROR) {
            af_ck_error(c, stepname, af_buf_str(why));
            break;
        }
    }
    if (!failed && !c->stop && json_object_get(step, "capture") != NULL)
        do_captures(c, json_object_get(step, "capture"), &sv, prefix, stepname, spec);
    return failed;
}

/* step_request: build the step's request, send it and follow its hops,
 * then judge them. Problems are recorded in the check. */
static void step_request(struct af_ck *c, const json_t *step, const char *stepname,
                         const char *prefix, struct af_buf *why)
{
    struct af_request q;
    struct af_hops hs = {NULL, 0};
    struct af_err e;
    char *curi = NULL, *fail_msg = NULL;
    const char *sub_why = NULL;
    bool failed = false;
    af_rc rc;

    af_request_init(&q);
    af_err_clear(&e);
    rc = af_request_build(c, json_object_get(step, "request"), &q, &sub_why, &e);
    if (rc == AF_ERR_NOTFOUND || rc == AF_ERR_INVALID || rc == AF_ERR_PARSE) {
        af_ck_var_problem(c, stepname, rc, &e);
        goto out;
    }
    if (rc != AF_OK) {
        af_ck_error(c, stepname, e.msg[0] ? e.msg : af_rc_str(rc));
        goto out;
    }
    if (sub_why != NULL) {
        char m[512];
        snprintf(m, sizeof(m), "submit: expected a form to submit, got none (%s)", sub_why);
        af_ck_fail(c, stepname, AF_SEV_MUST, AF_ROLE_OUTCOME, m, c->res->spec, NULL);
        goto out;
    }
    if (af_ck_dead_host(c, stepname, af_buf_str(&q.url)))
        goto out;
    curi = af_request_client_uri(c, &q);
    af_err_clear(&e);
    c->allow_unreachable = json_is_true(json_object_get(step, "allow_unreachable"));
    rc = af_hops_follow(c, step, &q, curi, &hs, stepname, &fail_msg, &e);
    if (rc != AF_OK) {
        af_ck_var_problem(c, stepname, rc, &e);
        goto out;
    }
    if (fail_msg != NULL) {
        af_ck_fail(c, stepname, AF_SEV_MUST, AF_ROLE_OUTCOME, fail_msg, c->res->spec, NULL);
        failed = true;
    }
    if (!failed)
        failed = step_hops_failed(c, step, stepname, &hs);
    if (!failed)
        failed = step_expect(c, step, stepname, &hs, curi, prefix, why);
    if (hs.n > 0)
        af_ck_prev_put(c, &hs.v[hs.n - 1]);
    if (failed)
        c->stop = true;
out:
    af_hops_free(&hs);
    free(curi);
    free(fail_msg);
    af_request_free(&q);
}

/* run_step: one step: its bindings, then whichever of use, sleep or a
 * request it is. The check stops after a failure or an error. */
static void run_step(struct af_ck *c, const json_t *step, size_t si, const char *fixture,
                     const char *prefix)
{
    char stepname[256];
    json_t *saved = NULL;
    const json_t *v;
    struct af_buf why;
    struct af_err e;
    af_rc rc;

    af_buf_init(&why, 8192);
    step_name(stepname, sizeof(stepname), step, si, fixture);
    af_err_clear(&e);
    rc = af_scope_bind_push(&c->sc, json_object_get(step, "bind"), &saved, &e);
    if (rc != AF_OK) {
        af_ck_var_problem(c, stepname, rc, &e);
        goto out;
    }
    if (!step_applies(c, step, stepname, &why) || !step_use_flow(c, step, stepname))
        goto out;
    v = json_object_get(step, "use");
    if (v != NULL) {
        af_step_use(c, v, stepname, prefix);
        goto out;
    }
    v = json_object_get(step, "sleep");
    if (v != NULL) {
        step_sleep(c, v, stepname);
        goto out;
    }
    if (json_object_get(step, "forge") != NULL) {
        step_forge(c, step, stepname);
        goto out;
    }
    v = json_object_get(step, "run");
    if (v != NULL) {
        step_run(c, v, stepname);
        goto out;
    }
    v = json_object_get(step, "race");
    if (v != NULL) {
        af_step_race(c, v, stepname);
        goto out;
    }
    v = json_object_get(step, "concurrent");
    if (v != NULL) {
        af_step_concurrent(c, v, stepname);
        goto out;
    }
    if (json_object_get(step, "request") == NULL) {
        /* expectations about captured values (samples): no response */
        struct af_hops none = {NULL, 0};
        (void)step_expect(c, step, stepname, &none, NULL, prefix, &why);
        goto out;
    }
    step_request(c, step, stepname, prefix, &why);
out:
    c->allow_unreachable = false;
    if (c->res->status == AF_CHECK_FAIL || c->res->status == AF_CHECK_ERROR ||
        c->res->status == AF_CHECK_NOTRUN || c->res->status == AF_CHECK_INCONCLUSIVE)
        c->stop = true;
    af_scope_bind_pop(&c->sc, saved);
    af_buf_free(&why);
}

void af_step_run_steps(struct af_ck *c, const json_t *steps, const char *fixture,
                       const char *prefix)
{
    size_t i;
    json_t *st;
    json_array_foreach(steps, i, st)
    {
        char name[256];
        size_t had;
        if (!c->stop) {
            run_step(c, st, i, fixture, prefix);
            continue;
        }
        /* After an outcome failure, only steps that gather evidence
         * ("always": a ledger query) still run, never after an error, a
         * premise failure or a setup failure; what they find is the
         * result's evidence ("held" when every expectation held). */
        if (!c->outcome_failed || c->res->status != AF_CHECK_FAIL ||
            !json_is_true(json_object_get(st, "always")))
            continue;
        had = c->res->evidence ? strlen(c->res->evidence) : 0;
        c->gathering = true;
        run_step(c, st, i, fixture, prefix);
        c->gathering = false;
        if ((c->res->evidence ? strlen(c->res->evidence) : 0) == had) {
            struct af_buf b;
            step_name(name, sizeof(name), st, i, fixture);
            af_buf_init(&b, 1024);
            af_msg_addf(&b, "%s [%s%s%s] held", c->id, c->label ? c->label : "",
                        c->label ? ": " : "", name);
            af_ck_evidence(c, af_buf_str(&b));
            af_buf_free(&b);
        }
    }
}

/* setup_key: what identifies a setup across checks: the fixture's entry
 * (name, bindings, set), the check's own bindings and the foreach element.
 * Caller frees; NULL when out of memory. */
static char *setup_key(const struct af_ck *c, const json_t *entry)
{
    char *e = json_dumps(entry, JSON_ENCODE_ANY | JSON_SORT_KEYS | JSON_COMPACT);
    char *b = json_dumps(json_object_get(c->chk, "bind"), JSON_SORT_KEYS | JSON_COMPACT);
    char *out = NULL;
    if (e != NULL && asprintf(&out, "%s|%s|%s", e, b ? b : "", c->label ? c->label : "") < 0)
        out = NULL;
    free(e);
    free(b);
    return out;
}

/* run_fixture: one entry of a needs list (or a use step): its bindings,
 * its own needs, its set, then its steps; as setup when is_setup (a
 * failure is the setup's; see af_step_run_needs). */
static void run_fixture(struct af_ck *c, const json_t *m, const char *prefix, int depth,
                        bool via_use)
{
    const char *name =
        json_is_string(m) ? json_string_value(m) : json_string_value(json_object_get(m, "fixture"));
    const char *as = json_string_value(json_object_get(m, "as"));
    const json_t *fx = json_object_get(c->r->s->fixtures, name);
    const json_t *setup = json_object_get(fx, "setup");
    bool is_setup = setup != NULL ? json_is_true(setup) : !via_use;
    json_t *s1 = NULL, *s2 = NULL, *set;
    const char *pfx = as ? as : prefix;
    char *key = NULL;
    bool entered = false;
    struct af_err e;
    af_rc rc;

    af_err_clear(&e);
    rc = af_scope_bind_push(&c->sc, json_object_get(m, "bind"), &s1, &e);
    if (rc == AF_OK)
        rc = af_scope_bind_push(&c->sc, json_object_get(fx, "bind"), &s2, &e);
    if (rc != AF_OK) {
        af_ck_var_problem(c, name, rc, &e);
        goto out;
    }
    if (is_setup) {
        key = setup_key(c, m);
        if (key == NULL) {
            af_ck_error(c, name, "out of memory");
            goto out;
        }
        /* A setup reached through "use" may have been broken by the check's
         * own earlier steps: it is not remembered for other checks. */
        if (!af_ck_setup_enter(c, name, via_use ? NULL : key, key))
            goto out;
        entered = true;
    }
    set = json_object_get(m, "set");
    if (set != NULL && !af_step_set(c, set, name))
        goto out;
    af_step_run_needs(c, json_object_get(fx, "needs"), pfx, depth + 1, false);
    if (c->stop)
        goto out;
    set = json_object_get(fx, "set");
    if (set != NULL && !af_step_set(c, set, name))
        goto out;
    af_step_run_steps(c, json_object_get(fx, "steps"), name, pfx);
out:
    if (entered)
        af_ck_setup_leave(c);
    free(key);
    af_scope_bind_pop(&c->sc, s2);
    af_scope_bind_pop(&c->sc, s1);
}

void af_step_run_needs(struct af_ck *c, const json_t *needs, const char *prefix, int depth,
                       bool via_use)
{
    size_t i;
    json_t *m;
    if (depth > 16)
        return;
    json_array_foreach(needs, i, m)
    {
        if (c->stop)
            return;
        run_fixture(c, m, prefix, depth, via_use);
    }
}
