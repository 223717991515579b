// The real bin as a FastCGI responder, driven over real sockets.
import t from 'tap';
import { connect } from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { lstatSync, statSync, writeFileSync, mkdtempSync, mkdirSync, rmSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { connectFcgi, encodeRequest } from '../../lib/fastcgi/client.js';
import { recordReader, encodeRecord, encodePairs, decodePairs, Type } from '../../lib/fastcgi/record.js';
import { parseCgi, BIN, run, WEB_SERVER_PATH } from '../helpers/run.js';
import { sqliteStore } from '../helpers/stores.js';
import { startResponder, statusOf, answerOnce } from '../helpers/fcgi.js';
import { sites, errorOf } from '../helpers/xml.js';
import { appendOnlyDir, noAppendOnlyDir } from '../helpers/servers.js';

const params = (query: string, extra: Record<string, string> = {}) => ({
  GATEWAY_INTERFACE: 'CGI/1.1',
  REQUEST_METHOD: 'GET',
  QUERY_STRING: query,
  REMOTE_ADDR: '203.0.113.5',
  ...extra,
});

/** A process's soft open-file limit. */
const openFileLimit = (pid: number) => Number(/^Max open files\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'latin1'))![1]);

/** Raw bytes to a responder; resolves with everything it sent back when it closes. */
function raw(port: number, bytes: Buffer[], closeAfterMs = 2000): Promise<{ data: Buffer; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let weEnded = false;
    socket.on('data', (d) => got.push(d));
    socket.on('error', () => {});
    socket.on('close', () => resolve({ data: Buffer.concat(got), closedByServer: !weEnded }));
    socket.on('connect', async () => {
      for (const b of bytes) {
        socket.write(b);
        await new Promise((r) => setImmediate(r));
      }
      setTimeout(() => {
        weEnded = true;
        socket.end();
      }, closeAfterMs);
    });
  });
}

