/*
 * buf.h - growable byte buffers with a hard cap chosen by the caller.
 *
 * The content is always NUL-terminated (the terminator is not counted in
 * len), so af_buf_str() can be handed to string functions. Once an append
 * would exceed max, the append fails with AF_ERR_TOOBIG and the buffer keeps
 * what it had: nothing is truncated silently.
 */
#ifndef AUTHFLOW_BUF_H
#define AUTHFLOW_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "authflow/rc.h"

struct af_buf {
    char *p;    /* owned by the buffer; NULL while empty */
    size_t len; /* bytes used, without the terminator */
    size_t cap; /* bytes allocated */
    size_t max; /* the cap: len never exceeds it */
};

/* af_buf_init: an empty buffer that will hold at most max bytes. No allocation. */
void af_buf_init(struct af_buf *b, size_t max);

/* af_buf_add: append len bytes. On error the buffer is unchanged. */
af_rc af_buf_add(struct af_buf *b, const void *data, size_t len) AF_WARN_UNUSED;
af_rc af_buf_adds(struct af_buf *b, const char *s) AF_WARN_UNUSED;
af_rc af_buf_addc(struct af_buf *b, char c) AF_WARN_UNUSED;
af_rc af_buf_addf(struct af_buf *b, const char *fmt, ...) AF_PRINTF(2, 3) AF_WARN_UNUSED;
af_rc af_buf_vaddf(struct af_buf *b, const char *fmt, va_list ap) AF_WARN_UNUSED;

/* af_buf_str: the content, borrowed, valid until the next change of b.
 * Returns "" (a static string) for an empty buffer, never NULL. */
const char *af_buf_str(const struct af_buf *b);

/* af_buf_detach: hand the content over; caller frees with free(). The buffer
 * is left empty (and reusable). Returns an allocated "" for an empty buffer,
 * or NULL only when that allocation fails. */
char *af_buf_detach(struct af_buf *b);

/* af_buf_reset: empty the buffer, keeping its allocation and cap. */
void af_buf_reset(struct af_buf *b);

/* af_buf_free: release the content; the buffer is left empty. NULL is a no-op. */
void af_buf_free(struct af_buf *b);

#endif
