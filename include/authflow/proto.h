/*
 * proto.h - every OAuth 2.0 / OpenID Connect wire name authflow speaks, in
 * one place shared by the server and the probe. Nothing here allocates.
 */
#ifndef AUTHFLOW_PROTO_H
#define AUTHFLOW_PROTO_H

#include <stdbool.h>

#include "authflow/buf.h"
#include "authflow/rc.h"

/* ---- request parameters (RFC 6749 §4.1, OIDC Core §3.1.2.1, RFC 7636) ---- */
#define AF_P_RESPONSE_TYPE         "response_type"
#define AF_P_RESPONSE_MODE         "response_mode"
#define AF_P_CLIENT_ID             "client_id"
#define AF_P_CLIENT_SECRET         "client_secret"
#define AF_P_REDIRECT_URI          "redirect_uri"
#define AF_P_SCOPE                 "scope"
#define AF_P_STATE                 "state"
#define AF_P_NONCE                 "nonce"
#define AF_P_PROMPT                "prompt"
#define AF_P_LOGIN_HINT            "login_hint"
#define AF_P_MAX_AGE               "max_age"
#define AF_P_CODE                  "code"
#define AF_P_CODE_CHALLENGE        "code_challenge"
#define AF_P_CODE_CHALLENGE_METHOD "code_challenge_method"
#define AF_P_CODE_VERIFIER         "code_verifier"
#define AF_P_GRANT_TYPE            "grant_type"
#define AF_P_REFRESH_TOKEN         "refresh_token"
#define AF_P_USERNAME              "username"
#define AF_P_PASSWORD              "password"
#define AF_P_TOKEN                 "token"
#define AF_P_TOKEN_TYPE_HINT       "token_type_hint"
#define AF_P_ID_TOKEN_HINT         "id_token_hint"
#define AF_P_POST_LOGOUT_REDIRECT  "post_logout_redirect_uri"
#define AF_P_ACCESS_TOKEN          "access_token"
#define AF_P_ID_TOKEN              "id_token"
#define AF_P_TOKEN_TYPE            "token_type"
#define AF_P_EXPIRES_IN            "expires_in"
#define AF_P_ISS                   "iss"
#define AF_P_ERROR                 "error"
#define AF_P_ERROR_DESCRIPTION     "error_description"
#define AF_P_ERROR_URI             "error_uri"
#define AF_P_ACTIVE                "active"
#define AF_P_REQUEST               "request"
#define AF_P_REQUEST_URI           "request_uri"
/* not (yet) spoken by authflow, but credentials wherever they appear */
#define AF_P_CLIENT_ASSERTION "client_assertion" /* RFC 7521 §4.2 */
#define AF_P_ASSERTION        "assertion"        /* RFC 7521 §4.1 */
#define AF_P_SUBJECT_TOKEN    "subject_token"    /* RFC 8693 §2.1 */
#define AF_P_ACTOR_TOKEN      "actor_token"      /* RFC 8693 §2.1 */
#define AF_P_DEVICE_CODE      "device_code"      /* RFC 8628 §3.4 */
#define AF_P_LOGOUT_TOKEN     "logout_token"     /* OIDC Back-Channel Logout §2.4 */
#define AF_P_SECRET           "secret"           /* a generic name, secret wherever it appears */

/* ---- values ---- */
#define AF_RT_CODE               "code"
#define AF_RM_QUERY              "query"
#define AF_RM_FRAGMENT           "fragment"
#define AF_RM_FORM_POST          "form_post"
#define AF_GT_AUTHORIZATION_CODE "authorization_code"
#define AF_GT_REFRESH_TOKEN      "refresh_token"
#define AF_GT_CLIENT_CREDENTIALS "client_credentials"
#define AF_GT_PASSWORD           "password"
#define AF_PKCE_S256             "S256"
#define AF_PKCE_PLAIN            "plain"
#define AF_PROMPT_NONE           "none"
#define AF_PROMPT_LOGIN          "login"
#define AF_PROMPT_CONSENT        "consent"
#define AF_TOKEN_TYPE_BEARER     "Bearer"
#define AF_AUTH_BASIC            "client_secret_basic"
#define AF_AUTH_POST             "client_secret_post"
#define AF_AUTH_NONE             "none"
#define AF_APP_TYPE_WEB          "web"
#define AF_APP_TYPE_NATIVE       "native"
#define AF_HINT_ACCESS_TOKEN     "access_token"
#define AF_HINT_REFRESH_TOKEN    "refresh_token"
#define AF_SCOPE_OPENID          "openid"
#define AF_SCOPE_PROFILE         "profile"
#define AF_SCOPE_EMAIL           "email"
#define AF_SCOPE_OFFLINE_ACCESS  "offline_access"
#define AF_SCOPE_ADDRESS         "address"
#define AF_SCOPE_PHONE           "phone"

