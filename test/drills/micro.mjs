// Micro-benchmarks of a look-up's per-request steps (issue 12): each step alone, on the
// bench's request mix. Prints nanoseconds per call.
// Usage: [URLS=10] node test/drills/micro.mjs
//
// The steps are bundled here from lib/'s sources, with tldts's trie precomputed as the build
// does it (lib/build/tldts-precomputed.mjs): dist/lib/adrater.js exports only what later
// bundles import from it, not these.
import { build } from 'esbuild';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tldtsPrecomputed } from '../../lib/build/tldts-precomputed.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'adrater-micro-'));
const entry = `
export { siteKey } from './lib/core/site.ts';
export { parseForm } from './lib/core/form.ts';
export { parseLookup } from './lib/core/request.ts';
export { renderXml } from './lib/core/render.ts';
export { receive, handle } from './lib/core/handler.ts';
export { responseBytes } from './lib/cgi/response.ts';
export { createSession } from './lib/fastcgi/session.ts';
export { encodeRecord, encodePairs, readPairs } from './lib/fastcgi/record.ts';`;
let steps;
try {
  await build({
    stdin: { contents: entry, resolveDir: ROOT, loader: 'ts' },
    bundle: true, platform: 'node', target: 'node20', format: 'cjs', minifyWhitespace: true, minifySyntax: true,
    define: { 'import.meta.filename': '__filename', 'import.meta.dirname': '__dirname' },
    outfile: join(out, 'steps.cjs'), logLevel: 'warning', plugins: [tldtsPrecomputed(out)],
  });
  steps = createRequire(import.meta.url)(join(out, 'steps.cjs'));
} finally {
  rmSync(out, { recursive: true, force: true });
}
const { siteKey, parseForm, parseLookup, renderXml, receive, handle, responseBytes, createSession, encodeRecord, encodePairs, readPairs } = steps;

// The bench's mix (2 rated, 1 new), or with URLS=10 the rig's other one (8 rated, 2 new).
const URLS = Number(process.env.URLS ?? 3);
const query = URLS === 10
  ? (n) => `${Array.from({ length: 8 }, (_, i) => `url=http://www.site${(n * 7919 + i * 104729) % 100000}.example/page${i}`).join('&')}&url=new${n}.example&url=new2-${n}.example&priority=1`
  : (n) => `url=http://www.site${(n * 7919) % 100000}.example/&url=site${(n * 104729) % 100000}.example&url=new${n}.example&priority=1`;
const env = (n) => ({ GATEWAY_INTERFACE: 'CGI/1.1', REQUEST_METHOD: 'GET', QUERY_STRING: query(n), REMOTE_ADDR: '127.0.0.1', SERVER_PROTOCOL: 'HTTP/1.1' });
const limits = { maxUrls: 100, maxBody: 65536 };
const results = [{ url: 'http://www.site17.example/', domain: 'site17.example', status: 'rated', rating: 'A', rated: '2026-01-01T00:00:00Z', info: 'synthetic row 17' }, { url: 'site42.example', domain: 'site42.example', status: 'stale', rating: 'B', rated: '2026-01-01T00:00:00Z', expires: '2026-02-01T00:00:00Z' }, { url: 'new1.example', domain: 'new1.example', status: 'queued' }];

function time(name, fn, n = 200_000) {
  for (let i = 0; i < 20_000; i++) fn(i);
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  console.log(`${name.padEnd(44)} ${(Number(process.hrtime.bigint() - started) / n).toFixed(0).padStart(7)} ns`);
}

time('parseForm (3 urls + priority)', (i) => parseForm(query(i)));
time('receive (the environment alone)', (i) => receive(env(i), limits));
time('parseLookup', (i) => parseLookup(env(i), Buffer.alloc(0), limits));
time('siteKey, a full URL', (i) => siteKey(`http://www.site${i % 100000}.example/page`));
time('siteKey, a bare host', (i) => siteKey(`site${i % 100000}.example`));
time('siteKey, the same host again', () => siteKey('http://www.site17.example/'));
time('renderXml (3 sites)', () => renderXml(results));
time('responseBytes', () => responseBytes({ status: 200, headers: [['Content-Type', 'text/xml; charset=utf-8'], ['Cache-Control', 'no-store'], ['Server-Timing', 'connect;dur=0.01, query;dur=1.20, render;dur=0.02']], body: renderXml(results), head: false }));

