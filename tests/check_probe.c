/*
 * check_probe.c - unit tests of the probe engine (src/probe/): templates
 * and variables, HTML forms, selectors, every expectation kind passing and
 * failing with its one-line message, the suite and profile loaders' error
 * positions, the runner end to end against a small libmicrohttpd fixture
 * on port 0 (captures of every kind, follow and login rules, cookie jars
 * per flow, body cap, JWT verification), the parts the rs and rp suites
 * use (foreach over profile lists, admin API requests, use steps,
 * conditional expectations, whole-reference JSON values), and the
 * reporters.
 */
#include "config.h"

#include <check.h>
#include <curl/curl.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authflow/jose.h"
#include "authflow/probe.h"
#include "authflow/proto.h"
#include "authflow/util.h"
#include "probe/claims.h"
#include "probe/entropy.h"
#include "probe/forge.h"
#include "probe/inventory.h"
#include "probe/jsonutil.h"
#include "probe/probe_int.h"
#include "probe/regex.h"
#include "probe/serve.h"

#define N(table) ((int)(sizeof(table) / sizeof(table[0])))

/* ---- templates ---- */

static json_t *tmpl_root(void)
{
    return json_pack(
        "{s:{s:s, s:s, s:{s:{s:s, s:s, s:s}}}, s:{s:s, s:s, s:[s,s]}, "
        "s:{s:s, s:s, s:i, s:b, s:{s:s}}}",
        "target", "issuer", "https://as.example", "name", "demo", "clients", "main", "id", "cid",
        "secret", "s3cret", "redirect_uri", "https://user:pw@app.example:8443/cb?x=1#f", "meta",
        "issuer", "https://as.example", "tmpl", "{{target.name}}", "algs", "RS256", "ES256", "vars",
        "greet", "hi {{target.name}}", "loop", "{{vars.loop}}", "n", 42, "yes", 1, "obj", "a", "b");
}

static const struct {
    const char *section;
    const char *tmpl;
    af_rc rc;        /* expected status */
    const char *out; /* expected expansion (rc AF_OK) */
    bool omit;
} tmpl_cases[] = {
    {"§7.1 target", "{{target.issuer}}/authorize", AF_OK, "https://as.example/authorize", false},
    {"§7.2 spaces", "{{ target.name }}", AF_OK, "demo", false},
    {"§7.1 vars are templates", "{{vars.greet}}!", AF_OK, "hi demo!", false},
    {"§7.1 meta is data", "{{meta.tmpl}}", AF_OK, "{{target.name}}", false},
    {"§7.1 captures are data", "{{cap}}", AF_OK, "{{target.name}}", false},
    {"§7.3 binding", "{{client.id}}:{{client.secret}}", AF_OK, "cid:s3cret", false},
    {"§7.1 array index", "{{meta.algs[1]}}", AF_OK, "ES256", false},
    {"§7.1 number", "{{vars.n}}", AF_OK, "42", false},
    {"§7.1 boolean", "{{vars.yes}}", AF_OK, "true", false},
    {"§7.1 object", "{{vars.obj}}", AF_ERR_INVALID, NULL, false},
    {"§7.2 urlencode", "{{sp | urlencode}}", AF_OK, "a%20b%26c%2F%C3%A9", false},
    {"§7.2 base64 (RFC 4648 §10)", "{{foob | base64}}", AF_OK, "Zm9vYg==", false},
    {"§7.2 b64url", "{{foob | b64url}}", AF_OK, "Zm9vYg", false},
    /* RFC 7636 Appendix B */
    {"§7.2 s256", "{{ver | s256}}", AF_OK, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", false},
    {"§7.2 chain", "{{foob | upper | b64url}}", AF_OK, "Rk9PQg", false},
    {"§7.2 lower", "{{target.issuer | upper | lower}}", AF_OK, "https://as.example", false},
    {"§7.2 url_scheme", "{{client.redirect_uri | url_scheme}}", AF_OK, "https", false},
    {"§7.2 url_host", "{{client.redirect_uri | url_host}}", AF_OK, "app.example", false},
    {"§7.2 url_port", "{{client.redirect_uri | url_port}}", AF_OK, "8443", false},
    {"§7.2 url_port default", "{{target.issuer | url_port}}", AF_OK, "443", false},
    {"§7.2 url_path", "{{client.redirect_uri | url_path}}", AF_OK, "/cb", false},
    {"§7.2 url_origin", "{{client.redirect_uri | url_origin}}", AF_OK, "https://app.example:8443",
     false},
    /* RS-16's plain form of an https URL keeps an explicit port */
    {"§7.2 url_authority", "{{client.redirect_uri | url_authority}}", AF_OK, "app.example:8443",
     false},
    {"§7.2 url_authority, no port", "{{target.issuer | url_authority}}", AF_OK, "as.example",
     false},
    {"§7.2 url_path of no path", "[{{target.issuer | url_path}}]", AF_OK, "[]", false},
    {"§7.2 url filter on a non-URL", "{{target.name | url_host}}", AF_ERR_INVALID, NULL, false},
    {"§7.2 undefined target: skip", "{{target.nothing}}", AF_ERR_NOTFOUND, NULL, false},
    {"§7.2 undefined meta: skip", "{{meta.revocation_endpoint}}", AF_ERR_NOTFOUND, NULL, false},
    {"§7.2 undefined capture: error", "{{nothing}}", AF_ERR_INVALID, NULL, false},
    {"§7.2 optional alone: omitted", "{{?vars.prompt}}", AF_OK, NULL, true},
    {"§7.2 optional inside text", "p={{?vars.prompt}};", AF_OK, "p=;", false},
    {"§7.2 self-reference loop", "{{vars.loop}}", AF_ERR_INVALID, NULL, false},
    {"§7.2 unclosed", "{{target.name", AF_ERR_PARSE, NULL, false},
    {"§7.2 unknown filter", "{{target.name | rot13}}", AF_ERR_PARSE, NULL, false},
    {"§7.2 empty reference", "{{ }}", AF_ERR_PARSE, NULL, false},
    {"§7.2 bad character", "{{a b}}", AF_ERR_PARSE, NULL, false},
    {"§7.1 env", "{{env.AF_CHECK_PROBE_ENV}}", AF_OK, "from-env", false},
    {"§7.1 env undefined: skip", "{{env.AF_CHECK_PROBE_NOPE}}", AF_ERR_NOTFOUND, NULL, false},
    {"§7.1 pkce.method", "{{pkce.method}}", AF_OK, "S256", false},
    {"§7.1 bad pkce part", "{{pkce.secret}}", AF_ERR_INVALID, NULL, false},
    {"§7.4 dotted local shadows", "{{vars.shadow}}", AF_OK, "local", false},
    {"§7.1 plain text", "no references", AF_OK, "no references", false},
};

static void set_local(struct af_scope *sc, const char *name, const char *value)
{
    json_t *v = json_string(value);
    ck_assert_int_eq(af_scope_set(sc, name, v), AF_OK);
    json_decref(v);
}

static void scope_with_locals(struct af_scope *sc, json_t *root)
{
    json_t *bind = json_pack("{s:s}", "client", "target.clients.main"), *saved = NULL;
    ck_assert_int_eq(af_scope_init(sc, root), AF_OK);
    ck_assert_int_eq(af_scope_bind_push(sc, bind, &saved, NULL), AF_OK);
    json_decref(saved); /* the initial (empty) set: not restored in this test */
    json_decref(bind);
    set_local(sc, "cap", "{{target.name}}");
    set_local(sc, "sp", "a b&c/\xc3\xa9");
    set_local(sc, "foob", "foob");
    set_local(sc, "ver", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    set_local(sc, "vars.shadow", "local");
}

START_TEST(test_tmpl_expand)
{
    json_t *root = tmpl_root();
    struct af_scope sc;
    struct af_err e;
    char *out = NULL;
    bool omit = false;
    af_rc rc;

    setenv("AF_CHECK_PROBE_ENV", "from-env", 1);
    unsetenv("AF_CHECK_PROBE_NOPE");
    scope_with_locals(&sc, root);
    af_err_clear(&e);
    rc = af_tmpl_expand_str(&sc, tmpl_cases[_i].tmpl, &out, &omit, &e);
    ck_assert_msg(rc == tmpl_cases[_i].rc, "%s: %s: rc %s, want %s (%s)", tmpl_cases[_i].section,
                  tmpl_cases[_i].tmpl, af_rc_str(rc), af_rc_str(tmpl_cases[_i].rc), e.msg);
    if (rc == AF_OK) {
        ck_assert_int_eq(omit, tmpl_cases[_i].omit);
        if (tmpl_cases[_i].out == NULL)
            ck_assert_ptr_null(out);
        else
            ck_assert_str_eq(out, tmpl_cases[_i].out);
    } else {
        ck_assert_msg(e.msg[0] != '\0', "%s: an error must say why", tmpl_cases[_i].tmpl);
        /* The loader's syntax check agrees on syntax errors. */
        if (rc == AF_ERR_PARSE)
            ck_assert_int_eq(af_tmpl_check(tmpl_cases[_i].tmpl, &e), AF_ERR_PARSE);
    }
    free(out);
    af_scope_clear(&sc);
    json_decref(root);
}
END_TEST

START_TEST(test_tmpl_fresh_and_pkce)
{
    json_t *root = tmpl_root();
    struct af_scope a, b;
    char *s1 = NULL, *s2 = NULL, *s3 = NULL, *ver = NULL, *ch = NULL;
    struct af_buf want;

    af_buf_init(&want, 128);
    ck_assert_int_eq(af_scope_init(&a, root), AF_OK);
    ck_assert_int_eq(af_scope_init(&b, root), AF_OK);
    ck_assert_int_eq(af_tmpl_expand_str(&a, "{{fresh.state}}", &s1, NULL, NULL), AF_OK);
    ck_assert_int_eq(af_tmpl_expand_str(&a, "{{fresh.state}}", &s2, NULL, NULL), AF_OK);
    ck_assert_int_eq(af_tmpl_expand_str(&b, "{{fresh.state}}", &s3, NULL, NULL), AF_OK);
    ck_assert_str_eq(s1, s2);          /* stable within a check */
    ck_assert_str_ne(s1, s3);          /* fresh for every check */
    ck_assert_uint_eq(strlen(s1), 22); /* 128 bits, base64url */
    ck_assert_int_eq(af_tmpl_expand_str(&a, "{{pkce.verifier}}", &ver, NULL, NULL), AF_OK);
    ck_assert_int_eq(af_tmpl_expand_str(&a, "{{pkce.challenge}}", &ch, NULL, NULL), AF_OK);
    ck_assert(af_pkce_verifier_valid(ver)); /* RFC 7636 §4.1 */
    ck_assert_int_eq(af_pkce_s256(ver, &want), AF_OK);
    ck_assert_str_eq(ch, af_buf_str(&want)); /* RFC 7636 §4.2 */
    free(ver);
    free(ch);
    ck_assert_int_eq(af_tmpl_expand_str(&a, "{{pkce.other.verifier}}", &ver, NULL, NULL), AF_OK);
    ck_assert_int_eq(af_tmpl_expand_str(&a, "{{pkce.verifier}}", &ch, NULL, NULL), AF_OK);
    ck_assert_str_ne(ver, ch); /* named pairs are independent */
    free(s1);
    free(s2);
    free(s3);
    free(ver);
    free(ch);
    af_buf_free(&want);
    af_scope_clear(&a);
    af_scope_clear(&b);
    json_decref(root);
}
END_TEST

START_TEST(test_tmpl_json_and_binds)
{
    json_t *root = tmpl_root();
    struct af_scope sc;
    json_t *in = json_pack("{s:s, s:s, s:[s, s], s:i}", "a", "{{target.name}}", "drop",
                           "{{?vars.nope}}", "list", "{{?vars.nope}}", "x", "n", 7);
    json_t *out = NULL, *saved = NULL, *bind = json_pack("{s:s}", "client", "target.clients.other");
    struct af_err e;
    char *s = NULL;

    ck_assert_int_eq(af_scope_init(&sc, root), AF_OK);
    ck_assert_int_eq(af_tmpl_expand_json(&sc, in, &out, NULL), AF_OK);
    ck_assert_str_eq(json_string_value(json_object_get(out, "a")), "demo");
    ck_assert_ptr_null(json_object_get(out, "drop"));
    ck_assert_uint_eq(json_array_size(json_object_get(out, "list")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(out, "n")), 7);
    /* A binding to a client the profile lacks: skip (§7.3). */
    ck_assert_int_eq(af_scope_bind_push(&sc, bind, &saved, NULL), AF_OK);
    af_err_clear(&e);
    ck_assert_int_eq(af_tmpl_expand_str(&sc, "{{client.id}}", &s, NULL, &e), AF_ERR_NOTFOUND);
    ck_assert_ptr_nonnull(strstr(e.msg, "target.clients.other.id"));
    af_scope_bind_pop(&sc, saved);
    json_decref(bind);
    json_decref(out);
    json_decref(in);
    af_scope_clear(&sc);
    json_decref(root);
}
END_TEST

/* Whole references in JSON keep the variable's type (the admin API wants
 * "ttl": 60, a status list stays a list); a binding may carry defaults and
 * a templated path (docs/suite-format.md §7.3, §7.5). */
static const struct {
    const char *in;   /* a JSON value to expand */
    af_rc rc;         /* expected status */
    const char *want; /* the expansion as compact JSON (rc AF_OK) */
} wholeref_cases[] = {
    {"\"{{vars.n}}\"", AF_OK, "42"},
    {"\"{{vars.yes}}\"", AF_OK, "true"},
    {"\"{{vars.obj}}\"", AF_OK, "{\"a\": \"b\"}"},
    {"\"{{meta.algs}}\"", AF_OK, "[\"RS256\", \"ES256\"]"},
    {"\"n={{vars.n}}\"", AF_OK, "\"n=42\""},       /* not whole: text */
    {"\"{{vars.n | upper}}\"", AF_OK, "\"42\""},   /* a filter makes text */
    {"\"{{vars.greet}}\"", AF_OK, "\"hi demo\""},  /* a profile string is still expanded */
    {"\"{{res.b}}\"", AF_OK, "\"from-defaults\""}, /* binding defaults */
    {"\"{{res.a}}\"", AF_OK, "\"own\""},           /* the element wins */
    {"\"{{res}}\"", AF_OK, "{\"a\": \"own\", \"owner\": \"main\"}"},
    {"\"{{res.c}}\"", AF_ERR_NOTFOUND, NULL}, /* in neither: skip */
    {"\"{{who.id}}\"", AF_OK, "\"cid\""},     /* templated binding path */
    {"{\"k\": \"{{?vars.nope}}\", \"l\": [\"{{?vars.nope}}\", \"{{vars.n}}\"]}", AF_OK,
     "{\"l\": [42]}"},
    {"\"{{?vars.nope}}\"", AF_OK, "null"}, /* omitted altogether */
    {"\"{{vars.loop}}\"", AF_ERR_INVALID, NULL},
};

START_TEST(test_tmpl_whole_ref)
{
    json_t *root = tmpl_root(), *out = NULL, *in, *saved1 = NULL, *saved2 = NULL;
    json_t *b1 =
        json_pack("{s:{s:s, s:s}}", "res", "path", "target.list[0]", "defaults", "vars.defs");
    json_t *b2 = json_pack("{s:s}", "who", "target.clients.{{res.owner}}");
    struct af_scope sc;
    struct af_err e;
    char *got = NULL;
    af_rc rc;

    json_object_set_new(json_object_get(root, "target"), "list",
                        json_pack("[{s:s, s:s}]", "a", "own", "owner", "main"));
    json_object_set_new(json_object_get(root, "vars"), "defs",
                        json_pack("{s:s, s:s}", "a", "default-a", "b", "from-defaults"));
    ck_assert_int_eq(af_scope_init(&sc, root), AF_OK);
    af_err_clear(&e);
    ck_assert_int_eq(af_scope_bind_push(&sc, b1, &saved1, &e), AF_OK);
    ck_assert_int_eq(af_scope_bind_push(&sc, b2, &saved2, &e), AF_OK);
    in = json_loads(wholeref_cases[_i].in, JSON_DECODE_ANY, NULL);
    ck_assert_ptr_nonnull(in);
    rc = af_tmpl_expand_json(&sc, in, &out, &e);
    ck_assert_msg(rc == wholeref_cases[_i].rc, "%s: %s (%s)", wholeref_cases[_i].in, af_rc_str(rc),
                  e.msg);
    if (rc == AF_OK) {
        got = json_dumps(out ? out : json_null(), JSON_ENCODE_ANY | JSON_SORT_KEYS);
        ck_assert_msg(got != NULL && strcmp(got, wholeref_cases[_i].want) == 0, "%s -> %s",
                      wholeref_cases[_i].in, got ? got : "(null)");
    }
    free(got);
    json_decref(out);
    json_decref(in);
    af_scope_bind_pop(&sc, saved2);
    af_scope_bind_pop(&sc, saved1);
    af_scope_clear(&sc);
    json_decref(b1);
    json_decref(b2);
    json_decref(root);
}
END_TEST

/* A binding whose templated path does not expand is refused and leaves the
 * bindings as they were. */
START_TEST(test_bind_template_undefined)
{
    json_t *root = tmpl_root(), *saved = NULL;
    json_t *b = json_pack("{s:s}", "who", "target.clients.{{vars.nobody}}");
    struct af_scope sc;
    struct af_err e;
    char *s = NULL;
    ck_assert_int_eq(af_scope_init(&sc, root), AF_OK);
    af_err_clear(&e);
    ck_assert_int_eq(af_scope_bind_push(&sc, b, &saved, &e), AF_ERR_NOTFOUND);
    ck_assert_ptr_null(saved);
    ck_assert_ptr_nonnull(strstr(e.msg, "vars.nobody"));
    af_err_clear(&e);
    ck_assert_int_ne(af_tmpl_expand_str(&sc, "{{who.id}}", &s, NULL, &e), AF_OK);
    af_scope_clear(&sc);
    json_decref(b);
    json_decref(root);
}
END_TEST

/* af_target_expand: the profile alone, before any run (--start-authflowd). */
START_TEST(test_target_expand)
{
    struct af_target *t = NULL;
    struct af_params vars;
    struct af_err e;
    char *out = NULL;
    af_err_clear(&e);
    af_params_init(&vars, 4);
    ck_assert_int_eq(af_params_add(&vars, "port", "9100"), AF_OK);
    ck_assert_int_eq(af_target_load_string("{\"issuer\": \"http://127.0.0.1:{{vars.port}}\", "
                                           "\"vars\": {\"port\": \"9000\"}, \"admin\": {\"url\": "
                                           "\"http://127.0.0.1:9001\"}}",
                                           "p.json", &t, &e),
                     AF_OK);
    ck_assert_int_eq(af_target_expand(t, NULL, "{{target.issuer}}", &out, &e), AF_OK);
    ck_assert_str_eq(out, "http://127.0.0.1:9000");
    free(out);
    ck_assert_int_eq(af_target_expand(t, &vars, "{{target.issuer}}", &out, &e), AF_OK);
    ck_assert_str_eq(out, "http://127.0.0.1:9100"); /* --var wins over the profile */
    free(out);
    ck_assert_int_eq(af_target_expand(t, NULL, "{{?target.admin.secret}}", &out, &e), AF_OK);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(af_target_expand(t, NULL, "{{target.nothing}}", &out, &e), AF_ERR_NOTFOUND);
    af_params_free(&vars);
    af_target_free(t);
}
END_TEST

/* Variables merge key by key (issue: a profile's "vars" once replaced the
 * suite's objects of defaults wholesale, and 22 checks lost their
 * settings). */
START_TEST(test_json_merge)
{
    json_t *base = json_pack("{s:{s:[i], s:s, s:{s:i}}, s:s}", "resource", "deny_status", 403,
                             "method", "GET", "status", "min", 400, "scope", "openid");
    json_t *over = json_pack("{s:{s:[i], s:{s:i}}, s:s}", "resource", "deny_status", 401, "status",
                             "max", 499, "api", "http://127.0.0.1:3000");
    json_t *bad = json_pack("{s:s}", "resource", "http://x");
    struct af_err e;
    char *dump;
    af_err_clear(&e);
    ck_assert_int_eq(af_json_merge(base, over, "vars", &e), AF_OK);
    dump = json_dumps(base, JSON_SORT_KEYS | JSON_COMPACT);
    ck_assert_str_eq(dump, "{\"api\":\"http://127.0.0.1:3000\",\"resource\":{\"deny_status\":[401],"
                           "\"method\":\"GET\",\"status\":{\"max\":499,\"min\":400}},"
                           "\"scope\":\"openid\"}");
    free(dump);
    /* a string where the defaults are an object: refused, naming the key */
    ck_assert_int_eq(af_json_merge(base, bad, "vars", &e), AF_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(e.msg, "vars.resource is a string"));
    /* dotted --var names */
    ck_assert_int_eq(af_json_set_path(base, "resource.method", json_string("POST"), "vars", &e),
                     AF_OK);
    ck_assert_str_eq(json_string_value(af_json_path(base, "resource.method")), "POST");
    ck_assert_int_eq(af_json_set_path(base, "new.deep.name", json_string("v"), "vars", &e), AF_OK);
    ck_assert_str_eq(json_string_value(af_json_path(base, "new.deep.name")), "v");
    ck_assert_int_eq(af_json_set_path(base, "scope", json_string("openid email"), "vars", &e),
                     AF_OK);
    ck_assert_int_eq(af_json_set_path(base, "resource", json_string("x"), "vars", &e),
                     AF_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(e.msg, "vars.resource is an object of defaults"));
    ck_assert_int_eq(af_json_set_path(base, "scope.x", json_string("x"), "vars", &e),
                     AF_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(e.msg, "vars.scope is a string, not an object"));
    ck_assert_int_eq(af_json_set_path(base, "a..b", json_string("x"), "vars", &e), AF_ERR_INVALID);
    ck_assert_int_eq(af_json_set_path(base, "caf\xe9", json_string("x"), "vars", &e),
                     AF_ERR_INVALID);
    ck_assert_ptr_null(json_object_get(base, "a"));
    json_decref(bad);
    json_decref(over);
    json_decref(base);
}
END_TEST

/* forge: each attacker token is what it claims to be, checked by decoding
 * and, where a key exists, by verifying with the JOSE module. */
static char *forge_json(const char *spec_json, const char *from)
{
    json_t *spec = json_loads(spec_json, 0, NULL);
    char *out = NULL;
    struct af_err e;
    ck_assert_ptr_nonnull(spec);
    ck_assert_int_eq(json_object_set_new(spec, "from", json_string(from)), 0);
    af_err_clear(&e);
    ck_assert_msg(af_forge(spec, &out, &e) == AF_OK, "%s: %s", spec_json, e.msg);
    json_decref(spec);
    return out;
}

START_TEST(test_forge)
{
    struct af_key *k = NULL, *hk = NULL, *ek = NULL;
    struct af_jws *j = NULL;
    json_t *claims = json_pack("{s:s, s:I}", "sub", "alice", "exp", (json_int_t)2000000000);
    char *real = NULL, *t, *pem = NULL, *dot;
    json_t *jwk = NULL;
    struct af_err e;
    af_err_clear(&e);
    ck_assert_int_eq(af_key_generate(AF_ALG_ES256, &k, &e), AF_OK);
    ck_assert_int_eq(af_jwt_sign(k, "JWT", claims, &real, &e), AF_OK);

    /* alg none, signature dropped: header changed, payload byte for byte */
    t = forge_json("{\"header\": {\"alg\": \"nOnE\"}, \"signature\": \"drop\"}", real);
    ck_assert_int_eq(t[strlen(t) - 1], '.');
    ck_assert_int_eq(af_jws_parse(t, &j, &e), AF_OK);
    ck_assert_str_eq(af_jws_alg_str(j), "nOnE");
    ck_assert_str_eq(strchr(t, '.') + 1 == NULL ? "" : "ok", "ok");
    dot = strchr(real, '.');
    ck_assert_int_eq(strncmp(strchr(t, '.'), dot, (size_t)(strrchr(real, '.') - dot)), 0);
    af_jws_free(j);
    free(t);

    /* claims changed, the real signature kept: it no longer verifies */
    t = forge_json("{\"claims\": {\"sub\": \"bob\"}, \"shift\": {\"exp\": 86400}}", real);
    ck_assert_int_eq(af_jws_parse(t, &j, &e), AF_OK);
    ck_assert_str_eq(json_string_value(json_object_get(af_jws_claims(j), "sub")), "bob");
    ck_assert_int_eq(json_integer_value(json_object_get(af_jws_claims(j), "exp")),
                     2000000000 + 86400);
    ck_assert_str_eq(strrchr(t, '.'), strrchr(real, '.'));
    ck_assert_int_ne(af_jws_verify(j, k, &e), AF_OK);
    af_jws_free(j);
    free(t);

    /* the psychic signature: 64 zero bytes */
    t = forge_json("{\"signature\": \"zero\"}", real);
    ck_assert_str_eq(
        strrchr(t, '.') + 1,
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    free(t);

    /* HS256 under a guessed secret verifies with that secret */
    t = forge_json("{\"sign\": {\"hs256\": \"your-256-bit-secret\"}}", real);
    ck_assert_int_eq(af_key_from_secret((const unsigned char *)"your-256-bit-secret", 19, &hk, &e),
                     AF_OK);
    ck_assert_int_eq(af_jws_parse(t, &j, &e), AF_OK);
    ck_assert_str_eq(af_jws_alg_str(j), "HS256");
    ck_assert_msg(af_jws_verify(j, hk, &e) == AF_OK, "%s", e.msg);
    af_jws_free(j);
    af_key_free(hk);
    hk = NULL;
    free(t);

    /* HS256 keyed with the public key's PEM text (algorithm confusion) */
    ck_assert_int_eq(af_key_public_jwk(k, &jwk), AF_OK);
    ck_assert_int_eq(af_key_public_pem(k, &pem), AF_OK);
    {
        char *js = json_dumps(jwk, JSON_COMPACT), buf[2048];
        snprintf(buf, sizeof(buf), "{\"sign\": {\"hs256_pem_of\": %s}}", js);
        t = forge_json(buf, real);
        free(js);
    }
    ck_assert_int_eq(af_key_from_secret((const unsigned char *)pem, strlen(pem), &hk, &e), AF_OK);
    ck_assert_int_eq(af_jws_parse(t, &j, &e), AF_OK);
    ck_assert_msg(af_jws_verify(j, hk, &e) == AF_OK, "%s", e.msg);
    af_jws_free(j);
    free(t);

    /* an embedded key: the header's jwk verifies the token, the real key does not */
    t = forge_json("{\"sign\": {\"embedded\": \"RS256\"}}", real);
    ck_assert_int_eq(af_jws_parse(t, &j, &e), AF_OK);
    ck_assert_str_eq(af_jws_alg_str(j), "RS256");
    ck_assert_int_eq(af_key_from_jwk(json_object_get(af_jws_header(j), "jwk"), &ek, &e), AF_OK);
    ck_assert_msg(af_jws_verify(j, ek, &e) == AF_OK, "%s", e.msg);
    ck_assert_str_eq(json_string_value(json_object_get(af_jws_claims(j), "sub")), "alice");
    af_jws_free(j);
    free(t);

    /* kid injection signed with the empty key */
    t = forge_json("{\"header\": {\"kid\": \"../../../../dev/null\"}, \"sign\": "
                   "{\"hs256\": \"\"}}",
                   real);
    ck_assert_int_eq(af_jws_parse(t, &j, &e), AF_OK);
    ck_assert_str_eq(json_string_value(json_object_get(af_jws_header(j), "kid")),
                     "../../../../dev/null");
    ck_assert_str_eq(af_jws_alg_str(j), "HS256");
    af_jws_free(j);
    free(t);

    /* not a JWS: nothing to forge from (the check's premise) */
    {
        json_t *spec = json_pack("{s:s, s:s}", "from", "opaque-token", "signature", "drop");
        char *o = NULL;
        ck_assert_int_eq(af_forge(spec, &o, &e), AF_ERR_PARSE);
        ck_assert_ptr_nonnull(strstr(e.msg, "not a compact JWS"));
        json_decref(spec);
        spec = json_pack("{s:s, s:s}", "from", real, "signature", "maybe");
        ck_assert_int_eq(af_forge(spec, &o, &e), AF_ERR_INVALID);
        json_decref(spec);
    }
    json_decref(jwk);
    free(pem);
    af_key_free(ek);
    af_key_free(hk);
    af_key_free(k);
    free(real);
    json_decref(claims);
}
END_TEST

/* forge_spec: spec_json with "from" set to from (caller decrefs). */
static json_t *forge_spec(const char *spec_json, const char *from)
{
    json_t *spec = json_loads(spec_json, 0, NULL);
    ck_assert_ptr_nonnull(spec);
    ck_assert_int_eq(json_object_set_new(spec, "from", json_string(from)), 0);
    return spec;
}

/* The identity swap of API-29: a claim at a path, re-signed with the
 * secret guessed offline from the real token's own signature. */
START_TEST(test_forge_guess_claim_path)
{
    struct af_key *hk = NULL, *ek = NULL;
    struct af_jws *j = NULL;
    json_t *claims = json_pack("{s:{s:i}}", "user", "id", 1), *spec;
    char *real = NULL, *ec = NULL, *t = NULL;
    struct af_err e;
    af_err_clear(&e);
    ck_assert_int_eq(af_key_from_secret((const unsigned char *)"changeme", 8, &hk, &e), AF_OK);
    ck_assert_int_eq(af_jwt_sign(hk, "JWT", claims, &real, &e), AF_OK);

    spec = forge_spec("{\"claim_path\": {\"path\": \"user.id\", \"value\": 2}, "
                      "\"sign\": {\"hs256_guess\": [\"secret\", \"\", \"changeme\"]}}",
                      real);
    ck_assert_msg(af_forge(spec, &t, &e) == AF_OK, "%s", e.msg);
    ck_assert_int_eq(af_jws_parse(t, &j, &e), AF_OK);
    ck_assert_msg(af_jws_verify(j, hk, &e) == AF_OK, "re-signed with the guessed secret: %s",
                  e.msg);
    ck_assert_int_eq(json_integer_value(af_json_path(af_jws_claims(j), "user.id")), 2);
    af_jws_free(j);
    free(t);
    json_decref(spec);

    /* no secret of the list gives the signature: NOTFOUND, no token */
    spec = forge_spec("{\"sign\": {\"hs256_guess\": [\"secret\", \"key\"]}}", real);
    t = NULL;
    ck_assert_int_eq(af_forge(spec, &t, &e), AF_ERR_NOTFOUND);
    ck_assert_ptr_null(t);
    json_decref(spec);

    /* an ES256 token has no secret to guess */
    ck_assert_int_eq(af_key_generate(AF_ALG_ES256, &ek, &e), AF_OK);
    ck_assert_int_eq(af_jwt_sign(ek, "JWT", claims, &ec, &e), AF_OK);
    spec = forge_spec("{\"sign\": {\"hs256_guess\": [\"changeme\"]}}", ec);
    ck_assert_int_eq(af_forge(spec, &t, &e), AF_ERR_NOTFOUND);
    ck_assert_ptr_nonnull(strstr(e.msg, "not HS256"));
    json_decref(spec);

    /* the signature kept, the claim at a new path made on the way */
    spec = forge_spec("{\"claim_path\": {\"path\": \"a.b\", \"value\": \"x\"}}", real);
    ck_assert_int_eq(af_forge(spec, &t, &e), AF_OK);
    ck_assert_int_eq(af_jws_parse(t, &j, &e), AF_OK);
    ck_assert_str_eq(json_string_value(af_json_path(af_jws_claims(j), "a.b")), "x");
    ck_assert_str_eq(strrchr(t, '.'), strrchr(real, '.'));
    af_jws_free(j);
    free(t);
    json_decref(spec);
    free(real);
    free(ec);
    af_key_free(hk);
    af_key_free(ek);
    json_decref(claims);
}
END_TEST

/* rs256_verifies: the compact JWS t verifies under pkey (RS256). */
static bool rs256_verifies(const char *t, EVP_PKEY *pkey)
{
    const char *last = strrchr(t, '.');
    struct af_buf sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok;
    af_buf_init(&sig, 4096);
    ok = md != NULL && af_b64url_decode(&sig, last + 1, strlen(last + 1)) == AF_OK &&
         EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1 &&
         EVP_DigestVerify(md, (const unsigned char *)af_buf_str(&sig), sig.len,
                          (const unsigned char *)t, (size_t)(last - t)) == 1;
    EVP_MD_CTX_free(md);
    af_buf_free(&sig);
    return ok;
}

/* jku and x5u (API-27): the header points at the URL given, and the
 * document to serve there holds the key that signed the token. */
START_TEST(test_forge_served)
{
    struct af_key *k = NULL, *sk = NULL;
    struct af_jws *j = NULL;
    json_t *claims = json_pack("{s:s}", "sub", "alice"), *spec, *set;
    char *real = NULL, *t = NULL, *doc = NULL;
    const char *url = "http://127.0.0.1:9/authprobe-x/jwks.json";
    struct af_err e;
    BIO *bio;
    X509 *x;

    af_err_clear(&e);
    ck_assert_int_eq(af_key_generate(AF_ALG_ES256, &k, &e), AF_OK);
    ck_assert_int_eq(af_jwt_sign(k, "JWT", claims, &real, &e), AF_OK);

    spec = forge_spec("{\"sign\": {\"jku\": \"RS256\"}}", real);
    ck_assert_str_eq(af_forge_serves(spec), "jku");
    ck_assert_int_eq(af_forge(spec, &t, &e), AF_ERR_INVALID); /* no URL to point at */
    ck_assert_msg(af_forge_served(spec, url, &t, &doc, &e) == AF_OK, "%s", e.msg);
    ck_assert_int_eq(af_jws_parse(t, &j, &e), AF_OK);
    ck_assert_str_eq(af_jws_alg_str(j), "RS256");
    ck_assert_str_eq(json_string_value(json_object_get(af_jws_header(j), "jku")), url);
    set = json_loads(doc, 0, NULL);
    ck_assert_int_eq(af_jwks_find(set, json_string_value(json_object_get(af_jws_header(j), "kid")),
                                  "RS256", &sk, &e),
                     AF_OK);
    ck_assert_msg(af_jws_verify(j, sk, &e) == AF_OK, "the served set's key: %s", e.msg);
    ck_assert_int_ne(af_jws_verify(j, k, &e), AF_OK);
    af_jws_free(j);
    json_decref(set);
    af_key_free(sk);
    free(t);
    free(doc);
    json_decref(spec);

    spec = forge_spec("{\"sign\": {\"x5u\": \"RS256\"}}", real);
    ck_assert_str_eq(af_forge_serves(spec), "x5u");
    ck_assert_int_eq(af_forge_served(spec, url, &t, &doc, &e), AF_OK);
    ck_assert_int_eq(strncmp(doc, "-----BEGIN CERTIFICATE-----", 27), 0);
    ck_assert_int_eq(af_jws_parse(t, &j, &e), AF_OK);
    ck_assert_str_eq(json_string_value(json_object_get(af_jws_header(j), "x5u")), url);
    ck_assert_ptr_null(json_object_get(af_jws_header(j), "kid"));
    bio = BIO_new_mem_buf(doc, -1);
    x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(X509_verify(x, X509_get0_pubkey(x)), 1); /* self-signed */
    ck_assert_msg(rs256_verifies(t, X509_get0_pubkey(x)), "the certificate's key signed it");
    X509_free(x);
    BIO_free(bio);
    af_jws_free(j);
    free(t);
    free(doc);
    json_decref(spec);
    ck_assert_ptr_null(af_forge_serves(json_object_get(claims, "sub")));
    free(real);
    af_key_free(k);
    json_decref(claims);
}
END_TEST

static size_t into_buf(char *p, size_t sz, size_t n, void *ud)
{
    return af_buf_add(ud, p, sz * n) == AF_OK ? sz * n : 0;
}

/* get: GET url, the body into b; the status. */
static long get(const char *url, struct af_buf *b)
{
    CURL *h = curl_easy_init();
    long status = 0;
    af_buf_reset(b);
    ck_assert_ptr_nonnull(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, into_buf);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "check-serve");
    ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    return status;
}

/* The probe's loopback server: 127.0.0.1, the document at its URL, and a
 * log that counts every request but its own. */
START_TEST(test_serve)
{
    struct af_serve *s = NULL;
    struct af_buf b;
    struct af_err e;
    char *url = NULL, *other = NULL;
    json_t *log;
    af_err_clear(&e);
    af_buf_init(&b, 64 * 1024);
    ck_assert_msg(af_serve_start(&s, &e) == AF_OK, "%s", e.msg);
    ck_assert_int_eq(strncmp(af_serve_log_url(s), "http://127.0.0.1:", 17), 0);
    ck_assert_int_eq(af_serve_url(s, "jwks.json", &url), AF_OK);
    ck_assert_int_eq(af_serve_put(s, "jwks.json", "application/jwk-set+json", "{\"keys\":[]}"),
                     AF_OK);
    ck_assert_int_eq(get(af_serve_log_url(s), &b), 200);
    log = json_loads(af_buf_str(&b), 0, NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(log, "count")), 0);
    json_decref(log);
    ck_assert_int_eq(get(url, &b), 200);
    ck_assert_str_eq(af_buf_str(&b), "{\"keys\":[]}");
    ck_assert_int_eq(asprintf(&other, "%s.bak", url) > 0, 1);
    ck_assert_int_eq(get(other, &b), 404);
    ck_assert_int_eq(get(af_serve_log_url(s), &b), 200);
    log = json_loads(af_buf_str(&b), 0, NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(log, "count")), 2);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(log, "requests"), 0), "user_agent")),
                     "check-serve");
    json_decref(log);
    af_serve_stop(s);
    af_serve_stop(NULL);
    free(url);
    free(other);
    af_buf_free(&b);
}
END_TEST

