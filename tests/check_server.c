/*
 * check_server.c - unit tests of authflowd's token side that need no running
 * server: scopes (RFC 6749 §3.3), claims released by scope (OIDC Core §5.4),
 * Authorization header parsing for Bearer (RFC 6750 §2.1) and Basic client
 * credentials (RFC 6749 §2.3.1, RFC 7617), the store (codes, tokens, grants,
 * sessions, consents, caps) and token issuance and validation over a server
 * struct built by hand (no daemon), a persona's consent rules and claims,
 * and the HTML pages of the front channel (error pages, the login page,
 * their stylesheet and CSP) from the handlers.
 */
#include "config.h"

#include <check.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authflow/buf.h"
#include "authflow/cfg.h"
#include "authflow/jose.h"
#include "authflow/proto.h"
#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/clientauth.h"
#include "server/consent.h"
#include "server/core.h"
#include "server/doc.h"
#include "server/front_channel.h"
#include "server/findings.h"
#include "server/http_req.h"
#include "server/keyring.h"
#include "server/ledger.h"
#include "server/page.h"
#include "server/persona.h"
#include "server/routes.h"
#include "server/scenario.h"
#include "server/scope.h"
#include "server/store.h"
#include "server/tokens.h"
#include "server/registry.h"

#define N(table) ((int)(sizeof(table) / sizeof(table[0])))

/* One confidential client, one user with every
 * standard claim of OIDC Core §5.1 that §5.4 files under a scope, plus
 * custom claims (hd: Google's hosted domain, a custom claim elsewhere). */
static const char config_text[] =
    "{\"clients\": ["
    " {\"client_id\": \"app\", \"client_secret\": \"s3cret\","
    "  \"redirect_uris\": [\"https://rp.example/cb\"],"
    "  \"grant_types\": [\"authorization_code\", \"refresh_token\"],"
    "  \"scope\": \"openid profile email roles\"},"
    " {\"client_id\": \"cli\", \"application_type\": \"native\","
    "  \"redirect_uris\": [\"http://127.0.0.1/cb\", \"http://[::1]:8000/cb?x=1\"]}],"
    " \"users\": [{\"sub\": \"u-1\", \"username\": \"alice\", \"password\": \"pw\","
    "  \"claims\": {"
    "   \"name\": \"Alice Example\", \"family_name\": \"Example\", \"given_name\": \"Alice\","
    "   \"middle_name\": \"M\", \"nickname\": \"al\", \"preferred_username\": \"alice\","
    "   \"profile\": \"https://alice.example/\", \"picture\": \"https://alice.example/p.png\","
    "   \"website\": \"https://alice.example/w\", \"gender\": \"female\","
    "   \"birthdate\": \"1990-01-01\", \"zoneinfo\": \"Europe/Paris\", \"locale\": \"fr-FR\","
    "   \"updated_at\": 1700000000,"
    "   \"email\": \"alice@example.com\", \"email_verified\": true,"
    "   \"address\": {\"country\": \"FR\"},"
    "   \"phone_number\": \"+33 1 23 45 67 89\", \"phone_number_verified\": false,"
    "   \"roles\": [\"user\"], \"groups\": [\"g1\"], \"hd\": \"example.com\"}}]}";

static struct af_config *cfg;

static void cfg_setup(void)
{
    struct af_err err;
    af_err_clear(&err);
    af_clock_freeze(time(NULL)); /* expiry checks must not race the wall clock */
    cfg = NULL;
    ck_assert_msg(af_cfg_load_string(config_text, "check_server", &cfg, &err) == AF_OK, "%s",
                  err.msg);
}

static void cfg_teardown(void)
{
    af_cfg_free(cfg);
    cfg = NULL;
    af_clock_set_offset(0);
    af_clock_freeze(0);
}

static const struct af_cfg_client *client(const char *id)
{
    const struct af_cfg_client *c = af_cfg_client_find(cfg, id);
    ck_assert_ptr_nonnull(c);
    return c;
}

/* ---- scopes (RFC 6749 §3.3) ---- */

static const struct {
    const char *why;
    const char *scope;
    bool valid;
} scope_valid_cases[] = {
    {"§3.3: scope is 1*scope-token", NULL, false},
    {"§3.3: empty", "", false},
    {"§3.3: a lone space", " ", false},
    {"§3.3: leading space", " openid", false},
    {"§3.3: trailing space", "openid ", false},
    {"§3.3: two spaces", "openid  profile", false},
    {"§3.3: tab is no delimiter", "openid\tprofile", false},
    {"§3.3: %x22 (DQUOTE) excluded", "a\"b", false},
    {"§3.3: %x5C (backslash) excluded", "a\\b", false},
    {"§3.3: control character", "a\x01", false},
    {"§3.3: DEL", "a\x7f", false},
    {"§3.3: non-ASCII", "caf\xc3\xa9", false},
    {"§3.3: line feed", "openid\nprofile", false},
    {"§3.3: one token", "openid", true},
    {"§3.3: space-delimited", "openid profile email", true},
    {"§3.3: range edges %x21 %x23 %x5B %x5D %x7E", "! # [ ] ~", true},
    {"§3.3: URI-like token", "https://api.example/read:all", true},
};

START_TEST(test_scope_valid)
{
    ck_assert_msg(af_scope_valid(scope_valid_cases[_i].scope) == scope_valid_cases[_i].valid,
                  "%s: \"%s\" should be %s", scope_valid_cases[_i].why,
                  scope_valid_cases[_i].scope ? scope_valid_cases[_i].scope : "(null)",
                  scope_valid_cases[_i].valid ? "valid" : "refused");
}
END_TEST

/* client "app" may ask for "openid profile email roles" */
static const struct {
    const char *why;
    const char *scope;
    bool allowed;
} client_allows_cases[] = {
    {"malformed", NULL, false},
    {"malformed: empty", "", false},
    {"malformed: trailing space", "openid profile ", false},
    {"malformed: comma-separated", "openid,profile", false},
    {"one scope not registered", "openid admin", false},
    {"a prefix of a registered scope", "open", false},
    {"a registered scope as prefix", "openidx", false},
    {"§3.3: scopes are case-sensitive", "OPENID", false},
    {"every scope registered", "openid profile email roles", true},
    {"any order", "roles openid", true},
    {"one", "email", true},
    {"repeated", "openid openid", true},
};

START_TEST(test_scope_client_allows)
{
    ck_assert_msg(af_scope_client_allows(client("app"), client_allows_cases[_i].scope) ==
                      client_allows_cases[_i].allowed,
                  "%s: \"%s\"", client_allows_cases[_i].why,
                  client_allows_cases[_i].scope ? client_allows_cases[_i].scope : "(null)");
}
END_TEST

START_TEST(test_scope_client_allows_none)
{
    /* a client without scopes (the loader never makes one) may ask for none */
    struct af_cfg_client bare;
    memset(&bare, 0, sizeof(bare));
    ck_assert(!af_scope_client_allows(&bare, "openid"));
}
END_TEST

static const struct {
    const char *why;
    const char *scope;
    const char *granted;
    bool subset;
} subset_cases[] = {
    {"RFC 6749 §6: wider than granted", "openid email", "openid profile", false},
    {"nothing granted", "openid", NULL, false},
    {"empty granted", "openid", "", false},
    {"malformed request", "", "openid", false},
    {"malformed request", "openid  profile", "openid profile", false},
    {"prefix of a granted scope", "open", "openid", false},
    {"granted scope is a prefix", "openid", "openidx", false},
    {"granted scope is a suffix", "openid", "xopenid", false},
    {"case-sensitive", "Profile", "openid profile", false},
    {"RFC 6749 §6: narrower", "profile", "openid profile", true},
    {"equal", "openid profile", "openid profile", true},
    {"reordered", "profile openid", "openid profile", true},
};

START_TEST(test_scope_subset)
{
    ck_assert_msg(af_scope_subset(subset_cases[_i].scope, subset_cases[_i].granted) ==
                      subset_cases[_i].subset,
                  "%s: \"%s\" within \"%s\"", subset_cases[_i].why, subset_cases[_i].scope,
                  subset_cases[_i].granted ? subset_cases[_i].granted : "(null)");
}
END_TEST

START_TEST(test_scope_client_default)
{
    struct af_cfg_client bare;
    char *s = af_scope_client_default(client("app"));
    ck_assert_str_eq(s, "openid profile email roles");
    ck_assert(af_scope_client_allows(client("app"), s));
    free(s);
    /* no scopes: an empty string, not NULL (NULL means out of memory) */
    memset(&bare, 0, sizeof(bare));
    s = af_scope_client_default(&bare);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, "");
    free(s);
}
END_TEST

/* ---- claims released by scope (OIDC Core §5.4) ---- */

#define PROFILE_CLAIMS                                                                             \
    "name family_name given_name middle_name nickname preferred_username profile picture "         \
    "website gender birthdate zoneinfo locale updated_at"

static const struct {
    const char *why;
    const char *scope;
    const char *released; /* space-separated, exactly these */
} release_cases[] = {
    {"no scope", NULL, ""},
    {"§5.4: openid alone releases no user claim", "openid", ""},
    {"a standard claim is not released by a scope of its name", "name", ""},
    {"a standard claim is not released by a scope of its name", "email_verified", ""},
    {"a standard claim is not released by a scope of its name", "phone_number", ""},
    {"scopes are case-sensitive", "Profile EMAIL", ""},
    {"no claim of the scope's name", "offline_access api.read", ""},
    {"§5.4: profile", "openid profile", PROFILE_CLAIMS},
    {"§5.4: email", "openid email", "email email_verified"},
    {"§5.4: address", "address", "address"},
    {"§5.4: phone", "phone", "phone_number phone_number_verified"},
    {"custom claim by a scope of its name", "openid roles", "roles"},
    {"custom claims", "groups roles", "groups roles"},
    {"everything", "openid profile email address phone roles groups",
     PROFILE_CLAIMS " email email_verified address phone_number phone_number_verified roles "
                    "groups"},
};

static size_t count_tokens(const char *s)
{
    size_t n = 0;
    bool in = false;
    for (; *s; s++) {
        if (*s != ' ' && !in)
            n++;
        in = *s != ' ';
    }
    return n;
}

START_TEST(test_claims_release)
{
    struct af_server hand = {.cfg = cfg};
    const struct af_cfg_user *user = af_user_by_sub(&hand, "u-1");
    json_t *obj = json_object(), *v;
    const char *name;

    ck_assert_ptr_nonnull(user);
    ck_assert_int_eq(af_claims_release(user, release_cases[_i].scope, obj), AF_OK);
    json_object_foreach(obj, name, v)
    {
        ck_assert_msg(af_str_has_space_token(release_cases[_i].released, name),
                      "%s: scope \"%s\" released \"%s\"", release_cases[_i].why,
                      release_cases[_i].scope ? release_cases[_i].scope : "(null)", name);
        /* the value is the user's own, shared (incref), not a copy */
        ck_assert_ptr_eq(v, json_object_get(user->claims, name));
    }
    ck_assert_msg(json_object_size(obj) == count_tokens(release_cases[_i].released),
                  "%s: %zu claims released, expected \"%s\"", release_cases[_i].why,
                  json_object_size(obj), release_cases[_i].released);
    json_decref(obj);
}
END_TEST

START_TEST(test_claims_release_no_user)
{
    /* client_credentials: no user, nothing released, no error */
    json_t *obj = json_object();
    ck_assert_int_eq(af_claims_release(NULL, "openid profile", obj), AF_OK);
    ck_assert_uint_eq(json_object_size(obj), 0);
    json_decref(obj);
}
END_TEST

START_TEST(test_user_lookup)
{
    /* exact match on one field: a stored sub must not match a username */
    struct af_server hand = {.cfg = cfg};
    ck_assert_ptr_nonnull(af_user_by_sub(&hand, "u-1"));
    ck_assert_ptr_null(af_user_by_sub(&hand, "alice"));
    ck_assert_ptr_null(af_user_by_sub(&hand, NULL));
    ck_assert_ptr_nonnull(af_user_by_username(&hand, "alice"));
    ck_assert_ptr_null(af_user_by_username(&hand, "u-1"));
    ck_assert_ptr_null(af_user_by_username(&hand, "Alice"));
}
END_TEST

/* the registry: changes are seen at once, validated as the config file
 * is, and never free what a request may still hold */
START_TEST(test_registry)
{
    struct af_server s = {.cfg = cfg};
    const struct af_cfg_user *alice, *u;
    const struct af_cfg_client *c;
    struct af_err err;
    bool created;
    static const char bob[] = "{\"sub\": \"u-9\", \"username\": \"bob9\", \"claims\": "
                              "{\"roles\": [\"a\"]}}";
    static const char bob2[] = "{\"sub\": \"u-9\", \"username\": \"bob9\"}";
    static const char clash[] = "{\"sub\": \"u-1\", \"username\": \"other\"}";
    static const char app[] = "{\"client_id\": \"rt-app\", \"redirect_uris\": "
                              "[\"https://rt.example/cb\"]}";
    static const char bad[] = "{\"client_id\": \"rt-bad\", \"redirect_uris\": [\"rt.example\"]}";

    af_err_clear(&err);
    ck_assert_int_eq(af_registry_new(cfg, &s.reg), AF_OK);
    alice = af_user_by_sub(&s, "u-1");
    ck_assert_ptr_eq(alice, &cfg->users[0]);
    ck_assert_int_eq(af_registry_put_user(s.reg, bob, strlen(bob), "body", &u, &created, &err),
                     AF_OK);
    ck_assert(created);
    ck_assert_ptr_eq(af_user_by_sub(&s, "u-9"), u);
    ck_assert_ptr_eq(af_user_find(&s, "bob9"), u);
    /* a replacement: the old entry stays readable (a request may hold it) */
    ck_assert_int_eq(af_registry_put_user(s.reg, bob2, strlen(bob2), "body", &u, &created, &err),
                     AF_OK);
    ck_assert(!created);
    ck_assert_ptr_eq(af_user_by_username(&s, "bob9"), u);
    ck_assert_ptr_null(json_object_get(u->claims, "roles"));
    /* another user's sub */
    ck_assert_int_eq(af_registry_put_user(s.reg, clash, strlen(clash), "body", &u, &created, &err),
                     AF_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err.msg, "clashes with user alice"));
    /* validated by the loader's rules, with its messages */
    ck_assert_int_eq(af_registry_put_client(s.reg, bad, strlen(bad), "body", &c, &created, &err),
                     AF_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err.msg, "body:1:"));
    ck_assert_ptr_nonnull(strstr(err.msg, "redirect_uris[0]"));
    ck_assert_int_eq(af_registry_put_client(s.reg, app, strlen(app), "body", &c, &created, &err),
                     AF_OK);
    ck_assert_ptr_eq(af_client_find(&s, "rt-app"), c);
    ck_assert_int_eq(af_registry_remove_client(s.reg, "rt-app", &err), AF_OK);
    ck_assert_ptr_null(af_client_find(&s, "rt-app"));
    ck_assert_str_eq(c->id, "rt-app"); /* kept until the registry goes */
    ck_assert_int_eq(af_registry_remove_client(s.reg, "rt-app", &err), AF_ERR_NOTFOUND);
    ck_assert_int_eq(af_registry_remove_user(s.reg, "bob9", &err), AF_OK);
    ck_assert_ptr_null(af_user_find(&s, "bob9"));
    ck_assert_ptr_eq(af_user_by_sub(&s, "u-1"), alice);
    af_registry_free(s.reg);
}
END_TEST

/* ---- Bearer (RFC 6750 §2.1) ---- */

static const struct {
    const char *why;
    const char *hdr;
    af_bearer_result res;
    const char *token;
} bearer_cases[] = {
    {"no header", NULL, AF_BEARER_ABSENT, NULL},
    {"empty header", "", AF_BEARER_ABSENT, NULL},
    {"§3: another scheme is no credentials", "Basic YWJjOmRlZg==", AF_BEARER_ABSENT, NULL},
    {"RFC 7235 §2.1: a longer scheme name", "Bearerx abc", AF_BEARER_ABSENT, NULL},
    {"RFC 7235 §2.1: a longer scheme name (tchar)", "Bearer-abc", AF_BEARER_ABSENT, NULL},
    {"§2.1: token missing", "Bearer", AF_BEARER_MALFORMED, NULL},
    {"§2.1: token missing after the space", "Bearer ", AF_BEARER_MALFORMED, NULL},
    {"§2.1: only spaces", "Bearer    ", AF_BEARER_MALFORMED, NULL},
    {"RFC 7235 §2.1: 1*SP, not HTAB", "Bearer\tabc", AF_BEARER_MALFORMED, NULL},
    {"§2.1: a comma after the scheme", "Bearer,abc", AF_BEARER_MALFORMED, NULL},
    {"§2.1: space inside the token", "Bearer abc def", AF_BEARER_MALFORMED, NULL},
    {"§2.1: comma inside the token", "Bearer abc,def", AF_BEARER_MALFORMED, NULL},
    {"§2.1: '=' only at the end", "Bearer a=b", AF_BEARER_MALFORMED, NULL},
    {"§2.1: '=' only after 1*b64token", "Bearer =abc", AF_BEARER_MALFORMED, NULL},
    {"§2.1: '%' not in b64token", "Bearer ab%20c", AF_BEARER_MALFORMED, NULL},
    {"§2.1: quoted-string not allowed", "Bearer \"abc\"", AF_BEARER_MALFORMED, NULL},
    {"§2.1: auth-param syntax not allowed", "Bearer token=abc, x=y", AF_BEARER_MALFORMED, NULL},
    {"§2.1: non-ASCII", "Bearer abc\xc3\xa9", AF_BEARER_MALFORMED, NULL},
    {"§2.1: control character", "Bearer ab\x01", AF_BEARER_MALFORMED, NULL},
    {"§2.1", "Bearer abc", AF_BEARER_OK, "abc"},
    {"RFC 7235 §2.1: scheme is case-insensitive", "bearer abc", AF_BEARER_OK, "abc"},
    {"RFC 7235 §2.1: scheme is case-insensitive", "BEARER abc", AF_BEARER_OK, "abc"},
    {"RFC 7235 §2.1: scheme is case-insensitive", "bEaReR abc", AF_BEARER_OK, "abc"},
    {"RFC 7235 §2.1: 1*SP", "Bearer    abc", AF_BEARER_OK, "abc"},
    {"RFC 7230 §3.2: OWS around the value", "  Bearer abc \t", AF_BEARER_OK, "abc"},
    {"§2.1: the whole b64token alphabet and padding", "Bearer aZ09-._~+/==", AF_BEARER_OK,
     "aZ09-._~+/=="},
    {"a JWS", "Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", AF_BEARER_OK,
     "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"},
};

START_TEST(test_bearer_parse)
{
    char *tok = (char *)&tok; /* must be reset */
    af_bearer_result r = af_bearer_parse(bearer_cases[_i].hdr, &tok);
    ck_assert_msg(r == bearer_cases[_i].res, "%s: \"%s\" gave %d, expected %d",
                  bearer_cases[_i].why, bearer_cases[_i].hdr ? bearer_cases[_i].hdr : "(null)",
                  (int)r, (int)bearer_cases[_i].res);
    if (r == AF_BEARER_OK)
        ck_assert_str_eq(tok, bearer_cases[_i].token);
    else
        ck_assert_ptr_null(tok);
    free(tok);
}
END_TEST

/* make_header: prefix followed by fill characters up to total bytes. */
static char *make_header(const char *prefix, char fill, size_t total)
{
    size_t n = strlen(prefix);
    char *s = malloc(total + 1);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_ge(total, n);
    memcpy(s, prefix, n);
    memset(s + n, fill, total - n);
    s[total] = '\0';
    return s;
}

START_TEST(test_bearer_oversized)
{
    /* the cap bounds the work: one byte over is refused, at the cap is fine */
    char *hdr = make_header("Bearer ", 'a', AF_BEARER_HDR_MAX + 1), *tok = NULL;
    ck_assert_int_eq(af_bearer_parse(hdr, &tok), AF_BEARER_MALFORMED);
    ck_assert_ptr_null(tok);
    free(hdr);
    hdr = make_header("Bearer ", 'a', AF_BEARER_HDR_MAX);
    ck_assert_int_eq(af_bearer_parse(hdr, &tok), AF_BEARER_OK);
    ck_assert_uint_eq(strlen(tok), AF_BEARER_HDR_MAX - 7);
    free(tok);
    free(hdr);
}
END_TEST

/* ---- Basic client credentials (RFC 6749 §2.3.1, RFC 7617 §2) ---- */

