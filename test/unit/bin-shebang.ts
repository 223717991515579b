// bin/adrater is written at install from bin/adrater.cjs with the installing node's path in
// its #! line (lib/build/bin.mjs), or env's line where a kernel could not take that path.
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

type BinModule = { shebangFor(nodePath: string): string; writeBin(root: string, nodePath: string): string; TEMPLATE: string; BIN: string };
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const { shebangFor, writeBin, TEMPLATE, BIN } = (await import(pathToFileURL(join(ROOT, 'lib/build/bin.mjs')).href)) as BinModule;

t.test('the #! line: the absolute path when a kernel takes it whole, else env', async (t) => {
  t.equal(shebangFor('/usr/bin/node'), '#!/usr/bin/node');
  t.equal(shebangFor('/root/.nvm/versions/node/v20.20.2/bin/node'), '#!/root/.nvm/versions/node/v20.20.2/bin/node');
  t.equal(shebangFor('node'), '#!/usr/bin/env node', 'a relative path means nothing to the kernel');
  t.equal(shebangFor('/opt/my node/bin/node'), '#!/usr/bin/env node', 'a space would split it into node and an argument');
  t.equal(shebangFor('/opt/node\tx/bin/node'), '#!/usr/bin/env node');
  const longest = `/${'n'.repeat(124)}`; // "#!" and 125 bytes: 127, what kernels before 5.1 read
  t.equal(shebangFor(longest), `#!${longest}`);
  t.equal(shebangFor(`${longest}x`), '#!/usr/bin/env node', 'longer would be cut short by the kernel, silently');
});

t.test('writeBin: the template with its first line replaced, executable, written whole', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'adrater-bin-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'bin'));
  const body = "// the script\n'use strict';\nconsole.log('hi');\n";
  writeFileSync(join(root, TEMPLATE), `#!/usr/bin/env node\n${body}`, { mode: 0o644 });
  writeFileSync(join(root, BIN), 'an older bin\n', { mode: 0o600 });

  const written = writeBin(root, '/opt/node-20/bin/node');
  t.equal(written, join(root, BIN));
  t.equal(readFileSync(written, 'utf8'), `#!/opt/node-20/bin/node\n${body}`);
  t.equal(statSync(written).mode & 0o777, 0o755, 'executable by the web server, whatever it replaced');
  t.same(readdirSync(join(root, 'bin')).sort(), ['adrater', 'adrater.cjs'], 'no temporary file left');

  writeBin(root, '/opt/with space/node');
  t.equal(readFileSync(written, 'utf8'), `#!/usr/bin/env node\n${body}`, 'a path a kernel cannot take: the portable line');

  writeFileSync(join(root, TEMPLATE), `#!/usr/local/bin/node\n${body}`);
  t.throws(() => writeBin(root, '/usr/bin/node'), /must begin with "#!\/usr\/bin\/env node"/, 'a template changed by hand is refused, not half-used');
});
