/*
 * findings.h - what the ledger shows a client did wrong (findings.c), for
 * GET /admin/findings and the inspector page. Private to src/server/.
 *
 * A finding is computed on request from ledger entries (the JSON that
 * GET /admin/ledger answers), never stored: each row of the definition
 * table names one behaviour, its severity and the clause it breaks, and
 * says which entries show it. Only what the entries themselves record
 * counts: authflowd sees the requests a client sends to it, not what the
 * client's own callback received or checked, so no finding rests on a
 * guess about the client's side (docs/admin.md, "Findings").
 */
#ifndef AUTHFLOW_SERVER_FINDINGS_H
#define AUTHFLOW_SERVER_FINDINGS_H

#include <stddef.h>

#include <jansson.h>

#include "authflow/cfg.h"
#include "authflow/rc.h"

/* Severity words: MUST and SHOULD as the clause says; NOTE for a fact worth
 * a look that breaks no clause. */
#define AF_FINDING_MUST   "MUST"
#define AF_FINDING_SHOULD "SHOULD"
#define AF_FINDING_NOTE   "NOTE"

/* One row of the definition table: static strings. */
struct af_finding_def {
    const char *id;       /* stable, e.g. "no_pkce" */
    const char *severity; /* AF_FINDING_* */
    const char *clause;   /* the clause, e.g. "RFC 9700 §2.1.1" */
    const char *title;    /* what the clause asks, in one line */
};

/* af_findings_def_at: row i of the table, NULL past its end. Borrowed,
 * static. */
const struct af_finding_def *af_findings_def_at(size_t i);

/* af_findings_def: the row named id; NULL when none. Borrowed, static. */
const struct af_finding_def *af_findings_def(const char *id);

struct af_findings_filter {
    const char *client; /* the finding's client_id; NULL: any */
    const char *sub;    /* the finding's user (sub); NULL: any */
    const char *id;     /* one definition; NULL: all */
};

struct af_server;

/* af_findings_compute: the findings shown by entries (borrowed: a JSON
 * array of ledger entries, oldest first), as a JSON array, oldest first,
 * in *out (new reference). Each finding: {"id", "severity", "clause",
 * "client", "user", "flow", "entries": [seq...], "explanation"}. srv's
 * clients of the moment (registry.h) tell public clients from
 * confidential ones. AF_ERR_NOMEM on
 * allocation failure (*out NULL). Time and memory are linear in the
 * number of entries. */
af_rc af_findings_compute(const struct af_server *srv, const json_t *entries,
                          const struct af_findings_filter *f, json_t **out) AF_WARN_UNUSED;

#endif
