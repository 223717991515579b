// The look-up in every shape it takes. MariaDB, a responder's pool: a prepared statement
// whose IN list is padded with NULLs to a power of two (one statement per size); a CGI run's
// connection: one plain query. SQLite: chunks of at most 999 keys. Every shape must find
// exactly the rated domains asked for (a padding NULL finds nothing), each once, whatever
// the count, with the times as stored.
import t from 'tap';
import type { Test } from 'tap';
import { eachStoreShape } from '../helpers/stores.js';
import type { ScratchStore } from '../helpers/stores.js';
import { openStore } from '../../lib/store/open.js';
import type { OpenOptions } from '../../lib/store/store.js';

const RATED = 40; // rated0.example … rated39.example
// Around each power of two the pool pads to, and past the largest the tests reach.
const SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 64, 65, 100];

/** n domains: every third one never rated, one asked twice. */
function asked(n: number): string[] {
  const domains = Array.from({ length: n }, (_, i) => (i % 3 === 2 ? `unrated${n}-${i}.example` : `rated${(i * 7) % RATED}.example`));
  if (n > 4) domains[n - 1] = domains[0];
  return domains;
}

async function check(t: Test, scratch: ScratchStore, options: OpenOptions) {
  const values = Array.from({ length: RATED }, (_, i) => `('rated${i}.example', '${'ABCDF'[i % 5]}', ${i % 2 ? `'info ${i}'` : 'NULL'}, '2026-01-${String((i % 28) + 1).padStart(2, '0')} 12:34:56', ${i % 4 ? `'2027-02-03 04:05:0${i % 10}'` : 'NULL'})`);
  await scratch.sql(`INSERT INTO site_ratings VALUES ${values.join(', ')}`);
  const store = await openStore(scratch.url, options);
  t.teardown(() => store.close());
  for (const n of SIZES) {
    const domains = asked(n);
    const rows = await store.lookup(domains);
    const wanted = [...new Set(domains.filter((d) => d.startsWith('rated')))].sort();
    t.same(rows.map((r) => r.domain).sort(), wanted, `${n} domains: each rated one found once, nothing else`);
    const i = Number(/rated(\d+)/.exec(wanted[0])![1]);
    t.same(
      rows.find((r) => r.domain === wanted[0]),
      {
        domain: wanted[0],
        rating: 'ABCDF'[i % 5],
        info: i % 2 ? `info ${i}` : null,
        ratedAt: `2026-01-${String((i % 28) + 1).padStart(2, '0')} 12:34:56`,
        expiresAt: i % 4 ? `2027-02-03 04:05:0${i % 10}` : null,
      },
      `${n} domains: a row as stored`,
    );
  }
}

t.test('every shape of look-up finds the same rows', (t) => eachStoreShape(t, check));
