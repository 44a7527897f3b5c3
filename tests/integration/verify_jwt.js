#!/usr/bin/env node
/*
 * verify_jwt.js - check a compact JWS against a JWKS with nothing but node's
 * built-in crypto, so that the integration tests verify authflowd's
 * signatures independently of authflow's own jose code.
 *
 * Usage: node verify_jwt.js JWKS_FILE TOKEN
 * The key is the JWKS entry whose kid equals the JWS header's kid (the only
 * key when the header has no kid). Prints {"valid":bool,"alg":..,"kid":..,
 * "reason":..} and exits 0 when the signature verifies, 1 when it does not,
 * 2 on a usage error.
 */
'use strict';

const crypto = require('crypto');
const fs = require('fs');

function done(result) {
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(result.valid ? 0 : 1);
}

if (process.argv.length !== 4) {
  process.stderr.write('usage: node verify_jwt.js JWKS_FILE TOKEN\n');
  process.exit(2);
}

const jwks = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const token = process.argv[3];
const parts = token.split('.');
if (parts.length !== 3) done({ valid: false, reason: 'not three dot-separated parts' });

let header;
try {
  header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
} catch (e) {
  done({ valid: false, reason: `header: ${e.message}` });
}

const keys = Array.isArray(jwks.keys) ? jwks.keys : [];
let jwk;
if (header.kid !== undefined) jwk = keys.find((k) => k.kid === header.kid);
else if (keys.length === 1) jwk = keys[0];
if (!jwk) done({ valid: false, alg: header.alg, kid: header.kid, reason: 'no JWKS key for kid' });
if (jwk.alg !== undefined && jwk.alg !== header.alg) {
  done({ valid: false, alg: header.alg, kid: header.kid, reason: `JWK alg ${jwk.alg} != header alg` });
}

const signingInput = Buffer.from(`${parts[0]}.${parts[1]}`, 'ascii');
const sig = Buffer.from(parts[2], 'base64url');
let key;
try {
  key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
} catch (e) {
  done({ valid: false, alg: header.alg, kid: header.kid, reason: `JWK import: ${e.message}` });
}

let ok = false;
switch (header.alg) {
  case 'RS256':
    ok = crypto.verify('sha256', signingInput, key, sig);
    break;
  case 'PS256':
    ok = crypto.verify('sha256', signingInput,
      { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig);
    break;
  case 'ES256':
    /* JWS carries R || S (RFC 7518 §3.4), 64 bytes for P-256, not DER. */
    ok = sig.length === 64 && crypto.verify('sha256', signingInput, { key, dsaEncoding: 'ieee-p1363' }, sig);
    break;
  case 'EdDSA':
    ok = crypto.verify(null, signingInput, key, sig);
    break;
  default:
    done({ valid: false, alg: header.alg, kid: header.kid, reason: 'unsupported alg' });
}
done({ valid: ok, alg: header.alg, kid: header.kid, sig_len: sig.length,
  reason: ok ? 'signature verifies' : 'signature does not verify' });
