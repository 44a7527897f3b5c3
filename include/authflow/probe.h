/*
 * probe.h - authprobe's engine: load a suite (checks as data, see
 * docs/suite-format.md) and a target profile, run the checks hop by hop
 * against the target over libcurl, and report the results (text, JSON,
 * JUnit XML, TAP).
 *
 * Nothing here prints on its own except the trace (opts->trace) and the
 * reporters, which write to the FILE they are given.
 */
#ifndef AUTHFLOW_PROBE_H
#define AUTHFLOW_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "authflow/rc.h"
#include "authflow/util.h"

/* Exit codes of authprobe (docs/probe.md). */
#define AF_PROBE_EXIT_OK     0 /* no MUST check failed (warnings allowed) */
#define AF_PROBE_EXIT_FAILED 1 /* a MUST check failed or answered in the wrong form */
#define AF_PROBE_EXIT_USAGE  2 /* usage, configuration or suite error */
#define AF_PROBE_EXIT_UNREACHABLE                                                                  \
    3 /* the run could not be completed: the target or the                                         \
         admin API unreachable, or a setup error */

/* The largest suite or target profile file accepted. */
#define AF_SUITE_MAX_FILE (4 * 1024 * 1024)

typedef enum { AF_SEV_MUST = 0, AF_SEV_SHOULD } af_severity;

/* A check's verdict (docs/suite-format.md §12). Ordered from the mildest
 * to the gravest: a check's result is the gravest of its findings. */
typedef enum {
    AF_CHECK_PASS = 0,
    AF_CHECK_SKIP,         /* not applicable: the profile, the suite or a filter says so */
    AF_CHECK_INCONCLUSIVE, /* a premise did not occur: nothing can be concluded */
    AF_CHECK_WARN,         /* a SHOULD clause is not met */
    AF_CHECK_FORMAT,       /* the outcome held (e.g. refused) but not in the form a MUST
                              clause requires: never a security finding */
    AF_CHECK_FAIL,         /* a MUST outcome failed: the violation or attack worked */
    AF_CHECK_NOTRUN,       /* not run: it depends on a setup that failed in another check */
    AF_CHECK_ERROR,        /* the check could not be made (unreachable, no login rule
                              matched, a setup that failed): its cause is the message */
    AF_CHECK_NSTATUS
} af_check_status;

/* What an expectation is about (docs/suite-format.md §10, "role"). */
typedef enum {
    AF_ROLE_OUTCOME = 0, /* the property the check is about */
    AF_ROLE_FORM,        /* the shape of the answer: status code, error code, headers */
    AF_ROLE_PREMISE,     /* what must have happened for the check to mean anything */
    AF_ROLE_SETUP        /* a fixture reached through "needs": the check's preparation */
} af_role;

/* af_role_name: "outcome", "form", "premise", "setup". Static. */
const char *af_role_name(af_role role);

/* af_check_status_name: "pass", "skip", "inconclusive", "warn", "format",
 * "fail", "notrun", "error". Static. */
const char *af_check_status_name(af_check_status st);

/* af_severity_name: "MUST" or "SHOULD". Static. */
const char *af_severity_name(af_severity sev);

/* ---- suites ---- */

struct af_suite; /* opaque: a validated suite */

/* af_suite_load_file: read and validate a suite. On error *out is NULL and
 * err->msg reads "file:line:column: key.path: what is wrong" (the position
 * when it can be located). Caller frees *out with af_suite_free(). */
af_rc af_suite_load_file(const char *path, struct af_suite **out,
                         struct af_err *err) AF_WARN_UNUSED;

/* af_suite_load_string: as af_suite_load_file over text; name is used in
 * messages. */
af_rc af_suite_load_string(const char *text, const char *name, struct af_suite **out,
                           struct af_err *err) AF_WARN_UNUSED;

/* af_suite_free: NULL is a no-op. */
void af_suite_free(struct af_suite *s);

/* af_suite_name / af_suite_title: borrowed, valid while s lives; the title
 * may be "" but never NULL. */
const char *af_suite_name(const struct af_suite *s);
const char *af_suite_title(const struct af_suite *s);

/* af_suite_count: the number of checks. */
size_t af_suite_count(const struct af_suite *s);

struct af_check_info {
    const char *id;    /* borrowed, valid while the suite lives */
    const char *title; /* borrowed */
    const char *spec;  /* borrowed */
    af_severity severity;
};

