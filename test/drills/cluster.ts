// Many hosts, one database cluster (CONTRACT §8), on real clusters started here: a 3-node
// MariaDB Galera cluster and a primary with an asynchronous replica.
// - kill -9 of the node in use under FastCGI load: 503 only around the loss, none from 2 s
//   after it, and every 200's queued domain in the cluster afterwards, counted once;
// - the node in use cut off from its cluster under FastCGI load (it still answers): the
//   same, and no 500 from the write it was committing (1180);
// - the node in use stops answering without closing its connections (SIGSTOP): the same,
//   its statements in flight failed once a new connection to it gets no answer;
// - three responders on three nodes writing the same domains at once: all 200, `requests`
//   and priorities exact (certification conflicts are retried by the client);
// - a responder leaves its node while that node answers desynced, and returns to it
//   (failback) only once it is Synced;
// - a CGI run whose first listed node refuses its statements (1047), and one whose first
//   listed server is down;
// - --db-read reading from the replica, from --db while the replica's replication is
//   stopped, while it does not answer (SIGSTOP), and when it is down.
// ADRATER_DRILL_SECONDS lengthens the loads (the README's long form).
import t from 'tap';
import type { Test } from 'tap';
import { connectFcgi } from '../../lib/fastcgi/client.js';
import { galeraCluster, primaryAndReplica, synced, GALERA_PROVIDER } from '../helpers/galera.js';
import type { Cluster } from '../helpers/galera.js';
import type { PrivateMariadb } from '../helpers/mariadb.js';
import { answerOnce, getParams, startResponder, statusOf } from '../helpers/fcgi.js';
import { startLoad, countBy } from '../helpers/load.js';
import { cgi, parseCgi, run } from '../helpers/run.js';
import { sites } from '../helpers/xml.js';
import { sleep, until } from '../helpers/wait.js';
import { STALL_MS } from '../../lib/store/mysql-target.js';

const SECONDS = Number(process.env.ADRATER_DRILL_SECONDS ?? 2);

/** A database with adrater's schema, created through `node` (Galera replicates it to all). */
async function database(node: PrivateMariadb, url: string, name: string): Promise<void> {
  await node.sql(`CREATE DATABASE ${name}`);
  const init = await run(['db', 'init', '--db', url], {});
  if (init.code !== 0) throw new Error(`db init failed: ${init.stderr}`);
}

