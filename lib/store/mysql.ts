// MySQL / MariaDB back end (mysql2). A CGI run holds one connection for its one request;
// a persistent process holds a small pool whose dead connections are dropped and replaced,
// so a server restart costs the requests made while it is down and nothing after.
import mysql from 'mysql2/promise';
import type { Pool, PoolConnection, Connection, ConnectionOptions, RowDataPacket } from 'mysql2/promise';
import { UnavailableError, throwIfAborted } from '../core/errors.js';
import { runMigrations } from './schema.js';
import { selectWrites } from './store.js';
import { retry } from './retry.js';
import type { Store, OpenOptions, QueueItem, QueueRow, QueueQuery, RatingRow, WriteSummary } from './store.js';

type Queryable = Pool | Connection;

// Errors that mean "the server is not there for us" rather than "this query is wrong".
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  'ENOENT', 'EPIPE', 'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_CON_COUNT_ERROR',
  'ER_TOO_MANY_USER_CONNECTIONS', 'ER_ACCESS_DENIED_ERROR', 'ER_DBACCESS_DENIED_ERROR', 'ER_BAD_DB_ERROR',
  'ER_SERVER_SHUTDOWN', 'ER_CONNECTION_KILLED', 'ER_QUERY_INTERRUPTED', 'ER_LOCK_WAIT_TIMEOUT',
]);
const DEADLOCK_ATTEMPTS = 5;
const isDeadlock = (err: unknown) => (err as { code?: string }).code === 'ER_LOCK_DEADLOCK';

/** A driver error as it enters: the server not there for us becomes UnavailableError. */
function classify(err: unknown): unknown {
  const e = err as { code?: string; fatal?: boolean; message?: string };
  if (e && (UNAVAILABLE_CODES.has(e.code ?? '') || e.fatal === true)) {
    return new UnavailableError(`MySQL unavailable: ${e.code ?? 'error'}: ${e.message ?? ''}`, { cause: err });
  }
  return err;
}

