#!/bin/sh
# test_systemd_unit.sh - contrib/authflowd.service, as the build writes it
# from contrib/authflowd.service.in: it runs the configured authflowd with
# the configured shipped config, keeps its hardening, and systemd itself
# finds nothing to object to (`systemd-analyze verify`, with the paths
# pointed at this build since nothing is installed yet) and rates its
# exposure "OK" (`systemd-analyze security --offline`, 2.0 or less of 10).
# That `make install` puts it beside the installed binary and config is
# test_install.sh's.
#
# Exit: 0 pass, 1 fail, 77 skip (no systemd-analyze), 99 hard error.
# Environment (set by `make check`): AF_SRCDIR, AF_BUILDDIR.

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${AF_BUILDDIR:-$(pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
unit=$builddir/contrib/authflowd.service
[ -f "$unit" ] || { echo "ERROR: $unit is not built"; exit 99; }
af_built 99 ERROR "$builddir/authflowd"
af_tmpdir authflow-unit 99

# The command: the configured binary and the shipped config's installed path.
exec_line=$(grep '^ExecStart=' "$unit")
case "$exec_line" in
ExecStart=/*/bin/authflowd\ --config\ /*/authflow/authflowd.json)
    echo "ok: $exec_line" ;;
*) fail "ExecStart is not the installed authflowd with the shipped config: $exec_line" ;;
esac
grep -q '@[a-z]*@' "$unit" && fail "a placeholder is left: $(grep '@[a-z]*@' "$unit")"

# The hardening the unit promises, each exactly once.
for opt in DynamicUser=yes NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes \
    PrivateTmp=yes PrivateDevices=yes 'CapabilityBoundingSet=' \
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' StateDirectory=authflowd; do
    n=$(grep -c -x -- "$opt" "$unit")
    [ "$n" -eq 1 ] || fail "$opt: $n times in the unit, expected once"
done

af_need systemd-analyze

# The same unit with this build's binary and the source tree's config.
bin=${exec_line#ExecStart=}
bin=${bin%% *}
conf=${exec_line##* }
sed -e "s|^ExecStart=.*|ExecStart=$builddir/authflowd --config $srcdir/conf/authflowd.json|" \
    "$unit" >"$tmp/authflowd.service"
grep -q "^ExecStart=$builddir/authflowd " "$tmp/authflowd.service" || {
    echo "ERROR: could not point the unit at $builddir/authflowd"
    exit 99
}
[ -n "$bin" ] && [ -n "$conf" ] || exit 99

# verify: exit 0 and not a word (an unknown or misspelt key is only a
# warning); the man pages of Documentation= are test_install.sh's.
if systemd-analyze verify --man=no "$tmp/authflowd.service" >"$tmp/verify.out" 2>&1 &&
    [ ! -s "$tmp/verify.out" ]; then
    echo "ok: systemd-analyze verify has nothing to say"
else
    fail "systemd-analyze verify:"
    cat "$tmp/verify.out"
fi

# security: the exposure level, 0.0 (best) to 10.0; --threshold is in tenths.
if systemd-analyze security --offline=yes --threshold=20 "$tmp/authflowd.service" \
    >"$tmp/security.out" 2>&1; then
    echo "ok: $(grep -o 'Overall exposure level.*' "$tmp/security.out")"
else
    fail "systemd-analyze security: exposure above 2.0 (or the analysis failed):"
    grep -v '^✓' "$tmp/security.out" | tail -n 30
fi

af_exit
