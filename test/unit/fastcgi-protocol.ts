// The protocol core without sockets: records split anywhere, name-value pairs, streams.
import t from 'tap';
import { recordReader, encodeStream, encodeRecord, encodeResponse, decodePairs, encodePairs, Type } from '../../lib/fastcgi/record.js';
import { createSession } from '../../lib/fastcgi/session.js';
import type { FcgiRequest } from '../../lib/fastcgi/session.js';
import { encodeRequest } from '../../lib/fastcgi/client.js';

t.test('records survive any split', async (t) => {
  const bytes = Buffer.concat([encodeRecord(Type.Params, 1, Buffer.from('abc')), encodeRecord(Type.Stdin, 2, Buffer.alloc(0)), ...encodeStream(Type.Stdout, 3, Buffer.alloc(70000, 7))]);
  const whole = [...recordReader()(bytes)];
  t.same(whole.map((r) => [r.type, r.requestId, r.content.length]), [[Type.Params, 1, 3], [Type.Stdin, 2, 0], [Type.Stdout, 3, 65535], [Type.Stdout, 3, 4465]]);
  for (const size of [1, 2, 3, 7, 8, 9, 1000]) {
    const read = recordReader();
    const got = [];
    for (let i = 0; i < bytes.length; i += size) got.push(...read(bytes.subarray(i, i + size)));
    t.same(got, whole, `chunks of ${size}`);
  }
  t.throws(() => [...recordReader()(Buffer.from([2, 1, 0, 1, 0, 0, 0, 0]))], { name: 'ProtocolError' }, 'version 2 is refused');
});

t.test('output streams are split at 65535 bytes and padded to 8', async (t) => {
  const parts = encodeStream(Type.Stdout, 9, Buffer.alloc(65536, 1));
  const bytes = Buffer.concat(parts);
  t.equal(bytes.length % 8, 0);
  const records = [...recordReader()(bytes)];
  t.same(records.map((r) => r.content.length), [65535, 1]);
  t.equal(bytes[6], 1, 'padding of the first record (65535 + 1 = 65536)');
});

t.test("a response's records are exact to the byte, from a buffer pool left dirty", async (t) => {
  for (let length = 1; length <= 24; length++) {
    // Fill Node's allocation pool with 0xff, so that a byte left unwritten would show.
    for (let i = 0; i < 64; i++) Buffer.allocUnsafe(128).fill(0xff);
    const stdout = Buffer.alloc(length, 0x61);
    const padding = (8 - (length % 8)) % 8;
    const expected = Buffer.concat([
      Buffer.from([1, Type.Stdout, 0, 3, 0, length, padding, 0]),
      stdout,
      Buffer.alloc(padding),
      Buffer.from([1, Type.Stdout, 0, 3, 0, 0, 0, 0]),
      Buffer.from([1, Type.EndRequest, 0, 3, 0, 8, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0]),
    ]);
    t.same(encodeResponse(3, stdout, 258), expected, `${length} bytes of stdout`);
  }
});

t.test('name-value pairs with 1- and 4-byte lengths', async (t) => {
  const pairs: Array<[string, string]> = [['A', ''], ['QUERY_STRING', 'x'.repeat(127)], ['LONG', 'y'.repeat(128)], ['N'.repeat(300), 'ü']];
  const encoded = encodePairs(pairs);
  t.same(decodePairs(encoded), pairs);
  t.equal(encoded[0], 1, '1-byte name length');
  t.throws(() => decodePairs(encoded.subarray(0, encoded.length - 1)), { name: 'ProtocolError' }, 'truncated');
  t.throws(() => decodePairs(Buffer.from([0x80, 0, 0])), { name: 'ProtocolError' }, 'truncated 4-byte length');
});