static const struct {
    const char *why;
    const char *hdr;
    af_rc rc;
    const char *id;
    const char *secret;
} basic_cases[] = {
    {"no header", NULL, AF_ERR_NOTFOUND, NULL, NULL},
    {"another scheme", "Bearer abc", AF_ERR_NOTFOUND, NULL, NULL},
    {"RFC 7235 §2.1: a longer scheme name", "Basicx YWJjOmRlZg==", AF_ERR_NOTFOUND, NULL, NULL},
    {"RFC 7617 §2: credentials missing", "Basic", AF_ERR_PARSE, NULL, NULL},
    {"RFC 7617 §2: credentials missing", "Basic ", AF_ERR_PARSE, NULL, NULL},
    {"RFC 7235 §2.1: 1*SP, not HTAB", "Basic\tYWJjOmRlZg==", AF_ERR_PARSE, NULL, NULL},
    {"RFC 7617 §2: no colon (abcdef)", "Basic YWJjZGVm", AF_ERR_PARSE, NULL, NULL},
    {"RFC 4648 §4: padding missing (abc:d)", "Basic YWJjOmQ", AF_ERR_PARSE, NULL, NULL},
    {"RFC 4648 §4: padding missing (abc:)", "Basic YWJjOg", AF_ERR_PARSE, NULL, NULL},
    {"RFC 4648 §4: too much padding", "Basic YWJjOmQ==", AF_ERR_PARSE, NULL, NULL},
    {"RFC 4648 §4: three pad characters", "Basic YWJ===", AF_ERR_PARSE, NULL, NULL},
    {"RFC 4648 §4: padding only", "Basic ====", AF_ERR_PARSE, NULL, NULL},
    {"RFC 4648 §3.3: padding inside", "Basic YQ==YWJjOmRlZg==", AF_ERR_PARSE, NULL, NULL},
    {"RFC 4648 §3.5: non-zero pad bits, one '='", "Basic YWJjOmR=", AF_ERR_PARSE, NULL, NULL},
    {"RFC 4648 §3.5: non-zero pad bits, two '='", "Basic YWJjOh==", AF_ERR_PARSE, NULL, NULL},
    {"RFC 4648 §5: base64url is not base64", "Basic aWQ6YWI-Y2Q_", AF_ERR_PARSE, NULL, NULL},
    {"RFC 4648 §3.3: a character outside the alphabet", "Basic YWJj*mRlZg==", AF_ERR_PARSE, NULL,
     NULL},
    {"RFC 4648 §3.3: whitespace inside", "Basic YWJj OmRlZg==", AF_ERR_PARSE, NULL, NULL},
    {"RFC 4648 §3.3: line feed inside", "Basic YWJj\nOmRlZg==", AF_ERR_PARSE, NULL, NULL},
    {"RFC 6749 §2.3.1: malformed escape (a%2:b)", "Basic YSUyOmI=", AF_ERR_PARSE, NULL, NULL},
    {"RFC 6749 §2.3.1: encoded NUL (a%00:b)", "Basic YSUwMDpi", AF_ERR_PARSE, NULL, NULL},
    {"raw NUL in the id", "Basic YQBiOmM=", AF_ERR_PARSE, NULL, NULL},
    {"RFC 3629: raw invalid UTF-8 in the id", "Basic wyg6Yg==", AF_ERR_PARSE, NULL, NULL},
    {"RFC 3629: encoded invalid UTF-8 (%C3%28:b)", "Basic JUMzJTI4OmI=", AF_ERR_PARSE, NULL, NULL},
    {"RFC 7617 §2 example", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", AF_OK, "Aladdin", "open sesame"},
    {"RFC 7235 §2.1: scheme is case-insensitive", "basic YWJjOmRlZg==", AF_OK, "abc", "def"},
    {"RFC 7235 §2.1: scheme is case-insensitive", "BASIC YWJjOmRlZg==", AF_OK, "abc", "def"},
    {"RFC 7235 §2.1: 1*SP; OWS around the value", "  Basic   YWJjOmRlZg== \t", AF_OK, "abc", "def"},
    {"empty secret (abc:)", "Basic YWJjOg==", AF_OK, "abc", ""},
    {"empty id (:secret)", "Basic OnNlY3JldA==", AF_OK, "", "secret"},
    {"RFC 7617 §2: the id ends at the first colon (id:a:b)", "Basic aWQ6YTpi", AF_OK, "id", "a:b"},
    {"RFC 4648 §4: '+' and '/' (id:ab>cd?)", "Basic aWQ6YWI+Y2Q/", AF_OK, "id", "ab>cd?"},
    {"RFC 6749 §2.3.1, Appendix B: '+' is a space", "Basic bXkrY2xpZW50OnNlK2NyZXQ=", AF_OK,
     "my client", "se cret"},
    {"RFC 6749 §2.3.1: percent-encoded reserved characters",
     "Basic Y2xpZW50JTNBaWQ6cCU0MHNzJTNBd29yZCUyNSUyQg==", AF_OK, "client:id", "p@ss:word%+"},
    {"RFC 6749 Appendix B: UTF-8 (%C3%A9:x)", "Basic JUMzJUE5Ong=", AF_OK, "\xc3\xa9", "x"},
};

START_TEST(test_basic_parse)
{
    char *id = (char *)&id, *secret = (char *)&secret; /* must be reset */
    af_rc rc = af_basic_parse(basic_cases[_i].hdr, &id, &secret);
    ck_assert_msg(rc == basic_cases[_i].rc, "%s: \"%s\" gave %s, expected %s", basic_cases[_i].why,
                  basic_cases[_i].hdr ? basic_cases[_i].hdr : "(null)", af_rc_str(rc),
                  af_rc_str(basic_cases[_i].rc));
    if (rc == AF_OK) {
        ck_assert_str_eq(id, basic_cases[_i].id);
        ck_assert_str_eq(secret, basic_cases[_i].secret);
    } else {
        ck_assert_ptr_null(id);
        ck_assert_ptr_null(secret);
    }
    free(id);
    free(secret);
}
END_TEST

START_TEST(test_basic_oversized)
{
    char *hdr, *id = NULL, *secret = NULL, *text;
    struct af_buf b;
    size_t i;

    /* "Basic" + 3 spaces + 2040 base64 characters (1530 bytes) = the cap */
    text = malloc(1531);
    ck_assert_ptr_nonnull(text);
    memcpy(text, "a:", 2);
    for (i = 2; i < 1530; i++)
        text[i] = 'x';
    text[1530] = '\0';
    af_buf_init(&b, AF_BASIC_HDR_MAX + 1);
    ck_assert_int_eq(af_buf_adds(&b, "Basic   "), AF_OK);
    ck_assert_int_eq(af_b64url_encode(&b, (const unsigned char *)text, 1530), AF_OK);
    ck_assert_uint_eq(b.len, AF_BASIC_HDR_MAX); /* "a:xxx..." has no '+' or '/' either way */
    ck_assert_int_eq(af_basic_parse(af_buf_str(&b), &id, &secret), AF_OK);
    ck_assert_str_eq(id, "a");
    ck_assert_str_eq(secret, text + 2);
    free(id);
    free(secret);
    /* one more space: over the cap, refused before any decoding */
    ck_assert_int_eq(af_buf_addc(&b, ' '), AF_OK);
    ck_assert_int_eq(af_basic_parse(af_buf_str(&b), &id, &secret), AF_ERR_TOOBIG);
    ck_assert_ptr_null(id);
    ck_assert_ptr_null(secret);
    af_buf_free(&b);
    free(text);
    /* the cap holds whatever the scheme */
    hdr = make_header("Bearer ", 'a', AF_BASIC_HDR_MAX + 1);
    ck_assert_int_eq(af_basic_parse(hdr, &id, &secret), AF_ERR_TOOBIG);
    free(hdr);
}
END_TEST

static const struct {
    const char *hdr;
    const char *scheme;
    const char *rest; /* NULL: another scheme */
} scheme_cases[] = {
    {NULL, "Basic", NULL},          {"", "Basic", NULL},
    {"Bas", "Basic", NULL},         {"Basic2 x", "Basic", NULL},
    {"Basic!x", "Basic", NULL},     {"Digest Basic", "Basic", NULL},
    {"Basic", "Basic", ""},         {"basic   x y", "Basic", "x y"},
    {"Basic\tx", "Basic", "\tx"},   {"Basic,x", "Basic", ",x"},
    {" \tBEARER x", "Bearer", "x"},
};

START_TEST(test_auth_scheme_match)
{
    /* RFC 7235 §2.1 */
    const char *r = af_auth_scheme_match(scheme_cases[_i].hdr, scheme_cases[_i].scheme);
    if (scheme_cases[_i].rest == NULL)
        ck_assert_msg(r == NULL, "case %d: \"%s\" matched", _i, scheme_cases[_i].hdr);
    else
        ck_assert_msg(r != NULL && strcmp(r, scheme_cases[_i].rest) == 0,
                      "case %d: \"%s\" gave \"%s\"", _i, scheme_cases[_i].hdr, r ? r : "(null)");
}
END_TEST

/* ---- the store ---- */

static struct af_store *st;
/* 4 codes, 6 of each other kind; revoked grants kept 60 s; sweeps by hand */
static const struct af_store_limits store_limits = {
    .max_codes = 4, .max_tokens = 6, .revoke_keep = 60, .no_sweeper = true};

static void store_setup(void)
{
    /* expiry tests count seconds: a wall-clock tick between creating a
     * record and checking it must not move the boundary */
    af_clock_freeze(time(NULL));
    st = NULL;
    ck_assert_int_eq(af_store_new(&store_limits, &st), AF_OK);
}

static void store_teardown(void)
{
    af_store_free(st);
    st = NULL;
    af_clock_set_offset(0);
    af_clock_freeze(0);
}

/* code_rec / tok_rec: records that borrow static strings (never cleared). */
static struct af_code_rec code_rec(long ttl)
{
    struct af_code_rec r;
    memset(&r, 0, sizeof(r));
    r.client_id = (char *)"app";
    r.redirect_uri = (char *)"https://rp.example/cb";
    r.challenge = (char *)"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    r.challenge_method = (char *)AF_PKCE_S256;
    r.scope = (char *)"openid profile";
    r.sub = (char *)"u-1";
    r.nonce = (char *)"n-0S6_WzA2Mj";
    r.auth_time = af_now();
    r.expires = af_now() + ttl;
    return r;
}

static struct af_token_rec tok_rec(const char *grant, bool refresh, long ttl)
{
    struct af_token_rec r;
    memset(&r, 0, sizeof(r));
    r.client_id = (char *)"app";
    r.sub = (char *)"u-1";
    r.scope = (char *)"openid";
    r.grant_id = (char *)grant;
    r.issued = af_now();
    r.expires = af_now() + ttl;
    r.is_refresh = refresh;
    return r;
}

/* access_live: the store does not refuse access token jti. */
static bool access_live(const char *jti)
{
    const struct af_scenario *sc;
    return af_access_check(st, jti, &sc) == AF_OK;
}

static bool refresh_live(const char *token)
{
    struct af_token_rec r;
    af_rc rc = af_refresh_get(st, token, &r);
    af_token_rec_clear(&r);
    return rc == AF_OK;
}

/* jti_of: a fresh jti of grant (caller frees). */
static char *jti_of(const char *grant)
{
    char *jti = NULL;
    ck_assert_int_eq(af_store_jti(grant, &jti), AF_OK);
    return jti;
}

/* family: the refresh token of grant's family, issued or next (caller frees). */
static char *family(const char *grant, long ttl)
{
    struct af_token_rec in = tok_rec(grant, true, ttl);
    char *tok = NULL;
    ck_assert_int_eq(af_refresh_issue(st, &in, &tok), AF_OK);
    ck_assert_ptr_nonnull(tok);
    return tok;
}

static struct af_store_counts counts(void)
{
    struct af_store_counts c;
    af_store_counts(st, &c);
    return c;
}

START_TEST(test_code_unknown)
{
    struct af_code_rec out;
    char *grant = NULL;
    ck_assert_int_eq(af_code_take(st, "no-such-code", "app", &out, &grant), AF_ERR_NOTFOUND);
    ck_assert_ptr_null(grant);
    ck_assert_ptr_null(out.client_id);
}
END_TEST

START_TEST(test_code_single_use)
{
    /* RFC 6749 §4.1.2: a code is used once; a second use is refused and
     * revokes the tokens issued from it (§10.5, RFC 9700 §4.2.4) */
    struct af_code_rec in = code_rec(60), out;
    char *code = NULL, *code2 = NULL, *grant = NULL, *grant2 = NULL, *at1, *at2, *rt;

    char *put_grant = NULL, *first;

    ck_assert_int_eq(af_code_put(st, &in, &code, &put_grant), AF_OK);
    ck_assert_int_eq(af_code_put(st, &in, &code2, NULL), AF_OK);
    /* RFC 6749 §10.10: >= 128 bits of entropy, base64url */
    ck_assert_uint_ge(strlen(code), 22);
    ck_assert_str_ne(code, code2);

    ck_assert_int_eq(af_code_take(st, code, "app", &out, &grant), AF_OK);
    ck_assert_str_eq(out.client_id, "app");
    ck_assert_str_eq(out.redirect_uri, in.redirect_uri);
    ck_assert_str_eq(out.challenge, in.challenge);
    ck_assert_str_eq(out.challenge_method, AF_PKCE_S256);
    ck_assert_str_eq(out.scope, in.scope);
    ck_assert_str_eq(out.sub, "u-1");
    ck_assert_str_eq(out.nonce, in.nonce);
    ck_assert_int_eq(out.auth_time, in.auth_time);
    ck_assert_ptr_nonnull(grant);
    ck_assert_str_eq(grant, put_grant); /* the flow the ledger names */
    af_code_rec_clear(&out);

    /* tokens from this grant, and one from the other code's grant */
    ck_assert_int_eq(af_code_take(st, code2, "app", &out, &grant2), AF_OK);
    af_code_rec_clear(&out);
    ck_assert_str_ne(grant, grant2); /* a fresh grant per code */
    at1 = jti_of(grant);
    at2 = jti_of(grant2);
    rt = family(grant, 600);
    ck_assert(access_live(at1));

    first = grant;
    grant = NULL;
    /* the replay names the grant it revoked */
    ck_assert_int_eq(af_code_take(st, code, "app", &out, &grant), AF_ERR_STATE);
    ck_assert_str_eq(grant, first);
    free(grant);
    free(first);
    free(put_grant);
    grant = NULL;
    ck_assert_ptr_null(out.client_id);
    ck_assert(!access_live(at1));
    ck_assert(!refresh_live(rt));
    ck_assert(access_live(at2));
    /* and again: still refused */
    ck_assert_int_eq(af_code_take(st, code, "app", &out, &grant), AF_ERR_STATE);
    free(grant);
    free(code);
    free(code2);
    free(grant2);
    free(at1);
    free(at2);
    free(rt);
}
END_TEST

START_TEST(test_code_other_client)
{
    /* RFC 6749 §4.1.3: a code presented by another client is refused and
     * not used up: its own client can still redeem it */
    struct af_code_rec in = code_rec(60), out;
    char *code = NULL, *grant = NULL;

    ck_assert_int_eq(af_code_put(st, &in, &code, NULL), AF_OK);
    ck_assert_int_eq(af_code_take(st, code, "other", &out, &grant), AF_ERR_NOTFOUND);
    ck_assert_ptr_null(grant);
    /* whose it is, for the refusal's reason; nothing else */
    ck_assert_str_eq(out.client_id, "app");
    ck_assert_ptr_null(out.scope);
    af_code_rec_clear(&out);
    ck_assert_int_eq(af_code_take(st, "no-such-code", "other", &out, &grant), AF_ERR_NOTFOUND);
    ck_assert_ptr_null(out.client_id);
    ck_assert_int_eq(af_code_take(st, code, "app", &out, &grant), AF_OK);
    ck_assert_str_eq(out.client_id, "app");
    af_code_rec_clear(&out);
    free(grant);
    free(code);
}
END_TEST

START_TEST(test_code_expiry)
{
    /* RFC 6749 §4.1.2: codes expire; not accepted at their expiry time */
    struct af_code_rec in = code_rec(60), out;
    char *code = NULL, *code2 = NULL, *grant = NULL;

    ck_assert_int_eq(af_code_put(st, &in, &code, NULL), AF_OK);
    ck_assert_int_eq(af_code_put(st, &in, &code2, NULL), AF_OK);
    af_clock_set_offset(59);
    ck_assert_int_eq(af_code_take(st, code2, "app", &out, &grant), AF_OK);
    af_code_rec_clear(&out);
    free(grant);
    grant = NULL;
    af_clock_set_offset(60);
    ck_assert_int_eq(af_code_take(st, code, "app", &out, &grant), AF_ERR_INVALID);
    ck_assert_ptr_null(grant);
    ck_assert_ptr_null(out.client_id);
    /* an expired code was never used: asking again is no replay */
    ck_assert_int_eq(af_code_take(st, code, "app", &out, &grant), AF_ERR_INVALID);
    free(code);
    free(code2);
}
END_TEST

START_TEST(test_code_cap)
{
    /* max_codes 4: the fifth live code is refused; expired ones make room */
    struct af_code_rec in = code_rec(60);
    char *code[5] = {NULL};
    int i;

    for (i = 0; i < 4; i++)
        ck_assert_int_eq(af_code_put(st, &in, &code[i], NULL), AF_OK);
    ck_assert_int_eq(af_code_put(st, &in, &code[4], NULL), AF_ERR_TOOBIG);
    ck_assert_ptr_null(code[4]);
    af_clock_set_offset(61);
    in = code_rec(60);
    ck_assert_int_eq(af_code_put(st, &in, &code[4], NULL), AF_OK);
    for (i = 0; i < 5; i++)
        free(code[i]);
}
END_TEST

START_TEST(test_code_redeemed_leave_the_cap)
{
    /* a redeemed code only waits for its replay: pending codes alone count
     * against max_codes (4), and the oldest redeemed give way */
    struct af_code_rec in = code_rec(60), out;
    char *code[12] = {NULL}, *grant = NULL, *last, *at;
    int i;

    for (i = 0; i < 12; i++) {
        af_clock_set_offset(i); /* the earlier issued, the sooner due */
        in = code_rec(60);
        ck_assert_int_eq(af_code_put(st, &in, &code[i], NULL), AF_OK);
        ck_assert_int_eq(af_code_take(st, code[i], "app", &out, &grant), AF_OK);
        af_code_rec_clear(&out);
        if (i < 11)
            free(grant);
    }
    ck_assert_uint_eq(counts().codes, 0);
    ck_assert_uint_eq(counts().used_codes, 4);
    /* the last one's replay is still caught and revokes its grant */
    last = grant;
    at = jti_of(last);
    ck_assert_int_eq(af_code_take(st, code[11], "app", &out, &grant), AF_ERR_STATE);
    ck_assert_str_eq(grant, last); /* the grant it revoked */
    free(grant);
    ck_assert(!access_live(at));
    /* the first one's record gave way: unknown now */
    ck_assert_int_eq(af_code_take(st, code[0], "app", &out, &grant), AF_ERR_NOTFOUND);
    af_clock_set_offset(11 + 60);
    af_store_sweep(st);
    ck_assert_uint_eq(counts().used_codes, 0);
    for (i = 0; i < 12; i++)
        free(code[i]);
    free(at);
    free(last);
}
END_TEST

START_TEST(test_access_not_stored)
{
    /* access tokens cost nothing: nothing is stored until one is revoked */
    char *a = jti_of(NULL), *b = jti_of("g1"), *c = jti_of("g1");

    ck_assert_ptr_null(strchr(a, '.'));
    ck_assert_int_eq(strncmp(b, "g1.", 3), 0);
    ck_assert_str_ne(b, c);
    ck_assert_uint_ge(strlen(a), 22); /* >= 128 bits */
    ck_assert(access_live(a));
    ck_assert(access_live(b));
    ck_assert_uint_eq(counts().revoked, 0);
    ck_assert_uint_eq(counts().grants, 0);
    /* one access token alone (RFC 7009 §2.1), until its exp */
    ck_assert_int_eq(af_access_revoke(st, b, af_now() + 60), AF_OK);
    ck_assert_int_eq(af_access_revoke(st, b, af_now() + 60), AF_OK); /* again: no error */
    ck_assert(!access_live(b));
    ck_assert(access_live(c));
    ck_assert(access_live(a));
    ck_assert_uint_eq(counts().revoked, 1);
    af_clock_set_offset(59);
    af_store_sweep(st);
    ck_assert(!access_live(b));
    af_clock_set_offset(60);
    af_store_sweep(st);
    ck_assert_uint_eq(counts().revoked, 0); /* its token has expired too */
    free(a);
    free(b);
    free(c);
}
END_TEST

START_TEST(test_grant_revoke)
{
    /* revoking a grant revokes its access tokens (kept revoke_keep = 60 s,
     * the longest an access token lives) and its refresh family */
    char *a1 = jti_of("g1"), *a2 = jti_of("g2"), *rt = family("g1", 600);

    ck_assert_int_eq(af_grant_revoke(st, "g1"), AF_OK);
    ck_assert(!access_live(a1));
    ck_assert(!refresh_live(rt));
    ck_assert(access_live(a2));
    /* a grant never seen (no family, no scenario) is remembered too */
    ck_assert_int_eq(af_grant_revoke(st, "g2"), AF_OK);
    ck_assert(!access_live(a2));
    ck_assert_uint_eq(counts().grants, 2);
    af_clock_set_offset(59);
    af_store_sweep(st);
    ck_assert(!access_live(a1));
    ck_assert_uint_eq(counts().grants, 2);
    af_clock_set_offset(60);
    af_store_sweep(st);
    ck_assert_uint_eq(counts().grants, 0);
    /* a family whose last access token has expired leaves at once */
    free(rt);
    rt = family("g4", 600);
    af_clock_set_offset(120);
    ck_assert_int_eq(af_grant_revoke(st, "g4"), AF_OK);
    ck_assert(!refresh_live(rt));
    af_store_sweep(st);
    ck_assert_uint_eq(counts().grants, 0);
    free(a1);
    free(a2);
    free(rt);
}
END_TEST

START_TEST(test_grant_note)
{
    /* a flow's scenario reaches /userinfo through the grant its jti names */
    static const int marker = 1;
    const struct af_scenario *sc = (const struct af_scenario *)(const void *)&marker, *got;
    char *a = jti_of("g3"), *b = jti_of(NULL);

    ck_assert_int_eq(af_grant_note(st, "g3", sc, af_now() + 60), AF_OK);
    ck_assert_int_eq(af_grant_note(st, "g3", NULL, af_now() + 60), AF_OK); /* known: no-op */
    ck_assert_int_eq(af_access_check(st, a, &got), AF_OK);
    ck_assert_ptr_eq(got, sc);
    ck_assert_int_eq(af_access_check(st, b, &got), AF_OK);
    ck_assert_ptr_null(got);
    ck_assert_int_eq(af_grant_revoke(st, "g3"), AF_OK);
    ck_assert_int_eq(af_access_check(st, a, &got), AF_ERR_NOTFOUND);
    ck_assert_ptr_null(got);
    free(a);
    free(b);
}
END_TEST

START_TEST(test_store_cap)
{
    /* max_tokens 6 for each kind: the seventh revocation is refused;
     * expired ones make room */
    char jti[16];
    int i;

    for (i = 0; i < 6; i++) {
        snprintf(jti, sizeof(jti), "k%d", i);
        ck_assert_int_eq(af_access_revoke(st, jti, af_now() + 60), AF_OK);
    }
    ck_assert_int_eq(af_access_revoke(st, "k6", af_now() + 60), AF_ERR_TOOBIG);
    ck_assert(access_live("k6"));
    /* the other kinds have their own cap */
    ck_assert_int_eq(af_grant_revoke(st, "g1"), AF_OK);
    af_clock_set_offset(60);
    ck_assert_int_eq(af_access_revoke(st, "k6", af_now() + 60), AF_OK);
    ck_assert(!access_live("k6"));
}
END_TEST

START_TEST(test_refresh_rotation)
{
    /* RFC 9700 §4.14.2: rotation; the replay of a used refresh token
     * revokes the grant, including the token that replaced it */
    struct af_token_rec in = tok_rec("g1", true, 600), out;
    char *rt1 = NULL, *rt2, *other = family("g2", 600), *at = jti_of("g1"), *forged;
    int i;

    in.nonce = (char *)"n-1";
    ck_assert_int_eq(af_refresh_issue(st, &in, &rt1), AF_OK);
    /* opaque: one base64url string, nothing like a JWT; a 128-bit MAC */
    ck_assert_ptr_null(strchr(rt1, '.'));
    ck_assert_uint_ge(strlen(rt1), (1 + 2 + 4 + 16) * 4 / 3);
    ck_assert(refresh_live(rt1));
    ck_assert_int_eq(af_refresh_rotate(st, "unknown", &out), AF_ERR_NOTFOUND);
    /* an access token's jti is no refresh token */
    ck_assert_int_eq(af_refresh_rotate(st, at, &out), AF_ERR_NOTFOUND);
    /* a forged generation or MAC is unknown, and burns nothing */
    forged = strdup(rt1);
    forged[strlen(forged) - 1] = forged[strlen(forged) - 1] == 'A' ? 'B' : 'A';
    ck_assert_int_eq(af_refresh_rotate(st, forged, &out), AF_ERR_NOTFOUND);
    ck_assert(!refresh_live(forged));
    /* len 2, "g1", generation 0 or 1, a MAC of zeros */
    ck_assert_int_eq(af_refresh_rotate(st, "AmcxAAAAAAAAAAAAAAAAAAAAAAAAAAA", &out),
                     AF_ERR_NOTFOUND);
    ck_assert_int_eq(af_refresh_rotate(st, "AmcxAAAAAQAAAAAAAAAAAAAAAAAAAAA", &out),
                     AF_ERR_NOTFOUND);
    ck_assert(refresh_live(rt1));

    ck_assert_int_eq(af_refresh_rotate(st, rt1, &out), AF_OK);
    ck_assert(out.is_refresh);
    ck_assert_str_eq(out.grant_id, "g1");
    ck_assert_str_eq(out.nonce, "n-1");
    ck_assert_str_eq(out.client_id, "app");
    af_token_rec_clear(&out);
    ck_assert(!refresh_live(rt1)); /* used up */
    rt2 = family("g1", 600);
    ck_assert_str_ne(rt1, rt2);
    ck_assert(refresh_live(rt2));
    ck_assert(access_live(at));

    /* replay */
    ck_assert_int_eq(af_refresh_rotate(st, rt1, &out), AF_ERR_STATE);
    ck_assert_ptr_null(out.client_id);
    ck_assert_str_eq(out.grant_id, "g1"); /* the flow the ledger names */
    af_token_rec_clear(&out);
    ck_assert(!refresh_live(rt2));
    ck_assert(!access_live(at));
    ck_assert_int_eq(af_refresh_rotate(st, rt2, &out), AF_ERR_NOTFOUND);
    ck_assert(refresh_live(other));
    /* a revoked family gets no new token */
    free(rt2);
    ck_assert_int_eq(af_refresh_issue(st, &in, &rt2), AF_ERR_STATE);

    /* constant memory: a family is one entry however often it rotates */
    for (i = 0; i < 100; i++) {
        ck_assert_int_eq(af_refresh_rotate(st, other, &out), AF_OK);
        af_token_rec_clear(&out);
        free(other);
        other = family("g2", 600);
    }
    ck_assert(refresh_live(other));
    ck_assert_uint_eq(counts().grants, 2);
    free(rt1);
    free(other);
    free(at);
    free(forged);
}
END_TEST

START_TEST(test_refresh_expiry)
{
    char *rt = family("g1", 600);
    struct af_token_rec out;

    af_clock_set_offset(599);
    ck_assert(refresh_live(rt));
    af_clock_set_offset(600);
    ck_assert_int_eq(af_refresh_rotate(st, rt, &out), AF_ERR_NOTFOUND);
    ck_assert_ptr_null(out.client_id);
    ck_assert_uint_eq(counts().grants, 1);
    af_store_sweep(st);
    ck_assert_uint_eq(counts().grants, 0);
    free(rt);
}
END_TEST

START_TEST(test_store_wheel)
{
    /* lifetimes longer than the wheel's turn stay until they are due */
    char *keep = family("g-long", 1000), *gone = family("g-short", 10);

    af_clock_set_offset(300);
    af_store_sweep(st);
    ck_assert_uint_eq(counts().grants, 1);
    ck_assert(refresh_live(keep));
    af_clock_set_offset(999);
    af_store_sweep(st);
    ck_assert(refresh_live(keep));
    af_clock_set_offset(1000);
    af_store_sweep(st);
    ck_assert_uint_eq(counts().grants, 0);
    free(keep);
    free(gone);
}
END_TEST

struct race {
    char *token;
    int ok, replay;
    pthread_mutex_t mu;
};

static void *race_rotate(void *arg)
{
    struct race *r = arg;
    struct af_token_rec out;
    af_rc rc = af_refresh_rotate(st, r->token, &out);
    af_token_rec_clear(&out);
    pthread_mutex_lock(&r->mu);
    r->ok += rc == AF_OK;
    r->replay += rc == AF_ERR_STATE;
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

START_TEST(test_refresh_race)
{
    /* one refresh token presented by 8 threads at once: exactly one wins;
     * the first to come after it is a replay and revokes the family */
    struct race r = {.token = family("g1", 600)};
    pthread_t t[8];
    int i;

    pthread_mutex_init(&r.mu, NULL);
    for (i = 0; i < 8; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, race_rotate, &r), 0);
    for (i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    ck_assert_int_eq(r.ok, 1);
    ck_assert_int_le(r.replay, 1);
    ck_assert(!refresh_live(r.token));
    pthread_mutex_destroy(&r.mu);
    free(r.token);
}
END_TEST

START_TEST(test_sessions)
{
    struct af_session_rec in, out;
    char *sid = NULL, *sid2 = NULL;

    memset(&in, 0, sizeof(in));
    in.sub = (char *)"u-1";
    in.auth_time = af_now();
    in.expires = af_now() + 300;
    ck_assert_int_eq(af_session_get(st, "unknown", &out), AF_ERR_NOTFOUND);
    ck_assert_int_eq(af_session_put(st, &in, &sid), AF_OK);
    ck_assert_int_eq(af_session_put(st, &in, &sid2), AF_OK);
    ck_assert_uint_ge(strlen(sid), 22);
    ck_assert_str_ne(sid, sid2);
    ck_assert_int_eq(af_session_get(st, sid, &out), AF_OK);
    ck_assert_str_eq(out.sub, "u-1");
    ck_assert_int_eq(out.auth_time, in.auth_time);
    af_session_rec_clear(&out);
    ck_assert_uint_eq(counts().codes, 0);
    ck_assert_uint_eq(counts().grants, 0);
    ck_assert_uint_eq(counts().sessions, 2);
    /* logout: gone at once */
    af_session_drop(st, sid);
    ck_assert_int_eq(af_session_get(st, sid, &out), AF_ERR_NOTFOUND);
    ck_assert_uint_eq(counts().sessions, 1);
    af_session_drop(st, "unknown");
    /* expiry */
    af_clock_set_offset(299);
    ck_assert_int_eq(af_session_get(st, sid2, &out), AF_OK);
    af_session_rec_clear(&out);
    af_clock_set_offset(300);
    ck_assert_int_eq(af_session_get(st, sid2, &out), AF_ERR_NOTFOUND);
    ck_assert_ptr_null(out.sub);
    free(sid);
    free(sid2);
}
END_TEST

START_TEST(test_sessions_evict)
{
    /* max_tokens 6: a seventh login drops the session due soonest */
    struct af_session_rec in, out;
    char *sid[8] = {NULL};
    int i;

    memset(&in, 0, sizeof(in));
    in.sub = (char *)"u-1";
    for (i = 0; i < 7; i++) {
        in.expires = af_now() + 100 + i;
        ck_assert_int_eq(af_session_put(st, &in, &sid[i]), AF_OK);
    }
    ck_assert_uint_eq(counts().sessions, 6);
    ck_assert_int_eq(af_session_get(st, sid[0], &out), AF_ERR_NOTFOUND);
    for (i = 1; i < 7; i++) {
        ck_assert_int_eq(af_session_get(st, sid[i], &out), AF_OK);
        af_session_rec_clear(&out);
    }
    for (i = 0; i < 7; i++)
        free(sid[i]);
}
END_TEST

START_TEST(test_consents)
{
    struct af_consent_rec in = {0}, out;

    in.scope = (char *)"openid email";
    in.offline = true;
    in.expires = af_now() + 300;
    ck_assert_int_eq(af_consent_get(st, "app", "u-1", &out), AF_ERR_NOTFOUND);
    ck_assert_ptr_null(out.scope);
    ck_assert_int_eq(af_consent_put(st, "app", "u-1", &in), AF_OK);
    ck_assert_int_eq(af_consent_get(st, "app", "u-1", &out), AF_OK);
    ck_assert_str_eq(out.scope, "openid email");
    ck_assert(out.offline);
    af_consent_rec_clear(&out);
    /* one per client and user: neither another user's nor another
     * client's, and no two pairs share a key ("a"+"bc" is not "ab"+"c") */
    ck_assert_int_eq(af_consent_get(st, "app", "u-2", &out), AF_ERR_NOTFOUND);
    ck_assert_int_eq(af_consent_get(st, "ap", "pu-1", &out), AF_ERR_NOTFOUND);
    ck_assert_int_eq(af_consent_get(st, "appu", "-1", &out), AF_ERR_NOTFOUND);
    /* a put replaces, with its own expiry */
    in.scope = (char *)"profile";
    in.offline = false;
    in.expires = af_now() + 600;
    ck_assert_int_eq(af_consent_put(st, "app", "u-1", &in), AF_OK);
    ck_assert_uint_eq(counts().consents, 1);
    ck_assert_int_eq(af_consent_get(st, "app", "u-1", &out), AF_OK);
    ck_assert_str_eq(out.scope, "profile");
    ck_assert(!out.offline);
    af_consent_rec_clear(&out);
    af_clock_set_offset(599);
    ck_assert_int_eq(af_consent_get(st, "app", "u-1", &out), AF_OK);
    af_consent_rec_clear(&out);
    af_clock_set_offset(600);
    ck_assert_int_eq(af_consent_get(st, "app", "u-1", &out), AF_ERR_NOTFOUND);
    /* an expired one is replaced in place, then dropped */
    in.expires = af_now() + 10;
    ck_assert_int_eq(af_consent_put(st, "app", "u-1", &in), AF_OK);
    ck_assert_uint_eq(counts().consents, 1);
    af_consent_drop(st, "app", "u-1");
    ck_assert_int_eq(af_consent_get(st, "app", "u-1", &out), AF_ERR_NOTFOUND);
    ck_assert_uint_eq(counts().consents, 0);
    af_consent_drop(st, "app", "u-1");
}
END_TEST

START_TEST(test_consents_evict)
{
    /* max_tokens 6: a seventh user's consent drops the one due soonest */
    struct af_consent_rec in = {0}, out;
    char sub[16];
    int i;

    in.scope = (char *)"openid";
    for (i = 0; i < 7; i++) {
        snprintf(sub, sizeof(sub), "u-%d", i);
        in.expires = af_now() + 100 + i;
        ck_assert_int_eq(af_consent_put(st, "app", sub, &in), AF_OK);
    }
    ck_assert_uint_eq(counts().consents, 6);
    ck_assert_int_eq(af_consent_get(st, "app", "u-0", &out), AF_ERR_NOTFOUND);
    ck_assert_int_eq(af_consent_get(st, "app", "u-6", &out), AF_OK);
    af_consent_rec_clear(&out);
}
END_TEST

/* ---- issuance and validation, on a server struct without a daemon ---- */

#define ISSUER "https://as.example"

static struct af_server srv;
static struct af_key *skey; /* the signing key of srv's key ring */
static struct af_key *other_key;

static void server_setup(void)
{
    struct af_err err;

    cfg_setup();
    memset(&srv, 0, sizeof(srv));
    srv.cfg = cfg;
    srv.issuer = strdup(ISSUER);
    ck_assert_ptr_nonnull(srv.issuer);
    ck_assert_int_eq(af_key_generate(AF_ALG_ES256, &skey, &err), AF_OK);
    af_err_clear(&err);
    ck_assert_msg(af_keyring_new(&srv, &skey, 1, &srv.keyring, &err) == AF_OK, "%s", err.msg);
    {
        const struct af_store_limits lim = {
            .max_codes = 100, .max_tokens = 100, .revoke_keep = 3600};
        ck_assert_int_eq(af_store_new(&lim, &srv.store), AF_OK);
    }
    /* a key of the attacker's that claims our kid */
    ck_assert_int_eq(af_key_generate(AF_ALG_ES256, &other_key, &err), AF_OK);
    ck_assert_int_eq(af_key_set_kid(other_key, af_key_kid(skey)), AF_OK);
}

static void server_teardown(void)
{
    af_store_free(srv.store);
    af_keyring_free(srv.keyring);
    af_key_free(skey);
    skey = NULL;
    free(srv.issuer);
    af_key_free(other_key);
    memset(&srv, 0, sizeof(srv));
    cfg_teardown();
}

/* jwks_doc: the key set srv publishes now; caller releases. */
static struct af_doc *jwks_doc(void)
{
    struct af_keyset *ks = af_keyring_get(srv.keyring);
    struct af_doc *doc = af_doc_ref(af_keyset_jwks(ks));

    af_keyset_release(ks);
    return doc;
}

/* issue: tokens for alice at client "app"; new reference. */
static json_t *issue(const char *grant_id, bool refresh)
{
    struct af_issue is;
    struct af_err err;
    json_t *r = NULL;

    memset(&is, 0, sizeof(is));
    is.client = client("app");
    is.user = af_user_by_sub(&srv, "u-1");
    is.scope = "openid email";
    is.nonce = "n-0S6_WzA2Mj";
    is.grant_id = grant_id;
    is.auth_time = af_now() - 5;
    is.id_token = true;
    is.refresh_token = refresh;
    af_err_clear(&err);
    ck_assert_msg(af_tokens_issue(&srv, &is, &r, &err) == AF_OK, "%s", err.msg);
    ck_assert_ptr_nonnull(r);
    return r;
}

static const char *member(const json_t *o, const char *name)
{
    const char *s = json_string_value(json_object_get(o, name));
    ck_assert_msg(s != NULL, "no string member %s", name);
    return s;
}

START_TEST(test_issue_response)
{
    /* RFC 6749 §5.1 response; RFC 9068 §2.2 claims; OIDC Core §2 ID token */
    json_t *r = issue(NULL, true), *claims = NULL;
    struct af_jws *jws = NULL;
    struct af_token_info ti;
    struct af_err err;

    ck_assert_str_eq(member(r, AF_P_TOKEN_TYPE), AF_TOKEN_TYPE_BEARER);
    ck_assert_str_eq(member(r, AF_P_SCOPE), "openid email");
    ck_assert_int_eq(json_integer_value(json_object_get(r, AF_P_EXPIRES_IN)),
                     cfg->access_token_ttl);

    ck_assert_int_eq(af_tokens_check_access(&srv, member(r, AF_P_ACCESS_TOKEN), &claims, &err),
                     AF_OK);
    ck_assert_str_eq(member(claims, AF_C_ISS), ISSUER);
    ck_assert_str_eq(member(claims, AF_C_SUB), "u-1");
    ck_assert_str_eq(member(claims, AF_C_AUD), "app");
    ck_assert_str_eq(member(claims, AF_C_CLIENT_ID), "app");
    ck_assert_str_eq(member(claims, AF_C_SCOPE), "openid email");
    ck_assert_uint_ge(strlen(member(claims, AF_C_JTI)), 22);
    ck_assert(json_is_integer(json_object_get(claims, AF_C_AUTH_TIME)));

    /* the ID token: our key, nonce, at_hash, released claims */
    ck_assert_int_eq(af_jws_parse(member(r, AF_P_ID_TOKEN), &jws, NULL), AF_OK);
    ck_assert_int_eq(af_jws_verify(jws, skey, NULL), AF_OK);
    ck_assert_str_eq(member(af_jws_claims(jws), AF_C_NONCE), "n-0S6_WzA2Mj");
    ck_assert_str_eq(member(af_jws_claims(jws), AF_C_AZP), "app");
    ck_assert_str_eq(member(af_jws_claims(jws), AF_C_EMAIL), "alice@example.com");
    ck_assert_ptr_null(json_object_get(af_jws_claims(jws), AF_C_NAME)); /* no profile scope */
    ck_assert_ptr_nonnull(json_object_get(af_jws_claims(jws), AF_C_AT_HASH));

    /* lookup: the access token by its JWS, the refresh token by value */
    ck_assert_int_eq(af_tokens_lookup(&srv, member(r, AF_P_ACCESS_TOKEN), &ti, NULL), AF_OK);
    ck_assert(!ti.is_refresh);
    ck_assert_str_eq(ti.key, member(claims, AF_C_JTI));
    ck_assert_ptr_nonnull(ti.claims);
    af_token_info_clear(&ti);
    ck_assert_int_eq(af_tokens_lookup(&srv, member(r, AF_P_REFRESH_TOKEN), &ti, NULL), AF_OK);
    ck_assert(ti.is_refresh);
    ck_assert_str_eq(ti.key, member(r, AF_P_REFRESH_TOKEN));
    ck_assert_str_eq(ti.rec.scope, "openid email");
    ck_assert_ptr_null(ti.claims);
    af_token_info_clear(&ti);

    af_jws_free(jws);
    json_decref(claims);
    json_decref(r);
}
END_TEST

START_TEST(test_lookup_rejects)
{
    json_t *r = issue(NULL, false), *claims = NULL;
    struct af_token_info ti;
    const char *jti;

    ck_assert_int_eq(af_tokens_check_access(&srv, member(r, AF_P_ACCESS_TOKEN), &claims, NULL),
                     AF_OK);
    jti = member(claims, AF_C_JTI);
    /* a bare jti is the store key of an access token, not a token */
    ck_assert_int_eq(af_tokens_lookup(&srv, jti, &ti, NULL), AF_ERR_NOTFOUND);
    ck_assert_ptr_null(ti.key);
    /* an ID token is no access token (RFC 9068 §4: typ) */
    ck_assert_int_eq(af_tokens_lookup(&srv, member(r, AF_P_ID_TOKEN), &ti, NULL), AF_ERR_NOTFOUND);
    ck_assert_int_eq(af_tokens_lookup(&srv, "garbage", &ti, NULL), AF_ERR_NOTFOUND);
    ck_assert_int_eq(af_tokens_lookup(&srv, "", &ti, NULL), AF_ERR_NOTFOUND);
    /* no refresh token was asked for */
    ck_assert_ptr_null(json_object_get(r, AF_P_REFRESH_TOKEN));
    json_decref(claims);
    json_decref(r);
}
END_TEST

/* forged access tokens, each signed over claims built from a genuine one */
enum forge { F_OTHER_KEY, F_TYP_JWT, F_OTHER_ISS, F_NO_JTI, F_ALG_NONE, F_TAMPERED };

static const struct {
    const char *why;
    enum forge how;
    const char *msg; /* a word of the description */
} forge_cases[] = {
    {"RFC 9068 §4: signed by another key with our kid", F_OTHER_KEY, "signature"},
    {"RFC 9068 §4: typ must be at+jwt", F_TYP_JWT, "typ"},
    {"RFC 9068 §4: iss must be ours", F_OTHER_ISS, "issued"},
    /* tokens are not stored: our signature over a jti is what makes it ours */
    {"RFC 9068 §2.2: jti required", F_NO_JTI, "jti"},
    {"RFC 7518 §3.6: alg none", F_ALG_NONE, "token"},
    {"RFC 7515 §5.2: payload altered after signing", F_TAMPERED, "signature"},
};

START_TEST(test_check_access_forged)
{
    json_t *r = issue(NULL, false), *claims = NULL, *hdr, *out = (json_t *)1;
    const char *access = member(r, AF_P_ACCESS_TOKEN);
    char *forged = NULL;
    struct af_err err;
    struct af_buf b;
    char *dot;

    ck_assert_int_eq(af_tokens_check_access(&srv, access, &claims, NULL), AF_OK);
    switch (forge_cases[_i].how) {
    case F_OTHER_KEY:
        ck_assert_int_eq(af_jwt_sign(other_key, AF_TYP_AT_JWT, claims, &forged, NULL), AF_OK);
        break;
    case F_TYP_JWT:
        ck_assert_int_eq(af_jwt_sign(skey, AF_TYP_JWT, claims, &forged, NULL), AF_OK);
        break;
    case F_OTHER_ISS:
        json_object_set_new(claims, AF_C_ISS, json_string("https://evil.example"));
        ck_assert_int_eq(af_jwt_sign(skey, AF_TYP_AT_JWT, claims, &forged, NULL), AF_OK);
        break;
    case F_NO_JTI:
        json_object_del(claims, AF_C_JTI);
        ck_assert_int_eq(af_jwt_sign(skey, AF_TYP_AT_JWT, claims, &forged, NULL), AF_OK);
        break;
    case F_ALG_NONE:
        hdr = json_pack("{s:s, s:s, s:s}", AF_H_ALG, "none", AF_H_TYP, AF_TYP_AT_JWT, AF_H_KID,
                        af_key_kid(skey));
        ck_assert_int_eq(af_jws_encode_unsigned(hdr, claims, &forged), AF_OK);
        json_decref(hdr);
        break;
    case F_TAMPERED:
        /* the genuine header and signature around other claims */
        json_object_set_new(claims, AF_C_SCOPE, json_string("openid email admin"));
        hdr = json_object();
        ck_assert_int_eq(af_jws_encode_unsigned(hdr, claims, &forged), AF_OK);
        json_decref(hdr);
        af_buf_init(&b, AF_JWS_MAX_LEN);
        dot = strchr(access, '.');
        ck_assert_int_eq(af_buf_add(&b, access, (size_t)(dot - access)), AF_OK);
        ck_assert_int_eq(af_buf_add(&b, strchr(forged, '.'),
                                    (size_t)(strrchr(forged, '.') - strchr(forged, '.'))),
                         AF_OK);
        ck_assert_int_eq(af_buf_adds(&b, strrchr(access, '.')), AF_OK);
        free(forged);
        forged = af_buf_detach(&b);
        af_buf_free(&b);
        break;
    }
    af_err_clear(&err);
    ck_assert_msg(af_tokens_check_access(&srv, forged, &out, &err) != AF_OK, "%s: accepted",
                  forge_cases[_i].why);
    ck_assert_ptr_null(out);
    ck_assert_msg(strstr(err.msg, forge_cases[_i].msg) != NULL, "%s: description \"%s\"",
                  forge_cases[_i].why, err.msg);
    free(forged);
    json_decref(claims);
    json_decref(r);
}
END_TEST

START_TEST(test_check_access_expired_revoked)
{
    json_t *r = issue(NULL, false), *claims = NULL;
    const char *access = member(r, AF_P_ACCESS_TOKEN);
    char *jti;
    struct af_err err;

    ck_assert_int_eq(af_tokens_check_access(&srv, access, &claims, NULL), AF_OK);
    jti = strdup(member(claims, AF_C_JTI));
    json_decref(claims);
    /* RFC 7519 §4.1.4: not accepted on or after exp */
    af_clock_set_offset(cfg->access_token_ttl - 1);
    ck_assert_int_eq(af_tokens_check_access(&srv, access, &claims, NULL), AF_OK);
    json_decref(claims);
    af_clock_set_offset(cfg->access_token_ttl);
    af_err_clear(&err);
    ck_assert_int_ne(af_tokens_check_access(&srv, access, &claims, &err), AF_OK);
    ck_assert_ptr_null(claims);
    ck_assert_msg(strstr(err.msg, "expired") != NULL, "description \"%s\"", err.msg);
    af_clock_set_offset(0);
    /* RFC 7009 §2: revoked by jti */
    ck_assert_int_eq(af_access_revoke(srv.store, jti, af_now() + cfg->access_token_ttl), AF_OK);
    af_err_clear(&err);
    ck_assert_int_ne(af_tokens_check_access(&srv, access, &claims, &err), AF_OK);
    ck_assert_ptr_null(claims);
    ck_assert_msg(strstr(err.msg, "revoked") != NULL, "description \"%s\"", err.msg);
    free(jti);
    json_decref(r);
}
END_TEST

/* A restart with kept keys (keys[].generate) starts with an empty store:
 * access tokens are not stored, so one issued before is valid after it
 * (its signature and claims are all there is to check), keeps its client
 * and user, and can be revoked. */
START_TEST(test_check_access_earlier_run)
{
    const struct af_store_limits lim = {.max_codes = 100, .max_tokens = 100, .revoke_keep = 3600};
    json_t *r = issue(NULL, false), *claims = NULL;
    const char *access = member(r, AF_P_ACCESS_TOKEN);
    struct af_token_info ti;

    af_store_free(srv.store);
    ck_assert_int_eq(af_store_new(&lim, &srv.store), AF_OK);
    ck_assert_int_eq(af_tokens_check_access(&srv, access, &claims, NULL), AF_OK);
    ck_assert_str_eq(member(claims, AF_C_SUB), "u-1");
    json_decref(claims);
    ck_assert_int_eq(af_tokens_lookup(&srv, access, &ti, NULL), AF_OK);
    ck_assert_str_eq(ti.rec.client_id, "app");
    ck_assert_str_eq(ti.rec.sub, "u-1");
    ck_assert_int_eq(af_access_revoke(srv.store, ti.key, ti.rec.expires), AF_OK);
    af_token_info_clear(&ti);
    ck_assert_int_ne(af_tokens_check_access(&srv, access, &claims, NULL), AF_OK);
    json_decref(r);
}
END_TEST

START_TEST(test_refresh_replay_revokes_issued)
{
    /* RFC 9700 §4.14.2 end to end over issued tokens: rotate once, issue
     * in the same grant, replay the first refresh token: every token of
     * the grant stops working, another grant's do not */
    json_t *r1 = issue(NULL, true), *r2, *other = issue(NULL, true);
    struct af_token_rec rec;
    struct af_token_info ti;
    json_t *claims = NULL;

    ck_assert_int_eq(af_refresh_rotate(srv.store, member(r1, AF_P_REFRESH_TOKEN), &rec), AF_OK);
    r2 = issue(rec.grant_id, true);
    af_token_rec_clear(&rec);
    ck_assert_int_eq(af_tokens_lookup(&srv, member(r2, AF_P_REFRESH_TOKEN), &ti, NULL), AF_OK);
    af_token_info_clear(&ti);
    /* the used one is no longer live for introspection or revocation */
    ck_assert_int_eq(af_tokens_lookup(&srv, member(r1, AF_P_REFRESH_TOKEN), &ti, NULL),
                     AF_ERR_NOTFOUND);

    ck_assert_int_eq(af_refresh_rotate(srv.store, member(r1, AF_P_REFRESH_TOKEN), &rec),
                     AF_ERR_STATE);
    af_token_rec_clear(&rec);
    ck_assert_int_ne(af_tokens_check_access(&srv, member(r1, AF_P_ACCESS_TOKEN), &claims, NULL),
                     AF_OK);
    ck_assert_int_ne(af_tokens_check_access(&srv, member(r2, AF_P_ACCESS_TOKEN), &claims, NULL),
                     AF_OK);
    ck_assert_int_eq(af_tokens_lookup(&srv, member(r2, AF_P_REFRESH_TOKEN), &ti, NULL),
                     AF_ERR_NOTFOUND);
    ck_assert_int_eq(af_tokens_check_access(&srv, member(other, AF_P_ACCESS_TOKEN), &claims, NULL),
                     AF_OK);
    json_decref(claims);
    json_decref(r1);
    json_decref(r2);
    json_decref(other);
}
END_TEST

/* ---- the request ledger (ledger.c) ---- */

static json_t *entry_for(const char *method, const char *path, const char *client_id)
{
    json_t *e = json_pack("{s:I, s:s, s:s, s:s?}", "seq", (json_int_t)0, "method", method, "path",
                          path, "client_id", client_id);
    ck_assert_ptr_nonnull(e);
    return e;
}

static json_t *query(struct af_ledger *l, const struct af_ledger_filter *f)
{
    json_t *out = NULL;
    ck_assert_int_eq(af_ledger_query(l, f, &out), AF_OK);
    ck_assert_ptr_nonnull(out);
    return out;
}

static json_int_t int_member(const json_t *o, const char *name)
{
    const json_t *v = json_object_get(o, name);
    ck_assert_msg(json_is_integer(v), "no integer member %s", name);
    return json_integer_value(v);
}

static json_int_t seq_at(const json_t *answer, size_t i)
{
    return int_member(json_array_get(json_object_get(answer, AF_LEDGER_ENTRIES), i), "seq");
}

/* The ring keeps the newest max_entries; seqs grow by one and survive a
 * clear, so a cursor stays valid. */
START_TEST(test_ledger_ring)
{
    struct af_ledger *l = NULL;
    struct af_ledger_filter f = {.limit = AF_LEDGER_LIMIT_MAX};
    json_t *a;

    ck_assert_int_eq(af_ledger_new(3, &l), AF_OK);
    for (unsigned long long i = 1; i <= 5; i++)
        ck_assert_uint_eq(af_ledger_add(l, entry_for("GET", "/jwks", NULL), NULL), i);
    a = query(l, &f);
    ck_assert_int_eq(int_member(a, AF_LEDGER_COUNT), 3);
    ck_assert_int_eq(seq_at(a, 0), 3); /* oldest first; 1 and 2 were pushed out */
    ck_assert_int_eq(seq_at(a, 2), 5);
    ck_assert_int_eq(int_member(a, AF_LEDGER_NEXT), 5);
    ck_assert_int_eq(int_member(a, AF_LEDGER_DROPPED), 2);
    json_decref(a);

    /* since: strictly after; nothing dropped past the cursor */
    f.since = 4;
    a = query(l, &f);
    ck_assert_int_eq(int_member(a, AF_LEDGER_COUNT), 1);
    ck_assert_int_eq(seq_at(a, 0), 5);
    ck_assert_int_eq(int_member(a, AF_LEDGER_DROPPED), 0);
    json_decref(a);
    f.since = 5;
    a = query(l, &f);
    ck_assert_int_eq(int_member(a, AF_LEDGER_COUNT), 0);
    ck_assert_int_eq(int_member(a, AF_LEDGER_NEXT), 5);
    json_decref(a);

    /* limit cuts, and next resumes right after the last entry returned */
    f.since = 0;
    f.limit = 1;
    a = query(l, &f);
    ck_assert_int_eq(int_member(a, AF_LEDGER_COUNT), 1);
    ck_assert_int_eq(seq_at(a, 0), 3);
    ck_assert_int_eq(int_member(a, AF_LEDGER_NEXT), 3);
    json_decref(a);
    /* limit 0: the cursor only */
    f.limit = 0;
    a = query(l, &f);
    ck_assert_int_eq(int_member(a, AF_LEDGER_COUNT), 0);
    ck_assert_int_eq(int_member(a, AF_LEDGER_NEXT), 5);
    json_decref(a);

    /* clear: entries go, the seq goes on */
    ck_assert_uint_eq(af_ledger_clear(l), 3);
    f.limit = AF_LEDGER_LIMIT_MAX;
    f.since = 5;
    a = query(l, &f);
    ck_assert_int_eq(int_member(a, AF_LEDGER_COUNT), 0);
    ck_assert_int_eq(int_member(a, AF_LEDGER_DROPPED), 0);
    json_decref(a);
    ck_assert_uint_eq(af_ledger_add(l, entry_for("GET", "/jwks", NULL), NULL), 6);
    f.since = 0;
    a = query(l, &f);
    ck_assert_int_eq(int_member(a, AF_LEDGER_COUNT), 1);
    ck_assert_int_eq(seq_at(a, 0), 6);
    ck_assert_int_eq(int_member(a, AF_LEDGER_DROPPED), 5);
    json_decref(a);
    af_ledger_free(l);

    /* max_entries 0 records nothing; a NULL ledger neither */
    ck_assert_int_eq(af_ledger_new(0, &l), AF_OK);
    ck_assert_uint_eq(af_ledger_add(l, entry_for("GET", "/jwks", NULL), NULL), 0);
    ck_assert_uint_eq(af_ledger_add(NULL, entry_for("GET", "/jwks", NULL), NULL), 0);
    a = query(l, &f);
    ck_assert_int_eq(int_member(a, AF_LEDGER_COUNT), 0);
    json_decref(a);
    af_ledger_free(l);
    af_ledger_free(NULL);
}
END_TEST

/* Filters combine with AND; the code filter matches the full value kept
 * beside the entry, never a prefix. */
static const struct {
    const char *path, *method, *client_id, *code;
    int count;
    json_int_t first_seq;
} filter_cases[] = {
    {NULL, NULL, NULL, NULL, 5, 1},
    {"/token", NULL, NULL, NULL, 3, 2},
    {"/token", "POST", "app", NULL, 2, 2},
    {NULL, NULL, "other", NULL, 1, 4},
    {"/token", NULL, NULL, "code-AAAA-full-value", 1, 3},
    {NULL, NULL, NULL, "code-AAAA", 0, 0}, /* a prefix is not the code */
    {"/TOKEN", NULL, NULL, NULL, 0, 0},    /* exact, case-sensitive */
    {NULL, "GET", "app", NULL, 1, 1},
};

START_TEST(test_ledger_filters)
{
    struct af_ledger *l = NULL;
    struct af_ledger_filter f = {.limit = AF_LEDGER_LIMIT_MAX};
    json_t *a;

    ck_assert_int_eq(af_ledger_new(10, &l), AF_OK);
    af_ledger_add(l, entry_for("GET", "/authorize", "app"), NULL);
    af_ledger_add(l, entry_for("POST", "/token", "app"), strdup("code-BBBB-full-value"));
    af_ledger_add(l, entry_for("POST", "/token", "app"), strdup("code-AAAA-full-value"));
    af_ledger_add(l, entry_for("POST", "/token", "other"), NULL);
    af_ledger_add(l, entry_for("GET", "/jwks", NULL), NULL);
    f.path = filter_cases[_i].path;
    f.method = filter_cases[_i].method;
    f.client_id = filter_cases[_i].client_id;
    f.code = filter_cases[_i].code;
    a = query(l, &f);
    ck_assert_int_eq(int_member(a, AF_LEDGER_COUNT), filter_cases[_i].count);
    ck_assert_uint_eq(json_array_size(json_object_get(a, AF_LEDGER_ENTRIES)),
                      (size_t)filter_cases[_i].count);
    if (filter_cases[_i].count > 0)
        ck_assert_int_eq(seq_at(a, 0), filter_cases[_i].first_seq);
    /* next is the newest seq whatever the filter kept */
    ck_assert_int_eq(int_member(a, AF_LEDGER_NEXT), 5);
    json_decref(a);
    af_ledger_free(l);
}
END_TEST

/* What each parameter shows (docs/admin.md, "The ledger"). */
static const struct {
    const char *name, *value, *shown;
} redact_cases[] = {
    {AF_P_CLIENT_SECRET, "s3cret-value", "[redacted 12 chars]"},
    {AF_P_PASSWORD, "pw", "[redacted 2 chars]"},
    {"client_assertion", "eyJhbGciOi.x.y", "[redacted 14 chars]"},
    {"assertion", "SECRETASSERTIONVALUE123", "[redacted 23 chars]"},
    {"subject_token", "st-value", "[redacted 8 chars]"},
    {"actor_token", "at-value", "[redacted 8 chars]"},
    {"device_code", "dc-value", "[redacted 8 chars]"},
    {AF_P_CODE_VERIFIER, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
     "[43 chars]"},                                                 /* RFC 7636 Appendix B */
    {AF_P_CODE, "SplxlOBeZQQYbYS6WxSbIA", "SplxlOBe...(22 chars)"}, /* RFC 6749 §4.1.2 */
    {AF_P_ACCESS_TOKEN, "2YotnFZFEjr1zCsicMWpAA", "2YotnFZF...(22 chars)"},
    {AF_P_REFRESH_TOKEN, "tGzv3JOkF0XG5Qx2TlKWIA", "tGzv3JOk...(22 chars)"},
    {AF_P_ID_TOKEN_HINT, "eyJhbGciOiJSUzI1NiJ9.e30.sig", "eyJhbGci...(28 chars)"},
    {AF_P_TOKEN, "short", "[5 chars]"}, /* too short to show a part of */
    {AF_P_STATE, "af0ifjsldkj", "af0ifjsldkj"},
    {AF_P_REDIRECT_URI, "https://client.example.org/cb", "https://client.example.org/cb"},
    {AF_P_NONCE, "", ""},
};

START_TEST(test_ledger_redact)
{
    char *shown = af_ledger_redact(redact_cases[_i].name, redact_cases[_i].value);
    ck_assert_ptr_nonnull(shown);
    ck_assert_str_eq(shown, redact_cases[_i].shown);
    free(shown);
}
END_TEST

/* Long values are cut at a character boundary (the JSON stays valid
 * UTF-8). */
START_TEST(test_ledger_redact_long)
{
    char value[AF_LEDGER_VALUE_MAX + 40], *shown;
    size_t i;

    /* "x" then two-byte "é"s: byte 512 is the second byte of one, so a
     * cut there would split it */
    value[0] = 'x';
    for (i = 1; i + 2 < sizeof(value); i += 2)
        memcpy(value + i, "\xc3\xa9", 2);
    value[i] = '\0';
    ck_assert(((unsigned char)value[AF_LEDGER_VALUE_MAX] & 0xC0) == 0x80);
    shown = af_ledger_redact(AF_P_STATE, value);
    ck_assert_ptr_nonnull(shown);
    ck_assert_uint_le(strlen(shown), AF_LEDGER_VALUE_MAX + 32);
    ck_assert(af_utf8_valid(shown, strlen(shown)));
    ck_assert_ptr_nonnull(strstr(shown, "...("));
    free(shown);
}
END_TEST

/* An entry from a request and its answer: facts, parameters, and no
 * secret anywhere in its JSON text. */
START_TEST(test_ledger_entry)
{
    static const char *const secrets[] = {"s3cret-value",
                                          "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
                                          "SplxlOBeZQQYbYS6WxSbIA", "the-pass", NULL};
    struct af_req req;
    struct af_resp resp;
    json_t *e, *pkce;
    char *code = NULL, *text;

    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));
    af_params_init(&req.query, 64);
    af_params_init(&req.form, 64);
    af_params_init(&resp.headers, 8);
    af_buf_init(&resp.body, 4096);
    req.method_str = "POST";
    req.path = "/token";
    req.raw_query = "client_secret=s3cret-value";
    ck_assert_int_eq(af_params_add(&req.query, AF_P_CLIENT_SECRET, "s3cret-value"), AF_OK);
    ck_assert_int_eq(af_params_add(&req.form, AF_P_GRANT_TYPE, AF_GT_AUTHORIZATION_CODE), AF_OK);
    ck_assert_int_eq(af_params_add(&req.form, AF_P_CODE, "SplxlOBeZQQYbYS6WxSbIA"), AF_OK);
    ck_assert_int_eq(
        af_params_add(&req.form, AF_P_CODE_VERIFIER, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        AF_OK);
    ck_assert_int_eq(af_params_add(&req.form, AF_P_PASSWORD, "the-pass"), AF_OK);
    ck_assert_int_eq(af_params_add(&req.form, AF_P_SCOPE, "openid"), AF_OK);
    ck_assert_int_eq(af_params_add(&req.form, AF_P_SCOPE, "email"), AF_OK);
    ck_assert_int_eq(af_params_add(&req.form, AF_P_CLIENT_ID, "app"), AF_OK);
    req.facts.client_auth = AF_LEDGER_SECRET_IN_QUERY;
    req.facts.pkce_seen = true;
    req.facts.pkce_sent = true;
    req.facts.pkce_method = AF_PKCE_S256;
    req.facts.pkce_verified = 0;
    req.facts.scenario = af_scenario_find("token_invalid_grant");
    req.facts.delay_ms = 1500;
    af_req_set_flow(&req, "grant-1");
    req.facts.replayed = AF_LEDGER_REPLAYED_CODE;
    req.facts.redirect_mismatch = AF_LEDGER_REDIRECT_DIFFERS;
    af_resp_oauth_error(&resp, 400, AF_E_INVALID_GRANT, "nope");

    e = af_ledger_entry(&req, &resp, &code);
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(code, "SplxlOBeZQQYbYS6WxSbIA");
    text = json_dumps(e, JSON_COMPACT);
    ck_assert_ptr_nonnull(text);
    for (size_t i = 0; secrets[i] != NULL; i++)
        ck_assert_msg(strstr(text, secrets[i]) == NULL, "secret %s in %s", secrets[i], text);
    ck_assert_str_eq(member(e, "method"), "POST");
    ck_assert_str_eq(member(e, "path"), "/token");
    ck_assert_str_eq(member(e, "client_id"), "app"); /* from the form */
    ck_assert_str_eq(member(e, "client_auth"), AF_LEDGER_SECRET_IN_QUERY);
    ck_assert_str_eq(member(e, "scenario"), "token_invalid_grant");
    ck_assert_str_eq(member(e, "error"), AF_E_INVALID_GRANT);
    ck_assert_int_eq(int_member(e, "status"), 400);
    ck_assert_int_eq(int_member(e, "delay_ms"), 1500);
    ck_assert_str_eq(member(json_object_get(e, "query"), AF_P_CLIENT_SECRET),
                     "[redacted 12 chars]");
    ck_assert_str_eq(member(json_object_get(e, "form"), AF_P_CODE), "SplxlOBe...(22 chars)");
    /* a repeated parameter keeps every value */
    ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(e, "form"), AF_P_SCOPE)), 2);
    ck_assert_str_eq(json_string_value(json_array_get(
                         json_object_get(json_object_get(e, "form"), AF_P_SCOPE), 1)),
                     "email");
    {
        /* the members in the order entries have always shown them */
        static const char *const order[] = {"seq",
                                            "time",
                                            "method",
                                            "path",
                                            "query",
                                            "form",
                                            "headers",
                                            "client_id",
                                            "client_auth",
                                            "bearer",
                                            "pkce",
                                            "sub",
                                            "scenario",
                                            AF_LEDGER_FLOW,
                                            AF_LEDGER_REPLAYED,
                                            AF_LEDGER_REDIRECT_MISMATCH,
                                            AF_LEDGER_STATE_RETURNED,
                                            "status",
                                            "error",
                                            "reason",
                                            "delay_ms"};
        const char *key;
        json_t *v;
        size_t k = 0;
        json_object_foreach(e, key, v)
        {
            ck_assert_uint_lt(k, sizeof(order) / sizeof(order[0]));
            ck_assert_str_eq(key, order[k]);
            k++;
        }
        ck_assert_uint_eq(k, sizeof(order) / sizeof(order[0]));
    }
    pkce = json_object_get(e, "pkce");
    ck_assert(json_is_true(json_object_get(pkce, "sent")));
    ck_assert(json_is_false(json_object_get(pkce, "verified")));
    ck_assert_str_eq(member(pkce, "method"), AF_PKCE_S256);
    ck_assert(json_is_null(json_object_get(e, "bearer")));
    /* the flow and the facts the findings read */
    ck_assert_str_eq(member(e, AF_LEDGER_FLOW), "grant-1");
    ck_assert_str_eq(member(e, AF_LEDGER_REPLAYED), AF_LEDGER_REPLAYED_CODE);
    ck_assert_str_eq(member(e, AF_LEDGER_REDIRECT_MISMATCH), AF_LEDGER_REDIRECT_DIFFERS);
    ck_assert(json_is_null(json_object_get(e, AF_LEDGER_STATE_RETURNED)));
    free(text);
    free(code);
    json_decref(e);

    /* an error redirect: the error comes from the Location's query */
    af_resp_redirect(&resp, 302,
                     "https://rp.example/cb?error=access_denied&state=xyz&iss=https%3A%2F%2Fas");
    resp.ctype = NULL;
    req.facts.pkce_seen = false;
    e = af_ledger_entry(&req, &resp, &code);
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(member(e, "error"), AF_E_ACCESS_DENIED);
    ck_assert(json_is_null(json_object_get(e, "pkce")));
    free(code);
    json_decref(e);

    af_params_free(&req.query);
    af_params_free(&req.form);
    af_params_free(&resp.headers);
    af_buf_free(&resp.body);
}
END_TEST

