#!/usr/bin/env node
// server.js - an Express API that logs its users in and issues its own
// tokens, for the truth corpus of authprobe's own-token API suite
// (docs/api-suite.md, tests/test_corpus_api_express.sh,
// tests/data/truth/api-express.txt).
//
// Everything comes from the npm registry at the versions pinned in
// package-lock.json: Express 4, jsonwebtoken 9 and bcryptjs 3. The code is
// the one the jsonwebtoken README and the common Express JWT tutorials
// write: a JSON login that compares bcrypt hashes and signs an HS256 access
// token (jwt.sign with expiresIn), an opaque refresh token kept in memory
// and rotated on every refresh (a reused one revokes its whole family), a
// logout that revokes the refresh token and puts the access token's jti on
// a deny list until it expires, an `authenticateToken` middleware around
// jwt.verify with `algorithms: ['HS256']` pinned, and owner/role checks
// answered 403. The secret is JWT_SECRET from the environment, else 64
// random bytes drawn at start.
//
// Routes:
//   POST /auth/login    {"username", "password"} -> {"access_token", "refresh_token", ...}
//   POST /auth/refresh  {"refresh_token"} -> a new pair; the old refresh token dies
//   POST /auth/logout   Bearer access token, {"refresh_token"} -> 204
//   GET  /me                      Bearer: {"username", "role"}
//   GET  /users/:name/orders      Bearer: the owner or an admin
//   GET  /admin/stats             Bearer: admin only
//   GET  /health                  no token: pings --dependency (1 s), 200 or 503
//
//   node server.js --dependency URL [--token-lifetime S] [--port N] [--flaw NAME]...
//
// --flaw NAME (repeatable) switches on one realistic mistake each, for the
// flawed variants of the truth table (tests/data/truth/api-express-flaws.txt):
//   idor                 /users/:name/orders serves any authenticated user
//   decode-not-verify    the middleware reads the token with jwt.decode (no signature, no exp)
//   alg-none             the key is looked up by the token's own alg and 'none' is in
//                        algorithms: jsonwebtoken 9 then accepts an unsigned token
//   weak-secret          the signing secret is "secret"
//   ignore-exp           jwt.verify with ignoreExpiration: true
//   refresh-reuse        a refreshed (rotated) refresh token stays valid
//   logout-noop          logout answers 204 and revokes nothing
//   stateless-logout     logout revokes the refresh token only (the access token lives on)
//   shared-user          the authenticated user is kept in a module-level variable across an await
//   health-lies          /health answers 200 without pinging the dependency
//   500-on-missing-field the login hands a missing password to bcrypt, which throws (500)
//   no-error-key         error bodies are {"message": ...}, without an "error" key
//   403-no-auth          a request without a token gets 403 {"message": "No token provided!"}
//   any-scheme           the token is the second word of Authorization, whatever the scheme
//   cacheable-token      the token answer has no Cache-Control: no-store
//   trust-jku            a token whose header has a jku is verified with the key of that kid in
//                        the JWK set fetched from the jku (RS256/ES256): the key source is the token's
//   trust-x5u            a token whose header has an x5u is verified with the public key of the
//                        PEM certificate fetched from the x5u
//   fetch-jku            a token's jku is fetched (to look its kid up) before the URL is compared
//                        with the API's own key set, which refuses it: a fetch of any URL, no acceptance
//
// It binds 127.0.0.1 (port 0 unless --port) and prints its base URL as the
// first stdout line once the socket listens; SIGTERM or SIGINT stops it.
'use strict';

const crypto = require('node:crypto');
const { parseArgs } = require('node:util');

const express = require('express');
const jwt = require('jsonwebtoken');
const bcrypt = require('bcryptjs');

const FLAWS = [
  'idor', 'decode-not-verify', 'alg-none', 'weak-secret', 'ignore-exp', 'refresh-reuse',
  'logout-noop', 'stateless-logout', 'shared-user', 'health-lies', '500-on-missing-field',
  'no-error-key', '403-no-auth', 'any-scheme', 'cacheable-token', 'trust-jku', 'trust-x5u',
  'fetch-jku',
];

