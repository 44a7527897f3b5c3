#!/usr/bin/env python3
"""Slow and hostile clients against authflowd (issue 15): headers and
bodies trickled (slowloris), a chunked body over the cap, more held
connections than the server's limit, and SIGTERM under keep-alive load.

Each cut request is in the ledger (docs/admin.md), with what was cut.

Everything stays on loopback, bounded in count (at most 1,100 sockets)
and in time (each case well under 15 s). The assertions are on outcomes:
a normal client still gets every answer, a slow connection is cut, the
drain loses nothing in flight and ends early; timings only against
generous bounds.

Python 3 standard library only; the daemon and the HTTP client come from
test_server.py. Each class starts its own daemon on 127.0.0.1:0.
"""

import http.client
import os
import resource
import select
import socket
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_server as ts  # noqa: E402  (the shared helpers)
from test_admin import attach_admin  # noqa: E402

DEADLINE = 2  # limits.request_timeout of these daemons, seconds
FORM = "application/x-www-form-urlencoded"


def addr(daemon):
    u = urllib.parse.urlsplit(daemon.url)
    return u.hostname, u.port


def normal_requests(client, seconds, fails):
    """GET /healthz on fresh connections for seconds; failures and the
    slowest answer's time appended to fails (a list) as (what, took)."""
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        t0 = time.monotonic()
        try:
            r = client.request("GET", "/healthz", timeout=3)
            if r.status != 200:
                fails.append(("status %d" % r.status, time.monotonic() - t0))
        except (OSError, http.client.HTTPException) as e:
            fails.append((repr(e), time.monotonic() - t0))
        n += 1
        time.sleep(0.05)
    return n


class Trickler:
    """Slow connections, each sending its request a few bytes at a time
    every `every` seconds, until the server answers or closes."""

    def __init__(self, where, heads, drip, every=0.3):
        self.socks = []
        self.result = {}  # sock -> (seconds until cut, bytes received)
        self.t0 = time.monotonic()
        for head in heads:
            s = socket.create_connection(where, timeout=5)
            s.setblocking(False)
            s.sendall(head)
            self.socks.append(s)
        self.drip, self.every = drip, every

    def run(self, limit):
        """Drip and watch until every connection is cut or limit seconds
        passed."""
        live = list(self.socks)
        next_drip = time.monotonic()
        end = self.t0 + limit
        while live and time.monotonic() < end:
            if time.monotonic() >= next_drip:
                for s in live:
                    try:
                        s.send(self.drip)
                    except OSError:
                        pass  # cut: the read below tells
                next_drip = time.monotonic() + self.every
            readable, _, _ = select.select(live, [], [], 0.05)
            for s in readable:
                try:
                    data = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                self.result[s] = (time.monotonic() - self.t0, data)
                live.remove(s)
        return live

    def close(self):
        for s in self.socks:
            s.close()