/* ---- findings (findings.c) over hand-made ledger entries ---- */

static const char findings_config[] =
    "{\"clients\": ["
    " {\"client_id\": \"conf\", \"client_secret\": \"s3cret\","
    "  \"redirect_uris\": [\"https://rp.example/cb\"], \"require_pkce\": false,"
    "  \"grant_types\": [\"authorization_code\", \"refresh_token\"], \"scope\": \"openid\"},"
    " {\"client_id\": \"pub\", \"token_endpoint_auth_method\": \"none\","
    "  \"redirect_uris\": [\"https://rp.example/cb\"], \"require_pkce\": false,"
    "  \"grant_types\": [\"authorization_code\"], \"scope\": \"openid\"}],"
    " \"users\": [{\"sub\": \"u-1\", \"username\": \"alice\"}]}";

/* Entry fragments: an authorization request of client C with pkce P (sent,
 * method), a code redemption, each with seq and flow. */
#define AZ(seq, c, sent, method, extra)                                                            \
    "{\"seq\":" #seq ",\"path\":\"/authorize\",\"client_id\":\"" c "\",\"sub\":\"u-1\","           \
    "\"pkce\":{\"sent\":" sent ",\"method\":" method ",\"verified\":null}" extra "}"
#define TOK(seq, flow, extra)                                                                      \
    "{\"seq\":" #seq ",\"path\":\"/token\",\"client_id\":\"conf\",\"flow\":\"" flow "\","          \
    "\"form\":{\"grant_type\":\"authorization_code\"}" extra "}"

