// How a MySQL store reads a driver's errors, and when it tries a statement again (on the same
// connection, or on the next listed server): the same rules for mysql2 (lib/store/mysql.ts,
// lib/store/mysql-target.ts) and for a CGI run's own client (lib/store/mysql-cgi.ts), which
// sets the same codes on its errors. No driver is loaded here.
import { DatabaseError, UnavailableError } from '../core/errors.js';
import { log } from '../core/log.js';
import { SERVER_ERROR_NAMES } from './mysql-errors.js';
import type { MysqlServer } from './mysql-servers.js';
import type { ServerInUse } from './store.js';

/** A driver error's name: SERVER_ERROR_NAMES' for its number, else mysql2's or the system's. */
export const code = (err: unknown): string => {
  const e = err as { code?: string; errno?: number } | null | undefined;
  return SERVER_ERROR_NAMES.get(e?.errno ?? 0) ?? e?.code ?? '';
};

/**
 * A driver error as a failover line names it: its code (`fallback` when it has none), and its
 * message where that says more than the code does (a Galera node's "WSREP has not yet prepared
 * node for application use", a read-only server's, a stalled login's), as the 503 line does.
 */
export function reasonOf(err: unknown, fallback: string): string {
  const name = code(err) || fallback;
  const message = (err as { message?: string } | null | undefined)?.message;
  return message && !message.includes(name) ? `${name}: ${message}` : name;
}

// The server is not there for us: another listed server may be.
const LOST = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ENOENT', 'EPIPE',
  'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_SERVER_SHUTDOWN', 'ER_CONNECTION_KILLED', 'ER_CON_COUNT_ERROR',
  'ER_UNKNOWN_COM_ERROR', // 1047: a Galera node that is not ready ("WSREP has not yet prepared node for application use")
  // 1290 "running with the --read-only option": a primary demoted (or a replica listed by
  // mistake) refuses a queue write from a user without READ ONLY ADMIN; the next listed
  // server may take it. The refusal comes before the statement runs.
  'ER_OPTION_PREVENTS_STATEMENT',
  // 1792 "Cannot execute statement in a READ ONLY transaction": the server starts every
  // session's transactions read-only (tx_read_only, MySQL's and MariaDB 11's
  // transaction_read_only: a way to stop all writes, root's too); as 1290, before it runs.
  'ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION',
  // 1036 "Table 'rating_queue' is read only": a server started with --innodb-read-only (read-only
  // media, or a stand-by that must not be written); as 1290, before it runs.
  'ER_OPEN_AS_READONLY',
  // 1180 "Error while appending streaming replication fragment (provider status: Not
  // connected to Primary Component)": a Galera node cut off from its cluster as a write
  // was committing; its later statements get 1047. The write itself is not tried again: it
  // may have committed all the same (test/drills/cluster.ts has seen both).
  'ER_ERROR_DURING_COMMIT',
  // A server of another protocol at the URL's port (lib/store/mysql-greeting.ts).
  'ADRATER_NOT_MYSQL',
  // 1184 "Aborted connection … (init_connect command failed)": the server's init_connect,
  // run for ordinary accounts before their first statement, fails, and the server closes the
  // connection; the statement never ran.
  'ER_NEW_ABORTING_CONNECTION',
]);
export const serverLost = (err: unknown) => LOST.has(code(err)) || (err as { fatal?: boolean })?.fatal === true;

/**
 * The statement did not take effect, for sure: a deadlock's victim or a Galera certification
 * conflict (1213: rolled back), or a server that refused it (1047: a Galera node not ready;
 * 1290, 1792 and 1036: read-only). A retry cannot count anything twice. (A connection cut while
 * a write was on its way is not this: the write may have committed.)
 */
const NOT_APPLIED = new Set(['ER_LOCK_DEADLOCK', 'ER_UNKNOWN_COM_ERROR', 'ER_OPTION_PREVENTS_STATEMENT', 'ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION', 'ER_OPEN_AS_READONLY']);
export const notApplied = (err: unknown) => NOT_APPLIED.has(code(err));

/** Look-ups are reads: any failure but a wrong statement may be tried again, on another server if need be. */
export const readAgain = (err: unknown) => serverLost(err) || notApplied(err);

// Errors that mean "the server is not there for us (now)" rather than "this query is wrong".
// The account's connections at their limit: the server's max_user_connections (1203, as
// shared hosting sets it) or the account's own MAX_USER_CONNECTIONS and hourly limits
// (1226). A conflict (1213) that outlasted its retries is one: the client may try again
// (503). So is a statement the server stopped at its time limit (MariaDB's
// max_statement_time, 1969; MySQL's max_execution_time, 3024): a server too busy, or a table
// held, for that long.
// ADRATER_NOT_READY: the read server in use answers but is not to be read (a stopped or
// lagging replica) and no other listed one is ready; look-ups then read from --db. An
// account the server will not serve is as a wrong password: locked (ACCOUNT LOCK), or its
// password expired (refused at login, 1862, or, by MariaDB's default
// disconnect_on_expired_password=OFF, let in and refused every statement, 1820). A server
// whose disk is full takes reads but no queue write: InnoDB's "The table '…' is full" (1114,
// its file could not grow; the statement is rolled back) or "Disk full" (1021): a write can
// come back once the operator frees space, and is not tried again at once. An account
// without a grant on one of the tables (1142, "INSERT command denied … for table
// `rating_queue`") is as one without a grant on the database (1044): look-ups may still be
// answered where it may read. An account of MariaDB's unix_socket method asked for by
// another operating-system user is refused as a wrong password is (1698, "Access denied
// for user 'www-data'@'localhost'", with no "using password"); so is a web host that no
// account names (1130, "Host '10.0.0.7' is not allowed to connect": the account made for
// localhost only), and one the server blocked after too many broken connections (1129,
// "unblock with 'mariadb-admin flush-hosts'"), and an account whose authentication method the
// server has unloaded (1524, "Plugin 'ed25519' is not loaded").
const UNAVAILABLE_CODES = new Set([
  'ER_TOO_MANY_USER_CONNECTIONS', 'ER_USER_LIMIT_REACHED', 'ER_ACCESS_DENIED_ERROR', 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR', 'ER_HOST_NOT_PRIVILEGED', 'ER_HOST_IS_BLOCKED', 'ER_PLUGIN_IS_NOT_LOADED', 'ER_DBACCESS_DENIED_ERROR', 'ER_TABLEACCESS_DENIED_ERROR', 'ER_BAD_DB_ERROR', 'ER_QUERY_INTERRUPTED',
  'ER_LOCK_WAIT_TIMEOUT', 'ER_LOCK_DEADLOCK', 'ER_STATEMENT_TIMEOUT', 'ER_QUERY_TIMEOUT', 'ADRATER_NOT_READY',
  'ER_ACCOUNT_HAS_BEEN_LOCKED', 'ER_MUST_CHANGE_PASSWORD_LOGIN', 'ER_MUST_CHANGE_PASSWORD', 'ER_RECORD_FILE_FULL', 'ER_DISK_FULL',
]);

