// A responder writes V8's cache of the bundles it compiled without one once it has answered
// its first request, never before and never when node was started with flags of its own;
// the next responder accepts those caches (bin/adrater.cjs). On a copy of the build without
// caches, so that this checkout's stay as the build wrote them.
import t from 'tap';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { installCopy } from '../helpers/install.js';
import { answerOnce, getParams, startResponder } from '../helpers/fcgi.js';
import { sites } from '../helpers/xml.js';
import { until } from '../helpers/wait.js';

const RESPONDER_CACHES = ['adrater.js.v8cache', 'cli.js.v8cache', 'fcgi.js.v8cache', 'sqlite.js.v8cache'];

t.test('written after the first answer, then accepted by the next responder', async (t) => {
  const install = installCopy();
  t.teardown(() => rmSync(install.dir, { recursive: true, force: true }));
  const db = `sqlite:${join(install.dir, 'ratings.sqlite')}`;
  const bin = join(install.dir, 'bin/adrater');

  const first = await startResponder({ db, bin });
  t.teardown(() => first.stop('SIGKILL'));
  t.same(install.caches(), [], 'none while it has answered nothing');
  const answer = await answerOnce(first.port!, getParams('url=one.example'));
  t.same(sites(answer.body).map((s) => s.status), ['queued']);
  await until('the caches written', () => install.caches().length === RESPONDER_CACHES.length);
  t.same(install.caches(), RESPONDER_CACHES, 'every bundle it loaded, the command line and the responder included');
  await answerOnce(first.port!, getParams('url=two.example'));
  t.equal(await first.stop(), 0, first.stderr());
  const written = () => Object.fromEntries(install.caches().map((f) => [f, statSync(join(install.dir, 'dist/lib', f)).ino]));
  const afterFirst = written();

  const second = await startResponder({ db, bin });
  t.teardown(() => second.stop('SIGKILL'));
  t.equal((await answerOnce(second.port!, getParams('url=three.example'))).status, 200);
  t.equal(await second.stop(), 0, second.stderr());
  t.same(written(), afterFirst, 'accepted: none written again');
});

t.test('none written by a node started with flags of its own', async (t) => {
  for (const started of [{ nodeFlags: ['--max-old-space-size=256'] }, { env: { NODE_OPTIONS: '--max-old-space-size=256' } }]) {
    const install = installCopy();
    t.teardown(() => rmSync(install.dir, { recursive: true, force: true }));
    const responder = await startResponder({ db: `sqlite:${join(install.dir, 'ratings.sqlite')}`, bin: join(install.dir, 'bin/adrater'), ...started });
    t.teardown(() => responder.stop('SIGKILL'));
    t.equal((await answerOnce(responder.port!, getParams('url=one.example'))).status, 200);
    t.equal(await responder.stop(), 0, responder.stderr());
    t.same(install.caches(), [], JSON.stringify(started));
  }
});
