/*
 * step.c - the step runner: conditions, set, use, sleep, the request and
 * its hops, expectations and captures; and the fixtures a check needs
 * (docs/suite-format.md §4, §8, §10).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "probe/hops.h"
#include "probe/prepare.h"
#include "probe/step.h"

/* ---- conditions, set, captures ---- */

/* af_step_conds: true when every condition holds; else *why explains. */
af_ex_result af_step_conds(struct af_ck *c, const json_t *conds, struct af_buf *why)
{
    return af_conds_eval(&c->sc, conds, c->r->o->show_secrets, why);
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

        memset(&val, 0, sizeof(val));
        af_hop_pick(sv, on, idx, &n);
        if (n == 0) {
            if (!optional)
                af_ck_skip(c, step, "the hop to capture from did not happen");
            continue;
        }
        cx.hop = &sv->hops[idx[0]];
        cx.http = sv->http;
        cx.sc = sv->sc;
        cx.nhops = sv->nhops;
        af_err_clear(&e);
        if (af_sel_eval(&cx, sel, &val, &e) != AF_OK) {
            snprintf(msg, sizeof(msg), "capture %s: %s: %s", k, sel, e.msg);
            af_ck_fail(c, step, AF_SEV_MUST, msg, spec, NULL);
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
                af_ck_fail(c, step, AF_SEV_MUST, msg, spec, NULL);
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
            af_ck_error(c, step, "out of memory");
        free(name);
        json_decref(store);
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

static void run_step(struct af_ck *c, const json_t *step, size_t si, const char *fixture,
                     const char *prefix)
{
    char stepname[256];
    const char *nm = json_string_value(json_object_get(step, "name"));
    const char *spec = c->res->spec;
    json_t *saved = NULL, *v;
    struct af_buf why;
    struct af_request q;
    struct af_hops hs = {NULL, 0};
    struct af_err e;
    char *curi = NULL, *fail_msg = NULL;
    const char *sub_why = NULL;
    af_rc rc;
    size_t i;
    bool step_failed = false;

    af_buf_init(&why, 8192);
    af_request_init(&q);
    if (nm != NULL)
        snprintf(stepname, sizeof(stepname), "%s%s%s", fixture ? fixture : "", fixture ? "/" : "",
                 nm);
    else
        snprintf(stepname, sizeof(stepname), "%s%sstep %zu", fixture ? fixture : "",
                 fixture ? "/" : "", si + 1);
    af_err_clear(&e);
    rc = af_scope_bind_push(&c->sc, json_object_get(step, "bind"), &saved, &e);
    if (rc != AF_OK) {
        af_ck_var_problem(c, stepname, rc, &e);
        goto out;
    }
    v = json_object_get(step, "if");
    if (v != NULL) {
        af_ex_result r = af_step_conds(c, v, &why);
        if (r == AF_EX_ERROR) {
            af_ck_error(c, stepname, af_buf_str(&why));
            goto out;
        }
        if (r != AF_EX_PASS)
            goto out; /* this step does not apply; the check goes on */
    }
    v = json_object_get(step, "when");
    if (v != NULL) {
        af_ex_result r = af_step_conds(c, v, &why);
        if (r == AF_EX_ERROR) {
            af_ck_error(c, stepname, af_buf_str(&why));
            goto out;
        }
        if (r != AF_EX_PASS) {
            af_ck_skip(c, stepname, af_buf_str(&why));
            goto out;
        }
    }
    v = json_object_get(step, "set");
    if (v != NULL && !af_step_set(c, v, stepname))
        goto out;
    {
        const char *flow = json_string_value(json_object_get(step, "flow"));
        if (flow == NULL)
            flow = "main";
        if (strcmp(flow, c->flow) != 0) {
            char *nf = strdup(flow);
            if (nf == NULL || af_http_use_flow(c->r->http, flow) != AF_OK) {
                free(nf);
                af_ck_error(c, stepname, "out of memory");
                goto out;
            }
            free(c->flow);
            c->flow = nf;
        }
    }
    v = json_object_get(step, "use");
    if (v != NULL) {
        /* Another fixture's steps, here, in this flow: a sequence shared
         * by several checks that must run after their own first steps. */
        json_t *one = json_pack("[O]", v);
        if (one == NULL) {
            af_ck_error(c, stepname, "out of memory");
            goto out;
        }
        if (c->use_depth >= 16) {
            af_ck_error(c, stepname, "\"use\" nests more than 16 deep (a fixture uses itself?)");
        } else {
            c->use_depth++;
            af_step_run_needs(c, one, prefix, 0);
            c->use_depth--;
        }
        json_decref(one);
        goto out;
    }
    v = json_object_get(step, "sleep");
    if (v != NULL) {
        double secs = json_number_value(v);
        if (json_is_string(v)) {
            char *s = NULL, *end;
            af_err_clear(&e);
            rc = af_tmpl_expand_str(&c->sc, json_string_value(v), &s, NULL, &e);
            if (rc != AF_OK) {
                af_ck_var_problem(c, stepname, rc, &e);
                free(s);
                goto out;
            }
            secs = s ? strtod(s, &end) : -1;
            if (s == NULL || *end != '\0' || secs < 0 || secs > 3600) {
                af_ck_error(c, stepname, "sleep: not a number of seconds in 0..3600");
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
        af_ck_fail(c, stepname, AF_SEV_MUST, m, spec, NULL);
        goto out;
    }
    curi = af_request_client_uri(c, &q);
    af_err_clear(&e);
    c->allow_unreachable = json_is_true(json_object_get(step, "allow_unreachable"));
    rc = af_hops_follow(c, step, &q, curi, &hs, stepname, &fail_msg, &e);
    if (rc != AF_OK) {
        af_ck_var_problem(c, stepname, rc, &e);
        goto out;
    }
    if (fail_msg != NULL) {
        af_ck_fail(c, stepname, AF_SEV_MUST, fail_msg, spec, NULL);
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
            af_ck_fail(c, stepname, AF_SEV_MUST, m, spec, NULL);
            step_failed = true;
        } else if (h->status >= 500 && !json_is_true(json_object_get(step, "allow_5xx"))) {
            snprintf(m, sizeof(m), "status: expected no server error, got %ld from %.200s",
                     h->status, h->url);
            af_ck_fail(c, stepname, AF_SEV_MUST, m, spec, NULL);
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
        sv.jwks = af_run_jwks;
        sv.jwks_ud = c;
        sv.show_secrets = c->r->o->show_secrets;
        json_array_foreach(json_object_get(step, "expect"), i, ex)
        {
            af_ex_result r;
            af_severity sev = ex_sev(c, ex);
            const char *xs = json_string_value(json_object_get(ex, "spec"));
            af_buf_reset(&why);
            r = af_expect_eval(&sv, ex, &why);
            if (r == AF_EX_FAIL) {
                af_ck_fail(c, stepname, sev, af_buf_str(&why), xs ? xs : spec,
                           json_string_value(json_object_get(ex, "why")));
                if (sev == AF_SEV_MUST)
                    step_failed = true;
            } else if (r == AF_EX_SKIP) {
                af_ck_skip(c, stepname, af_buf_str(&why));
                break;
            } else if (r == AF_EX_ERROR) {
                af_ck_error(c, stepname, af_buf_str(&why));
                break;
            }
        }
        if (!step_failed && !c->stop && json_object_get(step, "capture") != NULL)
            do_captures(c, json_object_get(step, "capture"), &sv, prefix, stepname, spec);
    }
    if (hs.n > 0)
        af_ck_prev_put(c, &hs.v[hs.n - 1]);
    if (step_failed)
        c->stop = true;
out:
    c->allow_unreachable = false;
    if (c->res->status == AF_CHECK_FAIL || c->res->status == AF_CHECK_ERROR)
        c->stop = true;
    af_hops_free(&hs);
    free(curi);
    free(fail_msg);
    af_request_free(&q);
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
        if (c->stop)
            return;
        run_step(c, st, i, fixture, prefix);
    }
}

void af_step_run_needs(struct af_ck *c, const json_t *needs, const char *prefix, int depth)
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
            af_ck_var_problem(c, name, rc, &e);
            return;
        }
        set = json_object_get(m, "set");
        if (set != NULL && !af_step_set(c, set, name))
            goto next;
        af_step_run_needs(c, json_object_get(fx, "needs"), pfx, depth + 1);
        if (c->stop)
            goto next;
        set = json_object_get(fx, "set");
        if (set != NULL && !af_step_set(c, set, name))
            goto next;
        af_step_run_steps(c, json_object_get(fx, "steps"), name, pfx);
    next:
        af_scope_bind_pop(&c->sc, s2);
        af_scope_bind_pop(&c->sc, s1);
    }
}
