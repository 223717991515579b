// The byte stream under a CGI run's MySQL client (lib/store/mysql-wire.ts): on this Node,
// Node's own stream handles for an address, a Unix socket or a host name the hosts file
// answers for (each address it lists in turn), node:net for any other host name. The
// handles are Node's internals, and misused they abort the process (a CGI run would answer
// nothing), so every path is driven here: both directions, a write the kernel takes later,
// refusal, an address that never answers, an address the handle rejects at once, a reset, a
// close by either side, a destroy while connecting, a write after the end.
import t from 'tap';
import { connect, createServer } from 'node:net';
import type { Socket } from 'node:net';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openWireSocket } from '../../lib/store/wire-socket.js';
import type { WireSocket, WireTarget } from '../../lib/store/wire-socket.js';
import type { HostsFiles } from '../../lib/store/hosts-file.js';
import { socketServer } from '../helpers/socket-server.js';

/** Opens a socket that records what happens to it. */
async function open(target: WireTarget, prefer?: 'handle' | 'net', hostsFiles?: HostsFiles) {
  const seen = { connects: 0, data: Buffer.alloc(0), errors: [] as string[], closes: 0 };
  let ended: () => void;
  const closed = new Promise<void>((resolve) => (ended = resolve));
  const socket: WireSocket = await openWireSocket(
    target,
    {
      connect: () => seen.connects++,
      data: (chunk) => (seen.data = Buffer.concat([seen.data, chunk])),
      error: (code, message) => seen.errors.push(`${code}: ${message}`),
      close: () => {
        seen.closes++;
        ended();
      },
    },
    prefer,
    hostsFiles,
  );
  return { socket, seen, closed };
}

const echo = (socket: Socket) => socket.pipe(socket);
const until = async (check: () => boolean) => {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
};

/** A hosts file and an nsswitch.conf whose hosts line is `sources`, in `dir`. */
function hostsFiles(dir: string, hosts: string, sources = 'files dns'): HostsFiles {
  writeFileSync(join(dir, 'hosts'), hosts);
  writeFileSync(join(dir, 'nsswitch.conf'), `passwd: files\nhosts: ${sources}\n`);
  return { hosts: join(dir, 'hosts'), nsswitch: join(dir, 'nsswitch.conf') };
}

t.test('an address, a Unix socket and a host name the hosts file lists go through the handle, another host name (or prefer net) through node:net; bytes go both ways', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'adrater-wire-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tcp = (await socketServer(t, echo)) as { host: string; port: number };
  const listed = hostsFiles(mkdtempSync(join(dir, 'listed-')), '127.0.0.1\tlocalhost db.test\n');
  // 127.0.0.2 is loopback too, but nothing listens there: refused, then the next address.
  const refusedFirst = hostsFiles(mkdtempSync(join(dir, 'refused-first-')), '127.0.0.2 db.test\n127.0.0.1 db.test\n');
  // The resolver (here glibc's, through node:net) finds localhost, and the file is not read.
  const dnsFirst = hostsFiles(mkdtempSync(join(dir, 'dns-first-')), '127.0.0.1 db.test\n', 'dns files');
  const cases: Array<[string, WireTarget, 'handle' | 'net' | undefined, HostsFiles | undefined, string]> = [
    ['an IPv4 address', tcp, undefined, undefined, 'handle'],
    ['a host name the hosts file lists', { host: 'DB.test', port: tcp.port }, undefined, listed, 'handle'],
    ['a host name whose first listed address refuses', { host: 'db.test', port: tcp.port }, undefined, refusedFirst, 'handle'],
    ['a host name the hosts file does not list', { host: 'localhost', port: tcp.port }, undefined, refusedFirst, 'net'],
    ['a host name where DNS comes first', { host: 'localhost', port: tcp.port }, undefined, dnsFirst, 'net'],
    ['an address, net preferred', tcp, 'net', undefined, 'net'],
    ['a Unix socket', await socketServer(t, echo, join(dir, 'echo.sock')), undefined, undefined, 'handle'],
  ];
  for (const [what, target, prefer, files, kind] of cases) {
    const { socket, seen, closed } = await open(target, prefer, files);
    t.equal(socket.kind, kind, `${what}: ${kind}`);
    let written = false;
    socket.write(Buffer.from('hello, '), () => (written = true));
    socket.write(Buffer.from('world'));
    await until(() => seen.data.length >= 12);
    t.equal(seen.data.toString(), 'hello, world', `${what}: echoed`);
    t.equal(seen.connects, 1, `${what}: connect said once`);
    t.ok(written, `${what}: the write's callback ran`);
    socket.destroy();
    socket.destroy();
    t.ok(socket.destroyed);
    socket.write(Buffer.from('after the end')); // dropped, no error, no crash
    if (kind === 'net') await closed;
    t.same(seen.errors, [], `${what}: no error`);
  }
});

