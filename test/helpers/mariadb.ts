// A private mariadbd for drills that stop, kill and restart the database: its own data
// directory and loopback port, so the shared server is never disturbed.
import { spawn, execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { freePort } from './servers.js';
import { run as runBin } from './run.js';
import { startResponder } from './fcgi.js';
import type { Responder } from './fcgi.js';
import type { Test } from 'tap';

const run = promisify(execFile);

export interface PrivateMariadb {
  port: number;
  dir: string;
  /** Runs SQL as root on this server (no database selected). */
  sql(query: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** The URL of a database `name` on this server, created, with adrater's schema. */
  database(name: string): Promise<string>;
  url(db: string): string;
  /** Starts (again) the server, with more options for this start only (--wsrep-new-cluster). */
  start(extra?: string[]): Promise<void>;
  /** SIGTERM (a clean shutdown) or SIGKILL (a crash). */
  stop(signal: NodeJS.Signals): Promise<void>;
  /** SIGSTOP: the server stops answering and closes nothing, as a host that crashed or lost its network. */
  pause(): void;
  /** SIGCONT after pause(); nothing otherwise (a test's teardown may call it either way). */
  resume(): void;
  destroy(): Promise<void>;
}

/**
 * `args`: more server options (a Galera node's, a replication source's); `port`: a port
 * chosen beforehand (a cluster's members must know each other's); `ready`: what must hold
 * before start() returns, beyond accepting connections (a Galera node being synced);
 * `start: false`: installed, not started (a cluster starts its members in order); `grants`:
 * accounts and privileges in force (root over TCP, no password), for a drill that needs a
 * user who is not root; `beforeInstall`: given the data directory's path before it exists (a
 * drill that mounts a small file system there).
 */
export async function privateMariadb(options: { args?: (dir: string) => string[]; port?: number; ready?: (server: PrivateMariadb) => Promise<boolean>; start?: boolean; user?: string; grants?: boolean; beforeInstall?: (dataDir: string) => Promise<void> } = {}): Promise<PrivateMariadb> {
  const dir = mkdtempSync(join(tmpdir(), 'adrater-mariadb-'));
  const user = options.user ?? 'root';
  if (user !== 'root') await run('chown', [user, dir]);
  const port = options.port ?? (await freePort());
  // A temporary directory of its own: servers installed or running at once (drills in
  // parallel) collided in the shared /tmp ("Error on delete of '/tmp/#sql-temptable-…'").
  mkdirSync(join(dir, 'tmp'));
  if (user !== 'root') await run('chown', [user, join(dir, 'tmp')]);
  await options.beforeInstall?.(join(dir, 'data'));
  await run('mariadb-install-db', ['--no-defaults', `--user=${user}`, `--datadir=${dir}/data`, `--tmpdir=${dir}/tmp`, '--skip-test-db', '--auth-root-authentication-method=normal'], { timeout: 120_000 });
  let child: ChildProcess | null = null;
  let self: PrivateMariadb;

  async function start(extra: string[] = []): Promise<void> {
    child = spawn('/usr/sbin/mariadbd', [
      '--no-defaults', `--user=${user}`, `--datadir=${dir}/data`, `--port=${port}`, '--bind-address=127.0.0.1',
      `--socket=${dir}/mysqld.sock`, `--pid-file=${dir}/mysqld.pid`, `--tmpdir=${dir}/tmp`, ...(options.grants ? [] : ['--skip-grant-tables']),
      '--innodb-buffer-pool-size=32M', '--innodb-log-file-size=16M', `--log-error=${dir}/error.log`,
      ...(options.args?.(dir) ?? ['--skip-log-bin']), ...extra,
    ], { stdio: 'ignore', detached: true });
    const exited = child;
    const until = Date.now() + 90_000;
    for (;;) {
      try {
        const conn = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' });
        await conn.end();
        if (!options.ready || (await options.ready(self))) return;
      } catch {
        // not up yet
      }
      if (exited.exitCode !== null) throw new Error(`private mariadbd exited (${exited.exitCode}): ${tail(join(dir, 'error.log'))}`);
      if (Date.now() > until) throw new Error(`private mariadbd did not start: ${tail(join(dir, 'error.log'))}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function stop(signal: NodeJS.Signals) {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill(signal);
    });
  }

  let paused = false;
  const signalRunning = (signal: NodeJS.Signals) => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
  };

  const url = (db: string) => `mysql://root@127.0.0.1:${port}/${db}`;
  self = {
    port,
    dir,
    url,
    async sql(query, params = []) {
      const conn = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' });
      try {
        const [rows] = await conn.query(query, params);
        return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
      } finally {
        await conn.end();
      }
    },
    async database(name) {
      const admin = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' });
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.end();
      const init = await runBin(['db', 'init', '--db', url(name)], {});
      if (init.code !== 0) throw new Error(`db init failed: ${init.stderr}`);
      return url(name);
    },
    start,
    stop,
    pause() {
      signalRunning('SIGSTOP');
      paused = true;
    },
    resume() {
      if (paused) signalRunning('SIGCONT');
      paused = false;
    },
    async destroy() {
      await stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (options.start !== false) {
    try {
      await start();
    } catch (err) {
      await self.destroy(); // a server that never started leaves no data directory behind
      throw err;
    }
  }
  return self;
}

/** The last lines of a log, for an error message. */
function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-5).join(' | ');
  } catch {
    return '(no log)';
  }
}

/** A private mariadbd with a database `name` and a FastCGI responder on it, both ended with `t`. */
export async function drillBed(t: Test, name: string): Promise<{ db: PrivateMariadb; url: string; responder: Responder }> {
  const db = await privateMariadb();
  t.teardown(() => db.destroy());
  const url = await db.database(name);
  const responder = await startResponder({ db: url });
  t.teardown(() => responder.stop());
  return { db, url, responder };
}
