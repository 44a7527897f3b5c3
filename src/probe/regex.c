/*
 * regex.c - bounded compilation of POSIX extended regular expressions
 * (see regex.h).
 *
 * Written by hand: neither glibc nor our libraries can say beforehand how
 * much memory a pattern will take. This is not a regex parser, only a
 * weigher of one: it walks the pattern's groups, bracket expressions,
 * escapes and repetitions as POSIX ERE defines them, and counts the parts
 * glibc's tree will hold, counting every copy a repetition makes. It may
 * overcount (each byte of a multibyte character is a part), never
 * undercount: what it lets through, regcomp compiles in bounded memory.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "probe/regex.h"

/* More than any bound: weights saturate here, so nothing overflows. */
#define HEAVY ((unsigned long)AF_REGEX_PARTS_MAX + 1)

static unsigned long mul(unsigned long a, unsigned long b)
{
    return b != 0 && a > HEAVY / b ? HEAVY : a * b;
}

static unsigned long add(unsigned long a, unsigned long b)
{
    return a + b > HEAVY ? HEAVY : a + b;
}

/* bracket_end: p is just after "["; the byte after its closing "]", or
 * NULL when it has none (regcomp then refuses the pattern). */
static const char *bracket_end(const char *p)
{
    if (*p == '^')
        p++;
    if (*p == ']')
        p++; /* a "]" first is a member */
    while (*p != '\0' && *p != ']') {
        if (p[0] == '[' && (p[1] == ':' || p[1] == '=' || p[1] == '.')) {
            char close[3] = {p[1], ']', '\0'};
            const char *e = strstr(p + 2, close);
            if (e == NULL)
                return NULL;
            p = e + 2;
        } else {
            p++;
        }
    }
    return *p == ']' ? p + 1 : NULL;
}

/* bound: p is just after "{": the larger bound of "{n}", "{n,}" or
 * "{n,m}" ("{n,}" copies its atom n + 1 times) and *end after the "}";
 * 0 when this "{" starts no bound (in ERE it is then a literal). */
static unsigned long bound(const char *p, const char **end)
{
    unsigned long n = 0, m;
    const char *q = p;

    if (*q < '0' || *q > '9')
        return 0;
    while (*q >= '0' && *q <= '9')
        n = add(mul(n, 10), (unsigned long)(*q++ - '0'));
    m = n;
    if (*q == ',') {
        q++;
        if (*q >= '0' && *q <= '9') {
            m = 0;
            while (*q >= '0' && *q <= '9')
                m = add(mul(m, 10), (unsigned long)(*q++ - '0'));
        } else {
            m = add(n, 1);
        }
    }
    if (*q != '}')
        return 0;
    *end = q + 1;
    return n > m ? n : m;
}

/* weigh: the parts pattern expands to (saturated at HEAVY); why set when
 * it is refused for its nesting. */
static unsigned long weigh(const char *pattern, char *why, size_t why_len)
{
    /* per open group: the weight so far and that of its last atom */
    unsigned long total[AF_REGEX_DEPTH_MAX + 1] = {0}, last[AF_REGEX_DEPTH_MAX + 1] = {0};
    size_t d = 0;
    const char *p = pattern, *end;
    unsigned long times;

    while (*p != '\0') {
        unsigned long atom = 1, copies = 0;
        switch (*p) {
        case '\\':
            p += p[1] != '\0' ? 2 : 1;
            break;
        case '[':
            end = bracket_end(p + 1);
            p = end != NULL ? end : p + strlen(p);
            break;
        case '(':
            if (d == AF_REGEX_DEPTH_MAX) {
                snprintf(why, why_len, "nests groups deeper than %d", AF_REGEX_DEPTH_MAX);
                return HEAVY;
            }
            d++;
            total[d] = last[d] = 0;
            p++;
            continue;
        case ')':
            p++;
            if (d == 0)
                break; /* a literal ")" */
            atom = total[d];
            d--;
            break;
        case '|':
            last[d] = 0;
            p++;
            continue;
        case '+':
            copies = 2;
            p++;
            break;
        case '*':
        case '?':
            copies = 1;
            p++;
            break;
        case '{':
            times = bound(p + 1, &end);
            if (times > 0) {
                copies = add(times, 1);
                p = end;
            } else {
                p++;
            }
            break;
        default:
            p++;
        }
        if (copies > 0 && last[d] > 0) {
            /* a repetition: the last atom (or group) copied */
            unsigned long grown = mul(last[d], copies);
            total[d] = add(total[d] - last[d], grown);
            last[d] = grown;
        } else {
            /* an atom, or a repetition with nothing before it (a literal) */
            last[d] = atom;
            total[d] = add(total[d], atom);
        }
        if (total[d] >= HEAVY)
            return HEAVY;
    }
    /* groups left open: regcomp refuses the pattern; weigh what there is */
    while (d > 0) {
        total[d - 1] = add(total[d - 1], total[d]);
        d--;
    }
    return total[0];
}

int af_regex_compile(regex_t *re, const char *pattern, int flags, char *why, size_t why_len)
{
    size_t len = strlen(pattern);
    int e;

    why[0] = '\0';
    if (len > AF_REGEX_LEN_MAX) {
        snprintf(why, why_len, "is longer than %d bytes (%zu)", AF_REGEX_LEN_MAX, len);
        return REG_ESPACE;
    }
    if (weigh(pattern, why, why_len) >= HEAVY) {
        if (why[0] == '\0')
            snprintf(why, why_len,
                     "is too complex: its repetitions expand it to more than %d parts (\"+\" and "
                     "\"{n,m}\" "
                     "copy what they repeat, stacked or nested ones multiply)",
                     AF_REGEX_PARTS_MAX);
        return REG_ESPACE;
    }
    e = regcomp(re, pattern, flags);
    if (e != 0) {
        char buf[128];
        regerror(e, re, buf, sizeof(buf));
        snprintf(why, why_len, "does not compile: %s", buf);
    }
    return e;
}
