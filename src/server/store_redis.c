/*
 * store_redis.c - the stores in Redis (see store_redis.h), through hiredis'
 * blocking API: one connection per worker thread at most, each behind its
 * own mutex, each command bounded by timeout_ms.
 *
 * Written here: the key layout and the Lua scripts that make each decision
 * atomic; hiredis does the protocol.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authflow/cfg.h"
#include "authflow/log.h"
#include "authflow/util.h"
#include "server/scenario.h"
#include "server/store_redis.h"

#ifndef HAVE_HIREDIS

/* Built without hiredis: the config may still name Redis, and is refused
 * at start with how to get it. Nothing else is reachable without a store. */
af_rc af_rstore_open(const struct af_rstore_opts *o, struct af_rstore **out, struct af_err *err)
{
    (void)o;
    *out = NULL;
    return AF_ERR_SET(err, AF_ERR_STATE,
                      "store.redis: this authflowd was built without Redis support (install "
                      "libhiredis-dev, then run ./configure and make again)");
}

void af_rstore_free(struct af_rstore *rs)
{
    (void)rs;
}

#define RS_UNBUILT return AF_ERR_STATE
af_rc af_rstore_secret(struct af_rstore *rs, const char *name, unsigned char *key, size_t len)
{
    (void)rs, (void)name, (void)key, (void)len;
    RS_UNBUILT;
}
af_rc af_rstore_code_put(struct af_rstore *rs, const char *code, const char *grant,
                         const struct af_code_rec *rec)
{
    (void)rs, (void)code, (void)grant, (void)rec;
    RS_UNBUILT;
}
af_rc af_rstore_code_take(struct af_rstore *rs, const char *code, const char *client_id,
                          struct af_code_rec *out, char **grant_id_out)
{
    (void)rs, (void)code, (void)client_id, (void)out, (void)grant_id_out;
    RS_UNBUILT;
}
af_rc af_rstore_grant_note(struct af_rstore *rs, const char *grant, const char *scenario,
                           time_t expires)
{
    (void)rs, (void)grant, (void)scenario, (void)expires;
    RS_UNBUILT;
}
af_rc af_rstore_grant_revoke(struct af_rstore *rs, const char *grant)
{
    (void)rs, (void)grant;
    RS_UNBUILT;
}
af_rc af_rstore_access_check(struct af_rstore *rs, const char *jti, const char *grant,
                             const struct af_scenario **scen_out)
{
    (void)rs, (void)jti, (void)grant, (void)scen_out;
    RS_UNBUILT;
}
af_rc af_rstore_access_revoke(struct af_rstore *rs, const char *jti, time_t exp)
{
    (void)rs, (void)jti, (void)exp;
    RS_UNBUILT;
}
af_rc af_rstore_family_put(struct af_rstore *rs, const struct af_token_rec *rec, uint32_t *gen_out)
{
    (void)rs, (void)rec, (void)gen_out;
    RS_UNBUILT;
}
af_rc af_rstore_family_get(struct af_rstore *rs, const char *grant, uint32_t gen,
                           struct af_token_rec *out)
{
    (void)rs, (void)grant, (void)gen, (void)out;
    RS_UNBUILT;
}
af_rc af_rstore_family_rotate(struct af_rstore *rs, const char *grant, uint32_t gen,
                              struct af_token_rec *out)
{
    (void)rs, (void)grant, (void)gen, (void)out;
    RS_UNBUILT;
}
af_rc af_rstore_session_put(struct af_rstore *rs, const char *sid, const struct af_session_rec *rec)
{
    (void)rs, (void)sid, (void)rec;
    RS_UNBUILT;
}
af_rc af_rstore_session_get(struct af_rstore *rs, const char *sid, struct af_session_rec *out)
{
    (void)rs, (void)sid, (void)out;
    RS_UNBUILT;
}
void af_rstore_session_drop(struct af_rstore *rs, const char *sid)
{
    (void)rs, (void)sid;
}
af_rc af_rstore_consent_get(struct af_rstore *rs, const char *key, struct af_consent_rec *out)
{
    (void)rs, (void)key, (void)out;
    RS_UNBUILT;
}
af_rc af_rstore_consent_put(struct af_rstore *rs, const char *key, const struct af_consent_rec *rec)
{
    (void)rs, (void)key, (void)rec;
    RS_UNBUILT;
}
void af_rstore_consent_drop(struct af_rstore *rs, const char *key)
{
    (void)rs, (void)key;
}
af_rc af_rstore_counts(struct af_rstore *rs, struct af_store_counts *out)
{
    (void)rs;
    memset(out, 0, sizeof(*out));
    RS_UNBUILT;
}
af_rc af_rstore_scen_add(struct af_rstore *rs, struct af_rstore_scen *s, size_t max)
{
    (void)rs, (void)s, (void)max;
    RS_UNBUILT;
}
af_rc af_rstore_scen_take(struct af_rstore *rs, unsigned stages, const char *client_id,
                          const char *username, const char *sub, struct af_rstore_scen *out)
{
    (void)rs, (void)stages, (void)client_id, (void)username, (void)sub, (void)out;
    RS_UNBUILT;
}
af_rc af_rstore_scen_clear(struct af_rstore *rs, const char *id, size_t *n)
{
    (void)rs, (void)id;
    *n = 0;
    RS_UNBUILT;
}
af_rc af_rstore_scen_each(struct af_rstore *rs,
                          void (*fn)(void *arg, const struct af_rstore_scen *), void *arg)
{
    (void)rs, (void)fn, (void)arg;
    RS_UNBUILT;
}
af_rc af_rstore_first(struct af_rstore *rs, const char *name, bool *first)
{
    (void)rs, (void)name;
    *first = false;
    RS_UNBUILT;
}
af_rc af_rstore_ledger_add(struct af_rstore *rs, size_t cap, const char *text, const char *path,
                           const char *method, const char *client_id, const char *code,
                           bool escaped, unsigned long long *seq)
{
    (void)rs, (void)cap, (void)text, (void)path, (void)method, (void)client_id, (void)code,
        (void)escaped;
    *seq = 0;
    RS_UNBUILT;
}
af_rc af_rstore_ledger_query(struct af_rstore *rs, const struct af_rstore_ledger_q *q,
                             void (*fn)(void *arg, unsigned long long seq, const char *text),
                             void *arg, unsigned long long *next, unsigned long long *dropped,
                             unsigned long long *escaped)
{
    (void)rs, (void)q, (void)fn, (void)arg;
    *next = *dropped = *escaped = 0;
    RS_UNBUILT;
}
af_rc af_rstore_ledger_clear(struct af_rstore *rs, size_t *n)
{
    (void)rs;
    *n = 0;
    RS_UNBUILT;
}
af_rc af_rstore_put_once(struct af_rstore *rs, const char *name, const char *value, size_t len,
                         char **stored, size_t *stored_len)
{
    (void)rs, (void)name, (void)value, (void)len;
    *stored = NULL;
    *stored_len = 0;
    RS_UNBUILT;
}
af_rc af_rstore_log_push(struct af_rstore *rs, const char *name, const char *text, long long *len)
{
    (void)rs, (void)name, (void)text;
    *len = 0;
    RS_UNBUILT;
}
af_rc af_rstore_log_read(struct af_rstore *rs, const char *name, char *epoch, long long from,
                         void (*fn)(void *arg, const char *text), void *arg, long long *len)
{
    (void)rs, (void)name, (void)epoch, (void)fn, (void)arg;
    *len = from;
    RS_UNBUILT;
}

#else /* HAVE_HIREDIS */

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>
#include <openssl/crypto.h>

/* Key kinds: "PREFIX[PATH]:K:ID". */
#define K_CODE          "c"
#define K_USED          "u"
#define K_GRANT         "g"
#define K_JTI           "j"
#define K_SESSION       "s"
#define K_CONSENT       "k"
#define K_SECRET        "secret"
#define K_ONCE          "once"
/* A key's longest ID (a jti is a grant id, '.', a random part). */
#define RS_ID_MAX       320
#define RS_KEY_MAX      (64 + 256 + 16 + RS_ID_MAX)
/* Fields of a record, and arguments of one script call, at most. */
#define RS_ARGS_MAX     40
/* Unreachable Redis is logged at most once per this many seconds. */
#define RS_LOG_SECONDS  10
#define RS_CONNS_MAX    64
/* Shared secrets one store holds (refresh-token MAC, login form) and their
 * largest size. */
#define RS_SECRETS_MAX  4
#define RS_SECRET_BYTES 64
#define RS_SECRET_NAME  32
/* Values set once (af_rstore_put_once: the generated keys) one store
 * writes back after a Redis restart; more are kept in Redis, not
 * written back (logged). */
#define RS_ONCE_MAX     16

