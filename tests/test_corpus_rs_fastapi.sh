#!/bin/sh
# test_corpus_rs_fastapi.sh - truth corpus (issue 9): the resource-server
# suite (conf/suites/rs.json) against a protected API nobody on this project
# wrote the checks of: FastAPI's HTTPBearer and PyJWT 2.6 (PyJWKClient),
# from Debian 12's packages (tests/corpus/rs-fastapi/debian-packages), glued
# in tests/corpus/rs-fastapi/app.py the way FastAPI's tutorials do it.
#
# The run must give exactly the verdicts of tests/data/truth/rs-fastapi.txt,
# which were established by hand (curl with tokens from authflowd's admin
# API, and the libraries' source), not copied from the probe: where they
# differ, the probe is wrong.
#
# Run by `make check` (AF_SRCDIR and AF_BUILDDIR set); by hand from the
# build tree: AF_SRCDIR=/path/to/src sh tests/test_corpus_rs_fastapi.sh.
# The Debian packages are installed by bootstrap.sh, not here: exit 77
# (skip), naming them, when one is missing. The app runs under the Python
# that sees Debian's dist-packages: python3 on the PATH if it imports them,
# else Debian's own /usr/bin/python3 ($AF_PYTHON3 overrides both).
# Every process is started on loopback, port 0, and stopped by PID.
set -u

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
builddir=${AF_BUILDDIR:-$srcdir}
authflowd=$builddir/authflowd
authprobe=$builddir/authprobe
config=$srcdir/tests/data/rs/authflowd-rs.json
judge=$srcdir/tests/fixtures/as_report.py
here=$srcdir/tests/corpus/rs-fastapi
truth=$srcdir/tests/data/truth/rs-fastapi.txt

af_need python3
af_debian_python "$here" "fastapi, jwt, uvicorn, cryptography"
af_built 1 FAIL "$authflowd" "$authprobe"
af_tmpdir af-corpus-rs-fastapi 1
af_procs="api_pid afd_pid"

af_authflowd_admin "$config" "$tmp/ready" "$tmp/authflowd.out" "$tmp/authflowd.err" || {
    echo "FAIL: authflowd did not start"
    cat "$tmp/authflowd.err"
    exit 1
}
case $admin in http://*) ;; *)
    echo "FAIL: authflowd wrote no admin URL to its ready file"
    exit 1
    ;;
esac

af_start api_pid fastapi "$py" "$here/app.py" --issuer "$issuer" || exit 1

"$authprobe" rs --suites-dir "$srcdir/conf/suites" --target "$here/profile.json" \
    --issuer "$issuer" --admin "$admin" --var "api=$url" \
    --report "json:$tmp/fastapi.json" >"$tmp/fastapi.log" 2>&1
rc=$?
af_stop api_pid

if [ $rc -gt 1 ]; then
    fail "authprobe could not run the suite (exit $rc)"
    sed 's/^/    /' "$tmp/fastapi.log"
elif ! python3 "$judge" expect "$tmp/fastapi.json" "$truth" 2>"$tmp/judge"; then
    fail "FastAPI + PyJWT: the probe's verdicts differ from the truth table $truth"
    sed 's/^/    /' "$tmp/judge"
else
    echo "PASS: FastAPI + PyJWT: the probe's verdicts equal the truth table"
fi

af_exit