const { values: opts } = parseArgs({
  options: {
    dependency: { type: 'string' },
    'token-lifetime': { type: 'string', default: '900' },
    'refresh-lifetime': { type: 'string', default: '86400' },
    port: { type: 'string', default: '0' },
    flaw: { type: 'string', multiple: true, default: [] },
  },
});
if (!opts.dependency) {
  process.stderr.write('api-express: --dependency URL is required\n');
  process.exit(2);
}
for (const f of opts.flaw) {
  if (!FLAWS.includes(f)) {
    process.stderr.write(`api-express: unknown flaw ${f} (one of ${FLAWS.join(', ')})\n`);
    process.exit(2);
  }
}
const flaw = (name) => opts.flaw.includes(name);
const ACCESS_TTL = Number(opts['token-lifetime']);
const REFRESH_TTL = Number(opts['refresh-lifetime']);

const JWT_SECRET = flaw('weak-secret')
  ? 'secret'
  : process.env.JWT_SECRET || crypto.randomBytes(64).toString('hex');

// The "database": users with bcrypt hashes, their orders, and an async
// lookup the way a real driver answers (a promise, some latency).
const users = new Map();
for (const [username, password, role] of [
  ['alice', 'alice-pw', 'user'],
  ['bob', 'bob-pw', 'user'],
  ['carol', 'carol-pw', 'admin'],
]) {
  users.set(username, { username, role, passwordHash: bcrypt.hashSync(password, 10) });
}
const orders = {
  alice: [{ id: 'o-1001', item: 'book', total: 12.5 }],
  bob: [{ id: 'o-2001', item: 'lamp', total: 30 }],
  carol: [],
};
const DUMMY_HASH = bcrypt.hashSync(crypto.randomBytes(16).toString('hex'), 10);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function findUser(username) {
  await sleep(5 + Math.floor(Math.random() * 20));
  return users.get(username) || null;
}

// Refresh tokens: opaque, stored by their SHA-256, in families (one per
// login) so that the reuse of a rotated token revokes the family.
const refreshTokens = new Map(); // sha256 -> { username, family, expires, used, revoked }
const revokedJti = new Map(); // access token jti -> exp (deny list after logout)
const sha256 = (s) => crypto.createHash('sha256').update(s).digest('hex');

function errorBody(code, description) {
  if (flaw('no-error-key')) return { message: description };
  return { error: code, error_description: description };
}

function issueTokens(user, family) {
  const accessToken = jwt.sign({ username: user.username, role: user.role }, JWT_SECRET, {
    algorithm: 'HS256',
    expiresIn: ACCESS_TTL,
    subject: user.username,
    jwtid: crypto.randomUUID(),
  });
  const refreshToken = crypto.randomBytes(32).toString('base64url');
  refreshTokens.set(sha256(refreshToken), {
    username: user.username,
    family: family || crypto.randomUUID(),
    expires: Date.now() + REFRESH_TTL * 1000,
    used: false,
    revoked: false,
  });
  return {
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: ACCESS_TTL,
    refresh_token: refreshToken,
  };
}

function sendTokens(res, body) {
  if (!flaw('cacheable-token')) res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
  res.json(body);
}

function revokeFamily(family) {
  for (const rec of refreshTokens.values()) {
    if (rec.family === family) rec.revoked = true;
  }
}

// authenticateToken: the README's jwt.verify, algorithms pinned.
let currentUser = null; // used only by the shared-user flaw

function unauthorized(res, description, error) {
  const challenge = error
    ? `Bearer realm="api", error="${error}", error_description="${description.replace(/["\\]/g, "'")}"`
    : 'Bearer realm="api"';
  res.set('WWW-Authenticate', challenge);
  return res.status(401).json(errorBody(error || 'unauthorized', description));
}

function bearerToken(req) {
  const header = req.headers.authorization || '';
  if (flaw('any-scheme')) return header.split(' ')[1];
  const m = /^Bearer +([^ ]+) *$/i.exec(header);
  return m ? m[1] : null;
}

