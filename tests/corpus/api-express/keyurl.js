#!/usr/bin/env node
// keyurl.js - the jku and x5u tokens with which API-27a/API-27b of the
// truth tables (tests/data/truth/api-*.txt) were established by hand: a key
// made here, served on loopback as a JWK set and as a certificate, and a
// real access token's claims signed with it under a header that points at
// them. node's crypto and http only (no jsonwebtoken, no authprobe); the
// certificate is made by the openssl command beforehand. Kept as the
// record of how those verdicts were found; the tests do not run it.
//
//   openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem \
//       -subj /CN=keyurl -days 1
//   node keyurl.js TOKEN key.pem cert.pem
//
// prints "jku TOKEN" and "x5u TOKEN" lines, then serves /jwks.json and
// /cert.pem on 127.0.0.1 (port 0) and writes one "fetched PATH" line to
// stderr per request it gets, until SIGTERM or SIGINT.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');

const b64u = (buf) => Buffer.from(buf).toString('base64url');
const enc = (obj) => b64u(JSON.stringify(obj));

function main(argv) {
  if (argv.length < 3) {
    process.stderr.write('usage: node keyurl.js TOKEN KEY.pem CERT.pem\n');
    return 2;
  }
  const [token, keyPath, certPath] = argv;
  const payload = token.split('.')[1];
  const key = crypto.createPrivateKey(fs.readFileSync(keyPath));
  const cert = fs.readFileSync(certPath, 'utf8');
  const jwk = { ...crypto.createPublicKey(key).export({ format: 'jwk' }), kid: 'keyurl-1', alg: 'RS256', use: 'sig' };
  const server = http.createServer((req, res) => {
    process.stderr.write(`fetched ${req.url} (${req.headers['user-agent'] || '-'})\n`);
    if (req.url === '/jwks.json') return res.end(JSON.stringify({ keys: [jwk] }));
    if (req.url === '/cert.pem') return res.end(cert);
    res.statusCode = 404;
    return res.end();
  });
  server.listen(0, '127.0.0.1', () => {
    const base = `http://127.0.0.1:${server.address().port}`;
    const sign = (header) => {
      const input = `${enc(header)}.${payload}`;
      return `${input}.${b64u(crypto.sign('sha256', Buffer.from(input), key))}`;
    };
    process.stdout.write(`jku ${sign({ alg: 'RS256', typ: 'JWT', kid: 'keyurl-1', jku: `${base}/jwks.json` })}\n`);
    process.stdout.write(`x5u ${sign({ alg: 'RS256', typ: 'JWT', x5u: `${base}/cert.pem` })}\n`);
  });
  for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
  return 0;
}

process.exitCode = main(process.argv.slice(2));
