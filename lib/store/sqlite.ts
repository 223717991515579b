// Embedded SQLite back end (better-sqlite3). The file and its schema are created on first
// use, so a fresh clone answers at once. WAL and a busy timeout let concurrent CGI runs
// and the rater's tools share the file.
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import Database from 'better-sqlite3';
import { DatabaseError, UnavailableError, throwIfAborted } from '../core/errors.js';
import { LATEST_VERSION, runMigrations } from './schema.js';
import { MAX_REQUESTS, placeholders, QUEUE_WRITE_INSERT, queueWrites, selectWrites, textForCount } from './store.js';
import type { Store, RatingRow, QueueRow, QueueWrite, OpenOptions } from './store.js';

const BUSY_TIMEOUT_MS = 5000;
// better-sqlite3's addon, loaded here: otherwise better-sqlite3 looks for it with the
// `bindings` package, which probes a dozen paths on every CGI run. It is found as Node's
// require would find the package, in the first node_modules above this file that holds it
// (beside the package or hoisted above it), by a stat per directory: require.resolve also
// reads the package's package.json and the real path of every directory on the way. It is
// loaded with process.dlopen and handed to better-sqlite3 loaded: its require() of a path
// would resolve it again and run Node's module loader for a file that is no module of ours.
// (`load` 4.8 -> 4.2 ms of a SQLite CGI run, README "Performance".)
const ADDON = 'better-sqlite3/build/Release/better_sqlite3.node';
const addon = once(() => {
  const module = { exports: {} };
  process.dlopen(module, addonPath());
  return module.exports;
});

function addonPath(): string {
  for (let dir = import.meta.dirname; dirname(dir) !== dir; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', ADDON);
    if (existsSync(candidate)) return candidate;
  }
  return createRequire(import.meta.filename).resolve(ADDON); // Node's own search (NODE_PATH …), or its error
}
// The largest number of ? in one statement on every SQLite build we support.
const MAX_PARAMS = 999;
// The queue write, merged with a queued row per CONTRACT §5: one statement per row count up
// to ENQUEUE_ROWS (a responder keeps each prepared: statementCache), a longer batch in chunks.
const ENQUEUE_SUFFIX =
  ' ON CONFLICT (domain) DO UPDATE SET priority = max(priority, excluded.priority), ' +
  `requests = min(requests + excluded.requests, ${MAX_REQUESTS}), last_requested = excluded.last_requested, source_ip = excluded.source_ip`;
const ENQUEUE_ROWS = 16;

// Unavailable (503): busy past the timeout, a file that cannot be opened or written, or a
// full disk (SQLITE_FULL; reads still work, a queue write waits for the operator to free
// space). better-sqlite3 gives SQLite's extended codes (SQLITE_READONLY_DIRECTORY: a file
// whose directory this process may not write, so that it cannot create the file's -shm).
const UNAVAILABLE = /^SQLITE_(BUSY|CANTOPEN|READONLY|FULL|IOERR)(_|$)/;
// Unusable (500): a damaged file (SQLITE_CORRUPT, "database disk image is malformed"), one
// that is no SQLite database (SQLITE_NOTADB: a --db naming another file), or a table of the
// same name made by someone else (SQLITE_ERROR "no such column: info": the schema is created
// only where its tables are not there) will not mend by itself: the operator's, named in
// the line.
function unusable(code: string, message: string): string | null {
  if (/^SQLITE_CORRUPT(_|$)/.test(code)) return 'is damaged: restore it from a backup, or recover its rows with sqlite3 and .recover';
  if (code === 'SQLITE_NOTADB') return 'is no SQLite database: check the database setting (--db, ADRATER_DB)';
  if (code === 'SQLITE_ERROR' && /^no such (table|column)\b/.test(message)) return 'has a table not as adrater makes it, CONTRACT §5';
  return null;
}

/** A driver error as it enters, read as MySQL's are (mysql-retry.ts's classify). */
function classified(err: unknown, path: string): unknown {
  const code = (err as { code?: string }).code ?? '';
  const message = (err as Error).message;
  if (UNAVAILABLE.test(code)) return new UnavailableError(`SQLite unavailable: ${code}: ${message}${whyNotWritable(code, path)}`, { cause: err });
  const fix = unusable(code, message);
  if (fix) return new DatabaseError(`SQLite: ${code}: ${message} (${path} ${fix})`, { cause: err });
  return err;
}

/**
 * Which file this process may not write, in words, after SQLite refused to open or write
 * one: its own message ("unable to open database file", "attempt to write a readonly
 * database") names neither the file nor who tried, and the usual cause is a file made by
 * root and then served by the web server's user. SQLite writes `-wal` and `-shm` beside the
 * database, so their directory must be writable when they are not there yet.
 */
