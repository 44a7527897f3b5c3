/*
 * report.c - the reporters: text for a terminal, JSON, JUnit XML (the
 * common subset read by Jenkins, GitLab and GitHub: testsuites > testsuite
 * > testcase with failure / error / skipped, as the JUnit schema Jenkins
 * and GitLab validate against), and TAP version 13 (what Debian 12's
 * `prove` accepts).
 *
 * Every format says the same things: the run header (target, issuer and
 * admin API with where each came from), each check's verdict, and for a
 * "format" verdict that the outcome held: a refusal in the wrong form is
 * never shown under the check's security title (JUnit: a separate "(form)"
 * test case; text and TAP: the headline instead of the title).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "probe/inventory.h"
#include "probe/probe_int.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif

af_rc af_report_format_parse(const char *s, af_report_format *out)
{
    static const struct {
        af_report_format val;
        const char *str;
    } fmts[] = {{AF_REPORT_TEXT, "text"},
                {AF_REPORT_JSON, "json"},
                {AF_REPORT_JUNIT, "junit"},
                {AF_REPORT_TAP, "tap"}};
    size_t i;
    for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
        if (strcmp(fmts[i].str, s) == 0) {
            *out = fmts[i].val;
            return AF_OK;
        }
    }
    return AF_ERR_INVALID;
}

static void iso8601(time_t t, char *buf, size_t cap)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- text ---- */

#define C_RESET  "\033[0m"
#define C_RED    "\033[31m"
#define C_GREEN  "\033[32m"
#define C_YELLOW "\033[33m"
#define C_DIM    "\033[2m"
#define C_BOLD   "\033[1m"

static const char *status_colour(af_check_status st)
{
    switch (st) {
    case AF_CHECK_PASS:
        return C_GREEN;
    case AF_CHECK_WARN:
    case AF_CHECK_FORMAT:
    case AF_CHECK_INCONCLUSIVE:
        return C_YELLOW;
    case AF_CHECK_SKIP:
    case AF_CHECK_NOTRUN:
        return C_DIM;
    default:
        return C_RED;
    }
}

static const char *status_word(af_check_status st)
{
    static const char *const w[] = {"PASS",   "SKIP", "INCONCL", "WARN",
                                    "FORMAT", "FAIL", "NOT RUN", "ERROR"};
    return (unsigned)st < AF_CHECK_NSTATUS ? w[st] : "?";
}

/* shown_title: the check's title, or its headline when the verdict needs
 * one (a format finding is not shown under the security title). */
static const char *shown_title(const struct af_check_result *r)
{
    return r->headline != NULL ? r->headline : r->title;
}

void af_report_text_check(FILE *f, const struct af_check_result *r, bool color)
{
    size_t i;
    fprintf(f, "%s%-7s%s %-8s %s%s", color ? status_colour(r->status) : "", status_word(r->status),
            color ? C_RESET : "", r->id, shown_title(r),
            r->severity == AF_SEV_SHOULD ? " [SHOULD]" : "");
    if (r->status != AF_CHECK_SKIP && r->status != AF_CHECK_NOTRUN)
        fprintf(f, " %s(%llu ms)%s", color ? C_DIM : "", (unsigned long long)r->ms,
                color ? C_RESET : "");
    fputc('\n', f);
    for (i = 0; i < r->nfails; i++)
        fprintf(f, "        %s%s%s%s\n",
                color ? (r->fails[i].severity == AF_SEV_MUST ? C_RED : C_YELLOW) : "",
                r->fails[i].role == AF_ROLE_FORM ? "form: " : "", r->fails[i].line,
                color ? C_RESET : "");
    if (r->message != NULL) {
        bool dup = false;
        for (i = 0; i < r->nfails; i++)
            dup = dup || strcmp(r->fails[i].line, r->message) == 0;
        if (!dup)
            fprintf(f, "        %s%s%s\n", color ? C_DIM : "", r->message, color ? C_RESET : "");
    }
    if (r->evidence != NULL)
        fprintf(f, "        %sevidence: %s%s\n", color ? C_DIM : "", r->evidence,
                color ? C_RESET : "");
}

