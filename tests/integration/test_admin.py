#!/usr/bin/env python3
"""Integration tests of authflowd's admin API (docs/admin.md): the second
listener, its secret, and token minting with every defect, checked by
decoding the JWT here, by authflowd's own /userinfo and /introspect, and
(signatures) independently with node's crypto.

Python 3 standard library only; the daemon, HTTP client and config helpers
come from test_server.py. Each class starts its own daemon on 127.0.0.1:0.

Environment: as test_server.py, plus
  AF_AUTHPROBE  an authprobe binary with the `mint` subcommand (default:
                AF_BUILDDIR/authprobe; the CLI tests skip when it has none)
"""

import hmac
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_server as ts  # noqa: E402  (the shared helpers)
from test_server import HttpClient, b64url_decode, jwt_parts  # noqa: E402

SECRET = "adm1n-s3cret_for.tests~"
BANNER_ADMIN = re.compile(r"^#\s+admin:\s+(http://\S+)", re.M)
ALL_DEFECTS = ["expired", "not_yet_valid", "wrong_aud", "wrong_iss", "bad_signature", "alg_none",
               "alg_none_mixed_case", "hs256_public_key", "unknown_kid", "wrong_typ", "no_scope",
               "revoked", "no_exp", "exp_string", "aud_null", "aud_true", "nbf_string"]

# node: the HMAC of an hs256_public_key token, keyed with the PEM that node
# itself derives from the published JWK (not authflowd's PEM).
HS256_PEM_JS = r"""
const crypto = require('crypto');
const fs = require('fs');
const jwks = JSON.parse(fs.readFileSync(process.argv[1], 'utf8'));
const [h, p, s] = process.argv[2].split('.');
const hdr = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
const jwk = jwks.keys.find((k) => k.kid === hdr.kid);
if (!jwk) { process.stdout.write(JSON.stringify({ok: false, reason: 'no key for kid'})); process.exit(0); }
const pem = crypto.createPublicKey({key: jwk, format: 'jwk'}).export({type: 'spki', format: 'pem'});
const mac = crypto.createHmac('sha256', pem).update(`${h}.${p}`).digest('base64url');
process.stdout.write(JSON.stringify({ok: mac === s, pem}));
"""


def find_authprobe():
    explicit = os.environ.get("AF_AUTHPROBE")
    if explicit:
        return explicit
    d = ts.find_authflowd()
    if d is None:
        return None
    p = os.path.join(os.path.dirname(d), "authprobe")
    return p if os.access(p, os.X_OK) else None


