// The one small interface both back ends implement. The look-up path uses lookup and
// enqueue; the rater's tools use the rest. Drivers are imported only by the back end
// that needs them, so a CGI run on SQLite never loads mysql2 and the reverse.

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
  /** Ratings for these domains (those that have one), in one query. */
  lookup(domains: string[]): Promise<RatingRow[]>;
  /**
   * Queues the items in one statement or transaction, each merged with a queued row per
   * CONTRACT §5 (a domain may appear once per request that asked for it).
   */
  enqueue(items: QueueItem[]): Promise<void>;
  /** Applies pending migrations; returns the versions before and after. */
  migrate(): Promise<{ from: number; to: number }>;
  /** Upserts ratings in one transaction (newer rated_at wins unless force); rated domains leave the queue. */
  writeRatings(rows: RatingRow[], force: boolean): Promise<WriteSummary>;
  listQueue(query: QueueQuery): Promise<QueueRow[]>;
  /** Removes and returns the rows it lists, never the same row to two concurrent claimers. */
  claimQueue(query: QueueQuery): Promise<QueueRow[]>;
  close(): Promise<void>;
}

/** The database cannot be reached (or refused us): the answer is 503, not 500. */
export class UnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnavailableError';
  }
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

/** By name, not instanceof: each bundle of the CGI path carries its own copy of this class. */
export function isUnavailable(err: unknown): err is UnavailableError {
  return err instanceof Error && err.name === 'UnavailableError';
}

export interface OpenOptions {
  /** Keep a pool for the life of the process (FastCGI) rather than one connection (CGI). */
  persistent?: boolean;
  poolSize?: number;
}

export async function openStore(url: string, options: OpenOptions = {}): Promise<Store> {
  if (url.startsWith('mysql://') || url.startsWith('mariadb://')) {
    const { openMysql } = await import('./store-mysql.js');
    return openMysql(url, options);
  }
  if (url.startsWith('sqlite:')) {
    const { openSqlite } = await import('./store-sqlite.js');
    return openSqlite(url.slice('sqlite:'.length));
  }
  throw new Error('database URL must start with mysql:// or sqlite:');
}
