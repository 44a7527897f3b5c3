/*
 * check_cfg.c - unit tests of the configuration loader (src/cfg): the
 * shipped config, the negative corpus in tests/data/cfg/ (one file per bad
 * config, each with the exact line:column and key path it must report),
 * inline syntax, type, range and unknown-key errors, defaults, pem_file
 * resolution, lookups, the jsonpos scanner, and that docs/config.md
 * documents every key.
 *
 * Files are found under $AF_SRCDIR (set by `make check`), else ".".
 */
#include "config.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "authflow/cfg.h"
#include "authflow/jsonpos.h"

static const char *srcdir(void)
{
    const char *d = getenv("AF_SRCDIR");
    return d != NULL && d[0] != '\0' ? d : ".";
}

/* A path under the source tree; caller frees. */
static char *src_path(const char *rel)
{
    char *p = NULL;
    ck_assert_int_ge(asprintf(&p, "%s/%s", srcdir(), rel), 0);
    return p;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

/* A fresh folder under $TMPDIR (else /tmp); caller removes it and frees. */
static char *make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *dir = NULL;
    ck_assert_int_ge(asprintf(&dir, "%s/check_cfg_XXXXXX", base != NULL && base[0] ? base : "/tmp"),
                     0);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    return dir;
}

/* Load text that must fail with rc and a message containing want. */
static void expect_fail(const char *text, af_rc want_rc, const char *want)
{
    struct af_config *cfg = (struct af_config *)1;
    struct af_err err = {0};
    af_rc rc = af_cfg_load_string(text, "inline", &cfg, &err);

    ck_assert_msg(rc == want_rc, "%s: rc %s (expected %s), message: %s", text, af_rc_str(rc),
                  af_rc_str(want_rc), err.msg);
    ck_assert_ptr_null(cfg);
    ck_assert_msg(strstr(err.msg, want) != NULL, "message \"%s\" (expected to contain \"%s\")",
                  err.msg, want);
}

static struct af_config *expect_load(const char *text)
{
    struct af_config *cfg = NULL;
    struct af_err err = {0};
    af_rc rc = af_cfg_load_string(text, "inline", &cfg, &err);
    ck_assert_msg(rc == AF_OK, "%s: %s", text, err.msg);
    ck_assert_ptr_nonnull(cfg);
    return cfg;
}

static char *join_list(const struct af_strlist *l)
{
    size_t cap = 1;
    char *s;
    for (size_t i = 0; i < l->n; i++)
        cap += strlen(l->v[i]) + 1;
    s = calloc(1, cap);
    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i < l->n; i++) {
        if (i > 0)
            strcat(s, " ");
        strcat(s, l->v[i]);
    }
    return s;
}

/* ---- the shipped config ---- */

static const struct {
    const char *id;
    const char *secret;
    af_client_auth auth;
    unsigned grants;
    const char *redirects; /* space-joined */
    const char *post_logout;
    const char *scope;
    bool require_pkce;
} shipped_clients[] = {
    {"demo-app", "demo-app-secret", AF_CLIENT_AUTH_BASIC,
     AF_GRANT_AUTHORIZATION_CODE | AF_GRANT_REFRESH_TOKEN,
     "http://127.0.0.1:8080/callback http://localhost:8080/callback",
     "http://127.0.0.1:8080/ http://localhost:8080/",
     "openid profile email address phone offline_access roles", false},
    {"demo-spa", NULL, AF_CLIENT_AUTH_NONE, AF_GRANT_AUTHORIZATION_CODE | AF_GRANT_REFRESH_TOKEN,
     "http://127.0.0.1:5173/callback", "http://127.0.0.1:5173/",
     "openid profile email offline_access", true},
    {"demo-cli", NULL, AF_CLIENT_AUTH_NONE, AF_GRANT_AUTHORIZATION_CODE | AF_GRANT_REFRESH_TOKEN,
     "http://127.0.0.1/callback", "", "openid profile email offline_access", true},
    {"demo-service", "demo-service-secret", AF_CLIENT_AUTH_BASIC, AF_GRANT_CLIENT_CREDENTIALS, "",
     "", "api.read api.write", false},
    {"legacy-app", "legacy-app-secret", AF_CLIENT_AUTH_BASIC,
     AF_GRANT_PASSWORD | AF_GRANT_REFRESH_TOKEN, "", "", "openid profile email offline_access",
     false},
    {"test-client", "test-client-secret", AF_CLIENT_AUTH_BASIC,
     AF_GRANT_AUTHORIZATION_CODE | AF_GRANT_REFRESH_TOKEN, "http://127.0.0.1:8765/callback", "",
     "openid profile email address phone offline_access roles", false},
    {"test-client-2", "test-client-2-secret", AF_CLIENT_AUTH_BASIC,
     AF_GRANT_AUTHORIZATION_CODE | AF_GRANT_REFRESH_TOKEN, "http://127.0.0.1:8765/callback", "",
     "openid profile email address phone offline_access roles", false},
    {"test-client-post", "test-client-post-secret", AF_CLIENT_AUTH_POST,
     AF_GRANT_AUTHORIZATION_CODE | AF_GRANT_REFRESH_TOKEN, "http://127.0.0.1:8765/callback", "",
     "openid profile email address phone offline_access roles", false},
};

START_TEST(test_shipped_config)
{
    char *path = src_path("conf/authflowd.json");
    struct af_config *cfg = NULL;
    struct af_err err = {0};
    size_t i;

    ck_assert_msg(af_cfg_load_file(path, &cfg, &err) == AF_OK, "%s", err.msg);
    ck_assert_str_eq(cfg->source, path);
    ck_assert_ptr_null(cfg->issuer);
    ck_assert_str_eq(cfg->listen, "127.0.0.1:9000");
    ck_assert_uint_eq(cfg->nkeys, 2);
    ck_assert_int_eq(cfg->keys[0].alg, AF_ALG_RS256);
    ck_assert_int_eq(cfg->keys[1].alg, AF_ALG_ES256);
    /* both generated once into the state folder (make check sets it) */
    ck_assert(cfg->keys[0].generate && cfg->keys[1].generate);
    ck_assert_ptr_nonnull(cfg->keys[0].pem_file);
    ck_assert_ptr_nonnull(strstr(cfg->keys[0].pem_file, "/rs256.pem"));
    ck_assert_ptr_nonnull(strstr(cfg->keys[1].pem_file, "/es256.pem"));
    ck_assert_ptr_null(cfg->keys[0].kid);
    ck_assert(!cfg->interactive_login);
    ck_assert_str_eq(cfg->default_user, "alice");
    ck_assert_int_eq(cfg->code_ttl, 60);
    ck_assert_int_eq(cfg->access_token_ttl, 3600);
    ck_assert_int_eq(cfg->id_token_ttl, 3600);
    ck_assert_int_eq(cfg->refresh_token_ttl, 86400);
    ck_assert_uint_eq(cfg->max_body, 65536);
    ck_assert_uint_eq(cfg->max_params, 64);
    ck_assert_uint_eq(cfg->max_codes, 10000);
    ck_assert_uint_eq(cfg->max_tokens, 100000);
    ck_assert_uint_eq(cfg->threads, 4);
    ck_assert(!cfg->admin_enabled);
    ck_assert_str_eq(cfg->admin_listen, "127.0.0.1:9001");
    ck_assert_ptr_null(cfg->admin_secret);
    ck_assert(!cfg->admin_allow_remote);

    ck_assert_uint_eq(cfg->nclients, sizeof(shipped_clients) / sizeof(shipped_clients[0]));
    for (i = 0; i < cfg->nclients; i++) {
        const struct af_cfg_client *c = &cfg->clients[i];
        char *r = join_list(&c->redirect_uris), *pl = join_list(&c->post_logout_uris),
             *sc = join_list(&c->scopes);
        ck_assert_str_eq(c->id, shipped_clients[i].id);
        ck_assert_pstr_eq(c->secret, shipped_clients[i].secret);
        ck_assert_ptr_nonnull(c->name);
        ck_assert_int_eq(c->auth_method, shipped_clients[i].auth);
        ck_assert_uint_eq(c->grant_types, shipped_clients[i].grants);
        ck_assert_str_eq(r, shipped_clients[i].redirects);
        ck_assert_str_eq(pl, shipped_clients[i].post_logout);
        ck_assert_str_eq(sc, shipped_clients[i].scope);
        ck_assert_msg(c->require_pkce == shipped_clients[i].require_pkce, "%s require_pkce", c->id);
        /* only the command-line app is native (the loopback port exception) */
        ck_assert_int_eq(c->app_type, strcmp(c->id, "demo-cli") == 0 ? AF_APP_NATIVE : AF_APP_WEB);
        ck_assert(!c->allow_plain_pkce);
        /* RFC 9068 §3 aud: the client itself unless configured */
        ck_assert_uint_eq(c->audience.n, 1);
        ck_assert_str_eq(c->audience.v[0], c->id);
        free(r);
        free(pl);
        free(sc);
    }

    ck_assert_uint_eq(cfg->nusers, 2);
    ck_assert_str_eq(cfg->users[0].sub, "u-alice");
    ck_assert_str_eq(cfg->users[0].username, "alice");
    ck_assert_str_eq(cfg->users[0].password, "alice-password");
    ck_assert_str_eq(json_string_value(json_object_get(cfg->users[0].claims, "email")),
                     "alice@example.com");
    ck_assert(json_is_true(json_object_get(cfg->users[0].claims, "email_verified")));
    ck_assert_str_eq(json_string_value(json_object_get(cfg->users[0].claims, "given_name")),
                     "Alice");
    ck_assert_str_eq(json_string_value(json_object_get(cfg->users[0].claims, "family_name")),
                     "Example");
    ck_assert_uint_eq(json_array_size(json_object_get(cfg->users[0].claims, "roles")), 1);
    /* the address and phone scopes have claims to release (AS-71c, AS-71d) */
    ck_assert(json_is_object(json_object_get(cfg->users[0].claims, "address")));
    ck_assert(json_is_string(json_object_get(cfg->users[0].claims, "phone_number")));
    ck_assert(json_is_boolean(json_object_get(cfg->users[0].claims, "phone_number_verified")));
    ck_assert_str_eq(cfg->users[1].sub, "u-bob");
    ck_assert_str_eq(cfg->users[1].password, "bob-password");
    ck_assert_str_eq(
        json_string_value(json_array_get(json_object_get(cfg->users[1].claims, "roles"), 1)),
        "admin");
    af_cfg_free(cfg);
    free(path);
}
END_TEST

/* ---- the negative corpus: tests/data/cfg/NAME.json ---- */

