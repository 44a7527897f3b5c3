/*
 * core.h - the server every module reads: its config, keys, store,
 * scenario engine, ledger and listeners (server.c builds and frees it).
 * Private to src/server/.
 */
#ifndef AUTHFLOW_SERVER_CORE_H
#define AUTHFLOW_SERVER_CORE_H

#include <stdint.h>

#include <jansson.h>

#include "authflow/cfg.h"
#include "authflow/jose.h"
#include "authflow/server.h"

struct MHD_Daemon;
struct af_delayer;     /* delay.h */
struct af_doc;         /* doc.h */
struct af_keyring;     /* keyring.h */
struct af_keyshare;    /* keyshare.h */
struct af_ledger;      /* ledger.h */
struct af_listener;    /* server.c: a daemon's server, route table and limits */
struct af_scen_engine; /* scenario.h */
struct af_store;       /* store.h */

struct af_server {
    const struct af_config *cfg; /* borrowed */
    char *issuer;                /* owned; no trailing slash */
    /* owned: the keys, which one signs, /jwks and the metadata document
     * (which advertises the keys' algorithms), changed at run time by the
     * admin API; readers take a snapshot (af_keyring_get) */
    struct af_keyring *keyring;
    struct af_keyshare *keyshare; /* owned (keyshare.h): the keys shared with replicas
                                     through Redis; NULL with the store in memory */
    struct af_store *store;       /* owned */
    struct af_registry *reg;      /* owned: the clients and users (registry.h); NULL in a server
                                     built by hand, whose lookups read cfg */
    struct MHD_Daemon *daemon;    /* owned: stopped by af_server_stop */
    unsigned short port;
    int inflight;              /* requests being served (both listeners); atomic access only */
    int stopping;              /* af_server_stop began: answers close their connection; atomic */
    uint64_t last_activity_ms; /* af_monotonic_ms() a request last began or ended; atomic */
    /* the admin API's own listener (admin.enabled or --admin-listen) */
    struct af_listener *main_l, *admin_l; /* owned; admin_l NULL when off */
    struct MHD_Daemon *admin_daemon;      /* owned; NULL when off */
    unsigned short admin_port;            /* 0 when off */
    char *admin_url;                      /* owned: "http://ADDR:PORT"; NULL when off */
    /* scenarios (scenario.c) and the request ledger (ledger.c); NULL in a
     * server built by hand (unit tests): no scenario applies, nothing is
     * recorded */
    struct af_scen_engine *scen; /* owned */
    struct af_ledger *ledger;    /* owned */
    struct af_delayer *delayer;  /* owned (delay.c): answers held back by a delay */
    unsigned char csrf_key[32];  /* random at start: keys the login form's token */
    /* Several issuers in one process (docs/issuers.md). The top-level
     * server owns a server per element of cfg->issuers: each has its own
     * cfg, issuer (the top level's plus its path), keys, store, registry,
     * scenarios, ledger, login-form key and cookie names, and none of
     * daemon, listeners, delayer or admin_url, which are the top level's
     * (server.c routes a request to the issuer its path names), except an
     * element with a listen address of its own (cfg->own_listen): its own
     * daemon, main_l and port, the top level's delayer borrowed. */
    const char *path;           /* "" at the top level, else cfg->path ("/tenant-a") */
    const char *prefix;         /* what its requests' paths start with: path, or "" at the
                                   top level and on a listener of its own */
    struct af_server **issuers; /* owned; nissuers, top level only */
    size_t nissuers;
    int quiesced[2];         /* af_server_stop: the listening sockets of daemon and
                                admin_daemon, once quiesced (-1: none) */
    char session_cookie[96]; /* AF_SESSION_COOKIE, "." and the path's segments */
    char login_cookie[96];   /* AF_LOGIN_COOKIE, the same way */
};

#endif
