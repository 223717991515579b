// Connections under attack (CONTRACT §7, "Connections"): idle and stalled connections by
// the thousand never keep a new one from being served; a burst is answered 200 or 503,
// never reset; a peer that stops inside a request is closed after --read-timeout while an
// idle kept one is left alone; the memory held across connections is bounded; running out
// of file descriptors is survived; a fault on one connection closes only that one; a peer
// that never reads its answers is not read from until it does, and closed if it never does;
// one that reads them slowly keeps its connection.
// Short forms in CI; ADRATER_DRILL_CONNS=5000 for the long form (the README's figures).
import t from 'tap';
import type { Test } from 'tap';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectFcgi, encodeRequest } from '../../lib/fastcgi/client.js';
import { encodeRecord, encodePairs, recordReader, Type } from '../../lib/fastcgi/record.js';
import { rssMb } from '../../lib/bench/responder.js';
import { parseCgi } from '../helpers/run.js';
import { mysqlStore, sqliteStore } from '../helpers/stores.js';
import { answerOnce, getParams, startResponder } from '../helpers/fcgi.js';
import type { Responder } from '../helpers/fcgi.js';

const CONNS = Number(process.env.ADRATER_DRILL_CONNS ?? 1000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BEGIN = (id: number) => {
  const body = Buffer.alloc(8);
  body.writeUInt16BE(1, 0);
  body[2] = 1;
  return encodeRecord(Type.BeginRequest, id, body);
};

/** A raw connection that records whether the server closed it. */
function open(port: number, first?: Buffer): Promise<{ socket: Socket; closed: () => boolean }> {
  return new Promise((resolve, reject) => {
    let closed = false;
    const socket = connect(port, '127.0.0.1', () => {
      if (first) socket.write(first);
      resolve({ socket, closed: () => closed });
    });
    socket.on('close', () => (closed = true));
    socket.on('error', (err) => (closed ? undefined : reject(err)));
    socket.on('data', () => {});
  });
}

/** One request on a new connection: its status and how long it took. */
async function oneRequest(port: number, query = 'url=fresh.example'): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const { status } = await answerOnce(port, getParams(query));
  return { status, ms: performance.now() - started };
}

async function responderFor(t: Test, more: { path?: string; args?: string[]; nodeFlags?: string[]; launcher?: string[] } = {}): Promise<Responder> {
  const store = await sqliteStore();
  t.teardown(() => store.close());
  await store.sql("INSERT INTO site_ratings VALUES ('fresh.example', 'A', NULL, '2025-01-01 00:00:00', NULL)");
  const responder = await startResponder({ db: store.url, ...more });
  t.teardown(() => responder.stop('SIGKILL'));
  return responder;
}

t.test(`${CONNS} idle and stalled connections, then a normal request`, async (t) => {
  const responder = await responderFor(t);
  const port = responder.port!;
  const rssBefore = rssMb(responder.pid);
  const stalls = [
    () => undefined, // connected, nothing sent: idle
    () => Buffer.from([1, 1, 0]), // inside a record header
    () => Buffer.concat([BEGIN(1), encodeRecord(Type.Params, 1, encodePairs([['QUERY_STRING', 'url=a.example']]))]), // inside a request
  ];
  const held: Array<{ socket: Socket; closed: () => boolean }> = [];
  const started = performance.now();
  for (let i = 0; i < CONNS; i += 100) {
    held.push(...(await Promise.all(Array.from({ length: Math.min(100, CONNS - i) }, (_, k) => open(port, stalls[(i + k) % 3]())))));
  }
  const opened = performance.now() - started;
  const answers = [];
  for (let i = 0; i < 5; i++) answers.push(await oneRequest(port));
  t.same(answers.map((a) => a.status), [200, 200, 200, 200, 200], 'new connections are served while the others are held');
  t.equal(held.filter((h) => h.closed()).length, 0, 'none of the held connections was closed (their read timeout is 30 s)');
  const rss = rssMb(responder.pid);
  t.comment(`${CONNS} held connections opened in ${opened.toFixed(0)} ms; 5 new requests answered in ${answers.map((a) => a.ms.toFixed(1)).join(', ')} ms; responder RSS ${rssBefore.toFixed(1)} -> ${rss.toFixed(1)} MB`);
  for (const h of held) h.socket.destroy();
});

