#!/usr/bin/env python3
"""Integration tests of several issuers in one authflowd (docs/issuers.md):
routing by path, and isolation. A code, an access token, a refresh token, a
login session, a client secret, a minted token, a queued scenario, a client
added through the admin API and a ledger entry of one issuer must be
nothing to another, whose clients have the same ids; and a token of one
issuer is refused by another even when both sign with the same key.

Every refusal is paired with the same request at the issuer that owns the
thing, which must succeed: a test that passes because nothing worked
anywhere would prove nothing.

Python 3 standard library only; the daemon and HTTP helpers come from
test_server.py. Each class starts its own daemon on 127.0.0.1:0 from
conf/issuers.json (tenant-a: ES256, tenant-b: RS256, tiktok: the TikTok
persona), admin API on.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_server as ts  # noqa: E402  (the shared helpers)
from test_server import HttpClient, jwt_parts  # noqa: E402

SHIPPED = os.path.join(ts.SRCDIR, "conf", "issuers.json")
BANNER_ADMIN = re.compile(r"^#\s+admin:\s+(http://\S+)", re.M)
REDIRECT = "http://127.0.0.1:8080/callback"
SECRETS = {"/tenant-a": "tenant-a-secret", "/tenant-b": "tenant-b-secret"}


class IssuersCase(unittest.TestCase):
    """One daemon per class from conf/issuers.json, changed by config_mods."""

    @classmethod
    def config_mods(cls, cfg):
        """Override to change the config before the daemon starts."""

    @classmethod
    def setUpClass(cls):
        cls.tmpdir = tempfile.mkdtemp(prefix="af-it-issuers-")
        cfg = ts.load_json(SHIPPED)
        cfg.pop("listen", None)
        cfg["admin"]["listen"] = "127.0.0.1:0"
        cls.config_mods(cfg)
        cls.cfg = cfg
        path = os.path.join(cls.tmpdir, "issuers.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(cfg, f)
        cls.daemon = ts.Daemon(path, cls.tmpdir).start()
        cls.url = cls.daemon.url
        for _ in range(1000):
            with open(cls.daemon.out_path, "rb") as f:
                m = BANNER_ADMIN.search(f.read().decode("utf-8", "replace"))
            if m:
                break
            time.sleep(0.01)
        if not m:
            raise AssertionError("no admin line in the banner")
        cls.admin_url = m.group(1)

    @classmethod
    def tearDownClass(cls):
        rc = cls.daemon.stop()
        err = cls.daemon.stderr()
        shutil.rmtree(cls.tmpdir, ignore_errors=True)
        if rc != 0:
            raise AssertionError("authflowd did not exit 0 on SIGTERM (got %r): %s" % (rc, err[-2000:]))

    # ---- helpers

    def at(self, path):
        """A client of the issuer at path ("" for the top level)."""
        return HttpClient(self.url + path)

    def admin(self, path):
        return HttpClient(self.admin_url + path)

    def basic(self, path, secret=None):
        return {"Authorization": ts.basic_auth("web-app", secret or SECRETS[path])}

    def authorize(self, path, state="st", headers=None, **extra):
        q = [("response_type", "code"), ("client_id", "web-app"), ("redirect_uri", REDIRECT),
             ("scope", "openid offline_access"), ("state", state), ("nonce", "n-" + state)]
        q += list(extra.items())
        return self.at(path).get("/authorize", query=q, headers=headers)

    def code_of(self, r):
        self.assertEqual(r.status, 302, r)
        loc = urllib.parse.urlsplit(r.location)
        self.assertEqual(loc.scheme + "://" + loc.netloc + loc.path, REDIRECT, r)
        return dict(urllib.parse.parse_qsl(loc.query))

    def code(self, path):
        r = self.authorize(path)
        q = self.code_of(r)
        self.assertIn("code", q, r)
        return q["code"], r

    def redeem(self, path, code, secret_of=None):
        return self.at(path).post("/token", form=[("grant_type", "authorization_code"), ("code", code),
                                                  ("redirect_uri", REDIRECT)],
                                  headers=self.basic(secret_of or path))

    def tokens(self, path):
        code, _ = self.code(path)
        r = self.redeem(path, code)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def userinfo(self, path, token):
        return self.at(path).get("/userinfo", headers={"Authorization": "Bearer " + token})

    def assert_invalid_grant(self, r):
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json()["error"], "invalid_grant", r)


class I01Routing(IssuersCase):
    """Each issuer answers under its path, with its own metadata and keys."""

    PATHS = ["", "/tenant-a", "/tenant-b", "/tiktok"]

    @classmethod
    def config_mods(cls, cfg):
        # after /tenant-a, a path that /tenant-a is a prefix of as a string
        cfg["issuers"].append({"path": "/tenant-ab", "keys": [{"alg": "ES256"}], "clients": [
            {"client_id": "ab-service", "client_secret": "ab-secret", "grant_types": ["client_credentials"],
             "scope": "api"}]})

    def test_discovery_per_issuer(self):
        for p in self.PATHS:
            for doc in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
                with self.subTest(issuer=p, doc=doc):
                    r = self.at(p).get(doc)
                    self.assertEqual(r.status, 200, r)
                    d = r.json()
                    self.assertEqual(d["issuer"], self.url + p)
                    for k in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
                        self.assertTrue(d[k].startswith(self.url + p + "/"), d[k])

    def test_rfc8414_path_form(self):
        """RFC 8414 §3.1: the well-known segment before the issuer's path."""
        for p in self.PATHS[1:]:
            r = self.at("").get("/.well-known/oauth-authorization-server" + p)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["issuer"], self.url + p)
        for bad in ("/tenant-z", "/tenant-a/x", "/tenant-abc", "/tenant-"):
            r = self.at("").get("/.well-known/oauth-authorization-server" + bad)
            self.assertEqual(r.status, 404, (bad, r))

    def test_keys_distinct(self):
        seen = {}
        for p in self.PATHS:
            r = self.at(p).get("/jwks")
            self.assertEqual(r.status, 200, r)
            for k in r.json()["keys"]:
                material = k.get("n") or k.get("x")
                self.assertNotIn(k["kid"], seen, "kid of %r published by %r too" % (seen.get(k["kid"]), p))
                self.assertNotIn(material, seen.values())
                seen[k["kid"]] = material
        algs = {p: {k["alg"] for k in self.at(p).get("/jwks").json()["keys"]} for p in self.PATHS}
        self.assertEqual(algs["/tenant-a"], {"ES256"})
        self.assertEqual(algs["/tenant-b"], {"RS256"})

    def test_path_boundaries(self):
        """A path names an issuer only whole: /tenant-ab is not /tenant-a."""
        r = self.at("/tenant-ab").post("/token", form=[("grant_type", "client_credentials")],
                                       headers={"Authorization": ts.basic_auth("ab-service", "ab-secret")})
        self.assertEqual(r.status, 200, r)
        _, claims, _ = jwt_parts(r.json()["access_token"])
        self.assertEqual(claims["iss"], self.url + "/tenant-ab")
        r = self.at("/tenant-ab").post("/token", form=[("grant_type", "client_credentials")],
                                       headers=self.basic("/tenant-a"))
        self.assertEqual(r.status, 401, r)
        r = self.at("").post("/tenant-abc/token", form=[("grant_type", "client_credentials")],
                             headers=self.basic("/tenant-a"))
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.json()["error"], "not_found")
        for p in ("/tenant-a", "/tenant-a/"):
            r = self.at("").get(p)
            self.assertEqual(r.status, 404, (p, r))
        # the issuer's own endpoint, for contrast
        r = self.at("/tenant-a").post("/token", form=[("grant_type", "client_credentials")],
                                      headers=self.basic("/tenant-a"))
        self.assertEqual(r.status, 200, r)

    def test_top_level_keeps_its_endpoints(self):
        """The top level has no clients in conf/issuers.json: its /token
        knows no web-app, whichever secret."""
        for secret in SECRETS.values():
            r = self.at("").post("/token", form=[("grant_type", "client_credentials")],
                                 headers={"Authorization": ts.basic_auth("web-app", secret)})
            self.assertEqual(r.status, 401, r)
            self.assertEqual(r.json()["error"], "invalid_client")

    def test_persona_under_path(self):
        r = self.at("/tiktok").get("/v2/auth/authorize/", query=[
            ("client_key", "tt-app"), ("response_type", "code"),
            ("redirect_uri", "http://127.0.0.1:8080/auth/tiktok/callback"),
            ("scope", "user.info.basic"), ("state", "tt")])
        self.assertEqual(r.status, 302, r)
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.location).query))
        self.assertEqual(q.get("scopes"), "user.info.basic", r)
        self.assertNotIn("iss", q, "the TikTok persona sends no iss")
        # the persona's path is not the standard issuers'
        r = self.at("/tenant-a").get("/v2/auth/authorize/", query=[("client_key", "web-app")])
        self.assertEqual(r.status, 404, r)
        # its metadata names the provider's endpoints (authprobe rp follows an
        # app there), and that it issues no ID token and sends no iss
        p = self.at("/tiktok").get("/.well-known/openid-configuration").json()["authflow_persona"]
        t = self.url + "/tiktok"
        self.assertEqual(p, {"name": "tiktok", "authorization_endpoint": t + "/v2/auth/authorize/",
                             "token_endpoint": t + "/v2/oauth/token/",
                             "userinfo_endpoint": t + "/v2/user/info/", "id_token": False,
                             "authorization_response_iss_parameter_supported": False})
        self.assertNotIn("authflow_persona", self.at("/tenant-a").get("/.well-known/openid-configuration").json())

    def test_log_names_the_issuer(self):
        self.at("/tenant-b").get("/jwks")
        self.at("/tenant-b").get("/healthz")
        self.assertRegex(self.daemon.stderr(), r"GET /tenant-b/healthz 200")

    def test_admin_healthz_names_the_issuer(self):
        for p in self.PATHS:
            r = self.admin(p).get("/admin/healthz")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["issuer"], self.url + p)


