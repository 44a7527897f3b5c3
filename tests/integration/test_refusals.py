#!/usr/bin/env python3
"""Every refusal explained: for each refusal the token, authorize, login,
userinfo, introspect, revoke and logout endpoints can give, authflowd's one
log line for the request (stderr, default log level) and the ledger entry's
reason say precisely why, the same words in both, and error_description
carries them where the answer has one (docs/admin.md "The ledger", README
"authflowd"). Also: no secret, code, token, password or verifier in any
line or entry; successful requests get a short line too; --log-format json
writes lines that parse, with the ledger's seq; --log-level warn keeps the
refusals only.

Python 3 standard library only; the daemon, HTTP client and config helpers
come from test_server.py. Each class starts its own daemon on 127.0.0.1:0.

Environment: as test_server.py.
"""

import base64
import json
import os
import re
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_server as ts  # noqa: E402  (the shared helpers)
from test_server import basic_auth, new_verifier, parse_forms, split_location  # noqa: E402
from test_admin import attach_admin  # noqa: E402

SECRET = "why-adm1n-s3cret"
# a wrong secret no reason could contain by chance
WRONG = "wr0ng-S3cret-Qx7"
# "TIME LEVEL METHOD PATH STATUS CLIENT[ rest]"
LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (error|warn|info|debug) +"
                  r"(\S+) (\S+) (\d{3}) (\S+)(?: (.*))?$")


def shown(s):
    """s as a text log line shows it (af_log_text): newline, tab and every
    other control character as \\xNN, one per UTF-8 byte."""
    out = []
    for ch in s:
        cp = ord(ch)
        if cp < 0x20 or 0x7F <= cp <= 0x9F or cp in (0xFFFE, 0xFFFF):
            out += ["\\x%02x" % b for b in ch.encode("utf-8")]
        else:
            out.append(ch)
    return "".join(out)


def desc_clean(s):
    """What error_description may hold of s (RFC 6749 §5.2)."""
    return "".join(c if 0x20 <= ord(c) <= 0x7E and c not in '"\\' else "?" for c in s)


class WhyCase(ts.AFTestCase):
    """One daemon per class at the default log level, with the admin API
    (for the ledger) on port 0."""

    tmp_prefix = "af-it-why-"
    interactive = False

    @classmethod
    def config_mods(cls, cfg):
        cfg["admin"] = {"enabled": True, "listen": "127.0.0.1:0", "secret": SECRET}
        cfg["login"]["interactive"] = cls.interactive

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        attach_admin(cls)
        cls.seen = []  # every credential value sent, for the negative test

    # ---- the ledger and the log

    def ledger_since(self, since):
        r = self.admin.get("/admin/ledger", query={"since": since},
                           headers={"Authorization": "Bearer " + SECRET})
        self.assertEqual(r.status, 200, r)
        return r.json()

    def cursor(self):
        return self.ledger_since(0)["next"]

    def log_lines(self, start):
        """The complete stderr lines after character start."""
        text = self.daemon.stderr()[start:]
        return [l for l in text.split("\n")[:-1]]

    def why(self, send):
        """Run send() (one request); returns (resp, ledger entry, log line)."""
        c = self.cursor()
        start = len(self.daemon.stderr())
        r = send()
        entries = self.ledger_since(c)["entries"]
        self.assertEqual(len(entries), 1, entries)
        # the line is written before the answer is sent
        lines = self.log_lines(start)
        self.assertEqual(len(lines), 1, lines)
        return r, entries[0], lines[0]

    def assertWhy(self, send, status, error, reason, client=None, level=None, body=True):
        """One refusal: the answer's status and error; the ledger entry's
        reason and the log line's end say `reason` (a regex matched from the
        start); error_description (a JSON answer) is the reason cleaned."""
        r, e, line = self.why(send)
        self.assertEqual(r.status, status, r)
        m = LINE.match(line)
        self.assertIsNotNone(m, line)
        _, lvl, method, path, st, cl, rest = m.groups()
        self.assertEqual((method, path, int(st)), (e["method"], e["path"], status), line)
        self.assertEqual(lvl, level or ("warn" if status >= 400 else "info"), line)
        self.assertEqual(cl, client if client is not None else "-", line)
        self.assertEqual(e["error"], error, e)
        self.assertIsNotNone(e["reason"], e)
        self.assertRegex(e["reason"], "^" + reason, e)
        # the line ends with "ERROR: REASON" (or the reason alone)
        tail = (error + ": " if error else "") + shown(e["reason"])
        self.assertTrue(rest is not None and rest.endswith(tail), "%r does not end with %r" % (line, tail))
        if body and error and (r.header("Content-Type") or "").startswith("application/json"):
            self.assertEqual(r.json().get("error_description"), desc_clean(e["reason"]), r)
        return r, e, line

    # ---- requests

    def post_token(self, form, headers=None):
        return self.http.post("/token", form, headers=headers)

    def basic(self, cid, secret):
        self.seen.append(secret)
        return {"Authorization": basic_auth(cid, secret)}

    def introspect_as(self, cid, secret, token):
        return self.http.post("/introspect", [("token", token)], headers=self.basic(cid, secret))

    def code_for(self, cid="it-basic", **kw):
        code, ctx = self.get_code(cid, **kw)
        self.seen += [code, ctx.get("verifier")]
        return ctx

    def tokens_for(self, cid="it-basic", scope="openid profile offline_access"):
        tok = self.login(cid, scope=scope)
        self.seen += [tok["access_token"], tok.get("refresh_token"), tok.get("id_token"),
                      tok["_ctx"]["code"], tok["_ctx"]["verifier"], self.client(cid).get("client_secret")]
        return tok


