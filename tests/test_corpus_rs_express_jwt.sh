#!/bin/sh
# test_corpus_rs_express_jwt.sh - truth corpus (issue 9): the
# resource-server suite (conf/suites/rs.json) against a protected API
# nobody on this project wrote the checks of: Express with express-jwt and
# jwks-rsa (the most common Express JWT middleware pair) and
# express-jwt-authz for the per-route scopes, from the npm registry at the
# versions pinned in tests/corpus/rs-express-jwt/package-lock.json, glued in
# tests/corpus/rs-express-jwt/server.js the way their READMEs do it.
#
# The run must give exactly the verdicts of
# tests/data/truth/rs-express-jwt.txt, which were established by hand (curl
# with tokens from authflowd's admin API, and the libraries' source), not
# copied from the probe: where they differ, the probe is wrong.
#
# Run by `make check` (AF_SRCDIR and AF_BUILDDIR set); by hand from the
# build tree: AF_SRCDIR=/path/to/src sh tests/test_corpus_rs_express_jwt.sh.
# The packages are installed with npm ci into the build tree
# ($builddir/tests/corpus/rs-express-jwt-run), never the source tree; exit
# 77 (skip) without node or npm. Every process is started on loopback,
# port 0, and stopped by PID. AF_KEEP_TMP=1 keeps the report and logs.
set -u

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
builddir=${AF_BUILDDIR:-$srcdir}
authflowd=$builddir/authflowd
authprobe=$builddir/authprobe
config=$srcdir/tests/data/rs/authflowd-rs.json
judge=$srcdir/tests/fixtures/as_report.py
here=$srcdir/tests/corpus/rs-express-jwt
truth=$srcdir/tests/data/truth/rs-express-jwt.txt
# node_modules lives in the build tree, never in the source tree.
appdir=$builddir/tests/corpus/rs-express-jwt-run

af_need python3 node npm
af_built 1 FAIL "$authflowd" "$authprobe"
af_tmpdir af-corpus-rs-express-jwt 1
af_procs="api_pid afd_pid"

af_npm_ci "$here" "$appdir" express-jwt 1 FAIL "the rs-express-jwt packages"
versions=$(cd "$appdir" && node -p '["express", "express-jwt", "jwks-rsa", "express-jwt-authz", "jsonwebtoken"]
    .map((p) => p + " " + require(p + "/package.json").version).join(", ")')
echo "rs-express-jwt: $versions; node $(node --version)"

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

af_start api_pid express-jwt node "$appdir/server.js" --issuer "$issuer" || exit 1

"$authprobe" rs --suites-dir "$srcdir/conf/suites" --target "$here/profile.json" \
    --issuer "$issuer" --admin "$admin" --var "api=$url" \
    --report "json:$tmp/express-jwt.json" >"$tmp/express-jwt.log" 2>&1
rc=$?
af_stop api_pid

if [ $rc -gt 1 ]; then
    fail "authprobe could not run the suite (exit $rc)"
    sed 's/^/    /' "$tmp/express-jwt.log"
elif ! python3 "$judge" expect "$tmp/express-jwt.json" "$truth" 2>"$tmp/judge"; then
    fail "express-jwt + jwks-rsa: the probe's verdicts differ from the truth table $truth"
    sed 's/^/    /' "$tmp/judge"
else
    echo "PASS: express-jwt + jwks-rsa: the probe's verdicts equal the truth table"
fi

af_exit
