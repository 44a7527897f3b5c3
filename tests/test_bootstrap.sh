#!/bin/sh
# test_bootstrap.sh - bootstrap.sh's usage and its `serve` command, without
# installing or building anything:
#
# - `--help` (and `help`, `-h`) prints the usage of every command and exits
#   0; an unknown command or option exits 2 with the usage on stderr; none
#   of them reaches apt-get, sudo, dpkg-query, autoreconf or make (stubs
#   on the PATH record any call);
# - `serve`'s arguments, with a stub authflowd that prints them: none gives
#   the README's shipped config on 127.0.0.1:9000; --listen keeps the
#   shipped config; --config FILE alone lets the file say where to listen;
#   everything else is passed through as it is;
# - `serve --listen 127.0.0.1:0 --config FILE --ready-file PATH` with this
#   build's authflowd serves FILE's clients on a free port.
# `serve` is run from bootstrap.sh's own functions (AF_BOOTSTRAP_LIB=1), so
# that the build step, which installs packages, is left out.
#
# Exit: 0 pass, 1 fail, 99 hard error.
# Environment (set by `make check`): AF_SRCDIR, AF_BUILDDIR.

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${AF_BUILDDIR:-$(pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
authflowd=$builddir/authflowd
af_built 99 ERROR "$authflowd"
af_need curl
af_tmpdir authflow-bootstrap 99
af_procs=afd_pid

# Stubs for everything that installs or builds: each records its call.
mkdir "$tmp/stubs"
for t in apt-get sudo dpkg-query autoreconf make npm; do
    printf '#!/bin/sh\necho "%s $*" >>"%s/calls"\nexit 1\n' "$t" "$tmp" >"$tmp/stubs/$t"
    chmod +x "$tmp/stubs/$t"
done
bs() {
    PATH="$tmp/stubs:$PATH" sh "$srcdir/bootstrap.sh" "$@" >"$tmp/out" 2>"$tmp/err"
}

for h in --help help -h; do
    bs "$h"
    rc=$?
    if [ "$rc" -ne 0 ] || [ -s "$tmp/err" ]; then
        fail "bootstrap.sh $h: exit $rc, stderr: $(cat "$tmp/err")"
        continue
    fi
    for want in 'serve \[AUTHFLOWD OPTIONS\]' 'check \[--sanitize\]' '^  build' '--listen ADDR:PORT' \
        '--config FILE' '127.0.0.1:9000' 'help, --help, -h'; do
        grep -q -e "$want" "$tmp/out" || fail "bootstrap.sh $h: no \"$want\" in the usage"
    done
done
echo "ok: --help, help and -h print the usage of serve, check, build and help"

for args in "frobnicate" "check --bogus" "build --sanitize"; do
    # shellcheck disable=SC2086 # the words are the arguments
    bs $args
    rc=$?
    if [ "$rc" -eq 2 ] && grep -q '^usage: ' "$tmp/err" && [ ! -s "$tmp/out" ]; then
        echo "ok: bootstrap.sh $args: exit 2, usage on stderr"
    else
        fail "bootstrap.sh $args: exit $rc, expected 2 with the usage on stderr"
    fi
done
if [ -f "$tmp/calls" ]; then
    fail "installing or building was attempted: $(cat "$tmp/calls")"
fi

# serve's arguments, from bootstrap.sh's own serve().
printf '#!/bin/sh\nfor a in "$@"; do printf "%%s\\n" "$a"; done\n' >"$tmp/args"
chmod +x "$tmp/args"
# serve_args ARGS...: what serve passes to authflowd, one a line.
serve_args() {
    (
        AF_BOOTSTRAP_LIB=1
        # shellcheck source=bootstrap.sh
        . "$srcdir/bootstrap.sh"
        top=$srcdir
        serve "$tmp/args" "$@"
    ) | tr '\n' ' ' | sed 's/ $//'
}
shipped=$srcdir/conf/authflowd.json
check_args() {
    want=$1
    shift
    got=$(serve_args "$@")
    if [ "$got" = "$want" ]; then
        echo "ok: serve $*: authflowd $got"
    else
        fail "serve $*: authflowd $got, expected $want"
    fi
}
check_args "--config $shipped --listen 127.0.0.1:9000"
check_args "--config $shipped --listen 127.0.0.1:9100" --listen 127.0.0.1:9100
check_args "--config $shipped -l 127.0.0.1:9100 -v debug" -l 127.0.0.1:9100 -v debug
check_args "--config $shipped --listen=127.0.0.1:9100" --listen=127.0.0.1:9100
check_args "--config my.json" --config my.json
check_args "-c my.json --admin-listen 127.0.0.1:9001" -c my.json --admin-listen 127.0.0.1:9001
check_args "--listen 127.0.0.1:9100 --config=my.json" --listen 127.0.0.1:9100 --config=my.json
check_args "--config $shipped --listen 127.0.0.1:9000 --issuer http://localhost:9000 --check-config" \
    --issuer http://localhost:9000 --check-config

# A real serve on a free port with a config of its own: a client that only
# that config has gets a token.
cat >"$tmp/own.json" <<'EOF'
{
  "listen": "127.0.0.1:9000",
  "keys": [{"alg": "ES256"}],
  "clients": [{"client_id": "bootstrap-test", "client_secret": "bootstrap-secret",
               "grant_types": ["client_credentials"], "scope": "api.read"}]
}
EOF
(
    AF_BOOTSTRAP_LIB=1
    # shellcheck source=bootstrap.sh
    . "$srcdir/bootstrap.sh"
    top=$srcdir
    serve "$authflowd" --listen 127.0.0.1:0 --config "$tmp/own.json" --ready-file "$tmp/ready"
) >"$tmp/afd.out" 2>"$tmp/afd.err" </dev/null &
afd_pid=$!
if af_wait_url "$tmp/ready" "$afd_pid" 300 0.05; then
    case "$url" in
    http://127.0.0.1:9000) fail "serve --listen 127.0.0.1:0: served on 9000 anyway" ;;
    *) echo "ok: serve --listen 127.0.0.1:0 --config FILE: $url" ;;
    esac
    body=$(curl -s -u bootstrap-test:bootstrap-secret -d grant_type=client_credentials "$url/token")
    case "$body" in
    *'"access_token"'*) echo "ok: the config's own client gets a token" ;;
    *) fail "client_credentials with the config's client: $body" ;;
    esac
else
    fail "serve --listen 127.0.0.1:0 --config FILE did not start: $(cat "$tmp/afd.err")"
fi

af_exit
