// A copy of the built package in a fresh place, as an install elsewhere is: for the tests of
// what the bin does with V8's code cache there.
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './run.js';

/** The built package copied to a fresh place: bin/, dist/lib/ (without caches unless asked), package.json, node_modules by symlink. */
export function installCopy(withCaches = false): { dir: string; cgi: string; caches: () => string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'adrater-install-'));
  chmodSync(dir, 0o755);
  cpSync(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
  mkdirSync(join(dir, 'dist/lib'), { recursive: true });
  for (const f of readdirSync(join(ROOT, 'dist/lib'))) if (withCaches || !f.endsWith('.v8cache')) cpSync(join(ROOT, 'dist/lib', f), join(dir, 'dist/lib', f));
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  mkdirSync(join(dir, 'cgi-bin'));
  symlinkSync('../bin/adrater', join(dir, 'cgi-bin/adrater.cgi'));
  const caches = () => readdirSync(join(dir, 'dist/lib')).filter((f) => f.endsWith('.v8cache')).sort();
  return { dir, cgi: join(dir, 'cgi-bin/adrater.cgi'), caches };
}
