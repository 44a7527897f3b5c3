/*
 * clientauth.h - the credentials a request carries (clientauth.c): client
 * authentication (RFC 6749 §2.3.1), Basic and Bearer Authorization
 * headers, and the common front of the client-authenticated POST
 * endpoints. Private to src/server/.
 */
#ifndef AUTHFLOW_SERVER_CLIENTAUTH_H
#define AUTHFLOW_SERVER_CLIENTAUTH_H

#include <stdbool.h>

#include "authflow/cfg.h"
#include "authflow/jose.h"
#include "authflow/rc.h"
#include "server/http_req.h"

typedef enum {
    AF_CA_OK = 0,
    AF_CA_INVALID_REQUEST, /* malformed: two methods at once, bad Basic header */
    AF_CA_INVALID_CLIENT,  /* unknown client, wrong secret, no auth for a confidential client */
} af_ca_result;

/* The room a reason of af_client_authenticate needs. */
#define AF_CA_WHY_MAX 320

/* af_client_authenticate: RFC 6749 §2.3.1 over the request's Authorization
 * header and form body. *client gets the borrowed client on AF_CA_OK;
 * *used_basic tells whether Basic was attempted (401 + WWW-Authenticate
 * Basic is due then). Otherwise why (why_len bytes, AF_CA_WHY_MAX is ample)
 * says precisely what is wrong, naming the client and the methods but
 * never a secret: "unknown client X", "wrong secret for client X", "client
 * X sent client_secret_post but is registered for client_secret_basic". */
af_ca_result af_client_authenticate(struct af_req *req, const struct af_cfg_client **client,
                                    bool *used_basic, char *why, size_t why_len);

/* af_client_auth_name: the RFC 7591 name of a token_endpoint_auth_method
 * (AF_AUTH_*). */
const char *af_client_auth_name(af_client_auth m);

typedef enum {
    AF_BEARER_OK,        /* *token_out holds the token */
    AF_BEARER_ABSENT,    /* no header, or another scheme: no credentials (RFC 6750 §3) */
    AF_BEARER_MALFORMED, /* "Bearer" with a missing or malformed token: invalid_request */
} af_bearer_result;

/* af_bearer_parse: RFC 6750 §2.1 over an Authorization header value (may be
 * NULL); the scheme is case-insensitive. On AF_BEARER_OK the caller frees
 * *token_out with free(); otherwise it is NULL. */
af_bearer_result af_bearer_parse(const char *authorization, char **token_out);

/* af_auth_scheme_match: when the Authorization header value hdr (leading
 * spaces and tabs skipped) uses auth-scheme scheme, compared
 * case-insensitively (RFC 7235 §2.1), what follows the scheme with its
 * separating spaces skipped: borrowed from hdr, "" when nothing follows.
 * NULL when hdr is NULL or names another scheme ("Bearerx" is another
 * scheme: the name goes on with a tchar, RFC 7230 §3.2.6). Any other
 * character right after the scheme (a tab, a comma) is left at the start of
 * the result for the caller's token68 check to refuse. */
const char *af_auth_scheme_match(const char *hdr, const char *scheme);

/* The longest Authorization header value af_bearer_parse accepts: a JWS cap
 * plus the scheme. Longer ones are AF_BEARER_MALFORMED. */
#define AF_BEARER_HDR_MAX (AF_JWS_MAX_LEN + 64)

/* The longest Authorization header value af_basic_parse accepts: ample for
 * a client id and secret, small enough to bound the decoding work. */
#define AF_BASIC_HDR_MAX 2048

/* af_basic_parse: client credentials from an Authorization header value
 * (RFC 6749 §2.3.1 over RFC 7617 §2): "Basic" (case-insensitive), one or
 * more spaces, then canonical padded base64 (RFC 4648 §4: '=' only at the
 * end, unused bits zero, no whitespace) of form-urlencoded client_id, ':',
 * form-urlencoded secret; both halves are decoded (malformed escapes, NUL
 * and invalid UTF-8 refused). Returns AF_ERR_NOTFOUND for NULL or another
 * scheme, AF_ERR_TOOBIG past AF_BASIC_HDR_MAX (checked first, whatever the
 * scheme), AF_ERR_PARSE when malformed. On AF_OK the caller frees *id_out
 * and *secret_out with free() (wiping the secret first); otherwise both
 * are NULL. */
af_rc af_basic_parse(const char *authorization, char **id_out, char **secret_out) AF_WARN_UNUSED;

/* af_client_request_check: the common front of /token, /introspect and
 * /revoke (all RFC 6749 §2.3 client-authenticated POST endpoints): POST
 * only (else 405 + Allow), form content type, no credential in the URL
 * query, no duplicated parameter, then af_client_authenticate. Returns true
 * with *client set (borrowed) when the handler may go on; otherwise resp
 * holds the error answer (401 invalid_client with WWW-Authenticate Basic,
 * or 400/405 invalid_request). Adds no Cache-Control: the caller does. */
bool af_client_request_check(struct af_req *req, struct af_resp *resp,
                             const struct af_cfg_client **client);

/* af_client_token_check: af_client_request_check, then the "token" form
 * parameter that /introspect (RFC 7662 §2.1) and /revoke (RFC 7009 §2.1)
 * require. Returns the token, borrowed from req->form (valid while req
 * lives), with *client set; NULL when resp holds the error answer (an
 * absent or empty token is 400 invalid_request). */
const char *af_client_token_check(struct af_req *req, struct af_resp *resp,
                                  const struct af_cfg_client **client);

#endif
