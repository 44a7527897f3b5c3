#!/bin/sh
# bootstrap.sh - the newcomer's entry point: install what is missing, build,
# then either start the mock provider or run the whole test suite.
# `./bootstrap.sh --help` prints the usage of every command.
#
# Debian 12 packages are installed with apt-get when something is missing
# (as root, or through sudo when it is there). tests/test_bootstrap.sh
# sources this file with AF_BOOTSTRAP_LIB=1, which defines the functions
# below and runs nothing, to try `serve` on a build of its own.
set -eu

top=$(cd "$(dirname "$0")" && pwd)

usage() {
    cat <<'USAGE'
usage: ./bootstrap.sh [COMMAND] [OPTIONS]

Installs the Debian 12 packages that are missing (apt-get, as root or
through sudo), builds into _build/, then runs COMMAND:

  serve [AUTHFLOWD OPTIONS]
        Start authflowd. Without options: the shipped configuration
        (conf/authflowd.json) on 127.0.0.1:9000. The options go to authflowd
        as they are (_build/authflowd --help lists them all), for instance:
          --listen ADDR:PORT    another address (port 0: a free one)
          --config FILE         another configuration, served on the address
                                it names unless --listen is given too
          --admin-listen ADDR:PORT, --issuer URL, --ready-file PATH,
          --log-level LEVEL
        e.g. ./bootstrap.sh serve --listen 127.0.0.1:9100 --config my.json
  check [--sanitize]
        Run the whole test suite (make check); the default COMMAND.
        --sanitize: the same, built with AddressSanitizer and
        UndefinedBehaviorSanitizer into _build-san/.
  build
        Only build (_build/authflowd, _build/authprobe).
  help, --help, -h
        Print this help; installs and builds nothing.
USAGE
}

# Build tools and libraries (Debian 12 names).
# libhiredis-dev: the Redis store for replicas (docs/replicas.md), optional
# to configure but built by default here.
build_pkgs="gcc make autoconf automake pkg-config libssl-dev libmicrohttpd-dev \
libcurl4-openssl-dev libjansson-dev libhiredis-dev check"
# Test peers: python3 runs the integration tests, node/npm the interop ones;
# pytest, pip and setuptools run and install contrib/pytest-authflow
# (tests/data/pytest-authflow/debian-packages); chromium the inspector
# page's (tests/test_inspector_browser.sh); redis-server and haproxy the
# replicas' (tests/test_replicas.sh). node and npm come from Debian only
# when the machine has none (node_pkgs).
test_pkgs="python3 curl ca-certificates python3-pytest python3-pip python3-setuptools chromium \
redis-server haproxy"
node_pkgs="nodejs npm"
# The truth corpus (tests/corpus/): real apps, servers and APIs on libraries
# nobody here wrote, from Debian's packages (each folder's debian-packages).
corpus_pkgs="python3-authlib python3-flask python3-django python3-requests python3-fastapi \
python3-uvicorn python3-jwt python3-starlette python3-pydantic python3-cryptography \
python3-multipart python3-passlib python3-bcrypt python3-djangorestframework \
python3-djangorestframework-simplejwt"

# The container image's test (tests/test_container.sh): its root file
# system by mmdebstrap, the compose file read with PyYAML, a network
# namespace's loopback brought up with ip.
container_pkgs="mmdebstrap python3-yaml iproute2"

missing_pkgs() {
    miss=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            miss="$miss $p"
    done
    echo "$miss"
}

install_pkgs() {
    miss=$(missing_pkgs "$@")
    [ -z "$miss" ] && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "bootstrap.sh: please install:$miss" >&2
        return 1
    fi
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "bootstrap.sh: installing:$miss" >&2
    $sudo apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $miss >&2
}

have_cmd_or_pkg() {
    # node may come from elsewhere than Debian (e.g. a newer one on PATH).
    command -v "$1" >/dev/null 2>&1
}

# ensure_node: the interop peers (oidc-provider, express-openid-connect)
# need node 20.19 or later; Debian 12 ships 18. Then a newer node comes
# from the npm registry's own `node` package into a project-local prefix
# (_tools/, ignored by git) that goes first on PATH for the tests.
node_ok() {
    node -e 'const [a, b] = process.versions.node.split(".").map(Number);
        process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' 2>/dev/null
}

