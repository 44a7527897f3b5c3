#!/bin/sh
# test_replicas.sh - authflowd replicas sharing their state through Redis
# (store.redis, docs/replicas.md).
#
# 1. tests/integration/test_replicas.py: redis-server and haproxy from
#    Debian on loopback ports, two or three replicas on 127.0.0.1:0, and
#    that they are one provider (a code redeemed once across replicas, also
#    concurrently; refresh rotation and reuse detection; revocations; the
#    login page and sessions; the scenario queue, the ledger and the keys),
#    that a Redis gone mid-run gives 503s and comes back, that a Redis that
#    cannot be used stops the start, and that authprobe's AS suite gives
#    through the balancer every verdict one in-memory authflowd gives.
# 2. docs/replicas.md: its example config is contrib/replicas/authflowd.json
#    as it is, and its "run: replicas" lines run as written (the ports
#    replaced by free ones) against the shipped haproxy.cfg; the systemd
#    template passes systemd-analyze verify (when there is one).
#
# Exit: 0 pass, 1 fail, 77 skip (redis-server, haproxy or python3 missing,
# or authflowd built without hiredis), 99 hard error.
# Environment (set by `make check`): AF_SRCDIR, AF_BUILDDIR.

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${AF_BUILDDIR:-$(pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
af_need python3 redis-server haproxy curl
if ! grep -q '^#define HAVE_HIREDIS 1' "$builddir/config.h" 2>/dev/null; then
    echo "SKIP: authflowd was built without hiredis (libhiredis-dev; ./configure --with-redis)"
    exit 77
fi
af_built 99 ERROR "$builddir/authflowd"
af_tmpdir af-replicas 99
AF_SRCDIR=$srcdir AF_BUILDDIR=$builddir
export AF_SRCDIR AF_BUILDDIR

# ---- 1. the integration tests
python3 -B "$srcdir/tests/integration/test_replicas.py"
rc=$?
[ $rc -eq 99 ] && exit 99
[ $rc -ne 0 ] && failures=$((failures + 1))

# ---- 2. the documented example
af_doc_example docs/replicas.md contrib/replicas/authflowd.json

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
rport=$(free_port) lb=$(free_port) p1=$(free_port) p2=$(free_port) adm=$(free_port)
redis-server --bind 127.0.0.1 --port "$rport" --save '' --appendonly no --dir "$tmp" \
    >"$tmp/redis.log" 2>&1 &
redis_pid=$!
af_procs="$af_procs redis_pid"
sed -e "s|127.0.0.1:9000|127.0.0.1:$lb|; s|127.0.0.1:6379|127.0.0.1:$rport|" \
    "$srcdir/contrib/replicas/authflowd.json" >"$tmp/replicas.json"
sed -e "s|127.0.0.1:9000|127.0.0.1:$lb|; s|127.0.0.1:9101|127.0.0.1:$p1|; s|127.0.0.1:9102|127.0.0.1:$p2|" \
    "$srcdir/contrib/replicas/haproxy.cfg" >"$tmp/haproxy.cfg"
# the lines as written, but for the ports, the files and the build folder
awk '$0 == "<!-- run: replicas -->" { s = 1; next }
     s == 1 && /^```/ { s = 2; next }
     s == 2 && /^```$/ { exit }
     s == 2 { print }' "$srcdir/docs/replicas.md" |
    sed -e "s|_build/authflowd|$builddir/authflowd|g" \
        -e "s|contrib/replicas/authflowd.json|$tmp/replicas.json|g" \
        -e "s|contrib/replicas/haproxy.cfg|$tmp/haproxy.cfg|g" \
        -e "s|127.0.0.1:9000|127.0.0.1:$lb|g; s|127.0.0.1:9101|127.0.0.1:$p1|g" \
        -e "s|127.0.0.1:9102|127.0.0.1:$p2|g; s|127.0.0.1:9001|127.0.0.1:$adm|g" >"$tmp/run.sh"
grep -q "$builddir/authflowd" "$tmp/run.sh" || fail "docs/replicas.md: no 'run: replicas' block"
# the block starts its servers in the background: in a process group of
# its own, stopped as a whole afterwards
i=0
until redis-cli -p "$rport" ping >/dev/null 2>&1 || [ $i -ge 100 ]; do
    sleep 0.05
    i=$((i + 1))
done
setsid sh -c "echo \$\$ >'$tmp/run.pgid'; exec sh '$tmp/run.sh'" >"$tmp/run.out" 2>"$tmp/run.err" &
run_pid=$!
i=0
while kill -0 "$run_pid" 2>/dev/null && [ $i -lt 300 ]; do
    sleep 0.1
    i=$((i + 1))
done
# the servers the block started are still up: stop the group they are in
# (no "--" before the negative id: dash's kill takes "--" for a pid and
# signals nothing)
[ -s "$tmp/run.pgid" ] && kill -TERM "-$(cat "$tmp/run.pgid")" 2>/dev/null
wait "$run_pid" 2>/dev/null
if grep -q '"access_token"' "$tmp/run.out" && grep -q '"path":"/token"' "$tmp/run.out" &&
    grep -q '"status":200' "$tmp/run.out"; then
    echo "ok: docs/replicas.md: the example logs in through haproxy and the ledger shows the token request"
else
    fail "docs/replicas.md: the example's output is not a login and a ledger entry"
    sed 's/^/    /' "$tmp/run.out" "$tmp/run.err" | head -30
fi

if command -v systemd-analyze >/dev/null 2>&1; then
    mkdir -p "$tmp/unit"
    sed -e "s|/usr/local/bin/authflowd|$builddir/authflowd|" \
        -e "s|/etc/authflow/replicas.json|$srcdir/contrib/replicas/authflowd.json|" \
        "$srcdir/contrib/replicas/authflowd@.service" >"$tmp/unit/authflowd@9101.service"
    if systemd-analyze verify --man=no "$tmp/unit/authflowd@9101.service" >"$tmp/verify.out" 2>&1 &&
        [ ! -s "$tmp/verify.out" ]; then
        echo "ok: contrib/replicas/authflowd@.service: systemd-analyze verify has nothing to say"
    else
        fail "contrib/replicas/authflowd@.service: systemd-analyze verify: $(cat "$tmp/verify.out")"
    fi
fi
af_exit
