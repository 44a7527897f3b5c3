/*
 * tls.c - the main listener's certificate (tls.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "authflow/jose.h"
#include "authflow/log.h"
#include "authflow/x509.h"
#include "server/tls.h"

/* names_add: s into names (n of them so far) unless it is there already,
 * or empty, or the list is full. s is borrowed. */
static void names_add(const char **names, size_t *n, const char *s)
{
    size_t i;

    if (s == NULL || s[0] == '\0' || *n >= AF_X509_MAX_NAMES)
        return;
    for (i = 0; i < *n; i++) {
        if (strcasecmp(names[i], s) == 0)
            return;
    }
    names[(*n)++] = s;
}

/* url_host: the host of an absolute http(s) URL into buf (an IPv6 literal
 * without its brackets); "" when there is none. */
static void url_host(const char *url, char *buf, size_t cap)
{
    const char *h = strstr(url, "://");
    size_t len;

    buf[0] = '\0';
    if (h == NULL)
        return;
    h += 3;
    if (*h == '[') {
        h++;
        len = strcspn(h, "]");
    } else {
        len = strcspn(h, ":/");
    }
    if (len < cap) {
        memcpy(buf, h, len);
        buf[len] = '\0';
    }
}

/* generated: a fresh key and a certificate for every name, signed by the
 * local CA. */
static af_rc generated(const struct af_config *cfg, const char **names, size_t n,
                       struct af_tls *tls, struct af_err *err)
{
    af_rc rc;
    struct af_key *ca = NULL, *leaf = NULL;
    char *ca_pem = NULL;
    bool created = false;
    char list[1024];
    size_t i, used = 0;

    rc = af_x509_ca_load_or_create(cfg->tls_ca_file, cfg->tls_ca_key_file, &ca, &ca_pem, &created,
                                   err);
    if (rc != AF_OK)
        goto out;
    if (created)
        af_log_info("tls: made a local CA; clients trust authflowd's certificates with %s",
                    cfg->tls_ca_file);
    rc = af_key_generate(AF_ALG_ES256, &leaf, err);
    if (rc != AF_OK)
        goto out;
    rc = af_x509_issue(ca, ca_pem, leaf, names, n, AF_X509_LEAF_LIFETIME, &tls->cert_pem, err);
    if (rc != AF_OK)
        goto out;
    rc = af_key_private_pem(leaf, &tls->key_pem);
    if (rc != AF_OK) {
        AF_ERR_SET(err, rc, "cannot encode the server certificate's key");
        goto out;
    }
    list[0] = '\0';
    for (i = 0; i < n && used < sizeof(list); i++) {
        int w = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", names[i]);
        used += w > 0 ? (size_t)w : 0;
    }
    af_log_info("tls: serving a certificate for %s, signed by the local CA %s", list,
                cfg->tls_ca_file);
out:
    af_key_free(ca);
    af_key_free(leaf);
    free(ca_pem);
    return rc;
}

af_rc af_tls_prepare(const struct af_config *cfg, const char *origin, bool any, const char *issuer,
                     struct af_tls **out, struct af_err *err)
{
    af_rc rc = AF_OK;
    struct af_tls *tls = NULL;
    const char *names[AF_X509_MAX_NAMES];
    char issuer_host[256], listen_host[256], hostname[256];
    size_t n = 0, i;

    *out = NULL;
    if (cfg->tls_cert_file == NULL && !cfg->tls_generate)
        goto out;
    tls = calloc(1, sizeof(*tls));
    if (tls == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (cfg->tls_cert_file != NULL) {
        rc = af_x509_load_pair(cfg->tls_cert_file, cfg->tls_key_file, &tls->cert_pem, &tls->key_pem,
                               err);
        if (rc == AF_OK)
            af_log_info("tls: serving the certificate in %s", cfg->tls_cert_file);
        goto out;
    }
    /* the names a client can reach the server by, the issuer's first:
     * the certificate's subject is the name the issuer uses */
    url_host(issuer, issuer_host, sizeof(issuer_host));
    url_host(origin, listen_host, sizeof(listen_host));
    names_add(names, &n, issuer_host);
    if (!any)
        names_add(names, &n, listen_host);
    names_add(names, &n, "localhost");
    names_add(names, &n, "127.0.0.1");
    names_add(names, &n, "::1");
    /* a container's host name is how its neighbours often reach it */
    if (gethostname(hostname, sizeof(hostname)) == 0) {
        hostname[sizeof(hostname) - 1] = '\0';
        if (strchr(hostname, '_') == NULL)
            names_add(names, &n, hostname);
    }
    for (i = 0; i < cfg->tls_names.n; i++)
        names_add(names, &n, cfg->tls_names.v[i]);
    rc = generated(cfg, names, n, tls, err);
out:
    if (rc == AF_OK) {
        *out = tls;
        tls = NULL;
    }
    af_tls_free(tls);
    return rc;
}

void af_tls_free(struct af_tls *tls)
{
    if (tls == NULL)
        return;
    free(tls->cert_pem);
    af_x509_secret_free(tls->key_pem);
    free(tls);
}
