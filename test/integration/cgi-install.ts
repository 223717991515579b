// A CGI run works from any install location and whatever state its code cache is in: a
// copy of the built package elsewhere, reached through a symlink (as cgi-bin/adrater.cgi
// is), with its V8 code cache missing, corrupt, or in a dist/ the user cannot write, run
// as root and as www-data (Apache's user). A cache is a speed-up only: never a failure.
import t from 'tap';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, WEB_SERVER_PATH, cgiGetAs } from '../helpers/run.js';
import { sites } from '../helpers/xml.js';
import { mysqlAdmin, mysqlStore } from '../helpers/stores.js';
import { installCopy } from '../helpers/install.js';
import { answerOnce, getParams, startResponder } from '../helpers/fcgi.js';

t.test('a copy elsewhere, through a symlink: caches written, then used, then survive corruption', async (t) => {
  const install = installCopy();
  t.teardown(() => rmSync(install.dir, { recursive: true, force: true }));
  const db = `sqlite:${join(install.dir, 'ratings.sqlite')}`;
  t.same(install.caches(), [], 'no code cache to begin with');

  const first = cgiGetAs(install.cgi, db, 'url=first.example');
  t.equal(first.status, 200, first.stderr);
  t.same(sites(first.body).map((s) => s.status), ['queued']);
  t.same(install.caches(), ['adrater.js.v8cache', 'sqlite.js.v8cache'], 'a CGI run that may write leaves the caches');

  const cached = statSync(join(install.dir, 'dist/lib/adrater.js.v8cache'));
  t.equal(cgiGetAs(install.cgi, db, 'url=second.example').status, 200, 'the next run uses them');
  t.equal(statSync(join(install.dir, 'dist/lib/adrater.js.v8cache')).mtimeMs, cached.mtimeMs, 'an accepted cache is not rewritten');

  for (const cache of install.caches()) writeFileSync(join(install.dir, 'dist/lib', cache), 'not a V8 code cache');
  const corrupt = cgiGetAs(install.cgi, db, 'url=third.example');
  t.equal(corrupt.status, 200, 'a corrupt cache is refused by V8 and the run compiles from source');
  t.equal(corrupt.stderr, '', 'without a word in the error log');
  t.ok(statSync(join(install.dir, 'dist/lib/adrater.js.v8cache')).size > 1000, 'and a good cache replaces it');
});

t.test('bin/adrater names the node that built it; bin/adrater.cjs, through env, answers the same', async (t) => {
  const bin = readFileSync(join(ROOT, 'bin/adrater'), 'utf8');
  const template = readFileSync(join(ROOT, 'bin/adrater.cjs'), 'utf8');
  t.equal(bin.split('\n')[0], `#!${process.execPath}`, 'one exec per CGI run: no env, no PATH search');
  t.equal(bin.slice(bin.indexOf('\n')), template.slice(template.indexOf('\n')), 'the rest is the template as it is');
  t.equal(template.split('\n')[0], '#!/usr/bin/env node');
  const dir = mkdtempSync(join(tmpdir(), 'adrater-portable-'));
  chmodSync(dir, 0o755);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = `sqlite:${join(dir, 'ratings.sqlite')}`;
  const viaEnv = cgiGetAs(join(ROOT, 'bin/adrater.cjs'), db, 'url=www.example.org');
  const direct = cgiGetAs(join(ROOT, 'bin/adrater'), db, 'url=www.example.org');
  t.equal(viaEnv.status, 200, viaEnv.stderr);
  t.equal(direct.status, 200, direct.stderr);
  t.same(sites(viaEnv.body), sites(direct.body), 'the same answer');
});

