#!/usr/bin/env python3
"""Integration tests of GET /admin/findings (docs/admin.md, "Findings"):
each finding from the flow that shows it, and the same flow done right
showing none; the ledger's flow correlation; the filters.

Python 3 standard library only; the helpers come from test_server.py and
test_admin.py. Each class starts its own daemon on 127.0.0.1:0.
"""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_server as ts  # noqa: E402
from test_admin import SECRET as SECRET_IN_PAGE, AdminCase  # noqa: E402
from test_server import split_location  # noqa: E402

# the findings docs/admin.md lists, with their severity
DEFINED = {
    "no_pkce": "MUST", "no_pkce_confidential": "SHOULD", "pkce_plain": "SHOULD",
    "pkce_verifier_missing": "MUST", "client_secret_in_query": "MUST",
    "two_client_auth_methods": "MUST", "code_reused": "MUST", "refresh_token_replayed": "MUST",
    "redirect_uri_mismatch": "MUST", "state_not_checked": "MUST", "bearer_in_query": "MUST",
    "userinfo_token_refused": "NOTE",
}


class FindingsCase(AdminCase):
    tmp_prefix = "af-it-findings-"

    @classmethod
    def config_mods(cls, cfg):
        super().config_mods(cfg)
        # a public client that may leave PKCE out, the case RFC 9700 §2.1.1 forbids
        cfg["clients"].append({
            "client_id": "fi-public-open", "token_endpoint_auth_method": "none",
            "redirect_uris": ["http://127.0.0.1:1/cb"],
            "grant_types": ["authorization_code", "refresh_token"],
            "scope": "openid profile email", "require_pkce": False})

    # ---- helpers

    def admin_get(self, path, query=None, secret="default"):
        return self.admin.get(path, query=query, headers=self.admin_headers(secret, ctype=None))

    def cursor(self):
        r = self.admin_get("/admin/ledger", [("limit", "0")])
        self.assertEqual(r.status, 200, r)
        return r.json()["next"]

    def findings(self, since, **filters):
        q = [("since", str(since))] + [(k, v) for k, v in filters.items()]
        r = self.admin_get("/admin/findings", q)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Cache-Control"), "no-store", r)
        body = r.json()
        self.assertEqual(body["count"], len(body["findings"]), body)
        return body["findings"]

    def ids(self, since, **filters):
        return sorted(f["id"] for f in self.findings(since, **filters))

    def entries(self, since, path=None):
        q = [("since", str(since))] + ([("path", path)] if path else [])
        return self.admin_get("/admin/ledger", q).json()["entries"]

    def one(self, since, fid, **filters):
        found = [f for f in self.findings(since, **filters) if f["id"] == fid]
        self.assertEqual(len(found), 1, found)
        f = found[0]
        self.assertEqual(f["severity"], DEFINED[fid], f)
        self.assertTrue(f["clause"].startswith("RFC "), f)
        self.assertIsInstance(f["explanation"], str)
        self.assertNotIn("\n", f["explanation"])
        return f

    def code_for(self, cid, **kw):
        """The code of an authorization request, whatever state came back."""
        r, ctx = self.authorize(cid, **kw)
        self.assertIn(r.status, (302, 303), r)
        _, q, _ = split_location(r.location)
        self.assertIn("code", q, r.location)
        ctx["code"] = q["code"][0]
        ctx["returned_state"] = q.get("state", [None])[0]
        return ctx

    def queue(self, name, client):
        r = self.admin.request("POST", "/admin/scenarios",
                               body='{"name": "%s", "client": "%s"}' % (name, client),
                               headers=self.admin_headers())
        self.assertEqual(r.status, 201, r)


class F01Api(FindingsCase):
    """The route itself: auth, parameters, answer."""

    def test_needs_the_secret(self):
        self.assertEqual(self.admin_get("/admin/findings", secret=None).status, 401)
        self.assertEqual(self.admin_get("/admin/findings", secret="wrong").status, 401)

    def test_answer_shape(self):
        r = self.admin_get("/admin/findings")
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(sorted(body), ["count", "dropped", "findings", "scanned"])

    def test_bad_parameters(self):
        for q, starts in [([("nope", "1")], "nope: unknown query parameter"),
                          ([("since", "-1")], "since: expected"),
                          ([("id", "no_such")], 'id: unknown finding "no_such"'),
                          ([("client", "a"), ("client", "b")], "client: repeated")]:
            with self.subTest(q=q):
                self.assertAdminError(self.admin_get("/admin/findings", q), 400, "invalid_request",
                                      starts)

    def test_post_is_405(self):
        r = self.admin.request("POST", "/admin/findings", body="{}", headers=self.admin_headers())
        self.assertEqual(r.status, 405, r)


