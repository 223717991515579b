// FCGI_ABORT_REQUEST ends a request at once and cancels its database work not yet started:
// a request whose look-up is already running never writes its queue rows, one still
// waiting for a batch is never sent, and the requests beside them are served as usual.
// A stop whose last request ends after its web server hung up still ends. MySQL only: the
// look-ups are held in flight by a table lock the test takes.
import t from 'tap';
import { connect } from 'node:net';
import { encodeRequest } from '../../lib/fastcgi/client.js';
import { encodeRecord, recordReader, Type } from '../../lib/fastcgi/record.js';
import type { FcgiRecord } from '../../lib/fastcgi/record.js';
import { parseCgi } from '../helpers/run.js';
import { mysqlStore } from '../helpers/stores.js';
import type { ScratchStore } from '../helpers/stores.js';
import { getParams, startResponder } from '../helpers/fcgi.js';
import { sites } from '../helpers/xml.js';
import { until } from '../helpers/wait.js';


/** This database's look-ups waiting on a table lock (a prepared statement: its text shows no domain). */
const lookupsWaiting = async (store: ScratchStore) =>
  Number((await store.sql("SELECT COUNT(*) AS n FROM information_schema.processlist WHERE db = DATABASE() AND info LIKE 'SELECT %FROM %site_ratings%' AND state LIKE '%lock%'"))[0].n);

t.test('aborted requests write nothing; the others are answered', async (t) => {
  const store = await mysqlStore(t);
  if (!store) return;
  t.teardown(() => store.close());
  const responder = await startResponder({ db: store.url });
  t.teardown(() => responder.stop());

  const socket = connect(responder.port!, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  const records: FcgiRecord[] = [];
  const read = recordReader();
  socket.on('data', (chunk) => records.push(...read(chunk)));
  const ended = (id: number) => records.some((r) => r.type === Type.EndRequest && r.requestId === id);
  await store.sql('LOCK TABLES site_ratings WRITE, rating_queue WRITE');
  try {
    socket.write(encodeRequest(1, getParams('url=running.example')));
    await until('the first look-up to be running, held by the lock', async () => (await lookupsWaiting(store)) === 1);
    socket.write(encodeRequest(2, getParams('url=waiting.example')));
    socket.write(encodeRequest(3, getParams('url=served.example')));
    socket.write(Buffer.concat([encodeRecord(Type.AbortRequest, 1), encodeRecord(Type.AbortRequest, 2)]));
    await until('both aborted requests to be ended', () => ended(1) && ended(2));
    t.notOk(ended(3), 'the third request is still waiting for the database');
    t.equal(await lookupsWaiting(store), 1, 'one look-up sent (the first); the others wait in the batch behind it');
  } finally {
    await store.sql('UNLOCK TABLES');
  }

  await until('the third answer', () => ended(3));
  const stdout = (id: number) => Buffer.concat(records.filter((r) => r.type === Type.Stdout && r.requestId === id).map((r) => r.content));
  t.equal(stdout(1).length + stdout(2).length, 0, 'nothing written for the aborted requests');
  const third = parseCgi(stdout(3));
  t.equal(third.status, 200);
  t.same(sites(third.body).map((s) => s.status), ['queued']);
  t.same(
    (await store.sql('SELECT domain FROM rating_queue ORDER BY domain')).map((r) => r.domain),
    ['served.example'],
    'only the request that was not aborted queued its site',
  );
  socket.end();
  t.equal(responder.child.exitCode, null, 'the responder lives on');
});

t.test('stopping while a request is held and its web server has hung up: it ends, and the responder exits 0', async (t) => {
  const store = await mysqlStore(t);
  if (!store) return;
  t.teardown(() => store.close());
  const responder = await startResponder({ db: store.url });
  t.teardown(() => responder.stop('SIGKILL')); // only if it failed to exit: a stop that hangs

  const socket = connect(responder.port!, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise((r) => socket.once('connect', r));
  await store.sql('LOCK TABLES site_ratings WRITE, rating_queue WRITE');
  try {
    socket.write(encodeRequest(1, getParams('url=held.example')));
    await until('the look-up to be running, held by the lock', async () => (await lookupsWaiting(store)) === 1);
    socket.destroy(); // the web server hangs up
    responder.child.kill('SIGTERM');
    await until('the stop to begin', () => /stopping \(SIGTERM\); 1 requests in flight/.test(responder.stderr()));
  } finally {
    await store.sql('UNLOCK TABLES');
  }
  await until('the responder to exit once its last request has ended', () => responder.child.exitCode !== null);
  t.equal(responder.child.exitCode, 0, 'exit 0');
  t.match(responder.stderr(), /stopped after 1 requests/);
});
