/*
 * registry.c - the clients and users the server knows (registry.h).
 *
 * A snapshot is two arrays of borrowed pointers: to the config's own
 * elements, or to entries a change parsed. Writers serialise on a mutex,
 * build the next snapshot and publish it with a release store; readers
 * load it (acquire) and never free anything. Replaced snapshots and
 * entries go to the graveyard, freed with the registry.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "authflow/cfg.h"
#include "authflow/proto.h"
#include "server/clientauth.h"
#include "server/core.h"
#include "server/registry.h"

struct snapshot {
    const struct af_cfg_client **clients;
    size_t nclients;
    const struct af_cfg_user **users;
    size_t nusers;
};

struct af_registry {
    const struct af_config *cfg; /* borrowed */
    _Atomic(struct snapshot *) cur;
    pthread_mutex_t lock; /* writers */
    /* owned, freed at the end: every snapshot published, every entry a
     * change parsed */
    struct snapshot **snaps;
    size_t nsnaps;
    struct af_cfg_client **own_clients;
    size_t nown_clients;
    struct af_cfg_user **own_users;
    size_t nown_users;
    size_t changes;
};

/* ---- snapshots ---- */

static void snapshot_free(struct snapshot *s)
{
    if (s == NULL)
        return;
    free(s->clients);
    free(s->users);
    free(s);
}

/* snapshot_copy: a snapshot with room for one more of each. */
static struct snapshot *snapshot_copy(const struct snapshot *from)
{
    struct snapshot *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->clients = calloc(from->nclients + 1, sizeof(*s->clients));
    s->users = calloc(from->nusers + 1, sizeof(*s->users));
    if (s->clients == NULL || s->users == NULL) {
        snapshot_free(s);
        return NULL;
    }
    memcpy(s->clients, from->clients, from->nclients * sizeof(*s->clients));
    memcpy(s->users, from->users, from->nusers * sizeof(*s->users));
    s->nclients = from->nclients;
    s->nusers = from->nusers;
    return s;
}

/* keep: p (owned) into the graveyard list v of n; false without memory. */
static bool keep(void ***v, size_t *n, void *p)
{
    void **grown = realloc(*v, (*n + 1) * sizeof(**v));

    if (grown == NULL)
        return false;
    grown[(*n)++] = p;
    *v = grown;
    return true;
}

/* publish: s becomes the current snapshot (kept for the end). */
static af_rc publish(struct af_registry *reg, struct snapshot *s)
{
    if (!keep((void ***)&reg->snaps, &reg->nsnaps, s)) {
        snapshot_free(s);
        return AF_ERR_NOMEM;
    }
    atomic_store_explicit(&reg->cur, s, memory_order_release);
    reg->changes++;
    return AF_OK;
}

static const struct snapshot *current(const struct af_registry *reg)
{
    return atomic_load_explicit(&((struct af_registry *)reg)->cur, memory_order_acquire);
}

af_rc af_registry_new(const struct af_config *cfg, struct af_registry **out)
{
    struct af_registry *reg = calloc(1, sizeof(*reg));
    struct snapshot *s = NULL;
    size_t i;
    af_rc rc = AF_ERR_NOMEM;

    *out = NULL;
    if (reg == NULL)
        goto out;
    reg->cfg = cfg;
    pthread_mutex_init(&reg->lock, NULL);
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        goto out;
    s->clients = calloc(cfg->nclients + 1, sizeof(*s->clients));
    s->users = calloc(cfg->nusers + 1, sizeof(*s->users));
    if (s->clients == NULL || s->users == NULL)
        goto out;
    for (i = 0; i < cfg->nclients; i++)
        s->clients[s->nclients++] = &cfg->clients[i];
    for (i = 0; i < cfg->nusers; i++)
        s->users[s->nusers++] = &cfg->users[i];
    rc = publish(reg, s);
    s = NULL;
    reg->changes = 0; /* the start is not a change */
    if (rc != AF_OK)
        goto out;
    *out = reg;
    reg = NULL;
out:
    snapshot_free(s);
    af_registry_free(reg);
    return rc;
}

