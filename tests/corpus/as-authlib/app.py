#!/usr/bin/env python3
"""app.py - an OpenID provider built on Authlib's Flask server integration,
for the truth corpus of the `as` suite (tests/test_corpus_as_authlib.sh).

Authlib (Debian 12: python3-authlib 1.2, python3-flask 2.2) does the
protocol work: authlib.integrations.flask_oauth2.AuthorizationServer with
the authorization code grant + CodeChallenge (RFC 7636) + OpenIDCode, the
refresh token grant, RevocationEndpoint (RFC 7009) and
IntrospectionEndpoint (RFC 7662). This file is only the glue an Authlib
user writes, after Authlib's documentation (docs/flask/2/*.rst,
docs/specs/rfc7009.rst, rfc7662.rst, rfc7636.rst at v1.2.0) and its
example-oidc-server: in-memory models that do what the SQLAlchemy mixins
of authlib.integrations.sqla_oauth2 do, the documented grant subclasses,
the consent page of the example (a "confirm" checkbox, here with a
username/password login on the same page), a userinfo route behind
ResourceProtector, a JWKS and an OpenID discovery document that lists what
this file exposes. The library's defaults are kept: no refresh token
rotation (RefreshTokenGrant.INCLUDE_NEW_REFRESH_TOKEN is False), plain and
S256 PKCE, no RFC 9207 `iss`, no RFC 8414 document. Two settings are
needed to run at all: refresh tokens are switched on
(OAUTH2_REFRESH_TOKEN_GENERATOR, off by default) and plain http is allowed
(AUTHLIB_INSECURE_TRANSPORT: the server runs on loopback).

Usage: app.py [--listen HOST:PORT] [--issuer URL] [--code-ttl SECONDS]
Prints its base URL (the issuer) as the first line of stdout.

Clients (conf: CLIENTS below): authprobe-client, authprobe-client-2
(confidential, client_secret_basic), authprobe-public (public, PKCE),
authprobe-multi (two redirect URIs), authprobe-client-post (confidential,
client_secret_post). User: alice / alice-password.
"""

import argparse
import os
import socket
import sys
import time

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")  # http on loopback

from flask import Flask, request, session, jsonify  # noqa: E402
from markupsafe import escape  # noqa: E402
from authlib.common.security import generate_token  # noqa: E402
from authlib.integrations.flask_oauth2 import (  # noqa: E402
    AuthorizationServer, ResourceProtector, current_token)
from authlib.jose import JsonWebKey  # noqa: E402
from authlib.oauth2 import OAuth2Error  # noqa: E402
from authlib.oauth2.rfc6749 import (  # noqa: E402
    grants, ClientMixin, AuthorizationCodeMixin, TokenMixin,
    scope_to_list, list_to_scope)
from authlib.oauth2.rfc6750 import BearerTokenValidator  # noqa: E402
from authlib.oauth2.rfc7009 import RevocationEndpoint  # noqa: E402
from authlib.oauth2.rfc7636 import CodeChallenge  # noqa: E402
from authlib.oauth2.rfc7662 import IntrospectionEndpoint  # noqa: E402
from authlib.oidc.core import UserInfo  # noqa: E402
from authlib.oidc.core.grants import OpenIDCode as _OpenIDCode  # noqa: E402

CLIENTS = [
    {"client_id": "authprobe-client", "client_secret": "authprobe-client-secret",
     "redirect_uris": ["http://127.0.0.1:8765/callback"],
     "token_endpoint_auth_method": "client_secret_basic"},
    {"client_id": "authprobe-client-2", "client_secret": "authprobe-client-2-secret",
     "redirect_uris": ["http://127.0.0.1:8765/callback"],
     "token_endpoint_auth_method": "client_secret_basic"},
    {"client_id": "authprobe-public", "client_secret": "",
     "redirect_uris": ["http://127.0.0.1:5173/callback"],
     "token_endpoint_auth_method": "none"},
    {"client_id": "authprobe-multi", "client_secret": "authprobe-multi-secret",
     "redirect_uris": ["http://127.0.0.1:8080/callback", "http://localhost:8080/callback"],
     "token_endpoint_auth_method": "client_secret_basic"},
    {"client_id": "authprobe-client-post", "client_secret": "authprobe-client-post-secret",
     "redirect_uris": ["http://127.0.0.1:8765/callback"],
     "token_endpoint_auth_method": "client_secret_post"},
]
SCOPES = ["openid", "profile", "email"]


