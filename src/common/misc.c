/* misc.c - randomness, constant-time comparison, the clock, small strings. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "authflow/util.h"

af_rc af_rand_bytes(unsigned char *out, size_t n)
{
    if (n > (size_t)0x7fffffff || RAND_bytes(out, (int)n) != 1)
        return AF_ERR_CRYPTO;
    return AF_OK;
}

af_rc af_rand_token(size_t nbytes, char **out)
{
    unsigned char raw[64];
    struct af_buf b;
    af_rc rc;

    *out = NULL;
    if (nbytes == 0 || nbytes > sizeof(raw))
        return AF_ERR_INVALID;
    af_buf_init(&b, 128);
    rc = af_rand_bytes(raw, nbytes);
    if (rc != AF_OK)
        goto out;
    rc = af_b64url_encode(&b, raw, nbytes);
    if (rc != AF_OK)
        goto out;
    *out = af_buf_detach(&b);
    if (*out == NULL)
        rc = AF_ERR_NOMEM;
out:
    OPENSSL_cleanse(raw, sizeof(raw));
    af_buf_free(&b);
    return rc;
}

bool af_ct_streq(const char *a, const char *b)
{
    unsigned char da[SHA256_DIGEST_LENGTH], db[SHA256_DIGEST_LENGTH];
    if (a == NULL || b == NULL)
        return false;
    /* Compare digests so that neither the content nor the length of the
     * secret leaks through timing; the digests are compared in constant
     * time. A SHA-256 collision would be needed for a false match. */
    SHA256((const unsigned char *)a, strlen(a), da);
    SHA256((const unsigned char *)b, strlen(b), db);
    return CRYPTO_memcmp(da, db, sizeof(da)) == 0;
}

static volatile long clock_offset;
static volatile time_t clock_frozen;

time_t af_now(void)
{
    return (clock_frozen ? clock_frozen : time(NULL)) + clock_offset;
}

void af_clock_freeze(time_t t)
{
    clock_frozen = t;
}

void af_clock_set_offset(long delta)
{
    clock_offset = delta;
}

uint64_t af_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void af_rfc3339_now(char *buf)
{
    static __thread time_t last;
    static __thread char secs[AF_RFC3339_MS_LEN + 1]; /* "" until the first call */
    struct timespec ts;
    struct tm tm;
    time_t t = af_now();
    long ms;
    size_t n;

    if (secs[0] == '\0' || t != last) {
        gmtime_r(&t, &tm);
        if (strftime(secs, sizeof(secs), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
            secs[0] = '\0';
        last = t;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    ms = ts.tv_nsec / 1000000L;
    n = strlen(secs);
    memcpy(buf, secs, n);
    buf[n++] = '.';
    buf[n++] = (char)('0' + ms / 100);
    buf[n++] = (char)('0' + ms / 10 % 10);
    buf[n++] = (char)('0' + ms % 10);
    buf[n++] = 'Z';
    buf[n] = '\0';
}

char *af_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

void af_strv_join(char *out, size_t outlen, char *const *v, size_t n, const char *sep)
{
    size_t used = 0, i;
    int k;

    out[0] = '\0';
    for (i = 0; i < n; i++) {
        k = snprintf(out + used, outlen - used, "%s%s", i > 0 ? sep : "", v[i]);
        if (k < 0 || (size_t)k >= outlen - used) {
            /* cut: end with "..." where it fits */
            if (outlen >= 4)
                memcpy(out + outlen - 4, "...", 4);
            return;
        }
        used += (size_t)k;
    }
}

bool af_str_has_space_tokenn(const char *list, const char *tok, size_t tl)
{
    const char *p = list;
    if (list == NULL || tok == NULL || tl == 0)
        return false;
    while (*p) {
        const char *e;
        while (*p == ' ')
            p++;
        e = p;
        while (*e && *e != ' ')
            e++;
        if ((size_t)(e - p) == tl && strncmp(p, tok, tl) == 0)
            return true;
        p = e;
    }
    return false;
}

bool af_str_has_space_token(const char *list, const char *tok)
{
    return tok != NULL && af_str_has_space_tokenn(list, tok, strlen(tok));
}

size_t af_edit_distance(const char *a, const char *b)
{
    unsigned short d[AF_EDIT_DISTANCE_MAX + 1][AF_EDIT_DISTANCE_MAX + 1];
    size_t la = strlen(a), lb = strlen(b), i, j;

    if (la > AF_EDIT_DISTANCE_MAX || lb > AF_EDIT_DISTANCE_MAX)
        return SIZE_MAX;
    for (i = 0; i <= la; i++)
        d[i][0] = (unsigned short)i;
    for (j = 0; j <= lb; j++)
        d[0][j] = (unsigned short)j;
    for (i = 1; i <= la; i++) {
        for (j = 1; j <= lb; j++) {
            unsigned short best = (unsigned short)(d[i - 1][j - 1] + (a[i - 1] != b[j - 1]));
            if (d[i - 1][j] + 1 < best)
                best = (unsigned short)(d[i - 1][j] + 1);
            if (d[i][j - 1] + 1 < best)
                best = (unsigned short)(d[i][j - 1] + 1);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = (unsigned short)(d[i - 2][j - 2] + 1);
            d[i][j] = best;
        }
    }
    return d[la][lb];
}
