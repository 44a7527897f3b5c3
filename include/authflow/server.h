/*
 * server.h - authflowd's HTTP server: start it over a loaded config, learn
 * its port and issuer, stop it.
 */
#ifndef AUTHFLOW_SERVER_H
#define AUTHFLOW_SERVER_H

#include "authflow/cfg.h"
#include "authflow/rc.h"

struct af_server; /* opaque */

struct af_server_opts {
    const char *listen;       /* "ADDR:PORT" overriding cfg->listen; NULL keeps it */
    const char *issuer;       /* overriding cfg->issuer; NULL keeps it */
    const char *admin_listen; /* "ADDR:PORT": serve the admin API there, whatever
                                 cfg->admin_enabled says; NULL keeps the config */
};

/* af_server_start: generate or load the keys (writing the missing files of
 * keys[].generate), bind, and serve on worker threads; with the admin API
 * on, bind and serve its listener too. cfg is borrowed and must outlive the
 * server. opts may be NULL. A busy port is AF_ERR_IO with the address in
 * err; a non-loopback admin address without cfg->admin_allow_remote (or
 * without a secret) is AF_ERR_INVALID; a key file that cannot be read or
 * written, or holds no key fitting its alg, names the file in err
 * ("SOURCE: keys[N]: FILE..."). Caller stops and frees the server with
 * af_server_stop(). */
af_rc af_server_start(const struct af_config *cfg, const struct af_server_opts *opts,
                      struct af_server **out, struct af_err *err) AF_WARN_UNUSED;

/* af_server_check_config: the checks of cfg only the server can make, for
 * authflowd --check-config: the names of the queued "scenarios" against
 * its scenario table (AF_ERR_INVALID with "FILE: scenarios[N].name: ..." in
 * err), and every key file that exists must hold a key fitting its alg
 * (AF_ERR_PARSE or AF_ERR_INVALID with "FILE: keys[N]: PEM: ..."). Writes
 * nothing: a missing file of keys[].generate passes, af_server_start
 * writes it. af_server_start fails on all of these too, so a caller may
 * start first and ask this only to classify a failure. */
af_rc af_server_check_config(const struct af_config *cfg, struct af_err *err) AF_WARN_UNUSED;

/* af_server_port: the bound TCP port (useful after binding port 0). */
unsigned short af_server_port(const struct af_server *srv);

/* af_server_issuer: borrowed, valid while srv lives. */
const char *af_server_issuer(const struct af_server *srv);

/* af_server_issuer_at: the issuer URL of the i-th element of the config's
 * "issuers" (docs/issuers.md): the top level's plus its path, or, with a
 * listen address of its own, that address's origin; NULL past the last.
 * Borrowed, valid while srv lives. */
const char *af_server_issuer_at(const struct af_server *srv, size_t i);

/* af_server_admin_port: the admin API's bound port; 0 when it is off. */
unsigned short af_server_admin_port(const struct af_server *srv);

/* af_server_admin_url: the admin API's base URL ("http://127.0.0.1:9001",
 * its routes are under /admin/), borrowed, valid while srv lives; NULL
 * when it is off. */
const char *af_server_admin_url(const struct af_server *srv);

/* af_server_stop: stop accepting, let in-flight requests finish, free all.
 * NULL is a no-op. */
void af_server_stop(struct af_server *srv);

#endif
