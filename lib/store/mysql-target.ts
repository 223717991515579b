// Where a mysql2 store's statements go (CONTRACT §8). A command (or a CGI run handed to
// mysql2): one connection, to the first listed server that accepts it. A persistent process:
// a pool on one server at a time; when that server is lost (a connection refused or cut, a
// Galera node not ready), the next request goes to the next listed server, and a statement
// that failed is tried again there only when a second try cannot count anything twice.
//
// (mysql2's PoolCluster was not used: it fails over only while getting a connection, never
// for a statement, and by default drops a node for good after five errors.)
import mysql from 'mysql2/promise';
import type { Connection, Pool, PoolConnection } from 'mysql2/promise';
import { log } from '../core/log.js';
import type { MysqlServer } from './mysql-servers.js';
import { code, serverLost, singleConnection, tries } from './mysql-retry.js';
import type { Target } from './mysql-retry.js';

/** One mysql2 connection for a command's run: each server in order until one accepts. */
export const mysql2Connection = (servers: MysqlServer[]): Promise<Target<Connection>> =>
  singleConnection(
    servers,
    async (server) => {
      // One process, a few statements: mysql2's static row parser, not one compiled with `new Function` per result shape.
      const conn = await mysql.createConnection({ ...server.options, disableEval: true });
      // A connection lost between queries must not become an uncaught 'error' event.
      conn.on('error', () => {});
      return conn;
    },
    (conn) => conn.end().catch(() => {}),
  );

/** Pools for a persistent process, one server at a time, moving on when it is lost. */
export function failoverPools(servers: MysqlServer[], poolSize: number): Target<Connection> {
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
