#!/bin/sh
# test_rs_suite.sh - the resource-server suite (conf/suites/rs.json) against
# two protected APIs, with tokens from authflowd's admin API.
#
# 1. An Express API whose token checks are all done by a JWT library nobody
#    on this project wrote: express-oauth2-jwt-bearer, installed from the
#    npm registry at the version pinned in tests/fixtures/rs-api/
#    package-lock.json (conf/targets/rs-express.json). The run must give
#    exactly its truth table, tests/data/truth/rs-express.txt (every verdict
#    established by hand, with its reason); two documented variants of
#    the same API show the library's findings (docs/rs-fixtures.md):
#    without strict mode RS-09 fails, and with the library's claimIncludes
#    as the role check RS-19 warns (401 where RFC 6750 §3.1 says SHOULD 403).
# 2. tests/fixtures/flawed_api.py (conf/targets/rs-flawed.json): without a
#    flaw it gives exactly tests/data/rs/flawed-expected.txt (every check
#    passes or is skipped); each --flaw changes exactly the results its
#    table names (flawed_api.py --list) and nothing else; and the five
#    flaws of the issue together change exactly the union of theirs.
#
# Run by `make check` (AF_SRCDIR and AF_BUILDDIR set); by hand from the
# build tree: AF_SRCDIR=/path/to/src sh tests/test_rs_suite.sh [FLAW...]
# (with FLAW names only those flaws run). The npm install goes to the build
# tree (tests/fixtures/rs-api-run/, never committed) and is reused while the
# lock file is unchanged. Exit 77 (skip) when node, npm or python3 is
# missing. Every process is started on loopback, port 0, and stopped by PID.
set -u

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
builddir=${AF_BUILDDIR:-$srcdir}
authflowd=$builddir/authflowd
authprobe=$builddir/authprobe
config=$srcdir/tests/data/rs/authflowd-rs.json
judge=$srcdir/tests/fixtures/as_report.py
flawed=$srcdir/tests/fixtures/flawed_api.py
flawed_expected=$srcdir/tests/data/rs/flawed-expected.txt
here=$srcdir/tests/fixtures/rs-api
work=$builddir/tests/fixtures/rs-api-run

af_need node npm python3
af_built 1 FAIL "$authflowd" "$authprobe"
af_npm_ci "$here" "$work" express-oauth2-jwt-bearer 1 FAIL
af_tmpdir af-rs-suite 1
af_procs="api_pid afd_pid"

# One authflowd for the whole test: the APIs come and go, the issuer and
# its key stay (the admin API mints every token the suite sends).
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

# start_api NAME CMD...: run an API in the background and wait for the URL
# on its first stdout line; sets $url.
start_api() {
    af_start api_pid "$@"
}
# start_express NAME ARGS...: the Express API of the build tree's install.
start_express() {
    name=$1
    shift
    start_api "$name" node "$work/server.js" --issuer "$issuer" "$@"
}

# probe NAME PROFILE: run the rs suite against $url; report in
# $tmp/NAME.json, text output in $tmp/NAME.log; sets $rc.
probe() {
    "$authprobe" rs --suites-dir "$srcdir/conf/suites" --target "$2" --issuer "$issuer" \
        --admin "$admin" --var "api=$url" \
        --report "json:$tmp/$1.json" >"$tmp/$1.log" 2>&1
    rc=$?
}

# expect_with BASE OUT ID:RESULT...: OUT is the BASE expectation file with
# the given results replaced.
expect_with() {
    base=$1 out=$2
    shift 2
    python3 - "$base" "$out" "$@" <<'EOF'
import sys
base, out, changes = sys.argv[1], sys.argv[2], sys.argv[3:]
lines = []
with open(base, encoding="utf-8") as f:
    for line in f:
        line = line.split("#", 1)[0].strip()
        if line:
            lines.append(line.split())
want = {cid: res for cid, res in lines}
for ch in changes:
    cid, res = ch.split(":")
    if cid not in want:
        sys.exit("expect_with: %s is not in %s" % (cid, base))
    want[cid] = res
with open(out, "w", encoding="utf-8") as f:
    for cid, _ in lines:
        f.write("%s %s\n" % (cid, want[cid]))
EOF
}

