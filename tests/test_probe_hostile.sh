#!/bin/sh
# test_probe_hostile.sh - authprobe against a hostile server (issue 15).
#
# tests/fixtures/hostile_server.py misbehaves in one mode per run: bodies
# huge or without end, redirect loops, a gzip bomb, JSON nested 400,000
# deep, answers dripped one byte at a time, 10,000 headers, a 1 MiB header,
# invalid UTF-8, NULs and terminal escapes in Location, headers, JSON and
# HTML. For every mode:
#   as   `authprobe as` with the server as the authorization server (its
#        discovery document valid, everything else hostile), then again as
#        the issuer URL/hostile, whose discovery document is hostile too;
#   rs   `authprobe rs` with the server as the protected API (tokens from a
#        real authflowd's admin API).
# Each run must end by itself within its bound of time (RUN_SECONDS) and
# memory (MAX_RSS_MB, the maximum resident set from wait4), with a status a
# target can cause (0, 1 or 3, docs/probe.md "Exit status"), never a
# signal; and every report it wrote must be well-formed: JSON loaded by
# python's json, JUnit parsed by xml.etree, TAP read by `prove` without
# parse errors (skipped when prove is missing), and the TAP, text report
# and terminal output UTF-8 text without control characters
# (tests/fixtures/hostile_check.py, which also reads the TAP with `prove`
# when it is there). A run whose discovery fails writes no report (exit
# 3); its terminal output is checked all the same.
#
# The dripping modes cost each request the per-request timeout: they run
# a few checks only, with --timeout 500 ms (a run's time is at most the
# requests it sends times the timeout).
#
# Run by `make check`; by hand from the build tree:
#   AF_SRCDIR=/path/to/src sh tests/test_probe_hostile.sh [MODE...]
# Exit 77 (skip) without python3. Every server binds 127.0.0.1:0 and is
# stopped by PID.
set -u

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
builddir=${AF_BUILDDIR:-$srcdir}
authflowd=$builddir/authflowd
authprobe=$builddir/authprobe
hostile=$srcdir/tests/fixtures/hostile_server.py
judge=$srcdir/tests/fixtures/hostile_check.py
RUN_SECONDS=${AF_HOSTILE_SECONDS:-90}
MAX_RSS_MB=${AF_HOSTILE_MAX_RSS_MB:-256}
# Under AddressSanitizer freed memory sits in its quarantine (256 MiB by
# default) and counts in the RSS: keep it small so that the bound still
# measures what the probe holds.
if [ -n "${ASAN_OPTIONS:-}" ]; then
    ASAN_OPTIONS=$ASAN_OPTIONS:quarantine_size_mb=16
    export ASAN_OPTIONS
fi

af_need python3
# the interpreter itself, once: a version manager's python3 shim costs a
# quarter of a second a call, and this test makes sixty
py=$(python3 -c 'import sys; print(sys.executable)') || exit 1
af_built 1 FAIL "$authflowd" "$authprobe"
af_tmpdir af-hostile 1
af_procs="srv_pid afd_pid"
modes=$*
[ -n "$modes" ] || modes=$("$py" "$hostile" --list | cut -f1)

# The rs runs mint their tokens at a real authflowd.
af_authflowd_admin "$srcdir/tests/data/rs/authflowd-rs.json" "$tmp/ready" \
    "$tmp/authflowd.out" "$tmp/authflowd.err" || {
    echo "FAIL: authflowd did not start"
    cat "$tmp/authflowd.err"
    exit 1
}

# probe NAME ARGS...: run authprobe ARGS with every report under
# $tmp/NAME.*, bounded, and judge its status and reports.
probe() {
    _n=$1
    shift
    printf '%-32s ' "$_n"
    "$py" "$judge" "$tmp/$_n" "$RUN_SECONDS" "$MAX_RSS_MB" "$authprobe" "$@" --color=never || {
        echo "FAIL: $_n"
        tail -n 5 "$tmp/$_n.log"
        failures=$((failures + 1))
    }
}

for mode in $modes; do
    case $mode in
    drip*)
        # a few checks: every request waits for the timeout
        limit="--timeout 500 --only AS-01,AS-02,AS-03a"
        rlimit="--timeout 500 --only RS-01,RS-02"
        ;;
    *)
        limit="--timeout 2s"
        rlimit="--timeout 2s"
        ;;
    esac
    af_start srv_pid "hostile-$mode" "$py" "$hostile" --mode "$mode" || {
        failures=$((failures + 1))
        continue
    }
    for issuer_url in "$url" "$url/hostile"; do
        name=as-$mode
        [ "$issuer_url" = "$url" ] || name=as-discovery-$mode
        # shellcheck disable=SC2086 # limit is a list of options
        probe "$name" as --suites-dir "$srcdir/conf/suites" \
            --target "$srcdir/conf/targets/authflowd.json" --issuer "$issuer_url" $limit
    done
    # shellcheck disable=SC2086 # rlimit is a list of options
    probe "rs-$mode" rs --suites-dir "$srcdir/conf/suites" \
        --target "$srcdir/conf/targets/rs-flawed.json" --issuer "$issuer" \
        --admin "$admin" --var "api=$url" $rlimit
    af_stop srv_pid
done

[ "$failures" -eq 0 ] || {
    echo "FAIL: $failures hostile runs"
    exit 1
}
echo "PASS: every run bounded, every report well-formed"
