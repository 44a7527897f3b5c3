#!/usr/bin/env python3
"""app.py - a server-rendered Django app that logs in with OpenID Connect
through Authlib's Django client, for the truth corpus of `authprobe rp`
(tests/test_corpus_rp_django.sh, tests/data/truth/rp-django.txt).

Django 3.2 and Authlib 1.2 from Debian 12 (debian-packages). Settings, URLs
and views in this one file; the views are Authlib's documented Django
example (authorize_redirect / authorize_access_token, the user kept in
Django's session) with OpenID Connect discovery and PKCE S256. Everything
else is the libraries' defaults: Django's session middleware (cookie
`sessionid`, database-backed sessions, here a SQLite file in a temporary
folder) and CSRF middleware.

Routes:
    GET /login      Authlib's authorize_redirect (state, nonce and the PKCE
                    verifier go into the session: the `sessionid` cookie
                    exists before the login)
    GET /callback   Authlib's authorize_access_token; success: the ID
                    token's claims in the session, 302 to /; an Authlib
                    error: 400 {"error": ..., "error_description": ...}
    GET /account    a server-rendered page for the logged-in user
    GET /api/me     the user's claims as JSON
                    (both: 401 {"error": "login_required"} without a login)
    GET /logout     drops the user from the session, 302 to /
    GET /           public page

Usage: app.py (--issuer URL | --issuer-file PATH) --client-id ID
       --client-secret S [--listen HOST:PORT]
--issuer-file names a file whose first line is the issuer (authflowd's
--ready-file), read at the first request that needs the provider, so that
the app can start on port 0 before the provider whose config names the
app's callback. The first stdout line is the app's base URL; SIGTERM stops
it. Django's own development server (threaded) serves it.
"""

import argparse
import html
import os
import shutil
import signal
import sys
import tempfile
import threading

import django
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.django_client import OAuth
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import path, reverse

args = None
oauth = OAuth()
_lock = threading.Lock()


def provider():
    """The Authlib client, registered at the first request that needs it
    (the issuer may only be known then)."""
    with _lock:
        if oauth.create_client("authflowd") is None:
            issuer = args.issuer
            if not issuer:
                with open(args.issuer_file, encoding="utf-8") as f:
                    issuer = f.readline().strip()
            oauth.register(
                name="authflowd",
                client_id=args.client_id,
                client_secret=args.client_secret,
                server_metadata_url=issuer.rstrip("/") + "/.well-known/openid-configuration",
                client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256"},
            )
    return oauth.authflowd


# --- views ---------------------------------------------------------------

def login_required_json(view):
    def wrapped(request):
        if "user" not in request.session:
            return JsonResponse({"error": "login_required"}, status=401)
        return view(request)
    return wrapped


def home(request):
    user = request.session.get("user")
    who = html.escape(user["sub"]) if user else "nobody"
    return HttpResponse("<!doctype html><title>home</title><p>Logged in: %s</p>"
                        '<p><a href="/login">log in</a> <a href="/account">account</a>'
                        ' <a href="/logout">log out</a></p>' % who)


def login(request):
    redirect_uri = request.build_absolute_uri(reverse("callback"))
    return provider().authorize_redirect(request, redirect_uri)


def callback(request):
    try:
        token = provider().authorize_access_token(request)
    except AuthlibBaseError as e:
        return JsonResponse({"error": e.error or "login_failed",
                             "error_description": e.description or str(e)}, status=400)
    request.session["user"] = dict(token["userinfo"])
    return redirect("/")


@login_required_json
def account(request):
    user = request.session["user"]
    rows = "".join("<tr><th>%s</th><td>%s</td></tr>" % (html.escape(str(k)), html.escape(str(v)))
                   for k, v in sorted(user.items()))
    return HttpResponse("<!doctype html><title>account</title><table>%s</table>" % rows)


@login_required_json
def me(request):
    return JsonResponse(request.session["user"])


def logout(request):
    request.session.pop("user", None)
    return redirect("/")


urlpatterns = [
    path("", home),
    path("login", login),
    path("callback", callback, name="callback"),
    path("account", account),
    path("api/me", me),
    path("logout", logout),
]


def main():
    global args
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--issuer")
    p.add_argument("--issuer-file")
    p.add_argument("--client-id", required=True)
    p.add_argument("--client-secret", required=True)
    p.add_argument("--listen", default="127.0.0.1:0")
    args = p.parse_args()
    if not args.issuer and not args.issuer_file:
        p.error("--issuer or --issuer-file is required")
    host, _, port = args.listen.rpartition(":")

    data = tempfile.mkdtemp(prefix="rp-django.")
    settings.configure(
        DEBUG=False,
        SECRET_KEY=os.urandom(32).hex(),
        ALLOWED_HOSTS=["127.0.0.1", "localhost", "[::1]"],
        ROOT_URLCONF="__main__",
        INSTALLED_APPS=["django.contrib.sessions"],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3",
                               "NAME": os.path.join(data, "db.sqlite3")}},
    )
    django.setup()
    from django.core.management import call_command
    call_command("migrate", verbosity=0)

    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *a):
            sys.stderr.write("%s - %s\n" % (self.address_string(), a[0] % a[1:]))

    server = ThreadedWSGIServer((host, int(port)), QuietHandler)
    server.daemon_threads = True
    server.set_app(get_wsgi_application())

    def stop(_sig, _frm):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    addr, port = server.server_address[:2]
    print("http://%s:%d" % (addr, port), flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
