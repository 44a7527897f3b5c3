#!/bin/sh
# test_slow.sh - run the slow and hostile client tests (tests/integration/
# test_slow.py: whole-request deadlines, a chunked body over the cap, more
# held connections than the limit, SIGTERM under keep-alive load) from
# `make check`.
#
# Exit: 0 pass, 1 fail, 77 skip (no python3), 99 hard error.
# Environment (set by `make check`): AF_SRCDIR, AF_BUILDDIR. Extra
# arguments select tests, e.g. `tests/test_slow.sh W03Drain`.

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
af_python_tests test_slow.py "the slow client tests" "$@"
