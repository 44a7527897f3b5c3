# tests/lib.sh - the mechanics the shell tests share, sourced (not run) by
# them once they have set $srcdir: the temporary folder and its cleanup
# trap, background processes stopped by PID, waiting for the URL a server
# prints, authflowd with its admin API, npm ci into the build tree and the
# failure count. The tests keep their own checks, messages and exit codes.
#
# Variables it sets for its caller: tmp, url, afd_pid, issuer, admin,
# failures. A test lists the variables holding the PIDs its cleanup must
# stop in af_procs.
# shellcheck shell=sh disable=SC2034,SC2154 # the variables are the caller's

af_procs=
failures=0

# af_as_not_pass: what authflowd gives, other than pass, for the AS suite
# run with no vars (tests/test_as_suite.sh says why for each): no
# registration endpoint (AS-07), the body method of RFC 6750 §2.2 (AS-51c),
# no plain PKCE (AS-62b), no claims parameter (AS-72b); the checks that
# wait are skipped without their vars (AS-21c, AS-22, AS-73c, AS-73d).
af_as_not_pass=AS-07=inconclusive,AS-51c=inconclusive,AS-62b=inconclusive,AS-72b=inconclusive,AS-21c=skip,AS-22=skip,AS-73c=skip,AS-73d=skip

# af_need TOOL...: exit 77 (skip) unless every TOOL is on the PATH.
af_need() {
    for _tool in "$@"; do
        command -v "$_tool" >/dev/null 2>&1 || { echo "SKIP: $_tool is missing"; exit 77; }
    done
}

# af_built STATUS LEVEL FILE...: exit STATUS, saying "LEVEL: FILE is not
# built", unless every FILE is executable.
af_built() {
    _status=$1 _level=$2
    shift 2
    for _f in "$@"; do
        [ -x "$_f" ] || { echo "$_level: $_f is not built"; exit "$_status"; }
    done
}

# af_python_tests SCRIPT WHAT ARGS...: run tests/integration/SCRIPT with
# ARGS (test names) in place of the shell, AF_SRCDIR and AF_BUILDDIR
# exported (the build tree defaults to the current folder); exit 77 (skip)
# without python3.
af_python_tests() {
    _script=$1 _what=$2
    shift 2
    if ! command -v python3 >/dev/null 2>&1; then
        echo "SKIP: python3 is needed for $_what"
        exit 77
    fi
    AF_SRCDIR=$srcdir AF_BUILDDIR=${AF_BUILDDIR:-$(pwd)}
    export AF_SRCDIR AF_BUILDDIR
    exec python3 -B "$srcdir/tests/integration/$_script" "$@"
}

# af_tmpdir NAME STATUS: make the test's temporary folder $tmp (exit STATUS
# when that fails) and arrange for af_cleanup at exit; INT, TERM and HUP
# exit 1 (through the EXIT trap).
af_tmpdir() {
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX") || exit "$2"
    trap af_cleanup EXIT
    trap 'exit 1' INT TERM HUP
}

# af_cleanup: stop the processes of af_procs, then remove $tmp (kept, and
# named, when AF_KEEP_TMP is set).
# shellcheck disable=SC2317 # called by the trap
af_cleanup() {
    # shellcheck disable=SC2086 # a list of variable names
    af_stop $af_procs
    [ -n "${AF_KEEP_TMP:-}" ] && { echo "kept $tmp"; return; }
    rm -rf "$tmp"
}

# af_stop VAR...: stop (SIGTERM, then wait for it) the process whose PID
# each variable VAR holds, if any, and empty VAR.
af_stop() {
    for _var in "$@"; do
        eval "_pid=\${$_var:-}"
        if [ -n "$_pid" ]; then
            kill "$_pid" 2>/dev/null
            wait "$_pid" 2>/dev/null
        fi
        eval "$_var="
    done
}

# af_wait_url FILE PID TRIES PAUSE: wait (TRIES times PAUSE seconds at most)
# for a whole first line of FILE that is an http:// URL while PID lives;
# sets $url (empty on failure, status 1).
af_wait_url() {
    _i=0
    while [ "$_i" -lt "$3" ]; do
        if [ -s "$1" ] && [ "$(wc -l <"$1")" -ge 1 ]; then
            url=$(head -n 1 "$1")
            case $url in http://* | https://*) return 0 ;; esac
        fi
        kill -0 "$2" 2>/dev/null || break
        sleep "$4"
        _i=$((_i + 1))
    done
    url=
    return 1
}

