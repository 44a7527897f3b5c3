#!/bin/sh
# test_inspector_browser.sh - the inspector page (GET /admin/inspector) in
# headless Chromium (tests/integration/test_inspector_browser.py): a login
# through the login page, a scenario's flow and a client without PKCE, as
# the page shows them. Screenshots: tests/inspector-screens/ in the build
# tree.
#
# Exit: 0 pass, 1 fail, 77 skip (no python3, or no chromium: Debian's
# chromium package, which bootstrap.sh installs), 99 hard error.
# Environment (set by `make check`): AF_SRCDIR, AF_BUILDDIR; AF_CHROMIUM
# names another Chromium binary.

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
if [ -z "${AF_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then
    echo "SKIP: chromium is needed for the inspector page in a browser"
    exit 77
fi
af_python_tests test_inspector_browser.py "the inspector browser tests" "$@"
