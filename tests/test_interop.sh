#!/bin/sh
# test_interop.sh - interop with a relying-party library nobody here wrote:
# openid-client 5.x (npm, pinned in tests/interop/openid-client/) logs in
# against a real authflowd on 127.0.0.1:0 with its default settings, five
# times: a confidential client (client_secret_basic, RS256), the same with
# an ES256 signing key, the same over https (tls.generate, the local CA
# trusted through NODE_EXTRA_CA_CERTS), the same with the issuer as the
# element of "issuers" at /tenant-a (docs/issuers.md: an issuer with a
# path), and the public client (token_endpoint_auth_method none). Then a signing key rotation through
# the admin API (rotation.js): the old key's tokens verify, with
# openid-client and jose, during the grace and fail after it.
#
# Exit: 0 pass, 1 fail, 77 skip (only when node or npm are absent), 99 hard
# error (no authflowd binary, npm install failed).
#
# Environment (set by `make check`): AF_SRCDIR, AF_BUILDDIR; AF_CONFIG
# overrides the base config (default: conf/authflowd.json).

set -u

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
builddir=${AF_BUILDDIR:-$(pwd)}
authflowd=${AF_AUTHFLOWD:-$builddir/authflowd}
pkgsrc=$srcdir/tests/interop/openid-client
# node_modules lives in the build tree, never in the source tree.
ocdir=$builddir/tests/interop/openid-client
shipped=${AF_CONFIG:-$srcdir/conf/authflowd.json}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "SKIP: node and npm are needed for the openid-client interop test"
    exit 77
fi
if [ ! -x "$authflowd" ]; then
    echo "ERROR: $authflowd is not built"
    exit 99
fi

af_tmpdir af-interop 99
redirect_opt= # extra login.js options of the next run_case (the native case)
af_procs=pid

# ---- install the pinned package (once; again when the pins change)
mkdir -p "$ocdir" || exit 99
# An in-tree build installs next to the sources (node_modules is ignored).
same_dir=no
[ "$(cd "$pkgsrc" && pwd -P)" = "$(cd "$ocdir" && pwd -P)" ] && same_dir=yes
if ! cmp -s "$pkgsrc/package-lock.json" "$ocdir/package-lock.json" ||
   ! cmp -s "$pkgsrc/package.json" "$ocdir/package.json" ||
   [ ! -f "$ocdir/node_modules/openid-client/package.json" ]; then
    if [ $same_dir = no ]; then
        cp "$pkgsrc/package.json" "$pkgsrc/package-lock.json" "$ocdir/" || exit 99
    fi
    echo "installing openid-client into $ocdir"
    if ! npm install --no-audit --no-fund --loglevel=error --prefix "$ocdir" >"$tmp/npm.log" 2>&1; then
        cat "$tmp/npm.log"
        echo "ERROR: npm install failed"
        [ $same_dir = no ] && rm -f "$ocdir/package-lock.json" # retry next time
        exit 99
    fi
fi
if [ $same_dir = no ]; then
    cp "$pkgsrc/login.js" "$pkgsrc/rotation.js" "$ocdir/" || exit 99
fi
ocver=$(node -p "require('$ocdir/node_modules/openid-client/package.json').version")
echo "openid-client $ocver, node $(node --version)"

# ---- configs: the shipped one, issuer from the bound address; the client
# under test gets the refresh_token grant the flow exercises.
# make_config OUT CLIENT_ID KEYS_JSON [CA_FILE]: with CA_FILE, served over
# https with a certificate of authflowd's local CA, written to CA_FILE.
make_config() {
    node -e '
        const fs = require("fs");
        const [src, out, id, keys, ca] = process.argv.slice(1);
        const cfg = JSON.parse(fs.readFileSync(src, "utf8"));
        delete cfg.issuer;
        delete cfg.listen;
        if (keys !== "") cfg.keys = JSON.parse(keys);
        if (ca) cfg.tls = { generate: true, ca_file: ca };
        const c = (cfg.clients || []).find((x) => x.client_id === id);
        if (!c) { console.error("no client " + id + " in " + src); process.exit(1); }
        c.grant_types = c.grant_types || ["authorization_code"];
        if (!c.grant_types.includes("refresh_token")) c.grant_types.push("refresh_token");
        fs.writeFileSync(out, JSON.stringify(cfg, null, 2));
    ' "$shipped" "$1" "$2" "$3" "${4:-}"
}