class F02CorrectClientsShowNothing(FindingsCase):
    """Negative cases: clients doing it right produce no finding at all."""

    def test_confidential_login_refresh_userinfo(self):
        c = self.cursor()
        tok = self.login("it-basic", scope="openid profile offline_access")
        self.assertEqual(self.userinfo(tok["access_token"]).status, 200)
        r1 = self.token("it-basic", [("grant_type", "refresh_token"),
                                     ("refresh_token", tok["refresh_token"])])
        self.assertEqual(r1.status, 200, r1)
        r2 = self.token("it-basic", [("grant_type", "refresh_token"),
                                     ("refresh_token", r1.json()["refresh_token"])])
        self.assertEqual(r2.status, 200, r2)
        self.assertEqual(self.ids(c), [])

    def test_public_client_with_pkce(self):
        c = self.cursor()
        self.login("it-public")
        self.login("fi-public-open")
        self.assertEqual(self.ids(c), [])

    def test_confidential_oidc_client_with_nonce_instead_of_pkce(self):
        # RFC 9700 §2.1.1: an OpenID Connect nonce MAY stand in for PKCE
        c = self.cursor()
        self.login("it-nopkce", scope="openid email", pkce=None)
        self.assertEqual(self.ids(c), [])

    def test_flow_correlates_the_hops(self):
        c = self.cursor()
        tok = self.login("it-basic", scope="openid offline_access")
        self.userinfo(tok["access_token"])
        self.token("it-basic", [("grant_type", "refresh_token"),
                                ("refresh_token", tok["refresh_token"])])
        es = self.entries(c)
        self.assertEqual([e["path"] for e in es], ["/authorize", "/token", "/userinfo", "/token"])
        flows = {e["flow"] for e in es}
        self.assertEqual(len(flows), 1, es)
        self.assertIsInstance(flows.pop(), str)
        self.assertEqual(es[0]["state_returned"], "as_sent")
        # a second login is another flow
        self.login("it-basic")
        self.assertNotEqual(self.entries(c)[-1]["flow"], es[0]["flow"])


class F03Pkce(FindingsCase):
    def test_no_pkce_public_client(self):
        c = self.cursor()
        self.login("fi-public-open", pkce=None)
        f = self.one(c, "no_pkce")
        self.assertEqual(f["client"], "fi-public-open")
        self.assertEqual(f["clause"], "RFC 9700 §2.1.1")
        self.assertEqual(f["entries"], [self.entries(c, "/authorize")[0]["seq"]])
        self.assertEqual(self.ids(c), ["no_pkce"])

    def test_refused_request_without_pkce_still_counts(self):
        # require_pkce refuses it: the client sent it all the same
        c = self.cursor()
        r, _ = self.authorize("it-public", pkce=None)
        self.assertIn(r.status, (302, 303), r)
        self.assertEqual(self.ids(c), ["no_pkce"])

    def test_no_pkce_confidential(self):
        c = self.cursor()
        self.login("it-nopkce", scope="email", pkce=None)
        self.assertEqual(self.ids(c), ["no_pkce_confidential"])
        self.assertEqual(self.one(c, "no_pkce_confidential")["client"], "it-nopkce")

    def test_pkce_plain(self):
        c = self.cursor()
        self.login("it-plain", scope="openid", pkce="plain")
        self.assertEqual(self.ids(c), ["pkce_plain"])
        c = self.cursor()
        self.login("it-plain", scope="openid")
        self.assertEqual(self.ids(c), [])

    def test_verifier_missing(self):
        c = self.cursor()
        _, ctx = self.get_code("it-basic")
        r = self.redeem(ctx, send_verifier=False)
        self.assertTokenError(r, 400, "invalid_grant")
        f = self.one(c, "pkce_verifier_missing")
        self.assertEqual(f["entries"], [self.entries(c, "/token")[0]["seq"]])
        self.assertEqual(self.ids(c), ["pkce_verifier_missing"])


class F04ClientAuth(FindingsCase):
    def test_secret_in_query(self):
        c = self.cursor()
        _, ctx = self.get_code("it-post")
        r = self.http.post("/token", [("grant_type", "authorization_code"), ("code", ctx["code"]),
                                      ("redirect_uri", ctx["redirect_uri"]),
                                      ("code_verifier", ctx["verifier"]), ("client_id", "it-post")],
                           query=[("client_secret", "it-post-secret")])
        self.assertEqual(r.status, 400, r)
        f = self.one(c, "client_secret_in_query")
        self.assertEqual(f["client"], "it-post")
        self.assertIn("/token", f["explanation"])
        self.assertEqual(self.ids(c), ["client_secret_in_query"])

    def test_two_methods(self):
        c = self.cursor()
        _, ctx = self.get_code("it-basic")
        r = self.redeem(ctx, extra=[("client_secret", "it-basic-secret")])
        self.assertEqual(r.status, 400, r)
        self.assertEqual(self.ids(c), ["two_client_auth_methods"])

    def test_post_alone_is_fine(self):
        c = self.cursor()
        self.login("it-post")
        self.assertEqual(self.ids(c), [])


