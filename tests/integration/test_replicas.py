#!/usr/bin/env python3
"""Integration tests of authflowd replicas sharing their state through Redis
(store.redis, docs/replicas.md): two or three authflowd processes on
127.0.0.1:0 with the same config and keys, against one redis-server from
Debian on a loopback port, behind haproxy from Debian (round robin per
request) where a test needs one address.

What must hold is what one provider guarantees, whichever replica serves a
hop: a code issued by one is redeemed at another, once, also when two
replicas are asked at the same instant; a refresh token rotates once across
replicas and its replay at another revokes the grant everywhere; a
revocation at one is seen by the others' userinfo and introspection; a
login page served by one is accepted by another, and its session is
known to all. With Redis gone, every replica answers 503 with an OAuth
error body and a log line naming Redis, never a token and never a crash,
and serves again once Redis is back. Every refusal here is paired with the
request that must succeed.

Python 3 standard library only; the daemon and HTTP helpers come from
test_server.py. Exit 77 when redis-server or haproxy is missing or
authflowd was built without hiredis (tests/test_replicas.sh checks first).
"""

import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_server as ts  # noqa: E402  (the shared helpers)
from test_server import HttpClient  # noqa: E402

SHIPPED = os.path.join(ts.SRCDIR, "conf", "authflowd.json")
CLIENT, SECRET = "test-client", "test-client-secret"
REDIRECT = "http://127.0.0.1:8765/callback"
BASIC = "Basic " + base64.b64encode(("%s:%s" % (CLIENT, SECRET)).encode()).decode()
RACE_ROUNDS = 20
ADMIN_SECRET = "replicas-admin-secret"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.02)
    return False


