/*
 * cfg.c - authflowd's configuration, read from JSON against tables of keys.
 *
 * Each JSON object of the config has a table (struct cfg_table): one row per
 * key with its name, type, bounds, default and target (an offset into the
 * struct the object fills), plus a validator for the checks that involve
 * several keys. The walk is generic: unknown keys are refused (with a "did
 * you mean" suggestion), types and bounds come from the row, defaults are
 * applied before the object is read, and the validator runs last. A
 * validator returns NULL or a `const char *` message and says, through a
 * struct cfg_where, which key the message is about; the walk turns that into
 * "FILE:LINE:COLUMN: KEY.PATH: message" with the position found by
 * jsonpos.c. Freeing is table-driven too, so a half-read config is released
 * by the same code as a complete one.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "authflow/buf.h"
#include "authflow/cfg.h"
#include "authflow/jsonpos.h"
#include "authflow/proto.h"
#include "authflow/util.h"

/* ---- tables ---- */

enum cfg_type {
    T_STRING,    /* char *, owned */
    T_BOOL,      /* bool */
    T_LONG,      /* long, min..max */
    T_SIZE,      /* size_t, min..max */
    T_UINT,      /* unsigned, min..max */
    T_ENUM,      /* an int-sized enum, read from one string */
    T_FLAGS,     /* unsigned bit set, read from an array of strings */
    T_STRLIST,   /* struct af_strlist, read from an array of strings */
    T_SPACELIST, /* struct af_strlist, read from one space-separated string */
    T_OBJECT,    /* json_t *, an owned reference to any object */
    T_GROUP,     /* a nested object whose keys fill the same struct */
    T_ARRAY,     /* an array of objects, each filling one struct of sub->size */
};

#define F_REQUIRED 0x1u /* absent is an error */
#define F_NULLABLE 0x2u /* null is accepted and leaves the target NULL */
#define F_NONEMPTY 0x4u /* "" and [] are errors */
/* T_STRLIST: a single string stands for a list of one (RFC 7519 §4.1.3 "aud") */
#define F_ONE_OR_MANY 0x8u

/* Enum <-> string. A row with refused set names a value that is known but
 * turned down, with the reason. */
struct cfg_enum {
    int val;
    const char *str;
    const char *refused;
};

struct cfg_table;

struct cfg_row {
    const char *name;
    enum cfg_type type;
    unsigned flags;
    long min, max;                       /* T_LONG, T_SIZE, T_UINT */
    long def;                            /* T_BOOL, integers, T_ENUM, T_FLAGS */
    const char *def_str;                 /* T_STRING, T_SPACELIST; NULL: none */
    const struct cfg_enum *en;           /* T_ENUM, T_FLAGS */
    const char *(*check)(const char *s); /* T_STRING, and each item of a list */
    const struct cfg_table *sub;         /* T_GROUP, T_ARRAY */
    size_t off;                          /* the target in the struct */
    size_t off_n;                        /* T_ARRAY: the element count (size_t) */
};

/* Where a validator's message points: steps below the object validated. */
struct cfg_where {
    struct af_jseg seg[6]; /* an issuer's element, then up to four steps in it */
    size_t n;
    bool at_key; /* point at the member name rather than its value */
};

struct cfg_ctx;

/* Runs once all keys of obj were read into base; NULL when it is fine,
 * else the message (static, or formatted into c->msg). */
typedef const char *(*cfg_validator)(struct cfg_ctx *c, const json_t *obj, void *base,
                                     struct cfg_where *w);

struct cfg_table {
    const struct cfg_row *rows; /* ends with a row whose name is NULL */
    size_t size;                /* the struct one object fills (array items) */
    cfg_validator validate;     /* may be NULL */
};

struct cfg_ctx {
    const char *source; /* the name used in messages */
    const char *text;   /* the JSON text, for positions */
    size_t len;
    const char *dir; /* folder for relative pem_file; NULL: keep as given */
    struct af_jseg path[AF_JPATH_MAX];
    size_t depth;
    af_rc vrc; /* what a validator's message means (AF_ERR_NOMEM or INVALID) */
    char msg[320];
    char qbuf[128];
    struct af_err *err;
};

_Static_assert(sizeof(af_alg) == sizeof(int), "af_alg is stored as an int");
_Static_assert(sizeof(af_client_auth) == sizeof(int), "af_client_auth is stored as an int");

/* ---- value checks: NULL when s is fine, else what is wrong with it ---- */

static bool is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 3986 §2: unreserved, gen-delims, sub-delims, and %HH. */
static const char *check_uri_chars(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '%') {
            if (!is_hex(p[1]) || !is_hex(p[2]))
                return "malformed percent-encoding (RFC 3986 §2.1)";
            p += 2;
        } else if (!(is_alpha(*p) || is_digit(*p) || strchr("-._~:/?#[]@!$&'()*+,;=", *p))) {
            return "contains a character not allowed in a URI (RFC 3986 §2)";
        }
    }
    return NULL;
}

/* The length of the scheme including its ':' (RFC 3986 §3.1), or 0. */
static size_t scheme_len(const char *s)
{
    size_t i = 1;
    if (!is_alpha((unsigned char)s[0]))
        return 0;
    while (is_alpha((unsigned char)s[i]) || is_digit((unsigned char)s[i]) || s[i] == '+' ||
           s[i] == '-' || s[i] == '.')
        i++;
    return s[i] == ':' ? i + 1 : 0;
}

/* redirect_uris and post_logout_redirect_uris: RFC 6749 §3.1.2 wants an
 * absolute URI (RFC 3986 §4.3) without a fragment. Custom schemes (native
 * apps, RFC 8252 §7.1) are fine; http and https need a host. */
static const char *check_redirect_uri(const char *s)
{
    size_t k = scheme_len(s);
    const char *m;

    if (k == 0)
        return "not an absolute URI";
    if (is_digit((unsigned char)s[k]))
        return "not an absolute URI (a host:port needs a scheme, e.g. http://host:port/path)";
    if (strchr(s, '#') != NULL)
        return "has a fragment (RFC 6749 §3.1.2 forbids one)";
    m = check_uri_chars(s);
    if (m != NULL)
        return m;
    if ((k == 5 && strncasecmp(s, "http:", 5) == 0) ||
        (k == 6 && strncasecmp(s, "https:", 6) == 0)) {
        if (strncmp(s + k, "//", 2) != 0 || s[k + 2] == '\0' || s[k + 2] == '/' ||
            s[k + 2] == '?' || s[k + 2] == ':')
            return "an http(s) URI needs a host";
    }
    return NULL;
}

/* The issuer (OIDC Discovery 1.0 §3, RFC 8414 §2): an http(s) URL without
 * query or fragment. Endpoints are the issuer plus a path, so it must not
 * end with '/'. */
static const char *check_issuer(const char *s)
{
    const char *host, *m;
    size_t hostlen;

    if (strncmp(s, "https://", 8) == 0)
        host = s + 8;
    else if (strncmp(s, "http://", 7) == 0)
        host = s + 7;
    else
        return "not an absolute http(s) URL (expected e.g. \"http://127.0.0.1:9000\")";
    m = check_uri_chars(s);
    if (m != NULL)
        return m;
    if (strchr(s, '?') != NULL)
        return "must not have a query (OIDC Discovery 1.0 §3)";
    if (strchr(s, '#') != NULL)
        return "must not have a fragment (OIDC Discovery 1.0 §3)";
    hostlen = strcspn(host, "/");
    if (hostlen == 0 || host[0] == ':')
        return "missing host";
    if (memchr(host, '@', hostlen) != NULL)
        return "must not contain user information";
    if (s[strlen(s) - 1] == '/')
        return "must not end with \"/\" (endpoints are the issuer plus a path)";
    return NULL;
}

/* An element of issuers: its path under the top-level issuer, appended to
 * it to make the element's issuer. One or more segments of RFC 3986
 * unreserved characters, none "." or "..", so that the issuer is a URL as
 * written and the path names one folder-like prefix a request can be
 * routed by. */
#define ISSUER_PATH_MAX 64
static const char *check_issuer_path(const char *s)
{
    const char *seg = s;

    if (s[0] != '/')
        return "must start with \"/\" (expected e.g. \"/tenant-a\")";
    if (strlen(s) > ISSUER_PATH_MAX)
        return "longer than 64 characters";
    while (*seg == '/') {
        size_t n = strspn(seg + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789-._~");
        if (n == 0)
            return seg[1] == '\0' ? "must not end with \"/\" (endpoints are the issuer plus a "
                                    "path)"
                                  : "has an empty segment or a character other than letters, "
                                    "digits, \"-\", \".\", \"_\", \"~\" and \"/\"";
        if ((n == 1 && seg[1] == '.') || (n == 2 && seg[1] == '.' && seg[2] == '.'))
            return "has a \".\" or \"..\" segment";
        seg += 1 + n;
    }
    if (*seg != '\0')
        return "has a character other than letters, digits, \"-\", \".\", \"_\", \"~\" and "
               "\"/\"";
    return NULL;
}

static const char *check_port(const char *p)
{
    unsigned long v = 0;
    size_t n = 0;

    for (; is_digit((unsigned char)p[n]) && n < 6; n++)
        v = v * 10 + (unsigned long)(p[n] - '0');
    if (n == 0 || p[n] != '\0' || n > 5 || v > 65535)
        return "bad port (expected host:port or [v6]:port, with a port from 0 to 65535)";
    return NULL;
}

/* store.prefix: printable ASCII without spaces, braces or ':' (which
 * separates the parts of a key), at most 64 bytes. */
static const char *check_store_prefix(const char *s)
{
    size_t n = strlen(s);

    if (n > 64)
        return "longer than 64 bytes";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == ':' || ch == '{' || ch == '}')
            return "only printable ASCII without spaces, ':', '{' or '}'";
    }
    return NULL;
}

/* userinfo_part: s[0..n) percent-decoded into out (cap bytes with the
 * NUL); false when malformed, too long or holding a NUL. */
static bool userinfo_part(const char *s, size_t n, char *out, size_t cap)
{
    struct af_err err;
    char *dec = NULL;
    size_t len;

    if (af_url_decode(s, n, false, &dec, &err) != AF_OK) /* an encoded NUL included */
        return false;
    len = strlen(dec);
    if (len + 1 > cap) {
        free(dec);
        return false;
    }
    memcpy(out, dec, len + 1);
    free(dec);
    return true;
}

