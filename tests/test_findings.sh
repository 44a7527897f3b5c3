#!/bin/sh
# test_findings.sh - run the findings integration tests (tests/integration/
# test_findings.py: GET /admin/findings, each finding and its negative
# case, the ledger's flow correlation) from `make check`.
#
# Exit: 0 pass, 1 fail, 77 skip (no python3), 99 hard error.
# Environment (set by `make check`): AF_SRCDIR, AF_BUILDDIR. Extra
# arguments select tests, e.g. `tests/test_findings.sh F05Replays`.

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
af_python_tests test_findings.py "the findings tests" "$@"
