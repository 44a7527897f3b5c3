#!/usr/bin/env python3
"""app.py - an orders API in Django REST framework that logs its users in
and issues its own JWTs with djangorestframework-simplejwt, for the truth
corpus of `authprobe api` (tests/test_corpus_api_drf.sh,
tests/data/truth/api-drf.txt).

Django 3.2, Django REST framework 3.14 and simplejwt 5.2 from Debian 12
(debian-packages). Settings, URLs and views in this one file, as simplejwt's
"Getting started" and DRF's tutorial write them: JWTAuthentication as the
default authentication class, TokenObtainPairView (JSON login),
TokenRefreshView with ROTATE_REFRESH_TOKENS and BLACKLIST_AFTER_ROTATION
(the token_blacklist app, its tables in a SQLite file in a temporary
folder), TokenBlacklistView as logout, IsAuthenticated, an object
permission "owner or staff", IsAdminUser. Every other behaviour is the
libraries' default, including two that the truth table records: the token
answer has no Cache-Control, and JWTAuthentication compares the scheme
"Bearer" case-sensitively.

Routes:
    POST /api/token/                {"username", "password"} -> {"refresh",
                                    "access"}; 401 {"detail": ...}
    POST /api/token/refresh/        {"refresh"} -> a new pair (rotation;
                                    the old refresh token is blacklisted)
    POST /api/token/blacklist/      {"refresh"}: logout
    GET  /api/me/                   {"username", "is_staff"}
    GET  /api/users/<name>/orders/  the owner or staff (else 403)
    GET  /api/admin/stats/          IsAdminUser (else 403)
    GET  /api/health/               pings --dependency (1 s): 200, or 503
                                    {"error": "dependency_unavailable"}

Users: alice/alice-pw (id 1), bob/bob-pw (id 2), carol/carol-pw (id 3,
is_staff).

    python3 app.py --dependency URL [--token-lifetime S] [--listen H:P]
                   [--flaw NAME]...

Each --flaw switches on one realistic mistake (FLAWS below;
tests/data/truth/api-drf-flaws.txt says what each changes in the probe's
verdicts). The first stdout line is the app's base URL (127.0.0.1, port 0
by default); SIGTERM stops it. Django's own threaded WSGI server serves it.
"""

import argparse
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import timedelta

import django
from django.conf import settings

FLAWS = {
    "idor": "the orders view never checks the object permission",
    "admin-open": "the admin view has IsAuthenticated where IsAdminUser belongs",
    "no-verify": "a custom authentication builds AccessToken(raw, verify=False)",
    "weak-secret": 'SECRET_KEY (simplejwt\'s SIGNING_KEY) is "changeme"',
    "no-exp": "SIMPLE_JWT LEEWAY of a day: expired tokens are still accepted",
    "refresh-reuse": "BLACKLIST_AFTER_ROTATION False: a rotated refresh token stays valid",
    "logout-noop": "logout answers 200 and blacklists nothing",
    "shared-user": "the current user is kept in a module global across a slow audit write",
    "health-lies": "/api/health/ answers 200 whatever the ping says",
    "500-on-missing-field": "the login view logs request.data['username'] (KeyError -> 500)",
    "403-no-auth": "SessionAuthentication listed first: 403 without a challenge",
    "no-error-key": 'an EXCEPTION_HANDLER that wraps errors in {"success": false, "message"}',
}

ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
ap.add_argument("--dependency", required=True, help="URL that /api/health/ pings")
ap.add_argument("--token-lifetime", type=int, default=300, help="access token seconds")
ap.add_argument("--listen", default="127.0.0.1:0")
ap.add_argument("--flaw", action="append", default=[], choices=sorted(FLAWS))
args = ap.parse_args()
flaws = set(args.flaw)

data_dir = tempfile.mkdtemp(prefix="api-drf.")
auth_classes = ["rest_framework_simplejwt.authentication.JWTAuthentication"]
if "403-no-auth" in flaws:
    auth_classes.insert(0, "rest_framework.authentication.SessionAuthentication")
rest_framework = {
    "DEFAULT_AUTHENTICATION_CLASSES": auth_classes,
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
if "no-error-key" in flaws:
    rest_framework["EXCEPTION_HANDLER"] = "__main__.envelope_exception_handler"

settings.configure(
    DEBUG=False,
    SECRET_KEY="changeme" if "weak-secret" in flaws else os.urandom(32).hex(),
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF="__main__",
    INSTALLED_APPS=[
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "django.contrib.sessions",
        "rest_framework",
        "rest_framework_simplejwt.token_blacklist",
    ],
    MIDDLEWARE=[
        "django.middleware.common.CommonMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3",
                           "NAME": os.path.join(data_dir, "db.sqlite3")}},
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    USE_TZ=True,
    REST_FRAMEWORK=rest_framework,
    SIMPLE_JWT={
        "ACCESS_TOKEN_LIFETIME": timedelta(seconds=args.token_lifetime),
        "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
        "ROTATE_REFRESH_TOKENS": True,
        "BLACKLIST_AFTER_ROTATION": "refresh-reuse" not in flaws,
        "LEEWAY": timedelta(days=1) if "no-exp" in flaws else 0,
    },
)
django.setup()