class R01Token(WhyCase):
    """POST /token: client authentication, then each grant's refusals."""

    def test_unknown_client(self):
        self.assertWhy(lambda: self.post_token([("grant_type", "client_credentials")],
                                               self.basic("it-basix", WRONG)),
                       401, "invalid_client", "unknown client it-basix$", client="it-basix")

    def test_wrong_secret(self):
        _, _, line = self.assertWhy(
            lambda: self.post_token([("grant_type", "client_credentials")], self.basic("it-basic", WRONG)),
            401, "invalid_client", "wrong secret for client it-basic$", client="it-basic")
        self.assertIn("POST /token 401 it-basic invalid_client: wrong secret for client it-basic", line)

    def test_method_mismatch(self):
        self.seen.append("it-basic-secret")
        self.assertWhy(lambda: self.post_token([("grant_type", "client_credentials"), ("client_id", "it-basic"),
                                                ("client_secret", "it-basic-secret")]),
                       401, "invalid_client",
                       re.escape("client it-basic sent client_secret_post but is registered for "
                                 "client_secret_basic"), client="it-basic")
        self.assertWhy(lambda: self.post_token([("grant_type", "client_credentials"), ("client_id", "it-basic")]),
                       401, "invalid_client",
                       re.escape("client it-basic sent no secret (client_id alone) but is registered for "
                                 "client_secret_basic"), client="it-basic")
        self.assertWhy(lambda: self.post_token([("grant_type", "authorization_code"), ("code", "x")],
                                               self.basic("it-public", WRONG)),
                       401, "invalid_client",
                       re.escape("client it-public sent client_secret_basic but is a public client"),
                       client="it-public")

    def test_no_authentication(self):
        self.assertWhy(lambda: self.post_token([("grant_type", "client_credentials")]),
                       401, "invalid_client", "no client authentication")
        self.assertWhy(lambda: self.post_token([("grant_type", "client_credentials")],
                                               {"Authorization": "Bearer " + WRONG}),
                       401, "invalid_client", "unsupported client authentication scheme Bearer ")

    def test_request_shape(self):
        h = self.basic("it-cc", "it-cc-secret")
        self.assertWhy(lambda: self.http.request("POST", "/token", body="{}",
                                                 headers=dict(h, **{"Content-Type": "application/json"})),
                       400, "invalid_request",
                       re.escape("Content-Type must be application/x-www-form-urlencoded (got application/json)"))
        self.assertWhy(lambda: self.http.post("/token", [("grant_type", "client_credentials")], headers=h,
                                              query=[("client_secret", WRONG)]),
                       400, "invalid_request", "client_secret must not be sent in the URL query")
        self.assertWhy(lambda: self.post_token([("grant_type", "client_credentials")] * 2, h),
                       400, "invalid_request", re.escape("grant_type was sent more than once"))
        self.assertWhy(lambda: self.post_token([], h), 400, "invalid_request", "grant_type is missing$",
                       client="it-cc")
        self.assertWhy(lambda: self.post_token([("grant_type", "magic")], h), 400, "unsupported_grant_type",
                       "unknown grant_type magic ", client="it-cc")
        self.assertWhy(lambda: self.post_token([("grant_type", "password"), ("username", "alice"),
                                                ("password", WRONG)], h),
                       400, "unauthorized_client", "client it-cc is not registered for grant_type password$",
                       client="it-cc")
        self.assertWhy(lambda: self.post_token([("grant_type", "client_credentials"), ("scope", "api:delete")], h),
                       400, "invalid_scope", re.escape("scope api:delete is not allowed for client it-cc "
                                                       "(allowed: api:read api:write)"), client="it-cc")

    def test_code_refusals(self):
        h = self.basic("it-basic", "it-basic-secret")
        ctx = self.code_for()
        form = [("grant_type", "authorization_code"), ("redirect_uri", ctx["redirect_uri"])]
        self.assertWhy(lambda: self.post_token(form + [("code_verifier", ctx["verifier"])], h),
                       400, "invalid_request", "code is missing$", client="it-basic")
        # another client's code: named, and not used up
        self.assertWhy(lambda: self.post_token(form + [("code", ctx["code"]), ("code_verifier", ctx["verifier"])],
                                               self.basic("it-other", "it-other-secret")),
                       400, "invalid_grant", re.escape("code was issued to it-basic, not it-other"),
                       client="it-other")
        self.assertWhy(lambda: self.post_token(form + [("code", "no-such-code-at-all"),
                                                       ("code_verifier", ctx["verifier"])], h),
                       400, "invalid_grant", "unknown code", client="it-basic")
        other = new_verifier()
        self.seen.append(other)
        self.assertWhy(lambda: self.post_token(form + [("code", ctx["code"]), ("code_verifier", other)], h),
                       400, "invalid_grant", re.escape("code_verifier does not match the S256 challenge"),
                       client="it-basic")
        # a failed redemption used the code up: the next one is a replay
        self.assertWhy(lambda: self.post_token(form + [("code", ctx["code"]), ("code_verifier", ctx["verifier"])], h),
                       400, "invalid_grant", "the code was already used", client="it-basic")
        ctx = self.code_for()
        self.assertWhy(lambda: self.post_token([("grant_type", "authorization_code"), ("code", ctx["code"]),
                                                ("redirect_uri", ctx["redirect_uri"])], h),
                       400, "invalid_grant", re.escape("code_verifier is missing: a S256 code_challenge was sent"),
                       client="it-basic")
        ctx = self.code_for()
        self.assertWhy(lambda: self.post_token([("grant_type", "authorization_code"), ("code", ctx["code"]),
                                                ("redirect_uri", "http://127.0.0.1:1/cb2"),
                                                ("code_verifier", ctx["verifier"])], h),
                       400, "invalid_grant",
                       re.escape("redirect_uri http://127.0.0.1:1/cb2 differs from http://127.0.0.1:1/cb "
                                 "sent at /authorize"), client="it-basic")

    def test_refresh_refusals(self):
        tok = self.tokens_for()
        self.assertWhy(lambda: self.post_token([("grant_type", "refresh_token"),
                                                ("refresh_token", tok["refresh_token"])],
                                               self.basic("it-other", "it-other-secret")),
                       400, "invalid_grant", re.escape("the refresh token was issued to it-basic, not it-other"),
                       client="it-other")
        h = self.basic("it-basic", "it-basic-secret")
        self.assertWhy(lambda: self.post_token([("grant_type", "refresh_token"), ("refresh_token", tok["refresh_token"]),
                                                ("scope", "openid email")], h),
                       400, "invalid_scope", re.escape("scope openid email is wider than the openid profile "
                                                       "offline_access granted"), client="it-basic")
        self.assertWhy(lambda: self.post_token([("grant_type", "refresh_token"), ("refresh_token", WRONG)], h),
                       400, "invalid_grant", "unknown, expired or revoked refresh token$", client="it-basic")

    def test_password_refusals(self):
        h = self.basic("it-pw", "it-pw-secret")
        self.seen.append("alice-password")
        self.assertWhy(lambda: self.post_token([("grant_type", "password"), ("username", "alice"),
                                                ("password", WRONG)], h),
                       400, "invalid_grant", "wrong password for user alice$", client="it-pw")
        self.assertWhy(lambda: self.post_token([("grant_type", "password"), ("username", "alicia"),
                                                ("password", WRONG)], h),
                       400, "invalid_grant", "unknown user alicia$", client="it-pw")

    def test_success_lines(self):
        """A login reads as a timeline: one short line per hop."""
        start = len(self.daemon.stderr())
        tok = self.tokens_for()
        r = self.userinfo(tok["access_token"])
        self.assertEqual(r.status, 200, r)
        lines = [LINE.match(l).groups() for l in self.log_lines(start)]
        self.assertEqual([g[1:6] + (g[6],) for g in lines], [
            ("info", "GET", "/authorize", "302", "it-basic", "sub=u-alice"),
            ("info", "POST", "/token", "200", "it-basic", "authorization_code sub=u-alice"),
            ("info", "GET", "/userinfo", "200", "it-basic", "sub=u-alice"),
        ])

    def test_untrusted_text_escaped(self):
        """A client id with a newline and an escape sequence cannot forge a
        line or move the terminal; error_description keeps to §5.2."""
        evil = "ev\nil\x1b[2J\"x"
        r, e, line = self.assertWhy(
            lambda: self.post_token([("grant_type", "client_credentials")], self.basic(evil, WRONG)),
            401, "invalid_client", re.escape("unknown client " + evil), client="ev\\x0ail\\x1b[2J\"x")
        self.assertIn("unknown client ev\\x0ail\\x1b[2J\"x", line)
        self.assertEqual(r.json()["error_description"], "unknown client ev?il?[2J?x")


