#!/bin/sh
# test_as_suite.sh - the authorization-server suite (conf/suites/as.json)
# against authflowd, and each of its checks shown able to fail.
#
# 1. authflowd (conf/authflowd.json with the interactive login page on)
#    passes every check of the suite; only AS-07 (needs dynamic
#    registration, which authflowd does not offer) and AS-22 (needs a wait)
#    are skipped there. The same again with that issuer as the element of
#    "issuers" at /tenant-a (docs/issuers.md).
# 2. AS-22 passes against an authflowd whose codes live 1 second.
# 3. For every break of tests/fixtures/lax_proxy.py, a proxy that breaks
#    that one rule in front of a strict authflowd makes exactly the checks
#    it names fail (a SHOULD check warns) while all the others of the whole
#    suite pass or skip.
#
# Run by `make check` (AF_SRCDIR and AF_BUILDDIR set); by hand from the
# build tree: AF_SRCDIR=/path/to/src sh tests/test_as_suite.sh [BREAK...].
# Exit 77 (skip) without python3. Every process is started on loopback,
# port 0, and stopped by PID.
set -u

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
builddir=${AF_BUILDDIR:-$srcdir}
authflowd=$builddir/authflowd
authprobe=$builddir/authprobe
suite=$srcdir/conf/suites/as.json
target=$srcdir/conf/targets/authflowd.json
proxy=$srcdir/tests/fixtures/lax_proxy.py
judge=$srcdir/tests/fixtures/as_report.py

af_need python3
af_built 1 FAIL "$authflowd" "$authprobe"
af_tmpdir af-as-suite 1
af_procs=pid

# Signing keys made once for the ~60 servers this test starts (authflowd
# would otherwise generate an RSA key at every start); without the openssl
# tool each server makes its own.
if command -v openssl >/dev/null 2>&1 &&
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/rs256.pem" 2>/dev/null &&
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/es256.pem" 2>/dev/null; then
    keys=pem
else
    keys=generated
fi

# The shipped configuration with the login page on (so that the login-page
# checks AS-12, AS-17 and AS-18 run) and, for AS-22, a 1-second code lifetime.
python3 - "$srcdir/conf/authflowd.json" "$tmp" "$keys" <<'EOF' || exit 1
import json, os, sys
src, tmp, keys = sys.argv[1], sys.argv[2], sys.argv[3]
with open(src, encoding="utf-8") as f:
    cfg = json.load(f)
pems = {"RS256": "rs256.pem", "ES256": "es256.pem"}
for key in cfg.get("keys", []):
    if key.get("pem_file") and not os.path.isabs(key["pem_file"]):
        key["pem_file"] = os.path.join(os.path.dirname(os.path.abspath(src)), key["pem_file"])
    elif not key.get("pem_file") and keys == "pem" and key.get("alg") in pems:
        key["pem_file"] = os.path.join(tmp, pems[key["alg"]])
cfg.setdefault("login", {})["interactive"] = True
with open(os.path.join(tmp, "authflowd.json"), "w", encoding="utf-8") as f:
    json.dump(cfg, f)
# the same issuer as the element of "issuers" at /tenant-a (docs/issuers.md),
# under a top level with a decoy of every client (another secret, no
# redirect URIs), so that a request routed to the top level fails
nested = {k: v for k, v in cfg.items()
          if k not in ("persona", "login", "lifetimes", "keys", "clients", "users", "scenarios")}
nested["clients"] = [{"client_id": c["client_id"], "client_secret": "decoy",
                      "grant_types": ["client_credentials"]} for c in cfg.get("clients", [])]
nested["issuers"] = [dict({k: v for k, v in cfg.items() if k in
                           ("persona", "login", "lifetimes", "keys", "clients", "users", "scenarios")},
                          path="/tenant-a")]
with open(os.path.join(tmp, "authflowd-nested.json"), "w", encoding="utf-8") as f:
    json.dump(nested, f)
cfg.setdefault("lifetimes", {})["code"] = 1
with open(os.path.join(tmp, "authflowd-short.json"), "w", encoding="utf-8") as f:
    json.dump(cfg, f)
EOF