class Redis:
    """redis-server on a loopback port, no persistence; stop and start keep
    the port (a restart comes back empty)."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.port = free_port()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", self.workdir, "--protected-mode", "yes"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_port(self.port):
            raise RuntimeError("redis-server did not listen on %d" % self.port)
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def command(self, *words):
        """One command in RESP; the reply line (enough for the counts here)."""
        out = b"*%d\r\n" % len(words)
        for w in words:
            w = w.encode() if isinstance(w, str) else w
            out += b"$%d\r\n%s\r\n" % (len(w), w)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(out)
            return s.recv(65536).decode("utf-8", "replace")


class HAProxy:
    """haproxy in HTTP mode, round robin per request over the replicas."""

    def __init__(self, workdir, port, backends):
        self.path = os.path.join(workdir, "haproxy.cfg")
        lines = ["global", "  maxconn 256", "defaults", "  mode http", "  timeout connect 2s",
                 "  timeout client 30s", "  timeout server 30s", "  option http-server-close",
                 "frontend fe", "  bind 127.0.0.1:%d" % port, "  default_backend be",
                 "backend be", "  balance roundrobin"]
        lines += ["  server r%d 127.0.0.1:%d" % (i, p) for i, p in enumerate(backends)]
        with open(self.path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        self.port = port
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", self.path], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_port(port):
            self.stop()
            raise RuntimeError("haproxy did not listen on %d" % port)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def port_of(url):
    return urllib.parse.urlsplit(url).port


def start_replica(config_path, workdir):
    """A replica and the URL it listens at: its first stdout line is the
    shared issuer (the balancer's address), so the port comes from its
    log line "listening on port N"."""
    d = ts.Daemon(config_path, workdir).start()
    deadline = time.monotonic() + ts.START_TIMEOUT
    while time.monotonic() < deadline:
        m = re.search(r"listening on port (\d+)", d.stderr())
        if m:
            d.listen_url = "http://127.0.0.1:%s" % m.group(1)
            return d
        time.sleep(0.01)
    d.kill()
    raise RuntimeError("no 'listening on port' line: %s" % d.stderr())


def admin_url(d):
    """The admin API's URL from the banner ("#   admin: URL"), or None."""
    for _ in range(500):
        with open(d.out_path, "rb") as f:
            m = re.search(r"^#\s+admin:\s+(http://\S+)", f.read().decode("utf-8", "replace"), re.M)
        if m:
            return m.group(1)
        time.sleep(0.01)
    return None


class ReplicaCase(unittest.TestCase):
    """A Redis and N replicas of the shipped config, issuer the address the
    load balancer will have; class attributes r (replicas), http (clients)."""

    replicas = 2
    interactive = False
    admin = False  # each replica's admin API on 127.0.0.1:0, secret ADMIN_SECRET

    @classmethod
    def setUpClass(cls):
        cls.tmpdir = tempfile.mkdtemp(prefix="af-it-replicas-")
        cls.redis = Redis(cls.tmpdir).start()
        cls.lb_port = free_port()
        cls.issuer = "http://127.0.0.1:%d" % cls.lb_port
        cfg = ts.load_json(SHIPPED)
        cfg.pop("listen", None)
        cfg["issuer"] = cls.issuer
        # the same keys for every replica: files made by the first
        # (RS256 signs, as in the shipped config: OIDC's default ID token alg)
        cfg["keys"] = [{"alg": "RS256", "pem_file": os.path.join(cls.tmpdir, "rs256.pem"), "generate": True},
                       {"alg": "ES256", "pem_file": os.path.join(cls.tmpdir, "es256.pem"), "generate": True}]
        cfg["store"] = {"redis": cls.redis.url(), "prefix": "it-" + cls.__name__}
        cfg.setdefault("login", {})["interactive"] = cls.interactive
        if cls.admin:
            cfg["admin"] = {"enabled": True, "listen": "127.0.0.1:0", "secret": ADMIN_SECRET}
        cls.extra_config(cfg)
        cls.cfg = cfg
        cls.config_path = os.path.join(cls.tmpdir, "authflowd.json")
        with open(cls.config_path, "w", encoding="utf-8") as f:
            json.dump(cfg, f)
        cls.r = []
        for _ in range(cls.replicas):
            cls.r.append(start_replica(cls.config_path, cls.tmpdir))
        cls.http = [HttpClient(d.listen_url) for d in cls.r]

    @classmethod
    def tearDownClass(cls):
        bad = []
        for d in cls.r:
            rc = d.stop()
            if rc != 0:
                bad.append("authflowd exited %r: %s" % (rc, d.stderr()[-1500:]))
        cls.redis.stop()
        shutil.rmtree(cls.tmpdir, ignore_errors=True)
        if bad:
            raise AssertionError("; ".join(bad))

    @classmethod
    def extra_config(cls, cfg):
        """Override to change the replicas' config."""

    # ---- keys, through the admin API and /jwks

    def keys_admin(self, at, method, path="/admin/keys", body=None, query=None):
        h = {"Authorization": "Bearer " + ADMIN_SECRET}
        if body is not None:
            h["Content-Type"] = "application/json"
            body = json.dumps(body)
        return HttpClient(admin_url(self.r[at])).request(method, path, query=query, body=body, headers=h)

    def kids(self, http):
        r = http.get("/jwks")
        self.assertEqual(r.status, 200, r)
        return sorted(k["kid"] for k in r.json()["keys"])

    def signing_kid(self, at):
        svc = "Basic " + base64.b64encode(b"demo-service:demo-service-secret").decode()
        r = self.http[at].post("/token", [("grant_type", "client_credentials")],
                               headers={"Authorization": svc})
        self.assertEqual(r.status, 200, r)
        head = r.json()["access_token"].split(".")[0]
        return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"]

    def eventually(self, fn, want, what):
        deadline = time.monotonic() + 5
        got = fn()
        while got != want and time.monotonic() < deadline:
            time.sleep(0.05)
            got = fn()
        self.assertEqual(got, want, what)

    # ---- flows, one hop at the replica named

    def authorize(self, at, **extra):
        q = {"response_type": "code", "client_id": CLIENT, "redirect_uri": REDIRECT,
             "scope": "openid profile offline_access", "state": "st-%d" % time.monotonic_ns(),
             "nonce": "n-%d" % time.monotonic_ns()}
        q.update(extra)
        return self.http[at].get("/authorize", q)

    def code_at(self, at):
        r = self.authorize(at)
        self.assertEqual(r.status, 302, r)
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(r.location).query)
        self.assertIn("code", q, r.location)
        return q["code"][0]

    def redeem(self, at, code):
        return self.http[at].post("/token", [("grant_type", "authorization_code"), ("code", code),
                                             ("redirect_uri", REDIRECT)],
                                  headers={"Authorization": BASIC})

    def refresh(self, at, token):
        return self.http[at].post("/token", [("grant_type", "refresh_token"), ("refresh_token", token)],
                                  headers={"Authorization": BASIC})

    def userinfo(self, at, access):
        return self.http[at].get("/userinfo", headers={"Authorization": "Bearer " + access})

    def introspect(self, at, token):
        r = self.http[at].post("/introspect", [("token", token)], headers={"Authorization": BASIC})
        self.assertEqual(r.status, 200, r)
        return r.json()

    def tokens(self, at_code, at_token):
        r = self.redeem(at_token, self.code_at(at_code))
        self.assertEqual(r.status, 200, r)
        return r.json()

    def assertRefused(self, r, error="invalid_grant"):
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json().get("error"), error, r)


