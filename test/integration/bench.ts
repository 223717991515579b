// A short smoke run of the real `adrater bench`. No timing is asserted: only that the
// numbers are there and make sense.
import t from 'tap';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../helpers/run.js';
import { checkReport } from '../helpers/report.js';

t.test('a short run of the real command', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'adrater-bench-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const json = join(dir, 'bench.json');
  const report = join(dir, 'bench.html');
  const result = await run(['bench', '--requests', '20', '--duration', '3', '--concurrency', '4', '--rows', '500', '--json', json, '--report', report], {});
  t.equal(result.code, 0, result.stderr);
  const out = result.stdout.toString();
  t.match(out, /^mode\s+conc\s+requests\s+req\/s\s+p50 ms\s+p90 ms\s+p99 ms\s+max ms\s+errors$/m, 'the table');
  // At most 20 CGI runs per phase: fewer when 3 s run out first on a loaded machine.
  t.match(out, /^cgi\s+1\s+([1-9]|1\d|20)\s/m);
  t.match(out, /^cgi\s+4\s+([1-9]|1\d|20)\s/m);
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
  // CPU from /proc (the children's user + system time): a node start is never free.
  t.ok(numbers.cgiCpuMs > 0 && numbers.bareNodeCpuMs > 0, `CPU of the runs by turns: ${numbers.cgiCpuMs} and ${numbers.bareNodeCpuMs} ms`);
  t.match(out, /^CPU \/ bare node\s+[\d.]+x$/m, 'the CPU ratio printed');
  t.same(Object.keys(numbers.breakdown), ['startup', 'load', 'connect', 'query', 'render']);
  t.match(numbers.database, { kind: 'sqlite', version: /^SQLite \d/ });
  t.ok(numbers.machine.cpus > 0 && numbers.modes.every((m: { percentiles: unknown[] }) => m.percentiles.length === 11), 'conditions and the latency distribution saved');

  await t.test('--report: the page of this run', async (t) => checkReport(t, readFileSync(report, 'utf8'), [numbers]));

  await t.test('bench report A.json B.json: two runs side by side', async (t) => {
    const twoRuns = join(dir, 'two.html');
    const made = await run(['bench', 'report', json, json, '--out', twoRuns], {});
    t.equal(made.code, 0, made.stderr);
    const html = readFileSync(twoRuns, 'utf8');
    checkReport(t, html, [numbers, numbers]);
    t.match(html, /Run A[\s\S]*Run B/);
  });

  await t.test('bench report refuses what is not a saved result', async (t) => {
    writeFileSync(join(dir, 'other.json'), '{"soak": []}');
    const refused = await run(['bench', 'report', join(dir, 'other.json'), '--out', join(dir, 'x.html')], {});
    t.equal(refused.code, 1);
    t.match(refused.stderr, /is not a result of adrater bench --json/);
    const missing = await run(['bench', 'report', '--out', join(dir, 'x.html')], {});
    t.equal(missing.code, 2, 'no file named: a usage error');
  });
});
