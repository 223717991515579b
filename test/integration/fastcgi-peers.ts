// Real FastCGI peers against the real bin and the real MariaDB: cgi-fcgi, nginx over TCP
// and a Unix socket, Apache mod_fcgid (socket on fd 0) and mod_proxy_fcgi, lighttpd
// (spawning, socket on fd 0) and Caddy's fastcgi transport. Every path must
// serve the same document as CGI for the same request, and queue through the same store.
import t from 'tap';
import type { Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cgi, parseCgi, ROOT, WEB_SERVER_PATH } from '../helpers/run.js';
import { mysqlStore, sqliteStore } from '../helpers/stores.js';
import { startResponder } from '../helpers/fcgi.js';
import { startApache, startCaddy, startLighttpd, startNginx, exampleConfig, writeConfig, serverDir, freePort } from '../helpers/servers.js';
import { http } from '../helpers/http.js';
import { sites } from '../helpers/xml.js';

// A rated site, a stale one (both its times in the document), a new one, an invalid one.
const QUERY = 'url=http%3A%2F%2Fwww.fresh.example%2Fa%3Fb%3D1%26c%3D2&url=stale.example&url=peer-queued.example&url=localhost&priority=5';
const CHECKOUT = ROOT.replace(/\/$/, '');

function cgiFcgi(port: number, query: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/env', ['-i', `PATH=${WEB_SERVER_PATH}`, 'REQUEST_METHOD=GET', `QUERY_STRING=${query}`, 'REMOTE_ADDR=127.0.0.1', 'SCRIPT_FILENAME=/adrater', 'cgi-fcgi', '-bind', '-connect', `127.0.0.1:${port}`]);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`cgi-fcgi exited ${code}`))));
  });
}

