/*
 * doc.c - immutable, reference-counted response bodies with a strong ETag
 * (doc.h), and the If-None-Match comparison.
 */
#include "config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "authflow/buf.h"
#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/doc.h"

/* The ETag keeps this many bytes of the SHA-256: 128 bits are plenty to
 * tell two key sets apart, and 22 characters keep the header short. */
#define DOC_ETAG_BYTES 16

struct af_doc {
    int refs; /* atomic access only */
    size_t len;
    char etag[AF_DOC_ETAG_MAX];
    char bytes[]; /* len bytes, then NUL */
};

af_rc af_doc_new(const char *bytes, size_t len, struct af_doc **out)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    struct af_doc *d = malloc(sizeof(*d) + len + 1);
    struct af_buf tag;
    af_rc rc = AF_ERR_NOMEM;

    *out = NULL;
    af_buf_init(&tag, AF_DOC_ETAG_MAX);
    if (d == NULL)
        goto out;
    d->refs = 1;
    d->len = len;
    memcpy(d->bytes, bytes, len);
    d->bytes[len] = '\0';
    if (SHA256((const unsigned char *)bytes, len, md) == NULL) {
        rc = AF_ERR_CRYPTO;
        goto out;
    }
    rc = af_buf_addc(&tag, '"');
    if (rc == AF_OK)
        rc = af_b64url_encode(&tag, md, DOC_ETAG_BYTES);
    if (rc == AF_OK)
        rc = af_buf_addc(&tag, '"');
    if (rc != AF_OK)
        goto out;
    memcpy(d->etag, tag.p, tag.len + 1);
    *out = d;
    d = NULL;
out:
    af_buf_free(&tag);
    free(d);
    return rc;
}

af_rc af_doc_from_json(const json_t *obj, struct af_doc **out)
{
    char *s = json_dumps(obj, JSON_COMPACT | JSON_ENCODE_ANY);
    af_rc rc;

    *out = NULL;
    if (s == NULL)
        return AF_ERR_NOMEM;
    rc = af_doc_new(s, strlen(s), out);
    free(s);
    return rc;
}

struct af_doc *af_doc_ref(struct af_doc *doc)
{
    if (doc != NULL)
        __atomic_add_fetch(&doc->refs, 1, __ATOMIC_RELAXED);
    return doc;
}

void af_doc_release(struct af_doc *doc)
{
    if (doc != NULL && __atomic_sub_fetch(&doc->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(doc);
}

void af_doc_release_bytes(void *bytes)
{
    if (bytes != NULL)
        af_doc_release((struct af_doc *)((char *)bytes - offsetof(struct af_doc, bytes)));
}

const char *af_doc_bytes(const struct af_doc *doc)
{
    return doc->bytes;
}

size_t af_doc_len(const struct af_doc *doc)
{
    return doc->len;
}

const char *af_doc_etag(const struct af_doc *doc)
{
    return doc->etag;
}

static const char *skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* etagc (RFC 9110 §8.8.3): %x21 / %x23-7E / obs-text */
static bool is_etagc(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c != 0x7f);
}

bool af_etag_list_matches(const char *field, const char *etag)
{
    size_t elen = strlen(etag);
    const char *p, *tag;
    bool hit = false;

    if (field == NULL)
        return false;
    p = skip_ows(field);
    if (*p == '*')
        return *skip_ows(p + 1) == '\0';
    /* #entity-tag (§5.6.1): empty elements and OWS around commas allowed */
    while (*p != '\0') {
        if (*p == ',') {
            p = skip_ows(p + 1);
            continue;
        }
        if (p[0] == 'W' && p[1] == '/')
            p += 2; /* weak comparison: the opaque tags alone */
        if (*p != '"')
            return false;
        tag = p++;
        while (is_etagc((unsigned char)*p))
            p++;
        if (*p != '"')
            return false;
        p++;
        hit = hit || ((size_t)(p - tag) == elen && memcmp(tag, etag, elen) == 0);
        p = skip_ows(p);
        if (*p != ',' && *p != '\0')
            return false;
    }
    return hit;
}
