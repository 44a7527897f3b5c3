/*
 * expect.c - expectations: validating them when a suite loads and
 * evaluating them against a step's hops (docs/suite-format.md §10, §11).
 *
 * A failure message is one line "what: expected X, got Y"; the runner adds
 * the check id, the step and the spec clause around it.
 */
#include "config.h"

#include <ctype.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authflow/jose.h"
#include "authflow/proto.h"
#include "probe/claims.h"
#include "probe/entropy.h"
#include "probe/probe_int.h"
#include "probe/regex.h"

/* ---- validation (loader) ---- */

struct pred {
    const char *name;
    unsigned types;
};

/* Predicates in the order they are evaluated. */
static const struct pred preds[] = {
    {"present", TB},
    {"equals", TANY},
    {"not_equals", TANY},
    {"one_of", TA},
    {"contains", TS | TN | TB},
    {"not_contains", TS | TN | TB},
    {"starts_with", TS},
    {"matches", TS},
    {"not_matches", TS},
    {"has_token", TS},
    {"type", TS},
    {"range", TA},
    {"min_length", TI},
    {"only_keys", TA},
    {"keys", TA},
    {"any_keys", TA},
    {"count", TI},
    {"format", TS},
};

static const char *const common_keys[] = {"spec", "severity", "on", "why", "icase", "if", "role"};
static const char *const role_names[] = {"outcome", "form", "premise"};
static const char *const otherwise_names[] = {"skip", "inconclusive", "error"};
static const char *const shorthands[] = {"header", "json", "params", "cookie", "location", "body"};
static const char *const type_names[] = {"string", "number", "integer", "boolean",
                                         "object", "array",  "null"};
static const char *const format_names[] = {"error-code",        "url", "https",
                                           "no-query-fragment", "jwt", "oidc-claims"};
static const char *const on_names[] = {"last", "first", "page", "after_submit", "all", "any"};
static const char *const jwt_keys[] = {"jwt",    "verify", "alg",    "typ",   "iss",
                                       "aud",    "exp",    "iat",    "nonce", "at_hash",
                                       "c_hash", "kid",    "claims", "header"};
static const char *const jwks_keys[] = {"public_only", "distinct_kids", "kids", "rsa_min_bits",
                                        "ec_curves"};

static bool in_list(const char *s, const char *const *l, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (strcmp(s, l[i]) == 0)
            return true;
    return false;
}
#define IN(s, l) in_list((s), (l), sizeof(l) / sizeof((l)[0]))

static const struct pred *pred_find(const char *k)
{
    size_t i;
    for (i = 0; i < sizeof(preds) / sizeof(preds[0]); i++)
        if (strcmp(preds[i].name, k) == 0)
            return &preds[i];
    return NULL;
}

static af_rc path_key(struct af_buf *path, const char *k)
{
    return af_buf_addf(path, ".%s", k);
}

af_rc af_on_check(const json_t *on, struct af_err *err)
{
    const char *k;
    json_t *v;
    if (!json_is_object(on) || json_object_size(on) != 1)
        return AF_ERR_INVALID;
    json_object_foreach((json_t *)on, k, v)
    {
        if ((strcmp(k, "url") != 0 && strcmp(k, "location") != 0) || !json_is_string(v) ||
            json_string_length(v) == 0)
            return AF_ERR_INVALID;
        return af_tmpl_check(json_string_value(v), err);
    }
    return AF_ERR_INVALID;
}

af_rc af_conds_check(const json_t *conds, struct af_buf *path, struct af_err *err)
{
    size_t i;
    json_t *m;
    af_rc rc;
    if (!json_is_array(conds))
        return AF_ERR_SET(err, AF_ERR_INVALID, "must be a list of conditions");
    json_array_foreach(conds, i, m)
    {
        const char *k;
        json_t *x;
        size_t mark = path->len;
        if (af_buf_addf(path, "[%zu]", i) != AF_OK)
            return AF_ERR_NOMEM;
        if (!json_is_object(m))
            return AF_ERR_SET(err, AF_ERR_INVALID, "a condition must be an object");
        if (json_object_get(m, "any") != NULL) {
            /* {"any": [conditions], "why": ...}: holds when one of them does */
            json_object_foreach(m, k, x)
            {
                if (strcmp(k, "any") == 0 || strcmp(k, "why") == 0 || strcmp(k, "otherwise") == 0)
                    continue;
                (void)path_key(path, k);
                return AF_ERR_SET(err, AF_ERR_INVALID,
                                  "unknown key \"%s\" beside \"any\" (why, otherwise)", k);
            }
            x = json_object_get(m, "any");
            (void)path_key(path, "any");
            if (json_array_size(x) == 0)
                return AF_ERR_SET(err, AF_ERR_INVALID, "must be a list of at least one condition");
            rc = af_conds_check(x, path, err);
            if (rc != AF_OK)
                return rc;
            path->len = mark;
            path->p[mark] = '\0';
            continue;
        }
        if (!json_is_string(json_object_get(m, "that")))
            return AF_ERR_SET(err, AF_ERR_INVALID, "a condition needs \"that\": a variable name");
        json_object_foreach(m, k, x)
        {
            if (strcmp(k, "that") == 0 || strcmp(k, "icase") == 0 || strcmp(k, "why") == 0 ||
                pred_find(k) != NULL)
                continue;
            if (strcmp(k, "otherwise") == 0) {
                if (json_is_string(x) && IN(json_string_value(x), otherwise_names))
                    continue;
                (void)path_key(path, k);
                return AF_ERR_SET(err, AF_ERR_INVALID,
                                  "must be \"skip\", \"inconclusive\" or \"error\"");
            }
            (void)path_key(path, k);
            return AF_ERR_SET(err, AF_ERR_INVALID, "unknown key \"%s\" in a condition", k);
        }
        rc = af_expect_preds_check(m, true, path, err);
        if (rc != AF_OK)
            return rc;
        path->len = mark;
        path->p[mark] = '\0';
    }
    return AF_OK;
}

static af_rc check_common(const char *k, const json_t *v, struct af_buf *path, struct af_err *err)
{
    if (strcmp(k, "spec") == 0 || strcmp(k, "why") == 0) {
        if (!json_is_string(v))
            goto type;
        return AF_OK;
    }
    if (strcmp(k, "icase") == 0) {
        if (!json_is_boolean(v))
            goto type;
        return AF_OK;
    }
    if (strcmp(k, "role") == 0) {
        if (json_is_string(v) && IN(json_string_value(v), role_names))
            return AF_OK;
        (void)path_key(path, k);
        return AF_ERR_SET(err, AF_ERR_INVALID, "must be \"outcome\", \"form\" or \"premise\"");
    }
    if (strcmp(k, "severity") == 0) {
        if (!json_is_string(v) || (strcmp(json_string_value(v), "MUST") != 0 &&
                                   strcmp(json_string_value(v), "SHOULD") != 0)) {
            (void)path_key(path, k);
            return AF_ERR_SET(err, AF_ERR_INVALID, "must be \"MUST\" or \"SHOULD\"");
        }
        return AF_OK;
    }
    if (strcmp(k, "if") == 0) {
        size_t mark = path->len;
        af_rc rc;
        (void)path_key(path, k);
        rc = af_conds_check(v, path, err);
        if (rc == AF_OK) {
            path->len = mark;
            path->p[mark] = '\0';
        }
        return rc;
    }
    /* on */
    if (json_is_integer(v) && json_integer_value(v) >= 0)
        return AF_OK;
    if (json_is_string(v) && IN(json_string_value(v), on_names))
        return AF_OK;
    if (af_on_check(v, err) == AF_OK)
        return AF_OK;
    (void)path_key(path, k);
    return AF_ERR_SET(err, AF_ERR_INVALID,
                      "must be a hop number, one of last, first, page, after_submit, all, any, "
                      "or {\"url\": PREFIX} / {\"location\": PREFIX}");
type:
    (void)path_key(path, k);
    return AF_ERR_SET(err, AF_ERR_INVALID, "must be %s, not %s",
                      strcmp(k, "icase") == 0 ? "a boolean" : "a string", af_json_type_name(v));
}

static af_rc check_pred_value(const char *k, const json_t *v, struct af_buf *path,
                              struct af_err *err)
{
    size_t i;
    json_t *m;
    af_rc rc = AF_OK;
    if (strcmp(k, "matches") == 0 || strcmp(k, "not_matches") == 0) {
        regex_t re;
        int e;
        if (strstr(json_string_value(v), "{{") != NULL) {
            /* A template: compiled once expanded, at run time. */
            size_t mark = path->len;
            if (path_key(path, k) != AF_OK)
                return AF_ERR_NOMEM;
            rc = af_tmpl_check(json_string_value(v), err);
            if (rc == AF_OK) {
                path->len = mark;
                path->p[mark] = '\0';
            }
            return rc;
        }
        char why[AF_REGEX_WHY_MAX];
        e = af_regex_compile(&re, json_string_value(v), REG_EXTENDED | REG_NOSUB, why, sizeof(why));
        if (e != 0) {
            (void)path_key(path, k);
            return AF_ERR_SET(err, AF_ERR_INVALID, "regular expression %s", why);
        }
        regfree(&re);
        return AF_OK;
    }
    if (strcmp(k, "type") == 0 && !IN(json_string_value(v), type_names)) {
        (void)path_key(path, k);
        return AF_ERR_SET(err, AF_ERR_INVALID,
                          "unknown type \"%s\" (string, number, integer, boolean, object, array, "
                          "null)",
                          json_string_value(v));
    }
    if (strcmp(k, "format") == 0 && !IN(json_string_value(v), format_names)) {
        (void)path_key(path, k);
        return AF_ERR_SET(err, AF_ERR_INVALID,
                          "unknown format \"%s\" (error-code, url, https, no-query-fragment, jwt, "
                          "oidc-claims)",
                          json_string_value(v));
    }
    if (strcmp(k, "range") == 0) {
        if (json_array_size(v) != 2 || !af_json_type_ok(json_array_get(v, 0), TN | TZ) ||
            !af_json_type_ok(json_array_get(v, 1), TN | TZ)) {
            (void)path_key(path, k);
            return AF_ERR_SET(err, AF_ERR_INVALID, "must be [MIN, MAX] (numbers or null)");
        }
    }
    if (strcmp(k, "only_keys") == 0 || strcmp(k, "keys") == 0 || strcmp(k, "any_keys") == 0) {
        json_array_foreach(v, i, m)
        {
            if (!json_is_string(m)) {
                af_msg_addf(path, ".%s[%zu]", k, i);
                return AF_ERR_SET(err, AF_ERR_INVALID, "must be a string");
            }
        }
    }
    if (strcmp(k, "equals") == 0 || strcmp(k, "not_equals") == 0 || strcmp(k, "one_of") == 0 ||
        strcmp(k, "contains") == 0 || strcmp(k, "not_contains") == 0 ||
        strcmp(k, "starts_with") == 0 || strcmp(k, "has_token") == 0) {
        size_t mark = path->len;
        if (path_key(path, k) != AF_OK)
            return AF_ERR_NOMEM;
        rc = af_tmpl_tree_check(v, path, err);
        if (rc == AF_OK) {
            path->len = mark;
            path->p[mark] = '\0';
        }
    }
    return rc;
}

af_rc af_expect_preds_check(const json_t *ex, bool need_predicate, struct af_buf *path,
                            struct af_err *err)
{
    const char *k;
    json_t *v;
    int n = 0;
    af_rc rc;
    json_object_foreach((json_t *)ex, k, v)
    {
        const struct pred *p = pred_find(k);
        if (p == NULL)
            continue;
        if (!af_json_type_ok(v, p->types)) {
            (void)path_key(path, k);
            return AF_ERR_SET(err, AF_ERR_INVALID, "%s does not take %s", k, af_json_type_name(v));
        }
        rc = check_pred_value(k, v, path, err);
        if (rc != AF_OK)
            return rc;
        n++;
    }
    if (need_predicate && n == 0)
        return AF_ERR_SET(
            err, AF_ERR_INVALID,
            "no predicate (present, equals, not_equals, one_of, contains, "
            "not_contains, starts_with, matches, not_matches, has_token, type, range, "
            "min_length, only_keys, keys, any_keys, count, format)");
    return AF_OK;
}