# pick_client confidential|public PREFERRED_ID...: the first preferred (else
# any) shipped client of that kind with the authorization_code grant;
# confidential means client_secret_basic, the openid-client default.
pick_client() {
    node -e '
        const cfg = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
        const kind = process.argv[2];
        const clients = cfg.clients || [];
        const fits = (c) => {
            const code = (c.grant_types || ["authorization_code"]).includes("authorization_code");
            const method = c.token_endpoint_auth_method || (c.client_secret ? "client_secret_basic" : "none");
            return code && method === (kind === "public" ? "none" : "client_secret_basic");
        };
        const preferred = process.argv.slice(3).map((id) => clients.find((c) => c.client_id === id));
        const c = preferred.find((x) => x && fits(x)) || clients.find(fits);
        if (c) console.log(c.client_id);
    ' "$shipped" "$@"
}

# run_case NAME CLIENT_ID ALG KEYS_JSON [https]: with https, authflowd
# serves TLS with a certificate of its local CA for the name "localhost"
# (the issuer as typed), which node trusts only through NODE_EXTRA_CA_CERTS
# and only for this login: the same login without it must fail.
passes=0
run_case() {
    name=$1 client=$2 alg=$3 keys=$4 scheme=${5:-http} ipath=${6:-}
    cfg=$tmp/$name.json
    ca= listen=127.0.0.1:0
    if [ "$scheme" = https ]; then
        ca=$tmp/$name-ca.pem listen=localhost:0
    fi
    if ! make_config "$cfg" "$client" "$keys" "$ca"; then
        echo "FAIL: $name: cannot build the config"
        failures=$((failures + 1))
        return
    fi
    served=$cfg
    if [ -n "$ipath" ]; then
        # the issuer as the element of "issuers" at ipath (docs/issuers.md)
        served=$tmp/$name-nested.json
        af_nest_config "$cfg" "$ipath" "$served" || {
            echo "FAIL: $name: cannot nest the config"
            failures=$((failures + 1))
            return
        }
    fi
    "$authflowd" --config "$served" --listen "$listen" >"$tmp/$name.out" 2>"$tmp/$name.err" &
    pid=$!
    if ! af_wait_url "$tmp/$name.out" "$pid" 150 0.1; then
        echo "FAIL: $name: authflowd did not start"
        cat "$tmp/$name.err"
        failures=$((failures + 1))
        af_stop pid
        return
    fi
    if [ "$scheme" = https ]; then
        case $url in
        https://localhost:*) ;;
        *)
            echo "FAIL: $name: issuer $url is not https://localhost:PORT"
            failures=$((failures + 1))
            ;;
        esac
        if node "$ocdir/login.js" --issuer "$url" --client-id "$client" --alg "$alg" \
            --from-config "$cfg" >"$tmp/$name.untrusted" 2>&1; then
            echo "FAIL: $name: the login succeeded without trusting authflowd's CA"
            failures=$((failures + 1))
        elif ! grep -q 'self-signed\|local issuer\|unable to verify' "$tmp/$name.untrusted"; then
            echo "FAIL: $name: without the CA the login failed, but not on the certificate:"
            cat "$tmp/$name.untrusted"
            failures=$((failures + 1))
        fi
    fi
    # shellcheck disable=SC2086 # $redirect_opt is empty or two words without spaces
    NODE_EXTRA_CA_CERTS=$ca node "$ocdir/login.js" --issuer "$url$ipath" --client-id "$client" \
        --alg "$alg" --from-config "$cfg" $redirect_opt >"$tmp/$name.result" 2>"$tmp/$name.node.err"
    judge $? login.js
}

# judge STATUS SCRIPT: stop authflowd ($pid), then count the case $name
# passed when SCRIPT exited 0 with "ok":true and authflowd stopped cleanly.
judge() {
    lrc=$1
    kill -TERM "$pid"
    wait "$pid"
    drc=$?
    pid=
    echo "$name: $(cat "$tmp/$name.result")"
    if [ "$lrc" -ne 0 ] || ! grep -q '"ok":true' "$tmp/$name.result"; then
        echo "FAIL: $name: $2 exited $lrc"
        cat "$tmp/$name.node.err"
        echo "--- authflowd stderr"
        cat "$tmp/$name.err"
        failures=$((failures + 1))
    elif [ $drc -ne 0 ]; then
        echo "FAIL: $name: authflowd exited $drc on SIGTERM"
        cat "$tmp/$name.err"
        failures=$((failures + 1))
    else
        echo "PASS: $name"
        passes=$((passes + 1))
    fi
}