class T01SharedState(ReplicaCase):

    def test_same_keys_and_metadata(self):
        """Every replica publishes the same key set and metadata: a client
        may fetch them from any."""
        a, b = (h.get("/jwks") for h in self.http)
        self.assertEqual(a.status, 200, a)
        self.assertEqual(a.json(), b.json())
        a, b = (h.get("/.well-known/openid-configuration") for h in self.http)
        self.assertEqual(a.json(), b.json())
        self.assertEqual(a.json()["issuer"], self.issuer)

    def test_code_at_another_replica_once(self):
        """A code issued by one replica is redeemed at the other; its replay
        at the first is refused and revokes the tokens the other issued."""
        code = self.code_at(0)
        r = self.redeem(1, code)
        self.assertEqual(r.status, 200, r)
        tok = r.json()
        self.assertEqual(self.userinfo(0, tok["access_token"]).status, 200)
        r = self.redeem(0, code)
        self.assertRefused(r)
        self.assertIn("already used", r.json().get("error_description", ""))
        # RFC 6749 §4.1.2: the replay revoked what the code produced, at both
        for at in (0, 1):
            self.assertEqual(self.userinfo(at, tok["access_token"]).status, 401)
            self.assertRefused(self.refresh(at, tok["refresh_token"]))

    def test_code_of_another_client_stays_usable(self):
        """Another client cannot burn a code at another replica."""
        code = self.code_at(0)
        other = "Basic " + base64.b64encode(b"test-client-2:test-client-2-secret").decode()
        r = self.http[1].post("/token", [("grant_type", "authorization_code"), ("code", code),
                                         ("redirect_uri", REDIRECT)], headers={"Authorization": other})
        self.assertRefused(r)
        self.assertEqual(self.redeem(0, code).status, 200)

    def test_concurrent_redemption_one_wins(self):
        """The same code sent to both replicas at the same instant gets
        tokens once at most, in every one of RACE_ROUNDS rounds; the other
        is refused as a replay, which revokes the grant (RFC 6749 §4.1.2),
        so the winner's tokens die with it. Which of the two is first, and
        whether the replay lands before the winner's tokens are made (then
        neither gets any), is the race's; a 500 never is."""
        # the control: a code issued at one replica and redeemed alone at the
        # other gives tokens, so a round lost by both is the race's doing
        # (the replay revoked the grant before the winner's tokens were
        # made), not codes refused outright. Over Redis the loser's replay
        # often lands first, so a round with a winner is not guaranteed.
        for at in (0, 1):
            r = self.redeem(1 - at, self.code_at(at))
            self.assertEqual(r.status, 200, r)
        for round_ in range(RACE_ROUNDS):
            code = self.code_at(round_ % 2)
            barrier = threading.Barrier(2)
            out = [None, None]

            def go(i):
                barrier.wait()
                out[i] = self.redeem(i, code)

            ths = [threading.Thread(target=go, args=(i,)) for i in (0, 1)]
            for t in ths:
                t.start()
            for t in ths:
                t.join(30)
            statuses = sorted(r.status for r in out)
            self.assertIn(statuses, ([200, 400], [400, 400]), "round %d: %r" % (round_, out))
            for r in out:
                if r.status == 400:
                    self.assertEqual(r.json().get("error"), "invalid_grant", r)
                else:
                    self.assertEqual(self.userinfo(0, r.json()["access_token"]).status, 401, r)

    def test_refresh_rotation_and_replay_across_replicas(self):
        """A refresh token rotated at one replica is used up at the other;
        its replay there revokes the grant (RFC 9700 §4.14.2) everywhere."""
        tok = self.tokens(0, 0)
        r = self.refresh(1, tok["refresh_token"])
        self.assertEqual(r.status, 200, r)
        new = r.json()
        self.assertNotEqual(new["refresh_token"], tok["refresh_token"])
        self.assertEqual(self.userinfo(0, new["access_token"]).status, 200)
        r = self.refresh(0, tok["refresh_token"])
        self.assertRefused(r)
        self.assertIn("already used", r.json().get("error_description", ""))
        self.assertRefused(self.refresh(1, new["refresh_token"]))
        for at in (0, 1):
            self.assertEqual(self.userinfo(at, new["access_token"]).status, 401)

    def test_revocation_seen_by_the_other(self):
        """RFC 7009 at one replica: the other's introspection and userinfo
        refuse the token from then on."""
        tok = self.tokens(1, 0)
        self.assertTrue(self.introspect(1, tok["access_token"])["active"])
        self.assertEqual(self.userinfo(1, tok["access_token"]).status, 200)
        r = self.http[0].post("/revoke", [("token", tok["access_token"])], headers={"Authorization": BASIC})
        self.assertEqual(r.status, 200, r)
        self.assertFalse(self.introspect(1, tok["access_token"])["active"])
        self.assertEqual(self.userinfo(1, tok["access_token"]).status, 401)
        # the refresh token was not revoked with it (RFC 7009 §2.1 MAY; this
        # server revokes only what was named)
        self.assertTrue(self.introspect(1, tok["refresh_token"])["active"])
        r = self.http[1].post("/revoke", [("token", tok["refresh_token"])], headers={"Authorization": BASIC})
        self.assertEqual(r.status, 200, r)
        self.assertFalse(self.introspect(0, tok["refresh_token"])["active"])
        self.assertRefused(self.refresh(0, tok["refresh_token"]))

    def test_expiry_by_ttl(self):
        """Entries carry a TTL in Redis: memory is bounded by live state."""
        self.code_at(0)
        keys = self.redis.command("KEYS", "it-%s:c:*" % type(self).__name__)
        self.assertTrue(keys.startswith("*") and not keys.startswith("*0"), keys)
        first = re.search(r"\$\d+\r\n([^\r]+)", keys).group(1)
        ttl = self.redis.command("TTL", first)
        self.assertRegex(ttl, r"^:\d+\r\n$")
        self.assertLessEqual(int(ttl[1:]), self.cfg["lifetimes"]["code"] + 2)


