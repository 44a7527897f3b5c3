"""pytest-authflow: a real authflowd for each test, and a client of its admin API.

Fixtures:
  authflowd        an authflowd started for this test on 127.0.0.1:0, its
                   admin API on 127.0.0.1:0, stopped at the test's teardown
                   (an Authflowd object, below)
  authflowd_start  a factory, start(config=None, args=(), secret=None), for
                   a test that needs another config or several servers; each
                   one it starts is stopped at the test's teardown
  authflowd_config the config `authflowd` uses (--authflowd-config, else
                   $AUTHFLOWD_CONFIG, else None: authflowd's own default);
                   override it in a conftest.py for a config of your own

The binary is --authflowd, else $AUTHFLOWD, else `authflowd` on the PATH.
The admin secret, for a config that sets admin.secret, is `secret`, else
$AUTHFLOW_ADMIN_SECRET. When a test fails, its report has a section with
authflowd's stderr (one log line per request, with the reason of each
refusal); when authflowd does not start, the fixture fails with that stderr;
when it does not exit 0 on SIGTERM, the teardown fails.

Python standard library only (subprocess, urllib, json).
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0
HTTP_TIMEOUT = 15.0

# The servers a test started, for its report's stderr section.
_SERVERS = pytest.StashKey()


class AuthflowError(Exception):
    """The admin API refused a request: `status` (HTTP), `error` and
    `description` (its JSON error body), `body` (the whole answer)."""

    def __init__(self, method, url, status, body):
        self.status = status
        self.body = body
        self.error = body.get("error") if isinstance(body, dict) else None
        self.description = body.get("error_description") if isinstance(body, dict) else None
        super().__init__("%s %s: HTTP %d %s: %s" % (method, url, status, self.error,
                                                    self.description))


class AuthflowdStartError(Exception):
    """authflowd did not start: the message has its exit status and stderr."""


# No proxy for loopback, whatever the environment says.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _http(method, url, body=None, headers=None):
    """(status, parsed JSON or text) of one request; never raises on 4xx/5xx."""
    data = None
    headers = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with _opener.open(req, timeout=HTTP_TIMEOUT) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    text = raw.decode("utf-8", "replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


class Authflowd:
    """One authflowd process and a client of its admin API.

    Attributes once started: `issuer`, `admin_url`, `discovery_url`,
    `jwks_url`, `pid`, `returncode` (None until it stopped), `stderr_path`.
    Admin calls raise AuthflowError when the admin API refuses them; their
    keyword arguments are the admin API's members as they are
    (docs/admin.md), so `mint(user=None)` sends `"user": null`.
    """

    def __init__(self, binary="authflowd", config=None, args=(), secret=None):
        self.binary = binary
        self.config = config
        self.args = list(args)
        self.secret = secret if secret is not None else os.environ.get("AUTHFLOW_ADMIN_SECRET")
        self.proc = None
        self.pid = None
        self.returncode = None
        self.issuer = self.admin_url = self.discovery_url = self.jwks_url = None
        self._tmp = tempfile.mkdtemp(prefix="pytest-authflow-")
        self.stderr_path = os.path.join(self._tmp, "stderr")

    def __repr__(self):
        return "<Authflowd pid=%s issuer=%s admin=%s>" % (self.pid, self.issuer, self.admin_url)

    # ---- the process

    def start(self, timeout=START_TIMEOUT):
        """Start authflowd and wait for its ready file; AuthflowdStartError
        (with its stderr) when it exits or is not ready within `timeout`."""
        ready = os.path.join(self._tmp, "ready")
        cmd = [self.binary, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
               "--ready-file", ready]
        if self.config is not None:
            cmd += ["--config", os.fspath(self.config)]
        cmd += self.args
        with open(self.stderr_path, "wb") as err:
            try:
                self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                             stdout=subprocess.DEVNULL, stderr=err)
            except OSError as e:
                raise AuthflowdStartError("cannot run %s: %s" % (self.binary, e)) from None
        self.pid = self.proc.pid
        deadline = time.monotonic() + timeout
        while not os.path.exists(ready):  # written whole, by a rename
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                raise AuthflowdStartError("authflowd exited %d before it was ready:\n%s"
                                          % (self.returncode, self.stderr()))
            if time.monotonic() > deadline:
                self.stop()
                raise AuthflowdStartError("authflowd was not ready after %g s:\n%s"
                                          % (timeout, self.stderr()))
            time.sleep(0.02)
        with open(ready, encoding="utf-8") as f:
            lines = f.read().splitlines()
        self.issuer, self.admin_url = lines[0], lines[1]
        self.discovery_url = self.issuer + "/.well-known/openid-configuration"
        self.jwks_url = self.issuer + "/jwks"
        return self

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, then wait (SIGKILL after `timeout`); its exit status.
        Stopping a stopped server returns the same status again."""
        if self.proc is not None and self.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.returncode = self.proc.returncode
        return self.returncode

    def stderr(self):
        """What authflowd wrote to stderr so far."""
        try:
            with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def cleanup(self):
        """Stop it and remove its temporary folder (stderr included)."""
        self.stop()
        shutil.rmtree(self._tmp, ignore_errors=True)

    # ---- the admin API

    def admin(self, method, path, body=None, query=None):
        """The JSON answer of one admin request; AuthflowError unless 2xx.
        `query` values of None are left out."""
        url = self.admin_url + path
        if query:
            q = {k: v for k, v in query.items() if v is not None}
            if q:
                url += "?" + urllib.parse.urlencode(q)
        headers = {"Authorization": "Bearer " + self.secret} if self.secret else {}
        status, answer = _http(method, url, body, headers)
        if not 200 <= status < 300:
            raise AuthflowError(method, url, status, answer)
        return answer

    def scenario(self, name, **members):
        """Queue a scenario (client, user, times, delay_ms: docs/scenarios.md);
        the queued entry, whose "id" clear_scenarios(id) drops."""
        return self.admin("POST", "/admin/scenarios", dict(members, name=name))

    def scenarios(self):
        """{"scenarios": the table, "queued": the queue}."""
        return self.admin("GET", "/admin/scenarios")

    def clear_scenarios(self, id=None):
        """Drop one queued scenario by id, or all of them (and a rotated
        key); how many were dropped."""
        return self.admin("DELETE", "/admin/scenarios", query={"id": id})["cleared"]

    def mint(self, **members):
        """Mint a token (user, client, scope, aud, ttl, claims, defects);
        the whole answer: access_token, header, claims, expires_in..."""
        return self.admin("POST", "/admin/tokens", members)

    def token(self, **members):
        """mint(), just the access token."""
        return self.mint(**members)["access_token"]

    def ledger(self, **filters):
        """Query the ledger (since, path, method, client_id, code, limit);
        {"entries", "count", "next", "dropped", "escaped"}."""
        return self.admin("GET", "/admin/ledger", query=filters)

    def cursor(self):
        """The ledger's newest seq: ledger(since=cursor()) shows what came after."""
        return self.ledger(limit=0)["next"]

    def clear_ledger(self):
        """Drop every ledger entry; how many."""
        return self.admin("DELETE", "/admin/ledger")["cleared"]

    def reset(self):
        """Drop the queued scenarios (and a rotated key) and the ledger."""
        self.clear_scenarios()
        self.clear_ledger()

    # ---- the provider

    def discovery(self):
        """The provider's metadata document."""
        status, doc = _http("GET", self.discovery_url)
        if status != 200:
            raise AuthflowError("GET", self.discovery_url, status, doc)
        return doc