static const struct {
    const char *file;
    af_rc rc;
    const char *want; /* after "DIR/" : "NAME.json:LINE:COL: PATH: what" */
} corpus[] = {
    /* the admin API stays on loopback unless allowed, then needs a secret */
    {"admin-listen-not-loopback.json", AF_ERR_INVALID,
     "admin-listen-not-loopback.json:4:15: admin.listen: not a loopback address: "
     "\"0.0.0.0:9001\" (the admin API mints tokens for any user"},
    {"admin-remote-without-secret.json", AF_ERR_INVALID,
     "admin-remote-without-secret.json:2:12: admin.secret: missing (expected a secret"},
    {"admin-same-address-as-listen.json", AF_ERR_INVALID,
     "admin-same-address-as-listen.json:3:40: admin.listen: the same address as listen: "
     "\"127.0.0.1:9000\""},
    {"admin-secret-not-b64token.json", AF_ERR_INVALID,
     "admin-secret-not-b64token.json:2:40: admin.secret: not a Bearer token (RFC 6750 §2.1"},
    {"admin-unknown-key.json", AF_ERR_INVALID,
     "admin-unknown-key.json:3:5: admin.enable: unknown key (did you mean \"enabled\"?)"},
    {"alg-missing.json", AF_ERR_INVALID, "alg-missing.json:3:5: keys[0].alg: missing"},
    {"alg-none.json", AF_ERR_INVALID, "alg-none.json:2:20: keys[0].alg: \"none\" is refused"},
    {"alg-unknown.json", AF_ERR_INVALID,
     "alg-unknown.json:2:20: keys[0].alg: unknown value (expected \"RS256\", \"PS256\", "
     "\"ES256\" or \"EdDSA\", got \"RS512\")"},
    /* RFC 7519 §4.1.3: aud is a StringOrURI or an array of them */
    {"audience-empty-array.json", AF_ERR_INVALID,
     "audience-empty-array.json:4:31: clients[0].access_token_audience: must not be empty"},
    {"audience-not-stringoruri.json", AF_ERR_INVALID,
     "audience-not-stringoruri.json:4:55: clients[0].access_token_audience[1]: contains ':' but "
     "is not an absolute URI (RFC 7519 §2 StringOrURI): \":api\""},
    {"audience-wrong-type.json", AF_ERR_INVALID,
     "audience-wrong-type.json:7:32: clients[0].access_token_audience: wrong type (expected a "
     "string or an array of strings, got an object)"},
    /* a persona authflowd does not speak yet */
    {"persona-unknown.json", AF_ERR_INVALID, "persona-unknown.json:2:14: persona: unknown value"},
    {"application-type-unknown.json", AF_ERR_INVALID,
     "application-type-unknown.json:5:27: clients[0].application_type: unknown value"},
    {"auth-method-unknown.json", AF_ERR_INVALID,
     "auth-method-unknown.json:6:37: clients[0].token_endpoint_auth_method: unknown value"},
    {"basic-without-secret.json", AF_ERR_INVALID,
     "basic-without-secret.json:5:37: clients[0].token_endpoint_auth_method: "
     "\"client_secret_basic\" needs a client_secret"},
    {"claims-not-object.json", AF_ERR_INVALID,
     "claims-not-object.json:3:51: users[0].claims: wrong type (expected an object, got an "
     "array)"},
    {"claims-with-iss.json", AF_ERR_INVALID,
     "claims-with-iss.json:3:52: users[0].claims.iss: not allowed"},
    {"claims-with-sub.json", AF_ERR_INVALID,
     "claims-with-sub.json:8:9: users[0].claims.sub: not allowed"},
    {"client-credentials-public-client.json", AF_ERR_INVALID,
     "client-credentials-public-client.json:5:22: clients[0].grant_types: client_credentials "
     "needs a client_secret"},
    {"client-id-control-character.json", AF_ERR_INVALID,
     "client-id-control-character.json:3:19: clients[0].client_id: contains a character outside "
     "%x20-7E (RFC 6749 Appendix A): \"tab\\there\""},
    {"client-id-duplicate.json", AF_ERR_INVALID,
     "client-id-duplicate.json:5:19: clients[2].client_id: duplicate of clients[0].client_id: "
     "\"web\""},
    {"client-id-empty.json", AF_ERR_INVALID,
     "client-id-empty.json:3:19: clients[0].client_id: must not be empty"},
    {"client-id-missing.json", AF_ERR_INVALID,
     "client-id-missing.json:4:5: clients[1].client_id: missing (expected a string)"},
    {"client-not-object.json", AF_ERR_INVALID,
     "client-not-object.json:4:5: clients[1]: wrong type (expected an object, got a string)"},
    {"code-lifetime-too-long.json", AF_ERR_INVALID,
     "code-lifetime-too-long.json:3:13: lifetimes.code: out of range (expected an integer from 1 "
     "to 3600, got 7200)"},
    {"comment.json", AF_ERR_PARSE, "comment.json:2:3: (top level): syntax error:"},
    {"default-user-is-a-sub.json", AF_ERR_INVALID,
     "default-user-is-a-sub.json:2:29: login.default_user: names no user"},
    {"default-user-unknown.json", AF_ERR_INVALID,
     "default-user-unknown.json:2:29: login.default_user: names no user (expected the username "
     "of one of users[], got \"carol\")"},
    {"duplicate-key-escaped.json", AF_ERR_PARSE,
     "duplicate-key-escaped.json:3:15: listen: duplicate key"},
    {"duplicate-key.json", AF_ERR_PARSE,
     "duplicate-key.json:6:17: clients[0].client_id: duplicate key"},
    {"empty-file.json", AF_ERR_PARSE, "empty-file.json:1:1: (top level): syntax error:"},
    {"error-after-escaped-strings.json", AF_ERR_INVALID,
     "error-after-escaped-strings.json:6:57: clients[0].redirect_uris[1]: has a fragment"},
    {"error-after-nested-claims.json", AF_ERR_INVALID,
     "error-after-nested-claims.json:8:69: users[1].claims.nonce: not allowed"},
    {"error-column-after-utf8.json", AF_ERR_INVALID,
     "error-column-after-utf8.json:3:86: users[0].extra: unknown key (expected one of: sub, "
     "username, password, claims)"},
    {"escaped-key-in-path.json", AF_ERR_INVALID,
     "escaped-key-in-path.json:3:24: clients[0].client_id: must not be empty"},
    {"grant-type-duplicate.json", AF_ERR_INVALID,
     "grant-type-duplicate.json:6:62: clients[0].grant_types[2]: duplicate value "
     "\"authorization_code\""},
    {"grant-type-implicit.json", AF_ERR_INVALID,
     "grant-type-implicit.json:6:45: clients[0].grant_types[1]: \"implicit\" is refused"},
    {"grant-type-unknown.json", AF_ERR_INVALID,
     "grant-type-unknown.json:6:45: clients[0].grant_types[1]: unknown value"},
    {"grant-types-empty.json", AF_ERR_INVALID,
     "grant-types-empty.json:3:86: clients[0].grant_types: must not be empty"},
    {"hs256-key.json", AF_ERR_INVALID,
     "hs256-key.json:4:13: keys[1].alg: \"HS256\" is refused: its shared secret could not be "
     "published in the JWKS"},
    {"interactive-not-bool.json", AF_ERR_INVALID,
     "interactive-not-bool.json:3:20: login.interactive: wrong type (expected true or false, got "
     "a string)"},
    {"issuer-not-http.json", AF_ERR_INVALID,
     "issuer-not-http.json:2:13: issuer: not an absolute http(s) URL"},
    {"issuer-trailing-slash.json", AF_ERR_INVALID,
     "issuer-trailing-slash.json:2:13: issuer: must not end with \"/\""},
    {"issuer-with-query.json", AF_ERR_INVALID,
     "issuer-with-query.json:2:13: issuer: must not have a query"},
    {"issuer-wrong-type.json", AF_ERR_INVALID,
     "issuer-wrong-type.json:2:13: issuer: wrong type (expected a string or null, got true)"},
    {"keys-empty.json", AF_ERR_INVALID, "keys-empty.json:2:11: keys: must not be empty"},
    {"kid-duplicate.json", AF_ERR_INVALID,
     "kid-duplicate.json:4:29: keys[1].kid: duplicate of keys[0].kid: \"main\""},
    {"lifetime-real-number.json", AF_ERR_INVALID,
     "lifetime-real-number.json:2:25: lifetimes.code: wrong type (expected an integer, got a "
     "number with a fraction or exponent)"},
    {"lifetime-zero.json", AF_ERR_INVALID,
     "lifetime-zero.json:2:63: lifetimes.id_token: out of range (expected an integer from 1 to "
     "31536000, got 0)"},
    {"listen-ipv6-without-brackets.json", AF_ERR_INVALID,
     "listen-ipv6-without-brackets.json:2:13: listen: an IPv6 address needs brackets"},
    {"listen-no-port.json", AF_ERR_INVALID, "listen-no-port.json:2:13: listen: missing port"},
    {"listen-port-out-of-range.json", AF_ERR_INVALID,
     "listen-port-out-of-range.json:2:13: listen: bad port"},
    {"max-body-as-string.json", AF_ERR_INVALID,
     "max-body-as-string.json:2:26: limits.max_body: wrong type (expected an integer, got a "
     "string)"},
    {"max-body-too-small.json", AF_ERR_INVALID,
     "max-body-too-small.json:2:26: limits.max_body: out of range (expected an integer from 1024 "
     "to 16777216, got 512)"},
    {"misplaced-group-key.json", AF_ERR_INVALID,
     "misplaced-group-key.json:3:3: threads: unknown key (did you mean \"limits.threads\"?)"},
    {"missing-comma.json", AF_ERR_PARSE, "missing-comma.json:3:10: (top level): syntax error:"},
    {"no-users-with-authorization-code.json", AF_ERR_INVALID,
     "no-users-with-authorization-code.json:1:1: users: at least one user is needed (clients[1] "
     "\"web\" has the authorization_code grant)"},
    {"no-users-with-password-grant.json", AF_ERR_INVALID,
     "no-users-with-password-grant.json:5:12: users: at least one user is needed (clients[0] "
     "\"legacy\" has the password grant)"},
    {"pem-file-missing.json", AF_ERR_INVALID,
     "pem-file-missing.json:3:34: keys[0].pem_file: cannot read "},
    {"post-logout-uri-relative.json", AF_ERR_INVALID,
     "post-logout-uri-relative.json:6:61: clients[0].post_logout_redirect_uris[1]: not an "
     "absolute URI: \"/signed-out\""},
    {"post-with-null-secret.json", AF_ERR_INVALID,
     "post-with-null-secret.json:6:37: clients[0].token_endpoint_auth_method: "
     "\"client_secret_post\" needs a client_secret"},
    {"redirect-uri-duplicate.json", AF_ERR_INVALID,
     "redirect-uri-duplicate.json:8:9: clients[0].redirect_uris[2]: duplicate of [0]"},
    {"redirect-uri-fragment.json", AF_ERR_INVALID,
     "redirect-uri-fragment.json:5:51: clients[0].redirect_uris[1]: has a fragment (RFC 6749 "
     "§3.1.2 forbids one): \"https://app.example/cb#frag\""},
    {"redirect-uri-host-port-without-scheme.json", AF_ERR_INVALID,
     "redirect-uri-host-port-without-scheme.json:3:44: clients[0].redirect_uris[0]: not an "
     "absolute URI (a host:port needs a scheme"},
    {"redirect-uri-http-without-host.json", AF_ERR_INVALID,
     "redirect-uri-http-without-host.json:3:44: clients[0].redirect_uris[0]: an http(s) URI "
     "needs a host"},
    {"redirect-uri-with-space.json", AF_ERR_INVALID,
     "redirect-uri-with-space.json:3:44: clients[0].redirect_uris[0]: contains a character not "
     "allowed in a URI"},
    {"redirect-uris-empty.json", AF_ERR_INVALID,
     "redirect-uris-empty.json:3:43: clients[0].redirect_uris: must not be empty"},
    {"redirect-uris-missing.json", AF_ERR_INVALID,
     "redirect-uris-missing.json:4:5: clients[1].redirect_uris: missing"},
    /* The example of docs/config.md. */
    {"relative-redirect-uri.json", AF_ERR_INVALID,
     "relative-redirect-uri.json:14:9: clients[1].redirect_uris[0]: not an absolute URI: \"/cb\""},
    {"require-pkce-not-bool.json", AF_ERR_INVALID,
     "require-pkce-not-bool.json:6:23: clients[0].require_pkce: wrong type"},
    {"scope-as-array.json", AF_ERR_INVALID,
     "scope-as-array.json:6:16: clients[0].scope: wrong type (expected a string of "
     "space-separated values, got an array)"},
    {"scope-bad-character.json", AF_ERR_INVALID,
     "scope-bad-character.json:6:16: clients[0].scope: not a scope token"},
    {"scope-double-space.json", AF_ERR_INVALID,
     "scope-double-space.json:6:16: clients[0].scope: values must be separated by single spaces"},
    {"scope-duplicate.json", AF_ERR_INVALID,
     "scope-duplicate.json:6:16: clients[0].scope: duplicate value \"openid\""},
    {"secret-on-public-client.json", AF_ERR_INVALID,
     "secret-on-public-client.json:6:24: clients[0].client_secret: a client with "
     "token_endpoint_auth_method \"none\" is public and must not have a client_secret"},
    {"threads-too-many.json", AF_ERR_INVALID,
     "threads-too-many.json:3:16: limits.threads: out of range (expected an integer from 1 to 64, "
     "got 128)"},
    {"top-level-array.json", AF_ERR_INVALID,
     "top-level-array.json:1:1: (top level): wrong type (expected an object, got an array)"},
    {"trailing-comma-in-array.json", AF_ERR_PARSE,
     "trailing-comma-in-array.json:7:7: clients[0].redirect_uris[1]: syntax error: trailing "
     "comma"},
    {"trailing-comma.json", AF_ERR_PARSE,
     "trailing-comma.json:5:3: login: syntax error: trailing comma"},
    {"unknown-key-in-client.json", AF_ERR_INVALID,
     "unknown-key-in-client.json:5:7: clients[0].redirect_uri: unknown key (did you mean "
     "\"redirect_uris\"?)"},
    {"unknown-key-in-key.json", AF_ERR_INVALID,
     "unknown-key-in-key.json:3:22: keys[0].algorithm: unknown key (expected one of: alg, "
     "pem_file, generate, kid)"},
    {"unknown-key-in-lifetimes.json", AF_ERR_INVALID,
     "unknown-key-in-lifetimes.json:4:5: lifetimes.acess_token: unknown key (did you mean "
     "\"access_token\"?)"},
    {"unknown-key-in-limits.json", AF_ERR_INVALID,
     "unknown-key-in-limits.json:4:5: limits.max_parms: unknown key (did you mean "
     "\"max_params\"?)"},
    {"unknown-key-in-login.json", AF_ERR_INVALID,
     "unknown-key-in-login.json:2:34: login.defaultUser: unknown key (did you mean "
     "\"default_user\"?)"},
    {"unknown-key-in-user.json", AF_ERR_INVALID,
     "unknown-key-in-user.json:3:41: users[0].passwd: unknown key (did you mean \"password\"?)"},
    {"unknown-key.json", AF_ERR_INVALID,
     "unknown-key.json:2:3: isuer: unknown key (did you mean \"issuer\"?)"},
    {"unterminated-string.json", AF_ERR_PARSE,
     "unterminated-string.json:3:37: users[0].username: syntax error:"},
    {"user-sub-duplicate.json", AF_ERR_INVALID,
     "user-sub-duplicate.json:4:13: users[1].sub: duplicate of users[0].sub: \"u-1\""},
    {"user-sub-too-long.json", AF_ERR_INVALID,
     "user-sub-too-long.json:2:21: users[0].sub: longer than 255 characters (OIDC Core §2)"},
    {"user-without-username.json", AF_ERR_INVALID,
     "user-without-username.json:3:5: users[0].username: missing (expected a string)"},
    /* scenarios: clients and users must exist, delays stay under the cap
     * (the names are the server's to check: check_server.c) */
    {"scenario-client-unknown.json", AF_ERR_INVALID,
     "scenario-client-unknown.json:5:47: scenarios[1].client: names no configured client "
     "(expected the client_id of one of clients[], got \"apq\")"},
    {"scenario-delay-over-cap.json", AF_ERR_INVALID,
     "scenario-delay-over-cap.json:3:51: scenarios[0].delay_ms: longer than "
     "limits.max_delay_ms (1000 ms, got 1500)"},
    {"scenario-name-missing.json", AF_ERR_INVALID,
     "scenario-name-missing.json:3:5: scenarios[0].name: missing (expected a string)"},
    {"scenario-times-negative.json", AF_ERR_INVALID,
     "scenario-times-negative.json:2:49: scenarios[0].times: out of range (expected an integer "
     "from 0 to 1000000, got -1)"},
    {"scenario-unknown-key.json", AF_ERR_INVALID,
     "scenario-unknown-key.json:2:40: scenarios[0].time: unknown key (did you mean \"times\"?)"},
    {"scenario-user-unknown.json", AF_ERR_INVALID,
     "scenario-user-unknown.json:3:54: scenarios[0].user: names no configured user (expected "
     "the username or sub of one of users[], got \"bob\")"},
    {"scenarios-not-array.json", AF_ERR_INVALID,
     "scenarios-not-array.json:2:16: scenarios: wrong type (expected an array of objects, got an "
     "object)"},
    /* the ledger's ring and the delay cap are bounded */
    {"ledger-max-entries-too-big.json", AF_ERR_INVALID,
     "ledger-max-entries-too-big.json:2:29: ledger.max_entries: out of range (expected an "
     "integer from 0 to 1000000, got 1000001)"},
    {"max-delay-too-long.json", AF_ERR_INVALID,
     "max-delay-too-long.json:2:30: limits.max_delay_ms: out of range (expected an integer from 0 "
     "to 10000, got 60000)"},
    {"username-duplicate.json", AF_ERR_INVALID,
     "username-duplicate.json:5:32: users[2].username: duplicate of users[0].username: "
     "\"alice\""},
};

