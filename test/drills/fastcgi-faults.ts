// Faults under load (issue 6): the database killed -9 and restarted mid-load, more
// requests than the bound, SIGTERM with requests in flight. Figures go to the test log;
// what is asserted is what must always hold.
import t from 'tap';
import mysql from 'mysql2/promise';
import { rssMb } from '../../lib/bench/responder.js';
import { startResponder } from '../helpers/fcgi.js';
import { drillBed } from '../helpers/mariadb.js';
import { sqliteStore, mysqlStore } from '../helpers/stores.js';
import { startLoad, countBy } from '../helpers/load.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seconds = Number(process.env.ADRATER_DRILL_SECONDS ?? 2);

t.test('kill -9 of the database mid-load: nothing acknowledged is lost', async (t) => {
  const { db, responder } = await drillBed(t, 'faults');

  const load = startLoad(responder.port!, 8, (n) => ({ q: `url=ack-${n}.org&url=rated.example`, domain: `ack-${n}.org` }));
  await sleep(seconds * 1000);
  await db.stop('SIGKILL');
  const killedAt = load.outcomes.length;
  await sleep(seconds * 500);
  await db.start();
  const restartedAt = load.outcomes.length;
  await sleep(seconds * 1000);
  const outcomes = await load.stop();
  const counts = countBy(outcomes);
  t.comment(`${outcomes.length} requests: ${JSON.stringify(counts)}; killed after ${killedAt}, restarted after ${restartedAt}`);
  t.ok((counts[503] ?? 0) > 0, 'the outage was seen as 503s');
  t.notOk(counts.truncated || counts.closed || counts[500], 'no truncated answers, dropped connections or 500s');
  t.equal(responder.child.exitCode, null, 'the responder lived through it');

  const firstBack = outcomes.findIndex((o, i) => i >= restartedAt && o.status === 200);
  const afterRecovery = outcomes.slice(firstBack).filter((o) => o.status !== 200);
  t.ok(firstBack >= 0, 'requests succeed again after the restart');
  t.equal(afterRecovery.length, 0, `after the first success post-restart, 0 errors (${outcomes.length - firstBack} requests)`);

  const check = await mysql.createConnection({ host: '127.0.0.1', port: db.port, user: 'root', database: 'faults' });
  const [rows] = await check.query('SELECT domain FROM rating_queue');
  await check.end();
  const queued = new Set((rows as Array<{ domain: string }>).map((r) => r.domain));
  const acknowledged = outcomes.filter((o) => o.status === 200).map((o) => o.domain);
  const lost = acknowledged.filter((d) => !queued.has(d));
  t.comment(`acknowledged ${acknowledged.length}, queued rows ${queued.size}, lost ${lost.length}`);
  t.equal(lost.length, 0, 'every queue write acknowledged with 200 is in the table');
});

t.test('overload: past the bound, fast 503s; then normal again', async (t) => {
  // MySQL: its queries are asynchronous, so requests overlap and can pass the bound.
  const store = (await mysqlStore(t)) ?? (await sqliteStore());
  t.teardown(() => store.close());
  const responder = await startResponder({ db: store.url, args: ['--max-reqs', '4'] });
  t.teardown(() => responder.stop());
  const pid = responder.child.pid!;
  const before = rssMb(pid);
  // 64 connections, each with 4 requests multiplexed at a time, against a bound of 4.
  const loads = Array.from({ length: 4 }, (_, k) => startLoad(responder.port!, 16, (n) => ({ q: `url=over-${k}-${n}.org`, domain: '' })));
  await sleep(seconds * 1000);
  const outcomes = (await Promise.all(loads.map((l) => l.stop()))).flat();
  const counts = countBy(outcomes);
  const busy = outcomes.filter((o) => o.status === 503).map((o) => o.ms).sort((a, b) => a - b);
  t.comment(`${outcomes.length} requests: ${JSON.stringify(counts)}; 503 median ${busy[busy.length >> 1]?.toFixed(2)} ms`);
  t.ok(busy.length > 0, 'over the bound: 503');
  t.ok((counts[200] ?? 0) > 0, 'within the bound: 200');
  t.notOk(counts.truncated || counts.closed || counts[500], 'nothing dropped or broken');
  const after = rssMb(pid);
  t.ok(after < before + 60, `memory: ${before.toFixed(1)} -> ${after.toFixed(1)} MB`);
  const calm = startLoad(responder.port!, 2, (n) => ({ q: `url=calm-${n}.org`, domain: '' }));
  await sleep(500);
  const calmCounts = countBy(await calm.stop());
  t.same(Object.keys(calmCounts), ['200'], `back to normal when the load stops: ${JSON.stringify(calmCounts)}`);
});

t.test('SIGTERM under load: every accepted request gets its full answer, exit 0', async (t) => {
  const store = await sqliteStore();
  t.teardown(() => store.close());
  const responder = await startResponder({ db: store.url });
  const load = startLoad(responder.port!, 16, (n) => ({ q: `url=term-${n}.org&url=x.example`, domain: '' }));
  await sleep(seconds * 500);
  responder.child.kill('SIGTERM');
  const code = await responder.exited;
  const outcomes = await load.stop();
  const counts = countBy(outcomes);
  const served = Number(/stopped after (\d+) requests/.exec(responder.stderr())?.[1] ?? -1);
  t.comment(`${JSON.stringify(counts)}; the responder served ${served}`);
  t.equal(code, 0, 'exit 0');
  t.notOk(counts.truncated, 'no answer cut short');
  t.equal(counts[200], served, 'every request the responder took was answered in full');
});
