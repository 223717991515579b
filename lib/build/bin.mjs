// bin/adrater, written from bin/adrater.cjs at install (npm's postinstall, and each
// `npm run build`): the same script, with the absolute path of the node that runs the
// install in its #! line, as pip writes a Python script's. A web server then starts one
// program per CGI run, not two (/usr/bin/env, which searches PATH for node: ~1.5 ms of every
// run, README "Performance"), and the run gets the node that better-sqlite3's addon was
// built for, whatever PATH the web server gives. Where that path cannot stand in a #! line,
// the line stays `#!/usr/bin/env node`. Node moved elsewhere: run `npm run build` again (or
// run bin/adrater.cjs, which finds node on PATH).
import { chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const TEMPLATE = 'bin/adrater.cjs';
export const BIN = 'bin/adrater';
const PORTABLE = '#!/usr/bin/env node';
// Linux reads the first 127 bytes of a #! line on kernels before 5.1 (256 since); the line
// is cut there, silently.
const MAX_LINE = 127;

/** The #! line for a node at `nodePath`: that path when a kernel can take it whole, else env's. */
export function shebangFor(nodePath) {
  const line = `#!${nodePath}`;
  return isAbsolute(nodePath) && !/\s/.test(nodePath) && Buffer.byteLength(line) <= MAX_LINE ? line : PORTABLE;
}

/** Writes `root`/bin/adrater from the template, executable, replacing any other in one rename. */
export function writeBin(root = ROOT, nodePath = process.execPath) {
  const template = readFileSync(join(root, TEMPLATE), 'utf8');
  if (!template.startsWith(`${PORTABLE}\n`)) throw new Error(`${TEMPLATE} must begin with "${PORTABLE}"`);
  const target = join(root, BIN);
  const temp = `${target}.${process.pid}`;
  writeFileSync(temp, `${shebangFor(nodePath)}${template.slice(PORTABLE.length)}`, { mode: 0o755 });
  chmodSync(temp, 0o755); // whatever the umask
  renameSync(temp, target);
  return target;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) writeBin();
