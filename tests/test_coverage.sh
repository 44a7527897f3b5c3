#!/bin/sh
# test_coverage.sh - docs/coverage.md cannot drift from the suites:
#
# - every check id it names (AS-41a, RS-05b, RP-12a, API-20a, ...) is the
#   id of a check in conf/suites/*.json, so a renamed or removed check
#   cannot stay cited;
# - each numbered section's tables have a `status` column holding one of
#   "covered", "partly", "not covered", "not applicable"; a covered or
#   partly row names at least one check in its `checks` column, any other
#   row names none ("—"), and a "not applicable" row gives its reason;
# - the counts table at the top equals the rows of each section, and so do
#   the counts stated inside a section ("N modules.", "N tests: a covered,
#   b partly, ...").
#
# Exit: 0 pass, 1 fail, 77 skip (no python3), 99 hard error.
# Environment (set by `make check`): AF_SRCDIR.

srcdir=${AF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
af_need python3
af_tmpdir authflow-coverage 99

doc=$srcdir/docs/coverage.md
[ -f "$doc" ] || { echo "ERROR: $doc is missing"; exit 99; }

# The Python half prints "ok: ..." and "FAIL: ..." lines; exit 2 is an
# error of its own (a suite file that does not parse).
python3 - "$srcdir" >"$tmp/py.out" 2>&1 <<'EOF'
import glob, json, os, re, sys

src = sys.argv[1]
fails = 0


def say(ok, msg):
    global fails
    print(("ok: " if ok else "FAIL: ") + msg)
    fails += 0 if ok else 1


ids = {}
for path in sorted(glob.glob(os.path.join(src, "conf", "suites", "*.json"))):
    try:
        with open(path, encoding="utf-8") as f:
            suite = json.load(f)
    except (OSError, ValueError) as e:
        print("ERROR: %s: %s" % (path, e))
        sys.exit(2)
    for c in suite.get("checks", []):
        ids[c["id"]] = os.path.basename(path)
if not ids:
    print("ERROR: no checks found in conf/suites/*.json")
    sys.exit(2)

with open(os.path.join(src, "docs", "coverage.md"), encoding="utf-8") as f:
    lines = f.read().split("\n")
text = "\n".join(lines)

# 1. Every id the page names exists.
ID = re.compile(r"(?<![A-Za-z0-9_-])((?:AS|RS|RP|API)-[0-9]+[a-z]?)(?![A-Za-z0-9_])")
named = sorted(set(ID.findall(text)))
missing = [i for i in named if i not in ids]
say(not missing, "every check id named in docs/coverage.md is in conf/suites/*.json"
    + ("" if not missing else " (not found: %s)" % ", ".join(missing)))
say(len(named) >= 20, "docs/coverage.md names %d check ids" % len(named))

# 2. Tables, section by section.
WORDS = ("covered", "partly", "not covered", "not applicable")


def cells(line):
    body = line.strip()[1:-1] if line.strip().endswith("|") else line.strip()[1:]
    return [c.strip() for c in re.split(r"(?<!\\)\|", body)]


sections = {}     # number -> {"rows": [...], "lines": [(lineno, text)], "title"}
cur = None
i = 0
while i < len(lines):
    ln = lines[i]
    m = re.match(r"^## ([0-9]+)\. (.+)$", ln)
    if m:
        cur = m.group(1)
        sections[cur] = {"title": m.group(2), "rows": [], "lines": [], "subs": []}
    elif ln.startswith("## "):
        cur = None
    if cur is not None:
        sections[cur]["lines"].append((i + 1, ln))
        if ln.startswith("### "):
            sections[cur]["subs"].append({"title": ln[4:], "rows": [], "stated": None})
        sm = re.match(r"^([0-9]+) tests: ([0-9]+) covered, ([0-9]+) partly, "
                      r"([0-9]+) not covered, ([0-9]+) not applicable\.$", ln)
        if sm and sections[cur]["subs"]:
            sections[cur]["subs"][-1]["stated"] = (i + 1, [int(x) for x in sm.groups()])
        if ln.startswith("|") and i + 1 < len(lines) and re.match(r"^\|( *:?-+:? *\|)+$", lines[i + 1]):
            head = cells(ln)
            if "status" in head:
                st, ck = head.index("status"), head.index("checks") if "checks" in head else -1
                nt = head.index("notes") if "notes" in head else -1
                j = i + 2
                while j < len(lines) and lines[j].startswith("|"):
                    row = cells(lines[j])
                    where = "docs/coverage.md:%d" % (j + 1)
                    if len(row) != len(head):
                        say(False, "%s: %d cells, the header has %d" % (where, len(row), len(head)))
                    else:
                        s = row[st]
                        if s not in WORDS:
                            say(False, '%s: status "%s" is not one of %s' % (where, s, ", ".join(WORDS)))
                        else:
                            named_here = ID.findall(row[ck]) if ck >= 0 else []
                            if s in ("covered", "partly") and not named_here:
                                say(False, "%s: a %s row names no check" % (where, s))
                            if s in ("not covered", "not applicable") and ck >= 0 and row[ck] != "—":
                                say(False, '%s: a %s row has checks "%s" (want "—")' % (where, s, row[ck]))
                            if s == "not applicable" and (nt < 0 or not row[nt]):
                                say(False, "%s: a not applicable row without its reason" % where)
                            sections[cur]["rows"].append(s)
                            if sections[cur]["subs"]:
                                sections[cur]["subs"][-1]["rows"].append(s)
                    j += 1
                i = j
                continue
    i += 1

say(len(sections) >= 4, "docs/coverage.md has %d numbered sections with tables" % len(sections))

# 3. The counts table at the top.
summary = {}
for n, ln in enumerate(lines):
    if ln.startswith("| # | source |"):
        head = cells(ln)
        k = n + 2
        while k < len(lines) and lines[k].startswith("|"):
            row = cells(lines[k])
            if len(row) == len(head) and row[0].isdigit():
                summary[row[0]] = (k + 1, {h: row[c] for c, h in enumerate(head)})
            k += 1
        break
say(bool(summary), "docs/coverage.md has a counts table")

for num, sec in sorted(sections.items(), key=lambda kv: int(kv[0])):
    rows = sec["rows"]
    got = [rows.count(w) for w in WORDS]
    name = "section %s (%s)" % (num, sec["title"])
    if not rows:
        say(False, "%s has no table rows with a status" % name)
        continue
    if num not in summary:
        say(False, "%s is missing from the counts table" % name)
        continue
    lineno, s = summary[num]
    try:
        stated = [int(s[w]) for w in WORDS] + [int(s["rows"])]
    except (KeyError, ValueError):
        say(False, "docs/coverage.md:%d: the counts row of %s is not numbers" % (lineno, name))
        continue
    want = got + [len(rows)]
    say(stated == want, "%s: counts %s, rows %s"
        % (name, "/".join(map(str, stated)), "/".join(map(str, want))))
    prose = " ".join(ln for _, ln in sec["lines"] if not ln.startswith("|"))
    for m in re.finditer(r"\b([0-9]+)\s+modules\.", prose):
        say(int(m.group(1)) == len(rows), "%s says %s modules, its table has %d"
            % (name, m.group(1), len(rows)))
    for sub in sec["subs"]:
        if sub["stated"] is None:
            continue
        ln_no, st = sub["stated"]
        want = [len(sub["rows"])] + [sub["rows"].count(w) for w in WORDS]
        say(st == want, "docs/coverage.md:%d: %s / %s: stated %s, rows %s"
            % (ln_no, name, sub["title"], "/".join(map(str, st)), "/".join(map(str, want))))
extra = sorted(set(summary) - set(sections))
say(not extra, "every row of the counts table has its section" + ("" if not extra else " (not: %s)" % ", ".join(extra)))
sys.exit(1 if fails else 0)
EOF
rc=$?
cat "$tmp/py.out"
[ "$rc" -le 1 ] || { echo "ERROR: the coverage checks did not run"; exit 99; }
failures=$(grep -c '^FAIL' "$tmp/py.out")
[ "$rc" -eq 0 ] || [ "$failures" -gt 0 ] || failures=1
af_exit