const char *af_cfg_redis_parse(const char *url, struct af_redis_addr *out)
{
    const char *p, *at, *end, *hend, *colon;
    size_t hlen;

    memset(out, 0, sizeof(*out));
    out->port = 6379;
    if (strncmp(url, "rediss://", 9) == 0)
        return "rediss:// (TLS) is not supported: Debian 12's hiredis has no TLS; reach Redis "
               "on loopback or a private network, or through a local TLS tunnel";
    if (strncmp(url, "redis://", 8) != 0)
        return "not a Redis URL (expected redis://[:PASSWORD@]HOST[:PORT][/DB])";
    p = url + 8;
    end = p + strcspn(p, "/?#");
    if (*end == '?' || *end == '#')
        return "a Redis URL takes no query or fragment (expected "
               "redis://[:PASSWORD@]HOST[:PORT][/DB])";
    at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@')
            at = q;
    if (at != NULL) {
        const char *sep = memchr(p, ':', (size_t)(at - p));
        if (sep == NULL)
            return "the part before '@' needs a ':' (redis://:PASSWORD@HOST or "
                   "redis://USER:PASSWORD@HOST)";
        if (!userinfo_part(p, (size_t)(sep - p), out->user, sizeof(out->user)) ||
            !userinfo_part(sep + 1, (size_t)(at - sep - 1), out->password, sizeof(out->password)))
            return "bad user or password (percent-encoding, or longer than 255 bytes)";
        p = at + 1;
    }
    if (*p == '[') {
        hend = memchr(p, ']', (size_t)(end - p));
        if (hend == NULL)
            return "unclosed \"[\" in the host";
        colon = hend + 1 < end ? hend + 1 : NULL;
        if (colon != NULL && *colon != ':')
            return "expected ':' or '/' after the IPv6 address";
        p++;
        hlen = (size_t)(hend - p);
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        hend = colon != NULL ? colon : end;
        hlen = (size_t)(hend - p);
    }
    if (hlen == 0)
        return "missing host (expected redis://HOST[:PORT][/DB])";
    if (hlen > AF_REDIS_HOST_MAX)
        return "host longer than 255 bytes";
    memcpy(out->host, p, hlen);
    out->host[hlen] = '\0';
    for (size_t i = 0; i < hlen; i++) {
        unsigned char ch = (unsigned char)out->host[i];
        if (!(is_alpha(ch) || is_digit(ch) || ch == '.' || ch == '-' || ch == ':' || ch == '_'))
            return "bad character in the host";
    }
    if (colon != NULL) {
        unsigned long v = 0;
        const char *q = colon + 1;
        if (q == end)
            return "empty port";
        for (; q < end; q++) {
            if (!is_digit((unsigned char)*q) || (v = v * 10 + (unsigned long)(*q - '0')) > 65535)
                return "bad port (expected 1 to 65535)";
        }
        if (v == 0)
            return "bad port (expected 1 to 65535)";
        out->port = (unsigned)v;
    }
    if (*end == '/' && end[1] != '\0') {
        unsigned long v = 0;
        const char *q = end + 1;
        for (; *q != '\0'; q++) {
            if (!is_digit((unsigned char)*q) || (v = v * 10 + (unsigned long)(*q - '0')) > 65535)
                return "bad database number after '/' (expected 0, 1, ...)";
        }
        out->db = (unsigned)v;
    }
    return NULL;
}

/* "host:port" (a name or IPv4 address) or "[v6]:port". */
static const char *check_listen(const char *s)
{
    char addr[INET6_ADDRSTRLEN + 1];
    unsigned char bin[sizeof(struct in6_addr)];
    const char *colon;
    size_t hostlen, i;
    bool dotted = true;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL)
            return "unclosed \"[\" (expected [v6]:port)";
        if ((size_t)(close - s - 1) >= sizeof(addr))
            return "not an IPv6 address (expected [v6]:port)";
        memcpy(addr, s + 1, (size_t)(close - s - 1));
        addr[close - s - 1] = '\0';
        if (inet_pton(AF_INET6, addr, bin) != 1)
            return "not an IPv6 address (expected [v6]:port)";
        if (close[1] != ':')
            return "missing port (expected [v6]:port)";
        return check_port(close + 2);
    }
    colon = strrchr(s, ':');
    if (colon == NULL)
        return "missing port (expected host:port or [v6]:port)";
    hostlen = (size_t)(colon - s);
    if (hostlen == 0)
        return "missing host (expected host:port, e.g. \"127.0.0.1:9000\")";
    if (memchr(s, ':', hostlen) != NULL)
        return "an IPv6 address needs brackets (expected [v6]:port)";
    for (i = 0; i < hostlen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!is_alpha(c) && !is_digit(c) && c != '.' && c != '-')
            return "bad host name (expected letters, digits, '.' and '-', or an IPv4 address)";
        if (!is_digit(c) && c != '.')
            dotted = false;
    }
    if (dotted) {
        if (hostlen >= sizeof(addr))
            return "not an IPv4 address";
        memcpy(addr, s, hostlen);
        addr[hostlen] = '\0';
        if (inet_pton(AF_INET, addr, bin) != 1)
            return "not an IPv4 address";
    }
    return check_port(colon + 1);
}

static const char *check_vschar(const char *s);

/* Claims the server sets itself in every token it issues. */
static const char *const reserved_claims[] = {
    AF_C_SUB,   AF_C_ISS,       AF_C_AUD,   AF_C_EXP,     AF_C_NBF,    AF_C_IAT,
    AF_C_JTI,   AF_C_AUTH_TIME, AF_C_NONCE, AF_C_AT_HASH, AF_C_C_HASH, AF_C_AZP,
    AF_C_SCOPE, AF_C_CLIENT_ID, AF_C_SID,   NULL,
};

/* A claim copied into access tokens (clients[].access_token_claims): not
 * one the server sets itself, and printable. */
static const char *check_claim_copy(const char *s)
{
    for (size_t i = 0; reserved_claims[i] != NULL; i++) {
        if (strcmp(s, reserved_claims[i]) == 0)
            return "set by the server in each token: it cannot be copied from the user";
    }
    return check_vschar(s);
}

/* A name a generated certificate can carry (tls.names): an IP address, or
 * a DNS name of letters, digits, '-' and '.', optionally "*." first. */
static const char *check_cert_name(const char *s)
{
    unsigned char bin[sizeof(struct in6_addr)];
    const char *p = strncmp(s, "*.", 2) == 0 ? s + 2 : s;

    if (inet_pton(AF_INET, s, bin) == 1 || inet_pton(AF_INET6, s, bin) == 1)
        return NULL;
    if (*p == '\0' || *p == '.')
        return "not a DNS name or IP address";
    for (; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (!is_alpha(c) && !is_digit(c) && c != '.' && c != '-')
            return "not a DNS name or IP address (letters, digits, '.', '-', a leading \"*.\")";
    }
    return NULL;
}

/* RFC 6749 Appendix A: client_id, client_secret are VSCHAR (%x20-7E). */
static const char *check_vschar(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p > 0x7E)
            return "contains a character outside %x20-7E (RFC 6749 Appendix A)";
    }
    return NULL;
}

/* OIDC Core §2: sub is at most 255 ASCII characters. */
static const char *check_sub(const char *s)
{
    if (strlen(s) > 255)
        return "longer than 255 characters (OIDC Core §2)";
    return check_vschar(s);
}

/* Usernames and passwords may be any Unicode without CR and LF (RFC 6749
 * Appendix A.15, A.16); control characters are refused as a whole. */
static const char *check_no_ctl(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7F)
            return "contains a control character";
    }
    return NULL;
}

/* RFC 6749 §3.3: scope-token = 1*NQCHAR. */
static const char *check_scope_token(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (!(*p == 0x21 || (*p >= 0x23 && *p <= 0x5B) || (*p >= 0x5D && *p <= 0x7E)))
            return "not a scope token (RFC 6749 §3.3 allows %x21 / %x23-5B / %x5D-7E)";
    }
    return NULL;
}

/* An access token audience (RFC 7519 §4.1.3): a StringOrURI (§2), so a
 * value with a ':' must be an absolute URI. */
static const char *check_audience(const char *s)
{
    const char *m = check_no_ctl(s);

    if (m != NULL || strchr(s, ':') == NULL)
        return m;
    if (scheme_len(s) == 0)
        return "contains ':' but is not an absolute URI (RFC 7519 §2 StringOrURI)";
    return check_uri_chars(s);
}

/* The admin secret travels as a Bearer token, so it must be a b64token
 * (RFC 6750 §2.1) for the header to carry it as it is. */
static const char *check_b64token(const char *s)
{
    const char *p = s;

    while (is_alpha((unsigned char)*p) || is_digit((unsigned char)*p) ||
           (*p != '\0' && strchr("-._~+/", *p) != NULL))
        p++;
    if (p == s)
        return "not a Bearer token (RFC 6750 §2.1 allows letters, digits and -._~+/ then '=')";
    while (*p == '=')
        p++;
    if (*p != '\0')
        return "not a Bearer token (RFC 6750 §2.1 allows letters, digits and -._~+/ then '=')";
    return NULL;
}

/* ---- enums ---- */

static const struct cfg_enum alg_enum[] = {
    {AF_ALG_RS256, "RS256", NULL},
    {AF_ALG_PS256, "PS256", NULL},
    {AF_ALG_ES256, "ES256", NULL},
    {AF_ALG_EDDSA, "EdDSA", NULL},
    {AF_ALG_HS256, "HS256",
     "its shared secret could not be published in the JWKS, so no client could verify"},
    {AF_ALG_NONE, "none", "unsigned tokens are never issued"},
    {0, NULL, NULL},
};

static const struct cfg_enum persona_enum[] = {
    {AF_PERSONA_STANDARD, AF_PERSONA_N_STANDARD, NULL},
    {AF_PERSONA_TIKTOK, AF_PERSONA_N_TIKTOK, NULL},
    {AF_PERSONA_GITHUB, AF_PERSONA_N_GITHUB, NULL},
    {AF_PERSONA_GOOGLE, AF_PERSONA_N_GOOGLE, NULL},
    {0, NULL, NULL},
};

static const struct cfg_enum auth_enum[] = {
    {AF_CLIENT_AUTH_BASIC, AF_AUTH_BASIC, NULL},
    {AF_CLIENT_AUTH_POST, AF_AUTH_POST, NULL},
    {AF_CLIENT_AUTH_NONE, AF_AUTH_NONE, NULL},
    {0, NULL, NULL},
};

static const struct cfg_enum app_type_enum[] = {
    {AF_APP_WEB, AF_APP_TYPE_WEB, NULL},
    {AF_APP_NATIVE, AF_APP_TYPE_NATIVE, NULL},
    {0, NULL, NULL},
};

static const struct cfg_enum grant_enum[] = {
    {AF_GRANT_AUTHORIZATION_CODE, AF_GT_AUTHORIZATION_CODE, NULL},
    {AF_GRANT_REFRESH_TOKEN, AF_GT_REFRESH_TOKEN, NULL},
    {AF_GRANT_CLIENT_CREDENTIALS, AF_GT_CLIENT_CREDENTIALS, NULL},
    {AF_GRANT_PASSWORD, AF_GT_PASSWORD, NULL},
    {0, "implicit", "the implicit grant is not supported (RFC 9700 §2.1.2)"},
    {0, NULL, NULL},
};

/* ---- the tables ---- */

/* resolve_path: a relative file name in the config is relative to the
 * config file's folder (c->dir); *path is replaced by the joined name.
 * false when memory ran out (c->vrc is set). */
static bool resolve_path(struct cfg_ctx *c, char **path)
{
    char *joined;
    bool slash;

    if (*path == NULL || (*path)[0] == '/' || c->dir == NULL)
        return true;
    slash = c->dir[strlen(c->dir) - 1] == '/';
    if (asprintf(&joined, "%s%s%s", c->dir, slash ? "" : "/", *path) < 0) {
        c->vrc = AF_ERR_NOMEM;
        return false;
    }
    free(*path);
    *path = joined;
    return true;
}

static const char *root_validate(struct cfg_ctx *c, const json_t *obj, void *base,
                                 struct cfg_where *w);
static const char *key_validate(struct cfg_ctx *c, const json_t *obj, void *base,
                                struct cfg_where *w);
static const char *client_validate(struct cfg_ctx *c, const json_t *obj, void *base,
                                   struct cfg_where *w);
static const char *user_validate(struct cfg_ctx *c, const json_t *obj, void *base,
                                 struct cfg_where *w);

#define CF(f) offsetof(struct af_config, f)
#define CK(f) offsetof(struct af_cfg_key, f)
#define CC(f) offsetof(struct af_cfg_client, f)
#define CU(f) offsetof(struct af_cfg_user, f)
#define CS(f) offsetof(struct af_cfg_scenario, f)

#define MAX_TTL     31536000L /* one year */
#define MAX_ENTRIES 10000000L

static const struct cfg_row login_rows[] = {
    {.name = "interactive", .type = T_BOOL, .def = 0, .off = CF(interactive_login)},
    {.name = "default_user",
     .type = T_STRING,
     .flags = F_NULLABLE | F_NONEMPTY,
     .off = CF(default_user)},
    {.name = NULL},
};

