// Where a responder listens: the socket a web server handed over on fd 0, a TCP address or
// a Unix socket path (--listen), systemd's or a supervisor's (inherited.ts).
import { readFileSync, chmodSync, existsSync, lstatSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import type { Server } from 'node:net';
import { isSupervisedWorker, listens, systemdSocket, WORKER_SOCKET_FD } from './inherited.js';
import { log } from '../core/log.js';

export type Address = { fd: number } | { path: string } | { host: string; port: number };

// A Unix socket's address holds 108 bytes of path on Linux, the last a NUL. libuv cuts a
// longer path short without a word and binds the socket where the shorter path leads: a
// file in some other directory, and the responder's chmod of the path it was given failed
// with ENOENT.
export const MAX_SOCKET_PATH = 107;

/**
 * --listen's address; without it, systemd's socket (fd 3) or the one on fd 0. A supervisor's
 * worker takes the socket it was given, whatever --listen the configuration names: that is
 * the supervisor's.
 */
export function parseListen(listen: string | undefined): Address {
  if (isSupervisedWorker()) return { fd: WORKER_SOCKET_FD };
  if (!listen) {
    const fd = systemdSocket() ? 3 : 0;
    // Node's own words for these were "listen EINVAL" and "listen ENOTSOCK".
    if (listens(fd) === false) {
      throw new Error(
        fd === 3
          ? "systemd passed a connection, not a listening socket (the .socket unit says Accept=yes); adrater accepts its own connections: use Accept=no, the default"
          : 'fd 0 is not a listening socket (mod_fcgid gives one); to listen yourself, give --listen HOST:PORT or /path.sock',
      );
    }
    return { fd };
  }
  if (listen.startsWith('/') || listen.startsWith('./')) {
    const bytes = Buffer.byteLength(listen);
    if (bytes > MAX_SOCKET_PATH) {
      throw new Error(`--listen ${listen} is ${bytes} bytes; a Unix socket's path may have at most ${MAX_SOCKET_PATH} (use a shorter one, or one relative to the working directory: ./name.sock)`);
    }
    return { path: listen };
  }
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen);
  if (!m || Number(m[3]) > 65535) throw new Error(`--listen must be HOST:PORT or /path.sock, not "${listen}"`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port: Number(m[3]) };
}

/**
 * Removes a socket file left by a process that is gone; refuses one that still answers, and
 * anything that is not a socket (a mistyped --listen naming a file: connecting to a file is
 * refused as to a dead socket, and the file was deleted).
 */
export async function clearStaleSocket(path: string): Promise<void> {
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    return; // nothing there (or nothing we may see: listen says why)
  }
  if (!stat.isSocket()) throw new Error(`cannot listen on ${path}: it exists and is not a socket (adrater replaces only a socket no process answers on)`);
  const alive = await new Promise<boolean>((resolve) => {
    const probe = connect(path, () => (probe.destroy(), resolve(true)));
    probe.on('error', () => resolve(false));
  });
  if (alive) throw new Error(`${path} is in use by another process`);
  try {
    unlinkSync(path);
  } catch (err) {
    throw new Error(`cannot listen on ${path}: a stale socket there cannot be removed (${(err as Error).message})`);
  }
}

/**
 * Starts `server` listening at `address` with a backlog sized for bursts (the kernel holds
 * that many connections while the responder is busy; Linux caps it at net.core.somaxconn);
 * a Unix socket is made mode 0660 for the web server's group.
 */
export async function listen(server: Server, address: Address, backlog: number): Promise<void> {
  if ('path' in address) await clearStaleSocket(address.path);
  await new Promise<void>((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException) => reject(listenError(address, err));
    server.once('error', failed);
    server.listen({ ...address, backlog }, () => {
      server.off('error', failed);
      resolve();
    });
  });
  if ('path' in address) chmodSync(address.path, 0o660);
}

/** Node says EACCES for a socket in a directory that does not exist (libuv's choice, for Windows): say that. */
function listenError(address: Address, err: NodeJS.ErrnoException): Error {
  if ('path' in address && (err.code === 'EACCES' || err.code === 'ENOENT') && !existsSync(dirname(address.path))) {
    return new Error(`cannot listen on ${address.path}: there is no directory ${dirname(address.path)}`);
  }
  return err;
}

/**
 * Removes a socket file this process made (its path as it stops, a supervisor's hidden name).
 * One already gone is fine. One that cannot go (its directory made append-only, say) is said
 * in one line and left, as nginx leaves its own: the stop, or the serving, it follows has
 * succeeded, and the next start finds it stale. (An exception here ended a responder's stop
 * with a stack trace and exit 1, and a supervisor as its first worker became ready.)
 */
export function removeSocketFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log(`cannot remove the socket ${path}: ${(err as Error).message}; left in place`);
  }
}

/**
 * How many connections this process can hold: its open-file limit (the soft RLIMIT_NOFILE,
 * from /proc) less what it keeps for itself (the database, files, the listener).
 */
export function connectionLimit(reserved: number): number {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'latin1'));
    if (m) return Math.max(1, Number(m[1]) - reserved);
  } catch {
    // not Linux: say what POSIX promises at least
  }
  return 256;
}