// A database without adrater's tables, or with a table of another shape: the fix is the
// operator's, named in the line.
const SCHEMA_FIXES = new Map([
  ['ER_NO_SUCH_TABLE', 'run adrater db init'],
  ['ER_BAD_FIELD_ERROR', 'a table is not as adrater db init makes it, CONTRACT §5'],
]);

/**
 * A driver error as it enters: the server not there for us becomes UnavailableError, a
 * database without adrater's tables DatabaseError.
 */
export function classify(err: unknown): unknown {
  const e = err as { message?: string };
  if (e && (serverLost(err) || UNAVAILABLE_CODES.has(code(err)))) {
    return new UnavailableError(`MySQL unavailable: ${code(err) || 'error'}: ${e.message ?? ''}`, { cause: err });
  }
  const fix = SCHEMA_FIXES.get(code(err));
  if (fix) return new DatabaseError(`${e.message ?? code(err)} (${fix})`, { cause: err });
  return err;
}

// Conflicts (1213) are tried again up to this many times, each after a short random pause
// that grows: concurrent batches writing the same domains on different Galera nodes would
// otherwise collide again at once. A lost server moves to the next one, around the list twice.
const CONFLICT_RETRIES = 12;
const SERVER_ROUNDS = 2;
const pause = (retry: number) => new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * (retry + 1)));

/** Whether to try again after `err`, and after how long; counts the tries. */
export function tries(servers: number) {
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

/** `target.use`, its failures classified as they leave the store (the server not there: UnavailableError). */
export const classifiedUse =
  <C>(target: Target<C>) =>
  <T>(work: (conn: C) => Promise<T>, again: (err: unknown) => boolean): Promise<T> =>
    target.use(work, again).catch((err) => Promise.reject(classify(err)));

export interface Target<C> {
  /**
   * Runs `work` on a connection to the server in use. When it fails and `again(err)` says a
   * second try is safe, tries again (on the next server, if this one was lost), a bounded
   * number of times; a failure to get a connection is always safe to try again.
   */
  use<T>(work: (conn: C) => Promise<T>, again: (err: unknown) => boolean): Promise<T>;
  end(): Promise<void>;
  /** The server statements go to now, and how many times that changed (a persistent process's pools). */
  inUse?(): ServerInUse;
}

/**
 * One connection for a run that makes a few statements (a CGI run, a command): each server
 * in order until one accepts (a refusal or a time-out moves on). A statement is tried again
 * on it when `again` allows. When the server it is on turns out not to be one to use (a
 * Galera node not ready, 1047, or a read-only server refusing a write, 1290: it accepted the
 * connection all the same; or a connection lost under a read) and `again` says the statement
 * surely did not count, the run connects to the next listed server and tries it there: a CGI
 * run on a host whose own node is cut off from its cluster is answered by another node.
 */
export async function singleConnection<C>(servers: MysqlServer[], connect: (server: MysqlServer) => Promise<C>, end: (conn: C) => Promise<void>): Promise<Target<C>> {
  let at = 0;
  /** A connection to the first server from `from` on that accepts one. */
  async function connectFrom(from: number): Promise<C> {
    let failure: unknown;
    for (let i = from; i < servers.length; i++) {
      try {
        const conn = await connect(servers[i]);
        at = i;
        return conn;
      } catch (err) {
        failure = err;
        if (!serverLost(err)) throw err;
        if (i + 1 < servers.length) log(`database ${servers[i].label}: ${reasonOf(err, 'unreachable')}; trying ${servers[i + 1].label}`);
      }
    }
    throw failure;
  }
  let connection = await connectFrom(0);
  return {
    async use(work, again) {
      const retry = tries(1);
      for (;;) {
        try {
          return await work(connection);
        } catch (err) {
          if (!serverLost(err)) {
            if (await retry(err, again)) continue;
            throw err;
          }
          if (!again(err) || at + 1 >= servers.length) throw err;
          log(`database ${servers[at].label}: ${reasonOf(err, 'lost')}; trying ${servers[at + 1].label}`);
          await end(connection).catch(() => {});
          // Nowhere to go (the rest refuse, or want what this client does not speak): this
          // statement's own failure is the answer.
          connection = await connectFrom(at + 1).catch(() => Promise.reject(err));
        }
      }
    },
    end: () => end(connection),
  };
}
