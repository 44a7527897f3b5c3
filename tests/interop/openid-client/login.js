#!/usr/bin/env node
/*
 * login.js - drive authflowd with openid-client 5.x, a relying party library
 * nobody in this project wrote, using its defaults: if authflowd's discovery
 * document, redirects, ID tokens (signature against the JWKS, iss, aud, exp,
 * nonce, at_hash), userinfo, refresh rotation, introspection or revocation
 * deviate from what a mainstream client expects, a step below throws.
 *
 * Usage: node login.js --issuer URL --client-id ID [--redirect-uri URI]
 *          [--client-secret S] [--auth-method client_secret_basic|
 *          client_secret_post|none] [--alg RS256|ES256|...] [--scope S]
 *          [--login-hint USER] [--from-config AUTHFLOWD_JSON]
 *
 * --from-config reads the client's registration (secret, first redirect
 * URI, token_endpoint_auth_method, and of its scopes those among openid
 * profile email offline_access) from authflowd's config; options given on
 * the command line win.
 *
 * Prints one JSON summary line on stdout. Exit status: 0 when every step
 * passed, 1 on any failure (the summary then carries "ok": false and the
 * error), 2 on a usage error.
 */
'use strict';

const fs = require('fs');
const http = require('http');
const https = require('https');
const { Issuer, generators } = require('openid-client');

function usage(msg) {
  process.stderr.write(`login.js: ${msg}\n`);
  process.exit(2);
}

/* The client's registration in an authflowd config (RFC 7591 names). */
function fromConfig(path, clientId) {
  const cfg = JSON.parse(fs.readFileSync(path, 'utf8'));
  const c = (cfg.clients || []).find((x) => x.client_id === clientId);
  if (!c) usage(`client ${clientId} is not in ${path}`);
  const out = { redirectUri: c.redirect_uris[0] };
  if (c.client_secret !== undefined) out.clientSecret = c.client_secret;
  out.authMethod = c.token_endpoint_auth_method || (c.client_secret ? 'client_secret_basic' : 'none');
  const wanted = ['openid', 'profile', 'email', 'offline_access'];
  const have = (c.scope || 'openid profile email offline_access').split(' ');
  out.scope = wanted.filter((s) => have.includes(s)).join(' ');
  return out;
}

function parseArgs(argv) {
  const defaults = {
    authMethod: 'client_secret_basic',
    alg: 'RS256',
    scope: 'openid profile email',
  };
  const opts = {};
  const names = {
    '--issuer': 'issuer',
    '--client-id': 'clientId',
    '--client-secret': 'clientSecret',
    '--redirect-uri': 'redirectUri',
    '--auth-method': 'authMethod',
    '--alg': 'alg',
    '--scope': 'scope',
    '--login-hint': 'loginHint',
    '--from-config': 'fromConfig',
  };
  for (let i = 0; i < argv.length; i += 2) {
    const key = names[argv[i]];
    if (!key) usage(`unknown option ${argv[i]}`);
    if (i + 1 >= argv.length) usage(`${argv[i]} needs a value`);
    opts[key] = argv[i + 1];
  }
  if (opts.fromConfig) {
    if (!opts.clientId) usage('--from-config needs --client-id');
    Object.assign(opts, { ...fromConfig(opts.fromConfig, opts.clientId), ...opts });
  }
  for (const [k, v] of Object.entries(defaults)) if (opts[k] === undefined) opts[k] = v;
  for (const k of ['issuer', 'clientId', 'redirectUri']) {
    if (!opts[k]) usage(`missing --${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`);
  }
  return opts;
}

/* One GET without following redirects: authflowd auto-approves (headless
 * login), so the authorization response is the Location of this answer. */
