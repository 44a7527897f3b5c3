/*
 * fuzz_login.c - POST /login (src/server/h_authorize.c af_h_login): the
 * form body as server.c parses it, the authorization request it carries,
 * the login CSRF token and the user fields; then the ledger entry of the
 * request. The input is one flags byte, then the form body:
 *   bit 0  the browser sends the login cookie
 *   bit 1  the form's af_csrf is the one the login page gave for this
 *          request and cookie (fetched by GET /authorize first)
 * Without both, /login must answer nothing but an error (login CSRF): no
 * code, no login page again; abort() when it does. A redirect must go to a
 * registered redirect URI.
 */
#include "config.h"

#include "authflow/proto.h"
#include "fuzz.h"
#include "fuzz_server.h"
#include "server/front_channel.h"
#include "server/routes.h"

#define COOKIE "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" /* 43 base64url chars */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_server_init();
    return 0;
}

/* page_csrf: the af_csrf value of the login page GET /authorize answers
 * for the authorization request in form; caller frees; NULL when it
 * answered something else. */
static char *page_csrf(const struct af_params *form, const struct af_params *cookies)
{
    static const char mark[] = "name=\"" AF_LOGIN_CSRF "\" value=\"";
    struct af_req req;
    struct af_resp resp;
    const char *p;
    char *tok = NULL;

    fuzz_req_init(&req, AF_M_GET, AF_EP_AUTHORIZE);
    req.cookies = cookies;
    fuzz_resp_init(&resp);
    for (size_t i = 0; i < form->n; i++) {
        if (af_params_add(&req.query, form->v[i].name, form->v[i].value) != AF_OK)
            goto out;
    }
    af_h_authorize(&req, &resp);
    fuzz_record(&req, &resp);
    p = resp.status == 200 && resp.body.p != NULL ? strstr(resp.body.p, mark) : NULL;
    if (p != NULL) {
        p += sizeof(mark) - 1;
        tok = strndup(p, strcspn(p, "\""));
    }
out:
    fuzz_req_free(&req);
    fuzz_resp_free(&resp);
    return tok;
}

/* to_registered: whether location starts with a registered redirect URI. */
static bool to_registered(const char *location)
{
    const struct af_config *cfg = fuzz_srv.cfg;

    for (size_t i = 0; location != NULL && i < cfg->nclients; i++) {
        for (size_t j = 0; j < cfg->clients[i].redirect_uris.n; j++) {
            const char *u = cfg->clients[i].redirect_uris.v[j];
            size_t n = strlen(u);
            if (strncmp(location, u, n) == 0 && strchr("?#", location[n]) != NULL)
                return true;
        }
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct af_req req;
    struct af_resp resp;
    struct af_params cookies, form;
    struct af_err err;
    unsigned flags;
    char *csrf = NULL;
    bool genuine, redirect;

    if (size < 1 || size > FUZZ_MAX_INPUT)
        return 0;
    flags = data[0];
    fuzz_server_reset(8);
    fuzz_req_init(&req, AF_M_POST, AF_EP_LOGIN);
    fuzz_resp_init(&resp);
    af_params_init(&cookies, 4);
    af_params_init(&form, fuzz_srv.cfg->max_params);
    af_err_clear(&err);
    if ((flags & 1) && af_params_add(&cookies, AF_LOGIN_COOKIE, COOKIE) != AF_OK)
        goto out;
    req.cookies = &cookies;
    /* as server.c's dispatch: a form it cannot parse is a 400 there */
    if (af_params_parse(&form, (const char *)data + 1, size - 1, &err) != AF_OK)
        goto out;
    if (flags & 2)
        csrf = page_csrf(&form, &cookies);
    for (size_t i = 0; i < form.n; i++) {
        if (csrf != NULL && strcmp(form.v[i].name, AF_LOGIN_CSRF) == 0)
            continue;
        if (af_params_add(&req.form, form.v[i].name, form.v[i].value) != AF_OK)
            goto out;
    }
    if (csrf != NULL && af_params_add(&req.form, AF_LOGIN_CSRF, csrf) != AF_OK)
        goto out;
    genuine = (flags & 1) && csrf != NULL;
    af_h_login(&req, &resp);
    fuzz_record(&req, &resp);
    if (resp.status == 0)
        abort(); /* every path answers */
    redirect = resp.status / 100 == 3;
    if (redirect && !to_registered(af_params_get(&resp.headers, AF_HDR_LOCATION)))
        abort(); /* an open redirect */
    /* an error answer may come before the token is checked (a bad
     * authorization request); nothing else may */
    if (!genuine && resp.error[0] == '\0' && (resp.status == 200 || redirect))
        abort(); /* a login, or its page, without the login page's token */
out:
    free(csrf);
    af_params_free(&cookies);
    af_params_free(&form);
    fuzz_req_free(&req);
    fuzz_resp_free(&resp);
    return 0;
}
