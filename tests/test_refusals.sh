#!/bin/sh
# test_refusals.sh - run tests/integration/test_refusals.py from `make
# check`: for each refusal of /token, /authorize, /login, /userinfo,
# /introspect, /revoke and /logout, authflowd's log line and the ledger's
# reason say precisely why; no secret in either; --log-format json.
#
# Exit: 0 pass, 1 fail, 77 skip (no python3), 99 hard error.
# Environment (set by `make check`): AF_SRCDIR, AF_BUILDDIR. Extra
# arguments select tests, e.g. `tests/test_refusals.sh R01Token`.

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
af_python_tests test_refusals.py "the refusal tests" "$@"
