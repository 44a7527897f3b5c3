/*
 * findings.c - client behaviour the ledger shows, as findings
 * (docs/admin.md, "GET /admin/findings").
 *
 * One pass over the entries, oldest first: each row of `rows` looks at
 * each entry, and a small map of flows (a flow is a grant: the ledger's
 * `flow`) carries what an earlier entry of the flow showed to a later one.
 * Every row reads facts the handlers recorded when they knew them (pkce,
 * client_auth, replayed, redirect_uri_mismatch, state_returned, ...), never
 * a reason's wording.
 *
 * Left out on purpose, because the ledger cannot show them: whether an
 * app's callback checked the state of a callback someone else forged
 * (that request goes to the app, not to authflowd; only a state authflowd
 * itself changed is known), and whether a client checked iss or the ID
 * token's nonce (checks made inside the client).
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "authflow/proto.h"
#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/core.h"
#include "server/findings.h"
#include "server/registry.h"
#include "server/routes.h"

/* Room for one explanation: a client id, a reason (both cut). */
#define EXPLAIN_MAX 768

struct scan {
    const struct af_server *srv;
    const char *prefix; /* what srv's requests' paths start with (core.h, docs/issuers.md) */
    const struct af_findings_filter *f;
    json_t *out;   /* the findings, oldest first */
    json_t *flows; /* flow -> {"authz": seq, "state": word, "csrf": bool,
                      "tokens": [seq...], "reported": bool} */
    af_rc rc;
};

struct row;
typedef void (*match_fn)(struct scan *sc, const struct row *r, const json_t *e);

struct row {
    struct af_finding_def def;
    const char *text; /* the explanation, after the client's id */
    match_fn match;
};

/* ---- reading an entry ---- */

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static bool str_eq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* path_is: whether e was a request to path of sc's issuer (the ledger
 * shows the path as sent: an issuer's own path first, docs/issuers.md). */
static bool path_is(const struct scan *sc, const json_t *e, const char *path)
{
    const char *p = str(e, "path");
    size_t n = strlen(sc->prefix);

    return p != NULL && strncmp(p, sc->prefix, n) == 0 && str_eq(p + n, path);
}

static json_int_t seq_of(const json_t *e)
{
    return json_integer_value(json_object_get(e, "seq"));
}

/* param: a parameter of the request, query first then form; NULL when
 * absent or repeated (an array). */
static const char *param(const json_t *e, const char *name)
{
    const char *v = str(json_object_get(e, "query"), name);
    return v != NULL ? v : str(json_object_get(e, "form"), name);
}

/* pkce_flag: a member of the entry's pkce object. */
static const json_t *pkce_flag(const json_t *e, const char *name)
{
    return json_object_get(json_object_get(e, "pkce"), name);
}

/* oidc_nonce: an OpenID Connect request with a nonce, the protection RFC
 * 9700 §2.1 and §2.1.1 accept in place of PKCE. */
static bool oidc_nonce(const json_t *e)
{
    const char *scope = param(e, AF_P_SCOPE), *nonce = param(e, AF_P_NONCE);
    return scope != NULL && af_str_has_space_token(scope, AF_SCOPE_OPENID) && nonce != NULL &&
           *nonce != '\0';
}

/* client_public: the entry's client is configured as public (no secret);
 * -1 when it is not configured. */
static int client_public(const struct scan *sc, const json_t *e)
{
    const char *id = str(e, "client_id");
    const struct af_cfg_client *c = id != NULL ? af_client_find(sc->srv, id) : NULL;
    return c == NULL ? -1 : c->auth_method == AF_CLIENT_AUTH_NONE;
}

/* ---- emitting ---- */

/* emit: a finding of r for entry e, unless the filter leaves it out.
 * seqs (borrowed; NULL: e's seq alone) lists the entries that show it;
 * detail (may be NULL) ends the explanation. */
static void emit(struct scan *sc, const struct row *r, const json_t *e, const json_t *seqs,
                 const char *detail)
{
    const char *client = str(e, "client_id"), *sub = str(e, "sub");
    char text[EXPLAIN_MAX];
    json_t *own = NULL, *o;
    int n;

    if (sc->rc != AF_OK || (sc->f->client != NULL && !str_eq(client, sc->f->client)) ||
        (sc->f->sub != NULL && !str_eq(sub, sc->f->sub)))
        return;
    if (seqs == NULL) {
        own = json_pack("[I]", seq_of(e));
        seqs = own;
    }
    n = snprintf(text, sizeof(text), "%.128s %s", client != NULL ? client : "an unknown client",
                 r->text);
    if (detail != NULL && n >= 0 && (size_t)n < sizeof(text))
        snprintf(text + n, sizeof(text) - (size_t)n, " (%s)", detail);
    o = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?, s:O, s:s}", "id", r->def.id, "severity",
                  r->def.severity, "clause", r->def.clause, "client", client, "user", sub, "flow",
                  str(e, AF_LEDGER_FLOW), "entries", seqs, "explanation", text);
    if (o == NULL || json_array_append_new(sc->out, o) != 0)
        sc->rc = AF_ERR_NOMEM;
    json_decref(own);
}

