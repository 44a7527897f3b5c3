/*
 * reqlog.c - one log line per request, written by server.c together with
 * the ledger record, so that the log reads as a timeline of what clients
 * did and why each refusal happened. Handlers never log a request: they
 * say why in struct af_resp (reason, detail) and server.c writes the line.
 *
 * The line is built in one bounded buffer, without a JSON tree (the text
 * format, the default, costs one escape pass per field and one write).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "authflow/buf.h"
#include "authflow/log.h"
#include "authflow/rc.h"
#include "server/core.h"
#include "server/http_req.h"
#include "server/reqlog.h"
#include "server/scenario.h"

/* The longest line; a longer one is cut. */
#define REQLOG_LINE_MAX 4096
/* The most bytes of the path and of the client id a line shows. */
#define REQLOG_FIELD_MAX 256

int af_reqlog_level(const struct af_resp *resp, bool admin)
{
    if (admin)
        return AF_LOG_DEBUG;
    return resp->status >= 500 ? AF_LOG_ERROR : resp->status >= 400 ? AF_LOG_WARN : AF_LOG_INFO;
}

/* cut: s, or its first REQLOG_FIELD_MAX bytes and "..." in tmp. */
static const char *cut(const char *s, char *tmp)
{
    size_t n = strlen(s);

    if (n <= REQLOG_FIELD_MAX)
        return s;
    memcpy(tmp, s, REQLOG_FIELD_MAX);
    memcpy(tmp + REQLOG_FIELD_MAX, "...", 4);
    return tmp;
}

/* shown_path: the path as the client sent it, in tmp: an issuer's path
 * (docs/issuers.md) before the path relative to it; cut as cut() cuts. */
static const char *shown_path(const struct af_req *req, char *tmp)
{
    const char *prefix = req->srv != NULL && req->srv->prefix != NULL ? req->srv->prefix : "";
    char full[REQLOG_FIELD_MAX + 80];

    if (req->path == NULL)
        return "-";
    if (*prefix == '\0')
        return cut(req->path, tmp);
    snprintf(full, sizeof(full), "%s%s", prefix, req->path);
    if (cut(full, tmp) != tmp)
        memcpy(tmp, full, strlen(full) + 1); /* at most REQLOG_FIELD_MAX bytes */
    return tmp;
}

/* text_line: the text format's line into b. */
static af_rc text_line(struct af_buf *b, const struct af_req *req, const struct af_resp *resp,
                       const char *client)
{
    char tmp[REQLOG_FIELD_MAX + 4];
    const struct af_req_facts *f = &req->facts;
    af_rc rc;

    rc = af_log_text(b, req->method_str ? req->method_str : "-");
    if (rc == AF_OK)
        rc = af_buf_addc(b, ' ');
    if (rc == AF_OK)
        rc = af_log_text(b, shown_path(req, tmp));
    if (rc == AF_OK)
        rc = af_buf_addf(b, " %u ", resp->status);
    if (rc == AF_OK)
        rc = af_log_text(b, client ? cut(client, tmp) : "-");
    if (rc == AF_OK && resp->detail != NULL) {
        rc = af_buf_addc(b, ' ');
        if (rc == AF_OK)
            rc = af_log_text(b, resp->detail);
    }
    if (rc == AF_OK && f->sub != NULL) {
        rc = af_buf_adds(b, " sub=");
        if (rc == AF_OK)
            rc = af_log_text(b, f->sub);
    }
    if (rc == AF_OK && f->scenario != NULL)
        rc = af_buf_addf(b, " scenario=%s", f->scenario->name);
    if (rc == AF_OK && resp->error[0] != '\0') {
        rc = af_buf_addc(b, ' ');
        if (rc == AF_OK)
            rc = af_log_text(b, resp->error);
    }
    if (rc == AF_OK && resp->reason[0] != '\0') {
        rc = af_buf_adds(b, resp->error[0] != '\0' ? ": " : " ");
        if (rc == AF_OK)
            rc = af_log_text(b, resp->reason);
    }
    return rc;
}

/* json_member: `,"name":` then s as a JSON string, or null for NULL or "". */
static af_rc json_member(struct af_buf *b, const char *name, const char *s)
{
    af_rc rc = af_buf_addf(b, ",\"%s\":", name);

    if (rc != AF_OK)
        return rc;
    if (s == NULL || *s == '\0')
        return af_buf_adds(b, "null");
    return af_log_json_str(b, s);
}

/* json_line: the JSON format's members into b. */
static af_rc json_line(struct af_buf *b, const struct af_req *req, const struct af_resp *resp,
                       const char *client, unsigned long long seq, bool admin)
{
    char tmp[REQLOG_FIELD_MAX + 4];
    const struct af_req_facts *f = &req->facts;
    af_rc rc;

    rc = af_buf_adds(b, "\"method\":");
    if (rc == AF_OK)
        rc = af_log_json_str(b, req->method_str ? req->method_str : "-");
    if (rc == AF_OK)
        rc = json_member(b, "path", shown_path(req, tmp));
    if (rc == AF_OK)
        rc = af_buf_addf(b, ",\"status\":%u", resp->status);
    if (rc == AF_OK)
        rc = json_member(b, "client", client ? cut(client, tmp) : NULL);
    if (rc == AF_OK)
        rc = json_member(b, "error", resp->error);
    if (rc == AF_OK)
        rc = json_member(b, "reason", resp->reason);
    if (rc == AF_OK && resp->detail != NULL)
        rc = json_member(b, "detail", resp->detail);
    if (rc == AF_OK && f->sub != NULL)
        rc = json_member(b, "sub", f->sub);
    if (rc == AF_OK && f->scenario != NULL)
        rc = json_member(b, "scenario", f->scenario->name);
    if (rc == AF_OK && seq > 0)
        rc = af_buf_addf(b, ",\"seq\":%llu", seq);
    if (rc == AF_OK && admin)
        rc = af_buf_adds(b, ",\"admin\":true");
    return rc;
}

void af_reqlog_write(const struct af_req *req, const struct af_resp *resp, unsigned long long seq,
                     bool admin)
{
    af_log_level lvl = (af_log_level)af_reqlog_level(resp, admin);
    const char *client = af_req_client_named(req);
    struct af_buf b;
    af_rc rc;

    if (!af_log_enabled(lvl))
        return;
    af_buf_init(&b, REQLOG_LINE_MAX);
    if (af_log_get_format() == AF_LOG_JSON) {
        rc = json_line(&b, req, resp, client, seq, admin);
    } else {
        rc = admin ? af_buf_adds(&b, "admin: ") : AF_OK;
        if (rc == AF_OK)
            rc = text_line(&b, req, resp, client);
    }
    /* a text line cut by the cap still says the most; a JSON one would not
     * parse */
    if (rc == AF_OK || (rc == AF_ERR_TOOBIG && af_log_get_format() == AF_LOG_TEXT))
        af_log_record(lvl, af_buf_str(&b), b.len);
    af_buf_free(&b);
}
