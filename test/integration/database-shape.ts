// A MySQL database that is not yet adrater's: `db init` never run against it, a site_ratings
// of another shape (a column missing), an account with no grant on one of the tables; and an
// SQLite file that is no database, or a damaged one (the end of this file). Each is
// the operator's to mend, so the log line names the fix and carries no stack: no tables and a
// table of another shape are a 500 `database error` (CONTRACT §4: any failure but an
// unreachable database), an account without a grant a 503 as one without a grant on the
// database is. The real bin against the real server, as a CGI run, a responder and a command;
// the responder answers once `db init` has run, without a restart.
import t from 'tap';
import type { Test } from 'tap';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { cgi, run } from '../helpers/run.js';
import { answerOnce, getParams, startResponder } from '../helpers/fcgi.js';
import { mysqlAccount, mysqlAdmin, mysqlStore, MYSQL_ADMIN } from '../helpers/stores.js';
import { errorOf, sites } from '../helpers/xml.js';
import { unavailable } from '../helpers/refused.js';

/** An empty database on the real server, dropped with `t`; its URL, or null when MariaDB is unreachable outside CI. */
async function emptyDatabase(t: Test): Promise<string | null> {
  const admin = await mysqlAdmin(t);
  if (!admin) return null;
  const name = `adrater_empty_${process.pid}_${Date.now().toString(36)}`;
  await admin.query(`CREATE DATABASE ${name}`);
  t.teardown(async () => {
    await admin.query(`DROP DATABASE ${name}`);
    await admin.end();
  });
  const url = new URL(MYSQL_ADMIN);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A 500 document with a request id, and the log line `500 database error: <line>` under that id, with no stack. */
function databaseError(t: Test, answer: { status: number; body: string }, stderr: string, line: string | RegExp): void {
  t.equal(answer.status, 500);
  const error = errorOf(answer.body);
  t.equal(error.code, 'internal');
  t.match(stderr, `req=${error['request-id']} 500 database error: `);
  t.match(stderr, line);
  t.notMatch(stderr, /\n\s+at |\| +at /, 'no stack in the log');
}

t.test('no tables (db init never run): 500 database error naming the fix, then served once it has run', async (t) => {
  const db = await emptyDatabase(t);
  if (!db) return;
  const name = new URL(db).pathname.slice(1);
  const missing = `Table '${name}.site_ratings' doesn't exist (run adrater db init)`;

  const answer = await cgi(db, { query: 'url=new-site.example' });
  databaseError(t, answer, answer.stderr, missing);

  const responder = await startResponder({ db });
  t.teardown(() => responder.stop());
  databaseError(t, await answerOnce(responder.port!, getParams('url=new-site.example')), responder.stderr(), missing);

  const queue = await run(['queue', '--db', db], {});
  t.equal(queue.code, 1);
  t.equal(queue.stderr, `adrater: Table '${name}.rating_queue' doesn't exist (run adrater db init)\n`, 'a command: one line, the fix');

  const init = await run(['db', 'init', '--db', db], {});
  t.equal(init.code, 0, init.stderr);
  const served = await answerOnce(responder.port!, getParams('url=new-site.example'));
  t.equal(served.status, 200, 'the same responder, once the tables are there');
  t.equal(sites(served.body)[0].status, 'queued');
});

t.test('site_ratings of another shape (no info column): 500 database error', async (t) => {
  const store = await mysqlStore(t);
  if (!store) return;
  t.teardown(() => store.close());
  await store.sql('ALTER TABLE site_ratings DROP COLUMN info');
  const answer = await cgi(store.url, { query: 'url=some-site.example' });
  const shape = /Unknown column 'info' in '[^']+' \(a table is not as adrater db init makes it, CONTRACT §5\)/;
  databaseError(t, answer, answer.stderr, shape);
  const responder = await startResponder({ db: store.url });
  t.teardown(() => responder.stop());
  databaseError(t, await answerOnce(responder.port!, getParams('url=some-site.example')), responder.stderr(), shape);
});

