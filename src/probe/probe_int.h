/*
 * probe_int.h - what the probe's modules share: the HTTP client (http.c),
 * HTML form extraction (html.c), variables and templates (tmpl.c),
 * selectors (select.c), expectations (expect.c), the suite and profile
 * loaders (suite.c), redaction and the trace (trace.c), the runner (run.c).
 * Private to src/probe/.
 *
 * A loaded suite stays a jansson tree: the loader validates every object
 * against a key table once, so the runner can read it without re-checking
 * types. jansson references in this header are borrowed unless a comment
 * says "new reference".
 */
#ifndef AUTHFLOW_PROBE_INT_H
#define AUTHFLOW_PROBE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "authflow/buf.h"
#include "authflow/jose.h"
#include "authflow/probe.h"
#include "authflow/rc.h"
#include "authflow/util.h"
#include "probe/jsonutil.h"

/* Caps. */
#define AF_PROBE_MAX_BODY_DEFAULT (1024 * 1024) /* response body bytes */
#define AF_PROBE_TIMEOUT_DEFAULT  10000         /* ms per request */
#define AF_PROBE_MAX_PARAMS       512           /* parameters in one Location or form */
#define AF_PROBE_MAX_HEADERS      200           /* response headers kept */
#define AF_PROBE_MAX_FORMS        32            /* forms read from one page */
#define AF_PROBE_MAX_HOPS         50            /* hard cap on follow.max_hops */
#define AF_PROBE_RUN_SECONDS      10            /* a "run" step's command must end within */
#define AF_PROBE_MAX_SERVED       4             /* servers of forge steps in one check */
#define AF_PROBE_MAX_SAMPLES      32 /* templates in one "samples" (AF_ENTROPY_MAX_SAMPLES) */
#define AF_PROBE_TMPL_DEPTH       8  /* nested profile templates, request templates */
#define AF_PROBE_MAX_VALUE        (256 * 1024) /* one expanded template */

/* ---- suite and target (suite.c) ---- */

struct af_suite {
    char *name;        /* the file name used in messages (owned) */
    json_t *root;      /* owned reference */
    json_t *checks;    /* borrowed from root: array */
    json_t *fixtures;  /* borrowed: object (never NULL after loading) */
    json_t *templates; /* borrowed: object (never NULL) */
    json_t *vars;      /* borrowed: object (never NULL) */
    json_t *bind;      /* borrowed: object (never NULL) */
};

struct af_target {
    char *name;   /* the file name used in messages (owned) */
    char *dir;    /* the profile's folder, for relative file names (owned) */
    json_t *root; /* owned reference: the profile as written */
};

/* ---- HTML forms and links (html.c) ----
 * A tolerant scanner, hand-written because no HTML parser is among the
 * project's dependencies and a login page only needs forms and links read:
 * it never builds a tree and every output is capped. */

struct af_form {
    char *id;                 /* owned; NULL when absent */
    char *name;               /* owned; NULL when absent */
    char *action;             /* owned, entity-decoded, as written (may be relative or "") */
    char *method;             /* owned, upper-cased; "GET" when absent */
    struct af_params fields;  /* successful controls with their initial values */
    struct af_params buttons; /* submit buttons: name -> value */
};

struct af_link {
    char *href; /* owned, entity-decoded */
    char *text; /* owned, tags stripped, entities decoded, spaces collapsed */
};

/* af_html_forms: the forms of html[0..len), at most AF_PROBE_MAX_FORMS.
 * Caller frees *out with af_html_forms_free(*out, *n). */
af_rc af_html_forms(const char *html, size_t len, struct af_form **out, size_t *n) AF_WARN_UNUSED;
void af_html_forms_free(struct af_form *forms, size_t n);

/* af_html_links: the <a href> links, at most 256. Caller frees with
 * af_html_links_free(). */
af_rc af_html_links(const char *html, size_t len, struct af_link **out, size_t *n) AF_WARN_UNUSED;
void af_html_links_free(struct af_link *links, size_t n);

/* af_html_unescape: append s[0..len) with character references decoded. */
af_rc af_html_unescape(struct af_buf *out, const char *s, size_t len) AF_WARN_UNUSED;

