/*
 * scope.c - scope strings (RFC 6749 §3.3): their syntax, whether a client
 * may ask for them, narrowing, and the user claims they release (OIDC Core
 * §5.4). The one scope parser of the server: /authorize, /token and the
 * admin API all go through it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authflow/buf.h"
#include "authflow/cfg.h"
#include "authflow/proto.h"
#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/scope.h"

/* ---- scopes (RFC 6749 §3.3) ---- */

static bool scope_char(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
}

bool af_scope_valid(const char *scope)
{
    const unsigned char *p = (const unsigned char *)scope;
    bool in_token = false;
    if (scope == NULL || *p == '\0')
        return false;
    for (; *p; p++) {
        if (*p == ' ') {
            /* a space must end a token: no leading, doubled or trailing spaces */
            if (!in_token)
                return false;
            in_token = false;
        } else if (scope_char(*p)) {
            in_token = true;
        } else {
            return false;
        }
    }
    return in_token;
}

/* every_token: true when pred holds for every token of scope. */
static bool every_token(const char *scope,
                        bool (*pred)(const char *tok, size_t len, const void *ctx), const void *ctx)
{
    const char *p = scope;
    while (*p) {
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (!pred(p, len, ctx))
            return false;
        p += len;
        if (*p == ' ')
            p++;
    }
    return true;
}

static bool in_strlist(const char *tok, size_t len, const void *ctx)
{
    const struct af_strlist *l = ctx;
    size_t i;
    for (i = 0; i < l->n; i++) {
        if (strlen(l->v[i]) == len && memcmp(l->v[i], tok, len) == 0)
            return true;
    }
    return false;
}

static bool in_space_list(const char *tok, size_t len, const void *ctx)
{
    const char *p = ctx;
    while (*p) {
        const char *e = strchr(p, ' ');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == len && memcmp(p, tok, len) == 0)
            return true;
        p += l;
        if (*p == ' ')
            p++;
    }
    return false;
}

bool af_scope_client_allows(const struct af_cfg_client *client, const char *scope)
{
    const char *bad;
    size_t bad_len;
    return af_scope_client_check(client, scope, &bad, &bad_len) == AF_SCOPE_OK;
}

/* token_valid: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
static bool token_valid(const char *tok, size_t len)
{
    size_t i;
    if (len == 0)
        return false;
    for (i = 0; i < len; i++) {
        if (!scope_char((unsigned char)tok[i]))
            return false;
    }
    return true;
}

af_scope_fault af_scope_client_check(const struct af_cfg_client *client, const char *scope,
                                     const char **bad, size_t *bad_len)
{
    const char *p = scope;
    af_scope_fault f = AF_SCOPE_OK;
    size_t len;

    *bad = NULL;
    *bad_len = 0;
    if (scope == NULL)
        return AF_SCOPE_MALFORMED;
    /* scope = scope-token *( SP scope-token ): exactly one space between. */
    for (;;) {
        len = strcspn(p, " ");
        if (!token_valid(p, len))
            f = AF_SCOPE_MALFORMED;
        else if (!in_strlist(p, len, &client->scopes))
            f = AF_SCOPE_NOT_ALLOWED;
        if (f != AF_SCOPE_OK || p[len] == '\0')
            break;
        p += len + 1;
    }
    if (f != AF_SCOPE_OK) {
        *bad = p;
        *bad_len = len;
    }
    return f;
}

bool af_scope_subset(const char *scope, const char *granted)
{
    return af_scope_valid(scope) && granted != NULL && every_token(scope, in_space_list, granted);
}

bool af_scope_client_explain(const struct af_cfg_client *client, const char *scope, char *why,
                             size_t len)
{
    char allowed[160];
    const char *bad;
    size_t n;

    switch (af_scope_client_check(client, scope, &bad, &n)) {
    case AF_SCOPE_OK:
        return true;
    case AF_SCOPE_MALFORMED:
        snprintf(why, len, "scope is malformed (RFC 6749 3.3)");
        return false;
    case AF_SCOPE_NOT_ALLOWED:
    default:
        af_strv_join(allowed, sizeof(allowed), client->scopes.v, client->scopes.n, " ");
        snprintf(why, len, "scope %.*s is not allowed for client %s (allowed: %s)",
                 (int)(n < 64 ? n : 64), bad, client->id, allowed);
        return false;
    }
}

char *af_scope_client_default(const struct af_cfg_client *client)
{
    struct af_buf b;
    size_t i;
    char *s = NULL;

    af_buf_init(&b, 64 * 1024);
    for (i = 0; i < client->scopes.n; i++) {
        if ((i > 0 && af_buf_addc(&b, ' ') != AF_OK) ||
            af_buf_adds(&b, client->scopes.v[i]) != AF_OK)
            goto out;
    }
    s = af_buf_detach(&b);
out:
    af_buf_free(&b);
    return s;
}

/* ---- claims released by scope (OIDC Core §5.4) ---- */

static const char *const profile_claims[] = {
    AF_C_NAME,        AF_C_FAMILY_NAME, AF_C_GIVEN_NAME,
    AF_C_MIDDLE_NAME, AF_C_NICKNAME,    AF_C_PREFERRED_USERNAME,
    AF_C_PROFILE,     AF_C_PICTURE,     AF_C_WEBSITE,
    AF_C_GENDER,      AF_C_BIRTHDATE,   AF_C_ZONEINFO,
    AF_C_LOCALE,      AF_C_UPDATED_AT,  NULL};
static const char *const email_claims[] = {AF_C_EMAIL, AF_C_EMAIL_VERIFIED, NULL};
static const char *const address_claims[] = {AF_C_ADDRESS, NULL};
static const char *const phone_claims[] = {AF_C_PHONE_NUMBER, AF_C_PHONE_NUMBER_VERIFIED, NULL};

static const struct {
    const char *scope;
    const char *const *claims;
} std_scopes[] = {
    {AF_SCOPE_PROFILE, profile_claims},
    {AF_SCOPE_EMAIL, email_claims},
    {AF_SCOPE_ADDRESS, address_claims},
    {AF_SCOPE_PHONE, phone_claims},
};

/* claim_released: a standard claim (OIDC Core §5.1) goes out only when the
 * scope §5.4 files it under is granted; any other claim when a granted
 * scope has the claim's own name (custom claims such as "roles"). So a
 * scope named "email_verified" or "name" releases nothing by itself. */
static bool claim_released(const char *claim, const char *scope)
{
    size_t i, j;
    for (i = 0; i < sizeof(std_scopes) / sizeof(std_scopes[0]); i++) {
        for (j = 0; std_scopes[i].claims[j] != NULL; j++) {
            if (strcmp(std_scopes[i].claims[j], claim) == 0)
                return af_str_has_space_token(scope, std_scopes[i].scope);
        }
    }
    return af_str_has_space_token(scope, claim);
}

af_rc af_claims_release(const struct af_cfg_user *user, const char *scope, json_t *obj)
{
    const char *name;
    json_t *val;

    if (user == NULL || user->claims == NULL || scope == NULL)
        return AF_OK;
    json_object_foreach(user->claims, name, val)
    {
        if (claim_released(name, scope) && json_object_set(obj, name, val) != 0)
            return AF_ERR_NOMEM;
    }
    return AF_OK;
}
