#!/bin/sh
# test_probe_admin.sh - a run checks, before its first check, that the admin
# API it was given belongs to the provider it probes (GET /admin/healthz
# reports the issuer), and its report header says which issuer and admin
# API were used and where each came from. A stale $AUTHFLOW_ADMIN_URL once
# sent scenarios and minted tokens to another authflowd and the report
# showed false security verdicts.
#
# Two authflowd on 127.0.0.1:0 (A probed, B another one), the rs suite's
# RS-01 against A's own /userinfo.
#
# Exit: 0 pass, 1 fail, 99 hard error.
# Environment (set by `make check`): AF_SRCDIR, AF_BUILDDIR.

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${AF_BUILDDIR:-$(pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
authflowd=$builddir/authflowd
authprobe=$builddir/authprobe
af_built 99 ERROR "$authflowd" "$authprobe"
af_tmpdir authflow-probe-admin 99
af_procs="a_pid b_pid"
data=$srcdir/tests/data/probe-admin
secret=probe-admin-test-secret

af_authflowd_admin "$data/authflowd.json" "$tmp/a.ready" "$tmp/a.out" "$tmp/a.err" ||
    { cat "$tmp/a.err"; exit 99; }
a_pid=$afd_pid a_issuer=$issuer a_admin=$admin
af_authflowd_admin "$data/authflowd.json" "$tmp/b.ready" "$tmp/b.out" "$tmp/b.err" ||
    { cat "$tmp/b.err"; exit 99; }
b_pid=$afd_pid b_issuer=$issuer b_admin=$admin

# probe [ENV=V...] -- ARGS: RS-01 against A, stdout+stderr in $out, exit in $rc.
probe() {
    out=$(env -u AUTHFLOW_ADMIN_URL -u AUTHFLOW_ADMIN_SECRET AF_TEST_ISSUER="$a_issuer" \
        AF_TEST_ADMIN="$a_admin" AF_TEST_ADMIN_SECRET="$secret" NO_COLOR=1 "$@" 2>&1)
    rc=$?
}
# expect WHAT RC TEXT...: $rc is RC and $out holds every TEXT.
expect() {
    _what=$1 _rc=$2
    shift 2
    [ "$rc" = "$_rc" ] || { fail "$_what: exit $rc, wanted $_rc: $out"; return; }
    for _t in "$@"; do
        case $out in *"$_t"*) ;; *) fail "$_what: no \"$_t\" in: $out"; return ;; esac
    done
    echo "ok: $_what"
}
run="$authprobe rs --suites-dir $srcdir/conf/suites --target $data/userinfo.json --only RS-01"

# 1. The right admin API, from the profile: the run goes ahead and the
#    header names both, with their sources.
# shellcheck disable=SC2086 # $run is a command line
probe $run --report "json:$tmp/good.json"
expect "the profile's admin API of the probed provider" 0 \
    "issuer $a_issuer (from profile)" "admin API $a_admin (from profile; its issuer: $a_issuer)"
python3 - "$tmp/good.json" "$a_issuer" "$a_admin" <<'PY' || fail "the JSON report's run header"
import json, sys
r = json.load(open(sys.argv[1]))
want = {"issuer": sys.argv[2], "issuer_from": "profile"}
for k, v in want.items():
    assert r.get(k) == v, (k, r.get(k))
adm = r.get("admin")
assert adm == {"url": sys.argv[3], "from": "profile", "issuer": sys.argv[2]}, adm
assert r.get("profile", "").endswith("userinfo.json"), r.get("profile")
PY

# 2. A stale $AUTHFLOW_ADMIN_URL naming another authflowd: exit 2 before
#    any check, naming both issuers and the variable.
# shellcheck disable=SC2086
probe AUTHFLOW_ADMIN_URL="$b_admin" $run
expect "a stale \$AUTHFLOW_ADMIN_URL is refused" 2 "the admin API at $b_admin (from \$AUTHFLOW_ADMIN_URL)" \
    "belongs to the provider $b_issuer" "this run probes $a_issuer (from profile)"
case $out in *RS-01*) fail "a check ran with the wrong admin API: $out" ;; esac

# 3. The same through --admin.
# shellcheck disable=SC2086
probe $run --admin "$b_admin"
expect "--admin naming another provider is refused" 2 "(from --admin) belongs to the provider $b_issuer"

# 4. The wrong secret: exit 2, saying the secret was refused.
# shellcheck disable=SC2086
probe AUTHFLOW_ADMIN_SECRET=wrong-secret $run
expect "a refused admin secret" 2 "refused the admin secret (status 401)"

# 5. An admin API that is not there: exit 3 (could not be completed).
af_stop b_pid
# shellcheck disable=SC2086
probe AUTHFLOW_ADMIN_URL="$b_admin" $run
expect "an unreachable admin API" 3 "the admin API at $b_admin (from \$AUTHFLOW_ADMIN_URL) cannot be reached"

# 6. --issuer is named as the issuer's source.
# shellcheck disable=SC2086
probe $run --issuer "$a_issuer"
expect "--issuer in the header" 0 "(from --issuer)"

af_exit