# judge NAME EXPECTED WHAT: the report of run NAME equals EXPECTED.
judge() {
    if [ $rc -gt 1 ]; then
        fail "$3: authprobe could not run the suite (exit $rc)"
        sed 's/^/    /' "$tmp/$1.log"
    elif ! python3 "$judge" expect "$tmp/$1.json" "$2" 2>"$tmp/$1.judge"; then
        fail "$3: the results differ from the expected ones"
        sed 's/^/    /' "$tmp/$1.judge" "$tmp/$1.log"
    else
        echo "PASS: $3"
    fi
}

if [ $# -eq 0 ]; then
    # 1. express-oauth2-jwt-bearer: the recorded results, then the two
    #    documented variants (each changes exactly one check).
    for variant in default no-strict claim-includes; do
        case $variant in
        default) args='' changes='' ;;
        no-strict) args=--no-strict changes=RS-09:fail ;;
        claim-includes) args="--role-check claim-includes" changes=RS-19:warn ;;
        esac
        # shellcheck disable=SC2086 # $args is a list of options
        start_express "express-$variant" $args || {
            fail "express ($variant) did not start"
            continue
        }
        probe "express-$variant" "$srcdir/conf/targets/rs-express.json"
        af_stop api_pid
        # shellcheck disable=SC2086 # $changes is a list of ID:RESULT words
        expect_with "$srcdir/tests/data/truth/rs-express.txt" "$tmp/express-$variant.expected" \
            $changes || exit 1
        judge "express-$variant" "$tmp/express-$variant.expected" \
            "express-oauth2-jwt-bearer ($variant) gives the recorded results"
    done

    # 2. The flawed API without a flaw.
    if start_api flawed-none python3 "$flawed" --issuer "$issuer"; then
        probe flawed-none "$srcdir/conf/targets/rs-flawed.json"
        af_stop api_pid
        judge flawed-none "$flawed_expected" "the flawed API without a flaw passes"
    else
        fail "the flawed API did not start"
    fi
    # shellcheck disable=SC2046 # one flaw name per word
    set -- $(python3 "$flawed" --list | cut -d' ' -f1) issue
fi

# 3. Each flaw changes exactly its checks. "issue" is the five flaws of the
#    issue at once: expired tokens, no audience check, 200 without a token,
#    500 on garbage, 401 where 403 is due.
issue_flaws="accept-expired skip-audience no-token-200 garbage-500 401-not-403"
for flaw in "$@"; do
    if [ "$flaw" = issue ]; then
        names=$issue_flaws
    else
        names=$flaw
    fi
    args='' changes=''
    for n in $names; do
        line=$(python3 "$flawed" --list | awk -v n="$n" '$1 == n')
        [ -n "$line" ] || {
            fail "$n: no such flaw (flawed_api.py --list)"
            continue 2
        }
        args="$args --flaw $n"
        changes="$changes ${line#* }"
    done
    # shellcheck disable=SC2086 # $args is a list of options
    start_api "flawed-$flaw" python3 "$flawed" --issuer "$issuer" $args || {
        fail "$flaw: the flawed API did not start"
        continue
    }
    probe "flawed-$flaw" "$srcdir/conf/targets/rs-flawed.json"
    af_stop api_pid
    # shellcheck disable=SC2086 # $changes is a list of ID:RESULT words
    expect_with "$flawed_expected" "$tmp/flawed-$flaw.expected" $changes || exit 1
    judge "flawed-$flaw" "$tmp/flawed-$flaw.expected" "--flaw $flaw changes exactly:$changes"
done

af_exit
