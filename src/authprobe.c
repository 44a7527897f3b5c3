/*
 * authprobe.c - the probe's command line (docs/probe.md): parse the
 * arguments, load the suite and the target profile, run, report, and turn
 * the outcome into an exit code.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authflow/buf.h"
#include "authflow/cfg.h"
#include "authflow/log.h"
#include "authflow/probe.h"
#include "authflow/probe_mint.h"
#include "authflow/proto.h"
#include "authflow/server.h"
#include "authflow/util.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif

#define MAX_REPORTS  8
#define MAX_PATTERNS 256

struct report_req {
    af_report_format fmt;
    const char *path; /* "-" is stdout */
};

struct cli {
    const char *cmd;
    const char *suite_arg;
    const char *target;
    const char *issuer;
    const char *admin;           /* --admin URL */
    const char *start_authflowd; /* --start-authflowd CONFIG */
    const char *suites_dir;
    const char *cacert;
    const char *trace_path;
    bool trace;
    bool show_secrets;
    bool insecure;
    bool quiet;
    long timeout_ms;
    int color; /* -1 auto, 0 never, 1 always */
    const char *only[MAX_PATTERNS];
    size_t nonly;
    const char *skip[MAX_PATTERNS];
    size_t nskip;
    char *patbuf[2 * MAX_PATTERNS]; /* owned copies split at commas */
    size_t npatbuf;
    struct report_req reports[MAX_REPORTS];
    size_t nreports;
    struct af_params vars;
};

/* The progress line and per-check output. */
struct ui {
    FILE *out;
    bool tty;
    bool color;
    bool quiet;
    bool progress_shown;
};

static void usage(FILE *f)
{
    fputs("usage: authprobe run SUITE --target PROFILE [options]\n"
          "       authprobe as --target PROFILE [options]     (the shipped AS suite)\n"
          "       authprobe rs --target PROFILE [options]     (a protected API: the RS suite)\n"
          "       authprobe rp --app PROFILE [options]        (an app's login and callback)\n"
          "       authprobe api --target PROFILE [options]    (an API with its own login and "
          "tokens)\n"
          "       authprobe list SUITE [--only P] [--skip P]\n"
          "       authprobe mint [options]                    (authprobe mint --help)\n"
          "       authprobe --version | --help\n"
          "\n"
          "SUITE is a suite file, or the name of a shipped suite (\"as\").\n"
          "\n"
          "options:\n"
          "  -t, --target FILE        the target profile (issuer, clients, login)\n"
          "      --app FILE           the same, for rp: the app profile\n"
          "      --issuer URL         probe this issuer instead of the profile's\n"
          "      --authflowd URL      the same, for rp: a running authflowd's issuer URL\n"
          "      --start-authflowd CONFIG\n"
          "                           start authflowd with CONFIG in-process, on the address\n"
          "                           of the profile's issuer (and admin.url), for the run\n"
          "      --admin URL          authflowd's admin API (default $AUTHFLOW_ADMIN_URL,\n"
          "                           then the profile's admin.url; secret:\n"
          "                           $AUTHFLOW_ADMIN_SECRET)\n"
          "      --only P[,P...]      run only checks matching an id, id prefix, glob or keyword\n"
          "      --skip P[,P...]      do not run the matching checks\n"
          "      --report FMT:PATH    also write a report: json, junit, tap or text; PATH - is\n"
          "                           stdout (repeatable)\n"
          "      --trace[=FILE]       print every exchange hop by hop (to stderr or FILE)\n"
          "      --show-secrets       do not redact secrets in the trace and messages\n"
          "      --insecure           do not verify TLS certificates (development servers)\n"
          "      --cacert FILE        trust this CA (PEM) for the target\n"
          "      --timeout MS         per-request timeout in milliseconds (or 5s)\n"
          "      --var NAME=VALUE     set vars.NAME for the suite (repeatable)\n"
          "      --suites-dir DIR     where shipped suites are looked up\n"
          "      --color=WHEN         auto (default), always or never; NO_COLOR is respected\n"
          "  -q, --quiet              print only checks that did not pass, and the summary\n"
          "  -V, --version            print the version\n"
          "  -h, --help               this text\n"
          "\n"
          "exit status: 0 every MUST check passed, 1 some failed, 2 usage, configuration or\n"
          "suite error, 3 the target could not be reached.\n",
          f);
}

