/*
 * authflowd - the authflow mock OAuth 2.0 / OpenID Connect provider.
 *
 * Exit codes: 0 clean stop, 1 runtime failure, 2 usage or config error.
 * The first line on stdout is the issuer URL once the server listens, so a
 * script can start it on port 0 and read where it is; --ready-file writes
 * the same URL to a file (atomically, via rename). With the admin API on,
 * a banner line "#   admin:     URL" follows, and the ready file gets the
 * admin URL as its second line.
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include "authflow/cfg.h"
#include "authflow/log.h"
#include "authflow/server.h"

#ifndef AF_SYSCONFDIR
#define AF_SYSCONFDIR "/etc"
#endif

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

static void usage(FILE *f)
{
    fprintf(f, "Usage: authflowd [OPTIONS]\n"
               "A strict mock OAuth 2.0 / OpenID Connect provider for tests.\n\n"
               "  -c, --config FILE      configuration (JSON); see docs/config.md\n"
               "  -l, --listen ADDR:PORT listen address (port 0 picks a free port)\n"
               "  -i, --issuer URL       issuer URL, when users reach the server by another name\n"
               "      --admin-listen ADDR:PORT\n"
               "                         serve the admin API (tokens, scenarios, ledger;\n"
               "                         docs/admin.md) there;\n"
               "                         overrides admin.listen and admin.enabled\n"
               "      --ready-file PATH  write the issuer URL (and the admin URL on a second\n"
               "                         line) to PATH once listening\n"
               "      --check-config     load and validate the configuration, then exit\n"
               "  -v, --log-level LEVEL  error, warn, info or debug (default: info: one line\n"
               "                         per request; refusals at warn, with the reason)\n"
               "      --log-format FMT   text or json (one JSON object a line) (default: text)\n"
               "  -V, --version          print the version and exit\n"
               "  -h, --help             print this help and exit\n\n"
               "The first line written to stdout is the issuer URL; with the admin API on, a\n"
               "later line reads \"#   admin:     URL\".\n"
               "SIGTERM or SIGINT stop the server after in-flight requests finish.\n");
}

/* write_ready_file: url, then admin_url (when not NULL), one per line. */
static int write_ready_file(const char *path, const char *url, const char *admin_url)
{
    char tmp[4096];
    FILE *f;
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return -1;
    f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "%s\n", url);
    if (admin_url != NULL)
        fprintf(f, "%s\n", admin_url);
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}

