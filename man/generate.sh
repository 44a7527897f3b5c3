#!/bin/sh
# generate.sh - write the man pages that are generated from docs/*.md into
# OUTDIR: authprobe(1), authflowd.json(5) and authprobe-suite(5).
# `make man-update` runs it into man/ (the pages are committed, so that a
# build needs no Python); tests/test_man.sh runs it into a temporary folder
# and fails when a committed page differs.
#
#   man/generate.sh [OUTDIR]      (default: the folder of this script)
set -eu

man=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$man")
out=${1:-$man}
py=${PYTHON:-python3}

gen() {
    page=$1
    shift
    "$py" "$man/md2man.py" "$@" >"$out/$page.tmp"
    mv "$out/$page.tmp" "$out/$page"
}

cd "$top"
gen authprobe.1 --name authprobe --section 1 \
    --summary "run OAuth 2.0 / OpenID Connect conformance suites against a provider, an app or an API" \
    --include "docs/admin.md:From the shell: \`authprobe mint\`" \
    --files 'SYSCONFDIR/authflow/suites/=the shipped suites (as.json, rs.json, rp.json, api.json); SYSCONFDIR is PREFIX/etc unless configured otherwise' \
    --files 'SYSCONFDIR/authflow/targets/, SYSCONFDIR/authflow/apps/=example target and app profiles' \
    --see-also 'authprobe-suite(5)' --see-also 'authflowd(8)' --see-also 'authflowd.json(5)' \
    docs/probe.md
gen authflowd.json.5 --name authflowd.json --section 5 \
    --summary "configuration file of authflowd, the authflow mock OAuth 2.0 / OpenID Connect provider" \
    --files 'SYSCONFDIR/authflow/authflowd.json=the shipped configuration, read when authflowd is started without --config; SYSCONFDIR is PREFIX/etc unless configured otherwise' \
    --see-also 'authflowd(8)' --see-also 'authprobe(1)' \
    docs/config.md
gen authprobe-suite.5 --name authprobe-suite --section 5 \
    --summary "format of authprobe's conformance suites and target profiles" \
    --files 'SYSCONFDIR/authflow/suites/=the shipped suites, in this format' \
    --files 'SYSCONFDIR/authflow/targets/, SYSCONFDIR/authflow/apps/=example target and app profiles' \
    --see-also 'authprobe(1)' --see-also 'authflowd(8)' \
    docs/suite-format.md
