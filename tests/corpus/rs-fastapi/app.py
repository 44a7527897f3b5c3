"""app.py - a protected API in FastAPI whose access tokens are checked by
PyJWT, for the truth corpus of authprobe's resource-server suite
(tests/test_corpus_rs_fastapi.sh, tests/data/truth/rs-fastapi.txt).

Everything comes from Debian 12's packages (see debian-packages): FastAPI
0.92 with Starlette 0.26 and uvicorn 0.17, PyJWT 2.6 with its PyJWKClient.
The glue is written the way FastAPI's own documentation writes it (the
"OAuth2 scopes" tutorial: one dependency that decodes the token, per-route
scopes with Security(..., scopes=[...]), 401 "Could not validate
credentials" / "Not enough permissions" with WWW-Authenticate: Bearer
scope="..."), with HTTPBearer in place of the tutorial's password flow, and
the role and owner checks of FastAPI's full-stack project template (403 "The
user doesn't have enough privileges", 400 "Not enough permissions"). Library
defaults are kept on purpose, including the known one: HTTPBearer() answers
a request without Authorization with 403 {"detail": "Not authenticated"} and
no WWW-Authenticate header. Nothing is tuned to the suite.

PyJWT checks the RS256 signature against the key of the JWKS (ISSUER/jwks)
that the token's kid names, exp, nbf, iat, iss and aud. It does not look at
typ (RFC 9068 §4 wants at+jwt) and nothing here asks the issuer about
revocation.

Routes (every /api route needs a valid access token for --audience):
    GET  /api/items               scope api.read
    POST /api/items               scope api.write (JSON body {"name": ...})
    GET  /api/admin/stats         scope api.read and "admin" in the roles claim
    GET  /api/users/{sub}/profile scope api.read and the token's sub is {sub}
    GET  /api/me                  a valid token, no scope (who am I)
    GET  /healthz                 no token

    python3 app.py --issuer URL [--audience AUD] [--port N]

It binds 127.0.0.1 (port 0 unless --port) and prints its base URL as the
first stdout line once the socket listens; SIGTERM or SIGINT stops it.
"""

import argparse
import socket
import sys

import jwt
import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
from pydantic import BaseModel

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--issuer", required=True, help="the authorization server's issuer URL")
ap.add_argument("--audience", default="https://api.example.test")
ap.add_argument("--port", type=int, default=0)
opts = ap.parse_args()

ISSUER = opts.issuer.rstrip("/")
AUDIENCE = opts.audience
jwks_client = jwt.PyJWKClient(ISSUER + "/jwks")
security = HTTPBearer()  # the library default: auto_error=True

app = FastAPI()


def current_claims(
    security_scopes: SecurityScopes,
    credentials: HTTPAuthorizationCredentials = Depends(security),
) -> dict:
    if security_scopes.scopes:
        authenticate_value = f'Bearer scope="{security_scopes.scope_str}"'
    else:
        authenticate_value = "Bearer"
    credentials_exception = HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="Could not validate credentials",
        headers={"WWW-Authenticate": authenticate_value},
    )
    try:
        signing_key = jwks_client.get_signing_key_from_jwt(credentials.credentials)
        payload = jwt.decode(
            credentials.credentials,
            signing_key.key,
            algorithms=["RS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp"]},
        )
    except jwt.PyJWTError:
        raise credentials_exception
    token_scopes = str(payload.get("scope", "")).split()
    for scope in security_scopes.scopes:
        if scope not in token_scopes:
            raise HTTPException(
                status_code=status.HTTP_401_UNAUTHORIZED,
                detail="Not enough permissions",
                headers={"WWW-Authenticate": authenticate_value},
            )
    return payload


class ItemIn(BaseModel):
    name: str = "unnamed"


items = [{"id": 1, "name": "first item"}, {"id": 2, "name": "second item"}]


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@app.get("/api/items")
def list_items(claims: dict = Security(current_claims, scopes=["api.read"])):
    return {"items": items}


@app.post("/api/items", status_code=201)
def create_item(item: ItemIn, claims: dict = Security(current_claims, scopes=["api.write"])):
    new = {"id": len(items) + 1, "name": item.name[:100], "owner": claims.get("sub")}
    if len(items) < 1000:
        items.append(new)
    return new


@app.get("/api/admin/stats")
def admin_stats(claims: dict = Security(current_claims, scopes=["api.read"])):
    roles = claims.get("roles")
    if not isinstance(roles, list) or "admin" not in roles:
        raise HTTPException(status_code=403, detail="The user doesn't have enough privileges")
    return {"items": len(items)}


@app.get("/api/users/{sub}/profile")
def profile(sub: str, claims: dict = Security(current_claims, scopes=["api.read"])):
    if claims.get("sub") != sub:
        raise HTTPException(status_code=400, detail="Not enough permissions")
    return {"sub": sub, "roles": claims.get("roles", [])}


@app.get("/api/me")
def me(claims: dict = Security(current_claims)):
    return {"sub": claims.get("sub"), "client_id": claims.get("client_id")}


def main():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", opts.port))
    sock.listen(64)
    print("http://127.0.0.1:%d" % sock.getsockname()[1], flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    sys.exit(main())
