/*
 * scenario.c - named faults authflowd applies on request (docs/scenarios.md):
 * the scenario table, the queue tests fill through the admin API or the
 * config, and the keys of the signing scenarios.
 *
 * The table is the one source: GET /admin/scenarios lists it, the unit
 * tests check that docs/scenarios.md names every row, and each row's apply
 * function says what changes. Apply functions only describe the fault (a
 * struct af_scen_effect, plus the ID token's claims and header, edited in
 * place); the handler of the stage acts on it, so the protocol code stays
 * in the handlers.
 *
 * The queue is a short list under one mutex (at most AF_SCEN_QUEUE_MAX
 * entries, scanned in order: first in, first taken). The same mutex guards
 * the ghost key (unknown_kid). The rotated key is published by the key
 * ring (keyring.h), as the last key of /jwks.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authflow/cfg.h"
#include "authflow/jose.h"
#include "authflow/log.h"
#include "authflow/proto.h"
#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/core.h"
#include "server/registry.h"
#include "server/doc.h"
#include "server/keyring.h"
#include "server/scenario.h"
#include "server/store.h"
#include "server/store_redis.h"

/* How far id_token_expired misses "now": beyond any usual clock skew. */
#define SCEN_SKEW 3600
/* id_token_iat_week_old: iat this far in the past (FAPI's week-old iat). */
#define SCEN_WEEK (7 * 86400)

/* ---- apply functions ---- */

static af_rc fx_access_denied(struct af_scen_ctx *c)
{
    c->fx.authz_error = AF_E_ACCESS_DENIED;
    return AF_OK;
}

static af_rc fx_authz_server_error(struct af_scen_ctx *c)
{
    c->fx.authz_error = AF_E_SERVER_ERROR;
    return AF_OK;
}

static af_rc fx_temporarily_unavailable(struct af_scen_ctx *c)
{
    c->fx.authz_error = AF_E_TEMP_UNAVAILABLE;
    return AF_OK;
}

static af_rc fx_invalid_scope(struct af_scen_ctx *c)
{
    c->fx.authz_error = AF_E_INVALID_SCOPE;
    return AF_OK;
}

static af_rc fx_state_missing(struct af_scen_ctx *c)
{
    c->fx.drop_state = true;
    return AF_OK;
}

static af_rc fx_state_changed(struct af_scen_ctx *c)
{
    c->fx.change_state = true;
    return AF_OK;
}

static af_rc fx_iss_missing(struct af_scen_ctx *c)
{
    c->fx.drop_iss = true;
    return AF_OK;
}

static af_rc fx_iss_wrong(struct af_scen_ctx *c)
{
    c->fx.wrong_iss = true;
    return AF_OK;
}

static af_rc fx_code_missing(struct af_scen_ctx *c)
{
    c->fx.drop_code = true;
    return AF_OK;
}

static af_rc fx_scope_declined(struct af_scen_ctx *c)
{
    c->fx.scope_declined = true;
    return AF_OK;
}

static af_rc fx_refresh_expired(struct af_scen_ctx *c)
{
    c->fx.refresh_expired = true;
    return AF_OK;
}

static af_rc fx_grant_revoked(struct af_scen_ctx *c)
{
    c->fx.grant_revoked = true;
    return AF_OK;
}

static af_rc fx_code_expired(struct af_scen_ctx *c)
{
    c->fx.code_expired = true;
    return AF_OK;
}

/* ID token: claims and header are edited before signing. */

static af_rc set_str(json_t *o, const char *name, const char *value)
{
    return json_object_set_new(o, name, json_string(value)) == 0 ? AF_OK : AF_ERR_NOMEM;
}

static af_rc set_int(json_t *o, const char *name, json_int_t value)
{
    return json_object_set_new(o, name, json_integer(value)) == 0 ? AF_OK : AF_ERR_NOMEM;
}

static af_rc fx_idt_bad_signature(struct af_scen_ctx *c)
{
    c->fx.sign = AF_SCEN_SIGN_CORRUPT;
    return AF_OK;
}

static af_rc fx_idt_alg_none(struct af_scen_ctx *c)
{
    /* RFC 7518 §3.6: an Unsecured JWS names no key */
    json_object_del(c->header, AF_H_KID);
    c->fx.sign = AF_SCEN_SIGN_NONE;
    return set_str(c->header, AF_H_ALG, af_alg_name(AF_ALG_NONE));
}

static af_rc fx_idt_wrong_iss(struct af_scen_ctx *c)
{
    char *iss = NULL;
    af_rc rc;

    if (asprintf(&iss, "%s%s", c->srv->issuer, AF_SCEN_WRONG_ISS_SUFFIX) < 0)
        return AF_ERR_NOMEM;
    rc = set_str(c->claims, AF_C_ISS, iss);
    free(iss);
    return rc;
}

static af_rc fx_idt_wrong_aud(struct af_scen_ctx *c)
{
    return set_str(c->claims, AF_C_AUD, AF_SCEN_WRONG_AUD);
}