# ---- models: what authlib.integrations.sqla_oauth2's mixins do, in memory ----

class User:
    def __init__(self, uid, username, password, email):
        self.id, self.username, self.password, self.email = uid, username, password, email

    def get_user_id(self):
        return self.id


class Client(ClientMixin):
    def __init__(self, meta):
        self.client_id = meta["client_id"]
        self.client_secret = meta["client_secret"]
        self.client_metadata = dict(meta, grant_types=["authorization_code", "refresh_token"],
                                    response_types=["code"], scope=" ".join(SCOPES))

    @property
    def redirect_uris(self):
        return self.client_metadata.get("redirect_uris", [])

    @property
    def token_endpoint_auth_method(self):
        return self.client_metadata.get("token_endpoint_auth_method", "client_secret_basic")

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        if self.redirect_uris:
            return self.redirect_uris[0]

    def get_allowed_scope(self, scope):
        if not scope:
            return ""
        allowed = set(self.client_metadata["scope"].split())
        return list_to_scope([s for s in scope_to_list(scope) if s in allowed])

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret):
        import secrets
        return secrets.compare_digest(self.client_secret, client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        if endpoint == "token":
            return self.token_endpoint_auth_method == method
        return True

    def check_response_type(self, response_type):
        return response_type in self.client_metadata["response_types"]

    def check_grant_type(self, grant_type):
        return grant_type in self.client_metadata["grant_types"]


class AuthorizationCode(AuthorizationCodeMixin):
    TTL = 300  # OAuth2AuthorizationCodeMixin.is_expired: auth_time + 300

    def __init__(self, **kw):
        self.__dict__.update(kw)
        self.auth_time = int(time.time())

    def is_expired(self):
        return self.auth_time + self.TTL < time.time()

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_auth_time(self):
        return self.auth_time

    def get_nonce(self):
        return self.nonce


class Token(TokenMixin):
    def __init__(self, client_id, user_id, **token):
        self.client_id, self.user_id = client_id, user_id
        self.token_type = token.get("token_type")
        self.access_token = token["access_token"]
        self.refresh_token = token.get("refresh_token")
        self.scope = token.get("scope", "")
        self.issued_at = int(time.time())
        self.expires_in = token.get("expires_in", 0)
        self.access_token_revoked_at = 0
        self.refresh_token_revoked_at = 0

    def check_client(self, client):
        return self.client_id == client.get_client_id()

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_in

    def is_revoked(self):
        return self.access_token_revoked_at or self.refresh_token_revoked_at

    def is_expired(self):
        if not self.expires_in:
            return False
        return self.issued_at + self.expires_in < time.time()

    def is_refresh_token_valid(self):
        return not self.refresh_token_revoked_at and not self.is_expired()


USERS = {"alice": User(1, "alice", "alice-password", "alice@example.org")}
USERS_BY_ID = {u.id: u for u in USERS.values()}
CLIENTS_BY_ID = {c["client_id"]: Client(c) for c in CLIENTS}
CODES = {}   # code -> AuthorizationCode
TOKENS = []  # Token


def query_client(client_id):
    return CLIENTS_BY_ID.get(client_id)


def save_token(token, req):
    user_id = req.user.get_user_id() if req.user else None
    TOKENS.append(Token(req.client.client_id, user_id, **token))


def query_token(token_string, token_type_hint):
    # the lookup of RevocationEndpoint.query_token's docstring and of
    # sqla_oauth2.create_query_token_func
    if token_type_hint == "access_token":
        return next((t for t in TOKENS if t.access_token == token_string), None)
    if token_type_hint == "refresh_token":
        return next((t for t in TOKENS if t.refresh_token == token_string), None)
    return (next((t for t in TOKENS if t.access_token == token_string), None)
            or next((t for t in TOKENS if t.refresh_token == token_string), None))


# ---- grants and endpoints (docs/flask/2/grants.rst, openid-connect.rst) ----

class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    # docs/specs/rfc7636.rst: add "none" for the public client
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def save_authorization_code(self, code, req):
        item = AuthorizationCode(
            code=code, client_id=req.client.client_id, redirect_uri=req.redirect_uri,
            scope=req.scope, user_id=req.user.id, nonce=req.data.get("nonce"),
            code_challenge=req.data.get("code_challenge"),
            code_challenge_method=req.data.get("code_challenge_method"))
        CODES[code] = item
        return item

    def query_authorization_code(self, code, client):
        item = CODES.get(code)
        if item and item.client_id == client.client_id and not item.is_expired():
            return item

    def delete_authorization_code(self, authorization_code):
        CODES.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code):
        return USERS_BY_ID.get(authorization_code.user_id)


