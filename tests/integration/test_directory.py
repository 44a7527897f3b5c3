#!/usr/bin/env python3
"""Integration tests of the admin API's client and user routes
(docs/admin.md, "Clients and users at run time"): what POST, DELETE and
GET /admin/clients and /admin/users change is what the very next request
sees, at /authorize, /token, /userinfo and in minted tokens; bodies are
validated with the config file's rules and messages; nothing secret is
listed; and changes under load neither fail a request nor crash.

Python 3 standard library only; the daemon and HTTP helpers come from
test_server.py and test_admin.py. Each class starts its own daemon on
127.0.0.1:0.
"""

import copy
import json
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_server as ts  # noqa: E402
from test_admin import AdminCase  # noqa: E402
from test_server import jwt_parts  # noqa: E402

CAROL = {"sub": "u-carol", "username": "carol", "password": "carol-pw",
         "claims": {"email": "carol@example.com", "roles": ["ops"]}}
RT_APP = {"client_id": "rt-app", "client_secret": "rt-app-secret",
          "redirect_uris": ["http://127.0.0.1:1/rt-cb"],
          "grant_types": ["authorization_code", "refresh_token", "password", "client_credentials"],
          "scope": "openid email roles api.read", "access_token_claims": ["roles"]}


class D01Directory(AdminCase):
    """Run-time clients and users, one change at a time."""

    def put(self, kind, body, raw=False):
        data = body if raw else json.dumps(body)
        return self.admin.request("POST", "/admin/" + kind, body=data, headers=self.admin_headers())

    def delete(self, kind, query):
        return self.admin.request("DELETE", "/admin/%s?%s" % (kind, query), headers=self.admin_headers())

    def listing(self, kind):
        r = self.admin.request("GET", "/admin/" + kind, headers=self.admin_headers(ctype=None))
        self.assertEqual(r.status, 200, r)
        return r.json()[kind]

    def register(self, client):
        """client, added through the API and known to this test's auth helper."""
        r = self.put("clients", client)
        self.assertIn(r.status, (200, 201), r)
        self.assertNotIn("client_secret", r.json())
        self.cfg["clients"] = [c for c in self.cfg["clients"] if c["client_id"] != client["client_id"]]
        self.cfg["clients"].append(copy.deepcopy(client))
        return r

    def forget(self, client_id):
        r = self.delete("clients", "client_id=" + client_id)
        self.assertEqual(r.status, 200, r)

    def password_grant(self, cid, user, pw, scope="openid email"):
        return self.token(cid, [("grant_type", "password"), ("username", user), ("password", pw),
                                ("scope", scope)])

    # ---- users

    def test_user_added_logs_in_then_removed_does_not(self):
        self.register(RT_APP)
        self.addCleanup(self.forget, "rt-app")
        self.assertEqual(self.password_grant("rt-app", "carol", "carol-pw").status, 400)
        r = self.put("users", CAROL)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json(), {"sub": "u-carol", "username": "carol", "has_password": True,
                                    "claims": CAROL["claims"]})
        r = self.password_grant("rt-app", "carol", "carol-pw")
        self.assertEqual(r.status, 200, r)
        tok = r.json()["access_token"]
        _, claims, _ = jwt_parts(tok)
        self.assertEqual((claims["sub"], claims.get("roles")), ("u-carol", ["ops"]), claims)
        u = self.userinfo(tok)
        self.assertEqual(u.status, 200, u)
        self.assertEqual(u.json().get("email"), "carol@example.com", u)
        # a code flow with login_hint names the new user
        code_tok = self.login("rt-app", scope="openid email", extra=[("login_hint", "carol")])
        _, idc, _ = jwt_parts(code_tok["id_token"])
        self.assertEqual(idc["sub"], "u-carol", idc)
        # replaced: the next token carries the new claims, the old password is gone
        changed = dict(CAROL, password="new-pw", claims={"roles": ["admin"]})
        r = self.put("users", changed)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.password_grant("rt-app", "carol", "carol-pw").status, 400)
        r = self.password_grant("rt-app", "carol", "new-pw")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(jwt_parts(r.json()["access_token"])[1].get("roles"), ["admin"])
        # removed: no login, and an earlier token names nobody at /userinfo
        r = self.delete("users", "username=carol")
        self.assertEqual((r.status, r.json()), (200, {"removed": "carol"}), r)
        self.assertEqual(self.password_grant("rt-app", "carol", "new-pw").status, 400)
        self.assertNotEqual(self.userinfo(tok).status, 200)
        self.assertNotIn("carol", [u["username"] for u in self.listing("users")])

    def test_user_refusals(self):
        # another user's sub, the loader's own message, a reserved claim
        desc = self.assertAdminError(self.put("users", {"sub": "u-alice", "username": "x"}), 400,
                                     "invalid_request")
        self.assertIn("clashes with user alice", desc)
        desc = self.assertAdminError(self.put("users", {"username": "x"}), 400, "invalid_request")
        self.assertTrue(desc.startswith("request body:1:1: sub: missing"), desc)
        desc = self.assertAdminError(self.put("users", {"sub": "s", "username": "x", "claims": {"iss": 1}}),
                                     400, "invalid_request")
        self.assertIn("claims.iss", desc)
        desc = self.assertAdminError(self.put("users", {"sub": "s", "usrname": "x"}), 400, "invalid_request")
        self.assertIn('did you mean \\"username\\"', json.dumps(desc))
        self.assertAdminError(self.put("users", "[1]", raw=True), 400, "invalid_request")
        self.assertAdminError(self.delete("users", "username=nobody"), 404, "not_found")
        self.assertAdminError(self.delete("users", "user=alice"), 400, "invalid_request")
        # nothing changed
        self.assertEqual(sorted(u["username"] for u in self.listing("users")),
                         sorted(u["username"] for u in self.cfg["users"]))

    def test_last_user_stays_while_a_client_needs_one(self):
        names = [u["username"] for u in self.listing("users")]
        for n in names[:-1]:
            self.assertEqual(self.delete("users", "username=" + n).status, 200)
            self.addCleanup(self.put, "users", next(u for u in self.cfg["users"] if u["username"] == n))
        desc = self.assertAdminError(self.delete("users", "username=" + names[-1]), 400, "invalid_request")
        self.assertIn("is the last user", desc)

    # ---- clients

    def test_native_client_keeps_its_application_type(self):
        # what GET answers can be posted back: a native client stays native
        cli = {"client_id": "rt-cli", "application_type": "native",
               "redirect_uris": ["http://127.0.0.1/cb"]}
        r = self.register(cli)
        self.addCleanup(self.forget, "rt-cli")
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["application_type"], "native")
        listed = next(c for c in self.listing("clients") if c["client_id"] == "rt-cli")
        self.assertEqual(listed["application_type"], "native")

    def test_client_added_works_then_removed_does_not(self):
        r = self.register(RT_APP)
        self.assertEqual(r.status, 201, r)
        body = r.json()
        self.assertEqual(body["client_id"], "rt-app")
        self.assertTrue(body["has_secret"])
        self.assertNotIn("client_secret", body)
        self.assertEqual(body["token_endpoint_auth_method"], "client_secret_basic")
        self.assertEqual(body["application_type"], "web")
        r = self.token("rt-app", [("grant_type", "client_credentials"), ("scope", "api.read")])
        self.assertEqual(r.status, 200, r)
        cc = r.json()["access_token"]
        tok = self.login("rt-app", scope="openid email")
        self.assertEqual(self.userinfo(tok["access_token"]).status, 200)
        # a scenario may name it now
        r = self.admin.request("POST", "/admin/scenarios", headers=self.admin_headers(),
                               body=json.dumps({"name": "token_invalid_grant", "client": "rt-app"}))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.token("rt-app", [("grant_type", "client_credentials")]).status, 400)
        # listed without its secret
        listed = next(c for c in self.listing("clients") if c["client_id"] == "rt-app")
        self.assertNotIn("client_secret", listed)
        self.assertNotIn("rt-app-secret", json.dumps(self.listing("clients")))
        # removed: no token, no login, and its tokens are refused
        self.forget("rt-app")
        self.assertOAuthError(self.token("rt-app", [("grant_type", "client_credentials")]), 401,
                              "invalid_client")
        r, _ = self.authorize("rt-app")
        self.assertEqual(r.status, 400, r)
        self.assertEqual(self.userinfo(tok["access_token"]).status, 401)
        self.assertNotEqual(self.introspect(cc, cid="it-basic").json().get("active"), True)

    def test_client_replaced_applies_to_the_next_request(self):
        self.register(RT_APP)
        self.addCleanup(self.forget, "rt-app")
        self.assertEqual(self.token("rt-app", [("grant_type", "client_credentials")]).status, 200)
        self.register(dict(RT_APP, client_secret="rotated-secret"))
        r = self.token("rt-app", [("grant_type", "client_credentials")])
        self.assertEqual(r.status, 200, r)
        r = self.http.post("/token", [("grant_type", "client_credentials")],
                           headers={"Authorization": ts.basic_auth("rt-app", "rt-app-secret")})
        self.assertOAuthError(r, 401, "invalid_client")
        # the redirect URI registered is the one /authorize accepts
        self.register(dict(RT_APP, redirect_uris=["http://127.0.0.1:1/other"]))
        r, _ = self.authorize("rt-app", redirect_uri="http://127.0.0.1:1/rt-cb")
        self.assertEqual(r.status, 400, r)

    def test_client_refusals(self):
        desc = self.assertAdminError(self.put("clients", {"client_id": "x", "redirect_uris": ["nope"]}),
                                     400, "invalid_request")
        self.assertTrue(desc.startswith("request body:1:"), desc)
        self.assertIn("redirect_uris[0]: not an absolute URI", desc)
        desc = self.assertAdminError(
            self.put("clients", {"client_id": "x", "redirect_uris": ["http://127.0.0.1:1/cb"],
                                 "access_token_claims": ["sub"]}), 400, "invalid_request")
        self.assertIn("access_token_claims[0]", desc)
        self.assertAdminError(self.delete("clients", "client_id=nope"), 404, "not_found")
        r = self.admin.request("POST", "/admin/clients", body="{}",
                               headers=self.admin_headers(ctype="text/plain"))
        self.assertEqual(r.status, 415, r)
        r = self.admin.request("POST", "/admin/clients", body=json.dumps(dict(RT_APP, client_id="rt-no")),
                               headers=self.admin_headers(secret="wrong"))
        self.assertEqual(r.status, 401, r)
        self.assertNotIn("rt-no", [c["client_id"] for c in self.listing("clients")])
        self.assertNotIn("x", [c["client_id"] for c in self.listing("clients")])