static const struct {
    const char *why;
    const char *entries; /* a JSON array, oldest first */
    const char *want;    /* the ids found, sorted, comma-separated */
} finding_cases[] = {
    {"RFC 9700 2.1.1: a public client without PKCE", "[" AZ(1, "pub", "false", "null", "") "]",
     "no_pkce"},
    {"a public client with PKCE", "[" AZ(1, "pub", "true", "\"S256\"", "") "]", ""},
    {"a confidential client without PKCE",
     "[" AZ(1, "conf", "false", "null", ",\"query\":{\"scope\":\"openid\"}") "]",
     "no_pkce_confidential"},
    {"a confidential OIDC client with a nonce instead",
     "[" AZ(1, "conf", "false", "null", ",\"query\":{\"scope\":\"openid\",\"nonce\":\"n\"}") "]",
     ""},
    {"a nonce without openid stands in for nothing",
     "[" AZ(1, "conf", "false", "null", ",\"query\":{\"scope\":\"email\",\"nonce\":\"n\"}") "]",
     "no_pkce_confidential"},
    {"a client not configured", "[" AZ(1, "gone", "false", "null", "") "]", ""},
    {"refused before PKCE was looked at",
     "[{\"seq\":1,\"path\":\"/authorize\",\"client_id\":\"pub\",\"pkce\":null}]", ""},
    {"plain PKCE", "[" AZ(1, "pub", "true", "\"plain\"", "") "]", "pkce_plain"},
    {"RFC 7636 4.5: no verifier for a challenge",
     "[" TOK(1, "g", ",\"pkce\":{\"sent\":false,\"method\":\"S256\",\"verified\":false}") "]",
     "pkce_verifier_missing"},
    {"no verifier and no challenge",
     "[" TOK(1, "g", ",\"pkce\":{\"sent\":false,\"method\":null,\"verified\":null}") "]", ""},
    {"RFC 6749 2.3.1: a secret in the query",
     "[" TOK(1, "g", ",\"query\":{\"client_secret\":\"[redacted 6 chars]\"}") "]",
     "client_secret_in_query"},
    {"RFC 6749 2.3: Basic and a body secret",
     "[{\"seq\":1,\"path\":\"/token\",\"client_id\":\"conf\",\"client_auth\":"
     "\"client_secret_basic\",\"form\":{\"client_secret\":\"[redacted 6 chars]\"}}]",
     "two_client_auth_methods"},
    {"Basic alone",
     "[{\"seq\":1,\"path\":\"/token\",\"client_id\":\"conf\",\"client_auth\":"
     "\"client_secret_basic\",\"form\":{\"grant_type\":\"authorization_code\"}}]",
     ""},
    {"RFC 6749 4.1.2: a code used twice",
     "[" TOK(1, "g", "") "," TOK(2, "g", ",\"replayed\":\"code\"") "]", "code_reused"},
    {"RFC 6749 6: a rotated refresh token again",
     "[" TOK(1, "g", "") "," TOK(2, "g", ",\"replayed\":\"refresh_token\"") "]",
     "refresh_token_replayed"},
    {"RFC 6749 4.1.3: redirect_uri left out",
     "[" TOK(1, "g", ",\"redirect_uri_mismatch\":\"missing\"") "]", "redirect_uri_mismatch"},
    {"a changed state, redeemed, no PKCE and no nonce",
     "[" AZ(1, "conf", "false", "null",
            ",\"flow\":\"g\",\"state_returned\":\"changed\"") "," TOK(2, "g", "") "]",
     "no_pkce_confidential,state_not_checked"},
    {"a dropped state, redeemed twice: found once",
     "[" AZ(1, "conf", "false", "null", ",\"flow\":\"g\",\"state_returned\":\"dropped\"") "," TOK(
         2, "g", "") "," TOK(3, "g", ",\"replayed\":\"code\"") "]",
     "code_reused,no_pkce_confidential,state_not_checked"},
    {"a changed state, with PKCE",
     "[" AZ(1, "conf", "true", "\"S256\"",
            ",\"flow\":\"g\",\"state_returned\":\"changed\"") "," TOK(2, "g", "") "]",
     ""},
    {"a changed state, with an OIDC nonce",
     "[" AZ(1, "conf", "false", "null",
            ",\"flow\":\"g\",\"state_returned\":\"changed\",\"query\":{\"scope\":\"openid\","
            "\"nonce\":\"n\"}") "," TOK(2, "g", "") "]",
     ""},
    {"a changed state, another flow redeemed",
     "[" AZ(1, "conf", "false", "null",
            ",\"flow\":\"g\",\"state_returned\":\"changed\"") "," TOK(2, "h", "") "]",
     "no_pkce_confidential"},
    {"the state as sent",
     "[" AZ(1, "conf", "false", "null",
            ",\"flow\":\"g\",\"state_returned\":\"as_sent\"") "," TOK(2, "g", "") "]",
     "no_pkce_confidential"},
    {"an unsolicited state (none was sent)",
     "[" AZ(1, "conf", "false", "null",
            ",\"flow\":\"g\",\"state_returned\":\"unsolicited\"") "," TOK(2, "g", "") "]",
     "no_pkce_confidential"},
    {"RFC 9700 4.3.2: a token in the query",
     "[{\"seq\":1,\"path\":\"/userinfo\",\"bearer\":\"query\",\"status\":401}]", "bearer_in_query"},
    {"a refused token",
     "[{\"seq\":1,\"path\":\"/userinfo\",\"bearer\":\"header\",\"status\":401,\"error\":"
     "\"invalid_token\",\"reason\":\"expired\"}]",
     "userinfo_token_refused"},
    {"no token at all is no refused token",
     "[{\"seq\":1,\"path\":\"/userinfo\",\"bearer\":null,\"status\":401,\"error\":null}]", ""},
};

