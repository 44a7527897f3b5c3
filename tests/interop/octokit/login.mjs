#!/usr/bin/env node
// login.mjs - GitHub's own OAuth web flow, as Octokit does it, against
// authflowd's GitHub persona (docs/personas.md): @octokit/oauth-methods
// and @octokit/request, nobody here wrote them, configured only by the
// request's baseUrl (ISSUER/api/v3, the GitHub Enterprise Server layout, so
// that Octokit derives the OAuth URLs from it as for a GHES host).
//
//   node login.mjs ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI
//
// Steps: getWebFlowAuthorizationUrl; the authorization request (authflowd
// approves headless: a 302 to REDIRECT_URI with code and state, never
// followed); exchangeWebFlowCode (Octokit posts a JSON body and asks for
// JSON); GET /user and /user/emails with the token; checkToken, whose
// answer must not come (authflowd has no application API: the error is
// reported, not a crash); then the refusals: the code again
// (bad_verification_code, which GitHub answers with status 200 and Octokit
// turns into a RequestError), a wrong secret. Prints one JSON line; exit 0
// when every step did what GitHub would have done, 1 otherwise.
import { exchangeWebFlowCode, getWebFlowAuthorizationUrl } from '@octokit/oauth-methods';
import { request as octoRequest } from '@octokit/request';

const [issuer, clientId, clientSecret, redirectUrl] = process.argv.slice(2);
if (!redirectUrl) {
  process.stderr.write('usage: node login.mjs ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI\n');
  process.exit(2);
}
const request = octoRequest.defaults({ baseUrl: `${issuer}/api/v3` });
const out = { ok: false, steps: [] };

try {
  const { url } = getWebFlowAuthorizationUrl({
    clientType: 'oauth-app', clientId, redirectUrl, scopes: ['read:user', 'user:email'],
    state: 'octokit-state', request,
  });
  out.authorize = url.split('?')[0];
  const r = await fetch(url, { redirect: 'manual' });
  const loc = new URL(r.headers.get('location') || 'http://invalid/');
  if (r.status !== 302 || `${loc.origin}${loc.pathname}` !== redirectUrl)
    throw new Error(`authorize: ${r.status} ${loc}`);
  if (loc.searchParams.get('state') !== 'octokit-state') throw new Error('authorize: state not returned');
  const code = loc.searchParams.get('code');
  out.steps.push('authorize');

  const { authentication } = await exchangeWebFlowCode({
    clientType: 'oauth-app', clientId, clientSecret, code, redirectUrl, request,
  });
  if (!authentication.token) throw new Error('no token');
  out.scopes = authentication.scopes;
  out.steps.push('exchangeWebFlowCode');

  const auth = { headers: { authorization: `token ${authentication.token}` } };
  const user = (await request('GET /user', auth)).data;
  const emails = (await request('GET /user/emails', auth)).data;
  out.user = { login: user.login, id: user.id, email: emails.find((e) => e.primary)?.email };
  out.steps.push('user');

  // the code a second time: GitHub's 200 with error, which Octokit throws
  try {
    await exchangeWebFlowCode({ clientType: 'oauth-app', clientId, clientSecret, code, redirectUrl, request });
    throw new Error('the used code was accepted');
  } catch (e) {
    if (!/bad_verification_code/.test(String(e.message))) throw e;
    out.steps.push('code-reuse-refused');
  }
  // a wrong secret on a fresh code
  const r2 = await fetch(url, { redirect: 'manual' });
  const code2 = new URL(r2.headers.get('location')).searchParams.get('code');
  try {
    await exchangeWebFlowCode({ clientType: 'oauth-app', clientId, clientSecret: 'wrong', code: code2, redirectUrl, request });
    throw new Error('a wrong secret was accepted');
  } catch (e) {
    if (!/incorrect_client_credentials/.test(String(e.message))) throw e;
    out.steps.push('wrong-secret-refused');
  }
  out.ok = true;
} catch (e) {
  out.error = String(e && e.stack ? e.stack.split('\n')[0] : e);
}
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(out.ok ? 0 : 1);