#define NCORPUS (sizeof(corpus) / sizeof(corpus[0]))

START_TEST(test_corpus)
{
    char rel[256], *path, *want;
    struct af_config *cfg = (struct af_config *)1;
    struct af_err err = {0};
    af_rc rc;

    snprintf(rel, sizeof(rel), "tests/data/cfg/%s", corpus[_i].file);
    path = src_path(rel);
    rc = af_cfg_load_file(path, &cfg, &err);
    ck_assert_msg(rc == corpus[_i].rc, "%s: rc %s (expected %s): %s", corpus[_i].file,
                  af_rc_str(rc), af_rc_str(corpus[_i].rc), err.msg);
    ck_assert_ptr_null(cfg);
    /* The message starts with the path given, then the position. */
    ck_assert_int_eq(strncmp(err.msg, path, strlen(path) - strlen(corpus[_i].file)), 0);
    ck_assert_int_ge(asprintf(&want, "/%s", corpus[_i].want), 0);
    ck_assert_msg(strstr(err.msg, want) != NULL, "%s: message \"%s\" (expected \"%s\")",
                  corpus[_i].file, err.msg, corpus[_i].want);
    free(want);
    free(path);
}
END_TEST

/* Every file in the corpus folder has a row, so none is silently skipped. */
START_TEST(test_corpus_complete)
{
    char *dirpath = src_path("tests/data/cfg");
    DIR *d = opendir(dirpath);
    struct dirent *de;
    size_t files = 0;

    ck_assert_msg(d != NULL, "cannot open %s", dirpath);
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name), i;
        if (n < 5 || strcmp(de->d_name + n - 5, ".json") != 0)
            continue;
        files++;
        for (i = 0; i < NCORPUS; i++) {
            if (strcmp(corpus[i].file, de->d_name) == 0)
                break;
        }
        ck_assert_msg(i < NCORPUS, "tests/data/cfg/%s has no row in corpus[]", de->d_name);
    }
    closedir(d);
    ck_assert_uint_eq(files, NCORPUS);
    free(dirpath);
}
END_TEST

/* ---- inline errors ---- */

