// Outage drill: the database goes away under a persistent responder (clean shutdown, then
// kill -9; then, in a test of its own, a server that stops answering without closing
// anything) and comes back. While it is down requests get a fast 503; once it is back the
// first request succeeds, from the same process.
import t from 'tap';
import mysql from 'mysql2/promise';
import { connectFcgi } from '../../lib/fastcgi/client.js';
import { parseCgi, cgi } from '../helpers/run.js';
import { drillBed } from '../helpers/mariadb.js';
import { errorOf, sites } from '../helpers/xml.js';
import { STALL_MS } from '../../lib/store/mysql-target.js';

t.test('the database goes away and comes back', async (t) => {
  const { db, url, responder } = await drillBed(t, 'drill');
  const pid = responder.child.pid;
  const client = await connectFcgi({ port: responder.port!, host: '127.0.0.1' });
  const ask = async () => {
    const started = performance.now();
    const answer = parseCgi((await client.request({ REQUEST_METHOD: 'GET', QUERY_STRING: 'url=drill.example', REMOTE_ADDR: '127.0.0.1' })).stdout);
    return { ...answer, ms: performance.now() - started };
  };

  for (let i = 0; i < 5; i++) t.equal((await ask()).status, 200, `before: 200 (${i})`);

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    await db.stop(signal);
    for (let i = 0; i < 3; i++) {
      const down = await ask();
      t.equal(down.status, 503, `${signal}: 503 while down (${i})`);
      t.equal(down.headers['retry-after'], '5');
      t.equal(errorOf(down.body).code, 'unavailable');
      t.ok(down.ms < 4000, `${signal}: the 503 comes fast (${down.ms.toFixed(0)} ms)`);
    }
    const viaCgi = await cgi(url, { query: 'url=drill.example' });
    t.equal(viaCgi.status, 503, `${signal}: CGI gets 503 too`);

    await db.start();
    const back = await ask();
    t.equal(back.status, 200, `${signal}: the first request after the restart succeeds`);
    t.same(sites(back.body).map((s) => s.status), ['queued']);
    for (let i = 0; i < 5; i++) t.equal((await ask()).status, 200);
    t.equal(responder.child.exitCode, null, 'no restart of the responder');
    t.equal(responder.child.pid, pid);
  }
  const check = await mysql.createConnection({ host: '127.0.0.1', port: db.port, user: 'root', database: 'drill' });
  const [rows] = await check.query("SELECT requests FROM rating_queue WHERE domain = 'drill.example'");
  t.same(rows, [{ requests: 17 }], 'every request answered 200 was queued; none of the 503s was');
  await check.end();
  client.close();
  t.equal(await responder.stop(), 0);
});

t.test('the database stops answering with its connections left open (SIGSTOP), and answers again', async (t) => {
  // As a host that crashed or lost its network: nothing is closed, and a statement in flight
  // would wait for TCP to give up (~15 minutes). The responder asks the server for a new
  // connection once a statement has waited STALL_MS; with no answer within connectTimeout
  // (3 s), the statement fails as on a cut connection: 503, and new connections after it.
  const { db, responder } = await drillBed(t, 'drill');
  t.teardown(() => db.resume());
  const client = await connectFcgi({ port: responder.port!, host: '127.0.0.1' });
  t.teardown(() => client.close());
  const ask = async () => {
    const started = performance.now();
    const answer = parseCgi((await client.request({ REQUEST_METHOD: 'GET', QUERY_STRING: 'url=silent.example', REMOTE_ADDR: '127.0.0.1' })).stdout);
    return { ...answer, ms: performance.now() - started };
  };
  for (let i = 0; i < 3; i++) t.equal((await ask()).status, 200, `before: 200 (${i})`);

  db.pause();
  const stalled = await ask();
  t.equal(stalled.status, 503, `the request the server left waiting (its look-up, or its queue write): 503 after ${stalled.ms.toFixed(0)} ms`);
  t.equal(stalled.headers['retry-after'], '5');
  t.ok(stalled.ms < 2 * STALL_MS + 2 * 3000 + 2000, 'within the watch, the probe and one new connection, each bounded');
  t.match(responder.stderr(), /no answer to a new connection while a statement waited 2 s; failing the 1 in flight there/, 'the log says why');
  const next = await ask();
  t.equal(next.status, 503, `the next request: 503 after ${next.ms.toFixed(0)} ms (new connections time out)`);

  db.resume();
  t.equal((await ask()).status, 200, 'once it answers again, the next request succeeds, from the same process');
  const check = await mysql.createConnection({ host: '127.0.0.1', port: db.port, user: 'root', database: 'drill' });
  const [rows] = await check.query<mysql.RowDataPacket[]>("SELECT requests FROM rating_queue WHERE domain = 'silent.example'");
  // A 503 for a write cut in flight may have committed: the stopped server can still run
  // what it had read once it resumes (seen here when the first 503 was the queue write's).
  const requests = Number(rows[0]?.requests);
  t.ok(requests >= 4 && requests <= 6, `the four 200s queued, and a 503 at most as often as it came (${requests})`);
  await check.end();
  t.notMatch(responder.stderr(), / 500 /, 'no 500 in the log');
});