def pytest_addoption(parser):
    group = parser.getgroup("authflow")
    group.addoption("--authflowd", default=None, metavar="PATH",
                    help="the authflowd binary (default: $AUTHFLOWD, else authflowd on the PATH)")
    group.addoption("--authflowd-config", default=None, metavar="FILE",
                    help="the config the authflowd fixture uses (default: $AUTHFLOWD_CONFIG)")


def _binary(config):
    return (config.getoption("authflowd") or os.environ.get("AUTHFLOWD")
            or shutil.which("authflowd") or "authflowd")


@pytest.fixture
def authflowd_config(pytestconfig):
    """The config file of the `authflowd` fixture, or None."""
    return pytestconfig.getoption("authflowd_config") or os.environ.get("AUTHFLOWD_CONFIG")


@pytest.fixture
def authflowd_start(request):
    """start(config=None, args=(), secret=None): a started Authflowd,
    stopped at teardown (which fails when it did not exit 0)."""
    servers = request.node.stash.setdefault(_SERVERS, [])
    binary = _binary(request.config)

    def start(config=None, args=(), secret=None):
        server = Authflowd(binary, config, args, secret)
        try:
            server.start()
        except BaseException:
            server.cleanup()  # the error has its stderr
            raise
        servers.append(server)
        return server

    yield start
    bad = []
    for server in servers:
        rc = server.stop()
        if rc not in (0, None):
            bad.append("authflowd (pid %d) exited %d on SIGTERM:\n%s"
                       % (server.pid, rc, server.stderr()))
        server.cleanup()
    if bad:
        pytest.fail("\n".join(bad), pytrace=False)


@pytest.fixture
def authflowd(authflowd_start, authflowd_config):
    """An authflowd on 127.0.0.1:0 with its admin API, for this test."""
    return authflowd_start(authflowd_config)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report carries the stderr of each authflowd it ran."""
    outcome = yield
    rep = outcome.get_result()
    if rep.when != "call" or not rep.failed:
        return
    for i, server in enumerate(item.stash.get(_SERVERS, [])):
        rep.sections.append(("authflowd %d stderr" % (i + 1), server.stderr()))
