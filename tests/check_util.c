/*
 * check_util.c - unit tests of the common module (src/common/) and of the
 * helpers of proto.h: base64url, percent-decoding, parameter lists, bounded
 * buffers, PKCE, constant-time comparison, error codes and small strings.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authflow/buf.h"
#include "authflow/jsonw.h"
#include "authflow/log.h"
#include "authflow/proto.h"
#include "authflow/rc.h"
#include "authflow/util.h"

#define N(table) ((int)(sizeof(table) / sizeof(table[0])))

/* ---- base64url ---- */

static const struct {
    const char *section;
    const char *raw;
    size_t len;
    const char *enc;
} b64_cases[] = {
    /* RFC 4648 §10 test vectors; without padding (§5, RFC 7515 §2) */
    {"RFC 4648 §10", "", 0, ""},
    {"RFC 4648 §10", "f", 1, "Zg"},
    {"RFC 4648 §10", "fo", 2, "Zm8"},
    {"RFC 4648 §10", "foo", 3, "Zm9v"},
    {"RFC 4648 §10", "foob", 4, "Zm9vYg"},
    {"RFC 4648 §10", "fooba", 5, "Zm9vYmE"},
    {"RFC 4648 §10", "foobar", 6, "Zm9vYmFy"},
    /* RFC 4648 §5: 62 and 63 are '-' and '_' (base64: "+/8=" and "////") */
    {"RFC 4648 §5", "\xfb\xff", 2, "-_8"},
    {"RFC 4648 §5", "\xff\xff\xff", 3, "____"},
    {"RFC 4648 §5", "\xfb\xef\xbe", 3, "----"},
    {"RFC 4648 §5", "\x00\x00", 2, "AAA"},
};

START_TEST(test_b64url_vectors)
{
    struct af_buf b;
    af_buf_init(&b, 64);
    ck_assert_int_eq(
        af_b64url_encode(&b, (const unsigned char *)b64_cases[_i].raw, b64_cases[_i].len), AF_OK);
    ck_assert_str_eq(af_buf_str(&b), b64_cases[_i].enc);
    af_buf_reset(&b);
    ck_assert_int_eq(af_b64url_decode(&b, b64_cases[_i].enc, strlen(b64_cases[_i].enc)), AF_OK);
    ck_assert_uint_eq(b.len, b64_cases[_i].len);
    if (b.len)
        ck_assert_mem_eq(b.p, b64_cases[_i].raw, b.len);
    af_buf_free(&b);
}
END_TEST

static const struct {
    const char *why;
    const char *enc;
    size_t len;
} b64_bad_cases[] = {
    {"RFC 7515 §2: padding", "Zg==", 4},
    {"RFC 7515 §2: padding", "Zm8=", 4},
    {"RFC 7515 §2: single padding char", "Zg=", 3},
    {"RFC 4648 §3.5: non-zero trailing bits (1 byte)", "Zh", 2},
    {"RFC 4648 §3.5: non-zero trailing bits (2 bytes)", "Zm9", 3},
    {"RFC 4648 §4: length 1 mod 4", "Z", 1},
    {"RFC 4648 §4: length 1 mod 4", "Zm9vY", 5},
    {"RFC 4648 §4: length 1 mod 4, zero bits", "A", 1},
    {"RFC 4648 §4: length 1 mod 4, zero bits", "Zm9vA", 5},
    {"RFC 4648 §5: '+' is base64, not base64url", "+/8", 3},
    {"RFC 4648 §5: '/' is base64, not base64url", "ab/d", 4},
    {"RFC 4648 §3.3: whitespace", "Zm 9v", 5},
    {"RFC 4648 §3.3: line feed", "Zm9v\n", 5},
    {"RFC 4648 §3.3: NUL inside the length", "Zm\0v", 4},
};

START_TEST(test_b64url_rejects)
{
    struct af_buf b;
    af_buf_init(&b, 64);
    ck_assert_msg(af_b64url_decode(&b, b64_bad_cases[_i].enc, b64_bad_cases[_i].len) ==
                      AF_ERR_PARSE,
                  "%s: accepted", b64_bad_cases[_i].why);
    af_buf_free(&b);
}
END_TEST

START_TEST(test_b64url_cap)
{
    /* decoding into a full buffer fails instead of truncating */
    struct af_buf b;
    af_buf_init(&b, 5);
    ck_assert_int_eq(af_b64url_decode(&b, "Zm9vYmFy", 8), AF_ERR_TOOBIG);
    af_buf_free(&b);
    af_buf_init(&b, 7);
    ck_assert_int_eq(af_b64url_encode(&b, (const unsigned char *)"foobar", 6), AF_ERR_TOOBIG);
    af_buf_free(&b);
}
END_TEST

/* ---- percent-encoding ---- */