# af_start VAR NAME CMD...: run CMD in the background (its PID in VAR),
# stdout to $tmp/NAME.out and stderr to $tmp/NAME.err, and wait (15 s at
# most) for the URL of its first stdout line ($url). When none comes:
# "FAIL: NAME did not start", its stderr, the process stopped and status 1.
af_start() {
    _var=$1 _name=$2
    shift 2
    "$@" >"$tmp/$_name.out" 2>"$tmp/$_name.err" </dev/null &
    _pid=$!
    eval "$_var=\$_pid"
    af_wait_url "$tmp/$_name.out" "$_pid" 300 0.05 && return 0
    echo "FAIL: $_name did not start"
    cat "$tmp/$_name.err"
    af_stop "$_var"
    return 1
}

# af_authflowd_admin CONFIG READY OUT ERR: $authflowd on 127.0.0.1:0 with
# its admin API on 127.0.0.1:0, in the background ($afd_pid), stdout to OUT
# and stderr to ERR; waits (15 s at most) for its ready file READY (written
# whole, by a rename) and sets $issuer and $admin from its two lines.
# Status 1 when it did not start.
af_authflowd_admin() {
    "$authflowd" --config "$1" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
        --ready-file "$2" >"$3" 2>"$4" </dev/null &
    afd_pid=$!
    issuer='' admin=''
    af_wait_url "$2" "$afd_pid" 300 0.05 || return 1
    issuer=$url
    admin=$(sed -n 2p "$2")
}

# af_npm_ci SRC DIR PKG STATUS LEVEL [WHAT]: install SRC's package.json and
# package-lock.json into DIR (in the build tree, never committed) with npm
# ci (exactly the lock file) unless this lock is installed there already
# (DIR/node_modules/PKG present), then copy SRC/server.js, if any. When
# npm fails: "LEVEL: npm ci failed", its log, the lock forgotten (so that
# the next run tries again) and exit STATUS. WHAT, when given, is announced
# before an install.
af_npm_ci() {
    _src=$1 _dir=$2 _pkg=$3 _status=$4 _level=$5 _what=${6:-}
    mkdir -p "$_dir" || exit "$_status"
    if ! cmp -s "$_src/package-lock.json" "$_dir/package-lock.json" ||
        [ ! -f "$_dir/node_modules/$_pkg/package.json" ]; then
        cp "$_src/package.json" "$_src/package-lock.json" "$_dir/" || exit "$_status"
        [ -n "$_what" ] && echo "installing $_what into $_dir"
        (cd "$_dir" && npm ci --no-audit --no-fund --loglevel=error) >"$_dir/npm.log" 2>&1 || {
            echo "$_level: npm ci failed"
            cat "$_dir/npm.log"
            rm -f "$_dir/package-lock.json"
            exit "$_status"
        }
    fi
    if [ -f "$_src/server.js" ]; then
        cp "$_src/server.js" "$_dir/server.js" || exit "$_status"
    fi
}

# af_nest_config SRC PATH OUT: write to OUT the authflowd config SRC with
# its issuer moved into the element of "issuers" at PATH
# (docs/issuers.md): the keys an issuer has of its own go into the
# element, the process-wide ones stay, the top level has no clients. Needs
# node; status 1 when it fails.
af_nest_config() {
    node -e '
        const fs = require("fs");
        const [src, path, out] = process.argv.slice(1);
        const cfg = JSON.parse(fs.readFileSync(src, "utf8"));
        const el = { path };
        for (const k of ["persona", "login", "lifetimes", "keys", "clients", "users", "scenarios"])
            if (k in cfg) { el[k] = cfg[k]; delete cfg[k]; }
        cfg.issuers = [el];
        fs.writeFileSync(out, JSON.stringify(cfg, null, 2));
    ' "$1" "$2" "$3"
}

# fail MESSAGE: report a failure and count it in $failures.
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# af_exit: exit 1, with the count, when something failed, else 0.
af_exit() {
    if [ "$failures" -ne 0 ]; then
        echo "$failures failed"
        exit 1
    fi
    exit 0
}

