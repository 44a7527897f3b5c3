"""app.py - an orders API in FastAPI that logs its users in and issues its
own JWTs with PyJWT, for the truth corpus of `authprobe api`
(tests/test_corpus_api_fastapi.sh, tests/data/truth/api-fastapi.txt).

Everything comes from Debian 12's packages (see debian-packages): FastAPI
0.92 (Starlette 0.26, uvicorn 0.17, python-multipart for the form), PyJWT
2.6, passlib 1.7 with bcrypt. The glue follows FastAPI's tutorial "OAuth2
with Password (and hashing), Bearer with JWT tokens": OAuth2PasswordBearer,
OAuth2PasswordRequestForm, a CryptContext, create_access_token with HS256
and a random SECRET_KEY, get_current_user raising 401 "Could not validate
credentials". Where the tutorial stops short of RFC 6749 (its 401 on a bad
password, its 422 on a missing field, no Cache-Control) the login answers as
§5.1/§5.2 require; the refresh token, rotation with reuse detection and
logout are the usual additions (a server-side table of refresh token ids,
a deny list of logged-out access token ids).

Routes:
    POST /auth/token            OAuth2PasswordRequestForm -> 200
                                {access_token, token_type, expires_in,
                                refresh_token}, Cache-Control: no-store;
                                400 {"error": "invalid_grant"} (bad
                                credentials), 400 {"error": "invalid_request"}
                                (a field missing)
    POST /auth/refresh          JSON {"refresh_token"}: a new pair; the old
                                refresh token is spent, and presenting a
                                spent one revokes its whole family
    POST /auth/logout           Bearer access token, JSON {"refresh_token"}:
                                both revoked
    GET  /me                    {"username", "roles"}
    GET  /users/{name}/orders   the owner or an admin (else 403)
    GET  /admin/stats           role admin (else 403)
    GET  /health                pings --dependency (1 s): 200, or 503
                                {"error": "dependency_unavailable"}

Users: alice/alice-pw, bob/bob-pw, carol/carol-pw (admin).

    python3 app.py --dependency URL [--token-lifetime S] [--port N]
                   [--flaw NAME]...

Each --flaw switches on one realistic mistake (FLAWS below lists them; the
truth table tests/data/truth/api-fastapi-flaws.txt says what each must
change in the probe's verdicts). It binds 127.0.0.1 (port 0 unless --port)
and prints its base URL as the first stdout line once the socket listens;
SIGTERM or SIGINT stops it.
"""

import argparse
import asyncio
import secrets
import socket
import sys
import time
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from typing import Optional

import jwt
import uvicorn
from fastapi import Depends, FastAPI, Form, HTTPException, Request, status
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer, OAuth2PasswordBearer, OAuth2PasswordRequestForm
from passlib.context import CryptContext
from pydantic import BaseModel

FLAWS = {
    "idor": "/users/{name}/orders serves any logged-in user, not only the owner",
    "no-verify": "tokens are decoded with verify_signature False",
    "alg-none-accepted": 'tokens whose header says alg "none" are decoded unverified',
    "weak-secret": 'the HS256 key is "secret"',
    "no-exp": "tokens are decoded with verify_exp False",
    "refresh-reuse": "a refresh token stays valid after it was rotated",
    "logout-noop": "logout revokes nothing",
    "shared-user": "the current user is kept in a module global across an await",
    "health-lies": "/health answers 200 whatever the ping says",
    "500-on-missing-field": "the login form lowercases a username that may be None",
    "403-no-auth": "HTTPBearer() instead of OAuth2PasswordBearer: 403 without a challenge",
    "no-error-key": 'the 401 of a bad token is the tutorial\'s plain "Bearer", no error code',
    "login-401": "a bad login is the tutorial's 401 {\"detail\": ...}, not 400 invalid_grant",
    "no-store-missing": "the token answer has no Cache-Control: no-store",
}

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--dependency", required=True, help="URL that /health pings")
ap.add_argument("--token-lifetime", type=int, default=900, help="access token seconds")
ap.add_argument("--port", type=int, default=0)
ap.add_argument("--flaw", action="append", default=[], choices=sorted(FLAWS))
opts = ap.parse_args()
flaws = set(opts.flaw)

# "openssl rand -hex 32", as the tutorial says; the flaw is the key left
# at a placeholder.
SECRET_KEY = "secret" if "weak-secret" in flaws else secrets.token_hex(32)
ALGORITHM = "HS256"
ACCESS_TOKEN_EXPIRE = timedelta(seconds=opts.token_lifetime)
REFRESH_TOKEN_EXPIRE = timedelta(days=1)