static const struct {
    const char *name;
    bool ok;
} varname_cases[] = {
    {"code", true},    {"a.code", true},   {"vars.scope", true}, {"rt-2_b", true},
    {"fresh", false},  {"fresh.x", false}, {"pkce.v", false},    {"meta.x", false},
    {"target", false}, {"env.X", false},   {"now", false},       {"", false},
    {"a..b", false},   {"a.", false},      {"a b", false},       {"a[0]", false},
};

START_TEST(test_var_names)
{
    const char *why = NULL;
    ck_assert_int_eq(af_var_name_valid(varname_cases[_i].name, &why), varname_cases[_i].ok);
    if (!varname_cases[_i].ok)
        ck_assert_ptr_nonnull(why);
}
END_TEST

/* ---- HTML forms ---- */

static const char form_html[] =
    "<html><head><script>var s = '<form action=\"/evil\">';</script>"
    "<style>form{}</style></head><body>"
    "<!-- <form action=\"/commented\"><input name=\"x\"></form> -->"
    "<form id=\"login\" method=\"post\" action=\"/login?a=1&amp;b=2\">"
    "<input type=\"hidden\" name=\"state\" value=\"a&amp;b&#x3D;&#61;&quot;\">"
    "<input name=username value='al ice'>"
    "<input type=\"password\" name=\"password\">"
    "<input type=\"checkbox\" name=\"remember\" checked>"
    "<input type=\"checkbox\" name=\"spam\" value=\"yes\">"
    "<input type=\"radio\" name=\"r\" value=\"1\"><input type=\"radio\" name=\"r\" value=\"2\" "
    "checked>"
    "<input type=\"text\" name=\"gone\" value=\"x\" disabled>"
    "<select name=\"lang\"><option value=\"en\">English<option value=\"fr\" selected>French"
    "</select>"
    "<select name=\"first\"><option>One</option><option>Two</option></select>"
    "<textarea name=\"note\">line &lt;1&gt;</textarea>"
    "<button type=\"submit\" name=\"user\" value=\"alice\">Alice</button>"
    "<button name=\"user\" value=\"bob\">Bob</button>"
    "<button type=\"button\" name=\"noop\" value=\"1\">x</button>"
    "<input type=\"submit\" name=\"af_action\" value=\"login\">"
    "</form>"
    "<FORM NAME=second ACTION=/two><INPUT NAME=q VALUE=v></FORM>"
    "<form><input name=\"plain\"></form>"
    "<a href=\"/cancel?x=1&amp;y=2\"> [ <b>Cancel</b> ] </a><a name=\"anchor\">no href</a>"
    "</body></html>";

START_TEST(test_html_forms)
{
    struct af_form *f = NULL;
    struct af_link *l = NULL;
    size_t n = 0, nl = 0;

    ck_assert_int_eq(af_html_forms(form_html, strlen(form_html), &f, &n), AF_OK);
    ck_assert_uint_eq(n, 3); /* not the commented one, not the one in the script */
    ck_assert_str_eq(f[0].id, "login");
    ck_assert_str_eq(f[0].method, "POST");
    ck_assert_str_eq(f[0].action, "/login?a=1&b=2");
    ck_assert_str_eq(af_params_get(&f[0].fields, "state"), "a&b==\"");
    ck_assert_str_eq(af_params_get(&f[0].fields, "username"), "al ice");
    ck_assert_str_eq(af_params_get(&f[0].fields, "password"), "");
    ck_assert_str_eq(af_params_get(&f[0].fields, "remember"), "on");
    ck_assert_ptr_null(af_params_get(&f[0].fields, "spam"));
    ck_assert_str_eq(af_params_get(&f[0].fields, "r"), "2");
    ck_assert_ptr_null(af_params_get(&f[0].fields, "gone"));
    ck_assert_str_eq(af_params_get(&f[0].fields, "lang"), "fr");
    ck_assert_str_eq(af_params_get(&f[0].fields, "first"), "One");
    ck_assert_str_eq(af_params_get(&f[0].fields, "note"), "line <1>");
    ck_assert_ptr_null(af_params_get(&f[0].fields, "user")); /* buttons are not fields */
    ck_assert_uint_eq(f[0].buttons.n, 3);                    /* alice, bob, af_action */
    ck_assert_str_eq(f[0].buttons.v[1].value, "bob");
    ck_assert_str_eq(af_params_get(&f[0].buttons, "af_action"), "login");
    ck_assert_ptr_null(af_params_get(&f[0].buttons, "noop"));
    ck_assert_str_eq(f[1].name, "second");
    ck_assert_str_eq(f[1].method, "GET");
    ck_assert_str_eq(f[1].action, "/two");
    ck_assert_str_eq(af_params_get(&f[1].fields, "q"), "v");
    ck_assert_str_eq(f[2].action, "");
    ck_assert_int_eq(af_html_links(form_html, strlen(form_html), &l, &nl), AF_OK);
    ck_assert_uint_eq(nl, 1);
    ck_assert_str_eq(l[0].href, "/cancel?x=1&y=2");
    ck_assert_str_eq(l[0].text, "[ Cancel ]");
    af_html_forms_free(f, n);
    af_html_links_free(l, nl);
}
END_TEST

START_TEST(test_html_broken)
{
    static const char *const bad[] = {"<form",
                                      "<form action=\"/x",
                                      "<<<>>><form><input name=",
                                      "<form><select name=s><option",
                                      "<textarea name=t>open",
                                      "&#xFFFFFFFF; &#; &; <a href=x>"};
    size_t i;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct af_form *f = NULL;
        size_t n = 99;
        ck_assert_int_eq(af_html_forms(bad[i], strlen(bad[i]), &f, &n), AF_OK);
        ck_assert_uint_le(n, 1);
        af_html_forms_free(f, n);
    }
}
END_TEST

/* ---- in-memory hops for selectors and expectations ---- */

static void hop_make(struct af_hop *h, long status, const char *url, const char *const *hdrs,
                     const char *body)
{
    size_t i;
    af_hop_init(h);
    h->method = strdup("GET");
    h->url = strdup(url);
    h->status = status;
    af_buf_init(&h->body, 1 << 20);
    for (i = 0; hdrs != NULL && hdrs[i] != NULL; i += 2)
        ck_assert_int_eq(af_params_add(&h->headers, hdrs[i], hdrs[i + 1]), AF_OK);
    if (body != NULL)
        ck_assert_int_eq(af_buf_adds(&h->body, body), AF_OK);
}

/* hop 0: a successful authorization response; 1: a JSON token error;
 * 2: a form_post page; 3: an error redirect with a bad error code and a
 * duplicated state; 4: a token response with secrets. */
static struct af_hop ex_hops[5];

static void hops_setup(void)
{
    static const char *const h0[] = {
        "Location",
        "https://client.example/cb?code=abc&state=s1&iss=https%3A%2F%2Fas.example",
        "Cache-Control",
        "no-store, private",
        "X-Multi",
        "a",
        "X-Multi",
        "b",
        NULL};
    static const char *const h1[] = {"Content-Type", "application/json", "Pragma", "no-cache",
                                     NULL};
    static const char *const h2[] = {"Content-Type", "text/html; charset=utf-8", NULL};
    static const char *const h3[] = {
        "Location", "https://client.example/cb?error=bad%22x&state=s1&state=s2#frag=1", NULL};
    static const char *const h4[] = {"Content-Type", "application/json", NULL};
    hop_make(&ex_hops[0], 302, "https://as.example/authorize?x=1", h0, "");
    hop_make(&ex_hops[1], 400, "https://as.example/token", h1,
             "{\"error\":\"invalid_grant\",\"n\":5,\"arr\":[\"S256\",\"plain\"],\"obj\":{\"a\":1},"
             "\"f\":2.0}");
    hop_make(&ex_hops[2], 200, "https://as.example/authorize", h2,
             "<form method=\"post\" action=\"https://client.example/cb\">"
             "<input type=\"hidden\" name=\"code\" value=\"fp1\">"
             "<input type=\"hidden\" name=\"state\" value=\"s1\"></form>");
    hop_make(&ex_hops[3], 303, "https://as.example/login", h3, NULL);
    hop_make(&ex_hops[4], 200, "https://as.example/token", h4,
             "{\"access_token\":\"abcdefghijkl\",\"token_type\":\"Bearer\"}");
    ex_hops[3].method[0] = 'P'; /* "PET": irrelevant, shows method is read */
}

static void hops_teardown(void)
{
    size_t i;
    for (i = 0; i < 5; i++)
        af_hop_clear(&ex_hops[i]);
}

static const struct {
    const char *sel;
    int hop;
    const char *json; /* the value as compact JSON; NULL: absent */
} sel_cases[] = {
    {"status", 0, "302"},
    {"url", 0, "\"https://as.example/authorize?x=1\""},
    {"method", 0, "\"GET\""},
    {"header.cache-control", 0, "\"no-store, private\""},
    {"header.X-Multi", 0, "\"a, b\""},
    {"header.Nope", 0, NULL},
    {"location", 0, "\"https://client.example/cb?code=abc&state=s1&iss=https%3A%2F%2Fas.example\""},
    {"location.base", 0, "\"https://client.example/cb\""},
    {"location.query.code", 0, "\"abc\""},
    {"location.query.iss", 0, "\"https://as.example\""},
    {"location.query", 0, "{\"code\":\"abc\",\"state\":\"s1\",\"iss\":\"https://as.example\"}"},
    {"location.fragment.frag", 3, "\"1\""},
    {"location.query.state", 3, "\"s1\""},
    {"location", 1, NULL},
    {"params.code", 0, "\"abc\""},
    {"params.frag", 3, "\"1\""},
    {"params.code", 2, "\"fp1\""},
    {"params", 2, "{\"code\":\"fp1\",\"state\":\"s1\"}"},
    {"params", 1, NULL},
    {"json.error", 1, "\"invalid_grant\""},
    {"json.arr[1]", 1, "\"plain\""},
    {"json.obj.a", 1, "1"},
    {"json.obj.b", 1, NULL},
    {"json", 0, NULL},
    {"body", 2, NULL}, /* checked separately: long */
    {"form.action", 2, "\"https://client.example/cb\""},
    {"form.method", 2, "\"POST\""},
    {"form.fields.state", 2, "\"s1\""},
    {"form[1].action", 2, NULL},
    {"forms", 2, "1"},
    {"forms", 1, "0"},
    {"hops", 0, "1"},
};

