// authflow-testing in use with node's test runner: each test gets an
// authflowd of its own. Here the tests call authflowd themselves; yours
// would start your app with af.issuer as its provider and drive the app.
const { test, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert');
const authflow = require('authflow-testing');

let af;
beforeEach(async () => {
  af = await authflow.start();
});
afterEach(async () => {
  assert.strictEqual(await af.stop(), 0);
});

const clientCredentials = () =>
  fetch(af.issuer + '/token', {
    method: 'POST',
    headers: {
      Authorization: 'Basic ' + Buffer.from('demo-service:demo-service-secret').toString('base64'),
      'Content-Type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });

test('a failing token endpoint', async () => {
  await af.scenario('token_server_error', { client: 'demo-service' });
  const r = await clientCredentials();
  assert.strictEqual(r.status, 500);
  assert.strictEqual((await r.json()).error, 'server_error');
});

test('an expired token is refused', async () => {
  const token = await af.token({ user: 'alice', client: 'demo-app', defects: ['expired'] });
  const r = await fetch(af.issuer + '/userinfo', { headers: { Authorization: 'Bearer ' + token } });
  assert.strictEqual(r.status, 401);
});

test('the ledger shows what was sent', async () => {
  const cursor = await af.cursor();
  await clientCredentials();
  const { entries } = await af.ledger({ since: cursor, path: '/token' });
  assert.strictEqual(entries.length, 1);
  assert.strictEqual(entries[0].client_auth, 'client_secret_basic');
  assert.deepStrictEqual(entries[0].form, { grant_type: 'client_credentials' });
});
