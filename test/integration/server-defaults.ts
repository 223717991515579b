// A server whose sessions start with autocommit off (mariadbd --autocommit=0, as some sites
// run it) and a row limit on every SELECT (SET GLOBAL sql_select_limit, a guard some set): a 200
// still means the request's queue rows are committed, a responder's look-ups still see a
// rating the moment it is committed, and every rated site is found. Each mysql2 connection
// sets both for its own session; a CGI run's own client commits when the server says a
// transaction is open and gives its look-up a LIMIT of its own. Before: every queue write
// answered 200 was rolled back when its connection closed, a pooled connection read one
// snapshot for as long as it lived, and rated sites past the limit were answered `queued`.
// And a server that refuses tables without a primary key (innodb_force_primary_key; Galera's
// wsrep_mode=REQUIRED_PRIMARY_KEY, test/drills/cluster.ts): `db init` failed there
// ("This table type requires a primary key": schema_version had none).
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { privateMariadb } from '../helpers/mariadb.js';
import { cgi, run } from '../helpers/run.js';
import { answerOnce, getParams, startResponder } from '../helpers/fcgi.js';
import { sites } from '../helpers/xml.js';
import { LATEST_VERSION } from '../../lib/store/schema.js';


t.test('autocommit off and a row limit on the server: 200 means committed, look-ups see new ratings and every row', async (t) => {
  const server = await privateMariadb({ args: () => ['--skip-log-bin', '--autocommit=0'] });
  t.teardown(() => server.destroy());
  await server.sql('SET GLOBAL sql_select_limit = 3'); // no startup option: a DBA's SET GLOBAL (or an init_connect)
  t.same(await server.sql('SELECT @@GLOBAL.autocommit AS a, @@GLOBAL.sql_select_limit AS l'), [{ a: 0, l: '3' }], 'the server starts sessions with autocommit off and SELECTs cut at 3 rows');
  const url = await server.database('ac');
  const queued = async () => (await server.sql('SELECT domain FROM ac.rating_queue ORDER BY domain')).map((r) => r.domain);

  const viaCgi = await cgi(url, { query: 'url=cgi.example' });
  t.equal(viaCgi.status, 200);
  t.same(await queued(), ['cgi.example'], "a CGI run's queue write is committed");

  const responder = await startResponder({ db: url });
  t.teardown(() => responder.stop());
  const first = await answerOnce(responder.port!, getParams('url=fcgi.example&url=later.example'));
  t.equal(first.status, 200);
  t.same(await queued(), ['cgi.example', 'fcgi.example', 'later.example'], "a responder's queue write is committed");

  const rated = await run(['rating', 'later.example', 'B'], { ADRATER_DB: url });
  t.equal(rated.code, 0, rated.stderr);
  const second = await answerOnce(responder.port!, getParams('url=later.example'));
  t.same(sites(second.body).map((s) => [s.status, s.rating]), [['rated', 'B']], 'the rating committed since the last look-up is seen');

  // Five rated sites, more than the server's row limit, in one request and in a batch.
  const csv = join(server.dir, 'five.csv');
  writeFileSync(csv, ['domain,rating,info,rated_at,expires_at', ...Array.from({ length: 5 }, (_, i) => `r${i}.example,A,,2026-01-01,`)].join('\n') + '\n');
  const imported = await run(['import', csv], { ADRATER_DB: url });
  t.equal(imported.code, 0, imported.stderr);
  const five = Array.from({ length: 5 }, (_, i) => `url=r${i}.example`).join('&');
  const rated5 = Array(5).fill('rated');
  t.same(sites((await cgi(url, { query: five })).body).map((s) => s.status), rated5, 'CGI: all five rated');
  t.same(sites((await answerOnce(responder.port!, getParams(five))).body).map((s) => s.status), rated5, 'responder: all five rated');
  const together = await Promise.all(Array.from({ length: 4 }, (_, i) => answerOnce(responder.port!, getParams(`url=r${i}.example&url=r${i + 1}.example`))));
  t.same(together.map((a) => sites(a.body).map((s) => s.status)), Array(4).fill(['rated', 'rated']), 'four requests at once: every site rated');
  await responder.stop();
  t.notMatch(responder.stderr(), /first statement failed/, 'the session settings were taken');
});