/* flow_of: the record of e's flow, borrowed; NULL when e names none or
 * no earlier entry of it was seen. */
static json_t *flow_of(const struct scan *sc, const json_t *e)
{
    const char *flow = str(e, AF_LEDGER_FLOW);
    return flow != NULL ? json_object_get(sc->flows, flow) : NULL;
}

/* earlier_with: the seqs of the flow's earlier /token requests, then e's;
 * new reference (NULL on allocation failure). */
static json_t *earlier_with(const struct scan *sc, const json_t *e)
{
    const json_t *tokens = json_object_get(flow_of(sc, e), "tokens");
    json_t *seqs = json_is_array(tokens) ? json_copy((json_t *)tokens) : json_array();

    if (seqs != NULL && json_array_append_new(seqs, json_integer(seq_of(e))) != 0) {
        json_decref(seqs);
        seqs = NULL;
    }
    return seqs;
}

/* track: what later entries of e's flow need to know of e. */
static void track(struct scan *sc, const json_t *e)
{
    const char *flow = str(e, AF_LEDGER_FLOW), *state = str(e, AF_LEDGER_STATE_RETURNED);
    json_t *fl, *tokens;

    if (flow == NULL || sc->rc != AF_OK)
        return;
    fl = json_object_get(sc->flows, flow);
    if ((path_is(sc, e, AF_EP_AUTHORIZE) || path_is(sc, e, AF_EP_LOGIN)) && state != NULL) {
        /* the redirect that carried the flow's code to the client */
        bool csrf = json_is_true(pkce_flag(e, "sent")) || oidc_nonce(e);
        fl = json_pack("{s:I, s:s, s:b, s:[]}", "authz", seq_of(e), "state", state, "csrf", csrf,
                       "tokens");
        if (fl == NULL || json_object_set_new(sc->flows, flow, fl) != 0)
            sc->rc = AF_ERR_NOMEM;
        return;
    }
    if (!path_is(sc, e, AF_EP_TOKEN))
        return;
    if (fl == NULL) {
        fl = json_pack("{s:[]}", "tokens");
        if (fl == NULL || json_object_set_new(sc->flows, flow, fl) != 0) {
            sc->rc = AF_ERR_NOMEM;
            return;
        }
    }
    tokens = json_object_get(fl, "tokens");
    if (json_array_append_new(tokens, json_integer(seq_of(e))) != 0)
        sc->rc = AF_ERR_NOMEM;
}

/* ---- the rows' tests ---- */

/* no_code_challenge: an authorization request authflowd checked for PKCE
 * (the pkce fact is there) that had no code_challenge. */
static bool no_code_challenge(const struct scan *sc, const json_t *e)
{
    return path_is(sc, e, AF_EP_AUTHORIZE) && json_is_false(pkce_flag(e, "sent"));
}

static void m_no_pkce(struct scan *sc, const struct row *r, const json_t *e)
{
    if (no_code_challenge(sc, e) && client_public(sc, e) == 1)
        emit(sc, r, e, NULL, NULL);
}

static void m_no_pkce_confidential(struct scan *sc, const struct row *r, const json_t *e)
{
    if (no_code_challenge(sc, e) && client_public(sc, e) == 0 && !oidc_nonce(e))
        emit(sc, r, e, NULL, NULL);
}

static void m_pkce_plain(struct scan *sc, const struct row *r, const json_t *e)
{
    if (path_is(sc, e, AF_EP_AUTHORIZE) &&
        str_eq(json_string_value(pkce_flag(e, "method")), AF_PKCE_PLAIN))
        emit(sc, r, e, NULL, NULL);
}

static void m_verifier_missing(struct scan *sc, const struct row *r, const json_t *e)
{
    /* method is set at /token only when the code was issued with a challenge */
    if (path_is(sc, e, AF_EP_TOKEN) && json_is_string(pkce_flag(e, "method")) &&
        json_is_false(pkce_flag(e, "sent")))
        emit(sc, r, e, NULL, NULL);
}

static void m_secret_in_query(struct scan *sc, const struct row *r, const json_t *e)
{
    char where[128];

    if (json_object_get(json_object_get(e, "query"), AF_P_CLIENT_SECRET) == NULL &&
        !str_eq(str(e, "client_auth"), AF_LEDGER_SECRET_IN_QUERY))
        return;
    snprintf(where, sizeof(where), "at %.64s", str(e, "path") ? str(e, "path") : "?");
    emit(sc, r, e, NULL, where);
}