/* The scripts. Times are seconds of the caller's clock (af_now, which
 * tests may shift), so expiry is decided by the "exp" field against the
 * "now" argument; TTLs, set relative to the same clock, only reclaim the
 * memory a second after that. */
enum {
    S_REPLACE,
    S_CODE_TAKE,
    S_NOTE,
    S_REVOKE,
    S_CHECK,
    S_FAM_PUT,
    S_FAM_GET,
    S_FAM_ROT,
    S_SCEN_ADD,
    S_SCEN_TAKE,
    S_SCEN_CLEAR,
    S_SCEN_LIST,
    S_LEDGER_ADD,
    S_LEDGER_QUERY,
    S_N
};

#define LUA_HASH "local f = {} for i = 1, #r, 2 do f[r[i]] = r[i + 1] end "
#define LUA_TTL(key, expr)                                                                         \
    "redis.call('EXPIRE', " key ", math.max(1, (" expr ") - tonumber(ARGV[1]) + 1)) "
/* revoked grant key: kept until the access tokens it issued have expired */
#define LUA_REVOKE(until)                                                                          \
    "redis.call('DEL', KEYS[1]) redis.call('HSET', KEYS[1], 'rv', '1', 'exp', " until              \
    ") " LUA_TTL("KEYS[1]", until)

static const char *const scripts[S_N] = {
    /* S_REPLACE: KEYS[1]; ARGV now, exp, FIELD VALUE... */
    [S_REPLACE] = "redis.call('DEL', KEYS[1]) redis.call('HSET', KEYS[1], 'exp', ARGV[2], "
                  "unpack(ARGV, 3)) " LUA_TTL("KEYS[1]", "tonumber(ARGV[2])") "return 1",
    /* S_CODE_TAKE: KEYS code, used; ARGV now, client_id */
    [S_CODE_TAKE] =
        "local g = redis.call('GET', KEYS[2]) if g then return {'replay', g} end "
        "local r = redis.call('HGETALL', KEYS[1]) if #r == 0 then return {'none'} end " LUA_HASH
        "if tonumber(f['exp']) <= tonumber(ARGV[1]) then return {'expired'} end "
        "if f['client_id'] ~= ARGV[2] then return {'other', f['client_id']} end "
        "redis.call('SET', KEYS[2], f['grant']) " LUA_TTL(
            "KEYS[2]",
            "tonumber(f['exp'])") "redis.call('DEL', KEYS[1]) table.insert(r, 1, 'ok') return r",
    /* S_NOTE: KEYS grant; ARGV now, exp, scenario */
    [S_NOTE] = "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end "
               "redis.call('HSET', KEYS[1], 'exp', ARGV[2], 'scen', ARGV[3]) " LUA_TTL(
                   "KEYS[1]", "tonumber(ARGV[2])") "return 1",
    /* S_REVOKE: KEYS grant; ARGV now, keep */
    [S_REVOKE] = "local f = redis.call('HMGET', KEYS[1], 'fam', 'iss', 'exp', 'rv') local u "
                 "if f[4] == '1' then return 0 end "
                 "if f[1] == '1' then u = tonumber(f[2]) + tonumber(ARGV[2]) "
                 "elseif f[3] then u = tonumber(f[3]) "
                 "else u = tonumber(ARGV[1]) + tonumber(ARGV[2]) end " LUA_REVOKE("u") "return 1",
    /* S_CHECK: KEYS jti, grant; ARGV now, has_grant */
    [S_CHECK] = "if redis.call('EXISTS', KEYS[1]) == 1 then return {'revoked'} end "
                "if ARGV[2] == '0' then return {'ok', ''} end "
                "local f = redis.call('HMGET', KEYS[2], 'rv', 'exp', 'scen') "
                "if f[2] and tonumber(f[2]) > tonumber(ARGV[1]) then "
                "if f[1] == '1' then return {'revoked'} end return {'ok', f[3] or ''} end "
                "return {'ok', ''}",
    /* S_FAM_PUT: KEYS grant; ARGV now, exp, FIELD VALUE... */
    [S_FAM_PUT] =
        "local f = redis.call('HMGET', KEYS[1], 'rv', 'gen') "
        "if f[1] == '1' then return -1 end local gen = tonumber(f[2] or '0') "
        "redis.call('DEL', KEYS[1]) redis.call('HSET', KEYS[1], 'fam', '1', 'gen', gen, "
        "'exp', ARGV[2], unpack(ARGV, 3)) " LUA_TTL("KEYS[1]", "tonumber(ARGV[2])") "return gen",
    /* S_FAM_GET: KEYS grant; ARGV now, gen */
    [S_FAM_GET] = "local r = redis.call('HGETALL', KEYS[1]) " LUA_HASH
                  "if f['fam'] ~= '1' or f['rv'] == '1' or tonumber(f['exp'] or '0') <= "
                  "tonumber(ARGV[1]) or f['gen'] ~= ARGV[2] then return {'none'} end "
                  "table.insert(r, 1, 'ok') return r",
    /* S_FAM_ROT: KEYS grant; ARGV now, gen, keep */
    [S_FAM_ROT] = "local r = redis.call('HGETALL', KEYS[1]) " LUA_HASH
                  "if f['fam'] ~= '1' or f['rv'] == '1' or tonumber(f['exp'] or '0') <= "
                  "tonumber(ARGV[1]) then return {'none'} end "
                  "local cur, g = tonumber(f['gen']), tonumber(ARGV[2]) "
                  "if g > cur then return {'none'} end "
                  "if g < cur then local u = tonumber(f['iss']) + tonumber(ARGV[3]) " LUA_REVOKE(
                      "u") "return {'replay'} end "
                           "redis.call('HINCRBY', KEYS[1], 'gen', 1) table.insert(r, 1, 'ok') "
                           "return r",
};

/* The scenario queue and the ledger, from S_SCEN_ADD on. */
static const char *const log_scripts[] = {
    /* S_SCEN_ADD: KEYS list, counter; ARGV prefix, max, name, stage, client, user, times,
     * delay */
    "if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[2]) then return -1 end "
    "local n = redis.call('INCR', KEYS[2]) local id = 's-' .. n local k = ARGV[1] .. id "
    "redis.call('HSET', k, 'name', ARGV[3], 'stage', ARGV[4], 'times', ARGV[7], "
    "'remaining', ARGV[7], 'applied', 0, 'delay', ARGV[8]) "
    "if ARGV[5] ~= '' then redis.call('HSET', k, 'client', ARGV[5]) end "
    "if ARGV[6] ~= '' then redis.call('HSET', k, 'user', ARGV[6]) end "
    "redis.call('RPUSH', KEYS[1], id) return n",
    /* S_SCEN_TAKE: KEYS list; ARGV prefix, stages, client, username, sub */
    "local ids = redis.call('LRANGE', KEYS[1], 0, -1) "
    "for _, id in ipairs(ids) do local k = ARGV[1] .. id "
    "local e = redis.call('HMGET', k, 'stage', 'client', 'user', 'times') "
    "if e[1] and math.floor(tonumber(ARGV[2]) / 2 ^ tonumber(e[1])) % 2 == 1 "
    "and (not e[2] or e[2] == ARGV[3]) "
    "and (not e[3] or (ARGV[4] ~= '' and (e[3] == ARGV[4] or e[3] == ARGV[5]))) then "
    "redis.call('HINCRBY', k, 'applied', 1) local h = redis.call('HGETALL', k) "
    "if tonumber(e[4]) > 0 and redis.call('HINCRBY', k, 'remaining', -1) <= 0 then "
    "redis.call('LREM', KEYS[1], 1, id) redis.call('DEL', k) end "
    "table.insert(h, 1, id) table.insert(h, 1, 'id') return h end end return {}",
    /* S_SCEN_CLEAR: KEYS list; ARGV prefix, id ('' for all) */
    "local ids = redis.call('LRANGE', KEYS[1], 0, -1) local n = 0 "
    "for _, id in ipairs(ids) do if ARGV[2] == '' or ARGV[2] == id then "
    "redis.call('LREM', KEYS[1], 1, id) redis.call('DEL', ARGV[1] .. id) n = n + 1 end end "
    "return n",
    /* S_SCEN_LIST: KEYS list; ARGV prefix */
    "local ids = redis.call('LRANGE', KEYS[1], 0, -1) local out = {} "
    "for _, id in ipairs(ids) do local h = redis.call('HGETALL', ARGV[1] .. id) "
    "table.insert(h, 1, id) table.insert(h, 1, 'id') out[#out + 1] = h end return out",
    /* S_LEDGER_ADD: KEYS stream, seq, escaped; ARGV cap, escaped, text, path, method,
     * client, code (each filter value '' for none, else '=' and the value, as the query's
     * filters are written, so that none never matches a filter) */
    "local n = redis.call('INCR', KEYS[2]) "
    "if ARGV[2] == '1' then redis.call('INCR', KEYS[3]) end "
    "redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[1], n .. '-1', 't', ARGV[3], 'p', ARGV[4], "
    "'m', ARGV[5], 'c', ARGV[6], 'k', ARGV[7]) return n",
    /* S_LEDGER_QUERY: KEYS stream, seq, escaped; ARGV since, limit, path, method, client,
     * code: {next, dropped, escaped, seq1, text1, ...} */
    "local since, limit = tonumber(ARGV[1]), tonumber(ARGV[2]) "
    "local last = tonumber(redis.call('GET', KEYS[2]) or '0') "
    "local esc = tonumber(redis.call('GET', KEYS[3]) or '0') "
    "local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1) local oldest = last + 1 "
    "if #first > 0 then oldest = tonumber(string.match(first[1][1], '^(%d+)')) end "
    "local dropped = 0 if since + 1 < oldest then dropped = oldest - 1 - since end "
    "local out = {0, dropped, esc} local count, nxt, got = 0, last, since "
    "local cursor, done = '(' .. since .. '-1', limit <= 0 "
    "while not done do local chunk = redis.call('XRANGE', KEYS[1], cursor, '+', 'COUNT', 256) "
    "for _, e in ipairs(chunk) do local f = {} "
    "for i = 1, #e[2], 2 do f[e[2][i]] = e[2][i + 1] end "
    "if (ARGV[3] == '' or f['p'] == ARGV[3]) and (ARGV[4] == '' or f['m'] == ARGV[4]) and "
    "(ARGV[5] == '' or f['c'] == ARGV[5]) and (ARGV[6] == '' or f['k'] == ARGV[6]) then "
    "if count == limit then nxt = got done = true break end count = count + 1 "
    "got = tonumber(string.match(e[1], '^(%d+)')) out[#out + 1] = got out[#out + 1] = f['t'] "
    "end cursor = '(' .. e[1] end "
    "if #chunk < 256 then done = true end end out[1] = nxt return out",
};