t.test('a host name whose first listed address never answers: the next one is tried after 250 ms, not after the connect time-out', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'adrater-wire-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // An address that never answers, as one behind a firewall that drops packets: a listener on
  // 127.0.0.2 whose process is stopped and whose accept queue is full, so the kernel drops
  // every further SYN.
  const silent = spawn(process.execPath, ['-e', "require('net').createServer().listen({ host: '127.0.0.2', port: 0, backlog: 1 }, function () { console.log(this.address().port) })"], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void silent.kill('SIGKILL'));
  const port = Number(await new Promise<string>((resolve) => silent.stdout!.once('data', (d) => resolve(String(d).trim()))));
  silent.kill('SIGSTOP');
  const fillers: Socket[] = [];
  t.teardown(() => fillers.forEach((filler) => filler.destroy()));
  let filled = 0;
  for (let i = 0; i < 4; i++) fillers.push(connect({ host: '127.0.0.2', port }).on('connect', () => filled++).on('error', () => {}));
  await until(() => filled >= 2);
  t.equal(filled, 2, "the silent listener's queue is full: two connected, the others wait");
  // The same port on 127.0.0.1 answers.
  const server = createServer(echo);
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen({ host: '127.0.0.1', port }, resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const silentFirst = hostsFiles(dir, '127.0.0.2 db.test\n127.0.0.1 db.test\n');
  const { socket, seen } = await open({ host: 'db.test', port }, undefined, silentFirst);
  t.equal(socket.kind, 'handle');
  socket.write(Buffer.from('hello'));
  await until(() => seen.data.length >= 5);
  t.equal(seen.data.toString(), 'hello', 'echoed by the second address');
  t.equal(seen.connects, 1, 'connect said once, for the address that answered');
  t.same(seen.errors, [], 'no error');
  socket.destroy();
});

t.test('a write the kernel cannot take at once: the callback runs when it has it, and every byte arrives', async (t) => {
  const chunks: Buffer[] = [];
  let received = 0;
  let reader!: Socket;
  const target = await socketServer(t, (socket) => {
    reader = socket;
    socket.pause(); // reads nothing until told
    socket.on('data', (d) => {
      chunks.push(d);
      received += d.length;
    });
  });
  const { socket } = await open(target);
  t.equal(socket.kind, 'handle');
  const big = Buffer.alloc(8 * 1024 * 1024, 7);
  let written = false;
  socket.write(big, () => (written = true));
  await until(() => reader !== undefined);
  await new Promise((r) => setTimeout(r, 50));
  t.notOk(written, 'not written while the reader is stopped');
  reader.resume();
  await until(() => written && received === big.length);
  t.ok(written, 'written once the reader read');
  t.equal(received, big.length, 'every byte');
  t.ok(Buffer.concat(chunks).equals(big));
  socket.destroy();
});

t.test('refused, an address the handle rejects at once, a reset, a close by the server: an error (where it is one) and one close', async (t) => {
  const refused = await open({ host: '127.0.0.1', port: 1 });
  await refused.closed;
  t.same(refused.seen.errors, ['ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1']);
  t.equal(refused.seen.closes, 1);
  t.equal(refused.seen.connects, 0, 'no connect said');

  const dir = mkdtempSync(join(tmpdir(), 'adrater-wire-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const allRefuse = await open({ host: 'db.test', port: 1 }, undefined, hostsFiles(dir, '127.0.0.2 db.test\n::1 db.test\n127.0.0.1 db.test\n'));
  t.equal(allRefuse.socket.kind, 'handle');
  await allRefuse.closed;
  t.same(allRefuse.seen.errors, ['ECONNREFUSED: connect ECONNREFUSED db.test (127.0.0.1):1'], 'every address tried, the last one named');
  t.equal(allRefuse.seen.closes, 1);
  t.equal(allRefuse.seen.connects, 0);

  const bad = await open({ host: '999.1.1.1', port: 3306 });
  t.equal(bad.socket.kind, 'handle');
  await bad.closed;
  t.match(bad.seen.errors, [/^E[A-Z]+: connect E[A-Z]+ 999\.1\.1\.1:3306$/], `refused before connecting: ${bad.seen.errors}`);
  t.equal(bad.seen.closes, 1);

  const reset = await open(await socketServer(t, (s) => s.resetAndDestroy()));
  await reset.closed;
  t.match(reset.seen.errors, [/^ECONNRESET: (connect|read) ECONNRESET/], `reset: ${reset.seen.errors}`);
  t.equal(reset.seen.closes, 1);

  const ended = await open(await socketServer(t, (s) => s.end('bye')));
  await ended.closed;
  t.equal(ended.seen.data.toString(), 'bye');
  t.same(ended.seen.errors, [], 'an orderly close is no error');
  t.equal(ended.seen.closes, 1);
  ended.socket.write(Buffer.from('too late')); // after the server's close: dropped
});

t.test('destroyed while connecting, or left unref\'d: nothing more happens and nothing keeps the process', async (t) => {
  let accepted = 0;
  const target = await socketServer(t, () => accepted++);
  const early = await open(target);
  early.socket.destroy();
  await new Promise((r) => setTimeout(r, 100));
  t.same(early.seen.errors, []);
  t.equal(early.seen.closes, 0, 'no event after destroy');
  const kept = await open(target);
  kept.socket.write(Buffer.from('x'));
  kept.socket.unref();
  await until(() => accepted >= 2);
  t.ok(accepted >= 1);
  kept.socket.destroy();
});