/* ---- HTTP (http.c) ---- */

struct af_http_opts {
    long timeout_ms;
    size_t max_body;
    bool insecure;
    const char *cacert; /* borrowed for the call to af_http_new only */
};

struct af_http_req {
    const char *method;       /* borrowed */
    const char *url;          /* borrowed */
    struct af_params headers; /* owned by the caller */
    const char *body;         /* borrowed; NULL: no body */
    size_t body_len;
    bool no_cookies; /* neither send nor store the flow's cookies (back channel) */
};

/* One request and its answer. Everything is owned by the hop. */
struct af_hop {
    char *method;
    char *url;
    struct af_params req_headers; /* the headers the step set */
    struct af_buf req_body;
    struct af_buf req_dump;   /* curl's request header block (only while tracing) */
    long status;              /* 0 when the transport failed */
    struct af_params headers; /* response headers in order (names as sent) */
    struct af_buf body;
    bool body_toobig;
    char *transport_error; /* NULL on success */
    bool unreachable;      /* connect / resolve / TLS handshake failure */
    bool no_http_answer;   /* connected, but the server closed (or reset) without
                              an HTTP answer, or answered something not HTTP */
    bool bad_url;          /* curl refused the URL (malformed, not http/https) */
    uint64_t ms;
    bool submitted; /* this request submitted a form (engine or step) */
    /* Derived lazily by af_hop_* below. */
    bool json_done;
    json_t *json; /* owned reference; NULL when the body is not JSON */
    bool loc_done;
    char *location; /* absolute; NULL when there is no Location */
    bool loc_ok;    /* query and fragment parsed */
    char *loc_err;  /* why they did not parse */
    struct af_params loc_query;
    struct af_params loc_frag;
    bool forms_done;
    struct af_form *forms;
    size_t nforms;
    bool params_done;
    struct af_params params; /* authorization response parameters (`params`) */
};

struct af_http; /* one curl easy handle and the cookie jars of the flows */

af_rc af_http_new(const struct af_http_opts *o, struct af_http **out,
                  struct af_err *err) AF_WARN_UNUSED;
void af_http_free(struct af_http *h);

/* af_http_set_trace: capture curl's view of request headers (for --trace). */
void af_http_set_trace(struct af_http *h, bool on);

/* af_http_reset_flows: a new check: every jar is emptied and flow "main" is
 * current. One handle serves all checks so connections are reused; the
 * jars are what keeps flows apart. */
void af_http_reset_flows(struct af_http *h);

/* af_http_use_flow: make name's jar current (a new name starts empty). */
af_rc af_http_use_flow(struct af_http *h, const char *name) AF_WARN_UNUSED;

/* af_http_send: one request, never following redirects. Transport failures
 * are recorded in hop (transport_error, unreachable) and are not an error
 * of this function, which fails only for AF_ERR_NOMEM. hop must be zeroed
 * (af_hop_init) and is cleared first. */
af_rc af_http_send(struct af_http *h, const struct af_http_req *req,
                   struct af_hop *hop) AF_WARN_UNUSED;

/* af_http_send_many: reqs[0..n) at once (n at most AF_HTTP_MAX_MANY),
 * each on a copy of h's settings with no cookies, the answers in
 * hops[0..n) (initialised by the caller, cleared and filled here). A hop
 * whose transfer did not finish has status 0 and its transport_error. */
#define AF_HTTP_MAX_MANY 64
af_rc af_http_send_many(struct af_http *h, const struct af_http_req *reqs, struct af_hop *hops,
                        size_t n) AF_WARN_UNUSED;

/* af_http_cookie: the value of a cookie in the current jar (the last one
 * set under that name). Caller frees; NULL when absent. */
char *af_http_cookie(struct af_http *h, const char *name);

void af_hop_init(struct af_hop *hop);
void af_hop_clear(struct af_hop *hop);

/* af_hop_header: the first response header of that name (case-insensitive),
 * borrowed; NULL if none. */
const char *af_hop_header(const struct af_hop *hop, const char *name);

/* af_hop_header_joined: every occurrence joined with ", " (Set-Cookie with
 * "\n"). Caller frees; NULL when absent. */
