#!/usr/bin/env python3
"""forge.py - how the truth tables of the own-token API corpus were
established, independently of authprobe: the tokens an attacker would try,
forged here with PyJWT and cryptography from a token the API issued, and a
survey that sends each request of docs/api-suite.md's checks with urllib
and prints what the API answered, one line per request, for a human to
judge against the suite's clauses (tests/data/truth/api-*.txt say what was
concluded and why). Nothing here is authprobe's code or output.

    forge.py tokens TOKEN [--other-user NAME]
        print every forged variant of TOKEN (label and token), to paste
        into curl by hand
    forge.py survey --app fastapi|drf --url URL [--dep-pid PID]
                    [--lifetime S] [--only ID,...] [--resources]
        run the survey against a running app (--resources: the bearer and
        forgery requests on every resource, each answer's status, challenge
        and error code, as the suite judges them); --dep-pid lets the health
        probe stop (SIGSTOP) and resume (SIGCONT) the dependency, which the
        caller started

The app presets (APPS) hold what the profiles hold: the login request, the
token selectors, the refresh and logout requests, principals, resources.
"""

import argparse
import base64
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

WEAK_SECRETS = ["secret", "", "changeme", "your-256-bit-secret", "password", "key",
                "jwt_secret", "secretkey", "supersecret", "test", "123456",
                "your-secret-key", "mysecret", "SECRET_KEY", "django-insecure"]

APPS = {
    "fastapi": {
        "login": ("/auth/token", "form", "username", "password", {"grant_type": "password"}),
        "access": "access_token", "refresh": "refresh_token",
        "refresh_req": ("/auth/refresh", "refresh_token"),
        "logout_req": ("/auth/logout", "refresh_token", True),
        "me": ("/me", "username"),
        "principals": {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"},
        "resources": [("alice-orders", "/users/alice/orders", ["alice", "carol"], ["bob"]),
                      ("bob-orders", "/users/bob/orders", ["bob", "carol"], ["alice"]),
                      ("admin-stats", "/admin/stats", ["carol"], ["alice", "bob"])],
        "user_claim": "sub", "other": "bob", "health": "/health",
    },
    "drf": {
        "login": ("/api/token/", "json", "username", "password", {}),
        "access": "access", "refresh": "refresh",
        "refresh_req": ("/api/token/refresh/", "refresh"),
        "logout_req": ("/api/token/blacklist/", "refresh", False),
        "me": ("/api/me/", "username"),
        "principals": {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"},
        "resources": [("alice-orders", "/api/users/alice/orders/", ["alice", "carol"], ["bob"]),
                      ("bob-orders", "/api/users/bob/orders/", ["bob", "carol"], ["alice"]),
                      ("admin-stats", "/api/admin/stats/", ["carol"], ["alice", "bob"])],
        "user_claim": "user_id", "other": 2, "health": "/api/health/",
    },
}


# --- forging -------------------------------------------------------------

def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def parts(token):
    h, p, s = token.split(".")
    return json.loads(unb64u(h)), json.loads(unb64u(p)), s


def compact(header: dict, payload: dict, sig: str = "") -> str:
    return "%s.%s.%s" % (b64u(json.dumps(header, separators=(",", ":")).encode()),
                         b64u(json.dumps(payload, separators=(",", ":")).encode()), sig)


def hs256(header: dict, payload: dict, key: str) -> str:
    """HS256 by hand (PyJWT refuses nothing here, but the header must be
    exactly ours, kid and all)."""
    import hashlib
    import hmac
    signing = compact(header, payload)[:-1]
    return signing + "." + b64u(hmac.new(key.encode(), signing.encode(), hashlib.sha256).digest())


def forgeries(token: str, user_claim: str = "sub", other=None):
    """[(check id, label, token)] for every variant of docs/api-suite.md."""
    header, payload, sig = parts(token)
    out = []
    for alg in ("none", "None", "NONE", "nOnE"):
        h = dict(header, alg=alg)
        out.append(("API-20a", "alg %s, no signature" % alg, compact(h, payload)))
        out.append(("API-20b", "alg %s, real signature" % alg, compact(h, payload, sig)))
    out.append(("API-21", "signature stripped", compact(header, payload)))
    out.append(("API-22", "exp +1 day, signature kept", compact(header, dict(payload, exp=payload["exp"] + 86400), sig)))
    if other is not None and payload.get(user_claim) != other:
        out.append(("API-22", "%s=%r, signature kept" % (user_claim, other),
                    compact(header, dict(payload, **{user_claim: other}), sig)))
    for key in WEAK_SECRETS:
        out.append(("API-23", "HS256 key %r" % key, hs256({"alg": "HS256", "typ": "JWT"}, payload, key)))
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key()))
    out.append(("API-25", "ES256, own key embedded as jwk",
                jwt.encode(payload, ec_key, algorithm="ES256", headers={"jwk": jwk})))
    out.append(("API-26", "kid ../../../../../../dev/null, HS256 empty key",
                hs256({"alg": "HS256", "typ": "JWT", "kid": "../../../../../../dev/null"}, payload, "")))
    out.append(("API-26", "kid SQL fragment, HS256 key authprobe",
                hs256({"alg": "HS256", "typ": "JWT", "kid": "x' UNION SELECT 'authprobe'--"}, payload, "authprobe")))
    out.append(("API-28", "ES256 r=s=0", compact(dict(header, alg="ES256"), payload, b64u(bytes(64)))))
    return out


