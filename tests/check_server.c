/*
 * check_server.c - unit tests of authflowd's token side that need no running
 * server: scopes (RFC 6749 §3.3), claims released by scope (OIDC Core §5.4),
 * Authorization header parsing for Bearer (RFC 6750 §2.1) and Basic client
 * credentials (RFC 6749 §2.3.1, RFC 7617), the store (codes, tokens, grants,
 * sessions, caps) and token issuance and validation over a server struct
 * built by hand (no daemon).
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authflow/cfg.h"
#include "authflow/jose.h"
#include "authflow/proto.h"
#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/server_int.h"

#define N(table) ((int)(sizeof(table) / sizeof(table[0])))

/* One confidential client, one user with every
 * standard claim of OIDC Core §5.1 that §5.4 files under a scope, plus
 * custom claims. */
static const char config_text[] =
    "{\"clients\": ["
    " {\"client_id\": \"app\", \"client_secret\": \"s3cret\","
    "  \"redirect_uris\": [\"https://rp.example/cb\"],"
    "  \"grant_types\": [\"authorization_code\", \"refresh_token\"],"
    "  \"scope\": \"openid profile email roles\"}],"
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
    "   \"roles\": [\"user\"], \"groups\": [\"g1\"]}}]}";

static struct af_config *cfg;

static void cfg_setup(void)
{
    struct af_err err;
    af_err_clear(&err);
    cfg = NULL;
    ck_assert_msg(af_cfg_load_string(config_text, "check_server", &cfg, &err) == AF_OK, "%s",
                  err.msg);
}