struct conn {
    pthread_mutex_t mu;
    redisContext *c; /* NULL: connect at next use */
};

struct af_rstore {
    struct af_redis_addr addr;
    char prefix[64 + 256 + 2]; /* PREFIX and the issuer's path */
    struct timeval tv;
    long revoke_keep;
    unsigned n;
    struct conn *conns;
    atomic_uint next;
    atomic_llong last_log;
    char sha[S_N][41];
    /* the secrets read at start, written back by every new connection
     * (SET NX): a Redis that restarted empty gets them again from the
     * first replica to reconnect, so a replica started after that reads
     * the same ones. Written before any connection but the first exists. */
    unsigned nsecrets;
    struct {
        char name[RS_SECRET_NAME];
        unsigned char key[RS_SECRET_BYTES];
        size_t len;
    } secrets[RS_SECRETS_MAX];
    /* the same for the values set once (the generated signing keys), so
     * that a replica started after a restart of Redis gets the same keys
     * as the running ones, not new ones */
    unsigned nonce;
    struct {
        char name[RS_SECRET_NAME];
        char *value; /* owned */
        size_t len;
    } once[RS_ONCE_MAX];
};

static bool key_of(const struct af_rstore *rs, const char *kind, const char *id, char *out);

/* ---- connections ---- */

/* unreachable: log why Redis failed, at most once per interval. */
static void unreachable(struct af_rstore *rs, const char *why)
{
    long long now = (long long)time(NULL), last = atomic_load(&rs->last_log);

    if (now - last >= RS_LOG_SECONDS && atomic_compare_exchange_strong(&rs->last_log, &last, now))
        af_log_error("store: Redis at %s:%u: %s (answering 503 until it is back)", rs->addr.host,
                     rs->addr.port, why);
}

/* set_back: SET NX of kind:name = value[0..len) on c, a fresh connection:
 * what this replica read at start, written again into a Redis that
 * restarted empty; false with the reason in why. */
static bool set_back(struct af_rstore *rs, redisContext *c, const char *kind, const char *name,
                     const char *value, size_t len, char *why, size_t cap)
{
    char k[RS_KEY_MAX];
    const char *argv[4];
    size_t lens[4];
    redisReply *r;
    bool ok;

    if (!key_of(rs, kind, name, k))
        return true;
    argv[0] = "SET", argv[1] = k, argv[2] = value, argv[3] = "NX";
    lens[0] = 3, lens[1] = strlen(k), lens[2] = len, lens[3] = 2;
    r = redisCommandArgv(c, 4, argv, lens);
    ok = r != NULL && r->type != REDIS_REPLY_ERROR;
    if (!ok)
        snprintf(why, cap, "SET of a shared key failed: %s", r != NULL ? r->str : c->errstr);
    freeReplyObject(r);
    return ok;
}

/* hello: AUTH, SELECT, the scripts and the shared values on a fresh
 * connection c; false with the reason in why. */
static bool hello(struct af_rstore *rs, redisContext *c, char *why, size_t cap)
{
    redisReply *r = NULL;
    bool ok = true;

    if (rs->addr.password[0] != '\0') {
        r = rs->addr.user[0] != '\0'
                ? redisCommand(c, "AUTH %s %s", rs->addr.user, rs->addr.password)
                : redisCommand(c, "AUTH %s", rs->addr.password);
        ok = r != NULL && r->type != REDIS_REPLY_ERROR;
        if (!ok)
            snprintf(why, cap, "AUTH refused: %s", r != NULL ? r->str : c->errstr);
        freeReplyObject(r);
    }
    if (ok && rs->addr.db != 0) {
        r = redisCommand(c, "SELECT %u", rs->addr.db);
        ok = r != NULL && r->type != REDIS_REPLY_ERROR;
        if (!ok)
            snprintf(why, cap, "SELECT %u refused: %s", rs->addr.db,
                     r != NULL ? r->str : c->errstr);
        freeReplyObject(r);
    }
    for (int i = 0; ok && i < S_N; i++) {
        r = redisCommand(c, "SCRIPT LOAD %s",
                         i >= S_SCEN_ADD ? log_scripts[i - S_SCEN_ADD] : scripts[i]);
        ok = r != NULL && r->type == REDIS_REPLY_STRING && r->len == 40;
        if (ok)
            memcpy(rs->sha[i], r->str, 41);
        else
            snprintf(why, cap, "SCRIPT LOAD failed: %s",
                     r == NULL                      ? c->errstr
                     : r->type == REDIS_REPLY_ERROR ? r->str
                                                    : "odd reply");
        freeReplyObject(r);
    }
    for (unsigned i = 0; ok && i < rs->nsecrets; i++)
        ok = set_back(rs, c, K_SECRET, rs->secrets[i].name, (const char *)rs->secrets[i].key,
                      rs->secrets[i].len, why, cap);
    for (unsigned i = 0; ok && i < rs->nonce; i++)
        ok =
            set_back(rs, c, K_ONCE, rs->once[i].name, rs->once[i].value, rs->once[i].len, why, cap);
    return ok;
}

/* dial: a connected, authenticated context, or NULL with why. */
static redisContext *dial(struct af_rstore *rs, char *why, size_t cap)
{
    redisContext *c = redisConnectWithTimeout(rs->addr.host, (int)rs->addr.port, rs->tv);

    if (c == NULL) {
        snprintf(why, cap, "out of memory");
        return NULL;
    }
    if (c->err) {
        snprintf(why, cap, "cannot connect: %s", c->errstr);
        redisFree(c);
        return NULL;
    }
    if (redisSetTimeout(c, rs->tv) != REDIS_OK || !hello(rs, c, why, cap)) {
        if (why[0] == '\0')
            snprintf(why, cap, "cannot set the timeout");
        redisFree(c);
        return NULL;
    }
    return c;
}

/* conn_get: a locked connection slot (the caller's thread tries its
 * neighbours' before waiting); conn_put unlocks it. */
static struct conn *conn_get(struct af_rstore *rs)
{
    unsigned start = atomic_fetch_add(&rs->next, 1u);

    for (unsigned i = 0; i < rs->n; i++) {
        struct conn *k = &rs->conns[(start + i) % rs->n];
        if (pthread_mutex_trylock(&k->mu) == 0)
            return k;
    }
    pthread_mutex_lock(&rs->conns[start % rs->n].mu);
    return &rs->conns[start % rs->n];
}

/* rcmd: run argv (argc words of lens bytes) on a connection; *out the
 * reply (caller frees with freeReplyObject). AF_ERR_NET when Redis cannot
 * be reached or answers an error (logged). */
