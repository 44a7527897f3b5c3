#!/bin/sh
# test_node_helper.sh - the Node helper of contrib/node-authflow/ against
# the real authflowd:
#
# - its own tests (contrib/node-authflow/test/) and the node:test example,
#   with `node --test` from the source tree (the package requires itself by
#   name, as its users do);
# - the Jest example, with Jest pinned by tests/fixtures/jest/'s
#   package-lock.json and installed into the build tree, the helper
#   installed next to it from its `npm pack` tarball;
# - docs/testing-frameworks.md shows both examples as they are.
#
# Exit: 0 pass, 1 fail, 77 skip (node or npm absent, or node older than
# 20: bootstrap.sh provides a newer one), 99 hard error (npm ci failed).
# Environment (set by `make check`): AF_SRCDIR, AF_BUILDDIR; AF_CONFIG
# overrides the config (default: conf/authflowd.json).

set -u

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
builddir=${AF_BUILDDIR:-$(pwd)}
pkg=$srcdir/contrib/node-authflow
run=$builddir/tests/fixtures/jest-run
AUTHFLOWD=${AF_AUTHFLOWD:-$builddir/authflowd}
AUTHFLOWD_CONFIG=${AF_CONFIG:-$srcdir/conf/authflowd.json}
export AUTHFLOWD AUTHFLOWD_CONFIG

af_need node npm
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
    echo "SKIP: the helper needs node 20 or later, this is $(node --version)"
    exit 77
fi
af_built 99 ERROR "$AUTHFLOWD"
af_tmpdir af-node-helper 99

echo "== node --test: the helper's tests and the example"
node --test "$pkg/test/helper.test.js" "$pkg/examples/example.test.js" ||
    fail "node --test"

echo "== Jest"
af_npm_ci "$srcdir/tests/fixtures/jest" "$run" jest 99 ERROR "jest"
(cd "$pkg" && npm pack --silent --pack-destination "$tmp" >"$tmp/pack.out" 2>&1) || {
    cat "$tmp/pack.out"
    exit 99
}
rm -rf "$run/node_modules/authflow-testing"
mkdir -p "$run/node_modules/authflow-testing" || exit 99
tar -xzf "$tmp"/authflow-testing-*.tgz -C "$run/node_modules/authflow-testing" \
    --strip-components=1 || exit 99
cp "$pkg/examples/example.jest.test.js" "$run/" || exit 99
(cd "$run" && node node_modules/jest/bin/jest.js --ci --cacheDirectory "$tmp/jest-cache" \
    example.jest.test.js) || fail "jest"

af_doc_example docs/testing-frameworks.md contrib/node-authflow/examples/example.test.js
af_doc_example docs/testing-frameworks.md contrib/node-authflow/examples/example.jest.test.js
af_exit
