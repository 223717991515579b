// The queue write on both stores, in every shape it takes. MariaDB, a responder's pool: up
// to 32 rows go as a prepared statement (one per row count), more as a plain query; a CGI
// run's connection sends a plain query. SQLite: up to 16 rows are one statement (atomic by
// itself), more are chunks in one IMMEDIATE transaction. Every shape must leave the same
// rows: one per domain, `requests` counting every row, the highest priority, the last source
// address, the first asking item's time as first_requested and the last one's as
// last_requested. (Rows of one domain within a write go to the database as one row.)
import t from 'tap';
import type { Test } from 'tap';
import { eachStoreShape } from '../helpers/stores.js';
import type { ScratchStore } from '../helpers/stores.js';
import { openStore } from '../../lib/store/open.js';
import type { QueueItem } from '../../lib/store/store.js';

/** n rows over 7 domains of `prefix`, priorities, addresses and times varying. */
function items(prefix: string, n: number, minute = 0): QueueItem[] {
  return Array.from({ length: n }, (_, i) => ({
    domain: `${prefix}${i % 7}.example`,
    priority: (i * 5) % 4,
    sourceIp: i % 3 ? `192.0.2.${i}` : null,
    now: `2026-11-26 12:${String(minute).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}`,
  }));
}

interface Stored { domain: string; priority: number; first_requested: string; last_requested: string; requests: number; source_ip: string | null }

/** What the queue should hold after `rows` were written into an empty queue, one by one. */
function expected(rows: QueueItem[]): Stored[] {
  const by = new Map<string, Stored>();
  for (const r of rows) {
    const row = by.get(r.domain) ?? { domain: r.domain, priority: r.priority, first_requested: r.now, last_requested: r.now, requests: 0, source_ip: null };
    by.set(r.domain, { ...row, priority: Math.max(row.priority, r.priority), last_requested: r.now, requests: row.requests + 1, source_ip: r.sourceIp });
  }
  return [...by.values()].sort((a, b) => (a.domain < b.domain ? -1 : 1));
}

const stored = async (scratch: ScratchStore, prefix: string) =>
  (await scratch.sql('SELECT domain, priority, first_requested, last_requested, requests, source_ip FROM rating_queue WHERE domain LIKE ? ORDER BY domain', [`${prefix}%`])).map(
    (r) => ({ ...r, priority: Number(r.priority), requests: Number(r.requests) }),
  );

const SIZES = [1, 3, 16, 17, 20, 32, 40];

async function check(t: Test, scratch: ScratchStore, options: { persistent?: boolean; poolSize?: number; oneRequest?: boolean }) {
  const store = await openStore(scratch.url, options);
  t.teardown(() => store.close());
  for (const n of SIZES) {
    const prefix = `n${n}-`;
    const rows = items(prefix, n);
    await store.enqueue(rows);
    t.same(await stored(scratch, prefix), expected(rows), `${n} rows`);
  }
  // Again, into the rows now there: every count goes up by as many rows again, the first
  // times stay, the last ones move on.
  const first = items('n20-', 20);
  const later = items('n20-', 20, 30);
  await store.enqueue(later);
  t.same(await stored(scratch, 'n20-'), expected([...first, ...later]), '20 rows again');
  // A count at the column's largest value stays there: the write is taken, not refused as
  // out of range (which made every request naming the domain a 500), the rest merged as ever.
  await scratch.sql("UPDATE rating_queue SET requests = 2147483646 WHERE domain = 'n20-0.example'");
  await store.enqueue([...items('n20-', 1, 40), ...items('n20-', 1, 41)]);
  await store.enqueue(items('n20-', 2, 42));
  const hot = (await stored(scratch, 'n20-0.example'))[0] as unknown as Stored;
  t.same([hot.requests, hot.last_requested], [2147483647, '2026-11-26 12:42:00'], 'requests stops at 2147483647');
}

t.test('every shape of queue write leaves the same rows', (t) => eachStoreShape(t, check));
