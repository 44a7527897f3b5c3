/*
 * results.c - the results of a run as the reporters and the exit code see
 * them: verdict and role names, the exit code, and freeing.
 */
#include "config.h"

#include <stdlib.h>

#include "probe/probe_int.h"

const char *af_check_status_name(af_check_status st)
{
    static const char *const names[] = {"pass",   "skip", "inconclusive", "warn",
                                        "format", "fail", "notrun",       "error"};
    return (unsigned)st < AF_CHECK_NSTATUS ? names[st] : "?";
}

const char *af_severity_name(af_severity sev)
{
    return sev == AF_SEV_SHOULD ? "SHOULD" : "MUST";
}

const char *af_role_name(af_role role)
{
    static const char *const names[] = {"outcome", "form", "premise", "setup"};
    return (unsigned)role < sizeof(names) / sizeof(names[0]) ? names[role] : "?";
}

int af_results_exit_code(const struct af_results *r)
{
    size_t i;
    bool incomplete = r->unreachable;
    for (i = 0; i < r->n; i++) {
        af_check_status st = r->v[i].status;
        if (!r->v[i].selected)
            continue;
        if (st == AF_CHECK_FAIL || st == AF_CHECK_FORMAT)
            return AF_PROBE_EXIT_FAILED;
        if (st == AF_CHECK_ERROR || st == AF_CHECK_NOTRUN)
            incomplete = true;
    }
    return incomplete ? AF_PROBE_EXIT_UNREACHABLE : AF_PROBE_EXIT_OK;
}

void af_results_free(struct af_results *r)
{
    size_t i, j;
    if (r == NULL)
        return;
    for (i = 0; i < r->n && r->v != NULL; i++) {
        struct af_check_result *c = &r->v[i];
        free(c->id);
        free(c->title);
        free(c->spec);
        free(c->message);
        free(c->headline);
        free(c->evidence);
        for (j = 0; j < c->nfails; j++) {
            free(c->fails[j].step);
            free(c->fails[j].line);
        }
        free(c->fails);
    }
    free(r->v);
    free(r->suite);
    free(r->title);
    free(r->target);
    free(r->issuer);
    free(r->unreachable_at);
    free(r->unreachable_why);
    json_decref(r->inventory);
    free(r->profile);
    free(r->issuer_from);
    free(r->admin_url);
    free(r->admin_from);
    free(r->admin_issuer);
    free(r);
}
