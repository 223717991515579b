// The grouping batcher: asks made within the turns of the event loop a batch waits go
// together, and so do those that arrive while a batch is in flight; each caller gets
// exactly its own answer, a failure fails only its batch, and an ask aborted while it waits
// is never sent. Batchers that share a turn (look-ups and queue writes) have one statement
// in flight between them, and one held too long gives its turn up; with --db-read they do
// not share one.
import t from 'tap';
import { batcher, grouped, sharedTurn, GATHER_TURNS } from '../../lib/store/grouping.js';
import { openStore } from '../../lib/store/open.js';
import { sqliteStore } from '../helpers/stores.js';
import type { QueueItem, Store } from '../../lib/store/store.js';

/** A batch runner that records what it was given and answers when released. */
function gate() {
  const batches: number[][][] = [];
  const releases: Array<() => void> = [];
  let failNext = false;
  const run = (asks: number[][]) => {
    batches.push(asks);
    const fail = failNext;
    failNext = false;
    return new Promise<number[]>((resolve, reject) =>
      releases.push(() => (fail ? reject(new Error('batch failed')) : resolve(asks.map((a) => a.reduce((x, y) => x + y, 0))))),
    );
  };
  // One turn more than the batcher waits after an ask or an answer before it takes a batch.
  const tick = () =>
    new Promise<void>((resolve) => {
      let turns = 0;
      const turn = () => (++turns > GATHER_TURNS + 1 ? resolve() : setImmediate(turn));
      turn();
    });
  return { batches, run, tick, release: async () => (releases.shift()!(), await tick()), failNext: () => (failNext = true) };
}

/** A look-up batcher and a write batcher sharing one turn, each over its own gate. */
function sharingATurn(holdMs: number) {
  const lookups = gate();
  const writes = gate();
  const turn = sharedTurn(holdMs);
  return { lookups, writes, lookup: batcher(lookups.run, turn), write: batcher(writes.run, turn) };
}

t.test('asks gather while a batch is in flight; each caller gets its own answer', async (t) => {
  const g = gate();
  const ask = batcher(g.run);
  const first = ask([1, 2]);
  await g.tick();
  const later = [ask([10]), ask([20, 1]), ask([5])];
  await g.tick();
  t.same(g.batches, [[[1, 2]]], 'one batch in flight, the rest waiting');
  await g.release();
  t.same(g.batches[1], [[10], [20, 1], [5]], 'the waiting asks went together');
  await g.release();
  t.same(await Promise.all([first, ...later]), [3, 10, 21, 5]);
});

t.test('asks made by separate callbacks of one turn of the event loop go in one batch, the first too', async (t) => {
  const g = gate();
  const ask = batcher(g.run);
  // As a responder's reads are: each request in its own I/O callback, several ready at once.
  const answers = await new Promise<Array<Promise<number>>>((resolve) => {
    const made: Array<Promise<number>> = [];
    for (const n of [1, 2, 3]) setImmediate(() => made.push(ask([n])) === 3 && resolve(made));
  });
  await g.tick();
  t.same(g.batches, [[[1], [2], [3]]], 'one statement for the three');
  await g.release();
  t.same(await Promise.all(answers), [1, 2, 3]);
});

t.test('asks made over the turns a batch waits go in it; one made a turn later waits for the next', async (t) => {
  const g = gate();
  const ask = batcher(g.run);
  const answers: Array<Promise<number>> = [];
  await new Promise<void>((resolve) => {
    let turn = 0;
    const next = () => {
      answers.push(ask([turn]));
      if (++turn <= GATHER_TURNS + 1) setImmediate(next);
      else resolve();
    };
    next();
  });
  await g.tick();
  const inFirst = Array.from({ length: GATHER_TURNS }, (_, i) => [i]);
  t.same(g.batches, [inFirst], `the asks of the first ${GATHER_TURNS} turns went together`);
  await g.release();
  await g.release();
  t.same(g.batches[1], [[GATHER_TURNS], [GATHER_TURNS + 1]], 'the later ones in the next batch');
  t.same(await Promise.all(answers), Array.from({ length: GATHER_TURNS + 2 }, (_, i) => i));
});

