// A persistent responder holds V8's young generation at its size when serving starts
// (lib/fastcgi/server.ts),
// unless node was started with its own --max-semi-space-size. Seen from inside the real
// responder: a preloaded module reports V8's new-space size on SIGUSR2, after real load.
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

/** The responder's new-space size in MB when ready, and after 20,000 requests over 16 connections. */
async function newSpaceBeforeAndAfterLoad(t: Test, nodeFlags: string[]): Promise<[number, number]> {
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
  const before = await probeNow(1);
  const load = startLoad(responder.port!, 16, (n) => ({ q: `url=young-${n % 500}.example&url=example.com`, domain: `young-${n % 500}.example` }));
  while (load.outcomes.length < 20_000) await new Promise((r) => setTimeout(r, 50));
  await load.stop();
  t.ok(load.outcomes.every((o) => o.status === 200), 'every request answered 200');
  return [before, await probeNow(2)];
}

t.test('held at its size when serving starts by default; left to the user who sets --max-semi-space-size', async (t) => {
  const [heldBefore, heldAfter] = await newSpaceBeforeAndAfterLoad(t, []);
  t.equal(heldAfter, heldBefore, `by default: ${heldBefore.toFixed(1)} MB of new space when ready, ${heldAfter.toFixed(1)} MB after the load`);
  const [chosenBefore, chosenAfter] = await newSpaceBeforeAndAfterLoad(t, ['--max-semi-space-size=16']);
  t.ok(chosenAfter > chosenBefore, `with --max-semi-space-size=16: ${chosenBefore.toFixed(1)} MB when ready, ${chosenAfter.toFixed(1)} MB after the same load`);
});
