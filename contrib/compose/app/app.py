"""app.py - the compose example's web app (docs/container.md): a login
through authflowd with the authorization code flow, PKCE and the client's
secret, written with Python's standard library only.

  GET /          "Hello NAME" once logged in, else a link to /login
  GET /login     302 to the provider's authorization endpoint
  GET /callback  checks state and iss, redeems the code, reads /userinfo

It reads the provider's endpoints from its discovery document, so it needs
only ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI and LISTEN (host:port)
from the environment. Sessions live in memory. It checks the ID token's
iss, aud and nonce claims but not its signature: a demo of the flow, not a
library to copy (a real app verifies the token against jwks_uri).
"""

import base64
import hashlib
import html
import http.server
import json
import os
import secrets
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

ISSUER = os.environ["ISSUER"]
CLIENT_ID = os.environ["CLIENT_ID"]
CLIENT_SECRET = os.environ["CLIENT_SECRET"]
REDIRECT_URI = os.environ["REDIRECT_URI"]
HOST, _, PORT = os.environ.get("LISTEN", "0.0.0.0:8080").rpartition(":")

pending = {}   # state -> (nonce, code_verifier)
sessions = {}  # session cookie -> userinfo claims
meta = {}


def discovery():
    """The provider's metadata, fetched once (retried while it starts)."""
    if not meta:
        url = ISSUER + "/.well-known/openid-configuration"
        for _ in range(30):
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    meta.update(json.load(r))
                break
            except (OSError, ValueError):
                time.sleep(1)
        if meta.get("issuer") != ISSUER:
            raise RuntimeError("discovery at %s: issuer %r, expected %r"
                               % (url, meta.get("issuer"), ISSUER))
    return meta


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class Handler(http.server.BaseHTTPRequestHandler):
    def reply(self, status, text, headers=()):
        body = ("<!doctype html><title>demo app</title><p>%s\n" % text).encode()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        try:
            if url.path == "/":
                self.home()
            elif url.path == "/login":
                self.login()
            elif url.path == "/callback":
                self.callback(q)
            else:
                self.reply(404, "not found")
        except (OSError, ValueError, KeyError, RuntimeError) as e:
            self.reply(502, "login failed: " + html.escape(str(e)))

    def home(self):
        cookie = self.headers.get("Cookie", "")
        sid = cookie.partition("sid=")[2].split(";")[0]
        user = sessions.get(sid)
        if user:
            self.reply(200, "Hello %s (%s)" % (html.escape(user.get("name", "")),
                                               html.escape(user["sub"])))
        else:
            self.reply(200, '<a href="/login">Log in</a>')

    def login(self):
        state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        verifier = secrets.token_urlsafe(48)
        pending[state] = (nonce, verifier)
        query = urllib.parse.urlencode({
            "response_type": "code", "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI, "scope": "openid profile email",
            "state": state, "nonce": nonce, "code_challenge_method": "S256",
            "code_challenge": b64url(hashlib.sha256(verifier.encode()).digest())})
        self.reply(302, "to the provider",
                   [("Location", discovery()["authorization_endpoint"] + "?" + query)])

    def callback(self, q):
        if q.get("state") not in pending:
            return self.reply(400, "unknown state")
        nonce, verifier = pending.pop(q["state"])
        if "error" in q:
            return self.reply(400, "the provider said " + html.escape(q["error"]))
        if q.get("iss", ISSUER) != ISSUER:  # RFC 9207
            return self.reply(400, "iss %s is not the issuer" % html.escape(q["iss"]))
        m = discovery()
        form = urllib.parse.urlencode({
            "grant_type": "authorization_code", "code": q["code"],
            "redirect_uri": REDIRECT_URI, "code_verifier": verifier}).encode()
        basic = base64.b64encode(("%s:%s" % (urllib.parse.quote(CLIENT_ID, safe=""),
                                             urllib.parse.quote(CLIENT_SECRET, safe=""))).encode())
        req = urllib.request.Request(m["token_endpoint"], data=form, headers={
            "Authorization": "Basic " + basic.decode(),
            "Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                tokens = json.load(r)
        except urllib.error.HTTPError as e:
            return self.reply(502, "token endpoint: %d %s" % (e.code, html.escape(e.read().decode())))
        idt = jwt_claims(tokens["id_token"])
        if idt.get("iss") != ISSUER or idt.get("aud") not in (CLIENT_ID, [CLIENT_ID]) \
                or idt.get("nonce") != nonce:
            return self.reply(502, "the ID token's iss, aud or nonce is wrong")
        req = urllib.request.Request(m["userinfo_endpoint"], headers={
            "Authorization": "Bearer " + tokens["access_token"]})
        with urllib.request.urlopen(req, timeout=10) as r:
            user = json.load(r)
        sid = secrets.token_urlsafe(24)
        sessions[sid] = user
        self.reply(302, "logged in", [("Location", "/"),
                                      ("Set-Cookie", "sid=%s; HttpOnly; Path=/; SameSite=Lax" % sid)])

    def log_message(self, fmt, *args):
        sys.stderr.write("app: %s\n" % (fmt % args))


if __name__ == "__main__":
    # PID 1 in its container: `docker stop` sends SIGTERM, which Python
    # would otherwise ignore there, until the SIGKILL 10 s later.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = http.server.ThreadingHTTPServer((HOST, int(PORT)), Handler)
    print("http://%s:%s/" % (HOST, PORT), flush=True)
    sys.stderr.write("app: listening, issuer %s, client %s\n" % (ISSUER, CLIENT_ID))
    server.serve_forever()
