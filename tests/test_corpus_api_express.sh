#!/bin/sh
# test_corpus_api_express.sh - truth corpus (issue 11): the own-token API
# suite (conf/suites/api.json, docs/api-suite.md) against an API nobody on
# this project wrote the checks of: Express with its own JSON login,
# jsonwebtoken for the access tokens and bcryptjs for the passwords, from
# the npm registry at the versions pinned in
# tests/corpus/api-express/package-lock.json, written in
# tests/corpus/api-express/server.js the way the jsonwebtoken README and the
# common Express tutorials do it.
#
# The correct variant must give exactly the verdicts of
# tests/data/truth/api-express.txt, and each --flaw NAME of server.js
# exactly those verdicts changed as its line of
# tests/data/truth/api-express-flaws.txt says. Both were established by
# hand (curl, tokens forged by tests/corpus/api-express/forge.js with
# node's crypto, jsonwebtoken's verify.js), not copied from the probe:
# where they differ, the probe is wrong.
#
#   sh tests/test_corpus_api_express.sh [correct|FLAW...]
#
# Run by `make check` (AF_SRCDIR and AF_BUILDDIR set); by hand from the
# build tree: AF_SRCDIR=/path/to/src sh tests/test_corpus_api_express.sh.
# The packages are installed with npm ci into the build tree
# ($builddir/tests/corpus/api-express-run), never the source tree; exit 77
# (skip) without node or npm. The API and its dependency (dependency.js,
# which the profile's health.down/up stop and continue by $DEP_PID) run on
# loopback, port 0, and are stopped by PID. AF_KEEP_TMP=1 keeps the
# reports and logs.
set -u

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
builddir=${AF_BUILDDIR:-$srcdir}
authprobe=$builddir/authprobe
judge=$srcdir/tests/fixtures/as_report.py
here=$srcdir/tests/corpus/api-express
truth=$srcdir/tests/data/truth/api-express.txt
flaws=$srcdir/tests/data/truth/api-express-flaws.txt
# node_modules lives in the build tree, never in the source tree.
appdir=$builddir/tests/corpus/api-express-run
# The access token's lifetime: short, so that API-30 waits for it (the
# profile's auth.token_lifetime says the same).
lifetime=5

af_need python3 node npm
af_built 1 FAIL "$authprobe"
af_tmpdir af-corpus-api-express 1
af_procs="api_pid dep_pid"

# A dependency left stopped by a run cut short would never see SIGTERM:
# continue it before the cleanup stops it.
# shellcheck disable=SC2317 # called by the trap
api_cleanup() {
    [ -n "${dep_pid:-}" ] && kill -CONT "$dep_pid" 2>/dev/null
    af_cleanup
}
trap api_cleanup EXIT

af_npm_ci "$here" "$appdir" jsonwebtoken 1 FAIL "the api-express packages"
# bcryptjs 3 exports no ./package.json: read the files, not require().
versions=$(cd "$appdir" && node -p '["express", "jsonwebtoken", "bcryptjs"].map((p) => p + " " +
    JSON.parse(require("fs").readFileSync("node_modules/" + p + "/package.json")).version).join(", ")')
echo "api-express: $versions; node $(node --version)"

af_start dep_pid dependency node "$here/dependency.js" || exit 1
dep_url=$url
DEP_PID=$dep_pid
export DEP_PID

# run NAME [FLAW]: start the API (with --flaw FLAW), run the suite on it
# into $tmp/NAME.json, stop the API; rc is authprobe's exit (99: the API
# did not start).
run() {
    _name=$1
    shift
    set -- node "$appdir/server.js" --dependency "$dep_url" --token-lifetime "$lifetime" \
        ${1:+--flaw "$1"}
    if ! af_start api_pid "$_name" "$@" >"$tmp/$_name.log" 2>&1; then
        rc=99
        return
    fi
    # shellcheck disable=SC2086 # $extra is a list of options
    "$authprobe" api --suites-dir "$srcdir/conf/suites" --target "$here/profile.json" \
        --var "api=$url" --report "json:$tmp/$_name.json" $extra >"$tmp/$_name.log" 2>&1
    rc=$?
    af_stop api_pid
    kill -CONT "$dep_pid" 2>/dev/null
}

# show NAME: the probe's log, its verdicts and the API's stderr.
show() {
    sed 's/^/    /' "$tmp/$1.log"
    [ -f "$tmp/$1.json" ] && python3 "$judge" summary "$tmp/$1.json" | sed 's/^/    /'
    [ -s "$tmp/$1.err" ] && { echo "    --- $1.err"; tail -n 20 "$tmp/$1.err" | sed 's/^/    /'; }
}

passes=0
# judge NAME EXPECTED WHAT: the report of run NAME equals EXPECTED.
judge() {
    if [ "$rc" -eq 99 ]; then
        fail "$3: the API did not start"
        show "$1"
    elif [ "$rc" -gt 1 ]; then
        fail "$3: authprobe could not run the suite (exit $rc)"
        show "$1"
    elif ! python3 "$judge" expect "$tmp/$1.json" "$2" 2>"$tmp/$1.judge"; then
        fail "$3: the probe's verdicts differ from $(basename "$2")"
        sed 's/^/    /' "$tmp/$1.judge"
    else
        echo "PASS: $3"
        passes=$((passes + 1))
    fi
}

# expected_for FLAW [ID]: the truth table with FLAW's changes, ID left out
# (tests/lib.sh), to $tmp/FLAW.expected.
expected_for() {
    af_expected_with_flaw "$truth" "$flaws" "$1" "$tmp/$1.expected" ${2:+"$2"}
}

# changes FLAW: its ID=RESULT words.
changes() {
    af_flaw_changes "$flaws" "$1"
}

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

for what in "$@"; do
    case $what in
    correct)
        extra=
        run correct
        judge correct "$truth" "api-express: the probe's verdicts equal the truth table"
        ;;
    *)
        # API-30 waits for a token to expire: only where the flaw is about it
        # (else it is left out, and expected as not selected)
        extra="--skip API-30" left_out=API-30
        case " $(changes "$what") " in *" API-30="*) extra='' left_out='' ;; esac
        if ! expected_for "$what" "$left_out"; then
            fail "--flaw $what: no expectation"
            continue
        fi
        run "flaw-$what" "$what"
        judge "flaw-$what" "$tmp/$what.expected" "api-express --flaw $what is reported as $(changes "$what")"
        ;;
    esac
done

echo "api-express: $passes passed, $failures failed"
af_exit
