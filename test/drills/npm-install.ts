// A real `npm install -g` of the packed package (its "files", its bin link, better-sqlite3
// built by npm's install script), then CGI look-ups through the installed command, as root
// and as www-data, on both stores. The packages come from npm's cache (`npm ci` filled it):
// --prefer-offline. (The layout npx and a dependent project use, with the dependencies
// beside the package, is test/integration/cgi-install.ts's.)
import t from 'tap';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, cgiGetAs } from '../helpers/run.js';
import { sites } from '../helpers/xml.js';
import { mysqlStore } from '../helpers/stores.js';

const run = promisify(execFile);


t.test('npm install -g of the packed package: the installed command answers on both stores, as root and as www-data', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'adrater-npm-'));
  chmodSync(dir, 0o755);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // --ignore-scripts: pack what is built; `prepare` would rebuild dist/ under the other tests.
  await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT });
  const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  t.ok(tarball, 'npm pack made a tarball');
  const prefix = join(dir, 'prefix');
  await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(dir, tarball!)], { cwd: dir, timeout: 240_000 });
  const command = join(prefix, 'bin/adrater');
  t.ok(existsSync(command), 'the bin is linked');
  t.ok(existsSync(join(prefix, 'lib/node_modules/adrater/dist/lib/adrater.js')), 'the built bundles are in the package');

  const data = join(dir, 'data');
  spawnSync('install', ['-d', '-o', 'www-data', '-g', 'www-data', data]);
  for (const user of [undefined, 'www-data']) {
    const who = user ?? 'root';
    const onSqlite = cgiGetAs(command, `sqlite:${join(data, `${who}.sqlite`)}`, 'url=www.example.org&url=ftp://x.example/', user);
    t.equal(onSqlite.status, 200, `SQLite as ${who}: ${onSqlite.stderr}`);
    t.same(sites(onSqlite.body).map((s) => s.status), ['queued', 'invalid']);
  }
  const mysql = await mysqlStore(t);
  if (mysql) {
    t.teardown(() => mysql.close());
    const onMysql = cgiGetAs(command, mysql.url, 'url=www.example.org', 'www-data');
    t.equal(onMysql.status, 200, `MariaDB as www-data: ${onMysql.stderr}`);
    t.same(await mysql.sql('SELECT domain FROM rating_queue'), [{ domain: 'example.org' }]);
    const missing = new URL(mysql.url);
    missing.pathname = `/${missing.pathname.slice(1)}_missing`;
    const refused = cgiGetAs(command, missing.toString(), 'url=www.example.org');
    t.equal(refused.status, 503);
    t.match(refused.stderr, /ER_BAD_DB_ERROR/, "the server's error is named (mysql2's error table found in the install)");
  }
});