static void m_two_methods(struct scan *sc, const struct row *r, const json_t *e)
{
    const json_t *form = json_object_get(e, "form");

    if (str_eq(str(e, "client_auth"), AF_AUTH_BASIC) &&
        (json_object_get(form, AF_P_CLIENT_SECRET) != NULL ||
         json_object_get(form, AF_P_CLIENT_ASSERTION) != NULL))
        emit(sc, r, e, NULL, NULL);
}

static void m_replayed(struct scan *sc, const struct row *r, const json_t *e, const char *what)
{
    json_t *seqs;

    if (!path_is(sc, e, AF_EP_TOKEN) || !str_eq(str(e, AF_LEDGER_REPLAYED), what))
        return;
    seqs = earlier_with(sc, e);
    if (seqs == NULL) {
        sc->rc = AF_ERR_NOMEM;
        return;
    }
    emit(sc, r, e, seqs, NULL);
    json_decref(seqs);
}

static void m_code_reused(struct scan *sc, const struct row *r, const json_t *e)
{
    m_replayed(sc, r, e, AF_LEDGER_REPLAYED_CODE);
}

static void m_refresh_replayed(struct scan *sc, const struct row *r, const json_t *e)
{
    m_replayed(sc, r, e, AF_LEDGER_REPLAYED_REFRESH);
}

static void m_redirect_mismatch(struct scan *sc, const struct row *r, const json_t *e)
{
    const char *how = str(e, AF_LEDGER_REDIRECT_MISMATCH);
    const json_t *authz = json_object_get(flow_of(sc, e), "authz");
    json_t *seqs;

    if (how == NULL || !path_is(sc, e, AF_EP_TOKEN))
        return;
    seqs = authz != NULL ? json_pack("[O,I]", authz, seq_of(e)) : json_pack("[I]", seq_of(e));
    if (seqs == NULL) {
        sc->rc = AF_ERR_NOMEM;
        return;
    }
    emit(sc, r, e, seqs,
         str_eq(how, AF_LEDGER_REDIRECT_MISSING) ? "no redirect_uri at /token"
                                                 : "another redirect_uri at /token");
    json_decref(seqs);
}

static void m_state_not_checked(struct scan *sc, const struct row *r, const json_t *e)
{
    json_t *fl = flow_of(sc, e), *seqs;
    const char *state = str(fl, "state");

    /* the first redemption of a code whose redirect carried a state the
     * client had not sent, in a flow with nothing else against CSRF */
    if (!path_is(sc, e, AF_EP_TOKEN) ||
        !str_eq(param(e, AF_P_GRANT_TYPE), AF_GT_AUTHORIZATION_CODE) ||
        str(e, AF_LEDGER_REPLAYED) != NULL || json_object_get(fl, "authz") == NULL ||
        json_is_true(json_object_get(fl, "csrf")) || json_is_true(json_object_get(fl, "reported")))
        return;
    if (!str_eq(state, AF_LEDGER_STATE_CHANGED) && !str_eq(state, AF_LEDGER_STATE_DROPPED))
        return;
    seqs = json_pack("[O,I]", json_object_get(fl, "authz"), seq_of(e));
    if (seqs == NULL || json_object_set_new(fl, "reported", json_true()) != 0) {
        json_decref(seqs);
        sc->rc = AF_ERR_NOMEM;
        return;
    }
    emit(sc, r, e, seqs,
         str_eq(state, AF_LEDGER_STATE_CHANGED) ? "the callback got a changed state"
                                                : "the callback got no state");
    json_decref(seqs);
}

static void m_bearer_in_query(struct scan *sc, const struct row *r, const json_t *e)
{
    if (path_is(sc, e, AF_EP_USERINFO) && str_eq(str(e, "bearer"), "query"))
        emit(sc, r, e, NULL, NULL);
}

static void m_userinfo_refused(struct scan *sc, const struct row *r, const json_t *e)
{
    if (path_is(sc, e, AF_EP_USERINFO) && json_integer_value(json_object_get(e, "status")) == 401 &&
        str_eq(str(e, "error"), AF_E_INVALID_TOKEN))
        emit(sc, r, e, NULL, str(e, "reason"));
}

/* The definitions: id, severity, clause, what the clause asks; then the
 * explanation and the test. docs/admin.md lists the same rows. */
