#!/usr/bin/env node
// server.js - a "Login with <provider>" web app that uses plain OAuth 2.0,
// no OpenID Connect, for the truth corpus of `authprobe rp` (issue 9):
// Express + express-session + passport + passport-oauth2, libraries nobody
// on this project wrote, at the versions pinned in package-lock.json.
//
// It is the glue passport-oauth2's README shows (the strategy, two routes),
// with the options its documentation recommends for a web app (`state:
// true`, `pkce: true`, which keep the state and the PKCE verifier in the
// express-session session), and what every such app adds: a userProfile()
// that fetches the user from the provider's user API with the access token
// (authflowd's /userinfo), passport's session (de)serialisation, a guard for
// the pages that need a login and passport's documented POST /logout. The
// libraries' defaults are kept everywhere else:
//   - no `scope` option: the authorization request carries no scope, so no
//     `openid` (authflowd then grants the client's default scope, which
//     includes openid, and issues an ID token this app never reads);
//   - node-oauth (under passport-oauth2) authenticates at /token with
//     client_secret_post (the client is registered so);
//   - one exception, the one every provider strategy built on
//     passport-oauth2 makes (passport-github2, passport-google-oauth20...):
//     useAuthorizationHeaderforGET(true), for node-oauth's get() otherwise
//     puts the access token in the query string (?access_token=), which
//     RFC 9700 §4.3.2 forbids and authflowd's /userinfo refuses (401), so
//     that no login would ever succeed;
//   - passport-oauth2 ignores `iss` in the authorization response, and a
//     token endpoint error goes to Express's default error handler (500);
//   - express-session as its README configures it (resave: false,
//     saveUninitialized: true): the cookie `connect.sid` is set before any
//     login, at /login (the state lives in the session) and on any request
//     of a browser without one.
//
// Routes:
//   GET  /             public home page (HTML)
//   GET  /login        passport-oauth2: redirect to the provider's /authorize
//   GET  /callback     passport-oauth2: the authorization response; success
//                      redirects to /, failure to /login-failed
//   GET  /login-failed 401 {"error": "login_failed"}
//   GET  /account      an HTML page that needs the login (401 JSON without)
//   GET  /api/me       the session's user as JSON (401 JSON without)
//   POST /logout       passport's req.logout(), then a redirect to /
//
// Usage:
//   node server.js (--issuer URL | --issuer-file PATH) --client-id ID
//       --client-secret S [--listen HOST:PORT] [--session-secret S]
//
// --issuer-file names a file whose first line is the provider's URL
// (authflowd's --ready-file), read at the first request, so that the app can
// start on port 0 before the provider whose config lists its redirect URI.
// The endpoints come from the provider's RFC 8414 metadata. The first line
// on stdout is the app's base URL. Exit status 2 on a usage error.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const { parseArgs } = require('node:util');

const express = require('express');
const session = require('express-session');
const passport = require('passport');
const OAuth2Strategy = require('passport-oauth2');

function usage(msg) {
  process.stderr.write(`rp-oauth2-app: ${msg}\n`);
  process.exit(2);
}

let opts;
try {
  opts = parseArgs({
    options: {
      issuer: { type: 'string' },
      'issuer-file': { type: 'string' },
      'client-id': { type: 'string' },
      'client-secret': { type: 'string' },
      listen: { type: 'string', default: '127.0.0.1:0' },
      'session-secret': { type: 'string' },
    },
  }).values;
} catch (err) {
  usage(err.message);
}
if (!opts['client-id']) usage('missing --client-id');
if (!opts['client-secret']) usage('missing --client-secret');
if (!opts.issuer && !opts['issuer-file']) usage('missing --issuer or --issuer-file');
const listen = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(opts.listen);
if (!listen) usage(`--listen ${opts.listen}: expected HOST:PORT`);

let baseURL;

