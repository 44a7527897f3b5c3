/*
 * users.h - the configured users by one field (users.c), the one home of
 * "which user has this sub". Private to src/server/.
 */
#ifndef AUTHFLOW_SERVER_USERS_H
#define AUTHFLOW_SERVER_USERS_H

#include "authflow/cfg.h"

/* af_user_by_sub / af_user_by_username: exact match on that one field
 * (af_cfg_user_find tries both, which a stored sub must not). Borrowed,
 * valid while cfg lives; NULL if none. */
const struct af_cfg_user *af_user_by_sub(const struct af_config *cfg, const char *sub);
const struct af_cfg_user *af_user_by_username(const struct af_config *cfg, const char *username);

#endif
