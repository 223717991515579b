// Embedded SQLite back end (better-sqlite3). The file and its schema are created on first
// use, so a fresh clone answers at once. WAL and a busy timeout let concurrent CGI runs
// and the rater's tools share the file.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import Database from 'better-sqlite3';
import { MIGRATIONS, LATEST_VERSION, VERSION_TABLE } from './schema.js';
import { UnavailableError, selectWrites } from './store.js';
import type { Store, RatingRow, QueueRow, QueueQuery, QueueItem } from './store.js';

const BUSY_TIMEOUT_MS = 5000;
// The addon's path, given: otherwise better-sqlite3 looks for it with the `bindings`
// package, which probes a dozen paths on every CGI run.
const ADDON = createRequire(import.meta.url).resolve('better-sqlite3/build/Release/better_sqlite3.node');
// The largest number of ? in one statement on every SQLite build we support.
const MAX_PARAMS = 999;

function unavailable(err: unknown): unknown {
  const code = (err as { code?: string }).code ?? '';
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY' || code.startsWith('SQLITE_IOERR')) {
    return new UnavailableError(`SQLite unavailable: ${code}: ${(err as Error).message}`, { cause: err });
  }
  return err;
}

function schemaVersion(db: Database.Database): number {
  db.exec(VERSION_TABLE.sqlite);
  const row = db.prepare('SELECT MAX(version) AS version FROM schema_version').get() as { version: number | null };
  return row.version ?? 0;
}

function migrate(db: Database.Database): { from: number; to: number } {
  return db.transaction(() => {
    const from = schemaVersion(db);
    for (const migration of MIGRATIONS) {
      if (migration.version <= from) continue;
      for (const statement of migration.sqlite) db.exec(statement);
    }
    if (from < LATEST_VERSION) {
      db.exec('DELETE FROM schema_version');
      db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(LATEST_VERSION);
    }
    return { from, to: Math.max(from, LATEST_VERSION) };
  }).immediate();
}

function placeholders(n: number): string {
  return new Array(n).fill('?').join(',');
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export function openSqlite(path: string): Store {
  let db: Database.Database;
  let versionAtOpen = 0; // the file migrates on open: `db migrate` reports from this version
  try {
    // Creates the file's own directory (the default var/), never a chain of them.
    if (path !== ':memory:' && !existsSync(dirname(path))) mkdirSync(dirname(path));
    db = new Database(path, { timeout: BUSY_TIMEOUT_MS, nativeBinding: ADDON });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    // One cheap read per open: create the schema the first time the file is used.
    let current = 0;
    try {
      current = (db.prepare('SELECT MAX(version) AS version FROM schema_version').get() as { version: number }).version;
    } catch {
      current = 0;
    }
    versionAtOpen = current ?? 0;
    if (current < LATEST_VERSION) migrate(db);
  } catch (err) {
    // A file we cannot create or open is a database we cannot reach.
    throw new UnavailableError(`SQLite unavailable: ${(err as Error).message}`, { cause: err });
  }

  const run = <T>(work: () => T): Promise<T> => {
    try {
      return Promise.resolve(work());
    } catch (err) {
      return Promise.reject(unavailable(err));
    }
  };

  const upsertQueue = db.prepare(
    'INSERT INTO rating_queue (domain, priority, first_requested, last_requested, requests, source_ip) ' +
      'VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT (domain) DO UPDATE SET priority = max(priority, excluded.priority), ' +
      'requests = requests + 1, last_requested = excluded.last_requested, source_ip = excluded.source_ip',
  );
  const upsertRating = db.prepare(
    'INSERT INTO site_ratings (domain, rating, info, rated_at, expires_at) VALUES (?, ?, ?, ?, ?) ' +
      'ON CONFLICT (domain) DO UPDATE SET rating = excluded.rating, info = excluded.info, ' +
      'rated_at = excluded.rated_at, expires_at = excluded.expires_at',
  );
  const unqueue = db.prepare('DELETE FROM rating_queue WHERE domain = ?');
  const queueOrder = 'FROM rating_queue WHERE priority >= ? ORDER BY priority DESC, first_requested, domain LIMIT ?';
  const selectQueue = db.prepare(
    `SELECT domain, priority, first_requested AS firstRequested, last_requested AS lastRequested, requests, source_ip AS sourceIp ${queueOrder}`,
  );

  const enqueueAll = db.transaction((items: QueueItem[]) => {
    for (const i of items) upsertQueue.run(i.domain, i.priority, i.now, i.now, i.sourceIp);
  });

  return {
    kind: 'sqlite',

    lookup(domains) {
      return run(() => {
        if (domains.length === 0) return [];
        const rows: RatingRow[] = [];
        for (const part of chunks(domains, MAX_PARAMS)) {
          rows.push(
            ...(db
              .prepare(
                'SELECT domain, rating, info, rated_at AS ratedAt, expires_at AS expiresAt FROM site_ratings ' +
                  `WHERE domain IN (${placeholders(part.length)})`,
              )
              .all(...part) as RatingRow[]),
          );
        }
        return rows;
      });
    },

    enqueue(items) {
      return run(() => {
        if (items.length > 0) enqueueAll.immediate(items);
      });
    },

    migrate() {
      return run(() => ({ ...migrate(db), from: versionAtOpen }));
    },

    writeRatings(rows, force) {
      return run(() =>
        db.transaction(() => {
          const stored = new Map<string, string>();
          for (const part of chunks([...new Set(rows.map((r) => r.domain))], MAX_PARAMS)) {
            const found = db
              .prepare(`SELECT domain, rated_at FROM site_ratings WHERE domain IN (${placeholders(part.length)})`)
              .all(...part) as Array<{ domain: string; rated_at: string }>;
            for (const r of found) stored.set(r.domain, r.rated_at);
          }
          const { writes, older } = selectWrites(rows, stored, force);
          for (const r of writes) {
            upsertRating.run(r.domain, r.rating, r.info, r.ratedAt, r.expiresAt);
            unqueue.run(r.domain);
          }
          return { taken: rows.length - older, older };
        }).immediate(),
      );
    },

    listQueue(q: QueueQuery) {
      return run(() => selectQueue.all(q.minPriority, q.limit) as QueueRow[]);
    },

    claimQueue(q: QueueQuery) {
      // An IMMEDIATE transaction takes SQLite's write lock first: a second claimer waits
      // for it and then sees the rows this one removed.
      return run(() =>
        db.transaction(() => {
          const rows = selectQueue.all(q.minPriority, q.limit) as QueueRow[];
          for (const r of rows) unqueue.run(r.domain);
          return rows;
        }).immediate(),
      );
    },

    close() {
      db.close();
      return Promise.resolve();
    },
  };
}
