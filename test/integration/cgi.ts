// The real bin, spawned as CGI with a web server's environment, against SQLite and the
// real MariaDB.
import t from 'tap';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { BIN, cgi, collect, parseCgi, run } from '../helpers/run.js';
import { startResponder } from '../../lib/bench/responder.js';
import { eachStore } from '../helpers/stores.js';
import type { ScratchStore } from '../helpers/stores.js';
import { sites, errorOf } from '../helpers/xml.js';

const past = '2020-01-01 00:00:00';
const future = '2099-01-01 00:00:00';

async function seed(store: ScratchStore) {
  const insert = 'INSERT INTO site_ratings (domain, rating, info, rated_at, expires_at) VALUES (?, ?, ?, ?, ?)';
  await store.sql(insert, ['fresh.example', 'A', 'Real business <&> "quoted"', '2025-01-02 03:04:05', future]);
  await store.sql(insert, ['stale.example', 'C', null, '2019-01-01 00:00:00', past]);
  await store.sql(insert, ['forever.example', 'B', '', '2024-05-06 07:08:09', null]);
}

const queueRows = (store: ScratchStore) =>
  store.sql('SELECT domain, priority, requests, source_ip, first_requested, last_requested FROM rating_queue ORDER BY domain');

t.test('look-ups', (t) =>
  eachStore(t, async (t, store) => {
    await seed(store);
    const query = [
      'url=' + encodeURIComponent('http://www.fresh.example/a?b=1&c=2'),
      'url=stale.example',
      'URL=' + encodeURIComponent('https://new.unknown.example/x'),
      'url=forever.example',
      'url=' + encodeURIComponent('ftp://x.example/'),
      'Url=new.unknown.example',
      'priority=4',
    ].join('&');
    const answer = await cgi(store.url, { query, env: { TZ: 'America/New_York' } });
    t.equal(answer.status, 200);
    t.equal(answer.headers['content-type'], 'text/xml; charset=utf-8');
    t.equal(answer.code, 0);
    const got = sites(answer.body);
    t.same(got, [
      { url: 'http://www.fresh.example/a?b=1&c=2', domain: 'fresh.example', status: 'rated', rating: 'A', rated: '2025-01-02T03:04:05Z', expires: '2099-01-01T00:00:00Z', info: 'Real business <&> "quoted"' },
      { url: 'stale.example', domain: 'stale.example', status: 'stale', rating: 'C', rated: '2019-01-01T00:00:00Z', expires: '2020-01-01T00:00:00Z' },
      { url: 'https://new.unknown.example/x', domain: 'unknown.example', status: 'queued' },
      { url: 'forever.example', domain: 'forever.example', status: 'rated', rating: 'B', rated: '2024-05-06T07:08:09Z' },
      { url: 'ftp://x.example/', status: 'invalid', reason: 'scheme not rated' },
      { url: 'new.unknown.example', domain: 'unknown.example', status: 'queued' },
    ]);

    let queue = await queueRows(store);
    t.same(queue.map((r) => [r.domain, Number(r.priority), Number(r.requests), r.source_ip]), [
      ['stale.example', 4, 1, '192.0.2.7'],
      ['unknown.example', 4, 1, '192.0.2.7'],
    ], 'stale and unknown queued once each; fresh ones never');
    const first = String(queue[0].first_requested);
    const utcNow = Date.now();
    t.ok(Math.abs(Date.parse(first.replace(' ', 'T') + 'Z') - utcNow) < 120_000, `times are UTC under TZ=America/New_York (${first})`);

    // A lower priority keeps the higher one; requests and source follow the new request.
    await cgi(store.url, { query: 'url=unknown.example&priority=2', env: { REMOTE_ADDR: '198.51.100.9' } });
    await cgi(store.url, { query: 'url=stale.example&priority=9' });
    queue = await queueRows(store);
    t.same(queue.map((r) => [r.domain, Number(r.priority), Number(r.requests), r.source_ip]), [
      ['stale.example', 9, 2, '192.0.2.7'],
      ['unknown.example', 4, 2, '198.51.100.9'],
    ], 'priority merge: the higher priority stays, requests add up');

    const json = await cgi(store.url, { query: 'url=fresh.example&url=localhost&format=json' });
    t.equal(json.headers['content-type'], 'application/json');
    t.same(JSON.parse(json.body), {
      ratings: [
        { url: 'fresh.example', domain: 'fresh.example', status: 'rated', rating: 'A', rated: '2025-01-02T03:04:05Z', expires: '2099-01-01T00:00:00Z', info: 'Real business <&> "quoted"' },
        { url: 'localhost', status: 'invalid', reason: 'no registrable domain' },
      ],
    });

    const post = await cgi(store.url, { method: 'POST', query: 'priority=7', body: 'url=posted.example&url=fresh.example' });
    t.equal(post.status, 200);
    t.same(sites(post.body).map((s) => s.status), ['queued', 'rated']);
    t.same(await store.sql("SELECT priority FROM rating_queue WHERE domain = 'posted.example'"), [{ priority: 7 }]);

    const head = await cgi(store.url, { method: 'HEAD', query: 'url=fresh.example' });
    t.equal(head.status, 200);
    t.equal(head.body, '', 'HEAD sends headers only');
    t.ok(Number(head.headers['content-length']) > 0);
    t.match(head.headers['server-timing'], /startup;dur=[\d.]+, load;dur=[\d.]+, connect;dur=[\d.]+, query;dur=[\d.]+, render;dur=[\d.]+/);
  }),
);

