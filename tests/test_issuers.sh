#!/bin/sh
# test_issuers.sh - several issuers in one authflowd (docs/issuers.md):
# routing by path and isolation between issuers (tests/integration/
# test_issuers.py), then the whole server integration suite (test_server.py)
# again with its issuer as the element of "issuers" at /tenant-a, under a
# top level holding a decoy of every client, so that every endpoint, error
# and cookie of an issuer with a path is checked as the top level's are.
# openid-client (test_interop.sh) and passport-tiktok-auth
# (test_personas.sh) log in through an issuer with a path as well.
#
# Exit: 0 pass, 1 fail, 77 skip (no python3), 99 hard error.
# Environment (set by `make check`): AF_SRCDIR, AF_BUILDDIR.

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
af_need python3
af_tmpdir af-issuers 99
# the page shows the shipped example as it is (the tests run that file)
af_doc_example docs/issuers.md conf/issuers.json
AF_SRCDIR=$srcdir AF_BUILDDIR=${AF_BUILDDIR:-$(pwd)}
export AF_SRCDIR AF_BUILDDIR

python3 -B "$srcdir/tests/integration/test_issuers.py"
rc=$?
[ $rc -eq 99 ] && exit 99
[ $rc -ne 0 ] && failures=$((failures + 1))
AF_IT_ISSUER_PATH=/tenant-a python3 -B "$srcdir/tests/integration/test_server.py"
rc=$?
[ $rc -eq 99 ] && exit 99
[ $rc -ne 0 ] && failures=$((failures + 1))
af_exit