static const struct row rows[] = {
    {{"no_pkce", AF_FINDING_MUST, "RFC 9700 §2.1.1", "public clients MUST use PKCE"},
     "(a public client) sent an authorization request without code_challenge",
     m_no_pkce},
    {{"no_pkce_confidential", AF_FINDING_SHOULD, "RFC 9700 §2.1.1",
      "PKCE is RECOMMENDED for confidential clients (an OpenID Connect nonce MAY stand in)"},
     "sent an authorization request without code_challenge, and without an OpenID Connect "
     "nonce to stand in for it",
     m_no_pkce_confidential},
    {{"pkce_plain", AF_FINDING_SHOULD, "RFC 9700 §2.1.1",
      "clients SHOULD use a challenge method that does not expose the verifier (S256)"},
     "sent a plain code_challenge: the verifier travels in the authorization request",
     m_pkce_plain},
    {{"pkce_verifier_missing", AF_FINDING_MUST, "RFC 7636 §4.5",
      "the token request REQUIRES the code_verifier when a code_challenge was sent"},
     "redeemed a code issued for a code_challenge without sending the code_verifier",
     m_verifier_missing},
    {{"client_secret_in_query", AF_FINDING_MUST, "RFC 6749 §2.3.1",
      "client credentials MUST NOT be included in the request URI"},
     "sent its client_secret in the URL query",
     m_secret_in_query},
    {{"two_client_auth_methods", AF_FINDING_MUST, "RFC 6749 §2.3",
      "a client MUST NOT use more than one authentication method in each request"},
     "authenticated with HTTP Basic and a credential in the body in the same request",
     m_two_methods},
    {{"code_reused", AF_FINDING_MUST, "RFC 6749 §4.1.2",
      "the client MUST NOT use the authorization code more than once"},
     "redeemed an authorization code that was already used; authflowd revoked its grant",
     m_code_reused},
    {{"refresh_token_replayed", AF_FINDING_MUST, "RFC 6749 §6; RFC 9700 §4.14.2",
      "the client MUST discard the old refresh token once a new one is issued"},
     "presented a refresh token that had already been rotated (kept after its successor "
     "came, or leaked); authflowd revoked its grant",
     m_refresh_replayed},
    {{"redirect_uri_mismatch", AF_FINDING_MUST, "RFC 6749 §4.1.3",
      "redirect_uri at /token is REQUIRED when sent at /authorize, and MUST be identical"},
     "redeemed a code without the redirect_uri it sent at /authorize",
     m_redirect_mismatch},
    {{"state_not_checked", AF_FINDING_MUST, "RFC 6749 §10.12; RFC 9700 §2.1",
      "without PKCE or an OpenID Connect nonce, the state MUST protect the redirection endpoint "
      "against CSRF"},
     "redeemed a code whose callback carried a state it never sent, in a flow with neither "
     "PKCE nor a nonce",
     m_state_not_checked},
    {{"bearer_in_query", AF_FINDING_MUST, "RFC 9700 §4.3.2",
      "clients MUST NOT pass access tokens in a URI query parameter"},
     "sent its access token to /userinfo in the URL query",
     m_bearer_in_query},
    {{"userinfo_token_refused", AF_FINDING_NOTE, "RFC 6750 §3.1",
      "invalid_token: the token is expired, revoked, malformed or invalid for other reasons"},
     "presented an access token that /userinfo refused",
     m_userinfo_refused},
};

#define NROWS (sizeof(rows) / sizeof(rows[0]))

const struct af_finding_def *af_findings_def_at(size_t i)
{
    return i < NROWS ? &rows[i].def : NULL;
}

const struct af_finding_def *af_findings_def(const char *id)
{
    for (size_t i = 0; id != NULL && i < NROWS; i++) {
        if (strcmp(rows[i].def.id, id) == 0)
            return &rows[i].def;
    }
    return NULL;
}

af_rc af_findings_compute(const struct af_server *srv, const json_t *entries,
                          const struct af_findings_filter *f, json_t **out)
{
    struct scan sc = {
        srv,  srv != NULL && srv->prefix != NULL ? srv->prefix : "", f, json_array(), json_object(),
        AF_OK};
    size_t i, k;

    *out = NULL;
    if (sc.out == NULL || sc.flows == NULL)
        sc.rc = AF_ERR_NOMEM;
    for (i = 0; sc.rc == AF_OK && i < json_array_size(entries); i++) {
        const json_t *e = json_array_get(entries, i);
        for (k = 0; k < NROWS; k++) {
            if (f->id == NULL || strcmp(f->id, rows[k].def.id) == 0)
                rows[k].match(&sc, &rows[k], e);
        }
        track(&sc, e);
    }
    if (sc.rc == AF_OK) {
        *out = sc.out;
        sc.out = NULL;
    }
    json_decref(sc.out);
    json_decref(sc.flows);
    return sc.rc;
}
