/*
 * users.c - the configured users looked up by one field. A stored sub (in a
 * code, a token, a session) names a user by sub only: af_cfg_user_find,
 * which also tries the username, is for what a person typed.
 */
#include "config.h"

#include <string.h>

#include "authflow/cfg.h"
#include "server/users.h"

const struct af_cfg_user *af_user_by_sub(const struct af_config *cfg, const char *sub)
{
    size_t i;
    if (sub == NULL)
        return NULL;
    for (i = 0; i < cfg->nusers; i++) {
        if (strcmp(cfg->users[i].sub, sub) == 0)
            return &cfg->users[i];
    }
    return NULL;
}

const struct af_cfg_user *af_user_by_username(const struct af_config *cfg, const char *username)
{
    size_t i;
    if (username == NULL)
        return NULL;
    for (i = 0; i < cfg->nusers; i++) {
        if (cfg->users[i].username != NULL && strcmp(cfg->users[i].username, username) == 0)
            return &cfg->users[i];
    }
    return NULL;
}
