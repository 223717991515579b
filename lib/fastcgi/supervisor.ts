// `adrater fcgi --workers N`: a supervisor that holds the listening socket and keeps N
// workers accepting on it, as PHP-FPM's master does. A worker is the plain responder of
// lib/fastcgi/server.ts, started with ADRATER_WORKER=1, an IPC channel on fd 3 and the socket
// on fd 4 (inherited.ts says why not on fd 0, as mod_fcgid gives it). The supervisor never
// accepts a connection itself: it only binds the socket (`--listen`) or passes on the one it
// was given (fd 0, systemd's fd 3), and each worker listens and accepts on that shared socket.
// Until the first worker listens, a connection to a bound socket is refused: a Unix socket is
// therefore bound under a hidden name beside its path and linked to the path once a worker
// listens, so that the path appears only when it accepts, as a single responder's does.
import { spawn } from 'node:child_process';
import type { ChildProcess, StdioOptions } from 'node:child_process';
import net from 'node:net';
import { availableParallelism } from 'node:os';
import { chmodSync, linkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Settings } from '../core/settings.js';
import { log } from '../core/log.js';
import { clearStaleSocket, MAX_SOCKET_PATH, parseListen, removeSocketFile } from './listener.js';
import { WORKER_SOCKET_FD } from './inherited.js';
import type { Address } from './listener.js';
import { sumStatus } from './status.js';
import type { Counters } from './status.js';
import type { Message } from './channel.js';

const READY_MS = 15_000;
const STOP_GRACE_MS = 35_000;
const COUNTERS_MS = 2000; // less than a worker waits for the whole status (channel.ts)
// Crash loop damping: past this many unplanned restarts within the window, wait before the
// next, longer each time. A worker that died before it was ready cannot start (a broken
// build, a configuration it refuses): its successors wait up to 30 s. One that was serving
// is replaced within 1 s however often it happens (CONTRACT §7: within 2 seconds).
const CRASH_WINDOW_MS = 10_000;
const CRASHES_BEFORE_DAMPING = 5;
const MAX_RESTART_DELAY_MS = 30_000;
const MAX_REPLACE_DELAY_MS = 1000;

interface Worker {
  child: ChildProcess;
  ready: Promise<boolean>;
  /** It said it is ready: it accepts connections. */
  serving: boolean;
  /** It was ready once (its death is not a failure to start). */
  served: boolean;
  /** Being replaced (reload) or stopped (shutdown): its exit is expected. */
  retiring: boolean;
  /**
   * Started by a reload to take an old worker's place: if it dies before it is ready, the
   * reload stops there and the old worker stays, so nothing replaces it (a replacement would
   * be one worker too many, and with the new configuration refused, a crash loop).
   */
  trial: boolean;
}

interface Supervisor {
  settings: Settings;
  env: NodeJS.ProcessEnv;
  /** The listening socket's descriptor; each worker's WORKER_SOCKET_FD. */
  fd: number;
  /** A Unix socket bound under its hidden name: linked to its path once a worker listens (or not, when the path was taken meanwhile). */
  staged: { hidden: string; path: string; state: 'hidden' | 'linked' | 'failed' } | null;
  workers: Set<Worker>;
  crashes: number[];
  stopping: boolean;
  reloading: boolean;
}

type Staged = NonNullable<Supervisor['staged']>;

/**
 * A socket bound (not listening: the workers listen) for `address`, and its descriptor; a
 * Unix socket under its hidden name (hiddenPath, `staged`), unless that name would not fit.
 */
async function bindSocket(address: Address): Promise<{ fd: number; keep: unknown; staged: Staged | null }> {
  if ('fd' in address) return { fd: address.fd, keep: null, staged: null };
  // net's own bind-only handle, as the cluster module makes one for its workers: public APIs
  // would listen, and the supervisor's event loop would then accept connections too.
  const create = (net as unknown as { _createServerHandle(address: string, port: number, type: number): { fd: number } | number })._createServerHandle;
  const bound = (handle: { fd: number } | number, what: string) => {
    if (typeof handle === 'number') throw new Error(`cannot bind ${what} (error ${handle})`);
    return handle;
  };
  if ('host' in address) {
    const handle = bound(create(address.host, address.port, net.isIP(address.host) || 4), `${address.host}:${address.port}`);
    return { fd: handle.fd, keep: handle, staged: null };
  }
  await clearStaleSocket(address.path);
  const hidden = hiddenPath(address.path);
  if (hidden) await clearStaleSocket(hidden); // one a supervisor that died before it had a worker left
  const at = hidden ?? address.path;
  const handle = bound(create(at, -1, -1), address.path);
  chmodSync(at, 0o660);
  return { fd: handle.fd, keep: handle, staged: hidden ? { hidden, path: address.path, state: 'hidden' } : null };
}

