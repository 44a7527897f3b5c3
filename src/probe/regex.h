/*
 * regex.h - POSIX extended regular expressions from suites and profiles,
 * compiled only when glibc can compile them in bounded memory
 * (src/probe/regex.c). Private to src/probe/.
 *
 * glibc's regcomp copies the tree of whatever a "+" or "{n,m}" repeats,
 * and copies the copies when repetitions are stacked or nested: "a" with
 * seventy "+" after it took over a gigabyte (found by fuzz_expect). A
 * suite is text a user may have been handed, so its patterns are weighed
 * first and refused with a reason.
 */
#ifndef AUTHFLOW_PROBE_REGEX_H
#define AUTHFLOW_PROBE_REGEX_H

#include <regex.h>
#include <stddef.h>

/* The longest pattern accepted, and the most parts its repetitions may
 * expand it to (a part: a character, a bracket expression, an escape). */
#define AF_REGEX_LEN_MAX   1024
#define AF_REGEX_PARTS_MAX 4096
/* The deepest nesting of groups accepted. */
#define AF_REGEX_DEPTH_MAX 32
/* Room for af_regex_compile's reason. */
#define AF_REGEX_WHY_MAX 192

/* af_regex_compile: regcomp(re, pattern, flags) once the pattern is within
 * the bounds above. 0 on success (the caller regfree()s re); else why
 * (why_len bytes, NUL-terminated) says what was wrong, to follow "regular
 * expression": "does not compile: " and regerror's text when regcomp
 * refused it, "is too complex: ...", "is longer than ...", "nests groups
 * deeper than ...". re then needs no regfree. */
int af_regex_compile(regex_t *re, const char *pattern, int flags, char *why, size_t why_len);

#endif