static af_rc fx_idt_missing_aud(struct af_scen_ctx *c)
{
    json_object_del(c->claims, AF_C_AUD);
    return AF_OK;
}

static af_rc fx_idt_extra_aud(struct af_scen_ctx *c)
{
    /* OIDC Core §3.1.3.7 step 3: an audience the client does not trust
     * besides its own (azp stays the client) */
    const char *client = json_string_value(json_object_get(c->claims, AF_C_AUD));
    json_t *aud = json_pack("[s,s]", client ? client : "", AF_SCEN_UNTRUSTED_AUD);
    if (aud == NULL || json_object_set_new(c->claims, AF_C_AUD, aud) != 0)
        return AF_ERR_NOMEM;
    return AF_OK;
}

static json_int_t claim_int(const json_t *claims, const char *name)
{
    return json_integer_value(json_object_get(claims, name));
}

static af_rc fx_idt_expired(struct af_scen_ctx *c)
{
    json_int_t iat = claim_int(c->claims, AF_C_IAT), exp = claim_int(c->claims, AF_C_EXP);
    json_int_t ttl = exp - iat, new_exp = iat - SCEN_SKEW;
    af_rc rc = set_int(c->claims, AF_C_EXP, new_exp);
    return rc == AF_OK ? set_int(c->claims, AF_C_IAT, new_exp - ttl) : rc;
}

static af_rc fx_idt_iat_week_old(struct af_scen_ctx *c)
{
    return set_int(c->claims, AF_C_IAT, claim_int(c->claims, AF_C_IAT) - SCEN_WEEK);
}

static af_rc fx_idt_missing_iat(struct af_scen_ctx *c)
{
    json_object_del(c->claims, AF_C_IAT);
    return AF_OK;
}

static af_rc fx_idt_missing_sub(struct af_scen_ctx *c)
{
    json_object_del(c->claims, AF_C_SUB);
    return AF_OK;
}

static af_rc fx_idt_wrong_nonce(struct af_scen_ctx *c)
{
    return set_str(c->claims, AF_C_NONCE, AF_SCEN_WRONG_NONCE);
}

static af_rc fx_idt_missing_nonce(struct af_scen_ctx *c)
{
    json_object_del(c->claims, AF_C_NONCE);
    return AF_OK;
}

static af_rc fx_idt_unknown_kid(struct af_scen_ctx *c)
{
    c->fx.sign = AF_SCEN_SIGN_GHOST;
    return AF_OK;
}

static af_rc fx_idt_key_rotated(struct af_scen_ctx *c)
{
    c->fx.sign = AF_SCEN_SIGN_ROTATED;
    return AF_OK;
}

static af_rc fx_idt_no_kid(struct af_scen_ctx *c)
{
    json_object_del(c->header, AF_H_KID);
    return AF_OK;
}

static af_rc fx_idt_no_kid_decoy(struct af_scen_ctx *c)
{
    json_object_del(c->header, AF_H_KID);
    c->fx.sign = AF_SCEN_SIGN_DECOY;
    return AF_OK;
}

/* token endpoint */

static af_rc fx_token_invalid_grant(struct af_scen_ctx *c)
{
    c->fx.token_status = 400;
    c->fx.token_error = AF_E_INVALID_GRANT;
    return AF_OK;
}

static af_rc fx_token_invalid_client(struct af_scen_ctx *c)
{
    c->fx.token_status = 401;
    c->fx.token_error = AF_E_INVALID_CLIENT;
    return AF_OK;
}

static af_rc fx_token_server_error(struct af_scen_ctx *c)
{
    c->fx.token_status = 500;
    c->fx.token_error = AF_E_SERVER_ERROR;
    return AF_OK;
}

static af_rc fx_delay(struct af_scen_ctx *c)
{
    c->fx.delay = true;
    return AF_OK;
}

static af_rc fx_token_malformed_json(struct af_scen_ctx *c)
{
    c->fx.token_malformed = true;
    return AF_OK;
}

static af_rc fx_token_type_uppercase(struct af_scen_ctx *c)
{
    c->fx.token_type_upper = true;
    return AF_OK;
}

static af_rc fx_token_no_expires_in(struct af_scen_ctx *c)
{
    c->fx.token_no_expires_in = true;
    return AF_OK;
}

/* userinfo, jwks */

static af_rc fx_userinfo_wrong_sub(struct af_scen_ctx *c)
{
    c->fx.userinfo_wrong_sub = true;
    return AF_OK;
}

static af_rc fx_userinfo_unauthorized(struct af_scen_ctx *c)
{
    c->fx.userinfo_unauthorized = true;
    return AF_OK;
}

static af_rc fx_jwks_error(struct af_scen_ctx *c)
{
    c->fx.jwks_error = true;
    return AF_OK;
}

/* ---- the table ---- */

