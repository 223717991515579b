// The servers a MySQL URL lists (CONTRACT §8), in order, each with the URL's credentials,
// database and options; a list that cannot be read is a settings error.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mysqlServers, mysqlUrl } from '../../lib/store/mysql-servers.js';

const failbackMs = (url: string) => mysqlUrl(url).failbackMs;
const maxLagSeconds = (url: string) => mysqlUrl(url).maxLagSeconds;

t.test('one server, several, IPv6, default ports', async (t) => {
  t.match(mysqlServers('mysql://app:s%40cret@db1.example:3307/ratings'), [
    { label: 'db1.example:3307', options: { host: 'db1.example', port: 3307, user: 'app', password: 's@cret', database: 'ratings', charset: 'utf8mb4' } },
  ]);
  const three = mysqlServers('mysql://u:p@h1:3306,h2,[2001:db8::7]:3308/db?connectTimeout=500');
  t.same(three.map((s) => s.label), ['h1:3306', 'h2:3306', '[2001:db8::7]:3308'], 'in the order given');
  t.same(three.map((s) => s.options.host), ['h1', 'h2', '2001:db8::7']);
  t.ok(three.every((s) => s.options.user === 'u' && s.options.password === 'p' && s.options.database === 'db' && s.options.connectTimeout === 500), 'every server gets the credentials, database and options');
  t.match(mysqlServers('mariadb://root@127.0.0.1/test'), [{ label: '127.0.0.1:3306', options: { user: 'root', password: '' } }]);
  t.match(mysqlServers('mysql://u@localhost/db?socket=/run/mysqld/mysqld.sock'), [{ label: '/run/mysqld/mysqld.sock', options: { socketPath: '/run/mysqld/mysqld.sock' } }]);
});

t.test('a label never carries the password', async (t) => {
  for (const s of mysqlServers('mysql://user:hunter2@a:1,b:2/db')) t.notMatch(s.label, /hunter2/);
});

t.test('what is not a server list is a settings error', async (t) => {
  for (const url of ['mysql://u@h1:99999/db', 'mysql://u@h1:port/db', 'mysql://u@[::1/db', 'postgres://x/y']) {
    t.throws(() => mysqlServers(url), { name: 'SettingsError' }, url);
  }
});

t.test('?failback=SECONDS: how often a responder away from the first server asks whether it is back', async (t) => {
  t.equal(failbackMs('mysql://u@h1,h2/db'), 30_000, 'default 30 s');
  t.equal(failbackMs('mysql://u@h1,h2/db?connectTimeout=500&failback=2.5'), 2500);
  t.equal(failbackMs('mysql://u@h1,h2/db?failback=0'), 0, '0: never');
  for (const bad of ['-1', 'soon', '', 'Infinity']) {
    t.throws(() => failbackMs(`mysql://u@h1,h2/db?failback=${bad}`), { name: 'SettingsError', message: /failback must be seconds/ }, bad);
  }
});

t.test('a URL option this project does not read, or a connectTimeout that is not milliseconds, is a settings error', async (t) => {
  for (const [query, message] of [
    ['conectTimeout=500', /unknown option "conectTimeout" \(known: socket, connectTimeout, failback, maxLag, ssl, sslCa, sslCert, sslKey\)/],
    ['sslmode=require', /unknown option "sslmode"/],
    ['connectTimeout=abc', /connectTimeout must be milliseconds/],
    ['connectTimeout=-5', /connectTimeout must be milliseconds/],
    ['connectTimeout=0', /connectTimeout must be milliseconds/],
    ['connectTimeout=1.5', /connectTimeout must be milliseconds/],
    ['connectTimeout=', /connectTimeout must be milliseconds/],
  ] as const) {
    t.throws(() => mysqlServers(`mysql://u@h1,h2/db?${query}`), { name: 'SettingsError', message }, query);
  }
  t.equal(mysqlServers('mysql://u@h1/db?connectTimeout=2500&failback=0')[0].options.connectTimeout, 2500);
  t.equal(mysqlServers('mysql://u@h1/db')[0].options.connectTimeout, 3000, 'default 3 s');
});

t.test('?ssl=true and ?sslCa=PATH: TLS, the certificate verified; its name checked for a host name', async (t) => {
  t.equal(mysqlServers('mysql://u@h1/db')[0].options.ssl, undefined, 'plain TCP by default');
  t.same(mysqlServers('mysql://u@h1,10.0.0.5,[fd00::5]/db?ssl=true').map((s) => s.options.ssl), [
    { rejectUnauthorized: true, verifyIdentity: true },
    { rejectUnauthorized: true, verifyIdentity: false },
    { rejectUnauthorized: true, verifyIdentity: false },
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'adrater-ca-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ca = join(dir, 'ca.pem');
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  writeFileSync(ca, pem);
  t.same(mysqlServers(`mysql://u@db.example/db?sslCa=${encodeURIComponent(ca)}`)[0].options.ssl, { ca: pem, rejectUnauthorized: true, verifyIdentity: true });
  writeFileSync(join(dir, 'key.pem'), '-----BEGIN PRIVATE KEY-----\n');
  for (const [query, message] of [
    ['ssl=yes', /ssl must be "true", not "yes"/],
    ['ssl=false', /ssl must be "true"/],
    [`sslCa=${dir}/missing.pem`, /sslCa ".*missing\.pem" cannot be read \(ENOENT\)/],
    [`sslCa=${dir}/key.pem`, /sslCa ".*key\.pem" holds no PEM certificate/],
    ['ssl=true&socket=/run/mysqld/mysqld.sock', /a Unix socket \(\?socket=\) is local/],
    [`sslCert=${ca}`, /sslCert and sslKey go together/],
    [`sslKey=${dir}/key.pem`, /sslCert and sslKey go together/],
    [`sslCert=${dir}/key.pem&sslKey=${dir}/key.pem`, /sslCert ".*key\.pem" holds no PEM certificate/],
    [`sslCert=${ca}&sslKey=${ca}`, /sslKey ".*ca\.pem" holds no PEM private key/],
    [`sslCert=${ca}&sslKey=${dir}/missing.key`, /sslKey ".*missing\.key" cannot be read \(ENOENT\)/],
    [`sslCert=${ca}&sslKey=${dir}/key.pem`, /sslCert ".*ca\.pem" cannot be used/],
  ] as const) {
    t.throws(() => mysqlServers(`mysql://u@h1/db?${query}`), { name: 'SettingsError', message }, query);
  }
});

t.test('?maxLag=: seconds on a read URL, none by default', async (t) => {
  t.equal(maxLagSeconds('mysql://u@replica/db'), null);
  t.equal(maxLagSeconds('mysql://u@replica/db?failback=5&maxLag=2.5'), 2.5);
  t.equal(maxLagSeconds('mysql://u@replica/db?maxLag=0'), 0);
  for (const bad of ['', 'abc', '-1', 'Infinity']) {
    t.throws(() => maxLagSeconds(`mysql://u@replica/db?maxLag=${bad}`), { name: 'SettingsError', message: /maxLag must be seconds/ }, bad);
  }
  t.doesNotThrow(() => mysqlServers('mysql://u@replica/db?maxLag=10'), 'a known option');
});

t.test('a CGI run reads neither failback nor maxLag, but a wrong one is a settings error there too', async (t) => {
  for (const query of ['failback=soon', 'maxLag=-3']) {
    t.throws(() => mysqlServers(`mysql://u@h1,h2/db?${query}`), { name: 'SettingsError', message: /must be seconds/ }, query);
  }
});