# After setup: simplejwt reads its settings and models at import.
from django.contrib.auth.models import User  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework import permissions, status  # noqa: E402
from rest_framework.decorators import (  # noqa: E402
    api_view,
    authentication_classes,
    permission_classes,
)
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView, exception_handler  # noqa: E402
from rest_framework_simplejwt.authentication import JWTAuthentication  # noqa: E402
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError  # noqa: E402
from rest_framework_simplejwt.tokens import AccessToken  # noqa: E402
from rest_framework_simplejwt.views import (  # noqa: E402
    TokenBlacklistView,
    TokenObtainPairView,
    TokenRefreshView,
)

ORDERS = {
    "alice": [{"id": 1, "item": "tea", "qty": 2}],
    "bob": [{"id": 2, "item": "coffee", "qty": 1}],
    "carol": [],
}


class UnverifiedJWTAuthentication(JWTAuthentication):
    """The flaw no-verify: "we only need the user id", so the token is read
    without verifying it (simplejwt skips the signature, exp and the token
    type when verify=False); a token that is not even a JWT is still
    refused as JWTAuthentication refuses it."""

    def get_validated_token(self, raw_token):
        try:
            return AccessToken(raw_token, verify=False)
        except TokenError as e:
            raise InvalidToken(e.args[0])


# The views' authentication: the settings' default, or the flaw's class
# (which the settings cannot name: __main__ is not importable by path).
VIEW_AUTH = [UnverifiedJWTAuthentication] if "no-verify" in flaws else APIView.authentication_classes


def envelope_exception_handler(exc, context):
    """The flaw no-error-key: the frontend team's envelope replaces DRF's
    {"detail": ...}, keeping status and headers."""
    response = exception_handler(exc, context)
    if response is not None:
        response.data = {"success": False, "message": str(getattr(exc, "detail", exc))}
    return response


class IsOwnerOrStaff(permissions.BasePermission):
    def has_object_permission(self, request, view, obj):
        return request.user.is_staff or obj == request.user.username


class LoginView(TokenObtainPairView):
    """TokenObtainPairView; the flaw 500-on-missing-field adds an audit
    line that indexes request.data."""

    def post(self, request, *args, **kwargs):
        if "500-on-missing-field" in flaws:
            sys.stderr.write("login attempt for %s\n" % request.data["username"])
        return super().post(request, *args, **kwargs)


@api_view(["POST"])
@permission_classes([permissions.AllowAny])
def logout_noop(request):
    # the flaw logout-noop: "the client deletes its tokens"
    return Response({"detail": "logged out"})


_current = {}


def audit(event, user):
    time.sleep(0.05)  # stands for the audit log's database write


@api_view(["GET"])
@authentication_classes(VIEW_AUTH)
def me(request):
    user = request.user
    _current["user"] = user
    audit("me", user)
    if "shared-user" in flaws:
        user = _current["user"]
    return Response({"username": user.username, "is_staff": user.is_staff})


class OrderList(APIView):
    authentication_classes = VIEW_AUTH
    permission_classes = [permissions.IsAuthenticated, IsOwnerOrStaff]

    def get(self, request, name):
        if name not in ORDERS:
            return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
        if "idor" not in flaws:
            self.check_object_permissions(request, name)
        return Response({"username": name, "orders": ORDERS[name]})


class AdminStats(APIView):
    authentication_classes = VIEW_AUTH
    permission_classes = [permissions.IsAuthenticated if "admin-open" in flaws else permissions.IsAdminUser]

    def get(self, request):
        return Response({"users": User.objects.count(), "orders": sum(len(v) for v in ORDERS.values())})


def health(request):
    """A plain Django view: no authentication."""
    try:
        with urllib.request.urlopen(args.dependency, timeout=1) as r:
            r.read()
    except OSError as e:
        if "health-lies" not in flaws:
            return JsonResponse({"error": "dependency_unavailable", "detail": str(e)}, status=503)
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("api/token/", LoginView.as_view()),
    path("api/token/refresh/", TokenRefreshView.as_view()),
    path("api/token/blacklist/", logout_noop if "logout-noop" in flaws else TokenBlacklistView.as_view()),
    path("api/me/", me),
    path("api/users/<str:name>/orders/", OrderList.as_view()),
    path("api/admin/stats/", AdminStats.as_view()),
    path("api/health/", health),
]


def main():
    from django.core.management import call_command
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    call_command("migrate", verbosity=0)
    for name, staff in (("alice", False), ("bob", False), ("carol", True)):
        User.objects.create_user(name, password=name + "-pw", is_staff=staff)

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *a):
            pass

    host, _, port = args.listen.rpartition(":")
    server = ThreadedWSGIServer((host, int(port)), QuietHandler)
    server.daemon_threads = True
    server.set_app(get_wsgi_application())

    def stop(_sig, _frm):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("http://%s:%d" % server.server_address[:2], flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
