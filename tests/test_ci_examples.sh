#!/bin/sh
# test_ci_examples.sh - the CI examples in docs/ci/ and the shell examples
# of the docs that start authflowd:
#
# - docs/ci/github-actions.yml and docs/ci/gitlab-ci.yml parse as YAML
#   (PyYAML, Debian's python3-yaml), and each shell step passes `sh -n`
#   (and shellcheck, when it is installed);
# - both run `authprobe rp` and `authprobe rs` with a JUnit report and
#   publish the reports also when a check failed;
# - wherever authflowd is started in the background, in those steps and in
#   the code blocks of README.md and docs/*.md, its ready file (or the file
#   its stdout goes to) is read only after a loop has waited for it.
#
# Exit: 0 pass, 1 fail, 77 skip (no python3 with PyYAML), 99 hard error.
# Environment (set by `make check`): AF_SRCDIR.

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
af_tmpdir authflow-ci 99

py=
for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import yaml' 2>/dev/null; then
        py=$p
        break
    fi
done
[ -n "$py" ] || { echo "SKIP: no python3 with PyYAML (Debian: python3-yaml)"; exit 77; }

# The Python half writes every shell step to $tmp/steps/NAME.sh and prints
# "ok: ..." / "FAIL: ..." lines for what it checks itself.
"$py" - "$srcdir" "$tmp/steps" >"$tmp/py.out" 2>&1 <<'EOF'
import glob, os, re, sys
import yaml

src, out = sys.argv[1:3]
os.makedirs(out)
fails = 0


def say(ok, msg):
    global fails
    print(("ok: " if ok else "FAIL: ") + msg)
    fails += 0 if ok else 1


def ready_discipline(name, text):
    """Every file authflowd writes when ready (--ready-file F, or > F for a
    background authflowd) is read only after an until/while loop on it."""
    lines = text.split("\n")
    found = 0
    for i, ln in enumerate(lines):
        if "authflowd " not in ln or ln.lstrip().startswith("#"):
            continue
        # the whole command: continuation lines included
        j, cmd = i, ln
        while cmd.rstrip().endswith("\\") and j + 1 < len(lines):
            j += 1
            cmd = cmd.rstrip()[:-1] + " " + lines[j]
        if not re.search(r"&\s*$", cmd):
            continue
        # the ready file; without one, the file the issuer URL goes to
        files = re.findall(r"--ready-file[ =](\S+)", cmd)
        if not files:
            files = re.findall(r"(?<![0-9&])>\s*(\S+)\s*(?:2>\S+\s*)?&\s*$", cmd)
        for f in files:
            found += 1
            pat = re.escape(f)
            wait = read = None
            for k in range(j + 1, len(lines)):
                t = lines[k]
                if wait is None and re.search(r"\b(until|while)\b.*-[fs]\s+" + pat, t):
                    wait = k
                if read is None and re.search(r"(\b(sed|head|cat|tail|read)\b[^|;]*|<\s*)" + pat + r"(?![\w.])", t):
                    read = k
            if read is None:
                continue
            say(wait is not None and wait < read,
                "%s: %s is read %s" % (name, f, "after a loop waits for it" if wait is not None and wait < read
                                       else "before anything waits for it (line: %s)" % lines[read].strip()))
    return found


# --- GitHub Actions
gh = yaml.safe_load(open(os.path.join(src, "docs/ci/github-actions.yml"), encoding="utf-8"))
say(isinstance(gh, dict) and "jobs" in gh, "docs/ci/github-actions.yml parses, with jobs")
runs, uses = [], []
for jname, job in gh["jobs"].items():
    for n, step in enumerate(job["steps"]):
        if "run" in step:
            runs.append(("github-%s-%02d" % (jname, n), step["run"]))
        if "uses" in step:
            uses.append(step)
gh_all = "\n".join(r for _, r in runs)
for _, r in runs:
    ready_discipline("github-actions.yml", r)
