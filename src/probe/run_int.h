/*
 * run_int.h - what the runner's phases share: the run, one check in
 * progress with its flows, and how a check records its verdict (run.c).
 * The phases are preparation (prepare.c), the step runner (step.c),
 * building requests (request.c) and following hops (hops.c). Private to
 * src/probe/.
 */
#ifndef AUTHFLOW_PROBE_RUN_INT_H
#define AUTHFLOW_PROBE_RUN_INT_H

#include "probe/probe_int.h"
#include "probe/serve.h"

/* The last response of one flow (owned), for a later form submit. */
struct af_prev_hop {
    char *flow;
    struct af_hop hop;
};

/* The JWKS of the target, fetched when a check first needs it and kept
 * for the run. */
struct af_run_jwks {
    bool fetched;
    json_t *jwks; /* owned reference; NULL when the fetch failed */
    char *error;  /* owned: why it failed */
};

/* One run of a suite against a target (af_probe_run). */
struct af_run {
    const struct af_suite *s;
    const struct af_target *t;
    const struct af_probe_opts *o;
    struct af_http *http;
    json_t *root;            /* {"target", "meta", "vars"} */
    struct af_run_jwks jwks; /* the target's keys, fetched on first use (prepare.c) */
    struct af_results *res;
    long max_hops;
    /* Causes reported once (docs/suite-format.md §12.1): setups that
     * failed, by fixture key, and hosts found unreachable, by origin; each
     * an object {"check": ID, "why": LINE}. Owned. */
    json_t *setup_failed;
    json_t *dead_hosts;
};

/* One check (or one foreach element of it) in progress. */
struct af_ck {
    struct af_run *r;
    struct af_scope sc;
    const char *id;
    af_severity sev;
    struct af_check_result *res;
    bool stop;
    struct af_prev_hop *prev;
    size_t nprev;
    char *flow;             /* the current flow name */
    const char *label;      /* the foreach element ("orders, regular"); NULL without foreach */
    int use_depth;          /* nested "use" steps, to stop a fixture that uses itself */
    bool allow_unreachable; /* this step: a refused connection is an answer, not a failure */
    const json_t *chk;      /* the check's JSON (borrowed from the suite) */
    int setup_depth;        /* > 0 while a setup fixture's steps run */
    char *setup_key;        /* owned: the outermost setup fixture's key, while it runs */
    const char *setup_name; /* borrowed: its name */
    bool outcome_failed;    /* an outcome failure stopped the check ("always" steps still run) */
    bool gathering;         /* an "always" step runs after the verdict: what it finds is
                               the result's evidence, never a verdict */
    struct af_serve *served[AF_PROBE_MAX_SERVED]; /* owned: the forge steps' servers,
                                                     stopped when the check ends */
    size_t nserved;
};

/* af_ck_fail: record that step failed with msg (then "; why" and the spec
 * clause when given, both may be NULL). What it does to the verdict
 * depends on role and sev (docs/suite-format.md §10.6, §12): an outcome
 * MUST fails the check and stops it, a form MUST makes it "format" and
 * lets it go on, a premise makes it inconclusive and stops it, a SHOULD
 * warns. Inside a setup fixture a MUST outcome failure is the setup's:
 * the check errors, and later checks needing the same setup are not run. */
void af_ck_fail(struct af_ck *c, const char *step, af_severity sev, af_role role, const char *msg,
                const char *spec, const char *why);

/* af_ck_skip: skip the rest of the check, saying why (step may be NULL). */
void af_ck_skip(struct af_ck *c, const char *step, const char *why);

/* af_ck_inconclusive: stop the check, inconclusive, saying what did not
 * happen (step may be NULL). */
void af_ck_inconclusive(struct af_ck *c, const char *step, const char *why);

/* af_ck_error: the check cannot be evaluated (step NULL reads "setup");
 * stops it. */
void af_ck_error(struct af_ck *c, const char *step, const char *why);

/* af_ck_unreachable: url got no answer (why: curl's reason): the check
 * errors, and url's origin is remembered so that later checks sending
 * there are not run (af_ck_dead_host). */
void af_ck_unreachable(struct af_ck *c, const char *step, const char *url, const char *why);

/* af_ck_dead_host: when url's origin was found unreachable by an earlier
 * check, mark this one not run (naming that check) and return true. */
bool af_ck_dead_host(struct af_ck *c, const char *step, const char *url);

/* af_ck_evidence: append line to the result's evidence ("; " between
 * lines). */
void af_ck_evidence(struct af_ck *c, const char *line);

/* af_ck_var_problem: an undefined variable (rc AF_ERR_NOTFOUND) skips the
 * check, anything else errors it, with e's message. */
void af_ck_var_problem(struct af_ck *c, const char *step, af_rc rc, const struct af_err *e);

/* af_ck_setup_enter / af_ck_setup_leave: bracket the steps of a setup
 * fixture. enter returns false (and marks the check not run) when the same
 * setup (name and bindings: lookup) already failed in an earlier check;
 * a failure of this one is remembered under record (NULL: not at all). */
bool af_ck_setup_enter(struct af_ck *c, const char *name, const char *record, const char *lookup);
void af_ck_setup_leave(struct af_ck *c);

/* af_ck_prev_get: the last response of the current flow, borrowed until
 * the next af_ck_prev_put; NULL when the flow has none. */
struct af_hop *af_ck_prev_get(struct af_ck *c);

/* af_ck_prev_put: keep hop as the current flow's last response; hop is
 * moved (and re-initialised), the previous one cleared. */
void af_ck_prev_put(struct af_ck *c, struct af_hop *hop);

#endif