static af_rc unknown_key(const json_t *ex, const char *k, struct af_buf *path, struct af_err *err)
{
    const char *hint = "";
    (void)ex;
    (void)path_key(path, k);
    if (strcmp(k, "equal") == 0 || strcmp(k, "eq") == 0)
        hint = " (did you mean \"equals\"?)";
    else if (strcmp(k, "match") == 0 || strcmp(k, "regex") == 0)
        hint = " (did you mean \"matches\"?)";
    else if (strcmp(k, "contain") == 0)
        hint = " (did you mean \"contains\"?)";
    else if (strcmp(k, "in") == 0 || strcmp(k, "oneof") == 0)
        hint = " (did you mean \"one_of\"?)";
    else if (strcmp(k, "exists") == 0)
        hint = " (did you mean \"present\"?)";
    return AF_ERR_SET(err, AF_ERR_INVALID, "unknown key \"%s\"%s", k, hint);
}

static af_rc check_sub_list(const json_t *list, const char *key, bool jwt_claims,
                            struct af_buf *path, struct af_err *err)
{
    size_t i;
    json_t *m;
    af_rc rc;
    if (!json_is_array(list)) {
        (void)path_key(path, key);
        return AF_ERR_SET(err, AF_ERR_INVALID, "must be an array");
    }
    json_array_foreach(list, i, m)
    {
        size_t mark = path->len;
        if (af_buf_addf(path, ".%s[%zu]", key, i) != AF_OK)
            return AF_ERR_NOMEM;
        if (jwt_claims) {
            const char *k;
            json_t *v;
            if (!json_is_object(m))
                return AF_ERR_SET(err, AF_ERR_INVALID, "must be an object");
            if (!json_is_string(json_object_get(m, "that")))
                return AF_ERR_SET(err, AF_ERR_INVALID, "needs \"that\": a claim name");
            json_object_foreach(m, k, v)
            {
                if (strcmp(k, "that") != 0 && pred_find(k) == NULL && strcmp(k, "icase") != 0)
                    return unknown_key(m, k, path, err);
            }
            rc = af_expect_preds_check(m, true, path, err);
        } else {
            rc = af_expect_check(m, path, err);
        }
        if (rc != AF_OK)
            return rc;
        path->len = mark;
        path->p[mark] = '\0';
    }
    return AF_OK;
}

static af_rc check_status(const json_t *v, struct af_buf *path, struct af_err *err)
{
    size_t i;
    json_t *m;
    if (json_is_integer(v))
        return AF_OK;
    if (json_is_array(v) && json_array_size(v) > 0) {
        json_array_foreach(v, i, m)
        {
            if (!json_is_integer(m)) {
                af_msg_addf(path, ".status[%zu]", i);
                return AF_ERR_SET(err, AF_ERR_INVALID, "must be an integer");
            }
        }
        return AF_OK;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strlen(s) == 3 && s[0] >= '1' && s[0] <= '5' && s[1] == 'x' && s[2] == 'x')
            return AF_OK;
        if (strstr(s, "{{") != NULL) {
            /* "{{res.deny_status}}": a status taken from the profile, checked
             * once expanded */
            af_rc rc = af_tmpl_check(s, err);
            if (rc != AF_OK)
                (void)path_key(path, "status");
            return rc;
        }
    }
    if (json_is_object(v)) {
        const char *k;
        json_t *b;
        json_object_foreach((json_t *)v, k, b)
        {
            if ((strcmp(k, "min") != 0 && strcmp(k, "max") != 0) || !json_is_integer(b)) {
                af_msg_addf(path, ".status.%s", k);
                return AF_ERR_SET(err, AF_ERR_INVALID, "a status range has integer min and max");
            }
        }
        return AF_OK;
    }
    (void)path_key(path, "status");
    return AF_ERR_SET(err, AF_ERR_INVALID,
                      "must be a status (302), a list ([302, 303]), a class (\"4xx\") or a range "
                      "({\"min\": 400, \"max\": 499})");
}

/* expect_kind: the one kind key of ex (status, redirect, any, all, jwt,
 * that or a shorthand) into *kind, borrowed from ex; AF_ERR_INVALID when
 * there is none or more than one. */
static af_rc expect_kind(const json_t *ex, const char **kind, struct af_err *err)
{
    const char *k;
    json_t *v;
    int kinds = 0;

    *kind = NULL;
    json_object_foreach((json_t *)ex, k, v)
    {
        /* In a JWT expectation "header" lists header checks, not a kind. */
        if (strcmp(k, "header") == 0 && json_object_get(ex, "jwt") != NULL)
            continue;
        if (strcmp(k, "status") == 0 || strcmp(k, "redirect") == 0 || strcmp(k, "any") == 0 ||
            strcmp(k, "all") == 0 || strcmp(k, "jwt") == 0 || strcmp(k, "jwks") == 0 ||
            strcmp(k, "samples") == 0 || strcmp(k, "that") == 0 || IN(k, shorthands)) {
            kinds++;
            *kind = k;
        }
    }
    if (kinds != 1)
        return AF_ERR_SET(err, AF_ERR_INVALID,
                          kinds == 0 ? "no kind: give one of status, that, header, json, params, "
                                       "cookie, location, body, redirect, jwt, jwks, samples, any, "
                                       "all"
                                     : "more than one kind (status, that, header, json, params, "
                                       "cookie, location, body, redirect, jwt, jwks, samples, any, "
                                       "all)");
    return AF_OK;
}

/* expect_keys_check: every key of ex other than its kind is a common key
 * (checked), a JWT key for a jwt, or a predicate for that/shorthands. */
static af_rc expect_keys_check(const json_t *ex, const char *kind, struct af_buf *path,
                               struct af_err *err)
{
    const char *k;
    json_t *v;
    af_rc rc;
    json_object_foreach((json_t *)ex, k, v)
    {
        if (strcmp(k, kind) == 0)
            continue;
        if (IN(k, common_keys)) {
            rc = check_common(k, v, path, err);
            if (rc != AF_OK)
                return rc;
            continue;
        }
        if (strcmp(kind, "jwt") == 0 && IN(k, jwt_keys))
            continue;
        if (strcmp(kind, "jwks") == 0 && IN(k, jwks_keys))
            continue;
        if (strcmp(kind, "samples") == 0 && strcmp(k, "entropy_bits") == 0)
            continue;
        if ((strcmp(kind, "that") == 0 || IN(kind, shorthands)) && pred_find(k) != NULL)
            continue;
        return unknown_key(ex, k, path, err);
    }
    return AF_OK;
}

/* redirect_check: the value of a "redirect" expectation. */
static af_rc redirect_check(const json_t *v, struct af_buf *path, struct af_err *err)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strcmp(s, "client") == 0 || strcmp(s, "not_client") == 0 || strcmp(s, "none") == 0 ||
            strcmp(s, "any") == 0)
            return AF_OK;
    } else if (json_is_object(v) && json_object_size(v) == 1 &&
               (json_is_string(json_object_get(v, "to")) ||
                json_is_string(json_object_get(v, "not_to")))) {
        const json_t *u = json_object_get(v, "to");
        return af_tmpl_check(json_string_value(u ? u : json_object_get(v, "not_to")), err);
    }
    (void)path_key(path, "redirect");
    return AF_ERR_SET(err, AF_ERR_INVALID,
                      "must be \"client\", \"not_client\", \"none\", \"any\", {\"to\": URL} "
                      "or {\"not_to\": URL}");
}

/* jwt_check: the keys of a "jwt" expectation: selectors, booleans,
 * templates, alg and the claims/header predicate lists. */
static af_rc jwt_check(const json_t *ex, struct af_buf *path, struct af_err *err)
{
    const char *k;
    json_t *v;
    af_rc rc;
    const char *sk[] = {"jwt", "at_hash", "c_hash"};
    size_t i;
    for (i = 0; i < 3; i++) {
        json_t *s = json_object_get(ex, sk[i]);
        if (s == NULL)
            continue;
        if (!json_is_string(s)) {
            (void)path_key(path, sk[i]);
            return AF_ERR_SET(err, AF_ERR_INVALID, "must be a selector string");
        }
        rc = af_sel_check(json_string_value(s), err);
        if (rc != AF_OK) {
            (void)path_key(path, sk[i]);
            return rc;
        }
    }
    json_object_foreach((json_t *)ex, k, v)
    {
        if ((strcmp(k, "verify") == 0 || strcmp(k, "exp") == 0 || strcmp(k, "iat") == 0 ||
             strcmp(k, "kid") == 0) &&
            !json_is_boolean(v)) {
            (void)path_key(path, k);
            return AF_ERR_SET(err, AF_ERR_INVALID, "must be a boolean");
        }
        if ((strcmp(k, "typ") == 0 || strcmp(k, "iss") == 0 || strcmp(k, "aud") == 0 ||
             strcmp(k, "nonce") == 0)) {
            if (!json_is_string(v)) {
                (void)path_key(path, k);
                return AF_ERR_SET(err, AF_ERR_INVALID, "must be a string");
            }
            rc = af_tmpl_check(json_string_value(v), err);
            if (rc != AF_OK) {
                (void)path_key(path, k);
                return rc;
            }
        }
        if (strcmp(k, "alg") == 0 && !json_is_string(v) && !json_is_array(v)) {
            (void)path_key(path, k);
            return AF_ERR_SET(err, AF_ERR_INVALID, "must be a string or a list of strings");
        }
        if (strcmp(k, "alg") == 0) {
            size_t mark = path->len;
            if (path_key(path, k) != AF_OK)
                return AF_ERR_NOMEM;
            rc = af_tmpl_tree_check(v, path, err);
            if (rc != AF_OK)
                return rc;
            path->len = mark;
            path->p[mark] = '\0';
        }
        if (strcmp(k, "claims") == 0 || strcmp(k, "header") == 0) {
            rc = check_sub_list(v, k, true, path, err);
            if (rc != AF_OK)
                return rc;
        }
    }
    return AF_OK;
}

/* samples_check: a "samples" expectation: 2 to AF_PROBE_MAX_SAMPLES
 * templates and the bits they must be able to carry (entropy_bits). */
static af_rc samples_check(const json_t *ex, struct af_buf *path, struct af_err *err)
{
    const json_t *v = json_object_get(ex, "samples"), *b = json_object_get(ex, "entropy_bits");
    size_t i;
    json_t *m;
    af_rc rc;
    if (json_array_size(v) < 2 || json_array_size(v) > AF_PROBE_MAX_SAMPLES) {
        (void)path_key(path, "samples");
        return AF_ERR_SET(err, AF_ERR_INVALID, "must be a list of 2 to %d templates",
                          AF_PROBE_MAX_SAMPLES);
    }
    json_array_foreach(v, i, m)
    {
        if (!json_is_string(m)) {
            af_msg_addf(path, ".samples[%zu]", i);
            return AF_ERR_SET(err, AF_ERR_INVALID, "must be a template string");
        }
        rc = af_tmpl_check(json_string_value(m), err);
        if (rc != AF_OK) {
            af_msg_addf(path, ".samples[%zu]", i);
            return rc;
        }
    }
    if (!json_is_integer(b) || json_integer_value(b) < 1 || json_integer_value(b) > 4096) {
        (void)path_key(path, "entropy_bits");
        return AF_ERR_SET(err, AF_ERR_INVALID, "must be a number of bits from 1 to 4096");
    }
    return AF_OK;
}

/* jwks_check: the keys of a "jwks" expectation: a selector and its rules
 * (true, or a number of bits for rsa_min_bits); at least one rule. */
