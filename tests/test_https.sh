#!/bin/sh
# test_https.sh - authflowd over https, and the issuer a user typed.
#
# 1. The issuer keeps the host given to --listen (localhost stays
#    localhost); a wildcard bind derives http://localhost:PORT and says so;
#    an https issuer on a plain listener warns, unless tls.proxy; an http
#    issuer on an https listener is refused, in the config and on the
#    command line.
# 2. tls.cert_file/key_file: curl trusting that certificate reaches
#    /healthz; a key of another certificate and a lone cert_file are config
#    errors (exit 2, also with --check-config) naming the files.
# 3. tls.generate: the local CA is written once and kept over a restart
#    (same file, same bytes), each start serves a new certificate it
#    signs; curl trusting the CA passes, curl without it fails on the
#    certificate.
# 4. authprobe over https: the whole AS suite with --cacert passes as it
#    does over http (AS-40a sees an https issuer); without --cacert the
#    probe cannot reach the target (exit 3) and no check passes.
# 5. RS-16 (no 2xx over plain http), never run on the http fixtures:
#    authflowd's userinfo over https passes it; the same behind
#    tests/fixtures/dual_port.py, which also answers plain http on the same
#    port, fails it.
#
# Run by `make check` (AF_SRCDIR and AF_BUILDDIR set). Exit 77 (skip)
# without curl, openssl or python3. Every process is started on loopback,
# port 0, and stopped by PID.
set -u

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
builddir=${AF_BUILDDIR:-$srcdir}
authflowd=$builddir/authflowd
authprobe=$builddir/authprobe
shipped=$srcdir/conf/authflowd.json
judge=$srcdir/tests/fixtures/as_report.py
dual=$srcdir/tests/fixtures/dual_port.py

af_need curl openssl python3
af_built 1 FAIL "$authflowd" "$authprobe"
af_tmpdir af-https 1
af_procs="pid dual_pid"
failures=0
export AUTHFLOW_STATE_DIR="$tmp/state"

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}
ok() {
    echo "PASS: $*"
}

# config OUT TLS_JSON [ISSUER]: the shipped config (login page on, for the
# AS suite's login-page checks) with "tls": TLS_JSON and the issuer.
config() {
    python3 - "$shipped" "$@" <<'EOF' || exit 1
import json, sys
src, out, tls = sys.argv[1], sys.argv[2], sys.argv[3]
with open(src, encoding="utf-8") as f:
    cfg = json.load(f)
cfg.pop("issuer", None)
cfg.setdefault("login", {})["interactive"] = True
if tls:
    cfg["tls"] = json.loads(tls)
if len(sys.argv) > 4:
    cfg["issuer"] = sys.argv[4]
with open(out, "w", encoding="utf-8") as f:
    json.dump(cfg, f)
EOF
}

# discovered_issuer URL [CURL_ARGS...]: the issuer of URL's discovery document.
discovered_issuer() {
    _u=$1
    shift
    curl -sS --max-time 10 "$@" "$_u/.well-known/openid-configuration" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["issuer"])'
}

config "$tmp/plain.json" ""

# ---- 1. the issuer as typed
af_start pid typed "$authflowd" -c "$tmp/plain.json" --listen localhost:0 || exit 1
case $url in
http://localhost:*) ;;
*) fail "--listen localhost:0 gave the issuer $url, not http://localhost:PORT" ;;
esac
got=$(discovered_issuer "$url")
if [ "$got" = "$url" ]; then ok "--listen localhost keeps the name: $url"; else fail "discovery says $got for $url"; fi
af_stop pid

af_start pid any "$authflowd" -c "$tmp/plain.json" --listen 0.0.0.0:0 || exit 1
case $url in
http://localhost:*) ok "a wildcard bind derives $url" ;;
*) fail "--listen 0.0.0.0:0 gave $url" ;;
esac
af_stop pid
if grep -q "listening on every address (0.0.0.0:0): the issuer is $url" "$tmp/any.err" &&
    grep -q -- "--issuer" "$tmp/any.err"; then
    ok "a wildcard bind says which issuer it derived"
else
    fail "a wildcard bind did not say which issuer it derived:"
    cat "$tmp/any.err"
fi

af_start pid behind "$authflowd" -c "$tmp/plain.json" --listen 127.0.0.1:0 \
    --issuer https://auth.example.test || exit 1
af_stop pid
if grep -q "warn.*the issuer https://auth.example.test is https:// but 127.0.0.1:0 serves plain http" "$tmp/behind.err"; then
    ok "an https issuer on a plain listener warns"
else
    fail "an https issuer on a plain listener did not warn:"
    cat "$tmp/behind.err"
fi
config "$tmp/proxy.json" '{"proxy": true}'
af_start pid proxied "$authflowd" -c "$tmp/proxy.json" --listen 127.0.0.1:0 \
    --issuer https://auth.example.test || exit 1
