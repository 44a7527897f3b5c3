#!/bin/sh
# test_corpus_rp_tiktok_app.sh - truth corpus (issues 9 and 16): `authprobe
# rp` against tiktok-app, a "Login with TikTok" app built on Express,
# express-session, passport and passport-tiktok-auth from the npm registry
# (tests/corpus/rp-tiktok-app/package-lock.json), logging in through
# authflowd's TikTok persona, served as the element of "issuers" at /tiktok
# (docs/personas.md, docs/issuers.md). The app is pointed at the persona by
# base URL only, as at TikTok's hosts.
#
# The probe finds the persona's endpoints and that TikTok issues no ID
# token and sends no iss in authflowd's metadata (authflow_persona), so the
# profile says nothing of either. The report must equal
# tests/data/truth/rp-tiktok-app.txt, the verdicts established by hand
# (curl, the ledger, the app's stderr, the libraries' source), not copied
# from the probe.
#
# passport-tiktok-auth ends the app's process on a token error answer (the
# truth of RP-11), on a 5xx (RP-11b) and on a token answer that is not JSON
# (RP-11c), so the suite runs in four parts: every check but those three,
# then each alone, after which the app must have died with the library's
# SyntaxError on its stderr: the independent evidence of those verdicts.
# Before each of the last two the app is started again on its port (the
# redirect URI authflowd knows).
# Every process is stopped by PID.
#
# Run by `make check` (AF_SRCDIR and AF_BUILDDIR set); by hand from the build
# tree: AF_SRCDIR=/path/to/src sh tests/test_corpus_rp_tiktok_app.sh.
# Exit 0 pass, 1 fail, 77 skip (node or npm missing), 99 hard error.
# AF_KEEP_TMP=1 keeps the reports, configs and logs.
set -u

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
builddir=${AF_BUILDDIR:-$srcdir}
authflowd=$builddir/authflowd
authprobe=$builddir/authprobe
appsrc=$srcdir/tests/corpus/rp-tiktok-app
truth=$srcdir/tests/data/truth/rp-tiktok-app.txt
judge=$srcdir/tests/fixtures/as_report.py
# node_modules lives in the build tree, never in the source tree.
appdir=$builddir/tests/corpus/rp-tiktok-app-run

af_built 99 ERROR "$authflowd" "$authprobe"
command -v python3 >/dev/null 2>&1 || { echo "ERROR: python3 is needed (the config, the report judge)"; exit 99; }
af_need node npm

af_tmpdir af-corpus-rp-tiktok 99
af_procs="afd_pid app_pid"

af_npm_ci "$appsrc" "$appdir" passport-tiktok-auth 99 ERROR "the rp-tiktok-app packages"
versions=$(cd "$appdir" && node -p '["express", "express-session", "passport", "passport-tiktok-auth",
    "passport-oauth2", "oauth"].map((p) => p + " " + require(p + "/package.json").version).join(", ")')
echo "rp-tiktok-app: $versions; node $(node --version)"

provider=$tmp/provider # the TikTok stand-in's base URL, once authflowd is up
# start_app [LISTEN]: the app in the background ($app_pid), stderr to a
# fresh $tmp/app.err; sets $url. Status 1 when it did not start.
start_app() {
    : >"$tmp/app.out"
    NODE_PATH=$appdir/node_modules node "$appsrc/server.js" --client-key tt-app --client-secret tt-secret \
        --provider-file "$provider" ${1:+--listen "$1"} >"$tmp/app.out" 2>"$tmp/app.err" </dev/null &
    app_pid=$!
    af_wait_url "$tmp/app.out" "$app_pid" 300 0.05
}
if ! start_app; then
    echo "ERROR: the app did not start"
    cat "$tmp/app.err"
    exit 99
fi
app=$url

# The persona at /tiktok; the top level has no clients. The scopes are the
# ones the strategy's profile fields need (server.js).
cat >"$tmp/authflowd.json" <<EOF || exit 99
{
  "admin": {"enabled": true},
  "issuers": [{
    "path": "/tiktok",
    "persona": "tiktok",
    "keys": [{"alg": "ES256"}],
    "clients": [{"client_id": "tt-app", "client_secret": "tt-secret",
                 "redirect_uris": ["$app/auth/tiktok/callback"],
                 "scope": "user.info.basic user.info.profile user.info.stats"}],
    "users": [{"sub": "u-alice", "username": "alice", "claims": {"name": "Alice Example"}}]
  }]
}
EOF
if ! af_authflowd_admin "$tmp/authflowd.json" "$tmp/afd.ready" "$tmp/afd.out" "$tmp/afd.err"; then
    echo "ERROR: authflowd did not start"
    cat "$tmp/afd.err"
    exit 99
