/*
 * tls.h - what authflowd's main listener needs to serve https: the
 * certificate and key from the config's files, or a certificate signed at
 * start by the local CA for every name the server is reached by
 * (x509.h does the certificates).
 */
#ifndef AUTHFLOW_SERVER_TLS_H
#define AUTHFLOW_SERVER_TLS_H

#include "authflow/cfg.h"
#include "authflow/rc.h"

/* The PEM text libmicrohttpd takes. Owned by the struct; af_tls_free wipes
 * the key. */
struct af_tls {
    char *cert_pem; /* the server certificate (then its chain) */
    char *key_pem;  /* its private key */
};

/* af_tls_prepare: *out is NULL when cfg serves plain http (no tls.cert_file,
 * no tls.generate). Otherwise the files' pair, checked; or, with
 * tls.generate, a fresh ES256 key and a certificate signed by the local CA
 * (made once at cfg->tls_ca_file) for issuer's host, the host of the
 * listener's origin (unless any: a wildcard bind), localhost, 127.0.0.1, ::1, this machine's host
 * name and tls.names. Logs what it made and where the CA is. Caller frees
 * *out with af_tls_free. */
af_rc af_tls_prepare(const struct af_config *cfg, const char *origin, bool any, const char *issuer,
                     struct af_tls **out, struct af_err *err) AF_WARN_UNUSED;

/* af_tls_free: NULL is a no-op. */
void af_tls_free(struct af_tls *tls);

#endif