char *af_hop_header_joined(const struct af_hop *hop, const char *name);

/* af_hop_json: the body parsed as JSON, borrowed; NULL when it is not JSON. */
const json_t *af_hop_json(struct af_hop *hop);

/* af_hop_location: the Location resolved to an absolute URL, borrowed;
 * NULL when there is none. Parses its query and fragment on first call. */
const char *af_hop_location(struct af_hop *hop);

/* af_hop_forms: the page's forms, borrowed; *n is 0 when none. */
const struct af_form *af_hop_forms(struct af_hop *hop, size_t *n);

/* af_hop_params: the authorization response parameters: the Location's
 * query then fragment parameters when there is a Location, else the fields
 * of the page's first form (response_mode=form_post). Borrowed; NULL with
 * *why set when the Location's parameters are malformed. */
const struct af_params *af_hop_params(struct af_hop *hop, const char **why);

/* af_hop_is_html: a 2xx answer whose Content-Type says HTML (or, lacking
 * one, whose body has a <form). */
bool af_hop_is_html(const struct af_hop *hop);

/* af_url_resolve: ref against base (RFC 3986 §5). An absolute ref is
 * returned byte for byte. Caller frees *out. */
af_rc af_url_resolve(const char *base, const char *ref, char **out) AF_WARN_UNUSED;

/* af_url_split: the query (without '?') and fragment (without '#') of url,
 * borrowed pointers into url with lengths; absent parts have NULL. */
void af_url_split(const char *url, const char **q, size_t *qlen, const char **f, size_t *flen);

/* af_url_base_len: the length of url without its query and fragment. */
size_t af_url_base_len(const char *url);

/* ---- variables and templates (tmpl.c) ---- */

/* The variables one check sees. root is shared by all checks of a run;
 * the rest is made fresh for every check. */
struct af_scope {
    json_t *root;   /* borrowed: {"target": profile, "meta": metadata, "vars": merged} */
    json_t *locals; /* owned: flat name -> value (captures, set) */
    json_t *fresh;  /* owned: name -> random string */
    json_t *pkce;   /* owned: pair name ("" for the default) -> {verifier, challenge} */
    json_t *binds;  /* owned: short name -> path string */
    /* The last variable found undefined (AF_ERR_NOTFOUND) was under meta.:
     * the target's metadata, not the profile, left it out. Set by every
     * lookup that fails so, however deep in a template it happened. */
    bool missing_meta;
};

af_rc af_scope_init(struct af_scope *sc, json_t *root) AF_WARN_UNUSED;
void af_scope_clear(struct af_scope *sc);

/* af_scope_bind_push: apply bind (an object name -> path, may be NULL) on
 * top of the current bindings; *saved receives the previous set, to hand
 * back to af_scope_bind_pop. A path may be a template, expanded now against
 * the bindings already in force (AF_ERR_NOTFOUND / AF_ERR_INVALID with err
 * set when it does not expand: skip or error the check). A value may also
 * be an object {"path": P, "defaults": D}: a name not found under P is then
 * looked up under D. On error the bindings are unchanged and *saved NULL. */
af_rc af_scope_bind_push(struct af_scope *sc, const json_t *bind, json_t **saved,
                         struct af_err *err) AF_WARN_UNUSED;
void af_scope_bind_pop(struct af_scope *sc, json_t *saved);

/* af_scope_set: store value (borrowed; a reference is taken) under name. */
af_rc af_scope_set(struct af_scope *sc, const char *name, json_t *value) AF_WARN_UNUSED;

/* af_var_get: the value of a variable name (dotted path with [N]). On
 * success *out is a new reference and *literal tells whether it is data
 * (never expanded: captures, metadata) rather than a profile template.
 * Undefined: AF_ERR_NOTFOUND when the name is under target., meta., vars.
 * or env. (the check is skipped), AF_ERR_INVALID otherwise (the check
 * errors); err says which name. */
af_rc af_var_get(struct af_scope *sc, const char *name, json_t **out, bool *literal,
                 struct af_err *err) AF_WARN_UNUSED;

