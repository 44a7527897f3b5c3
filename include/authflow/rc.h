/*
 * rc.h - the one status type of authflow, and the optional error detail.
 *
 * Every fallible function returns an af_rc. Callers that want to know more
 * pass a struct af_err *, which the callee fills with AF_ERR_SET (recording
 * the source file and line of the failure); passing NULL is always allowed.
 */
#ifndef AUTHFLOW_RC_H
#define AUTHFLOW_RC_H

#include <stddef.h>

#if defined(__GNUC__)
#define AF_WARN_UNUSED  __attribute__((warn_unused_result))
#define AF_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define AF_WARN_UNUSED
#define AF_PRINTF(f, a)
#endif

typedef enum {
    AF_OK = 0,
    AF_ERR_NOMEM,    /* allocation failed */
    AF_ERR_INVALID,  /* the input is well-formed but not acceptable */
    AF_ERR_PARSE,    /* the input is malformed */
    AF_ERR_TOOBIG,   /* a size cap was reached */
    AF_ERR_NOTFOUND, /* the thing asked for does not exist */
    AF_ERR_CRYPTO,   /* OpenSSL failed, or a signature did not verify */
    AF_ERR_IO,       /* a file or socket operation failed */
    AF_ERR_STATE,    /* the object is not in a state that allows this */
    AF_ERR_NET,      /* a network peer could not be reached */
    AF_ERR_LAST
} af_rc;

#define AF_ERR_MSG_MAX 512

struct af_err {
    af_rc rc;
    const char *file; /* static string: the source file that set the error */
    int line;
    char msg[AF_ERR_MSG_MAX];
};

/* af_rc_str: a short static name for rc ("nomem", "parse", ...). Never NULL. */
const char *af_rc_str(af_rc rc);

/* af_err_set: fill err (if not NULL) with rc and a formatted message.
 * Returns rc so that callers can write `rc = AF_ERR_SET(err, AF_ERR_X, ...)`. */
af_rc af_err_set(struct af_err *err, const char *file, int line, af_rc rc, const char *fmt, ...)
    AF_PRINTF(5, 6);

#define AF_ERR_SET(err, rc, ...) af_err_set((err), __FILE__, __LINE__, (rc), __VA_ARGS__)

/* af_err_clear: reset err (if not NULL) to AF_OK with an empty message. */
void af_err_clear(struct af_err *err);

#endif