def read_admin_url(daemon, timeout=10):
    """The URL of the banner's admin line; None when the banner (complete
    once the second line is out) has none."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(daemon.out_path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        m = BANNER_ADMIN.search(text)
        if m:
            return m.group(1)
        if "is ready" in text and text.count("\n") >= 3:
            return None
        time.sleep(0.01)
    return None


def attach_admin(cls):
    """cls.admin_url, from cls.daemon's banner, and cls.admin, a client of
    it; AssertionError when the banner has no admin line."""
    cls.admin_url = read_admin_url(cls.daemon)
    if cls.admin_url is None:
        raise AssertionError("no admin line in the banner")
    cls.admin = HttpClient(cls.admin_url)


class AdminCase(ts.AFTestCase):
    """One daemon per class with the admin API on port 0 (config admin
    block), protected by SECRET unless `secret` is None."""

    secret = SECRET
    tmp_prefix = "af-it-admin-"

    @classmethod
    def config_mods(cls, cfg):
        cfg["admin"] = {"enabled": True, "listen": "127.0.0.1:0"}
        if cls.secret is not None:
            cfg["admin"]["secret"] = cls.secret
        # an API with an audience of its own (RFC 9068 §3)
        cfg["clients"].append({
            "client_id": "it-api", "client_secret": "it-api-secret",
            "redirect_uris": ["http://127.0.0.1:1/cb"],
            "grant_types": ["authorization_code", "client_credentials"],
            "scope": "openid profile orders.read",
            "access_token_audience": ["https://orders.example", "urn:example:reports"]})

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        attach_admin(cls)

    # ---- helpers

    def admin_headers(self, secret="default", ctype="application/json"):
        h = {}
        if ctype:
            h["Content-Type"] = ctype
        if secret == "default":
            secret = self.secret
        if secret is not None:
            h["Authorization"] = "Bearer " + secret
        return h

    def mint_raw(self, body, secret="default", ctype="application/json"):
        if not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        return self.admin.request("POST", "/admin/tokens", body=body,
                                  headers=self.admin_headers(secret, ctype))

    def mint(self, **req):
        r = self.mint_raw(req)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Cache-Control"), "no-store", r)
        body = r.json()
        self.assertEqual(body["token_type"], "Bearer")
        h, c, _ = jwt_parts(body["access_token"])
        self.assertEqual(h, body["header"], "the response's header is the token's")
        self.assertEqual(c, body["claims"], "the response's claims are the token's")
        return body

    def assertAdminError(self, r, status, error, starts=None):
        self.assertEqual(r.status, status, r)
        self.assertTrue((r.header("Content-Type") or "").startswith("application/json"), r)
        body = r.json()
        self.assertEqual(body.get("error"), error, r)
        self.assertIsInstance(body.get("error_description"), str, r)
        if starts is not None:
            self.assertTrue(body["error_description"].startswith(starts), r)
        return body["error_description"]

    def jwks(self):
        return self.http.get("/jwks").json()

    def signing_kid(self):
        return self.jwks()["keys"][0]["kid"]

    def assertInvalidToken(self, r):
        self.assertEqual(r.status, 401, r)
        self.assertIn('error="invalid_token"', r.header("WWW-Authenticate") or "", r)

    def write_jwks(self):
        path = os.path.join(self.tmpdir, "jwks.json")
        with open(path, "wb") as f:
            f.write(self.http.get("/jwks").body)
        return path


# ====================================================================== off


class A01AdminOffByDefault(ts.AFTestCase):
    """Without admin.enabled or --admin-listen there is no admin listener."""

    def test_banner_has_no_admin_line(self):
        self.assertIsNone(read_admin_url(self.daemon, timeout=2))
        with open(self.daemon.out_path, "rb") as f:
            self.assertNotIn(b"admin", f.read())

    def test_admin_paths_are_404_on_the_provider_port(self):
        for method, path in [("GET", "/admin/healthz"), ("POST", "/admin/tokens"), ("GET", "/admin/"),
                             ("GET", "/admin")]:
            with self.subTest(path=path):
                r = self.http.request(method, path, body=b"{}" if method == "POST" else None,
                                      headers={"Content-Type": "application/json"})
                self.assertEqual(r.status, 404, r)

    def test_ready_file_has_one_line(self):
        ready = os.path.join(self.tmpdir, "ready-off")
        d = ts.Daemon(self.config_path, self.tmpdir, extra_args=["--ready-file", ready]).start()
        try:
            deadline = time.monotonic() + 10
            while not os.path.exists(ready) and time.monotonic() < deadline:
                time.sleep(0.01)
            with open(ready) as f:
                self.assertEqual(f.read(), d.url + "\n")
        finally:
            self.assertEqual(d.stop(), 0, d.stderr())


# ====================================================================== secret


class A02AdminListener(AdminCase):
    """The listener, its routes, and the secret."""

    def test_banner_admin_line_after_issuer(self):
        with open(self.daemon.out_path) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0], self.daemon.url, "the first line stays the issuer URL")
        self.assertRegex(self.admin_url, r"^http://127\.0\.0\.1:\d+$")
        self.assertNotEqual(self.admin_url, self.daemon.url)

    def test_no_secret_401(self):
        r = self.admin.get("/admin/healthz")
        self.assertAdminError(r, 401, "invalid_token", "Authorization")
        self.assertEqual(r.header("WWW-Authenticate"), 'Bearer realm="authflow-admin"', r)
        self.assertEqual(r.header("Cache-Control"), "no-store")

    def test_wrong_secret_401(self):
        for auth in ["Bearer wrong", "Bearer " + SECRET + "x", "Bearer " + SECRET[:-1], "Bearer " + SECRET.upper(),
                     "Basic " + SECRET, "Bearer", "Bearer  ", SECRET, "Bearer " + SECRET + " extra"]:
            with self.subTest(authorization=auth):
                r = self.admin.get("/admin/healthz", headers={"Authorization": auth})
                self.assertEqual(r.status, 401, r)
                self.assertEqual(r.json()["error"], "invalid_token")
                self.assertTrue(r.header("WWW-Authenticate").startswith('Bearer realm="authflow-admin"'), r)
        r = self.admin.get("/admin/healthz", headers={"Authorization": "Bearer wrong"})
        self.assertEqual(r.header("WWW-Authenticate"), 'Bearer realm="authflow-admin", error="invalid_token"')

    def test_secret_checked_before_routing(self):
        """Nothing about the API shows without the secret: not even 404s."""
        r = self.admin.get("/admin/no-such-route")
        self.assertEqual(r.status, 401, r)
        r = self.mint_raw({"defects": ["no-such-defect"]}, secret=None)
        self.assertEqual(r.status, 401, r)
        r = self.mint_raw({"user": "alice"}, secret="wrong")
        self.assertEqual(r.status, 401, r)
        self.assertNotIn("access_token", r.json())

    def test_healthz(self):
        r = self.admin.get("/admin/healthz", headers=self.admin_headers(ctype=None))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"status": "ok", "issuer": self.issuer}, "healthz names the provider it belongs to")
        self.assertEqual(r.header("Cache-Control"), "no-store")

    def test_scheme_case_insensitive(self):
        r = self.admin.get("/admin/healthz", headers={"Authorization": "bEaReR " + SECRET})
        self.assertEqual(r.status, 200, r)

    def test_unknown_route_404_and_methods_405(self):
        h = self.admin_headers(ctype=None)
        self.assertAdminError(self.admin.get("/admin/nope", headers=h), 404, "not_found")
        r = self.admin.request("POST", "/admin/healthz", body=b"{}", headers=self.admin_headers())
        self.assertAdminError(r, 405, "invalid_request")
        self.assertEqual(r.header("Allow"), "GET")
        r = self.admin.get("/admin/tokens", headers=h)
        self.assertAdminError(r, 405, "invalid_request")
        self.assertEqual(r.header("Allow"), "POST")

    def test_provider_endpoints_not_on_admin_port(self):
        h = self.admin_headers(ctype=None)
        for path in ["/jwks", "/healthz", "/.well-known/openid-configuration", "/token", "/authorize"]:
            with self.subTest(path=path):
                self.assertEqual(self.admin.get(path, headers=h).status, 404)

    def test_admin_not_on_provider_port(self):
        r = self.http.request("POST", "/admin/tokens", body=b"{}", headers=self.admin_headers())
        self.assertEqual(r.status, 404, r)


# ====================================================================== minting


class A03MintGood(AdminCase):
    """Tokens without defects are real tokens."""

    def test_good_token_shape_rfc9068(self):
        t0 = int(time.time())
        body = self.mint(user="alice", client="it-basic", scope="openid profile email")
        h, c, sig = jwt_parts(body["access_token"])
        self.assertEqual(h, {"alg": "RS256", "kid": self.signing_kid(), "typ": "at+jwt"})
        self.assertGreater(len(sig), 200)
        self.assertEqual(c["iss"], self.issuer)
        self.assertEqual(c["sub"], "u-alice")
        self.assertEqual(c["aud"], "it-basic")
        self.assertEqual(c["client_id"], "it-basic")
        self.assertEqual(c["scope"], "openid profile email")
        self.assertEqual(c["exp"] - c["iat"], 3600)
        self.assertLessEqual(abs(c["iat"] - t0), 5)
        self.assertIn("auth_time", c)
        self.assertGreaterEqual(len(b64url_decode(c["jti"])), 16)
        self.assertNotIn("nbf", c)
        self.assertEqual(body["expires_in"], 3600)
        self.assertEqual(body["defects"], [])

    def test_good_token_accepted_by_userinfo_and_introspection(self):
        tok = self.mint(user="alice", client="it-basic", scope="openid email")["access_token"]
        r = self.userinfo(tok)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["sub"], "u-alice")
        self.assertEqual(r.json()["email"], "alice@example.com")
        r = self.introspect(tok)
        self.assertEqual(r.status, 200, r)
        self.assertIs(r.json()["active"], True)
        self.assertEqual(r.json()["username"], "alice")
        self.assertEqual(r.json()["scope"], "openid email")

    def test_good_token_can_be_revoked(self):
        tok = self.mint(user="bob", client="it-basic", scope="openid")["access_token"]
        self.assertEqual(self.revoke(tok).status, 200)
        self.assertInvalidToken(self.userinfo(tok))
        self.assertEqual(self.introspect(tok).json(), {"active": False})

    def test_signature_verifies_independently(self):
        tok = self.mint(user="alice", client="it-basic")["access_token"]
        p = self.run_node([ts.VERIFY_JS, self.write_jwks(), tok])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertTrue(json.loads(p.stdout)["valid"])

    def test_defaults(self):
        """No members: the default user, the first client, its scopes."""
        body = self.mint()
        c = body["claims"]
        first = self.cfg["clients"][0]
        self.assertEqual(c["client_id"], first["client_id"])
        self.assertEqual(c["scope"], first["scope"])
        self.assertEqual(c["sub"], self.default_user()["sub"])

    def test_user_by_sub_and_client_token(self):
        self.assertEqual(self.mint(user="u-bob")["claims"]["sub"], "u-bob")
        body = self.mint(user=None, client="it-cc", scope="api:read")
        c = body["claims"]
        self.assertEqual(c["sub"], "it-cc")
        self.assertNotIn("auth_time", c)
        self.assertEqual(self.introspect(body["access_token"], cid="it-cc").json()["active"], True)
        r = self.userinfo(body["access_token"])
        self.assertEqual(r.status, 403, r)  # a client's token has no user

    def test_ttl_and_extra_claims(self):
        body = self.mint(user="alice", client="it-basic", ttl=120,
                         claims={"roles": ["admin", "ops"], "tenant": "t-1", "cnf": {"x5t#S256": "abc"}})
        c = body["claims"]
        self.assertEqual(c["exp"] - c["iat"], 120)
        self.assertEqual(body["expires_in"], 120)
        self.assertEqual(c["roles"], ["admin", "ops"])
        self.assertEqual(c["tenant"], "t-1")
        self.assertEqual(c["cnf"], {"x5t#S256": "abc"})
        self.assertEqual(self.userinfo(body["access_token"]).status, 200)

    def test_narrower_scope_is_the_scope_member(self):
        body = self.mint(user="alice", client="it-basic", scope="openid")
        self.assertEqual(body["claims"]["scope"], "openid")
        r = self.userinfo(body["access_token"])
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("email", r.json(), "a narrower scope releases fewer claims")

    def test_aud_override(self):
        body = self.mint(user="alice", client="it-basic", aud=["it-basic", "https://api.example"])
        self.assertEqual(body["claims"]["aud"], ["it-basic", "https://api.example"])
        self.assertEqual(self.userinfo(body["access_token"]).status, 200)
        body = self.mint(user="alice", client="it-basic", aud="https://api.example")
        self.assertEqual(body["claims"]["aud"], "https://api.example")
        self.assertInvalidToken(self.userinfo(body["access_token"]))

    def test_access_token_audience_of_the_client(self):
        """RFC 9068 §3: the configured resource is the aud, at /token too."""
        aud = ["https://orders.example", "urn:example:reports"]
        body = self.mint(user="alice", client="it-api", scope="openid orders.read")
        self.assertEqual(body["claims"]["aud"], aud)
        self.assertEqual(self.userinfo(body["access_token"]).status, 200)
        r = self.client_credentials("it-api", scope="orders.read")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(jwt_parts(r.json()["access_token"])[1]["aud"], aud)
        r = self.client_credentials("it-cc")
        self.assertEqual(jwt_parts(r.json()["access_token"])[1]["aud"], "it-cc")


class A04MintDefects(AdminCase):
    """Each defect produces what it says, and authflowd refuses the token."""

    def mint_defect(self, *defects, **kw):
        kw.setdefault("user", "alice")
        kw.setdefault("client", "it-basic")
        kw.setdefault("scope", "openid profile")
        if kw["scope"] is None:
            del kw["scope"]  # absent, not null
        body = self.mint(defects=list(defects), **kw)
        self.assertEqual(body["defects"], [d for d in ALL_DEFECTS if d in defects])
        h, c, sig = jwt_parts(body["access_token"])
        return body["access_token"], h, c, sig

    def test_expired(self):
        now = int(time.time())
        tok, h, c, _ = self.mint_defect("expired", ttl=600)
        self.assertLessEqual(c["exp"], now - 3000, "beyond any usual clock skew")
        self.assertEqual(c["exp"] - c["iat"], 600)
        self.assertEqual(h["typ"], "at+jwt")
        r = self.userinfo(tok)
        self.assertInvalidToken(r)
        self.assertIn("expired", r.header("WWW-Authenticate"))
        self.assertEqual(self.introspect(tok).json(), {"active": False})

    def test_not_yet_valid(self):
        now = int(time.time())
        tok, _, c, _ = self.mint_defect("not_yet_valid")
        self.assertGreaterEqual(c["nbf"], now + 3000)
        self.assertGreater(c["exp"], c["nbf"])
        r = self.userinfo(tok)
        self.assertInvalidToken(r)
        self.assertIn("not valid yet", r.header("WWW-Authenticate"))
        self.assertEqual(self.introspect(tok).json(), {"active": False})

    def test_no_exp(self):
        tok, h, c, _ = self.mint_defect("no_exp", ttl=600)
        self.assertNotIn("exp", c)
        self.assertIn("iat", c)
        self.assertEqual(h["typ"], "at+jwt")
        r = self.userinfo(tok)
        self.assertInvalidToken(r)
        self.assertIn("no exp", r.header("WWW-Authenticate"))
        self.assertEqual(self.introspect(tok).json(), {"active": False})

    def test_exp_string(self):
        now = int(time.time())
        tok, h, c, _ = self.mint_defect("exp_string", ttl=600)
        self.assertIsInstance(c["exp"], str)
        # an hour past, so that a verifier reading it as a number refuses too
        self.assertLessEqual(int(c["exp"]), now - 3000)
        self.assertEqual(h["typ"], "at+jwt")
        r = self.userinfo(tok)
        self.assertInvalidToken(r)
        self.assertIn("not a number", r.header("WWW-Authenticate"))
        self.assertEqual(self.introspect(tok).json(), {"active": False})

    def test_aud_null_true(self):
        for defect, want in (("aud_null", None), ("aud_true", True)):
            with self.subTest(defect=defect):
                tok, h, c, _ = self.mint_defect(defect)
                self.assertIn("aud", c)
                self.assertIs(c["aud"], want)
                self.assertEqual(h["typ"], "at+jwt")
                self.assertEqual(c["client_id"], "it-basic")

    def test_nbf_string(self):
        now = int(time.time())
        tok, h, c, _ = self.mint_defect("nbf_string", ttl=600)
        self.assertIsInstance(c["nbf"], str)
        # an hour ahead, so that a verifier reading it as a number refuses too
        self.assertGreaterEqual(int(c["nbf"]), now + 3000)
        self.assertIsInstance(c["exp"], int)
        r = self.userinfo(tok)
        self.assertInvalidToken(r)
        self.assertIn("not valid yet", r.header("WWW-Authenticate"))
        self.assertEqual(self.introspect(tok).json(), {"active": False})

    def test_wrong_aud(self):
        tok, _, c, _ = self.mint_defect("wrong_aud")
        self.assertEqual(c["aud"], "urn:authflow:wrong-audience")
        self.assertEqual(c["client_id"], "it-basic")
        r = self.userinfo(tok)
        self.assertInvalidToken(r)
        self.assertIn("audience", r.header("WWW-Authenticate"))
        # live and correctly signed: introspection leaves aud to the resource
        self.assertIs(self.introspect(tok).json()["active"], True)

    def test_wrong_iss(self):
        tok, _, c, _ = self.mint_defect("wrong_iss")
        self.assertNotEqual(c["iss"], self.issuer)
        self.assertTrue(c["iss"].startswith(self.issuer), "a prefix comparison must not pass")
        r = self.userinfo(tok)
        self.assertInvalidToken(r)
        self.assertIn("not issued by this server", r.header("WWW-Authenticate"))

    def test_bad_signature(self):
        tok, h, c, sig = self.mint_defect("bad_signature")
        self.assertEqual(h["alg"], "RS256")
        self.assertEqual(h["kid"], self.signing_kid())
        self.assertEqual(len(sig), 256, "same length as a real RS256 signature")
        self.assertEqual(c["iss"], self.issuer)
        r = self.userinfo(tok)
        self.assertInvalidToken(r)
        self.assertIn("signature", r.header("WWW-Authenticate"))
        p = self.run_node([ts.VERIFY_JS, self.write_jwks(), tok])
        self.assertEqual(p.returncode, 1, p.stdout)

    def test_alg_none(self):
        for defect, alg in [("alg_none", "none"), ("alg_none_mixed_case", "nOnE")]:
            with self.subTest(defect=defect):
                tok, h, c, sig = self.mint_defect(defect)
                self.assertEqual(h["alg"], alg)
                self.assertEqual(sig, b"")
                self.assertTrue(tok.endswith("."))
                self.assertEqual(c["iss"], self.issuer)
                self.assertInvalidToken(self.userinfo(tok))
                self.assertEqual(self.introspect(tok).json(), {"active": False})

    def test_hs256_public_key(self):
        tok, h, c, sig = self.mint_defect("hs256_public_key")
        self.assertEqual(h["alg"], "HS256")
        self.assertEqual(h["kid"], self.signing_kid(), "names the RS256 key")
        self.assertEqual(len(sig), 32)
        self.assertInvalidToken(self.userinfo(tok))
        # the MAC is keyed with the public key's PEM as node derives it
        p = self.run_node(["-e", HS256_PEM_JS, self.write_jwks(), tok])
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertTrue(out["ok"], out)
        # and with that PEM, not with anything else
        h64, p64, _ = tok.split(".")
        mac = hmac.new(out["pem"].encode("ascii"), ("%s.%s" % (h64, p64)).encode("ascii"),
                       hashlib.sha256).digest()
        self.assertEqual(mac, sig)

    def test_unknown_kid(self):
        tok, h, c, sig = self.mint_defect("unknown_kid")
        kids = {k["kid"] for k in self.jwks()["keys"]}
        self.assertNotIn(h["kid"], kids)
        self.assertEqual(h["alg"], "RS256")
        self.assertEqual(len(sig), 256)
        r = self.userinfo(tok)
        self.assertInvalidToken(r)
        self.assertIn("signing key", r.header("WWW-Authenticate"))
        # still signed by the real key: only the kid lookup catches it
        jwks = self.jwks()
        jwks["keys"][0]["kid"] = h["kid"]
        path = os.path.join(self.tmpdir, "jwks-renamed.json")
        with open(path, "w") as f:
            json.dump(jwks, f)
        p = self.run_node([ts.VERIFY_JS, path, tok])
        self.assertEqual(p.returncode, 0, p.stdout)

    def test_wrong_typ(self):
        tok, h, c, _ = self.mint_defect("wrong_typ", scope="openid email")
        self.assertEqual(h["typ"], "JWT")
        self.assertEqual(h["kid"], self.signing_kid())
        self.assertEqual(c["aud"], "it-basic")
        self.assertEqual(c["azp"], "it-basic")
        self.assertEqual(c["email"], "alice@example.com", "an ID token's released claims")
        for k in ("scope", "jti", "client_id"):
            self.assertNotIn(k, c)
        self.assertEqual(c["iss"], self.issuer)
        r = self.userinfo(tok)
        self.assertInvalidToken(r)
        self.assertIn("typ", r.header("WWW-Authenticate"))
        p = self.run_node([ts.VERIFY_JS, self.write_jwks(), tok])
        self.assertEqual(p.returncode, 0, "a real signature: only typ gives it away")

    def test_no_scope(self):
        tok, _, c, _ = self.mint_defect("no_scope", scope=None)
        self.assertNotIn("scope", c)
        r = self.userinfo(tok)
        # a valid token lacking the openid scope: RFC 6750 §3.1
        self.assertEqual(r.status, 403, r)
        self.assertIn('error="insufficient_scope"', r.header("WWW-Authenticate"))
        # RFC 7662 §2.2: scope is optional in the answer; a token without one
        # is still active (this used to be a 500)
        body = self.introspect(tok).json()
        self.assertIs(body["active"], True)
        self.assertNotIn("scope", body)

    def test_revoked(self):
        tok, _, c, _ = self.mint_defect("revoked")
        self.assertGreater(c["exp"], time.time())
        r = self.userinfo(tok)
        self.assertInvalidToken(r)
        self.assertIn("revoked", r.header("WWW-Authenticate"))
        self.assertEqual(self.introspect(tok).json(), {"active": False})

    def test_combination(self):
        tok, h, c, sig = self.mint_defect("expired", "wrong_iss", "unknown_kid", "hs256_public_key")
        self.assertEqual(h["alg"], "HS256")
        self.assertTrue(h["kid"].startswith("unknown-"))
        self.assertLess(c["exp"], time.time())
        self.assertNotEqual(c["iss"], self.issuer)
        self.assertInvalidToken(self.userinfo(tok))

    def test_every_defect_refused_by_userinfo(self):
        for d in ALL_DEFECTS:
            with self.subTest(defect=d):
                kw = {"scope": None} if d == "no_scope" else {}
                tok = self.mint_defect(d, **kw)[0]
                r = self.userinfo(tok)
                self.assertEqual(r.status, 403 if d == "no_scope" else 401, r)


class A05MintRefused(AdminCase):
    """Bad mint requests: 400 (413, 415) naming the member at fault."""

    def test_unknown_defect_lists_valid_ones(self):
        desc = self.assertAdminError(self.mint_raw({"defects": ["expired", "bogus"]}), 400, "invalid_request",
                                     "defects[1]: unknown defect \"bogus\"")
        for d in ALL_DEFECTS:
            self.assertIn(d, desc)

    def test_narrow_scope_is_not_a_defect(self):
        desc = self.assertAdminError(self.mint_raw({"defects": ["narrow_scope"]}), 400, "invalid_request",
                                     "defects[0]")
        self.assertIn("scope", desc)

    def test_defects_bad(self):
        cases = [({"defects": "expired"}, "defects:"), ({"defects": [1]}, "defects[0]:"),
                 ({"defects": ["expired", "expired"]}, "defects[1]:"),
                 ({"defects": ["expired", "not_yet_valid"]}, "defects:"),
                 ({"defects": ["expired", "no_exp"]}, "defects:"),
                 ({"defects": ["no_exp", "not_yet_valid"]}, "defects:"),
                 ({"defects": ["exp_string", "expired"]}, "defects:"),
                 ({"defects": ["not_yet_valid", "exp_string"]}, "defects:"),
                 ({"defects": ["no_exp", "exp_string"]}, "defects:"),
                 ({"defects": ["nbf_string", "not_yet_valid"]}, "defects:"),
                 ({"defects": ["wrong_aud", "aud_null"]}, "defects:"),
                 ({"defects": ["aud_true", "wrong_aud"]}, "defects:"),
                 ({"defects": ["aud_null", "aud_true"]}, "defects:"),
                 ({"defects": ["aud_null"], "aud": "x"}, "aud:"),
                 ({"defects": ["aud_true"], "aud": ["x"]}, "aud:"),
                 ({"defects": ["alg_none", "bad_signature"]}, "defects:"),
                 ({"defects": ["alg_none", "alg_none_mixed_case"]}, "defects:"),
                 ({"defects": ["hs256_public_key", "alg_none"]}, "defects:"),
                 ({"defects": ["wrong_typ", "revoked"]}, "defects:"),
                 ({"defects": ["wrong_aud"], "aud": "x"}, "aud:"),
                 ({"defects": ["no_scope"], "scope": "openid"}, "scope:"),
                 ({"defects": ["wrong_typ"], "user": None}, "user:")]
        for body, starts in cases:
            with self.subTest(body=body):
                self.assertAdminError(self.mint_raw(body), 400, "invalid_request", starts)

    def test_members_bad(self):
        cases = [({"usr": "alice"}, "usr: unknown member"),
                 ({"user": "carol"}, "user: names no configured user"),
                 ({"user": 7}, "user:"),
                 ({"client": "nobody"}, "client: names no configured client"),
                 ({"client": None}, "client:"),
                 ({"scope": ""}, "scope:"), ({"scope": "a  b"}, "scope:"), ({"scope": "a\"b"}, "scope:"),
                 ({"scope": ["openid"]}, "scope:"),
                 ({"aud": ""}, "aud:"), ({"aud": []}, "aud:"), ({"aud": ["ok", ""]}, "aud[1]:"),
                 ({"aud": 5}, "aud:"), ({"aud": ["a"] * 17}, "aud:"),
                 ({"ttl": 0}, "ttl:"), ({"ttl": -5}, "ttl:"), ({"ttl": "60"}, "ttl:"), ({"ttl": 1.5}, "ttl:"),
                 ({"ttl": 31536001}, "ttl:"),
                 ({"claims": []}, "claims:"), ({"claims": "roles"}, "claims:"),
                 ({"claims": {"iss": "x"}}, "claims.iss: set by the server"),
                 ({"claims": {"exp": 1}}, "claims.exp:"), ({"claims": {"sub": "x"}}, "claims.sub:"),
                 ({"claims": {"jti": "x"}}, "claims.jti:"), ({"claims": {"scope": "x"}}, "claims.scope:"),
                 ({"claims": {"client_id": "x"}}, "claims.client_id:"), ({"claims": {"aud": "x"}}, "claims.aud:")]
        for body, starts in cases:
            with self.subTest(body=body):
                self.assertAdminError(self.mint_raw(body), 400, "invalid_request", starts)

    def test_body_not_a_json_object(self):
        for body in [b"", b"{", b"[]", b"\"x\"", b"{\"user\": \"alice\", \"user\": \"bob\"}", b"\xff"]:
            with self.subTest(body=body):
                self.assertAdminError(self.mint_raw(body), 400, "invalid_request", "body:")

    def test_content_type(self):
        for ctype in [None, "application/x-www-form-urlencoded", "text/plain", "application/jsonx"]:
            with self.subTest(ctype=ctype):
                r = self.mint_raw({"user": "alice"}, ctype=ctype)
                self.assertAdminError(r, 415, "invalid_request", "Content-Type")
        r = self.mint_raw({"user": "alice"}, ctype="application/json; charset=utf-8")
        self.assertEqual(r.status, 200, r)

    def test_oversized_body(self):
        body = json.dumps({"user": "alice", "claims": {"pad": "x" * (20 * 1024)}})
        r = self.mint_raw(body)
        self.assertIn(r.status, (413, 400), r)
        self.assertEqual(r.json()["error"], "invalid_request")
        self.assertAlive()
        # just under the cap still works
        body = json.dumps({"user": "alice", "claims": {"pad": "x" * (15 * 1024)}})
        self.assertEqual(self.mint_raw(body).status, 200)


class A06AdminFromCommandLine(AdminCase):
    """--admin-listen turns the API on with a config that has it off; no
    secret configured: none asked for. The ready file's second line."""

    secret = None

    @classmethod
    def config_mods(cls, cfg):
        super().config_mods(cfg)
        cfg["admin"] = {"enabled": False}

    @classmethod
    def setUpClass(cls):
        cls.extra_args = ("--admin-listen", "127.0.0.1:0", "--ready-file",
                          os.path.join(tempfile.gettempdir(), "af-admin-ready-%d" % os.getpid()))
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            os.unlink(cls.extra_args[3])
        except OSError:
            pass
        super().tearDownClass()

    def test_no_secret_needed(self):
        r = self.admin.get("/admin/healthz")
        self.assertEqual(r.status, 200, r)
        body = self.mint(user="bob", client="it-basic", scope="openid")
        self.assertEqual(self.userinfo(body["access_token"]).json()["sub"], "u-bob")

    def test_ready_file_second_line(self):
        path = self.extra_args[3]
        deadline = time.monotonic() + 10
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.01)
        with open(path) as f:
            self.assertEqual(f.read().splitlines(), [self.daemon.url, self.admin_url])


