#!/bin/sh
# tests/fuzz/run.sh [SECONDS [HARNESS...]] - run each harness built by
# `make fuzz` for SECONDS (default 20) on its seed corpus (tests/fuzz/
# seeds.py) and on the corpus it grew in earlier runs
# ($AF_BUILDDIR/tests/fuzz-out/corpus/, never committed). Prints one line per
# harness with libFuzzer's executions and corpus size. Exit 1 when any
# harness found a crash, a leak, a timeout or an out-of-memory (the input
# is kept in $AF_BUILDDIR/tests/fuzz-out/crashes/), 77 when nothing is built.
set -u

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${AF_BUILDDIR:-$srcdir/_build}
secs=${1:-20}
[ $# -gt 0 ] && shift
out=$builddir/tests/fuzz-out
harnesses=$*
[ -n "$harnesses" ] || harnesses=$(cd "$out" 2>/dev/null && ls fuzz_* 2>/dev/null | grep -v '\.')
[ -n "$harnesses" ] || { echo "SKIP: no harness built (make fuzz)"; exit 77; }

rm -rf "$out/seeds"
python3 "$srcdir/tests/fuzz/seeds.py" "$out/seeds" || exit 1
mkdir -p "$out/crashes"
failed=0
for h in $harnesses; do
    name=${h#fuzz_}
    mkdir -p "$out/corpus/$name" "$out/seeds/$name"
    # -timeout: one input over 10 s is a hang; -rss_limit_mb: the
    # parsers' caps keep them far below 1 GiB.
    "$out/$h" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
        -artifact_prefix="$out/crashes/$name-" "$out/corpus/$name" "$out/seeds/$name" \
        >"$out/$name.log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$name.log")
    size=$(ls "$out/corpus/$name" | wc -l)
    if [ "$rc" -ne 0 ]; then
        echo "FAIL: $h (exit $rc, $execs executions): see $out/$name.log"
        grep -m 5 -E 'ERROR|SUMMARY|runtime error' "$out/$name.log"
        failed=1
    else
        echo "ok: $h: ${execs:-?} executions in ${secs} s, corpus $size"
    fi
done
exit "$failed"
