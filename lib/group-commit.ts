// Group commit for a persistent process: while one queue write is in flight, the rows of
// the requests that arrive meanwhile gather, and go to the database together in the next
// write. Each request is still answered only after its own rows are committed, so a 200
// still means "queued"; the database sees one commit per batch instead of per request.
import type { QueueItem, Store } from './store.js';

const MAX_BATCH_ROWS = 2000;

export function groupCommit(store: Store): Store {
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

  return {
    ...store,
    enqueue(items) {
      if (items.length === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        waiting.push({ items, done: (err) => (err === undefined ? resolve() : reject(err)) });
        if (!writing) void writeAll();
      });
    },
  };
}
