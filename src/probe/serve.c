/*
 * serve.c - the probe's own loopback server for one check (serve.h):
 * libmicrohttpd with its one internal thread, bound to 127.0.0.1 port 0,
 * a handful of documents set before their URL is handed out, and a log of
 * the requests, under one mutex (the daemon's thread writes it, the
 * check's thread reads it through the log URL).
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <jansson.h>
#include <microhttpd.h>

#include "authflow/util.h"
#include "probe/serve.h"

/* path and User-Agent kept per logged request */
#define SERVE_FIELD_MAX 200

struct serve_doc {
    char *path; /* owned: PREFIX/name */
    char *ctype;
    char *body;
};

struct af_serve {
    struct MHD_Daemon *d;
    pthread_mutex_t mu;
    char *origin; /* owned: http://127.0.0.1:PORT */
    char *prefix; /* owned: /authprobe-RANDOM */
    char *log_path;
    char *log_url;
    struct serve_doc docs[AF_SERVE_MAX_DOCS];
    size_t ndocs;
    json_t *log;  /* owned: the logged requests */
    size_t count; /* requests seen, the log's own excepted */
};

static char *clip(const char *s)
{
    if (s == NULL)
        return strdup("");
    return strndup(s, SERVE_FIELD_MAX);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *ctype,
                             const char *body)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* record: log one request (the mutex held). */
static void record(struct af_serve *s, const char *method, const char *url, const char *ua)
{
    char *m = clip(method), *p = clip(url), *u = clip(ua);
    s->count++;
    if (m != NULL && p != NULL && u != NULL && json_array_size(s->log) < AF_SERVE_MAX_LOGGED)
        json_array_append_new(
            s->log, json_pack("{s:s, s:s, s:s}", "method", m, "path", p, "user_agent", u));
    free(m);
    free(p);
    free(u);
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **req_cls)
{
    static int first_call;
    struct af_serve *s = cls;
    enum MHD_Result ret;
    char *text = NULL;
    size_t i;
    (void)version;
    (void)upload;
    if (*req_cls == NULL) { /* headers only so far: wait for the body */
        *req_cls = &first_call;
        return MHD_YES;
    }
    if (*upload_size != 0) { /* a body is never read */
        *upload_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&s->mu);
    if (strcmp(url, s->log_path) == 0) {
        json_t *o = json_pack("{s:I, s:O}", "count", (json_int_t)s->count, "requests", s->log);
        text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        pthread_mutex_unlock(&s->mu);
        ret = text ? reply(conn, MHD_HTTP_OK, "application/json", text) : MHD_NO;
        free(text);
        return ret;
    }
    record(s, method, url,
           MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_USER_AGENT));
    for (i = 0; i < s->ndocs; i++) {
        if (strcmp(url, s->docs[i].path) == 0 && strcmp(method, "GET") == 0) {
            text = strdup(s->docs[i].body);
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (text == NULL)
        return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n");
    ret = reply(conn, MHD_HTTP_OK, s->docs[i].ctype, text);
    free(text);
    return ret;
}

af_rc af_serve_start(struct af_serve **out, struct af_err *err)
{
    struct af_serve *s = calloc(1, sizeof(*s));
    struct sockaddr_in sin;
    const union MHD_DaemonInfo *di;
    char *rnd = NULL;
    af_rc rc = AF_ERR_NOMEM;

    *out = NULL;
    if (s == NULL)
        return AF_ERR_NOMEM;
    pthread_mutex_init(&s->mu, NULL);
    s->log = json_array();
    if (s->log == NULL || af_rand_token(16, &rnd) != AF_OK ||
        asprintf(&s->prefix, "/authprobe-%s", rnd) < 0) {
        s->prefix = NULL;
        goto out;
    }
    if (asprintf(&s->log_path, "%s/log", s->prefix) < 0) {
        s->log_path = NULL;
        goto out;
    }
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = 0;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* one internal thread and poll(): a few requests per check */
    s->d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL, NULL, access_cb,
                         s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)AF_SERVE_MAX_CONNS,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)AF_SERVE_CONN_TIMEOUT,
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024), MHD_OPTION_END);
    if (s->d == NULL) {
        rc = AF_ERR_SET(err, AF_ERR_IO, "cannot serve on 127.0.0.1 (libmicrohttpd did not start)");
        goto out;
    }
    di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    if (di == NULL || di->port == 0) {
        rc = AF_ERR_SET(err, AF_ERR_IO, "cannot serve on 127.0.0.1 (no port bound)");
        goto out;
    }
    if (asprintf(&s->origin, "http://127.0.0.1:%u", (unsigned)di->port) < 0) {
        s->origin = NULL;
        goto out;
    }
    if (asprintf(&s->log_url, "%s%s", s->origin, s->log_path) < 0) {
        s->log_url = NULL;
        goto out;
    }
    *out = s;
    s = NULL;
    rc = AF_OK;
out:
    free(rnd);
    af_serve_stop(s);
    return rc;
}

af_rc af_serve_url(const struct af_serve *s, const char *name, char **out)
{
    if (asprintf(out, "%s%s/%s", s->origin, s->prefix, name) < 0) {
        *out = NULL;
        return AF_ERR_NOMEM;
    }
    return AF_OK;
}

af_rc af_serve_put(struct af_serve *s, const char *name, const char *ctype, const char *body)
{
    struct serve_doc d = {NULL, NULL, NULL};
    af_rc rc = AF_ERR_NOMEM;

    if (s->ndocs >= AF_SERVE_MAX_DOCS)
        return AF_ERR_TOOBIG;
    if (asprintf(&d.path, "%s/%s", s->prefix, name) < 0) {
        d.path = NULL;
        goto out;
    }
    d.ctype = strdup(ctype);
    d.body = strdup(body);
    if (d.ctype == NULL || d.body == NULL)
        goto out;
    pthread_mutex_lock(&s->mu);
    s->docs[s->ndocs++] = d;
    pthread_mutex_unlock(&s->mu);
    memset(&d, 0, sizeof(d));
    rc = AF_OK;
out:
    free(d.path);
    free(d.ctype);
    free(d.body);
    return rc;
}

const char *af_serve_log_url(const struct af_serve *s)
{
    return s->log_url;
}

void af_serve_stop(struct af_serve *s)
{
    size_t i;
    if (s == NULL)
        return;
    if (s->d != NULL)
        MHD_stop_daemon(s->d);
    for (i = 0; i < s->ndocs; i++) {
        free(s->docs[i].path);
        free(s->docs[i].ctype);
        free(s->docs[i].body);
    }
    json_decref(s->log);
    free(s->origin);
    free(s->prefix);
    free(s->log_path);
    free(s->log_url);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
