#!/usr/bin/env python3
"""seeds.py OUT - seed corpora for the harnesses of tests/fuzz/, picked from
the tree (tests/data, conf/, docs/, the corpus profiles) and from a few inline
examples, one folder per harness under OUT. Small on purpose: the fuzzer
grows its own corpus (tests/fuzz/README.md). Any file committed under
tests/fuzz/regress/HARNESS/ (an input that once crashed) is added too.
Python 3 standard library only."""

import glob
import hashlib
import json
import os
import re
import sys
import urllib.parse

SRC = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def files(*patterns):
    out = []
    for p in patterns:
        out += sorted(glob.glob(os.path.join(SRC, p), recursive=True))
    return out


def read(path):
    with open(path, "rb") as f:
        return f.read()


def walk(v, fn):
    fn(v)
    if isinstance(v, dict):
        for x in v.values():
            walk(x, fn)
    elif isinstance(v, list):
        for x in v:
            walk(x, fn)


def json_files(*patterns):
    for p in files(*patterns):
        try:
            yield json.loads(read(p))
        except ValueError:
            pass


LOGIN = (b'<html><body><form id="login" method="post" action="/login?x=1&amp;y=2">'
         b'<input type="hidden" name="af_action" value="login">'
         b'<input name="username" value="a&eacute;&#233;&#xE9;"><input type="password" name="password">'
         b'<select name="s"><option value="1" selected>one</select><textarea name="t">x</textarea>'
         b'<button type="submit" name="go" value="yes">Go</button></form>'
         b'<a href="/cancel?state=1">Cancel &amp; back</a></body></html>')