void af_registry_free(struct af_registry *reg)
{
    size_t i;

    if (reg == NULL)
        return;
    for (i = 0; i < reg->nsnaps; i++)
        snapshot_free(reg->snaps[i]);
    for (i = 0; i < reg->nown_clients; i++)
        af_cfg_client_free(reg->own_clients[i]);
    for (i = 0; i < reg->nown_users; i++)
        af_cfg_user_free(reg->own_users[i]);
    free(reg->snaps);
    free(reg->own_clients);
    free(reg->own_users);
    pthread_mutex_destroy(&reg->lock);
    free(reg);
}

/* ---- lookups ---- */

const struct af_cfg_client *af_client_find(const struct af_server *srv, const char *id)
{
    const struct snapshot *s;

    if (id == NULL)
        return NULL;
    if (srv->reg == NULL)
        return af_cfg_client_find(srv->cfg, id);
    s = current(srv->reg);
    for (size_t i = 0; i < s->nclients; i++) {
        if (strcmp(s->clients[i]->id, id) == 0)
            return s->clients[i];
    }
    return NULL;
}

/* user_match: the user whose sub (by_sub) or username is name, in the
 * current snapshot (or the config of a server built by hand). */
static const struct af_cfg_user *user_match(const struct af_server *srv, const char *name,
                                            bool by_sub)
{
    size_t i;

    if (name == NULL)
        return NULL;
    if (srv->reg == NULL) {
        for (i = 0; i < srv->cfg->nusers; i++) {
            const struct af_cfg_user *u = &srv->cfg->users[i];
            if (strcmp(by_sub ? u->sub : u->username, name) == 0)
                return u;
        }
        return NULL;
    }
    const struct snapshot *s = current(srv->reg);
    for (i = 0; i < s->nusers; i++) {
        const struct af_cfg_user *u = s->users[i];
        if (strcmp(by_sub ? u->sub : u->username, name) == 0)
            return u;
    }
    return NULL;
}

const struct af_cfg_user *af_user_by_sub(const struct af_server *srv, const char *sub)
{
    return user_match(srv, sub, true);
}

const struct af_cfg_user *af_user_by_username(const struct af_server *srv, const char *username)
{
    return user_match(srv, username, false);
}

const struct af_cfg_user *af_user_find(const struct af_server *srv, const char *name)
{
    const struct af_cfg_user *u = user_match(srv, name, false);
    return u != NULL ? u : user_match(srv, name, true);
}

const struct af_cfg_client *af_client_at(const struct af_server *srv, size_t i)
{
    const struct snapshot *s;

    if (srv->reg == NULL)
        return i < srv->cfg->nclients ? &srv->cfg->clients[i] : NULL;
    s = current(srv->reg);
    return i < s->nclients ? s->clients[i] : NULL;
}

const struct af_cfg_user *af_user_at(const struct af_server *srv, size_t i)
{
    const struct snapshot *s;

    if (srv->reg == NULL)
        return i < srv->cfg->nusers ? &srv->cfg->users[i] : NULL;
    s = current(srv->reg);
    return i < s->nusers ? s->users[i] : NULL;
}

/* ---- changes ---- */

/* needs_users: a client in s (other than skip) whose grants log a user in. */
static const struct af_cfg_client *needs_users(const struct snapshot *s,
                                               const struct af_cfg_client *extra)
{
    unsigned need = AF_GRANT_AUTHORIZATION_CODE | AF_GRANT_PASSWORD;

    if (extra != NULL && (extra->grant_types & need) != 0)
        return extra;
    for (size_t i = 0; i < s->nclients; i++) {
        if ((s->clients[i]->grant_types & need) != 0)
            return s->clients[i];
    }
    return NULL;
}

/* room: AF_ERR_TOOBIG (with the reason) when no change or entry is left. */
static af_rc room(const struct af_registry *reg, size_t entries, struct af_err *err)
{
    if (reg->changes >= AF_REG_MAX_CHANGES)
        return AF_ERR_SET(err, AF_ERR_TOOBIG,
                          "this authflowd made %d changes already (each keeps the entry it "
                          "replaced); restart it",
                          AF_REG_MAX_CHANGES);
    if (entries >= AF_REG_MAX_ENTRIES)
        return AF_ERR_SET(err, AF_ERR_TOOBIG, "%d entries at most", AF_REG_MAX_ENTRIES);
    return AF_OK;
}