static const struct {
    const char *text;
    af_rc rc;
    const char *want;
} inline_errors[] = {
    /* syntax (positions are jansson's) */
    {"{\"listen\": \"127.0.0.1:9000\",}", AF_ERR_PARSE,
     "inline:1:29: (top level): syntax error: trailing comma: string or '}' expected near '}'"},
    {"{\"login\": {\"interactive\": true}", AF_ERR_PARSE,
     "inline:1:31: (top level): syntax error: '}' expected near end of file"},
    {"{\"login\": {\"interactive\": tru}}", AF_ERR_PARSE,
     "inline:1:29: login.interactive: syntax error: invalid token near 'tru'"},
    {"{\"listen\": \"\xff\"}", AF_ERR_PARSE, "inline:1:"},
    {"{\"users\": [{\"sub\": \"a\", \"username\": \"b\"}, ]}", AF_ERR_PARSE,
     "users[1]: syntax error: trailing comma"},
    /* duplicate keys (JSON_REJECT_DUPLICATES), at every level */
    {"{\"listen\": \"a:1\", \"listen\": \"b:2\"}", AF_ERR_PARSE,
     "inline:1:26: listen: duplicate key"},
    {"{\"login\": {\"interactive\": true, \"interactive\": false}}", AF_ERR_PARSE,
     "inline:1:45: login.interactive: duplicate key"},
    {"{\"users\": [{\"sub\": \"a\", \"username\": \"b\", \"sub\": \"c\"}]}", AF_ERR_PARSE,
     "inline:1:46: users[0].sub: duplicate key"},
    {"{\"users\": [{\"sub\": \"a\", \"username\": \"b\", \"claims\": {\"x\": 1, \"x\": 2}}]}",
     AF_ERR_PARSE, "users[0].claims.x: duplicate key"},
    /* wrong types */
    {"{\"listen\": 9000}", AF_ERR_INVALID,
     "inline:1:12: listen: wrong type (expected a string, got an integer)"},
    {"{\"login\": []}", AF_ERR_INVALID,
     "inline:1:11: login: wrong type (expected an object, got an array)"},
    {"{\"keys\": {\"alg\": \"RS256\"}}", AF_ERR_INVALID,
     "inline:1:10: keys: wrong type (expected an array of objects, got an object)"},
    {"{\"clients\": [{\"client_id\": 5}]}", AF_ERR_INVALID,
     "inline:1:28: clients[0].client_id: wrong type (expected a string, got an integer)"},
    {"{\"clients\": [{\"client_id\": \"a\", \"redirect_uris\": \"https://a.example/cb\"}]}",
     AF_ERR_INVALID,
     "inline:1:50: clients[0].redirect_uris: wrong type (expected an array of strings, got a "
     "string)"},
    {"{\"clients\": [{\"client_id\": \"a\", \"redirect_uris\": [\"https://a.example/cb\", 7]}]}",
     AF_ERR_INVALID,
     "inline:1:75: clients[0].redirect_uris[1]: wrong type (expected a string, got an integer)"},
    {"{\"clients\": [{\"client_id\": \"a\", \"grant_types\": [null]}]}", AF_ERR_INVALID,
     "inline:1:49: clients[0].grant_types[0]: wrong type (expected a string, got null)"},
    {"{\"users\": [{\"sub\": \"s\", \"username\": \"u\", \"password\": false}]}", AF_ERR_INVALID,
     "inline:1:54: users[0].password: wrong type (expected a string or null, got false)"},
    {"{\"lifetimes\": {\"code\": null}}", AF_ERR_INVALID,
     "inline:1:24: lifetimes.code: wrong type (expected an integer, got null)"},
    {"{\"limits\": {\"threads\": 4.0}}", AF_ERR_INVALID,
     "inline:1:24: limits.threads: wrong type (expected an integer, got a number with a "
     "fraction or exponent)"},
    {"{\"login\": {\"interactive\": 1}}", AF_ERR_INVALID,
     "inline:1:27: login.interactive: wrong type (expected true or false, got an integer)"},
    {"{\"users\": [{\"sub\": \"s\", \"username\": \"u\", \"claims\": null}]}", AF_ERR_INVALID,
     "inline:1:52: users[0].claims: wrong type (expected an object, got null)"},
    /* unknown keys at every level, with the suggestion */
    {"{\"lisen\": \"127.0.0.1:9000\"}", AF_ERR_INVALID,
     "inline:1:2: lisen: unknown key (did you mean \"listen\"?)"},
    {"{\"Issuer\": null}", AF_ERR_INVALID,
     "inline:1:2: Issuer: unknown key (did you mean \"issuer\"?)"},
    {"{\"default_user\": \"alice\"}", AF_ERR_INVALID,
     "inline:1:2: default_user: unknown key (did you mean \"login.default_user\"?)"},
    {"{\"login\": {\"interactiv\": true}}", AF_ERR_INVALID,
     "inline:1:12: login.interactiv: unknown key (did you mean \"interactive\"?)"},
    {"{\"lifetimes\": {\"refresh\": 60}}", AF_ERR_INVALID,
     "inline:1:16: lifetimes.refresh: unknown key (expected one of: code, access_token, "
     "id_token, refresh_token, session)"},
    {"{\"limits\": {\"thread\": 2}}", AF_ERR_INVALID,
     "inline:1:13: limits.thread: unknown key (did you mean \"threads\"?)"},
    /* a swap of two letters is one edit */
    {"{\"keys\": [{\"alg\": \"RS256\", \"kdi\": \"x\"}]}", AF_ERR_INVALID,
     "inline:1:28: keys[0].kdi: unknown key (did you mean \"kid\"?)"},
    {"{\"clients\": [{\"clientid\": \"a\"}]}", AF_ERR_INVALID,
     "inline:1:15: clients[0].clientid: unknown key (did you mean \"client_id\"?)"},
    {"{\"users\": [{\"sub\": \"s\", \"user_name\": \"u\"}]}", AF_ERR_INVALID,
     "inline:1:25: users[0].user_name: unknown key (did you mean \"username\"?)"},
    {"{\"my key.x\": 1}", AF_ERR_INVALID,
     "inline:1:2: [\"my key.x\"]: unknown key (expected one of: issuer, listen, persona, login, "
     "lifetimes, keys, clients, users, scenarios, limits, admin, ledger, tls, store, issuers)"},
    /* issuers: an element has its issuer's own keys and a path, and its
     * messages point into it */
    {"{\"issuers\": [{\"path\": \"/a\", \"limits\": {}}]}", AF_ERR_INVALID,
     "inline:1:29: issuers[0].limits: not a key of an issuer in issuers[] (it is set once, at "
     "the top level, for all of them)"},
    {"{\"issuers\": [{\"path\": \"/a\", \"clientz\": []}]}", AF_ERR_INVALID,
     "inline:1:29: issuers[0].clientz: unknown key (did you mean \"clients\"?)"},
    {"{\"issuers\": [{\"path\": \"/a\", \"issuers\": []}]}", AF_ERR_INVALID,
     "issuers[0].issuers: not a key of an issuer"},
    {"{\"issuers\": [{\"path\": \"/a\"}, {\"path\": \"/b\", \"users\": [{\"sub\": \"s\", "
     "\"username\": \"u\"}, {\"sub\": \"s\", \"username\": \"v\"}]}]}",
     AF_ERR_INVALID, "issuers[1].users[1].sub: duplicate of users[0].sub: \"s\""},
    {"{\"issuers\": [{\"path\": \"/a\", \"keys\": [{\"alg\": \"ES256\", \"kid\": \"k\"}, "
     "{\"alg\": \"RS256\", \"kid\": \"k\"}]}]}",
     AF_ERR_INVALID, "issuers[0].keys[1].kid: duplicate of keys[0].kid: \"k\""},
    {"{\"limits\": {\"max_delay_ms\": 5}, \"issuers\": [{\"path\": \"/a\", \"scenarios\": "
     "[{\"name\": \"token_delay\", \"delay_ms\": 6}]}]}",
     AF_ERR_INVALID,
     "issuers[0].scenarios[0].delay_ms: longer than limits.max_delay_ms (5 ms, got 6)"},
    {"{\"listen\": \"127.0.0.1:9000\", \"issuers\": [{\"path\": \"/a\", \"listen\": "
     "\"127.0.0.1:9000\"}]}",
     AF_ERR_INVALID,
     "issuers[0].listen: the same address as the top level's listen: \"127.0.0.1:9000\""},
    {"{\"issuers\": [{\"path\": \"/a\", \"listen\": \"127.0.0.1:9100\"}, {\"path\": \"/b\", "
     "\"listen\": \"127.0.0.1:9100\"}]}",
     AF_ERR_INVALID,
     "issuers[1].listen: the same address as another issuer's listen: \"127.0.0.1:9100\""},
    {"{\"admin\": {\"enabled\": true, \"listen\": \"127.0.0.1:9001\"}, \"issuers\": [{\"path\": "
     "\"/a\", \"listen\": \"127.0.0.1:9001\"}]}",
     AF_ERR_INVALID, "issuers[0].listen: the same address as admin.listen: \"127.0.0.1:9001\""},
    {"{\"issuers\": [{\"path\": \"/a\"}, {\"path\": \"/a/b\"}]}", AF_ERR_INVALID,
     "issuers[1].path: lies under issuers[0].path \"/a\""},
    {"{\"issuers\": [{\"path\": \"/a/./b\"}]}", AF_ERR_INVALID,
     "issuers[0].path: has a \".\" or \"..\" segment"},
    {"{\"issuers\": [{\"path\": \"/%41\"}]}", AF_ERR_INVALID,
     "issuers[0].path: has an empty "
     "segment or a character other than"},
    /* tls: one way of serving https, and an issuer that fits it */
    {"{\"tls\": {\"cert_file\": \"c.pem\"}}", AF_ERR_INVALID,
     "tls.key_file: cert_file and key_file go together"},
    {"{\"tls\": {\"key_file\": \"k.pem\"}}", AF_ERR_INVALID,
     "tls.cert_file: cert_file and key_file go together"},
    {"{\"tls\": {\"cert_file\": \"c.pem\", \"key_file\": \"k.pem\", \"generate\": true}}",
     AF_ERR_INVALID, "tls.generate: either a certificate from cert_file and key_file, or generate"},
    {"{\"tls\": {\"generate\": true, \"proxy\": true}}", AF_ERR_INVALID,
     "tls.proxy: proxy says a proxy in front terminates TLS"},
    {"{\"tls\": {\"ca_file\": \"ca.pem\"}}", AF_ERR_INVALID,
     "tls.ca_file: only used with generate"},
    {"{\"tls\": {\"names\": [\"a.example\"]}}", AF_ERR_INVALID,
     "tls.names: only used with generate"},
    {"{\"tls\": {\"generate\": true, \"names\": [\"a b\"]}}", AF_ERR_INVALID,
     "tls.names[0]: not a DNS name or IP address"},
    {"{\"tls\": {\"generate\": true, \"names\": [\"*.\"]}}", AF_ERR_INVALID,
     "tls.names[0]: not a DNS name or IP address"},
    {"{\"issuer\": \"http://idp.example\", \"tls\": {\"generate\": true}}", AF_ERR_INVALID,
     "issuer: an http:// issuer on a listener that serves https (tls): write https://"},
    {"{\"tls\": {\"cert_file\": \"/nonexistent/c.pem\", \"key_file\": \"/nonexistent/k.pem\"}}",
     AF_ERR_INVALID,
     "tls.cert_file: cannot read \"/nonexistent/c.pem\": No such file or directory"},
    /* values */
    {"{\"listen\": \"[::1:9000\"}", AF_ERR_INVALID, "listen: unclosed \"[\""},
    {"{\"listen\": \"[fe80::zz]:9000\"}", AF_ERR_INVALID, "listen: not an IPv6 address"},
    {"{\"listen\": \"300.1.1.1:9000\"}", AF_ERR_INVALID, "listen: not an IPv4 address"},
    {"{\"listen\": \":9000\"}", AF_ERR_INVALID, "listen: missing host"},
    {"{\"listen\": \"host_name:9000\"}", AF_ERR_INVALID, "listen: bad host name"},
    {"{\"listen\": \"127.0.0.1:\"}", AF_ERR_INVALID, "listen: bad port"},
    {"{\"listen\": \"127.0.0.1:-1\"}", AF_ERR_INVALID, "listen: bad port"},
    {"{\"issuer\": \"http://idp.example/#x\"}", AF_ERR_INVALID, "issuer: must not have a fragment"},
    {"{\"issuer\": \"https://user@idp.example\"}", AF_ERR_INVALID,
     "issuer: must not contain user information"},
    {"{\"issuer\": \"https://\"}", AF_ERR_INVALID, "issuer: missing host"},
    {"{\"issuer\": \"HTTP://idp.example\"}", AF_ERR_INVALID, "issuer: not an absolute http(s) URL"},
    {"{\"issuer\": \"https://idp.example/a b\"}", AF_ERR_INVALID,
     "issuer: contains a character not allowed in a URI"},
    {"{\"issuer\": \"https://idp.example/%zz\"}", AF_ERR_INVALID,
     "issuer: malformed percent-encoding"},
    {"{\"keys\": [{\"alg\": \"RS256\", \"kid\": \"\"}]}", AF_ERR_INVALID,
     "keys[0].kid: must not be empty"},
    {"{\"keys\": [{\"alg\": \"rs256\"}]}", AF_ERR_INVALID, "keys[0].alg: unknown value"},
    {"{\"users\": [{\"sub\": \"s\", \"username\": \"a\\nb\"}]}", AF_ERR_INVALID,
     "users[0].username: contains a control character"},
    {"{\"clients\": [{\"client_id\": \"a\", \"redirect_uris\": [\"https://a.example/cb\"], "
     "\"scope\": \" openid\"}], \"users\": [{\"sub\": \"s\", \"username\": \"u\"}]}",
     AF_ERR_INVALID, "clients[0].scope: values must be separated by single spaces"},
    {"{\"clients\": [{\"client_id\": \"a\", \"redirect_uris\": [\"https://a.example/cb\"], "
     "\"scope\": \"\"}]}",
     AF_ERR_INVALID, "clients[0].scope: must not be empty"},
    {"{\"clients\": [{\"client_id\": \"a\", \"redirect_uris\": [\"\"]}]}", AF_ERR_INVALID,
     "clients[0].redirect_uris[0]: must not be empty"},
    {"{\"clients\": [{\"client_id\": \"a\", \"redirect_uris\": [\"https://a.example/%4\"]}]}",
     AF_ERR_INVALID, "clients[0].redirect_uris[0]: malformed percent-encoding"},
    {"{\"clients\": [{\"client_id\": \"a\", \"client_secret\": \"\"}]}", AF_ERR_INVALID,
     "clients[0].client_secret: must not be empty"},
    /* the store: Redis for replicas (docs/replicas.md) */
    {"{\"store\": {\"redis\": \"rediss://127.0.0.1:6379\"}}", AF_ERR_INVALID,
     "store.redis: rediss:// (TLS) is not supported"},
    {"{\"store\": {\"redis\": \"http://127.0.0.1:6379\"}}", AF_ERR_INVALID,
     "store.redis: not a Redis URL"},
    {"{\"store\": {\"redis\": \"redis://\"}}", AF_ERR_INVALID, "store.redis: missing host"},
    {"{\"store\": {\"redis\": \"redis://127.0.0.1:0\"}}", AF_ERR_INVALID,
     "store.redis: bad port (expected 1 to 65535)"},
    {"{\"store\": {\"redis\": \"redis://127.0.0.1:65536\"}}", AF_ERR_INVALID,
     "store.redis: bad port"},
    {"{\"store\": {\"redis\": \"redis://127.0.0.1:6379/x\"}}", AF_ERR_INVALID,
     "store.redis: bad database number"},
    {"{\"store\": {\"redis\": \"redis://127.0.0.1?db=1\"}}", AF_ERR_INVALID,
     "store.redis: a Redis URL takes no query or fragment"},
    {"{\"store\": {\"redis\": \"redis://secret@127.0.0.1\"}}", AF_ERR_INVALID,
     "store.redis: the part before '@' needs a ':'"},
    {"{\"store\": {\"redis\": \"redis://:a%zz@127.0.0.1\"}}", AF_ERR_INVALID,
     "store.redis: bad user or password"},
    {"{\"store\": {\"redis\": \"redis://[::1\"}}", AF_ERR_INVALID,
     "store.redis: unclosed \"[\" in the host"},
    {"{\"store\": {\"redis\": \"redis://a b\"}}", AF_ERR_INVALID,
     "store.redis: bad character in the host"},
    {"{\"store\": {\"prefix\": \"a:b\"}}", AF_ERR_INVALID,
     "store.prefix: only printable ASCII without spaces"},
    {"{\"store\": {\"timeout_ms\": 5}}", AF_ERR_INVALID, "store.timeout_ms"},
    {"{\"issuers\": [{\"path\": \"/a\", \"store\": {}}]}", AF_ERR_INVALID,
     "issuers[0].store: not a key of an issuer in issuers[]"},
    /* the admin API */
    {"{\"admin\": {\"enabled\": \"yes\"}}", AF_ERR_INVALID,
     "inline:1:23: admin.enabled: wrong type (expected true or false, got a string)"},
    {"{\"admin\": {\"listen\": \"127.0.0.1\"}}", AF_ERR_INVALID, "admin.listen: missing port"},
    {"{\"admin\": {\"listen\": \"192.168.1.10:9001\"}}", AF_ERR_INVALID,
     "admin.listen: not a loopback address"},
    {"{\"admin\": {\"listen\": \"idp.example:9001\"}}", AF_ERR_INVALID,
     "admin.listen: not a loopback address"},
    {"{\"admin\": {\"listen\": \"[::ffff:127.0.0.1]:9001\"}}", AF_ERR_INVALID,
     "admin.listen: not a loopback address"},
    {"{\"admin\": {\"listen\": \"0.0.0.0:9001\", \"allow_remote\": true}}", AF_ERR_INVALID,
     "admin.secret: missing"},
    {"{\"admin\": {\"secret\": \"\"}}", AF_ERR_INVALID, "admin.secret: must not be empty"},
    {"{\"admin\": {\"secret\": \"a=b\"}}", AF_ERR_INVALID, "admin.secret: not a Bearer token"},
    {"{\"admin\": {\"secret\": \"caf\u00e9\"}}", AF_ERR_INVALID,
     "admin.secret: not a Bearer token"},
    {"{\"admin\": {\"allow_remote\": null}}", AF_ERR_INVALID,
     "admin.allow_remote: wrong type (expected true or false, got null)"},
    {"{\"secret\": \"x\"}", AF_ERR_INVALID,
     "inline:1:2: secret: unknown key (did you mean \"admin.secret\"?)"},
    /* the access token audience */
    {"{\"clients\": [{\"client_id\": \"a\", \"client_secret\": \"s\", \"grant_types\": "
     "[\"client_credentials\"], \"access_token_audience\": \"\"}]}",
     AF_ERR_INVALID, "clients[0].access_token_audience: must not be empty"},
    {"{\"clients\": [{\"client_id\": \"a\", \"client_secret\": \"s\", \"grant_types\": "
     "[\"client_credentials\"], \"access_token_audience\": [\"x\", \"x\"]}]}",
     AF_ERR_INVALID, "clients[0].access_token_audience[1]: duplicate of [0]"},
    {"{\"clients\": [{\"client_id\": \"a\", \"client_secret\": \"s\", \"grant_types\": "
     "[\"client_credentials\"], \"access_token_audience\": [7]}]}",
     AF_ERR_INVALID, "clients[0].access_token_audience[0]: wrong type (expected a string"},
    {"{\"clients\": [{\"client_id\": \"a\", \"client_secret\": \"s\", \"grant_types\": "
     "[\"client_credentials\"], \"access_token_audience\": \"https://api.example/a b\"}]}",
     AF_ERR_INVALID, "clients[0].access_token_audience: contains a character not allowed in a URI"},
    {"{\"clients\": [{\"client_id\": \"a\", \"client_secret\": \"s\", \"grant_types\": "
     "[\"client_credentials\"], \"access_token_audience\": \"tab\\there\"}]}",
     AF_ERR_INVALID, "clients[0].access_token_audience: contains a control character"},
};