static af_rc rcmd(struct af_rstore *rs, int argc, const char **argv, const size_t *lens,
                  redisReply **out)
{
    char why[256] = "";
    struct conn *k = conn_get(rs);
    redisReply *r = NULL;

    *out = NULL;
    for (int attempt = 0; attempt < 2 && r == NULL; attempt++) {
        if (k->c == NULL && (k->c = dial(rs, why, sizeof(why))) == NULL)
            break;
        r = redisCommandArgv(k->c, argc, argv, lens);
        if (r == NULL) {
            /* the connection broke (Redis restarted, or timed out): a
             * fresh one once, then give up for this request */
            snprintf(why, sizeof(why), "%s", k->c->errstr);
            redisFree(k->c);
            k->c = NULL;
            if (attempt == 0 && strstr(why, "timed out") != NULL)
                break; /* slow, not gone: do not wait twice */
        }
    }
    if (r != NULL && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0 &&
        k->c != NULL) {
        /* the scripts were flushed (SCRIPT FLUSH, a failover): load them
         * again on a fresh connection, once */
        freeReplyObject(r);
        redisFree(k->c);
        k->c = dial(rs, why, sizeof(why));
        r = k->c != NULL ? redisCommandArgv(k->c, argc, argv, lens) : NULL;
    }
    pthread_mutex_unlock(&k->mu);
    if (r == NULL) {
        unreachable(rs, why[0] ? why : "no answer");
        return AF_ERR_NET;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        unreachable(rs, r->str);
        freeReplyObject(r);
        return AF_ERR_NET;
    }
    *out = r;
    return AF_OK;
}

/* ---- keys and arguments ---- */

struct args {
    int n;
    const char *v[RS_ARGS_MAX];
    size_t len[RS_ARGS_MAX];
    char num[RS_ARGS_MAX][24]; /* numbers formatted here */
    char key[2][RS_KEY_MAX];
};

static bool key_of(const struct af_rstore *rs, const char *kind, const char *id, char *out)
{
    size_t n = strlen(id);
    if (n == 0 || n > RS_ID_MAX)
        return false;
    snprintf(out, RS_KEY_MAX, "%s:%s:%s", rs->prefix, kind, id);
    return true;
}

static void add(struct args *a, const char *s)
{
    if (a->n < RS_ARGS_MAX) {
        a->v[a->n] = s;
        a->len[a->n] = strlen(s);
        a->n++;
    }
}

static void add_num(struct args *a, long long v)
{
    if (a->n < RS_ARGS_MAX) {
        snprintf(a->num[a->n], sizeof(a->num[0]), "%lld", v);
        add(a, a->num[a->n]);
    }
}

/* add_field: NAME VALUE, only when value is set (absent means NULL). */
static void add_field(struct args *a, const char *name, const char *value)
{
    if (value != NULL) {
        add(a, name);
        add(a, value);
    }
}

static void add_field_num(struct args *a, const char *name, long long v)
{
    add(a, name);
    add_num(a, v);
}

/* script: EVALSHA of script s with nkeys keys, then the arguments of a
 * (keys first). */
static af_rc script(struct af_rstore *rs, int s, int nkeys, struct args *a, redisReply **out)
{
    const char *argv[RS_ARGS_MAX + 3];
    size_t lens[RS_ARGS_MAX + 3];
    char nk[8];

    snprintf(nk, sizeof(nk), "%d", nkeys);
    argv[0] = "EVALSHA";
    argv[1] = rs->sha[s];
    argv[2] = nk;
    for (int i = 0; i < a->n; i++) {
        argv[3 + i] = a->v[i];
        lens[3 + i] = a->len[i];
    }
    lens[0] = 7;
    lens[1] = 40;
    lens[2] = strlen(nk);
    return rcmd(rs, 3 + a->n, argv, lens, out);
}

static void args_init(struct args *a)
{
    a->n = 0;
}

/* ---- replies ---- */

/* tag: the first element of an array reply ("ok", "none", ...). */
static bool tag_is(const redisReply *r, const char *tag)
{
    return r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
           r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, tag) == 0;
}

static const char *elem(const redisReply *r, size_t i)
{
    return i < r->elements && r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->str : NULL;
}

/* field: the value of NAME in the field/value pairs of r after skip
 * elements, or NULL. */
static const char *field(const redisReply *r, size_t skip, const char *name)
{
    for (size_t i = skip; i + 1 < r->elements; i += 2) {
        const char *k = elem(r, i);
        if (k != NULL && strcmp(k, name) == 0)
            return elem(r, i + 1);
    }
    return NULL;
}

static long long field_num(const redisReply *r, size_t skip, const char *name)
{
    const char *v = field(r, skip, name);
    return v != NULL ? strtoll(v, NULL, 10) : 0;
}

/* dup_field: *dst = a copy of NAME's value (NULL when absent); false when
 * out of memory. */
static bool dup_field(const redisReply *r, size_t skip, const char *name, char **dst)
{
    const char *v = field(r, skip, name);
    *dst = v != NULL ? strdup(v) : NULL;
    return v == NULL || *dst != NULL;
}

static const struct af_scenario *scen_of(const char *name)
{
    return name != NULL && name[0] != '\0' ? af_scenario_find(name) : NULL;
}

static const char *scen_name(const struct af_scenario *sc)
{
    return sc != NULL ? sc->name : "";
}

/* ---- open, secrets ---- */

af_rc af_rstore_open(const struct af_rstore_opts *o, struct af_rstore **out, struct af_err *err)
{
    struct af_rstore *rs;
    const char *bad;
    char why[256] = "";
    redisContext *c;

    *out = NULL;
    rs = calloc(1, sizeof(*rs));
    if (rs == NULL)
        return AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory");
    bad = af_cfg_redis_parse(o->url, &rs->addr);
    if (bad != NULL) {
        free(rs);
        return AF_ERR_SET(err, AF_ERR_INVALID, "store.redis: %s", bad);
    }
    snprintf(rs->prefix, sizeof(rs->prefix), "%s%s", o->prefix, o->path);
    rs->tv.tv_sec = o->timeout_ms / 1000;
    rs->tv.tv_usec = (o->timeout_ms % 1000) * 1000;
    rs->revoke_keep = o->revoke_keep;
    rs->n = o->conns == 0 ? 1 : o->conns > RS_CONNS_MAX ? RS_CONNS_MAX : o->conns;
    rs->conns = calloc(rs->n, sizeof(*rs->conns));
    if (rs->conns == NULL) {
        free(rs);
        return AF_ERR_SET(err, AF_ERR_NOMEM, "out of memory");
    }
    for (unsigned i = 0; i < rs->n; i++)
        pthread_mutex_init(&rs->conns[i].mu, NULL);
    atomic_init(&rs->next, 0u);
    atomic_init(&rs->last_log, 0LL);
    /* the first connection now, so that a wrong address, password or
     * database stops the start with its reason */
    c = dial(rs, why, sizeof(why));
    if (c == NULL) {
        AF_ERR_SET(err, AF_ERR_NET, "store.redis: Redis at %s:%u: %s", rs->addr.host, rs->addr.port,
                   why);
        af_rstore_free(rs);
        return AF_ERR_NET;
    }
    rs->conns[0].c = c;
    *out = rs;
    return AF_OK;
}

void af_rstore_free(struct af_rstore *rs)
{
    if (rs == NULL)
        return;
    for (unsigned i = 0; i < rs->n; i++) {
        if (rs->conns[i].c != NULL)
            redisFree(rs->conns[i].c);
        pthread_mutex_destroy(&rs->conns[i].mu);
    }
    free(rs->conns);
    OPENSSL_cleanse(&rs->addr, sizeof(rs->addr));
    OPENSSL_cleanse(rs->secrets, sizeof(rs->secrets));
    for (unsigned i = 0; i < rs->nonce; i++) {
        OPENSSL_cleanse(rs->once[i].value, rs->once[i].len);
        free(rs->once[i].value);
    }
    free(rs);
}

af_rc af_rstore_secret(struct af_rstore *rs, const char *name, unsigned char *key, size_t len)
{
    char k[RS_KEY_MAX];
    const char *argv[6];
    size_t lens[6];
    redisReply *r = NULL;
    af_rc rc;

    if (!key_of(rs, K_SECRET, name, k))
        return AF_ERR_INVALID;
    rc = af_rand_bytes(key, len);
    if (rc != AF_OK)
        return rc;
    argv[0] = "SET", argv[1] = k, argv[2] = (const char *)key, argv[3] = "NX";
    lens[0] = 3, lens[1] = strlen(k), lens[2] = len, lens[3] = 2;
    rc = rcmd(rs, 4, argv, lens, &r);
    freeReplyObject(r);
    r = NULL;
    if (rc != AF_OK)
        return rc;
    argv[0] = "GET";
    lens[0] = 3;
    rc = rcmd(rs, 2, argv, lens, &r);
    if (rc == AF_OK && (r->type != REDIS_REPLY_STRING || r->len != len))
        rc = AF_ERR_STATE; /* another length under that name: not ours */
    if (rc == AF_OK)
        memcpy(key, r->str, len);
    freeReplyObject(r);
    if (rc == AF_OK && rs->nsecrets < RS_SECRETS_MAX && len <= RS_SECRET_BYTES &&
        strlen(name) < RS_SECRET_NAME) {
        snprintf(rs->secrets[rs->nsecrets].name, RS_SECRET_NAME, "%s", name);
        memcpy(rs->secrets[rs->nsecrets].key, key, len);
        rs->secrets[rs->nsecrets].len = len;
        rs->nsecrets++;
    }
    return rc;
}