/* ---- error codes (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1; RFC 7009 §2.2.1;
 *      OIDC Core §3.1.2.6) ---- */
#define AF_E_INVALID_REQUEST           "invalid_request"
#define AF_E_UNAUTHORIZED_CLIENT       "unauthorized_client"
#define AF_E_ACCESS_DENIED             "access_denied"
#define AF_E_UNSUPPORTED_RT            "unsupported_response_type"
#define AF_E_INVALID_SCOPE             "invalid_scope"
#define AF_E_SERVER_ERROR              "server_error"
#define AF_E_TEMP_UNAVAILABLE          "temporarily_unavailable"
#define AF_E_INVALID_CLIENT            "invalid_client"
#define AF_E_INVALID_GRANT             "invalid_grant"
#define AF_E_UNSUPPORTED_GT            "unsupported_grant_type"
#define AF_E_INVALID_TOKEN             "invalid_token"
#define AF_E_INSUFFICIENT_SCOPE        "insufficient_scope"
#define AF_E_UNSUPPORTED_TOKEN_TYPE    "unsupported_token_type"
#define AF_E_LOGIN_REQUIRED            "login_required"
#define AF_E_INTERACTION_REQUIRED      "interaction_required"
#define AF_E_CONSENT_REQUIRED          "consent_required"
#define AF_E_REQUEST_NOT_SUPPORTED     "request_not_supported"
#define AF_E_REQUEST_URI_NOT_SUPPORTED "request_uri_not_supported"

/* ---- JWT claims and JOSE header names ---- */
#define AF_C_ISS       "iss"
#define AF_C_SUB       "sub"
#define AF_C_AUD       "aud"
#define AF_C_EXP       "exp"
#define AF_C_NBF       "nbf"
#define AF_C_IAT       "iat"
#define AF_C_JTI       "jti"
#define AF_C_AUTH_TIME "auth_time"
#define AF_C_NONCE     "nonce"
#define AF_C_AT_HASH   "at_hash"
#define AF_C_C_HASH    "c_hash"
#define AF_C_AZP       "azp"
#define AF_C_SCOPE     "scope"
#define AF_C_CLIENT_ID "client_id"
#define AF_C_SID       "sid"
#define AF_H_ALG       "alg"
#define AF_H_KID       "kid"
#define AF_H_TYP       "typ"
#define AF_H_CRIT      "crit"
#define AF_TYP_AT_JWT  "at+jwt"
#define AF_TYP_JWT     "JWT"
#define AF_JWKS_KEYS   "keys" /* the member of a JWK Set, RFC 7517 §5 */

/* standard user claims (OIDC Core §5.1), released by scope (§5.4) */
#define AF_C_NAME                  "name"
#define AF_C_FAMILY_NAME           "family_name"
#define AF_C_GIVEN_NAME            "given_name"
#define AF_C_MIDDLE_NAME           "middle_name"
#define AF_C_NICKNAME              "nickname"
#define AF_C_PREFERRED_USERNAME    "preferred_username"
#define AF_C_PROFILE               "profile"
#define AF_C_PICTURE               "picture"
#define AF_C_WEBSITE               "website"
#define AF_C_GENDER                "gender"
#define AF_C_BIRTHDATE             "birthdate"
#define AF_C_ZONEINFO              "zoneinfo"
#define AF_C_LOCALE                "locale"
#define AF_C_UPDATED_AT            "updated_at"
#define AF_C_EMAIL                 "email"
#define AF_C_EMAIL_VERIFIED        "email_verified"
#define AF_C_ADDRESS               "address"
#define AF_C_PHONE_NUMBER          "phone_number"
#define AF_C_PHONE_NUMBER_VERIFIED "phone_number_verified"