static const struct {
    const char *why;
    const char *in;
    size_t len; /* 0: strlen(in) */
    bool form;
    af_rc rc;
    const char *out; /* on success; on failure a word of the message */
} url_cases[] = {
    {"RFC 3986 §2.1", "a%20b", 0, false, AF_OK, "a b"},
    {"RFC 3986 §2.1: either case of hex", "%c3%A9", 0, false, AF_OK, "\xc3\xa9"},
    {"RFC 3986 §2.1", "%41%42", 0, false, AF_OK, "AB"},
    {"HTML form encoding: '+' is a space", "a+b", 0, true, AF_OK, "a b"},
    {"RFC 3986: '+' is itself outside forms", "a+b", 0, false, AF_OK, "a+b"},
    {"HTML form encoding: %2B is '+'", "a%2Bb", 0, true, AF_OK, "a+b"},
    {"RFC 3629: a 4-byte character", "%F0%9F%98%80", 0, false, AF_OK, "\xf0\x9f\x98\x80"},
    {"empty", "", 0, false, AF_OK, ""},
    {"RFC 3986 §2.1: lone %", "%", 0, false, AF_ERR_PARSE, "percent"},
    {"RFC 3986 §2.1: one hex digit", "a%4", 0, false, AF_ERR_PARSE, "percent"},
    {"RFC 3986 §2.1: not hex", "%G1", 0, false, AF_ERR_PARSE, "percent"},
    {"RFC 3986 §2.1: not hex (second)", "%1G", 0, false, AF_ERR_PARSE, "percent"},
    {"encoded NUL", "a%00b", 0, false, AF_ERR_PARSE, "NUL"},
    {"raw NUL", "a\0b", 3, false, AF_ERR_PARSE, "NUL"},
    {"RFC 3629 §3: bad continuation", "%C3%28", 0, false, AF_ERR_PARSE, "UTF-8"},
    {"RFC 3629 §10: overlong '/'", "%C0%AF", 0, false, AF_ERR_PARSE, "UTF-8"},
    {"RFC 3629 §10: overlong 3-byte", "%E0%80%AF", 0, false, AF_ERR_PARSE, "UTF-8"},
    {"RFC 3629 §3: surrogate", "%ED%A0%80", 0, false, AF_ERR_PARSE, "UTF-8"},
    {"RFC 3629 §3: beyond U+10FFFF", "%F4%90%80%80", 0, false, AF_ERR_PARSE, "UTF-8"},
    {"RFC 3629 §3: 0xFF never appears", "%FF", 0, false, AF_ERR_PARSE, "UTF-8"},
    {"RFC 3629 §3: truncated sequence", "%E2%82", 0, false, AF_ERR_PARSE, "UTF-8"},
    {"RFC 3629 §3: raw invalid bytes", "\xc3\x28", 0, false, AF_ERR_PARSE, "UTF-8"},
};

START_TEST(test_url_decode)
{
    size_t len = url_cases[_i].len ? url_cases[_i].len : strlen(url_cases[_i].in);
    char *out = (char *)&len; /* must be reset */
    struct af_err err;
    af_rc rc;

    af_err_clear(&err);
    rc = af_url_decode(url_cases[_i].in, len, url_cases[_i].form, &out, &err);
    ck_assert_msg(rc == url_cases[_i].rc, "%s: rc %s (%s)", url_cases[_i].why, af_rc_str(rc),
                  err.msg);
    if (rc == AF_OK) {
        ck_assert_str_eq(out, url_cases[_i].out);
    } else {
        ck_assert_ptr_null(out);
        ck_assert_msg(strstr(err.msg, url_cases[_i].out) != NULL, "%s: message \"%s\"",
                      url_cases[_i].why, err.msg);
    }
    free(out);
}
END_TEST

START_TEST(test_url_encode_roundtrip)
{
    /* RFC 3986 §2.3: unreserved characters stay, everything else is %XX */
    const char *in = "a b&c=d/\xc3\xa9~-._+%";
    struct af_buf b;
    char *back = NULL;

    af_buf_init(&b, 256);
    ck_assert_int_eq(af_url_encode(&b, in), AF_OK);
    ck_assert_str_eq(af_buf_str(&b), "a%20b%26c%3Dd%2F%C3%A9~-._%2B%25");
    ck_assert_int_eq(af_url_decode(b.p, b.len, true, &back, NULL), AF_OK);
    ck_assert_str_eq(back, in);
    free(back);
    af_buf_free(&b);
}
END_TEST

static const struct {
    const char *s;
    bool valid;
} utf8_cases[] = {
    {"plain", true},     {"\xc3\xa9", true},  {"\xe2\x82\xac", true},  {"\xf4\x8f\xbf\xbf", true},
    {"\xc0\x80", false}, {"\xc1\xbf", false}, {"\xed\xbf\xbf", false}, {"\xf5\x80\x80\x80", false},
    {"\x80", false},     {"\xc3", false},
};

START_TEST(test_utf8_valid)
{
    /* RFC 3629 §4 syntax */
    ck_assert_msg(af_utf8_valid(utf8_cases[_i].s, strlen(utf8_cases[_i].s)) == utf8_cases[_i].valid,
                  "case %d", _i);
}
END_TEST

