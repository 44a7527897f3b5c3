/*
 * jsonutil.c - small JSON helpers the probe's loaders and evaluators share:
 * type names and type masks for messages and key tables, and dotted-path
 * lookup and key-by-key merging. They live apart so that select.c and tmpl.c need not import them
 * from each other.
 */
#include "config.h"

#include <stdio.h>
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

/* merge_at: af_json_merge with the dotted path so far in path[0..len). */
static af_rc merge_at(json_t *base, const json_t *over, char *path, size_t len, size_t cap,
                      struct af_err *err)
{
    const char *key;
    json_t *ov;
    json_object_foreach((json_t *)over, key, ov)
    {
        json_t *bv = json_object_get(base, key);
        int n = snprintf(path + len, cap - len, ".%s", key);
        size_t nlen = n < 0 || (size_t)n >= cap - len ? cap - 1 : len + (size_t)n;
        af_rc rc;
        if (json_is_object(bv) && json_is_object(ov)) {
            rc = merge_at(bv, ov, path, nlen, cap, err);
            if (rc != AF_OK)
                return rc;
        } else if (json_is_object(bv)) {
            return AF_ERR_SET(err, AF_ERR_INVALID,
                              "%s is %s, but the defaults there are an object: set its members "
                              "(%s.NAME) instead of replacing them all",
                              path, af_json_type_name(ov), path);
        } else if (json_object_set(base, key, ov) != 0) {
            return AF_ERR_NOMEM;
        }
        path[len] = '\0';
    }
    return AF_OK;
}

af_rc af_json_merge(json_t *base, const json_t *over, const char *where, struct af_err *err)
{
    char path[256];
    if (!json_is_object(base) || !json_is_object(over))
        return AF_ERR_SET(err, AF_ERR_INVALID, "%s is not an object", where);
    snprintf(path, sizeof(path), "%s", where);
    return merge_at(base, over, path, strlen(path), sizeof(path), err);
}

af_rc af_json_set_path(json_t *base, const char *path, json_t *v, const char *where,
                       struct af_err *err)
{
    const char *p = path;
    json_t *at = base;
    json_t *probe = json_string(path);
    af_rc rc = AF_OK;
    if (probe == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "%s: a name that is not UTF-8", where);
        goto out;
    }
    json_decref(probe);
    if (*path == '\0' || *path == '.' || path[strlen(path) - 1] == '.' ||
        strstr(path, "..") != NULL) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "an empty name between dots in %s.%s", where, path);
        goto out;
    }
    for (;;) {
        size_t n = strcspn(p, ".");
        json_t *next;
        next = json_object_getn(at, p, n);
        if (p[n] == '\0') {
            if (json_is_object(next) && !json_is_object(v)) {
                rc = AF_ERR_SET(err, AF_ERR_INVALID,
                                "%s.%s is an object of defaults: set its members (%s.%s.NAME) "
                                "instead of replacing them all",
                                where, path, where, path);
                goto out;
            }
            /* json_object_setn_new steals v, also when it fails */
            rc = json_object_setn_new(at, p, n, v) == 0 ? AF_OK : AF_ERR_NOMEM;
            v = NULL;
            goto out;
        }
        if (next == NULL) {
            next = json_object();
            if (next == NULL || json_object_setn_new(at, p, n, next) != 0) {
                rc = AF_ERR_NOMEM;
                goto out;
            }
        } else if (!json_is_object(next)) {
            rc = AF_ERR_SET(err, AF_ERR_INVALID, "%s.%s: %s.%.*s is %s, not an object", where, path,
                            where, (int)(p + n - path), path, af_json_type_name(next));
            goto out;
        }
        at = next;
        p += n + 1;
    }
out:
    json_decref(v);
    return rc;
}

af_rc af_json_known_keys(const json_t *obj, const char *const *keys, size_t n, const char *what,
                         struct af_err *err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        char list[512];
        size_t i, used = 0;
        bool known = false;
        for (i = 0; i < n && !known; i++)
            known = strcmp(k, keys[i]) == 0;
        if (known)
            continue;
        list[0] = '\0';
        for (i = 0; i < n; i++) {
            int w = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", keys[i]);
            if (w < 0 || (size_t)w >= sizeof(list) - used)
                break;
            used += (size_t)w;
        }
        return AF_ERR_SET(err, AF_ERR_INVALID, "%s: unknown key \"%s\" (%s)", what, k, list);
    }
    return AF_OK;
}
