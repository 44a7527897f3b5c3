'use strict';
// authflow-testing: start a real authflowd for a test, on 127.0.0.1:0 with
// its admin API on 127.0.0.1:0, and drive it: queue scenarios, mint tokens,
// read the ledger, reset. For node's test runner, Jest or any other: the
// helper has no hooks of its own (call start() in a before hook and stop()
// in the matching after hook). Node 20 built-ins only (child_process, fetch).
//
// The binary is `binary`, else $AUTHFLOWD, else `authflowd` on the PATH;
// the config `config`, else $AUTHFLOWD_CONFIG, else authflowd's default;
// the admin secret (for a config that sets admin.secret) `secret`, else
// $AUTHFLOW_ADMIN_SECRET. Admin calls take the admin API's members as they
// are (docs/admin.md): mint({user: null}) sends "user": null.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const START_TIMEOUT_MS = 15000;
const STOP_TIMEOUT_MS = 15000;

/** The admin API refused a request: status, error, description, body. */
class AuthflowError extends Error {
  constructor(method, url, status, body) {
    const error = body && typeof body === 'object' ? body.error : undefined;
    const description = body && typeof body === 'object' ? body.error_description : undefined;
    super(`${method} ${url}: HTTP ${status} ${error}: ${description}`);
    this.name = 'AuthflowError';
    this.status = status;
    this.error = error;
    this.description = description;
    this.body = body;
  }
}

/** authflowd did not start: the message has its exit status and stderr. */
class AuthflowdStartError extends Error {
  constructor(message) {
    super(message);
    this.name = 'AuthflowdStartError';
  }
}

// Every server not stopped yet: killed when this process exits, so that a
// test that forgot stop() leaves no authflowd behind.
const running = new Set();
process.on('exit', () => {
  for (const server of running) server.child.kill('SIGTERM');
});

async function http(method, url, body, headers) {
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  const r = await fetch(url, init);
  const text = await r.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: the text as it is
  }
  return { status: r.status, body: parsed };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class Authflowd {
  constructor(child, tmp, secret) {
    this.child = child;
    this.pid = child.pid;
    this.tmp = tmp;
    this.secret = secret;
    this.stderrPath = path.join(tmp, 'stderr');
    this.exitCode = null; // the exit status once it stopped (null: killed by a signal)
    this.exited = new Promise((resolve) => {
      child.once('exit', (code) => {
        this.exitCode = code;
        running.delete(this);
        resolve(code);
      });
    });
    this.stopped = false;
    running.add(this);
  }

  /** What authflowd wrote to stderr so far (all of it, once stopped). */
  stderr() {
    if (this.stderrText !== undefined) return this.stderrText;
    try {
      return fs.readFileSync(this.stderrPath, 'utf8');
    } catch {
      return '';
    }
  }

  /** SIGTERM, then wait (SIGKILL after timeoutMs); its exit status (0 is a
   * clean stop). Stopping again returns the same status. */
  async stop(timeoutMs = STOP_TIMEOUT_MS) {
    if (!this.stopped) {
      this.stopped = true;
      if (running.has(this)) {
        this.child.kill('SIGTERM');
        const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
        await this.exited;
        clearTimeout(timer);
      }
      this.stderrText = this.stderr(); // the folder goes, the text stays
      fs.rmSync(this.tmp, { recursive: true, force: true });
    }
    return this.exitCode;
  }

  /** The JSON answer of one admin request; AuthflowError unless 2xx.
   * Query values that are undefined or null are left out. */
  async admin(method, urlPath, body, query) {
    let url = this.adminUrl + urlPath;
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query || {})) {
      if (v !== undefined && v !== null) q.append(k, String(v));
    }
    if ([...q].length) url += '?' + q;
    const headers = this.secret ? { Authorization: 'Bearer ' + this.secret } : {};
    const r = await http(method, url, body, headers);
    if (r.status < 200 || r.status > 299) throw new AuthflowError(method, url, r.status, r.body);
    return r.body;
  }

  /** Queue a scenario ({client, user, times, delay_ms}: docs/scenarios.md);
   * the queued entry, whose id clearScenarios(id) drops. */
  scenario(name, members = {}) {
    return this.admin('POST', '/admin/scenarios', { ...members, name });
  }

  /** {scenarios: the table, queued: the queue}. */
  scenarios() {
    return this.admin('GET', '/admin/scenarios');
  }

  /** Drop one queued scenario by id, or all (and a rotated key); how many. */
  async clearScenarios(id) {
    return (await this.admin('DELETE', '/admin/scenarios', undefined, { id })).cleared;
  }

  /** Mint a token ({user, client, scope, aud, ttl, claims, defects}); the
   * whole answer: access_token, header, claims, expires_in, defects. */
  mint(members = {}) {
    return this.admin('POST', '/admin/tokens', members);
  }

  /** mint(), just the access token. */
  async token(members = {}) {
    return (await this.mint(members)).access_token;
  }

  /** Query the ledger ({since, path, method, client_id, code, limit});
   * {entries, count, next, dropped, escaped}. */
  ledger(filters = {}) {
    return this.admin('GET', '/admin/ledger', undefined, filters);
  }

  /** The ledger's newest seq: ledger({since: cursor}) shows what came after. */
  async cursor() {
    return (await this.ledger({ limit: 0 })).next;
  }

  /** Drop every ledger entry; how many. */
  async clearLedger() {
    return (await this.admin('DELETE', '/admin/ledger')).cleared;
  }

  /** Drop the queued scenarios (and a rotated key) and the ledger. */
  async reset() {
    await this.clearScenarios();
    await this.clearLedger();
  }

  /** The provider's metadata document. */
  async discovery() {
    const r = await http('GET', this.discoveryUrl);
    if (r.status !== 200) throw new AuthflowError('GET', this.discoveryUrl, r.status, r.body);
    return r.body;
  }
}

