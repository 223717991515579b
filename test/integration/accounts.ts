// An account the server will not serve (locked by a DBA, or its password expired) is the
// database not there for us, as a wrong password is: 503 with Retry-After and one log line
// naming the reason, for a CGI run (its own client) and a responder (mysql2) alike; not a
// 500 with the driver's stack on every request. Real MariaDB, the real bin.
// And an account of MariaDB's ed25519 method (auth_ed25519), which mysql2 does not speak
// ("unknown plugin client_ed25519", a 503 on every request): served by every path; and
// refused as a wrong password is once the server has unloaded the method.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import mysql from 'mysql2/promise';
import { BIN, cgi, cgiGetAs, run, WEB_SERVER_PATH } from '../helpers/run.js';
import { privateMariadb } from '../helpers/mariadb.js';
import { sites } from '../helpers/xml.js';
import { answerOnce, getParams, startResponder } from '../helpers/fcgi.js';
import { mysqlAccount, mysqlAdmin, mysqlStore, MYSQL_ADMIN } from '../helpers/stores.js';
import { refusedBoth } from '../helpers/refused.js';

const server = new URL(MYSQL_ADMIN);
const hostPort = `${server.hostname}:${server.port || 3306}`;

t.test('a locked account, an expired password: 503 and the reason, no stack', async (t) => {
  const store = await mysqlStore(t);
  const admin = await mysqlAdmin(t);
  if (!store || !admin) return;
  t.teardown(async () => {
    await store.close();
    await admin.end();
  });
  const database = new URL(store.url).pathname.slice(1);
  const user = `adrater_acct_${process.pid}`;
  await mysqlAccount(t, user, 'pw', { grantOn: database });
  const url = `mysql://${user}:pw@${hostPort}/${database}`;
  t.equal((await cgi(url, { query: 'url=a.example' })).status, 200, 'the account works');

  const cases = [
    { name: 'locked', alter: 'ACCOUNT LOCK', reason: /503 database unavailable: MySQL unavailable: ER_ACCOUNT_HAS_BEEN_LOCKED: Access denied, this account is locked/ },
    // MariaDB's default (disconnect_on_expired_password=OFF) lets the client in and refuses its statements.
    { name: 'password expired', alter: 'ACCOUNT UNLOCK PASSWORD EXPIRE', reason: /503 database unavailable: MySQL unavailable: ER_MUST_CHANGE_PASSWORD: You must SET PASSWORD/ },
  ];
  for (const c of cases) {
    await admin.query(`ALTER USER '${user}'@'%' ${c.alter}`);
    await t.test(c.name, (t) => refusedBoth(t, url, c.reason));
  }
  t.same(await store.sql('SELECT domain FROM rating_queue'), [{ domain: 'a.example' }], 'queued once, by the request that was served');
});

t.test('an ed25519 account: a CGI run, a responder and the commands are served; a wrong password is 503', async (t) => {
  const server = await privateMariadb({ grants: true, args: () => ['--skip-log-bin', '--plugin-load-add=auth_ed25519'] });
  t.teardown(() => server.destroy());
  const password = 'pass wörd ☕'; // its UTF-8 bytes are what is signed with
  await server.sql('CREATE DATABASE ed');
  await server.sql("CREATE USER app@'%' IDENTIFIED VIA ed25519 USING PASSWORD(?)", [password]);
  await server.sql("GRANT ALL ON ed.* TO app@'%'");
  t.same(await server.sql("SELECT plugin FROM mysql.user WHERE user = 'app'"), [{ plugin: 'ed25519' }]);
  const url = (pw: string) => `mysql://app:${encodeURIComponent(pw)}@127.0.0.1:${server.port}/ed`;

  const init = await run(['db', 'init'], { ADRATER_DB: url(password) });
  t.equal(init.code, 0, `db init: ${init.stderr}`);
  const viaCgi = await cgi(url(password), { query: 'url=cgi.example' });
  t.equal(viaCgi.status, 200, `a CGI run: ${viaCgi.stderr}`);
  const responder = await startResponder({ db: url(password) });
  t.teardown(() => responder.stop());
  for (const query of ['url=cgi.example&url=fcgi.example', 'url=fcgi.example']) {
    const answer = await answerOnce(responder.port!, getParams(query));
    t.equal(answer.status, 200, `a responder: ${query}`);
  }
  const queue = await run(['queue'], { ADRATER_DB: url(password) });
  t.same(queue.stdout.toString().trim().split('\n').map((line) => [JSON.parse(line).domain, JSON.parse(line).requests]), [['cgi.example', 2], ['fcgi.example', 2]], 'every request queued');

  const wrong = await cgi(url('pass word'), { query: 'url=a.example' });
  t.equal(wrong.status, 503, 'a wrong password: 503');
  t.match(wrong.stderr, /ER_ACCESS_DENIED_ERROR: Access denied for user 'app'/);
  t.same(sites((await cgi(url(password), { query: 'url=cgi.example' })).body).map((s) => s.status), ['queued'], 'and the right one again');

  // The server's plugin unloaded (a my.cnf that lost its plugin_load_add, say): the account
  // cannot log in at all, as with a wrong password.
  await server.sql("UNINSTALL SONAME 'auth_ed25519'");
  await t.test('its plugin unloaded from the server', (t) => refusedBoth(t, url(password), /503 database unavailable: MySQL unavailable: ER_PLUGIN_IS_NOT_LOADED: Plugin 'ed25519' is not loaded/));
});

