// A private mariadbd for drills that stop, kill and restart the database: its own data
// directory and loopback port, so the shared server is never disturbed.
import { spawn, execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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
  /** The URL of a database `name` on this server, created, with adrater's schema. */
  database(name: string): Promise<string>;
  url(db: string): string;
  start(): Promise<void>;
  /** SIGTERM (a clean shutdown) or SIGKILL (a crash). */
  stop(signal: NodeJS.Signals): Promise<void>;
  destroy(): Promise<void>;
}

export async function privateMariadb(): Promise<PrivateMariadb> {
  const dir = mkdtempSync(join(tmpdir(), 'adrater-mariadb-'));
  const port = await freePort();
  await run('mariadb-install-db', ['--no-defaults', '--user=root', `--datadir=${dir}/data`, '--skip-test-db', '--auth-root-authentication-method=normal'], { timeout: 120_000 });
  let child: ChildProcess | null = null;

  async function start() {
    child = spawn('/usr/sbin/mariadbd', [
      '--no-defaults', '--user=root', `--datadir=${dir}/data`, `--port=${port}`, '--bind-address=127.0.0.1',
      `--socket=${dir}/mysqld.sock`, `--pid-file=${dir}/mysqld.pid`, '--skip-grant-tables', '--skip-log-bin',
      '--innodb-buffer-pool-size=32M', '--innodb-log-file-size=16M', `--log-error=${dir}/error.log`,
    ], { stdio: 'ignore', detached: true });
    const until = Date.now() + 60_000;
    for (;;) {
      try {
        const conn = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' });
        await conn.end();
        return;
      } catch {
        if (Date.now() > until) throw new Error('private mariadbd did not start');
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async function stop(signal: NodeJS.Signals) {
    const c = child;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill(signal);
    });
  }

  await start();
  const url = (db: string) => `mysql://root@127.0.0.1:${port}/${db}`;
  return {
    port,
    url,
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
    async destroy() {
      await stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
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
