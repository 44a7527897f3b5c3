#!/bin/sh
# callgrind-token.sh - instructions per request, counted by valgrind's
# callgrind: repeatable for the same binary whatever else the machine is
# doing, unlike req/s on a small shared VM. Four requests:
#   POST /token client_credentials signed ES256, the same signed RS256,
#   GET /.well-known/openid-configuration and GET /jwks.
#
#   bench/callgrind-token.sh [BUILD_DIR] [REQUESTS]   (default: _build 500)
#
# authflowd runs with --log-level error (no line per request) unless
# AF_BENCH_LOG_ARGS says otherwise, e.g. AF_BENCH_LOG_ARGS="--log-level info"
# to count the request log line too (written to /dev/null).
#
# For each, authflowd runs under callgrind twice, serving 1 and REQUESTS
# keep-alive requests from one client, and the script prints
# (total(REQUESTS) - total(1)) / (REQUESTS - 1): what startup and shutdown
# cost cancels out. The keys come from PEM files made once, so that no key
# generation (whose cost varies from run to run) enters the difference.
# Not a test: it prints figures and asserts nothing. Loopback only.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bld=${1:-$top/_build}
n=${2:-500}
afb="python3 $top/bench/afbench.py"
logargs=${AF_BENCH_LOG_ARGS:---log-level error}
tmp=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for c in valgrind callgrind_annotate python3 openssl; do
    command -v $c >/dev/null 2>&1 || { echo "callgrind-token.sh: needs $c" >&2; exit 2; }
done

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/es.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/rs.pem" 2>/dev/null
for alg in ES256 RS256; do
    pem=$tmp/es.pem
    [ $alg = RS256 ] && pem=$tmp/rs.pem
    cat >"$tmp/$alg.json" <<JSON
{"listen": "127.0.0.1:0", "keys": [{"alg": "$alg", "pem_file": "$pem"}],
 "limits": {"threads": 2},
 "clients": [{"client_id": "bench-client", "client_secret": "bench-secret",
   "grant_types": ["client_credentials"], "scope": "api.read"}],
 "users": [{"sub": "u-bench", "username": "bench"}]}
JSON
done

# total CONFIG REQUESTS METHOD PATH [BODY]: instructions of the whole run,
# all threads, serving REQUESTS requests.
total() {
    _conf=$1 _count=$2
    shift 2
    rm -f "$tmp"/cg.out.* "$tmp/ready"
    # shellcheck disable=SC2086 # the arguments split on purpose
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out.%p" "$bld/authflowd" \
        --config "$_conf" --ready-file "$tmp/ready" $logargs >/dev/null 2>&1 &
    pid=$!
    while [ ! -s "$tmp/ready" ]; do
        kill -0 "$pid" 2>/dev/null || { echo "callgrind-token.sh: authflowd died" >&2; exit 1; }
        sleep 0.2
    done
    $afb loop "$(head -n 1 "$tmp/ready")" "$_count" "$@"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
    for f in "$tmp"/cg.out.*; do
        callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}'
    done | awk '{s += $1} END {printf "%.0f\n", s}'
}

# per_request LABEL CONFIG METHOD PATH [BODY]
per_request() {
    _label=$1
    shift
    _conf=$1
    shift
    one=$(total "$_conf" 1 "$@")
    many=$(total "$_conf" "$n" "$@")
    printf '%-34s %9d instructions per request\n' "$_label" $(((many - one) / (n - 1)))
}

echo "callgrind, $n keep-alive requests from one client minus 1, authflowd $bld/authflowd" \
    "($(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo '?')), $logargs"
body="grant_type=client_credentials&scope=api.read"
per_request "ES256 /token client_credentials" "$tmp/ES256.json" POST /token "$body"
per_request "RS256 /token client_credentials" "$tmp/RS256.json" POST /token "$body"
per_request "GET discovery (ES256 key)" "$tmp/ES256.json" GET /.well-known/openid-configuration
per_request "GET /jwks (one ES256 key)" "$tmp/ES256.json" GET /jwks
