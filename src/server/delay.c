/*
 * delay.c - the delay timer of the scenarios token_delay and jwks_slow.
 *
 * A delayed answer is built at once and held; the connection is suspended
 * (MHD_suspend_connection: MHD then skips it, so the worker thread serves
 * the other connections), and this timer thread resumes it when its time
 * has come, upon which MHD calls the access handler again and the held
 * answer goes out. Written by hand: MHD has no timers, and one thread with
 * a sorted list is all a test server needs.
 */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <microhttpd.h>

#include "authflow/rc.h"
#include "authflow/util.h"
#include "server/delay.h"

struct delayed {
    struct delayed *next;
    uint64_t due_ms; /* af_monotonic_ms() */
    struct MHD_Connection *conn;
};

struct af_delayer {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC */
    pthread_t thread;
    bool started;
    bool stopping;        /* from now on nothing is held back */
    struct delayed *head; /* sorted by due_ms */
};

static void *delayer_main(void *arg)
{
    struct af_delayer *d = arg;
    struct delayed *ready, *x;

    pthread_mutex_lock(&d->mu);
    for (;;) {
        uint64_t now = af_monotonic_ms();
        /* take every entry that is due (all of them when stopping) */
        ready = NULL;
        while (d->head != NULL && (d->stopping || d->head->due_ms <= now)) {
            x = d->head;
            d->head = x->next;
            x->next = ready;
            ready = x;
        }
        if (ready != NULL) {
            /* resumed outside our lock: MHD takes its own */
            pthread_mutex_unlock(&d->mu);
            for (x = ready; x != NULL; x = ready) {
                ready = x->next;
                MHD_resume_connection(x->conn);
                free(x);
            }
            pthread_mutex_lock(&d->mu);
            continue;
        }
        if (d->stopping)
            break;
        if (d->head == NULL) {
            pthread_cond_wait(&d->cv, &d->mu);
        } else {
            struct timespec ts;
            uint64_t wait = d->head->due_ms - now;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += (time_t)(wait / 1000);
            ts.tv_nsec += (long)(wait % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&d->cv, &d->mu, &ts);
        }
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

af_rc af_delayer_start(struct af_delayer **out)
{
    struct af_delayer *d = calloc(1, sizeof(*d));
    pthread_condattr_t ca;
    bool mu_ok = false, cv_ok = false;
    af_rc rc = AF_ERR_NOMEM;

    *out = NULL;
    if (d == NULL)
        goto out;
    mu_ok = pthread_mutex_init(&d->mu, NULL) == 0;
    /* timed waits on the monotonic clock: a clock step must not stretch a
     * delay */
    if (mu_ok && pthread_condattr_init(&ca) == 0) {
        cv_ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
                pthread_cond_init(&d->cv, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (!cv_ok || pthread_create(&d->thread, NULL, delayer_main, d) != 0)
        goto out;
    d->started = true;
    *out = d;
    d = NULL;
    rc = AF_OK;
out:
    if (d != NULL) {
        if (cv_ok)
            pthread_cond_destroy(&d->cv);
        if (mu_ok)
            pthread_mutex_destroy(&d->mu);
        free(d);
    }
    return rc;
}

/* af_delayer_hold: suspend conn and resume it after ms. false when the
 * server is stopping (or out of memory): the caller answers at once. */
bool af_delayer_hold(struct af_delayer *d, struct MHD_Connection *conn, unsigned ms)
{
    struct delayed *x, **pp;

    if (d == NULL)
        return false;
    x = calloc(1, sizeof(*x));
    if (x == NULL)
        return false;
    x->conn = conn;
    x->due_ms = af_monotonic_ms() + ms;
    pthread_mutex_lock(&d->mu);
    if (d->stopping) {
        pthread_mutex_unlock(&d->mu);
        free(x);
        return false;
    }
    /* suspended before the timer thread can see it, so it cannot resume a
     * connection that is not suspended yet */
    MHD_suspend_connection(conn);
    for (pp = &d->head; *pp != NULL && (*pp)->due_ms <= x->due_ms; pp = &(*pp)->next)
        ;
    x->next = *pp;
    *pp = x;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    return true;
}

/* af_delayer_flush: resume every held connection now and hold none from now
 * on; the thread ends. Before the daemons stop: MHD must not stop with
 * suspended connections. */
void af_delayer_flush(struct af_delayer *d)
{
    if (d == NULL || !d->started)
        return;
    pthread_mutex_lock(&d->mu);
    d->stopping = true;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->thread, NULL);
    d->started = false;
}

void af_delayer_free(struct af_delayer *d)
{
    if (d == NULL)
        return;
    af_delayer_flush(d);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
}