static af_rc jwks_check(const json_t *ex, struct af_buf *path, struct af_err *err)
{
    const json_t *s = json_object_get(ex, "jwks");
    const char *k;
    json_t *v;
    af_rc rc;
    int rules = 0;

    if (!json_is_string(s)) {
        (void)path_key(path, "jwks");
        return AF_ERR_SET(err, AF_ERR_INVALID, "must be a selector string");
    }
    rc = af_sel_check(json_string_value(s), err);
    if (rc != AF_OK) {
        (void)path_key(path, "jwks");
        return rc;
    }
    json_object_foreach((json_t *)ex, k, v)
    {
        if (!IN(k, jwks_keys))
            continue;
        rules++;
        if (strcmp(k, "rsa_min_bits") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 512 ||
                json_integer_value(v) > 16384) {
                (void)path_key(path, k);
                return AF_ERR_SET(err, AF_ERR_INVALID, "must be a number of bits (512 to 16384)");
            }
        } else if (!json_is_true(v)) {
            (void)path_key(path, k);
            return AF_ERR_SET(err, AF_ERR_INVALID, "must be true");
        }
    }
    if (rules == 0)
        return AF_ERR_SET(err, AF_ERR_INVALID,
                          "a jwks expectation needs a rule: public_only, distinct_kids, kids, "
                          "rsa_min_bits or ec_curves");
    return AF_OK;
}

/* selector_check: the value of a "that" or shorthand expectation (kind):
 * a selector, a template of one, or true for "body". */
static af_rc selector_check(const char *kind, const json_t *v, struct af_buf *path,
                            struct af_err *err)
{
    af_rc rc;
    if (strcmp(kind, "body") == 0) {
        if (!json_is_true(v)) {
            (void)path_key(path, kind);
            return AF_ERR_SET(err, AF_ERR_INVALID, "write \"body\": true");
        }
    } else {
        if (!json_is_string(v)) {
            (void)path_key(path, kind);
            return AF_ERR_SET(err, AF_ERR_INVALID, "must be a string");
        }
        if (strstr(json_string_value(v), "{{") != NULL) {
            /* "json.{{app.error.json_key}}": checked once expanded */
            rc = af_tmpl_check(json_string_value(v), err);
        } else if (strcmp(kind, "that") == 0) {
            rc = af_sel_check(json_string_value(v), err);
        } else {
            char *sel = NULL;
            const char *s = json_string_value(v);
            if (asprintf(&sel, "%s%s%s", kind, *s ? "." : "", s) < 0)
                return AF_ERR_NOMEM;
            rc = af_sel_check(sel, err);
            free(sel);
        }
        if (rc != AF_OK) {
            (void)path_key(path, kind);
            return rc;
        }
    }
    return AF_OK;
}

af_rc af_expect_check(const json_t *ex, struct af_buf *path, struct af_err *err)
{
    const char *kind;
    const json_t *v;
    af_rc rc;

    if (!json_is_object(ex))
        return AF_ERR_SET(err, AF_ERR_INVALID, "an expectation must be an object, not %s",
                          af_json_type_name(ex));
    rc = expect_kind(ex, &kind, err);
    if (rc != AF_OK)
        return rc;
    /* Keys allowed for this kind, then the kind's own value. */
    rc = expect_keys_check(ex, kind, path, err);
    if (rc != AF_OK)
        return rc;
    v = json_object_get(ex, kind);
    if (strcmp(kind, "status") == 0)
        return check_status(v, path, err);
    if (strcmp(kind, "any") == 0 || strcmp(kind, "all") == 0) {
        if (json_array_size(v) == 0) {
            (void)path_key(path, kind);
            return AF_ERR_SET(err, AF_ERR_INVALID, "must be a non-empty array of expectations");
        }
        return check_sub_list(v, kind, false, path, err);
    }
    if (strcmp(kind, "redirect") == 0)
        return redirect_check(v, path, err);
    if (strcmp(kind, "jwt") == 0)
        return jwt_check(ex, path, err);
    if (strcmp(kind, "jwks") == 0)
        return jwks_check(ex, path, err);
    if (strcmp(kind, "samples") == 0)
        return samples_check(ex, path, err);
    rc = selector_check(kind, v, path, err);
    if (rc != AF_OK)
        return rc;
    return af_expect_preds_check(ex, true, path, err);
}

/* ---- evaluation helpers ---- */

static bool num_of(const json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return true;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        if (*s == '\0' || isspace((unsigned char)*s))
            return false;
        *out = strtod(s, &end);
        return *end == '\0';
    }
    return false;
}

static bool values_equal(const json_t *a, const json_t *e)
{
    double x, y;
    if (json_is_string(a) && json_is_string(e))
        return json_string_length(a) == json_string_length(e) &&
               memcmp(json_string_value(a), json_string_value(e), json_string_length(a)) == 0;
    if ((json_is_number(a) || json_is_number(e)) && num_of(a, &x) && num_of(e, &y))
        return x == y;
    if (json_is_boolean(a) && json_is_string(e))
        return strcmp(json_is_true(a) ? "true" : "false", json_string_value(e)) == 0;
    return json_equal((json_t *)a, (json_t *)e);
}

static bool has_token(const char *list, const char *tok)
{
    size_t tl = strlen(tok);
    const char *p = list;
    while (*p) {
        size_t n;
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        n = strcspn(p, ", \t\r\n");
        if (n == tl && tl > 0 && strncasecmp(p, tok, tl) == 0)
            return true;
        p += n;
    }
    return false;
}

static bool url_has_host(const char *u, const char *scheme)
{
    size_t sl = strlen(scheme);
    const char *h;
    if (strncasecmp(u, scheme, sl) != 0)
        return false;
    h = u + sl;
    return *h != '\0' && *h != '/' && *h != '?' && *h != '#';
}

static bool format_ok(const char *fmt, const char *s)
{
    if (strcmp(fmt, "error-code") == 0)
        return af_proto_error_code_valid(s);
    if (strcmp(fmt, "url") == 0)
        return url_has_host(s, "http://") || url_has_host(s, "https://");
    if (strcmp(fmt, "https") == 0)
        return url_has_host(s, "https://");
    if (strcmp(fmt, "no-query-fragment") == 0)
        return strpbrk(s, "?#") == NULL;
    /* jwt: three base64url segments, the first two not empty. */
    {
        int seg = 0;
        size_t len = 0;
        const char *p;
        for (p = s;; p++) {
            if (*p == '.' || *p == '\0') {
                if (seg < 2 && len == 0)
                    return false;
                seg++;
                len = 0;
                if (*p == '\0')
                    break;
                continue;
            }
            if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_'))
                return false;
            len++;
        }
        return seg == 3;
    }
}

/* A secret actual value is shown as its first characters and length. */
static bool what_is_secret(const char *what)
{
    const char *dot = strrchr(what, '.');
    return af_proto_is_secret_param(dot ? dot + 1 : what);
}

/* A URL actual value (the request's, a Location) may carry a code or a
 * token in its query or fragment: those are redacted as the trace does. */
static bool what_is_url(const char *what)
{
    return strcmp(what, "url") == 0 || strcmp(what, "location") == 0 ||
           strcasecmp(what, "header.location") == 0;
}

static af_rc add_actual(struct af_buf *msg, const struct af_sv *v, const char *what, bool show)
{
    char *t;
    af_rc rc;
    if (!show && v->kind == AF_SV_VALUE && json_is_string(v->json) && what_is_secret(what)) {
        rc = af_buf_addc(msg, '"');
        if (rc == AF_OK)
            rc = af_redact_value(msg, json_string_value(v->json));
        if (rc == AF_OK)
            rc = af_buf_addc(msg, '"');
        return rc;
    }
    if (!show && v->kind == AF_SV_VALUE && json_is_string(v->json) && what_is_url(what)) {
        struct af_sv r = *v;
        size_t cap = json_string_length(v->json) + 1024;
        char *u = malloc(cap);
        if (u == NULL)
            return AF_ERR_NOMEM;
        af_trace_redact_url(u, cap, json_string_value(v->json), false);
        r.json = json_string(u);
        free(u);
        if (r.json == NULL)
            return AF_ERR_NOMEM;
        t = af_sv_text(&r);
        json_decref(r.json);
    } else {
        t = af_sv_text(v);
    }
    if (t == NULL)
        return AF_ERR_NOMEM;
    rc = af_buf_adds(msg, t);
    free(t);
    return rc;
}

/* add_json: append v as a report shows it; NULL reads "absent". */
static af_rc add_json(struct af_buf *msg, const json_t *v)
{
    struct af_sv tmp;
    char *t;
    af_rc rc;
    memset(&tmp, 0, sizeof(tmp));
    tmp.kind = v != NULL ? AF_SV_VALUE : AF_SV_ABSENT;
    tmp.json = (json_t *)v;
    t = af_sv_text(&tmp);
    if (t == NULL)
        return AF_ERR_NOMEM;
    rc = af_buf_adds(msg, t);
    free(t);
    return rc;
}

/* expand_expected: templates in an expected value. */
static af_ex_result expand_expected(struct af_scope *sc, const json_t *in, json_t **out,
                                    struct af_buf *msg)
{
    struct af_err e;
    af_rc rc;
    af_err_clear(&e);
    rc = af_tmpl_expand_json(sc, in, out, &e);
    if (rc == AF_OK && *out == NULL)
        *out = json_null();
    if (rc == AF_OK)
        return AF_EX_PASS;
    af_buf_reset(msg);
    af_msg_add(msg, e.msg[0] ? e.msg : af_rc_str(rc));
    return rc == AF_ERR_NOTFOUND ? AF_EX_SKIP : AF_EX_ERROR;
}

static af_ex_result fail(struct af_buf *msg, const char *what, const struct af_sv *v, bool show,
                         const char *fmt, ...) AF_PRINTF(5, 6);

static af_ex_result fail(struct af_buf *msg, const char *what, const struct af_sv *v, bool show,
                         const char *fmt, ...)
{
    va_list ap;
    af_buf_reset(msg);
    af_msg_addf(msg, "%s: expected ", what);
    va_start(ap, fmt);
    if (af_buf_vaddf(msg, fmt, ap) != AF_OK) {
        /* cut short: the start of the message is kept */
    }
    va_end(ap);
    af_msg_add(msg, ", got ");
    (void)add_actual(msg, v, what, show);
    return AF_EX_FAIL;
}

static af_ex_result fail_json(struct af_buf *msg, const char *what, const struct af_sv *v,
                              bool show, const char *pre, const json_t *e)
{
    struct af_buf t;
    af_ex_result r;
    af_buf_init(&t, 4096);
    (void)add_json(&t, e);
    r = fail(msg, what, v, show, "%s%s", pre, af_buf_str(&t));
    af_buf_free(&t);
    return r;
}

/* pred_want: what predicate k expects, in words ("token \"no-store\"");
 * e is the expanded expected value (NULL for predicates without one). */
