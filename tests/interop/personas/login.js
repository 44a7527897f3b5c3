#!/usr/bin/env node
/*
 * login.js - log in through authflowd's TikTok or GitHub persona with a
 * passport strategy nobody here wrote (passport-tiktok-auth,
 * passport-github2), configured only by its endpoint URL options, the
 * way an app points it at a provider. The strategy builds the
 * authorization URL, authflowd (headless) redirects back, the strategy
 * redeems the code and reads the user; its verify callback gets the
 * profile, which must be the configured user's.
 *
 * Usage: node login.js tiktok|github BASE CLIENT_ID SECRET CALLBACK
 * Prints one JSON line; exit 0 when the login completed, 1 otherwise.
 */
'use strict';

const [persona, base, clientID, clientSecret, callbackURL] = process.argv.slice(2);

function strategyFor(verify) {
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
    s.authenticate(req, {});
  });
}

async function main() {
  const seen = {};
  const strategy = strategyFor((...args) => {
    const done = args[args.length - 1];
    const profile = args[args.length - 2];
    if (args.length === 5) seen.params = args[2];
    seen.accessToken = args[0];
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
    open_id: seen.params ? seen.params.open_id : undefined };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((e) => {
  process.stdout.write(`${JSON.stringify({ ok: false, persona, error: String(e.stack || e) })}\n`);
  process.exit(1);
});