static const struct af_scenario table[] = {
    /* the authorization response (RFC 6749 §4.1.2, RFC 9207) */
    {"authorize_access_denied", AF_STAGE_AUTHORIZE,
     "error=access_denied instead of a code (RFC 6749 4.1.2.1)", fx_access_denied, false},
    {"authorize_server_error", AF_STAGE_AUTHORIZE,
     "error=server_error instead of a code (RFC 6749 4.1.2.1)", fx_authz_server_error, false},
    {"authorize_temporarily_unavailable", AF_STAGE_AUTHORIZE,
     "error=temporarily_unavailable instead of a code (RFC 6749 4.1.2.1)",
     fx_temporarily_unavailable, false},
    {"authorize_invalid_scope", AF_STAGE_AUTHORIZE,
     "error=invalid_scope instead of a code (RFC 6749 4.1.2.1)", fx_invalid_scope, false},
    {"authorize_state_missing", AF_STAGE_AUTHORIZE,
     "a code, but no state parameter although one was sent (RFC 6749 4.1.2)", fx_state_missing,
     false},
    {"authorize_state_changed", AF_STAGE_AUTHORIZE,
     "a code with another state than the one sent (RFC 6749 10.12)", fx_state_changed, false},
    {"authorize_iss_missing", AF_STAGE_AUTHORIZE,
     "a code without iss although the metadata promises it (RFC 9207 2.4)", fx_iss_missing, false},
    {"authorize_iss_wrong", AF_STAGE_AUTHORIZE,
     "a code with iss = the issuer + /wrong-issuer (RFC 9207 2.4)", fx_iss_wrong, false},
    {"authorize_code_missing", AF_STAGE_AUTHORIZE,
     "a success response with state and iss but no code (RFC 6749 4.1.2)", fx_code_missing, false},
    /* the code at the token endpoint */
    {"authorize_scope_declined", AF_STAGE_AUTHORIZE,
     "a code for openid and the first other scope asked for only: the user declined the rest",
     fx_scope_declined, false},
    {"code_expired", AF_STAGE_CODE,
     "the code has expired when it is redeemed: invalid_grant (RFC 6749 4.1.2, 5.2)",
     fx_code_expired, false},
    /* the ID token (OIDC Core 3.1.3.7) */
    {"id_token_bad_signature", AF_STAGE_ID_TOKEN,
     "ID token signed by keys[0], then its first signature character changed", fx_idt_bad_signature,
     false},
    {"id_token_alg_none", AF_STAGE_ID_TOKEN,
     "unsigned ID token: header alg none, no kid, empty signature (RFC 7518 3.6)", fx_idt_alg_none,
     false},
    {"id_token_wrong_iss", AF_STAGE_ID_TOKEN, "ID token iss = the issuer + /wrong-issuer",
     fx_idt_wrong_iss, false},
    {"id_token_wrong_aud", AF_STAGE_ID_TOKEN, "ID token aud = urn:authflow:wrong-audience",
     fx_idt_wrong_aud, false},
    {"id_token_missing_aud", AF_STAGE_ID_TOKEN, "ID token without aud", fx_idt_missing_aud, false},
    {"id_token_extra_aud", AF_STAGE_ID_TOKEN,
     "ID token aud = [client_id, urn:authflow:untrusted-audience]", fx_idt_extra_aud, false},
    {"id_token_expired", AF_STAGE_ID_TOKEN, "ID token exp one hour before it was issued",
     fx_idt_expired, false},
    {"id_token_iat_week_old", AF_STAGE_ID_TOKEN, "ID token iat a week in the past, exp still ahead",
     fx_idt_iat_week_old, false},
    {"id_token_missing_iat", AF_STAGE_ID_TOKEN, "ID token without iat", fx_idt_missing_iat, false},
    {"id_token_missing_sub", AF_STAGE_ID_TOKEN, "ID token without sub", fx_idt_missing_sub, false},
    {"id_token_wrong_nonce", AF_STAGE_ID_TOKEN,
     "ID token nonce = authflow-wrong-nonce (also when none was sent)", fx_idt_wrong_nonce, false},
    {"id_token_missing_nonce", AF_STAGE_ID_TOKEN, "ID token without nonce although one was sent",
     fx_idt_missing_nonce, false},
    {"id_token_unknown_kid", AF_STAGE_ID_TOKEN,
     "ID token signed by a key never published in /jwks (its kid names no key there)",
     fx_idt_unknown_kid, false},
    {"id_token_key_rotated", AF_STAGE_ID_TOKEN,
     "ID token signed by a fresh key that /jwks publishes only from then on: a cached key set "
     "lacks it",
     fx_idt_key_rotated, false},
    {"id_token_no_kid", AF_STAGE_ID_TOKEN, "ID token signed by keys[0] with no kid in its header",
     fx_idt_no_kid, false},
    {"id_token_no_kid_decoy", AF_STAGE_ID_TOKEN,
     "ID token signed by keys[0] with no kid, while /jwks publishes a fresh key of the same "
     "algorithm beside it: two keys fit",
     fx_idt_no_kid_decoy, false},
    /* the token endpoint (RFC 6749 5.1, 5.2) */
    {"token_invalid_grant", AF_STAGE_TOKEN, "400 invalid_grant instead of tokens",
     fx_token_invalid_grant, false},
    {"token_invalid_client", AF_STAGE_TOKEN,
     "401 invalid_client with WWW-Authenticate: Basic instead of tokens", fx_token_invalid_client,
     false},
    {"token_server_error", AF_STAGE_TOKEN, "HTTP 500 with error=server_error instead of tokens",
     fx_token_server_error, false},
    {"token_delay", AF_STAGE_TOKEN, "the usual answer, after delay_ms", fx_delay, true},
    {"token_malformed_json", AF_STAGE_TOKEN,
     "200 with the token response cut in half: not valid JSON", fx_token_malformed_json, false},
    {"token_type_uppercase", AF_STAGE_TOKEN,
     "token_type BEARER (compared case-insensitively, RFC 6749 5.1)", fx_token_type_uppercase,
     false},
    {"token_no_expires_in", AF_STAGE_TOKEN, "no expires_in (it is RECOMMENDED only, RFC 6749 5.1)",
     fx_token_no_expires_in, false},
    /* the refresh_token grant (RFC 6749 6), no flow: the next one of the client and user */
    {"refresh_token_expired", AF_STAGE_REFRESH,
     "400 invalid_grant: the refresh token has expired (the grant ends: a retry is refused too)",
     fx_refresh_expired, false},
    {"grant_revoked", AF_STAGE_REFRESH,
     "400 invalid_grant: the user revoked the app's access (the grant and its access tokens "
     "revoked)",
     fx_grant_revoked, false},
    /* userinfo (OIDC Core 5.3) */
    {"userinfo_wrong_sub", AF_STAGE_USERINFO,
     "userinfo sub = authflow-other-subject, not the ID token's (OIDC Core 5.3.2)",
     fx_userinfo_wrong_sub, false},
    {"userinfo_unauthorized", AF_STAGE_USERINFO,
     "401 invalid_token for a good access token (RFC 6750 3.1)", fx_userinfo_unauthorized, false},
    /* the key set */
    {"jwks_error", AF_STAGE_JWKS, "HTTP 500 with error=server_error instead of the key set",
     fx_jwks_error, false},
    {"jwks_slow", AF_STAGE_JWKS, "the key set, after delay_ms", fx_delay, true},
};