confidential=$(pick_client confidential demo-app test-client)
public=$(pick_client public demo-spa)

if [ -z "$confidential" ]; then
    echo "FAIL: no confidential client_secret_basic client in $shipped"
    failures=$((failures + 1))
else
    run_case basic-rs256 "$confidential" RS256 ""
    run_case basic-es256 "$confidential" ES256 '[{"alg":"ES256"}]'
    run_case basic-https "$confidential" RS256 "" https
    # an issuer with a path: discovery, iss and every endpoint under it
    run_case basic-path "$confidential" ES256 '[{"alg":"ES256"}]' http /tenant-a
fi
if [ -z "$public" ]; then
    echo "FAIL: no public client in $shipped"
    failures=$((failures + 1))
else
    run_case public-none "$public" RS256 ""
fi

# A native app (RFC 8252 §7.3): the shipped demo-cli registers
# http://127.0.0.1/callback and logs in on the port the system gave it.
# openid-client sends that URI at /authorize and /token as any native app
# would. The same port on a web client (demo-spa's URI) must be refused.
free_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if [ -z "$free_port" ]; then
    echo "FAIL: no free loopback port for the native case"
    failures=$((failures + 1))
else
    redirect_opt="--redirect-uri http://127.0.0.1:$free_port/callback"
    run_case native-loopback-port demo-cli RS256 ""
    redirect_opt="--redirect-uri http://127.0.0.1:$free_port/callback"
    name=web-other-port
    make_config "$tmp/$name.json" demo-spa "" || exit 99
    "$authflowd" --config "$tmp/$name.json" --listen 127.0.0.1:0 >"$tmp/$name.out" 2>"$tmp/$name.err" &
    pid=$!
    if ! af_wait_url "$tmp/$name.out" "$pid" 150 0.1; then
        echo "FAIL: $name: authflowd did not start"
        failures=$((failures + 1))
    else
        # shellcheck disable=SC2086 # two words without spaces
        node "$ocdir/login.js" --issuer "$url" --client-id demo-spa --from-config "$tmp/$name.json" \
            $redirect_opt >"$tmp/$name.result" 2>&1
        lrc=$?
        if [ $lrc -eq 1 ] && grep -q '"ok":false' "$tmp/$name.result" &&
            grep -q 'is not registered for demo-spa' "$tmp/$name.err"; then
            echo "PASS: $name: a web client's URI on another port is refused"
            passes=$((passes + 1))
        else
            echo "FAIL: $name: login.js exited $lrc; a web client's URI on another port must be refused"
            cat "$tmp/$name.result" "$tmp/$name.err"
            failures=$((failures + 1))
        fi
    fi
    af_stop pid
    redirect_opt=
fi

# run_rotation CLIENT_ID: authflowd with its admin API on port 0; the
# admin URL is the ready file's second line.
run_rotation() {
    name=rotation client=$1
    cfg=$tmp/$name.json
    if ! make_config "$cfg" "$client" ""; then
        echo "FAIL: $name: cannot build the config"
        failures=$((failures + 1))
        return
    fi
    "$authflowd" --config "$cfg" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
        --ready-file "$tmp/$name.ready" >"$tmp/$name.out" 2>"$tmp/$name.err" &
    pid=$!
    if ! af_wait_url "$tmp/$name.ready" "$pid" 150 0.1 ||
        [ "$(wc -l <"$tmp/$name.ready")" -lt 2 ]; then
        echo "FAIL: $name: authflowd did not start"
        cat "$tmp/$name.err"
        failures=$((failures + 1))
        af_stop pid
        return
    fi
    admin=$(sed -n 2p "$tmp/$name.ready")
    node "$ocdir/rotation.js" --issuer "$url" --admin "$admin" --client-id "$client" \
        --from-config "$cfg" --alg RS256 --grace 3 >"$tmp/$name.result" 2>"$tmp/$name.node.err"
    judge $? rotation.js
}

[ -n "$confidential" ] && run_rotation "$confidential"

echo "interop: $passes passed, $failures failed"
[ $failures -eq 0 ]