/* text_header: what was probed, and where each value came from. */
static void text_header(FILE *f, const struct af_results *r)
{
    fprintf(f, "suite %s against %s%s%s%s\n", r->suite, r->target, r->profile ? " (" : "",
            r->profile ? r->profile : "", r->profile ? ")" : "");
    fprintf(f, "issuer %s (from %s)\n", r->issuer ? r->issuer : "?",
            r->issuer_from ? r->issuer_from : "profile");
    if (r->admin_url != NULL)
        fprintf(f, "admin API %s (from %s; its issuer: %s)\n", r->admin_url,
                r->admin_from ? r->admin_from : "profile",
                r->admin_issuer ? r->admin_issuer : "not reported");
}

void af_report_text_summary(FILE *f, const struct af_results *r, bool color)
{
    size_t by[AF_CHECK_NSTATUS][2], i, st, ran = 0, must_bad, errs;
    memset(by, 0, sizeof(by));
    for (i = 0; i < r->n; i++) {
        if (!r->v[i].selected)
            continue;
        by[r->v[i].status][r->v[i].severity == AF_SEV_SHOULD]++;
        ran++;
    }
    fprintf(f, "\n%s%-12s %6s %7s %6s%s\n", color ? C_BOLD : "", "result", "MUST", "SHOULD",
            "total", color ? C_RESET : "");
    for (st = 0; st < AF_CHECK_NSTATUS; st++) {
        const char *c =
            color && by[st][0] + by[st][1] > 0 ? status_colour((af_check_status)st) : "";
        fprintf(f, "%s%-12s%s %6zu %7zu %6zu\n", c, af_check_status_name((af_check_status)st),
                *c ? C_RESET : "", by[st][0], by[st][1], by[st][0] + by[st][1]);
    }
    fprintf(f, "%-12s %6s %7s %6zu\n", "total", "", "", ran);
    if (ran < r->n)
        fprintf(f, "(%zu more not selected by --only/--skip)\n", r->n - ran);
    fputc('\n', f);
    text_header(f, r);
    fprintf(f, "%zu check%s in %.2f s: ", ran, ran == 1 ? "" : "s", (double)r->ms / 1000.0);
    must_bad = by[AF_CHECK_FAIL][0] + by[AF_CHECK_FORMAT][0];
    errs = by[AF_CHECK_ERROR][0] + by[AF_CHECK_ERROR][1];
    if (must_bad > 0)
        fprintf(f,
                "%s%zu MUST check%s failed (%zu the violation worked, %zu refused in the "
                "wrong form)%s",
                color ? C_RED : "", must_bad, must_bad == 1 ? "" : "s", by[AF_CHECK_FAIL][0],
                by[AF_CHECK_FORMAT][0], color ? C_RESET : "");
    else if (!r->unreachable && errs == 0)
        fprintf(f, "%sall MUST checks passed%s%s", color ? C_GREEN : "", color ? C_RESET : "",
                by[AF_CHECK_WARN][0] + by[AF_CHECK_WARN][1] > 0 ? " (with warnings)" : "");
    if (r->unreachable)
        fprintf(f, "%s%sunreachable at %s: %s%s", must_bad > 0 ? "; " : "", color ? C_RED : "",
                r->unreachable_at ? r->unreachable_at : "?",
                r->unreachable_why ? r->unreachable_why : "?", color ? C_RESET : "");
    if (errs > 0)
        fprintf(f, "%s%s%zu error%s, %zu check%s not run%s",
                must_bad > 0 || r->unreachable ? "; " : "", color ? C_RED : "", errs,
                errs == 1 ? "" : "s", by[AF_CHECK_NOTRUN][0] + by[AF_CHECK_NOTRUN][1],
                by[AF_CHECK_NOTRUN][0] + by[AF_CHECK_NOTRUN][1] == 1 ? "" : "s",
                color ? C_RESET : "");
    fputc('\n', f);
}