static int die_usage(const char *fmt, ...) AF_PRINTF(1, 2);

static int die_usage(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "authprobe: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(try authprobe --help)\n");
    return AF_PROBE_EXIT_USAGE;
}

/* add_patterns: split a comma-separated list into list. */
static int add_patterns(struct cli *c, const char *arg, const char **list, size_t *n)
{
    char *copy = strdup(arg), *save = NULL, *tok;
    if (copy == NULL || c->npatbuf >= sizeof(c->patbuf) / sizeof(c->patbuf[0])) {
        free(copy);
        return -1;
    }
    c->patbuf[c->npatbuf++] = copy;
    for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        if (*tok == '\0')
            continue;
        if (*n >= MAX_PATTERNS)
            return -1;
        list[(*n)++] = tok;
    }
    return 0;
}

static int parse_timeout(const char *s, long *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v <= 0)
        return -1;
    if (strcmp(end, "s") == 0)
        v *= 1000;
    else if (*end != '\0' && strcmp(end, "ms") != 0)
        return -1;
    if (v < 1 || v > 3600 * 1000)
        return -1;
    *out = (long)v;
    return 0;
}

static bool is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* exe_suites_dir: PREFIX/etc/authflow/suites for the binary at
 * PREFIX/bin/authprobe, so that an install moved elsewhere (a DESTDIR
 * staging tree, an unpacked archive) still finds its suites. NULL when
 * /proc/self/exe cannot be read. Caller frees. */
static char *exe_suites_dir(void)
{
    char exe[4096], *slash, *out = NULL;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0 || (size_t)n >= sizeof(exe) - 1)
        return NULL;
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (slash == NULL)
        return NULL;
    *slash = '\0'; /* PREFIX/bin */
    slash = strrchr(exe, '/');
    if (slash == NULL)
        return NULL;
    *slash = '\0'; /* PREFIX ("" for /bin) */
    if (asprintf(&out, "%s/etc/authflow/suites", exe) < 0)
        return NULL;
    return out;
}

/* find_suite: a file as given, or NAME.json in the suite folders:
 * --suites-dir (alone when given), else $AUTHFLOW_SUITES, the folder beside
 * the binary (exe_suites_dir), the configured folder, ./conf/suites. When
 * none has it, *tried lists the folders (caller frees) and the name is
 * returned for the loader to refuse. Caller frees. */