class R02Authorize(WhyCase):
    """GET /authorize: the error pages (no OAuth error: an HTML page
    carries none) and the error redirects."""

    def q(self, **kw):
        p = {"response_type": "code", "client_id": "it-basic", "redirect_uri": "http://127.0.0.1:1/cb",
             "scope": "openid", "state": "s1", "code_challenge": ts.s256(new_verifier()),
             "code_challenge_method": "S256"}
        p.update(kw)
        return lambda: self.http.get("/authorize", query={k: v for k, v in p.items() if v is not None})

    def assertPageSays(self, answer):
        """Issue 12: the page shows the reason the ledger and the log line
        record, one text for the three, escaped."""
        r, e, line = answer
        self.assertIn("text/html", r.header("Content-Type"))
        self.assertIn('<p class="err">%s</p>' % ts.html_escape(e["reason"]), r.text)
        self.assertTrue(line.endswith(e["reason"]), line)

    def test_pages(self):
        self.assertPageSays(self.assertWhy(self.q(client_id=None), 400, None, "client_id is missing$"))
        self.assertPageSays(self.assertWhy(self.q(client_id="it-nope"), 400, None, "unknown client it-nope: ",
                                           client="it-nope"))
        self.assertPageSays(self.assertWhy(
            self.q(redirect_uri="http://localhost:1/cb"), 400, None,
            re.escape("redirect_uri http://localhost:1/cb is not registered for it-basic; registered: "
                      "http://127.0.0.1:1/cb, http://127.0.0.1:1/cb2, http://127.0.0.1:1/cbq?tenant=a"),
            client="it-basic"))
        self.assertPageSays(self.assertWhy(self.q(redirect_uri=None), 400, None,
                                           "redirect_uri is required: it-basic has several", client="it-basic"))
        self.assertPageSays(self.assertWhy(self.q(client_id='<i>"x\''), 400, None,
                                           re.escape('unknown client <i>"x\''), client='<i>"x\''))

    def test_redirects(self):
        def check(send, error, reason):
            r, e, _ = self.assertWhy(send, 302, error, reason, client="it-basic")
            _, q, _ = split_location(r.location)
            self.assertEqual(q["error"], [error])
            self.assertEqual(q["error_description"], [desc_clean(e["reason"])])
        check(self.q(response_type="token"), "unsupported_response_type", "response_type token is not supported")
        check(self.q(scope="openid admin"), "invalid_scope", re.escape("scope admin is not allowed for client it-basic"))
        check(self.q(code_challenge=None, code_challenge_method=None), "invalid_request",
              re.escape("code_challenge is required for client it-basic"))
        check(self.q(code_challenge_method="S512"), "invalid_request", "code_challenge_method S512 is neither")
        check(self.q(prompt="none"), "login_required", "prompt=none and no login session$")
        check(self.q(login_hint="nobody"), "invalid_request", "login_hint names no configured user$")