t.test('a batch holds at most 2,000 rows, but always at least one ask', async (t) => {
  const g = gate();
  const ask = batcher(g.run);
  const big = Array.from({ length: 2500 }, () => 1);
  const answers = [ask([1]), ask(big), ask(Array(1500).fill(1)), ask(Array(500).fill(1)), ask([7])];
  await g.tick();
  for (let i = 0; i < 4; i++) await g.release();
  t.same(g.batches.map((b) => b.map((a) => a.length)), [[1], [2500], [1500, 500], [1]]);
  t.same(await Promise.all(answers), [1, 2500, 1500, 500, 7]);
});

t.test('a failed batch rejects its callers only', async (t) => {
  const g = gate();
  const ask = batcher(g.run);
  const first = ask([1]);
  await g.tick();
  const doomed = [ask([2]), ask([3]), ask([4])].map((d) => t.rejects(d, /batch failed/));
  g.failNext();
  await g.release(); // the first batch succeeds; the second (2, 3, 4) is made to fail
  await g.release();
  t.equal(await first, 1);
  await Promise.all(doomed);
  const next = ask([9]);
  await g.tick();
  await g.release();
  t.equal(await next, 9, 'the next batch is served');
});

t.test('an ask aborted while it waits is dropped before its batch is sent', async (t) => {
  const g = gate();
  const ask = batcher(g.run);
  const first = ask([1]);
  await g.tick();
  const abort = new AbortController();
  const dropped = t.rejects(ask([100], abort.signal), /client went away/);
  const kept = ask([2]);
  abort.abort(new Error('client went away'));
  await g.release();
  await g.release();
  t.same(g.batches, [[[1]], [[2]]], 'the aborted ask was never sent');
  await dropped;
  t.same([await first, await kept], [1, 2]);
});

t.test('batchers sharing a turn have one statement in flight between them; each gathers while the other runs', async (t) => {
  const { lookups, writes, lookup, write } = sharingATurn(60_000);
  const first = lookup([1]);
  await lookups.tick();
  const written = [write([10]), write([20])];
  const looked = lookup([2]);
  await lookups.tick();
  t.same([lookups.batches.length, writes.batches.length], [1, 0], 'the writes wait while the look-up is in flight');
  const moreWritten = write([30]);
  await lookups.release();
  t.same(writes.batches, [[[10], [20], [30]]], 'then go as one batch, with the one asked meanwhile');
  t.equal(lookups.batches.length, 1, 'the second look-up waits for the writes');
  await writes.release();
  t.same(lookups.batches[1], [[2]], 'and runs once they are done');
  await lookups.release();
  t.same(await Promise.all([first, looked, ...written, moreWritten]), [1, 2, 10, 20, 30]);
});

t.test('a batcher with nothing asked meanwhile leaves the shared turn at its answer: the writes its answers ask go a batch wait later', async (t) => {
  const { lookups, writes, lookup, write } = sharingATurn(60_000);
  // As a responder's requests do: each answered look-up asks for its queue write at once.
  const done = [1, 2].map((n) => lookup([n]).then((sum) => write([sum * 10])));
  await lookups.tick();
  t.same(lookups.batches, [[[1], [2]]]);
  // Turns of the event loop from the look-up's answer until the writes' batch is sent.
  let turns = 0;
  const sentAfter = new Promise<number>((resolve) => {
    const count = () => (writes.batches.length > 0 ? resolve(turns) : (turns++, setImmediate(count)));
    setImmediate(count);
  });
  await lookups.release();
  const turnsTaken = await sentAfter;
  t.ok(turnsTaken <= GATHER_TURNS + 1, `sent ${turnsTaken} turns after the answer: within ${GATHER_TURNS + 1}, not after an empty wait of the look-ups' first`);
  t.same(writes.batches, [[[10], [20]]], 'the two writes went as one batch');
  await writes.release();
  t.same(await Promise.all(done), [10, 20]);
});

t.test('a statement in flight longer than the hold gives its turn up; its own batcher still waits for it', async (t) => {
  const { lookups, writes, lookup, write } = sharingATurn(200);
  const slow = lookup([1]);
  await lookups.tick();
  const written = write([10]);
  const laterLookup = lookup([2]);
  await lookups.tick();
  t.equal(writes.batches.length, 0, 'the write waits while the look-up is young');
  const since = Date.now();
  while (writes.batches.length === 0 && Date.now() - since < 10_000) await new Promise((resolve) => setTimeout(resolve, 5));
  t.same(writes.batches, [[[10]]], 'the write went once the look-up had held its turn too long');
  await writes.release();
  t.equal(await written, 10);
  t.equal(lookups.batches.length, 1, 'the second look-up waits for the first, not for the turn');
  await lookups.release();
  await lookups.release();
  t.same([await slow, await laterLookup], [1, 2]);
});

