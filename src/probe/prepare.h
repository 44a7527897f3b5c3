/*
 * prepare.h - what a run knows before its first check: the variables'
 * root (profile, --var, admin overlay) and the target's metadata from
 * discovery; and its keys, fetched once when a check first needs them
 * (prepare.c). Private to src/probe/.
 */
#ifndef AUTHFLOW_PROBE_PREPARE_H
#define AUTHFLOW_PROBE_PREPARE_H

#include "probe/run_int.h"

/* af_run_prepare: build r->root and fill its "meta" by discovery and the
 * profile's metadata; sets r->res->issuer. On error err says why. */
af_rc af_run_prepare(struct af_run *r, struct af_err *err) AF_WARN_UNUSED;

/* af_run_jwks: an af_jwks_fn whose ud is the struct af_ck asking: the
 * target's JWKS from meta.jwks_uri as that check sees it, fetched on the
 * first call of the run (the request counts into that check) and kept;
 * later calls answer from the cache. Borrowed, valid until
 * af_run_jwks_clear; NULL with the reason appended to msg. */
const json_t *af_run_jwks(void *ud, struct af_buf *msg);

/* af_run_jwks_clear: drop the cached keys (end of the run). */
void af_run_jwks_clear(struct af_run *r);

#endif