static void cfg_teardown(void)
{
    af_cfg_free(cfg);
    cfg = NULL;
    af_clock_set_offset(0);
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
    const struct af_cfg_user *user = af_user_by_sub(cfg, "u-1");
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
    ck_assert_ptr_nonnull(af_user_by_sub(cfg, "u-1"));
    ck_assert_ptr_null(af_user_by_sub(cfg, "alice"));
    ck_assert_ptr_null(af_user_by_sub(cfg, NULL));
    ck_assert_ptr_nonnull(af_user_by_username(cfg, "alice"));
    ck_assert_ptr_null(af_user_by_username(cfg, "u-1"));
    ck_assert_ptr_null(af_user_by_username(cfg, "Alice"));
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

static void store_setup(void)
{
    st = NULL;
    ck_assert_int_eq(af_store_new(4, 6, &st), AF_OK);
}

static void store_teardown(void)
{
    af_store_free(st);
    st = NULL;
    af_clock_set_offset(0);
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

static bool token_live(const char *key)
{
    struct af_token_rec r;
    af_rc rc = af_token_get(st, key, &r);
    af_token_rec_clear(&r);
    return rc == AF_OK;
}

START_TEST(test_code_unknown)
{
    struct af_code_rec out;
    char *grant = NULL;
    ck_assert_int_eq(af_code_take(st, "no-such-code", &out, &grant), AF_ERR_NOTFOUND);
    ck_assert_ptr_null(grant);
    ck_assert_ptr_null(out.client_id);
}
END_TEST

START_TEST(test_code_single_use)
{
    /* RFC 6749 §4.1.2: a code is used once; a second use is refused and
     * revokes the tokens issued from it (§10.5, RFC 9700 §4.2.4) */
    struct af_code_rec in = code_rec(60), out;
    struct af_token_rec at;
    char *code = NULL, *code2 = NULL, *grant = NULL, *grant2 = NULL;

    ck_assert_int_eq(af_code_put(st, &in, &code), AF_OK);
    ck_assert_int_eq(af_code_put(st, &in, &code2), AF_OK);
    /* RFC 6749 §10.10: >= 128 bits of entropy, base64url */
    ck_assert_uint_ge(strlen(code), 22);
    ck_assert_str_ne(code, code2);

    ck_assert_int_eq(af_code_take(st, code, &out, &grant), AF_OK);
    ck_assert_str_eq(out.client_id, "app");
    ck_assert_str_eq(out.redirect_uri, in.redirect_uri);
    ck_assert_str_eq(out.challenge, in.challenge);
    ck_assert_str_eq(out.challenge_method, AF_PKCE_S256);
    ck_assert_str_eq(out.scope, in.scope);
    ck_assert_str_eq(out.sub, "u-1");
    ck_assert_str_eq(out.nonce, in.nonce);
    ck_assert_int_eq(out.auth_time, in.auth_time);
    ck_assert_ptr_nonnull(grant);
    af_code_rec_clear(&out);

    /* tokens from this grant, and one from the other code's grant */
    ck_assert_int_eq(af_code_take(st, code2, &out, &grant2), AF_OK);
    af_code_rec_clear(&out);
    ck_assert_str_ne(grant, grant2); /* a fresh grant per code */
    at = tok_rec(grant, false, 60);
    ck_assert_int_eq(af_token_put(st, "jti-1", &at), AF_OK);
    at = tok_rec(grant, true, 600);
    ck_assert_int_eq(af_token_put(st, "rt-1", &at), AF_OK);
    at = tok_rec(grant2, false, 60);
    ck_assert_int_eq(af_token_put(st, "jti-2", &at), AF_OK);
    ck_assert(token_live("jti-1"));

    free(grant);
    grant = NULL;
    ck_assert_int_eq(af_code_take(st, code, &out, &grant), AF_ERR_STATE);
    ck_assert_ptr_null(grant);
    ck_assert_ptr_null(out.client_id);
    ck_assert(!token_live("jti-1"));
    ck_assert(!token_live("rt-1"));
    ck_assert(token_live("jti-2"));
    /* and again: still refused */
    ck_assert_int_eq(af_code_take(st, code, &out, &grant), AF_ERR_STATE);
    free(code);
    free(code2);
    free(grant2);
}
END_TEST

START_TEST(test_code_expiry)
{
    /* RFC 6749 §4.1.2: codes expire; not accepted at their expiry time */
    struct af_code_rec in = code_rec(60), out;
    char *code = NULL, *code2 = NULL, *grant = NULL;

    ck_assert_int_eq(af_code_put(st, &in, &code), AF_OK);
    ck_assert_int_eq(af_code_put(st, &in, &code2), AF_OK);
    af_clock_set_offset(59);
    ck_assert_int_eq(af_code_take(st, code2, &out, &grant), AF_OK);
    af_code_rec_clear(&out);
    free(grant);
    grant = NULL;
    af_clock_set_offset(60);
    ck_assert_int_eq(af_code_take(st, code, &out, &grant), AF_ERR_INVALID);
    ck_assert_ptr_null(grant);
    ck_assert_ptr_null(out.client_id);
    /* an expired code was never used: asking again is no replay */
    ck_assert_int_eq(af_code_take(st, code, &out, &grant), AF_ERR_INVALID);
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
        ck_assert_int_eq(af_code_put(st, &in, &code[i]), AF_OK);
    ck_assert_int_eq(af_code_put(st, &in, &code[4]), AF_ERR_TOOBIG);
    ck_assert_ptr_null(code[4]);
    af_clock_set_offset(61);
    in = code_rec(60);
    ck_assert_int_eq(af_code_put(st, &in, &code[4]), AF_OK);
    for (i = 0; i < 5; i++)
        free(code[i]);
}
END_TEST

START_TEST(test_token_get)
{
    struct af_token_rec in = tok_rec("g1", false, 60), out;

    ck_assert_int_eq(af_token_get(st, "unknown", &out), AF_ERR_NOTFOUND);
    ck_assert_int_eq(af_token_put(st, "jti-1", &in), AF_OK);
    /* one key, one token */
    ck_assert_int_eq(af_token_put(st, "jti-1", &in), AF_ERR_STATE);
    ck_assert_int_eq(af_token_get(st, "jti-1", &out), AF_OK);
    ck_assert_str_eq(out.client_id, "app");
    ck_assert_str_eq(out.sub, "u-1");
    ck_assert_str_eq(out.scope, "openid");
    ck_assert_str_eq(out.grant_id, "g1");
    ck_assert_ptr_null(out.nonce);
    ck_assert(!out.is_refresh);
    ck_assert_int_eq(out.expires, in.expires);
    af_token_rec_clear(&out);
    /* expiry */
    af_clock_set_offset(59);
    ck_assert(token_live("jti-1"));
    af_clock_set_offset(60);
    ck_assert_int_eq(af_token_get(st, "jti-1", &out), AF_ERR_NOTFOUND);
    ck_assert_ptr_null(out.client_id);
}
END_TEST

START_TEST(test_token_cap)
{
    /* max_tokens 6 */
    struct af_token_rec in = tok_rec("g1", false, 60);
    char key[16];
    int i;

    for (i = 0; i < 6; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        ck_assert_int_eq(af_token_put(st, key, &in), AF_OK);
    }
    ck_assert_int_eq(af_token_put(st, "k6", &in), AF_ERR_TOOBIG);
    ck_assert(!token_live("k6"));
    /* a revoked but unexpired token still takes its place */
    af_token_revoke(st, "k0", false);
    ck_assert_int_eq(af_token_put(st, "k6", &in), AF_ERR_TOOBIG);
    af_clock_set_offset(60);
    in = tok_rec("g1", false, 60);
    ck_assert_int_eq(af_token_put(st, "k6", &in), AF_OK);
    ck_assert(token_live("k6"));
}
END_TEST

START_TEST(test_token_revoke)
{
    struct af_token_rec in;

    in = tok_rec("g1", false, 60);
    ck_assert_int_eq(af_token_put(st, "at-1", &in), AF_OK);
    ck_assert_int_eq(af_token_put(st, "at-2", &in), AF_OK);
    in = tok_rec("g1", true, 600);
    ck_assert_int_eq(af_token_put(st, "rt-1", &in), AF_OK);
    in = tok_rec("g2", false, 60);
    ck_assert_int_eq(af_token_put(st, "at-3", &in), AF_OK);

    /* RFC 7009 §2.2: unknown keys are no error */
    af_token_revoke(st, "unknown", true);
    /* one access token alone */
    af_token_revoke(st, "at-1", false);
    ck_assert(!token_live("at-1"));
    ck_assert(token_live("at-2"));
    ck_assert(token_live("rt-1"));
    /* RFC 7009 §2.1: a refresh token with its grant */
    af_token_revoke(st, "rt-1", true);
    ck_assert(!token_live("rt-1"));
    ck_assert(!token_live("at-2"));
    ck_assert(token_live("at-3"));
}
END_TEST

START_TEST(test_refresh_rotation)
{
    /* RFC 9700 §4.14.2: rotation; the replay of a used refresh token
     * revokes the grant, including the token that replaced it */
    struct af_token_rec in, out;

    in = tok_rec("g1", true, 600);
    in.nonce = (char *)"n-1";
    ck_assert_int_eq(af_token_put(st, "rt-1", &in), AF_OK);
    in = tok_rec("g1", false, 60);
    ck_assert_int_eq(af_token_put(st, "at-1", &in), AF_OK);
    in = tok_rec("g2", true, 600);
    ck_assert_int_eq(af_token_put(st, "rt-other", &in), AF_OK);

    ck_assert_int_eq(af_refresh_rotate(st, "unknown", &out), AF_ERR_NOTFOUND);
    /* an access token's key is no refresh token, and stays untouched */
    ck_assert_int_eq(af_refresh_rotate(st, "at-1", &out), AF_ERR_NOTFOUND);
    ck_assert(token_live("at-1"));

    ck_assert_int_eq(af_refresh_rotate(st, "rt-1", &out), AF_OK);
    ck_assert(out.is_refresh);
    ck_assert_str_eq(out.grant_id, "g1");
    ck_assert_str_eq(out.nonce, "n-1");
    af_token_rec_clear(&out);
    /* used up: no longer live */
    ck_assert(!token_live("rt-1"));
    ck_assert(token_live("at-1"));
    in = tok_rec("g1", true, 600);
    ck_assert_int_eq(af_token_put(st, "rt-2", &in), AF_OK);

    /* replay */
    ck_assert_int_eq(af_refresh_rotate(st, "rt-1", &out), AF_ERR_STATE);
    ck_assert_ptr_null(out.client_id);
    ck_assert(!token_live("rt-2"));
    ck_assert(!token_live("at-1"));
    ck_assert_int_eq(af_refresh_rotate(st, "rt-2", &out), AF_ERR_NOTFOUND);
    ck_assert(token_live("rt-other"));
}
END_TEST

START_TEST(test_refresh_revoke_used)
{
    /* RFC 7009 §2.1: revoking a refresh token that was already rotated
     * still revokes its grant */
    struct af_token_rec in, out;

    in = tok_rec("g1", true, 600);
    ck_assert_int_eq(af_token_put(st, "rt-1", &in), AF_OK);
    ck_assert_int_eq(af_refresh_rotate(st, "rt-1", &out), AF_OK);
    af_token_rec_clear(&out);
    in = tok_rec("g1", true, 600);
    ck_assert_int_eq(af_token_put(st, "rt-2", &in), AF_OK);
    in = tok_rec("g1", false, 60);
    ck_assert_int_eq(af_token_put(st, "at-2", &in), AF_OK);
    af_token_revoke(st, "rt-1", true);
    ck_assert(!token_live("rt-2"));
    ck_assert(!token_live("at-2"));
}
END_TEST

START_TEST(test_refresh_expiry)
{
    struct af_token_rec in = tok_rec("g1", true, 600), out;
    ck_assert_int_eq(af_token_put(st, "rt-1", &in), AF_OK);
    af_clock_set_offset(600);
    ck_assert_int_eq(af_refresh_rotate(st, "rt-1", &out), AF_ERR_NOTFOUND);
    ck_assert_ptr_null(out.client_id);
}
END_TEST

START_TEST(test_sessions)
{
    struct af_session_rec in, out;
    char *sid = NULL, *sid2 = NULL;
    size_t codes = 9, tokens = 9, sessions = 9;

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
    af_store_counts(st, &codes, &tokens, &sessions);
    ck_assert_uint_eq(codes, 0);
    ck_assert_uint_eq(tokens, 0);
    ck_assert_uint_eq(sessions, 2);
    /* logout */
    af_session_drop(st, sid);
    ck_assert_int_eq(af_session_get(st, sid, &out), AF_ERR_NOTFOUND);
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

/* ---- issuance and validation, on a server struct without a daemon ---- */

#define ISSUER "https://as.example"

static struct af_server srv;
static struct af_key *other_key;

static void server_setup(void)
{
    struct af_err err;

    cfg_setup();
    memset(&srv, 0, sizeof(srv));
    srv.cfg = cfg;
    srv.issuer = strdup(ISSUER);
    srv.keys = calloc(1, sizeof(*srv.keys));
    ck_assert_ptr_nonnull(srv.issuer);
    ck_assert_ptr_nonnull(srv.keys);
    ck_assert_int_eq(af_key_generate(AF_ALG_ES256, &srv.keys[0], &err), AF_OK);
    srv.nkeys = 1;
    ck_assert_int_eq(af_store_new(100, 100, &srv.store), AF_OK);
    /* a key of the attacker's that claims our kid */
    ck_assert_int_eq(af_key_generate(AF_ALG_ES256, &other_key, &err), AF_OK);
    ck_assert_int_eq(af_key_set_kid(other_key, af_key_kid(srv.keys[0])), AF_OK);
}

static void server_teardown(void)
{
    af_store_free(srv.store);
    af_key_free(srv.keys[0]);
    free(srv.keys);
    free(srv.issuer);
    af_key_free(other_key);
    memset(&srv, 0, sizeof(srv));
    cfg_teardown();
}

/* issue: tokens for alice at client "app"; new reference. */
static json_t *issue(const char *grant_id, bool refresh)
{
    struct af_issue is;
    struct af_err err;
    json_t *r = NULL;

    memset(&is, 0, sizeof(is));
    is.client = client("app");
    is.user = af_user_by_sub(cfg, "u-1");
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
    ck_assert_int_eq(af_jws_verify(jws, srv.keys[0], NULL), AF_OK);
    ck_assert_str_eq(member(af_jws_claims(jws), AF_C_NONCE), "n-0S6_WzA2Mj");
    ck_assert_str_eq(member(af_jws_claims(jws), AF_C_AZP), "app");
    ck_assert_str_eq(member(af_jws_claims(jws), AF_C_EMAIL), "alice@example.com");
    ck_assert_ptr_null(json_object_get(af_jws_claims(jws), AF_C_NAME)); /* no profile scope */
    ck_assert_ptr_nonnull(json_object_get(af_jws_claims(jws), AF_C_AT_HASH));

    /* lookup: the access token by its JWS, the refresh token by value */
    ck_assert_int_eq(af_tokens_lookup(&srv, member(r, AF_P_ACCESS_TOKEN), &ti), AF_OK);
    ck_assert(!ti.is_refresh);
    ck_assert_str_eq(ti.key, member(claims, AF_C_JTI));
    ck_assert_ptr_nonnull(ti.claims);
    af_token_info_clear(&ti);
    ck_assert_int_eq(af_tokens_lookup(&srv, member(r, AF_P_REFRESH_TOKEN), &ti), AF_OK);
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
    ck_assert_int_eq(af_tokens_lookup(&srv, jti, &ti), AF_ERR_NOTFOUND);
    ck_assert_ptr_null(ti.key);
    /* an ID token is no access token (RFC 9068 §4: typ) */
    ck_assert_int_eq(af_tokens_lookup(&srv, member(r, AF_P_ID_TOKEN), &ti), AF_ERR_NOTFOUND);
    ck_assert_int_eq(af_tokens_lookup(&srv, "garbage", &ti), AF_ERR_NOTFOUND);
    ck_assert_int_eq(af_tokens_lookup(&srv, "", &ti), AF_ERR_NOTFOUND);
    /* no refresh token was asked for */
    ck_assert_ptr_null(json_object_get(r, AF_P_REFRESH_TOKEN));
    json_decref(claims);
    json_decref(r);
}
END_TEST

/* forged access tokens, each signed over claims built from a genuine one */
enum forge { F_OTHER_KEY, F_TYP_JWT, F_OTHER_ISS, F_UNKNOWN_JTI, F_ALG_NONE, F_TAMPERED };

static const struct {
    const char *why;
    enum forge how;
    const char *msg; /* a word of the description */
} forge_cases[] = {
    {"RFC 9068 §4: signed by another key with our kid", F_OTHER_KEY, "signature"},
    {"RFC 9068 §4: typ must be at+jwt", F_TYP_JWT, "typ"},
    {"RFC 9068 §4: iss must be ours", F_OTHER_ISS, "issued"},
    {"a jti the store never saw", F_UNKNOWN_JTI, "unknown"},
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
        ck_assert_int_eq(af_jwt_sign(srv.keys[0], AF_TYP_JWT, claims, &forged, NULL), AF_OK);
        break;
    case F_OTHER_ISS:
        json_object_set_new(claims, AF_C_ISS, json_string("https://evil.example"));
        ck_assert_int_eq(af_jwt_sign(srv.keys[0], AF_TYP_AT_JWT, claims, &forged, NULL), AF_OK);
        break;
    case F_UNKNOWN_JTI:
        json_object_set_new(claims, AF_C_JTI, json_string("never-issued"));
        ck_assert_int_eq(af_jwt_sign(srv.keys[0], AF_TYP_AT_JWT, claims, &forged, NULL), AF_OK);
        break;
    case F_ALG_NONE:
        hdr = json_pack("{s:s, s:s, s:s}", AF_H_ALG, "none", AF_H_TYP, AF_TYP_AT_JWT, AF_H_KID,
                        af_key_kid(srv.keys[0]));
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
    af_token_revoke(srv.store, jti, false);
    af_err_clear(&err);
    ck_assert_int_ne(af_tokens_check_access(&srv, access, &claims, &err), AF_OK);
    ck_assert_ptr_null(claims);
    ck_assert_msg(strstr(err.msg, "revoked") != NULL, "description \"%s\"", err.msg);
    free(jti);
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
    ck_assert_int_eq(af_tokens_lookup(&srv, member(r2, AF_P_REFRESH_TOKEN), &ti), AF_OK);
    af_token_info_clear(&ti);
    /* the used one is no longer live for introspection or revocation */
    ck_assert_int_eq(af_tokens_lookup(&srv, member(r1, AF_P_REFRESH_TOKEN), &ti), AF_ERR_NOTFOUND);

    ck_assert_int_eq(af_refresh_rotate(srv.store, member(r1, AF_P_REFRESH_TOKEN), &rec),
                     AF_ERR_STATE);
    ck_assert_int_ne(af_tokens_check_access(&srv, member(r1, AF_P_ACCESS_TOKEN), &claims, NULL),
                     AF_OK);
    ck_assert_int_ne(af_tokens_check_access(&srv, member(r2, AF_P_ACCESS_TOKEN), &claims, NULL),
                     AF_OK);
    ck_assert_int_eq(af_tokens_lookup(&srv, member(r2, AF_P_REFRESH_TOKEN), &ti), AF_ERR_NOTFOUND);
    ck_assert_int_eq(af_tokens_check_access(&srv, member(other, AF_P_ACCESS_TOKEN), &claims, NULL),
                     AF_OK);
    json_decref(claims);
    json_decref(r1);
    json_decref(r2);
    json_decref(other);
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
    tcase_add_test(tc, test_code_expiry);
    tcase_add_test(tc, test_code_cap);
    tcase_add_test(tc, test_token_get);
    tcase_add_test(tc, test_token_cap);
    tcase_add_test(tc, test_token_revoke);
    tcase_add_test(tc, test_refresh_rotation);
    tcase_add_test(tc, test_refresh_revoke_used);
    tcase_add_test(tc, test_refresh_expiry);
    tcase_add_test(tc, test_sessions);
    suite_add_tcase(s, tc);

    tc = tcase_create("tokens");
    tcase_add_checked_fixture(tc, server_setup, server_teardown);
    tcase_add_test(tc, test_issue_response);
    tcase_add_test(tc, test_lookup_rejects);
    tcase_add_loop_test(tc, test_check_access_forged, 0, N(forge_cases));
    tcase_add_test(tc, test_check_access_expired_revoked);
    tcase_add_test(tc, test_refresh_replay_revokes_issued);
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