pwd_context = CryptContext(schemes=["bcrypt"], deprecated="auto")

fake_users_db = {
    "alice": {"username": "alice", "roles": ["user"], "hashed_password": pwd_context.hash("alice-pw")},
    "bob": {"username": "bob", "roles": ["user"], "hashed_password": pwd_context.hash("bob-pw")},
    "carol": {"username": "carol", "roles": ["user", "admin"], "hashed_password": pwd_context.hash("carol-pw")},
}
orders = {
    "alice": [{"id": 1, "item": "tea", "qty": 2}],
    "bob": [{"id": 2, "item": "coffee", "qty": 1}],
    "carol": [],
}

# Refresh token id -> {"username", "family", "spent"}; revoked families and
# logged-out access token ids. One event loop, no lock needed.
refresh_tokens = {}
revoked_families = set()
revoked_access = set()

if "403-no-auth" in flaws:
    oauth2_scheme = HTTPBearer()
else:
    oauth2_scheme = OAuth2PasswordBearer(tokenUrl="auth/token")

app = FastAPI()


class User(BaseModel):
    username: str
    roles: list


class RefreshIn(BaseModel):
    refresh_token: str


class LogoutIn(BaseModel):
    refresh_token: Optional[str] = None


class LowercaseLoginForm:
    """The flaw 500-on-missing-field: "log in with any case", written with
    optional fields and no None check (AttributeError -> 500)."""

    def __init__(self, username: str = Form(None), password: str = Form(None),
                 grant_type: str = Form(None), scope: str = Form("")):
        self.username = username.strip().lower()
        self.password = password
        self.scopes = scope.split()


LoginForm = LowercaseLoginForm if "500-on-missing-field" in flaws else OAuth2PasswordRequestForm


def get_user(username: str) -> Optional[dict]:
    return fake_users_db.get(username)


def authenticate_user(username: str, password: str):
    user = get_user(username)
    if not user:
        return False
    if not pwd_context.verify(password, user["hashed_password"]):
        return False
    return user


def create_token(data: dict, expires_delta: timedelta) -> str:
    to_encode = data.copy()
    now = datetime.now(timezone.utc)
    to_encode.update({"iat": now, "exp": now + expires_delta, "jti": uuid.uuid4().hex})
    return jwt.encode(to_encode, SECRET_KEY, algorithm=ALGORITHM)


def issue_pair(username: str, family: str) -> dict:
    refresh = create_token({"sub": username, "type": "refresh", "fam": family}, REFRESH_TOKEN_EXPIRE)
    jti = jwt.decode(refresh, SECRET_KEY, algorithms=[ALGORITHM])["jti"]
    refresh_tokens[jti] = {"username": username, "family": family, "spent": False}
    return {
        "access_token": create_token({"sub": username, "type": "access"}, ACCESS_TOKEN_EXPIRE),
        "token_type": "bearer",
        "expires_in": opts.token_lifetime,
        "refresh_token": refresh,
    }


def token_answer(body: dict, status_code: int = 200) -> JSONResponse:
    headers = {} if "no-store-missing" in flaws else {"Cache-Control": "no-store", "Pragma": "no-cache"}
    return JSONResponse(body, status_code=status_code, headers=headers)


def decode_token(token: str) -> dict:
    """The token's claims, or a jwt.PyJWTError."""
    if "no-verify" in flaws:
        return jwt.decode(token, options={"verify_signature": False})
    if "alg-none-accepted" in flaws and jwt.get_unverified_header(token).get("alg") == "none":
        return jwt.decode(token, options={"verify_signature": False})
    options = {"verify_exp": False} if "no-exp" in flaws else None
    return jwt.decode(token, SECRET_KEY, algorithms=[ALGORITHM], options=options)


def bearer_token(credentials=Depends(oauth2_scheme)) -> str:
    # OAuth2PasswordBearer gives the token; HTTPBearer its credentials.
    return getattr(credentials, "credentials", credentials)


async def get_current_user(token: str = Depends(bearer_token)) -> User:
    challenge = "Bearer" if "no-error-key" in flaws else 'Bearer error="invalid_token"'
    credentials_exception = HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=None if "no-error-key" in flaws else "Could not validate credentials",
        headers={"WWW-Authenticate": challenge},
    )
    try:
        payload = decode_token(token)
    except jwt.PyJWTError:
        raise credentials_exception
    username = payload.get("sub")
    if not isinstance(username, str) or payload.get("type") != "access":
        raise credentials_exception
    if payload.get("jti") in revoked_access:
        raise credentials_exception
    user = get_user(username)
    if user is None:
        raise credentials_exception
    return User(username=user["username"], roles=user["roles"])


