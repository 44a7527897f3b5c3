#!/usr/bin/env python3
"""md2man.py - turn one of authflow's reference pages (docs/*.md) into a
man page, so that the installed page and the Markdown never say different
things: the Markdown is the source, the page is generated from it
(`make man-update`) and tests/test_man.sh fails when they differ.

    md2man.py --name NAME --section N --summary TEXT [--see-also REF]... \
              [--files TEXT] SOURCE.md > PAGE

Only the Markdown the docs use is understood: ATX headings, paragraphs,
"-" and "1." lists, fenced and indented code blocks, pipe tables, inline
code, **bold**, *italic* and links. A table becomes a list of tagged
paragraphs: the first column is the tag, the "meaning" column the text,
every other column a "header: value" line. Links to other docs pages
become the man page of the same content where there is one, else the
page's path in the sources. The output is ASCII (other characters as
\\[uXXXX]) and renders without warnings under `groff -ww -man`.
"""

import argparse
import re
import sys

# docs page -> man page that carries the same reference
MAN_OF = {
    "config.md": "authflowd.json(5)",
    "suite-format.md": "authprobe-suite(5)",
    "probe.md": "authprobe(1)",
}
# table headers whose column is the body text rather than a "header: value"
BODY_HEADERS = {"meaning", "what", "what it does", "value"}
HEADER_NAMES = {"req.": "required"}


