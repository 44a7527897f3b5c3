/*
 * cfg.h - authflowd's configuration: a JSON file read with jansson against a
 * table of keys (name, type, bounds, default). Unknown keys are rejected and
 * every error names file:line:column and the key path.
 *
 * A struct af_config and everything it points to is owned by the config;
 * af_cfg_free() releases it all.
 */
#ifndef AUTHFLOW_CFG_H
#define AUTHFLOW_CFG_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "authflow/jose.h"
#include "authflow/rc.h"

/* The largest config file accepted. */
#define AF_CFG_MAX_FILE (1024 * 1024)

/* Grant types a client may use (bit set). */
enum {
    AF_GRANT_AUTHORIZATION_CODE = 1u << 0,
    AF_GRANT_REFRESH_TOKEN = 1u << 1,
    AF_GRANT_CLIENT_CREDENTIALS = 1u << 2,
    AF_GRANT_PASSWORD = 1u << 3,
};

/* How a client authenticates at the token endpoint. */
typedef enum {
    AF_CLIENT_AUTH_BASIC = 0, /* client_secret_basic (default with a secret) */
    AF_CLIENT_AUTH_POST,      /* client_secret_post */
    AF_CLIENT_AUTH_NONE,      /* public client (default without a secret) */
} af_client_auth;

/* "application_type" (OIDC Registration §2): a native app's loopback IP
 * redirect URIs match whatever port the request names (RFC 8252 §7.3). */
typedef enum {
    AF_APP_WEB = 0, /* web (the default): exact match, ports included */
    AF_APP_NATIVE,  /* native: the loopback port exception */
} af_app_type;

/* "persona": the dialect the issuer speaks (docs/personas.md); the
 * server's table of dialect choices is src/server/persona.c. */
typedef enum {
    AF_PERSONA_STANDARD = 0, /* OAuth 2.0 / OpenID Connect as the RFCs say */
    AF_PERSONA_TIKTOK,       /* TikTok Login Kit v2 */
    AF_PERSONA_GITHUB,       /* GitHub OAuth apps */
    AF_PERSONA_GOOGLE,       /* Google's OAuth 2.0 for web server apps and OpenID Connect */
} af_persona_kind;

struct af_strlist {
    char **v; /* owned */
    size_t n;
};

struct af_cfg_client {
    char *id;
    char *name;                         /* display name; may be NULL */
    char *secret;                       /* NULL for a public client */
    af_client_auth auth_method;         /* "token_endpoint_auth_method" */
    af_app_type app_type;               /* "application_type" */
    struct af_strlist redirect_uris;    /* exact match; empty without authorization_code */
    struct af_strlist post_logout_uris; /* "post_logout_redirect_uris" */
    struct af_strlist scopes;           /* scopes the client may ask for */
    unsigned grant_types;               /* AF_GRANT_* bits */
    bool require_pkce;                  /* default: true for public clients */
    bool allow_plain_pkce;              /* default: false (S256 only) */
    struct af_strlist access_claims;    /* "access_token_claims": user claims copied into
                                           the access tokens of a user's login */
    struct af_strlist audience;         /* "access_token_audience": the access tokens' aud
                                           (RFC 9068 §3: the resource); never empty, the
                                           loader puts the client_id when it is absent */
};

struct af_cfg_user {
    char *sub;      /* subject identifier */
    char *username; /* what login_hint and the login page use */
    char *password; /* for the password grant and the login form; may be NULL */
    json_t *claims; /* extra claims (email, name, roles, groups...): owned reference, object */
};

/* The environment variable naming the folder of generated keys that have
 * no pem_file (keys[].generate); unset: $XDG_STATE_HOME/authflow, else
 * $HOME/.local/state/authflow. */
#define AF_CFG_ENV_STATE_DIR "AUTHFLOW_STATE_DIR"
/* The generated local CA's files in that folder (tls.generate without
 * tls.ca_file): NAME.pem, the certificate clients trust, and NAME-key.pem. */
#define AF_CFG_TLS_CA_NAME "tls-ca"

struct af_cfg_key {
    af_alg alg;
    char *pem_file; /* NULL: generated at start, in memory only; relative
                       paths are resolved against the config file's folder.
                       With generate, the loader fills it in when absent
                       (the state folder, AF_CFG_ENV_STATE_DIR), unless
                       store.redis keeps the key (then it stays NULL) */
    char *kid;      /* NULL: the RFC 7638 thumbprint */
    bool generate;  /* "generate": pem_file is written at start when missing
                       (af_key_load_or_create), so the key survives restarts */
};