async function cluster(t: Test): Promise<Cluster> {
  const started = performance.now();
  const c = await galeraCluster(3);
  t.teardown(() => c.destroy());
  t.comment(`3-node Galera cluster up in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return c;
}

t.test('Galera', { skip: GALERA_PROVIDER ? false : 'galera-4 is not installed' }, async (t) => {
  const galera = await cluster(t);
  await database(galera.nodes[0], galera.url('drill'), 'drill');

  /**
   * Node 1 is a member of the cluster again, Synced: node 2 counts three members, and node 1
   * is Synced in a primary component. (Node 1's own word alone is not enough: resumed after
   * a stop, it reports its old view, Synced, until it learns it was left out.)
   */
  const rejoined = async () => {
    const [node1, node2] = galera.nodes;
    const size = await node2.sql("SHOW STATUS LIKE 'wsrep_cluster_size'");
    return size[0]?.Value === '3' && (await synced(node1).catch(() => false));
  };

  /**
   * Node 1, in use by a responder under FastCGI load, is lost by `lose`: only 200 and 503,
   * none but 200 from `graceMs` after the loss, the responder on node 2 from then on (its
   * log says so, and why), and every 200's domain queued in the cluster once. One pooled
   * connection for 8 clients: requests wait in the pool's queue when the server is lost, as
   * they do under any real load, and must move on with the rest.
   */
  async function lossUnderLoad(t: Test, prefix: string, lose: () => Promise<unknown>, graceMs: number, db = 'drill') {
    const [node1, node2] = galera.nodes;
    const responder = await startResponder({ db: galera.url(db), args: ['--pool-size', '1'] });
    t.teardown(() => responder.stop());
    const loadStarted = performance.now();
    const load = startLoad(responder.port!, 8, (n) => ({ q: `url=${prefix}-${n}.example&url=site.example`, domain: `${prefix}-${n}.example` }));
    await sleep(1000 * SECONDS);
    const lostAt = performance.now() - loadStarted;
    await lose();
    await sleep(1000 * SECONDS + graceMs);
    // Bounded: a responder stuck on the lost server would keep its clients waiting for good.
    const stuck = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`requests still unanswered 20 s after the load stopped; the responder's log:\n${responder.stderr()}`)), 20_000).unref());
    const outcomes = await Promise.race([load.stop(), stuck]);
    const counts = countBy(outcomes);
    t.same(Object.keys(counts).filter((k) => k !== '200' && k !== '503'), [], `only 200 and 503: ${JSON.stringify(counts)}`);
    const late = outcomes.filter((o) => o.status !== 200 && o.at > lostAt + graceMs);
    t.same(late.map((o) => o.status), [], `from ${graceMs / 1000} s after the loss, every request is answered 200`);
    t.match(responder.stderr(), new RegExp(`database 127\\.0\\.0\\.1:${node1.port} lost \\((\\w+)(: .*)?\\); using 127\\.0\\.0\\.1:${node2.port}`), 'the log says it moved to node 2, and why');
    const answered = outcomes.filter((o) => o.status === 200).map((o) => o.domain);
    const rows = await node2.sql(`SELECT domain, requests FROM drill.rating_queue WHERE domain LIKE '${prefix}-%'`);
    const queued = new Map(rows.map((r) => [r.domain, r.requests]));
    t.same(answered.filter((d) => queued.get(d) !== 1), [], `every one of ${answered.length} answered requests' domains is queued, once`);
    if (t.counts.fail > 0) t.comment(`the responder's log:\n${responder.stderr()}`);
    const unavailable = outcomes.filter((o) => o.status === 503);
    const window = unavailable.length ? `${(Math.min(...unavailable.map((o) => o.at)) - lostAt).toFixed(0)}..${(Math.max(...unavailable.map((o) => o.at + o.ms)) - lostAt).toFixed(0)} ms after the loss` : 'none';
    return { summary: `${outcomes.length} requests, ${JSON.stringify(counts)}; 503s ${window}`, log: responder.stderr(), refused: unavailable.map((o) => o.domain), queued };
  }

  await t.test('kill -9 of the node in use under FastCGI load', async (t) => {
    const { summary } = await lossUnderLoad(t, 'ha', () => galera.nodes[0].stop('SIGKILL'), 2000);
    t.comment(`kill -9 of the node in use: ${summary}`);
    await galera.nodes[0].start(); // back into the cluster, for the next test
  });

  await t.test('a node cut off from its cluster under FastCGI load', async (t) => {
    // gmcast.isolate: the node in use still answers its clients but leaves the primary
    // component. The queue write committing then fails once the node notices (1180, after
    // evs.suspect_timeout), and later statements get 1047: a 503 for the requests in flight,
    // never a 500.
    const node1 = galera.nodes[0];
    t.teardown(async () => {
      await node1.sql("SET GLOBAL wsrep_provider_options = 'gmcast.isolate=0'");
      await until('node 1 to rejoin its cluster, Synced', rejoined, 60_000); // for the tests after this one
    });
    const { summary, log, refused, queued } = await lossUnderLoad(t, 'cut', () => node1.sql("SET GLOBAL wsrep_provider_options = 'gmcast.isolate=1'"), 3000);
    t.match(log, /lost \((ER_ERROR_DURING_COMMIT|ER_UNKNOWN_COM_ERROR)[:)]/, 'lost: the write committing at the cut (1180), or the next statement (1047)');
    t.notMatch(log, / 500 /, 'no 500 in the log');
    t.comment(`a node cut off under load: ${summary}; of the 503s' domains ${refused.filter((d) => queued.has(d)).length} queued in the cluster (a write that failed with 1180 may have committed: a 503 does not say)`);
  });

  await t.test('a node that stops answering under FastCGI load (its connections left open)', async (t) => {
    // SIGSTOP: as a host that crashed or lost its network, the node closes nothing, and the
    // statements in flight there would wait for TCP to give up (~15 minutes). After STALL_MS a
    // new connection to it gets no greeting within connectTimeout (500 ms here): those
    // statements fail as on a cut connection and the responder moves on.
    const node1 = galera.nodes[0];
    t.teardown(async () => {
      node1.resume();
      await until('node 1 to rejoin its cluster, Synced', rejoined, 60_000); // for the tests after this one
    });
    const grace = 2 * STALL_MS + 500 + 2000; // the watch's period twice, the probe's connectTimeout, the retry
    const { summary, log } = await lossUnderLoad(t, 'silent', async () => node1.pause(), grace, 'drill?connectTimeout=500');
    t.match(log, new RegExp(`database 127\\.0\\.0\\.1:${node1.port}: no answer to a new connection while a statement waited 2 s; failing the \\d+ in flight there`), 'the log says why');
    t.notMatch(log, / 500 /, 'no 500 in the log');
    t.comment(`a node that stops answering under load: ${summary}`);
  });

  await t.test('three responders on three nodes writing the same domains at once', async (t) => {
    const order = [[0, 1, 2], [1, 2, 0], [2, 0, 1]];
    const responders = await Promise.all(order.map((o) => startResponder({ db: galera.url('drill', o) })));
    t.teardown(() => Promise.all(responders.map((r) => r.stop())));
    const before = await galera.nodes[0].sql("SHOW GLOBAL STATUS LIKE 'wsrep_local_cert_failures'");
    const domains = Array.from({ length: 20 }, (_, i) => `shared-${i}.example`);
    const perResponder = 40 * SECONDS;
    const statuses: Record<number, number> = {};
    const asked = new Map<string, { requests: number; priority: number }>();
    await Promise.all(
      responders.map(async (responder, r) => {
        const clients = await Promise.all([0, 1, 2, 3].map(() => connectFcgi({ port: responder.port!, host: '127.0.0.1' })));
        await Promise.all(clients.map(async (client, c) => {
          for (let i = 0; i < perResponder / 4; i++) {
            const picked = domains.filter((_, d) => (d + i + c + r) % 3 === 0);
            const priority = (i + r) % 10;
            for (const d of picked) {
              const seen = asked.get(d) ?? { requests: 0, priority: 0 };
              asked.set(d, { requests: seen.requests + 1, priority: Math.max(seen.priority, priority) });
            }
            const status = parseCgi((await client.request(getParams(picked.map((d) => `url=${d}`).join('&') + `&priority=${priority}`))).stdout).status;
            statuses[status] = (statuses[status] ?? 0) + 1;
          }
          client.close();
        }));
      }),
    );
    t.same(Object.keys(statuses), ['200'], `all 200: ${JSON.stringify(statuses)}`);
    const rows = await galera.nodes[2].sql("SELECT domain, requests, priority FROM drill.rating_queue WHERE domain LIKE 'shared-%'");
    const stored = new Map(rows.map((row) => [row.domain, { requests: row.requests, priority: row.priority }]));
    t.same(Object.fromEntries(stored), Object.fromEntries(asked), 'requests and priorities exact, on every domain');
    const after = await galera.nodes[0].sql("SHOW GLOBAL STATUS LIKE 'wsrep_local_cert_failures'");
    const conflicts = Number(after[0].Value) - Number(before[0].Value);
    t.comment(`3 responders x ${perResponder} requests on 20 shared domains: ${JSON.stringify(statuses)}; node 1 saw ${conflicts} certification conflicts (each retried by its client)`);
  });

  await t.test('a responder leaves its node while it is desynced, and returns once it is Synced', async (t) => {
    // Node 1 still answers but is desynced (as under a backup or while donating an SST):
    // read_only is 0, wsrep_local_state 2, and its writes can block. Nothing fails, so the
    // responder must notice it by asking; clustercheck and load balancers wait for Synced
    // (4), and so must failback.
    const [node1, node2] = galera.nodes;
    const responder = await startResponder({ db: galera.url('drill?failback=0.3', [0, 1]), args: ['--status-path', '/status'] });
    t.teardown(async () => {
      await node1.sql('SET GLOBAL wsrep_desync = OFF').catch(() => {});
      await responder.stop();
    });
    let n = 0;
    /** One request for a new site; its status. */
    const ask = async () => (await answerOnce(responder.port!, getParams(`url=failback-${++n}.example`))).status;
    const label = (node: PrivateMariadb) => `127\\.0\\.0\\.1:${node.port}`;
    /** The node the status says the responder uses, and its moves. */
    const inUse = async () => (await statusOf(responder.port!)).perWorker[0].database;
    t.equal(await ask(), 200, 'answered on node 1');
    t.same(await inUse(), { server: `127.0.0.1:${node1.port}`, moves: 0 });

    await node1.sql('SET GLOBAL wsrep_desync = ON');
    t.same(await node1.sql("SHOW GLOBAL STATUS LIKE 'wsrep_local_state'"), [{ Variable_name: 'wsrep_local_state', Value: '2' }], 'node 1 answers, desynced');
    await until('the responder leaves node 1 for node 2', async () => (await ask()) === 200 && new RegExp(`${label(node1)} is not Synced \\(wsrep_local_state 2\\); using ${label(node2)}`).test(responder.stderr()));
    t.pass('left node 1 while it was desynced');
    t.same(await inUse(), { server: `127.0.0.1:${node2.port}`, moves: 1 }, 'the status says node 2');
    for (let i = 0; i < 8; i++, await sleep(250)) t.equal(await ask(), 200);
    t.notMatch(responder.stderr(), /is back/, 'two seconds (six checks): still on node 2');

    await node1.sql('SET GLOBAL wsrep_desync = OFF');
    await until('node 1 is Synced', async () => (await node1.sql("SHOW GLOBAL STATUS LIKE 'wsrep_local_state'"))[0]?.Value === '4');
    await until('the responder returns to node 1', async () => (await ask()) === 200 && new RegExp(`${label(node1)} is back; using it instead of ${label(node2)}`).test(responder.stderr()));
    t.pass('back on node 1 once it is Synced');
    t.same(await inUse(), { server: `127.0.0.1:${node1.port}`, moves: 2 }, 'the status says node 1 again');
  });

  await t.test('a CGI run whose first node takes its connection but refuses its statements', async (t) => {
    // A node cut off from its cluster (or set so by an operator) accepts connections and
    // answers every statement with 1047; the run's look-up never counted, so the next node
    // may answer it, and the queue write that follows goes there too.
    const [node1, node2] = galera.nodes;
    await node1.sql('SET GLOBAL wsrep_reject_queries = ALL');
    t.teardown(() => node1.sql('SET GLOBAL wsrep_reject_queries = NONE').catch(() => {}));
    const answer = await cgi(galera.url('drill'), { query: 'url=cgi-refused.example' });
    t.equal(answer.status, 200, `answered by node 2: ${answer.stderr}`);
    t.same(sites(answer.body).map((s) => s.status), ['queued']);
    t.match(answer.stderr, new RegExp(`database 127\\.0\\.0\\.1:${node1.port}: ER_UNKNOWN_COM_ERROR: WSREP has not yet prepared node for application use; trying 127\\.0\\.0\\.1:${node2.port}`));
    t.same(await node2.sql("SELECT requests FROM drill.rating_queue WHERE domain = 'cgi-refused.example'"), [{ requests: 1 }], 'queued once');
  });

  await t.test('a CGI run whose first server is down', async (t) => {
    await galera.nodes[0].stop('SIGKILL');
    const answer = await cgi(galera.url('drill'), { query: 'url=cgi-failover.example' });
    t.equal(answer.status, 200, 'answered by the second server');
    t.same(sites(answer.body).map((s) => s.status), ['queued']);
    t.match(answer.stderr, new RegExp(`database 127\\.0\\.0\\.1:${galera.nodes[0].port}: ECONNREFUSED; trying 127\\.0\\.0\\.1:${galera.nodes[1].port}`));
    t.same(await galera.nodes[1].sql("SELECT requests FROM drill.rating_queue WHERE domain = 'cgi-failover.example'"), [{ requests: 1 }]);
  });
});

