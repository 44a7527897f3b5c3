/*
 * hops.c - sending a step's request and following it hop by hop:
 * redirects and the target profile's login rules (docs/suite-format.md §7).
 */
#include "config.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authflow/proto.h"
#include "probe/hops.h"
#include "probe/regex.h"

/* ---- sending and following ---- */

void af_hops_free(struct af_hops *h)
{
    size_t i;
    for (i = 0; i < h->n; i++)
        af_hop_clear(&h->v[i]);
    free(h->v);
    h->v = NULL;
    h->n = 0;
}

static af_rc send_one(struct af_ck *c, struct af_request *q, struct af_hops *hs, const char *step)
{
    struct af_http_req hr;
    struct af_hop *nv;
    af_rc rc;
    memset(&hr, 0, sizeof(hr));
    rc = af_request_finish(q, &hr);
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
    if (nv[hs->n - 1].bad_url && (hs->n > 1 || q->submitted)) {
        /* The target named this URL (a Location, a form's action): that it
         * cannot be sent is the target's answer, judged by the step, not a
         * host found unreachable (which would stop every later check). */
        nv[hs->n - 1].unreachable = false;
    }
    c->res->requests++;
    if (c->r->o->trace != NULL)
        af_trace_hop(c->r->o->trace, c->id, step, hs->n, &nv[hs->n - 1], c->r->o->show_secrets);
    if (nv[hs->n - 1].unreachable && !c->r->res->unreachable && !c->allow_unreachable) {
        char u[1024];
        /* shown in every report: redacted like the trace, and escaped as
         * failure lines are (a Location may lead here, curl's reason
         * quotes its host) */
        af_trace_redact_url(u, sizeof(u), nv[hs->n - 1].url, c->r->o->show_secrets);
        c->r->res->unreachable = true;
        c->r->res->unreachable_at = af_text_clean(u, 4 * sizeof(u));
        c->r->res->unreachable_why = af_text_clean(
            nv[hs->n - 1].transport_error ? nv[hs->n - 1].transport_error : "unreachable",
            4 * sizeof(u));
    }
    return AF_OK;
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
        char why[AF_REGEX_WHY_MAX];
        /* refused patterns never get here: the profile's check refused them */
        if (af_regex_compile(&re, u, REG_EXTENDED | REG_NOSUB, why, sizeof(why)) != 0)
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
static af_rc apply_rule(struct af_ck *c, struct af_hop *hop, const json_t *rule,
                        struct af_request *q, bool *applied, struct af_err *e)
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
    rc = af_request_submit(c, hop, json_object_get(rule, "form"), json_object_get(rule, "fields"),
                           json_string_value(json_object_get(rule, "button")), q, &why, e);
    if (rc == AF_OK && why == NULL)
        *applied = true;
    return rc;
}

/* af_hops_follow: the step's request, then (with follow) the hops. */
af_rc af_hops_follow(struct af_ck *c, const json_t *step, struct af_request *first,
                     const char *curi, struct af_hops *hs, const char *stepname, char **fail_msg,
                     struct af_err *e)
{
    const json_t *follow = json_object_get(step, "follow");
    const json_t *login = json_object_get(c->r->t->root, "login");
    const json_t *rules = NULL;
    json_t *single = NULL;
    bool do_login = true;
    long max_hops = c->r->max_hops;
    size_t *uses = NULL, nrules = 0, i;
    char last[121];   /* the last hop's URL, redacted, for the hop-limit message */
    char *reg = NULL; /* the bound client's registered redirect_uri, if any */
    struct af_err ignored;
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
    af_err_clear(&ignored);
    if (af_tmpl_expand_str(&c->sc, "{{?client." AF_P_REDIRECT_URI "}}", &reg, NULL, &ignored) !=
            AF_OK ||
        (reg != NULL && *reg == '\0')) {
        free(reg);
        reg = NULL;
    }
    nrules = json_array_size(rules);
    uses = calloc(nrules + 1, sizeof(*uses));
    if (uses == NULL) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    for (;;) {
        struct af_hop *h = &hs->v[hs->n - 1];
        struct af_request q;
        bool next = false;
        if (h->status == 0 || h->transport_error != NULL)
            break;
        if (h->status / 100 == 3 && af_hop_location(h) != NULL) {
            const char *loc = h->location;
            /* At the client's endpoint, whatever its query says (a server
             * that rewrote an injected code still redirects to the client):
             * never fetched, the live code in it goes nowhere. */
            if (curi != NULL && af_url_same_endpoint(loc, curi))
                break;
            /* Nor the client's registered endpoint when the step sent
             * another redirect_uri (a request object may name it). */
            if (reg != NULL && af_url_same_endpoint(loc, reg))
                break;
            if (strncasecmp(loc, "http://", 7) != 0 && strncasecmp(loc, "https://", 8) != 0)
                break; /* a custom-scheme client: never fetched */
            if ((long)hs->n >= max_hops)
                goto toomany;
            af_request_init(&q);
            q.no_cookies = first->no_cookies; /* a back channel stays one */
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
            af_request_free(&q);
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
            af_request_init(&q);
            rc = apply_rule(c, h, rule, &q, &applied, e);
            if (rc == AF_OK && applied) {
                if ((long)hs->n >= max_hops) {
                    af_request_free(&q);
                    goto toomany;
                }
                uses[i]++;
                q.submitted = json_object_get(rule, "link") == NULL;
                rc = send_one(c, &q, hs, stepname);
                next = true;
            }
            af_request_free(&q);
            if (rc != AF_OK)
                goto out;
        }
        if (!next)
            break;
    }
    rc = AF_OK;
    goto out;
toomany:
    af_trace_redact_url(last, sizeof(last), hs->v[hs->n - 1].url, c->r->o->show_secrets);
    if (asprintf(fail_msg,
                 "follow: expected to reach the client within %ld hops, got more (last: "
                 "%ld from %s)",
                 max_hops, hs->v[hs->n - 1].status, last) < 0)
        *fail_msg = NULL;
    rc = AF_OK;
out:
    free(uses);
    free(reg);
    json_decref(single);
    return rc;
}
