/*
 * admin.h - what the admin API's handlers share (h_admin.c,
 * h_admin_scen.c): the gate server.c runs before any admin route, JSON
 * bodies and answers. Private to src/server/.
 */
#ifndef AUTHFLOW_SERVER_ADMIN_H
#define AUTHFLOW_SERVER_ADMIN_H

#include <stdbool.h>

#include <jansson.h>

#include "authflow/rc.h"
#include "server/http_req.h"

/* A second MHD daemon on admin.listen (loopback unless admin.allow_remote)
 * with a route table of its own, paths under /admin/. Every answer is
 * JSON; when admin.secret is set, server.c runs af_admin_authorized, which
 * checks "Authorization: Bearer <secret>" (af_ct_streq), before any route. Admin handlers see the
 * same struct af_req / struct af_resp as the others; the JSON body is in
 * req->body, capped at AF_ADMIN_MAX_BODY.
 */

#define AF_ADMIN_REALM    "authflow-admin"
#define AF_ADMIN_MAX_BODY (16 * 1024) /* a mint request; keeps the token below AF_JWS_MAX_LEN */

/* af_admin_error: the admin API's error answer, {"error": error,
 * "error_description": the formatted text} with no-store; the text names
 * the request member at fault ("ttl: ..."). */
void af_admin_error(struct af_resp *resp, unsigned status, const char *error, const char *fmt, ...)
    AF_PRINTF(4, 5);

/* af_admin_authorized: the admin API's gate, run by server.c before any
 * admin route. First the Host header must name the API: an IP address,
 * localhost, a name under .localhost or one of admin.hosts (any port);
 * otherwise false and resp holds a 421 (DNS rebinding). With admin.secret set, every admin request
 * carries "Authorization: Bearer <secret>" (RFC 6750 §2.1), compared in constant time; otherwise
 * false, and resp holds the 401. true when the Host is allowed and there is no secret or it matched
 * (resp untouched). */
bool af_admin_authorized(struct af_req *req, struct af_resp *resp);

/* af_admin_reply: the admin API's answer o with no-store, or 500
 * server_error when o is NULL (a failed json_pack). Takes o: a new
 * reference, released here. */
void af_admin_reply(struct af_resp *resp, unsigned status, json_t *o);

/* af_admin_only_params: true when every query parameter is one of names
 * (NULL-terminated) and none is repeated; else false, and resp holds the
 * 400 naming the parameter (expected: the names, for the message). */
bool af_admin_only_params(const struct af_params *q, const char *const *names, const char *expected,
                          struct af_resp *resp);

/* af_admin_is_json: the Content-Type is application/json (parameters allowed). */
bool af_admin_is_json(const char *ctype);

/* af_admin_json_body: the request body of an admin POST as a JSON object:
 * a new reference the caller releases with json_decref(). NULL when resp
 * holds the error answer (415 for another Content-Type, 400 for a body
 * that is not JSON, has a duplicate member or is not an object). */
json_t *af_admin_json_body(struct af_req *req, struct af_resp *resp);

#endif
