import t from 'tap';
import { parseForm } from '../../lib/core/form.js';
import { parseLookup, refuseEarly, contentLength, bodyTooLarge } from '../../lib/core/request.js';
import { seeded } from '../helpers/random.js';
import type { Env } from '../../lib/core/request.js';

const limits = { maxUrls: 3, maxBody: 100 };
const lookup = (env: Env, body = '') => parseLookup(env, parseForm(env.QUERY_STRING || ''), Buffer.from(body), limits);

t.test('form decoding', async (t) => {
  t.same(parseForm('a=1&b=2&a=3'), [['a', '1'], ['b', '2'], ['a', '3']]);
  t.same(parseForm('url=http%3A%2F%2Fx.com%2F%3Fa%3D1%26b%3D2'), [['url', 'http://x.com/?a=1&b=2']]);
  t.same(parseForm('q=a+b%20c'), [['q', 'a b c']]);
  t.same(parseForm('&&a&=b&c='), [['a', ''], ['', 'b'], ['c', '']]);
  t.same(parseForm('x=%zz%4'), [['x', '%zz%4']], 'broken escapes stay literal');
  t.same(parseForm('x=%C3%BC'), [['x', 'ü']]);
  t.same(parseForm('x=%FF%FE'), [['x', '\uFFFD\uFFFD']], 'invalid UTF-8 becomes U+FFFD');
  t.same(parseForm('x=%C0%AF'), [['x', '\uFFFD\uFFFD']], 'overlong UTF-8 is not /');
  t.same(parseForm('x=%00'), [['x', '\u0000']]);
  t.same(parseForm(Buffer.from([0x75, 0x3d, 0xff, 0x41])), [['u', '\uFFFDA']]);
  t.same(parseForm('a=b=c'), [['a', 'b=c']]);
});

t.test("invalid UTF-8 decodes as the Encoding Standard's decoder does (a non-fatal TextDecoder)", async (t) => {
  const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  // Bytes around every boundary of the UTF-8 tables: ASCII, continuations, overlong and
  // surrogate leads, the BOM's bytes, bytes no sequence may hold. None is '&', '=', '+' or '%'.
  const edges = [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbb, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff];
  let checked = 0;
  let differing = 0;
  const check = (bytes: number[]) => {
    checked++;
    const [[, value]] = parseForm(Buffer.from([0x76, 0x3d, ...bytes]));
    if (value !== decoder.decode(Uint8Array.from(bytes)) && differing++ < 3) t.fail(`differs for ${Buffer.from(bytes).toString('hex')}`);
  };
  for (const a of edges) for (const b of edges) for (const c of edges) check([a, b, c]);
  for (let lead = 0xe0; lead <= 0xf4; lead++) for (let second = 0x80; second <= 0xbf; second++) for (const c of edges) check([lead, second, c, 0xbf]);
  // And through %-escapes, as a query string carries them.
  const escaped = (bytes: number[]) => bytes.map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
  for (const a of edges) for (const b of edges) {
    checked++;
    if (parseForm(`v=${escaped([a, b, 0x80])}`)[0][1] !== decoder.decode(Uint8Array.from([a, b, 0x80])) && differing++ < 3) t.fail(`differs for %-escaped ${a} ${b}`);
  }
  t.equal(differing, 0, `${checked} byte sequences`);
});

t.test('parameters', async (t) => {
  const r = lookup({ QUERY_STRING: 'URL=a.com&url=b.com&Url=a.com&PRIORITY=7&other=x', REMOTE_ADDR: '10.0.0.1' });
  t.same(r, { urls: ['a.com', 'b.com', 'a.com'], priority: 7, format: 'xml', sourceIp: '10.0.0.1' });
  t.match(lookup({ QUERY_STRING: 'url=a.com&format=json' }), { format: 'json' });
  t.match(lookup({ QUERY_STRING: 'url=a.com' }), { priority: 1 });
  for (const [text, expected] of [['12', 9], ['-3', 0], ['0', 0], ['9', 9], ['+4', 4], ['0007', 7], ['99999999999999999999999', 9], ['-99999999999999999999', 0]] as const) {
    t.match(lookup({ QUERY_STRING: `url=a.com&priority=${encodeURIComponent(text)}` }), { priority: expected }, `priority ${text}`);
  }
  for (const bad of ['x', '1.5', '', ' 1', '1e3', '0x1']) {
    t.match(lookup({ QUERY_STRING: `url=a.com&priority=${encodeURIComponent(bad)}` }), { status: 400, code: 'bad-priority' }, `priority ${JSON.stringify(bad)}`);
  }
  t.match(lookup({ QUERY_STRING: 'url=a.com&format=html' }), { status: 400, code: 'bad-format' });
  t.match(lookup({ QUERY_STRING: 'priority=2' }), { status: 400, code: 'no-url' });
  t.match(lookup({ QUERY_STRING: 'url=a&url=b&url=c&url=d' }), { status: 400, code: 'too-many-urls' });
  t.match(lookup({ QUERY_STRING: 'url=a&url=b&url=c' }), { urls: ['a', 'b', 'c'] });
  t.match(lookup({ QUERY_STRING: 'format=json&priority=x&url=a' }), { code: 'bad-priority', format: 'json' });
});