class A07AdminStartup(unittest.TestCase):
    """The admin address rules, at start."""

    def setUp(self):
        self.binary = ts.find_authflowd()
        self.tmp = tempfile.mkdtemp(prefix="af-it-admin-start-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_daemon(self, cfg, args=()):
        path = os.path.join(self.tmp, "c.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        p = subprocess.run([self.binary, "--config", path, "--listen", "127.0.0.1:0"] + list(args),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def test_remote_admin_listen_refused_in_config(self):
        cfg = ts.base_config()
        cfg["admin"] = {"enabled": True, "listen": "0.0.0.0:0"}
        rc, out, err = self.run_daemon(cfg)
        self.assertEqual(rc, 2, err)
        self.assertIn("admin.listen: not a loopback address", err)
        self.assertEqual(out, "")

    def test_remote_admin_listen_refused_on_command_line(self):
        rc, out, err = self.run_daemon(ts.base_config(), ["--admin-listen", "0.0.0.0:0"])
        self.assertEqual(rc, 1, err)
        self.assertIn("not loopback", err)
        self.assertIn("admin.allow_remote", err)

    def test_remote_allowed_still_needs_secret_on_command_line(self):
        cfg = ts.base_config()
        cfg["admin"] = {"allow_remote": True, "secret": None}
        rc, out, err = self.run_daemon(cfg, ["--admin-listen", "0.0.0.0:0"])
        self.assertEqual(rc, 1, err)
        self.assertIn("admin.secret", err)

    def test_busy_admin_port(self):
        import socket
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            addr = "127.0.0.1:%d" % s.getsockname()[1]
            rc, out, err = self.run_daemon(ts.base_config(), ["--admin-listen", addr])
        finally:
            s.close()
        self.assertEqual(rc, 1, err)
        self.assertIn(addr, err)


class A08MintCli(AdminCase):
    """`authprobe mint`: the token alone on stdout, and its exit codes."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.authprobe = find_authprobe()
        cls.has_mint = False
        if cls.authprobe is not None:
            p = subprocess.run([cls.authprobe, "mint", "--help"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=20)
            cls.has_mint = p.returncode == 0 and b"--hs256-public-key" in p.stdout

    def setUp(self):
        super().setUp()
        if not self.has_mint:
            self.skipTest("authprobe has no mint subcommand")

    def cli(self, *args, env_url=True, env_secret=True):
        env = dict(os.environ)
        env.pop("AUTHFLOW_ADMIN_URL", None)
        env.pop("AUTHFLOW_ADMIN_SECRET", None)
        if env_url:
            env["AUTHFLOW_ADMIN_URL"] = self.admin_url
        if env_secret:
            env["AUTHFLOW_ADMIN_SECRET"] = SECRET
        p = subprocess.run([self.authprobe, "mint"] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env, timeout=30)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def test_prints_just_the_token(self):
        rc, out, err = self.cli("--user", "alice", "--client", "it-basic", "--scope", "openid email")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$")
        r = self.userinfo(out.strip())
        self.assertEqual(r.status, 200, r)

    def test_defect_flags(self):
        flags = {"--expired": "expired", "--not-yet-valid": "not_yet_valid", "--wrong-aud": "wrong_aud",
                 "--wrong-iss": "wrong_iss", "--bad-signature": "bad_signature", "--alg-none": "alg_none",
                 "--alg-none-mixed-case": "alg_none_mixed_case", "--hs256-public-key": "hs256_public_key",
                 "--unknown-kid": "unknown_kid", "--wrong-typ": "wrong_typ", "--no-scope": "no_scope",
                 "--revoked": "revoked", "--no-exp": "no_exp", "--exp-string": "exp_string",
                 "--aud-null": "aud_null", "--aud-true": "aud_true", "--nbf-string": "nbf_string"}
        self.assertEqual(sorted(flags.values()), sorted(ALL_DEFECTS))
        for flag, defect in flags.items():
            with self.subTest(flag=flag):
                rc, out, err = self.cli("--user", "alice", "--client", "it-basic", flag, "--json")
                self.assertEqual(rc, 0, err)
                self.assertEqual(json.loads(out)["defects"], [defect])

    def test_options(self):
        rc, out, err = self.cli("--admin", self.admin_url + "/", "--secret", SECRET, "--no-user", "--client", "it-cc",
                                "--scope", "api:read", "--aud", "https://a.example", "--aud", "urn:b",
                                "--ttl", "90", "--claim", "roles=[\"admin\"]", "--claim", "n=42",
                                "--claim", "note=plain text", "--json", env_url=False, env_secret=False)
        self.assertEqual(rc, 0, err)
        c = json.loads(out)["claims"]
        self.assertEqual(c["sub"], "it-cc")
        self.assertEqual(c["aud"], ["https://a.example", "urn:b"])
        self.assertEqual(c["exp"] - c["iat"], 90)
        self.assertEqual(c["roles"], ["admin"])
        self.assertEqual(c["n"], 42)
        self.assertEqual(c["note"], "plain text")
        rc, out, err = self.cli("--user", "alice", "--alg", "RS256", "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["header"]["alg"], "RS256")
        rc, _, err = self.cli("--user", "alice", "--alg", "PS512")
        self.assertEqual(rc, 1, err)
        self.assertIn("alg", err)

    def test_exit_codes(self):
        rc, out, err = self.cli("--bogus-flag")
        self.assertEqual((rc, out), (2, ""), err)
        rc, out, err = self.cli("--ttl", "soon")
        self.assertEqual((rc, out), (2, ""), err)
        rc, out, err = self.cli("--claim", "novalue")
        self.assertEqual((rc, out), (2, ""), err)
        rc, out, err = self.cli("--user", "carol")
        self.assertEqual((rc, out), (1, ""), err)
        self.assertIn("400", err)
        self.assertIn("invalid_request", err)
        self.assertIn("carol", err)
        rc, out, err = self.cli("--user", "alice", env_secret=False)
        self.assertEqual((rc, out), (1, ""), err)
        self.assertIn("401", err)
        rc, out, err = self.cli("--expired", "--not-yet-valid")
        self.assertEqual(rc, 1, err)
        # nothing listens on port 1 of loopback
        rc, out, err = self.cli("--admin", "http://127.0.0.1:1", env_url=False)
        self.assertEqual((rc, out), (3, ""), err)


# ---------------------------------------------------------------- runner


class A09AdminHost(AdminCase):
    """Issue 15: the admin API answers only Host names that are its own
    (IP addresses, localhost, admin.hosts), against DNS rebinding."""

    @classmethod
    def config_mods(cls, cfg):
        super().config_mods(cfg)
        cfg["admin"]["hosts"] = ["authflowd.internal"]

    def status_for(self, host, path="/admin/healthz"):
        h = self.admin_headers(ctype=None)
        h["Host"] = host
        return self.admin.request("GET", path, headers=h).status

    def test_foreign_host_refused(self):
        port = self.admin.port
        for host in ("attacker.example", "attacker.example:%d" % port, "127.0.0.1.nip.io:%d" % port,
                     "localhost.attacker.example", "authflowd.internal.evil", "127.0.0.1:x", ""):
            with self.subTest(host=host):
                self.assertEqual(self.status_for(host), 421)
        # refused before the route: a mint never happens
        h = self.admin_headers()
        h["Host"] = "attacker.example:%d" % port
        r = self.admin.request("POST", "/admin/tokens", body=json.dumps({"user": self.user(0)["username"]}),
                               headers=h)
        self.assertEqual(r.status, 421, r)
        self.assertNotIn("access_token", r.text)
        self.assertIn("Host", r.json()["error_description"])

    def test_own_names_accepted(self):
        port = self.admin.port
        for host in ("127.0.0.1:%d" % port, "localhost:%d" % port, "LocalHost", "[::1]:%d" % port,
                     "app.localhost:%d" % port, "10.0.0.7:%d" % port, "authflowd.internal:%d" % port,
                     "AUTHFLOWD.internal"):
            with self.subTest(host=host):
                self.assertEqual(self.status_for(host), 200)

    def test_provider_port_unaffected(self):
        r = self.http.get("/.well-known/openid-configuration", headers={"Host": "id.example"})
        self.assertEqual(r.status, 200, r)


# ====================================================================== keys


class KeysCase(AdminCase):
    """Helpers of the key routes (docs/admin.md, "Keys")."""

    def keys_req(self, method, path="/admin/keys", body=None, query=None):
        if body is not None and not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        return self.admin.request(method, path, query=query, body=body,
                                  headers=self.admin_headers())

    def keys(self):
        r = self.keys_req("GET")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Cache-Control"), "no-store", r)
        return r.json()

    def add_key(self, **body):
        r = self.keys_req("POST", body=body)
        self.assertEqual(r.status, 201, r)
        return r.json()

    def retire(self, kid, grace=None):
        q = [("kid", kid)] + ([("grace_seconds", str(grace))] if grace is not None else [])
        return self.keys_req("DELETE", query=q)

    def jwks_kids(self):
        return [k["kid"] for k in self.jwks()["keys"]]


class A10KeysRefused(KeysCase):
    """Every refusal names the member at fault and changes nothing."""

    def tearDown(self):
        self.assertEqual(len(self.keys()["keys"]), len(self.jwks()["keys"]))

    def test_list_matches_jwks(self):
        k = self.keys()
        r = self.http.get("/jwks")
        self.assertEqual([e["kid"] for e in k["keys"]], [j["kid"] for j in r.json()["keys"]])
        self.assertEqual(k["jwks_etag"], r.header("ETag"))
        self.assertEqual(k["signing"], k["keys"][0]["kid"])
        self.assertEqual({e["origin"] for e in k["keys"]}, {"config"})
        self.assertEqual([e["signing"] for e in k["keys"]], [True] + [False] * (len(k["keys"]) - 1))

    def test_bad_alg(self):
        for body, starts in [({}, "alg: required"),
                             ({"alg": "HS256"}, 'alg: "HS256" is refused'),
                             ({"alg": "none"}, 'alg: "none" is refused'),
                             ({"alg": "rs256"}, "alg: unknown value"),
                             ({"alg": 256}, "alg: required")]:
            with self.subTest(body=body):
                self.assertAdminError(self.keys_req("POST", body=body), 400, "invalid_request",
                                      starts)

    def test_bad_members(self):
        pem_ec = subprocess.run(
            ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            capture_output=True, check=True).stdout.decode()
        for body, starts in [({"alg": "ES256", "colour": "red"}, "colour: unknown member"),
                             ({"alg": "ES256", "sign": "yes"}, "sign: expected true or false"),
                             ({"alg": "ES256", "kid": 7}, "kid: expected a string"),
                             ({"alg": "ES256", "kid": ""}, "kid: expected 1 to 128"),
                             ({"alg": "ES256", "kid": "a\tb"}, "kid: contains a character"),
                             ({"alg": "ES256", "pem": 1}, "pem: expected a private key"),
                             ({"alg": "ES256", "pem": "garbage"}, "pem holds no"),
                             ({"alg": "RS256", "pem": pem_ec}, "pem: RS256 needs an RSA key")]:
            with self.subTest(body=body):
                self.assertAdminError(self.keys_req("POST", body=body), 400, "invalid_request",
                                      starts)
        self.assertAdminError(self.keys_req("POST", body="[]"), 400, "invalid_request")

    def test_duplicate_kid(self):
        kid = self.keys()["signing"]
        self.assertAdminError(self.keys_req("POST", body={"alg": "ES256", "kid": kid}), 409,
                              "invalid_request", "kid: a published key has the kid")

    def test_retire_refused(self):
        signing = self.keys()["signing"]
        self.assertAdminError(self.retire(signing, 0), 409, "invalid_request",
                              "kid: %s is the signing key" % signing)
        self.assertAdminError(self.retire(signing), 409, "invalid_request")
        self.assertAdminError(self.retire("no-such-kid", 0), 404, "not_found",
                              'kid: no published key has the kid "no-such-kid"')
        self.assertAdminError(self.keys_req("DELETE"), 400, "invalid_request", "kid: required")
        for g in ["-1", "abc", "31536001", "1.5", ""]:
            with self.subTest(grace=g):
                self.assertAdminError(self.keys_req("DELETE", query=[("kid", signing),
                                                                     ("grace_seconds", g)]),
                                      400, "invalid_request", "grace_seconds: expected")
        self.assertAdminError(self.keys_req("DELETE", query=[("kid", signing), ("id", "x")]),
                              400, "invalid_request", "id: unknown query parameter")
        self.assertAdminError(self.keys_req("GET", query=[("kid", signing)]), 400,
                              "invalid_request", "kid: unknown query parameter")
        self.assertEqual(self.keys()["signing"], signing)

    def test_signing_refused(self):
        self.assertAdminError(self.keys_req("POST", "/admin/keys/signing", {"kid": "nope"}), 404,
                              "not_found", "kid: no published key")
        self.assertAdminError(self.keys_req("POST", "/admin/keys/signing", {}), 400,
                              "invalid_request", "kid: required")
        self.assertAdminError(self.keys_req("POST", "/admin/keys/signing", {"kid": "x", "y": 1}),
                              400, "invalid_request", "y: unknown member")
        r = self.keys_req("GET", "/admin/keys/signing")
        self.assertEqual(r.status, 405, r)


class A11KeyRotation(KeysCase):
    """A rotation: a new key signs, the old one verifies during its grace
    (and /jwks publishes it), then is gone: /userinfo and /introspect refuse
    its tokens, and every change gave /jwks another ETag."""

    def test_rotation(self):
        k1 = self.keys()["signing"]
        r0 = self.http.get("/jwks")
        etag0 = r0.header("ETag")
        old = self.mint(user="alice", client="it-basic", scope="openid email")["access_token"]
        self.assertEqual(jwt_parts(old)[0]["kid"], k1)

        added = self.add_key(alg="ES256", kid="rotated-1", sign=True)
        self.assertEqual(added, {"kid": "rotated-1", "alg": "ES256", "origin": "admin",
                                 "signing": True, "retire_at": None})
        r1 = self.http.get("/jwks", headers={"If-None-Match": etag0})
        self.assertEqual(r1.status, 200, "the old ETag must not get a 304 after a rotation")
        self.assertNotEqual(r1.header("ETag"), etag0)
        self.assertEqual(self.http.get("/jwks", headers={"If-None-Match": r1.header("ETag")}).status,
                         304)
        self.assertIn(k1, [k["kid"] for k in r1.json()["keys"]])
        new = self.mint(user="alice", client="it-basic", scope="openid email")["access_token"]
        self.assertEqual(jwt_parts(new)[0], {"alg": "ES256", "kid": "rotated-1", "typ": "at+jwt"})
        md = self.http.get("/.well-known/openid-configuration").json()
        self.assertEqual(md["id_token_signing_alg_values_supported"][0], "ES256")

        r = self.retire(k1, 2)
        self.assertEqual(r.status, 200, r)
        self.assertGreater(r.json()["retire_at"], time.time())
        self.assertIn(k1, self.jwks_kids())
        self.assertEqual(self.userinfo(old).status, 200)
        self.assertIs(self.introspect(old).json()["active"], True)
        # the retiring key cannot sign again
        self.assertAdminError(self.keys_req("POST", "/admin/keys/signing", {"kid": k1}), 409,
                              "invalid_request", "kid: %s is being retired" % k1)

        time.sleep(2.3)
        etag2 = self.http.get("/jwks").header("ETag")
        self.assertNotIn(k1, self.jwks_kids())
        self.assertNotIn(k1, [e["kid"] for e in self.keys()["keys"]])
        self.assertNotEqual(etag2, r1.header("ETag"))
        self.assertInvalidToken(self.userinfo(old))
        self.assertIs(self.introspect(old).json()["active"], False)
        self.assertEqual(self.userinfo(new).status, 200)
        self.assertIs(self.introspect(new).json()["active"], True)

    def test_add_without_signing_then_switch(self):
        before = self.keys()
        added = self.add_key(alg="EdDSA")
        self.assertFalse(added["signing"])
        self.assertEqual(self.keys()["signing"], before["signing"])
        self.assertIn(added["kid"], self.jwks_kids())
        r = self.keys_req("POST", "/admin/keys/signing", {"kid": added["kid"]})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json()["signing"])
        tok = self.mint(user="bob", client="it-basic", scope="openid")["access_token"]
        self.assertEqual(jwt_parts(tok)[0]["alg"], "EdDSA")
        self.assertEqual(self.userinfo(tok).status, 200)
        # back, and the added key goes at once
        r = self.keys_req("POST", "/admin/keys/signing", {"kid": before["signing"]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.retire(added["kid"], 0).status, 200)
        self.assertInvalidToken(self.userinfo(tok))
        self.assertEqual(self.keys()["jwks_etag"], before["jwks_etag"],
                         "the set is the configured one again, byte for byte")


class A12KeysConcurrent(KeysCase):
    """Token requests on several connections while keys rotate: every token
    is issued and verified, nothing fails, the daemon lives."""

    ROTATIONS = 8
    WORKERS = 4

    def test_tokens_during_rotations(self):
        import threading
        stop = threading.Event()
        problems, counts = [], [0] * self.WORKERS

        def work(i):
            while not stop.is_set() and not problems:
                r = self.client_credentials("it-api")
                if r.status != 200:
                    problems.append(("token", r.status, r.body[:200]))
                    return
                tok = r.json()["access_token"]
                ri = self.introspect(tok, cid="it-api")
                if ri.status != 200 or ri.json().get("active") is not True:
                    problems.append(("introspect", ri.status, ri.body[:200]))
                    return
                counts[i] += 1

        threads = [threading.Thread(target=work, args=(i,)) for i in range(self.WORKERS)]
        for t in threads:
            t.start()
        try:
            for n in range(self.ROTATIONS):
                prev = self.keys()["signing"]
                self.add_key(alg="ES256", kid="c-%d" % n, sign=True)
                # a grace long enough for the tokens in flight
                r = self.retire(prev, 60)
                self.assertEqual(r.status, 200, r)
                time.sleep(0.05)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        self.assertEqual(problems, [])
        self.assertTrue(all(c > 0 for c in counts), counts)
        self.assertEqual(self.daemon.proc.poll(), None, "authflowd is still running")
        self.assertEqual(self.keys()["signing"], "c-%d" % (self.ROTATIONS - 1))


class A13MintAlg(AdminCase):
    """"alg": the token signed by the published key of that alg, not the
    signing key (an ES256 token for an ES256-trusting API, RS-33)."""

    @classmethod
    def config_mods(cls, cfg):
        super().config_mods(cfg)
        cfg["keys"] = [{"alg": "RS256"}, {"alg": "ES256"}]

    def test_es256(self):
        keys = {k["alg"]: k["kid"] for k in self.jwks()["keys"]}
        body = self.mint(user="alice", client="it-basic", scope="openid profile", alg="ES256")
        h, c, sig = jwt_parts(body["access_token"])
        self.assertEqual(h["alg"], "ES256")
        self.assertEqual(h["kid"], keys["ES256"])
        self.assertEqual(h["typ"], "at+jwt")
        self.assertEqual(len(sig), 64)  # r || s, RFC 7518 §3.4
        self.assertEqual(self.userinfo(body["access_token"]).status, 200)
        # the signing key's own alg, and no alg at all, give the signing key
        for req in ({"alg": "RS256"}, {}):
            with self.subTest(req=req):
                h, _, _ = jwt_parts(self.mint(user="alice", **req)["access_token"])
                self.assertEqual((h["alg"], h["kid"]), ("RS256", keys["RS256"]))
        # defects apply as ever
        h, _, _ = jwt_parts(self.mint(user="alice", alg="ES256", defects=["unknown_kid"])["access_token"])
        self.assertEqual(h["alg"], "ES256")
        self.assertNotEqual(h["kid"], keys["ES256"])

    def test_alg_refused(self):
        for alg in ("PS256", "es256", 5, None):
            with self.subTest(alg=alg):
                self.assertAdminError(self.mint_raw({"user": "alice", "alg": alg}), 400,
                                      "invalid_request", "alg:")


def main():
    return ts.run_tests(sys.modules[__name__], "admin", timing=False)


if __name__ == "__main__":
    sys.exit(main())
