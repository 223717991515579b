// The core's one door: receive() decides once what the environment alone can (HEAD, the
// format of an early refusal), and every refusal or failure is a document in the format
// the client asked for, JSON included.
import t from 'tap';
import { receive, refuse, fail, handle } from '../../lib/core/handler.js';
import { SettingsError, UnavailableError } from '../../lib/core/errors.js';
import type { Store } from '../../lib/store/store.js';

const limits = { maxUrls: 100, maxBody: 1000 };
const typeOf = (r: { headers: Array<[string, string]> }) => r.headers.find(([k]) => k === 'Content-Type')![1];

t.test('receive: HEAD and the early refusal, decided once', async (t) => {
  const head = receive({ REQUEST_METHOD: 'HEAD', QUERY_STRING: 'url=a.example' }, limits);
  t.same([head.head, head.format, head.refusal], [true, 'xml', null]);
  const put = receive({ REQUEST_METHOD: 'PUT', QUERY_STRING: 'format=json' }, limits);
  t.equal(put.refusal?.status, 405);
  t.equal(typeOf(put.refusal!), 'application/json', 'an early refusal in the format of the query string');
  t.match(JSON.parse(put.refusal!.body), { error: { status: 405, code: 'method-not-allowed' } });
  const big = receive({ REQUEST_METHOD: 'HEAD', CONTENT_LENGTH: '5000' }, limits);
  t.same([big.refusal?.status, big.refusal?.head], [413, true], 'a refusal of a HEAD request has no body either');
  t.ok(Number.isNaN(receive({ CONTENT_LENGTH: 'x' }, limits).declaredLength));
});

t.test("refuse and fail: the transport's own answers, in the client's format", async (t) => {
  const json = receive({ QUERY_STRING: 'url=a.example&format=json' }, limits);
  const busy = refuse(json, { status: 503, code: 'busy', message: 'too many requests in flight' });
  t.equal(typeOf(busy), 'application/json');
  t.match(JSON.parse(busy.body), { error: { status: 503, code: 'busy' } });
  const logged: string[] = [];
  const failed = fail(json, new Error('disk on fire\n  at secret.ts:1'), (line) => logged.push(line));
  t.equal(failed.status, 500);
  t.equal(typeOf(failed), 'application/json', 'the last-resort 500 is JSON when JSON was asked for');
  const error = JSON.parse(failed.body).error;
  t.match(error, { code: 'internal', requestId: /\S/ });
  t.notMatch(failed.body, /disk on fire|secret\.ts/, 'never the error itself');
  t.equal(logged.length, 1);
  t.match(logged[0], new RegExp(`^req=${error.requestId} 500 internal error: Error: disk on fire \\| `), 'one log line with the request id');
  t.equal(typeOf(fail(receive({ QUERY_STRING: 'url=a.example' }, limits), 'x', () => {})), 'text/xml; charset=utf-8');
  const configured: string[] = [];
  const misconfigured = fail(json, new SettingsError('database URL: unknown option "ssl"'), (line) => configured.push(line));
  t.equal(misconfigured.status, 500);
  t.notMatch(misconfigured.body, /ssl|database URL/, 'never the reason either');
  t.match(configured, [/^req=\S+ 500 configuration error: database URL: unknown option "ssl"$/], 'a settings error: its reason on one line, no stack');
});

t.test('handle: a store that cannot be reached is 503 with Retry-After; the format is the parsed one', async (t) => {
  const incoming = receive({ QUERY_STRING: 'url=a.example', REQUEST_METHOD: 'POST', CONTENT_LENGTH: '11', CONTENT_TYPE: 'application/x-www-form-urlencoded' }, limits);
  const logged: string[] = [];
  const store = async (): Promise<Store> => {
    throw new UnavailableError('MySQL unavailable: ECONNREFUSED');
  };
  const response = await handle(incoming, Buffer.from('format=json'), { limits, retryAfter: 7, log: (l) => logged.push(l), store });
  t.equal(response.status, 503);
  t.same(response.headers.find(([k]) => k === 'Retry-After'), ['Retry-After', '7']);
  t.equal(typeOf(response), 'application/json', 'format from the body counts once the body is parsed');
  t.match(logged, [/503 database unavailable: MySQL unavailable: ECONNREFUSED/]);
});

t.test('handle: a 200 waits for its queue rows to be committed; a queue write that fails before the answer is made is a 503, and nothing rejects unhandled', async (t) => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  t.teardown(() => process.off('unhandledRejection', onUnhandled));
  const incoming = receive({ QUERY_STRING: 'url=rated.example&url=new.example' }, limits);
  const rated = { domain: 'rated.example', rating: 'A', info: null, ratedAt: '2026-01-01 00:00:00', expiresAt: null };
  // As a persistent process's MySQL store: the answer is rendered a turn later, before the commit.
  const storeWith = (enqueue: Store['enqueue']) => async () => ({ kind: 'mysql', writesAtTurnEnd: true, lookup: async () => [rated], enqueue }) as unknown as Store;
  const turns = (n: number) => new Promise<void>((resolve) => (function next(left: number): void { if (left === 0) resolve(); else setImmediate(() => next(left - 1)); })(n));

  let commit = () => {};
  const queued: string[] = [];
  const pending = handle(incoming, Buffer.alloc(0), {
    limits,
    retryAfter: 5,
    log: () => {},
    timing: [],
    store: storeWith((items) => (queued.push(...items.map((i) => i.domain)), new Promise<void>((resolve) => (commit = resolve)))),
  });
  let answered = false;
  void pending.then(() => (answered = true));
  await turns(5);
  t.same(queued, ['new.example'], 'the queue write was asked');
  t.notOk(answered, 'no answer before the commit');
  commit();
  const response = await pending;
  t.equal(response.status, 200);
  t.match(response.body, /<site url="new\.example" domain="new\.example" status="queued"\/>/);
  t.match(response.headers.find(([k]) => k === 'Server-Timing')?.[1], /^connect;dur=[\d.]+, query;dur=[\d.]+, render;dur=[\d.]+$/);

  const logged: string[] = [];
  const failed = await handle(incoming, Buffer.alloc(0), {
    limits,
    retryAfter: 5,
    log: (line) => logged.push(line),
    store: storeWith(() => Promise.reject(new UnavailableError('MySQL unavailable: server gone'))),
  });
  await turns(2);
  t.equal(failed.status, 503);
  t.match(logged, [/503 database unavailable: MySQL unavailable: server gone/]);
  t.same(unhandled, [], 'no rejection went unhandled');
});