t.test('--db-read: look-ups from the replica, writes to the primary; the primary when the replica is down', async (t) => {
  const { primary, replica, destroy } = await primaryAndReplica();
  t.teardown(destroy);
  await database(primary, primary.url('split'), 'split');
  // Replicated: in both. Then one rating written on the replica alone, to see where a look-up reads.
  await primary.sql("INSERT INTO split.site_ratings VALUES ('both.example', 'A', NULL, '2026-01-01 00:00:00', NULL)");
  for (let i = 0; (await replica.sql("SELECT 1 FROM split.site_ratings WHERE domain = 'both.example'")).length === 0; i++) {
    if (i > 100) throw new Error('the replica did not catch up');
    await sleep(100);
  }
  await replica.sql("INSERT INTO split.site_ratings VALUES ('replica-only.example', 'R', NULL, '2026-01-01 00:00:00', NULL)");
  const env = { ADRATER_DB_READ: replica.url('split') };

  const fromReplica = await cgi(primary.url('split'), { query: 'url=replica-only.example&url=both.example&url=split-new.example', env });
  t.equal(fromReplica.status, 200, fromReplica.stderr);
  t.same(sites(fromReplica.body).map((s) => `${s.domain}:${s.status}`), ['replica-only.example:rated', 'both.example:rated', 'split-new.example:queued'], 'the look-up read the replica');
  t.same(await primary.sql("SELECT requests FROM split.rating_queue WHERE domain = 'split-new.example'"), [{ requests: 1 }], 'the queue write went to the primary');

  const responder = await startResponder({ db: primary.url('split'), env });
  t.teardown(() => responder.stop());
  const client = await connectFcgi({ port: responder.port!, host: '127.0.0.1' });
  const viaReplica = sites(parseCgi((await client.request(getParams('url=replica-only.example'))).stdout).body);
  t.equal(viaReplica[0].status, 'rated', 'the persistent responder reads the replica too');

  // The replica's SQL thread stopped: it answers, but its ratings stay as old as the stop.
  const watching = await startResponder({ db: primary.url('split'), env: { ADRATER_DB_READ: `${replica.url('split')}?failback=0.3` } });
  t.teardown(() => watching.stop());
  /** The status replica-only.example gets through `watching` (or the responder on `port`): rated on the replica, queued on the primary. */
  const readOn = async (port = watching.port!) => sites((await answerOnce(port, getParams('url=replica-only.example'))).body)[0].status;
  t.equal(await readOn(), 'rated', 'look-ups on the replica');
  await replica.sql('STOP SLAVE SQL_THREAD');
  await until('look-ups leave the stopped replica for --db', async () => (await readOn()) === 'queued');
  t.match(watching.stderr(), /look-ups: no read server available \(.*is not replicating \(Seconds_Behind_Master NULL\)\); reading from --db/);
  await replica.sql('START SLAVE SQL_THREAD');
  await until('look-ups return to the replica once it replicates', async () => (await readOn()) === 'rated');
  t.match(watching.stderr(), /look-ups: a read server answers again/);

  // The replica stops answering, its connections left open (SIGSTOP, as a crashed host): the
  // look-up caught there fails once a new connection gets no answer and reads from --db; the
  // look-ups after it read from --db at once, not each after the replica's connect time-outs.
  // Both responders: `watching` checks its read server every 0.3 s, `responder` every 30 s
  // (the default), so that one's look-ups leave the replica when the watch gives up on it.
  const timedRead = async (port: number) => {
    const started = performance.now();
    const status = await readOn(port);
    return { status, ms: performance.now() - started };
  };
  replica.pause();
  t.teardown(() => replica.resume());
  for (const [name, port] of [['checking every 0.3 s', watching.port!], ['checking every 30 s', responder.port!]] as const) {
    const caught = await timedRead(port);
    t.equal(caught.status, 'queued', `${name}: the look-up caught on the silent replica read from --db after ${caught.ms.toFixed(0)} ms`);
    t.ok(caught.ms < 2 * STALL_MS + 2 * 3000 + 2000, 'within the watch, the probe and one new connection, each bounded');
    for (let i = 0; i < 3; i++) {
      const next = await timedRead(port);
      t.equal(next.status, 'queued', `${name}: look-up ${i + 1} after it from --db`);
      t.ok(next.ms < 1000, `at once (${next.ms.toFixed(0)} ms), not after the replica's connect time-outs`);
    }
  }
  replica.resume();
  await until('look-ups return to the replica once it answers', async () => (await readOn()) === 'rated', 20_000);
  await replica.stop('SIGKILL');
  const fallback = parseCgi((await client.request(getParams('url=replica-only.example&url=both.example'))).stdout);
  t.equal(fallback.status, 200);
  t.same(sites(fallback.body).map((s) => s.status), ['queued', 'rated'], 'replica down: read from the primary (which never had replica-only.example)');
  t.match(responder.stderr(), /look-ups: no read server available .*; reading from --db/);
  const cgiFallback = await cgi(primary.url('split'), { query: 'url=both.example', env });
  t.equal(cgiFallback.status, 200, 'a CGI run falls back too');
  client.close();
});