class T02LoginAcrossReplicas(ReplicaCase):
    """The login page from one replica, posted to the other; the session
    it makes is known to both."""

    interactive = True

    def login_page(self, at):
        r = self.authorize(at)
        self.assertEqual(r.status, 200, r)
        forms = [f for f in ts.parse_forms(r.text) if (f["action"] or "").endswith("/login")]
        self.assertTrue(forms, r.text[:500])
        cookie = [c.split(";")[0] for c in r.header_all("Set-Cookie") if c.startswith(ts.LOGIN_COOKIE + "=")]
        self.assertTrue(cookie, r.header_all("Set-Cookie"))
        return forms, cookie[0]

    def post_login(self, at, forms, cookie):
        for f in forms:
            for b in f["buttons"]:
                if "alice" in (b["value"] + " " + b["text"]):
                    data = [(i["name"], i["value"]) for i in f["inputs"] if i["type"] == "hidden" and i["name"]]
                    if b.get("name"):
                        data.append((b["name"], b["value"]))
                    return self.http[at].post("/login", data, headers={"Cookie": cookie})
        self.fail("no button for alice in %r" % forms)

    def test_login_form_of_one_accepted_by_the_other(self):
        forms, cookie = self.login_page(0)
        r = self.post_login(1, forms, cookie)
        self.assertIn(r.status, (302, 303), r)
        self.assertIn("code=", r.location)
        # the login form's token is still bound to its cookie: another
        # browser's cookie is refused at either replica
        forms, _ = self.login_page(1)
        r = self.post_login(0, forms, ts.LOGIN_COOKIE + "=" + "A" * 43)
        self.assertEqual(r.status, 403, r)

    def test_session_known_to_the_other(self):
        """prompt=none succeeds at the other replica with the session
        cookie, and without it answers login_required."""
        forms, cookie = self.login_page(1)
        r = self.post_login(0, forms, cookie)
        self.assertIn(r.status, (302, 303), r)
        session = [c.split(";")[0] for c in r.header_all("Set-Cookie") if c.startswith(ts.SESSION_COOKIE + "=")]
        self.assertTrue(session, r.header_all("Set-Cookie"))
        r = self.http[1].get("/authorize", {"response_type": "code", "client_id": CLIENT,
                                            "redirect_uri": REDIRECT, "scope": "openid", "state": "s",
                                            "nonce": "n", "prompt": "none"},
                             headers={"Cookie": session[0]})
        self.assertEqual(r.status, 302, r)
        self.assertIn("code=", r.location)
        r = self.authorize(1, prompt="none")
        self.assertEqual(r.status, 302, r)
        self.assertIn("error=login_required", r.location)


