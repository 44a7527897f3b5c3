/*
 * consent.h - a persona's consent rules (persona.h, docs/personas.md):
 * what a user granted a client before decides what a new authorization
 * brings. Google's: a refresh token only when the request asks for offline
 * access, and then only on the client's first offline consent of that user
 * or when the request makes the user consent again (prompt=consent); the
 * scopes granted before join the new grant when the request asks for them
 * (include_granted_scopes=true); prompt=none, which shows no consent
 * screen, grants only what was consented to before. The store remembers,
 * per client and user, every scope granted and whether an offline grant
 * was consented to (store.h: af_consent_*), for lifetimes.refresh_token
 * from the last consent. Private to src/server/.
 */
#ifndef AUTHFLOW_SERVER_CONSENT_H
#define AUTHFLOW_SERVER_CONSENT_H

#include <stdbool.h>

#include "authflow/cfg.h"
#include "authflow/rc.h"
#include "server/http_req.h"

struct af_server; /* core.h */

/* af_consent_grant: the user is granting client the authorization request
 * in (its parameters under their standard names, the persona's own as
 * sent; borrowed) with the scope *scope (owned, space-separated). For a
 * persona with consent rules: *scope may be replaced by a wider one (the
 * old one freed), *no_refresh tells whether the code must bring no
 * refresh token, and the consent is remembered. For a persona without
 * rules nothing changes and *no_refresh is false. AF_ERR_STATE: the
 * request has prompt=none but asks for a scope, or offline access, that
 * the user has not consented to before (the caller answers
 * consent_required); on that and any other failure *scope is left as it
 * was and nothing is remembered. */
af_rc af_consent_grant(struct af_server *srv, const struct af_params *in,
                       const struct af_cfg_client *client, const struct af_cfg_user *user,
                       char **scope, bool *no_refresh) AF_WARN_UNUSED;

/* af_consent_forget: the grant of sub to client_id was revoked: for a
 * persona with consent rules, its next offline authorization counts as a
 * first consent again. Otherwise a no-op. */
void af_consent_forget(struct af_server *srv, const char *client_id, const char *sub);

#endif