def esc_text(s):
    """Escape plain text for roff (no font changes inside)."""
    s = s.replace("\\", "\\e")
    out = []
    for ch in s:
        if ord(ch) > 126:
            out.append("\\[u%04X]" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


def esc_code(s):
    """Escape literal text (code): also keep '-' an ASCII minus."""
    return esc_text(s).replace("-", "\\-")


def link_text(text, url):
    if re.match(r"https?://", url):
        if text == url:
            return esc_text(url)
        return "%s <%s>" % (inline(text), esc_text(url))
    if url.startswith("#"):
        return inline(text)
    page, _, _ = url.partition("#")
    name = page.rsplit("/", 1)[-1]
    ref = MAN_OF.get(name)
    if ref is None:
        ref = "docs/" + name
    plain = text.strip("`")
    if plain in (page, name, "docs/" + name):
        return esc_text(ref)
    return "%s (%s)" % (inline(text), esc_text(ref))


INLINE = re.compile(
    r"(?P<code>`+)(?P<ctext>.+?)(?P=code)"
    r"|\[(?P<ltext>[^\]]+)\]\((?P<lurl>[^)\s]+)\)"
    r"|\*\*(?P<btext>.+?)\*\*"
    r"|(?<![\w*])\*(?P<itext>[^*\s][^*]*?)\*(?![\w*])"
)


def inline(s):
    """Inline Markdown to roff with font escapes."""
    out = []
    pos = 0
    for m in INLINE.finditer(s):
        out.append(esc_text(s[pos:m.start()]))
        if m.group("code"):
            out.append("\\fB" + esc_code(m.group("ctext").strip()) + "\\fR")
        elif m.group("ltext"):
            out.append(link_text(m.group("ltext"), m.group("lurl")))
        elif m.group("btext"):
            out.append("\\fB" + inline(m.group("btext")) + "\\fR")
        else:
            out.append("\\fI" + inline(m.group("itext")) + "\\fR")
        pos = m.end()
    out.append(esc_text(s[pos:]))
    return "".join(out)


def line_out(s):
    """A text line: a leading '.' or "'" would be a request."""
    s = s.strip()
    if s.startswith((".", "'")):
        s = "\\&" + s
    return s


def split_row(line):
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    cells = re.split(r"(?<!\\)\|", line)
    return [c.strip().replace("\\|", "|") for c in cells]


def heading_text(s):
    """.SH text: upper case unless it names something literal."""
    if "`" in s:
        return inline(s)
    return esc_text(s.upper())


class Converter:
    def __init__(self):
        self.out = []
        self.para = []

    def emit(self, line):
        self.out.append(line)

    def flush_para(self):
        if self.para:
            self.emit(".PP")
            for ln in self.para:
                self.emit(line_out(inline(ln)))
            self.para = []

    def code(self, lines):
        self.emit(".PP")
        self.emit(".RS 4")
        self.emit(".nf")
        for ln in lines:
            t = esc_code(ln.rstrip())
            if t.startswith((".", "'")):
                t = "\\&" + t
            self.emit(t)
        self.emit(".fi")
        self.emit(".RE")

    def table(self, rows):
        head = [HEADER_NAMES.get(h.lower(), h) for h in split_row(rows[0])]
        body_col = None
        for i, h in enumerate(head):
            if i > 0 and h.lower() in BODY_HEADERS:
                body_col = i
        for row in rows[2:]:
            cells = split_row(row)
            cells += [""] * (len(head) - len(cells))
            self.emit(".TP")
            self.emit(line_out(inline(cells[0])))
            attrs = []
            for i in range(1, len(head)):
                if i == body_col or cells[i] == "":
                    continue
                attrs.append("\\fI%s\\fR: %s" % (esc_text(head[i]), inline(cells[i])))
            lines = []
            if attrs:
                lines.append("; ".join(attrs) + ("." if body_col is not None else ""))
            if body_col is not None and cells[body_col]:
                if lines:
                    lines.append(".br")
                lines.append(inline(cells[body_col]))
            for ln in lines:
                self.emit(ln if ln == ".br" else line_out(ln))

    def list_item(self, marker, text):
        if marker in ("-", "*"):
            self.emit(".IP \\(bu 2")
        else:
            self.emit(".IP %s 4" % marker)
        for ln in text:
            self.emit(line_out(inline(ln)))

    def convert(self, lines):
        i = 0
        n = len(lines)
        seen_title = False
        while i < n:
            ln = lines[i].rstrip("\n")
            s = ln.strip()
            if s == "":
                self.flush_para()
                i += 1
                continue
            m = re.match(r"^(#{1,6})\s+(.*)$", ln)
            if m:
                self.flush_para()
                level, text = len(m.group(1)), m.group(2).strip()
                if level == 1 and not seen_title:
                    seen_title = True
                elif level <= 2:
                    self.emit(".SH " + quote(heading_text(text)))
                elif level == 3:
                    self.emit(".SS " + quote(inline(text)))
                else:
                    self.emit(".PP")
                    self.emit("\\fB" + inline(text) + "\\fR")
                i += 1
                continue
            if s.startswith("```"):
                self.flush_para()
                j = i + 1
                block = []
                while j < n and not lines[j].strip().startswith("```"):
                    block.append(lines[j].rstrip("\n"))
                    j += 1
                self.code(block)
                i = j + 1
                continue
            if ln.startswith("    ") and not self.para:
                block = []
                j = i
                while j < n and (lines[j].startswith("    ") or lines[j].strip() == ""):
                    block.append(lines[j].rstrip("\n")[4:])
                    j += 1
                while block and block[-1].strip() == "":
                    block.pop()
                    j -= 1
                self.code(block)
                i = j
                continue
            if s.startswith("|") and i + 1 < n and re.match(r"^\|?\s*:?-{3}", lines[i + 1].strip()):
                self.flush_para()
                rows = []
                j = i
                while j < n and lines[j].strip().startswith("|"):
                    rows.append(lines[j])
                    j += 1
                self.table(rows)
                i = j
                continue
            m = re.match(r"^(-|\*|\d+\.)\s+(.*)$", ln)
            if m and (not self.para or m.group(1) in ("-", "*", "1.")):
                self.flush_para()
                text = [m.group(2)]
                j = i + 1
                while j < n and lines[j].startswith("  ") and lines[j].strip() != "":
                    text.append(lines[j].strip())
                    j += 1
                self.list_item(m.group(1), text)
                i = j
                continue
            self.para.append(ln)
            i += 1
        self.flush_para()
        return self.out


def quote(s):
    return '"%s"' % s.replace('"', '\\(dq')


def docs_name(path):
    path = path.replace("\\", "/")
    return path[path.rfind("docs/"):] if "docs/" in path else path.rsplit("/", 1)[-1]


def section_of(path, heading):
    """The lines of the '## HEADING' section of PATH (heading included)."""
    with open(path, encoding="utf-8") as f:
        lines = f.readlines()
    start = None
    for i, ln in enumerate(lines):
        if ln.rstrip("\n") == "## " + heading:
            start = i
        elif start is not None and ln.startswith("## "):
            return lines[start:i]
    if start is None:
        sys.exit("md2man.py: %s has no section '## %s'" % (path, heading))
    return lines[start:]


def hoist_synopsis(body):
    """A SYNOPSIS section goes first, where man(7) puts it."""
    try:
        start = body.index('.SH "SYNOPSIS"')
    except ValueError:
        return body
    end = start + 1
    while end < len(body) and not body[end].startswith(".SH "):
        end += 1
    return body[start:end] + [".SH DESCRIPTION"] + body[:start] + body[end:]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--section", required=True)
    ap.add_argument("--summary", required=True)
    ap.add_argument("--files", action="append", default=[],
                    help="PATH=TEXT for the FILES section (repeatable)")
    ap.add_argument("--see-also", action="append", default=[])
    ap.add_argument("--include", action="append", default=[],
                    help="FILE:HEADING: append that '## HEADING' section of FILE")
    ap.add_argument("source")
    a = ap.parse_args()
    with open(a.source, encoding="utf-8") as f:
        lines = f.readlines()
    names = [docs_name(a.source)]
    for spec in a.include:
        path, _, heading = spec.partition(":")
        lines += ["\n"] + section_of(path, heading)
        names.append(docs_name(path))
    out = [
        '.\\" Generated from %s by man/md2man.py (make man-update); edit the Markdown.'
        % " and ".join(names),
        '.TH %s %s "" "authflow" "authflow manual"' % (quote(a.name.upper()), a.section),
        ".\\\" code and key names must not be hyphenated, nor the text stretched",
        ".nh",
        ".ad l",
        ".SH NAME",
        "%s \\- %s" % (esc_code(a.name), esc_text(a.summary)),
    ]
    body = Converter().convert(lines)
    if '.SH "SYNOPSIS"' not in body:
        body = [".SH DESCRIPTION"] + body
    out += hoist_synopsis(body)
    if a.files:
        out.append(".SH FILES")
        for spec in a.files:
            path, _, text = spec.partition("=")
            out += [".TP", "\\fI%s\\fR" % esc_code(path), line_out(inline(text))]
    if a.see_also:
        out.append(".SH SEE ALSO")
        refs = []
        for r in a.see_also:
            m = re.match(r"^(.+)\((\w+)\)$", r)
            refs.append("\\fB%s\\fR(%s)" % (esc_code(m.group(1)), m.group(2)) if m else inline(r))
        out.append(",\n".join(refs))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