class T06SharedScenarios(ReplicaCase):
    """The scenario queue is one for all replicas: an entry queued through
    one admin API applies at whichever replica serves the flow, once; the
    list and a clear through either are the same queue. The config's
    scenarios are queued once, by the first replica to start."""

    admin = True

    @classmethod
    def extra_config(cls, cfg):
        cfg["scenarios"] = [{"name": "userinfo_unauthorized", "client": "demo-app"}]

    def admin_req(self, at, method, body=None):
        h = {"Authorization": "Bearer " + ADMIN_SECRET}
        if body is not None:
            h["Content-Type"] = "application/json"
            body = json.dumps(body)
        return HttpClient(admin_url(self.r[at])).request(method, "/admin/scenarios", body=body, headers=h)

    def queued(self, at):
        r = self.admin_req(at, "GET")
        self.assertEqual(r.status, 200, r)
        return r.json()["queued"]

    def test_a_config_entry_queued_once(self):
        entries = [e for e in self.queued(0) if e["name"] == "userinfo_unauthorized"]
        self.assertEqual(len(entries), 1, self.queued(0))
        self.assertEqual(self.queued(0), self.queued(1))

    def test_queued_at_one_applies_at_the_other_once(self):
        r = self.admin_req(0, "POST", {"name": "token_invalid_grant", "client": CLIENT})
        self.assertEqual(r.status, 201, r)
        entry = r.json()
        self.assertIn(entry["id"], [e["id"] for e in self.queued(1)])
        code = self.code_at(0)
        r = self.redeem(1, code)  # the scenario, at the replica that did not queue it
        self.assertRefused(r)
        self.assertNotIn(entry["id"], [e["id"] for e in self.queued(0)])
        # used up: the next redemption, at the first replica, gets tokens
        self.assertEqual(self.redeem(0, self.code_at(1)).status, 200)

    def test_clear_through_either(self):
        r = self.admin_req(1, "POST", {"name": "token_server_error", "client": CLIENT, "times": 0})
        self.assertEqual(r.status, 201, r)
        r = self.admin_req(0, "DELETE")
        self.assertEqual(r.status, 200, r)
        self.assertGreaterEqual(r.json()["cleared"], 1)
        self.assertEqual(self.queued(1), [])
        self.assertEqual(self.redeem(1, self.code_at(0)).status, 200)


class T07SharedLedger(ReplicaCase):
    """One ledger for all replicas: requests served by either are one
    ordered log, with one seq counter, read and cleared through any admin
    API, capped at ledger.max_entries."""

    admin = True
    CAP = 40

    @classmethod
    def extra_config(cls, cfg):
        cfg["ledger"] = {"max_entries": cls.CAP}

    def ledger(self, at, method="GET", **query):
        r = HttpClient(admin_url(self.r[at])).request(method, "/admin/ledger", query=query or None,
                                                       headers={"Authorization": "Bearer " + ADMIN_SECRET})
        self.assertEqual(r.status, 200, r)
        return r.json()

    def test_one_ordered_log(self):
        start = self.ledger(0, limit="0")["next"]
        code = self.code_at(0)
        self.assertEqual(self.redeem(1, code).status, 200)
        self.assertRefused(self.redeem(0, code))
        for at in (0, 1):
            page = self.ledger(at, since=str(start))
            entries = page["entries"]
            self.assertEqual([e["seq"] for e in entries], [start + 1, start + 2, start + 3], page)
            self.assertEqual([(e["method"], e["path"], e["status"]) for e in entries],
                             [("GET", "/authorize", 302), ("POST", "/token", 200), ("POST", "/token", 400)])
            self.assertEqual(page["next"], start + 3)
        # the filters, and the code filter across replicas
        page = self.ledger(1, since=str(start), path="/token", code=code)
        self.assertEqual([e["status"] for e in page["entries"]], [200, 400], page)
        page = self.ledger(1, since=str(start), path="/token", limit="1")
        self.assertEqual(page["count"], 1)
        self.assertEqual(page["next"], start + 2)
        self.assertEqual(self.ledger(0, since=str(start), client_id="nobody")["entries"], [])

    def test_capped_and_cleared_through_either(self):
        start = self.ledger(1, limit="0")["next"]
        for i in range(self.CAP + 10):
            self.assertEqual(self.http[i % 2].get("/jwks").status, 200)
        page = self.ledger(0, since=str(start))
        self.assertEqual(page["count"], self.CAP, page["count"])
        self.assertEqual(page["dropped"], 10)
        self.assertEqual(page["entries"][-1]["seq"], start + self.CAP + 10)
        cleared = self.ledger(1, method="DELETE")["cleared"]
        self.assertEqual(cleared, self.CAP)
        page = self.ledger(0, since=str(start + self.CAP + 10))
        self.assertEqual(page["entries"], [])
        # the seq goes on after a clear: a reader's cursor stays valid
        self.assertEqual(self.http[0].get("/jwks").status, 200)
        self.assertEqual([e["seq"] for e in self.ledger(1, since=str(start + self.CAP + 10))["entries"]],
                         [start + self.CAP + 11])


