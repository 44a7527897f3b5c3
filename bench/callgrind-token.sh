#!/bin/sh
# callgrind-token.sh - instructions per /token request (client_credentials,
# ES256), counted by valgrind's callgrind: repeatable for the same binary
# whatever else the machine is doing, unlike req/s on a small shared VM.
#
#   bench/callgrind-token.sh [BUILD_DIR] [REQUESTS]   (default: _build 500)
#
# Runs authflowd under callgrind twice, with 1 and with REQUESTS keep-alive
# requests from one client, and prints (total(N) - total(1)) / (N - 1).
# Not a test: it prints a figure and asserts nothing. Loopback only.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bld=${1:-$top/_build}
n=${2:-500}
tmp=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
for c in valgrind callgrind_annotate python3; do
    command -v $c >/dev/null 2>&1 || { echo "callgrind-token.sh: needs $c" >&2; exit 2; }
done

cat >"$tmp/es.json" <<'JSON'
{"listen": "127.0.0.1:0", "keys": [{"alg": "ES256"}],
 "limits": {"threads": 2},
 "clients": [{"client_id": "bench-client", "client_secret": "bench-secret",
   "grant_types": ["client_credentials"], "scope": "api.read"}],
 "users": [{"sub": "u-bench", "username": "bench"}]}
JSON

cat >"$tmp/loop.py" <<'PY'
import base64, http.client, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
h = {"Content-Type": "application/x-www-form-urlencoded",
     "Authorization": "Basic " + base64.b64encode(b"bench-client:bench-secret").decode()}
for _ in range(int(sys.argv[2])):
    c.request("POST", "/token", "grant_type=client_credentials&scope=api.read", h)
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"status {r.status}")
PY

total() { # requests -> instructions of the whole run, all threads
    rm -f "$tmp"/cg.out.* "$tmp/ready"
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out.%p" "$bld/authflowd" \
        --config "$tmp/es.json" --ready-file "$tmp/ready" --log-level error >/dev/null 2>&1 &
    pid=$!
    while [ ! -s "$tmp/ready" ]; do sleep 0.2; done
    python3 "$tmp/loop.py" "$(head -n 1 "$tmp/ready")" "$1"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
    for f in "$tmp"/cg.out.*; do
        callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}'
    done | awk '{s += $1} END {print s}'
}

one=$(total 1)
many=$(total "$n")
echo "ES256 /token: $(( (many - one) / (n - 1) )) instructions per request" \
    "(callgrind, $n keep-alive requests, $(nproc) cores)"
