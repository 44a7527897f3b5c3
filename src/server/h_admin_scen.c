/*
 * h_admin_scen.c - the admin API's scenario and ledger routes
 * (docs/admin.md): GET/POST/DELETE /admin/scenarios, GET/DELETE
 * /admin/ledger and GET /admin/findings (the ledger read by findings.c).
 * Requests are read strictly, as /admin/tokens reads its
 * own: unknown members or query parameters are refused, each error naming
 * the one at fault.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authflow/cfg.h"
#include "authflow/proto.h"
#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/admin.h"
#include "server/core.h"
#include "server/findings.h"
#include "server/http_req.h"
#include "server/ledger.h"
#include "server/registry.h"
#include "server/routes.h"
#include "server/scenario.h"

/* ---- /admin/scenarios ---- */

static const char *const scen_members[] = {
    AF_SCEN_NAME, AF_SCEN_CLIENT, AF_SCEN_USER, AF_SCEN_TIMES, AF_SCEN_DELAY_MS, NULL,
};

static bool known(const char *const *list, const char *key)
{
    for (size_t i = 0; list[i] != NULL; i++) {
        if (strcmp(list[i], key) == 0)
            return true;
    }
    return false;
}

/* table_json: every row of the scenario table; new reference. */
static json_t *table_json(void)
{
    json_t *arr = json_array();
    const struct af_scenario *sc;

    for (size_t i = 0; arr != NULL && (sc = af_scenario_at(i)) != NULL; i++) {
        json_t *row = json_pack("{s:s, s:s, s:s, s:b}", AF_SCEN_NAME, sc->name, "stage",
                                af_stage_name(sc->stage), "description", sc->description,
                                "takes_delay", sc->takes_delay);
        if (json_array_append_new(arr, row) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

static void scenarios_list(struct af_req *req, struct af_resp *resp)
{
    af_admin_reply(resp, 200,
                   json_pack("{s:o, s:o}", "scenarios", table_json(), "queued",
                             af_scen_queue_json(req->srv->scen)));
}

/* opt_string: member name of body as a string, NULL when absent or null;
 * false (resp set) when it has another type. */
static bool opt_string(const json_t *body, const char *name, const char **out, struct af_resp *resp)
{
    const json_t *v = json_object_get(body, name);

    *out = NULL;
    if (v == NULL || json_is_null(v))
        return true;
    if (!json_is_string(v) || json_string_length(v) == 0) {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST, "%s: expected a non-empty string or null",
                       name);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

static bool opt_long(const json_t *body, const char *name, long def, long *out,
                     struct af_resp *resp)
{
    const json_t *v = json_object_get(body, name);

    *out = def;
    if (v == NULL)
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > AF_SCEN_TIMES_MAX) {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST, "%s: expected an integer from 0 to %ld",
                       name, AF_SCEN_TIMES_MAX);
        return false;
    }
    *out = (long)json_integer_value(v);
    return true;
}

/* read_spec: the queue request in body; false with resp set when refused. */
static bool read_spec(const struct af_server *srv, const json_t *body, struct af_scen_spec *spec,
                      struct af_resp *resp)
{
    const char *key, *name, *m;
    char msg[256];
    json_t *v;

    memset(spec, 0, sizeof(*spec));
    json_object_foreach((json_t *)body, key, v)
    {
        if (!known(scen_members, key)) {
            af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                           "%.64s: unknown member (expected one of: " AF_SCEN_NAME
                           ", " AF_SCEN_CLIENT ", " AF_SCEN_USER ", " AF_SCEN_TIMES
                           ", " AF_SCEN_DELAY_MS ")",
                           key);
            return false;
        }
    }
    name = json_string_value(json_object_get(body, AF_SCEN_NAME));
    if (name == NULL) {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                       AF_SCEN_NAME ": expected the name of a scenario (a string)");
        return false;
    }
    spec->sc = af_scenario_find(name);
    if (spec->sc == NULL) {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                       AF_SCEN_NAME ": unknown scenario \"%.64s\" (GET " AF_ADMIN_PATH_SCENARIOS
                                    " and docs/scenarios.md list them)",
                       name);
        return false;
    }
    if (!opt_string(body, AF_SCEN_CLIENT, &spec->client, resp) ||
        !opt_string(body, AF_SCEN_USER, &spec->user, resp) ||
        !opt_long(body, AF_SCEN_TIMES, 1, &spec->times, resp) ||
        !opt_long(body, AF_SCEN_DELAY_MS, -1, &spec->delay_ms, resp))
        return false;
    m = af_scen_spec_check(srv->cfg, srv, spec, msg, sizeof(msg));
    if (m != NULL) {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST, "%s", m);
        return false;
    }
    return true;
}