/* ---- HTTP header names ---- */
#define AF_HDR_AUTHORIZATION    "Authorization"
#define AF_HDR_WWW_AUTHENTICATE "WWW-Authenticate"
#define AF_HDR_CONTENT_TYPE     "Content-Type"
#define AF_HDR_CACHE_CONTROL    "Cache-Control"
#define AF_HDR_PRAGMA           "Pragma"
#define AF_HDR_LOCATION         "Location"
#define AF_HDR_X_FRAME_OPTIONS  "X-Frame-Options"
#define AF_HDR_CSP              "Content-Security-Policy"
#define AF_HDR_ALLOW            "Allow"
#define AF_HDR_SET_COOKIE       "Set-Cookie"
#define AF_HDR_COOKIE           "Cookie"
#define AF_HDR_ACCEPT           "Accept"
#define AF_HDR_EXPECT           "Expect"
#define AF_HDR_HOST             "Host"
#define AF_HDR_CONNECTION       "Connection"
#define AF_HDR_USER_AGENT       "User-Agent"
#define AF_HDR_ORIGIN           "Origin"
#define AF_HDR_ETAG             "ETag"
#define AF_HDR_IF_NONE_MATCH    "If-None-Match"
#define AF_SCHEME_BASIC         "Basic"  /* RFC 7617 */
#define AF_SCHEME_BEARER        "Bearer" /* RFC 6750 §2.1 */
#define AF_CT_JSON              "application/json"
#define AF_CT_FORM              "application/x-www-form-urlencoded"
#define AF_CT_HTML              "text/html; charset=utf-8"
#define AF_CT_JWKS              "application/jwk-set+json"

/* ---- well-known paths ---- */
#define AF_PATH_OIDC_DISCOVERY "/.well-known/openid-configuration"
#define AF_PATH_AS_METADATA    "/.well-known/oauth-authorization-server"

/* ---- authorization server metadata (RFC 8414 §2, OIDC Discovery 1.0 §3,
 *      RFC 9207 §3, OIDC RP-Initiated Logout §2.1) ---- */
#define AF_MD_ISSUER                     "issuer"
#define AF_MD_AUTHORIZATION_ENDPOINT     "authorization_endpoint"
#define AF_MD_TOKEN_ENDPOINT             "token_endpoint"
#define AF_MD_USERINFO_ENDPOINT          "userinfo_endpoint"
#define AF_MD_JWKS_URI                   "jwks_uri"
#define AF_MD_INTROSPECTION_ENDPOINT     "introspection_endpoint"
#define AF_MD_REVOCATION_ENDPOINT        "revocation_endpoint"
#define AF_MD_END_SESSION_ENDPOINT       "end_session_endpoint"
#define AF_MD_RESPONSE_TYPES             "response_types_supported"
#define AF_MD_RESPONSE_MODES             "response_modes_supported"
#define AF_MD_GRANT_TYPES                "grant_types_supported"
#define AF_MD_SUBJECT_TYPES              "subject_types_supported"
#define AF_MD_ID_TOKEN_ALGS              "id_token_signing_alg_values_supported"
#define AF_MD_TOKEN_AUTH_METHODS         "token_endpoint_auth_methods_supported"
#define AF_MD_INTROSPECTION_AUTH_METHODS "introspection_endpoint_auth_methods_supported"
#define AF_MD_REVOCATION_AUTH_METHODS    "revocation_endpoint_auth_methods_supported"
#define AF_MD_CODE_CHALLENGE_METHODS     "code_challenge_methods_supported"
#define AF_MD_SCOPES                     "scopes_supported"
#define AF_MD_CLAIMS                     "claims_supported"
#define AF_MD_ISS_PARAMETER              "authorization_response_iss_parameter_supported"
#define AF_MD_PROMPT_VALUES              "prompt_values_supported"
#define AF_MD_REGISTRATION_ENDPOINT      "registration_endpoint"
#define AF_MD_PAR_ENDPOINT               "pushed_authorization_request_endpoint"
#define AF_MD_DEVICE_ENDPOINT            "device_authorization_endpoint"
#define AF_MD_REQUIRE_PAR                "require_pushed_authorization_requests"
#define AF_MD_REQUEST_PARAMETER          "request_parameter_supported"
#define AF_MD_REQUEST_URI_PARAMETER      "request_uri_parameter_supported"
#define AF_MD_CLAIMS_PARAMETER           "claims_parameter_supported"
#define AF_MD_DPOP_ALGS                  "dpop_signing_alg_values_supported"
#define AF_MD_MTLS_BOUND_TOKENS          "tls_client_certificate_bound_access_tokens"
/* authflowd's own member (RFC 8414 §2 allows more) of a persona issuer's
 * metadata (docs/personas.md): the provider's endpoints its clients use,
 * whether it issues ID tokens and sends iss; authprobe rp's suite reads
 * the endpoints there before the standard ones. */