class RefreshTokenGrant(grants.RefreshTokenGrant):
    # the default is client_secret_basic only; the public client refreshes too
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def authenticate_refresh_token(self, refresh_token):
        item = next((t for t in TOKENS if t.refresh_token == refresh_token), None)
        if item and item.is_refresh_token_valid():
            return item

    def authenticate_user(self, credential):
        return USERS_BY_ID.get(credential.user_id)

    def revoke_old_credential(self, credential):
        # docs: credential.revoked = True
        now = int(time.time())
        credential.access_token_revoked_at = now
        credential.refresh_token_revoked_at = now


class OpenIDCode(_OpenIDCode):
    def exists_nonce(self, nonce, req):
        return any(c.client_id == req.client_id and c.nonce == nonce for c in CODES.values())

    def get_jwt_config(self, grant):
        return {"key": KEY.as_dict(is_private=True), "alg": "RS256", "iss": ISSUER, "exp": 3600}

    def generate_user_info(self, user, scope):
        info = UserInfo(sub=str(user.id), name=user.username)
        if "email" in scope:
            info["email"] = user.email
        return info


class MyRevocationEndpoint(RevocationEndpoint):
    def query_token(self, token_string, token_type_hint):
        return query_token(token_string, token_type_hint)

    def revoke_token(self, token, req):
        # RevocationEndpoint.revoke_token's docstring / create_revocation_endpoint
        now = int(time.time())
        token.access_token_revoked_at = now
        if req.form.get("token_type_hint") != "access_token":
            token.refresh_token_revoked_at = now


class MyIntrospectionEndpoint(IntrospectionEndpoint):
    def query_token(self, token_string, token_type_hint):
        return query_token(token_string, token_type_hint)

    def introspect_token(self, token):
        user = USERS_BY_ID.get(token.user_id)
        return {"active": True, "client_id": token.client_id, "token_type": token.token_type,
                "username": user.username if user else None, "scope": token.get_scope(),
                "sub": str(token.user_id), "aud": token.client_id, "iss": ISSUER,
                "exp": token.issued_at + token.expires_in, "iat": token.issued_at}

    def check_permission(self, token, client, req):
        return token.check_client(client)


class MyBearerTokenValidator(BearerTokenValidator):
    def authenticate_token(self, token_string):
        return next((t for t in TOKENS if t.access_token == token_string), None)


# ---- the Flask app ----

app = Flask(__name__)
app.secret_key = generate_token(32)
app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = True
app.config["OAUTH2_SCOPES_SUPPORTED"] = SCOPES

server = AuthorizationServer()
require_oauth = ResourceProtector()
KEY = None
ISSUER = None


def current_user():
    if "id" in session:
        return USERS_BY_ID.get(session["id"])
    return None


