/*
 * cmd_mint.c - `authprobe mint`: build a mint request from the command line,
 * POST it to authflowd's admin API (/admin/tokens) over the probe's HTTP
 * client, and print the token (docs/admin.md).
 *
 * Everything a token can be is decided by the server; this side only
 * turns options into the JSON request and the answer into an exit status.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authflow/probe_mint.h"
#include "authflow/proto.h"
#include "probe/probe_int.h"

#define MINT_DEFAULT_ADMIN "http://127.0.0.1:9001"
#define MINT_TIMEOUT_MS    10000
#define MINT_MAX_BODY      (1024 * 1024)
/* Options without a short form get values from here up. */
#define OPT_BASE 0x100

enum {
    EXIT_MINTED = 0,
    EXIT_REFUSED = 1,
    EXIT_USAGE = 2,
    EXIT_UNREACHABLE = 3,
};

/* One flag per defect: --expired -> "expired". */
static const struct {
    const char *option;
    const char *defect;
} defect_opts[] = {
    {"expired", AF_DEFECT_N_EXPIRED},
    {"not-yet-valid", AF_DEFECT_N_NOT_YET_VALID},
    {"wrong-aud", AF_DEFECT_N_WRONG_AUD},
    {"wrong-iss", AF_DEFECT_N_WRONG_ISS},
    {"bad-signature", AF_DEFECT_N_BAD_SIGNATURE},
    {"alg-none", AF_DEFECT_N_ALG_NONE},
    {"alg-none-mixed-case", AF_DEFECT_N_ALG_NONE_MIXED_CASE},
    {"hs256-public-key", AF_DEFECT_N_HS256_PUBLIC_KEY},
    {"unknown-kid", AF_DEFECT_N_UNKNOWN_KID},
    {"wrong-typ", AF_DEFECT_N_WRONG_TYP},
    {"no-scope", AF_DEFECT_N_NO_SCOPE},
    {"revoked", AF_DEFECT_N_REVOKED},
    {"no-exp", AF_DEFECT_N_NO_EXP},
    {"exp-string", AF_DEFECT_N_EXP_STRING},
    {"aud-null", AF_DEFECT_N_AUD_NULL},
    {"aud-true", AF_DEFECT_N_AUD_TRUE},
    {"nbf-string", AF_DEFECT_N_NBF_STRING},
};
#define NDEFECT_OPTS (sizeof(defect_opts) / sizeof(defect_opts[0]))

enum {
    OPT_ADMIN = OPT_BASE,
    OPT_SECRET,
    OPT_USER,
    OPT_NO_USER,
    OPT_CLIENT,
    OPT_SCOPE,
    OPT_AUD,
    OPT_TTL,
    OPT_ALG,
    OPT_CLAIM,
    OPT_JSON,
    OPT_HELP,
    OPT_DEFECT, /* OPT_DEFECT + i: defect_opts[i] */
};

static void usage(FILE *f)
{
    size_t i;
    fprintf(f,
            "Usage: authprobe mint [OPTIONS]\n"
            "Ask authflowd's admin API for an access token and print it.\n\n"
            "  --admin URL        the admin API (default: $" AF_ADMIN_ENV_URL
            ", else " MINT_DEFAULT_ADMIN ")\n"
            "  --secret S         its Bearer secret (default: $" AF_ADMIN_ENV_SECRET ")\n"
            "  --user NAME        username or sub (default: the provider's default user)\n"
            "  --no-user          the client's own token (sub = client_id, as client_credentials)\n"
            "  --client ID        client_id (default: the first configured client)\n"
            "  --scope \"A B\"      the scope (default: all the client's scopes)\n"
            "  --aud AUD          the audience; repeat for several (default: the client's)\n"
            "  --ttl SECONDS      lifetime (default: lifetimes.access_token)\n"
            "  --alg ALG          signed by the published key of this alg (default: the\n"
            "                     signing key)\n"
            "  --claim K=V        an extra claim; V is JSON when it parses, else a string;\n"
            "                     repeatable\n"
            "  --json             print the whole response (token, header, claims, defects)\n"
            "  -h, --help         print this help\n\n"
            "Defects (combine as needed):\n");
    for (i = 0; i < NDEFECT_OPTS; i++)
        fprintf(f, "  --%s\n", defect_opts[i].option);
    fprintf(f, "\nExit: 0 minted, 1 the admin API refused, 2 usage error, 3 unreachable.\n");
}