void af_report_text_inventory(FILE *f, const json_t *inventory)
{
    af_inventory_print(f, inventory);
}

static af_rc write_text(FILE *f, const struct af_results *r)
{
    size_t i;
    af_inventory_print(f, r->inventory);
    for (i = 0; i < r->n; i++)
        if (r->v[i].selected)
            af_report_text_check(f, &r->v[i], false);
    af_report_text_summary(f, r, false);
    return AF_OK;
}

/* ---- JSON ---- */

static json_t *str_or_null(const char *s)
{
    json_t *v = s ? json_string(s) : NULL;
    if (s != NULL && v == NULL) /* not UTF-8: keep it readable anyway */
        v = json_string("(not UTF-8)");
    return v ? v : json_null();
}

static af_rc write_json(FILE *f, const struct af_results *r)
{
    json_t *root = json_object(), *checks = json_array(), *sum = json_object();
    char ts[32];
    size_t i, j;
    af_rc rc = AF_OK;

    if (root == NULL || checks == NULL || sum == NULL) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    iso8601(r->started, ts, sizeof(ts));
    json_object_set_new(root, "authprobe", json_string(PACKAGE_VERSION));
    json_object_set_new(root, "suite", str_or_null(r->suite));
    json_object_set_new(root, "title", str_or_null(r->title));
    json_object_set_new(root, "target", str_or_null(r->target));
    json_object_set_new(root, "profile", str_or_null(r->profile));
    json_object_set_new(root, "issuer", str_or_null(r->issuer));
    json_object_set_new(root, "issuer_from", str_or_null(r->issuer_from));
    json_object_set_new(root, "admin",
                        r->admin_url == NULL
                            ? json_null()
                            : json_pack("{s:o, s:o, s:o}", "url", str_or_null(r->admin_url), "from",
                                        str_or_null(r->admin_from), "issuer",
                                        str_or_null(r->admin_issuer)));
    json_object_set_new(root, "inventory",
                        r->inventory != NULL ? json_incref(r->inventory) : json_null());
    json_object_set_new(root, "started", json_string(ts));
    json_object_set_new(root, "duration_ms", json_integer((json_int_t)r->ms));
    json_object_set_new(root, "exit_code", json_integer(af_results_exit_code(r)));
    if (r->unreachable)
        json_object_set_new(root, "unreachable",
                            json_pack("{s:o, s:o}", "url", str_or_null(r->unreachable_at), "why",
                                      str_or_null(r->unreachable_why)));
    for (i = 0; i < AF_CHECK_NSTATUS; i++)
        json_object_set_new(sum, af_check_status_name((af_check_status)i),
                            json_integer((json_int_t)r->count[i]));
    json_object_set_new(sum, "total", json_integer((json_int_t)r->n));
    json_object_set(root, "summary", sum);
    for (i = 0; i < r->n; i++) {
        const struct af_check_result *c = &r->v[i];
        json_t *fails = json_array();
        json_t *o = json_object();
        if (o == NULL || fails == NULL) {
            json_decref(o);
            json_decref(fails);
            rc = AF_ERR_NOMEM;
            goto out;
        }
        json_object_set_new(o, "id", str_or_null(c->id));
        json_object_set_new(o, "title", str_or_null(c->title));
        json_object_set_new(o, "spec", str_or_null(c->spec));
        json_object_set_new(o, "severity", json_string(af_severity_name(c->severity)));
        json_object_set_new(o, "result", json_string(af_check_status_name(c->status)));
        json_object_set_new(o, "headline", str_or_null(c->headline));
        json_object_set_new(o, "message", str_or_null(c->message));
        json_object_set_new(o, "evidence", str_or_null(c->evidence));
        json_object_set_new(o, "duration_ms", json_integer((json_int_t)c->ms));
        json_object_set_new(o, "requests", json_integer(c->requests));
        for (j = 0; j < c->nfails; j++)
            json_array_append_new(fails, json_pack("{s:o, s:s, s:s, s:o}", "step",
                                                   str_or_null(c->fails[j].step), "severity",
                                                   af_severity_name(c->fails[j].severity), "role",
                                                   af_role_name(c->fails[j].role), "message",
                                                   str_or_null(c->fails[j].line)));
        json_object_set_new(o, "failures", fails);
        json_array_append_new(checks, o);
    }
    json_object_set(root, "checks", checks);
    if (json_dumpf(root, f, JSON_INDENT(2)) != 0 || fputc('\n', f) == EOF)
        rc = AF_ERR_IO;
out:
    json_decref(root);
    json_decref(checks);
    json_decref(sum);
    return rc;
}