/* ---- codes ---- */

af_rc af_rstore_code_put(struct af_rstore *rs, const char *code, const char *grant,
                         const struct af_code_rec *rec)
{
    struct args a;
    redisReply *r = NULL;
    af_rc rc;

    args_init(&a);
    if (!key_of(rs, K_CODE, code, a.key[0]))
        return AF_ERR_INVALID;
    add(&a, a.key[0]);
    add_num(&a, (long long)af_now());
    add_num(&a, (long long)rec->expires);
    add_field(&a, "grant", grant);
    add_field(&a, "client_id", rec->client_id);
    add_field(&a, "redirect_uri", rec->redirect_uri);
    add_field(&a, "challenge", rec->challenge);
    add_field(&a, "challenge_method", rec->challenge_method);
    add_field(&a, "scope", rec->scope);
    add_field(&a, "sub", rec->sub);
    add_field(&a, "nonce", rec->nonce);
    add_field(&a, "sid", rec->sid);
    add_field(&a, "scen", scen_name(rec->scenario));
    add_field_num(&a, "auth_time", (long long)rec->auth_time);
    add_field_num(&a, "delay", (long long)rec->scenario_delay_ms);
    add_field_num(&a, "no_refresh", rec->no_refresh);
    rc = script(rs, S_REPLACE, 1, &a, &r);
    freeReplyObject(r);
    return rc;
}

af_rc af_rstore_code_take(struct af_rstore *rs, const char *code, const char *client_id,
                          struct af_code_rec *out, char **grant_id_out)
{
    struct args a;
    redisReply *r = NULL;
    af_rc rc;
    bool ok;

    memset(out, 0, sizeof(*out));
    *grant_id_out = NULL;
    args_init(&a);
    if (!key_of(rs, K_CODE, code, a.key[0]) || !key_of(rs, K_USED, code, a.key[1]))
        return AF_ERR_NOTFOUND;
    add(&a, a.key[0]);
    add(&a, a.key[1]);
    add_num(&a, (long long)af_now());
    add(&a, client_id);
    rc = script(rs, S_CODE_TAKE, 2, &a, &r);
    if (rc != AF_OK)
        return rc;
    if (tag_is(r, "replay")) {
        /* RFC 6749 §4.1.2: a reused code SHOULD revoke what it produced */
        *grant_id_out = elem(r, 1) != NULL ? strdup(elem(r, 1)) : NULL;
        if (*grant_id_out != NULL && af_rstore_grant_revoke(rs, *grant_id_out) != AF_OK)
            af_log_error("store: could not revoke the grant of a replayed code");
        rc = AF_ERR_STATE;
    } else if (tag_is(r, "expired")) {
        rc = AF_ERR_INVALID;
    } else if (tag_is(r, "other")) {
        out->client_id = elem(r, 1) != NULL ? strdup(elem(r, 1)) : NULL;
        rc = out->client_id != NULL ? AF_ERR_NOTFOUND : AF_ERR_NOMEM;
    } else if (tag_is(r, "ok")) {
        ok = dup_field(r, 1, "client_id", &out->client_id) &&
             dup_field(r, 1, "redirect_uri", &out->redirect_uri) &&
             dup_field(r, 1, "challenge", &out->challenge) &&
             dup_field(r, 1, "challenge_method", &out->challenge_method) &&
             dup_field(r, 1, "scope", &out->scope) && dup_field(r, 1, "sub", &out->sub) &&
             dup_field(r, 1, "nonce", &out->nonce) && dup_field(r, 1, "sid", &out->sid) &&
             dup_field(r, 1, "grant", grant_id_out);
        out->auth_time = (time_t)field_num(r, 1, "auth_time");
        out->expires = (time_t)field_num(r, 1, "exp");
        out->scenario = scen_of(field(r, 1, "scen"));
        out->scenario_delay_ms = (unsigned)field_num(r, 1, "delay");
        out->no_refresh = field_num(r, 1, "no_refresh") != 0;
        rc = ok && out->client_id != NULL && *grant_id_out != NULL ? AF_OK : AF_ERR_NOMEM;
        if (rc != AF_OK) {
            af_code_rec_clear(out);
            free(*grant_id_out);
            *grant_id_out = NULL;
        }
    } else {
        rc = AF_ERR_NOTFOUND;
    }
    freeReplyObject(r);
    return rc;
}

/* ---- grants, access tokens ---- */

af_rc af_rstore_grant_note(struct af_rstore *rs, const char *grant, const char *scenario,
                           time_t expires)
{
    struct args a;
    redisReply *r = NULL;
    af_rc rc;

    args_init(&a);
    if (!key_of(rs, K_GRANT, grant, a.key[0]))
        return AF_ERR_INVALID;
    add(&a, a.key[0]);
    add_num(&a, (long long)af_now());
    add_num(&a, (long long)expires);
    add(&a, scenario);
    rc = script(rs, S_NOTE, 1, &a, &r);
    freeReplyObject(r);
    return rc;
}

af_rc af_rstore_grant_revoke(struct af_rstore *rs, const char *grant)
{
    struct args a;
    redisReply *r = NULL;
    af_rc rc;

    args_init(&a);
    if (!key_of(rs, K_GRANT, grant, a.key[0]))
        return AF_OK; /* not one of ours: nothing it could revoke */
    add(&a, a.key[0]);
    add_num(&a, (long long)af_now());
    add_num(&a, rs->revoke_keep);
    rc = script(rs, S_REVOKE, 1, &a, &r);
    freeReplyObject(r);
    return rc;
}

af_rc af_rstore_access_check(struct af_rstore *rs, const char *jti, const char *grant,
                             const struct af_scenario **scen_out)
{
    struct args a;
    redisReply *r = NULL;
    af_rc rc;

    *scen_out = NULL;
    args_init(&a);
    if (!key_of(rs, K_JTI, jti, a.key[0]))
        return AF_ERR_NOTFOUND;
    if (grant == NULL || !key_of(rs, K_GRANT, grant, a.key[1]))
        snprintf(a.key[1], sizeof(a.key[1]), "%s", a.key[0]);
    add(&a, a.key[0]);
    add(&a, a.key[1]);
    add_num(&a, (long long)af_now());
    add(&a, grant != NULL ? "1" : "0");
    rc = script(rs, S_CHECK, 2, &a, &r);
    if (rc == AF_OK) {
        if (tag_is(r, "ok"))
            *scen_out = scen_of(elem(r, 1));
        else
            rc = AF_ERR_NOTFOUND;
    }
    freeReplyObject(r);
    return rc;
}

af_rc af_rstore_access_revoke(struct af_rstore *rs, const char *jti, time_t exp)
{
    char k[RS_KEY_MAX], ttl[24];
    const char *argv[6];
    size_t lens[6];
    redisReply *r = NULL;
    long long left = (long long)(exp - af_now());
    af_rc rc;

    if (!key_of(rs, K_JTI, jti, k))
        return AF_ERR_INVALID;
    if (left <= 0)
        return AF_OK; /* expired already: nothing to refuse */
    snprintf(ttl, sizeof(ttl), "%lld", left + 1);
    argv[0] = "SET", argv[1] = k, argv[2] = "1", argv[3] = "EX", argv[4] = ttl, argv[5] = "NX";
    for (int i = 0; i < 6; i++)
        lens[i] = strlen(argv[i]);
    rc = rcmd(rs, 6, argv, lens, &r);
    freeReplyObject(r);
    return rc;
}

/* ---- refresh families ---- */

static void add_tok(struct args *a, const struct af_token_rec *rec)
{
    add_field(a, "client_id", rec->client_id);
    add_field(a, "sub", rec->sub);
    add_field(a, "scope", rec->scope);
    add_field(a, "nonce", rec->nonce);
    add_field(a, "scen", scen_name(rec->scenario));
    add_field_num(a, "auth_time", (long long)rec->auth_time);
    add_field_num(a, "iss", (long long)rec->issued);
}