/* af_suite_check: the i-th check (i < af_suite_count()). */
void af_suite_check(const struct af_suite *s, size_t i, struct af_check_info *out);

/* A filter over checks: --only and --skip. Each pattern matches a check
 * when it equals its id (case-insensitive), is a prefix of the id not
 * followed by a digit ("AS-04" selects AS-04a), matches it as a glob
 * ("AS-1*"), or equals one of its keywords. Borrowed arrays. */
struct af_probe_filter {
    const char *const *only; /* NULL or nonly == 0: every check */
    size_t nonly;
    const char *const *skip;
    size_t nskip;
};

/* af_suite_selected: whether check i passes the filter; f may be NULL. */
bool af_suite_selected(const struct af_suite *s, size_t i, const struct af_probe_filter *f);

/* ---- target profiles ---- */

struct af_target; /* opaque: a validated target profile */

/* af_target_load_file: read and validate a profile (section 13 of
 * docs/suite-format.md); relative file names in it (tls.cacert) resolve
 * against the profile's folder. Errors as for af_suite_load_file. Caller
 * frees *out with af_target_free(). */
af_rc af_target_load_file(const char *path, struct af_target **out,
                          struct af_err *err) AF_WARN_UNUSED;

/* af_target_load_string: as af_target_load_file over text; relative names
 * resolve against the current folder. */
af_rc af_target_load_string(const char *text, const char *name, struct af_target **out,
                            struct af_err *err) AF_WARN_UNUSED;

/* af_target_free: NULL is a no-op. */
void af_target_free(struct af_target *t);

/* af_target_expand: expand a template over the profile alone
 * ("{{target.issuer}}", "{{?target.admin.url}}"): target.*, the profile's
 * vars overridden by vars (--var; borrowed, may be NULL), env.*. For the
 * command line, which must know addresses before a run (starting authflowd
 * in-process). *out is NULL when the template is one {{?NAME}} left
 * undefined; caller frees it. An undefined variable is AF_ERR_NOTFOUND with
 * err saying which. */
af_rc af_target_expand(const struct af_target *t, const struct af_params *vars, const char *tmpl,
                       char **out, struct af_err *err) AF_WARN_UNUSED;

/* ---- running ---- */

struct af_check_failure {
    char *step;           /* owned: "code/authorize", "second redemption" */
    char *line;           /* owned: the one-line explanation, with the clause */
    af_severity severity; /* MUST: made the check fail; SHOULD: a warning */
    af_role role;         /* outcome: fail; form: format; premise: inconclusive */
};

struct af_check_result {
    char *id; /* owned copies of the check's fields */
    char *title;
    char *spec;
    af_severity severity;
    af_check_status status;
    char *message;                  /* owned: the first failure line, the skip or error
                                       reason; NULL for a plain pass */
    char *headline;                 /* owned: what the result means in one line, for
                                       format ("refused, but not in the form RFC 6749
                                       §5.2 requires") and notrun; NULL: the title */
    char *evidence;                 /* owned: the facts that decided the verdict (ledger
                                       entries, what the app sent); NULL: none */
    struct af_check_failure *fails; /* owned: every failed expectation */
    size_t nfails;
    bool selected;     /* false: left out by --only/--skip (then status is skip) */
    unsigned requests; /* HTTP requests sent */
    uint64_t ms;       /* wall time */
};

struct af_results {
    char *suite;               /* owned */
    char *title;               /* owned, may be "" */
    char *target;              /* owned: the profile's name (or its issuer) */
    char *issuer;              /* owned: the issuer actually probed */
    struct af_check_result *v; /* owned, in suite order, filtered-out checks included as skip */
    size_t n;
    size_t count[AF_CHECK_NSTATUS];
    time_t started;
    uint64_t ms;
    bool unreachable;     /* a request failed to connect, resolve or handshake */
    char *unreachable_at; /* owned: the URL, when unreachable */
    char *unreachable_why;
    /* The run header: what was probed and where each value came from. */
    char *profile;      /* owned: the profile's file name, or NULL */
    char *issuer_from;  /* owned: "--issuer", "profile" */
    char *admin_url;    /* owned: authflowd's admin API used, NULL: none */
    char *admin_from;   /* owned: "--admin", "$AUTHFLOW_ADMIN_URL", "profile" */
    char *admin_issuer; /* owned: the issuer the admin API reports, NULL: unknown */
    /* The feature inventory (src/probe/inventory.h): what the target's
     * metadata says it offers, taken before the first check. Owned
     * reference; NULL when the run had no metadata (rs, rp, api suites). */
    json_t *inventory;
};

