/*
 * admin_tokens.h - tokens minted for the admin API's POST /admin/tokens
 * (admin_tokens.c), with the defects a test asks for. Private to
 * src/server/.
 */
#ifndef AUTHFLOW_SERVER_ADMIN_TOKENS_H
#define AUTHFLOW_SERVER_ADMIN_TOKENS_H

#include <jansson.h>

#include "authflow/cfg.h"
#include "authflow/rc.h"

struct af_server; /* core.h */

/* Defects a minted token can carry (docs/admin.md); their wire names are
 * the AF_DEFECT_N_* of proto.h. */
typedef enum {
    AF_DEFECT_EXPIRED = 0,
    AF_DEFECT_NOT_YET_VALID,
    AF_DEFECT_WRONG_AUD,
    AF_DEFECT_WRONG_ISS,
    AF_DEFECT_BAD_SIGNATURE,
    AF_DEFECT_ALG_NONE,
    AF_DEFECT_ALG_NONE_MIXED_CASE,
    AF_DEFECT_HS256_PUBLIC_KEY,
    AF_DEFECT_UNKNOWN_KID,
    AF_DEFECT_WRONG_TYP,
    AF_DEFECT_NO_SCOPE,
    AF_DEFECT_REVOKED,
    AF_DEFECT_NO_EXP,
    AF_DEFECT_EXP_STRING,
    AF_DEFECT_AUD_NULL,
    AF_DEFECT_AUD_TRUE,
    AF_DEFECT_NBF_STRING,
    AF_DEFECT_COUNT
} af_defect;

/* af_defect_name: the wire name ("not_yet_valid"), static. af_defect_parse:
 * exact name -> defect; AF_ERR_NOTFOUND for an unknown name. */
const char *af_defect_name(af_defect d);
af_rc af_defect_parse(const char *name, af_defect *out) AF_WARN_UNUSED;

/* A mint request, already validated (h_admin.c reads it from JSON). */
struct af_mint {
    const struct af_cfg_client *client; /* borrowed; never NULL */
    const struct af_cfg_user *user;     /* borrowed; NULL: the client's own token */
    const char *scope;                  /* NULL: none (no_scope) */
    const json_t *aud;                  /* borrowed; NULL: the client's audience */
    long ttl;                           /* seconds, > 0 */
    const json_t *claims;               /* borrowed object of extra claims; may be NULL */
    unsigned defects;                   /* bit (1u << af_defect) per defect */
    const char *alg;                    /* borrowed; NULL: the signing key signs */
};

struct af_keyset;
struct af_key;

/* af_mint_key: the key a token minted with alg is signed with: the signing
 * key when alg is NULL or its own alg, else the first published key of
 * alg ("ES256"). Borrowed from ks; NULL when no published key has alg. */
const struct af_key *af_mint_key(const struct af_keyset *ks, const char *alg);

/* af_mint_token: sign the token m describes (with the key af_mint_key
 * picks for m->alg), with its defects, and store
 * it as the token endpoint would (unless it is already expired or is an ID
 * token, wrong_typ); "revoked" stores it and revokes it. *out gets a new
 * reference to the response {"access_token", "token_type", "expires_in",
 * "header", "claims", "defects"}. Errors are server-side (AF_ERR_NOMEM,
 * AF_ERR_CRYPTO, a full store; AF_ERR_NOTFOUND when the key set lost its
 * key of m->alg since the request was read) with the reason in err. */
af_rc af_mint_token(struct af_server *srv, const struct af_mint *m, json_t **out,
                    struct af_err *err) AF_WARN_UNUSED;

#endif
