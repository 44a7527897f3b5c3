/*
 * guard.c - the connection guard (guard.h): whole-request deadlines and
 * room for new clients. Written by hand: libmicrohttpd 0.9.75 has only an
 * idle timeout and a global or per-address connection limit, and on
 * loopback (where authflowd serves its tests) every client shares one
 * address, so a per-address cap would shut the normal clients out along
 * with the slow ones. Cutting is done on the socket (shutdown), which MHD
 * sees as the client going away and cleans up after as usual.
 */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "authflow/proto.h"
#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/guard.h"

/* How often the thread looks; the deadline is met to within this. */
#define GUARD_TICK_MS 100
/* How long a connection answered early (413) may go on sending before it
 * is cut: enough for the client to read the answer, as nginx's
 * lingering_timeout, without reading a hostile body to its end. */
#define GUARD_LINGER_MS 1000

enum { G_IDLE, G_RECV, G_BUSY, G_LINGER, G_CUT };

struct af_guard {
    pthread_mutex_t mu;
    pthread_t thread;
    bool started;
    int stopping; /* atomic */
    uint64_t deadline_ms;
    size_t shed_at; /* from this many open connections on, the oldest goes */
    size_t n;
    struct af_guard_conn *head, *tail; /* oldest first (by add) */
    char r408[256];                    /* the whole 408 answer */
    size_t r408_len;
};

static int state_of(const struct af_guard_conn *c)
{
    return __atomic_load_n(&c->state, __ATOMIC_SEQ_CST);
}

static bool move(struct af_guard_conn *c, int from, int to)
{
    return __atomic_compare_exchange_n(&c->state, &from, to, false, __ATOMIC_SEQ_CST,
                                       __ATOMIC_SEQ_CST);
}

/* cut: shut c's socket (under the guard's mutex) if it is still IDLE,
 * RECV or LINGER; a RECV one first gets the 408, and remembers why (for
 * the ledger) before MHD can see the socket shut. */
