#!/bin/sh
# test_octokit.sh - GitHub's own client code against authflowd's GitHub
# persona (docs/personas.md): @octokit/oauth-methods and @octokit/request
# from npm (pinned in tests/interop/octokit/), configured only by the
# request's baseUrl, run the OAuth web flow (login.mjs): the authorization
# URL, the code exchange (Octokit posts a JSON body), the user and emails,
# and the refusals GitHub answers with status 200 (a reused code, a wrong
# secret), which Octokit must raise. Twice: the persona as the only issuer,
# and as the element of "issuers" at /github (docs/issuers.md). Then JSON
# bodies that are not an object of strings, refused in GitHub's way.
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
pkgsrc=$srcdir/tests/interop/octokit
# node_modules lives in the build tree, never in the source tree.
odir=$builddir/tests/interop/octokit-run

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "SKIP: node and npm are needed for the Octokit interop test"
    exit 77
fi
af_built 99 ERROR "$authflowd"
af_tmpdir af-octokit 99
af_procs=afd_pid
af_npm_ci "$pkgsrc" "$odir" @octokit/oauth-methods 99 ERROR "Octokit"
cp "$pkgsrc/login.mjs" "$odir/" || exit 99
echo "@octokit/oauth-methods $(node -p "require('$odir/node_modules/@octokit/oauth-methods/package.json').version"), node $(node --version)"

cfg=$srcdir/tests/data/personas/github.json
af_nest_config "$cfg" /github "$tmp/nested.json" || exit 99
for run in top nested; do
    path=''
    c=$cfg
    if [ $run = nested ]; then
        path=/github
        c=$tmp/nested.json
    fi
    if ! af_authflowd_admin "$c" "$tmp/$run.ready" "$tmp/$run.out" "$tmp/$run.err"; then
        cat "$tmp/$run.err"
        fail "$run: authflowd did not start"
        continue
    fi
    out=$(node "$odir/login.mjs" "$issuer$path" gh-app gh-secret http://127.0.0.1:5555/cb)
    echo "$run: $out"
    case $out in
    '{"ok":true'*) echo "PASS: $run: Octokit's web flow against the GitHub persona at $issuer$path" ;;
    *)
        fail "$run: Octokit's web flow did not complete"
        tail -n 20 "$tmp/$run.err"
        ;;
    esac
    if [ $run = top ]; then
        # a JSON body that is not an object of strings: GitHub's 200 with
        # invalid_request, never a token
        for body in '[1]' '{"client_id": 5}' '{"client_id":'; do
            got=$(curl -s -w ' %{http_code}' -X POST -H 'Content-Type: application/json' \
                -H 'Accept: application/json' -d "$body" "$issuer/login/oauth/access_token")
            case $got in
            *'"error":"invalid_request"'*' 200') echo "ok: JSON body $body refused: $got" ;;
            *) fail "JSON body $body: expected GitHub's 200 invalid_request, got $got" ;;
            esac
        done
    fi
    af_stop afd_pid
done
af_exit
