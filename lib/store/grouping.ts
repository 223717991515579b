// For a persistent process: while one look-up (or queue write) is in flight, those of the
// requests that arrive meanwhile gather and go to the database together in the next one.
// A batch is taken a few turns of the event loop after the ask that starts it (or the answer
// of the batch before, for the asks made while that one was in flight): each
// turn runs every I/O callback that is ready (a non-blocking poll while an immediate is
// pending), so the requests read meanwhile join it instead of waiting a whole round trip
// for the next statement. Fewer, larger statements cost less CPU per request on both sides
// (peers rig, README "Performance"); at one connection the turns cost nothing measurable.
// The look-ups and the queue writes take turns, one statement in flight between them: a
// request's write follows its look-up, so while a look-up is in flight the writes of the
// batch before gather, and the reverse, and each statement carries about twice the requests
// it would if both kinds ran side by side (statements a request 0.29 -> 0.17, nginx-wrk.sh). A
// statement still in flight after HOLD_MS (a lock wait, a lost server being failed over)
// gives its turn up, so neither kind waits long behind the other. With --db-read the two
// kinds go to different servers and do not take turns.
// Each request still gets exactly its own rows, and is answered only after its own queue
// rows are committed, so a 200 still means "queued"; the database sees one query and one
// commit per batch instead of per request. An ask whose request was aborted while it
// waited is dropped before its batch is sent.
import { AbortedError } from '../core/errors.js';
import type { AbortFlag } from '../core/errors.js';
import type { QueueItem, RatingRow, Store } from './store.js';

const MAX_BATCH_ROWS = 2000;
// Turns of the event loop a batch waits for more asks (a look-up's, whose asks come as requests
// are read; a queue write taking turns with the look-ups waits one). Peers rig, statements a request:
// 0.48 taking the batch at once, 0.40 after one turn, 0.32-0.36 after two, 0.28-0.35 after
// four, and no fewer after eight.
export const GATHER_TURNS = 4;
// How long one statement may keep the other kind of statement waiting, in ms: many times a
// statement's usual round trip on a loaded server (~1-3 ms), yet short beside a lock wait.
export const HOLD_MS = 25;

interface Waiting<Row, Answer> {
  ask: Row[];
  signal?: AbortFlag;
  resolve(answer: Answer): void;
  reject(err: unknown): void;
}

/**
 * The right to send one statement: a function to call when the statement is done (a second
 * call does nothing), at once when the turn is free, else a promise of it.
 */
export type Turn = () => Done | Promise<Done>;
type Done = () => void;

/** The right to send, shared: one holder at a time, in the order asked, each for at most `holdMs`. */
export function sharedTurn(holdMs = HOLD_MS): Turn {
  const waiting: Array<() => void> = [];
  let held = false;
  const grant = (): Done => {
    let holding = true;
    const done = () => {
      if (!holding) return;
      holding = false;
      clearTimeout(timer);
      const next = waiting.shift();
      if (next) next();
      else held = false;
    };
    const timer = setTimeout(done, holdMs);
    return done;
  };
  return () => {
    if (held) return new Promise((resolve) => waiting.push(() => resolve(grant())));
    held = true;
    return grant();
  };
}

/** A turn of one's own: a batcher that shares with no one. */
const ownTurn: Turn = () => () => {};

/**
 * Calls `run` with the asks of every waiting caller, one batch at a time (at most
 * MAX_BATCH_ROWS rows, but never fewer than one ask), each in a `turn` and taken
 * `gatherTurns` turns of the event loop after it, and gives each caller its answer.
 */
export function batcher<Row, Answer>(run: (asks: Row[][]) => Promise<Answer[]>, turn: Turn = ownTurn, gatherTurns = GATHER_TURNS): (ask: Row[], signal?: AbortFlag) => Promise<Answer> {
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
      const turn = () => (++turns > gatherTurns ? resolve(nextBatch()) : setImmediate(turn));
      turn();
    });

  async function drain(): Promise<void> {
    running = true;
    // Nothing asked while the last batch was in flight: the turn is left free at once (gathering
    // for nothing would hold it, and the other kind's batch, asked by the answers just given,
    // would wait those turns too); the next ask starts this again.
    while (waiting.length > 0) {
      // The batch is taken once the turn is ours: asks keep joining while the other kind's statement is in flight.
      const granted = turn();
      const done = typeof granted === 'function' ? granted : await granted;
      const batch = await gathered();
      if (batch.length === 0) {
        done();
        break;
      }
      try {
        const answers = await run(batch.map((w) => w.ask));
        done();
        batch.forEach((w, i) => w.resolve(answers[i]));
      } catch (err) {
        done();
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

export interface GroupingOptions {
  /**
   * Look-ups and queue writes go to different servers (--db-read): each kind then keeps a
   * statement in flight of its own, since a look-up on a nearby replica must not wait behind
   * a queue write on a distant primary (nor its 25 ms hold when the write is stuck), and
   * taking turns saves nothing on two servers that it would on one.
   */
  separateServers?: boolean;
  holdMs?: number;
}

export function grouped(store: Store, { separateServers = false, holdMs = HOLD_MS }: GroupingOptions = {}): Store {
  const lookupTurn = separateServers ? ownTurn : sharedTurn(holdMs);
  const enqueueTurn = separateServers ? ownTurn : lookupTurn;
  // Taking turns, the queue writes are asked by the answers of one look-up, all in one turn of
  // the event loop: their batch goes at the end of it, before the answers are rendered.
  const writesAtTurnEnd = !separateServers;
  const lookup = batcher(async (asks: string[][]): Promise<RatingRow[][]> => {
    const found = new Map<string, RatingRow>();
    for (const row of await store.lookup(distinct(asks))) found.set(row.domain, row);
    return asks.map((domains) => rowsOf(domains, found));
  }, lookupTurn);
  const enqueue = batcher(
    async (asks: QueueItem[][]): Promise<void[]> => {
      await store.enqueue(asks.flat());
      return asks.map(() => undefined);
    },
    enqueueTurn,
    writesAtTurnEnd ? 1 : GATHER_TURNS,
  );
  return {
    ...store,
    writesAtTurnEnd,
    lookup: (domains, signal) => (domains.length === 0 ? Promise.resolve([]) : lookup(domains, signal)),
    enqueue: (items, signal) => (items.length === 0 ? Promise.resolve() : enqueue(items, signal)),
  };
}
