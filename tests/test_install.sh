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

# The man pages: installed where man looks for them, found by name through
# that tree's MANPATH, and rendered without a warning (groff -ww), also the
# way man(1) does it.
for page in man8/authflowd.8 man1/authprobe.1 man5/authflowd.json.5 man5/authprobe-suite.5; do
    f=$prefix/share/man/$page
    if [ ! -s "$f" ]; then
        echo "FAIL: $page is not installed in $prefix/share/man"
        failures=$((failures + 1))
        continue
    fi
    name=$(basename "$page")
    sect=${name##*.}
    name=${name%.*}
    if command -v groff >/dev/null 2>&1; then
        out=$(groff -ww -z -man "$f" 2>&1)
        if [ -n "$out" ]; then
            echo "FAIL: groff -ww -man $page: $out"
            failures=$((failures + 1))
        fi
        text=$(groff -ww -man -Tutf8 "$f" 2>/dev/null | sed 's/.\x08//g')
        case "$text" in
        *NAME*"$name"*SEE\ ALSO*) ;;
        *) echo "FAIL: $page renders without NAME ... SEE ALSO"; failures=$((failures + 1)) ;;
        esac
    fi
    if command -v man >/dev/null 2>&1; then
        where=$(MANPATH="$prefix/share/man" man -w "$sect" "$name" 2>&1)
        [ "$where" = "$f" ] || {
            echo "FAIL: man -w $sect $name: $where"
            failures=$((failures + 1))
        }
        err=$(MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null)
        [ -z "$err" ] || {
            echo "FAIL: man -l $page: $err"
            failures=$((failures + 1))
        }
    fi
done
command -v groff >/dev/null 2>&1 || echo "note: no groff, the man pages were not rendered"
[ "$failures" -eq 0 ] && echo "ok: the four man pages are installed and render without warnings"

# The systemd unit: installed, naming the installed authflowd and the
# installed shipped config (which passes --check-config).
unit=$prefix/lib/systemd/system/authflowd.service
if [ -f "$unit" ]; then
    exec_line=$(grep '^ExecStart=' "$unit")
    # shellcheck disable=SC2086 # the command's words
    set -- ${exec_line#ExecStart=}
    stage=$tmp/stage
    if [ "$#" -eq 3 ] && [ "$2" = --config ] && [ -x "$stage$1" ] && [ -f "$stage$3" ] &&
        "$stage$1" --config "$stage$3" --check-config >/dev/null 2>&1; then
        echo "ok: the unit runs the installed authflowd with the installed config: $exec_line"
    else
        echo "FAIL: the unit's $exec_line: not the installed binary and config (under $stage)"
        failures=$((failures + 1))
    fi
else
    echo "FAIL: no lib/systemd/system/authflowd.service in the staged install"
    failures=$((failures + 1))
fi

[ "$failures" -eq 0 ] || exit 1
exit 0
