/* log.c - leveled logging to stderr, as text or JSON lines. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "authflow/buf.h"
#include "authflow/log.h"
#include "authflow/util.h"

/* The longest message af_log writes; longer ones are cut. */
#define LOG_LINE_MAX 1024

static volatile af_log_level log_level = AF_LOG_WARN;
static volatile af_log_format log_format = AF_LOG_TEXT;

static const struct {
    af_log_level val;
    const char *str;
} level_names[] = {
    {AF_LOG_ERROR, "error"}, {AF_LOG_WARN, "warn"}, {AF_LOG_INFO, "info"}, {AF_LOG_DEBUG, "debug"}};

static const struct {
    af_log_format val;
    const char *str;
} format_names[] = {{AF_LOG_TEXT, "text"}, {AF_LOG_JSON, "json"}};

void af_log_set_level(af_log_level lvl)
{
    log_level = lvl;
}

af_log_level af_log_get_level(void)
{
    return log_level;
}

bool af_log_enabled(af_log_level lvl)
{
    return lvl <= log_level;
}

af_rc af_log_level_parse(const char *s, af_log_level *out)
{
    size_t i;
    for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(s, level_names[i].str) == 0) {
            *out = level_names[i].val;
            return AF_OK;
        }
    }
    return AF_ERR_INVALID;
}

void af_log_set_format(af_log_format fmt)
{
    log_format = fmt;
}

af_log_format af_log_get_format(void)
{
    return log_format;
}

af_rc af_log_format_parse(const char *s, af_log_format *out)
{
    size_t i;
    for (i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++) {
        if (strcmp(s, format_names[i].str) == 0) {
            *out = format_names[i].val;
            return AF_OK;
        }
    }
    return AF_ERR_INVALID;
}

af_rc af_log_text(struct af_buf *out, const char *s)
{
    af_rc rc = AF_OK;

    while (*s != '\0' && rc == AF_OK) {
        size_t n = strcspn(s, "\n\t");
        rc = af_text_escape(out, s, n);
        s += n;
        if (*s != '\0' && rc == AF_OK) {
            rc = af_buf_adds(out, *s == '\n' ? "\\x0a" : "\\x09");
            s++;
        }
    }
    return rc;
}

af_rc af_log_json_str(struct af_buf *out, const char *s)
{
    struct af_buf t;
    size_t before = out->len;
    af_rc rc;

    /* what af_log_text shows holds no control character: only the quote
     * and the backslash need escaping */
    af_buf_init(&t, out->max);
    rc = af_log_text(&t, s);
    if (rc == AF_OK)
        rc = af_buf_addc(out, '"');
    for (size_t i = 0; i < t.len && rc == AF_OK; i++) {
        if (t.p[i] == '"' || t.p[i] == '\\')
            rc = af_buf_addc(out, '\\');
        if (rc == AF_OK)
            rc = af_buf_addc(out, t.p[i]);
    }
    if (rc == AF_OK)
        rc = af_buf_addc(out, '"');
    if (rc != AF_OK && out->p != NULL) {
        out->len = before;
        out->p[before] = '\0';
    }
    af_buf_free(&t);
    return rc;
}

void af_log_record(af_log_level lvl, const char *body, size_t len)
{
    char stamp[AF_RFC3339_MS_LEN + 1];

    if (lvl > log_level)
        return;
    af_rfc3339_now(stamp);
    if (log_format == AF_LOG_JSON)
        fprintf(stderr, "{\"time\":\"%s\",\"level\":\"%s\",%.*s}\n", stamp, level_names[lvl].str,
                (int)len, body);
    else
        fprintf(stderr, "%s %-5s %.*s\n", stamp, level_names[lvl].str, (int)len, body);
}

void af_log(af_log_level lvl, const char *fmt, ...)
{
    char line[LOG_LINE_MAX];
    struct af_buf b;
    va_list ap;

    if (lvl > log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (log_format == AF_LOG_TEXT) {
        af_log_record(lvl, line, strlen(line));
        return;
    }
    af_buf_init(&b, 8 * LOG_LINE_MAX);
    if (af_buf_adds(&b, "\"msg\":") == AF_OK && af_log_json_str(&b, line) == AF_OK)
        af_log_record(lvl, b.p, b.len);
    af_buf_free(&b);
}
