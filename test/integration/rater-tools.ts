// The rater's tools on both stores: import (CSV and JSON lines), queue, claim, rating.
import t from 'tap';
import { spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, BIN, WEB_SERVER_PATH } from '../helpers/run.js';
import { eachStore } from '../helpers/stores.js';
import type { ScratchStore } from '../helpers/stores.js';

const dir = mkdtempSync(join(tmpdir(), 'adrater-import-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let fileSeq = 0;
function file(text: string | Buffer, ext = 'csv'): string {
  const path = join(dir, `f${++fileSeq}.${ext}`);
  writeFileSync(path, text);
  return path;
}

const ratings = (store: ScratchStore) =>
  store.sql('SELECT domain, rating, info, rated_at, expires_at FROM site_ratings ORDER BY domain');

t.test('import', (t) =>
  eachStore(t, async (t, store) => {
    const db = ['--db', store.url];
    const csv =
      '\uFEFFdomain,rating,info,rated_at,expires_at\r\n' +
      'https://www.Example.com/x,A,"Shop, Inc. says ""hi""",2025-01-01T00:00:00Z,\r\n' +
      'bad..host,B,,2025-01-01,\r\n' +
      'multi.example,C,"line1\r\nline2",2025-02-02 10:00:00,2026-01-01\r\n' +
      'nodate.example,C,,yesterday,\r\n' +
      ',D,,2025-01-01,\r\n' +
      'long.example,ABCDEFGHIJKLMNOPQ,,2025-01-01,\r\n' +
      'bücher.de,B,"=cmd|\' /C calc\'!A0",2025-03-03T12:00:00+02:00,2030-01-01T00:00:00Z\r\n' +
      'few.example,B\r\n' +
      "x'); DROP TABLE site_ratings; --.example,A,,2025-01-01,\r\n";
    await store.sql("INSERT INTO rating_queue VALUES ('example.com', 3, '2025-01-01 00:00:00', '2025-01-01 00:00:00', 4, NULL), ('waiting.example', 2, '2025-01-01 00:00:00', '2025-01-01 00:00:00', 1, NULL)");
    const result = await run(['import', file(csv), ...db], {});
    t.equal(result.code, 1, 'exit 1: rows were refused');
    t.same(result.stderr.trim().split('\n'), [
      'adrater: line 3: refused: invalid site "bad..host": not a valid host name',
      'adrater: line 6: refused: unknown date in rated_at: "yesterday"',
      'adrater: line 7: refused: missing domain',
      'adrater: line 8: refused: rating over 16 characters',
      'adrater: line 10: refused: expected 5 fields, found 2',
      'adrater: line 11: refused: invalid site "x\'); DROP TABLE site_ratings; --.example": not a valid url',
      'adrater: 9 rows read, 3 taken, 0 ignored as older, 6 refused',
    ], 'physical line numbers, the header is line 1');
    t.same(await ratings(store), [
      { domain: 'example.com', rating: 'A', info: 'Shop, Inc. says "hi"', rated_at: '2025-01-01 00:00:00', expires_at: null },
      { domain: 'multi.example', rating: 'C', info: 'line1\r\nline2', rated_at: '2025-02-02 10:00:00', expires_at: '2026-01-01 00:00:00' },
      { domain: 'xn--bcher-kva.de', rating: 'B', info: "=cmd|' /C calc'!A0", rated_at: '2025-03-03 10:00:00', expires_at: '2030-01-01 00:00:00' },
    ], 'good rows written, canonicalised, times in UTC, text kept as it was');
    t.same(await store.sql('SELECT domain FROM rating_queue'), [{ domain: 'waiting.example' }], 'a rated domain leaves the queue');

    // Newer wins; older is ignored unless --force.
    const older = file('domain,rating,info,rated_at,expires_at\nexample.com,F,old,2024-01-01,\n');
    const ignored = await run(['import', older, ...db], {});
    t.equal(ignored.code, 0);
    t.match(ignored.stderr, /1 rows read, 0 taken, 1 ignored as older, 0 refused/);
    t.match(await store.sql("SELECT rating FROM site_ratings WHERE domain = 'example.com'"), [{ rating: 'A' }]);
    await run(['import', older, '--force', ...db], {});
    t.match(await store.sql("SELECT rating FROM site_ratings WHERE domain = 'example.com'"), [{ rating: 'F' }], '--force replaces');
    const newer = file('{"domain":"example.com","rating":"A+","info":null,"rated_at":"2026-01-01T00:00:00Z","expires_at":"2027-01-01"}\n\nnot json\n{"domain":"json.example","rating":"B","rated_at":"2026-01-01"}\n', 'jsonl');
    const jsonl = await run(['import', newer, ...db], {});
    t.equal(jsonl.code, 1);
    t.match(jsonl.stderr, /line 3: refused: not valid JSON/);
    t.match(jsonl.stderr, /3 rows read, 2 taken, 0 ignored as older, 1 refused/);
    t.match(await store.sql("SELECT rating, expires_at FROM site_ratings WHERE domain = 'example.com'"), [{ rating: 'A+', expires_at: '2027-01-01 00:00:00' }]);

    // --strict: one bad row and nothing is written.
    const before = await ratings(store);
    const strict = await run(['import', file('domain,rating,info,rated_at,expires_at\nnew1.example,A,,2026-01-01,\nnew2.example,A,,nope,\n'), '--strict', ...db], {});
    t.equal(strict.code, 1);
    t.match(strict.stderr, /line 3: unknown date in rated_at: "nope"; --strict: nothing written/);
    t.same(await ratings(store), before, '--strict left the database untouched');

    // stdin, and large batches in bounded transactions.
    const lines = ['domain,rating,info,rated_at,expires_at'];
    for (let i = 0; i < 5000; i++) lines.push(`bulk${i}.example,B,,2026-01-01,`);
    const piped = await run(['import', '-', '--batch', '700', ...db], {}, lines.join('\n'));
    t.equal(piped.code, 0);
    t.match(piped.stderr, /5000 rows read, 5000 taken/);
    t.same(await store.sql("SELECT COUNT(*) AS n FROM site_ratings WHERE domain LIKE 'bulk%'"), [{ n: 5000 }]);

    t.match((await run(['import', join(dir, 'missing.csv'), ...db], {})).stderr, /^adrater: cannot read .*missing.csv: ENOENT\n$/);
    const noHeader = await run(['import', file('a,b\n'), ...db], {});
    t.equal(noHeader.code, 1);
    t.match(noHeader.stderr, /line 1: the CSV header must name/);
  }),
);

t.test('queue and rating', (t) =>
  eachStore(t, async (t, store) => {
    const db = ['--db', store.url];
    await store.sql(
      "INSERT INTO rating_queue VALUES ('low.example', 1, '2025-01-01 00:00:00', '2025-01-02 00:00:00', 1, '10.0.0.1'), " +
        "('high-new.example', 9, '2025-03-01 00:00:00', '2025-03-01 00:00:00', 2, NULL), " +
        "('high-old.example', 9, '2025-02-01 00:00:00', '2025-02-01 00:00:00', 5, '2001:db8::1')",
    );
    const listed = await run(['queue', ...db], {});
    t.equal(listed.code, 0);
    t.same(listed.stdout.toString().trim().split('\n').map((l) => JSON.parse(l)), [
      { domain: 'high-old.example', priority: 9, first_requested: '2025-02-01T00:00:00Z', last_requested: '2025-02-01T00:00:00Z', requests: 5, source_ip: '2001:db8::1' },
      { domain: 'high-new.example', priority: 9, first_requested: '2025-03-01T00:00:00Z', last_requested: '2025-03-01T00:00:00Z', requests: 2, source_ip: null },
      { domain: 'low.example', priority: 1, first_requested: '2025-01-01T00:00:00Z', last_requested: '2025-01-02T00:00:00Z', requests: 1, source_ip: '10.0.0.1' },
    ], 'priority first, then age');
    t.equal((await run(['queue', '--min-priority', '5', ...db], {})).stdout.toString().trim().split('\n').length, 2);
    const claimed = await run(['queue', '--claim', '--limit', '2', ...db], {});
    t.same(claimed.stdout.toString().trim().split('\n').map((l) => JSON.parse(l).domain), ['high-old.example', 'high-new.example']);
    t.same(await store.sql('SELECT domain FROM rating_queue'), [{ domain: 'low.example' }], '--claim removed exactly what it printed');
    t.equal((await run(['queue', '--limit', 'x', ...db], {})).code, 2, 'bad usage: exit 2');

    const set = await run(['rating', 'https://WWW.Low.Example/', 'B', '--info', 'by hand', '--expires', '2030-01-01', ...db], {});
    t.equal(set.code, 0, set.stderr);
    t.same(await store.sql("SELECT rating, info, expires_at FROM site_ratings WHERE domain = 'low.example'"), [{ rating: 'B', info: 'by hand', expires_at: '2030-01-01 00:00:00' }]);
    t.same(await store.sql('SELECT domain FROM rating_queue'), [], 'rated by hand: off the queue');
    const stale = await run(['rating', 'low.example', 'C', '--rated', '2020-01-01', ...db], {});
    t.equal(stale.code, 1);
    t.match(stale.stderr, /has a newer rating; use --force/);
    t.equal((await run(['rating', 'localhost', 'A', ...db], {})).code, 1);
  }),
);

t.test('concurrent claimers never get the same domain', (t) =>
  eachStore(t, async (t, store) => {
    const values = Array.from({ length: 1000 }, (_, i) => `('c${i}.example', ${i % 10}, '2025-01-01 00:00:00', '2025-01-01 00:00:00', 1, NULL)`);
    await store.sql(`INSERT INTO rating_queue VALUES ${values.join(',')}`);
    // Four claimers, each looping `queue --claim --limit 50` until the queue is empty.
    const claimer = () =>
      new Promise<string[]>((resolve, reject) => {
        const script = `while out=$("$0" queue --claim --limit 50 --db "$1") && [ -n "$out" ]; do printf '%s\\n' "$out"; done`;
        // stdin ignored: bash reads ~/.bashrc when its stdin is a socket.
        const child = spawn('/usr/bin/env', ['-i', `PATH=${WEB_SERVER_PATH}`, 'bash', '-c', script, BIN, store.url], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (err += d));
        child.on('close', (code) => (code === 0 && !err ? resolve(out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).domain)) : reject(new Error(`claimer: ${code} ${err}`))));
      });
    const results = await Promise.all([claimer(), claimer(), claimer(), claimer()]);
    const all = results.flat();
    t.equal(all.length, 1000, `1000 claims in all (${results.map((r) => r.length).join(' + ')})`);
    t.equal(new Set(all).size, 1000, 'each domain claimed exactly once');
    t.same(await store.sql('SELECT COUNT(*) AS n FROM rating_queue'), [{ n: 0 }]);
  }),
);