#define AF_MD_PERSONA          "authflow_persona"
#define AF_MD_PERSONA_NAME     "name"
#define AF_MD_PERSONA_ID_TOKEN "id_token"
#define AF_SUBJECT_PUBLIC      "public"

/* ---- authflowd's login form (POST /login): not OAuth names, but the probe
 *      drives this form in interactive mode, so they live here too. The form
 *      also carries AF_P_USERNAME and AF_P_PASSWORD. ---- */
#define AF_LOGIN_USER          "af_user"   /* a user button: log in as this username */
#define AF_LOGIN_ACTION        "af_action" /* which submit button was pressed */
#define AF_LOGIN_ACTION_LOGIN  "login"
#define AF_LOGIN_ACTION_CANCEL "cancel"
#define AF_LOGIN_CSRF          "af_csrf" /* the form's token, bound to the request and cookie */

/* ---- authflowd's admin API (docs/admin.md): not OAuth names either, but
 *      `authprobe mint` speaks it, so they live here too. ---- */
/* where authprobe (runs and `authprobe mint`) finds the admin API when no
 * --admin option names it (then a run reads the profile's "admin") */
#define AF_ADMIN_ENV_URL     "AUTHFLOW_ADMIN_URL"
#define AF_ADMIN_ENV_SECRET  "AUTHFLOW_ADMIN_SECRET" /* its Bearer secret */
#define AF_ADMIN_PATH_TOKENS "/admin/tokens"         /* POST: mint a token */
/* GET: {"status": "ok", "issuer": ISSUER}: which provider the admin API
 * belongs to (a run checks it before its first check) */
#define AF_ADMIN_PATH_HEALTHZ   "/admin/healthz"
#define AF_ADMIN_HEALTHZ_STATUS "status"
#define AF_ADMIN_HEALTHZ_ISSUER "issuer"
/* the mint request members (the response reuses access_token, token_type,
 * expires_in, and adds header, claims, defects) */
#define AF_MINT_USER    "user"
#define AF_MINT_CLIENT  "client"
#define AF_MINT_SCOPE   "scope"
#define AF_MINT_AUD     "aud"
#define AF_MINT_TTL     "ttl"
#define AF_MINT_CLAIMS  "claims"
#define AF_MINT_DEFECTS "defects"
#define AF_MINT_ALG     "alg"
#define AF_MINT_HEADER  "header"
/* the defects a minted token can carry */
#define AF_DEFECT_N_EXPIRED             "expired"
#define AF_DEFECT_N_NOT_YET_VALID       "not_yet_valid"
#define AF_DEFECT_N_WRONG_AUD           "wrong_aud"
#define AF_DEFECT_N_WRONG_ISS           "wrong_iss"
#define AF_DEFECT_N_BAD_SIGNATURE       "bad_signature"
#define AF_DEFECT_N_ALG_NONE            "alg_none"
#define AF_DEFECT_N_ALG_NONE_MIXED_CASE "alg_none_mixed_case"
#define AF_DEFECT_N_HS256_PUBLIC_KEY    "hs256_public_key"
#define AF_DEFECT_N_UNKNOWN_KID         "unknown_kid"
#define AF_DEFECT_N_WRONG_TYP           "wrong_typ"
#define AF_DEFECT_N_NO_SCOPE            "no_scope"
#define AF_DEFECT_N_REVOKED             "revoked"
#define AF_DEFECT_N_NO_EXP              "no_exp"
#define AF_DEFECT_N_EXP_STRING          "exp_string"
#define AF_DEFECT_N_AUD_NULL            "aud_null"
#define AF_DEFECT_N_AUD_TRUE            "aud_true"
#define AF_DEFECT_N_NBF_STRING          "nbf_string"
/* scenarios (docs/scenarios.md): POST /admin/scenarios members; the names
 * themselves are rows of authflowd's scenario table (src/server/scenario.c) */