class R03Login(WhyCase):
    """POST /login (interactive): the page says little, the log and the
    ledger say which."""

    interactive = True

    def login_form(self):
        r = self.http.get("/authorize", query={"response_type": "code", "client_id": "it-basic",
                                               "redirect_uri": "http://127.0.0.1:1/cb", "scope": "openid",
                                               "code_challenge": ts.s256(new_verifier()),
                                               "code_challenge_method": "S256"})
        self.assertEqual(r.status, 200, r)
        cookie = r.header("Set-Cookie").split(";")[0]
        form = [f for f in parse_forms(r.text) if any(i["name"] == "password" for i in f["inputs"])][0]
        fields = [(i["name"], i["value"]) for i in form["inputs"] if i["type"] == "hidden"]
        return fields, cookie

    def test_wrong_password(self):
        fields, cookie = self.login_form()
        self.seen.append("alice-password")
        send = lambda: self.http.post("/login", fields + [("username", "alice"), ("password", WRONG),  # noqa: E731
                                                          ("action", "login")], headers={"Cookie": cookie})
        r, e, line = self.assertWhy(send, 200, None, "login refused: wrong password for user alice$",
                                    client="it-basic")
        self.assertIn("Unknown user or wrong password.", r.text)
        self.assertNotIn("wrong password for user", r.text)
        send = lambda: self.http.post("/login", fields + [("username", "mallory"), ("password", WRONG),  # noqa: E731
                                                          ("action", "login")], headers={"Cookie": cookie})
        self.assertWhy(send, 200, None, "login refused: unknown user mallory$", client="it-basic")

    def test_login_page_line(self):
        start = len(self.daemon.stderr())
        self.login_form()
        self.assertRegex(self.log_lines(start)[0], r" info  GET /authorize 200 it-basic login page$")