class W01SlowClients(ts.AFTestCase):
    """A whole-request deadline: headers or a body trickled byte by byte
    are cut after limits.request_timeout with a 408, while a normal client
    is served throughout."""

    tmp_prefix = "af-it-slow-"

    @classmethod
    def config_mods(cls, cfg):
        cfg.setdefault("limits", {})["request_timeout"] = DEADLINE

    def test_slowloris_and_slow_bodies(self):
        where = addr(self.daemon)
        heads = [b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"] * 40
        heads += [("POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\n"
                   "Content-Length: 4000\r\n\r\ngrant_type=" % FORM).encode()] * 10
        # the header drip is a whole header line; the body drip, body bytes
        t = Trickler(where, heads[:40], b"X-Drip: 1\r\n")
        b = Trickler(where, heads[40:], b"aaaa")
        fails = []
        runners = [threading.Thread(target=x.run, args=(DEADLINE + 4,)) for x in (t, b)]
        for r in runners:
            r.start()
        try:
            n = normal_requests(self.http, DEADLINE + 1.5, fails)
        finally:
            for r in runners:
                r.join(15)
            t.close()
            b.close()
        self.assertEqual(fails, [], "a normal client failed %d times in %d while 50 slow ones were open"
                         % (len(fails), n))
        self.assertGreater(n, 10)
        for x in (t, b):
            self.assertEqual(len(x.result), len(x.socks), "a slow connection was never cut")
            for took, data in x.result.values():
                self.assertGreaterEqual(took, DEADLINE - 0.5)
                self.assertLess(took, DEADLINE + 3, "cut long after the deadline")
                self.assertTrue(data.startswith(b"HTTP/1.1 408 "), data[:200])
                self.assertIn(b"Connection: close", data)
        self.assertAlive()

    def test_idle_keep_alive_closed_quietly(self):
        """A connection that never sends a request line gets no 408 (it
        asked nothing), only the close."""
        t = Trickler(addr(self.daemon), [b""], b"")
        t.run(DEADLINE + 3)
        t.close()
        took, data = list(t.result.values())[0]
        self.assertEqual(data, b"")
        self.assertLess(took, DEADLINE + 3)

    def test_normal_keep_alive_unaffected(self):
        """Requests well inside the deadline on one connection: all served,
        however long the connection lives."""
        conn = http.client.HTTPConnection(*addr(self.daemon), timeout=5)
        try:
            for _ in range(8):
                conn.request("GET", "/healthz")
                r = conn.getresponse()
                r.read()
                self.assertEqual(r.status, 200)
                time.sleep(DEADLINE / 4)
        finally:
            conn.close()

    def test_chunked_body_over_cap_cut_early(self):
        """A chunked body past limits.max_body gets its 413 and the close at
        once, not after the server read the client's 64 MiB."""
        s = socket.create_connection(addr(self.daemon), timeout=10)
        sent = 0
        t0 = time.monotonic()
        try:
            s.sendall(("POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n" % FORM).encode())
            chunk = b"%x\r\n%s\r\n" % (65536, b"a" * 65536)
            try:
                for _ in range(1024):
                    s.sendall(chunk)
                    sent += len(chunk)
            except OSError:
                pass  # cut
            data = b""
            try:
                while True:
                    d = s.recv(65536)
                    if not d:
                        break
                    data += d
            except OSError:
                pass
        finally:
            s.close()
        self.assertLess(sent, 32 * 1024 * 1024, "the server read on far past the cap")
        self.assertLess(time.monotonic() - t0, 8)
        self.assertTrue(data.startswith(b"HTTP/1.1 413 "), data[:300])
        self.assertIn(b"Connection: close", data)
        self.assertIn(b"request body too large", data)
        self.assertAlive()


def with_admin(cfg):
    """The admin API on port 0, for the ledger."""
    cfg["admin"] = {"enabled": True, "listen": "127.0.0.1:0"}


def ledger_since(case, cursor, want, **q):
    """The ledger's entries after cursor (filtered by q), once there are at
    least want of them, or after 5 s: a cut request is recorded when the
    server sees the socket shut, a moment after the client does."""
    end = time.monotonic() + 5
    while True:
        r = case.admin.get("/admin/ledger", query=dict(q, since=cursor))
        case.assertEqual(r.status, 200, r)
        e = r.json()["entries"]
        if len(e) >= want or time.monotonic() > end:
            return e
        time.sleep(0.1)


def ledger_cursor(case):
    return case.admin.get("/admin/ledger", query={"limit": 0}).json()["next"]


class W04CutsInLedger(ts.AFTestCase):
    """A request the guard cuts is in the ledger like any other: method,
    path, query, the headers that came, the status sent (408, 413), the
    error of that answer, and "cut" saying why; so that "the app never
    called /token" is not concluded from a ledger that missed a call."""

    tmp_prefix = "af-it-slow-"

    @classmethod
    def config_mods(cls, cfg):
        cfg.setdefault("limits", {}).update(request_timeout=DEADLINE, max_body=8192)
        with_admin(cfg)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        attach_admin(cls)

    def trickle(self, head, drip):
        t = Trickler(addr(self.daemon), [head], drip)
        try:
            t.run(DEADLINE + 3)
        finally:
            t.close()
        self.assertEqual(len(t.result), 1, "not cut")
        self.assertTrue(list(t.result.values())[0][1].startswith(b"HTTP/1.1 408 "))

    def test_headers_trickled(self):
        """Cut while its headers came: the method is not known yet (the
        server's HTTP library shows it only with the last header), the
        rest is."""
        c = ledger_cursor(self)
        self.trickle(b"GET /authorize?client_id=slow-app&state=s1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"User-Agent: slow-agent\r\n", b"X-Drip: 1\r\n")
        e = ledger_since(self, c, 1)
        self.assertEqual(len(e), 1, e)
        e = e[0]
        self.assertEqual((e["path"], e["method"], e["status"], e["error"], e["cut"]),
                         ("/authorize", None, 408, "invalid_request", "request_timeout"))
        self.assertEqual(e["query"], {"client_id": "slow-app", "state": "s1"})
        self.assertEqual(e["client_id"], "slow-app")
        self.assertEqual(e["headers"].get("user-agent"), "slow-agent")
        self.assertEqual(e["seq"], c + 1)

    def test_body_trickled(self):
        """Cut while its body came: found by the path filter a verdict on
        /token calls uses, with the headers, and no form (it never came
        whole)."""
        c = ledger_cursor(self)
        self.trickle(("POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\n"
                      "Authorization: Basic c2xvdzpzM2NyZXQ=\r\nContent-Length: 4000\r\n\r\n"
                      "grant_type=" % FORM).encode(), b"aaaa")
        e = ledger_since(self, c, 1, path="/token")
        self.assertEqual(len(e), 1, e)
        e = e[0]
        self.assertEqual((e["method"], e["status"], e["error"], e["cut"]),
                         ("POST", 408, "invalid_request", "request_timeout"))
        self.assertEqual(e["headers"]["content-type"], FORM)
        self.assertEqual(e["headers"]["authorization"], "Basic [redacted]")
        self.assertEqual(e["form"], {})

    def test_chunked_body_over_cap(self):
        c = ledger_cursor(self)
        s = socket.create_connection(addr(self.daemon), timeout=10)
        try:
            s.sendall(("POST /token?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n" % FORM).encode())
            try:
                for _ in range(64):
                    s.sendall(b"%x\r\n%s\r\n" % (4096, b"a" * 4096))
            except OSError:
                pass  # cut
            data = s.recv(4096)
        finally:
            s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 413 "), data[:200])
        e = ledger_since(self, c, 1)
        self.assertEqual(len(e), 1, e)
        e = e[0]
        self.assertEqual((e["path"], e["method"], e["status"], e["error"], e["cut"]),
                         ("/token", "POST", 413, "invalid_request", "body_too_large"))
        self.assertEqual(e["query"], {"x": "1"})

    def test_not_cut_not_marked(self):
        """A request line never sent is no request: nothing recorded. An
        answered request has no "cut"."""
        c = ledger_cursor(self)
        t = Trickler(addr(self.daemon), [b""], b"")
        t.run(DEADLINE + 3)
        t.close()
        self.assertEqual(self.http.get("/healthz").status, 200)
        e = ledger_since(self, c, 2)
        self.assertEqual([x["path"] for x in e], ["/healthz"])
        self.assertNotIn("cut", e[0])


class W02Crowd(ts.AFTestCase):
    """More slow connections than the server's connection limit (1,024):
    the oldest are closed to make room, so a normal client is still served
    long before any deadline."""

    tmp_prefix = "af-it-slow-"
    HELD = 1100

    @classmethod
    def config_mods(cls, cfg):
        cfg.setdefault("limits", {})["request_timeout"] = 60
        with_admin(cfg)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        attach_admin(cls)

    def setUp(self):
        super().setUp()
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = self.HELD + 200
        if soft < want:
            if hard != resource.RLIM_INFINITY and hard < want:
                self.skipTest("needs %d open files, the limit is %d" % (want, hard))
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    def test_room_for_new_clients(self):
        where = addr(self.daemon)
        cursor = ledger_cursor(self)
        held = []
        try:
            for _ in range(self.HELD):
                s = socket.create_connection(where, timeout=5)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                held.append(s)
            fails = []
            n = normal_requests(self.http, 3, fails)
            self.assertEqual(fails, [], "a normal client failed %d times in %d with %d slow ones held"
                             % (len(fails), n, self.HELD))
            self.assertGreater(n, 10)
            # the ones that made room were closed, the newest still wait
            cut = 0
            for s in held:
                s.setblocking(False)
                try:
                    s.recv(1)  # a 408 or the close: cut
                    cut += 1
                except BlockingIOError:
                    pass
                except OSError:
                    cut += 1
            self.assertGreater(cut, self.HELD - 1024 * 3 // 4 - 50)
            self.assertLess(cut, self.HELD)
            # each one cut is in the ledger, saying why
            shed = [x for x in ledger_since(self, cursor, n + cut, path="/healthz", limit=1000)
                    if x.get("cut") == "connection_limit"]
            self.assertEqual(len(shed), cut)
            self.assertEqual({(x["status"], x["error"]) for x in shed}, {(408, "invalid_request")})
        finally:
            for s in held:
                s.close()
        self.assertAlive()


class W03Drain(ts.AFTestCase):
    """SIGTERM under keep-alive load: every request sent before the close
    is answered, the answers say Connection: close, and the stop ends as
    soon as they are out, well before the 5 s drain limit. The test stops
    the class's daemon itself."""

    tmp_prefix = "af-it-slow-"
    CLIENTS = 6

    def test_drain(self):
        where = addr(self.daemon)
        stats = {"ok": 0, "closed_by_answer": 0, "lost": []}
        lock = threading.Lock()
        go = threading.Event()

        def client():
            conn = http.client.HTTPConnection(*where, timeout=10)
            go.wait()
            try:
                while True:
                    try:
                        conn.request("GET", "/jwks")
                        r = conn.getresponse()
                        r.read()
                    except (OSError, http.client.HTTPException) as e:
                        # sent on a connection whose last answer did not say
                        # close: lost in flight
                        with lock:
                            stats["lost"].append(repr(e))
                        return
                    with lock:
                        stats["ok"] += r.status == 200
                    if (r.getheader("Connection") or "").lower() == "close":
                        with lock:
                            stats["closed_by_answer"] += 1
                        return
            finally:
                conn.close()

        threads = [threading.Thread(target=client) for _ in range(self.CLIENTS)]
        for t in threads:
            t.start()
        go.set()
        time.sleep(1.0)
        t0 = time.monotonic()
        rc = self.daemon.stop()
        took = time.monotonic() - t0
        for t in threads:
            t.join(15)
        self.assertEqual(rc, 0, self.daemon.stderr()[-2000:])
        self.assertEqual(stats["lost"], [], "%d requests in flight got no answer (stop took %.1f s)"
                         % (len(stats["lost"]), took))
        self.assertEqual(stats["closed_by_answer"], self.CLIENTS, stats)
        self.assertGreater(stats["ok"], self.CLIENTS)
        self.assertLess(took, 2.5, "the drain did not end when the answers were out")


def main():
    return ts.run_tests(sys.modules[__name__], "slow clients")


if __name__ == "__main__":
    sys.exit(main())