af_stop pid
if [ "$url" = https://auth.example.test ] && ! grep -q "warn" "$tmp/proxied.err"; then
    ok "tls.proxy: the https issuer is intended, no warning"
else
    fail "with tls.proxy: issuer $url, stderr:"
    cat "$tmp/proxied.err"
fi

# expect_refusal NAME STATUS PATTERN CMD...: CMD exits STATUS and its
# stderr matches PATTERN.
expect_refusal() {
    _n=$1 _st=$2 _pat=$3
    shift 3
    "$@" >"$tmp/$_n.out" 2>"$tmp/$_n.err" </dev/null
    _rc=$?
    if [ $_rc -eq "$_st" ] && grep -q -- "$_pat" "$tmp/$_n.err"; then
        ok "$_n: exit $_rc, $(head -n 1 "$tmp/$_n.err")"
    else
        fail "$_n: exit $_rc (wanted $_st and /$_pat/):"
        cat "$tmp/$_n.err"
    fi
}

config "$tmp/http-issuer.json" '{"generate": true}' http://localhost:9000
expect_refusal http-issuer-config 2 'issuer: an http:// issuer on a listener that serves https' \
    "$authflowd" -c "$tmp/http-issuer.json" --check-config
config "$tmp/gen.json" '{"generate": true}'
expect_refusal http-issuer-flag 1 'the issuer http://localhost:1 is http:// but the listener serves https' \
    "$authflowd" -c "$tmp/gen.json" --listen 127.0.0.1:0 --issuer http://localhost:1

# ---- 2. a certificate from files
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null || exit 1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=other -keyout "$tmp/other-key.pem" -out "$tmp/other.pem" 2>/dev/null || exit 1
config "$tmp/files.json" "{\"cert_file\": \"$tmp/cert.pem\", \"key_file\": \"$tmp/key.pem\"}"
af_start pid files "$authflowd" -c "$tmp/files.json" --listen localhost:0 || exit 1
if [ "$(curl -sS --max-time 10 --cacert "$tmp/cert.pem" -o /dev/null -w '%{http_code}' "$url/healthz")" = 200 ]; then
    ok "tls.cert_file: $url/healthz answers 200 trusting that certificate"
else
    fail "tls.cert_file: no 200 from $url/healthz"
fi
af_stop pid
config "$tmp/mismatch.json" "{\"cert_file\": \"$tmp/cert.pem\", \"key_file\": \"$tmp/other-key.pem\"}"
expect_refusal mismatched-key 2 "the key in $tmp/other-key.pem is not the key of the certificate in $tmp/cert.pem" \
    "$authflowd" -c "$tmp/mismatch.json" --check-config
expect_refusal mismatched-key-start 2 "is not the key of the certificate" \
    "$authflowd" -c "$tmp/mismatch.json" --listen 127.0.0.1:0
config "$tmp/lone.json" "{\"cert_file\": \"$tmp/cert.pem\"}"
expect_refusal lone-cert 2 'tls.key_file: cert_file and key_file go together' \
    "$authflowd" -c "$tmp/lone.json" --check-config

# ---- 3. the generated local CA
af_start pid gen1 "$authflowd" -c "$tmp/gen.json" --listen localhost:0 || exit 1
ca=$AUTHFLOW_STATE_DIR/tls-ca.pem
if [ -f "$ca" ] && grep -q "tls: made a local CA; clients trust authflowd's certificates with $ca" "$tmp/gen1.err"; then
    ok "tls.generate writes the CA certificate to the state folder and says where"
else
    fail "no CA at $ca or no line saying so:"
    cat "$tmp/gen1.err"
fi
if grep -q "^#   tls:       clients trust $ca " "$tmp/gen1.out"; then
    ok "the banner names the CA file to trust"
else
    fail "no banner line names the CA file:"
    cat "$tmp/gen1.out"
fi
cp "$ca" "$tmp/ca-first.pem"
got=$(discovered_issuer "$url" --cacert "$ca")
case $url in https://localhost:*) ;; *) fail "tls.generate gave the issuer $url" ;; esac
if [ "$got" = "$url" ]; then ok "discovery over https trusting the CA: issuer $got"; else fail "discovery over https: '$got'"; fi
curl -sS --max-time 10 -o /dev/null "$url/healthz" 2>"$tmp/untrusted.err"
crc=$?
if [ $crc -eq 60 ]; then ok "curl without the CA fails on the certificate (exit 60)"; else fail "curl without the CA exited $crc"; fi
echo | openssl s_client -connect "127.0.0.1:${url##*:}" -servername localhost 2>/dev/null |
    openssl x509 -noout -serial >"$tmp/serial1" 2>/dev/null
af_stop pid
af_start pid gen2 "$authflowd" -c "$tmp/gen.json" --listen localhost:0 || exit 1
echo | openssl s_client -connect "127.0.0.1:${url##*:}" -servername localhost 2>/dev/null |
    openssl x509 -noout -serial >"$tmp/serial2" 2>/dev/null
if cmp -s "$ca" "$tmp/ca-first.pem" && ! grep -q "made a local CA" "$tmp/gen2.err" &&
    [ "$(curl -sS --max-time 10 --cacert "$ca" -o /dev/null -w '%{http_code}' "$url/healthz")" = 200 ]; then
    ok "a restart keeps the CA, which still verifies the new start's certificate"
else
    fail "the CA changed over a restart, or no longer verifies:"
    cat "$tmp/gen2.err"
fi
if [ -s "$tmp/serial1" ] && [ -s "$tmp/serial2" ] && ! cmp -s "$tmp/serial1" "$tmp/serial2"; then
    ok "each start serves a new server certificate ($(cat "$tmp/serial2"))"
else
    fail "the server certificate did not change over a restart"
fi
echo | openssl s_client -connect "127.0.0.1:${url##*:}" -servername localhost 2>/dev/null |
    openssl x509 >"$tmp/leaf.pem" 2>/dev/null
if openssl verify -CAfile "$ca" -purpose sslserver "$tmp/leaf.pem" >/dev/null 2>&1; then
    ok "openssl verify: the server certificate chains to the CA for TLS server use"
else
    fail "openssl verify refuses the server certificate"
fi

# ---- 4. the AS suite over https
"$authprobe" as --suites-dir "$srcdir/conf/suites" --target "$srcdir/conf/targets/authflowd.json" \
    --issuer "$url" --cacert "$ca" --report "json:$tmp/as-https.json" >"$tmp/as-https.log" 2>&1
rc=$?
if [ $rc -eq 0 ] &&
    python3 "$judge" pass "$tmp/as-https.json" --allow-skip "$af_as_not_pass"; then
    ok "the AS suite passes over https with --cacert (AS-40a on an https issuer)"
else
    fail "the AS suite over https (authprobe exit $rc):"
    sed 's/^/    /' "$tmp/as-https.log"
fi
"$authprobe" as --suites-dir "$srcdir/conf/suites" --target "$srcdir/conf/targets/authflowd.json" \
    --issuer "$url" --only AS-40a,AS-01 --report "json:$tmp/as-untrusted.json" \
    >"$tmp/as-untrusted.log" 2>&1
rc=$?
if [ $rc -eq 3 ] && ! python3 "$judge" summary "$tmp/as-untrusted.json" | grep -q ' pass$'; then
    ok "without --cacert the probe cannot reach the target (exit 3), nothing passes"
else
    fail "without --cacert: authprobe exit $rc:"
    sed 's/^/    /' "$tmp/as-untrusted.log"
fi
af_stop pid

# ---- 5. RS-16 against authflowd's userinfo, over https only and dual
# rs16 NAME API_URL ADMIN: run RS-16 with tokens from ADMIN.
rs16() {
    "$authprobe" rs --suites-dir "$srcdir/conf/suites" --target "$srcdir/tests/data/https/rs-userinfo.json" \
        --issuer "$issuer" --admin "$3" --cacert "$ca" --var "api=$2" --only RS-16 \
        --report "json:$tmp/$1.json" >"$tmp/$1.log" 2>&1
    rc=$?
    result=$(python3 "$judge" summary "$tmp/$1.json" 2>/dev/null | awk '$1 == "RS-16" { print $2 }')
}
"$authflowd" -c "$tmp/gen.json" --listen localhost:0 --admin-listen 127.0.0.1:0 \
    --ready-file "$tmp/ready" >"$tmp/rs.out" 2>"$tmp/rs.err" </dev/null &
pid=$!
af_wait_url "$tmp/ready" "$pid" 300 0.05 || { fail "authflowd did not start"; cat "$tmp/rs.err"; exit 1; }
issuer=$url admin=$(sed -n 2p "$tmp/ready")
rs16 rs16-https "$issuer" "$admin"
if [ "$result" = pass ] && [ $rc -eq 0 ]; then
    ok "RS-16 passes on https only"
else
    fail "RS-16 on https only: $result (exit $rc)"
    sed 's/^/    /' "$tmp/rs16-https.log"
fi
# A second authflowd with the same keys (the state folder) and issuer
# answers plain http; dual_port.py puts both on one port.
"$authflowd" -c "$tmp/plain.json" --listen 127.0.0.1:0 --issuer "$issuer" \
    --ready-file "$tmp/ready-plain" >"$tmp/plain.out" 2>"$tmp/plain.err" </dev/null &
plain_pid=$!
af_procs="pid dual_pid plain_pid"
af_wait_url "$tmp/ready-plain" "$plain_pid" 300 0.05 || { fail "the plain authflowd did not start"; exit 1; }
# its ready file names the issuer it was given: the port is in its log
plain=127.0.0.1:$(sed -n 's/.*info  listening on port \([0-9]*\),.*/\1/p' "$tmp/plain.err")
python3 "$dual" --tls "127.0.0.1:${issuer##*:}" --plain "$plain" >"$tmp/dual.out" 2>"$tmp/dual.err" &
dual_pid=$!
i=0
while [ ! -s "$tmp/dual.out" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
dport=$(head -n 1 "$tmp/dual.out")
rs16 rs16-dual "https://localhost:$dport" "$admin"
if [ "$result" = fail ] && [ $rc -eq 1 ]; then
    ok "RS-16 fails when the same port also answers plain http"
else
    fail "RS-16 with plain http on the same port: $result (exit $rc)"
    sed 's/^/    /' "$tmp/rs16-dual.log"
fi

echo "https: $failures failed"
[ $failures -eq 0 ]