/* Progress callbacks: r is borrowed for the call only; on_start sees id,
 * title, spec and severity filled, on_done the complete result. */
typedef void (*af_probe_progress)(void *ud, size_t idx, size_t total,
                                  const struct af_check_result *r);

struct af_probe_opts {
    struct af_probe_filter filter;
    const char *issuer;    /* overrides the profile's issuer; NULL keeps it */
    const char *admin_url; /* authflowd's admin API: overrides $AUTHFLOW_ADMIN_URL and the
                              profile's admin.url; NULL keeps them (borrowed) */
    /* For the run header (borrowed, may be NULL): the profile's file, and
     * the option that gave issuer and admin_url ("--issuer", "--admin",
     * "--start-authflowd"; NULL: "--issuer" and "--admin"). */
    const char *profile_path;
    const char *issuer_from;
    const char *admin_from;
    const char *cacert; /* overrides tls.cacert; NULL keeps it */
    bool insecure;      /* no TLS verification (overrides the profile) */
    long timeout_ms;    /* per request; 0: the profile's or 10000 */
    const struct af_params
        *vars;                  /* --var NAME=VALUE overrides of vars.NAME; borrowed, may be NULL */
    FILE *trace;                /* every exchange in full; NULL: none */
    bool show_secrets;          /* do not redact secrets in the trace and messages */
    af_probe_progress on_start; /* may be NULL */
    af_probe_progress on_done;  /* may be NULL */
    /* called once, before the first check, with the feature inventory
     * (borrowed for the call; never called without one); may be NULL */
    void (*on_inventory)(void *ud, const json_t *inventory);
    void *ud;
};

/* af_probe_run: discover the target, then run the selected checks in suite
 * order. A target that cannot be reached before the first check (discovery
 * or the first endpoint) is AF_ERR_NET with the URL and the reason in err
 * (exit code 3); a bad option or profile value (a cacert that cannot be
 * read, a template in the profile that does not expand) is AF_ERR_INVALID
 * (exit code 2). On AF_OK, *out holds every check's result; the caller
 * frees it with af_results_free(). */
af_rc af_probe_run(const struct af_suite *s, const struct af_target *t,
                   const struct af_probe_opts *opts, struct af_results **out,
                   struct af_err *err) AF_WARN_UNUSED;

/* af_results_exit_code: AF_PROBE_EXIT_FAILED when a selected check failed
 * or answered in the wrong form (MUST), else AF_PROBE_EXIT_UNREACHABLE when
 * the run could not be completed (unreachable, an error, a check not run),
 * else AF_PROBE_EXIT_OK. */
int af_results_exit_code(const struct af_results *r);

/* af_results_free: NULL is a no-op. */
void af_results_free(struct af_results *r);

/* ---- reports ---- */

typedef enum {
    AF_REPORT_TEXT = 0,
    AF_REPORT_JSON,
    AF_REPORT_JUNIT,
    AF_REPORT_TAP
} af_report_format;

/* af_report_format_parse: "text", "json", "junit", "tap" -> format.
 * AF_ERR_INVALID for anything else (out untouched). */
af_rc af_report_format_parse(const char *s, af_report_format *out) AF_WARN_UNUSED;

/* af_report_write: the whole report in one format. AF_ERR_IO when writing
 * fails. */
af_rc af_report_write(FILE *f, af_report_format fmt, const struct af_results *r) AF_WARN_UNUSED;

/* af_report_text_inventory: the feature inventory (struct af_results)
 * as text lines; nothing when inventory is NULL. */
void af_report_text_inventory(FILE *f, const json_t *inventory);

/* af_report_text_check: the terminal line(s) of one finished check: the
 * result word, id, title, and for anything but a pass the explanation. */
void af_report_text_check(FILE *f, const struct af_check_result *r, bool color);

/* af_report_text_summary: the table of results by severity and the totals. */
void af_report_text_summary(FILE *f, const struct af_results *r, bool color);

#endif
