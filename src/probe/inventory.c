/*
 * inventory.c - the feature inventory (inventory.h): one table row per
 * feature a server's metadata can state, with the clause that defines the
 * member and its default when absent.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "authflow/proto.h"
#include "probe/inventory.h"

typedef enum {
    INV_ENDPOINT, /* a URL member: offered or not */
    INV_LIST,     /* a JSON array of values */
    INV_FLAG,     /* a boolean */
    INV_DIALECT,  /* authflowd's persona member: an object, or absent */
} inv_kind;

struct inv_row {
    const char *name; /* what the row is called in reports */
    const char *key;  /* the metadata member */
    inv_kind kind;
    const char *spec;     /* the clause that defines the member */
    const char *def_list; /* INV_LIST: the default when absent, space-separated; NULL: none */
    bool def_flag;        /* INV_FLAG: the default when absent */
};

static const struct inv_row rows[] = {
    {"OpenID provider: ID token algs", AF_MD_ID_TOKEN_ALGS, INV_LIST, "OIDC Discovery §3", NULL,
     false},
    {"authorization endpoint", AF_MD_AUTHORIZATION_ENDPOINT, INV_ENDPOINT, "RFC 8414 §2", NULL,
     false},
    {"token endpoint", AF_MD_TOKEN_ENDPOINT, INV_ENDPOINT, "RFC 8414 §2", NULL, false},
    {"userinfo", AF_MD_USERINFO_ENDPOINT, INV_ENDPOINT, "OIDC Core §5.3", NULL, false},
    {"JWK set", AF_MD_JWKS_URI, INV_ENDPOINT, "RFC 8414 §2", NULL, false},
    {"dynamic registration", AF_MD_REGISTRATION_ENDPOINT, INV_ENDPOINT, "RFC 7591", NULL, false},
    {"revocation", AF_MD_REVOCATION_ENDPOINT, INV_ENDPOINT, "RFC 7009", NULL, false},
    {"introspection", AF_MD_INTROSPECTION_ENDPOINT, INV_ENDPOINT, "RFC 7662", NULL, false},
    {"logout", AF_MD_END_SESSION_ENDPOINT, INV_ENDPOINT, "OIDC RP-Initiated Logout", NULL, false},
    {"pushed authorization requests", AF_MD_PAR_ENDPOINT, INV_ENDPOINT, "RFC 9126", NULL, false},
    {"device authorization", AF_MD_DEVICE_ENDPOINT, INV_ENDPOINT, "RFC 8628", NULL, false},
    {"response types", AF_MD_RESPONSE_TYPES, INV_LIST, "RFC 8414 §2", NULL, false},
    {"response modes", AF_MD_RESPONSE_MODES, INV_LIST, "RFC 8414 §2", "query fragment", false},
    {"grant types", AF_MD_GRANT_TYPES, INV_LIST, "RFC 8414 §2", "authorization_code implicit",
     false},
    {"PKCE methods", AF_MD_CODE_CHALLENGE_METHODS, INV_LIST, "RFC 8414 §2; RFC 7636", NULL, false},
    {"token endpoint client authentication", AF_MD_TOKEN_AUTH_METHODS, INV_LIST, "RFC 8414 §2",
     "client_secret_basic", false},
    {"scopes", AF_MD_SCOPES, INV_LIST, "RFC 8414 §2", NULL, false},
    {"DPoP algs", AF_MD_DPOP_ALGS, INV_LIST, "RFC 9449 §5.1", NULL, false},
    {"iss in authorization responses", AF_MD_ISS_PARAMETER, INV_FLAG, "RFC 9207 §3", NULL, false},
    {"pushed authorization requests required", AF_MD_REQUIRE_PAR, INV_FLAG, "RFC 9126 §5", NULL,
     false},
    {"request objects (request)", AF_MD_REQUEST_PARAMETER, INV_FLAG, "OIDC Discovery §3", NULL,
     false},
    {"request objects by reference (request_uri)", AF_MD_REQUEST_URI_PARAMETER, INV_FLAG,
     "OIDC Discovery §3", NULL, true},
    {"claims parameter", AF_MD_CLAIMS_PARAMETER, INV_FLAG, "OIDC Discovery §3", NULL, false},
    /* an authflowd persona: the app's provider answers in another dialect,
     * at endpoints of its own (authprobe rp follows the app there) */
    {"provider dialect (authflowd persona)", AF_MD_PERSONA, INV_DIALECT, "docs/personas.md", NULL,
     false},
    {"certificate-bound access tokens", AF_MD_MTLS_BOUND_TOKENS, INV_FLAG, "RFC 8705 §3.3", NULL,
     false},
};

static const char *const kind_names[] = {"endpoint", "list", "flag", "dialect"};

