"""pytest-authflow in use: each test gets an authflowd of its own (the
`authflowd` fixture). Here the tests call authflowd themselves; yours would
start your app with authflowd.issuer as its provider and drive the app."""

import base64
import json
import urllib.error
import urllib.request


def call(url, data=None, headers={}):
    """(status, body) of a request; a 4xx or 5xx is an answer too."""
    req = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def client_credentials(authflowd):
    basic = base64.b64encode(b"demo-service:demo-service-secret").decode()
    return call(authflowd.issuer + "/token", b"grant_type=client_credentials",
                {"Authorization": "Basic " + basic})


def test_a_failing_token_endpoint(authflowd):
    authflowd.scenario("token_server_error", client="demo-service")
    status, body = client_credentials(authflowd)
    assert status == 500 and json.loads(body)["error"] == "server_error"


def test_an_expired_token_is_refused(authflowd):
    token = authflowd.token(user="alice", client="demo-app", defects=["expired"])
    status, _ = call(authflowd.issuer + "/userinfo", headers={"Authorization": "Bearer " + token})
    assert status == 401


def test_the_ledger_shows_what_was_sent(authflowd):
    cursor = authflowd.cursor()
    client_credentials(authflowd)
    [entry] = authflowd.ledger(since=cursor, path="/token")["entries"]
    assert entry["client_auth"] == "client_secret_basic"
    assert entry["form"] == {"grant_type": "client_credentials"}
