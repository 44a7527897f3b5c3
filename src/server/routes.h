/*
 * routes.h - the endpoints: their paths and handlers, one h_*.c file each;
 * server.c's route tables bind them (the provider's and the admin API's).
 * Private to src/server/.
 */
#ifndef AUTHFLOW_SERVER_ROUTES_H
#define AUTHFLOW_SERVER_ROUTES_H

#include "authflow/proto.h"
#include "authflow/rc.h"
#include "server/http_req.h"

typedef void (*af_handler)(struct af_req *req, struct af_resp *resp);

void af_h_discovery(struct af_req *req, struct af_resp *resp); /* both well-known docs */
struct af_doc;
struct af_keyset;
/* af_h_discovery_build: srv's metadata document for the key set ks,
 * serialised (new reference in *out); srv's config and issuer must be set.
 * The key ring calls it for every set it publishes (af_keyring_set_meta). */
af_rc af_h_discovery_build(const struct af_server *srv, const struct af_keyset *ks,
                           struct af_doc **out) AF_WARN_UNUSED;
void af_h_jwks(struct af_req *req, struct af_resp *resp);
void af_h_healthz(struct af_req *req, struct af_resp *resp);
void af_h_authorize(struct af_req *req, struct af_resp *resp); /* GET and POST */
void af_h_login(struct af_req *req, struct af_resp *resp);     /* POST /login (form) */
void af_h_token(struct af_req *req, struct af_resp *resp);
void af_h_userinfo(struct af_req *req, struct af_resp *resp);
void af_h_introspect(struct af_req *req, struct af_resp *resp);
void af_h_revoke(struct af_req *req, struct af_resp *resp);
void af_h_logout(struct af_req *req, struct af_resp *resp);

/* Paths (relative to the issuer). */
#define AF_EP_AUTHORIZE  "/authorize"
#define AF_EP_LOGIN      "/login"
#define AF_EP_TOKEN      "/token"
#define AF_EP_USERINFO   "/userinfo"
#define AF_EP_INTROSPECT "/introspect"
#define AF_EP_REVOKE     "/revoke"
#define AF_EP_LOGOUT     "/logout"
#define AF_EP_JWKS       "/jwks"
#define AF_EP_HEALTHZ    "/healthz"

/* The admin API's paths (docs/admin.md), on its own listener. */
#define AF_ADMIN_HEALTHZ      AF_ADMIN_PATH_HEALTHZ
#define AF_ADMIN_TOKENS       AF_ADMIN_PATH_TOKENS
#define AF_ADMIN_SCENARIOS    AF_ADMIN_PATH_SCENARIOS
#define AF_ADMIN_LEDGER       AF_ADMIN_PATH_LEDGER
#define AF_ADMIN_CLIENTS      AF_ADMIN_PATH_CLIENTS
#define AF_ADMIN_USERS        AF_ADMIN_PATH_USERS
#define AF_ADMIN_KEYS         AF_ADMIN_PATH_KEYS
#define AF_ADMIN_KEYS_SIGNING AF_ADMIN_PATH_KEYS_SIGNING
#define AF_ADMIN_FINDINGS     AF_ADMIN_PATH_FINDINGS
#define AF_ADMIN_INSPECTOR    AF_ADMIN_PATH_INSPECTOR

void af_h_admin_healthz(struct af_req *req, struct af_resp *resp);
void af_h_admin_tokens(struct af_req *req, struct af_resp *resp);       /* POST: mint */
void af_h_admin_scenarios(struct af_req *req, struct af_resp *resp);    /* GET, POST, DELETE */
void af_h_admin_ledger(struct af_req *req, struct af_resp *resp);       /* GET, DELETE */
void af_h_admin_clients(struct af_req *req, struct af_resp *resp);      /* GET, POST, DELETE */
void af_h_admin_users(struct af_req *req, struct af_resp *resp);        /* GET, POST, DELETE */
void af_h_admin_keys(struct af_req *req, struct af_resp *resp);         /* GET, POST, DELETE */
void af_h_admin_keys_signing(struct af_req *req, struct af_resp *resp); /* POST */
void af_h_admin_findings(struct af_req *req, struct af_resp *resp);     /* GET */
void af_h_admin_inspector(struct af_req *req, struct af_resp *resp);    /* GET: the HTML page */

#endif