/* The provider's RFC 8414 metadata, fetched at the first request. */
let provider = null;
async function providerMetadata() {
  if (provider) return provider;
  let iss = opts.issuer;
  if (!iss) {
    try {
      iss = fs.readFileSync(opts['issuer-file'], 'utf8').split('\n')[0].trim();
    } catch {
      iss = '';
    }
    if (!/^https?:\/\//.test(iss)) return null;
  }
  const res = await fetch(`${iss}/.well-known/oauth-authorization-server`);
  if (!res.ok) throw new Error(`the provider's metadata answered ${res.status}`);
  provider = await res.json();
  return provider;
}

// ---- passport-oauth2, as its README shows, registered once the
// provider's endpoints are known.
function makeStrategy(meta) {
  const strategy = new OAuth2Strategy(
    {
      authorizationURL: meta.authorization_endpoint,
      tokenURL: meta.token_endpoint,
      clientID: opts['client-id'],
      clientSecret: opts['client-secret'],
      callbackURL: `${baseURL}/callback`,
      state: true,
      pkce: true,
    },
    (accessToken, refreshToken, profile, cb) => cb(null, profile),
  );
  // The provider's user API, as passport-github2 and the like fetch it in
  // their own userProfile(): node-oauth's get() with the token in the
  // Authorization header.
  strategy._oauth2.useAuthorizationHeaderforGET(true);
  strategy.userProfile = function userProfile(accessToken, done) {
    this._oauth2.get(meta.userinfo_endpoint, accessToken, (err, body) => {
      if (err) return done(new Error(`the user API answered ${err.statusCode}`));
      let json;
      try {
        json = JSON.parse(body);
      } catch (e) {
        return done(e);
      }
      return done(null, { provider: 'authflowd', id: json.sub, displayName: json.name, emails: json.email ? [{ value: json.email }] : [], _json: json });
    });
  };
  return strategy;
}

passport.serializeUser((user, cb) => cb(null, { id: user.id, displayName: user.displayName }));
passport.deserializeUser((user, cb) => cb(null, user));

const app = express();
const server = http.createServer(app);

app.use(
  session({
    secret: opts['session-secret'] || crypto.randomBytes(32).toString('base64url'),
    resave: false,
    saveUninitialized: true,
  }),
);
app.use(passport.session());

let registered = false;
app.use(async (req, res, next) => {
  if (registered) return next();
  try {
    const meta = await providerMetadata();
    if (!meta) {
      res.status(503).json({ error: 'temporarily_unavailable', error_description: 'the provider is not known yet' });
      return;
    }
    if (!registered) {
      passport.use(makeStrategy(meta));
      registered = true;
    }
    next();
  } catch (err) {
    next(err);
  }
});

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginRequired(req, res, next) {
  if (req.isAuthenticated()) return next();
  res.status(401).json({ error: 'unauthorized', error_description: 'no session: log in at /login' });
}

app.get('/', (req, res) => {
  const who = req.user ? `signed in as ${escapeHtml(req.user.displayName || req.user.id)}` : 'not signed in';
  res.type('html').send(`<!doctype html><title>oauth2-app</title><p>${who}</p><p><a href="/login">login</a></p>`);
});

app.get('/login', passport.authenticate('oauth2'));

app.get('/callback', passport.authenticate('oauth2', { failureRedirect: '/login-failed' }), (req, res) => {
  // Successful authentication, redirect home.
  res.redirect('/');
});

app.get('/login-failed', (req, res) => {
  res.status(401).json({ error: 'login_failed', error_description: 'the login did not succeed' });
});

app.get('/account', loginRequired, (req, res) => {
  res.type('html').send(`<!doctype html><title>account</title><p>${escapeHtml(req.user.displayName || req.user.id)}</p>`);
});

app.get('/api/me', loginRequired, (req, res) => {
  res.set('Cache-Control', 'no-store').json(req.user);
});

app.post('/logout', (req, res, next) => {
  req.logout((err) => {
    if (err) return next(err);
    res.redirect('/');
  });
});

server.listen(Number(listen[2]), listen[1].replace(/^\[|\]$/g, ''), () => {
  const a = server.address();
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  baseURL = `http://${host}:${a.port}`;
  process.stdout.write(`${baseURL}\n`);
});

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
