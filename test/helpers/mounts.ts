// Mounts a test makes itself (a tmpfs of a given size, a read-only bind), where it may.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Why no file system can be mounted here (not root, or a sandbox without the right), or '' when one can. */
export async function noMount(): Promise<string> {
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
  const probe = mkdtempSync(join(tmpdir(), 'adrater-mount-'));
  try {
    await run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe]);
    await run('umount', [probe]);
    return '';
  } catch (err) {
    return `no tmpfs can be mounted here: ${(err as Error).message.trim()}`;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}
