/*
 * log.h - leveled logging to stderr, one line per message, as text or as
 * JSON lines (--log-format). Thread-safe: each message is written with a
 * single stdio call.
 */
#ifndef AUTHFLOW_LOG_H
#define AUTHFLOW_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "authflow/buf.h"
#include "authflow/rc.h"

typedef enum { AF_LOG_ERROR = 0, AF_LOG_WARN, AF_LOG_INFO, AF_LOG_DEBUG } af_log_level;

/* AF_LOG_TEXT: "TIME LEVEL message"; AF_LOG_JSON: one JSON object a line,
 * {"time": ..., "level": ..., then the message's members}. */
typedef enum { AF_LOG_TEXT = 0, AF_LOG_JSON } af_log_format;

void af_log_set_level(af_log_level lvl);
af_log_level af_log_get_level(void);

/* af_log_enabled: whether a message of lvl is written; check it before
 * building an expensive one. */
bool af_log_enabled(af_log_level lvl);

/* af_log_level_parse: "error", "warn", "info", "debug" -> level.
 * Returns AF_ERR_INVALID for anything else (out is untouched then). */
af_rc af_log_level_parse(const char *s, af_log_level *out) AF_WARN_UNUSED;

void af_log_set_format(af_log_format fmt);
af_log_format af_log_get_format(void);

/* af_log_format_parse: "text", "json" -> format. AF_ERR_INVALID for
 * anything else (out is untouched then). */
af_rc af_log_format_parse(const char *s, af_log_format *out) AF_WARN_UNUSED;

/* af_log: a printf-style message; in JSON it is the member "msg". */
void af_log(af_log_level lvl, const char *fmt, ...) AF_PRINTF(2, 3);

#define af_log_error(...) af_log(AF_LOG_ERROR, __VA_ARGS__)
#define af_log_warn(...)  af_log(AF_LOG_WARN, __VA_ARGS__)
#define af_log_info(...)  af_log(AF_LOG_INFO, __VA_ARGS__)
#define af_log_debug(...) af_log(AF_LOG_DEBUG, __VA_ARGS__)

/* af_log_record: write a message the caller built: in text, the line
 * after the time and level; in JSON, the object's members after "time"
 * and "level" (`"k":v,...`, no braces). Nothing when lvl is off. */
void af_log_record(af_log_level lvl, const char *body, size_t len);

/* af_log_text: append s to out as one line of text: af_text_escape
 * (util.h), and newline and tab as "\x0a", "\x09" too, so that what a
 * client sent can neither forge a line nor move the terminal.
 * AF_ERR_TOOBIG when out's cap cut it short (what fit is kept). */
af_rc af_log_text(struct af_buf *out, const char *s) AF_WARN_UNUSED;

/* af_log_json_str: append s to out as a quoted JSON string holding what
 * af_log_text shows. AF_ERR_TOOBIG when out's cap cut it short (out then
 * holds what it had before). */
af_rc af_log_json_str(struct af_buf *out, const char *s) AF_WARN_UNUSED;

#endif
