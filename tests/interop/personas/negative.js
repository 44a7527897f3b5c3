#!/usr/bin/env node
/*
 * negative.js - the personas' refusals and scenarios, each in the
 * provider's exact shape (docs/personas.md), with plain fetch:
 * wrong client credentials, a reused code, a bad, expired or revoked
 * token at the user API, a declined authorization, the token scenarios;
 * and that tokens minted by the admin API are accepted.
 *
 * Usage: node negative.js tiktok|github ISSUER ADMIN_URL
 * Prints one line per check ("ok NAME" / "not ok NAME: why"); exit 1 when
 * any failed.
 */
'use strict';

const assert = require('assert');
const [persona, base, admin] = process.argv.slice(2);
const CB = 'http://127.0.0.1:5555/cb';
const LOG_ID = /^[0-9]{14}[0-9A-F]{20}$/;
let failed = 0;

async function check(name, fn) {
  try { await fn(); console.log(`ok ${name}`); } catch (e) { failed++; console.log(`not ok ${name}: ${e.message}`); }
}
const keys = (o) => Object.keys(o).sort().join(',');
async function scenario(name, extra = {}) {
  const r = await fetch(`${admin}/admin/scenarios`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, ...extra }) });
  assert.strictEqual(r.status, 201, `queue ${name}: ${r.status}`);
}
async function mint(body) {
  const r = await fetch(`${admin}/admin/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.strictEqual(r.status, 200, `mint: ${r.status}`);
  return (await r.json()).access_token;
}
async function authorize(path, params) {
  const r = await fetch(`${base}${path}?${new URLSearchParams(params)}`, { redirect: 'manual' });
  assert.strictEqual(r.status, 302, `authorize ${r.status}`);
  return Object.fromEntries(new URL(r.headers.get('location')).searchParams);
}
async function post(path, form, headers = {}) {
  const r = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(form) });
  const text = await r.text();
  const ct = r.headers.get('content-type') || '';
  return { status: r.status, ct, www: r.headers.get('www-authenticate'), body: ct.startsWith('application/json') ? JSON.parse(text) : Object.fromEntries(new URLSearchParams(text)) };
}
async function get(path, auth) {
  const r = await fetch(`${base}${path}`, { headers: auth ? { authorization: auth } : {} });
  return { status: r.status, body: await r.json(), scopes: r.headers.get('x-oauth-scopes') };
}

async function tiktok() {
  const A = '/v2/auth/authorize/', T = '/v2/oauth/token/', U = '/v2/user/info/?fields=open_id,union_id,avatar_url,display_name';
  const code = async () => (await authorize(A, { client_key: 'tt-app', response_type: 'code', scope: 'user.info.basic', redirect_uri: CB, state: 's1' })).code;
  const redeem = (c, over = {}) => post(T, { client_key: 'tt-app', client_secret: 'tt-secret', code: c, grant_type: 'authorization_code', redirect_uri: CB, ...over });
  const tokErr = (r, status, error) => {
    assert.strictEqual(r.status, status); assert.strictEqual(keys(r.body), 'error,error_description,log_id');
    assert.strictEqual(r.body.error, error); assert.match(r.body.log_id, LOG_ID); assert.strictEqual(r.www, null);
  };
  const envErr = (r, status, code) => {
    assert.strictEqual(r.status, status); assert.deepStrictEqual(r.body.data, {});
    assert.strictEqual(keys(r.body.error), 'code,log_id,message'); assert.strictEqual(r.body.error.code, code);
    assert.match(r.body.error.log_id, LOG_ID);
  };
  let good;
  await check('tiktok token answer', async () => {
    const r = await redeem(await code());
    assert.strictEqual(r.status, 200);
    assert.strictEqual(keys(r.body), 'access_token,expires_in,open_id,refresh_expires_in,refresh_token,scope,token_type');
    assert.strictEqual(r.body.token_type, 'Bearer'); assert.strictEqual(r.body.scope, 'user.info.basic');
    good = r.body;
  });
  await check('tiktok user info', async () => {
    const r = await get(U, `Bearer ${good.access_token}`);
    assert.strictEqual(r.status, 200); assert.strictEqual(r.body.error.code, 'ok'); assert.strictEqual(r.body.error.message, '');
    assert.strictEqual(r.body.data.user.open_id, good.open_id); assert.strictEqual(r.body.data.user.union_id, 'u-alice');
    assert.strictEqual(r.body.data.user.display_name, 'Alice Example');
  });
  await check('tiktok refresh grant', async () => {
    const r = await post(T, { client_key: 'tt-app', client_secret: 'tt-secret', grant_type: 'refresh_token', refresh_token: good.refresh_token });
    assert.strictEqual(r.status, 200); assert.strictEqual(r.body.open_id, good.open_id); assert.ok(r.body.refresh_token);
  });
  await check('tiktok wrong client_key', async () => tokErr(await redeem(await code(), { client_key: 'nobody' }), 401, 'invalid_client'));
  await check('tiktok wrong client_secret', async () => tokErr(await redeem(await code(), { client_secret: 'wrong' }), 401, 'invalid_client'));
  await check('tiktok reused code', async () => { const c = await code(); await redeem(c); tokErr(await redeem(c), 400, 'invalid_grant'); });
  await check('tiktok bad token at user info', async () => envErr(await get(U, 'Bearer not-a-token'), 401, 'access_token_invalid'));
  await check('tiktok no token at user info', async () => envErr(await get(U), 401, 'access_token_invalid'));
  await check('tiktok fields missing', async () => envErr(await get('/v2/user/info/', `Bearer ${(await redeem(await code())).body.access_token}`), 400, 'invalid_params'));
  await check('tiktok field without its scope', async () => envErr(await get('/v2/user/info/?fields=open_id,follower_count', `Bearer ${(await redeem(await code())).body.access_token}`), 400, 'scope_permission_missed'));
  await check('tiktok declined authorization', async () => {
    await scenario('authorize_access_denied', { client: 'tt-app' });
    const q = await authorize(A, { client_key: 'tt-app', response_type: 'code', scope: 'user.info.basic', redirect_uri: CB, state: 's2' });
    assert.strictEqual(keys(q), 'error,error_description,state'); assert.strictEqual(q.error, 'access_denied');
  });
  await check('tiktok scenario token_invalid_grant', async () => {
    const c = await code(); await scenario('token_invalid_grant', { client: 'tt-app' });
    tokErr(await redeem(c), 400, 'invalid_grant');
  });
  await check('tiktok scenario userinfo_unauthorized', async () => {
    const t = (await redeem(await code())).body.access_token; await scenario('userinfo_unauthorized', { client: 'tt-app' });
    envErr(await get(U, `Bearer ${t}`), 401, 'access_token_invalid');
  });
  await check('tiktok minted token accepted', async () => {
    const r = await get(U, `Bearer ${await mint({ client: 'tt-app', user: 'alice', scope: 'user.info.basic' })}`);
    assert.strictEqual(r.status, 200); assert.strictEqual(r.body.data.user.union_id, 'u-alice');
  });
  await check('tiktok expired token', async () => envErr(await get(U, `Bearer ${await mint({ client: 'tt-app', user: 'alice', defects: ['expired'] })}`), 401, 'access_token_invalid'));
  await check('tiktok revoked token', async () => envErr(await get(U, `Bearer ${await mint({ client: 'tt-app', user: 'alice', defects: ['revoked'] })}`), 401, 'access_token_invalid'));
}

async function github() {
  const A = '/login/oauth/authorize', T = '/login/oauth/access_token';
  const code = async (scope = 'read:user user:email') => (await authorize(A, { client_id: 'gh-app', scope, redirect_uri: CB, state: 's1' })).code;
  const redeem = (c, over = {}, hdr = {}) => post(T, { client_id: 'gh-app', client_secret: 'gh-secret', code: c, redirect_uri: CB, ...over }, hdr);
  const JSONH = { accept: 'application/json' };
  const tokErr = (r, error, form) => {
    assert.strictEqual(r.status, 200); assert.strictEqual(r.ct.split(';')[0], form ? 'application/x-www-form-urlencoded' : 'application/json');
    assert.strictEqual(keys(r.body), 'error,error_description,error_uri'); assert.strictEqual(r.body.error, error);
    assert.strictEqual(r.www, null);
  };
  const apiErr = (r, status, message) => {
    assert.strictEqual(r.status, status); assert.strictEqual(keys(r.body), 'documentation_url,message,status');
    assert.strictEqual(r.body.message, message); assert.strictEqual(r.body.status, String(status));
  };
  let tok;
  await check('github token answer, form by default', async () => {
    const r = await redeem(await code());
    assert.strictEqual(r.ct, 'application/x-www-form-urlencoded'); assert.strictEqual(keys(r.body), 'access_token,scope,token_type');
    assert.strictEqual(r.body.token_type, 'bearer'); assert.strictEqual(r.body.scope, 'read:user,user:email');
  });
  await check('github token answer, JSON on Accept', async () => {
    const r = await redeem(await code(), {}, JSONH);
    assert.strictEqual(r.ct, 'application/json'); assert.strictEqual(keys(r.body), 'access_token,scope,token_type');
    tok = r.body.access_token;
  });
  await check('github /user with token and Bearer', async () => {
    for (const scheme of ['token', 'Bearer']) {
      const r = await get('/api/v3/user', `${scheme} ${tok}`);
      assert.strictEqual(r.status, 200); assert.strictEqual(r.body.login, 'octocat'); assert.strictEqual(r.body.id, 583231);
      assert.strictEqual(r.scopes, 'read:user, user:email');
    }
  });
  await check('github /user/emails', async () => {
    const r = await get('/api/v3/user/emails', `token ${tok}`);
    assert.deepStrictEqual(r.body, [{ email: 'octocat@example.com', primary: true, verified: true, visibility: 'public' }]);
  });
  await check('github /user/emails without user:email', async () => apiErr(await get('/api/v3/user/emails', `token ${(await redeem(await code('read:user'), {}, JSONH)).body.access_token}`), 404, 'Not Found'));
  await check('github wrong client_id', async () => tokErr(await redeem(await code(), { client_id: 'nobody' }), 'incorrect_client_credentials', true));
  await check('github wrong client_secret', async () => tokErr(await redeem(await code(), { client_secret: 'wrong' }, JSONH), 'incorrect_client_credentials', false));
  await check('github reused code', async () => { const c = await code(); await redeem(c); tokErr(await redeem(c, {}, JSONH), 'bad_verification_code', false); });
  await check('github redirect_uri mismatch', async () => tokErr(await redeem(await code(), { redirect_uri: 'http://127.0.0.1:5555/other' }, JSONH), 'redirect_uri_mismatch', false));
  await check('github bad token at /user', async () => apiErr(await get('/api/v3/user', 'token nope'), 401, 'Bad credentials'));
  await check('github no token at /user', async () => apiErr(await get('/api/v3/user'), 401, 'Requires authentication'));
  await check('github declined authorization', async () => {
    const q = await authorize(A, { client_id: 'gh-app', scope: 'read:user', state: 's2', login: 'octocat+authorize_access_denied' });
    assert.strictEqual(keys(q), 'error,error_description,error_uri,state'); assert.strictEqual(q.error, 'access_denied');
  });
  await check('github scenario token_invalid_client', async () => {
    const c = await code(); await scenario('token_invalid_client', { client: 'gh-app' });
    tokErr(await redeem(c, {}, JSONH), 'incorrect_client_credentials', false);
  });
  await check('github minted token accepted', async () => {
    const r = await get('/api/v3/user', `token ${await mint({ client: 'gh-app', user: 'octocat' })}`);
    assert.strictEqual(r.status, 200); assert.strictEqual(r.body.login, 'octocat');
  });
  await check('github revoked token', async () => apiErr(await get('/api/v3/user', `token ${await mint({ client: 'gh-app', user: 'octocat', defects: ['revoked'] })}`), 401, 'Bad credentials'));
}

(persona === 'tiktok' ? tiktok() : github()).then(() => process.exit(failed ? 1 : 0), (e) => { console.log(`not ok ${e.stack}`); process.exit(1); });
