// adrater bench: its own logic, and a short smoke run of the real command. No timing is
// asserted: only that the numbers are there and make sense.
import t from 'tap';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { percentile, median, parseServerTiming, summarize, benchQuery, table } from '../lib/bench.js';
import { parseForm } from '../lib/form.js';
import { siteKey } from '../lib/site.js';
import { run } from './helpers/run.js';

t.test('percentiles (nearest rank)', async (t) => {
  const values = Array.from({ length: 100 }, (_, i) => i + 1);
  t.equal(percentile(values, 50), 50);
  t.equal(percentile(values, 90), 90);
  t.equal(percentile(values, 99), 99);
  t.equal(percentile(values, 100), 100);
  t.equal(percentile([7], 99), 7);
  t.ok(Number.isNaN(percentile([], 50)));
  t.equal(median([5, 1, 3]), 3);
});

t.test('Server-Timing parsing', async (t) => {
  t.same(parseServerTiming('startup;dur=29.10, load;dur=16, connect;desc="x";dur=2.5, query;dur=abc, render'), { startup: 29.1, load: 16, connect: 2.5 });
  t.same(parseServerTiming(''), {});
});

t.test('summaries and tables', async (t) => {
  const s = summarize('cgi', 2, [4, 1, 3, 2], 1, 2);
  t.match(s, { mode: 'cgi', concurrency: 2, requests: 4, errors: 1, rps: 2, p50: 2, max: 4 });
  t.equal(table(['a', 'bb'], [['x', 1], ['yyy', 22]]), 'a    bb\nx     1\nyyy  22');
});

t.test('bench requests: all but one URL name rated sites, one is new', async (t) => {
  const urls = parseForm(benchQuery(5, 3, 1000)).filter(([k]) => k === 'url').map(([, v]) => siteKey(v));
  t.equal(urls.length, 3);
  t.match(urls[0], { domain: /^rated-site\d+\.com$/ });
  t.match(urls[1], { domain: /^rated-site\d+\.com$/ });
  t.match(urls[2], { domain: /^new-\d+-5\.org$/ });
  t.not(benchQuery(5, 3, 1000), benchQuery(6, 3, 1000));
});

t.test('a short run of the real command', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'adrater-bench-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const json = join(dir, 'bench.json');
  const result = await run(['bench', '--requests', '20', '--duration', '3', '--concurrency', '4', '--rows', '500', '--json', json], {});
  t.equal(result.code, 0, result.stderr);
  const out = result.stdout.toString();
  t.match(out, /^mode\s+conc\s+requests\s+req\/s\s+p50 ms\s+p90 ms\s+p99 ms\s+max ms\s+errors$/m, 'the table');
  t.match(out, /^cgi\s+1\s+20\s/m);
  t.match(out, /^cgi\s+4\s+20\s/m);
  t.match(out, /^fastcgi\s+4\s+\d+\s/m);
  t.match(out, /FastCGI \/ CGI throughput at concurrency 4: [\d.]+x/);
  for (const phase of ['startup', 'load', 'connect', 'query', 'render', "bare node -e ''"]) t.match(out, new RegExp(`^${phase}\\s+[\\d.]+$`, 'm'), `breakdown: ${phase}`);
  const numbers = JSON.parse(readFileSync(json, 'utf8'));
  t.equal(numbers.modes.length, 3);
  for (const m of numbers.modes) {
    t.equal(m.errors, 0, `${m.mode} (${m.concurrency}): no errors`);
    t.ok(m.rps > 0 && m.p50 > 0 && m.p99 >= m.p50 && m.max >= m.p99, `${m.mode} (${m.concurrency}): numbers in order`);
  }
  t.ok(numbers.ratio > 0 && numbers.bareNodeMs > 0 && numbers.cgiWallMs > 0 && numbers.fastcgiRssMb > 0);
  t.same(Object.keys(numbers.breakdown), ['startup', 'load', 'connect', 'query', 'render']);
});