/* A scenario queued when the server starts ("scenarios", docs/scenarios.md).
 * The loader checks client and user; the server checks the name against its
 * scenario table (authflowd --check-config does both). */
struct af_cfg_scenario {
    char *name;
    char *client;  /* client_id; NULL: any client */
    char *user;    /* username or sub; NULL: any user */
    long times;    /* uses; 0: until cleared (default 1) */
    long delay_ms; /* token_delay, jwks_slow; -1: the default */
};

struct af_config {
    char *source;            /* the file it was read from, or "<string>" */
    char *issuer;            /* NULL: derived from the bound address */
    char *listen;            /* "127.0.0.1:9000" */
    af_persona_kind persona; /* "persona", default AF_PERSONA_STANDARD */
    struct af_cfg_key *keys; /* keys[0] signs; all are published */
    size_t nkeys;
    long code_ttl;          /* seconds, default 60 */
    long access_token_ttl;  /* default 3600 */
    long id_token_ttl;      /* default 3600 */
    long refresh_token_ttl; /* default 86400 */
    long session_ttl;       /* login sessions; default 28800 (8 h) */
    bool interactive_login; /* show a login page instead of auto-approving */
    char *default_user;     /* username approved headless; NULL: the first user */
    struct af_cfg_client *clients;
    size_t nclients;
    struct af_cfg_user *users;
    size_t nusers;
    /* limits */
    size_t max_body;   /* request body bytes, default 64 KiB */
    size_t max_params; /* parameters per request, default 64 */
    size_t max_codes;  /* live authorization codes, default 10000 */
    size_t max_tokens; /* live access + refresh tokens, default 100000 */
    unsigned threads;  /* server worker threads, default 4 */
    unsigned
        request_timeout; /* "limits.request_timeout": seconds for a whole request, default 30 */
    /* the admin API ("admin": token minting; off by default) */
    bool admin_enabled;
    char *admin_listen;            /* "127.0.0.1:9001"; loopback unless admin_allow_remote */
    char *admin_secret;            /* NULL: no bearer secret asked for */
    bool admin_allow_remote;       /* allow a non-loopback admin_listen */
    struct af_strlist admin_hosts; /* "admin.hosts": more Host names the admin API answers */
    /* scenarios and the request ledger */
    struct af_cfg_scenario *scenarios; /* queued at start, in order */
    size_t nscenarios;
    size_t ledger_max_entries; /* "ledger.max_entries", default 1000; 0: no ledger */
    long max_delay_ms;         /* "limits.max_delay_ms": cap of scenario delays, default 10000 */
    /* HTTPS on the main listener ("tls"; the admin API stays plain http on
     * loopback). At most one of: a certificate and key from files, or a
     * certificate made at start by a local CA (generate), or none. */
    char *tls_cert_file;         /* PEM chain, the server certificate first */
    char *tls_key_file;          /* its unencrypted PEM private key */
    bool tls_generate;           /* sign a certificate at start with the local CA */
    char *tls_ca_file;           /* generate: where the CA certificate is (written once);
                                    the loader fills it in when absent (the state folder) */
    char *tls_ca_key_file;       /* generate: the CA's key, beside tls_ca_file (derived by the
                                    loader, not a config key) */
    struct af_strlist tls_names; /* generate: names the certificate carries besides the
                                    listen host, the issuer's host and the loopback names */
    bool tls_proxy;              /* a proxy in front terminates TLS: an https issuer on
                                    this plain listener is intended */
    /* where the state lives ("store", docs/replicas.md): in this process
     * (store_redis NULL, the default) or in Redis, shared by replicas */
    char *store_redis;     /* "store.redis": "redis://[:PASSWORD@]HOST[:PORT][/DB]" or NULL */
    char *store_prefix;    /* "store.prefix": every key's first part, default "authflow" */
    long store_timeout_ms; /* "store.timeout_ms": connect and command timeout, default 1000 */
    /* several issuers in one process ("issuers", docs/issuers.md). An
     * element of issuers has its own persona, keys, clients, users,
     * lifetimes, login and scenarios; everything else in it (source,
     * listen, limits, admin, ledger, tls) is the top level's, borrowed,
     * and never freed through the element. Elements have no issuers. */
    char *path;                /* an element's path under the top-level issuer
                                  ("/tenant-a"); NULL at the top level */
    char *own_listen;          /* an element's "listen": served on that address of its
                                  own, at its root, instead of under path on the top
                                  level's listener; NULL otherwise (and at the top) */
    struct af_config *issuers; /* owned, nissuers elements */
    size_t nissuers;
};

