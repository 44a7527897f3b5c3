#!/bin/sh
# test_rp_suite.sh - the relying-party suite (`authprobe rp`, conf/suites/rp.json)
# against two apps that log in with authflowd:
#
# 1. tests/fixtures/rp-app: Express + express-openid-connect (over
#    openid-client) + jose, libraries nobody on this project wrote,
#    installed from the npm registry at the versions pinned in its
#    package-lock.json. Its results must be exactly the truth table
#    tests/data/truth/rp-express.txt, established by hand (curl, the ledger,
#    the libraries' source), not from the probe's output: a difference is
#    a bug of the probe or of the table (docs/rp-example.md).
# 2. tests/fixtures/flawed_app.py without a flaw: exactly
#    tests/data/rp/flawed-app.expected (every MUST check passes).
# 3. flawed_app.py with each --flaw of tests/data/rp/flaws.txt: exactly the
#    baseline of 2. with the changes that line lists, so each flaw is shown
#    to be reported by the checks that name it, and by no other.
#
# Each run starts the app first, on 127.0.0.1 port 0 (its first stdout line
# is its URL), writes an authflowd config (tests/data/rp/authflowd.json)
# whose client redirect URI is that URL, then starts authflowd on port 0
# with the admin API on (--ready-file: issuer, admin URL); the apps read the
# issuer from that file at their first request. Every process is stopped by
# PID.
#
# Run by `make check` (AF_SRCDIR and AF_BUILDDIR set); by hand from the build
# tree: AF_SRCDIR=/path/to/src sh tests/test_rp_suite.sh [express|baseline|FLAW...].
# Exit 0 pass, 1 fail, 77 skip (only when node or npm is missing: then the
# flawed-app part still runs and must pass), 99 hard error. AF_KEEP_TMP=1
# keeps the reports, configs and logs (the folder is printed at the end).
set -u

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
builddir=${AF_BUILDDIR:-$srcdir}
authflowd=$builddir/authflowd
authprobe=$builddir/authprobe
data=$srcdir/tests/data/rp
judge=$srcdir/tests/fixtures/as_report.py
flawed=$srcdir/tests/fixtures/flawed_app.py
appsrc=$srcdir/tests/fixtures/rp-app
# node_modules lives in the build tree, never in the source tree (the
# interop *-run folders are ignored by git for an in-tree build).
appdir=$builddir/tests/interop/rp-app-run

af_built 99 ERROR "$authflowd" "$authprobe"
command -v python3 >/dev/null 2>&1 || { echo "ERROR: python3 is needed (flawed_app.py, the report judge)"; exit 99; }
have_node=yes
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    have_node=no
fi

af_tmpdir af-rp-suite 99
af_procs="afd_pid app_pid"
stop() { af_stop afd_pid app_pid; }

# One RSA key for every authflowd this test starts (else each start makes
# one); without the openssl tool each server generates its own.
keyfile=
if command -v openssl >/dev/null 2>&1 &&
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/rs256.pem" 2>/dev/null; then
    keyfile=$tmp/rs256.pem
fi

# run NAME PROFILE CMD...: start the app (CMD plus --issuer-file), then
# authflowd for it, then `authprobe rp`; the JSON report goes to
# $tmp/NAME.json, the output to $tmp/NAME.log; sets $rc (authprobe's exit
# code, 99 when something did not start).
run() {
    name=$1 profile=$2
    shift 2
    rc=99
    ready=$tmp/$name.ready
    "$@" --issuer-file "$ready" >"$tmp/$name.app.out" 2>"$tmp/$name.app.err" </dev/null &
    app_pid=$!
    if ! af_wait_url "$tmp/$name.app.out" "$app_pid" 300 0.05; then
        echo "ERROR: $name: the app did not start" >"$tmp/$name.log"
        cat "$tmp/$name.app.err" >>"$tmp/$name.log"
        stop
        return
    fi
    app=$url
    python3 - "$data/authflowd.json" "$tmp/$name.authflowd.json" "$app" "$keyfile" <<'EOF' || { stop; return; }
import json, sys
src, out, app, key = sys.argv[1:5]
with open(src, encoding="utf-8") as f:
    cfg = json.load(f)
old = "http://127.0.0.1:8080"
for c in cfg["clients"]:
    for k in ("redirect_uris", "post_logout_redirect_uris"):
        c[k] = [u.replace(old, app) for u in c.get(k, [])]
if key:
    for k in cfg["keys"]:
        if k["alg"] == "RS256":
            k["pem_file"] = key
with open(out, "w", encoding="utf-8") as f:
    json.dump(cfg, f, indent=2)
EOF
    if ! af_authflowd_admin "$tmp/$name.authflowd.json" "$ready" "$tmp/$name.afd.out" "$tmp/$name.afd.err"; then
        echo "ERROR: $name: authflowd did not start" >"$tmp/$name.log"
        cat "$tmp/$name.afd.err" >>"$tmp/$name.log"
        stop
        return
    fi
    "$authprobe" rp --suites-dir "$srcdir/conf/suites" --app "$profile" \
        --authflowd "$issuer" --admin "$admin" \
        --var "app=$app" --report "json:$tmp/$name.json" >"$tmp/$name.log" 2>&1
    rc=$?
    stop
}