t.test('refusals', (t) =>
  eachStore(t, async (t, store) => {
    const before = await store.sql('SELECT COUNT(*) AS n FROM rating_queue');
    const expect = async (
      request: Parameters<typeof cgi>[1],
      status: number,
      code: string,
      format: 'xml' | 'json' = 'xml',
    ) => {
      const answer = await cgi(store.url, request);
      t.equal(answer.status, status, `${code}: status`);
      t.equal(answer.code, 0, `${code}: exit 0`);
      if (format === 'json') {
        t.match(JSON.parse(answer.body), { error: { status, code, message: String } }, `${code}: JSON document`);
      } else {
        t.match(errorOf(answer.body), { status: String(status), code, text: /\w/ }, `${code}: XML document`);
      }
      return answer;
    };
    await expect({ query: 'url=a.com&priority=high' }, 400, 'bad-priority');
    await expect({ query: 'url=a.com&priority=1.5&format=json' }, 400, 'bad-priority', 'json');
    await expect({ query: 'priority=3' }, 400, 'no-url');
    await expect({ query: '' }, 400, 'no-url');
    await expect({ query: 'url=a.com&format=html' }, 400, 'bad-format');
    await expect({ query: Array.from({ length: 101 }, (_, i) => `url=s${i}.com`).join('&') }, 400, 'too-many-urls');
    const many = await cgi(store.url, { query: Array.from({ length: 100 }, (_, i) => `url=s${i}.com`).join('&') });
    t.equal(many.status, 200, '100 urls are allowed');
    await store.sql('DELETE FROM rating_queue');
    const put = await expect({ method: 'PUT', query: 'url=a.com', body: 'x'.repeat(1000) }, 405, 'method-not-allowed');
    t.equal(put.headers.allow, 'GET, HEAD, POST');
    await expect({ method: 'DELETE', query: 'url=a.com&format=json' }, 405, 'method-not-allowed', 'json');
    await expect({ method: 'POST', body: 'url=' + 'a'.repeat(70_000) }, 413, 'body-too-large');
    await expect({ method: 'POST', body: '{"url":"a.com"}', type: 'application/json' }, 415, 'unsupported-media-type');
    await expect({ query: 'url=a.com', env: { ADRATER_MAX_URLS: '0' } }, 400, 'too-many-urls');
    t.same(await store.sql('SELECT COUNT(*) AS n FROM rating_queue'), before, 'no refusal touched the queue');
  }),
);

t.test('a body of undeclared length (chunked, as Apache passes it) is read to its end', (t) =>
  eachStore(t, async (t, store) => {
    await seed(store);
    const post = await cgi(store.url, { method: 'POST', query: 'format=json', body: 'url=fresh.example&url=chunked.example&priority=7', chunked: true });
    t.equal(post.status, 200, post.body);
    t.same(JSON.parse(post.body).ratings.map((r: { domain: string; status: string }) => [r.domain, r.status]), [['fresh.example', 'rated'], ['chunked.example', 'queued']]);
    t.same((await queueRows(store)).map((r) => [r.domain, Number(r.priority)]), [['chunked.example', 7]], 'queued at the priority in the body');
    const typed = await cgi(store.url, { method: 'POST', body: '{"url":"a.example"}', type: 'application/json', chunked: true });
    t.equal(typed.status, 415, 'its type is checked as a declared body\'s');

    // Over the limit: 413, and still read to its end (under mod_cgid a body left unread
    // resets the answer). 1 MB through a 64-KB pipe: the writer finishes only if it is read.
    const child = spawn('/usr/bin/env', ['-i', 'PATH=/usr/bin:/bin', 'GATEWAY_INTERFACE=CGI/1.1', 'REQUEST_METHOD=POST', 'HTTP_TRANSFER_ENCODING=chunked',
      'CONTENT_TYPE=application/x-www-form-urlencoded', 'REMOTE_ADDR=192.0.2.7', `ADRATER_DB=${store.url}`, BIN]);
    const written = new Promise<string>((resolve) => {
      child.stdin.on('error', (err) => resolve(err.message));
      child.stdin.end(Buffer.alloc(1 << 20, 'a'), () => resolve('all written'));
    });
    const big = await collect(child);
    t.equal(await written, 'all written', 'the whole body was read');
    const answer = parseCgi(big.stdout);
    t.equal(answer.status, 413);
    t.match(errorOf(answer.body), { code: 'body-too-large', text: 'request body is over the limit of 65536 bytes' });
    t.same((await queueRows(store)).length, 1, 'nothing more queued');
  }),
);