static void scenarios_queue(struct af_req *req, struct af_resp *resp)
{
    struct af_scen_spec spec;
    json_t *body = NULL, *entry = NULL;
    af_rc rc;

    body = af_admin_json_body(req, resp);
    if (body == NULL)
        goto out;
    if (!read_spec(req->srv, body, &spec, resp))
        goto out;
    rc = af_scen_queue_add(req->srv->scen, &spec, &entry);
    if (rc == AF_ERR_TOOBIG) {
        af_admin_error(resp, 409, AF_E_INVALID_REQUEST,
                       "the queue holds %u scenarios already (DELETE " AF_ADMIN_PATH_SCENARIOS
                       " clears it)",
                       AF_SCEN_QUEUE_MAX);
        goto out;
    }
    if (rc != AF_OK) {
        af_admin_error(resp, 500, AF_E_SERVER_ERROR, "out of memory");
        goto out;
    }
    af_resp_json(resp, 201, entry);
    af_resp_no_store(resp);
out:
    json_decref(entry);
    json_decref(body);
}

/* reply_cleared: the 200 answer of a DELETE, {"cleared": n}. */
static void reply_cleared(struct af_resp *resp, size_t n)
{
    af_admin_reply(resp, 200, json_pack("{s:I}", "cleared", (json_int_t)n));
}

static void scenarios_clear(struct af_req *req, struct af_resp *resp)
{
    static const char *const names[] = {AF_SCEN_ID, NULL};
    const char *id = af_params_get(&req->query, AF_SCEN_ID);
    size_t n;

    if (!af_admin_only_params(&req->query, names, AF_SCEN_ID " or nothing", resp))
        return;
    n = af_scen_queue_clear(req->srv->scen, id);
    if (id != NULL && n == 0) {
        af_admin_error(resp, 404, "not_found", AF_SCEN_ID ": no queued scenario \"%.64s\"", id);
        return;
    }
    reply_cleared(resp, n);
}

void af_h_admin_scenarios(struct af_req *req, struct af_resp *resp)
{
    if (req->srv->scen == NULL) {
        af_admin_error(resp, 500, AF_E_SERVER_ERROR, "scenarios are not available");
        return;
    }
    if (req->method == AF_M_GET)
        scenarios_list(req, resp);
    else if (req->method == AF_M_POST)
        scenarios_queue(req, resp);
    else
        scenarios_clear(req, resp);
}

/* ---- /admin/ledger ---- */

/* parse_count: a decimal integer 0..max with nothing else. */
static bool parse_count(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    unsigned long long v;

    if (s == NULL || *s < '0' || *s > '9')
        return false;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return false;
    *out = v;
    return true;
}

static void ledger_query(struct af_req *req, struct af_resp *resp)
{
    static const char *const names[] = {
        AF_LEDGER_SINCE,  AF_LEDGER_PATH, AF_LEDGER_METHOD, AF_LEDGER_CLIENT_ID,
        AF_LEDGER_CLIENT, AF_LEDGER_CODE, AF_LEDGER_LIMIT,  NULL,
    };
    const struct af_params *q = &req->query;
    struct af_ledger_filter f;
    unsigned long long v;
    json_t *out = NULL;

    if (!af_admin_only_params(q, names,
                              AF_LEDGER_SINCE ", " AF_LEDGER_PATH ", " AF_LEDGER_METHOD
                                              ", " AF_LEDGER_CLIENT_ID " (or " AF_LEDGER_CLIENT
                                              "), " AF_LEDGER_CODE ", " AF_LEDGER_LIMIT,
                              resp))
        return;
    memset(&f, 0, sizeof(f));
    f.limit = AF_LEDGER_LIMIT_MAX;
    if (af_params_get(q, AF_LEDGER_SINCE) != NULL) {
        if (!parse_count(af_params_get(q, AF_LEDGER_SINCE), ~0ULL >> 1, &v)) {
            af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                           AF_LEDGER_SINCE ": expected a sequence number (a non-negative "
                                           "integer)");
            return;
        }
        f.since = v;
    }
    if (af_params_get(q, AF_LEDGER_LIMIT) != NULL) {
        if (!parse_count(af_params_get(q, AF_LEDGER_LIMIT), AF_LEDGER_LIMIT_MAX, &v)) {
            af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                           AF_LEDGER_LIMIT ": expected an integer from 0 to %d",
                           AF_LEDGER_LIMIT_MAX);
            return;
        }
        f.limit = (size_t)v;
    }
    if (af_params_get(q, AF_LEDGER_CLIENT_ID) != NULL &&
        af_params_get(q, AF_LEDGER_CLIENT) != NULL) {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                       AF_LEDGER_CLIENT ": give " AF_LEDGER_CLIENT_ID " or " AF_LEDGER_CLIENT
                                        ", not both");
        return;
    }
    f.path = af_params_get(q, AF_LEDGER_PATH);
    f.method = af_params_get(q, AF_LEDGER_METHOD);
    f.client_id = af_params_get(q, AF_LEDGER_CLIENT_ID);
    if (f.client_id == NULL)
        f.client_id = af_params_get(q, AF_LEDGER_CLIENT);
    f.code = af_params_get(q, AF_LEDGER_CODE);
    if (af_ledger_query(req->srv->ledger, &f, &out) != AF_OK) {
        af_admin_error(resp, 500, AF_E_SERVER_ERROR, "out of memory");
        return;
    }
    af_resp_json(resp, 200, out);
    af_resp_no_store(resp);
    json_decref(out);
}

