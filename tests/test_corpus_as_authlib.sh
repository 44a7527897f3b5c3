#!/bin/sh
# test_corpus_as_authlib.sh - truth corpus (issue 9): the authorization-
# server suite against an OpenID provider built on Authlib's Flask server
# integration (Debian 12: python3-authlib 1.2, python3-flask 2.2), glue in
# tests/corpus/as-authlib/app.py, profile tests/corpus/as-authlib/profile.json.
#
# The verdict of every check must equal tests/data/truth/as-authlib.txt,
# which was established by hand (curl) and from Authlib's source, not from
# the probe: a difference is a bug of the probe (or a changed library), in
# either direction.
#
# Two runs, as in test_as_interop.sh: the whole suite but AS-22, then AS-22
# (with AS-73c and AS-73d, which wait 2 s between two logins)
# alone against codes that live 2 seconds (app.py --code-ttl 2; the glue's
# default is the 300 s of Authlib's OAuth2AuthorizationCodeMixin).
#
# The Debian packages come from bootstrap.sh (tests/corpus/as-authlib/
# debian-packages); exit 77 (skip) when they, or python3, are missing. The
# server listens on 127.0.0.1 port 0 and is stopped by PID.
set -u

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
builddir=${AF_BUILDDIR:-$srcdir}
authprobe=$builddir/authprobe
suite=$srcdir/conf/suites/as.json
here=$srcdir/tests/corpus/as-authlib
target=$here/profile.json
truth=$srcdir/tests/data/truth/as-authlib.txt
judge=$srcdir/tests/fixtures/as_report.py

af_need python3

af_debian_python "$srcdir/tests/corpus/as-authlib" "authlib, flask"
af_built 1 FAIL "$authprobe"
af_tmpdir af-corpus-as-authlib 1
af_procs=pid

# start NAME ARGS...: app.py ARGS in the background; waits for its URL.
start() {
    _name=$1
    shift
    af_start pid "$_name" "$py" "$here/app.py" --listen 127.0.0.1:0 "$@"
}

start main || exit 1
"$authprobe" run "$suite" --target "$target" --issuer "$url" --skip AS-22 \
    --var code_reuse_wait=3 --report "json:$tmp/main.json" >"$tmp/main.log" 2>&1
rc=$?
af_stop pid
start short --code-ttl 2 || exit 1
"$authprobe" run "$suite" --target "$target" --issuer "$url" --only AS-22,AS-73c,AS-73d \
    --var code_expiry_wait=4 --var reauth_wait=2 --report "json:$tmp/short.json" >"$tmp/short.log" 2>&1
rc22=$?
af_stop pid

python3 - "$tmp/main.json" "$tmp/short.json" "$tmp/all.json" <<'EOF' || exit 1
import json, sys
main, short, out = sys.argv[1:4]
a = json.load(open(main, encoding="utf-8"))
b = json.load(open(short, encoding="utf-8"))
ids = {c["id"] for c in b["checks"] if c.get("result", c.get("status")) != "skip"}
a["checks"] = [c for c in a["checks"] if c["id"] not in ids] + [c for c in b["checks"] if c["id"] in ids]
json.dump(a, open(out, "w", encoding="utf-8"))
EOF

if [ $rc -gt 1 ] || [ $rc22 -gt 1 ]; then
    fail "authprobe could not run the suite (exit $rc, $rc22)"
fi
if ! python3 "$judge" expect "$tmp/all.json" "$truth"; then
    fail "the probe's verdicts on Authlib differ from tests/data/truth/as-authlib.txt"
fi
if [ "$failures" -ne 0 ]; then
    sed 's/^/    /' "$tmp/main.log" "$tmp/short.log"
    python3 "$judge" summary "$tmp/all.json" | sed 's/^/    /'
    af_exit
fi
echo "PASS: the probe's verdicts on Authlib equal the truth table"
exit 0