t.test('methods and bodies', async (t) => {
  t.match(refuseEarly({ REQUEST_METHOD: 'PUT' }, limits), { status: 405, headers: [['Allow', 'GET, HEAD, POST']] });
  t.match(refuseEarly({ REQUEST_METHOD: 'DELETE' }, limits), { status: 405 });
  t.equal(refuseEarly({ REQUEST_METHOD: 'get' }, limits), null);
  t.match(refuseEarly({ REQUEST_METHOD: 'POST', CONTENT_LENGTH: '101' }, limits), { status: 413, code: 'body-too-large' });
  t.equal(refuseEarly({ REQUEST_METHOD: 'POST', CONTENT_LENGTH: '100' }, limits), null);
  t.match(refuseEarly({ REQUEST_METHOD: 'POST', CONTENT_LENGTH: 'ten' }, limits), { status: 400, code: 'bad-content-length' });
  t.match(refuseEarly({ REQUEST_METHOD: 'POST', CONTENT_LENGTH: '5', CONTENT_TYPE: 'application/json' }, limits), { status: 415 });
  t.equal(refuseEarly({ REQUEST_METHOD: 'POST', CONTENT_LENGTH: '5', CONTENT_TYPE: 'application/x-www-form-urlencoded; charset=UTF-8' }, limits), null);
  // A chunked body (or an HTTP/2 one without a length), as Apache hands it to CGI: no
  // CONTENT_LENGTH, the Transfer-Encoding header. Its size is counted as it is read.
  const chunked = { REQUEST_METHOD: 'POST', HTTP_TRANSFER_ENCODING: 'chunked' };
  t.equal(contentLength(chunked), Infinity, 'a body of undeclared length: read to its end');
  t.equal(contentLength({ ...chunked, CONTENT_LENGTH: '7' }), 7, 'a declared length is the length');
  t.equal(contentLength({ REQUEST_METHOD: 'POST' }), 0, 'neither: no body');
  // Caddy's fastcgi transport: Go's -1 ("unknown") for a chunked body; any other negative is no length.
  t.equal(contentLength({ REQUEST_METHOD: 'POST', CONTENT_LENGTH: '-1' }), Infinity, '-1: a body of undeclared length');
  t.equal(refuseEarly({ REQUEST_METHOD: 'POST', CONTENT_LENGTH: '-1', CONTENT_TYPE: 'application/x-www-form-urlencoded' }, limits), null, '-1 is not refused');
  t.match(refuseEarly({ REQUEST_METHOD: 'POST', CONTENT_LENGTH: '-2' }, limits), { status: 400, code: 'bad-content-length' });
  t.equal(refuseEarly(chunked, limits), null, 'not refused as too large before it is read');
  t.match(refuseEarly({ ...chunked, CONTENT_TYPE: 'application/json' }, limits), { status: 415 }, 'its type is checked as a declared body\'s');
  t.match(bodyTooLarge(100), { status: 413, code: 'body-too-large', message: 'request body is over the limit of 100 bytes' });
  const post = lookup({ REQUEST_METHOD: 'POST', QUERY_STRING: 'url=q.com&priority=2', CONTENT_LENGTH: '24' }, 'url=b1.com&priority=5&x');
  t.match(post, { urls: ['q.com', 'b1.com'], priority: 5 }, 'body parameters follow the query string');
  t.match(lookup({ REQUEST_METHOD: 'HEAD', QUERY_STRING: 'url=a' }), { urls: ['a'] }, 'HEAD is a look-up like GET (receive() marks it headers-only)');
  const get = lookup({ REQUEST_METHOD: 'GET', QUERY_STRING: 'url=a', CONTENT_LENGTH: '5' }, 'url=b');
  t.ok('urls' in get && get.urls.length === 1, 'a GET body is not parameters');
  t.match(lookup({ QUERY_STRING: 'url=a', REMOTE_ADDR: 'x'.repeat(46) }), { sourceIp: null });
});

t.test('a query string parses as its UTF-8 bytes do (the text fast path against the byte path)', async (t) => {
  const random = seeded(11);
  const alphabet = 'ab=&%+2F0e9ZzC3A€😀\ud800\udfff \u0000';
  let differing = 0;
  for (let i = 0; i < 20_000; i++) {
    const text = random.text(alphabet, 30);
    if (JSON.stringify(parseForm(text)) !== JSON.stringify(parseForm(Buffer.from(text, 'utf8')))) {
      if (differing++ < 3) t.fail(`differs for ${JSON.stringify(text)}`);
    }
  }
  t.equal(differing, 0, '20,000 generated strings');
});