fi
echo "$issuer/tiktok" >"$provider"

# probe NAME ARGS...: the suite against the app, report $tmp/NAME.json; sets $rc.
probe() {
    _name=$1
    shift
    "$authprobe" rp --suites-dir "$srcdir/conf/suites" --app "$appsrc/profile.json" \
        --authflowd "$issuer/tiktok" --admin "$admin/tiktok" --var "app=$app" \
        --report "json:$tmp/$_name.json" "$@" >"$tmp/$_name.log" 2>&1
    rc=$?
}

show() {
    sed 's/^/    /' "$tmp/$1.log"
    for f in "$tmp/app.err" "$tmp/afd.err"; do
        [ -s "$f" ] && { echo "    --- $(basename "$f")"; tail -n 20 "$f" | sed 's/^/    /'; }
    done
}

# The checks whose scenario ends the app; each runs alone. A pattern that
# is the bare id would also select RP-11b, RP-11c and RP-11d (an id prefix
# not followed by a digit, docs/probe.md): RP-11 alone is the glob RP-1[1].
crashers="RP-11 RP-11b RP-11c"
pattern() { case $1 in RP-11) echo 'RP-1[1]' ;; *) echo "$1" ;; esac; }

# want OUT ONLY|-: the truth table's verdicts, with every check but ONLY
# (or, for -, only the crashers) left out of the run: expected as skip.
want() {
    python3 - "$truth" "$1" "$2" "$crashers" <<'EOF'
import sys
truth, out, only, crashers = sys.argv[1:5]
with open(truth, encoding="utf-8") as f, open(out, "w", encoding="utf-8") as o:
    for line in f:
        words = line.split("#", 1)[0].split()
        if len(words) != 2:
            continue
        cid, result = words
        left_out = cid != only if only != "-" else cid in crashers.split()
        o.write("%s %s\n" % (cid, "skip" if left_out else result))
EOF
}

# 1. Every check but the crashers.
probe all --skip "$(pattern RP-11),RP-11b,RP-11c"
want "$tmp/all.want" - || exit 99
if [ "$rc" -gt 1 ] || [ ! -f "$tmp/all.json" ]; then
    fail "authprobe rp against tiktok-app: exit $rc, no report"
    show all
elif ! python3 "$judge" expect "$tmp/all.json" "$tmp/all.want"; then
    fail "authprobe rp against tiktok-app differs from $(basename "$truth")"
    show all
else
    echo "PASS: authprobe rp against tiktok-app gives the verdicts of $(basename "$truth") ($crashers apart)"
fi

# 2. Each crasher alone: the token endpoint's answer ends the app.
listen=${app#http://}
for id in $crashers; do
    if ! kill -0 "$app_pid" 2>/dev/null; then
        wait "$app_pid" 2>/dev/null
        if ! start_app "$listen"; then
            fail "$id: the app did not start again on $listen"
            cat "$tmp/app.err"
            continue
        fi
    fi
    probe "$id" --only "$(pattern "$id")"
    want "$tmp/$id.want" "$id" || exit 99
    sleep 0.2
    if [ "$rc" -gt 1 ] || [ ! -f "$tmp/$id.json" ]; then
        fail "authprobe rp --only $id against tiktok-app: exit $rc, no report"
        show "$id"
    elif ! python3 "$judge" expect "$tmp/$id.json" "$tmp/$id.want"; then
        fail "$id against tiktok-app differs from $(basename "$truth")"
        show "$id"
    elif kill -0 "$app_pid" 2>/dev/null; then
        fail "$id's truth is that the app dies on the token endpoint's answer, but it still runs"
        show "$id"
    elif ! grep -q 'SyntaxError' "$tmp/app.err" || ! grep -q 'passport-tiktok' "$tmp/app.err"; then
        fail "the app died at $id, but not of passport-tiktok-auth's JSON.parse of the token answer"
        show "$id"
    else
        echo "PASS: $id fails as the app dies on the token endpoint's answer (passport-tiktok-auth's SyntaxError)"
    fi
done
wait "$app_pid" 2>/dev/null
app_pid=
af_exit
