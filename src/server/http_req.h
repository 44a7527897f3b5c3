/*
 * http_req.h - the request a handler reads and the response it fills
 * (http_req.c), with what the handler learnt for the ledger.
 *
 * Handlers never touch libmicrohttpd: they read a struct af_req and fill a
 * struct af_resp; server.c turns that into an MHD response. This keeps each
 * handler small and testable. Private to src/server/.
 */
#ifndef AUTHFLOW_SERVER_HTTP_REQ_H
#define AUTHFLOW_SERVER_HTTP_REQ_H

#include <stdbool.h>

#include <jansson.h>

#include "authflow/buf.h"
#include "authflow/rc.h"
#include "authflow/util.h"

typedef enum { AF_M_GET, AF_M_POST, AF_M_DELETE, AF_M_OTHER } af_method;

struct af_doc;      /* doc.h: a shared, precomputed body */
struct af_scenario; /* scenario.h: one row of the scenario table */
struct af_server;   /* core.h */

/* facts.client_auth when the client's secret came in the URL query. */
#define AF_LEDGER_SECRET_IN_QUERY "secret_in_query"

/* The longest flow (grant id) an entry shows; the store's are 22 chars. */
#define AF_FLOW_MAX 63

/* What a handler learnt about a request, for the ledger (ledger.c) and the
 * delay of a scenario. Handlers fill what applies; server.c records the
 * request once the handler ran. */
struct af_req_facts {
    char *client_id;         /* owned: from client authentication, a token or the
                                parameters; NULL when none was named */
    const char *client_auth; /* static: AF_AUTH_BASIC, AF_AUTH_POST, AF_AUTH_NONE or
                                AF_LEDGER_SECRET_IN_QUERY; NULL: none attempted */
    const char *bearer;      /* static: where an access token came from: "header",
                                "query" or "body"; NULL: none */
    bool pkce_sent;          /* code_challenge (/authorize) or code_verifier (/token) */
    const char *pkce_method; /* static AF_PKCE_* or NULL */
    int pkce_verified;       /* /token: 1 matched, 0 refused, -1 not checked */
    bool pkce_seen;          /* the endpoint deals with PKCE: report the pkce fields */
    const char *sub;         /* borrowed from the config: the user of the flow; may be NULL */
    const struct af_scenario *scenario; /* the scenario applied to this request, or NULL */
    unsigned delay_ms;                  /* > 0: server.c holds the answer back this long */
    const char *cut; /* static AF_LEDGER_CUT_*: the guard cut the request (408, or 413
                        in the middle of a body); NULL: answered as usual */
    /* The flow the request belongs to: the grant id of the code issued
     * (/authorize, /login), redeemed (/token), of the refresh token or the
     * access token presented (/token, /userinfo); "" when unknown. Set
     * with af_req_set_flow. */
    char flow[AF_FLOW_MAX + 1];
    const char *replayed;          /* static AF_LEDGER_REPLAYED_*: a used code or a rotated refresh
                                      token came again (and its grant was revoked); NULL: no */
    const char *redirect_mismatch; /* static AF_LEDGER_REDIRECT_*: /token's redirect_uri
                                      against /authorize's (RFC 6749 §4.1.3); NULL: agreed */
    const char *state_returned;    /* static AF_LEDGER_STATE_*: the state the redirect to
                                      the client carried; NULL: no redirect with a code */
    char *granted_scope;           /* owned: /authorize: the scope of the code issued (a
                                      persona's redirect names it); NULL: no code */
};

struct af_req {
    struct af_server *srv; /* borrowed */
    void *conn;            /* the MHD connection; use af_req_header() */
    af_method method;
    const char *method_str; /* borrowed from MHD */
    char *path;             /* owned: the URL path without query */
    char *raw_query;        /* owned: the raw query ("" when none) */
    struct af_params query; /* decoded query parameters */
    struct af_params form;  /* decoded form body (POST, form content type) */
    struct af_buf body;     /* raw body, capped at cfg->max_body */
    bool body_too_big;
    bool form_from_json; /* a persona read a JSON body into form (GitHub's token endpoint):
                            not refused for its Content-Type */
    struct af_req_facts facts;
    /* a request built without a connection (unit tests, fuzz harnesses):
     * its headers and cookies, borrowed; NULL: none */
    const struct af_params *hdrs, *cookies;
};

/* af_req_set_client_id: remember id (copied) as the request's client, for
 * the ledger; a later call replaces it. NULL is ignored. */
void af_req_set_client_id(struct af_req *req, const char *id);