START_TEST(test_findings)
{
    struct af_config *fcfg = NULL;
    struct af_findings_filter f = {0};
    struct af_err err;
    json_t *entries = json_loads(finding_cases[_i].entries, 0, NULL), *out = NULL;
    char got[512] = "";
    const char *ids[16];
    size_t i, j, n;

    af_err_clear(&err);
    ck_assert_msg(entries != NULL, "%s: bad JSON", finding_cases[_i].why);
    ck_assert_int_eq(af_cfg_load_string(findings_config, "findings", &fcfg, &err), AF_OK);
    ck_assert_int_eq(af_findings_compute(&(struct af_server){.cfg = fcfg}, entries, &f, &out),
                     AF_OK);
    n = json_array_size(out);
    ck_assert_uint_le(n, 16);
    for (i = 0; i < n; i++) {
        const json_t *x = json_array_get(out, i);
        ids[i] = json_string_value(json_object_get(x, "id"));
        /* each finding is a row of the table, as the table says */
        ck_assert_ptr_nonnull(af_findings_def(ids[i]));
        ck_assert_str_eq(json_string_value(json_object_get(x, "severity")),
                         af_findings_def(ids[i])->severity);
        ck_assert_uint_ge(json_array_size(json_object_get(x, "entries")), 1);
    }
    for (i = 1; i < n; i++) { /* sorted, to compare */
        for (j = i; j > 0 && strcmp(ids[j - 1], ids[j]) > 0; j--) {
            const char *t = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = t;
        }
    }
    for (i = 0; i < n; i++)
        snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? "," : "", ids[i]);
    ck_assert_msg(strcmp(got, finding_cases[_i].want) == 0, "%s: found [%s], want [%s]",
                  finding_cases[_i].why, got, finding_cases[_i].want);
    json_decref(out);
    json_decref(entries);
    af_cfg_free(fcfg);
}
END_TEST

START_TEST(test_findings_filters)
{
    struct af_config *fcfg = NULL;
    struct af_findings_filter f = {0};
    struct af_err err;
    json_t *entries = json_loads(
               "[" AZ(1, "pub", "false", "null", "") "," AZ(2, "conf", "false", "null", "") "]", 0,
               NULL),
           *out = NULL;

    af_err_clear(&err);
    ck_assert_int_eq(af_cfg_load_string(findings_config, "findings", &fcfg, &err), AF_OK);
    f.client = "pub";
    ck_assert_int_eq(af_findings_compute(&(struct af_server){.cfg = fcfg}, entries, &f, &out),
                     AF_OK);
    ck_assert_uint_eq(json_array_size(out), 1);
    ck_assert_str_eq(member(json_array_get(out, 0), "id"), "no_pkce");
    json_decref(out);
    f.client = NULL;
    f.id = "no_pkce_confidential";
    ck_assert_int_eq(af_findings_compute(&(struct af_server){.cfg = fcfg}, entries, &f, &out),
                     AF_OK);
    ck_assert_uint_eq(json_array_size(out), 1);
    ck_assert_str_eq(member(json_array_get(out, 0), "client"), "conf");
    json_decref(out);
    f.id = NULL;
    f.sub = "u-2";
    ck_assert_int_eq(af_findings_compute(&(struct af_server){.cfg = fcfg}, entries, &f, &out),
                     AF_OK);
    ck_assert_uint_eq(json_array_size(out), 0);
    json_decref(out);
    /* the table: unique ids, a severity word, a clause */
    for (size_t i = 0; af_findings_def_at(i) != NULL; i++) {
        const struct af_finding_def *d = af_findings_def_at(i);
        ck_assert_ptr_eq(af_findings_def(d->id), d);
        ck_assert(strcmp(d->severity, AF_FINDING_MUST) == 0 ||
                  strcmp(d->severity, AF_FINDING_SHOULD) == 0 ||
                  strcmp(d->severity, AF_FINDING_NOTE) == 0);
        ck_assert(strncmp(d->clause, "RFC ", 4) == 0);
    }
    json_decref(entries);
    af_cfg_free(fcfg);
}
END_TEST

/* The error each builder leaves on an answer, as the entry shows it; every
 * case starts from an answer that carried server_error, so that a builder
 * that forgets to reset it fails. */
enum { B_OAUTH, B_REDIRECT, B_PAGE, B_JSON, B_FORM_POST, B_FAIL };
static const struct {
    int builder;
    const char *arg;  /* the error, or the redirect's location */
    const char *want; /* NULL: JSON null */
} resp_error_cases[] = {
    {B_OAUTH, AF_E_INVALID_GRANT, AF_E_INVALID_GRANT},
    {B_REDIRECT, "https://rp.example/cb?error=access_denied&state=x", AF_E_ACCESS_DENIED},
    {B_REDIRECT, "https://rp.example/cb#state=x&error=invalid_scope", AF_E_INVALID_SCOPE},
    {B_REDIRECT, "https://rp.example/cb?error=a&state=x#error=b", "a"},
    {B_REDIRECT, "https://rp.example/cb?%65rror=login_required", "login_required"},
    {B_REDIRECT, "https://rp.example/cb?code=abc&state=x", NULL},
    {B_REDIRECT, "https://rp.example/", NULL},
    {B_PAGE, AF_E_INVALID_REQUEST, NULL}, /* an HTML page carries no OAuth error */
    {B_JSON, NULL, NULL},
    {B_FORM_POST, AF_E_INVALID_SCOPE, AF_E_INVALID_SCOPE},
    {B_FAIL, NULL, NULL},
};

START_TEST(test_ledger_entry_error)
{
    struct af_req req;
    struct af_resp resp;
    json_t *e, *ok = json_pack("{s:s}", AF_P_ACCESS_TOKEN, "t");
    char *code = NULL;

    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));
    af_params_init(&req.query, 8);
    af_params_init(&req.form, 8);
    af_params_init(&resp.headers, 8);
    af_buf_init(&resp.body, 4096);
    req.method_str = "GET";
    req.path = "/authorize";
    af_resp_oauth_error(&resp, 500, AF_E_SERVER_ERROR, NULL);
    switch (resp_error_cases[_i].builder) {
    case B_OAUTH:
        af_resp_oauth_error(&resp, 400, resp_error_cases[_i].arg, "why");
        break;
    case B_REDIRECT:
        af_resp_redirect(&resp, 302, resp_error_cases[_i].arg);
        break;
    case B_PAGE:
        af_resp_error_page(&resp, 400, resp_error_cases[_i].arg, "why");
        break;
    case B_JSON:
        af_resp_json(&resp, 200, ok);
        break;
    case B_FORM_POST:
        af_resp_html(&resp, 200, "<form></form>");
        af_resp_set_error(&resp, resp_error_cases[_i].arg);
        break;
    default:
        af_resp_fail(&resp);
    }
    e = af_ledger_entry(&req, &resp, &code);
    ck_assert_ptr_nonnull(e);
    if (resp_error_cases[_i].want == NULL)
        ck_assert_msg(json_is_null(json_object_get(e, "error")), "case %d: error not null", _i);
    else
        ck_assert_str_eq(member(e, "error"), resp_error_cases[_i].want);
    json_decref(e);
    json_decref(ok);
    af_params_free(&req.query);
    af_params_free(&req.form);
    af_params_free(&resp.headers);
    af_buf_free(&resp.body);
}
END_TEST

/* A request without a connection (unit tests, fuzz harnesses) reads its
 * headers, by any case, and its cookies from lists; none without them. */
START_TEST(test_req_without_connection)
{
    struct af_req req;
    struct af_params hdrs, cookies;

    memset(&req, 0, sizeof(req));
    ck_assert_ptr_null(af_req_header(&req, AF_HDR_CONTENT_TYPE));
    ck_assert_ptr_null(af_req_cookie(&req, "c"));
    af_params_init(&hdrs, 4);
    af_params_init(&cookies, 4);
    ck_assert_int_eq(af_params_add(&hdrs, "content-type", AF_CT_JSON), AF_OK);
    ck_assert_int_eq(af_params_add(&cookies, "c", "v"), AF_OK);
    req.hdrs = &hdrs;
    req.cookies = &cookies;
    ck_assert_str_eq(af_req_header(&req, AF_HDR_CONTENT_TYPE), AF_CT_JSON);
    ck_assert_ptr_null(af_req_header(&req, AF_HDR_COOKIE));
    ck_assert_str_eq(af_req_cookie(&req, "c"), "v");
    ck_assert_ptr_null(af_req_cookie(&req, "C")); /* cookie names are case-sensitive */
    af_params_free(&hdrs);
    af_params_free(&cookies);
}
END_TEST

/* An error longer than an answer keeps is cut, not lost. */
START_TEST(test_resp_error_long)
{
    struct af_resp resp;
    char loc[512];

    memset(&resp, 0, sizeof(resp));
    af_params_init(&resp.headers, 8);
    af_buf_init(&resp.body, 64);
    snprintf(loc, sizeof(loc), "https://rp.example/cb?error=%0300d", 7);
    af_resp_redirect(&resp, 302, loc);
    ck_assert_uint_eq(strlen(resp.error), AF_RESP_ERROR_MAX);
    ck_assert_int_eq(resp.error[0], '0');
    af_params_free(&resp.headers);
    af_buf_free(&resp.body);
}
END_TEST

/* ---- HTML pages (page.c; the pages of h_authorize.c and h_logout.c) ---- */

/* A front-channel request without a connection and its answer. */
struct page_call {
    struct af_req req;
    struct af_resp resp;
    struct af_params cookies;
};

/* page_call: h answers params (form-encoded: the query of a GET, the form
 * of a POST), with login_cookie (or NULL) as the login page's cookie. Free
 * with page_call_free. */
static void page_call(struct page_call *c, af_handler h, af_method m, const char *params,
                      const char *login_cookie)
{
    memset(c, 0, sizeof(*c));
    c->req.srv = &srv;
    c->req.method = m;
    c->req.method_str = m == AF_M_POST ? "POST" : "GET";
    af_params_init(&c->req.query, 64);
    af_params_init(&c->req.form, 64);
    af_params_init(&c->cookies, 4);
    c->req.cookies = &c->cookies;
    ck_assert_int_eq(af_params_parse(m == AF_M_POST ? &c->req.form : &c->req.query, params,
                                     strlen(params), NULL),
                     AF_OK);
    if (login_cookie != NULL)
        ck_assert_int_eq(af_params_add(&c->cookies, AF_LOGIN_COOKIE, login_cookie), AF_OK);
    af_params_init(&c->resp.headers, 16);
    af_buf_init(&c->resp.body, 1024 * 1024);
    h(&c->req, &c->resp);
}