static void pred_want(const char *k, const json_t *pv, const json_t *e, struct af_buf *w)
{
    /* the predicates told as a phrase and a value: the expanded value e, or
     * with raw the value pv as written */
    static const struct {
        const char *name, *phrase;
        bool raw;
    } phrased[] = {
        {"equals", "", false},
        {"not_equals", "anything but ", false},
        {"one_of", "one of ", false},
        {"contains", "something containing ", false},
        {"not_contains", "nothing containing ", false},
        {"starts_with", "a value starting with ", false},
        {"has_token", "token ", false},
        {"only_keys", "only the keys ", true},
        {"keys", "the keys ", true},
        {"any_keys", "one of the keys ", true},
    };
    size_t i;

    af_buf_reset(w);
    for (i = 0; i < sizeof(phrased) / sizeof(phrased[0]); i++)
        if (strcmp(k, phrased[i].name) == 0)
            break;
    if (i < sizeof(phrased) / sizeof(phrased[0])) {
        af_msg_add(w, phrased[i].phrase);
        (void)add_json(w, phrased[i].raw ? pv : e);
    } else if (strcmp(k, "matches") == 0 || strcmp(k, "not_matches") == 0) {
        /* one line: a line break in the expression is shown as \n */
        const char *p;
        af_msg_add(w, k[0] == 'm' ? "a match for /" : "no match for /");
        for (p = json_string_value(e); *p; p++) {
            if (*p == '\n')
                af_msg_add(w, "\\n");
            else if ((unsigned char)*p < 0x20)
                af_msg_addf(w, "\\x%02x", (unsigned char)*p);
            else
                af_msg_addc(w, *p);
        }
        af_msg_addc(w, '/');
    } else if (strcmp(k, "type") == 0) {
        const char *t = json_string_value(pv);
        af_msg_addf(w, "%s %s", (t[0] == 'a' || t[0] == 'i' || t[0] == 'o') ? "an" : "a", t);
    } else if (strcmp(k, "range") == 0) {
        af_msg_add(w, "a number in ");
        (void)add_json(w, json_array_get(pv, 0));
        af_msg_add(w, "..");
        (void)add_json(w, json_array_get(pv, 1));
    } else if (strcmp(k, "min_length") == 0) {
        af_msg_addf(w, "at least %" JSON_INTEGER_FORMAT " characters", json_integer_value(pv));
    } else if (strcmp(k, "format") == 0) {
        af_msg_addf(w, "format %s", json_string_value(pv));
    } else if (strcmp(k, "present") == 0) {
        af_msg_add(w, json_is_true(pv) ? "a value" : "no value");
    }
}

static bool pred_takes_template(const char *k)
{
    return strcmp(k, "equals") == 0 || strcmp(k, "not_equals") == 0 || strcmp(k, "one_of") == 0 ||
           strcmp(k, "contains") == 0 || strcmp(k, "not_contains") == 0 ||
           strcmp(k, "starts_with") == 0 || strcmp(k, "has_token") == 0 ||
           strcmp(k, "matches") == 0 || strcmp(k, "not_matches") == 0;
}

/* pred_holds: predicate k on the present value a. *note may be set to a
 * detail appended to the failure ("extra key \"x\""). */
static af_ex_result pred_holds(const char *k, const json_t *pv, const json_t *e, const json_t *ex,
                               const json_t *a, const char *what, char *note, size_t notecap,
                               struct af_buf *msg)
{
    size_t i;
    json_t *m;
    bool hit = false;
    double x;

    if (strcmp(k, "equals") == 0)
        return values_equal(a, e) ? AF_EX_PASS : AF_EX_FAIL;
    if (strcmp(k, "not_equals") == 0)
        return values_equal(a, e) ? AF_EX_FAIL : AF_EX_PASS;
    if (strcmp(k, "one_of") == 0) {
        json_array_foreach(e, i, m) hit = hit || values_equal(a, m);
        return hit ? AF_EX_PASS : AF_EX_FAIL;
    }
    if (strcmp(k, "contains") == 0 || strcmp(k, "not_contains") == 0) {
        if (json_is_string(a) && json_is_string(e)) {
            hit = strstr(json_string_value(a), json_string_value(e)) != NULL;
        } else if (json_is_array(a)) {
            json_array_foreach(a, i, m) hit = hit || values_equal(m, e);
        } else if (json_is_object(a) && json_is_string(e)) {
            hit = json_object_get(a, json_string_value(e)) != NULL;
        }
        return hit == (strcmp(k, "contains") == 0) ? AF_EX_PASS : AF_EX_FAIL;
    }
    if (strcmp(k, "starts_with") == 0)
        return json_is_string(a) && strncmp(json_string_value(a), json_string_value(e),
                                            json_string_length(e)) == 0
                   ? AF_EX_PASS
                   : AF_EX_FAIL;
    if (strcmp(k, "has_token") == 0)
        return json_is_string(a) && has_token(json_string_value(a), json_string_value(e))
                   ? AF_EX_PASS
                   : AF_EX_FAIL;
    if (strcmp(k, "matches") == 0 || strcmp(k, "not_matches") == 0) {
        regex_t re;
        int fl = REG_EXTENDED | REG_NOSUB;
        if (json_is_true(json_object_get(ex, "icase")))
            fl |= REG_ICASE;
        char why[AF_REGEX_WHY_MAX];
        if (af_regex_compile(&re, json_string_value(e), fl, why, sizeof(why)) != 0) {
            af_buf_reset(msg);
            af_msg_addf(msg, "%s: the regular expression /%s/ %s", what, json_string_value(e), why);
            return AF_EX_ERROR;
        }
        hit = json_is_string(a) && regexec(&re, json_string_value(a), 0, NULL, 0) == 0;
        regfree(&re);
        return hit == (strcmp(k, "matches") == 0) ? AF_EX_PASS : AF_EX_FAIL;
    }
    if (strcmp(k, "type") == 0) {
        const char *t = json_string_value(pv);
        hit = (strcmp(t, "string") == 0 && json_is_string(a)) ||
              (strcmp(t, "number") == 0 && json_is_number(a)) ||
              (strcmp(t, "integer") == 0 &&
               (json_is_integer(a) ||
                (json_is_real(a) && json_real_value(a) > -9e15 && json_real_value(a) < 9e15 &&
                 (double)(json_int_t)json_real_value(a) == json_real_value(a)))) ||
              (strcmp(t, "boolean") == 0 && json_is_boolean(a)) ||
              (strcmp(t, "object") == 0 && json_is_object(a)) ||
              (strcmp(t, "array") == 0 && json_is_array(a)) ||
              (strcmp(t, "null") == 0 && json_is_null(a));
        return hit ? AF_EX_PASS : AF_EX_FAIL;
    }
    if (strcmp(k, "range") == 0) {
        const json_t *lo = json_array_get(pv, 0), *hi = json_array_get(pv, 1);
        if (!num_of(a, &x))
            return AF_EX_FAIL;
        if (json_is_number(lo) && x < json_number_value(lo))
            return AF_EX_FAIL;
        if (json_is_number(hi) && x > json_number_value(hi))
            return AF_EX_FAIL;
        return AF_EX_PASS;
    }
    if (strcmp(k, "min_length") == 0)
        return json_is_string(a) && (json_int_t)json_string_length(a) >= json_integer_value(pv)
                   ? AF_EX_PASS
                   : AF_EX_FAIL;
    if (strcmp(k, "only_keys") == 0 || strcmp(k, "keys") == 0) {
        const char *key;
        json_t *mv;
        if (!json_is_object(a))
            return AF_EX_FAIL;
        if (strcmp(k, "only_keys") == 0) {
            json_object_foreach((json_t *)a, key, mv)
            {
                bool ok = false;
                json_array_foreach(pv, i, m) ok = ok || strcmp(json_string_value(m), key) == 0;
                if (!ok) {
                    snprintf(note, notecap, " (extra key \"%.60s\")", key);
                    return AF_EX_FAIL;
                }
            }
        } else {
            json_array_foreach(pv, i, m)
            {
                if (json_object_get(a, json_string_value(m)) == NULL) {
                    snprintf(note, notecap, " (missing \"%.60s\")", json_string_value(m));
                    return AF_EX_FAIL;
                }
            }
        }
        return AF_EX_PASS;
    }
    if (strcmp(k, "any_keys") == 0) {
        if (!json_is_object(a))
            return AF_EX_FAIL;
        json_array_foreach(pv, i, m)
        {
            if (json_object_get(a, json_string_value(m)) != NULL)
                return AF_EX_PASS;
        }
        return AF_EX_FAIL;
    }
    if (strcmp(k, "format") == 0 && strcmp(json_string_value(pv), "oidc-claims") == 0)
        return af_claims_typed(a, note, notecap) ? AF_EX_PASS : AF_EX_FAIL;
    if (strcmp(k, "format") == 0)
        return json_is_string(a) && format_ok(json_string_value(pv), json_string_value(a))
                   ? AF_EX_PASS
                   : AF_EX_FAIL;
    return AF_EX_PASS;
}

af_ex_result af_expect_preds(struct af_scope *sc, const json_t *ex, const struct af_sv *v,
                             const char *what, bool show, struct af_buf *msg)
{
    size_t pi;
    bool present = v->kind == AF_SV_VALUE;
    struct af_buf want;
    af_ex_result r = AF_EX_PASS;

    af_buf_init(&want, 8192);
    for (pi = 0; pi < sizeof(preds) / sizeof(preds[0]) && r == AF_EX_PASS; pi++) {
        const char *k = preds[pi].name;
        const json_t *pv = json_object_get(ex, k);
        json_t *e = NULL;
        char note[128] = "";
        if (pv == NULL)
            continue;
        if (strcmp(k, "count") == 0) {
            /* An absent parameter occurs zero times. */
            size_t c = 0;
            if (v->set != NULL && v->param != NULL)
                c = af_params_count(v->set, v->param);
            else if (present)
                c = json_is_array(v->json) ? json_array_size(v->json) : 1;
            if ((json_int_t)c != json_integer_value(pv)) {
                af_buf_reset(msg);
                af_msg_addf(msg, "%s: expected %" JSON_INTEGER_FORMAT " occurrence%s, got %zu",
                            what, json_integer_value(pv), json_integer_value(pv) == 1 ? "" : "s",
                            c);
                r = AF_EX_FAIL;
            }
            continue;
        }
        if (pred_takes_template(k)) {
            r = expand_expected(sc, pv, &e, msg);
            if (r != AF_EX_PASS)
                break;
        }
        if (strcmp(k, "present") == 0) {
            if (json_is_true(pv) != present)
                r = AF_EX_FAIL;
        } else if (!present) {
            /* Only the negative predicates hold for an absent value. */
            if (strcmp(k, "not_contains") != 0 && strcmp(k, "not_equals") != 0 &&
                strcmp(k, "not_matches") != 0)
                r = AF_EX_FAIL;
            if (strcmp(k, "not_equals") == 0) {
                r = AF_EX_FAIL;
                json_decref(e);
                e = NULL;
                pred_want("present", json_true(), NULL, &want);
                af_buf_reset(msg);
                af_msg_addf(msg, "%s: expected %s, got ", what, af_buf_str(&want));
                (void)add_actual(msg, v, what, show);
                break;
            }
        } else {
            r = pred_holds(k, pv, e, ex, v->json, what, note, sizeof(note), msg);
        }
        if (r == AF_EX_FAIL) {
            pred_want(k, pv, e, &want);
            af_buf_reset(msg);
            af_msg_addf(msg, "%s: expected %s, got ", what, af_buf_str(&want));
            (void)add_actual(msg, v, what, show);
            af_msg_add(msg, note);
        }
        json_decref(e);
    }
    af_buf_free(&want);
    return r;
}

/* ---- hops ---- */

void af_hop_pick(const struct af_step_view *sv, const json_t *on, size_t *idx, size_t *n)
{
    size_t i;
    const char *s = json_string_value(on);
    *n = 0;
    if (sv->nhops == 0)
        return;
    if (on == NULL || (s && strcmp(s, "last") == 0)) {
        idx[(*n)++] = sv->nhops - 1;
    } else if (json_is_integer(on)) {
        if ((size_t)json_integer_value(on) < sv->nhops)
            idx[(*n)++] = (size_t)json_integer_value(on);
    } else if (json_is_object(on)) {
        /* {"url": P}: the first hop whose request URL starts with P;
         * {"location": P}: the first hop redirected to a URL starting with P
         * (the app's redirect to the authorization endpoint) */
        const char *k = json_object_get(on, "url") ? "url" : "location";
        char *pre = NULL;
        struct af_err e;
        af_err_clear(&e);
        if (af_tmpl_expand_str(sv->sc, json_string_value(json_object_get(on, k)), &pre, NULL, &e) ==
                AF_OK &&
            pre != NULL && *pre != '\0') {
            for (i = 0; i < sv->nhops; i++) {
                const char *u = k[0] == 'u' ? sv->hops[i].url : af_hop_location(&sv->hops[i]);
                if (u != NULL && strncmp(u, pre, strlen(pre)) == 0) {
                    idx[(*n)++] = i;
                    break;
                }
            }
        }
        free(pre);
    } else if (strcmp(s, "first") == 0) {
        idx[(*n)++] = 0;
    } else if (strcmp(s, "all") == 0 || strcmp(s, "any") == 0) {
        for (i = 0; i < sv->nhops; i++)
            idx[(*n)++] = i;
    } else if (strcmp(s, "page") == 0) {
        for (i = 0; i < sv->nhops; i++) {
            size_t nf;
            if (af_hop_is_html(&sv->hops[i]) && (af_hop_forms(&sv->hops[i], &nf), nf > 0)) {
                idx[(*n)++] = i;
                break;
            }
        }
    } else if (strcmp(s, "after_submit") == 0) {
        for (i = 0; i < sv->nhops; i++) {
            if (sv->hops[i].submitted) {
                idx[(*n)++] = i;
                break;
            }
        }
    }
}

