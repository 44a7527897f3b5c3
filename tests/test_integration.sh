#!/bin/sh
# test_integration.sh - run the integration tests (tests/integration/
# test_server.py: the real authflowd on 127.0.0.1:0, every endpoint and
# error of the server spec) from `make check`.
#
# Exit: 0 pass, 1 fail, 77 skip (no python3), 99 hard error.
# Environment (set by `make check`): AF_SRCDIR, AF_BUILDDIR. Extra
# arguments select tests, e.g. `tests/test_integration.sh T07Token`.

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${AF_BUILDDIR:-$(pwd)}

if ! command -v python3 >/dev/null 2>&1; then
    echo "SKIP: python3 is needed for the integration tests"
    exit 77
fi
AF_SRCDIR=$srcdir AF_BUILDDIR=$builddir
export AF_SRCDIR AF_BUILDDIR
exec python3 -B "$srcdir/tests/integration/test_server.py" "$@"