#define NTABLE (sizeof(table) / sizeof(table[0]))

static const char *const stage_names[AF_STAGE_COUNT] = {
    [AF_STAGE_AUTHORIZE] = "authorize", [AF_STAGE_CODE] = "code",
    [AF_STAGE_ID_TOKEN] = "id_token",   [AF_STAGE_TOKEN] = "token",
    [AF_STAGE_USERINFO] = "userinfo",   [AF_STAGE_JWKS] = "jwks",
    [AF_STAGE_REFRESH] = "refresh",
};

size_t af_scenario_count(void)
{
    return NTABLE;
}

const struct af_scenario *af_scenario_at(size_t i)
{
    return i < NTABLE ? &table[i] : NULL;
}

const struct af_scenario *af_scenario_find(const char *name)
{
    for (size_t i = 0; name != NULL && i < NTABLE; i++) {
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    }
    return NULL;
}

const char *af_stage_name(af_stage stage)
{
    return (unsigned)stage < AF_STAGE_COUNT ? stage_names[stage] : "?";
}

af_rc af_scenario_run(const struct af_scenario *sc, struct af_scen_ctx *ctx)
{
    memset(&ctx->fx, 0, sizeof(ctx->fx));
    if (sc == NULL)
        return AF_OK;
    if (sc->stage == AF_STAGE_ID_TOKEN && (ctx->claims == NULL || ctx->header == NULL))
        return AF_ERR_STATE;
    return sc->apply(ctx);
}

void af_scen_corrupt_signature(char *jws)
{
    char *sig = strrchr(jws, '.');
    if (sig != NULL && sig[1] != '\0')
        sig[1] = sig[1] == 'A' ? 'B' : 'A';
}

bool af_scen_login_hint(const char *hint, const struct af_scenario **sc_out, size_t *user_len)
{
    const char *sep;

    *sc_out = NULL;
    *user_len = 0;
    if (hint == NULL)
        return false;
    /* the last separator: a username may hold one, a scenario name never */
    sep = NULL;
    for (const char *p = hint; *p; p++) {
        if (*p == '+' || *p == ' ')
            sep = p;
    }
    if (sep == NULL)
        return false;
    *sc_out = af_scenario_find(sep + 1);
    if (*sc_out == NULL)
        return false;
    *user_len = (size_t)(sep - hint);
    return true;
}

unsigned af_scen_delay_cap(const struct af_config *cfg)
{
    long cap = cfg->max_delay_ms;
    if (cap < 0 || cap > (long)AF_SCEN_DELAY_MAX_MS)
        cap = AF_SCEN_DELAY_MAX_MS;
    return (unsigned)cap;
}

/* ---- the queue ---- */