static af_ex_result eval_status_spec(const struct af_hop *hop, const json_t *v, bool show,
                                     struct af_buf *msg);

/* eval_status: a status from the profile ("{{res.deny_status}}") is
 * expanded first; what it expands to must be a status form the loader
 * would have taken. */
static af_ex_result eval_status(const struct af_step_view *sv, const struct af_hop *hop,
                                const json_t *v, struct af_buf *msg)
{
    json_t *x = NULL;
    af_ex_result r;
    struct af_buf path;
    struct af_err e;
    if (!json_is_string(v) || strstr(json_string_value(v), "{{") == NULL)
        return eval_status_spec(hop, v, sv->show_secrets, msg);
    r = expand_expected(sv->sc, v, &x, msg);
    if (r != AF_EX_PASS)
        return r;
    af_buf_init(&path, 256);
    af_err_clear(&e);
    if ((json_is_string(x) && strstr(json_string_value(x), "{{") != NULL) ||
        check_status(x, &path, &e) != AF_OK) {
        af_buf_reset(msg);
        af_msg_addf(msg, "status: %s expands to ", json_string_value(v));
        (void)add_json(msg, x);
        af_msg_add(msg, ", which is not a status, a list, a class or a range");
        r = AF_EX_ERROR;
    } else {
        r = eval_status_spec(hop, x, sv->show_secrets, msg);
    }
    af_buf_free(&path);
    json_decref(x);
    return r;
}

static af_ex_result eval_status_spec(const struct af_hop *hop, const json_t *v, bool show,
                                     struct af_buf *msg)
{
    long st = hop->status;
    bool ok = false;
    size_t i;
    json_t *m;
    char want[256];

    if (json_is_integer(v)) {
        ok = st == json_integer_value(v);
        snprintf(want, sizeof(want), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_array(v)) {
        size_t off = 0;
        off += (size_t)snprintf(want, sizeof(want), "one of ");
        json_array_foreach(v, i, m)
        {
            ok = ok || st == json_integer_value(m);
            if (off < sizeof(want))
                off += (size_t)snprintf(want + off, sizeof(want) - off, "%s%" JSON_INTEGER_FORMAT,
                                        i ? ", " : "", json_integer_value(m));
        }
    } else if (json_is_string(v)) {
        ok = st / 100 == json_string_value(v)[0] - '0';
        snprintf(want, sizeof(want), "%s", json_string_value(v));
    } else {
        json_t *lo = json_object_get(v, "min"), *hi = json_object_get(v, "max");
        ok = (lo == NULL || st >= json_integer_value(lo)) &&
             (hi == NULL || st <= json_integer_value(hi));
        snprintf(want, sizeof(want), "%s..%s", lo ? "" : "*", hi ? "" : "*");
        if (lo && hi)
            snprintf(want, sizeof(want), "%" JSON_INTEGER_FORMAT "..%" JSON_INTEGER_FORMAT,
                     json_integer_value(lo), json_integer_value(hi));
        else if (lo)
            snprintf(want, sizeof(want), ">= %" JSON_INTEGER_FORMAT, json_integer_value(lo));
        else if (hi)
            snprintf(want, sizeof(want), "<= %" JSON_INTEGER_FORMAT, json_integer_value(hi));
    }
    if (ok)
        return AF_EX_PASS;
    af_buf_reset(msg);
    af_msg_addf(msg, "status: expected %s, got %ld", want, st);
    {
        const char *err = NULL;
        const json_t *j = hop->json_done ? hop->json : NULL;
        if (j == NULL && hop->body.len > 0 && hop->body.len < 65536)
            j = af_hop_json((struct af_hop *)hop);
        err = json_string_value(json_object_get(j, AF_P_ERROR));
        if (err == NULL && af_hop_location((struct af_hop *)hop) != NULL) {
            if (hop->loc_ok)
                err = af_params_get(&hop->loc_query, AF_P_ERROR);
            if (st / 100 == 3) {
                af_msg_add(msg, " to ");
                af_msg_url(msg, hop->location, 120, show);
            }
        }
        if (err != NULL)
            af_msg_addf(msg, " (error=%.60s)", err);
    }
    return AF_EX_FAIL;
}

static af_ex_result eval_redirect(const struct af_step_view *sv, const struct af_hop *hop,
                                  const json_t *v, struct af_buf *msg)
{
    const char *mode = json_string_value(v);
    struct af_hop *h = (struct af_hop *)hop;
    const char *loc = af_hop_location(h);
    char *url = NULL;
    af_ex_result r = AF_EX_PASS;
    size_t i;

    af_buf_reset(msg);
    if (mode != NULL && strcmp(mode, "client") == 0) {
        if (sv->client_uri == NULL) {
            af_msg_add(msg, "the client's redirect_uri is not known (none sent, no "
                            "client.redirect_uri)");
            return AF_EX_SKIP;
        }
        if (hop->status / 100 == 3 && loc != NULL && af_url_same_endpoint(loc, sv->client_uri))
            return AF_EX_PASS;
        af_msg_add(msg, "redirect: expected a redirect to the client (");
        af_msg_url(msg, sv->client_uri, 100, sv->show_secrets);
        af_msg_addf(msg, "), got %ld", hop->status);
        if (loc != NULL) {
            af_msg_add(msg, " to ");
            af_msg_url(msg, loc, 120, sv->show_secrets);
        }
        return AF_EX_FAIL;
    }
    if (mode != NULL && strcmp(mode, "none") == 0) {
        if (af_hop_header(hop, AF_HDR_LOCATION) == NULL)
            return AF_EX_PASS;
        af_msg_addf(msg, "redirect: expected no Location, got %ld to ", hop->status);
        af_msg_url(msg, loc, 120, sv->show_secrets);
        return AF_EX_FAIL;
    }
    if (mode != NULL && strcmp(mode, "any") == 0) {
        if (hop->status / 100 == 3 && loc != NULL)
            return AF_EX_PASS;
        af_msg_addf(msg, "redirect: expected a redirect, got %ld", hop->status);
        return AF_EX_FAIL;
    }
    if (mode != NULL) { /* not_client: every hop */
        if (sv->client_uri == NULL) {
            af_msg_add(msg, "the client's redirect_uri is not known (none sent, no "
                            "client.redirect_uri)");
            return AF_EX_SKIP;
        }
        for (i = 0; i < sv->nhops; i++) {
            struct af_hop *x = &sv->hops[i];
            const char *l = af_hop_location(x);
            if (x->status >= 500) {
                af_msg_addf(msg,
                            "redirect: expected an error page and no redirect to the "
                            "client, got %ld from ",
                            x->status);
                af_msg_url(msg, x->url, 120, sv->show_secrets);
                return AF_EX_FAIL;
            }
            if (l != NULL && af_url_same_endpoint(l, sv->client_uri)) {
                af_msg_addf(msg, "redirect: expected no redirect to the client, got %ld to ",
                            x->status);
                af_msg_url(msg, l, 120, sv->show_secrets);
                return AF_EX_FAIL;
            }
        }
        return AF_EX_PASS;
    }
    /* {"to": URL} / {"not_to": URL} */
    {
        const json_t *to = json_object_get(v, "to");
        const json_t *tmpl = to ? to : json_object_get(v, "not_to");
        struct af_err e;
        af_rc rc;
        af_err_clear(&e);
        rc = af_tmpl_expand_str(sv->sc, json_string_value(tmpl), &url, NULL, &e);
        if (rc != AF_OK || url == NULL) {
            af_msg_add(msg, e.msg[0] ? e.msg : "cannot expand the URL");
            return rc == AF_ERR_NOTFOUND ? AF_EX_SKIP : AF_EX_ERROR;
        }
        if (to != NULL) {
            if (loc == NULL || !af_url_same_endpoint(loc, url)) {
                af_msg_add(msg, "redirect: expected a redirect to ");
                af_msg_url(msg, url, 120, sv->show_secrets);
                af_msg_addf(msg, ", got %ld", hop->status);
                if (loc != NULL) {
                    af_msg_add(msg, " to ");
                    af_msg_url(msg, loc, 120, sv->show_secrets);
                }
                r = AF_EX_FAIL;
            }
        } else {
            for (i = 0; i < sv->nhops; i++) {
                const char *l = af_hop_location(&sv->hops[i]);
                if (l != NULL && strncmp(l, url, strlen(url)) == 0) {
                    af_msg_add(msg, "redirect: expected no redirect to ");
                    af_msg_url(msg, url, 120, sv->show_secrets);
                    af_msg_addf(msg, ", got %ld to ", sv->hops[i].status);
                    af_msg_url(msg, l, 120, sv->show_secrets);
                    r = AF_EX_FAIL;
                    break;
                }
            }
        }
    }
    free(url);
    return r;
}

/* ---- JWT ---- */

static bool typ_equal(const char *got, const char *want)
{
    if (strncasecmp(got, "application/", 12) == 0)
        got += 12;
    if (strncasecmp(want, "application/", 12) == 0)
        want += 12;
    return strcasecmp(got, want) == 0;
}

/* jwt_claim_eq: compare claim k of claims with the expanded template t. */
static af_ex_result jwt_claim_eq(struct af_scope *sc, const json_t *claims, const char *k,
                                 const json_t *t, const char *what, bool show, bool aud,
                                 struct af_buf *msg)
{
    json_t *e = NULL;
    struct af_sv v;
    af_ex_result r = expand_expected(sc, t, &e, msg);
    char w[160];
    bool ok;
    if (r != AF_EX_PASS)
        return r;
    memset(&v, 0, sizeof(v));
    v.json = json_object_get(claims, k);
    v.kind = v.json ? AF_SV_VALUE : AF_SV_ABSENT;
    ok = v.json != NULL && values_equal(v.json, e);
    if (!ok && aud && json_is_array(v.json)) {
        size_t i;
        json_t *m;
        json_array_foreach(v.json, i, m) ok = ok || values_equal(m, e);
    }
    snprintf(w, sizeof(w), "%s: %s", what, k);
    if (!ok)
        r = fail_json(msg, w, &v, show, aud ? "an audience of " : "", e);
    json_decref(e);
    return r;
}

/* jwt_alg: the "alg" expectation x (a name, a list of names, or a
 * template that expands to either: "{{meta.id_token_signing_alg_values_supported}}")
 * against the header's alg. */
static af_ex_result jwt_alg(struct af_scope *sc, const char *what, const json_t *x,
                            const char *algs, struct af_buf *msg)
{
    json_t *e = NULL;
    af_ex_result r = expand_expected(sc, x, &e, msg);
    bool ok;
    size_t i;
    json_t *m;
    if (r != AF_EX_PASS)
        return r;
    ok = json_is_string(e) ? strcmp(json_string_value(e), algs) == 0 : false;
    json_array_foreach(json_is_array(e) ? e : NULL, i, m) ok =
        ok || (json_is_string(m) && strcmp(json_string_value(m), algs) == 0);
    if (!ok) {
        af_buf_reset(msg);
        af_msg_addf(msg, "%s: alg: expected ", what);
        (void)add_json(msg, e);
        af_msg_addf(msg, ", got \"%s\"", algs);
        r = AF_EX_FAIL;
    }
    json_decref(e);
    return r;
}

/* jwt_signature: the signature verifies with the target's key for the
 * header's kid and alg (the keys come from the runner, sv->jwks). */
static af_ex_result jwt_signature(const struct af_step_view *sv, const char *what,
                                  const struct af_jws *jws, af_alg alg, const char *algs,
                                  struct af_buf *msg)
{
    const char *kid = json_string_value(json_object_get(af_jws_header(jws), AF_H_KID));
    const json_t *jwks;
    struct af_key *key = NULL;
    struct af_err e;
    af_ex_result r = AF_EX_FAIL;

