#!/bin/sh
# test_as_interop.sh - the authorization-server suite against a real
# provider nobody on this project wrote: node-oidc-provider (OpenID
# Certified), installed from the npm registry at the version pinned in
# tests/interop/oidc-provider/package-lock.json.
#
# The run must give exactly the verdicts of the truth table
# tests/data/truth/as-oidc-provider.txt, established by hand and from the
# library's source, not from the probe (docs/as-suite.md explains each
# failure). A check that changes its result is a failure of this test both
# ways: a new failure may be a bug of the probe, a new pass a bug of the
# probe too, or a changed library (then the table, and the docs, are out of
# date).
#
# The install goes to the build tree (tests/interop/oidc-provider/ there,
# node_modules included; never committed) and is reused while the lock
# file is unchanged. Exit 77 (skip) when node, npm or python3 is missing.
set -u

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
builddir=${AF_BUILDDIR:-$srcdir}
authprobe=$builddir/authprobe
suite=$srcdir/conf/suites/as.json
target=$srcdir/conf/targets/oidc-provider.json
truth=$srcdir/tests/data/truth/as-oidc-provider.txt
judge=$srcdir/tests/fixtures/as_report.py
here=$srcdir/tests/interop/oidc-provider
work=$builddir/tests/interop/oidc-provider-run

af_need node npm python3
af_built 1 FAIL "$authprobe"
af_npm_ci "$here" "$work" oidc-provider 1 FAIL
af_tmpdir af-as-interop 1
af_procs=pid

# start NAME ARGS...: node server.js ARGS in the background; waits for the
# issuer URL on its first stdout line.
start() {
    name=$1
    shift
    (cd "$work" && exec node server.js "$@") >"$tmp/$name.out" 2>"$tmp/$name.err" </dev/null &
    pid=$!
    af_wait_url "$tmp/$name.out" "$pid" 150 0.1 && return 0
    echo "FAIL: oidc-provider did not start"
    cat "$tmp/$name.err"
    return 1
}

# The whole suite but AS-22, then AS-22 against codes that live 2 seconds
# (and AS-73c, AS-73d, which wait 2 s between two logins)
# (the library's default is 60: the wait would dominate the test).
start main || exit 1
"$authprobe" run "$suite" --target "$target" --issuer "$url" --skip AS-22 \
    --var code_reuse_wait=3 --report "json:$tmp/main.json" >"$tmp/main.log" 2>&1
rc=$?
af_stop pid
start short --code-ttl 2 || exit 1
"$authprobe" run "$suite" --target "$target" --issuer "$url" --only AS-22,AS-73c,AS-73d \
    --var code_expiry_wait=4 --var reauth_wait=2 --report "json:$tmp/short.json" >"$tmp/short.log" 2>&1
rc22=$?
af_stop pid

python3 - "$tmp/main.json" "$tmp/short.json" "$tmp/all.json" <<'EOF' || exit 1
import json, sys
main, short, out = sys.argv[1:4]
a = json.load(open(main, encoding="utf-8"))
b = json.load(open(short, encoding="utf-8"))
ids = {c["id"] for c in b["checks"] if c.get("result", c.get("status")) != "skip"}
a["checks"] = [c for c in a["checks"] if c["id"] not in ids] + [c for c in b["checks"] if c["id"] in ids]
json.dump(a, open(out, "w", encoding="utf-8"))
EOF

if [ $rc -gt 1 ] || [ $rc22 -gt 1 ]; then
    echo "FAIL: authprobe could not run the suite (exit $rc, $rc22)"
    failures=1
fi
if ! python3 "$judge" expect "$tmp/all.json" "$truth"; then
    echo "FAIL: the probe's verdicts on oidc-provider differ from tests/data/truth/as-oidc-provider.txt"
    failures=1
fi
if [ $failures -ne 0 ]; then
    sed 's/^/    /' "$tmp/main.log" "$tmp/short.log"
    python3 "$judge" summary "$tmp/all.json" | sed 's/^/    /'
    exit 1
fi
echo "PASS: the probe's verdicts on oidc-provider equal the truth table"
python3 "$judge" summary "$tmp/all.json" | sed 's/^/    /'
exit 0