/* add_claim: "k=v" into claims; v as JSON when it parses (42, true,
 * ["a"]), else as a string. false (message printed) on a bad argument. */
static bool add_claim(json_t *claims, const char *arg)
{
    const char *eq = strchr(arg, '=');
    char *name;
    json_t *v;
    bool ok = false;

    if (eq == NULL || eq == arg) {
        fprintf(stderr, "authprobe mint: --claim %s: expected NAME=VALUE\n", arg);
        return false;
    }
    name = strndup(arg, (size_t)(eq - arg));
    if (name == NULL)
        return false;
    if (json_object_get(claims, name) != NULL) {
        fprintf(stderr, "authprobe mint: --claim %s: given twice\n", name);
        goto out;
    }
    v = json_loads(eq + 1, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    if (v == NULL)
        v = json_string(eq + 1);
    if (v == NULL) {
        fprintf(stderr, "authprobe mint: --claim %s: not UTF-8\n", name);
        goto out;
    }
    ok = json_object_set_new(claims, name, v) == 0;
out:
    free(name);
    return ok;
}

/* parse_ttl: a whole positive number of seconds; the server checks the
 * upper bound. */
static bool parse_ttl(const char *s, json_int_t *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v < 1)
        return false;
    *out = (json_int_t)v;
    return true;
}

struct mint_args {
    const char *admin, *secret;
    bool json_out;
    json_t *req; /* owned: the request body */
};

/* parse_args: options into a; EXIT_MINTED to go on, else the exit status
 * (help printed: -1). */
