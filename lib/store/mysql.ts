// MySQL / MariaDB back end (mysql2), on one server or several of a cluster (CONTRACT §8): a
// command holds one connection (as does a CGI run that lib/store/mysql-cgi.ts hands to
// mysql2); a persistent process holds a pool whose dead connections are dropped and
// replaced, and moves to the next listed server when its server is lost
// (lib/store/mysql-target.ts).
import type { Connection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { throwIfAborted } from '../core/errors.js';
import { runMigrations } from './schema.js';
import { placeholders, QUEUE_WRITE_INSERT, queueWrites, selectWrites, textForCount } from './store.js';
import { mysqlUrl } from './mysql-servers.js';
import { mysql2Connection, failoverPools } from './mysql-target.js';
import { ENQUEUE_SUFFIX, LOOKUP_COLUMNS, LOOKUP_PREFIX } from './mysql-sql.js';
import { classifiedUse, classify, code, notApplied, readAgain } from './mysql-retry.js';
import { log } from '../core/log.js';
import type { Target } from './mysql-retry.js';
import type { Store, OpenOptions, QueueRow, QueueQuery, QueueWrite, RatingRow, WriteSummary } from './store.js';

export async function openMysql(url: string, open: OpenOptions): Promise<Store> {
  const { servers, failbackMs, maxLagSeconds } = mysqlUrl(url);
  if (open.persistent) return mysqlStore(failoverPools(servers, { poolSize: open.poolSize ?? 4, failbackMs, reads: open.reads, maxLagSeconds }), true);
  try {
    return mysqlStore(await mysql2Connection(servers), false);
  } catch (err) {
    throw classify(err);
  }
}

/** A command's look-up (a CGI run handed to mysql2, a tool): one plain query, with no round trip to prepare it. */
function plainLookup(conn: Connection, domains: string[]): Promise<RowDataPacket[]> {
  return conn.query<RowDataPacket[]>(LOOKUP, [domains]).then(([rows]) => rows);
}

/**
 * A pool's look-up, prepared once a connection and then run thousands of times: the domains
 * as one JSON array that JSON_TABLE (MySQL 8.0.4+, MariaDB 10.6+) turns into rows, each then
 * found by key. One statement whatever the count, and nothing for the server to sort and
 * turn into ranges first as it does an IN list: MariaDB's CPU for the look-up of 130 domains
 * (13 requests of 10 URLs) 358 -> 291 µs, of 39 domains 133 -> 117 µs (peers rig, 10 URLs:
 * 63.6 -> 59.9 µs a request over eight alternated pairs). A server without JSON_TABLE (or
 * that refuses this form of it) answers with an error; when an IN list then finds the rows,
 * this store sends IN lists from then on, padded with NULLs (which match nothing) to a power
 * of two, so that each connection prepares a dozen statements once. Only a refusal to prepare
 * it counts: a statement that fails as it runs (stopped at the server's time limit, say) is
 * that request's failure, and the next look-up goes through JSON_TABLE as before.
 * Exported for test/integration/lookup-sizes.ts, which makes a real server refuse it.
 */
export function pooledLookup(): (conn: Connection, domains: string[]) => Promise<RowDataPacket[]> {
  let jsonTable = true;
  return async (conn, domains) => {
    if (jsonTable) {
      try {
        // Each domain once (a batch's are already): the join gives a row per element.
        return await executeOrText<RowDataPacket[]>(conn, JSON_LOOKUP, [JSON.stringify(Array.from(new Set(domains)))]);
      } catch (err) {
        // The server not there for us, or no adrater tables, is the caller's to handle.
        if (classify(err) !== err) throw err;
        // Refused, or failed as it ran? mysql2 keeps a statement once the server has prepared
        // it, never one the server refused: prepared again, one that ran is found at once (no
        // round trip), and one refused goes to the server and is refused again.
        const refusal = await conn.prepare(JSON_LOOKUP).then(
          () => null,
          (again: unknown) => again,
        );
        if (refusal === null) throw err;
        if (classify(refusal) !== refusal) throw refusal;
        // A refusal may be this statement's alone (no JSON_TABLE, or not in this form): an IN
        // list that works settles it.
        const rows = await inList(conn, domains);
        jsonTable = false;
        log(`look-ups: the database refuses JSON_TABLE (${code(refusal) || 'error'}); sending IN lists instead`);
        return rows;
      }
    }
    return inList(conn, domains);
  };
}

/** The look-up as an IN list padded to a power of two, prepared once per size on a connection. */
function inList(conn: Connection, domains: string[]): Promise<RowDataPacket[]> {
  let size = 1;
  while (size < domains.length) size *= 2;
  // NULL, not the last domain again: a NULL parameter is one bit of the packet, and MariaDB
  // makes no range of it (an IN list of 33 domains padded to 64: ~15 us less server CPU).
  const padded = (domains as Array<string | null>).concat(new Array<null>(size - domains.length).fill(null));
  return executeOrText<RowDataPacket[]>(conn, PREPARED_LOOKUP(size), padded);
}

let noRoomSaid = false;

/**
 * The statement prepared (once per connection; mysql2 keeps it), or, when the server has no
 * room for another prepared statement (max_prepared_stmt_count: one budget for all of its
 * clients, which many responders and workers on one cluster can spend), the same statement
 * as text: refused before it ran, so sent again whatever it does. Said once.
 */
async function executeOrText<T extends RowDataPacket[] | ResultSetHeader>(conn: Connection, sql: string, params: Array<string | number | null>): Promise<T> {
  try {
    return (await conn.execute<T>(sql, params))[0];
  } catch (err) {
    if (code(err) !== 'ER_MAX_PREPARED_STMT_COUNT_REACHED') throw err;
    if (!noRoomSaid) {
      noRoomSaid = true;
      log('database: no room for more prepared statements (the server\'s max_prepared_stmt_count); statements not yet prepared on a connection go as text');
    }
    return (await conn.query<T>(sql, params))[0];
  }
}

function mysqlStore(target: Target<Connection>, prepared: boolean): Store {
  const run = classifiedUse(target);
  const lookupRows = prepared ? pooledLookup() : plainLookup;
  const query = <T>(sql: string, params: unknown[] = []) => run(async (conn) => (await conn.query(sql, params))[0] as T, readAgain);

  /** Work in one transaction on one connection, again (whole) if it did not take effect. */
  const transaction = <T>(work: (conn: Connection) => Promise<T>): Promise<T> =>
    run(async (conn) => {
      await conn.query('START TRANSACTION');
      try {
        const result = await work(conn);
        await conn.query('COMMIT');
        return result;
      } catch (err) {
        await conn.query('ROLLBACK').catch(() => {});
        throw err;
      }
    }, notApplied);

  return {
    kind: 'mysql',
    async lookup(domains, signal) {
      throwIfAborted(signal);
      if (domains.length === 0) return [];
      return (await run((conn) => lookupRows(conn, domains), readAgain)).map(ratingRow);
    },
    async enqueue(items, signal) {
      throwIfAborted(signal);
      // One autocommitted statement: tried again only when it surely did not count (a 200
      // then adds exactly 1 to `requests`, however many tries it took).
      if (items.length > 0) await run((conn) => enqueueRows(conn, queueWrites(items), prepared), notApplied);
    },
    migrate: () =>
      runMigrations({
        kind: 'mysql',
        exec: (statement, params) => query(statement, params).catch((err) => {
          // The index, or the primary key, is already there.
          if (!ALREADY_THERE.has(code(err))) throw err;
        }),
        scalar: async (sql) => Object.values((await query<RowDataPacket[]>(sql))[0] ?? {})[0] ?? null,
      }),
    writeRatings: (rows, force) => (rows.length === 0 ? Promise.resolve({ taken: 0, older: 0 }) : transaction((conn) => writeRatings(conn, rows, force))),
    listQueue: async (q) => (await query<RowDataPacket[]>(`SELECT * ${QUEUE_ORDER}`, [q.minPriority, q.limit])).map(queueRow),
    claimQueue: (q) => transaction((conn) => claimQueue(conn, q)),
    close: () => target.end(),
    ...(target.inUse ? { inUse: target.inUse } : {}),
  };
}

const ALREADY_THERE = new Set(['ER_DUP_KEYNAME', 'ER_MULTIPLE_PRI_KEY']);
const LOOKUP = `${LOOKUP_PREFIX}?)`;
const PREPARED_LOOKUP = textForCount((n) => `${LOOKUP_PREFIX}${placeholders(n, '?')})`);
// STRAIGHT_JOIN: the asked domains first, each found by key; on a small table the optimizer
// would rather scan site_ratings and search the array for each row.
const JSON_LOOKUP =
  `${LOOKUP_COLUMNS} FROM JSON_TABLE(?, '$[*]' COLUMNS (asked VARCHAR(253) CHARACTER SET ascii COLLATE ascii_bin PATH '$')) AS j ` +
  'STRAIGHT_JOIN site_ratings ON domain = j.asked';
// A pool's queue writes come in a few row counts (a batch's new sites): one statement each,
// prepared once per connection, so that the server parses none of them again.
const MAX_PREPARED_ENQUEUE_ROWS = 32;
const PREPARED_ENQUEUE = textForCount((n) => `${QUEUE_WRITE_INSERT}${placeholders(n, '(?, ?, ?, ?, ?, ?)')}${ENQUEUE_SUFFIX}`);

/** The queue write: prepared when `prepared` and the batch is at most MAX_PREPARED_ENQUEUE_ROWS rows, else one plain query. */
function enqueueRows(conn: Connection, rows: QueueWrite[], prepared: boolean): Promise<unknown> {
  if (!prepared || rows.length > MAX_PREPARED_ENQUEUE_ROWS) return conn.query(`${QUEUE_WRITE_INSERT}?${ENQUEUE_SUFFIX}`, [rows]);
  return executeOrText(conn, PREPARED_ENQUEUE(rows.length), rows.flat());
}
const QUEUE_ORDER = 'FROM rating_queue WHERE priority >= ? ORDER BY priority DESC, first_requested, domain LIMIT ?';

async function writeRatings(conn: Connection, rows: RatingRow[], force: boolean): Promise<WriteSummary> {
  const [stored] = await conn.query<RowDataPacket[]>('SELECT domain, rated_at FROM site_ratings WHERE domain IN (?) FOR UPDATE', [rows.map((r) => r.domain)]);
  const { writes, older } = selectWrites(rows, new Map(stored.map((r) => [r.domain, r.rated_at])), force);
  if (writes.length > 0) {
    await conn.query(
      'INSERT INTO site_ratings (domain, rating, info, rated_at, expires_at) VALUES ? ON DUPLICATE KEY UPDATE ' +
        'rating = VALUES(rating), info = VALUES(info), rated_at = VALUES(rated_at), expires_at = VALUES(expires_at)',
      [writes.map((r) => [r.domain, r.rating, r.info, r.ratedAt, r.expiresAt])],
    );
    await conn.query('DELETE FROM rating_queue WHERE domain IN (?)', [writes.map((r) => r.domain)]);
  }
  return { taken: rows.length - older, older };
}

async function claimQueue(conn: Connection, q: QueueQuery): Promise<QueueRow[]> {
  const [rows] = await conn.query<RowDataPacket[]>(`SELECT * ${QUEUE_ORDER} FOR UPDATE SKIP LOCKED`, [q.minPriority, q.limit]);
  if (rows.length > 0) await conn.query('DELETE FROM rating_queue WHERE domain IN (?)', [rows.map((r) => r.domain)]);
  return rows.map(queueRow);
}

/** A look-up's row as the store gives it (exported for test/integration/lookup-sizes.ts, which reads pooledLookup's). */
export function ratingRow(r: RowDataPacket): RatingRow {
  return { domain: r.domain, rating: r.rating, info: r.info, ratedAt: r.rated_at, expiresAt: r.expires_at };
}

function queueRow(r: RowDataPacket): QueueRow {
  return {
    domain: r.domain,
    priority: Number(r.priority),
    firstRequested: r.first_requested,
    lastRequested: r.last_requested,
    requests: Number(r.requests),
    sourceIp: r.source_ip,
  };
}
