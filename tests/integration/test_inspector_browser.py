#!/usr/bin/env python3
"""The inspector page (GET /admin/inspector) in a real browser: headless
Chromium from Debian, driven over the DevTools protocol by a small
WebSocket client written here (standard library only).

A user logs in through authflowd's login page (login.interactive) and the
test, acting as the app's back end, redeems the code, calls /userinfo and
refreshes; a second flow carries a scenario; a third client sends no PKCE.
The inspector, opened with the admin secret in its fragment, must show
each flow with its hops, the scenario and the no_pkce finding, filter by
client, and show hostile ledger values as text. Screenshots go to
AF_BUILDDIR/tests/inspector-screens/ (PNG, never committed).

Environment: as test_server.py, plus AF_CHROMIUM (default: chromium on
PATH; the tests skip without it).
"""

import base64
import http.server
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_server as ts  # noqa: E402
from test_admin import SECRET, attach_admin  # noqa: E402
from test_server import new_verifier, s256  # noqa: E402

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                  "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0"]


def find_chromium():
    return os.environ.get("AF_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


class CDP:
    """One DevTools WebSocket (RFC 6455, client side: masked text frames)."""

    def __init__(self, ws_url, timeout=30):
        u = urllib.parse.urlparse(ws_url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n" % (u.path, u.hostname, u.port, key)).encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("DevTools closed the connection during the handshake")
            buf += chunk
        head, self.buf = buf.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError("no WebSocket upgrade: %r" % head[:200])
        self.next_id = 0

    def _exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("DevTools closed the connection")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send(self, opcode, data):
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _message(self):
        parts = []
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._exact(8))[0]
            data = self._exact(n)  # a server never masks
            op = b0 & 0x0F
            if op == 0x9:
                self._send(0xA, data)
                continue
            if op == 0x8:
                raise ConnectionError("DevTools closed the WebSocket")
            parts.append(data)
            if b0 & 0x80:
                return json.loads(b"".join(parts))

    def call(self, method, **params):
        self.next_id += 1
        self._send(0x1, json.dumps({"id": self.next_id, "method": method, "params": params}).encode())
        while True:
            msg = self._message()
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Callback(http.server.BaseHTTPRequestHandler):
    """The app's redirect URI: keeps each callback's query."""
    seen = []

    def do_GET(self):
        Callback.seen.append(urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query))
        body = b"<!DOCTYPE html><title>app callback</title><p>callback received</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class B01Inspector(ts.AFTestCase):
    tmp_prefix = "af-it-browser-"

    @classmethod
    def setUpClass(cls):
        cls.chromium = find_chromium()
        if cls.chromium is None:
            raise unittest.SkipTest("chromium is not installed")
        cls.cb = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Callback)
        threading.Thread(target=cls.cb.serve_forever, daemon=True).start()
        cls.cb_url = "http://127.0.0.1:%d/cb" % cls.cb.server_address[1]
        cls.browser = None
        try:
            super().setUpClass()
            attach_admin(cls)
            cls.screens = os.path.join(os.environ.get("AF_BUILDDIR", "."), "tests", "inspector-screens")
            os.makedirs(cls.screens, exist_ok=True)
            cls.start_browser()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def config_mods(cls, cfg):
        cfg["login"] = {"interactive": True}
        cfg["admin"] = {"enabled": True, "listen": "127.0.0.1:0", "secret": SECRET}
        # web-app: confidential, with PKCE; old-app: public, and sends no PKCE
        cfg["clients"] += [
            {"client_id": "web-app", "client_secret": "web-app-secret",
             "token_endpoint_auth_method": "client_secret_basic", "redirect_uris": [cls.cb_url],
             "grant_types": ["authorization_code", "refresh_token"], "scope": "openid profile email"},
            {"client_id": "old-app", "token_endpoint_auth_method": "none", "redirect_uris": [cls.cb_url],
             "grant_types": ["authorization_code"], "scope": "openid profile email", "require_pkce": False}]

    @classmethod
    def start_browser(cls):
        cls.profile = tempfile.mkdtemp(prefix="af-chromium-")
        cls.browser = subprocess.Popen([cls.chromium] + CHROMIUM_FLAGS +
                                       ["--user-data-dir=" + cls.profile, "about:blank"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = os.path.join(cls.profile, "DevToolsActivePort")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if os.path.exists(port_file):
                with open(port_file) as f:
                    lines = f.read().split("\n")
                if len(lines) >= 2 and lines[0]:
                    break
            if cls.browser.poll() is not None:
                raise AssertionError("chromium exited with %s" % cls.browser.returncode)
            time.sleep(0.05)
        else:
            raise AssertionError("chromium wrote no DevToolsActivePort")
        port = int(lines[0])
        with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=10) as r:
            pages = [t for t in json.load(r) if t.get("type") == "page"]
        cls.cdp = CDP(pages[0]["webSocketDebuggerUrl"])
        cls.cdp.call("Page.enable")
        cls.cdp.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1,
                     mobile=False)

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "cdp", None) is not None:
            cls.cdp.close()
        if cls.browser is not None:
            cls.browser.terminate()
            try:
                cls.browser.wait(timeout=10)
            except subprocess.TimeoutExpired:
                cls.browser.kill()
                cls.browser.wait()
            shutil.rmtree(cls.profile, ignore_errors=True)
        cls.cb.shutdown()
        cls.cb.server_close()
        if cls.daemon is not None:
            super().tearDownClass()

    # ---- browser helpers

    def js(self, expr):
        r = self.cdp.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise AssertionError("%s: %s" % (expr[:80], r["exceptionDetails"]))
        return r["result"].get("value")

    def wait_for(self, expr, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = self.js(expr)
            if v:
                return v
            time.sleep(0.1)
        raise AssertionError("timed out waiting for %s (page: %s)" % (expr, self.js("document.body ? document.body.innerText.slice(0, 2000) : ''")))

    def goto(self, url):
        self.cdp.call("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete' && location.href !== 'about:blank'")

    def screenshot(self, name):
        data = self.cdp.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        path = os.path.join(self.screens, name + ".png")
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path

    # ---- the app's side of a login

    def authorize_url(self, cid, pkce, state, extra=()):
        ctx = {"cid": cid, "state": state, "verifier": new_verifier() if pkce else None}
        q = [("response_type", "code"), ("client_id", cid), ("redirect_uri", self.cb_url),
             ("scope", "openid profile"), ("state", state), ("nonce", "n-" + state)]
        if pkce:
            q += [("code_challenge", s256(ctx["verifier"])), ("code_challenge_method", "S256")]
        q += list(extra)
        return self.base + "/authorize?" + urllib.parse.urlencode(q), ctx

    def callback_code(self, ctx):
        self.wait_for("document.title === 'app callback'")
        q = [q for q in Callback.seen if q.get("code")][-1]
        self.assertEqual(q.get("state"), [ctx["state"]])
        return q["code"][0]

    def redeem(self, ctx, code):
        form = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", self.cb_url)]
        if ctx["verifier"]:
            form.append(("code_verifier", ctx["verifier"]))
        h = {}
        if ctx["cid"] == "old-app":
            form.append(("client_id", "old-app"))
        else:
            h["Authorization"] = ts.basic_auth(ctx["cid"], ctx["cid"] + "-secret")
        r = self.http.post("/token", form, headers=h)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def inspector_state(self):
        return self.js("""JSON.stringify(Array.from(document.querySelectorAll('#flows details.flow')).map(d => ({
            client: d.querySelector('summary strong').textContent,
            hops: Array.from(d.querySelectorAll(':scope > summary .hop-name')).map(h => h.textContent.replace(/^→ /, '')),
            tags: Array.from(d.querySelectorAll(':scope > summary .tag')).map(t => t.textContent),
            findings: Array.from(d.querySelectorAll(':scope > summary .sev')).map(t => t.textContent)})))""")

    # ---- the test: one story, in order

    def test_login_flows_in_the_inspector(self):
        # 1. a login through the login page, then the app's back end
        url, ctx = self.authorize_url("web-app", True, "st-web-1")
        self.goto(url)
        self.wait_for("!!document.querySelector('input[name=password]')")
        self.screenshot("1-login-page")
        self.js("""(() => { const u = document.querySelector('input[name=username]');
                   u.value = 'alice'; document.querySelector('input[name=password]').value = 'alice-password';
                   u.form.querySelector('button[value=login]').click(); return true; })()""")
        tok = self.redeem(ctx, self.callback_code(ctx))
        self.assertEqual(self.http.get("/userinfo", headers={"Authorization": "Bearer " + tok["access_token"]}).status,
                         200)
        r = self.http.post("/token", [("grant_type", "refresh_token"), ("refresh_token", tok["refresh_token"])],
                           headers={"Authorization": ts.basic_auth("web-app", "web-app-secret")})
        self.assertEqual(r.status, 200, r)

        # 2. a flow with a scenario (the browser's session logs in at once)
        r = self.admin.request("POST", "/admin/scenarios", body='{"name": "id_token_wrong_nonce", "client": "web-app"}',
                               headers={"Content-Type": "application/json", "Authorization": "Bearer " + SECRET})
        self.assertEqual(r.status, 201, r)
        url, ctx2 = self.authorize_url("web-app", True, "st-web-2")
        self.goto(url)
        self.redeem(ctx2, self.callback_code(ctx2))

        # 3. a client without PKCE, and a hostile value in the ledger
        url, ctx3 = self.authorize_url("old-app", False, "st-old-3",
                                       extra=[("ui_locales", "<img src=x id=pwned onerror=alert(1)>")])
        self.goto(url)
        self.redeem(ctx3, self.callback_code(ctx3))

        # the inspector, the secret in the fragment
        self.goto(self.admin_url + "/admin/inspector#secret=" + urllib.parse.quote(SECRET))
        self.wait_for("document.querySelectorAll('#flows details.flow').length >= 3 && "
                      "document.querySelectorAll('#findings .finding').length >= 1")
        self.assertEqual(self.js("location.hash"), "", "the secret left the address bar")
        flows = json.loads(self.inspector_state())
        # newest first: old-app, the scenario's flow, the login
        self.assertEqual([f["client"] for f in flows[:3]], ["old-app", "web-app", "web-app"], flows)
        login = flows[2]
        self.assertEqual(login["hops"], ["authorize (login page)", "login → code", "token", "userinfo", "refresh"],
                         login)
        self.assertEqual(login["findings"], [])
        self.assertIn("scenario id_token_wrong_nonce", flows[1]["tags"])
        self.assertEqual(flows[1]["hops"], ["authorize → code", "token"])
        self.assertEqual(flows[0]["findings"], ["no_pkce"])
        self.assertIsNone(self.js("document.getElementById('pwned')"), "ledger data never becomes HTML")

        # the login flow opened, every hop opened
        self.js("""(() => { const d = document.querySelectorAll('#flows details.flow')[2]; d.open = true;
                   d.querySelectorAll('details.hop').forEach(h => h.open = true); return true; })()""")
        self.assertIn("alice", self.js("document.querySelectorAll('#flows details.flow')[2].innerText"))
        self.screenshot("2-login-flow")
        self.js("""(() => { document.querySelectorAll('details').forEach(d => d.open = false);
                   const d = document.querySelectorAll('#flows details.flow')[1]; d.open = true;
                   d.querySelectorAll('details.hop')[0].open = true; return true; })()""")
        self.screenshot("3-scenario-flow")
        self.js("""(() => { document.querySelectorAll('details').forEach(d => d.open = false);
                   const d = document.querySelectorAll('#flows details.flow')[0]; d.open = true;
                   d.querySelectorAll('details.hop')[0].open = true; return true; })()""")
        hostile = self.js("document.querySelectorAll('#flows details.flow')[0].innerText")
        self.assertIn("<img src=x id=pwned", hostile, "shown as text")
        self.screenshot("4-no-pkce-finding")

        # the client filter
        self.js("""(() => { const s = document.getElementById('f-client'); s.value = 'old-app';
                   s.dispatchEvent(new Event('change')); return true; })()""")
        flows = json.loads(self.inspector_state())
        self.assertEqual({f["client"] for f in flows}, {"old-app"})
        self.assertEqual(self.js("document.querySelectorAll('#findings .finding').length"), 1)

    def test_without_the_secret_the_page_asks_for_it(self):
        self.goto(self.admin_url + "/admin/inspector")
        self.wait_for("!document.getElementById('secret-form').classList.contains('hidden')")
        self.js("""(() => { document.getElementById('secret').value = %s;
                   document.querySelector('#secret-form button').click(); return true; })()""" % json.dumps(SECRET))
        self.wait_for("document.getElementById('status').textContent.includes('requests')")


if __name__ == "__main__":
    unittest.main(verbosity=2)