static void page_call_free(struct page_call *c)
{
    free(c->req.facts.client_id);
    free(c->req.facts.granted_scope);
    af_params_free(&c->req.query);
    af_params_free(&c->req.form);
    af_params_free(&c->cookies);
    af_params_free(&c->resp.headers);
    af_buf_free(&c->resp.body);
    af_doc_release(c->resp.doc);
}

/* b64_sha256: base64 (not base64url) of SHA-256(s, n), as CSP hash-sources
 * want (CSP3 §8.4), into out (at least 45 bytes). */
static void b64_sha256(const char *s, size_t n, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    ck_assert_int_eq(EVP_Digest(s, n, md, &mdlen, EVP_sha256(), NULL), 1);
    ck_assert_int_eq(EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen), 44);
}

/* between: the text between the first open and the next close in s, into
 * out (outlen bytes); fails the test when either is missing. */
static void between(const char *s, const char *open, const char *close, char *out, size_t outlen)
{
    const char *a = strstr(s, open), *z;

    ck_assert_msg(a != NULL, "no %s in %s", open, s);
    a += strlen(open);
    z = strstr(a, close);
    ck_assert_msg(z != NULL, "no %s after %s", close, open);
    ck_assert_uint_lt((size_t)(z - a), outlen);
    memcpy(out, a, (size_t)(z - a));
    out[z - a] = '\0';
}

/* The frame every page shares (lang, viewport, title, the stylesheet) and
 * the headers they carry: the CSP admits the stylesheet by its hash and no
 * script. */
static void assert_page_frame(const struct page_call *c)
{
    const char *body = af_buf_str((struct af_buf *)&c->resp.body);
    char css[4096], hash[64], want[128];

    ck_assert_str_eq(c->resp.ctype, AF_CT_HTML);
    ck_assert_ptr_nonnull(strstr(body, "<html lang=\"en\">"));
    ck_assert_ptr_nonnull(strstr(body, "<meta name=\"viewport\""));
    ck_assert_ptr_nonnull(strstr(body, " - authflowd</title>"));
    ck_assert_msg(strstr(body, " style=") == NULL, "a style attribute: the CSP hash blocks it");
    between(body, "<style>", "</style>", css, sizeof(css));
    b64_sha256(css, strlen(css), hash);
    snprintf(want, sizeof(want), "style-src 'sha256-%s'", hash);
    ck_assert_str_eq(af_params_get(&c->resp.headers, AF_HDR_CSP), af_page_csp(false));
    ck_assert_ptr_nonnull(strstr(af_page_csp(false), want));
    ck_assert_ptr_nonnull(strstr(af_page_csp(false), "default-src 'none'"));
    ck_assert_ptr_nonnull(strstr(af_page_csp(false), "frame-ancestors 'none'"));
    ck_assert_ptr_null(strstr(af_page_csp(false), "script-src"));
    ck_assert_ptr_null(strstr(af_page_csp(false), "unsafe"));
    ck_assert_str_eq(af_params_get(&c->resp.headers, AF_HDR_X_FRAME_OPTIONS), "DENY");
    ck_assert_str_eq(af_params_get(&c->resp.headers, AF_HDR_CACHE_CONTROL), "no-store");
}

/* The form_post page's one script is admitted by its hash, nothing else. */
START_TEST(test_page_csp_autosubmit)
{
    struct af_buf b;
    char js[256], hash[64], want[128];

    af_buf_init(&b, 4096);
    ck_assert_int_eq(af_page_autosubmit(&b), AF_OK);
    between(af_buf_str(&b), "<script>", "</script>", js, sizeof(js));
    b64_sha256(js, strlen(js), hash);
    snprintf(want, sizeof(want), "script-src 'sha256-%s'", hash);
    ck_assert_ptr_nonnull(strstr(af_page_csp(true), want));
    /* the same policy otherwise */
    ck_assert_int_eq(strncmp(af_page_csp(true), af_page_csp(false), strlen(af_page_csp(false))), 0);
    af_buf_free(&b);
}
END_TEST

/* Error pages of /authorize and /logout: each names what was received,
 * escaped, and lists what is registered; its reason is the one the log
 * line and the ledger record. */
static const struct {
    const char *why;
    af_handler h;
    const char *params;
    const char *want[3]; /* in the page, as they must appear (escaped) */
} error_page_cases[] = {
    {"unknown client: the client_id received, escaped; no list of clients",
     af_h_authorize,
     "response_type=code&client_id=%3Cscript%3Ealert(1)%3C%2Fscript%3E%22%27",
     {"<dt>client_id received</dt><dd><code>&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;"
      "</code></dd>",
      "names no registered client", "clients[].client_id"}},
    {"unregistered redirect_uri: the URI received, escaped, and the ones registered",
     af_h_authorize,
     "response_type=code&client_id=app&redirect_uri=https%3A%2F%2Frp.example%2F%3Cscript%3E%22%27",
     {"<dt>redirect_uri received</dt><dd><code>https://rp.example/&lt;script&gt;&quot;&#39;"
      "</code></dd>",
      "<dt>redirect_uris registered for this client</dt><dd><ul><li><code>https://rp.example/cb"
      "</code></li></ul></dd>",
      "exact"}},
    {"client_id missing: names the parameter",
     af_h_authorize,
     "response_type=code",
     {"client_id is missing"}},
    {"client_id repeated: names the parameter",
     af_h_authorize,
     "client_id=app&client_id=app",
     {"client_id is repeated"}},
    {"redirect_uri repeated: names the parameter",
     af_h_authorize,
     "client_id=app&redirect_uri=a&redirect_uri=b",
     {"redirect_uri is repeated"}},
    {"logout: unknown client, escaped",
     af_h_logout,
     "client_id=%3Cb%3E%22",
     {"<dt>client_id received</dt><dd><code>&lt;b&gt;&quot;</code></dd>"}},
    {"logout: post_logout_redirect_uri not registered, none registered",
     af_h_logout,
     "client_id=app&post_logout_redirect_uri=https%3A%2F%2Frp.example%2F%3Cb%3E",
     {"<dt>post_logout_redirect_uri received</dt><dd><code>https://rp.example/&lt;b&gt;</code>",
      "<dt>post_logout_redirect_uris registered for this client</dt><dd>none</dd>"}},
    {"logout: repeated parameter named", af_h_logout, "state=a&state=b", {"state is repeated"}},
};

START_TEST(test_error_pages)
{
    struct page_call c;
    struct af_buf reason;
    const char *body;

    page_call(&c, error_page_cases[_i].h, AF_M_GET, error_page_cases[_i].params, NULL);
    body = af_buf_str(&c.resp.body);
    ck_assert_msg(c.resp.status == 400, "%s: status %u", error_page_cases[_i].why, c.resp.status);
    assert_page_frame(&c);
    for (size_t k = 0; k < 3 && error_page_cases[_i].want[k] != NULL; k++)
        ck_assert_msg(strstr(body, error_page_cases[_i].want[k]) != NULL, "%s: no %s in %s",
                      error_page_cases[_i].why, error_page_cases[_i].want[k], body);
    /* nothing received comes out as markup */
    ck_assert_msg(strstr(body, "<script") == NULL && strstr(body, "<b>") == NULL &&
                      strstr(body, "\"'") == NULL,
                  "%s: unescaped in %s", error_page_cases[_i].why, body);
    /* one text: the reason of the log line and the ledger, escaped */
    ck_assert_str_ne(c.resp.reason, "");
    af_buf_init(&reason, 4096);
    ck_assert_int_eq(af_html_wrap(&reason, "<p class=\"err\">", c.resp.reason, "</p>"), AF_OK);
    ck_assert_msg(strstr(body, af_buf_str(&reason)) != NULL, "%s: reason %s not in %s",
                  error_page_cases[_i].why, c.resp.reason, body);
    af_buf_free(&reason);
    page_call_free(&c);
}
END_TEST

/* RFC 8252 §7.3: a native client's loopback IP redirect URI matches any
 * port the request names; nothing else about it may differ, and a web
 * client gets no such exception (RFC 9700 §2.1). */
static const struct {
    const char *client;
    const char *redirect_uri; /* percent-encoded */
    bool accepted;
} loopback_cases[] = {
    {"cli", "http%3A%2F%2F127.0.0.1%2Fcb", true},
    {"cli", "http%3A%2F%2F127.0.0.1%3A61823%2Fcb", true},
    {"cli", "http%3A%2F%2F127.0.0.1%3A1%2Fcb", true},
    {"cli", "http%3A%2F%2F%5B%3A%3A1%5D%2Fcb%3Fx%3D1", true},
    {"cli", "http%3A%2F%2F%5B%3A%3A1%5D%3A49152%2Fcb%3Fx%3D1", true},
    {"cli", "http%3A%2F%2F127.0.0.1%3A0%2Fcb", false},
    {"cli", "http%3A%2F%2F127.0.0.1%3A65536%2Fcb", false},
    {"cli", "http%3A%2F%2F127.0.0.1%3A%2Fcb", false},
    {"cli", "http%3A%2F%2F127.0.0.1%3A8000%2Fcb%2Fx", false},
    {"cli", "http%3A%2F%2F127.0.0.1%3A8000%2Fcb%3Fx", false},
    {"cli", "http%3A%2F%2F127.0.0.1.evil%3A8000%2Fcb", false},
    {"cli", "http%3A%2F%2F127.0.0.1%3A8000%40evil%2Fcb", false},
    {"cli", "http%3A%2F%2Flocalhost%3A8000%2Fcb", false},
    {"cli", "https%3A%2F%2F127.0.0.1%3A8000%2Fcb", false},
    {"cli", "http%3A%2F%2F%5B%3A%3A1%5D%3A8000%2Fcb", false},
    {"cli", "http%3A%2F%2F127.0.0.1%3A8000%2Fcb%3Fx%3D1", false},
    {"app", "https%3A%2F%2Frp.example%3A444%2Fcb", false},
};

START_TEST(test_loopback_port)
{
    struct page_call c;
    char params[512];

    snprintf(params, sizeof(params),
             "response_type=code&client_id=%s&redirect_uri=%s&scope=openid&state=s1"
             "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
             "&code_challenge_method=S256",
             loopback_cases[_i].client, loopback_cases[_i].redirect_uri);
    page_call(&c, af_h_authorize, AF_M_GET, params, NULL);
    if (loopback_cases[_i].accepted)
        ck_assert_msg(c.resp.status != 400, "%s refused: %s", loopback_cases[_i].redirect_uri,
                      c.resp.reason);
    else
        ck_assert_msg(c.resp.status == 400 && strstr(c.resp.reason, "is not registered") != NULL,
                      "%s: status %u, %s", loopback_cases[_i].redirect_uri, c.resp.status,
                      c.resp.reason);
    /* the refusal states the rule the client is held to */
    if (!loopback_cases[_i].accepted)
        ck_assert_msg(strstr(c.resp.reason, strcmp(loopback_cases[_i].client, "cli") == 0
                                                ? "(exact match, any port on a loopback IP)"
                                                : "(exact match required)") != NULL,
                      "%s: %s", loopback_cases[_i].redirect_uri, c.resp.reason);
    page_call_free(&c);
}
END_TEST

/* A received value too long for the page is left to the reason (cut),
 * not a 500. */
START_TEST(test_error_page_long_value)
{
    struct page_call c;
    char *params = malloc(100 * 1024);

    ck_assert_ptr_nonnull(params);
    strcpy(params, "client_id=");
    memset(params + 10, 'x', 90 * 1024);
    params[10 + 90 * 1024] = '\0';
    page_call(&c, af_h_authorize, AF_M_GET, params, NULL);
    ck_assert_uint_eq(c.resp.status, 400);
    ck_assert_ptr_nonnull(strstr(af_buf_str(&c.resp.body), "names no registered client"));
    ck_assert_ptr_null(strstr(af_buf_str(&c.resp.body), "<dt>client_id received"));
    page_call_free(&c);
    free(params);
}
END_TEST

/* input_tag: the <input ...> of the login page whose id is id, into out. */
static void input_tag(const char *body, const char *id, char *out, size_t outlen)
{
    char needle[64];
    const char *at, *start;

    snprintf(needle, sizeof(needle), "id=\"%s\"", id);
    at = strstr(body, needle);
    ck_assert_msg(at != NULL, "no %s in %s", needle, body);
    for (start = at; start > body && strncmp(start, "<input", 6) != 0; start--)
        ;
    between(start, "<input", ">", out, outlen);
}

#define LOGIN_AUTHZ                                                                                \
    "response_type=code&client_id=app&redirect_uri=https%3A%2F%2Frp.example%2Fcb&scope=openid"     \
    "&state=s1&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"                         \
    "&code_challenge_method=S256"

/* The login page: labels tied to inputs, focus on the first empty field; a
 * refused POST /login comes back with the typed username kept (escaped),
 * and the notice tied to the field it is about. The CSRF token still
 * binds the POST to the page's cookie. */