struct qentry {
    struct qentry *next;
    unsigned long id;
    const struct af_scenario *sc;
    char *client, *user; /* NULL: any */
    long times;          /* as asked; 0: until cleared */
    long remaining;      /* uses left (times > 0 only) */
    unsigned long applied;
    unsigned delay_ms;
};

struct af_scen_engine {
    pthread_mutex_t mu;
    struct af_server *srv; /* borrowed: its config and keys */
    struct af_rstore *rs;  /* borrowed: the queue is in Redis, shared by replicas
                              (store_redis.h); NULL: it is the list below */
    struct qentry *head;
    size_t n;
    unsigned long next_id;
    struct af_key *ghost; /* id_token_unknown_kid; NULL until first used */
    /* the key of id_token_key_rotated lives in the key ring (keyring.h),
     * which publishes it */
};

static void qentry_free(struct qentry *q)
{
    if (q == NULL)
        return;
    free(q->client);
    free(q->user);
    free(q);
}

const char *af_scen_spec_check(const struct af_config *cfg, const struct af_server *srv,
                               const struct af_scen_spec *spec, char *buf, size_t cap)
{
    const struct af_scenario *sc = spec->sc;
    bool client_ok = srv != NULL ? af_client_find(srv, spec->client) != NULL
                                 : af_cfg_client_find(cfg, spec->client) != NULL;
    bool user_ok = srv != NULL ? af_user_find(srv, spec->user) != NULL
                               : af_cfg_user_find(cfg, spec->user) != NULL;

    if (spec->client != NULL && !client_ok) {
        snprintf(buf, cap, AF_SCEN_CLIENT ": names no configured client (got \"%.64s\")",
                 spec->client);
        return buf;
    }
    if (spec->user != NULL && !user_ok) {
        snprintf(buf, cap, AF_SCEN_USER ": names no configured user (got \"%.64s\")", spec->user);
        return buf;
    }
    /* /jwks requests carry neither: such an entry could never be taken */
    if (sc->stage == AF_STAGE_JWKS && (spec->client != NULL || spec->user != NULL)) {
        snprintf(buf, cap, "%s: %s applies to GET /jwks, whose requests name no client or user",
                 spec->client != NULL ? AF_SCEN_CLIENT : AF_SCEN_USER, sc->name);
        return buf;
    }
    if (spec->times < 0 || spec->times > AF_SCEN_TIMES_MAX) {
        snprintf(buf, cap, AF_SCEN_TIMES ": expected an integer from 0 (until cleared) to %ld",
                 AF_SCEN_TIMES_MAX);
        return buf;
    }
    if (spec->delay_ms >= 0 && !sc->takes_delay) {
        snprintf(buf, cap, AF_SCEN_DELAY_MS ": %s takes no delay (token_delay and jwks_slow do)",
                 sc->name);
        return buf;
    }
    if (spec->delay_ms > (long)af_scen_delay_cap(cfg)) {
        snprintf(buf, cap, AF_SCEN_DELAY_MS ": at most %u (limits.max_delay_ms), got %ld",
                 af_scen_delay_cap(cfg), spec->delay_ms);
        return buf;
    }
    return NULL;
}

/* entry_json: one queue entry, new reference (NULL on allocation failure).
 * Called with the mutex held. */
static json_t *entry_json(const struct qentry *q)
{
    char id[32];
    json_t *o;

    snprintf(id, sizeof(id), "s-%lu", q->id);
    o = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:I, s:I, s:I}", AF_SCEN_ID, id, AF_SCEN_NAME,
                  q->sc->name, "stage", af_stage_name(q->sc->stage), AF_SCEN_CLIENT, q->client,
                  AF_SCEN_USER, q->user, AF_SCEN_TIMES, (json_int_t)q->times, "remaining",
                  (json_int_t)(q->times == 0 ? 0 : q->remaining), "applied",
                  (json_int_t)q->applied);
    if (o != NULL && q->sc->takes_delay &&
        json_object_set_new(o, AF_SCEN_DELAY_MS, json_integer(q->delay_ms)) != 0) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

/* ---- the queue in Redis (replicas) ---- */

static void shared_of(const struct qentry *q, struct af_rstore_scen *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", q->sc->name);
    snprintf(out->client, sizeof(out->client), "%s", q->client ? q->client : "");
    snprintf(out->user, sizeof(out->user), "%s", q->user ? q->user : "");
    out->stage = (unsigned)q->sc->stage;
    out->times = q->times;
    out->delay_ms = q->delay_ms;
}

/* entry_of: the queue entry of a stored one, borrowing its strings, for
 * entry_json; false when its scenario is unknown here (another version). */
static bool entry_of(const struct af_rstore_scen *s, struct qentry *q)
{
    memset(q, 0, sizeof(*q));
    q->sc = af_scenario_find(s->name);
    q->id = strtoul(s->id + (strncmp(s->id, "s-", 2) == 0 ? 2 : 0), NULL, 10);
    q->client = s->client[0] ? (char *)s->client : NULL;
    q->user = s->user[0] ? (char *)s->user : NULL;
    q->times = s->times;
    q->remaining = s->remaining;
    q->applied = s->applied;
    q->delay_ms = s->delay_ms;
    return q->sc != NULL;
}