t.test('FastCGI responder', async (t) => {
  const store = await sqliteStore();
  t.teardown(() => store.close());
  await store.sql("INSERT INTO site_ratings VALUES ('fresh.example', 'A', NULL, '2025-01-01 00:00:00', NULL)");
  const responder = await startResponder({ db: store.url, args: ['--max-reqs', '4'] });
  t.teardown(() => responder.stop());
  const port = responder.port!;

  await t.test('a batch look-up, twice on one kept connection', async (t) => {
    const client = await connectFcgi({ port, host: '127.0.0.1' });
    for (const n of [1, 2]) {
      const answer = await client.request(params('url=fresh.example&url=new.example&priority=3'));
      const http = parseCgi(answer.stdout);
      t.equal(http.status, 200, `request ${n}`);
      t.same(sites(http.body).map((s) => s.status), ['rated', 'queued']);
      t.equal(answer.protocolStatus, 0);
    }
    t.same(await store.sql("SELECT priority, requests, source_ip FROM rating_queue WHERE domain = 'new.example'"), [{ priority: 3, requests: 2, source_ip: '203.0.113.5' }]);
    client.close();
  });

  await t.test('without FCGI_KEEP_CONN the responder closes after the answer', async (t) => {
    const { data, closedByServer } = await raw(port, [encodeRequest(1, params('url=fresh.example'), undefined, false)], 5000);
    t.ok(closedByServer, 'closed by the responder');
    const records = [...recordReader()(data)];
    t.equal(records.at(-1)!.type, Type.EndRequest);
  });

  await t.test('two requests interleaved on one connection, bytes one at a time', async (t) => {
    const a = [...recordReader()(encodeRequest(1, params('url=a1.example')))];
    const b = [...recordReader()(encodeRequest(2, params('url=fresh.example&format=json')))];
    const interleaved: Buffer[] = [];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      for (const r of [a[i], b[i]]) if (r) interleaved.push(encodeRecord(r.type, r.requestId, r.content));
    }
    const bytes = Buffer.concat(interleaved);
    const single = [...bytes].map((x) => Buffer.from([x]));
    const { data } = await raw(port, single, 1500);
    const records = [...recordReader()(data)];
    const stdout = (id: number) => Buffer.concat(records.filter((r) => r.requestId === id && r.type === Type.Stdout).map((r) => r.content));
    t.same(sites(parseCgi(stdout(1)).body).map((s) => s.domain), ['a1.example']);
    t.same(JSON.parse(parseCgi(stdout(2)).body).ratings[0].status, 'rated');
    t.equal(records.filter((r) => r.type === Type.EndRequest).length, 2);
  });

  await t.test('management records, unknown types and roles', async (t) => {
    const authorizer = Buffer.alloc(8);
    authorizer.writeUInt16BE(2, 0);
    authorizer[2] = 1;
    const { data } = await raw(port, [
      encodeRecord(Type.GetValues, 0, encodePairs([['FCGI_MAX_CONNS', ''], ['FCGI_MAX_REQS', ''], ['FCGI_MPXS_CONNS', '']])),
      encodeRecord(99, 0),
      encodeRecord(Type.BeginRequest, 5, authorizer),
    ], 500);
    const records = [...recordReader()(data)];
    t.equal(records[0].type, Type.GetValuesResult);
    // FCGI_MAX_CONNS: the open-file limit less 32 and the pool size (4) kept for the process.
    t.same(decodePairs(records[0].content), [['FCGI_MAX_CONNS', String(openFileLimit(responder.pid) - 32 - 4)], ['FCGI_MAX_REQS', '4'], ['FCGI_MPXS_CONNS', '1']]);
    t.same([records[1].type, records[1].content[0]], [Type.UnknownType, 99]);
    t.same([records[2].type, records[2].requestId, records[2].content[4]], [Type.EndRequest, 5, 3]);
  });

  await t.test('abort ends a request', async (t) => {
    const begin = Buffer.alloc(8);
    begin.writeUInt16BE(1, 0);
    begin[2] = 1;
    const { data } = await raw(port, [encodeRecord(Type.BeginRequest, 3, begin), encodeRecord(Type.Params, 3, encodePairs([['QUERY_STRING', 'url=x.example']])), encodeRecord(Type.AbortRequest, 3)], 500);
    const records = [...recordReader()(data)];
    t.same(records.map((r) => [r.type, r.requestId]), [[Type.EndRequest, 3]]);
  });

  await t.test('malformed records close that connection only', async (t) => {
    const other = await connectFcgi({ port, host: '127.0.0.1' });
    for (const garbage of [
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      encodeRecord(Type.BeginRequest, 1, Buffer.alloc(3)),
      encodeRequest(1, { HUGE: 'x'.repeat(300 * 1024) }),
      Buffer.concat([encodeRequest(1, params('url=a.example')).subarray(0, 16), Buffer.from([9, 9, 9, 9, 9, 9, 9, 9])]),
    ]) {
      const { closedByServer } = await raw(port, [garbage], 3000);
      t.ok(closedByServer, `closed after ${JSON.stringify(garbage.subarray(0, 12))}`);
    }
    const still = await other.request(params('url=fresh.example'));
    t.equal(parseCgi(still.stdout).status, 200, 'the other connection is still served');
    other.close();
    t.match(responder.stderr(), /malformed FastCGI/);
    t.equal(responder.child.exitCode, null, 'the process is alive');
  });

  await t.test('refusals over FastCGI', async (t) => {
    const client = await connectFcgi({ port, host: '127.0.0.1' });
    const big = await client.request(params('', { REQUEST_METHOD: 'POST', CONTENT_TYPE: 'application/x-www-form-urlencoded' }), Buffer.alloc(70_000, 0x61));
    t.equal(parseCgi(big.stdout).status, 413, 'a body over the limit, no CONTENT_LENGTH: 413');
    const put = await client.request(params('url=a.example', { REQUEST_METHOD: 'PUT', CONTENT_LENGTH: '5' }), Buffer.from('hello'));
    const http = parseCgi(put.stdout);
    t.equal(http.status, 405);
    t.equal(http.headers.allow, 'GET, HEAD, POST');
    const post = await client.request(params('', { REQUEST_METHOD: 'POST', CONTENT_LENGTH: '16', CONTENT_TYPE: 'application/x-www-form-urlencoded' }), Buffer.from('url=post.example'));
    t.same(sites(parseCgi(post.stdout).body).map((s) => s.domain), ['post.example']);
    client.close();
    // Eight requests in one write against a bound of four: the excess gets 503 at once.
    const burst = Buffer.concat(Array.from({ length: 8 }, (_, i) => encodeRequest(i + 1, params('url=fresh.example'))));
    const { data } = await raw(port, [burst], 1500);
    const records = [...recordReader()(data)];
    const answers = [1, 2, 3, 4, 5, 6, 7, 8].map((id) => parseCgi(Buffer.concat(records.filter((r) => r.requestId === id && r.type === Type.Stdout).map((r) => r.content))));
    const statuses = answers.map((a) => a.status);
    t.same(statuses.filter((s) => s === 200).length, 4, `within the bound: 200 (${statuses})`);
    t.same(statuses.filter((s) => s === 503).length, 4, 'over the bound: 503');
    t.equal(errorOf(answers.find((a) => a.status === 503)!.body).code, 'busy');
  });

  t.equal((await responder.stop()), 0, 'SIGTERM: exit 0');
  t.notMatch(responder.stderr(), /wrote to stdout/, 'nothing written to fd 1');
});

