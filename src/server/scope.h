/*
 * scope.h - scope strings (RFC 6749 §3.3) and what they release (OIDC
 * Core §5.4), one parser for /authorize, /token and the admin API
 * (scope.c). Private to src/server/.
 */
#ifndef AUTHFLOW_SERVER_SCOPE_H
#define AUTHFLOW_SERVER_SCOPE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "authflow/cfg.h"
#include "authflow/rc.h"

/* af_scope_valid: RFC 6749 §3.3 syntax: scope-tokens (%x21 / %x23-5B /
 * %x5D-7E) separated by single spaces; empty is not valid. */
bool af_scope_valid(const char *scope);

/* af_scope_client_allows: scope is valid and each token is in the client's
 * scope list. */
bool af_scope_client_allows(const struct af_cfg_client *client, const char *scope);

typedef enum {
    AF_SCOPE_OK = 0,      /* valid, and the client may ask for every token */
    AF_SCOPE_MALFORMED,   /* a token breaks the syntax (or is empty: a leading,
                             doubled or trailing space; NULL scope) */
    AF_SCOPE_NOT_ALLOWED, /* a well-formed token is not in the client's list */
} af_scope_fault;

/* af_scope_client_check: af_scope_client_allows, telling why not: the
 * tokens are checked in order and the first one at fault decides. *bad
 * gets that token, borrowed from scope (not NUL-terminated), and *bad_len
 * its length; NULL and 0 on AF_SCOPE_OK or for a NULL scope. */
af_scope_fault af_scope_client_check(const struct af_cfg_client *client, const char *scope,
                                     const char **bad, size_t *bad_len);

/* af_scope_client_explain: af_scope_client_check, with the reason of a
 * refusal written to why (len bytes): "scope X is not allowed for client
 * C (allowed: ...)" or "scope is malformed (RFC 6749 3.3)". true when the
 * client may have scope. */
bool af_scope_client_explain(const struct af_cfg_client *client, const char *scope, char *why,
                             size_t len);

/* af_scope_subset: scope is valid and each token is in granted (a
 * space-separated list), e.g. a narrowed refresh (RFC 6749 §6). */
bool af_scope_subset(const char *scope, const char *granted);

/* af_scope_client_default: the client's whole scope list, space-separated.
 * Caller frees with free(); NULL on allocation failure. */
char *af_scope_client_default(const struct af_cfg_client *client);

/* af_claims_release: copy into obj the user's claims that scope releases
 * (OIDC Core §5.4: profile, email, address, phone; any other claim when a
 * scope has its name). obj is borrowed; the values are shared (incref). */
af_rc af_claims_release(const struct af_cfg_user *user, const char *scope,
                        json_t *obj) AF_WARN_UNUSED;

#endif
