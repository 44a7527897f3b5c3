/*
 * x509.h - the certificates of authflowd's HTTPS listener: a pair of PEM
 * files given in the config, checked before use, or a local certificate
 * authority made once (its certificate is the file clients trust) and a
 * server certificate it signs at every start for the names served.
 *
 * OpenSSL does the ASN.1 and the signatures; only the choice of fields is
 * written here.
 */
#ifndef AUTHFLOW_X509_H
#define AUTHFLOW_X509_H

#include <stdbool.h>
#include <stddef.h>

#include "authflow/jose.h"
#include "authflow/rc.h"

/* The largest certificate or key file read (a long chain fits). */
#define AF_X509_PEM_MAX (256 * 1024)
/* A local CA lives ten years; the server certificates it signs 397 days,
 * under the 398 days browsers accept, and are made anew at every start. */
#define AF_X509_CA_LIFETIME   (10L * 365 * 24 * 3600)
#define AF_X509_LEAF_LIFETIME (397L * 24 * 3600)
/* The names one server certificate can carry. */
#define AF_X509_MAX_NAMES 16

/* af_x509_load_pair: read cert_file (PEM: the server certificate first,
 * then any intermediates) and key_file (an unencrypted PEM private key) and
 * check that the key is the certificate's. On success *cert_pem and
 * *key_pem hold the files' text (the caller frees *cert_pem with free()
 * and *key_pem with af_x509_secret_free()). Every error names the file and
 * what is wrong with it. */
af_rc af_x509_load_pair(const char *cert_file, const char *key_file, char **cert_pem,
                        char **key_pem, struct af_err *err) AF_WARN_UNUSED;

/* af_x509_ca_load_or_create: the local CA. Its key lives at key_path (an
 * ES256 key, made once as af_key_load_or_create makes one), its
 * certificate at cert_path (self-signed, CA:TRUE, AF_X509_CA_LIFETIME;
 * written once, never replaced, as the key is). A certificate file that
 * does not hold key_path's key, or that has expired, is AF_ERR_INVALID
 * naming both files. *created is true when the certificate was written
 * now. The caller owns *ca_key (af_key_free) and *ca_pem (free). */
af_rc af_x509_ca_load_or_create(const char *cert_path, const char *key_path, struct af_key **ca_key,
                                char **ca_pem, bool *created, struct af_err *err) AF_WARN_UNUSED;

/* af_x509_issue: a server certificate for leaf's public half, signed by
 * ca_key whose certificate is ca_pem: subject CN names[0], every name in
 * the subjectAltName (an IPv4 or IPv6 literal as an IP address, anything
 * else as a DNS name: letters, digits, '-', '.' and a leading "*." only),
 * serverAuth, a random serial, valid from a minute ago for lifetime s.
 * 1..AF_X509_MAX_NAMES names. Caller frees *out (PEM) with free(). */
af_rc af_x509_issue(const struct af_key *ca_key, const char *ca_pem, const struct af_key *leaf,
                    const char *const *names, size_t n, long lifetime, char **out,
                    struct af_err *err) AF_WARN_UNUSED;

/* af_key_private_pem: key's private half as unencrypted PKCS#8 PEM, for a
 * TLS library that takes keys as text. Caller frees *out with
 * af_x509_secret_free(). AF_ERR_INVALID for a public-only or HS256 key. */
af_rc af_key_private_pem(const struct af_key *key, char **out) AF_WARN_UNUSED;

/* af_x509_secret_free: wipe and free a string that holds a private key.
 * NULL is a no-op. */
void af_x509_secret_free(char *s);

#endif
