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

/* af_step_set: expand and store a "set" object; false when the check
 * stopped (skipped or errored). */
bool af_step_set(struct af_ck *c, const json_t *set, const char *step);

/* af_step_run_steps: run steps in order until the check stops; fixture
 * names them in messages and prefix qualifies their captures (both may be
 * NULL). */
void af_step_run_steps(struct af_ck *c, const json_t *steps, const char *fixture,
                       const char *prefix);

/* af_step_run_needs: run the fixtures a check or fixture needs, their own
 * needs first (depth stops a cycle). */
void af_step_run_needs(struct af_ck *c, const json_t *needs, const char *prefix, int depth);

#endif