class D02DirectoryUnderLoad(AdminCase):
    """Replacing a client and a user while workers use them: every request
    succeeds (each sees the old or the new entry, never a freed one). Run
    under ASan by CI's sanitizer pass."""

    ROUNDS = 150

    def test_changes_during_requests(self):
        r = self.admin.request("POST", "/admin/clients", body=json.dumps(RT_APP), headers=self.admin_headers())
        self.assertEqual(r.status, 201, r)
        self.cfg["clients"].append(copy.deepcopy(RT_APP))
        r = self.admin.request("POST", "/admin/users", body=json.dumps(CAROL), headers=self.admin_headers())
        self.assertEqual(r.status, 201, r)
        errors = []
        stop = threading.Event()

        def worker():
            http = ts.HttpClient(self.base)
            n = 0
            while not stop.is_set() and n < 4 * self.ROUNDS:
                n += 1
                r = http.post("/token", [("grant_type", "password"), ("username", "carol"),
                                         ("password", "carol-pw"), ("scope", "openid")],
                              headers={"Authorization": ts.basic_auth("rt-app", "rt-app-secret")})
                if r.status != 200:
                    errors.append(r)
                    return

        threads = [threading.Thread(target=worker) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            for i in range(self.ROUNDS):
                claims = {"roles": ["r%d" % i]}
                for kind, body in (("clients", dict(RT_APP, client_name="v%d" % i)),
                                   ("users", dict(CAROL, claims=claims))):
                    r = self.admin.request("POST", "/admin/" + kind, body=json.dumps(body),
                                           headers=self.admin_headers())
                    self.assertEqual(r.status, 200, r)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        self.assertEqual(errors, [])


if __name__ == "__main__":
    sys.exit(ts.run_tests(sys.modules[__name__], "directory"))
