#!/usr/bin/env node
/*
 * login.js - log in through authflowd's TikTok, GitHub or Google persona
 * with a passport strategy nobody here wrote (passport-tiktok-auth,
 * passport-github2, passport-google-oauth20), configured only by its
 * endpoint URL options, the way an app points it at a provider. The
 * strategy builds the authorization URL, authflowd (headless) redirects
 * back, the strategy redeems the code and reads the user; its verify
 * callback gets the profile, which must be the configured user's.
 *
 * google-oidc: the Google persona's issuer with openid-client 5.x, set up
 * by discovery alone, as an app sets it up for accounts.google.com: an
 * offline login with prompt=consent, the ID token checked by the library
 * (signature, iss, aud, nonce, at_hash), the user info, and the refresh
 * token used twice (Google's are not rotated).
 *
 * Usage: node login.js tiktok|github|google|google-oidc BASE CLIENT_ID SECRET CALLBACK
 * Prints one JSON line; exit 0 when the login completed, 1 otherwise.
 */
'use strict';

const [persona, base, clientID, clientSecret, callbackURL] = process.argv.slice(2);

function strategyFor(verify) {
  if (persona === 'google') {
    /* the scopes passport's README asks for: no openid, so no ID token;
     * the user comes from the user info endpoint */
    const { Strategy } = require('passport-google-oauth20');
    return new Strategy({
      clientID, clientSecret, callbackURL,
      authorizationURL: `${base}/o/oauth2/v2/auth`,
      tokenURL: `${base}/token`,
      userProfileURL: `${base}/v1/userinfo`,
      scope: ['profile', 'email'],
      state: true,
    }, verify);
  }
  if (persona === 'tiktok') {
    const { Strategy } = require('passport-tiktok-auth');
    return new Strategy({
      clientID, clientSecret, callbackURL,
      authorizationURL: `${base}/v2/auth/authorize/`,
      tokenURL: `${base}/v2/oauth/token/`,
      profileURL: `${base}/v2/user/info/`,
      scope: ['user.info.basic', 'user.info.profile', 'user.info.stats'],
      state: true,
      pkce: true,
    }, verify);
  }
  const { Strategy } = require('passport-github2');
  return new Strategy({
    clientID, clientSecret, callbackURL,
    authorizationURL: `${base}/login/oauth/authorize`,
    tokenURL: `${base}/login/oauth/access_token`,
    userProfileURL: `${base}/api/v3/user`,
    userEmailURL: `${base}/api/v3/user/emails`,
    scope: ['read:user', 'user:email'],
    state: true,
  }, verify);
}

/* What the app passes to passport.authenticate(): Google's access_type
 * (passport-google-oauth20's accessType) asks for a refresh token. */
const authOptions = persona === 'google' ? { accessType: 'offline' } : {};

/* One call of the strategy, as passport's middleware makes it: the
 * strategy ends in exactly one of redirect, success, fail, error, pass. */
function authenticate(strategy, req) {
  return new Promise((resolve) => {
    const s = Object.create(strategy);
    s.redirect = (url) => resolve({ type: 'redirect', url });
    s.success = (user, info) => resolve({ type: 'success', user, info });
    s.fail = (challenge, status) => resolve({ type: 'fail', challenge, status });
    s.error = (err) => resolve({ type: 'error', err: String(err && (err.message || err)) + (err && err.oauthError ? ` ${JSON.stringify(err.oauthError)}` : '') });
    s.pass = () => resolve({ type: 'pass' });
    s.authenticate(req, authOptions);
  });
}

async function main() {
  const seen = {};
  const strategy = strategyFor((...args) => {
    const done = args[args.length - 1];
    const profile = args[args.length - 2];
    if (args.length === 5) seen.params = args[2];
    seen.accessToken = args[0];
    seen.refreshToken = args.length >= 4 ? args[1] : undefined;
    done(null, profile);
  });
  const session = {};
  const req = (query) => ({ query, session, headers: { host: 'app.test' }, url: '/cb', connection: {} });

  const first = await authenticate(strategy, req({}));
  if (first.type !== 'redirect') throw new Error(`expected a redirect to the provider, got ${JSON.stringify(first)}`);
  const res = await fetch(first.url, { redirect: 'manual' });
  const back = res.headers.get('location');
  if (res.status !== 302 || !back || !back.startsWith(callbackURL)) {
    throw new Error(`authorize answered ${res.status} ${back}: ${await res.text()}`);
  }
  const query = Object.fromEntries(new URL(back).searchParams);
  const last = await authenticate(strategy, req(query));
  if (last.type !== 'success') throw new Error(`callback: ${JSON.stringify(last)}`);
  const p = last.user;
  const out = { ok: true, persona, authorize: first.url.split('?')[0], callback: query,
    profile: { id: p.id, username: p.username, displayName: p.displayName,
      emails: p.emails, unionId: p.unionId, profileImage: p.profileImage },
    open_id: seen.params ? seen.params.open_id : undefined,
    refresh: seen.refreshToken !== undefined ? Boolean(seen.refreshToken) : undefined,
    photos: p.photos, name: p.name };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

/* google-oidc: openid-client against the issuer's discovery document. */
async function oidc() {
  const assert = require('assert');
  const { Issuer, generators } = require('openid-client');
  const issuer = await Issuer.discover(base);
  const client = new issuer.Client({ client_id: clientID, client_secret: clientSecret,
    redirect_uris: [callbackURL], response_types: ['code'] });
  const state = generators.state(), nonce = generators.nonce();
  const verifier = generators.codeVerifier();
  const url = client.authorizationUrl({ scope: 'openid email profile', state, nonce,
    code_challenge: generators.codeChallenge(verifier), code_challenge_method: 'S256',
    access_type: 'offline', prompt: 'consent' });
  const res = await fetch(url, { redirect: 'manual' });
  const back = res.headers.get('location');
  if (res.status !== 302 || !back || !back.startsWith(callbackURL)) {
    throw new Error(`authorize answered ${res.status} ${back}: ${await res.text()}`);
  }
  const params = client.callbackParams(back);
  const tokens = await client.callback(callbackURL, params, { state, nonce, code_verifier: verifier });
  const claims = tokens.claims();
  assert.ok(tokens.refresh_token, 'access_type=offline with prompt=consent: a refresh token');
  assert.strictEqual(claims.azp, clientID);
  assert.ok(claims.at_hash, 'at_hash');
  const info = await client.userinfo(tokens);
  assert.strictEqual(info.sub, claims.sub);
  /* Google's refresh tokens stay valid: the same one serves twice, and the
   * answers bring no new one */
  const again = [await client.refresh(tokens.refresh_token), await client.refresh(tokens.refresh_token)];
  for (const t of again) {
    assert.strictEqual(t.refresh_token, undefined, 'a refresh answer without refresh_token');
    assert.strictEqual(t.claims().sub, claims.sub);
  }
  const out = { ok: true, persona, authorize: issuer.authorization_endpoint,
    id_token: Object.fromEntries(['sub', 'email', 'email_verified', 'name', 'given_name',
      'family_name', 'picture', 'locale', 'hd', 'azp'].map((k) => [k, claims[k]])),
    userinfo: info, refreshed: again.length };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

(persona === 'google-oidc' ? oidc() : main()).catch((e) => {
  process.stdout.write(`${JSON.stringify({ ok: false, persona, error: String(e.stack || e) })}\n`);
  process.exit(1);
});
