// A persistent responder returns to the first listed server once it is back (CONTRACT §8:
// "may return"), on two private MariaDB servers: server 1 stops, requests move to server 2;
// server 1 comes back read-only (as an old primary demoted to a replica would), and writes
// stay on server 2; once it takes writes, requests go to it again within the `failback`
// interval, with a log line. With `?failback=0` a responder stays on server 2. A --db-read
// side returns to server 1 while it is read-only: a replica serves reads. When server 1
// turns read-only while in use, writes leave it within the interval, look-ups do not; and a
// write it refuses (1290) goes to server 2 at once, in a CGI run too (a 503 when it is the
// only server listed); so does one refused by transaction_read_only (1792) or by InnoDB
// started read-only (1036), which the checks read too.
import t from 'tap';
import { privateMariadb } from '../helpers/mariadb.js';
import type { PrivateMariadb } from '../helpers/mariadb.js';
import { answerOnce, startResponder, statusOf } from '../helpers/fcgi.js';
import { cgi } from '../helpers/run.js';
import { sites } from '../helpers/xml.js';
import { sleep } from '../helpers/wait.js';
import { unavailable } from '../helpers/refused.js';

t.test('back to the first listed server, once it answers and takes writes', async (t) => {
  const [one, two] = await Promise.all([privateMariadb(), privateMariadb()]);
  t.teardown(() => Promise.all([one.destroy(), two.destroy()]));
  await Promise.all([one.database('fb'), two.database('fb')]);
  const servers = `127.0.0.1:${one.port},127.0.0.1:${two.port}`;
  const returning = await startResponder({ db: `mysql://root@${servers}/fb?failback=0.5`, args: ['--status-path', '/status'] });
  t.teardown(() => returning.stop());
  const staying = await startResponder({ db: `mysql://root@${servers}/fb?failback=0` });
  t.teardown(() => staying.stop());
  // Writes to server 2, look-ups from server 1, else 2; each server rates one site its own way.
  const reading = await startResponder({ db: two.url('fb'), args: ['--db-read', `mysql://root@${servers}/fb?failback=0.5`, '--status-path', '/status'] });
  t.teardown(() => reading.stop());
  await one.sql("INSERT INTO fb.site_ratings VALUES ('read.example', 'A', NULL, '2026-01-01 00:00:00', NULL)");
  await two.sql("INSERT INTO fb.site_ratings VALUES ('read.example', 'B', NULL, '2026-01-01 00:00:00', NULL)");
  /** One GET through `responder`'s FastCGI port, on a connection of its own. */
  const ask = (responder: typeof returning, query: string) => answerOnce(responder.port!, { REQUEST_METHOD: 'GET', QUERY_STRING: query, REMOTE_ADDR: '127.0.0.1' });
  /** Which server `reading` looked read.example up on. */
  const readFrom = async (): Promise<string> => {
    const answer = await ask(reading, 'url=read.example');
    return answer.status !== 200 ? String(answer.status) : ({ A: 'one', B: 'two' } as Record<string, string>)[sites(answer.body)[0].rating ?? ''] ?? 'neither';
  };

  /** The servers `responder` uses, and their moves, as its status reports them. */
  const inUse = async (responder: typeof returning) => (await statusOf(responder.port!)).perWorker[0].database;
  const label = (server: PrivateMariadb) => `127.0.0.1:${server.port}`;

  let n = 0;
  /** One request for a new site through `responder`; which server queued it. */
  const where = async (responder: typeof returning): Promise<string> => {
    const site = `site-${++n}.example`;
    const answer = await ask(responder, `url=${site}`);
    if (answer.status !== 200) return String(answer.status);
    t.same(sites(answer.body).map((s) => s.status), ['queued']);
    // A stopped server holds nothing new.
    const on = async (server: PrivateMariadb) => (await server.sql('SELECT 1 FROM fb.rating_queue WHERE domain = ?', [site]).catch(() => [])).length === 1;
    const [onOne, onTwo] = await Promise.all([on(one), on(two)]);
    return onOne && !onTwo ? 'one' : onTwo && !onOne ? 'two' : `one ${onOne}, two ${onTwo}`;
  };
  /** Asks `which` until it says `server` (at most `ms`); the answers on the way. */
  const until = async (which: () => Promise<string>, server: string, ms: number) => {
    const seen: string[] = [];
    for (const stop = Date.now() + ms; Date.now() < stop; await sleep(100)) {
      seen.push(await which());
      if (seen.at(-1) === server) break;
    }
    return seen;
  };

  t.equal(await where(returning), 'one', 'the first listed server');
  t.equal(await where(staying), 'one');
  t.equal(await readFrom(), 'one');
  t.same(await inUse(returning), { server: label(one), moves: 0 }, 'the status: server 1, no moves');
  t.same(await inUse(reading), { server: label(two), read: { server: label(one), moves: 0 }, moves: 0 }, 'the status of a split: writes on server 2, look-ups on server 1');

  await one.stop('SIGTERM');
  t.equal((await until(() => where(returning), 'two', 5000)).at(-1), 'two', 'server 1 stopped: server 2');
  t.equal((await until(() => where(staying), 'two', 5000)).at(-1), 'two');
  t.match(returning.stderr(), /database 127\.0\.0\.1:\d+ lost \([A-Z_]+(: .*)?\); using 127\.0\.0\.1:\d+/);

  const readsMoved = await until(readFrom, 'two', 5000);
  t.equal(readsMoved.at(-1), 'two', `server 1 stopped: look-ups from server 2 (${readsMoved.join(', ')})`);
  t.same(await inUse(returning), { server: label(two), moves: 1 }, 'the status: server 2, one move');
  t.same(await inUse(reading), { server: label(two), read: { server: label(two), moves: 1 }, moves: 0 }, "the status: the read side's move");
  t.equal((await statusOf(reading.port!)).databaseMoves, 1, 'databaseMoves: both sides');

  // Back, but read-only: not a server to write to, but one to read from.
  await one.start(['--read-only']);
  await sleep(2000); // four intervals
  t.equal(await where(returning), 'two', 'server 1 is back read-only: writes stay on server 2');
  t.notMatch(returning.stderr(), /is back/);
  t.equal(await readFrom(), 'one', 'look-ups are back on server 1, read-only as it is');
  t.match(reading.stderr(), /is back; using it/);

  await one.sql('SET GLOBAL read_only = 0');
  const back = await until(() => where(returning), 'one', 5000);
  t.equal(back.at(-1), 'one', `server 1 takes writes: back to it (${back.join(', ')})`);
  t.ok(back.every((s) => s === 'one' || s === 'two'), 'every request on the way answered 200');
  t.match(returning.stderr(), /database 127\.0\.0\.1:\d+ is back; using it instead of 127\.0\.0\.1:\d+/);
  for (let i = 0; i < 3; i++) t.equal(await where(returning), 'one');
  t.same(await inUse(returning), { server: label(one), moves: 2 }, 'the status: server 1 again, two moves');
  for (let i = 0; i < 3; i++) t.equal(await where(staying), 'two', 'failback=0: stays on server 2');
  t.notMatch(staying.stderr(), /is back/);

  // The server in use turns read-only while it still answers (a primary demoted under a
  // running responder). Root's writes would still succeed there (READ ONLY ADMIN); another
  // user's would fail with 1290. Either way writes belong on a server that takes them.
  await one.sql('SET GLOBAL read_only = 1');
  const left = await until(() => where(returning), 'two', 5000);
  t.equal(left.at(-1), 'two', `server 1 in use turned read-only: writes move to server 2 (${left.join(', ')})`);
  t.ok(left.every((s) => s === 'one' || s === 'two'), 'every request on the way answered 200');
  t.match(returning.stderr(), /database 127\.0\.0\.1:\d+ is read-only; using 127\.0\.0\.1:\d+/);
  t.same(await inUse(returning), { server: label(two), moves: 3 }, 'the status: server 2, three moves');
  t.equal(await readFrom(), 'one', 'look-ups stay on server 1: read-only serves reads');
});

