#!/bin/sh
# test_pytest_plugin.sh - the pytest plugin of contrib/pytest-authflow/
# against the real authflowd:
#
# - its own tests (contrib/pytest-authflow/tests/, with pytester for what a
#   user sees: a bad config, a failed test's report, the process gone) and
#   its example, loaded with -p pytest_authflow from the source tree, as
#   docs/testing-frameworks.md shows;
# - installed with pip (into a folder of $tmp, from a copy: a build writes
#   next to pyproject.toml), the example again, the plugin now found by its
#   pytest11 entry point, without -p;
# - docs/testing-frameworks.md shows the example file as it is.
#
# Exit: 0 pass, 1 fail, 77 skip (python3-pytest, python3-pip or
# python3-setuptools missing: tests/data/pytest-authflow/debian-packages),
# 99 hard error.
# Environment (set by `make check`): AF_SRCDIR, AF_BUILDDIR; AF_CONFIG
# overrides the config (default: conf/authflowd.json).

set -u

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
builddir=${AF_BUILDDIR:-$(pwd)}
pkg=$srcdir/contrib/pytest-authflow
AUTHFLOWD=${AF_AUTHFLOWD:-$builddir/authflowd}
AUTHFLOWD_CONFIG=${AF_CONFIG:-$srcdir/conf/authflowd.json}
export AUTHFLOWD AUTHFLOWD_CONFIG

af_built 99 ERROR "$AUTHFLOWD"
af_debian_python "$srcdir/tests/data/pytest-authflow" "setuptools, pytest, pip"
af_tmpdir af-pytest-plugin 99

# Nothing written into the source tree: no bytecode, no .pytest_cache.
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE
pytest_run() {
    "$py" -m pytest -p no:cacheprovider --basetemp="$tmp/pt" "$@"
}

echo "== the plugin's tests and the example, with -p pytest_authflow"
PYTHONPATH=$pkg
export PYTHONPATH
pytest_run -p pytest_authflow -p pytester "$pkg/tests" "$pkg/examples" ||
    fail "pytest with -p pytest_authflow"

echo "== installed with pip: found by its pytest11 entry point"
cp -R "$pkg" "$tmp/pkg" || exit 99
if "$py" -m pip install --quiet --no-build-isolation --no-deps --no-index \
    --target "$tmp/site" "$tmp/pkg" >"$tmp/pip.log" 2>&1; then
    grep -q '^authflow = pytest_authflow$' "$tmp"/site/pytest_authflow-*.dist-info/entry_points.txt ||
        fail "the installed plugin has no pytest11 entry point"
    PYTHONPATH=$tmp/site
    pytest_run -q "$pkg/examples" || fail "pytest with the installed plugin"
else
    cat "$tmp/pip.log"
    fail "pip install of $pkg"
fi

af_doc_example docs/testing-frameworks.md contrib/pytest-authflow/examples/test_example.py
af_exit