function whyNotWritable(code: string, path: string): string {
  if (!/^SQLITE_(CANTOPEN|READONLY)/.test(code) || path === ':memory:') return '';
  const refused = (file: string): string | null => {
    try {
      accessSync(file, constants.W_OK);
      return null;
    } catch (err) {
      const errno = (err as NodeJS.ErrnoException).code;
      return errno === 'ENOENT' ? null : errno === 'EROFS' ? 'is on a read-only file system' : `cannot be written by ${whoAmI()}`;
    }
  };
  const name = basename(path);
  const logs = [`${path}-wal`, `${path}-shm`];
  for (const file of [path, ...logs]) {
    const why = refused(file);
    if (why) return ` (${file} ${why})`;
  }
  const dir = dirname(path);
  if (logs.some((file) => !existsSync(file))) {
    const why = refused(dir);
    if (why) return ` (${path}: its directory ${dir} ${why}, and SQLite creates ${name}-wal and ${name}-shm there)`;
  }
  return ` (${path})`;
}

function whoAmI(): string {
  const uid = process.getuid?.();
  if (uid === undefined) return 'this process';
  try {
    // node:os for this message only: a CGI run does not load it otherwise.
    const { userInfo } = createRequire(import.meta.filename)('node:os') as typeof import('node:os');
    return `uid ${uid} (${userInfo().username})`;
  } catch {
    return `uid ${uid}`; // no passwd entry
  }
}

/** `make()`, called once, on first use. */
function once<T>(make: () => T): () => T {
  let made: { value: T } | null = null;
  return () => (made ??= { value: make() }).value;
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const LOOKUP_TEXT = textForCount((n) => `SELECT domain, rating, info, rated_at AS ratedAt, expires_at AS expiresAt FROM site_ratings WHERE domain IN (${placeholders(n, '?')})`);
const RATED_AT_TEXT = textForCount((n) => `SELECT domain, rated_at FROM site_ratings WHERE domain IN (${placeholders(n, '?')})`);
const ENQUEUE_TEXT = textForCount((n) => `${QUEUE_WRITE_INSERT}${placeholders(n, '(?, ?, ?, ?, ?, ?)')}${ENQUEUE_SUFFIX}`);

/** Rows of `select … IN (…)` over any number of keys, in statements of at most MAX_PARAMS. */
function selectIn<T>(prepare: (sql: string) => Database.Statement, text: (n: number) => string, keys: string[]): T[] {
  const rows: T[] = [];
  for (const part of chunks(keys, MAX_PARAMS)) rows.push(...(prepare(text(part.length)).all(...part) as T[]));
  return rows;
}

// A responder's look-ups come in a few IN-list lengths; preparing one costs SQLite more
// than running it (a parse and a plan: ~1/3 of a responder's CPU per request on SQLite).
const MAX_KEPT_STATEMENTS = 64;

/** db.prepare, keeping the first MAX_KEPT_STATEMENTS statements for the life of the store. */
function statementCache(db: Database.Database): (sql: string) => Database.Statement {
  const kept = new Map<string, Database.Statement>();
  return (sql) => {
    let statement = kept.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      if (kept.size < MAX_KEPT_STATEMENTS) kept.set(sql, statement);
    }
    return statement;
  };
}

/** The schema's version, read without taking a write lock; 0 for a new file. */
function versionOf(db: Database.Database): number {
  try {
    return (db.prepare('SELECT MAX(version) AS version FROM schema_version').get() as { version: number | null }).version ?? 0;
  } catch {
    return 0;
  }
}

/** The migrations in one IMMEDIATE transaction: a second process waits, then finds nothing to do. */
async function migrate(db: Database.Database): Promise<{ from: number; to: number }> {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = await runMigrations({
      kind: 'sqlite',
      exec: (statement, params = []) => db.prepare(statement).run(...params),
      scalar: (query) => db.prepare(query).pluck().get(),
    });
    db.exec('COMMIT');
    return result;
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw err;
  }
}

/** Opens (and on first use creates) the file; a file that cannot be opened is a database we cannot reach. */
export async function openSqlite(path: string, options: OpenOptions = {}): Promise<Store> {
  let db: Database.Database;
  let versionAtOpen: number; // `db migrate` reports from this version
  try {
    // Creates the file's own directory (the default var/), never a chain of them.
    if (path !== ':memory:' && !existsSync(dirname(path))) mkdirSync(dirname(path));
    // (better-sqlite3 takes the loaded addon as well as a path; its types name only a path.)
    db = new Database(path, { timeout: BUSY_TIMEOUT_MS, nativeBinding: addon() as unknown as string });
    // SQLite's own default page cache, 2 MiB (better-sqlite3 builds with 16 MiB): the kernel's
    // page cache holds the file anyway, and a responder (each worker) kept a private copy of
    // every page it ever read, the whole of a 100,000-row file (README, "SQLite's files").
    // One exec for the three: each pragma() is a statement prepared and its rows made.
    db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -2000');
    versionAtOpen = versionOf(db);
    if (versionAtOpen < LATEST_VERSION) await migrate(db);
  } catch (err) {
    const read = classified(err, path);
    throw read !== err ? read : new UnavailableError(`SQLite unavailable: ${(err as Error).message}`, { cause: err });
  }
  return sqliteStore(db, path, versionAtOpen, options.oneRequest);
}

