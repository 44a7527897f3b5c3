/*
 * concurrent.c - the "concurrent" step (concurrent.h): log every member
 * in, one after the other, then send all their requests at once through
 * af_http_send_many, several rounds, and compare each answer's identity
 * with its member's.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/concurrent.h"
#include "probe/jsonutil.h"
#include "probe/request.h"
#include "probe/step.h"

#define ROUNDS_DEFAULT 5
#define ROUNDS_MAX     20

struct member {
    char *name;   /* the member's key */
    char *expect; /* the identity its answers must carry */
    struct af_request q;
    struct af_http_req hr;
};

af_rc af_concurrent_check(const json_t *spec, struct af_err *err)
{
    static const char *const strs[] = {"each", "as", "token", "identity", "expect"};
    static const char *const known[] = {"each",    "as",       "set",    "login", "token",
                                        "request", "identity", "expect", "rounds"};
    const json_t *r = json_object_get(spec, "rounds");
    size_t i;
    if (!json_is_object(spec))
        return AF_ERR_SET(err, AF_ERR_INVALID, "concurrent must be an object");
    if (af_json_known_keys(spec, known, sizeof(known) / sizeof(known[0]), "concurrent", err) !=
        AF_OK)
        return AF_ERR_INVALID;
    for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        if (!json_is_string(json_object_get(spec, strs[i])))
            return AF_ERR_SET(err, AF_ERR_INVALID, "concurrent.%s: a string is required", strs[i]);
    if (!json_is_object(json_object_get(spec, "login")) ||
        !json_is_object(json_object_get(spec, "request")))
        return AF_ERR_SET(err, AF_ERR_INVALID,
                          "concurrent.login and concurrent.request are request objects");
    if (json_object_get(spec, "set") != NULL && !json_is_object(json_object_get(spec, "set")))
        return AF_ERR_SET(err, AF_ERR_INVALID, "concurrent.set must be an object");
    if (r != NULL &&
        (!json_is_integer(r) || json_integer_value(r) < 1 || json_integer_value(r) > ROUNDS_MAX))
        return AF_ERR_SET(err, AF_ERR_INVALID, "concurrent.rounds: 1..%d", ROUNDS_MAX);
    return AF_OK;
}

/* sel_text: the value sel (a template) selects in hop, as text; NULL when
 * absent. Caller frees. */
static char *sel_text(struct af_ck *c, const char *sel_tmpl, struct af_hop *hop)
{
    struct af_sel_ctx cx = {hop, c->r->http, &c->sc, 1};
    struct af_sv val;
    struct af_err e;
    char *sel = NULL, *out = NULL;
    memset(&val, 0, sizeof(val));
    af_err_clear(&e);
    if (af_tmpl_expand_str(&c->sc, sel_tmpl, &sel, NULL, &e) != AF_OK || sel == NULL ||
        af_sel_eval(&cx, sel, &val, &e) != AF_OK || val.kind != AF_SV_VALUE)
        goto out;
    if (json_is_string(val.json))
        out = strdup(json_string_value(val.json));
    else
        out = json_dumps(val.json, JSON_ENCODE_ANY | JSON_COMPACT);
out:
    af_sv_clear(&val);
    free(sel);
    return out;
}

/* member_prepare: log member name in and build its request; false (with
 * the check's verdict recorded) when that could not be done. */
static bool member_prepare(struct af_ck *c, const json_t *spec, const char *each, const char *name,
                           struct member *m, const char *stepname)
{
    json_t *bind = NULL, *saved = NULL, *tokj = NULL;
    struct af_request lq;
    struct af_http_req lhr;
    struct af_hop hop;
    struct af_err e;
    char *path = NULL, *tok = NULL, msg[1024];
    bool ok = false;
    af_rc rc;

    af_request_init(&lq);
    af_hop_init(&hop);
    af_err_clear(&e);
    if (asprintf(&path, "%s.%s", each, name) < 0) {
        path = NULL;
        goto out;
    }
    bind = json_pack("{s:s}", json_string_value(json_object_get(spec, "as")), path);
    if (bind == NULL || af_scope_bind_push(&c->sc, bind, &saved, &e) != AF_OK) {
        af_ck_error(c, stepname, e.msg[0] ? e.msg : "out of memory");
        goto out;
    }
    if (json_object_get(spec, "set") != NULL &&
        !af_step_set(c, json_object_get(spec, "set"), stepname))
        goto pop;
    if (!af_request_ready(c, json_object_get(spec, "login"), &lq, &lhr, stepname))
        goto pop;
    if (af_http_send(c->r->http, &lhr, &hop) != AF_OK) {
        af_ck_error(c, stepname, "out of memory");
        goto pop;
    }
    c->res->requests++;
    tok = hop.status >= 200 && hop.status < 300
              ? sel_text(c, json_string_value(json_object_get(spec, "token")), &hop)
              : NULL;
    if (tok == NULL) {
        snprintf(msg, sizeof(msg), "%s could not log in: status %ld%s%s", name, hop.status,
                 hop.transport_error ? ", " : ", no token where the profile says",
                 hop.transport_error ? hop.transport_error : "");
        af_ck_error(c, stepname, msg);
        goto pop;
    }
    tokj = json_string(tok);
    if (tokj == NULL || af_scope_set(&c->sc, "tok", tokj) != AF_OK) {
        af_ck_error(c, stepname, "out of memory");
        goto pop;
    }
    rc = af_tmpl_expand_str(&c->sc, json_string_value(json_object_get(spec, "expect")), &m->expect,
                            NULL, &e);
    if (rc == AF_ERR_NOTFOUND || rc == AF_ERR_INVALID) {
        af_ck_var_problem(c, stepname, rc, &e);
        goto pop;
    }
    if (rc != AF_OK || m->expect == NULL) {
        af_ck_error(c, stepname, "the expected identity expands to nothing");
        goto pop;
    }
    if (!af_request_ready(c, json_object_get(spec, "request"), &m->q, &m->hr, stepname))
        goto pop;
    m->name = strdup(name);
    ok = m->name != NULL;
pop:
    af_scope_bind_pop(&c->sc, saved);
out:
    json_decref(tokj);
    json_decref(bind);
    free(tok);
    free(path);
    af_hop_clear(&hop);
    af_request_free(&lq);
    return ok;
}