// A whole request as the responder handles it, without a socket: its records (nginx's 19
// PARAMS) fed to a session, the handler over an in-memory store of 100,000 ratings, the
// response encoded. Each request waits for its answer and a turn of the event loop, as on
// a socket. The minimum of 15 windows of 10,000 requests (the machine's noise only adds).
const rated = new Map();
for (let i = 0; i < 100000; i++) rated.set(`site${i}.example`, { domain: `site${i}.example`, rating: 'ABCDF'[i % 5], info: 'synthetic', ratedAt: '2026-01-01 00:00:00', expiresAt: null });
// (A loop: the store's own cost should not weigh on what this measures.)
const found = (domains) => {
  const rows = [];
  for (const d of domains) {
    const row = rated.get(d);
    if (row) rows.push(row);
  }
  return rows;
};
const store = { kind: 'memory', lookup: async (domains) => found(domains), enqueue: async () => {} };
const nginxParams = (n) => [
  ['QUERY_STRING', query(n)], ['REQUEST_METHOD', 'GET'], ['CONTENT_TYPE', ''], ['CONTENT_LENGTH', ''], ['SCRIPT_NAME', '/adrater'],
  ['REQUEST_URI', `/adrater?${query(n)}`], ['DOCUMENT_URI', '/adrater'], ['DOCUMENT_ROOT', '/usr/share/nginx/html'], ['SERVER_PROTOCOL', 'HTTP/1.1'],
  ['REQUEST_SCHEME', 'http'], ['GATEWAY_INTERFACE', 'CGI/1.1'], ['SERVER_SOFTWARE', 'nginx/1.22.1'], ['REMOTE_ADDR', '127.0.0.1'], ['REMOTE_PORT', '41234'],
  ['SERVER_ADDR', '127.0.0.1'], ['SERVER_PORT', '18080'], ['SERVER_NAME', ''], ['REDIRECT_STATUS', '200'], ['HTTP_HOST', '127.0.0.1:18080'],
];
const paramsRecords = Array.from({ length: 1000 }, (_, n) => encodePairs(nginxParams(n)));
time("PARAMS (nginx's 19 pairs) into an environment", (i) => {
  const env = {};
  readPairs(paramsRecords[i % 1000], (name, value) => (env[name] = value));
  return env;
});
const requestRecords = Array.from({ length: 1000 }, (_, n) => Buffer.concat([
  encodeRecord(1, 1, Buffer.from([0, 1, 1, 0, 0, 0, 0, 0])), encodeRecord(4, 1, encodePairs(nginxParams(n))), encodeRecord(4, 1), encodeRecord(5, 1),
]));
let answered = () => {};
const session = createSession({
  maxParamsBytes: 256 * 1024, maxStdin: 65536, values: {}, onAbort: () => {},
  send: () => answered(),
  onRequest: (request) => {
    const ctx = { limits, retryAfter: 1, log: () => {}, timing: [], signal: { aborted: false }, store: async () => store };
    void handle(receive(request.params, limits), request.stdin, ctx).then((response) => session.respond(request.id, responseBytes(response)));
  },
});
const oneRequest = (i) => new Promise((resolve) => {
  answered = () => setImmediate(resolve);
  session.feed(requestRecords[i % 1000]);
});
for (let i = 0; i < 20_000; i++) await oneRequest(i);
const windows = [];
for (let w = 0; w < 15; w++) {
  const started = process.hrtime.bigint();
  for (let i = 0; i < 10_000; i++) await oneRequest(i);
  windows.push(Number(process.hrtime.bigint() - started) / 10_000);
}
console.log(`${'a whole request, records to response'.padEnd(44)} ${Math.min(...windows).toFixed(0).padStart(7)} ns`);