static af_rc tok_from(const redisReply *r, const char *grant, struct af_token_rec *out)
{
    bool ok = dup_field(r, 1, "client_id", &out->client_id) && dup_field(r, 1, "sub", &out->sub) &&
              dup_field(r, 1, "scope", &out->scope) && dup_field(r, 1, "nonce", &out->nonce) &&
              (out->grant_id = strdup(grant)) != NULL;

    out->auth_time = (time_t)field_num(r, 1, "auth_time");
    out->issued = (time_t)field_num(r, 1, "iss");
    out->expires = (time_t)field_num(r, 1, "exp");
    out->scenario = scen_of(field(r, 1, "scen"));
    out->is_refresh = true;
    if (!ok || out->client_id == NULL) {
        af_token_rec_clear(out);
        return AF_ERR_NOMEM;
    }
    return AF_OK;
}

af_rc af_rstore_family_put(struct af_rstore *rs, const struct af_token_rec *rec, uint32_t *gen_out)
{
    struct args a;
    redisReply *r = NULL;
    af_rc rc;

    *gen_out = 0;
    args_init(&a);
    if (!key_of(rs, K_GRANT, rec->grant_id, a.key[0]))
        return AF_ERR_INVALID;
    add(&a, a.key[0]);
    add_num(&a, (long long)af_now());
    add_num(&a, (long long)rec->expires);
    add_tok(&a, rec);
    rc = script(rs, S_FAM_PUT, 1, &a, &r);
    if (rc == AF_OK) {
        if (r->type != REDIS_REPLY_INTEGER || r->integer > UINT32_MAX)
            rc = AF_ERR_NET;
        else if (r->integer < 0)
            rc = AF_ERR_STATE; /* revoked in between */
        else
            *gen_out = (uint32_t)r->integer;
    }
    freeReplyObject(r);
    return rc;
}

static af_rc family_call(struct af_rstore *rs, int s, const char *grant, uint32_t gen,
                         struct af_token_rec *out)
{
    struct args a;
    redisReply *r = NULL;
    af_rc rc;

    memset(out, 0, sizeof(*out));
    args_init(&a);
    if (!key_of(rs, K_GRANT, grant, a.key[0]))
        return AF_ERR_NOTFOUND;
    add(&a, a.key[0]);
    add_num(&a, (long long)af_now());
    add_num(&a, (long long)gen);
    add_num(&a, rs->revoke_keep);
    rc = script(rs, s, 1, &a, &r);
    if (rc != AF_OK)
        return rc;
    if (tag_is(r, "ok")) {
        rc = tok_from(r, grant, out);
    } else if (tag_is(r, "replay")) {
        /* RFC 9700 §4.14.2: the whole grant is revoked (by the script);
         * the caller names the flow */
        out->grant_id = strdup(grant);
        rc = AF_ERR_STATE;
    } else {
        rc = AF_ERR_NOTFOUND;
    }
    freeReplyObject(r);
    return rc;
}

af_rc af_rstore_family_get(struct af_rstore *rs, const char *grant, uint32_t gen,
                           struct af_token_rec *out)
{
    return family_call(rs, S_FAM_GET, grant, gen, out);
}

af_rc af_rstore_family_rotate(struct af_rstore *rs, const char *grant, uint32_t gen,
                              struct af_token_rec *out)
{
    return family_call(rs, S_FAM_ROT, grant, gen, out);
}

/* ---- sessions, consents ---- */

/* hash_get: the fields of KEY when its exp is still ahead; *out NULL and
 * AF_ERR_NOTFOUND otherwise. The array form of HGETALL starts at 0. */
static af_rc hash_get(struct af_rstore *rs, const char *key, redisReply **out)
{
    const char *argv[2] = {"HGETALL", key};
    size_t lens[2] = {7, strlen(key)};
    af_rc rc = rcmd(rs, 2, argv, lens, out);

    if (rc != AF_OK)
        return rc;
    if ((*out)->type != REDIS_REPLY_ARRAY || (*out)->elements == 0 ||
        field_num(*out, 0, "exp") <= (long long)af_now()) {
        freeReplyObject(*out);
        *out = NULL;
        return AF_ERR_NOTFOUND;
    }
    return AF_OK;
}

static void drop(struct af_rstore *rs, const char *key)
{
    const char *argv[2] = {"DEL", key};
    size_t lens[2] = {3, strlen(key)};
    redisReply *r = NULL;

    if (rcmd(rs, 2, argv, lens, &r) == AF_OK)
        freeReplyObject(r);
}

af_rc af_rstore_session_put(struct af_rstore *rs, const char *sid, const struct af_session_rec *rec)
{
    struct args a;
    redisReply *r = NULL;
    af_rc rc;

    args_init(&a);
    if (!key_of(rs, K_SESSION, sid, a.key[0]))
        return AF_ERR_INVALID;
    add(&a, a.key[0]);
    add_num(&a, (long long)af_now());
    add_num(&a, (long long)rec->expires);
    add_field(&a, "sub", rec->sub);
    add_field_num(&a, "auth_time", (long long)rec->auth_time);
    rc = script(rs, S_REPLACE, 1, &a, &r);
    freeReplyObject(r);
    return rc;
}

af_rc af_rstore_session_get(struct af_rstore *rs, const char *sid, struct af_session_rec *out)
{
    char k[RS_KEY_MAX];
    redisReply *r = NULL;
    af_rc rc;

    memset(out, 0, sizeof(*out));
    if (!key_of(rs, K_SESSION, sid, k))
        return AF_ERR_NOTFOUND;
    rc = hash_get(rs, k, &r);
    if (rc != AF_OK)
        return rc;
    out->auth_time = (time_t)field_num(r, 0, "auth_time");
    out->expires = (time_t)field_num(r, 0, "exp");
    if (!dup_field(r, 0, "sub", &out->sub) || out->sub == NULL) {
        af_session_rec_clear(out);
        rc = AF_ERR_NOMEM;
    }
    freeReplyObject(r);
    return rc;
}

void af_rstore_session_drop(struct af_rstore *rs, const char *sid)
{
    char k[RS_KEY_MAX];
    if (key_of(rs, K_SESSION, sid, k))
        drop(rs, k);
}

af_rc af_rstore_consent_get(struct af_rstore *rs, const char *key, struct af_consent_rec *out)
{
    char k[RS_KEY_MAX];
    redisReply *r = NULL;
    af_rc rc;

    memset(out, 0, sizeof(*out));
    if (!key_of(rs, K_CONSENT, key, k))
        return AF_ERR_NOTFOUND;
    rc = hash_get(rs, k, &r);
    if (rc != AF_OK)
        return rc;
    out->expires = (time_t)field_num(r, 0, "exp");
    out->offline = field_num(r, 0, "offline") != 0;
    if (!dup_field(r, 0, "scope", &out->scope) || out->scope == NULL) {
        af_consent_rec_clear(out);
        rc = AF_ERR_NOMEM;
    }
    freeReplyObject(r);
    return rc;
}

af_rc af_rstore_consent_put(struct af_rstore *rs, const char *key, const struct af_consent_rec *rec)
{
    struct args a;
    redisReply *r = NULL;
    af_rc rc;

    args_init(&a);
    if (!key_of(rs, K_CONSENT, key, a.key[0]))
        return AF_ERR_INVALID;
    add(&a, a.key[0]);
    add_num(&a, (long long)af_now());
    add_num(&a, (long long)rec->expires);
    add_field(&a, "scope", rec->scope != NULL ? rec->scope : "");
    add_field_num(&a, "offline", rec->offline);
    rc = script(rs, S_REPLACE, 1, &a, &r);
    freeReplyObject(r);
    return rc;
}

void af_rstore_consent_drop(struct af_rstore *rs, const char *key)
{
    char k[RS_KEY_MAX];
    if (key_of(rs, K_CONSENT, key, k))
        drop(rs, k);
}

/* ---- the scenario queue ---- */

#define K_SCEN_LIST  "q"
#define K_SCEN_ENTRY "qe:"
#define K_SCEN_NEXT  "qn"
#define K_FIRST      "first"

/* scen_keys: the list key into a.key[0], the entries' prefix into buf. */
static void scen_keys(const struct af_rstore *rs, struct args *a, char *prefix, size_t cap)
{
    snprintf(a->key[0], RS_KEY_MAX, "%s:%s", rs->prefix, K_SCEN_LIST);
    snprintf(a->key[1], RS_KEY_MAX, "%s:%s", rs->prefix, K_SCEN_NEXT);
    snprintf(prefix, cap, "%s:%s", rs->prefix, K_SCEN_ENTRY);
}