t.test('a burst of 1,000 simultaneous requests: each answered 200 or 503, none reset', async (t) => {
  // On MariaDB (requests really overlap there) with --max-reqs 64, so that the busy 503 is reached.
  const store = (await mysqlStore(t)) ?? (await sqliteStore());
  t.teardown(() => store.close());
  const responder = await startResponder({ db: store.url, args: ['--max-reqs', '64'] });
  t.teardown(() => responder.stop('SIGKILL'));
  const port = responder.port!;
  const started = performance.now();
  const outcomes = await Promise.all(
    Array.from({ length: 1000 }, (_, i) => oneRequest(port, `url=burst-${i}.example`).then((a) => String(a.status), (err: Error) => `error: ${err.message}`)),
  );
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[o] = (counts[o] ?? 0) + 1;
  t.same(Object.keys(counts).filter((k) => k !== '200' && k !== '503'), [], `every answer 200 or 503: ${JSON.stringify(counts)}`);
  t.ok(counts['200'] > 0, 'some were served');
  t.comment(`burst of 1,000 (${store.name}, --max-reqs 64) in ${(performance.now() - started).toFixed(0)} ms: ${JSON.stringify(counts)}`);
});

t.test('--read-timeout closes a stalled connection; a kept idle one still serves', async (t) => {
  const responder = await responderFor(t, { args: ['--read-timeout', '1'] });
  const port = responder.port!;
  const kept = await connectFcgi({ port, host: '127.0.0.1' });
  t.equal(parseCgi((await kept.request(getParams('url=fresh.example'))).stdout).status, 200);
  const stalledRecord = await open(port, Buffer.from([1, 1, 0, 1]));
  const stalledRequest = await open(port, BEGIN(1));
  const idle = await open(port);
  await sleep(2500);
  t.ok(stalledRecord.closed(), 'inside a record: closed');
  t.ok(stalledRequest.closed(), 'inside a request: closed');
  t.notOk(idle.closed(), 'a connection that never started a request is left open');
  t.equal(parseCgi((await kept.request(getParams('url=fresh.example'))).stdout).status, 200, 'the idle kept connection still serves');
  t.equal(responder.stderr().match(/no byte for 1 s inside a request/g)?.length, 2, 'one log line each');
  kept.close();
  idle.socket.destroy();
});

t.test('memory across connections is bounded: the largest holder is closed, the rest served', async (t) => {
  const responder = await responderFor(t);
  const port = responder.port!;
  // 320 connections each stalled with 250 KB of params: 80 MB asked for, 64 MB allowed.
  const chunk = encodeRecord(Type.Params, 1, Buffer.alloc(62_000, 0x61));
  const held = [];
  for (let i = 0; i < 320; i++) {
    const h = await open(port, BEGIN(1));
    for (let k = 0; k < 4; k++) h.socket.write(chunk);
    held.push(h);
  }
  await sleep(1000);
  const closed = held.filter((h) => h.closed()).length;
  t.ok(closed > 0 && closed < 320, `some connections were closed for memory (${closed} of 320)`);
  t.match(responder.stderr(), /holds \d+ bytes of unfinished requests and all connections together are over 67108864/);
  t.equal((await oneRequest(port)).status, 200, 'a new request is served');
  const rss = rssMb(responder.pid);
  t.ok(rss < 400, `RSS stays bounded (${rss.toFixed(1)} MB)`);
  t.comment(`320 connections x 250 KB stalled: ${closed} closed for memory, RSS ${rss.toFixed(1)} MB`);
  for (const h of held) h.socket.destroy();
});

t.test('a peer that pipelines requests and never reads its answers: reading from it is held, then it is closed', async (t) => {
  const responder = await responderFor(t, { args: ['--read-timeout', '2'] });
  const port = responder.port!;
  const before = rssMb(responder.pid);
  // 100 URLs a request (~16 KB an answer); the peer writes while the socket takes it and reads nothing.
  const query = Array.from({ length: 100 }, (_, i) => `url=http://www.s${i}.example/${'p'.repeat(60)}`).join('&');
  const peer = await open(port);
  peer.socket.pause();
  peer.socket.removeAllListeners('data');
  let sent = 0;
  for (; sent < 20_000; sent++) {
    if (peer.socket.write(encodeRequest((sent % 60_000) + 1, getParams(query)))) continue;
    const drained = await Promise.race([new Promise((r) => peer.socket.once('drain', () => r(true))), sleep(1000).then(() => false)]);
    if (!drained) break; // the responder has stopped reading: the kernel's buffers are full
  }
  t.ok(sent < 20_000, `the peer could not send all 20,000 requests (${sent} sent)`);
  const rss = rssMb(responder.pid);
  t.ok(rss - before < 100, `the responder's RSS grew ${(rss - before).toFixed(1)} MB, not by the answers of every request sent`);
  t.equal((await oneRequest(port)).status, 200, 'another connection is served meanwhile');
  for (let waited = 0; waited < 10_000 && !peer.closed(); waited += 250) await sleep(250);
  t.ok(peer.closed(), 'closed after --read-timeout with nothing read');
  t.match(responder.stderr(), /closing a connection from 127\.0\.0\.1: it has read none of its answers for 2 s/);
  t.equal((await oneRequest(port)).status, 200, 'and the responder serves on');
  t.comment(`never-reading peer: ${sent} requests sent before its writes stopped, RSS ${before.toFixed(1)} -> ${rss.toFixed(1)} MB`);
});

