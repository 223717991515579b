// Where a MySQL store's statements go (CONTRACT §8). A CGI run: one connection, to the first
// listed server that accepts it. A persistent process: a pool on one server at a time; when
// that server is lost (a connection refused or cut, a Galera node not ready), the next
// request goes to the next listed server, and a statement that failed is tried again there
// only when a second try cannot count anything twice.
//
// (mysql2's PoolCluster was not used: it fails over only while getting a connection, never
// for a statement, and by default drops a node for good after five errors.)
import mysql from 'mysql2/promise';
import type { Connection, Pool, PoolConnection } from 'mysql2/promise';
import { log } from '../core/log.js';
import type { MysqlServer } from './mysql-servers.js';

const code = (err: unknown) => (err as { code?: string })?.code ?? '';

// The server is not there for us: another listed server may be.
const LOST = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ENOENT', 'EPIPE',
  'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_SERVER_SHUTDOWN', 'ER_CONNECTION_KILLED', 'ER_CON_COUNT_ERROR',
  'ER_UNKNOWN_COM_ERROR', // 1047: a Galera node that is not ready ("WSREP has not yet prepared node for application use")
]);
export const serverLost = (err: unknown) => LOST.has(code(err)) || (err as { fatal?: boolean })?.fatal === true;

/**
 * The statement did not take effect, for sure: a deadlock's victim or a Galera certification
 * conflict (1213: rolled back), or a Galera node that refused it (1047). A retry cannot
 * count anything twice. (A connection cut while a write was on its way is not this: the
 * write may have committed.)
 */
export const notApplied = (err: unknown) => code(err) === 'ER_LOCK_DEADLOCK' || code(err) === 'ER_UNKNOWN_COM_ERROR';

export interface Target {
  /**
   * Runs `work` on a connection to the server in use. When it fails and `again(err)` says a
   * second try is safe, tries again (on the next server, if this one was lost), a bounded
   * number of times; a failure to get a connection is always safe to try again.
   */
  use<T>(work: (conn: Connection) => Promise<T>, again: (err: unknown) => boolean): Promise<T>;
  end(): Promise<void>;
}

// Conflicts (1213) are tried again up to this many times, each after a short random pause
// that grows: concurrent batches writing the same domains on different Galera nodes would
// otherwise collide again at once. A lost server moves to the next one, around the list twice.
const CONFLICT_RETRIES = 12;
const SERVER_ROUNDS = 2;
const pause = (retry: number) => new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * (retry + 1)));

/** Whether to try again after `err`, and after how long; counts the tries. */
function tries(servers: number) {
  let conflicts = 0;
  let moves = 0;
  return async (err: unknown, again: (err: unknown) => boolean): Promise<boolean> => {
    if (!again(err)) return false;
    if (serverLost(err)) return ++moves < servers * SERVER_ROUNDS;
    if (++conflicts > CONFLICT_RETRIES) return false;
    await pause(conflicts);
    return true;
  };
}

/** One connection for a CGI run: each server in order until one accepts (a refusal or a time-out moves on). */
export async function singleConnection(servers: MysqlServer[]): Promise<Target> {
  let conn: Connection | null = null;
  let failure: unknown;
  for (const [i, server] of servers.entries()) {
    try {
      // One process, one look-up: mysql2's static row parser, not one compiled with `new Function` per result shape.
      conn = await mysql.createConnection({ ...server.options, disableEval: true });
      break;
    } catch (err) {
      failure = err;
      if (!serverLost(err)) throw err;
      if (i + 1 < servers.length) log(`database ${server.label}: ${code(err) || 'unreachable'}; trying ${servers[i + 1].label}`);
    }
  }
  if (!conn) throw failure;
  const connection = conn;
  // A connection lost between queries must not become an uncaught 'error' event.
  connection.on('error', () => {});
  return {
    async use(work, again) {
      const retry = tries(1);
      for (;;) {
        try {
          return await work(connection);
        } catch (err) {
          if (serverLost(err) || !(await retry(err, again))) throw err;
        }
      }
    },
    end: () => connection.end().catch(() => {}),
  };
}

/** Pools for a persistent process, one server at a time, moving on when it is lost. */
export function failoverPools(servers: MysqlServer[], poolSize: number): Target {
  let current = 0;
  let pool: Pool | null = null;
  const poolFor = (i: number): Pool => {
    if (pool && i === current) return pool;
    const created = mysql.createPool({ ...servers[i].options, connectionLimit: poolSize, maxIdle: poolSize, enableKeepAlive: true, waitForConnections: true, queueLimit: 0 });
    // An idle pooled connection that loses its server reports it here; the pool drops it.
    created.on('connection', (conn) => conn.on('error', () => {}));
    return (pool = created);
  };
  /** Server `i` was lost: later requests go to the next one (unless another failure moved on already). */
  const moveOn = (i: number, err: unknown) => {
    if (i !== current || servers.length === 1) return;
    const lost = pool;
    current = (i + 1) % servers.length;
    pool = null;
    log(`database ${servers[i].label} lost (${code(err) || 'unreachable'}); using ${servers[current].label}`);
    void lost?.end().catch(() => {});
  };
  return {
    async use(work, again) {
      const retry = tries(servers.length);
      for (;;) {
        const i = current;
        let conn: PoolConnection;
        try {
          conn = await poolFor(i).getConnection();
        } catch (err) {
          // Nothing was sent: always safe to try again, on the next server when this one was
          // lost, and on the current one when another request moved on meanwhile and closed
          // this pool under the waiting requests ("Pool is closed.", no code).
          const retired = i !== current;
          if (serverLost(err)) moveOn(i, err);
          if (!(await retry(err, (e) => retired || serverLost(e)))) throw err;
          continue;
        }
        try {
          const result = await work(conn);
          conn.release();
          return result;
        } catch (err) {
          if (serverLost(err)) {
            conn.destroy(); // never back into the pool
            moveOn(i, err);
          } else {
            conn.release();
          }
          if (!(await retry(err, again))) throw err;
        }
      }
    },
    end: async () => {
      await pool?.end().catch(() => {});
    },
  };
}
