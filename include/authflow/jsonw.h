/*
 * jsonw.h - compact JSON text from a jansson tree (src/common/jsonw.c),
 * written straight into an af_buf.
 *
 * The text is byte for byte what json_dumps(v, JSON_COMPACT |
 * JSON_ENCODE_ANY) gives (members in insertion order, the same escapes);
 * tests/check_util.c and the fuzz_jsonw harness compare the two. It exists
 * because json_dumps costs about as much as the rest of a token answer:
 * see jsonw.c.
 */
#ifndef AUTHFLOW_JSONW_H
#define AUTHFLOW_JSONW_H

#include <stddef.h>

#include <jansson.h>

#include "authflow/buf.h"
#include "authflow/rc.h"

/* Deeper trees are refused (jansson's parser has the same cap, so a parsed
 * tree always fits). */
#define AF_JSONW_DEPTH_MAX 2048

/* af_jsonw_value: append v (borrowed) as compact JSON to b. AF_ERR_INVALID
 * for a string that is not UTF-8 or a tree deeper than AF_JSONW_DEPTH_MAX,
 * AF_ERR_TOOBIG past b's cap, AF_ERR_NOMEM. On error b holds a partial
 * text: the caller resets or frees it. */
af_rc af_jsonw_value(struct af_buf *b, const json_t *v) AF_WARN_UNUSED;

/* af_jsonw_string: append s[0..len) (UTF-8, NULs allowed) as a JSON
 * string, quotes included. Errors as af_jsonw_value. */
af_rc af_jsonw_string(struct af_buf *b, const char *s, size_t len) AF_WARN_UNUSED;

/* af_jsonw_dumps: v as compact JSON in a new string the caller frees; NULL
 * where json_dumps would give NULL (not UTF-8, too deep) or out of memory. */
char *af_jsonw_dumps(const json_t *v);

#endif