START_TEST(test_selectors)
{
    struct af_sel_ctx cx;
    struct af_sv v;
    struct af_err e;
    json_t *root = tmpl_root();
    struct af_scope sc;

    ck_assert_int_eq(af_scope_init(&sc, root), AF_OK);
    memset(&cx, 0, sizeof(cx));
    cx.hop = &ex_hops[sel_cases[_i].hop];
    cx.sc = &sc;
    cx.nhops = 1;
    af_err_clear(&e);
    ck_assert_int_eq(af_sel_check(sel_cases[_i].sel, &e), AF_OK);
    ck_assert_int_eq(af_sel_eval(&cx, sel_cases[_i].sel, &v, &e), AF_OK);
    if (strcmp(sel_cases[_i].sel, "body") == 0) {
        ck_assert_int_eq(v.kind, AF_SV_VALUE);
        ck_assert_ptr_nonnull(strstr(json_string_value(v.json), "fp1"));
    } else if (sel_cases[_i].json == NULL) {
        ck_assert_msg(v.kind == AF_SV_ABSENT, "%s should be absent", sel_cases[_i].sel);
    } else {
        char *d;
        ck_assert_msg(v.kind == AF_SV_VALUE, "%s should be present", sel_cases[_i].sel);
        d = json_dumps(v.json, JSON_ENCODE_ANY | JSON_COMPACT | JSON_PRESERVE_ORDER);
        ck_assert_str_eq(d, sel_cases[_i].json);
        free(d);
    }
    af_sv_clear(&v);
    af_scope_clear(&sc);
    json_decref(root);
}
END_TEST

static const struct {
    const char *sel;
    const char *why;
} bad_sel_cases[] = {
    {"parms.code", "unknown root"},   {"status.x", "takes no member"},
    {"header", "header.NAME"},        {"location.path", "location.base"},
    {"form.foo", "form.fields.NAME"}, {"json[0].x", "only form takes an index"},
    {"form[x].action", "bad index"},
};

START_TEST(test_selectors_bad)
{
    struct af_err e;
    af_err_clear(&e);
    ck_assert_int_eq(af_sel_check(bad_sel_cases[_i].sel, &e), AF_ERR_PARSE);
    ck_assert_msg(strstr(e.msg, bad_sel_cases[_i].why) != NULL, "%s: %s", bad_sel_cases[_i].sel,
                  e.msg);
}
END_TEST

/* format oidc-claims: OIDC Core §5.1's types, and the claim a failure names. */
static const struct {
    const char *obj;
    bool ok;
    const char *note; /* part of the note on failure */
} claims_cases[] = {
    {"{\"sub\": \"u1\", \"name\": \"A\", \"roles\": [1]}", true, NULL},
    {"{\"email_verified\": true, \"phone_number_verified\": false}", true, NULL},
    {"{\"email_verified\": \"true\"}", false, "email_verified \"true\" is not a boolean"},
    {"{\"phone_number_verified\": 1}", false, "phone_number_verified is an integer"},
    {"{\"updated_at\": 1765000000}", true, NULL},
    {"{\"updated_at\": 1765000000.5}", true, NULL},
    {"{\"updated_at\": \"2026-01-01T00:00:00Z\"}", false, "updated_at \"2026-01-01"},
    {"{\"address\": {\"country\": \"US\", \"x-extra\": 1}}", true, NULL},
    {"{\"address\": \"1 Main St\"}", false, "address \"1 Main St\" is not an object"},
    {"{\"address\": {\"postal_code\": 12345}}", false, "address.postal_code is an integer"},
    {"{\"birthdate\": \"1990-12-31\"}", true, NULL},
    {"{\"birthdate\": \"1990\"}", true, NULL},
    {"{\"birthdate\": \"0000-02-29\"}", true, NULL},
    {"{\"birthdate\": \"1990/12/31\"}", false, "birthdate \"1990/12/31\" is not YYYY"},
    {"{\"birthdate\": \"1990-13-01\"}", false, "birthdate"},
    {"{\"birthdate\": \"1990-00-10\"}", false, "birthdate"},
    {"{\"birthdate\": 1990}", false, "birthdate is an integer"},
    {"{\"name\": null}", false, "name is null"},
    {"{\"sub\": 7}", false, "sub is an integer"},
    {"[\"name\"]", false, "not a JSON object"},
};

START_TEST(test_claims_typed)
{
    char note[160] = "";
    json_t *o = json_loads(claims_cases[_i].obj, JSON_DECODE_ANY, NULL);
    ck_assert_ptr_nonnull(o);
    ck_assert_msg(af_claims_typed(o, note, sizeof(note)) == claims_cases[_i].ok, "%s: %s",
                  claims_cases[_i].obj, note);
    if (claims_cases[_i].note != NULL)
        ck_assert_msg(strstr(note, claims_cases[_i].note) != NULL, "%s: note \"%s\"",
                      claims_cases[_i].obj, note);
    json_decref(o);
}
END_TEST

/* The randomness bound of credential samples (entropy.h). */
static const struct {
    const char *s[6];
    double bits;
    size_t varying;
    unsigned alphabet;
} entropy_cases[] = {
    /* UUIDv4: the dashes and the version digit never vary; 31 hex digits
     * (the variant digit counted whole): 124 bits, under RFC 6749's 128 */
    {{"3f2b1c9e-8a7d-4e6f-9b1a-2c3d4e5f6a7b", "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
      "0f9e8d7c-6b5a-4c3d-a2e1-f0e9d8c7b6a5", "5a4b3c2d-1e0f-4a9b-b8c7-d6e5f4a3b2c1",
      "c0ffee00-1234-4567-89ab-cdef01234567", "deadbeef-0000-4111-9222-333344445555"},
     124.0,
     31,
     16},
    /* 43 base64url characters (256 random bits), a shared prefix "ac_" */
    {{"ac_Q2xhc3NpY2FsLXRva2VuLWZvci1hLXRlc3QtMDAx", "ac_aGVsbG8td29ybGQtdGhpcy1pcy1hLXRva2VuLTAy",
      "ac_Zm9vYmFyLWJhei1xdXV4LWNvcmdlLWdyYXVsdC0z", "ac_dGhlLXF1aWNrLWJyb3duLWZveC1qdW1wcy0wMDQ_",
      "ac_bG9yZW0taXBzdW0tZG9sb3Itc2l0LWFtZXQtMDU-", "ac_c2l4dGgtc2FtcGxlLWZvci10aGUtdGVzdC0wMDY6"},
     0,
     0,
     64},
    /* six-digit codes */
    {{"123456", "654321", "111222", "987650", "000199", "482913"}, 19.93, 6, 10},
    /* a fixed prefix and 8 hex digits of different case per sample: 8 x 4 */
    {{"code-1a2b3c4d", "code-5e6f7a8b", "code-9c0d1e2f", "code-3a4b5c6d", "code-7e8f9a0b",
      "code-1c2d3e4f"},
     32.0,
     8,
     16},
    /* different lengths: the shared prefix "t.a" and suffix ".z" are left
     * out of the longest (12): 7 characters of base64url */
    {{"t.abc.z", "t.abcdef.z", "t.a.z", "t.abcdefgh.z", "t.ab.z", "t.abcd.z"}, 42.0, 7, 64},
};

START_TEST(test_entropy_bound)
{
    struct af_entropy en;
    af_entropy_bound(entropy_cases[_i].s, 6, &en);
    ck_assert_uint_eq(en.alphabet, entropy_cases[_i].alphabet);
    if (entropy_cases[_i].varying > 0)
        ck_assert_uint_eq(en.varying, entropy_cases[_i].varying);
    if (entropy_cases[_i].bits > 0)
        ck_assert_msg(en.bits > entropy_cases[_i].bits - 0.01 &&
                          en.bits < entropy_cases[_i].bits + 0.01,
                      "bits %.2f, want %.2f", en.bits, entropy_cases[_i].bits);
    else
        ck_assert_msg(en.bits > 128, "bits %.2f", en.bits);
}
END_TEST

/* {"any": [...]} conditions: the first that holds decides; else the
 * condition's own why. */
static const struct {
    const char *conds;
    af_ex_result want;
    const char *why; /* part of the reason on failure */
} anycond_cases[] = {
    {"[{\"any\": [{\"that\": \"meta.nope\", \"present\": false}, {\"that\": \"meta.algs\", "
     "\"contains\": \"PS256\"}]}]",
     AF_EX_PASS, NULL},
    {"[{\"any\": [{\"that\": \"meta.algs\", \"present\": false}, {\"that\": \"meta.algs\", "
     "\"contains\": \"ES256\"}]}]",
     AF_EX_PASS, NULL},
    {"[{\"any\": [{\"that\": \"meta.algs\", \"present\": false}, {\"that\": \"meta.algs\", "
     "\"contains\": \"PS256\"}], \"why\": \"no PS256\"}]",
     AF_EX_FAIL, "no PS256"},
    {"[{\"any\": [{\"that\": \"meta.algs\", \"present\": false}]}, {\"that\": \"vars.n\", "
     "\"equals\": 42}]",
     AF_EX_FAIL, "meta.algs"},
};

START_TEST(test_conds_any)
{
    json_t *root = tmpl_root();
    json_t *conds = json_loads(anycond_cases[_i].conds, 0, NULL);
    struct af_scope sc;
    struct af_buf path, why;
    struct af_err e;

    ck_assert_ptr_nonnull(conds);
    ck_assert_int_eq(af_scope_init(&sc, root), AF_OK);
    af_buf_init(&path, 256);
    af_buf_init(&why, 1024);
    af_err_clear(&e);
    ck_assert_msg(af_conds_check(conds, &path, &e) == AF_OK, "%s", e.msg);
    ck_assert_int_eq(af_conds_eval(&sc, conds, false, &why), anycond_cases[_i].want);
    if (anycond_cases[_i].why != NULL)
        ck_assert_msg(strstr(af_buf_str(&why), anycond_cases[_i].why) != NULL, "why: %s",
                      af_buf_str(&why));
    af_buf_free(&path);
    af_buf_free(&why);
    af_scope_clear(&sc);
    json_decref(conds);
    json_decref(root);
}
END_TEST

START_TEST(test_conds_any_bad)
{
    static const char *const bad[][2] = {
        {"[{\"any\": []}]", "at least one condition"},
        {"[{\"any\": [{\"present\": true}]}]", "needs \"that\""},
        {"[{\"any\": [{\"that\": \"x\", \"present\": true}], \"that\": \"y\"}]", "beside \"any\""},
    };
    size_t i;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *conds = json_loads(bad[i][0], 0, NULL);
        struct af_buf path;
        struct af_err e;
        af_buf_init(&path, 256);
        af_err_clear(&e);
        ck_assert_int_ne(af_conds_check(conds, &path, &e), AF_OK);
        ck_assert_msg(strstr(e.msg, bad[i][1]) != NULL, "%s: %s", bad[i][0], e.msg);
        af_buf_free(&path);
        json_decref(conds);
    }
}
END_TEST

/* Each expectation kind, passing and failing with its exact message. */
static const struct {
    int hop;
    const char *ex;
    af_ex_result want;
    const char *msg; /* exact, for failures and skips */
} ex_cases[] = {
    /* status: exact, set, class, range */
    {0, "{\"status\": 302}", AF_EX_PASS, NULL},
    {1, "{\"status\": 200}", AF_EX_FAIL, "status: expected 200, got 400 (error=invalid_grant)"},
    {0, "{\"status\": [200, 201]}", AF_EX_FAIL,
     "status: expected one of 200, 201, got 302 to "
     "https://client.example/cb?code=[redacted 3 chars]&state=s1&iss=https%3A%2F%2Fas.example"},
    {0, "{\"status\": [301, 302]}", AF_EX_PASS, NULL},
    {1, "{\"status\": \"4xx\"}", AF_EX_PASS, NULL},
    {2, "{\"status\": \"4xx\"}", AF_EX_FAIL, "status: expected 4xx, got 200"},
    {1, "{\"status\": {\"min\": 400, \"max\": 405}}", AF_EX_PASS, NULL},
    {2, "{\"status\": {\"min\": 400, \"max\": 405}}", AF_EX_FAIL,
     "status: expected 400..405, got 200"},
    {2, "{\"status\": {\"min\": 300}}", AF_EX_FAIL, "status: expected >= 300, got 200"},
    /* headers: present, absent, equal, pattern, token */
    {0, "{\"header\": \"Cache-Control\", \"has_token\": \"no-store\"}", AF_EX_PASS, NULL},
    {1, "{\"header\": \"Cache-Control\", \"has_token\": \"no-store\"}", AF_EX_FAIL,
     "header.Cache-Control: expected token \"no-store\", got absent"},
    {0, "{\"header\": \"Cache-Control\", \"has_token\": \"no-cache\"}", AF_EX_FAIL,
     "header.Cache-Control: expected token \"no-cache\", got \"no-store, private\""},
    {0, "{\"header\": \"X-Multi\", \"equals\": \"a, b\"}", AF_EX_PASS, NULL},
    {0, "{\"header\": \"Pragma\", \"present\": false}", AF_EX_PASS, NULL},
    {1, "{\"header\": \"Pragma\", \"present\": false}", AF_EX_FAIL,
     "header.Pragma: expected no value, got \"no-cache\""},
    {1, "{\"header\": \"Pragma\", \"present\": true}", AF_EX_PASS, NULL},
    {0, "{\"header\": \"Pragma\", \"present\": true}", AF_EX_FAIL,
     "header.Pragma: expected a value, got absent"},
    {0, "{\"header\": \"Cache-Control\", \"matches\": \"^no-store\"}", AF_EX_PASS, NULL},
    {0, "{\"header\": \"Cache-Control\", \"matches\": \"^PRIVATE\"}", AF_EX_FAIL,
     "header.Cache-Control: expected a match for /^PRIVATE/, got \"no-store, private\""},
    {0, "{\"header\": \"Cache-Control\", \"matches\": \"PRIVATE$\", \"icase\": true}", AF_EX_PASS,
     NULL},
    {0, "{\"header\": \"Cache-Control\", \"starts_with\": \"no-\"}", AF_EX_PASS, NULL},
    /* JSON body: present, equal, set, type, range, keys */
    {1, "{\"json\": \"error\", \"equals\": \"invalid_grant\"}", AF_EX_PASS, NULL},
    {1, "{\"json\": \"error\", \"equals\": \"invalid_request\"}", AF_EX_FAIL,
     "json.error: expected \"invalid_request\", got \"invalid_grant\""},
    {1, "{\"json\": \"error\", \"not_equals\": \"invalid_grant\"}", AF_EX_FAIL,
     "json.error: expected anything but \"invalid_grant\", got \"invalid_grant\""},
    {1, "{\"json\": \"nope\", \"not_equals\": \"x\"}", AF_EX_FAIL,
     "json.nope: expected a value, got absent"},
    {1, "{\"json\": \"error\", \"one_of\": [\"invalid_request\", \"invalid_grant\"]}", AF_EX_PASS,
     NULL},
    {1, "{\"json\": \"error\", \"one_of\": [\"a\", \"b\"]}", AF_EX_FAIL,
     "json.error: expected one of [\"a\",\"b\"], got \"invalid_grant\""},
    {1, "{\"json\": \"n\", \"type\": \"integer\"}", AF_EX_PASS, NULL},
    {1, "{\"json\": \"f\", \"type\": \"integer\"}", AF_EX_PASS, NULL},
    {1, "{\"json\": \"error\", \"type\": \"integer\"}", AF_EX_FAIL,
     "json.error: expected an integer, got \"invalid_grant\""},
    {1, "{\"json\": \"obj\", \"type\": \"object\"}", AF_EX_PASS, NULL},
    {1, "{\"json\": \"n\", \"range\": [1, 4]}", AF_EX_FAIL,
     "json.n: expected a number in 1..4, got 5"},
    {1, "{\"json\": \"n\", \"range\": [5, null]}", AF_EX_PASS, NULL},
    {1, "{\"json\": \"n\", \"equals\": \"5\"}", AF_EX_PASS, NULL},
    {1, "{\"json\": \"arr\", \"contains\": \"S256\"}", AF_EX_PASS, NULL},
    {1, "{\"json\": \"arr\", \"contains\": \"none\"}", AF_EX_FAIL,
     "json.arr: expected something containing \"none\", got [\"S256\",\"plain\"]"},
    {1, "{\"json\": \"arr\", \"not_contains\": \"plain\"}", AF_EX_FAIL,
     "json.arr: expected nothing containing \"plain\", got [\"S256\",\"plain\"]"},
    {1, "{\"json\": \"nope\", \"not_contains\": \"plain\"}", AF_EX_PASS, NULL},
    {1, "{\"json\": \"\", \"only_keys\": [\"error\", \"n\", \"arr\", \"obj\", \"f\"]}", AF_EX_PASS,
     NULL},
    {1, "{\"json\": \"\", \"only_keys\": [\"error\"]}", AF_EX_FAIL,
     "json: expected only the keys [\"error\"], got "
     "{\"error\":\"invalid_grant\",\"n\":5,\"arr\":[\"S256\",\"plain\"],\"obj\":{\"a\":1},\"f\":2."
     "0} "
     "(extra key \"n\")"},
    {1, "{\"json\": \"\", \"any_keys\": [\"zz\", \"n\"]}", AF_EX_PASS, NULL},
    {1, "{\"json\": \"\", \"any_keys\": [\"zz\", \"yy\"]}", AF_EX_FAIL,
     "json: expected one of the keys [\"zz\",\"yy\"], got "
     "{\"error\":\"invalid_grant\",\"n\":5,\"arr\":[\"S256\",\"plain\"],\"obj\":{\"a\":1},\"f\":2."
     "0}"},
    {1, "{\"json\": \"obj\", \"format\": \"oidc-claims\"}", AF_EX_PASS, NULL},
    /* samples: the same six characters twice carry nothing; signed JWTs
     * pass however alike (their signature makes them unguessable), an
     * unsigned one does not */
    {1, "{\"samples\": [\"abc123\", \"abc123\"], \"entropy_bits\": 128}", AF_EX_FAIL,
     "samples: expected at least 128 bits of randomness, got at most 0: 0 of 6 characters vary "
     "across 2 samples, from an alphabet of 0"},
    {1, "{\"samples\": [\"0a1b2c3d4e5f\", \"9f8e7d6c5b4a\"], \"entropy_bits\": 128}", AF_EX_FAIL,
     "samples: expected at least 128 bits of randomness, got at most 48: 12 of 12 characters vary "
     "across 2 samples, from an alphabet of 16"},
    {1,
     "{\"samples\": [\"eyJhbGciOiJSUzI1NiJ9.e30.c2ln\", \"eyJhbGciOiJSUzI1NiJ9.e30.c2ln\"], "
     "\"entropy_bits\": 128}",
     AF_EX_PASS, NULL},
    {1,
     "{\"samples\": [\"eyJhbGciOiJub25lIn0.e30.\", \"eyJhbGciOiJub25lIn0.e30.\"], "
     "\"entropy_bits\": 128}",
     AF_EX_FAIL,
     "samples: expected at least 128 bits of randomness, got at most 0: 0 of 24 characters vary "
     "across 2 samples, from an alphabet of 0"},
    {1, "{\"json\": \"error\", \"format\": \"oidc-claims\"}", AF_EX_FAIL,
     "json.error: expected format oidc-claims, got \"invalid_grant\" (not a JSON object)"},
    {1, "{\"json\": \"\", \"keys\": [\"error\", \"zz\"]}", AF_EX_FAIL,
     "json: expected the keys [\"error\",\"zz\"], got "
     "{\"error\":\"invalid_grant\",\"n\":5,\"arr\":[\"S256\",\"plain\"],\"obj\":{\"a\":1},\"f\":2."
     "0} "
     "(missing \"zz\")"},
    {1, "{\"json\": \"error\", \"min_length\": 20}", AF_EX_FAIL,
     "json.error: expected at least 20 characters, got \"invalid_grant\""},
    {1, "{\"that\": \"status\", \"equals\": \"400\"}", AF_EX_PASS, NULL},
    /* redirect target and parameters */
    {0, "{\"redirect\": \"client\"}", AF_EX_PASS, NULL},
    {1, "{\"redirect\": \"client\"}", AF_EX_FAIL,
     "redirect: expected a redirect to the client (https://client.example/cb), got 400"},
    {0, "{\"redirect\": \"not_client\"}", AF_EX_FAIL,
     "redirect: expected no redirect to the client, got 302 to "
     "https://client.example/cb?code=[redacted 3 chars]&state=s1&iss=https%3A%2F%2Fas.example"},
    {1, "{\"redirect\": \"not_client\"}", AF_EX_PASS, NULL},
    {1, "{\"redirect\": \"none\"}", AF_EX_PASS, NULL},
    {0, "{\"redirect\": \"none\"}", AF_EX_FAIL,
     "redirect: expected no Location, got 302 to "
     "https://client.example/cb?code=[redacted 3 chars]&state=s1&iss=https%3A%2F%2Fas.example"},
    {0, "{\"redirect\": \"any\"}", AF_EX_PASS, NULL},
    {0, "{\"redirect\": {\"to\": \"https://client.example/cb\"}}", AF_EX_PASS, NULL},
    {0, "{\"redirect\": {\"to\": \"https://other.example/cb\"}}", AF_EX_FAIL,
     "redirect: expected a redirect to https://other.example/cb, got 302 to "
     "https://client.example/cb?code=[redacted 3 chars]&state=s1&iss=https%3A%2F%2Fas.example"},
    {0, "{\"redirect\": {\"not_to\": \"https://client.example\"}}", AF_EX_FAIL,
     "redirect: expected no redirect to https://client.example, got 302 to "
     "https://client.example/cb?code=[redacted 3 chars]&state=s1&iss=https%3A%2F%2Fas.example"},
    {0, "{\"params\": \"state\", \"equals\": \"s1\"}", AF_EX_PASS, NULL},
    {0, "{\"params\": \"iss\", \"equals\": \"{{meta.issuer}}\"}", AF_EX_PASS, NULL},
    {0, "{\"params\": \"\", \"only_keys\": [\"code\", \"state\", \"iss\"]}", AF_EX_PASS, NULL},
    {3, "{\"params\": \"\", \"only_keys\": [\"error\", \"state\"]}", AF_EX_FAIL,
     "params: expected only the keys [\"error\",\"state\"], got "
     "{\"error\":\"bad\\\"x\",\"state\":\"s1\",\"frag\":\"1\"} (extra key \"frag\")"},
    {3, "{\"params\": \"error\", \"format\": \"error-code\"}", AF_EX_FAIL,
     "params.error: expected format error-code, got \"bad\\\"x\""},
    {0, "{\"params\": \"state\", \"format\": \"error-code\"}", AF_EX_PASS, NULL},
    {3, "{\"params\": \"state\", \"count\": 1}", AF_EX_FAIL,
     "params.state: expected 1 occurrence, got 2"},
    {0, "{\"params\": \"error\", \"count\": 0}", AF_EX_PASS, NULL},
    {0, "{\"location\": \"query.code\", \"equals\": \"abc\"}", AF_EX_PASS, NULL},
    {2, "{\"params\": \"code\", \"equals\": \"fp1\"}", AF_EX_PASS, NULL},
    {0, "{\"that\": \"location\", \"format\": \"https\"}", AF_EX_PASS, NULL},
    {0, "{\"location\": \"base\", \"format\": \"no-query-fragment\"}", AF_EX_PASS, NULL},
    {0, "{\"location\": \"\", \"format\": \"no-query-fragment\"}", AF_EX_FAIL,
     "location: expected format no-query-fragment, got "
     "\"https://client.example/cb?code=[redacted 3 chars]&state=s1&iss=https%3A%2F%2Fas.example\""},
    /* body text */
    {2, "{\"body\": true, \"contains\": \"fp1\"}", AF_EX_PASS, NULL},
    {2, "{\"body\": true, \"contains\": \"nothing here\"}", AF_EX_FAIL, NULL},
    /* any / all */
    {0, "{\"any\": [{\"status\": 200}, {\"status\": 302}]}", AF_EX_PASS, NULL},
    {2, "{\"any\": [{\"status\": 302}, {\"status\": \"4xx\"}]}", AF_EX_FAIL,
     "none of the alternatives held: status: expected 302, got 200; or status: expected 4xx, "
     "got 200"},
    {1, "{\"all\": [{\"status\": 400}, {\"json\": \"error\", \"equals\": \"x\"}]}", AF_EX_FAIL,
     "json.error: expected \"x\", got \"invalid_grant\""},
    /* templates in expected values; an undefined target variable skips */
    {1, "{\"json\": \"error\", \"equals\": \"{{vars.err}}\"}", AF_EX_PASS, NULL},
    {1, "{\"json\": \"error\", \"equals\": \"{{target.nope}}\"}", AF_EX_SKIP,
     "needs target.nope, which the target does not define"},
    {1, "{\"json\": \"error\", \"equals\": \"{{nope}}\"}", AF_EX_ERROR, "nope is not defined"},
    /* secrets are redacted in messages */
    {4, "{\"json\": \"access_token\", \"equals\": \"x\"}", AF_EX_FAIL,
     "json.access_token: expected \"x\", got \"abcd...[redacted 12 chars]\""},
    {4, "{\"json\": \"token_type\", \"equals\": \"bearer\"}", AF_EX_FAIL,
     "json.token_type: expected \"bearer\", got \"Bearer\""},
    /* hops that did not happen */
    {1, "{\"on\": \"page\", \"status\": 200}", AF_EX_SKIP, "no login or consent page appeared"},
    {1, "{\"on\": \"after_submit\", \"status\": 303}", AF_EX_SKIP, "no form was submitted"},
    {1, "{\"on\": 3, \"status\": 200}", AF_EX_SKIP, "hop 3 did not happen (1 hops)"},
};

