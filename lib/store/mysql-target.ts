// Where a mysql2 store's statements go (CONTRACT §8). A command (or a CGI run handed to
// mysql2): one connection, to the first listed server that accepts it. A persistent process:
// a pool on one server at a time; when that server is lost (a connection refused or cut, a
// Galera node not ready or cut off, a server that no longer answers while a statement waits
// there: STALL_MS), the next request goes to the next listed server, and a statement that
// failed is tried again there only when a second try cannot count anything twice.
// Away from the first listed server, it asks the earlier ones every `failback` interval
// whether they are back, and returns to the first that is (as MySQL Connector/J returns to
// its source after secondsBeforeRetrySource): the list's order is the operator's preference,
// a web host's own Galera node first, and without this every host would stay on whichever
// node took over until that one failed in turn. In the same interval it asks the server in
// use whether it is still one to use: a server that still answers but has turned read-only
// (a primary demoted) or is a Galera node no longer Synced (a donor, a backup's desync) is
// never "lost", yet its writes fail or wait; the next listed server that is ready takes
// over, and failback returns once the first is ready again. A read side (--db-read) also
// asks a replica whether it replicates, and within ?maxLag=; with no read server fit (or
// none answering), its look-ups are refused so that --db answers them.
//
// (mysql2's PoolCluster was not used: it fails over only while getting a connection, never
// for a statement, and by default drops a node for good after five errors.)
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import mysql from 'mysql2/promise';
import type { Connection, Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import { log } from '../core/log.js';
import type { MysqlServer } from './mysql-servers.js';
import { code, reasonOf, serverLost, singleConnection, tries } from './mysql-retry.js';
import { ed25519AuthPlugin } from './mysql-ed25519.js';
import { loginEnds, noGreeting, noLogin, NOT_MYSQL, notAGreeting } from './mysql-greeting.js';
import type { Target } from './mysql-retry.js';

// What each connection sets for its own session, whatever the server's defaults (or its
// init_connect) say; one statement at connect:
// - mysql2 writes the values given to query() into the statement's text, with backslash
//   escapes; a server whose sql_mode has NO_BACKSLASH_ESCAPES reads those otherwise, so that
//   a quote in a rating's info ended its string and the import or `adrater rating` failed
//   with a syntax error. (execute()'s values travel apart from the statement.)
// - A queue write is one autocommitted statement, and a look-up must see what was committed
//   since the last one: with autocommit off (a server started with --autocommit=0), writes
//   answered 200 were never committed, and a pooled connection's snapshot would age.
// - The text is UTF-8 both ways, as the handshake asked: an init_connect of `SET NAMES
//   latin1` (or the once common `utf8`, three bytes at most) turned a rating's ☕ into ? on
//   the way out and stored `adrater rating`'s bytes as other characters.
// - Every row a look-up finds comes back: a global sql_select_limit (a guard a DBA may set,
//   SET GLOBAL or init_connect) cut a batched look-up's rows short, and the sites past it
//   were answered `queued`.
// (The CGI run's own client writes hex literals, reads its text as bytes, limits its look-up
// itself, and commits by hand when it must.)
const SESSION =
  "SET NAMES utf8mb4, sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', ''), autocommit = 1, sql_select_limit = 18446744073709551615";

// The authentication methods mysql2 lacks: MariaDB's ed25519 accounts.
const AUTH_PLUGINS = { client_ed25519: ed25519AuthPlugin };

/** A TCP connection's two ends, the same for a socket and the TLS socket mysql2 makes over it. */
interface Ends {
  localAddress?: string;
  localPort?: number;
  remoteAddress?: string;
  remotePort?: number;
}
const endsOf = (s: Ends) => `${s.localAddress}:${s.localPort} ${s.remoteAddress}:${s.remotePort}`;

// TLS logins under way, by their connections' two ends (checkedSocket, loginDone).
const tlsLogins = new Map<string, () => void>();

/** Called with each connection mysql2 has logged in: its TLS login no longer times out. */
function loginDone(stream: unknown): void {
  const key = endsOf(stream as Ends);
  tlsLogins.get(key)?.();
}

/**
 * mysql2's socket to `server`, made as mysql2 makes its own (from its config: TCP_NODELAY, and
 * keep-alive once connected where asked), but failed at once when the server's first bytes
 * are no MySQL greeting, and, when the server took the connection and did not greet, or did
 * not end the login, within connectTimeout, failed saying which: mysql2's own timer, started
 * just after this one with the same delay (so always after it), says `connect ETIMEDOUT`
 * either way (mysql-greeting.ts). (Over TLS on a Unix socket, whose connections have no ends
 * to tell apart, the timer stops at the greeting and a stalled login is mysql2's line.)
 */
function checkedSocket(server: MysqlServer) {
  return ({ config }: { config: { socketPath?: string; port: number; host: string; enableKeepAlive?: boolean; keepAliveInitialDelay?: number; connectTimeout: number; ssl?: unknown } }): Socket => {
    const socket = config.socketPath ? connect(config.socketPath) : connect(config.port, config.host);
    if (!config.socketPath) socket.setNoDelay(true);
    const fail = (message: string, code: string) => socket.destroy(Object.assign(new Error(message), { code }));
    let connected = false;
    let greeted = false;
    socket.once('connect', () => {
      connected = true;
      if (config.enableKeepAlive && !config.socketPath) socket.setKeepAlive(true, config.keepAliveInitialDelay);
    });
    const stalled = () => connected && fail((greeted ? noLogin : noGreeting)(server.label, config.connectTimeout), 'ETIMEDOUT');
    const timer = setTimeout(stalled, config.connectTimeout);
    socket.once('close', () => clearTimeout(timer));
    // Over TLS mysql2 reads the socket's handle itself once the greeting is in: the login's end
    // is seen where mysql2 hands the connection over (loginDone).
    const awaitTlsLogin = () => {
      socket.off('data', read);
      if (config.socketPath) return clearTimeout(timer);
      const key = endsOf(socket);
      const done = () => {
        clearTimeout(timer);
        tlsLogins.delete(key);
      };
      tlsLogins.set(key, done);
      socket.once('close', () => tlsLogins.get(key) === done && tlsLogins.delete(key));
    };
    // The server's packets, read up to the login's answer and no more: the first must begin a
    // greeting; then, without TLS, the login ends with an OK or an ERR packet.
    let pending: Buffer = Buffer.alloc(0);
    const read = (chunk: Buffer) => {
      if (!greeted) {
        greeted = true;
        const message = notAGreeting(server.label, chunk);
        if (message) return fail(message, NOT_MYSQL);
        if (config.ssl) return awaitTlsLogin();
      }
      const left = loginEnds(pending, chunk);
      if (left !== true) return void (pending = left);
      clearTimeout(timer);
      socket.off('data', read);
    };
    socket.on('data', read);
    return socket;
  };
}

interface CoreConnection {
  query(sql: string, done: (err: Error | null) => void): void;
}

/** One mysql2 connection to `server`, for a few statements (a command's run, a failback check). */
async function connectOnce(server: MysqlServer): Promise<Connection> {
  // A few statements: mysql2's static row parser, not one compiled with `new Function` per result shape.
  const conn = await mysql.createConnection({ ...server.options, authPlugins: AUTH_PLUGINS, disableEval: true, stream: checkedSocket(server) });
  loginDone((conn as unknown as { connection: { stream: unknown } }).connection.stream);
  // A connection lost between queries must not become an uncaught 'error' event.
  conn.on('error', () => {});
  return conn;
}

/** connectOnce for a command's statements: the session as they need it (SESSION). */
async function commandConnection(server: MysqlServer): Promise<Connection> {
  const conn = await connectOnce(server);
  try {
    await conn.query(SESSION);
  } catch (err) {
    conn.destroy();
    throw err;
  }
  return conn;
}

const endConnection = (conn: Connection) => conn.end().catch(() => {});

/** One mysql2 connection for a command's run: each server in order until one accepts. */
export const mysql2Connection = (servers: MysqlServer[]): Promise<Target<Connection>> => singleConnection(servers, commandConnection, endConnection);

export interface FailoverOptions {
  poolSize: number;
  /** How often to ask earlier servers whether they are back, and the one in use whether it still is ready, in ms; 0: never. */
  failbackMs: number;
  /** The pool only reads (--db-read): a read-only server is one to return to. */
  reads?: boolean;
  /** Reads only: a replica further behind than this many seconds is not read (?maxLag=); null: no bound. */
  maxLagSeconds?: number | null;
}

/** A pool on one listed server, how many statements it has in hand, and since when each connection's has been in flight. */
interface ServerPool {
  index: number;
  pool: Pool;
  busy: number;
  retired: boolean;
  inFlight: Map<PoolConnection, number>;
}

// A server that stops answering without closing its connections (its host crashed or lost
// its network, its process was stopped) fails none of the statements in flight there: they
// wait for TCP to give up, ~15 minutes, and every request with them. A statement in flight
// for STALL_MS has the target ask that server for a new connection; when it gets no answer
// at all within connectTimeout, the statements in flight there fail as on a cut connection
// (a look-up is tried again on the next listed server, a write is answered 503: it may have
// committed) and the next ones go to the next listed server, or, when only one is listed,
// to new connections to it. A statement that is only slow (a lock wait) on a server that
// answers is left to finish.
export const STALL_MS = 2000;

/** Whether `server` says anything to a new connection within its connectTimeout: a greeting, or an error of its own. */
async function answers(server: MysqlServer): Promise<boolean> {
  try {
    await endConnection(await connectOnce(server));
    return true;
  } catch (err) {
    // The server's own refusals (too many connections, access denied) carry an SQL state;
    // a connection refused, unreachable or timed out has none.
    return (err as { sqlState?: string }).sqlState !== undefined;
  }
}

/** Fails the statement in flight on `conn` as a connection cut under it (mysql2 has no way to abort one). */
function cut(conn: PoolConnection, why: string): void {
  const socket = (conn.connection as unknown as { stream: { destroy(err: Error): void } }).stream;
  socket.destroy(Object.assign(new Error(why), { code: 'ETIMEDOUT' }));
}

/** Pools for a persistent process, one server at a time, moving on when it is lost and back when an earlier one returns. */
export function failoverPools(servers: MysqlServer[], options: FailoverOptions): Target<Connection> {
  let current: ServerPool | null = null;
  let index = 0;
  let moves = 0;
  let ended = false;
  /** Reads only: why the server in use is not read from, when no other listed one is ready either. */
  let refused: string | null = null;
  const poolFor = (i: number): ServerPool => {
    if (current && current.index === i) return current;
    const pool = mysql.createPool({ ...servers[i].options, authPlugins: AUTH_PLUGINS, stream: checkedSocket(servers[i]), connectionLimit: options.poolSize, maxIdle: options.poolSize, enableKeepAlive: true, waitForConnections: true, queueLimit: 0 });
    pool.on('connection', (conn) => {
      loginDone((conn as unknown as { stream: unknown }).stream); // the core connection, as below
      // An idle pooled connection that loses its server reports it here; the pool drops it.
      conn.on('error', () => {});
      // Sent before the statement the connection was made for (mysql2 runs a connection's
      // commands in order): a lost connection fails that statement too. What the server
      // itself says to it is logged: a refusal of the settings, or the server's init_connect
      // failing (it runs before an ordinary account's first statement, and the server then
      // closes the connection: the statement after this one only sees it lost). (This event
      // gets mysql2's core connection, whose query() takes a callback, whatever its promise
      // API's types say.)
      (conn as unknown as CoreConnection).query(SESSION, (err) => {
        if (err && (err as { sqlState?: string }).sqlState) log(`database ${servers[i].label}: the connection's first statement failed: ${code(err)}: ${err.message}`);
      });
    });
    return (current = { index: i, pool, busy: 0, retired: false, inFlight: new Map() });
  };
  const close = (sp: ServerPool) => void sp.pool.end().catch(() => {});
  /** No more statements go to `sp`; it closes once those in hand are done (a lost server's at once: they are dead). */
  const retire = (sp: ServerPool | null, now: boolean) => {
    if (!sp || sp.retired) return;
    sp.retired = true;
    if (now || sp.busy === 0) close(sp);
  };
  const switchTo = (i: number, now: boolean) => {
    const old = current;
    index = i;
    moves++;
    refused = null; // a server not yet found unfit
    current = null;
    retire(old, now);
  };
  /** Server `i` was lost: later requests go to the next one (unless another failure moved on already). */
  const moveOn = (i: number, err: unknown) => {
    if (i !== index || servers.length === 1) return;
    const next = (i + 1) % servers.length;
    log(`database ${servers[i].label} lost (${reasonOf(err, 'unreachable')}); using ${servers[next].label}`);
    switchTo(next, true);
  };
  const reads = options.reads ?? false;
  const ask = (server: MysqlServer) => check(server, reads, options.maxLagSeconds ?? null);
  /** The first earlier server that is ready becomes the one in use; whether one did. */
  async function returnToEarlier(): Promise<boolean> {
    for (let i = 0; i < index && !ended; i++) {
      if ((await ask(servers[i])) !== 'ready' || ended) continue;
      const from = index;
      if (from <= i) return true; // moved meanwhile, to here or earlier
      log(`database ${servers[i].label} is back; using it instead of ${servers[from].label}`);
      switchTo(i, false);
      return true;
    }
    return false;
  }
  /**
   * The server in use, when it answers but is not ready, gives way to the next listed one
   * that is (statements in hand finish where they are). One that does not answer is left to
   * the statements' own failures: they move on at once. With no other ready, writes stay (a
   * donor's slow writes are better than none) and look-ups are refused (`refused`), for
   * --db to answer them (lib/store/read-split.ts) until a read server is ready again.
   */
  async function leaveUnready(): Promise<void> {
    const from = index;
    const found = await ask(servers[from]);
    if (ended || index !== from) return;
    // Writes on a server that does not answer are left to fail (and move on) by themselves;
    // look-ups have --db, and should not each wait for the read server's connect time-out.
    if (found === 'ready' || (found === 'unreachable' && !reads)) {
      refused = null;
      return;
    }
    for (let step = 1; step < servers.length && !ended; step++) {
      const i = (from + step) % servers.length;
      if ((await ask(servers[i])) !== 'ready' || ended) continue;
      if (index !== from) return; // moved meanwhile
      log(`database ${servers[from].label} is ${found}; using ${servers[i].label}`);
      switchTo(i, false);
      return;
    }
    if (reads) refused = found;
  }
  /** Every STALL_MS while statements are in flight: is one stalled on a server that no longer answers? */
  let stallTimer: NodeJS.Timeout | null = null;
  const watchForSilence = () => {
    if (stallTimer || ended) return;
    stallTimer = setTimeout(() => void checkSilence(), STALL_MS);
    stallTimer.unref();
  };
  async function checkSilence(): Promise<void> {
    const sp = current;
    const now = performance.now();
    if (sp && [...sp.inFlight.values()].some((since) => now - since >= STALL_MS) && !(await answers(servers[sp.index])) && !sp.retired) {
      const label = servers[sp.index].label;
      log(`database ${label}: no answer to a new connection while a statement waited ${STALL_MS / 1000} s; failing the ${sp.inFlight.size} in flight there`);
      // With several servers, the failures move the statements on (moveOn). With one, they go
      // to new connections from now on, and a read side's look-ups to --db, until a check
      // finds it ready again (leaveUnready; with checks off, each look-up tries it first).
      if (servers.length === 1) {
        retire(sp, true);
        current = null;
        if (reads && checks) refused = 'unreachable';
      }
      for (const conn of sp.inFlight.keys()) cut(conn, `database ${label} stopped answering`);
    }
    stallTimer = null;
    if (current?.inFlight.size) watchForSilence();
  }
  let asking = false;
  const checkServers = async () => {
    if (asking || ended) return;
    asking = true;
    try {
      if (!(await returnToEarlier())) await leaveUnready();
    } finally {
      asking = false;
    }
  };
  // A list of servers has somewhere to move, and a read side has --db to fall back on; the
  // timer never holds the process open.
  const checks = (servers.length > 1 || reads) && options.failbackMs > 0 ? setInterval(() => void checkServers(), options.failbackMs) : null;
  checks?.unref();
  return {
    async use(work, again) {
      if (refused) throw Object.assign(new Error(`database ${servers[index].label} is ${refused}`), { code: 'ADRATER_NOT_READY' });
      const retry = tries(servers.length);
      for (;;) {
        const i = index;
        const sp = poolFor(i);
        sp.busy++;
        try {
          let conn: PoolConnection;
          try {
            conn = await sp.pool.getConnection();
          } catch (err) {
            // Nothing was sent: always safe to try again, on the next server when this one was
            // lost, and on the current one when another request moved on meanwhile and closed
            // this pool under the waiting requests ("Pool is closed.", no code).
            const retired = i !== index;
            if (serverLost(err)) moveOn(i, err);
            if (!(await retry(err, (e) => retired || serverLost(e)))) throw err;
            continue;
          }
          sp.inFlight.set(conn, performance.now());
          watchForSilence();
          try {
            const result = await work(conn);
            sp.inFlight.delete(conn);
            conn.release();
            return result;
          } catch (err) {
            sp.inFlight.delete(conn);
            if (serverLost(err)) {
              conn.destroy(); // never back into the pool
              moveOn(i, err);
            } else {
              conn.release();
            }
            if (!(await retry(err, again))) throw err;
          }
        } finally {
          if (--sp.busy === 0 && sp.retired) close(sp);
        }
      }
    },
    inUse: () => ({ server: servers[index].label, moves }),
    end: async () => {
      ended = true;
      if (checks) clearInterval(checks);
      if (stallTimer) clearTimeout(stallTimer);
      const last = current;
      current = null;
      await last?.pool.end().catch(() => {});
    },
  };
}

/** What a check of a server found: ready to use, not answering, or answering but not to be used, and why. */
type Check =
  | 'ready'
  | 'unreachable'
  | 'read-only'
  | `not Synced (wsrep_local_state ${string})`
  | 'not replicating (Seconds_Behind_Master NULL)'
  | `lagging (Seconds_Behind_Master ${number} > maxLag ${number})`;

/**
 * A read server's own replication status (its SHOW REPLICA STATUS row; none on a primary or
 * a Galera node) as a check's finding: a replica whose replication is not running (the lag
 * NULL: a thread stopped or failing) serves ratings that stay old, and one behind by more
 * than `maxLagSeconds` serves them late. MySQL 8.0.22+ names the column Seconds_Behind_Source.
 */
export function replicationCheck(row: Record<string, unknown> | undefined, maxLagSeconds: number | null): Check {
  if (!row) return 'ready';
  const column = 'Seconds_Behind_Source' in row ? 'Seconds_Behind_Source' : 'Seconds_Behind_Master';
  if (!(column in row)) return 'ready';
  const behind = row[column];
  if (behind === null || behind === undefined || behind === '') return 'not replicating (Seconds_Behind_Master NULL)';
  if (maxLagSeconds !== null && Number(behind) > maxLagSeconds) return `lagging (Seconds_Behind_Master ${Number(behind)} > maxLag ${maxLagSeconds})`;
  return 'ready';
}

// Servers whose replication status could not be read, said once per process: a bound was
// asked for (?maxLag=) that cannot be checked there.
const unreadable = new Set<string>();

/**
 * Whether `server` takes a connection and a statement, writes unless only reads are wanted,
 * and, when it is a Galera node, is Synced. A node that is not ready refuses the statement
 * (1047); one that answers may still be a donor or desynced (an rsync or mariabackup SST, a
 * backup under wsrep_desync: its writes can block for minutes) or a joiner still catching up,
 * which is why clustercheck and load balancers send clients only to a Synced node (state 4).
 * A server without Galera has no wsrep_local_state and passes. For reads, a replica must be
 * replicating and, with `maxLagSeconds`, no further behind (replicationCheck). Reading that
 * needs REPLICA MONITOR (MariaDB) or REPLICATION CLIENT (MySQL); without it, or on a server
 * without SHOW REPLICA STATUS (MySQL before 8.0.22), the replica passes.
 */
async function check(server: MysqlServer, reads: boolean, maxLagSeconds: number | null): Promise<Check> {
  let conn: Connection | null = null;
  try {
    conn = await connectOnce(server);
    if (!reads) {
      // read_only, or every session's transactions read-only: tx_read_only (MariaDB before
      // 11.1), transaction_read_only (MySQL 8, MariaDB 11.1+); or InnoDB started read-only
      // (innodb_read_only); the server names those it has.
      const [rows] = await conn.query<RowDataPacket[]>(
        "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('read_only', 'tx_read_only', 'transaction_read_only', 'innodb_read_only')",
      );
      if (rows.some((row) => String(row.Value) !== 'OFF')) return 'read-only';
    }
    const [state] = await conn.query<RowDataPacket[]>("SHOW GLOBAL STATUS LIKE 'wsrep_local_state'");
    if (state.length > 0 && String(state[0].Value) !== '4') return `not Synced (wsrep_local_state ${String(state[0].Value)})`;
    if (!reads) return 'ready';
    const replica = await conn.query<RowDataPacket[]>('SHOW REPLICA STATUS').then(
      ([status]) => status,
      (err) => {
        if (maxLagSeconds !== null && !unreadable.has(server.label)) {
          unreadable.add(server.label);
          log(`database ${server.label}: its replication status cannot be read (${code(err) || 'error'}); maxLag is not checked there (grant REPLICA MONITOR, or REPLICATION CLIENT on MySQL)`);
        }
        return null;
      },
    );
    return replica ? replicationCheck(replica[0], maxLagSeconds) : 'ready';
  } catch {
    return 'unreachable';
  } finally {
    if (conn) await endConnection(conn);
  }
}