/* af_text_escape: what a target sends, as report text (issue 15 item 2). */
static const struct {
    const char *in;
    size_t len; /* 0: strlen(in) */
    const char *out;
} text_cases[] = {
    {"caf\xc3\xa9 \xe2\x82\xac\ttab\nline", 0, "caf\xc3\xa9 \xe2\x82\xac\ttab\nline"},
    {"caf\xe9-client", 0, "caf\\xe9-client"},          /* Latin-1, not UTF-8 */
    {"\x1b[31mred\x1b[0m", 0, "\\x1b[31mred\\x1b[0m"}, /* terminal escapes */
    {"csi \xc2\x9b"
     "2J del \x7f",
     0, "csi \\xc2\\x9b2J del \\x7f"},     /* C1 control, DEL */
    {"a\0b\r", 4, "a\\x00b\\x0d"},         /* NUL and CR */
    {"cut \xe2\x82", 0, "cut \\xe2\\x82"}, /* a character cut short */
    {"\xc0\x80 \xed\xa0\x80 \xef\xbf\xbe", 0,
     "\\xc0\\x80 \\xed\\xa0\\x80 \\xef\\xbf\\xbe"}, /* overlong, surrogate, U+FFFE */
};

START_TEST(test_text_escape)
{
    struct af_buf b;
    size_t n = text_cases[_i].len ? text_cases[_i].len : strlen(text_cases[_i].in);
    af_buf_init(&b, 1024);
    ck_assert_int_eq(af_text_escape(&b, text_cases[_i].in, n), AF_OK);
    ck_assert_str_eq(af_buf_str(&b), text_cases[_i].out);
    ck_assert(af_utf8_valid(af_buf_str(&b), b.len));
    af_buf_free(&b);
}
END_TEST

START_TEST(test_text_clean_cap)
{
    /* cut at a whole escape, never inside one */
    char *s = af_text_clean("ab\x1b\x1b", 7);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, "ab\\x1b");
    free(s);
    ck_assert_ptr_null(af_text_clean(NULL, 10));
}
END_TEST

/* ---- parameter lists ---- */

static const struct {
    const char *why;
    const char *in;
    size_t max;
    af_rc rc;
    size_t n;
    const char *dup;        /* af_params_first_dup */
    const char *name, *val; /* one pair to look up */
    const char *msg;        /* on failure, in err */
} params_cases[] = {
    {"RFC 6749 §4.1.1", "response_type=code&client_id=s6BhdRkqt3", 10, AF_OK, 2, NULL, "client_id",
     "s6BhdRkqt3", NULL},
    {"RFC 6749 §3.1: duplicates are seen", "state=a&scope=openid&state=b", 10, AF_OK, 3, "state",
     "state", "a", NULL},
    {"empty segments are skipped", "a=1&&b=2&", 10, AF_OK, 2, NULL, "b", "2", NULL},
    {"a name without '='", "flag&a=1", 10, AF_OK, 2, NULL, "flag", "", NULL},
    {"only the first '=' splits", "a==b", 10, AF_OK, 1, NULL, "a", "=b", NULL},
    {"RFC 6749 §3.3: scope with '+'", "scope=openid+profile", 10, AF_OK, 1, NULL, "scope",
     "openid profile", NULL},
    {"RFC 6749 §3.1.2: encoded redirect_uri", "redirect_uri=https%3A%2F%2Fc.example%2Fcb%3Fx%3D1",
     10, AF_OK, 1, NULL, "redirect_uri", "https://c.example/cb?x=1", NULL},
    {"encoded name", "a%5Fb=1", 10, AF_OK, 1, NULL, "a_b", "1", NULL},
    {"exactly at the cap", "a=1&b=2&c=3", 3, AF_OK, 3, NULL, "c", "3", NULL},
    {"over the cap", "a=1&b=2&c=3&d=4", 3, AF_ERR_TOOBIG, 3, NULL, NULL, NULL, "more than 3"},
    {"empty name", "a=1&=x", 10, AF_ERR_PARSE, 1, NULL, NULL, NULL, "empty name"},
    {"a '+' name is a space", "%41=1&+=2", 10, AF_OK, 2, NULL, " ", "2", NULL},
    {"bad value names its parameter", "client_id=x&code=%ZZ", 10, AF_ERR_PARSE, 1, NULL, NULL, NULL,
     "code"},
    {"bad name is quoted", "ok=1&st%4=1", 10, AF_ERR_PARSE, 1, NULL, NULL, NULL, "st%4"},
    {"NUL in a value", "nonce=a%00", 10, AF_ERR_PARSE, 0, NULL, NULL, NULL, "nonce"},
    {"invalid UTF-8 in a value", "state=%C0%AF", 10, AF_ERR_PARSE, 0, NULL, NULL, NULL, "state"},
};