function mysqlOptions(url: string): ConnectionOptions {
  const parsed = new URL(url);
  const options: ConnectionOptions = {
    host: parsed.hostname.replace(/^\[|\]$/g, '') || 'localhost',
    port: parsed.port ? Number(parsed.port) : 3306,
    user: decodeURIComponent(parsed.username) || 'root',
    password: decodeURIComponent(parsed.password),
    database: decodeURIComponent(parsed.pathname.replace(/^\//, '')) || undefined,
    charset: 'utf8mb4',
    dateStrings: true,
    supportBigNumbers: true,
    trace: false, // no stack captured for every query (a responder makes thousands a second)
    connectTimeout: Number(parsed.searchParams.get('connectTimeout') ?? 3000),
  };
  const socket = parsed.searchParams.get('socket');
  if (socket) options.socketPath = socket;
  return options;
}

export async function openMysql(url: string, open: OpenOptions): Promise<Store> {
  const options = mysqlOptions(url);
  if (open.persistent) {
    const pool = mysql.createPool({
      ...options,
      connectionLimit: open.poolSize ?? 4,
      maxIdle: open.poolSize ?? 4,
      enableKeepAlive: true,
      waitForConnections: true,
      queueLimit: 0,
    });
    // An idle pooled connection that loses its server reports it here; the pool drops it.
    pool.on('connection', (conn) => conn.on('error', () => {}));
    return mysqlStore(pool, preparedLookup(pool));
  }
  let conn: Connection;
  try {
    // One process, one look-up: mysql2's static row parser, not one compiled with `new Function` per result shape.
    conn = await mysql.createConnection({ ...options, disableEval: true });
  } catch (err) {
    throw classify(err);
  }
  // A connection lost between queries must not become an uncaught 'error' event.
  conn.on('error', () => {});
  return mysqlStore(conn, (domains) => conn.query<RowDataPacket[]>(LOOKUP, [domains]).then(([rows]) => rows));
}

type Lookup = (domains: string[]) => Promise<RowDataPacket[]>;

/**
 * Look-ups as prepared statements, for a pool that runs thousands: the IN list is padded
 * (with its last domain again) to a power of two, so that each connection prepares a dozen
 * statements once and the server never parses a look-up again.
 */
function preparedLookup(pool: Pool): Lookup {
  return (domains) => {
    let size = 1;
    while (size < domains.length) size *= 2;
    const padded = domains.concat(new Array<string>(size - domains.length).fill(domains[domains.length - 1]));
    return pool.execute<RowDataPacket[]>(`${LOOKUP_PREFIX}${new Array(size).fill('?').join(',')})`, padded).then(([rows]) => rows);
  };
}

function mysqlStore(db: Queryable, lookupRows: Lookup): Store {
  async function query<T>(sql: string, params: unknown[] = []): Promise<T> {
    try {
      const [rows] = await db.query(sql, params);
      return rows as T;
    } catch (err) {
      throw classify(err);
    }
  }

  /** Runs work in one transaction on one connection, again if it was a deadlock's victim. */
  const transaction = <T>(work: (conn: Connection) => Promise<T>): Promise<T> =>
    retry(DEADLOCK_ATTEMPTS, isDeadlock, async () => {
      let pooled: PoolConnection | null = null;
      try {
        if ('getConnection' in db) pooled = await db.getConnection();
      } catch (err) {
        throw classify(err);
      }
      const conn: Connection = pooled ?? (db as Connection);
      try {
        await conn.query('START TRANSACTION');
        const result = await work(conn);
        await conn.query('COMMIT');
        return result;
      } catch (err) {
        await conn.query('ROLLBACK').catch(() => {});
        throw isDeadlock(err) ? err : classify(err);
      } finally {
        pooled?.release();
      }
    });

  return {
    kind: 'mysql',
    async lookup(domains, signal) {
      throwIfAborted(signal);
      if (domains.length === 0) return [];
      try {
        return (await lookupRows(domains)).map(ratingRow);
      } catch (err) {
        throw classify(err);
      }
    },
    async enqueue(items, signal) {
      throwIfAborted(signal);
      if (items.length > 0) await enqueue(db, items);
    },
    migrate: () =>
      runMigrations({
        kind: 'mysql',
        exec: (statement, params) => query(statement, params).catch((err) => {
          if ((err as { code?: string }).code !== 'ER_DUP_KEYNAME') throw err; // the index is already there
        }),
        scalar: async (sql) => Object.values((await query<RowDataPacket[]>(sql))[0] ?? {})[0] ?? null,
      }),
    writeRatings: (rows, force) => (rows.length === 0 ? Promise.resolve({ taken: 0, older: 0 }) : transaction((conn) => writeRatings(conn, rows, force))),
    listQueue: async (q) => (await query<RowDataPacket[]>(`SELECT * ${QUEUE_ORDER}`, [q.minPriority, q.limit])).map(queueRow),
    claimQueue: (q) => transaction((conn) => claimQueue(conn, q)),
    close: () => db.end().catch(() => {}),
  };
}

const LOOKUP_PREFIX = 'SELECT domain, rating, info, rated_at, expires_at FROM site_ratings WHERE domain IN (';
const LOOKUP = `${LOOKUP_PREFIX}?)`;
const ENQUEUE =
  'INSERT INTO rating_queue (domain, priority, first_requested, last_requested, requests, source_ip) VALUES ? ' +
  'ON DUPLICATE KEY UPDATE priority = GREATEST(priority, VALUES(priority)), requests = requests + 1, ' +
  'last_requested = VALUES(last_requested), source_ip = VALUES(source_ip)';
const QUEUE_ORDER = 'FROM rating_queue WHERE priority >= ? ORDER BY priority DESC, first_requested, domain LIMIT ?';

/** One autocommitted statement for all the items, again if it was a deadlock's victim. */
function enqueue(db: Queryable, items: QueueItem[]): Promise<void> {
  // Sorted keys (a stable sort: one domain's rows keep their order): concurrent statements
  // lock rows in the same order and rarely deadlock.
  const values = [...items]
    .sort((a, b) => (a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : 0))
    .map((i) => [i.domain, i.priority, i.now, i.now, 1, i.sourceIp]);
  return retry(DEADLOCK_ATTEMPTS, isDeadlock, () => db.query(ENQUEUE, [values])).then(
    () => undefined,
    (err) => Promise.reject(classify(err)),
  );
}

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

function ratingRow(r: RowDataPacket): RatingRow {
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
