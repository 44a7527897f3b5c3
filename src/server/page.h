/*
 * page.h - the frame every HTML page of authflowd shares (page.c): the
 * document head with the one stylesheet, the closing tags, and the
 * Content-Security-Policy that admits that stylesheet (and, on the
 * form_post page only, the one auto-submit script) by hash and nothing
 * else. Handlers write the content between af_page_open and
 * af_page_close; http_req.c sends the page with af_page_csp's policy.
 * Private to src/server/.
 */
#ifndef AUTHFLOW_SERVER_PAGE_H
#define AUTHFLOW_SERVER_PAGE_H

#include <stdbool.h>

#include "authflow/buf.h"
#include "authflow/rc.h"

/* The id of the element holding a page's notice (the login page's "Unknown
 * user or wrong password."), for aria-describedby. */
#define AF_PAGE_NOTICE_ID "af-notice"

/* af_page_open: append the doctype, <html lang="en">, a head with charset,
 * viewport, "<title> - authflowd" (title escaped) and the stylesheet, then
 * <body><main>. */
af_rc af_page_open(struct af_buf *b, const char *title) AF_WARN_UNUSED;

/* af_page_close: append </main></body></html>. */
af_rc af_page_close(struct af_buf *b) AF_WARN_UNUSED;

/* af_page_autosubmit: append the <script> that submits the page's first
 * form (the form_post response mode), the only script a page may carry;
 * its page must be sent with af_page_csp(true). */
af_rc af_page_autosubmit(struct af_buf *b) AF_WARN_UNUSED;

/* af_page_csp: the Content-Security-Policy of a page: nothing may load,
 * the stylesheet is admitted by its SHA-256 hash, no base URI, no framing
 * (RFC 9700 §4.16); with autosubmit, af_page_autosubmit's script too, by
 * its hash. Static, computed once; never NULL (should hashing fail, styles
 * fall back to 'unsafe-inline' and the script is not admitted). */
const char *af_page_csp(bool autosubmit);

#endif
