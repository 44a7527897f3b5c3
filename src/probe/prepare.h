/*
 * prepare.h - what a run knows before its first check: the variables'
 * root (profile, --var, admin overlay) and the target's metadata from
 * discovery (prepare.c). Private to src/probe/.
 */
#ifndef AUTHFLOW_PROBE_PREPARE_H
#define AUTHFLOW_PROBE_PREPARE_H

#include "probe/run_int.h"

/* af_run_prepare: build r->root and fill its "meta" by discovery and the
 * profile's metadata; sets r->res->issuer. On error err says why. */
af_rc af_run_prepare(struct af_run *r, struct af_err *err) AF_WARN_UNUSED;

#endif