class I02Isolation(IssuersCase):
    """Nothing of tenant-a is anything at tenant-b (same client id, same
    username), and the reverse."""

    def test_code(self):
        code, _ = self.code("/tenant-a")
        for secret_of in ("/tenant-b", "/tenant-a"):
            with self.subTest(secret_of=secret_of):
                r = self.redeem("/tenant-b", code, secret_of=secret_of)
                self.assertIn(r.status, (400, 401), r)
                if secret_of == "/tenant-b":
                    self.assert_invalid_grant(r)
        # the refusals did not consume it: tenant-a still honours it, once
        r = self.redeem("/tenant-a", code)
        self.assertEqual(r.status, 200, r)
        self.assert_invalid_grant(self.redeem("/tenant-a", code))

    def test_access_token(self):
        tok = self.tokens("/tenant-a")
        at = tok["access_token"]
        r = self.userinfo("/tenant-b", at)
        self.assertEqual(r.status, 401, r)
        self.assertIn('error="invalid_token"', r.header("WWW-Authenticate"))
        r = self.at("/tenant-b").post("/introspect", form=[("token", at)], headers=self.basic("/tenant-b"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"active": False})
        r = self.userinfo("/tenant-a", at)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["sub"], "a-alice")
        _, claims, _ = jwt_parts(tok["id_token"])
        self.assertEqual(claims["iss"], self.url + "/tenant-a")

    def test_refresh_token(self):
        rt = self.tokens("/tenant-b")["refresh_token"]
        r = self.at("/tenant-a").post("/token", form=[("grant_type", "refresh_token"), ("refresh_token", rt)],
                                      headers=self.basic("/tenant-a"))
        self.assert_invalid_grant(r)
        # not taken as a reuse at tenant-b either: it still rotates there
        r = self.at("/tenant-b").post("/token", form=[("grant_type", "refresh_token"), ("refresh_token", rt)],
                                      headers=self.basic("/tenant-b"))
        self.assertEqual(r.status, 200, r)

    def test_client_secret(self):
        for p, other in (("/tenant-a", "/tenant-b"), ("/tenant-b", "/tenant-a")):
            r = self.at(p).post("/token", form=[("grant_type", "client_credentials")],
                                headers=self.basic(p, SECRETS[other]))
            self.assertEqual(r.status, 401, r)
            self.assertEqual(r.json()["error"], "invalid_client")
            r = self.at(p).post("/token", form=[("grant_type", "client_credentials")], headers=self.basic(p))
            self.assertEqual(r.status, 200, r)

    def test_session(self):
        """A login session of tenant-a, its cookie scoped to /tenant-a; sent
        to tenant-b under any name, prompt=none still finds no session."""
        _, r = self.code("/tenant-a")
        cookies = [c for c in r.header_all("Set-Cookie") if c.startswith("authflow_session")]
        self.assertEqual(len(cookies), 1, r.header_all("Set-Cookie"))
        name, sid = cookies[0].split(";")[0].split("=", 1)
        self.assertEqual(name, "authflow_session.tenant-a")
        self.assertIn("Path=/tenant-a;", cookies[0])
        q = self.code_of(self.authorize("/tenant-a", state="again", prompt="none",
                                        headers={"Cookie": "%s=%s" % (name, sid)}))
        self.assertIn("code", q, "the session works where it was made")
        for cname in (name, "authflow_session.tenant-b", "authflow_session"):
            with self.subTest(cookie=cname):
                q = self.code_of(self.authorize("/tenant-b", state="cross", prompt="none",
                                                headers={"Cookie": "%s=%s" % (cname, sid)}))
                self.assertEqual(q.get("error"), "login_required", q)
                self.assertNotIn("code", q)

    def admin_json(self, path, method, apath, body=None):
        r = self.admin(path).request(method, apath, body=json.dumps(body) if body is not None else None,
                                     headers={"Content-Type": "application/json"} if body is not None else {})
        return r

    def test_minted_token(self):
        r = self.admin_json("/tenant-a", "POST", "/admin/tokens", {"client": "web-app", "user": "alice"})
        self.assertEqual(r.status, 200, r)
        at = r.json()["access_token"]
        self.assertEqual(self.userinfo("/tenant-a", at).status, 200)
        r = self.userinfo("/tenant-b", at)
        self.assertEqual(r.status, 401, r)

    def test_scenario(self):
        r = self.admin_json("/tenant-a", "POST", "/admin/scenarios", {"name": "token_invalid_grant"})
        self.assertEqual(r.status, 201, r)
        try:
            self.assertEqual(self.admin("/tenant-b").get("/admin/scenarios").json()["queued"], [])
            self.assertEqual(self.tokens("/tenant-b")["token_type"], "Bearer")
            code, _ = self.code("/tenant-a")
            self.assert_invalid_grant(self.redeem("/tenant-a", code))
        finally:
            self.admin("/tenant-a").request("DELETE", "/admin/scenarios")

    def test_admin_clients(self):
        client = {"client_id": "added-at-a", "client_secret": "added-secret",
                  "grant_types": ["client_credentials"], "scope": "openid"}
        r = self.admin_json("/tenant-a", "POST", "/admin/clients", client)
        self.assertIn(r.status, (200, 201), r)
        ids = lambda p: {c["client_id"] for c in self.admin(p).get("/admin/clients").json()["clients"]}
        self.assertIn("added-at-a", ids("/tenant-a"))
        self.assertNotIn("added-at-a", ids("/tenant-b"))
        auth = {"Authorization": ts.basic_auth("added-at-a", "added-secret")}
        self.assertEqual(self.at("/tenant-a").post("/token", form=[("grant_type", "client_credentials")],
                                                   headers=auth).status, 200)
        r = self.at("/tenant-b").post("/token", form=[("grant_type", "client_credentials")], headers=auth)
        self.assertEqual(r.status, 401, r)

    def test_ledger(self):
        state = "ledger-mark-tenant-b"
        self.authorize("/tenant-b", state=state)
        def states(p):
            r = self.admin(p).get("/admin/ledger")
            self.assertEqual(r.status, 200, r)
            return [e["query"].get("state") for e in r.json()["entries"]]
        self.assertIn(state, states("/tenant-b"))
        self.assertNotIn(state, states("/tenant-a"))
        self.assertNotIn(state, states(""))
        paths = {e["path"] for e in self.admin("/tenant-b").get("/admin/ledger").json()["entries"]}
        self.assertIn("/tenant-b/authorize", paths, "the ledger shows the path as sent")
        r = self.admin("/tenant-b").get("/admin/ledger", query=[("path", "/tenant-b/authorize")])
        self.assertGreaterEqual(r.json()["count"], 1, r)
        # the findings read the issuer's own endpoints under its path: a code
        # redeemed twice at tenant-b is found there, and only there
        reused = lambda p: [f["id"] for f in self.admin(p).get("/admin/findings").json()["findings"]
                            ].count("code_reused")
        before = {p: reused(p) for p in ("/tenant-a", "/tenant-b")}
        code, _ = self.code("/tenant-b")
        self.assertEqual(self.redeem("/tenant-b", code).status, 200)
        self.assert_invalid_grant(self.redeem("/tenant-b", code))
        self.assertEqual(reused("/tenant-b"), before["/tenant-b"] + 1)
        self.assertEqual(reused("/tenant-a"), before["/tenant-a"])