#define AF_ADMIN_PATH_SCENARIOS "/admin/scenarios" /* GET lists, POST queues, DELETE clears */
#define AF_SCEN_ID              "id"
#define AF_SCEN_NAME            "name"
#define AF_SCEN_CLIENT          "client"
#define AF_SCEN_USER            "user"
#define AF_SCEN_TIMES           "times"
#define AF_SCEN_DELAY_MS        "delay_ms"
/* keys at run time: GET /admin/keys lists, POST adds, DELETE ?kid= retires;
 * POST /admin/keys/signing {"kid"} picks the signing key */
#define AF_ADMIN_PATH_KEYS         "/admin/keys"
#define AF_ADMIN_PATH_KEYS_SIGNING "/admin/keys/signing"
#define AF_KEYS_ALG                "alg"
#define AF_KEYS_PEM                "pem"
#define AF_KEYS_KID                "kid"
#define AF_KEYS_SIGN               "sign"
#define AF_KEYS_GRACE              "grace_seconds"
/* the request ledger: GET /admin/ledger query parameters and answer */
#define AF_ADMIN_PATH_LEDGER "/admin/ledger" /* GET queries, DELETE clears */
#define AF_LEDGER_SINCE      "since"
#define AF_LEDGER_PATH       "path"
#define AF_LEDGER_METHOD     "method"
#define AF_LEDGER_CLIENT_ID  "client_id"
#define AF_LEDGER_CLIENT     "client" /* a synonym of client_id */
#define AF_LEDGER_CODE       "code"
#define AF_LEDGER_LIMIT      "limit"
#define AF_LEDGER_ENTRIES    "entries"
#define AF_LEDGER_NEXT       "next"
#define AF_LEDGER_COUNT      "count"
#define AF_LEDGER_DROPPED    "dropped"
#define AF_LEDGER_ESCAPED    "escaped" /* values not UTF-8, shown with \xNN */
/* An entry's member for a request the connection guard cut, and its values */
#define AF_LEDGER_CUT         "cut"
#define AF_LEDGER_CUT_TIMEOUT "request_timeout"  /* not received in time: 408 */
#define AF_LEDGER_CUT_SHED    "connection_limit" /* made room for a new client: 408 */
#define AF_LEDGER_CUT_BODY    "body_too_large"   /* a chunked body passed the cap: 413 */
/* clients and users at run time (docs/admin.md): GET lists, POST adds or
 * replaces (the body is one element of the config's "clients" / "users"),
 * DELETE with the query parameter removes */
