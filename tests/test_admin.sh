#!/bin/sh
# test_admin.sh - run the admin API integration tests (tests/integration/
# test_admin.py: the admin listener, its secret, token minting with every
# defect, and `authprobe mint`) from `make check`.
#
# Exit: 0 pass, 1 fail, 77 skip (no python3), 99 hard error.
# Environment (set by `make check`): AF_SRCDIR, AF_BUILDDIR. Extra
# arguments select tests, e.g. `tests/test_admin.sh A04MintDefects`.

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
af_python_tests test_admin.py "the admin API tests" "$@"
