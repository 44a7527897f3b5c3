#!/bin/sh
# test_corpus_rp_oauth2_app.sh - truth corpus (issue 9): `authprobe rp`
# against oauth2-app, a "Login with <provider>" app on plain OAuth 2.0 (no
# OpenID Connect: it reads no ID token and takes the user from the
# provider's user API, authflowd's /userinfo), built on Express,
# express-session, passport and passport-oauth2 from the npm registry at the
# versions pinned in tests/corpus/rp-oauth2-app/package-lock.json.
#
# The app starts first, on 127.0.0.1 port 0 (its first stdout line is its
# URL); then authflowd, on port 0 with its admin API, from
# tests/data/rp/authflowd.json with the app's redirect URI and the client
# registered as client_secret_post (how passport-oauth2's node-oauth
# authenticates; the profile says so too); the app reads the issuer from
# authflowd's ready file at its first request. authprobe's JSON report must
# equal tests/data/truth/rp-oauth2-app.txt, the verdicts established by hand
# (curl, the ledger, the libraries' source), not copied from the probe.
# Every process is stopped by PID.
#
# Run by `make check` (AF_SRCDIR and AF_BUILDDIR set); by hand from the build
# tree: AF_SRCDIR=/path/to/src sh tests/test_corpus_rp_oauth2_app.sh.
# Exit 0 pass, 1 fail, 77 skip (node or npm missing), 99 hard error.
# AF_KEEP_TMP=1 keeps the report, configs and logs.
set -u

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
builddir=${AF_BUILDDIR:-$srcdir}
authflowd=$builddir/authflowd
authprobe=$builddir/authprobe
appsrc=$srcdir/tests/corpus/rp-oauth2-app
truth=$srcdir/tests/data/truth/rp-oauth2-app.txt
judge=$srcdir/tests/fixtures/as_report.py
# node_modules lives in the build tree, never in the source tree.
appdir=$builddir/tests/corpus/rp-oauth2-app-run

af_built 99 ERROR "$authflowd" "$authprobe"
command -v python3 >/dev/null 2>&1 || { echo "ERROR: python3 is needed (the config, the report judge)"; exit 99; }
af_need node npm

af_tmpdir af-corpus-rp-oauth2 99
af_procs="afd_pid app_pid"

af_npm_ci "$appsrc" "$appdir" passport-oauth2 99 ERROR "the rp-oauth2-app packages"
versions=$(cd "$appdir" && node -p '["express", "express-session", "passport", "passport-oauth2", "oauth"]
    .map((p) => p + " " + require(p + "/package.json").version).join(", ")')
echo "rp-oauth2-app: $versions; node $(node --version)"

ready=$tmp/afd.ready
node "$appdir/server.js" --client-id rp-app --client-secret rp-app-secret --issuer-file "$ready" \
    >"$tmp/app.out" 2>"$tmp/app.err" </dev/null &
app_pid=$!
if ! af_wait_url "$tmp/app.out" "$app_pid" 300 0.05; then
    echo "ERROR: the app did not start"
    cat "$tmp/app.err"
    exit 99
fi
app=$url

python3 - "$srcdir/tests/data/rp/authflowd.json" "$tmp/authflowd.json" "$app" <<'EOF' || exit 99
import json, sys
src, out, app = sys.argv[1:4]
with open(src, encoding="utf-8") as f:
    cfg = json.load(f)
old = "http://127.0.0.1:8080"
for c in cfg["clients"]:
    for k in ("redirect_uris", "post_logout_redirect_uris"):
        c[k] = [u.replace(old, app) for u in c.get(k, [])]
    if c["client_id"] == "rp-app":
        # node-oauth sends client_id and client_secret in the body
        c["token_endpoint_auth_method"] = "client_secret_post"
with open(out, "w", encoding="utf-8") as f:
    json.dump(cfg, f, indent=2)
EOF
if ! af_authflowd_admin "$tmp/authflowd.json" "$ready" "$tmp/afd.out" "$tmp/afd.err"; then
    echo "ERROR: authflowd did not start"
    cat "$tmp/afd.err"
    exit 99
fi

"$authprobe" rp --suites-dir "$srcdir/conf/suites" --app "$appsrc/profile.json" \
    --authflowd "$issuer" --admin "$admin" \
    --var "app=$app" --report "json:$tmp/report.json" >"$tmp/probe.log" 2>&1
rc=$?
af_stop afd_pid app_pid

show() {
    sed 's/^/    /' "$tmp/probe.log"
    for f in "$tmp/app.err" "$tmp/afd.err"; do
        [ -s "$f" ] && { echo "    --- $(basename "$f")"; tail -n 20 "$f" | sed 's/^/    /'; }
    done
}
if [ "$rc" -gt 1 ] || [ ! -f "$tmp/report.json" ]; then
    fail "authprobe rp against oauth2-app: exit $rc, no report"
    show
elif ! python3 "$judge" expect "$tmp/report.json" "$truth"; then
    fail "authprobe rp against oauth2-app differs from $(basename "$truth")"
    show
else
    echo "PASS: authprobe rp against oauth2-app gives the verdicts of $(basename "$truth")"
fi
af_exit
