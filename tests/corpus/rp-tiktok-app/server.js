#!/usr/bin/env node
// server.js - a "Login with TikTok" web app, for the truth corpus of
// `authprobe rp` through authflowd's TikTok persona (issue 16, the seed's
// case): Express + express-session + passport + passport-tiktok-auth,
// libraries nobody on this project wrote, at the versions pinned in
// package-lock.json.
//
// It is the glue passport-tiktok-auth's README shows (the strategy, the
// two routes /auth/tiktok and /auth/tiktok/callback with failureRedirect
// '/login'; the scopes the strategy's profile fields need since TikTok's
// 2024 scope migration), with passport-oauth2's `state: true` (TikTok's Login Kit
// guide says to prevent request forgery with a state token; the README
// does not show it, passport-oauth2 documents it), and what every such
// app adds: the provider's URLs from the base URL it is pointed at (the
// strategy's authorizationURL, tokenURL and profileURL options), passport's
// session (de)serialisation, a login page, a guard for the pages that need
// a login and passport's documented POST /logout. Everything else keeps
// the libraries' defaults:
//   - no PKCE (TikTok asks for it from desktop and mobile apps, not web
//     apps);
//   - passport-tiktok-auth sends client_key and client_secret in the token
//     request's body, and parses the token answer with JSON.parse without
//     looking at the status first: a token error answer (4xx, no body
//     handed over by node-oauth) throws out of a response callback, which
//     ends the process;
//   - a refused callback (provider error access_denied, state mismatch)
//     redirects to /login, as the README's failureRedirect does; any other
//     provider error goes to Express's default error handler (500 HTML); a
//     callback without code and error starts a new login (passport-oauth2);
//   - express-session as its README configures it (resave: false,
//     saveUninitialized: true).
//
// Routes:
//   GET  /                     public home page (HTML)
//   GET  /login                the login page: a "Continue with TikTok" link
//   GET  /auth/tiktok          passport: redirect to TikTok's authorize page
//   GET  /auth/tiktok/callback passport: the authorization response; success
//                              redirects to /, failure to /login
//   GET  /account              an HTML page that needs the login (401 JSON without)
//   GET  /api/me               the session's user as JSON (401 JSON without)
//   POST /logout               passport's req.logout(), then a redirect to /
//
// Usage:
//   node server.js (--provider URL | --provider-file PATH) --client-key K
//       --client-secret S [--listen HOST:PORT] [--session-secret S]
//
// --provider is the base URL standing in for TikTok's hosts (authflowd's
// TikTok issuer); --provider-file names a file whose first line is it
// (authflowd's --ready-file), read at the first request, so that the app
// can start on port 0 before the provider whose config lists its redirect
// URI. The first line on stdout is the app's base URL. Exit status 2 on a
// usage error.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const { parseArgs } = require('node:util');

const express = require('express');
const session = require('express-session');
const passport = require('passport');
const TiktokStrategy = require('passport-tiktok-auth').Strategy;

function usage(msg) {
  process.stderr.write(`rp-tiktok-app: ${msg}\n`);
  process.exit(2);
}

let opts;
try {
  opts = parseArgs({
    options: {
      provider: { type: 'string' },
      'provider-file': { type: 'string' },
      'client-key': { type: 'string' },
      'client-secret': { type: 'string' },
      listen: { type: 'string', default: '127.0.0.1:0' },
      'session-secret': { type: 'string' },
    },
  }).values;
} catch (err) {
  usage(err.message);
}
if (!opts['client-key']) usage('missing --client-key');
if (!opts['client-secret']) usage('missing --client-secret');
if (!opts.provider && !opts['provider-file']) usage('missing --provider or --provider-file');
const listen = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(opts.listen);
if (!listen) usage(`--listen ${opts.listen}: expected HOST:PORT`);

let baseURL;

/* The provider's base URL, known at the first request. */
function providerBase() {
  if (opts.provider) return opts.provider.replace(/\/+$/, '');
  try {
    const u = fs.readFileSync(opts['provider-file'], 'utf8').split('\n')[0].trim();
    return /^https?:\/\//.test(u) ? u.replace(/\/+$/, '') : null;
  } catch {
    return null;
  }
}

// ---- passport-tiktok-auth, as its README shows, with the provider's URLs.
function makeStrategy(base) {
  return new TiktokStrategy(
    {
      clientID: opts['client-key'],
      clientSecret: opts['client-secret'],
      // the README's ['user.info.basic'] no longer covers the fields the
      // strategy asks /v2/user/info/ for (username needs user.info.profile,
      // the counts user.info.stats: TikTok's 2024 user-info scope migration)
      scope: ['user.info.basic', 'user.info.profile', 'user.info.stats'],
      callbackURL: `${baseURL}/auth/tiktok/callback`,
      authorizationURL: `${base}/v2/auth/authorize/`,
      tokenURL: `${base}/v2/oauth/token/`,
      profileURL: `${base}/v2/user/info/`,
      state: true,
    },
    (accessToken, refreshToken, profile, done) => done(null, profile),
  );
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
app.use((req, res, next) => {
  if (registered) return next();
  const base = providerBase();
  if (!base) {
    res.status(503).json({ error: 'temporarily_unavailable', error_description: 'the provider is not known yet' });
    return;
  }
  passport.use(makeStrategy(base));
  registered = true;
  next();
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
  res.type('html').send(`<!doctype html><title>tiktok-app</title><p>${who}</p><p><a href="/login">login</a></p>`);
});

app.get('/login', (req, res) => {
  res.type('html').send(`<!doctype html><title>login</title><p><a href="/auth/tiktok">Continue with TikTok</a></p>`);
});

app.get('/auth/tiktok', passport.authenticate('tiktok'));

app.get('/auth/tiktok/callback', passport.authenticate('tiktok', { failureRedirect: '/login' }), (req, res) => {
  // Successful authentication, redirect home.
  res.redirect('/');
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
