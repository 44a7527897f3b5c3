#!/bin/sh
# test_personas.sh - authflowd's provider personas (docs/personas.md)
# against clients nobody here wrote: for each persona a passport strategy
# from npm (passport-tiktok-auth, passport-github2,
# passport-google-oauth20; pinned in tests/interop/personas/), configured
# only by its endpoint URL options, logs in and reads the user (login.js),
# and for Google openid-client set up by discovery alone; then the
# refusals and scenarios in the provider's exact shape, minted tokens at
# the user API, Google's refresh-token and consent rules (negative.js).
# Each persona runs against its own authflowd on 127.0.0.1:0 with
# tests/data/personas/PERSONA.json.
#
# Exit: 0 pass, 1 fail, 77 skip (only when node or npm are absent), 99 hard
# error (no authflowd binary, npm ci failed).
#
# Environment (set by `make check`): AF_SRCDIR, AF_BUILDDIR.

set -u

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
builddir=${AF_BUILDDIR:-$(pwd)}
authflowd=${AF_AUTHFLOWD:-$builddir/authflowd}
pkgsrc=$srcdir/tests/interop/personas
# node_modules lives in the build tree, never in the source tree.
pdir=$builddir/tests/interop/personas
failures=0

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "SKIP: node and npm are needed for the persona interop test"
    exit 77
fi
if [ ! -x "$authflowd" ]; then
    echo "ERROR: $authflowd is not built"
    exit 99
fi

af_tmpdir af-personas 99
af_procs=afd_pid
af_npm_ci "$pkgsrc" "$pdir" passport-google-oauth20 99 ERROR "the persona interop clients"

# Each persona as the only issuer, then the TikTok persona as an element of
# "issuers" at /tiktok: the same library, the same checks, under a path.
for persona in tiktok github tiktok/tiktok google; do
    name=${persona%%/*} path='' tag=$(echo "$persona" | tr / -)
    [ "$persona" != "$name" ] && path=/${persona#*/}
    cfg=$srcdir/tests/data/personas/$name.json
    if [ -n "$path" ]; then
        af_nest_config "$cfg" "$path" "$tmp/$name-nested.json" || { fail "$persona: cannot nest"; continue; }
        cfg=$tmp/$name-nested.json
    fi
    persona=$name
    if ! af_authflowd_admin "$cfg" "$tmp/$tag.ready" "$tmp/$tag.out" "$tmp/$tag.err"; then
        cat "$tmp/$tag.err"
        fail "$persona$path: authflowd did not start"
        continue
    fi
    issuer=$issuer$path admin=$admin$path
    echo "--- $persona at $issuer"
    # the client, and what the user the library read must show
    case $persona in
    tiktok) client="tt-app tt-secret" want='"unionId":"u-alice"' ;;
    github) client="gh-app gh-secret" want='"username":"octocat"' ;;
    google) client="gg-app.apps.googleusercontent.com gg-secret"
        want='"id":"110248495921238986420","displayName":"Alice Example"' ;;
    esac
    # shellcheck disable=SC2086 # the client's id and secret
    out=$(NODE_PATH="$pdir/node_modules" node "$pkgsrc/login.js" "$persona" "$issuer" $client \
        http://127.0.0.1:5555/cb)
    echo "$out"
    case $out in
    '{"ok":true'*"$want"*) ;;
    *) fail "$persona$path: the library's login did not complete, or not as $want" ;;
    esac
    # Google: passport's offline login (its first consent) brings a
    # refresh token; openid-client finds the endpoints by discovery
    if [ "$persona" = google ]; then
        case $out in
        *'"refresh":true'*) ;;
        *) fail "google: no refresh token for passport's access_type=offline" ;;
        esac
        # shellcheck disable=SC2086 # the client's id and secret
        out=$(NODE_PATH="$pdir/node_modules" node "$pkgsrc/login.js" google-oidc "$issuer" \
            $client http://127.0.0.1:5555/cb)
        echo "$out"
        case $out in
        '{"ok":true'*'"hd":"example.com"'*) ;;
        *) fail "google: openid-client's login by discovery did not complete" ;;
        esac
    fi
    if ! NODE_PATH="$pdir/node_modules" node "$pkgsrc/negative.js" "$persona" "$issuer" \
        "$admin" >"$tmp/$tag.neg" 2>&1; then
        fail "$persona$path: refusals and scenarios"
    fi
    cat "$tmp/$tag.neg"
    af_stop afd_pid
done

af_exit
