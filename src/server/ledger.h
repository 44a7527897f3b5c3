/*
 * ledger.h - the request ledger (ledger.c): what each request of the
 * provider port sent and got, for GET /admin/ledger. Private to
 * src/server/.
 */
#ifndef AUTHFLOW_SERVER_LEDGER_H
#define AUTHFLOW_SERVER_LEDGER_H

#include <stddef.h>

#include <jansson.h>

#include "authflow/rc.h"

struct af_req;  /* http_req.h */
struct af_resp; /* http_req.h */

/* One entry per request on the provider port (never the admin port), in a
 * ring of cfg->ledger_max_entries under its own mutex: what came in
 * (secrets redacted), what the handler learnt (struct af_req_facts) and
 * what went out, with its reason (struct af_resp). Entries carry a monotonic seq that clearing does
 * not reset, so a cursor stays valid.
 */

/* The longest value an entry shows; longer ones are cut. */
#define AF_LEDGER_VALUE_MAX 512
/* The most entries one query answers. */
#define AF_LEDGER_LIMIT_MAX 1000

struct af_ledger;

/* af_ledger_new: an empty ledger of max_entries (0: records nothing).
 * Caller frees with af_ledger_free() (NULL is a no-op). */
af_rc af_ledger_new(size_t max_entries, struct af_ledger **out) AF_WARN_UNUSED;

struct af_rstore; /* store_redis.h */
/* af_ledger_share: keep l's entries in Redis from now on (store.redis,
 * docs/replicas.md): one ordered log, capped at l's max_entries, that
 * every replica writes and any admin API reads; rs borrowed, outliving l.
 * A request recorded while Redis is away is logged, not kept. */
void af_ledger_share(struct af_ledger *l, struct af_rstore *rs);
void af_ledger_free(struct af_ledger *l);

/* af_ledger_redact: parameter name's value as an entry shows it: secrets
 * (client_secret, password, client_assertion) as "[redacted N chars]", a
 * code_verifier as "[N chars]", codes and tokens as their first 8
 * characters and "...(N chars)", anything else as is (cut at
 * AF_LEDGER_VALUE_MAX). Caller frees; NULL on allocation failure. */
char *af_ledger_redact(const char *name, const char *value);

/* af_ledger_entry: the entry for req answered by resp, without seq: new
 * reference, NULL on allocation failure only. Bytes that are not UTF-8
 * (path, method, headers, ...) show as "\xNN", and the entry then has
 * "escaped": the number of such values. *code_out gets the full value of
 * the request's code parameter (for the code filter; never shown), or
 * NULL; caller frees. */
json_t *af_ledger_entry(const struct af_req *req, const struct af_resp *resp, char **code_out);

/* af_ledger_add: append entry (reference and code taken over, also on
 * failure) with the next seq, dropping the oldest entry when full. Returns
 * the seq given, 0 when nothing was recorded (l NULL or off). */
unsigned long long af_ledger_add(struct af_ledger *l, json_t *entry, char *code);

/* af_ledger_record: af_ledger_entry then af_ledger_add; the seq given (0:
 * nothing recorded). */
unsigned long long af_ledger_record(struct af_ledger *l, const struct af_req *req,
                                    const struct af_resp *resp);

struct af_ledger_filter {
    unsigned long long since; /* entries with seq > since */
    const char *path;         /* exact; NULL: any */
    const char *method;       /* exact; NULL: any */
    const char *client_id;    /* exact; NULL: any */
    const char *code;         /* the full code value; NULL: any */
    size_t limit;             /* most entries returned (<= AF_LEDGER_LIMIT_MAX) */
};

/* af_ledger_query: {"entries": [...], "count": N, "next": SEQ, "dropped":
 * N, "escaped": N} for f, new reference in *out. next is the seq to pass
 * as since next time: the last entry returned when the limit cut the
 * answer, else the newest seq recorded. dropped counts entries after
 * since that the ring already lost; escaped, the entries recorded since
 * the start with values escaped because they were not UTF-8. */
af_rc af_ledger_query(struct af_ledger *l, const struct af_ledger_filter *f,
                      json_t **out) AF_WARN_UNUSED;

/* af_ledger_clear: drop every entry; returns how many. */
size_t af_ledger_clear(struct af_ledger *l);

#endif