class T08SharedKeys(ReplicaCase):
    """Keys generated once for all replicas and kept in Redis; a key added,
    picked or retired through one replica's admin API reaches the others
    (within AF_KEYSHARE_SYNC_MS of their next key read), and a replica
    started later replays it all."""

    admin = True

    @classmethod
    def extra_config(cls, cfg):
        cfg["keys"] = [{"alg": "RS256", "generate": True}, {"alg": "ES256", "generate": True}]

    def test_generated_once_for_all(self):
        self.assertEqual(self.kids(self.http[0]), self.kids(self.http[1]))
        self.assertEqual(len(self.kids(self.http[0])), 2)
        logs = [d.stderr() for d in self.r]
        made = [l for l in logs if "into Redis, for every replica" in l]
        self.assertEqual(len(made), 1, logs)  # the first replica made them, the other read them

    def test_rotation_reaches_the_other(self):
        before = self.kids(self.http[1])
        old = self.signing_kid(1)
        r = self.keys_admin(0, "POST", body={"alg": "ES256", "sign": True})
        self.assertEqual(r.status, 201, r)
        new = r.json()["kid"]
        self.eventually(lambda: self.kids(self.http[1]), sorted(before + [new]), "B's JWKS")
        self.eventually(lambda: self.signing_kid(1), new, "B signs with the new key")
        # a token B signs with it verifies at A (userinfo checks the signature)
        tok = self.tokens(1, 1)
        self.assertEqual(self.userinfo(0, tok["access_token"]).status, 200)
        # back to the old key through B, then retire the new one through B, now
        r = self.keys_admin(1, "POST", path="/admin/keys/signing", body={"kid": old})
        self.assertEqual(r.status, 200, r)
        r = self.keys_admin(1, "DELETE", query={"kid": new, "grace_seconds": "0"})
        self.assertEqual(r.status, 200, r)
        self.eventually(lambda: self.kids(self.http[0]), before, "A's JWKS")
        self.eventually(lambda: self.signing_kid(0), old, "A signs with the old key again")
        # a replica started now replays the log: the same keys, the same signer
        third = start_replica(self.config_path, self.tmpdir)
        try:
            h = HttpClient(third.listen_url)
            self.assertEqual(self.kids(h), before)
        finally:
            self.assertEqual(third.stop(), 0)


