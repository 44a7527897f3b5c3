#!/usr/bin/env node
/*
 * negative.js - the personas' refusals and scenarios, each in the
 * provider's exact shape (docs/personas.md), with plain fetch:
 * wrong client credentials, a reused code, a bad, expired or revoked
 * token at the user API, a declined authorization, the token scenarios;
 * and that tokens minted by the admin API are accepted.
 *
 * google: the refresh token only with access_type=offline, on the first
 * offline consent and again with prompt=consent (or after a revocation),
 * prompt=none only for what was consented to, incremental authorization,
 * Google's scope URLs, the claims of each user
 * (hd only for a Workspace user), refresh tokens that are not rotated,
 * RFC 6749 and RFC 6750 refusals.
 *
 * Usage: node negative.js tiktok|github|google ISSUER ADMIN_URL
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
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null, scopes: r.headers.get('x-oauth-scopes'),
    www: r.headers.get('www-authenticate') };
}
const jwtClaims = (t) => JSON.parse(Buffer.from(t.split('.')[1], 'base64url').toString());

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

async function google() {
  const A = '/o/oauth2/v2/auth', T = '/token', U = '/v1/userinfo', APP = 'gg-app.apps.googleusercontent.com';
  const ALICE = '110248495921238986420', BOB = '104913527416690211538';
  const CAL = 'https://www.googleapis.com/auth/calendar.readonly';
  const login = (params, path = A) => authorize(path, { client_id: APP, response_type: 'code', redirect_uri: CB, state: 's1', ...params });
  const redeem = (c, over = {}, hdr = {}) => post(T, { client_id: APP, client_secret: 'gg-secret', code: c, grant_type: 'authorization_code', redirect_uri: CB, ...over }, hdr);
  /* a whole login: the token answer */
  const tokens = async (params, path) => {
    const q = await login(params, path);
    assert.ok(q.code, `no code: ${JSON.stringify(q)}`);
    const r = await redeem(q.code);
    assert.strictEqual(r.status, 200, JSON.stringify(r.body));
    return r.body;
  };
  const tokErr = (r, status, error) => {
    assert.strictEqual(r.status, status); assert.strictEqual(r.ct.split(';')[0], 'application/json');
    assert.strictEqual(keys(r.body), 'error,error_description'); assert.strictEqual(r.body.error, error);
  };
  const userErr = (r, status, error) => {
    assert.strictEqual(r.status, status); assert.match(r.www, /^Bearer realm="authflow"/);
    if (error) { assert.strictEqual(r.body.error, error); assert.ok(r.www.includes(`error="${error}"`)); }
  };
  const ALICE_INFO = 'email,email_verified,family_name,given_name,hd,locale,name,picture,sub';

  await check('google discovery: the standard document, authflow_persona naming Google\'s paths', async () => {
    const md = await (await fetch(`${base}/.well-known/openid-configuration`)).json();
    assert.strictEqual(md.token_endpoint, `${base}/token`); assert.strictEqual(md.userinfo_endpoint, `${base}/userinfo`);
    assert.deepStrictEqual(md.authflow_persona, { name: 'google', id_token: true, authorization_response_iss_parameter_supported: true,
      authorization_endpoint: `${base}${A}`, userinfo_endpoint: `${base}${U}` });
  });
  await check('google token answer, online by default: no refresh_token', async () => {
    const t = await tokens({ scope: 'openid email profile', login_hint: 'alice' });
    assert.strictEqual(keys(t), 'access_token,expires_in,id_token,scope,token_type');
    assert.strictEqual(t.token_type, 'Bearer'); assert.strictEqual(t.scope, 'openid email profile');
  });
  await check('google access_type=online: no refresh_token', async () => {
    const t = await tokens({ scope: 'openid email', login_hint: 'bob', access_type: 'online' });
    assert.strictEqual(t.refresh_token, undefined);
  });
  let bobRefresh;
  await check('google first offline consent: a refresh_token', async () => {
    const t = await tokens({ scope: 'openid email', login_hint: 'bob', access_type: 'offline' });
    assert.strictEqual(keys(t), 'access_token,expires_in,id_token,refresh_token,scope,token_type');
    bobRefresh = t.refresh_token;
  });
  await check('google second offline login: no refresh_token', async () => {
    const t = await tokens({ scope: 'openid email', login_hint: 'bob', access_type: 'offline' });
    assert.strictEqual(t.refresh_token, undefined);
  });
  await check('google offline with prompt=consent: a refresh_token again', async () => {
    const t = await tokens({ scope: 'openid email', login_hint: 'bob', access_type: 'offline', prompt: 'consent' });
    assert.ok(t.refresh_token); assert.notStrictEqual(t.refresh_token, bobRefresh);
  });
  await check('google prompt=consent without offline: no refresh_token', async () => {
    const t = await tokens({ scope: 'openid email', login_hint: 'bob', prompt: 'consent' });
    assert.strictEqual(t.refresh_token, undefined);
  });
  await check('google refresh: the same refresh token twice, none in the answers', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await post(T, { client_id: APP, client_secret: 'gg-secret', grant_type: 'refresh_token', refresh_token: bobRefresh });
      assert.strictEqual(r.status, 200, JSON.stringify(r.body));
      assert.strictEqual(keys(r.body), 'access_token,expires_in,id_token,scope,token_type');
      assert.strictEqual(jwtClaims(r.body.id_token).sub, BOB);
    }
  });
  await check('google revoked refresh token: invalid_grant, and the next offline login is a first consent', async () => {
    const rv = await post('/revoke', { client_id: APP, client_secret: 'gg-secret', token: bobRefresh });
    assert.strictEqual(rv.status, 200);
    tokErr(await post(T, { client_id: APP, client_secret: 'gg-secret', grant_type: 'refresh_token', refresh_token: bobRefresh }), 400, 'invalid_grant');
    const t = await tokens({ scope: 'openid email', login_hint: 'bob', access_type: 'offline' });
    assert.ok(t.refresh_token);
  });
  await check('google scenario grant_revoked: invalid_grant, and the next offline login is a first consent', async () => {
    const t = await tokens({ scope: 'openid email', login_hint: 'bob', access_type: 'offline', prompt: 'consent' });
    assert.strictEqual((await tokens({ scope: 'openid email', login_hint: 'bob', access_type: 'offline' })).refresh_token, undefined);
    await scenario('grant_revoked', { client: APP, user: 'bob' });
    tokErr(await post(T, { client_id: APP, client_secret: 'gg-secret', grant_type: 'refresh_token', refresh_token: t.refresh_token }), 400, 'invalid_grant');
    assert.ok((await tokens({ scope: 'openid email', login_hint: 'bob', access_type: 'offline' })).refresh_token);
  });
  await check('google include_granted_scopes=true: the scopes granted before join', async () => {
    const t = await tokens({ scope: CAL, login_hint: 'bob', include_granted_scopes: 'true' });
    assert.deepStrictEqual(t.scope.split(' ').sort(), [CAL, 'email', 'openid'].sort());
    assert.strictEqual(jwtClaims(t.access_token).scope, t.scope);
  });
  await check('google without include_granted_scopes: only the scope asked for', async () => {
    for (const extra of [{}, { include_granted_scopes: 'false' }]) {
      const t = await tokens({ scope: CAL, login_hint: 'bob', ...extra });
      assert.strictEqual(t.scope, CAL);
    }
  });
  await check('google scope URLs read as email and profile', async () => {
    const t = await tokens({ scope: `openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile email`, login_hint: 'alice' });
    assert.strictEqual(t.scope, 'openid email profile');
    assert.strictEqual(jwtClaims(t.id_token).email, 'alice@example.com');
    assert.strictEqual(jwtClaims(t.id_token).name, 'Alice Example');
  });
  await check('google /o/oauth2/auth serves too', async () => {
    const t = await tokens({ scope: 'openid', login_hint: 'alice' }, '/o/oauth2/auth');
    assert.strictEqual(jwtClaims(t.id_token).sub, ALICE);
  });
  let aliceToken;
  await check('google ID token: Google\'s claims, hd for a Workspace user', async () => {
    const t = await tokens({ scope: 'openid email profile', login_hint: 'alice' });
    const c = jwtClaims(t.id_token);
    assert.strictEqual(keys(c), 'at_hash,aud,auth_time,azp,email,email_verified,exp,family_name,given_name,hd,iat,iss,locale,name,picture,sub');
    assert.strictEqual(c.hd, 'example.com'); assert.strictEqual(c.azp, APP); assert.strictEqual(c.aud, APP);
    assert.strictEqual(c.email_verified, true);
    aliceToken = t.access_token;
  });
  await check('google ID token: no hd for a user without one, email only with email', async () => {
    const c = jwtClaims((await tokens({ scope: 'openid profile', login_hint: 'bob' })).id_token);
    assert.strictEqual(keys(c), 'at_hash,aud,auth_time,azp,exp,iat,iss,name,sub');
    const e = jwtClaims((await tokens({ scope: 'openid email', login_hint: 'bob' })).id_token);
    assert.strictEqual(e.hd, undefined); assert.strictEqual(e.email_verified, false); assert.strictEqual(e.name, undefined);
  });
  await check('google user info at /v1/userinfo and /oauth2/v3/userinfo', async () => {
    for (const path of [U, '/oauth2/v3/userinfo']) {
      const r = await get(path, `Bearer ${aliceToken}`);
      assert.strictEqual(r.status, 200); assert.strictEqual(keys(r.body), ALICE_INFO); assert.strictEqual(r.body.sub, ALICE);
    }
  });
  await check('google user info with the token in the query', async () => {
    const r = await get(`${U}?access_token=${encodeURIComponent(aliceToken)}`);
    assert.strictEqual(r.status, 200); assert.strictEqual(r.body.hd, 'example.com');
    userErr(await get(`${U}?access_token=${encodeURIComponent(aliceToken)}`, `Bearer ${aliceToken}`), 400, 'invalid_request');
  });
  await check('google user info without openid: profile and email open it', async () => {
    const t = await tokens({ scope: 'email', login_hint: 'bob' });
    assert.strictEqual(t.id_token, undefined);
    const r = await get(U, `Bearer ${t.access_token}`);
    assert.strictEqual(r.status, 200); assert.strictEqual(keys(r.body), 'email,email_verified,sub');
  });
  await check('google user info refusals', async () => {
    userErr(await get(U), 401, null);
    userErr(await get(U, 'Bearer not-a-token'), 401, 'invalid_token');
    userErr(await get(U, `Bearer ${(await tokens({ scope: CAL, login_hint: 'bob' })).access_token}`), 403, 'insufficient_scope');
    userErr(await get(U, `Bearer ${await mint({ client: APP, user: 'alice', defects: ['expired'] })}`), 401, 'invalid_token');
    userErr(await get(U, `Bearer ${await mint({ client: APP, user: 'alice', defects: ['revoked'] })}`), 401, 'invalid_token');
  });
  await check('google minted token accepted', async () => {
    const r = await get(U, `Bearer ${await mint({ client: APP, user: 'bob', scope: 'openid profile' })}`);
    assert.strictEqual(r.status, 200); assert.strictEqual(keys(r.body), 'name,sub');
  });
  await check('google prompt=none: consent_required for what the user has not granted', async () => {
    const first = await fetch(`${base}${A}?${new URLSearchParams({ client_id: APP, response_type: 'code', redirect_uri: CB, scope: 'openid email', login_hint: 'alice', access_type: 'offline', prompt: 'consent' })}`, { redirect: 'manual' });
    const cookie = first.headers.get('set-cookie').split(';')[0];
    const none = async (params) => {
      const r = await fetch(`${base}${A}?${new URLSearchParams({ client_id: APP, response_type: 'code', redirect_uri: CB, state: 's3', prompt: 'none', ...params })}`, { redirect: 'manual', headers: { cookie } });
      assert.strictEqual(r.status, 302);
      return Object.fromEntries(new URL(r.headers.get('location')).searchParams);
    };
    assert.ok((await none({ scope: 'openid email' })).code);
    const q = await none({ scope: CAL });
    assert.strictEqual(keys(q), 'error,error_description,iss,state'); assert.strictEqual(q.error, 'consent_required');
    assert.ok((await none({ scope: 'openid', access_type: 'offline' })).code, 'after an offline consent');
  });
  await check('google access_type neither online nor offline', async () => {
    const q = await login({ scope: 'openid', access_type: 'forever' });
    assert.strictEqual(keys(q), 'error,error_description,iss,state'); assert.strictEqual(q.error, 'invalid_request');
  });
  await check('google access_type or include_granted_scopes repeated', async () => {
    for (const bad of ['access_type=offline&access_type=online', 'include_granted_scopes=true&include_granted_scopes=true']) {
      const r = await fetch(`${base}${A}?client_id=${APP}&response_type=code&redirect_uri=${encodeURIComponent(CB)}&scope=openid&${bad}`, { redirect: 'manual' });
      assert.strictEqual(r.status, 302);
      assert.strictEqual(new URL(r.headers.get('location')).searchParams.get('error'), 'invalid_request');
    }
  });
  await check('google wrong client_secret', async () => {
    const r = await redeem((await login({ scope: 'openid' })).code, { client_secret: 'wrong' });
    tokErr(r, 401, 'invalid_client');
  });
  await check('google client_secret in a Basic header', async () => {
    const c = (await login({ scope: 'openid' })).code;
    const basic = `Basic ${Buffer.from(`${encodeURIComponent(APP)}:gg-secret`).toString('base64')}`;
    const r = await post(T, { code: c, grant_type: 'authorization_code', redirect_uri: CB }, { authorization: basic });
    assert.strictEqual(r.status, 200);
  });
  await check('google reused code', async () => { const c = (await login({ scope: 'openid' })).code; await redeem(c); tokErr(await redeem(c), 400, 'invalid_grant'); });
  await check('google redirect_uri mismatch', async () => tokErr(await redeem((await login({ scope: 'openid' })).code, { redirect_uri: 'http://127.0.0.1:5555/other' }), 400, 'invalid_grant'));
  await check('google unknown grant_type', async () => tokErr(await post(T, { client_id: APP, client_secret: 'gg-secret', grant_type: 'urn:x' }), 400, 'unsupported_grant_type'));
  await check('google declined authorization', async () => {
    await scenario('authorize_access_denied', { client: APP });
    const q = await login({ scope: 'openid', state: 's2' });
    assert.strictEqual(keys(q), 'error,error_description,iss,state'); assert.strictEqual(q.error, 'access_denied'); assert.strictEqual(q.state, 's2');
  });
  await check('google scenario token_invalid_grant', async () => {
    const c = (await login({ scope: 'openid' })).code; await scenario('token_invalid_grant', { client: APP });
    tokErr(await redeem(c), 400, 'invalid_grant');
  });
  await check('google scenario userinfo_unauthorized', async () => {
    const t = (await tokens({ scope: 'openid', login_hint: 'alice' })).access_token; await scenario('userinfo_unauthorized', { client: APP });
    userErr(await get(U, `Bearer ${t}`), 401, 'invalid_token');
  });
}

const run = { tiktok, github, google }[persona];
run().then(() => process.exit(failed ? 1 : 0), (e) => { console.log(`not ok ${e.stack}`); process.exit(1); });