PAGE = """<!doctype html>
<html><head><title>Authorize {client}</title></head><body>
<p>The application <strong>{client}</strong> is requesting: <strong>{scope}</strong></p>
<form action="" method="post">
  <label><input type="checkbox" name="confirm"> <span>Consent?</span></label>
  {login}
  <br><button>Submit</button>
</form>
</body></html>
"""
LOGIN = """<p>You haven't logged in. Log in with:</p>
  <div><label>Username <input type="text" name="username"></label></div>
  <div><label>Password <input type="password" name="password"></label></div>"""


@app.route("/oauth/authorize", methods=["GET", "POST"])
def authorize():
    user = current_user()
    if request.method == "GET":
        try:
            grant = server.get_consent_grant(end_user=user)
        except OAuth2Error as error:
            return server.handle_error_response(request, error)
        return PAGE.format(client=escape(grant.client.client_id),
                           scope=escape(grant.request.scope or ""),
                           login="" if user else LOGIN)
    if not user and "username" in request.form:
        candidate = USERS.get(request.form.get("username", ""))
        if candidate and candidate.password == request.form.get("password"):
            user = candidate
            session["id"] = user.id
    if request.form.get("confirm"):
        grant_user = user
    else:
        grant_user = None
    return server.create_authorization_response(grant_user=grant_user)


@app.route("/oauth/token", methods=["POST"])
def issue_token():
    return server.create_token_response()


@app.route("/oauth/revoke", methods=["POST"])
def revoke_token():
    return server.create_endpoint_response(MyRevocationEndpoint.ENDPOINT_NAME)


@app.route("/oauth/introspect", methods=["POST"])
def introspect_token():
    return server.create_endpoint_response(MyIntrospectionEndpoint.ENDPOINT_NAME)


@app.route("/oauth/userinfo")
@require_oauth("openid")
def userinfo():
    token = current_token
    user = USERS_BY_ID.get(token.user_id)
    return jsonify(OpenIDCode().generate_user_info(user, token.scope))


@app.route("/oauth/jwks")
def jwks():
    return jsonify({"keys": [KEY.as_dict(is_private=False)]})


@app.route("/.well-known/openid-configuration")
def discovery():
    return jsonify({
        "issuer": ISSUER,
        "authorization_endpoint": ISSUER + "/oauth/authorize",
        "token_endpoint": ISSUER + "/oauth/token",
        "userinfo_endpoint": ISSUER + "/oauth/userinfo",
        "jwks_uri": ISSUER + "/oauth/jwks",
        "revocation_endpoint": ISSUER + "/oauth/revoke",
        "introspection_endpoint": ISSUER + "/oauth/introspect",
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": CodeChallenge.SUPPORTED_CODE_CHALLENGE_METHOD,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claims_supported": ["sub", "name", "email", "iss", "aud", "exp", "iat", "auth_time", "nonce"],
    })


def main():
    global KEY, ISSUER
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--issuer")
    ap.add_argument("--code-ttl", type=int, default=AuthorizationCode.TTL)
    args = ap.parse_args()
    AuthorizationCode.TTL = args.code_ttl
    host, port = args.listen.rsplit(":", 1)

    KEY = JsonWebKey.generate_key("RSA", 2048, is_private=True)
    KEY = JsonWebKey.import_key(KEY.as_dict(is_private=True, kid=KEY.thumbprint()))

    server.init_app(app, query_client=query_client, save_token=save_token)
    server.register_grant(AuthorizationCodeGrant,
                          [CodeChallenge(required=True), OpenIDCode(require_nonce=True)])
    server.register_grant(RefreshTokenGrant)
    server.register_endpoint(MyRevocationEndpoint)
    server.register_endpoint(MyIntrospectionEndpoint)
    require_oauth.register_token_validator(MyBearerTokenValidator())

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, int(port)))
    sock.listen(64)
    base = "http://%s:%d" % (host, sock.getsockname()[1])
    ISSUER = (args.issuer or base).rstrip("/")
    print(base, flush=True)

    from werkzeug.serving import make_server
    srv = make_server(host, int(port), app, threaded=True, fd=sock.fileno())
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
