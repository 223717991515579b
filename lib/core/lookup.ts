// The quick look-up of the 2009 program, kept: one query for the whole batch, every site
// without a fresh rating queued, and never a wait for a rating to be made.
import { siteKey } from './site.js';
import type { SiteKey } from './site.js';
import { isoTime, sqlTime } from './time.js';
import type { Store, RatingRow } from '../store/store.js';
import type { AbortFlag } from './errors.js';
import type { SiteResult } from './render.js';
import type { LookupRequest } from './request.js';

/** Each site's result, known once the look-up has answered, and the commit its queue rows are waiting for. */
export interface Rated {
  results: SiteResult[];
  /** Settles once the queue rows are committed: with null, or with what kept them from it. A 200 waits for it. */
  committed: Promise<unknown>;
}

/** `signal` aborted: the step not yet started (the look-up, the queue write) is not started. */
export async function rateSites(store: Store, request: LookupRequest, now: Date, signal?: AbortFlag): Promise<Rated> {
  const keys = request.urls.map(siteKey);
  const domains = distinctDomains(keys);
  const ratings = new Map<string, RatingRow>();
  for (const row of await store.lookup(domains, signal)) ratings.set(row.domain, row);

  const nowText = sqlTime(now);
  const isFresh = (row: RatingRow) => row.expiresAt === null || row.expiresAt > nowText;
  // Held as a value, not a rejection, until the caller awaits it: nothing may reject unhandled meanwhile.
  const committed = enqueueMissing(store, domains, ratings, isFresh, request, nowText, signal).then(
    () => null,
    (err: unknown) => err || new Error('the queue write failed'),
  );

  const results = keys.map((key, i): SiteResult => {
    const url = request.urls[i];
    if (!('domain' in key)) return { url, status: 'invalid', reason: key.reason };
    const row = ratings.get(key.domain);
    if (!row) return { url, domain: key.domain, status: 'queued' };
    return {
      url,
      domain: key.domain,
      status: isFresh(row) ? 'rated' : 'stale',
      rating: row.rating,
      rated: isoTime(row.ratedAt),
      expires: row.expiresAt === null ? undefined : isoTime(row.expiresAt),
      info: row.info || undefined, // an empty info says nothing: leave it out
    };
  });
  return { results, committed };
}

/** The valid keys' domains, each once, in request order (a loop: flatMap made an array per URL). */
function distinctDomains(keys: SiteKey[]): string[] {
  const seen = new Set<string>();
  for (const key of keys) if ('domain' in key) seen.add(key.domain);
  return Array.from(seen);
}

/** Queues each domain of the batch that has no fresh rating, once per request. */
function enqueueMissing(
  store: Store,
  domains: string[],
  ratings: Map<string, RatingRow>,
  isFresh: (row: RatingRow) => boolean,
  request: LookupRequest,
  now: string,
  signal?: AbortFlag,
): Promise<void> {
  const missing = domains.filter((d) => {
    const row = ratings.get(d);
    return !row || !isFresh(row);
  });
  return store.enqueue(missing.map((domain) => ({ domain, priority: request.priority, sourceIp: request.sourceIp, now })), signal);
}