/* af_req_set_flow (ledger.c): remember grant_id (copied, cut at
 * AF_FLOW_MAX) as the request's flow; NULL is ignored. */
void af_req_set_flow(struct af_req *req, const char *grant_id);

/* af_req_set_flow_of_jti (ledger.c): the flow of an access token: its jti
 * names the grant before the dot (af_store_jti); a token of no grant (or
 * NULL) leaves the flow unset. */
void af_req_set_flow_of_jti(struct af_req *req, const char *jti);

/* af_req_client_named: the client the request named, borrowed, valid for
 * the request: facts.client_id, else the form's client_id, else the
 * query's; NULL when none. Not necessarily a registered client. */
const char *af_req_client_named(const struct af_req *req);

/* af_req_header: a request header (case-insensitive), borrowed, valid for
 * the request; NULL when absent. Without a connection, from req->hdrs. */
const char *af_req_header(const struct af_req *req, const char *name);

/* af_req_cookie: a cookie value, borrowed, valid for the request; NULL when
 * absent. Without a connection, from req->cookies. */
const char *af_req_cookie(const struct af_req *req, const char *name);

/* af_req_params: the parameters an endpoint reads: the query for GET, the
 * form body for POST. Borrowed. */
const struct af_params *af_req_params(const struct af_req *req);

/* The longest OAuth error code an answer records; a longer one is cut. */
#define AF_RESP_ERROR_MAX 127
/* The longest reason an answer records (struct af_resp); a longer one is cut. */
#define AF_RESP_REASON_MAX 511

struct af_resp {
    unsigned status;          /* 0 until a handler sets it */
    struct af_params headers; /* extra response headers, in order */
    struct af_buf body;
    struct af_doc *doc; /* owned reference, or NULL: when set, the body sent
                           (body is then empty; af_resp_doc) */
    const char *ctype;  /* static string; NULL: no Content-Type */
    /* The OAuth error code the answer carries, for the ledger, so that it
     * never reads an answer back: set where the error answer is built
     * (af_resp_oauth_error, af_resp_redirect, af_resp_set_error); ""
     * when none. A copy, valid as long as resp. */
    char error[AF_RESP_ERROR_MAX + 1];
    /* Why the answer is what it is, in one line, for the log line and the
     * ledger (server.c writes both once the handler ran): the description
     * an error builder was given (af_resp_oauth_error, af_resp_error_page),
     * or what a handler says with af_resp_reason (a redirected error, an
     * inactive token, a failed login). Never a secret: handlers name
     * clients, users, URIs and parameters, never a credential's value. ""
     * when none; cut at AF_RESP_REASON_MAX. */
    char reason[AF_RESP_REASON_MAX + 1];
    /* What the log line shows after the client on success as on failure
     * (the grant type of /token, "login page"), or NULL: a static string,
     * or borrowed from the request. */
    const char *detail;
};

/* Response builders. Each sets status, content type and body, and the
 * answer's error and reason ("" unless said otherwise); on allocation
 * failure they leave a 500 with an empty body and no error behind. */

/* af_resp_json: serialise obj (borrowed) compactly. */
void af_resp_json(struct af_resp *resp, unsigned status, const json_t *obj);

/* af_resp_doc: answer a GET with doc (borrowed; the response takes its
 * own reference), served as is without a copy: ETag and Cache-Control
 * (AF_DOC_CACHE_CONTROL), then 304 without a body when an If-None-Match
 * field of the request names the ETag (af_etag_list_matches), else 200
 * JSON. */
void af_resp_doc(struct af_resp *resp, const struct af_req *req, struct af_doc *doc);

/* What a request answers when the shared store (store.redis) cannot be
 * reached: the store's AF_ERR_NET (store.h). */
#define AF_STORE_DOWN_MSG "the shared store (Redis) cannot be reached; try again shortly"

/* af_resp_store_down: 503 temporarily_unavailable with AF_STORE_DOWN_MSG
 * (RFC 6749 §5.2 has no such code; §4.1.2.1's is the closest, and 503
 * tells HTTP clients to retry). */
void af_resp_store_down(struct af_resp *resp);

/* af_resp_oauth_error: {"error":..., "error_description":...} (RFC 6749
 * §5.2); description may be NULL. The description is the answer's reason
 * as given; the body's error_description is it with every character
 * outside %x20-21 / %x23-5B / %x5D-7E (§5.2) shown as '?'
 * (af_resp_desc_clean). */
void af_resp_oauth_error(struct af_resp *resp, unsigned status, const char *error,
                         const char *description);