static af_rc shared_add(struct af_scen_engine *e, const struct qentry *q, json_t **entry_out)
{
    struct af_rstore_scen s;
    struct qentry view;
    af_rc rc;

    shared_of(q, &s);
    if (strlen(q->sc->name) >= sizeof(s.name) ||
        (q->client != NULL && strlen(q->client) >= sizeof(s.client)) ||
        (q->user != NULL && strlen(q->user) >= sizeof(s.user)))
        return AF_ERR_INVALID;
    rc = af_rstore_scen_add(e->rs, &s, AF_SCEN_QUEUE_MAX);
    if (rc != AF_OK)
        return rc;
    af_log_info("scenario %s queued as %s (client %s, user %s, times %ld; shared)", s.name, s.id,
                s.client[0] ? s.client : "any", s.user[0] ? s.user : "any", s.times);
    if (entry_out != NULL && entry_of(&s, &view) && (*entry_out = entry_json(&view)) == NULL)
        rc = AF_ERR_NOMEM; /* queued all the same */
    return rc;
}

static void shared_json(void *arg, const struct af_rstore_scen *s)
{
    json_t **arr = arg;
    struct qentry view;

    if (*arr != NULL && entry_of(s, &view) && json_array_append_new(*arr, entry_json(&view)) != 0) {
        json_decref(*arr);
        *arr = NULL;
    }
}

static const struct af_scenario *shared_take(struct af_scen_engine *e, unsigned stages,
                                             const char *client_id, const struct af_cfg_user *user,
                                             unsigned *delay_ms)
{
    struct af_rstore_scen s;
    const struct af_scenario *sc;

    if (af_rstore_scen_take(e->rs, stages, client_id, user ? user->username : NULL,
                            user ? user->sub : NULL, &s) != AF_OK)
        return NULL; /* none, or Redis away (logged by the store) */
    sc = af_scenario_find(s.name);
    if (sc != NULL && delay_ms != NULL)
        *delay_ms = s.delay_ms;
    if (sc != NULL)
        af_log_info("scenario %s (%s) taken%s%s", sc->name, s.id, client_id ? " for client " : "",
                    client_id ? client_id : "");
    return sc;
}

af_rc af_scen_queue_add(struct af_scen_engine *e, const struct af_scen_spec *spec,
                        json_t **entry_out)
{
    struct qentry *q = calloc(1, sizeof(*q)), **pp;
    unsigned cap = af_scen_delay_cap(e->srv->cfg);
    af_rc rc = AF_ERR_NOMEM;

    if (entry_out != NULL)
        *entry_out = NULL;
    if (q == NULL)
        goto out;
    q->sc = spec->sc;
    q->client = af_strdup(spec->client);
    q->user = af_strdup(spec->user);
    if ((spec->client != NULL && q->client == NULL) || (spec->user != NULL && q->user == NULL))
        goto out;
    q->times = spec->times;
    q->remaining = spec->times;
    if (spec->sc->takes_delay)
        q->delay_ms = spec->delay_ms >= 0              ? (unsigned)spec->delay_ms
                      : AF_SCEN_DELAY_DEFAULT_MS < cap ? AF_SCEN_DELAY_DEFAULT_MS
                                                       : cap;
    if (e->rs != NULL) {
        rc = shared_add(e, q, entry_out);
        goto out;
    }
    pthread_mutex_lock(&e->mu);
    if (e->n >= AF_SCEN_QUEUE_MAX) {
        rc = AF_ERR_TOOBIG;
    } else {
        q->id = ++e->next_id;
        for (pp = &e->head; *pp != NULL; pp = &(*pp)->next)
            ;
        *pp = q;
        e->n++;
        rc = AF_OK;
        if (entry_out != NULL) {
            *entry_out = entry_json(q);
            if (*entry_out == NULL)
                rc = AF_ERR_NOMEM; /* queued all the same */
        }
        af_log_info("scenario %s queued as s-%lu (client %s, user %s, times %ld)", q->sc->name,
                    q->id, q->client ? q->client : "any", q->user ? q->user : "any", q->times);
        q = NULL;
    }
    pthread_mutex_unlock(&e->mu);
out:
    qentry_free(q);
    return rc;
}

size_t af_scen_queue_clear(struct af_scen_engine *e, const char *id)
{
    struct qentry **pp, *q;
    size_t n = 0;
    char qid[32];

    /* clearing everything also withdraws a rotated key: back to the key
     * set before it, so that the next test starts from it */
    if (id == NULL && e->srv->keyring != NULL)
        af_keyring_scenario_withdraw(e->srv->keyring);
    if (e->rs != NULL)
        return af_rstore_scen_clear(e->rs, id, &n) == AF_OK ? n : 0;
    pthread_mutex_lock(&e->mu);
    pp = &e->head;
    while (*pp != NULL) {
        q = *pp;
        snprintf(qid, sizeof(qid), "s-%lu", q->id);
        if (id == NULL || strcmp(id, qid) == 0) {
            *pp = q->next;
            qentry_free(q);
            e->n--;
            n++;
        } else {
            pp = &q->next;
        }
    }
    pthread_mutex_unlock(&e->mu);
    return n;
}

