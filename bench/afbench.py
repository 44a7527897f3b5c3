#!/usr/bin/env python3
"""afbench.py - the small helpers bench.sh and callgrind-token.sh share.

  afbench.py start READY_FILE LOG -- CMD...   start CMD in the background
        (stdout to LOG, stderr to LOG.err), wait for READY_FILE to hold a line, print "PID MS URL" (MS: spawn to
        ready, in milliseconds, timed here rather than by the shell so that
        a 10 ms start can be told from a 20 ms one)
  afbench.py freeport                        a free loopback port
  afbench.py waiturl URL SECONDS             wait until URL answers (any status)
  afbench.py rss PID                         resident memory of PID, KiB
  afbench.py anon PID                        the part of it that is PID's own
        (RssAnon: heap, stacks; not the shared libraries' pages), KiB
  afbench.py libs PID                        the shared libraries' resident
        pages: "KIB lib:MiB ..." (the total, then the five largest)
  afbench.py cpu PID                         CPU seconds PID used so far
        (user + system, all threads)
  afbench.py sample PID FILE INTERVAL        append "epoch_seconds rss_kib" to
        FILE every INTERVAL seconds while PID lives (killed by its caller)
  afbench.py series FILE N T0 T1             summarise the samples taken from
        epoch T0 to T1: max, last, and N evenly spaced samples (s after T0)
  afbench.py median V...                     the median of the values
  afbench.py glewlwyd-db DB SCHEMA PEM ISSUER  a glewlwyd sqlite database from
        Debian's schema file, with one OpenID Connect plugin instance named
        "oidc" signing RS256 with the key in PEM (a minimal configuration of
        ours: enough for discovery and /jwks)
  afbench.py run CMD...                      run CMD to its end; print "MS KIB":
        spawn to exit in milliseconds, and its largest resident memory
  afbench.py loop URL N METHOD PATH [BODY]   N keep-alive requests from one
        client (Basic auth from AF_BENCH_CLIENT/AF_BENCH_SECRET when a BODY
        is given); exits non-zero on a non-200

Loopback only; nothing here asserts a figure.
"""

import base64
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request


def cmd_start(args):
    ready, log = args[0], args[1]
    argv = args[3:] if args[2] == "--" else args[2:]
    try:
        os.unlink(ready)
    except FileNotFoundError:
        pass
    out = open(log, "ab")
    err = open(log + ".err", "ab")
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    deadline = t0 + 60
    while True:
        try:
            with open(ready, encoding="utf-8") as f:
                first = f.readline()
            if first.endswith("\n"):
                break
        except FileNotFoundError:
            pass
        if p.poll() is not None:
            sys.exit(f"afbench: {argv[0]} exited with {p.returncode} before it was ready (log: {log})")
        if time.perf_counter() > deadline:
            p.kill()
            sys.exit(f"afbench: {argv[0]} not ready in 60 s")
        time.sleep(0.0005)
    ms = (time.perf_counter() - t0) * 1000
    print(p.pid, f"{ms:.1f}", first.strip())


def cmd_freeport(_args):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def cmd_waiturl(args):
    url, secs = args[0], float(args[1])
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"afbench: {url} did not answer in {secs:g} s")


def rss_kib(pid, field="VmRSS:"):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def cmd_rss(args):
    print(rss_kib(args[0]))


def cmd_anon(args):
    print(rss_kib(args[0], "RssAnon:"))


def cmd_libs(args):
    per = {}
    name = None
    with open(f"/proc/{args[0]}/smaps", encoding="utf-8", errors="replace") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
                name = os.path.basename(head[5]) if len(head) > 5 else None
            elif head[0] == "Rss:" and name and ".so" in name:
                lib = name.split(".so")[0]
                per[lib] = per.get(lib, 0) + int(head[1])
    top = sorted(per.items(), key=lambda kv: -kv[1])
    print(f"{sum(per.values())} " + " ".join(f"{k}:{v / 1024:.1f}" for k, v in top[:5]))


def cmd_cpu(args):
    with open(f"/proc/{args[0]}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat(5), 12 and 13 after ")"
    print(f"{(int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK'):.2f}")