START_TEST(test_inline_errors)
{
    expect_fail(inline_errors[_i].text, inline_errors[_i].rc, inline_errors[_i].want);
}
END_TEST

/* Deep nesting: jansson refuses it; the position scanner must not recurse
 * without bound while naming the path. */
START_TEST(test_deep_nesting)
{
    size_t depth = 5000, i;
    const char *head = "{\"users\": [{\"sub\": \"s\", \"username\": \"u\", \"claims\": {\"x\": ";
    size_t hl = strlen(head);
    char *t = malloc(hl + 2 * depth + 8);

    ck_assert_ptr_nonnull(t);
    memcpy(t, head, hl);
    for (i = 0; i < depth; i++)
        t[hl + i] = '[';
    for (i = 0; i < depth; i++)
        t[hl + depth + i] = ']';
    strcpy(t + hl + 2 * depth, "}}]}");
    expect_fail(t, AF_ERR_PARSE, "users[0].claims.x[0][0]");
    free(t);
}
END_TEST

/* ---- integer bounds: min and max load, one beyond either fails ---- */

enum ikind { IK_LONG, IK_SIZE, IK_UINT };

static const struct {
    const char *group, *key;
    long min, max;
    size_t off;
    enum ikind kind;
} int_keys[] = {
    {"lifetimes", "code", 1, 3600, offsetof(struct af_config, code_ttl), IK_LONG},
    {"lifetimes", "access_token", 1, 31536000, offsetof(struct af_config, access_token_ttl),
     IK_LONG},
    {"lifetimes", "id_token", 1, 31536000, offsetof(struct af_config, id_token_ttl), IK_LONG},
    {"lifetimes", "refresh_token", 1, 31536000, offsetof(struct af_config, refresh_token_ttl),
     IK_LONG},
    {"limits", "max_body", 1024, 16777216, offsetof(struct af_config, max_body), IK_SIZE},
    {"limits", "max_params", 8, 1024, offsetof(struct af_config, max_params), IK_SIZE},
    {"limits", "max_codes", 1, 10000000, offsetof(struct af_config, max_codes), IK_SIZE},
    {"limits", "max_tokens", 1, 10000000, offsetof(struct af_config, max_tokens), IK_SIZE},
    {"limits", "threads", 1, 64, offsetof(struct af_config, threads), IK_UINT},
};

static long int_get(const struct af_config *cfg, size_t i)
{
    const char *p = (const char *)cfg + int_keys[i].off;
    switch (int_keys[i].kind) {
    case IK_LONG:
        return *(const long *)p;
    case IK_SIZE:
        return (long)*(const size_t *)p;
    case IK_UINT:
        return (long)*(const unsigned *)p;
    }
    return -1;
}

START_TEST(test_int_bounds)
{
    const long probes[] = {int_keys[_i].min, int_keys[_i].max};
    const long bad[] = {int_keys[_i].min - 1, int_keys[_i].max + 1, -1};
    char text[128], want[160];
    size_t k;

    for (k = 0; k < 2; k++) {
        struct af_config *cfg;
        snprintf(text, sizeof(text), "{\"%s\": {\"%s\": %ld}}", int_keys[_i].group,
                 int_keys[_i].key, probes[k]);
        cfg = expect_load(text);
        ck_assert_int_eq(int_get(cfg, _i), probes[k]);
        af_cfg_free(cfg);
    }
    for (k = 0; k < 3; k++) {
        snprintf(text, sizeof(text), "{\"%s\": {\"%s\": %ld}}", int_keys[_i].group,
                 int_keys[_i].key, bad[k]);
        snprintf(want, sizeof(want),
                 "inline:1:%zu: %s.%s: out of range (expected an integer from %ld to %ld, got "
                 "%ld)",
                 strlen(int_keys[_i].group) + strlen(int_keys[_i].key) + 11, int_keys[_i].group,
                 int_keys[_i].key, int_keys[_i].min, int_keys[_i].max, bad[k]);
        expect_fail(text, AF_ERR_INVALID, want);
    }
}
END_TEST

/* ---- size cap ---- */

START_TEST(test_oversized)
{
    char *t = malloc((size_t)AF_CFG_MAX_FILE + 2);
    char *dir = make_tmpdir();
    char *path = NULL;
    struct af_config *cfg = (struct af_config *)1;
    struct af_err err = {0};

    ck_assert_ptr_nonnull(t);
    /* Exactly at the cap: valid JSON padded with spaces loads. */
    memset(t, ' ', AF_CFG_MAX_FILE);
    t[0] = '{';
    t[AF_CFG_MAX_FILE - 1] = '}';
    t[AF_CFG_MAX_FILE] = '\0';
    cfg = expect_load(t);
    af_cfg_free(cfg);
    /* One byte more is refused before parsing. */
    t[AF_CFG_MAX_FILE] = ' ';
    t[AF_CFG_MAX_FILE + 1] = '\0';
    expect_fail(t, AF_ERR_TOOBIG, "inline: larger than 1048576 bytes");

    ck_assert_int_ge(asprintf(&path, "%s/big.json", dir), 0);
    write_file(path, t, (size_t)AF_CFG_MAX_FILE + 1);
    cfg = (struct af_config *)1;
    ck_assert_int_eq(af_cfg_load_file(path, &cfg, &err), AF_ERR_TOOBIG);
    ck_assert_ptr_null(cfg);
    ck_assert_ptr_nonnull(strstr(err.msg, "big.json: larger than 1048576 bytes"));
    write_file(path, t, (size_t)AF_CFG_MAX_FILE);
    ck_assert_msg(af_cfg_load_file(path, &cfg, &err) == AF_OK, "%s", err.msg);
    af_cfg_free(cfg);
    unlink(path);
    rmdir(dir);
    free(dir);
    free(path);
    free(t);
}
END_TEST

START_TEST(test_missing_file)
{
    struct af_config *cfg = (struct af_config *)1;
    struct af_err err = {0};
    ck_assert_int_eq(af_cfg_load_file("/nonexistent/authflowd.json", &cfg, &err), AF_ERR_IO);
    ck_assert_ptr_null(cfg);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/authflowd.json: cannot open"));
}
END_TEST

/* ---- defaults ---- */