# start NAME CMD...: run CMD in the background ($pid) and wait for the URL
# it serves, its first stdout line.
start() {
    af_start pid "$@"
}

# probe NAME URL ARGS...: run the suite against URL; the report goes to
# $tmp/NAME.json, the text output to $tmp/NAME.log; sets $rc.
probe() {
    name=$1 url=$2
    shift 2
    "$authprobe" run "$suite" --target "$target" --issuer "$url" \
        --report "json:$tmp/$name.json" "$@" >"$tmp/$name.log" 2>&1
    rc=$?
}

show() {
    sed 's/^/    /' "$tmp/$1.log"
}

# passes NAME CONFIG PATH WHAT: authflowd with CONFIG, probed at its issuer
# plus PATH, passes the whole suite (report $tmp/NAME.json), but for:
# AS-07: authflowd offers no dynamic registration (its metadata names no
# registration_endpoint): the premise did not occur, inconclusive. AS-22
# needs vars.code_expiry_wait (the profile's choice): skipped. AS-51c:
# authflowd takes bearer tokens from the Authorization header only, which
# RFC 6750 §2.2 allows (the body method is a MAY): inconclusive. AS-62b:
# the metadata does not list plain PKCE (no client of the shipped config
# allows it), so there is no plain default to judge: inconclusive. AS-72b:
# authflowd does not support the claims parameter (its metadata says
# claims_parameter_supported false), so whether it honours one is not
# asked: inconclusive. AS-73c, AS-73d need vars.reauth_wait and AS-21c
# vars.code_reuse_wait: skipped here, run on their own below.
passes() {
    start "$1" "$authflowd" --config "$2" --listen 127.0.0.1:0 || exit 1
    probe "$1" "$url$3"
    af_stop pid
    if [ $rc -ne 0 ] ||
        ! python3 "$judge" pass "$tmp/$1.json" --allow-skip "$af_as_not_pass"; then
        fail "authflowd$4 does not pass the AS suite (authprobe exit $rc)"
        show "$1"
    else
        echo "PASS: authflowd passes the AS suite$4"
    fi
}

# alone NAME CONFIG ID OPTION...: authflowd with CONFIG passes the checks
# ID names (an id or a prefix), run alone with OPTION... (their wait).
alone() {
    name=$1 conf=$2 only=$3
    shift 3
    start "$name" "$authflowd" --config "$conf" --listen 127.0.0.1:0 || exit 1
    probe "$name" "$url" --only "$only" "$@"
    af_stop pid
    if [ $rc -ne 0 ] || ! python3 "$judge" pass "$tmp/$name.json" --only "$only"; then
        fail "authflowd does not pass $only (authprobe exit $rc)"
        show "$name"
    else
        echo "PASS: authflowd passes $only"
    fi
}