def cmd_sample(args):
    pid, path, interval = args[0], args[1], float(args[2])
    with open(path, "a", encoding="ascii") as f:
        while True:
            try:
                kib = rss_kib(pid)
            except OSError:
                return
            f.write(f"{time.time():.2f} {kib}\n")
            f.flush()
            time.sleep(interval)


def cmd_series(args):
    path, n, t0, t1 = args[0], int(args[1]), float(args[2]), float(args[3])
    rows = []
    with open(path, encoding="ascii") as f:
        for line in f:
            t, kib = line.split()
            if t0 <= float(t) <= t1:
                rows.append((float(t) - t0, int(kib)))
    if not rows:
        print("no samples")
        return
    mib = lambda k: f"{k / 1024:.1f}"
    peak = max(k for _, k in rows)
    step = max(1, (len(rows) - 1) / max(1, n - 1))
    picks = sorted({min(len(rows) - 1, round(i * step)) for i in range(n)})
    pts = " ".join(f"{rows[i][0]:.0f}s:{mib(rows[i][1])}" for i in picks)
    print(f"max {mib(peak)} MiB, last {mib(rows[-1][1])} MiB; samples (s:MiB) {pts}")


def cmd_median(args):
    vals = [float(v) for v in args if v not in ("", "nan")]
    print(f"{statistics.median(vals):.2f}" if vals else "nan")


def cmd_glewlwyd_db(args):
    db_path, schema, pem, issuer = args
    pub = subprocess.run(["openssl", "pkey", "-in", pem, "-pubout"], check=True,
                         capture_output=True, text=True).stdout
    with open(pem, encoding="ascii") as f:
        key = f.read()
    params = {
        "jwt-type": "rsa", "jwt-key-size": "256", "key": key, "cert": pub,
        "access-token-duration": 3600, "refresh-token-duration": 86400,
        "code-duration": 60, "auth-type-code-enabled": True,
        "auth-type-client-enabled": True, "auth-type-refresh-enabled": True,
        "jwks-show": True, "allowed-scope": ["openid"], "iss": issuer,
    }
    import sqlite3  # only here: keep the other commands quick to start

    db = sqlite3.connect(db_path)
    with open(schema, encoding="utf-8") as f:
        db.executescript(f.read())
    db.execute("INSERT INTO g_plugin_module_instance (gpmi_module, gpmi_name, gpmi_display_name,"
               " gpmi_parameters) VALUES ('oidc', 'oidc', 'OIDC', ?)", (json.dumps(params),))
    db.commit()
    db.close()


def cmd_run(args):
    t0 = time.perf_counter()
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    ms = (time.perf_counter() - t0) * 1000
    if status != 0:
        sys.exit(f"afbench: {args[0]} exited with status {status}")
    print(f"{ms:.1f} {usage.ru_maxrss}")


def cmd_loop(args):
    url, n, method, path = args[0], int(args[1]), args[2], args[3]
    body = args[4] if len(args) > 4 else None
    u = urllib.parse.urlparse(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=300)
    h = {}
    if body is not None:
        cred = f"{os.environ.get('AF_BENCH_CLIENT', 'bench-client')}:" \
               f"{os.environ.get('AF_BENCH_SECRET', 'bench-secret')}"
        h = {"Content-Type": "application/x-www-form-urlencoded",
             "Authorization": "Basic " + base64.b64encode(cred.encode()).decode()}
    for _ in range(n):
        c.request(method, path, body, h)
        r = c.getresponse()
        r.read()
        if r.status != 200:
            sys.exit(f"afbench: {method} {path}: status {r.status}")


COMMANDS = {"start": cmd_start, "freeport": cmd_freeport, "waiturl": cmd_waiturl,
            "rss": cmd_rss, "cpu": cmd_cpu, "sample": cmd_sample, "series": cmd_series,
            "median": cmd_median, "glewlwyd-db": cmd_glewlwyd_db, "loop": cmd_loop,
            "run": cmd_run, "anon": cmd_anon, "libs": cmd_libs}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](sys.argv[2:])