START_TEST(test_defaults_empty)
{
    struct af_config *cfg = expect_load("{}");

    ck_assert_str_eq(cfg->source, "inline");
    ck_assert_ptr_null(cfg->issuer);
    ck_assert_str_eq(cfg->listen, "127.0.0.1:9000");
    ck_assert_uint_eq(cfg->nkeys, 1);
    ck_assert_int_eq(cfg->keys[0].alg, AF_ALG_RS256);
    ck_assert_ptr_null(cfg->keys[0].pem_file);
    ck_assert_ptr_null(cfg->keys[0].kid);
    ck_assert_int_eq(cfg->code_ttl, 60);
    ck_assert_int_eq(cfg->access_token_ttl, 3600);
    ck_assert_int_eq(cfg->id_token_ttl, 3600);
    ck_assert_int_eq(cfg->refresh_token_ttl, 86400);
    ck_assert(!cfg->interactive_login);
    ck_assert_ptr_null(cfg->default_user);
    ck_assert_uint_eq(cfg->nclients, 0);
    ck_assert_uint_eq(cfg->nusers, 0);
    ck_assert_uint_eq(cfg->max_body, 65536);
    ck_assert_uint_eq(cfg->max_params, 64);
    ck_assert_uint_eq(cfg->max_codes, 10000);
    ck_assert_uint_eq(cfg->max_tokens, 100000);
    ck_assert_uint_eq(cfg->threads, 4);
    /* the admin API is off, on loopback, without a secret */
    ck_assert(!cfg->admin_enabled);
    ck_assert_str_eq(cfg->admin_listen, "127.0.0.1:9001");
    ck_assert_ptr_null(cfg->admin_secret);
    ck_assert(!cfg->admin_allow_remote);
    /* no scenario queued, a ledger of 1000, delays up to 10 s */
    ck_assert_uint_eq(cfg->nscenarios, 0);
    ck_assert_ptr_null(cfg->scenarios);
    ck_assert_uint_eq(cfg->ledger_max_entries, 1000);
    ck_assert_int_eq(cfg->max_delay_ms, 10000);
    af_cfg_free(cfg);
}
END_TEST

/* Queued scenarios as loaded: the defaults (times 1, delay_ms -1 for "the
 * scenario's default", client and user any) and the values given, in
 * order. The loader does not know the names: any string loads here. */
START_TEST(test_scenarios_loaded)
{
    struct af_config *cfg = expect_load(
        "{\"clients\": [{\"client_id\": \"svc\", \"client_secret\": \"s\", \"grant_types\": "
        "[\"client_credentials\"]}], \"users\": [{\"sub\": \"u-1\", \"username\": \"alice\"}], "
        "\"ledger\": {\"max_entries\": 0}, \"limits\": {\"max_delay_ms\": 500}, "
        "\"scenarios\": [{\"name\": \"token_invalid_grant\"}, {\"name\": \"jwks_slow\", "
        "\"delay_ms\": 500, \"times\": 0}, {\"name\": \"not-checked-here\", \"client\": "
        "\"svc\", \"user\": \"u-1\"}, {\"name\": \"y\", \"client\": null, \"user\": null}]}");

    ck_assert_uint_eq(cfg->ledger_max_entries, 0);
    ck_assert_int_eq(cfg->max_delay_ms, 500);
    ck_assert_uint_eq(cfg->nscenarios, 4);
    ck_assert_str_eq(cfg->scenarios[0].name, "token_invalid_grant");
    ck_assert_int_eq(cfg->scenarios[0].times, 1);
    ck_assert_int_eq(cfg->scenarios[0].delay_ms, -1);
    ck_assert_ptr_null(cfg->scenarios[0].client);
    ck_assert_ptr_null(cfg->scenarios[0].user);
    ck_assert_str_eq(cfg->scenarios[1].name, "jwks_slow");
    ck_assert_int_eq(cfg->scenarios[1].times, 0);
    ck_assert_int_eq(cfg->scenarios[1].delay_ms, 500);
    ck_assert_str_eq(cfg->scenarios[2].client, "svc");
    ck_assert_str_eq(cfg->scenarios[2].user, "u-1");
    ck_assert_ptr_null(cfg->scenarios[3].client);
    ck_assert_ptr_null(cfg->scenarios[3].user);
    af_cfg_free(cfg);
}
END_TEST

/* Client defaults depend on whether the client has a secret (RFC 7591 §2:
 * token_endpoint_auth_method; RFC 9700 §2.1.1: PKCE for public clients). */
static const struct {
    const char *client; /* members after client_id and redirect_uris */
    af_client_auth auth;
    bool require_pkce;
} client_defaults[] = {
    {"", AF_CLIENT_AUTH_NONE, true},
    {", \"client_secret\": null", AF_CLIENT_AUTH_NONE, true},
    {", \"client_secret\": \"s\"", AF_CLIENT_AUTH_BASIC, false},
    {", \"client_secret\": \"s\", \"token_endpoint_auth_method\": \"client_secret_post\"",
     AF_CLIENT_AUTH_POST, false},
    /* explicit values win over the defaults */
    {", \"require_pkce\": false", AF_CLIENT_AUTH_NONE, false},
    {", \"client_secret\": \"s\", \"require_pkce\": true", AF_CLIENT_AUTH_BASIC, true},
    {", \"token_endpoint_auth_method\": \"none\"", AF_CLIENT_AUTH_NONE, true},
};

START_TEST(test_client_defaults)
{
    char text[512];
    struct af_config *cfg;
    const struct af_cfg_client *c;

    snprintf(text, sizeof(text),
             "{\"clients\": [{\"client_id\": \"c\", \"redirect_uris\": "
             "[\"https://c.example/cb\"]%s}], \"users\": [{\"sub\": \"s\", \"username\": \"u\"}]}",
             client_defaults[_i].client);
    cfg = expect_load(text);
    c = &cfg->clients[0];
    ck_assert_int_eq(c->auth_method, client_defaults[_i].auth);
    ck_assert_msg(c->require_pkce == client_defaults[_i].require_pkce, "require_pkce for %s", text);
    ck_assert(!c->allow_plain_pkce);
    ck_assert_ptr_null(c->name);
    ck_assert_uint_eq(c->grant_types, AF_GRANT_AUTHORIZATION_CODE | AF_GRANT_REFRESH_TOKEN);
    ck_assert_uint_eq(c->scopes.n, 4);
    ck_assert_str_eq(c->scopes.v[0], "openid");
    ck_assert_str_eq(c->scopes.v[3], "offline_access");
    ck_assert_uint_eq(c->post_logout_uris.n, 0);
    ck_assert_uint_eq(c->redirect_uris.n, 1);
    ck_assert_uint_eq(c->audience.n, 1);
    ck_assert_str_eq(c->audience.v[0], "c");
    af_cfg_free(cfg);
}
END_TEST

START_TEST(test_user_defaults)
{
    struct af_config *cfg = expect_load("{\"users\": [{\"sub\": \"s\", \"username\": \"u\"}]}");
    ck_assert_ptr_null(cfg->users[0].password);
    ck_assert(json_is_object(cfg->users[0].claims));
    ck_assert_uint_eq(json_object_size(cfg->users[0].claims), 0);
    af_cfg_free(cfg);
}
END_TEST

/* Configs that must load: the cross-checks only fire where they should. */
static const char *const accepted[] = {
    /* redirect_uris are needed only with authorization_code */
    "{\"clients\": [{\"client_id\": \"svc\", \"client_secret\": \"s\", \"grant_types\": "
    "[\"client_credentials\"]}]}",
    /* no user is needed without authorization_code or password */
    "{\"clients\": [{\"client_id\": \"svc\", \"client_secret\": \"s\", \"grant_types\": "
    "[\"client_credentials\", \"refresh_token\"]}]}",
    /* IPv6, names, port 0 */
    "{\"listen\": \"[::1]:0\"}",
    "{\"listen\": \"localhost:65535\", \"issuer\": \"https://idp.example:8443/tenant-1\"}",
    /* custom scheme redirect URIs (RFC 8252 §7.1) and a query are allowed */
    "{\"clients\": [{\"client_id\": \"app\", \"redirect_uris\": [\"com.example.app:/cb\", "
    "\"https://a.example/cb?x=1\"]}], \"users\": [{\"sub\": \"s\", \"username\": \"u\"}]}",
    /* every allowed alg, pem_file and kid as null */
    "{\"keys\": [{\"alg\": \"EdDSA\", \"kid\": null, \"pem_file\": null}, {\"alg\": \"PS256\", "
    "\"kid\": \"a\"}, {\"alg\": \"ES256\", \"kid\": \"b\"}, {\"alg\": \"RS256\"}]}",
    /* keys escaped in the text are the same keys */
    "{\"\\u006cisten\": \"127.0.0.1:1\"}",
    /* default_user given as null means the first user */
    "{\"login\": {\"default_user\": null, \"interactive\": true}}",
    /* the admin API on every loopback form; port 0 twice is two free ports */
    "{\"admin\": {\"enabled\": true, \"listen\": \"[::1]:0\", \"secret\": \"abc-._~+/==\"}}",
    "{\"admin\": {\"enabled\": true, \"listen\": \"localhost:9001\", \"secret\": null}}",
    "{\"admin\": {\"enabled\": true, \"listen\": \"127.1.2.3:9001\"}}",
    "{\"listen\": \"127.0.0.1:0\", \"admin\": {\"enabled\": true, \"listen\": \"127.0.0.1:0\"}}",
    /* the same address is fine while the admin API is off */
    "{\"listen\": \"127.0.0.1:9001\"}",
    /* remote only when allowed, and then with a secret */
    "{\"admin\": {\"listen\": \"0.0.0.0:9001\", \"allow_remote\": true, \"secret\": \"s\"}}",
    /* audiences: a string, a URN, several */
    "{\"clients\": [{\"client_id\": \"a\", \"client_secret\": \"s\", \"grant_types\": "
    "[\"client_credentials\"], \"access_token_audience\": \"orders-api\"}]}",
    "{\"clients\": [{\"client_id\": \"a\", \"client_secret\": \"s\", \"grant_types\": "
    "[\"client_credentials\"], \"access_token_audience\": [\"urn:example:api\", "
    "\"https://api.example/v1\"]}]}",
    /* scenarios: empty, a user by sub, a delay at the cap, no ledger */
    "{\"scenarios\": []}",
    "{\"users\": [{\"sub\": \"u-1\", \"username\": \"alice\"}], \"scenarios\": [{\"name\": "
    "\"id_token_expired\", \"user\": \"u-1\", \"times\": 1000000}]}",
    "{\"limits\": {\"max_delay_ms\": 0}, \"scenarios\": [{\"name\": \"jwks_slow\", "
    "\"delay_ms\": 0}], \"ledger\": {\"max_entries\": 0}}",
};

START_TEST(test_accepted)
{
    struct af_config *cfg = expect_load(accepted[_i]);
    af_cfg_free(cfg);
}
END_TEST

/* The audience list as loaded, from a string or an array. */
START_TEST(test_audience_loaded)
{
    struct af_config *cfg = expect_load(
        "{\"clients\": [{\"client_id\": \"a\", \"client_secret\": \"s\", \"grant_types\": "
        "[\"client_credentials\"], \"access_token_audience\": \"https://api.example\"}, "
        "{\"client_id\": \"b\", \"client_secret\": \"s\", \"grant_types\": "
        "[\"client_credentials\"], \"access_token_audience\": [\"urn:x\", \"y\"]}]}");

    ck_assert_uint_eq(cfg->clients[0].audience.n, 1);
    ck_assert_str_eq(cfg->clients[0].audience.v[0], "https://api.example");
    ck_assert_uint_eq(cfg->clients[1].audience.n, 2);
    ck_assert_str_eq(cfg->clients[1].audience.v[0], "urn:x");
    ck_assert_str_eq(cfg->clients[1].audience.v[1], "y");
    af_cfg_free(cfg);

    cfg = expect_load("{\"admin\": {\"enabled\": true, \"listen\": \"[::1]:9009\", \"secret\": "
                      "\"t0ken\"}}");
    ck_assert(cfg->admin_enabled);
    ck_assert_str_eq(cfg->admin_listen, "[::1]:9009");
    ck_assert_str_eq(cfg->admin_secret, "t0ken");
    af_cfg_free(cfg);
}
END_TEST

/* Loopback is 127.0.0.0/8 (RFC 1122 §3.2.1.3), ::1 (RFC 4291 §2.5.3) and
 * the name localhost; wildcards and other names are not. */
