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
  try {
    await store.migrate();
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
    async dispose() {
      await drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

