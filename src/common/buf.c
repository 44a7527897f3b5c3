/* buf.c - growable bounded buffers (see buf.h for the contract). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authflow/buf.h"

void af_buf_init(struct af_buf *b, size_t max)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

static af_rc buf_reserve(struct af_buf *b, size_t extra)
{
    size_t need, ncap;
    char *np;
    if (extra > b->max || b->len > b->max - extra)
        return AF_ERR_TOOBIG;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return AF_OK;
    ncap = b->cap ? b->cap : 64;
    while (ncap < need)
        ncap *= 2;
    if (ncap > b->max + 1)
        ncap = b->max + 1;
    np = realloc(b->p, ncap);
    if (np == NULL)
        return AF_ERR_NOMEM;
    b->p = np;
    b->cap = ncap;
    return AF_OK;
}

af_rc af_buf_add(struct af_buf *b, const void *data, size_t len)
{
    af_rc rc = buf_reserve(b, len);
    if (rc != AF_OK)
        return rc;
    if (len)
        memcpy(b->p + b->len, data, len);
    b->len += len;
    b->p[b->len] = '\0';
    return AF_OK;
}

af_rc af_buf_adds(struct af_buf *b, const char *s)
{
    return af_buf_add(b, s, strlen(s));
}

af_rc af_buf_addc(struct af_buf *b, char c)
{
    return af_buf_add(b, &c, 1);
}

af_rc af_buf_vaddf(struct af_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;
    af_rc rc;
    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return AF_ERR_INVALID;
    rc = buf_reserve(b, (size_t)n);
    if (rc != AF_OK)
        return rc;
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return AF_OK;
}

af_rc af_buf_addf(struct af_buf *b, const char *fmt, ...)
{
    va_list ap;
    af_rc rc;
    va_start(ap, fmt);
    rc = af_buf_vaddf(b, fmt, ap);
    va_end(ap);
    return rc;
}

const char *af_buf_str(const struct af_buf *b)
{
    return b->p ? b->p : "";
}

char *af_buf_detach(struct af_buf *b)
{
    char *p = b->p;
    if (p == NULL)
        p = calloc(1, 1);
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

void af_buf_reset(struct af_buf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

void af_buf_free(struct af_buf *b)
{
    if (b == NULL)
        return;
    free(b->p);
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
}
