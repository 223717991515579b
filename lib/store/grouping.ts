// For a persistent process: while one look-up (or queue write) is in flight, those of the
// requests that arrive meanwhile gather and go to the database together in the next one.
// A batch is taken a few turns of the event loop after the ask or answer that starts it: each
// turn runs every I/O callback that is ready (a non-blocking poll while an immediate is
// pending), so the requests read meanwhile join it instead of waiting a whole round trip
// for the next statement. Fewer, larger statements cost less CPU per request on both sides
// (peers rig, README "Performance"); at one connection the turns cost nothing measurable.
// Each request still gets exactly its own rows, and is answered only after its own queue
// rows are committed, so a 200 still means "queued"; the database sees one query and one
// commit per batch instead of per request. An ask whose request was aborted while it
// waited is dropped before its batch is sent.
import { AbortedError } from '../core/errors.js';
import type { AbortFlag } from '../core/errors.js';
import type { QueueItem, RatingRow, Store } from './store.js';

const MAX_BATCH_ROWS = 2000;
// Turns of the event loop a batch waits for more asks. Peers rig, statements a request:
// 0.48 taking the batch at once, 0.40 after one turn, 0.32-0.36 after two, 0.28-0.35 after
// four, and no fewer after eight.
export const GATHER_TURNS = 4;

interface Waiting<Row, Answer> {
  ask: Row[];
  signal?: AbortFlag;
  resolve(answer: Answer): void;
  reject(err: unknown): void;
}

/**
 * Calls `run` with the asks of every waiting caller, one batch at a time (at most
 * MAX_BATCH_ROWS rows, but never fewer than one ask), and gives each caller its answer.
 */
export function batcher<Row, Answer>(run: (asks: Row[][]) => Promise<Answer[]>): (ask: Row[], signal?: AbortFlag) => Promise<Answer> {
  const waiting: Array<Waiting<Row, Answer>> = [];
  let running = false;

  /** The next batch, in arrival order; aborted asks are rejected (AbortedError) and left out. */
  function nextBatch(): Array<Waiting<Row, Answer>> {
    const batch: Array<Waiting<Row, Answer>> = [];
    let rows = 0;
    while (waiting.length > 0 && (batch.length === 0 || rows + waiting[0].ask.length <= MAX_BATCH_ROWS)) {
      const next = waiting.shift()!;
      if (next.signal?.aborted) {
        next.reject(new AbortedError('the client went away'));
        continue;
      }
      batch.push(next);
      rows += next.ask.length;
    }
    return batch;
  }

  /** The next batch, GATHER_TURNS turns of the event loop from now. */
  const gathered = () =>
    new Promise<Array<Waiting<Row, Answer>>>((resolve) => {
      let turns = 0;
      const turn = () => (++turns > GATHER_TURNS ? resolve(nextBatch()) : setImmediate(turn));
      turn();
    });

  async function drain(): Promise<void> {
    running = true;
    for (let batch = await gathered(); batch.length > 0; batch = await gathered()) {
      try {
        const answers = await run(batch.map((w) => w.ask));
        batch.forEach((w, i) => w.resolve(answers[i]));
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    running = false;
  }

  return (ask, signal) =>
    new Promise<Answer>((resolve, reject) => {
      waiting.push({ ask, signal, resolve, reject });
      if (!running) void drain();
    });
}

// Loops, not flat/flatMap/spread: with 10 URLs a request these were ~5 % of a responder's
// CPU (an array made per domain, two copies of the batch).
/** Every domain the asks name, once, in the order first asked. */
function distinct(asks: string[][]): string[] {
  const seen = new Set<string>();
  for (const ask of asks) for (const domain of ask) seen.add(domain);
  return Array.from(seen);
}

/** The found rows of one ask, in its order (a domain it names twice gets its row twice). */
function rowsOf(domains: string[], found: Map<string, RatingRow>): RatingRow[] {
  const rows: RatingRow[] = [];
  for (const domain of domains) {
    const row = found.get(domain);
    if (row) rows.push(row);
  }
  return rows;
}

export function grouped(store: Store): Store {
  const lookup = batcher(async (asks: string[][]): Promise<RatingRow[][]> => {
    const found = new Map<string, RatingRow>();
    for (const row of await store.lookup(distinct(asks))) found.set(row.domain, row);
    return asks.map((domains) => rowsOf(domains, found));
  });
  const enqueue = batcher(async (asks: QueueItem[][]): Promise<void[]> => {
    await store.enqueue(asks.flat());
    return asks.map(() => undefined);
  });
  return {
    ...store,
    lookup: (domains, signal) => (domains.length === 0 ? Promise.resolve([]) : lookup(domains, signal)),
    enqueue: (items, signal) => (items.length === 0 ? Promise.resolve() : enqueue(items, signal)),
  };
}
