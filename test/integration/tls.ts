// TLS to the database (?sslCa=PATH, ?ssl=true): a private MariaDB with certificates made
// here, and an account that the server serves over TLS only (REQUIRE SSL), so that every
// answer that reaches the database proves the connection was TLS. The certificate is
// verified against the CA given, and its name against a host name in the URL; a server
// named by its address is vouched for by the CA alone. A CGI run speaks TLS through its own
// client (lib/store/mysql-wire.ts, tried here directly too); a responder's pool and the
// commands through mysql2.
import t from 'tap';
import type { Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { privateMariadb } from '../helpers/mariadb.js';
import type { PrivateMariadb } from '../helpers/mariadb.js';
import { cgi, run } from '../helpers/run.js';
import { answerOnce, getParams, startResponder } from '../helpers/fcgi.js';
import { errorOf, sites } from '../helpers/xml.js';
import { connectWire } from '../../lib/store/mysql-wire.js';
import { greetsThenSilent, socketServer } from '../helpers/socket-server.js';
import { refusedBoth } from '../helpers/refused.js';
import { sleep } from '../helpers/wait.js';

const openssl = (dir: string, args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });

/** A CA (NAME.pem, NAME.key). */
function makeCa(dir: string, name: string): string {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`]);
  return join(dir, `${name}.pem`);
}

/** A server certificate signed by `ca`, for the names in `altNames` (NAME.pem, NAME.key). */
function makeCert(dir: string, ca: string, name: string, altNames: string): { cert: string; key: string } {
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${altNames}\n`);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`]);
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
}

/** A directory for a test's certificates, removed when `t` ends. */
function certDir(t: Test, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A stand-in for a server whose login hangs once TLS is up: it relays the greeting of the
 * server at `port` (which offers TLS), takes the client's 36-byte SSL request, completes the
 * TLS handshake itself with `cert`, and swallows the login. Its port, and what it saw.
 */
async function tlsThenSilent(t: Test, port: number, cert: { cert: string; key: string }): Promise<{ port: number; seen: { secured: number; loginBytes: number } }> {
  const key = readFileSync(cert.key);
  const pem = readFileSync(cert.cert);
  const seen = { secured: 0, loginBytes: 0 };
  const stand = await socketServer(t, (client) => {
    const server = connect(port, '127.0.0.1');
    server.on('error', () => {});
    server.once('data', (greeting) => {
      client.write(greeting);
      server.destroy();
    });
    let head = Buffer.alloc(0);
    const sslRequest = (data: Buffer) => {
      head = Buffer.concat([head, data]);
      if (head.length < 36) return;
      client.off('data', sslRequest);
      const raw = new Duplex({
        read() {},
        write(chunk: Buffer, _encoding, done) {
          client.write(chunk, () => done());
        },
      });
      client.on('data', (more) => raw.push(more));
      const secure = new TLSSocket(raw, { isServer: true, key, cert: pem });
      secure.on('secure', () => seen.secured++);
      secure.on('data', (login: Buffer) => (seen.loginBytes += login.length));
      secure.on('error', () => {});
      if (head.length > 36) raw.push(head.subarray(36)); // the ClientHello, sent with it
    };
    client.on('data', sslRequest);
  });
  return { port: (stand as { port: number }).port, seen };
}

/** A private MariaDB serving TLS with `cert` (signed by the CA at `ca`), its database `tls` made; stopped when `t` ends. */
async function tlsMariadb(t: Test, ca: string, cert: { cert: string; key: string }): Promise<PrivateMariadb> {
  const server = await privateMariadb({ grants: true, args: () => ['--skip-log-bin', `--ssl-ca=${ca}`, `--ssl-cert=${cert.cert}`, `--ssl-key=${cert.key}`] });
  t.teardown(() => server.destroy());
  await server.sql('CREATE DATABASE tls');
  return server;
}

t.test('TLS to the database: verified against the CA given, by name for a host name', async (t) => {
  const dir = certDir(t, 'adrater-tls-');
  const ca = makeCa(dir, 'ca');
  const otherCa = makeCa(dir, 'other-ca');
  const dbExample = makeCert(dir, 'ca', 'db-example', 'DNS:db.example');
  const localhost = makeCert(dir, 'ca', 'localhost', 'DNS:localhost');

  const server = await tlsMariadb(t, ca, dbExample);
  await server.sql("CREATE USER app@'%' IDENTIFIED BY 'app-pass' REQUIRE SSL");
  await server.sql("GRANT ALL ON tls.* TO app@'%'");
  const url = (host: string, query: string) => `mysql://app:app-pass@${host}:${server.port}/tls${query}`;
  const noPassword = (text: string, what: string) => t.notMatch(text, /app-pass/, `${what}: no password in the log`);

  const plain = await run(['db', 'init'], { ADRATER_DB: url('127.0.0.1', '') });
  t.equal(plain.code, 1, 'without TLS the account is refused (the test can tell TLS from none)');
  t.match(plain.stderr, /Access denied/);

  // By address: the certificate (for db.example) verified against the CA alone.
  const byAddress = url('127.0.0.1', `?sslCa=${ca}`);
  const init = await run(['db', 'init'], { ADRATER_DB: byAddress });
  t.equal(init.code, 0, `db init over TLS: ${init.stderr}`);
  const viaCgi = await cgi(byAddress, { query: 'url=cgi.example' });
  t.equal(viaCgi.status, 200, `a CGI run over TLS: ${viaCgi.stderr}`);
  t.same(sites(viaCgi.body).map((s) => s.status), ['queued']);
  const responder = await startResponder({ db: byAddress });
  t.teardown(() => responder.stop());
  const viaResponder = await answerOnce(responder.port!, getParams('url=cgi.example&url=fcgi.example'));
  t.equal(viaResponder.status, 200, 'a responder over TLS');
  const queue = await run(['queue'], { ADRATER_DB: byAddress });
  t.equal(queue.code, 0, queue.stderr);
  t.same(queue.stdout.toString().trim().split('\n').map((line) => [JSON.parse(line).domain, JSON.parse(line).requests]), [['cgi.example', 2], ['fcgi.example', 1]], 'both queued over TLS');

  // The CGI run's own client, directly: TLS, then its statements.
  const wireOptions = (host: string, ca: string, verifyIdentity: boolean) =>
    ({ host, port: server.port, user: 'app', password: 'app-pass', database: 'tls', connectTimeout: 3000, tls: { ca: readFileSync(ca, 'utf8'), verifyIdentity } });
  const wire = await connectWire(wireOptions('127.0.0.1', ca, false));
  t.same(await wire.query("SHOW SESSION STATUS LIKE 'Ssl_version'").then((rows) => rows[0][1]?.startsWith('TLSv1.')), true, "the CGI client's session is TLS");
  t.same(await wire.query('SELECT COUNT(*) FROM rating_queue'), [['2']]);
  await wire.quit();
  await t.rejects(connectWire(wireOptions('127.0.0.1', otherCa, false)), { code: 'HANDSHAKE_SSL_ERROR', message: /self-signed certificate/ }, 'the CGI client: another CA');
  await t.rejects(connectWire(wireOptions('localhost', ca, true)), { code: 'HANDSHAKE_SSL_ERROR', message: /does not match certificate's altnames/ }, 'the CGI client: another name');
  await t.rejects(
    connectWire({ host: '127.0.0.1', port: 3306, user: 'root', password: '', connectTimeout: 3000, tls: { verifyIdentity: false } }),
    { code: 'HANDSHAKE_NO_SSL_SUPPORT' },
    'the CGI client: a server without TLS',
  );

  // A certificate another CA signed: not used, 503, the reason logged.
  const wrongCa = await cgi(url('127.0.0.1', `?sslCa=${otherCa}`), { query: 'url=a.example' });
  t.equal(wrongCa.status, 503);
  t.equal(wrongCa.headers['retry-after'], '5');
  t.match(wrongCa.stderr, /HANDSHAKE_SSL_ERROR: .*certificate/);
  noPassword(wrongCa.stderr, 'another CA');

  // By name: localhost is not the name the certificate gives (db.example).
  const byName = url('localhost', `?sslCa=${ca}`);
  const wrongName = await cgi(byName, { query: 'url=a.example' });
  t.equal(wrongName.status, 503);
  t.match(wrongName.stderr, /does not match certificate's altnames/);
  const nameResponder = await startResponder({ db: byName });
  t.teardown(() => nameResponder.stop());
  t.equal((await answerOnce(nameResponder.port!, getParams('url=a.example'))).status, 503, 'a responder: 503 as well');
  await nameResponder.stop();
  t.match(nameResponder.stderr(), /does not match certificate's altnames/);
  noPassword(nameResponder.stderr(), 'responder');

  // The server with a certificate for localhost: the name checks out.
  await server.stop('SIGTERM');
  await server.start([`--ssl-cert=${localhost.cert}`, `--ssl-key=${localhost.key}`]);
  const rightName = await cgi(byName, { query: 'url=cgi.example' });
  t.equal(rightName.status, 200, `by name, the certificate for that name: ${rightName.stderr}`);

  // A list whose first server has no TLS (the machine's own): the next listed one serves.
  const listed = `mysql://app:app-pass@127.0.0.1:3306,127.0.0.1:${server.port}/tls?sslCa=${ca}`;
  const viaList = await cgi(listed, { query: 'url=listed.example' });
  t.equal(viaList.status, 200, `a CGI run: the second listed server (${viaList.stderr})`);
  t.match(viaList.stderr, /database 127\.0\.0\.1:3306: HANDSHAKE_NO_SSL_SUPPORT: Server does not support secure connection; trying/);
  const listResponder = await startResponder({ db: listed });
  t.teardown(() => listResponder.stop());
  t.equal((await answerOnce(listResponder.port!, getParams('url=listed.example'))).status, 200, 'a responder: the second listed server');
  await listResponder.stop();
  t.match(listResponder.stderr(), /HANDSHAKE_NO_SSL_SUPPORT/);

  // ?ssl=true on a server without TLS (the machine's own, have_ssl DISABLED): not used.
  const noTls = await cgi('mysql://root@127.0.0.1:3306/test?ssl=true', { query: 'url=a.example' });
  t.equal(noTls.status, 503);
  t.match(noTls.stderr, /HANDSHAKE_NO_SSL_SUPPORT/);
});

t.test('client certificates (?sslCert=&sslKey=): an account REQUIRE SUBJECT served; a key that cannot be used is a bad setting', async (t) => {
  const dir = certDir(t, 'adrater-tls-client-');
  const ca = makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  const server = makeCert(dir, 'ca', 'db-example', 'DNS:db.example');
  const client = makeCert(dir, 'ca', 'adrater-client', 'DNS:adrater-client');
  const stranger = makeCert(dir, 'other-ca', 'adrater-client-elsewhere', 'DNS:adrater-client');
  const encryptedKey = join(dir, 'encrypted.key');
  openssl(dir, ['pkey', '-in', client.key, '-aes256', '-passout', 'pass:secret', '-out', encryptedKey]);
  const encryptedOldKey = join(dir, 'encrypted-old.key'); // the older PEM form: Proc-Type: 4,ENCRYPTED
  openssl(dir, ['pkey', '-in', client.key, '-aes128', '-traditional', '-passout', 'pass:secret', '-out', encryptedOldKey]);

  const db = await tlsMariadb(t, ca, server);
  // The certificate is the credential the server checks beside the password: its subject and its issuer.
  await db.sql("CREATE USER certified@'%' IDENTIFIED BY 'cert-pass' REQUIRE SUBJECT '/CN=adrater-client' AND ISSUER '/CN=ca'");
  await db.sql("GRANT ALL ON tls.* TO certified@'%'");
  const url = (query: string) => `mysql://certified:cert-pass@127.0.0.1:${db.port}/tls?sslCa=${ca}${query}`;
  const withCert = url(`&sslCert=${client.cert}&sslKey=${client.key}`);

  const noCert = await cgi(url(''), { query: 'url=a.example' });
  t.equal(noCert.status, 503, 'TLS without a client certificate: refused by the server');
  t.match(noCert.stderr, /Access denied for user 'certified'/);

  const init = await run(['db', 'init'], { ADRATER_DB: withCert });
  t.equal(init.code, 0, `db init with the client certificate: ${init.stderr}`);
  const viaCgi = await cgi(withCert, { query: 'url=cgi.example' });
  t.equal(viaCgi.status, 200, `a CGI run: ${viaCgi.stderr}`);
  const responder = await startResponder({ db: withCert });
  t.teardown(() => responder.stop());
  t.equal((await answerOnce(responder.port!, getParams('url=cgi.example&url=fcgi.example'))).status, 200, 'a responder');
  await responder.stop();
  const queue = await run(['queue'], { ADRATER_DB: withCert });
  t.equal(queue.code, 0, queue.stderr);
  t.same(queue.stdout.toString().trim().split('\n').map((line) => [JSON.parse(line).domain, JSON.parse(line).requests]), [['cgi.example', 2], ['fcgi.example', 1]], 'both queued, with the certificate');

  // The same subject from another CA: the server refuses it (503, the reason logged).
  const foreign = await cgi(url(`&sslCert=${stranger.cert}&sslKey=${stranger.key}`), { query: 'url=a.example' });
  t.equal(foreign.status, 503, `a client certificate another CA signed: ${foreign.stderr}`);
  t.equal(foreign.headers['retry-after'], '5');

  // Keys that cannot be used: a bad setting, said once (CGI 500 `configuration error`, the responder exits 2).
  for (const [key, reason] of [
    [stranger.key, /sslKey ".*adrater-client-elsewhere\.key" is not the private key of sslCert's certificate/],
    [encryptedKey, /sslKey ".*encrypted\.key" is encrypted; give it unencrypted/],
    [encryptedOldKey, /sslKey ".*encrypted-old\.key" is encrypted; give it unencrypted/],
  ] as const) {
    const bad = url(`&sslCert=${client.cert}&sslKey=${key}`);
    const answer = await cgi(bad, { query: 'url=a.example' });
    t.equal(answer.status, 500, `CGI: ${key}`);
    t.equal(errorOf(answer.body).code, 'internal');
    t.match(answer.stderr, /^adrater\[\d+\]: req=\S+ 500 configuration error: database URL: /m);
    t.match(answer.stderr, reason);
    t.notMatch(answer.stderr, /cert-pass|secret/, 'no password in the log');
    const started = await run(['fcgi', '--listen', join(dir, 'responder.sock')], { ADRATER_DB: bad });
    t.equal(started.code, 2, `responder: ${key}`);
    t.match(started.stderr, reason);
  }
});

// A login that stalls after the server's greeting (an authentication plugin waiting on its
// directory, a proxy that greets for servers it cannot reach) is timed out and named as one,
// over TLS too; a login that has ended is never timed out, however long its connection lives.
// mysql2 reads a TLS socket itself once the greeting is in, so adrater sees such a login end
// only where mysql2 hands the connection over: had it missed one, the pool's connection would
// be cut at connectTimeout, and its next statement would go out on a new one.
t.test('a login that stalls after the greeting is named as one, over TLS too; one that has ended is not timed out', async (t) => {
  const dir = certDir(t, 'adrater-tls-stall-');
  const ca = makeCa(dir, 'ca');
  const cert = makeCert(dir, 'ca', 'db-example', 'DNS:db.example');
  const server = await tlsMariadb(t, ca, cert);
  await server.sql("CREATE USER app@'%' IDENTIFIED BY 'app-pass' REQUIRE SSL");
  await server.sql("CREATE USER plain@'%' IDENTIFIED BY 'plain-pass'");
  await server.sql("GRANT ALL ON tls.* TO app@'%', plain@'%'");
  const tlsUrl = (port: number, timeout: number) => `mysql://app:app-pass@127.0.0.1:${port}/tls?sslCa=${ca}&connectTimeout=${timeout}`;
  t.equal((await run(['db', 'init'], { ADRATER_DB: tlsUrl(server.port, 3000) })).code, 0, 'db init');

  const sessions = async (user: string) => (await server.sql('SELECT id FROM information_schema.processlist WHERE user = ? ORDER BY id', [user])).map((row) => Number(row.id));
  for (const [user, url] of [
    ['app', tlsUrl(server.port, 400)],
    ['plain', `mysql://plain:plain-pass@127.0.0.1:${server.port}/tls?connectTimeout=400`],
  ]) {
    const responder = await startResponder({ db: url });
    t.teardown(() => responder.stop());
    t.equal((await answerOnce(responder.port!, getParams('url=first.example'))).status, 200, `${user}: the first answer`);
    const before = await sessions(user);
    await sleep(1200); // three times connectTimeout
    t.equal((await answerOnce(responder.port!, getParams('url=second.example'))).status, 200, `${user}: an answer past connectTimeout`);
    const after = await sessions(user);
    t.ok(before.length > 0 && before.every((id) => after.includes(id)), `${user}: the pool's connections live on (${before} -> ${after})`);
    await responder.stop();
    t.notMatch(responder.stderr(), /ETIMEDOUT|did not finish/, `${user}: nothing timed out`);
  }

  // A stand-in that relays this server's greeting (it offers TLS) and swallows what follows:
  // the client's SSL request, then its TLS handshake.
  const port = await greetsThenSilent(t, server.port);
  const stalledUrl = tlsUrl(port, 300);
  // (mysql2 gives any failure of its TLS handshake its own code, HANDSHAKE_SSL_ERROR; the CGI client's is ETIMEDOUT.)
  const reason = new RegExp(`503 database unavailable: MySQL unavailable: (ETIMEDOUT|HANDSHAKE_SSL_ERROR): connected to 127\\.0\\.0\\.1:${port}, which sent its MySQL greeting, but the login did not finish within 300 ms`);
  await refusedBoth(t, stalledUrl, reason);
  const command = await run(['queue'], { ADRATER_DB: stalledUrl });
  t.equal(command.code, 1, 'a command exits 1');
  t.match(command.stderr, 'which sent its MySQL greeting, but the login did not finish within 300 ms');

  // Listed first, the stalled server is passed over for the next one, which serves.
  const listed = `mysql://app:app-pass@127.0.0.1:${port},127.0.0.1:${server.port}/tls?sslCa=${ca}&connectTimeout=300`;
  const viaCgi = await cgi(listed, { query: 'url=after-stall.example' });
  t.equal(viaCgi.status, 200, `a CGI run: the next listed server (${viaCgi.stderr})`);
  t.match(viaCgi.stderr, new RegExp(`database 127\\.0\\.0\\.1:${port}: ETIMEDOUT: connected to 127\\.0\\.0\\.1:${port}, which sent its MySQL greeting, but the login did not finish within 300 ms .*; trying`));
  const responder = await startResponder({ db: listed });
  t.teardown(() => responder.stop());
  t.equal((await answerOnce(responder.port!, getParams('url=after-stall.example'))).status, 200, 'a responder: the next listed server');
  await responder.stop();
  t.match(responder.stderr(), new RegExp(`database 127\\.0\\.0\\.1:${port} lost \\(HANDSHAKE_SSL_ERROR: connected to 127\\.0\\.0\\.1:${port}, which sent its MySQL greeting, but the login did not finish within 300 ms .*\\); using`));
  // TLS up, then the login unanswered: the handshake is done, the wait is for the login's
  // answer, and it ends at connectTimeout in both lives as well.
  const afterTls = await tlsThenSilent(t, server.port, cert);
  const afterTlsUrl = tlsUrl(afterTls.port, 300);
  const started = Date.now();
  await refusedBoth(t, afterTlsUrl, new RegExp(`503 database unavailable: MySQL unavailable: ETIMEDOUT: connected to 127\\.0\\.0\\.1:${afterTls.port}, which sent its MySQL greeting, but the login did not finish within 300 ms`));
  t.ok(afterTls.seen.secured >= 2 && afterTls.seen.loginBytes > 0, `TLS was up and a login sent in it (${afterTls.seen.secured} handshakes, ${afterTls.seen.loginBytes} bytes of login)`);
  t.comment(`a CGI run and a responder's request refused in ${Date.now() - started} ms`);
});