START_TEST(test_params_parse)
{
    struct af_params p;
    struct af_err err;
    af_rc rc;

    af_err_clear(&err);
    af_params_init(&p, params_cases[_i].max);
    rc = af_params_parse(&p, params_cases[_i].in, strlen(params_cases[_i].in), &err);
    ck_assert_msg(rc == params_cases[_i].rc, "%s: %s (%s)", params_cases[_i].why, af_rc_str(rc),
                  err.msg);
    ck_assert_uint_eq(p.n, params_cases[_i].n);
    if (rc == AF_OK) {
        if (params_cases[_i].dup)
            ck_assert_str_eq(af_params_first_dup(&p), params_cases[_i].dup);
        else
            ck_assert_ptr_null(af_params_first_dup(&p));
        ck_assert_str_eq(af_params_get(&p, params_cases[_i].name), params_cases[_i].val);
    } else {
        ck_assert_msg(strstr(err.msg, params_cases[_i].msg) != NULL,
                      "%s: message \"%s\" lacks \"%s\"", params_cases[_i].why, err.msg,
                      params_cases[_i].msg);
    }
    af_params_free(&p);
}
END_TEST

START_TEST(test_params_helpers)
{
    struct af_params p, q;
    struct af_buf b;

    af_params_init(&p, 4);
    ck_assert_int_eq(af_params_add(&p, "scope", "openid email"), AF_OK);
    ck_assert_int_eq(af_params_add(&p, "state", "a&b=c"), AF_OK);
    ck_assert_int_eq(af_params_add(&p, "scope", NULL), AF_OK);
    ck_assert_uint_eq(af_params_count(&p, "scope"), 2);
    ck_assert_uint_eq(af_params_count(&p, "nonce"), 0);
    ck_assert_ptr_null(af_params_get(&p, "nonce"));
    ck_assert_str_eq(af_params_first_dup(&p), "scope");
    ck_assert_int_eq(af_params_add(&p, "d", "4"), AF_OK);
    ck_assert_int_eq(af_params_add(&p, "e", "5"), AF_ERR_TOOBIG);
    ck_assert_uint_eq(p.n, 4);

    /* encode and parse back to the same pairs */
    af_buf_init(&b, 256);
    ck_assert_int_eq(af_params_encode(&p, &b), AF_OK);
    ck_assert_str_eq(af_buf_str(&b), "scope=openid%20email&state=a%26b%3Dc&scope=&d=4");
    af_params_init(&q, 4);
    ck_assert_int_eq(af_params_parse(&q, b.p, b.len, NULL), AF_OK);
    ck_assert_uint_eq(q.n, 4);
    ck_assert_str_eq(af_params_get(&q, "state"), "a&b=c");
    ck_assert_str_eq(af_params_get(&q, "scope"), "openid email");
    af_params_free(&q);
    af_params_free(&p);
    ck_assert_uint_eq(p.n, 0);
    af_params_free(NULL);
    af_buf_free(&b);
}
END_TEST

/* af_url_same_endpoint: scheme, host, port and path decide; query and
 * fragment never do (the client's redirect_uri, RFC 6749 §3.1.2). */
static const struct {
    const char *why;
    const char *a;
    const char *b;
    bool same;
} endpoint_cases[] = {
    {"same", "https://client.example/cb", "https://client.example/cb", true},
    {"query differs (a rewritten code)", "https://client.example/cb?code=attacker",
     "https://client.example/cb?code=REAL&state=s", true},
    {"query only on one side", "https://client.example/cb", "https://client.example/cb?x=1", true},
    {"fragment ignored", "https://client.example/cb#a", "https://client.example/cb?x=1#b", true},
    {"other port", "https://client.example/cb", "https://client.example:8443/cb", false},
    {"https default port explicit", "https://client.example:443/cb", "https://client.example/cb",
     true},
    {"http default port explicit", "http://127.0.0.1:80/cb", "http://127.0.0.1/cb", true},
    {"443 is not http's default", "http://client.example:443/cb", "http://client.example/cb",
     false},
    {"other scheme", "http://client.example/cb", "https://client.example/cb", false},
    {"scheme case", "HTTPS://client.example/cb", "https://client.example/cb", true},
    {"host case (RFC 3986 §3.2.2)", "https://Client.EXAMPLE/cb", "https://client.example/cb", true},
    {"path case matters", "https://client.example/CB", "https://client.example/cb", false},
    {"other host", "https://client.example.attacker.example/cb", "https://client.example/cb",
     false},
    {"longer path (text prefix)", "https://client.example/cb/../cbx", "https://client.example/cb",
     false},
    {"longer path", "https://client.example/cbx", "https://client.example/cb", false},
    {"trailing slash", "https://client.example/cb/", "https://client.example/cb", false},
    {"empty path is / (RFC 3986 §6.2.3)", "https://client.example", "https://client.example/?x=1",
     true},
    {"dot segments removed", "https://client.example/a/../cb", "https://client.example/cb", true},
    {"user information ignored", "https://u@client.example/cb", "https://client.example/cb", true},
    {"IPv6", "http://[::1]:8080/cb", "http://[::1]:8080/cb?code=x", true},
    {"IPv6 spelled longer", "http://[0:0::1]:8080/cb", "http://[::1]:8080/cb", true},
    {"IPv6 other port", "http://[::1]:8080/cb", "http://[::1]/cb", false},
    {"IPv6 vs IPv4", "http://[::1]/cb", "http://127.0.0.1/cb", false},
    {"custom scheme (RFC 8252 §7.1)", "com.example.app:/cb", "com.example.app:/cb?code=x", true},
    {"custom scheme case", "COM.example.app:/cb", "com.example.app:/cb", true},
    {"custom scheme other path", "com.example.app:/cb", "com.example.app:/other", false},
    {"custom scheme other scheme", "com.example.app:/cb", "com.example.evil:/cb", false},
    {"custom vs https", "com.example.app:/cb", "https://com.example.app/cb", false},
    {"relative path", "/cb", "/cb", false},
    {"relative vs absolute", "/cb?code=x", "https://client.example/cb", false},
    {"scheme-relative", "//client.example/cb", "https://client.example/cb", false},
    {"https without authority", "https:/client.example/cb", "https:/client.example/cb", false},
    {"garbage", "https://exa mple/cb", "https://exa mple/cb", false},
    {"garbage port", "https://client.example:99999/cb", "https://client.example:99999/cb", false},
    {"empty", "", "", false},
    {"NULL", NULL, "https://client.example/cb", false},
};