static const struct cfg_row lifetimes_rows[] = {
    {.name = "code", .type = T_LONG, .min = 1, .max = 3600, .def = 60, .off = CF(code_ttl)},
    {.name = "access_token",
     .type = T_LONG,
     .min = 1,
     .max = MAX_TTL,
     .def = 3600,
     .off = CF(access_token_ttl)},
    {.name = "id_token",
     .type = T_LONG,
     .min = 1,
     .max = MAX_TTL,
     .def = 3600,
     .off = CF(id_token_ttl)},
    {.name = "refresh_token",
     .type = T_LONG,
     .min = 1,
     .max = MAX_TTL,
     .def = 86400,
     .off = CF(refresh_token_ttl)},
    {.name = "session",
     .type = T_LONG,
     .min = 1,
     .max = MAX_TTL,
     .def = 28800,
     .off = CF(session_ttl)},
    {.name = NULL},
};

static const struct cfg_row limits_rows[] = {
    {.name = "max_body",
     .type = T_SIZE,
     .min = 1024,
     .max = 16777216,
     .def = 65536,
     .off = CF(max_body)},
    {.name = "max_params", .type = T_SIZE, .min = 8, .max = 1024, .def = 64, .off = CF(max_params)},
    {.name = "max_codes",
     .type = T_SIZE,
     .min = 1,
     .max = MAX_ENTRIES,
     .def = 10000,
     .off = CF(max_codes)},
    {.name = "max_tokens",
     .type = T_SIZE,
     .min = 1,
     .max = MAX_ENTRIES,
     .def = 100000,
     .off = CF(max_tokens)},
    {.name = "threads", .type = T_UINT, .min = 1, .max = 64, .def = 4, .off = CF(threads)},
    /* a whole-request deadline: a slow client is cut, not waited for */
    {.name = "request_timeout",
     .type = T_UINT,
     .min = 1,
     .max = 3600,
     .def = 30,
     .off = CF(request_timeout)},
    /* a delayed answer holds no worker thread (the server suspends the
     * connection), but a test should not wait long: at most 10 s */
    {.name = "max_delay_ms",
     .type = T_LONG,
     .min = 0,
     .max = 10000,
     .def = 10000,
     .off = CF(max_delay_ms)},
    {.name = NULL},
};

static const struct cfg_row key_rows[] = {
    {.name = "alg",
     .type = T_ENUM,
     .flags = F_REQUIRED,
     .def = AF_ALG_RS256,
     .en = alg_enum,
     .off = CK(alg)},
    {.name = "pem_file", .type = T_STRING, .flags = F_NULLABLE | F_NONEMPTY, .off = CK(pem_file)},
    {.name = "generate", .type = T_BOOL, .def = 0, .off = CK(generate)},
    {.name = "kid",
     .type = T_STRING,
     .flags = F_NULLABLE | F_NONEMPTY,
     .check = check_vschar,
     .off = CK(kid)},
    {.name = NULL},
};

static const struct cfg_row client_rows[] = {
    {.name = "client_id",
     .type = T_STRING,
     .flags = F_REQUIRED | F_NONEMPTY,
     .check = check_vschar,
     .off = CC(id)},
    {.name = "client_name", .type = T_STRING, .flags = F_NULLABLE | F_NONEMPTY, .off = CC(name)},
    {.name = "client_secret",
     .type = T_STRING,
     .flags = F_NULLABLE | F_NONEMPTY,
     .check = check_vschar,
     .off = CC(secret)},
    {.name = "token_endpoint_auth_method",
     .type = T_ENUM,
     .def = AF_CLIENT_AUTH_NONE, /* finished by client_validate */
     .en = auth_enum,
     .off = CC(auth_method)},
    {.name = "application_type",
     .type = T_ENUM,
     .def = AF_APP_WEB,
     .en = app_type_enum,
     .off = CC(app_type)},
    {.name = "redirect_uris",
     .type = T_STRLIST,
     .flags = F_NONEMPTY,
     .check = check_redirect_uri,
     .off = CC(redirect_uris)},
    {.name = "post_logout_redirect_uris",
     .type = T_STRLIST,
     .check = check_redirect_uri,
     .off = CC(post_logout_uris)},
    {.name = "grant_types",
     .type = T_FLAGS,
     .flags = F_NONEMPTY,
     .def = AF_GRANT_AUTHORIZATION_CODE | AF_GRANT_REFRESH_TOKEN,
     .en = grant_enum,
     .off = CC(grant_types)},
    {.name = "scope",
     .type = T_SPACELIST,
     .flags = F_NONEMPTY,
     .def_str = AF_SCOPE_OPENID " " AF_SCOPE_PROFILE " " AF_SCOPE_EMAIL " " AF_SCOPE_OFFLINE_ACCESS,
     .check = check_scope_token,
     .off = CC(scopes)},
    {.name = "require_pkce", .type = T_BOOL, .off = CC(require_pkce)}, /* see client_validate */
    {.name = "allow_plain_pkce", .type = T_BOOL, .def = 0, .off = CC(allow_plain_pkce)},
    {.name = "access_token_claims",
     .type = T_STRLIST,
     .check = check_claim_copy,
     .off = CC(access_claims)},
    {.name = "access_token_audience", /* see client_validate for the default */
     .type = T_STRLIST,
     .flags = F_NONEMPTY | F_ONE_OR_MANY,
     .check = check_audience,
     .off = CC(audience)},
    {.name = NULL},
};

static const struct cfg_row user_rows[] = {
    {.name = "sub",
     .type = T_STRING,
     .flags = F_REQUIRED | F_NONEMPTY,
     .check = check_sub,
     .off = CU(sub)},
    {.name = "username",
     .type = T_STRING,
     .flags = F_REQUIRED | F_NONEMPTY,
     .check = check_no_ctl,
     .off = CU(username)},
    {.name = "password",
     .type = T_STRING,
     .flags = F_NULLABLE | F_NONEMPTY,
     .check = check_no_ctl,
     .off = CU(password)},
    {.name = "claims", .type = T_OBJECT, .off = CU(claims)},
    {.name = NULL},
};

static const struct cfg_row admin_rows[] = {
    {.name = "enabled", .type = T_BOOL, .def = 0, .off = CF(admin_enabled)},
    {.name = "listen",
     .type = T_STRING,
     .def_str = "127.0.0.1:9001",
     .check = check_listen,
     .off = CF(admin_listen)},
    {.name = "secret",
     .type = T_STRING,
     .flags = F_NULLABLE | F_NONEMPTY,
     .check = check_b64token,
     .off = CF(admin_secret)},
    {.name = "allow_remote", .type = T_BOOL, .def = 0, .off = CF(admin_allow_remote)},
    /* Host names the admin API answers besides loopback ones (DNS rebinding) */
    {.name = "hosts", .type = T_STRLIST, .check = check_no_ctl, .off = CF(admin_hosts)},
    {.name = NULL},
};

static const struct cfg_row scenario_rows[] = {
    {.name = "name",
     .type = T_STRING,
     .flags = F_REQUIRED | F_NONEMPTY,
     .check = check_vschar,
     .off = CS(name)},
    {.name = "client",
     .type = T_STRING,
     .flags = F_NULLABLE | F_NONEMPTY,
     .check = check_vschar,
     .off = CS(client)},
    {.name = "user", .type = T_STRING, .flags = F_NULLABLE | F_NONEMPTY, .off = CS(user)},
    {.name = "times", .type = T_LONG, .min = 0, .max = 1000000, .def = 1, .off = CS(times)},
    /* -1 (absent) stands for the scenario's default delay */
    {.name = "delay_ms", .type = T_LONG, .min = 0, .max = 10000, .def = -1, .off = CS(delay_ms)},
    {.name = NULL},
};

static const struct cfg_row ledger_rows[] = {
    {.name = "max_entries",
     .type = T_SIZE,
     .min = 0,
     .max = 1000000,
     .def = 1000,
     .off = CF(ledger_max_entries)},
    {.name = NULL},
};

static const struct cfg_row tls_rows[] = {
    {.name = "cert_file",
     .type = T_STRING,
     .flags = F_NULLABLE | F_NONEMPTY,
     .off = CF(tls_cert_file)},
    {.name = "key_file",
     .type = T_STRING,
     .flags = F_NULLABLE | F_NONEMPTY,
     .off = CF(tls_key_file)},
    {.name = "generate", .type = T_BOOL, .def = 0, .off = CF(tls_generate)},
    {.name = "ca_file", .type = T_STRING, .flags = F_NULLABLE | F_NONEMPTY, .off = CF(tls_ca_file)},
    {.name = "names", .type = T_STRLIST, .check = check_cert_name, .off = CF(tls_names)},
    {.name = "proxy", .type = T_BOOL, .def = 0, .off = CF(tls_proxy)},
    {.name = NULL},
};

static const char *check_redis_url(const char *s)
{
    struct af_redis_addr a;
    return af_cfg_redis_parse(s, &a);
}

static const struct cfg_row store_rows[] = {
    {.name = "redis",
     .type = T_STRING,
     .flags = F_NULLABLE | F_NONEMPTY,
     .check = check_redis_url,
     .off = CF(store_redis)},
    {.name = "prefix",
     .type = T_STRING,
     .flags = F_NONEMPTY,
     .def_str = "authflow",
     .check = check_store_prefix,
     .off = CF(store_prefix)},
    {.name = "timeout_ms",
     .type = T_LONG,
     .min = 10,
     .max = 60000,
     .def = 1000,
     .off = CF(store_timeout_ms)},
    {.name = NULL},
};

static const struct cfg_table login_table = {login_rows, sizeof(struct af_config), NULL};
static const struct cfg_table tls_table = {tls_rows, sizeof(struct af_config), NULL};
static const struct cfg_table admin_table = {admin_rows, sizeof(struct af_config), NULL};
static const struct cfg_table lifetimes_table = {lifetimes_rows, sizeof(struct af_config), NULL};
static const struct cfg_table limits_table = {limits_rows, sizeof(struct af_config), NULL};
static const struct cfg_table key_table = {key_rows, sizeof(struct af_cfg_key), key_validate};
static const struct cfg_table client_table = {client_rows, sizeof(struct af_cfg_client),
                                              client_validate};
static const struct cfg_table user_table = {user_rows, sizeof(struct af_cfg_user), user_validate};
static const struct cfg_table scenario_table = {scenario_rows, sizeof(struct af_cfg_scenario),
                                                NULL};
static const struct cfg_table ledger_table = {ledger_rows, sizeof(struct af_config), NULL};
static const struct cfg_table store_table = {store_rows, sizeof(struct af_config), NULL};

/* The keys an issuer has of its own: the top level's, and each element of
 * "issuers" (which has these and its path, nothing else). */
#define ISSUER_ROWS                                                                                \
    {.name = "persona",                                                                            \
     .type = T_ENUM,                                                                               \
     .def = AF_PERSONA_STANDARD,                                                                   \
     .en = persona_enum,                                                                           \
     .off = CF(persona)},                                                                          \
        {.name = "login", .type = T_GROUP, .sub = &login_table},                                   \
        {.name = "lifetimes", .type = T_GROUP, .sub = &lifetimes_table},                           \
        {.name = "keys",                                                                           \
         .type = T_ARRAY,                                                                          \
         .flags = F_NONEMPTY,                                                                      \
         .sub = &key_table,                                                                        \
         .off = CF(keys),                                                                          \
         .off_n = CF(nkeys)},                                                                      \
        {.name = "clients",                                                                        \
         .type = T_ARRAY,                                                                          \
         .sub = &client_table,                                                                     \
         .off = CF(clients),                                                                       \
         .off_n = CF(nclients)},                                                                   \
        {.name = "users",                                                                          \
         .type = T_ARRAY,                                                                          \
         .sub = &user_table,                                                                       \
         .off = CF(users),                                                                         \
         .off_n = CF(nusers)},                                                                     \
    {                                                                                              \
        .name = "scenarios", .type = T_ARRAY, .sub = &scenario_table, .off = CF(scenarios),        \
        .off_n = CF(nscenarios)                                                                    \
    }