/* one_round: all requests at once; the first wrong answer is reported,
 * with how many there were. */
static void one_round(struct af_ck *c, const json_t *spec, struct member *ms, size_t n, int round,
                      const char *stepname)
{
    struct af_http_req *reqs = calloc(n, sizeof(*reqs));
    struct af_hop *hops = calloc(n, sizeof(*hops));
    char msg[1024], *first = NULL;
    size_t i, wrong = 0;

    if (reqs == NULL || hops == NULL) {
        af_ck_error(c, stepname, "out of memory");
        goto out;
    }
    for (i = 0; i < n; i++) {
        reqs[i] = ms[i].hr;
        af_hop_init(&hops[i]);
    }
    if (af_http_send_many(c->r->http, reqs, hops, n) != AF_OK) {
        af_ck_error(c, stepname, "out of memory");
        goto out;
    }
    c->res->requests += (unsigned)n;
    for (i = 0; i < n; i++) {
        char *got = NULL;
        if (hops[i].status == 0) {
            snprintf(msg, sizeof(msg), "round %d: %s's request got no answer: %s", round,
                     ms[i].name, hops[i].transport_error ? hops[i].transport_error : "?");
        } else if (hops[i].status < 200 || hops[i].status > 299) {
            snprintf(msg, sizeof(msg), "round %d: %s's request was answered %ld", round, ms[i].name,
                     hops[i].status);
        } else {
            got = sel_text(c, json_string_value(json_object_get(spec, "identity")), &hops[i]);
            if (got != NULL && strcmp(got, ms[i].expect) == 0) {
                free(got);
                continue;
            }
            snprintf(msg, sizeof(msg),
                     "round %d: the answer to %s's request names %s%s%s, not %s: "
                     "another principal's data",
                     round, ms[i].name, got ? "\"" : "", got ? got : "no identity", got ? "\"" : "",
                     ms[i].expect);
        }
        free(got);
        if (wrong++ == 0)
            first = strdup(msg);
    }
    if (wrong > 0) {
        snprintf(msg, sizeof(msg), "%s (%zu of %zu answers of the round wrong)",
                 first ? first : "?", wrong, n);
        af_ck_fail(c, stepname, AF_SEV_MUST, AF_ROLE_OUTCOME, msg, "the API's access policy",
                   "answers given at the same time must each belong to their own caller");
    }
out:
    for (i = 0; hops != NULL && i < n; i++)
        af_hop_clear(&hops[i]);
    free(hops);
    free(reqs);
    free(first);
}

void af_step_concurrent(struct af_ck *c, const json_t *spec, const char *stepname)
{
    const char *each = json_string_value(json_object_get(spec, "each"));
    const json_t *r = json_object_get(spec, "rounds");
    int rounds = r ? (int)json_integer_value(r) : ROUNDS_DEFAULT, k;
    struct member *ms = NULL;
    json_t *obj = NULL, *v;
    const char *name;
    struct af_err e;
    bool lit;
    size_t n = 0, i;

    af_err_clear(&e);
    if (af_var_get(&c->sc, each, &obj, &lit, &e) != AF_OK || !json_is_object(obj)) {
        if (e.msg[0])
            af_ck_var_problem(c, stepname, AF_ERR_NOTFOUND, &e);
        else
            af_ck_error(c, stepname, "concurrent.each does not name an object");
        goto out;
    }
    if (json_object_size(obj) < 2 || json_object_size(obj) > AF_HTTP_MAX_MANY) {
        char m[256];
        snprintf(m, sizeof(m), "concurrent: %s has %zu members; 2..%d take part", each,
                 json_object_size(obj), AF_HTTP_MAX_MANY);
        af_ck_skip(c, stepname, m);
        goto out;
    }
    ms = calloc(json_object_size(obj), sizeof(*ms));
    if (ms == NULL) {
        af_ck_error(c, stepname, "out of memory");
        goto out;
    }
    json_object_foreach(obj, name, v)
    {
        (void)v;
        af_request_init(&ms[n].q);
        n++;
        if (!member_prepare(c, spec, each, name, &ms[n - 1], stepname))
            goto out;
    }
    for (k = 1; k <= rounds && !c->stop && c->res->status != AF_CHECK_FAIL; k++)
        one_round(c, spec, ms, n, k, stepname);
out:
    for (i = 0; i < n; i++) {
        free(ms[i].name);
        free(ms[i].expect);
        af_request_free(&ms[i].q);
    }
    free(ms);
    json_decref(obj);
}