    af_buf_reset(msg);
    if (alg == AF_ALG_NONE || alg == AF_ALG_UNKNOWN) {
        af_msg_addf(msg, "%s: signature: expected one that verifies, got alg \"%s\"", what, algs);
        return AF_EX_FAIL;
    }
    jwks = sv->jwks != NULL ? sv->jwks(sv->jwks_ud, msg) : NULL;
    if (jwks == NULL && sv->jwks == NULL)
        af_msg_add(msg, "no JWKS");
    if (jwks == NULL) {
        char *why = af_buf_detach(msg);
        af_buf_reset(msg);
        af_msg_addf(msg, "%s: signature: cannot verify: %s", what, why ? why : "");
        free(why);
        return AF_EX_FAIL;
    }
    af_err_clear(&e);
    if (af_jwks_find(jwks, kid, algs, &key, &e) != AF_OK) {
        af_msg_addf(msg,
                    "%s: signature: expected a key in the target's JWKS for kid %s%s%s "
                    "and alg %s, got none (%s)",
                    what, kid ? "\"" : "", kid ? kid : "(none)", kid ? "\"" : "", algs, e.msg);
        goto out;
    }
    af_err_clear(&e);
    if (af_jws_verify(jws, key, &e) != AF_OK) {
        af_msg_addf(msg,
                    "%s: signature: expected it to verify with the target's key %s, "
                    "got a failure (%s)",
                    what, af_key_kid(key), e.msg);
        goto out;
    }
    r = AF_EX_PASS;
out:
    af_key_free(key);
    return r;
}

/* jwt_kid: "kid": true. The header's kid names a key of the target's
 * JWKS; a JWT without kid passes only when the JWKS holds one key (OIDC
 * Core §10.1: "If there are multiple keys in the referenced JWK Set
 * document, a kid value MUST be provided in the JOSE Header"). A JWT
 * signed with a shared secret (HS*) or not at all has no JWKS key to
 * name: nothing to check. */
static af_ex_result jwt_kid(const struct af_step_view *sv, const char *what, const json_t *hdr,
                            af_alg alg, struct af_buf *msg)
{
    const char *kid = json_string_value(json_object_get(hdr, AF_H_KID));
    const json_t *jwks, *keys, *jwk;
    size_t i, n;

    if (alg == AF_ALG_NONE || alg == AF_ALG_HS256)
        return AF_EX_PASS;
    af_buf_reset(msg);
    jwks = sv->jwks != NULL ? sv->jwks(sv->jwks_ud, msg) : NULL;
    if (jwks == NULL) {
        char *why = af_buf_detach(msg);
        af_buf_reset(msg);
        af_msg_addf(msg, "%s: kid: cannot check: %s", what, why && *why ? why : "no JWKS");
        free(why);
        return AF_EX_FAIL;
    }
    keys = json_object_get(jwks, "keys");
    n = json_array_size(keys);
    if (kid == NULL) {
        if (n <= 1 && json_object_get(hdr, AF_H_KID) == NULL)
            return AF_EX_PASS;
        af_msg_addf(msg,
                    "%s: header.kid: expected a kid naming one of the %zu keys of the "
                    "target's JWKS, got %s",
                    what, n,
                    json_object_get(hdr, AF_H_KID) ? "a kid that is not a string" : "none");
        return AF_EX_FAIL;
    }
    json_array_foreach(keys, i, jwk)
    {
        const char *k = json_string_value(json_object_get(jwk, AF_H_KID));
        if (k != NULL && strcmp(k, kid) == 0)
            return AF_EX_PASS;
    }
    af_msg_addf(msg,
                "%s: header.kid: expected the kid of a key in the target's JWKS, got \"%.64s\" "
                "(the JWKS's kids:",
                what, kid);
    json_array_foreach(keys, i, jwk)
    {
        const char *k = json_string_value(json_object_get(jwk, AF_H_KID));
        if (i == 8) {
            af_msg_add(msg, " ...");
            break;
        }
        af_msg_addf(msg, "%s%s%.64s%s", i ? ", " : " ", k ? "\"" : "", k ? k : "(none)",
                    k ? "\"" : "");
    }
    af_msg_add(msg, ")");
    return AF_EX_FAIL;
}

/* jwt_typ: the header's typ is the expected one (x, a template), with or
 * without an "application/" prefix on either side. */
static af_ex_result jwt_typ(const struct af_step_view *sv, const char *what, const json_t *x,
                            const json_t *hdr, struct af_buf *msg)
{
    json_t *ev = NULL;
    const char *got = json_string_value(json_object_get(hdr, AF_H_TYP));
    af_ex_result r = expand_expected(sv->sc, x, &ev, msg);
    if (r != AF_EX_PASS)
        return r;
    if (got == NULL || !typ_equal(got, json_string_value(ev))) {
        af_buf_reset(msg);
        af_msg_addf(msg, "%s: typ: expected \"%s\", got %s%s%s", what, json_string_value(ev),
                    got ? "\"" : "", got ? got : "absent", got ? "\"" : "");
        r = AF_EX_FAIL;
    }
    json_decref(ev);
    return r;
}

/* jwt_times: "exp": true wants a time in the future, "iat": true one not
 * after now + 60 s. */
static af_ex_result jwt_times(const char *what, const json_t *ex, const json_t *claims,
                              struct af_buf *msg)
{
    if (json_is_true(json_object_get(ex, "exp"))) {
        const json_t *c = json_object_get(claims, AF_C_EXP);
        if (!json_is_number(c) || json_number_value(c) <= (double)af_now()) {
            af_buf_reset(msg);
            af_msg_addf(msg, "%s: exp: expected a time in the future (now %lld), got ", what,
                        (long long)af_now());
            (void)add_json(msg, c);
            return AF_EX_FAIL;
        }
    }
    if (json_is_true(json_object_get(ex, "iat"))) {
        const json_t *c = json_object_get(claims, AF_C_IAT);
        if (!json_is_number(c) || json_number_value(c) > (double)af_now() + 60) {
            af_buf_reset(msg);
            af_msg_addf(msg, "%s: iat: expected a time not after now + 60 s (%lld), got ", what,
                        (long long)af_now() + 60);
            (void)add_json(msg, c);
            return AF_EX_FAIL;
        }
    }
    return AF_EX_PASS;
}

/* jwt_hashes: at_hash and c_hash (OIDC Core §3.3.2.11) match the left
 * half of the hash, under alg, of the values the selectors name. */
static af_ex_result jwt_hashes(const struct af_sel_ctx *cx, const char *what, const json_t *ex,
                               const json_t *claims, af_alg alg, struct af_buf *msg)
{
    static const char *const hk[] = {AF_C_AT_HASH, AF_C_C_HASH}; /* also the suite keys */
    af_ex_result r = AF_EX_PASS;
    size_t i;
    for (i = 0; i < 2 && r == AF_EX_PASS; i++) {
        struct af_sv hv;
        struct af_err e;
        char *want = NULL;
        const char *got;
        const json_t *x = json_object_get(ex, hk[i]);
        if (x == NULL)
            continue;
        memset(&hv, 0, sizeof(hv));
        af_err_clear(&e);
        if (af_sel_eval(cx, json_string_value(x), &hv, &e) != AF_OK || hv.kind != AF_SV_VALUE ||
            !json_is_string(hv.json)) {
            af_buf_reset(msg);
            af_msg_addf(msg, "%s: %s: the value to hash (%s) is absent", what, hk[i],
                        json_string_value(x));
            af_sv_clear(&hv);
            return AF_EX_FAIL;
        }
        got = json_string_value(json_object_get(claims, hk[i]));
        if (af_oidc_half_hash(alg, json_string_value(hv.json), &want) != AF_OK || got == NULL ||
            strcmp(got, want) != 0) {
            af_buf_reset(msg);
            af_msg_addf(msg, "%s: %s: expected \"%s\", got %s%s%s", what, hk[i], want ? want : "?",
                        got ? "\"" : "", got ? got : "absent", got ? "\"" : "");
            r = AF_EX_FAIL;
        }
        free(want);
        af_sv_clear(&hv);
    }
    return r;
}

/* jwt_preds: the "claims" and "header" lists, generic predicates on a
 * member ("that") of the payload or the header. */
static af_ex_result jwt_preds(const struct af_step_view *sv, const char *what, const json_t *ex,
                              const json_t *claims, const json_t *hdr, struct af_buf *msg)
{
    static const char *const lk[] = {"claims", "header"};
    af_ex_result r;
    size_t li, i;
    json_t *m;
    for (li = 0; li < 2; li++) {
        const json_t *obj = li == 0 ? claims : hdr;
        json_array_foreach(json_object_get(ex, lk[li]), i, m)
        {
            const char *that = json_string_value(json_object_get(m, "that"));
            struct af_sv cv;
            char w[200];
            memset(&cv, 0, sizeof(cv));
            cv.json = af_json_path(obj, that);
            cv.kind = cv.json ? AF_SV_VALUE : AF_SV_ABSENT;
            snprintf(w, sizeof(w), "%s: %s%s", what, li ? "header." : "", that);
            r = af_expect_preds(sv->sc, m, &cv, w, sv->show_secrets, msg);
            if (r != AF_EX_PASS)
                return r;
        }
    }
    return AF_EX_PASS;
}

/* jwt_claims_checks: everything asked of a parsed JWT after its alg and
 * signature: typ, iss/aud/nonce, exp/iat, the hashes, the predicates. */
static af_ex_result jwt_claims_checks(const struct af_step_view *sv, const struct af_sel_ctx *cx,
                                      const char *what, const json_t *ex, const json_t *claims,
                                      const json_t *hdr, af_alg alg, struct af_buf *msg)
{
    static const char *const eqk[] = {AF_C_ISS, AF_C_AUD, AF_C_NONCE};
    const json_t *x = json_object_get(ex, "typ");
    af_ex_result r = AF_EX_PASS;
    size_t i;

    if (x != NULL)
        r = jwt_typ(sv, what, x, hdr, msg);
    for (i = 0; i < 3 && r == AF_EX_PASS; i++) {
        x = json_object_get(ex, eqk[i]);
        if (x != NULL)
            r = jwt_claim_eq(sv->sc, claims, eqk[i], x, what, sv->show_secrets, i == 1, msg);
    }
    if (r == AF_EX_PASS)
        r = jwt_times(what, ex, claims, msg);
    if (r == AF_EX_PASS)
        r = jwt_hashes(cx, what, ex, claims, alg, msg);
    if (r == AF_EX_PASS)
        r = jwt_preds(sv, what, ex, claims, hdr, msg);
    return r;
}

/* eval_jwt: a "jwt" expectation: the value the selector names parses as a
 * JWT whose alg, signature, header and claims are as expected. */
static af_ex_result eval_jwt(const struct af_step_view *sv, const struct af_sel_ctx *cx,
                             const json_t *ex, struct af_buf *msg)
{
    const char *what = json_string_value(json_object_get(ex, "jwt"));
    struct af_sv v;
    struct af_err e;
    struct af_jws *jws = NULL;
    const json_t *claims, *x;
    af_ex_result r = AF_EX_PASS;
    af_alg alg = AF_ALG_UNKNOWN;
    const char *algs;

    af_err_clear(&e);
    memset(&v, 0, sizeof(v));
    if (af_sel_eval(cx, what, &v, &e) != AF_OK) {
        af_buf_reset(msg);
        af_msg_addf(msg, "%s: %s", what, e.msg);
        return AF_EX_FAIL;
    }
    if (v.kind != AF_SV_VALUE || !json_is_string(v.json)) {
        r = fail(msg, what, &v, sv->show_secrets, "a JWT");
        goto out;
    }
    if (af_jws_parse(json_string_value(v.json), &jws, &e) != AF_OK) {
        af_buf_reset(msg);
        af_msg_addf(msg, "%s: expected a JWT, got one that does not parse (%s)", what,
                    e.msg[0] ? e.msg : "malformed");
        r = AF_EX_FAIL;
        goto out;
    }
    claims = af_jws_claims(jws);
    algs = af_jws_alg_str(jws);
    if (af_alg_parse(algs, &alg) != AF_OK)
        alg = AF_ALG_UNKNOWN;
    if (claims == NULL) {
        af_buf_reset(msg);
        af_msg_addf(msg, "%s: expected a JSON object as payload, got something else", what);
        r = AF_EX_FAIL;
        goto out;
    }
    x = json_object_get(ex, "alg");
    if (x != NULL)
        r = jwt_alg(sv->sc, what, x, algs, msg);
    if (r == AF_EX_PASS && !json_is_false(json_object_get(ex, "verify")))
        r = jwt_signature(sv, what, jws, alg, algs, msg);
    if (r == AF_EX_PASS && json_is_true(json_object_get(ex, "kid")))
        r = jwt_kid(sv, what, af_jws_header(jws), alg, msg);
    if (r == AF_EX_PASS)
        r = jwt_claims_checks(sv, cx, what, ex, claims, af_jws_header(jws), alg, msg);
out:
    af_jws_free(jws);
    af_sv_clear(&v);
    return r;
}

/* ---- JWK sets ---- */

/* jwk_label: "key N" and its kid, for messages about one key of a set. */
static void jwk_label(char *out, size_t len, size_t i, const json_t *jwk)
{
    const char *kid = json_string_value(json_object_get(jwk, AF_H_KID));
    if (kid != NULL)
        snprintf(out, len, "key %zu (kid \"%.64s\")", i, kid);
    else
        snprintf(out, len, "key %zu", i);
}

/* jwk_b64_len: the number of octets the base64url member m of jwk decodes
 * to, leading zero octets left out when strip is set; -1 when it is absent
 * or not canonical base64url. */
static long jwk_b64_len(const json_t *jwk, const char *m, bool strip, unsigned char *first)
{
    const char *s = json_string_value(json_object_get(jwk, m));
    struct af_buf b;
    long n = -1;
    size_t off = 0;

    af_buf_init(&b, 8192);
    if (s != NULL && af_b64url_decode(&b, s, strlen(s)) == AF_OK) {
        while (strip && off < b.len && b.p[off] == 0)
            off++;
        n = (long)(b.len - off);
        if (first != NULL)
            *first = n > 0 ? (unsigned char)b.p[off] : 0;
    }
    af_buf_free(&b);
    return n;
}

/* jwks_private: a member that only a private or symmetric JWK has
 * (RFC 7518 §6.2.2, §6.3.2, §6.4), or NULL. */
static const char *jwks_private(const json_t *jwk)
{
    static const char *const priv[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};
    size_t i;
    for (i = 0; i < sizeof(priv) / sizeof(priv[0]); i++)
        if (json_object_get(jwk, priv[i]) != NULL)
            return priv[i];
    return NULL;
}

/* jwks_rsa_bits: the size in bits of an RSA key's modulus; -1 if unreadable. */
static long jwks_rsa_bits(const json_t *jwk)
{
    unsigned char first = 0;
    long n = jwk_b64_len(jwk, "n", true, &first), bits;
    if (n <= 0)
        return -1;
    bits = (n - 1) * 8;
    while (first != 0) {
        bits++;
        first >>= 1;
    }
    return bits;
}

/* jwks_ec: the curve rule for one EC key (RFC 7518 §3.4, §6.2.1): a curve
 * of RFC 7518, the one its alg names, coordinates of that curve's size,
 * and, for P-256, a point OpenSSL accepts. NULL when it holds, else the
 * reason, written into why. */
static const char *jwks_ec(const json_t *jwk, char *why, size_t len)
{
    static const struct {
        const char *crv, *alg;
        long size;
    } curves[] = {{"P-256", "ES256", 32}, {"P-384", "ES384", 48}, {"P-521", "ES512", 66}};
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    const char *alg = json_string_value(json_object_get(jwk, "alg"));
    size_t i, c = 3;

    for (i = 0; i < 3; i++)
        if (crv != NULL && strcmp(crv, curves[i].crv) == 0)
            c = i;
    if (c == 3) {
        snprintf(why, len, "expected crv P-256, P-384 or P-521, got %s%.32s%s", crv ? "\"" : "",
                 crv ? crv : "none", crv ? "\"" : "");
        return why;
    }
    for (i = 0; alg != NULL && i < 3; i++)
        if (strcmp(alg, curves[i].alg) == 0 && i != c) {
            snprintf(why, len, "expected crv %s for alg %s, got \"%s\"", curves[i].crv, alg, crv);
            return why;
        }
    if (jwk_b64_len(jwk, "x", false, NULL) != curves[c].size ||
        jwk_b64_len(jwk, "y", false, NULL) != curves[c].size) {
        snprintf(why, len, "expected x and y of %ld octets each for %s, got %ld and %ld",
                 curves[c].size, crv, jwk_b64_len(jwk, "x", false, NULL),
                 jwk_b64_len(jwk, "y", false, NULL));
        return why;
    }
    if (c == 0 && jwks_private(jwk) == NULL) {
        /* Only the point is judged here: an encryption key imports too. */
        struct af_key *key = NULL;
        struct af_err e;
        json_t *pub = json_pack("{s:s, s:s, s:O, s:O}", "kty", "EC", "crv", crv, "x",
                                json_object_get(jwk, "x"), "y", json_object_get(jwk, "y"));
        af_rc irc;
        af_err_clear(&e);
        irc = pub != NULL ? af_key_from_jwk(pub, &key, &e) : AF_ERR_NOMEM;
        json_decref(pub);
        if (irc != AF_OK) {
            snprintf(why, len, "expected a point on %s, got one that does not import (%.100s)", crv,
                     e.msg);
            return why;
        }
        af_key_free(key);
    }
    return NULL;
}

/* jwks_one_key: the rules of ex that apply to one key: public_only,
 * rsa_min_bits, ec_curves. */
static af_ex_result jwks_one_key(const char *what, const json_t *ex, size_t i, const json_t *jwk,
                                 struct af_buf *msg)
{
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const json_t *min = json_object_get(ex, "rsa_min_bits");
    char label[96], why[192];
    const char *m;