static const struct cfg_row issuer_rows[] = {
    {.name = "path",
     .type = T_STRING,
     .flags = F_REQUIRED,
     .check = check_issuer_path,
     .off = CF(path)},
    /* a port of its own (docs/issuers.md); the top level's listen is another key */
    {.name = "listen",
     .type = T_STRING,
     .flags = F_NULLABLE,
     .check = check_listen,
     .off = CF(own_listen)},
    ISSUER_ROWS,
    {.name = NULL},
};

/* validated by root_validate, once the process-wide values it inherits are read */
static const struct cfg_table issuer_table = {issuer_rows, sizeof(struct af_config), NULL};

static const struct cfg_row root_rows[] = {
    {.name = "issuer",
     .type = T_STRING,
     .flags = F_NULLABLE,
     .check = check_issuer,
     .off = CF(issuer)},
    {.name = "listen",
     .type = T_STRING,
     .def_str = "127.0.0.1:9000",
     .check = check_listen,
     .off = CF(listen)},
    ISSUER_ROWS,
    {.name = "limits", .type = T_GROUP, .sub = &limits_table},
    {.name = "admin", .type = T_GROUP, .sub = &admin_table},
    {.name = "ledger", .type = T_GROUP, .sub = &ledger_table},
    {.name = "tls", .type = T_GROUP, .sub = &tls_table},
    {.name = "store", .type = T_GROUP, .sub = &store_table},
    {.name = "issuers",
     .type = T_ARRAY,
     .sub = &issuer_table,
     .off = CF(issuers),
     .off_n = CF(nissuers)},
    {.name = NULL},
};

static const struct cfg_table root_table = {root_rows, sizeof(struct af_config), root_validate};

/* ---- small helpers ---- */

static void strlist_free(struct af_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static const struct cfg_row *row_find(const struct cfg_table *t, const char *name)
{
    for (const struct cfg_row *r = t->rows; r->name != NULL; r++) {
        if (strcmp(r->name, name) == 0)
            return r;
    }
    return NULL;
}

static void path_push(struct cfg_ctx *c, const char *key, size_t index)
{
    if (c->depth < AF_JPATH_MAX) {
        c->path[c->depth].key = key;
        c->path[c->depth].index = index;
    }
    c->depth++;
}

static void path_pop(struct cfg_ctx *c)
{
    c->depth--;
}

static struct cfg_where *where_key(struct cfg_where *w, const char *key)
{
    if (w->n < sizeof(w->seg) / sizeof(w->seg[0])) {
        w->seg[w->n].key = key;
        w->seg[w->n].index = 0;
        w->n++;
    }
    return w;
}

static struct cfg_where *where_index(struct cfg_where *w, size_t index)
{
    if (w->n < sizeof(w->seg) / sizeof(w->seg[0])) {
        w->seg[w->n].key = NULL;
        w->seg[w->n].index = index;
        w->n++;
    }
    return w;
}

/* s quoted for a message, in c->qbuf (one at a time). */
static const char *quoted(struct cfg_ctx *c, const char *s)
{
    af_jsonpos_quote(s, 80, c->qbuf, sizeof(c->qbuf));
    return c->qbuf;
}

/* Fail at the current path plus w's steps: "source:line:col: path: what". */
static af_rc cfg_fail(struct cfg_ctx *c, const struct cfg_where *w, af_rc rc, const char *fmt, ...)
    AF_PRINTF(4, 5);

static af_rc cfg_fail(struct cfg_ctx *c, const struct cfg_where *w, af_rc rc, const char *fmt, ...)
{
    struct af_jseg full[AF_JPATH_MAX];
    size_t n = c->depth < AF_JPATH_MAX ? c->depth : AF_JPATH_MAX;
    bool at_key = false;
    char pathbuf[160], what[400];
    int line, col;
    va_list ap;

    memcpy(full, c->path, n * sizeof(full[0]));
    if (w != NULL) {
        for (size_t i = 0; i < w->n && n < AF_JPATH_MAX; i++)
            full[n++] = w->seg[i];
        at_key = w->at_key;
    }
    (void)af_jsonpos_find(c->text, c->len, full, n, at_key, &line, &col);
    af_jsonpos_path_str(full, n, pathbuf, sizeof(pathbuf));
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return AF_ERR_SET(c->err, rc, "%s:%d:%d: %s: %s", c->source, line, col,
                      n > 0 ? pathbuf : "(top level)", what);
}

static af_rc cfg_nomem(struct cfg_ctx *c)
{
    return cfg_fail(c, NULL, AF_ERR_NOMEM, "out of memory");
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number with a fraction or exponent";
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    case JSON_NULL:
        return "null";
    }
    return "something else";
}

static const char *row_expects(const struct cfg_row *r)
{
    switch (r->type) {
    case T_STRING:
        return (r->flags & F_NULLABLE) ? "a string or null" : "a string";
    case T_BOOL:
        return "true or false";
    case T_LONG:
    case T_SIZE:
    case T_UINT:
        return "an integer";
    case T_ENUM:
        return "a string";
    case T_FLAGS:
        return "an array of strings";
    case T_STRLIST:
        return (r->flags & F_ONE_OR_MANY) ? "a string or an array of strings"
                                          : "an array of strings";
    case T_SPACELIST:
        return "a string of space-separated values";
    case T_OBJECT:
    case T_GROUP:
        return "an object";
    case T_ARRAY:
        return "an array of objects";
    }
    return "something else";
}

static af_rc type_error(struct cfg_ctx *c, const struct cfg_row *r, const json_t *v)
{
    return cfg_fail(c, NULL, AF_ERR_INVALID, "wrong type (expected %s, got %s)", row_expects(r),
                    json_kind(v));
}

/* Append to buf[0..cap) at *len; once full, further appends are dropped
 * (the text is cut, never overrun). */
static void msg_add(char *buf, size_t cap, int *len, const char *fmt, ...) AF_PRINTF(4, 5);

static void msg_add(char *buf, size_t cap, int *len, const char *fmt, ...)
{
    va_list ap;
    int k;

    if (*len < 0 || (size_t)*len >= cap)
        return;
    va_start(ap, fmt);
    k = vsnprintf(buf + *len, cap - (size_t)*len, fmt, ap);
    va_end(ap);
    *len = k < 0 ? -1 : *len + k;
}

/* The enum value named s; on failure NULL is returned with the message in
 * c->msg ("unknown value (expected A, B or C, got "x")"). */
static const char *enum_lookup(struct cfg_ctx *c, const struct cfg_enum *en, const char *s,
                               int *val)
{
    const struct cfg_enum *e;
    size_t nok = 0, i = 0;
    int k;

    for (e = en; e->str != NULL; e++) {
        if (strcmp(e->str, s) == 0) {
            if (e->refused != NULL) {
                snprintf(c->msg, sizeof(c->msg), "%s is refused: %s", quoted(c, s), e->refused);
                return c->msg;
            }
            *val = e->val;
            return NULL;
        }
        if (e->refused == NULL)
            nok++;
    }
    /* The list is short and static; a full buffer only shortens it. */
    k = snprintf(c->msg, sizeof(c->msg), "unknown value (expected ");
    for (e = en; e->str != NULL; e++) {
        if (e->refused != NULL)
            continue;
        i++;
        msg_add(c->msg, sizeof(c->msg), &k, "%s\"%s\"", i == 1 ? "" : (i == nok ? " or " : ", "),
                e->str);
    }
    msg_add(c->msg, sizeof(c->msg), &k, ", got %s)", quoted(c, s));
    return c->msg;
}

const char *af_cfg_key_alg_parse(const char *name, af_alg *out, char *buf, size_t cap)
{
    struct cfg_ctx c;
    const char *m;
    int val = 0;

    memset(&c, 0, sizeof(c));
    m = enum_lookup(&c, alg_enum, name, &val);
    if (m != NULL) {
        snprintf(buf, cap, "%s", m);
        return buf;
    }
    *out = (af_alg)val;
    return NULL;
}

/* Split a space-separated list (RFC 6749 §3.3) into l. On a bad token the
 * message is returned (c->msg) and l is left empty. */
static const char *spacelist_split(struct cfg_ctx *c, const struct cfg_row *r, const char *s,
                                   struct af_strlist *l)
{
    size_t n = 1, i;
    const char *p, *m;

    c->vrc = AF_ERR_INVALID;
    strlist_free(l);
    if (s[0] == ' ' || (s[0] != '\0' && s[strlen(s) - 1] == ' ') || strstr(s, "  ") != NULL) {
        snprintf(c->msg, sizeof(c->msg),
                 "values must be separated by single spaces (RFC 6749 §3.3): %s", quoted(c, s));
        return c->msg;
    }
    for (p = s; *p; p++)
        n += *p == ' ';
    l->v = calloc(n, sizeof(char *));
    if (l->v == NULL) {
        c->vrc = AF_ERR_NOMEM;
        return "out of memory";
    }
    for (p = s, i = 0; i < n; i++) {
        size_t k = strcspn(p, " ");
        l->v[i] = strndup(p, k);
        if (l->v[i] == NULL) {
            c->vrc = AF_ERR_NOMEM;
            m = "out of memory";
            goto fail;
        }
        l->n = i + 1;
        m = r->check != NULL ? r->check(l->v[i]) : NULL;
        if (m != NULL) {
            snprintf(c->msg, sizeof(c->msg), "%s: %s", m, quoted(c, l->v[i]));
            m = c->msg;
            goto fail;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(l->v[j], l->v[i]) == 0) {
                snprintf(c->msg, sizeof(c->msg), "duplicate value %s", quoted(c, l->v[i]));
                m = c->msg;
                goto fail;
            }
        }
        p += k + (p[k] == ' ');
    }
    return NULL;
fail:
    strlist_free(l);
    return m;
}

/* ---- defaults and freeing, by table ---- */

static af_rc apply_defaults(struct cfg_ctx *c, const struct cfg_table *t, char *base)
{
    for (const struct cfg_row *r = t->rows; r->name != NULL; r++) {
        void *dst = base + r->off;
        switch (r->type) {
        case T_STRING:
            if (r->def_str != NULL) {
                *(char **)dst = strdup(r->def_str);
                if (*(char **)dst == NULL)
                    return cfg_nomem(c);
            }
            break;
        case T_BOOL:
            *(bool *)dst = r->def != 0;
            break;
        case T_LONG:
            *(long *)dst = r->def;
            break;
        case T_SIZE:
            *(size_t *)dst = (size_t)r->def;
            break;
        case T_UINT:
        case T_FLAGS:
            *(unsigned *)dst = (unsigned)r->def;
            break;
        case T_ENUM: {
            int v = (int)r->def;
            memcpy(dst, &v, sizeof(v));
            break;
        }
        case T_SPACELIST:
            if (r->def_str != NULL) {
                const char *m = spacelist_split(c, r, r->def_str, dst);
                if (m != NULL)
                    return cfg_fail(c, NULL, c->vrc, "%s", m);
            }
            break;
        case T_GROUP: {
            af_rc rc = apply_defaults(c, r->sub, base);
            if (rc != AF_OK)
                return rc;
            break;
        }
        case T_STRLIST:
        case T_OBJECT:
        case T_ARRAY:
            break;
        }
    }
    return AF_OK;
}