/* default_list: the space-separated defaults as a JSON array. */
static json_t *default_list(const char *s)
{
    json_t *a = json_array();
    while (a != NULL && *s != '\0') {
        size_t n = strcspn(s, " ");
        if (json_array_append_new(a, json_stringn(s, n)) != 0) {
            json_decref(a);
            return NULL;
        }
        s += n;
        s += *s == ' ';
    }
    return a;
}

json_t *af_inventory_build(const json_t *meta)
{
    json_t *inv;
    size_t i;

    if (!json_is_object(meta) || json_object_size(meta) == 0)
        return NULL;
    inv = json_array();
    for (i = 0; inv != NULL && i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct inv_row *r = &rows[i];
        const json_t *v = json_object_get(meta, r->key);
        json_t *val = NULL;
        bool stated = true, valid = true;

        switch (r->kind) {
        case INV_ENDPOINT:
            stated = json_is_string(v);
            val = stated ? json_deep_copy(v) : json_null();
            break;
        case INV_LIST:
            stated = json_is_array(v);
            val = stated        ? json_deep_copy(v)
                  : r->def_list ? default_list(r->def_list)
                                : json_null();
            break;
        case INV_FLAG:
            stated = json_is_boolean(v);
            val = json_boolean(stated ? json_is_true(v) : r->def_flag);
            break;
        case INV_DIALECT:
            stated = json_is_object(v);
            val = stated ? json_deep_copy(v) : json_null();
            break;
        }
        if (!stated && v != NULL && !json_is_null(v)) {
            /* present with the wrong type: what it says, not the default
             * (a "false" string is no statement of false) */
            json_decref(val);
            val = json_deep_copy(v);
            stated = true;
            valid = false;
        }
        if (val == NULL ||
            json_array_append_new(inv, json_pack("{s:s, s:s, s:s, s:s, s:o, s:b, s:b}", "name",
                                                 r->name, "member", r->key, "kind",
                                                 kind_names[r->kind], "spec", r->spec, "value", val,
                                                 "stated", stated, "valid", valid)) != 0) {
            json_decref(inv);
            inv = NULL;
        }
    }
    return inv;
}

void af_inventory_print(FILE *f, const json_t *inv)
{
    const json_t *row;
    size_t i, j;

    if (inv == NULL)
        return;
    fputs("features (from the metadata; * = not stated, the specification's default):\n", f);
    json_array_foreach((json_t *)inv, i, row)
    {
        const json_t *v = json_object_get(row, "value");
        const char *star = json_is_true(json_object_get(row, "stated")) ? "" : "*";
        fprintf(f, "  %-44s ", json_string_value(json_object_get(row, "name")));
        if (json_is_false(json_object_get(row, "valid"))) {
            /* a member of the wrong type: shown as it came, short */
            char *raw = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            const char *kind = json_string_value(json_object_get(row, "kind"));
            fprintf(f, "invalid: %.40s%s (not %s)", raw != NULL ? raw : "?",
                    raw != NULL && strlen(raw) > 40 ? "..." : "",
                    kind == NULL                    ? "the type it must have"
                    : strcmp(kind, "endpoint") == 0 ? "a URL string"
                    : strcmp(kind, "list") == 0     ? "an array"
                    : strcmp(kind, "flag") == 0     ? "a boolean"
                                                    : "an object");
            free(raw);
        } else if (json_is_object(v)) {
            /* a persona: its name, and what a client of it may not expect */
            const char *name = json_string_value(json_object_get(v, AF_MD_PERSONA_NAME));
            fprintf(f, "%s: ID tokens %s, iss %s", name != NULL ? name : "?",
                    json_is_true(json_object_get(v, AF_MD_PERSONA_ID_TOKEN)) ? "yes" : "no",
                    json_is_true(json_object_get(v, AF_MD_ISS_PARAMETER)) ? "yes" : "no");
        } else if (json_is_string(v)) {
            fputs("yes", f);
        } else if (json_is_boolean(v)) {
            fprintf(f, "%s%s", json_is_true(v) ? "yes" : "no", star);
        } else if (json_is_array(v)) {
            const json_t *x;
            json_array_foreach((json_t *)v, j, x)
            {
                fprintf(f, "%s%s", j > 0 ? " " : "",
                        json_is_string(x) ? json_string_value(x) : "?");
            }
            fputs(json_array_size(v) == 0 ? "(none)" : "", f);
            fputs(star, f);
        } else {
            const char *kind = json_string_value(json_object_get(row, "kind"));
            fputs(kind != NULL && strcmp(kind, "endpoint") == 0  ? "no"
                  : kind != NULL && strcmp(kind, "dialect") == 0 ? "none"
                                                                 : "not stated",
                  f);
        }
        fprintf(f, "  (%s)\n", json_string_value(json_object_get(row, "spec")));
    }
}
