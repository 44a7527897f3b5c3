#!/usr/bin/env python3
"""Integration tests of authflowd's scenarios (docs/scenarios.md) and of the
request ledger (docs/admin.md, "The ledger"): every scenario checked from
the outside (the authorization response, the ID token decoded here and its
signature checked with node against /jwks, the token response, /userinfo,
/jwks), each way of selecting one (the admin queue, client and user
binding, times, the config, login_hint), and the ledger's contents,
redaction, cursor, filters and bound.

Python 3 standard library only (node for the independent signature checks;
those skip without it); the daemon, HTTP client and config helpers come
from test_server.py. Each class starts its own daemon on 127.0.0.1:0.

Environment: as test_server.py.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_server as ts  # noqa: E402  (the shared helpers)
from test_server import HttpClient, jwt_parts, split_location  # noqa: E402
from test_admin import attach_admin  # noqa: E402

SECRET = "scen-adm1n-s3cret"
DOC = os.path.join(ts.SRCDIR, "docs", "scenarios.md")

AUTHZ_ERRORS = {
    "authorize_access_denied": "access_denied",
    "authorize_server_error": "server_error",
    "authorize_temporarily_unavailable": "temporarily_unavailable",
    "authorize_invalid_scope": "invalid_scope",
}


class ScenCase(ts.AFTestCase):
    """One daemon per class with the admin API on port 0, behind SECRET."""

    extra_config = {}

    @classmethod
    def config_mods(cls, cfg):
        cfg["admin"] = {"enabled": True, "listen": "127.0.0.1:0", "secret": SECRET}
        for k, v in cls.extra_config.items():
            if isinstance(v, dict) and isinstance(cfg.get(k), dict):
                cfg[k].update(v)
            else:
                cfg[k] = v

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        attach_admin(cls)

    def setUp(self):
        super().setUp()
        self.clear()

    # ---- the admin API

    def ah(self, ctype=True):
        h = {"Authorization": "Bearer " + SECRET}
        if ctype:
            h["Content-Type"] = "application/json"
        return h

    def queue_raw(self, body, headers=None):
        if not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        return self.admin.request("POST", "/admin/scenarios", body=body,
                                  headers=headers if headers is not None else self.ah())

    def queue(self, name, **kw):
        body = dict(kw, name=name)
        r = self.queue_raw(body)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.header("Cache-Control"), "no-store", r)
        e = r.json()
        self.assertEqual(e["name"], name)
        self.assertRegex(e["id"], r"^s-\d+$")
        return e

    def clear(self):
        r = self.admin.request("DELETE", "/admin/scenarios", headers=self.ah(False))
        self.assertEqual(r.status, 200, r)
        return r.json()["cleared"]

    def queued(self):
        r = self.admin.get("/admin/scenarios", headers=self.ah(False))
        self.assertEqual(r.status, 200, r)
        return r.json()["queued"]

    def ledger_raw(self, **q):
        return self.admin.get("/admin/ledger", query=q, headers=self.ah(False))

    def ledger(self, **q):
        r = self.ledger_raw(**q)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def cursor(self):
        return self.ledger(limit=0)["next"]

    def assertAdminError(self, r, status, error="invalid_request", starts=None):
        self.assertEqual(r.status, status, r)
        body = r.json()
        self.assertEqual(body.get("error"), error, r)
        if starts is not None:
            self.assertTrue(body["error_description"].startswith(starts), r)
        return body["error_description"]

    # ---- flows

    def flow(self, cid="it-basic", scope="openid profile email", **kw):
        """/authorize: (resp, ctx, params of the redirect's query)."""
        r, ctx = self.authorize(cid, scope=scope, **kw)
        self.assertIn(r.status, (302, 303), r)
        _, q, _ = split_location(r.location)
        return r, ctx, q

    def code_flow(self, cid="it-basic", scope="openid profile email", **kw):
        """A code, with its ctx."""
        r, ctx, q = self.flow(cid, scope, **kw)
        self.assertIn("code", q, r.location)
        ctx["code"] = q["code"][0]
        return ctx

    def tokens(self, cid="it-basic", scope="openid profile email", **kw):
        """A full login: the token response (200) and its ID token parts."""
        ctx = self.code_flow(cid, scope, **kw)
        r = self.redeem(ctx)
        self.assertEqual(r.status, 200, r)
        tok = r.json()
        tok["_ctx"] = ctx
        return tok

    def id_token(self, name, **kw):
        """A login under id_token scenario name: (header, claims, token, response)."""
        self.queue(name, client="it-basic")
        tok = self.tokens(**kw)
        h, c, _ = jwt_parts(tok["id_token"])
        return h, c, tok["id_token"], tok

    # ---- independent signature checks (node)

    def node_verify(self, token, jwks):
        if ts.find_node() is None:
            self.skipTest("node not available")
        path = os.path.join(self.tmpdir, "jwks-%d.json" % time.monotonic_ns())
        with open(path, "w") as f:
            json.dump(jwks, f)
        p = self.run_node([ts.VERIFY_JS, path, token])
        self.assertIn(p.returncode, (0, 1), p.stderr)
        return json.loads(p.stdout)["valid"]

    def jwks(self):
        r = self.http.get("/jwks")
        self.assertEqual(r.status, 200, r)
        return r.json()


# ====================================================================== admin routes


class S01ScenarioRoutes(ScenCase):
    """GET/POST/DELETE /admin/scenarios: the table, the queue, refusals."""

    def test_list_is_the_table_and_documented(self):
        r = self.admin.get("/admin/scenarios", headers=self.ah(False))
        self.assertEqual(r.status, 200, r)
        body = r.json()
        names = [s["name"] for s in body["scenarios"]]
        self.assertEqual(len(names), len(set(names)))
        self.assertGreaterEqual(len(names), 39)
        with open(DOC, encoding="utf-8") as f:
            doc = f.read()
        for s in body["scenarios"]:
            self.assertIn("`%s`" % s["name"], doc, "docs/scenarios.md lacks " + s["name"])
            self.assertIn(s["stage"], ("authorize", "code", "id_token", "token", "userinfo", "jwks", "refresh"))
            self.assertTrue(s["description"])
            self.assertEqual(s["takes_delay"], s["name"] in ("token_delay", "jwks_slow"))
        # the list, at least
        for n in ["authorize_access_denied", "authorize_server_error", "authorize_temporarily_unavailable",
                  "authorize_invalid_scope", "authorize_state_missing", "authorize_state_changed",
                  "authorize_iss_missing", "authorize_iss_wrong", "authorize_code_missing",
                  "id_token_bad_signature", "id_token_alg_none", "id_token_wrong_iss", "id_token_wrong_aud",
                  "id_token_missing_aud", "id_token_extra_aud", "id_token_expired", "id_token_iat_week_old",
                  "id_token_missing_sub", "id_token_wrong_nonce", "id_token_missing_nonce",
                  "id_token_unknown_kid", "id_token_key_rotated", "token_invalid_grant",
                  "token_invalid_client", "token_server_error", "token_delay", "token_malformed_json",
                  "token_type_uppercase", "token_no_expires_in", "code_expired", "userinfo_wrong_sub",
                  "userinfo_unauthorized", "jwks_error", "jwks_slow"]:
            self.assertIn(n, names)
        self.assertEqual(body["queued"], [])

    def test_queue_list_and_delete(self):
        e1 = self.queue("token_invalid_grant", client="it-basic", times=3)
        self.assertEqual((e1["stage"], e1["client"], e1["user"], e1["times"], e1["remaining"], e1["applied"]),
                         ("token", "it-basic", None, 3, 3, 0))
        self.assertNotIn("delay_ms", e1)
        e2 = self.queue("token_delay", user="alice", delay_ms=10, times=0)
        self.assertEqual((e2["delay_ms"], e2["times"]), (10, 0))
        e3 = self.queue("jwks_slow")
        self.assertEqual(e3["delay_ms"], 2000, "the default delay")
        self.assertEqual([q["id"] for q in self.queued()], [e1["id"], e2["id"], e3["id"]])
        r = self.admin.request("DELETE", "/admin/scenarios", query={"id": e2["id"]}, headers=self.ah(False))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"cleared": 1})
        self.assertEqual([q["id"] for q in self.queued()], [e1["id"], e3["id"]])
        r = self.admin.request("DELETE", "/admin/scenarios", query={"id": e2["id"]}, headers=self.ah(False))
        self.assertAdminError(r, 404, "not_found", "id:")
        r = self.admin.request("DELETE", "/admin/scenarios", query={"idx": "1"}, headers=self.ah(False))
        self.assertAdminError(r, 400, starts="idx: unknown query parameter")
        self.assertEqual(self.clear(), 2)
        self.assertEqual(self.queued(), [])

    def test_unknown_scenario_400_names_it(self):
        r = self.queue_raw({"name": "id_token_bad_sig"})
        d = self.assertAdminError(r, 400, starts="name: unknown scenario")
        self.assertIn('"id_token_bad_sig"', d)
        self.assertEqual(self.queued(), [])

    def test_refused_requests(self):
        cases = [
            ({}, "name:"),
            ({"name": 3}, "name:"),
            ({"name": "jwks_error", "extra": 1}, "extra: unknown member"),
            ({"name": "token_invalid_grant", "client": "no-such-client"}, "client: names no configured client"),
            ({"name": "token_invalid_grant", "client": ""}, "client:"),
            ({"name": "token_invalid_grant", "client": 5}, "client:"),
            ({"name": "token_invalid_grant", "user": "mallory"}, "user: names no configured user"),
            ({"name": "token_invalid_grant", "times": -1}, "times:"),
            ({"name": "token_invalid_grant", "times": 1.5}, "times:"),
            ({"name": "token_invalid_grant", "times": "2"}, "times:"),
            ({"name": "token_invalid_grant", "delay_ms": 100}, "delay_ms: token_invalid_grant takes no delay"),
            ({"name": "token_delay", "delay_ms": 10001}, "delay_ms: at most 10000"),
            ({"name": "jwks_error", "client": "it-basic"}, "client: jwks_error applies to GET /jwks"),
            ({"name": "jwks_slow", "user": "alice"}, "user: jwks_slow applies to GET /jwks"),
        ]
        for body, starts in cases:
            with self.subTest(body=body):
                self.assertAdminError(self.queue_raw(body), 400, starts=starts)
        self.assertAdminError(self.queue_raw("[]"), 400, starts="body: expected a JSON object")
        self.assertAdminError(self.queue_raw("{"), 400, starts="body: not JSON")
        self.assertAdminError(self.queue_raw('{"name": "jwks_error", "name": "jwks_slow"}'), 400,
                              starts="body: not JSON")
        r = self.queue_raw({"name": "jwks_error"}, headers={"Authorization": "Bearer " + SECRET,
                                                            "Content-Type": "text/plain"})
        self.assertAdminError(r, 415)
        self.assertEqual(self.queued(), [])

    def test_secret_and_methods(self):
        for method, path in [("GET", "/admin/scenarios"), ("POST", "/admin/scenarios"),
                             ("DELETE", "/admin/scenarios"), ("GET", "/admin/ledger"),
                             ("DELETE", "/admin/ledger")]:
            with self.subTest(method=method, path=path):
                r = self.admin.request(method, path, body=b'{"name": "jwks_error"}' if method == "POST" else None,
                                       headers={"Content-Type": "application/json"})
                self.assertEqual(r.status, 401, r)
        self.assertEqual(self.queued(), [])
        r = self.admin.request("PUT", "/admin/scenarios", headers=self.ah(False))
        self.assertAdminError(r, 405)
        self.assertEqual(r.header("Allow"), "GET, POST, DELETE")
        r = self.admin.request("POST", "/admin/ledger", body=b"{}", headers=self.ah())
        self.assertAdminError(r, 405)
        self.assertEqual(r.header("Allow"), "GET, DELETE")
        r = self.admin.request("DELETE", "/admin/tokens", headers=self.ah(False))
        self.assertEqual(r.header("Allow"), "POST")

    def test_not_on_the_provider_port(self):
        for method, path in [("GET", "/admin/scenarios"), ("POST", "/admin/scenarios"), ("GET", "/admin/ledger")]:
            r = self.http.request(method, path, body=b'{"name":"jwks_error"}' if method == "POST" else None,
                                  headers=self.ah())
            self.assertEqual(r.status, 404, r)