/** `dir/.name` for `dir/name`; null past a socket path's length (the socket is then bound at its path, refusing until a worker listens). */
function hiddenPath(path: string): string | null {
  const hidden = join(dirname(path), `.${basename(path)}`);
  return Buffer.byteLength(hidden) <= MAX_SOCKET_PATH ? hidden : null;
}

/** A worker listens: the socket's path now leads to it (a link, which fails rather than replace a path another process took meanwhile). */
function publish(staged: Staged): void {
  try {
    linkSync(staged.hidden, staged.path);
  } catch (err) {
    staged.state = 'failed';
    log(`supervisor: cannot put the socket at ${staged.path}: ${(err as Error).message}; stopping`);
    process.exitCode = 1;
    process.kill(process.pid, 'SIGTERM');
    return;
  }
  staged.state = 'linked';
  removeSocketFile(staged.hidden);
}

export async function runSupervisor(settings: Settings, workerEnv: Record<string, string>): Promise<void> {
  const address = parseListen(settings.listen);
  const { fd, keep, staged } = await bindSocket(address);
  const env: NodeJS.ProcessEnv = { ...process.env, ...workerEnv, ADRATER_WORKER: '1' };
  delete env.LISTEN_FDS; // systemd's socket is the workers' WORKER_SOCKET_FD now
  delete env.LISTEN_PID;
  delete env.LISTEN_FDNAMES;
  const s: Supervisor = { settings, env, fd, staged, workers: new Set(), crashes: [], stopping: false, reloading: false };
  const count = settings.workers === 0 ? availableParallelism() : settings.workers;
  const stopped = new Promise<void>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void stop(s, signal).then(resolve));
  });
  process.on('SIGHUP', () => void reload(s));
  log(`supervisor: starting ${count} workers on ${settings.listen ?? `fd ${fd}`}`);
  const ready = await Promise.all(Array.from({ length: count }, () => startWorker(s).ready));
  log(`supervisor: ${ready.filter(Boolean).length} of ${count} workers ready`);
  await stopped;
  if ('path' in address && (!staged || staged.state === 'linked')) removeSocketFile(address.path); // not another process's
  if (staged) removeSocketFile(staged.hidden); // there still if no worker ever listened, the path was taken, or publish could not remove it
  void keep; // the bound handle lived until here, holding the socket for workers yet to come
}

function startWorker(s: Supervisor, trial = false): Worker {
  const stdio: StdioOptions = ['ignore', 'inherit', 'inherit', 'ipc'];
  stdio[WORKER_SOCKET_FD] = s.fd;
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]], { stdio, env: s.env });
  let markReady!: (ready: boolean) => void;
  const worker: Worker = { child, ready: new Promise((resolve) => (markReady = resolve)), serving: false, served: false, retiring: false, trial };
  const timer = setTimeout(() => markReady(false), READY_MS);
  s.workers.add(worker);
  child.on('message', (message: Message) => {
    if (message.type === 'ready') {
      clearTimeout(timer);
      worker.serving = true;
      worker.served = true;
      if (s.staged?.state === 'hidden') publish(s.staged);
      markReady(true);
    }
    if (message.type === 'status?') void answerStatus(s, child, message.id);
  });
  child.on('disconnect', () => (worker.serving = false)); // dying: not counted, not asked
  child.on('error', (err) => log(`supervisor: worker ${child.pid ?? '(not started)'}: ${err.message}`));
  child.on('exit', (code, signal) => {
    clearTimeout(timer);
    worker.serving = false;
    markReady(false);
    s.workers.delete(worker);
    if (worker.retiring || s.stopping || (worker.trial && !worker.served)) return;
    const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
    if (code === 0) {
      log(`supervisor: worker ${child.pid} ${how} (--max-requests); starting another`);
      startWorker(s);
    } else {
      replaceCrashed(s, `worker ${child.pid} ${how}${worker.served ? '' : ' before it was ready'}`, worker.served);
    }
  });
  return worker;
}