static void free_table(const struct cfg_table *t, char *base)
{
    for (const struct cfg_row *r = t->rows; r->name != NULL; r++) {
        void *dst = base + r->off;
        switch (r->type) {
        case T_STRING:
            free(*(char **)dst);
            *(char **)dst = NULL;
            break;
        case T_STRLIST:
        case T_SPACELIST:
            strlist_free(dst);
            break;
        case T_OBJECT:
            json_decref(*(json_t **)dst);
            *(json_t **)dst = NULL;
            break;
        case T_GROUP:
            free_table(r->sub, base);
            break;
        case T_ARRAY: {
            char *items = *(char **)dst;
            size_t *n = (size_t *)(base + r->off_n);
            for (size_t i = 0; i < *n; i++)
                free_table(r->sub, items + i * r->sub->size);
            free(items);
            *(char **)dst = NULL;
            *n = 0;
            break;
        }
        case T_BOOL:
        case T_LONG:
        case T_SIZE:
        case T_UINT:
        case T_ENUM:
        case T_FLAGS:
            break;
        }
    }
}

/* ---- the walk ---- */

/* An unknown key: suggest a key of a nested group when it is exactly one
 * of those ("code" at the top is "lifetimes.code"), else the nearest key of
 * this table within two edits, else list them all. */
static af_rc unknown_key(struct cfg_ctx *c, const struct cfg_table *t, const char *key)
{
    struct cfg_where w = {.n = 0, .at_key = true};
    char sugg[96] = "";
    size_t best = 3, klen = strlen(key);
    const struct cfg_row *r;
    af_rc rc;

    for (r = t->rows; r->name != NULL && sugg[0] == '\0'; r++) {
        if (r->type == T_GROUP && row_find(r->sub, key) != NULL)
            snprintf(sugg, sizeof(sugg), "%s.%s", r->name, key);
    }
    if (sugg[0] == '\0' && klen <= AF_EDIT_DISTANCE_MAX) {
        for (r = t->rows; r->name != NULL; r++) {
            size_t d = af_edit_distance(key, r->name);
            if (d < best && d < klen) {
                best = d;
                snprintf(sugg, sizeof(sugg), "%s", r->name);
            }
        }
    }
    path_push(c, key, 0);
    if (t == &issuer_table && row_find(&root_table, key) != NULL) {
        /* listen, limits, admin, ledger, tls: one process, one of each */
        rc = cfg_fail(c, &w, AF_ERR_INVALID,
                      "not a key of an issuer in issuers[] (it is set once, at the top level, "
                      "for all of them)");
    } else if (sugg[0] != '\0') {
        rc = cfg_fail(c, &w, AF_ERR_INVALID, "unknown key (did you mean \"%s\"?)", sugg);
    } else {
        char list[240] = "";
        int k = 0;
        for (r = t->rows; r->name != NULL; r++)
            msg_add(list, sizeof(list), &k, "%s%s", r == t->rows ? "" : ", ", r->name);
        rc = cfg_fail(c, &w, AF_ERR_INVALID, "unknown key (expected one of: %s)", list);
    }
    path_pop(c);
    return rc;
}

static af_rc parse_table(struct cfg_ctx *c, const struct cfg_table *t, const json_t *obj,
                         char *base);

/* A string value (already known to be one): emptiness, then the row's
 * check. */
static af_rc check_string(struct cfg_ctx *c, const struct cfg_row *r, const char *s)
{
    const char *m;
    if ((r->flags & F_NONEMPTY) && s[0] == '\0')
        return cfg_fail(c, NULL, AF_ERR_INVALID, "must not be empty (expected a non-empty string)");
    m = r->check != NULL ? r->check(s) : NULL;
    if (m != NULL)
        return cfg_fail(c, NULL, AF_ERR_INVALID, "%s: %s", m, quoted(c, s));
    return AF_OK;
}

static af_rc parse_flags(struct cfg_ctx *c, const struct cfg_row *r, const json_t *v, char *base)
{
    unsigned bits = 0;
    size_t i;
    json_t *item;
    af_rc rc = AF_OK;

    if (!json_is_array(v))
        return type_error(c, r, v);
    if ((r->flags & F_NONEMPTY) && json_array_size(v) == 0)
        return cfg_fail(c, NULL, AF_ERR_INVALID, "must not be empty (expected at least one value)");
    json_array_foreach(v, i, item)
    {
        int val = 0;
        const char *m;
        path_push(c, NULL, i);
        if (!json_is_string(item)) {
            rc = cfg_fail(c, NULL, AF_ERR_INVALID, "wrong type (expected a string, got %s)",
                          json_kind(item));
        } else {
            m = enum_lookup(c, r->en, json_string_value(item), &val);
            if (m != NULL)
                rc = cfg_fail(c, NULL, AF_ERR_INVALID, "%s", m);
            else if (bits & (unsigned)val)
                rc = cfg_fail(c, NULL, AF_ERR_INVALID, "duplicate value %s",
                              quoted(c, json_string_value(item)));
        }
        path_pop(c);
        if (rc != AF_OK)
            return rc;
        bits |= (unsigned)val;
    }
    *(unsigned *)(base + r->off) = bits;
    return AF_OK;
}

static af_rc parse_strlist(struct cfg_ctx *c, const struct cfg_row *r, const json_t *v, char *base)
{
    struct af_strlist *dst = (struct af_strlist *)(base + r->off);
    size_t i, n;
    json_t *item;
    af_rc rc = AF_OK;

    if (json_is_string(v) && (r->flags & F_ONE_OR_MANY)) {
        const char *s = json_string_value(v);
        rc = check_string(c, r, s);
        if (rc != AF_OK)
            return rc;
        strlist_free(dst);
        dst->v = calloc(1, sizeof(char *));
        if (dst->v == NULL)
            return cfg_nomem(c);
        dst->v[0] = strdup(s);
        if (dst->v[0] == NULL)
            return cfg_nomem(c);
        dst->n = 1;
        return AF_OK;
    }
    if (!json_is_array(v))
        return type_error(c, r, v);
    n = json_array_size(v);
    if ((r->flags & F_NONEMPTY) && n == 0)
        return cfg_fail(c, NULL, AF_ERR_INVALID, "must not be empty (expected at least one value)");
    strlist_free(dst);
    if (n == 0)
        return AF_OK;
    dst->v = calloc(n, sizeof(char *));
    if (dst->v == NULL)
        return cfg_nomem(c);
    json_array_foreach(v, i, item)
    {
        path_push(c, NULL, i);
        if (!json_is_string(item)) {
            rc = cfg_fail(c, NULL, AF_ERR_INVALID, "wrong type (expected a string, got %s)",
                          json_kind(item));
        } else {
            const char *s = json_string_value(item);
            rc = check_string(c, r, s);
            for (size_t j = 0; rc == AF_OK && j < i; j++) {
                if (strcmp(dst->v[j], s) == 0)
                    rc = cfg_fail(c, NULL, AF_ERR_INVALID, "duplicate of [%zu]: %s", j,
                                  quoted(c, s));
            }
            if (rc == AF_OK) {
                dst->v[i] = strdup(s);
                if (dst->v[i] == NULL)
                    rc = cfg_nomem(c);
                else
                    dst->n = i + 1;
            }
        }
        path_pop(c);
        if (rc != AF_OK)
            return rc;
    }
    return AF_OK;
}

static af_rc parse_array(struct cfg_ctx *c, const struct cfg_row *r, const json_t *v, char *base)
{
    char **items = (char **)(base + r->off);
    size_t *count = (size_t *)(base + r->off_n);
    size_t i, n;
    json_t *item;
    af_rc rc = AF_OK;

    if (!json_is_array(v))
        return type_error(c, r, v);
    n = json_array_size(v);
    if ((r->flags & F_NONEMPTY) && n == 0)
        return cfg_fail(c, NULL, AF_ERR_INVALID,
                        "must not be empty (expected at least one object)");
    if (n == 0)
        return AF_OK;
    *items = calloc(n, r->sub->size);
    if (*items == NULL)
        return cfg_nomem(c);
    /* Counted before they are read, so that freeing a half-read config
     * walks every item (calloc left each one empty). */
    *count = n;
    json_array_foreach(v, i, item)
    {
        char *elem = *items + i * r->sub->size;
        path_push(c, NULL, i);
        if (!json_is_object(item))
            rc = cfg_fail(c, NULL, AF_ERR_INVALID, "wrong type (expected an object, got %s)",
                          json_kind(item));
        if (rc == AF_OK)
            rc = apply_defaults(c, r->sub, elem);
        if (rc == AF_OK)
            rc = parse_table(c, r->sub, item, elem);
        path_pop(c);
        if (rc != AF_OK)
            return rc;
    }
    return AF_OK;
}

static af_rc parse_row(struct cfg_ctx *c, const struct cfg_row *r, const json_t *v, char *base)
{
    void *dst = base + r->off;
    json_int_t iv;
    const char *m;
    char *copy;
    int ev = 0;
    af_rc rc;

    switch (r->type) {
    case T_STRING:
        if (json_is_null(v) && (r->flags & F_NULLABLE)) {
            free(*(char **)dst);
            *(char **)dst = NULL;
            return AF_OK;
        }
        if (!json_is_string(v))
            return type_error(c, r, v);
        rc = check_string(c, r, json_string_value(v));
        if (rc != AF_OK)
            return rc;
        copy = strdup(json_string_value(v));
        if (copy == NULL)
            return cfg_nomem(c);
        free(*(char **)dst);
        *(char **)dst = copy;
        return AF_OK;
    case T_BOOL:
        if (!json_is_boolean(v))
            return type_error(c, r, v);
        *(bool *)dst = json_is_true(v);
        return AF_OK;
    case T_LONG:
    case T_SIZE:
    case T_UINT:
        if (!json_is_integer(v))
            return type_error(c, r, v);
        iv = json_integer_value(v);
        if (iv < r->min || iv > r->max)
            return cfg_fail(c, NULL, AF_ERR_INVALID,
                            "out of range (expected an integer from %ld to %ld, got "
                            "%" JSON_INTEGER_FORMAT ")",
                            r->min, r->max, iv);
        if (r->type == T_LONG)
            *(long *)dst = (long)iv;
        else if (r->type == T_SIZE)
            *(size_t *)dst = (size_t)iv;
        else
            *(unsigned *)dst = (unsigned)iv;
        return AF_OK;
    case T_ENUM:
        if (!json_is_string(v))
            return type_error(c, r, v);
        m = enum_lookup(c, r->en, json_string_value(v), &ev);
        if (m != NULL)
            return cfg_fail(c, NULL, AF_ERR_INVALID, "%s", m);
        memcpy(dst, &ev, sizeof(ev));
        return AF_OK;
    case T_FLAGS:
        return parse_flags(c, r, v, base);
    case T_STRLIST:
        return parse_strlist(c, r, v, base);
    case T_SPACELIST:
        if (!json_is_string(v))
            return type_error(c, r, v);
        if ((r->flags & F_NONEMPTY) && json_string_length(v) == 0)
            return cfg_fail(c, NULL, AF_ERR_INVALID,
                            "must not be empty (expected at least one value)");
        m = spacelist_split(c, r, json_string_value(v), dst);
        if (m != NULL)
            return cfg_fail(c, NULL, c->vrc, "%s", m);
        return AF_OK;
    case T_OBJECT:
        if (!json_is_object(v))
            return type_error(c, r, v);
        json_decref(*(json_t **)dst);
        *(json_t **)dst = json_incref((json_t *)v);
        return AF_OK;
    case T_GROUP:
        if (!json_is_object(v))
            return type_error(c, r, v);
        return parse_table(c, r->sub, v, base);
    case T_ARRAY:
        return parse_array(c, r, v, base);
    }
    return AF_ERR_STATE;
}

/* Read obj into base (defaults already applied): unknown keys and values in
 * document order, then missing required keys, then the validator. */