class T03RedisDownAndBack(ReplicaCase):
    """Redis stopped mid-run, then started again (empty) on its port."""

    admin = True

    @classmethod
    def extra_config(cls, cfg):
        # keys kept in Redis, which forgets them when it restarts empty
        cfg["keys"] = [{"alg": "RS256", "generate": True}, {"alg": "ES256", "generate": True}]

    def test_down_then_back(self):
        # a key added and retired through A: B has read three log entries
        before = self.kids(self.http[1])
        r = self.keys_admin(0, "POST", body={"alg": "ES256"})
        self.assertEqual(r.status, 201, r)
        kid = r.json()["kid"]
        self.eventually(lambda: kid in self.kids(self.http[1]), True, "B has A's key")
        r = self.keys_admin(0, "DELETE", query={"kid": kid, "grace_seconds": "0"})
        self.assertEqual(r.status, 200, r)
        self.eventually(lambda: self.kids(self.http[1]), before, "B retired it")
        tok = self.tokens(0, 1)
        code = self.code_at(1)
        self.redis.stop()
        try:
            for at in (0, 1):
                r = self.redeem(at, code)
                self.assertEqual(r.status, 503, r)
                self.assertEqual(r.json().get("error"), "temporarily_unavailable", r)
                self.assertIn("Redis", r.json().get("error_description", ""))
                # neither 200 (revocation unknown) nor 401 (not the token's fault)
                self.assertEqual(self.userinfo(at, tok["access_token"]).status, 503)
                r = self.http[at].post("/introspect", [("token", tok["access_token"])],
                                       headers={"Authorization": BASIC})
                self.assertEqual(r.status, 503, r)
                r = self.refresh(at, tok["refresh_token"])
                self.assertEqual(r.status, 503, r)
                # the authorization endpoint returns the error to the client
                r = self.authorize(at)
                self.assertEqual(r.status, 302, r)
                self.assertIn("error=temporarily_unavailable", r.location)
                # what needs no state is still served
                self.assertEqual(self.http[at].get("/jwks").status, 200)
            for d in self.r:
                self.assertTrue(d.alive())
                self.assertRegex(d.stderr(), r"Redis at 127\.0\.0\.1:%d: .*(refused|connect)" % self.redis.port)
        finally:
            self.redis.start()
        # back: a new flow across replicas works, and the code issued before
        # (no persistence: forgotten) is not honoured
        tok2 = self.tokens(0, 1)
        self.assertEqual(self.userinfo(0, tok2["access_token"]).status, 200)
        self.assertRefused(self.redeem(0, code))
        # the replicas wrote their shared keys back: a replica started now
        # reads them, and takes a refresh token issued by the others
        third = start_replica(self.config_path, self.tmpdir)
        try:
            h = HttpClient(third.listen_url)
            r = h.post("/token", [("grant_type", "refresh_token"),
                                  ("refresh_token", tok2["refresh_token"])],
                       headers={"Authorization": BASIC})
            self.assertEqual(r.status, 200, r)
            # and the same signing keys, not new ones
            self.assertEqual(self.kids(h), self.kids(self.http[0]))
        finally:
            self.assertEqual(third.stop(), 0)
        # the key log began again, and is soon as long as what B had read
        # before: keys added through A still reach B
        added = []
        for _ in range(2):
            r = self.keys_admin(0, "POST", body={"alg": "ES256"})
            self.assertEqual(r.status, 201, r)
            added.append(r.json()["kid"])
        self.eventually(lambda: self.kids(self.http[1]), sorted(before + added),
                        "B's JWKS after the restart")


