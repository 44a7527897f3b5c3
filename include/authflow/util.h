/*
 * util.h - URL and form encoding, parameter lists, randomness, constant-time
 * comparison and the clock.
 */
#ifndef AUTHFLOW_UTIL_H
#define AUTHFLOW_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "authflow/buf.h"
#include "authflow/rc.h"

/* ---- percent-encoding (RFC 3986 §2.1) ---- */

/* af_url_encode: append s percent-encoded (unreserved characters kept). */
af_rc af_url_encode(struct af_buf *out, const char *s) AF_WARN_UNUSED;

/* af_url_decode: decode len bytes of s; with form set, '+' means a space
 * (application/x-www-form-urlencoded). Malformed escapes ("%", "%G1"), an
 * encoded NUL and invalid UTF-8 in the result are AF_ERR_PARSE with the
 * reason in err. On success *out is a NUL-terminated string the caller frees
 * with free(). */
af_rc af_url_decode(const char *s, size_t len, bool form, char **out,
                    struct af_err *err) AF_WARN_UNUSED;

/* af_utf8_valid: true when s[0..len) is well-formed UTF-8 (no overlongs, no
 * surrogates). */
bool af_utf8_valid(const char *s, size_t len);

/* af_text_escape: append s[0..len) to out as text safe for any report or
 * terminal: well-formed UTF-8 stays as it is, but every byte that is not
 * part of a well-formed sequence, and every byte of a C0 control other
 * than tab and newline, of DEL, of a C1 control (U+0080..U+009F: ESC and
 * CSI start terminal escapes) and of U+FFFE/U+FFFF (not XML characters),
 * becomes "\xNN" (lower-case hex). A NUL inside len is escaped too. The
 * result is valid UTF-8 and XML 1.0 character data (after the usual
 * &<>" escaping). AF_ERR_TOOBIG when out's cap cut it short (what fit is
 * appended, still whole escapes and characters up to the cut). */
af_rc af_text_escape(struct af_buf *out, const char *s, size_t len) AF_WARN_UNUSED;

/* af_text_clean: s escaped by af_text_escape into a new string of at most
 * max bytes (longer results are cut short at a character boundary).
 * Caller frees with free(); NULL when s is NULL or memory ran out. */
char *af_text_clean(const char *s, size_t max);

/* af_hex_digit: the value 0..15 of the hexadecimal digit c (either case),
 * or -1 when c is none. Takes a char or an unsigned char value. */
int af_hex_digit(int c);

/* ---- comparing URLs ---- */

/* af_url_same_endpoint: true when the absolute URLs a and b name the same
 * endpoint: the same scheme (case-insensitive), host (case-insensitive; an
 * IPv6 literal in brackets compares as an address), port (the scheme's
 * default when absent: 80 for http, 443 for https) and path (exact, after
 * dot-segment removal; an empty path equals "/"). Query, fragment and user
 * information are ignored. A URL without authority (a custom scheme such as
 * "com.example.app:/cb", RFC 8252 §7.1) compares by scheme and path only.
 * A relative, unparsable or NULL URL matches nothing, not even itself:
 * callers deciding "is this the client's redirect_uri?" must never treat
 * garbage as a match. Never fails otherwise (no allocation result to
 * check: out of memory is a mismatch). */
bool af_url_same_endpoint(const char *a, const char *b);

/* ---- base64url (RFC 4648 §5, no padding) ---- */

/* af_b64url_encode: append the encoding of data[0..len) to out. */
af_rc af_b64url_encode(struct af_buf *out, const unsigned char *data, size_t len) AF_WARN_UNUSED;

/* af_b64url_decode: decode len characters of s. Padding, characters outside
 * the base64url alphabet and a length of 1 mod 4 are AF_ERR_PARSE; so are
 * non-zero unused trailing bits (the encoding must be canonical). The bytes
 * are appended to out (binary; out keeps its NUL terminator after them). */
af_rc af_b64url_decode(struct af_buf *out, const char *s, size_t len) AF_WARN_UNUSED;

/* ---- parameter lists (query strings and form bodies) ---- */

struct af_param {
    char *name;  /* owned by the list */
    char *value; /* owned by the list */
};

struct af_params {
    struct af_param *v; /* owned by the list */
    size_t n;
    size_t cap;
    size_t max; /* most pairs accepted; beyond that parsing fails */
};