static af_rc parse_table(struct cfg_ctx *c, const struct cfg_table *t, const json_t *obj,
                         char *base)
{
    const struct cfg_row *r;
    const char *key;
    json_t *v;
    af_rc rc = AF_OK;

    json_object_foreach((json_t *)obj, key, v)
    {
        r = row_find(t, key);
        if (r == NULL) {
            rc = unknown_key(c, t, key);
            goto out;
        }
        path_push(c, r->name, 0);
        rc = parse_row(c, r, v, base);
        path_pop(c);
        if (rc != AF_OK)
            goto out;
    }
    for (r = t->rows; r->name != NULL; r++) {
        if ((r->flags & F_REQUIRED) && json_object_get(obj, r->name) == NULL) {
            struct cfg_where w = {.n = 0};
            rc = cfg_fail(c, where_key(&w, r->name), AF_ERR_INVALID, "missing (expected %s)",
                          row_expects(r));
            goto out;
        }
    }
    if (t->validate != NULL) {
        struct cfg_where w = {.n = 0};
        const char *m;
        c->vrc = AF_ERR_INVALID;
        m = t->validate(c, obj, base, &w);
        if (m != NULL)
            rc = cfg_fail(c, &w, c->vrc, "%s", m);
    }
out:
    return rc;
}

/* ---- validators ---- */

static const char *key_validate(struct cfg_ctx *c, const json_t *obj, void *base,
                                struct cfg_where *w)
{
    struct af_cfg_key *k = base;
    int e;

    (void)obj;
    if (k->pem_file == NULL)
        return NULL;
    if (!resolve_path(c, &k->pem_file))
        return "out of memory";
    /* Checked here, where the error can point at the key; the key itself
     * is read when the server starts, which writes a missing one first
     * when generate is on. */
    if (access(k->pem_file, R_OK) != 0) {
        e = errno;
        if (k->generate && e == ENOENT)
            return NULL;
        where_key(w, "pem_file");
        snprintf(c->msg, sizeof(c->msg), "cannot read %s: %s", quoted(c, k->pem_file), strerror(e));
        return c->msg;
    }
    return NULL;
}

static const char *client_validate(struct cfg_ctx *c, const json_t *obj, void *base,
                                   struct cfg_where *w)
{
    struct af_cfg_client *cl = base;

    if (json_object_get(obj, "token_endpoint_auth_method") == NULL) {
        cl->auth_method = cl->secret != NULL ? AF_CLIENT_AUTH_BASIC : AF_CLIENT_AUTH_NONE;
    } else if (cl->auth_method == AF_CLIENT_AUTH_NONE && cl->secret != NULL) {
        where_key(w, "client_secret");
        return "a client with token_endpoint_auth_method \"none\" is public and must not have "
               "a client_secret";
    } else if (cl->auth_method != AF_CLIENT_AUTH_NONE && cl->secret == NULL) {
        where_key(w, "token_endpoint_auth_method");
        snprintf(c->msg, sizeof(c->msg),
                 "\"%s\" needs a client_secret (expected a client_secret, or \"none\" for a "
                 "public client)",
                 cl->auth_method == AF_CLIENT_AUTH_BASIC ? AF_AUTH_BASIC : AF_AUTH_POST);
        return c->msg;
    }
    if ((cl->grant_types & AF_GRANT_CLIENT_CREDENTIALS) && cl->secret == NULL) {
        where_key(w, "grant_types");
        return "client_credentials needs a client_secret (a public client cannot use it, RFC "
               "6749 §4.4)";
    }
    if ((cl->grant_types & AF_GRANT_AUTHORIZATION_CODE) && cl->redirect_uris.n == 0) {
        where_key(w, "redirect_uris");
        return "missing (expected an array of absolute URIs: the client has the "
               "authorization_code grant, RFC 6749 §3.1.2)";
    }
    if (json_object_get(obj, "require_pkce") == NULL)
        cl->require_pkce = cl->auth_method == AF_CLIENT_AUTH_NONE;
    /* RFC 9068 §3: aud names the resource; without one configured the
     * client itself is the audience, as for an ID token. */
    if (cl->audience.n == 0) {
        cl->audience.v = calloc(1, sizeof(char *));
        if (cl->audience.v != NULL)
            cl->audience.v[0] = strdup(cl->id);
        if (cl->audience.v == NULL || cl->audience.v[0] == NULL) {
            c->vrc = AF_ERR_NOMEM;
            return "out of memory";
        }
        cl->audience.n = 1;
    }
    return NULL;
}

static const char *user_validate(struct cfg_ctx *c, const json_t *obj, void *base,
                                 struct cfg_where *w)
{
    struct af_cfg_user *u = base;

    (void)obj;
    if (u->claims == NULL) {
        u->claims = json_object();
        if (u->claims == NULL) {
            c->vrc = AF_ERR_NOMEM;
            return "out of memory";
        }
        return NULL;
    }
    for (size_t i = 0; reserved_claims[i] != NULL; i++) {
        if (json_object_get(u->claims, reserved_claims[i]) == NULL)
            continue;
        where_key(where_key(w, "claims"), reserved_claims[i])->at_key = true;
        if (i == 0)
            return "not allowed here (the user's \"sub\" key gives the subject)";
        snprintf(c->msg, sizeof(c->msg), "not allowed (\"%s\" is set by the server in each token)",
                 reserved_claims[i]);
        return c->msg;
    }
    return NULL;
}

static const char *grant_name(unsigned bit)
{
    for (const struct cfg_enum *e = grant_enum; e->str != NULL; e++) {
        if (e->refused == NULL && (unsigned)e->val == bit)
            return e->str;
    }
    return "?";
}

/* listen_port_zero: a listen value (checked) asking for any
 * free port. */
static bool listen_port_zero(const char *listen)
{
    const char *colon = strrchr(listen, ':');
    return colon != NULL && strcmp(colon + 1, "0") == 0;
}

/* admin_validate: the admin API mints tokens for any user, so it stays on
 * loopback unless the file says otherwise, and a remote one needs a
 * secret. */
static const char *admin_validate(struct cfg_ctx *c, const struct af_config *cfg,
                                  struct cfg_where *w)
{
    bool loopback = af_cfg_listen_is_loopback(cfg->admin_listen);

    if (!loopback && !cfg->admin_allow_remote) {
        where_key(where_key(w, "admin"), "listen");
        snprintf(c->msg, sizeof(c->msg),
                 "not a loopback address: %s (the admin API mints tokens for any user, so it "
                 "listens on 127.0.0.1, ::1 or localhost unless admin.allow_remote is true)",
                 quoted(c, cfg->admin_listen));
        return c->msg;
    }
    if (!loopback && cfg->admin_secret == NULL) {
        where_key(where_key(w, "admin"), "secret");
        return "missing (expected a secret: with admin.allow_remote and a non-loopback "
               "admin.listen, anyone who reaches the port could mint tokens)";
    }
    if (cfg->admin_enabled && strcmp(cfg->admin_listen, cfg->listen) == 0 &&
        !listen_port_zero(cfg->listen)) {
        where_key(where_key(w, "admin"), "listen");
        snprintf(c->msg, sizeof(c->msg),
                 "the same address as listen: %s (the admin API needs a port of its own)",
                 quoted(c, cfg->admin_listen));
        return c->msg;
    }
    return NULL;
}

/* scenarios_validate: the queued scenarios name configured clients and
 * users and stay within limits.max_delay_ms. Their names are the server's
 * to check (src/server/scenario.c holds the table). */
static const char *scenarios_validate(struct cfg_ctx *c, const struct af_config *cfg,
                                      struct cfg_where *w)
{
    for (size_t i = 0; i < cfg->nscenarios; i++) {
        const struct af_cfg_scenario *s = &cfg->scenarios[i];
        if (s->client != NULL && af_cfg_client_find(cfg, s->client) == NULL) {
            where_key(where_index(where_key(w, "scenarios"), i), "client");
            snprintf(c->msg, sizeof(c->msg),
                     "names no configured client (expected the client_id of one of clients[], "
                     "got %s)",
                     quoted(c, s->client));
            return c->msg;
        }
        if (s->user != NULL && af_cfg_user_find(cfg, s->user) == NULL) {
            where_key(where_index(where_key(w, "scenarios"), i), "user");
            snprintf(c->msg, sizeof(c->msg),
                     "names no configured user (expected the username or sub of one of users[], "
                     "got %s)",
                     quoted(c, s->user));
            return c->msg;
        }
        if (s->delay_ms > cfg->max_delay_ms) {
            where_key(where_index(where_key(w, "scenarios"), i), "delay_ms");
            snprintf(c->msg, sizeof(c->msg), "longer than limits.max_delay_ms (%ld ms, got %ld)",
                     cfg->max_delay_ms, s->delay_ms);
            return c->msg;
        }
    }
    return NULL;
}

/* state_dir: the folder of generated keys without a pem_file:
 * $AUTHFLOW_STATE_DIR, else $XDG_STATE_HOME/authflow (an absolute
 * XDG_STATE_HOME only, as the XDG Base Directory Specification asks), else
 * $HOME/.local/state/authflow. Caller frees; NULL when none is set, or out
 * of memory (*nomem). */
static char *state_dir(bool *nomem)
{
    const char *env = getenv(AF_CFG_ENV_STATE_DIR);
    const char *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    char *dir = NULL;
    int n = 0;

    *nomem = false;
    if (env != NULL && env[0] != '\0')
        n = asprintf(&dir, "%s", env);
    else if (xdg != NULL && xdg[0] == '/')
        n = asprintf(&dir, "%s/authflow", xdg);
    else if (home != NULL && home[0] == '/')
        n = asprintf(&dir, "%s/.local/state/authflow", home);
    if (n < 0) {
        *nomem = true;
        dir = NULL;
    }
    return dir;
}

/* key_file_name: "rs256.pem" for the first key of alg in the list, then
 * "rs256-2.pem", "rs256-3.pem"... into name; an element of issuers puts
 * its path first, segments joined by '+' (a character no path has):
 * "/tenant-a" makes "tenant-a.rs256.pem", "/eu/a" "eu+a.rs256.pem". */
static void key_file_name(const char *path, af_alg alg, size_t nth, char *name, size_t cap)
{
    char lower[16], prefix[ISSUER_PATH_MAX + 2] = "";
    const char *a = af_alg_name(alg);
    size_t i;

    for (i = 0; i < sizeof(lower) - 1 && a[i] != '\0'; i++)
        lower[i] = a[i] >= 'A' && a[i] <= 'Z' ? (char)(a[i] - 'A' + 'a') : a[i];
    lower[i] = '\0';
    if (path != NULL) {
        for (i = 0; i < ISSUER_PATH_MAX && path[i + 1] != '\0'; i++)
            prefix[i] = path[i + 1] == '/' ? '+' : path[i + 1];
        prefix[i] = '.';
        prefix[i + 1] = '\0';
    }
    if (nth == 1)
        snprintf(name, cap, "%s%s.pem", prefix, lower);
    else
        snprintf(name, cap, "%s%s-%zu.pem", prefix, lower, nth);
}

/* key_files: give each generated key without a pem_file its file in the
 * state folder (key_file_name). */
static const char *key_files(struct cfg_ctx *c, struct af_config *cfg, struct cfg_where *w)
{
    const char *m = NULL;
    char *dir = NULL, name[ISSUER_PATH_MAX + 40];
    bool nomem = false;
    size_t i, j, nth;

    for (j = 0; j < cfg->nkeys && m == NULL; j++) {
        struct af_cfg_key *k = &cfg->keys[j];
        /* with a Redis store, a generated key is kept there, one for all
         * replicas (keyshare.h) */
        if (!k->generate || k->pem_file != NULL || cfg->store_redis != NULL)
            continue;
        if (dir == NULL)
            dir = state_dir(&nomem);
        if (dir == NULL) {
            where_key(where_index(where_key(w, "keys"), j), "generate");
            c->vrc = nomem ? AF_ERR_NOMEM : AF_ERR_INVALID;
            m = nomem ? "out of memory"
                      : "no folder for the generated key: set " AF_CFG_ENV_STATE_DIR
                        " (or XDG_STATE_HOME or HOME), or give pem_file";
            break;
        }
        for (nth = 1, i = 0; i < j; i++)
            nth += cfg->keys[i].alg == k->alg;
        key_file_name(cfg->path, k->alg, nth, name, sizeof(name));
        if (asprintf(&k->pem_file, "%s/%s", dir, name) < 0) {
            k->pem_file = NULL;
            c->vrc = AF_ERR_NOMEM;
            m = "out of memory";
        }
    }
    free(dir);
    return m;
}

