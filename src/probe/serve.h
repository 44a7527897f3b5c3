/*
 * serve.h - a loopback HTTP server the probe runs for one check: it serves
 * the documents an attacker would put at a URL of its own (the JWK set of a
 * jku, the certificate of an x5u) and records who fetched them, so that a
 * check can tell whether the API under test went and got them
 * (docs/suite-format.md, "forge" steps; docs/api-suite.md, API-27).
 * Private to src/probe/.
 */
#ifndef AUTHFLOW_PROBE_SERVE_H
#define AUTHFLOW_PROBE_SERVE_H

#include "authflow/rc.h"

/* Limits: documents one server holds, requests its log keeps (the count
 * goes on past it), connections at once, seconds a connection may idle. */
#define AF_SERVE_MAX_DOCS     4
#define AF_SERVE_MAX_LOGGED   16
#define AF_SERVE_MAX_CONNS    8
#define AF_SERVE_CONN_TIMEOUT 5

struct af_serve;

/* af_serve_start: listen on 127.0.0.1, a port the system picks, under a
 * path prefix of 128 random bits (nobody finds a document without being
 * given its URL). *out is the server (caller stops it with
 * af_serve_stop). AF_ERR_IO (err says why) when it cannot listen. */
af_rc af_serve_start(struct af_serve **out, struct af_err *err) AF_WARN_UNUSED;

/* af_serve_url: the URL at which af_serve_put(s, name, ...) serves,
 * known before the document is (a token names it, the document holds the
 * key that signed the token). Caller frees *out. */
af_rc af_serve_url(const struct af_serve *s, const char *name, char **out) AF_WARN_UNUSED;

/* af_serve_put: answer GET PREFIX/name with body (copied) as ctype.
 * AF_ERR_TOOBIG past AF_SERVE_MAX_DOCS. */
af_rc af_serve_put(struct af_serve *s, const char *name, const char *ctype,
                   const char *body) AF_WARN_UNUSED;

/* af_serve_log_url: the URL of the server's log, PREFIX/log: a JSON
 * object {"count": N, "requests": [{"method", "path", "user_agent"}]}
 * of every request made to it except those for the log itself (at most
 * AF_SERVE_MAX_LOGGED listed). Borrowed, valid until af_serve_stop. */
const char *af_serve_log_url(const struct af_serve *s);

/* af_serve_stop: stop listening, close every connection, free. NULL is a
 * no-op. */
void af_serve_stop(struct af_serve *s);

#endif