JWKS = {"keys": [
    {"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig", "e": "AQAB",
     "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw"},
    {"kty": "EC", "kid": "k2", "alg": "ES256", "crv": "P-256",
     "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
    {"kty": "oct", "kid": "k3", "alg": "HS256", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg"},
    {"kty": "OKP", "kid": "k4", "alg": "EdDSA", "crv": "Ed25519",
     "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}
JWTS = [
    b"eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJpc3MiOiJodHRwOi8vMTI3LjAuMC4xOjkwMDAiLCJzdWIiOiJhbGljZSIsImF1ZCI6ImMiLCJleHAiOjQxMDI0NDQ4MDB9.c2lnbmF0dXJl",
    b"eyJhbGciOiJIUzI1NiIsImtpZCI6ImszIn0.eyJzdWIiOiJhIn0.AAAA",
    b"eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.",
    b"eyJhbGciOiJFUzI1NiIsImtpZCI6ImsyIn0.e30.AAAA",
]


# fuzz_login: the authorization request of the harness's config
# (tests/fuzz/fuzz_server.h) as the login page's hidden fields carry it.
AUTHZ = ("response_type=code&client_id=app&redirect_uri=https%3A%2F%2Frp.example%2Fcb"
         "&scope=openid%20email&state=st-1&nonce=n-1"
         "&code_challenge=E9Melhoa2OwvFrEMTJguCHgDZdHLB6MDsWLrSCz3ENO&code_challenge_method=S256")


def login_seeds():
    """A flags byte (1: the login cookie, 2: the page's af_csrf) and a
    form: each way through /login, and the users of tests/data's configs."""
    forms = [(3, AUTHZ + "&username=alice&password=pw&af_action=login"),
             (3, AUTHZ + "&af_user=bob&af_action=login"),
             (3, AUTHZ + "&af_action=cancel"),
             (3, AUTHZ + "&username=alice&password=wrong&af_action=login"),
             (3, AUTHZ + "&username=alice&username=bob"),
             (3, AUTHZ.replace("state=st-1", "state=%22%3E%3Cscript%3E") + "&response_mode=form_post&af_user=alice"),
             (3, "response_type=code&client_id=spa&redirect_uri=http%3A%2F%2F127.0.0.1%3A5173%2Fcb"
                 "&scope=openid&state=s&response_mode=fragment&af_user=bob"),
             (3, AUTHZ.replace("client_id=app", "client_id=evil") + "&af_user=bob"),
             (1, AUTHZ + "&af_csrf=forged-token&username=alice&password=pw"),
             (2, AUTHZ + "&af_user=alice"),
             (0, AUTHZ + "&af_user=alice")]
    users = set()
    for doc in json_files("tests/data/**/*.json"):
        for u in doc.get("users", []) if isinstance(doc, dict) and isinstance(doc.get("users"), list) else []:
            if isinstance(u, dict) and isinstance(u.get("username"), str):
                users.add((u["username"], u.get("password") if isinstance(u.get("password"), str) else ""))
    for name, pw in sorted(users):
        forms.append((3, AUTHZ + "&" + urllib.parse.urlencode({"username": name, "password": pw})))
    return [bytes([f]) + body.encode() for f, body in forms]


def admin_seeds():
    """A selector byte (bit 0: /admin/scenarios, else /admin/tokens) and a
    JSON body: the scenario entries of tests/data's configs (the queue takes
    the same members), the bodies of the docs' examples, and mint requests
    with each member and defect."""
    out, seen = [], set()

    def add(sel, body):
        t = json.dumps(body, sort_keys=True).encode()
        if (sel, t) not in seen:
            seen.add((sel, t))
            out.append(bytes([sel]) + t)

    for doc in json_files("tests/data/**/*.json"):
        for sc in doc.get("scenarios", []) if isinstance(doc, dict) and isinstance(doc.get("scenarios"), list) else []:
            add(1, sc)
    for p in files("docs/*.md"):
        for m in re.finditer(rb"-d '(\{[^']*\})'", read(p)):
            try:
                body = json.loads(m.group(1))
            except ValueError:
                continue
            add(1 if "name" in body else 0, body)
    for body in ({}, {"user": "alice", "defects": ["expired", "wrong_aud"]},
                 {"user": None, "client": "app", "scope": "openid", "aud": ["a", "b"], "ttl": 60,
                  "claims": {"roles": ["x"], "n": 1.5}},
                 {"user": "bob", "defects": ["wrong_typ"]}, {"user": "alice", "defects": ["no_exp"]},
                 {"user": "alice", "defects": ["exp_string"]},
                 {"user": "alice", "defects": ["aud_null", "nbf_string"]}, {"defects": ["aud_true"]},
                 {"defects": ["alg_none", "hs256_public_key", "unknown_kid", "revoked", "no_scope",
                              "not_yet_valid", "wrong_iss", "bad_signature", "alg_none_mixed_case"]},
                 {"user": "u-1", "claims": {"sub": "x"}}, {"ttl": 0}, {"aud": 5}):
        add(0, body)
    for body in ({"name": "token_delay", "client": "spa", "user": "alice", "times": 2, "delay_ms": 10},
                 {"name": "authorize_access_denied"}, {"name": "nope"}):
        add(1, body)
    add(2, {"name": "jwks_error"})
    return out


LEDGER_QUERIES = [b"", b"limit=0", b"since=0&limit=10", b"path=/token&method=POST&client_id=app",
                  b"code=code-AAAA-full-value", b"client=app&since=2&limit=1", b"path=%2Fcaf%E9",
                  b"limit=1001", b"client_id=a&client=b", b"since=-1", b"since=99999999999999999999",
                  b"path=/a&path=/b", b"x=1", b"code=code-%C3&client=app%FF",
                  b"client_secret=s3cret&code_verifier=abc&password=pw&" + b"v=" + b"a" * 600]


def seeds():
    out = {name: [] for name in
           ("cfg", "url", "clientauth", "jose", "suite", "tmpl", "html", "expect", "hop",
            "login", "admin", "ledger", "jsonw")}
    out["login"] += login_seeds()
    out["admin"] += admin_seeds()
    out["ledger"] += LEDGER_QUERIES
    # the ledger queries of the docs' examples
    for p in files("docs/*.md"):
        out["ledger"] += [m.group(1) for m in re.finditer(rb"/admin/ledger\?([^\s\"'|]*)", read(p))]
    out["cfg"] += [read(p) for p in files("tests/data/cfg/*.json", "conf/authflowd.json",
                                          "conf/issuers.json", "tests/data/rs/*.json",
                                          "tests/data/integration/*.json")]
    out["suite"] += [b"\0" + read(p) for p in files("conf/suites/*.json")]
    out["suite"] += [b"\1" + read(p) for p in files("conf/targets/*.json", "conf/apps/*.json",
                                                    "tests/corpus/*/profile.json")]
    strings, expects = set(), []

    def pick(v):
        if isinstance(v, str) and "{{" in v:
            strings.add(v)
        if isinstance(v, dict):
            for key in ("expect", "when", "requires"):
                if isinstance(v.get(key), list):
                    expects.extend(v[key])

    for doc in json_files("conf/suites/*.json", "conf/targets/*.json", "conf/apps/*.json"):
        walk(doc, pick)
    out["tmpl"] += [s.encode() for s in sorted(strings)]
    seen = set()
    for e in expects:
        t = json.dumps(e, sort_keys=True).encode()
        if t not in seen:
            seen.add(t)
            out["expect"].append(t)
    # the writer's inputs: every JSON file of the tree, and the escapes
    out["jsonw"] += [read(p) for p in files("conf/*.json", "conf/suites/*.json",
                                            "tests/data/cfg/*.json")]
    out["jsonw"] += [b'"\\u0000\\u001f\\u007f\\b\\f\\n\\r\\t\\"\\\\/\\u2028caf\xc3\xa9"',
                     b'{"a":[1,-2,1.5e300,0.1,true,false,null,{}],"\\u0000k":[[]]}',
                     b"9223372036854775807", b"-0.0", b"[" * 40 + b"]" * 40]
    out["html"] += [LOGIN, b"<form action='x'><input name=a value='&amp;&lt;&#0;&#x110000;'></form>"]
    out["jose"] += [j + b"\x01" + json.dumps(JWKS).encode() for j in JWTS]
    out["url"] += [b"a=1&b=%20%C3%A9&c&=d&e=+\x01http://127.0.0.1:9000/cb?x=1#f",
                   b"http://[::1]:80/a/../b\x01../c?d",
                   b"com.example.app:/cb\x01com.example.app:/cb",
                   b"caf\xe9 \x1b[31m \xc2\x9b \x00 \xf0\x9f\x98\x80"]
    out["clientauth"] += [b"Basic dGVzdC1jbGllbnQ6c2VjcmV0", b"basic  YTpi", b"Bearer abc.def",
                          b"Basic dGVzdCUzQTpzJTIw"]
    out["hop"] += [
        b"params.code\x01302\x01Location: http://127.0.0.1:8765/cb?code=abc&state=s#x=1\x01",
        b"json.error\x01400\x01Content-Type: application/json\nCache-Control: no-store\x01"
        b'{"error":"invalid_grant","keys":[{"kid":"k"}]}',
        b"form.action\x01200\x01Content-Type: text/html\x01" + LOGIN,
        b"header.WWW-Authenticate\x01401\x01WWW-Authenticate: Bearer error=\"invalid_token\"\x01",
    ]
    for name in out:
        out[name] += [read(p) for p in files("tests/fuzz/regress/%s/*" % name)]
    return out


def main(argv):
    if len(argv) != 1:
        sys.stderr.write(__doc__ + "\n")
        return 2
    for name, items in seeds().items():
        d = os.path.join(argv[0], name)
        os.makedirs(d, exist_ok=True)
        for data in items:
            with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
                f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