# --- HTTP ----------------------------------------------------------------

class Answer:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def brief(self, *hdrs):
        shown = " ".join("%s: %s" % (h, self.headers.get(h)) for h in hdrs if self.headers.get(h))
        return "%d %s %s" % (self.status, shown, self.body[:110].decode(errors="replace").replace("\n", " "))


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


_opener = urllib.request.build_opener(NoRedirect)


def call(url, method="GET", form=None, js=None, auth=None, headers=None, timeout=10):
    data, hdrs = None, dict(headers or {})
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    elif js is not None:
        data = json.dumps(js).encode()
        hdrs["Content-Type"] = "application/json"
    if auth is not None:
        hdrs["Authorization"] = auth
    req = urllib.request.Request(url, data=data, method=method if data is None else "POST", headers=hdrs)
    try:
        with _opener.open(req, timeout=timeout) as r:
            return Answer(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return Answer(e.code, e.headers, e.read())


class App:
    def __init__(self, preset, url):
        self.p, self.url = APPS[preset], url.rstrip("/")

    def login(self, username, password, fields=True):
        path, kind, uf, pf, extra = self.p["login"]
        body = dict(extra)
        if fields:
            body.update({uf: username, pf: password})
        if kind == "form":
            return call(self.url + path, form=body)
        return call(self.url + path, js=body)

    def tokens(self, who):
        a = self.login(who, self.p["principals"][who])
        j = a.json() or {}
        return j.get(self.p["access"]), j.get(self.p["refresh"])

    def me(self, auth):
        return call(self.url + self.p["me"][0], auth=auth)

    def refresh(self, rt):
        path, field = self.p["refresh_req"]
        return call(self.url + path, js={field: rt})

    def logout(self, at, rt):
        path, field, bearer = self.p["logout_req"]
        return call(self.url + path, js={field: rt}, auth="Bearer " + at if bearer else None)


def survey(app, only, dep_pid, lifetime):
    def want(cid):
        return not only or cid in only

    def say(cid, what, ans, *hdrs):
        print("%-8s %-44s %s" % (cid, what, ans.brief(*hdrs) if isinstance(ans, Answer) else ans), flush=True)

    p = app.p
    if want("API-01"):
        say("API-01", "alice, wrong password", app.login("alice", "wrong-pw"), "Cache-Control", "WWW-Authenticate")
    if want("API-02"):
        say("API-02", "unknown user", app.login("nobody-here", "x"), "Cache-Control", "WWW-Authenticate")
    if want("API-03"):
        say("API-03", "no fields", app.login(None, None, fields=False), "Content-Type")
    good = app.login("alice", "alice-pw")
    if want("API-04") or want("API-05"):
        say("API-04/05", "good login", good, "Cache-Control", "Pragma", "Location")
    at, rt = app.tokens("alice")
    me = app.url + p["me"][0]
    if want("API-10"):
        say("API-10", "no credentials", call(me), "WWW-Authenticate")
    if want("API-11"):
        say("API-11", "Bearer garbage", app.me("Bearer authprobe-garbage-token"), "WWW-Authenticate")
    if want("API-12"):
        say("API-12", "scheme Token", app.me("Token " + at), "WWW-Authenticate")
    if want("API-13"):
        say("API-13", "premise: Bearer", app.me("Bearer " + at))
        say("API-13a", "bearer", app.me("bearer " + at))
        say("API-13b", "BEARER", app.me("BEARER " + at))
    if want("API-14"):
        say("API-14", "?access_token=", call(me + "?access_token=" + at), "Cache-Control", "WWW-Authenticate")
    for cid, label, tok in forgeries(at, p["user_claim"], p["other"]):
        if want(cid):
            say(cid, label, app.me("Bearer " + tok), "WWW-Authenticate")
    if want("API-30"):
        at2, _ = app.tokens("alice")
        say("API-30", "premise: fresh token", app.me("Bearer " + at2))
        time.sleep(lifetime + 2)
        say("API-30", "after exp + 2 s", app.me("Bearer " + at2), "WWW-Authenticate")
    if want("API-31"):
        _, rt1 = app.tokens("alice")
        r1 = app.refresh(rt1)
        rt2 = (r1.json() or {}).get(p["refresh"])
        say("API-31", "refresh (rotated: %s)" % (rt2 is not None and rt2 != rt1), r1)
        say("API-31", "old refresh token again", app.refresh(rt1))
        say("API-31", "the new one after the reuse", app.refresh(rt2) if rt2 else "-")
    if want("API-32") or want("API-33"):
        at3, rt3 = app.tokens("alice")
        say("API-32/33", "logout", app.logout(at3, rt3))
        say("API-32", "refresh after logout", app.refresh(rt3))
        say("API-33", "access token after logout", app.me("Bearer " + at3))
    if want("API-40") or want("API-41"):
        toks = {who: app.tokens(who)[0] for who in p["principals"]}
        for name, path, allow, deny in p["resources"]:
            for who in allow:
                say("API-40", "%s as %s" % (name, who), call(app.url + path, auth="Bearer " + toks[who]))
            for who in deny:
                say("API-41", "%s as %s" % (name, who), call(app.url + path, auth="Bearer " + toks[who]))
    if want("API-50"):
        toks = {who: app.tokens(who)[0] for who in p["principals"]}
        bad, fivexx, lock = [], 0, threading.Lock()

        def worker(who):
            nonlocal fivexx
            a = app.me("Bearer " + toks[who])
            got = (a.json() or {}).get(p["me"][1])
            with lock:
                if a.status >= 500:
                    fivexx += 1
                if got != who:
                    bad.append("%s saw %s (%d)" % (who, got, a.status))
        for _round in range(5):
            ts = [threading.Thread(target=worker, args=(w,)) for w in p["principals"]]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        say("API-50", "3 principals x 5 rounds", "5xx=%d wrong=%d %s" % (fivexx, len(bad), "; ".join(bad[:4])))
    if want("API-60"):
        hurl = app.url + p["health"]
        say("API-60", "up", call(hurl))
        if dep_pid:
            os.kill(dep_pid, signal.SIGSTOP)
            try:
                say("API-60", "dependency stopped", call(hurl))
            finally:
                os.kill(dep_pid, signal.SIGCONT)
            say("API-60", "dependency resumed", call(hurl))


def survey_resources(app, lifetime):
    """The bearer and forgery requests on every resource, with a fresh
    token of its first allow principal: per check and resource, the
    distinct answers as (status, WWW-Authenticate, the body's error/code)."""
    p = app.p
    for name, path, allow, _deny in p["resources"]:
        url = app.url + path
        rows = {}

        def note(cid, a):
            j = a.json() if isinstance(a.json(), dict) else {}
            key = "%d %s %s" % (a.status, a.headers.get("WWW-Authenticate"),
                                {k: j[k] for k in ("error", "code", "detail") if k in j})
            rows.setdefault(cid, set()).add(key)
        at, _ = app.tokens(allow[0])
        note("control", call(url, auth="Bearer " + at))
        note("API-10", call(url))
        note("API-11", call(url, auth="Bearer authprobe-garbage-token"))
        note("API-12", call(url, auth="Token " + at))
        note("API-13a", call(url, auth="bearer " + at))
        note("API-13b", call(url, auth="BEARER " + at))
        note("API-14", call(url + "?access_token=" + at))
        for cid, _label, tok in forgeries(at, p["user_claim"], p["other"]):
            note(cid, call(url, auth="Bearer " + tok))
        if name == p["resources"][0][0]:
            at2, _ = app.tokens(allow[0])
            time.sleep(lifetime + 2)
            note("API-30", call(url, auth="Bearer " + at2))
        for cid in rows:
            for key in sorted(rows[cid]):
                print("%-8s %-13s %s" % (cid, name, key[:150]), flush=True)


def main(argv=None, preset=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("tokens")
    t.add_argument("token")
    t.add_argument("--claim", default="sub")
    t.add_argument("--other-user")
    s = sub.add_parser("survey")
    s.add_argument("--app", choices=sorted(APPS), default=preset)
    s.add_argument("--url", required=True)
    s.add_argument("--dep-pid", type=int)
    s.add_argument("--lifetime", type=float, default=8)
    s.add_argument("--only", default="")
    s.add_argument("--resources", action="store_true",
                   help="the bearer and forgery requests on every resource instead")
    o = ap.parse_args(argv)
    if o.cmd == "tokens":
        for cid, label, tok in forgeries(o.token, o.claim, o.other_user):
            print("%s\t%s\t%s" % (cid, label, tok))
        return 0
    if o.app is None:
        ap.error("--app is required")
    only = set(filter(None, o.only.split(",")))
    if o.resources:
        survey_resources(App(o.app, o.url), o.lifetime)
        return 0
    survey(App(o.app, o.url), only, o.dep_pid, o.lifetime)
    return 0


if __name__ == "__main__":
    sys.exit(main())
