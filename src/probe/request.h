/*
 * request.h - building one request from a step's request object: templates,
 * client authentication, form submits, admin API calls (request.c).
 * Private to src/probe/.
 */
#ifndef AUTHFLOW_PROBE_REQUEST_H
#define AUTHFLOW_PROBE_REQUEST_H

#include "probe/run_int.h"

/* A request under construction. */
struct af_request {
    char *method;
    struct af_buf url;
    struct af_params query; /* appended to url at the end */
    struct af_params form;
    bool has_form;
    struct af_params headers;
    struct af_buf body;
    bool has_body;
    bool submitted;
    char *admin_secret; /* a request to the admin API: its bearer secret, if any */
    bool no_cookies;    /* back channel ("cookies": false, admin): no flow cookies */
};

/* af_request_init: an empty request; release with af_request_free. */
void af_request_init(struct af_request *q);
void af_request_free(struct af_request *q);

/* af_request_finish: assemble url (query appended) and body (form
 * encoded) and fill the af_http_req view hr, which borrows from q. */
af_rc af_request_finish(struct af_request *q, struct af_http_req *hr) AF_WARN_UNUSED;

/* af_request_submit: a request submitting a form of hop. *why is set (and
 * AF_OK returned with q->method NULL) when the form or button is not
 * there; variable problems are AF_ERR_NOTFOUND / AF_ERR_INVALID with e. */
af_rc af_request_submit(struct af_ck *c, struct af_hop *hop, const json_t *pick,
                        const json_t *fields, const char *button, struct af_request *q,
                        const char **why, struct af_err *e) AF_WARN_UNUSED;

/* af_request_build: from a step's request object. On a variable problem
 * rc is AF_ERR_NOTFOUND / AF_ERR_INVALID with e set; *why (with AF_OK)
 * when a submit found nothing to submit. */
af_rc af_request_build(struct af_ck *c, const json_t *reqj, struct af_request *q, const char **why,
                       struct af_err *e) AF_WARN_UNUSED;

/* af_request_ready: af_request_build then af_request_finish for the
 * request object reqj, hr borrowing from q. False when it could not be made,
 * with the check's verdict recorded on step stepname: a variable problem
 * skips or errors it (af_ck_var_problem), anything else errors it. */
bool af_request_ready(struct af_ck *c, const json_t *reqj, struct af_request *q,
                      struct af_http_req *hr, const char *stepname);

/* af_request_client_uri: where this request's authorization response goes:
 * the redirect_uri it sends, else the bound client's. Caller frees; NULL
 * when unknown. */
char *af_request_client_uri(struct af_ck *c, const struct af_request *q);

#endif