/* tls_validate: one way of serving https at most; files readable; the
 * generated CA's files named (the state folder by default); an http issuer
 * refused on an https listener, where every client would fail on it. */
static const char *tls_validate(struct cfg_ctx *c, struct af_config *cfg, struct cfg_where *w)
{
    bool files = cfg->tls_cert_file != NULL || cfg->tls_key_file != NULL;
    bool nomem = false;
    char *dir = NULL;
    const char *m = NULL;
    size_t n;

    where_key(w, "tls");
    if (files && (cfg->tls_cert_file == NULL || cfg->tls_key_file == NULL)) {
        where_key(w, cfg->tls_cert_file == NULL ? "cert_file" : "key_file");
        return "cert_file and key_file go together";
    }
    if (files && cfg->tls_generate) {
        where_key(w, "generate");
        return "either a certificate from cert_file and key_file, or generate, not both";
    }
    if (cfg->tls_proxy && (files || cfg->tls_generate)) {
        where_key(w, "proxy");
        return "proxy says a proxy in front terminates TLS, so authflowd serves plain http: "
               "drop it, or drop cert_file/key_file/generate";
    }
    if ((cfg->tls_ca_file != NULL || cfg->tls_names.n > 0) && !cfg->tls_generate) {
        where_key(w, cfg->tls_ca_file != NULL ? "ca_file" : "names");
        return "only used with generate";
    }
    if ((files || cfg->tls_generate) && cfg->issuer != NULL &&
        strncmp(cfg->issuer, "http://", 7) == 0) {
        w->n = 0;
        where_key(w, "issuer");
        return "an http:// issuer on a listener that serves https (tls): write https://";
    }
    if (!resolve_path(c, &cfg->tls_cert_file) || !resolve_path(c, &cfg->tls_key_file) ||
        !resolve_path(c, &cfg->tls_ca_file))
        return "out of memory";
    for (n = 0; files && n < 2; n++) {
        const char *f = n == 0 ? cfg->tls_cert_file : cfg->tls_key_file;
        if (access(f, R_OK) != 0) {
            int e = errno;
            where_key(w, n == 0 ? "cert_file" : "key_file");
            snprintf(c->msg, sizeof(c->msg), "cannot read %s: %s", quoted(c, f), strerror(e));
            return c->msg;
        }
    }
    if (!cfg->tls_generate)
        return NULL;
    if (cfg->tls_ca_file == NULL) {
        dir = state_dir(&nomem);
        if (dir == NULL) {
            where_key(w, "generate");
            c->vrc = nomem ? AF_ERR_NOMEM : AF_ERR_INVALID;
            return nomem ? "out of memory"
                         : "no folder for the local CA: set " AF_CFG_ENV_STATE_DIR
                           " (or XDG_STATE_HOME or HOME), or give ca_file";
        }
        if (asprintf(&cfg->tls_ca_file, "%s/" AF_CFG_TLS_CA_NAME ".pem", dir) < 0)
            cfg->tls_ca_file = NULL;
    }
    /* the CA's key beside its certificate: "x.pem" -> "x-key.pem" */
    n = cfg->tls_ca_file != NULL ? strlen(cfg->tls_ca_file) : 0;
    if (n > 4 && strcmp(cfg->tls_ca_file + n - 4, ".pem") == 0) {
        if (asprintf(&cfg->tls_ca_key_file, "%.*s-key.pem", (int)(n - 4), cfg->tls_ca_file) < 0)
            cfg->tls_ca_key_file = NULL;
    } else if (n > 0 && asprintf(&cfg->tls_ca_key_file, "%s.key", cfg->tls_ca_file) < 0) {
        cfg->tls_ca_key_file = NULL;
    }
    if (cfg->tls_ca_file == NULL || cfg->tls_ca_key_file == NULL) {
        c->vrc = AF_ERR_NOMEM;
        m = "out of memory";
    }
    free(dir);
    return m;
}

/* issuer_validate: the checks of one issuer's own keys (the top level's,
 * or an element of issuers, whose JSON object obj is): the default key,
 * generated key files, distinct kids, client ids, subs and usernames, the
 * default user, a user for the grants that log one in, and the queued
 * scenarios. w holds the steps to the issuer's object and only grows from
 * there. */
static const char *issuer_validate(struct cfg_ctx *c, const json_t *obj, struct af_config *cfg,
                                   struct cfg_where *w)
{
    const size_t at = w->n;
    const char *m;
    size_t i, j;

    if (json_object_get(obj, "keys") == NULL) {
        /* One generated RS256 key: the algorithm every client supports. */
        cfg->keys = calloc(1, sizeof(*cfg->keys));
        if (cfg->keys == NULL) {
            c->vrc = AF_ERR_NOMEM;
            return "out of memory";
        }
        cfg->nkeys = 1;
        cfg->keys[0].alg = AF_ALG_RS256;
    }
    m = key_files(c, cfg, w);
    if (m != NULL)
        return m;
    w->n = at;
    for (j = 0; j < cfg->nkeys; j++) {
        for (i = 0; cfg->keys[j].kid != NULL && i < j; i++) {
            if (cfg->keys[i].kid != NULL && strcmp(cfg->keys[i].kid, cfg->keys[j].kid) == 0) {
                where_key(where_index(where_key(w, "keys"), j), "kid");
                snprintf(c->msg, sizeof(c->msg), "duplicate of keys[%zu].kid: %s", i,
                         quoted(c, cfg->keys[j].kid));
                return c->msg;
            }
        }
    }
    for (j = 0; j < cfg->nclients; j++) {
        for (i = 0; i < j; i++) {
            if (strcmp(cfg->clients[i].id, cfg->clients[j].id) == 0) {
                where_key(where_index(where_key(w, "clients"), j), "client_id");
                snprintf(c->msg, sizeof(c->msg), "duplicate of clients[%zu].client_id: %s", i,
                         quoted(c, cfg->clients[j].id));
                return c->msg;
            }
        }
    }
    for (j = 0; j < cfg->nusers; j++) {
        for (i = 0; i < j; i++) {
            const char *what = NULL;
            if (strcmp(cfg->users[i].sub, cfg->users[j].sub) == 0)
                what = "sub";
            else if (strcmp(cfg->users[i].username, cfg->users[j].username) == 0)
                what = "username";
            if (what != NULL) {
                where_key(where_index(where_key(w, "users"), j), what);
                snprintf(c->msg, sizeof(c->msg), "duplicate of users[%zu].%s: %s", i, what,
                         quoted(c, what[0] == 's' ? cfg->users[j].sub : cfg->users[j].username));
                return c->msg;
            }
        }
    }
    if (cfg->default_user != NULL) {
        for (i = 0; i < cfg->nusers; i++) {
            if (strcmp(cfg->users[i].username, cfg->default_user) == 0)
                break;
        }
        if (i == cfg->nusers) {
            where_key(where_key(w, "login"), "default_user");
            snprintf(c->msg, sizeof(c->msg),
                     "names no user (expected the username of one of users[], got %s)",
                     quoted(c, cfg->default_user));
            return c->msg;
        }
    }
    for (i = 0; cfg->nusers == 0 && i < cfg->nclients; i++) {
        unsigned need = cfg->clients[i].grant_types &
                        (unsigned)(AF_GRANT_AUTHORIZATION_CODE | AF_GRANT_PASSWORD);
        if (need != 0) {
            where_key(w, "users");
            snprintf(c->msg, sizeof(c->msg),
                     "at least one user is needed (clients[%zu] %s has the %s grant)", i,
                     quoted(c, cfg->clients[i].id),
                     grant_name(need & AF_GRANT_AUTHORIZATION_CODE ? AF_GRANT_AUTHORIZATION_CODE
                                                                   : AF_GRANT_PASSWORD));
            return c->msg;
        }
    }
    return scenarios_validate(c, cfg, w);
}

/* inherit: what an element of issuers takes from the top level, borrowed
 * (cfg.h): everything but the keys of issuer_rows. */
static void inherit(struct af_config *el, const struct af_config *top)
{
    el->source = top->source;
    el->listen = top->listen;
    el->max_body = top->max_body;
    el->max_params = top->max_params;
    el->max_codes = top->max_codes;
    el->max_tokens = top->max_tokens;
    el->threads = top->threads;
    el->request_timeout = top->request_timeout;
    el->max_delay_ms = top->max_delay_ms;
    el->admin_enabled = top->admin_enabled;
    el->admin_listen = top->admin_listen;
    el->admin_secret = top->admin_secret;
    el->admin_allow_remote = top->admin_allow_remote;
    el->admin_hosts = top->admin_hosts;
    el->ledger_max_entries = top->ledger_max_entries;
    el->tls_cert_file = top->tls_cert_file;
    el->tls_key_file = top->tls_key_file;
    el->tls_generate = top->tls_generate;
    el->tls_ca_file = top->tls_ca_file;
    el->tls_names = top->tls_names;
    el->tls_proxy = top->tls_proxy;
    el->store_redis = top->store_redis;
    el->store_prefix = top->store_prefix;
    el->store_timeout_ms = top->store_timeout_ms;
}

/* path_within: whether path a is b or lies under it ("/a/b" under "/a"). */
static bool path_within(const char *a, const char *b)
{
    size_t n = strlen(b);
    return strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/');
}

/* issuers_validate: every element of issuers inherits the process-wide
 * values and passes issuer_validate; no path is another's or lies under
 * another's, so a request names one issuer only. */
static const char *issuers_validate(struct cfg_ctx *c, const json_t *obj, struct af_config *cfg,
                                    struct cfg_where *w)
{
    const json_t *arr = json_object_get(obj, "issuers");
    const char *m;
    size_t i, j;

    for (j = 0; j < cfg->nissuers; j++) {
        struct af_config *el = &cfg->issuers[j];
        for (i = 0; i < j; i++) {
            const char *p = cfg->issuers[i].path;
            if (path_within(el->path, p) || path_within(p, el->path)) {
                where_index(where_key(w, "issuers"), j);
                where_key(w, "path");
                snprintf(c->msg, sizeof(c->msg),
                         "%s issuers[%zu].path %s (a request must name one issuer)",
                         strcmp(el->path, p) == 0   ? "duplicate of"
                         : path_within(el->path, p) ? "lies under"
                                                    : "contains",
                         i, quoted(c, p));
                return c->msg;
            }
        }
        for (i = 0; el->own_listen != NULL && !listen_port_zero(el->own_listen) && i <= j; i++) {
            const char *other = i < j ? cfg->issuers[i].own_listen : cfg->listen;
            const char *what = i < j ? "another issuer's listen" : "the top level's listen";
            if (other == NULL || strcmp(other, el->own_listen) != 0) {
                if (i == j && cfg->admin_enabled && strcmp(cfg->admin_listen, el->own_listen) == 0)
                    what = "admin.listen";
                else
                    continue;
            }
            where_index(where_key(w, "issuers"), j);
            where_key(w, "listen");
            snprintf(c->msg, sizeof(c->msg),
                     "the same address as %s: %s (an issuer with a listen address needs a "
                     "port of its own)",
                     what, quoted(c, el->own_listen));
            return c->msg;
        }
        inherit(el, cfg);
        w->n = 0;
        where_index(where_key(w, "issuers"), j);
        m = issuer_validate(c, json_array_get(arr, j), el, w);
        if (m != NULL)
            return m;
    }
    return NULL;
}

