#!/bin/sh
# test_replicas.sh - authflowd replicas sharing their state through Redis
# (store.redis, docs/replicas.md): tests/integration/test_replicas.py starts
# redis-server and haproxy from Debian on loopback ports and two or three
# replicas on 127.0.0.1:0, and checks that they are one provider (a code
# redeemed once across replicas, also concurrently; refresh rotation and
# reuse detection; revocations; the login page and sessions), that a Redis
# gone mid-run gives 503s and comes back, that a Redis that cannot be used
# stops the start, and that authprobe's AS suite passes through the
# balancer.
#
# Exit: 0 pass, 1 fail, 77 skip (redis-server, haproxy or python3 missing,
# or authflowd built without hiredis), 99 hard error.
# Environment (set by `make check`): AF_SRCDIR, AF_BUILDDIR.

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
af_need python3 redis-server haproxy
builddir=${AF_BUILDDIR:-$(pwd)}
if ! grep -q '^#define HAVE_HIREDIS 1' "$builddir/config.h" 2>/dev/null; then
    echo "SKIP: authflowd was built without hiredis (libhiredis-dev; ./configure --with-redis)"
    exit 77
fi
af_python_tests test_replicas.py "the replica tests"