/* ---- JUnit XML ---- */

/* xml_escape: text or attribute content; characters XML 1.0 forbids
 * (controls other than tab, newline, return) become '?'. */
static void xml_escape(FILE *f, const char *s)
{
    for (; s != NULL && *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&apos;", f);
            break;
        case '\n':
            fputs("&#10;", f);
            break;
        default:
            if (c < 0x20 && c != '\t' && c != '\r')
                fputc('?', f);
            else
                fputc(c, f);
        }
    }
}

/* xml_text: element content (newlines kept as they are). */
static void xml_text(FILE *f, const char *s)
{
    for (; s != NULL && *s; s++) {
        if (*s == '\n')
            fputc('\n', f);
        else {
            char one[2] = {*s, 0};
            xml_escape(f, one);
        }
    }
}

/* junit_testcase_open: <testcase classname="SUITE.SEV" name="ID[ (form)] TEXT". */
static void junit_testcase_open(FILE *f, const struct af_results *r,
                                const struct af_check_result *c, const char *tag, const char *text)
{
    fprintf(f, "    <testcase classname=\"");
    xml_escape(f, r->suite);
    fprintf(f, ".%s\" name=\"", af_severity_name(c->severity));
    xml_escape(f, c->id);
    if (tag != NULL)
        fprintf(f, " %s", tag);
    fputc(' ', f);
    xml_escape(f, text);
    fprintf(f, "\" time=\"%.3f\">\n", (double)c->ms / 1000.0);
}

/* junit_lines: the failure lines of role (or every line when all). */
static void junit_lines(FILE *f, const struct af_check_result *c, bool all, af_role role)
{
    size_t j;
    bool any = false;
    for (j = 0; j < c->nfails; j++) {
        if (!all && c->fails[j].role != role)
            continue;
        xml_text(f, c->fails[j].line);
        fputc('\n', f);
        any = true;
    }
    if (!any)
        xml_text(f, c->message);
    if (c->evidence != NULL) {
        fputs("evidence: ", f);
        xml_text(f, c->evidence);
        fputc('\n', f);
    }
}

static void junit_skipped(FILE *f, const char *word, const char *msg)
{
    fprintf(f, "      <skipped message=\"%s", word);
    xml_escape(f, msg ? msg : "");
    fprintf(f, "\"/>\n");
}

static void junit_warnings(FILE *f, const struct af_check_result *c)
{
    size_t j;
    bool any = false;
    for (j = 0; j < c->nfails; j++) {
        if (c->fails[j].severity != AF_SEV_SHOULD)
            continue;
        if (!any)
            fprintf(f, "      <system-out>");
        any = true;
        fprintf(f, "warning: ");
        xml_text(f, c->fails[j].line);
        fputc('\n', f);
    }
    if (any)
        fprintf(f, "</system-out>\n");
}

/* write_junit: one testsuite of testcases; a "format" verdict is two test
 * cases: the check's own, which passed (the refusal happened), and a
 * "(form)" case that failed, so no dashboard shows the security property
 * as broken. testsuites carries only the attributes Jenkins' schema
 * allows (name, tests, failures, errors, time). */