static char *find_suite(const struct cli *c, const char *arg, char **tried)
{
    const char *dirs[5];
    char *exe_dir = NULL, *found = NULL;
    size_t nd = 0, i;
    const char *p;
    struct af_buf b;

    *tried = NULL;
    if (is_file(arg) || strchr(arg, '/') != NULL || strstr(arg, ".json") != NULL)
        return strdup(arg);
    for (p = arg; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
            return strdup(arg);
    if (c->suites_dir != NULL) {
        dirs[nd++] = c->suites_dir;
    } else {
        if (getenv("AUTHFLOW_SUITES") != NULL && *getenv("AUTHFLOW_SUITES"))
            dirs[nd++] = getenv("AUTHFLOW_SUITES");
        exe_dir = exe_suites_dir();
        if (exe_dir != NULL)
            dirs[nd++] = exe_dir;
#ifdef AF_SUITES_DIR
        dirs[nd++] = AF_SUITES_DIR;
#endif
        dirs[nd++] = "conf/suites";
    }
    af_buf_init(&b, 8192);
    for (i = 0; i < nd && found == NULL; i++) {
        if (asprintf(&found, "%s/%s.json", dirs[i], arg) < 0) {
            found = NULL;
            break;
        }
        if (!is_file(found)) {
            free(found);
            found = NULL;
            if (af_buf_addf(&b, "%s%s", i ? ", " : "", dirs[i]) != AF_OK)
                break;
        }
    }
    free(exe_dir);
    if (found != NULL) {
        af_buf_free(&b);
        return found;
    }
    *tried = af_buf_detach(&b);
    return strdup(arg); /* let the caller say which folders were tried */
}

static bool want_color(int setting, FILE *f)
{
    const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");
    if (setting >= 0)
        return setting == 1;
    if (nc != NULL && *nc != '\0')
        return false;
    if (term != NULL && strcmp(term, "dumb") == 0)
        return false;
    return isatty(fileno(f));
}

static void progress_clear(struct ui *u)
{
    if (u->progress_shown) {
        fputs("\r\033[K", u->out);
        u->progress_shown = false;
    }
}

static void on_start(void *ud, size_t idx, size_t total, const struct af_check_result *r)
{
    struct ui *u = ud;
    if (!u->tty)
        return;
    progress_clear(u);
    fprintf(u->out, "[%zu/%zu] %s %.60s", idx + 1, total, r->id, r->title);
    fflush(u->out);
    u->progress_shown = true;
}

static void on_done(void *ud, size_t idx, size_t total, const struct af_check_result *r)
{
    struct ui *u = ud;
    (void)idx;
    (void)total;
    progress_clear(u);
    if (!u->quiet || r->status != AF_CHECK_PASS)
        af_report_text_check(u->out, r, u->color);
    fflush(u->out);
}

static void on_inventory(void *ud, const json_t *inventory)
{
    struct ui *u = ud;
    if (u->quiet)
        return;
    progress_clear(u);
    af_report_text_inventory(u->out, inventory);
    fputc('\n', u->out);
    fflush(u->out);
}

static int cmd_list(const struct cli *c, const struct af_suite *s)
{
    size_t i, shown = 0;
    struct af_probe_filter f = {c->only, c->nonly, c->skip, c->nskip};
    printf("%s: %s\n", af_suite_name(s), af_suite_title(s));
    for (i = 0; i < af_suite_count(s); i++) {
        struct af_check_info ci;
        if (!af_suite_selected(s, i, &f))
            continue;
        af_suite_check(s, i, &ci);
        printf("%-10s %-6s %s  (%s)\n", ci.id, af_severity_name(ci.severity), ci.title, ci.spec);
        shown++;
    }
    printf("%zu of %zu checks\n", shown, af_suite_count(s));
    return AF_PROBE_EXIT_OK;
}

static int write_reports(const struct cli *c, const struct af_results *res)
{
    size_t i;
    int rc = 0;
    for (i = 0; i < c->nreports; i++) {
        const struct report_req *rq = &c->reports[i];
        FILE *f = strcmp(rq->path, "-") == 0 ? stdout : fopen(rq->path, "w");
        if (f == NULL) {
            fprintf(stderr, "authprobe: cannot write the report %s: %s\n", rq->path,
                    strerror(errno));
            rc = -1;
            continue;
        }
        if (af_report_write(f, rq->fmt, res) != AF_OK) {
            fprintf(stderr, "authprobe: writing the report %s failed\n", rq->path);
            rc = -1;
        }
        if (f != stdout && fclose(f) != 0) {
            fprintf(stderr, "authprobe: writing the report %s failed: %s\n", rq->path,
                    strerror(errno));
            rc = -1;
        }
    }
    return rc;
}

/* An authflowd started in-process for the run (--start-authflowd). */
struct inproc {
    struct af_config *cfg;
    struct af_server *srv;
};

/* host_port: "HOST:PORT" of an absolute http(s) URL, the port explicit or
 * the scheme's; NULL when url is not of that shape. Caller frees. */
static char *host_port(const char *url)
{
    const char *p = strstr(url, "://"), *h, *end, *colon;
    char *out = NULL;
    bool https;
    if (p == NULL)
        return NULL;
    https = (size_t)(p - url) == 5 && strncasecmp(url, "https", 5) == 0;
    h = p + 3;
    end = h + strcspn(h, "/?#");
    if (memchr(h, '@', (size_t)(end - h)) != NULL || end == h)
        return NULL; /* userinfo has no place in an issuer */
    colon = h[0] == '[' ? memchr(h, ']', (size_t)(end - h)) : h;
    colon = colon ? memchr(colon, ':', (size_t)(end - colon)) : NULL;
    if (colon != NULL) {
        out = strndup(h, (size_t)(end - h));
    } else if (asprintf(&out, "%.*s:%s", (int)(end - h), h, https ? "443" : "80") < 0) {
        out = NULL;
    }
    return out;
}

/* start_authflowd: load CONFIG and serve it in-process on the address of
 * the issuer (--issuer / --authflowd, else the profile's) and the admin API
 * on the address of the admin URL (--admin, $AUTHFLOW_ADMIN_URL, the
 * profile's admin.url, else a free loopback port). 0 or an exit code. */
static int start_authflowd(const struct cli *c, const struct af_target *t, struct inproc *ifl)
{
    struct af_server_opts so;
    struct af_err err;
    char *issuer = NULL, *admin = NULL, *listen = NULL, *admin_listen = NULL;
    const char *env = getenv(AF_ADMIN_ENV_URL);
    int code = 0;

    af_err_clear(&err);
    memset(&so, 0, sizeof(so));
    if (c->issuer != NULL)
        issuer = strdup(c->issuer);
    else if (af_target_expand(t, &c->vars, "{{target.issuer}}", &issuer, &err) != AF_OK)
        issuer = NULL;
    if (issuer == NULL || (listen = host_port(issuer)) == NULL) {
        code = die_usage("--start-authflowd: no address to listen on: the issuer %s is not an "
                         "http(s) URL%s%s",
                         issuer ? issuer : "(undefined)", err.msg[0] ? ": " : "", err.msg);
        goto out;
    }
    if (c->admin != NULL)
        admin = strdup(c->admin);
    else if (env != NULL && *env != '\0')
        admin = strdup(env);
    else if (af_target_expand(t, &c->vars, "{{?target.admin.url}}", &admin, &err) != AF_OK)
        admin = NULL;
    if (admin != NULL && (admin_listen = host_port(admin)) == NULL) {
        code = die_usage("--start-authflowd: the admin URL %s is not an http URL", admin);
        goto out;
    }
    af_err_clear(&err);
    if (af_cfg_load_file(c->start_authflowd, &ifl->cfg, &err) != AF_OK) {
        fprintf(stderr, "authprobe: %s\n", err.msg);
        code = AF_PROBE_EXIT_USAGE;
        goto out;
    }
    so.listen = listen;
    /* Port 0 (a free port): the server names its issuer after the port it
     * bound, and the run probes that one. */
    so.issuer = strcmp(listen + strlen(listen) - 2, ":0") == 0 ? NULL : issuer;
    so.admin_listen = admin_listen ? admin_listen : "127.0.0.1:0";
    /* The server's own log would interleave with the check lines. */
    if (af_log_get_level() > AF_LOG_WARN)
        af_log_set_level(AF_LOG_WARN);
    if (af_server_start(ifl->cfg, &so, &ifl->srv, &err) != AF_OK) {
        fprintf(stderr, "authprobe: cannot start authflowd: %s\n", err.msg);
        code = AF_PROBE_EXIT_USAGE;
        goto out;
    }
out:
    free(issuer);
    free(admin);
    free(listen);
    free(admin_listen);
    return code;
}

static int cmd_run(struct cli *c, const struct af_suite *s)
{
    struct inproc ifl = {NULL, NULL};
    struct af_target *t = NULL;
    struct af_results *res = NULL;
    struct af_probe_opts o;
    struct af_err err;
    struct ui u;
    FILE *trace = NULL;
    bool report_on_stdout = false;
    size_t i;
    int code;
    af_rc rc;

    af_err_clear(&err);
    if (c->target == NULL)
        return die_usage("%s needs %s PROFILE", c->cmd,
                         strcmp(c->cmd, "rp") == 0 ? "--app" : "--target");
    rc = af_target_load_file(c->target, &t, &err);
    if (rc != AF_OK) {
        fprintf(stderr, "authprobe: %s\n", err.msg);
        return AF_PROBE_EXIT_USAGE;
    }
    if (c->start_authflowd != NULL) {
        code = start_authflowd(c, t, &ifl);
        if (code != 0) {
            af_target_free(t);
            return code;
        }
    }
    for (i = 0; i < c->nreports; i++)
        report_on_stdout = report_on_stdout || strcmp(c->reports[i].path, "-") == 0;
    memset(&u, 0, sizeof(u));
    u.out = report_on_stdout ? stderr : stdout;
    u.tty = isatty(fileno(u.out));
    u.color = want_color(c->color, u.out);
    u.quiet = c->quiet;

    if (c->trace) {
        if (c->trace_path != NULL && strcmp(c->trace_path, "-") != 0) {
            trace = fopen(c->trace_path, "w");
            if (trace == NULL) {
                fprintf(stderr, "authprobe: cannot write the trace %s: %s\n", c->trace_path,
                        strerror(errno));
                af_target_free(t);
                return AF_PROBE_EXIT_USAGE;
            }
        } else {
            trace = stderr;
        }
    }
    memset(&o, 0, sizeof(o));
    o.filter.only = c->only;
    o.filter.nonly = c->nonly;
    o.filter.skip = c->skip;
    o.filter.nskip = c->nskip;
    o.issuer = ifl.srv != NULL ? af_server_issuer(ifl.srv) : c->issuer;
    o.issuer_from = ifl.srv != NULL ? "--start-authflowd" : "--issuer";
    o.admin_url = ifl.srv != NULL && af_server_admin_url(ifl.srv) != NULL
                      ? af_server_admin_url(ifl.srv)
                      : c->admin;
    o.admin_from =
        ifl.srv != NULL && af_server_admin_url(ifl.srv) != NULL ? "--start-authflowd" : "--admin";
    o.profile_path = c->target;
    o.cacert = c->cacert;
    o.insecure = c->insecure;
    o.timeout_ms = c->timeout_ms;
    o.vars = &c->vars;
    o.trace = trace;
    o.show_secrets = c->show_secrets;
    o.on_start = on_start;
    o.on_done = on_done;
    o.on_inventory = on_inventory;
    o.ud = &u;
    if (trace == stderr && (u.out == stderr || isatty(fileno(stderr))))
        u.tty = false; /* the progress line would tangle with the trace */

    rc = af_probe_run(s, t, &o, &res, &err);
    progress_clear(&u);
    if (rc == AF_ERR_NET) {
        fprintf(stderr, "authprobe: target unreachable: %s\n", err.msg);
        code = AF_PROBE_EXIT_UNREACHABLE;
        goto out;
    }
    if (rc != AF_OK) {
        fprintf(stderr, "authprobe: %s\n", err.msg[0] ? err.msg : af_rc_str(rc));
        code = AF_PROBE_EXIT_USAGE;
        goto out;
    }
    af_report_text_summary(u.out, res, u.color);
    fflush(u.out);
    code = af_results_exit_code(res);
    if (write_reports(c, res) != 0 && code == AF_PROBE_EXIT_OK)
        code = AF_PROBE_EXIT_USAGE;
out:
    if (trace != NULL && trace != stderr)
        fclose(trace);
    af_results_free(res);
    af_target_free(t);
    af_server_stop(ifl.srv);
    af_cfg_free(ifl.cfg);
    return code;
}

enum {
    OPT_ISSUER = 256,
    OPT_ONLY,
    OPT_SKIP,
    OPT_REPORT,
    OPT_TRACE,
    OPT_SHOW_SECRETS,
    OPT_INSECURE,
    OPT_CACERT,
    OPT_TIMEOUT,
    OPT_VAR,
    OPT_SUITES_DIR,
    OPT_COLOR,
    OPT_NO_COLOR,
    OPT_ADMIN,
    OPT_START_AUTHFLOWD,
};

static int parse_args(struct cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"target", required_argument, NULL, 't'},
        {"app", required_argument, NULL, 't'},
        {"issuer", required_argument, NULL, OPT_ISSUER},
        {"authflowd", required_argument, NULL, OPT_ISSUER},
        {"admin", required_argument, NULL, OPT_ADMIN},
        {"start-authflowd", required_argument, NULL, OPT_START_AUTHFLOWD},
        {"only", required_argument, NULL, OPT_ONLY},
        {"skip", required_argument, NULL, OPT_SKIP},
        {"report", required_argument, NULL, OPT_REPORT},
        {"trace", optional_argument, NULL, OPT_TRACE},
        {"show-secrets", no_argument, NULL, OPT_SHOW_SECRETS},
        {"insecure", no_argument, NULL, OPT_INSECURE},
        {"cacert", required_argument, NULL, OPT_CACERT},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"var", required_argument, NULL, OPT_VAR},
        {"suites-dir", required_argument, NULL, OPT_SUITES_DIR},
        {"color", required_argument, NULL, OPT_COLOR},
        {"colour", required_argument, NULL, OPT_COLOR},
        {"no-color", no_argument, NULL, OPT_NO_COLOR},
        {"quiet", no_argument, NULL, 'q'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, ":t:qVh", opts, NULL)) != -1) {
        switch (ch) {
        case 't':
            c->target = optarg;
            break;
        case OPT_ISSUER:
            c->issuer = optarg;
            break;
        case OPT_ADMIN:
            c->admin = optarg;
            break;
        case OPT_START_AUTHFLOWD:
            c->start_authflowd = optarg;
            break;
        case OPT_ONLY:
            if (add_patterns(c, optarg, c->only, &c->nonly) != 0)
                return die_usage("too many --only patterns (%s)", optarg);
            break;
        case OPT_SKIP:
            if (add_patterns(c, optarg, c->skip, &c->nskip) != 0)
                return die_usage("too many --skip patterns (%s)", optarg);
            break;
        case OPT_REPORT: {
            char *colon = strchr(optarg, ':');
            char fmt[16];
            struct report_req *rq;
            if (colon == NULL || colon == optarg || colon[1] == '\0' ||
                (size_t)(colon - optarg) >= sizeof(fmt))
                return die_usage("--report wants FORMAT:PATH, e.g. junit:report.xml (got %s)",
                                 optarg);
            if (c->nreports >= MAX_REPORTS)
                return die_usage("at most 8 --report options (%s)", optarg);
            memcpy(fmt, optarg, (size_t)(colon - optarg));
            fmt[colon - optarg] = '\0';
            rq = &c->reports[c->nreports];
            if (af_report_format_parse(fmt, &rq->fmt) != AF_OK)
                return die_usage("unknown report format \"%s\" (json, junit, tap, text)", fmt);
            rq->path = colon + 1;
            c->nreports++;
            break;
        }
        case OPT_TRACE:
            c->trace = true;
            c->trace_path = optarg;
            break;
        case OPT_SHOW_SECRETS:
            c->show_secrets = true;
            break;
        case OPT_INSECURE:
            c->insecure = true;
            break;
        case OPT_CACERT:
            c->cacert = optarg;
            break;
        case OPT_TIMEOUT:
            if (parse_timeout(optarg, &c->timeout_ms) != 0)
                return die_usage("--timeout wants milliseconds (or Ns), 1 ms..1 h, not %s", optarg);
            break;
        case OPT_VAR: {
            char *eq = strchr(optarg, '=');
            char *name;
            af_rc rc;
            if (eq == NULL || eq == optarg)
                return die_usage("--var wants NAME=VALUE (got %s)", optarg);
            name = strndup(optarg, (size_t)(eq - optarg));
            rc = name ? af_params_add(&c->vars, name, eq + 1) : AF_ERR_NOMEM;
            free(name);
            if (rc != AF_OK)
                return die_usage("too many --var options (%s)", optarg);
            break;
        }
        case OPT_SUITES_DIR:
            c->suites_dir = optarg;
            break;
        case OPT_COLOR:
            if (strcmp(optarg, "auto") == 0)
                c->color = -1;
            else if (strcmp(optarg, "always") == 0)
                c->color = 1;
            else if (strcmp(optarg, "never") == 0)
                c->color = 0;
            else
                return die_usage("--color wants auto, always or never (got %s)", optarg);
            break;
        case OPT_NO_COLOR:
            c->color = 0;
            break;
        case 'q':
            c->quiet = true;
            break;
        case 'V':
            printf("authprobe %s\n", PACKAGE_VERSION);
            return -1;
        case 'h':
            usage(stdout);
            return -1;
        case ':':
            return die_usage("option %s needs a value", argv[optind - 1]);
        default:
            return die_usage("unknown option %s", argv[optind - 1]);
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct cli c;
    struct af_suite *s = NULL;
    struct af_err err;
    char *suite_path = NULL, *tried = NULL;
    int code, first_pos;
    size_t i;

    memset(&c, 0, sizeof(c));
    c.color = -1;
    af_params_init(&c.vars, 256);
    af_err_clear(&err);

    if (argc < 2) {
        usage(stderr);
        code = AF_PROBE_EXIT_USAGE;
        goto out;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("authprobe %s\n", PACKAGE_VERSION);
        code = AF_PROBE_EXIT_OK;
        goto out;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        code = AF_PROBE_EXIT_OK;
        goto out;
    }
    c.cmd = argv[1];
    if (strcmp(c.cmd, "mint") == 0) {
        /* Its own options (docs/admin.md); see probe_mint.h. */
        code = af_probe_cmd_mint(argc - 1, argv + 1);
        goto out;
    }
    code = parse_args(&c, argc - 1, argv + 1);
    if (code != 0) {
        code = code < 0 ? AF_PROBE_EXIT_OK : code;
        goto out;
    }
    first_pos = optind + 1; /* argv index of the first positional after the command */
    if (strcmp(c.cmd, "as") == 0 || strcmp(c.cmd, "rs") == 0 || strcmp(c.cmd, "rp") == 0 ||
        strcmp(c.cmd, "api") == 0) {
        if (first_pos < argc) {
            code = die_usage("%s takes no SUITE argument (got %s)", c.cmd, argv[first_pos]);
            goto out;
        }
        c.suite_arg = c.cmd; /* the shipped suite of that name */
        if (c.target == NULL) {
            code = die_usage("%s needs %s PROFILE", c.cmd,
                             strcmp(c.cmd, "rp") == 0 ? "--app" : "--target");
            goto out;
        }
    } else if (strcmp(c.cmd, "run") == 0 || strcmp(c.cmd, "list") == 0) {
        if (first_pos >= argc) {
            code = die_usage("%s needs a SUITE", c.cmd);
            goto out;
        }
        if (first_pos + 1 < argc) {
            code = die_usage("unexpected argument %s", argv[first_pos + 1]);
            goto out;
        }
        c.suite_arg = argv[first_pos];
    } else {
        code = die_usage("unknown command \"%s\" (run, as, rs, rp, api, list, mint)", c.cmd);
        goto out;
    }
    suite_path = find_suite(&c, c.suite_arg, &tried);
    if (suite_path == NULL) {
        code = AF_PROBE_EXIT_USAGE;
        goto out;
    }
    if (tried != NULL) {
        /* a bare name that is in none of the suite folders */
        code = die_usage("no suite \"%s\": not a file, and no %s.json in %s", c.suite_arg,
                         c.suite_arg, tried);
        goto out;
    }
    if (af_suite_load_file(suite_path, &s, &err) != AF_OK) {
        fprintf(stderr, "authprobe: %s\n", err.msg);
        code = AF_PROBE_EXIT_USAGE;
        goto out;
    }
    if (strcmp(c.cmd, "list") == 0)
        code = cmd_list(&c, s);
    else
        code = cmd_run(&c, s);
out:
    af_suite_free(s);
    free(suite_path);
    free(tried);
    for (i = 0; i < c.npatbuf; i++)
        free(c.patbuf[i]);
    af_params_free(&c.vars);
    return code;
}