if [ $# -eq 0 ]; then
    # 1. authflowd passes the suite.
    passes strict "$tmp/authflowd.json" "" ""
    # The report's feature inventory says what authflowd's metadata says,
    # defaults marked: request_uri stated unsupported (OIDC Discovery's
    # default would be true), revocation offered, no PAR endpoint.
    if python3 - "$tmp/strict.json" <<'EOF'; then
import json, sys
inv = {r["member"]: r for r in json.load(open(sys.argv[1], encoding="utf-8"))["inventory"]}
ok = (inv["request_uri_parameter_supported"]["value"] is False
      and inv["request_uri_parameter_supported"]["stated"] is True
      and inv["revocation_endpoint"]["value"].endswith("/revoke")
      and inv["pushed_authorization_request_endpoint"]["value"] is None
      and inv["claims_parameter_supported"]["stated"] is False)
sys.exit(0 if ok else 1)
EOF
        echo "PASS: the report's inventory names authflowd's features"
    else
        fail "the report's inventory does not match authflowd's metadata"
    fi

    # 1b. The same with the issuer at a path of another (docs/issuers.md):
    # the same verdicts.
    passes nested "$tmp/authflowd-nested.json" /tenant-a " as an issuer at /tenant-a"

    # 2. The checks that wait run alone: AS-22 (a code older than its
    # lifetime is refused), AS-73c and AS-73d (two logins apart; auth_time
    # counts whole seconds, so 2 s make the second login's differ), AS-21c
    # (a code replayed after a wait; the OIDF waits 30 s).
    alone short22 "$tmp/authflowd-short.json" AS-22 --var code_expiry_wait=3
    alone slow73 "$tmp/authflowd.json" AS-73 --var reauth_wait=2
    alone reuse21 "$tmp/authflowd.json" AS-21c --var code_reuse_wait=2
    # shellcheck disable=SC2046 # one break id per word
    set -- $(python3 "$proxy" --list)
fi

# want BREAK: the verdicts a break must give where they are not "fail" for
# a MUST check and "warn" for a SHOULD one (docs/probe.md, Verdicts). A
# break that renames an error code or drops a required header leaves the
# refusal in place: the answer's form is wrong ("format"), not the
# property. A break that drops metadata makes the checks that rely on it
# inconclusive.
want() {
    case $1 in
    AS-02 | AS-11 | AS-12 | AS-25 | AS-29a | AS-29b | AS-40b) echo "$1=format" ;;
    # A token response without its cache headers: the refresh answer of
    # AS-74 lacks them too.
    AS-33a | AS-33b) echo "$1=format,AS-74=format" ;;
    # An extra parameter in an error redirect: RFC 6749 §8.2 allows
    # extensions, the OpenID suite warns: SHOULD.
    AS-16) echo "AS-16=warn" ;;
    # S256 replaced by plain: AS-14 has nothing to judge, AS-62a's request
    # without method (refused by authflowd) nothing to verify, and AS-62b
    # finds the advertised plain default refused.
    AS-40c) echo "AS-40c=warn,AS-14=inconclusive,AS-62a=inconclusive,AS-62b=fail" ;;
    AS-40d) echo "AS-40d=warn,AS-15a=inconclusive,AS-15b=inconclusive" ;;
    # No ID token: the checks of its parts have nothing to judge, and the
    # userinfo checks no sub to compare; AS-47b redeems a code of its own
    # and finds no ID token either.
    # AS-68 has no ID token to send as a hint, and AS-69's reordered request
    # none to show that openid was recognised; AS-73a and AS-73b no first
    # ID token to compare with.
    AS-41a) echo "AS-41b=inconclusive,AS-42=inconclusive,AS-43=inconclusive,AS-44=inconclusive,AS-45=inconclusive,AS-46=inconclusive,AS-47a=inconclusive,AS-47b=fail,AS-48=inconclusive,AS-49=inconclusive,AS-51a=inconclusive,AS-51b=inconclusive,AS-52=inconclusive,AS-57=inconclusive,AS-60=inconclusive,AS-68=inconclusive,AS-69=warn,AS-73a=inconclusive,AS-73b=inconclusive,AS-74=inconclusive" ;;
    # An ID token without sub: the userinfo checks and AS-57 have no sub to
    # compare.
    AS-46) echo "AS-51a=inconclusive,AS-51b=inconclusive,AS-52=inconclusive,AS-57=inconclusive,AS-73a=inconclusive,AS-73b=inconclusive,AS-74=inconclusive" ;;
    # The scenario changes the iss of the code's ID token only: the refreshed
    # one then names another issuer than the first, which AS-57 reports.
    AS-42) echo "AS-57=fail" ;;
    # Successful authorization responses without state: AS-59's silent
    # answer to prompt=none lacks it too, and so do AS-65's code from a
    # POST request and AS-68's silent answer to a hint (a SHOULD check: its
    # findings are warnings).
    AS-08) echo "AS-59=format,AS-65=format,AS-68=warn" ;;
    # A consent page for prompt=none after a login: AS-68 then finds no
    # silent login to send its hint to.
    # AS-73a's prompt=none then gives no code to compare.
    AS-59) echo "AS-68=inconclusive,AS-73a=inconclusive" ;;
    # No auth_time for max_age: AS-73b has none to compare.
    AS-60) echo "AS-73b=inconclusive" ;;
    # Tokens for a confidential client that sent only its client_id: at a
    # refresh too (AS-58), the same rule.
    AS-26) echo "AS-58=fail" ;;
    # UserInfo answering for another sub: also for AS-74's refreshed token.
    AS-51a) echo "AS-74=fail" ;;
    # No Bearer challenge: refused, in the wrong form.
    AS-51d) echo "AS-51d=format" ;;
    # A server that takes any well-formed verifier also takes the S256
    # challenge as one (the plain downgrade of AS-53).
    AS-30b) echo "AS-53=fail" ;;
    # plain advertised: AS-14 has nothing to judge, and AS-62a's request
    # without method, still refused, leaves it nothing to verify.
    AS-62b) echo "AS-14=inconclusive,AS-62a=inconclusive" ;;
    # A code or a rotated refresh token that can be used again can also be
    # used several times at once.
    # A foreign redirect_uri accepted: also where a request object named the
    # registered one.
    AS-03a) echo "AS-67c=fail" ;;
    AS-21a) echo "AS-70a=fail" ;;
    # Access tokens the client sees are stand-ins: the ID token's at_hash
    # is of the token authflowd issued.
    AS-77b) echo "AS-48=fail" ;;
    # A replay refused before the server saw it: the grant's refresh token
    # is not revoked either.
    AS-21b) echo "AS-21d=warn" ;;
    AS-35a) echo "AS-70b=fail" ;;
    # Claims by scope: AS-71e asks for all four scopes, so a break of one
    # scope's claims shows there too; a claim of the wrong type is the
    # wrong form, a claim withheld only a SHOULD (a warning in these MUST
    # checks). AS-71b's break is in the ID token, the others in UserInfo.
    AS-52) echo "AS-71b=warn,AS-71e=warn" ;;
    AS-71a) echo "AS-71a=warn,AS-71e=warn" ;;
    AS-71e) echo "AS-71e=warn" ;;
    AS-71b) echo "AS-71b=format,AS-71e=format" ;;
    AS-71c | AS-71d) echo "$1=format,AS-71e=format" ;;
    *) echo "" ;;
    esac
}