class I05PersonaScenarios(IssuersCase):
    """Scenarios queued at the TikTok element's admin API answer in TikTok's
    dialect: a user who declines a scope, a revoked grant."""

    TT_REDIRECT = "http://127.0.0.1:8080/auth/tiktok/callback"

    @classmethod
    def config_mods(cls, cfg):
        tt = [el for el in cfg["issuers"] if el["path"] == "/tiktok"][0]
        tt["clients"][0]["grant_types"] = ["authorization_code", "refresh_token"]

    def queue(self, name):
        r = self.admin("/tiktok").request("POST", "/admin/scenarios", body=json.dumps({"name": name}),
                                          headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 201, r)

    def login(self, scopes):
        r = self.at("/tiktok").get("/v2/auth/authorize/", query=[
            ("client_key", "tt-app"), ("response_type", "code"), ("redirect_uri", self.TT_REDIRECT),
            ("scope", scopes), ("state", "tt")])
        self.assertEqual(r.status, 302, r)
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.location).query))
        t = self.at("/tiktok").post("/v2/oauth/token/", form=[
            ("client_key", "tt-app"), ("client_secret", "tt-secret"), ("code", q["code"]),
            ("grant_type", "authorization_code"), ("redirect_uri", self.TT_REDIRECT)])
        self.assertEqual(t.status, 200, t)
        return q, t.json()

    def user_info(self, token, fields):
        return self.at("/tiktok").get("/v2/user/info/", query=[("fields", fields)],
                                      headers={"Authorization": "Bearer " + token})

    def test_scope_declined(self):
        q, tok = self.login("user.info.basic,user.info.profile")
        self.assertEqual(q["scopes"], "user.info.basic,user.info.profile", "the control")
        self.queue("authorize_scope_declined")
        q, tok = self.login("user.info.basic,user.info.profile")
        self.assertEqual(q["scopes"], "user.info.basic", "TikTok's redirect names what was granted")
        self.assertEqual(tok["scope"], "user.info.basic")
        self.assertEqual(self.user_info(tok["access_token"], "open_id,display_name").status, 200)
        r = self.user_info(tok["access_token"], "open_id,username")
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json()["error"]["code"], "scope_permission_missed")

    def test_grant_revoked(self):
        _, tok = self.login("user.info.basic")
        self.assertEqual(self.user_info(tok["access_token"], "open_id").status, 200)
        self.queue("grant_revoked")
        r = self.at("/tiktok").post("/v2/oauth/token/", form=[
            ("client_key", "tt-app"), ("client_secret", "tt-secret"), ("grant_type", "refresh_token"),
            ("refresh_token", tok["refresh_token"])])
        self.assertEqual(r.status, 400, r)
        body = r.json()
        self.assertEqual(body["error"], "invalid_grant")
        self.assertIn("revoked the app's access", body["error_description"])
        self.assertRegex(body["log_id"], r"^[0-9]{14}[0-9A-F]{20}$")
        r = self.user_info(tok["access_token"], "open_id")
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.json()["error"]["code"], "access_token_invalid")