# ====================================================================== authorize


class S02AuthorizeScenarios(ScenCase):
    """The authorization response (RFC 6749 §4.1.2, RFC 9207)."""

    def test_error_scenarios(self):
        for name, error in AUTHZ_ERRORS.items():
            with self.subTest(name=name):
                self.queue(name)
                r, ctx, q = self.flow()
                p = self.assertAuthzError(r, ctx, error)
                self.assertEqual(p["error_description"], ["authflow scenario " + name])
                # the next login is good again
                _, _, q = self.flow()
                self.assertIn("code", q)

    def test_error_in_fragment_mode(self):
        self.queue("authorize_access_denied")
        r, ctx = self.authorize("it-basic", extra=[("response_mode", "fragment")])
        self.assertAuthzError(r, ctx, "access_denied", mode="fragment")

    def test_state_missing(self):
        self.queue("authorize_state_missing")
        r, ctx, q = self.flow()
        self.assertIn("code", q)
        self.assertNotIn("state", q)
        self.assertEqual(q["iss"], [self.issuer])
        # the code itself is good
        ctx["code"] = q["code"][0]
        self.assertEqual(self.redeem(ctx).status, 200)

    def test_state_changed(self):
        self.queue("authorize_state_changed")
        r, ctx, q = self.flow(state="st-abc")
        self.assertEqual(q["state"], ["st-abc.authflow-changed"])
        self.assertIn("code", q)
        self.queue("authorize_state_changed")
        r, ctx, q = self.flow(state=None)
        self.assertEqual(q["state"], ["authflow-unsolicited-state"])

    def test_iss_missing_and_wrong(self):
        self.assertIs(self.disco["authorization_response_iss_parameter_supported"], True)
        self.queue("authorize_iss_missing")
        r, ctx, q = self.flow()
        self.assertNotIn("iss", q)
        self.assertEqual(q["state"], [ctx["state"]])
        self.assertIn("code", q)
        self.queue("authorize_iss_wrong")
        r, ctx, q = self.flow()
        self.assertEqual(q["iss"], [self.issuer + "/wrong-issuer"])
        self.assertIn("code", q)

    def test_scope_declined(self):
        """The code grants openid and the first other scope asked for; the
        token answer says so, and userinfo releases no declined claim."""
        self.queue("authorize_scope_declined")
        ctx = self.code_flow(scope="openid profile email")
        r = self.redeem(ctx)
        self.assertEqual(r.status, 200, r)
        tok = r.json()
        self.assertEqual(tok["scope"], "openid profile")
        _, claims, _ = ts.jwt_parts(tok["access_token"])
        self.assertEqual(claims["scope"], "openid profile")
        ui = self.userinfo(tok["access_token"]).json()
        self.assertNotIn("email", ui, "email was declined")
        # the next login gets what it asks for
        tok = self.redeem(self.code_flow(scope="openid profile email")).json()
        self.assertEqual(tok["scope"], "openid profile email")

    def test_code_missing(self):
        c = self.cursor()
        self.queue("authorize_code_missing")
        r, ctx, q = self.flow()
        self.assertNotIn("code", q)
        self.assertNotIn("error", q)
        self.assertEqual(q["state"], [ctx["state"]])
        self.assertEqual(q["iss"], [self.issuer])
        e = self.ledger(since=c, path="/authorize")["entries"]
        self.assertEqual(e[-1]["scenario"], "authorize_code_missing")


