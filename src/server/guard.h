/*
 * guard.h - the connection guard (guard.c): a whole-request deadline and a
 * share of connections kept for new clients, against clients that trickle
 * their headers or body. Private to src/server/.
 *
 * libmicrohttpd's own timeout is idle based (MHD_OPTION_CONNECTION_TIMEOUT
 * restarts with every byte), so a client sending one byte every few
 * seconds holds a connection for ever, and as many such clients as the
 * connection limit lock everyone else out. The guard knows every open
 * connection of one listener and where its current request stands:
 *
 *   IDLE  no request line yet (a new connection, or keep-alive between
 *         requests); the deadline runs from the connection's start or the
 *         end of the previous answer
 *   RECV  the request line came, headers or body are still arriving
 *   BUSY  the handler answers (a delayed answer included): never cut
 *   LINGER  an early answer (413) was written and the sending side shut;
 *         what still comes is read and dropped for a short while
 *   CUT   the guard shut the socket; MHD closes the connection
 *
 * A thread cuts IDLE and RECV connections past the deadline (RECV ones
 * get a 408 first), and LINGER ones past the linger time. The guard
 * writes on a socket only while MHD does not (IDLE, RECV, LINGER), and it
 * touches a socket only between af_guard_add and af_guard_remove, which
 * MHD's connection notifications bracket before it closes the socket.
 */
#ifndef AUTHFLOW_SERVER_GUARD_H
#define AUTHFLOW_SERVER_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "authflow/rc.h"

struct af_guard;

/* Why the guard cut a request it answered 408 (af_guard_cut_why). */
enum af_guard_cut {
    AF_GUARD_KEPT = 0,     /* not cut, or cut before its request line came */
    AF_GUARD_CUT_DEADLINE, /* not received within the deadline */
    AF_GUARD_CUT_SHED,     /* the oldest waiting when a new client needed room */
};

/* One connection as the guard sees it; embedded in server.c's per-connection
 * state, linked into the guard by af_guard_add. Fields are the guard's. */
struct af_guard_conn {
    struct af_guard_conn *prev, *next; /* under the guard's mutex */
    int fd;
    int state;         /* enum in guard.c; atomic access only */
    uint64_t since_ms; /* af_monotonic_ms() the deadline counts from; atomic */
    int cut_why;       /* enum af_guard_cut; atomic */
};

/* af_guard_start: a guard cutting requests not received within deadline_s
 * seconds, on a listener of max_conns connections, with its thread. When
 * three quarters of max_conns are open, each new connection cuts the oldest
 * IDLE or RECV one. Caller frees *out with af_guard_free(). AF_ERR_NOMEM
 * when the thread or its lock cannot be made; *out is then NULL. */
af_rc af_guard_start(unsigned deadline_s, unsigned max_conns, struct af_guard **out) AF_WARN_UNUSED;

/* af_guard_free: stop the thread and free the guard. Every connection must
 * have been removed (the daemon stopped first). NULL is a no-op. */
void af_guard_free(struct af_guard *g);

/* af_guard_add: track c (socket fd) from now on, IDLE, deadline from now;
 * may cut the oldest connection to keep room. af_guard_remove: stop
 * tracking c, before its socket is closed. g NULL: no-ops. */
void af_guard_add(struct af_guard *g, struct af_guard_conn *c, int fd);
void af_guard_remove(struct af_guard *g, struct af_guard_conn *c);

/* af_guard_request: the request line of a new request came (IDLE -> RECV). */
void af_guard_request(struct af_guard_conn *c);

/* af_guard_answer: the handler is about to answer (RECV or IDLE -> BUSY):
 * true, and the guard keeps off the socket; false when the guard already
 * cut the connection or lingers: the caller must not answer. */
bool af_guard_answer(struct af_guard_conn *c);

/* af_guard_done: the answer went out (BUSY -> IDLE); the next request's
 * deadline counts from now. */
void af_guard_done(struct af_guard_conn *c);

/* af_guard_reply_early: write raw (a whole HTTP answer with "Connection:
 * close") on c's socket, shut the sending side, and linger (RECV -> LINGER)
 * until the guard cuts it. From MHD's thread of c, before any answer was
 * queued. false when the guard cut the connection first (nothing written). */
bool af_guard_reply_early(struct af_guard_conn *c, const char *raw, size_t len);

/* af_guard_gone: whether the guard cut c or lingers: the request must be
 * read and dropped, never answered. */
bool af_guard_gone(const struct af_guard_conn *c);

/* af_guard_cut_why: whether the guard cut c's request, with a 408, after
 * its request line came and before it was answered, and why; for the
 * ledger, from MHD's thread of c once the request ends. */
enum af_guard_cut af_guard_cut_why(const struct af_guard_conn *c);

/* af_guard_open: connections tracked now (for the drain at stop). */
size_t af_guard_open(struct af_guard *g);

#endif