/**
 * How a one-request run lets go of the file (OpenOptions.oneRequest): it leaves the
 * write-ahead log to the next run, unless the log has grown past WAL_KEPT_BYTES: then it
 * closes for real, which (when no other connection is open) checkpoints the log and deletes
 * it. The log must be kept short: a run that finds no other connection rebuilds the log's
 * index from all of it, and loses the record of what was already checkpointed, so that the
 * log never restarts by itself.
 */
const WAL_KEPT_BYTES = 64 * 4096;
function leaveOrClose(db: Database.Database, path: string): void {
  if (walLongerThan(`${path}-wal`, WAL_KEPT_BYTES)) db.close();
}

/**
 * Whether the file holds a byte past `bytes` (true when that cannot be read: then close).
 * A read of one byte there, not a stat: fs.statSync builds a Stats object, whose code,
 * compiled cold, cost each CGI run ~0.2 ms; open, read and close are compiled already.
 */
function walLongerThan(file: string, bytes: number): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
  try {
    return readSync(fd, new Uint8Array(1), 0, 1, bytes) > 0;
  } catch {
    return true;
  } finally {
    closeSync(fd);
  }
}

function sqliteStore(db: Database.Database, path: string, versionAtOpen: number, oneRequest = false): Store {
  const prepare = statementCache(db);
  const run = <T>(work: () => T | Promise<T>): Promise<T> => {
    try {
      return Promise.resolve(work()).catch((err) => Promise.reject(classified(err, path)));
    } catch (err) {
      return Promise.reject(classified(err, path));
    }
  };
  // Statements and transactions are made on first use: a CGI run uses two statements of the
  // store's dozen, and preparing the rest (with better-sqlite3's transaction statements) was
  // a quarter of its `connect`.
  const upsertRating = () =>
    prepare(
      'INSERT INTO site_ratings (domain, rating, info, rated_at, expires_at) VALUES (?, ?, ?, ?, ?) ' +
        'ON CONFLICT (domain) DO UPDATE SET rating = excluded.rating, info = excluded.info, ' +
        'rated_at = excluded.rated_at, expires_at = excluded.expires_at',
    );
  const unqueue = () => prepare('DELETE FROM rating_queue WHERE domain = ?');
  const selectQueue = () =>
    prepare(
      'SELECT domain, priority, first_requested AS firstRequested, last_requested AS lastRequested, requests, source_ip AS sourceIp ' +
        'FROM rating_queue WHERE priority >= ? ORDER BY priority DESC, first_requested, domain LIMIT ?',
    );
  const enqueueChunk = (rows: QueueWrite[]) => prepare(ENQUEUE_TEXT(rows.length)).run(rows.flat());
  const enqueueAll = once(() => db.transaction((parts: QueueWrite[][]) => parts.forEach(enqueueChunk)));
  const writeAll = once(() =>
    db.transaction((rows: RatingRow[], force: boolean) => {
      const found = selectIn<{ domain: string; rated_at: string }>(prepare, RATED_AT_TEXT, [...new Set(rows.map((r) => r.domain))]);
      const { writes, older } = selectWrites(rows, new Map(found.map((r) => [r.domain, r.rated_at])), force);
      for (const r of writes) {
        upsertRating().run(r.domain, r.rating, r.info, r.ratedAt, r.expiresAt);
        unqueue().run(r.domain);
      }
      return { taken: rows.length - older, older };
    }),
  );
  // An IMMEDIATE transaction takes SQLite's write lock first: a second claimer waits for it
  // and then sees the rows this one removed.
  const claim = once(() =>
    db.transaction((minPriority: number, limit: number) => {
      const rows = selectQueue().all(minPriority, limit) as QueueRow[];
      for (const r of rows) unqueue().run(r.domain);
      return rows;
    }),
  );

  return {
    kind: 'sqlite',
    lookup: (domains, signal) =>
      run(() => {
        throwIfAborted(signal);
        return selectIn<RatingRow>(prepare, LOOKUP_TEXT, domains);
      }),
    enqueue: (items, signal) =>
      run(() => {
        throwIfAborted(signal);
        // One statement is atomic by itself, and takes the write lock when it starts, as an
        // IMMEDIATE transaction would; a longer batch is several, in one such transaction.
        const parts = chunks(queueWrites(items), ENQUEUE_ROWS);
        if (parts.length === 1) enqueueChunk(parts[0]);
        else if (parts.length > 1) enqueueAll().immediate(parts);
      }),
    migrate: () => run(async () => ({ ...(await migrate(db)), from: versionAtOpen })),
    writeRatings: (rows, force) => run(() => writeAll().immediate(rows, force)),
    listQueue: (q) => run(() => selectQueue().all(q.minPriority, q.limit) as QueueRow[]),
    claimQueue: (q) => run(() => claim().immediate(q.minPriority, q.limit)),
    close: () => run(() => (oneRequest ? leaveOrClose(db, path) : void db.close())),
  };
}