static void print_banner(const struct af_config *cfg, const struct af_server *srv)
{
    const char *issuer = af_server_issuer(srv), *admin_url = af_server_admin_url(srv);
    size_t i;
    const struct af_cfg_client *demo = NULL;
    printf("%s\n", issuer);
    for (i = 0; i < cfg->nclients && demo == NULL; i++) {
        if (cfg->clients[i].secret != NULL &&
            (cfg->clients[i].grant_types & AF_GRANT_AUTHORIZATION_CODE))
            demo = &cfg->clients[i];
    }
    printf("# authflowd %s is ready\n", PACKAGE_VERSION);
    printf("#   discovery: %s/.well-known/openid-configuration\n", issuer);
    if (admin_url != NULL)
        printf("#   admin:     %s (/admin/tokens, /admin/scenarios, /admin/ledger, "
               "/admin/clients, /admin/users)\n",
               admin_url);
    /* several issuers (docs/issuers.md): each its path under this one */
    for (i = 0; i < cfg->nissuers; i++) {
        printf("#   issuer:    %s", af_server_issuer_at(srv, i));
        if (admin_url != NULL)
            printf(" (admin API: %s%s/admin/...)", admin_url, cfg->issuers[i].path);
        printf("\n");
    }
    if (cfg->tls_generate)
        printf("#   tls:       clients trust %s (curl --cacert, NODE_EXTRA_CA_CERTS)\n",
               cfg->tls_ca_file);
    if (demo != NULL) {
        printf("#   client:    client_id=%s client_secret=%s\n", demo->id, demo->secret);
        if (demo->redirect_uris.n > 0)
            printf("#   try:       curl -i '%s/authorize?response_type=code&client_id=%s"
                   "&redirect_uri=%s&scope=openid&state=xyz'\n",
                   issuer, demo->id, demo->redirect_uris.v[0]);
    }
    fflush(stdout);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"issuer", required_argument, NULL, 'i'},
                                         {"ready-file", required_argument, NULL, 'r'},
                                         {"admin-listen", required_argument, NULL, 'A'},
                                         {"check-config", no_argument, NULL, 'C'},
                                         {"log-level", required_argument, NULL, 'v'},
                                         {"log-format", required_argument, NULL, 'F'},
                                         {"version", no_argument, NULL, 'V'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *config = NULL, *ready_file = NULL;
    struct af_server_opts sopts = {NULL, NULL, NULL};
    struct af_config *cfg = NULL;
    struct af_server *srv = NULL;
    struct af_err err;
    af_log_level lvl = AF_LOG_INFO;
    af_log_format fmt = AF_LOG_TEXT;
    int check_only = 0, c, sig, ret = 0;
    sigset_t set;

    af_err_clear(&err);
    while ((c = getopt_long(argc, argv, "c:l:i:v:Vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'l':
            sopts.listen = optarg;
            break;
        case 'i':
            sopts.issuer = optarg;
            break;
        case 'r':
            ready_file = optarg;
            break;
        case 'A':
            sopts.admin_listen = optarg;
            break;
        case 'C':
            check_only = 1;
            break;
        case 'v':
            if (af_log_level_parse(optarg, &lvl) != AF_OK) {
                fprintf(stderr, "authflowd: --log-level: unknown level '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'F':
            if (af_log_format_parse(optarg, &fmt) != AF_OK) {
                fprintf(stderr, "authflowd: --log-format: unknown format '%s' (text or json)\n",
                        optarg);
                return EXIT_USAGE;
            }
            break;
        case 'V':
            printf("authflowd %s\n", PACKAGE_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "authflowd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return EXIT_USAGE;
    }
    af_log_set_level(lvl);
    af_log_set_format(fmt);
    if (config == NULL && access(AF_SYSCONFDIR "/authflow/authflowd.json", R_OK) == 0)
        config = AF_SYSCONFDIR "/authflow/authflowd.json";
    if (config == NULL) {
        fprintf(stderr, "authflowd: no configuration: pass --config FILE "
                        "(conf/authflowd.json in the source tree is a good start)\n");
        return EXIT_USAGE;
    }
    if (af_cfg_load_file(config, &cfg, &err) != AF_OK) {
        fprintf(stderr, "authflowd: %s\n", err.msg);
        return EXIT_USAGE;
    }
    if (check_only) {
        /* what only the server knows (scenario names, what the key files
         * hold) is a config error too */
        if (af_server_check_config(cfg, &err) != AF_OK) {
            fprintf(stderr, "authflowd: %s\n", err.msg);
            ret = EXIT_USAGE;
            goto out;
        }
        printf("%s: OK\n", config);
        goto out;
    }

    /* Block the stop signals before any thread starts, so that they all
     * inherit the mask and only sigwait() below receives them. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (af_server_start(cfg, &sopts, &srv, &err) != AF_OK) {
        fprintf(stderr, "authflowd: %s\n", err.msg);
        /* The start makes the server's config checks as it goes; asking
         * them again only after a failure tells a config error (exit 2)
         * from a runtime one, without reading every key file twice on
         * each start. */
        ret = af_server_check_config(cfg, NULL) != AF_OK ? EXIT_USAGE : EXIT_RUNTIME;
        goto out;
    }
    print_banner(cfg, srv);
    af_log_info("listening on port %u, issuer %s", af_server_port(srv), af_server_issuer(srv));
    if (af_server_admin_url(srv) != NULL)
        af_log_info("admin API on %s%s", af_server_admin_url(srv),
                    cfg->admin_secret ? " (Bearer secret required)" : "");
    if (ready_file != NULL &&
        write_ready_file(ready_file, af_server_issuer(srv), af_server_admin_url(srv)) != 0) {
        fprintf(stderr, "authflowd: cannot write the ready file %s\n", ready_file);
        ret = EXIT_RUNTIME;
        goto out;
    }
    if (sigwait(&set, &sig) == 0)
        af_log_info("signal %d: stopping", sig);
out:
    af_server_stop(srv);
    af_cfg_free(cfg);
    return ret;
}