class I06OwnPort(IssuersCase):
    """The TikTok element with a listen address of its own: served at the
    root of that port (for SDKs that take a host, not a base URL), still
    isolated, its admin API under its path."""

    @classmethod
    def config_mods(cls, cfg):
        tt = [el for el in cfg["issuers"] if el["path"] == "/tiktok"][0]
        tt["listen"] = "127.0.0.1:0"
        tt["clients"][0]["grant_types"] = ["authorization_code", "refresh_token"]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with open(cls.daemon.out_path, "rb") as f:
            banner = f.read().decode("utf-8", "replace")
        issuers = re.findall(r"^#\s+issuer:\s+(http://\S+)", banner, re.M)
        cls.tt = issuers[2]

    def test_served_at_the_root_of_its_port(self):
        self.assertRegex(self.tt, r"^http://127\.0\.0\.1:\d+$")
        self.assertNotEqual(self.tt, self.url)
        tt = HttpClient(self.tt)
        d = tt.get("/.well-known/openid-configuration").json()
        self.assertEqual(d["issuer"], self.tt)
        self.assertEqual(d["authflow_persona"]["token_endpoint"], self.tt + "/v2/oauth/token/")
        # not under its path on the top level's listener any more
        self.assertEqual(self.at("/tiktok").get("/.well-known/openid-configuration").status, 404)
        self.assertEqual(self.at("").get("/.well-known/oauth-authorization-server/tiktok").status, 404)
        # its port serves it alone: another issuer's path is a 404 there
        self.assertEqual(tt.get("/tenant-a/.well-known/openid-configuration").status, 404)
        r = self.admin("/tiktok").get("/admin/healthz")
        self.assertEqual(r.json()["issuer"], self.tt)

    def test_login_and_isolation(self):
        tt = HttpClient(self.tt)
        redirect = I05PersonaScenarios.TT_REDIRECT
        r = tt.get("/v2/auth/authorize/", query=[
            ("client_key", "tt-app"), ("response_type", "code"), ("redirect_uri", redirect),
            ("scope", "user.info.basic"), ("state", "p")])
        self.assertEqual(r.status, 302, r)
        code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.location).query))["code"]
        form = [("client_key", "tt-app"), ("client_secret", "tt-secret"), ("code", code),
                ("grant_type", "authorization_code"), ("redirect_uri", redirect)]
        # the same request on the top level's port finds no issuer there
        self.assertEqual(self.at("/tiktok").post("/v2/oauth/token/", form=form).status, 404)
        t = tt.post("/v2/oauth/token/", form=form)
        self.assertEqual(t.status, 200, t)
        at = t.json()["access_token"]
        _, claims, _ = jwt_parts(at)
        self.assertEqual(claims["iss"], self.tt)
        self.assertEqual(tt.get("/v2/user/info/", query=[("fields", "open_id")],
                                headers={"Authorization": "Bearer " + at}).status, 200)
        self.assertEqual(self.userinfo("/tenant-a", at).status, 401)
        # its ledger, through the admin API under its path
        paths = {e["path"] for e in self.admin("/tiktok").get("/admin/ledger").json()["entries"]}
        self.assertIn("/v2/oauth/token/", paths)


