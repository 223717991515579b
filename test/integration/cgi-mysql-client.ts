// A CGI run's own MySQL client (lib/store/mysql-wire.ts, lib/store/mysql-cgi.ts) against the
// real MariaDB: a password account, a wrong password, an ed25519 account (answered by this
// client itself, not handed to mysql2), a host list whose first server refuses, a server
// named by a host name the hosts file lists, values that a quoting mistake would break, and
// the look-up still using the primary key.
import t from 'tap';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cgi } from '../helpers/run.js';
import { mysqlAccount, mysqlAdmin, mysqlStore, MYSQL_ADMIN } from '../helpers/stores.js';
import { sites } from '../helpers/xml.js';
import { connectWire } from '../../lib/store/mysql-wire.js';
import { literal } from '../../lib/store/mysql-cgi.js';
import { LOOKUP_PREFIX } from '../../lib/store/mysql-sql.js';
import { hostsFileAddresses } from '../../lib/store/hosts-file.js';

const server = new URL(MYSQL_ADMIN);
// Preloaded into a run: says on stderr, at exit, whether node:net was ever loaded.
const REPORT_NET = fileURLToPath(new URL('../fixtures/report-net.cjs', import.meta.url));
const hostPort = `${server.hostname}:${server.port || 3306}`;

t.test('accounts: a password, a wrong one, and one of MariaDB\'s ed25519', async (t) => {
  const store = await mysqlStore(t);
  if (!store) return;
  const admin = (await mysqlAdmin(t))!;
  const database = new URL(store.url).pathname.slice(1);
  const user = `adrater_wire_${process.pid}`;
  t.teardown(async () => {
    await admin.query(`DROP USER IF EXISTS '${user}_ed'@'%'`);
    await admin.end();
    await store.close();
  });
  await store.sql("INSERT INTO site_ratings VALUES ('rated.example', 'A', 'Café «ok»', '2026-01-01 00:00:00', NULL)");
  await mysqlAccount(t, user, 'pässword ✓', { grantOn: database });

  const url = (password: string) => `mysql://${user}:${encodeURIComponent(password)}@${hostPort}/${database}`;
  const answer = await cgi(url('pässword ✓'), { query: 'url=rated.example&url=queued.example&priority=3' });
  t.equal(answer.status, 200, answer.stderr);
  t.same(sites(answer.body).map((s) => [s.domain, s.status, s.info]), [
    ['rated.example', 'rated', 'Café «ok»'],
    ['queued.example', 'queued', undefined],
  ]);
  t.same(await store.sql("SELECT priority, requests, source_ip FROM rating_queue WHERE domain = 'queued.example'"), [{ priority: 3, requests: 1, source_ip: '192.0.2.7' }]);

  const wrong = await cgi(url('not it'), { query: 'url=rated.example' });
  t.equal(wrong.status, 503);
  t.match(wrong.stderr, /ER_ACCESS_DENIED_ERROR: Access denied for user/, 'the server says why, in the log');

  // ed25519 is MariaDB's own method: this client answers it (lib/store/mysql-ed25519.ts)
  // without handing the run to mysql2, which would load node:net (the report says so).
  // Installed for the test, and removed after it, only where the server did not have it:
  // MariaDB installs a library twice without complaint.
  const [had] = (await admin.query("SELECT 1 FROM information_schema.plugins WHERE plugin_name = 'ed25519'")) as unknown as [unknown[]];
  if (had.length === 0) {
    await admin.query("INSTALL SONAME 'auth_ed25519'");
    t.teardown(() => admin.query("UNINSTALL SONAME 'auth_ed25519'").then(() => {}));
  }
  await admin.query(`CREATE USER '${user}_ed'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('pw')`);
  await admin.query(`GRANT SELECT, INSERT, UPDATE ON \`${database}\`.* TO '${user}_ed'@'%'`);
  const ed = await cgi(`mysql://${user}_ed:pw@${hostPort}/${database}`, { query: 'url=rated.example', env: { NODE_OPTIONS: `--require ${REPORT_NET}` } });
  t.equal(ed.status, 200, `an ed25519 account is served: ${ed.stderr}`);
  t.same(sites(ed.body).map((s) => [s.domain, s.status]), [['rated.example', 'rated']]);
  t.match(ed.stderr, /node:net loaded: no/, 'by the CGI run\'s own client, not mysql2');
  const edWrong = await cgi(`mysql://${user}_ed:not-it@${hostPort}/${database}`, { query: 'url=rated.example' });
  t.equal(edWrong.status, 503, 'ed25519, a wrong password');
  t.match(edWrong.stderr, /ER_ACCESS_DENIED_ERROR: Access denied for user/);
});

