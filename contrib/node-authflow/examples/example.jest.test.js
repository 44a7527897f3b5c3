// authflow-testing with Jest: the same helper, in Jest's hooks.
const authflow = require('authflow-testing');

let af;
beforeEach(async () => {
  af = await authflow.start();
});
afterEach(async () => {
  expect(await af.stop()).toBe(0);
});

test('a failing token endpoint', async () => {
  await af.scenario('token_invalid_client', { client: 'demo-service' });
  const r = await fetch(af.issuer + '/token', {
    method: 'POST',
    headers: {
      Authorization: 'Basic ' + Buffer.from('demo-service:demo-service-secret').toString('base64'),
      'Content-Type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  expect(r.status).toBe(401);
  expect(await r.json()).toMatchObject({ error: 'invalid_client' });
});

test('a token with the wrong audience is refused', async () => {
  const token = await af.token({ user: 'bob', client: 'demo-app', defects: ['wrong_aud'] });
  const r = await fetch(af.issuer + '/userinfo', { headers: { Authorization: 'Bearer ' + token } });
  expect(r.status).toBe(401);
});