# ====================================================================== code, token


class S03CodeAndToken(ScenCase):
    """code_expired and the token endpoint's scenarios (RFC 6749 §5)."""

    def test_code_expired(self):
        self.queue("code_expired")
        ctx = self.code_flow()
        r = self.redeem(ctx)
        self.assertTokenError(r, 400, "invalid_grant")
        self.assertIn("expired", r.json()["error_description"])
        self.assertTokenError(self.redeem(ctx), 400, "invalid_grant")

    def test_invalid_grant_uses_the_code(self):
        self.queue("token_invalid_grant")
        ctx = self.code_flow()
        r = self.redeem(ctx)
        self.assertTokenError(r, 400, "invalid_grant")
        self.assertEqual(r.json()["error_description"], "authflow scenario token_invalid_grant")
        # the code was used up: a retry is refused as a reuse
        self.assertTokenError(self.redeem(ctx), 400, "invalid_grant")

    def test_invalid_client(self):
        self.queue("token_invalid_client")
        r = self.redeem(self.code_flow())
        self.assertTokenError(r, 401, "invalid_client")
        self.assertEqual(r.header("WWW-Authenticate"), 'Basic realm="authflow"')

    def test_server_error(self):
        self.queue("token_server_error")
        r = self.redeem(self.code_flow())
        self.assertTokenError(r, 500, "server_error")

    def test_real_errors_come_first(self):
        """A scenario changes the answer to a valid request only."""
        self.queue("token_server_error")
        ctx = self.code_flow()
        r = self.redeem(ctx, send_verifier=False)
        self.assertTokenError(r, 400, "invalid_grant")

    def test_malformed_json(self):
        self.queue("token_malformed_json")
        r = self.redeem(self.code_flow())
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith("application/json"))
        self.assertTrue(r.body.startswith(b'{"access_token":'), r)
        with self.assertRaises(ValueError):
            json.loads(r.body)

    def test_token_type_uppercase_and_no_expires_in(self):
        self.queue("token_type_uppercase")
        tok = self.tokens()
        self.assertEqual(tok["token_type"], "BEARER")
        self.assertIn("expires_in", tok)
        self.assertEqual(self.userinfo(tok["access_token"]).status, 200, "the tokens are good")
        self.queue("token_no_expires_in")
        tok = self.tokens()
        self.assertNotIn("expires_in", tok)
        self.assertEqual(tok["token_type"], "Bearer")

    def test_delay(self):
        self.queue("token_delay", delay_ms=700)
        ctx = self.code_flow()
        t0 = time.monotonic()
        r = self.redeem(ctx)
        took = time.monotonic() - t0
        self.assertEqual(r.status, 200, r)
        self.assertGreaterEqual(took, 0.65)
        self.assertLess(took, 5)
        t0 = time.monotonic()
        self.assertEqual(self.redeem(self.code_flow()).status, 200)
        self.assertLess(time.monotonic() - t0, 0.6, "only once")

    def test_grant_without_flow_takes_the_queue(self):
        """client_credentials has no /authorize: the /token request takes it."""
        self.queue("token_invalid_grant", client="it-other")
        r = self.client_credentials("it-cc")
        self.assertEqual(r.status, 200, "another client's scenario stays queued")
        r = self.client_credentials("it-other")
        self.assertTokenError(r, 400, "invalid_grant")
        self.assertEqual(self.client_credentials("it-other").status, 200)

    def test_queued_after_authorize(self):
        """A code issued before the scenario was queued: /token takes it."""
        ctx = self.code_flow()
        self.queue("token_server_error")
        self.assertTokenError(self.redeem(ctx), 500, "server_error")

    def refresh(self, rt, cid="it-basic"):
        return self.token(cid, [("grant_type", "refresh_token"), ("refresh_token", rt)])

    def test_refresh_token_expired_and_grant_revoked(self):
        """Refresh stage: the next refresh_token grant is refused and its
        grant ends, the access token of the grant with it; the login before
        it and other grants are untouched."""
        for name, words in (("refresh_token_expired", "has expired"),
                            ("grant_revoked", "revoked the app's access")):
            with self.subTest(scenario=name):
                other = self.tokens()
                tok = self.tokens()
                self.assertEqual(self.userinfo(tok["access_token"]).status, 200)
                self.queue(name, client="it-basic")
                self.assertEqual(self.queued()[0]["stage"], "refresh")
                # a login does not take it (no flow stage)
                self.assertEqual(self.redeem(self.code_flow()).status, 200)
                r = self.refresh(tok["refresh_token"])
                self.assertTokenError(r, 400, "invalid_grant")
                self.assertEqual(r.json()["error_description"], "the %s (authflow scenario %s)" % (
                    "refresh token has expired" if name == "refresh_token_expired"
                    else "user revoked the app's access to the account", name))
                self.assertIn(words, r.json()["error_description"])
                self.assertEqual(self.queued(), [])
                # the grant ended: a retry and the access token are refused
                self.assertTokenError(self.refresh(tok["refresh_token"]), 400, "invalid_grant")
                self.assertEqual(self.userinfo(tok["access_token"]).status, 401)
                # another grant of the same client and user lives on
                self.assertEqual(self.refresh(other["refresh_token"]).status, 200)

    def test_refresh_scenario_after_real_errors(self):
        """An unknown refresh token is refused as such; the scenario waits."""
        self.queue("grant_revoked", client="it-basic")
        self.assertTokenError(self.refresh("not-a-refresh-token"), 400, "invalid_grant")
        self.assertEqual(len(self.queued()), 1)
        self.assertTokenError(self.refresh(self.tokens()["refresh_token"]), 400, "invalid_grant")
        self.assertEqual(self.queued(), [])

    def test_refresh_takes_the_queue(self):
        tok = self.tokens()
        self.queue("token_type_uppercase", client="it-basic")
        r = self.token("it-basic", [("grant_type", "refresh_token"), ("refresh_token", tok["refresh_token"])])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["token_type"], "BEARER")


