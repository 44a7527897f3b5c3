#!/bin/sh
# test_admin.sh - run the admin API integration tests (tests/integration/
# test_admin.py: the admin listener, its secret, token minting with every
# defect, and `authprobe mint`) from `make check`.
#
# Exit: 0 pass, 1 fail, 77 skip (no python3), 99 hard error.
# Environment (set by `make check`): AF_SRCDIR, AF_BUILDDIR. Extra
# arguments select tests, e.g. `tests/test_admin.sh A04MintDefects`.

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${AF_BUILDDIR:-$(pwd)}

if ! command -v python3 >/dev/null 2>&1; then
    echo "SKIP: python3 is needed for the admin API tests"
    exit 77
fi
AF_SRCDIR=$srcdir AF_BUILDDIR=$builddir
export AF_SRCDIR AF_BUILDDIR
exec python3 -B "$srcdir/tests/integration/test_admin.py" "$@"
