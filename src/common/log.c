/* log.c - leveled logging to stderr. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "authflow/log.h"

static volatile af_log_level log_level = AF_LOG_WARN;

static const struct {
    af_log_level val;
    const char *str;
} level_names[] = {
    {AF_LOG_ERROR, "error"}, {AF_LOG_WARN, "warn"}, {AF_LOG_INFO, "info"}, {AF_LOG_DEBUG, "debug"}};

void af_log_set_level(af_log_level lvl)
{
    log_level = lvl;
}

af_log_level af_log_get_level(void)
{
    return log_level;
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

void af_log(af_log_level lvl, const char *fmt, ...)
{
    char line[1024];
    char stamp[32];
    struct tm tm;
    time_t t;
    va_list ap;
    int n;

    if (lvl > log_level)
        return;
    t = time(NULL);
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    n = snprintf(line, sizeof(line), "%s %-5s ", stamp, level_names[lvl].str);
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof(line))
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
}
