// The helper's own tests, against the real authflowd
// (tests/test_node_helper.sh runs them with AUTHFLOWD and AUTHFLOWD_CONFIG
// set): every call against what authflowd then does, the refusals of the
// admin API as errors, a start that fails with authflowd's own message, and
// the process gone after stop().
const { describe, test, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { start, AuthflowError, AuthflowdStartError } = require('authflow-testing');

const BASIC = 'Basic ' + Buffer.from('demo-service:demo-service-secret').toString('base64');

async function clientCredentials(af, auth = BASIC) {
  const r = await fetch(af.issuer + '/token', {
    method: 'POST',
    headers: { Authorization: auth, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  return { status: r.status, body: await r.json() };
}

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    if (e.code === 'ESRCH') return false;
    throw e;
  }
};

describe('a started authflowd', () => {
  let af;
  beforeEach(async () => {
    af = await start();
  });
  afterEach(async () => {
    assert.strictEqual(await af.stop(), 0, af.stderr());
  });

  test('its URLs name the running provider', async () => {
    assert.match(af.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(af.adminUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notStrictEqual(af.adminUrl, af.issuer);
    const doc = await af.discovery();
    assert.strictEqual(doc.issuer, af.issuer);
    assert.strictEqual(doc.jwks_uri, af.jwksUrl);
    const jwks = await (await fetch(af.jwksUrl)).json();
    assert.ok(jwks.keys.length > 0);
  });

  test('a queued scenario makes the next /token answer its error', async () => {
    assert.strictEqual((await clientCredentials(af)).status, 200);
    const entry = await af.scenario('token_invalid_grant', { client: 'demo-service' });
    assert.strictEqual(entry.remaining, 1);
    const r = await clientCredentials(af);
    assert.strictEqual(r.status, 400);
    assert.strictEqual(r.body.error, 'invalid_grant');
    assert.strictEqual(r.body.error_description, 'authflow scenario token_invalid_grant');
    assert.strictEqual((await clientCredentials(af)).status, 200, 'times 1: the next is good');
  });

  test('an unknown scenario rejects with the admin API\'s words', async () => {
    await assert.rejects(af.scenario('no_such_scenario'), (e) => {
      assert.ok(e instanceof AuthflowError);
      assert.strictEqual(e.status, 400);
      assert.strictEqual(e.error, 'invalid_request');
      assert.match(e.description, /name: unknown scenario "no_such_scenario"/);
      return true;
    });
  });

  test('clearScenarios(id) drops that one', async () => {
    const first = await af.scenario('token_invalid_grant');
    const second = await af.scenario('token_server_error');
    assert.strictEqual(await af.clearScenarios(first.id), 1);
    assert.deepStrictEqual((await af.scenarios()).queued.map((q) => q.id), [second.id]);
    await assert.rejects(af.clearScenarios(first.id), (e) => e.status === 404);
  });

  test('a minted token is accepted by /userinfo, a defective one refused', async () => {
    const token = await af.token({ user: 'alice', client: 'demo-app' });
    const good = await fetch(af.issuer + '/userinfo', { headers: { Authorization: 'Bearer ' + token } });
    assert.strictEqual(good.status, 200);
    assert.strictEqual((await good.json()).sub, 'u-alice');
    const expired = await af.mint({ user: 'alice', client: 'demo-app', defects: ['expired'] });
    assert.ok(expired.expires_in < 0);
    const bad = await fetch(af.issuer + '/userinfo', {
      headers: { Authorization: 'Bearer ' + expired.access_token },
    });
    assert.strictEqual(bad.status, 401);
  });

  test('mint({user: null}) is the client\'s own token', async () => {
    const minted = await af.mint({ user: null, client: 'demo-service' });
    assert.strictEqual(minted.claims.sub, 'demo-service');
  });

  test('the ledger records the request the test made', async () => {
    const cursor = await af.cursor();
    await clientCredentials(af, 'Basic ' + Buffer.from('demo-service:wrong').toString('base64'));
    const page = await af.ledger({ since: cursor, path: '/token', client_id: 'demo-service' });
    assert.strictEqual(page.count, 1);
    assert.strictEqual(page.entries[0].status, 401);
    assert.strictEqual(page.entries[0].reason, 'wrong secret for client demo-service');
    assert.strictEqual((await af.ledger({ since: cursor, path: '/userinfo' })).count, 0);
    await assert.rejects(af.ledger({ status: 200 }), (e) => e.status === 400);
  });

  test('reset() drops the queued scenarios and the ledger', async () => {
    await af.scenario('token_invalid_grant', { times: 0 });
    assert.strictEqual((await clientCredentials(af)).status, 400);
    await af.reset();
    assert.deepStrictEqual((await af.scenarios()).queued, []);
    assert.strictEqual((await af.ledger()).count, 0);
    assert.strictEqual((await clientCredentials(af)).status, 200);
  });

  test('stop() ends the process with a clean exit', async () => {
    assert.ok(alive(af.pid));
    assert.strictEqual(await af.stop(), 0);
    assert.ok(!alive(af.pid), `pid ${af.pid} is still there`);
    assert.strictEqual(await af.stop(), 0, 'stopping again says the same');
  });
});

describe('starting', () => {
  let tmp;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'authflow-testing-test-'));
  });
  afterEach(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('a bad config rejects with authflowd\'s message', async () => {
    const bad = path.join(tmp, 'bad.json');
    fs.writeFileSync(bad, '{"bogus": 1}');
    await assert.rejects(start({ config: bad }), (e) => {
      assert.ok(e instanceof AuthflowdStartError);
      assert.match(e.message, /^authflowd exited 2 before it was ready:/);
      assert.match(e.message, /bad\.json:1:2: bogus: unknown key/);
      return true;
    });
  });

  test('a missing binary rejects', async () => {
    await assert.rejects(start({ binary: path.join(tmp, 'no-such-authflowd') }),
      /^AuthflowdStartError: cannot run .*no-such-authflowd/);
  });

  test('an admin secret from the config is sent', async () => {
    const cfg = JSON.parse(fs.readFileSync(process.env.AUTHFLOWD_CONFIG, 'utf8'));
    cfg.admin = { secret: 's3cret-for-the-helper-test' };
    const file = path.join(tmp, 'secret.json');
    fs.writeFileSync(file, JSON.stringify(cfg));
    const af = await start({ config: file, secret: 's3cret-for-the-helper-test' });
    try {
      assert.strictEqual((await af.mint()).token_type, 'Bearer');
      af.secret = 'wrong';
      await assert.rejects(af.mint(), (e) => e.status === 401 && e.error === 'invalid_token');
    } finally {
      await af.stop();
    }
  });

  test('args go to authflowd; stderr() outlives stop()', async () => {
    const [loud, quiet] = await Promise.all([start(), start({ args: ['--log-level', 'error'] })]);
    for (const af of [loud, quiet]) {
      await clientCredentials(af, 'Basic ' + Buffer.from('demo-service:wrong').toString('base64'));
      assert.strictEqual(await af.stop(), 0);
    }
    assert.match(loud.stderr(), /wrong secret for client demo-service/);
    assert.strictEqual(quiet.stderr(), '', 'a warn line at the default level');
  });

  test('two servers are two providers', async () => {
    const [a, b] = await Promise.all([start(), start()]);
    try {
      assert.notStrictEqual(a.issuer, b.issuer);
      await a.scenario('token_invalid_grant');
      assert.strictEqual((await clientCredentials(b)).status, 200);
      assert.strictEqual((await clientCredentials(a)).status, 400);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

describe('the module', () => {
  test('ESM imports it by name', async () => {
    const m = await import('authflow-testing');
    assert.strictEqual(m.start, start);
    assert.strictEqual(m.default.start, start);
  });

  test('a server a test forgot to stop is killed when the process exits', async () => {
    const script = "require('authflow-testing').start().then((af) => console.log(af.pid))";
    const r = require('node:child_process').spawnSync(process.execPath, ['-e', script], {
      cwd: path.join(__dirname, '..'),
      encoding: 'utf8',
      timeout: 20000,
    });
    assert.strictEqual(r.status, 0, r.stderr);
    const pid = Number(r.stdout.trim());
    assert.ok(pid > 0, r.stdout);
    // SIGTERM was sent at exit; authflowd finishes its in-flight requests first.
    const deadline = Date.now() + 10000;
    while (alive(pid) && Date.now() < deadline) await new Promise((ok) => setTimeout(ok, 20));
    assert.ok(!alive(pid), `pid ${pid} is still there`);
  });
});