/** A worker died: another at once, unless workers keep dying, then after a growing pause (short for one that was serving). */
function replaceCrashed(s: Supervisor, what: string, served: boolean): void {
  const now = Date.now();
  s.crashes = s.crashes.filter((t) => now - t < CRASH_WINDOW_MS).concat(now);
  const over = s.crashes.length - CRASHES_BEFORE_DAMPING;
  const delay = over > 0 ? Math.min(served ? MAX_REPLACE_DELAY_MS : MAX_RESTART_DELAY_MS, 1000 * 2 ** (over - 1)) : 0;
  log(`supervisor: ${what}; ${delay ? `crash loop (${s.crashes.length} in ${CRASH_WINDOW_MS / 1000} s): next worker in ${delay / 1000} s` : 'starting another'}`);
  setTimeout(() => {
    if (!s.stopping) startWorker(s);
  }, delay);
}

/** SIGHUP: each worker in turn replaced by a fresh process (new code, ADRATER_CONFIG read again), the new one ready before the old stops. */
async function reload(s: Supervisor): Promise<void> {
  if (s.reloading || s.stopping) return log('supervisor: SIGHUP ignored: a reload or a stop is under way');
  s.reloading = true;
  // Not the workers an earlier reload retired: still draining, they are replaced already.
  const old = [...s.workers].filter((w) => !w.retiring);
  log(`supervisor: reloading ${old.length} workers, one at a time`);
  for (const previous of old) {
    const fresh = startWorker(s, true);
    if (!(await fresh.ready)) {
      log(`supervisor: reload stopped: a new worker did not become ready; worker ${previous.child.pid} stays`);
      fresh.retiring = true;
      fresh.child.kill('SIGTERM');
      break;
    }
    previous.retiring = true;
    // It stops accepting, serves its kept connections until their web server lets them go,
    // and exits (server.ts, stop). A worker that cannot hear it (its channel gone) is stopped.
    previous.child.send({ type: 'retire' } satisfies Message, (err) => err && previous.child.kill('SIGTERM'));
    log(`supervisor: worker ${fresh.child.pid} replaces worker ${previous.child.pid}`);
  }
  s.reloading = false;
}

/** SIGTERM/SIGINT: every worker drains and exits; then the supervisor does. */
async function stop(s: Supervisor, signal: string): Promise<void> {
  if (s.stopping) return;
  s.stopping = true;
  log(`supervisor: stopping (${signal}); ${s.workers.size} workers draining`);
  const exits = [...s.workers].map((w) => new Promise<void>((resolve) => (w.child.exitCode !== null || w.child.signalCode !== null ? resolve() : w.child.once('exit', () => resolve()))));
  for (const w of s.workers) {
    w.retiring = true;
    w.child.kill('SIGTERM');
  }
  const late = setTimeout(() => {
    log(`supervisor: killing ${s.workers.size} workers still running after ${STOP_GRACE_MS} ms`);
    for (const w of s.workers) w.child.kill('SIGKILL');
  }, STOP_GRACE_MS);
  await Promise.all(exits);
  clearTimeout(late);
  log('supervisor: stopped');
}

/** A worker asked for the status: the counters of every worker in service (ready, not draining), summed. */
async function answerStatus(s: Supervisor, asker: ChildProcess, id: number): Promise<void> {
  const serving = [...s.workers].filter((w) => w.serving && !w.retiring);
  const answers = await Promise.all(serving.map((w) => countersOf(w.child)));
  const status = sumStatus(process.pid, process.uptime(), answers.filter((c): c is Counters => c !== null));
  status.workers = serving.length; // a worker too busy to answer in time is still one
  if (asker.connected) asker.send({ type: 'status', id, status } satisfies Message, ignoreGone);
}

/** A message to a worker that died meanwhile: its exit is handled where it is watched. */
const ignoreGone = () => {};

let askSeq = 0;
function countersOf(child: ChildProcess): Promise<Counters | null> {
  if (!child.connected) return Promise.resolve(null);
  const id = ++askSeq;
  return new Promise((resolve) => {
    const gone = () => done(null); // killed meanwhile: not a worker to count
    const done = (counters: Counters | null) => {
      clearTimeout(timer);
      child.off('message', onMessage).off('exit', gone).off('disconnect', gone);
      resolve(counters);
    };
    const onMessage = (message: Message) => {
      if (message.type === 'counters' && message.id === id) done(message.counters);
    };
    const timer = setTimeout(() => {
      log(`supervisor: worker ${child.pid} did not give its counters within ${COUNTERS_MS} ms; the status leaves it out`);
      done(null);
    }, COUNTERS_MS);
    child.on('message', onMessage).once('exit', gone).once('disconnect', gone);
    // A worker can die between `connected` and the write: the callback takes the EPIPE,
    // which would otherwise be an 'error' event that nothing handles, and end the supervisor.
    child.send({ type: 'counters?', id } satisfies Message, (err) => err && done(null));
  });
}
