// Input built to break SQL, XML and CSV changes nothing but its own row (both stores).
import t from 'tap';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cgi, run } from '../helpers/run.js';
import { eachStore } from '../helpers/stores.js';
import { sites } from '../helpers/xml.js';

const HOSTILE = [
  "http://evil.example/'; DROP TABLE site_ratings; --",
  'http://evil.example/" OR "1"="1',
  'http://evil.example/x?a=1);DELETE FROM rating_queue;--',
  'http://evil.example/]]><!ENTITY xxe SYSTEM "file:///etc/passwd"><x>&xxe;</x>',
  'http://evil.example/<script>alert(1)</script>',
  "evil.example/\\'\\\"%00%27",
  'http://evil.example/=HYPERLINK("http://x")',
];

t.test('hostile URLs and rows', (t) =>
  eachStore(t, async (t, store) => {
    await store.sql("INSERT INTO site_ratings VALUES ('keep.example', 'A', 'untouched', '2025-01-01 00:00:00', NULL)");
    await store.sql("INSERT INTO rating_queue VALUES ('queued.example', 5, '2025-01-01 00:00:00', '2025-01-01 00:00:00', 1, NULL)");
    const query = HOSTILE.map((u) => 'url=' + encodeURIComponent(u)).join('&') + '&url=keep.example';
    const answer = await cgi(store.url, { query });
    t.equal(answer.status, 200);
    const got = sites(answer.body);
    t.same(got.map((s) => s.url), [...HOSTILE, 'keep.example'], 'each URL comes back exactly, escaped in well-formed XML');
    t.same(got.map((s) => s.domain), [...HOSTILE.map(() => 'evil.example'), 'keep.example']);
    t.same(await store.sql('SELECT domain, requests FROM rating_queue ORDER BY domain'), [
      { domain: 'evil.example', requests: 1 },
      { domain: 'queued.example', requests: 1 },
    ], 'the queue gained exactly its one row');
    t.same(await store.sql('SELECT domain, info FROM site_ratings'), [{ domain: 'keep.example', info: 'untouched' }]);

    const dir = mkdtempSync(join(tmpdir(), 'adrater-inject-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const csv = join(dir, 'rows.csv');
    writeFileSync(
      csv,
      'domain,rating,info,rated_at,expires_at\n' +
        `evil.example,"B'--","'); DROP TABLE site_ratings; -- <x>&amp;]]>",2026-01-01,\n` +
        'formula.example,=1+1,"=HYPERLINK(""http://x"",""y"")",2026-01-01,\n' +
        '"a.example,b.example",A,,2026-01-01,\n',
    );
    const imported = await run(['import', csv, '--db', store.url], {});
    t.match(imported.stderr, /3 rows read, 2 taken, 0 ignored as older, 1 refused/);
    t.same(await store.sql('SELECT domain, rating, info FROM site_ratings ORDER BY domain'), [
      { domain: 'evil.example', rating: "B'--", info: "'); DROP TABLE site_ratings; -- <x>&amp;]]>" },
      { domain: 'formula.example', rating: '=1+1', info: '=HYPERLINK("http://x","y")' },
      { domain: 'keep.example', rating: 'A', info: 'untouched' },
    ], 'hostile text is stored as text, other rows untouched');
    const shown = sites((await cgi(store.url, { query: 'url=evil.example&url=formula.example' })).body);
    t.same(shown.map((s) => [s.rating, s.info]), [["B'--", "'); DROP TABLE site_ratings; -- <x>&amp;]]>"], ['=1+1', '=HYPERLINK("http://x","y")']], 'and comes back exactly');
    t.same(await store.sql("SELECT domain FROM rating_queue WHERE domain = 'evil.example'"), [], 'rated: off the queue');
  }),
);