START_TEST(test_expectations)
{
    json_t *root = tmpl_root(), *ex;
    struct af_scope sc;
    struct af_step_view sv;
    struct af_buf msg, path;
    struct af_err e;
    json_error_t je;
    af_ex_result r;

    ck_assert_int_eq(af_scope_init(&sc, root), AF_OK);
    set_local(&sc, "vars.err", "invalid_grant");
    ex = json_loads(ex_cases[_i].ex, 0, &je);
    ck_assert_msg(ex != NULL, "%s: %s", ex_cases[_i].ex, je.text);
    af_buf_init(&path, 1024);
    af_err_clear(&e);
    ck_assert_msg(af_expect_check(ex, &path, &e) == AF_OK, "%s: %s", ex_cases[_i].ex, e.msg);
    memset(&sv, 0, sizeof(sv));
    sv.hops = &ex_hops[ex_cases[_i].hop];
    sv.nhops = 1;
    sv.sc = &sc;
    sv.client_uri = "https://client.example/cb";
    af_buf_init(&msg, 8192);
    r = af_expect_eval(&sv, ex, &msg);
    ck_assert_msg(r == ex_cases[_i].want, "%s: result %d, want %d (%s)", ex_cases[_i].ex, r,
                  ex_cases[_i].want, af_buf_str(&msg));
    if (ex_cases[_i].msg != NULL)
        ck_assert_str_eq(af_buf_str(&msg), ex_cases[_i].msg);
    if (r == AF_EX_FAIL)
        ck_assert_ptr_null(strchr(af_buf_str(&msg), '\n')); /* one line */
    af_buf_free(&msg);
    af_buf_free(&path);
    json_decref(ex);
    af_scope_clear(&sc);
    json_decref(root);
}
END_TEST

/* Hop selection over a multi-hop step: page, after_submit, all, any. */
START_TEST(test_expect_hops)
{
    static const char *const html[] = {"Content-Type", "text/html", "X-Frame-Options", "DENY",
                                       NULL};
    static const char *const loc[] = {"Location", "https://client.example/cb?code=z", NULL};
    struct af_hop h[3];
    struct af_step_view sv;
    struct af_buf msg;
    size_t i;
    static const struct {
        const char *ex;
        af_ex_result want;
        const char *msg;
    } cases[] = {
        {"{\"on\": \"page\", \"header\": \"X-Frame-Options\", \"equals\": \"DENY\"}", AF_EX_PASS,
         NULL},
        {"{\"on\": \"after_submit\", \"status\": [302, 303]}", AF_EX_FAIL,
         "status: expected one of 302, 303, got 307 to https://as.example/login"},
        {"{\"on\": \"first\", \"status\": 200}", AF_EX_PASS, NULL},
        {"{\"on\": \"all\", \"status\": {\"max\": 399}}", AF_EX_PASS, NULL},
        {"{\"on\": \"all\", \"status\": 200}", AF_EX_FAIL,
         "hop 2: status: expected 200, got 307 to https://as.example/login"},
        {"{\"on\": \"any\", \"status\": 302}", AF_EX_PASS, NULL},
        {"{\"on\": \"any\", \"status\": 500}", AF_EX_FAIL,
         "status: expected 500, got 302 to https://client.example/cb?code=[redacted 1 chars] (on "
         "every one of 3 "
         "hops)"},
        {"{\"redirect\": \"not_client\"}", AF_EX_FAIL,
         "redirect: expected no redirect to the client, got 302 to "
         "https://client.example/cb?code=[redacted 1 chars]"},
        {"{\"on\": 1, \"redirect\": \"any\"}", AF_EX_PASS, NULL},
    };
    static const char *const l307[] = {"Location", "/login", NULL};

    hop_make(&h[0], 200, "https://as.example/authorize", html, "<form><input name=a></form>");
    hop_make(&h[1], 307, "https://as.example/login", l307, NULL);
    h[1].submitted = true;
    hop_make(&h[2], 302, "https://as.example/login", loc, NULL);
    memset(&sv, 0, sizeof(sv));
    sv.hops = h;
    sv.nhops = 3;
    sv.client_uri = "https://client.example/cb";
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *ex = json_loads(cases[i].ex, 0, NULL);
        af_ex_result r;
        af_buf_init(&msg, 4096);
        ck_assert_ptr_nonnull(ex);
        r = af_expect_eval(&sv, ex, &msg);
        ck_assert_msg(r == cases[i].want, "%s: %d (%s)", cases[i].ex, r, af_buf_str(&msg));
        if (cases[i].msg)
            ck_assert_str_eq(af_buf_str(&msg), cases[i].msg);
        af_buf_free(&msg);
        json_decref(ex);
    }
    for (i = 0; i < 3; i++)
        af_hop_clear(&h[i]);
}
END_TEST

/* "client" and "not_client" compare the Location's endpoint (scheme, host,
 * port, path) with the client's redirect_uri, never a text prefix: AS-05
 * sends redirect_uri=...cb?code=attacker and a server that rewrites the
 * code still redirects to the client (RFC 6749 §3.1.2, §4.1.2). */
static const struct {
    const char *client_uri;
    const char *location;
    const char *ex;
    af_ex_result want;
    bool show; /* --show-secrets */
    const char *msg;
} redir_cases[] = {
    {"https://client.example/cb?code=attacker", "https://client.example/cb?code=REAL&state=s",
     "{\"redirect\": \"client\"}", AF_EX_PASS, false, NULL},
    {"https://client.example/cb?code=attacker", "https://client.example/cb?code=REAL&state=s",
     "{\"redirect\": \"not_client\"}", AF_EX_FAIL, false,
     "redirect: expected no redirect to the client, got 302 to "
     "https://client.example/cb?code=[redacted 4 chars]&state=s"},
    {"https://client.example/cb?code=attacker", "https://client.example/cb?code=REAL&state=s",
     "{\"redirect\": \"not_client\"}", AF_EX_FAIL, true,
     "redirect: expected no redirect to the client, got 302 to "
     "https://client.example/cb?code=REAL&state=s"},
    {"https://client.example/cb", "HTTPS://Client.Example:443/cb?code=x",
     "{\"redirect\": \"client\"}", AF_EX_PASS, false, NULL},
    /* a text prefix, another endpoint */
    {"https://client.example/cb", "https://client.example/cb2?code=x",
     "{\"redirect\": \"not_client\"}", AF_EX_PASS, false, NULL},
    {"https://client.example/cb", "https://client.example/cb2?error=access_denied",
     "{\"redirect\": \"client\"}", AF_EX_FAIL, false,
     "redirect: expected a redirect to the client (https://client.example/cb), got 302 to "
     "https://client.example/cb2?error=access_denied"},
    {"https://client.example", "https://client.example.attacker.example/?code=x",
     "{\"redirect\": \"client\"}", AF_EX_FAIL, false,
     "redirect: expected a redirect to the client (https://client.example), got 302 to "
     "https://client.example.attacker.example/?code=[redacted 1 chars]"},
    {"https://client.example/cb", "https://client.example:8443/cb?code=x",
     "{\"redirect\": \"not_client\"}", AF_EX_PASS, false, NULL},
    {"http://[::1]:8080/cb", "http://[::1]:8080/cb?code=x", "{\"redirect\": \"client\"}",
     AF_EX_PASS, false, NULL},
    {"com.example.app:/cb", "com.example.app:/cb?code=x", "{\"redirect\": \"client\"}", AF_EX_PASS,
     false, NULL},
    /* a garbage redirect_uri is nobody's endpoint */
    {"not a uri", "https://client.example/cb?code=x", "{\"redirect\": \"not_client\"}", AF_EX_PASS,
     false, NULL},
    /* {"to": URL}: the same comparison */
    {"https://client.example/cb", "https://App.example:443?x=1",
     "{\"redirect\": {\"to\": \"https://app.example/\"}}", AF_EX_PASS, false, NULL},
};

START_TEST(test_expect_redirect_endpoint)
{
    const char *h[] = {"Location", redir_cases[_i].location, NULL};
    struct af_hop hop;
    struct af_step_view sv;
    struct af_buf msg;
    json_t *ex = json_loads(redir_cases[_i].ex, 0, NULL);
    af_ex_result r;

    ck_assert_ptr_nonnull(ex);
    hop_make(&hop, 302, "https://as.example/authorize", h, NULL);
    memset(&sv, 0, sizeof(sv));
    sv.hops = &hop;
    sv.nhops = 1;
    sv.client_uri = redir_cases[_i].client_uri;
    sv.show_secrets = redir_cases[_i].show;
    af_buf_init(&msg, 4096);
    r = af_expect_eval(&sv, ex, &msg);
    ck_assert_msg(r == redir_cases[_i].want, "%s with %s: %d (%s)", redir_cases[_i].ex,
                  redir_cases[_i].location, r, af_buf_str(&msg));
    if (redir_cases[_i].msg)
        ck_assert_str_eq(af_buf_str(&msg), redir_cases[_i].msg);
    af_buf_free(&msg);
    json_decref(ex);
    af_hop_clear(&hop);
}
END_TEST

/* ---- loaders ---- */

#define CHECK_HEAD                                                                                 \
    "{\"suite\": \"t\", \"checks\": [{\"id\": \"A-1\", \"title\": \"t\", \"spec\": \"s\", "

static const struct {
    const char *text;
    const char *msg; /* the whole message, or a part of it */
    bool exact;
} load_cases[] = {
    {"{\"suite\": \"t\",\n \"checks\": [\n  {\"id\": \"A\", \"title\": \"t\", \"spec\": \"s\",\n"
     "   \"steps\": [{\"request\": {\"url\": \"u\"},\n    \"expect\": [{\"status\": 200, "
     "\"equal\": 1}]}]}]}",
     "t.json:5:32: checks[0].steps[0].expect[0].equal: unknown key \"equal\" (did you mean "
     "\"equals\"?)",
     true},
    {"{\"suite\": \"t\",\n \"checks\": [\n  {\"id\": \"A\", \"title\": \"t\",\n"
     "   \"steps\": [{\"request\": {\"url\": \"u\"}}]}]}",
     "t.json:3:3: checks[0]: missing key \"spec\"", true},
    {"{\"suite\": \"t\",\n \"checks\": [\n  {\"id\": \"A\", \"title\": \"t\", \"spec\": \"s\",\n"
     "   \"severity\": \"MAY\", \"steps\": [{\"request\": {\"url\": \"u\"}}]}]}",
     "t.json:4:16: checks[0].severity: must be \"MUST\" or \"SHOULD\", not \"MAY\"", true},
    {"{\"suite\": \"t\",\n  \"checks\": [1,]}", "t.json:2:16: checks[1]: syntax error", false},
    {"{\"suite\": \"t\", \"suite\": \"u\", \"checks\": []}", "duplicate key", false},
    {CHECK_HEAD "\"steps\": [{\"request\": {\"url\": \"u\"}}]}, {\"id\": \"a-1\", \"title\": "
                "\"t\", \"spec\": \"s\", \"steps\": [{\"request\": {\"url\": \"u\"}}]}]}",
     "checks[1].id: \"a-1\" is used twice (first at checks[0])", false},
    {CHECK_HEAD "\"needs\": [\"cod\"], \"steps\": [{\"request\": {\"url\": \"u\"}}]}]}",
     "checks[0].needs[0]: fixture \"cod\" is not defined", false},
    {CHECK_HEAD "\"steps\": [{\"request\": {\"url\": \"u\"}, \"capture\": {\"c\": "
                "\"parms.code\"}}]}]}",
     "checks[0].steps[0].capture.c: selector \"parms.code\": unknown root \"parms\"", false},
    {CHECK_HEAD "\"steps\": [{\"request\": {\"url\": \"{{target.issuer\"}}]}]}",
     "checks[0].steps[0].request.url: unclosed {{", false},
    {CHECK_HEAD "\"steps\": [{\"request\": {\"url\": \"{{a | rot13}}\"}}]}]}",
     "unknown filter \"rot13\"", false},
    {CHECK_HEAD "\"steps\": [{\"request\": {\"url\": \"u\"}, \"expect\": [{\"header\": \"X\", "
                "\"matches\": \"a(\"}]}]}]}",
     "checks[0].steps[0].expect[0].matches: regular expression does not compile", false},
    {CHECK_HEAD "\"steps\": [{\"request\": {\"template\": \"nope\"}}]}]}",
     "checks[0].steps[0].request.template: template \"nope\" is not defined", false},
    {CHECK_HEAD "\"steps\": [{\"request\": {\"method\": \"POST\"}}]}]}",
     "checks[0].steps[0].request: the request has no \"url\"", false},
    {CHECK_HEAD "\"steps\": [{\"sleep\": 1, \"request\": {\"url\": \"u\"}}]}]}",
     "exactly one of \"request\", \"sleep\", \"use\", \"forge\", \"run\", \"race\" and "
     "\"concurrent\"",
     false},
    /* forge steps: "as" names the token; the spec is checked at load */
    {CHECK_HEAD "\"steps\": [{\"forge\": {\"from\": \"{{t}}\"}}]}]}",
     "\"as\" names the token of a forge step, and only there", false},
    {CHECK_HEAD "\"steps\": [{\"request\": {\"url\": \"u\"}, \"as\": \"x\"}]}]}",
     "\"as\" names the token of a forge step, and only there", false},
    {CHECK_HEAD "\"steps\": [{\"forge\": {\"from\": \"{{t}}\", \"signature\": \"maybe\"}, "
                "\"as\": \"f\"}]}]}",
     "forge.signature must be keep, drop or zero", false},
    {CHECK_HEAD "\"steps\": [{\"forge\": {\"from\": \"{{t}}\", \"sign\": {\"rs256\": "
                "\"k\"}}, \"as\": \"f\"}]}]}",
     "forge.sign is one of", false},
    {CHECK_HEAD "\"steps\": [{\"forge\": {\"from\": \"{{t\"}, \"as\": \"f\"}]}]}",
     "checks[0].steps[0].forge", false},
    {CHECK_HEAD "\"steps\": [{\"forge\": {\"from\": \"{{t}}\"}, \"as\": \"fresh.x\"}]}]}",
     "under a reserved name", false},
    /* listen: a forge step's own server, its URL in a variable (RS-30) */
    {CHECK_HEAD "\"steps\": [{\"request\": {\"url\": \"u\"}, \"listen\": {\"as\": \"l\", "
                "\"body\": \"s\"}}]}]}",
     "\"log_as\", \"listen\" and \"optional\" belong to a forge step", false},
    {CHECK_HEAD "\"steps\": [{\"forge\": {\"from\": \"{{t}}\", \"sign\": {\"jku\": "
                "\"RS256\"}}, \"as\": \"f\", \"listen\": {\"as\": \"l\", \"body\": \"s\"}}]}]}",
     "a forge step that serves (sign: jku or x5u) takes no \"listen\"", false},
    {CHECK_HEAD "\"steps\": [{\"forge\": {\"from\": \"{{t}}\"}, \"as\": \"f\", \"listen\": "
                "{\"as\": \"l\"}}]}]}",
     "listen: missing key \"body\"", false},
    {CHECK_HEAD "\"steps\": [{\"forge\": {\"from\": \"{{t}}\"}, \"as\": \"f\", \"log_as\": "
                "\"g\"}]}]}",
     "\"log_as\" names the log of what a forge step serves", false},
    {CHECK_HEAD "\"steps\": [{\"concurrent\": {\"each\": \"target.x\", \"as\": \"p\"}}]}]}",
     "concurrent.token: a string is required", false},
    {CHECK_HEAD "\"steps\": [{\"concurrent\": {\"each\": \"e\", \"as\": \"p\", \"token\": "
                "\"body\", \"identity\": \"body\", \"expect\": \"x\", \"login\": {\"url\": "
                "\"u\"}, \"request\": {\"url\": \"u\"}, \"rounds\": 99}}]}]}",
     "concurrent.rounds: 1..20", false},
    {CHECK_HEAD "\"steps\": [{\"race\": {\"request\": {\"url\": \"u\"}, \"copies\": 1}}]}]}",
     "race.copies: 2..64", false},
    {CHECK_HEAD "\"steps\": [{\"race\": {\"request\": {\"url\": \"u\"}, \"copies\": 3, "
                "\"at_most\": 3}}]}]}",
     "race.at_most: 0..2 (fewer than the copies)", false},
    {CHECK_HEAD "\"steps\": [{\"race\": {\"request\": {\"url\": \"u\"}, \"rounds\": 2}}]}]}",
     "race.again: a fixture that prepares each further round is required", false},
    {CHECK_HEAD "\"steps\": [{\"race\": {\"request\": {\"url\": \"u\"}, \"rounds\": 2, "
                "\"again\": \"nofix\"}}]}]}",
     "checks[0].steps[0].race.again: fixture \"nofix\" is not defined", false},
    {CHECK_HEAD "\"steps\": [{\"race\": {\"request\": {\"url\": \"u\"}, \"copy\": 2}}]}]}",
     "race: unknown key \"copy\"", false},
    {CHECK_HEAD "\"steps\": [{\"race\": {\"request\": {\"url\": \"u\"}, \"if_none_won\": "
                "\"fail\"}}]}]}",
     "race.if_none_won: \"inconclusive\" or \"pass\"", false},
    {CHECK_HEAD "\"steps\": [{\"race\": {\"request\": {\"url\": \"u\"}}, \"expect\": []}]}]}",
     "a race step takes no expect, capture, follow or allow_*", false},
    {CHECK_HEAD "\"steps\": [{\"request\": {\"url\": \"u\"}, \"capture\": {\"fresh.x\": "
                "\"status\"}}]}]}",
     "the capture name \"fresh.x\" is under a reserved name", false},
    {CHECK_HEAD "\"steps\": [{\"request\": {\"url\": \"u\", \"auth\": \"mtls\"}}]}]}",
     "unknown client authentication \"mtls\"", false},
    {CHECK_HEAD "\"steps\": [{\"request\": {\"url\": \"u\"}, \"expect\": [{\"status\": 200, "
                "\"json\": \"error\"}]}]}]}",
     "more than one kind", false},
    {CHECK_HEAD "\"steps\": [{\"request\": {\"url\": \"u\"}, \"expect\": [{\"json\": "
                "\"error\"}]}]}]}",
     "no predicate", false},
    {CHECK_HEAD "\"steps\": [{\"request\": {\"url\": \"u\"}, \"expect\": [{\"status\": "
                "\"4XX\"}]}]}]}",
     "expect[0].status: must be a status", false},
    {CHECK_HEAD "\"steps\": [{\"request\": {\"url\": \"u\"}, \"expect\": [{\"on\": \"middle\", "
                "\"status\": 200}]}]}]}",
     "expect[0].on: must be a hop number", false},
    {CHECK_HEAD "\"steps\": []}]}", "checks[0].steps: a check needs at least one step", false},
    {"{\"suite\": \"t\", \"fixtures\": {\"a\": {\"needs\": [\"b\"], \"steps\": []}, \"b\": "
     "{\"needs\": [\"a\"], \"steps\": []}}, \"checks\": [{\"id\": \"A\", \"title\": \"t\", "
     "\"spec\": \"s\", \"steps\": [{\"request\": {\"url\": \"u\"}}]}]}",
     "needs itself (a cycle)", false},
    {"{\"suite\": \"t\", \"chekcs\": 1}",
     "unknown key \"chekcs\" (did you mean "
     "\"checks\"?)",
     false},
    {"[1]", "(top level): must be an object", false},
    /* foreach, use, admin, if, on objects, templated selectors (§2, §4, §5, §10) */
    {CHECK_HEAD "\"foreach\": {\"var\": \"a.b\", \"in\": \"target.x\"}, \"steps\": "
                "[{\"request\": {\"url\": \"u\"}}]}]}",
     "checks[0].foreach.var: \"a.b\" cannot name an element", false},
    {CHECK_HEAD "\"foreach\": [{\"var\": \"a\", \"in\": \"target.x\"}, {\"var\": \"a\", \"in\": "
                "\"a.y\"}], \"steps\": [{\"request\": {\"url\": \"u\"}}]}]}",
     "the loop variable \"a\" is used twice", false},
    {CHECK_HEAD "\"foreach\": {\"var\": \"a\", \"in\": \"target x\"}, \"steps\": "
                "[{\"request\": {\"url\": \"u\"}}]}]}",
     "\"target x\" is not a variable name", false},
    {CHECK_HEAD "\"foreach\": {\"var\": \"a\"}, \"steps\": [{\"request\": {\"url\": \"u\"}}]}]}",
     "checks[0].foreach: missing key \"in\"", false},
    {CHECK_HEAD "\"steps\": [{\"use\": \"nofix\"}]}]}",
     "checks[0].steps[0].use: fixture \"nofix\" is not defined", false},
    {"{\"suite\": \"t\", \"fixtures\": {\"f\": {\"steps\": []}}, \"checks\": [{\"id\": \"A\", "
     "\"title\": \"t\", \"spec\": \"s\", \"steps\": [{\"use\": \"f\", \"request\": {\"url\": "
     "\"u\"}}]}]}",
     "exactly one of \"request\", \"sleep\", \"use\", \"forge\", \"run\", \"race\" and "
     "\"concurrent\"",
     false},
    {"{\"suite\": \"t\", \"fixtures\": {\"f\": {\"steps\": []}}, \"checks\": [{\"id\": \"A\", "
     "\"title\": \"t\", \"spec\": \"s\", \"steps\": [{\"use\": \"f\", \"expect\": [{\"status\": "
     "200}]}]}]}",
     "a use step takes no expect", false},
    {CHECK_HEAD "\"steps\": [{\"request\": {\"url\": \"u\", \"admin\": \"/admin/tokens\"}}]}]}",
     "give one of \"url\", \"admin\" and \"submit\"", false},
    {CHECK_HEAD "\"steps\": [{\"request\": {\"url\": \"u\", \"method\": \"post\"}}]}]}",
     "\"post\": a method is upper-case letters", false},
    {CHECK_HEAD "\"steps\": [{\"request\": {\"url\": \"u\"}, \"expect\": [{\"status\": 200, "
                "\"if\": {\"that\": \"x\"}}]}]}]}",
     "expect[0].if: must be a list of conditions", false},
    {CHECK_HEAD "\"steps\": [{\"request\": {\"url\": \"u\"}, \"expect\": [{\"status\": 200, "
                "\"if\": [{\"that\": \"x\", \"equal\": 1}]}]}]}]}",
     "expect[0].if[0].equal: unknown key \"equal\" in a condition", false},
    {CHECK_HEAD "\"steps\": [{\"request\": {\"url\": \"u\"}, \"expect\": [{\"status\": 200, "
                "\"on\": {\"hop\": \"x\"}}]}]}]}",
     "expect[0].on: must be a hop number", false},
    {CHECK_HEAD "\"steps\": [{\"request\": {\"url\": \"u\"}, \"capture\": {\"c\": {\"from\": "
                "\"status\", \"on\": {\"url\": \"\"}}}}]}]}",
     "\"on\" as an object is {\"url\": PREFIX} or {\"location\": PREFIX}", false},
    {CHECK_HEAD "\"steps\": [{\"request\": {\"url\": \"u\"}, \"expect\": [{\"that\": "
                "\"json.{{a\", \"present\": true}]}]}]}",
     "expect[0].that: unclosed {{", false},
    {CHECK_HEAD "\"steps\": [{\"request\": {\"url\": \"u\"}, \"expect\": [{\"body\": true, "
                "\"not_matches\": \"(\"}]}]}]}",
     "expect[0].not_matches: regular expression does not compile", false},
    {CHECK_HEAD "\"bind\": {\"c\": {\"path\": \"target.x\", \"default\": \"vars.y\"}}, "
                "\"steps\": [{\"request\": {\"url\": \"u\"}}]}]}",
     "checks[0].bind.c.default: unknown key \"default\" (did you mean \"defaults\"?)", false},
};

