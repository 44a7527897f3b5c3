/*
 * jsonpos.c - where a key path sits in a JSON text.
 *
 * Written by hand because jansson keeps no source positions: a json_t has
 * no line or column, and json_error_t is filled only for syntax errors. The
 * config loader validates the json_t and, on a semantic error, calls
 * af_jsonpos_find() with the key path of the offending value to point the
 * user at it. The scanner only skips over values (strings with their
 * escapes, nested arrays and objects, bare scalars); it does not validate,
 * since jansson has already parsed the same text. Every read is bounded by
 * len, so a malformed text only ends the search early.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authflow/jsonpos.h"
#include "authflow/util.h"

/* jansson refuses deeper nesting (JSON_PARSER_MAX_DEPTH); path_at, the
 * only recursive walk here, stops a little beyond that. */
#define SCAN_MAX_DEPTH 2100

struct scan {
    const char *s;
    size_t len;
    size_t pos;
};

static int peek(const struct scan *sc)
{
    return sc->pos < sc->len ? (unsigned char)sc->s[sc->pos] : -1;
}

static void skip_ws(struct scan *sc)
{
    while (sc->pos < sc->len) {
        char c = sc->s[sc->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        sc->pos++;
    }
}

/* At an opening quote: move past the closing one. An escape hides the next
 * byte, which is all \" and \\ need (\uXXXX digits are plain bytes). */
static bool skip_string(struct scan *sc)
{
    sc->pos++;
    while (sc->pos < sc->len) {
        char c = sc->s[sc->pos++];
        if (c == '\\')
            sc->pos++;
        else if (c == '"')
            return true;
    }
    sc->pos = sc->len;
    return false;
}

static bool is_delim(int c)
{
    return c == -1 || c == ',' || c == ':' || c == ']' || c == '}' || c == '[' || c == '{' ||
           c == '"' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Move past one value. Containers are skipped by counting brackets outside
 * strings, without recursion, so nesting depth costs nothing. */
static bool skip_value(struct scan *sc)
{
    size_t depth = 0;

    skip_ws(sc);
    do {
        int c = peek(sc);
        if (c == -1)
            return false;
        if (c == '"') {
            if (!skip_string(sc))
                return false;
        } else if (c == '{' || c == '[') {
            depth++;
            sc->pos++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return false;
            depth--;
            sc->pos++;
        } else if (c == ',' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (depth == 0)
                return false;
            sc->pos++;
        } else {
            while (!is_delim(peek(sc)))
                sc->pos++;
        }
    } while (depth > 0);
    return true;
}

static long hex4(const char *s, size_t i, size_t end)
{
    long v = 0;
    size_t k;
    if (end < i || end - i < 4)
        return -1;
    for (k = 0; k < 4; k++) {
        int h = af_hex_digit(s[i + k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Decode the next character of a JSON string body s[*i..end) into UTF-8
 * bytes in out. Returns how many bytes, or -1 on a malformed escape. */
static int str_next(const char *s, size_t *i, size_t end, unsigned char out[4])
{
    long cp;
    char c = s[*i];

    if (c != '\\') {
        out[0] = (unsigned char)c;
        (*i)++;
        return 1;
    }
    if (*i + 1 >= end)
        return -1;
    c = s[*i + 1];
    *i += 2;
    switch (c) {
    case '"':
    case '\\':
    case '/':
        out[0] = (unsigned char)c;
        return 1;
    case 'b':
        out[0] = '\b';
        return 1;
    case 'f':
        out[0] = '\f';
        return 1;
    case 'n':
        out[0] = '\n';
        return 1;
    case 'r':
        out[0] = '\r';
        return 1;
    case 't':
        out[0] = '\t';
        return 1;
    case 'u':
        break;
    default:
        return -1;
    }
    cp = hex4(s, *i, end);
    if (cp < 0)
        return -1;
    *i += 4;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        long lo;
        if (*i + 6 > end || s[*i] != '\\' || s[*i + 1] != 'u')
            return -1;
        lo = hex4(s, *i + 2, end);
        if (lo < 0xDC00 || lo > 0xDFFF)
            return -1;
        *i += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return -1;
    }
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Does the string body s[start..end) decode to exactly want? */
static bool name_eq(const char *s, size_t start, size_t end, const char *want)
{
    size_t i = start, w = 0, wlen = strlen(want);
    unsigned char ch[4];

    while (i < end) {
        int n = str_next(s, &i, end, ch);
        if (n < 0 || wlen - w < (size_t)n || memcmp(want + w, ch, (size_t)n) != 0)
            return false;
        w += (size_t)n;
    }
    return w == wlen;
}

/* One step down from the container at sc->pos. On success *at is where the
 * value (or, with want_key, the member name) begins and sc->pos is there. */
static bool step(struct scan *sc, const struct af_jseg *seg, bool want_key, size_t *at)
{
    if (seg->key != NULL) {
        if (peek(sc) != '{')
            return false;
        sc->pos++;
        for (;;) {
            size_t kq, kend;
            skip_ws(sc);
            if (peek(sc) != '"')
                return false;
            kq = sc->pos;
            if (!skip_string(sc))
                return false;
            kend = sc->pos - 1;
            skip_ws(sc);
            if (peek(sc) != ':')
                return false;
            sc->pos++;
            skip_ws(sc);
            if (name_eq(sc->s, kq + 1, kend, seg->key)) {
                *at = want_key ? kq : sc->pos;
                return true;
            }
            if (!skip_value(sc))
                return false;
            skip_ws(sc);
            if (peek(sc) != ',')
                return false;
            sc->pos++;
        }
    }
    if (peek(sc) != '[')
        return false;
    sc->pos++;
    for (size_t k = 0;; k++) {
        skip_ws(sc);
        if (peek(sc) == ']' || peek(sc) == -1)
            return false;
        if (k == seg->index) {
            *at = sc->pos;
            return true;
        }
        if (!skip_value(sc))
            return false;
        skip_ws(sc);
        if (peek(sc) != ',')
            return false;
        sc->pos++;
    }
}

void af_jsonpos_linecol(const char *text, size_t len, size_t off, int *line, int *col)
{
    int l = 1, c = 1;
    size_t i;

    if (off > len)
        off = len;
    for (i = 0; i < off; i++) {
        unsigned char b = (unsigned char)text[i];
        if (b == '\n') {
            l++;
            c = 1;
        } else if ((b & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

size_t af_jsonpos_find(const char *text, size_t len, const struct af_jseg *path, size_t n,
                       bool at_key, int *line, int *col)
{
    struct scan sc = {text, len, 0};
    size_t found = 0, at;

    skip_ws(&sc);
    at = sc.pos;
    while (found < n) {
        size_t next;
        if (!step(&sc, &path[found], at_key && found + 1 == n, &next))
            break;
        at = next;
        found++;
    }
    af_jsonpos_linecol(text, len, at, line, col);
    return found;
}

int af_jsonpos_find_str(const char *text, size_t len, const char *path, bool at_key, int *line,
                        int *col)
{
    char names[512]; /* the names, each NUL-terminated: at most strlen(path) + steps */
    struct af_jseg segs[AF_JPATH_MAX];
    size_t n = 0, used = 0;
    const char *p = path;

    if (strlen(path) > 255)
        return -1;
    while (*p != '\0') {
        if (n == AF_JPATH_MAX)
            return -1;
        if (*p == '[') {
            char *end;
            unsigned long v;
            if (p[1] < '0' || p[1] > '9')
                return -1;
            v = strtoul(p + 1, &end, 10);
            if (*end != ']')
                return -1;
            segs[n].key = NULL;
            segs[n].index = v;
            p = end + 1;
        } else {
            size_t k = strcspn(p, ".[");
            if (k == 0)
                return -1;
            memcpy(names + used, p, k);
            names[used + k] = '\0';
            segs[n].key = names + used;
            segs[n].index = 0;
            used += k + 1;
            p += k;
        }
        n++;
        if (*p == '.') {
            p++;
            if (*p == '\0' || *p == '.' || *p == '[')
                return -1;
        } else if (*p != '\0' && *p != '[') {
            return -1;
        }
    }
    return (int)af_jsonpos_find(text, len, segs, n, at_key, line, col);
}

/* ---- writing paths and quoted values into bounded buffers ---- */

/* Appends are all-or-nothing and always leave room for "..." and the NUL,
 * so a cut never splits an escape or a UTF-8 sequence. */
struct wbuf {
    char *p;
    size_t cap;
    size_t len;
    bool full;
};

static void w_init(struct wbuf *w, char *p, size_t cap)
{
    w->p = p;
    w->cap = cap;
    w->len = 0;
    w->full = cap < 4;
    if (cap > 0)
        p[0] = '\0';
}

static void w_put(struct wbuf *w, const char *s, size_t n)
{
    if (w->full)
        return;
    if (w->len + n + 4 > w->cap) {
        memcpy(w->p + w->len, "...", 4);
        w->len += 3;
        w->full = true;
        return;
    }
    memcpy(w->p + w->len, s, n);
    w->len += n;
    w->p[w->len] = '\0';
}

static size_t utf8_seq_len(unsigned char b)
{
    if (b >= 0xF0)
        return 4;
    if (b >= 0xE0)
        return 3;
    if (b >= 0xC0)
        return 2;
    return 1;
}

/* Write s[0..n) JSON-escaped (without the quotes). */
static void w_escaped(struct wbuf *w, const char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned char b = (unsigned char)s[i];
        char esc[8];
        if (b == '"' || b == '\\') {
            esc[0] = '\\';
            esc[1] = (char)b;
            w_put(w, esc, 2);
            i++;
        } else if (b == '\n') {
            w_put(w, "\\n", 2);
            i++;
        } else if (b == '\t') {
            w_put(w, "\\t", 2);
            i++;
        } else if (b == '\r') {
            w_put(w, "\\r", 2);
            i++;
        } else if (b < 0x20 || b == 0x7F) {
            snprintf(esc, sizeof(esc), "\\u%04x", b);
            w_put(w, esc, 6);
            i++;
        } else {
            size_t k = utf8_seq_len(b);
            if (k > n - i)
                k = n - i;
            w_put(w, s + i, k);
            i += k;
        }
    }
}

static bool simple_name(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

void af_jsonpos_path_str(const struct af_jseg *path, size_t n, char *buf, size_t cap)
{
    struct wbuf w;
    size_t i;

    w_init(&w, buf, cap);
    for (i = 0; i < n; i++) {
        if (path[i].key == NULL) {
            char idx[32];
            int k = snprintf(idx, sizeof(idx), "[%zu]", path[i].index);
            w_put(&w, idx, (size_t)k);
        } else if (simple_name(path[i].key)) {
            if (i > 0)
                w_put(&w, ".", 1);
            w_put(&w, path[i].key, strlen(path[i].key));
        } else {
            w_put(&w, "[\"", 2);
            w_escaped(&w, path[i].key, strlen(path[i].key));
            w_put(&w, "\"]", 2);
        }
    }
}

void af_jsonpos_quote(const char *s, size_t max, char *buf, size_t cap)
{
    struct wbuf w;
    size_t n = strlen(s);
    bool cut = false;

    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
        cut = true;
    }
    w_init(&w, buf, cap);
    w_put(&w, "\"", 1);
    w_escaped(&w, s, n);
    w_put(&w, cut ? "\"..." : "\"", cut ? 4 : 1);
}

/* ---- the path being read at an offset (for jansson's syntax errors) ---- */

#define NAME_MAX_BYTES 40

struct pwalk {
    struct scan sc;
    size_t off;
    size_t depth; /* steps on the path; only the first AF_JPATH_MAX are kept */
    struct af_jseg seg[AF_JPATH_MAX];
    char names[AF_JPATH_MAX][NAME_MAX_BYTES + 4];
};

/* Decode the member name s[start..end) for display, cut after
 * NAME_MAX_BYTES at a character boundary and marked with "...". */
static void decode_name(const char *s, size_t start, size_t end, char *out)
{
    size_t i = start, o = 0;
    unsigned char ch[4];

    while (i < end) {
        int n = str_next(s, &i, end, ch);
        if (n < 0)
            break;
        if (o + (size_t)n > NAME_MAX_BYTES) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(out + o, ch, (size_t)n);
        o += (size_t)n;
    }
    out[o] = '\0';
}

static void push_name(struct pwalk *w, size_t start, size_t end)
{
    if (w->depth < AF_JPATH_MAX) {
        decode_name(w->sc.s, start, end, w->names[w->depth]);
        w->seg[w->depth].key = w->names[w->depth];
        w->seg[w->depth].index = 0;
    }
    w->depth++;
}

static void push_index(struct pwalk *w, size_t k)
{
    if (w->depth < AF_JPATH_MAX) {
        w->seg[w->depth].key = NULL;
        w->seg[w->depth].index = k;
    }
    w->depth++;
}

static bool reached(const struct pwalk *w)
{
    return w->sc.pos >= w->off;
}

/* walk_sep: after a member or an element, pop its step and read the ','
 * (*more set) or the closing bracket close (*more cleared). Returns false
 * to stop the whole walk, as walk_value does. */
static bool walk_sep(struct pwalk *w, int close, bool *more)
{
    int c;

    w->depth--;
    skip_ws(&w->sc);
    if (reached(w))
        return false;
    c = peek(&w->sc);
    if (c == -1)
        return false;
    w->sc.pos++;
    *more = c == ',';
    return c == ',' || c == close;
}

/* Walk one value. Returns false to stop the whole walk: the offset was
 * reached or the text broke; w->seg then holds the path of that moment.
 * Reaching the offset on a closing bracket is left to the caller, which
 * has popped the step by then: an error just after a container belongs to
 * the container's parent. */
static bool walk_value(struct pwalk *w, size_t nest)
{
    struct scan *sc = &w->sc;
    bool more;
    int c;

    skip_ws(sc);
    if (reached(w) || nest > SCAN_MAX_DEPTH)
        return false;
    c = peek(sc);
    if (c == '{') {
        sc->pos++;
        skip_ws(sc);
        if (peek(sc) == '}') {
            sc->pos++;
            return true;
        }
        for (;;) {
            size_t kq;
            skip_ws(sc);
            if (reached(w) || peek(sc) != '"')
                return false;
            kq = sc->pos;
            if (!skip_string(sc))
                return false;
            push_name(w, kq + 1, sc->pos - 1);
            if (reached(w))
                return false;
            skip_ws(sc);
            if (peek(sc) != ':')
                return false;
            sc->pos++;
            if (!walk_value(w, nest + 1) || !walk_sep(w, '}', &more))
                return false;
            if (!more)
                return true;
        }
    }
    if (c == '[') {
        sc->pos++;
        skip_ws(sc);
        if (peek(sc) == ']') {
            sc->pos++;
            return true;
        }
        for (size_t k = 0;; k++) {
            push_index(w, k);
            if (!walk_value(w, nest + 1) || !walk_sep(w, ']', &more))
                return false;
            if (!more)
                return true;
        }
    }
    if (c == '"') {
        if (!skip_string(sc))
            return false;
        return !reached(w);
    }
    if (is_delim(c))
        return false;
    while (!is_delim(peek(sc)))
        sc->pos++;
    return !reached(w);
}

void af_jsonpos_path_at(const char *text, size_t len, size_t off, char *buf, size_t cap)
{
    struct pwalk w;
    size_t n;

    memset(&w, 0, sizeof(w));
    w.sc.s = text;
    w.sc.len = len;
    w.off = off;
    (void)walk_value(&w, 0);
    n = w.depth < AF_JPATH_MAX ? w.depth : AF_JPATH_MAX;
    af_jsonpos_path_str(w.seg, n, buf, cap);
}