#define AF_ADMIN_PATH_CLIENTS "/admin/clients"
#define AF_ADMIN_PATH_USERS   "/admin/users"
#define AF_ADMIN_Q_CLIENT_ID  "client_id"
#define AF_ADMIN_Q_USERNAME   "username"
/* An entry's correlation and the facts the findings read (docs/admin.md) */
#define AF_LEDGER_FLOW              "flow"                  /* the grant id of the request's flow */
#define AF_LEDGER_REPLAYED          "replayed"              /* what came again: */
#define AF_LEDGER_REPLAYED_CODE     "code"                  /* a used authorization code */
#define AF_LEDGER_REPLAYED_REFRESH  "refresh_token"         /* a rotated refresh token */
#define AF_LEDGER_REDIRECT_MISMATCH "redirect_uri_mismatch" /* /token against /authorize: */
#define AF_LEDGER_REDIRECT_MISSING  "missing"               /* sent at /authorize, not at /token */
#define AF_LEDGER_REDIRECT_DIFFERS  "differs"               /* another value at /token */
#define AF_LEDGER_STATE_RETURNED    "state_returned"        /* the state the redirect carried: */
#define AF_LEDGER_STATE_AS_SENT     "as_sent"               /* the client's */
#define AF_LEDGER_STATE_CHANGED     "changed"               /* altered by a scenario */
#define AF_LEDGER_STATE_DROPPED     "dropped"               /* left out by a scenario */
#define AF_LEDGER_STATE_UNSOLICITED "unsolicited"           /* added by a scenario; none was sent */
/* GET /admin/findings (docs/admin.md): query parameters and answer */
#define AF_ADMIN_PATH_FINDINGS "/admin/findings"
#define AF_FINDINGS_SINCE      "since"
#define AF_FINDINGS_CLIENT     "client"
#define AF_FINDINGS_USER       "user"
#define AF_FINDINGS_ID         "id"
#define AF_FINDINGS_FINDINGS   "findings"
#define AF_FINDINGS_COUNT      "count"
#define AF_FINDINGS_SCANNED    "scanned"
/* GET /admin/inspector: the HTML page over the ledger and the findings */
#define AF_ADMIN_PATH_INSPECTOR "/admin/inspector"

/* ---- provider personas (docs/personas.md): the wire names of the
 *      dialects authflowd can speak besides the standard one ---- */
/* the config values of "persona" */
#define AF_PERSONA_N_STANDARD "standard"
#define AF_PERSONA_N_TIKTOK   "tiktok"
#define AF_PERSONA_N_GITHUB   "github"
#define AF_PERSONA_N_GOOGLE   "google"
/* TikTok Login Kit v2 and its Display API */
#define AF_TT_PATH_AUTHORIZE     "/v2/auth/authorize/"
#define AF_TT_PATH_TOKEN         "/v2/oauth/token/"
#define AF_TT_PATH_USER_INFO     "/v2/user/info/"
#define AF_TT_P_CLIENT_KEY       "client_key"
#define AF_TT_P_SCOPES           "scopes" /* the granted scopes on the redirect back */
#define AF_TT_P_DISABLE_AUTO     "disable_auto_auth"
#define AF_TT_P_FIELDS           "fields"
#define AF_TT_OPEN_ID            "open_id"
#define AF_TT_UNION_ID           "union_id"
#define AF_TT_REFRESH_EXPIRES_IN "refresh_expires_in"
#define AF_TT_LOG_ID             "log_id"
#define AF_TT_DATA               "data"
#define AF_TT_USER               "user"
#define AF_TT_CODE               "code"
#define AF_TT_MESSAGE            "message"
#define AF_TT_OK                 "ok"
#define AF_TT_E_TOKEN_INVALID    "access_token_invalid"
#define AF_TT_E_INVALID_PARAMS   "invalid_params"
#define AF_TT_E_SCOPE_NOT_AUTH   "scope_not_authorized"
#define AF_TT_E_SCOPE_MISSED     "scope_permission_missed"
#define AF_TT_E_INTERNAL         "internal_error"
#define AF_TT_SCOPE_BASIC        "user.info.basic"
#define AF_TT_SCOPE_PROFILE      "user.info.profile"
#define AF_TT_SCOPE_STATS        "user.info.stats"
/* GitHub OAuth apps, with the REST API under the GitHub Enterprise prefix */
#define AF_GH_PATH_AUTHORIZE   "/login/oauth/authorize"
#define AF_GH_PATH_TOKEN       "/login/oauth/access_token"
#define AF_GH_API_PREFIX       "/api/v3"
#define AF_GH_PATH_USER        AF_GH_API_PREFIX "/user"
#define AF_GH_PATH_USER_EMAILS AF_GH_API_PREFIX "/user/emails"
#define AF_GH_P_LOGIN          "login"
#define AF_GH_P_ALLOW_SIGNUP   "allow_signup"
#define AF_GH_AUTH_TOKEN       "token" /* Authorization: token X */
#define AF_GH_E_BAD_CODE       "bad_verification_code"
#define AF_GH_E_BAD_CLIENT     "incorrect_client_credentials"
#define AF_GH_E_REDIRECT       "redirect_uri_mismatch"
#define AF_GH_MESSAGE          "message"
#define AF_GH_DOC_URL          "documentation_url"
#define AF_GH_STATUS           "status"
#define AF_GH_BAD_CREDENTIALS  "Bad credentials"
#define AF_GH_REQUIRES_AUTH    "Requires authentication"
#define AF_GH_NOT_FOUND        "Not Found"
#define AF_GH_DOCS_REST        "https://docs.github.com/rest"
#define AF_GH_DOCS_TOKEN_ERRORS                                                                    \
    "https://docs.github.com/apps/managing-oauth-apps/"                                            \
    "troubleshooting-oauth-app-access-token-request-errors/"