/** Start authflowd and wait for its ready file; an Authflowd with issuer,
 * adminUrl, discoveryUrl, jwksUrl and pid. Rejects with
 * AuthflowdStartError (its stderr in the message) when it exits or is not
 * ready within timeoutMs. */
async function start(options = {}) {
  const binary = options.binary || process.env.AUTHFLOWD || 'authflowd';
  const config = options.config || process.env.AUTHFLOWD_CONFIG;
  const secret = options.secret || process.env.AUTHFLOW_ADMIN_SECRET;
  const timeoutMs = options.timeoutMs || START_TIMEOUT_MS;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'authflow-testing-'));
  const ready = path.join(tmp, 'ready');
  const args = ['--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--ready-file', ready];
  if (config) args.push('--config', config);
  args.push(...(options.args || []));
  const err = fs.openSync(path.join(tmp, 'stderr'), 'w');
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', err] });
  fs.closeSync(err);
  child.unref(); // a test that forgot stop() still ends (see 'exit' above)
  let spawnError = null;
  child.once('error', (e) => {
    spawnError = e;
  });
  const server = new Authflowd(child, tmp, secret);
  const fail = async (message) => {
    await server.stop();
    return new AuthflowdStartError(message + server.stderr());
  };
  const deadline = Date.now() + timeoutMs;
  while (!fs.existsSync(ready)) { // written whole, by a rename
    if (spawnError) {
      running.delete(server);
      fs.rmSync(tmp, { recursive: true, force: true });
      throw new AuthflowdStartError(`cannot run ${binary}: ${spawnError.message}`);
    }
    if (server.exitCode !== null || child.signalCode !== null) {
      throw await fail(`authflowd exited ${server.exitCode} before it was ready:\n`);
    }
    if (Date.now() > deadline) {
      throw await fail(`authflowd was not ready after ${timeoutMs} ms:\n`);
    }
    await sleep(20);
  }
  const [issuer, adminUrl] = fs.readFileSync(ready, 'utf8').split('\n');
  server.issuer = issuer;
  server.adminUrl = adminUrl;
  server.discoveryUrl = issuer + '/.well-known/openid-configuration';
  server.jwksUrl = issuer + '/jwks';
  return server;
}

module.exports = { start, Authflowd, AuthflowError, AuthflowdStartError };
