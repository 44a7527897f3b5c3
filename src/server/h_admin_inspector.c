/*
 * h_admin_inspector.c - GET /admin/inspector (docs/admin.md): one HTML
 * page, its style and script inline, that reads /admin/ledger and
 * /admin/findings and shows the ledger as flows.
 *
 * The page is src/server/inspector.html, made a C string at build time
 * (Makefile.am), so that it stays an HTML file to read and edit. It holds
 * no data: what it shows it fetches with the admin secret the user gives
 * it, which is why server.c lets a GET of this one path through without
 * the secret (af_admin_authorized). Its Content-Security-Policy admits
 * only its own style and script, by a nonce drawn per answer, and
 * connections to this admin API.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authflow/buf.h"
#include "authflow/proto.h"
#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/admin.h"
#include "server/http_req.h"
#include "server/routes.h"

/* inspector_html.c, generated from inspector.html */
extern const char af_inspector_html[];

#define NONCE_MARK  "__AF_NONCE__"
#define NONCE_BYTES 18
#define CSP_MAX     512

/* page_with_nonce: the page with every NONCE_MARK replaced by nonce, into
 * b. */
static af_rc page_with_nonce(struct af_buf *b, const char *nonce)
{
    const char *p = af_inspector_html, *mark;
    af_rc rc = AF_OK;

    while (rc == AF_OK && (mark = strstr(p, NONCE_MARK)) != NULL) {
        rc = af_buf_add(b, p, (size_t)(mark - p));
        if (rc == AF_OK)
            rc = af_buf_adds(b, nonce);
        p = mark + strlen(NONCE_MARK);
    }
    if (rc == AF_OK)
        rc = af_buf_adds(b, p);
    return rc;
}

void af_h_admin_inspector(struct af_req *req, struct af_resp *resp)
{
    struct af_buf b;
    char *nonce = NULL, csp[CSP_MAX];
    af_rc rc;

    af_buf_init(&b, strlen(af_inspector_html) + 256);
    if (req->query.n > 0) {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                       "%.64s: unknown query parameter (the page takes none; give the secret "
                       "in the fragment, #secret=...)",
                       req->query.v[0].name);
        goto out;
    }
    rc = af_rand_token(NONCE_BYTES, &nonce);
    if (rc == AF_OK)
        rc = page_with_nonce(&b, nonce);
    if (rc != AF_OK) {
        af_admin_error(resp, 500, AF_E_SERVER_ERROR, "the page could not be built");
        goto out;
    }
    /* its own policy, the only one: the page's script and style by nonce */
    snprintf(csp, sizeof(csp),
             "default-src 'none'; script-src 'nonce-%s'; style-src 'nonce-%s'; connect-src "
             "'self'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors "
             "'none'",
             nonce, nonce);
    af_resp_html_csp(resp, 200, af_buf_str(&b), csp);
    af_resp_header(resp, "Referrer-Policy", "no-referrer");
    af_resp_no_store(resp);
out:
    free(nonce);
    af_buf_free(&b);
}