START_TEST(test_suite_load_errors)
{
    struct af_suite *s = NULL;
    struct af_err e;
    af_rc rc;
    af_err_clear(&e);
    rc = af_suite_load_string(load_cases[_i].text, "t.json", &s, &e);
    ck_assert_msg(rc != AF_OK, "case %d loaded", _i);
    ck_assert_ptr_null(s);
    if (load_cases[_i].exact)
        ck_assert_str_eq(e.msg, load_cases[_i].msg);
    else
        ck_assert_msg(strstr(e.msg, load_cases[_i].msg) != NULL, "case %d: got \"%s\", want \"%s\"",
                      _i, e.msg, load_cases[_i].msg);
}
END_TEST

static const char *const good_suite =
    "{\"suite\": \"demo\", \"title\": \"Demo\",\n"
    " \"checks\": [\n"
    "  {\"id\": \"AS-04a\", \"title\": \"a\", \"spec\": \"s\", \"keywords\": [\"redirect\"],\n"
    "   \"steps\": [{\"request\": {\"url\": \"u\"}}]},\n"
    "  {\"id\": \"AS-04b\", \"title\": \"b\", \"spec\": \"s\", \"severity\": \"SHOULD\",\n"
    "   \"steps\": [{\"request\": {\"url\": \"u\"}}]},\n"
    "  {\"id\": \"AS-041\", \"title\": \"c\", \"spec\": \"s\", \"keywords\": [\"token\"],\n"
    "   \"steps\": [{\"request\": {\"url\": \"u\"}}]},\n"
    "  {\"id\": \"AS-10\", \"title\": \"d\", \"spec\": \"s\",\n"
    "   \"steps\": [{\"request\": {\"url\": \"u\"}}]}]}";

static const struct {
    const char *only;
    const char *skip;
    const char *selected; /* one char per check: 1 selected */
} filter_cases[] = {
    {NULL, NULL, "1111"},        {"AS-04", NULL, "1100"}, {"as-04a", NULL, "1000"},
    {"AS-0*", NULL, "1110"},     {"token", NULL, "0010"}, {NULL, "redirect", "0111"},
    {"AS-04", "AS-04b", "1000"}, {"AS-1", NULL, "0000"},  {"AS-10", NULL, "0001"},
};

START_TEST(test_suite_filter)
{
    struct af_suite *s = NULL;
    struct af_err e;
    struct af_probe_filter f;
    struct af_check_info ci;
    size_t i;

    af_err_clear(&e);
    ck_assert_msg(af_suite_load_string(good_suite, "g.json", &s, &e) == AF_OK, "%s", e.msg);
    ck_assert_str_eq(af_suite_name(s), "demo");
    ck_assert_str_eq(af_suite_title(s), "Demo");
    ck_assert_uint_eq(af_suite_count(s), 4);
    af_suite_check(s, 1, &ci);
    ck_assert_str_eq(ci.id, "AS-04b");
    ck_assert_int_eq(ci.severity, AF_SEV_SHOULD);
    memset(&f, 0, sizeof(f));
    f.only = &filter_cases[_i].only;
    f.nonly = filter_cases[_i].only ? 1 : 0;
    f.skip = &filter_cases[_i].skip;
    f.nskip = filter_cases[_i].skip ? 1 : 0;
    for (i = 0; i < 4; i++)
        ck_assert_msg(af_suite_selected(s, i, &f) == (filter_cases[_i].selected[i] == '1'),
                      "case %d check %zu", _i, i);
    af_suite_free(s);
}
END_TEST

static const struct {
    const char *text;
    const char *msg;
} target_cases[] = {
    {"{\"name\": \"x\"}", "(top level): missing key \"issuer\""},
    {"{\"issuer\": \"https://as\", \"clients\": {\"main\": {\"id\": 1}}}",
     "clients.main.id: must be a string"},
    {"{\"issuer\": \"https://as\", \"clients\": {\"main\": {\"auth\": \"mtls\"}}}",
     "unknown method \"mtls\""},
    {"{\"issuer\": \"https://as\", \"login\": {\"forms\": [{\"mach\": \"x\"}]}}",
     "p.json:1:47: login.forms[0].mach: unknown key \"mach\" (did you mean \"match\"?)"},
    {"{\"issuer\": \"https://as\", \"timeout_ms\": 0}", "timeout_ms: must be at least 1"},
    {"{\"issuer\": \"https://as\", \"tls\": {\"verify\": false}}", "unknown key \"verify\""},
    /* the rs and rp parts (docs/rs-suite.md, docs/rp-suite.md) */
    {"{\"issuer\": \"https://as\", \"admin\": {\"uri\": \"x\"}}",
     "admin.uri: unknown key \"uri\" (did you mean \"url\"?)"},
    {"{\"issuer\": \"https://as\", \"resources\": [{\"name\": \"a\"}]}",
     "resources[0]: missing key \"url\""},
    {"{\"issuer\": \"https://as\", \"resources\": [{\"url\": \"u\", \"allow\": [\"boss\"]}]}",
     "resources[0].allow[0]: \"boss\" is not one of the profile's principals"},
    {"{\"issuer\": \"https://as\", \"principals\": {\"p\": {\"user\": \"a\"}}, \"resources\": "
     "[{\"url\": \"u\", \"deny\": [\"p\"], \"deny_status\": \"4XX\"}]}",
     "resources[0].deny_status: \"4XX\": a status class is written \"4xx\""},
    {"{\"issuer\": \"https://as\", \"resources\": [{\"url\": \"u\", \"error_in\": \"body\"}]}",
     "resources[0].error_in: \"body\": header, json or none"},
    {"{\"issuer\": \"https://as\", \"resources\": [{\"url\": \"u\", \"json\": {}, \"body\": "
     "\"x\"}]}",
     "give \"json\" or \"body\", not both"},
    {"{\"issuer\": \"https://as\", \"principals\": {\"p\": {\"claims\": {}}}}",
     "principals.p: missing key \"user\""},
    {"{\"issuer\": \"https://as\", \"app\": {\"login\": \"l\", \"callback\": \"c\", \"client\": "
     "{\"id\": \"x\"}}}",
     "app: missing key \"protected\""},
    {"{\"issuer\": \"https://as\", \"app\": {\"login\": \"l\", \"callback\": \"c\", \"protected\": "
     "[], \"client\": {\"id\": \"x\"}}}",
     "app.protected: list at least one protected URL"},
    {"{\"issuer\": \"https://as\", \"app\": {\"login\": \"l\", \"callback\": \"c\", \"protected\": "
     "[\"p\"], \"client\": {\"secret\": \"x\"}}}",
     "app.client: missing key \"id\""},
    {"{\"issuer\": \"https://as\", \"app\": {\"login\": \"l\", \"callback\": \"c\", \"protected\": "
     "[\"p\"], \"client\": {\"id\": \"x\"}, \"error\": {\"redirect\": \"r\", \"status\": 400}}}",
     "app.error: give \"redirect\" or \"status\"/\"json_key\", not both"},
    {"{\"issuer\": \"https://as\", \"app\": {\"login\": \"l\", \"callback\": \"c\", \"protected\": "
     "[\"p\"], \"client\": {\"id\": \"x\"}, \"sucess\": {}}}",
     "app.sucess: unknown key \"sucess\" (did you mean \"success\"?)"},
};

START_TEST(test_target_load_errors)
{
    struct af_target *t = NULL;
    struct af_err e;
    af_err_clear(&e);
    ck_assert_int_ne(af_target_load_string(target_cases[_i].text, "p.json", &t, &e), AF_OK);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(e.msg, target_cases[_i].msg) != NULL, "got \"%s\"", e.msg);
}
END_TEST

/* The shipped suites and profiles load ("shipped examples must parse");
 * make check runs this with $srcdir set. */
static const struct {
    const char *path;
    bool suite;
} shipped_files[] = {
    {"conf/suites/as.json", true},           {"conf/suites/rs.json", true},
    {"conf/suites/rp.json", true},           {"conf/targets/authflowd.json", false},
    {"conf/targets/rs-example.json", false}, {"conf/apps/example.json", false},
    {"conf/suites/api.json", true},          {"conf/targets/api-example.json", false},
};

START_TEST(test_shipped_files)
{
    const char *dir = getenv("srcdir");
    char *path = NULL;
    struct af_suite *s = NULL;
    struct af_target *t = NULL;
    struct af_err e;
    af_rc rc;
    af_err_clear(&e);
    ck_assert_int_ne(asprintf(&path, "%s/%s", dir ? dir : ".", shipped_files[_i].path), -1);
    if (shipped_files[_i].suite)
        rc = af_suite_load_file(path, &s, &e);
    else
        rc = af_target_load_file(path, &t, &e);
    ck_assert_msg(rc == AF_OK, "%s", e.msg);
    af_suite_free(s);
    af_target_free(t);
    free(path);
}
END_TEST

/* ---- a fixture server (libmicrohttpd on port 0) ---- */

struct fake {
    struct MHD_Daemon *d;
    unsigned short port;
    char base[64];
    struct af_key *key;     /* signs ID tokens; published in /jwks */
    struct af_key *bad_key; /* same kid, not published: a forged signature */
    char *nonce;            /* the last nonce sent to /authorize */
    char used[16][64];      /* redeemed codes */
    int nused;
    int ncode;
    char once[16][64]; /* the keys /once has answered 200 for */
    size_t once_n;
};

static struct fake fk;

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *ctype,
                               const char *body, const char *const *hdrs)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;
    size_t i;
    if (ctype != NULL)
        MHD_add_response_header(r, "Content-Type", ctype);
    for (i = 0; hdrs != NULL && hdrs[i] != NULL; i += 2)
        MHD_add_response_header(r, hdrs[i], hdrs[i + 1]);
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result redirect_to(struct MHD_Connection *c, unsigned status, const char *loc)
{
    const char *h[] = {"Location", loc, NULL};
    return respond(c, status, NULL, "", h);
}

static const char *arg(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

static char *issue_id_token(bool forged)
{
    char *half = NULL, *out = NULL;
    json_t *claims;
    ck_assert_int_eq(af_oidc_half_hash(af_key_alg(fk.key), "AT-123", &half), AF_OK);
    claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "iss", fk.base, "sub", "alice", "aud",
                       "cid", "exp", (json_int_t)af_now() + 300, "iat", (json_int_t)af_now(),
                       "nonce", fk.nonce ? fk.nonce : "", "at_hash", half);
    ck_assert_int_eq(af_jwt_sign(forged ? fk.bad_key : fk.key, "JWT", claims, &out, NULL), AF_OK);
    json_decref(claims);
    free(half);
    return out;
}

static enum MHD_Result fake_token(struct MHD_Connection *c, struct af_buf *body)
{
    struct af_params p;
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    const char *code, *secret;
    const char *nostore[] = {"Cache-Control", "no-store", "Pragma", "no-cache", NULL};
    const char *basic[] = {"WWW-Authenticate", "Basic realm=\"fake\"", NULL};
    char *tok, *resp = NULL;
    enum MHD_Result ret;
    int i;

    af_params_init(&p, 64);
    ck_assert_int_eq(af_params_parse(&p, af_buf_str(body), body->len, NULL), AF_OK);
    secret = af_params_get(&p, "client_secret");
    /* base64("cid:s3cret") */
    if (!((auth && strcmp(auth, "Basic Y2lkOnMzY3JldA==") == 0) ||
          (secret && strcmp(secret, "s3cret") == 0))) {
        af_params_free(&p);
        return respond(c, 401, "application/json", "{\"error\":\"invalid_client\"}", basic);
    }
    code = af_params_get(&p, "code");
    if (code == NULL) {
        af_params_free(&p);
        return respond(c, 400, "application/json", "{\"error\":\"invalid_request\"}", nostore);
    }
    for (i = 0; i < fk.nused; i++) {
        if (strcmp(fk.used[i], code) == 0) {
            af_params_free(&p);
            return respond(c, 400, "application/json", "{\"error\":\"invalid_grant\"}", nostore);
        }
    }
    if (fk.nused < 16)
        snprintf(fk.used[fk.nused++], sizeof(fk.used[0]), "%s", code);
    tok = issue_id_token(strcmp(code, "BADSIG") == 0);
    ck_assert_int_ne(asprintf(&resp,
                              "{\"access_token\":\"AT-123\",\"token_type\":\"Bearer\","
                              "\"expires_in\":300,\"id_token\":\"%s\"}",
                              tok),
                     -1);
    ret = respond(c, 200, "application/json", resp, nostore);
    free(tok);
    free(resp);
    af_params_free(&p);
    return ret;
}

static enum MHD_Result fake_handler(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version, const char *upload,
                                    size_t *upload_size, void **req_cls)
{
    struct af_buf *body = *req_cls;
    char loc[1024];
    (void)cls;
    (void)version;
    if (body == NULL) {
        body = calloc(1, sizeof(*body));
        af_buf_init(body, 64 * 1024);
        *req_cls = body;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        ck_assert_int_eq(af_buf_add(body, upload, *upload_size), AF_OK);
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/.well-known/openid-configuration") == 0) {
        char doc[1024];
        snprintf(doc, sizeof(doc),
                 "{\"issuer\":\"%s\",\"authorization_endpoint\":\"%s/authorize\","
                 "\"token_endpoint\":\"%s/token\",\"jwks_uri\":\"%s/jwks\","
                 "\"code_challenge_methods_supported\":[\"S256\"]}",
                 fk.base, fk.base, fk.base, fk.base);
        return respond(c, 200, "application/json", doc, NULL);
    }
    if (strcmp(url, "/jwks") == 0) {
        json_t *jwk = NULL, *set;
        char *d;
        enum MHD_Result ret;
        ck_assert_int_eq(af_key_public_jwk(fk.key, &jwk), AF_OK);
        set = json_pack("{s:[o]}", AF_JWKS_KEYS, jwk);
        d = json_dumps(set, JSON_COMPACT);
        ret = respond(c, 200, "application/json", d, NULL);
        free(d);
        json_decref(set);
        return ret;
    }
    if (strcmp(url, "/authorize") == 0) {
        const char *ru = arg(c, "redirect_uri"), *st = arg(c, "state"), *nonce = arg(c, "nonce");
        free(fk.nonce);
        fk.nonce = nonce ? strdup(nonce) : NULL;
        if (ru == NULL)
            return respond(c, 400, "text/html", "<p>no redirect_uri</p>", NULL);
        if (arg(c, "login") != NULL) {
            char page[2048];
            const char *h[] = {"X-Frame-Options", "DENY", NULL};
            snprintf(page, sizeof(page),
                     "<html><form id=\"f\" method=\"post\" action=\"/login\">"
                     "<input type=\"hidden\" name=\"redirect_uri\" value=\"%s\">"
                     "<input type=\"hidden\" name=\"state\" value=\"%s\">"
                     "<input name=\"username\"><input type=\"password\" name=\"password\">"
                     "<button name=\"go\" value=\"ok\">Sign in</button></form>"
                     "<a href=\"/cancel?redirect_uri=%s&amp;state=%s\">Cancel</a></html>",
                     ru, st ? st : "", ru, st ? st : "");
            return respond(c, 200, "text/html; charset=utf-8", page, h);
        }
        if (arg(c, "response_mode") != NULL) {
            char page[2048];
            snprintf(page, sizeof(page),
                     "<form method=\"post\" action=\"%s\"><input type=\"hidden\" name=\"code\" "
                     "value=\"FP-1\"><input type=\"hidden\" name=\"state\" value=\"%s\"></form>",
                     ru, st ? st : "");
            return respond(c, 200, "text/html", page, NULL);
        }
        snprintf(loc, sizeof(loc), "%s?code=C-%d&state=%s&iss=%s", ru, ++fk.ncode, st ? st : "",
                 fk.base);
        return redirect_to(c, 302, loc);
    }
    if (strcmp(url, "/login") == 0 && strcmp(method, "POST") == 0) {
        struct af_params p;
        enum MHD_Result ret;
        af_params_init(&p, 64);
        ck_assert_int_eq(af_params_parse(&p, af_buf_str(body), body->len, NULL), AF_OK);
        if (af_params_get(&p, "password") && strcmp(af_params_get(&p, "password"), "pw") == 0 &&
            af_params_get(&p, "go") && strcmp(af_params_get(&p, "go"), "ok") == 0) {
            snprintf(loc, sizeof(loc), "%s?code=L-%d&state=%s", af_params_get(&p, "redirect_uri"),
                     ++fk.ncode, af_params_get(&p, "state"));
            ret = redirect_to(c, 303, loc);
        } else {
            ret = respond(c, 200, "text/html", "<p>bad password</p>", NULL);
        }
        af_params_free(&p);
        return ret;
    }
    if (strcmp(url, "/cancel") == 0) {
        snprintf(loc, sizeof(loc), "%s?error=access_denied&state=%s", arg(c, "redirect_uri"),
                 arg(c, "state"));
        return redirect_to(c, 302, loc);
    }
    if (strcmp(url, "/token") == 0)
        return fake_token(c, body);
    if (strcmp(url, "/cookie") == 0) {
        const char *h[] = {"Set-Cookie", "sid=xyz; Path=/; HttpOnly", NULL};
        return respond(c, 200, "text/plain", "ok", h);
    }
    if (strcmp(url, "/cookie-b") == 0) {
        const char *h[] = {"Set-Cookie", "b=1; Path=/", NULL};
        return respond(c, 200, "text/plain", "ok", h);
    }
    if (strcmp(url, "/rewrite") == 0) {
        /* ignores the redirect_uri's query: the code is the server's own */
        snprintf(loc, sizeof(loc), "%s/client-cb?code=REAL&state=s", fk.base);
        return redirect_to(c, 302, loc);
    }
    if (strcmp(url, "/client-cb") == 0)
        return respond(c, 200, "text/plain", "the client's URI was fetched", NULL);
    if (strcmp(url, "/echo-cookie") == 0) {
        const char *ck = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Cookie");
        return respond(c, 200, "text/plain", ck ? ck : "none", NULL);
    }
    if (strcmp(url, "/echo") == 0) {
        const char *v = arg(c, "v");
        return respond(c, 200, "text/plain", v ? v : "", NULL);
    }
    if (strcmp(url, "/big") == 0) {
        char big[4097];
        memset(big, 'a', 4096);
        big[4096] = '\0';
        return respond(c, 200, "text/plain", big, NULL);
    }
    if (strcmp(url, "/500") == 0)
        return respond(c, 500, "text/plain", "boom", NULL);
    if (strcmp(url, "/once") == 0) {
        /* 200 the first time a key is asked for, 400 after: a code */
        const char *k = arg(c, "k");
        size_t i;
        bool first = k != NULL;
        for (i = 0; first && i < fk.once_n; i++)
            first = strcmp(fk.once[i], k) != 0;
        if (first && fk.once_n < sizeof(fk.once) / sizeof(fk.once[0]))
            snprintf(fk.once[fk.once_n++], sizeof(fk.once[0]), "%s", k);
        return first ? respond(c, 200, "application/json", "{\"access_token\":\"x\"}", NULL)
                     : respond(c, 400, "application/json", "{\"error\":\"invalid_grant\"}", NULL);
    }
    if (strcmp(url, "/loop") == 0)
        return redirect_to(c, 302, "/loop");
    if (strcmp(url, "/hop") == 0)
        return redirect_to(c, 302, "/echo?v=hopped");
    if (strcmp(url, AF_ADMIN_PATH_HEALTHZ) == 0) {
        /* authflowd's admin API says which provider it belongs to */
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        char doc[128];
        if (auth == NULL || strcmp(auth, "Bearer adm1n") != 0)
            return respond(c, 401, "application/json", "{\"error\":\"invalid_token\"}", NULL);
        snprintf(doc, sizeof(doc), "{\"status\":\"ok\",\"issuer\":\"%s\"}", fk.base);
        return respond(c, 200, "application/json", doc, NULL);
    }
    if (strcmp(url, "/admin/tokens") == 0) {
        /* A stand-in for authflowd's admin API: the token names the user,
         * and the answer echoes the request so that the test sees the
         * JSON types and headers the engine sent. */
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        const char *acc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
        json_t *got = json_loadb(af_buf_str(body), body->len, 0, NULL), *ans;
        char *d, *tok = NULL;
        enum MHD_Result ret;
        if (auth == NULL || strcmp(auth, "Bearer adm1n") != 0) {
            json_decref(got);
            return respond(c, 401, "application/json", "{\"error\":\"invalid_token\"}", NULL);
        }
        ck_assert_int_ne(asprintf(&tok, "T-%s",
                                  json_string_value(json_object_get(got, "user"))
                                      ? json_string_value(json_object_get(got, "user"))
                                      : "default"),
                         -1);
        ans = json_pack("{s:s, s:o, s:s}", "access_token", tok, "got", got ? got : json_null(),
                        "accept", acc ? acc : "");
        d = json_dumps(ans, JSON_COMPACT);
        ret = respond(c, 200, "application/json", d, NULL);
        free(d);
        free(tok);
        json_decref(ans);
        return ret;
    }
    if (strcmp(url, "/res/ok") == 0) {
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        const char *h[] = {"WWW-Authenticate", "Bearer realm=\"r\", error=\"invalid_token\"", NULL};
        if (auth != NULL && strcmp(auth, "Bearer T-alice") == 0)
            return respond(c, 200, "application/json", "{\"ok\":true}", NULL);
        return respond(c, 401, "application/json", "{}", h);
    }
    if (strcmp(url, "/res/json401") == 0)
        return respond(c, 401, "application/json", "{\"error\":{\"code\":\"BAD\"}}", NULL);
    if (strcmp(url, "/echo-ct") == 0) {
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
        char out[256];
        snprintf(out, sizeof(out), "%s:%zu", ct ? ct : "none", body->len);
        return respond(c, 200, "text/plain", out, NULL);
    }
    return respond(c, 404, "text/plain", "not found", NULL);
}

static void fake_done(void *cls, struct MHD_Connection *c, void **req_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct af_buf *body = *req_cls;
    (void)cls;
    (void)c;
    (void)toe;
    if (body != NULL) {
        af_buf_free(body);
        free(body);
        *req_cls = NULL;
    }
}

static void fake_start(void)
{
    const union MHD_DaemonInfo *di;
    struct sockaddr_in sa;
    memset(&fk, 0, sizeof(fk));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = 0; /* any free port, read back below */
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(af_key_generate(AF_ALG_ES256, &fk.key, NULL), AF_OK);
    ck_assert_int_eq(af_key_generate(AF_ALG_ES256, &fk.bad_key, NULL), AF_OK);
    ck_assert_int_eq(af_key_set_kid(fk.bad_key, af_key_kid(fk.key)), AF_OK);
    fk.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, fake_handler, NULL,
                            MHD_OPTION_NOTIFY_COMPLETED, fake_done, NULL, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&sa, MHD_OPTION_END);
    ck_assert_ptr_nonnull(fk.d);
    di = MHD_get_daemon_info(fk.d, MHD_DAEMON_INFO_BIND_PORT);
    fk.port = di->port;
    snprintf(fk.base, sizeof(fk.base), "http://127.0.0.1:%u", fk.port);
}

static void fake_stop(void)
{
    MHD_stop_daemon(fk.d);
    af_key_free(fk.key);
    af_key_free(fk.bad_key);
    free(fk.nonce);
    memset(&fk, 0, sizeof(fk));
}

static const char *const fake_profile =
    "{\"name\": \"fake\", \"issuer\": \"http://127.0.0.1:1\",\n"
    " \"clients\": {\"main\": {\"id\": \"cid\", \"secret\": \"s3cret\", \"auth\": "
    "\"client_secret_basic\", \"redirect_uri\": \"https://client.example/cb\"},\n"
    "   \"poster\": {\"id\": \"cid\", \"secret\": \"s3cret\", \"auth\": \"client_secret_post\", "
    "\"redirect_uri\": \"https://client.example/cb\"}},\n"
    " \"user\": {\"username\": \"alice\", \"password\": \"pw\"},\n"
    " \"login\": {\"forms\": [{\"match\": \"name=\\\"password\\\"\", \"form\": {\"id\": \"f\"},\n"
    "   \"fields\": {\"username\": \"{{target.user.username}}\", \"password\": "
    "\"{{target.user.password}}\"}, \"button\": \"go\"}],\n"
    "   \"cancel\": {\"match\": \"Cancel\", \"link\": \"cancel\"}, \"max_hops\": 5},\n"
    " \"max_body\": 1024, \"timeout_ms\": 5000,\n"
    " \"vars\": {\"scope\": \"openid\", \"revoke\": \"{{meta.revocation_endpoint}}\"},\n"
    " \"skip\": {\"T-SKIPPED\": \"not on this target\"}}";