af_rc af_registry_put_client(struct af_registry *reg, const char *text, size_t len,
                             const char *source, const struct af_cfg_client **out, bool *created,
                             struct af_err *err)
{
    struct af_cfg_client *c = NULL;
    struct snapshot *s = NULL;
    const struct snapshot *cur;
    size_t i;
    af_rc rc;

    *out = NULL;
    *created = false;
    rc = af_cfg_client_parse(text, len, source, &c, err);
    if (rc != AF_OK)
        return rc;
    pthread_mutex_lock(&reg->lock);
    cur = current(reg);
    rc = room(reg, cur->nclients, err);
    if (rc != AF_OK)
        goto out;
    if (cur->nusers == 0 && needs_users(cur, c) == c) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID,
                        "client %s has a grant that logs a user in, and there are no users", c->id);
        goto out;
    }
    s = snapshot_copy(cur);
    if (s == NULL || !keep((void ***)&reg->own_clients, &reg->nown_clients, c)) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (i = 0; i < s->nclients && strcmp(s->clients[i]->id, c->id) != 0; i++)
        ;
    *created = i == s->nclients;
    s->clients[i] = c;
    if (*created)
        s->nclients++;
    *out = c;
    c = NULL; /* the graveyard has it */
    rc = publish(reg, s);
    s = NULL;
    if (rc != AF_OK)
        AF_ERR_SET(err, rc, "out of memory");
out:
    pthread_mutex_unlock(&reg->lock);
    snapshot_free(s);
    af_cfg_client_free(c);
    return rc;
}

af_rc af_registry_put_user(struct af_registry *reg, const char *text, size_t len,
                           const char *source, const struct af_cfg_user **out, bool *created,
                           struct af_err *err)
{
    struct af_cfg_user *u = NULL;
    struct snapshot *s = NULL;
    const struct snapshot *cur;
    size_t i, at;
    af_rc rc;

    *out = NULL;
    *created = false;
    rc = af_cfg_user_parse(text, len, source, &u, err);
    if (rc != AF_OK)
        return rc;
    pthread_mutex_lock(&reg->lock);
    cur = current(reg);
    rc = room(reg, cur->nusers, err);
    if (rc != AF_OK)
        goto out;
    at = cur->nusers;
    for (i = 0; i < cur->nusers; i++) {
        const struct af_cfg_user *o = cur->users[i];
        if (strcmp(o->username, u->username) == 0) {
            at = i; /* the one replaced */
            continue;
        }
        /* a stored sub names one user, and a typed name must too */
        if (strcmp(o->sub, u->sub) == 0 || strcmp(o->username, u->sub) == 0 ||
            strcmp(o->sub, u->username) == 0) {
            rc = AF_ERR_SET(err, AF_ERR_INVALID,
                            "user %s: sub %s or username clashes with user %s (sub %s)",
                            u->username, u->sub, o->username, o->sub);
            goto out;
        }
    }
    s = snapshot_copy(cur);
    if (s == NULL || !keep((void ***)&reg->own_users, &reg->nown_users, u)) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory");
        goto out;
    }
    *created = at == s->nusers;
    s->users[at] = u;
    if (*created)
        s->nusers++;
    *out = u;
    u = NULL;
    rc = publish(reg, s);
    s = NULL;
    if (rc != AF_OK)
        AF_ERR_SET(err, rc, "out of memory");
out:
    pthread_mutex_unlock(&reg->lock);
    snapshot_free(s);
    af_cfg_user_free(u);
    return rc;
}

/* remove_at: the snapshot without entry i of the list (clients or users). */
static af_rc remove_entry(struct af_registry *reg, bool clients, const char *key,
                          struct af_err *err)
{
    struct snapshot *s = NULL;
    const struct snapshot *cur;
    const struct af_cfg_client *c;
    size_t i, n;
    af_rc rc = AF_OK;