t.test('grouped(): on one server a look-up waits for the queue write in flight; with --db-read (two servers) it does not', async (t) => {
  for (const separateServers of [false, true]) {
    const sent: string[] = [];
    const answers: Array<() => void> = [];
    const held = (what: string) => {
      sent.push(what);
      return new Promise<void>((resolve) => answers.push(resolve));
    };
    const store = {
      kind: 'mysql',
      lookup: async (domains: string[]) => (await held(`look-up ${domains.join(' ')}`), []),
      enqueue: (items: QueueItem[]) => held(`write ${items.map((item) => item.domain).join(' ')}`),
    } as unknown as Store;
    const { tick } = gate();
    // A hold far longer than the test: only the separate turns can let the look-up through.
    const g = grouped(store, { separateServers, holdMs: 60_000 });
    const written = g.enqueue([{ domain: 'new.example', priority: 1, sourceIp: null, now: '2026-11-27 00:00:00' }]);
    await tick();
    const looked = g.lookup(['rated.example']);
    await tick();
    t.same(sent, separateServers ? ['write new.example', 'look-up rated.example'] : ['write new.example'], separateServers ? 'two servers: the look-up is sent while the write is in flight' : 'one server: the look-up waits');
    while (answers.length > 0) {
      answers.shift()!();
      await tick();
    }
    await Promise.all([written, looked]);
    t.same(sent, ['write new.example', 'look-up rated.example'], 'both sent, once each');
  }
});

t.test('grouped(): taking turns, a queue write goes at the end of the turn it was asked in; with --db-read it gathers as a look-up does', async (t) => {
  for (const separateServers of [false, true]) {
    let turn = 0;
    let sentIn = -1;
    const store = { kind: 'mysql', lookup: async () => [], enqueue: async () => void (sentIn = turn) } as unknown as Store;
    const g = grouped(store, { separateServers });
    t.equal(g.writesAtTurnEnd, !separateServers, 'the store says whether its writes go at the end of the turn');
    const written = g.enqueue([{ domain: 'new.example', priority: 1, sourceIp: null, now: '2026-11-28 00:00:00' }]);
    // Counted from the ask, as the handler's rendering is: a turn of the event loop each.
    await new Promise<void>((resolve) => {
      const next = () => (sentIn >= 0 || turn > 2 * GATHER_TURNS ? resolve() : (turn++, setImmediate(next)));
      setImmediate(next);
    });
    await written;
    if (separateServers) t.ok(sentIn >= GATHER_TURNS - 1, `two servers: sent ${sentIn} turns after the ask, gathered like a look-up`);
    else t.equal(sentIn, 0, 'one server: sent before the next turn, so before the answers are rendered (core/handler.ts)');
  }
});

t.test('grouped() over a real store: concurrent callers get exactly their own rows', async (t) => {
  const scratch = await sqliteStore();
  t.teardown(() => scratch.close());
  await scratch.sql("INSERT INTO site_ratings VALUES ('a.example', 'A', NULL, '2026-01-01 00:00:00', NULL), ('b.example', 'B', NULL, '2026-01-01 00:00:00', NULL)");
  const store = grouped(await openStore(scratch.url));
  t.teardown(() => store.close());
  const [one, two, none, twice] = await Promise.all([
    store.lookup(['a.example', 'x.example']),
    store.lookup(['b.example', 'a.example']),
    store.lookup([]),
    store.lookup(['b.example', 'y.example', 'b.example']),
  ]);
  t.same(one.map((r) => r.domain), ['a.example']);
  t.same(two.map((r) => r.domain), ['b.example', 'a.example'], 'in the order asked');
  t.same(none, []);
  t.same(twice.map((r) => r.domain), ['b.example', 'b.example'], 'a domain asked twice gets its row twice');
  const now = '2026-11-26 00:00:00';
  await Promise.all([
    store.enqueue([{ domain: 'q.example', priority: 2, sourceIp: null, now }]),
    store.enqueue([{ domain: 'q.example', priority: 5, sourceIp: '192.0.2.1', now }]),
  ]);
  t.same(await scratch.sql("SELECT priority, requests, source_ip FROM rating_queue WHERE domain = 'q.example'"), [{ priority: 5, requests: 2, source_ip: '192.0.2.1' }]);
});