static const struct {
    const char *listen;
    bool loopback;
} loopback_cases[] = {
    {"127.0.0.1:9001", true},
    {"127.255.0.9:0", true},
    {"localhost:1", true},
    {"LocalHost:1", true},
    {"[::1]:9001", true},
    {"0.0.0.0:9001", false},
    {"[::]:9001", false},
    {"128.0.0.1:9001", false},
    {"10.0.0.1:1", false},
    {"localhost.:1", false},
    {"idp.example:1", false},
    {"[::ffff:127.0.0.1]:1", false},
    {"126.255.255.255:1", false},
    {"", false},
    {"[::1:1", false},
};

START_TEST(test_listen_loopback)
{
    ck_assert_msg(af_cfg_listen_is_loopback(loopback_cases[_i].listen) ==
                      loopback_cases[_i].loopback,
                  "%s", loopback_cases[_i].listen);
    ck_assert(!af_cfg_listen_is_loopback(NULL));
}
END_TEST

/* ---- pem_file resolution ---- */

/* keys[].generate without pem_file: the file is named after the alg in the
 * state folder, which comes from AUTHFLOW_STATE_DIR, else an absolute
 * XDG_STATE_HOME, else HOME (docs/config.md "Keys that survive a
 * restart"). NULL: the variable is unset. */
static const struct {
    const char *state, *xdg, *home;
    const char *want0, *want2; /* keys[0] (RS256) and keys[2] (the second RS256) */
    const char *error;         /* NULL: loads */
} state_cases[] = {
    {"/s", "/x", "/h", "/s/rs256.pem", "/s/rs256-2.pem", NULL},
    {"rel/state", NULL, NULL, "rel/state/rs256.pem", "rel/state/rs256-2.pem", NULL},
    {"", "/x", "/h", "/x/authflow/rs256.pem", "/x/authflow/rs256-2.pem", NULL},
    {NULL, "/x", "/h", "/x/authflow/rs256.pem", "/x/authflow/rs256-2.pem", NULL},
    /* the XDG Base Directory Specification: a relative path is ignored */
    {NULL, "x", "/h", "/h/.local/state/authflow/rs256.pem", "/h/.local/state/authflow/rs256-2.pem",
     NULL},
    {NULL, NULL, "/h", "/h/.local/state/authflow/rs256.pem", "/h/.local/state/authflow/rs256-2.pem",
     NULL},
    {NULL, NULL, NULL, NULL, NULL,
     "<string>:1:40: keys[0].generate: no folder for the generated key: set AUTHFLOW_STATE_DIR "
     "(or XDG_STATE_HOME or HOME), or give pem_file"},
};

static void set_or_unset(const char *name, const char *value)
{
    if (value == NULL)
        unsetenv(name);
    else
        setenv(name, value, 1);
}

START_TEST(test_generated_key_files)
{
    static const char *const names[] = {AF_CFG_ENV_STATE_DIR, "XDG_STATE_HOME", "HOME"};
    const char *text = "{\"keys\": [{\"alg\": \"RS256\", \"generate\": true}, {\"alg\": "
                       "\"ES256\", \"generate\": true}, {\"alg\": \"RS256\", \"generate\": "
                       "true}, {\"alg\": \"EdDSA\", \"generate\": true, \"pem_file\": "
                       "\"/elsewhere/k.pem\"}, {\"alg\": \"PS256\"}]}";
    char *saved[3];
    struct af_config *cfg = NULL;
    struct af_err err = {0};
    size_t i;
    af_rc rc;

    for (i = 0; i < 3; i++) {
        saved[i] = getenv(names[i]) ? strdup(getenv(names[i])) : NULL;
    }
    set_or_unset(names[0], state_cases[_i].state);
    set_or_unset(names[1], state_cases[_i].xdg);
    set_or_unset(names[2], state_cases[_i].home);
    rc = af_cfg_load_string(text, NULL, &cfg, &err);
    for (i = 0; i < 3; i++) {
        set_or_unset(names[i], saved[i]);
        free(saved[i]);
    }
    if (state_cases[_i].error != NULL) {
        ck_assert_int_eq(rc, AF_ERR_INVALID);
        ck_assert_str_eq(err.msg, state_cases[_i].error);
        return;
    }
    ck_assert_msg(rc == AF_OK, "%s", err.msg);
    ck_assert_str_eq(cfg->keys[0].pem_file, state_cases[_i].want0);
    ck_assert(cfg->keys[0].generate);
    ck_assert_ptr_nonnull(strstr(cfg->keys[1].pem_file, "/es256.pem"));
    ck_assert_str_eq(cfg->keys[2].pem_file, state_cases[_i].want2);
    /* a pem_file given is kept, and may be missing: it is written at start */
    ck_assert_str_eq(cfg->keys[3].pem_file, "/elsewhere/k.pem");
    /* without generate, a key without pem_file stays in memory */
    ck_assert_ptr_null(cfg->keys[4].pem_file);
    ck_assert(!cfg->keys[4].generate);
    af_cfg_free(cfg);
}
END_TEST

/* issuers: an element reads its own keys, inherits the process-wide ones
 * (borrowed: freeing the config frees them once), and names its generated
 * key files after its path. */
START_TEST(test_issuers)
{
    const char *text =
        "{\"limits\": {\"max_body\": 4096, \"max_tokens\": 7}, \"admin\": {\"secret\": "
        "\"s3cret\"}, \"ledger\": {\"max_entries\": 3}, \"lifetimes\": {\"code\": 5}, "
        "\"issuers\": [{\"path\": \"/eu/tenant-a\", \"persona\": \"tiktok\", \"lifetimes\": "
        "{\"code\": 9}, \"keys\": [{\"alg\": \"ES256\", \"generate\": true}, {\"alg\": "
        "\"ES256\", \"generate\": true}]}, {\"path\": \"/b\"}]}";
    char *saved = getenv(AF_CFG_ENV_STATE_DIR) ? strdup(getenv(AF_CFG_ENV_STATE_DIR)) : NULL;
    struct af_config *cfg;

    setenv(AF_CFG_ENV_STATE_DIR, "/st", 1);
    cfg = expect_load(text);
    set_or_unset(AF_CFG_ENV_STATE_DIR, saved);
    free(saved);
    ck_assert_ptr_null(cfg->path);
    ck_assert_uint_eq(cfg->nissuers, 2);
    ck_assert_str_eq(cfg->issuers[0].path, "/eu/tenant-a");
    ck_assert_int_eq(cfg->issuers[0].persona, AF_PERSONA_TIKTOK);
    ck_assert_int_eq(cfg->issuers[1].persona, AF_PERSONA_STANDARD);
    ck_assert_int_eq(cfg->code_ttl, 5);
    ck_assert_int_eq(cfg->issuers[0].code_ttl, 9);
    ck_assert_int_eq(cfg->issuers[1].code_ttl, 60); /* its own default, not the top level's */
    for (size_t i = 0; i < 2; i++) {
        const struct af_config *el = &cfg->issuers[i];
        ck_assert_uint_eq(el->max_body, 4096);
        ck_assert_uint_eq(el->max_tokens, 7);
        ck_assert_uint_eq(el->ledger_max_entries, 3);
        ck_assert_ptr_eq(el->admin_secret, cfg->admin_secret);
        ck_assert_ptr_eq(el->source, cfg->source);
        ck_assert_uint_eq(el->nissuers, 0);
    }
    ck_assert_str_eq(cfg->issuers[0].keys[0].pem_file, "/st/eu+tenant-a.es256.pem");
    ck_assert_str_eq(cfg->issuers[0].keys[1].pem_file, "/st/eu+tenant-a.es256-2.pem");
    /* the default key, its own */
    ck_assert_uint_eq(cfg->issuers[1].nkeys, 1);
    ck_assert_int_eq(cfg->issuers[1].keys[0].alg, AF_ALG_RS256);
    ck_assert_ptr_ne(cfg->issuers[1].keys, cfg->keys);
    af_cfg_free(cfg);
}
END_TEST

START_TEST(test_pem_file_resolution)
{
    char *dir = make_tmpdir();
    char *sub = NULL, *keys = NULL, *pem = NULL, *cfgpath = NULL, *text = NULL;
    struct af_config *cfg = NULL;
    struct af_err err = {0};

    ck_assert_int_ge(asprintf(&sub, "%s/conf", dir), 0);
    ck_assert_int_ge(asprintf(&keys, "%s/conf/keys", dir), 0);
    ck_assert_int_ge(asprintf(&pem, "%s/conf/keys/a.pem", dir), 0);
    ck_assert_int_ge(asprintf(&cfgpath, "%s/conf/authflowd.json", dir), 0);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    ck_assert_int_eq(mkdir(keys, 0700), 0);
    write_file(pem, "not checked here\n", 17);
    ck_assert_int_ge(asprintf(&text,
                              "{\"keys\": [{\"alg\": \"ES256\", \"pem_file\": \"keys/a.pem\"}, "
                              "{\"alg\": \"ES256\", \"pem_file\": \"%s\", \"kid\": \"abs\"}]}",
                              pem),
                     0);
    write_file(cfgpath, text, strlen(text));

    /* Relative to the config file's folder, absolute kept as is. */
    ck_assert_msg(af_cfg_load_file(cfgpath, &cfg, &err) == AF_OK, "%s", err.msg);
    ck_assert_str_eq(cfg->keys[0].pem_file, pem);
    ck_assert_str_eq(cfg->keys[1].pem_file, pem);
    ck_assert_str_eq(cfg->keys[1].kid, "abs");
    af_cfg_free(cfg);

    /* From a string, a relative path stays relative to the current folder
     * (where keys/a.pem does not exist). */
    ck_assert_int_eq(
        af_cfg_load_string("{\"keys\": [{\"alg\": \"ES256\", \"pem_file\": \"keys/a.pem\"}]}", NULL,
                           &cfg, &err),
        AF_ERR_INVALID);
    ck_assert_ptr_nonnull(
        strstr(err.msg, "<string>:1:40: keys[0].pem_file: cannot read \"keys/a.pem\""));

    unlink(cfgpath);
    unlink(pem);
    rmdir(keys);
    rmdir(sub);
    rmdir(dir);
    free(dir);
    free(sub);
    free(keys);
    free(pem);
    free(cfgpath);
    free(text);
}
END_TEST

/* ---- lookups ---- */

START_TEST(test_lookups)
{
    /* users[0]'s sub is users[1]'s username: the username wins. */
    struct af_config *cfg = expect_load(
        "{\"clients\": [{\"client_id\": \"one\", \"redirect_uris\": [\"https://a.example/cb\"]}, "
        "{\"client_id\": \"two\", \"client_secret\": \"s\", \"grant_types\": "
        "[\"client_credentials\"]}], \"users\": [{\"sub\": \"bob\", \"username\": \"alice\"}, "
        "{\"sub\": \"u-2\", \"username\": \"bob\"}]}");

    ck_assert_ptr_eq(af_cfg_client_find(cfg, "one"), &cfg->clients[0]);
    ck_assert_ptr_eq(af_cfg_client_find(cfg, "two"), &cfg->clients[1]);
    ck_assert_ptr_null(af_cfg_client_find(cfg, "On"));
    ck_assert_ptr_null(af_cfg_client_find(cfg, "one "));
    ck_assert_ptr_null(af_cfg_client_find(cfg, NULL));
    ck_assert_ptr_null(af_cfg_client_find(NULL, "one"));

    ck_assert_ptr_eq(af_cfg_user_find(cfg, "alice"), &cfg->users[0]);
    ck_assert_ptr_eq(af_cfg_user_find(cfg, "bob"), &cfg->users[1]);
    ck_assert_ptr_eq(af_cfg_user_find(cfg, "u-2"), &cfg->users[1]);
    ck_assert_ptr_null(af_cfg_user_find(cfg, "Alice"));
    ck_assert_ptr_null(af_cfg_user_find(cfg, NULL));

    ck_assert(af_cfg_strlist_has(&cfg->clients[0].redirect_uris, "https://a.example/cb"));
    ck_assert(!af_cfg_strlist_has(&cfg->clients[0].redirect_uris, "https://a.example/cb/"));
    ck_assert(!af_cfg_strlist_has(&cfg->clients[0].redirect_uris, "https://a.example/c"));
    ck_assert(!af_cfg_strlist_has(&cfg->clients[0].redirect_uris, "HTTPS://a.example/cb"));
    ck_assert(!af_cfg_strlist_has(&cfg->clients[0].redirect_uris, NULL));
    ck_assert(af_cfg_strlist_has(&cfg->clients[0].scopes, "offline_access"));
    ck_assert(!af_cfg_strlist_has(&cfg->clients[1].redirect_uris, "https://a.example/cb"));
    af_cfg_free(cfg);
    af_cfg_free(NULL);
}
END_TEST