static const char *const fake_suite =
    "{\"suite\": \"fake\", \"title\": \"engine test\",\n"
    " \"bind\": {\"client\": \"target.clients.main\"},\n"
    " \"templates\": {\n"
    "  \"authorize\": {\"url\": \"{{meta.authorization_endpoint}}\", \"query\": {\n"
    "    \"response_type\": \"code\", \"client_id\": \"{{client.id}}\", \"redirect_uri\": "
    "\"{{client.redirect_uri}}\",\n"
    "    \"scope\": \"{{vars.scope}}\", \"state\": \"{{fresh.state}}\", \"nonce\": "
    "\"{{fresh.nonce}}\", \"login\": \"{{?vars.login}}\"}},\n"
    "  \"token\": {\"method\": \"POST\", \"url\": \"{{meta.token_endpoint}}\", \"auth\": "
    "\"client\",\n"
    "    \"form\": {\"grant_type\": \"authorization_code\", \"code\": \"{{code}}\"}}},\n"
    " \"fixtures\": {\"code\": {\"steps\": [{\"name\": \"authorize\", \"request\": "
    "{\"template\": \"authorize\"}, \"follow\": true,\n"
    "    \"expect\": [{\"redirect\": \"client\"}, {\"params\": \"state\", \"equals\": "
    "\"{{fresh.state}}\"}],\n"
    "    \"capture\": {\"code\": \"params.code\"}}]},\n"
    /* a setup that cannot succeed: /echo answers 200, the fixture wants 201 */
    "  \"broken\": {\"steps\": [{\"name\": \"prepare\", \"request\": {\"url\": "
    "\"{{target.issuer}}/echo\"}, \"expect\": [{\"status\": 201}]}]}},\n"
    " \"checks\": [\n"
    /* 0: fixture, Basic auth, JWT verified, captures from JSON, a claim, a variable */
    "  {\"id\": \"T-CODE\", \"title\": \"code flow\", \"spec\": \"OIDC Core §3.1.3.7\", "
    "\"needs\": [\"code\"], \"steps\": [\n"
    "    {\"name\": \"redeem\", \"request\": {\"template\": \"token\"},\n"
    "     \"expect\": [{\"status\": 200}, {\"header\": \"Cache-Control\", \"has_token\": "
    "\"no-store\"},\n"
    "       {\"jwt\": \"json.id_token\", \"typ\": \"JWT\", \"iss\": \"{{meta.issuer}}\", \"aud\": "
    "\"{{client.id}}\", \"exp\": true, \"iat\": true,\n"
    "        \"nonce\": \"{{fresh.nonce}}\", \"at_hash\": \"json.access_token\", \"alg\": "
    "\"ES256\", \"claims\": [{\"that\": \"sub\", \"equals\": \"alice\"}], \"header\": [{\"that\": "
    "\"kid\", \"present\": true}]}],\n"
    "     \"capture\": {\"at\": \"json.access_token\", \"sub\": {\"from\": \"json.id_token\", "
    "\"claim\": \"sub\"}, \"ttl\": \"json.expires_in\"}},\n"
    "    {\"name\": \"echo\", \"request\": {\"url\": \"{{target.issuer}}/echo\", \"query\": "
    "{\"v\": \"{{sub}}-{{at}}-{{ttl}}\"}},\n"
    "     \"expect\": [{\"body\": true, \"equals\": \"alice-AT-123-300\"}, {\"that\": \"var.at\", "
    "\"equals\": \"AT-123\"}]}]},\n"
    /* 1: reuse, post auth through a step binding */
    "  {\"id\": \"T-REUSE\", \"title\": \"reuse\", \"spec\": \"RFC 6749 §4.1.2\", \"needs\": "
    "[\"code\"], \"steps\": [\n"
    "    {\"name\": \"first\", \"bind\": {\"client\": \"target.clients.poster\"}, \"request\": "
    "{\"template\": \"token\"}, \"expect\": [{\"status\": 200}]},\n"
    "    {\"name\": \"second\", \"request\": {\"template\": \"token\"}, \"expect\": [{\"status\": "
    "400}, {\"json\": \"error\", \"equals\": \"invalid_grant\", \"spec\": \"RFC 6749 "
    "§5.2\"}]}]},\n"
    /* 2: a failing expectation gives its one line */
    "  {\"id\": \"T-FAIL\", \"title\": \"fails\", \"spec\": \"RFC 6749 §5.2\", \"needs\": "
    "[\"code\"], \"steps\": [\n"
    "    {\"name\": \"redeem\", \"request\": {\"template\": \"token\", \"auth\": {\"method\": "
    "\"basic\", \"secret\": \"wrong\"}},\n"
    "     \"expect\": [{\"status\": 200}]},\n"
    "    {\"name\": \"never\", \"request\": {\"url\": \"{{target.issuer}}/echo\"}}]},\n"
    /* 3: login form through the profile's rule */
    "  {\"id\": \"T-LOGIN\", \"title\": \"login\", \"spec\": \"RFC 9700 §4.12\", \"set\": "
    "{\"vars.login\": \"1\"}, \"steps\": [\n"
    "    {\"name\": \"authorize\", \"request\": {\"template\": \"authorize\"}, \"follow\": true,\n"
    "     \"expect\": [{\"redirect\": \"client\"}, {\"on\": \"page\", \"header\": "
    "\"X-Frame-Options\", \"present\": true},\n"
    "       {\"on\": \"after_submit\", \"status\": [302, 303]}, {\"that\": \"hops\", \"equals\": "
    "2}],\n"
    "     \"capture\": {\"code\": \"params.code\", \"page_state\": {\"from\": "
    "\"form.fields.state\", \"on\": \"page\"}}},\n"
    "    {\"name\": \"check\", \"request\": {\"url\": "
    "\"{{target.issuer}}/echo?v={{page_state}}\"}, "
    "\"expect\": [{\"body\": true, \"equals\": \"{{fresh.state}}\"}]}]},\n"
    /* 4: an explicit form submission */
    "  {\"id\": \"T-SUBMIT\", \"title\": \"submit\", \"spec\": \"x\", \"set\": {\"vars.login\": "
    "\"1\"}, \"steps\": [\n"
    "    {\"name\": \"page\", \"request\": {\"template\": \"authorize\"}, \"expect\": "
    "[{\"status\": 200}, {\"that\": \"form.action\", \"equals\": \"{{target.issuer}}/login\"}]},\n"
    "    {\"name\": \"post\", \"request\": {\"submit\": {\"form\": {\"action\": \"^/login$\"}, "
    "\"fields\": {\"password\": \"pw\"}, \"button\": \"go=ok\"}},\n"
    "     \"expect\": [{\"status\": 303}, {\"location\": \"query.code\", \"starts_with\": "
    "\"L-\"}, {\"that\": \"method\", \"equals\": \"POST\"}]}]},\n"
    /* 5: cancel through a link */
    "  {\"id\": \"T-CANCEL\", \"title\": \"cancel\", \"spec\": \"RFC 6749 §4.1.2.1\", \"set\": "
    "{\"vars.login\": \"1\"}, \"steps\": [\n"
    "    {\"name\": \"cancel\", \"request\": {\"template\": \"authorize\"}, \"follow\": "
    "{\"cancel\": true},\n"
    "     \"expect\": [{\"params\": \"error\", \"equals\": \"access_denied\"}, {\"params\": "
    "\"state\", \"equals\": \"{{fresh.state}}\"}]}]},\n"
    /* 6: form_post */
    "  {\"id\": \"T-FORMPOST\", \"title\": \"form_post\", \"spec\": \"x\", \"steps\": [\n"
    "    {\"name\": \"authorize\", \"request\": {\"template\": \"authorize\", \"query\": "
    "{\"response_mode\": \"form_post\"}}, \"follow\": true,\n"
    "     \"expect\": [{\"status\": 200}, {\"redirect\": \"not_client\"}, {\"params\": "
    "\"state\", \"equals\": \"{{fresh.state}}\"}], \"capture\": {\"c\": \"params.code\"}},\n"
    "    {\"name\": \"echo\", \"request\": {\"url\": \"{{target.issuer}}/echo?v={{c}}\"}, "
    "\"expect\": [{\"body\": true, \"equals\": \"FP-1\"}]}]},\n"
    /* 7: cookies, one jar per flow */
    "  {\"id\": \"T-COOKIE\", \"title\": \"cookies\", \"spec\": \"x\", \"steps\": [\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/cookie\"}, \"capture\": {\"sid\": "
    "\"cookie.sid\"}, \"expect\": [{\"header\": \"Set-Cookie\", \"contains\": \"HttpOnly\"}]},\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/echo-cookie\"}, \"expect\": [{\"body\": "
    "true, \"equals\": \"sid={{sid}}\"}]},\n"
    "    {\"flow\": \"b\", \"request\": {\"url\": \"{{target.issuer}}/echo-cookie\"}, "
    "\"expect\": [{\"body\": true, \"equals\": \"none\"}, {\"cookie\": \"sid\", \"present\": "
    "false}]},\n"
    "    {\"flow\": \"main\", \"request\": {\"url\": \"{{target.issuer}}/echo-cookie\"}, "
    "\"expect\": [{\"body\": true, \"equals\": \"sid=xyz\"}]}]},\n"
    /* 8: a fresh jar for the next check */
    "  {\"id\": \"T-JAR\", \"title\": \"jar per check\", \"spec\": \"x\", \"steps\": [\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/echo-cookie\"}, \"expect\": [{\"body\": "
    "true, \"equals\": \"none\"}]}]},\n"
    /* 9-11: body cap, 5xx, redirect loop */
    "  {\"id\": \"T-BIG\", \"title\": \"body cap\", \"spec\": \"x\", \"steps\": [{\"request\": "
    "{\"url\": \"{{target.issuer}}/big\"}}]},\n"
    "  {\"id\": \"T-500\", \"title\": \"5xx\", \"spec\": \"x\", \"steps\": [{\"request\": "
    "{\"url\": \"{{target.issuer}}/500\"}}]},\n"
    "  {\"id\": \"T-LOOP\", \"title\": \"loop\", \"spec\": \"x\", \"steps\": [{\"request\": "
    "{\"url\": \"{{target.issuer}}/loop\"}, \"follow\": true}]},\n"
    /* 12-15: skips */
    "  {\"id\": \"T-SKIPPED\", \"title\": \"profile skip\", \"spec\": \"x\", \"steps\": "
    "[{\"request\": {\"url\": \"{{target.issuer}}/500\"}}]},\n"
    "  {\"id\": \"T-REQ\", \"title\": \"requires\", \"spec\": \"x\", \"requires\": "
    "[\"target.clients.second.id\"], \"steps\": [{\"request\": {\"url\": "
    "\"{{target.issuer}}/500\"}}]},\n"
    "  {\"id\": \"T-WHEN\", \"title\": \"when\", \"spec\": \"x\", \"when\": [{\"that\": "
    "\"meta.code_challenge_methods_supported\", \"contains\": \"plain\"}], \"steps\": "
    "[{\"request\": {\"url\": \"{{target.issuer}}/500\"}}]},\n"
    "  {\"id\": \"T-UNDEF\", \"title\": \"undefined meta\", \"spec\": \"x\", \"steps\": "
    "[{\"request\": {\"url\": \"{{meta.revocation_endpoint}}\"}}]},\n"
    /* the same reached through a profile variable: still the target's word */
    "  {\"id\": \"T-UNDEF2\", \"title\": \"undefined meta, nested\", \"spec\": \"x\", "
    "\"steps\": [{\"request\": {\"url\": \"{{vars.revoke}}\"}}]},\n"
    /* 16: if leaves a step out; the check passes */
    "  {\"id\": \"T-IF\", \"title\": \"if\", \"spec\": \"x\", \"steps\": [\n"
    "    {\"if\": [{\"that\": \"var.nothing\", \"present\": true}], \"request\": {\"url\": "
    "\"{{target.issuer}}/500\"}},\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/hop\"}, \"follow\": true, \"expect\": "
    "[{\"status\": 200}, {\"body\": true, \"equals\": \"hopped\"}, {\"on\": \"first\", "
    "\"status\": 302}]}]},\n"
    /* 17: SHOULD warns */
    "  {\"id\": \"T-SHOULD\", \"title\": \"should\", \"spec\": \"x\", \"severity\": \"SHOULD\", "
    "\"steps\": [{\"request\": {\"url\": \"{{target.issuer}}/echo\"}, \"expect\": [{\"status\": "
    "201}]}]},\n"
    /* 18: a SHOULD expectation in a MUST check warns and the check goes on */
    "  {\"id\": \"T-MIXED\", \"title\": \"mixed\", \"spec\": \"x\", \"steps\": [\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/echo\"}, \"expect\": [{\"status\": 201, "
    "\"severity\": \"SHOULD\", \"why\": \"prefer 201\"}]},\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/echo?v=2\"}, \"expect\": [{\"body\": true, "
    "\"equals\": \"2\"}]}]},\n"
    /* 19: a forged signature */
    "  {\"id\": \"T-BADSIG\", \"title\": \"forged\", \"spec\": \"OIDC Core §3.1.3.7\", \"set\": "
    "{\"code\": \"BADSIG\"}, \"steps\": [\n"
    "    {\"request\": {\"template\": \"token\"}, \"expect\": [{\"jwt\": \"json.id_token\"}]}]},\n"
    /* 20: a required capture that is absent */
    "  {\"id\": \"T-CAPTURE\", \"title\": \"capture\", \"spec\": \"RFC 6749 §4.1.2\", \"steps\": "
    "[\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/echo\"}, \"capture\": {\"code\": "
    "\"params.code\", \"opt\": {\"from\": \"json.x\", \"optional\": true}}}]},\n"
    /* 21: an undefined capture is an error */
    "  {\"id\": \"T-ERROR\", \"title\": \"error\", \"spec\": \"x\", \"steps\": [{\"request\": "
    "{\"url\": \"{{target.issuer}}/echo?v={{typo}}\"}}]},\n"
    /* 22: a fixture run twice under prefixes */
    "  {\"id\": \"T-TWICE\", \"title\": \"two codes\", \"spec\": \"x\", \"needs\": "
    "[{\"fixture\": \"code\", \"as\": \"a\"}, {\"fixture\": \"code\", \"as\": \"b\"}], "
    "\"steps\": [\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/echo?v={{a.code}}\"}, \"expect\": "
    "[{\"body\": true, \"not_equals\": \"{{b.code}}\"}, {\"body\": true, \"starts_with\": "
    "\"C-\"}]}]},\n"
    /* 23: the outcome held, the form did not: format, and the check goes on */
    "  {\"id\": \"T-FORMAT\", \"title\": \"form\", \"spec\": \"x\", \"steps\": [\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/echo?v=1\"}, \"expect\": [{\"body\": "
    "true, \"equals\": \"1\"}, {\"status\": 201, \"role\": \"form\", \"spec\": \"RFC 6749 "
    "§5.2\"}]},\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/echo?v=2\"}, \"expect\": [{\"body\": "
    "true, \"equals\": \"2\"}, {\"status\": 200, \"role\": \"form\"}]}]},\n"
    /* 24: a form failure and then an outcome failure: fail wins */
    "  {\"id\": \"T-FORMFAIL\", \"title\": \"form then outcome\", \"spec\": \"x\", "
    "\"steps\": [\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/echo?v=1\"}, \"expect\": [{\"status\": "
    "201, \"role\": \"form\"}, {\"body\": true, \"equals\": \"2\"}]}]},\n"
    /* 25: a premise that did not happen: inconclusive, never pass */
    "  {\"id\": \"T-PREMISE\", \"title\": \"premise\", \"spec\": \"x\", \"steps\": [\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/echo?v=1\"}, \"expect\": [{\"body\": "
    "true, \"equals\": \"jwks fetched\", \"role\": \"premise\"}]},\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/500\"}}]},\n"
    /* 26: a step-level when on what the target did: inconclusive */
    "  {\"id\": \"T-STEPWHEN\", \"title\": \"step when\", \"spec\": \"x\", \"steps\": [\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/echo\"}, \"capture\": {\"rt\": "
    "{\"from\": \"json.refresh_token\", \"optional\": true}}},\n"
    "    {\"when\": [{\"that\": \"var.rt\", \"present\": true, \"why\": \"no refresh "
    "token\"}], \"request\": {\"url\": \"{{target.issuer}}/500\"}}]},\n"
    /* 27: a condition that names its verdict */
    "  {\"id\": \"T-OTHERWISE\", \"title\": \"otherwise\", \"spec\": \"x\", \"steps\": "
    "[\n"
    "    {\"when\": [{\"that\": \"var.nothing\", \"present\": true, \"otherwise\": "
    "\"error\", \"why\": \"the admin API offers no scenarios\"}], \"request\": {\"url\": "
    "\"{{target.issuer}}/echo\"}}]},\n"
    /* 28-29: a setup that fails is one error, then not run */
    "  {\"id\": \"T-SETUP\", \"title\": \"setup fails\", \"spec\": \"x\", \"needs\": "
    "[\"broken\"], \"steps\": [{\"request\": {\"url\": \"{{target.issuer}}/500\"}}]},\n"
    "  {\"id\": \"T-NOTRUN\", \"title\": \"same setup\", \"spec\": \"x\", \"needs\": "
    "[\"broken\"], \"steps\": [{\"request\": {\"url\": \"{{target.issuer}}/500\"}}]},\n"
    /* 30: the same fixture through "use" is the check's own step: fail */
    "  {\"id\": \"T-USE\", \"title\": \"use is not setup\", \"spec\": \"x\", \"steps\": "
    "[{\"use\": \"broken\"}]},\n"
    /* 31: an evidence step runs after the outcome failed */
    "  {\"id\": \"T-ALWAYS\", \"title\": \"evidence\", \"spec\": \"x\", \"steps\": [\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/echo?v=1\"}, \"expect\": [{\"body\": "
    "true, \"equals\": \"2\"}]},\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/500\"}},\n"
    "    {\"always\": true, \"request\": {\"url\": \"{{target.issuer}}/echo?v=ledger\"}, "
    "\"expect\": [{\"body\": true, \"equals\": \"none\", \"why\": \"the code was "
    "redeemed\"}]}]},\n"
    "  {\"id\": \"T-ALWAYS2\", \"title\": \"evidence that holds\", \"spec\": \"x\", "
    "\"steps\": [\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/echo?v=1\"}, \"expect\": [{\"body\": "
    "true, \"equals\": \"2\"}]},\n"
    "    {\"name\": \"ledger\", \"always\": true, \"request\": {\"url\": "
    "\"{{target.issuer}}/echo?v=none\"}, \"expect\": [{\"body\": true, \"equals\": "
    "\"none\"}]}]},\n"
    /* a forge step: the token it makes is sent; an opaque token is the
     * premise failing */
    "  {\"id\": \"T-FORGE\", \"title\": \"forge\", \"spec\": \"x\", \"steps\": [\n"
    "    {\"set\": {\"t\": \"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln\"}, \"forge\": "
    "{\"from\": \"{{t}}\", \"header\": {\"alg\": \"none\"}, \"signature\": \"drop\"}, "
    "\"as\": \"f\"},\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/echo?v={{f}}\"}, \"expect\": "
    "[{\"body\": true, \"equals\": \"eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.\"}]}]},\n"
    "  {\"id\": \"T-FORGE2\", \"title\": \"forge from opaque\", \"spec\": \"x\", "
    "\"steps\": [\n"
    "    {\"set\": {\"t\": \"opaque-token\"}, \"forge\": {\"from\": \"{{t}}\", "
    "\"signature\": \"drop\"}, \"as\": \"f\"},\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/500\"}}]},\n"
    /* a run step: a command that succeeds lets the check go on, one that
     * fails is an error of the check */
    "  {\"id\": \"T-RUN\", \"title\": \"run\", \"spec\": \"x\", \"steps\": [\n"
    "    {\"run\": [\"true\"]}, {\"request\": {\"url\": \"{{target.issuer}}/echo?v=ran\"}, "
    "\"expect\": [{\"body\": true, \"equals\": \"ran\"}]}]},\n"
    "  {\"id\": \"T-RUN2\", \"title\": \"run fails\", \"spec\": \"x\", \"steps\": [\n"
    "    {\"run\": [\"sh\", \"-c\", \"exit 3\"]}, {\"request\": {\"url\": "
    "\"{{target.issuer}}/echo?v=ran\"}}]},\n"
    "  {\"id\": \"T-RUN3\", \"title\": \"run nothing\", \"spec\": \"x\", \"steps\": [\n"
    "    {\"run\": [\"authprobe-no-such-program\"]}]},\n"
    /* concurrent: both clients "log in" (echo) and call at once; the
     * second check expects an identity no answer has */
    "  {\"id\": \"T-CONC\", \"title\": \"concurrent\", \"spec\": \"x\", \"steps\": [\n"
    "    {\"concurrent\": {\"each\": \"target.clients\", \"as\": \"cl\", \"login\": "
    "{\"url\": \"{{target.issuer}}/echo?v=t-{{cl.auth}}\"}, \"token\": \"body\", "
    "\"request\": {\"url\": \"{{target.issuer}}/echo?v={{tok}}\"}, \"identity\": \"body\", "
    "\"expect\": \"{{tok}}\", \"rounds\": 2}}]},\n"
    "  {\"id\": \"T-CONC2\", \"title\": \"concurrent, wrong\", \"spec\": \"x\", \"steps\": [\n"
    "    {\"concurrent\": {\"each\": \"target.clients\", \"as\": \"cl\", \"login\": "
    "{\"url\": \"{{target.issuer}}/echo?v=t-{{cl.auth}}\"}, \"token\": \"body\", "
    "\"request\": {\"url\": \"{{target.issuer}}/echo?v=someone\"}, \"identity\": \"body\", "
    "\"expect\": \"{{tok}}\", \"rounds\": 3}}]},\n"
    /* race: /once answers one copy 200 (pass); /echo every copy (fail);
     * /500 every copy a 5xx (format); a key already used answers every
     * copy 400 in both rounds (inconclusive) */
    "  {\"id\": \"T-RACE\", \"title\": \"race\", \"spec\": \"x\", \"steps\": [\n"
    "    {\"race\": {\"request\": {\"url\": \"{{target.issuer}}/once?k=r1\"}, \"copies\": "
    "4}}]},\n"
    "  {\"id\": \"T-RACE2\", \"title\": \"race lost\", \"spec\": \"RFC x\", \"steps\": [\n"
    "    {\"race\": {\"request\": {\"url\": \"{{target.issuer}}/echo?v=1\"}, \"copies\": 4, "
    "\"why\": \"once only\"}}]},\n"
    "  {\"id\": \"T-RACE3\", \"title\": \"race 5xx\", \"spec\": \"x\", \"steps\": [\n"
    "    {\"race\": {\"request\": {\"url\": \"{{target.issuer}}/500\"}, \"copies\": 3}}]},\n"
    "  {\"id\": \"T-RACE4\", \"title\": \"race never won\", \"spec\": \"x\", \"steps\": [\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/once?k=r4\"}, \"expect\": [{\"status\": "
    "200}]},\n"
    "    {\"race\": {\"request\": {\"url\": \"{{target.issuer}}/once?k=r4\"}, \"rounds\": 2, "
    "\"again\": \"code\"}}]},\n"
    "  {\"id\": \"T-RACE5\", \"title\": \"race, rounds\", \"spec\": \"x\", \"steps\": [\n"
    "    {\"race\": {\"request\": {\"url\": \"{{target.issuer}}/once?k=r5\"}, \"rounds\": 3, "
    "\"again\": \"code\"}}]},\n"
    /* after a control, a server that refuses every copy keeps the rule */
    "  {\"id\": \"T-RACE6\", \"title\": \"race refused\", \"spec\": \"x\", \"steps\": [\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/once?k=r6\"}, \"expect\": [{\"status\": "
    "200}]},\n"
    "    {\"race\": {\"request\": {\"url\": \"{{target.issuer}}/once?k=r6\"}, \"if_none_won\": "
    "\"pass\"}}]},\n"
    /* 32-33: a host that does not answer: an error once, then not run */
    "  {\"id\": \"T-DOWN\", \"title\": \"unreachable\", \"spec\": \"x\", \"steps\": "
    "[{\"request\": {\"url\": \"http://127.0.0.1:1/x\"}}]},\n"
    "  {\"id\": \"T-DOWN2\", \"title\": \"unreachable again\", \"spec\": \"x\", "
    "\"steps\": [{\"request\": {\"url\": \"http://127.0.0.1:1/y\"}}]}\n"
    " ]}";

