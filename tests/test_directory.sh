#!/bin/sh
# test_directory.sh - run the integration tests of clients and users
# changed at run time through the admin API (tests/integration/
# test_directory.py) from `make check`.
#
# Exit: 0 pass, 1 fail, 77 skip (no python3), 99 hard error.
# Environment (set by `make check`): AF_SRCDIR, AF_BUILDDIR. Extra
# arguments select tests, e.g. `tests/test_directory.sh D01Directory`.

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
af_python_tests test_directory.py "the run-time clients and users tests" "$@"