static af_rc write_junit(FILE *f, const struct af_results *r)
{
    char ts[32];
    size_t i, tests = r->n + r->count[AF_CHECK_FORMAT],
              fails = r->count[AF_CHECK_FAIL] + r->count[AF_CHECK_FORMAT],
              errors = r->count[AF_CHECK_ERROR],
              skipped = r->count[AF_CHECK_SKIP] + r->count[AF_CHECK_NOTRUN] +
                        r->count[AF_CHECK_INCONCLUSIVE];
    iso8601(r->started, ts, sizeof(ts));
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f,
            "<testsuites name=\"authprobe\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
            "time=\"%.3f\">\n",
            tests, fails, errors, (double)r->ms / 1000.0);
    fprintf(f, "  <testsuite name=\"");
    xml_escape(f, r->suite);
    fprintf(f,
            "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\" "
            "timestamp=\"%s\" hostname=\"authprobe\">\n",
            tests, fails, errors, skipped, (double)r->ms / 1000.0, ts);
    fprintf(f, "    <properties>\n");
    {
        const char *names[] = {"target",    "profile",    "issuer",      "issuer_from",
                               "admin_url", "admin_from", "admin_issuer"};
        const char *vals[] = {r->target,    r->profile,    r->issuer,      r->issuer_from,
                              r->admin_url, r->admin_from, r->admin_issuer};
        for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            if (vals[i] == NULL)
                continue;
            fprintf(f, "      <property name=\"%s\" value=\"", names[i]);
            xml_escape(f, vals[i]);
            fprintf(f, "\"/>\n");
        }
    }
    fprintf(f, "    </properties>\n");
    for (i = 0; i < r->n; i++) {
        const struct af_check_result *c = &r->v[i];
        junit_testcase_open(f, r, c, NULL, c->title);
        switch (c->status) {
        case AF_CHECK_FAIL:
            fprintf(f, "      <failure message=\"");
            xml_escape(f, c->message ? c->message : "failed");
            fprintf(f, "\" type=\"MUST\">");
            junit_lines(f, c, true, AF_ROLE_OUTCOME);
            fprintf(f, "</failure>\n");
            break;
        case AF_CHECK_ERROR:
            fprintf(f, "      <error message=\"");
            xml_escape(f, c->message ? c->message : "error");
            fprintf(f, "\" type=\"error\">");
            junit_lines(f, c, true, AF_ROLE_OUTCOME);
            fprintf(f, "</error>\n");
            break;
        case AF_CHECK_SKIP:
            junit_skipped(f, "", c->message ? c->message : "skipped");
            break;
        case AF_CHECK_NOTRUN:
            junit_skipped(f, "not run: ", c->message);
            break;
        case AF_CHECK_INCONCLUSIVE:
            junit_skipped(f, "inconclusive: ", c->message);
            break;
        default:
            junit_warnings(f, c);
            break;
        }
        fprintf(f, "    </testcase>\n");
        if (c->status == AF_CHECK_FORMAT) {
            junit_testcase_open(f, r, c, "(form)", shown_title(c));
            fprintf(f, "      <failure message=\"");
            xml_escape(f, c->message ? c->message : "wrong form");
            fprintf(f, "\" type=\"format\">");
            junit_lines(f, c, false, AF_ROLE_FORM);
            fprintf(f, "</failure>\n    </testcase>\n");
        }
    }
    fprintf(f, "  </testsuite>\n</testsuites>\n");
    return ferror(f) ? AF_ERR_IO : AF_OK;
}

/* ---- TAP 13 ---- */

static void tap_desc(FILE *f, const char *s)
{
    for (; s != NULL && *s; s++) {
        if (*s == '#' || *s == '\\')
            fputc('\\', f);
        fputc(*s == '\n' ? ' ' : *s, f);
    }
}

/* tap_yaml_str: a YAML double-quoted scalar (JSON string syntax is valid
 * YAML). */
static void tap_yaml_str(FILE *f, const char *s)
{
    json_t *j = str_or_null(s);
    char *d = json_dumps(j, JSON_ENCODE_ANY);
    fputs(d ? d : "\"\"", f);
    free(d);
    json_decref(j);
}