// ASCII records are read as one string and names found where the last record had them are
// reused: records that change names, order and encoding from one to the next must each come
// out as they went in.
t.test('name-value pairs from record to record: ASCII and UTF-8, names moved, renamed, added', async (t) => {
  const records: Array<Array<[string, string]>> = [
    [['QUERY_STRING', 'url=a'], ['REQUEST_METHOD', 'GET'], ['REMOTE_ADDR', '127.0.0.1']],
    [['QUERY_STRING', 'url=b'], ['REQUEST_METHOD', 'POST'], ['REMOTE_ADDR', '::1']],
    [['QUERY_STRING', 'url=e'], ['REQUEST_METHO', 'D'], ['REMOTE_ADDR', '::1']], // the last name, cut short, then its missing letter
    [['REQUEST_METHOD', 'GET'], ['QUERY_STRING', 'url=c'], ['REMOTE_ADDR', '10.0.0.1'], ['HTTP_HOST', 'x']],
    [['QUERY_STRINH', 'url=d'], ['REQUEST_METHO', 'GET'], ['REMOTE_ADDR', '']],
    [['QUERY_STRING', 'url=bücher.de'], ['HTTP_ÜBER', 'ja'], ['REMOTE_ADDR', '127.0.0.1']],
    [['QUERY_STRING', ''], ['', 'empty name']],
    // 4-byte lengths (their high bit set) in a record otherwise ASCII, then with UTF-8 beside them.
    [['QUERY_STRING', `url=${'a'.repeat(200)}`], ['REQUEST_METHOD', 'GET'], ['REQUEST_URI', `/x?url=${'a'.repeat(200)}`]],
    [['QUERY_STRING', `url=${'b'.repeat(200)}`], ['REQUEST_METHOD', 'GET'], ['REQUEST_URI', `/x?url=${'b'.repeat(200)}`]],
    [['QUERY_STRING', `url=bücher.de&${'c'.repeat(200)}`], ['REQUEST_METHOD', 'GET'], ['HTTP_ÜBER', 'ä'.repeat(100)], ['REMOTE_ADDR', 'ß']],
    [['Ü'.repeat(130), 'x'], ['REQUEST_METHOD', 'é'], ['REQUEST_URI', `/${'d'.repeat(300)}`], ['HTTP_X', '\u{1F600}']],
    [],
  ];
  for (const pairs of [...records, ...records]) t.same(decodePairs(encodePairs(pairs)), pairs, JSON.stringify(pairs));
});

t.test("a request's environment: the last of a repeated name, and a name like __proto__ only as a name", async (t) => {
  const requests: FcgiRequest[] = [];
  const session = createSession({ maxParamsBytes: 1000, maxStdin: 10, values: {}, send: () => {}, onRequest: (r) => requests.push(r), onAbort: () => {} });
  const begin = Buffer.from([0, 1, 1, 0, 0, 0, 0, 0]);
  const params = encodePairs([['QUERY_STRING', 'url=a'], ['__proto__', 'x'], ['QUERY_STRING', 'url=b'], ['HTTP_X', 'é']]);
  // The params in two records: the session joins them before reading any pair.
  session.feed(Buffer.concat([encodeRecord(Type.BeginRequest, 1, begin), encodeRecord(Type.Params, 1, params.subarray(0, 9)), encodeRecord(Type.Params, 1, params.subarray(9)), encodeRecord(Type.Params, 1), encodeRecord(Type.Stdin, 1)]));
  const env = requests[0].params;
  t.equal(env.QUERY_STRING, 'url=b');
  t.equal(env.HTTP_X, 'é');
  t.equal(Object.getPrototypeOf(env), Object.prototype, 'the prototype is untouched');
  t.same(Object.getOwnPropertyDescriptor(env, '__proto__'), { value: 'x', writable: true, enumerable: true, configurable: true });
});

