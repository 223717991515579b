// The queue write on both stores, in every shape it takes. MariaDB, a responder's pool: up
// to 32 rows go as a prepared statement (one per row count), more as a plain query; a CGI
// run's connection sends a plain query. SQLite: up to 16 rows are one statement (atomic by
// itself), more are chunks in one IMMEDIATE transaction. Every shape must leave the same
// rows: one per domain, `requests` counting every row, the highest priority, the last source
// address.
import t from 'tap';
import type { Test } from 'tap';
import { mysqlStore, sqliteStore } from '../helpers/stores.js';
import type { ScratchStore } from '../helpers/stores.js';
import { openStore } from '../../lib/store/open.js';
import type { QueueItem } from '../../lib/store/store.js';

const now = '2026-11-26 12:00:00';

/** n rows over 7 domains of `prefix`, priorities and addresses varying. */
function items(prefix: string, n: number): QueueItem[] {
  return Array.from({ length: n }, (_, i) => ({ domain: `${prefix}${i % 7}.example`, priority: (i * 5) % 4, sourceIp: i % 3 ? `192.0.2.${i}` : null, now }));
}

/** What the queue should hold after `rows` were written into an empty queue. */
function expected(rows: QueueItem[]) {
  const by = new Map<string, { domain: string; priority: number; requests: number; source_ip: string | null }>();
  for (const r of rows) {
    const row = by.get(r.domain) ?? { domain: r.domain, priority: r.priority, requests: 0, source_ip: null };
    by.set(r.domain, { domain: r.domain, priority: Math.max(row.priority, r.priority), requests: row.requests + 1, source_ip: r.sourceIp });
  }
  return [...by.values()].sort((a, b) => (a.domain < b.domain ? -1 : 1));
}

const SIZES = [1, 3, 16, 17, 20, 32, 40];

async function check(t: Test, scratch: ScratchStore, options: { persistent?: boolean; poolSize?: number; oneRequest?: boolean }) {
  const store = await openStore(scratch.url, options);
  t.teardown(() => store.close());
  for (const n of SIZES) {
    const prefix = `n${n}-`;
    const rows = items(prefix, n);
    await store.enqueue(rows);
    const stored = await scratch.sql('SELECT domain, priority, requests, source_ip FROM rating_queue WHERE domain LIKE ? ORDER BY domain', [`${prefix}%`]);
    t.same(stored.map((r) => ({ ...r, priority: Number(r.priority), requests: Number(r.requests) })), expected(rows), `${n} rows`);
  }
  // Again, into the rows now there: every count goes up by as many rows again.
  await store.enqueue(items('n20-', 20));
  const again = await scratch.sql("SELECT SUM(requests) AS total FROM rating_queue WHERE domain LIKE 'n20-%'");
  t.equal(Number(again[0].total), 40);
}

t.test('MariaDB: every shape of queue write leaves the same rows', async (t) => {
  for (const [what, options] of [['a pool', { persistent: true, poolSize: 2 }], ['one connection', { oneRequest: true }]] as const) {
    await t.test(what, async (t) => {
      const scratch = await mysqlStore(t);
      if (!scratch) return;
      t.teardown(() => scratch.close());
      await check(t, scratch, options);
    });
  }
});

t.test('SQLite: every shape of queue write leaves the same rows', async (t) => {
  const scratch = await sqliteStore();
  t.teardown(() => scratch.close());
  await check(t, scratch, { oneRequest: true });
});