START_TEST(test_url_same_endpoint)
{
    bool got = af_url_same_endpoint(endpoint_cases[_i].a, endpoint_cases[_i].b);
    ck_assert_msg(got == endpoint_cases[_i].same, "%s: %s vs %s: got %d, expected %d",
                  endpoint_cases[_i].why, endpoint_cases[_i].a ? endpoint_cases[_i].a : "(null)",
                  endpoint_cases[_i].b, got, endpoint_cases[_i].same);
    /* symmetric */
    ck_assert(af_url_same_endpoint(endpoint_cases[_i].b, endpoint_cases[_i].a) == got);
}
END_TEST

/* ---- bounded buffers ---- */

START_TEST(test_buf_cap)
{
    struct af_buf b;
    char *s;

    af_buf_init(&b, 8);
    ck_assert_str_eq(af_buf_str(&b), "");
    ck_assert_int_eq(af_buf_adds(&b, "1234"), AF_OK);
    ck_assert_int_eq(af_buf_addf(&b, "%d", 5678), AF_OK);
    ck_assert_uint_eq(b.len, 8);
    ck_assert_str_eq(af_buf_str(&b), "12345678");
    /* past the cap: refused, content unchanged */
    ck_assert_int_eq(af_buf_addc(&b, '9'), AF_ERR_TOOBIG);
    ck_assert_int_eq(af_buf_adds(&b, "x"), AF_ERR_TOOBIG);
    ck_assert_int_eq(af_buf_addf(&b, "%s", "y"), AF_ERR_TOOBIG);
    ck_assert_int_eq(af_buf_add(&b, "zz", (size_t)-1), AF_ERR_TOOBIG);
    ck_assert_uint_eq(b.len, 8);
    ck_assert_str_eq(af_buf_str(&b), "12345678");
    ck_assert_int_eq(af_buf_add(&b, "", 0), AF_OK);

    af_buf_reset(&b);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_str_eq(af_buf_str(&b), "");
    ck_assert_int_eq(af_buf_adds(&b, "abcdefgh"), AF_OK);
    ck_assert_int_eq(af_buf_adds(&b, "abcdefghi"), AF_ERR_TOOBIG);
    s = af_buf_detach(&b);
    ck_assert_str_eq(s, "abcdefgh");
    free(s);
    ck_assert_uint_eq(b.len, 0);
    s = af_buf_detach(&b); /* an empty buffer detaches "" */
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, "");
    free(s);
    /* binary content keeps a terminator after it */
    ck_assert_int_eq(af_buf_add(&b, "a\0b", 3), AF_OK);
    ck_assert_uint_eq(b.len, 3);
    ck_assert_int_eq(b.p[3], '\0');
    af_buf_free(&b);
    af_buf_free(&b);
    af_buf_free(NULL);
}
END_TEST

START_TEST(test_buf_grows)
{
    struct af_buf b;
    int i;
    af_buf_init(&b, 100000);
    for (i = 0; i < 10000; i++)
        ck_assert_int_eq(af_buf_addf(&b, "%04d", i % 10000), AF_OK);
    ck_assert_uint_eq(b.len, 40000);
    ck_assert_mem_eq(b.p + 39996, "9999", 4);
    ck_assert_uint_le(b.cap, 100001);
    af_buf_free(&b);
}
END_TEST

/* ---- PKCE ---- */

