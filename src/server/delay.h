/*
 * delay.h - the delay timer (delay.c): holds an answer back without holding
 * a worker thread, for the scenarios token_delay and jwks_slow. server.c
 * suspends the connection through it; the timer thread resumes it when the
 * delay is over. Private to src/server/.
 */
#ifndef AUTHFLOW_SERVER_DELAY_H
#define AUTHFLOW_SERVER_DELAY_H

#include <stdbool.h>

#include "authflow/rc.h"

struct MHD_Connection;
struct af_delayer; /* the timer thread and its sorted list; one mutex */

/* af_delayer_start: start the timer thread. Caller frees *out with
 * af_delayer_free(). AF_ERR_NOMEM when the thread or its locks cannot be
 * made; *out is then NULL. */
af_rc af_delayer_start(struct af_delayer **out) AF_WARN_UNUSED;

/* af_delayer_hold: suspend conn and resume it after ms. false when the
 * server is stopping (or out of memory): the caller answers at once. d may
 * be NULL (false). */
bool af_delayer_hold(struct af_delayer *d, struct MHD_Connection *conn, unsigned ms);

/* af_delayer_flush: resume every held connection now and hold none from
 * now on; the thread ends. Before the daemons stop: MHD must not stop with
 * suspended connections. NULL is a no-op. */
void af_delayer_flush(struct af_delayer *d);

/* af_delayer_free: flush, then free. NULL is a no-op. */
void af_delayer_free(struct af_delayer *d);

#endif
