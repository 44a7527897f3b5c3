// server.js - oauth2-mock-server (npm, the version pinned in
// package-lock.json) started as its README shows, for authprobe's AS suite
// (tests/test_corpus_as_oauth2_mock_server.sh, profile.json beside this
// file). It is the corpus's deliberately lax provider: no client registry,
// no login page, no state kept for codes or refresh tokens; nothing here
// changes how the library answers.
//
// It listens on 127.0.0.1, port 0, and prints its issuer URL as the first
// line on stdout once it accepts connections. The issuer is set to the
// address it listens on (the library would name it "localhost").
//
//   node server.js
import { OAuth2Server } from 'oauth2-mock-server';

const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');
await server.start(0, '127.0.0.1');
server.issuer.url = `http://127.0.0.1:${server.address().port}`;
process.stdout.write(`${server.issuer.url}\n`);

const stop = () => server.stop().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
