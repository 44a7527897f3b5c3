#!/bin/sh
# bench.sh - authflowd throughput and footprint, with a reference measured in
# the same run. Not a test: it prints figures, it asserts nothing.
#
#   bench/bench.sh [BUILD_DIR]   (default: _build)
#
# Measures, on loopback only, each load bounded by -d seconds:
#   - /token client_credentials with RS256 and with ES256 signing (wrk),
#     next to `openssl speed` for the same signature in the same run, and
#     the ratio token responses/s : signatures/s (1.0 would mean the HTTP,
#     JSON and store work cost nothing next to the signature);
#   - GET /jwks and GET /authorize (headless approval: a 302 with a code);
#   - startup-to-ready time and resident memory idle and after the load.
# Needs wrk and openssl (Debian: wrk, openssl).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bld=${1:-$top/_build}
dur=${AF_BENCH_SECONDS:-5}
conns=${AF_BENCH_CONNS:-32}
threads=2
tmp=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

for c in wrk openssl python3; do
    command -v $c >/dev/null 2>&1 || { echo "bench.sh: needs $c" >&2; exit 2; }
done

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "load: wrk -t$threads -c$conns -d${dur}s on 127.0.0.1"

mkconf() { # alg
    cat >"$tmp/$1.json" <<JSON
{"listen": "127.0.0.1:0", "keys": [{"alg": "$1"}],
 "limits": {"max_tokens": 2000000, "max_codes": 1000000, "threads": 4},
 "lifetimes": {"access_token": 60},
 "clients": [{"client_id": "bench-client", "client_secret": "bench-secret",
   "grant_types": ["client_credentials"], "scope": "api.read"},
  {"client_id": "bench-app", "client_secret": "bench-app-secret",
   "redirect_uris": ["http://127.0.0.1:8080/callback"], "scope": "openid"}],
 "users": [{"sub": "u-bench", "username": "bench"}]}
JSON
}

start() { # alg -> sets pid, url, ready_ms
    rm -f "$tmp/ready"
    t0=$(date +%s%N)
    "$bld/authflowd" --config "$tmp/$1.json" --ready-file "$tmp/ready" --log-level error \
        >/dev/null &
    pid=$!
    while [ ! -s "$tmp/ready" ]; do
        kill -0 "$pid" 2>/dev/null || { echo "authflowd died" >&2; exit 1; }
        sleep 0.002
    done
    t1=$(date +%s%N)
    ready_ms=$(( (t1 - t0) / 1000000 ))
    url=$(cat "$tmp/ready")
}

stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
reqs() { awk '/Requests\/sec/ {print $2}'; }

sign_rate() { # openssl speed name -> signs/s (one core)
    openssl speed -seconds "$dur" "$1" 2>/dev/null | awk -v n="$2" '$0 ~ n {print $(NF-1); exit}'
}

for alg in RS256 ES256; do
    mkconf $alg
    start $alg
    idle=$(rss_kb)
    AF_BENCH_CLIENT=bench-client AF_BENCH_SECRET=bench-secret \
        wrk -t$threads -c$conns -d"${dur}s" -s "$top/bench/token.lua" "$url/token" >"$tmp/w" 2>&1
    tok=$(reqs <"$tmp/w")
    non=$(awk '/non-200/ {print $2}' "$tmp/w")
    loaded=$(rss_kb)
    if [ $alg = RS256 ]; then
        ref=$(sign_rate rsa2048 "rsa 2048")
        refname="openssl speed rsa2048 sign/s"
        wrk -t$threads -c$conns -d"${dur}s" "$url/jwks" >"$tmp/j" 2>&1
        jw=$(reqs <"$tmp/j")
        wrk -t$threads -c$conns -d"${dur}s" \
            "$url/authorize?response_type=code&client_id=bench-app&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fcallback&scope=openid&state=s" \
            >"$tmp/a" 2>&1
        az=$(reqs <"$tmp/a")
    else
        ref=$(sign_rate ecdsap256 "256 bits ecdsa")
        refname="openssl speed ecdsap256 sign/s"
    fi
    stop
    python3 - "$alg" "$tok" "$non" "$ref" "$refname" "$ready_ms" "$idle" "$loaded" <<'PY'
import sys
alg, tok, non, ref, refname, ready, idle, loaded = sys.argv[1:]
tok, ref = float(tok), float(ref)
print(f"{alg}: /token {tok:.0f} req/s (non-200: {non}); {refname} {ref:.0f} (one core);"
      f" ratio {tok/ref:.2f}")
print(f"{alg}: startup-to-ready {ready} ms; RSS idle {int(idle)//1024} MiB,"
      f" after load {int(loaded)//1024} MiB")
PY
done
echo "GET /jwks: $jw req/s; GET /authorize (302 with a code): $az req/s"