    pthread_mutex_lock(&reg->lock);
    cur = current(reg);
    n = clients ? cur->nclients : cur->nusers;
    for (i = 0; i < n; i++) {
        const char *k = clients ? cur->clients[i]->id : cur->users[i]->username;
        if (strcmp(k, key) == 0)
            break;
    }
    if (i == n) {
        rc = AF_ERR_SET(err, AF_ERR_NOTFOUND, "no %s %s", clients ? "client" : "user", key);
        goto out;
    }
    if (!clients && n == 1 && (c = needs_users(cur, NULL)) != NULL) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID,
                        "%s is the last user, and client %s has a grant that logs a user in", key,
                        c->id);
        goto out;
    }
    rc = room(reg, 0, err);
    if (rc != AF_OK)
        goto out;
    s = snapshot_copy(cur);
    if (s == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (clients) {
        memmove(&s->clients[i], &s->clients[i + 1], (n - i - 1) * sizeof(*s->clients));
        s->nclients--;
    } else {
        memmove(&s->users[i], &s->users[i + 1], (n - i - 1) * sizeof(*s->users));
        s->nusers--;
    }
    rc = publish(reg, s);
    s = NULL;
    if (rc != AF_OK)
        AF_ERR_SET(err, rc, "out of memory");
out:
    pthread_mutex_unlock(&reg->lock);
    snapshot_free(s);
    return rc;
}

af_rc af_registry_remove_client(struct af_registry *reg, const char *id, struct af_err *err)
{
    return remove_entry(reg, true, id, err);
}

af_rc af_registry_remove_user(struct af_registry *reg, const char *username, struct af_err *err)
{
    return remove_entry(reg, false, username, err);
}

/* ---- as JSON ---- */

static json_t *strlist_json(const struct af_strlist *l)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < l->n; i++) {
        if (json_array_append_new(a, json_string(l->v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *grants_json(unsigned g)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        {AF_GRANT_AUTHORIZATION_CODE, AF_GT_AUTHORIZATION_CODE},
        {AF_GRANT_REFRESH_TOKEN, AF_GT_REFRESH_TOKEN},
        {AF_GRANT_CLIENT_CREDENTIALS, AF_GT_CLIENT_CREDENTIALS},
        {AF_GRANT_PASSWORD, AF_GT_PASSWORD},
    };
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < sizeof(names) / sizeof(names[0]); i++) {
        if ((g & names[i].bit) != 0 && json_array_append_new(a, json_string(names[i].name)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* scope_str: the client's scopes as one space-separated string. */
static json_t *scope_json(const struct af_strlist *l)
{
    size_t len = 1, i;
    char *s, *p;
    json_t *out;

    for (i = 0; i < l->n; i++)
        len += strlen(l->v[i]) + 1;
    s = p = malloc(len);
    if (s == NULL)
        return NULL;
    *p = '\0';
    for (i = 0; i < l->n; i++)
        p += sprintf(p, "%s%s", i ? " " : "", l->v[i]);
    out = json_string(s);
    free(s);
    return out;
}

json_t *af_client_json(const struct af_cfg_client *c)
{
    return json_pack(
        "{s:s, s:s?, s:b, s:s, s:s, s:o, s:o, s:o, s:o, s:b, s:b, s:o, s:o}", "client_id", c->id,
        "client_name", c->name, "has_secret", c->secret != NULL, "token_endpoint_auth_method",
        af_client_auth_name(c->auth_method), "application_type",
        c->app_type == AF_APP_NATIVE ? AF_APP_TYPE_NATIVE : AF_APP_TYPE_WEB, "redirect_uris",
        strlist_json(&c->redirect_uris), "post_logout_redirect_uris",
        strlist_json(&c->post_logout_uris), "grant_types", grants_json(c->grant_types), "scope",
        scope_json(&c->scopes), "require_pkce", c->require_pkce, "allow_plain_pkce",
        c->allow_plain_pkce, "access_token_audience", strlist_json(&c->audience),
        "access_token_claims", strlist_json(&c->access_claims));
}

json_t *af_user_json(const struct af_cfg_user *u)
{
    /* a copy: the config's claims are shared by every worker */
    return json_pack("{s:s, s:s, s:b, s:o}", "sub", u->sub, "username", u->username, "has_password",
                     u->password != NULL, "claims", json_deep_copy(u->claims));
}

/* list_json: every client or user of the current snapshot. */
static json_t *list_json(struct af_registry *reg, bool clients)
{
    const struct snapshot *s = current(reg);
    size_t n = clients ? s->nclients : s->nusers;
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < n; i++) {
        json_t *e = clients ? af_client_json(s->clients[i]) : af_user_json(s->users[i]);
        if (json_array_append_new(a, e) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    return a;
}

json_t *af_registry_clients_json(struct af_registry *reg)
{
    return list_json(reg, true);
}

json_t *af_registry_users_json(struct af_registry *reg)
{
    return list_json(reg, false);
}
