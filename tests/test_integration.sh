#!/bin/sh
# test_integration.sh - run the integration tests (tests/integration/
# test_server.py: the real authflowd on 127.0.0.1:0, every endpoint and
# error of the server spec) from `make check`.
#
# Exit: 0 pass, 1 fail, 77 skip (no python3), 99 hard error.
# Environment (set by `make check`): AF_SRCDIR, AF_BUILDDIR. Extra
# arguments select tests, e.g. `tests/test_integration.sh T07Token`.

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
af_python_tests test_server.py "the integration tests" "$@"