t.test('the same document through every peer', async (t) => {
  const store = (await mysqlStore(t)) ?? (await sqliteStore());
  t.teardown(() => store.close());
  if (store.name === 'sqlite') {
    const dir = store.url.slice('sqlite:'.length).replace(/\/[^/]+$/, '');
    chmodSync(dir, 0o777);
  }
  await store.sql("INSERT INTO site_ratings VALUES ('fresh.example', 'A', 'peer test', '2025-01-01 00:00:00', NULL), ('stale.example', 'C', NULL, '2024-02-29 23:59:58', '2025-03-01 00:00:01')");
  const requests = async () => Number((await store.sql("SELECT requests FROM rating_queue WHERE domain = 'peer-queued.example'"))[0]?.requests ?? 0);

  const reference = await cgi(store.url, { query: QUERY, env: { REMOTE_ADDR: '127.0.0.1' } });
  t.equal(reference.status, 200);
  t.same(sites(reference.body).map((s) => s.status), ['rated', 'stale', 'queued', 'invalid']);
  t.match(reference.body, /rated="2024-02-29T23:59:58Z" expires="2025-03-01T00:00:01Z"/, 'the stale site with both its times');
  let expected = 1;
  t.equal(await requests(), expected);

  const check = async (name: string, body: string, status: number) => {
    t.equal(status, 200, `${name}: 200`);
    t.equal(body, reference.body, `${name}: the same document as CGI`);
    t.equal(await requests(), ++expected, `${name}: queued in the same store`);
  };

  // The same parameters as a chunked POST body: each peer passes it as the FastCGI stream it is.
  const CHUNKED = { method: 'POST', body: QUERY, headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Transfer-Encoding': 'chunked' } };
  /** The query as a GET and as a chunked POST through the front end on `port`: each the reference document. */
  const getAndPost = async (name: string, port: number) => {
    const answer = await http(port, '/adrater?' + QUERY);
    await check(name, answer.body, answer.status);
    const posted = await http(port, '/adrater', CHUNKED);
    await check(`${name}, chunked POST`, posted.body, posted.status);
  };
  /** The config file a spawning front end's responder reads, as the README says to install it. */
  const configFile = (t: Test) => {
    const configDir = serverDir('adrater-config-');
    t.teardown(() => rmSync(configDir, { recursive: true, force: true }));
    return writeConfig(configDir, { db: store.url });
  };

  await t.test('cgi-fcgi against --listen', async (t) => {
    const responder = await startResponder({ db: store.url });
    t.teardown(() => responder.stop());
    const answer = parseCgi(Buffer.from(await cgiFcgi(responder.port!, QUERY)));
    await check('cgi-fcgi', answer.body, answer.status);
  });

  for (const transport of ['tcp', 'unix'] as const) {
    await t.test(`nginx fastcgi_pass over ${transport}`, async (t) => {
      const sockDir = mkdtempSync(join(tmpdir(), 'adrater-nginx-sock-'));
      t.teardown(() => rmSync(sockDir, { recursive: true, force: true }));
      const responder = await startResponder({ db: store.url, path: transport === 'unix' ? join(sockDir, 'adrater.sock') : undefined });
      t.teardown(() => responder.stop());
      const port = await freePort();
      const upstream = transport === 'tcp' ? `127.0.0.1:${responder.port}` : `unix:${responder.path}`;
      const site = exampleConfig('nginx-adrater.conf', {
        'server 127.0.0.1:9000;': `server ${upstream};`,
        'listen 127.0.0.1:8080;': `listen 127.0.0.1:${port};`,
        'include fastcgi_params;': 'include /etc/nginx/fastcgi_params;', // the test's nginx has its own prefix
      });
      const nginx = await startNginx(site, port);
      t.teardown(() => nginx.stop());
      await getAndPost(`nginx ${transport}`, port);
      // Kept connections: many requests, one responder, no errors.
      const more = await Promise.all(Array.from({ length: 20 }, () => http(port, '/adrater?url=fresh.example')));
      t.same(new Set(more.map((a) => a.status)), new Set([200]), '20 more requests over kept connections');
    });
  }

  await t.test('Apache mod_fcgid spawning the bin with the socket on fd 0', async (t) => {
    const site = exampleConfig('apache-fcgid.conf', { '/opt/adrater': CHECKOUT, '/etc/adrater/adrater.json': configFile(t) });
    const apache = await startApache('event', site, ['fcgid']);
    t.teardown(() => apache.stop());
    await getAndPost('mod_fcgid', apache.port);
    const more = await Promise.all(Array.from({ length: 10 }, () => http(apache.port, '/adrater?url=fresh.example')));
    t.same(new Set(more.map((a) => a.status)), new Set([200]));
    t.notMatch(apache.errorLog(), /error|premature/i, `clean error log: ${apache.errorLog()}`);
  });

  await t.test('lighttpd mod_fastcgi spawning the bin with the socket on fd 0 (a new connection per request)', async (t) => {
    const lighttpd = await startLighttpd(exampleConfig('lighttpd-adrater.conf', { '/opt/adrater': CHECKOUT, '/etc/adrater/adrater.json': configFile(t) }));
    t.teardown(() => lighttpd.stop());
    await getAndPost('lighttpd', lighttpd.port);
    const more = await Promise.all(Array.from({ length: 20 }, () => http(lighttpd.port, '/adrater?url=fresh.example')));
    t.same(new Set(more.map((a) => a.status)), new Set([200]), '20 more requests, each on a connection of its own');
    const head = await http(lighttpd.port, '/adrater?url=fresh.example', { method: 'HEAD' });
    t.equal(head.status, 200, 'HEAD');
    t.equal(head.body, '', 'HEAD: no body');
    t.notMatch(lighttpd.errorLog(), /\(mod_fastcgi|gw_backend|error/i, `clean error log: ${lighttpd.errorLog()}`);
  });

  await t.test('Caddy reverse_proxy with the fastcgi transport to --listen', async (t) => {
    const responder = await startResponder({ db: store.url });
    t.teardown(() => responder.stop());
    const port = await freePort();
    const caddy = await startCaddy(exampleConfig('Caddyfile', { '127.0.0.1:9000': `127.0.0.1:${responder.port}`, '127.0.0.1:8080': `127.0.0.1:${port}` }), port);
    t.teardown(() => caddy.stop());
    await getAndPost('Caddy', port);
    const bad = await http(port, '/adrater?url=a.example&priority=x');
    t.equal(bad.status, 400, 'an error status passes through');
    t.match(bad.body, /code="bad-priority"/);
    const more = await Promise.all(Array.from({ length: 20 }, () => http(port, '/adrater?url=fresh.example')));
    t.same(new Set(more.map((a) => a.status)), new Set([200]), '20 more requests');
  });

  await t.test('Apache mod_proxy_fcgi to --listen', async (t) => {
    const responder = await startResponder({ db: store.url });
    t.teardown(() => responder.stop());
    const site = exampleConfig('apache-proxy-fcgi.conf', { '127.0.0.1:9000': `127.0.0.1:${responder.port}` });
    const apache = await startApache('event', site, ['proxy', 'proxy_fcgi']);
    t.teardown(() => apache.stop());
    await getAndPost('mod_proxy_fcgi', apache.port);
  });
});