t.test('an account that may read site_ratings but not write rating_queue: look-ups 200, a request that queues 503', async (t) => {
  const store = await mysqlStore(t);
  if (!store) return;
  t.teardown(() => store.close());
  const database = new URL(store.url).pathname.slice(1);
  await store.sql("INSERT INTO site_ratings VALUES ('rated-site.example', 'A', NULL, '2026-01-01 00:00:00', NULL)");
  if (!(await mysqlAccount(t, 'adrater_reader', 'reader-pw'))) return;
  const admin = (await mysqlAdmin(t))!;
  t.teardown(() => admin.end());
  await admin.query(`GRANT SELECT ON ${database}.site_ratings TO 'adrater_reader'@'%'`);
  const db = `mysql://adrater_reader:reader-pw@127.0.0.1:3306/${database}`;

  const rated = await cgi(db, { query: 'url=www.rated-site.example' });
  t.equal(rated.status, 200, rated.stderr);
  t.equal(sites(rated.body)[0].status, 'rated');

  const queues = await cgi(db, { query: 'url=www.rated-site.example&url=new-site.example' });
  unavailable(t, queues, queues.stderr, 'a CGI run that queues');
  t.match(queues.stderr, /503 database unavailable: MySQL unavailable: ER_TABLEACCESS_DENIED_ERROR: INSERT, UPDATE command denied to user 'adrater_reader'@'[^']+' for table `[^`]+`\.`rating_queue`/);

  const responder = await startResponder({ db });
  t.teardown(() => responder.stop());
  t.equal((await answerOnce(responder.port!, getParams('url=www.rated-site.example'))).status, 200);
  const pooled = await answerOnce(responder.port!, getParams('url=new-site.example'));
  unavailable(t, pooled, responder.stderr(), 'a responder request that queues');
  t.match(responder.stderr(), /503 database unavailable: MySQL unavailable: ER_TABLEACCESS_DENIED_ERROR: INSERT, UPDATE command denied/);
  t.same(await store.sql('SELECT domain FROM rating_queue'), [], 'nothing queued');
});

// SQLite: the file named is no database at all (a --db naming another file), a damaged one
// (a disk that lost a write, a file copied while written), or one whose site_ratings another
// program made: 500 with the file and the fix in one line, never "unavailable, try again
// later" for a fault that will not mend by itself.
t.test("SQLite: a file that is no database, a damaged file, another program's table: 500 database error naming the file and the fix", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'adrater-shape-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  const foreign = join(dir, 'notes.txt');
  writeFileSync(foreign, 'these are not ratings\n'.repeat(200));
  const notDb = await cgi(`sqlite:${foreign}`, { query: 'url=a.example' });
  databaseError(t, notDb, notDb.stderr, `SQLite: SQLITE_NOTADB: file is not a database (${foreign} is no SQLite database: check the database setting (--db, ADRATER_DB))`);
  t.equal(readFileSync(foreign, 'utf8'), 'these are not ratings\n'.repeat(200), 'the file left as it was');

  // 300 ratings over several pages, then every page but the first (the header and the schema) overwritten.
  const path = join(dir, 'ratings.sqlite');
  const csv = join(dir, 'ratings.csv');
  writeFileSync(csv, ['domain,rating,info,rated_at,expires_at', ...Array.from({ length: 300 }, (_, i) => `site${i}.example,A,,2026-01-01,`)].join('\n') + '\n');
  t.equal((await run(['import', csv], { ADRATER_DB: `sqlite:${path}` })).code, 0);
  const pages = readFileSync(path).length / 4096;
  t.ok(pages > 2, `${pages} pages`);
  const fd = openSync(path, 'r+');
  for (let page = 1; page < pages; page++) writeSync(fd, Buffer.alloc(4096, 0xff), 0, 4096, page * 4096);
  closeSync(fd);
  const damaged = `SQLite: SQLITE_CORRUPT: database disk image is malformed (${path} is damaged: restore it from a backup, or recover its rows with sqlite3 and .recover)`;
  const answer = await cgi(`sqlite:${path}`, { query: 'url=site5.example&url=new.example' });
  databaseError(t, answer, answer.stderr, damaged);
  const responder = await startResponder({ db: `sqlite:${path}` });
  t.teardown(() => responder.stop());
  databaseError(t, await answerOnce(responder.port!, getParams('url=site5.example')), responder.stderr(), damaged);

  // Another program's site_ratings, without an info column: adrater adds the tables that are
  // not there and leaves that one as it is.
  const other = join(dir, 'other.sqlite');
  const made = new Database(other);
  made.exec("CREATE TABLE site_ratings (domain TEXT PRIMARY KEY, rating TEXT, rated_at TEXT); INSERT INTO site_ratings VALUES ('x.example', 'A', '2026-01-01 00:00:00')");
  made.close();
  const foreignTable = await cgi(`sqlite:${other}`, { query: 'url=x.example' });
  databaseError(t, foreignTable, foreignTable.stderr, `SQLite: SQLITE_ERROR: no such column: info (${other} has a table not as adrater makes it, CONTRACT §5)`);
});