t.test('a queue write refused by a read-only server (1290) goes to the next listed server at once', async (t) => {
  const [one, two] = await Promise.all([privateMariadb({ grants: true }), privateMariadb({ grants: true })]);
  t.teardown(() => Promise.all([one.destroy(), two.destroy()]));
  await Promise.all([one.database('ro'), two.database('ro')]);
  // An application's account: without READ ONLY ADMIN, so read_only refuses its writes (root's pass).
  for (const server of [one, two]) {
    await server.sql("CREATE USER 'app'@'%' IDENTIFIED BY 'app-pass'");
    await server.sql("GRANT SELECT, INSERT, UPDATE ON ro.* TO 'app'@'%'");
  }
  const url = (servers: PrivateMariadb[]) => `mysql://app:app-pass@${servers.map((s) => `127.0.0.1:${s.port}`).join(',')}/ro`;
  // ?failback=0: no checks of the server in use; the refusal alone must move the write.
  const responder = await startResponder({ db: `${url([one, two])}?failback=0` });
  t.teardown(() => responder.stop());
  const ask = (site: string) => answerOnce(responder.port!, { REQUEST_METHOD: 'GET', QUERY_STRING: `url=${site}`, REMOTE_ADDR: '127.0.0.1' });
  const queued = async (server: PrivateMariadb, site: string) => (await server.sql('SELECT requests FROM ro.rating_queue WHERE domain = ?', [site])).map((r) => r.requests);

  t.equal((await ask('before.example')).status, 200);
  t.same(await queued(one, 'before.example'), [1], 'server 1 takes writes');

  await one.sql('SET GLOBAL read_only = 1');
  const answer = await ask('refused.example');
  t.equal(answer.status, 200, 'the refused write was tried again on server 2');
  t.same(sites(answer.body).map((s) => s.status), ['queued']);
  t.same(await queued(one, 'refused.example'), [], 'nothing on server 1');
  t.same(await queued(two, 'refused.example'), [1], 'queued once, on server 2');
  t.match(responder.stderr(), new RegExp(`database 127\\.0\\.0\\.1:${one.port} lost \\(ER_OPTION_PREVENTS_STATEMENT: .*--read-only.*\\); using 127\\.0\\.0\\.1:${two.port}`));
  t.equal((await ask('after.example')).status, 200);
  t.same(await queued(two, 'after.example'), [1], 'later writes go to server 2');

  // A CGI run: its refused write goes to the next listed server on a connection of its own.
  const cgiRun = await cgi(url([one, two]), { query: 'url=cgi-refused.example' });
  t.equal(cgiRun.status, 200, 'a CGI run listing both: 200');
  t.same(await queued(two, 'cgi-refused.example'), [1], 'queued once, on server 2');
  t.match(cgiRun.stderr, new RegExp(`database 127\\.0\\.0\\.1:${one.port}: ER_OPTION_PREVENTS_STATEMENT: .*--read-only.*; trying 127\\.0\\.0\\.1:${two.port}`));
  // With nowhere else to go it says "try again later".
  const alone = await cgi(url([one]), { query: 'url=cgi-alone.example' });
  t.equal(alone.status, 503, 'a CGI run on the read-only server alone: 503, not 500');
  t.equal(alone.headers['retry-after'], '5');
  t.match(alone.body, /code="unavailable"/);
  t.notMatch(alone.body + alone.stderr + cgiRun.stderr, /app-pass/, 'the password appears nowhere');

  // tx_read_only (transaction_read_only): each new session's transactions read-only (a DBA's way to stop
  // writes, root's included, without read_only's exemptions); a write fails with 1792.
  await one.sql('SET GLOBAL read_only = 0');
  await one.sql('SET GLOBAL tx_read_only = 1'); // MariaDB's name before 11.1; MySQL 8's is transaction_read_only
  const txCgi = await cgi(url([one, two]), { query: 'url=tx-cgi.example' });
  t.equal(txCgi.status, 200, `transaction_read_only, a CGI run listing both: 200 (${txCgi.stderr})`);
  t.same(await queued(two, 'tx-cgi.example'), [1], 'queued once, on server 2');
  t.match(txCgi.stderr, new RegExp(`database 127\\.0\\.0\\.1:${one.port}: ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION: .+; trying 127\\.0\\.0\\.1:${two.port}`));
  const txAlone = await cgi(url([one]), { query: 'url=tx-alone.example' });
  t.equal(txAlone.status, 503, 'on that server alone: 503, not 500');
  t.equal(txAlone.headers['retry-after'], '5');
  // Checks every 0.3 s: server 1 answers, but is not one to write to (before, its check read
  // read_only alone, and the responder went back to it, to be refused again, at every check).
  const txResponder = await startResponder({ db: `${url([one, two])}?failback=0.3`, args: ['--status-path', '/status'] });
  t.teardown(() => txResponder.stop());
  const txAnswer = await answerOnce(txResponder.port!, { REQUEST_METHOD: 'GET', QUERY_STRING: 'url=tx-fcgi.example', REMOTE_ADDR: '127.0.0.1' });
  t.equal(txAnswer.status, 200, 'a responder: the refused write tried again on server 2');
  t.same(await queued(two, 'tx-fcgi.example'), [1], 'queued once, on server 2');
  t.same(await queued(one, 'tx-fcgi.example'), [], 'nothing on server 1');
  await sleep(1500);
  t.same((await statusOf(txResponder.port!)).perWorker[0].database, { server: `127.0.0.1:${two.port}`, moves: 1 }, 'five checks later: still on server 2, one move');
  await txResponder.stop();
  t.match(txResponder.stderr(), /lost \(ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION: .+\); using/);
});

