// A responder's look-ups and queue writes take turns, one statement in flight between them
// (lib/store/grouping.ts). A queue write stuck behind a row lock (the rater holding a queue
// row in an open transaction, as `adrater queue --claim` does while it works) gives its turn
// up after HOLD_MS: requests whose sites are all rated are answered while it waits, and the
// stuck request is answered once the lock goes, with its row counted. Real MariaDB, the real
// bin as a responder, a real FastCGI connection.
import t from 'tap';
import mysql from 'mysql2/promise';
import { connectFcgi } from '../../lib/fastcgi/client.js';
import type { FcgiAnswer } from '../../lib/fastcgi/client.js';
import { mysqlStore } from '../helpers/stores.js';
import { startResponder } from '../helpers/fcgi.js';
import { parseCgi } from '../helpers/run.js';
import { until } from '../helpers/wait.js';

const ask = (url: string) => ({ REQUEST_METHOD: 'GET', QUERY_STRING: `url=${url}`, REMOTE_ADDR: '127.0.0.1' });

/** `answer`, or a rejection once `ms` have passed (InnoDB would end the lock wait only after 50 s). */
const within = (answer: Promise<FcgiAnswer>, ms: number, what: string) => {
  answer.catch(() => {}); // a race lost to the clock: the teardown closes the connection under it
  return Promise.race([answer, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms).unref())]);
};

t.test('a queue write waiting on a lock does not hold up the look-ups of other requests', async (t) => {
  const store = await mysqlStore(t);
  if (!store) return;
  await store.sql("INSERT INTO site_ratings (domain, rating, info, rated_at, expires_at) VALUES ('rated.example', 'A', NULL, '2026-01-01 00:00:00', NULL)");
  await store.sql("INSERT INTO rating_queue (domain, priority, first_requested, last_requested, requests, source_ip) VALUES ('locked.example', 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00', 1, NULL)");
  const responder = await startResponder({ db: store.url });
  const client = await connectFcgi({ host: '127.0.0.1', port: responder.port! });
  const rater = await mysql.createConnection(store.url);
  let stuck: Promise<FcgiAnswer> | null = null;
  // In this order, also when the test fails: the lock goes first, so that the stuck request
  // ends and the responder's stop does not wait on it.
  t.teardown(async () => {
    await rater.end().catch(() => {});
    if (stuck) await within(stuck, 20_000, 'the stuck request, at the end').catch(() => {});
    client.close();
    await responder.stop();
    await store.close();
  });
  await rater.query('START TRANSACTION');
  await rater.query("SELECT domain FROM rating_queue WHERE domain = 'locked.example' FOR UPDATE");

  let stuckAnswered = false;
  stuck = client.request(ask('locked.example')).then((answer) => ((stuckAnswered = true), answer));
  // This database's queue write in flight: an INSERT runs for microseconds unless it waits on a lock.
  const waitingOnLock = async () =>
    Number((await store.sql("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE db = DATABASE() AND info LIKE 'INSERT INTO rating_queue%'"))[0].n);
  await until("the stuck request's queue write to wait on the lock", async () => (await waitingOnLock()) > 0);
  t.equal(await waitingOnLock(), 1, "the stuck request's queue write waits on the rater's lock");

  for (let i = 0; i < 5; i++) {
    const answer = parseCgi((await within(client.request(ask('rated.example')), 20_000, `rated request ${i + 1}`)).stdout);
    t.equal(answer.status, 200, `rated request ${i + 1} answered while the write waits`);
    t.match(answer.body, /status="rated" rating="A"/);
  }
  t.notOk(stuckAnswered, 'the stuck request is still waiting');
  t.equal(await waitingOnLock(), 1, 'and its write still waits on the lock');

  await rater.query('COMMIT');
  const answer = parseCgi((await within(stuck!, 20_000, 'the stuck request')).stdout);
  t.equal(answer.status, 200, 'the stuck request is answered once the lock goes');
  t.match(answer.body, /status="queued"/);
  t.same(await store.sql("SELECT requests FROM rating_queue WHERE domain = 'locked.example'"), [{ requests: 2 }], 'its request counted once');
});