/* af_resp_json_error: the same answer for an API that is not OAuth (the
 * admin API): error_description is the description as given. */
void af_resp_json_error(struct af_resp *resp, unsigned status, const char *error,
                        const char *description);

/* af_resp_redirect: 302 (or status) with Location. The answer's error is
 * the location's error parameter: the first in its query, else in its
 * fragment (RFC 6749 §4.1.2.1, §4.2.2.1). */
void af_resp_redirect(struct af_resp *resp, unsigned status, const char *location);

/* af_resp_html: body taken as already-escaped HTML, a page framed by
 * page.h (af_page_open, af_page_close). Adds Cache-Control: no-store,
 * anti-framing (X-Frame-Options: DENY, and CSP frame-ancestors 'none') and
 * the CSP of af_page_csp(false): its stylesheet and nothing else, no
 * script. */
void af_resp_html(struct af_resp *resp, unsigned status, const char *html);

/* af_resp_html_autosubmit: the same for a page that carries
 * af_page_autosubmit's script (the form_post page), admitted by its hash
 * (af_page_csp(true)). */
void af_resp_html_autosubmit(struct af_resp *resp, unsigned status, const char *html);

/* af_resp_html_csp: as af_resp_html, under csp (borrowed; its own policy,
 * the only one sent) instead of page.h's: for a page with a script of its
 * own, such as the admin inspector's. */
void af_resp_html_csp(struct af_resp *resp, unsigned status, const char *html, const char *csp);

/* The most rows an error page shows below its reason. */
#define AF_PAGE_ROWS_MAX 4

/* What an error page shows below its reason, so that a developer sees the
 * values in full (the reason cuts them to fit a log line) and what would
 * have been accepted. Every string is borrowed for the call and escaped. */
struct af_page_detail {
    struct {
        const char *label; /* e.g. "client_id received"; NULL ends the rows */
        const char *value; /* shown as code; NULL: the list instead */
        char *const *list; /* nlist values, each shown as code ("none" when empty) */
        size_t nlist;
    } rows[AF_PAGE_ROWS_MAX];
    const char *hint; /* a sentence on what to check, or NULL */
};

/* af_resp_error_page: a small HTML error page (400 for a bad client or
 * redirect URI: never a redirect): a heading, the description, the error
 * code and status; error and description are escaped. The description is
 * the answer's reason (the log line's and the ledger's: one text for all
 * three); an HTML page carries no OAuth error (error stays ""). */
void af_resp_error_page(struct af_resp *resp, unsigned status, const char *error,
                        const char *description);

/* af_resp_error_page_detail: the same page with detail's rows and hint
 * (detail may be NULL). */
void af_resp_error_page_detail(struct af_resp *resp, unsigned status, const char *error,
                               const char *description, const struct af_page_detail *detail);

/* af_resp_set_error: record error (copied; NULL: none) as the error resp
 * carries, for an error answer that is no OAuth error body or redirect
 * (the form_post page). Call after the builder. */
void af_resp_set_error(struct af_resp *resp, const char *error);

/* af_resp_reason: set the answer's reason (printf-style, cut at
 * AF_RESP_REASON_MAX), replacing what a builder set. Call after the
 * builder. */
void af_resp_reason(struct af_resp *resp, const char *fmt, ...) AF_PRINTF(2, 3);

/* af_resp_desc_clean: s with every byte outside %x20-21 / %x23-5B /
 * %x5D-7E, the characters RFC 6749 §4.1.2.1 and §5.2 allow in
 * error_description, replaced by '?', into out (outlen bytes, cut to fit). */
void af_resp_desc_clean(char *out, size_t outlen, const char *s);

/* af_resp_header: add a response header (copied). */
void af_resp_header(struct af_resp *resp, const char *name, const char *value);

/* af_resp_no_store: Cache-Control: no-store and Pragma: no-cache, each
 * added only when resp has no such header yet. */
void af_resp_no_store(struct af_resp *resp);

/* af_resp_fail: the 500 with an empty body that builders leave behind on
 * allocation failure; server.c also answers it for a handler that set no
 * status. */
void af_resp_fail(struct af_resp *resp);

/* af_html_escape: append s with & < > " ' escaped. */
af_rc af_html_escape(struct af_buf *out, const char *s) AF_WARN_UNUSED;

/* af_html_wrap: append before and after (markup, as they are) around s
 * escaped (af_html_escape). */
af_rc af_html_wrap(struct af_buf *out, const char *before, const char *s,
                   const char *after) AF_WARN_UNUSED;

#endif
