#!/usr/bin/env node
/*
 * rotation.js - a signing key rotation through authflowd's admin API
 * (docs/admin.md, "Keys"), judged by libraries nobody in this project
 * wrote: openid-client 5.x logs in and validates ID tokens against the
 * jwks_uri it fetches itself, and jose 4.x (openid-client's own
 * dependency) verifies the tokens against a remote JWKS.
 *
 *   1. login A: the ID token carries the configured signing key's kid (K1)
 *   2. POST /admin/keys {"alg": ALG, "sign": true}: K2 signs from now on;
 *      /jwks has a new ETag (a conditional GET with the old one gets 200)
 *   3. login B (a fresh client, as a new app instance): signed by K2
 *   4. DELETE /admin/keys?kid=K1&grace_seconds=GRACE: during the grace,
 *      A's ID token and access token still verify (openid-client, jose)
 *      and authflowd's /userinfo accepts A's access token
 *   5. after the grace: K1 is gone from /jwks, so openid-client and jose
 *      fail to find a key for A's tokens, /userinfo refuses A's access
 *      token, and B's tokens still verify
 *
 * Usage: node rotation.js --issuer URL --admin URL --client-id ID
 *          --from-config AUTHFLOWD_JSON [--alg RS256] [--grace SECONDS]
 *
 * Prints one JSON summary line on stdout. Exit status: 0 when every step
 * passed, 1 on any failure, 2 on a usage error.
 */
'use strict';

const { Issuer, generators } = require('openid-client');
const jose = require('jose');
const { fromConfig, getNoFollow, check } = require('./login.js');

