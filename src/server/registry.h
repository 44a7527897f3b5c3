/*
 * registry.h - the clients and users the server knows: the config's at
 * start, added, replaced and removed at run time through the admin API
 * (docs/admin.md). The one home of "which client has this id" and "which
 * user has this sub". Private to src/server/.
 *
 * Readers take no lock: a change publishes a new immutable snapshot with
 * an atomic store. What a change replaces (a client, a user, the old
 * snapshot's arrays) is kept until the server stops, so a pointer a request
 * borrowed stays valid for the whole request; AF_REG_MAX_CHANGES bounds
 * that memory.
 */
#ifndef AUTHFLOW_SERVER_REGISTRY_H
#define AUTHFLOW_SERVER_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "authflow/cfg.h"
#include "authflow/rc.h"

struct af_server;
struct af_registry;

/* Changes one run accepts (each keeps the replaced entry in memory). */
#define AF_REG_MAX_CHANGES 10000
/* Clients and users one registry holds. */
#define AF_REG_MAX_ENTRIES 10000

/* af_registry_new: a registry of cfg's clients and users (borrowed: cfg
 * outlives it). Caller frees with af_registry_free. */
af_rc af_registry_new(const struct af_config *cfg, struct af_registry **out) AF_WARN_UNUSED;

/* af_registry_free: every snapshot and entry; NULL is a no-op. No request
 * may be running. */
void af_registry_free(struct af_registry *reg);

/* Lookups. Borrowed, valid while the server lives; NULL if none. A server
 * built by hand (srv->reg NULL, the unit tests) looks in its config. */

/* af_client_find: the client with this client_id (exact). */
const struct af_cfg_client *af_client_find(const struct af_server *srv, const char *id);
/* af_user_by_sub / af_user_by_username: exact match on that one field (a
 * stored sub must name a user by sub only). */
const struct af_cfg_user *af_user_by_sub(const struct af_server *srv, const char *sub);
const struct af_cfg_user *af_user_by_username(const struct af_server *srv, const char *username);
/* af_user_find: what a person typed: by username, then by sub. */
const struct af_cfg_user *af_user_find(const struct af_server *srv, const char *name);
/* af_client_at: the i-th client, as af_user_at. */
const struct af_cfg_client *af_client_at(const struct af_server *srv, size_t i);
/* af_user_at: the i-th user (0-based, in order: the config's, then those
 * added); NULL past the end. Each call reads the current snapshot: a
 * loop over it may see a change halfway, never a freed user. */
const struct af_cfg_user *af_user_at(const struct af_server *srv, size_t i);

/* Changes (the admin API). text[0..len) is a client or user object as in
 * the config file, validated by the config loader's own rules; source names
 * it in messages. A put replaces the entry with the same client_id
 * (username) or adds it (*created). Refused, AF_ERR_INVALID with the
 * reason in err: a user whose sub or username is another user's; a
 * removal that would leave a client of the authorization_code or password
 * grant without users; AF_ERR_TOOBIG past AF_REG_MAX_CHANGES or
 * AF_REG_MAX_ENTRIES. A remove of an unknown id is AF_ERR_NOTFOUND. */
af_rc af_registry_put_client(struct af_registry *reg, const char *text, size_t len,
                             const char *source, const struct af_cfg_client **out, bool *created,
                             struct af_err *err) AF_WARN_UNUSED;
af_rc af_registry_put_user(struct af_registry *reg, const char *text, size_t len,
                           const char *source, const struct af_cfg_user **out, bool *created,
                           struct af_err *err) AF_WARN_UNUSED;
af_rc af_registry_remove_client(struct af_registry *reg, const char *id,
                                struct af_err *err) AF_WARN_UNUSED;
af_rc af_registry_remove_user(struct af_registry *reg, const char *username,
                              struct af_err *err) AF_WARN_UNUSED;

/* af_registry_clients_json / af_registry_users_json: the current entries
 * in the config's form, secrets and passwords left out ("client_secret":
 * present as true/false in "has_secret"). New reference; NULL when memory
 * ran out. */
json_t *af_registry_clients_json(struct af_registry *reg);
json_t *af_registry_users_json(struct af_registry *reg);
json_t *af_client_json(const struct af_cfg_client *c);
json_t *af_user_json(const struct af_cfg_user *u);

#endif