class R04Userinfo(WhyCase):
    def test_refusals(self):
        self.assertWhy(lambda: self.http.get("/userinfo"), 401, None, "no access token: ")
        tok = self.tokens_for()
        self.assertWhy(lambda: self.http.get("/userinfo", query={"access_token": tok["access_token"]}),
                       401, None, "the access token came in the query, not in the Authorization header")
        self.assertWhy(lambda: self.http.get("/userinfo", headers={"Authorization": "Bearer a b"}),
                       400, "invalid_request", re.escape("malformed Bearer credentials"))
        self.assertWhy(lambda: self.http.get("/userinfo", headers={"Authorization": "Bearer " + WRONG}),
                       401, "invalid_token", "the token is not a well-formed JWS$", body=False)
        # the ID token is no access token
        self.assertWhy(lambda: self.http.get("/userinfo", headers={"Authorization": "Bearer " + tok["id_token"]}),
                       401, "invalid_token", re.escape("the token is not an access token (typ is not at+jwt)"),
                       body=False)
        cc = self.client_credentials("it-other", scope="openid").json()["access_token"]
        self.seen.append(cc)
        self.assertWhy(lambda: self.userinfo(cc), 403, "insufficient_scope",
                       re.escape("userinfo needs a user's token: this one is the client's own"),
                       client="it-other", body=False)
        noid = self.tokens_for(scope="profile")
        self.assertWhy(lambda: self.userinfo(noid["access_token"]), 403, "insufficient_scope",
                       re.escape("the token's scope (profile) has no openid"), client="it-basic", body=False)


