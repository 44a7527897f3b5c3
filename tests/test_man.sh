#!/bin/sh
# test_man.sh - the man pages say what the programs and the docs say:
#
# - authprobe(1), authflowd.json(5) and authprobe-suite(5) are generated
#   from docs/probe.md (with admin.md's `authprobe mint`), docs/config.md
#   and docs/suite-format.md: the committed pages must be exactly what
#   man/generate.sh makes of the Markdown today, so a key added to
#   config.md (which check_cfg makes sure of for every key of the loader's
#   table) cannot be missing from the installed page;
# - authflowd(8), written by hand, names every option of
#   `authflowd --help` and no option authflowd does not have;
# - authprobe(1) names every option of `authprobe --help` and of
#   `authprobe mint --help`.
# That the installed pages render without warnings is test_install.sh's.
#
# Exit: 0 pass, 1 fail, 77 skip (no python3 to regenerate), 99 hard error.
# Environment (set by `make check`): AF_SRCDIR, AF_BUILDDIR.

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${AF_BUILDDIR:-$(pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
af_built 99 ERROR "$builddir/authflowd" "$builddir/authprobe"
af_need python3
af_tmpdir authflow-man 99

# The generated pages, made again from today's Markdown.
if ! PYTHON=python3 sh "$srcdir/man/generate.sh" "$tmp" >"$tmp/gen.log" 2>&1; then
    cat "$tmp/gen.log"
    echo "ERROR: man/generate.sh failed"
    exit 99
fi
for page in authprobe.1 authflowd.json.5 authprobe-suite.5; do
    if diff -u "$srcdir/man/$page" "$tmp/$page" >"$tmp/$page.diff"; then
        echo "ok: man/$page is what its Markdown gives"
    else
        fail "man/$page differs from what its Markdown gives: run \`make man-update\` and commit"
        head -n 40 "$tmp/$page.diff"
    fi
done

# long_options: the long options (--name) in standard input, one a line.
long_options() {
    sed 's/\\-/-/g' | grep -o -- '--[a-z][a-z0-9-]*' | sed 's/-*$//' | sort -u
}

# authflowd(8) against `authflowd --help`, both ways.
"$builddir/authflowd" --help | long_options >"$tmp/afd.help"
long_options <"$srcdir/man/authflowd.8" >"$tmp/afd.man"
n=$(wc -l <"$tmp/afd.help")
[ "$n" -ge 8 ] || fail "authflowd --help lists $n long options; the parse is wrong"
missing=$(comm -23 "$tmp/afd.help" "$tmp/afd.man" | tr '\n' ' ')
extra=$(comm -13 "$tmp/afd.help" "$tmp/afd.man" | tr '\n' ' ')
if [ -z "$missing" ]; then
    echo "ok: authflowd(8) names the $n options of authflowd --help"
else
    fail "authflowd(8) does not name: $missing"
fi
[ -z "$extra" ] || fail "authflowd(8) names options authflowd --help does not have: $extra"

# authprobe(1) against `authprobe --help` and `authprobe mint --help`.
{
    "$builddir/authprobe" --help
    "$builddir/authprobe" mint --help
} | long_options >"$tmp/probe.help"
long_options <"$srcdir/man/authprobe.1" >"$tmp/probe.man"
n=$(wc -l <"$tmp/probe.help")
[ "$n" -ge 30 ] || fail "authprobe's help lists $n long options; the parse is wrong"
missing=$(comm -23 "$tmp/probe.help" "$tmp/probe.man" | tr '\n' ' ')
if [ -z "$missing" ]; then
    echo "ok: authprobe(1) names the $n options of authprobe --help and authprobe mint --help"
else
    fail "authprobe(1) (docs/probe.md, docs/admin.md) does not name: $missing"
fi

af_exit
