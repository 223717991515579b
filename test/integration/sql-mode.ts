// A server whose sql_mode has NO_BACKSLASH_ESCAPES (and ANSI_QUOTES): text with quotes and
// backslashes goes in and comes out as it was, through every path that writes or reads it.
// mysql2 writes query()'s values into the statement with backslash escapes, which such a
// server reads otherwise; each mysql2 connection turns the mode off for itself
// (lib/store/mysql-target.ts).
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { privateMariadb } from '../helpers/mariadb.js';
import { cgi, run } from '../helpers/run.js';
import { startResponder, answerOnce } from '../helpers/fcgi.js';
import { sites } from '../helpers/xml.js';

// A quote, a backslash before a quote, a trailing backslash, a double quote, and text that
// would close the string and add a row of its own if the quote ended it.
const NASTY = [`it's`, `a \\' b`, `ends in \\`, `say "hi"`, `x', 'Z', NULL, '2020-01-01', NULL), ('evil.example`];

t.test('NO_BACKSLASH_ESCAPES on the server', async (t) => {
  const server = await privateMariadb({ args: () => ['--skip-log-bin', '--sql-mode=NO_BACKSLASH_ESCAPES,ANSI_QUOTES,STRICT_TRANS_TABLES'] });
  t.teardown(() => server.destroy());
  t.match((await server.sql('SELECT @@GLOBAL.sql_mode AS mode'))[0].mode, /NO_BACKSLASH_ESCAPES/, 'the server runs in that mode');
  const url = await server.database('nbe');

  const csv = join(server.dir, 'ratings.csv');
  const quoted = (text: string) => `"${text.replace(/"/g, '""')}"`;
  writeFileSync(csv, ['domain,rating,info,rated_at,expires_at', ...NASTY.map((info, i) => `site${i}.example,A,${quoted(info)},2025-01-01,`)].join('\n') + '\n');
  const imported = await run(['import', csv], { ADRATER_DB: url });
  t.equal(imported.code, 0, `import: ${imported.stderr}`);
  const rated = await run(['rating', 'obrien.example', "B'", '--info', "o'brien \\ z"], { ADRATER_DB: url });
  t.equal(rated.code, 0, `rating: ${rated.stderr}`);

  const stored = await server.sql('SELECT domain, rating, info FROM nbe.site_ratings ORDER BY domain');
  t.same(
    stored.map((r) => [r.domain, r.rating, r.info]),
    [['obrien.example', "B'", "o'brien \\ z"], ...NASTY.map((info, i) => [`site${i}.example`, 'A', info])],
    'every rating as written, and no row of its own from the text',
  );

  // Read back: a CGI run (its own client) and a responder (prepared statements) alike.
  const query = [...NASTY.map((_, i) => `url=site${i}.example`), 'url=obrien.example'].join('&');
  const viaCgi = await cgi(url, { query });
  t.equal(viaCgi.status, 200);
  t.same(sites(viaCgi.body).map((s) => s.info), [...NASTY, "o'brien \\ z"], 'CGI reads them as written');
  const responder = await startResponder({ db: url });
  t.teardown(() => responder.stop());
  const viaResponder = await answerOnce(responder.port!, { REQUEST_METHOD: 'GET', QUERY_STRING: query, REMOTE_ADDR: '127.0.0.1' });
  t.equal(viaResponder.body, viaCgi.body, 'the responder answers the same document');

  // A queue write of more rows than a prepared statement takes (text with values), then claimed.
  const many = Array.from({ length: 40 }, (_, i) => `url=new${i}.example`).join('&');
  const queued = await answerOnce(responder.port!, { REQUEST_METHOD: 'GET', QUERY_STRING: many, REMOTE_ADDR: '127.0.0.1' });
  t.equal(queued.status, 200);
  const claimed = await run(['queue', '--claim'], { ADRATER_DB: url });
  t.equal(claimed.code, 0, claimed.stderr);
  t.equal(claimed.stdout.toString().trim().split('\n').length, 40, 'all 40 queued, then claimed');
  t.same(await server.sql('SELECT COUNT(*) AS n FROM nbe.rating_queue'), [{ n: 0 }]);
});