t.test('a host list whose first server refuses: the next one answers', async (t) => {
  const store = await mysqlStore(t);
  if (!store) return;
  t.teardown(() => store.close());
  const database = new URL(store.url).pathname.slice(1);
  const answer = await cgi(`mysql://root@127.0.0.1:1,${hostPort}/${database}`, { query: 'url=next.example' });
  t.equal(answer.status, 200);
  t.match(answer.stderr, /database 127\.0\.0\.1:1: ECONNREFUSED; trying/);
  t.equal((await store.sql('SELECT COUNT(*) AS n FROM rating_queue'))[0].n, 1);
});

t.test(
  'a server named by a host name the hosts file lists (localhost): the same look-up, through the hosts file, without node:net',
  { skip: hostsFileAddresses('localhost')?.includes(server.hostname) ? false : `this machine's hosts file does not give localhost ${server.hostname}` },
  async (t) => {
    const store = await mysqlStore(t);
    if (!store) return;
    t.teardown(() => store.close());
    const database = new URL(store.url).pathname.slice(1);
    const env = { NODE_OPTIONS: `--require ${REPORT_NET}` };
    for (const [host, site] of [[hostPort, 'by-address.example'], [`localhost:${server.port || 3306}`, 'by-name.example']]) {
      const answer = await cgi(`mysql://root@${host}/${database}`, { query: `url=${site}`, env });
      t.equal(answer.status, 200, answer.stderr);
      t.match(answer.stderr, /node:net loaded: no/, `${host}: Node's handles, no resolver, no node:net`);
    }
    t.same(await store.sql('SELECT domain FROM rating_queue ORDER BY domain'), [{ domain: 'by-address.example' }, { domain: 'by-name.example' }]);
  },
);

t.test('literals come back as they went, whatever sql_mode says of backslashes; the look-up uses the key', async (t) => {
  const store = await mysqlStore(t);
  if (!store) return;
  t.teardown(() => store.close());
  const database = new URL(store.url).pathname.slice(1);
  const wire = await connectWire({ host: server.hostname, port: Number(server.port || 3306), user: 'root', password: '', database, connectTimeout: 3000 });
  t.teardown(() => wire.quit());
  const nasty = ["a'b", 'back\\slash', '\\\'', '"', '\0nul', 'x\u2028y', '🙂 ü', "'; DROP TABLE site_ratings; --", ''];
  for (const mode of ['', 'NO_BACKSLASH_ESCAPES,ANSI_QUOTES']) {
    await wire.query(`SET SESSION sql_mode = ${literal(mode)}`);
    const [row] = await wire.query(`SELECT ${nasty.map(literal).join(', ')}, ${literal(null)}, ${literal(-7)}`);
    t.same(row, [...nasty, null, '-7'], `sql_mode=${mode || '(empty)'}`);
  }
  const [plan] = await wire.query(`EXPLAIN ${LOOKUP_PREFIX}${['a.example', 'b.example'].map(literal).join(', ')})`);
  t.match(plan, ['1', 'SIMPLE', 'site_ratings', 'range', 'PRIMARY', 'PRIMARY'], 'a range on the primary key, not a scan');
  t.same(await store.sql('SELECT COUNT(*) AS n FROM site_ratings'), [{ n: 0 }], 'nothing was run that should not have been');
});

const SOCKET = '/run/mysqld/mysqld.sock'; // where Debian's MariaDB listens
t.test("the server's Unix socket (?socket=): the same look-up", { skip: existsSync(SOCKET) ? false : `no MariaDB socket at ${SOCKET}` }, async (t) => {
  const socket = SOCKET;
  const store = await mysqlStore(t);
  if (!store) return;
  t.teardown(() => store.close());
  const database = new URL(store.url).pathname.slice(1);
  await store.sql("INSERT INTO site_ratings VALUES ('sock.example', 'B', NULL, '2026-01-01 00:00:00', NULL)");
  const answer = await cgi(`mysql://root@localhost/${database}?socket=${socket}`, { query: 'url=sock.example&url=new-over-socket.example' });
  t.equal(answer.status, 200, answer.stderr);
  t.same(sites(answer.body).map((s) => s.status), ['rated', 'queued']);
  t.same(await store.sql('SELECT domain FROM rating_queue'), [{ domain: 'new-over-socket.example' }]);
});
