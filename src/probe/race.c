/*
 * race.c - the "race" step (race.h): build one request, send copies of it
 * at once through af_http_send_many, count the 2xx answers.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/race.h"
#include "probe/jsonutil.h"
#include "probe/request.h"
#include "probe/step.h"

#define COPIES_DEFAULT 8
#define SPEC_FORM      "RFC 6749 §5.2"
#define ROUNDS_MAX     20

af_rc af_race_check(const json_t *spec, struct af_err *err)
{
    static const char *const known[] = {"request", "copies", "at_most", "spec",
                                        "why",     "rounds", "again",   "if_none_won"};
    const json_t *n = json_object_get(spec, "copies"), *m = json_object_get(spec, "at_most");
    const json_t *r = json_object_get(spec, "rounds");
    json_int_t copies = COPIES_DEFAULT;
    size_t i;
    if (!json_is_object(spec))
        return AF_ERR_SET(err, AF_ERR_INVALID, "race must be an object");
    if (af_json_known_keys(spec, known, sizeof(known) / sizeof(known[0]), "race", err) != AF_OK)
        return AF_ERR_INVALID;
    if (!json_is_object(json_object_get(spec, "request")))
        return AF_ERR_SET(err, AF_ERR_INVALID, "race.request: a request object is required");
    if (n != NULL) {
        if (!json_is_integer(n) || json_integer_value(n) < 2 ||
            json_integer_value(n) > AF_HTTP_MAX_MANY)
            return AF_ERR_SET(err, AF_ERR_INVALID, "race.copies: 2..%d", AF_HTTP_MAX_MANY);
        copies = json_integer_value(n);
    }
    if (m != NULL &&
        (!json_is_integer(m) || json_integer_value(m) < 0 || json_integer_value(m) >= copies))
        return AF_ERR_SET(err, AF_ERR_INVALID, "race.at_most: 0..%lld (fewer than the copies)",
                          (long long)copies - 1);
    if (r != NULL &&
        (!json_is_integer(r) || json_integer_value(r) < 1 || json_integer_value(r) > ROUNDS_MAX))
        return AF_ERR_SET(err, AF_ERR_INVALID, "race.rounds: 1..%d", ROUNDS_MAX);
    for (i = 0; i < 3; i++) {
        const char *key = i == 0 ? "spec" : i == 1 ? "why" : "again";
        if (json_object_get(spec, key) && !json_is_string(json_object_get(spec, key)))
            return AF_ERR_SET(err, AF_ERR_INVALID, "race.%s must be a string", key);
    }
    if (json_object_get(spec, "if_none_won") != NULL &&
        (!json_is_string(json_object_get(spec, "if_none_won")) ||
         (strcmp(json_string_value(json_object_get(spec, "if_none_won")), "inconclusive") != 0 &&
          strcmp(json_string_value(json_object_get(spec, "if_none_won")), "pass") != 0)))
        return AF_ERR_SET(err, AF_ERR_INVALID, "race.if_none_won: \"inconclusive\" or \"pass\"");
    if (r != NULL && json_integer_value(r) > 1 && json_object_get(spec, "again") == NULL)
        return AF_ERR_SET(err, AF_ERR_INVALID,
                          "race.again: a fixture that prepares each further round is required "
                          "with rounds above 1 (the first round used up the code)");
    return AF_OK;
}

/* tally: the answers' statuses in order of first appearance, "3x200,
 * 5x400" (status 0: "no answer"), into out. */
static void tally(const struct af_hop *hops, size_t n, char *out, size_t outsz)
{
    size_t i, j, used = 0;
    out[0] = '\0';
    for (i = 0; i < n; i++) {
        size_t count = 0;
        bool seen = false;
        for (j = 0; j < i && !seen; j++)
            seen = hops[j].status == hops[i].status;
        if (seen)
            continue;
        for (j = i; j < n; j++)
            count += hops[j].status == hops[i].status;
        int w = hops[i].status ? snprintf(out + used, outsz - used, "%s%zux%ld", used ? ", " : "",
                                          count, hops[i].status)
                               : snprintf(out + used, outsz - used, "%s%zux no answer",
                                          used ? ", " : "", count);
        if (w < 0 || (size_t)w >= outsz - used)
            return;
        used += (size_t)w;
    }
}

/* The tallies of a whole step. */
struct race_sum {
    size_t rounds;     /* rounds raced */
    size_t won_rounds; /* rounds with at least one 2xx */
    size_t broken;     /* copies answered 5xx or not at all, all rounds */
    char per_round[160];
    char last[512]; /* the statuses of the last round raced */
};

/* one_race: build the request, send its copies at once; false when the
 * check stopped (an error, a failure, an unreachable server). */