# AS-44 re-signs ID tokens with authflowd's RS256 key, which only exists as
# a file when the openssl tool made it above.
if [ "$keys" != pem ]; then
    # shellcheck disable=SC2046 # one break id per word
    set -- $(for b in "$@"; do [ "$b" = AS-44 ] || echo "$b"; done)
    echo "SKIP: break AS-44 (needs the openssl tool)"
fi

# 3. Each break makes its checks fail (or answer in the wrong form), and
# changes no other check's result from the run without a break.
for brk in "$@"; do
    # The whole suite runs against each break (it takes a fraction of a
    # second), so a break that upsets another check is noticed too. AS-22
    # needs codes that expire within the run: it runs alone.
    conf=$tmp/authflowd.json
    only=
    if [ "$brk" = AS-22 ]; then
        conf=$tmp/authflowd-short.json
        only="--only AS-22 --var code_expiry_wait=3"
    elif [ "$brk" = AS-73c ] || [ "$brk" = AS-73d ]; then
        only="--only $brk --var reauth_wait=2"
    elif [ "$brk" = AS-21c ]; then
        only="--only AS-21c --var code_reuse_wait=2"
    fi
    start "proxy-$brk" python3 "$proxy" --break "$brk" --config "$conf" -- \
        "$authflowd" --config "$conf" --listen '{listen}' --issuer '{issuer}' || {
        fail "$brk: the lax proxy did not start"
        continue
    }
    # shellcheck disable=SC2086 # $only is empty or a list of options
    probe "break-$brk" "$url" $only
    af_stop pid
    base=
    [ -z "$only" ] && [ -f "$tmp/strict.json" ] && base="--baseline $tmp/strict.json"
    # shellcheck disable=SC2086 # $base is empty or two words
    if ! python3 "$judge" broken "$tmp/break-$brk.json" "$brk" $base --want "$(want "$brk")"; then
        fail "$brk: the suite did not catch the broken rule (authprobe exit $rc)"
        show "break-$brk"
    elif [ $rc -gt 1 ]; then
        fail "$brk: authprobe exit $rc"
        show "break-$brk"
    else
        echo "PASS: --break $brk is caught"
    fi
done

af_exit
