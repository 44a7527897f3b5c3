/*
 * keyfile.c - a signing key that lives in a file: loaded when the file is
 * there, generated and written there once when it is not (the config's
 * keys[].generate), so that a restart keeps the key, its kid and every token
 * signed before it.
 *
 * The file appears whole or not at all: the PEM is written to a temporary
 * file of the same folder (mkstemp: mode 0600, whatever the umask), then
 * published with link(2), which never replaces an existing name. When two
 * processes generate at once, one link wins; the other gets EEXIST, drops
 * its own key and loads the winner's, so both serve the same key. rename(2)
 * would let the second overwrite a key the first already signs with.
 *
 * A file that exists is never replaced, whatever it holds: garbage or a key
 * of the wrong kind is an error naming the file, so a typo in "alg" cannot
 * silently invalidate every token issued so far.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/pem.h>

#include "authflow/jose.h"
#include "jose/jose_int.h"

/* af_jose_make_parents (jose_int.h): create the folders leading to path (mode 0700: they hold
 * private keys), as mkdir -p would. AF_ERR_IO names the folder that could
 * not be made. */
af_rc af_jose_make_parents(const char *path, struct af_err *err)
{
    af_rc rc = AF_OK;
    char *dir = strdup(path);
    char *p;

    if (dir == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (p = strchr(dir + 1, '/'); p != NULL; p = strchr(p + 1, '/')) {
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            rc =
                AF_ERR_SET(err, AF_ERR_IO, "cannot create the folder %s: %s", dir, strerror(errno));
            goto out;
        }
        *p = '/';
    }
out:
    free(dir);
    return rc;
}

/* write_all: fd gets data[0..len) and reaches the disk. */
static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return fsync(fd);
}

af_rc af_jose_file_publish(const char *path, const char *data, size_t len, bool *lost,
                           struct af_err *err)
{
    af_rc rc = AF_OK;
    char *tmp = NULL;
    int fd = -1;
    bool made = false; /* tmp exists and must go */

    *lost = false;
    if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
        tmp = NULL;
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory writing %s", path);
        goto out;
    }
    fd = mkstemp(tmp);
    if (fd < 0) {
        rc =
            AF_ERR_SET(err, AF_ERR_IO, "cannot create a file beside %s: %s", path, strerror(errno));
        goto out;
    }
    made = true;
    if (write_all(fd, data, len) != 0 || close(fd) != 0) {
        fd = -1;
        rc = AF_ERR_SET(err, AF_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (link(tmp, path) != 0) {
        if (errno == EEXIST)
            *lost = true;
        else
            rc = AF_ERR_SET(err, AF_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    }
out:
    if (fd >= 0)
        close(fd);
    if (made)
        unlink(tmp);
    free(tmp);
    return rc;
}

/* publish: write key as PKCS#8 PEM to path (af_jose_file_publish). */
static af_rc publish(const struct af_key *key, const char *path, bool *lost, struct af_err *err)
{
    af_rc rc;
    BIO *mem = BIO_new(BIO_s_secmem());
    char *pem;
    long len;

    *lost = false;
    if (mem == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory writing %s", path);
        goto out;
    }
    if (PEM_write_bio_PrivateKey(mem, key->pkey, NULL, NULL, 0, NULL, NULL) != 1) {
        rc = AF_ERR_SET(err, AF_ERR_CRYPTO, "cannot encode the %s key for %s",
                        af_alg_name(key->alg), path);
        goto out;
    }
    len = BIO_get_mem_data(mem, &pem);
    rc = af_jose_file_publish(path, pem, (size_t)len, lost, err);
out:
    BIO_free(mem);
    return rc;
}

af_rc af_key_load_or_create(const char *path, af_alg alg, struct af_key **out, bool *created,
                            struct af_err *err)
{
    struct af_key *key = NULL;
    bool lost = false;
    af_rc rc;

    *out = NULL;
    *created = false;
    if (access(path, F_OK) == 0 || errno != ENOENT) {
        rc = af_key_load_pem(path, alg, out, err);
        goto out;
    }
    if (alg == AF_ALG_HS256 || alg == AF_ALG_NONE || alg == AF_ALG_UNKNOWN) {
        rc = AF_ERR_SET(err, AF_ERR_INVALID, "alg %s has no PEM private key", af_alg_name(alg));
        goto out;
    }
    rc = af_jose_make_parents(path, err);
    if (rc != AF_OK)
        goto out;
    rc = af_key_generate(alg, &key, err);
    if (rc != AF_OK)
        goto out;
    rc = publish(key, path, &lost, err);
    if (rc != AF_OK)
        goto out;
    if (lost) {
        rc = af_key_load_pem(path, alg, out, err);
        goto out;
    }
    *out = key;
    key = NULL;
    *created = true;
out:
    af_key_free(key);
    return rc;
}
