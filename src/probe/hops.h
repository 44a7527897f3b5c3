/*
 * hops.h - sending a step's request and following its hops: redirects and
 * the target's login rules (hops.c). Private to src/probe/.
 */
#ifndef AUTHFLOW_PROBE_HOPS_H
#define AUTHFLOW_PROBE_HOPS_H

#include "probe/request.h"

/* The hops of one step, in order (owned). */
struct af_hops {
    struct af_hop *v;
    size_t n;
};

/* af_hops_free: clear every hop; hs is empty after. */
void af_hops_free(struct af_hops *h);

/* af_hops_follow: send first, then (when the step says follow) follow
 * redirects and login rules until the client's URI (curi, may be NULL) is
 * reached. Every hop is appended to hs, the caller's to free. When the hop
 * limit is passed *fail_msg (caller frees) says so, with AF_OK. */
af_rc af_hops_follow(struct af_ck *c, const json_t *step, struct af_request *first,
                     const char *curi, struct af_hops *hs, const char *stepname, char **fail_msg,
                     struct af_err *e) AF_WARN_UNUSED;

#endif