t.test('a peer that reads its answers slowly but steadily keeps its connection: --read-timeout counts time with nothing taken', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'adrater-slow-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // A Unix socket: the kernel holds at most ~200 KB of answers for the peer (TCP's buffers
  // grow to megabytes), so most of them wait in the responder, as they would for a slow link.
  const responder = await responderFor(t, { path: join(dir, 'fcgi.sock'), args: ['--read-timeout', '2'] });
  const REQUESTS = 160;
  // 100 short URLs a request (~2 KB), ~6.7 KB an answer: ~1 MB of answers in all.
  const query = Array.from({ length: 100 }, (_, i) => `url=s${i}.example`).join('&');
  const peer = connect(responder.path!);
  await new Promise((resolve) => peer.once('connect', resolve));
  let closed = false;
  peer.on('close', () => (closed = true));
  peer.on('error', () => {});
  peer.pause();
  for (let id = 1; id <= REQUESTS; id++) peer.write(encodeRequest(id, getParams(query)));
  // At most 32 KB every 200 ms (160 KB/s): the ~1 MB takes the peer over 6 s, so the answers
  // it has not taken wait in the responder for longer than the 2-s timeout, while it takes
  // some every second or so.
  const records = recordReader();
  let ended = 0;
  let taken = 0;
  const started = performance.now();
  while (ended < REQUESTS && !closed && performance.now() - started < 40_000) {
    await sleep(200);
    const chunk = peer.readableLength > 0 ? (peer.read(Math.min(peer.readableLength, 32_768)) as Buffer | null) : (peer.read(0), null);
    if (!chunk) continue;
    taken += chunk.length;
    for (const record of records(chunk)) if (record.type === Type.EndRequest) ended++;
  }
  const seconds = (performance.now() - started) / 1000;
  // Taking at most 160 KB a second, the peer needed more than twice the timeout for these.
  t.ok(taken > 2 * 2 * 160 * 1024, `the answers were ${taken} bytes, more than the peer takes in twice the timeout`);
  t.equal(ended, REQUESTS, 'every answer arrived');
  t.notOk(closed, 'the connection is still open');
  t.notMatch(responder.stderr(), /read none of its answers/, 'no line about a peer that reads nothing');
  peer.destroy();
  t.comment(`slow reader: ${REQUESTS} answers, ${taken} bytes taken over ${seconds.toFixed(1)} s at most 32 KB every 200 ms`);
});

t.test('out of file descriptors (prlimit --nofile=256): connections shed, then served again', async (t) => {
  const responder = await responderFor(t, { launcher: ['prlimit', '--nofile=256:256', '--'] });
  const port = responder.port!;
  const held = await Promise.all(Array.from({ length: 300 }, () => open(port).catch(() => null)));
  await sleep(500);
  const shed = held.filter((h) => !h || h.closed()).length;
  t.ok(shed > 0, `connections past the limit were shed (${shed} of 300)`);
  t.match(responder.stderr(), /\d+ connections: at the open-file limit, new connections are shed until some close/);
  t.equal(responder.child.exitCode, null, 'the responder lives');
  for (const h of held) h?.socket.destroy();
  let served = null;
  for (const until = Date.now() + 5000; !served && Date.now() < until; await sleep(50)) {
    served = await oneRequest(port).catch(() => null);
  }
  t.equal(served?.status, 200, 'served again once descriptors are free');
  t.comment(`300 connections under a limit of 256 descriptors: ${shed} shed`);
});

t.test('an unexpected error on one connection closes that connection only', async (t) => {
  // The fault comes from outside the code: a preloaded module makes the decoding of one
  // request's params throw, as a bug there would.
  const dir = mkdtempSync(join(tmpdir(), 'adrater-fault-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const fault = join(dir, 'fault.cjs');
  writeFileSync(fault, `const real = Buffer.prototype.toString;
Buffer.prototype.toString = function (...args) {
  const text = real.apply(this, args);
  if (args[0] === 'latin1' && text.includes('fault=1')) throw new TypeError('injected fault');
  return text;
};\n`);
  const responder = await responderFor(t, { nodeFlags: ['--require', fault] });
  const port = responder.port!;
  const bystander = await connectFcgi({ port, host: '127.0.0.1' });
  const victim = await open(port, encodeRequest(1, getParams('url=a.example&fault=1')));
  await sleep(300);
  t.ok(victim.closed(), 'the connection with the fault is closed');
  t.match(responder.stderr(), /req=\S+ closing a connection from 127\.0\.0\.1: internal error: TypeError: injected fault/);
  t.equal(parseCgi((await bystander.request(getParams('url=a.example'))).stdout).status, 200, 'another connection is still served');
  t.equal(responder.child.exitCode, null, 'the process lives');
  bystander.close();
});
