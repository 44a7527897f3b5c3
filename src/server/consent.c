/*
 * consent.c - a persona's consent rules (consent.h): the refresh token of
 * an offline grant on the first consent only, incremental authorization,
 * over the store's memory of what each user granted each client.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "authflow/buf.h"
#include "authflow/cfg.h"
#include "authflow/proto.h"
#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/consent.h"
#include "server/core.h"
#include "server/persona.h"
#include "server/store.h"

/* The longest scope a consent remembers: what a request may carry. */
#define CONSENT_SCOPE_MAX (64 * 1024)

/* client_may: client's scope list holds the scope tok[0..len). */
static bool client_may(const struct af_cfg_client *client, const char *tok, size_t len)
{
    size_t i;

    for (i = 0; i < client->scopes.n; i++)
        if (strlen(client->scopes.v[i]) == len && strncmp(client->scopes.v[i], tok, len) == 0)
            return true;
    return false;
}

/* scope_union: a, then each token of b (may be NULL) that a lacks and
 * client may still ask for (the admin API may have narrowed its list since
 * b was granted). Caller frees; NULL when out of memory or too long. */
static char *scope_union(const char *a, const char *b, const struct af_cfg_client *client)
{
    struct af_buf out;
    const char *p = b;
    char *s = NULL;
    af_rc rc;

    af_buf_init(&out, CONSENT_SCOPE_MAX);
    rc = af_buf_adds(&out, a);
    while (rc == AF_OK && p != NULL && *p) {
        size_t n = strcspn(p, " ");
        if (n > 0 && !af_str_has_space_tokenn(af_buf_str(&out), p, n) && client_may(client, p, n)) {
            if (out.len > 0)
                rc = af_buf_addc(&out, ' ');
            if (rc == AF_OK)
                rc = af_buf_add(&out, p, n);
        }
        p += n;
        p += *p == ' ';
    }
    if (rc == AF_OK)
        s = af_buf_detach(&out);
    af_buf_free(&out);
    return s;
}

/* covered: every scope of want is in granted (may be NULL: none). */
static bool covered(const char *want, const char *granted)
{
    const char *p = want;

    while (*p) {
        size_t n = strcspn(p, " ");
        if (n > 0 && (granted == NULL || !af_str_has_space_tokenn(granted, p, n)))
            return false;
        p += n;
        p += *p == ' ';
    }
    return true;
}

/* param_is: in's parameter name (NULL: none) has the value want. */
static bool param_is(const struct af_params *in, const char *name, const char *want)
{
    const char *v = name != NULL ? af_params_get(in, name) : NULL;
    return v != NULL && want != NULL && strcmp(v, want) == 0;
}

af_rc af_consent_grant(struct af_server *srv, const struct af_params *in,
                       const struct af_cfg_client *client, const struct af_cfg_user *user,
                       char **scope, bool *no_refresh)
{
    const struct af_persona *p = af_persona_of(srv);
    struct af_consent_rec prev = {0}, next = {0};
    char *wider = NULL;
    bool offline, again, refresh;
    af_rc rc = AF_OK;

    *no_refresh = false;
    if (p->offline_param == NULL)
        goto out;
    rc = af_consent_get(srv->store, client->id, user->sub, &prev);
    if (rc == AF_ERR_NOTFOUND)
        rc = AF_OK;
    if (rc != AF_OK)
        goto out;
    /* incremental authorization: what was granted before joins this grant */
    if (prev.scope != NULL && param_is(in, p->incremental_param, p->incremental_value)) {
        wider = scope_union(*scope, prev.scope, client);
        if (wider == NULL) {
            rc = AF_ERR_NOMEM;
            goto out;
        }
    }
    offline = param_is(in, p->offline_param, p->offline_value);
    again = af_str_has_space_token(af_params_get(in, AF_P_PROMPT), AF_PROMPT_CONSENT);
    /* prompt=none shows no consent screen: what it asks for must have
     * been consented to before (OIDC Core 3.1.2.6: consent_required) */
    if (af_str_has_space_token(af_params_get(in, AF_P_PROMPT), AF_PROMPT_NONE) &&
        (!covered(*scope, prev.scope) || (offline && !prev.offline))) {
        rc = AF_ERR_STATE;
        goto out;
    }
    refresh = offline && (!p->refresh_on_consent || !prev.offline || again);
    /* the user has granted everything before and this now; an offline
     * consent counts once a refresh token can come of it */
    next.scope = scope_union(wider != NULL ? wider : *scope, prev.scope, client);
    if (next.scope == NULL) {
        rc = AF_ERR_NOMEM;
        goto out;
    }
    next.offline = prev.offline || (refresh && (client->grant_types & AF_GRANT_REFRESH_TOKEN));
    next.expires = af_now() + srv->cfg->refresh_token_ttl;
    rc = af_consent_put(srv->store, client->id, user->sub, &next);
    if (rc != AF_OK)
        goto out;
    if (wider != NULL) {
        free(*scope);
        *scope = wider;
        wider = NULL;
    }
    *no_refresh = !refresh;
out:
    free(wider);
    af_consent_rec_clear(&prev);
    af_consent_rec_clear(&next);
    return rc;
}

void af_consent_forget(struct af_server *srv, const char *client_id, const char *sub)
{
    if (af_persona_of(srv)->offline_param != NULL && client_id != NULL && sub != NULL)
        af_consent_drop(srv->store, client_id, sub);
}
