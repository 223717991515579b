// For a persistent process: while one look-up (or queue write) is in flight, those of the
// requests that arrive meanwhile gather and go to the database together in the next one.
// Each request still gets exactly its own rows, and is answered only after its own queue
// rows are committed, so a 200 still means "queued"; the database sees one query and one
// commit per batch instead of per request.
import type { QueueItem, RatingRow, Store } from './store.js';

const MAX_BATCH_ROWS = 2000;

export function grouped(store: Store): Store {
  let waiting: Array<{ items: QueueItem[]; done(err?: unknown): void }> = [];
  let writing = false;

  async function writeAll(): Promise<void> {
    writing = true;
    while (waiting.length > 0) {
      let rows = 0;
      let take = 0;
      while (take < waiting.length && (take === 0 || rows + waiting[take].items.length <= MAX_BATCH_ROWS)) rows += waiting[take++].items.length;
      const batch = waiting.slice(0, take);
      waiting = waiting.slice(take);
      try {
        await store.enqueue(batch.flatMap((b) => b.items));
        for (const b of batch) b.done();
      } catch (err) {
        for (const b of batch) b.done(err);
      }
    }
    writing = false;
  }

  let lookupsWaiting: Array<{ domains: string[]; done(rows?: RatingRow[], err?: unknown): void }> = [];
  let looking = false;
  async function lookAll(): Promise<void> {
    looking = true;
    while (lookupsWaiting.length > 0) {
      const batch = lookupsWaiting;
      lookupsWaiting = [];
      try {
        const found = new Map((await store.lookup([...new Set(batch.flatMap((b) => b.domains))])).map((r) => [r.domain, r]));
        for (const b of batch) b.done(b.domains.flatMap((d) => (found.has(d) ? [found.get(d)!] : [])));
      } catch (err) {
        for (const b of batch) b.done(undefined, err);
      }
    }
    looking = false;
  }

  return {
    ...store,
    lookup(domains) {
      if (domains.length === 0) return Promise.resolve([]);
      return new Promise<RatingRow[]>((resolve, reject) => {
        lookupsWaiting.push({ domains, done: (rows, err) => (rows ? resolve(rows) : reject(err)) });
        if (!looking) void lookAll();
      });
    },
    enqueue(items) {
      if (items.length === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        waiting.push({ items, done: (err) => (err === undefined ? resolve() : reject(err)) });
        if (!writing) void writeAll();
      });
    },
  };
}