t.test('a session: requests, multiplexing, management, abort, refusals', async (t) => {
  const sent: Buffer[] = [];
  const requests: FcgiRequest[] = [];
  const aborted: number[] = [];
  const session = createSession({
    maxParamsBytes: 1000,
    maxStdin: 10,
    values: { FCGI_MAX_CONNS: '5', FCGI_MAX_REQS: '50', FCGI_MPXS_CONNS: '1' },
    send: (b) => sent.push(b),
    onRequest: (r) => requests.push(r),
    onAbort: (id) => aborted.push(id),
  });
  const a = encodeRequest(1, { QUERY_STRING: 'url=a' }, Buffer.from('body'));
  const b = encodeRequest(2, { QUERY_STRING: 'url=b' }, Buffer.alloc(11), false);
  // Interleave the two requests' records.
  const ra = [...recordReader()(a)].map((r) => encodeRecord(r.type, r.requestId, r.content));
  const rb = [...recordReader()(b)].map((r) => encodeRecord(r.type, r.requestId, r.content));
  for (let i = 0; i < Math.max(ra.length, rb.length); i++) {
    if (rb[i]) session.feed(rb[i]);
    if (ra[i]) session.feed(ra[i]);
  }
  t.same(requests.map((r) => [r.id, r.params.QUERY_STRING, r.stdin.toString(), r.stdinOverflow, r.keepConn]), [
    [2, 'url=b', '', true, false],
    [1, 'url=a', 'body', false, true],
  ]);
  t.equal(session.inFlight(), 2);
  session.respond(1, Buffer.from('Status: 200 OK\r\n\r\nhi'));
  const reply = [...recordReader()(Buffer.concat(sent.splice(0)))];
  t.same(reply.map((r) => [r.type, r.requestId]), [[Type.Stdout, 1], [Type.Stdout, 1], [Type.EndRequest, 1]]);

  session.feed(encodeRecord(Type.GetValues, 0, encodePairs([['FCGI_MAX_CONNS', ''], ['FCGI_MPXS_CONNS', ''], ['OTHER', '']])));
  const values = [...recordReader()(Buffer.concat(sent.splice(0)))];
  t.equal(values[0].type, Type.GetValuesResult);
  t.same(decodePairs(values[0].content), [['FCGI_MAX_CONNS', '5'], ['FCGI_MPXS_CONNS', '1']]);

  session.feed(encodeRecord(42, 0, Buffer.alloc(0)));
  session.feed(encodeRecord(Type.EndRequest, 5, Buffer.alloc(8)));
  const unknown = [...recordReader()(Buffer.concat(sent.splice(0)))];
  t.same(unknown.map((r) => [r.type, r.content[0]]), [[Type.UnknownType, 42], [Type.UnknownType, Type.EndRequest]]);

  const authorizer = Buffer.alloc(8);
  authorizer.writeUInt16BE(2, 0);
  session.feed(encodeRecord(Type.BeginRequest, 7, authorizer));
  const role = [...recordReader()(Buffer.concat(sent.splice(0)))];
  t.same([role[0].type, role[0].requestId, role[0].content[4]], [Type.EndRequest, 7, 3], 'FCGI_UNKNOWN_ROLE');

  session.feed(encodeRecord(Type.AbortRequest, 2));
  t.same(aborted, [2]);
  session.respond(2, Buffer.from('late'));
  const afterAbort = [...recordReader()(Buffer.concat(sent.splice(0)))];
  t.same(afterAbort.map((r) => r.type), [Type.EndRequest], 'an aborted request ends once, its late answer is dropped');
  t.equal(session.inFlight(), 0);

  t.throws(() => session.feed(encodeRecord(Type.BeginRequest, 9, Buffer.alloc(5))), { name: 'ProtocolError' }, 'a BEGIN_REQUEST of the wrong size');
});

t.test('params over the limit are a protocol error', async (t) => {
  const session = createSession({ maxParamsBytes: 100, maxStdin: 10, values: {}, send: () => {}, onRequest: () => {}, onAbort: () => {} });
  t.throws(() => session.feed(encodeRequest(1, { BIG: 'x'.repeat(200) })), { name: 'ProtocolError' });
});