#define AF_GH_DOCS_AUTHZ_ERRORS                                                                    \
    "https://docs.github.com/apps/managing-oauth-apps/"                                            \
    "troubleshooting-authorization-request-errors/"
#define AF_HDR_X_OAUTH_SCOPES  "X-OAuth-Scopes"
#define AF_GH_SCOPE_USER       "user"
#define AF_GH_SCOPE_USER_EMAIL "user:email"
/* Google's OAuth 2.0 for web server apps and its OpenID Connect, with the
 * paths of accounts.google.com, oauth2.googleapis.com (/token, the
 * standard endpoint's) and openidconnect.googleapis.com on one origin */
#define AF_GG_PATH_AUTHORIZE    "/o/oauth2/v2/auth"
#define AF_GG_PATH_AUTHORIZE_V1 "/o/oauth2/auth"
#define AF_GG_PATH_USERINFO     "/v1/userinfo"
#define AF_GG_PATH_USERINFO_V3  "/oauth2/v3/userinfo"
#define AF_GG_P_ACCESS_TYPE     "access_type"
#define AF_GG_ACCESS_ONLINE     "online" /* the default: no refresh token */
#define AF_GG_ACCESS_OFFLINE    "offline"
#define AF_GG_P_INCLUDE_GRANTED "include_granted_scopes"
#define AF_GG_TRUE              "true"
#define AF_GG_FALSE             "false"
#define AF_GG_SCOPE_EMAIL       "https://www.googleapis.com/auth/userinfo.email"
#define AF_GG_SCOPE_PROFILE     "https://www.googleapis.com/auth/userinfo.profile"
#define AF_GG_C_HD              "hd" /* the hosted domain of a Workspace user */

/* af_proto_error_code_valid: true when s uses only the characters RFC 6749
 * allows in an error code (%x20-21 / %x23-5B / %x5D-7E) and is not empty. */
int af_proto_error_code_valid(const char *s);

/* ---- secrets: the one list of names (parameters, JSON members, headers)
 *      whose values are never shown whole, by the server's ledger nor by
 *      the probe's trace and messages ---- */
typedef enum {
    AF_SECRET_NONE = 0,   /* not a secret: shown as it is */
    AF_SECRET_CREDENTIAL, /* never shown, not even in part */
    AF_SECRET_VERIFIER,   /* a PKCE verifier: its length at most */
    AF_SECRET_TOKEN,      /* a code or token: at most a short prefix */
} af_secret_kind;

/* af_proto_secret_kind: what kind of secret the value of name is (names
 * compared without case, as header names are). */
af_secret_kind af_proto_secret_kind(const char *name);

/* af_proto_is_secret_param: name's value is a secret of any kind. */
bool af_proto_is_secret_param(const char *name);

/* af_pkce_s256: append BASE64URL(SHA256(verifier)) (RFC 7636 §4.2) to out. */
af_rc af_pkce_s256(const char *verifier, struct af_buf *out) AF_WARN_UNUSED;

/* af_pkce_verifier_valid: RFC 7636 §4.1: 43..128 characters of
 * [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~". */
int af_pkce_verifier_valid(const char *v);

#endif
