/*
 * entropy.c - an upper bound on the randomness of credential samples
 * (entropy.h).
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#include "probe/entropy.h"

/* The alphabets, smallest first; a character outside all is counted in a
 * 256-symbol one. */
static const struct {
    const char *chars;
    unsigned size;
    double bits; /* log2(size), written out: no libm for six constants */
} alphabets[] = {
    {"0123456789", 10, 3.321928},
    {"0123456789abcdef", 16, 4.0},
    {"0123456789ABCDEF", 16, 4.0},
    {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", 64, 6.0},
    {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~+/=", 70, 6.129283},
};

/* alphabet_of: the smallest alphabet holding every character seen; its
 * size and bits per character. */
static unsigned alphabet_of(const unsigned char seen[256], double *bits)
{
    size_t a;
    int c;
    bool printable = true;
    for (a = 0; a < sizeof(alphabets) / sizeof(alphabets[0]); a++) {
        bool all = true;
        for (c = 1; c < 256 && all; c++)
            if (seen[c] && strchr(alphabets[a].chars, c) == NULL)
                all = false;
        if (all) {
            *bits = alphabets[a].bits;
            return alphabets[a].size;
        }
    }
    for (c = 1; c < 256; c++)
        if (seen[c] && (c < 0x20 || c > 0x7e))
            printable = false;
    *bits = printable ? 6.569856 : 8.0;
    return printable ? 95 : 256;
}

void af_entropy_bound(const char *const *s, size_t n, struct af_entropy *out)
{
    unsigned char seen[256];
    size_t len[AF_ENTROPY_MAX_SAMPLES]; /* each sample's length, measured once */
    size_t i, k, minlen = (size_t)-1, maxlen = 0, lcp, lcs;
    bool same_len = true;

    memset(out, 0, sizeof(*out));
    memset(seen, 0, sizeof(seen));
    if (n > AF_ENTROPY_MAX_SAMPLES)
        n = AF_ENTROPY_MAX_SAMPLES;
    if (n == 0)
        return;
    for (k = 0; k < n; k++) {
        len[k] = strlen(s[k]);
        if (len[k] < minlen)
            minlen = len[k];
        if (len[k] > maxlen)
            maxlen = len[k];
        if (len[k] != len[0])
            same_len = false;
    }
    out->length = maxlen;
    /* the prefix and the suffix every sample shares, not overlapping */
    for (lcp = 0; lcp < minlen; lcp++) {
        for (k = 1; k < n && s[k][lcp] == s[0][lcp]; k++)
            ;
        if (k < n)
            break;
    }
    for (lcs = 0; lcs < minlen - lcp; lcs++) {
        for (k = 1; k < n && s[k][len[k] - 1 - lcs] == s[0][len[0] - 1 - lcs]; k++)
            ;
        if (k < n)
            break;
    }
    if (same_len) {
        for (i = lcp; i < maxlen - lcs; i++) {
            for (k = 1; k < n && s[k][i] == s[0][i]; k++)
                ;
            if (k == n)
                continue; /* the same in every sample */
            out->varying++;
            for (k = 0; k < n; k++)
                seen[(unsigned char)s[k][i]] = 1;
        }
    } else {
        out->varying = maxlen - lcp - lcs;
        for (k = 0; k < n; k++)
            for (i = lcp; i < len[k] - lcs; i++)
                seen[(unsigned char)s[k][i]] = 1;
    }
    if (out->varying > 0) {
        double per = 0;
        out->alphabet = alphabet_of(seen, &per);
        out->bits = (double)out->varying * per;
    }
}