/* A Redis address as store.redis names it (af_cfg_redis_parse). */
#define AF_REDIS_HOST_MAX     255
#define AF_REDIS_PASSWORD_MAX 255
struct af_redis_addr {
    char host[AF_REDIS_HOST_MAX + 1];         /* a name, IPv4 or IPv6 address (no brackets) */
    unsigned port;                            /* default 6379 */
    char user[AF_REDIS_PASSWORD_MAX + 1];     /* ACL user (Redis 6+); "" for none */
    char password[AF_REDIS_PASSWORD_MAX + 1]; /* "" for none; percent-decoded */
    unsigned db;                              /* SELECT index, default 0 */
};

/* af_cfg_redis_parse: "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]" into
 * *out. NULL on success, else a static reason (rediss:// is refused: the
 * hiredis of Debian 12 has no TLS). */
const char *af_cfg_redis_parse(const char *url, struct af_redis_addr *out);

/* af_cfg_load_file: read and validate path. On error *out is NULL and
 * err->msg reads "path:line:column: key.path: what is wrong". Caller frees
 * *out with af_cfg_free(). */
af_rc af_cfg_load_file(const char *path, struct af_config **out, struct af_err *err) AF_WARN_UNUSED;

/* af_cfg_load_string: as af_cfg_load_file over text; name is used in
 * messages (and relative key paths resolve against the current folder). */
af_rc af_cfg_load_string(const char *text, const char *name, struct af_config **out,
                         struct af_err *err) AF_WARN_UNUSED;

/* af_cfg_free: NULL is a no-op. */
void af_cfg_free(struct af_config *cfg);

/* af_cfg_client_parse / af_cfg_user_parse: one element of "clients" /
 * "users" from the JSON text[0..len) (the admin API's request body), read
 * with the loader's own rules, defaults and messages ("SOURCE:1:15:
 * redirect_uris: ..."). The checks across elements (unique ids, a user
 * for the code grant) are the caller's. Caller frees *out with
 * af_cfg_client_free / af_cfg_user_free; NULL on error. */
af_rc af_cfg_client_parse(const char *text, size_t len, const char *source,
                          struct af_cfg_client **out, struct af_err *err) AF_WARN_UNUSED;
af_rc af_cfg_user_parse(const char *text, size_t len, const char *source, struct af_cfg_user **out,
                        struct af_err *err) AF_WARN_UNUSED;

/* af_cfg_client_free / af_cfg_user_free: an element parsed alone; NULL is
 * a no-op. Never for the elements of a struct af_config. */
void af_cfg_client_free(struct af_cfg_client *cl);
void af_cfg_user_free(struct af_cfg_user *u);

/* af_cfg_client_find: borrowed, valid while cfg lives; NULL if unknown. */
const struct af_cfg_client *af_cfg_client_find(const struct af_config *cfg, const char *id);

/* af_cfg_user_find: by username, then by sub. Borrowed; NULL if unknown. */
const struct af_cfg_user *af_cfg_user_find(const struct af_config *cfg, const char *name);

/* af_cfg_strlist_has: exact string match. */
bool af_cfg_strlist_has(const struct af_strlist *l, const char *s);

/* af_cfg_listen_is_loopback: true when listen ("host:port" or
 * "[v6]:port") names a loopback host: 127.0.0.0/8, ::1 or "localhost".
 * Anything else, a wildcard address or another name included, is not. */
bool af_cfg_listen_is_loopback(const char *listen);

/* af_cfg_key_alg_parse: name as keys[].alg reads it (the same accepted
 * and refused values, the same words): NULL with *out set, or the message
 * ("unknown value (expected ...)", "\"HS256\" is refused: ...") written
 * to buf (cap bytes) and returned. For the admin API's POST /admin/keys. */
const char *af_cfg_key_alg_parse(const char *name, af_alg *out, char *buf, size_t cap);

/* af_cfg_keys_foreach: call fn once for every key the loader accepts, in
 * table order, with its path: "listen", "login", "limits.max_body",
 * "clients[].redirect_uris" ("[]" stands for every element of an array).
 * The paths come from the loader's own tables, so a documentation check
 * built on this cannot drift from what is parsed. path is borrowed, valid
 * during the call only. Stops at the first nonzero value fn returns and
 * returns it; 0 once every key was visited. */
typedef int (*af_cfg_key_fn)(const char *path, void *arg);
int af_cfg_keys_foreach(af_cfg_key_fn fn, void *arg);

#endif
