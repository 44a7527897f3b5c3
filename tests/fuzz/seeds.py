#!/usr/bin/env python3
"""seeds.py OUT - seed corpora for the harnesses of tests/fuzz/, picked from
the tree (tests/data, conf/, the corpus profiles) and from a few inline
examples, one folder per harness under OUT. Small on purpose: the fuzzer
grows its own corpus (tests/fuzz/README.md). Any file committed under
tests/fuzz/regress/HARNESS/ (an input that once crashed) is added too.
Python 3 standard library only."""

import glob
import hashlib
import json
import os
import sys

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


def seeds():
    out = {name: [] for name in
           ("cfg", "url", "clientauth", "jose", "suite", "tmpl", "html", "expect", "hop")}
    out["cfg"] += [read(p) for p in files("tests/data/cfg/*.json", "conf/authflowd.json",
                                          "tests/data/rs/*.json", "tests/data/integration/*.json")]
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
