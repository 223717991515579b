// The one small interface both back ends implement, each method with the guarantee it
// gives. The look-up path uses lookup and enqueue; the rater's tools use the rest. A
// failure to reach the database is an UnavailableError (lib/core/errors.ts) from every
// method, classified where the driver's error enters.
import type { AbortFlag } from '../core/errors.js';

export interface RatingRow {
  domain: string;
  rating: string;
  info: string | null;
  ratedAt: string;
  expiresAt: string | null;
}

export interface QueueRow {
  domain: string;
  priority: number;
  firstRequested: string;
  lastRequested: string;
  requests: number;
  sourceIp: string | null;
}

/** One site to queue, as one request asked for it. */
export interface QueueItem {
  domain: string;
  priority: number;
  sourceIp: string | null;
  now: string;
}

export interface QueueQuery {
  limit: number;
  minPriority: number;
}

export interface WriteSummary {
  taken: number;
  older: number;
}

export interface Store {
  readonly kind: 'mysql' | 'sqlite';
  /**
   * Ratings for these domains (those that have one), in one query. Aborted before the query
   * is sent: rejects with AbortedError and sends nothing.
   */
  lookup(domains: string[], signal?: AbortFlag): Promise<RatingRow[]>;
  /**
   * Queues the items in one statement or transaction, each merged with a queued row per
   * CONTRACT §5 (a domain may appear once per request that asked for it). Resolves only
   * once the rows are committed. Aborted before the write is sent: rejects, writes nothing.
   */
  enqueue(items: QueueItem[], signal?: AbortFlag): Promise<void>;
  /**
   * The queue writes asked in one turn of the event loop go to the database together at its
   * end (lib/store/grouping.ts, taking turns; later only if a look-up is still in flight then):
   * work a request needs only once its rows are committed is best done in the next turn,
   * while the database works.
   */
  readonly writesAtTurnEnd?: boolean;
  /** Applies pending migrations; returns the versions before and after. */
  migrate(): Promise<{ from: number; to: number }>;
  /** Upserts ratings in one transaction (newer rated_at wins unless force); rated domains leave the queue. */
  writeRatings(rows: RatingRow[], force: boolean): Promise<WriteSummary>;
  listQueue(query: QueueQuery): Promise<QueueRow[]>;
  /** Removes and returns the rows it lists, never the same row to two concurrent claimers. */
  claimQueue(query: QueueQuery): Promise<QueueRow[]>;
  close(): Promise<void>;
  /**
   * Which listed server a persistent MySQL store's statements go to now, and how many times
   * it has moved (lost, left, returned to), for the status; with --db-read, the read side's
   * too. Absent where there is no list to move along (SQLite, a CGI run, a command).
   */
  inUse?(): DatabaseInUse;
}

/** A server in use, by its label (`host:port`, never the password), and its moves since start. */
export interface ServerInUse {
  server: string;
  moves: number;
}

export interface DatabaseInUse extends ServerInUse {
  read?: ServerInUse;
}

/**
 * A statement's text for n keys or rows, made once per n for the life of the process: a
 * responder asks for the same few shapes with every request, and building the text (a join
 * of n placeholder groups) cost more than finding its prepared statement (~3 µs a request).
 */
export function textForCount(make: (n: number) => string): (n: number) => string {
  const made: string[] = [];
  return (n) => (made[n] ??= make(n));
}

/** n copies of a placeholder group, as a statement's IN list or VALUES list holds them. */
export const placeholders = (n: number, group: string) => new Array(n).fill(group).join(', ');

/** What a queue write stores for one domain: the merge of every item that names it. */
export type QueueWrite = [domain: string, priority: number, firstRequested: string, lastRequested: string, requests: number, sourceIp: string | null];
/** The largest `requests` a queued row holds: the contract's INT column's (MySQL's signed 32 bits); SQLite stops there too. */
export const MAX_REQUESTS = 2147483647;
/** Both stores' queue write up to its values: the columns of a QueueWrite, in its order. */
export const QUEUE_WRITE_INSERT = 'INSERT INTO rating_queue (domain, priority, first_requested, last_requested, requests, source_ip) VALUES ';

/**
 * One row per domain, sorted by domain, merged as CONTRACT §5 merges them one by one: the
 * highest priority, the first item's time as first_requested, the last item's time and
 * address, and as many requests as items. A batch of requests that all ask for one new
 * site writes one row, not one per request (each a key lookup and an update for the
 * database); the sort makes concurrent writes lock rows in the same order, so that they
 * rarely deadlock.
 */
export function queueWrites(items: QueueItem[]): QueueWrite[] {
  const byDomain = new Map<string, QueueWrite>();
  for (const item of items) {
    const row = byDomain.get(item.domain);
    if (!row) byDomain.set(item.domain, [item.domain, item.priority, item.now, item.now, 1, item.sourceIp]);
    else {
      row[1] = Math.max(row[1], item.priority);
      row[3] = item.now;
      row[4]++;
      row[5] = item.sourceIp;
    }
  }
  return Array.from(byDomain.values()).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/**
 * Which of a batch of ratings to write: per domain the newest (with force: the last), never
 * one older than the stored rating unless force. `older` counts the rows left out for age.
 */
export function selectWrites(
  rows: RatingRow[],
  storedRatedAt: Map<string, string>,
  force: boolean,
): { writes: RatingRow[]; older: number } {
  const chosen = new Map<string, RatingRow>();
  let older = 0;
  for (const row of rows) {
    const current = force ? undefined : (chosen.get(row.domain)?.ratedAt ?? storedRatedAt.get(row.domain));
    if (current !== undefined && row.ratedAt < current) older++;
    else chosen.set(row.domain, row);
  }
  return { writes: [...chosen.values()], older };
}

export interface OpenOptions {
  /** Keep a pool for the life of the process (FastCGI) rather than one connection (CGI). */
  persistent?: boolean;
  /**
   * The store serves one request of a process that exits right after (a CGI run). SQLite's
   * close() then leaves the file, and its write-ahead log, to the exit, which releases its
   * locks: a real close would checkpoint the log and delete it, and the next run would create
   * it again, ~3 ms of file work and fsyncs per run. It closes for real once the log has grown
   * past 64 pages (lib/store/sqlite.ts). MySQL's close() still ends the session, so that the
   * server logs no aborted connection.
   */
  oneRequest?: boolean;
  poolSize?: number;
  /** Look-ups from here (MySQL only), falling back to the main URL (--db-read). */
  readUrl?: string;
  /** This store only reads (the --db-read side): a read-only server serves it. */
  reads?: boolean;
}
