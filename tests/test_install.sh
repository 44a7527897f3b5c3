#!/bin/sh
# test_install.sh - an installed authprobe finds its shipped suites without
# flags, from any folder, also when the install tree was moved (a DESTDIR
# staging tree: the configured prefix does not exist there). A suite name
# that is nowhere names every folder tried.
#
# Exit: 0 pass, 1 fail, 99 hard error.
# Environment (set by `make check`): AF_SRCDIR, AF_BUILDDIR.

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${AF_BUILDDIR:-$(pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
af_tmpdir authflow-install 99

# The install into a staging tree; make's own output only on failure.
if ! make -C "$builddir" install DESTDIR="$tmp/stage" >"$tmp/install.log" 2>&1; then
    cat "$tmp/install.log"
    echo "FAIL: make install DESTDIR=... failed"
    exit 99
fi
probe=$(find "$tmp/stage" -type f -name authprobe -path '*/bin/*' | head -n 1)
[ -x "$probe" ] || { echo "FAIL: no bin/authprobe in the staged install"; exit 99; }
bindir=$(dirname "$probe")
prefix=$(dirname "$bindir")
mkdir "$tmp/elsewhere"

# Every shipped suite is found by name from a folder that has no conf/, and
# with $AUTHFLOW_SUITES unset: only the staged tree can answer.
for s in as rs rp; do
    if out=$(cd "$tmp/elsewhere" && env -u AUTHFLOW_SUITES "$probe" list "$s" 2>&1); then
        id=$(echo "$s" | tr a-z A-Z)-01
        case "$out" in
        *"$id"*) echo "ok: installed suite $s found from another folder" ;;
        *) echo "FAIL: authprobe list $s: no $id in: $out"; failures=$((failures + 1)) ;;
        esac
    else
        echo "FAIL: authprobe list $s: $out"
        failures=$((failures + 1))
    fi
done

# A suite that is nowhere: exit 2, and the message names the folder beside
# the binary among those tried.
out=$(cd "$tmp/elsewhere" && env -u AUTHFLOW_SUITES "$probe" list no-such-suite 2>&1)
rc=$?
case "$rc:$out" in
2:*"no suite \"no-such-suite\""*"$prefix/etc/authflow/suites"*)
    echo "ok: an unknown suite names the folders tried" ;;
*) echo "FAIL: unknown suite: exit $rc: $out"; failures=$((failures + 1)) ;;
esac

# --suites-dir alone is searched when given.
out=$(cd "$tmp/elsewhere" && "$probe" list as --suites-dir "$tmp/elsewhere" 2>&1)
rc=$?
case "$rc:$out" in
2:*"no as.json in $tmp/elsewhere"*) echo "ok: --suites-dir is the only folder when given" ;;
*) echo "FAIL: --suites-dir: exit $rc: $out"; failures=$((failures + 1)) ;;
esac

[ "$failures" -eq 0 ] || exit 1
exit 0
