// For a persistent process: while one look-up (or queue write) is in flight, those of the
// requests that arrive meanwhile gather and go to the database together in the next one.
// Each request still gets exactly its own rows, and is answered only after its own queue
// rows are committed, so a 200 still means "queued"; the database sees one query and one
// commit per batch instead of per request.
import type { QueueItem, RatingRow, Store } from './store.js';

const MAX_BATCH_ROWS = 2000;

/**
 * Calls `run` with the asks of every waiting caller, one batch at a time (at most
 * MAX_BATCH_ROWS rows, but never fewer than one ask), and gives each caller its answer.
 */
function batcher<Row, Answer>(run: (asks: Row[][]) => Promise<Answer[]>): (ask: Row[]) => Promise<Answer> {
  let waiting: Array<{ ask: Row[]; resolve(answer: Answer): void; reject(err: unknown): void }> = [];
  let running = false;

  async function drain(): Promise<void> {
    running = true;
    while (waiting.length > 0) {
      let rows = 0;
      let take = 0;
      while (take < waiting.length && (take === 0 || rows + waiting[take].ask.length <= MAX_BATCH_ROWS)) rows += waiting[take++].ask.length;
      const batch = waiting.slice(0, take);
      waiting = waiting.slice(take);
      try {
        const answers = await run(batch.map((w) => w.ask));
        batch.forEach((w, i) => w.resolve(answers[i]));
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    running = false;
  }

  return (ask) =>
    new Promise<Answer>((resolve, reject) => {
      waiting.push({ ask, resolve, reject });
      if (!running) void drain();
    });
}

export function grouped(store: Store): Store {
  const lookup = batcher(async (asks: string[][]): Promise<RatingRow[][]> => {
    const found = new Map((await store.lookup([...new Set(asks.flat())])).map((r) => [r.domain, r]));
    return asks.map((domains) => domains.flatMap((d) => (found.has(d) ? [found.get(d)!] : [])));
  });
  const enqueue = batcher(async (asks: QueueItem[][]): Promise<void[]> => {
    await store.enqueue(asks.flat());
    return asks.map(() => undefined);
  });
  return {
    ...store,
    lookup: (domains) => (domains.length === 0 ? Promise.resolve([]) : lookup(domains)),
    enqueue: (items) => (items.length === 0 ? Promise.resolve() : enqueue(items)),
  };
}