static const struct {
    const char *id;
    af_check_status st;
    const char *msg; /* part of the headline message; NULL: none expected */
} run_cases[] = {
    {"T-CODE", AF_CHECK_PASS, NULL},
    {"T-REUSE", AF_CHECK_PASS, NULL},
    {"T-FAIL", AF_CHECK_FAIL,
     "T-FAIL [redeem] status: expected 200, got 401 (error=invalid_client) (RFC 6749 §5.2)"},
    {"T-LOGIN", AF_CHECK_PASS, NULL},
    {"T-SUBMIT", AF_CHECK_PASS, NULL},
    {"T-CANCEL", AF_CHECK_PASS, NULL},
    {"T-FORMPOST", AF_CHECK_PASS, NULL},
    {"T-COOKIE", AF_CHECK_PASS, NULL},
    {"T-JAR", AF_CHECK_PASS, NULL},
    {"T-BIG", AF_CHECK_FAIL, "the response body exceeds 1024 bytes"},
    {"T-500", AF_CHECK_FAIL, "status: expected no server error, got 500 from"},
    {"T-LOOP", AF_CHECK_FAIL, "follow: expected to reach the client within 5 hops"},
    {"T-SKIPPED", AF_CHECK_SKIP, "the target profile skips it: not on this target"},
    {"T-REQ", AF_CHECK_SKIP, "requires target.clients.second.id"},
    /* What the server's metadata says is about the target: never a skip. */
    {"T-WHEN", AF_CHECK_INCONCLUSIVE,
     "meta.code_challenge_methods_supported: expected something "
     "containing \"plain\", got [\"S256\"]"},
    {"T-UNDEF", AF_CHECK_INCONCLUSIVE, "needs meta.revocation_endpoint"},
    {"T-UNDEF2", AF_CHECK_INCONCLUSIVE, "meta.revocation_endpoint"},
    {"T-IF", AF_CHECK_PASS, NULL},
    {"T-SHOULD", AF_CHECK_WARN, "status: expected 201, got 200"},
    {"T-MIXED", AF_CHECK_WARN, "status: expected 201, got 200; prefer 201 (x)"},
    {"T-BADSIG", AF_CHECK_FAIL, "json.id_token: signature: expected it to verify"},
    {"T-CAPTURE", AF_CHECK_FAIL,
     "T-CAPTURE [step 1] capture code: params.code is absent (expected a value) (RFC 6749 "
     "§4.1.2)"},
    {"T-ERROR", AF_CHECK_ERROR, "T-ERROR [step 1] error: typo is not defined"},
    {"T-TWICE", AF_CHECK_PASS, NULL},
    {"T-FORMAT", AF_CHECK_FORMAT,
     "T-FORMAT [step 1] status: expected 201, got 200 (RFC 6749 §5.2)"},
    {"T-FORMFAIL", AF_CHECK_FAIL, "body: expected \"2\""},
    {"T-PREMISE", AF_CHECK_INCONCLUSIVE, "premise not met: body: expected \"jwks fetched\""},
    {"T-STEPWHEN", AF_CHECK_INCONCLUSIVE, "inconclusive: no refresh token"},
    {"T-OTHERWISE", AF_CHECK_ERROR, "error: the admin API offers no scenarios"},
    {"T-SETUP", AF_CHECK_ERROR, "the setup broken could not be completed"},
    {"T-NOTRUN", AF_CHECK_NOTRUN,
     "T-NOTRUN not run: it needs the setup broken, which failed in "
     "T-SETUP"},
    {"T-USE", AF_CHECK_FAIL, "status: expected 201, got 200"},
    {"T-ALWAYS", AF_CHECK_FAIL, "body: expected \"2\""},
    {"T-ALWAYS2", AF_CHECK_FAIL, "body: expected \"2\""},
    {"T-FORGE", AF_CHECK_PASS, NULL},
    {"T-RUN", AF_CHECK_PASS, NULL},
    {"T-CONC", AF_CHECK_PASS, NULL},
    {"T-CONC2", AF_CHECK_FAIL,
     "round 1: the answer to main's request names \"someone\", not t-client_secret_basic: "
     "another principal's data (2 of 2 answers of the round wrong)"},
    {"T-RUN2", AF_CHECK_ERROR, "run: sh failed (exit 3)"},
    {"T-RUN3", AF_CHECK_ERROR, "authprobe-no-such-program"},
    {"T-FORGE2", AF_CHECK_INCONCLUSIVE, "not a compact JWS"},
    {"T-RACE", AF_CHECK_PASS, NULL},
    {"T-RACE2", AF_CHECK_FAIL,
     "T-RACE2 [step 1] round 1: 4 of 4 copies of the same request sent at once were answered "
     "2xx (at most 1 may be): 4x200; once only (RFC x)"},
    {"T-RACE3", AF_CHECK_FORMAT,
     "3 copies sent at once got a 5xx or no answer (last round: 3x500)"},
    {"T-RACE4", AF_CHECK_INCONCLUSIVE,
     "in 2 rounds no copy was answered 2xx (last: 8x400): the redemption the race is about "
     "never happened"},
    {"T-RACE5", AF_CHECK_PASS, NULL},
    {"T-RACE6", AF_CHECK_PASS, NULL},
    {"T-DOWN", AF_CHECK_ERROR, "could not reach http://127.0.0.1:1/x"},
    {"T-DOWN2", AF_CHECK_NOTRUN, "not run: http://127.0.0.1:1 could not be reached in T-DOWN"},
};

static struct af_results *run_results;
static size_t progress_done;
static char run_base[64]; /* the fixture's base URL during the run */

static void count_done(void *ud, size_t idx, size_t total, const struct af_check_result *r)
{
    (void)ud;
    (void)r;
    ck_assert_uint_lt(idx, total + 1);
    progress_done++;
}

static void run_setup(void)
{
    struct af_suite *s = NULL;
    struct af_target *t = NULL;
    struct af_probe_opts o;
    struct af_err e;
    af_rc rc;

    fake_start();
    af_err_clear(&e);
    rc = af_suite_load_string(fake_suite, "fake.json", &s, &e);
    ck_assert_msg(rc == AF_OK, "%s", e.msg);
    rc = af_target_load_string(fake_profile, "fake-profile.json", &t, &e);
    ck_assert_msg(rc == AF_OK, "%s", e.msg);
    memset(&o, 0, sizeof(o));
    o.issuer = fk.base;
    o.on_done = count_done;
    progress_done = 0;
    rc = af_probe_run(s, t, &o, &run_results, &e);
    ck_assert_msg(rc == AF_OK, "%s", e.msg);
    snprintf(run_base, sizeof(run_base), "%s", fk.base);
    af_suite_free(s);
    af_target_free(t);
    /* The results are all the tests need: stop the server before they fork
     * (its thread would not exist in the children). */
    fake_stop();
}

static void run_teardown(void)
{
    af_results_free(run_results);
    run_results = NULL;
}

static const struct af_check_result *result_of(const char *id)
{
    size_t i;
    for (i = 0; i < run_results->n; i++)
        if (strcmp(run_results->v[i].id, id) == 0)
            return &run_results->v[i];
    ck_abort_msg("no result for %s", id);
    return NULL;
}

START_TEST(test_run_checks)
{
    const struct af_check_result *r = result_of(run_cases[_i].id);
    ck_assert_msg(r->status == run_cases[_i].st, "%s: %s, want %s: %s", r->id,
                  af_check_status_name(r->status), af_check_status_name(run_cases[_i].st),
                  r->message ? r->message : "(no message)");
    if (run_cases[_i].msg != NULL) {
        ck_assert_ptr_nonnull(r->message);
        ck_assert_msg(strstr(r->message, run_cases[_i].msg) != NULL, "%s: \"%s\"", r->id,
                      r->message);
        ck_assert_ptr_null(strchr(r->message, '\n'));
    }
    if (r->status == AF_CHECK_PASS)
        ck_assert_uint_eq(r->nfails, 0);
}
END_TEST

START_TEST(test_run_totals)
{
    size_t i, sum = 0;
    ck_assert_uint_eq(run_results->n, (size_t)N(run_cases));
    ck_assert_uint_eq(progress_done, run_results->n);
    for (i = 0; i < AF_CHECK_NSTATUS; i++)
        sum += run_results->count[i];
    ck_assert_uint_eq(sum, run_results->n);
    ck_assert_int_eq(af_results_exit_code(run_results), AF_PROBE_EXIT_FAILED);
    /* T-DOWN's host did not answer: the run is marked, and still exits 1
     * because MUST checks failed. */
    ck_assert(run_results->unreachable);
    ck_assert_str_eq(run_results->issuer, run_base);
    /* T-FAIL stopped after its failing step: the second step never ran. */
    ck_assert_uint_eq(result_of("T-FAIL")->requests, 2); /* authorize, redeem; not "never" */
    ck_assert_uint_eq(result_of("T-CODE")->requests, 4); /* authorize, redeem, JWKS, echo */
    /* The JWKS is fetched once per run, counted in the first check using it. */
    ck_assert_uint_eq(result_of("T-BADSIG")->requests, 1);
    /* A form failure lets the check go on; its headline is not the title. */
    ck_assert_uint_eq(result_of("T-FORMAT")->requests, 2);
    ck_assert_uint_eq(result_of("T-FORMAT")->nfails, 1);
    ck_assert_ptr_nonnull(result_of("T-FORMAT")->headline);
    ck_assert_str_eq(result_of("T-FORMAT")->headline,
                     "refused as required, but not in the form RFC 6749 §5.2 requires");
    ck_assert_int_eq(result_of("T-FORMAT")->fails[0].role, AF_ROLE_FORM);
    ck_assert_ptr_null(result_of("T-FAIL")->headline);
    /* A premise that failed stops the check: /500 was never asked. */
    ck_assert_uint_eq(result_of("T-PREMISE")->requests, 1);
    ck_assert_int_eq(result_of("T-PREMISE")->fails[0].role, AF_ROLE_PREMISE);
    /* One setup failure, reported once: the next check sends nothing. */
    ck_assert_uint_eq(result_of("T-SETUP")->requests, 1);
    ck_assert_int_eq(result_of("T-SETUP")->fails[0].role, AF_ROLE_SETUP);
    ck_assert_uint_eq(result_of("T-NOTRUN")->requests, 0);
    ck_assert_uint_eq(result_of("T-DOWN2")->requests, 0);
    /* After the outcome failed, the evidence step ran (and added its line)
     * but the plain step before it did not. */
    ck_assert_uint_eq(result_of("T-ALWAYS")->requests, 2);
    /* concurrent: two logins, then two at once per round; a wrong round
     * ends the step */
    ck_assert_uint_eq(result_of("T-CONC")->requests, 6);
    ck_assert_uint_eq(result_of("T-CONC2")->requests, 4);
    /* what the evidence step found is evidence, not one more failure */
    ck_assert_uint_eq(result_of("T-ALWAYS")->nfails, 1);
    ck_assert_ptr_nonnull(result_of("T-ALWAYS")->evidence);
    ck_assert_ptr_nonnull(strstr(result_of("T-ALWAYS")->evidence, "the code was redeemed"));
    ck_assert_ptr_nonnull(strstr(result_of("T-ALWAYS")->evidence, "expected \"none\""));
    /* an evidence step whose expectations hold says so */
    ck_assert_ptr_nonnull(result_of("T-ALWAYS2")->evidence);
    ck_assert_ptr_nonnull(strstr(result_of("T-ALWAYS2")->evidence, "[ledger] held"));
    ck_assert_uint_eq(result_of("T-ALWAYS2")->nfails, 1);
    /* no evidence step ran after a pass */
    ck_assert_ptr_null(result_of("T-IF")->evidence);
}
END_TEST

/* ---- the engine parts of the rs and rp suites: foreach, admin requests,
 * use, conditional expectations, hop picks by URL, templated selectors and
 * statuses (docs/suite-format.md §2, §4, §5, §10) ---- */

static const char *const fake2_profile =
    "{\"name\": \"fake2\", \"issuer\": \"http://127.0.0.1:1\", \"discovery\": false,\n"
    " \"admin\": {\"url\": \"{{target.issuer}}/\", \"secret\": \"adm1n\"},\n"
    " \"principals\": {\"p1\": {\"user\": \"alice\"}, \"p2\": {\"user\": \"bob\"}},\n"
    " \"resources\": [\n"
    "   {\"name\": \"ok\", \"url\": \"{{target.issuer}}/res/ok\", \"allow\": [\"p1\", \"p2\"], "
    "\"scope\": \"s1\"},\n"
    "   {\"name\": \"legacy\", \"url\": \"{{target.issuer}}/res/json401\", \"allow\": [\"p1\"],\n"
    "    \"error_in\": \"json\", \"error_key\": \"error.code\", \"status_invalid_token\": [401, "
    "403]}],\n"
    " \"vars\": {\"pname\": \"v\"}}";

static const char *const fake2_suite =
    "{\"suite\": \"fake2\",\n"
    " \"vars\": {\"ttl\": 60, \"claims\": {\"roles\": [\"r\"]},\n"
    "   \"res\": {\"ok\": 200, \"m\": \"GET\", \"error_in\": \"header\", \"error_key\": "
    "\"error\",\n"
    "            \"status_invalid_token\": 401}},\n"
    " \"templates\": {\"mint\": {\"admin\": \"/admin/tokens\", \"method\": \"POST\", \"json\": "
    "{\"user\": \"{{who.user}}\",\n"
    "   \"ttl\": \"{{vars.ttl}}\", \"scope\": \"{{?res.scope}}\", \"claims\": "
    "\"{{vars.claims}}\", \"defects\": [\"x\"]}}},\n"
    " \"fixtures\": {\"tok\": {\"steps\": [{\"name\": \"mint\", \"request\": {\"template\": "
    "\"mint\"},\n"
    "   \"expect\": [{\"status\": 200}], \"capture\": {\"tok\": \"json.access_token\"}}]}},\n"
    " \"checks\": [\n"
    /* 0: an admin request: base URL, bearer secret, Accept, JSON types kept */
    "  {\"id\": \"E-ADMIN\", \"title\": \"admin\", \"spec\": \"x\", \"bind\": {\"who\": "
    "\"target.principals.p1\"}, \"steps\": [\n"
    "    {\"name\": \"mint\", \"request\": {\"template\": \"mint\"}, \"expect\": [{\"status\": "
    "200},\n"
    "      {\"json\": \"got.ttl\", \"type\": \"integer\"}, {\"json\": \"got.ttl\", \"equals\": "
    "60},\n"
    "      {\"json\": \"got.defects\", \"equals\": [\"x\"]}, {\"json\": \"got.scope\", "
    "\"present\": false},\n"
    "      {\"json\": \"got.claims\", \"equals\": {\"roles\": [\"r\"]}}, {\"json\": \"accept\", "
    "\"equals\": \"application/json\"},\n"
    "      {\"that\": \"url\", \"equals\": \"{{target.issuer}}/admin/tokens\"}]}]},\n"
    /* 1: foreach over resources with defaults, nested over principals */
    "  {\"id\": \"E-EACH\", \"title\": \"each\", \"spec\": \"x\",\n"
    "   \"foreach\": [{\"var\": \"res\", \"in\": \"target.resources\", \"defaults\": "
    "\"vars.res\"}, {\"var\": \"pname\", \"in\": \"res.allow\"}],\n"
    "   \"bind\": {\"who\": \"target.principals.{{pname}}\"}, \"needs\": [\"tok\"], \"steps\": [\n"
    "    {\"name\": \"call\", \"request\": {\"url\": \"{{res.url}}\", \"method\": "
    "\"{{res.m}}\", \"bearer\": \"{{tok}}\"},\n"
    "     \"expect\": [{\"status\": \"{{res.ok}}\"}]}]},\n"
    /* 2: the refusal contract per resource: header or JSON, as the profile says */
    "  {\"id\": \"E-CONTRACT\", \"title\": \"contract\", \"spec\": \"x\", \"foreach\": "
    "{\"var\": \"res\", \"in\": \"target.resources\", \"defaults\": \"vars.res\"},\n"
    "   \"steps\": [{\"request\": {\"url\": \"{{res.url}}\"}, \"expect\": [{\"all\": [\n"
    "     {\"status\": \"{{res.status_invalid_token}}\"},\n"
    "     {\"header\": \"WWW-Authenticate\", \"matches\": \"error=\\\"invalid_token\", \"if\": "
    "[{\"that\": \"res.error_in\", \"equals\": \"header\"}]},\n"
    "     {\"that\": \"json.{{res.error_key}}\", \"equals\": \"BAD\", \"if\": [{\"that\": "
    "\"res.error_in\", \"equals\": \"json\"}]}]}]}]},\n"
    /* 3: an element without a scope is skipped, the check passes */
    "  {\"id\": \"E-SOME\", \"title\": \"some\", \"spec\": \"x\", \"foreach\": {\"var\": "
    "\"res\", \"in\": \"target.resources\"},\n"
    "   \"requires\": [\"res.scope\"], \"steps\": [{\"request\": {\"url\": "
    "\"{{target.issuer}}/echo?v={{res.scope}}\"}, \"expect\": [{\"body\": true, \"equals\": "
    "\"s1\"}]}]},\n"
    /* 4: every element skipped: the check is skipped with the first reason */
    "  {\"id\": \"E-NONE\", \"title\": \"none\", \"spec\": \"x\", \"foreach\": {\"var\": "
    "\"res\", \"in\": \"target.resources\"},\n"
    "   \"requires\": [\"res.nothing\"], \"steps\": [{\"request\": {\"url\": \"{{res.url}}\"}}]},\n"
    /* 5: nothing to run over */
    "  {\"id\": \"E-EMPTY\", \"title\": \"empty\", \"spec\": \"x\", \"foreach\": {\"var\": \"r\", "
    "\"in\": \"target.nothing\"},\n"
    "   \"steps\": [{\"request\": {\"url\": \"{{target.issuer}}/500\"}}]},\n"
    /* 6: expectations whose if does not hold are left out, also inside any */
    "  {\"id\": \"E-IF\", \"title\": \"if\", \"spec\": \"x\", \"steps\": [\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/echo?v=1\"}, \"expect\": [\n"
    "      {\"status\": 500, \"if\": [{\"that\": \"vars.res.m\", \"equals\": \"POST\"}]},\n"
    "      {\"any\": [{\"status\": 500, \"if\": [{\"that\": \"vars.ttl\", \"equals\": 1}]}, "
    "{\"body\": true, \"equals\": \"2\"}]}]}]},\n"
    /* 7: use runs a fixture mid-check; its captures stay */
    "  {\"id\": \"E-USE\", \"title\": \"use\", \"spec\": \"x\", \"steps\": [\n"
    "    {\"name\": \"get a token\", \"use\": \"tok\", \"bind\": {\"who\": "
    "\"target.principals.p2\"}},\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/echo?v={{tok}}\"}, \"expect\": [{\"body\": "
    "true, \"equals\": \"T-bob\"}]}]},\n"
    /* 8: pick a hop by its URL or by where it redirected */
    "  {\"id\": \"E-ON\", \"title\": \"on\", \"spec\": \"x\", \"steps\": [\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/hop\"}, \"follow\": true, \"expect\": [\n"
    "      {\"that\": \"url\", \"on\": {\"location\": \"{{target.issuer}}/echo\"}, \"equals\": "
    "\"{{target.issuer}}/hop\"},\n"
    "      {\"status\": 200, \"on\": {\"url\": \"{{target.issuer}}/echo\"}}],\n"
    "     \"capture\": {\"h\": {\"from\": \"location\", \"on\": {\"url\": "
    "\"{{target.issuer}}/hop\"}}}},\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/echo?v=1\"}, \"expect\": [{\"that\": "
    "\"var.h\", \"equals\": \"{{target.issuer}}/echo?v=hopped\"},\n"
    "      {\"status\": 200, \"on\": {\"url\": \"http://elsewhere.example/\"}}]}]},\n"
    /* 9: a refused connection judged as an answer */
    "  {\"id\": \"E-UNREACH\", \"title\": \"unreachable\", \"spec\": \"x\", \"steps\": [\n"
    "    {\"request\": {\"url\": \"http://127.0.0.1:1/x\"}, \"allow_unreachable\": true, "
    "\"expect\": [{\"status\": {\"max\": 199}}]}]},\n"
    /* 10: an optional body left undefined sends none */
    "  {\"id\": \"E-NOBODY\", \"title\": \"no body\", \"spec\": \"x\", \"steps\": [\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/echo-ct\", \"method\": \"POST\", \"json\": "
    "\"{{?vars.nope}}\"}, \"expect\": [{\"body\": true, \"equals\": \"none:0\"}]},\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/echo-ct\", \"json\": \"{{vars.claims}}\"}, "
    "\"expect\": [{\"body\": true, \"equals\": \"application/json:15\"}]}]},\n"
    /* 11: not_matches, and a pair whose name is a template */
    "  {\"id\": \"E-NOTMATCH\", \"title\": \"not_matches\", \"spec\": \"x\", \"steps\": [\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/echo\", \"query\": [[\"{{vars.pname}}\", "
    "\"abc\"]]},\n"
    "     \"expect\": [{\"body\": true, \"not_matches\": \"^x\"}, {\"body\": true, "
    "\"not_matches\": \"b\\nc\"}, {\"body\": true, \"not_matches\": \"b\"}]}]},\n"
    /* 12: a back channel neither sends nor stores the flow's cookies; nor
     * does the admin API */
    "  {\"id\": \"E-NOCOOKIE\", \"title\": \"back channel\", \"spec\": \"x\", \"steps\": [\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/cookie\"}},\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/echo-cookie\", \"cookies\": false}, "
    "\"expect\": [{\"body\": true, \"equals\": \"none\"}]},\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/cookie-b\", \"cookies\": false}},\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/echo-cookie\"}, \"expect\": [{\"body\": "
    "true, \"equals\": \"sid=xyz\"}]},\n"
    "    {\"request\": {\"admin\": \"/echo-cookie\"}, \"expect\": [{\"body\": true, "
    "\"equals\": \"none\"}]}]},\n"
    /* 13: AS-05: the server rewrote the injected code; its redirect is still
     * the client's and is never fetched */
    "  {\"id\": \"E-REWRITE\", \"title\": \"rewritten code\", \"spec\": \"x\", \"steps\": [\n"
    "    {\"request\": {\"url\": \"{{target.issuer}}/rewrite\", \"query\": {\"redirect_uri\": "
    "\"{{target.issuer}}/client-cb?code=attacker\"}}, \"follow\": true,\n"
    "     \"expect\": [{\"redirect\": \"client\"}, {\"params\": \"code\", \"equals\": "
    "\"REAL\"}]}]},\n"
    /* 14: a live code in a URL is redacted in the failure line */
    "  {\"id\": \"E-REDACT\", \"title\": \"redacted\", \"spec\": \"x\", \"steps\": "
    "[{\"request\": {\"url\": \"{{target.issuer}}/500?code=LIVECODE123&v=1\"}}]}\n"
    " ]}";

static const struct {
    const char *id;
    af_check_status st;
    const char *msg;
    unsigned requests; /* 0: not checked */
} run2_cases[] = {
    {"E-ADMIN", AF_CHECK_PASS, NULL, 1},
    /* ok/p1 passes, ok/p2 and legacy/p1 fail: one result, the first failure */
    {"E-EACH", AF_CHECK_FAIL, "E-EACH [ok, p2: call] status: expected 200, got 401", 6},
    {"E-CONTRACT", AF_CHECK_PASS, NULL, 2},
    {"E-SOME", AF_CHECK_PASS, NULL, 1},
    {"E-NONE", AF_CHECK_SKIP, "E-NONE [ok] skipped: requires res.nothing", 0},
    {"E-EMPTY", AF_CHECK_SKIP, "target.nothing is not a list with elements", 0},
    {"E-IF", AF_CHECK_FAIL, "body: expected \"2\", got \"1\"", 1},
    {"E-USE", AF_CHECK_PASS, NULL, 2},
    {"E-ON", AF_CHECK_INCONCLUSIVE, "did not happen", 3},
    {"E-UNREACH", AF_CHECK_PASS, NULL, 1},
    {"E-NOBODY", AF_CHECK_PASS, NULL, 2},
    {"E-NOTMATCH", AF_CHECK_FAIL, "body: expected no match for /b/, got \"abc\"", 1},
    {"E-NOCOOKIE", AF_CHECK_PASS, NULL, 5},
    {"E-REWRITE", AF_CHECK_PASS, NULL, 1}, /* the client's URI was not fetched */
    {"E-REDACT", AF_CHECK_FAIL, "/500?code=LIVE...[redacted 11 chars]&v=1 (x)", 1},
};

static struct af_results *run2_results, *run3_results;

