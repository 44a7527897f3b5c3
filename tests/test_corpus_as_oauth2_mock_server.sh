#!/bin/sh
# test_corpus_as_oauth2_mock_server.sh - truth corpus (issue 9): the
# authorization-server suite against oauth2-mock-server, the corpus's
# deliberately lax provider (npm, the version pinned in
# tests/corpus/as-oauth2-mock-server/package-lock.json), started as-is by
# tests/corpus/as-oauth2-mock-server/server.js with the profile beside it.
#
# The verdict of every check must equal
# tests/data/truth/as-oauth2-mock-server.txt, which was established by hand
# (curl) and from the library's source, not from the probe: a difference is
# a bug of the probe (or a changed library), in either direction.
#
# One run: the mock stores no codes, so they never expire and the profile's
# code_expiry_wait of 2 s is enough for AS-22; AS-73c and AS-73d wait
# vars.reauth_wait (2 s) between two logins. Nothing listens on the
# profile's redirect URIs; a probe that follows a redirect to one of them
# exits 3 ("unreachable") but still writes its report, which is what is
# judged.
#
# The install goes to the build tree (tests/corpus/as-oauth2-mock-server-run
# there, never committed) and is reused while the lock file is unchanged.
# Exit 77 (skip) when node, npm or python3 is missing. The server listens
# on 127.0.0.1 port 0 and is stopped by PID.
set -u

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
builddir=${AF_BUILDDIR:-$srcdir}
authprobe=$builddir/authprobe
suite=$srcdir/conf/suites/as.json
here=$srcdir/tests/corpus/as-oauth2-mock-server
target=$here/profile.json
truth=$srcdir/tests/data/truth/as-oauth2-mock-server.txt
judge=$srcdir/tests/fixtures/as_report.py
work=$builddir/tests/corpus/as-oauth2-mock-server-run

af_need node npm python3
af_built 1 FAIL "$authprobe"
af_npm_ci "$here" "$work" oauth2-mock-server 1 FAIL
af_tmpdir af-corpus-as-mock 1
af_procs=pid

(cd "$work" && exec node server.js) >"$tmp/mock.out" 2>"$tmp/mock.err" </dev/null &
pid=$!
if ! af_wait_url "$tmp/mock.out" "$pid" 150 0.1; then
    echo "FAIL: oauth2-mock-server did not start"
    cat "$tmp/mock.err"
    exit 1
fi

"$authprobe" run "$suite" --target "$target" --issuer "$url" \
    --var reauth_wait=2 --var code_reuse_wait=3 --report "json:$tmp/main.json" >"$tmp/main.log" 2>&1
rc=$?
af_stop pid

if [ $rc -eq 2 ] || [ ! -s "$tmp/main.json" ]; then
    fail "authprobe could not run the suite (exit $rc)"
elif ! python3 "$judge" expect "$tmp/main.json" "$truth"; then
    fail "the probe's verdicts on oauth2-mock-server differ from tests/data/truth/as-oauth2-mock-server.txt"
fi
if [ "$failures" -ne 0 ]; then
    sed 's/^/    /' "$tmp/main.log"
    [ -s "$tmp/main.json" ] && python3 "$judge" summary "$tmp/main.json" | sed 's/^/    /'
    af_exit
fi
echo "PASS: the probe's verdicts on oauth2-mock-server equal the truth table"
exit 0