/* af_tmpl_expand: expand tmpl into out (appended). *omit (may be NULL) is
 * set when tmpl is exactly one "{{?NAME}}" whose NAME is undefined. Errors
 * as af_var_get. */
af_rc af_tmpl_expand(struct af_scope *sc, const char *tmpl, struct af_buf *out, bool *omit,
                     struct af_err *err) AF_WARN_UNUSED;

/* af_tmpl_expand_str: as af_tmpl_expand into a new string (caller frees);
 * *out is NULL when omitted. */
af_rc af_tmpl_expand_str(struct af_scope *sc, const char *tmpl, char **out, bool *omit,
                         struct af_err *err) AF_WARN_UNUSED;

/* af_tmpl_expand_json: a copy of v with every string expanded (new
 * reference); strings that are omitted drop their key or element. A string
 * that is exactly one reference without filters ("{{res.deny_status}}")
 * takes the variable's JSON value (number, boolean, array, object), its
 * strings expanded when it comes from the profile or the suite. */
af_rc af_tmpl_expand_json(struct af_scope *sc, const json_t *v, json_t **out,
                          struct af_err *err) AF_WARN_UNUSED;

/* af_tmpl_check: template syntax only (closed braces, known filters, a
 * name). For the loader. */
af_rc af_tmpl_check(const char *tmpl, struct af_err *err) AF_WARN_UNUSED;

/* af_tmpl_tree_check: af_tmpl_check on every string in the JSON tree v
 * (borrowed). On failure path has the member or element at fault appended
 * (".name", "[i]"); on success it is as it was. */
af_rc af_tmpl_tree_check(const json_t *v, struct af_buf *path, struct af_err *err) AF_WARN_UNUSED;

/* af_var_name_valid: a name usable for captures and set (not reserved). */
bool af_var_name_valid(const char *name, const char **why);

/* ---- selectors (select.c) ---- */

typedef enum {
    AF_SV_ABSENT = 0,
    AF_SV_VALUE, /* json holds the value */
} af_sv_kind;

struct af_sv {
    af_sv_kind kind;
    json_t *json;                /* owned reference when kind is AF_SV_VALUE */
    const struct af_params *set; /* borrowed: the parameter set the value came from */
    const char *param;           /* borrowed: its name within set, for count */
    bool is_status;              /* compares numerically with numeric strings */
};

struct af_sel_ctx {
    struct af_hop *hop;   /* the hop looked at */
    struct af_http *http; /* for cookie.NAME */
    struct af_scope *sc;  /* for var.NAME */
    size_t nhops;         /* hops in the step */
};

/* af_sel_check: the syntax of a selector (for the loader). */
af_rc af_sel_check(const char *sel, struct af_err *err) AF_WARN_UNUSED;

/* af_sel_eval: evaluate sel. A value that does not exist is AF_SV_ABSENT
 * with AF_OK; errors (a malformed Location query) are AF_ERR_PARSE with err
 * saying why. Caller releases *out with af_sv_clear(). */
af_rc af_sel_eval(const struct af_sel_ctx *cx, const char *sel, struct af_sv *out,
                  struct af_err *err) AF_WARN_UNUSED;
void af_sv_clear(struct af_sv *v);

/* af_sv_text: a short printable form of a value for messages (strings
 * quoted, cut at 120 characters). Caller frees. */
char *af_sv_text(const struct af_sv *v);

/* ---- expectations (expect.c) ---- */

typedef enum {
    AF_EX_PASS = 0,
    AF_EX_FAIL,  /* msg: "what: expected X, got Y" */
    AF_EX_SKIP,  /* msg: why it cannot be judged */
    AF_EX_ERROR, /* msg: why it cannot be evaluated */
} af_ex_result;

/* af_jwks_fn: the target's JWKS for verifying signatures, supplied by the
 * runner, which fetches it when first asked and keeps it for the run (the
 * evaluator does no network I/O). Borrowed, valid for the run; NULL when
 * there is none, with the reason appended to msg. */
typedef const json_t *(*af_jwks_fn)(void *ud, struct af_buf *msg);

