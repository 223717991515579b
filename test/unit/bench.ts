// adrater bench's own logic: percentiles, Server-Timing, summaries, its request mix.
import t from 'tap';
import { percentile, median, parseServerTiming, summarize, table } from '../../lib/bench/stats.js';
import { benchQuery } from '../../lib/bench/bench.js';
import { parseForm } from '../../lib/core/form.js';
import { siteKey } from '../../lib/core/site.js';

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
