/*
 * scenario.h - the scenario engine (scenario.c, docs/scenarios.md): the
 * table of faults, their queue, and the keys they sign with. Private to
 * src/server/.
 */
#ifndef AUTHFLOW_SERVER_SCENARIO_H
#define AUTHFLOW_SERVER_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "authflow/cfg.h"
#include "authflow/jose.h"
#include "authflow/rc.h"

struct af_server; /* core.h */

/* A scenario is a named, documented fault authflowd applies on request: a
 * row of one static table {name, stage, description, apply}. The apply
 * function fills a struct af_scen_effect (and, for an ID token, edits its
 * claims and header); the handler of the stage acts on the effect. Tests
 * select scenarios through the admin API's queue, the config's "scenarios"
 * array (both land in the same queue), or login_hint "user+name".
 *
 * Binding: a queued scenario of a flow stage (AF_STAGES_FLOW) is taken by
 * the next accepted authorization request that matches it; the code
 * record, and the tokens issued from it, carry it on. A request of such a
 * stage whose flow carries none takes the next matching queued one itself
 * (client_credentials, password and refresh grants have no flow), and a
 * jwks scenario is taken by the next GET /jwks.
 */

typedef enum {
    AF_STAGE_AUTHORIZE = 0, /* the authorization response */
    AF_STAGE_CODE,          /* the code, when /token redeems it */
    AF_STAGE_ID_TOKEN,      /* the ID token, before it is signed */
    AF_STAGE_TOKEN,         /* the token endpoint's answer */
    AF_STAGE_USERINFO,      /* the userinfo endpoint's answer */
    AF_STAGE_JWKS,          /* the key set's answer */
    AF_STAGE_REFRESH,       /* a refresh_token grant, before it rotates (no flow) */
    AF_STAGE_COUNT
} af_stage;

#define AF_STAGE_BIT(s) (1u << (unsigned)(s))
/* The stages a flow carries from /authorize on. */
#define AF_STAGES_FLOW                                                                             \
    (AF_STAGE_BIT(AF_STAGE_AUTHORIZE) | AF_STAGE_BIT(AF_STAGE_CODE) |                              \
     AF_STAGE_BIT(AF_STAGE_ID_TOKEN) | AF_STAGE_BIT(AF_STAGE_TOKEN) |                              \
     AF_STAGE_BIT(AF_STAGE_USERINFO))

/* How an ID token is signed once its scenario ran. */
typedef enum {
    AF_SCEN_SIGN_NORMAL = 0, /* the signing key */
    AF_SCEN_SIGN_NONE,       /* unsigned (RFC 7518 §3.6): the header says alg none */
    AF_SCEN_SIGN_CORRUPT,    /* the signing key, then one signature character changed */
    AF_SCEN_SIGN_GHOST,      /* a key never published in /jwks */
    AF_SCEN_SIGN_ROTATED,    /* a fresh key, published in /jwks from then on */
    AF_SCEN_SIGN_DECOY,      /* the signing key; a fresh key of the same algorithm
                                published beside it (no kid in the header) */
} af_scen_sign;

/* What a scenario does; every field false/NULL/0 means "as usual". */
struct af_scen_effect {
    /* authorize */
    const char *authz_error; /* static: answer this error instead of a code */
    bool drop_code, drop_state, change_state, drop_iss, wrong_iss;
    bool scope_declined; /* grant openid and the first other scope asked for only */
    /* code */
    bool code_expired;
    /* id_token */
    af_scen_sign sign;
    /* token: an error answer instead of tokens (status and error), or edits */
    unsigned token_status;
    const char *token_error; /* static */
    bool token_malformed, token_type_upper, token_no_expires_in;
    /* refresh: invalid_grant and the grant ended (h_token.c); the two say
     * why: the refresh token expired, or the user revoked the app */
    bool refresh_expired, grant_revoked;
    /* userinfo */
    bool userinfo_unauthorized, userinfo_wrong_sub;
    /* jwks */
    bool jwks_error;
    /* token_delay, jwks_slow: the answer waits the entry's delay */
    bool delay;
};

struct af_scen_ctx {
    struct af_server *srv; /* borrowed */
    json_t *claims;        /* id_token stage: the claims, edited in place (borrowed) */
    json_t *header;        /* id_token stage: the JOSE header, edited in place (borrowed) */
    struct af_scen_effect fx;
};

struct af_scenario {
    const char *name; /* the wire name, e.g. "id_token_bad_signature" */
    af_stage stage;
    const char *description; /* one line for GET /admin/scenarios and the docs */
    af_rc (*apply)(struct af_scen_ctx *ctx);
    bool takes_delay; /* accepts delay_ms */
};

/* The table, in documentation order. Rows are static: pointers to them
 * may be kept anywhere (records, requests). */
size_t af_scenario_count(void);
const struct af_scenario *af_scenario_at(size_t i);           /* NULL past the end */
const struct af_scenario *af_scenario_find(const char *name); /* exact; NULL: unknown */
const char *af_stage_name(af_stage stage);                    /* static, e.g. "id_token" */

/* af_scenario_run: zero ctx->fx, then apply sc (NULL: nothing to do). */
af_rc af_scenario_run(const struct af_scenario *sc, struct af_scen_ctx *ctx) AF_WARN_UNUSED;

/* The values the scenarios put in place of the right ones. The wrong
 * issuer keeps ours as a prefix, so a comparison by prefix is caught. */