class R05IntrospectRevoke(WhyCase):

    def test_introspect(self):
        tok = self.tokens_for()
        self.assertWhy(lambda: self.introspect_as("it-basic", WRONG, tok["access_token"]),
                       401, "invalid_client", "wrong secret for client it-basic$", client="it-basic")
        self.assertWhy(lambda: self.http.post("/introspect", [], headers=self.basic("it-basic", "it-basic-secret")),
                       400, "invalid_request", "token is missing$", client="it-basic")
        # inactive: the answer gives no hint (RFC 7662 §2.2), the log and the ledger do
        r, e, line = self.assertWhy(lambda: self.introspect_as("it-basic", "it-basic-secret", WRONG),
                                    200, None, re.escape("neither an access token (not a JWS) nor a live "
                                                         "refresh token"), client="it-basic")
        self.assertEqual(r.json(), {"active": False})
        self.assertIn(" it-basic inactive neither", line)
        self.assertEqual(self.revoke(tok["access_token"]).status, 200)
        self.assertWhy(lambda: self.introspect_as("it-basic", "it-basic-secret", tok["access_token"]),
                       200, None, "the token was revoked$", client="it-basic")

    def test_revoke(self):
        tok = self.tokens_for()
        self.assertWhy(lambda: self.revoke(tok["refresh_token"], cid="it-other"), 400, "invalid_request",
                       re.escape("the token was issued to it-basic, not it-other"), client="it-other")
        self.assertWhy(lambda: self.http.post("/revoke", [("token", tok["access_token"])],
                                              headers=self.basic("it-basic", WRONG)),
                       401, "invalid_client", "wrong secret for client it-basic$", client="it-basic")
        self.assertWhy(lambda: self.revoke(WRONG), 200, None, re.escape("nothing to revoke: neither an access "
                                                                        "token"), client="it-basic")
        # a rotated refresh token presented again: a replay, its grant revoked
        r = self.token("it-basic", [("grant_type", "refresh_token"), ("refresh_token", tok["refresh_token"])])
        self.assertEqual(r.status, 200, r)
        self.seen += [r.json()["access_token"], r.json()["refresh_token"]]
        self.assertWhy(lambda: self.revoke(tok["refresh_token"]), 200, None,
                       re.escape("a used refresh token: its grant is revoked now"), client="it-basic")


class R06Logout(WhyCase):
    def test_refusals(self):
        tok = self.tokens_for()
        hint = tok["id_token"]
        self.assertWhy(lambda: self.http.get("/logout", query={"client_id": "it-basic",
                                                               "post_logout_redirect_uri": "http://127.0.0.1:1/evil"}),
                       400, None, re.escape("post_logout_redirect_uri http://127.0.0.1:1/evil is not registered for "
                                            "it-basic; registered: http://127.0.0.1:1/bye"), client="it-basic")
        self.assertWhy(lambda: self.http.get("/logout", query={"client_id": "it-nope"}), 400, None,
                       re.escape("unknown client it-nope, named by client_id"), client="it-nope")
        self.assertWhy(lambda: self.http.get("/logout", query={"id_token_hint": WRONG}), 400, None,
                       "id_token_hint is not a JWS$")
        self.assertWhy(lambda: self.http.get("/logout", query={"id_token_hint": hint, "client_id": "it-other"}),
                       400, None, re.escape("client_id it-other is not it-basic, the audience of id_token_hint"),
                       client="it-other")
        self.assertWhy(lambda: self.http.get("/logout", query={"post_logout_redirect_uri": "http://127.0.0.1:1/bye"}),
                       400, None, "post_logout_redirect_uri needs id_token_hint or client_id$")
        # and the way out
        r, e, line = self.why(lambda: self.http.get("/logout", query={"id_token_hint": hint}))
        self.assertEqual(r.status, 200, r)
        self.assertRegex(line, r" info  GET /logout 200 it-basic no session$")


