// Micro-benchmarks of a look-up's per-request steps (issue 12): each step alone, on the
// bench's request mix, over the built bundle. Prints nanoseconds per call.
// Usage: node test/drills/micro.mjs   (after npm run build)
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { runInThisContext } from 'node:vm';
import { fileURLToPath } from 'node:url';
import { dirname } from 'node:path';
// A bundle is one function expression that bin/adrater runs (lib/build/build.mjs); run it so.
const file = fileURLToPath(new URL('../../dist/lib/adrater.js', import.meta.url));
const bundle = { exports: {} };
runInThisContext(readFileSync(file, 'utf8'), { filename: file })(bundle.exports, createRequire(file), bundle, file, dirname(file));
const modules = bundle.exports.__modules;
const { siteKey } = modules['lib/core/site.ts'];
const { parseForm } = modules['lib/core/form.ts'];
const { parseLookup } = modules['lib/core/request.ts'];
const { renderXml } = modules['lib/core/render.ts'];
const { receive } = modules['lib/core/handler.ts'];
const { responseBytes } = modules['lib/cgi/response.ts'];

const query = (n) => `url=http://www.site${(n * 7919) % 100000}.example/&url=site${(n * 104729) % 100000}.example&url=new${n}.example&priority=1`;
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