t.test('a server started with --innodb-read-only (1036): its queue writes go to the next listed server, and a responder does not go back to it', async (t) => {
  const [one, two] = await Promise.all([privateMariadb(), privateMariadb()]);
  t.teardown(() => Promise.all([one.destroy(), two.destroy()]));
  await Promise.all([one.database('inro'), two.database('inro')]);
  await one.sql("INSERT INTO inro.site_ratings VALUES ('rated.example', 'A', NULL, '2026-01-01 00:00:00', NULL)");
  // Read-only media, or a stand-by that must not be written: every table refuses writes, root's too.
  await one.stop('SIGTERM');
  await one.start(['--innodb-read-only=1']);
  const url = (servers: PrivateMariadb[]) => `mysql://root@${servers.map((s) => `127.0.0.1:${s.port}`).join(',')}/inro`;
  const queued = async (server: PrivateMariadb, site: string) => (await server.sql('SELECT requests FROM inro.rating_queue WHERE domain = ?', [site])).map((r) => r.requests);

  const cgiRun = await cgi(url([one, two]), { query: 'url=cgi.example' });
  t.equal(cgiRun.status, 200, `a CGI run listing both: 200 (${cgiRun.stderr.trim()})`);
  t.same(await queued(two, 'cgi.example'), [1], 'queued once, on server 2');
  t.match(cgiRun.stderr, new RegExp(`database 127\\.0\\.0\\.1:${one.port}: ER_OPEN_AS_READONLY: .+; trying 127\\.0\\.0\\.1:${two.port}`));
  const alone = await cgi(url([one]), { query: 'url=alone.example&url=rated.example' });
  unavailable(t, alone, alone.stderr, 'on that server alone');
  t.equal((await cgi(url([one]), { query: 'url=rated.example' })).status, 200, 'a look-up that queues nothing is answered there');

  // Checks every 0.3 s: server 1 answers, but InnoDB there takes no write.
  const responder = await startResponder({ db: `${url([one, two])}?failback=0.3`, args: ['--status-path', '/status'] });
  t.teardown(() => responder.stop());
  const answer = await answerOnce(responder.port!, { REQUEST_METHOD: 'GET', QUERY_STRING: 'url=fcgi.example', REMOTE_ADDR: '127.0.0.1' });
  t.equal(answer.status, 200, 'a responder: the refused write tried again on server 2');
  t.same(await queued(two, 'fcgi.example'), [1], 'queued once, on server 2');
  await sleep(1500);
  t.same((await statusOf(responder.port!)).perWorker[0].database, { server: `127.0.0.1:${two.port}`, moves: 1 }, 'five checks later: still on server 2, one move');
  await responder.stop();
  t.match(responder.stderr(), /lost \(ER_OPEN_AS_READONLY: .+\); using/);
  t.notMatch(responder.stderr(), /\| +at /, 'no stack in its log');
});