    jwk_label(label, sizeof(label), i, jwk);
    if (!json_is_object(jwk)) {
        af_msg_addf(msg, "%s: %s: expected a JWK (an object), got %s", what, label,
                    af_json_type_name(jwk));
        return AF_EX_FAIL;
    }
    if (json_is_true(json_object_get(ex, "public_only"))) {
        m = jwks_private(jwk);
        if (m != NULL || (kty != NULL && strcmp(kty, "oct") == 0)) {
            af_msg_addf(msg, "%s: %s: expected a public key, got %s%s%s", what, label,
                        m ? "the private member \"" : "a symmetric key (kty \"oct\")", m ? m : "",
                        m ? "\"" : "");
            return AF_EX_FAIL;
        }
    }
    if (min != NULL && kty != NULL && strcmp(kty, "RSA") == 0) {
        long bits = jwks_rsa_bits(jwk);
        if (bits < (long)json_integer_value(min)) {
            af_msg_addf(msg, "%s: %s: expected an RSA modulus of at least %lld bits, got ", what,
                        label, (long long)json_integer_value(min));
            if (bits < 0)
                af_msg_add(msg, "none that decodes");
            else
                af_msg_addf(msg, "%ld bits", bits);
            return AF_EX_FAIL;
        }
    }
    if (json_is_true(json_object_get(ex, "ec_curves")) && kty != NULL && strcmp(kty, "EC") == 0) {
        m = jwks_ec(jwk, why, sizeof(why));
        if (m != NULL) {
            af_msg_addf(msg, "%s: %s: %s", what, label, m);
            return AF_EX_FAIL;
        }
    }
    return AF_EX_PASS;
}

/* signed_jwt: s is a compact JWS whose alg is not "none" and whose
 * signature is not empty. */
static bool signed_jwt(const char *s)
{
    struct af_jws *jws = NULL;
    struct af_err e;
    const char *alg, *dot = strrchr(s, '.');
    bool yes;
    af_err_clear(&e);
    if (dot == NULL || dot[1] == '\0' || af_jws_parse(s, &jws, &e) != AF_OK)
        return false;
    alg = json_string_value(json_object_get(af_jws_header(jws), "alg"));
    yes = alg != NULL && strcasecmp(alg, "none") != 0;
    af_jws_free(jws);
    return yes;
}

/* eval_samples: a "samples" expectation: the expanded samples can carry
 * at least entropy_bits bits (entropy.h: an upper bound, so a failure is
 * a proof). Signed JWTs pass whatever varies in them: nobody makes one
 * without the key (a mock that signs the same claims in the same second
 * hands out the same token; the keys' strength is AS-50c's). An empty or
 * missing sample cannot be judged: AF_EX_ERROR. */
static af_ex_result eval_samples(const struct af_step_view *sv, const json_t *ex,
                                 struct af_buf *msg)
{
    const json_t *v = json_object_get(ex, "samples");
    json_int_t want = json_integer_value(json_object_get(ex, "entropy_bits"));
    char *s[AF_PROBE_MAX_SAMPLES] = {NULL};
    size_t i, n = json_array_size(v);
    struct af_entropy en;
    struct af_err e;
    af_ex_result r = AF_EX_PASS;

    for (i = 0; i < n; i++) {
        af_err_clear(&e);
        if (af_tmpl_expand_str(sv->sc, json_string_value(json_array_get(v, i)), &s[i], NULL, &e) !=
                AF_OK ||
            s[i] == NULL || s[i][0] == '\0') {
            af_buf_reset(msg);
            af_msg_addf(msg, "samples[%zu]: %s", i, e.msg[0] ? e.msg : "empty");
            r = AF_EX_ERROR;
            goto out;
        }
    }
    for (i = 0; i < n && signed_jwt(s[i]); i++)
        ;
    if (i == n)
        goto out;
    af_entropy_bound((const char *const *)s, n, &en);
    if (en.bits < (double)want) {
        af_buf_reset(msg);
        af_msg_addf(msg,
                    "samples: expected at least %" JSON_INTEGER_FORMAT
                    " bits of randomness, got at most %.0f: %zu of %zu characters vary across "
                    "%zu samples, from an alphabet of %u",
                    want, en.bits, en.varying, en.length, n, en.alphabet);
        r = AF_EX_FAIL;
    }
out:
    for (i = 0; i < n; i++)
        free(s[i]);
    return r;
}

/* eval_jwks: a "jwks" expectation: the value the selector names is a JWK
 * set ({"keys": [...]}) whose keys obey the rules asked for. */
static af_ex_result eval_jwks(const struct af_step_view *sv, const struct af_sel_ctx *cx,
                              const json_t *ex, struct af_buf *msg)
{
    const char *what = json_string_value(json_object_get(ex, "jwks"));
    const json_t *keys, *jwk, *other;
    struct af_sv v;
    struct af_err e;
    af_ex_result r = AF_EX_PASS;
    size_t i, j, n;
    char label[96];

    af_err_clear(&e);
    memset(&v, 0, sizeof(v));
    af_buf_reset(msg);
    if (af_sel_eval(cx, what, &v, &e) != AF_OK) {
        af_msg_addf(msg, "%s: %s", what, e.msg);
        return AF_EX_FAIL;
    }
    keys = v.kind == AF_SV_VALUE ? json_object_get(v.json, "keys") : NULL;
    if (!json_is_array(keys)) {
        r = fail(msg, what, &v, sv->show_secrets, "a JWK set (an object with a \"keys\" array)");
        goto out;
    }
    n = json_array_size(keys);
    json_array_foreach(keys, i, jwk)
    {
        const char *kid = json_string_value(json_object_get(jwk, AF_H_KID));
        r = jwks_one_key(what, ex, i, jwk, msg);
        if (r != AF_EX_PASS)
            goto out;
        if (json_is_true(json_object_get(ex, "kids")) && n > 1 && kid == NULL) {
            jwk_label(label, sizeof(label), i, jwk);
            af_msg_addf(msg, "%s: %s: expected a kid (the set has %zu keys), got none", what, label,
                        n);
            r = AF_EX_FAIL;
            goto out;
        }
        if (!json_is_true(json_object_get(ex, "distinct_kids")) || kid == NULL)
            continue;
        for (j = i + 1; j < n; j++) {
            other = json_array_get(keys, j);
            if (json_is_string(json_object_get(other, AF_H_KID)) &&
                strcmp(json_string_value(json_object_get(other, AF_H_KID)), kid) == 0) {
                af_msg_addf(msg, "%s: expected distinct kids, got \"%.64s\" on keys %zu and %zu",
                            what, kid, i, j);
                r = AF_EX_FAIL;
                goto out;
            }
        }
    }
out:
    af_sv_clear(&v);
    return r;
}

/* ---- one expectation on one hop ---- */

static af_ex_result eval_on(const struct af_step_view *sv, size_t hi, const json_t *ex,
                            struct af_buf *msg)
{
    struct af_sel_ctx cx;
    const json_t *v;
    const char *k;
    char *sel = NULL;
    struct af_sv val;
    struct af_err e;
    af_ex_result r;
    size_t i;