static int parse_args(int argc, char **argv, struct mint_args *a)
{
    struct option opts[NDEFECT_OPTS + 14];
    json_t *defects = json_array(), *claims = json_object(), *auds = json_array();
    size_t i, n = 0;
    int c, ret = EXIT_USAGE;
    json_int_t ttl;

    const struct option fixed[] = {
        {"admin", required_argument, NULL, OPT_ADMIN},
        {"secret", required_argument, NULL, OPT_SECRET},
        {"user", required_argument, NULL, OPT_USER},
        {"no-user", no_argument, NULL, OPT_NO_USER},
        {"client", required_argument, NULL, OPT_CLIENT},
        {"scope", required_argument, NULL, OPT_SCOPE},
        {"aud", required_argument, NULL, OPT_AUD},
        {"ttl", required_argument, NULL, OPT_TTL},
        {"alg", required_argument, NULL, OPT_ALG},
        {"claim", required_argument, NULL, OPT_CLAIM},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
    };
    for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        opts[n++] = fixed[i];
    for (i = 0; i < NDEFECT_OPTS; i++)
        opts[n++] = (struct option){defect_opts[i].option, no_argument, NULL, OPT_DEFECT + (int)i};
    opts[n] = (struct option){NULL, 0, NULL, 0};

    a->req = json_object();
    if (a->req == NULL || defects == NULL || claims == NULL || auds == NULL) {
        fprintf(stderr, "authprobe mint: out of memory\n");
        goto out;
    }
    optind = 0; /* GNU: restart the scan, whatever parsed argv before */
    opterr = 0; /* our own message names the subcommand */
    for (;;) {
        const char *member = NULL;
        c = getopt_long(argc, argv, "h", opts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case OPT_ADMIN:
            a->admin = optarg;
            break;
        case OPT_SECRET:
            a->secret = optarg;
            break;
        case OPT_USER:
            member = AF_MINT_USER;
            break;
        case OPT_NO_USER:
            if (json_object_get(a->req, AF_MINT_USER) != NULL) {
                fprintf(stderr, "authprobe mint: --no-user given twice (or with --user)\n");
                goto out;
            }
            if (json_object_set_new(a->req, AF_MINT_USER, json_null()) != 0)
                goto out;
            break;
        case OPT_CLIENT:
            member = AF_MINT_CLIENT;
            break;
        case OPT_SCOPE:
            member = AF_MINT_SCOPE;
            break;
        case OPT_AUD:
            if (json_array_append_new(auds, json_string(optarg)) != 0) {
                fprintf(stderr, "authprobe mint: --aud: not UTF-8\n");
                goto out;
            }
            break;
        case OPT_TTL:
            if (!parse_ttl(optarg, &ttl)) {
                fprintf(stderr, "authprobe mint: --ttl %s: expected a number of seconds\n", optarg);
                goto out;
            }
            if (json_object_set_new(a->req, AF_MINT_TTL, json_integer(ttl)) != 0)
                goto out;
            break;
        case OPT_ALG:
            member = AF_MINT_ALG;
            break;
        case OPT_CLAIM:
            if (!add_claim(claims, optarg))
                goto out;
            break;
        case OPT_JSON:
            a->json_out = true;
            break;
        case 'h':
            usage(stdout);
            ret = -1;
            goto out;
        default:
            if (c >= OPT_DEFECT && c < OPT_DEFECT + (int)NDEFECT_OPTS) {
                if (json_array_append_new(defects,
                                          json_string(defect_opts[c - OPT_DEFECT].defect)) != 0)
                    goto out;
                break;
            }
            fprintf(stderr, "authprobe mint: unknown option or missing value: %s\n",
                    argv[optind - 1]);
            usage(stderr);
            goto out;
        }
        /* the user, client and scope options: one string member each */
        if (member != NULL) {
            if (json_object_get(a->req, member) != NULL) {
                fprintf(stderr, "authprobe mint: --%s given twice (or with --no-user)\n", member);
                goto out;
            }
            if (json_object_set_new(a->req, member, json_string(optarg)) != 0) {
                fprintf(stderr, "authprobe mint: --%s: not UTF-8\n", member);
                goto out;
            }
        }
    }
    if (optind < argc) {
        fprintf(stderr, "authprobe mint: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        goto out;
    }
    if ((json_array_size(defects) > 0 && json_object_set(a->req, AF_MINT_DEFECTS, defects) != 0) ||
        (json_object_size(claims) > 0 && json_object_set(a->req, AF_MINT_CLAIMS, claims) != 0) ||
        (json_array_size(auds) == 1 &&
         json_object_set(a->req, AF_MINT_AUD, json_array_get(auds, 0)) != 0) ||
        (json_array_size(auds) > 1 && json_object_set(a->req, AF_MINT_AUD, auds) != 0)) {
        fprintf(stderr, "authprobe mint: out of memory\n");
        goto out;
    }
    if (a->admin == NULL)
        a->admin = getenv(AF_ADMIN_ENV_URL);
    if (a->admin == NULL || a->admin[0] == '\0')
        a->admin = MINT_DEFAULT_ADMIN;
    if (a->secret == NULL)
        a->secret = getenv(AF_ADMIN_ENV_SECRET);
    if (a->secret != NULL && a->secret[0] == '\0')
        a->secret = NULL;
    if (strncasecmp(a->admin, "http://", 7) != 0 && strncasecmp(a->admin, "https://", 8) != 0) {
        fprintf(stderr, "authprobe mint: --admin %s: expected an http:// or https:// URL\n",
                a->admin);
        goto out;
    }
    ret = EXIT_MINTED;
out:
    json_decref(defects);
    json_decref(claims);
    json_decref(auds);
    return ret;
}

/* report: the exit status for the answer in hop, after printing the token
 * (or the response) or the error. */
static int report(struct af_hop *hop, const char *url, bool json_out)
{
    const json_t *body = af_hop_json(hop);
    const char *token = json_string_value(json_object_get(body, AF_P_ACCESS_TOKEN));
    const char *error = json_string_value(json_object_get(body, AF_P_ERROR));
    const char *desc = json_string_value(json_object_get(body, AF_P_ERROR_DESCRIPTION));

    if (hop->status == 0) {
        fprintf(stderr, "authprobe mint: cannot reach the admin API at %s: %s\n", url,
                hop->transport_error ? hop->transport_error : "no answer");
        return EXIT_UNREACHABLE;
    }
    if (hop->status != 200 || token == NULL) {
        if (error != NULL)
            fprintf(stderr, "authprobe mint: the admin API answered HTTP %ld: %s%s%s\n",
                    hop->status, error, desc ? ": " : "", desc ? desc : "");
        else
            fprintf(stderr,
                    "authprobe mint: the admin API answered HTTP %ld without a token (is %s the "
                    "admin API?)\n",
                    hop->status, url);
        return EXIT_REFUSED;
    }
    if (json_out)
        fwrite(hop->body.p, 1, hop->body.len, stdout);
    else
        fputs(token, stdout);
    fputc('\n', stdout);
    return fflush(stdout) == 0 ? EXIT_MINTED : EXIT_REFUSED;
}

int af_probe_cmd_mint(int argc, char **argv)
{
    struct mint_args a;
    struct af_http_opts ho = {MINT_TIMEOUT_MS, MINT_MAX_BODY, false, NULL};
    struct af_http_req hr;
    struct af_http *http = NULL;
    struct af_hop hop;
    struct af_buf url, auth;
    struct af_err err;
    char *body = NULL;
    size_t len;
    int ret;

    memset(&a, 0, sizeof(a));
    memset(&hr, 0, sizeof(hr));
    af_hop_init(&hop);
    af_err_clear(&err);
    af_buf_init(&url, 8192);
    af_buf_init(&auth, 8192);
    af_params_init(&hr.headers, 8);
    ret = parse_args(argc, argv, &a);
    if (ret != EXIT_MINTED) {
        ret = ret < 0 ? EXIT_MINTED : ret;
        goto out;
    }
    ret = EXIT_USAGE;
    len = strlen(a.admin);
    while (len > 0 && a.admin[len - 1] == '/')
        len--;
    body = json_dumps(a.req, JSON_COMPACT);
    if (body == NULL || af_buf_add(&url, a.admin, len) != AF_OK ||
        af_buf_adds(&url, AF_ADMIN_PATH_TOKENS) != AF_OK ||
        af_params_add(&hr.headers, AF_HDR_CONTENT_TYPE, AF_CT_JSON) != AF_OK ||
        (a.secret != NULL &&
         (af_buf_addf(&auth, AF_SCHEME_BEARER " %s", a.secret) != AF_OK ||
          af_params_add(&hr.headers, AF_HDR_AUTHORIZATION, af_buf_str(&auth)) != AF_OK))) {
        fprintf(stderr, "authprobe mint: the admin URL or secret is too long\n");
        goto out;
    }
    if (af_http_new(&ho, &http, &err) != AF_OK) {
        fprintf(stderr, "authprobe mint: %s\n", err.msg);
        ret = EXIT_UNREACHABLE;
        goto out;
    }
    hr.method = "POST";
    hr.url = af_buf_str(&url);
    hr.body = body;
    hr.body_len = strlen(body);
    if (af_http_send(http, &hr, &hop) != AF_OK) {
        fprintf(stderr, "authprobe mint: out of memory\n");
        ret = EXIT_REFUSED;
        goto out;
    }
    ret = report(&hop, af_buf_str(&url), a.json_out);
out:
    af_hop_clear(&hop);
    af_http_free(http);
    af_params_free(&hr.headers);
    af_buf_free(&url);
    af_buf_free(&auth);
    free(body);
    json_decref(a.req);
    return ret;
}
