/* rc.c - status names and error detail. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "authflow/rc.h"

static const struct {
    af_rc val;
    const char *str;
} rc_names[] = {
    {AF_OK, "ok"},
    {AF_ERR_NOMEM, "nomem"},
    {AF_ERR_INVALID, "invalid"},
    {AF_ERR_PARSE, "parse"},
    {AF_ERR_TOOBIG, "toobig"},
    {AF_ERR_NOTFOUND, "notfound"},
    {AF_ERR_CRYPTO, "crypto"},
    {AF_ERR_IO, "io"},
    {AF_ERR_STATE, "state"},
    {AF_ERR_NET, "net"},
};

const char *af_rc_str(af_rc rc)
{
    size_t i;
    for (i = 0; i < sizeof(rc_names) / sizeof(rc_names[0]); i++) {
        if (rc_names[i].val == rc)
            return rc_names[i].str;
    }
    return "unknown";
}

af_rc af_err_set(struct af_err *err, const char *file, int line, af_rc rc, const char *fmt, ...)
{
    va_list ap;
    if (err == NULL)
        return rc;
    err->rc = rc;
    err->file = file;
    err->line = line;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return rc;
}

void af_err_clear(struct af_err *err)
{
    if (err == NULL)
        return;
    memset(err, 0, sizeof(*err));
}
