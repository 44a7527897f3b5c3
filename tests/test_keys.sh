#!/bin/sh
# test_keys.sh - keys that survive a restart (keys[].generate, docs/config.md
# "Keys that survive a restart"), with the shipped config as it is:
#
# 1. a first start creates the missing state folder (0700) and the key
#    files (0600); a restart reuses them: the same kids at /jwks, nothing
#    generated, and tokens issued before the restart still work at
#    /userinfo and /introspect after it (and can still be revoked);
# 2. two authflowd started at once with an empty state folder agree on
#    one key each and leave no temporary file;
# 3. a key file holding garbage, or a key of the wrong kind, stops
#    authflowd (and --check-config) with exit 2 and a message naming the
#    file, which is left as it was; a state folder that cannot be created is refused naming it;
#    no state folder at all is a config error;
# 4. authflowd does not load libcurl (its start time and idle memory).
#
# The restarts keep one issuer (--issuer) while the port changes, so that
# the tokens' iss still names the server.
#
# Exit: 0 pass, 1 fail, 77 skip (curl or python3 missing), 99 hard error.
# Environment (set by `make check`): AF_SRCDIR, AF_BUILDDIR.

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${AF_BUILDDIR:-$(pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
af_need curl python3
authflowd=$builddir/authflowd
af_built 99 ERROR "$authflowd"
af_tmpdir authflow-keys 99
conf=$srcdir/conf/authflowd.json
issuer=http://authflowd.invalid:9000
af_procs="a b"

# up VAR NAME: authflowd with the shipped config on 127.0.0.1:0 and the
# fixed issuer (its PID in VAR); sets $base to where it listens, read from
# its log. Status 1 when it did not start.
up() {
    af_start "$1" "$2" "$authflowd" --config "$conf" --listen 127.0.0.1:0 --issuer "$issuer" ||
        return 1
    _i=0
    while [ "$_i" -lt 100 ]; do
        _port=$(sed -n 's/.*listening on port \([0-9]*\),.*/\1/p' "$tmp/$2.err")
        [ -n "$_port" ] && { base=http://127.0.0.1:$_port; return 0; }
        sleep 0.05
        _i=$((_i + 1))
    done
    echo "FAIL: $2: no 'listening on port' in its log"
    return 1
}

# kids URL: the kids of URL/jwks, space-separated, in order.
kids() {
    curl -s "$1/jwks" | python3 -c 'import json, sys
print(" ".join(k["kid"] for k in json.load(sys.stdin)["keys"]))'
}

# member NAME: the string or boolean NAME of the JSON object on stdin.
member() {
    python3 -c 'import json, sys
v = json.load(sys.stdin).get(sys.argv[1])
print(str(v).lower() if isinstance(v, bool) else (v or ""))' "$1"
}

# ---- 1. first start, restart ----
AUTHFLOW_STATE_DIR=$tmp/state/authflow
export AUTHFLOW_STATE_DIR
up a first || exit 1
mode=$(stat -c %a "$AUTHFLOW_STATE_DIR" 2>/dev/null)
[ "$mode" = 700 ] || fail "the state folder was not created 0700 (got '$mode')"
for f in rs256.pem es256.pem; do
    mode=$(stat -c %a "$AUTHFLOW_STATE_DIR/$f" 2>/dev/null)
    [ "$mode" = 600 ] || fail "$f was not written 0600 (got '$mode')"
done
grep -q "keys\[0\]: generated a new RS256 key .* into $AUTHFLOW_STATE_DIR/rs256.pem" "$tmp/first.err" ||
    fail "the first start did not say where it wrote the RS256 key: $(cat "$tmp/first.err")"
kids1=$(kids "$base")
[ "$(echo "$kids1" | wc -w)" -eq 2 ] || fail "/jwks: two kids expected, got '$kids1'"

user_at=$(curl -s -u legacy-app:legacy-app-secret -d grant_type=password -d username=alice \
    -d password=alice-password -d scope=openid "$base/token" | member access_token)
svc_at=$(curl -s -u demo-service:demo-service-secret -d grant_type=client_credentials \
    "$base/token" | member access_token)
[ -n "$user_at" ] && [ -n "$svc_at" ] || { echo "FAIL: no access tokens from the first start"; exit 1; }
# a token is adopted after a restart when issued (iat, in seconds) before
# the restart's start
sleep 1
af_stop a

up a second || exit 1
kids2=$(kids "$base")
[ "$kids2" = "$kids1" ] || fail "the restart changed the keys: '$kids1' then '$kids2'"
grep -q "generated a new" "$tmp/second.err" && fail "the restart generated a key: $(cat "$tmp/second.err")"
sub=$(curl -s -H "Authorization: Bearer $user_at" "$base/userinfo" | member sub)
[ "$sub" = u-alice ] || fail "/userinfo refused a token issued before the restart (sub '$sub')"
active=$(curl -s -u demo-service:demo-service-secret --data-urlencode "token=$svc_at" \
    "$base/introspect" | member active)
[ "$active" = true ] || fail "/introspect: a token issued before the restart is not active ($active)"
# once known again, it is revoked like any other
curl -s -o /dev/null -u legacy-app:legacy-app-secret --data-urlencode "token=$user_at" "$base/revoke"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $user_at" "$base/userinfo")
[ "$code" = 401 ] || fail "/userinfo after /revoke of a pre-restart token: $code, 401 expected"
af_stop a
echo "ok: a restart keeps the keys and the tokens issued before it"

# ---- 2. two at once ----
for round in 1 2 3; do
    AUTHFLOW_STATE_DIR=$tmp/race$round
    export AUTHFLOW_STATE_DIR
    "$authflowd" --config "$conf" --listen 127.0.0.1:0 >"$tmp/ra.out" 2>"$tmp/ra.err" </dev/null &
    a=$!
    "$authflowd" --config "$conf" --listen 127.0.0.1:0 >"$tmp/rb.out" 2>"$tmp/rb.err" </dev/null &
    b=$!
    af_wait_url "$tmp/ra.out" "$a" 600 0.05 && url_a=$url
    af_wait_url "$tmp/rb.out" "$b" 600 0.05 && url_b=$url
    if [ -z "${url_a:-}" ] || [ -z "${url_b:-}" ]; then
        echo "FAIL: round $round: the two did not both start"
        cat "$tmp/ra.err" "$tmp/rb.err"
        exit 1
    fi
    ka=$(kids "$url_a") kb=$(kids "$url_b")
    [ "$ka" = "$kb" ] || fail "round $round: two daemons started at once disagree: '$ka' / '$kb'"
    left=$(ls "$AUTHFLOW_STATE_DIR" | tr '\n' ' ')
    [ "$left" = "es256.pem rs256.pem " ] || fail "round $round: the state folder holds: $left"
    af_stop a b
    url_a='' url_b=''
done
echo "ok: two daemons started at once serve the same keys"

# ---- 3. refusals ----
# refused WHAT STATUS TEXT...: authflowd with the shipped config exits
# STATUS, says every TEXT on stderr and nothing on stdout.
refused() {
    _what=$1 _want=$2
    shift 2
    "$authflowd" --config "$conf" --listen 127.0.0.1:0 >"$tmp/r.out" 2>"$tmp/r.err" </dev/null
    _rc=$?
    [ "$_rc" = "$_want" ] || { fail "$_what: exit $_rc, $_want expected: $(cat "$tmp/r.err")"; return; }
    [ -s "$tmp/r.out" ] && fail "$_what: something on stdout: $(cat "$tmp/r.out")"
    for _text in "$@"; do
        grep -qF -- "$_text" "$tmp/r.err" || fail "$_what: no '$_text' in: $(cat "$tmp/r.err")"
    done
}
AUTHFLOW_STATE_DIR=$tmp/state/authflow
mv "$AUTHFLOW_STATE_DIR/es256.pem" "$tmp/es256.pem"
echo "not a key" >"$AUTHFLOW_STATE_DIR/es256.pem"
refused "a garbage key file" 2 "keys[1]: $AUTHFLOW_STATE_DIR/es256.pem holds no unencrypted PEM private key" \
    "move it away"
[ "$(cat "$AUTHFLOW_STATE_DIR/es256.pem")" = "not a key" ] || fail "the garbage key file was replaced"
out=$("$authflowd" --config "$conf" --check-config 2>&1)
rc=$?
case "$rc:$out" in
2:*"keys[1]: $AUTHFLOW_STATE_DIR/es256.pem holds no"*) ;;
*) fail "--check-config with a garbage key file: exit $rc: $out" ;;
esac
cp "$AUTHFLOW_STATE_DIR/rs256.pem" "$AUTHFLOW_STATE_DIR/es256.pem"
refused "an RSA key for ES256" 2 "keys[1]: $AUTHFLOW_STATE_DIR/es256.pem: ES256 needs an EC key, got RSA"
cmp -s "$AUTHFLOW_STATE_DIR/rs256.pem" "$AUTHFLOW_STATE_DIR/es256.pem" ||
    fail "the mismatched key file was replaced"
mv "$tmp/es256.pem" "$AUTHFLOW_STATE_DIR/es256.pem"

: >"$tmp/a-file"
AUTHFLOW_STATE_DIR=$tmp/a-file/authflow
refused "a state folder under a file" 1 "cannot open key file $tmp/a-file/authflow/rs256.pem: Not a directory"

out=$(env -u AUTHFLOW_STATE_DIR -u XDG_STATE_HOME -u HOME "$authflowd" --config "$conf" \
    --check-config 2>&1)
rc=$?
case "$rc:$out" in
2:*"keys[0].generate: no folder for the generated key: set AUTHFLOW_STATE_DIR"*) ;;
*) fail "no state folder at all: exit $rc: $out" ;;
esac
echo "ok: bad key files and state folders are refused, naming them"

# ---- 4. no libcurl in authflowd ----
if command -v readelf >/dev/null 2>&1; then
    readelf -d "$authflowd" | grep -q 'NEEDED.*libcurl' &&
        fail "authflowd needs libcurl (Makefile.am AFD_LIBS; src/common/url_endpoint.c)"
fi

af_exit
