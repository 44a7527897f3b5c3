#!/bin/sh
# test_scenarios.sh - run the scenario and ledger integration tests
# (tests/integration/test_scenarios.py: every scenario of docs/scenarios.md
# checked from the outside, each way of selecting one, and the request
# ledger) from `make check`.
#
# Exit: 0 pass, 1 fail, 77 skip (no python3), 99 hard error.
# Environment (set by `make check`): AF_SRCDIR, AF_BUILDDIR. Extra
# arguments select tests, e.g. `tests/test_scenarios.sh S09Ledger`.

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
af_python_tests test_scenarios.py "the scenario tests" "$@"