START_TEST(test_login_page)
{
    static const struct {
        const char *why;
        const char *fields;  /* added to the form */
        const char *kept;    /* the username field's value, escaped */
        const char *invalid; /* the id of the field the notice is about, or NULL */
        const char *reason;
    } posts[] = {
        {"wrong password: the username stays, the password is marked",
         "&username=alice&password=nope&af_action=login", "alice", "af-password",
         "login refused: wrong password for user alice"},
        {"unknown user: what was typed stays, escaped",
         "&username=%3Cscript%3E%22x%27&password=nope&af_action=login",
         "&lt;script&gt;&quot;x&#39;", "af-password", "login refused: unknown user <script>\"x'"},
        {"nothing typed or chosen: the username is marked", "&username=&password=&af_action=login",
         "", "af-username", "login refused: neither a user chosen nor a username typed"},
    };
    struct page_call c;
    char cookie[128], csrf[128], tag[512], want[128], *form;
    const char *body, *set;

    cfg->interactive_login = true;
    page_call(&c, af_h_authorize, AF_M_GET, LOGIN_AUTHZ, NULL);
    ck_assert_uint_eq(c.resp.status, 200);
    assert_page_frame(&c);
    body = af_buf_str(&c.resp.body);
    ck_assert_ptr_nonnull(strstr(body, "<label for=\"af-username\">Username</label>"));
    ck_assert_ptr_nonnull(strstr(body, "<label for=\"af-password\">Password</label>"));
    input_tag(body, "af-username", tag, sizeof(tag));
    ck_assert_msg(strstr(tag, " autofocus") != NULL && strstr(tag, "aria-invalid") == NULL, "%s",
                  tag);
    ck_assert_ptr_null(strstr(body, AF_PAGE_NOTICE_ID));
    set = af_params_get(&c.resp.headers, AF_HDR_SET_COOKIE);
    ck_assert_ptr_nonnull(set);
    between(set, AF_LOGIN_COOKIE "=", ";", cookie, sizeof(cookie));
    between(body, "name=\"" AF_LOGIN_CSRF "\" value=\"", "\"", csrf, sizeof(csrf));
    page_call_free(&c);

    for (size_t k = 0; k < sizeof(posts) / sizeof(posts[0]); k++) {
        ck_assert_int_ge(
            asprintf(&form, "%s&" AF_LOGIN_CSRF "=%s%s", LOGIN_AUTHZ, csrf, posts[k].fields), 0);
        page_call(&c, af_h_login, AF_M_POST, form, cookie);
        body = af_buf_str(&c.resp.body);
        ck_assert_msg(c.resp.status == 200, "%s: %u %s", posts[k].why, c.resp.status, body);
        assert_page_frame(&c);
        ck_assert_str_eq(c.resp.reason, posts[k].reason);
        ck_assert_msg(strstr(body, "<script") == NULL, "%s: unescaped", posts[k].why);
        ck_assert_ptr_nonnull(strstr(body, "<p id=\"" AF_PAGE_NOTICE_ID "\" class=\"err\" "
                                           "role=\"alert\">"));
        input_tag(body, "af-username", tag, sizeof(tag));
        snprintf(want, sizeof(want), " value=\"%s\"", posts[k].kept);
        ck_assert_msg(strstr(tag, want) != NULL, "%s: %s", posts[k].why, tag);
        for (int f = 0; f < 2; f++) {
            const char *id = f == 0 ? "af-username" : "af-password";
            bool marked = strcmp(id, posts[k].invalid) == 0;
            input_tag(body, id, tag, sizeof(tag));
            ck_assert_msg(
                (strstr(tag, " aria-invalid=\"true\" aria-describedby=\"" AF_PAGE_NOTICE_ID "\"") !=
                 NULL) == marked &&
                    (strstr(tag, " autofocus") != NULL) == marked,
                "%s: %s", posts[k].why, tag);
        }
        page_call_free(&c);
        free(form);
    }

    /* the token is still checked: another cookie is refused */
    ck_assert_int_ge(
        asprintf(&form, "%s&" AF_LOGIN_CSRF "=%s%s", LOGIN_AUTHZ, csrf, posts[0].fields), 0);
    page_call(&c, af_h_login, AF_M_POST, form, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    ck_assert_uint_eq(c.resp.status, 403);
    page_call_free(&c);
    free(form);
}
END_TEST

/* ---- scenarios (scenario.c) ---- */

static char *read_text(const char *rel)
{
    const char *dir = getenv("AF_SRCDIR");
    char *path = NULL, *buf;
    FILE *f;
    long n;

    ck_assert_int_ge(asprintf(&path, "%s/%s", dir && *dir ? dir : ".", rel), 0);
    f = fopen(path, "rb");
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
    free(path);
    return buf;
}

/* The table: unique names of [a-z0-9_], a known stage, a description, an
 * apply function; the delay flag only where a delay is applied; and every
 * name documented in docs/scenarios.md as `name`. */
START_TEST(test_scenario_table)
{
    char *doc = read_text("docs/scenarios.md"), needle[96];
    const struct af_scenario *sc;
    size_t i, j, n = af_scenario_count(), stages[AF_STAGE_COUNT] = {0};

    ck_assert_uint_ge(n, 36);
    for (i = 0; i < n; i++) {
        sc = af_scenario_at(i);
        ck_assert_ptr_nonnull(sc);
        ck_assert_uint_gt(strlen(sc->name), 0);
        ck_assert_uint_eq(strspn(sc->name, "abcdefghijklmnopqrstuvwxyz0123456789_"),
                          strlen(sc->name));
        ck_assert_int_lt(sc->stage, AF_STAGE_COUNT);
        ck_assert_ptr_nonnull(sc->apply);
        ck_assert_uint_gt(strlen(sc->description), 10);
        ck_assert_ptr_eq(af_scenario_find(sc->name), sc);
        for (j = 0; j < i; j++)
            ck_assert_str_ne(af_scenario_at(j)->name, sc->name);
        snprintf(needle, sizeof(needle), "`%s`", sc->name);
        ck_assert_msg(strstr(doc, needle) != NULL, "docs/scenarios.md does not document %s",
                      needle);
        stages[sc->stage]++;
    }
    for (i = 0; i < AF_STAGE_COUNT; i++)
        ck_assert_msg(stages[i] > 0, "no scenario of stage %s", af_stage_name((af_stage)i));
    ck_assert_ptr_null(af_scenario_at(n));
    ck_assert_ptr_null(af_scenario_find("id_token_bad_signaturE"));
    ck_assert_ptr_null(af_scenario_find(""));
    ck_assert_ptr_null(af_scenario_find(NULL));
    ck_assert(af_scenario_find("token_delay")->takes_delay);
    ck_assert(af_scenario_find("jwks_slow")->takes_delay);
    ck_assert(!af_scenario_find("token_invalid_grant")->takes_delay);
    free(doc);
}
END_TEST

/* Each non-ID-token scenario's effect is what its name says. */
static const struct {
    const char *name;
    const char *authz_error, *token_error;
    unsigned token_status;
} effect_cases[] = {
    {"authorize_access_denied", AF_E_ACCESS_DENIED, NULL, 0},
    {"authorize_server_error", AF_E_SERVER_ERROR, NULL, 0},
    {"authorize_temporarily_unavailable", AF_E_TEMP_UNAVAILABLE, NULL, 0},
    {"authorize_invalid_scope", AF_E_INVALID_SCOPE, NULL, 0},
    {"token_invalid_grant", NULL, AF_E_INVALID_GRANT, 400},
    {"token_invalid_client", NULL, AF_E_INVALID_CLIENT, 401},
    {"token_server_error", NULL, AF_E_SERVER_ERROR, 500},
    {"token_type_uppercase", NULL, NULL, 0},
};

START_TEST(test_scenario_effects)
{
    struct af_scen_ctx sx;

    memset(&sx, 0, sizeof(sx));
    sx.fx.drop_code = true; /* run() starts from a clean effect */
    ck_assert_int_eq(af_scenario_run(af_scenario_find(effect_cases[_i].name), &sx), AF_OK);
    ck_assert(!sx.fx.drop_code);
    if (effect_cases[_i].authz_error)
        ck_assert_str_eq(sx.fx.authz_error, effect_cases[_i].authz_error);
    else
        ck_assert_ptr_null(sx.fx.authz_error);
    if (effect_cases[_i].token_error)
        ck_assert_str_eq(sx.fx.token_error, effect_cases[_i].token_error);
    else
        ck_assert_ptr_null(sx.fx.token_error);
    ck_assert_uint_eq(sx.fx.token_status, effect_cases[_i].token_status);
    /* an ID token scenario needs its claims and header */
    ck_assert_int_eq(af_scenario_run(af_scenario_find("id_token_missing_sub"), &sx), AF_ERR_STATE);
    ck_assert_int_eq(af_scenario_run(NULL, &sx), AF_OK);
}
END_TEST

/* login_hint "USER+SCENARIO" (docs/scenarios.md). */
static const struct {
    const char *hint;
    bool ok;
    const char *scenario;
    size_t user_len;
} hint_cases[] = {
    {"alice+id_token_bad_signature", true, "id_token_bad_signature", 5},
    {"alice id_token_bad_signature", true, "id_token_bad_signature", 5}, /* '+' decoded */
    {"+token_delay", true, "token_delay", 0},
    {"a+b+jwks_error", true, "jwks_error", 3}, /* the last separator */
    {"alice", false, NULL, 0},
    {"alice+", false, NULL, 0},
    {"alice+no_such_scenario", false, NULL, 0},
    {"alice+Token_delay", false, NULL, 0},
    {"", false, NULL, 0},
};

START_TEST(test_scenario_login_hint)
{
    const struct af_scenario *sc = (const void *)1;
    size_t ulen = 99;
    bool ok = af_scen_login_hint(hint_cases[_i].hint, &sc, &ulen);

    ck_assert_int_eq(ok, hint_cases[_i].ok);
    if (hint_cases[_i].ok) {
        ck_assert_str_eq(sc->name, hint_cases[_i].scenario);
        ck_assert_uint_eq(ulen, hint_cases[_i].user_len);
    } else {
        ck_assert_ptr_null(sc);
    }
}
END_TEST

/* ---- shared documents (doc.c) ---- */

/* The ETag is the first 128 bits of SHA-256 over the bytes, base64url,
 * quoted: the same bytes give the same tag, other bytes another. */
START_TEST(test_doc_etag)
{
    struct af_doc *empty = NULL, *a = NULL, *b = NULL;
    json_t *o = json_pack("{s:[]}", AF_JWKS_KEYS);

    ck_assert_int_eq(af_doc_new("", 0, &empty), AF_OK);
    /* SHA-256("") = e3b0c442 98fc1c14 9afbf4c8 996fb924 ... */
    ck_assert_str_eq(af_doc_etag(empty), "\"47DEQpj8HBSa-_TImW-5JA\"");
    ck_assert_uint_eq(af_doc_len(empty), 0);
    ck_assert_int_eq(af_doc_from_json(o, &a), AF_OK);
    ck_assert_str_eq(af_doc_bytes(a), "{\"keys\":[]}");
    ck_assert_str_eq(af_doc_etag(a), "\"ljjRGRRzXQByAC3U1nxzSg\"");
    ck_assert_int_eq(af_doc_new("{\"keys\":[]}", 11, &b), AF_OK);
    ck_assert_str_eq(af_doc_etag(b), af_doc_etag(a));
    ck_assert_ptr_eq(af_doc_ref(b), b);
    af_doc_release(b);
    ck_assert_str_eq(af_doc_bytes(b), "{\"keys\":[]}"); /* one reference left */
    af_doc_release(b);
    af_doc_release(empty);
    af_doc_release(a);
    af_doc_release(NULL);
    ck_assert_ptr_null(af_doc_ref(NULL));
    json_decref(o);
}
END_TEST

/* If-None-Match (RFC 9110 §13.1.2): "*" or a list of entity tags, matched
 * by the weak comparison (§8.8.3.2); a value that does not parse matches
 * nothing (the client gets the full answer). */
static const struct {
    const char *field;
    bool match;
} inm_cases[] = {
    {NULL, false},
    {"", false},
    {"\"abc\"", true},
    {"W/\"abc\"", true},       /* weak comparison: W/ ignored */
    {"\"x\", \"abc\"", true},  /* a list */
    {"\"x\",W/\"abc\"", true}, /* no OWS */
    {" , \"abc\" ,\t", true},  /* empty elements (§5.6.1) */
    {"*", true},               /* any current representation */
    {" * ", true},
    {"\"x\"", false},
    {"\"x\", W/\"y\"", false},
    {"abc", false},   /* unquoted */
    {"\"abc", false}, /* unterminated */
    {"\"abcd\"", false},
    {"\"ab\"", false},
    {"w/\"abc\"", false},     /* the weak prefix is case-sensitive */
    {"*, \"abc\"", false},    /* "*" stands alone */
    {"\"x\" \"abc\"", false}, /* no comma between members */
    {"\"abc\" junk", false},
    {"\"a c\", \"abc\"", false}, /* SP is not an etagc: the field is invalid */
};

START_TEST(test_etag_list_matches)
{
    ck_assert_msg(af_etag_list_matches(inm_cases[_i].field, "\"abc\"") == inm_cases[_i].match,
                  "If-None-Match: %s: expected %s",
                  inm_cases[_i].field ? inm_cases[_i].field : "(none)",
                  inm_cases[_i].match ? "a match" : "no match");
}
END_TEST

/* A server struct with a scenario engine over the unit test config. */
static void scen_setup(void)
{
    struct af_err err;

    server_setup();
    af_err_clear(&err);
    ck_assert_msg(af_scen_engine_new(&srv, &srv.scen, &err) == AF_OK, "%s", err.msg);
}

static void scen_teardown(void)
{
    af_scen_engine_free(srv.scen);
    srv.scen = NULL;
    server_teardown();
}

static void queue(const char *name, const char *client, const char *user, long times, long delay_ms)
{
    struct af_scen_spec spec = {af_scenario_find(name), client, user, times, delay_ms};
    char msg[256];
    ck_assert_ptr_nonnull(spec.sc);
    ck_assert_ptr_null(af_scen_spec_check(cfg, NULL, &spec, msg, sizeof(msg)));
    ck_assert_int_eq(af_scen_queue_add(srv.scen, &spec, NULL), AF_OK);
}

static const char *take(unsigned stages, const char *client, const struct af_cfg_user *user)
{
    const struct af_scenario *sc = af_scen_take(srv.scen, stages, client, user, NULL);
    return sc ? sc->name : "-";
}

/* First queued, first taken; client and user filters; times; stages. */
START_TEST(test_scenario_queue)
{
    const struct af_cfg_user *alice = af_user_by_sub(&srv, "u-1");
    unsigned delay = 0;
    json_t *q;

    queue("id_token_expired", "app", NULL, 1, -1);
    queue("token_invalid_grant", NULL, "alice", 2, -1);
    queue("jwks_slow", NULL, NULL, 0, 250);
    /* the wrong stage, client or user takes nothing */
    ck_assert_str_eq(take(AF_STAGE_BIT(AF_STAGE_USERINFO), "app", alice), "-");
    ck_assert_str_eq(take(AF_STAGE_BIT(AF_STAGE_ID_TOKEN), "other", alice), "-");
    ck_assert_str_eq(take(AF_STAGE_BIT(AF_STAGE_TOKEN), "app", NULL), "-");
    /* a flow takes the first that fits */
    ck_assert_str_eq(take(AF_STAGES_FLOW, "app", alice), "id_token_expired");
    ck_assert_str_eq(take(AF_STAGES_FLOW, "app", alice), "token_invalid_grant");
    ck_assert_str_eq(take(AF_STAGES_FLOW, "any-client", alice), "token_invalid_grant");
    ck_assert_str_eq(take(AF_STAGES_FLOW, "app", alice), "-"); /* used up */
    /* times 0: until cleared, with its delay */
    for (int i = 0; i < 3; i++) {
        ck_assert_ptr_eq(af_scen_take(srv.scen, AF_STAGE_BIT(AF_STAGE_JWKS), NULL, NULL, &delay),
                         af_scenario_find("jwks_slow"));
        ck_assert_uint_eq(delay, 250);
    }
    q = af_scen_queue_json(srv.scen);
    ck_assert_uint_eq(json_array_size(q), 1);
    ck_assert_int_eq(int_member(json_array_get(q, 0), "applied"), 3);
    ck_assert_str_eq(member(json_array_get(q, 0), AF_SCEN_ID), "s-3");
    json_decref(q);
    ck_assert_uint_eq(af_scen_queue_clear(srv.scen, "s-99"), 0);
    ck_assert_uint_eq(af_scen_queue_clear(srv.scen, "s-3"), 1);
    ck_assert_str_eq(take(AF_STAGE_BIT(AF_STAGE_JWKS), NULL, NULL), "-");
    /* NULL engine: no scenarios */
    ck_assert_ptr_null(af_scen_take(NULL, AF_STAGES_FLOW, "app", alice, &delay));
    ck_assert_uint_eq(delay, 0);
}
END_TEST

START_TEST(test_scenario_queue_cap)
{
    struct af_scen_spec spec = {af_scenario_find("jwks_error"), NULL, NULL, 1, -1};

    for (unsigned i = 0; i < AF_SCEN_QUEUE_MAX; i++)
        ck_assert_int_eq(af_scen_queue_add(srv.scen, &spec, NULL), AF_OK);
    ck_assert_int_eq(af_scen_queue_add(srv.scen, &spec, NULL), AF_ERR_TOOBIG);
    ck_assert_uint_eq(af_scen_queue_clear(srv.scen, NULL), AF_SCEN_QUEUE_MAX);
    ck_assert_int_eq(af_scen_queue_add(srv.scen, &spec, NULL), AF_OK);
}
END_TEST

/* Requests the queue refuses, each naming the member at fault. */
static const struct {
    const char *name, *client, *user;
    long times, delay_ms;
    const char *starts;
} spec_bad[] = {
    {"token_invalid_grant", "nope", NULL, 1, -1, AF_SCEN_CLIENT ": names no configured client"},
    {"token_invalid_grant", NULL, "bob", 1, -1, AF_SCEN_USER ": names no configured user"},
    {"jwks_error", "app", NULL, 1, -1, AF_SCEN_CLIENT ": jwks_error applies to GET /jwks"},
    {"jwks_slow", NULL, "alice", 1, -1, AF_SCEN_USER ": jwks_slow applies to GET /jwks"},
    {"token_delay", NULL, NULL, -1, -1, AF_SCEN_TIMES ": expected an integer"},
    {"token_invalid_grant", NULL, NULL, 1, 100, AF_SCEN_DELAY_MS ": token_invalid_grant takes"},
    {"token_delay", NULL, NULL, 1, 10001, AF_SCEN_DELAY_MS ": at most 10000"},
};

START_TEST(test_scenario_spec_check)
{
    struct af_scen_spec spec = {af_scenario_find(spec_bad[_i].name), spec_bad[_i].client,
                                spec_bad[_i].user, spec_bad[_i].times, spec_bad[_i].delay_ms};
    char msg[256];
    const char *m = af_scen_spec_check(cfg, NULL, &spec, msg, sizeof(msg));

    ck_assert_ptr_nonnull(m);
    ck_assert_msg(strncmp(m, spec_bad[_i].starts, strlen(spec_bad[_i].starts)) == 0, "%s", m);
}
END_TEST

/* issue_with: tokens for alice at "app" with scenario name; the ID token's
 * parsed JWS in *jws (caller frees). */
static json_t *issue_with(const char *name, struct af_jws **jws)
{
    struct af_issue is;
    struct af_err err;
    json_t *r = NULL;

    memset(&is, 0, sizeof(is));
    is.client = client("app");
    is.user = af_user_by_sub(&srv, "u-1");
    is.scope = "openid email";
    is.nonce = "n-0S6_WzA2Mj";
    is.auth_time = af_now() - 5;
    is.id_token = true;
    is.scenario = af_scenario_find(name);
    ck_assert_ptr_nonnull(is.scenario);
    af_err_clear(&err);
    ck_assert_msg(af_tokens_issue(&srv, &is, &r, &err) == AF_OK, "%s", err.msg);
    ck_assert_int_eq(af_jws_parse(member(r, AF_P_ID_TOKEN), jws, NULL), AF_OK);
    return r;
}

/* published_jwks: the key set /jwks publishes, parsed; new reference. */
static json_t *published_jwks(void)
{
    struct af_doc *doc = jwks_doc();
    json_t *set;

    ck_assert_ptr_nonnull(doc);
    set = json_loadb(af_doc_bytes(doc), af_doc_len(doc), 0, NULL);
    af_doc_release(doc);
    ck_assert_ptr_nonnull(set);
    return set;
}

/* verifies_with_jwks: the ID token verifies with the key /jwks publishes
 * under its kid. */
static bool verifies_with_jwks(const struct af_jws *jws)
{
    json_t *set = published_jwks();
    struct af_key *key = NULL;
    const char *kid = json_string_value(json_object_get(af_jws_header(jws), AF_H_KID));
    bool ok;

    ck_assert_ptr_nonnull(set);
    ok = kid != NULL && af_jwks_find(set, kid, af_jws_alg_str(jws), &key, NULL) == AF_OK &&
         af_jws_verify(jws, key, NULL) == AF_OK;
    af_key_free(key);
    json_decref(set);
    return ok;
}

/* OIDC Core §3.1.3.7: each ID token scenario breaks exactly its check. */
START_TEST(test_scenario_id_token)
{
    struct af_jws *jws = NULL;
    const json_t *c, *h;
    json_t *r;
    time_t now = af_now();

    r = issue_with("id_token_wrong_iss", &jws);
    c = af_jws_claims(jws);
    ck_assert_str_eq(member(c, AF_C_ISS), ISSUER AF_SCEN_WRONG_ISS_SUFFIX);
    ck_assert(verifies_with_jwks(jws)); /* the signature is good */
    af_jws_free(jws);
    json_decref(r);

    r = issue_with("id_token_missing_aud", &jws);
    ck_assert_ptr_null(json_object_get(af_jws_claims(jws), AF_C_AUD));
    ck_assert_str_eq(member(af_jws_claims(jws), AF_C_SUB), "u-1");
    af_jws_free(jws);
    json_decref(r);

    r = issue_with("id_token_extra_aud", &jws);
    c = af_jws_claims(jws);
    ck_assert_uint_eq(json_array_size(json_object_get(c, AF_C_AUD)), 2);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(c, AF_C_AUD), 0)), "app");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(c, AF_C_AUD), 1)),
                     AF_SCEN_UNTRUSTED_AUD);
    ck_assert_str_eq(member(c, AF_C_AZP), "app");
    af_jws_free(jws);
    json_decref(r);

    r = issue_with("id_token_expired", &jws);
    c = af_jws_claims(jws);
    ck_assert_int_lt(int_member(c, AF_C_EXP), (json_int_t)now - 3000);
    ck_assert_int_lt(int_member(c, AF_C_IAT), int_member(c, AF_C_EXP));
    af_jws_free(jws);
    json_decref(r);

    r = issue_with("id_token_iat_week_old", &jws);
    c = af_jws_claims(jws);
    ck_assert_int_le(int_member(c, AF_C_IAT), (json_int_t)now - 7 * 86400);
    ck_assert_int_gt(int_member(c, AF_C_EXP), (json_int_t)now);
    af_jws_free(jws);
    json_decref(r);

    r = issue_with("id_token_wrong_nonce", &jws);
    ck_assert_str_eq(member(af_jws_claims(jws), AF_C_NONCE), AF_SCEN_WRONG_NONCE);
    af_jws_free(jws);
    json_decref(r);

    r = issue_with("id_token_missing_nonce", &jws);
    ck_assert_ptr_null(json_object_get(af_jws_claims(jws), AF_C_NONCE));
    af_jws_free(jws);
    json_decref(r);

    /* signatures: corrupted, none, no kid */
    r = issue_with("id_token_bad_signature", &jws);
    ck_assert_int_ne(af_jws_verify(jws, skey, NULL), AF_OK);
    ck_assert_str_eq(member(af_jws_header(jws), AF_H_KID), af_key_kid(skey));
    af_jws_free(jws);
    json_decref(r);

    r = issue_with("id_token_alg_none", &jws);
    h = af_jws_header(jws);
    ck_assert_str_eq(member(h, AF_H_ALG), "none");
    ck_assert_ptr_null(json_object_get(h, AF_H_KID));
    ck_assert(strrchr(member(r, AF_P_ID_TOKEN), '.')[1] == '\0'); /* empty signature */
    af_jws_free(jws);
    json_decref(r);

    r = issue_with("id_token_no_kid", &jws);
    ck_assert_ptr_null(json_object_get(af_jws_header(jws), AF_H_KID));
    ck_assert_int_eq(af_jws_verify(jws, skey, NULL), AF_OK);
    af_jws_free(jws);
    json_decref(r);
}
END_TEST

/* unknown_kid: a key /jwks never shows; key_rotated: a new key /jwks shows
 * from then on (and the previous rotated one no more). */
START_TEST(test_scenario_signing_keys)
{
    struct af_jws *jws = NULL, *first = NULL;
    json_t *r, *r1, *set;
    const char *kid;

    r = issue_with("id_token_unknown_kid", &jws);
    kid = member(af_jws_header(jws), AF_H_KID);
    ck_assert_str_ne(kid, af_key_kid(skey));
    ck_assert(!verifies_with_jwks(jws));
    af_jws_free(jws);
    json_decref(r);

    set = published_jwks();
    ck_assert_uint_eq(json_array_size(json_object_get(set, AF_JWKS_KEYS)), 1);
    json_decref(set);
    r1 = issue_with("id_token_key_rotated", &first);
    ck_assert_str_ne(member(af_jws_header(first), AF_H_KID), af_key_kid(skey));
    ck_assert(verifies_with_jwks(first));
    set = published_jwks();
    ck_assert_uint_eq(json_array_size(json_object_get(set, AF_JWKS_KEYS)), 2);
    json_decref(set);
    /* a second rotation replaces the first rotated key */
    r = issue_with("id_token_key_rotated", &jws);
    ck_assert_str_ne(member(af_jws_header(jws), AF_H_KID), member(af_jws_header(first), AF_H_KID));
    ck_assert(verifies_with_jwks(jws));
    ck_assert(!verifies_with_jwks(first));
    set = published_jwks();
    ck_assert_uint_eq(json_array_size(json_object_get(set, AF_JWKS_KEYS)), 2);
    json_decref(set);
    af_jws_free(jws);
    af_jws_free(first);
    json_decref(r);
    json_decref(r1);
}
END_TEST

/* The published key set is a shared doc, serialised once: a doc taken
 * before a rotation stays as it was (a request in flight sends what it
 * started with), the rotation publishes one with the new kid and another
 * ETag, and a clear publishes the configured one again. */
START_TEST(test_scenario_jwks_doc)
{
    struct af_doc *before = jwks_doc(), *again = jwks_doc();
    struct af_doc *after, *cleared;
    struct af_jws *jws = NULL;
    char *bytes, *etag;
    json_t *r;

    ck_assert_ptr_nonnull(before);
    ck_assert_ptr_eq(before, again); /* no copy per request */
    bytes = strdup(af_doc_bytes(before));
    etag = strdup(af_doc_etag(before));
    r = issue_with("id_token_key_rotated", &jws);
    after = jwks_doc();
    ck_assert_ptr_ne(after, before);
    ck_assert_str_ne(af_doc_etag(after), etag);
    ck_assert_ptr_nonnull(strstr(af_doc_bytes(after), member(af_jws_header(jws), AF_H_KID)));
    ck_assert_str_eq(af_doc_bytes(before), bytes);
    ck_assert_str_eq(af_doc_etag(before), etag);
    af_scen_queue_clear(srv.scen, NULL);
    cleared = jwks_doc();
    ck_assert_str_eq(af_doc_etag(cleared), etag);
    ck_assert_str_eq(af_doc_bytes(cleared), bytes);
    /* the rotated doc outlives its withdrawal while someone holds it */
    ck_assert_ptr_nonnull(strstr(af_doc_bytes(after), member(af_jws_header(jws), AF_H_KID)));
    af_doc_release(before);
    af_doc_release(again);
    af_doc_release(after);
    af_doc_release(cleared);
    af_jws_free(jws);
    json_decref(r);
    free(bytes);
    free(etag);
}
END_TEST

/* issue_plain: tokens for alice at "app" without a scenario; the access
 * token in *access (caller frees). */
static void issue_plain(char **access)
{
    struct af_issue is;
    struct af_err err;
    json_t *r = NULL;

    memset(&is, 0, sizeof(is));
    is.client = client("app");
    is.user = af_user_by_sub(&srv, "u-1");
    is.scope = "openid email";
    is.auth_time = af_now() - 5;
    is.id_token = true;
    af_err_clear(&err);
    ck_assert_msg(af_tokens_issue(&srv, &is, &r, &err) == AF_OK, "%s", err.msg);
    *access = strdup(member(r, AF_P_ACCESS_TOKEN));
    json_decref(r);
}

static bool access_ok(const char *token)
{
    json_t *claims = NULL;
    struct af_err err;
    bool ok;

    af_err_clear(&err);
    ok = af_tokens_check_access(&srv, token, &claims, &err) == AF_OK;
    json_decref(claims);
    return ok;
}

/* The admin API's rotation, on the ring: a new key signs, the old one
 * verifies until retired, every change has another ETag, and the refusals
 * (duplicate kid, the signing key, unknown kid) change nothing. */