    cx.hop = &sv->hops[hi];
    cx.http = sv->http;
    cx.sc = sv->sc;
    cx.nhops = sv->nhops;

    v = json_object_get(ex, "status");

    if (v != NULL)
        return eval_status(sv, cx.hop, v, msg);
    v = json_object_get(ex, "redirect");
    if (v != NULL)
        return eval_redirect(sv, cx.hop, v, msg);
    v = json_object_get(ex, "jwt");
    if (v != NULL)
        return eval_jwt(sv, &cx, ex, msg);
    v = json_object_get(ex, "jwks");
    if (v != NULL)
        return eval_jwks(sv, &cx, ex, msg);
    v = json_object_get(ex, "any");
    if (v == NULL)
        v = json_object_get(ex, "all");
    if (v != NULL) {
        bool any = json_object_get(ex, "any") != NULL;
        struct af_buf sub, acc;
        json_t *m;
        size_t nskip = 0, napplies = 0;
        af_buf_init(&sub, 4096);
        af_buf_init(&acc, 8192);
        r = any ? AF_EX_FAIL : AF_EX_PASS;
        json_array_foreach(v, i, m)
        {
            af_ex_result sr;
            af_buf_reset(&sub);
            /* An alternative whose `if` does not hold is left out: it
             * neither satisfies an "any" nor fails an "all". */
            if (json_object_get(m, "if") != NULL) {
                sr = af_conds_eval(sv->sc, json_object_get(m, "if"), sv->show_secrets, &sub);
                if (sr == AF_EX_ERROR) {
                    r = sr;
                    af_buf_reset(msg);
                    af_msg_add(msg, af_buf_str(&sub));
                    break;
                }
                if (sr != AF_EX_PASS)
                    continue;
                af_buf_reset(&sub);
            }
            napplies++;
            sr = af_expect_eval(sv, m, &sub);
            if (any && sr == AF_EX_PASS) {
                r = AF_EX_PASS;
                break;
            }
            if (!any && sr != AF_EX_PASS) {
                r = sr;
                af_buf_reset(msg);
                af_msg_add(msg, af_buf_str(&sub));
                break;
            }
            if (sr == AF_EX_SKIP)
                nskip++;
            if (any)
                af_msg_addf(&acc, "%s%s", acc.len ? "; or " : "", af_buf_str(&sub));
        }
        if (any && r == AF_EX_FAIL && napplies == 0) {
            r = AF_EX_PASS; /* no alternative applies to this target */
        } else if (any && r != AF_EX_PASS && r != AF_EX_ERROR) {
            af_buf_reset(msg);
            if (nskip == napplies) {
                af_msg_add(msg, af_buf_str(&acc));
                r = AF_EX_SKIP;
            } else {
                af_msg_addf(msg, "none of the alternatives held: %s", af_buf_str(&acc));
            }
        }
        af_buf_free(&sub);
        af_buf_free(&acc);
        return r;
    }
    /* generic */
    v = json_object_get(ex, "that");
    if (v != NULL) {
        sel = strdup(json_string_value(v));
    } else {
        for (i = 0; i < sizeof(shorthands) / sizeof(shorthands[0]); i++) {
            k = shorthands[i];
            v = json_object_get(ex, k);
            if (v == NULL)
                continue;
            if (json_is_string(v) && json_string_length(v) > 0) {
                if (asprintf(&sel, "%s.%s", k, json_string_value(v)) < 0)
                    sel = NULL;
            } else {
                sel = strdup(k);
            }
            break;
        }
    }
    if (sel == NULL) {
        af_buf_reset(msg);
        af_msg_add(msg, "out of memory");
        return AF_EX_ERROR;
    }
    af_err_clear(&e);
    if (strstr(sel, "{{") != NULL) {
        char *x = NULL;
        af_rc rc = af_tmpl_expand_str(sv->sc, sel, &x, NULL, &e);
        if (rc == AF_OK && (x == NULL || af_sel_check(x, &e) != AF_OK))
            rc = AF_ERR_INVALID;
        if (rc != AF_OK) {
            af_buf_reset(msg);
            af_msg_addf(msg, "%s: %s", sel, e.msg[0] ? e.msg : "does not expand to a selector");
            free(x);
            free(sel);
            return rc == AF_ERR_NOTFOUND ? AF_EX_SKIP : AF_EX_ERROR;
        }
        free(sel);
        sel = x;
    }
    if (af_sel_eval(&cx, sel, &val, &e) != AF_OK) {
        af_buf_reset(msg);
        af_msg_addf(msg, "%s: %s", sel, e.msg);
        free(sel);
        return AF_EX_FAIL;
    }
    r = af_expect_preds(sv->sc, ex, &val, sel, sv->show_secrets, msg);
    af_sv_clear(&val);
    free(sel);
    return r;
}

/* cond_eval: one condition ({"that": ...} or {"any": [...]}); on a
 * failure why holds the condition's own why, else the predicate's. */
static af_ex_result cond_eval(struct af_scope *sc, const json_t *m, bool show, struct af_buf *why)
{
    const char *that = json_string_value(json_object_get(m, "that"));
    const char *name;
    struct af_sv v;
    struct af_err e;
    bool lit;
    af_ex_result r = AF_EX_FAIL;

    if (that == NULL) {
        /* {"any": [...]}: the first that holds decides */
        const json_t *alts = json_object_get(m, "any");
        size_t j;
        for (j = 0; j < json_array_size(alts) && r == AF_EX_FAIL; j++)
            r = cond_eval(sc, json_array_get(alts, j), show, why);
    } else {
        name = strncmp(that, "var.", 4) == 0 ? that + 4 : that;
        memset(&v, 0, sizeof(v));
        af_err_clear(&e);
        if (af_var_get(sc, name, &v.json, &lit, &e) == AF_OK)
            v.kind = AF_SV_VALUE;
        if (v.kind == AF_SV_VALUE && !lit && json_is_string(v.json) &&
            strstr(json_string_value(v.json), "{{") != NULL) {
            /* A profile value is a template: the condition is on what it
             * expands to ("{{vars.api}}/items": does it start with https?). */
            char *ref = NULL, *x = NULL;
            json_decref(v.json);
            v.json = NULL;
            v.kind = AF_SV_ABSENT;
            af_err_clear(&e);
            if (asprintf(&ref, "{{%s}}", name) >= 0 &&
                af_tmpl_expand_str(sc, ref, &x, NULL, &e) == AF_OK && x != NULL) {
                v.json = json_string(x);
                v.kind = v.json != NULL ? AF_SV_VALUE : AF_SV_ABSENT;
            }
            free(ref);
            free(x);
        }
        af_buf_reset(why);
        r = af_expect_preds(sc, m, &v, name, show, why);
        af_sv_clear(&v);
    }
    if (r == AF_EX_FAIL && json_is_string(json_object_get(m, "why"))) {
        af_buf_reset(why);
        af_msg_add(why, json_string_value(json_object_get(m, "why")));
    }
    return r;
}

af_ex_result af_conds_eval(struct af_scope *sc, const json_t *conds, bool show, struct af_buf *why)
{
    size_t i;
    json_t *m;
    json_array_foreach(conds, i, m)
    {
        af_ex_result r = cond_eval(sc, m, show, why);
        if (r != AF_EX_PASS)
            return r;
    }
    return AF_EX_PASS;
}

af_ex_result af_expect_eval(const struct af_step_view *sv, const json_t *ex, struct af_buf *msg)
{
    const json_t *on = json_object_get(ex, "on");
    const char *mode = json_string_value(on);
    const json_t *cond = json_object_get(ex, "if");
    size_t *idx, n, i;
    af_ex_result r = AF_EX_PASS;

    if (cond != NULL) {
        /* An expectation that does not apply to this target (the profile
         * says its API reports errors in JSON, not in WWW-Authenticate). */
        r = af_conds_eval(sv->sc, cond, sv->show_secrets, msg);
        if (r == AF_EX_ERROR)
            return r;
        af_buf_reset(msg);
        if (r != AF_EX_PASS)
            return AF_EX_PASS;
        r = AF_EX_PASS;
    }
    /* About captured values, not about a response: no hop to pick. */
    if (json_object_get(ex, "samples") != NULL)
        return eval_samples(sv, ex, msg);

    idx = calloc(sv->nhops ? sv->nhops : 1, sizeof(*idx));
    if (idx == NULL) {
        af_msg_add(msg, "out of memory");
        return AF_EX_ERROR;
    }
    af_hop_pick(sv, on, idx, &n);
    if (n == 0) {
        af_buf_reset(msg);
        if (mode != NULL && strcmp(mode, "page") == 0)
            af_msg_add(msg, "no login or consent page appeared");
        else if (mode != NULL && strcmp(mode, "after_submit") == 0)
            af_msg_add(msg, "no form was submitted");
        else
            af_msg_addf(msg, "hop %s did not happen (%zu hops)", mode ? mode : "", sv->nhops);
        if (json_is_integer(on)) {
            af_buf_reset(msg);
            af_msg_addf(msg, "hop %" JSON_INTEGER_FORMAT " did not happen (%zu hops)",
                        json_integer_value(on), sv->nhops);
        }
        free(idx);
        return AF_EX_SKIP;
    }
    if (mode != NULL && strcmp(mode, "any") == 0) {
        struct af_buf last;
        af_buf_init(&last, 4096);
        r = AF_EX_FAIL;
        for (i = 0; i < n; i++) {
            af_ex_result sr;
            af_buf_reset(msg);
            sr = eval_on(sv, idx[i], ex, msg);
            if (sr == AF_EX_PASS || sr == AF_EX_ERROR || sr == AF_EX_SKIP) {
                r = sr;
                break;
            }
            af_buf_reset(&last);
            af_msg_add(&last, af_buf_str(msg));
        }
        if (r == AF_EX_FAIL) {
            af_buf_reset(msg);
            af_msg_addf(msg, "%s (on every one of %zu hops)", af_buf_str(&last), n);
        }
        af_buf_free(&last);
    } else {
        for (i = 0; i < n; i++) {
            af_buf_reset(msg);
            r = eval_on(sv, idx[i], ex, msg);
            if (r != AF_EX_PASS) {
                if (n > 1) {
                    char *m = af_buf_detach(msg);
                    af_msg_addf(msg, "hop %zu: %s", idx[i] + 1, m ? m : "");
                    free(m);
                }
                break;
            }
        }
    }
    free(idx);
    return r;
}