class R07NoSecret(WhyCase):
    """Everything a class sends that is secret: never in the log, never in
    the ledger (which shows a code's or token's first characters only)."""

    def test_no_secret_anywhere(self):
        R01Token.test_code_refusals(self)
        R01Token.test_refresh_refusals(self)
        R01Token.test_password_refusals(self)
        R05IntrospectRevoke.test_introspect(self)
        R01Token.test_wrong_secret(self)
        log = self.daemon.stderr()
        ledger = json.dumps(self.ledger_since(0))
        secrets = {s for s in self.seen if s} | {c["client_secret"] for c in self.cfg["clients"]
                                                  if c.get("client_secret")}
        self.assertGreater(len(secrets), 15)
        for s in secrets:
            self.assertNotIn(s, log)
            self.assertNotIn(s, ledger)
        # the Basic credentials as sent, too
        for s in self.seen:
            if s:
                self.assertNotIn(base64.b64encode(s.encode()).decode(), log)


class R08JsonFormat(WhyCase):
    """--log-format json: every line one JSON object."""

    extra_args = ("--log-format", "json")

    def test_lines_parse(self):
        c = self.cursor()
        self.post_token([("grant_type", "client_credentials")], self.basic("it-basic", WRONG))
        self.assertEqual(self.http.get("/jwks").status, 200)
        lines = self.daemon.stderr().splitlines()
        objs = [json.loads(l) for l in lines]  # every line, the start's too
        self.assertTrue(any(o.get("msg", "").startswith("listening on port") for o in objs), objs)
        reqs = [o for o in objs if "method" in o]
        e = self.ledger_since(c)["entries"]
        refusal, jwks = reqs[-2], reqs[-1]
        self.assertEqual(refusal, {"time": refusal["time"], "level": "warn", "method": "POST", "path": "/token",
                                   "status": 401, "client": "it-basic", "error": "invalid_client",
                                   "reason": "wrong secret for client it-basic", "seq": e[0]["seq"]})
        self.assertRegex(refusal["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual(e[0]["reason"], refusal["reason"])
        self.assertEqual((jwks["level"], jwks["path"], jwks["status"], jwks["client"], jwks["error"],
                          jwks["reason"], jwks["seq"]), ("info", "/jwks", 200, None, None, None, e[1]["seq"]))

    def test_untrusted_text(self):
        evil = "ev\"il\n\\\x01"
        self.post_token([("grant_type", "client_credentials")], self.basic(evil, WRONG))
        o = json.loads(self.daemon.stderr().splitlines()[-1])
        self.assertEqual(o["client"], "ev\"il\\x0a\\\\x01")
        self.assertEqual(o["reason"], "unknown client ev\"il\\x0a\\\\x01")


class R09LevelWarn(WhyCase):
    """--log-level warn: the refusals, not the successes."""

    extra_args = ("--log-level", "warn")

    def test_refusals_only(self):
        start = len(self.daemon.stderr())
        self.assertEqual(self.http.get("/jwks").status, 200)
        self.post_token([("grant_type", "client_credentials")], self.basic("it-basic", WRONG))
        lines = self.log_lines(start)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn(" warn  POST /token 401 it-basic invalid_client: wrong secret", lines[0])


def main():
    return ts.run_tests(sys.modules[__name__], "refusals")


if __name__ == "__main__":
    sys.exit(main())