// The account with no password anywhere: MariaDB's unix_socket method (Debian's own root is
// one) serves the operating-system user of the same name over the server's Unix socket, so
// Apache's CGI runs and a responder, as www-data, need no password in any file. Another
// operating-system user with the same account name is refused: 503, as a wrong password.
t.test('an account IDENTIFIED VIA unix_socket: www-data served over the socket with no password; another OS user 503', async (t) => {
  if (process.getuid?.() !== 0) {
    t.comment('skipped: running as www-data needs root');
    return;
  }
  const store = await mysqlStore(t);
  const admin = await mysqlAdmin(t);
  if (!store || !admin) return;
  t.teardown(async () => {
    await admin.query("DROP USER IF EXISTS 'www-data'@'localhost'");
    await store.close();
    await admin.end();
  });
  const [[{ plugin, socket }]] = (await admin.query("SELECT (SELECT plugin_status FROM information_schema.plugins WHERE plugin_name = 'unix_socket') AS plugin, @@socket AS socket")) as unknown as [[{ plugin: string | null; socket: string }]];
  if (plugin !== 'ACTIVE') {
    t.comment('skipped: the server has no unix_socket authentication');
    return;
  }
  const database = new URL(store.url).pathname.slice(1);
  await admin.query("CREATE USER 'www-data'@'localhost' IDENTIFIED VIA unix_socket");
  await admin.query(`GRANT SELECT, INSERT, UPDATE ON ${database}.* TO 'www-data'@'localhost'`);
  const url = `mysql://www-data@localhost/${database}?socket=${socket}`;

  const asWww = cgiGetAs(BIN, url, 'url=socket-cgi.example', 'www-data');
  t.equal(asWww.status, 200, asWww.stderr);
  t.equal(sites(asWww.body)[0].status, 'queued');

  const responder = await startResponder({ db: url, launcher: ['runuser', '-u', 'www-data', '--'] });
  t.equal((await answerOnce(responder.port!, getParams('url=socket-fcgi.example'))).status, 200, 'a responder as www-data');
  await responder.stop();
  const queue = spawnSync('runuser', ['-u', 'www-data', '--', '/usr/bin/env', '-i', `PATH=${WEB_SERVER_PATH}`, BIN, 'queue', '--db', url]);
  t.equal(queue.status, 0, queue.stderr.toString());
  t.same(queue.stdout.toString().trim().split('\n').map((l) => JSON.parse(l).domain).sort(), ['socket-cgi.example', 'socket-fcgi.example'], '`adrater queue` as www-data');

  // Run by root, as the test is.
  const reason = /503 database unavailable: MySQL unavailable: ER_ACCESS_DENIED_NO_PASSWORD_ERROR: Access denied for user 'www-data'@'localhost'/;
  await t.test('the same URL run by root', (t) => refusedBoth(t, url, reason, () => cgiGetAs(BIN, url, 'url=socket-root.example')));
});

// Shared hosting caps each account's connections (the server's max_user_connections, 1203;
// an account's own MAX_USER_CONNECTIONS, 1226): a run that finds the account at its cap is
// the database not there for us now.
t.test("an account at its connection cap (the server's max_user_connections; the account's own): 503, one line", async (t) => {
  const server = await privateMariadb({ grants: true, args: () => ['--skip-log-bin', '--max-user-connections=1'] });
  t.teardown(() => server.destroy());
  await server.database('cap');
  await server.sql("CREATE USER app@'%' IDENTIFIED BY 'pw'");
  await server.sql("CREATE USER own@'%' IDENTIFIED BY 'pw' WITH MAX_USER_CONNECTIONS 1");
  await server.sql("GRANT SELECT, INSERT, UPDATE ON cap.* TO app@'%', own@'%'");
  for (const [user, reason] of [
    ['app', /503 database unavailable: MySQL unavailable: ER_TOO_MANY_USER_CONNECTIONS: User app already has more than 'max_user_connections' active connections/],
    ['own', /503 database unavailable: MySQL unavailable: ER_USER_LIMIT_REACHED: User 'own' has exceeded the 'max_user_connections' resource/],
  ] as const) {
    const url = `mysql://${user}:pw@127.0.0.1:${server.port}/cap`;
    t.equal((await cgi(url, { query: 'url=a.example' })).status, 200, `${user}: served while under its cap`);
    const held = await mysql.createConnection(url);
    await t.test(`${user} at its cap`, (t) => refusedBoth(t, url, reason));
    await held.end();
  }
});

// Many web hosts, one server: an account made for one host only refuses the others before
// any password is read (1130). The operator's to mend, as a wrong password is.
t.test('a web host no account names (the account made for another host): 503 and the reason, no stack', async (t) => {
  const server = await privateMariadb({ grants: true, args: () => ['--skip-log-bin', '--skip-name-resolve'] });
  t.teardown(() => server.destroy());
  await server.database('hosts');
  await server.sql("CREATE USER app@'192.0.2.10' IDENTIFIED BY 'pw'");
  await server.sql("GRANT SELECT, INSERT, UPDATE ON hosts.* TO app@'192.0.2.10'");
  await server.sql("DROP USER root@'127.0.0.1', root@'::1'"); // the last statement over TCP: 127.0.0.1 is no account's host now
  const url = `mysql://app:pw@127.0.0.1:${server.port}/hosts`;
  await refusedBoth(t, url, /503 database unavailable: MySQL unavailable: ER_HOST_NOT_PRIVILEGED: Host '127\.0\.0\.1' is not allowed to connect to this MariaDB server/);
});