function usage(msg) {
  process.stderr.write(`rotation.js: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const names = {
    '--issuer': 'issuer',
    '--admin': 'admin',
    '--client-id': 'clientId',
    '--from-config': 'fromConfig',
    '--alg': 'alg',
    '--grace': 'grace',
  };
  const o = { alg: 'RS256', grace: '3' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = names[argv[i]];
    if (!key || i + 1 >= argv.length) usage(`bad option ${argv[i]}`);
    o[key] = argv[i + 1];
  }
  for (const k of ['issuer', 'admin', 'clientId', 'fromConfig']) if (!o[k]) usage(`missing ${k}`);
  return { ...fromConfig(o.fromConfig, o.clientId), ...o, grace: Number(o.grace) };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const kidOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString()).kid;

async function admin(o, method, path, body) {
  const res = await fetch(o.admin + path, {
    method,
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json();
  check(res.ok, `${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/* A client of a freshly discovered issuer: its own key store, as a new
 * app instance has (openid-client fetches jwks_uri again at most once a
 * minute per issuer object). */
async function newClient(o) {
  const issuer = await Issuer.discover(o.issuer);
  const meta = {
    client_id: o.clientId,
    redirect_uris: [o.redirectUri],
    response_types: ['code'],
    token_endpoint_auth_method: o.authMethod,
    id_token_signed_response_alg: o.alg,
  };
  if (o.clientSecret !== undefined) meta.client_secret = o.clientSecret;
  return new issuer.Client(meta);
}

/* login: a code flow with PKCE; openid-client checks the ID token's
 * signature against the jwks_uri it fetches. */
async function login(o) {
  const client = await newClient(o);
  const verifier = generators.codeVerifier();
  const state = generators.state();
  const nonce = generators.nonce();
  const res = await getNoFollow(
    client.authorizationUrl({
      scope: 'openid profile',
      code_challenge: generators.codeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    }),
  );
  check(typeof res.headers.location === 'string', `authorize answered ${res.status}`);
  const params = client.callbackParams(res.headers.location);
  const tokens = await client.callback(o.redirectUri, params, {
    code_verifier: verifier,
    state,
    nonce,
    response_type: 'code',
  });
  return { client, tokens, nonce };
}

/* verifies: every way the tokens of a login are checked, fresh: openid-
 * client's ID token validation, jose on the ID and access tokens, and
 * authflowd's /userinfo. Returns {ok: bool, why: [...]} per verifier. */
async function verifies(o, l) {
  const out = {};
  const fresh = await newClient(o);
  const jwks = jose.createRemoteJWKSet(new URL(fresh.issuer.jwks_uri));
  const attempt = async (name, fn) => {
    try {
      await fn();
      out[name] = true;
    } catch (err) {
      out[name] = String(err.code || err.message || err);
    }
  };
  await attempt('openid-client id_token', () =>
    fresh.validateIdToken(l.tokens, l.nonce, 'token', undefined, undefined),
  );
  await attempt('jose id_token', () =>
    jose.jwtVerify(l.tokens.id_token, jwks, { issuer: o.issuer, audience: o.clientId }),
  );
  await attempt('jose access_token', () =>
    jose.jwtVerify(l.tokens.access_token, jwks, { issuer: o.issuer, typ: 'at+jwt' }),
  );
  await attempt('authflowd userinfo', () => fresh.userinfo(l.tokens.access_token));
  return out;
}

const allTrue = (v) => Object.values(v).every((x) => x === true);
const noneTrue = (v) => Object.values(v).every((x) => x !== true);

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const summary = { ok: false, steps: [] };
  try {
    const before = await admin(o, 'GET', '/admin/keys');
    const k1 = before.signing;
    const jwksUri = (await Issuer.discover(o.issuer)).jwks_uri;
    const r0 = await fetch(jwksUri);
    const etag0 = r0.headers.get('etag');
    check(etag0 === before.jwks_etag, `GET /admin/keys jwks_etag ${before.jwks_etag} is /jwks's ${etag0}`);

    const a = await login(o);
    check(kidOf(a.tokens.id_token) === k1, `login A signed by ${k1}`);
    summary.steps.push('login-before');

    const added = await admin(o, 'POST', '/admin/keys', { alg: o.alg, sign: true });
    const k2 = added.kid;
    check(added.signing === true && k2 !== k1, 'the added key signs');
    const r1 = await fetch(jwksUri, { headers: { 'If-None-Match': etag0 } });
    check(r1.status === 200, `a conditional GET of /jwks with the old ETag gets 200 (got ${r1.status})`);
    check(r1.headers.get('etag') !== etag0, 'the ETag changed');
    const kids1 = (await r1.json()).keys.map((k) => k.kid);
    check(kids1.includes(k1) && kids1.includes(k2), `/jwks has both keys (${kids1})`);
    summary.steps.push('add-and-sign');

    const b = await login(o);
    check(kidOf(b.tokens.id_token) === k2, `login B signed by ${k2}`);
    summary.steps.push('login-after');

    await admin(o, 'DELETE', `/admin/keys?kid=${encodeURIComponent(k1)}&grace_seconds=${o.grace}`);
    const t0 = Date.now();
    const during = await verifies(o, a);
    summary.during_grace = during;
    check(Date.now() - t0 < o.grace * 1000, 'the grace checks ran within the grace');
    check(allTrue(during), `login A's tokens verify during the grace: ${JSON.stringify(during)}`);
    summary.steps.push('grace');

    await sleep(o.grace * 1000 + 300);
    const kids2 = (await (await fetch(jwksUri)).json()).keys.map((k) => k.kid);
    check(!kids2.includes(k1) && kids2.includes(k2), `/jwks without ${k1} after the grace (${kids2})`);
    const after = await verifies(o, a);
    summary.after_grace = after;
    check(noneTrue(after), `login A's tokens fail after the grace: ${JSON.stringify(after)}`);
    check(
      /no valid key found/.test(after['openid-client id_token']) &&
        after['jose id_token'] === 'ERR_JWKS_NO_MATCHING_KEY' &&
        after['jose access_token'] === 'ERR_JWKS_NO_MATCHING_KEY',
      `the libraries fail for want of the key: ${JSON.stringify(after)}`,
    );
    const stillB = await verifies(o, b);
    check(allTrue(stillB), `login B's tokens still verify: ${JSON.stringify(stillB)}`);
    summary.steps.push('retired');
    summary.ok = true;
  } catch (err) {
    summary.error = String((err && err.message) || err);
  }
  process.stdout.write(JSON.stringify(summary) + '\n');
  process.exit(summary.ok ? 0 : 1);
}

main();