class F05Replays(FindingsCase):
    def test_code_reused(self):
        c = self.cursor()
        _, ctx = self.get_code("it-basic")
        self.assertEqual(self.redeem(ctx).status, 200)
        self.assertTokenError(self.redeem(ctx), 400, "invalid_grant")
        f = self.one(c, "code_reused")
        tokens = [e["seq"] for e in self.entries(c, "/token")]
        self.assertEqual(f["entries"], tokens)
        self.assertEqual(f["flow"], self.entries(c, "/authorize")[0]["flow"])
        self.assertEqual(self.ids(c), ["code_reused"])

    def test_refresh_token_replayed(self):
        c = self.cursor()
        tok = self.login("it-basic", scope="openid offline_access")
        old = tok["refresh_token"]
        r = self.token("it-basic", [("grant_type", "refresh_token"), ("refresh_token", old)])
        self.assertEqual(r.status, 200, r)
        r = self.token("it-basic", [("grant_type", "refresh_token"), ("refresh_token", old)])
        self.assertTokenError(r, 400, "invalid_grant")
        f = self.one(c, "refresh_token_replayed")
        tokens = [e["seq"] for e in self.entries(c, "/token")]
        self.assertEqual(f["entries"], tokens)
        self.assertEqual(self.ids(c), ["refresh_token_replayed"])

    def test_unknown_refresh_token_is_no_replay(self):
        c = self.cursor()
        r = self.token("it-basic", [("grant_type", "refresh_token"), ("refresh_token", "made-up")])
        self.assertTokenError(r, 400, "invalid_grant")
        self.assertEqual(self.ids(c), [])


class F06RedirectUri(FindingsCase):
    def test_missing_at_token(self):
        c = self.cursor()
        _, ctx = self.get_code("it-basic")
        self.assertTokenError(self.redeem(ctx, send_redirect=False), 400, "invalid_grant")
        f = self.one(c, "redirect_uri_mismatch")
        seqs = [e["seq"] for e in self.entries(c)]
        self.assertEqual(f["entries"], seqs)  # the /authorize and the /token
        self.assertIn("no redirect_uri", f["explanation"])

    def test_differs_at_token(self):
        c = self.cursor()
        _, ctx = self.get_code("it-basic")
        ctx["redirect_uri"] = "http://127.0.0.1:1/cb2"
        self.assertTokenError(self.redeem(ctx), 400, "invalid_grant")
        self.assertIn("another redirect_uri", self.one(c, "redirect_uri_mismatch")["explanation"])


class F07State(FindingsCase):
    """state_not_checked: only where authflowd itself changed or dropped the
    state it returned, and the flow had nothing else against CSRF."""

    def test_changed_state_redeemed(self):
        c = self.cursor()
        self.queue("authorize_state_changed", "it-nopkce")
        ctx = self.code_for("it-nopkce", scope="email", pkce=None, drop=("nonce",))
        self.assertNotEqual(ctx["returned_state"], ctx["state"])
        self.assertEqual(self.redeem(ctx).status, 200)
        f = self.one(c, "state_not_checked")
        self.assertEqual([e["seq"] for e in self.entries(c)], f["entries"])
        self.assertIn("changed state", f["explanation"])
        self.assertEqual(self.ids(c), ["no_pkce_confidential", "state_not_checked"])

    def test_dropped_state_redeemed(self):
        c = self.cursor()
        self.queue("authorize_state_missing", "it-nopkce")
        ctx = self.code_for("it-nopkce", scope="email", pkce=None, drop=("nonce",))
        self.assertIsNone(ctx["returned_state"])
        self.assertEqual(self.redeem(ctx).status, 200)
        self.assertIn("no state", self.one(c, "state_not_checked")["explanation"])

    def test_changed_state_not_redeemed(self):
        c = self.cursor()
        self.queue("authorize_state_changed", "it-nopkce")
        self.code_for("it-nopkce", scope="email", pkce=None, drop=("nonce",))
        self.assertEqual(self.ids(c), ["no_pkce_confidential"])

    def test_changed_state_with_pkce(self):
        # RFC 9700 §2.1: PKCE protects the flow; ignoring the state is no CSRF hole
        c = self.cursor()
        self.queue("authorize_state_changed", "it-basic")
        ctx = self.code_for("it-basic")
        self.assertEqual(self.redeem(ctx).status, 200)
        self.assertEqual(self.ids(c), [])

    def test_forged_callback_elsewhere_is_not_claimed(self):
        # a state forged on the way to the app never reaches authflowd: a
        # redemption after a good redirect shows nothing
        c = self.cursor()
        ctx = self.code_for("it-nopkce", scope="email", pkce=None, drop=("nonce",))
        self.assertEqual(self.redeem(ctx).status, 200)
        self.assertEqual(self.ids(c), ["no_pkce_confidential"])


