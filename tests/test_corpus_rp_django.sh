#!/bin/sh
# test_corpus_rp_django.sh - truth corpus (issue 9): the relying-party suite
# (`authprobe rp`, conf/suites/rp.json) against a server-rendered Django app
# that logs in with OpenID Connect through Authlib's Django client (Debian
# 12: python3-django 3.2, python3-authlib 1.2, python3-requests), glue in
# tests/corpus/rp-django/app.py, app profile tests/corpus/rp-django/profile.json.
#
# The verdict of every check must equal tests/data/truth/rp-django.txt,
# which was established by hand (curl with cookie jars, authflowd's scenarios
# and ledger through its admin API) and from Authlib's and Django's source,
# not from the probe: a difference is a bug of the probe (or a changed
# library), in either direction.
#
# Wiring as in test_rp_suite.sh: the app starts first on 127.0.0.1 port 0
# (its first stdout line is its URL) with --issuer-file naming authflowd's
# ready file; an authflowd config (tests/data/rp/authflowd.json, client
# rp-app) gets the app's URL as redirect URI; authflowd starts on port 0
# with its admin API; then `authprobe rp --authflowd ISSUER --admin ADMIN
# --var app=URL`. Both are stopped by PID.
#
# The Debian packages come from bootstrap.sh (tests/corpus/rp-django/
# debian-packages); exit 77 (skip) when one of them, or python3, is missing.
# AF_KEEP_TMP=1 keeps the report and the logs.
set -u

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
builddir=${AF_BUILDDIR:-$srcdir}
authflowd=$builddir/authflowd
authprobe=$builddir/authprobe
here=$srcdir/tests/corpus/rp-django
profile=$here/profile.json
truth=$srcdir/tests/data/truth/rp-django.txt
judge=$srcdir/tests/fixtures/as_report.py

af_need python3

af_debian_python "$here" "django, authlib, requests"
af_built 1 FAIL "$authflowd" "$authprobe"
af_tmpdir af-corpus-rp-django 1
af_procs="afd_pid app_pid"
echo "rp-django: $("$py" -c 'import django, authlib; print("Django", django.get_version() + ", Authlib", authlib.__version__)')"

ready=$tmp/authflowd.ready
af_start app_pid app "$py" "$here/app.py" --listen 127.0.0.1:0 --issuer-file "$ready" \
    --client-id rp-app --client-secret rp-app-secret || exit 1
app=$url

# authflowd's config: the rp test config with the app's URL in the client.
python3 - "$srcdir/tests/data/rp/authflowd.json" "$tmp/authflowd.json" "$app" <<'EOF' || exit 1
import json, sys
src, out, app = sys.argv[1:4]
with open(src, encoding="utf-8") as f:
    cfg = json.load(f)
for c in cfg["clients"]:
    for k in ("redirect_uris", "post_logout_redirect_uris"):
        c[k] = [u.replace("http://127.0.0.1:8080", app) for u in c.get(k, [])]
with open(out, "w", encoding="utf-8") as f:
    json.dump(cfg, f, indent=2)
EOF
if ! af_authflowd_admin "$tmp/authflowd.json" "$ready" "$tmp/afd.out" "$tmp/afd.err"; then
    echo "FAIL: authflowd did not start"
    cat "$tmp/afd.err"
    exit 1
fi

"$authprobe" rp --suites-dir "$srcdir/conf/suites" --app "$profile" \
    --authflowd "$issuer" --admin "$admin" --var "app=$app" \
    --report "json:$tmp/report.json" >"$tmp/probe.log" 2>&1
rc=$?
af_stop afd_pid app_pid

show() {
    sed 's/^/    /' "$tmp/probe.log"
    for _f in "$tmp/app.err" "$tmp/afd.err"; do
        [ -s "$_f" ] && { echo "    --- $(basename "$_f")"; tail -n 20 "$_f" | sed 's/^/    /'; }
    done
}

if [ $rc -gt 1 ] || [ ! -s "$tmp/report.json" ]; then
    fail "authprobe rp: exit $rc"
    show
elif ! python3 "$judge" expect "$tmp/report.json" "$truth"; then
    fail "rp-django: the probe's verdicts differ from $(basename "$truth")"
    show
else
    echo "PASS: rp-django: every verdict equals $(basename "$truth")"
fi
af_exit
