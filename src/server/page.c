/*
 * page.c - the frame of authflowd's HTML pages: one small stylesheet, set
 * inline (no asset to serve, nothing fetched), and the Content-Security-
 * Policy that admits exactly it by hash.
 *
 * The stylesheet is for people debugging a login: readable type, one
 * column, visible keyboard focus, an error colour that is not the only
 * cue (a bar and the text itself), light and dark schemes, each pair of
 * colours at 4.5:1 or more for text (WCAG 2.2 1.4.3) and 3:1 for
 * borders and the focus ring (1.4.11). It relies on no script.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "authflow/buf.h"
#include "authflow/rc.h"
#include "server/http_req.h"
#include "server/page.h"

/* The one stylesheet. A change here changes its hash in the CSP: nothing
 * else to update. No style="" attribute anywhere: a hash admits only the
 * <style> element. */
static const char page_css[] =
    ":root{color-scheme:light dark;--fg:#1b1b1f;--bg:#fff;--dim:#545458;--line:#8e8e93;"
    "--acc:#0b57d0;--on:#fff;--bad:#b3261e}"
    "@media(prefers-color-scheme:dark){:root{--fg:#e6e6ea;--bg:#141416;--dim:#b4b4ba;"
    "--acc:#a8c7fa;--on:#141416;--bad:#f2b8b5}}"
    "body{margin:0;padding:2rem 1rem;font:1rem/1.5 system-ui,sans-serif;color:var(--fg);"
    "background:var(--bg)}"
    "main{max-width:32rem;margin:auto}"
    "h1{font-size:1.5rem;margin:0 0 1rem}"
    "fieldset{border:1px solid var(--line);border-radius:.5rem;margin:0 0 1rem;"
    "padding:.5rem 1rem 1rem}"
    "legend{font-weight:600;padding:0 .25rem}"
    "label,dt{display:block;font-weight:600}"
    "input{display:block;box-sizing:border-box;width:100%;margin:.25rem 0 .75rem;padding:.5rem;"
    "font:inherit;color:inherit;background:var(--bg);border:1px solid var(--line);"
    "border-radius:.25rem}"
    "button{font:inherit;margin:.25rem .5rem .25rem 0;padding:.5rem 1rem;"
    "border:2px solid var(--acc);border-radius:.25rem;background:var(--acc);color:var(--on)}"
    ".alt{background:none;color:var(--acc)}"
    ":focus-visible{outline:3px solid var(--acc);outline-offset:2px}"
    "[aria-invalid=true]{border:2px solid var(--bad)}"
    ".err{border-left:.25rem solid var(--bad);padding:.25rem .75rem;margin:0 0 1rem}"
    "code{font:.9em ui-monospace,monospace;overflow-wrap:anywhere}"
    "dd{margin:0 0 .75rem}"
    "ul{margin:0;padding-left:1.25rem}"
    ".note{color:var(--dim);font-size:.875rem}";

/* The form_post page's script (OAuth 2.0 Form Post Response Mode §2). */
#define PAGE_AUTOSUBMIT_JS "document.forms[0].submit();"

#define CSP_BASE   "default-src 'none'; base-uri 'none'; frame-ancestors 'none'; style-src "
#define CSP_HASH   100 /* "'sha256-" + up to 88 base64 characters + "'" */
#define CSP_MAX    (sizeof(CSP_BASE) + 2 * CSP_HASH + sizeof("; script-src "))
#define CSP_NOHASH "'unsafe-inline'"

static char csp_plain[CSP_MAX], csp_script[CSP_MAX];
static pthread_once_t csp_once = PTHREAD_ONCE_INIT;

/* csp_hash: "'sha256-BASE64'" of s (CSP3 §8.4 hash-source) into out. */
static af_rc csp_hash(const char *s, char out[CSP_HASH])
{
    unsigned char md[EVP_MAX_MD_SIZE], b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    unsigned int mdlen = 0;
    af_rc rc = AF_ERR_CRYPTO;

    if (EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha256(), NULL) != 1)
        goto out;
    if (EVP_EncodeBlock(b64, md, (int)mdlen) <= 0)
        goto out;
    snprintf(out, CSP_HASH, "'sha256-%s'", (const char *)b64);
    rc = AF_OK;
out:
    return rc;
}

static void csp_build(void)
{
    char style[CSP_HASH], script[CSP_HASH];

    if (csp_hash(page_css, style) != AF_OK)
        snprintf(style, sizeof(style), "%s", CSP_NOHASH);
    snprintf(csp_plain, sizeof(csp_plain), "%s%s", CSP_BASE, style);
    if (csp_hash(PAGE_AUTOSUBMIT_JS, script) == AF_OK)
        snprintf(csp_script, sizeof(csp_script), "%s%s; script-src %s", CSP_BASE, style, script);
    else
        snprintf(csp_script, sizeof(csp_script), "%s", csp_plain);
}

const char *af_page_csp(bool autosubmit)
{
    pthread_once(&csp_once, csp_build);
    return autosubmit ? csp_script : csp_plain;
}

af_rc af_page_open(struct af_buf *b, const char *title)
{
    af_rc rc;

    rc = af_html_wrap(b,
                      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                      "<title>",
                      title, " - authflowd</title>\n<style>");
    if (rc == AF_OK)
        rc = af_buf_adds(b, page_css);
    if (rc == AF_OK)
        rc = af_buf_adds(b, "</style></head>\n<body>\n<main>\n");
    return rc;
}

af_rc af_page_close(struct af_buf *b)
{
    return af_buf_adds(b, "</main>\n</body></html>\n");
}

af_rc af_page_autosubmit(struct af_buf *b)
{
    return af_buf_adds(b, "<script>" PAGE_AUTOSUBMIT_JS "</script>\n");
}