function getNoFollow(url) {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers }));
    });
    req.setTimeout(10000, () => req.destroy(new Error(`timeout on GET ${url}`)));
    req.on('error', reject);
  });
}

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const summary = { ok: false, issuer: o.issuer, client_id: o.clientId, auth_method: o.authMethod };
  const steps = [];
  summary.steps = steps;
  try {
    const issuer = await Issuer.discover(o.issuer);
    check(issuer.issuer === o.issuer, `discovered issuer ${issuer.issuer} equals ${o.issuer}`);
    steps.push('discover');

    const meta = {
      client_id: o.clientId,
      redirect_uris: [o.redirectUri],
      response_types: ['code'],
      token_endpoint_auth_method: o.authMethod,
      id_token_signed_response_alg: o.alg,
    };
    if (o.clientSecret !== undefined) meta.client_secret = o.clientSecret;
    const client = new issuer.Client(meta);

    const codeVerifier = generators.codeVerifier();
    const state = generators.state();
    const nonce = generators.nonce();
    const authParams = {
      scope: o.scope,
      code_challenge: generators.codeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    };
    if (o.loginHint) authParams.login_hint = o.loginHint;
    const authUrl = client.authorizationUrl(authParams);

    const res = await getNoFollow(authUrl);
    check(res.status === 302 || res.status === 303, `authorize answers a redirect (got ${res.status})`);
    const location = res.headers.location;
    check(typeof location === 'string', 'authorize redirect has a Location');
    check(location.startsWith(o.redirectUri + '?'), `Location ${location} goes to the redirect_uri`);
    steps.push('authorize');

    const params = client.callbackParams(location);
    check(!params.error, `authorization response has no error (${params.error} ${params.error_description})`);
    const tokenSet = await client.callback(o.redirectUri, params, {
      code_verifier: codeVerifier,
      state,
      nonce,
      response_type: 'code',
    });
    const claims = tokenSet.claims();
    check(claims.iss === issuer.issuer, 'id_token iss');
    check(claims.aud === o.clientId || (Array.isArray(claims.aud) && claims.aud.includes(o.clientId)), 'id_token aud');
    check(claims.nonce === nonce, 'id_token nonce');
    check(typeof tokenSet.refresh_token === 'string', 'a refresh_token was issued');
    const idHeader = JSON.parse(Buffer.from(tokenSet.id_token.split('.')[0], 'base64url').toString());
    check(idHeader.alg === o.alg, `id_token alg ${idHeader.alg} is ${o.alg}`);
    summary.sub = claims.sub;
    summary.id_token_alg = idHeader.alg;
    steps.push('callback');

    const userinfo = await client.userinfo(tokenSet);
    check(userinfo.sub === claims.sub, 'userinfo sub equals id_token sub');
    summary.userinfo = userinfo;
    steps.push('userinfo');

    const refreshed = await client.refresh(tokenSet);
    check(typeof refreshed.access_token === 'string', 'refresh gave an access_token');
    check(refreshed.refresh_token && refreshed.refresh_token !== tokenSet.refresh_token, 'refresh token rotated');
    if (refreshed.id_token) check(refreshed.claims().sub === claims.sub, 'refreshed id_token sub');
    steps.push('refresh');

    const ui2 = await client.userinfo(refreshed.access_token);
    check(ui2.sub === claims.sub, 'userinfo with the refreshed access token');
    steps.push('userinfo-after-refresh');

    const intro = await client.introspect(refreshed.access_token, 'access_token');
    check(intro.active === true, 'introspection: refreshed access token is active');
    check(intro.client_id === o.clientId, 'introspection client_id');
    check(intro.sub === claims.sub, 'introspection sub');
    const introRt = await client.introspect(refreshed.refresh_token, 'refresh_token');
    check(introRt.active === true, 'introspection: refresh token is active');
    steps.push('introspect');

    await client.revoke(refreshed.refresh_token, 'refresh_token');
    const after = await client.introspect(refreshed.refresh_token, 'refresh_token');
    check(after.active === false, 'revoked refresh token is inactive');
    const afterAt = await client.introspect(refreshed.access_token, 'access_token');
    check(afterAt.active === false, 'revoking the refresh token revoked its grant (access token inactive)');
    steps.push('revoke');

    let refreshRejected = false;
    try {
      await client.refresh(refreshed.refresh_token);
    } catch (err) {
      refreshRejected = err.error === 'invalid_grant';
    }
    check(refreshRejected, 'a revoked refresh token is refused with invalid_grant');
    steps.push('refresh-after-revoke');

    summary.ok = true;
  } catch (err) {
    summary.error = String((err && err.message) || err);
    if (err && err.error) summary.oauth_error = err.error;
    if (err && err.error_description) summary.oauth_error_description = err.error_description;
  }
  process.stdout.write(JSON.stringify(summary) + '\n');
  process.exit(summary.ok ? 0 : 1);
}

if (require.main === module) main();

/* rotation.js reuses the registration reader and the redirect step. */
module.exports = { fromConfig, getNoFollow, check };
