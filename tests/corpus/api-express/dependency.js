#!/usr/bin/env node
// dependency.js - the dependency that server.js's /health pings (a stand-in
// for its database), started by tests/test_corpus_api_express.sh with plain
// node (no package): answers 200 {"ok": true} to every request, binds
// 127.0.0.1 port 0 and prints its URL as the first stdout line. The test
// takes it down with SIGSTOP (connections are still accepted by the kernel
// but never answered, as a hung database) and up with SIGCONT.
'use strict';

const http = require('node:http');

const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end('{"ok": true}\n');
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`http://127.0.0.1:${server.address().port}/ping\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
