/*
 * jsonutil.c - small JSON helpers the probe's loaders and evaluators share:
 * type names and type masks for messages and key tables, and dotted-path
 * lookup. They live apart so that select.c and tmpl.c need not import them
 * from each other.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "probe/jsonutil.h"

const char *af_json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

bool af_json_type_ok(const json_t *v, unsigned types)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        return types & TS;
    case JSON_INTEGER:
        return types & (TI | TN);
    case JSON_REAL:
        return types & TN;
    case JSON_TRUE:
    case JSON_FALSE:
        return types & TB;
    case JSON_OBJECT:
        return types & TO;
    case JSON_ARRAY:
        return types & TA;
    default:
        return types & TZ;
    }
}

json_t *af_json_path(const json_t *v, const char *path)
{
    const char *p = path;
    while (v != NULL && *p) {
        if (*p == '.') {
            p++;
            continue;
        }
        if (*p == '[') {
            char *end;
            unsigned long idx = strtoul(p + 1, &end, 10);
            if (end == p + 1 || *end != ']' || !json_is_array(v))
                return NULL;
            v = json_array_get(v, idx);
            p = end + 1;
        } else {
            size_t n = strcspn(p, ".[");
            if (!json_is_object(v))
                return NULL;
            v = json_object_getn(v, p, n);
            p += n;
        }
    }
    return (json_t *)v;
}
