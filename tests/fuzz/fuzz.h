/*
 * fuzz.h - what the libFuzzer harnesses of tests/fuzz/ share: the input as
 * a NUL-terminated string, and split into parts at a separator byte. See
 * tests/fuzz/README.md.
 */
#ifndef AUTHFLOW_FUZZ_H
#define AUTHFLOW_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Inputs larger than this are ignored: the parsers' own caps are smaller. */
#define FUZZ_MAX_INPUT (256 * 1024)

/* fuzz_str: data[0..size) as a string (cut at its first NUL); caller
 * frees with free(). NULL when out of memory or too large. */
static inline char *fuzz_str(const uint8_t *data, size_t size)
{
    char *s;
    if (size > FUZZ_MAX_INPUT)
        return NULL;
    s = malloc(size + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* fuzz_split: cut s (modified) at each sep into at most n parts; parts
 * not present are "". Returns how many were present. */
static inline size_t fuzz_split(char *s, char sep, char **parts, size_t n)
{
    size_t i, found = 0;
    for (i = 0; i < n; i++)
        parts[i] = "";
    for (i = 0; i < n && s != NULL; i++) {
        char *next = i + 1 < n ? strchr(s, sep) : NULL;
        parts[i] = s;
        found++;
        if (next == NULL)
            break;
        *next = '\0';
        s = next + 1;
    }
    return found;
}

#endif
