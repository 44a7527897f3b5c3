/*
 * jsonpos.h - the source-position scanner of src/cfg/jsonpos.c, shared by
 * the config loader (src/cfg) and the suite and profile loaders (src/probe).
 *
 * jansson gives a line and column only for syntax errors; a parsed json_t
 * keeps no source positions. So when the loader finds a value it does not
 * accept, it asks this scanner where that value sits in the original text,
 * by key path. Nothing here allocates.
 */
#ifndef AUTHFLOW_JSONPOS_H
#define AUTHFLOW_JSONPOS_H

#include <stdbool.h>
#include <stddef.h>

/* One step of a key path: a member name, or (key NULL) an array index. */
struct af_jseg {
    const char *key; /* borrowed; NULL for an array index */
    size_t index;
};

/* The deepest path the loader builds, plus room for a validator's steps. */
#define AF_JPATH_MAX 16

/* af_jsonpos_find: locate path (n steps) in the JSON text[0..len) and give
 * the 1-based line and column of the value there, or of its member name when
 * at_key is set and the last step is a name. When a step is missing, the
 * position is that of the deepest value that exists (for a missing key, the
 * object that lacks it). Returns how many steps were found: n when the whole
 * path exists. Names are compared after decoding JSON escapes. Never reads
 * outside text; malformed text ends the search where it breaks. */
size_t af_jsonpos_find(const char *text, size_t len, const struct af_jseg *path, size_t n,
                       bool at_key, int *line, int *col);

/* af_jsonpos_find_str: af_jsonpos_find with the path written as the loader
 * prints it, "clients[1].redirect_uris[0]" ("" is the top-level value;
 * names containing '.' or '[' cannot be written this way). Returns the number
 * of steps found, or -1 when path does not parse. */
int af_jsonpos_find_str(const char *text, size_t len, const char *path, bool at_key, int *line,
                        int *col);

/* af_jsonpos_linecol: line and column of byte offset off (both 1-based;
 * columns count UTF-8 characters, not bytes, as jansson's do). */
void af_jsonpos_linecol(const char *text, size_t len, size_t off, int *line, int *col);

/* af_jsonpos_path_at: the key path being read when a scan of text reaches
 * byte offset off (or breaks on malformed text before it), written to
 * buf[0..cap) NUL-terminated; "" for the top level. jansson reports a syntax
 * error as an offset only; this names the member it is in (for a duplicate
 * key, the key itself). */
void af_jsonpos_path_at(const char *text, size_t len, size_t off, char *buf, size_t cap);

/* af_jsonpos_path_str: path (n steps) as "clients[1].redirect_uris[0]" into
 * buf[0..cap), NUL-terminated, cut with "..." when it does not fit. Names
 * other than [A-Za-z0-9_-]+ are written as ["..."] with JSON escapes, so
 * the text stays unambiguous. */
void af_jsonpos_path_str(const struct af_jseg *path, size_t n, char *buf, size_t cap);

/* af_jsonpos_quote: s as a JSON string literal (quotes, escapes) into
 * buf[0..cap); more than max bytes of s are cut at a character boundary and
 * marked with "...". For quoting user values in error messages. */
void af_jsonpos_quote(const char *s, size_t max, char *buf, size_t cap);

#endif