class I03SharedKey(IssuersCase):
    """Both tenants sign with one key file: a token's iss still binds it
    to its issuer."""

    @classmethod
    def config_mods(cls, cfg):
        pem = os.path.join(cls.tmpdir, "shared.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-out", pem], check=True, capture_output=True)
        for el in cfg["issuers"][:2]:
            el["keys"] = [{"alg": "ES256", "pem_file": pem}]

    def test_same_kid_other_issuer(self):
        kids = [{k["kid"] for k in self.at(p).get("/jwks").json()["keys"]} for p in ("/tenant-a", "/tenant-b")]
        self.assertEqual(kids[0], kids[1], "the premise: one key published by both")
        at = self.tokens("/tenant-a")["access_token"]
        self.assertEqual(self.userinfo("/tenant-a", at).status, 200)
        r = self.userinfo("/tenant-b", at)
        self.assertEqual(r.status, 401, r)
        self.assertIn("not issued by this server", r.header("WWW-Authenticate"))
        r = self.at("/tenant-b").post("/introspect", form=[("token", at)], headers=self.basic("/tenant-b"))
        self.assertEqual(r.json(), {"active": False})


class I04Config(unittest.TestCase):
    """Refused configs: exit 2, the message names the element and why."""

    def check(self, issuers, extra=None):
        cfg = {"listen": "127.0.0.1:9200" if any("listen" in el for el in issuers) else "127.0.0.1:0",
               "issuers": issuers}
        cfg.update(extra or {})
        d = tempfile.mkdtemp(prefix="af-it-issuers-cfg-")
        try:
            p = os.path.join(d, "c.json")
            with open(p, "w", encoding="utf-8") as f:
                json.dump(cfg, f)
            r = subprocess.run([ts.find_authflowd(), "--check-config", "--config", p],
                               capture_output=True, text=True, timeout=30)
            return r.returncode, r.stderr
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_refused(self):
        cases = [
            ([{"path": "/token"}], r"issuers\[0\]\.path: /token would hide the top-level issuer's /token"),
            ([{"path": "/admin"}], r"issuers\[0\]\.path: /admin would hide the top-level issuer's /admin/"),
            ([{"path": "/.well-known"}], r"would hide the top-level issuer's /\.well-known/"),
            ([{"path": "/a"}, {"path": "/a"}], r"issuers\[1\]\.path: duplicate of issuers\[0\]\.path"),
            ([{"path": "/a"}, {"path": "/a/b"}], r"issuers\[1\]\.path: lies under issuers\[0\]\.path"),
            ([{"path": "/a/b"}, {"path": "/a"}], r"issuers\[1\]\.path: contains issuers\[0\]\.path"),
            ([{"path": "a"}], r"issuers\[0\]\.path: must start with"),
            ([{"path": "/a/"}], r"issuers\[0\]\.path: must not end with"),
            ([{"path": "/a/../b"}], r"issuers\[0\]\.path: has a \"\.\" or \"\.\.\" segment"),
            ([{"path": "/a b"}], r"issuers\[0\]\.path: has a character"),
            ([{"path": "/a//b"}], r"issuers\[0\]\.path: has an empty segment"),
            ([{}], r"issuers\[0\]\.path: missing"),
            ([{"path": "/a", "limits": {}}], r"issuers\[0\]\.limits: not a key of an issuer in issuers\[\] \(it is set once, at the top level"),
            ([{"path": "/a", "clients": [{"client_id": "x", "client_secret": "s",
                                          "redirect_uris": ["http://127.0.0.1:1/cb"]}]}],
             r"issuers\[0\]\.users: at least one user is needed"),
            ([{"path": "/a", "scenarios": [{"name": "no_such_scenario"}]}],
             r"issuer /a: scenarios\[0\]\.name: unknown scenario"),
            ([{"path": "/a", "listen": "127.0.0.1:9100"}, {"path": "/b", "listen": "127.0.0.1:9100"}],
             r"issuers\[1\]\.listen: the same address as another issuer's listen"),
            ([{"path": "/a", "listen": "127.0.0.1:9200"}],
             r"issuers\[0\]\.listen: the same address as the top level's listen"),
            ([{"path": "/a", "listen": "nowhere"}], r"issuers\[0\]\.listen: "),
        ]
        for issuers, want in cases:
            with self.subTest(issuers=issuers):
                rc, err = self.check(issuers)
                self.assertEqual(rc, 2, err)
                self.assertRegex(err, want)

    def test_accepted(self):
        rc, err = self.check([{"path": "/a"}, {"path": "/ab"}, {"path": "/x/y-z.1_~"}])
        self.assertEqual(rc, 0, err)
        # port 0 twice: two free ports, not one
        rc, err = self.check([{"path": "/a", "listen": "127.0.0.1:0"}, {"path": "/b", "listen": "127.0.0.1:0"}],
                             {"listen": "127.0.0.1:0"})
        self.assertEqual(rc, 0, err)
        rc, err = self.check([{"path": "/v2"}])
        self.assertEqual(rc, 0, "a standard top level has no /v2 endpoints: " + err)
        rc, err = self.check([{"path": "/v2"}], {"persona": "tiktok"})
        self.assertEqual(rc, 2, "the TikTok top level answers /v2/auth/authorize/")
        self.assertIn("would hide the top-level issuer's /v2/", err)


def main():
    if ts.find_authflowd() is None:
        sys.stderr.write("test_issuers.py: no authflowd binary (set AF_BUILDDIR)\n")
        return 99
    return ts.run_tests(sys.modules[__name__], "issuers", timing=False)


if __name__ == "__main__":
    sys.exit(main())
