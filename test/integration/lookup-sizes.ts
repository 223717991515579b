// The look-up in every shape it takes. MariaDB, a responder's pool: one prepared statement,
// the domains as a JSON array joined through JSON_TABLE, or, on a server without JSON_TABLE,
// an IN list padded with NULLs to a power of two (one statement per size); a CGI run's
// connection: one plain query. SQLite: chunks of at most 999 keys. Every shape must find
// exactly the rated domains asked for (a padding NULL finds nothing), each once, whatever
// the count, with the times as stored.
import t from 'tap';
import type { Test } from 'tap';
import mysql from 'mysql2/promise';
import { eachStoreShape, mysqlStore } from '../helpers/stores.js';
import type { ScratchStore } from '../helpers/stores.js';
import { openStore } from '../../lib/store/open.js';
import { pooledLookup, ratingRow } from '../../lib/store/mysql.js';
import { classify } from '../../lib/store/mysql-retry.js';
import { UnavailableError } from '../../lib/core/errors.js';
import { until } from '../helpers/wait.js';
import type { OpenOptions, Store } from '../../lib/store/store.js';

const RATED = 40; // rated0.example … rated39.example
// Around each power of two the pool pads to, and past the largest the tests reach.
const SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 64, 65, 100];

/** n domains: every third one never rated, one asked twice. */
function asked(n: number): string[] {
  const domains = Array.from({ length: n }, (_, i) => (i % 3 === 2 ? `unrated${n}-${i}.example` : `rated${(i * 7) % RATED}.example`));
  if (n > 4) domains[n - 1] = domains[0];
  return domains;
}

/** The rated domains, as `check` and the test of a server without JSON_TABLE arrange them. */
async function rate(scratch: ScratchStore) {
  const values = Array.from({ length: RATED }, (_, i) => `('rated${i}.example', '${'ABCDF'[i % 5]}', ${i % 2 ? `'info ${i}'` : 'NULL'}, '2026-01-${String((i % 28) + 1).padStart(2, '0')} 12:34:56', ${i % 4 ? `'2027-02-03 04:05:0${i % 10}'` : 'NULL'})`);
  await scratch.sql(`INSERT INTO site_ratings VALUES ${values.join(', ')}`);
}

/** Every size asked of `lookup`: the rated domains found, each once, a row as stored. */
async function askEverySize(t: Test, lookup: Store['lookup']) {
  for (const n of SIZES) {
    const domains = asked(n);
    const rows = await lookup(domains);
    const wanted = [...new Set(domains.filter((d) => d.startsWith('rated')))].sort();
    t.same(rows.map((r) => r.domain).sort(), wanted, `${n} domains: each rated one found once, nothing else`);
    const i = Number(/rated(\d+)/.exec(wanted[0])![1]);
    t.same(
      rows.find((r) => r.domain === wanted[0]),
      {
        domain: wanted[0],
        rating: 'ABCDF'[i % 5],
        info: i % 2 ? `info ${i}` : null,
        ratedAt: `2026-01-${String((i % 28) + 1).padStart(2, '0')} 12:34:56`,
        expiresAt: i % 4 ? `2027-02-03 04:05:0${i % 10}` : null,
      },
      `${n} domains: a row as stored`,
    );
  }
}

async function check(t: Test, scratch: ScratchStore, options: OpenOptions) {
  await rate(scratch);
  const store = await openStore(scratch.url, options);
  t.teardown(() => store.close());
  await askEverySize(t, (domains) => store.lookup(domains));
}

t.test('every shape of look-up finds the same rows', (t) => eachStoreShape(t, check));

/**
 * `conn` as a pool's look-up uses it, each statement it prepares or executes noted in `sent`
 * ("prepare …", "execute …") and changed on its way by `change` (a server that refuses).
 */
