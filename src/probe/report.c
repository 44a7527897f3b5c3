/*
 * report.c - the reporters: text for a terminal, JSON, JUnit XML (the
 * common subset read by Jenkins, GitLab and GitHub: testsuites > testsuite
 * > testcase with failure / error / skipped), and TAP version 14.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

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
        return C_YELLOW;
    case AF_CHECK_SKIP:
        return C_DIM;
    default:
        return C_RED;
    }
}

static const char *status_word(af_check_status st)
{
    static const char *const w[] = {"PASS", "WARN", "FAIL", "SKIP", "ERROR"};
    return (unsigned)st < AF_CHECK_NSTATUS ? w[st] : "?";
}

void af_report_text_check(FILE *f, const struct af_check_result *r, bool color)
{
    size_t i;
    fprintf(f, "%s%-5s%s %-8s %s%s%s", color ? status_colour(r->status) : "",
            status_word(r->status), color ? C_RESET : "", r->id, r->title,
            r->severity == AF_SEV_SHOULD ? " [SHOULD]" : "", "");
    if (r->status != AF_CHECK_SKIP)
        fprintf(f, " %s(%llu ms)%s", color ? C_DIM : "", (unsigned long long)r->ms,
                color ? C_RESET : "");
    fputc('\n', f);
    if (r->nfails > 0) {
        for (i = 0; i < r->nfails; i++)
            fprintf(f, "      %s%s%s\n",
                    color ? (r->fails[i].severity == AF_SEV_MUST ? C_RED : C_YELLOW) : "",
                    r->fails[i].line, color ? C_RESET : "");
    }
    if (r->message != NULL && (r->nfails == 0 || r->status == AF_CHECK_ERROR ||
                               (r->status == AF_CHECK_SKIP && r->nfails > 0))) {
        bool dup = false;
        for (i = 0; i < r->nfails; i++)
            dup = dup || strcmp(r->fails[i].line, r->message) == 0;
        if (!dup)
            fprintf(f, "      %s%s%s\n", color ? C_DIM : "", r->message, color ? C_RESET : "");
    }
}

void af_report_text_summary(FILE *f, const struct af_results *r, bool color)
{
    size_t by[AF_CHECK_NSTATUS][2], i, st, ran = 0;
    memset(by, 0, sizeof(by));
    for (i = 0; i < r->n; i++) {
        if (!r->v[i].selected)
            continue;
        by[r->v[i].status][r->v[i].severity == AF_SEV_SHOULD]++;
        ran++;
    }
    fprintf(f, "\n%s%-8s %6s %7s %6s%s\n", color ? C_BOLD : "", "result", "MUST", "SHOULD", "total",
            color ? C_RESET : "");
    for (st = 0; st < AF_CHECK_NSTATUS; st++) {
        const char *c =
            color && by[st][0] + by[st][1] > 0 ? status_colour((af_check_status)st) : "";
        fprintf(f, "%s%-8s%s %6zu %7zu %6zu\n", c, af_check_status_name((af_check_status)st),
                *c ? C_RESET : "", by[st][0], by[st][1], by[st][0] + by[st][1]);
    }
    fprintf(f, "%-8s %6s %7s %6zu\n", "total", "", "", ran);
    if (ran < r->n)
        fprintf(f, "(%zu more not selected by --only/--skip)\n", r->n - ran);
    fprintf(f, "\n%zu check%s of %s against %s (%s) in %.2f s: ", ran, ran == 1 ? "" : "s",
            r->suite, r->target, r->issuer, (double)r->ms / 1000.0);
    if (r->unreachable)
        fprintf(f, "%starget unreachable%s at %s: %s\n", color ? C_RED : "", color ? C_RESET : "",
                r->unreachable_at ? r->unreachable_at : "?",
                r->unreachable_why ? r->unreachable_why : "?");
    else if (by[AF_CHECK_FAIL][0] + by[AF_CHECK_ERROR][0] + by[AF_CHECK_ERROR][1] > 0)
        fprintf(f, "%s%zu MUST check%s failed%s\n", color ? C_RED : "",
                by[AF_CHECK_FAIL][0] + by[AF_CHECK_ERROR][0] + by[AF_CHECK_ERROR][1],
                by[AF_CHECK_FAIL][0] + by[AF_CHECK_ERROR][0] + by[AF_CHECK_ERROR][1] == 1 ? ""
                                                                                          : "s",
                color ? C_RESET : "");
    else
        fprintf(f, "%sall MUST checks passed%s%s\n", color ? C_GREEN : "", color ? C_RESET : "",
                by[AF_CHECK_WARN][0] + by[AF_CHECK_WARN][1] > 0 ? " (with warnings)" : "");
}

static af_rc write_text(FILE *f, const struct af_results *r)
{
    size_t i;
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
    json_object_set_new(root, "issuer", str_or_null(r->issuer));
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
        json_object_set_new(o, "message", str_or_null(c->message));
        json_object_set_new(o, "duration_ms", json_integer((json_int_t)c->ms));
        json_object_set_new(o, "requests", json_integer(c->requests));
        for (j = 0; j < c->nfails; j++)
            json_array_append_new(fails, json_pack("{s:o, s:s, s:o}", "step",
                                                   str_or_null(c->fails[j].step), "severity",
                                                   af_severity_name(c->fails[j].severity),
                                                   "message", str_or_null(c->fails[j].line)));
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

static af_rc write_junit(FILE *f, const struct af_results *r)
{
    char ts[32];
    size_t i, j, fails = r->count[AF_CHECK_FAIL], errors = r->count[AF_CHECK_ERROR],
                 skipped = r->count[AF_CHECK_SKIP];
    iso8601(r->started, ts, sizeof(ts));
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f,
            "<testsuites name=\"authprobe\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
            "skipped=\"%zu\" time=\"%.3f\">\n",
            r->n, fails, errors, skipped, (double)r->ms / 1000.0);
    fprintf(f, "  <testsuite name=\"");
    xml_escape(f, r->suite);
    fprintf(f,
            "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\" "
            "timestamp=\"%s\" hostname=\"authprobe\">\n",
            r->n, fails, errors, skipped, (double)r->ms / 1000.0, ts);
    fprintf(f, "    <properties>\n      <property name=\"target\" value=\"");
    xml_escape(f, r->target);
    fprintf(f, "\"/>\n      <property name=\"issuer\" value=\"");
    xml_escape(f, r->issuer);
    fprintf(f, "\"/>\n    </properties>\n");
    for (i = 0; i < r->n; i++) {
        const struct af_check_result *c = &r->v[i];
        fprintf(f, "    <testcase classname=\"");
        xml_escape(f, r->suite);
        fprintf(f, ".%s\" name=\"", af_severity_name(c->severity));
        xml_escape(f, c->id);
        fputc(' ', f);
        xml_escape(f, c->title);
        fprintf(f, "\" time=\"%.3f\">\n", (double)c->ms / 1000.0);
        if (c->status == AF_CHECK_FAIL || c->status == AF_CHECK_ERROR) {
            const char *tag = c->status == AF_CHECK_FAIL ? "failure" : "error";
            fprintf(f, "      <%s message=\"", tag);
            xml_escape(f, c->message ? c->message : "failed");
            fprintf(f, "\" type=\"%s\">", c->status == AF_CHECK_FAIL ? "MUST" : "error");
            for (j = 0; j < c->nfails; j++) {
                xml_text(f, c->fails[j].line);
                fputc('\n', f);
            }
            if (c->nfails == 0)
                xml_text(f, c->message);
            fprintf(f, "</%s>\n", tag);
        } else if (c->status == AF_CHECK_SKIP) {
            fprintf(f, "      <skipped message=\"");
            xml_escape(f, c->message ? c->message : "skipped");
            fprintf(f, "\"/>\n");
        }
        if (c->status == AF_CHECK_WARN ||
            (c->nfails > 0 && c->status != AF_CHECK_FAIL && c->status != AF_CHECK_ERROR)) {
            fprintf(f, "      <system-out>");
            for (j = 0; j < c->nfails; j++) {
                fprintf(f, "warning: ");
                xml_text(f, c->fails[j].line);
                fputc('\n', f);
            }
            fprintf(f, "</system-out>\n");
        }
        fprintf(f, "    </testcase>\n");
    }
    fprintf(f, "  </testsuite>\n</testsuites>\n");
    return ferror(f) ? AF_ERR_IO : AF_OK;
}

/* ---- TAP 14 ---- */

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