t.test('life cycle', async (t) => {
  const store = await sqliteStore();
  t.teardown(() => store.close());

  await t.test('SIGTERM lets a request in flight finish', async (t) => {
    const responder = await startResponder({ db: store.url });
    const socket = connect(responder.port!, '127.0.0.1');
    await new Promise((r) => socket.on('connect', r));
    const bytes = encodeRequest(1, params('url=inflight.example'));
    const got: Buffer[] = [];
    socket.on('data', (d) => got.push(d));
    const closed = new Promise((r) => socket.on('close', r));
    socket.write(bytes.subarray(0, bytes.length - 8)); // all but the closing empty STDIN
    await new Promise((r) => setTimeout(r, 300));
    responder.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    t.equal(responder.child.exitCode, null, 'still running while a request is in flight');
    socket.write(bytes.subarray(bytes.length - 8));
    await closed;
    const records = [...recordReader()(Buffer.concat(got))];
    const stdout = Buffer.concat(records.filter((r) => r.type === Type.Stdout).map((r) => r.content));
    t.same(sites(parseCgi(stdout).body).map((s) => s.status), ['queued'], 'the request in flight got its full answer');
    t.equal(await responder.exited, 0, 'then exit 0');
    t.match(responder.stderr(), /stopping \(SIGTERM\)/);
  });

  // A web server connects to send a request: a connection accepted just before a stop (a
  // reload's old worker) that has sent nothing yet gets its request answered. Before, the stop
  // closed it at once, and the request sent on it a moment later was lost (Apache's
  // mod_proxy_fcgi answered its client 503 a few times in every reload).
  await t.test('SIGTERM: a connection that has sent nothing yet is answered its first request, then closed', async (t) => {
    const responder = await startResponder({ db: store.url });
    const socket = connect(responder.port!, '127.0.0.1');
    await new Promise((r) => socket.on('connect', r));
    let got = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
    const closed = new Promise((r) => socket.on('close', r));
    await new Promise((r) => setTimeout(r, 200)); // accepted by now
    responder.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    socket.write(encodeRequest(1, params('url=first-after-stop.example'))); // FCGI_KEEP_CONN
    await closed;
    const records = [...recordReader()(got)];
    const stdout = Buffer.concat(records.filter((r) => r.type === Type.Stdout).map((r) => r.content));
    t.ok(records.some((r) => r.type === Type.EndRequest), 'answered in full');
    t.same(sites(parseCgi(stdout).body).map((s) => s.status), ['queued']);
    t.equal(await responder.exited, 0, 'then closed, and exit 0');
    t.notMatch(responder.stderr(), /giving up on/);
  });

  await t.test('SIGTERM with connections whose peers never close their side: the stop does not wait the grace out', async (t) => {
    const responder = await startResponder({ db: store.url });
    // One answered without FCGI_KEEP_CONN (the responder ends it), one kept and idle (the stop
    // ends it); neither peer ever closes. Before, the stop waited 30 s for them.
    // allowHalfOpen: Node would otherwise answer the responder's FIN with its own.
    const ended = connect({ port: responder.port!, host: '127.0.0.1', allowHalfOpen: true });
    const kept = connect({ port: responder.port!, host: '127.0.0.1', allowHalfOpen: true });
    t.teardown(() => (ended.destroy(), kept.destroy()));
    const endedClosed = new Promise((r) => ended.on('end', r));
    const answered = (socket: typeof ended, keepConn: boolean) =>
      new Promise<void>((resolve) => {
        let got = Buffer.alloc(0);
        socket.on('data', (d: Buffer) => {
          got = Buffer.concat([got, d]);
          if ([...recordReader()(got)].some((r) => r.type === Type.EndRequest)) resolve();
        });
        socket.write(encodeRequest(1, params('url=halfclosed.example'), Buffer.alloc(0), keepConn));
      });
    await Promise.all([answered(ended, false), answered(kept, true)]);
    await endedClosed; // the responder's FIN, which this peer does not answer
    responder.child.kill('SIGTERM');
    t.equal(await responder.exited, 0, 'exit 0');
    t.notMatch(responder.stderr(), /giving up on/, 'no connection waited for until the grace ran out');
    t.match(responder.stderr(), /stopped after 2 requests/);
  });

  await t.test('a connection answered without FCGI_KEEP_CONN whose peer never closes its side is closed a second later', async (t) => {
    const responder = await startResponder({ db: store.url, args: ['--status-path', '/status'] });
    t.teardown(() => responder.stop());
    const port = responder.port!;
    // allowHalfOpen: this peer reads the responder's FIN and never sends its own, as a
    // broken or hostile client may; before, it held a descriptor for the life of the process.
    const peers = Array.from({ length: 5 }, () => connect({ port, host: '127.0.0.1', allowHalfOpen: true }));
    t.teardown(() => peers.forEach((p) => p.destroy()));
    await Promise.all(
      peers.map(
        (peer) =>
          new Promise((resolve) => {
            peer.on('error', () => {});
            peer.on('end', resolve); // the answer, then the responder's FIN
            peer.resume();
            peer.write(encodeRequest(1, params('url=halfopen.example'), Buffer.alloc(0), false));
          }),
      ),
    );
    t.equal((await statusOf(port)).connections, 6, 'right after the FIN: the five ended connections and the status request');
    let connections = 0;
    for (let waited = 0; waited < 10_000; waited += 250) {
      await new Promise((r) => setTimeout(r, 250));
      connections = (await statusOf(port)).connections;
      if (connections === 1) break;
    }
    t.equal(connections, 1, 'then only the status request itself');
    t.equal(responder.child.exitCode, null, 'the responder goes on');
    t.equal((await answerOnce(port, params('url=after.example'))).status, 200);
  });

  await t.test('--max-requests: exit cleanly after N', async (t) => {
    const responder = await startResponder({ db: store.url, args: ['--max-requests', '3'] });
    const client = await connectFcgi({ port: responder.port!, host: '127.0.0.1' });
    for (let i = 0; i < 3; i++) t.equal(parseCgi((await client.request(params('url=n.example'))).stdout).status, 200);
    t.equal(await responder.exited, 0);
  });

  await t.test('a database URL that cannot be read stops the start (exit 2, its reason), before listening', async (t) => {
    const socket = join(mkdtempSync(join(tmpdir(), 'adrater-badurl-')), 'responder.sock');
    t.teardown(() => rmSync(join(socket, '..'), { recursive: true, force: true }));
    for (const [db, reason, dbRead] of [
      ['mysql://root@127.0.0.1:3306/test?failback=soon', /failback must be seconds \(0 to stay\), not "soon"/],
      ['mysql://root@127.0.0.1:99999/test', /database server "127\.0\.0\.1:99999" is not host:port/],
      ['mysql://root@127.0.0.1:3306/test', /failback must be seconds \(0 to stay\), not "x"/, 'mysql://root@127.0.0.1:3306/test?failback=x'],
      ['mysql://root@127.0.0.1:3306/test?connectTimeout=abc', /connectTimeout must be milliseconds \(1 or more\), not "abc"/],
      ['mysql://root@127.0.0.1:3306/test?sslmode=require', /unknown option "sslmode" \(known: socket, connectTimeout, failback, maxLag, ssl, sslCa, sslCert, sslKey\)/],
    ] as const) {
      const started = await run(['fcgi', '--listen', socket], { ADRATER_DB: db, ...(dbRead ? { ADRATER_DB_READ: dbRead } : {}) });
      t.equal(started.code, 2, `${db} ${dbRead ?? ''}`);
      t.match(started.stderr, reason);
      t.equal(started.stderr.trim().split('\n').length, 1, 'one line');
      t.throws(() => statSync(socket), { code: 'ENOENT' }, 'never listened');
    }
  });

  await t.test('with no command, a listening TCP socket on fd 0 makes a FastCGI responder', async (t) => {
    // As mod_fastcgi (or a supervisor) would start it: the socket is bound and listening,
    // then the bin is exec'd with it as fd 0 and no arguments.
    const script = [
      'import os, socket, sys',
      's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)',
      'print(s.getsockname()[1], flush=True)',
      'os.dup2(s.fileno(), 0)',
      'os.execve(sys.argv[1], [sys.argv[1]], {"PATH": "/usr/bin:/bin", "ADRATER_DB": sys.argv[2]})',
    ].join('\n');
    const child = spawn('python3', ['-c', script, BIN, store.url], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.teardown(() => child.kill('SIGTERM'));
    const port = await new Promise<number>((resolve) => child.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
    const client = await connectFcgi({ port, host: '127.0.0.1' });
    const answer = parseCgi((await client.request(params('url=fd0.example'))).stdout);
    t.equal(answer.status, 200);
    t.same(sites(answer.body).map((s) => s.domain), ['fd0.example']);
    client.close();
  });

  await t.test('FCGI_WEB_SERVER_ADDRS limits TCP peers', async (t) => {
    const responder = await startResponder({ db: store.url, env: { FCGI_WEB_SERVER_ADDRS: '192.0.2.1,192.0.2.2' } });
    t.teardown(() => responder.stop());
    const { data, closedByServer } = await raw(responder.port!, [encodeRequest(1, params('url=a.example'))], 2000);
    t.ok(closedByServer);
    t.equal(data.length, 0, 'no answer to a peer not on the list');
    t.match(responder.stderr(), /refused connection from 127.0.0.1/);
  });

  await t.test('a Unix socket: mode 0660, a stale socket replaced, a file that is no socket left alone', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'adrater-sock-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'adrater.sock');
    // A file where the socket should be (a mistyped --listen): refused, and kept.
    writeFileSync(path, 'not a socket\n');
    await t.rejects(startResponder({ db: store.url, path }), /cannot listen on .*adrater\.sock: it exists and is not a socket/);
    t.equal(readFileSync(path, 'utf8'), 'not a socket\n', 'the file is still there');
    rmSync(path);
    // The socket of a process that died: killed, it never removed its file.
    spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    t.ok(lstatSync(path).isSocket(), 'a stale socket left');
    const responder = await startResponder({ db: store.url, path });
    t.equal(statSync(path).mode & 0o777, 0o660);
    const client = await connectFcgi({ path });
    t.equal(parseCgi((await client.request(params('url=fresh.example'))).stdout).status, 200);
    client.close();
    const second = startResponder({ db: store.url, path });
    await t.rejects(second, /in use by another process/, 'a live socket is not taken over');
    t.equal(await responder.stop(), 0);
  });

  // Before stop 41 the stop's unlink threw: a stack trace in the web server's log and exit 1;
  // the next start said only `EPERM: operation not permitted, unlink …`.
  await t.test('a socket its directory does not let it remove: one line at the stop, exit 0', { skip: noAppendOnlyDir() }, async (t) => {
    const dir = appendOnlyDir(t, 'adrater-sock-');
    const path = join(dir, 'adrater.sock');
    const responder = await startResponder({ db: store.url, path });
    t.equal((await answerOnce(path, params('url=kept.example'))).status, 200);
    t.equal(await responder.stop(), 0, 'exit 0: the stop itself went well');
    t.match(responder.stderr(), `cannot remove the socket ${path}: EPERM: operation not permitted, unlink '${path}'; left in place\n`, 'said in one line');
    t.match(responder.stderr(), /stopped after 1 requests/, 'and the stop went on');
    t.notMatch(responder.stderr(), /\n\s+at /, 'no stack trace');
    t.same(readdirSync(dir), ['adrater.sock'], 'the socket left where it was');
    const again = await run(['fcgi', '--listen', path], { ADRATER_DB: store.url });
    t.equal(again.code, 1, 'a start there is refused');
    t.match(again.stderr, `cannot listen on ${path}: a stale socket there cannot be removed (EPERM: operation not permitted, unlink '${path}')\n`, 'with the reason');
    t.equal(again.stderr.trimEnd().split('\n').length, 1, 'in one line');
  });

  await t.test('nowhere to listen (a path that cannot be, no socket on fd 0): refused with the reason, nothing bound elsewhere', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'adrater-sock-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const env = { ADRATER_DB: store.url };
    // 120 bytes: libuv would bind it cut short to 107, a file in `dir` named by the cut.
    const long = join(dir, 'd'.repeat(120 - `${dir}//a.sock`.length), 'a.sock');
    mkdirSync(dirname(long));
    const tooLong = await run(['fcgi', '--listen', long], env);
    t.equal(tooLong.code, 1);
    t.match(tooLong.stderr, `--listen ${long} is 120 bytes; a Unix socket's path may have at most 107`);
    t.same(readdirSync(dir), [basename(dirname(long))], 'no socket bound at the cut-short path');
    const noListener = await run(['fcgi'], env);
    t.equal(noListener.code, 1);
    t.match(noListener.stderr, 'fd 0 is not a listening socket (mod_fcgid gives one); to listen yourself, give --listen HOST:PORT or /path.sock', 'no --listen and no socket on fd 0: said so, not ENOTSOCK');
    const noDir = await run(['fcgi', '--listen', join(dir, 'missing', 'a.sock')], env);
    t.equal(noDir.code, 1);
    t.match(noDir.stderr, `cannot listen on ${join(dir, 'missing', 'a.sock')}: there is no directory ${join(dir, 'missing')}`, 'not EACCES');
  });
});