function watched(conn: mysql.Connection, sent: string[], change = (sql: string) => sql): mysql.Connection {
  return new Proxy(conn, {
    get(target, name) {
      if (name === 'prepare') return (sql: string) => (sent.push(`prepare ${sql}`), target.prepare(change(sql)));
      if (name === 'execute') return (sql: string, values: Parameters<typeof target.execute>[1]) => (sent.push(`execute ${sql}`), target.execute(change(sql), values));
      const value = Reflect.get(target, name);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

// Servers that refuse the JSON_TABLE look-up, played by the real one with the statement
// changed on its way: one from before JSON_TABLE (a syntax error), one that takes JSON_TABLE
// but not this form of it (here a collation it refuses for the column).
const refusals = [
  ['a syntax error', (sql: string) => sql.replace('JSON_TABLE(', 'JSON_TABLES(')],
  ['another refusal', (sql: string) => sql.replace('COLLATE ascii_bin', 'COLLATE utf8mb4_bin')],
] as const;

for (const [refusal, change] of refusals) {
  t.test(`a server that refuses JSON_TABLE (${refusal}): a pool sends IN lists from then on, and finds the same rows`, async (t) => {
    const scratch = await mysqlStore(t);
    if (!scratch) return;
    t.teardown(() => scratch.close());
    await rate(scratch);
    const conn = await mysql.createConnection({ uri: scratch.url });
    t.teardown(() => conn.end());
    const sent: string[] = [];
    const refusing = watched(conn, sent, change);
    const lookup = pooledLookup();
    await askEverySize(t, async (domains) => (await lookup(refusing, domains)).map(ratingRow));
    t.same(
      sent.filter((sql) => sql.includes('JSON_TABLE')).map((sql) => sql.split(' ')[0]),
      ['execute', 'prepare'],
      'JSON_TABLE was sent with the first look-up only, and prepared alone once more (refused again: a refusal)',
    );
    t.equal(sent.filter((sql) => / IN \(/.test(sql)).length, SIZES.length, 'every look-up was answered through an IN list');
  });
}

// A statement the server stops as it runs is not a refusal of JSON_TABLE: here MariaDB's
// statement time limit ends a look-up that waits on a table another session holds.
t.test('a look-up the server stops as it runs (its time limit) fails on its own: no IN list, the next look-ups go through JSON_TABLE', async (t) => {
  const scratch = await mysqlStore(t);
  if (!scratch) return;
  t.teardown(() => scratch.close());
  await rate(scratch);
  const conn = await mysql.createConnection({ uri: scratch.url });
  const holder = await mysql.createConnection({ uri: scratch.url });
  t.teardown(async () => {
    await holder.end();
    await conn.end();
  });
  const [[{ id }]] = await conn.query<mysql.RowDataPacket[]>('SELECT CONNECTION_ID() AS id');
  await conn.query('SET SESSION max_statement_time = 0.3');
  const sent: string[] = [];
  const recording = watched(conn, sent);
  const lookup = pooledLookup();
  const inLists = () => sent.filter((sql) => / IN \(/.test(sql)).length;
  t.equal((await lookup(recording, asked(5))).length, 3, 'a look-up before the table is held');

  await holder.query('LOCK TABLES site_ratings WRITE');
  let settled = false;
  const stopped = lookup(recording, asked(9)).then(
    () => null,
    (err: unknown) => err as { errno?: number },
  );
  void stopped.then(() => (settled = true));
  // An IN list sent after the stopped statement would wait on the table too: the table is
  // freed once one waits, so that it would find the rows and the store would keep to IN lists.
  const inListWaits = async () =>
    (await holder.query<mysql.RowDataPacket[]>("SELECT 1 FROM information_schema.PROCESSLIST WHERE id = ? AND info LIKE '% IN (%'", [id]))[0].length > 0;
  await until('the held look-up to end, or an IN list to wait on the table', async () => settled || (await inListWaits()));
  await holder.query('UNLOCK TABLES');
  const err = await stopped;
  t.equal(err?.errno, 1969, 'the look-up failed: the server stopped it at its time limit');
  t.type(classify(err), UnavailableError, 'as the server not there for us (a 503 with Retry-After)');
  t.equal(inLists(), 0, 'no IN list was sent');

  await askEverySize(t, async (domains) => (await lookup(recording, domains)).map(ratingRow));
  t.equal(inLists(), 0, 'every later look-up went through JSON_TABLE');
});
