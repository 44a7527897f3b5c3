/*
 * forge.h - tokens an attacker would try, made from a real one: the header
 * or claims changed with the signature kept, dropped or zeroed, re-signed
 * with HS256 under a guessed secret or a public key, or signed with a key
 * of the probe's own that the header embeds (docs/suite-format.md, "forge"
 * steps; docs/api-suite.md). Private to src/probe/.
 */
#ifndef AUTHFLOW_PROBE_FORGE_H
#define AUTHFLOW_PROBE_FORGE_H

#include <jansson.h>

#include "authflow/rc.h"

/* af_forge: the token spec describes (an expanded "forge" object, borrowed):
 *   "from"      a compact JWS (required);
 *   "header"    members set in the header (null removes one);
 *   "claims"    members set in the claims (null removes one);
 *   "shift"     {"exp": 86400}: seconds added to numeric claims;
 *   "signature" "keep" (the default), "drop" (empty) or "zero" (that many
 *               zero bytes: r = s = 0 for ES256, the psychic signature);
 *   "sign"      {"hs256": SECRET} (any bytes, the empty string included),
 *               {"hs256_pem_of": JWK} (the JWK's public key as PEM text is
 *               the secret: algorithm confusion), or {"embedded": "RS256" |
 *               "ES256"} (a fresh key of the probe's, its public JWK set as
 *               the header's "jwk"); the header's alg follows the signing
 *               key unless "header" names one.
 * An unchanged part keeps its original text byte for byte. *out is the
 * token (caller frees). AF_ERR_PARSE (err says why) when "from" is not a
 * compact JWS with JSON header and claims: there is nothing to forge from.
 * AF_ERR_INVALID for a spec the loader should have refused. */
af_rc af_forge(const json_t *spec, char **out, struct af_err *err) AF_WARN_UNUSED;

/* af_forge_check: the loader's check of a "forge" object before
 * expansion (keys and their types). AF_ERR_INVALID with err naming the
 * key. */
af_rc af_forge_check(const json_t *spec, struct af_err *err) AF_WARN_UNUSED;

#endif