# af_debian_python FOLDER MODULES: the truth corpus's Python targets run on
# Debian's python3-* packages, listed in FOLDER/debian-packages (one per
# line, "#" comments). Exit 77 (skip), naming them, when dpkg says one is
# missing (bootstrap.sh installs them), or when no interpreter imports
# MODULES (a comma-separated import list); else set $py to the first that
# does: $AF_PYTHON3, then python3 on the PATH (which may be a pyenv or venv
# one that cannot see Debian's packages), then Debian's /usr/bin/python3.
af_debian_python() {
    _dir=$1 _mods=$2 _missing=
    if command -v dpkg-query >/dev/null 2>&1; then
        while read -r _pkg _; do
            case $_pkg in '' | '#'*) continue ;; esac
            dpkg-query -W -f='${Status}\n' "$_pkg" 2>/dev/null | grep -q ' installed$' ||
                _missing="$_missing $_pkg"
        done <"$_dir/debian-packages"
        if [ -n "$_missing" ]; then
            echo "SKIP: Debian packages missing:$_missing ($_dir/debian-packages; bootstrap.sh installs them)"
            exit 77
        fi
    fi
    py=
    for _p in ${AF_PYTHON3:-} python3 /usr/bin/python3; do
        if command -v "$_p" >/dev/null 2>&1 && "$_p" -c "import $_mods" >/dev/null 2>&1; then
            py=$_p
            return 0
        fi
    done
    echo "SKIP: no python3 imports $_mods (the Debian packages of $_dir/debian-packages)"
    exit 77
}

# af_doc_example DOC FILE: the fenced code block that follows the line
# "<!-- example: FILE -->" in DOC (both relative to $srcdir) must be FILE,
# byte for byte, so that the example a reader copies is the one the tests
# run; else a failure (counted in $failures) with the difference.
af_doc_example() {
    awk -v marker="<!-- example: $2 -->" '
        $0 == marker { state = 1; next }
        state == 1 && /^```/ { state = 2; next }
        state == 2 && /^```$/ { exit }
        state == 2 { print }
    ' "$srcdir/$1" >"$tmp/doc-example"
    if cmp -s "$tmp/doc-example" "$srcdir/$2"; then
        echo "ok: $1 shows $2 as it is"
    else
        fail "$1: the example after <!-- example: $2 --> is not that file"
        diff "$srcdir/$2" "$tmp/doc-example" | head -20
    fi
}

# af_expected_with_flaw BASE TABLE FLAW OUT [ID]: the verdicts of BASE (a
# truth table: "ID RESULT # why" lines) with the changes of FLAW's lines in
# TABLE ("FLAW ID=RESULT ... # how"; a flaw may take several lines) written
# to OUT, in BASE's order; ID, when given, is a check left out of the run
# (--skip), expected as not selected. Status 1, the reason on stderr, when
# FLAW has no line or a change names an unknown check.
af_expected_with_flaw() {
    python3 - "$@" <<'PY'
import sys
base, table, flaw, out = sys.argv[1:5]
left_out = sys.argv[5] if len(sys.argv) > 5 else None
want, order = {}, []
for line in open(base, encoding="utf-8"):
    words = line.split("#", 1)[0].split()
    if words:
        want[words[0]] = words[1]
        order.append(words[0])
found = False
for line in open(table, encoding="utf-8"):
    words = line.split("#", 1)[0].split()
    if not words or words[0] != flaw:
        continue
    found = True
    for w in words[1:]:
        cid, _, res = w.partition("=")
        if cid not in want or not res:
            sys.exit("%s: %s: bad change %r" % (table, flaw, w))
        want[cid] = res
if not found:
    sys.exit("%s: no line for flaw %s" % (table, flaw))
if left_out in want:
    want[left_out] = "skip"
with open(out, "w", encoding="utf-8") as f:
    for cid in order:
        f.write("%s %s\n" % (cid, want[cid]))
PY
}

# af_flaw_changes TABLE FLAW: the ID=RESULT words of FLAW's lines in TABLE.
af_flaw_changes() {
    grep "^${2}[[:space:]]" "$1" | sed 's/#.*//; s/^[^[:space:]]*//' | tr -s ' \n' '  ' |
        sed 's/^ *//; s/ *$//'
}
