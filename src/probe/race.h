/*
 * race.h - a "race" step: one request, built once, sent several times at
 * the same moment on connections of its own, and the count of 2xx answers
 * held against how many may succeed: a code or a refresh token redeemed
 * in parallel, where a check-then-mark that is not atomic lets more than
 * one copy through (docs/suite-format.md §4.4; AS-70a, AS-70b of
 * docs/as-suite.md). Private to src/probe/.
 */
#ifndef AUTHFLOW_PROBE_RACE_H
#define AUTHFLOW_PROBE_RACE_H

#include "probe/run_int.h"

/* The spec's keys:
 *   "request"  the request object sent (required; templates expanded once);
 *   "copies"   how many copies go out at once, 2..AF_HTTP_MAX_MANY
 *              (default 8);
 *   "at_most"  how many may be answered 2xx, 0..copies-1 (default 1);
 *   "spec"     the clause the limit comes from (default: the check's);
 *   "why"      what the limit means, for the failure message (optional);
 *   "rounds"   how many races, 1..20 (default 1): a race that is lost
 *              only now and then is found by running it again;
 *   "again"    the fixture run before every round after the first, to
 *              prepare a fresh subject (a new code); required with
 *              rounds above 1. Its own failures stop the check as in a
 *              "use" step;
 *   "if_none_won" "inconclusive" (default) or "pass": the verdict when
 *              no copy of any round was answered 2xx. "pass" only after
 *              a control step of the check showed the same request
 *              honoured alone: then a server that refuses every copy of
 *              a race it detects has kept the rule.
 * The verdicts, first that applies:
 *   a round with more than at_most copies answered 2xx: an outcome
 *     failure (MUST of the check's severity); no further round runs;
 *   a copy answered 5xx or not at all: a form failure (RFC 6749 §5.2: a
 *     refused request is a 400 with an error code), the check goes on;
 *   at_most is at least 1, no round had a copy answered 2xx and
 *     if_none_won is not "pass": inconclusive, since the redemption the
 *     race is about never happened;
 *   else the step passes. The 2xx count of every round and the statuses
 *   of the last are the result's evidence either way. */
void af_step_race(struct af_ck *c, const json_t *spec, const char *stepname);

/* af_race_check: the loader's check of the spec's keys and types;
 * AF_ERR_INVALID with err naming the key. */
af_rc af_race_check(const json_t *spec, struct af_err *err) AF_WARN_UNUSED;

#endif
