/*
 * log.h - leveled logging to stderr, one line per message.
 * Thread-safe: each message is written with a single stdio call.
 */
#ifndef AUTHFLOW_LOG_H
#define AUTHFLOW_LOG_H

#include "authflow/rc.h"

typedef enum { AF_LOG_ERROR = 0, AF_LOG_WARN, AF_LOG_INFO, AF_LOG_DEBUG } af_log_level;

void af_log_set_level(af_log_level lvl);
af_log_level af_log_get_level(void);

/* af_log_level_parse: "error", "warn", "info", "debug" -> level.
 * Returns AF_ERR_INVALID for anything else (out is untouched then). */
af_rc af_log_level_parse(const char *s, af_log_level *out) AF_WARN_UNUSED;

void af_log(af_log_level lvl, const char *fmt, ...) AF_PRINTF(2, 3);

#define af_log_error(...) af_log(AF_LOG_ERROR, __VA_ARGS__)
#define af_log_warn(...)  af_log(AF_LOG_WARN, __VA_ARGS__)
#define af_log_info(...)  af_log(AF_LOG_INFO, __VA_ARGS__)
#define af_log_debug(...) af_log(AF_LOG_DEBUG, __VA_ARGS__)

#endif
