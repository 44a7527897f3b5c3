/*
 * doc.h - response bodies serialised once and shared by every request that
 * sends them: the metadata document and the key set (h_discovery.c). A
 * struct af_doc is immutable and reference-counted: whoever replaces the
 * published one (a key rotation) swaps a pointer, and a request in flight
 * keeps the body it started with until libmicrohttpd has sent it. Each doc
 * carries a strong ETag over its bytes, for conditional GETs (RFC 9110
 * §8.8.3, §13.1.2). Private to src/server/.
 */
#ifndef AUTHFLOW_SERVER_DOC_H
#define AUTHFLOW_SERVER_DOC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "authflow/rc.h"

/* The Cache-Control of a shared document. no-cache, not a max-age: keys
 * change on demand (id_token_key_rotated publishes a key the moment its
 * token is issued, DELETE /admin/scenarios withdraws it), so a stored copy
 * must never be used without asking the server, or a client that fetches
 * the key set again on an unknown kid could be handed the stale set by a
 * cache in between. With the ETag, asking costs a 304 without a body. */
#define AF_DOC_CACHE_CONTROL "no-cache"

/* A quoted ETag: '"', 22 base64url characters (128 bits of SHA-256 over
 * the bytes), '"', NUL. */
#define AF_DOC_ETAG_MAX 25

struct af_doc; /* opaque */

/* af_doc_new: a doc holding a copy of bytes[0..len). Caller releases with
 * af_doc_release(). AF_ERR_NOMEM or AF_ERR_CRYPTO (the digest) on failure,
 * *out is then NULL. */
af_rc af_doc_new(const char *bytes, size_t len, struct af_doc **out) AF_WARN_UNUSED;

/* af_doc_from_json: obj (borrowed) serialised compactly, as af_resp_json
 * does. Caller releases with af_doc_release(). */
af_rc af_doc_from_json(const json_t *obj, struct af_doc **out) AF_WARN_UNUSED;

/* af_doc_ref: a new reference to doc (returned); NULL gives NULL. Safe
 * from any thread. */
struct af_doc *af_doc_ref(struct af_doc *doc);

/* af_doc_release: drop one reference; the last frees doc. NULL is a no-op. */
void af_doc_release(struct af_doc *doc);

/* af_doc_release_bytes: af_doc_release() of the doc whose af_doc_bytes()
 * is bytes: the free callback handed to libmicrohttpd with the body, which
 * it calls with the buffer only (MHD 0.9.71 has no closure argument). */
void af_doc_release_bytes(void *bytes);

/* Accessors; borrowed, valid while the caller holds a reference. The bytes
 * are NUL-terminated after len. */
const char *af_doc_bytes(const struct af_doc *doc);
size_t af_doc_len(const struct af_doc *doc);
const char *af_doc_etag(const struct af_doc *doc);

/* af_etag_list_matches: whether an If-None-Match field value names etag (a
 * quoted strong ETag) by the weak comparison (RFC 9110 §13.1.2, §8.8.3.2:
 * the opaque tags are equal, W/ on either side ignored), or is "*". A value
 * that does not parse as a list of entity tags matches nothing, so the
 * client gets the full answer. */
bool af_etag_list_matches(const char *field, const char *etag);

#endif
