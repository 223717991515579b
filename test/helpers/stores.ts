// Scratch databases for a test run: a SQLite file in a temp dir, and a throw-away
// database on the real MariaDB at 127.0.0.1:3306. Under CI, MariaDB being unreachable
// fails the test; elsewhere the MySQL half is a skipped subtest, counted in tap's summary.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import Database from 'better-sqlite3';
import type { Test } from 'tap';
import { run } from './run.js';
import type { OpenOptions } from '../../lib/store/store.js';

export const MYSQL_ADMIN = process.env.ADRATER_TEST_MYSQL ?? 'mysql://root@127.0.0.1:3306/test';

export interface ScratchStore {
  name: 'sqlite' | 'mysql';
  url: string;
  /** Runs SQL against the store directly, for arranging and checking rows. */
  sql(query: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

let seq = 0;

export async function sqliteStore(_t?: Test): Promise<ScratchStore> {
  const dir = mkdtempSync(join(tmpdir(), 'adrater-test-'));
  const url = `sqlite:${join(dir, 'ratings.sqlite')}`;
  const init = await run(['db', 'init', '--db', url], {});
  if (init.code !== 0) {
    rmSync(dir, { recursive: true, force: true }); // the test fails; its scratch directory goes
    throw new Error(`db init failed: ${init.stderr}`);
  }
  const db = new Database(url.slice('sqlite:'.length), { timeout: 5000 });
  return {
    name: 'sqlite',
    url,
    async sql(query, params = []) {
      const statement = db.prepare(query);
      return statement.reader ? (statement.all(...params) as Record<string, unknown>[]) : (statement.run(...params), []);
    },
    async close() {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * An admin connection to the real MariaDB; null outside CI when it is unreachable, after
 * recording a skipped subtest in `t` that says so.
 */
export async function mysqlAdmin(t: Test): Promise<mysql.Connection | null> {
  try {
    return await mysql.createConnection(MYSQL_ADMIN);
  } catch (err) {
    if (process.env.CI) throw new Error(`MariaDB at ${MYSQL_ADMIN} is unreachable under CI: ${(err as Error).message}`);
    await t.test('on MySQL', { skip: `MariaDB at ${MYSQL_ADMIN} is unreachable (${(err as Error).message})` }, async () => {});
    return null;
  }
}

/**
 * An account `'user'@'%'` on the real MariaDB for one test, dropped when `t` ends (through an
 * admin connection of its own); false (a skipped subtest) when MariaDB is unreachable outside
 * CI. `grantOn`: a database where it gets what adrater needs (SELECT, INSERT, UPDATE);
 * `limits`: a WITH clause (`MAX_STATEMENT_TIME 0.3`).
 */
export async function mysqlAccount(t: Test, user: string, password: string, options: { grantOn?: string; limits?: string } = {}): Promise<boolean> {
  const admin = await mysqlAdmin(t);
  if (!admin) return false;
  t.teardown(async () => {
    await admin.query(`DROP USER IF EXISTS '${user}'@'%'`);
    await admin.end();
  });
  await admin.query(`CREATE USER '${user}'@'%' IDENTIFIED BY ?${options.limits ? ` WITH ${options.limits}` : ''}`, [password]);
  if (options.grantOn) await admin.query(`GRANT SELECT, INSERT, UPDATE ON ${options.grantOn}.* TO '${user}'@'%'`);
  return true;
}

/** A fresh database on the real MariaDB, or null (a skipped subtest in `t`) when it is unreachable outside CI. */
export async function mysqlStore(t: Test): Promise<ScratchStore | null> {
  const admin = await mysqlAdmin(t);
  if (!admin) return null;
  const name = `adrater_t${process.pid}_${++seq}_${Date.now().toString(36)}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const base = new URL(MYSQL_ADMIN);
  base.pathname = '/' + name;
  const url = base.toString();
  const init = await run(['db', 'init', '--db', url], {});
  if (init.code !== 0) {
    await admin.query(`DROP DATABASE ${name}`); // the test fails; its database goes
    await admin.end();
    throw new Error(`db init failed: ${init.stderr}`);
  }
  const conn = await mysql.createConnection({ uri: url, dateStrings: true });
  return {
    name: 'mysql',
    url,
    async sql(query, params = []) {
      const [rows] = await conn.query(query, params);
      return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
    },
    async close() {
      await conn.end();
      await admin.query(`DROP DATABASE ${name}`);
      await admin.end();
    },
  };
}

/** Runs the same tests against each store, cleaning up after each. */
export async function eachStore(
  t: Test,
  body: (t: Test, store: ScratchStore) => Promise<void>,
): Promise<void> {
  for (const open of [sqliteStore, mysqlStore]) {
    const store = await open(t);
    if (!store) continue;
    await t.test(store.name, async (t) => {
      t.teardown(() => store.close());
      await body(t, store);
    });
  }
}

/**
 * `check` on every way the look-up path opens a store, each a subtest: a MariaDB pool (a
 * responder's), one MariaDB connection (a CGI run's), and SQLite. A MariaDB that cannot be
 * reached outside CI skips its subtests.
 */
export async function eachStoreShape(t: Test, check: (t: Test, scratch: ScratchStore, options: OpenOptions) => Promise<void>): Promise<void> {
  const shapes = [
    ['MariaDB, a pool', mysqlStore, { persistent: true, poolSize: 2 }],
    ['MariaDB, one connection', mysqlStore, { oneRequest: true }],
    ['SQLite', sqliteStore, { oneRequest: true }],
  ] as const;
  for (const [what, open, options] of shapes) {
    await t.test(what, async (t) => {
      const scratch = await open(t);
      if (!scratch) return;
      t.teardown(() => scratch.close());
      await check(t, scratch, options);
    });
  }
}