#define AF_SCEN_WRONG_ISS_SUFFIX  "/wrong-issuer"
#define AF_SCEN_WRONG_AUD         "urn:authflow:wrong-audience"
#define AF_SCEN_UNTRUSTED_AUD     "urn:authflow:untrusted-audience"
#define AF_SCEN_WRONG_NONCE       "authflow-wrong-nonce"
#define AF_SCEN_WRONG_SUB         "authflow-other-subject"
#define AF_SCEN_STATE_SUFFIX      ".authflow-changed"
#define AF_SCEN_UNSOLICITED_STATE "authflow-unsolicited-state"
/* Delays: the default of a delay scenario, and the hard ceiling of
 * limits.max_delay_ms. */
#define AF_SCEN_DELAY_DEFAULT_MS 2000u
#define AF_SCEN_DELAY_MAX_MS     10000u
/* The most entries the queue holds. */
#define AF_SCEN_QUEUE_MAX 256u
/* The most uses an entry may ask for (times); 0 means until cleared. */
#define AF_SCEN_TIMES_MAX 1000000L

struct af_scen_engine; /* the queue and the scenario keys; one mutex */

/* A queue request: from POST /admin/scenarios or the config. */
struct af_scen_spec {
    const struct af_scenario *sc; /* never NULL */
    const char *client;           /* client_id, or NULL: any */
    const char *user;             /* username or sub, or NULL: any */
    long times;                   /* 0: until cleared */
    long delay_ms;                /* -1: the default (delay scenarios only) */
};

/* af_scen_spec_check: NULL when spec fits, else what is wrong, starting
 * with the member at fault ("client: names no configured client"), written
 * to buf (cap bytes) or static. The client and user are looked up in srv's
 * registry (the clients and users of the moment), or in cfg when srv is
 * NULL (the config check, before any server). */
const char *af_scen_spec_check(const struct af_config *cfg, const struct af_server *srv,
                               const struct af_scen_spec *spec, char *buf, size_t cap);

/* af_scen_engine_new: the engine of srv (whose cfg and keys are loaded),
 * with the config's scenarios queued in order; an unknown name or a bad
 * entry is AF_ERR_INVALID with "FILE: scenarios[N].member: what" in err.
 * Caller frees with af_scen_engine_free() (NULL is a no-op). */
af_rc af_scen_engine_new(struct af_server *srv, struct af_scen_engine **out,
                         struct af_err *err) AF_WARN_UNUSED;
void af_scen_engine_free(struct af_scen_engine *e);

/* af_scen_config_check: the check af_scen_engine_new makes of the config's
 * scenarios, without a server (authflowd --check-config). */
af_rc af_scen_config_check(const struct af_config *cfg, struct af_err *err) AF_WARN_UNUSED;

/* af_scen_queue_add: queue spec (checked by the caller with
 * af_scen_spec_check); *entry_out (may be NULL) gets the entry as JSON, new
 * reference. AF_ERR_TOOBIG when AF_SCEN_QUEUE_MAX entries wait already. */
af_rc af_scen_queue_add(struct af_scen_engine *e, const struct af_scen_spec *spec,
                        json_t **entry_out) AF_WARN_UNUSED;

/* af_scen_queue_clear: drop the entry with that id, or every entry when id
 * is NULL (which also withdraws the key of id_token_key_rotated from the
 * published set); returns how many entries were dropped. */
size_t af_scen_queue_clear(struct af_scen_engine *e, const char *id);

/* af_scen_queue_json: the queue as an array of entries, new reference;
 * NULL on allocation failure. */
json_t *af_scen_queue_json(struct af_scen_engine *e);

/* af_scen_take: the first queued entry whose stage is in the stages mask
 * and that matches client_id (an entry naming a client needs it) and user
 * (an entry naming a user needs that user, by username or sub); one use is
 * consumed and the entry leaves the queue when it has none left. Returns
 * its scenario (static) and its delay in *delay_ms (may be NULL), or NULL
 * when none matches. e may be NULL (no scenarios). */
const struct af_scenario *af_scen_take(struct af_scen_engine *e, unsigned stages,
                                       const char *client_id, const struct af_cfg_user *user,
                                       unsigned *delay_ms);

/* af_scen_sign_with: a compact JWS over payload under hdr (edited: its
 * "kid" becomes the key's) signed with the ghost key (AF_SCEN_SIGN_GHOST:
 * generated once per algorithm, never published) or a fresh key
 * (AF_SCEN_SIGN_ROTATED: published in /jwks from now on by the key ring,
 * replacing the previous rotated one), both of algorithm alg (the signing
 * key's). Caller frees *out. */
af_rc af_scen_sign_with(struct af_server *srv, af_alg alg, af_scen_sign how, json_t *hdr,
                        const char *payload, char **out, struct af_err *err) AF_WARN_UNUSED;

/* af_scen_publish_decoy: generate a key of algorithm alg and publish it in
 * /jwks after the other keys through the key ring (replacing the key of an
 * earlier rotation or decoy; DELETE /admin/scenarios withdraws it). The
 * token itself is signed by the signing key (AF_SCEN_SIGN_DECOY). */
af_rc af_scen_publish_decoy(struct af_server *srv, af_alg alg, struct af_err *err) AF_WARN_UNUSED;

/* af_scen_corrupt_signature: change the first signature character of a
 * compact JWS to another base64url character (the encoding stays canonical
 * and the length right: only the signature check can tell). */
void af_scen_corrupt_signature(char *jws);

/* af_scen_login_hint: split a login_hint of the form "USER+SCENARIO" (a
 * '+', or the space a literal '+' of a query string decodes to). Returns
 * false when hint has no separator or its tail names no scenario; else
 * *sc_out gets the scenario and *user_len the length of the user part
 * (0: no user named). */
bool af_scen_login_hint(const char *hint, const struct af_scenario **sc_out, size_t *user_len);

/* af_scen_delay_cap: the largest delay the config allows, in ms. */
unsigned af_scen_delay_cap(const struct af_config *cfg);

#endif