struct af_step_view {
    struct af_hop *hops; /* the step's hops, in order */
    size_t nhops;
    struct af_http *http;
    struct af_scope *sc;
    const char *client_uri; /* where the client's redirect goes; NULL unknown */
    af_jwks_fn jwks;        /* NULL: no keys to verify with */
    void *jwks_ud;          /* jwks's first argument */
    bool show_secrets;
};

/* af_expect_eval: evaluate one expectation object (validated by the
 * loader). On AF_EX_FAIL, AF_EX_SKIP and AF_EX_ERROR msg holds the
 * explanation without the clause. */
af_ex_result af_expect_eval(const struct af_step_view *sv, const json_t *ex, struct af_buf *msg);

/* af_expect_check: validate one expectation object (loader); *path is
 * appended with the key path on error. */
af_rc af_expect_check(const json_t *ex, struct af_buf *path, struct af_err *err) AF_WARN_UNUSED;

/* af_expect_preds_check: validate the predicate keys of a generic
 * expectation (shared with `when` and the JWT sub-expectations). */
af_rc af_expect_preds_check(const json_t *ex, bool need_predicate, struct af_buf *path,
                            struct af_err *err) AF_WARN_UNUSED;

/* af_expect_preds: apply the predicates of ex to v; on failure msg gets
 * "expected X, got Y" (prefixed by what). */
af_ex_result af_expect_preds(struct af_scope *sc, const json_t *ex, const struct af_sv *v,
                             const char *what, bool show_secrets, struct af_buf *msg);

/* af_conds_eval: conditions (`when`, `if`) over variables: AF_EX_PASS
 * when every one holds; else why explains the first that does not
 * (AF_EX_FAIL), or why it cannot be evaluated (AF_EX_ERROR). */
af_ex_result af_conds_eval(struct af_scope *sc, const json_t *conds, bool show, struct af_buf *why);

/* af_conds_check: validate a list of conditions (loader); path gets the
 * index and key at fault. */
af_rc af_conds_check(const json_t *conds, struct af_buf *path, struct af_err *err) AF_WARN_UNUSED;

/* af_on_check: an `on` object, {"url": PREFIX} or {"location": PREFIX}
 * (templates). AF_ERR_INVALID for anything else. */
af_rc af_on_check(const json_t *on, struct af_err *err) AF_WARN_UNUSED;

/* af_hop_pick: resolve an `on` value to hop indexes: for "all"/"any" every
 * hop; *n is 0 when the named hop did not happen. idx has room for nhops. */
void af_hop_pick(const struct af_step_view *sv, const json_t *on, size_t *idx, size_t *n);

/* ---- messages, redaction and trace (trace.c) ---- */

/* Best-effort appends for messages and key paths: a message cut short by
 * its buffer's cap is still worth showing, so these drop the status that
 * af_buf_add* would return. */
void af_msg_add(struct af_buf *b, const char *s);
void af_msg_addn(struct af_buf *b, const char *s, size_t n);
void af_msg_addc(struct af_buf *b, char c);
void af_msg_addf(struct af_buf *b, const char *fmt, ...) AF_PRINTF(2, 3);
void af_msg_redact(struct af_buf *b, const char *value);

/* af_redact_value: append a redacted form of a secret value: its first four
 * characters and its length. */
af_rc af_redact_value(struct af_buf *out, const char *value) AF_WARN_UNUSED;

/* af_trace_redact_url: url as the trace shows it: the values of secret
 * parameters (af_proto_is_secret_param: code, tokens, credentials) in its
 * query and fragment redacted, unless show (--show-secrets). Written to
 * out, NUL-terminated and cut to cap - 1 bytes; when the redaction cannot
 * be made (no memory) the query and fragment are left out. For failure
 * messages that name a URL: a live code must not reach a CI log. */
void af_trace_redact_url(char *out, size_t cap, const char *url, bool show);

/* af_msg_url: append url, redacted as by af_trace_redact_url and cut to max
 * bytes, to a message. NULL appends nothing. */
void af_msg_url(struct af_buf *b, const char *url, size_t max, bool show);

/* af_trace_hop: print one exchange to f, secrets redacted unless show. */
void af_trace_hop(FILE *f, const char *check, const char *step, size_t hopno,
                  const struct af_hop *hop, bool show);

#endif
