#!/bin/sh
# test_corpus_api_fastapi.sh - truth corpus (issue 11): the own-token API
# suite (`authprobe api`, docs/api-suite.md) against an API that logs its
# users in and issues its own JWTs, on libraries nobody on this project
# wrote: FastAPI, PyJWT and passlib from Debian 12's packages
# (tests/corpus/api-fastapi/debian-packages), glued in
# tests/corpus/api-fastapi/app.py the way FastAPI's tutorial does it.
#
# The correct variant must give exactly the verdicts of
# tests/data/truth/api-fastapi.txt, and each --flaw of
# tests/data/truth/api-fastapi-flaws.txt exactly those verdicts with its
# changes. Both were established by hand (curl, and tokens forged by
# tests/corpus/api-fastapi/forge.py), not copied from the probe: where they
# differ, the probe is wrong.
#
# Run by `make check` (AF_SRCDIR and AF_BUILDDIR set); by hand from the
# build tree: AF_SRCDIR=/path/to/src sh tests/test_corpus_api_fastapi.sh
# [correct] [FLAW...] (all of them by default). The Debian packages are
# installed by bootstrap.sh, not here: exit 77 (skip), naming them, when one
# is missing. The API's health dependency (tests/fixtures/api_dependency.py)
# runs beside it; the profile's health.down/up stop and resume it by the PID
# in $DEP_PID. Every process is started on loopback, port 0, and stopped by
# PID. AF_KEEP_TMP=1 keeps the reports and logs.
set -u

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
builddir=${AF_BUILDDIR:-$srcdir}
authprobe=$builddir/authprobe
judge=$srcdir/tests/fixtures/as_report.py
here=$srcdir/tests/corpus/api-fastapi
truth=$srcdir/tests/data/truth/api-fastapi.txt
flaws=$srcdir/tests/data/truth/api-fastapi-flaws.txt
what=FastAPI

af_need python3
af_debian_python "$here" "fastapi, jwt, uvicorn, multipart, passlib, bcrypt, cryptography"
af_built 1 FAIL "$authprobe"
af_tmpdir af-corpus-api-fastapi 1
af_procs="api_pid dep_pid"
dep_pid=""

# A dependency left stopped by a run cut short would never see SIGTERM:
# continue it before the cleanup stops it.
# shellcheck disable=SC2317 # called by the trap
api_cleanup() {
    [ -n "$dep_pid" ] && kill -CONT "$dep_pid" 2>/dev/null
    af_cleanup
}
trap api_cleanup EXIT

# expected_for FLAW [ID]: the truth table with FLAW's changes, ID left out
# (tests/lib.sh), to $tmp/FLAW.expected.
expected_for() {
    af_expected_with_flaw "$truth" "$flaws" "$1" "$tmp/$1.expected" ${2:+"$2"}
}

# run NAME EXPECTED [--flaw FLAW]: the app (with the flaw), the suite
# against it, the report judged against EXPECTED.
run() {
    _name=$1 _expected=$2
    shift 2
    af_start api_pid "$_name" "$py" "$here/app.py" --dependency "$dep_url" \
        --token-lifetime 8 "$@" || { fail "$what $_name: the app did not start"; return; }
    # shellcheck disable=SC2086 # $extra is a list of options
    "$authprobe" api --suites-dir "$srcdir/conf/suites" --target "$here/profile.json" \
        --var "api=$url" --report "json:$tmp/$_name.json" $extra >"$tmp/$_name.log" 2>&1
    _rc=$?
    af_stop api_pid
    kill -CONT "$DEP_PID" 2>/dev/null # whatever health.down left behind
    if [ $_rc -gt 1 ]; then
        fail "$what $_name: authprobe could not run the suite (exit $_rc)"
        sed 's/^/    /' "$tmp/$_name.log"
    elif ! python3 "$judge" expect "$tmp/$_name.json" "$_expected" 2>"$tmp/$_name.judge"; then
        fail "$what $_name: the probe's verdicts differ from $(basename "$_expected")"
        sed 's/^/    /' "$tmp/$_name.judge"
    else
        echo "PASS: $what $_name: the probe's verdicts equal the truth table"
    fi
}

af_start dep_pid dependency "$py" "$srcdir/tests/fixtures/api_dependency.py" || exit 1
dep_url=$url
DEP_PID=$dep_pid
export DEP_PID

if [ $# -eq 0 ]; then
    # shellcheck disable=SC2046 # one flaw name per word
    set -- correct $(sed -n 's/^\([a-z0-9][a-z0-9-]*\)[[:space:]].*/\1/p' "$flaws" | uniq)
    # Under the sanitizers (the second pass of .ci/run) the probe's code is
    # what is checked: the correct variant and three flaws are enough, every
    # flaw's verdicts having been judged in the first pass.
    if [ -n "${ASAN_OPTIONS:-}" ]; then
        _f1=$2 _f2=$3 _f3=$4
        set -- correct "$_f1" "$_f2" "$_f3"
    fi
fi
# changes FLAW: its ID=RESULT words.
changes() {
    af_flaw_changes "$flaws" "$1"
}

# left_out FLAW: API-30 waits for a token to expire, so it runs only where
# the flaw is about it; else it is left out (and expected as not selected).
left_out() {
    case " $(changes "$1") " in *" API-30="*) ;; *) echo API-30 ;; esac
}

for flaw in "$@"; do
    extra=
    if [ "$flaw" = correct ]; then
        run correct "$truth"
    elif expected_for "$flaw" "$(left_out "$flaw")"; then
        [ -n "$(left_out "$flaw")" ] && extra="--skip API-30"
        run "flaw-$flaw" "$tmp/$flaw.expected" --flaw "$flaw"
    else
        fail "--flaw $flaw: no expectation"
    fi
done

af_exit