t.test('ISINDEX arguments are never options under a web server', (t) =>
  eachStore(t, async (t, store) => {
    const answer = await cgi(store.url, { query: 'db+init', args: ['db', 'init'] });
    t.equal(answer.status, 400);
    t.equal(errorOf(answer.body).code, 'no-url');
    const help = await cgi(store.url, { query: '--help', args: ['--help'] });
    t.equal(help.status, 400, '--help from a query is not a command line');
  }),
);

t.test('a shell invocation works too', (t) =>
  eachStore(t, async (t, store) => {
    const result = await run([], { QUERY_STRING: 'url=shell.example', ADRATER_DB: store.url });
    t.equal(result.code, 0);
    t.match(result.stdout.toString(), /^Status: 200 OK\r\n/);
    t.same(sites(result.stdout.toString().split('\r\n\r\n')[1]).map((s) => s.status), ['queued']);
    const viaCommand = await run(['cgi', '--db', store.url], { QUERY_STRING: 'url=shell.example' });
    t.match(viaCommand.stdout.toString(), /status="queued"/);
    const optionsOnly = await run(['--db', store.url], { QUERY_STRING: 'url=shell.example' });
    t.equal(optionsOnly.code, 0, 'options without a command: still a CGI request');
    t.match(optionsOnly.stdout.toString(), /^Status: 200 OK\r\n[\s\S]*status="queued"/);
  }),
);

t.test('ADRATER_WORKER=1 in the environment alone does not make a supervisor\'s worker', (t) =>
  eachStore(t, async (t, store) => {
    // Set by hand or left over, without the supervisor's IPC channel: a worker would take
    // fd 4 for its listening socket, which nobody gave it (EBADF), and answer nothing.
    const asCgi = await run([], { QUERY_STRING: 'url=worker-var.example', ADRATER_DB: store.url, ADRATER_WORKER: '1' });
    t.equal(asCgi.code, 0, asCgi.stderr);
    t.match(asCgi.stdout.toString(), /^Status: 200 OK\r\n[\s\S]*status="queued"/);
    const responder = await startResponder({ env: { ADRATER_DB: store.url, ADRATER_WORKER: '1' } });
    t.teardown(() => responder.stop());
    t.match(responder.stderr(), /ready on 127\.0\.0\.1:\d+/, 'fcgi --listen listens where it is told');
  }),
);

t.test('database trouble: 503 or 500, never a secret or a stack to the client', async (t) => {
  const down = await cgi('mysql://adrater:sekret-pass@127.0.0.1:1/none', { query: 'url=a.com' });
  t.equal(down.status, 503);
  t.equal(down.headers['retry-after'], '5');
  t.equal(errorOf(down.body).code, 'unavailable');
  t.notMatch(down.body + down.stderr, /sekret-pass/, 'the password appears nowhere');
  t.match(down.stderr, /503 database unavailable/);

  const sqliteDown = await cgi('sqlite:/proc/no-such-dir/x.sqlite', { query: 'url=a.com&format=json', env: { ADRATER_RETRY_AFTER: '30' } });
  t.equal(sqliteDown.status, 503);
  t.equal(sqliteDown.headers['retry-after'], '30');

  await eachStore(t, async (t, store) => {
    await store.sql('DROP TABLE site_ratings');
    const broken = await cgi(store.url, { query: 'url=a.com' });
    t.equal(broken.status, 500);
    const error = errorOf(broken.body);
    t.equal(error.code, 'internal');
    t.match(error['request-id'], /\S/);
    t.notMatch(broken.body, /at |site_ratings|SELECT/, 'no stack or SQL in the document');
    t.match(broken.stderr, new RegExp(`req=${error['request-id']} 500`), 'the log line carries the request id');
  });
});

