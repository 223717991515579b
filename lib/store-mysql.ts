// MySQL / MariaDB back end (mysql2). A CGI run holds one connection for its one request;
// a persistent process holds a small pool whose dead connections are dropped and replaced,
// so a server restart costs the requests made while it is down and nothing after.
import mysql from 'mysql2/promise';
import type { Pool, PoolConnection, Connection, ConnectionOptions, RowDataPacket } from 'mysql2/promise';
import { MIGRATIONS, LATEST_VERSION, VERSION_TABLE } from './schema.js';
import { UnavailableError, selectWrites } from './store.js';
import type { Store, OpenOptions, RatingRow, QueueRow, QueueQuery, WriteSummary } from './store.js';

type Queryable = Pool | Connection;

// Errors that mean "the server is not there for us" rather than "this query is wrong".
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  'ENOENT', 'EPIPE', 'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_CON_COUNT_ERROR',
  'ER_TOO_MANY_USER_CONNECTIONS', 'ER_ACCESS_DENIED_ERROR', 'ER_DBACCESS_DENIED_ERROR', 'ER_BAD_DB_ERROR',
  'ER_SERVER_SHUTDOWN', 'ER_CONNECTION_KILLED', 'ER_QUERY_INTERRUPTED', 'ER_LOCK_WAIT_TIMEOUT',
]);
const DEADLOCK = 'ER_LOCK_DEADLOCK';
const DUPLICATE_INDEX = 'ER_DUP_KEYNAME';

function unavailable(err: unknown): unknown {
  const e = err as { code?: string; fatal?: boolean; message?: string };
  if (e && (UNAVAILABLE_CODES.has(e.code ?? '') || e.fatal === true)) {
    return new UnavailableError(`MySQL unavailable: ${e.code ?? 'error'}: ${e.message ?? ''}`, { cause: err });
  }
  return err;
}

export function mysqlOptions(url: string): ConnectionOptions {
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
    connectTimeout: Number(parsed.searchParams.get('connectTimeout') ?? 3000),
  };
  const socket = parsed.searchParams.get('socket');
  if (socket) options.socketPath = socket;
  return options;
}

export async function openMysql(url: string, open: OpenOptions): Promise<Store> {
  const options = mysqlOptions(url);
  let db: Queryable;
  if (open.persistent) {
    db = mysql.createPool({
      ...options,
      connectionLimit: open.poolSize ?? 4,
      maxIdle: open.poolSize ?? 4,
      enableKeepAlive: true,
      waitForConnections: true,
      queueLimit: 0,
    });
    // An idle pooled connection that loses its server reports it here; the pool drops it.
    (db as Pool).on('connection', (conn) => conn.on('error', () => {}));
  } else {
    try {
      db = await mysql.createConnection(options);
    } catch (err) {
      throw unavailable(err);
    }
    // A connection lost between queries must not become an uncaught 'error' event.
    db.on('error', () => {});
  }
  return mysqlStore(db);
}

function mysqlStore(db: Queryable): Store {
  async function query<T>(sql: string, params: unknown[] = []): Promise<T> {
    try {
      const [rows] = await db.query(sql, params);
      return rows as T;
    } catch (err) {
      throw unavailable(err);
    }
  }

  /** Runs work in one transaction on one connection, retried on deadlock. */
  async function transaction<T>(work: (conn: Connection) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let pooled: PoolConnection | null = null;
      try {
        if ('getConnection' in db) pooled = await (db as Pool).getConnection();
      } catch (err) {
        throw unavailable(err);
      }
      const conn: Connection = pooled ?? (db as Connection);
      try {
        await conn.query('START TRANSACTION');
        const result = await work(conn);
        await conn.query('COMMIT');
        return result;
      } catch (err) {
        await conn.query('ROLLBACK').catch(() => {});
        if ((err as { code?: string }).code === DEADLOCK && attempt < 5) continue;
        throw unavailable(err);
      } finally {
        pooled?.release();
      }
    }
  }

  async function schemaVersion(): Promise<number> {
    await query(VERSION_TABLE.mysql);
    const rows = await query<RowDataPacket[]>('SELECT MAX(version) AS version FROM schema_version');
    return Number(rows[0]?.version ?? 0);
  }

  return {
    kind: 'mysql',

    async lookup(domains) {
      if (domains.length === 0) return [];
      const rows = await query<RowDataPacket[]>(
        'SELECT domain, rating, info, rated_at, expires_at FROM site_ratings WHERE domain IN (?)',
        [domains],
      );
      return rows.map((r) => ({
        domain: r.domain,
        rating: r.rating,
        info: r.info,
        ratedAt: r.rated_at,
        expiresAt: r.expires_at,
      }));
    },

    async enqueue(items) {
      if (items.length === 0) return;
      // Sorted keys (a stable sort: one domain's rows keep their order): concurrent
      // statements lock rows in the same order and rarely deadlock.
      const values = [...items]
        .sort((a, b) => (a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : 0))
        .map((i) => [i.domain, i.priority, i.now, i.now, 1, i.sourceIp]);
      const sql =
        'INSERT INTO rating_queue (domain, priority, first_requested, last_requested, requests, source_ip) VALUES ? ' +
        'ON DUPLICATE KEY UPDATE priority = GREATEST(priority, VALUES(priority)), requests = requests + 1, ' +
        'last_requested = VALUES(last_requested), source_ip = VALUES(source_ip)';
      for (let attempt = 1; ; attempt++) {
        try {
          await db.query(sql, [values]);
          return;
        } catch (err) {
          if ((err as { code?: string }).code === DEADLOCK && attempt < 5) continue;
          throw unavailable(err);
        }
      }
    },

    async migrate() {
      const from = await schemaVersion();
      for (const migration of MIGRATIONS) {
        if (migration.version <= from) continue;
        for (const statement of migration.mysql) {
          try {
            await query(statement);
          } catch (err) {
            if ((err as { code?: string }).code !== DUPLICATE_INDEX) throw err;
          }
        }
        await query('DELETE FROM schema_version');
        await query('INSERT INTO schema_version (version) VALUES (?)', [migration.version]);
      }
      return { from, to: Math.max(from, LATEST_VERSION) };
    },

    async writeRatings(rows: RatingRow[], force: boolean): Promise<WriteSummary> {
      if (rows.length === 0) return { taken: 0, older: 0 };
      return transaction(async (conn) => {
        const [stored] = await conn.query<RowDataPacket[]>(
          'SELECT domain, rated_at FROM site_ratings WHERE domain IN (?) FOR UPDATE',
          [rows.map((r) => r.domain)],
        );
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
      });
    },

    async listQueue(q: QueueQuery) {
      const rows = await query<RowDataPacket[]>(
        'SELECT * FROM rating_queue WHERE priority >= ? ORDER BY priority DESC, first_requested, domain LIMIT ?',
        [q.minPriority, q.limit],
      );
      return rows.map(queueRow);
    },

    async claimQueue(q: QueueQuery) {
      return transaction(async (conn) => {
        const [rows] = await conn.query<RowDataPacket[]>(
          'SELECT * FROM rating_queue WHERE priority >= ? ORDER BY priority DESC, first_requested, domain LIMIT ? ' +
            'FOR UPDATE SKIP LOCKED',
          [q.minPriority, q.limit],
        );
        if (rows.length > 0) {
          await conn.query('DELETE FROM rating_queue WHERE domain IN (?)', [rows.map((r) => r.domain)]);
        }
        return rows.map(queueRow);
      });
    },

    async close() {
      await db.end().catch(() => {});
    },
  };
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