class F08Userinfo(FindingsCase):
    def test_bearer_in_query(self):
        c = self.cursor()
        tok = self.login("it-basic")
        r = self.http.get("/userinfo", query=[("access_token", tok["access_token"])])
        self.assertEqual(r.status, 401, r)
        self.assertEqual(self.ids(c), ["bearer_in_query"])

    def test_refused_token(self):
        c = self.cursor()
        bad = self.mint(user="alice", client="it-basic", defects=["expired"])["access_token"]
        self.assertInvalidToken(self.userinfo(bad))
        f = self.one(c, "userinfo_token_refused")
        self.assertIn("expired", f["explanation"])
        self.assertEqual(self.ids(c), ["userinfo_token_refused"])

    def test_good_token(self):
        c = self.cursor()
        tok = self.login("it-basic")
        self.assertEqual(self.userinfo(tok["access_token"]).status, 200)
        self.assertEqual(self.ids(c), [])


class F09Filters(FindingsCase):
    def test_client_user_id_since(self):
        c = self.cursor()
        self.login("fi-public-open", pkce=None, extra=[("login_hint", "bob")])
        self.login("it-nopkce", scope="email", pkce=None)
        self.assertEqual(self.ids(c), ["no_pkce", "no_pkce_confidential"])
        self.assertEqual(self.ids(c, client="it-nopkce"), ["no_pkce_confidential"])
        self.assertEqual(self.ids(c, client="nobody"), [])
        self.assertEqual(self.ids(c, user="bob"), ["no_pkce"])  # a username
        self.assertEqual(self.ids(c, user="u-bob"), ["no_pkce"])  # a sub
        self.assertEqual(self.ids(c, id="no_pkce"), ["no_pkce"])
        self.assertEqual(self.ids(self.cursor()), [])


class F10InspectorPage(FindingsCase):
    """GET /admin/inspector: a static page, served without the secret (a
    browser cannot send it with a navigation) but not to another Host, with
    a CSP that admits only its own nonce'd style and script."""

    def test_page_without_the_secret(self):
        r = self.admin_get("/admin/inspector", secret=None)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith("text/html"), r)
        self.assertEqual(r.header("Cache-Control"), "no-store", r)
        self.assertEqual(r.header("X-Frame-Options"), "DENY", r)
        csp = " ".join(r.header_all("Content-Security-Policy"))
        m = re.search(r"script-src 'nonce-([A-Za-z0-9_-]{22,})'", csp)
        self.assertIsNotNone(m, csp)
        for d in ("default-src 'none'", "connect-src 'self'", "base-uri 'none'",
                  "frame-ancestors 'none'", "style-src 'nonce-" + m.group(1) + "'"):
            self.assertIn(d, csp)
        page = r.text
        self.assertEqual(page.count('nonce="%s"' % m.group(1)), 2, "the style and the script")
        self.assertNotIn("__AF_NONCE__", page)
        self.assertNotIn("innerHTML", page)
        self.assertNotIn(SECRET_IN_PAGE, page)
        # no external asset
        self.assertIsNone(re.search(r"""(src|href)=["']?(https?:)?//""", page))
        other = self.admin_get("/admin/inspector", secret=None).header_all("Content-Security-Policy")
        self.assertNotEqual(" ".join(other), csp, "a nonce per answer")

    def test_the_data_still_needs_the_secret(self):
        for path in ("/admin/ledger", "/admin/findings"):
            self.assertEqual(self.admin_get(path, secret=None).status, 401, path)

    def test_another_host_is_refused(self):
        r = self.admin.get("/admin/inspector", headers={"Host": "evil.example"})
        self.assertEqual(r.status, 421, r)

    def test_strict_about_the_request(self):
        self.assertEqual(self.admin_get("/admin/inspector", [("secret", "x")], secret=None).status, 400)
        r = self.admin.request("POST", "/admin/inspector", body="{}", headers=self.admin_headers())
        self.assertEqual(r.status, 405, r)
        # only this path is let through without the secret
        self.assertEqual(self.admin_get("/admin/inspector/", secret=None).status, 401)


if __name__ == "__main__":
    unittest.main(verbosity=2)