static const char *root_validate(struct cfg_ctx *c, const json_t *obj, void *base,
                                 struct cfg_where *w)
{
    struct af_config *cfg = base;
    const char *m;

    m = tls_validate(c, cfg, w);
    if (m != NULL)
        return m;
    w->n = 0;
    m = issuer_validate(c, obj, cfg, w);
    if (m != NULL)
        return m;
    w->n = 0;
    m = admin_validate(c, cfg, w);
    if (m != NULL)
        return m;
    w->n = 0;
    return issuers_validate(c, obj, cfg, w);
}

/* ---- loading ---- */

/* jansson's own position, plus the key path from jsonpos (jansson knows
 * only the offset) and a plainer word for the two most common mistakes. */
static af_rc syntax_error(struct cfg_ctx *c, const json_error_t *je)
{
    char path[160];
    const char *what = "syntax error: ";
    size_t off = je->position > 0 ? (size_t)je->position : 0;
    int line = je->line > 0 ? je->line : 1, col = je->column > 0 ? je->column : 1;

    af_jsonpos_path_at(c->text, c->len, off, path, sizeof(path));
    if (json_error_code(je) == json_error_duplicate_key) {
        return AF_ERR_SET(c->err, AF_ERR_PARSE, "%s:%d:%d: %s: duplicate key (%s)", c->source, line,
                          col, path[0] ? path : "(top level)", je->text);
    }
    if (off > 0 && off <= c->len && (c->text[off - 1] == '}' || c->text[off - 1] == ']')) {
        size_t i = off - 1;
        while (i > 0 && (c->text[i - 1] == ' ' || c->text[i - 1] == '\t' ||
                         c->text[i - 1] == '\r' || c->text[i - 1] == '\n'))
            i--;
        if (i > 0 && c->text[i - 1] == ',')
            what = "syntax error: trailing comma: ";
    }
    return AF_ERR_SET(c->err, AF_ERR_PARSE, "%s:%d:%d: %s: %s%s", c->source, line, col,
                      path[0] ? path : "(top level)", what, je->text);
}

static af_rc load_text(const char *text, size_t len, const char *source, const char *dir,
                       struct af_config **out, struct af_err *err)
{
    struct cfg_ctx c;
    json_error_t je;
    json_t *root = NULL;
    struct af_config *cfg = NULL;
    af_rc rc;

    memset(&c, 0, sizeof(c));
    c.source = source;
    c.text = text;
    c.len = len;
    c.dir = dir;
    c.err = err;
    cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "%s: out of memory", source);
        goto out;
    }
    cfg->source = strdup(source);
    if (cfg->source == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "%s: out of memory", source);
        goto out;
    }
    rc = apply_defaults(&c, &root_table, (char *)cfg);
    if (rc != AF_OK)
        goto out;
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        rc = syntax_error(&c, &je);
        goto out;
    }
    if (!json_is_object(root)) {
        rc = cfg_fail(&c, NULL, AF_ERR_INVALID, "wrong type (expected an object, got %s)",
                      json_kind(root));
        goto out;
    }
    rc = parse_table(&c, &root_table, root, (char *)cfg);
    if (rc != AF_OK)
        goto out;
    *out = cfg;
    cfg = NULL;
out:
    json_decref(root);
    af_cfg_free(cfg);
    return rc;
}

/* parse_element: one object of table t (an element of "clients" or
 * "users") from text, read and validated as the loader reads one in a
 * file. *out is a calloc'd struct of t->size; NULL on error. */
static af_rc parse_element(const char *text, size_t len, const char *source,
                           const struct cfg_table *t, const char *what, void **out,
                           struct af_err *err)
{
    struct cfg_ctx c;
    json_error_t je;
    json_t *root = NULL;
    char *base = NULL;
    af_rc rc;

    *out = NULL;
    memset(&c, 0, sizeof(c));
    c.source = source;
    c.text = text;
    c.len = len;
    c.err = err;
    if (len > AF_CFG_MAX_FILE) {
        rc = AF_ERR_SET(err, AF_ERR_TOOBIG, "%s: larger than %d bytes", source, AF_CFG_MAX_FILE);
        goto out;
    }
    base = calloc(1, t->size);
    if (base == NULL) {
        rc = cfg_nomem(&c);
        goto out;
    }
    rc = apply_defaults(&c, t, base);
    if (rc != AF_OK)
        goto out;
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        rc = syntax_error(&c, &je);
        goto out;
    }
    if (!json_is_object(root)) {
        rc = cfg_fail(&c, NULL, AF_ERR_INVALID, "wrong type (expected %s object, got %s)", what,
                      json_kind(root));
        goto out;
    }
    rc = parse_table(&c, t, root, base);
    if (rc != AF_OK)
        goto out;
    *out = base;
    base = NULL;
out:
    json_decref(root);
    if (base != NULL) {
        free_table(t, base);
        free(base);
    }
    return rc;
}

af_rc af_cfg_client_parse(const char *text, size_t len, const char *source,
                          struct af_cfg_client **out, struct af_err *err)
{
    return parse_element(text, len, source, &client_table, "a client", (void **)out, err);
}

af_rc af_cfg_user_parse(const char *text, size_t len, const char *source, struct af_cfg_user **out,
                        struct af_err *err)
{
    return parse_element(text, len, source, &user_table, "a user", (void **)out, err);
}

void af_cfg_client_free(struct af_cfg_client *cl)
{
    if (cl == NULL)
        return;
    free_table(&client_table, (char *)cl);
    free(cl);
}

void af_cfg_user_free(struct af_cfg_user *u)
{
    if (u == NULL)
        return;
    free_table(&user_table, (char *)u);
    free(u);
}

af_rc af_cfg_load_string(const char *text, const char *name, struct af_config **out,
                         struct af_err *err)
{
    size_t len;

    *out = NULL;
    if (name == NULL)
        name = "<string>";
    len = strnlen(text, (size_t)AF_CFG_MAX_FILE + 1);
    if (len > AF_CFG_MAX_FILE)
        return AF_ERR_SET(err, AF_ERR_TOOBIG, "%s: larger than %d bytes (AF_CFG_MAX_FILE)", name,
                          AF_CFG_MAX_FILE);
    return load_text(text, len, name, NULL, out, err);
}

af_rc af_cfg_load_file(const char *path, struct af_config **out, struct af_err *err)
{
    struct af_buf b;
    char chunk[16384];
    char *dir = NULL;
    const char *slash;
    FILE *f = NULL;
    af_rc rc;

    *out = NULL;
    af_buf_init(&b, AF_CFG_MAX_FILE);
    f = fopen(path, "rb");
    if (f == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        goto out;
    }
    /* Read with the cap rather than trusting a size from stat(): the file
     * may be a pipe, or grow while it is read. */
    for (;;) {
        size_t n = fread(chunk, 1, sizeof(chunk), f);
        if (n > 0) {
            rc = af_buf_add(&b, chunk, n);
            if (rc == AF_ERR_TOOBIG) {
                rc = AF_ERR_SET(err, rc, "%s: larger than %d bytes (AF_CFG_MAX_FILE)", path,
                                AF_CFG_MAX_FILE);
                goto out;
            }
            if (rc != AF_OK) {
                rc = AF_ERR_SET(err, rc, "%s: out of memory", path);
                goto out;
            }
        }
        if (n < sizeof(chunk)) {
            if (ferror(f)) {
                rc = AF_ERR_SET(err, AF_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
                goto out;
            }
            break;
        }
    }
    slash = strrchr(path, '/');
    if (slash != NULL) {
        dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
        if (dir == NULL) {
            rc = AF_ERR_SET(err, AF_ERR_NOMEM, "%s: out of memory", path);
            goto out;
        }
    }
    rc = load_text(af_buf_str(&b), b.len, path, dir, out, err);
out:
    if (f != NULL)
        fclose(f);
    free(dir);
    af_buf_free(&b);
    return rc;
}

void af_cfg_free(struct af_config *cfg)
{
    if (cfg == NULL)
        return;
    free_table(&root_table, (char *)cfg);
    free(cfg->tls_ca_key_file);
    free(cfg->source);
    free(cfg);
}

/* ---- lookups ---- */

const struct af_cfg_client *af_cfg_client_find(const struct af_config *cfg, const char *id)
{
    if (cfg == NULL || id == NULL)
        return NULL;
    for (size_t i = 0; i < cfg->nclients; i++) {
        if (strcmp(cfg->clients[i].id, id) == 0)
            return &cfg->clients[i];
    }
    return NULL;
}

const struct af_cfg_user *af_cfg_user_find(const struct af_config *cfg, const char *name)
{
    size_t i;

    if (cfg == NULL || name == NULL)
        return NULL;
    for (i = 0; i < cfg->nusers; i++) {
        if (strcmp(cfg->users[i].username, name) == 0)
            return &cfg->users[i];
    }
    for (i = 0; i < cfg->nusers; i++) {
        if (strcmp(cfg->users[i].sub, name) == 0)
            return &cfg->users[i];
    }
    return NULL;
}

bool af_cfg_strlist_has(const struct af_strlist *l, const char *s)
{
    if (l == NULL || s == NULL)
        return false;
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i], s) == 0)
            return true;
    }
    return false;
}

/* listen_host: the host part of a listen value already checked by
 * check_listen, into buf; false when it does not fit. */
static bool listen_host(const char *listen, char *buf, size_t cap)
{
    const char *start = listen, *end;

    if (listen[0] == '[') {
        start = listen + 1;
        end = strchr(start, ']');
    } else {
        end = strrchr(listen, ':');
    }
    if (end == NULL || (size_t)(end - start) >= cap)
        return false;
    memcpy(buf, start, (size_t)(end - start));
    buf[end - start] = '\0';
    return true;
}

bool af_cfg_listen_is_loopback(const char *listen)
{
    char host[INET6_ADDRSTRLEN + 1];
    struct in_addr a4;
    struct in6_addr a6;

    if (listen == NULL || !listen_host(listen, host, sizeof(host)))
        return false;
    if (strcasecmp(host, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127; /* 127.0.0.0/8, RFC 1122 §3.2.1.3 */
    if (listen[0] == '[' && inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return false;
}

/* ---- key paths, for documentation checks ---- */

/* An element of issuers has the top level's own keys (ISSUER_ROWS), which
 * are documented once, at the top: the walk shows only its path. */
static int keys_walk(const struct cfg_table *t, char *buf, size_t len, size_t cap, af_cfg_key_fn fn,
                     void *arg)
{
    for (const struct cfg_row *r = t->rows; r->name != NULL; r++) {
        int k, rc;
        if (t == &issuer_table && r->off != CF(own_listen) &&
            row_find(&root_table, r->name) != NULL)
            continue;
        k = snprintf(buf + len, cap - len, "%s%s", len > 0 ? "." : "", r->name);
        if (k < 0 || (size_t)k >= cap - len)
            return -1;
        rc = fn(buf, arg);
        if (rc == 0 && r->type == T_GROUP)
            rc = keys_walk(r->sub, buf, len + (size_t)k, cap, fn, arg);
        if (rc == 0 && r->type == T_ARRAY) {
            if (len + (size_t)k + 3 > cap)
                return -1;
            memcpy(buf + len + k, "[]", 3);
            rc = keys_walk(r->sub, buf, len + (size_t)k + 2, cap, fn, arg);
        }
        buf[len] = '\0';
        if (rc != 0)
            return rc;
    }
    return 0;
}

int af_cfg_keys_foreach(af_cfg_key_fn fn, void *arg)
{
    char buf[128] = "";
    return keys_walk(&root_table, buf, 0, sizeof(buf), fn, arg);
}