t.test('a database URL option this project does not read is a 500 with the reason in the log, not a 503 per connect', async (t) => {
  // Before, ?connectTimeout=abc timed every connect out at once: 503 "database unavailable" on a healthy server.
  for (const [option, reason] of [
    ['connectTimeout=abc', /connectTimeout must be milliseconds \(1 or more\), not "abc"/],
    ['sslmode=require', /unknown option "sslmode"/],
    ['maxLag=abc', /maxLag must be seconds \(0 or more\), not "abc"/],
  ] as const) {
    const answer = await cgi(`mysql://adrater:sekret-pass@127.0.0.1:3306/test?${option}`, { query: 'url=a.com' });
    t.equal(answer.status, 500, option);
    t.equal(errorOf(answer.body).code, 'internal');
    t.match(answer.stderr, /^adrater\[\d+\]: req=\S+ 500 configuration error: database URL: /m);
    t.match(answer.stderr, reason);
    t.notMatch(answer.stderr, /\bat |sekret-pass/, 'no stack, no password');
  }
});

t.test('a bad configuration file is a 500 with the reason in the log', async (t) => {
  const answer = await cgi('sqlite:/tmp/unused.sqlite', { query: 'url=a.com', env: { ADRATER_DB: '', ADRATER_CONFIG: '/nonexistent/adrater.json' } });
  t.equal(answer.status, 500);
  t.match(answer.stderr, /^adrater\[\d+\]: req=\S+ 500 configuration error: cannot read ADRATER_CONFIG file \/nonexistent\/adrater.json: ENOENT/m);
});

t.test("SQLite: a run leaves the write-ahead log to the next one, and one run in a few dozen checkpoints it; nothing is lost", async (t) => {
  // Only CGI runs touch this file, so that each run is the only connection, as on a quiet
  // server: the case where a run's close would checkpoint and delete the log.
  const dir = mkdtempSync(join(tmpdir(), 'adrater-wal-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'ratings.sqlite');
  const walBytes = () => statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? null;
  const sizes: Array<number | null> = [];
  const runs = 48;
  for (let i = 0; i < runs; i++) {
    const answer = await cgi(`sqlite:${file}`, { query: `url=site${i}.example` });
    t.equal(answer.status, 200, answer.stderr);
    sizes.push(walBytes());
  }
  t.not(sizes[0], null, 'the first run leaves its log');
  t.ok(sizes.includes(null), `the log was checkpointed and removed at least once (sizes: ${sizes.join(' ')})`);
  const largest = Math.max(...sizes.map((s) => s ?? 0));
  t.ok(largest <= 64 * 4096 + 16 * 4120, `the log stays short: at most ${largest} bytes`);
  const db = new Database(file, { readonly: true });
  const queued = db.prepare('SELECT COUNT(*) AS n FROM rating_queue').get() as { n: number };
  db.close();
  t.equal(queued.n, runs, 'every run\'s queue row is there');
});

t.test('a non-blocking stdout that takes the answer a few KB at a time still gets all of it, as declared', async (t) => {
  // A web server may give a CGI script a pipe with O_NONBLOCK set: a write then takes only
  // what fits, and the script writes the rest as the server reads (lib/cgi/cgi.ts). Here the
  // pipe holds 4 KB and its reader waits before reading; the answer is ~32 KB, with
  // two-byte characters throughout, so that the rest starts at a byte, not a character.
  const dir = mkdtempSync(join(tmpdir(), 'adrater-nonblock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const urls = Array.from({ length: 100 }, (_, i) => `http://site${i}.example/${'é'.repeat(120)}`);
  const query = urls.map((u) => `url=${encodeURIComponent(u)}`).join('&');
  const script = [
    'import fcntl, os, subprocess, sys, time',
    'r, w = os.pipe()',
    'fcntl.fcntl(w, 1031, 4096)  # F_SETPIPE_SZ',
    'fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)',
    'env = {"PATH": "/usr/bin:/bin", "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET", "REMOTE_ADDR": "192.0.2.7",',
    '       "QUERY_STRING": sys.argv[2], "ADRATER_DB": sys.argv[3]}',
    'p = subprocess.Popen([sys.argv[1]], stdin=subprocess.DEVNULL, stdout=w, env=env)',
    'os.close(w)',
    'time.sleep(0.3)',
    'out = b""',
    'while True:',
    '    chunk = os.read(r, 1000)',
    '    if not chunk: break',
    '    out += chunk',
    'sys.stdout.buffer.write(out)',
    'sys.exit(p.wait())',
  ].join('\n');
  const result = await collect(spawn('python3', ['-c', script, BIN, query, `sqlite:${join(dir, 'r.sqlite')}`], { stdio: ['ignore', 'pipe', 'pipe'] }));
  t.equal(result.code, 0, result.stderr);
  const raw = result.stdout;
  t.ok(raw.length > 4 * 4096, `the answer (${raw.length} bytes) is many times the pipe`);
  const split = raw.indexOf('\r\n\r\n');
  const answer = parseCgi(raw);
  t.equal(answer.status, 200);
  t.equal(Number(answer.headers['content-length']), raw.length - split - 4, 'Content-Length is the bytes that came');
  t.same(sites(answer.body).map((s) => s.url), urls, 'every site, every character');
});
