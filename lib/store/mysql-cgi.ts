// A CGI run's MySQL store: one connection, spoken over the run's own client
// (lib/store/mysql-wire.ts), for the look-up and the queue write of one request. Values go
// into the text protocol's statements as literals that need no escaping: strings as hex
// bytes with a utf8mb4 introducer (whatever the server's sql_mode says of backslashes),
// numbers only as safe integers. When the server asks for what that client does not speak,
// the run opens mysql2's store instead (lib/store/mysql.ts); the rater's tools, should a
// CGI run's store ever be asked for them, go to mysql2 as well.
import { throwIfAborted } from '../core/errors.js';
import { mysqlServers } from './mysql-servers.js';
import type { MysqlServer } from './mysql-servers.js';
import { classifiedUse, classify, notApplied, readAgain, singleConnection } from './mysql-retry.js';
import type { Target } from './mysql-retry.js';
import { ENQUEUE_SUFFIX, WIRE_LOOKUP_PREFIX } from './mysql-sql.js';
import { connectWire, UnsupportedError } from './mysql-wire.js';
import type { Wire, WireOptions } from './mysql-wire.js';
import { QUEUE_WRITE_INSERT, queueWrites } from './store.js';
import type { OpenOptions, Store } from './store.js';

/** A value as a SQL literal. */
export function literal(value: string | number | null): string {
  if (value === null) return 'NULL';
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError(`not an integer: ${value}`);
    return String(value);
  }
  return `_utf8mb4 X'${Buffer.from(value, 'utf8').toString('hex')}'`;
}

/** A server's options for the client: mysqlServers() sets the user, the password and the time-out of every server. */
const wireOptions = ({ options }: MysqlServer): WireOptions => ({
  host: options.host,
  port: options.port,
  socketPath: options.socketPath,
  user: options.user!,
  password: options.password!,
  database: options.database,
  connectTimeout: options.connectTimeout!,
  // mysqlServers() sets ssl as { ca?, cert?, key?: string, rejectUnauthorized, verifyIdentity }.
  tls: options.ssl as WireOptions['tls'],
});

const mysql2Store = async (url: string, options: OpenOptions) => (await import('./mysql.js')).openMysql(url, options);

export async function openMysql(url: string, options: OpenOptions): Promise<Store> {
  let target: Target<Wire>;
  try {
    target = await singleConnection(mysqlServers(url), (server) => connectWire(wireOptions(server)), (wire) => wire.quit());
  } catch (err) {
    if (err instanceof UnsupportedError) return mysql2Store(url, options);
    throw classify(err);
  }
  return wireStore(target, () => mysql2Store(url, options));
}

function wireStore(target: Target<Wire>, openMysql2: () => Promise<Store>): Store {
  const run = classifiedUse(target);
  let tools: Promise<Store> | null = null;
  const mysql2 = () => (tools ??= openMysql2());
  return {
    kind: 'mysql',
    async lookup(domains, signal) {
      throwIfAborted(signal);
      if (domains.length === 0) return [];
      // LIMIT: as many rows as domains (the key is unique), and a server-wide sql_select_limit,
      // which a SELECT with a LIMIT of its own does not obey, cuts none of them.
      const rows = await run((wire) => wire.query(`${WIRE_LOOKUP_PREFIX}${domains.map(literal).join(', ')}) LIMIT ${domains.length}`), readAgain);
      return rows.map(([domain, rating, info, ratedAt, expiresAt]) => ({ domain: domain!, rating: rating!, info, ratedAt: ratedAt!, expiresAt }));
    },
    async enqueue(items, signal) {
      throwIfAborted(signal);
      if (items.length === 0) return;
      const values = queueWrites(items).map((row) => `(${row.map(literal).join(', ')})`);
      // One autocommitted statement, tried again only when it surely did not count; committed
      // by hand when the server keeps autocommit off for the session (the 200 promises it).
      await run(async (wire) => {
        await wire.query(`${QUEUE_WRITE_INSERT}${values.join(', ')}${ENQUEUE_SUFFIX}`);
        if (wire.inTransaction()) await wire.query('COMMIT');
      }, notApplied);
    },
    migrate: async () => (await mysql2()).migrate(),
    writeRatings: async (rows, force) => (await mysql2()).writeRatings(rows, force),
    listQueue: async (query) => (await mysql2()).listQueue(query),
    claimQueue: async (query) => (await mysql2()).claimQueue(query),
    close: async () => {
      await Promise.all([target.end(), tools?.then((store) => store.close(), () => {})]);
    },
  };
}