// The key a token's header points at by URL (the trust-jku, trust-x5u and
// fetch-jku flaws): the JWK set of its jku (the key of its kid), or the
// certificate of its x5u, fetched with node's fetch (2 s).
async function keyFromUrl(header) {
  const url = header.jku || header.x5u;
  const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
  if (!r.ok) throw new Error(`key URL answered ${r.status}`);
  if (header.x5u) return new crypto.X509Certificate(await r.text()).publicKey;
  const set = await r.json();
  const jwk = (set.keys || []).find((k) => !header.kid || k.kid === header.kid);
  if (!jwk) throw new Error('no key of that kid');
  return crypto.createPublicKey({ key: jwk, format: 'jwk' });
}

function tokenHeader(token) {
  try {
    return JSON.parse(Buffer.from(String(token).split('.')[0], 'base64url').toString());
  } catch {
    return {};
  }
}

function verifyByUrl(token, header, callback) {
  keyFromUrl(header).then((key) => {
    // fetch-jku: the allow-list is applied, but only after the fetch
    if (flaw('fetch-jku')) return callback(new Error('untrusted jku'));
    return jwt.verify(token, key, { algorithms: ['RS256', 'ES256'] }, callback);
  }, (err) => callback(err));
}

function verifyToken(token, callback) {
  const header = tokenHeader(token);
  if ((header.jku && (flaw('trust-jku') || flaw('fetch-jku'))) || (header.x5u && flaw('trust-x5u'))) {
    return verifyByUrl(token, header, callback);
  }
  if (flaw('decode-not-verify')) {
    const payload = jwt.decode(token);
    return callback(payload ? null : new Error('invalid token'), payload);
  }
  if (flaw('alg-none')) {
    // One key per algorithm, chosen by the token's header, and 'none'
    // allowed "for the unsigned tokens of the test environment":
    // jsonwebtoken 9 accepts an unsigned token only when 'none' is listed
    // and the key it gets is empty, which is what the lookup gives.
    const keys = { HS256: JWT_SECRET };
    return jwt.verify(token, (header, cb) => cb(null, keys[header.alg]),
      { algorithms: ['HS256', 'none'] }, callback);
  }
  return jwt.verify(token, JWT_SECRET,
    { algorithms: ['HS256'], ignoreExpiration: flaw('ignore-exp') }, callback);
}

function authenticateToken(req, res, next) {
  const token = bearerToken(req);
  if (!token) {
    if (flaw('403-no-auth')) return res.status(403).json({ message: 'No token provided!' });
    return unauthorized(res, 'authentication required');
  }
  verifyToken(token, (err, payload) => {
    if (err) return unauthorized(res, err.message, 'invalid_token');
    if (payload.jti && revokedJti.has(payload.jti)) {
      return unauthorized(res, 'token revoked', 'invalid_token');
    }
    req.user = payload;
    if (flaw('shared-user')) currentUser = payload;
    next();
  });
}

function requireRole(role) {
  return (req, res, next) => {
    if (req.user.role !== role) {
      return res.status(403).json(errorBody('forbidden', `requires the ${role} role`));
    }
    next();
  };
}

// Express 4 does not catch a rejected promise: wrap async handlers.
const asyncHandler = (fn) => (req, res, next) => Promise.resolve(fn(req, res, next)).catch(next);

const app = express();
app.disable('x-powered-by');
app.use(express.json());

app.post('/auth/login', asyncHandler(async (req, res) => {
  const { username, password } = req.body || {};
  if (!flaw('500-on-missing-field') &&
      (typeof username !== 'string' || typeof password !== 'string' || !username || !password)) {
    return res.status(400).json(errorBody('invalid_request', 'username and password are required'));
  }
  const user = await findUser(username);
  // Compare against a dummy hash for an unknown user: same time, same answer.
  const ok = await bcrypt.compare(password, user ? user.passwordHash : DUMMY_HASH);
  if (!user || !ok) {
    return res.status(401).json(errorBody('invalid_credentials', 'invalid username or password'));
  }
  sendTokens(res, issueTokens(user));
}));

