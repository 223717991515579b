// A scratch database for bench: an SQLite file in a temporary directory, or a database
// created (and dropped after) on the MySQL server given, seeded with synthetic ratings.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, storeKind } from '../store/open.js';
import type { RatingRow } from '../store/store.js';

/** A scratch database on the chosen back end, seeded with `rows` synthetic ratings. */
export async function scratchDatabase(db: string | undefined, rows: number) {
  const dir = mkdtempSync(join(tmpdir(), 'adrater-bench-'));
  let url = `sqlite:${join(dir, 'bench.sqlite')}`;
  let drop = async () => {};
  if (db && storeKind(db) === 'mysql') {
    const name = `adrater_bench_${process.pid}`;
    const { default: mysql } = await import('mysql2/promise');
    const admin = await mysql.createConnection(db);
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const scratch = new URL(db);
    scratch.pathname = '/' + name;
    url = scratch.toString();
    drop = async () => {
      const again = await mysql.createConnection(db);
      await again.query(`DROP DATABASE IF EXISTS ${name}`);
      await again.end();
    };
  }
  const store = await openStore(url);
  let version = '';
  try {
    await store.migrate();
    version = await databaseVersion(url);
    const batch: RatingRow[] = [];
    for (let i = 0; i < rows; i++) {
      batch.push({ domain: `rated-site${i}.com`, rating: 'ABCDF'[i % 5], info: `synthetic rating ${i}`, ratedAt: '2026-01-01 00:00:00', expiresAt: i % 2 ? '2099-01-01 00:00:00' : null });
      if (batch.length === 5000 || i === rows - 1) await store.writeRatings(batch.splice(0), true);
    }
  } finally {
    await store.close();
  }
  return {
    url,
    version,
    async dispose() {
      await drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}


/** The server's (or the SQLite library's) version, for the report's conditions. */
async function databaseVersion(url: string): Promise<string> {
  if (storeKind(url) === 'mysql') {
    const { default: mysql } = await import('mysql2/promise');
    const conn = await mysql.createConnection(url);
    try {
      const [rows] = await conn.query('SELECT VERSION() AS version');
      return `MySQL protocol, ${(rows as Array<{ version: string }>)[0].version}`;
    } finally {
      await conn.end();
    }
  }
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(':memory:');
  try {
    return `SQLite ${(db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v}`;
  } finally {
    db.close();
  }
}