/* scen_from: an entry from its field/value pairs at r[skip..]. */
static void scen_from(const redisReply *r, size_t skip, struct af_rstore_scen *out)
{
    const char *v;

    memset(out, 0, sizeof(*out));
    snprintf(out->id, sizeof(out->id), "%s", (v = field(r, skip, "id")) ? v : "");
    snprintf(out->name, sizeof(out->name), "%s", (v = field(r, skip, "name")) ? v : "");
    snprintf(out->client, sizeof(out->client), "%s", (v = field(r, skip, "client")) ? v : "");
    snprintf(out->user, sizeof(out->user), "%s", (v = field(r, skip, "user")) ? v : "");
    out->stage = (unsigned)field_num(r, skip, "stage");
    out->times = (long)field_num(r, skip, "times");
    out->remaining = (long)field_num(r, skip, "remaining");
    out->applied = (unsigned long)field_num(r, skip, "applied");
    out->delay_ms = (unsigned)field_num(r, skip, "delay");
}

af_rc af_rstore_scen_add(struct af_rstore *rs, struct af_rstore_scen *s, size_t max)
{
    char prefix[RS_KEY_MAX];
    struct args a;
    redisReply *r = NULL;
    af_rc rc;

    args_init(&a);
    scen_keys(rs, &a, prefix, sizeof(prefix));
    add(&a, a.key[0]);
    add(&a, a.key[1]);
    add(&a, prefix);
    add_num(&a, (long long)max);
    add(&a, s->name);
    add_num(&a, s->stage);
    add(&a, s->client);
    add(&a, s->user);
    add_num(&a, s->times);
    add_num(&a, s->delay_ms);
    rc = script(rs, S_SCEN_ADD, 2, &a, &r);
    if (rc == AF_OK) {
        if (r->type != REDIS_REPLY_INTEGER)
            rc = AF_ERR_NET;
        else if (r->integer < 0)
            rc = AF_ERR_TOOBIG;
        else
            snprintf(s->id, sizeof(s->id), "s-%lld", (long long)r->integer);
        s->remaining = s->times;
        s->applied = 0;
    }
    freeReplyObject(r);
    return rc;
}

af_rc af_rstore_scen_take(struct af_rstore *rs, unsigned stages, const char *client_id,
                          const char *username, const char *sub, struct af_rstore_scen *out)
{
    char prefix[RS_KEY_MAX];
    struct args a;
    redisReply *r = NULL;
    af_rc rc;

    memset(out, 0, sizeof(*out));
    args_init(&a);
    scen_keys(rs, &a, prefix, sizeof(prefix));
    add(&a, a.key[0]);
    add(&a, prefix);
    add_num(&a, stages);
    add(&a, client_id != NULL ? client_id : "");
    add(&a, username != NULL ? username : "");
    add(&a, sub != NULL ? sub : "");
    rc = script(rs, S_SCEN_TAKE, 1, &a, &r);
    if (rc != AF_OK)
        return rc;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2)
        scen_from(r, 0, out);
    else
        rc = AF_ERR_NOTFOUND;
    freeReplyObject(r);
    return rc;
}

af_rc af_rstore_scen_clear(struct af_rstore *rs, const char *id, size_t *n)
{
    char prefix[RS_KEY_MAX];
    struct args a;
    redisReply *r = NULL;
    af_rc rc;

    *n = 0;
    args_init(&a);
    scen_keys(rs, &a, prefix, sizeof(prefix));
    add(&a, a.key[0]);
    add(&a, prefix);
    add(&a, id != NULL ? id : "");
    rc = script(rs, S_SCEN_CLEAR, 1, &a, &r);
    if (rc == AF_OK && r->type == REDIS_REPLY_INTEGER)
        *n = (size_t)r->integer;
    freeReplyObject(r);
    return rc;
}

af_rc af_rstore_scen_each(struct af_rstore *rs,
                          void (*fn)(void *arg, const struct af_rstore_scen *), void *arg)
{
    char prefix[RS_KEY_MAX];
    struct af_rstore_scen e;
    struct args a;
    redisReply *r = NULL;
    af_rc rc;

    args_init(&a);
    scen_keys(rs, &a, prefix, sizeof(prefix));
    add(&a, a.key[0]);
    add(&a, prefix);
    rc = script(rs, S_SCEN_LIST, 1, &a, &r);
    if (rc != AF_OK)
        return rc;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        if (r->element[i]->type != REDIS_REPLY_ARRAY)
            continue;
        scen_from(r->element[i], 0, &e);
        fn(arg, &e);
    }
    freeReplyObject(r);
    return AF_OK;
}

af_rc af_rstore_first(struct af_rstore *rs, const char *name, bool *first)
{
    char k[RS_KEY_MAX];
    const char *argv[4];
    size_t lens[4];
    redisReply *r = NULL;
    af_rc rc;

    *first = false;
    snprintf(k, sizeof(k), "%s:%s:%s", rs->prefix, K_FIRST, name);
    argv[0] = "SET", argv[1] = k, argv[2] = "1", argv[3] = "NX";
    for (int i = 0; i < 4; i++)
        lens[i] = strlen(argv[i]);
    rc = rcmd(rs, 4, argv, lens, &r);
    if (rc == AF_OK)
        *first = r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    return rc;
}

/* ---- the ledger ---- */

#define K_LEDGER     "ledger"
#define K_LEDGER_SEQ "ledger-seq"
#define K_LEDGER_ESC "ledger-escaped"

static void ledger_keys(const struct af_rstore *rs, struct args *a, char esc[RS_KEY_MAX])
{
    snprintf(a->key[0], RS_KEY_MAX, "%s:%s", rs->prefix, K_LEDGER);
    snprintf(a->key[1], RS_KEY_MAX, "%s:%s", rs->prefix, K_LEDGER_SEQ);
    snprintf(esc, RS_KEY_MAX, "%s:%s", rs->prefix, K_LEDGER_ESC);
    add(a, a->key[0]);
    add(a, a->key[1]);
    add(a, esc);
}

/* add_filter: '' for none, else '=' and the value (in buf, cap bytes);
 * false when the value does not fit. */
static bool add_filter(struct args *a, const char *v, char *buf, size_t cap)
{
    if (v == NULL) {
        add(a, "");
        return true;
    }
    if (strlen(v) + 2 > cap)
        return false;
    snprintf(buf, cap, "=%s", v);
    add(a, buf);
    return true;
}

af_rc af_rstore_ledger_add(struct af_rstore *rs, size_t cap, const char *text, const char *path,
                           const char *method, const char *client_id, const char *code,
                           bool escaped, unsigned long long *seq)
{
    char esc[RS_KEY_MAX], f[4][RS_KEY_MAX];
    struct args a;
    redisReply *r = NULL;
    af_rc rc;

    *seq = 0;
    args_init(&a);
    ledger_keys(rs, &a, esc);
    add_num(&a, (long long)cap);
    add(&a, escaped ? "1" : "0");
    add(&a, text);
    /* a value too long to filter on is kept out of the filters only */
    if (!add_filter(&a, path, f[0], sizeof(f[0])))
        add(&a, "");
    if (!add_filter(&a, method, f[1], sizeof(f[1])))
        add(&a, "");
    if (!add_filter(&a, client_id, f[2], sizeof(f[2])))
        add(&a, "");
    if (!add_filter(&a, code, f[3], sizeof(f[3])))
        add(&a, "");
    rc = script(rs, S_LEDGER_ADD, 3, &a, &r);
    if (rc == AF_OK && r->type == REDIS_REPLY_INTEGER)
        *seq = (unsigned long long)r->integer;
    freeReplyObject(r);
    return rc;
}

af_rc af_rstore_ledger_query(struct af_rstore *rs, const struct af_rstore_ledger_q *q,
                             void (*fn)(void *arg, unsigned long long seq, const char *text),
                             void *arg, unsigned long long *next, unsigned long long *dropped,
                             unsigned long long *escaped)
{
    char esc[RS_KEY_MAX], f[4][RS_KEY_MAX];
    struct args a;
    redisReply *r = NULL;
    af_rc rc;

    *next = *dropped = *escaped = 0;
    args_init(&a);
    ledger_keys(rs, &a, esc);
    add_num(&a, (long long)q->since);
    add_num(&a, (long long)q->limit);
    if (!add_filter(&a, q->path, f[0], sizeof(f[0])) ||
        !add_filter(&a, q->method, f[1], sizeof(f[1])) ||
        !add_filter(&a, q->client_id, f[2], sizeof(f[2])) ||
        !add_filter(&a, q->code, f[3], sizeof(f[3])))
        return AF_ERR_INVALID;
    rc = script(rs, S_LEDGER_QUERY, 3, &a, &r);
    if (rc != AF_OK)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3) {
        freeReplyObject(r);
        return AF_ERR_NET;
    }
    *next = (unsigned long long)r->element[0]->integer;
    *dropped = (unsigned long long)r->element[1]->integer;
    *escaped = (unsigned long long)r->element[2]->integer;
    for (size_t i = 3; i + 1 < r->elements; i += 2) {
        if (r->element[i]->type == REDIS_REPLY_INTEGER && elem(r, i + 1) != NULL)
            fn(arg, (unsigned long long)r->element[i]->integer, elem(r, i + 1));
    }
    freeReplyObject(r);
    return AF_OK;
}

