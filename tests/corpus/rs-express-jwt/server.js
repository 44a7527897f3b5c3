#!/usr/bin/env node
// server.js - a protected Express API whose access tokens are checked by
// express-jwt with jwks-rsa, for the truth corpus of authprobe's
// resource-server suite (tests/test_corpus_rs_express_jwt.sh,
// tests/data/truth/rs-express-jwt.txt).
//
// Everything comes from the npm registry at the versions pinned in
// package-lock.json: Express 4 (express-jwt-authz declares express@^4 as
// its peer), express-jwt 8 (over jsonwebtoken 9), jwks-rsa 4 and
// express-jwt-authz 2. The glue is the one their READMEs show:
// expressjwt({ secret: jwksRsa.expressJwtSecret({ jwksUri, cache: true }),
// algorithms: ['RS256'], audience, issuer }) in front of the API,
// jwtAuthz([scope]) per route (with customUserKey: 'auth', where
// express-jwt 7+ puts the claims), and express-jwt's README error handler
// (err.name === 'UnauthorizedError' -> 401 with the error's message); the
// role and owner checks are the small middlewares a typical tutorial
// writes (403 JSON). Library defaults are kept on purpose: express-jwt
// sends no WWW-Authenticate header (it leaves the answer to the error
// handler), reads the token only from the Authorization header, and
// jsonwebtoken does not look at typ (RFC 9068 §4 wants at+jwt); nothing
// here asks the issuer about revocation. Nothing is tuned to the suite.
//
// Routes (every /api route needs a valid access token for --audience):
//   GET  /api/items               scope api.read
//   POST /api/items               scope api.write (JSON body {"name": ...})
//   GET  /api/admin/stats         scope api.read and "admin" in the roles claim
//   GET  /api/users/:sub/profile  scope api.read and the token's sub is :sub
//   GET  /api/me                  a valid token, no scope (who am I)
//   GET  /healthz                 no token
//
//   node server.js --issuer URL [--audience AUD] [--port N]
//
// It binds 127.0.0.1 (port 0 unless --port) and prints its base URL as the
// first stdout line once the socket listens; SIGTERM or SIGINT stops it.
'use strict';

const http = require('node:http');
const { parseArgs } = require('node:util');

const express = require('express');
const { expressjwt } = require('express-jwt');
const jwksRsa = require('jwks-rsa');
const jwtAuthz = require('express-jwt-authz');

const { values: opts } = parseArgs({
  options: {
    issuer: { type: 'string' },
    audience: { type: 'string', default: 'https://api.example.test' },
    port: { type: 'string', default: '0' },
  },
});
if (!opts.issuer) {
  process.stderr.write('rs-express-jwt: --issuer URL is required\n');
  process.exit(2);
}
const ISSUER = opts.issuer.replace(/\/+$/, '');

const checkJwt = expressjwt({
  secret: jwksRsa.expressJwtSecret({
    jwksUri: `${ISSUER}/jwks`,
    cache: true,
  }),
  algorithms: ['RS256'],
  audience: opts.audience,
  issuer: ISSUER,
});
const scope = (s) => jwtAuthz([s], { customUserKey: 'auth' });

function requireRole(role) {
  return (req, res, next) => {
    const roles = req.auth.roles;
    if (!Array.isArray(roles) || !roles.includes(role)) {
      return res.status(403).json({ message: `Require ${role} role` });
    }
    next();
  };
}

function requireOwner(req, res, next) {
  if (req.auth.sub !== req.params.sub) {
    return res.status(403).json({ message: 'Forbidden' });
  }
  next();
}

const items = [{ id: 1, name: 'first item' }, { id: 2, name: 'second item' }];

const app = express();
app.use(express.json());

app.get('/healthz', (req, res) => res.json({ status: 'ok' }));

app.use('/api', checkJwt);

app.get('/api/items', scope('api.read'), (req, res) => res.json({ items }));

app.post('/api/items', scope('api.write'), (req, res) => {
  const name = String((req.body && req.body.name) || 'unnamed').slice(0, 100);
  const item = { id: items.length + 1, name, owner: req.auth.sub };
  if (items.length < 1000) items.push(item);
  res.status(201).json(item);
});

app.get('/api/admin/stats', scope('api.read'), requireRole('admin'), (req, res) => {
  res.json({ items: items.length });
});

app.get('/api/users/:sub/profile', scope('api.read'), requireOwner, (req, res) => {
  res.json({ sub: req.params.sub, roles: req.auth.roles || [] });
});

app.get('/api/me', (req, res) => {
  res.json({ sub: req.auth.sub, client_id: req.auth.client_id });
});

// express-jwt's README error handler
app.use((err, req, res, next) => {
  if (err.name === 'UnauthorizedError') {
    res.status(401).send(err.message);
  } else {
    next(err);
  }
});

const server = http.createServer(app);
server.listen(Number(opts.port), '127.0.0.1', () => {
  process.stdout.write(`http://127.0.0.1:${server.address().port}\n`);
});

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
