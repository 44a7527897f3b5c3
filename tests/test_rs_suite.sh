#!/bin/sh
# test_rs_suite.sh - the resource-server suite (conf/suites/rs.json) against
# two protected APIs, with tokens from authflowd's admin API.
#
# 1. An Express API whose token checks are all done by a JWT library nobody
#    on this project wrote: express-oauth2-jwt-bearer, installed from the
#    npm registry at the version pinned in tests/fixtures/rs-api/
#    package-lock.json (conf/targets/rs-express.json). The run must give
#    exactly tests/fixtures/rs-api/expected.txt; two documented variants of
#    the same API show the library's findings (docs/rs-fixtures.md):
#    without strict mode RS-09 fails, and with the library's claimIncludes
#    as the role check RS-19 fails (401 where 403 is due).
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
builddir=${AF_BUILDDIR:-$srcdir}
authflowd=$builddir/authflowd
authprobe=$builddir/authprobe
config=$srcdir/tests/data/rs/authflowd-rs.json
judge=$srcdir/tests/fixtures/as_report.py
flawed=$srcdir/tests/fixtures/flawed_api.py
flawed_expected=$srcdir/tests/data/rs/flawed-expected.txt
here=$srcdir/tests/fixtures/rs-api
work=$builddir/tests/fixtures/rs-api-run

for tool in node npm python3; do
    command -v $tool >/dev/null 2>&1 || { echo "SKIP: $tool is missing"; exit 77; }
done
for f in "$authflowd" "$authprobe"; do
    [ -x "$f" ] || { echo "FAIL: $f is not built"; exit 1; }
done

# Install (npm ci: exactly the lock file) unless this lock is installed.
mkdir -p "$work" || exit 1
if ! cmp -s "$here/package-lock.json" "$work/package-lock.json" ||
    [ ! -f "$work/node_modules/express-oauth2-jwt-bearer/package.json" ]; then
    cp "$here/package.json" "$here/package-lock.json" "$work/" || exit 1
    (cd "$work" && npm ci --no-audit --no-fund --loglevel=error) >"$work/npm.log" 2>&1 || {
        echo "FAIL: npm ci failed"
        cat "$work/npm.log"
        rm -f "$work/package-lock.json"
        exit 1
    }
fi
cp "$here/server.js" "$work/server.js" || exit 1

tmp=$(mktemp -d "${TMPDIR:-/tmp}/af-rs-suite.XXXXXX") || exit 1
as_pid=
api_pid=
# stop_pid PID: SIGTERM, then wait for it.
stop_pid() {
    if [ -n "$1" ]; then
        kill "$1" 2>/dev/null
        wait "$1" 2>/dev/null
    fi
}
stop_api() {
    stop_pid "$api_pid"
    api_pid=
}
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    stop_api
    stop_pid "$as_pid"
    as_pid=
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# wait_url FILE PID WHAT: wait (15 s at most) for an http:// URL on the
# first line of FILE while PID lives; sets $url.
wait_url() {
    i=0
    while [ $i -lt 300 ]; do
        url=$(head -n 1 "$1" 2>/dev/null)
        case $url in http://*) return 0 ;; esac
        kill -0 "$2" 2>/dev/null || break
        sleep 0.05
        i=$((i + 1))
    done
    echo "FAIL: $3 did not start"
    return 1
}

# One authflowd for the whole test: the APIs come and go, the issuer and
# its key stay (the admin API mints every token the suite sends).
"$authflowd" --config "$config" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
    --ready-file "$tmp/ready" >"$tmp/authflowd.out" 2>"$tmp/authflowd.err" </dev/null &
as_pid=$!
wait_url "$tmp/authflowd.out" "$as_pid" authflowd || {
    cat "$tmp/authflowd.err"
    exit 1
}
i=0
while [ $i -lt 100 ] && [ "$(sed -n 2p "$tmp/ready" 2>/dev/null)" = "" ]; do
    sleep 0.05
    i=$((i + 1))
done
issuer=$(sed -n 1p "$tmp/ready")
admin=$(sed -n 2p "$tmp/ready")
case $admin in http://*) ;; *)
    echo "FAIL: authflowd wrote no admin URL to its ready file"
    exit 1
    ;;
esac

# start_api NAME CMD...: run an API in the background; sets $url.
start_api() {
    name=$1
    shift
    "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" </dev/null &
    api_pid=$!
    wait_url "$tmp/$name.out" "$api_pid" "$name" || {
        cat "$tmp/$name.err"
        api_pid=
        return 1
    }
}
start_express() {
    name=$1
    shift
    (cd "$work" && exec node server.js --issuer "$issuer" "$@") >"$tmp/$name.out" \
        2>"$tmp/$name.err" </dev/null &
    api_pid=$!
    wait_url "$tmp/$name.out" "$api_pid" "$name" || {
        cat "$tmp/$name.err"
        api_pid=
        return 1
    }
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

failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
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
        claim-includes) args="--role-check claim-includes" changes=RS-19:fail ;;
        esac
        # shellcheck disable=SC2086 # $args is a list of options
        start_express "express-$variant" $args || {
            fail "express ($variant) did not start"
            continue
        }
        probe "express-$variant" "$srcdir/conf/targets/rs-express.json"
        stop_api
        # shellcheck disable=SC2086 # $changes is a list of ID:RESULT words
        expect_with "$here/expected.txt" "$tmp/express-$variant.expected" $changes || exit 1
        judge "express-$variant" "$tmp/express-$variant.expected" \
            "express-oauth2-jwt-bearer ($variant) gives the recorded results"
    done

    # 2. The flawed API without a flaw.
    if start_api flawed-none python3 "$flawed" --issuer "$issuer"; then
        probe flawed-none "$srcdir/conf/targets/rs-flawed.json"
        stop_api
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
    stop_api
    # shellcheck disable=SC2086 # $changes is a list of ID:RESULT words
    expect_with "$flawed_expected" "$tmp/flawed-$flaw.expected" $changes || exit 1
    judge "flawed-$flaw" "$tmp/flawed-$flaw.expected" "--flaw $flaw changes exactly:$changes"
done

if [ $failures -ne 0 ]; then
    echo "$failures failed"
    exit 1
fi
exit 0
