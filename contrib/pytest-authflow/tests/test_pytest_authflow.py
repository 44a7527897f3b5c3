"""The plugin's own tests, against the real authflowd (tests/test_pytest_plugin.sh
runs them with -p pytest_authflow -p pytester, AUTHFLOWD and AUTHFLOWD_CONFIG
set). The inner sessions of pytester check what a user of the plugin sees:
the fixture's failure when authflowd does not start, the stderr section of a
failed test, the process gone after teardown."""

import base64
import json
import os
import urllib.error
import urllib.parse
import urllib.request

import pytest

from pytest_authflow import AuthflowError

SERVICE = ("demo-service", "demo-service-secret")  # client_credentials, shipped config
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(method, url, form=None, auth=None, bearer=None):
    """(status, JSON body) of a request to the provider."""
    headers = {}
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if auth is not None:
        cred = "%s:%s" % tuple(urllib.parse.quote(x, safe="") for x in auth)
        headers["Authorization"] = "Basic " + base64.b64encode(cred.encode()).decode()
    if bearer is not None:
        headers["Authorization"] = "Bearer " + bearer
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with _opener.open(req, timeout=15) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    return status, (json.loads(raw) if raw.strip() else None)


def client_credentials(af, secret=SERVICE[1]):
    return http("POST", af.issuer + "/token", {"grant_type": "client_credentials"},
                auth=(SERVICE[0], secret))


def test_urls_name_the_running_provider(authflowd):
    assert authflowd.issuer.startswith("http://127.0.0.1:")
    assert authflowd.admin_url.startswith("http://127.0.0.1:")
    assert authflowd.admin_url != authflowd.issuer, "the admin API has a port of its own"
    doc = authflowd.discovery()
    assert doc["issuer"] == authflowd.issuer
    assert doc["jwks_uri"] == authflowd.jwks_url
    status, jwks = http("GET", authflowd.jwks_url)
    assert status == 200 and jwks["keys"], jwks


def test_queued_scenario_makes_next_token_fail(authflowd):
    assert client_credentials(authflowd)[0] == 200, "before: a good client gets a token"
    entry = authflowd.scenario("token_invalid_grant", client="demo-service")
    assert entry["name"] == "token_invalid_grant" and entry["remaining"] == 1, entry
    status, body = client_credentials(authflowd)
    assert status == 400, body
    assert body["error"] == "invalid_grant"
    assert body["error_description"] == "authflow scenario token_invalid_grant"
    assert client_credentials(authflowd)[0] == 200, "times=1: the next one is good again"


def test_scenario_for_another_client_leaves_this_one_alone(authflowd):
    authflowd.scenario("token_server_error", client="demo-app")
    assert client_credentials(authflowd)[0] == 200
    assert [q["name"] for q in authflowd.scenarios()["queued"]] == ["token_server_error"]


def test_unknown_scenario_raises_with_the_admin_apis_words(authflowd):
    with pytest.raises(AuthflowError) as e:
        authflowd.scenario("no_such_scenario")
    assert e.value.status == 400
    assert e.value.error == "invalid_request"
    assert 'name: unknown scenario "no_such_scenario"' in e.value.description


def test_clear_one_scenario_by_id(authflowd):
    first = authflowd.scenario("token_invalid_grant")
    second = authflowd.scenario("token_server_error")
    assert authflowd.clear_scenarios(first["id"]) == 1
    assert [q["id"] for q in authflowd.scenarios()["queued"]] == [second["id"]]
    with pytest.raises(AuthflowError) as e:
        authflowd.clear_scenarios(first["id"])
    assert e.value.status == 404


def test_minted_token_is_accepted_by_userinfo(authflowd):
    token = authflowd.token(user="alice", client="demo-app")
    status, body = http("GET", authflowd.issuer + "/userinfo", bearer=token)
    assert status == 200, body
    assert body["sub"] == "u-alice"


def test_minted_defective_token_is_refused_by_userinfo(authflowd):
    minted = authflowd.mint(user="alice", client="demo-app", defects=["expired"])
    assert minted["defects"] == ["expired"] and minted["expires_in"] < 0, minted
    status, _ = http("GET", authflowd.issuer + "/userinfo", bearer=minted["access_token"])
    assert status == 401


def test_mint_user_none_is_the_clients_own_token(authflowd):
    minted = authflowd.mint(user=None, client="demo-service")
    assert minted["claims"]["sub"] == "demo-service"


def test_mint_refusal_raises(authflowd):
    with pytest.raises(AuthflowError) as e:
        authflowd.mint(defects=["narrow_scope"])
    assert e.value.status == 400 and "defects[0]" in e.value.description


def test_ledger_records_the_request_this_test_made(authflowd):
    cursor = authflowd.cursor()
    client_credentials(authflowd, secret="wrong")
    page = authflowd.ledger(since=cursor, path="/token", client_id="demo-service")
    assert page["count"] == 1, page
    entry = page["entries"][0]
    assert entry["method"] == "POST" and entry["status"] == 401
    assert entry["client_auth"] == "client_secret_basic"
    assert entry["reason"] == "wrong secret for client demo-service"
    assert authflowd.ledger(since=cursor, path="/userinfo")["count"] == 0
    assert authflowd.ledger(since=page["next"])["count"] == 0, "nothing came after"