static bool one_race(struct af_ck *c, const json_t *spec, const char *stepname, size_t copies,
                     size_t at_most, struct race_sum *sum)
{
    const char *clause = json_string_value(json_object_get(spec, "spec"));
    struct af_request q;
    struct af_http_req hr, *reqs = NULL;
    struct af_hop *hops = NULL;
    char msg[1024];
    size_t i, ok = 0, used;
    bool go_on = false;

    af_request_init(&q);
    if (!af_request_ready(c, json_object_get(spec, "request"), &q, &hr, stepname))
        goto out;
    if (af_ck_dead_host(c, stepname, hr.url))
        goto out;
    reqs = calloc(copies, sizeof(*reqs));
    hops = calloc(copies, sizeof(*hops));
    if (reqs == NULL || hops == NULL) {
        af_ck_error(c, stepname, "out of memory");
        goto out;
    }
    for (i = 0; i < copies; i++) {
        reqs[i] = hr;
        af_hop_init(&hops[i]);
    }
    if (af_http_send_many(c->r->http, reqs, hops, copies) != AF_OK) {
        af_ck_error(c, stepname, "out of memory");
        goto out;
    }
    c->res->requests += (unsigned)copies;
    for (i = 0; i < copies && hops[i].status == 0; i++)
        ;
    if (i == copies) {
        /* nothing answered at all: the server is not there, not racing */
        af_ck_unreachable(c, stepname, hr.url,
                          hops[0].transport_error ? hops[0].transport_error : "no answer");
        goto out;
    }
    for (i = 0; i < copies; i++) {
        ok += hops[i].status >= 200 && hops[i].status < 300;
        sum->broken += hops[i].status == 0 || hops[i].status >= 500;
    }
    sum->rounds++;
    sum->won_rounds += ok > 0;
    tally(hops, copies, sum->last, sizeof(sum->last));
    used = strlen(sum->per_round);
    if (used + 8 < sizeof(sum->per_round))
        snprintf(sum->per_round + used, sizeof(sum->per_round) - used, "%s%zu", used ? "," : "",
                 ok);
    if (ok > at_most) {
        snprintf(msg, sizeof(msg),
                 "round %zu: %zu of %zu copies of the same request sent at once were answered "
                 "2xx (at most %zu may be): %s",
                 sum->rounds, ok, copies, at_most, sum->last);
        af_ck_fail(c, stepname, AF_SEV_MUST, AF_ROLE_OUTCOME, msg, clause ? clause : c->res->spec,
                   json_string_value(json_object_get(spec, "why")));
        goto out;
    }
    go_on = true;
out:
    for (i = 0; hops != NULL && i < copies; i++)
        af_hop_clear(&hops[i]);
    free(hops);
    free(reqs);
    af_request_free(&q);
    return go_on && !c->stop;
}

void af_step_race(struct af_ck *c, const json_t *spec, const char *stepname)
{
    const json_t *n = json_object_get(spec, "copies"), *m = json_object_get(spec, "at_most");
    const json_t *r = json_object_get(spec, "rounds"), *again = json_object_get(spec, "again");
    size_t copies = n ? (size_t)json_integer_value(n) : COPIES_DEFAULT;
    size_t at_most = m ? (size_t)json_integer_value(m) : 1;
    size_t rounds = r ? (size_t)json_integer_value(r) : 1, k;
    const char *if_none = json_string_value(json_object_get(spec, "if_none_won"));
    const bool none_ok = if_none != NULL && strcmp(if_none, "pass") == 0;
    struct race_sum sum;
    char msg[1024];

    memset(&sum, 0, sizeof(sum));
    for (k = 0; k < rounds; k++) {
        if (k > 0) {
            af_step_use(c, again, stepname, NULL);
            if (c->stop) /* every verdict but format stops the check */
                break;
        }
        if (!one_race(c, spec, stepname, copies, at_most, &sum))
            break;
    }
    if (sum.rounds == 0)
        return;
    snprintf(msg, sizeof(msg), "%zu copies sent at once, %zu round%s; 2xx per round: %s; last: %s",
             copies, sum.rounds, sum.rounds == 1 ? "" : "s", sum.per_round, sum.last);
    af_ck_evidence(c, msg);
    if (c->stop)
        return;
    if (sum.broken > 0) {
        snprintf(msg, sizeof(msg),
                 "%zu copies sent at once got a 5xx or no answer (last round: %s): a request "
                 "the server refuses is answered 400 with an error code",
                 sum.broken, sum.last);
        af_ck_fail(c, stepname, AF_SEV_MUST, AF_ROLE_FORM, msg, SPEC_FORM, NULL);
    }
    if (at_most > 0 && sum.won_rounds == 0 && sum.broken == 0 && !none_ok) {
        snprintf(msg, sizeof(msg),
                 "in %zu round%s no copy was answered 2xx (last: %s): the redemption the race is "
                 "about never happened",
                 sum.rounds, sum.rounds == 1 ? "" : "s", sum.last);
        af_ck_inconclusive(c, stepname, msg);
    }
}