// A log whose reader has gone (a piped logger that died, the pipe's reading end closed):
// each line fails with EPIPE. Before, the responder answered the request that logged, then
// exited on the log line's unheard 'error', and the next request met a closed socket. (A CGI
// run answered and exited 0 before too: it ends before that error is heard.)
t.test('a log pipe with no reader: the lines are lost, the answers are not', async (t) => {
  const down = 'mysql://root@127.0.0.1:1/test'; // every request answered 503, and logged
  const responder = await startResponder({ db: down });
  t.teardown(() => responder.stop('SIGKILL'));
  responder.child.stderr!.destroy();
  for (let i = 0; i < 3; i++) {
    const client = await connectFcgi({ port: responder.port!, host: '127.0.0.1' });
    t.equal(parseCgi((await client.request(params('url=a.example'))).stdout).status, 503, `request ${i + 1} answered`);
    client.close();
  }
  await new Promise((r) => setTimeout(r, 200));
  t.equal(responder.child.exitCode, null, 'the responder still runs');
  t.equal(await responder.stop(), 0, 'and stops cleanly');

  const env = [`PATH=${WEB_SERVER_PATH}`, 'GATEWAY_INTERFACE=CGI/1.1', 'REQUEST_METHOD=GET', 'QUERY_STRING=url=a.example', 'REMOTE_ADDR=192.0.2.9', `ADRATER_DB=${down}`];
  const cgi = spawn('/usr/bin/env', ['-i', ...env, BIN], { stdio: ['ignore', 'pipe', 'pipe'] });
  cgi.stderr!.destroy();
  const out: Buffer[] = [];
  cgi.stdout!.on('data', (d: Buffer) => out.push(d));
  const code = await new Promise((r) => cgi.on('close', r));
  t.equal(parseCgi(Buffer.concat(out)).status, 503, 'a CGI run writes its answer');
  t.equal(code, 0, 'and exits 0');
});