START_TEST(test_keyring_rotation)
{
    struct af_key *k2 = NULL, *dup = NULL;
    struct af_doc *d0 = jwks_doc(), *d1, *d2;
    char *old_at = NULL, *new_at = NULL;
    struct af_err err;
    json_t *list;

    issue_plain(&old_at);
    ck_assert(access_ok(old_at));
    ck_assert_int_eq(af_key_generate(AF_ALG_ES256, &k2, &err), AF_OK);
    ck_assert_int_eq(af_key_set_kid(k2, "k2"), AF_OK);
    ck_assert_int_eq(af_keyring_add(srv.keyring, af_key_ref(k2), true, NULL, &err), AF_OK);
    d1 = jwks_doc();
    ck_assert_str_ne(af_doc_etag(d1), af_doc_etag(d0));
    ck_assert_ptr_nonnull(strstr(af_doc_bytes(d1), "\"k2\""));
    /* refusals */
    ck_assert_int_eq(af_key_generate(AF_ALG_ES256, &dup, &err), AF_OK);
    ck_assert_int_eq(af_key_set_kid(dup, "k2"), AF_OK);
    ck_assert_int_eq(af_keyring_add(srv.keyring, dup, false, NULL, &err), AF_ERR_STATE);
    ck_assert_int_eq(af_keyring_retire(srv.keyring, "k2", 0, NULL, &err), AF_ERR_STATE);
    ck_assert_int_eq(af_keyring_retire(srv.keyring, "nope", 0, NULL, &err), AF_ERR_NOTFOUND);
    ck_assert_int_eq(af_keyring_sign_with(srv.keyring, "nope", NULL, &err), AF_ERR_NOTFOUND);
    /* the new key signs; the old token still verifies */
    issue_plain(&new_at);
    ck_assert(strstr(new_at, ".") != NULL);
    ck_assert(access_ok(new_at));
    ck_assert(access_ok(old_at));
    /* retired with a grace: still published */
    ck_assert_int_eq(af_keyring_retire(srv.keyring, af_key_kid(skey), 60, NULL, &err), AF_OK);
    ck_assert(access_ok(old_at));
    ck_assert_int_eq(af_keyring_sign_with(srv.keyring, af_key_kid(skey), NULL, &err), AF_ERR_STATE);
    /* grace 0: gone now, and the tokens it signed fail */
    ck_assert_int_eq(af_keyring_retire(srv.keyring, af_key_kid(skey), 0, NULL, &err), AF_OK);
    ck_assert(!access_ok(old_at));
    ck_assert(access_ok(new_at));
    d2 = jwks_doc();
    ck_assert_str_ne(af_doc_etag(d2), af_doc_etag(d1));
    ck_assert_ptr_null(strstr(af_doc_bytes(d2), af_key_kid(skey)));
    /* a doc taken before stays as it was */
    ck_assert_ptr_nonnull(strstr(af_doc_bytes(d0), af_key_kid(skey)));
    list = af_keyring_json(srv.keyring);
    ck_assert_ptr_nonnull(list);
    ck_assert_str_eq(member(list, "signing"), "k2");
    ck_assert_uint_eq(json_array_size(json_object_get(list, AF_JWKS_KEYS)), 1);
    json_decref(list);
    af_doc_release(d0);
    af_doc_release(d1);
    af_doc_release(d2);
    af_key_free(k2);
    free(old_at);
    free(new_at);
}
END_TEST

/* Sets taken on several threads while the ring rotates: every token signed
 * by a set's signer verifies against that set (the sanitizer build also
 * checks that no key is used after it was freed). */
static void *sign_loop(void *arg)
{
    (void)arg;
    for (int i = 0; i < 200; i++) {
        struct af_keyset *ks = af_keyring_get(srv.keyring);
        json_t *c = json_pack("{s:i}", "n", i);
        struct af_jws *jws = NULL;
        char *tok = NULL;
        bool ok = c != NULL && af_jwt_sign(af_keyset_signer(ks), NULL, c, &tok, NULL) == AF_OK &&
                  af_jws_parse(tok, &jws, NULL) == AF_OK &&
                  af_jws_verify(jws, af_keyset_signer(ks), NULL) == AF_OK;
        af_jws_free(jws);
        free(tok);
        json_decref(c);
        af_keyset_release(ks);
        if (!ok)
            return (void *)1;
    }
    return NULL;
}

START_TEST(test_keyring_concurrent)
{
    pthread_t th[4];
    void *res;
    char kid[32];

    for (int t = 0; t < 4; t++)
        ck_assert_int_eq(pthread_create(&th[t], NULL, sign_loop, NULL), 0);
    for (int i = 0; i < 40; i++) {
        struct af_key *k = NULL;
        struct af_keyset *ks = af_keyring_get(srv.keyring);
        char prev[64];
        snprintf(prev, sizeof(prev), "%s", af_key_kid(af_keyset_signer(ks)));
        af_keyset_release(ks);
        ck_assert_int_eq(af_key_generate(AF_ALG_ES256, &k, NULL), AF_OK);
        snprintf(kid, sizeof(kid), "c-%d", i);
        ck_assert_int_eq(af_key_set_kid(k, kid), AF_OK);
        ck_assert_int_eq(af_keyring_add(srv.keyring, k, true, NULL, NULL), AF_OK);
        ck_assert_int_eq(af_keyring_retire(srv.keyring, prev, 0, NULL, NULL), AF_OK);
    }
    for (int t = 0; t < 4; t++) {
        ck_assert_int_eq(pthread_join(th[t], &res), 0);
        ck_assert_ptr_null(res);
    }
}
END_TEST

/* A scenario rides on the tokens issued from its flow (userinfo stage). */
START_TEST(test_scenario_on_tokens)
{
    struct af_jws *jws = NULL;
    const struct af_scenario *sc = NULL;
    json_t *r = issue_with("userinfo_wrong_sub", &jws), *claims = NULL;
    struct af_err err;

    /* not an ID token scenario: the ID token is untouched */
    ck_assert_int_eq(af_jws_verify(jws, skey, NULL), AF_OK);
    ck_assert_str_eq(member(af_jws_claims(jws), AF_C_SUB), "u-1");
    ck_assert_int_eq(
        af_tokens_check_access_scen(&srv, member(r, AF_P_ACCESS_TOKEN), &claims, &sc, &err), AF_OK);
    ck_assert_ptr_eq(sc, af_scenario_find("userinfo_wrong_sub"));
    json_decref(claims);
    af_jws_free(jws);
    json_decref(r);
}
END_TEST

/* ---- a persona's consent rules and claims (consent.h, persona.h) ---- */

/* One authorization of alice to app after the steps before it, from an
 * empty store: its query, the scope asked for, and whether the code brings
 * a refresh token and which scope it grants. forget: the grant was revoked
 * before it (af_consent_forget). refused: consent_required (AF_ERR_STATE),
 * nothing granted. */
struct consent_step {
    const char *query;
    const char *scope;
    bool refresh;
    const char *granted;
    bool forget;
    bool refused;
};

static const struct {
    const char *why;
    af_persona_kind persona;
    struct consent_step steps[4]; /* scope NULL ends */
} consent_cases[] = {
    {"access_type online by default: no refresh token",
     AF_PERSONA_GOOGLE,
     {{"", "openid", false, "openid", false, false}}},
    {"access_type=online",
     AF_PERSONA_GOOGLE,
     {{"access_type=online", "openid", false, "openid", false, false}}},
    {"the first offline consent",
     AF_PERSONA_GOOGLE,
     {{"access_type=offline", "openid", true, "openid", false, false}}},
    {"offline again: no second refresh token",
     AF_PERSONA_GOOGLE,
     {{"access_type=offline", "openid", true, "openid", false, false},
      {"access_type=offline", "openid", false, "openid", false, false},
      {"access_type=offline", "email", false, "email", false, false}}},
    {"prompt=consent: a refresh token again",
     AF_PERSONA_GOOGLE,
     {{"access_type=offline", "openid", true, "openid", false, false},
      {"access_type=offline&prompt=consent", "openid", true, "openid", false, false},
      {"access_type=offline&prompt=select_account%20consent", "openid", true, "openid", false,
       false},
      {"access_type=offline&prompt=select_account", "openid", false, "openid", false, false}}},
    {"prompt=consent without offline: none",
     AF_PERSONA_GOOGLE,
     {{"prompt=consent", "openid", false, "openid", false, false}}},
    {"online first: the first offline consent comes later",
     AF_PERSONA_GOOGLE,
     {{"", "openid", false, "openid", false, false},
      {"access_type=offline", "openid", true, "openid", false, false}}},
    {"a revoked grant: the next offline login is a first consent",
     AF_PERSONA_GOOGLE,
     {{"access_type=offline", "openid", true, "openid", false, false},
      {"access_type=offline", "openid", true, "openid", true, false}}},
    {"include_granted_scopes=true: the scopes granted before join",
     AF_PERSONA_GOOGLE,
     {{"", "openid email", false, "openid email", false, false},
      {"include_granted_scopes=true", "profile", false, "profile openid email", false, false},
      {"include_granted_scopes=true", "email", false, "email profile openid", false, false}}},
    {"include_granted_scopes=false, or absent: the scope asked for",
     AF_PERSONA_GOOGLE,
     {{"", "openid email", false, "openid email", false, false},
      {"include_granted_scopes=false", "profile", false, "profile", false, false},
      {"", "profile", false, "profile", false, false}}},
    {"include_granted_scopes=true with nothing before",
     AF_PERSONA_GOOGLE,
     {{"include_granted_scopes=true&access_type=offline", "profile", true, "profile", false,
       false}}},
    {"prompt=none: only what was granted before",
     AF_PERSONA_GOOGLE,
     {{"prompt=none", "openid", false, NULL, false, true},
      {"", "openid email", false, "openid email", false, false},
      {"prompt=none", "email", false, "email", false, false},
      {"prompt=none", "openid profile", false, NULL, false, true}}},
    {"prompt=none: offline only after an offline consent, and then no refresh token",
     AF_PERSONA_GOOGLE,
     {{"", "openid", false, "openid", false, false},
      {"prompt=none&access_type=offline", "openid", false, NULL, false, true},
      {"access_type=offline", "openid", true, "openid", false, false},
      {"prompt=none&access_type=offline", "openid", false, "openid", false, false}}},
    {"the standard persona: no rules, access_type means nothing",
     AF_PERSONA_STANDARD,
     {{"", "openid", true, "openid", false, false},
      {"access_type=offline", "openid", true, "openid", false, false},
      {"include_granted_scopes=true", "profile", true, "profile", false, false}}},
};

START_TEST(test_consent_rules)
{
    const struct af_cfg_user *user = af_user_by_sub(&srv, "u-1");
    size_t i;
    af_rc rc;

    cfg->persona = consent_cases[_i].persona;
    for (i = 0; i < N(consent_cases[_i].steps) && consent_cases[_i].steps[i].scope; i++) {
        const struct consent_step *step = &consent_cases[_i].steps[i];
        struct af_params in;
        char *scope = strdup(step->scope);
        bool no_refresh = true;

        ck_assert_ptr_nonnull(scope);
        af_params_init(&in, 16);
        ck_assert_int_eq(af_params_parse(&in, step->query, strlen(step->query), NULL), AF_OK);
        if (step->forget)
            af_consent_forget(&srv, "app", "u-1");
        rc = af_consent_grant(&srv, &in, client("app"), user, &scope, &no_refresh);
        if (step->refused) {
            ck_assert_msg(rc == AF_ERR_STATE, "%s: step %zu (%s): not refused",
                          consent_cases[_i].why, i + 1, step->query);
            ck_assert_str_eq(scope, step->scope);
            free(scope);
            af_params_free(&in);
            continue;
        }
        ck_assert_int_eq(rc, AF_OK);
        ck_assert_msg(no_refresh == !step->refresh, "%s: step %zu (%s): refresh %s, expected %s",
                      consent_cases[_i].why, i + 1, step->query, no_refresh ? "no" : "yes",
                      step->refresh ? "yes" : "no");
        ck_assert_msg(strcmp(scope, step->granted) == 0,
                      "%s: step %zu: granted \"%s\", expected \"%s\"", consent_cases[_i].why, i + 1,
                      scope, step->granted);
        free(scope);
        af_params_free(&in);
    }
}
END_TEST

/* Google's claims: email with email, the name and picture with profile,
 * hd always; nothing else of the user's. */
static const struct {
    const char *scope;
    const char *released;
} google_claim_cases[] = {
    {"openid", "hd"},
    {"openid email", "email email_verified hd"},
    {"openid profile", "name family_name given_name picture locale hd"},
    {"email profile", "email email_verified name family_name given_name picture locale hd"},
    {"openid roles groups address phone", "hd"},
};

START_TEST(test_persona_claims)
{
    const struct af_persona *google = af_persona_get(AF_PERSONA_GOOGLE);
    const struct af_cfg_user *user = af_user_by_sub(&srv, "u-1");
    json_t *obj = json_object(), *v;
    const char *name;

    ck_assert_int_eq(af_persona_claims_release(google, user, google_claim_cases[_i].scope, obj),
                     AF_OK);
    json_object_foreach(obj, name, v)
    {
        ck_assert_msg(af_str_has_space_token(google_claim_cases[_i].released, name),
                      "scope \"%s\" released \"%s\"", google_claim_cases[_i].scope, name);
    }
    ck_assert_msg(json_object_size(obj) == count_tokens(google_claim_cases[_i].released),
                  "scope \"%s\": %zu claims released, expected \"%s\"",
                  google_claim_cases[_i].scope, json_object_size(obj),
                  google_claim_cases[_i].released);
    json_decref(obj);
}
END_TEST

START_TEST(test_persona_table)
{
    const struct af_persona *google = af_persona_get(AF_PERSONA_GOOGLE);
    const struct af_persona *std = af_persona_get(AF_PERSONA_STANDARD);
    json_t *obj = json_object();

    ck_assert_str_eq(google->name, "google");
    /* Google's user info opens with any of its scopes; the standard one
     * with openid only */
    ck_assert(af_persona_userinfo_opens(google, "email"));
    ck_assert(af_persona_userinfo_opens(google, "calendar profile"));
    ck_assert(!af_persona_userinfo_opens(google, "https://www.googleapis.com/auth/calendar"));
    ck_assert(!af_persona_userinfo_opens(google, NULL));
    ck_assert(af_persona_userinfo_opens(std, "openid"));
    ck_assert(!af_persona_userinfo_opens(std, "email profile"));
    /* the authorization parameters the standard handler reads for it */
    ck_assert_str_eq(af_persona_authz_param(google, 0)->name, "access_type");
    ck_assert_str_eq(af_persona_authz_param(google, 1)->name, "include_granted_scopes");
    ck_assert_ptr_null(af_persona_authz_param(google, 2));
    ck_assert_ptr_null(af_persona_authz_param(std, 0));
    /* routes: both authorization paths, both user info paths, /token is
     * the standard one */
    ck_assert_ptr_nonnull(af_persona_route(google, "/o/oauth2/v2/auth"));
    ck_assert_ptr_nonnull(af_persona_route(google, "/o/oauth2/auth"));
    ck_assert_ptr_nonnull(af_persona_route(google, "/v1/userinfo"));
    ck_assert_ptr_nonnull(af_persona_route(google, "/oauth2/v3/userinfo"));
    ck_assert_ptr_null(af_persona_route(google, "/token"));
    /* the standard persona releases as OIDC Core 5.4 says: hd is a custom
     * claim there, released by a scope of its name only */
    ck_assert_int_eq(af_persona_claims_release(std, af_user_by_sub(&srv, "u-1"), "openid", obj),
                     AF_OK);
    ck_assert_uint_eq(json_object_size(obj), 0);
    json_decref(obj);
}
END_TEST

static Suite *server_suite(void)
{
    Suite *s = suite_create("server");
    TCase *tc = tcase_create("scope");
    tcase_add_checked_fixture(tc, cfg_setup, cfg_teardown);
    tcase_add_loop_test(tc, test_scope_valid, 0, N(scope_valid_cases));
    tcase_add_loop_test(tc, test_scope_client_allows, 0, N(client_allows_cases));
    tcase_add_test(tc, test_scope_client_allows_none);
    tcase_add_loop_test(tc, test_scope_subset, 0, N(subset_cases));
    tcase_add_test(tc, test_scope_client_default);
    suite_add_tcase(s, tc);

    tc = tcase_create("claims");
    tcase_add_checked_fixture(tc, cfg_setup, cfg_teardown);
    tcase_add_loop_test(tc, test_claims_release, 0, N(release_cases));
    tcase_add_test(tc, test_claims_release_no_user);
    tcase_add_test(tc, test_user_lookup);
    tcase_add_test(tc, test_registry);
    suite_add_tcase(s, tc);

    tc = tcase_create("authorization");
    tcase_add_loop_test(tc, test_bearer_parse, 0, N(bearer_cases));
    tcase_add_test(tc, test_bearer_oversized);
    tcase_add_loop_test(tc, test_basic_parse, 0, N(basic_cases));
    tcase_add_test(tc, test_basic_oversized);
    tcase_add_loop_test(tc, test_auth_scheme_match, 0, N(scheme_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("store");
    tcase_add_checked_fixture(tc, store_setup, store_teardown);
    tcase_add_test(tc, test_code_unknown);
    tcase_add_test(tc, test_code_single_use);
    tcase_add_test(tc, test_code_other_client);
    tcase_add_test(tc, test_code_expiry);
    tcase_add_test(tc, test_code_cap);
    tcase_add_test(tc, test_code_redeemed_leave_the_cap);
    tcase_add_test(tc, test_access_not_stored);
    tcase_add_test(tc, test_grant_revoke);
    tcase_add_test(tc, test_grant_note);
    tcase_add_test(tc, test_store_cap);
    tcase_add_test(tc, test_refresh_rotation);
    tcase_add_test(tc, test_refresh_expiry);
    tcase_add_test(tc, test_store_wheel);
    tcase_add_test(tc, test_refresh_race);
    tcase_add_test(tc, test_sessions);
    tcase_add_test(tc, test_sessions_evict);
    tcase_add_test(tc, test_consents);
    tcase_add_test(tc, test_consents_evict);
    suite_add_tcase(s, tc);

    tc = tcase_create("tokens");
    tcase_add_checked_fixture(tc, server_setup, server_teardown);
    tcase_add_test(tc, test_issue_response);
    tcase_add_test(tc, test_check_access_earlier_run);
    tcase_add_test(tc, test_lookup_rejects);
    tcase_add_loop_test(tc, test_check_access_forged, 0, N(forge_cases));
    tcase_add_test(tc, test_check_access_expired_revoked);
    tcase_add_test(tc, test_refresh_replay_revokes_issued);
    suite_add_tcase(s, tc);

    tc = tcase_create("persona");
    tcase_add_checked_fixture(tc, server_setup, server_teardown);
    tcase_add_loop_test(tc, test_consent_rules, 0, N(consent_cases));
    tcase_add_loop_test(tc, test_persona_claims, 0, N(google_claim_cases));
    tcase_add_test(tc, test_persona_table);
    suite_add_tcase(s, tc);

    tc = tcase_create("ledger");
    tcase_add_test(tc, test_ledger_ring);
    tcase_add_loop_test(tc, test_ledger_filters, 0, N(filter_cases));
    tcase_add_loop_test(tc, test_ledger_redact, 0, N(redact_cases));
    tcase_add_test(tc, test_ledger_redact_long);
    tcase_add_test(tc, test_ledger_entry);
    tcase_add_loop_test(tc, test_ledger_entry_error, 0, N(resp_error_cases));
    tcase_add_loop_test(tc, test_findings, 0, N(finding_cases));
    tcase_add_test(tc, test_findings_filters);
    tcase_add_test(tc, test_resp_error_long);
    tcase_add_test(tc, test_req_without_connection);
    suite_add_tcase(s, tc);

    tc = tcase_create("pages");
    tcase_add_checked_fixture(tc, server_setup, server_teardown);
    tcase_add_test(tc, test_page_csp_autosubmit);
    tcase_add_loop_test(tc, test_error_pages, 0, N(error_page_cases));
    tcase_add_test(tc, test_error_page_long_value);
    tcase_add_loop_test(tc, test_loopback_port, 0, N(loopback_cases));
    tcase_add_test(tc, test_login_page);
    suite_add_tcase(s, tc);

    tc = tcase_create("scenarios");
    tcase_add_checked_fixture(tc, cfg_setup, cfg_teardown);
    tcase_add_test(tc, test_scenario_table);
    tcase_add_loop_test(tc, test_scenario_effects, 0, N(effect_cases));
    tcase_add_loop_test(tc, test_scenario_login_hint, 0, N(hint_cases));
    tcase_add_loop_test(tc, test_scenario_spec_check, 0, N(spec_bad));
    suite_add_tcase(s, tc);

    tc = tcase_create("doc");
    tcase_add_test(tc, test_doc_etag);
    tcase_add_loop_test(tc, test_etag_list_matches, 0, N(inm_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("scenario engine");
    tcase_add_checked_fixture(tc, scen_setup, scen_teardown);
    tcase_set_timeout(tc, 30); /* RSA keys are generated for the signing scenarios */
    tcase_add_test(tc, test_scenario_queue);
    tcase_add_test(tc, test_scenario_queue_cap);
    tcase_add_test(tc, test_scenario_id_token);
    tcase_add_test(tc, test_scenario_signing_keys);
    tcase_add_test(tc, test_scenario_jwks_doc);
    tcase_add_test(tc, test_scenario_on_tokens);
    suite_add_tcase(s, tc);

    tc = tcase_create("keyring");
    tcase_add_checked_fixture(tc, scen_setup, scen_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_keyring_rotation);
    tcase_add_test(tc, test_keyring_concurrent);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(server_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
