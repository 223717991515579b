// A short smoke run of the real `adrater bench`. No timing is asserted: only that the
// numbers are there and make sense.
import t from 'tap';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../helpers/run.js';

t.test('a short run of the real command', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'adrater-bench-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const json = join(dir, 'bench.json');
  const result = await run(['bench', '--requests', '20', '--duration', '3', '--concurrency', '4', '--rows', '500', '--json', json], {});
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
  t.same(Object.keys(numbers.breakdown), ['startup', 'load', 'connect', 'query', 'render']);
});
