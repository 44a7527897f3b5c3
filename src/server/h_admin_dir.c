/*
 * h_admin_dir.c - the admin API's client and user routes (docs/admin.md):
 * GET, POST and DELETE /admin/clients and /admin/users. A POST body is one
 * element of the config file's "clients" or "users", read by the config
 * loader with its own rules and messages; the change applies to the next
 * request (registry.h).
 */
#include "config.h"

#include <string.h>

#include "authflow/log.h"
#include "authflow/proto.h"
#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/admin.h"
#include "server/core.h"
#include "server/http_req.h"
#include "server/registry.h"
#include "server/routes.h"

/* The name a POST body has in messages ("request body:1:15: ..."). */
#define DIR_SOURCE "request body"

/* The two routes differ only in these. */
struct dir {
    const char *what;  /* "client", "user" */
    const char *param; /* DELETE's query parameter */
};

static const struct dir clients_dir = {"client", AF_ADMIN_Q_CLIENT_ID};
static const struct dir users_dir = {"user", AF_ADMIN_Q_USERNAME};

/* status_of: the HTTP status of a registry refusal. */
static unsigned status_of(af_rc rc)
{
    switch (rc) {
    case AF_ERR_NOTFOUND:
        return 404;
    case AF_ERR_TOOBIG:
        return 409;
    case AF_ERR_NOMEM:
        return 500;
    default:
        return 400;
    }
}

static void dir_put(const struct dir *d, struct af_req *req, struct af_resp *resp)
{
    struct af_registry *reg = req->srv->reg;
    json_t *body = af_admin_json_body(req, resp); /* Content-Type, JSON, an object */
    const struct af_cfg_client *c = NULL;
    const struct af_cfg_user *u = NULL;
    struct af_err err;
    bool created = false;
    af_rc rc;

    if (body == NULL)
        return;
    json_decref(body);
    af_err_clear(&err);
    if (d == &clients_dir)
        rc =
            af_registry_put_client(reg, req->body.p, req->body.len, DIR_SOURCE, &c, &created, &err);
    else
        rc = af_registry_put_user(reg, req->body.p, req->body.len, DIR_SOURCE, &u, &created, &err);
    if (rc != AF_OK) {
        af_admin_error(resp, status_of(rc),
                       rc == AF_ERR_NOMEM ? AF_E_SERVER_ERROR : AF_E_INVALID_REQUEST, "%s",
                       err.msg);
        return;
    }
    af_log_info("admin: %s %s %s", d->what, c != NULL ? c->id : u->username,
                created ? "added" : "replaced");
    af_admin_reply(resp, created ? 201 : 200, c != NULL ? af_client_json(c) : af_user_json(u));
}

static void dir_delete(const struct dir *d, struct af_req *req, struct af_resp *resp)
{
    const char *key = af_params_get(&req->query, d->param);
    struct af_err err;
    af_rc rc;

    if (req->query.n != 1 || key == NULL || key[0] == '\0') {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                       "%s: expected exactly this one query "
                       "parameter, naming the %s to remove",
                       d->param, d->what);
        return;
    }
    af_err_clear(&err);
    rc = d == &clients_dir ? af_registry_remove_client(req->srv->reg, key, &err)
                           : af_registry_remove_user(req->srv->reg, key, &err);
    if (rc != AF_OK) {
        af_admin_error(resp, status_of(rc),
                       rc == AF_ERR_NOTFOUND ? "not_found"
                       : rc == AF_ERR_NOMEM  ? AF_E_SERVER_ERROR
                                             : AF_E_INVALID_REQUEST,
                       "%s: %s", d->param, err.msg);
        return;
    }
    af_log_info("admin: %s %s removed", d->what, key);
    af_admin_reply(resp, 200, json_pack("{s:s}", "removed", key));
}

static void dir_route(const struct dir *d, struct af_req *req, struct af_resp *resp)
{
    if (req->srv->reg == NULL) {
        af_admin_error(resp, 500, AF_E_SERVER_ERROR, "run-time changes are not available");
        return;
    }
    if (req->method == AF_M_POST) {
        dir_put(d, req, resp);
    } else if (req->method == AF_M_DELETE) {
        dir_delete(d, req, resp);
    } else if (req->query.n != 0) {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST, "%.64s: unknown query parameter",
                       req->query.v[0].name);
    } else {
        json_t *list = d == &clients_dir ? af_registry_clients_json(req->srv->reg)
                                         : af_registry_users_json(req->srv->reg);
        af_admin_reply(resp, 200,
                       json_pack("{s:o?}", d == &clients_dir ? "clients" : "users", list));
    }
}

void af_h_admin_clients(struct af_req *req, struct af_resp *resp)
{
    dir_route(&clients_dir, req, resp);
}

void af_h_admin_users(struct af_req *req, struct af_resp *resp)
{
    dir_route(&users_dir, req, resp);
}
