// A persistent responder lets V8's young generation grow to semi-spaces of 4 MB (8 MB of new
// space) and holds it there (lib/fastcgi/server.ts), unless node was started with its own
// --max-semi-space-size. Seen from inside the real responder: a preloaded module reports V8's
// new-space size on SIGUSR2, after real load.
import t from 'tap';
import type { Test } from 'tap';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteStore } from '../helpers/stores.js';
import { startResponder } from '../helpers/fcgi.js';
import { startLoad } from '../helpers/load.js';

const dir = mkdtempSync(join(tmpdir(), 'adrater-young-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const probe = join(dir, 'probe.cjs');
writeFileSync(
  probe,
  `process.on('SIGUSR2', () => {
  const space = require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  process.stderr.write('NEW_SPACE ' + space.space_size + '\\n');
});
`,
);

// Nineteen sites a request beside its own: more of each request lives through a scavenge than
// with a few, and V8 grows the new space sooner.
const MORE_URLS = Array.from({ length: 19 }, (_, i) => `url=http://www.site-${i}.example/page`).join('&');

/** The responder's new-space size in MB when ready, then after each of `loads` runs of 20,000 requests over 16 connections. */
async function newSpaceUnderLoad(t: Test, nodeFlags: string[], loads: number): Promise<number[]> {
  const store = await sqliteStore(t);
  t.teardown(() => store.close());
  const responder = await startResponder({ db: store.url, nodeFlags: ['--require', probe, ...nodeFlags] });
  t.teardown(() => responder.stop());
  const probeNow = async (n: number) => {
    process.kill(responder.pid, 'SIGUSR2');
    for (let i = 0; i < 100 && [...responder.stderr().matchAll(/NEW_SPACE (\d+)/g)].length < n; i++) await new Promise((r) => setTimeout(r, 20));
    const all = [...responder.stderr().matchAll(/NEW_SPACE (\d+)/g)];
    t.equal(all.length, n, `probe ${n} answered`);
    return Number(all[n - 1]?.[1]) / 2 ** 20;
  };
  const sizes = [await probeNow(1)];
  for (let i = 1; i <= loads; i++) {
    const load = startLoad(responder.port!, 16, (n) => ({ q: `${MORE_URLS}&url=young-${n % 500}.example`, domain: `young-${n % 500}.example` }));
    while (load.outcomes.length < 20_000) await new Promise((r) => setTimeout(r, 50));
    await load.stop();
    t.ok(load.outcomes.every((o) => o.status === 200), 'every request answered 200');
    sizes.push(await probeNow(i + 1));
  }
  return sizes;
}

t.test('grown to 8 MB and held there by default; left to the user who sets --max-semi-space-size', async (t) => {
  const held = await newSpaceUnderLoad(t, [], 3);
  t.ok(held[0] < 8, `by default: ${held[0].toFixed(1)} MB of new space when ready`);
  t.same(held.slice(1), [8, 8, 8], `grown to 8 MB under load and held there: ${held.map((mb) => mb.toFixed(1)).join(' -> ')} MB`);
  const chosen = await newSpaceUnderLoad(t, ['--max-semi-space-size=16'], 3);
  t.ok(chosen[3] > 8, `with --max-semi-space-size=16: ${chosen.map((mb) => mb.toFixed(1)).join(' -> ')} MB under the same loads`);
});