t.test('installed as a dependency or by npx: its own packages hoisted beside it, not inside it', async (t) => {
  // npm puts mysql2 and better-sqlite3 in the node_modules that holds adrater, not in one of
  // adrater's own: what the bundles find at run time (the addon, mysql2's error table) must
  // be found there too.
  const dir = mkdtempSync(join(tmpdir(), 'adrater-hoisted-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pkg = join(dir, 'node_modules/adrater');
  mkdirSync(join(pkg, 'dist'), { recursive: true });
  for (const entry of readdirSync(join(ROOT, 'node_modules'))) symlinkSync(join(ROOT, 'node_modules', entry), join(dir, 'node_modules', entry));
  cpSync(join(ROOT, 'bin'), join(pkg, 'bin'), { recursive: true });
  cpSync(join(ROOT, 'dist/lib'), join(pkg, 'dist/lib'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
  t.notOk(existsSync(join(pkg, 'node_modules')), 'no node_modules of its own');
  const cgi = join(pkg, 'bin/adrater');

  const onSqlite = cgiGetAs(cgi, `sqlite:${join(dir, 'ratings.sqlite')}`, 'url=www.example.org');
  t.equal(onSqlite.status, 200, onSqlite.stderr);
  t.same(sites(onSqlite.body).map((s) => s.status), ['queued'], 'better-sqlite3 found above the package');
  const admin = await mysqlAdmin(t);
  if (admin) {
    await admin.end();
    const missing = `adrater_missing_${process.pid}`;
    const onMysql = cgiGetAs(cgi, `mysql://root@127.0.0.1:3306/${missing}`, 'url=www.example.org');
    t.equal(onMysql.status, 503, 'a database that is not there: 503');
    t.match(onMysql.stderr, new RegExp(`ER_BAD_DB_ERROR: Unknown database '${missing}'`), "the log names the server's error");
    // A command goes through mysql2, whose names for server errors stay in its package.
    const command = spawnSync(cgi, ['queue', '--db', `mysql://root@127.0.0.1:3306/${missing}`], { env: { PATH: WEB_SERVER_PATH } });
    t.equal(command.status, 1);
    t.match(command.stderr.toString(), new RegExp(`ER_BAD_DB_ERROR: Unknown database '${missing}'`), "mysql2's error table found above the package");
  }
});

t.test("the build's caches are accepted by a real look-up on each store: none is rewritten", async (t) => {
  // The build writes them from a warm-up look-up (lib/build/build.mjs); a cache V8 refused
  // here (other flags, another source) would be rewritten by this very run.
  const install = installCopy(true);
  t.teardown(() => rmSync(install.dir, { recursive: true, force: true }));
  const snapshot = () => Object.fromEntries(install.caches().map((f) => [f, readFileSync(join(install.dir, 'dist/lib', f)).toString('base64')]));
  const built = snapshot();
  t.same(Object.keys(built), ['adrater.js.v8cache', 'cli.js.v8cache', 'fcgi.js.v8cache', 'mysql-cgi.js.v8cache', 'mysql.js.v8cache', 'sqlite.js.v8cache'], "the caches a CGI run and a responder read, as the build wrote them");
  const onSqlite = cgiGetAs(install.cgi, `sqlite:${join(install.dir, 'ratings.sqlite')}`, 'url=one.example');
  t.equal(onSqlite.status, 200, onSqlite.stderr);
  const mysql = await mysqlStore(t);
  if (mysql) {
    t.teardown(() => mysql.close());
    await mysql.sql("INSERT INTO site_ratings (domain, rating, info, rated_at, expires_at) VALUES ('rated.example', 'A', NULL, '2026-01-01 00:00:00', NULL)");
    const onMysql = cgiGetAs(install.cgi, mysql.url, 'url=rated.example&url=two.example');
    t.equal(onMysql.status, 200, onMysql.stderr);
    t.same(sites(onMysql.body).map((s) => s.status), ['rated', 'queued']);
    const responder = await startResponder({ db: mysql.url, bin: join(install.dir, 'bin/adrater') });
    const answer = await answerOnce(responder.port!, getParams('url=rated.example&url=three.example'));
    t.equal(await responder.stop(), 0, responder.stderr());
    t.same(sites(answer.body).map((s) => s.status), ['rated', 'queued'], 'a responder on MySQL (fcgi.js, cli.js, mysql.js)');
  }
  t.same(snapshot(), built, 'every cache as the build wrote it');
});

t.test("as www-data: a dist/ it cannot write, no cache at all, both stores", async (t) => {
  const install = installCopy();
  t.teardown(() => rmSync(install.dir, { recursive: true, force: true }));
  const data = join(install.dir, 'data');
  mkdirSync(data);
  execFileSync('chown', ['www-data:www-data', data]);
  const sqlite = `sqlite:${join(data, 'ratings.sqlite')}`;

  const answer = cgiGetAs(install.cgi, sqlite, 'url=www.example.com&format=json', 'www-data');
  t.equal(answer.status, 200, answer.stderr);
  t.equal(JSON.parse(answer.body).ratings[0].domain, 'example.com');
  t.equal(answer.stderr, '', 'nothing in the error log');
  t.same(install.caches(), [], 'no cache written into a dist/ www-data may not write');
  t.notOk(existsSync(join(install.dir, 'dist/lib/adrater.js.v8cache')), 'and none half-written');

  const mysql = await mysqlStore(t);
  if (mysql) {
    t.teardown(() => mysql.close());
    const onMysql = cgiGetAs(install.cgi, mysql.url, 'url=www.example.org', 'www-data');
    t.equal(onMysql.status, 200, onMysql.stderr);
    t.same(sites(onMysql.body).map((s) => s.status), ['queued'], 'MySQL from the same copy, as www-data, without a cache');
    t.same(await mysql.sql('SELECT domain FROM rating_queue'), [{ domain: 'example.org' }]);
  }
});

// A broken build is a 500 document too (CONTRACT §4): with adrater.js unable to load (a file
// it reads at load gone), the bin answers for it; with a store's bundle gone, the handler does.
t.test('a build with a file missing: a 500 document with a request id, the reason in the log only', async (t) => {
  const install = installCopy();
  t.teardown(() => rmSync(install.dir, { recursive: true, force: true }));
  const db = `sqlite:${join(install.dir, 'ratings.sqlite')}`;
  for (const missing of ['tldts-trie.bin', 'sqlite.js']) {
    const file = join(install.dir, 'dist/lib', missing);
    const kept = readFileSync(file);
    rmSync(file);
    for (const query of ['url=a.example', 'url=a.example&format=json']) {
      const answer = cgiGetAs(install.cgi, db, query);
      t.equal(answer.status, 500, `${missing}, ${query}`);
      const id = /req=(\S+) 500 internal error: .*ENOENT.*/.exec(answer.stderr)?.[1];
      t.ok(id, `the log names the missing file's error with a request id: ${answer.stderr.slice(0, 200)}`);
      const json = query.endsWith('json');
      t.equal(answer.headers['content-type'], json ? 'application/json' : 'text/xml; charset=utf-8');
      t.same(json ? JSON.parse(answer.body) : answer.body, json
        ? { error: { status: 500, code: 'internal', message: `internal error; request id ${id}`, requestId: id } }
        : `<?xml version="1.0" encoding="UTF-8"?>\n<error status="500" code="internal" request-id="${id}">internal error; request id ${id}</error>\n`);
      t.notMatch(answer.body, /ENOENT|at /, 'no reason or stack to the client');
    }
    writeFileSync(file, kept);
  }
  t.equal(cgiGetAs(install.cgi, db, 'url=a.example').status, 200, 'whole again, it answers');
});