class T04StartFailures(unittest.TestCase):
    """A store that cannot be used stops the start, with the reason."""

    @classmethod
    def setUpClass(cls):
        cls.tmpdir = tempfile.mkdtemp(prefix="af-it-replicas-start-")
        cls.redis = Redis(cls.tmpdir).start()

    @classmethod
    def tearDownClass(cls):
        cls.redis.stop()
        shutil.rmtree(cls.tmpdir, ignore_errors=True)

    def start_with(self, store):
        cfg = ts.load_json(SHIPPED)
        cfg["keys"] = [{"alg": "ES256"}]
        cfg["store"] = store
        path = os.path.join(self.tmpdir, "c.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(cfg, f)
        p = subprocess.run([ts.find_authflowd(), "--config", path, "--listen", "127.0.0.1:0"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        return p.returncode, p.stderr.decode("utf-8", "replace")

    def test_unreachable(self):
        port = free_port()
        rc, err = self.start_with({"redis": "redis://127.0.0.1:%d" % port, "timeout_ms": 500})
        self.assertEqual(rc, 1, err)
        self.assertIn("Redis at 127.0.0.1:%d: cannot connect" % port, err)

    def test_password_refused(self):
        rc, err = self.start_with({"redis": "redis://:wrong@127.0.0.1:%d" % self.redis.port})
        self.assertEqual(rc, 1, err)
        self.assertIn("AUTH refused", err)

    def test_tls_url_refused_with_position(self):
        rc, err = self.start_with({"redis": "rediss://127.0.0.1:%d" % self.redis.port})
        self.assertEqual(rc, 2, err)  # a configuration error, as every other
        self.assertRegex(err, r"c\.json:\d+:\d+: store\.redis: rediss://")

    def test_reachable_starts(self):
        """The positive control: the same config with the right address."""
        cfg_ok = {"redis": self.redis.url()}
        path = os.path.join(self.tmpdir, "ok.json")
        cfg = ts.load_json(SHIPPED)
        cfg["keys"] = [{"alg": "ES256"}]
        cfg["store"] = cfg_ok
        with open(path, "w", encoding="utf-8") as f:
            json.dump(cfg, f)
        d = ts.Daemon(path, self.tmpdir).start()
        self.assertEqual(HttpClient(d.url).get("/jwks").status, 200)
        self.assertEqual(d.stop(), 0)


class T05ProbeThroughBalancer(ReplicaCase):
    """authprobe's whole AS suite through haproxy, each request to the next
    replica, against the same suite on one authflowd keeping its state in
    memory (same config and keys): the replicas must give every verdict one
    provider gives, and pass."""

    interactive = True

    def probe(self, issuer, name):
        report = os.path.join(self.tmpdir, name + ".json")
        p = subprocess.run([os.path.join(os.environ.get("AF_BUILDDIR", "."), "authprobe"), "run",
                            os.path.join(ts.SRCDIR, "conf", "suites", "as.json"),
                            "--target", os.path.join(ts.SRCDIR, "conf", "targets", "authflowd.json"),
                            "--issuer", issuer, "--report", "json:" + report],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
        with open(report, encoding="utf-8") as f:
            checks = json.load(f)["checks"]
        return p.returncode, {c["id"]: c["result"] for c in checks}, p.stdout.decode("utf-8", "replace")

    def test_as_suite_through_haproxy(self):
        one = dict(self.cfg)
        one.pop("store")
        one.pop("issuer")
        path = os.path.join(self.tmpdir, "one.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(one, f)
        d = ts.Daemon(path, self.tmpdir).start()
        try:
            want_rc, want, _ = self.probe(d.url, "one")
        finally:
            self.assertEqual(d.stop(), 0)
        self.assertGreater(len(want), 90)
        self.assertGreater(sum(v == "pass" for v in want.values()), 80, want)
        lb = HAProxy(self.tmpdir, self.lb_port, [port_of(d.listen_url) for d in self.r])
        try:
            rc, got, out = self.probe(self.issuer, "replicas")
        finally:
            lb.stop()
        diff = {k: (want.get(k), got.get(k)) for k in set(want) | set(got) if want.get(k) != got.get(k)}
        self.assertEqual(diff, {}, out[-2000:])
        self.assertEqual(rc, want_rc, out[-2000:])
        # the balancer spread the flow: each replica served a good share
        served = [len(re.findall(r"^\S+ .*\b(GET|POST) /", d.stderr(), re.M)) for d in self.r]
        self.assertTrue(all(n >= 20 for n in served), served)


class T09OpenidClientThroughBalancer(ReplicaCase):
    """openid-client (npm, the pin of tests/interop/openid-client), with its
    defaults, logs in through haproxy: discovery, authorize, token, ID
    token against the JWKS, userinfo, refresh rotation, introspection and
    revocation, each request to the next replica."""

    def test_login(self):
        if shutil.which("node") is None or shutil.which("npm") is None:
            self.skipTest("node and npm are needed")
        src = os.path.join(ts.SRCDIR, "tests", "interop", "openid-client")
        oc = os.path.join(self.tmpdir, "openid-client")
        os.makedirs(oc)
        for f in ("package.json", "package-lock.json", "login.js"):
            shutil.copy(os.path.join(src, f), oc)
        p = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error",
                            "--prefix", oc], stdin=subprocess.DEVNULL, capture_output=True, timeout=600)
        self.assertEqual(p.returncode, 0, p.stderr.decode("utf-8", "replace")[-2000:])
        lb = HAProxy(self.tmpdir, self.lb_port, [port_of(d.listen_url) for d in self.r])
        try:
            p = subprocess.run(["node", os.path.join(oc, "login.js"), "--issuer", self.issuer,
                                "--client-id", CLIENT, "--from-config", self.config_path],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
        finally:
            lb.stop()
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, out + p.stderr.decode("utf-8", "replace")[-2000:])
        self.assertTrue(json.loads(out.strip().splitlines()[-1]).get("ok"), out)
        # both replicas served part of it
        served = [len(re.findall(r"^\S+ .*\b(GET|POST) /", d.stderr(), re.M)) for d in self.r]
        self.assertTrue(all(n >= 2 for n in served), served)


if __name__ == "__main__":
    unittest.main(verbosity=2)