passes=0
show() {
    sed 's/^/    /' "$tmp/$1.log"
    [ -f "$tmp/$1.json" ] && python3 "$judge" summary "$tmp/$1.json" | sed 's/^/    /'
    for f in "$tmp/$1.app.err" "$tmp/$1.afd.err"; do
        [ -s "$f" ] && { echo "    --- $(basename "$f")"; tail -n 20 "$f" | sed 's/^/    /'; }
    done
}

# judge NAME EXPECTED WHAT: the report of run NAME equals EXPECTED.
judge() {
    name=$1 expected=$2 what=$3
    if [ "$rc" -eq 99 ]; then
        fail "$what: could not run"
        show "$name"
    elif [ "$rc" -gt 1 ]; then
        fail "$what: authprobe exit $rc"
        show "$name"
    elif ! python3 "$judge" expect "$tmp/$name.json" "$expected"; then
        fail "$what: the results differ from $(basename "$expected")"
        show "$name"
    else
        echo "PASS: $what"
        passes=$((passes + 1))
    fi
}

# expected_for FLAW: the baseline with FLAW's changes (tests/lib.sh).
expected_for() {
    af_expected_with_flaw "$data/flawed-app.expected" "$data/flaws.txt" "$1" "$tmp/$1.expected"
}

# description FLAW: the comment of FLAW's first line in flaws.txt; changes
# FLAW: its ID=RESULT words (a flaw may take several lines).
description() {
    sed -n "s/^${1}[[:space:]].*#[[:space:]]*//p" "$data/flaws.txt" | head -n 1
}
changes() {
    af_flaw_changes "$data/flaws.txt" "$1"
}

if [ $# -eq 0 ]; then
    # shellcheck disable=SC2046 # one flaw name per word
    set -- express baseline $(sed -n 's/^\([a-z][a-z0-9,-]*\)[[:space:]].*/\1/p' "$data/flaws.txt" | uniq)
fi

skipped_express=no
for what in "$@"; do
    case $what in
    express)
        if [ $have_node = no ]; then
            echo "SKIP: node and npm are needed for the express-openid-connect app"
            skipped_express=yes
            continue
        fi
        # express-openid-connect 3 loads ES modules with require():
        # node 20.19 or later (package.json "engines").
        if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number);
                process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
            echo "ERROR: node $(node --version) is too old for the rp-app: 20.19 or later is needed"
            exit 99
        fi
        # Install exactly the lock file (npm ci), once per lock file.
        af_npm_ci "$appsrc" "$appdir" express-openid-connect 99 ERROR "the rp-app packages"
        versions=$(cd "$appdir" && node -p '["express", "express-openid-connect", "openid-client", "jose"]
            .map((p) => p + " " + require(p + "/package.json").version).join(", ")')
        echo "rp-app: $versions; node $(node --version)"
        run express "$srcdir/conf/apps/express-app.json" \
            node "$appdir/server.js" --client-id rp-app --client-secret rp-app-secret
        judge express "$srcdir/tests/data/truth/rp-express.txt" \
            "express-openid-connect app gives the verdicts of its truth table rp-express.txt"
        ;;
    baseline)
        run baseline "$srcdir/conf/apps/flawed-app.json" \
            python3 "$flawed" --client-id rp-app --client-secret rp-app-secret
        judge baseline "$data/flawed-app.expected" "flawed_app.py without a flaw passes"
        if [ "$rc" -ne 0 ] && [ "$rc" -ne 99 ]; then
            fail "flawed_app.py without a flaw: authprobe exit $rc, expected 0"
        fi
        ;;
    *)
        if ! expected_for "$what"; then
            fail "--flaw $what: no expectation"
            continue
        fi
        run "flaw-$what" "$srcdir/conf/apps/flawed-app.json" \
            python3 "$flawed" --client-id rp-app --client-secret rp-app-secret --flaw "$what"
        judge "flaw-$what" "$tmp/$what.expected" \
            "--flaw $what ($(description "$what")) is reported as $(changes "$what")"
        ;;
    esac
done

echo "rp-suite: $passes passed, $failures failed"
[ $failures -eq 0 ] || exit 1
[ $skipped_express = yes ] && exit 77
exit 0