t.test('a server that closes idle sessions after a second (wait_timeout=1): a responder serves on after each idle spell', async (t) => {
  // Hosting providers set wait_timeout to minutes, not MariaDB's 8 hours: a responder's pooled
  // connections are then closed under it between busy spells, every idle spell.
  const server = await privateMariadb({ args: () => ['--skip-log-bin', '--wait-timeout=1'] });
  t.teardown(() => server.destroy());
  const url = await server.database('wt');
  const responder = await startResponder({ db: url, args: ['--pool-size', '4'] });
  t.teardown(() => responder.stop());
  const port = responder.port!;
  const busySpell = (round: number) => Promise.all(Array.from({ length: 8 }, (_, i) => answerOnce(port, getParams(`url=r${round}-${i}.example`))));
  for (let round = 0; round < 3; round++) {
    const answers = await busySpell(round);
    t.same(answers.map((a) => a.status), Array(8).fill(200), `busy spell ${round}: every request 200`);
    await new Promise((r) => setTimeout(r, 2500)); // past wait_timeout: the server closes the pool's sessions
  }
  t.equal((await server.sql("SELECT COUNT(*) AS n FROM wt.rating_queue WHERE domain LIKE 'r%'"))[0].n, 24, 'every answered request queued');
  await responder.stop();
  t.notMatch(responder.stderr(), /\b(503|500)\b/, 'no request failed for a closed session');
});

t.test('a server that refuses tables without a primary key: db init, and db migrate of an older install', async (t) => {
  const server = await privateMariadb({ args: () => ['--skip-log-bin', '--innodb-force-primary-key=1'] });
  t.teardown(() => server.destroy());
  await t.rejects(server.sql('CREATE TABLE test.no_key (x INT)'), { code: 'ER_REQUIRES_PRIMARY_KEY' }, 'the server refuses a table without one');
  const url = await server.database('pk');
  const keyless = (db: string) =>
    server.sql(
      `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = ? AND table_name NOT IN
        (SELECT table_name FROM information_schema.table_constraints WHERE table_schema = ? AND constraint_type = 'PRIMARY KEY') ORDER BY 1`,
      [db, db],
    );
  t.same(await keyless('pk'), [], 'db init: every table has a primary key');
  const viaCgi = await cgi(url, { query: 'url=new.example' });
  t.equal(viaCgi.status, 200, 'and the database serves');

  // An install the earlier schema made (version 2, its version table keyless, made while the
  // server allowed it), brought up to date.
  await server.sql('SET GLOBAL innodb_force_primary_key = 0');
  await server.sql('CREATE DATABASE old');
  await server.sql('CREATE TABLE old.schema_version (version INT NOT NULL) ENGINE=InnoDB');
  await server.sql('SET GLOBAL innodb_force_primary_key = 1');
  await server.sql('INSERT INTO old.schema_version VALUES (2)');
  for (const table of ['site_ratings', 'rating_queue']) await server.sql(`CREATE TABLE old.${table} LIKE pk.${table}`);
  t.same(await keyless('old'), [{ t: 'schema_version' }]);
  const migrated = await run(['db', 'migrate', '--db', server.url('old')], {});
  t.equal(migrated.code, 0, migrated.stderr);
  t.match(migrated.stderr, `schema version 2 -> ${LATEST_VERSION}`);
  t.same(await keyless('old'), [], 'db migrate gives the version table its key');
  t.same(await server.sql('SELECT version FROM old.schema_version'), [{ version: LATEST_VERSION }]);
  const again = await run(['db', 'migrate', '--db', server.url('old')], {});
  t.match(again.stderr, `schema already at version ${LATEST_VERSION}`);
});
