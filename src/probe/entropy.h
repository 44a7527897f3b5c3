/*
 * entropy.h - how many bits of randomness samples of one kind of
 * credential can carry at most (RFC 6749 §10.10: a code or token MUST be
 * guessed with a probability of at most 2^-128), for the `samples`
 * expectation (expect.c). Private to src/probe/.
 *
 * Written by hand: no library here estimates it. The bound is an upper
 * one, so that a failure is a proof: characters that are the same in every
 * sample carry nothing, each one that varies at most log2 of the smallest
 * usual alphabet that holds every varying character (10 digits, 16 hex
 * digits, 64 of base64url, 70 with . ~ + / =, else 95 printable, else 256).
 * A JWT's varying payload counts as random text, so a signed JWT passes:
 * what makes it unguessable is its signature.
 */
#ifndef AUTHFLOW_PROBE_ENTROPY_H
#define AUTHFLOW_PROBE_ENTROPY_H

#include <stddef.h>

struct af_entropy {
    double bits;       /* the upper bound */
    size_t varying;    /* characters that differ between samples */
    size_t length;     /* the longest sample's length */
    unsigned alphabet; /* the alphabet size assumed for each varying one */
};

#define AF_ENTROPY_MAX_SAMPLES 32 /* samples looked at; more are left out */

/* af_entropy_bound: the bound for n samples (n >= 2, borrowed; at most
 * AF_ENTROPY_MAX_SAMPLES are looked at). Each sample is measured once, so
 * the work is linear in the samples' total length. Samples
 * of one length are compared position by position; samples of different
 * lengths by the prefix and suffix they all share, the rest counted as
 * varying (the longest sample's rest). */
void af_entropy_bound(const char *const *s, size_t n, struct af_entropy *out);

#endif