static void cut(struct af_guard *g, struct af_guard_conn *c, enum af_guard_cut why)
{
    int s = state_of(c);

    if ((s != G_IDLE && s != G_RECV && s != G_LINGER) || !move(c, s, G_CUT))
        return;
    if (s == G_RECV) {
        __atomic_store_n(&c->cut_why, (int)why, __ATOMIC_SEQ_CST);
        (void)!send(c->fd, g->r408, g->r408_len, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    shutdown(c->fd, SHUT_RDWR);
}

/* overdue: whether c's time is up at now. */
static bool overdue(const struct af_guard *g, const struct af_guard_conn *c, uint64_t now)
{
    int s = state_of(c);
    uint64_t since = __atomic_load_n(&c->since_ms, __ATOMIC_SEQ_CST);
    uint64_t limit = s == G_LINGER ? GUARD_LINGER_MS : g->deadline_ms;

    return (s == G_IDLE || s == G_RECV || s == G_LINGER) && now > since && now - since > limit;
}

static void *guard_main(void *arg)
{
    struct af_guard *g = arg;

    while (!__atomic_load_n(&g->stopping, __ATOMIC_SEQ_CST)) {
        uint64_t now = af_monotonic_ms();
        pthread_mutex_lock(&g->mu);
        for (struct af_guard_conn *c = g->head; c != NULL; c = c->next) {
            if (overdue(g, c, now))
                cut(g, c, AF_GUARD_CUT_DEADLINE);
        }
        pthread_mutex_unlock(&g->mu);
        usleep(GUARD_TICK_MS * 1000);
    }
    return NULL;
}

af_rc af_guard_start(unsigned deadline_s, unsigned max_conns, struct af_guard **out)
{
    struct af_guard *g = calloc(1, sizeof(*g));
    char body[160];
    int k;
    af_rc rc = AF_ERR_NOMEM;

    *out = NULL;
    if (g == NULL || pthread_mutex_init(&g->mu, NULL) != 0) {
        free(g);
        return AF_ERR_NOMEM;
    }
    g->deadline_ms = (uint64_t)deadline_s * 1000;
    /* a quarter: MHD splits its limit among the pool's threads, and one
     * thread may fill its part before the whole is reached */
    g->shed_at = max_conns - max_conns / 4;
    snprintf(body, sizeof(body),
             "{\"" AF_P_ERROR "\":\"" AF_E_INVALID_REQUEST "\",\"" AF_P_ERROR_DESCRIPTION
             "\":\"the request was not received within %u s\"}",
             deadline_s);
    k = snprintf(g->r408, sizeof(g->r408),
                 "HTTP/1.1 %u Request Timeout\r\n" AF_HDR_CONNECTION
                 ": close\r\n" AF_HDR_CONTENT_TYPE ": " AF_CT_JSON "\r\n" AF_HDR_CACHE_CONTROL
                 ": no-store\r\nContent-Length: "
                 "%zu\r\n\r\n%s",
                 (unsigned)MHD_HTTP_REQUEST_TIMEOUT, strlen(body), body);
    g->r408_len = k > 0 && (size_t)k < sizeof(g->r408) ? (size_t)k : 0;
    if (pthread_create(&g->thread, NULL, guard_main, g) != 0)
        goto out;
    g->started = true;
    *out = g;
    g = NULL;
    rc = AF_OK;
out:
    af_guard_free(g);
    return rc;
}

void af_guard_free(struct af_guard *g)
{
    if (g == NULL)
        return;
    __atomic_store_n(&g->stopping, 1, __ATOMIC_SEQ_CST);
    if (g->started)
        pthread_join(g->thread, NULL);
    pthread_mutex_destroy(&g->mu);
    free(g);
}

void af_guard_add(struct af_guard *g, struct af_guard_conn *c, int fd)
{
    if (g == NULL)
        return;
    c->fd = fd;
    c->state = G_IDLE;
    c->cut_why = AF_GUARD_KEPT;
    c->since_ms = af_monotonic_ms();
    c->next = NULL;
    pthread_mutex_lock(&g->mu);
    if (g->n >= g->shed_at) {
        /* room for new clients: the connection waiting longest for its
         * request goes (BUSY ones are being answered and never go) */
        struct af_guard_conn *old = NULL;
        for (struct af_guard_conn *x = g->head; x != NULL; x = x->next) {
            int s = state_of(x);
            if ((s == G_IDLE || s == G_RECV) &&
                (old == NULL || __atomic_load_n(&x->since_ms, __ATOMIC_SEQ_CST) <
                                    __atomic_load_n(&old->since_ms, __ATOMIC_SEQ_CST)))
                old = x;
        }
        if (old != NULL)
            cut(g, old, AF_GUARD_CUT_SHED);
    }
    c->prev = g->tail;
    if (g->tail != NULL)
        g->tail->next = c;
    else
        g->head = c;
    g->tail = c;
    g->n++;
    pthread_mutex_unlock(&g->mu);
}

void af_guard_remove(struct af_guard *g, struct af_guard_conn *c)
{
    if (g == NULL)
        return;
    pthread_mutex_lock(&g->mu);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        g->head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    else
        g->tail = c->prev;
    c->prev = c->next = NULL;
    g->n--;
    pthread_mutex_unlock(&g->mu);
}

void af_guard_request(struct af_guard_conn *c)
{
    move(c, G_IDLE, G_RECV);
}

bool af_guard_answer(struct af_guard_conn *c)
{
    return move(c, G_RECV, G_BUSY) || move(c, G_IDLE, G_BUSY) || state_of(c) == G_BUSY;
}

void af_guard_done(struct af_guard_conn *c)
{
    __atomic_store_n(&c->since_ms, af_monotonic_ms(), __ATOMIC_SEQ_CST);
    move(c, G_BUSY, G_IDLE);
}

bool af_guard_reply_early(struct af_guard_conn *c, const char *raw, size_t len)
{
    __atomic_store_n(&c->since_ms, af_monotonic_ms(), __ATOMIC_SEQ_CST);
    if (!move(c, G_RECV, G_LINGER) && !move(c, G_IDLE, G_LINGER))
        return false;
    (void)!send(c->fd, raw, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(c->fd, SHUT_WR);
    return true;
}

bool af_guard_gone(const struct af_guard_conn *c)
{
    int s = state_of(c);
    return s == G_LINGER || s == G_CUT;
}

enum af_guard_cut af_guard_cut_why(const struct af_guard_conn *c)
{
    return (enum af_guard_cut)__atomic_load_n(&c->cut_why, __ATOMIC_SEQ_CST);
}

size_t af_guard_open(struct af_guard *g)
{
    size_t n;

    if (g == NULL)
        return 0;
    pthread_mutex_lock(&g->mu);
    n = g->n;
    pthread_mutex_unlock(&g->mu);
    return n;
}