# ====================================================================== ID token


class S04IdTokenScenarios(ScenCase):
    """Each ID token scenario breaks exactly what it says (OIDC Core §3.1.3.7)."""

    def good_keys(self):
        return self.jwks()

    def assertSignatureValid(self, token, valid=True, jwks=None):
        self.assertEqual(self.node_verify(token, jwks or self.jwks()), valid)

    def test_control(self):
        tok = self.tokens()
        h, c, _ = jwt_parts(tok["id_token"])
        self.assertEqual((c["iss"], c["aud"], c["sub"], c["nonce"]),
                         (self.issuer, "it-basic", "u-alice", tok["_ctx"]["nonce"]))
        self.assertSignatureValid(tok["id_token"])

    def test_bad_signature(self):
        h, c, t, tok = self.id_token("id_token_bad_signature")
        self.assertEqual(c["iss"], self.issuer)
        self.assertEqual(h["kid"], self.jwks()["keys"][0]["kid"])
        self.assertSignatureValid(t, False)
        # the rest of the answer is good
        self.assertEqual(self.userinfo(tok["access_token"]).status, 200)
        self.assertEqual(c["at_hash"], ts.at_hash(tok["access_token"], h["alg"]))

    def test_alg_none(self):
        h, c, t, _ = self.id_token("id_token_alg_none")
        self.assertEqual(h["alg"], "none")
        self.assertNotIn("kid", h)
        self.assertTrue(t.endswith("."), "empty signature")
        self.assertEqual(c["sub"], "u-alice")

    def test_claim_defects(self):
        now = int(time.time())
        cases = {
            "id_token_wrong_iss": lambda c, ctx: self.assertEqual(c["iss"], self.issuer + "/wrong-issuer"),
            "id_token_wrong_aud": lambda c, ctx: self.assertEqual(c["aud"], "urn:authflow:wrong-audience"),
            "id_token_missing_aud": lambda c, ctx: self.assertNotIn("aud", c),
            "id_token_extra_aud": lambda c, ctx: (
                self.assertEqual(c["aud"], ["it-basic", "urn:authflow:untrusted-audience"]),
                self.assertEqual(c["azp"], "it-basic")),
            "id_token_expired": lambda c, ctx: (self.assertLess(c["exp"], now - 3000),
                                                self.assertLess(c["iat"], c["exp"])),
            "id_token_iat_week_old": lambda c, ctx: (self.assertLessEqual(c["iat"], now - 7 * 86400 + 5),
                                                     self.assertGreater(c["exp"], now)),
            "id_token_missing_iat": lambda c, ctx: self.assertNotIn("iat", c),
            "id_token_missing_sub": lambda c, ctx: self.assertNotIn("sub", c),
            "id_token_wrong_nonce": lambda c, ctx: (self.assertEqual(c["nonce"], "authflow-wrong-nonce"),
                                                    self.assertNotEqual(ctx["nonce"], c["nonce"])),
            "id_token_missing_nonce": lambda c, ctx: self.assertNotIn("nonce", c),
        }
        for name, check in cases.items():
            with self.subTest(name=name):
                h, c, t, tok = self.id_token(name)
                check(c, tok["_ctx"])
                # only the claims changed: the signature over them is good
                if ts.find_node() is not None:
                    self.assertSignatureValid(t)

    def test_unknown_kid(self):
        h, c, t, _ = self.id_token("id_token_unknown_kid")
        kids = [k["kid"] for k in self.jwks()["keys"]]
        self.assertNotIn(h["kid"], kids)
        self.assertEqual(h["alg"], self.jwks()["keys"][0]["alg"])
        self.assertSignatureValid(t, False)

    def test_key_rotated(self):
        before = self.jwks()
        tag0 = self.http.get("/jwks").header("ETag")
        h, c, t, _ = self.id_token("id_token_key_rotated")
        self.assertNotIn(h["kid"], [k["kid"] for k in before["keys"]], "a cached key set lacks it")
        # a client revalidating its cached set gets the new one, new ETag
        r = self.http.get("/jwks", headers={"If-None-Match": tag0})
        self.assertEqual(r.status, 200, r)
        tag1 = r.header("ETag")
        self.assertNotEqual(tag1, tag0)
        self.assertIn(h["kid"], [k["kid"] for k in r.json()["keys"]])
        self.assertEqual(self.http.get("/jwks", headers={"If-None-Match": tag1}).status, 304)
        after = self.jwks()
        self.assertIn(h["kid"], [k["kid"] for k in after["keys"]], "published once the token exists")
        self.assertEqual(len(after["keys"]), len(before["keys"]) + 1)
        self.assertSignatureValid(t, False, jwks=before)
        self.assertSignatureValid(t, True, jwks=after)
        # a second rotation replaces the first rotated key
        h2, _, t2, _ = self.id_token("id_token_key_rotated")
        again = self.jwks()
        kids = [k["kid"] for k in again["keys"]]
        self.assertIn(h2["kid"], kids)
        self.assertNotIn(h["kid"], kids)
        self.assertEqual(len(again["keys"]), len(before["keys"]) + 1)
        # ordinary tokens still come from keys[0]
        tok = self.tokens()
        self.assertEqual(jwt_parts(tok["id_token"])[0]["kid"], before["keys"][0]["kid"])
        self.assertNotIn(self.http.get("/jwks").header("ETag"), (tag0, tag1))
        # clearing the scenarios withdraws the rotated key: the configured
        # set again, byte for byte, so its ETag is the first one
        self.clear()
        self.assertEqual(self.jwks(), before)
        self.assertEqual(self.http.get("/jwks", headers={"If-None-Match": tag0}).status, 304)

    def test_no_kid(self):
        h, c, t, _ = self.id_token("id_token_no_kid")
        self.assertNotIn("kid", h)
        jwks = self.jwks()
        only = {"keys": [k for k in jwks["keys"] if k.get("alg") == h["alg"]]}
        self.assertEqual(len(only["keys"]), 1)
        self.assertSignatureValid(t, True, jwks=only)

    def test_no_kid_decoy(self):
        before = self.jwks()
        h, c, t, _ = self.id_token("id_token_no_kid_decoy")
        self.assertNotIn("kid", h)
        after = self.jwks()
        self.assertEqual(len(after["keys"]), len(before["keys"]) + 1)
        self.assertEqual(after["keys"][:-1], before["keys"], "the decoy comes after the other keys")
        decoy = after["keys"][-1]
        fit = [k for k in after["keys"] if k.get("alg") == h["alg"]]
        self.assertGreaterEqual(len(fit), 2, "two published keys fit the token's alg")
        # signed by the signing key, not by the decoy
        self.assertSignatureValid(t, True, jwks={"keys": [k for k in fit if k is not decoy]})
        self.assertSignatureValid(t, False, jwks={"keys": [decoy]})
        # clearing the scenarios withdraws the decoy
        self.clear()
        self.assertEqual(self.jwks(), before)

    def test_no_openid_no_id_token_scenario_taken(self):
        """A flow without openid (no ID token) leaves the scenario queued."""
        self.queue("id_token_missing_sub", client="it-basic")
        ctx = self.code_flow(scope="profile")
        self.assertEqual(len(self.queued()), 1)
        r = self.redeem(ctx)
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("id_token", r.json())
        self.assertEqual(len(self.queued()), 1)
        h, c, _, _ = self.id_token("id_token_no_kid")  # queued after the first one
        self.assertNotIn("sub", c, "the first queued is taken by the next openid flow")
        self.assertIn("kid", h)


