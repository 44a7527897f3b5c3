/*
 * step.h - running a check's steps and fixtures: conditions, set, the
 * request and its hops, expectations and captures (step.c). Private to
 * src/probe/.
 */
#ifndef AUTHFLOW_PROBE_STEP_H
#define AUTHFLOW_PROBE_STEP_H

#include "probe/run_int.h"

/* af_step_conds: AF_EX_PASS when every condition holds; else why explains
 * (AF_EX_FAIL), or says why they cannot be evaluated (AF_EX_ERROR). */
af_ex_result af_step_conds(struct af_ck *c, const json_t *conds, struct af_buf *why);

/* af_step_when: evaluate a "when" list condition by condition. When one
 * does not hold, the check stops with that condition's "otherwise"
 * verdict (skip, inconclusive or error), else with dflt (AF_CHECK_SKIP on
 * a check, AF_CHECK_INCONCLUSIVE on a step; a check-level condition on
 * the server's metadata, meta.*, defaults to inconclusive: it is about
 * the target, not the profile). true when every condition holds. step may
 * be NULL (the check itself). */
bool af_step_when(struct af_ck *c, const json_t *conds, const char *step, af_check_status dflt,
                  struct af_buf *why);

/* af_step_set: expand and store a "set" object; false when the check
 * stopped (skipped or errored). */
bool af_step_set(struct af_ck *c, const json_t *set, const char *step);

/* af_step_use: a "use" step: run the fixture named by use (a JSON string)
 * at this point, as the check's own steps unless it says "setup": true;
 * its captures go under prefix (may be NULL). */
void af_step_use(struct af_ck *c, const json_t *use, const char *stepname, const char *prefix);

/* af_step_run_steps: run steps in order until the check stops; fixture
 * names them in messages and prefix qualifies their captures (both may be
 * NULL). */
void af_step_run_steps(struct af_ck *c, const json_t *steps, const char *fixture,
                       const char *prefix);

/* af_step_run_needs: run the fixtures a check or fixture needs, their own
 * needs first (depth stops a cycle). via_use: reached through a step's
 * "use" (then a fixture is the check's own steps unless it says
 * "setup": true; through "needs" it is setup unless it says false). A
 * setup that fails makes later checks needing it not run, except when it
 * was reached through "use": the check's earlier steps (a queued
 * scenario) may be what broke it. */
void af_step_run_needs(struct af_ck *c, const json_t *needs, const char *prefix, int depth,
                       bool via_use);

#endif