af_rc af_rstore_ledger_clear(struct af_rstore *rs, size_t *n)
{
    char k[RS_KEY_MAX];
    const char *argv[2];
    size_t lens[2];
    redisReply *r = NULL;
    af_rc rc;

    *n = 0;
    snprintf(k, sizeof(k), "%s:%s", rs->prefix, K_LEDGER);
    argv[0] = "XLEN", argv[1] = k;
    lens[0] = 4, lens[1] = strlen(k);
    rc = rcmd(rs, 2, argv, lens, &r);
    if (rc == AF_OK && r->type == REDIS_REPLY_INTEGER)
        *n = (size_t)r->integer;
    freeReplyObject(r);
    r = NULL;
    /* the seq counter stays: a reader's cursor stays valid */
    argv[0] = "DEL";
    lens[0] = 3;
    if (rc == AF_OK)
        rc = rcmd(rs, 2, argv, lens, &r);
    freeReplyObject(r);
    return rc;
}

/* ---- values set once, logs ---- */

#define K_LOG         "log"

/* keep_once: remember name = value[0..len) for hello() to write back. */
static void keep_once(struct af_rstore *rs, const char *name, const char *value, size_t len)
{
    char *copy;

    if (rs->nonce >= RS_ONCE_MAX || strlen(name) >= RS_SECRET_NAME ||
        (copy = malloc(len)) == NULL) {
        af_log_error("store: %s is kept in Redis but not written back if Redis restarts empty",
                     name);
        return;
    }
    memcpy(copy, value, len);
    snprintf(rs->once[rs->nonce].name, RS_SECRET_NAME, "%s", name);
    rs->once[rs->nonce].value = copy;
    rs->once[rs->nonce].len = len;
    rs->nonce++;
}

af_rc af_rstore_put_once(struct af_rstore *rs, const char *name, const char *value, size_t len,
                         char **stored, size_t *stored_len)
{
    char k[RS_KEY_MAX];
    const char *argv[4];
    size_t lens[4];
    redisReply *r = NULL;
    af_rc rc;

    *stored = NULL;
    *stored_len = 0;
    if (!key_of(rs, K_ONCE, name, k))
        return AF_ERR_INVALID;
    argv[0] = "SET", argv[1] = k, argv[2] = value, argv[3] = "NX";
    lens[0] = 3, lens[1] = strlen(k), lens[2] = len, lens[3] = 2;
    rc = rcmd(rs, 4, argv, lens, &r);
    freeReplyObject(r);
    r = NULL;
    argv[0] = "GET";
    lens[0] = 3;
    if (rc == AF_OK)
        rc = rcmd(rs, 2, argv, lens, &r);
    if (rc == AF_OK && r->type != REDIS_REPLY_STRING)
        rc = AF_ERR_NET; /* deleted in between: try again at the next start */
    if (rc == AF_OK) {
        *stored = malloc(r->len + 1);
        if (*stored == NULL) {
            rc = AF_ERR_NOMEM;
        } else {
            memcpy(*stored, r->str, r->len);
            (*stored)[r->len] = '\0';
            *stored_len = r->len;
        }
    }
    freeReplyObject(r);
    if (rc == AF_OK)
        keep_once(rs, name, *stored, *stored_len);
    return rc;
}

/* A log's first entry is its epoch: a random mark written by the first
 * push into an empty log. A reader that finds another mark than the one
 * it saw reads the log again from its start: Redis restarted empty and the
 * log began again, maybe already as long as what the reader had read. */
#define LOG_EPOCH_TAG "epoch:"
static const char log_push_lua[] =
    "if redis.call('LLEN', KEYS[1]) == 0 then redis.call('RPUSH', KEYS[1], ARGV[1]) end "
    "return redis.call('RPUSH', KEYS[1], ARGV[2])";

af_rc af_rstore_log_push(struct af_rstore *rs, const char *name, const char *text, long long *len)
{
    char k[RS_KEY_MAX], mark[AF_RSTORE_EPOCH_MAX];
    char *rnd = NULL;
    const char *argv[6];
    size_t lens[6];
    redisReply *r = NULL;
    af_rc rc;

    *len = 0;
    if (!key_of(rs, K_LOG, name, k))
        return AF_ERR_INVALID;
    rc = af_rand_token(16, &rnd);
    if (rc != AF_OK)
        return rc;
    snprintf(mark, sizeof(mark), "%s%s", LOG_EPOCH_TAG, rnd);
    free(rnd);
    argv[0] = "EVAL", argv[1] = log_push_lua, argv[2] = "1", argv[3] = k, argv[4] = mark,
    argv[5] = text;
    for (int i = 0; i < 6; i++)
        lens[i] = strlen(argv[i]);
    rc = rcmd(rs, 6, argv, lens, &r);
    if (rc == AF_OK && r->type == REDIS_REPLY_INTEGER)
        *len = r->integer;
    else if (rc == AF_OK)
        rc = AF_ERR_NET;
    freeReplyObject(r);
    return rc;
}

af_rc af_rstore_log_read(struct af_rstore *rs, const char *name, char *epoch, long long from,
                         void (*fn)(void *arg, const char *text), void *arg, long long *len)
{
    char k[RS_KEY_MAX], start[24];
    const char *argv[4];
    size_t lens[4];
    redisReply *r = NULL;
    const char *mark;
    af_rc rc;

    *len = from;
    if (!key_of(rs, K_LOG, name, k))
        return AF_ERR_INVALID;
    argv[0] = "LINDEX", argv[1] = k, argv[2] = "0";
    for (int i = 0; i < 3; i++)
        lens[i] = strlen(argv[i]);
    rc = rcmd(rs, 3, argv, lens, &r);
    if (rc != AF_OK)
        return rc;
    mark = r->type == REDIS_REPLY_STRING ? r->str : "";
    if (strcmp(mark, epoch) != 0) {
        if (epoch[0] != '\0')
            af_log_info("store: the log %s began again (Redis restarted empty?): replaying it",
                        name);
        from = 0;
        *len = 0;
        snprintf(epoch, AF_RSTORE_EPOCH_MAX, "%s", mark);
    }
    freeReplyObject(r);
    r = NULL;
    snprintf(start, sizeof(start), "%lld", from);
    argv[0] = "LRANGE", argv[2] = start, argv[3] = "-1";
    for (int i = 0; i < 4; i++)
        lens[i] = strlen(argv[i]);
    rc = rcmd(rs, 4, argv, lens, &r);
    if (rc != AF_OK)
        return rc;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const char *e = elem(r, i);
        if (e != NULL &&
            !(from + (long long)i == 0 && strncmp(e, LOG_EPOCH_TAG, strlen(LOG_EPOCH_TAG)) == 0))
            fn(arg, e);
        (*len)++;
    }
    freeReplyObject(r);
    return AF_OK;
}

/* ---- counts ---- */

static af_rc count_kind(struct af_rstore *rs, const char *kind, size_t *out)
{
    char pat[RS_KEY_MAX], cursor[24] = "0";
    const char *argv[6];
    size_t lens[6];
    af_rc rc = AF_OK;

    *out = 0;
    snprintf(pat, sizeof(pat), "%s:%s:*", rs->prefix, kind);
    do {
        redisReply *r = NULL;
        argv[0] = "SCAN", argv[1] = cursor, argv[2] = "MATCH", argv[3] = pat, argv[4] = "COUNT",
        argv[5] = "1000";
        for (int i = 0; i < 6; i++)
            lens[i] = strlen(argv[i]);
        rc = rcmd(rs, 6, argv, lens, &r);
        if (rc != AF_OK)
            return rc;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || elem(r, 0) == NULL ||
            r->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            return AF_ERR_NET;
        }
        snprintf(cursor, sizeof(cursor), "%s", elem(r, 0));
        *out += r->element[1]->elements;
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return rc;
}

af_rc af_rstore_counts(struct af_rstore *rs, struct af_store_counts *out)
{
    af_rc rc;

    memset(out, 0, sizeof(*out));
    rc = count_kind(rs, K_CODE, &out->codes);
    if (rc == AF_OK)
        rc = count_kind(rs, K_USED, &out->used_codes);
    if (rc == AF_OK)
        rc = count_kind(rs, K_GRANT, &out->grants);
    if (rc == AF_OK)
        rc = count_kind(rs, K_JTI, &out->revoked);
    if (rc == AF_OK)
        rc = count_kind(rs, K_SESSION, &out->sessions);
    if (rc == AF_OK)
        rc = count_kind(rs, K_CONSENT, &out->consents);
    return rc;
}

#endif /* HAVE_HIREDIS */
