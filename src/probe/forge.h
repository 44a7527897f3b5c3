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
 *   "claim_path" {"path": "a.b", "value": V}: one claim set at a dotted
 *               path (the objects on the way made; null removes it), for
 *               a claim the profile names;
 *   "shift"     {"exp": 86400}: seconds added to numeric claims;
 *   "signature" "keep" (the default), "drop" (empty) or "zero" (that many
 *               zero bytes: r = s = 0 for ES256, the psychic signature);
 *   "sign"      {"hs256": SECRET} (any bytes, the empty string included),
 *               {"hs256_pem_of": JWK} (the JWK's public key as PEM text is
 *               the secret: algorithm confusion), {"hs256_guess": [SECRET,
 *               ...]} (the one of the list under which the real token's
 *               own HS256 signature comes out, found offline as an
 *               attacker would), {"embedded": "RS256" | "ES256"} (a fresh
 *               key of the probe's, its public JWK set as the header's
 *               "jwk"), or {"jku" | "x5u": "RS256" | "ES256"} (a fresh key
 *               of the probe's that the header points at by URL: "jku"
 *               with a JWK set holding it and its kid, "x5u" with a
 *               self-signed PEM certificate of it, RFC 7515 §4.1.2,
 *               §4.1.5; the caller serves the document, af_forge_served);
 *               the header's alg follows the signing key unless "header"
 *               names one.
 * An unchanged part keeps its original text byte for byte. *out is the
 * token (caller frees). AF_ERR_PARSE (err says why) when "from" is not a
 * compact JWS with JSON header and claims: there is nothing to forge from.
 * AF_ERR_NOTFOUND (err says why) when hs256_guess finds no secret (or the
 * token is not HS256). AF_ERR_INVALID for a spec the loader should have
 * refused, and for jku or x5u (use af_forge_served). */
af_rc af_forge(const json_t *spec, char **out, struct af_err *err) AF_WARN_UNUSED;

/* af_forge_serves: "jku" or "x5u" when spec (borrowed) signs with a key
 * the token points at by URL, whose document the caller must serve; NULL
 * otherwise. The string is static. */
const char *af_forge_serves(const json_t *spec);

/* af_forge_served: af_forge, where the jku or x5u header is url; *doc is
 * then what url must answer (a JWK set, or a PEM certificate), caller
 * frees; NULL for any other spec. url and doc may be NULL for a spec that
 * serves nothing. */
af_rc af_forge_served(const json_t *spec, const char *url, char **out, char **doc,
                      struct af_err *err) AF_WARN_UNUSED;

/* af_forge_check: the loader's check of a "forge" object before
 * expansion (keys and their types). AF_ERR_INVALID with err naming the
 * key. */
af_rc af_forge_check(const json_t *spec, struct af_err *err) AF_WARN_UNUSED;

#endif
