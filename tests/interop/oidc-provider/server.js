// server.js - node-oidc-provider configured for authprobe's AS suite
// (tests/test_as_interop.sh, conf/targets/oidc-provider.json).
//
// It listens on 127.0.0.1, port 0 unless --port says otherwise, and prints
// its issuer URL as the first line on stdout once it accepts connections.
// Everything here is an ordinary deployment choice documented by the
// library: the clients of the target profile, the built-in development
// login and consent pages (devInteractions), PKCE (required for public
// clients, the library's default), refresh tokens, introspection,
// revocation and open dynamic registration. Nothing is tuned to the suite:
// a check that fails here is a finding about the library's behaviour.
//
//   node server.js [--port N] [--code-ttl SECONDS]

import http from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'code-ttl': { type: 'string', default: '60' },
  },
});

const callback = 'http://127.0.0.1:8765/callback';

const clients = [
  {
    client_id: 'authprobe-client',
    client_secret: 'authprobe-client-secret',
    token_endpoint_auth_method: 'client_secret_basic',
    redirect_uris: [callback],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  },
  {
    client_id: 'authprobe-client-2',
    client_secret: 'authprobe-client-2-secret',
    token_endpoint_auth_method: 'client_secret_basic',
    redirect_uris: [callback],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  },
  {
    // Authenticates with client_id and client_secret in the request body
    // (RFC 6749 §2.3.1, OIDC Core §9 client_secret_post; AS-64).
    client_id: 'authprobe-client-post',
    client_secret: 'authprobe-client-post-secret',
    token_endpoint_auth_method: 'client_secret_post',
    redirect_uris: [callback],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  },
  {
    client_id: 'authprobe-public',
    token_endpoint_auth_method: 'none',
    redirect_uris: ['http://127.0.0.1:5173/callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  },
  {
    // A native app (OIDC Registration application_type): its loopback
    // redirect URI is accepted on any port (RFC 8252 §7.3, AS-04h).
    client_id: 'authprobe-native',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    redirect_uris: ['http://127.0.0.1/callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  },
  {
    client_id: 'authprobe-multi',
    client_secret: 'authprobe-multi-secret',
    token_endpoint_auth_method: 'client_secret_basic',
    redirect_uris: ['http://127.0.0.1:8080/callback', 'http://localhost:8080/callback'],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  },
];

const server = http.createServer();
server.listen(Number(opts.port), '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients,
    // Fixed keys so that a restart keeps cookies valid; test-only values.
    cookies: { keys: ['authprobe-interop-cookie-key-1'] },
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    features: {
      devInteractions: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      registration: { enabled: true },
    },
    ttl: {
      AuthorizationCode: Number(opts['code-ttl']),
      AccessToken: 3600,
      IdToken: 3600,
      RefreshToken: 86400,
      Grant: 86400,
      Interaction: 600,
      Session: 86400,
    },
  });
  server.on('request', provider.callback());
  process.stdout.write(`${issuer}\n`);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