for suite in ("rp", "rs"):
    say(re.search(r"authprobe %s .*\n?.*--report junit:reports/%s\.xml" % (suite, suite), gh_all) is not None
        or re.search(r"authprobe %s [^\n]*(\\\n[^\n]*)*--report junit:" % suite, gh_all) is not None,
        "github-actions.yml: authprobe %s writes a JUnit report" % suite)
pub = [s for s in uses if "junit" in s["uses"] or "upload-artifact" in s["uses"]]
say(len(pub) >= 1 and all(re.search(r"always\(\)|failure\(\)", str(s.get("if", ""))) for s in pub),
    "github-actions.yml: the reports are published also after a failed check")

# --- GitLab CI
gl = yaml.safe_load(open(os.path.join(src, "docs/ci/gitlab-ci.yml"), encoding="utf-8"))
jobs = {k: v for k, v in gl.items() if isinstance(v, dict) and "script" in v}
say(len(jobs) >= 1, "docs/ci/gitlab-ci.yml parses, with a job")
for jname, job in jobs.items():
    # the lines of a job share one shell
    script = "\n".join(job.get("before_script", []) + job["script"] + job.get("after_script", []))
    runs.append(("gitlab-" + jname, script))
    ready_discipline("gitlab-ci.yml", script)
    for suite in ("rp", "rs"):
        say(re.search(r"authprobe %s [^\n]*(\\\n[^\n]*)*--report junit:" % suite, script) is not None,
            "gitlab-ci.yml: authprobe %s writes a JUnit report" % suite)
    art = job.get("artifacts", {})
    say(art.get("when") == "always" and "junit" in art.get("reports", {}),
        "gitlab-ci.yml: %s publishes its JUnit reports always" % jname)

for name, text in runs:
    with open(os.path.join(out, name + ".sh"), "w", encoding="utf-8") as f:
        f.write(text)

# --- the docs' code blocks
n = 0
for path in [os.path.join(src, "README.md")] + sorted(glob.glob(os.path.join(src, "docs", "*.md"))):
    rel = os.path.relpath(path, src)
    block, blocks, fenced = [], [], False
    for ln in open(path, encoding="utf-8").read().split("\n") + [""]:
        if ln.startswith("```"):
            fenced = not fenced
            if not fenced:
                blocks.append(block)
                block = []
            continue
        if fenced:
            block.append(ln)
        elif ln.startswith("    "):
            block.append(ln[4:])
        elif ln.strip() == "" and block:
            block.append("")
        else:
            if block:
                blocks.append(block)
            block = []
    if block:
        blocks.append(block)
    for b in blocks:
        n += ready_discipline(rel, "\n".join(b))
say(n >= 3, "the docs start authflowd in the background with a ready file in %d places" % n)
sys.exit(1 if fails else 0)
EOF
rc=$?
cat "$tmp/py.out"
[ "$rc" -le 1 ] || { echo "ERROR: the YAML checks did not run"; exit 99; }
failures=$(grep -c '^FAIL' "$tmp/py.out")
[ "$rc" -eq 0 ] || [ "$failures" -gt 0 ] || failures=1

# Every shell step: sh -n, and shellcheck when present.
n=0
for f in "$tmp"/steps/*.sh; do
    [ -f "$f" ] || continue
    n=$((n + 1))
    name=$(basename "$f" .sh)
    if sh -n "$f" 2>"$tmp/sh.err"; then :; else
        fail "$name: sh -n: $(cat "$tmp/sh.err")"
        continue
    fi
    if command -v shellcheck >/dev/null 2>&1 && ! shellcheck -s sh -S warning "$f" >"$tmp/sc.out" 2>&1; then
        fail "$name: shellcheck:"
        cat "$tmp/sc.out"
    fi
done
if [ "$n" -ge 8 ]; then
    echo "ok: $n shell steps pass sh -n"
else
    fail "only $n shell steps found"
fi

af_exit
