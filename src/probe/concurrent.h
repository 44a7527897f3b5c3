/*
 * concurrent.h - a "concurrent" step: every member of a profile object
 * (the principals) logs in, then all of them send their request at the
 * same moment, several rounds, and each answer must name its own member
 * (docs/suite-format.md §4.3; API-50 of docs/api-suite.md). Private to
 * src/probe/.
 */
#ifndef AUTHFLOW_PROBE_CONCURRENT_H
#define AUTHFLOW_PROBE_CONCURRENT_H

#include "probe/run_int.h"

/* The spec's keys (all strings are templates):
 *   "each"     the path of an object whose members take part (required);
 *   "as"       the name each member is bound to while its requests are
 *              made (required);
 *   "set"      locals set per member before its login (optional);
 *   "login"    the request object that logs the member in (required);
 *   "token"    the selector of the token in the login's answer; the call
 *              sees it as {{tok}} (required);
 *   "request"  the request object sent by every member at once (required);
 *   "identity" the selector of the identity in each answer (required);
 *   "expect"   what the identity must equal for that member (required);
 *   "rounds"   1..20 (default 5).
 * A login that fails is an error of the check (the profile's principal
 * cannot log in); an answer that is not a 2xx, or names another identity,
 * is an outcome failure (the first of each round is reported, with the
 * count). */
void af_step_concurrent(struct af_ck *c, const json_t *spec, const char *stepname);

/* af_concurrent_check: the loader's check of the spec's keys and types;
 * AF_ERR_INVALID with err naming the key. */
af_rc af_concurrent_check(const json_t *spec, struct af_err *err) AF_WARN_UNUSED;

#endif