/* ---- docs/config.md documents every key ---- */

struct doc_check {
    const char *doc;
    size_t seen;
};

static int doc_has_key(const char *path, void *arg)
{
    struct doc_check *d = arg;
    char *needle = NULL;
    ck_assert_int_ge(asprintf(&needle, "`%s`", path), 0);
    ck_assert_msg(strstr(d->doc, needle) != NULL, "docs/config.md does not document %s", needle);
    free(needle);
    d->seen++;
    return 0;
}

static int stop_at_third(const char *path, void *arg)
{
    size_t *n = arg;
    (void)path;
    return ++*n == 3 ? 42 : 0;
}

START_TEST(test_redis_url)
{
    struct af_redis_addr a;

    ck_assert_ptr_null(af_cfg_redis_parse("redis://127.0.0.1", &a));
    ck_assert_str_eq(a.host, "127.0.0.1");
    ck_assert_uint_eq(a.port, 6379);
    ck_assert_uint_eq(a.db, 0);
    ck_assert_str_eq(a.password, "");
    ck_assert_ptr_null(af_cfg_redis_parse("redis://:p%40ss%2Fw@[::1]:6380/3", &a));
    ck_assert_str_eq(a.host, "::1");
    ck_assert_uint_eq(a.port, 6380);
    ck_assert_uint_eq(a.db, 3);
    ck_assert_str_eq(a.user, "");
    ck_assert_str_eq(a.password, "p@ss/w");
    ck_assert_ptr_null(af_cfg_redis_parse("redis://app:s3cret@redis.internal/", &a));
    ck_assert_str_eq(a.user, "app");
    ck_assert_str_eq(a.password, "s3cret");
    ck_assert_str_eq(a.host, "redis.internal");
    /* an encoded NUL cannot hide the rest of a password */
    ck_assert_ptr_nonnull(af_cfg_redis_parse("redis://:a%00b@h", &a));
}
END_TEST

START_TEST(test_doc_complete)
{
    char *path = src_path("docs/config.md");
    struct doc_check d = {read_all(path), 0};
    size_t n = 0;

    ck_assert_int_eq(af_cfg_keys_foreach(doc_has_key, &d), 0);
    /* 15 top-level keys and the nested ones: an empty walk must not pass. */
    ck_assert_uint_eq(d.seen, 72);
    ck_assert_int_eq(af_cfg_keys_foreach(stop_at_third, &n), 42);
    ck_assert_uint_eq(n, 3);
    free((char *)d.doc);
    free(path);
}
END_TEST

/* ---- jsonpos ---- */

static const struct {
    const char *text;
    const char *path;
    bool at_key;
    int found; /* steps found; -1: the path does not parse */
    int line, col;
} pos_cases[] = {
    {"{\"a\": {\"b\": [1, [2, 3], {\"c\": \"x\"}]}}", "a.b[2].c", false, 4, 1, 31},
    {"{\"a\": {\"b\": [1, [2, 3], {\"c\": \"x\"}]}}", "a.b[1][1]", false, 4, 1, 21},
    {"{\"a\": {\"b\": [1, [2, 3], {\"c\": \"x\"}]}}", "a.b[2].c", true, 4, 1, 26},
    /* escapes and brackets inside strings are skipped as string content */
    {"{\"k\\\"ey\": \"[{\\\"\", \"x\": 2}", "x", false, 1, 1, 24},
    {"{\"a\": \"\\\\\", \"b\": [\"]\", \"}\"], \"c\": 3}", "c", false, 1, 1, 35},
    /* names compare after decoding, surrogate pairs included */
    {"{\"\\u0061\": 1}", "a", true, 1, 1, 2},
    {"{\"\\ud83d\\ude00\": 1, \"z\": 2}", "\xf0\x9f\x98\x80", false, 1, 1, 18},
    {"{\"ab\": 1, \"a\": 2}", "a", false, 1, 1, 16},
    /* missing steps: the deepest value that exists */
    {"{\"a\": {\"b\": 1}}", "a.c", false, 1, 1, 7},
    {"{\"a\": [1, 2]}", "a[5]", false, 1, 1, 7},
    {"{\"a\": [1, 2]}", "a.b", false, 1, 1, 7},
    {"{\"a\": {}}", "a.b", false, 1, 1, 7},
    {"{\"a\": []}", "a[0]", false, 1, 1, 7},
    /* lines, and columns in characters */
    {"{\n  \"\xc3\xa9\": 1,\n  \"x\": [\n    true\n  ]\n}", "x[0]", false, 2, 4, 5},
    {"{\"\xc3\xa9\xc3\xa9\": 1, \"x\": 2}", "x", false, 1, 1, 16},
    {"  \n {}", "", false, 0, 2, 2},
    {"[10, {\"a\": 1}]", "[1].a", false, 2, 1, 12},
    /* malformed text: no crash, the search stops */
    {"{\"a\": [1, ", "a[3]", false, 1, 1, 7},
    {"{\"a\": \"unterminated", "b", false, 0, 1, 1},
    {"", "a", false, 0, 1, 1},
    /* paths that do not parse */
    {"{}", "a..b", false, -1, 0, 0},
    {"{}", "a[x]", false, -1, 0, 0},
    {"{}", "a.", false, -1, 0, 0},
};

START_TEST(test_jsonpos_find)
{
    int line = 0, col = 0;
    int found = af_jsonpos_find_str(pos_cases[_i].text, strlen(pos_cases[_i].text),
                                    pos_cases[_i].path, pos_cases[_i].at_key, &line, &col);
    ck_assert_msg(found == pos_cases[_i].found, "%s in %s: found %d steps (expected %d)",
                  pos_cases[_i].path, pos_cases[_i].text, found, pos_cases[_i].found);
    if (found >= 0) {
        ck_assert_msg(line == pos_cases[_i].line && col == pos_cases[_i].col,
                      "%s in %s: at %d:%d (expected %d:%d)", pos_cases[_i].path, pos_cases[_i].text,
                      line, col, pos_cases[_i].line, pos_cases[_i].col);
    }
}
END_TEST

static const struct {
    const char *text;
    size_t off;
    const char *path;
} path_at_cases[] = {
    {"{\"a\": [1, {\"b\": 2}]}", 16, "a[1].b"},
    {"{\"a\": [1, {\"b\": 2}]}", 8, "a[0]"},
    {"{\"a\": [1, {\"b\": 2}]}", 1, ""},
    {"{\"x y\": {\"z\": 1}}", 13, "[\"x y\"].z"},
    {"{\"\\u0061\": {\"b\": 1}}", 15, "a.b"},
    {"{\"a\": 1, \"a\": 2}", 13, "a"},
    {"[[[1]]]", 4, "[0][0][0]"},
    {"{\"a\": [1,]}", 10, "a[1]"},
};

START_TEST(test_jsonpos_path_at)
{
    char buf[64];
    af_jsonpos_path_at(path_at_cases[_i].text, strlen(path_at_cases[_i].text),
                       path_at_cases[_i].off, buf, sizeof(buf));
    ck_assert_str_eq(buf, path_at_cases[_i].path);
}
END_TEST

START_TEST(test_jsonpos_render)
{
    struct af_jseg segs[] = {{"clients", 0}, {NULL, 12}, {"redirect_uris", 0}, {"a\"b\n", 0}};
    char buf[64], small[12];
    char longval[200];

    af_jsonpos_path_str(segs, 4, buf, sizeof(buf));
    ck_assert_str_eq(buf, "clients[12].redirect_uris[\"a\\\"b\\n\"]");
    af_jsonpos_path_str(segs, 4, small, sizeof(small));
    ck_assert_str_eq(small, "clients...");
    af_jsonpos_path_str(segs, 0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "");

    af_jsonpos_quote("a\tb\"\\", 80, buf, sizeof(buf));
    ck_assert_str_eq(buf, "\"a\\tb\\\"\\\\\"");
    memset(longval, 'x', sizeof(longval) - 1);
    longval[sizeof(longval) - 1] = '\0';
    af_jsonpos_quote(longval, 10, buf, sizeof(buf));
    ck_assert_str_eq(buf, "\"xxxxxxxxxx\"...");
    /* never cuts inside a UTF-8 sequence */
    af_jsonpos_quote("ab\xc3\xa9", 3, buf, sizeof(buf));
    ck_assert_str_eq(buf, "\"ab\"...");
}
END_TEST

static Suite *cfg_suite(void)
{
    Suite *s = suite_create("cfg");
    TCase *tc = tcase_create("load");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_shipped_config);
    tcase_add_loop_test(tc, test_corpus, 0, (int)NCORPUS);
    tcase_add_test(tc, test_corpus_complete);
    tcase_add_loop_test(tc, test_inline_errors, 0,
                        (int)(sizeof(inline_errors) / sizeof(inline_errors[0])));
    tcase_add_test(tc, test_deep_nesting);
    tcase_add_loop_test(tc, test_int_bounds, 0, (int)(sizeof(int_keys) / sizeof(int_keys[0])));
    tcase_add_test(tc, test_oversized);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_defaults_empty);
    tcase_add_test(tc, test_scenarios_loaded);
    tcase_add_loop_test(tc, test_client_defaults, 0,
                        (int)(sizeof(client_defaults) / sizeof(client_defaults[0])));
    tcase_add_test(tc, test_user_defaults);
    tcase_add_loop_test(tc, test_accepted, 0, (int)(sizeof(accepted) / sizeof(accepted[0])));
    tcase_add_test(tc, test_audience_loaded);
    tcase_add_loop_test(tc, test_listen_loopback, 0,
                        (int)(sizeof(loopback_cases) / sizeof(loopback_cases[0])));
    tcase_add_test(tc, test_pem_file_resolution);
    tcase_add_loop_test(tc, test_generated_key_files, 0,
                        (int)(sizeof(state_cases) / sizeof(state_cases[0])));
    tcase_add_test(tc, test_lookups);
    tcase_add_test(tc, test_issuers);
    tcase_add_test(tc, test_redis_url);
    tcase_add_test(tc, test_doc_complete);
    suite_add_tcase(s, tc);

    tc = tcase_create("jsonpos");
    tcase_add_loop_test(tc, test_jsonpos_find, 0, (int)(sizeof(pos_cases) / sizeof(pos_cases[0])));
    tcase_add_loop_test(tc, test_jsonpos_path_at, 0,
                        (int)(sizeof(path_at_cases) / sizeof(path_at_cases[0])));
    tcase_add_test(tc, test_jsonpos_render);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(cfg_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
