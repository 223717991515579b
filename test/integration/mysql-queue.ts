// The responder's queue write on the real MariaDB: a batch of up to 32 rows goes as a
// prepared statement (one per row count), a larger one as a plain query. Both must leave
// the same rows: one per domain, `requests` counting every row, the highest priority, the
// last source address.
import t from 'tap';
import { mysqlStore } from '../helpers/stores.js';
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

t.test('a queue write of up to 32 rows (prepared) and of more (a plain query) leave the same rows', async (t) => {
  const scratch = await mysqlStore(t);
  if (!scratch) return;
  t.teardown(() => scratch.close());
  const store = await openStore(scratch.url, { persistent: true, poolSize: 2 });
  t.teardown(() => store.close());
  for (const [prefix, n] of [['small', 20], ['large', 40]] as const) {
    const rows = items(prefix, n);
    await store.enqueue(rows);
    const stored = await scratch.sql('SELECT domain, priority, requests, source_ip FROM rating_queue WHERE domain LIKE ? ORDER BY domain', [`${prefix}%`]);
    t.same(stored.map((r) => ({ ...r, priority: Number(r.priority), requests: Number(r.requests) })), expected(rows), `${n} rows`);
  }
  // Again, into the rows now there: every count goes up by as many rows again.
  await store.enqueue(items('small', 20));
  const again = await scratch.sql("SELECT SUM(requests) AS total FROM rating_queue WHERE domain LIKE 'small%'");
  t.equal(Number(again[0].total), 40);
});