static af_rc write_tap(FILE *f, const struct af_results *r)
{
    size_t i, j;
    fprintf(f, "TAP version 14\n1..%zu\n", r->n);
    for (i = 0; i < r->n; i++) {
        const struct af_check_result *c = &r->v[i];
        bool ok = c->status != AF_CHECK_FAIL && c->status != AF_CHECK_ERROR;
        fprintf(f, "%s %zu - ", ok ? "ok" : "not ok", i + 1);
        tap_desc(f, c->id);
        fputc(' ', f);
        tap_desc(f, c->title);
        if (c->status == AF_CHECK_SKIP) {
            fprintf(f, " # SKIP ");
            tap_desc(f, c->message ? c->message : "");
        }
        fputc('\n', f);
        if (!ok || c->status == AF_CHECK_WARN) {
            fprintf(f,
                    "  ---\n  severity: %s\n  result: %s\n  spec: ", af_severity_name(c->severity),
                    af_check_status_name(c->status));
            tap_yaml_str(f, c->spec);
            fprintf(f, "\n  message: ");
            tap_yaml_str(f, c->message);
            fprintf(f, "\n");
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
    }
    if (r->unreachable) {
        fprintf(f, "# target unreachable at ");
        tap_desc(f, r->unreachable_at);
        fprintf(f, ": ");
        tap_desc(f, r->unreachable_why);
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