/* af_params_init: an empty list accepting at most max pairs. */
void af_params_init(struct af_params *p, size_t max);

/* af_params_parse: parse "a=1&b=2" (len bytes, form decoding) and append
 * the pairs. Empty segments ("a=1&&b=2") are skipped; a segment without '='
 * is a name with an empty value. On error the reason, naming the offending
 * parameter, is in err and the list may hold the pairs parsed before it. */
af_rc af_params_parse(struct af_params *p, const char *s, size_t len,
                      struct af_err *err) AF_WARN_UNUSED;

/* af_params_add: append copies of name and value. */
af_rc af_params_add(struct af_params *p, const char *name, const char *value) AF_WARN_UNUSED;

/* af_params_get: the first value of name, borrowed (valid while p lives), or
 * NULL when absent. */
const char *af_params_get(const struct af_params *p, const char *name);

/* af_params_count: how many times name occurs. */
size_t af_params_count(const struct af_params *p, const char *name);

/* af_params_first_dup: the name of the first parameter that occurs more
 * than once, borrowed, or NULL when all names are distinct. */
const char *af_params_first_dup(const struct af_params *p);

/* af_params_encode: append "a=1&b=2" (form encoding) to out. */
af_rc af_params_encode(const struct af_params *p, struct af_buf *out) AF_WARN_UNUSED;

/* af_params_free: release all pairs; the list is left empty. NULL is a no-op. */
void af_params_free(struct af_params *p);

/* ---- randomness and comparison ---- */

/* af_rand_bytes: n bytes from OpenSSL's CSPRNG. */
af_rc af_rand_bytes(unsigned char *out, size_t n) AF_WARN_UNUSED;

/* af_rand_token: nbytes of CSPRNG output, base64url-encoded without padding.
 * Caller frees *out with free(). */
af_rc af_rand_token(size_t nbytes, char **out) AF_WARN_UNUSED;

/* af_ct_streq: compare two NUL-terminated strings in time that depends only
 * on their lengths, never on where they differ. NULL equals nothing. */
bool af_ct_streq(const char *a, const char *b);

/* ---- clock ---- */

/* af_now: seconds since the epoch, plus the offset set for tests. */
time_t af_now(void);

/* af_clock_set_offset: shift af_now() by delta seconds (tests, scenarios). */
void af_clock_set_offset(long delta);

/* af_clock_freeze: make af_now() return t (plus the offset) until called
 * with 0, so that a test's expiry arithmetic cannot race the wall clock. */
void af_clock_freeze(time_t t);

/* af_monotonic_ms: a monotonic clock in milliseconds (timeouts, benchmarks). */
uint64_t af_monotonic_ms(void);

/* AF_RFC3339_MS_LEN: the length of af_rfc3339_now's text. */
#define AF_RFC3339_MS_LEN 24

/* af_rfc3339_now: "2026-01-02T03:04:05.678Z", af_now()'s second and the
 * real clock's millisecond, into buf (at least AF_RFC3339_MS_LEN + 1
 * bytes). The date and time to the second change once a second: each
 * thread formats them then only, so a call costs little (the ledger and
 * the log stamp every request). */
void af_rfc3339_now(char *buf);

/* ---- small string helpers ---- */

/* af_strdup: strdup that returns NULL for NULL. Caller frees. */
char *af_strdup(const char *s);

/* af_strv_join: v[0..n) joined by sep into out (outlen bytes, at least 1),
 * cut with "..." when it does not fit; out is always NUL-terminated. For
 * messages ("registered: a, b"). */
void af_strv_join(char *out, size_t outlen, char *const *v, size_t n, const char *sep);

/* af_str_has_space_token: true when the space-separated list contains tok.
 * af_str_has_space_tokenn: the same for tok[0..len) (not NUL-ended); an
 * empty tok is never contained. */
bool af_str_has_space_token(const char *list, const char *tok);
bool af_str_has_space_tokenn(const char *list, const char *tok, size_t len);

/* AF_EDIT_DISTANCE_MAX: the longest string af_edit_distance compares. */
#define AF_EDIT_DISTANCE_MAX 64

/* af_edit_distance: the optimal string alignment distance between a and b
 * (insertions, deletions, substitutions and swaps of adjacent characters),
 * for "did you mean" suggestions. SIZE_MAX when either string is longer
 * than AF_EDIT_DISTANCE_MAX bytes. */
size_t af_edit_distance(const char *a, const char *b);

#endif