static void tap_yaml(FILE *f, const struct af_check_result *c)
{
    size_t j;
    fprintf(f, "  ---\n  severity: %s\n  result: %s\n  spec: ", af_severity_name(c->severity),
            af_check_status_name(c->status));
    tap_yaml_str(f, c->spec);
    fprintf(f, "\n  message: ");
    tap_yaml_str(f, c->message);
    fprintf(f, "\n");
    if (c->evidence != NULL) {
        fprintf(f, "  evidence: ");
        tap_yaml_str(f, c->evidence);
        fprintf(f, "\n");
    }
    if (c->nfails > 0) {
        fprintf(f, "  failures:\n");
        for (j = 0; j < c->nfails; j++) {
            fprintf(f, "    - ");
            tap_yaml_str(f, c->fails[j].line);
            fputc('\n', f);
        }
    }
    fprintf(f, "  ...\n");
}

/* write_tap: TAP version 13. fail, format and error are "not ok"; skip,
 * inconclusive and notrun are "ok # SKIP" with the reason; a run that
 * could not be completed ends with "Bail out!" and its cause. */
static af_rc write_tap(FILE *f, const struct af_results *r)
{
    size_t i;
    fprintf(f, "TAP version 13\n1..%zu\n# suite %s against %s\n# issuer %s (from %s)\n", r->n,
            r->suite, r->target, r->issuer ? r->issuer : "?",
            r->issuer_from ? r->issuer_from : "profile");
    if (r->admin_url != NULL)
        fprintf(f, "# admin API %s (from %s)\n", r->admin_url,
                r->admin_from ? r->admin_from : "profile");
    for (i = 0; i < r->n; i++) {
        const struct af_check_result *c = &r->v[i];
        bool ok = c->status != AF_CHECK_FAIL && c->status != AF_CHECK_ERROR &&
                  c->status != AF_CHECK_FORMAT;
        bool skip = c->status == AF_CHECK_SKIP || c->status == AF_CHECK_NOTRUN ||
                    c->status == AF_CHECK_INCONCLUSIVE;
        fprintf(f, "%s %zu - ", ok ? "ok" : "not ok", i + 1);
        tap_desc(f, c->id);
        fputc(' ', f);
        tap_desc(f, shown_title(c));
        if (skip) {
            fprintf(f, " # SKIP %s",
                    c->status == AF_CHECK_NOTRUN         ? "not run: "
                    : c->status == AF_CHECK_INCONCLUSIVE ? "inconclusive: "
                                                         : "");
            tap_desc(f, c->message ? c->message : "");
        }
        fputc('\n', f);
        if (!ok || c->status == AF_CHECK_WARN)
            tap_yaml(f, c);
    }
    if (r->unreachable) {
        fprintf(f, "Bail out! unreachable at ");
        tap_desc(f, r->unreachable_at);
        fprintf(f, ": ");
        tap_desc(f, r->unreachable_why);
        fputc('\n', f);
    } else if (r->count[AF_CHECK_ERROR] > 0) {
        for (i = 0; i < r->n && r->v[i].status != AF_CHECK_ERROR; i++)
            ;
        fprintf(f, "Bail out! ");
        tap_desc(f, i < r->n ? r->v[i].message : "error");
        fputc('\n', f);
    }
    return ferror(f) ? AF_ERR_IO : AF_OK;
}

af_rc af_report_write(FILE *f, af_report_format fmt, const struct af_results *r)
{
    af_rc rc;
    switch (fmt) {
    case AF_REPORT_JSON:
        rc = write_json(f, r);
        break;
    case AF_REPORT_JUNIT:
        rc = write_junit(f, r);
        break;
    case AF_REPORT_TAP:
        rc = write_tap(f, r);
        break;
    default:
        rc = write_text(f, r);
        break;
    }
    if (rc == AF_OK && (fflush(f) != 0 || ferror(f)))
        rc = AF_ERR_IO;
    return rc;
}