app.post('/auth/refresh', asyncHandler(async (req, res) => {
  const token = req.body && req.body.refresh_token;
  if (typeof token !== 'string' || !token) {
    return res.status(400).json(errorBody('invalid_request', 'refresh_token is required'));
  }
  const rec = refreshTokens.get(sha256(token));
  if (!rec || rec.revoked || rec.expires < Date.now()) {
    return res.status(401).json(errorBody('invalid_grant', 'invalid refresh token'));
  }
  if (rec.used && !flaw('refresh-reuse')) {
    // A rotated token came back: someone holds a copy. Revoke the family.
    revokeFamily(rec.family);
    return res.status(401).json(errorBody('invalid_grant', 'refresh token reused'));
  }
  rec.used = true;
  const user = await findUser(rec.username);
  if (!user) return res.status(401).json(errorBody('invalid_grant', 'invalid refresh token'));
  sendTokens(res, issueTokens(user, rec.family));
}));

app.post('/auth/logout', authenticateToken, (req, res) => {
  if (!flaw('logout-noop')) {
    const token = req.body && req.body.refresh_token;
    const rec = typeof token === 'string' ? refreshTokens.get(sha256(token)) : null;
    if (rec && rec.username === req.user.sub) revokeFamily(rec.family);
    if (!flaw('stateless-logout') && req.user.jti) revokedJti.set(req.user.jti, req.user.exp);
  }
  res.status(204).end();
});

app.get('/me', authenticateToken, asyncHandler(async (req, res) => {
  const user = await findUser(req.user.sub);
  const principal = flaw('shared-user') ? currentUser : req.user;
  if (!user) return res.status(404).json(errorBody('not_found', 'no such user'));
  res.json({ username: principal.username, role: principal.role });
}));

app.get('/users/:name/orders', authenticateToken, asyncHandler(async (req, res) => {
  const { name } = req.params;
  if (!flaw('idor') && req.user.sub !== name && req.user.role !== 'admin') {
    return res.status(403).json(errorBody('forbidden', 'not your orders'));
  }
  const user = await findUser(name);
  if (!user) return res.status(404).json(errorBody('not_found', 'no such user'));
  res.json({ username: name, orders: orders[name] || [] });
}));

app.get('/admin/stats', authenticateToken, requireRole('admin'), (req, res) => {
  res.json({ users: users.size, refresh_tokens: refreshTokens.size });
});

app.get('/health', asyncHandler(async (req, res) => {
  if (flaw('health-lies')) return res.json({ status: 'ok' });
  try {
    const r = await fetch(opts.dependency, { signal: AbortSignal.timeout(1000) });
    if (!r.ok) throw new Error(`dependency answered ${r.status}`);
    await r.arrayBuffer();
    res.json({ status: 'ok' });
  } catch (e) {
    res.status(503).json(errorBody('dependency_unavailable', `dependency: ${e.message}`));
  }
}));

app.use((req, res) => res.status(404).json(errorBody('not_found', 'no such route')));

// The error handler: a body that is not JSON is the client's fault (400),
// anything else a 500.
// eslint-disable-next-line no-unused-vars
app.use((err, req, res, next) => {
  if (err.type === 'entity.parse.failed') {
    return res.status(400).json(errorBody('invalid_request', 'the body is not JSON'));
  }
  process.stderr.write(`api-express: ${err.stack}\n`);
  res.status(500).json(errorBody('server_error', 'internal error'));
});

// Forget the deny-listed jti whose token has expired anyway.
setInterval(() => {
  const now = Math.floor(Date.now() / 1000);
  for (const [jti, exp] of revokedJti) if (exp < now) revokedJti.delete(jti);
}, 60000).unref();

const server = app.listen(Number(opts.port), '127.0.0.1', () => {
  const { port } = server.address();
  process.stdout.write(`http://127.0.0.1:${port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