# ====================================================================== userinfo, jwks


class S05UserinfoAndJwks(ScenCase):

    def test_userinfo_wrong_sub(self):
        self.queue("userinfo_wrong_sub")
        tok = self.tokens()
        sub = jwt_parts(tok["id_token"])[1]["sub"]
        r = self.userinfo(tok["access_token"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["sub"], "authflow-other-subject")
        self.assertNotEqual(r.json()["sub"], sub)
        # bound to that flow's token: every call with it sees the wrong sub
        self.assertEqual(self.userinfo(tok["access_token"]).json()["sub"], "authflow-other-subject")
        self.assertEqual(self.userinfo(self.tokens()["access_token"]).json()["sub"], sub)

    def test_userinfo_unauthorized(self):
        tok = self.tokens()
        self.queue("userinfo_unauthorized", client="it-basic")
        r = self.userinfo(tok["access_token"])
        self.assertEqual(r.status, 401, r)
        self.assertIn('error="invalid_token"', r.header("WWW-Authenticate"))
        self.assertEqual(self.userinfo(tok["access_token"]).status, 200, "once")

    def test_jwks_error_and_slow(self):
        etag = self.http.get("/jwks").header("ETag")
        self.queue("jwks_error", times=2)
        for inm in ({}, {"If-None-Match": etag}):
            # the scenario answers before any conditional GET, without an ETag
            r = self.http.get("/jwks", headers=inm)
            self.assertEqual(r.status, 500, r)
            self.assertEqual(r.json()["error"], "server_error")
            self.assertIsNone(r.header("ETag"))
        self.assertEqual(self.http.get("/jwks").status, 200)
        self.queue("jwks_slow", delay_ms=600)
        t0 = time.monotonic()
        r = self.http.get("/jwks")
        self.assertGreaterEqual(time.monotonic() - t0, 0.55)
        self.assertEqual(r.status, 200)
        self.assertIn("keys", r.json())


# ====================================================================== selection


class S06Selection(ScenCase):
    """Client and user binding, times, order, login_hint."""

    def test_client_binding(self):
        self.queue("authorize_access_denied", client="it-other")
        _, _, q = self.flow("it-basic")
        self.assertIn("code", q)
        r, ctx, q = self.flow("it-other", scope="openid")
        self.assertAuthzError(r, ctx, "access_denied")

    def test_user_binding_by_username_and_sub(self):
        for who in ("bob", "u-bob"):
            with self.subTest(user=who):
                self.queue("authorize_access_denied", user=who)
                _, _, q = self.flow(extra=[("login_hint", "alice")])
                self.assertIn("code", q)
                r, ctx, q = self.flow(extra=[("login_hint", "bob")])
                self.assertAuthzError(r, ctx, "access_denied")

    def test_times(self):
        self.queue("authorize_iss_missing", times=2)
        for _ in range(2):
            self.assertNotIn("iss", self.flow()[2])
        self.assertIn("iss", self.flow()[2])
        e = self.queue("authorize_iss_missing", times=0)
        for _ in range(4):
            self.assertNotIn("iss", self.flow()[2])
        q = self.queued()
        self.assertEqual((q[0]["id"], q[0]["applied"], q[0]["remaining"]), (e["id"], 4, 0))
        self.clear()
        self.assertIn("iss", self.flow()[2])

    def test_first_queued_first_taken_one_per_flow(self):
        self.queue("authorize_iss_missing")
        self.queue("authorize_state_missing")
        q1 = self.flow()[2]
        self.assertNotIn("iss", q1)
        self.assertIn("state", q1)
        q2 = self.flow()[2]
        self.assertIn("iss", q2)
        self.assertNotIn("state", q2)

    def test_bound_at_authorize(self):
        """Queued before the login, carried by the code even once cleared."""
        self.queue("token_type_uppercase")
        ctx = self.code_flow()
        self.assertEqual(self.queued(), [], "taken by the authorization")
        self.clear()
        r = self.redeem(ctx)
        self.assertEqual(r.json()["token_type"], "BEARER")

    def test_login_hint(self):
        for hint in ("alice+id_token_wrong_nonce", "alice id_token_wrong_nonce", "u-bob+id_token_wrong_nonce",
                     "+id_token_wrong_nonce"):
            with self.subTest(hint=hint):
                tok = self.tokens(extra=[("login_hint", hint)])
                c = jwt_parts(tok["id_token"])[1]
                self.assertEqual(c["nonce"], "authflow-wrong-nonce")
                want = "u-bob" if hint.startswith("u-bob") else "u-alice"
                self.assertEqual(c["sub"], want)
                # one flow only
                self.assertEqual(jwt_parts(self.tokens()["id_token"])[1]["nonce"], self.last_nonce())

    def last_nonce(self):
        e = self.ledger(path="/authorize")["entries"][-1]
        return e["query"]["nonce"]

    def test_login_hint_leaves_the_queue(self):
        self.queue("authorize_iss_missing")
        self.assertIn("iss", self.flow(extra=[("login_hint", "alice+authorize_state_missing")])[2])
        self.assertNotIn("iss", self.flow()[2])

    def test_login_hint_errors(self):
        r, ctx = self.authorize("it-basic", extra=[("login_hint", "alice+no_such_scenario")])
        p = self.assertAuthzError(r, ctx, "invalid_request")
        self.assertIn("unknown scenario no_such_scenario", p["error_description"][0])
        r, ctx = self.authorize("it-basic", extra=[("login_hint", "mallory+authorize_access_denied")])
        p = self.assertAuthzError(r, ctx, "invalid_request")
        self.assertIn("names no configured user", p["error_description"][0])

    def test_login_hint_in_the_raw_query(self):
        """A literal + in a query string (a space once decoded) works too."""
        r = self.http.get("/authorize?response_type=code&client_id=it-nopkce&scope=openid"
                          "&state=s1&login_hint=bob+authorize_access_denied")
        _, q, _ = split_location(r.location)
        self.assertEqual(q["error"], ["access_denied"])


class S07ConfigPreload(ScenCase):
    """"scenarios" in the config fills the queue at start."""

    extra_config = {"scenarios": [
        {"name": "token_type_uppercase", "client": "it-other", "times": 0},
        {"name": "jwks_error"},
        {"name": "jwks_slow", "delay_ms": 300},
    ]}

    def setUp(self):
        self.assertTrue(self.daemon.alive())  # no clear(): the preload is the subject

    def test_preloaded(self):
        q = self.queued()
        self.assertEqual([e["name"] for e in q], ["token_type_uppercase", "jwks_error", "jwks_slow"])
        self.assertEqual(q[2]["delay_ms"], 300)
        self.assertEqual(self.http.get("/jwks").status, 500)
        t0 = time.monotonic()
        self.assertEqual(self.http.get("/jwks").status, 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.25)
        self.assertEqual(self.http.get("/jwks").status, 200)
        for _ in range(2):
            self.assertEqual(self.tokens("it-other", scope="openid")["token_type"], "BEARER")
        self.assertEqual(self.tokens("it-basic")["token_type"], "Bearer")


class S08ConfigRefused(unittest.TestCase):
    """An unknown scenario name in the config is a config error (exit 2)."""

    def test_unknown_name(self):
        tmp = tempfile.mkdtemp(prefix="af-it-scen-")
        try:
            cfg = ts.base_config()
            cfg["scenarios"] = [{"name": "jwks_error"}, {"name": "jwks_eror"}]
            path = os.path.join(tmp, "bad.json")
            with open(path, "w") as f:
                json.dump(cfg, f)
            for extra in (["--check-config"], ["--listen", "127.0.0.1:0"]):
                with self.subTest(args=extra):
                    p = subprocess.run([ts.find_authflowd(), "--config", path] + extra, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, timeout=30)
                    self.assertEqual(p.returncode, 2, p)
                    err = p.stderr.decode()
                    self.assertIn("scenarios[1].name: unknown scenario \"jwks_eror\"", err)
                    self.assertIn(path, err)
            cfg["scenarios"] = [{"name": "jwks_error", "client": "it-basic"}]
            with open(path, "w") as f:
                json.dump(cfg, f)
            p = subprocess.run([ts.find_authflowd(), "--config", path, "--check-config"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=30)
            self.assertEqual(p.returncode, 2, p)
            self.assertIn("scenarios[0].client: jwks_error applies to GET /jwks", p.stderr.decode())
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


# ====================================================================== ledger


class S09Ledger(ScenCase):
    """What the ledger records, and that no secret is ever in it."""

    def entries(self, since, **q):
        return self.ledger(since=since, **q)["entries"]

    def test_a_login_recorded(self):
        c = self.cursor()
        tok = self.tokens()
        self.userinfo(tok["access_token"])
        e = self.entries(c)
        self.assertEqual([x["path"] for x in e], ["/authorize", "/token", "/userinfo"])
        a, t, u = e
        self.assertEqual([x["seq"] for x in e], [c + 1, c + 2, c + 3])
        self.assertEqual((a["method"], a["status"], a["client_id"], a["sub"], a["client_auth"]),
                         ("GET", 302, "it-basic", "u-alice", None))
        self.assertEqual(a["pkce"], {"sent": True, "method": "S256", "verified": None})
        self.assertEqual(a["query"]["state"], tok["_ctx"]["state"])
        self.assertEqual((t["method"], t["status"], t["client_auth"], t["client_id"], t["error"]),
                         ("POST", 200, "client_secret_basic", "it-basic", None))
        self.assertEqual(t["pkce"], {"sent": True, "method": "S256", "verified": True})
        self.assertEqual(t["form"]["redirect_uri"], tok["_ctx"]["redirect_uri"])
        self.assertEqual(t["form"]["code_verifier"], "[64 chars]")
        self.assertTrue(t["form"]["code"].startswith(tok["_ctx"]["code"][:8] + "...("))
        self.assertEqual(t["headers"]["authorization"], "Basic [redacted]")
        self.assertEqual(t["headers"]["content-type"], "application/x-www-form-urlencoded")
        self.assertEqual((u["bearer"], u["client_id"], u["sub"], u["status"]), ("header", "it-basic", "u-alice", 200))
        self.assertTrue(u["headers"]["authorization"].startswith("Bearer " + tok["access_token"][:8] + "...("))
        for x in e:
            self.assertRegex(x["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertIsNone(x["scenario"])

    def test_no_secret_ever(self):
        c = self.cursor()
        secrets_seen = []
        # client_secret_post, a code_verifier, a code
        ctx = self.code_flow("it-post", scope="openid")
        secrets_seen += [self.client("it-post")["client_secret"], ctx["verifier"], ctx["code"]]
        r = self.redeem(ctx)
        self.assertEqual(r.status, 200, r)
        tok = r.json()
        secrets_seen += [tok["access_token"], tok["id_token"], tok["refresh_token"]]
        # a refresh, an introspection, a revocation, /userinfo, logout with a hint
        r = self.token("it-post", [("grant_type", "refresh_token"), ("refresh_token", tok["refresh_token"])])
        secrets_seen.append(r.json()["refresh_token"])
        self.introspect(tok["access_token"])
        self.userinfo(tok["access_token"])
        self.http.get("/userinfo", query={"access_token": tok["access_token"]})
        self.http.get("/logout", query={"id_token_hint": tok["id_token"]})
        # the password grant, Basic credentials
        u = self.user_with_password()
        self.token("it-pw", [("grant_type", "password"), ("username", u["username"]), ("password", u["password"])])
        secrets_seen += [u["password"], self.client("it-pw")["client_secret"],
                         ts.basic_auth("it-pw", self.client("it-pw")["client_secret"]).split()[1]]
        # a secret in the URL, and on the login form
        self.http.post("/token", [("grant_type", "client_credentials")],
                       query={"client_id": "it-cc", "client_secret": self.client("it-cc")["client_secret"]})
        secrets_seen.append(self.client("it-cc")["client_secret"])
        r = self.ledger_raw(since=c)
        text = r.body.decode("utf-8")
        self.assertEqual(len(r.json()["entries"]), 9)
        for s in secrets_seen:
            self.assertGreater(len(s), 8)
            self.assertNotIn(s, text)
            self.assertNotIn(urllib.parse.quote(s, safe=""), text)
        e = self.entries(c, path="/token", client_id="it-cc")[-1]
        self.assertEqual((e["client_auth"], e["status"], e["error"]), ("secret_in_query", 400, "invalid_request"))
        self.assertEqual(e["query"]["client_secret"], "[redacted %d chars]" % len(self.client("it-cc")["client_secret"]))
        e = self.entries(c, path="/userinfo")
        self.assertEqual([x["bearer"] for x in e], ["header", "query"])
        e = self.entries(c, path="/token", client_id="it-pw")[-1]
        self.assertEqual(e["form"]["password"], "[redacted %d chars]" % len(u["password"]))
        e = self.entries(c, path="/token", client_id="it-post")[0]
        self.assertEqual(e["client_auth"], "client_secret_post")

    def test_pkce_facts(self):
        c = self.cursor()
        ctx = self.code_flow()
        self.redeem(ctx, extra=[], send_verifier=False)
        ctx = self.code_flow()
        ctx["verifier"] = ts.new_verifier()
        self.redeem(ctx)
        ctx = self.code_flow("it-nopkce", scope="openid", pkce=None, redirect_uri=None)
        self.redeem(ctx)
        e = self.entries(c, path="/token")
        self.assertEqual(e[0]["pkce"], {"sent": False, "method": "S256", "verified": False})
        self.assertEqual(e[1]["pkce"], {"sent": True, "method": "S256", "verified": False})
        self.assertEqual(e[2]["pkce"], {"sent": False, "method": None, "verified": None})
        self.assertEqual([x["status"] for x in e], [400, 400, 200])

    def test_scenarios_and_errors_recorded(self):
        c = self.cursor()
        self.queue("authorize_access_denied")
        self.flow()
        self.queue("token_delay", delay_ms=50)
        self.redeem(self.code_flow())
        self.http.get("/no-such-path")
        self.http.request("DELETE", "/token")
        e = self.entries(c)
        self.assertEqual((e[0]["scenario"], e[0]["error"], e[0]["status"]),
                         ("authorize_access_denied", "access_denied", 302))
        self.assertEqual(e[1]["scenario"], "token_delay")  # bound at /authorize
        self.assertEqual((e[2]["scenario"], e[2]["delay_ms"], e[2]["status"]), ("token_delay", 50, 200))
        self.assertEqual((e[3]["path"], e[3]["status"]), ("/no-such-path", 404))
        self.assertEqual((e[4]["method"], e[4]["status"]), ("DELETE", 405))

    def test_error_of_each_answer(self):
        """error is the one the answer carried, however it was delivered:
        a JSON body, a redirect's query or fragment, a form_post page;
        none for a success or an HTML error page."""
        c = self.cursor()
        for mode in ("query", "fragment", "form_post"):
            r, _ = self.authorize("it-basic", scope="openid admin", extra=[("response_mode", mode)])
            self.assertEqual(r.status, 200 if mode == "form_post" else 302, r)
        self.authorize("it-basic", redirect_uri="https://evil.example/cb")
        self.token("it-basic", [("grant_type", "authorization_code"), ("code", "no-such-code")])
        self.flow()
        e = self.entries(c)
        self.assertEqual([(x["path"], x["status"], x["error"]) for x in e],
                         [("/authorize", 302, "invalid_scope"), ("/authorize", 302, "invalid_scope"),
                          ("/authorize", 200, "invalid_scope"), ("/authorize", 400, None),
                          ("/token", 400, "invalid_grant"), ("/authorize", 302, None)])

    def test_cursor_filters_limit(self):
        c = self.cursor()
        ctx1 = self.code_flow()
        self.redeem(ctx1)
        ctx2 = self.code_flow("it-other", scope="openid")
        self.redeem(ctx2)
        all_ = self.ledger(since=c)
        self.assertEqual(all_["count"], 4)
        self.assertEqual(all_["next"], c + 4)
        self.assertEqual(all_["dropped"], 0)
        self.assertEqual(self.ledger(since=all_["next"])["entries"], [])
        self.assertEqual([x["client_id"] for x in self.entries(c, path="/token")], ["it-basic", "it-other"])
        self.assertEqual(len(self.entries(c, method="GET")), 2)
        self.assertEqual(len(self.entries(c, client="it-other")), 2)
        self.assertEqual(len(self.entries(c, client_id="it-other", path="/token", method="POST")), 1)
        self.assertEqual(self.entries(c, code=ctx2["code"])[0]["client_id"], "it-other")
        self.assertEqual(len(self.entries(c, code=ctx2["code"])), 1)
        self.assertEqual(self.entries(c, code=ctx2["code"][:8]), [], "the full code, not a prefix")
        page = self.ledger(since=c, limit=3)
        self.assertEqual((page["count"], page["next"]), (3, c + 3))
        self.assertEqual(self.ledger(since=page["next"], limit=3)["count"], 1)
        self.assertEqual(self.ledger(limit=0)["entries"], [])

    def test_admin_requests_not_recorded(self):
        c = self.cursor()
        for _ in range(3):
            self.queued()
            self.cursor()
        self.assertEqual(self.ledger(since=c)["entries"], [])

    def test_refused_queries(self):
        for q, starts in [({"since": "-1"}, "since:"), ({"since": "x"}, "since:"), ({"limit": "1001"}, "limit:"),
                          ({"limit": ""}, "limit:"), ({"clientid": "a"}, "clientid: unknown query parameter"),
                          ({"client": "a", "client_id": "a"}, "client:")]:
            with self.subTest(q=q):
                self.assertAdminError(self.ledger_raw(**q), 400, starts=starts)
        r = self.admin.get("/admin/ledger?path=/a&path=/b", headers=self.ah(False))
        self.assertAdminError(r, 400, starts="path: repeated")

    def test_clear_keeps_counting(self):
        self.http.get("/healthz")
        c = self.cursor()
        r = self.admin.request("DELETE", "/admin/ledger", headers=self.ah(False))
        self.assertEqual(r.status, 200, r)
        self.assertGreaterEqual(r.json()["cleared"], 1)
        self.assertEqual(self.ledger()["entries"], [])
        self.http.get("/healthz")
        e = self.ledger()
        self.assertEqual([x["seq"] for x in e["entries"]], [c + 1])
        self.assertEqual(e["dropped"], c)


class S14LedgerNotUtf8(ScenCase):
    """Issue 15: a request whose path or recorded headers are not UTF-8 is
    still recorded, its bytes shown as \\xNN, and counted."""

    def raw(self, head):
        u = urllib.parse.urlsplit(self.daemon.url)
        return ts.raw_exchange(u.hostname, u.port, head + b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n")[0]

    def test_escaped_not_dropped(self):
        c = self.cursor()
        before = self.ledger(limit=0)["escaped"]
        self.assertEqual(self.raw(b"GET /healthz HTTP/1.1\r\nUser-Agent: caf\xe9-client\r\n"), 200)
        self.assertEqual(self.raw(b"GET /no\xffsuch HTTP/1.1\r\nUser-Agent: ok\r\n"
                                  b"Authorization: Bearer \xc3\x28abc\r\n"), 404)
        a = self.ledger(since=c)
        self.assertEqual(a["count"], 2, a)
        h, n = a["entries"]
        self.assertEqual((h["path"], h["status"]), ("/healthz", 200))
        self.assertEqual(h["headers"]["user-agent"], "caf\\xe9-client")
        self.assertEqual(h["escaped"], 1)
        self.assertEqual((n["path"], n["status"]), ("/no\\xffsuch", 404))
        self.assertEqual(n["escaped"], 1)
        self.assertNotIn("escaped", self.ledger(limit=1, since=0)["entries"][0])
        self.assertEqual(a["escaped"], before + 2)
        # the filters still find them, by the shown path
        self.assertEqual(self.ledger(since=c, path="/no\\xffsuch")["count"], 1)


class S10LedgerBound(ScenCase):
    """The ring holds ledger.max_entries."""

    extra_config = {"ledger": {"max_entries": 5}}

    def test_bound(self):
        c = self.cursor()
        for _ in range(8):
            self.http.get("/healthz")
        a = self.ledger(since=c)
        self.assertEqual(a["count"], 5)
        self.assertEqual([x["seq"] for x in a["entries"]], list(range(c + 4, c + 9)))
        self.assertEqual(a["dropped"], 3)
        self.assertEqual(a["next"], c + 8)


class S11LedgerOff(ScenCase):
    extra_config = {"ledger": {"max_entries": 0}}

    def test_off(self):
        self.http.get("/healthz")
        a = self.ledger()
        self.assertEqual((a["entries"], a["next"]), ([], 0))


class S12DelaysDoNotBlock(ScenCase):
    """A delayed answer holds no worker thread, even with one thread."""

    extra_config = {"limits": {"threads": 1}}

    def test_others_served_during_a_delay(self):
        self.queue("jwks_slow", delay_ms=2500, times=3)
        results = []

        def slow():
            t0 = time.monotonic()
            r = self.http.get("/jwks")
            results.append((r.status, time.monotonic() - t0))

        threads = [threading.Thread(target=slow) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        t0 = time.monotonic()
        for _ in range(5):
            self.assertEqual(self.http.get("/healthz").status, 200)
        self.assertLess(time.monotonic() - t0, 1.5, "served while three answers were held")
        for t in threads:
            t.join(15)
        self.assertEqual(sorted(s for s, _ in results), [200, 200, 200])
        for _, took in results:
            self.assertGreaterEqual(took, 2.4)
            self.assertLess(took, 6)


class S13StopDuringDelay(unittest.TestCase):
    """SIGTERM sends held answers at once and exits 0."""

    def test_stop(self):
        tmp = tempfile.mkdtemp(prefix="af-it-scen-")
        try:
            cfg = ts.base_config()
            cfg["scenarios"] = [{"name": "jwks_slow", "delay_ms": 10000}]
            path = os.path.join(tmp, "c.json")
            with open(path, "w") as f:
                json.dump(cfg, f)
            d = ts.Daemon(path, tmp).start()
            http = HttpClient(d.url)
            out = []
            t = threading.Thread(target=lambda: out.append(http.get("/jwks")))
            t0 = time.monotonic()
            t.start()
            time.sleep(0.5)
            rc = d.stop()
            t.join(15)
            self.assertEqual(rc, 0, d.stderr())
            self.assertLess(time.monotonic() - t0, 6, "the 10 s delay was cut short")
            self.assertEqual(out[0].status, 200)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------- runner


def main():
    return ts.run_tests(sys.modules[__name__], "scenarios")


if __name__ == "__main__":
    sys.exit(main())