json_t *af_scen_queue_json(struct af_scen_engine *e)
{
    json_t *arr = json_array();

    if (e->rs != NULL) {
        if (arr != NULL && af_rstore_scen_each(e->rs, shared_json, &arr) != AF_OK) {
            json_decref(arr);
            arr = NULL;
        }
        return arr;
    }
    pthread_mutex_lock(&e->mu);
    for (const struct qentry *q = e->head; arr != NULL && q != NULL; q = q->next) {
        if (json_array_append_new(arr, entry_json(q)) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    pthread_mutex_unlock(&e->mu);
    return arr;
}

static bool user_matches(const char *want, const struct af_cfg_user *user)
{
    return want == NULL ||
           (user != NULL && (strcmp(want, user->username) == 0 || strcmp(want, user->sub) == 0));
}

const struct af_scenario *af_scen_take(struct af_scen_engine *e, unsigned stages,
                                       const char *client_id, const struct af_cfg_user *user,
                                       unsigned *delay_ms)
{
    const struct af_scenario *sc = NULL;
    struct qentry **pp, *q;

    if (delay_ms != NULL)
        *delay_ms = 0;
    if (e == NULL)
        return NULL;
    if (e->rs != NULL)
        return shared_take(e, stages, client_id, user, delay_ms);
    pthread_mutex_lock(&e->mu);
    for (pp = &e->head; *pp != NULL; pp = &(*pp)->next) {
        q = *pp;
        if ((stages & AF_STAGE_BIT(q->sc->stage)) == 0)
            continue;
        if (q->client != NULL && (client_id == NULL || strcmp(q->client, client_id) != 0))
            continue;
        if (!user_matches(q->user, user))
            continue;
        sc = q->sc;
        q->applied++;
        if (delay_ms != NULL)
            *delay_ms = q->delay_ms;
        af_log_info("scenario %s (s-%lu) taken%s%s", sc->name, q->id,
                    client_id ? " for client " : "", client_id ? client_id : "");
        if (q->times > 0)
            q->remaining--; /* times 0: until cleared, no count kept */
        if (q->times > 0 && q->remaining == 0) {
            *pp = q->next;
            qentry_free(q);
            e->n--;
        }
        break;
    }
    pthread_mutex_unlock(&e->mu);
    return sc;
}

/* ---- keys ---- */

af_rc af_scen_sign_with(struct af_server *srv, af_alg alg, af_scen_sign how, json_t *hdr,
                        const char *payload, char **out, struct af_err *err)
{
    struct af_scen_engine *e = srv->scen;
    struct af_key *fresh = NULL;
    const struct af_key *key;
    bool need;
    af_rc rc = AF_OK;

    *out = NULL;
    if (e == NULL || (how != AF_SCEN_SIGN_GHOST && how != AF_SCEN_SIGN_ROTATED)) {
        rc = AF_ERR_SET(err, AF_ERR_STATE, "no scenario key for this signing mode");
        goto out;
    }
    /* Generated outside the mutex (an RSA key takes a while); a rotation
     * always makes a new one, the ghost key the first time and when the
     * signing key's algorithm changed (the admin API). */
    pthread_mutex_lock(&e->mu);
    need = how == AF_SCEN_SIGN_ROTATED || e->ghost == NULL || af_key_alg(e->ghost) != alg;
    pthread_mutex_unlock(&e->mu);
    if (need) {
        rc = af_key_generate(alg, &fresh, err);
        if (rc != AF_OK)
            goto out;
    }
    if (how == AF_SCEN_SIGN_ROTATED) {
        /* published before the token exists: whoever fetches /jwks after
         * receiving it finds the key. The ring takes its own reference,
         * so the key outlives a clear or a later rotation while it signs. */
        rc = srv->keyring ? af_keyring_scenario_publish(srv->keyring, fresh) : AF_ERR_STATE;
        if (rc != AF_OK) {
            AF_ERR_SET(err, rc, "cannot publish the rotated key (%s)", af_rc_str(rc));
            goto out;
        }
        af_log_info("scenario id_token_key_rotated: /jwks now publishes key %s", af_key_kid(fresh));
        if (json_object_set_new(hdr, AF_H_KID, json_string(af_key_kid(fresh))) != 0)
            rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory");
        if (rc == AF_OK)
            rc = af_jws_sign_as_is(fresh, hdr, payload, strlen(payload), out, err);
        goto out;
    }
    /* signed under the mutex: another thread may replace the ghost key the
     * moment it is released */
    pthread_mutex_lock(&e->mu);
    if (fresh != NULL && (e->ghost == NULL || af_key_alg(e->ghost) != alg)) {
        af_key_free(e->ghost);
        e->ghost = fresh;
        fresh = NULL;
    }
    key = e->ghost;
    if (json_object_set_new(hdr, AF_H_KID, json_string(af_key_kid(key))) != 0)
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory");
    if (rc == AF_OK)
        rc = af_jws_sign_as_is(key, hdr, payload, strlen(payload), out, err);
    pthread_mutex_unlock(&e->mu);
out:
    af_key_free(fresh); /* a ghost key generated twice at once, or our own reference */
    return rc;
}

af_rc af_scen_publish_decoy(struct af_server *srv, af_alg alg, struct af_err *err)
{
    struct af_key *decoy = NULL;
    af_rc rc = af_key_generate(alg, &decoy, err);
    if (rc != AF_OK)
        return rc;
    /* published before the token exists, as a rotation is: a client that
     * fetches /jwks on receiving it finds two keys that fit */
    rc = srv->keyring ? af_keyring_scenario_publish(srv->keyring, decoy) : AF_ERR_STATE;
    if (rc != AF_OK)
        AF_ERR_SET(err, rc, "cannot publish the decoy key (%s)", af_rc_str(rc));
    else
        af_log_info("scenario id_token_no_kid_decoy: /jwks now publishes key %s beside the signing "
                    "key",
                    af_key_kid(decoy));
    af_key_free(decoy); /* the ring holds its own reference */
    return rc;
}

/* ---- lifecycle ---- */

static af_rc check_entries(const struct af_config *cfg, struct af_scen_engine *e,
                           struct af_err *err)
{
    const char *src = cfg->source ? cfg->source : "config", *m;
    char msg[256], at[96] = ""; /* an element of issuers: which (docs/issuers.md) */
    af_rc rc = AF_OK;

    if (cfg->path != NULL)
        snprintf(at, sizeof(at), " issuer %s:", cfg->path);

    for (size_t i = 0; i < cfg->nscenarios && rc == AF_OK; i++) {
        const struct af_cfg_scenario *cs = &cfg->scenarios[i];
        struct af_scen_spec spec = {af_scenario_find(cs->name), cs->client, cs->user, cs->times,
                                    cs->delay_ms};
        if (spec.sc == NULL) {
            rc = AF_ERR_SET(err, AF_ERR_INVALID,
                            "%s:%s scenarios[%zu].name: unknown scenario \"%.64s\" (GET "
                            "/admin/scenarios and docs/scenarios.md list them)",
                            src, at, i, cs->name);
            break;
        }
        m = af_scen_spec_check(cfg, NULL, &spec, msg, sizeof(msg));
        if (m != NULL) {
            rc = AF_ERR_SET(err, AF_ERR_INVALID, "%s:%s scenarios[%zu].%s", src, at, i, m);
            break;
        }
        if (e != NULL) {
            rc = af_scen_queue_add(e, &spec, NULL);
            if (rc != AF_OK)
                AF_ERR_SET(err, rc, "%s:%s scenarios[%zu]: cannot queue (%s)", src, at, i,
                           rc == AF_ERR_TOOBIG ? "more than the queue holds" : af_rc_str(rc));
        }
    }
    return rc;
}

af_rc af_scen_config_check(const struct af_config *cfg, struct af_err *err)
{
    return check_entries(cfg, NULL, err);
}

af_rc af_scen_engine_new(struct af_server *srv, struct af_scen_engine **out, struct af_err *err)
{
    struct af_scen_engine *e = calloc(1, sizeof(*e));
    af_rc rc;

    *out = NULL;
    if (e == NULL || pthread_mutex_init(&e->mu, NULL) != 0) {
        free(e);
        e = NULL;
        rc = AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory for the scenario engine");
        goto out;
    }
    e->srv = srv;
    e->rs = af_store_redis(srv->store);
    if (e->rs != NULL) {
        /* the config's scenarios are queued once for all replicas: by the
         * first to start against this Redis (the others only check them) */
        bool first = false;
        rc = af_rstore_first(e->rs, "scenarios", &first);
        if (rc != AF_OK) {
            rc = AF_ERR_SET(err, rc, "store.redis: cannot read the scenario queue");
            goto out;
        }
        rc = check_entries(srv->cfg, first ? e : NULL, err);
        if (rc != AF_OK)
            goto out;
        *out = e;
        return AF_OK;
    }
    rc = check_entries(srv->cfg, e, err);
    if (rc != AF_OK)
        goto out;
    *out = e;
    e = NULL;
out:
    af_scen_engine_free(e);
    return rc;
}

void af_scen_engine_free(struct af_scen_engine *e)
{
    struct qentry *q, *nx;

    if (e == NULL)
        return;
    for (q = e->head; q != NULL; q = nx) {
        nx = q->next;
        qentry_free(q);
    }
    af_key_free(e->ghost);
    pthread_mutex_destroy(&e->mu);
    free(e);
}