if "no-error-key" in flaws:
    @app.exception_handler(HTTPException)
    async def bare_http_exception(request: Request, exc: HTTPException):
        # "do not leak why": the status and headers, an empty JSON object
        return JSONResponse({}, status_code=exc.status_code, headers=exc.headers)


@app.exception_handler(RequestValidationError)
async def validation_exception_handler(request: Request, exc: RequestValidationError):
    if request.url.path == "/auth/token":
        return token_answer({"error": "invalid_request",
                             "error_description": "username and password are required"}, 400)
    return await request_validation_exception_handler(request, exc)


@app.post("/auth/token")
async def login_for_access_token(form_data: LoginForm = Depends()):
    user = authenticate_user(form_data.username, form_data.password)
    if not user:
        if "login-401" in flaws:
            raise HTTPException(
                status_code=status.HTTP_401_UNAUTHORIZED,
                detail="Incorrect username or password",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return token_answer({"error": "invalid_grant",
                             "error_description": "Incorrect username or password"}, 400)
    return token_answer(issue_pair(user["username"], uuid.uuid4().hex))


@app.post("/auth/refresh")
async def refresh(body: RefreshIn):
    invalid = token_answer({"error": "invalid_grant", "error_description": "invalid refresh token"}, 400)
    try:
        payload = jwt.decode(body.refresh_token, SECRET_KEY, algorithms=[ALGORITHM])
    except jwt.PyJWTError:
        return invalid
    entry = refresh_tokens.get(payload.get("jti"))
    if payload.get("type") != "refresh" or entry is None or entry["family"] in revoked_families:
        return invalid
    if entry["spent"]:
        revoked_families.add(entry["family"])  # reuse: someone else has a copy
        return invalid
    if "refresh-reuse" not in flaws:
        entry["spent"] = True
    return token_answer(issue_pair(entry["username"], entry["family"]))


@app.post("/auth/logout")
async def logout(body: LogoutIn, token: str = Depends(bearer_token),
                 current_user: User = Depends(get_current_user)):
    if "logout-noop" not in flaws:
        revoked_access.add(decode_token(token).get("jti"))
        if body.refresh_token:
            try:
                payload = jwt.decode(body.refresh_token, SECRET_KEY, algorithms=[ALGORITHM])
            except jwt.PyJWTError:
                payload = {}
            entry = refresh_tokens.get(payload.get("jti"))
            if entry is not None and entry["username"] == current_user.username:
                revoked_families.add(entry["family"])
    return {"detail": "logged out"}


# The flaw shared-user: the user of "the current request" in a module
# global, for the audit log. Another request can set it during the await.
current_request_user = None


async def audit(event: str, user: User):
    await asyncio.sleep(0.05)  # stands for the audit log's database write


@app.get("/me")
async def read_users_me(current_user: User = Depends(get_current_user)):
    global current_request_user
    current_request_user = current_user
    await audit("me", current_user)
    if "shared-user" in flaws:
        current_user = current_request_user
    return {"username": current_user.username, "roles": current_user.roles}


@app.get("/users/{name}/orders")
async def read_orders(name: str, current_user: User = Depends(get_current_user)):
    if name not in orders:
        raise HTTPException(status_code=404, detail="User not found")
    if "idor" not in flaws and name != current_user.username and "admin" not in current_user.roles:
        raise HTTPException(status_code=403, detail="Not enough permissions")
    return {"username": name, "orders": orders[name]}


@app.get("/admin/stats")
async def admin_stats(current_user: User = Depends(get_current_user)):
    if "admin" not in current_user.roles:
        raise HTTPException(status_code=403, detail="Not enough permissions")
    return {"users": len(fake_users_db), "orders": sum(len(v) for v in orders.values())}


def ping_dependency() -> Optional[str]:
    """None when the dependency answers 2xx within a second, else why not."""
    try:
        with urllib.request.urlopen(opts.dependency, timeout=1) as r:
            r.read()
        return None
    except OSError as e:
        return str(e)


@app.get("/health")
async def health():
    started = time.monotonic()
    problem = await asyncio.get_running_loop().run_in_executor(None, ping_dependency)
    if problem is not None and "health-lies" not in flaws:
        return JSONResponse({"error": "dependency_unavailable", "detail": problem}, status_code=503)
    return {"status": "ok", "ms": int((time.monotonic() - started) * 1000)}


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
