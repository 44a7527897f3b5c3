/*
 * front_channel.h - what the browser-facing endpoints share (h_authorize.c,
 * used by h_logout.c too): redirect URIs with parameters and the login
 * session cookie. Private to src/server/.
 */
#ifndef AUTHFLOW_SERVER_FRONT_CHANNEL_H
#define AUTHFLOW_SERVER_FRONT_CHANNEL_H

#include <stdbool.h>

#include "authflow/buf.h"
#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/http_req.h"

struct af_server; /* core.h */

/* The login session cookie set by POST /login and read by /authorize. */
#define AF_SESSION_COOKIE "authflow_session"
/* The login page's cookie: a random value the form's AF_LOGIN_CSRF field is
 * bound to (login CSRF). */
#define AF_LOGIN_COOKIE "authflow_login"

/* What an error page about a redirect URI that is not registered advises
 * (redirect_uri, post_logout_redirect_uri). */
#define AF_HINT_EXACT_URI                                                                          \
    "The match is exact, byte for byte (RFC 9700 §2.1): scheme, host, port, path, query and "     \
    "trailing slash included."
/* The same for a native client (application_type "native"). */
#define AF_HINT_NATIVE_URI                                                                         \
    "The match is exact, byte for byte, except that an http URI on 127.0.0.1 or [::1] may name "   \
    "any port (RFC 8252 §7.3); scheme, host, path and query must still be identical."

/* af_uri_add_params: append uri with p added: to its query with '?' or,
 * when uri already has a query, '&' (RFC 6749 §3.1.2 keeps that query), or
 * with fragment set as its fragment. A fragment of uri itself is dropped.
 * p may be NULL or empty (uri is appended as it is). */
af_rc af_uri_add_params(struct af_buf *out, const char *uri, const struct af_params *p,
                        bool fragment) AF_WARN_UNUSED;

/* af_cookie_name: srv's name for cookie base (AF_SESSION_COOKIE or
 * AF_LOGIN_COOKIE): base itself at the top level and in a server built by
 * hand, else the issuer's own (core.h: docs/issuers.md). Borrowed, valid
 * while srv lives. */
const char *af_cookie_name(const struct af_server *srv, const char *base);

/* af_session_cookie_set: add the Set-Cookie header for login session sid
 * (af_cookie_name; Path= the issuer's path, "/" at the top level,
 * HttpOnly, SameSite=Lax, and Secure when the issuer is https).
 * af_session_cookie_clear: one that expires it. */
void af_session_cookie_set(struct af_resp *resp, const struct af_server *srv, const char *sid);
void af_session_cookie_clear(struct af_resp *resp, const struct af_server *srv);

#endif
