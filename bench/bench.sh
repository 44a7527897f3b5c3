#!/bin/sh
# bench.sh - authflowd throughput and footprint, each figure next to a
# reference measured in the same run. Not a test: it prints figures and
# asserts nothing. Loopback only; every load is bounded by wrk -d seconds
# and, for the long phases, by a count.
#
#   bench/bench.sh [BUILD_DIR]   (default: _build)
#
# Phases (AF_BENCH_PHASES, default all, in this order):
#   ready   startup-to-ready with the shipped conf/authflowd.json on port 0,
#           and with a PEM-key config as the reference; idle RSS.
#   sign    /token client_credentials: ES256 req/s over ONE core's
#           `openssl speed ecdsap256` sign/s, RS256 req/s over
#           `openssl speed -multi 2 rsa2048` sign/s (both cores); each
#           with the ceiling of a server that adds one signature to what
#           GET /healthz costs.
#   peers   GET discovery and /jwks req/s over glewlwyd's (Debian package
#           glewlwyd, sqlite, a minimal OIDC plugin) and oidc-provider's
#           (npm, tests/interop/oidc-provider, installed into the build
#           tree), with each server's CPU per request; a peer that is not
#           installed or does not start is skipped with a message.
#   tokens  AF_BENCH_TOKENS client_credentials tokens (default 1,000,000) in
#           one run: failures by status and when the first came, RSS
#           sampled during the run, warn lines logged.
#   logins  AF_BENCH_LOGINS authorization-code logins (GET /authorize with
#           headless approval, then the code at /token; default 1,000,000)
#           with lifetimes of AF_BENCH_LIFETIME seconds: RSS during the run
#           and after the codes', refresh tokens' and sessions' lifetimes
#           have passed.
#   logins_notcache  the same with glibc's per-thread malloc cache off
#           (GLIBC_TUNABLES=glibc.malloc.tcache_count=0): the memory the
#           worker threads' caches keep after the burst (README, Benchmark).
#   replicas  the Redis store (docs/replicas.md): /token client_credentials
#           (stateless: the ledger's write only) and whole logins
#           (authorize + token) per second, one authflowd on Redis over one
#           in memory, and two on Redis behind haproxy over one in memory
#           behind the same haproxy; Redis commands per login (INFO
#           commandstats), and Redis's memory and the replica's RSS after
#           AF_BENCH_REPLICA_LOGINS logins (default 500,000: over a million
#           requests) and once their lifetimes have passed.
#           Needs redis-server and haproxy; skipped with a message without.
# The ratios of sign and peers are taken AF_BENCH_ROUNDS times (default 3)
# and their median printed: on a shared machine only same-run ratios mean
# something (bench/callgrind-token.sh counts instructions per request).
#
# Environment: AF_BENCH_SECONDS (each wrk run and openssl speed, 5),
# AF_BENCH_CONNS (32 connections, 2 wrk threads), AF_BENCH_ROUNDS (3),
# AF_BENCH_TOKENS, AF_BENCH_LOGINS, AF_BENCH_LONG_SECONDS (cap of the
# tokens and logins runs, 300), AF_BENCH_LIFETIME (10), AF_BENCH_PHASES,
# AF_BENCH_KEEP (set: keep the temporary folder with logs and wrk output).
# Needs wrk, openssl, python3 and curl (Debian packages of those names); the
# peers need glewlwyd, and node 20.19+ with npm.
# shellcheck disable=SC2086,SC2031 # figure lists split on purpose; tests/lib.sh is sourced in a subshell
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bld=$(cd "${1:-$top/_build}" && pwd)
dur=${AF_BENCH_SECONDS:-5}
conns=${AF_BENCH_CONNS:-32}
rounds=${AF_BENCH_ROUNDS:-3}
ntokens=${AF_BENCH_TOKENS:-1000000}
nlogins=${AF_BENCH_LOGINS:-1000000}
long=${AF_BENCH_LONG_SECONDS:-300}
life=${AF_BENCH_LIFETIME:-10}
phases=${AF_BENCH_PHASES:-ready sign peers tokens logins logins_notcache replicas}
nrlogins=${AF_BENCH_REPLICA_LOGINS:-500000}
threads=2
afb="python3 $top/bench/afbench.py"
tmp=$(mktemp -d)
procs=""
cleanup() {
    for p in $procs; do kill "$p" 2>/dev/null || true; done
    if [ -n "${AF_BENCH_KEEP:-}" ]; then echo "bench.sh: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for c in wrk openssl python3 curl; do
    command -v $c >/dev/null 2>&1 || { echo "bench.sh: needs $c" >&2; exit 2; }
done
[ -x "$bld/authflowd" ] || { echo "bench.sh: $bld/authflowd is not built" >&2; exit 2; }

# ---- mechanics ----

# stop PID: SIGTERM, then wait for it to go (it is not our child when
# afbench.py started it); SIGKILL after 10 s.
stop() {
    kill "$1" 2>/dev/null || return 0
    i=0
    while kill -0 "$1" 2>/dev/null && [ $i -lt 200 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    kill -9 "$1" 2>/dev/null || true
    procs=$(echo "$procs" | sed "s/\\b$1\\b//")
}

# afd NAME CONFIG [ARGS...]: start authflowd, set $pid, $url and $ready_ms.
afd() {
    _name=$1 _conf=$2
    shift 2
    # $afd_env: VAR=VALUE words for authflowd's environment (env execs it:
    # the same PID)
    $afb start "$tmp/$_name.ready" "$tmp/$_name.log" -- ${afd_env:+env $afd_env} "$bld/authflowd" \
        --config "$_conf" --ready-file "$tmp/$_name.ready" "$@" >"$tmp/started"
    read -r pid ready_ms url <"$tmp/started"
    procs="$procs $pid"
}

# load NAME URL [wrk args...]: wrk -t2 -c$conns -d${dur}s against URL while
# $pid is measured; sets $rps, $nreq, $bad (non-2xx/3xx) and $cpu_us (CPU
# microseconds of $pid per request).
load() {
    _name=$1 _url=$2
    shift 2
    _c0=$($afb cpu "$pid")
    wrk -t$threads -c"$conns" -d"${dur}s" "$@" "$_url" >"$tmp/$_name.wrk" 2>&1
    _c1=$($afb cpu "$pid")
    rps=$(awk '/^Requests\/sec/ {print $2}' "$tmp/$_name.wrk")
    nreq=$(awk '/requests in/ {print $1}' "$tmp/$_name.wrk")
    bad=$(awk '/Non-2xx/ {print $NF}' "$tmp/$_name.wrk")
    bad=${bad:-0}
    cpu_us=$(python3 -c "print(f'{($_c1 - $_c0) * 1e6 / max(1, $nreq):.0f}')")
}

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
median() { $afb median "$@"; }
mib() { python3 -c "print(f'{$1 / 1024:.1f}')"; }

# sign_rate NAME [openssl speed args]: signatures per second
sign_rate() {
    _n=$1
    shift
    openssl speed -seconds "$dur" "$@" 2>/dev/null | awk -v n="$_n" '$0 ~ n {print $(NF-1); exit}'
}

# Keys made once: no key generation inside a measured start or run.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/es.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/rs.pem" 2>/dev/null

# mkconf NAME ALG [LIFETIME]: a config with one key of ALG from its PEM, the
# client_credentials client bench-client and the web client bench-app;
# LIFETIME, when given, is that of codes (half of it), tokens and refresh
# tokens. Limits are the defaults, the same as in the shipped config.
mkconf() {
    _pem=$tmp/es.pem
    [ "$2" = RS256 ] && _pem=$tmp/rs.pem
    _life=""
    [ $# -ge 3 ] && _life="\"lifetimes\": {\"code\": $(($3 / 2)), \"access_token\": $3,
  \"id_token\": $3, \"refresh_token\": $3, \"session\": $3},"
    cat >"$tmp/$1.json" <<JSON
{"listen": "127.0.0.1:0", "keys": [{"alg": "$2", "pem_file": "$_pem"}], $_life
 "login": {"interactive": false, "default_user": "bench"},
 "clients": [{"client_id": "bench-client", "client_secret": "bench-secret",
   "grant_types": ["client_credentials"], "scope": "api.read"},
  {"client_id": "bench-app", "client_secret": "bench-app-secret",
   "redirect_uris": ["http://127.0.0.1:8080/callback"],
   "grant_types": ["authorization_code", "refresh_token"], "scope": "openid"}],
 "users": [{"sub": "u-bench", "username": "bench"}]}
JSON
}
mkconf es ES256
mkconf rs RS256
mkconf login ES256 "$life"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "openssl: $(openssl version | cut -d' ' -f1-2); wrk -t$threads -c$conns -d${dur}s on 127.0.0.1;" \
    "$rounds rounds; median of rounds"
echo "authflowd: $bld/authflowd ($(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo '?'))"

# ---- ready: startup time and idle memory ----
phase_ready() {
    echo
    echo "== ready: startup-to-ready and idle RSS"
    sh_ms="" pem_ms="" sh_rss="" sh_anon="" sh_libs="" ver_ms="" true_ms=""
    r=0
    while [ $r -lt "$rounds" ]; do
        afd shipped "$top/conf/authflowd.json" --listen 127.0.0.1:0 --log-level error
        sh_ms="$sh_ms $ready_ms"
        sleep 1
        sh_rss="$sh_rss $($afb rss "$pid")"
        sh_anon="$sh_anon $($afb anon "$pid")"
        sh_libs=$($afb libs "$pid")
        stop "$pid"
        afd pem "$tmp/es.json" --log-level error
        pem_ms="$pem_ms $ready_ms"
        stop "$pid"
        # the floors: a process that only loads authflowd's libraries, and
        # one that loads almost none
        set -- $($afb run "$bld/authflowd" --version)
        ver_ms="$ver_ms $1"
        set -- $($afb run true)
        true_ms="$true_ms $1"
        r=$((r + 1))
    done
    echo "shipped conf/authflowd.json (keys generated once into the state folder): ready ms:$sh_ms" \
        "-> median $(median $sh_ms) ms (goal <= 15)"
    echo "reference, ES256 key from a PEM file: ready ms:$pem_ms -> median $(median $pem_ms) ms"
    echo "idle RSS, shipped config, 1 s after ready: $(mib "$(median $sh_rss)") MiB (goal <= 6)," \
        "of which its own (RssAnon; the rest is shared libraries' pages) $(mib "$(median $sh_anon)") MiB"
    echo "floor of the RSS: the shared libraries' resident pages $(mib "${sh_libs%% *}") MiB" \
        "(largest, MiB: ${sh_libs#* })"
    echo "floor of ready: 'authflowd --version' (loads the same libraries, serves nothing):" \
        "ms:$ver_ms -> median $(median $ver_ms) ms; 'true': median $(median $true_ms) ms"
}

# ---- sign: /token against the signature's own rate ----
phase_sign() {
    echo
    echo "== sign: /token client_credentials req/s over openssl speed sign/s, same run"
    export AF_BENCH_CLIENT=bench-client AF_BENCH_SECRET=bench-secret
    es_r="" rs_r="" es_c="" rs_c=""
    r=1
    while [ $r -le "$rounds" ]; do
        afd es "$tmp/es.json" --log-level error
        load es "$url/token" -s "$top/bench/flows.lua"
        tok_rps=$rps tok_cpu=$cpu_us
        # the floor: an answer that signs nothing (GET /healthz), same load
        load healthz "$url/healthz"
        hz_cpu=$cpu_us
        stop "$pid"
        ref=$(sign_rate "256 bits ecdsa" ecdsap256)
        x=$(ratio "$tok_rps" "$ref")
        es_r="$es_r $x"
        # however cheap the rest, a /token costs the floor plus one
        # signature: at the CPU authflowd got in this run, that bounds the
        # ratio
        ceil=$(python3 -c "cores = $tok_rps * $tok_cpu / 1e6
print(f'{cores / (($cpu_us + 1e6 / $ref) / 1e6) / $ref:.2f}')")
        es_c="$es_c $ceil"
        echo "round $r ES256: /token $tok_rps req/s (non-2xx $bad, $tok_cpu us CPU/req);" \
            "openssl ecdsap256 one core $ref sign/s; ratio $x;" \
            "GET /healthz $cpu_us us CPU/req, so at most $ceil"
        afd rs "$tmp/rs.json" --log-level error
        load rs "$url/token" -s "$top/bench/flows.lua"
        stop "$pid"
        ref=$(sign_rate "rsa 2048" -multi 2 rsa2048)
        x=$(ratio "$rps" "$ref")
        rs_r="$rs_r $x"
        # the same bound: /healthz's CPU plus one signature, which takes
        # one core 2/ref seconds (ref is the rate of two)
        ceil=$(python3 -c "cores = $rps * $cpu_us / 1e6
print(f'{cores / (($hz_cpu + 2e6 / $ref) / 1e6) / $ref:.2f}')")
        rs_c="$rs_c $ceil"
        echo "round $r RS256: /token $rps req/s (non-2xx $bad, $cpu_us us CPU/req);" \
            "openssl rsa2048 -multi 2 $ref sign/s; ratio $x; at most $ceil"
        r=$((r + 1))
    done
    echo "ES256 /token : one core's ecdsap256 sign/s, median $(median $es_r) (goal >= 1.0);" \
        "ceiling here (/healthz's CPU plus one signature per request, at the CPU" \
        "authflowd got beside wrk): median $(median $es_c)"
    echo "RS256 /token : -multi 2 rsa2048 sign/s, median $(median $rs_r) (goal >= 0.8);" \
        "ceiling here, the same way: median $(median $rs_c)"
}

# ---- peers: discovery and /jwks next to glewlwyd and oidc-provider ----

# start_glewlwyd: glewlwyd on a free loopback port with a sqlite database;
# sets $gpid and $gbase (the OIDC plugin's base URL), or says why not.
start_glewlwyd() {
    gpid=""
    schema=/usr/share/dbconfig-common/data/glewlwyd/install/sqlite3
    if ! command -v glewlwyd >/dev/null 2>&1 || [ ! -f "$schema" ]; then
        echo "glewlwyd: skipped, not installed (Debian: apt-get install glewlwyd)"
        return 0
    fi
    port=$($afb freeport)
    gbase=http://127.0.0.1:$port/api/oidc
    $afb glewlwyd-db "$tmp/glwd.db" "$schema" "$tmp/rs.pem" "$gbase/" || {
        echo "glewlwyd: skipped, could not create its database"
        return 0
    }
    mods=/usr/lib/glewlwyd
    cat >"$tmp/glwd.conf" <<EOF
port=$port
bind_address="127.0.0.1"
external_url="http://127.0.0.1:$port"
api_prefix="api"
log_mode="console"
log_level="ERROR"
cookie_secure=0
admin_scope="g_admin"
profile_scope="g_profile"
user_module_path="$mods/user"
client_module_path="$mods/client"
user_auth_scheme_module_path="$mods/scheme"
plugin_module_path="$mods/plugin"
hash_algorithm="SHA512"
database = { type = "sqlite3" path = "$tmp/glwd.db" };
EOF
    glewlwyd --config-file "$tmp/glwd.conf" >"$tmp/glwd.log" 2>&1 </dev/null &
    gpid=$!
    procs="$procs $gpid"
    if ! $afb waiturl "$gbase/.well-known/openid-configuration" 20 >/dev/null 2>&1 ||
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$gbase/.well-known/openid-configuration")" != 200 ]; then
        echo "glewlwyd: skipped, it did not serve discovery in 20 s ($(tail -n 2 "$tmp/glwd.log" | tr '\n' ' '))"
        stop "$gpid"
        gpid=""
    fi
}

# start_oidcp: node-oidc-provider (tests/interop/oidc-provider/server.js,
# its pinned version installed with npm ci into the build tree, where the
# interop test puts it too); sets $opid and $obase, or says why not.
start_oidcp() {
    opid=""
    node=node
    if [ -x "$top/_tools/node/node_modules/.bin/node" ]; then
        node=$top/_tools/node/node_modules/.bin/node
    fi
    if ! command -v "$node" >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1 ||
        ! "$node" -e 'const [a, b] = process.versions.node.split(".").map(Number);
            process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' 2>/dev/null; then
        echo "oidc-provider: skipped, needs node 20.19+ and npm (./bootstrap.sh check installs them)"
        return 0
    fi
    work=$bld/tests/interop/oidc-provider-run
    # shellcheck source=tests/lib.sh
    if ! (. "$top/tests/lib.sh" && af_npm_ci "$top/tests/interop/oidc-provider" "$work" \
        oidc-provider 1 SKIP "oidc-provider") >"$tmp/npm.out" 2>&1; then
        echo "oidc-provider: skipped, npm ci failed: $(tail -n 3 "$tmp/npm.out" | tr '\n' ' ')"
        return 0
    fi
    if ! $afb start "$tmp/oidcp.out" "$tmp/oidcp.out" -- "$node" "$work/server.js" --port 0 \
        >"$tmp/started" 2>"$tmp/oidcp.err"; then
        echo "oidc-provider: skipped, it did not start: $(cat "$tmp/oidcp.err")"
        return 0
    fi
    read -r opid _ms obase <"$tmp/started"
    procs="$procs $opid"
}

# versus KEY NAME PID BASE: the request just sent to authflowd ($what at
# $path, giving $a_rps and $a_cpu) sent to the peer NAME at BASE, whose
# process is PID (empty: skipped); adds its figures to $line and the ratios
# to the lists ${KEY}_$what (req/s) and ${KEY}_${what}c (CPU per request).
versus() {
    [ -n "$3" ] || return 0
    pid=$3
    load "$1-$what" "$4$path"
    x=$(ratio "$a_rps" "$rps")
    c=$(ratio "$cpu_us" "$a_cpu")
    line="$line; $2 $rps req/s ($cpu_us us, non-2xx $bad): x$x"
    eval "${1}_$what=\"\$${1}_$what $x\" ${1}_${what}c=\"\$${1}_${what}c $c\""
}

# peer_medians KEY NAME GOAL: the medians of the lists versus filled.
peer_medians() {
    _d="" _j="" _dc="" _jc=""
    eval "_d=\$${1}_discovery _j=\$${1}_jwks _dc=\$${1}_discoveryc _jc=\$${1}_jwksc"
    echo "authflowd : $2 req/s, median: discovery $(median $_d), /jwks $(median $_j) (goal >= $3);" \
        "$2's CPU per request over authflowd's: discovery $(median $_dc), /jwks $(median $_jc)"
}

phase_peers() {
    echo
    echo "== peers: GET discovery and /jwks, req/s and CPU per request, same run"
    afd peers "$tmp/rs.json" --log-level error
    apid=$pid abase=$url
    start_glewlwyd
    start_oidcp
    for srv in authflowd glewlwyd oidc-provider; do
        case $srv in
        authflowd) p=$apid base=$abase ;;
        glewlwyd) p=$gpid base=${gbase:-} ;;
        oidc-provider) p=$opid base=${obase:-} ;;
        esac
        [ -n "$p" ] || continue
        echo "$srv: discovery $(curl -s "$base/.well-known/openid-configuration" | wc -c) bytes," \
            "/jwks $(curl -s "$base/jwks" | wc -c) bytes"
        # warm-up, not measured: node's JIT, first allocations
        for path in /.well-known/openid-configuration /jwks; do
            wrk -t1 -c4 -d1s "$base$path" >/dev/null 2>&1
        done
    done
    for k in g o; do
        for w in discovery jwks; do eval "${k}_$w='' ${k}_${w}c=''"; done
    done
    r=1
    while [ $r -le "$rounds" ]; do
        for what in discovery jwks; do
            path=/.well-known/openid-configuration
            [ $what = jwks ] && path=/jwks
            pid=$apid
            load "a-$what" "$abase$path"
            a_rps=$rps a_cpu=$cpu_us
            line="round $r $what: authflowd $rps req/s ($cpu_us us CPU/req, non-2xx $bad)"
            versus g glewlwyd "$gpid" "${gbase:-}"
            versus o oidc-provider "$opid" "${obase:-}"
            echo "$line"
        done
        r=$((r + 1))
    done
    [ -z "$gpid" ] || peer_medians g glewlwyd 1.5
    [ -z "$opid" ] || peer_medians o oidc-provider 5
    stop "$apid"
    [ -z "$gpid" ] || stop "$gpid"
    [ -z "$opid" ] || stop "$opid"
}

# ---- tokens and logins: a count in one run, memory sampled ----

# long NAME COUNT URL FLOW: the counted run of flows.lua against $pid, RSS
# sampled every second into $tmp/NAME.rss by $spid (left running); prints
# the figures and sets $run_t0 and $run_t1, the run's start and end.
long() {
    _name=$1 _count=$2 _url=$3 _flow=$4
    $afb sample "$pid" "$tmp/$_name.rss" 1 &
    spid=$!
    procs="$procs $spid"
    rm -f "$tmp/$_name.done"
    _c0=$($afb cpu "$pid")
    _t0=$(date +%s.%N)
    AF_BENCH_FLOW=$_flow AF_BENCH_PER_THREAD=$(((_count + threads - 1) / threads)) \
        AF_BENCH_THREADS=$threads AF_BENCH_DONE_FILE="$tmp/$_name.done" \
        wrk -t$threads -c"$conns" -d"${long}s" --timeout 10s -s "$top/bench/flows.lua" "$_url" \
        >"$tmp/$_name.wrk" 2>&1 || true
    _t1=$(date +%s.%N)
    run_t0=$_t0 run_t1=$_t1
    _c1=$($afb cpu "$pid")
    attempts=$(awk '/^af attempts/ {print $3}' "$tmp/$_name.wrk")
    attempts=${attempts:-0}
    _secs=$(python3 -c "print(f'{$_t1 - $_t0:.1f}')")
    echo "attempts $attempts of $_count in $_secs s (cap ${long} s):" \
        "$(python3 -c "print(f'{$attempts / ($_t1 - $_t0):.0f}')")/s," \
        "$(python3 -c "print(f'{($_c1 - $_c0) * 1e6 / max(1, $attempts):.0f}')") us CPU each"
    awk '/^af (ok|failed|statuses|first-error)/ {sub(/^af /, ""); print}' "$tmp/$_name.wrk"
    grep -q '^af attempts' "$tmp/$_name.wrk" || tail -n 5 "$tmp/$_name.wrk"
}

# loglines NAME: what authflowd NAME wrote to stderr (its log, warn level).
loglines() {
    _f=$tmp/$1.log.err
    _first=""
    [ -s "$_f" ] && _first=" (first: $(head -n 1 "$_f" | cut -c 1-160))"
    echo "log at warn level: $(grep -c . "$_f") lines, $(wc -c <"$_f") bytes$_first"
}

phase_tokens() {
    echo
    echo "== tokens: $ntokens client_credentials tokens (ES256) in one run, default limits"
    afd tokens "$tmp/es.json" --log-level warn
    idle=$($afb rss "$pid")
    export AF_BENCH_CLIENT=bench-client AF_BENCH_SECRET=bench-secret
    long tokens "$ntokens" "$url/token" token
    stop "$spid"
    echo "RSS: idle $(mib "$idle") MiB; during the run $($afb series "$tmp/tokens.rss" 12 "$run_t0" "$run_t1") (goal <= 16, flat)"
    stop "$pid"
    loglines tokens
}

# phase_logins [TUNABLES]: with TUNABLES, authflowd runs with
# GLIBC_TUNABLES=TUNABLES (the per-thread malloc cache off shows what holds
# memory after the burst: logins_notcache).
phase_logins() {
    echo
    echo "== logins: $nlogins authorization-code logins (authorize + token, ES256, new browser each)," \
        "lifetimes: code $((life / 2)) s, tokens, refresh and sessions $life s${1:+, GLIBC_TUNABLES=$1}"
    afd_env=${1:+GLIBC_TUNABLES=$1}
    afd logins "$tmp/login.json" --log-level warn
    afd_env=
    idle=$($afb rss "$pid")
    export AF_BENCH_CLIENT=bench-app AF_BENCH_SECRET=bench-app-secret
    long logins "$nlogins" "$url" login
    end=$($afb rss "$pid")
    wait_s=$((life + 5))
    sleep "$wait_s"
    after=$($afb rss "$pid")
    t_after=$(date +%s.%N)
    echo "RSS: idle $(mib "$idle") MiB; at the end $(mib "$end") MiB;" \
        "$wait_s s later (lifetimes passed) $(mib "$after") MiB (goal: near idle)"
    echo "RSS samples, run and wait: $($afb series "$tmp/logins.rss" 12 "$run_t0" "$t_after")"
    stop "$spid"
    stop "$pid"
    loglines logins
}

# ---- replicas: what the Redis store costs ----

# redis_cli ARGS...: a command to the bench's Redis.
redis_cli() { redis-cli -p "$rport" "$@"; }

# rate NAME URL FLOW: $rps of FLOW (flows.lua: token or login) against URL
# for $dur s, the run kept as $tmp/NAME.wrk; $bad its failed attempts.
rate() {
    AF_BENCH_FLOW=$3 wrk -t$threads -c"$conns" -d"${dur}s" --timeout 10s -s "$top/bench/flows.lua" \
        "$2" >"$tmp/$1.wrk" 2>&1 || true
    _n=$(awk '/^af ok/ {print $3}' "$tmp/$1.wrk")
    _a=$(awk '/^af attempts/ {print $3}' "$tmp/$1.wrk")
    rps=$(python3 -c "print(f'{${_n:-0} / $dur:.0f}')")
    bad=$((${_a:-0} - ${_n:-0}))
}

# haproxy_on PORT SERVER...: haproxy on 127.0.0.1:PORT, round robin over
# the servers (host:port); sets $hpid.
haproxy_on() {
    _p=$1
    shift
    {
        printf 'global\n    maxconn 4096\ndefaults\n    mode http\n'
        printf '    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n'
        printf 'frontend f\n    bind 127.0.0.1:%s\n    default_backend b\n' "$_p"
        printf 'backend b\n    balance roundrobin\n'
        _i=0
        for _s in "$@"; do
            _i=$((_i + 1))
            printf '    server r%s %s\n' "$_i" "$_s"
        done
    } >"$tmp/haproxy.cfg"
    haproxy -f "$tmp/haproxy.cfg" >"$tmp/haproxy.log" 2>&1 &
    hpid=$!
    procs="$procs $hpid"
    _i=0
    until curl -s -o /dev/null "http://127.0.0.1:$_p/healthz" || [ $_i -ge 100 ]; do
        sleep 0.05
        _i=$((_i + 1))
    done
}

phase_replicas() {
    echo
    echo "== replicas: the Redis store against the in-memory one, same run (ES256; docs/replicas.md)"
    for c in redis-server redis-cli haproxy; do
        command -v $c >/dev/null 2>&1 || { echo "skipped: needs $c (Debian: redis-server, haproxy)"; return 0; }
    done
    rport=$($afb freeport)
    redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --dir "$tmp" \
        >"$tmp/redis.log" 2>&1 &
    rpid=$!
    procs="$procs $rpid"
    _i=0
    until redis_cli ping >/dev/null 2>&1 || [ $_i -ge 100 ]; do
        sleep 0.05
        _i=$((_i + 1))
    done
    # the login config, once in memory and once on Redis
    python3 -c "import json,sys; c=json.load(open(sys.argv[1])); c['store']={'redis': 'redis://127.0.0.1:' + sys.argv[2], 'prefix': 'bench'}; json.dump(c, open(sys.argv[3], 'w'))" \
        "$tmp/login.json" "$rport" "$tmp/login-redis.json"
    export AF_BENCH_CLIENT=bench-app AF_BENCH_SECRET=bench-app-secret
    tok1="" log1="" tok2="" log2="" failed=0
    r=0
    while [ $r -lt "$rounds" ]; do
        for store in mem redis; do
            conf=$tmp/login.json
            [ $store = redis ] && conf=$tmp/login-redis.json
            afd "r-$store" "$conf" --log-level warn
            AF_BENCH_CLIENT=bench-client AF_BENCH_SECRET=bench-secret rate "r-$store-tok" "$url/token" token
            eval "tok_$store=$rps"
            failed=$((failed + bad))
            rate "r-$store-log" "$url" login
            eval "log_$store=$rps"
            failed=$((failed + bad))
            stop "$pid"
        done
        tok1="$tok1 $(ratio "$tok_redis" "$tok_mem")"
        log1="$log1 $(ratio "$log_redis" "$log_mem")"
        # behind haproxy: one in memory, then two on Redis
        afd "h-mem" "$tmp/login.json" --log-level warn
        hport=$($afb freeport)
        haproxy_on "$hport" "127.0.0.1:${url##*:}"
        AF_BENCH_CLIENT=bench-client AF_BENCH_SECRET=bench-secret rate h-mem-tok "http://127.0.0.1:$hport/token" token
        htok_mem=$rps
        failed=$((failed + bad))
        rate h-mem-log "http://127.0.0.1:$hport" login
        hlog_mem=$rps
        failed=$((failed + bad))
        stop "$hpid"
        stop "$pid"
        afd "h-r1" "$tmp/login-redis.json" --log-level warn
        p1=$pid u1=$url
        afd "h-r2" "$tmp/login-redis.json" --log-level warn
        haproxy_on "$hport" "127.0.0.1:${u1##*:}" "127.0.0.1:${url##*:}"
        AF_BENCH_CLIENT=bench-client AF_BENCH_SECRET=bench-secret rate h-r-tok "http://127.0.0.1:$hport/token" token
        tok2="$tok2 $(ratio "$rps" "$htok_mem")"
        failed=$((failed + bad))
        rate h-r-log "http://127.0.0.1:$hport" login
        log2="$log2 $(ratio "$rps" "$hlog_mem")"
        failed=$((failed + bad))
        stop "$hpid"
        stop "$pid"
        stop "$p1"
        r=$((r + 1))
    done
    echo "one authflowd, Redis over in memory: /token $(median $tok1) (rounds:$tok1)," \
        "logins $(median $log1) (rounds:$log1)"
    echo "two on Redis behind haproxy over one in memory behind it: /token $(median $tok2)" \
        "(rounds:$tok2), logins $(median $log2) (rounds:$log2); $(nproc) cores shared by" \
        "wrk, haproxy, Redis and the replicas"
    echo "failed attempts in these runs: $failed"
    # Redis's side: commands per login, and memory with the state and after it
    redis_cli flushall >/dev/null
    redis_cli config resetstat >/dev/null
    afd "r-count" "$tmp/login-redis.json" --log-level warn
    idle=$($afb rss "$pid")
    m0=$(redis_cli info memory | awk -F: '/^used_memory:/ {print $2+0}')
    long r-count "$nrlogins" "$url" login
    ok=$(awk '/^af ok/ {print $3}' "$tmp/r-count.wrk")
    m1=$(redis_cli info memory | awk -F: '/^used_memory:/ {print $2+0}')
    end=$($afb rss "$pid")
    # commandstats counts the commands run inside a script too: the round
    # trips are the scripts (EVALSHA) and the commands sent alone
    redis_cli info commandstats | tr -d '\r' >"$tmp/cmdstats"
    cmds=$(awk -F'[:=,]' '/^cmdstat_/ {n += $3} END {print n + 0}' "$tmp/cmdstats")
    evals=$(awk -F'[:=,]' '/^cmdstat_evalsha:/ {print $3}' "$tmp/cmdstats")
    busiest=$(awk -F'[:=,]' '/^cmdstat_/ {sub(/^cmdstat_/, "", $1); print $3, $1}' "$tmp/cmdstats" |
        sort -rn | head -n 5 | awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1}')
    echo "Redis per login (authorize + token, ledger on): $(ratio "${evals:-0}" "${ok:-1}") scripts" \
        "(EVALSHA, one round trip each), $(ratio "$cmds" "${ok:-1}") commands counting those inside" \
        "the scripts; most called: $busiest"
    sleep $((life + 3))
    t_after=$(date +%s.%N)
    stop "$spid"
    after=$($afb rss "$pid")
    m2=$(redis_cli info memory | awk -F: '/^used_memory:/ {print $2+0}')
    keys=$(redis_cli dbsize)
    # the replica keeps no flow state of its own: its memory stays flat
    echo "the replica's RSS: idle $(mib "$idle") MiB; after ${ok:-0} logins $(mib "$end") MiB;" \
        "$((life + 3)) s later $(mib "$after") MiB; samples, run and wait:" \
        "$($afb series "$tmp/r-count.rss" 12 "$run_t0" "$t_after")"
    echo "Redis used_memory: before $(mib $((m0 / 1024))) MiB; after ${ok:-0} logins $(mib $((m1 / 1024))) MiB;" \
        "$((life + 3)) s later (lifetimes passed) $(mib $((m2 / 1024))) MiB, $keys keys (the ledger's" \
        "stream, capped at ledger.max_entries, and the shared secrets and keys stay)"
    stop "$pid"
    stop "$rpid"
}

for ph in $phases; do
    case $ph in
    ready | sign | peers | tokens | logins | replicas) "phase_$ph" ;;
    logins_notcache) phase_logins glibc.malloc.tcache_count=0 ;;
    *) echo "bench.sh: unknown phase $ph" >&2; exit 2 ;;
    esac
done