ensure_node() {
    command -v node >/dev/null 2>&1 || return 0
    node_ok && return 0
    prefix="$top/_tools/node"
    if [ ! -x "$prefix/node_modules/.bin/node" ]; then
        echo "bootstrap.sh: node $(node --version) is too old for the interop tests;" \
            "installing node 22 from the npm registry into _tools/" >&2
        npm install --no-audit --no-fund --loglevel=error --prefix "$prefix" node@22 >&2 || return 0
    fi
    PATH="$prefix/node_modules/.bin:$PATH"
    export PATH
}

build() {
    dir=$1
    shift
    install_pkgs $build_pkgs
    if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ] ||
        [ "$top/Makefile.am" -nt "$top/configure" ]; then
        (cd "$top" && autoreconf -fi)
    fi
    mkdir -p "$dir"
    if [ ! -f "$dir/Makefile" ] || [ "$top/configure" -nt "$dir/Makefile" ]; then
        (cd "$dir" && "$top/configure" --quiet "$@")
    fi
    make -C "$dir" -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
}

# serve AUTHFLOWD [ARGS...]: run AUTHFLOWD (exec) with ARGS, adding the
# shipped configuration when ARGS name none, and 127.0.0.1:9000 when they
# name neither a configuration nor an address (a configuration of one's own
# is served where it says).
serve() {
    bin=$1
    shift
    has_config=no has_listen=no
    for a in "$@"; do
        case "$a" in
        -c | -c?* | --config | --config=*) has_config=yes ;;
        -l | -l?* | --listen | --listen=*) has_listen=yes ;;
        esac
    done
    if [ "$has_config" = no ]; then
        [ "$has_listen" = yes ] || set -- --listen 127.0.0.1:9000 "$@"
        set -- --config "$top/conf/authflowd.json" "$@"
    fi
    exec "$bin" "$@"
}

check() {
    sanitize=no
    for a in "$@"; do
        case "$a" in
        --sanitize) sanitize=yes ;;
        *)
            echo "bootstrap.sh: check: unknown option $a" >&2
            usage >&2
            exit 2
            ;;
        esac
    done
    # shellcheck disable=SC2086 # a list of package names
    install_pkgs $test_pkgs
    if ! have_cmd_or_pkg node || ! have_cmd_or_pkg npm; then
        # shellcheck disable=SC2086 # a list of package names
        install_pkgs $node_pkgs
    fi
    # shellcheck disable=SC2086 # a list of package names
    install_pkgs $corpus_pkgs $container_pkgs
    ensure_node
    if [ "$sanitize" = yes ]; then
        san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
        build "$top/_build-san" CFLAGS="-O1 -g $san" LDFLAGS="$san"
        dir="$top/_build-san"
        export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
        export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    else
        build "$top/_build"
        dir="$top/_build"
    fi
    if ! make -C "$dir" -j"$(nproc 2>/dev/null || echo 2)" check; then
        for f in "$dir"/tests/*.log; do
            case "$f" in */test-suite.log) continue ;; esac
            grep -q '^FAIL\|^ERROR' "${f%.log}.trs" 2>/dev/null && { echo "=== $f"; tail -n 60 "$f"; }
        done
        exit 1
    fi
}

main() {
    cmd=${1:-check}
    [ $# -gt 0 ] && shift
    case "$cmd" in
    help | --help | -h)
        usage
        ;;
    build)
        if [ $# -gt 0 ]; then
            echo "bootstrap.sh: build: unknown option $1" >&2
            usage >&2
            exit 2
        fi
        build "$top/_build"
        ;;
    serve)
        build "$top/_build"
        serve "$top/_build/authflowd" "$@"
        ;;
    check)
        check "$@"
        ;;
    *)
        echo "bootstrap.sh: unknown command $cmd" >&2
        usage >&2
        exit 2
        ;;
    esac
}

[ -n "${AF_BOOTSTRAP_LIB:-}" ] || main "$@"