START_TEST(test_pkce_s256)
{
    /* RFC 7636 Appendix B */
    struct af_buf b;
    af_buf_init(&b, 64);
    ck_assert_int_eq(af_pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", &b), AF_OK);
    ck_assert_str_eq(af_buf_str(&b), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    af_buf_free(&b);
}
END_TEST

static const struct {
    const char *why;
    char fill;
    int len;
    const char *inject; /* replaces the first characters when set */
    int valid;
} verifier_cases[] = {
    {"RFC 7636 §4.1: 42 is too short", 'a', 42, NULL, 0},
    {"RFC 7636 §4.1: 43 is the minimum", 'a', 43, NULL, 1},
    {"RFC 7636 §4.1: 128 is the maximum", 'Z', 128, NULL, 1},
    {"RFC 7636 §4.1: 129 is too long", 'Z', 129, NULL, 0},
    {"RFC 7636 §4.1: unreserved marks", '9', 43, "-._~", 1},
    {"RFC 7636 §4.1: '+'", 'a', 43, "+", 0},
    {"RFC 7636 §4.1: '/'", 'a', 43, "/", 0},
    {"RFC 7636 §4.1: '='", 'a', 43, "=", 0},
    {"RFC 7636 §4.1: space", 'a', 43, " ", 0},
    {"RFC 7636 §4.1: '%'", 'a', 43, "%41", 0},
    {"RFC 7636 §4.1: non-ASCII", 'a', 43, "\xc3\xa9", 0},
    {"RFC 7636 §4.1: empty", 'a', 0, NULL, 0},
};

START_TEST(test_pkce_verifier_valid)
{
    char v[256];
    memset(v, verifier_cases[_i].fill, (size_t)verifier_cases[_i].len);
    v[verifier_cases[_i].len] = '\0';
    if (verifier_cases[_i].inject)
        memcpy(v, verifier_cases[_i].inject, strlen(verifier_cases[_i].inject));
    ck_assert_msg(af_pkce_verifier_valid(v) == verifier_cases[_i].valid, "%s",
                  verifier_cases[_i].why);
}
END_TEST

START_TEST(test_pkce_verifier_null)
{
    ck_assert_int_eq(af_pkce_verifier_valid(NULL), 0);
    /* RFC 7636 Appendix B's verifier itself is valid */
    ck_assert_int_eq(af_pkce_verifier_valid("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), 1);
}
END_TEST

/* ---- constant-time comparison ---- */

static const struct {
    const char *a, *b;
    bool eq;
} ct_cases[] = {
    {"s3cr3t", "s3cr3t", true},
    {"s3cr3t", "s3cr3T", false},
    {"s3cr3t", "s3cr3", false},
    {"s3cr3", "s3cr3t", false},
    {"", "", true},
    {"", "a", false},
    {NULL, "a", false},
    {"a", NULL, false},
    {NULL, NULL, false},
};

START_TEST(test_ct_streq)
{
    ck_assert_msg(af_ct_streq(ct_cases[_i].a, ct_cases[_i].b) == ct_cases[_i].eq, "case %d", _i);
}
END_TEST

/* ---- proto helpers ---- */

static const struct {
    const char *s;
    int valid;
} errcode_cases[] = {
    /* RFC 6749 §5.2 / Appendix A.7: error = 1*( %x20-21 / %x23-5B / %x5D-7E ) */
    {"invalid_request", 1}, {"a b", 1},  {"!#~", 1}, {"", 0}, {"a\"b", 0}, {"a\\b", 0}, {"a\tb", 0},
    {"\xc3\xa9", 0},        {"\x7f", 0},
};

START_TEST(test_error_code_valid)
{
    ck_assert_msg(af_proto_error_code_valid(errcode_cases[_i].s) == errcode_cases[_i].valid,
                  "case %d", _i);
}
END_TEST

START_TEST(test_error_code_null)
{
    ck_assert_int_eq(af_proto_error_code_valid(NULL), 0);
    ck_assert_int_eq(af_proto_error_code_valid(AF_E_INVALID_GRANT), 1);
}
END_TEST

static const struct {
    const char *list, *tok;
    bool has;
} tok_cases[] = {
    /* RFC 6749 §3.3: scope is a list of space-delimited tokens */
    {"openid profile", "openid", true},
    {"openid profile", "profile", true},
    {"openid profile", "open", false},
    {"openid profile", "id", false},
    {"openidprofile", "openid", false},
    {"  openid  email ", "email", true},
    {"", "openid", false},
    {"openid", "", false},
    {"a b", "a b", false},
    {NULL, "openid", false},
    {"openid", NULL, false},
};

START_TEST(test_space_token)
{
    const char *tok = tok_cases[_i].tok;
    char buf[32];

    ck_assert_msg(af_str_has_space_token(tok_cases[_i].list, tok) == tok_cases[_i].has, "case %d",
                  _i);
    if (tok == NULL)
        return;
    /* the counted form reads tok[0..len) only: the same answer with the
     * token followed by more text */
    snprintf(buf, sizeof(buf), "%s openid", tok);
    ck_assert_msg(af_str_has_space_tokenn(tok_cases[_i].list, buf, strlen(tok)) ==
                      tok_cases[_i].has,
                  "counted, case %d", _i);
}
END_TEST

/* ---- status, errors, logging, randomness, clock ---- */

START_TEST(test_rc_and_err)
{
    struct af_err err;
    af_rc rc;
    int line;

    ck_assert_str_eq(af_rc_str(AF_OK), "ok");
    ck_assert_str_eq(af_rc_str(AF_ERR_TOOBIG), "toobig");
    ck_assert_str_eq(af_rc_str(AF_ERR_NET), "net");
    ck_assert_str_eq(af_rc_str(AF_ERR_LAST), "unknown");
    for (rc = AF_OK; rc < AF_ERR_LAST; rc++)
        ck_assert_str_ne(af_rc_str(rc), "unknown");

    af_err_clear(&err);
    line = __LINE__ + 1;
    rc = AF_ERR_SET(&err, AF_ERR_PARSE, "bad %s at %d", "thing", 7);
    ck_assert_int_eq(rc, AF_ERR_PARSE);
    ck_assert_int_eq(err.rc, AF_ERR_PARSE);
    ck_assert_str_eq(err.msg, "bad thing at 7");
    ck_assert_int_eq(err.line, line);
    ck_assert_ptr_nonnull(strstr(err.file, "check_util.c"));
    ck_assert_int_eq(AF_ERR_SET(NULL, AF_ERR_IO, "x"), AF_ERR_IO);
    af_err_clear(&err);
    ck_assert_int_eq(err.rc, AF_OK);
    ck_assert_str_eq(err.msg, "");
    af_err_clear(NULL);
}
END_TEST

START_TEST(test_err_msg_truncates)
{
    struct af_err err;
    char big[AF_ERR_MSG_MAX * 2];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    AF_ERR_SET(&err, AF_ERR_INVALID, "%s", big);
    ck_assert_uint_eq(strlen(err.msg), AF_ERR_MSG_MAX - 1);
}
END_TEST

static const struct {
    const char *s;
    af_rc rc;
    af_log_level lvl;
} level_cases[] = {
    {"error", AF_OK, AF_LOG_ERROR}, {"warn", AF_OK, AF_LOG_WARN}, {"info", AF_OK, AF_LOG_INFO},
    {"debug", AF_OK, AF_LOG_DEBUG}, {"ERROR", AF_ERR_INVALID, 0}, {"warning", AF_ERR_INVALID, 0},
    {"", AF_ERR_INVALID, 0},
};

START_TEST(test_log_level_parse)
{
    af_log_level lvl = (af_log_level)42;
    ck_assert_int_eq(af_log_level_parse(level_cases[_i].s, &lvl), level_cases[_i].rc);
    if (level_cases[_i].rc == AF_OK)
        ck_assert_int_eq(lvl, level_cases[_i].lvl);
    else
        ck_assert_int_eq(lvl, 42); /* untouched on error */
}
END_TEST

START_TEST(test_log_level_set)
{
    af_log_level old = af_log_get_level();
    af_log_set_level(AF_LOG_DEBUG);
    ck_assert_int_eq(af_log_get_level(), AF_LOG_DEBUG);
    af_log_set_level(AF_LOG_ERROR);
    af_log_debug("not printed: %d", 1);
    af_log_set_level(old);
}
END_TEST

START_TEST(test_rand_token)
{
    char *a = NULL, *b = NULL;
    size_t i;
    ck_assert_int_eq(af_rand_token(32, &a), AF_OK);
    ck_assert_int_eq(af_rand_token(32, &b), AF_OK);
    ck_assert_uint_eq(strlen(a), 43); /* RFC 4648 §5 without padding */
    ck_assert_str_ne(a, b);
    for (i = 0; a[i]; i++)
        ck_assert_ptr_nonnull(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                     "0123456789-_",
                                     a[i]));
    free(a);
    free(b);
    ck_assert_int_eq(af_rand_token(0, &a), AF_ERR_INVALID);
    ck_assert_ptr_null(a);
    ck_assert_int_eq(af_rand_token(65, &a), AF_ERR_INVALID);
}
END_TEST

START_TEST(test_clock_and_strdup)
{
    time_t t0 = time(NULL);
    uint64_t m0 = af_monotonic_ms();
    char *s;

    af_clock_set_offset(3600);
    ck_assert_int_ge(af_now() - t0, 3600);
    ck_assert_int_le(af_now() - t0, 3602);
    af_clock_set_offset(0);
    ck_assert_int_le(af_now() - t0, 2);
    ck_assert_uint_ge(af_monotonic_ms(), m0);

    ck_assert_ptr_null(af_strdup(NULL));
    s = af_strdup("abc");
    ck_assert_str_eq(s, "abc");
    free(s);
}
END_TEST

/* ---- jsonw ---- */

/* Texts whose parse, written back, must equal jansson's compact dump. */
static const char *const jsonw_cases[] = {
    "{}",
    "[]",
    "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}",
    /* insertion order, not sorted */
    "{\"z\":1,\"a\":2,\"m\":3}",
    "\"\\u0000\\u0001\\u001f\\u007f \\b\\f\\n\\r\\t\\\"\\\\/\"",
    "\"caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80\"",
    "[9223372036854775807,-9223372036854775808,0,-1]",
    "[1.5,0.1,1e300,-0.0,2.5e-7,100.0]",
    "[[[[[[[[[[{}]]]]]]]]]]",
    "\"\"",
};

START_TEST(test_jsonw_matches_jansson)
{
    json_error_t jerr;
    json_t *v = json_loads(jsonw_cases[_i], JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    char *ours, *theirs;

    ck_assert_msg(v != NULL, "case %d: %s", _i, jerr.text);
    ours = af_jsonw_dumps(v);
    theirs = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    ck_assert_ptr_nonnull(ours);
    ck_assert_str_eq(ours, theirs);
    free(ours);
    free(theirs);
    json_decref(v);
}
END_TEST

START_TEST(test_jsonw_refuses)
{
    struct af_buf b;
    json_t *bad = json_pack("{s:o}", "a", json_stringn_nocheck("\xc3(", 2));
    json_t *deep = json_array(), *cur = deep;
    char *theirs;
    int i;

    /* not UTF-8: refused as json_dumps refuses it, never written raw */
    ck_assert_ptr_nonnull(bad);
    ck_assert_ptr_null(af_jsonw_dumps(bad));
    theirs = json_dumps(bad, JSON_COMPACT);
    ck_assert_ptr_null(theirs);
    af_buf_init(&b, 1024);
    ck_assert_int_eq(af_jsonw_value(&b, bad), AF_ERR_INVALID);
    af_buf_free(&b);
    ck_assert_int_eq(af_jsonw_value(&b, NULL), AF_ERR_INVALID);
    json_decref(bad);

    /* a member name with a NUL (the parser refuses one; the API takes it) */
    bad = json_object();
    ck_assert_int_eq(json_object_setn_new(bad, "k\0y", 3, json_true()), 0);
    theirs = json_dumps(bad, JSON_COMPACT);
    ck_assert_str_eq(theirs, "{\"k\\u0000y\":true}");
    free(theirs);
    theirs = af_jsonw_dumps(bad);
    ck_assert_str_eq(theirs, "{\"k\\u0000y\":true}");
    free(theirs);
    json_decref(bad);

    /* deeper than the parser would ever build */
    for (i = 0; i < AF_JSONW_DEPTH_MAX; i++) {
        json_t *next = json_array();
        ck_assert_int_eq(json_array_append_new(cur, next), 0);
        cur = next;
    }
    ck_assert_ptr_null(af_jsonw_dumps(deep));
    json_decref(deep);

    /* the buffer's cap holds: AF_ERR_TOOBIG, no overrun */
    af_buf_init(&b, 8);
    bad = json_pack("{s:s}", "key", "a value longer than eight");
    ck_assert_int_eq(af_jsonw_value(&b, bad), AF_ERR_TOOBIG);
    ck_assert_uint_le(b.len, 8);
    af_buf_free(&b);
    json_decref(bad);

    /* an exact fit is accepted */
    af_buf_init(&b, 5);
    ck_assert_int_eq(af_jsonw_string(&b, "a\n", 2), AF_OK);
    ck_assert_str_eq(af_buf_str(&b), "\"a\\n\"");
    af_buf_free(&b);
}
END_TEST

static Suite *util_suite(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("base64url");
    tcase_add_loop_test(tc, test_b64url_vectors, 0, N(b64_cases));
    tcase_add_loop_test(tc, test_b64url_rejects, 0, N(b64_bad_cases));
    tcase_add_test(tc, test_b64url_cap);
    suite_add_tcase(s, tc);

    tc = tcase_create("url");
    tcase_add_loop_test(tc, test_url_decode, 0, N(url_cases));
    tcase_add_test(tc, test_url_encode_roundtrip);
    tcase_add_loop_test(tc, test_utf8_valid, 0, N(utf8_cases));
    tcase_add_loop_test(tc, test_text_escape, 0, N(text_cases));
    tcase_add_test(tc, test_text_clean_cap);
    tcase_add_loop_test(tc, test_params_parse, 0, N(params_cases));
    tcase_add_test(tc, test_params_helpers);
    tcase_add_loop_test(tc, test_url_same_endpoint, 0, N(endpoint_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("buf");
    tcase_add_test(tc, test_buf_cap);
    tcase_add_test(tc, test_buf_grows);
    suite_add_tcase(s, tc);

    tc = tcase_create("jsonw");
    tcase_add_loop_test(tc, test_jsonw_matches_jansson, 0, N(jsonw_cases));
    tcase_add_test(tc, test_jsonw_refuses);
    suite_add_tcase(s, tc);

    tc = tcase_create("proto");
    tcase_add_test(tc, test_pkce_s256);
    tcase_add_loop_test(tc, test_pkce_verifier_valid, 0, N(verifier_cases));
    tcase_add_test(tc, test_pkce_verifier_null);
    tcase_add_loop_test(tc, test_error_code_valid, 0, N(errcode_cases));
    tcase_add_test(tc, test_error_code_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("misc");
    tcase_add_loop_test(tc, test_ct_streq, 0, N(ct_cases));
    tcase_add_loop_test(tc, test_space_token, 0, N(tok_cases));
    tcase_add_test(tc, test_rc_and_err);
    tcase_add_test(tc, test_err_msg_truncates);
    tcase_add_loop_test(tc, test_log_level_parse, 0, N(level_cases));
    tcase_add_test(tc, test_log_level_set);
    tcase_add_test(tc, test_rand_token);
    tcase_add_test(tc, test_clock_and_strdup);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(util_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
