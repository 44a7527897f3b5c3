/*
 * jsonutil.h - JSON helpers shared by the probe's modules (jsonutil.c).
 * Private to src/probe/. Results are borrowed from the argument.
 */
#ifndef AUTHFLOW_PROBE_JSONUTIL_H
#define AUTHFLOW_PROBE_JSONUTIL_H

#include <stdbool.h>

#include <jansson.h>

#include "authflow/rc.h"

/* af_json_type_name: v's type as a phrase for messages ("a string", "an
 * integer", ...); a static string. */
const char *af_json_type_name(const json_t *v);

/* JSON type masks of the loaders' key tables (suite.c, expect.c). */
enum {
    TS = 1,  /* string */
    TI = 2,  /* integer */
    TN = 4,  /* number (integer or real) */
    TB = 8,  /* boolean */
    TO = 16, /* object */
    TA = 32, /* array */
    TZ = 64, /* null */
    TANY = 127
};

/* af_json_type_ok: v's type is among the mask types (an integer is also a
 * TN number). */
bool af_json_type_ok(const json_t *v, unsigned types);

/* af_json_known_keys: AF_OK when every key of the object obj is one of
 * keys[0..n); else AF_ERR_INVALID with err reading "WHAT: unknown key "K"
 * (key, key, ...)", the keys listed in the order given. */
af_rc af_json_known_keys(const json_t *obj, const char *const *keys, size_t n, const char *what,
                         struct af_err *err) AF_WARN_UNUSED;

/* af_json_path: walk v along a dotted path with [N] (borrowed result; NULL
 * when absent). An empty path is v itself. */
json_t *af_json_path(const json_t *v, const char *path);

/* af_json_merge: merge over into base key by key (base is changed, over
 * borrowed): where both hold an object, recursively; otherwise over's
 * value replaces base's. A non-object never replaces an object, since that
 * would silently drop every default under it: AF_ERR_INVALID, err naming
 * the key as WHERE.KEY (where: "vars", say). */
af_rc af_json_merge(json_t *base, const json_t *over, const char *where,
                    struct af_err *err) AF_WARN_UNUSED;

/* af_json_set_path: base.A.B.C = v for the dotted path "A.B.C" (v is
 * stolen, also on error), creating the objects on the way. A value on the
 * way that is not an object, an empty segment, or replacing an object by
 * a non-object is AF_ERR_INVALID, err naming the path as WHERE.PATH. */
af_rc af_json_set_path(json_t *base, const char *path, json_t *v, const char *where,
                       struct af_err *err) AF_WARN_UNUSED;

#endif
