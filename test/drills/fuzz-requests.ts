// Hostile requests: generated query strings and bodies through the core (with a real store
// that counts its calls) and a sample through the real CGI bin, its XML checked by libxml2.
// Never a 500, never a crash, always a well-formed document, refusals before database work.
import t from 'tap';
import type { Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { XMLValidator } from 'fast-xml-parser';
import { receive, handle } from '../../lib/core/handler.js';
import type { Env } from '../../lib/core/request.js';
import type { Store } from '../../lib/store/store.js';
import { openStore } from '../../lib/store/open.js';
import { cgi } from '../helpers/run.js';
import { sqliteStore } from '../helpers/stores.js';
import { seeded } from '../helpers/random.js';

const { next: random, pick } = seeded(Number(process.env.ADRATER_FUZZ_SEED ?? 20261125)); // another seed (ADRATER_FUZZ_SEED) explores other cases

// Pieces the internet sends: every XML metacharacter, broken and overlong escapes, NULs,
// IDN and IP edge cases, SQL that wants to be run, scheme tricks.
const PIECES = [
  'example.com', 'www.shop.example.co.uk', 'bücher.de', 'xn--bcher-kva.de', '0x7f.1', '[2001:db8::1]', '[::1', 'localhost',
  'co.uk', 'foo.blogspot.com', 'http://', 'https://', 'ftp://', 'javascript:', '//', '%', '%%', '%4', '%zz', '%00', '%C0%AF',
  '%E0%80%AF', '%F0%80%80%AF', '%ED%A0%80', '%FF%FE', '%EF%BF%BF', '&', '=', '+', '<', '>', '"', "'", ']]>', '<!ENTITY x SYSTEM "file:///etc/passwd">',
  "'; DROP TABLE rating_queue; --", '\\', '\u0000', '\u0001', '\u001f', '\u007f', '\ufffe', '😀', '\ud800', 'url', 'URL', 'priority',
  'format', 'json', 'xml', '9', '-1', '99999999999999999999', 'a'.repeat(300), '.', '..', ':8080', '@', '#', '?', '\r\n',
];

function randomText(maxPieces: number): string {
  let s = '';
  const n = Math.floor(random() * maxPieces);
  for (let i = 0; i < n; i++) s += random() < 0.7 ? pick(PIECES) : String.fromCharCode(Math.floor(random() * 0x3000));
  return s;
}

/** Percent-encoded, or as it is where encodeURIComponent refuses it (a lone surrogate, found with seed 2). */
function encoded(piece: string): string {
  try {
    return encodeURIComponent(piece);
  } catch {
    return piece;
  }
}

function randomQuery(): string {
  const kind = random();
  if (kind < 0.05) return Array.from({ length: 2000 + Math.floor(random() * 3000) }, (_, i) => `p${i}=${i}`).join('&'); // thousands of parameters
  if (kind < 0.1) return 'url=' + 'x'.repeat(60_000); // an over-long value
  const parts: string[] = random() < 0.5 ? [`url=${encoded(pick(PIECES))}${randomText(2)}`] : [];
  const n = Math.floor(random() * 8);
  for (let i = 0; i < n; i++) {
    const name = random() < 0.6 ? pick(['url', 'URL', 'priority', 'format', 'Priority']) : randomText(3);
    parts.push(random() < 0.9 ? `${name}=${randomText(6)}` : name);
  }
  return parts.join(pick(['&', '&', '&', ';', '&&']));
}

function randomBody(): Buffer {
  const kind = random();
  if (kind < 0.3) return Buffer.from(randomQuery(), 'utf8');
  if (kind < 0.5) return Buffer.from(Array.from({ length: Math.floor(random() * 2000) }, () => Math.floor(random() * 256)));
  if (kind < 0.55) return Buffer.alloc(70_000, 0x61);
  return Buffer.alloc(0);
}

function randomRequest(): { env: Env; body: Buffer } {
  const body = randomBody();
  const method = random() < 0.8 ? pick(['GET', 'GET', 'POST', 'HEAD', 'get']) : pick(['PUT', 'DELETE', 'OPTIONS', 'B\u00e4D']);
  const env: Env = { GATEWAY_INTERFACE: 'CGI/1.1', REQUEST_METHOD: method, QUERY_STRING: randomQuery(), REMOTE_ADDR: pick(['127.0.0.1', '::1', '2001:db8::dead:beef', '', 'x'.repeat(60)]) };
  if (body.length > 0 || random() < 0.1) env.CONTENT_LENGTH = random() < 0.05 ? pick(['-1', 'abc', '1e3', ' ']) : String(body.length);
  if (random() < 0.8) env.CONTENT_TYPE = pick(['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=latin1', 'text/plain', 'multipart/form-data; boundary=x', '']);
  return { env, body };
}

function checkDocument(t: Test, status: number, contentType: string, body: string, label: string): boolean {
  if (contentType === 'application/json') {
    try {
      JSON.parse(body);
    } catch {
      t.fail(`${label}: invalid JSON`);
      return false;
    }
  } else if (XMLValidator.validate(body) !== true) {
    t.fail(`${label}: not well-formed XML: ${JSON.stringify(XMLValidator.validate(body))}`);
    return false;
  }
  if (![200, 400, 405, 413, 415].includes(status)) {
    t.fail(`${label}: status ${status}`);
    return false;
  }
  return true;
}

t.test('10,000 generated requests through the core', async (t) => {
  const scratch = await sqliteStore();
  t.teardown(() => scratch.close());
  const real = await openStore(scratch.url);
  t.teardown(() => real.close());
  let calls = 0;
  const counted: Store = { ...real, lookup: (d) => (calls++, real.lookup(d)), enqueue: (i) => (calls++, real.enqueue(i)) };
  const limits = { maxUrls: 100, maxBody: 64 * 1024 };
  const statuses: Record<number, number> = {};
  let bad = 0;
  for (let i = 0; i < 10_000 && bad < 5; i++) {
    const { env, body } = randomRequest();
    const before = calls;
    const logged: string[] = [];
    const incoming = receive(env, limits);
    const response = incoming.refusal ?? (await handle(incoming, body, { limits, retryAfter: 5, log: (l) => logged.push(l), store: async () => counted }));
    statuses[response.status] = (statuses[response.status] ?? 0) + 1;
    const type = response.headers.find(([k]) => k === 'Content-Type')![1];
    if (!checkDocument(t, response.status, type, response.body, `request ${i} ${JSON.stringify(env).slice(0, 300)}`)) bad++;
    if (response.status !== 200 && calls !== before) {
      t.fail(`request ${i}: refused with ${response.status} after database work`);
      bad++;
    }
    if (logged.length > 0) {
      t.fail(`request ${i}: logged ${logged[0]}`);
      bad++;
    }
  }
  t.equal(bad, 0, `statuses: ${JSON.stringify(statuses)}`);
  t.ok(statuses[200] > 1000 && statuses[400] > 1000, 'the generator reaches both answers and refusals');
});

t.test('a sample through the real CGI bin, checked by xmllint', async (t) => {
  const scratch = await sqliteStore();
  t.teardown(() => scratch.close());
  for (let i = 0; i < 40; i++) {
    const { env, body } = randomRequest();
    // A web server cannot put a NUL in an environment variable.
    const query = String(env.QUERY_STRING).replace(/\u0000/g, '%00').slice(0, 8000);
    const answer = await cgi(scratch.url, {
      method: String(env.REQUEST_METHOD).replace(/[^\x21-\x7e]/g, 'X'),
      query,
      body: body.length ? body : undefined,
      type: env.CONTENT_TYPE || undefined,
    });
    t.equal(answer.code, 0, `run ${i}: exit 0`);
    t.notMatch(answer.stderr, /\S/, `run ${i}: nothing logged`);
    if (answer.headers['content-type'] !== 'application/json' && env.REQUEST_METHOD === 'HEAD') {
      t.equal(answer.body, '', `run ${i}: HEAD has no body`);
      continue;
    }
    if (answer.headers['content-type'] !== 'application/json') {
      try {
        execFileSync('xmllint', ['--noout', '--nonet', '-'], { input: answer.body, stdio: ['pipe', 'ignore', 'pipe'] });
      } catch (err) {
        t.fail(`run ${i}: xmllint refused the document: ${(err as { stderr?: Buffer }).stderr}`);
      }
    }
    checkDocument(t, answer.status, answer.headers['content-type'], answer.body, `run ${i}`);
  }
});