static void ledger_clear(struct af_req *req, struct af_resp *resp)
{
    static const char *const names[] = {NULL};

    if (!af_admin_only_params(&req->query, names, "none", resp))
        return;
    reply_cleared(resp, af_ledger_clear(req->srv->ledger));
}

void af_h_admin_ledger(struct af_req *req, struct af_resp *resp)
{
    if (req->srv->ledger == NULL) {
        af_admin_error(resp, 500, AF_E_SERVER_ERROR, "the ledger is not available");
        return;
    }
    if (req->method == AF_M_GET)
        ledger_query(req, resp);
    else
        ledger_clear(req, resp);
}

/* ---- /admin/findings ---- */

/* ledger_since: every entry after since, oldest first, page by page
 * (af_ledger_query answers at most AF_LEDGER_LIMIT_MAX at a time), in
 * *entries (new reference); *dropped as the first page says. The pages are
 * bounded by the ring's size, plus one for what came meanwhile. */
static af_rc ledger_since(struct af_server *srv, unsigned long long since, json_t **entries,
                          json_int_t *dropped)
{
    struct af_ledger_filter lf;
    size_t pages = srv->cfg->ledger_max_entries / AF_LEDGER_LIMIT_MAX + 2;
    json_t *all = json_array(), *page = NULL;
    af_rc rc = all != NULL ? AF_OK : AF_ERR_NOMEM;

    *entries = NULL;
    *dropped = 0;
    memset(&lf, 0, sizeof(lf));
    lf.since = since;
    lf.limit = AF_LEDGER_LIMIT_MAX;
    while (rc == AF_OK && pages-- > 0) {
        rc = af_ledger_query(srv->ledger, &lf, &page);
        if (rc != AF_OK)
            break;
        if (lf.since == since)
            *dropped = json_integer_value(json_object_get(page, AF_LEDGER_DROPPED));
        if (json_array_extend(all, json_object_get(page, AF_LEDGER_ENTRIES)) != 0)
            rc = AF_ERR_NOMEM;
        lf.since = (unsigned long long)json_integer_value(json_object_get(page, AF_LEDGER_NEXT));
        if (json_integer_value(json_object_get(page, AF_LEDGER_COUNT)) < AF_LEDGER_LIMIT_MAX)
            pages = 0;
        json_decref(page);
        page = NULL;
    }
    if (rc == AF_OK) {
        *entries = all;
        all = NULL;
    }
    json_decref(all);
    return rc;
}

void af_h_admin_findings(struct af_req *req, struct af_resp *resp)
{
    static const char *const names[] = {
        AF_FINDINGS_SINCE, AF_FINDINGS_CLIENT, AF_FINDINGS_USER, AF_FINDINGS_ID, NULL,
    };
    const struct af_params *q = &req->query;
    const struct af_cfg_user *user;
    struct af_findings_filter f;
    unsigned long long since = 0;
    json_int_t dropped = 0;
    json_t *entries = NULL, *found = NULL;

    if (req->srv->ledger == NULL) {
        af_admin_error(resp, 500, AF_E_SERVER_ERROR, "the ledger is not available");
        return;
    }
    if (!af_admin_only_params(q, names,
                              AF_FINDINGS_SINCE ", " AF_FINDINGS_CLIENT ", " AF_FINDINGS_USER
                                                ", " AF_FINDINGS_ID,
                              resp))
        return;
    if (af_params_get(q, AF_FINDINGS_SINCE) != NULL &&
        !parse_count(af_params_get(q, AF_FINDINGS_SINCE), ~0ULL >> 1, &since)) {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                       AF_FINDINGS_SINCE ": expected a sequence number (a non-negative integer)");
        return;
    }
    memset(&f, 0, sizeof(f));
    f.client = af_params_get(q, AF_FINDINGS_CLIENT);
    f.id = af_params_get(q, AF_FINDINGS_ID);
    if (f.id != NULL && af_findings_def(f.id) == NULL) {
        af_admin_error(resp, 400, AF_E_INVALID_REQUEST,
                       AF_FINDINGS_ID ": unknown finding \"%.64s\" (docs/admin.md lists them)",
                       f.id);
        return;
    }
    /* a username names its user's sub, which is what entries record */
    f.sub = af_params_get(q, AF_FINDINGS_USER);
    user = f.sub != NULL ? af_user_by_username(req->srv, f.sub) : NULL;
    if (user != NULL)
        f.sub = user->sub;
    if (ledger_since(req->srv, since, &entries, &dropped) != AF_OK ||
        af_findings_compute(req->srv, entries, &f, &found) != AF_OK) {
        af_admin_error(resp, 500, AF_E_SERVER_ERROR, "out of memory");
        goto out;
    }
    af_admin_reply(resp, 200,
                   json_pack("{s:O, s:I, s:I, s:I}", AF_FINDINGS_FINDINGS, found, AF_FINDINGS_COUNT,
                             (json_int_t)json_array_size(found), AF_FINDINGS_SCANNED,
                             (json_int_t)json_array_size(entries), AF_LEDGER_DROPPED, dropped));
out:
    json_decref(entries);
    json_decref(found);
}