def test_ledger_filter_unknown_to_the_admin_api_raises(authflowd):
    with pytest.raises(AuthflowError) as e:
        authflowd.ledger(status=200)
    assert e.value.status == 400


def test_reset_drops_scenarios_and_ledger(authflowd):
    authflowd.scenario("token_invalid_grant", times=0)
    assert client_credentials(authflowd)[0] == 400
    authflowd.reset()
    assert authflowd.scenarios()["queued"] == []
    assert authflowd.ledger()["count"] == 0
    assert client_credentials(authflowd)[0] == 200, "times=0 lasted until the reset"


def test_admin_secret(authflowd_start, authflowd_config, tmp_path):
    with open(authflowd_config, encoding="utf-8") as f:
        cfg = json.load(f)
    cfg["admin"] = {"secret": "s3cret-for-the-plugin-test"}
    path = tmp_path / "secret.json"
    path.write_text(json.dumps(cfg))
    af = authflowd_start(path, secret="s3cret-for-the-plugin-test")
    assert af.mint()["token_type"] == "Bearer"
    af.secret = "wrong"
    with pytest.raises(AuthflowError) as e:
        af.mint()
    assert e.value.status == 401 and e.value.error == "invalid_token"


def test_two_servers_in_one_test(authflowd_start, authflowd_config):
    a = authflowd_start(authflowd_config)
    b = authflowd_start(authflowd_config)
    assert a.issuer != b.issuer and a.pid != b.pid
    a.scenario("token_invalid_grant")
    assert client_credentials(b)[0] == 200, "a scenario of one server is not another's"
    assert client_credentials(a)[0] == 400


def test_args_go_to_authflowd(authflowd, authflowd_start, authflowd_config):
    quiet = authflowd_start(authflowd_config, args=["--log-level", "error"])
    for af in (authflowd, quiet):
        client_credentials(af, secret="wrong")  # a warn line at the default level
        assert af.stop() == 0
    assert "wrong secret for client demo-service" in authflowd.stderr()
    assert quiet.stderr() == "", quiet.stderr()


def test_stop_is_sigterm_and_a_clean_exit(authflowd):
    assert authflowd.stop() == 0
    with pytest.raises(ProcessLookupError):
        os.kill(authflowd.pid, 0)
    assert authflowd.stop() == 0, "stopping again says the same"


# ---- what a user of the plugin sees (inner pytest sessions)

def inner(pytester, text, *args):
    pytester.makepyfile(test_inner=text)
    return pytester.runpytest_subprocess("-p", "pytest_authflow", "-p", "no:cacheprovider", *args)


def test_teardown_stops_the_process(pytester):
    pidfile = pytester.path / "pid"
    res = inner(pytester, """
        import os
        def test_run(authflowd):
            os.kill(authflowd.pid, 0)  # alive during the test
            open(%r, "w").write(str(authflowd.pid))
        """ % str(pidfile))
    res.assert_outcomes(passed=1)
    pid = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_bad_config_fails_the_fixture_with_authflowds_message(pytester):
    bad = pytester.path / "bad.json"
    bad.write_text('{"bogus": 1}')
    res = inner(pytester, """
        def test_run(authflowd):
            pass
        """, "--authflowd-config", str(bad))
    res.assert_outcomes(errors=1)
    res.stdout.fnmatch_lines(["*AuthflowdStartError: authflowd exited 2 before it was ready:*",
                              "*bad.json:1:2: bogus: unknown key*"])


def test_missing_binary_fails_the_fixture(pytester):
    res = inner(pytester, """
        def test_run(authflowd):
            pass
        """, "--authflowd", str(pytester.path / "no-such-authflowd"))
    res.assert_outcomes(errors=1)
    res.stdout.fnmatch_lines(["*AuthflowdStartError: cannot run *no-such-authflowd*"])


def test_failed_test_reports_authflowds_stderr(pytester):
    res = inner(pytester, """
        import base64, urllib.request
        def test_run(authflowd):
            basic = base64.b64encode(b"demo-service:wrong").decode()
            req = urllib.request.Request(authflowd.issuer + "/token",
                                         data=b"grant_type=client_credentials",
                                         headers={"Authorization": "Basic " + basic})
            try:
                urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req)
            except Exception:
                pass
            assert False, "the test fails"
        def test_passes(authflowd):
            pass
        """)
    res.assert_outcomes(passed=1, failed=1)
    res.stdout.fnmatch_lines([
        "*authflowd 1 stderr*",
        "*warn  POST /token 401 demo-service invalid_client: wrong secret for client demo-service"])
    assert res.stdout.str().count("authflowd 1 stderr") == 1, "only the failed test has it"


def test_conftest_pytest_plugins_loads_it(pytester):
    pytester.makeconftest('pytest_plugins = ["pytest_authflow"]')
    pytester.makepyfile(test_inner="""
        def test_run(authflowd):
            assert authflowd.discovery()["issuer"] == authflowd.issuer
        """)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