static void run2_setup(void)
{
    struct af_suite *s = NULL;
    struct af_target *t = NULL;
    struct af_probe_opts o;
    struct af_err e;
    af_rc rc;

    /* The admin API comes from the profile here, not the environment. */
    unsetenv(AF_ADMIN_ENV_URL);
    unsetenv(AF_ADMIN_ENV_SECRET);
    fake_start();
    af_err_clear(&e);
    rc = af_suite_load_string(fake2_suite, "fake2.json", &s, &e);
    ck_assert_msg(rc == AF_OK, "%s", e.msg);
    rc = af_target_load_string(fake2_profile, "fake2-profile.json", &t, &e);
    ck_assert_msg(rc == AF_OK, "%s", e.msg);
    memset(&o, 0, sizeof(o));
    o.issuer = fk.base;
    rc = af_probe_run(s, t, &o, &run2_results, &e);
    ck_assert_msg(rc == AF_OK, "%s", e.msg);
    af_target_free(t);
    /* Without any admin URL the admin checks are skipped with the reason;
     * --admin (admin_url) without the secret reaches the API and is refused. */
    t = NULL;
    rc = af_target_load_string("{\"issuer\": \"http://127.0.0.1:1\", \"discovery\": false, "
                               "\"principals\": {\"p1\": {\"user\": \"alice\"}}}",
                               "noadmin.json", &t, &e);
    ck_assert_msg(rc == AF_OK, "%s", e.msg);
    o.filter.only = (const char *const[]){"E-ADMIN"};
    o.filter.nonly = 1;
    rc = af_probe_run(s, t, &o, &run3_results, &e);
    ck_assert_msg(rc == AF_OK, "%s", e.msg);
    af_suite_free(s);
    af_target_free(t);
    fake_stop();
}

static void run2_teardown(void)
{
    af_results_free(run2_results);
    af_results_free(run3_results);
    run2_results = run3_results = NULL;
}

START_TEST(test_run2_checks)
{
    const struct af_check_result *r = NULL;
    size_t i;
    for (i = 0; i < run2_results->n; i++)
        if (strcmp(run2_results->v[i].id, run2_cases[_i].id) == 0)
            r = &run2_results->v[i];
    ck_assert_ptr_nonnull(r);
    ck_assert_msg(r->status == run2_cases[_i].st, "%s: %s, want %s: %s", r->id,
                  af_check_status_name(r->status), af_check_status_name(run2_cases[_i].st),
                  r->message ? r->message : "(no message)");
    if (run2_cases[_i].msg != NULL) {
        ck_assert_ptr_nonnull(r->message);
        ck_assert_msg(strstr(r->message, run2_cases[_i].msg) != NULL, "%s: \"%s\"", r->id,
                      r->message);
        ck_assert_ptr_null(strchr(r->message, '\n'));
    }
    if (run2_cases[_i].requests > 0)
        ck_assert_msg(r->requests == run2_cases[_i].requests, "%s: %u requests", r->id,
                      r->requests);
}
END_TEST

START_TEST(test_run2_totals)
{
    const struct af_check_result *each = NULL, *admin = NULL;
    size_t i;
    ck_assert_uint_eq(run2_results->n, (size_t)N(run2_cases));
    /* a refused connection the step allowed does not make the run unreachable */
    ck_assert(!run2_results->unreachable);
    for (i = 0; i < run2_results->n; i++)
        if (strcmp(run2_results->v[i].id, "E-EACH") == 0)
            each = &run2_results->v[i];
    ck_assert_ptr_nonnull(each);
    /* every failing element is listed, each named */
    ck_assert_uint_eq(each->nfails, 2);
    ck_assert_ptr_nonnull(strstr(each->fails[1].line, "[legacy, p1: call]"));
    for (i = 0; i < run3_results->n; i++)
        if (strcmp(run3_results->v[i].id, "E-ADMIN") == 0)
            admin = &run3_results->v[i];
    ck_assert_ptr_nonnull(admin);
    ck_assert_int_eq(admin->status, AF_CHECK_SKIP);
    ck_assert_ptr_nonnull(strstr(admin->message, "needs authflowd's admin API"));
}
END_TEST

/* ---- reporters ---- */

/* xml_well_formed: a small checker (no XML library among the
 * dependencies): balanced tags, quoted attributes, known entities only. */
static bool xml_well_formed(const char *s)
{
    char stack[32][64];
    int depth = 0;
    const char *p = s;
    if (strncmp(p, "<?xml ", 6) != 0)
        return false;
    p = strstr(p, "?>");
    if (p == NULL)
        return false;
    p += 2;
    while (*p) {
        if (*p == '&') {
            static const char *const ents[] = {"&amp;",  "&lt;",   "&gt;",
                                               "&quot;", "&apos;", "&#10;"};
            size_t i;
            bool ok = false;
            for (i = 0; i < 6; i++)
                ok = ok || strncmp(p, ents[i], strlen(ents[i])) == 0;
            if (!ok)
                return false;
            p++;
            continue;
        }
        if (*p != '<') {
            if (*p == '>')
                return false;
            p++;
            continue;
        }
        if (p[1] == '/') {
            size_t n = strcspn(p + 2, ">");
            if (depth == 0 || strlen(stack[depth - 1]) != n ||
                strncmp(stack[depth - 1], p + 2, n) != 0)
                return false;
            depth--;
            p += 2 + n + 1;
            continue;
        } else {
            size_t n = strcspn(p + 1, " />");
            const char *q = p + 1 + n;
            bool inq = false;
            if (n == 0 || n >= 64 || depth >= 32)
                return false;
            while (*q && (inq || *q != '>')) {
                if (*q == '"')
                    inq = !inq;
                else if (inq && (*q == '<' || *q == '\n'))
                    return false;
                q++;
            }
            if (*q != '>')
                return false;
            if (q[-1] != '/') {
                memcpy(stack[depth], p + 1, n);
                stack[depth][n] = '\0';
                depth++;
            }
            p = q + 1;
        }
    }
    return depth == 0;
}

static char *report_text(af_report_format fmt, const struct af_results *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(af_report_write(f, fmt, r), AF_OK);
    fclose(f);
    return buf;
}

START_TEST(test_report_json)
{
    char *t = report_text(AF_REPORT_JSON, run_results);
    json_error_t je;
    json_t *j = json_loads(t, 0, &je), *c, *fails;
    size_t i;
    ck_assert_msg(j != NULL, "%s", je.text);
    ck_assert_str_eq(json_string_value(json_object_get(j, "suite")), "fake");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "exit_code")), 1);
    c = json_object_get(j, "checks");
    ck_assert_uint_eq(json_array_size(c), run_results->n);
    for (i = 0; i < json_array_size(c); i++) {
        json_t *o = json_array_get(c, i);
        ck_assert_str_eq(json_string_value(json_object_get(o, "id")), run_results->v[i].id);
        ck_assert_str_eq(json_string_value(json_object_get(o, "result")),
                         af_check_status_name(run_results->v[i].status));
        ck_assert(json_is_string(json_object_get(o, "severity")));
    }
    fails = json_object_get(json_array_get(c, 2), "failures");
    ck_assert_uint_eq(json_array_size(fails), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(fails, 0), "step")),
                     "redeem");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "summary"), "fail")),
                     (json_int_t)run_results->count[AF_CHECK_FAIL]);
    json_decref(j);
    free(t);
}
END_TEST

START_TEST(test_report_junit)
{
    char *t = report_text(AF_REPORT_JUNIT, run_results);
    char want[128];
    ck_assert_msg(xml_well_formed(t), "not well-formed:\n%s", t);
    /* A format verdict is two test cases: the check's own (the refusal
     * happened) and a failing "(form)" one. */
    snprintf(want, sizeof(want), "tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\"",
             run_results->n + run_results->count[AF_CHECK_FORMAT],
             run_results->count[AF_CHECK_FAIL] + run_results->count[AF_CHECK_FORMAT],
             run_results->count[AF_CHECK_ERROR],
             run_results->count[AF_CHECK_SKIP] + run_results->count[AF_CHECK_NOTRUN] +
                 run_results->count[AF_CHECK_INCONCLUSIVE]);
    ck_assert_ptr_nonnull(strstr(t, want));
    /* <testsuites> has only the attributes the Jenkins schema allows. */
    {
        const char *ts = strstr(t, "<testsuites ");
        ck_assert_ptr_nonnull(ts);
        ck_assert_ptr_null(memmem(ts, (size_t)(strchr(ts, '>') - ts), "skipped=", 8));
    }
    ck_assert_ptr_nonnull(strstr(t, "<testcase classname=\"fake.MUST\" name=\"T-FORMAT form\""));
    ck_assert_ptr_nonnull(strstr(t, "name=\"T-FORMAT (form) refused as required, but not in the "
                                    "form RFC 6749 §5.2 requires\""));
    ck_assert_ptr_nonnull(strstr(t, "type=\"format\""));
    ck_assert_ptr_nonnull(strstr(t, "<skipped message=\"not run: T-NOTRUN not run"));
    ck_assert_ptr_nonnull(strstr(t, "<skipped message=\"inconclusive: T-PREMISE"));
    ck_assert_ptr_nonnull(strstr(t, "<testcase classname=\"fake.MUST\" name=\"T-FAIL fails\""));
    ck_assert_ptr_nonnull(strstr(t, "<failure message=\"T-FAIL [redeem] status: expected 200"));
    ck_assert_ptr_nonnull(strstr(t, "<error message=\"T-ERROR"));
    ck_assert_ptr_nonnull(strstr(t, "<skipped message=\"T-SKIPPED skipped: the target profile"));
    ck_assert_ptr_nonnull(strstr(t, "<system-out>warning: T-SHOULD"));
    free(t);
}
END_TEST

START_TEST(test_report_tap)
{
    char *t = report_text(AF_REPORT_TAP, run_results);
    char plan[32];
    const char *p = t;
    size_t oks = 0, notoks = 0, skips = 0;
    snprintf(plan, sizeof(plan), "TAP version 13\n1..%zu\n", run_results->n);
    ck_assert_msg(strncmp(t, plan, strlen(plan)) == 0, "%s", t);
    while (p != NULL && *p) {
        if (strncmp(p, "ok ", 3) == 0)
            oks++;
        if (strncmp(p, "not ok ", 7) == 0)
            notoks++;
        if (strncmp(p, "ok ", 3) == 0 && strstr(p, " # SKIP ") != NULL &&
            strstr(p, " # SKIP ") < strchr(p, '\n'))
            skips++;
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    ck_assert_uint_eq(oks + notoks, run_results->n);
    ck_assert_uint_eq(notoks, run_results->count[AF_CHECK_FAIL] +
                                  run_results->count[AF_CHECK_ERROR] +
                                  run_results->count[AF_CHECK_FORMAT]);
    ck_assert_uint_eq(skips, run_results->count[AF_CHECK_SKIP] +
                                 run_results->count[AF_CHECK_NOTRUN] +
                                 run_results->count[AF_CHECK_INCONCLUSIVE]);
    /* Errors were reported: the run could not be completed. */
    ck_assert_ptr_nonnull(strstr(t, "\nBail out! "));
    ck_assert_ptr_nonnull(strstr(t, " - T-FORMAT refused as required, but not in the form"));
    ck_assert_ptr_nonnull(strstr(t, "not ok 3 - T-FAIL fails\n  ---\n  severity: MUST\n"));
    free(t);
}
END_TEST

START_TEST(test_report_text)
{
    char *t = report_text(AF_REPORT_TEXT, run_results);
    ck_assert_ptr_nonnull(strstr(t, "FAIL    T-FAIL   fails"));
    ck_assert_ptr_nonnull(strstr(t, "        T-FAIL [redeem] status: expected 200, got 401"));
    ck_assert_ptr_nonnull(strstr(t, "FORMAT  T-FORMAT refused as required, but not in the form"));
    ck_assert_ptr_nonnull(strstr(t, "        form: T-FORMAT [step 1] status: expected 201"));
    ck_assert_ptr_nonnull(strstr(t, "NOT RUN T-NOTRUN"));
    ck_assert_ptr_nonnull(strstr(t, "INCONCL T-PREMISE"));
    ck_assert_ptr_nonnull(strstr(t, "result         MUST  SHOULD  total"));
    ck_assert_ptr_nonnull(strstr(t, "refused in the wrong form"));
    ck_assert_ptr_null(strchr(t, '\033')); /* no colour in a file */
    free(t);
}
END_TEST

START_TEST(test_report_format_parse)
{
    af_report_format f = AF_REPORT_TEXT;
    ck_assert_int_eq(af_report_format_parse("junit", &f), AF_OK);
    ck_assert_int_eq(f, AF_REPORT_JUNIT);
    ck_assert_int_eq(af_report_format_parse("tap", &f), AF_OK);
    ck_assert_int_eq(f, AF_REPORT_TAP);
    ck_assert_int_eq(af_report_format_parse("xml", &f), AF_ERR_INVALID);
    ck_assert_int_eq(f, AF_REPORT_TAP);
}
END_TEST

/* An unreachable target: AF_ERR_NET naming the URL (exit code 3). */
START_TEST(test_run_unreachable)
{
    struct af_suite *s = NULL;
    struct af_target *t = NULL;
    struct af_results *res = NULL;
    struct af_probe_opts o;
    struct af_err e;
    af_err_clear(&e);
    ck_assert_int_eq(af_suite_load_string(good_suite, "g.json", &s, &e), AF_OK);
    ck_assert_int_eq(af_target_load_string(
                         "{\"issuer\": \"http://127.0.0.1:1\", \"timeout_ms\": 2000}", "p", &t, &e),
                     AF_OK);
    memset(&o, 0, sizeof(o));
    ck_assert_int_eq(af_probe_run(s, t, &o, &res, &e), AF_ERR_NET);
    ck_assert_ptr_null(res);
    ck_assert_msg(strstr(e.msg, "http://127.0.0.1:1/.well-known/openid-configuration") != NULL,
                  "%s", e.msg);
    af_suite_free(s);
    af_target_free(t);
}
END_TEST

/* The feature inventory: what the metadata states, and where it is
 * silent the specification's default, marked as not stated. */
static const json_t *inv_row(const json_t *inv, const char *member)
{
    const json_t *row;
    size_t i;
    json_array_foreach((json_t *)inv, i, row)
    {
        if (strcmp(json_string_value(json_object_get(row, "member")), member) == 0)
            return row;
    }
    ck_abort_msg("no inventory row for %s", member);
    return NULL;
}

START_TEST(test_inventory)
{
    json_t *meta = json_pack("{s:s, s:[s], s:b, s:[]}", "token_endpoint", "https://as.example/t",
                             "code_challenge_methods_supported", "S256",
                             "request_uri_parameter_supported", 0, "grant_types_supported");
    json_t *empty = json_object(), *inv;
    const json_t *r;
    char *text = NULL;
    size_t len = 0;
    FILE *f;

    ck_assert_ptr_null(af_inventory_build(empty)); /* no metadata: no inventory */
    ck_assert_ptr_null(af_inventory_build(NULL));
    inv = af_inventory_build(meta);
    ck_assert_ptr_nonnull(inv);
    r = inv_row(inv, "token_endpoint");
    ck_assert_str_eq(json_string_value(json_object_get(r, "value")), "https://as.example/t");
    ck_assert(json_is_true(json_object_get(r, "stated")));
    r = inv_row(inv, "revocation_endpoint"); /* absent: not offered */
    ck_assert(json_is_null(json_object_get(r, "value")));
    ck_assert(json_is_false(json_object_get(r, "stated")));
    r = inv_row(inv, "request_uri_parameter_supported"); /* stated false beats the default */
    ck_assert(json_is_false(json_object_get(r, "value")));
    r = inv_row(inv, "request_parameter_supported"); /* absent: OIDC Discovery's false */
    ck_assert(json_is_false(json_object_get(r, "value")));
    ck_assert(json_is_false(json_object_get(r, "stated")));
    r = inv_row(inv, "response_modes_supported"); /* absent: RFC 8414's query, fragment */
    ck_assert_uint_eq(json_array_size(json_object_get(r, "value")), 2);
    ck_assert(json_is_false(json_object_get(r, "stated")));
    r = inv_row(inv, "grant_types_supported"); /* stated empty stays empty */
    ck_assert_uint_eq(json_array_size(json_object_get(r, "value")), 0);
    ck_assert(json_is_true(json_object_get(r, "stated")));
    json_object_del(meta, "request_uri_parameter_supported");
    json_decref(inv);
    inv = af_inventory_build(meta);
    r = inv_row(inv, "request_uri_parameter_supported"); /* absent: OIDC Discovery's true */
    ck_assert(json_is_true(json_object_get(r, "value")));
    ck_assert(json_is_false(json_object_get(r, "stated")));

    /* present with the wrong type: invalid, shown as it came, never the
     * default (a "false" string would have read as OIDC's default true) */
    json_object_set_new(meta, "request_uri_parameter_supported", json_string("false"));
    json_object_set_new(meta, "revocation_endpoint", json_integer(7));
    json_decref(inv);
    inv = af_inventory_build(meta);
    r = inv_row(inv, "request_uri_parameter_supported");
    ck_assert_str_eq(json_string_value(json_object_get(r, "value")), "false");
    ck_assert(json_is_true(json_object_get(r, "stated")));
    ck_assert(json_is_false(json_object_get(r, "valid")));
    ck_assert(json_is_true(json_object_get(inv_row(inv, "token_endpoint"), "valid")));
    f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    af_inventory_print(f, inv);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "(request_uri)   invalid: \"false\" (not a boolean)"));
    ck_assert_ptr_nonnull(
        strstr(text, "revocation                                   invalid: 7 (not a URL string)"));
    free(text);
    text = NULL;
    json_object_del(meta, "request_uri_parameter_supported");
    json_object_del(meta, "revocation_endpoint");
    json_decref(inv);
    inv = af_inventory_build(meta);

    f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    af_inventory_print(f, inv);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "revocation"));
    ck_assert_ptr_nonnull(strstr(text, "request objects by reference (request_uri)   yes*"));
    ck_assert_ptr_nonnull(strstr(text, "PKCE methods                                 S256 "));
    ck_assert_ptr_nonnull(strstr(text, "DPoP algs                                    not stated"));
    ck_assert_ptr_nonnull(strstr(text, "revocation                                   no "));
    free(text);
    json_decref(inv);
    json_decref(meta);
    json_decref(empty);
}
END_TEST

/* ---- bounded regular expressions (regex.c) ---- */

static const struct {
    const char *pattern;
    const char *why; /* NULL: compiles; else the start of the reason */
} regex_cases[] = {
    {"^[A-Za-z0-9_-]{43,128}$", NULL},
    {"(^|[ ,])Bearer( |$)", NULL},
    {"[]a]+[^]b]*[[:alpha:][:digit:]]?", NULL},
    {"\\{a\\+\\}", NULL},
    {"x{2,}y{3}z{1,4}", NULL},
    {"a{1,}{2}", NULL},
    {"(ab|cd)*(ef)+", NULL},
    {"(a{60}){60}", NULL}, /* 61 * 61 = 3721 parts: under the bound */
    /* fuzz_expect's finding: each "+" doubles glibc's tree */
    {"realm++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++=.*r", "is too complex"},
    {"a{5000}", "is too complex"},
    {"((a{20}){20}){20}", "is too complex"},
    {"(a|b{4096})", "is too complex"},
    {"[[:alpha:]]{100}{100}", "is too complex"},
    {"((((((((((((((((((((((((((((((((((a))))))))))))))))))))))))))))))))))",
     "nests groups deeper than"},
    {"a(", "does not compile: "},
    {"[[:nope:]]", "does not compile: "},
};

START_TEST(test_regex_bounds)
{
    regex_t re;
    char why[AF_REGEX_WHY_MAX];
    int e =
        af_regex_compile(&re, regex_cases[_i].pattern, REG_EXTENDED | REG_NOSUB, why, sizeof(why));

    if (regex_cases[_i].why == NULL) {
        ck_assert_msg(e == 0, "/%s/ refused: %s", regex_cases[_i].pattern, why);
        regfree(&re);
        return;
    }
    ck_assert_msg(e != 0, "/%s/ compiled", regex_cases[_i].pattern);
    ck_assert_msg(strncmp(why, regex_cases[_i].why, strlen(regex_cases[_i].why)) == 0, "/%s/: %s",
                  regex_cases[_i].pattern, why);
}
END_TEST

START_TEST(test_regex_too_long)
{
    regex_t re;
    char why[AF_REGEX_WHY_MAX], pattern[AF_REGEX_LEN_MAX + 2];

    memset(pattern, 'a', sizeof(pattern) - 1);
    pattern[sizeof(pattern) - 1] = '\0';
    ck_assert_int_ne(af_regex_compile(&re, pattern, REG_EXTENDED, why, sizeof(why)), 0);
    ck_assert_str_eq(why, "is longer than 1024 bytes (1025)");
    pattern[AF_REGEX_LEN_MAX] = '\0';
    ck_assert_int_eq(af_regex_compile(&re, pattern, REG_EXTENDED, why, sizeof(why)), 0);
    regfree(&re);
}
END_TEST

static Suite *probe_suite(void)
{
    Suite *s = suite_create("probe");
    TCase *tc;

    tc = tcase_create("templates");
    tcase_add_loop_test(tc, test_tmpl_expand, 0, N(tmpl_cases));
    tcase_add_test(tc, test_tmpl_fresh_and_pkce);
    tcase_add_test(tc, test_tmpl_json_and_binds);
    tcase_add_loop_test(tc, test_tmpl_whole_ref, 0, N(wholeref_cases));
    tcase_add_test(tc, test_bind_template_undefined);
    tcase_add_loop_test(tc, test_var_names, 0, N(varname_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("html");
    tcase_add_test(tc, test_html_forms);
    tcase_add_test(tc, test_html_broken);
    suite_add_tcase(s, tc);

    tc = tcase_create("regex");
    tcase_add_loop_test(tc, test_regex_bounds, 0, N(regex_cases));
    tcase_add_test(tc, test_regex_too_long);
    suite_add_tcase(s, tc);

    tc = tcase_create("expectations");
    tcase_add_checked_fixture(tc, hops_setup, hops_teardown);
    tcase_add_loop_test(tc, test_selectors, 0, N(sel_cases));
    tcase_add_loop_test(tc, test_claims_typed, 0, N(claims_cases));
    tcase_add_loop_test(tc, test_entropy_bound, 0, N(entropy_cases));
    tcase_add_loop_test(tc, test_conds_any, 0, N(anycond_cases));
    tcase_add_test(tc, test_conds_any_bad);
    tcase_add_loop_test(tc, test_selectors_bad, 0, N(bad_sel_cases));
    tcase_add_loop_test(tc, test_expectations, 0, N(ex_cases));
    tcase_add_test(tc, test_expect_hops);
    tcase_add_loop_test(tc, test_expect_redirect_endpoint, 0, N(redir_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("loaders");
    tcase_add_loop_test(tc, test_suite_load_errors, 0, N(load_cases));
    tcase_add_loop_test(tc, test_suite_filter, 0, N(filter_cases));
    tcase_add_loop_test(tc, test_target_load_errors, 0, N(target_cases));
    tcase_add_test(tc, test_target_expand);
    tcase_add_test(tc, test_json_merge);
    tcase_add_test(tc, test_forge);
    tcase_add_test(tc, test_forge_guess_claim_path);
    tcase_add_test(tc, test_forge_served);
    tcase_add_test(tc, test_serve);
    tcase_add_loop_test(tc, test_shipped_files, 0, N(shipped_files));
    suite_add_tcase(s, tc);

    tc = tcase_create("run");
    tcase_add_test(tc, test_inventory);
    tcase_set_timeout(tc, 30);
    tcase_add_unchecked_fixture(tc, run_setup, run_teardown);
    tcase_add_loop_test(tc, test_run_checks, 0, N(run_cases));
    tcase_add_test(tc, test_run_totals);
    tcase_add_test(tc, test_report_json);
    tcase_add_test(tc, test_report_junit);
    tcase_add_test(tc, test_report_tap);
    tcase_add_test(tc, test_report_text);
    tcase_add_test(tc, test_report_format_parse);
    suite_add_tcase(s, tc);

    tc = tcase_create("foreach");
    tcase_set_timeout(tc, 30);
    tcase_add_unchecked_fixture(tc, run2_setup, run2_teardown);
    tcase_add_loop_test(tc, test_run2_checks, 0, N(run2_cases));
    tcase_add_test(tc, test_run2_totals);
    suite_add_tcase(s, tc);

    tc = tcase_create("unreachable");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_run_unreachable);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(probe_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
